//! Archives (.oci as tar and tar.gz, OVA) made by GNU tar from images qemu-img wrote: the disk
//! read through each archive is byte-identical to `qemu-img convert -O raw` of the image that
//! was packed, the member list is `tar -tvf`'s, metadata and OVF facts are parsed, manifests
//! are checked on request, and damaged archives fail cleanly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use preflight_container::{ArchiveKind, Container as Opened, Format, OpenOptions, open_with};
use preflight_fixtures::{
    Container, DiskSpec, OCI_DISK_MEMBER, Partitioning, archive_inner, bit_flipped_copy,
    debian_guest, fixtures_dir, image, oci_archive, oci_metadata, ova_descriptor, qemu_raw_sha256,
    sha256_source, truncated_copy,
};
use preflight_io::{BlockCache, ByteSource, Counting, FileSource, Source};

/// The file as the front ends give it: behind a 256 KiB block cache.
fn source(path: &Path) -> Source {
    let file = FileSource::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Arc::new(BlockCache::new(file, 256 << 10, 16 << 20))
}

fn open_path(path: &Path) -> Result<Opened, preflight_container::ContainerError> {
    open_with(source(path), &OpenOptions::default())
}

fn gpt() -> DiskSpec {
    DiskSpec::new(debian_guest())
}

fn mbr_logical() -> DiskSpec {
    let mut spec = DiskSpec::new(debian_guest());
    spec.partitioning = Partitioning::MbrLogical;
    spec
}

fn check_identity(spec: &DiskSpec, c: Container) {
    let path = image(spec, c);
    let opened = open_path(&path).unwrap_or_else(|e| panic!("{c:?}: {e}"));
    let info = &opened.info;
    let archive = info.archive.as_ref().expect("archive facts");
    let (kind, format, member) = match c {
        Container::Ova => (ArchiveKind::Ova, Format::Vmdk, "disk-disk1.vmdk"),
        _ => (ArchiveKind::Oci, Format::Qcow2, OCI_DISK_MEMBER),
    };
    assert_eq!(archive.kind, kind);
    assert_eq!(info.format, format);
    assert_eq!(archive.disk_member, member);
    assert_eq!(info.file_size, std::fs::metadata(&path).unwrap().len());
    assert_eq!(
        archive.compression.as_deref(),
        (c == Container::OciGz).then_some("gzip")
    );
    assert!(archive.problems.is_empty(), "{c:?}: {:?}", archive.problems);
    assert_eq!(
        sha256_source(&*opened.disk, 1 << 20),
        qemu_raw_sha256(&archive_inner(spec, c)),
        "{c:?}: the disk read through the archive differs from qemu-img's"
    );
}

#[test]
fn oci_reads_like_qemu_img() {
    for spec in [gpt(), mbr_logical()] {
        check_identity(&spec, Container::Oci);
    }
}

#[test]
fn oci_gz_reads_like_qemu_img() {
    for spec in [gpt(), mbr_logical()] {
        check_identity(&spec, Container::OciGz);
    }
}

#[test]
fn ova_reads_like_qemu_img() {
    for spec in [gpt(), mbr_logical()] {
        check_identity(&spec, Container::Ova);
    }
}

/// Pseudo-random bytes (xorshift): data gzip cannot shrink, so deflate blocks end often.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// A 3 GiB sparse disk holding 16 MiB of incompressible data through a tar.gz, with
/// checkpoints every 256 KiB: many checkpoints, many restarts.
#[test]
fn big_sparse_disk_through_oci_gz_with_many_checkpoints() {
    let mut spec = DiskSpec::new(debian_guest().file("/var/tmp/noise.bin", noise(16 << 20)));
    spec.disk_mib = 3072;
    let path = image(&spec, Container::OciGz);
    let calls = std::cell::Cell::new(0u32);
    let last = std::cell::Cell::new((0u64, 0u64));
    let progress = |what: &str, done: u64, total: u64| {
        assert_eq!(what, "Indexing the compressed archive");
        calls.set(calls.get() + 1);
        last.set((done, total));
    };
    let options = OpenOptions {
        verify_manifest: false,
        progress: Some(&progress),
    };
    let opened = preflight_container::archive::open_with_index_spacing(
        source(&path),
        Format::Gzip,
        &options,
        256 << 10,
    )
    .unwrap();
    assert!(calls.get() >= 2);
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(last.get(), (size, size));
    let info = &opened.info;
    assert_eq!(info.virtual_size, 3072 << 20);
    let index = info
        .details
        .iter()
        .find(|(k, _)| k == "decompression index")
        .map(|(_, v)| v.clone())
        .expect("index details");
    let checkpoints: usize = index.split(' ').next().unwrap().parse().unwrap();
    assert!(checkpoints > 20, "{index}");
    assert!(
        info.details
            .iter()
            .any(|(_, v)| v.contains("read through a decompression index")),
        "{:?}",
        info.details
    );
    assert!(
        info.warnings
            .iter()
            .any(|w| w.contains("gzip has no random access"))
    );
    assert_eq!(
        sha256_source(&*opened.disk, 1 << 20),
        qemu_raw_sha256(&archive_inner(&spec, Container::OciGz))
    );
}

/// `tar -tvf`'s (name, size) per member.
fn tar_listing(path: &Path) -> Vec<(String, u64)> {
    let out = Command::new("tar").arg("-tvf").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // -rw-r--r-- 0/0   268763136 2026-11-26 01:00 output.QCOW2
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[5..].join(" "), fields[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn members_are_listed_like_tar_does() {
    let spec = gpt();
    for c in [Container::Oci, Container::OciGz, Container::Ova] {
        let path = image(&spec, c);
        let expected = tar_listing(&path);
        match open_path(&path) {
            Ok(opened) => {
                let archive = opened.info.archive.unwrap();
                let ours: Vec<(String, u64)> = archive
                    .members
                    .iter()
                    .map(|m| (m.name.clone(), m.size))
                    .collect();
                assert_eq!(ours, expected, "{c:?}");
                for m in &archive.members {
                    assert_eq!(m.offset % 512, 0);
                }
            }
            Err(e) => panic!("{c:?}: {e}"),
        }
    }
}

fn metadata_of(text: &str, gzip: bool) -> preflight_container::ArchiveInfo {
    let path = oci_archive(&gpt(), text, gzip);
    open_path(&path)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .info
        .archive
        .unwrap()
}

#[test]
fn oci_metadata_default_export() {
    let spec = gpt();
    for gzip in [false, true] {
        let a = metadata_of(&oci_metadata(&spec), gzip);
        let m = a.oci_metadata.expect("metadata");
        assert_eq!(m.version.as_deref(), Some("2"));
        assert_eq!(m.firmware.as_deref(), Some("BIOS"));
        assert_eq!(m.network_type.as_deref(), Some("PARAVIRTUALIZED"));
        assert_eq!(m.boot_volume_type.as_deref(), Some("PARAVIRTUALIZED"));
        assert_eq!(
            m.remote_data_volume_type.as_deref(),
            Some("PARAVIRTUALIZED")
        );
        assert_eq!(m.local_data_volume_type.as_deref(), Some("PARAVIRTUALIZED"));
        assert_eq!(m.launch_options_source.as_deref(), Some("PARAVIRTUALIZED"));
        assert_eq!(m.pv_attachment_version.as_deref(), Some("2"));
        assert_eq!(m.pv_encryption_in_transit_enabled, Some(true));
        assert_eq!(m.consistent_volume_naming_enabled, Some(true));
        assert_eq!(m.image_capability_data, None);
        assert_eq!(m.image_caps_format_version, None);
        assert_eq!(m.operating_system.as_deref(), Some("Debian"));
        assert_eq!(m.operating_system_version.as_deref(), Some("12"));
        assert_eq!(m.shapes, ["VM.Standard.E4.Flex", "VM.Standard3.Flex"]);
        assert!(a.problems.is_empty(), "{:?}", a.problems);
    }
    let mut efi = gpt();
    efi.partitioning = Partitioning::GptEfi;
    let path = oci_archive(&efi, &oci_metadata(&efi), false);
    let m = open_path(&path)
        .unwrap()
        .info
        .archive
        .unwrap()
        .oci_metadata
        .unwrap();
    assert_eq!(m.firmware.as_deref(), Some("UEFI_64"));
}

#[test]
fn oci_metadata_variants() {
    let object = r#"{"version": "3", "imageCapabilityData": {"Compute.Firmware": {"descriptorType": "enumstring", "values": ["UEFI_64"], "defaultValue": "UEFI_64"}}, "imageCapsFormatVersion": "6f3c9d5e", "externalLaunchOptions": {"pvAttachmentVersion": "1"}}"#;
    let m = metadata_of(object, false).oci_metadata.unwrap();
    assert_eq!(m.version.as_deref(), Some("3"));
    assert_eq!(m.pv_attachment_version.as_deref(), Some("1"));
    assert_eq!(m.image_caps_format_version.as_deref(), Some("6f3c9d5e"));
    assert_eq!(
        m.image_capability_data.as_deref(),
        Some(
            r#"{"Compute.Firmware":{"defaultValue":"UEFI_64","descriptorType":"enumstring","values":["UEFI_64"]}}"#
        )
    );

    let string = r#"{"imageCapabilityData": "{\"Compute.LaunchMode\": {\"values\": [\"PARAVIRTUALIZED\"]}}"}"#;
    let m = metadata_of(string, true).oci_metadata.unwrap();
    assert_eq!(
        m.image_capability_data.as_deref(),
        Some(r#"{"Compute.LaunchMode":{"values":["PARAVIRTUALIZED"]}}"#)
    );
    assert_eq!(m.version, None);

    let missing = metadata_of(
        r#"{"operatingSystem": "Oracle Linux", "extra": {"a": 1}}"#,
        false,
    );
    let m = missing.oci_metadata.unwrap();
    assert_eq!(m.operating_system.as_deref(), Some("Oracle Linux"));
    assert_eq!(m.firmware, None);
    assert!(m.shapes.is_empty());
    assert!(missing.problems.is_empty());

    for gzip in [false, true] {
        let broken = metadata_of("{\"version\": 2, \"externalLaunchOptions\": {", gzip);
        assert_eq!(broken.oci_metadata, None);
        assert_eq!(broken.problems.len(), 1, "{:?}", broken.problems);
        assert!(
            broken.problems[0].starts_with("image_metadata.json is not valid JSON"),
            "{:?}",
            broken.problems
        );
    }
}

/// A directory for archives this test makes itself with GNU tar.
fn scratch(name: &str) -> PathBuf {
    let dir = fixtures_dir().join("archive-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("members")).unwrap();
    dir
}

fn tar_of(dir: &Path, members: &[&str], out: &str) -> PathBuf {
    let path = dir.join(out);
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&path)
        .arg("-C")
        .arg(dir.join("members"))
        .args(members)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

#[test]
fn oci_without_metadata_is_a_problem_not_an_error() {
    let dir = scratch("no-metadata");
    std::fs::copy(
        archive_inner(&gpt(), Container::Oci),
        dir.join("members").join(OCI_DISK_MEMBER),
    )
    .unwrap();
    let path = tar_of(&dir, &[OCI_DISK_MEMBER], "disk.oci");
    let archive = open_path(&path).unwrap().info.archive.unwrap();
    assert_eq!(archive.oci_metadata, None);
    assert_eq!(archive.problems.len(), 1);
    assert!(archive.problems[0].contains("no image_metadata.json"));
}

#[test]
fn unrelated_tar_names_its_members() {
    let dir = scratch("unrelated");
    std::fs::write(dir.join("members/a.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("members/b.img"), vec![0u8; 4096]).unwrap();
    let path = tar_of(&dir, &["a.txt", "b.img"], "x.tar");
    let e = open_path(&path).err().expect("an error").to_string();
    assert_eq!(
        e,
        "this tar archive holds a.txt, b.img: not an .oci export (output.QCOW2 + image_metadata.json) nor an OVA (.ovf + disks)"
    );
}

#[test]
fn nested_archives_are_refused() {
    let dir = scratch("nested");
    std::fs::copy(
        image(&gpt(), Container::Oci),
        dir.join("members").join(OCI_DISK_MEMBER),
    )
    .unwrap();
    let path = tar_of(&dir, &[OCI_DISK_MEMBER], "nested.oci");
    let e = open_path(&path).err().expect("an error").to_string();
    assert!(e.contains("is itself an archive"), "{e}");
}

#[test]
fn ovf_facts_come_from_the_descriptor() {
    let spec = gpt();
    let path = image(&spec, Container::Ova);
    let opened = open_path(&path).unwrap_or_else(|e| panic!("{e}"));
    let archive = opened.info.archive.unwrap();
    let ovf = archive.ovf.unwrap();
    assert_eq!(ovf.descriptor, "disk.ovf");
    assert_eq!(ovf.disk_capacities, vec![256 << 20]);
    assert_eq!(
        ovf.disk_format.as_deref(),
        Some("http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized")
    );
    assert_eq!(ovf.os_type.as_deref(), Some("Debian_64"));
    assert_eq!(ovf.cpus, Some(2));
    assert_eq!(ovf.memory_mib, Some(2048));
    assert_eq!(ovf.nics, ["E1000"]);
    assert_eq!(ovf.controllers, ["AHCI"]);
    assert_eq!(ovf.system_type.as_deref(), Some("virtualbox-2.2"));
    assert_eq!(ovf.manifest.as_deref(), Some("disk.mf"));
    assert!(ovf.manifest_checks.is_empty());
    assert!(archive.problems.is_empty(), "{:?}", archive.problems);
}

#[test]
fn manifest_digests_are_checked_on_request() {
    let spec = gpt();
    let path = image(&spec, Container::Ova);
    let calls = std::cell::Cell::new(0u32);
    let progress = |what: &str, _: u64, _: u64| {
        assert_eq!(what, "Checking the manifest digests");
        calls.set(calls.get() + 1);
    };
    let options = OpenOptions {
        verify_manifest: true,
        progress: Some(&progress),
    };
    let opened = open_with(source(&path), &options).unwrap_or_else(|e| panic!("{e}"));
    let archive = opened.info.archive.unwrap();
    let checks = archive.ovf.unwrap().manifest_checks;
    assert_eq!(checks.len(), 2);
    for c in &checks {
        assert_eq!(c.algorithm, "SHA256");
        assert_eq!(
            c.actual.as_deref(),
            Some(c.expected.as_str()),
            "{}",
            c.member
        );
    }
    assert!(calls.get() >= 2);
    assert!(archive.problems.is_empty());

    // One byte of the VMDK flipped, in the middle of its data.
    let vmdk = archive
        .members
        .iter()
        .find(|m| m.name == "disk-disk1.vmdk")
        .unwrap();
    let dir = scratch("flipped-ova");
    let copy = dir.join("disk.ova");
    std::fs::copy(&path, &copy).unwrap();
    let mut bytes = std::fs::read(&copy).unwrap();
    let at = (vmdk.offset + vmdk.size / 2) as usize;
    bytes[at] ^= 0x40;
    std::fs::write(&copy, bytes).unwrap();
    let options = OpenOptions {
        verify_manifest: true,
        progress: None,
    };
    let archive = open_with(source(&copy), &options)
        .unwrap_or_else(|e| panic!("{e}"))
        .info
        .archive
        .unwrap();
    let checks = archive.ovf.unwrap().manifest_checks;
    let disk = checks
        .iter()
        .find(|c| c.member == "disk-disk1.vmdk")
        .unwrap();
    assert!(disk.actual.is_some() && disk.actual.as_deref() != Some(disk.expected.as_str()));
    let ovf = checks.iter().find(|c| c.member == "disk.ovf").unwrap();
    assert_eq!(ovf.actual.as_deref(), Some(ovf.expected.as_str()));
    assert!(
        archive
            .problems
            .iter()
            .any(|p| p.contains("disk-disk1.vmdk does not match")),
        "{:?}",
        archive.problems
    );
}

/// Opens `path` and reads the disk at spread offsets: a clean error or clean reads.
fn open_and_read(path: &Path) -> Result<(), String> {
    let opened = open_path(path).map_err(|e| e.to_string())?;
    let disk = opened.disk;
    let len = disk.len();
    let mut buf = vec![0u8; 65536];
    let mut first_error = None;
    for i in 0..16u64 {
        let off = (len / 16).saturating_mul(i) & !511;
        let n = (len - off.min(len)).min(buf.len() as u64) as usize;
        if let Err(e) = disk.read_at(off, &mut buf[..n]) {
            first_error.get_or_insert(e.to_string());
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[test]
fn truncated_archives_fail_cleanly() {
    let spec = gpt();
    for c in [Container::Oci, Container::OciGz, Container::Ova] {
        let path = image(&spec, c);
        let len = std::fs::metadata(&path).unwrap().len();
        for cut in [
            0,
            100,
            512,
            1000,
            10_000,
            len / 3,
            len / 2,
            len - 2000,
            len - 1,
        ] {
            let copy = truncated_copy(&path, cut);
            // Cuts in the tar's end padding leave a whole archive: reads may succeed.
            let result = open_and_read(&copy);
            if c == Container::OciGz && cut > 0 {
                let e = result.expect_err(&format!("{c:?} cut at {cut} opened and read"));
                assert!(
                    e.contains("truncated at compressed offset"),
                    "{c:?} at {cut}: {e}"
                );
            } else if cut == len / 3 || cut == len / 2 {
                let e = result.expect_err(&format!("{c:?} cut at {cut} opened and read"));
                assert!(e.contains("runs past the end"), "{c:?} at {cut}: {e}");
            }
        }
    }
}

#[test]
fn bit_flipped_archives_fail_cleanly_or_read() {
    let spec = gpt();
    for c in [Container::Oci, Container::OciGz, Container::Ova] {
        let path = image(&spec, c);
        for seed in 0..12u64 {
            // Damage in the headers (the first 64 KiB), then anywhere.
            let within = if seed % 2 == 0 { 65536 } else { u64::MAX };
            let copy = bit_flipped_copy(&path, seed, 1 + seed as usize % 3, within);
            if let Err(e) = open_and_read(&copy) {
                assert!(!e.is_empty());
                if c == Container::OciGz {
                    assert!(!e.contains("panicked"));
                }
            }
        }
    }
}

#[test]
fn plain_tar_reads_few_calls() {
    // The in-place listing reads each header once; opening an .oci costs a handful of calls.
    let path = image(&gpt(), Container::Oci);
    let counting = Counting::new(FileSource::open(&path).unwrap());
    let counters = counting.counters();
    let file: Source = Arc::new(BlockCache::new(counting, 256 << 10, 16 << 20));
    let opened = open_with(file, &OpenOptions::default()).unwrap();
    let open_calls = counters.snapshot().read_calls;
    assert!(open_calls <= 12, "{open_calls} read calls to open the .oci");
    let _ = opened;
}

#[test]
fn gzip_of_something_else_is_refused_early() {
    let dir = scratch("gzip-raw");
    let raw = dir.join("members/disk.raw");
    std::fs::write(&raw, noise(1 << 20)).unwrap();
    let status = Command::new("gzip").arg("-k").arg(&raw).status().unwrap();
    assert!(status.success());
    let e = open_path(&dir.join("members/disk.raw.gz"))
        .err()
        .expect("an error")
        .to_string();
    assert!(e.contains("not a tar archive"), "{e}");
    assert!(e.contains("decompress it first"), "{e}");
}

#[test]
fn ovf_capacity_that_disagrees_with_the_vmdk_is_a_problem() {
    let spec = gpt();
    let vmdk = archive_inner(&spec, Container::Ova);
    let dir = scratch("ova-capacity");
    let stage = dir.join("members");
    std::fs::copy(&vmdk, stage.join("disk-disk1.vmdk")).unwrap();
    let mut bigger = gpt();
    bigger.disk_mib = 512;
    let size = std::fs::metadata(&vmdk).unwrap().len();
    std::fs::write(stage.join("disk.ovf"), ova_descriptor(&bigger, size)).unwrap();
    let path = tar_of(&dir, &["disk.ovf", "disk-disk1.vmdk"], "disk.ova");
    let archive = open_path(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .info
        .archive
        .unwrap();
    assert_eq!(archive.ovf.as_ref().unwrap().manifest, None);
    assert_eq!(
        archive.problems,
        [format!(
            "The OVF descriptor gives the disk a capacity of {} bytes, but disk-disk1.vmdk holds a {}-byte virtual disk.",
            512u64 << 20,
            256u64 << 20
        )]
    );
}
