//! The VHDX metadata region ([MS-VHDX] 2.6): a 64 KiB table of items, then the items. We read
//! the system items the data path needs and the parent locator of a differencing disk.

use preflight_io::{ByteSource, le, read_vec};

use super::header::{Region, utf16le_z};
use super::{Guid, corrupt};
use crate::{ContainerError, Format};

const TABLE_LEN: u64 = 64 * 1024;
/// [MS-VHDX] 2.6.1.1: "EntryCount ... MUST be less than or equal to 2047".
const MAX_ENTRIES: u16 = 2047;
/// 2.6.1.2: an item "MUST NOT" exceed 1 MiB.
const MAX_ITEM: u64 = 1024 * 1024;
/// 2.6.2.4: the largest virtual disk is 64 TiB.
pub const MAX_VIRTUAL_SIZE: u64 = 64 << 40;

const fn g(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    Guid::new(d1, d2, d3, d4)
}
/// System metadata item GUIDs (2.6.2).
const FILE_PARAMETERS: Guid = g(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
);
const VIRTUAL_DISK_SIZE: Guid = g(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
);
const PAGE83: Guid = g(
    0xbeca_12ab,
    0xb2e6,
    0x4523,
    [0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46],
);
const LOGICAL_SECTOR: Guid = g(
    0x8141_bf1d,
    0xa96f,
    0x4709,
    [0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f],
);
const PHYSICAL_SECTOR: Guid = g(
    0xcda3_48c7,
    0x445d,
    0x4471,
    [0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56],
);
const PARENT_LOCATOR: Guid = g(
    0xa8d3_5f2b,
    0xb30b,
    0x454d,
    [0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c],
);

#[derive(Debug, Clone)]
pub struct Metadata {
    pub block_size: u32,
    pub leave_blocks_allocated: bool,
    pub has_parent: bool,
    pub virtual_size: u64,
    pub logical_sector: u32,
    pub physical_sector: Option<u32>,
    pub page83: Option<Guid>,
    /// Parent locator key/value pairs, in order.
    pub parent_locator: Vec<(String, String)>,
}

fn item(
    file: &dyn ByteSource,
    region: Region,
    found: &[(Guid, u32, u32)],
    id: Guid,
    min_len: u32,
    what: &str,
) -> Result<Option<Vec<u8>>, ContainerError> {
    let Some(&(_, offset, length)) = found.iter().find(|(g, _, _)| *g == id) else {
        return Ok(None);
    };
    let at = region.offset.saturating_add(u64::from(offset));
    if length < min_len
        || u64::from(offset) < TABLE_LEN
        || u64::from(offset) + u64::from(length) > u64::from(region.length)
    {
        return Err(corrupt(
            at,
            format!(
                "metadata item {what} ({length} bytes at region offset {offset}) is malformed or outside the metadata region"
            ),
        ));
    }
    read_vec(file, at, u64::from(length), MAX_ITEM)
        .map(Some)
        .map_err(|e| corrupt(at, format!("metadata item {what} unreadable: {e}")))
}

pub fn parse(
    file: &dyn ByteSource,
    region: Region,
    warnings: &mut Vec<String>,
) -> Result<Metadata, ContainerError> {
    let at = region.offset;
    let t = read_vec(file, at, TABLE_LEN, TABLE_LEN)
        .map_err(|e| corrupt(at, format!("metadata table unreadable: {e}")))?;
    if !t.starts_with(b"metadata") {
        return Err(corrupt(at, "no metadata table signature (`metadata`)"));
    }
    let count = le::u16(&t, 10);
    if count > MAX_ENTRIES {
        return Err(corrupt(
            at + 10,
            format!("metadata table declares {count} entries, more than the 2047 allowed"),
        ));
    }
    let mut found = Vec::new();
    for i in 0..usize::from(count) {
        let e = 32 + i * 32;
        let id = Guid::from_bytes(&t, e);
        let flags = le::u32(&t, e + 24);
        let known = [
            FILE_PARAMETERS,
            VIRTUAL_DISK_SIZE,
            PAGE83,
            LOGICAL_SECTOR,
            PHYSICAL_SECTOR,
            PARENT_LOCATOR,
        ]
        .contains(&id);
        // Bit 2 is IsRequired (2.6.1.2): an item we do not know may change how data is read.
        if !known && flags & 4 != 0 {
            return Err(ContainerError::Unsupported {
                format: Format::Vhdx,
                message: format!(
                    "this VHDX has a metadata item {id} marked required that Preflight (and qemu) do not know"
                ),
            });
        }
        found.push((id, le::u32(&t, e + 16), le::u32(&t, e + 20)));
    }
    let missing = |what: &str| corrupt(at, format!("required metadata item {what} is missing"));

    let fp = item(file, region, &found, FILE_PARAMETERS, 8, "file parameters")?
        .ok_or_else(|| missing("file parameters"))?;
    let block_size = le::u32(&fp, 0);
    let flags = le::u32(&fp, 4);
    // 2.6.2.1: "at least 1 MB and at most 256 MB", a power of 2.
    if !block_size.is_power_of_two() || !(1 << 20..=256 << 20).contains(&block_size) {
        return Err(corrupt(
            at,
            format!("block size {block_size} is not a power of two between 1 MiB and 256 MiB"),
        ));
    }
    let vs = item(
        file,
        region,
        &found,
        VIRTUAL_DISK_SIZE,
        8,
        "virtual disk size",
    )?
    .ok_or_else(|| missing("virtual disk size"))?;
    let virtual_size = le::u64(&vs, 0);
    if virtual_size > MAX_VIRTUAL_SIZE {
        return Err(corrupt(
            at,
            format!("virtual disk size {virtual_size} is above the VHDX maximum of 64 TiB"),
        ));
    }
    let ls = item(
        file,
        region,
        &found,
        LOGICAL_SECTOR,
        4,
        "logical sector size",
    )?
    .ok_or_else(|| missing("logical sector size"))?;
    let logical_sector = le::u32(&ls, 0);
    if logical_sector != 512 && logical_sector != 4096 {
        return Err(corrupt(
            at,
            format!("logical sector size {logical_sector} is neither 512 nor 4096"),
        ));
    }
    let physical_sector = item(
        file,
        region,
        &found,
        PHYSICAL_SECTOR,
        4,
        "physical sector size",
    )?
    .map(|b| le::u32(&b, 0));
    if let Some(p) = physical_sector
        && p != 512
        && p != 4096
    {
        warnings.push(format!(
            "The VHDX physical sector size is {p}, neither 512 nor 4096; qemu-img refuses such an image."
        ));
    }
    let page83 =
        item(file, region, &found, PAGE83, 16, "page 83 data")?.map(|b| Guid::from_bytes(&b, 0));
    let has_parent = flags & 2 != 0;
    let mut parent_locator = Vec::new();
    if has_parent {
        match item(file, region, &found, PARENT_LOCATOR, 20, "parent locator")? {
            Some(b) => parent_locator = locator_entries(&b),
            None => warnings.push(
                "This differencing VHDX has no parent locator: its parent cannot be named."
                    .to_string(),
            ),
        }
    }
    Ok(Metadata {
        block_size,
        leave_blocks_allocated: flags & 1 != 0,
        has_parent,
        virtual_size,
        logical_sector,
        physical_sector,
        page83,
        parent_locator,
    })
}

/// 2.6.2.6: a 20-byte header (locator type, reserved, KeyValueCount) and 12-byte entries of
/// key/value offsets (from the item's start) and lengths, UTF-16LE strings.
fn locator_entries(b: &[u8]) -> Vec<(String, String)> {
    let count = usize::from(le::u16(b, 18));
    let text = |off: u32, len: u16| {
        let start = off as usize;
        b.get(start..start.saturating_add(usize::from(len)))
            .map(utf16le_z)
            .unwrap_or_default()
    };
    (0..count)
        .map_while(|i| {
            let e = b.get(20 + i * 12..32 + i * 12)?;
            Some((
                text(le::u32(e, 0), le::u16(e, 8)),
                text(le::u32(e, 4), le::u16(e, 10)),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_entries_decode_and_stop_at_the_item_end() {
        let s = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(|u| u.to_le_bytes()).collect() };
        let (k, v) = (s("relative_path"), s("..\\base.vhdx"));
        let mut b = vec![0u8; 20];
        b[18..20].copy_from_slice(&5u16.to_le_bytes()); // claims 5 entries, holds 1
        let key_at = 32u32;
        let value_at = key_at + k.len() as u32;
        b.extend_from_slice(&key_at.to_le_bytes());
        b.extend_from_slice(&value_at.to_le_bytes());
        b.extend_from_slice(&(k.len() as u16).to_le_bytes());
        b.extend_from_slice(&(v.len() as u16).to_le_bytes());
        b.extend_from_slice(&k);
        b.extend_from_slice(&v);
        let entries = locator_entries(&b);
        assert_eq!(
            entries.first(),
            Some(&("relative_path".to_string(), "..\\base.vhdx".to_string()))
        );
        assert!(entries.len() <= 5);
    }
}
