//! Placeholder until the XFS reader lands.

use preflight_io::Source;

use crate::{DirEntry, FileSystem, FsError, Metadata};

pub struct XfsFs {
    _source: Source,
}

impl XfsFs {
    pub fn open(_source: Source) -> Result<XfsFs, FsError> {
        Err(FsError::Unsupported {
            path: "/".into(),
            message: "XFS is not readable yet".into(),
        })
    }
}

impl FileSystem for XfsFs {
    fn kind(&self) -> &'static str {
        "xfs"
    }
    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        Err(FsError::NotFound(path.into()))
    }
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        Err(FsError::NotFound(path.into()))
    }
    fn read_link(&self, path: &str) -> Result<String, FsError> {
        Err(FsError::NotFound(path.into()))
    }
    fn read_at(&self, path: &str, _offset: u64, _buf: &mut [u8]) -> Result<usize, FsError> {
        Err(FsError::NotFound(path.into()))
    }
}
