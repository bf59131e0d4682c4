//! The sparse extent header (`KDMV`), as specified in VMware "Virtual Disk Format 5.0",
//! "Hosted Sparse Extent Header", and the footer copy a streamOptimized extent may carry at its
//! end ("Stream-Optimized Compressed Sparse Extents"). Every field is checked before anything
//! is allocated from it.

use preflight_io::{ByteSource, le};

use crate::{ContainerError, Format};

pub const SECTOR: u64 = 512;
/// `gdOffset` value meaning "the grain directory is at the end; read the footer".
pub const GD_AT_END: u64 = u64::MAX;

/// Header flags (spec, "flags").
const FLAG_NL_DETECT: u32 = 1 << 0;
/// QEMU's name for bit 2: a grain table entry of 1 means "zeroed grain" (the spec's
/// "zeroed-grain GTE" feature, version 2 onwards).
const FLAG_ZERO_GRAIN: u32 = 1 << 2;
const FLAG_MARKERS: u32 = 1 << 17;

/// `compressAlgorithm` 1 is deflate, in a zlib wrapper (RFC 1950).
const COMPRESSION_DEFLATE: u16 = 1;

/// Metadata marker types (spec, "Stream-Optimized Compressed Sparse Extents").
pub const MARKER_EOS: u32 = 0;
pub const MARKER_FOOTER: u32 = 3;

/// QEMU refuses grain tables of more than 512 entries (the spec fixes 512) and grains of
/// more than 0x200000 sectors (1 GiB).
pub const MAX_GTES_PER_GT: u32 = 512;
pub const MAX_GRAIN_SECTORS: u64 = 0x20_0000;
/// A compressed grain is decompressed whole in memory: refuse grains above this.
pub const MAX_COMPRESSED_GRAIN: u64 = 16 * 1024 * 1024;
/// The grain directory is read whole. 4 MiB is 1 M grain tables: 2 TiB (the format's
/// limit) with 512-entry tables of 4 KiB grains, half the smallest grain the spec allows.
pub const MAX_GD_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Header {
    pub version: u32,
    pub flags: u32,
    /// In sectors.
    pub capacity: u64,
    /// In sectors.
    pub grain_sectors: u64,
    pub descriptor_offset: u64,
    pub descriptor_size: u64,
    pub gtes_per_gt: u32,
    /// Where the grain directory is, in sectors (the footer's value when the header said
    /// [`GD_AT_END`]).
    pub gd_offset: u64,
    /// Sectors before the first grain.
    pub overhead: u64,
    pub unclean_shutdown: bool,
    pub compression: u16,
    /// The header was taken from the footer at the end of the file.
    pub from_footer: bool,
}

impl Header {
    pub fn grain_bytes(&self) -> u64 {
        self.grain_sectors * SECTOR
    }
    pub fn compressed(&self) -> bool {
        self.compression == COMPRESSION_DEFLATE
    }
    pub fn markers(&self) -> bool {
        self.flags & FLAG_MARKERS != 0
    }
    pub fn zero_grains(&self) -> bool {
        self.flags & FLAG_ZERO_GRAIN != 0
    }
    /// Sectors one grain table covers.
    pub fn gt_coverage(&self) -> u64 {
        u64::from(self.gtes_per_gt) * self.grain_sectors
    }
    /// Entries of the grain directory: one per grain table needed to cover the capacity.
    pub fn gd_entries(&self) -> u64 {
        self.capacity.div_ceil(self.gt_coverage())
    }
    pub fn size(&self) -> u64 {
        self.capacity * SECTOR
    }
}

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Vmdk, offset, message)
}

/// The 512-byte header at `offset` (0, or the footer's place), fields decoded, not checked.
fn decode(b: &[u8; 512]) -> Header {
    Header {
        version: le::u32(b, 4),
        flags: le::u32(b, 8),
        capacity: le::u64(b, 12),
        grain_sectors: le::u64(b, 20),
        descriptor_offset: le::u64(b, 28),
        descriptor_size: le::u64(b, 36),
        gtes_per_gt: le::u32(b, 44),
        gd_offset: le::u64(b, 56),
        overhead: le::u64(b, 64),
        unclean_shutdown: b[72] != 0,
        compression: le::u16(b, 77),
        from_footer: false,
    }
}

/// Read the header at offset 0 (and the footer when the grain directory is at the end).
/// Returns the header that describes the data, and the header at offset 0 (whose descriptor
/// fields locate the embedded descriptor).
pub fn parse(file: &dyn ByteSource) -> Result<(Header, Header), ContainerError> {
    let len = file.len();
    if len < SECTOR {
        return Err(corrupt(
            0,
            format!("file is {len} bytes, shorter than a VMDK sparse extent header (512 bytes)"),
        ));
    }
    let mut b = [0u8; 512];
    file.read_at(0, &mut b)?;
    let first = decode(&b);
    check_newline_bytes(&b, first.flags, 0)?;
    let mut h = first.clone();
    if first.gd_offset == GD_AT_END {
        h = footer(file)?;
    }
    check(&h, len)?;
    Ok((h, first))
}

/// The spec's four newline-detection bytes (`\n`, ` `, `\r`, `\n` at 73..77) are there to
/// catch a file transferred in text mode, which rewrites line ends and corrupts every
/// structure after them.
fn check_newline_bytes(b: &[u8; 512], flags: u32, at: u64) -> Result<(), ContainerError> {
    if flags & FLAG_NL_DETECT != 0 && b.get(73..77) != Some(b"\n \r\n".as_slice()) {
        return Err(corrupt(
            at + 73,
            "the header's newline-detection bytes are altered: the file was probably transferred in text (ASCII) mode, which corrupts it; transfer it again in binary mode",
        ));
    }
    Ok(())
}

/// The footer of a streamOptimized extent: the last 1536 bytes of the file are a footer
/// marker, a copy of the header with the real `gdOffset`, and the end-of-stream marker
/// (spec, "The Footer"; QEMU reads it at the same place, the file size rounded down to a
/// sector, and checks the same fields).
fn footer(file: &dyn ByteSource) -> Result<Header, ContainerError> {
    let len = file.len();
    let end = len - len % SECTOR;
    let missing = |at: u64, what: &str| {
        corrupt(
            at,
            format!(
                "the header says the grain directory is at the end of the stream, but {what}: the streamOptimized file is incomplete (truncated upload or copy?)"
            ),
        )
    };
    if end < 4 * SECTOR {
        return Err(missing(0, "the file is too short to hold the footer"));
    }
    let at = end - 3 * SECTOR;
    let mut b = [0u8; 1536];
    file.read_at(at, &mut b)?;
    let marker_size = le::u32(&b, 8);
    let marker_type = le::u32(&b, 12);
    if marker_size != 0 || marker_type != MARKER_FOOTER {
        return Err(missing(
            at,
            "there is no footer marker 1536 bytes before the end",
        ));
    }
    if b.get(512..516) != Some(b"KDMV".as_slice()) {
        return Err(missing(
            at + 512,
            "the footer does not hold a copy of the header (no KDMV magic)",
        ));
    }
    let eos = &b[1024..1040];
    if le::u64(eos, 0) != 0 || le::u32(eos, 8) != 0 || le::u32(eos, 12) != MARKER_EOS {
        return Err(missing(
            at + 1024,
            "the file does not end with the end-of-stream marker",
        ));
    }
    let mut copy = [0u8; 512];
    copy.copy_from_slice(&b[512..1024]);
    check_newline_bytes(&copy, le::u32(&copy, 8), at + 512)?;
    let mut h = decode(&copy);
    h.from_footer = true;
    if h.gd_offset == GD_AT_END {
        return Err(corrupt(
            at + 512 + 56,
            "the footer's copy of the header does not say where the grain directory is either",
        ));
    }
    Ok(h)
}

fn check(h: &Header, file_len: u64) -> Result<(), ContainerError> {
    let base = if h.from_footer {
        (file_len - file_len % SECTOR) - 2 * SECTOR
    } else {
        0
    };
    if h.version > 3 {
        return Err(ContainerError::Unsupported {
            format: Format::Vmdk,
            message: format!(
                "VMDK sparse extent version {} is not supported (versions 1 to 3 exist)",
                h.version
            ),
        });
    }
    if h.gtes_per_gt == 0 || h.gtes_per_gt > MAX_GTES_PER_GT {
        return Err(corrupt(
            base + 44,
            format!(
                "numGTEsPerGT is {}, outside 1..={MAX_GTES_PER_GT}",
                h.gtes_per_gt
            ),
        ));
    }
    if h.grain_sectors == 0 || h.grain_sectors > MAX_GRAIN_SECTORS {
        return Err(corrupt(
            base + 20,
            format!(
                "grainSize is {} sectors, outside 1..={MAX_GRAIN_SECTORS}",
                h.grain_sectors
            ),
        ));
    }
    if h.compressed() && h.grain_bytes() > MAX_COMPRESSED_GRAIN {
        return Err(ContainerError::Unsupported {
            format: Format::Vmdk,
            message: format!(
                "compressed grains of {} bytes are larger than the {MAX_COMPRESSED_GRAIN} bytes Preflight decompresses",
                h.grain_bytes()
            ),
        });
    }
    if h.capacity.checked_mul(SECTOR).is_none() {
        return Err(corrupt(
            base + 12,
            format!("capacity of {} sectors overflows", h.capacity),
        ));
    }
    let gd_bytes = h.gd_entries().saturating_mul(4);
    if gd_bytes > MAX_GD_BYTES {
        return Err(corrupt(
            base + 12,
            format!(
                "a capacity of {} sectors with {}-sector grains needs a grain directory of {gd_bytes} bytes, more than the {MAX_GD_BYTES} accepted",
                h.capacity, h.grain_sectors
            ),
        ));
    }
    let file_sectors = file_len / SECTOR;
    if h.overhead > file_sectors {
        return Err(corrupt(
            base + 64,
            format!(
                "the header says grains start at sector {} but the file has only {file_sectors} sectors (truncated?)",
                h.overhead
            ),
        ));
    }
    if h.capacity > 0 {
        let gd_end = h
            .gd_offset
            .checked_mul(SECTOR)
            .and_then(|o| o.checked_add(gd_bytes));
        if gd_end.is_none_or(|end| end > file_len) {
            return Err(corrupt(
                base + 56,
                format!(
                    "the grain directory ({gd_bytes} bytes at sector {}) lies beyond the end of the file ({file_len} bytes; truncated?)",
                    h.gd_offset
                ),
            ));
        }
    }
    Ok(())
}
