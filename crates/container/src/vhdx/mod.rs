//! A read-only VHDX reader. Specification: Microsoft "[MS-VHDX]: Virtual Hard Disk v2 (VHDX)
//! File Format". The virtual disk is exposed as a [`ByteSource`] that reads exactly like
//! `qemu-img convert -f vhdx -O raw`.
//!
//! A log that still holds entries (the disk was not closed cleanly) is replayed in memory
//! (`log.rs`), never into the file; qemu refuses to open such an image read-only, so the
//! report says so. A differencing disk's parent is never opened: the blocks and sectors it
//! would supply read as zeros and are counted.

mod header;
mod log;
// The QCOW2 reader's small LRU, shared by path until it moves to the crate root.
mod metadata;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use preflight_io::{ByteSource, IoError, Source, check_bounds, le, read_vec};

use crate::info::ContainerInfo;
use crate::lru::Lru;
use crate::{Container, ContainerError, Format};
use log::LogState;

const LAYER: &str = "vhdx";
const MIB: u64 = 1024 * 1024;
/// 32 MiB of BAT covers 4 TiB in 1 MiB blocks, 64 TiB (the format's maximum) in 16 MiB ones.
const MAX_BAT_BYTES: u64 = 32 * MIB;
/// Memory for cached sector-bitmap pieces (differencing disks only).
const BITMAP_CACHE_BYTES: u64 = 4 * MIB;

/// Payload block states ([MS-VHDX] 2.5.1.1); 5 is the UNMAPPED of the spec's draft 0.95,
/// which qemu also reads as zeros.
const PAYLOAD_NOT_PRESENT: u64 = 0;
const PAYLOAD_UNDEFINED: u64 = 1;
const PAYLOAD_ZERO: u64 = 2;
const PAYLOAD_UNMAPPED: u64 = 3;
const PAYLOAD_UNMAPPED_V095: u64 = 5;
const PAYLOAD_FULLY_PRESENT: u64 = 6;
const PAYLOAD_PARTIALLY_PRESENT: u64 = 7;
/// Sector bitmap block state (2.5.1.2).
const SB_BLOCK_PRESENT: u64 = 6;

pub(crate) fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Vhdx, offset, message)
}

/// A GUID as stored on disk ([MS-DTYP] 2.3.4.2: Data1, Data2, Data3 little-endian, Data4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Guid([u8; 16]);

impl Guid {
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The 16 bytes at `at`, zero if out of range.
    pub fn from_bytes(b: &[u8], at: usize) -> Guid {
        let mut g = [0u8; 16];
        if let Some(s) = b.get(at..at + 16) {
            g.copy_from_slice(s);
        }
        Guid(g)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
            le::u32(b, 0),
            le::u16(b, 4),
            le::u16(b, 6),
            b[8],
            b[9]
        )?;
        b[10..].iter().try_for_each(|x| write!(f, "{x:02x}"))
    }
}

/// Opens a VHDX image as a [`Container`].
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let file_len = file.len();
    let mut warnings = Vec::new();
    let first = header::parse(&*file, &mut warnings)?;
    let (log, replayed) = log::replay(&file, &first.header)?;
    // After a replay everything is read through the replayed view: the log may rewrite the
    // region table, the metadata and the BAT as well as data.
    let (file, s) = match replayed {
        Some(view) => {
            let s = header::parse(&*view, &mut Vec::new())?;
            if let LogState::Replayed { entries, .. } = &log {
                warnings.push(format!(
                    "The VHDX log was not empty: the disk was not closed cleanly (a crash, or copied while in use). Preflight replayed its {entries} entries in memory (the file is unchanged); qemu-img refuses to open the image read-only until `qemu-img check -r all IMAGE.vhdx` replays them into the file, and Hyper-V replays them when it opens the disk."
                ));
            }
            (view, s)
        }
        None => (file, first),
    };
    let h = &s.header;
    let m = metadata::parse(&*file, s.metadata, &mut warnings)?;

    let block_size = u64::from(m.block_size);
    // 2.4: chunk ratio = 2^23 × logical sector size / block size: the payload blocks one
    // sector bitmap block (1 MiB, a bit per sector) covers. Powers of two, so exact; ≥ 16.
    let chunk_ratio = (1u64 << 23) * u64::from(m.logical_sector) / block_size;
    let data_blocks = m.virtual_size.div_ceil(block_size);
    let bitmap_blocks = data_blocks.div_ceil(chunk_ratio);
    // 2.5: a differencing disk has a sector bitmap entry after every chunk (the last one
    // padded); other disks only between chunks.
    let entries = if m.has_parent {
        bitmap_blocks * (chunk_ratio + 1)
    } else {
        data_blocks + data_blocks.saturating_sub(1) / chunk_ratio
    };
    let bat_len = entries * 8;
    if bat_len > u64::from(s.bat.length) {
        return Err(corrupt(
            s.bat.offset,
            format!(
                "the BAT region ({} bytes) is too small for {entries} entries ({data_blocks} blocks of {block_size} bytes)",
                s.bat.length
            ),
        ));
    }
    let bat = read_vec(&*file, s.bat.offset, bat_len, MAX_BAT_BYTES).map_err(|e| {
        corrupt(
            s.bat.offset,
            format!("BAT ({entries} entries) unreadable: {e}"),
        )
    })?;

    let mut allocated = 0u64;
    let mut beyond = 0u64;
    let mut first_beyond = None;
    let mut unknown = 0u64;
    // Blocks per state, for the report: a fixed VHDX made by qemu keeps its zero blocks
    // allocated in the file but in the ZERO state.
    let mut states = [0u64; 8];
    for b in 0..data_blocks {
        let e = le::u64(&bat, ((b + b / chunk_ratio) * 8) as usize);
        if let Some(n) = states.get_mut((e & 7) as usize) {
            *n += 1;
        }
        match e & 7 {
            PAYLOAD_FULLY_PRESENT | PAYLOAD_PARTIALLY_PRESENT => {
                allocated += 1;
                let at = e >> 20 << 20;
                if at.saturating_add(block_size) > file.len() {
                    beyond += 1;
                    first_beyond.get_or_insert((b, at));
                }
            }
            PAYLOAD_NOT_PRESENT
            | PAYLOAD_UNDEFINED
            | PAYLOAD_ZERO
            | PAYLOAD_UNMAPPED
            | PAYLOAD_UNMAPPED_V095 => {}
            _ => unknown += 1,
        }
    }
    if let Some((b, at)) = first_beyond {
        warnings.push(format!(
            "{beyond} payload blocks lie (partly) beyond the end of the file, the first one block {b} at offset {at}: the image is truncated, and reading them fails."
        ));
    }
    if unknown > 0 {
        warnings.push(format!(
            "{unknown} BAT entries have an unknown payload block state; reading those blocks fails."
        ));
    }

    let subformat = if m.has_parent {
        "differencing"
    } else if m.leave_blocks_allocated {
        "fixed"
    } else {
        "dynamic"
    };
    let mut info = ContainerInfo::plain(Format::Vhdx, m.virtual_size, file_len);
    info.subformat = Some(subformat.to_string());
    info.version = Some("1".to_string());
    info.block_size = Some(block_size);
    info.allocated_size = Some(allocated * block_size);
    let mut details = vec![
        ("creator".to_string(), s.creator.clone()),
        (
            "logical sector size".to_string(),
            m.logical_sector.to_string(),
        ),
        (
            "physical sector size".to_string(),
            m.physical_sector
                .map_or_else(|| "not set".to_string(), |p| p.to_string()),
        ),
        (
            "log".to_string(),
            match log {
                LogState::Empty => "empty".to_string(),
                LogState::Replayed {
                    entries,
                    first_sequence,
                    last_sequence,
                    writes,
                } => format!(
                    "replayed in memory: {entries} entries (sequence {first_sequence} to {last_sequence}), {writes} writes"
                ),
                LogState::NoEntries => format!(
                    "no entries to replay (log GUID {} set, version {}, {} bytes at offset {})",
                    h.log_guid, h.log_version, h.log_length, h.log_offset
                ),
            },
        ),
        ("header sequence number".to_string(), h.sequence.to_string()),
    ];
    let names = [
        "not present",
        "undefined",
        "zero",
        "unmapped",
        "state 4",
        "unmapped (v0.95)",
        "fully present",
        "partially present",
    ];
    let summary: Vec<String> = names
        .iter()
        .zip(states)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    details.push(("payload blocks".to_string(), summary.join(", ")));
    if let Some(id) = m.page83 {
        details.push(("virtual disk ID (page 83)".to_string(), id.to_string()));
    }
    if m.has_parent {
        let value = |key: &str| {
            m.parent_locator
                .iter()
                .find(|(k, v)| k == key && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        // 2.6.2.6.1: relative_path, volume_path and absolute_win32_path name the parent.
        info.parent = value("relative_path")
            .or_else(|| value("absolute_win32_path"))
            .or_else(|| value("volume_path"));
        for (k, v) in &m.parent_locator {
            details.push((format!("parent locator {k}"), v.clone()));
        }
    }
    info.details = details;
    info.warnings = warnings;

    let sectors_per_block = block_size / u64::from(m.logical_sector);
    let piece = sectors_per_block / 8;
    let missing = Arc::new(AtomicU64::new(0));
    let disk = Vhdx {
        file,
        size: m.virtual_size,
        block_size,
        chunk_ratio,
        sector: u64::from(m.logical_sector),
        bat,
        bat_offset: s.bat.offset,
        has_parent: m.has_parent,
        bitmaps: Mutex::new(Lru::new((BITMAP_CACHE_BYTES / piece.max(1)).max(4) as usize)),
        missing: Arc::clone(&missing),
    };
    Ok(Container {
        info,
        disk: Arc::new(disk),
        missing_backing_bytes: m.has_parent.then_some(missing),
    })
}

struct Vhdx {
    file: Source,
    size: u64,
    block_size: u64,
    chunk_ratio: u64,
    sector: u64,
    /// The raw BAT, decoded entry by entry.
    bat: Vec<u8>,
    bat_offset: u64,
    has_parent: bool,
    /// Per payload block: its piece of the sector bitmap (a bit per logical sector).
    bitmaps: Mutex<Lru<Arc<Vec<u8>>>>,
    missing: Arc<AtomicU64>,
}

/// What a run of guest bytes maps to.
enum Mapping {
    Data(u64),
    Zero,
    /// The parent's: zeros, counted.
    Parent,
}

impl Vhdx {
    fn entry(&self, index: u64) -> (u64, u64) {
        let e = usize::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(8))
            .map_or(0, |at| le::u64(&self.bat, at));
        (e & 7, e >> 20 << 20)
    }

    fn payload(&self, block: u64) -> (u64, u64) {
        self.entry(block + block / self.chunk_ratio)
    }

    /// The bitmap piece of payload `block`: `sectors per block / 8` bytes of the sector bitmap
    /// block of its chunk (2.5.1.2; bit `i % 8` of byte `i / 8`, least significant first).
    fn bitmap(&self, block: u64) -> Result<Arc<Vec<u8>>, IoError> {
        let mut cache = self.bitmaps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = cache.get(block) {
            return Ok(b);
        }
        let chunk = block / self.chunk_ratio;
        let index = chunk * (self.chunk_ratio + 1) + self.chunk_ratio;
        let (state, sb_at) = self.entry(index);
        if state != SB_BLOCK_PRESENT {
            return Err(IoError::corrupt(
                LAYER,
                self.bat_offset.saturating_add(index * 8),
                format!(
                    "payload block {block} is partially present but the sector bitmap block of its chunk is not (state {state})"
                ),
            ));
        }
        let piece = self.block_size / self.sector / 8;
        let at = sb_at.saturating_add((block % self.chunk_ratio) * piece);
        let mut bits = vec![0u8; piece as usize];
        self.file.read_at(at, &mut bits).map_err(|e| {
            IoError::corrupt(
                LAYER,
                at,
                format!("sector bitmap of payload block {block} unreadable: {e}"),
            )
        })?;
        let bits = Arc::new(bits);
        cache.put(block, Arc::clone(&bits));
        Ok(bits)
    }

    /// Map guest byte `pos`: the mapping and how many bytes (at most `want`) share it.
    fn map(&self, pos: u64, want: u64) -> Result<(Mapping, u64), IoError> {
        let block = pos / self.block_size;
        let in_block = pos % self.block_size;
        let n = (self.block_size - in_block).min(want);
        let (state, at) = self.payload(block);
        let entry_at = self
            .bat_offset
            .saturating_add((block + block / self.chunk_ratio) * 8);
        Ok(match state {
            PAYLOAD_FULLY_PRESENT => (Mapping::Data(at.saturating_add(in_block)), n),
            PAYLOAD_NOT_PRESENT if self.has_parent => (Mapping::Parent, n),
            PAYLOAD_NOT_PRESENT
            | PAYLOAD_UNDEFINED
            | PAYLOAD_ZERO
            | PAYLOAD_UNMAPPED
            | PAYLOAD_UNMAPPED_V095 => (Mapping::Zero, n),
            PAYLOAD_PARTIALLY_PRESENT if self.has_parent => {
                let bits = self.bitmap(block)?;
                let bit = |s: u64| {
                    bits.get((s / 8) as usize)
                        .is_some_and(|b| b & (1 << (s % 8)) != 0)
                };
                let first = in_block / self.sector;
                let here = bit(first);
                let sectors = self.block_size / self.sector;
                let mut end = first + 1;
                while end < sectors && end * self.sector < in_block + n && bit(end) == here {
                    end += 1;
                }
                let n = n.min(end * self.sector - in_block);
                if here {
                    (Mapping::Data(at.saturating_add(in_block)), n)
                } else {
                    (Mapping::Parent, n)
                }
            }
            PAYLOAD_PARTIALLY_PRESENT => {
                return Err(IoError::corrupt(
                    LAYER,
                    entry_at,
                    format!("payload block {block} is partially present in a disk with no parent"),
                ));
            }
            other => {
                return Err(IoError::corrupt(
                    LAYER,
                    entry_at,
                    format!("payload block {block} has unknown state {other}"),
                ));
            }
        })
    }
}

impl ByteSource for Vhdx {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let left = (buf.len() - done) as u64;
            let (mapping, n) = self.map(pos, left)?;
            let mut n = n as usize;
            match mapping {
                Mapping::Data(at) => {
                    // Consecutive blocks are usually consecutive in the file too: one read.
                    while ((done + n) as u64) < buf.len() as u64 {
                        let next = pos + n as u64;
                        match self.map(next, (buf.len() - done - n) as u64)? {
                            (Mapping::Data(a2), n2) if a2 == at.saturating_add(n as u64) => {
                                n += n2 as usize
                            }
                            _ => break,
                        }
                    }
                    self.file
                        .read_at(at, &mut buf[done..done + n])
                        .map_err(|e| match e {
                            IoError::OutOfBounds { .. } => IoError::corrupt(
                                LAYER,
                                at,
                                format!(
                                    "data for guest offset {pos} lies beyond the end of the file (truncated image?)"
                                ),
                            ),
                            other => other,
                        })?;
                }
                Mapping::Zero => buf[done..done + n].fill(0),
                Mapping::Parent => {
                    buf[done..done + n].fill(0);
                    self.missing.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_io::MemSource;

    const KIB: usize = 1024;
    const M: usize = 1024 * 1024;
    const HEADERS: [usize; 2] = [64 * KIB, 128 * KIB];
    const LOG_AT: usize = 320 * KIB;
    const BAT_AT: usize = 384 * KIB;
    const META_AT: usize = 448 * KIB;

    fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
        b[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn fix_crc(b: &mut [u8], at: usize, len: usize) {
        put(b, at + 4, &[0; 4]);
        let c = preflight_io::crc32c::crc32c(&b[at..at + len]);
        put(b, at + 4, &c.to_le_bytes());
    }

    /// A 4 MiB VHDX in 1 MiB blocks, compact (regions below 1 MiB), block 1 holding 0x5a at
    /// 1 MiB in the file; `edit` changes it before checksums are computed.
    fn image(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = vec![0u8; 2 * M];
        put(&mut b, 0, b"vhdxfile");
        for (i, &h) in HEADERS.iter().enumerate() {
            put(&mut b, h, b"head");
            put(&mut b, h + 8, &(i as u64 + 1).to_le_bytes());
            put(&mut b, h + 66, &1u16.to_le_bytes());
            put(&mut b, h + 68, &(64 * KIB as u32).to_le_bytes());
            put(&mut b, h + 72, &(LOG_AT as u64).to_le_bytes());
        }
        let r = 192 * KIB;
        put(&mut b, r, b"regi");
        put(&mut b, r + 8, &2u32.to_le_bytes());
        for (i, (guid, at, len)) in [
            (header_guid("bat"), BAT_AT, 64 * KIB),
            (header_guid("metadata"), META_AT, 128 * KIB),
        ]
        .into_iter()
        .enumerate()
        {
            let e = r + 16 + i * 32;
            put(&mut b, e, &guid.0);
            put(&mut b, e + 16, &(at as u64).to_le_bytes());
            put(&mut b, e + 24, &(len as u32).to_le_bytes());
            put(&mut b, e + 28, &1u32.to_le_bytes());
        }
        put(&mut b, META_AT, b"metadata");
        let items: [(&str, Vec<u8>); 4] = [
            (
                "caa16737",
                [(M as u32).to_le_bytes(), 0u32.to_le_bytes()].concat(),
            ),
            ("2fa54224", (4 * M as u64).to_le_bytes().to_vec()),
            ("8141bf1d", 512u32.to_le_bytes().to_vec()),
            ("cda348c7", 4096u32.to_le_bytes().to_vec()),
        ];
        let mut data_at = 64 * KIB;
        put(&mut b, META_AT + 10, &(items.len() as u16).to_le_bytes());
        for (i, (id, value)) in items.iter().enumerate() {
            let e = META_AT + 32 + i * 32;
            put(&mut b, e, &metadata_guid(id).0);
            put(&mut b, e + 16, &(data_at as u32).to_le_bytes());
            put(&mut b, e + 20, &(value.len() as u32).to_le_bytes());
            put(&mut b, e + 24, &4u32.to_le_bytes());
            put(&mut b, META_AT + data_at, value);
            data_at += value.len();
        }
        // Block 0 zero, block 1 at 1 MiB, blocks 2 and 3 not present.
        put(&mut b, BAT_AT, &PAYLOAD_ZERO.to_le_bytes());
        put(
            &mut b,
            BAT_AT + 8,
            &(M as u64 | PAYLOAD_FULLY_PRESENT).to_le_bytes(),
        );
        b[M..2 * M].fill(0x5a);
        edit(&mut b);
        for &h in &HEADERS {
            fix_crc(&mut b, h, 4096);
        }
        let t = b[r..r + 64 * KIB].to_vec();
        put(&mut b, 256 * KIB, &t);
        fix_crc(&mut b, r, 64 * KIB);
        fix_crc(&mut b, 256 * KIB, 64 * KIB);
        b
    }

    /// The region GUIDs ([MS-VHDX] 2.2.3.2).
    fn header_guid(name: &str) -> Guid {
        match name {
            "bat" => Guid::new(
                0x2dc2_7766,
                0xf623,
                0x4200,
                [0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08],
            ),
            _ => Guid::new(
                0x8b7c_a206,
                0x4790,
                0x4b9a,
                [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
            ),
        }
    }

    fn metadata_guid(first: &str) -> Guid {
        match first {
            "caa16737" => Guid::new(
                0xcaa1_6737,
                0xfa36,
                0x4d43,
                [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
            ),
            "2fa54224" => Guid::new(
                0x2fa5_4224,
                0xcd1b,
                0x4876,
                [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
            ),
            "8141bf1d" => Guid::new(
                0x8141_bf1d,
                0xa96f,
                0x4709,
                [0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f],
            ),
            _ => Guid::new(
                0xcda3_48c7,
                0x445d,
                0x4471,
                [0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56],
            ),
        }
    }

    fn open_mem(b: Vec<u8>) -> Result<Container, ContainerError> {
        open(Arc::new(MemSource(b)))
    }

    #[test]
    fn a_compact_image_reads_its_blocks() {
        let c = open_mem(image(|_| {})).unwrap();
        assert_eq!(c.info.virtual_size, 4 * MIB);
        assert_eq!(c.info.subformat.as_deref(), Some("dynamic"));
        assert_eq!(c.info.allocated_size, Some(MIB));
        assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
        let mut buf = vec![1u8; 4 * M];
        c.disk.read_at(0, &mut buf).unwrap();
        assert!(buf[..M].iter().all(|&x| x == 0));
        assert!(buf[M..2 * M].iter().all(|&x| x == 0x5a));
        assert!(buf[2 * M..].iter().all(|&x| x == 0));
    }

    #[test]
    fn guid_display_is_the_registry_form() {
        assert_eq!(
            header_guid("bat").to_string(),
            "2dc27766-f623-4200-9d64-115e9bfd4a08"
        );
    }

    #[test]
    fn the_newer_valid_header_wins_and_a_bad_one_is_reported() {
        // Header 2 (sequence 2) damaged after its checksum: header 1 is used, with a warning.
        let mut b = image(|_| {});
        b[HEADERS[1] + 100] ^= 1;
        let c = open_mem(b).unwrap();
        assert_eq!(
            c.info
                .details
                .iter()
                .find(|(k, _)| k == "header sequence number")
                .map(|(_, v)| v.as_str()),
            Some("1")
        );
        assert!(c.info.warnings.iter().any(|w| w.contains("131072")));
    }

    /// Log entry headers with the header's LogGuid and a bad CRC: a few are no log at all; a
    /// log full of them (each would cost a CRC over the whole log) is refused after 128 MiB of
    /// hashing.
    fn with_bad_log_entries(log_len: usize) -> Vec<u8> {
        image(|b| {
            let log_at = b.len();
            b.resize(log_at + log_len, 0);
            for &h in &HEADERS {
                put(b, h + 48, b"0123456789abcdef");
                put(b, h + 68, &(log_len as u32).to_le_bytes());
                put(b, h + 72, &(log_at as u64).to_le_bytes());
            }
            for s in (log_at..log_at + log_len).step_by(4096) {
                put(b, s, b"loge");
                put(b, s + 8, &(log_len as u32).to_le_bytes());
                put(b, s + 32, b"0123456789abcdef");
            }
        })
    }

    #[test]
    fn log_entries_with_bad_checksums_do_not_count_and_cannot_stall() {
        let c = open_mem(with_bad_log_entries(64 * KIB)).unwrap();
        assert!(
            c.info
                .details
                .iter()
                .any(|(k, v)| k == "log" && v.starts_with("no entries"))
        );
        let e = open_mem(with_bad_log_entries(M)).err().unwrap().to_string();
        assert!(
            e.contains("the log's entries overlap too much to check"),
            "{e}"
        );
    }

    #[test]
    fn hostile_tables_fail_cleanly() {
        // Partially present without a parent: opens, reading that block fails.
        let c = open_mem(image(|b| {
            put(
                b,
                BAT_AT + 8,
                &(M as u64 | PAYLOAD_PARTIALLY_PRESENT).to_le_bytes(),
            )
        }))
        .unwrap();
        let mut buf = [0u8; 512];
        let e = c.disk.read_at(MIB, &mut buf).unwrap_err().to_string();
        assert!(
            e.contains("partially present in a disk with no parent"),
            "{e}"
        );
        // An unknown state: a warning, then an error naming the block.
        let c = open_mem(image(|b| put(b, BAT_AT + 16, &4u64.to_le_bytes()))).unwrap();
        assert!(
            c.info
                .warnings
                .iter()
                .any(|w| w.contains("unknown payload block state"))
        );
        let e = c.disk.read_at(2 * MIB, &mut buf).unwrap_err().to_string();
        assert!(e.contains("payload block 2 has unknown state 4"), "{e}");
        // A block beyond the end of the file.
        let c = open_mem(image(|b| {
            put(
                b,
                BAT_AT + 8,
                &((1u64 << 40) | PAYLOAD_FULLY_PRESENT).to_le_bytes(),
            )
        }))
        .unwrap();
        assert!(c.info.warnings.iter().any(|w| w.contains("truncated")));
        let e = c.disk.read_at(MIB, &mut buf).unwrap_err().to_string();
        assert!(e.contains("beyond the end of the file"), "{e}");
        // A block offset at the top of the range: no overflow.
        let c = open_mem(image(|b| {
            put(
                b,
                BAT_AT + 8,
                &(!7u64 | PAYLOAD_FULLY_PRESENT).to_le_bytes(),
            )
        }))
        .unwrap();
        assert!(c.disk.read_at(2 * MIB - 512, &mut buf).is_err());
        // A block size that is not a power of two, a virtual size above 64 TiB.
        let e = open_mem(image(|b| {
            put(b, META_AT + 64 * KIB, &3_000_000u32.to_le_bytes())
        }))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("block size 3000000"), "{e}");
        let e = open_mem(image(|b| {
            put(b, META_AT + 64 * KIB + 8, &u64::MAX.to_le_bytes())
        }))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("above the VHDX maximum"), "{e}");
        // Too large for its BAT region (64 KiB holds 8192 entries; 16 GiB needs 16384+).
        let e = open_mem(image(|b| {
            put(b, META_AT + 64 * KIB + 8, &(16u64 << 30).to_le_bytes())
        }))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("too small"), "{e}");
        // An unknown required metadata item.
        let e = open_mem(image(|b| {
            put(b, META_AT + 10, &5u16.to_le_bytes());
            put(b, META_AT + 32 + 4 * 32, &[0xab; 16]);
            put(b, META_AT + 32 + 4 * 32 + 24, &4u32.to_le_bytes());
        }))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("marked required"), "{e}");
        // Both headers broken.
        let mut b = image(|_| {});
        b[HEADERS[0] + 100] ^= 1;
        b[HEADERS[1] + 100] ^= 1;
        let e = open_mem(b).err().unwrap().to_string();
        assert!(e.contains("neither VHDX header"), "{e}");
    }
}
