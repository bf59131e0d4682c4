//! Disk image containers: what format a file is, and the virtual disk inside it.
//!
//! [`open`] detects the format from magic numbers and returns the virtual disk as a
//! [`Source`](preflight_io::Source) plus the container facts the report needs (format,
//! virtual size, backing file, compression, encryption). Formats we recognise but cannot read
//! yet fail with [`ContainerError::Unsupported`], which names the format.

mod detect;
mod error;
mod info;
pub mod qcow2;

use std::sync::Arc;

use preflight_io::Source;

pub use detect::{Format, detect};
pub use error::ContainerError;
pub use info::{ContainerInfo, Qcow2Info};

/// An opened container: the virtual disk and what we learnt about its packaging.
pub struct Container {
    pub info: ContainerInfo,
    /// The guest-visible disk, `info.virtual_size` bytes long.
    pub disk: Source,
    /// For images whose unallocated clusters belong to a backing file we do not have: how many
    /// bytes the layers above asked for from such clusters (they were read as zeros).
    pub missing_backing_bytes: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// A disk holds at least one 512-byte sector; anything smaller is not a disk image.
const MIN_DISK: u64 = 512;

/// Open the container in `file` and expose its virtual disk.
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let format = detect(&*file)?;
    if format == Format::Raw && file.len() < MIN_DISK {
        return Err(ContainerError::TooSmall { size: file.len() });
    }
    match format {
        Format::Raw => Ok(Container {
            info: ContainerInfo {
                format,
                virtual_size: file.len(),
                file_size: file.len(),
                qcow2: None,
                warnings: Vec::new(),
            },
            disk: file,
            missing_backing_bytes: None,
        }),
        Format::Qcow2 => {
            let image = qcow2::Qcow2::open(Arc::clone(&file))?;
            let info = ContainerInfo {
                format,
                virtual_size: image.virtual_size(),
                file_size: file.len(),
                warnings: image.warnings().to_vec(),
                qcow2: Some(image.info().clone()),
            };
            let missing = image
                .info()
                .backing_file
                .as_ref()
                .map(|_| image.missing_backing_counter());
            Ok(Container {
                info,
                disk: Arc::new(image),
                missing_backing_bytes: missing,
            })
        }
        other => Err(ContainerError::Unsupported {
            format: other,
            message: other.not_supported_message().to_string(),
        }),
    }
}
