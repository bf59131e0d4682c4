//! Byte sources: the one interface every layer of Preflight reads through.
//!
//! A disk image is read with `read_at(offset, buf)` and `len()`, nothing else: no seek, no
//! cursor, so a container (QCOW2), a partition and a logical volume are all byte sources
//! stacked like pipes. The bottom source is a host file (native) or a browser `Blob` (wasm);
//! a [`BlockCache`] and a [`Counting`] wrapper sit on top of it so that the number of read
//! calls — which, in a browser, costs about a millisecond each — stays small and is measured.

mod cache;
mod counting;
pub mod crc32c;
mod error;
#[cfg(not(target_family = "wasm"))]
mod file;
mod mem;
mod slice;

use std::sync::Arc;

pub use cache::BlockCache;
pub use counting::{Counters, Counting, ReadStats};
pub use error::IoError;
#[cfg(not(target_family = "wasm"))]
pub use file::FileSource;
pub use mem::MemSource;
pub use slice::Slice;

/// A random-access, read-only source of bytes of a known length.
///
/// `read_at` fills `buf` completely or fails: a read that reaches past `len()` is an error
/// ([`IoError::OutOfBounds`]), never a short read, so parsers cannot mistake a truncated image
/// for zeros.
pub trait ByteSource {
    /// Length in bytes.
    fn len(&self) -> u64;

    /// Fill `buf` with the bytes at `offset..offset + buf.len()`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;

    /// True when the source holds no byte.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How layers hold their lower layer: shared, so a partition and the file system on it can both
/// keep the disk alive.
pub type Source = Arc<dyn ByteSource>;

impl<T: ByteSource + ?Sized> ByteSource for Arc<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

impl<T: ByteSource + ?Sized> ByteSource for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

impl<T: ByteSource + ?Sized> ByteSource for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

/// Check that `offset..offset+len` lies inside a source of `size` bytes.
pub fn check_bounds(offset: u64, len: usize, size: u64) -> Result<(), IoError> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= size => Ok(()),
        _ => Err(IoError::OutOfBounds {
            offset,
            len: len as u64,
            size,
        }),
    }
}

/// Read `len` bytes at `offset` into a new vector, refusing lengths above `max` before
/// allocating (a header may declare any size; we allocate only what we accepted).
pub fn read_vec(
    src: &(impl ByteSource + ?Sized),
    offset: u64,
    len: u64,
    max: u64,
) -> Result<Vec<u8>, IoError> {
    if len > max {
        return Err(IoError::TooLarge { offset, len, max });
    }
    check_bounds(offset, len as usize, src.len())?;
    let mut buf = vec![0u8; len as usize];
    src.read_at(offset, &mut buf)?;
    Ok(buf)
}

/// Little helpers to decode fixed-width integers from on-disk structures without panicking:
/// out-of-range reads give 0, so callers must check the structure's length first (they all do,
/// by reading whole structures into fixed-size arrays).
pub mod le {
    pub fn u16(b: &[u8], at: usize) -> u16 {
        b.get(at..at + 2)
            .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(b: &[u8], at: usize) -> u32 {
        b.get(at..at + 4)
            .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn u64(b: &[u8], at: usize) -> u64 {
        b.get(at..at + 8).map_or(0, |s| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_le_bytes(a)
        })
    }
}

/// Big-endian counterparts of [`le`] (QCOW2, VHD and XFS are big-endian).
pub mod be {
    pub fn u16(b: &[u8], at: usize) -> u16 {
        b.get(at..at + 2)
            .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
    }
    pub fn u32(b: &[u8], at: usize) -> u32 {
        b.get(at..at + 4)
            .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn u64(b: &[u8], at: usize) -> u64 {
        b.get(at..at + 8).map_or(0, |s| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_be_bytes(a)
        })
    }
}
