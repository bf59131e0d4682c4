use std::collections::HashMap;
use std::sync::Mutex;

use crate::{ByteSource, IoError, check_bounds};

/// An aligned block cache with least-recently-used eviction.
///
/// Small reads are served from whole aligned blocks; neighbouring missing blocks are fetched
/// in one call. In a browser each call to the file costs about a millisecond whatever its size
/// up to 64 KiB, so fewer, larger reads win; natively the same policy keeps the count of calls
/// comparable, which is what the benchmark reports.
pub struct BlockCache<S> {
    inner: S,
    block: u64,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tick: u64,
    blocks: HashMap<u64, Block>,
}

struct Block {
    data: Vec<u8>,
    used: u64,
}

impl<S: ByteSource> BlockCache<S> {
    /// `block_size` must be a power of two (rounded up if not); `capacity_bytes` bounds memory.
    pub fn new(inner: S, block_size: u64, capacity_bytes: u64) -> Self {
        let block = block_size.max(512).next_power_of_two();
        let capacity = (capacity_bytes / block).max(2) as usize;
        BlockCache {
            inner,
            block,
            capacity,
            state: Mutex::default(),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn fetch_run(&self, state: &mut State, first: u64, count: u64) -> Result<(), IoError> {
        let start = first * self.block;
        let end = ((first + count) * self.block).min(self.inner.len());
        let mut data = vec![0u8; (end - start) as usize];
        self.inner.read_at(start, &mut data)?;
        for (i, chunk) in data.chunks(self.block as usize).enumerate() {
            state.tick += 1;
            let used = state.tick;
            state.blocks.insert(
                first + i as u64,
                Block {
                    data: chunk.to_vec(),
                    used,
                },
            );
        }
        while state.blocks.len() > self.capacity {
            let oldest = state
                .blocks
                .iter()
                .min_by_key(|(_, b)| b.used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => state.blocks.remove(&k),
                None => break,
            };
        }
        Ok(())
    }
}

impl<S: ByteSource> ByteSource for BlockCache<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        // Large reads (a whole data cluster run, a big file) would only flush the cache.
        if buf.len() as u64 >= 4 * self.block {
            return self.inner.read_at(offset, buf);
        }
        let first = offset / self.block;
        let last = (offset + buf.len() as u64 - 1) / self.block;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());

        // Fetch every missing run of blocks with one call each.
        let mut b = first;
        while b <= last {
            if state.blocks.contains_key(&b) {
                b += 1;
                continue;
            }
            let run_start = b;
            while b <= last && !state.blocks.contains_key(&b) {
                b += 1;
            }
            self.fetch_run(&mut state, run_start, b - run_start)?;
        }

        let mut pos = offset;
        let mut out = 0usize;
        while out < buf.len() {
            let idx = pos / self.block;
            let within = (pos % self.block) as usize;
            state.tick += 1;
            let tick = state.tick;
            let block = state.blocks.get_mut(&idx).ok_or_else(|| {
                // Evicted between fetch and copy: only when capacity is smaller than the read,
                // which the bypass above prevents; fail loudly rather than return garbage.
                IoError::corrupt("cache", pos, "block evicted during read")
            })?;
            block.used = tick;
            let avail = block.data.len().saturating_sub(within);
            let n = avail.min(buf.len() - out);
            if n == 0 {
                return Err(IoError::OutOfBounds {
                    offset: pos,
                    len: 1,
                    size: self.len(),
                });
            }
            buf[out..out + n].copy_from_slice(&block.data[within..within + n]);
            out += n;
            pos += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counting, MemSource};

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn reads_match_the_source_at_every_alignment() {
        let bytes = data(10_000);
        let cache = BlockCache::new(MemSource(bytes.clone()), 512, 4096);
        for (off, len) in [
            (0, 1),
            (511, 2),
            (500, 3000),
            (9_999, 1),
            (1024, 512),
            (0, 10_000),
            (4000, 2100),
        ] {
            let mut buf = vec![0; len];
            cache.read_at(off as u64, &mut buf).unwrap();
            assert_eq!(buf, &bytes[off..off + len], "offset {off} len {len}");
        }
    }

    #[test]
    fn past_the_end_is_an_error_not_a_short_read() {
        let cache = BlockCache::new(MemSource(data(1000)), 512, 4096);
        let mut buf = [0u8; 10];
        assert!(matches!(
            cache.read_at(995, &mut buf),
            Err(IoError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn neighbouring_misses_are_fetched_in_one_call_and_hits_cost_nothing() {
        let counting = Counting::new(MemSource(data(64 * 1024)));
        let counters = counting.counters();
        let cache = BlockCache::new(counting, 4096, 64 * 1024);
        let mut buf = vec![0u8; 3 * 4096];
        cache.read_at(100, &mut buf).unwrap(); // blocks 0..=3, one call
        assert_eq!(counters.snapshot().read_calls, 1);
        assert_eq!(counters.snapshot().bytes_read, 4 * 4096);
        let mut small = [0u8; 16];
        cache.read_at(5000, &mut small).unwrap();
        assert_eq!(counters.snapshot().read_calls, 1);
    }

    #[test]
    fn memory_stays_bounded() {
        let cache = BlockCache::new(MemSource(data(1 << 20)), 4096, 16 * 4096);
        let mut buf = [0u8; 8];
        for i in 0..256u64 {
            cache.read_at(i * 4096, &mut buf).unwrap();
        }
        assert!(cache.state.lock().unwrap().blocks.len() <= 16);
    }
}
