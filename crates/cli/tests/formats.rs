//! The same guest in every container a publisher may bring: the report's guest facts, volumes
//! and findings are those of the raw disk, and only what the container itself decides differs
//! (IMP-FORMAT, IMP-STANDALONE, container facts). Images are made by qemu-img and GNU tar.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{fired, report, run, scratch};
use preflight_fixtures::{
    Container, DiskSpec, GuestTree, OCI_DISK_MEMBER, Partitioning, debian_guest, image,
    oci_archive, oci_metadata, test_key,
};
use preflight_report::{Level, Report};

/// The guest with an SSH host key and a key in root's authorized_keys: S01 and S10 fire, so
/// the comparison covers findings read from inside the guest.
fn violating_guest() -> GuestTree {
    let (host_private, host_public) = test_key("host");
    let (_, user_public) = test_key("user");
    debian_guest()
        .file_mode("/etc/ssh/ssh_host_ed25519_key", &host_private, 0o600)
        .file("/etc/ssh/ssh_host_ed25519_key.pub", &host_public)
        .file("/root/.ssh/authorized_keys", &user_public)
}

fn spec() -> DiskSpec {
    DiskSpec {
        partitioning: Partitioning::GptEfi,
        ..DiskSpec::new(violating_guest())
    }
}

/// Findings as `RULE:level`, leaving out the rules the container decides.
fn guest_findings(r: &Report) -> BTreeSet<String> {
    r.findings
        .iter()
        .filter(|f| f.rule != "IMP-FORMAT" && f.rule != "IMP-STANDALONE")
        .map(|f| format!("{}:{:?}", f.rule, f.level))
        .collect()
}

fn format_levels(r: &Report) -> Vec<Level> {
    fired(r, "IMP-FORMAT").iter().map(|f| f.level).collect()
}

/// The container-independent parts of the report must equal the raw disk's.
fn assert_same_guest(raw: &Report, other: &Report, what: &str) {
    assert_eq!(
        serde_json::to_value(&raw.guest).unwrap(),
        serde_json::to_value(&other.guest).unwrap(),
        "{what}: guest facts differ from the raw disk's"
    );
    assert_eq!(
        serde_json::to_value(&raw.volumes).unwrap(),
        serde_json::to_value(&other.volumes).unwrap(),
        "{what}: volumes differ"
    );
    assert_eq!(
        serde_json::to_value(&raw.partition_table).unwrap(),
        serde_json::to_value(&other.partition_table).unwrap(),
        "{what}: partition table differs"
    );
    assert_eq!(guest_findings(raw), guest_findings(other), "{what}");
    // The artifacts name the file and its format (the import command); the rest is the
    // guest's.
    let decision = |r: &Report| preflight_report::Recommendation {
        artifacts: None,
        ..r.recommendation.clone()
    };
    assert_eq!(decision(raw), decision(other), "{what}: launch decision");
    let schema = |r: &Report| {
        r.recommendation
            .artifacts
            .as_ref()
            .map(|a| (a.capability_schema.clone(), a.shape_commands.clone()))
    };
    assert_eq!(schema(raw), schema(other), "{what}: capability schema");
    assert_eq!(raw.image.virtual_size, other.image.virtual_size, "{what}");
}

#[test]
fn every_readable_container_reports_the_raw_disks_guest() {
    let spec = spec();
    let (_, raw) = report(&image(&spec, Container::Raw));
    assert!(!fired(&raw, "S01").is_empty() && !fired(&raw, "S10").is_empty());
    assert_eq!(format_levels(&raw), [Level::Blocker]);

    for (container, format, subformat, imp_format) in [
        (Container::Qcow2V3, "qcow2", None, vec![]),
        (
            Container::VmdkSparse,
            "vmdk",
            Some("monolithicSparse"),
            vec![],
        ),
        (
            Container::VmdkStream,
            "vmdk",
            Some("streamOptimized"),
            vec![],
        ),
        (
            Container::VhdDynamic,
            "vpc",
            Some("dynamic"),
            vec![Level::Blocker],
        ),
        (
            Container::VhdFixed,
            "vpc",
            Some("fixed"),
            vec![Level::Blocker],
        ),
        (
            Container::VhdxDynamic,
            "vhdx",
            Some("dynamic"),
            vec![Level::Blocker],
        ),
        (
            Container::VhdxFixed,
            "vhdx",
            Some("fixed"),
            vec![Level::Blocker],
        ),
        (
            Container::VdiDynamic,
            "vdi",
            Some("dynamic"),
            vec![Level::Blocker],
        ),
        (
            Container::VdiStatic,
            "vdi",
            Some("static"),
            vec![Level::Blocker],
        ),
        (Container::Oci, "qcow2", None, vec![Level::Info]),
        (Container::OciGz, "qcow2", None, vec![Level::Info]),
        (
            Container::Ova,
            "vmdk",
            Some("streamOptimized"),
            vec![Level::Blocker],
        ),
    ] {
        let path = image(&spec, container);
        let (code, r) = report(&path);
        let what = format!("{container:?}");
        assert_eq!(code, 1, "{what}: S01/S10 are blockers");
        assert_eq!(r.image.format, format, "{what}");
        if subformat.is_some() {
            assert_eq!(r.image.subformat.as_deref(), subformat, "{what}");
        }
        assert_same_guest(&raw, &r, &what);
        assert_eq!(format_levels(&r), imp_format, "{what}: IMP-FORMAT");
        assert!(
            fired(&r, "IMP-STANDALONE").is_empty(),
            "{what}: {:#?}",
            fired(&r, "IMP-STANDALONE")
        );
        assert_eq!(r.image.bytes_missing, 0, "{what}");
        if let Some(f) = fired(&r, "IMP-FORMAT")
            .into_iter()
            .find(|f| f.level == Level::Blocker)
        {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if container == Container::Ova {
                assert!(
                    f.remedy.contains(&format!("tar -xf {name} ")),
                    "{}",
                    f.remedy
                );
            } else {
                assert!(
                    f.remedy
                        .contains(&format!("qemu-img convert -p -f {format} -O qcow2 {name} ")),
                    "{what}: {}",
                    f.remedy
                );
                assert!(
                    f.remedy.contains("subformat=streamOptimized"),
                    "{}",
                    f.remedy
                );
            }
        }
        let archive = r.image.archive.as_ref();
        match container {
            Container::Oci | Container::OciGz => {
                let a = archive.expect("archive facts");
                assert_eq!(a.kind, "oci");
                assert_eq!(a.disk_member, OCI_DISK_MEMBER);
                let meta = a.oci_metadata.as_ref().expect("metadata parsed");
                assert_eq!(meta.firmware.as_deref(), Some("UEFI_64"));
                assert_eq!(
                    a.compression.as_deref(),
                    (container == Container::OciGz).then_some("gzip")
                );
            }
            Container::Ova => {
                let a = archive.expect("archive facts");
                assert_eq!(a.kind, "ova");
                let ovf = a.ovf.as_ref().expect("OVF facts");
                assert_eq!(ovf.disk_capacities, [256 << 20]);
                assert!(ovf.manifest_checks.is_empty(), "not asked to verify");
            }
            _ => assert!(archive.is_none(), "{what}"),
        }
    }
}

/// The file name a publisher would give, so the remedies name it.
fn copy_as(from: &Path, dir: &Path, name: &str) -> std::path::PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

#[test]
fn oci_metadata_is_held_to_the_disk() {
    // A GPT disk without an EFI system partition, metadata claiming UEFI_64 and another OS.
    let spec = DiskSpec {
        partitioning: Partitioning::Gpt,
        ..DiskSpec::new(debian_guest())
    };
    let claims = oci_metadata(&spec)
        .replace("\"BIOS\"", "\"UEFI_64\"")
        .replace("\"Debian\"", "\"Oracle Linux\"");
    let (code, r) = report(&oci_archive(&spec, &claims, false));
    assert_eq!(code, 1);
    let format = fired(&r, "IMP-FORMAT");
    let uefi = format
        .iter()
        .find(|f| f.title.contains("UEFI_64"))
        .unwrap_or_else(|| panic!("{format:#?}"));
    assert_eq!(uefi.level, Level::Blocker);
    assert!(uefi.remedy.contains("\"firmware\": \"BIOS\""));
    let os = format
        .iter()
        .find(|f| f.title.contains("operating system"))
        .unwrap_or_else(|| panic!("{format:#?}"));
    assert_eq!(os.level, Level::Warning);
    assert!(os.evidence[0].detail.contains("Oracle Linux"));

    // The default metadata agrees with the disk: only the Console-only note.
    let (_, r) = report(&oci_archive(&spec, &oci_metadata(&spec), false));
    assert_eq!(format_levels(&r), [Level::Info], "{:#?}", r.findings);

    // Unparsable metadata: said, and the disk is still inspected.
    let (_, r) = report(&oci_archive(&spec, "{ \"version\": 2, ", true));
    let problem = fired(&r, "IMP-FORMAT")
        .into_iter()
        .find(|f| f.level == Level::Warning)
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert!(problem.evidence[0].detail.contains("image_metadata.json"));
    assert!(r.guest.is_some());
}

#[test]
fn ova_manifest_is_checked_only_when_asked() {
    let spec = DiskSpec::new(debian_guest());
    let dir = scratch("cli-ova-manifest");
    let ova = copy_as(&image(&spec, Container::Ova), &dir, "appliance.ova");
    let json = |path: &Path| {
        let r = run(path, &["--format", "json", "--verify-manifest"]);
        let report: Report = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        report
    };
    let r = json(&ova);
    let checks = &r
        .image
        .archive
        .as_ref()
        .unwrap()
        .ovf
        .as_ref()
        .unwrap()
        .manifest_checks;
    assert_eq!(checks.len(), 2, "{checks:#?}");
    assert!(
        checks.iter().all(|c| c.matches == Some(true)),
        "{checks:#?}"
    );
    let remedy = &fired(&r, "IMP-FORMAT")[0].remedy;
    assert!(
        remedy.contains("tar -xf appliance.ova disk-disk1.vmdk"),
        "{remedy}"
    );

    // One byte of the VMDK changed where no reader looks (the padding of its 512-byte sparse
    // header): the disk still reads, the manifest check fails and says which member.
    let mut bytes = std::fs::read(&ova).unwrap();
    let vmdk = bytes
        .windows(4)
        .position(|w| w == b"KDMV")
        .expect("the VMDK's header in the OVA");
    bytes[vmdk + 400] ^= 0x01;
    let damaged = dir.join("damaged.ova");
    std::fs::write(&damaged, bytes).unwrap();
    let r = json(&damaged);
    let damage = fired(&r, "IMP-FORMAT")
        .into_iter()
        .find(|f| f.title.contains("manifest"))
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(damage.level, Level::Blocker);
    assert!(damage.evidence[0].detail.contains("disk-disk1.vmdk"));
}

#[test]
fn a_split_vmdk_is_refused_and_its_missing_extents_are_named() {
    let spec = DiskSpec {
        disk_mib: 2560,
        ..DiskSpec::new(debian_guest())
    };
    let (code, r) = report(&image(&spec, Container::VmdkSplitSparse));
    assert!(code == 1 || code == 2, "exit {code}");
    assert_eq!(r.image.subformat.as_deref(), Some("twoGbMaxExtentSparse"));
    assert_eq!(r.image.other_files, ["disk-s001.vmdk", "disk-s002.vmdk"]);
    assert_eq!(format_levels(&r), [Level::Blocker]);
    let standalone = fired(&r, "IMP-STANDALONE");
    assert!(
        standalone
            .iter()
            .any(|f| f.evidence[0].detail.contains("disk-s002.vmdk")),
        "{standalone:#?}"
    );
    assert!(r.image.bytes_missing > 0);
}
