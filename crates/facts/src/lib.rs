//! Facts about the guest, parsed from its files.
//!
//! Gatherers see the guest only through [`Files`]: guest paths, symlinks already resolved
//! inside the guest by the layer below. Every fact carries where it came from ([`Provenance`])
//! so a finding can cite the file and line. Nothing here reads the disk or knows about
//! containers, partitions or file systems.

pub mod arch;
pub mod boot;
pub mod boot_chain;
pub mod cloud_init;
pub mod efi;
pub mod files;
pub mod hardening;
pub mod hygiene;
pub mod initramfs;
pub mod kernel_image;
pub mod kernels;
pub mod network;
pub mod oci_platform;
pub mod os;
pub mod packages;
pub mod provenance;
pub mod ssh_keys;
pub mod sshd;
pub mod systemd;
pub mod updates;
pub mod users;
pub mod yaml;

pub use files::{EntryKind, FileError, Files, ListEntry, MemFiles};
pub use provenance::Provenance;
