//! ext2/3/4 through the `ext4-view` crate, behind our [`FileSystem`] interface; file systems
//! with the `inline_data`, `large_dir` or `ea_inode` features (which ext4-view 1.0 refuses to
//! load) through our own small reader in [`inline`], which also takes over the inodes
//! ext4-view cannot decode (timestamps after 2038).

mod inline;

use ext4_view::{Ext4, Ext4Error, Ext4Read};
use std::sync::{Arc, OnceLock};

use preflight_io::{IoError, Source, le};

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
    inner: Inner,
    /// The volume, for the fallback reader.
    volume: Source,
    /// Our own reader, opened when ext4-view refuses an inode it cannot decode.
    fallback: OnceLock<Option<inline::InlineExt4>>,
}

enum Inner {
    View(Box<Ext4>),
    Inline(inline::InlineExt4),
}

impl Ext4Fs {
    pub fn open(volume: Source) -> Result<Ext4Fs, FsError> {
        // s_feature_incompat is at byte 0x60 of the superblock, which starts at byte 1024.
        let mut incompat = [0u8; 4];
        let has_inline = volume.len() >= 1024 + 0x64
            && volume.read_at(1024 + 0x60, &mut incompat).is_ok()
            && le::u32(&incompat, 0) & inline::OWN_READER_FEATURES != 0;
        let inner = if has_inline {
            Inner::Inline(inline::InlineExt4::open(Arc::clone(&volume))?)
        } else {
            let fs =
                Ext4::load(Box::new(Reader(Arc::clone(&volume)))).map_err(|e| map_err("/", e))?;
            Inner::View(Box::new(fs))
        };
        Ok(Ext4Fs {
            inner,
            volume,
            fallback: OnceLock::new(),
        })
    }

    /// ext4-view 1.0 refuses inodes whose timestamps have a negative 32-bit base (after
    /// 2038, before 1970), which the kernel reads fine: such calls go to our own reader.
    fn or_fallback<T>(
        &self,
        r: Result<T, FsError>,
        f: impl FnOnce(&inline::InlineExt4) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        match r {
            Err(FsError::Corrupt { path, message }) if message.contains("invalid timestamp") => {
                let own = self
                    .fallback
                    .get_or_init(|| inline::InlineExt4::open(Arc::clone(&self.volume)).ok());
                match own {
                    Some(own) => f(own),
                    None => Err(FsError::Corrupt { path, message }),
                }
            }
            other => other,
        }
    }

    /// True when the file system is read by our own reader (`inline_data`, `large_dir`,
    /// `ea_inode`: features ext4-view 1.0 refuses to load), not ext4-view.
    pub fn uses_inline_reader(&self) -> bool {
        matches!(self.inner, Inner::Inline(_))
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
        let r = self.view_lstat(path);
        self.or_fallback(r, |own| own.lstat(path))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let r = self.view_read_dir(path);
        self.or_fallback(r, |own| own.read_dir(path))
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        let r = self.view_read_link(path);
        self.or_fallback(r, |own| own.read_link(path))
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let r = self.view_read_at(path, offset, buf);
        self.or_fallback(r, |own| own.read_at(path, offset, buf))
    }
}

impl Ext4Fs {
    fn view_lstat(&self, path: &str) -> Result<Metadata, FsError> {
        let fs = match &self.inner {
            Inner::View(fs) => fs,
            Inner::Inline(fs) => return fs.lstat(path),
        };
        let m = fs.symlink_metadata(path).map_err(|e| map_err(path, e))?;
        Ok(Metadata {
            file_type: file_type(m.file_type()),
            size: m.len(),
            mode: u32::from(m.mode()) & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            mtime: Some(m.modified().seconds()),
        })
    }

    fn view_read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let fs = match &self.inner {
            Inner::View(fs) => fs,
            Inner::Inline(fs) => return fs.read_dir(path),
        };
        let mut out = Vec::new();
        for entry in fs.read_dir(path).map_err(|e| map_err(path, e))? {
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

    fn view_read_link(&self, path: &str) -> Result<String, FsError> {
        let fs = match &self.inner {
            Inner::View(fs) => fs,
            Inner::Inline(fs) => return fs.read_link(path),
        };
        let target = fs.read_link(path).map_err(|e| map_err(path, e))?;
        Ok(String::from_utf8_lossy(target.as_ref()).into_owned())
    }

    fn view_read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let fs = match &self.inner {
            Inner::View(fs) => fs,
            Inner::Inline(fs) => return fs.read_at(path, offset, buf),
        };
        let mut file = fs.open(path).map_err(|e| map_err(path, e))?;
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
