use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{ByteSource, IoError};

/// Running totals of what was asked of the bottom source.
#[derive(Debug, Default)]
pub struct Counters {
    bytes: AtomicU64,
    calls: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub bytes_read: u64,
    pub read_calls: u64,
}

impl Counters {
    pub fn snapshot(&self) -> ReadStats {
        ReadStats {
            bytes_read: self.bytes.load(Ordering::Relaxed),
            read_calls: self.calls.load(Ordering::Relaxed),
        }
    }
}

/// Counts every read that reaches the wrapped source. Put it directly on the host file or
/// `Blob`, under the cache, so the counts are what the host really served.
pub struct Counting<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S: ByteSource> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            counters: Arc::default(),
        }
    }

    /// A handle that stays readable while the source is owned by the layers above.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }
}

impl<S: ByteSource> ByteSource for Counting<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
}
