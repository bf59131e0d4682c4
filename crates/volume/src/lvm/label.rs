//! The binary structures of an LVM2 physical volume, as the lvm2 project documents its on-disk
//! format (all integers little-endian):
//!
//! - **Label header**, 32 bytes at the start of one of the first 4 sectors: `"LABELONE"`,
//!   `sector` (u64, the sector it sits in), `crc` (u32, over bytes 20..512 of the sector),
//!   `offset` (u32, where the PV header starts in the sector, normally 32), type `"LVM2 001"`.
//! - **PV header**, at that offset: the PV UUID (32 characters, no hyphens), the device size
//!   (u64, bytes), then two lists of disk locations (offset u64, size u64; both in bytes from
//!   the start of the PV), each ended by an all-zero entry: the data areas, then the metadata
//!   areas.
//! - **Metadata area header**, 512 bytes at the start of each metadata area: `checksum` (u32,
//!   over bytes 4..512), magic `" LVM2 x[5A%r0N*>"`, `version` (u32, 1), `start` (u64, the
//!   area's offset on the PV), `size` (u64, the area's size), then raw locations (offset u64
//!   from the area start, size u64, checksum u32 of the text, flags u32; flag 1 = ignored)
//!   ended by an all-zero entry. The first raw location is the committed metadata.
//! - The metadata text lives in the rest of the area (after the 512-byte header) used as a
//!   **circular buffer**: a text that reaches the end of the area continues right after the
//!   header.
//!
//! Every checksum is lvm2's `calc_crc`: the reflected CRC-32 (polynomial 0x04C11DB7, processed
//! LSB first as 0xEDB88320) with the initial value 0xf597a6cf and no final inversion.

use preflight_io::{ByteSource, IoError, le, read_vec};

/// `INITIAL_CRC` of the lvm2 format description.
pub const INITIAL_CRC: u32 = 0xf597_a6cf;
/// Size of a metadata area header.
pub const MDA_HEADER_SIZE: u64 = 512;
/// Magic of a metadata area header (`FMTT_MAGIC`).
pub const FMTT_MAGIC: &[u8; 16] = b"\x20LVM2\x20x[5A%r0N*>";
/// Raw location flag: this metadata area is ignored (`pvchange --metadataignore`).
pub const RAW_LOCN_IGNORED: u32 = 1;

/// Data or metadata areas read from a PV header at most (LVM writes one data area and one or
/// two metadata areas).
const MAX_AREAS: usize = 8;
/// Raw locations looked at in one metadata area header (the committed one comes first).
const MAX_RAW_LOCNS: usize = 4;

/// lvm2's `calc_crc(initial, data)`: CRC-32 (reflected, 0xEDB88320), no final inversion.
pub fn calc_crc(initial: u32, data: &[u8]) -> u32 {
    // crc32fast keeps the register inverted: seeding it with !initial and inverting its result
    // gives the plain register value.
    let mut h = crc32fast::Hasher::new_with_initial(!initial);
    h.update(data);
    !h.finalize()
}

/// A disk location (bytes from the start of the PV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub offset: u64,
    pub size: u64,
}

/// The label and PV header of a physical volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// Which of the first four sectors holds the label.
    pub sector: u64,
    /// The PV UUID as stored: 32 characters.
    pub uuid: String,
    pub device_size: u64,
    pub data_areas: Vec<Area>,
    pub metadata_areas: Vec<Area>,
}

/// Find and decode the label in the first four sectors. `Ok(None)`: no LVM2 label.
/// `Err(message)`: a label whose PV header is broken.
pub fn read_label(pv: &dyn ByteSource) -> Result<Option<PvLabel>, IoError> {
    let n = pv.len().min(4 * 512);
    if n < 512 {
        return Ok(None);
    }
    let head = read_vec(pv, 0, n, 4 * 512)?;
    for (sector, s) in head.chunks_exact(512).enumerate() {
        if &s[0..8] != b"LABELONE" || &s[24..32] != b"LVM2 001" {
            continue;
        }
        let at = sector as u64 * 512;
        if le::u64(s, 8) != sector as u64 {
            continue; // a label copied from elsewhere: LVM ignores it too
        }
        if calc_crc(INITIAL_CRC, &s[20..]) != le::u32(s, 16) {
            continue;
        }
        let off = le::u32(s, 20) as usize;
        // UUID 32 + device size 8 + at least the two list terminators (2 × 16).
        if off < 32 || off.checked_add(32 + 8 + 32).is_none_or(|e| e > 512) {
            return Err(IoError::corrupt(
                "LVM2",
                at + 20,
                format!("PV header offset {off} does not fit in the label sector"),
            ));
        }
        let h = &s[off..];
        let uuid: String = h[..32].iter().map(|&c| char::from(c)).collect();
        if !h[..32].iter().all(|c| c.is_ascii_graphic()) {
            return Err(IoError::corrupt(
                "LVM2",
                at + off as u64,
                "the PV UUID is not printable text",
            ));
        }
        let device_size = le::u64(h, 32);
        let mut pos = 40usize;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            loop {
                let Some(e) = h.get(pos..pos + 16) else {
                    return Err(IoError::corrupt(
                        "LVM2",
                        at + (off + pos) as u64,
                        "the PV header's area list runs past the label sector",
                    ));
                };
                pos += 16;
                let area = Area {
                    offset: le::u64(e, 0),
                    size: le::u64(e, 8),
                };
                if area.offset == 0 {
                    break;
                }
                if list.len() >= MAX_AREAS {
                    return Err(IoError::corrupt(
                        "LVM2",
                        at + (off + pos) as u64,
                        format!("more than {MAX_AREAS} areas in the PV header"),
                    ));
                }
                list.push(area);
            }
        }
        let [data_areas, metadata_areas] = lists;
        return Ok(Some(PvLabel {
            sector: sector as u64,
            uuid,
            device_size,
            data_areas,
            metadata_areas,
        }));
    }
    Ok(None)
}

/// One raw location of a metadata area header: where a copy of the metadata text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLocn {
    /// From the start of the metadata area.
    pub offset: u64,
    pub size: u64,
    pub checksum: u32,
    pub flags: u32,
}

/// A decoded metadata area header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdaHeader {
    pub start: u64,
    pub size: u64,
    pub raw_locns: Vec<RawLocn>,
}

/// Read and check the metadata area header at `area`.
pub fn read_mda_header(pv: &dyn ByteSource, area: Area) -> Result<MdaHeader, IoError> {
    let corrupt = |message: String| IoError::corrupt("LVM2 metadata area", area.offset, message);
    if area.size < MDA_HEADER_SIZE * 2 {
        return Err(corrupt(format!(
            "the metadata area is {} bytes, too small for a header and text",
            area.size
        )));
    }
    let h = read_vec(pv, area.offset, MDA_HEADER_SIZE, MDA_HEADER_SIZE)?;
    if &h[4..20] != FMTT_MAGIC {
        return Err(corrupt("no metadata area header magic".into()));
    }
    let sum = calc_crc(INITIAL_CRC, &h[4..]);
    if sum != le::u32(&h, 0) {
        return Err(corrupt(format!(
            "metadata area header checksum {:#010x} does not match the computed {sum:#010x}",
            le::u32(&h, 0)
        )));
    }
    let version = le::u32(&h, 20);
    if version != 1 {
        return Err(corrupt(format!(
            "metadata area header version {version}, not 1"
        )));
    }
    let start = le::u64(&h, 24);
    let size = le::u64(&h, 32);
    if start != area.offset || size != area.size {
        return Err(corrupt(format!(
            "the header describes an area at {start} of {size} bytes, the PV header one at {} of \
             {} bytes",
            area.offset, area.size
        )));
    }
    let mut raw_locns = Vec::new();
    for i in 0..MAX_RAW_LOCNS {
        let e = &h[40 + i * 24..64 + i * 24];
        let r = RawLocn {
            offset: le::u64(e, 0),
            size: le::u64(e, 8),
            checksum: le::u32(e, 16),
            flags: le::u32(e, 20),
        };
        if r.offset == 0 {
            break;
        }
        raw_locns.push(r);
    }
    Ok(MdaHeader {
        start,
        size,
        raw_locns,
    })
}

/// Read `size` bytes at `offset` of the circular text buffer of the metadata area starting at
/// `area_start` and `area_size` bytes long (its first [`MDA_HEADER_SIZE`] bytes are the header,
/// skipped when the text wraps), refusing more than `max` bytes.
pub fn read_circular(
    pv: &dyn ByteSource,
    area_start: u64,
    area_size: u64,
    offset: u64,
    size: u64,
    max: u64,
) -> Result<Vec<u8>, IoError> {
    let at = area_start.saturating_add(offset);
    let corrupt = |message: String| IoError::corrupt("LVM2 metadata area", at, message);
    if offset < MDA_HEADER_SIZE || offset >= area_size {
        return Err(corrupt(format!(
            "metadata text offset {offset} is outside the text buffer (bytes {MDA_HEADER_SIZE}..\
             {area_size} of the area)"
        )));
    }
    let buffer = area_size - MDA_HEADER_SIZE;
    if size == 0 || size > buffer {
        return Err(corrupt(format!(
            "metadata text of {size} bytes does not fit the {buffer}-byte buffer"
        )));
    }
    if size > max {
        return Err(IoError::TooLarge {
            offset: at,
            len: size,
            max,
        });
    }
    let first = size.min(area_size - offset);
    let base = area_start
        .checked_add(area_size)
        .map(|_| area_start)
        .ok_or_else(|| corrupt("the metadata area ends past 2^64".into()))?;
    let mut text = read_vec(pv, base + offset, first, max)?;
    let rest = size - first;
    if rest > 0 {
        let more = read_vec(pv, base + MDA_HEADER_SIZE, rest, max)?;
        text.extend_from_slice(&more);
    }
    Ok(text)
}
