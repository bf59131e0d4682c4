//! Item types and their layouts ("Data structures"). Every parser checks the item's length
//! first; all integers are little-endian.

use preflight_io::le;

use super::tree::Key;
use super::{Error, R};

pub const INODE_ITEM_KEY: u8 = 1;
pub const INODE_REF_KEY: u8 = 12;
pub const DIR_ITEM_KEY: u8 = 84;
pub const DIR_INDEX_KEY: u8 = 96;
pub const EXTENT_DATA_KEY: u8 = 108;
pub const ROOT_ITEM_KEY: u8 = 132;
pub const ROOT_BACKREF_KEY: u8 = 144;
pub const ROOT_REF_KEY: u8 = 156;
pub const CHUNK_ITEM_KEY: u8 = 228;

/// Well-known object ids ("Trees").
pub const FS_TREE_OBJECTID: u64 = 5;
pub const ROOT_TREE_DIR_OBJECTID: u64 = 6;
pub const FIRST_CHUNK_TREE_OBJECTID: u64 = 256;
pub const FIRST_FREE_OBJECTID: u64 = 256;
pub const LAST_FREE_OBJECTID: u64 = -256i64 as u64;

/// BTRFS_NAME_LEN.
pub const MAX_NAME: usize = 255;

/// `btrfs_inode_item` (160 bytes): generation, transid, size, nbytes, block_group, nlink u32,
/// uid u32, gid u32, mode u32, rdev, flags, sequence, reserved [4], then atime, ctime, mtime,
/// otime as (sec u64, nsec u32).
#[derive(Debug, Clone)]
pub struct InodeItem {
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: i64,
}

pub const INODE_ITEM_SIZE: usize = 160;

impl InodeItem {
    pub fn parse(b: &[u8]) -> R<InodeItem> {
        if b.len() < INODE_ITEM_SIZE {
            return Err(Error::Corrupt(format!("inode item of {} bytes", b.len())));
        }
        Ok(InodeItem {
            size: le::u64(b, 16),
            uid: le::u32(b, 44),
            gid: le::u32(b, 48),
            mode: le::u32(b, 52),
            mtime: le::u64(b, 136) as i64,
        })
    }
}

/// `btrfs_root_item`: an inode item (160), generation u64 @160, root_dirid @168, bytenr @176,
/// byte_limit, bytes_used, last_snapshot, flags @208, refs u32 @216, drop_progress key @220,
/// drop_level u8 @237, level u8 @238 (then the v2 fields: uuids, transids, times).
#[derive(Debug, Clone, Copy)]
pub struct RootItem {
    pub generation: u64,
    pub root_dirid: u64,
    pub bytenr: u64,
    pub level: u8,
}

impl RootItem {
    pub fn parse(b: &[u8]) -> R<RootItem> {
        if b.len() < 239 {
            return Err(Error::Corrupt(format!("root item of {} bytes", b.len())));
        }
        Ok(RootItem {
            generation: le::u64(b, 160),
            root_dirid: le::u64(b, 168),
            bytenr: le::u64(b, 176),
            level: b[238],
        })
    }
}

/// One entry of a DIR_ITEM or DIR_INDEX item: location key (17), transid u64, data_len u16,
/// name_len u16, type u8, name, data. A DIR_ITEM may hold several (hash collisions).
#[derive(Debug, Clone)]
pub struct DirEntryItem {
    pub location: Key,
    pub file_type: u8,
    pub name: Vec<u8>,
}

pub fn parse_dir_items(b: &[u8]) -> R<Vec<DirEntryItem>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < b.len() {
        if b.len() - pos < 30 {
            return Err(Error::Corrupt("truncated directory item".into()));
        }
        let data_len = usize::from(le::u16(b, pos + 25));
        let name_len = usize::from(le::u16(b, pos + 27));
        if name_len == 0 || name_len > MAX_NAME {
            return Err(Error::Corrupt(format!(
                "directory item with a name of {name_len} bytes"
            )));
        }
        let end = pos + 30 + name_len + data_len;
        if end > b.len() {
            return Err(Error::Corrupt("directory item name out of its item".into()));
        }
        out.push(DirEntryItem {
            location: Key::parse(b, pos),
            file_type: b[pos + 29],
            name: b[pos + 30..pos + 30 + name_len].to_vec(),
        });
        pos = end;
    }
    Ok(out)
}

/// ROOT_REF / ROOT_BACKREF data: dirid u64, sequence u64, name_len u16, name.
#[derive(Debug, Clone)]
pub struct RootRef {
    pub dirid: u64,
    pub name: Vec<u8>,
}

impl RootRef {
    pub fn parse(b: &[u8]) -> R<RootRef> {
        if b.len() < 18 {
            return Err(Error::Corrupt("truncated root ref".into()));
        }
        let n = usize::from(le::u16(b, 16));
        if n == 0 || n > MAX_NAME || 18 + n > b.len() {
            return Err(Error::Corrupt("root ref name out of its item".into()));
        }
        Ok(RootRef {
            dirid: le::u64(b, 0),
            name: b[18..18 + n].to_vec(),
        })
    }
}

/// The first name of an INODE_REF item (index u64, name_len u16, name; repeated).
pub fn first_inode_ref_name(b: &[u8]) -> R<Vec<u8>> {
    if b.len() < 10 {
        return Err(Error::Corrupt("truncated inode ref".into()));
    }
    let n = usize::from(le::u16(b, 8));
    if n == 0 || n > MAX_NAME || 10 + n > b.len() {
        return Err(Error::Corrupt("inode ref name out of its item".into()));
    }
    Ok(b[10..10 + n].to_vec())
}

/// `btrfs_file_extent_item`: generation u64, ram_bytes u64, compression u8, encryption u8,
/// other_encoding u16, type u8 (0 inline, 1 regular, 2 prealloc); inline data follows at 21;
/// otherwise disk_bytenr, disk_num_bytes, offset, num_bytes (u64 each, 53 bytes in all).
#[derive(Debug, Clone)]
pub enum FileExtent {
    Inline {
        ram_bytes: u64,
        compression: u8,
        data: Vec<u8>,
    },
    Regular {
        compression: u8,
        prealloc: bool,
        ram_bytes: u64,
        disk_bytenr: u64,
        disk_num_bytes: u64,
        offset: u64,
        num_bytes: u64,
    },
}

impl FileExtent {
    pub fn parse(b: &[u8]) -> R<FileExtent> {
        if b.len() < 21 {
            return Err(Error::Corrupt("truncated file extent item".into()));
        }
        let ram_bytes = le::u64(b, 8);
        let compression = b[16];
        let encryption = b[17];
        let other = le::u16(b, 18);
        if encryption != 0 || other != 0 {
            return Err(Error::Unsupported(format!(
                "file extent with encryption {encryption} / encoding {other}"
            )));
        }
        match b[20] {
            0 => Ok(FileExtent::Inline {
                ram_bytes,
                compression,
                data: b[21..].to_vec(),
            }),
            t @ (1 | 2) => {
                if b.len() < 53 {
                    return Err(Error::Corrupt("truncated file extent item".into()));
                }
                Ok(FileExtent::Regular {
                    compression,
                    prealloc: t == 2,
                    ram_bytes,
                    disk_bytenr: le::u64(b, 21),
                    disk_num_bytes: le::u64(b, 29),
                    offset: le::u64(b, 37),
                    num_bytes: le::u64(b, 45),
                })
            }
            t => Err(Error::Corrupt(format!("file extent of type {t}"))),
        }
    }
}
