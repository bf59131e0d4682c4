//! DOS / MBR partition tables: the four primary entries of sector 0 and the chain of extended
//! boot records (EBRs) that holds logical partitions.

use std::collections::HashSet;

use preflight_io::{ByteSource, le};

use crate::names::mbr_type_name;
use crate::types::{MbrBootCode, Partition};

/// MBR LBAs are counted in 512-byte sectors (4 KiB-sector disks use GPT in practice).
pub(crate) const SECTOR: u64 = 512;
/// Logical partitions read at most, over all extended partitions of a disk.
pub(crate) const MAX_LOGICAL: u32 = 256;
/// EBRs read at most per extended partition (an EBR may link on without holding a partition).
const MAX_EBRS: usize = 1024;
const ENTRIES_AT: usize = 446;

/// One 16-byte partition entry (CHS fields ignored: every tool since the 1990s uses the LBAs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub status: u8,
    pub kind: u8,
    pub start: u32,
    pub sectors: u32,
}

impl Entry {
    pub fn is_empty(&self) -> bool {
        self.kind == 0 || self.sectors == 0
    }
}

pub(crate) fn has_signature(s: &[u8; 512]) -> bool {
    s[510] == 0x55 && s[511] == 0xAA
}

pub(crate) fn entries(s: &[u8; 512]) -> [Entry; 4] {
    std::array::from_fn(|i| {
        let at = ENTRIES_AT + 16 * i;
        Entry {
            status: s[at],
            kind: s[at + 4],
            start: le::u32(s, at + 8),
            sectors: le::u32(s, at + 12),
        }
    })
}

pub(crate) fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

/// Every status byte is 0x00 or 0x80: the test Linux uses to tell a partition table from the
/// boot sector of a file system (which also ends in 55 AA).
pub(crate) fn valid_status(entries: &[Entry; 4]) -> bool {
    entries.iter().all(|e| e.status == 0 || e.status == 0x80)
}

pub(crate) fn boot_code(s: &[u8; 512]) -> MbrBootCode {
    MbrBootCode {
        present: s[..440].iter().any(|&b| b != 0),
        grub: s.windows(4).any(|w| w == b"GRUB"),
    }
}

pub(crate) fn disk_signature(s: &[u8; 512]) -> u32 {
    le::u32(s, 440)
}

fn partition(number: u32, signature: u32, e: &Entry, start_lba: u64) -> Partition {
    Partition {
        number,
        start: start_lba.saturating_mul(SECTOR),
        size: u64::from(e.sectors) * SECTOR,
        type_id: format!("0x{:02x}", e.kind),
        type_name: mbr_type_name(e.kind).map(str::to_string),
        // As the kernel and blkid derive PARTUUID: "%08x-%02x" (hex partition number).
        uuid: (signature != 0).then(|| format!("{signature:08x}-{number:02x}")),
        name: None,
        bootable: e.status == 0x80,
        attributes: u64::from(e.status),
    }
}

/// The partitions of an MBR whose sector 0 is `s0` (55 AA and valid status bytes already
/// checked by the caller): primaries 1–4 as they sit in their slots, then the logical
/// partitions of every extended partition, numbered from 5 as Linux does.
pub(crate) fn read(
    disk: &dyn ByteSource,
    s0: &[u8; 512],
    diags: &mut Vec<String>,
) -> Vec<Partition> {
    let signature = disk_signature(s0);
    let mut parts = Vec::new();
    let mut extended = Vec::new();
    for (i, e) in entries(s0).iter().enumerate() {
        if e.is_empty() {
            continue;
        }
        let number = i as u32 + 1;
        if e.start == 0 {
            diags.push(format!(
                "MBR partition {number} starts at LBA 0, on top of the MBR itself (entry at offset {})",
                ENTRIES_AT + 16 * i
            ));
        }
        if is_extended(e.kind) {
            extended.push((number, u64::from(e.start), u64::from(e.sectors)));
        }
        parts.push(partition(number, signature, e, u64::from(e.start)));
    }
    let mut next = 5;
    for (number, start, sectors) in extended {
        walk_extended(
            disk, number, start, sectors, signature, &mut next, &mut parts, diags,
        );
    }
    parts
}

/// Follow the EBR chain of one extended partition. Each EBR's first entry is a logical
/// partition relative to the EBR; its second links to the next EBR relative to the start of
/// the extended partition. Stops at a loop, a missing signature, a link leaving the extended
/// partition, or the limits.
#[allow(clippy::too_many_arguments)]
fn walk_extended(
    disk: &dyn ByteSource,
    ext_number: u32,
    ext_start: u64,
    ext_sectors: u64,
    signature: u32,
    next: &mut u32,
    parts: &mut Vec<Partition>,
    diags: &mut Vec<String>,
) {
    let ext_end = ext_start + ext_sectors;
    let mut ebr = ext_start;
    let mut seen = HashSet::new();
    loop {
        let offset = ebr * SECTOR;
        if !seen.insert(ebr) {
            diags.push(format!(
                "the EBR chain of extended partition {ext_number} loops back to LBA {ebr} \
                 (offset {offset}); logical partitions after that point are ignored"
            ));
            return;
        }
        if seen.len() > MAX_EBRS {
            diags.push(format!(
                "extended partition {ext_number} chains more than {MAX_EBRS} EBRs; stopped at LBA {ebr} (offset {offset})"
            ));
            return;
        }
        if *next >= 5 + MAX_LOGICAL {
            diags.push(format!(
                "more than {MAX_LOGICAL} logical partitions; stopped at the EBR at LBA {ebr} (offset {offset})"
            ));
            return;
        }
        let mut s = [0u8; 512];
        if let Err(e) = disk.read_at(offset, &mut s) {
            diags.push(format!(
                "the EBR of extended partition {ext_number} at LBA {ebr} (offset {offset}) cannot be read: {e}"
            ));
            return;
        }
        if !has_signature(&s) {
            diags.push(format!(
                "the EBR at LBA {ebr} (offset {offset}) in extended partition {ext_number} has no \
                 55 AA signature; the chain of logical partitions stops there"
            ));
            return;
        }
        let es = entries(&s);
        if let Some(e) = es[..2]
            .iter()
            .find(|e| !e.is_empty() && !is_extended(e.kind))
        {
            let start = ebr + u64::from(e.start);
            let number = *next;
            *next += 1;
            if start < ext_start || start + u64::from(e.sectors) > ext_end {
                diags.push(format!(
                    "logical partition {number} (LBA {start}, {} sectors, described at offset {offset}) \
                     lies outside its extended partition {ext_number} (LBA {ext_start}..{ext_end})",
                    e.sectors
                ));
            }
            parts.push(partition(number, signature, e, start));
        }
        match es[..2]
            .iter()
            .find(|e| !e.is_empty() && is_extended(e.kind))
        {
            None => return,
            Some(link) => {
                let to = ext_start + u64::from(link.start);
                if to >= ext_end {
                    diags.push(format!(
                        "the EBR at LBA {ebr} (offset {offset}) links to LBA {to}, outside extended \
                         partition {ext_number} (LBA {ext_start}..{ext_end}); the chain stops there"
                    ));
                    return;
                }
                ebr = to;
            }
        }
    }
}
