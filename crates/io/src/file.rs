use std::fs::File;
use std::path::Path;

use crate::{ByteSource, IoError, check_bounds};

/// A host file opened read-only: the native bottom of the stack. Uses positional reads (pread)
/// so no cursor is shared.
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> std::io::Result<FileSource> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory, not a disk image file",
            ));
        }
        let len = if meta.is_file() {
            meta.len()
        } else {
            // Block devices report 0 in metadata; their size is where seeking to the end lands.
            use std::io::Seek;
            (&file).seek(std::io::SeekFrom::End(0))?
        };
        Ok(FileSource { file, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        read_exact_at(&self.file, offset, buf).map_err(|source| IoError::Io { offset, source })
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
