//! One read-only interface for every file system Preflight reads, and its implementations.
//!
//! The interface never follows symlinks by itself: paths given to it contain no symlink except
//! possibly the last component, because symlinks must be resolved against the *guest's* root
//! (a link `/etc/os-release -> ../usr/lib/os-release` on one volume can point into another
//! volume mounted at `/usr`). The guest layer does that resolution.

pub mod btrfs;
mod error;
mod ext4;
pub mod fat;
mod mem;
pub mod xfs;

pub use btrfs::{BtrfsFs, SubvolSelector, Subvolume};
pub use error::FsError;
pub use ext4::Ext4Fs;
pub use fat::FatFs;
pub use mem::MemFs;
pub use xfs::XfsFs;

/// More directory entries than this in one directory is treated as hostile.
pub const MAX_DIR_ENTRIES: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub file_type: FileType,
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub file_type: FileType,
}

/// A mounted-in-spirit file system. Paths are absolute within the file system (`/` is its
/// root), UTF-8, `/`-separated, without `.`/`..` and without symlinks before the last component.
pub trait FileSystem {
    /// A short type name as blkid prints it ("ext4", "xfs", …).
    fn kind(&self) -> &'static str;

    /// Metadata of `path` itself (a symlink is described, not followed).
    fn lstat(&self, path: &str) -> Result<Metadata, FsError>;

    /// Entries of a directory, without `.` and `..`, sorted by name.
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError>;

    /// Target of a symlink, as stored.
    fn read_link(&self, path: &str) -> Result<String, FsError>;

    /// Read from a regular file at `offset`; returns the number of bytes read (0 at the end).
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError>;

    /// Another subvolume of the same file system (Btrfs `subvol=`/`subvolid=` mount options);
    /// `None` for file systems without subvolumes.
    fn subvolume(
        &self,
        _selector: &btrfs::SubvolSelector,
    ) -> Option<Result<std::sync::Arc<dyn FileSystem>, FsError>> {
        None
    }

    /// The whole regular file; files larger than `max` are an error, not truncated.
    fn read_file(&self, path: &str, max: u64) -> Result<Vec<u8>, FsError> {
        let meta = self.lstat(path)?;
        if meta.file_type != FileType::Regular {
            return Err(FsError::NotAFile(path.to_string()));
        }
        if meta.size > max {
            return Err(FsError::TooLarge {
                path: path.to_string(),
                size: meta.size,
                max,
            });
        }
        let mut out = vec![0u8; meta.size as usize];
        let mut filled = 0;
        while filled < out.len() {
            let n = self.read_at(path, filled as u64, &mut out[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        out.truncate(filled);
        Ok(out)
    }
}
