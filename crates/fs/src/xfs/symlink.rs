//! Symbolic links ("XFS Algorithms & Data Structures", "Symbolic Links"): the target is in the
//! inode (local format) or in up to three extents of "remote" blocks; on v5 file systems each
//! extent starts with an `XSLM` header (`struct xfs_dsymlink_hdr`) whose CRC covers the extent.

use preflight_io::be;

use super::bmap::Extent;
use super::inode::Inode;
use super::{Ctx, corrupt, crc};
use crate::FsError;

/// `XFS_SYMLINK_MAXLEN`.
pub const MAX_LEN: u64 = 1024;
const SYMLINK_MAGIC: u32 = 0x5853_4c4d; // "XSLM"
const HDR_LEN: usize = 56;
const CRC_OFF: usize = 12;
/// `XFS_SYMLINK_MAPS`.
const MAX_MAPS: usize = 3;

/// The target bytes of a remote symlink.
pub fn read_remote(
    ctx: &Ctx,
    inode: &Inode,
    extents: &[Extent],
    path: &str,
) -> Result<Vec<u8>, FsError> {
    let ino = inode.ino;
    let err = |m: String| corrupt(path, format!("symlink inode {ino}: {m}"));
    let sb = &ctx.sb;
    let want = inode.size as usize;
    if extents.is_empty() || extents.len() > MAX_MAPS {
        return Err(err(format!("{} extents", extents.len())));
    }
    let mut out = Vec::with_capacity(want);
    let mut next_off = 0u64;
    for e in extents {
        if e.off != next_off || e.unwritten {
            return Err(err(format!("extent at file block {} leaves a hole", e.off)));
        }
        next_off = e.off + e.len;
        if out.len() >= want {
            break;
        }
        let bytes = e.len << sb.block_log;
        if bytes > 4 * (MAX_LEN + HDR_LEN as u64) + u64::from(sb.block_size) {
            return Err(err(format!("extent of {} blocks", e.len)));
        }
        let at = sb.fsb_to_byte(e.block, e.len).map_err(err)?;
        let buf = ctx.read(at, bytes, path)?;
        let data = if sb.has_crc {
            if be::u32(&buf, 0) != SYMLINK_MAGIC {
                return Err(err(format!(
                    "bad magic at block {} (byte offset {at})",
                    e.block
                )));
            }
            if !crc::verify(&buf, CRC_OFF) {
                return Err(corrupt(
                    path,
                    format!(
                        "symlink inode {ino}: bad CRC at block {} (byte offset {})",
                        e.block,
                        at + CRC_OFF as u64
                    ),
                ));
            }
            let offset = be::u32(&buf, 4) as usize;
            let count = be::u32(&buf, 8) as usize;
            let owner = be::u64(&buf, 32);
            let blkno = be::u64(&buf, 40);
            let room = buf.len() - HDR_LEN;
            if owner != ino || blkno != at >> 9 || offset != out.len() {
                return Err(err(format!("header at block {} does not match", e.block)));
            }
            if count != room.min(want - out.len()) {
                return Err(err(format!("block {} holds {count} bytes", e.block)));
            }
            &buf[HDR_LEN..HDR_LEN + count]
        } else {
            &buf[..buf.len().min(want - out.len())]
        };
        out.extend_from_slice(data);
    }
    if out.len() != want {
        return Err(err(format!("{} of {want} bytes mapped", out.len())));
    }
    Ok(out)
}
