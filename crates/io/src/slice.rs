use crate::{ByteSource, IoError, Source, check_bounds};

/// A window `start..start+len` of another source: a partition of a disk, a member of a tar.
pub struct Slice {
    inner: Source,
    start: u64,
    len: u64,
}

impl Slice {
    /// A window of `inner`. The window is clamped to the inner source so that a partition table
    /// claiming more than the disk holds still yields a readable (shorter) volume; callers that
    /// care compare [`Slice::len`] with what they asked for.
    pub fn new(inner: Source, start: u64, len: u64) -> Slice {
        let total = inner.len();
        let start = start.min(total);
        let len = len.min(total - start);
        Slice { inner, start, len }
    }
}

impl ByteSource for Slice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        self.inner.read_at(self.start + offset, buf)
    }
}
