//! Microsoft file systems: NTFS, exFAT, FAT12/16/32.

use preflight_io::{ByteSource, IoError, le};

use super::{MAX_LABEL_BLOCK, Probe, ProbeKind, field, magic, read_exact, read_upto, serial32};
use crate::text::{padded_string, utf16};

/// The boot-sector file system that sector 0 of a disk holds, if any: used to tell a
/// partitionless disk from an MBR (both end in 55 AA).
pub(crate) fn boot_sector_fs(s0: &[u8]) -> Option<ProbeKind> {
    if magic(s0, 3, b"NTFS    ") {
        Some(ProbeKind::Ntfs)
    } else if magic(s0, 3, b"EXFAT   ") {
        Some(ProbeKind::Exfat)
    } else if magic(s0, 3, b"-FVE-FS-") {
        Some(ProbeKind::BitLocker)
    } else {
        fat_bpb(s0).filter(|b| b.named).map(|_| ProbeKind::Vfat)
    }
}

pub(super) fn ntfs(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
    if !magic(h, 3, b"NTFS    ") {
        return Ok(None);
    }
    let bps = u64::from(le::u16(h, 11));
    if !(256..=4096).contains(&bps) || !bps.is_power_of_two() {
        return Ok(None);
    }
    let spc_raw = h.get(13).copied().unwrap_or(0);
    let spc = match spc_raw {
        0 => return Ok(None),
        1..=0x80 => u64::from(spc_raw),
        // Newer NTFS: 2^(256 - n) sectors per cluster.
        _ if 256 - u32::from(spc_raw) <= 16 => 1u64 << (256 - u32::from(spc_raw)),
        _ => return Ok(None),
    };
    let serial = le::u64(h, 72);
    let label = ntfs_label(v, h, bps * spc)?;
    Ok(Some(
        Probe::new(ProbeKind::Ntfs)
            .uuid(Some(format!("{serial:016X}")))
            .label(label),
    ))
}

/// The volume name: the $VOLUME_NAME attribute of MFT record 3 ($Volume).
fn ntfs_label(v: &dyn ByteSource, h: &[u8], cluster: u64) -> Result<Option<String>, IoError> {
    let mft_lcn = le::u64(h, 48);
    let per_record = h.get(64).copied().unwrap_or(0) as i8;
    let record = if per_record > 0 {
        u64::from(per_record.unsigned_abs()) * cluster
    } else {
        let shift = u32::from(per_record.unsigned_abs());
        if !(8..=16).contains(&shift) {
            return Ok(None);
        }
        1u64 << shift
    };
    if !(256..=MAX_LABEL_BLOCK).contains(&record) {
        return Ok(None);
    }
    let Some(offset) = mft_lcn
        .checked_mul(cluster)
        .and_then(|o| o.checked_add(3 * record))
    else {
        return Ok(None);
    };
    let Some(mut rec) = read_exact(v, offset, record)? else {
        return Ok(None);
    };
    if !magic(&rec, 0, b"FILE") {
        return Ok(None);
    }
    // Update sequence: the last two bytes of every 512-byte stride hold a check value; the
    // real bytes are in the array.
    let usa = usize::from(le::u16(&rec, 4));
    let count = usize::from(le::u16(&rec, 6));
    let check = field(&rec, usa, 2).map(<[u8]>::to_vec);
    for i in 1..count {
        let end = i * 512;
        let (Some(check), Some(fix)) = (&check, field(&rec, usa + 2 * i, 2).map(<[u8]>::to_vec))
        else {
            return Ok(None);
        };
        if end > rec.len() {
            break;
        }
        if &rec[end - 2..end] != check.as_slice() {
            return Ok(None);
        }
        rec[end - 2..end].copy_from_slice(&fix);
    }
    let mut at = usize::from(le::u16(&rec, 20));
    for _ in 0..64 {
        let kind = le::u32(&rec, at);
        let len = le::u32(&rec, at + 4) as usize;
        if kind == 0xffff_ffff || len < 24 || field(&rec, at, len).is_none() {
            break;
        }
        // $VOLUME_NAME, resident.
        if kind == 0x60 && rec[at + 8] == 0 {
            let value_len = le::u32(&rec, at + 16) as usize;
            let value_at = at + usize::from(le::u16(&rec, at + 20));
            return Ok(field(&rec, value_at, value_len).and_then(|b| utf16(b, false)));
        }
        at += len;
    }
    Ok(None)
}

pub(super) fn exfat(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
    if !magic(h, 3, b"EXFAT   ") {
        return Ok(None);
    }
    let version = format!("{}.{}", h.get(105).unwrap_or(&0), h.get(104).unwrap_or(&0));
    let p = Probe::new(ProbeKind::Exfat)
        .uuid(Some(serial32(le::u32(h, 100))))
        .version(version);
    // The label is a directory entry (type 0x83) in the root directory's first cluster.
    let bps_shift = u32::from(h.get(108).copied().unwrap_or(0));
    let spc_shift = u32::from(h.get(109).copied().unwrap_or(0));
    let heap = u64::from(le::u32(h, 88));
    let root = u64::from(le::u32(h, 96));
    if !(9..=12).contains(&bps_shift) || bps_shift + spc_shift > 25 || root < 2 {
        return Ok(Some(p));
    }
    let offset = (heap + ((root - 2) << spc_shift)) << bps_shift;
    let cluster = 1u64 << (bps_shift + spc_shift);
    let dir = read_upto(v, offset, cluster.min(MAX_LABEL_BLOCK))?;
    let mut label = None;
    for e in dir.chunks_exact(32) {
        match e[0] {
            0 => break,
            0x83 => {
                let n = usize::from(e[1].min(11));
                label = utf16(&e[2..2 + 2 * n], false);
                break;
            }
            _ => {}
        }
    }
    Ok(Some(p.label(label)))
}

struct FatBpb {
    /// A type string ("FAT12   ", "FAT32   ", "MSDOS", "MSWIN") sits where blkid looks.
    named: bool,
    fat32: bool,
    bytes_per_sector: u64,
    sectors_per_cluster: u64,
    reserved: u64,
    fat_sectors: u64,
    root_entries: u64,
    clusters: u64,
}

/// The BIOS parameter block checks blkid applies to FAT.
fn fat_bpb(s: &[u8]) -> Option<FatBpb> {
    let s = field(s, 0, 512)?;
    let named = [&b"MSWIN"[..], b"FAT32   "]
        .iter()
        .any(|m| magic(s, 0x52, m))
        || [&b"MSDOS"[..], b"FAT16   ", b"FAT12   ", b"FAT     "]
            .iter()
            .any(|m| magic(s, 0x36, m));
    let jump = matches!(s[0], 0xeb | 0xe9);
    if !named {
        // Magic-less FAT (old floppies): a jump, 55 AA, and not the pseudo-BPB of JFS or HPFS.
        if !jump || s[510] != 0x55 || s[511] != 0xaa {
            return None;
        }
        if magic(s, 0x36, b"JFS     ") || magic(s, 0x36, b"HPFS    ") {
            return None;
        }
    }
    let fats = u64::from(s[16]);
    let reserved = u64::from(le::u16(s, 14));
    let media = s[21];
    let spc = u64::from(s[13]);
    let bps = u64::from(le::u16(s, 11));
    if fats == 0 || reserved == 0 || !(media == 0xf0 || media >= 0xf8) {
        return None;
    }
    if !spc.is_power_of_two() || !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
        return None;
    }
    let root_entries = u64::from(le::u16(s, 17));
    let total = match le::u16(s, 19) {
        0 => u64::from(le::u32(s, 32)),
        n => u64::from(n),
    };
    let fat16_len = u64::from(le::u16(s, 22));
    let fat32_len = u64::from(le::u32(s, 36));
    let fat_len = if fat16_len != 0 { fat16_len } else { fat32_len };
    let fat32 = fat16_len == 0 && fat32_len != 0;
    let fat_sectors = fat_len * fats;
    let dir_sectors = (root_entries * 32).div_ceil(bps);
    let clusters = total.checked_sub(reserved + fat_sectors + dir_sectors)? / spc;
    let max = if fat32 {
        0x0fff_fff6
    } else if clusters > 0xff4 {
        0xfff4
    } else {
        0xff4
    };
    if clusters > max {
        return None;
    }
    Some(FatBpb {
        named,
        fat32,
        bytes_per_sector: bps,
        sectors_per_cluster: spc,
        reserved,
        fat_sectors,
        root_entries,
        clusters,
    })
}

/// The volume-label entry of a FAT directory block (attribute 0x08 without 0x10).
fn fat_dir_label(dir: &[u8]) -> Option<[u8; 11]> {
    for e in dir.chunks_exact(32) {
        if e[0] == 0 {
            break;
        }
        let cluster = le::u16(e, 20) != 0 || le::u16(e, 26) != 0;
        if e[0] == 0xe5 || cluster || e[11] & 0x3f == 0x0f {
            continue;
        }
        if e[11] & 0x18 == 0x08 {
            return e[..11].try_into().ok();
        }
    }
    None
}

pub(super) fn fat(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
    let Some(b) = fat_bpb(h) else { return Ok(None) };
    const NO_NAME: &[u8; 11] = b"NO NAME    ";
    let bps = b.bytes_per_sector;
    let (serial_at, label_at, version) = if b.fat32 {
        (67, 71, "FAT32")
    } else if b.clusters < 0xff4 {
        (39, 43, "FAT12")
    } else {
        (39, 43, "FAT16")
    };
    let (dir_offset, dir_len) = if b.fat32 {
        let root = u64::from(le::u32(h, 44)).max(2);
        let sector = b.reserved + b.fat_sectors + (root - 2) * b.sectors_per_cluster;
        (sector * bps, b.sectors_per_cluster * bps)
    } else {
        ((b.reserved + b.fat_sectors) * bps, b.root_entries * 32)
    };
    let dir = read_upto(v, dir_offset, dir_len.min(MAX_LABEL_BLOCK))?;
    let boot_label: Option<[u8; 11]> = field(h, label_at, 11).and_then(|l| l.try_into().ok());
    let label = fat_dir_label(&dir)
        .filter(|l| l != NO_NAME)
        .or(boot_label)
        .filter(|l| l != NO_NAME)
        .and_then(|l| padded_string(&l));
    Ok(Some(
        Probe::new(ProbeKind::Vfat)
            .uuid(Some(serial32(le::u32(h, serial_at))))
            .label(label)
            .version(version),
    ))
}
