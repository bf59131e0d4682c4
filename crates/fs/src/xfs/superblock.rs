//! The superblock and the geometry derived from it ("XFS Algorithms & Data Structures",
//! "Superblocks"; field offsets as in `struct xfs_dsb`, all big-endian except `sb_crc`).

use preflight_io::be;

use super::{corrupt, crc};
use crate::FsError;

pub const XFS_SB_MAGIC: u32 = 0x5846_5342; // "XFSB"

const VERSION_NUMBITS: u16 = 0x000f;
const VERSION_DIRV2BIT: u16 = 0x2000;
const VERSION_MOREBITSBIT: u16 = 0x8000;
const VERSION2_FTYPE: u32 = 0x0000_0200;

/// v5 incompatible features ("Superblocks", `sb_features_incompat`).
pub const INCOMPAT_FTYPE: u32 = 1 << 0;
pub const INCOMPAT_SPINODES: u32 = 1 << 1;
pub const INCOMPAT_META_UUID: u32 = 1 << 2;
pub const INCOMPAT_BIGTIME: u32 = 1 << 3;
pub const INCOMPAT_NEEDSREPAIR: u32 = 1 << 4;
pub const INCOMPAT_NREXT64: u32 = 1 << 5;
pub const INCOMPAT_EXCHRANGE: u32 = 1 << 6;
pub const INCOMPAT_PARENT: u32 = 1 << 7;
/// Features that do not change how the namespace and file data are laid out for a reader that
/// follows `sb_rootino` (metadir only adds a hidden metadata directory tree).
const INCOMPAT_METADIR: u32 = 1 << 8;
const INCOMPAT_KNOWN: u32 = INCOMPAT_FTYPE
    | INCOMPAT_SPINODES
    | INCOMPAT_META_UUID
    | INCOMPAT_BIGTIME
    | INCOMPAT_NEEDSREPAIR
    | INCOMPAT_NREXT64
    | INCOMPAT_EXCHRANGE
    | INCOMPAT_PARENT
    | INCOMPAT_METADIR;

/// Offset of `sb_crc` in the superblock sector.
const SB_CRC_OFF: usize = 224;

/// Geometry and features we need, checked for consistency before anything uses them.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub version: u16,
    pub block_size: u32,
    pub block_log: u8,
    pub sect_size: u16,
    pub dblocks: u64,
    pub ag_blocks: u32,
    pub ag_count: u32,
    pub ag_blk_log: u8,
    pub inode_size: u16,
    pub inode_log: u8,
    pub inop_blog: u8,
    pub root_ino: u64,
    pub dir_blk_log: u8,
    pub has_crc: bool,
    pub has_ftype: bool,
    pub has_bigtime: bool,
    pub has_nrext64: bool,
    pub meta_uuid: [u8; 16],
}

impl Superblock {
    /// Decode and check the primary superblock sector (`buf` holds at least 512 bytes; v5
    /// needs the whole `sb_sectsize` sector for its CRC, which the caller rereads).
    pub fn parse(buf: &[u8]) -> Result<Superblock, FsError> {
        if buf.len() < 512 {
            return Err(corrupt("/", "superblock shorter than a sector"));
        }
        let magic = be::u32(buf, 0);
        if magic != XFS_SB_MAGIC {
            return Err(corrupt("/", format!("bad superblock magic {magic:#010x}")));
        }
        let block_size = be::u32(buf, 4);
        let dblocks = be::u64(buf, 8);
        let root_ino = be::u64(buf, 56);
        let ag_blocks = be::u32(buf, 84);
        let ag_count = be::u32(buf, 88);
        let versionnum = be::u16(buf, 100);
        let sect_size = be::u16(buf, 102);
        let inode_size = be::u16(buf, 104);
        let inop_block = be::u16(buf, 106);
        let block_log = buf[120];
        let sect_log = buf[121];
        let inode_log = buf[122];
        let inop_blog = buf[123];
        let ag_blk_log = buf[124];
        let dir_blk_log = buf[192];
        let features2 = be::u32(buf, 200);
        let incompat = be::u32(buf, 216);

        let version = versionnum & VERSION_NUMBITS;
        let bad = |what: String| Err(corrupt("/", format!("superblock: {what}")));
        if version != 4 && version != 5 {
            return Err(FsError::Unsupported {
                path: "/".into(),
                message: format!("XFS superblock version {version}"),
            });
        }
        if version == 4 && versionnum & VERSION_DIRV2BIT == 0 {
            return Err(FsError::Unsupported {
                path: "/".into(),
                message: "XFS v4 without version 2 directories".into(),
            });
        }
        if !(9..=16).contains(&block_log) || block_size != 1 << block_log {
            return bad(format!("block size {block_size} / log {block_log}"));
        }
        if !(9..=15).contains(&sect_log) || u32::from(sect_size) != 1 << sect_log {
            return bad(format!("sector size {sect_size} / log {sect_log}"));
        }
        if !(8..=11).contains(&inode_log)
            || u32::from(inode_size) != 1 << inode_log
            || inode_log > block_log
        {
            return bad(format!("inode size {inode_size} / log {inode_log}"));
        }
        if u32::from(inop_block) != block_size >> inode_log
            || u32::from(inop_blog) != u32::from(block_log - inode_log)
        {
            return bad(format!("{inop_block} inodes per block (log {inop_blog})"));
        }
        if ag_count == 0 || ag_blocks < 64 {
            return bad(format!("{ag_count} groups of {ag_blocks} blocks"));
        }
        // sb_agblklog is log2 of sb_agblocks rounded up.
        let want_log = 32 - (ag_blocks - 1).leading_zeros();
        if u32::from(ag_blk_log) != want_log {
            return bad(format!(
                "group block log {ag_blk_log} for {ag_blocks} blocks"
            ));
        }
        let max_blocks = u64::from(ag_count) * u64::from(ag_blocks);
        if dblocks == 0 || dblocks > max_blocks || dblocks <= max_blocks - u64::from(ag_blocks) {
            return bad(format!(
                "{dblocks} blocks for {ag_count} groups of {ag_blocks}"
            ));
        }
        if dblocks > u64::MAX >> (block_log + 1) {
            return bad(format!("{dblocks} blocks"));
        }
        if u32::from(block_log) + u32::from(dir_blk_log) > 16 {
            return bad(format!("directory block log {dir_blk_log}"));
        }
        if u32::from(ag_blk_log) + u32::from(inop_blog) + (32 - ag_count.leading_zeros()) > 64 {
            return bad("inode numbers wider than 64 bits".into());
        }
        let has_crc = version == 5;
        if has_crc && incompat & !INCOMPAT_KNOWN != 0 {
            return Err(FsError::Unsupported {
                path: "/".into(),
                message: format!(
                    "XFS incompatible features {:#x}",
                    incompat & !INCOMPAT_KNOWN
                ),
            });
        }
        if has_crc && inode_size < 512 {
            return bad(format!("inode size {inode_size} on a v5 file system"));
        }
        let more_bits = versionnum & VERSION_MOREBITSBIT != 0;
        let has_ftype = if has_crc {
            incompat & INCOMPAT_FTYPE != 0
        } else {
            more_bits && features2 & VERSION2_FTYPE != 0
        };
        let mut meta_uuid = [0u8; 16];
        let uuid_at = if has_crc && incompat & INCOMPAT_META_UUID != 0 {
            248
        } else {
            32
        };
        meta_uuid.copy_from_slice(&buf[uuid_at..uuid_at + 16]);
        let sb = Superblock {
            version,
            block_size,
            block_log,
            sect_size,
            dblocks,
            ag_blocks,
            ag_count,
            ag_blk_log,
            inode_size,
            inode_log,
            inop_blog,
            root_ino,
            dir_blk_log,
            has_crc,
            has_ftype,
            has_bigtime: has_crc && incompat & INCOMPAT_BIGTIME != 0,
            has_nrext64: has_crc && incompat & INCOMPAT_NREXT64 != 0,
            meta_uuid,
        };
        sb.ino_location(root_ino)
            .map_err(|m| corrupt("/", format!("superblock: root inode: {m}")))?;
        Ok(sb)
    }

    /// Check the v5 superblock CRC over the whole sector.
    pub fn verify_crc(&self, sector: &[u8]) -> Result<(), FsError> {
        if self.has_crc && !crc::verify(sector, SB_CRC_OFF) {
            return Err(corrupt(
                "/",
                format!("bad superblock CRC at block 0 (byte offset {SB_CRC_OFF})"),
            ));
        }
        Ok(())
    }

    /// Directory block size in bytes ("Directories": `sb_blocksize << sb_dirblklog`).
    pub fn dir_block_size(&self) -> usize {
        (self.block_size as usize) << self.dir_blk_log
    }

    /// Split a file-system block number (`agno << agblklog | agbno`) and check that `count`
    /// blocks from it stay inside its group and the device; returns the linear block number.
    pub fn fsb_to_linear(&self, fsb: u64, count: u64) -> Result<u64, String> {
        let agno = fsb >> self.ag_blk_log;
        let agbno = fsb & ((1u64 << self.ag_blk_log) - 1);
        if agno >= u64::from(self.ag_count) || agbno >= u64::from(self.ag_blocks) {
            return Err(format!(
                "block {fsb} (group {agno}, block {agbno}) is outside the file system"
            ));
        }
        let end = agbno
            .checked_add(count)
            .filter(|&e| e <= u64::from(self.ag_blocks))
            .ok_or_else(|| {
                format!("{count} blocks from block {fsb} cross the end of group {agno}")
            })?;
        let linear = agno * u64::from(self.ag_blocks) + agbno;
        if linear + (end - agbno) > self.dblocks {
            return Err(format!(
                "{count} blocks from block {fsb} go past the end of the file system"
            ));
        }
        Ok(linear)
    }

    /// Byte offset of `count` blocks at file-system block `fsb`, checked.
    pub fn fsb_to_byte(&self, fsb: u64, count: u64) -> Result<u64, String> {
        Ok(self.fsb_to_linear(fsb, count)? << self.block_log)
    }

    /// Byte offset of inode `ino` ("Inode Numbers": the low `sb_inopblog` bits pick the inode in
    /// its block, the next `sb_agblklog` bits the block in the group, the rest the group).
    pub fn ino_location(&self, ino: u64) -> Result<u64, String> {
        let offset = ino & ((1u64 << self.inop_blog) - 1);
        let shift = u32::from(self.inop_blog) + u32::from(self.ag_blk_log);
        let agbno = (ino >> self.inop_blog) & ((1u64 << self.ag_blk_log) - 1);
        let agno = if shift >= 64 { 0 } else { ino >> shift };
        if agno >= u64::from(self.ag_count) || agbno >= u64::from(self.ag_blocks) || ino == 0 {
            return Err(format!("inode number {ino} is outside the file system"));
        }
        let linear = agno * u64::from(self.ag_blocks) + agbno;
        if linear >= self.dblocks {
            return Err(format!(
                "inode number {ino} is past the end of the file system"
            ));
        }
        Ok((linear << self.block_log) + (offset << self.inode_log))
    }
}
