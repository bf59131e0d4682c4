//! Data fork block maps: extent records and the bmap btree ("XFS Algorithms & Data
//! Structures", "Data Extents" — `xfs_bmbt_rec`, 128 bits: 1 flag bit, 54 bits of file offset,
//! 52 bits of block number, 21 bits of length — and "Extent B+tree" / "Long Format B+trees" for
//! the bmbt: the root in the inode (`xfs_bmdr_block`), blocks with `BMAP`/`BMA3` headers).

use std::collections::HashSet;

use preflight_io::be;

use super::inode::{FMT_BTREE, FMT_EXTENTS, Inode};
use super::{Ctx, corrupt, crc};
use crate::FsError;

const BMAP_MAGIC: u32 = 0x424d_4150; // "BMAP"
const BMAP_CRC_MAGIC: u32 = 0x424d_4133; // "BMA3"
/// Long-format btree block header sizes without and with CRC (`xfs_btree_block`).
const LBLOCK_LEN: usize = 24;
const LBLOCK_CRC_LEN: usize = 72;
/// Offset of `bb_crc` in a v5 long-format block.
const LBLOCK_CRC_OFF: usize = 64;

/// Deepest bmbt we walk (XFS computes its own maximum, 9 or so even with 64-bit extent counts).
pub const MAX_BMBT_DEPTH: u16 = 10;
/// Most extents one fork may map before we call it hostile.
pub const MAX_EXTENTS: u64 = 1 << 21;
/// File offsets are signed 64-bit byte counts: no extent may end past 2^63 bytes.
const MAX_FILE_BLOCKS: u64 = 1 << 63;
/// Most bmbt blocks one walk may read.
const MAX_BMBT_BLOCKS: usize = 1 << 17;
/// Largest single read of metadata blocks (contiguous btree blocks are fetched together).
const MAX_BATCH: u64 = 1 << 20;

/// One mapping of `len` file blocks at file block `off` to file-system block `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub off: u64,
    pub block: u64,
    pub len: u64,
    /// Preallocated, never written: reads as zeros.
    pub unwritten: bool,
}

/// Decode one 16-byte extent record.
fn decode(rec: &[u8]) -> Extent {
    let l0 = be::u64(rec, 0);
    let l1 = be::u64(rec, 8);
    Extent {
        unwritten: l0 >> 63 != 0,
        off: (l0 & ((1 << 63) - 1)) >> 9,
        block: ((l0 & 0x1ff) << 43) | (l1 >> 21),
        len: l1 & ((1 << 21) - 1),
    }
}

/// The data fork's extents, sorted by file offset and checked (no overlap, inside the device).
pub fn extents(ctx: &Ctx, inode: &Inode, path: &str) -> Result<Vec<Extent>, FsError> {
    let ino = inode.ino;
    let err = |m: String| corrupt(path, format!("inode {ino}: {m}"));
    if inode.nextents > MAX_EXTENTS {
        return Err(err(format!("{} extents", inode.nextents)));
    }
    let mut out = Vec::new();
    match inode.format {
        FMT_EXTENTS => {
            let n = inode.nextents as usize;
            if n * 16 > inode.fork.len() {
                return Err(err(format!("{n} extents do not fit in the inode")));
            }
            out.extend(inode.fork[..n * 16].chunks_exact(16).map(decode));
        }
        FMT_BTREE => walk_bmbt(ctx, inode, path, &mut out)?,
        f => return Err(err(format!("data fork format {f} has no extents"))),
    }
    if out.len() as u64 != inode.nextents {
        return Err(err(format!(
            "{} extents mapped, {} declared",
            out.len(),
            inode.nextents
        )));
    }
    let mut end = 0u64;
    for e in &out {
        if e.len == 0 {
            return Err(err(format!("empty extent at file block {}", e.off)));
        }
        if e.off < end {
            return Err(err(format!(
                "extents overlap or are out of order at file block {}",
                e.off
            )));
        }
        end = e.off + e.len; // off < 2^54, len < 2^21: no overflow
        if end > MAX_FILE_BLOCKS >> ctx.sb.block_log {
            return Err(err(format!(
                "extent at file block {} is beyond 2^63 bytes",
                e.off
            )));
        }
        ctx.sb
            .fsb_to_linear(e.block, e.len)
            .map_err(|m| err(format!("extent at file block {}: {m}", e.off)))?;
    }
    Ok(out)
}

/// Walk the bmbt level by level from the root in the inode, reading contiguous sibling blocks
/// together; every block is checked (magic, level, record count, CRC, owner, address) and read
/// at most once, so a pointer cycle is an error, not a loop.
fn walk_bmbt(ctx: &Ctx, inode: &Inode, path: &str, out: &mut Vec<Extent>) -> Result<(), FsError> {
    let ino = inode.ino;
    let err = |m: String| corrupt(path, format!("inode {ino}: bmap btree: {m}"));
    let fork = &inode.fork;
    if fork.len() < 4 + 16 {
        return Err(err("root does not fit in the inode".into()));
    }
    let level = be::u16(fork, 0);
    let numrecs = usize::from(be::u16(fork, 2));
    // xfs_bmdr_maxrecs: keys then pointers, sized for the whole fork.
    let maxrecs = (fork.len() - 4) / 16;
    if level == 0 || level > MAX_BMBT_DEPTH {
        return Err(err(format!("root level {level}")));
    }
    if numrecs == 0 || numrecs > maxrecs {
        return Err(err(format!(
            "root has {numrecs} records (at most {maxrecs})"
        )));
    }
    let ptr_at = 4 + maxrecs * 8;
    let mut ptrs: Vec<u64> = (0..numrecs)
        .map(|i| be::u64(fork, ptr_at + i * 8))
        .collect();
    let sb = &ctx.sb;
    let bs = sb.block_size as usize;
    let (hdr, magic) = if sb.has_crc {
        (LBLOCK_CRC_LEN, BMAP_CRC_MAGIC)
    } else {
        (LBLOCK_LEN, BMAP_MAGIC)
    };
    let block_maxrecs = (bs - hdr) / 16;
    let mut seen = HashSet::new();
    let mut want_level = level;
    while want_level > 0 {
        want_level -= 1;
        if seen.len() + ptrs.len() > MAX_BMBT_BLOCKS {
            return Err(err(format!("more than {MAX_BMBT_BLOCKS} blocks")));
        }
        for &p in &ptrs {
            if !seen.insert(p) {
                return Err(err(format!("block {p} is referenced twice (cycle)")));
            }
        }
        let mut next = Vec::new();
        for (fsb, block) in read_blocks(ctx, &ptrs, path)? {
            let at = ctx.sb.fsb_to_byte(fsb, 1).map_err(err)?;
            let where_ = || format!("block {fsb} (byte offset {at})");
            let m = be::u32(&block, 0);
            if m != magic {
                return Err(err(format!("{}: bad magic {m:#010x}", where_())));
            }
            if sb.has_crc {
                if !crc::verify(&block, LBLOCK_CRC_OFF) {
                    return Err(err(format!(
                        "bad CRC at block {fsb} (byte offset {})",
                        at + LBLOCK_CRC_OFF as u64
                    )));
                }
                if be::u64(&block, 24) != at >> 9 {
                    return Err(err(format!("{}: records another address", where_())));
                }
                if be::u64(&block, 56) != ino {
                    return Err(err(format!(
                        "{}: belongs to inode {}",
                        where_(),
                        be::u64(&block, 56)
                    )));
                }
            }
            let lvl = be::u16(&block, 4);
            let n = usize::from(be::u16(&block, 6));
            if lvl != want_level {
                return Err(err(format!(
                    "{}: level {lvl}, expected {want_level}",
                    where_()
                )));
            }
            if n == 0 || n > block_maxrecs {
                return Err(err(format!("{}: {n} records", where_())));
            }
            if lvl == 0 {
                if out.len() + n > MAX_EXTENTS as usize {
                    return Err(err(format!("more than {MAX_EXTENTS} extents")));
                }
                out.extend(block[hdr..hdr + n * 16].chunks_exact(16).map(decode));
            } else {
                let pat = hdr + block_maxrecs * 8;
                next.extend((0..n).map(|i| be::u64(&block, pat + i * 8)));
            }
        }
        ptrs = next;
    }
    Ok(())
}

/// Read single file-system blocks `fsbs` (in order), fetching physically consecutive ones with
/// one call each.
pub fn read_blocks(ctx: &Ctx, fsbs: &[u64], path: &str) -> Result<Vec<(u64, Vec<u8>)>, FsError> {
    let sb = &ctx.sb;
    let bs = u64::from(sb.block_size);
    let lin: Vec<u64> = fsbs
        .iter()
        .map(|&f| sb.fsb_to_linear(f, 1).map_err(|m| corrupt(path, m)))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(fsbs.len());
    let mut i = 0;
    while i < fsbs.len() {
        let mut j = i + 1;
        while j < fsbs.len() && lin[j] == lin[j - 1] + 1 && (j - i + 1) as u64 * bs <= MAX_BATCH {
            j += 1;
        }
        let data = ctx.read(lin[i] * bs, (j - i) as u64 * bs, path)?;
        for (k, chunk) in data.chunks_exact(bs as usize).enumerate() {
            out.push((fsbs[i + k], chunk.to_vec()));
        }
        i = j;
    }
    Ok(out)
}

/// A stretch of a logical byte range: `len` bytes at `at` in the output, stored at byte
/// `phys` on the device, or not stored (hole or unwritten extent: zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub at: u64,
    pub len: u64,
    pub phys: Option<u64>,
}

/// Map the logical bytes `start .. start + len` of a fork through `extents`, merging pieces
/// that are contiguous on the device.
pub fn map_range(ctx: &Ctx, extents: &[Extent], start: u64, len: u64) -> Vec<Piece> {
    let bl = ctx.sb.block_log;
    let end = start.saturating_add(len);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut push = |p: Piece| {
        if p.len == 0 {
            return;
        }
        if let Some(last) = pieces.last_mut() {
            let joined = match (last.phys, p.phys) {
                (None, None) => true,
                (Some(a), Some(b)) => a + last.len == b,
                _ => false,
            };
            if joined && last.at + last.len == p.at {
                last.len += p.len;
                return;
            }
        }
        pieces.push(p);
    };
    let first = extents.partition_point(|e| (e.off + e.len) << bl <= start);
    let mut pos = start;
    for e in &extents[first..] {
        let e_start = e.off << bl;
        if e_start >= end {
            break;
        }
        let e_end = (e.off + e.len) << bl;
        if e_start > pos {
            push(Piece {
                at: pos - start,
                len: e_start - pos,
                phys: None,
            });
            pos = e_start;
        }
        let stop = e_end.min(end);
        // Extents were checked against the geometry when they were loaded.
        let base = ctx.sb.fsb_to_byte(e.block, e.len).unwrap_or(0);
        push(Piece {
            at: pos - start,
            len: stop - pos,
            phys: (!e.unwritten).then_some(base + (pos - e_start)),
        });
        pos = stop;
    }
    if pos < end {
        push(Piece {
            at: pos - start,
            len: end - pos,
            phys: None,
        });
    }
    pieces
}

/// Fill `buf` with the fork's bytes from logical byte `start`: one read per piece, zeros for
/// holes and unwritten extents. Returns the pieces, so callers can tell holes apart.
pub fn read_range(
    ctx: &Ctx,
    extents: &[Extent],
    start: u64,
    buf: &mut [u8],
    path: &str,
) -> Result<Vec<Piece>, FsError> {
    let pieces = map_range(ctx, extents, start, buf.len() as u64);
    for p in &pieces {
        let dst = &mut buf[p.at as usize..(p.at + p.len) as usize];
        match p.phys {
            Some(phys) => ctx.read_into(phys, dst, path)?,
            None => dst.fill(0),
        }
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_record_bit_fields() {
        // flag=1, startoff=0x123456789, startblock=0x1_2345_6789_abcd, blockcount=0x1f_ffff
        let off: u64 = 0x1_2345_6789;
        let block: u64 = 0x1_2345_6789_abcd & ((1 << 52) - 1);
        let count: u64 = 0x1f_ffff;
        let l0 = (1u64 << 63) | (off << 9) | (block >> 43);
        let l1 = (block << 21) | count;
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&l0.to_be_bytes());
        rec[8..].copy_from_slice(&l1.to_be_bytes());
        let e = decode(&rec);
        assert_eq!(
            e,
            Extent {
                off,
                block,
                len: count,
                unwritten: true
            }
        );
    }
}
