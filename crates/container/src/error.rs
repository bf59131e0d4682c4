use preflight_io::IoError;
use thiserror::Error;

use crate::Format;

#[derive(Debug, Error)]
pub enum ContainerError {
    /// A format we recognise and cannot read (yet, or by design).
    #[error("{message}")]
    Unsupported { format: Format, message: String },

    /// The container's own structures are broken.
    #[error("{format} image is corrupt: {message} (at offset {offset})")]
    Corrupt {
        format: Format,
        offset: u64,
        message: String,
    },

    #[error(
        "the file is {size} bytes: too small to be a disk image (not even one 512-byte sector)"
    )]
    TooSmall { size: u64 },

    #[error(transparent)]
    Io(#[from] IoError),
}

impl ContainerError {
    pub(crate) fn corrupt(format: Format, offset: u64, message: impl Into<String>) -> Self {
        ContainerError::Corrupt {
            format,
            offset,
            message: message.into(),
        }
    }
}
