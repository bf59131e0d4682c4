use thiserror::Error;

/// Why bytes could not be delivered. Every variant names the offset, so a report on a broken
/// image can say where it broke.
#[derive(Debug, Error)]
pub enum IoError {
    #[error("read of {len} bytes at offset {offset} goes past the end of the data ({size} bytes)")]
    OutOfBounds { offset: u64, len: u64, size: u64 },

    #[error("{len} bytes requested at offset {offset}, more than the {max} accepted")]
    TooLarge { offset: u64, len: u64, max: u64 },

    #[error("I/O error reading at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },

    /// A layer above the file (a container, a volume manager) found its own structures broken
    /// while translating a read.
    #[error("{layer}: {message} (at offset {offset})")]
    Corrupt {
        layer: &'static str,
        offset: u64,
        message: String,
    },

    /// A layer cannot deliver these bytes by design (data in an external file, encrypted data).
    #[error("{layer}: {message}")]
    Unavailable {
        layer: &'static str,
        message: String,
    },

    /// The host refused (a browser `Blob` read failed, for example).
    #[error("read failed at offset {offset}: {message}")]
    Host { offset: u64, message: String },
}

impl IoError {
    pub fn corrupt(layer: &'static str, offset: u64, message: impl Into<String>) -> Self {
        IoError::Corrupt {
            layer,
            offset,
            message: message.into(),
        }
    }
}
