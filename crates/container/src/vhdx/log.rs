//! The VHDX log ([MS-VHDX] 2.3), replayed in memory: when a disk was not closed cleanly its
//! BAT and metadata may only be current in the log. We find the active sequence (2.3.3) and
//! lay its writes over the file as an [`Overlay`], never writing the file itself.
//!
//! Log entry (2.3.1.1): a 64-byte header (`loge`, CRC-32C over the whole entry, length, tail,
//! sequence number, descriptor count, LogGuid, FlushedFileOffset, LastFileOffset), then
//! 32-byte descriptors (2.3.1.2 `zero`: length and file offset; 2.3.1.3 `desc`: trailing 4
//! and leading 8 bytes of a 4 KiB sector and its file offset), then one 4 KiB data sector
//! (2.3.1.4 `data`: sequence high, 4084 bytes, sequence low) per `desc`, in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use preflight_io::{ByteSource, IoError, Source, check_bounds, le, read_vec};

use super::header::Header;
use super::{Guid, corrupt};
use crate::ContainerError;
use preflight_io::crc32c::crc32c_parts as crc32c;

const SECTOR: usize = 4096;
/// qemu and Hyper-V use 1 MiB logs; we read at most this much.
const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes of entries we hash (and parse) before giving up: each entry costs a CRC over up to
/// the whole log, so a hostile log of overlapping entries must not cost minutes. Real logs
/// are hashed about once over (128 MiB is well under a second natively).
const MAX_HASHED_BYTES: usize = 128 * 1024 * 1024;
/// Steps spent following sequences (each entry may start one): bounds hostile logs.
const MAX_SEQUENCE_STEPS: usize = 1 << 20;

/// What the log held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    /// LogGuid is zero: nothing to replay ([MS-VHDX] 2.2.2.1).
    Empty,
    /// LogGuid is set but no active sequence carries it: nothing to replay either.
    NoEntries,
    /// The active sequence, replayed in memory.
    Replayed {
        entries: usize,
        first_sequence: u64,
        last_sequence: u64,
        writes: usize,
    },
}

/// A write the log makes: a 4 KiB sector, or zeros over a range.
#[derive(Debug, Clone)]
enum Op {
    Data(u64, Arc<Vec<u8>>),
    Zero(u64, u64),
}

#[derive(Debug, Clone)]
struct Entry {
    start: usize,
    len: usize,
    tail: usize,
    sequence: u64,
    flushed: u64,
    last: u64,
    ops: Vec<Op>,
}

/// The bytes of the circular log from `start`, `len` long, as at most two slices.
fn circular(log: &[u8], start: usize, len: usize) -> Option<(&[u8], &[u8])> {
    if start >= log.len() || len > log.len() {
        return None;
    }
    let end = start + len;
    Some(if end <= log.len() {
        (&log[start..end], &[][..])
    } else {
        (&log[start..], &log[..end - log.len()])
    })
}

/// The byte at `i` of the entry split in two slices.
fn piece<'a>(parts: (&'a [u8], &'a [u8]), at: usize, len: usize) -> Vec<u8> {
    let (a, b) = parts;
    (at..at + len)
        .map(|i| {
            if i < a.len() {
                a[i]
            } else {
                b.get(i - a.len()).copied().unwrap_or(0)
            }
        })
        .collect()
}

/// Parse the entry at `start` if it is valid (2.3.1.1 and its descriptors and data sectors),
/// adding to `hashed` the bytes its checksum cost.
fn entry(log: &[u8], start: usize, guid: Guid, hashed: &mut usize) -> Option<Entry> {
    let h = log.get(start..start + 64)?;
    if !h.starts_with(b"loge") || Guid::from_bytes(h, 32) != guid {
        return None;
    }
    let len = le::u32(h, 8) as usize;
    if len == 0 || !len.is_multiple_of(SECTOR) || len > log.len() {
        return None;
    }
    let parts = circular(log, start, len)?;
    let zeros = [0u8; 4];
    let (a, b) = parts;
    *hashed += len;
    if crc32c(&[&a[..4], &zeros, &a[8..], b]) != le::u32(h, 4) {
        return None;
    }
    let sequence = le::u64(h, 16);
    let count = le::u32(h, 24) as usize;
    let desc_sectors = (64 + count.saturating_mul(32)).div_ceil(SECTOR);
    if desc_sectors > len / SECTOR {
        return None;
    }
    let mut ops = Vec::new();
    let mut data_sector = desc_sectors;
    for i in 0..count {
        let d = piece(parts, 64 + i * 32, 32);
        if le::u64(&d, 24) != sequence {
            return None;
        }
        let offset = le::u64(&d, 16);
        if !offset.is_multiple_of(SECTOR as u64) || offset.checked_add(SECTOR as u64).is_none() {
            return None;
        }
        match d.get(..4) {
            Some(b"zero") => {
                let length = le::u64(&d, 8);
                if !length.is_multiple_of(SECTOR as u64) || offset.checked_add(length).is_none() {
                    return None;
                }
                ops.push(Op::Zero(offset, length));
            }
            Some(b"desc") => {
                if (data_sector + 1) * SECTOR > len {
                    return None;
                }
                let s = piece(parts, data_sector * SECTOR, SECTOR);
                data_sector += 1;
                let seq = (u64::from(le::u32(&s, 4)) << 32) | u64::from(le::u32(&s, 4092));
                if !s.starts_with(b"data") || seq != sequence {
                    return None;
                }
                // 2.3.1.3: the sector is LeadingBytes, the data sector's 4084 bytes, then
                // TrailingBytes.
                let mut sector = Vec::with_capacity(SECTOR);
                sector.extend_from_slice(&d[8..16]);
                sector.extend_from_slice(&s[8..4092]);
                sector.extend_from_slice(&d[4..8]);
                ops.push(Op::Data(offset, Arc::new(sector)));
            }
            _ => return None,
        }
    }
    Some(Entry {
        start,
        len,
        tail: le::u32(h, 12) as usize,
        sequence,
        flushed: le::u64(h, 48),
        last: le::u64(h, 56),
        ops,
    })
}

/// Find the active sequence and replay it over `file`. Returns what the log held and, when
/// something was replayed, the file as the replay leaves it.
pub fn replay(file: &Source, h: &Header) -> Result<(LogState, Option<Source>), ContainerError> {
    if h.log_guid.is_zero() {
        return Ok((LogState::Empty, None));
    }
    let len = u64::from(h.log_length);
    let log = read_vec(&**file, h.log_offset, len, MAX_LOG_BYTES).map_err(|e| {
        corrupt(
            h.at + 68,
            format!(
                "the log ({len} bytes at offset {}) is unreadable: {e}",
                h.log_offset
            ),
        )
    })?;

    let mut entries = Vec::new();
    let mut hashed = 0usize;
    for start in (0..log.len()).step_by(SECTOR) {
        if let Some(e) = entry(&log, start, h.log_guid, &mut hashed) {
            entries.push(e);
        }
        if hashed > MAX_HASHED_BYTES {
            return Err(corrupt(
                h.log_offset + start as u64,
                format!(
                    "the log's entries overlap too much to check ({hashed} bytes hashed by entry {}); its checksums are mostly bad or it is hostile",
                    start / SECTOR
                ),
            ));
        }
    }
    let by_start: HashMap<usize, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.start, i))
        .collect();
    let successor = |i: usize| {
        let e: &Entry = &entries[i];
        by_start
            .get(&((e.start + e.len) % log.len()))
            .copied()
            .filter(|&n| entries[n].sequence == e.sequence.wrapping_add(1))
    };
    // Sequence numbers only grow along a sequence, so sequences are simple paths; we follow
    // each from an entry nothing precedes.
    let mut preceded = vec![false; entries.len()];
    for i in 0..entries.len() {
        if let Some(n) = successor(i) {
            preceded[n] = true;
        }
    }

    // 2.3.3: a sequence is a run of valid entries, each right after the previous one in the
    // circular log with the next sequence number; it is complete when its head's Tail names
    // one of its entries. The active sequence is the complete one with the highest head.
    let mut steps = 0usize;
    let mut best: Option<Vec<usize>> = None;
    for first in (0..entries.len()).filter(|&i| !preceded[i]) {
        let mut chain = vec![first];
        loop {
            steps += 1;
            if steps > MAX_SEQUENCE_STEPS {
                return Err(corrupt(
                    h.log_offset,
                    "the log's entries form too many overlapping sequences to search",
                ));
            }
            let Some(&cur) = chain.last() else { break };
            match successor(cur) {
                Some(n) => chain.push(n),
                None => break,
            }
        }
        let Some(&head) = chain.last() else { continue };
        let tail = entries[head].tail;
        let Some(from) = chain.iter().position(|&i| entries[i].start == tail) else {
            continue;
        };
        let candidate = chain.split_off(from);
        let better = best.as_ref().is_none_or(|b| {
            b.last()
                .is_some_and(|&bh| entries[head].sequence > entries[bh].sequence)
        });
        if better {
            best = Some(candidate);
        }
    }
    let Some(active) = best else {
        return Ok((LogState::NoEntries, None));
    };
    let (Some(&first), Some(&head)) = (active.first(), active.last()) else {
        return Ok((LogState::NoEntries, None));
    };
    let head_entry = &entries[head];
    if head_entry.flushed > file.len() {
        return Err(corrupt(
            h.log_offset + head_entry.start as u64,
            format!(
                "the log's FlushedFileOffset is {} but the file is only {} bytes (truncated image?)",
                head_entry.flushed,
                file.len()
            ),
        ));
    }
    let mut overlay = Overlay {
        file: Arc::clone(file),
        len: file.len().max(head_entry.last),
        pages: BTreeMap::new(),
        zeros: Vec::new(),
    };
    let mut writes = 0;
    for &i in &active {
        for op in &entries[i].ops {
            overlay.apply(op.clone());
            writes += 1;
        }
    }
    let state = LogState::Replayed {
        entries: active.len(),
        first_sequence: entries[first].sequence,
        last_sequence: head_entry.sequence,
        writes,
    };
    Ok((state, Some(Arc::new(overlay))))
}

/// The file as the log replay leaves it: 4 KiB sectors and zeroed ranges over the original,
/// zeros past its end up to the log's LastFileOffset.
struct Overlay {
    file: Source,
    len: u64,
    /// Sector offset → contents, each newer than every zero range covering it.
    pages: BTreeMap<u64, Arc<Vec<u8>>>,
    zeros: Vec<(u64, u64)>,
}

impl Overlay {
    fn apply(&mut self, op: Op) {
        match op {
            Op::Data(at, sector) => {
                self.pages.insert(at, sector);
            }
            Op::Zero(at, len) => {
                let end = at.saturating_add(len);
                let older: Vec<u64> = self.pages.range(at..end).map(|(&k, _)| k).collect();
                for k in older {
                    self.pages.remove(&k);
                }
                self.zeros.push((at, end));
            }
        }
    }
}

impl ByteSource for Overlay {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        let end = offset + buf.len() as u64;
        let in_file = self.file.len().saturating_sub(offset).min(buf.len() as u64) as usize;
        self.file.read_at(offset, &mut buf[..in_file])?;
        buf[in_file..].fill(0);
        for &(z0, z1) in &self.zeros {
            let (a, b) = (z0.max(offset), z1.min(end));
            if a < b {
                buf[(a - offset) as usize..(b - offset) as usize].fill(0);
            }
        }
        let from = offset.saturating_sub(SECTOR as u64 - 1);
        for (&at, sector) in self.pages.range(from..end) {
            let (a, b) = (at.max(offset), (at + SECTOR as u64).min(end));
            if a < b {
                buf[(a - offset) as usize..(b - offset) as usize]
                    .copy_from_slice(&sector[(a - at) as usize..(b - at) as usize]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_io::MemSource;

    const GUID: [u8; 16] = *b"log-guid-for-tst";
    const LOG_AT: usize = 64 * 1024;
    const LOG_LEN: usize = 64 * 1024;

    /// An entry of `seq` at log sector `at`, tail at sector `tail`, with `writes` (file
    /// offset, Some(byte) for a sector of it, None for 4 KiB of zeros).
    fn put_entry(file: &mut [u8], at: usize, seq: u64, tail: usize, writes: &[(u64, Option<u8>)]) {
        let data = writes.iter().filter(|w| w.1.is_some()).count();
        let len = (1 + data) * SECTOR;
        let mut e = vec![0u8; len];
        e[0..4].copy_from_slice(b"loge");
        e[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        e[12..16].copy_from_slice(&((tail * SECTOR) as u32).to_le_bytes());
        e[16..24].copy_from_slice(&seq.to_le_bytes());
        e[24..28].copy_from_slice(&(writes.len() as u32).to_le_bytes());
        e[32..48].copy_from_slice(&GUID);
        let mut s = SECTOR;
        for (i, (offset, w)) in writes.iter().enumerate() {
            let d = 64 + 32 * i;
            match w {
                Some(byte) => {
                    e[d..d + 4].copy_from_slice(b"desc");
                    e[d + 4..d + 16].fill(*byte);
                    e[s..s + 4].copy_from_slice(b"data");
                    e[s + 4..s + 8].copy_from_slice(&((seq >> 32) as u32).to_le_bytes());
                    e[s + 8..s + 4092].fill(*byte);
                    e[s + 4092..s + 4096].copy_from_slice(&(seq as u32).to_le_bytes());
                    s += SECTOR;
                }
                None => {
                    e[d..d + 4].copy_from_slice(b"zero");
                    e[d + 8..d + 16].copy_from_slice(&(SECTOR as u64).to_le_bytes());
                }
            }
            e[d + 16..d + 24].copy_from_slice(&offset.to_le_bytes());
            e[d + 24..d + 32].copy_from_slice(&seq.to_le_bytes());
        }
        let c = crc32c(&[&e]);
        e[4..8].copy_from_slice(&c.to_le_bytes());
        let start = LOG_AT + at * SECTOR;
        file[start..start + len].copy_from_slice(&e);
    }

    fn header() -> Header {
        Header {
            at: 0,
            sequence: 1,
            log_guid: Guid::from_bytes(&GUID, 0),
            log_version: 0,
            version: 1,
            log_length: LOG_LEN as u32,
            log_offset: LOG_AT as u64,
        }
    }

    fn replayed(file: Vec<u8>) -> (LogState, Option<Source>) {
        let file: Source = Arc::new(MemSource(file));
        replay(&file, &header()).unwrap()
    }

    fn byte_at(view: &Source, at: u64) -> u8 {
        let mut b = [0u8; 1];
        view.read_at(at, &mut b).unwrap();
        b[0]
    }

    #[test]
    fn the_complete_sequence_with_the_highest_head_is_replayed_in_order() {
        let mut f = vec![0xaau8; 256 * 1024];
        // A stale complete sequence (5, 6), and the active one (7, 8) whose head's tail names
        // its first entry: 7 writes 0x11 then zeros, 8 overwrites part of it with 0x22.
        put_entry(&mut f, 0, 5, 0, &[(0, Some(0x55))]);
        put_entry(&mut f, 2, 6, 0, &[(0, Some(0x66))]);
        put_entry(&mut f, 6, 7, 6, &[(4096, Some(0x11)), (8192, None)]);
        put_entry(&mut f, 8, 8, 6, &[(8192, Some(0x22))]);
        let (state, view) = replayed(f);
        assert_eq!(
            state,
            LogState::Replayed {
                entries: 2,
                first_sequence: 7,
                last_sequence: 8,
                writes: 3
            }
        );
        let view = view.unwrap();
        assert_eq!(
            byte_at(&view, 0),
            0xaa,
            "the stale sequence is not replayed"
        );
        assert_eq!(byte_at(&view, 4096), 0x11);
        assert_eq!(byte_at(&view, 8191), 0x11);
        assert_eq!(byte_at(&view, 8192), 0x22, "zeroed, then written again");
        assert_eq!(byte_at(&view, 12288), 0xaa);
        // A read across all of it.
        let mut buf = vec![0u8; 3 * 4096];
        view.read_at(4000, &mut buf).unwrap();
        assert_eq!(buf[0], 0xaa);
        assert_eq!(buf[96], 0x11);
        assert_eq!(buf[96 + 4096], 0x22);
    }

    #[test]
    fn a_head_whose_tail_is_outside_its_sequence_replays_nothing() {
        let mut f = vec![0u8; 256 * 1024];
        put_entry(&mut f, 0, 3, 9, &[(0, Some(1))]);
        assert_eq!(replayed(f).0, LogState::NoEntries);
    }

    #[test]
    fn a_log_promising_more_file_than_there_is_is_an_error() {
        let mut f = vec![0u8; 256 * 1024];
        put_entry(&mut f, 0, 3, 0, &[(0, Some(1))]);
        // FlushedFileOffset past the end (the CRC covers it: recompute).
        let at = LOG_AT;
        f[at + 48..at + 56].copy_from_slice(&(1u64 << 40).to_le_bytes());
        f[at + 4..at + 8].fill(0);
        let c = crc32c(&[&f[at..at + 2 * SECTOR]]);
        f[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
        let file: Source = Arc::new(MemSource(f));
        let e = replay(&file, &header()).err().unwrap().to_string();
        assert!(e.contains("FlushedFileOffset"), "{e}");
    }
}
