//! Disk image containers: what format a file is, and the virtual disk inside it.
//!
//! [`open`] detects the format from magic numbers and returns the virtual disk as a
//! [`Source`](preflight_io::Source) plus the container facts the report needs (format,
//! subformat, virtual size, parent, compression, encryption, archive metadata). Formats we
//! recognise but cannot read fail with [`ContainerError::Unsupported`], which names the format.
//!
//! One module per format, each with an `open(file, options) -> Result<Container, _>`:
//! `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`, and `archive` (tar `.oci`/OVA, tar.gz `.oci`), which
//! finds the disk member and opens it with [`open_with`] again.

pub mod archive;
mod detect;
mod error;
mod info;
mod lru;
pub mod qcow2;
pub mod vdi;
pub mod vhd;
pub mod vhdx;
pub mod vmdk;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use preflight_io::Source;

pub use detect::{Format, detect};
pub use error::ContainerError;
pub use info::{
    ArchiveInfo, ArchiveKind, ArchiveMember, ContainerInfo, DigestCheck, OciMetadata, OvfInfo,
    Qcow2Info, SnapshotInfo,
};

/// An opened container: the virtual disk and what we learnt about its packaging.
pub struct Container {
    pub info: ContainerInfo,
    /// The guest-visible disk, `info.virtual_size` bytes long.
    pub disk: Source,
    /// For images part of whose data lives in files we do not have (a QCOW2 backing file, a
    /// VMDK parent or other extents): how many bytes the layers above asked for from such
    /// regions (they were read as zeros).
    pub missing_backing_bytes: Option<Arc<AtomicU64>>,
}

/// Progress of a pass over the whole file: what is being done, bytes done, bytes in all.
pub type Progress<'a> = &'a dyn Fn(&str, u64, u64);

/// How to open: what may be slow is asked for explicitly.
#[derive(Default, Clone, Copy)]
pub struct OpenOptions<'a> {
    /// Check an OVA manifest's digests against its members (reads every member in full).
    pub verify_manifest: bool,
    /// Called during passes over the whole file (indexing a tar.gz, checking digests) with
    /// what is being done, bytes done and bytes in all.
    pub progress: Option<Progress<'a>>,
}

/// A disk holds at least one 512-byte sector; anything smaller is not a disk image.
const MIN_DISK: u64 = 512;

/// Open the container in `file` and expose its virtual disk.
pub fn open(file: Source) -> Result<Container, ContainerError> {
    open_with(file, &OpenOptions::default())
}

/// [`open`] with options.
pub fn open_with(file: Source, options: &OpenOptions<'_>) -> Result<Container, ContainerError> {
    let format = detect(&*file)?;
    if format == Format::Raw && file.len() < MIN_DISK {
        return Err(ContainerError::TooSmall { size: file.len() });
    }
    match format {
        Format::Raw => Ok(Container {
            info: ContainerInfo::plain(format, file.len(), file.len()),
            disk: file,
            missing_backing_bytes: None,
        }),
        Format::Qcow2 => qcow2::open(file),
        Format::Vmdk => vmdk::open(file),
        Format::Vhd => vhd::open(file),
        Format::Vhdx => vhdx::open(file),
        Format::Vdi => vdi::open(file),
        Format::Tar | Format::Gzip => archive::open(file, format, options),
        other => Err(ContainerError::Unsupported {
            format: other,
            message: other.not_supported_message().to_string(),
        }),
    }
}
