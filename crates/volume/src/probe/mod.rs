//! What is on a volume, from its signatures, as blkid names it. Reads a few small blocks: the
//! first 8 KiB, then single blocks where a format keeps its superblock (64 KiB for Btrfs,
//! 32 KiB for ISO 9660, the end for md RAID), and for labels one directory block or MFT record.

use preflight_io::{ByteSource, IoError, read_vec};
use serde::{Deserialize, Serialize};

mod containers;
mod linux;
mod microsoft;
mod optical;

#[cfg(test)]
pub(crate) use containers::lvm_crc_for_tests;
use containers::{bitlocker, linux_raid, luks, lvm2};
use linux::{btrfs, ext, squashfs, swap, xfs};
pub(crate) use microsoft::boot_sector_fs;
use microsoft::{exfat, fat, ntfs};
use optical::iso9660;

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
    #[serde(rename = "bitlocker")]
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
