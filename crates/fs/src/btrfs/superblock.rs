//! The superblock ("On-disk format", "Superblock"): 4 KiB at 64 KiB, with mirrors at 64 MiB and
//! 256 GiB (and 1 PiB, beyond any image we read). Each copy holds its own offset (`bytenr`),
//! the magic `_BHRfS_M` and a checksum of bytes 32..4096; we take the valid copy with the
//! highest generation among those of the same file system as the primary.

use preflight_io::{ByteSource, le};

use super::checksum::CsumType;
use super::chunks::ChunkMap;
use super::{Error, R};

pub const SUPER_SIZE: usize = 4096;
pub const MIRRORS: [u64; 3] = [64 << 10, 64 << 20, 256 << 30];
const MAGIC: &[u8; 8] = b"_BHRfS_M";

/// Incompatible feature bits ("On-disk format", "Superblock", `incompat_flags`).
pub const INCOMPAT_METADATA_UUID: u64 = 1 << 10;
const INCOMPAT_EXTENT_TREE_V2: u64 = 1 << 13;
const INCOMPAT_RAID_STRIPE_TREE: u64 = 1 << 14;
/// Every bit we know: mixed backref, default subvol, mixed groups, lzo, zstd, big metadata,
/// extended iref, raid56, skinny metadata, no holes, metadata uuid, raid1c34, zoned,
/// extent tree v2, raid stripe tree, (15 unused), simple quota.
const INCOMPAT_KNOWN: u64 = 0x1_7fff;

#[derive(Debug, Clone)]
pub struct Superblock {
    pub offset: u64,
    pub fsid: [u8; 16],
    /// The UUID tree nodes carry (`metadata_uuid` when that feature is on, else `fsid`).
    pub meta_fsid: [u8; 16],
    pub generation: u64,
    pub root: u64,
    pub chunk_root: u64,
    pub sectorsize: u32,
    pub nodesize: u32,
    pub sys_chunk_array: Vec<u8>,
    pub csum: CsumType,
    pub root_level: u8,
    pub chunk_root_level: u8,
    pub devid: u64,
    pub label: String,
}

fn arr16(b: &[u8], at: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    a
}

/// Parse and check one copy read at `offset`.
pub fn parse(b: &[u8], offset: u64) -> R<Superblock> {
    let bad = |m: String| Error::Corrupt(format!("superblock at offset {offset}: {m}"));
    if b.len() < SUPER_SIZE {
        return Err(bad("truncated".into()));
    }
    if &b[0x40..0x48] != MAGIC {
        return Err(bad("no btrfs magic".into()));
    }
    let csum_type = le::u16(b, 0xc4);
    let csum = CsumType::from_disk(csum_type)
        .map_err(|m| Error::Unsupported(format!("superblock at offset {offset}: {m}")))?;
    csum.verify(&b[..SUPER_SIZE]).map_err(bad)?;
    let bytenr = le::u64(b, 0x30);
    if bytenr != offset {
        return Err(bad(format!("records offset {bytenr}")));
    }
    let sectorsize = le::u32(b, 0x90);
    let nodesize = le::u32(b, 0x94);
    if !sectorsize.is_power_of_two() || !(4096..=65536).contains(&sectorsize) {
        return Err(bad(format!("sector size {sectorsize}")));
    }
    if !nodesize.is_power_of_two() || !(4096..=65536).contains(&nodesize) || nodesize < sectorsize {
        return Err(bad(format!("node size {nodesize}")));
    }
    let sys_len = le::u32(b, 0xa0) as usize;
    if sys_len > 2048 {
        return Err(bad(format!("sys_chunk_array_size {sys_len} > 2048")));
    }
    let incompat = le::u64(b, 0xbc);
    let unknown = incompat & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(Error::Unsupported(format!(
            "unknown incompatible features {unknown:#x}"
        )));
    }
    if incompat & INCOMPAT_EXTENT_TREE_V2 != 0 {
        return Err(Error::Unsupported("extent tree v2".into()));
    }
    if incompat & INCOMPAT_RAID_STRIPE_TREE != 0 {
        return Err(Error::Unsupported("raid stripe tree".into()));
    }
    let root_level = b[0xc6];
    let chunk_root_level = b[0xc7];
    if root_level > 7 || chunk_root_level > 7 {
        return Err(bad("tree level above 7".into()));
    }
    let fsid = arr16(b, 0x20);
    let meta_fsid = if incompat & INCOMPAT_METADATA_UUID != 0 {
        arr16(b, 0x23b)
    } else {
        fsid
    };
    let label_raw = &b[0x12b..0x22b];
    let end = label_raw.iter().position(|&c| c == 0).unwrap_or(256);
    Ok(Superblock {
        offset,
        fsid,
        meta_fsid,
        generation: le::u64(b, 0x48),
        root: le::u64(b, 0x50),
        chunk_root: le::u64(b, 0x58),
        sectorsize,
        nodesize,
        sys_chunk_array: b[0x32b..0x32b + sys_len].to_vec(),
        csum,
        root_level,
        chunk_root_level,
        devid: le::u64(b, 0xc9),
        label: String::from_utf8_lossy(&label_raw[..end]).into_owned(),
    })
}

/// Read every copy that fits in the source; return the best one (see module comment).
pub fn read_best(src: &dyn ByteSource) -> R<Superblock> {
    let mut found: Vec<Superblock> = Vec::new();
    let mut first_err = None;
    for (i, &off) in MIRRORS.iter().enumerate() {
        if off + SUPER_SIZE as u64 > src.len() {
            if i == 0 {
                return Err(Error::Corrupt(format!(
                    "too small for a btrfs superblock ({} bytes)",
                    src.len()
                )));
            }
            break;
        }
        let mut buf = vec![0u8; SUPER_SIZE];
        src.read_at(off, &mut buf).map_err(Error::Io)?;
        match parse(&buf, off) {
            Ok(sb) => found.push(sb),
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    // Copies of another (older) file system left on the device do not count.
    let fsid = match found.iter().find(|s| s.offset == MIRRORS[0]) {
        Some(primary) => primary.fsid,
        None => match found.first() {
            Some(s) => s.fsid,
            None => {
                return Err(first_err.unwrap_or_else(|| Error::Corrupt("no superblock".into())));
            }
        },
    };
    found
        .into_iter()
        .filter(|s| s.fsid == fsid)
        .max_by_key(|s| (s.generation, std::cmp::Reverse(s.offset)))
        .ok_or_else(|| Error::Corrupt("no valid superblock".into()))
}

/// The chunk items of the `sys_chunk_array` ("On-disk format", "Superblock": pairs of a key
/// (objectid 256, CHUNK_ITEM, logical address) and a chunk item with its stripes), which map
/// the chunk tree itself.
pub fn bootstrap(sb: &Superblock, map: &mut ChunkMap) -> R<()> {
    let a = &sb.sys_chunk_array;
    let mut pos = 0usize;
    while pos < a.len() {
        if pos + 17 > a.len() {
            return Err(Error::Corrupt("sys_chunk_array: truncated key".into()));
        }
        let ty = a[pos + 8];
        let logical = le::u64(a, pos + 9);
        if ty != super::items::CHUNK_ITEM_KEY {
            return Err(Error::Corrupt(format!(
                "sys_chunk_array: key type {ty} is not a chunk item"
            )));
        }
        pos += 17;
        let used = map.add(logical, &a[pos..])?;
        pos += used;
    }
    if map.is_empty() {
        return Err(Error::Corrupt("sys_chunk_array is empty".into()));
    }
    Ok(())
}
