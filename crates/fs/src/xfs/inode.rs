//! Inode cores v1/v2/v3 and their data forks ("XFS Algorithms & Data Structures", "On-disk
//! Inode": `struct xfs_dinode`; "Data Fork"; "Timestamps" for bigtime).

use preflight_io::be;

use super::superblock::Superblock;
use super::{corrupt, crc};
use crate::{FileType, FsError};

pub const XFS_DINODE_MAGIC: u16 = 0x494e; // "IN"

/// Fork formats (`enum xfs_dinode_fmt`; 0 is a device number, 4 and 5 are unused/realtime).
pub const FMT_LOCAL: u8 = 1;
pub const FMT_EXTENTS: u8 = 2;
pub const FMT_BTREE: u8 = 3;

/// `di_flags`: the file's data lives on the realtime device.
const DIFLAG_REALTIME: u16 = 0x0001;
/// `di_flags2` bits.
const DIFLAG2_BIGTIME: u64 = 1 << 3;
const DIFLAG2_NREXT64: u64 = 1 << 4;

/// Size of the v1/v2 core and of the v3 core: the literal area (forks) follows.
const CORE_V2: usize = 100;
const CORE_V3: usize = 176;
/// Offset of `di_crc` in a v3 inode.
const INODE_CRC_OFF: usize = 100;

/// Seconds between the bigtime epoch and the Unix epoch (`XFS_BIGTIME_EPOCH_OFFSET`, -(S32_MIN)).
const BIGTIME_EPOCH_OFFSET: i64 = 1 << 31;

#[derive(Debug, Clone)]
pub struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub realtime: bool,
    /// Data fork format (`di_format`).
    pub format: u8,
    /// Data fork extent count (`di_nextents`, or `di_big_nextents` with nrext64).
    pub nextents: u64,
    /// The data fork's bytes in the literal area.
    pub fork: Vec<u8>,
}

impl Inode {
    /// Decode inode `ino` from its `sb_inodesize` bytes at byte offset `at`.
    pub fn parse(sb: &Superblock, ino: u64, at: u64, buf: &[u8]) -> Result<Inode, FsError> {
        let err = |m: String| corrupt("", format!("inode {ino} (byte offset {at}): {m}"));
        if buf.len() != usize::from(sb.inode_size) {
            return Err(err("short inode".into()));
        }
        let magic = be::u16(buf, 0);
        if magic != XFS_DINODE_MAGIC {
            return Err(err(format!("bad magic {magic:#06x}")));
        }
        let version = buf[4];
        match (version, sb.has_crc) {
            (3, true) | (1 | 2, false) => {}
            _ => {
                return Err(err(format!(
                    "version {version} inode on a v{} file system",
                    sb.version
                )));
            }
        }
        if version == 3 {
            if !crc::verify(buf, INODE_CRC_OFF) {
                return Err(corrupt(
                    "",
                    format!(
                        "inode {ino}: bad CRC at block {} (byte offset {at})",
                        at >> sb.block_log
                    ),
                ));
            }
            let stored = be::u64(buf, 152);
            if stored != ino {
                return Err(err(format!("inode records number {stored}")));
            }
            if buf[160..176] != sb.meta_uuid {
                return Err(err("inode belongs to another file system (UUID)".into()));
            }
        }
        let mode = be::u16(buf, 2);
        if mode == 0 {
            return Err(err("inode is free".into()));
        }
        let format = buf[5];
        let uid = be::u32(buf, 8);
        let gid = be::u32(buf, 12);
        let flags2 = if version == 3 { be::u64(buf, 120) } else { 0 };
        if flags2 & DIFLAG2_BIGTIME != 0 && !sb.has_bigtime {
            return Err(err("big timestamps on a file system without them".into()));
        }
        if flags2 & DIFLAG2_NREXT64 != 0 && !sb.has_nrext64 {
            return Err(err(
                "64-bit extent counters on a file system without them".into()
            ));
        }
        let mtime = if flags2 & DIFLAG2_BIGTIME != 0 {
            // "Timestamps": nanoseconds since 1901-12-13 (the epoch minus 2^31 seconds).
            (be::u64(buf, 40) / 1_000_000_000) as i64 - BIGTIME_EPOCH_OFFSET
        } else {
            i64::from(be::u32(buf, 40) as i32)
        };
        let size = be::u64(buf, 56);
        if size > i64::MAX as u64 {
            return Err(err(format!("size {size}")));
        }
        let nextents = if flags2 & DIFLAG2_NREXT64 != 0 {
            be::u64(buf, 24)
        } else {
            u64::from(be::u32(buf, 76))
        };
        let forkoff = usize::from(buf[82]) * 8;
        let flags = be::u16(buf, 90);
        let core = if version == 3 { CORE_V3 } else { CORE_V2 };
        let literal = buf.len() - core;
        if forkoff > literal {
            return Err(err(format!(
                "attribute fork offset {forkoff} beyond the literal area"
            )));
        }
        let fork_len = if forkoff == 0 { literal } else { forkoff };
        Ok(Inode {
            ino,
            mode,
            uid,
            gid,
            size,
            mtime,
            realtime: flags & DIFLAG_REALTIME != 0,
            format,
            nextents,
            fork: buf[core..core + fork_len].to_vec(),
        })
    }

    pub fn file_type(&self) -> FileType {
        mode_type(self.mode)
    }
}

/// The file type in an inode mode (`S_IFMT` bits).
pub fn mode_type(mode: u16) -> FileType {
    match mode & 0o170000 {
        0o100000 => FileType::Regular,
        0o040000 => FileType::Directory,
        0o120000 => FileType::Symlink,
        0o020000 => FileType::CharDevice,
        0o060000 => FileType::BlockDevice,
        0o010000 => FileType::Fifo,
        0o140000 => FileType::Socket,
        _ => FileType::Unknown,
    }
}
