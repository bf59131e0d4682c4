//! File data ("Data structures", EXTENT_DATA / `btrfs_file_extent_item`).
//!
//! Items keyed (inode, EXTENT_DATA, file offset) describe the file in order: inline data
//! (possibly compressed), regular extents (a window `offset .. offset + num_bytes` of the
//! disk extent `disk_bytenr .. + disk_num_bytes`, which for a compressed extent decompresses
//! to `ram_bytes`), preallocated extents (read as zeros) and holes (`disk_bytenr` 0, or no
//! item at all with the NO_HOLES feature). Everything up to the inode size that no extent
//! covers reads as zeros.

use std::sync::Arc;

use super::compression::{self, COMPRESS_NONE, MAX_UNCOMPRESSED};
use super::items::{EXTENT_DATA_KEY, FileExtent};
use super::tree::{Flow, Key, TreeRoot};
use super::{Error, Inner, R};

impl Inner {
    /// Read file `ino` of `size` bytes at `offset`; returns the bytes read (0 at the end).
    pub fn read_data(
        &self,
        tree: TreeRoot,
        ino: u64,
        size: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> R<usize> {
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from((size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        let end = offset + want as u64;
        let buf = &mut buf[..want];
        buf.fill(0);
        // Start at the extent item covering `offset` (the last one starting at or before it).
        let start = match self.prev_or_eq(tree, Key::new(ino, EXTENT_DATA_KEY, offset))? {
            Some(k) if k.objectid == ino && k.ty == EXTENT_DATA_KEY => k,
            _ => Key::new(ino, EXTENT_DATA_KEY, 0),
        };
        self.walk(tree, start, &mut |k, d| {
            if k.objectid != ino || k.ty != EXTENT_DATA_KEY || k.offset >= end {
                return Ok(Flow::Stop);
            }
            let fo = k.offset;
            match FileExtent::parse(d)? {
                FileExtent::Inline {
                    ram_bytes,
                    compression,
                    data,
                } => {
                    let bytes = if compression == COMPRESS_NONE {
                        data
                    } else {
                        let len = usize::try_from(ram_bytes.min(MAX_UNCOMPRESSED)).unwrap_or(0);
                        compression::decompress(
                            compression,
                            &data,
                            len,
                            self.sb.sectorsize as usize,
                        )?
                    };
                    copy_overlap(buf, offset, fo, &bytes);
                }
                FileExtent::Regular {
                    compression,
                    prealloc,
                    ram_bytes,
                    disk_bytenr,
                    disk_num_bytes,
                    offset: ext_off,
                    num_bytes,
                } => {
                    let ext_end = fo.checked_add(num_bytes).ok_or_else(|| {
                        Error::Corrupt(format!("extent at file offset {fo} overflows"))
                    })?;
                    let lo = fo.max(offset);
                    let hi = ext_end.min(end);
                    if lo >= hi || prealloc || disk_bytenr == 0 {
                        return Ok(Flow::Continue);
                    }
                    let dst = &mut buf[(lo - offset) as usize..(hi - offset) as usize];
                    let within = ext_off
                        .checked_add(lo - fo)
                        .ok_or_else(|| Error::Corrupt("extent offset overflows".into()))?;
                    if compression == COMPRESS_NONE {
                        let at = disk_bytenr
                            .checked_add(within)
                            .ok_or_else(|| Error::Corrupt("extent address overflows".into()))?;
                        self.read_logical(at, dst)?;
                    } else {
                        let plain =
                            self.decompressed(compression, disk_bytenr, disk_num_bytes, ram_bytes)?;
                        let from = usize::try_from(within).unwrap_or(usize::MAX);
                        let to = from.saturating_add(dst.len());
                        let src = plain.get(from..to).ok_or_else(|| {
                            Error::Corrupt(format!(
                                "extent at file offset {fo} reaches past its {ram_bytes} \
                                 uncompressed bytes"
                            ))
                        })?;
                        dst.copy_from_slice(src);
                    }
                }
            }
            Ok(Flow::Continue)
        })?;
        Ok(want)
    }

    /// A whole compressed disk extent, decompressed (cached).
    fn decompressed(
        &self,
        kind: u8,
        disk_bytenr: u64,
        disk_num_bytes: u64,
        ram_bytes: u64,
    ) -> R<Arc<Vec<u8>>> {
        if let Some(v) = self
            .extents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(disk_bytenr)
            && v.len() as u64 == ram_bytes
        {
            return Ok(v);
        }
        if disk_num_bytes > MAX_UNCOMPRESSED || ram_bytes > MAX_UNCOMPRESSED {
            return Err(Error::Corrupt(format!(
                "compressed extent at {disk_bytenr:#x}: {disk_num_bytes} bytes on disk, \
                 {ram_bytes} uncompressed (at most {MAX_UNCOMPRESSED} each)"
            )));
        }
        let mut raw = vec![0u8; disk_num_bytes as usize];
        self.read_logical(disk_bytenr, &mut raw)?;
        let plain =
            compression::decompress(kind, &raw, ram_bytes as usize, self.sb.sectorsize as usize)
                .map_err(|e| match e {
                    Error::Corrupt(m) => {
                        Error::Corrupt(format!("{m} (disk extent at {disk_bytenr:#x})"))
                    }
                    other => other,
                })?;
        let plain = Arc::new(plain);
        self.extents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(disk_bytenr, Arc::clone(&plain));
        Ok(plain)
    }
}

/// Copy the part of `data` (file bytes starting at `fo`) that falls in `buf` (file bytes
/// starting at `offset`).
fn copy_overlap(buf: &mut [u8], offset: u64, fo: u64, data: &[u8]) {
    let end = offset + buf.len() as u64;
    let Some(data_end) = fo.checked_add(data.len() as u64) else {
        return;
    };
    let lo = fo.max(offset);
    let hi = data_end.min(end);
    if lo >= hi {
        return;
    }
    buf[(lo - offset) as usize..(hi - offset) as usize]
        .copy_from_slice(&data[(lo - fo) as usize..(hi - fo) as usize]);
}
