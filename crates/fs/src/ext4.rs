//! ext2/3/4 through the `ext4-view` crate, behind our [`FileSystem`] interface.

use ext4_view::{Ext4, Ext4Error, Ext4Read};
use preflight_io::{IoError, Source};

use crate::{DirEntry, FileSystem, FileType, FsError, MAX_DIR_ENTRIES, Metadata};

struct Reader(Source);

impl Ext4Read for Reader {
    fn read(
        &mut self,
        start: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.0.read_at(start, dst).map_err(|e| Box::new(e) as _)
    }
}

pub struct Ext4Fs {
    fs: Ext4,
}

impl Ext4Fs {
    pub fn open(volume: Source) -> Result<Ext4Fs, FsError> {
        let fs = Ext4::load(Box::new(Reader(volume))).map_err(|e| map_err("/", e))?;
        Ok(Ext4Fs { fs })
    }
}

fn map_err(path: &str, e: Ext4Error) -> FsError {
    let path = path.to_string();
    match e {
        Ext4Error::NotFound => FsError::NotFound(path),
        Ext4Error::NotADirectory => FsError::NotADirectory(path),
        Ext4Error::IsADirectory | Ext4Error::IsASpecialFile => FsError::NotAFile(path),
        Ext4Error::NotASymlink => FsError::NotASymlink(path),
        Ext4Error::Io(inner) => match inner.downcast::<IoError>() {
            Ok(io) => FsError::Io { path, source: *io },
            Err(other) => FsError::Corrupt {
                path,
                message: other.to_string(),
            },
        },
        Ext4Error::Incompatible(i) => FsError::Unsupported {
            path,
            message: format!("ext4 feature: {i}"),
        },
        Ext4Error::Encrypted => FsError::Unsupported {
            path,
            message: "file is encrypted (fscrypt)".into(),
        },
        other => FsError::Corrupt {
            path,
            message: other.to_string(),
        },
    }
}

fn file_type(t: ext4_view::FileType) -> FileType {
    use ext4_view::FileType as T;
    match t {
        T::Regular => FileType::Regular,
        T::Directory => FileType::Directory,
        T::Symlink => FileType::Symlink,
        T::CharacterDevice => FileType::CharDevice,
        T::BlockDevice => FileType::BlockDevice,
        T::Fifo => FileType::Fifo,
        T::Socket => FileType::Socket,
    }
}

impl FileSystem for Ext4Fs {
    fn kind(&self) -> &'static str {
        "ext4"
    }

    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        let m = self
            .fs
            .symlink_metadata(path)
            .map_err(|e| map_err(path, e))?;
        Ok(Metadata {
            file_type: file_type(m.file_type()),
            size: m.len(),
            mode: u32::from(m.mode()) & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            mtime: Some(m.modified().seconds()),
        })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let mut out = Vec::new();
        for entry in self.fs.read_dir(path).map_err(|e| map_err(path, e))? {
            let entry = entry.map_err(|e| map_err(path, e))?;
            let name = entry.file_name();
            let name = match name.as_str() {
                Ok(s) => s.to_string(),
                Err(_) => String::from_utf8_lossy(name.as_ref()).into_owned(),
            };
            if name == "." || name == ".." {
                continue;
            }
            let ft = entry.file_type().map_err(|e| map_err(path, e))?;
            out.push(DirEntry {
                name,
                file_type: file_type(ft),
            });
            if out.len() > MAX_DIR_ENTRIES {
                return Err(FsError::Corrupt {
                    path: path.into(),
                    message: format!("more than {MAX_DIR_ENTRIES} entries"),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        let target = self.fs.read_link(path).map_err(|e| map_err(path, e))?;
        Ok(String::from_utf8_lossy(target.as_ref()).into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let mut file = self.fs.open(path).map_err(|e| map_err(path, e))?;
        if offset >= file.metadata().len() {
            return Ok(0);
        }
        file.seek_to(offset).map_err(|e| map_err(path, e))?;
        let mut filled = 0;
        while filled < buf.len() {
            let n = file
                .read_bytes(&mut buf[filled..])
                .map_err(|e| map_err(path, e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }
}
