//! What a BIOS does with a disk: it loads sector 0 to 0x7C00 and runs bytes 0..440 (the MBR
//! boot code). [`read`] tells whose code that is and, for GRUB 2, follows it to `core.img`.
//!
//! GRUB 2 on i386-pc boots in three steps (GRUB manual, "BIOS installation" and "Images"):
//! 1. `boot.img` in sector 0 reads one sector, the LBA stored at
//!    [`GRUB_BOOT_MACHINE_KERNEL_SECTOR`] (a little-endian u64 written by `grub-bios-setup`),
//!    to 0x8000 and jumps there;
//! 2. that sector is `diskboot.img`, the first sector of `core.img`. It ends with a blocklist
//!    (12-byte entries growing downwards from offset 0x1F4: u64 start LBA, u16 sector count,
//!    u16 load segment; a zero count ends the list) naming the rest of `core.img`;
//! 3. the rest is `lzma_decompress.img` followed by the LZMA-compressed kernel and modules.
//!
//! `grub-install` embeds `core.img` in the "MBR gap" (sectors 1 to the first partition) on an
//! MBR disk, or in a BIOS boot partition (GPT type `21686148-6449-6E6F-744E-656564454649`,
//! "Hah!IdontNeedEFI") on a GPT disk. With `--force` it may instead use a blocklist of a file
//! inside a file system, which breaks as soon as that file moves: reported as
//! [`CoreLocation::Partition`].
//!
//! Layout facts are from GRUB's `include/grub/i386/pc/boot.h`, `grub-core/boot/i386/pc/boot.S`
//! and `diskboot.S`, and `include/grub/offsets.h` (decompressor header fields); checked against
//! the images of grub-pc-bin 2.06 and disks set up by `grub-install --target=i386-pc`.
//!
//! Not done: the embedded `prefix` and config of `core.img` sit in its LZMA-compressed part
//! (the module info, "mimg", follows the compressed kernel). This crate has no LZMA decoder
//! among its dependencies, so [`CoreImage::prefix`] and [`CoreImage::embedded_config`] stay
//! `None` for now; the compressed and uncompressed sizes from the decompressor header are kept
//! so that a later step can decode it.
//!
//! Hostile input: every read is bounded (`core.img` at most [`MAX_CORE_SECTORS`]), never
//! panics, and problems become diagnostics with byte offsets from the start of the disk.

use preflight_io::{ByteSource, Source, le};
use serde::{Deserialize, Serialize};

use crate::{PartitionTable, Scheme};

/// boot.h: offset of the u64 LBA of core.img's first sector in boot.img.
pub const GRUB_BOOT_MACHINE_KERNEL_SECTOR: usize = 0x5c;
/// boot.h: offset of the boot drive byte (0xFF: use the drive the BIOS passed in DL).
pub const GRUB_BOOT_MACHINE_BOOT_DRIVE: usize = 0x64;
/// boot.h: size of one blocklist entry in diskboot.img.
pub const GRUB_BOOT_MACHINE_LIST_SIZE: usize = 12;
/// diskboot.S: the first (highest) blocklist entry, `0x200 - GRUB_BOOT_MACHINE_LIST_SIZE`.
const FIRST_LIST: usize = 0x200 - GRUB_BOOT_MACHINE_LIST_SIZE;
/// The blocklist grows downwards over the code's unused tail; the code of diskboot.img 2.06
/// ends at about 0x150, so a list reaching below this offset is not a blocklist.
const LIST_FLOOR: usize = 0x150;
/// boot.h `GRUB_BOOT_MACHINE_KERNEL_SEG` (0x800) + 0x20: the segment diskboot.S loads the
/// second sector of core.img to (the first entry's default in `blocklist_default_seg`).
const FIRST_LIST_SEGMENT: u16 = 0x820;
/// offsets.h: decompressor header fields of the i386-pc `lzma_decompress.img` (second sector of
/// core.img), little-endian u32s.
const DECOMPRESSOR_COMPRESSED_SIZE: usize = 0x08;
const DECOMPRESSOR_UNCOMPRESSED_SIZE: usize = 0x0c;

/// GPT type GUID of a BIOS boot partition (where GRUB embeds core.img on GPT disks).
pub const BIOS_BOOT_GUID: &str = "21686148-6449-6e6f-744e-656564454649";
/// Largest core.img followed: GRUB refuses to embed more than the gap holds (typically
/// < 1 MiB); a blocklist declaring more is hostile or broken.
pub const MAX_CORE_SECTORS: u64 = 2048;
/// Bytes 0..440 of sector 0 are boot code; 440..446 the disk signature and two reserved bytes.
const BOOT_CODE_LEN: usize = 440;

/// What the BIOS would run from sector 0, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BiosBoot {
    pub code: BootCode,
    /// GRUB 2 only: the core image boot.img loads.
    pub core: Option<CoreImage>,
    /// What was odd or unreadable, with byte offsets from the start of the disk.
    pub diagnostics: Vec<String>,
}

/// Whose boot code sits in bytes 0..440 of sector 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootCode {
    /// All zero: a BIOS has nothing to run (typical of a GPT disk made for UEFI only).
    None,
    /// GRUB 2 `boot.img`.
    Grub2,
    /// GRUB Legacy (0.9x) `stage1`.
    GrubLegacy,
    /// SYSLINUX/EXTLINUX `mbr.bin`, `altmbr.bin` or `gptmbr.bin`.
    Syslinux,
    /// A Windows MBR (or ms-sys / `install-mbr` copies of it): boots the active partition.
    Windows,
    /// Something else that is not zero.
    Unknown,
}

impl BootCode {
    /// A sentence fragment for reports: "GRUB 2 boot.img", "no boot code (all zero)".
    pub fn describe(self) -> &'static str {
        match self {
            BootCode::None => "no boot code (bytes 0–439 of sector 0 are zero)",
            BootCode::Grub2 => "GRUB 2 boot.img",
            BootCode::GrubLegacy => "GRUB Legacy stage1",
            BootCode::Syslinux => "SYSLINUX/EXTLINUX MBR code",
            BootCode::Windows => "a Windows-style MBR (boots the active partition)",
            BootCode::Unknown => "unrecognised boot code",
        }
    }
}

/// GRUB 2's core.img as boot.img and diskboot.img describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreImage {
    /// LBA of its first sector (diskboot.img), from boot.img offset 0x5C.
    pub start_lba: u64,
    /// Its size in sectors: diskboot.img plus every blocklist entry (0 when not valid).
    pub sectors: u64,
    pub location: CoreLocation,
    /// The first sector holds diskboot.img (its messages and a well-formed blocklist inside the
    /// disk) and the second the LZMA decompressor's header.
    pub valid: bool,
    /// From the decompressor header: the compressed and uncompressed size of the kernel and
    /// modules, in bytes (offsets.h `GRUB_DECOMPRESSOR_I386_PC_{COMPRESSED,UNCOMPRESSED}_SIZE`).
    pub compressed_size: Option<u32>,
    pub uncompressed_size: Option<u32>,
    /// Always `None` for now (see the module documentation: no LZMA decoder here).
    pub prefix: Option<String>,
    /// Always `None` for now (see the module documentation).
    pub embedded_config: Option<String>,
}

/// Where core.img's first sector is, relative to the partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CoreLocation {
    /// After sector 0 and before the first partition (MBR disks; what grub-install does).
    MbrGap,
    /// Inside a GPT BIOS boot partition (what grub-install does on GPT disks).
    BiosBootPartition { number: u32 },
    /// Inside another partition: a file system there may overwrite or move it.
    Partition { number: u32 },
    /// Not in any partition, and not in the MBR gap (between partitions, or over the GPT
    /// header and entries).
    Unallocated,
    /// Beyond the end of the disk, or LBA 0.
    OutsideDisk,
}

impl CoreLocation {
    /// A sentence fragment: "in the MBR gap", "in BIOS boot partition 1".
    pub fn describe(self) -> String {
        match self {
            CoreLocation::MbrGap => "in the MBR gap before the first partition".into(),
            CoreLocation::BiosBootPartition { number } => {
                format!("in BIOS boot partition {number}")
            }
            CoreLocation::Partition { number } => format!(
                "inside partition {number} (not a BIOS boot partition: its file system may \
                 overwrite it)"
            ),
            CoreLocation::Unallocated => "in unpartitioned space".into(),
            CoreLocation::OutsideDisk => "outside the disk".into(),
        }
    }
}

/// Identify sector 0's boot code and, for GRUB 2, follow it to core.img.
pub fn read(disk: &Source, table: &PartitionTable) -> BiosBoot {
    let mut out = BiosBoot {
        code: BootCode::None,
        core: None,
        diagnostics: Vec::new(),
    };
    let mut s0 = [0u8; 512];
    if let Err(e) = disk.read_at(0, &mut s0) {
        out.diagnostics
            .push(format!("sector 0 (offset 0) is unreadable: {e}"));
        return out;
    }
    out.code = identify(&s0);
    match out.code {
        BootCode::Grub2 => {
            let lba = le::u64(&s0, GRUB_BOOT_MACHINE_KERNEL_SECTOR);
            out.core = Some(read_core(disk, table, lba, &mut out.diagnostics));
        }
        BootCode::GrubLegacy => {
            // stage1.h: STAGE1_STAGE2_SECTOR at 0x44, a u32 LBA of stage1.5/stage2.
            let lba = le::u32(&s0, 0x44);
            out.diagnostics.push(format!(
                "GRUB Legacy stage1 loads its next stage from LBA {lba} (not followed)"
            ));
        }
        _ => {}
    }
    out
}

/// Classify bytes 0..440 of a sector 0 (shorter input: what there is).
pub fn identify(sector: &[u8]) -> BootCode {
    let code = &sector[..sector.len().min(BOOT_CODE_LEN)];
    if code.iter().all(|&b| b == 0) {
        return BootCode::None;
    }
    let has = |needle: &[u8]| code.windows(needle.len()).any(|w| w == needle);
    // boot.S and GRUB Legacy's stage1.S share their messages, "GRUB \0Geom\0Hard Disk\0Read\0
    // Error"; they differ in the jump over the BIOS parameter block: boot.S's BPB area ends at
    // 0x5A and its data at 0x65 (`jmp` 0x63 → 0x65), stage1.S's ends at 0x3E with its data up
    // to 0x4A (`jmp` 0x48 → 0x4A).
    if has(b"GRUB \0Geom\0Hard Disk\0Read\0 Error") || has(b"GRUB \0Geom\0Hard Disk\0Read\0") {
        return match code.get(..2) {
            Some([0xeb, 0x48]) => BootCode::GrubLegacy,
            _ => BootCode::Grub2,
        };
    }
    // SYSLINUX mbr/mbr.S, gptmbr.S and altmbr.S (syslinux-common 6.04): all three report
    // "Multiple active partitions" and start with the same 16-byte prologue.
    if has(b"Multiple active partitions")
        || code.starts_with(&[0x33, 0xc0, 0xfa, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x7c])
            && (has(b"Missing OS") || has(b"Missing operating system"))
    {
        return BootCode::Syslinux;
    }
    // The Windows MBR (NT 6+ and earlier) and ms-sys copies print these three messages.
    if has(b"Invalid partition table") && has(b"Missing operating system") {
        return BootCode::Windows;
    }
    BootCode::Unknown
}

fn read_core(disk: &Source, table: &PartitionTable, lba: u64, diag: &mut Vec<String>) -> CoreImage {
    let ss = u64::from(table.sector_size.max(512));
    let mut core = CoreImage {
        start_lba: lba,
        sectors: 0,
        location: locate(disk, table, lba, ss),
        valid: false,
        compressed_size: None,
        uncompressed_size: None,
        prefix: None,
        embedded_config: None,
    };
    if core.location == CoreLocation::OutsideDisk {
        diag.push(format!(
            "boot.img loads core.img from LBA {lba} (field at offset {GRUB_BOOT_MACHINE_KERNEL_SECTOR:#x}), \
             which is outside the disk ({} bytes)",
            disk.len()
        ));
        return core;
    }
    let Some(offset) = lba.checked_mul(ss) else {
        return core;
    };
    let mut first = [0u8; 512];
    if let Err(e) = disk.read_at(offset, &mut first) {
        diag.push(format!(
            "core.img's first sector at offset {offset} is unreadable: {e}"
        ));
        return core;
    }
    if first.iter().all(|&b| b == 0) {
        diag.push(format!(
            "core.img's first sector (LBA {lba}, offset {offset}) is all zero: boot.img would \
             jump into nothing"
        ));
        return core;
    }
    // diskboot.S prints "loading" and, on failure, "Geom"/"Read"/" Error".
    let code = &first[..LIST_FLOOR];
    let has = |needle: &[u8]| code.windows(needle.len()).any(|w| w == needle);
    if !has(b"loading\0") || !has(b"Geom\0Read\0 Error") {
        diag.push(format!(
            "LBA {lba} (offset {offset}) does not hold GRUB's diskboot.img (its messages are \
             missing)"
        ));
        return core;
    }
    let Some(list) = blocklist(&first, offset, diag) else {
        return core;
    };
    let mut sectors: u64 = 1;
    for (i, &(start, len)) in list.iter().enumerate() {
        sectors = sectors.saturating_add(u64::from(len));
        let end = start
            .checked_add(u64::from(len))
            .and_then(|e| e.checked_mul(ss));
        if start == 0 || end.is_none_or(|e| e > disk.len()) {
            diag.push(format!(
                "core.img blocklist entry {i} (LBAs {start}+{len}) lies outside the disk"
            ));
            return core;
        }
    }
    if sectors > MAX_CORE_SECTORS {
        diag.push(format!(
            "core.img blocklist at offset {offset} declares {sectors} sectors, more than the \
             {MAX_CORE_SECTORS} accepted"
        ));
        return core;
    }
    core.sectors = sectors;
    // The second sector of core.img: lzma_decompress.img, which starts with a far jump (0xEA,
    // startup_raw.S `ljmp $0, $ABS(LOCAL(codestart))`) over its header.
    let Some(&(second_lba, _)) = list.first() else {
        diag.push(format!(
            "core.img at offset {offset} has an empty blocklist: only diskboot.img, no kernel"
        ));
        return core;
    };
    let second_off = second_lba.saturating_mul(ss);
    let mut second = [0u8; 512];
    if let Err(e) = disk.read_at(second_off, &mut second) {
        diag.push(format!(
            "core.img's second sector at offset {second_off} is unreadable: {e}"
        ));
        return core;
    }
    if second[0] != 0xea {
        diag.push(format!(
            "core.img's second sector (offset {second_off}) is not GRUB's LZMA decompressor \
             (no far jump at its start){}",
            if second.iter().all(|&b| b == 0) {
                ": it is all zero"
            } else {
                ""
            }
        ));
        return core;
    }
    let compressed = le::u32(&second, DECOMPRESSOR_COMPRESSED_SIZE);
    let uncompressed = le::u32(&second, DECOMPRESSOR_UNCOMPRESSED_SIZE);
    let total = sectors.saturating_mul(ss);
    if compressed == 0 || u64::from(compressed) > total || uncompressed < compressed {
        diag.push(format!(
            "core.img's decompressor header at offset {second_off} declares implausible sizes \
             (compressed {compressed}, uncompressed {uncompressed}, core.img {total} bytes)"
        ));
        return core;
    }
    core.compressed_size = Some(compressed);
    core.uncompressed_size = Some(uncompressed);
    core.valid = true;
    core
}

/// diskboot.img's blocklist: (start LBA, sector count) pairs, highest entry first, up to the
/// terminating zero count. `None` (with a diagnostic) when it is not well formed.
fn blocklist(first: &[u8; 512], offset: u64, diag: &mut Vec<String>) -> Option<Vec<(u64, u16)>> {
    let mut list = Vec::new();
    let mut at = FIRST_LIST;
    loop {
        let start = le::u64(first, at);
        let len = le::u16(first, at + 8);
        let segment = le::u16(first, at + 10);
        if len == 0 {
            return Some(list);
        }
        if at == FIRST_LIST && segment != FIRST_LIST_SEGMENT {
            diag.push(format!(
                "core.img blocklist at offset {}: load segment {segment:#x}, expected {FIRST_LIST_SEGMENT:#x}",
                offset + at as u64
            ));
            return None;
        }
        list.push((start, len));
        at -= GRUB_BOOT_MACHINE_LIST_SIZE;
        if at < LIST_FLOOR {
            diag.push(format!(
                "core.img blocklist at offset {} has no terminating entry",
                offset + FIRST_LIST as u64
            ));
            return None;
        }
    }
}

fn locate(disk: &Source, table: &PartitionTable, lba: u64, ss: u64) -> CoreLocation {
    let Some(offset) = lba.checked_mul(ss) else {
        return CoreLocation::OutsideDisk;
    };
    if lba == 0 || offset.checked_add(ss).is_none_or(|end| end > disk.len()) {
        return CoreLocation::OutsideDisk;
    }
    let parts = table.partitions.iter().filter(|p| !p.is_extended());
    if let Some(p) = parts
        .clone()
        .find(|p| p.start <= offset && offset < p.end())
    {
        return if p.type_id.eq_ignore_ascii_case(BIOS_BOOT_GUID) {
            CoreLocation::BiosBootPartition { number: p.number }
        } else {
            CoreLocation::Partition { number: p.number }
        };
    }
    let first_start = parts.map(|p| p.start).min();
    let gpt_end = table
        .gpt
        .as_ref()
        .map_or(0, |g| g.first_usable_lba.saturating_mul(ss));
    let in_gap = first_start.is_none_or(|s| offset < s);
    if table.scheme == Scheme::Gpt && offset < gpt_end {
        return CoreLocation::Unallocated;
    }
    if in_gap {
        CoreLocation::MbrGap
    } else {
        CoreLocation::Unallocated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_io::MemSource;
    use std::sync::Arc;

    fn sector_with(at: usize, bytes: &[u8]) -> [u8; 512] {
        let mut s = [0u8; 512];
        s[at..at + bytes.len()].copy_from_slice(bytes);
        s[510] = 0x55;
        s[511] = 0xaa;
        s
    }

    #[test]
    fn identifies_crafted_code() {
        assert_eq!(identify(&[0u8; 512]), BootCode::None);
        let mut g2 = sector_with(0x180, b"GRUB \0Geom\0Hard Disk\0Read\0 Error\r\n");
        g2[..3].copy_from_slice(&[0xeb, 0x63, 0x90]);
        assert_eq!(identify(&g2), BootCode::Grub2);
        let mut g1 = g2;
        g1[..3].copy_from_slice(&[0xeb, 0x48, 0x90]);
        assert_eq!(identify(&g1), BootCode::GrubLegacy);
        let sl = sector_with(0x100, b"Multiple active partitions.\r\n");
        assert_eq!(identify(&sl), BootCode::Syslinux);
        let win = sector_with(
            0x163,
            b"Invalid partition table\0Error loading operating system\0Missing operating system",
        );
        assert_eq!(identify(&win), BootCode::Windows);
        assert_eq!(
            identify(&sector_with(0, &[0xfa, 0xeb, 0xfe])),
            BootCode::Unknown
        );
        // The messages beyond byte 440 do not count: that is the partition table.
        assert_eq!(
            identify(&sector_with(446, b"GRUB \0Geom\0Hard Disk\0Read\0")),
            BootCode::None
        );
        assert_eq!(identify(&[]), BootCode::None);
    }

    fn table(len_sectors: u64) -> PartitionTable {
        PartitionTable {
            scheme: Scheme::Mbr,
            sector_size: 512,
            disk_id: None,
            partitions: vec![crate::Partition {
                number: 1,
                start: 2048 * 512,
                size: (len_sectors - 2048) * 512,
                type_id: "0x83".into(),
                type_name: None,
                uuid: None,
                name: None,
                bootable: true,
                attributes: 0x80,
            }],
            mbr_boot_code: Default::default(),
            gpt: None,
            diagnostics: Vec::new(),
        }
    }

    /// A disk with a boot.img-like sector 0 pointing at `lba`, and a crafted core.img there.
    fn disk(lba: u64, core_sectors: u16) -> Vec<u8> {
        let mut d = vec![0u8; 4096 * 512];
        let mut s0 = sector_with(0x180, b"GRUB \0Geom\0Hard Disk\0Read\0 Error\r\n");
        s0[..2].copy_from_slice(&[0xeb, 0x63]);
        s0[0x5c..0x64].copy_from_slice(&lba.to_le_bytes());
        d[..512].copy_from_slice(&s0);
        let base = usize::try_from(lba.saturating_mul(512)).unwrap_or(usize::MAX);
        if base.saturating_add(1024) <= d.len() {
            let first = &mut d[base..base + 512];
            first[0x11b..0x123].copy_from_slice(b"loading\0");
            first[0x128..0x139].copy_from_slice(b"Geom\0Read\0 Error\0");
            first[0x1f4..0x1fc].copy_from_slice(&(lba + 1).to_le_bytes());
            first[0x1fc..0x1fe].copy_from_slice(&core_sectors.to_le_bytes());
            first[0x1fe..0x200].copy_from_slice(&0x820u16.to_le_bytes());
            let second = &mut d[base + 512..base + 1024];
            second[0] = 0xea;
            second[8..12].copy_from_slice(&1000u32.to_le_bytes());
            second[12..16].copy_from_slice(&3000u32.to_le_bytes());
        }
        d
    }

    fn run(d: Vec<u8>) -> BiosBoot {
        let src: Source = Arc::new(MemSource(d));
        read(&src, &table(4096))
    }

    #[test]
    fn follows_a_crafted_core() {
        let r = run(disk(1, 60));
        let core = r.core.expect("core");
        assert_eq!(
            (core.location, core.sectors, core.valid),
            (CoreLocation::MbrGap, 61, true),
            "{:?}",
            r.diagnostics
        );
        assert_eq!(core.compressed_size, Some(1000));
        let core = run(disk(3000, 4)).core.expect("core");
        assert_eq!(core.location, CoreLocation::Partition { number: 1 });
        assert!(core.valid);
    }

    #[test]
    fn hostile_cores() {
        // Beyond the disk, and at u64::MAX (no overflow).
        for lba in [5000, u64::MAX, 0] {
            let r = run(disk(lba, 1));
            let core = r.core.expect("core");
            assert_eq!(core.location, CoreLocation::OutsideDisk);
            assert!(!core.valid);
        }
        // A blocklist running past the disk, and one without terminator.
        let mut d = disk(1, 60000);
        let r = run(d.clone());
        assert!(!r.core.expect("core").valid, "{:?}", r.diagnostics);
        for k in 0..=(FIRST_LIST - LIST_FLOOR) / 12 {
            d[512 + FIRST_LIST - 12 * k + 8] = 1;
        }
        let r = run(d);
        assert!(!r.core.expect("core").valid);
        assert!(
            r.diagnostics.iter().any(|m| m.contains("terminating")),
            "{:?}",
            r.diagnostics
        );
        // Every byte value in the kernel-sector field and the blocklist: never a panic.
        for b in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut d = disk(1, 60);
            d[512..1024].fill(b);
            let _ = run(d);
        }
    }
}
