//! Directory formats ("XFS Algorithms & Data Structures", "Directories"; layouts from
//! `xfs_da_format.h`): short form in the inode (`xfs_dir2_sf_hdr` / `xfs_dir2_sf_entry`), and
//! data blocks (`XD2B`/`XDB3` single-block directories with their leaf tail, `XD2D`/`XDD3` data
//! blocks of leaf, node and B+tree directories).
//!
//! Every directory format keeps all its entries in data blocks below `XFS_DIR2_LEAF_OFFSET`
//! (32 GiB into the data fork); leaf, node and free-index blocks above it only index them. So a
//! listing reads the data blocks and nothing else, which also means no hash-tree walk can loop.

use preflight_io::be;

use super::superblock::Superblock;
use super::{corrupt, crc};
use crate::{FileType, FsError};

pub const XD2B_MAGIC: u32 = 0x5844_3242; // "XD2B": v4 single-block directory
pub const XD2D_MAGIC: u32 = 0x5844_3244; // "XD2D": v4 data block
pub const XDB3_MAGIC: u32 = 0x5844_4233; // "XDB3": v5 single-block directory
pub const XDD3_MAGIC: u32 = 0x5844_4433; // "XDD3": v5 data block

/// Logical byte offset where the leaf blocks start (`XFS_DIR2_LEAF_OFFSET`).
pub const LEAF_OFFSET: u64 = 1 << 35;

/// `xfs_dir3_blk_hdr` + bestfree + pad, and the v4 `xfs_dir2_data_hdr`.
const DATA_HDR_V5: usize = 64;
const DATA_HDR_V4: usize = 16;
/// Offset of the CRC in `xfs_dir3_blk_hdr`.
const DIR3_CRC_OFF: usize = 4;
/// `XFS_DIR2_DATA_FREE_TAG`: the first two bytes of an unused region.
const FREE_TAG: u16 = 0xffff;
/// Inode numbers are 56 bits wide (`XFS_MAXINUMBER`).
const MAX_INO: u64 = (1 << 56) - 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// The entry's file type when the file system records it (`ftype` feature).
    pub ftype: Option<FileType>,
}

/// `XFS_DIR3_FT_*`: 0 (unknown) and anything unexpected mean "ask the inode".
fn ftype(v: u8) -> Option<FileType> {
    Some(match v {
        1 => FileType::Regular,
        2 => FileType::Directory,
        3 => FileType::CharDevice,
        4 => FileType::BlockDevice,
        5 => FileType::Fifo,
        6 => FileType::Socket,
        7 => FileType::Symlink,
        _ => return None,
    })
}

fn check_name(name: &[u8], path: &str, ino: u64) -> Result<(), FsError> {
    if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
        return Err(corrupt(
            path,
            format!(
                "directory inode {ino}: invalid entry name {:?}",
                String::from_utf8_lossy(name)
            ),
        ));
    }
    Ok(())
}

/// Entries of a short-form directory (the inode's data fork holds `size` bytes of it).
pub fn parse_shortform(
    sb: &Superblock,
    dir_ino: u64,
    fork: &[u8],
    size: u64,
    path: &str,
) -> Result<Vec<RawEntry>, FsError> {
    let err = |m: String| corrupt(path, format!("short-form directory inode {dir_ino}: {m}"));
    if size > fork.len() as u64 || size < 6 {
        return Err(err(format!(
            "size {size} for a fork of {} bytes",
            fork.len()
        )));
    }
    let d = &fork[..size as usize];
    let count = usize::from(d[0]);
    let ino_len = if d[1] > 0 { 8 } else { 4 };
    let ft = usize::from(sb.has_ftype);
    let mut pos = 2 + ino_len;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let namelen = usize::from(*d.get(pos).ok_or_else(|| err(format!("entry {i} is cut")))?);
        let name_at = pos + 3;
        let end = name_at + namelen + ft + ino_len;
        if namelen == 0 || end > d.len() {
            return Err(err(format!("entry {i} at byte {pos} is cut or empty")));
        }
        let name = d[name_at..name_at + namelen].to_vec();
        let ft_val = (ft == 1).then(|| d[name_at + namelen]).and_then(ftype);
        let ino_at = name_at + namelen + ft;
        let ino = if ino_len == 8 {
            be::u64(d, ino_at) & MAX_INO
        } else {
            u64::from(be::u32(d, ino_at))
        };
        check_name(&name, path, dir_ino)?;
        out.push(RawEntry {
            name,
            ino,
            ftype: ft_val,
        });
        pos = end;
    }
    Ok(out)
}

/// Check a directory data block's header (magic; CRC, address and owner on v5) and append its
/// entries. `daddr` is the 512-byte disk address of its first block, `at` its byte offset.
pub fn parse_data_block(
    sb: &Superblock,
    dir_ino: u64,
    block: &[u8],
    at: u64,
    out: &mut Vec<RawEntry>,
    max: usize,
    path: &str,
) -> Result<(), FsError> {
    let fsb = at >> sb.block_log;
    let err = |m: String| {
        corrupt(
            path,
            format!("directory inode {dir_ino}: data block at block {fsb} (byte offset {at}): {m}"),
        )
    };
    let magic = be::u32(block, 0);
    let (hdr, is_block) = match (magic, sb.has_crc) {
        (XDB3_MAGIC, true) => (DATA_HDR_V5, true),
        (XDD3_MAGIC, true) => (DATA_HDR_V5, false),
        (XD2B_MAGIC, false) => (DATA_HDR_V4, true),
        (XD2D_MAGIC, false) => (DATA_HDR_V4, false),
        _ => return Err(err(format!("bad magic {magic:#010x}"))),
    };
    if sb.has_crc {
        if !crc::verify(block, DIR3_CRC_OFF) {
            return Err(corrupt(
                path,
                format!(
                    "directory inode {dir_ino}: bad CRC at block {fsb} (byte offset {})",
                    at + DIR3_CRC_OFF as u64
                ),
            ));
        }
        if be::u64(block, 8) != at >> 9 {
            return Err(err("records another address".into()));
        }
        let owner = be::u64(block, 40);
        if owner != dir_ino {
            return Err(err(format!("belongs to inode {owner}")));
        }
    }
    let mut end = block.len();
    if is_block {
        // "Block Directories": leaf entries (8 bytes each) and the tail (count, stale) end it.
        let count = be::u32(block, block.len() - 8) as usize;
        let leaf = count
            .checked_mul(8)
            .and_then(|l| l.checked_add(8))
            .filter(|&l| l <= block.len() - hdr)
            .ok_or_else(|| err(format!("{count} leaf entries do not fit")))?;
        end = block.len() - leaf;
    }
    let ft = usize::from(sb.has_ftype);
    let mut pos = hdr;
    // Entries and unused regions are 8-byte aligned and at least 8 (unused) or 16 (entry)
    // bytes long; `pos` only moves by such sizes, so it stays aligned.
    while pos + 8 <= end {
        if be::u16(block, pos) == FREE_TAG {
            let len = usize::from(be::u16(block, pos + 2));
            if len < 8 || len % 8 != 0 || pos + len > end {
                return Err(err(format!("unused region of {len} bytes at byte {pos}")));
            }
            pos += len;
            continue;
        }
        if pos + 16 > end {
            return Err(err(format!("entry at byte {pos} is cut")));
        }
        let ino = be::u64(block, pos);
        let namelen = usize::from(block[pos + 8]);
        // xfs_dir2_data_entsize: inumber, namelen, name, ftype, tag, rounded up to 8.
        let size = (8 + 1 + namelen + ft + 2).div_ceil(8) * 8;
        if namelen == 0 || pos + size > end {
            return Err(err(format!("entry at byte {pos} is cut or empty")));
        }
        let name = &block[pos + 9..pos + 9 + namelen];
        if name != b"." && name != b".." {
            check_name(name, path, dir_ino)?;
            if out.len() >= max {
                return Err(err(format!("more than {max} entries")));
            }
            out.push(RawEntry {
                name: name.to_vec(),
                ino,
                ftype: if ft == 1 {
                    ftype(block[pos + 9 + namelen])
                } else {
                    None
                },
            });
        }
        pos += size;
    }
    Ok(())
}
