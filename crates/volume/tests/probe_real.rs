//! File systems and volume formats made by their real tools, probed by us and by
//! `blkid -p`: type, UUID, label and version must agree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use preflight_volume::{Probe, ProbeKind, probe};

const MIB: u64 = 1 << 20;

/// Our probe of a file and blkid's, compared field by field.
fn assert_same_as_blkid(img: &Path) -> Probe {
    let ours = probe(&*open(img)).unwrap();
    let theirs = blkid(img, None);
    let context = format!("ours {ours:?}\nblkid {theirs:?}");
    assert_eq!(Some(&ours.name), theirs.get("TYPE"), "{context}");
    assert_eq!(ours.uuid.as_ref(), theirs.get("UUID"), "{context}");
    assert_eq!(ours.label.as_ref(), theirs.get("LABEL"), "{context}");
    assert_eq!(ours.version.as_ref(), theirs.get("VERSION"), "{context}");
    ours
}

fn image(dir: &TempDir, name: &str, size: u64) -> PathBuf {
    let img = dir.path(name);
    sparse(&img, size);
    img
}

#[test]
fn ext2_ext3_ext4() {
    let dir = TempDir::new("ext");
    for (mkfs, kind) in [
        ("mkfs.ext2", ProbeKind::Ext2),
        ("mkfs.ext3", ProbeKind::Ext3),
        ("mkfs.ext4", ProbeKind::Ext4),
    ] {
        let img = image(&dir, mkfs, 32 * MIB);
        sh(
            mkfs,
            "e2fsprogs",
            &[
                "-q",
                "-F",
                "-L",
                "my root",
                "-U",
                "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                s(&img),
            ],
        );
        let p = assert_same_as_blkid(&img);
        assert_eq!(p.kind, kind);
        assert_eq!(
            p.uuid.as_deref(),
            Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        );
    }
    // ext4 without a journal and with a 16-character label.
    let img = image(&dir, "nojournal", 32 * MIB);
    sh(
        "mkfs.ext4",
        "e2fsprogs",
        &[
            "-q",
            "-F",
            "-O",
            "^has_journal",
            "-L",
            "sixteen-chars-xy",
            s(&img),
        ],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Ext4);
}

#[test]
fn swap_with_and_without_label() {
    let dir = TempDir::new("swap");
    let img = image(&dir, "swap", 16 * MIB);
    sh(
        "mkswap",
        "util-linux",
        &[
            "-L",
            "swappy",
            "-U",
            "11112222-3333-4444-5555-666677778888",
            s(&img),
        ],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Swap);
    let img = image(&dir, "swap-nolabel", 16 * MIB);
    sh("mkswap", "util-linux", &[s(&img)]);
    assert_same_as_blkid(&img);
    // The signature of a 64 KiB-page kernel (aarch64).
    let img = image(&dir, "swap-64k", 16 * MIB);
    sh(
        "mkswap",
        "util-linux",
        &["-p", "65536", "-L", "big pages", s(&img)],
    );
    assert_same_as_blkid(&img);
}

#[test]
fn vfat_12_16_32() {
    let dir = TempDir::new("vfat");
    for (bits, size) in [("12", 4 * MIB), ("16", 32 * MIB), ("32", 64 * MIB)] {
        let img = image(&dir, &format!("fat{bits}"), size);
        sh(
            "mkfs.vfat",
            "dosfstools",
            &["-F", bits, "-n", "EFI-BOOT", "-i", "1234abcd", s(&img)],
        );
        let p = assert_same_as_blkid(&img);
        assert_eq!(p.version.as_deref(), Some(format!("FAT{bits}").as_str()));
        assert_eq!(p.uuid.as_deref(), Some("1234-ABCD"));
        let img = image(&dir, &format!("fat{bits}-nolabel"), size);
        sh("mkfs.vfat", "dosfstools", &["-F", bits, s(&img)]);
        assert_eq!(assert_same_as_blkid(&img).label, None);
    }
}

#[test]
fn xfs() {
    let dir = TempDir::new("xfs");
    // Current xfsprogs refuse file systems under 300 MiB; the file stays sparse.
    let img = image(&dir, "xfs", 320 * MIB);
    sh("mkfs.xfs", "xfsprogs", &["-q", "-L", "xfsroot", s(&img)]);
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Xfs);
}

#[test]
fn btrfs() {
    let dir = TempDir::new("btrfs");
    let img = image(&dir, "btrfs", 128 * MIB);
    sh(
        "mkfs.btrfs",
        "btrfs-progs",
        &["-q", "-L", "btrfs root", s(&img)],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Btrfs);
}

#[test]
fn luks1_and_luks2() {
    let dir = TempDir::new("luks");
    let key = dir.path("key");
    std::fs::write(&key, b"not a secret").unwrap();
    for (kind, extra) in [("luks1", &[][..]), ("luks2", &["--label", "cryptroot"][..])] {
        let img = image(&dir, kind, 32 * MIB);
        let mut args = vec![
            "luksFormat",
            "--batch-mode",
            "--type",
            kind,
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
            s(&key),
        ];
        args.extend_from_slice(extra);
        args.push(s(&img));
        sh("cryptsetup", "cryptsetup-bin", &args);
        let p = assert_same_as_blkid(&img);
        assert_eq!(p.kind, ProbeKind::Luks);
        assert!(p.encrypted);
    }
}

#[test]
fn lvm2_physical_volume() {
    let dir = TempDir::new("lvm");
    let img = image(&dir, "pv", 32 * MIB);
    let losetup = tool("losetup", "mount");
    let pvcreate = tool("pvcreate", "lvm2");
    let out = Command::new(&losetup)
        .args(["-f", "--show", s(&img)])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "SKIPPED lvm2_physical_volume: no loop device ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // No hints, devices file or backups: the host's LVM state stays untouched.
    let made = Command::new(&pvcreate)
        .args(["-q", "-f", "--devices", &dev, "--config"])
        .arg(
            "devices {hints=\"none\" use_devicesfile=0 obtain_device_list_from_udev=0} \
             backup {backup=0 archive=0}",
        )
        .arg(&dev)
        .output()
        .unwrap();
    run(Command::new(&losetup).args(["-d", &dev]));
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Lvm2Member);
}

#[test]
fn ntfs() {
    let dir = TempDir::new("ntfs");
    let img = image(&dir, "ntfs", 32 * MIB);
    sh(
        "mkntfs",
        "ntfs-3g",
        &["-q", "-F", "-f", "-L", "Windows Ä", s(&img)],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Ntfs);
}

#[test]
fn exfat() {
    let dir = TempDir::new("exfat");
    let img = image(&dir, "exfat", 32 * MIB);
    sh("mkfs.exfat", "exfatprogs", &["-L", "Daten", s(&img)]);
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Exfat);
}

#[test]
fn squashfs() {
    let dir = TempDir::new("squashfs");
    let src = dir.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), b"hello").unwrap();
    let img = dir.path("squash.img");
    sh(
        "mksquashfs",
        "squashfs-tools",
        &[s(&src), s(&img), "-quiet", "-noappend"],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Squashfs);
}

#[test]
fn iso9660() {
    let dir = TempDir::new("iso");
    let src = dir.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("meta-data"), b"instance-id: x\n").unwrap();
    let img = dir.path("seed.iso");
    sh(
        "xorriso",
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-V",
            "CIDATA",
            "-o",
            s(&img),
            s(&src),
        ],
    );
    assert_eq!(assert_same_as_blkid(&img).kind, ProbeKind::Iso9660);
    // Joliet, as cloud-init seed images are usually made.
    let img = dir.path("joliet.iso");
    sh(
        "xorriso",
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-J",
            "-r",
            "-V",
            "cidata",
            "-o",
            s(&img),
            s(&src),
        ],
    );
    assert_eq!(
        assert_same_as_blkid(&img).version.as_deref(),
        Some("Joliet Extension")
    );
    let img = dir.path("joliet-long.iso");
    sh(
        "xorriso",
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-J",
            "-V",
            "Ünïcode label",
            "-o",
            s(&img),
            s(&src),
        ],
    );
    assert_same_as_blkid(&img);
}
