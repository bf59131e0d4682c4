//! Deciding which partition table a disk carries and reading it.

use preflight_io::{ByteSource, Source};

use crate::error::VolumeError;
use crate::types::{MbrBootCode, Partition, PartitionTable, Scheme};
use crate::{gpt, mbr, probe};

/// Overlapping pairs reported one by one before the rest are only counted.
const MAX_OVERLAP_REPORTS: usize = 16;

/// Read the partition table of a disk.
///
/// - A protective MBR (a type 0xEE entry) means GPT: the primary header is used, or the backup
///   when the primary or its entry array is damaged (reported in `diagnostics`); both damaged is
///   [`VolumeError::GptUnusable`].
/// - 55 AA at offset 510 with valid entries means MBR, with logical partitions from the EBR
///   chain.
/// - Otherwise, or when sector 0 is the boot sector of a file system (FAT, NTFS, exFAT), there
///   is no table ([`Scheme::None`]): the whole disk is one volume.
///
/// Never panics on hostile bytes; only a failure to read sector 0 or a GPT with no usable
/// header is an error.
pub fn read_partitions(disk: &Source) -> Result<PartitionTable, VolumeError> {
    read_table(&**disk)
}

fn whole_disk(diagnostics: Vec<String>) -> PartitionTable {
    PartitionTable {
        scheme: Scheme::None,
        sector_size: 512,
        disk_id: None,
        partitions: Vec::new(),
        mbr_boot_code: MbrBootCode::default(),
        gpt: None,
        diagnostics,
    }
}

fn gpt_table(
    disk: &dyn ByteSource,
    s0: &[u8; 512],
    mut diags: Vec<String>,
) -> Result<PartitionTable, VolumeError> {
    let g = gpt::read(disk, &mut diags).map_err(|u| VolumeError::GptUnusable {
        primary_offset: u.primary_offset,
        primary: u.primary,
        backup_offset: u.backup_offset,
        backup: u.backup,
    })?;
    check_layout(&g.partitions, disk.len(), &mut diags);
    Ok(PartitionTable {
        scheme: Scheme::Gpt,
        sector_size: g.sector_size as u32,
        disk_id: Some(g.disk_guid),
        partitions: g.partitions,
        mbr_boot_code: mbr::boot_code(s0),
        gpt: Some(g.info),
        diagnostics: diags,
    })
}

pub(crate) fn read_table(disk: &dyn ByteSource) -> Result<PartitionTable, VolumeError> {
    let mut diags = Vec::new();
    if disk.len() < 512 {
        diags.push(format!(
            "the disk is {} bytes, smaller than one sector: no partition table",
            disk.len()
        ));
        return Ok(whole_disk(diags));
    }
    let mut s0 = [0u8; 512];
    disk.read_at(0, &mut s0)?;
    let entries = mbr::entries(&s0);
    let signed = mbr::has_signature(&s0);

    if signed && entries.iter().any(|e| e.kind == 0xee) {
        let others: Vec<String> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.is_empty() && e.kind != 0xee)
            .map(|(i, e)| format!("{} (type 0x{:02x})", i + 1, e.kind))
            .collect();
        if !others.is_empty() {
            diags.push(format!(
                "hybrid MBR: besides the GPT protective entry, the MBR lists partitions {}; BIOS \
                 boot code and MBR-only tools see those instead of the GPT",
                others.join(", ")
            ));
        }
        return gpt_table(disk, &s0, diags);
    }

    if !signed {
        // A whole-disk file system, an empty disk, or a GPT whose protective MBR is gone.
        let fs = probe::probe(disk).ok().filter(|p| p.is_known());
        if gpt::detect_sector_size(disk).is_some() {
            if let Some(fs) = fs {
                diags.push(format!(
                    "a GPT header signature is present but sector 0 is not a protective MBR and \
                     the disk holds a {} file system at offset 0; the GPT is ignored as stale",
                    fs.name
                ));
                return Ok(whole_disk(diags));
            }
            diags.push(
                "GPT without a protective MBR (no 55 AA at offset 510): firmware may accept it, \
                 but the Linux kernel ignores such a GPT unless booted with `gpt`"
                    .to_string(),
            );
            return match gpt_table(disk, &s0, diags) {
                Ok(t) => Ok(t),
                Err(e) => Ok(whole_disk(vec![format!(
                    "no MBR signature, and the GPT signature found is unusable: {e}"
                )])),
            };
        }
        return Ok(whole_disk(diags));
    }

    // 55 AA without a protective entry: an MBR, or the boot sector of a file system.
    if probe::boot_sector_fs(&s0).is_some() {
        return Ok(whole_disk(diags));
    }
    if !mbr::valid_status(&entries) {
        diags.push(format!(
            "sector 0 ends with 55 AA but its partition entries have invalid status bytes \
             ({:#04x}, {:#04x}, {:#04x}, {:#04x} at offsets 446, 462, 478, 494): not read as an MBR",
            entries[0].status, entries[1].status, entries[2].status, entries[3].status
        ));
        return Ok(whole_disk(diags));
    }
    let partitions = mbr::read(disk, &s0, &mut diags);
    if partitions.is_empty() {
        if probe::probe(disk).is_ok_and(|fs| fs.is_known()) {
            // A file system at sector 0 with a leftover 55 AA (an old boot sector).
            return Ok(whole_disk(diags));
        }
        diags.push("the MBR lists no partitions".to_string());
    }
    if gpt::primary_signature(disk) {
        diags.push(
            "a GPT header is present at LBA 1 but the MBR has no protective (type 0xEE) entry: \
             the GPT is stale and ignored, as Linux and firmware ignore it"
                .to_string(),
        );
    }
    check_layout(&partitions, disk.len(), &mut diags);
    let signature = mbr::disk_signature(&s0);
    Ok(PartitionTable {
        scheme: Scheme::Mbr,
        sector_size: mbr::SECTOR as u32,
        disk_id: (signature != 0).then(|| format!("{signature:08x}")),
        partitions,
        mbr_boot_code: mbr::boot_code(&s0),
        gpt: None,
        diagnostics: diags,
    })
}

/// Partitions past the end of the disk, and overlapping partitions (an MBR extended partition
/// and its own logical partitions excepted).
fn check_layout(parts: &[Partition], disk_len: u64, diags: &mut Vec<String>) {
    for p in parts {
        if p.end() > disk_len {
            diags.push(format!(
                "partition {} (bytes {}..{}) ends past the end of the disk ({disk_len} bytes): the \
                 image is truncated or the table is wrong",
                p.number,
                p.start,
                p.end()
            ));
        }
    }
    let mut overlaps = 0usize;
    for (i, a) in parts.iter().enumerate() {
        for b in &parts[i + 1..] {
            let container =
                (a.is_extended() && b.number >= 5) || (b.is_extended() && a.number >= 5);
            if container || a.size == 0 || b.size == 0 {
                continue;
            }
            if a.start < b.end() && b.start < a.end() {
                overlaps += 1;
                if overlaps <= MAX_OVERLAP_REPORTS {
                    diags.push(format!(
                        "partitions {} (bytes {}..{}) and {} (bytes {}..{}) overlap",
                        a.number,
                        a.start,
                        a.end(),
                        b.number,
                        b.start,
                        b.end()
                    ));
                }
            }
        }
    }
    if overlaps > MAX_OVERLAP_REPORTS {
        diags.push(format!(
            "… and {} more overlapping pairs of partitions",
            overlaps - MAX_OVERLAP_REPORTS
        ));
    }
}
