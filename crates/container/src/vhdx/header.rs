//! The VHDX header section ([MS-VHDX] 2.2): file type identifier at 0, the two headers at
//! 64 KiB and 128 KiB, the region table at 192 KiB (copy at 256 KiB). Every field is
//! little-endian.

use preflight_io::{ByteSource, le, read_vec};

use super::{Guid, corrupt};
use crate::{ContainerError, Format};
use preflight_io::crc32c::crc32c_without;

const KIB: u64 = 1024;
/// The header section up to the end of the second region table, read in one call.
const SECTION_LEN: u64 = 320 * KIB;
const HEADER_AT: [u64; 2] = [64 * KIB, 128 * KIB];
const HEADER_LEN: usize = 4096;
const REGION_AT: [u64; 2] = [192 * KIB, 256 * KIB];
const REGION_LEN: usize = 64 * 1024;
/// [MS-VHDX] 2.2.3.1: "EntryCount ... MUST be less than or equal to 2047".
const MAX_REGION_ENTRIES: u32 = 2047;
/// Region GUIDs ([MS-VHDX] 2.2.3.2).
const BAT_REGION: Guid = Guid::new(
    0x2dc2_7766,
    0xf623,
    0x4200,
    [0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08],
);
const METADATA_REGION: Guid = Guid::new(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
);

#[derive(Debug, Clone)]
pub struct Header {
    pub at: u64,
    pub sequence: u64,
    pub log_guid: Guid,
    pub log_version: u16,
    pub version: u16,
    pub log_length: u32,
    pub log_offset: u64,
}

/// A region: where it is and how long.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub offset: u64,
    pub length: u32,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub creator: String,
    pub header: Header,
    pub bat: Region,
    pub metadata: Region,
}

/// Parse the header section; warnings go to `warnings`.
pub fn parse(file: &dyn ByteSource, warnings: &mut Vec<String>) -> Result<Section, ContainerError> {
    let file_len = file.len();
    if file_len < SECTION_LEN {
        return Err(corrupt(
            0,
            format!(
                "file is {file_len} bytes, shorter than the VHDX header section ({SECTION_LEN} bytes at least)"
            ),
        ));
    }
    let s = read_vec(file, 0, SECTION_LEN, SECTION_LEN)?;
    if s.get(..8) != Some(b"vhdxfile") {
        return Err(corrupt(0, "no VHDX file type identifier (`vhdxfile`)"));
    }
    let creator = utf16le_z(s.get(8..8 + 512).unwrap_or_default());

    // 2.2.2: "the header with the highest sequence number is the current header" among the
    // valid ones (signature `head` and a matching CRC-32C over the 4 KiB).
    let headers: Vec<Option<Header>> = HEADER_AT
        .iter()
        .map(|&at| {
            let b = s.get(at as usize..at as usize + HEADER_LEN)?;
            let valid = b.starts_with(b"head") && le::u32(b, 4) == crc32c_without(b, 4);
            valid.then(|| Header {
                at,
                sequence: le::u64(b, 8),
                log_guid: Guid::from_bytes(b, 48),
                log_version: le::u16(b, 64),
                version: le::u16(b, 66),
                log_length: le::u32(b, 68),
                log_offset: le::u64(b, 72),
            })
        })
        .collect();
    let header = match (
        headers.first().cloned().flatten(),
        headers.get(1).cloned().flatten(),
    ) {
        (Some(a), Some(b)) => {
            if a.sequence >= b.sequence {
                a
            } else {
                b
            }
        }
        (Some(h), None) | (None, Some(h)) => {
            let bad = if h.at == HEADER_AT[0] {
                HEADER_AT[1]
            } else {
                HEADER_AT[0]
            };
            warnings.push(format!(
                "The VHDX header at offset {bad} is invalid (bad signature or CRC-32C); the other one, at offset {}, was used.",
                h.at
            ));
            h
        }
        (None, None) => {
            return Err(corrupt(
                HEADER_AT[0],
                "neither VHDX header (at 64 KiB and at 128 KiB) is valid: bad signature or CRC-32C",
            ));
        }
    };
    if header.version != 1 {
        return Err(ContainerError::Unsupported {
            format: Format::Vhdx,
            message: format!(
                "VHDX header version {} is not supported (only version 1 exists)",
                header.version
            ),
        });
    }

    // Region table: the first valid copy.
    let mut table = None;
    for (i, &at) in REGION_AT.iter().enumerate() {
        let Some(b) = s.get(at as usize..at as usize + REGION_LEN) else {
            continue;
        };
        if b.starts_with(b"regi") && le::u32(b, 4) == crc32c_without(b, 4) {
            if i > 0 {
                warnings.push(format!(
                    "The VHDX region table at offset {} is invalid (bad signature or CRC-32C); its copy at offset {at} was used (qemu-img refuses such an image).",
                    REGION_AT[0]
                ));
            }
            table = Some((at, b));
            break;
        }
    }
    let Some((table_at, t)) = table else {
        return Err(corrupt(
            REGION_AT[0],
            "neither VHDX region table (at 192 KiB and at 256 KiB) is valid: bad signature or CRC-32C",
        ));
    };
    let count = le::u32(t, 8);
    if count > MAX_REGION_ENTRIES {
        return Err(corrupt(
            table_at + 8,
            format!("region table declares {count} entries, more than the 2047 allowed"),
        ));
    }
    let (mut bat, mut metadata) = (None, None);
    for i in 0..count as usize {
        let at = 16 + i * 32;
        let guid = Guid::from_bytes(t, at);
        let region = Region {
            offset: le::u64(t, at + 16),
            length: le::u32(t, at + 24),
        };
        let required = le::u32(t, at + 28) & 1 != 0;
        if guid == BAT_REGION {
            bat = Some(region);
        } else if guid == METADATA_REGION {
            metadata = Some(region);
        } else if required {
            return Err(ContainerError::Unsupported {
                format: Format::Vhdx,
                message: format!(
                    "this VHDX has a region {guid} marked required that Preflight (and qemu) do not know"
                ),
            });
        }
    }
    let entry_at = |what| corrupt(table_at, format!("region table has no {what} region"));
    Ok(Section {
        creator,
        header,
        bat: bat.ok_or_else(|| entry_at("BAT"))?,
        metadata: metadata.ok_or_else(|| entry_at("metadata"))?,
    })
}

/// A NUL-terminated UTF-16LE string.
pub fn utf16le_z(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}
