//! Volumes: MBR and GPT partition tables, and file-system / volume signature probing.
//!
//! [`read_partitions`] turns a disk (a [`Source`](preflight_io::Source)) into a
//! [`PartitionTable`]: the scheme, the partitions (each one a byte source again through
//! [`Partition::source`]) and diagnostics for everything odd on the way — a damaged primary
//! GPT header, a backup left behind by a resize, an EBR loop. [`probe`] then says what each
//! volume holds, by signature, as blkid names it.
//!
//! Everything here reads untrusted bytes: counts are capped before allocating, chains have
//! cycle checks and limits, and no input makes it panic.

pub mod bios_boot;
mod error;
mod gpt;
mod luks;
pub mod lvm;
mod mbr;
mod names;
mod probe;
mod table;
mod text;
mod types;

#[cfg(test)]
mod tests;

pub use error::VolumeError;
pub use luks::{
    BitLockerInfo, LUKS2_MAX_HEADER, LuksInfo, LuksKeyslot, LuksSegment, bitlocker_info, luks_info,
};
pub use names::{gpt_type_name, mbr_type_name};
pub use probe::{Probe, ProbeKind, probe};
pub use table::read_partitions;
pub use types::{GptHeaderUsed, GptInfo, MbrBootCode, Partition, PartitionTable, Scheme};

/// Limits applied to what a partition table may declare.
pub mod limits {
    /// GPT partition entries accepted in one header.
    pub const GPT_MAX_ENTRIES: u32 = crate::gpt::MAX_ENTRIES;
    /// Largest GPT partition entry size accepted, in bytes.
    pub const GPT_MAX_ENTRY_SIZE: u32 = crate::gpt::MAX_ENTRY_SIZE;
    /// MBR logical partitions read at most.
    pub const MBR_MAX_LOGICAL: u32 = crate::mbr::MAX_LOGICAL;
}
