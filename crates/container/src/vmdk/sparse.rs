//! A hosted sparse extent (`KDMV`): grain directory → grain tables → grains, plain or
//! deflate-compressed behind grain markers (streamOptimized). Specification: VMware "Virtual
//! Disk Format 5.0", "Hosted Sparse Extents" and "Stream-Optimized Compressed Sparse Extents".
//! Where the spec is silent, we do what QEMU's block/vmdk.c does, so that our virtual disk is
//! byte-identical to `qemu-img convert -O raw`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use preflight_io::{IoError, Source, le, read_vec};

use super::header::{Header, MAX_GD_BYTES, SECTOR};
use crate::lru::Lru;
use crate::{ContainerError, Format};

const LAYER: &str = "vmdk";
/// Grain markers (streamOptimized) start with the grain's LBA (u64) and the compressed size
/// (u32); the compressed data follows.
const MARKER_HEADER: u64 = 12;
/// Memory for cached grain tables and for decompressed grains, each.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// Grain tables cached at most (QEMU's 512-entry tables: 16 MiB, 8192 tables).
const MAX_TABLES: u64 = 8192;
/// Opening reads every grain table to count allocated grains, in merged runs; past these
/// budgets (a huge disk with scattered tables) we stop and leave the allocated size unknown.
const SCAN_MAX_BYTES: u64 = 16 * 1024 * 1024;
const SCAN_MAX_CALLS: usize = 256;
/// Grain tables closer than this on the host are fetched in one read, the gap included.
const SCAN_MERGE_GAP: u64 = 64 * 1024;
const SCAN_MAX_RUN: u64 = 4 * 1024 * 1024;
/// Compressed grain sizes are measured from the gaps between grain offsets; above this many
/// grains we do not keep the offsets (4 bytes each).
const MAX_MEASURED_GRAINS: usize = 4 * 1024 * 1024;

/// What one grain maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapping {
    Unallocated,
    /// A grain table entry of 1 with the zeroed-grain feature on.
    Zero,
    /// The grain (or, compressed, its marker) starts at this host byte offset.
    Data(u64),
}

/// What the grain tables say, counted at open.
#[derive(Debug, Clone, Default)]
pub struct Allocation {
    /// Every grain table was read (false: too many, or some beyond the end of the file).
    pub complete: bool,
    pub grains: u64,
    pub zero_grains: u64,
    /// Allocated grains that lie (at least partly) beyond the end of the file.
    pub beyond_eof: u64,
    /// Bytes of the file holding grains: grains × grain size, or for compressed grains the
    /// space between a grain's marker and the next structure in the file.
    pub bytes: Option<u64>,
}

pub struct SparseExtent {
    file: Source,
    h: Header,
    gd: Vec<u32>,
    tables: Mutex<Lru<Arc<Vec<u32>>>>,
    /// Decompressed grains by host offset; a grain may be shorter than the grain size (the
    /// last one of a disk whose size is not a multiple of it).
    grains: Mutex<Lru<Arc<Vec<u8>>>>,
    /// Set when unallocated grains belong to a parent we do not have: their bytes are counted.
    missing: Option<Arc<AtomicU64>>,
}

fn corrupt_io(offset: u64, message: impl Into<String>) -> IoError {
    IoError::corrupt(LAYER, offset, message)
}

impl SparseExtent {
    pub fn open(
        file: Source,
        h: Header,
        missing: Option<Arc<AtomicU64>>,
    ) -> Result<SparseExtent, ContainerError> {
        let gd_at = h.gd_offset.saturating_mul(SECTOR);
        let gd_bytes = read_vec(&*file, gd_at, h.gd_entries() * 4, MAX_GD_BYTES).map_err(|e| {
            ContainerError::corrupt(
                Format::Vmdk,
                gd_at,
                format!("grain directory unreadable: {e}"),
            )
        })?;
        let gd = gd_bytes.chunks_exact(4).map(|c| le::u32(c, 0)).collect();
        let table_bytes = u64::from(h.gtes_per_gt) * 4;
        let grain_slots = (CACHE_BYTES / h.grain_bytes()).max(4) as usize;
        Ok(SparseExtent {
            file,
            gd,
            tables: Mutex::new(Lru::new(
                (CACHE_BYTES / table_bytes).min(MAX_TABLES) as usize
            )),
            grains: Mutex::new(Lru::new(grain_slots)),
            missing,
            h,
        })
    }

    fn table_bytes(&self) -> u64 {
        u64::from(self.h.gtes_per_gt) * 4
    }

    fn decode_table(bytes: &[u8]) -> Arc<Vec<u32>> {
        Arc::new(bytes.chunks_exact(4).map(|c| le::u32(c, 0)).collect())
    }

    /// The grain table at host sector `sector`, for the grain directory entry `index`.
    fn table(&self, index: u64, sector: u32) -> Result<Arc<Vec<u32>>, IoError> {
        let mut cache = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(u64::from(sector)) {
            return Ok(t);
        }
        let at = u64::from(sector) * SECTOR;
        let bytes =
            read_vec(&*self.file, at, self.table_bytes(), self.table_bytes()).map_err(|e| {
                corrupt_io(
                    at,
                    format!(
                        "grain table {index} (guest offset {}) unreadable: {e}",
                        index * self.h.gt_coverage() * SECTOR
                    ),
                )
            })?;
        let table = Self::decode_table(&bytes);
        cache.put(u64::from(sector), Arc::clone(&table));
        Ok(table)
    }

    fn map(&self, grain: u64) -> Result<Mapping, IoError> {
        let per = u64::from(self.h.gtes_per_gt);
        let index = grain / per;
        let sector = usize::try_from(index)
            .ok()
            .and_then(|i| self.gd.get(i))
            .copied()
            .unwrap_or(0);
        if sector == 0 {
            return Ok(Mapping::Unallocated);
        }
        let table = self.table(index, sector)?;
        let entry = usize::try_from(grain % per)
            .ok()
            .and_then(|i| table.get(i))
            .copied()
            .unwrap_or(0);
        Ok(match entry {
            0 => Mapping::Unallocated,
            // Without the zeroed-grain flag QEMU takes 1 as a sector number like any other.
            1 if self.h.zero_grains() => Mapping::Zero,
            s => Mapping::Data(u64::from(s) * SECTOR),
        })
    }

    /// Read the grain tables once to count what is allocated (and warm the table cache).
    /// Returns the counts and, when a table lies beyond the end of the file, a warning.
    pub fn scan(&self) -> (Allocation, Option<String>) {
        let mut alloc = Allocation::default();
        let file_len = self.file.len();
        let tb = self.table_bytes();
        let total_grains = self.h.capacity.div_ceil(self.h.grain_sectors);
        let per = u64::from(self.h.gtes_per_gt);
        let mut order: Vec<(u64, u64)> = self
            .gd
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != 0)
            .map(|(i, s)| (u64::from(*s) * SECTOR, i as u64))
            .collect();
        order.sort_unstable();
        // Plan the reads first (runs of tables close together), so that a disk whose tables
        // would take too many calls or bytes is not scanned at all.
        let mut runs: Vec<(u64, u64, usize, usize)> = Vec::new();
        let mut beyond = 0u64;
        let mut planned = 0u64;
        let mut i = 0usize;
        while let Some(&(start, _)) = order.get(i) {
            if start.saturating_add(tb) > file_len {
                beyond += 1;
                i += 1;
                continue;
            }
            let mut end = start + tb;
            let mut j = i + 1;
            while let Some(&(next, _)) = order.get(j) {
                let next_end = next.saturating_add(tb);
                if next > end.saturating_add(SCAN_MERGE_GAP)
                    || next_end - start > SCAN_MAX_RUN
                    || next_end > file_len
                {
                    break;
                }
                end = end.max(next_end);
                j += 1;
            }
            planned = planned.saturating_add(end - start);
            runs.push((start, end, i, j));
            i = j;
        }
        let mut complete = beyond == 0 && runs.len() <= SCAN_MAX_CALLS && planned <= SCAN_MAX_BYTES;
        let mut grain_offsets: Vec<u32> = Vec::new();
        // The least a grain needs in the file: its marker, or the whole grain.
        let min_record = if self.h.compressed() {
            MARKER_HEADER
        } else {
            self.h.grain_bytes()
        };
        for &(start, end, i, j) in runs.iter().take(if complete { runs.len() } else { 0 }) {
            let Ok(run) = read_vec(&*self.file, start, end - start, SCAN_MAX_RUN) else {
                complete = false;
                break;
            };
            let mut cache = self.tables.lock().unwrap_or_else(|e| e.into_inner());
            for &(at, index) in order.get(i..j).unwrap_or_default() {
                let from = (at - start) as usize;
                let Some(bytes) = run.get(from..from + tb as usize) else {
                    continue;
                };
                let table = Self::decode_table(bytes);
                for (k, &entry) in table.iter().enumerate() {
                    if index * per + k as u64 >= total_grains {
                        break;
                    }
                    match entry {
                        0 => {}
                        1 if self.h.zero_grains() => alloc.zero_grains += 1,
                        s => {
                            alloc.grains += 1;
                            if u64::from(s) * SECTOR + min_record > file_len {
                                alloc.beyond_eof += 1;
                            }
                            if self.h.compressed() && grain_offsets.len() < MAX_MEASURED_GRAINS {
                                grain_offsets.push(s);
                            }
                        }
                    }
                }
                // Warm the cache only while it has room: the scan must not churn it.
                if cache.len() < cache.slots() {
                    cache.put(at / SECTOR, table);
                }
            }
        }
        let mut warning = None;
        if beyond > 0 {
            warning = Some(format!(
                "{beyond} grain table(s) lie beyond the end of the file: the image is truncated, and the parts of the disk they map cannot be read"
            ));
        }
        alloc.complete = complete;
        if complete {
            alloc.bytes = if !self.h.compressed() {
                Some(alloc.grains * self.h.grain_bytes())
            } else if grain_offsets.len() as u64 == alloc.grains {
                Some(self.compressed_bytes(grain_offsets))
            } else {
                None
            };
        }
        (alloc, warning)
    }

    /// Compressed grains lie one after the other, each up to the next grain or the next
    /// metadata (a grain table or directory and its marker, the footer): the gaps between
    /// those offsets are the grains' sizes in the file, markers and padding included.
    fn compressed_bytes(&self, mut grains: Vec<u32>) -> u64 {
        grains.sort_unstable();
        grains.dedup();
        let marker = if self.h.markers() { SECTOR } else { 0 };
        let file_end = self.file.len() - self.file.len() % SECTOR;
        let mut bounds: Vec<u64> = self
            .gd
            .iter()
            .filter(|s| **s != 0)
            .map(|s| (u64::from(*s) * SECTOR).saturating_sub(marker))
            .collect();
        bounds.push(
            self.h
                .gd_offset
                .saturating_mul(SECTOR)
                .saturating_sub(marker),
        );
        bounds.push(if self.h.from_footer {
            file_end.saturating_sub(3 * SECTOR)
        } else {
            file_end
        });
        bounds.sort_unstable();
        let mut total = 0u64;
        for (k, &g) in grains.iter().enumerate() {
            let at = u64::from(g) * SECTOR;
            let Some(next) = grains.get(k + 1) else {
                // The last grain may be followed by free space (QEMU leaves some): its
                // marker says how long it is.
                total += self.last_grain_bytes(at).unwrap_or_else(|| {
                    let b = bounds.partition_point(|&b| b <= at);
                    let end = bounds.get(b).copied().unwrap_or(file_end).min(file_end);
                    end.saturating_sub(at)
                });
                break;
            };
            let next_grain = u64::from(*next) * SECTOR;
            let b = bounds.partition_point(|&b| b <= at);
            let next_meta = bounds.get(b).copied().unwrap_or(file_end);
            total += next_grain.min(next_meta).min(file_end).saturating_sub(at);
        }
        total
    }

    /// The size of the grain record (marker and data, padded to a sector) at `at`.
    fn last_grain_bytes(&self, at: u64) -> Option<u64> {
        if !self.h.markers() {
            return None;
        }
        let mut m = [0u8; MARKER_HEADER as usize];
        self.file.read_at(at, &mut m).ok()?;
        let size = MARKER_HEADER + u64::from(le::u32(&m, 8));
        Some(size.div_ceil(SECTOR) * SECTOR)
    }

    /// The decompressed grain whose marker (or data) starts at host offset `at`.
    fn compressed_grain(&self, at: u64, pos: u64) -> Result<Arc<Vec<u8>>, IoError> {
        let mut cache = self.grains.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = cache.get(at) {
            return Ok(g);
        }
        let grain = self.h.grain_bytes();
        let file_len = self.file.len();
        let beyond = || {
            corrupt_io(
                at,
                format!(
                    "grain for guest offset {pos} lies beyond the end of the file (truncated image?)"
                ),
            )
        };
        let (data_at, declared) = if self.h.markers() {
            let mut m = [0u8; MARKER_HEADER as usize];
            if at.saturating_add(MARKER_HEADER) > file_len {
                return Err(beyond());
            }
            self.file.read_at(at, &mut m)?;
            (at + MARKER_HEADER, u64::from(le::u32(&m, 8)))
        } else {
            (at, grain)
        };
        // QEMU reads at most two grains' worth for the marker and the compressed data.
        if declared == 0 || declared > 2 * grain {
            return Err(corrupt_io(
                at,
                format!(
                    "compressed grain for guest offset {pos} declares {declared} bytes (a grain is {grain} bytes)"
                ),
            ));
        }
        // Past the end of the file QEMU reads zeros; a complete stream does not need them.
        let len = declared.min(file_len.saturating_sub(data_at));
        if len == 0 {
            return Err(beyond());
        }
        let mut input = vec![0u8; len as usize];
        self.file.read_at(data_at, &mut input)?;
        let out = inflate_zlib(&input, grain as usize).map_err(|why| {
            corrupt_io(
                at,
                format!("compressed grain for guest offset {pos}: {why}"),
            )
        })?;
        let out = Arc::new(out);
        cache.put(at, Arc::clone(&out));
        Ok(out)
    }

    /// Fill `buf` from extent byte `offset` (the caller checked the bounds).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let gsize = self.h.grain_bytes();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let grain = pos / gsize;
            let in_grain = pos % gsize;
            let span = gsize - in_grain;
            let mut n = span.min((buf.len() - done) as u64) as usize;
            let total = buf.len();
            let out = &mut buf[done..];
            match self.map(grain)? {
                Mapping::Data(host) if !self.h.compressed() => {
                    let host = host + in_grain;
                    // Neighbouring grains are usually contiguous on the host too: one read.
                    let mut next = grain + 1;
                    while done + n < total {
                        match self.map(next)? {
                            Mapping::Data(h2) if h2 == host + n as u64 => {
                                n += gsize.min((total - done - n) as u64) as usize;
                                next += 1;
                            }
                            _ => break,
                        }
                    }
                    self.file.read_at(host, &mut out[..n]).map_err(|e| match e {
                        IoError::OutOfBounds { .. } => corrupt_io(
                            host,
                            format!("data for guest offset {pos} lies beyond the end of the file (truncated image?)"),
                        ),
                        other => other,
                    })?;
                }
                Mapping::Data(host) => {
                    let g = self.compressed_grain(host, pos)?;
                    let from = in_grain as usize;
                    let src = g.get(from..from + n).ok_or_else(|| {
                        corrupt_io(
                            host,
                            format!(
                                "compressed grain for guest offset {pos} decompresses to {} bytes, less than the grain",
                                g.len()
                            ),
                        )
                    })?;
                    out[..n].copy_from_slice(src);
                }
                Mapping::Zero => out[..n].fill(0),
                Mapping::Unallocated => {
                    if let Some(m) = &self.missing {
                        m.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    out[..n].fill(0);
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Inflate a zlib stream (RFC 1950) into at most `max` bytes. Like zlib's `uncompress`, which
/// QEMU uses: the stream must end (checksum verified) within `max` bytes of output; bytes
/// after its end are ignored; it may produce less than `max`.
fn inflate_zlib(input: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; max];
    let mut d = flate2::Decompress::new(true);
    let status = d
        .decompress(input, &mut out, flate2::FlushDecompress::None)
        .map_err(|e| format!("deflate stream is invalid: {e}"))?;
    let produced = d.total_out() as usize;
    if status != flate2::Status::StreamEnd {
        // The output is full: the stream may still end (final block, checksum) without
        // producing more.
        let consumed = d.total_in() as usize;
        let mut spare = [0u8; 1];
        let rest = input.get(consumed..).unwrap_or_default();
        let status = d
            .decompress(rest, &mut spare, flate2::FlushDecompress::None)
            .map_err(|e| format!("deflate stream is invalid: {e}"))?;
        if status != flate2::Status::StreamEnd || d.total_out() as usize != produced {
            return Err(if produced < max {
                format!("deflate stream is truncated after {produced} bytes")
            } else {
                format!("deflate stream holds more than a grain ({max} bytes)")
            });
        }
    }
    out.truncate(produced);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::inflate_zlib;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflates_exact_short_and_refuses_long_or_cut() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let z = zlib(&data);
        assert_eq!(inflate_zlib(&z, 4096).unwrap(), data);
        assert_eq!(
            inflate_zlib(&z, 8192).unwrap(),
            data,
            "shorter than the grain"
        );
        let mut padded = z.clone();
        padded.extend_from_slice(&[0xaa; 100]);
        assert_eq!(
            inflate_zlib(&padded, 4096).unwrap(),
            data,
            "padding ignored"
        );
        let e = inflate_zlib(&z, 4095).unwrap_err();
        assert!(e.contains("more than a grain"), "{e}");
        assert!(inflate_zlib(&z[..z.len() - 10], 4096).is_err());
        let mut bad = z.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(inflate_zlib(&bad, 4096).is_err(), "adler32 checked");
    }
}
