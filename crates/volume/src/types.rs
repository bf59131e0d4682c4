use std::sync::Arc;

use preflight_io::{Slice, Source};
use serde::{Deserialize, Serialize};

/// Which kind of partition table a disk carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// DOS / MBR partition table (with its chain of extended boot records).
    Mbr,
    /// GUID partition table (UEFI spec chapter 5).
    Gpt,
    /// No partition table: the whole disk is one volume (a file system written at sector 0).
    None,
}

/// What sector 0 holds before the partition entries: firmware decisions (BIOS boot) use it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MbrBootCode {
    /// Bytes 0..440 of sector 0 are not all zero: a BIOS would have code to run.
    pub present: bool,
    /// The string "GRUB" appears in sector 0 (GRUB's boot.img prints it in its error messages).
    pub grub: bool,
}

/// Which GPT header the partitions were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GptHeaderUsed {
    Primary,
    Backup,
}

/// Facts from the GPT header that was used, for rules about disk layout (a backup header left
/// behind by a resize, free space after the last usable LBA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GptInfo {
    pub header_used: GptHeaderUsed,
    /// The primary header and its entry array passed every check.
    pub primary_valid: bool,
    /// The backup header and its entry array passed every check.
    pub backup_valid: bool,
    /// Where the backup header was looked for (the primary's alternate LBA, or the disk's last
    /// LBA when the primary is unusable).
    pub backup_lba: u64,
    /// The last LBA of the disk (from its length).
    pub disk_last_lba: u64,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub entry_count: u32,
    pub entry_size: u32,
}

/// A disk's partition table, as far as it could be read, with every oddity found on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTable {
    pub scheme: Scheme,
    /// Logical sector size in bytes (512, or 4096 when the GPT header is found at 4096).
    pub sector_size: u32,
    /// As blkid prints PTUUID: the MBR disk signature as 8 lowercase hex digits, or the GPT
    /// disk GUID. `None` for no table or a zero MBR signature.
    pub disk_id: Option<String>,
    /// Partitions in table order. MBR: primaries 1–4 (extended containers included, as sfdisk
    /// lists them), then logical partitions 5, 6, … . Empty for [`Scheme::None`].
    pub partitions: Vec<Partition>,
    /// Sector 0's boot code (MBR and GPT; the protective MBR of a BIOS-bootable GPT disk holds
    /// it too). All false for [`Scheme::None`].
    pub mbr_boot_code: MbrBootCode,
    /// GPT header facts; `None` unless the scheme is GPT.
    pub gpt: Option<GptInfo>,
    /// Warnings: what was wrong and where (offsets in bytes from the start of the disk).
    pub diagnostics: Vec<String>,
}

/// One partition. Offsets and sizes are in bytes from the start of the disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// As Linux numbers it: GPT entry index + 1; MBR slot 1–4, logical partitions from 5.
    pub number: u32,
    pub start: u64,
    pub size: u64,
    /// MBR: "0x83"; GPT: the type GUID in lowercase canonical form.
    pub type_id: String,
    /// Human name of the type when known ("Linux filesystem", "EFI System", …).
    pub type_name: Option<String>,
    /// GPT: the unique partition GUID. MBR: the PARTUUID Linux derives from the disk signature,
    /// `<signature>-<2-digit number>` (none when the signature is zero).
    pub uuid: Option<String>,
    /// GPT partition name (the label sgdisk -c sets); `None` when empty or MBR.
    pub name: Option<String>,
    /// MBR: the active flag (0x80). GPT: attribute bit 2, "legacy BIOS bootable".
    pub bootable: bool,
    /// GPT attribute bits (bit 0 platform-required, bit 1 no block IO protocol, bit 2 legacy
    /// BIOS bootable, bits 48–63 type specific); the MBR status byte for MBR partitions.
    pub attributes: u64,
}

impl Partition {
    /// The partition's bytes as a source: a [`Slice`] of the disk (clamped to the disk's end if
    /// the table claims more than the disk holds).
    pub fn source(&self, disk: &Source) -> Source {
        Arc::new(Slice::new(Arc::clone(disk), self.start, self.size))
    }

    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }

    /// An MBR extended partition (types 0x05, 0x0F, 0x85): a container of logical partitions,
    /// not a volume.
    pub fn is_extended(&self) -> bool {
        matches!(self.type_id.as_str(), "0x05" | "0x0f" | "0x85")
    }
}
