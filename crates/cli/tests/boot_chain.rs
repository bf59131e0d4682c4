//! The launch decision on disks with real boot chains (tests/fixtures/src/boot_chain.rs):
//! GRUB installed by grub-install for BIOS (MBR gap, BIOS boot partition), shim and signed
//! GRUB on an ESP, arm64-efi GRUB, BLS entries chosen through grubenv's `saved_entry`, real
//! Debian cloud kernels and initramfs archives made by cpio + each compressor or by
//! mkinitramfs. What the fixture builder says it put there ([`boot_chain_expect`], checked
//! against the real tools by the fixture crate's own tests) is what the report must show.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{blockers, fired, report, run, scratch, sh};
use preflight_fixtures::{
    BootChainSpec, BootConfigStyle, FirmwareLayout, InitrdChoice, InitrdCompression, KernelArch,
    KernelChoice, MkinitramfsModules, OLD_EL6_RELEASE, boot_chain_disk, boot_chain_expect,
};
use preflight_report::{Level, Report};

/// The boot-chain disk of `spec` as QCOW2 (OCI's import format, so IMP-FORMAT stays quiet).
fn qcow2_of(spec: &BootChainSpec, name: &str) -> PathBuf {
    let raw = boot_chain_disk(spec);
    let out = scratch(&format!("boot-chain-{name}")).join(format!("{name}.qcow2"));
    sh(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&out));
    out
}

fn driver<'a>(r: &'a Report, name: &str) -> &'a preflight_report::DriverReach {
    r.recommendation
        .drivers
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no driver row {name}"))
}

fn step<'a>(r: &'a Report, name: &str) -> Vec<&'a preflight_report::ChainStep> {
    r.recommendation
        .chain
        .iter()
        .filter(|s| s.step == name)
        .collect()
}

fn fitting(r: &Report) -> Vec<&str> {
    r.recommendation
        .shapes
        .iter()
        .filter(|s| s.fits)
        .map(|s| s.shape.as_str())
        .collect()
}

/// The chain's kernel and initramfs are the ones the fixture's boot configuration selects.
fn assert_chain(r: &Report, spec: &BootChainSpec) {
    let expect = boot_chain_expect(spec);
    let kernel = step(r, "kernel");
    assert_eq!(kernel.len(), 1, "{:#?}", r.recommendation.chain);
    assert!(kernel[0].ok, "{:#?}", kernel[0]);
    assert_eq!(kernel[0].path.as_deref(), Some(expect.vmlinuz.as_str()));
    assert!(
        kernel[0].summary.contains(&expect.release),
        "{} vs {}",
        kernel[0].summary,
        expect.release
    );
    if let Some(decoy) = &expect.decoy_release {
        assert!(
            !kernel[0].summary.contains(decoy.as_str()),
            "the newest kernel was taken instead of grubenv's saved_entry"
        );
    }
    let entry = step(r, "boot entry");
    assert_eq!(entry.len(), 1);
    assert!(entry[0].ok);
    assert!(
        entry[0]
            .details
            .iter()
            .any(|d| d == &format!("command line: {}", expect.cmdline)),
        "{:#?} vs {}",
        entry[0].details,
        expect.cmdline
    );
    let initrd = step(r, "initramfs");
    match &expect.initrd {
        Some(path) => {
            assert_eq!(initrd.len(), 1, "{:#?}", r.recommendation.chain);
            assert_eq!(initrd[0].path.as_deref(), Some(path.as_str()));
            assert!(initrd[0].ok);
        }
        None => assert!(initrd.iter().all(|s| s.path.is_none())),
    }
}

/// The capability schema validates against the global schema's keys and values, and the
/// files --emit-artifacts writes are the report's artifacts.
fn assert_artifacts(image: &Path, r: &Report) {
    let a = r.recommendation.artifacts.as_ref().expect("artifacts");
    assert_eq!(
        preflight_rules::validate_capabilities(&a.capability_schema),
        Ok(())
    );
    assert_eq!(
        a.capability_schema["Compute.LaunchMode"]["defaultValue"],
        r.recommendation.launch_mode.as_deref().unwrap()
    );
    let fw: Vec<&str> = a.capability_schema["Compute.Firmware"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(fw, r.recommendation.firmware);
    assert!(
        a.import_command.contains(&format!(
            "--launch-mode {}",
            r.recommendation.launch_mode.as_deref().unwrap()
        )),
        "{}",
        a.import_command
    );
    assert!(a.import_command.contains("--source-image-type QCOW2"));
    assert_eq!(
        a.shape_commands.len(),
        fitting(r).iter().filter(|s| s.starts_with("VM.")).count()
    );
    for shape in fitting(r).iter().filter(|s| s.starts_with("VM.")) {
        assert!(
            a.shape_commands
                .iter()
                .any(|c| c.ends_with(&format!("--shape-name {shape}"))),
            "{shape}"
        );
    }
    let meta = &a.image_metadata["externalLaunchOptions"];
    assert_eq!(meta["firmware"], r.recommendation.firmware[0].as_str());

    let stem = image.file_stem().unwrap().to_string_lossy();
    let dir = scratch(&format!("artifacts-{stem}"));
    let schema = dir.join("only-schema.json");
    let out = run(
        image,
        &[
            "--emit-schema",
            schema.to_str().unwrap(),
            "--emit-artifacts",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    };
    assert_eq!(json(schema), a.capability_schema);
    assert_eq!(json(dir.join("schema.json")), a.capability_schema);
    assert_eq!(json(dir.join("image_metadata.json")), a.image_metadata);
    let script = std::fs::read_to_string(dir.join("oci-commands.sh")).unwrap();
    assert!(script.contains(&a.import_command) && script.contains(&a.schema_command));
    // The script is valid shell.
    sh(Command::new("sh")
        .arg("-n")
        .arg(dir.join("oci-commands.sh")));
}

#[test]
fn bios_grub_in_the_mbr_gap_with_virtio_in_the_initramfs_is_paravirtualized() {
    let spec = BootChainSpec::new(KernelArch::Amd64, FirmwareLayout::BiosMbrGap);
    let image = qcow2_of(&spec, "bios-mbr-gap");
    let (code, r) = report(&image);
    assert_eq!(blockers(&r), Vec::<&str>::new(), "{:#?}", r.findings);
    assert_eq!(code, 0);
    let rec = &r.recommendation;
    assert_eq!(rec.launch_mode.as_deref(), Some("PARAVIRTUALIZED"));
    assert_eq!(rec.firmware, ["BIOS"]);
    assert_eq!(rec.architecture.as_deref(), Some("x86_64"));
    assert_eq!(rec.network_attachment.as_deref(), Some("PARAVIRTUALIZED"));
    assert_chain(&r, &spec);
    let expect = boot_chain_expect(&spec);
    for name in ["virtio_pci", "virtio_scsi", "virtio_blk", "virtio_net"] {
        let d = driver(&r, name);
        assert_eq!(d.status, "initramfs", "{d:?}");
        assert!(
            d.evidence
                .as_deref()
                .unwrap()
                .starts_with(expect.initrd.as_deref().unwrap()),
            "{d:?}"
        );
    }
    // Debian's cloud kernel builds nvme in (modules.builtin): DenseIO shapes fit.
    assert_eq!(driver(&r, "nvme").status, "builtin");
    let fits = fitting(&r);
    for shape in [
        "VM.Standard3.Flex",
        "VM.Standard.E4.Flex",
        "VM.Standard.E5.Flex",
        "VM.DenseIO.E5.Flex",
    ] {
        assert!(fits.contains(&shape), "{shape} in {fits:?}");
    }
    assert!(
        !fits
            .iter()
            .any(|s| s.contains(".A1.") || s.starts_with("BM."))
    );
    for rule in ["IMP-BOOT", "IMP-INITRAMFS", "REC-MODE", "G01", "REC-SERIAL"] {
        assert!(fired(&r, rule).is_empty(), "{rule}: {:#?}", r.findings);
        assert!(!r.not_evaluated.iter().any(|n| n.rule == rule), "{rule}");
    }
    let modes: Vec<(&str, bool)> = rec
        .modes
        .iter()
        .map(|m| (m.mode.as_str(), m.possible))
        .collect();
    assert_eq!(
        modes,
        [
            ("PARAVIRTUALIZED", true),
            // The cloud kernel has no ata_piix, and nothing says OCI platform image.
            ("EMULATED", false),
            ("NATIVE", false)
        ]
    );
    assert_artifacts(&image, &r);
}

#[test]
fn an_old_kernel_chosen_by_grubenv_saved_entry_means_emulated() {
    let spec = BootChainSpec {
        kernel: KernelChoice::Old {
            release: OLD_EL6_RELEASE.to_string(),
        },
        initrd: InitrdChoice::Cpio {
            compression: InitrdCompression::Xz,
            modules: vec!["virtio_blk".into(), "virtio_pci".into(), "ext4".into()],
            early_microcode: true,
        },
        config: BootConfigStyle::BlsWithGrubenvSavedEntry,
        ..BootChainSpec::new(KernelArch::Amd64, FirmwareLayout::BiosBootPartition)
    };
    let image = qcow2_of(&spec, "bios-boot-old");
    let (_, r) = report(&image);
    assert_chain(&r, &spec);
    let rec = &r.recommendation;
    assert_eq!(
        rec.launch_mode.as_deref(),
        Some("EMULATED"),
        "{:#?}",
        rec.reasons
    );
    assert_eq!(rec.firmware, ["BIOS"]);
    assert_eq!(rec.boot_volume_type.as_deref(), Some("IDE"));
    assert_eq!(rec.network_attachment.as_deref(), Some("E1000"));
    assert_eq!(driver(&r, "ata_piix").status, "builtin");
    let initrd = step(&r, "initramfs");
    assert!(
        initrd[0].details[0].contains("(uncompressed + xz)"),
        "early microcode cpio then xz: {:?}",
        initrd[0].details
    );
    let f = fired(&r, "REC-MODE");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].level, Level::Warning);
    // EMULATED: Intel VM shapes only.
    let fits = fitting(&r);
    assert!(fits.contains(&"VM.Standard3.Flex"), "{fits:?}");
    assert!(
        !fits
            .iter()
            .any(|s| s.contains(".E4.") || s.contains(".E5.")),
        "AMD shapes have no emulated mode: {fits:?}"
    );
    assert_artifacts(&image, &r);
}

#[test]
fn uefi_with_a_real_mkinitramfs_is_paravirtualized_uefi() {
    let spec = BootChainSpec {
        initrd: InitrdChoice::Mkinitramfs(MkinitramfsModules::Most),
        ..BootChainSpec::new(KernelArch::Amd64, FirmwareLayout::Uefi)
    };
    let image = qcow2_of(&spec, "uefi-mkinitramfs");
    let (code, r) = report(&image);
    assert_eq!(blockers(&r), Vec::<&str>::new(), "{:#?}", r.findings);
    assert_eq!(code, 0);
    assert_chain(&r, &spec);
    let rec = &r.recommendation;
    assert_eq!(rec.launch_mode.as_deref(), Some("PARAVIRTUALIZED"));
    assert_eq!(rec.firmware, ["UEFI_64"]);
    // mkinitramfs MODULES=most takes every storage and network driver.
    for name in ["virtio_scsi", "virtio_blk", "virtio_net"] {
        assert_eq!(driver(&r, name).status, "initramfs", "{name}");
    }
    assert!(fired(&r, "IMP-INITRAMFS").is_empty());
    assert_artifacts(&image, &r);
}

#[test]
fn a_hybrid_disk_boots_with_both_firmwares() {
    let spec = BootChainSpec {
        initrd: InitrdChoice::Cpio {
            compression: InitrdCompression::Zstd,
            modules: preflight_fixtures::INITRD_MODULES
                .iter()
                .map(|m| m.to_string())
                .collect(),
            early_microcode: true,
        },
        config: BootConfigStyle::BlsWithGrubenvSavedEntry,
        ..BootChainSpec::new(KernelArch::Amd64, FirmwareLayout::Hybrid)
    };
    let image = qcow2_of(&spec, "hybrid");
    let (_, r) = report(&image);
    assert_eq!(blockers(&r), Vec::<&str>::new(), "{:#?}", r.findings);
    assert_chain(&r, &spec);
    assert_eq!(r.recommendation.firmware, ["BIOS", "UEFI_64"]);
    assert_eq!(
        r.recommendation.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED")
    );
}

#[test]
fn aarch64_on_gpt_with_an_esp_runs_paravirtualized_on_ampere_only() {
    let spec = BootChainSpec {
        initrd: InitrdChoice::cpio(InitrdCompression::Lz4Legacy),
        ..BootChainSpec::new(KernelArch::Arm64, FirmwareLayout::Uefi)
    };
    let image = qcow2_of(&spec, "arm64");
    let (code, r) = report(&image);
    assert_eq!(blockers(&r), Vec::<&str>::new(), "{:#?}", r.findings);
    assert_eq!(code, 0);
    assert_chain(&r, &spec);
    let rec = &r.recommendation;
    assert_eq!(rec.architecture.as_deref(), Some("aarch64"));
    assert_eq!(rec.launch_mode.as_deref(), Some("PARAVIRTUALIZED"));
    assert_eq!(rec.firmware, ["UEFI_64"]);
    let fits: Vec<&preflight_report::ShapeFit> = rec.shapes.iter().filter(|s| s.fits).collect();
    assert!(!fits.is_empty());
    for s in &fits {
        assert_eq!(s.processor, "Ampere", "{s:?}");
        assert_eq!(s.kind, "VM", "{s:?}");
        assert!(s.why.contains("compatibility entry"), "{s:?}");
    }
    let emulated = rec.modes.iter().find(|m| m.mode == "EMULATED").unwrap();
    assert!(!emulated.possible && emulated.why.contains("Arm"));
    // ttyAMA0 is the Arm serial console.
    assert!(fired(&r, "REC-SERIAL").is_empty(), "{:#?}", r.findings);
    assert_artifacts(&image, &r);
}

#[test]
fn imp_initramfs_fires_without_an_initramfs_when_virtio_is_modular() {
    // Debian's arm64 cloud kernel has virtio_scsi and virtio_blk as modules: with no
    // initramfs the root is never found.
    let spec = BootChainSpec {
        initrd: InitrdChoice::None,
        config: BootConfigStyle::BlsWithGrubenvSavedEntry,
        ..BootChainSpec::new(KernelArch::Arm64, FirmwareLayout::Uefi)
    };
    let (_, r) = report(&qcow2_of(&spec, "arm64-no-initrd"));
    assert_chain(&r, &spec);
    let f = fired(&r, "IMP-INITRAMFS");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].title.contains("loads no initramfs"), "{}", f[0].title);
    assert_eq!(driver(&r, "virtio_scsi").status, "installed");
}

#[test]
fn imp_initramfs_fires_for_a_host_only_initramfs_and_names_the_fix() {
    let spec = BootChainSpec {
        initrd: InitrdChoice::Cpio {
            compression: InitrdCompression::Gzip,
            modules: vec!["virtio_net".into()],
            early_microcode: false,
        },
        ..BootChainSpec::new(KernelArch::Amd64, FirmwareLayout::BiosMbrGap)
    };
    let (code, r) = report(&qcow2_of(&spec, "host-only"));
    assert_eq!(code, 1);
    assert_eq!(blockers(&r), ["IMP-INITRAMFS"], "{:#?}", r.findings);
    let f = fired(&r, "IMP-INITRAMFS");
    let expect = boot_chain_expect(&spec);
    assert!(f[0].title.contains("virtio_scsi"), "{}", f[0].title);
    assert!(
        f[0].evidence
            .iter()
            .any(|e| Some(e.path.as_str()) == expect.initrd.as_deref()),
        "{:#?}",
        f[0].evidence
    );
    assert!(
        f[0].remedy
            .contains(&format!("update-initramfs -u -k {}", expect.release)),
        "{}",
        f[0].remedy
    );
}
