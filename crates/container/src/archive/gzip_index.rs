//! Random access into a gzip file, by an index built in one sequential pass.
//!
//! gzip cannot be read at an arbitrary offset: each byte depends on everything before it. The
//! pass decodes the whole file once (the caller sees every byte go by, to list the tar inside)
//! and, at deflate block boundaries about every `spacing` bytes of output, records a
//! checkpoint: the block's bit offset in the compressed file, its uncompressed offset, and the
//! 32 KiB of output before it (the history its matches may refer to). A read at X then
//! resumes decoding at the last checkpoint at or before X and decodes forward to X.
//!
//! Memory is bounded whatever the file's size: at most [`MAX_CHECKPOINTS`] checkpoints of at
//! most 32 KiB each; when the index is full every other checkpoint is dropped and the spacing
//! doubles. Reads keep a small cache of decoded 1 MiB spans and the decoder of the last read,
//! so that sequential reads continue where the last one stopped instead of restarting.

use std::sync::{Arc, Mutex};

use preflight_io::{ByteSource, IoError, Source, check_bounds};

use super::inflate::Inflater;
use crate::{ContainerError, Format, Progress};

/// At most this many checkpoints (× 32 KiB of window each: 32 MiB).
pub const MAX_CHECKPOINTS: usize = 1024;
/// Spacing of checkpoints to start with; doubles each time the index fills up.
pub const DEFAULT_SPACING: u64 = 1 << 20;
/// Compressed bytes per read during the pass (reads of 1 MiB and more bypass the block cache).
const PASS_CHUNK: usize = 4 << 20;
/// Compressed bytes per read when resuming at a checkpoint for a random read.
const RESUME_CHUNK: usize = 256 << 10;
/// Decoded bytes are cached in spans of this size…
const SPAN: u64 = 1 << 20;
/// …this many of them.
const CACHED_SPANS: usize = 16;
/// How often the pass reports progress, in compressed bytes.
const REPORT_EVERY: u64 = 8 << 20;

pub const PROGRESS_MESSAGE: &str = "Indexing the compressed archive";

/// The inflater's corruption reports become the container's, with the compressed offset.
pub fn container_error(e: IoError) -> ContainerError {
    match e {
        IoError::Corrupt {
            layer: "gzip",
            offset,
            message,
        } => ContainerError::corrupt(Format::Gzip, offset, message),
        other => ContainerError::Io(other),
    }
}

struct Checkpoint {
    /// Bit offset of the block header in the compressed file.
    bit: u64,
    /// Uncompressed offset of the block's first byte.
    out: u64,
    window: Box<[u8]>,
}

/// Checkpoints in increasing order of offset.
pub struct Index {
    points: Vec<Checkpoint>,
    spacing: u64,
}

impl Index {
    fn new(spacing: u64) -> Self {
        Index {
            points: Vec::new(),
            spacing: spacing.max(1),
        }
    }

    /// A block boundary went by: keep it if it is far enough from the last checkpoint.
    fn offer(&mut self, bit: u64, out: u64, window: &[u8]) {
        if let Some(last) = self.points.last()
            && out < last.out.saturating_add(self.spacing)
        {
            return;
        }
        self.points.push(Checkpoint {
            bit,
            out,
            window: window.into(),
        });
        if self.points.len() > MAX_CHECKPOINTS {
            // Drop every other one (the first, at offset 0, stays) and space them wider.
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.spacing = self.spacing.saturating_mul(2);
        }
    }

    /// The last checkpoint at or before uncompressed offset `out`.
    fn before(&self, out: u64) -> Option<&Checkpoint> {
        let n = self.points.partition_point(|c| c.out <= out);
        self.points.get(n.checked_sub(1)?)
    }

    pub fn checkpoints(&self) -> usize {
        self.points.len()
    }

    /// Bytes of window held (the bulk of the index's memory).
    pub fn window_bytes(&self) -> usize {
        self.points.iter().map(|c| c.window.len()).sum()
    }

    /// The longest stretch of output between checkpoints (or from the last one to `len`): the
    /// most a random read may have to decode before reaching its bytes.
    pub fn max_gap(&self, len: u64) -> u64 {
        let mut gap = 0;
        let mut ends = self.points.iter().map(|c| c.out).skip(1).chain([len]);
        for c in &self.points {
            let next = ends.next().unwrap_or(len);
            gap = gap.max(next.saturating_sub(c.out));
        }
        gap
    }
}

/// What the pass learnt.
pub struct Pass {
    pub index: Index,
    /// Uncompressed length.
    pub len: u64,
    pub members: u64,
    /// Offset of non-gzip bytes after the last member, ignored.
    pub trailing: Option<u64>,
}

/// Decodes `file` from start to end, handing every decoded byte to `consume` in order, and
/// builds the index. CRC-32 and size of every member are checked.
pub fn build(
    file: &Source,
    spacing: u64,
    mut consume: impl FnMut(&[u8]) -> Result<(), ContainerError>,
    progress: Option<Progress<'_>>,
) -> Result<Pass, ContainerError> {
    let total = file.len();
    let mut index = Index::new(spacing);
    let mut inf = Inflater::new(Arc::clone(file), PASS_CHUNK).map_err(container_error)?;
    let mut next_report = 0;
    if let Some(p) = progress {
        p(PROGRESS_MESSAGE, 0, total);
    }
    // Each turn consumes input (a header, a block header, or data), so the loop ends.
    while !inf.done() {
        inf.advance().map_err(container_error)?;
        consume(inf.output())?;
        if let Some(bit) = inf.at_block_start() {
            index.offer(bit, inf.total_out(), inf.window());
        }
        let done = inf.compressed_pos();
        if let Some(p) = progress
            && done >= next_report
        {
            p(PROGRESS_MESSAGE, done.min(total), total);
            next_report = done.saturating_add(REPORT_EVERY);
        }
    }
    if let Some(p) = progress {
        p(PROGRESS_MESSAGE, total, total);
    }
    Ok(Pass {
        len: inf.total_out(),
        members: inf.members(),
        trailing: inf.trailing(),
        index,
    })
}

/// The uncompressed stream of a gzip file, readable at any offset through its index.
pub struct GzSource {
    file: Source,
    index: Index,
    len: u64,
    state: Mutex<ReadState>,
}

#[derive(Default)]
struct ReadState {
    tick: u64,
    /// (span number, last use, bytes).
    spans: Vec<(u64, u64, Arc<Vec<u8>>)>,
    /// The decoder of the last read, positioned where it stopped.
    live: Option<Box<Inflater>>,
    /// Decoder restarts from a checkpoint (for tests and measurements).
    restarts: u64,
}

impl GzSource {
    pub fn new(file: Source, pass: Pass) -> Self {
        GzSource {
            file,
            index: pass.index,
            len: pass.len,
            state: Mutex::default(),
        }
    }

    #[cfg(test)]
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Times a read had to restart decoding at a checkpoint.
    #[cfg(test)]
    pub fn restarts(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.restarts)
    }

    fn span(&self, st: &mut ReadState, n: u64) -> Result<Arc<Vec<u8>>, IoError> {
        st.tick += 1;
        let tick = st.tick;
        if let Some(s) = st.spans.iter_mut().find(|s| s.0 == n) {
            s.1 = tick;
            return Ok(Arc::clone(&s.2));
        }
        let start = n.saturating_mul(SPAN);
        let end = start.saturating_add(SPAN).min(self.len);
        let want = end.saturating_sub(start) as usize;
        let cp = self.index.before(start).ok_or_else(|| {
            IoError::corrupt(
                "gzip",
                start,
                "no decompression checkpoint before this offset",
            )
        })?;
        let live = st.live.take().filter(|l| {
            !l.held_from(start).is_empty() || (l.total_out() >= cp.out && l.total_out() <= start)
        });
        let mut inf = match live {
            Some(l) => l,
            None => {
                st.restarts += 1;
                Box::new(Inflater::resume(
                    Arc::clone(&self.file),
                    RESUME_CHUNK,
                    cp.bit,
                    cp.out,
                    &cp.window,
                )?)
            }
        };
        let mut data = Vec::with_capacity(want);
        let held = inf.held_from(start);
        data.extend_from_slice(held.get(..held.len().min(want)).unwrap_or(&[]));
        // Each turn decodes more of the stream; the stream was decoded to its end once.
        while data.len() < want {
            if inf.done() {
                return Err(IoError::corrupt(
                    "gzip",
                    inf.compressed_pos(),
                    "the compressed stream ends earlier than when it was indexed (has the file changed?)",
                ));
            }
            inf.advance()?;
            let need = start + data.len() as u64;
            let out = inf.output();
            let off = inf.output_offset();
            let out_end = off + out.len() as u64;
            if out_end <= need {
                continue;
            }
            let skip = need.checked_sub(off).ok_or_else(|| {
                IoError::corrupt("gzip", inf.compressed_pos(), "decoder skipped output")
            })? as usize;
            let take = (out.len() - skip).min(want - data.len());
            data.extend_from_slice(out.get(skip..skip + take).unwrap_or(&[]));
        }
        st.live = Some(inf);
        let data = Arc::new(data);
        if st.spans.len() >= CACHED_SPANS
            && let Some(oldest) = st
                .spans
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.1)
                .map(|(i, _)| i)
        {
            st.spans.swap_remove(oldest);
        }
        st.spans.push((n, tick, Arc::clone(&data)));
        Ok(data)
    }
}

impl ByteSource for GzSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let n = pos / SPAN;
            let data = self.span(&mut st, n)?;
            let within = (pos - n * SPAN) as usize;
            let avail = data.get(within..).unwrap_or(&[]);
            let k = avail.len().min(buf.len() - done);
            if k == 0 {
                return Err(IoError::corrupt("gzip", pos, "decoded span is short"));
            }
            if let (Some(dst), Some(src)) = (buf.get_mut(done..done + k), avail.get(..k)) {
                dst.copy_from_slice(src);
            }
            done += k;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use preflight_io::MemSource;

    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i / 4096) as u8).wrapping_mul(31) ^ (i as u8 & 0x0f))
            .collect()
    }

    /// gzip of `data` with a sync flush every `every` bytes, so blocks end often.
    fn gzip_flushed(data: &[u8], every: usize) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        for c in data.chunks(every) {
            e.write_all(c).unwrap();
            e.flush().unwrap();
        }
        e.finish().unwrap()
    }

    fn indexed(gz: Vec<u8>, spacing: u64) -> GzSource {
        let file: Source = Arc::new(MemSource(gz));
        let pass = build(&file, spacing, |_| Ok(()), None).unwrap();
        GzSource::new(file, pass)
    }

    #[test]
    fn reads_anywhere_match_the_data() {
        let data = pattern(5_000_000);
        let src = indexed(gzip_flushed(&data, 40_000), 200_000);
        assert_eq!(src.len(), data.len() as u64);
        assert!(src.index().checkpoints() > 10);
        let mut x = 12345u64;
        for _ in 0..60 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (x >> 20) % data.len() as u64;
            let len = ((x >> 8) % 3_000_000).min(data.len() as u64 - off) as usize;
            let mut buf = vec![0u8; len];
            src.read_at(off, &mut buf).unwrap();
            assert!(
                buf == data[off as usize..off as usize + len],
                "at {off} len {len}"
            );
        }
        let mut b = [0u8; 2];
        assert!(src.read_at(data.len() as u64 - 1, &mut b).is_err());
    }

    #[test]
    fn sequential_reads_do_not_restart() {
        let data = pattern(6_000_000);
        let src = indexed(gzip_flushed(&data, 100_000), 1 << 20);
        let mut buf = vec![0u8; 65536];
        let mut off = 0;
        while off < data.len() {
            let n = buf.len().min(data.len() - off);
            src.read_at(off as u64, &mut buf[..n]).unwrap();
            assert!(buf[..n] == data[off..off + n]);
            off += n;
        }
        assert_eq!(src.restarts(), 1);
    }

    #[test]
    fn index_memory_stays_under_the_cap() {
        // 96 MiB of a cheap pattern with a block boundary every 8 KiB and a tiny spacing:
        // about 12 000 candidate checkpoints.
        let data = pattern(96 << 20);
        let gz = gzip_flushed(&data, 8 << 10);
        let src = indexed(gz, 4096);
        let index = src.index();
        assert!(index.checkpoints() <= MAX_CHECKPOINTS);
        assert!(index.checkpoints() > MAX_CHECKPOINTS / 2);
        assert!(index.window_bytes() <= MAX_CHECKPOINTS * 32 * 1024);
        assert!(index.max_gap(src.len()) <= 2 * index.spacing + (8 << 10));
        for off in [0u64, 1 << 20, 50 << 20, (96 << 20) - 10] {
            let mut buf = [0u8; 10];
            src.read_at(off, &mut buf).unwrap();
            assert!(buf == data[off as usize..off as usize + 10]);
        }
    }

    #[test]
    fn progress_is_reported() {
        let data = pattern(3_000_000);
        let gz = gzip_flushed(&data, 1 << 20);
        let total = gz.len() as u64;
        let file: Source = Arc::new(MemSource(gz));
        let calls = std::cell::RefCell::new(Vec::new());
        let p = |what: &str, done: u64, all: u64| {
            calls.borrow_mut().push((what.to_string(), done, all))
        };
        build(&file, DEFAULT_SPACING, |_| Ok(()), Some(&p)).unwrap();
        let calls = calls.into_inner();
        assert_eq!(calls.first().map(|c| c.1), Some(0));
        assert_eq!(calls.last().map(|c| (c.1, c.2)), Some((total, total)));
        assert!(calls.iter().all(|c| c.0 == PROGRESS_MESSAGE));
    }

    /// Throughput of the pass and cost of random reads on a real file:
    /// `PREFLIGHT_GZ_BENCH=file.tar.gz cargo test --release -p preflight-container --lib bench_ -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn bench_pass_and_random_reads() {
        let Some(path) = std::env::var_os("PREFLIGHT_GZ_BENCH").map(std::path::PathBuf::from)
        else {
            return;
        };
        let counting = preflight_io::Counting::new(preflight_io::FileSource::open(&path).unwrap());
        let counters = counting.counters();
        let file: Source = Arc::new(preflight_io::BlockCache::new(counting, 256 << 10, 16 << 20));
        let t = std::time::Instant::now();
        let pass = build(&file, DEFAULT_SPACING, |_| Ok(()), None).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let calls = counters.snapshot().read_calls;
        let len = pass.len;
        println!(
            "pass: {} MB compressed -> {} MB in {secs:.2} s = {:.0} MB/s of output, {calls} read calls, {} checkpoints, {} KiB of windows, max gap {} KiB",
            file.len() / 1_000_000,
            len / 1_000_000,
            len as f64 / secs / 1e6,
            pass.index.checkpoints(),
            pass.index.window_bytes() / 1024,
            pass.index.max_gap(len) / 1024
        );
        let t = std::time::Instant::now();
        let mut d = flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap());
        let n = std::io::copy(&mut d, &mut std::io::sink()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "flate2 (miniz_oxide) for comparison: {:.0} MB/s",
            n as f64 / secs / 1e6
        );
        let src = GzSource::new(Arc::clone(&file), pass);
        let before = counters.snapshot().read_calls;
        let t = std::time::Instant::now();
        let mut x = 99u64;
        let mut buf = vec![0u8; 65536];
        for _ in 0..100 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (x >> 11) % (len - buf.len() as u64);
            src.read_at(off, &mut buf).unwrap();
        }
        println!(
            "100 random 64 KiB reads: {:.1} ms each, {} read calls",
            t.elapsed().as_secs_f64() * 10.0,
            counters.snapshot().read_calls - before
        );
    }
}
