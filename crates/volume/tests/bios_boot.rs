//! BIOS boot code on disks set up by GRUB's own installer (`grub-install --target=i386-pc`,
//! which runs grub-bios-setup's code): where we say core.img is must be where GRUB put it,
//! found independently by searching the disk for the sectors of the `core.img` file GRUB left
//! in `/boot/grub/i386-pc/`.
//!
//! The disks need root (losetup, mount) and are cached under
//! `preflight_fixtures::fixtures_dir()/bios-boot-<hash>/`, keyed by the builder's inputs and
//! GRUB's version.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use preflight_volume::bios_boot::{self, BiosBoot, BootCode, CoreLocation};
use preflight_volume::read_partitions;
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;
const DISK_SIZE: u64 = 64 * MIB;

/// Bump when a builder below changes what it writes.
const BUILDER: &str = "bios-boot builder v1";

/// An exclusive flock on the file the fixture crate serialises loop-device work with
/// (`fixtures_dir()/.locks/loop-devices`; its `loop_lock` is private to that crate): parallel
/// `losetup -f` calls race for the same free device.
struct LoopLock(#[allow(dead_code)] fs::File);

fn loop_lock() -> LoopLock {
    let locks = preflight_fixtures::fixtures_dir().join(".locks");
    fs::create_dir_all(&locks).unwrap();
    let f = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join("loop-devices"))
        .unwrap();
    f.lock().expect("lock loop-devices");
    LoopLock(f)
}

/// A loop device, detached on drop (also when a builder panics).
struct Loop(String);

impl Loop {
    fn attach(img: &Path, window: Option<(u64, u64)>) -> Loop {
        let mut cmd = Command::new(tool("losetup", "mount"));
        cmd.args(["-f", "--show"]);
        if let Some((offset, size)) = window {
            cmd.args(["-o", &offset.to_string(), "--sizelimit", &size.to_string()]);
        }
        Loop(run(cmd.arg(img)).trim().to_string())
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// A mount, unmounted on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `fixtures_dir()/bios-boot-<hash of description + GRUB version>/`, built once by `build` in
/// a temporary directory and published by rename, under a per-key lock.
fn cached(description: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let version = sh("grub-mkimage", "grub-common", &["--version"]);
    let mut h = Sha256::new();
    h.update(format!("{BUILDER}\n{version}\n{description}"));
    let key: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = preflight_fixtures::fixtures_dir();
    let dir = root.join(format!("bios-boot-{key}"));
    if dir.is_dir() {
        return dir;
    }
    fs::create_dir_all(root.join(".locks")).unwrap();
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".locks").join(format!("bios-boot-{key}")))
        .unwrap();
    lock.lock().unwrap();
    if dir.is_dir() {
        return dir;
    }
    let tmp = root.join(".tmp").join(format!("bios-boot-{key}"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    fs::write(tmp.join("description.txt"), description).unwrap();
    build(&tmp);
    fs::rename(&tmp, &dir).unwrap();
    dir
}

/// A disk partitioned by `partition`, with an ext4 file system in the partition at
/// `fs_start`, and GRUB installed for BIOS with `grub-install --target=i386-pc` (boot
/// directory on that file system, loaded from `modules`). Returns the disk and the core.img
/// grub-install built (left in the file system as boot/grub/i386-pc/core.img).
fn grub_disk(name: &str, partition: &dyn Fn(&Path), fs_start: u64, modules: &str) -> PathBuf {
    let description = format!(
        "{name}: {DISK_SIZE}-byte disk, ext4 at {fs_start}, grub-install --target=i386-pc \
         --modules='{modules}'"
    );
    cached(&description, |dir| {
        let img = dir.join("disk.img");
        sparse(&img, DISK_SIZE);
        partition(&img);
        let mnt = dir.join("mnt");
        fs::create_dir(&mnt).unwrap();
        let _lock = loop_lock();
        // No partition device nodes in a container (no udev, no partscan): the file system
        // gets its own loop device over the partition's window, and GRUB sees the disk as a
        // second device. grub-install then embeds core.img in the disk and sets the prefix by
        // file-system UUID.
        let disk = Loop::attach(&img, None);
        let part = Loop::attach(&img, Some((fs_start, DISK_SIZE - fs_start)));
        sh(
            "mkfs.ext4",
            "e2fsprogs",
            &[
                "-q",
                "-F",
                "-U",
                "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0",
                &part.0,
            ],
        );
        sh("mount", "mount", &[&part.0, s(&mnt)]);
        let mounted = Mount(mnt.clone());
        sh(
            "grub-install",
            "grub-pc-bin",
            &[
                "--target=i386-pc",
                &format!("--boot-directory={}", mnt.join("boot").display()),
                &format!("--modules={modules}"),
                "--no-floppy",
                &disk.0,
            ],
        );
        fs::copy(mnt.join("boot/grub/i386-pc/core.img"), dir.join("core.img")).unwrap();
        drop(mounted);
        drop(part);
        drop(disk);
        fs::remove_dir(&mnt).unwrap();
    })
}

fn mbr_disk() -> PathBuf {
    grub_disk("mbr", &partition_mbr, MIB, "part_msdos ext2")
}

fn gpt_disk() -> PathBuf {
    grub_disk(
        "gpt",
        &|img| {
            sh(
                "sgdisk",
                "gdisk",
                &[
                    "-n",
                    "1:2048:+1M",
                    "-t",
                    "1:ef02",
                    "-n",
                    "2:4096:0",
                    "-t",
                    "2:8300",
                    s(img),
                ],
            );
        },
        2 * MIB,
        "part_gpt ext2",
    )
}

/// Bytes 0x10..0x14 of core.img's second sector: the Reed-Solomon redundancy length
/// (offsets.h `GRUB_DECOMPRESSOR_I386_PC_REED_SOLOMON_REDUNDANCY`), which grub-bios-setup fills
/// in the embedded copy only (the file keeps 0) before appending the parity bytes.
const RS_FIELD: std::ops::Range<usize> = 0x10..0x14;

/// The same bytes, the Reed-Solomon field excepted.
fn same_but_rs(disk: &[u8], file: &[u8]) -> bool {
    disk.len() == file.len()
        && disk
            .iter()
            .zip(file)
            .enumerate()
            .all(|(i, (a, b))| a == b || RS_FIELD.contains(&i))
}

/// Where GRUB wrote core.img, found without reading boot.img: the LBA of the first disk sector
/// equal to core.img's second sector, minus one (grub-bios-setup writes core.img contiguously
/// when embedding; the first sector differs from the file only in its blocklist).
fn core_lba_by_search(disk: &[u8], core: &[u8]) -> u64 {
    let second = &core[512..1024];
    let lba = disk
        .chunks(512)
        .take(8192)
        .position(|s| same_but_rs(s, second))
        .expect("core.img's second sector is on the disk");
    lba as u64 - 1
}

fn read_disk(img: &Path) -> BiosBoot {
    let src = open(img);
    let table = read_partitions(&src).unwrap();
    bios_boot::read(&src, &table)
}

/// Check what we read against the disk and core.img as grub-install left them.
fn check_against_grub(dir: &Path, location: CoreLocation) {
    let disk = fs::read(dir.join("disk.img")).unwrap();
    let core = fs::read(dir.join("core.img")).unwrap();
    let r = read_disk(&dir.join("disk.img"));
    assert_eq!(r.code, BootCode::Grub2, "{:?}", r.diagnostics);
    let c = r.core.expect("core.img followed");
    assert!(c.valid, "{:?}", r.diagnostics);
    assert_eq!(c.location, location);
    assert_eq!(c.start_lba, core_lba_by_search(&disk, &core));
    // The embedded copy is the file, sector for sector after the first, followed by the
    // Reed-Solomon parity bytes whose length grub-bios-setup wrote in the header.
    let at = c.start_lba as usize * 512;
    assert!(same_but_rs(&disk[at + 512..at + core.len()], &core[512..]));
    let rs = u32::from_le_bytes(disk[at + 512 + 0x10..at + 512 + 0x14].try_into().unwrap());
    assert_eq!(c.sectors, (core.len() as u64 + u64::from(rs)).div_ceil(512));
    // The sizes in the decompressor header are those of the file's.
    let field = |o: usize| u32::from_le_bytes(core[512 + o..512 + o + 4].try_into().unwrap());
    assert_eq!(c.compressed_size, Some(field(8)));
    assert_eq!(c.uncompressed_size, Some(field(12)));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
}

#[test]
fn mbr_disk_core_in_mbr_gap() {
    let dir = mbr_disk();
    check_against_grub(&dir, CoreLocation::MbrGap);
    // grub-install embeds right after sector 0 on an MBR disk.
    assert_eq!(read_disk(&dir.join("disk.img")).core.unwrap().start_lba, 1);
}

#[test]
fn gpt_disk_core_in_bios_boot_partition() {
    let dir = gpt_disk();
    check_against_grub(&dir, CoreLocation::BiosBootPartition { number: 1 });
    // At the start of the BIOS boot partition (sector 2048).
    assert_eq!(
        read_disk(&dir.join("disk.img")).core.unwrap().start_lba,
        2048
    );
}

/// A copy of a cached disk in a temporary directory, to damage.
fn copy(dir: &Path, tmp: &TempDir) -> PathBuf {
    let img = tmp.path("disk.img");
    fs::copy(dir.join("disk.img"), &img).unwrap();
    img
}

#[test]
fn zeroed_core_is_not_valid() {
    let dir = mbr_disk();
    let core = fs::read(dir.join("core.img")).unwrap();
    let tmp = TempDir::new("bios-zeroed");
    let img = copy(&dir, &tmp);
    poke(&img, 512, &vec![0u8; core.len()]);
    let r = read_disk(&img);
    assert_eq!(r.code, BootCode::Grub2);
    let c = r.core.unwrap();
    assert_eq!(
        (c.start_lba, c.location, c.valid),
        (1, CoreLocation::MbrGap, false)
    );
    assert!(
        r.diagnostics.iter().any(|d| d.contains("all zero")),
        "{:?}",
        r.diagnostics
    );

    // Only the rest of core.img gone (diskboot.img kept): still not valid.
    let img = copy(&dir, &tmp);
    poke(&img, 1024, &vec![0u8; core.len() - 512]);
    let r = read_disk(&img);
    assert!(!r.core.unwrap().valid);
    assert!(
        r.diagnostics.iter().any(|d| d.contains("offset 1024")),
        "{:?}",
        r.diagnostics
    );
}

#[test]
fn zero_sector_0_has_no_boot_code() {
    let dir = mbr_disk();
    let tmp = TempDir::new("bios-none");
    let img = copy(&dir, &tmp);
    poke(&img, 0, &[0u8; 440]);
    let r = read_disk(&img);
    assert_eq!(r.code, BootCode::None);
    assert_eq!(r.core, None);
    // A plain disk partitioned by sfdisk, never touched by a boot loader, too.
    let img = tmp.path("plain.img");
    sparse(&img, 8 * MIB);
    partition_mbr(&img);
    assert_eq!(read_disk(&img).code, BootCode::None);
}

#[test]
fn real_boot_sectors_are_identified() {
    let boot = fs::read("/usr/lib/grub/i386-pc/boot.img").expect("grub-pc-bin's boot.img");
    assert_eq!(bios_boot::identify(&boot), BootCode::Grub2);
    // Unpatched, boot.img points at LBA 1 (boot.S `kernel_sector: .long 1`).
    assert_eq!(u64::from_le_bytes(boot[0x5c..0x64].try_into().unwrap()), 1);
    let diskboot = fs::read("/usr/lib/grub/i386-pc/diskboot.img").unwrap();
    assert_eq!(bios_boot::identify(&diskboot), BootCode::Unknown);
    // SYSLINUX's MBRs (syslinux-common, a test dependency `cargo xtask test` installs).
    for name in ["mbr.bin", "gptmbr.bin", "altmbr.bin"] {
        let path = Path::new("/usr/lib/syslinux/mbr").join(name);
        let code = fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (install syslinux-common)", path.display()));
        assert_eq!(bios_boot::identify(&code), BootCode::Syslinux, "{name}");
    }
}

fn partition_mbr(img: &Path) {
    let script = img.with_extension("sfdisk");
    fs::write(
        &script,
        "label: dos\nlabel-id: 0x5eed5eed\nstart=2048, type=83, bootable\n",
    )
    .unwrap();
    run(Command::new(tool("sfdisk", "fdisk"))
        .args(["-q", s(img)])
        .stdin(fs::File::open(&script).unwrap()));
    fs::remove_file(&script).unwrap();
}
