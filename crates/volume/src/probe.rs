//! What is on a volume, from its signatures, as blkid names it. Reads a few small blocks: the
//! first 8 KiB, then single blocks where a format keeps its superblock (64 KiB for Btrfs,
//! 32 KiB for ISO 9660, the end for md RAID), and for labels one directory block or MFT record.

use preflight_io::{ByteSource, IoError, be, le, read_vec};
use serde::{Deserialize, Serialize};

use crate::text::{c_string, padded_string, utf16, uuid_bytes};

/// Bytes read from the start of every volume.
const HEAD: u64 = 8192;
/// Largest extra block read for a label (root directory, MFT record).
const MAX_LABEL_BLOCK: u64 = 16384;

/// What kind of content a volume holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    Ext2,
    Ext3,
    Ext4,
    /// An external ext3/ext4 journal device.
    Jbd,
    Xfs,
    Btrfs,
    /// FAT12, FAT16 or FAT32 (the version says which).
    Vfat,
    Exfat,
    Ntfs,
    Swap,
    /// A swap area holding a hibernation image.
    SwapSuspend,
    Lvm2Member,
    Luks,
    BitLocker,
    Iso9660,
    LinuxRaidMember,
    Squashfs,
    Unknown,
}

impl ProbeKind {
    /// The TYPE blkid prints.
    pub fn blkid_name(self) -> &'static str {
        match self {
            ProbeKind::Ext2 => "ext2",
            ProbeKind::Ext3 => "ext3",
            ProbeKind::Ext4 => "ext4",
            ProbeKind::Jbd => "jbd",
            ProbeKind::Xfs => "xfs",
            ProbeKind::Btrfs => "btrfs",
            ProbeKind::Vfat => "vfat",
            ProbeKind::Exfat => "exfat",
            ProbeKind::Ntfs => "ntfs",
            ProbeKind::Swap => "swap",
            ProbeKind::SwapSuspend => "swsuspend",
            ProbeKind::Lvm2Member => "LVM2_member",
            ProbeKind::Luks => "crypto_LUKS",
            ProbeKind::BitLocker => "BitLocker",
            ProbeKind::Iso9660 => "iso9660",
            ProbeKind::LinuxRaidMember => "linux_raid_member",
            ProbeKind::Squashfs => "squashfs",
            ProbeKind::Unknown => "",
        }
    }

    /// A file system one can read files from (as opposed to swap, a container or encryption).
    pub fn is_filesystem(self) -> bool {
        matches!(
            self,
            ProbeKind::Ext2
                | ProbeKind::Ext3
                | ProbeKind::Ext4
                | ProbeKind::Xfs
                | ProbeKind::Btrfs
                | ProbeKind::Vfat
                | ProbeKind::Exfat
                | ProbeKind::Ntfs
                | ProbeKind::Iso9660
                | ProbeKind::Squashfs
        )
    }
}

/// What [`probe`] found on a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub kind: ProbeKind,
    /// blkid's TYPE: "ext4", "xfs", "vfat", "swap", "LVM2_member", "crypto_LUKS", …; empty
    /// for [`Probe::UNKNOWN`].
    pub name: String,
    /// blkid's UUID, formatted as blkid prints it (lowercase 8-4-4-4-12 for 16-byte UUIDs,
    /// "ABCD-1234" for FAT/exFAT serials, 16 hex digits for NTFS, LVM's 6-4-4-4-4-4-6).
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// blkid's VERSION ("1.0" for ext, "FAT32", "2" for LUKS2, "1.2" for md, …).
    pub version: Option<String>,
    /// The content is encrypted (LUKS, BitLocker): nothing inside can be read.
    pub encrypted: bool,
}

impl Probe {
    /// Nothing recognised.
    pub const UNKNOWN: Probe = Probe {
        kind: ProbeKind::Unknown,
        name: String::new(),
        uuid: None,
        label: None,
        version: None,
        encrypted: false,
    };

    pub fn is_known(&self) -> bool {
        self.kind != ProbeKind::Unknown
    }

    fn new(kind: ProbeKind) -> Probe {
        Probe {
            kind,
            name: kind.blkid_name().to_string(),
            uuid: None,
            label: None,
            version: None,
            encrypted: matches!(kind, ProbeKind::Luks | ProbeKind::BitLocker),
        }
    }

    fn uuid(mut self, uuid: Option<String>) -> Probe {
        self.uuid = uuid;
        self
    }

    fn label(mut self, label: Option<String>) -> Probe {
        self.label = label;
        self
    }

    fn version(mut self, version: impl Into<String>) -> Probe {
        self.version = Some(version.into());
        self
    }
}

type Check = fn(&dyn ByteSource, &[u8]) -> Result<Option<Probe>, IoError>;

/// Identify what is on a volume. Containers that hide a file system (md RAID with metadata at
/// the end, LUKS, LVM) are checked before file systems, as blkid does. Reads past the end of a
/// small volume are not errors (the format just does not match); I/O errors are.
pub fn probe(volume: &dyn ByteSource) -> Result<Probe, IoError> {
    let head = read_upto(volume, 0, HEAD)?;
    const CHECKS: [Check; 14] = [
        linux_raid,
        |_, h| Ok(luks(h)),
        |_, h| Ok(bitlocker(h)),
        |_, h| Ok(lvm2(h)),
        |_, h| Ok(xfs(h)),
        |_, h| Ok(ext(h)),
        |_, h| Ok(squashfs(h)),
        |v, h| swap(v, h, &[4096, 8192]),
        ntfs,
        exfat,
        fat,
        btrfs,
        iso9660,
        |v, h| swap(v, h, &[16384, 32768, 65536]),
    ];
    for check in CHECKS {
        if let Some(p) = check(volume, &head)? {
            return Ok(p);
        }
    }
    Ok(Probe::UNKNOWN)
}

/// Up to `max` bytes at `offset` (fewer at the end of the volume, none past it).
fn read_upto(v: &dyn ByteSource, offset: u64, max: u64) -> Result<Vec<u8>, IoError> {
    let n = v.len().saturating_sub(offset).min(max);
    if n == 0 {
        return Ok(Vec::new());
    }
    read_vec(v, offset, n, max)
}

/// Exactly `len` bytes at `offset`, or `None` when the volume is too small.
fn read_exact(v: &dyn ByteSource, offset: u64, len: u64) -> Result<Option<Vec<u8>>, IoError> {
    match offset.checked_add(len) {
        Some(end) if end <= v.len() => read_vec(v, offset, len, len).map(Some),
        _ => Ok(None),
    }
}

fn field(b: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    b.get(at..at.checked_add(len)?)
}

fn magic(b: &[u8], at: usize, m: &[u8]) -> bool {
    field(b, at, m.len()) == Some(m)
}

/// "ABCD-1234" as blkid prints FAT and exFAT serial numbers.
fn serial32(serial: u32) -> String {
    format!("{:04X}-{:04X}", serial >> 16, serial & 0xffff)
}

// ---- containers and encryption ------------------------------------------------------------

fn md_v1(sb: &[u8], offset: u64, version: &str) -> Option<Probe> {
    if le::u32(sb, 0) != 0xa92b_4efc || le::u32(sb, 4) != 1 {
        return None;
    }
    // super_offset: where the superblock says it is, in 512-byte sectors.
    if le::u64(sb, 144) != offset / 512 {
        return None;
    }
    Some(
        Probe::new(ProbeKind::LinuxRaidMember)
            .uuid(field(sb, 16, 16).and_then(uuid_bytes))
            .label(field(sb, 32, 32).and_then(c_string))
            .version(version),
    )
}

fn linux_raid(v: &dyn ByteSource, head: &[u8]) -> Result<Option<Probe>, IoError> {
    // Metadata 1.2 at 4 KiB, 1.1 at 0.
    for (at, version) in [(4096usize, "1.2"), (0, "1.1")] {
        if let Some(p) = field(head, at, 256).and_then(|sb| md_v1(sb, at as u64, version)) {
            return Ok(Some(p));
        }
    }
    let len = v.len();
    // Metadata 1.0: 8 KiB before the end, 4 KiB aligned.
    if len >= 3 * 4096 {
        let at = (len - 8192) & !4095;
        if let Some(p) = read_exact(v, at, 256)?.and_then(|sb| md_v1(&sb, at, "1.0")) {
            return Ok(Some(p));
        }
    }
    // Metadata 0.90: the last 64 KiB-aligned 64 KiB block.
    if len >= 2 * 65536 {
        let at = (len & !0xffff) - 0x10000;
        if let Some(sb) = read_exact(v, at, 64)?
            && le::u32(&sb, 0) == 0xa92b_4efc
            && le::u32(&sb, 4) == 0
        {
            let mut uuid = [0u8; 16];
            uuid[..4].copy_from_slice(&sb[20..24]);
            uuid[4..].copy_from_slice(&sb[52..64]);
            let version = format!(
                "{}.{}.{}",
                le::u32(&sb, 4),
                le::u32(&sb, 8),
                le::u32(&sb, 12)
            );
            return Ok(Some(
                Probe::new(ProbeKind::LinuxRaidMember)
                    .uuid(uuid_bytes(&uuid))
                    .version(version),
            ));
        }
    }
    Ok(None)
}

fn luks(h: &[u8]) -> Option<Probe> {
    if !magic(h, 0, b"LUKS\xba\xbe") {
        return None;
    }
    let version = be::u16(h, 6);
    let mut p = Probe::new(ProbeKind::Luks)
        .uuid(field(h, 168, 40).and_then(c_string))
        .version(version.to_string());
    if version == 2 {
        p = p.label(field(h, 24, 48).and_then(c_string));
    }
    Some(p)
}

fn bitlocker(h: &[u8]) -> Option<Probe> {
    magic(h, 3, b"-FVE-FS-").then(|| Probe::new(ProbeKind::BitLocker))
}

/// LVM2's label CRC: CRC-32 (reflected 0xEDB88320) seeded with 0xf597a6cf, no final inversion.
fn lvm_crc(data: &[u8]) -> u32 {
    const TABLE: [u32; 16] = [
        0x0000_0000,
        0x1db7_1064,
        0x3b6e_20c8,
        0x26d9_30ac,
        0x76dc_4190,
        0x6b6b_51f4,
        0x4db2_6158,
        0x5005_713c,
        0xedb8_8320,
        0xf00f_9344,
        0xd6d6_a3e8,
        0xcb61_b38c,
        0x9b64_c2b0,
        0x86d3_d2d4,
        0xa00a_e278,
        0xbdbd_f21c,
    ];
    let mut crc = 0xf597_a6cf_u32;
    for &b in data {
        crc ^= u32::from(b);
        crc = (crc >> 4) ^ TABLE[(crc & 0xf) as usize];
        crc = (crc >> 4) ^ TABLE[(crc & 0xf) as usize];
    }
    crc
}

#[cfg(test)]
pub(crate) fn lvm_crc_for_tests(data: &[u8]) -> u32 {
    lvm_crc(data)
}

fn lvm2(h: &[u8]) -> Option<Probe> {
    for sector in 0..4usize {
        let Some(s) = field(h, sector * 512, 512) else {
            break;
        };
        if !magic(s, 0, b"LABELONE") || !magic(s, 24, b"LVM2 001") {
            continue;
        }
        if le::u64(s, 8) != sector as u64 || lvm_crc(&s[20..]) != le::u32(s, 16) {
            continue;
        }
        let pv = le::u32(s, 20) as usize;
        let uuid = field(s, pv, 32).map(|id| {
            let id = String::from_utf8_lossy(id);
            let mut out = String::with_capacity(38);
            for (i, c) in id.chars().enumerate() {
                if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
                    out.push('-');
                }
                out.push(c);
            }
            out
        });
        return Some(
            Probe::new(ProbeKind::Lvm2Member)
                .uuid(uuid)
                .version("LVM2 001"),
        );
    }
    None
}

// ---- Linux file systems -------------------------------------------------------------------

fn xfs(h: &[u8]) -> Option<Probe> {
    if !magic(h, 0, b"XFSB") {
        return None;
    }
    let block = be::u32(h, 4);
    let sector = be::u16(h, 102);
    if !(512..=65536).contains(&block) || !block.is_power_of_two() {
        return None;
    }
    if !(512..=32768).contains(&sector) || !sector.is_power_of_two() {
        return None;
    }
    Some(
        Probe::new(ProbeKind::Xfs)
            .uuid(field(h, 32, 16).and_then(uuid_bytes))
            .label(field(h, 108, 12).and_then(c_string)),
    )
}

fn ext(h: &[u8]) -> Option<Probe> {
    let sb = field(h, 1024, 1024)?;
    if le::u16(sb, 56) != 0xef53 {
        return None;
    }
    const HAS_JOURNAL: u32 = 0x4;
    const INCOMPAT_FILETYPE: u32 = 0x2;
    const INCOMPAT_RECOVER: u32 = 0x4;
    const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
    const INCOMPAT_META_BG: u32 = 0x10;
    // sparse_super, large_file, btree_dir: what ext2 and ext3 drivers accept read-write.
    const RO_COMPAT_OLD: u32 = 0x1 | 0x2 | 0x4;
    let compat = le::u32(sb, 92);
    let incompat = le::u32(sb, 96);
    let ro_compat = le::u32(sb, 100);
    let journal = compat & HAS_JOURNAL != 0;
    let kind = if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        ProbeKind::Jbd
    } else if !journal
        && incompat & !(INCOMPAT_FILETYPE | INCOMPAT_META_BG) == 0
        && ro_compat & !RO_COMPAT_OLD == 0
    {
        ProbeKind::Ext2
    } else if journal
        && incompat & !(INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG) == 0
        && ro_compat & !RO_COMPAT_OLD == 0
    {
        ProbeKind::Ext3
    } else {
        // extents, 64bit, flex_bg, huge_file, dir_nlink, extra_isize, metadata_csum, …
        ProbeKind::Ext4
    };
    Some(
        Probe::new(kind)
            .uuid(field(sb, 104, 16).and_then(uuid_bytes))
            .label(field(sb, 120, 16).and_then(c_string))
            .version(format!("{}.{}", le::u32(sb, 76), le::u16(sb, 62))),
    )
}

fn btrfs(v: &dyn ByteSource, _: &[u8]) -> Result<Option<Probe>, IoError> {
    let Some(sb) = read_exact(v, 65536, 1024)? else {
        return Ok(None);
    };
    if !magic(&sb, 64, b"_BHRfS_M") {
        return Ok(None);
    }
    Ok(Some(
        Probe::new(ProbeKind::Btrfs)
            .uuid(field(&sb, 32, 16).and_then(uuid_bytes))
            .label(field(&sb, 299, 256).and_then(c_string)),
    ))
}

fn squashfs(h: &[u8]) -> Option<Probe> {
    magic(h, 0, b"hsqs").then(|| {
        Probe::new(ProbeKind::Squashfs).version(format!("{}.{}", le::u16(h, 28), le::u16(h, 30)))
    })
}

fn swap(v: &dyn ByteSource, h: &[u8], pages: &[u64]) -> Result<Option<Probe>, IoError> {
    for &page in pages {
        let at = page - 10;
        let sig = match field(h, at as usize, 10) {
            Some(s) => s.to_vec(),
            None => match read_exact(v, at, 10)? {
                Some(s) => s,
                None => continue,
            },
        };
        if sig == b"SWAP-SPACE" {
            return Ok(Some(Probe::new(ProbeKind::Swap).version("0")));
        }
        let suspend = [&b"S1SUSPEND"[..], b"S2SUSPEND", b"ULSUSPEND", b"LINHIB0001"]
            .iter()
            .any(|m| sig.starts_with(m))
            || sig.starts_with(b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c");
        if sig != b"SWAPSPACE2" && !suspend {
            continue;
        }
        // The v1 header after the 1 KiB boot block: version, last page, bad pages, UUID, label.
        let version = le::u32(h, 1024);
        if !suspend && version != 1 && version.swap_bytes() != 1 {
            continue;
        }
        let kind = if suspend {
            ProbeKind::SwapSuspend
        } else {
            ProbeKind::Swap
        };
        return Ok(Some(
            Probe::new(kind)
                .uuid(field(h, 1036, 16).and_then(uuid_bytes))
                .label(field(h, 1052, 16).and_then(c_string))
                .version("1"),
        ));
    }
    Ok(None)
}

// ---- Microsoft file systems ---------------------------------------------------------------

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

fn ntfs(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
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

fn exfat(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
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

fn fat(v: &dyn ByteSource, h: &[u8]) -> Result<Option<Probe>, IoError> {
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

// ---- optical ------------------------------------------------------------------------------

fn iso9660(v: &dyn ByteSource, _: &[u8]) -> Result<Option<Probe>, IoError> {
    let Some(pvd) = read_exact(v, 32768, 2048)? else {
        return Ok(None);
    };
    if !magic(&pvd, 1, b"CD001") {
        return Ok(None);
    }
    // blkid makes a UUID of the modification date, else the creation date.
    let date_uuid = |at: usize| {
        let d = field(&pvd, at, 17)?;
        if d[..16].iter().all(|&c| c == b'0') && d[16] == 0 {
            return None;
        }
        // One byte per char, so the byte ranges below are char boundaries.
        let c: String = d[..16]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        Some(format!(
            "{}-{}-{}-{}-{}-{}-{}",
            &c[0..4],
            &c[4..6],
            &c[6..8],
            &c[8..10],
            &c[10..12],
            &c[12..14],
            &c[14..16]
        ))
    };
    let uuid = date_uuid(830).or_else(|| date_uuid(813));
    let mut p = Probe::new(ProbeKind::Iso9660)
        .uuid(uuid)
        .label(field(&pvd, 40, 32).and_then(padded_string));
    // A Joliet supplementary descriptor among the next 16: its UTF-16 label wins unless it
    // says the same as the primary's (which it may have cut short).
    let more = read_upto(v, 32768 + 2048, 16 * 2048)?;
    for vd in more.chunks_exact(2048) {
        if vd[0] == 0xff || !magic(vd, 1, b"CD001") {
            break;
        }
        let joliet = [&b"%/@"[..], b"%/C", b"%/E"]
            .iter()
            .any(|m| magic(vd, 88, m));
        if vd[0] != 2 || !joliet {
            continue;
        }
        p.version = Some("Joliet Extension".to_string());
        let primary = &pvd[40..72];
        let same = vd[40..72]
            .chunks_exact(2)
            .zip(primary)
            .all(|(u, &a)| u[0] == 0 && u[1] == a);
        if !same {
            p.label = utf16(&vd[40..72], true).map(|l| l.trim_end().to_string());
        }
        break;
    }
    Ok(Some(p))
}
