//! GUID partition tables (UEFI specification 2.10, chapter 5): the primary header at LBA 1,
//! the backup header at the alternate LBA, and their partition entry arrays.

use preflight_io::{ByteSource, le, read_vec};

use crate::names::gpt_type_name;
use crate::text::{guid_mixed, utf16};
use crate::types::{GptHeaderUsed, GptInfo, Partition};

pub(crate) const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Header fields end at byte 92; the header may be longer (up to the sector size).
const MIN_HEADER_SIZE: u32 = 92;
/// qemu, sgdisk and Windows use 128 entries; nobody needs more than this.
pub(crate) const MAX_ENTRIES: u32 = 1024;
pub(crate) const MAX_ENTRY_SIZE: u32 = 4096;
const MAX_ARRAY_BYTES: u64 = MAX_ENTRIES as u64 * MAX_ENTRY_SIZE as u64;
/// Sector sizes tried, in order.
const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// A GPT header that passed every structural check (signature, size, CRC, own LBA, limits).
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub lba: u64,
    pub revision: u32,
    pub alternate_lba: u64,
    pub first_usable: u64,
    pub last_usable: u64,
    pub disk_guid: [u8; 16],
    pub entry_lba: u64,
    pub entry_count: u32,
    pub entry_size: u32,
    pub entries_crc: u32,
}

/// What [`read`] found.
pub(crate) struct Gpt {
    pub sector_size: u64,
    pub disk_guid: String,
    pub partitions: Vec<Partition>,
    pub info: GptInfo,
}

/// Where the reading failed: the reason already names the offset.
pub(crate) struct Unusable {
    pub primary_offset: u64,
    pub primary: String,
    pub backup_offset: u64,
    pub backup: String,
}

fn signature_at(disk: &dyn ByteSource, offset: u64) -> bool {
    let mut b = [0u8; 8];
    offset.checked_add(8).is_some_and(|end| end <= disk.len())
        && disk.read_at(offset, &mut b).is_ok()
        && &b == SIGNATURE
}

/// The sector size of a GPT disk: where "EFI PART" is found at LBA 1 (offset 512 or 4096),
/// else at the last LBA (a disk whose primary header is destroyed). `None`: no GPT signature.
pub(crate) fn detect_sector_size(disk: &dyn ByteSource) -> Option<u64> {
    let len = disk.len();
    SECTOR_SIZES
        .into_iter()
        .find(|&ss| signature_at(disk, ss))
        .or_else(|| {
            SECTOR_SIZES
                .into_iter()
                .find(|&ss| len / ss >= 3 && signature_at(disk, (len / ss - 1) * ss))
        })
}

/// "EFI PART" at LBA 1 for either sector size.
pub(crate) fn primary_signature(disk: &dyn ByteSource) -> bool {
    SECTOR_SIZES.into_iter().any(|ss| signature_at(disk, ss))
}

fn parse_header(disk: &dyn ByteSource, ss: u64, lba: u64) -> Result<Header, String> {
    let offset = lba
        .checked_mul(ss)
        .ok_or_else(|| format!("LBA {lba} is beyond any disk"))?;
    if offset.checked_add(ss).is_none_or(|end| end > disk.len()) {
        return Err(format!(
            "LBA {lba} (offset {offset}) is past the end of the disk ({} bytes)",
            disk.len()
        ));
    }
    let buf = read_vec(disk, offset, ss, 4096).map_err(|e| e.to_string())?;
    if buf.get(..8) != Some(&SIGNATURE[..]) {
        return Err(format!("no \"EFI PART\" signature at offset {offset}"));
    }
    let header_size = le::u32(&buf, 12);
    if header_size < MIN_HEADER_SIZE || u64::from(header_size) > ss {
        return Err(format!(
            "header size {header_size} at offset {} is outside {MIN_HEADER_SIZE}..={ss}",
            offset + 12
        ));
    }
    let stored_crc = le::u32(&buf, 16);
    let mut copy = buf[..header_size as usize].to_vec();
    copy[16..20].fill(0);
    let crc = crc32fast::hash(&copy);
    if crc != stored_crc {
        return Err(format!(
            "header CRC32 mismatch at offset {}: stored {stored_crc:#010x}, computed {crc:#010x} \
             over {header_size} bytes",
            offset + 16
        ));
    }
    let my_lba = le::u64(&buf, 24);
    if my_lba != lba {
        return Err(format!(
            "the header at LBA {lba} (offset {offset}) says it is at LBA {my_lba}"
        ));
    }
    let h = Header {
        lba,
        revision: le::u32(&buf, 8),
        alternate_lba: le::u64(&buf, 32),
        first_usable: le::u64(&buf, 40),
        last_usable: le::u64(&buf, 48),
        disk_guid: buf[56..72].try_into().unwrap_or([0; 16]),
        entry_lba: le::u64(&buf, 72),
        entry_count: le::u32(&buf, 80),
        entry_size: le::u32(&buf, 84),
        entries_crc: le::u32(&buf, 88),
    };
    if h.first_usable > h.last_usable {
        return Err(format!(
            "first usable LBA {} is after last usable LBA {} (header at offset {offset})",
            h.first_usable, h.last_usable
        ));
    }
    if h.entry_count > MAX_ENTRIES {
        return Err(format!(
            "{} partition entries declared at offset {}, more than the {MAX_ENTRIES} accepted",
            h.entry_count,
            offset + 80
        ));
    }
    if h.entry_size < 128 || !h.entry_size.is_multiple_of(128) || h.entry_size > MAX_ENTRY_SIZE {
        return Err(format!(
            "partition entry size {} at offset {} is not a multiple of 128 in 128..={MAX_ENTRY_SIZE}",
            h.entry_size,
            offset + 84
        ));
    }
    Ok(h)
}

fn read_entries(disk: &dyn ByteSource, ss: u64, h: &Header) -> Result<Vec<u8>, String> {
    let len = u64::from(h.entry_count) * u64::from(h.entry_size);
    let offset = h.entry_lba.checked_mul(ss);
    let Some(offset) = offset.filter(|o| o.checked_add(len).is_some_and(|end| end <= disk.len()))
    else {
        return Err(format!(
            "the partition entry array at LBA {} ({len} bytes) goes past the end of the disk ({} bytes)",
            h.entry_lba,
            disk.len()
        ));
    };
    let bytes = read_vec(disk, offset, len, MAX_ARRAY_BYTES).map_err(|e| e.to_string())?;
    let crc = crc32fast::hash(&bytes);
    if crc != h.entries_crc {
        return Err(format!(
            "partition entry array CRC32 mismatch (array at LBA {}, offset {offset}, {len} bytes): \
             header says {:#010x}, computed {crc:#010x}",
            h.entry_lba, h.entries_crc
        ));
    }
    Ok(bytes)
}

fn header_and_entries(
    disk: &dyn ByteSource,
    ss: u64,
    lba: u64,
) -> Result<(Header, Vec<u8>), String> {
    let h = parse_header(disk, ss, lba)?;
    let e = read_entries(disk, ss, &h)?;
    Ok((h, e))
}

/// Read a GPT: the primary header, else the backup; report what is wrong with either and
/// where they disagree.
pub(crate) fn read(disk: &dyn ByteSource, diags: &mut Vec<String>) -> Result<Gpt, Unusable> {
    let ss = detect_sector_size(disk).unwrap_or(512);
    let sectors = disk.len() / ss;
    let last_lba = sectors.saturating_sub(1);

    let primary_header = parse_header(disk, ss, 1);
    let primary = primary_header
        .clone()
        .and_then(|h| read_entries(disk, ss, &h).map(|e| (h, e)));

    // The backup: where the primary says, else at the disk's last LBA.
    let mut candidates = Vec::with_capacity(2);
    if let Ok(h) = &primary_header {
        candidates.push(h.alternate_lba);
    }
    if !candidates.contains(&last_lba) {
        candidates.push(last_lba);
    }
    let mut backup = None;
    let mut backup_errors = Vec::new();
    for &lba in &candidates {
        let found = if lba <= 1 {
            Err(format!(
                "backup location LBA {lba} is not after the primary header"
            ))
        } else {
            header_and_entries(disk, ss, lba)
        };
        match found {
            Ok(b) => {
                backup = Some(b);
                break;
            }
            Err(e) => backup_errors.push(format!("at LBA {lba}: {e}")),
        }
    }
    let backup_error = backup_errors.join("; ");
    let backup_lba = backup.as_ref().map_or(candidates[0], |(h, _)| h.lba);

    let backup_found = backup.is_some();
    let (used, (header, entries)) = match (primary, backup) {
        (Ok(p), backup) => {
            match &backup {
                Some((b, _)) => compare(&p.0, b, last_lba, ss, diags),
                None => {
                    if p.0.alternate_lba > last_lba {
                        diags.push(format!(
                            "the primary GPT header places its backup at LBA {}, past the last LBA \
                             {last_lba} of the disk: the image is truncated or was shrunk after \
                             partitioning",
                            p.0.alternate_lba
                        ));
                    }
                    diags.push(format!(
                        "the backup GPT header is unusable ({backup_error}); the primary is intact \
                         (`sgdisk -e` rewrites the backup at the end of the disk)"
                    ));
                }
            }
            (GptHeaderUsed::Primary, p)
        }
        (Err(pe), Some(b)) => {
            diags.push(format!(
                "the primary GPT header at LBA 1 (offset {ss}) is unusable: {pe}; the partitions \
                 were read from the backup header at LBA {} (offset {})",
                b.0.lba,
                b.0.lba * ss
            ));
            if b.0.alternate_lba != 1 {
                diags.push(format!(
                    "the backup GPT header points to its primary at LBA {}, not 1",
                    b.0.alternate_lba
                ));
            }
            (GptHeaderUsed::Backup, b)
        }
        (Err(pe), None) => {
            return Err(Unusable {
                primary_offset: ss,
                primary: pe,
                backup_offset: candidates[0].saturating_mul(ss),
                backup: backup_error,
            });
        }
    };
    let primary_valid = used == GptHeaderUsed::Primary;
    let backup_valid = backup_found;

    if header.revision >> 16 != 1 {
        diags.push(format!(
            "GPT header revision {}.{} (expected 1.x)",
            header.revision >> 16,
            header.revision & 0xffff
        ));
    }
    if header.last_usable > last_lba {
        diags.push(format!(
            "the GPT's last usable LBA {} is past the last LBA {last_lba} of the disk: the image \
             is truncated or was shrunk after partitioning",
            header.last_usable
        ));
    }

    let partitions = parse_entries(&header, &entries, ss, diags);
    Ok(Gpt {
        sector_size: ss,
        disk_guid: guid_mixed(&header.disk_guid),
        partitions,
        info: GptInfo {
            header_used: used,
            primary_valid,
            backup_valid,
            backup_lba,
            disk_last_lba: last_lba,
            first_usable_lba: header.first_usable,
            last_usable_lba: header.last_usable,
            entry_count: header.entry_count,
            entry_size: header.entry_size,
        },
    })
}

/// Both headers are valid: report where they disagree and where the backup sits.
fn compare(p: &Header, b: &Header, last_lba: u64, ss: u64, diags: &mut Vec<String>) {
    if p.alternate_lba != b.lba {
        diags.push(format!(
            "the primary GPT header places its backup at LBA {}, but the backup was found at LBA {}",
            p.alternate_lba, b.lba
        ));
    }
    if b.lba != last_lba {
        diags.push(format!(
            "the backup GPT header is at LBA {} (offset {}), not at the last LBA {last_lba} of the \
             disk: the disk was enlarged after partitioning (e.g. `qemu-img resize`) and the space \
             after LBA {} cannot be partitioned until the GPT is moved (`sgdisk -e`, growpart)",
            b.lba,
            b.lba * ss,
            p.last_usable
        ));
    }
    if p.disk_guid != b.disk_guid {
        diags.push(format!(
            "the primary and backup GPT headers name different disk GUIDs ({} and {})",
            guid_mixed(&p.disk_guid),
            guid_mixed(&b.disk_guid)
        ));
    }
    if p.entries_crc != b.entries_crc
        || p.entry_count != b.entry_count
        || p.entry_size != b.entry_size
    {
        diags.push(format!(
            "the primary and backup GPT partition entry arrays differ ({} entries of {} bytes, \
             CRC32 {:#010x} at LBA {} vs {} entries of {} bytes, CRC32 {:#010x} at LBA {}); the \
             primary is used",
            p.entry_count,
            p.entry_size,
            p.entries_crc,
            p.entry_lba,
            b.entry_count,
            b.entry_size,
            b.entries_crc,
            b.entry_lba
        ));
    }
    if p.first_usable != b.first_usable || p.last_usable != b.last_usable {
        diags.push(format!(
            "the primary and backup GPT headers give different usable ranges (LBA {}..={} vs {}..={})",
            p.first_usable, p.last_usable, b.first_usable, b.last_usable
        ));
    }
    if b.alternate_lba != 1 {
        diags.push(format!(
            "the backup GPT header points to its primary at LBA {}, not 1",
            b.alternate_lba
        ));
    }
}

fn parse_entries(h: &Header, bytes: &[u8], ss: u64, diags: &mut Vec<String>) -> Vec<Partition> {
    let mut parts = Vec::new();
    let size = h.entry_size as usize;
    for (i, e) in bytes.chunks_exact(size).enumerate() {
        let number = i as u32 + 1;
        let type_guid: [u8; 16] = e[0..16].try_into().unwrap_or([0; 16]);
        if type_guid == [0; 16] {
            continue;
        }
        let unique: [u8; 16] = e[16..32].try_into().unwrap_or([0; 16]);
        let first = le::u64(e, 32);
        let last = le::u64(e, 40);
        let attributes = le::u64(e, 48);
        let entry_offset = h
            .entry_lba
            .saturating_mul(ss)
            .saturating_add((i * size) as u64);
        if last < first {
            diags.push(format!(
                "GPT partition {number} (entry at offset {entry_offset}) ends at LBA {last} before \
                 it starts at LBA {first}; ignored"
            ));
            continue;
        }
        let (Some(start), Some(bytes)) = (
            first.checked_mul(ss),
            (last - first)
                .checked_add(1)
                .and_then(|n| n.checked_mul(ss)),
        ) else {
            diags.push(format!(
                "GPT partition {number} (entry at offset {entry_offset}) has LBAs {first}..={last} \
                 beyond any disk; ignored"
            ));
            continue;
        };
        if first < h.first_usable || last > h.last_usable {
            diags.push(format!(
                "GPT partition {number} (LBA {first}..={last}) lies outside the usable LBAs \
                 {}..={} of the header",
                h.first_usable, h.last_usable
            ));
        }
        let type_id = guid_mixed(&type_guid);
        parts.push(Partition {
            number,
            start,
            size: bytes,
            type_name: gpt_type_name(&type_id).map(str::to_string),
            type_id,
            uuid: (unique != [0; 16]).then(|| guid_mixed(&unique)),
            name: utf16(&e[56..128], false),
            bootable: attributes & 4 != 0,
            attributes,
        });
    }
    parts
}
