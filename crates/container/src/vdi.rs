//! A read-only VDI reader (VirtualBox Disk Image, version 1.1): dynamic, static, and
//! differencing/undo images. Layout: VirtualBox's src/VBox/Storage/VDICore.h and VDI.cpp, and
//! QEMU's block/vdi.c (see `header.rs` for the header fields).
//!
//! After the header comes the block map: one little-endian u32 per block of the virtual disk.
//! 0xffffffff (`VDI_IMAGE_BLOCK_FREE`) is a block this image does not hold: zeros in a base
//! image, the parent's data in a differencing one. 0xfffffffe (`VDI_IMAGE_BLOCK_ZERO`) reads
//! as zeros. Anything else is the block's index in the data area, where block `i` starts at
//! `data offset + i × (block size + extra)` and its data follows its `extra` bytes (VDI.cpp:
//! `offStartBlockData`, `cbTotalBlockData`).
//!
//! A differencing image's parent is never opened (we only have this file); the bytes asked of
//! blocks only the parent holds read as zeros and are counted, as for a QCOW2 backing file.

mod header;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use preflight_io::{ByteSource, IoError, Source, check_bounds, le, read_vec};

use crate::info::ContainerInfo;
use crate::{Container, ContainerError, Format};
use header::{Header, is_null, uuid_text};

const LAYER: &str = "vdi";
/// Block map entry: not in this image (zeros, or the parent's data).
const BLOCK_FREE: u32 = 0xffff_ffff;
/// Block map entry: reads as zeros.
const BLOCK_ZERO: u32 = 0xffff_fffe;
/// The largest block map we load: 32 MiB is 8 Mi entries, an 8 TiB disk in 1 MiB blocks
/// (VirtualBox's default and the only block size QEMU reads). A 2 TiB disk needs 8 MiB.
pub const MAX_MAP_BYTES: u64 = 32 * 1024 * 1024;

/// What one block of the virtual disk maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapping {
    /// The block's data starts at this file offset.
    Data(u64),
    Zero,
    /// Not in this image.
    Free,
}

pub struct Vdi {
    file: Source,
    h: Header,
    /// The block map as stored (little-endian u32s): decoding on lookup keeps one copy.
    map: Vec<u8>,
    size: u64,
    block_bits: u32,
    /// Bytes from one block's start to the next's: block size + extra data.
    stride: u64,
    missing: Arc<AtomicU64>,
}

/// Opens a VDI image as a [`Container`].
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let mut warnings = Vec::new();
    let image = Vdi::open(Arc::clone(&file), &mut warnings)?;
    let h = &image.h;
    let mut info = ContainerInfo::plain(Format::Vdi, image.size, file.len());
    info.subformat = Some(h.image_type.subformat().into());
    info.version = Some(format!("{}.{}", h.major, h.minor));
    info.block_size = Some(u64::from(h.block_size));

    let scan = image.scan();
    info.allocated_size = Some(scan.allocated * u64::from(h.block_size));
    if scan.allocated != u64::from(h.blocks_allocated) {
        warnings.push(format!(
            "The VDI header says {} blocks are allocated but the block map holds {}; the block map is what is read (`qemu-img check` reports this as corruption).",
            h.blocks_allocated, scan.allocated
        ));
    }
    match scan.beyond_eof {
        0 => {}
        1 => warnings.push(format!(
            "Block {} of the VDI block map points beyond the end of the file, which is truncated: reading it fails.",
            scan.first_beyond_eof
        )),
        n => warnings.push(format!(
            "{n} blocks of the VDI block map (the first is block {}) point beyond the end of the file, which is truncated: reading them fails.",
            scan.first_beyond_eof
        )),
    }

    let parent = (!is_null(&h.uuid_linkage)).then(|| uuid_text(&h.uuid_linkage));
    if h.image_type.has_parent() {
        let kind = if h.image_type == header::ImageType::Undo {
            "an undo image"
        } else {
            "a differencing image (a VirtualBox snapshot)"
        };
        let parent_name = parent.as_deref().unwrap_or("(not recorded)");
        warnings.push(format!(
            "This VDI is {kind}: blocks it does not hold belong to its parent image {parent_name}, which is not part of this file, so they read as zeros and the guest seen here is incomplete. Merge the chain into a standalone image first (`VBoxManage clonemedium` on this image)."
        ));
        info.parent = Some(parent.clone().unwrap_or_else(|| "(not recorded)".into()));
    }

    info.details = details(h, &scan);
    info.warnings = warnings;
    let missing = h
        .image_type
        .has_parent()
        .then(|| Arc::clone(&image.missing));
    Ok(Container {
        info,
        disk: Arc::new(image),
        missing_backing_bytes: missing,
    })
}

/// What a pass over the block map found.
struct Scan {
    allocated: u64,
    beyond_eof: u64,
    first_beyond_eof: u64,
}

fn details(h: &Header, scan: &Scan) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| d.push((k.to_string(), v));
    add("banner", h.banner.clone());
    add("image type", h.image_type.name().to_string());
    add("image UUID", uuid_text(&h.uuid_image));
    if !is_null(&h.uuid_modify) {
        add("last modification UUID", uuid_text(&h.uuid_modify));
    }
    if !is_null(&h.uuid_linkage) {
        add("parent UUID", uuid_text(&h.uuid_linkage));
    }
    if !is_null(&h.uuid_parent_modify) {
        add("parent modification UUID", uuid_text(&h.uuid_parent_modify));
    }
    if !h.description.is_empty() {
        add("description", h.description.clone());
    }
    if let Some(chs) = h.lchs_geometry.and_then(|g| g.chs()) {
        add("geometry (LCHS)", chs);
    }
    if let Some(chs) = h.legacy_geometry.chs() {
        add("legacy geometry", chs);
    }
    add(
        "blocks allocated",
        format!("{} of {}", scan.allocated, h.blocks),
    );
    if h.block_extra != 0 {
        add("block extra data", format!("{} bytes", h.block_extra));
    }
    if h.flags != 0 {
        // VDI.cpp vdiInitHeader: bit 0 is VD_VDI_IMAGE_FLAGS_ZERO_EXPAND.
        let zero_expand = if h.flags & 1 != 0 {
            " (zero expand)"
        } else {
            ""
        };
        add("flags", format!("0x{:08x}{zero_expand}", h.flags));
    }
    d
}

impl Vdi {
    pub fn open(file: Source, warnings: &mut Vec<String>) -> Result<Vdi, ContainerError> {
        let h = header::parse(&*file, warnings)?;
        // `parse` checked that the map lies in the file; the cap bounds memory. One read.
        let map = read_vec(&*file, h.map_offset, h.map_len(), MAX_MAP_BYTES)?;
        Ok(Vdi {
            size: h.virtual_size(),
            block_bits: h.block_size.trailing_zeros(),
            stride: u64::from(h.block_size) + u64::from(h.block_extra),
            file,
            map,
            h,
            missing: Arc::default(),
        })
    }

    fn block_size(&self) -> u64 {
        1 << self.block_bits
    }

    /// Where block map entry `block` is stored in the file.
    fn entry_offset(&self, block: u64) -> u64 {
        self.h.map_offset + block * 4
    }

    fn entry(&self, block: u64) -> Option<u32> {
        let at = usize::try_from(block.checked_mul(4)?).ok()?;
        self.map.get(at..at.checked_add(4)?).map(|s| le::u32(s, 0))
    }

    fn data_start(&self, entry: u32) -> Option<u64> {
        self.h
            .data_offset
            .checked_add(u64::from(entry).checked_mul(self.stride)?)?
            .checked_add(u64::from(self.h.block_extra))
    }

    /// Map block `block` of the virtual disk.
    fn map(&self, block: u64) -> Result<Mapping, IoError> {
        let entry = self.entry(block).ok_or_else(|| {
            // Unreachable: `parse` checked that the map covers the disk size.
            IoError::corrupt(
                LAYER,
                self.h.map_offset,
                format!("block {block} has no block map entry"),
            )
        })?;
        Ok(match entry {
            BLOCK_FREE => Mapping::Free,
            BLOCK_ZERO => Mapping::Zero,
            index => Mapping::Data(self.data_start(index).unwrap_or(u64::MAX)),
        })
    }

    /// Bytes of the virtual disk in block `block` (the last one may be partial).
    fn block_len(&self, block: u64) -> u64 {
        let start = block.saturating_mul(self.block_size());
        self.size.saturating_sub(start).min(self.block_size())
    }

    /// One pass over the entries of the map: allocated blocks, and blocks whose data would lie
    /// beyond the end of the file.
    fn scan(&self) -> Scan {
        let file_len = self.file.len();
        let mut s = Scan {
            allocated: 0,
            beyond_eof: 0,
            first_beyond_eof: 0,
        };
        for (block, e) in self.map.chunks_exact(4).enumerate() {
            let entry = le::u32(e, 0);
            if entry == BLOCK_FREE || entry == BLOCK_ZERO {
                continue;
            }
            s.allocated += 1;
            let block = block as u64;
            let needed = self.block_len(block);
            let end = self
                .data_start(entry)
                .and_then(|start| start.checked_add(needed));
            if needed > 0 && end.is_none_or(|end| end > file_len) {
                if s.beyond_eof == 0 {
                    s.first_beyond_eof = block;
                }
                s.beyond_eof += 1;
            }
        }
        s
    }

    fn beyond_eof(&self, block: u64, host: u64) -> IoError {
        let entry = self.entry(block).unwrap_or(0);
        IoError::corrupt(
            LAYER,
            self.entry_offset(block),
            format!(
                "block {block} (block map entry {entry}) has its data at offset {host}, beyond the end of the file ({} bytes; truncated image?)",
                self.file.len()
            ),
        )
    }
}

impl ByteSource for Vdi {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.size)?;
        let bs = self.block_size();
        let file_len = self.file.len();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos >> self.block_bits;
            let in_block = pos & (bs - 1);
            let left = buf.len() - done;
            let mut n = (bs - in_block).min(left as u64) as usize;
            match self.map(block)? {
                Mapping::Data(start) => {
                    let host = start.saturating_add(in_block);
                    if host.checked_add(n as u64).is_none_or(|end| end > file_len) {
                        return Err(self.beyond_eof(block, host));
                    }
                    // Blocks that follow each other on the disk usually follow each other in
                    // the file too (always in a static image): one read for the whole run.
                    let mut next = block + 1;
                    while n < left {
                        let m = bs.min((left - n) as u64);
                        let want = host + n as u64;
                        let fits = want.checked_add(m).is_some_and(|end| end <= file_len);
                        match self.map(next) {
                            Ok(Mapping::Data(s)) if s == want && fits => {
                                n += m as usize;
                                next += 1;
                            }
                            _ => break,
                        }
                    }
                    let out = buf
                        .get_mut(done..done + n)
                        .ok_or_else(|| IoError::corrupt(LAYER, pos, "read split out of range"))?;
                    self.file.read_at(host, out)?;
                }
                Mapping::Zero => fill_zero(buf, done, n),
                Mapping::Free => {
                    if self.h.image_type.has_parent() {
                        self.missing.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    fill_zero(buf, done, n);
                }
            }
            done += n;
        }
        Ok(())
    }
}

fn fill_zero(buf: &mut [u8], from: usize, n: usize) {
    if let Some(s) = buf.get_mut(from..from.saturating_add(n)) {
        s.fill(0);
    }
}

#[cfg(test)]
mod tests;
