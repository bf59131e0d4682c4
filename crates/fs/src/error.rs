use preflight_io::IoError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FsError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{0}: not a regular file")]
    NotAFile(String),
    #[error("{0}: not a symbolic link")]
    NotASymlink(String),
    #[error("{path}: {size} bytes, more than the {max} accepted")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path}: file system is corrupt: {message}")]
    Corrupt { path: String, message: String },
    #[error("{path}: not supported: {message}")]
    Unsupported { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: IoError,
    },
}

impl FsError {
    /// True when the path simply does not exist (as opposed to a read failure).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound(_) | FsError::NotADirectory(_))
    }
}
