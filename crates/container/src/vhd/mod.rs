//! A read-only VHD reader: fixed, dynamic and differencing disks. Specification: Microsoft's
//! "Virtual Hard Disk Image Format Specification" 1.0 (footer, dynamic disk header, Block
//! Allocation Table, per-block sector bitmaps). The virtual disk is exposed as a
//! [`ByteSource`] that reads exactly like `qemu-img convert -f vpc -O raw`.
//!
//! A differencing disk's parent is never opened (see the QCOW2 reader for why): the blocks it
//! does not hold and the sectors whose bitmap bit is clear read as zeros, and the bytes asked
//! of them are counted.

mod footer;
// The QCOW2 reader's small LRU, shared by path until it moves to the crate root.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use preflight_io::{ByteSource, IoError, Slice, Source, be, check_bounds, read_vec};

use crate::info::ContainerInfo;
use crate::lru::Lru;
use crate::{Container, ContainerError, Format};
use footer::{
    DYN_HEADER_LEN, DynHeader, FOOTER_LEN, Footer, TYPE_DIFFERENCING, TYPE_DYNAMIC, TYPE_FIXED,
};

const LAYER: &str = "vhd";
/// A BAT entry for a block the file does not hold.
const UNALLOCATED: u32 = 0xffff_ffff;
/// qemu refuses VHDs above 2040 GiB (0xff000000 sectors), the format's documented maximum.
const MAX_SECTORS: u64 = 0xff00_0000;
/// 2040 GiB in 512 B blocks is 32 MiB of BAT; nothing legitimate needs more.
const MAX_BAT_BYTES: u64 = 32 * 1024 * 1024;
/// Memory for cached sector bitmaps (differencing disks only).
const BITMAP_CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// Parent locator data shown in the report: paths, so a few KiB is plenty.
const MAX_LOCATOR_BYTES: u64 = 4096;

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Vhd, offset, message)
}

/// Opens a VHD image as a [`Container`].
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let file_len = file.len();
    if file_len < FOOTER_LEN as u64 {
        return Err(corrupt(
            0,
            format!("file is {file_len} bytes, shorter than a VHD footer (512 bytes)"),
        ));
    }
    let tail_at = file_len - FOOTER_LEN as u64;
    let mut head = [0u8; FOOTER_LEN];
    let mut tail = [0u8; FOOTER_LEN];
    file.read_at(0, &mut head)?;
    file.read_at(tail_at, &mut tail)?;
    let mut warnings = Vec::new();

    // Dynamic and differencing disks start with a copy of the footer, which is what qemu reads;
    // fixed disks have the footer only at the end.
    let (raw, footer_at) = if footer::is_footer(&head) {
        let front = Footer::parse(&head);
        let back_ok = footer::is_footer(&tail) && Footer::parse(&tail).checksum_ok();
        if !front.checksum_ok() && back_ok {
            warnings.push(format!(
                "The copy of the VHD footer at the start of the file has a bad checksum; the footer at the end of the file (offset {tail_at}) was used. qemu-img refuses to open such an image (\"Incorrect header checksum\")."
            ));
            (tail, tail_at)
        } else {
            if front.disk_type != TYPE_FIXED && head != tail {
                warnings.push(format!(
                    "The VHD footer at the end of the file (offset {tail_at}) is missing or differs from its copy at the start: the image may be truncated or damaged."
                ));
            }
            (head, 0)
        }
    } else if footer::is_footer(&tail) {
        let f = Footer::parse(&tail);
        if f.disk_type != TYPE_FIXED {
            warnings.push(format!(
                "This {} VHD has no copy of its footer at the start of the file; qemu-img refuses to open it (\"invalid VPC image\").",
                f.subformat()
            ));
        }
        (tail, tail_at)
    } else {
        return Err(corrupt(
            tail_at,
            "no VHD footer (cookie `conectix`) at the start or at the end of the file",
        ));
    };
    let f = Footer::parse(&raw);
    if !f.checksum_ok() {
        warnings.push(format!(
            "The VHD footer at offset {footer_at} has a bad checksum (stored 0x{:08x}, computed 0x{:08x}); qemu-img refuses to open such an image (\"Incorrect header checksum\").",
            f.checksum, f.computed_checksum
        ));
    }
    if f.saved_state != 0 {
        warnings.push(
            "The VHD footer's saved-state flag is set: the disk was saved with a suspended virtual machine, and its contents may not be consistent until that machine is resumed and shut down cleanly."
                .to_string(),
        );
    }
    let virtual_size = f.virtual_size();
    if virtual_size / 512 > MAX_SECTORS {
        return Err(corrupt(
            footer_at + 48,
            format!("virtual size {virtual_size} bytes is above the VHD maximum of 2040 GiB"),
        ));
    }
    if f.size_from_geometry() && virtual_size != f.current_size {
        warnings.push(format!(
            "The VHD footer's current size is {} bytes but its creator ({}) sizes disks by CHS geometry ({}/{}/{}), which gives {virtual_size} bytes: qemu (and this report) see {virtual_size} bytes; Hyper-V and Azure see {}.",
            f.current_size,
            f.creator(),
            f.cylinders,
            f.heads,
            f.sectors,
            f.current_size
        ));
    }

    let mut info = ContainerInfo::plain(Format::Vhd, virtual_size, file_len);
    info.subformat = Some(f.subformat().to_string());
    info.version = Some(format!(
        "{}.{}",
        f.format_version >> 16,
        f.format_version & 0xffff
    ));
    info.details = vec![
        ("creator".to_string(), f.creator()),
        ("creator host OS".to_string(), f.host_os()),
        (
            "geometry (C/H/S)".to_string(),
            format!("{}/{}/{}", f.cylinders, f.heads, f.sectors),
        ),
        ("current size".to_string(), f.current_size.to_string()),
        (
            "size from".to_string(),
            if f.size_from_geometry() {
                "CHS geometry"
            } else {
                "current size field"
            }
            .to_string(),
        ),
        ("disk UUID".to_string(), footer::uuid_string(&f.uuid)),
    ];

    match f.disk_type {
        TYPE_FIXED => {
            let data_len = tail_at;
            if virtual_size > data_len {
                return Err(corrupt(
                    footer_at + 48,
                    format!(
                        "the fixed VHD declares a virtual size of {virtual_size} bytes but holds only {data_len} bytes of data before its footer (truncated image?)"
                    ),
                ));
            }
            info.allocated_size = Some(virtual_size);
            info.warnings = warnings;
            Ok(Container {
                info,
                disk: Arc::new(Slice::new(file, 0, virtual_size)),
                missing_backing_bytes: None,
            })
        }
        TYPE_DYNAMIC | TYPE_DIFFERENCING => {
            open_dynamic(file, &f, footer_at, info, warnings, virtual_size)
        }
        other => Err(corrupt(
            footer_at + 60,
            format!("unknown VHD disk type {other} (2 fixed, 3 dynamic, 4 differencing exist)"),
        )),
    }
}

fn open_dynamic(
    file: Source,
    f: &Footer,
    footer_at: u64,
    mut info: ContainerInfo,
    mut warnings: Vec<String>,
    virtual_size: u64,
) -> Result<Container, ContainerError> {
    let file_len = file.len();
    let hdr_at = f.data_offset;
    if hdr_at
        .checked_add(DYN_HEADER_LEN as u64)
        .is_none_or(|end| end > file_len)
    {
        return Err(corrupt(
            footer_at + 16,
            format!(
                "the dynamic disk header offset {hdr_at} lies beyond the end of the file ({file_len} bytes)"
            ),
        ));
    }
    let mut raw = [0u8; DYN_HEADER_LEN];
    file.read_at(hdr_at, &mut raw)?;
    if !footer::is_dyn_header(&raw) {
        return Err(corrupt(
            hdr_at,
            "no dynamic disk header (cookie `cxsparse`) where the footer points",
        ));
    }
    let h = DynHeader::parse(&raw);
    if !h.checksum_ok() {
        warnings.push(format!(
            "The VHD dynamic disk header at offset {hdr_at} has a bad checksum (stored 0x{:08x}, computed 0x{:08x}).",
            h.checksum, h.computed_checksum
        ));
    }
    let block_size = u64::from(h.block_size);
    if !block_size.is_power_of_two() || block_size < 512 {
        return Err(corrupt(
            hdr_at + 32,
            format!("block size {block_size} is not a power of two of at least 512 bytes"),
        ));
    }
    // One bit per 512-byte sector, padded to a whole sector (spec, "Block Allocation Table").
    let bitmap_size = (block_size / 512).div_ceil(8).div_ceil(512) * 512;
    let blocks = virtual_size.div_ceil(block_size);
    if u64::from(h.max_table_entries) < blocks {
        return Err(corrupt(
            hdr_at + 28,
            format!(
                "the BAT has {} entries, too few for {blocks} blocks of {block_size} bytes ({virtual_size} bytes virtual)",
                h.max_table_entries
            ),
        ));
    }
    let bat_bytes = read_vec(&*file, h.table_offset, blocks * 4, MAX_BAT_BYTES).map_err(|e| {
        corrupt(
            h.table_offset,
            format!("BAT ({blocks} entries) unreadable: {e}"),
        )
    })?;
    let bat: Vec<u32> = bat_bytes.chunks_exact(4).map(|c| be::u32(c, 0)).collect();

    let mut allocated = 0u64;
    let mut beyond = 0u64;
    let mut first_beyond = None;
    for (i, &e) in bat.iter().enumerate() {
        if e == UNALLOCATED {
            continue;
        }
        allocated += 1;
        let end = u64::from(e) * 512 + bitmap_size + block_size;
        if end > file_len {
            beyond += 1;
            first_beyond.get_or_insert((i, u64::from(e) * 512));
        }
    }
    if let Some((i, at)) = first_beyond {
        warnings.push(format!(
            "{beyond} allocated blocks lie (partly) beyond the end of the file, the first one block {i} at offset {at}: the image is truncated (qemu-img refuses to open it), and reading them fails."
        ));
    }

    let differencing = f.disk_type == TYPE_DIFFERENCING;
    info.block_size = Some(block_size);
    info.allocated_size = Some(allocated * block_size);
    info.details.push((
        "dynamic header version".to_string(),
        format!("{}.{}", h.header_version >> 16, h.header_version & 0xffff),
    ));
    info.details
        .push(("BAT entries".to_string(), h.max_table_entries.to_string()));
    if differencing {
        info.parent = if h.parent_name.is_empty() {
            None
        } else {
            Some(h.parent_name.clone())
        };
        info.details.push((
            "parent UUID".to_string(),
            footer::uuid_string(&h.parent_uuid),
        ));
        for l in &h.locators {
            let key = format!("parent locator {} ({})", l.index, l.code_name());
            let len = u64::from(l.data_length).min(MAX_LOCATOR_BYTES);
            match read_vec(&*file, l.data_offset, len, MAX_LOCATOR_BYTES) {
                Ok(data) => {
                    let text = footer::decode_locator(l.code, &data);
                    if info.parent.is_none() && !text.is_empty() {
                        info.parent = Some(text.clone());
                    }
                    info.details.push((key, text));
                }
                Err(e) => warnings.push(format!(
                    "Parent locator {} ({}) data at offset {} ({} bytes, {} sectors reserved) is unreadable: {e}.",
                    l.index,
                    l.code_name(),
                    l.data_offset,
                    l.data_length,
                    l.data_space
                )),
            }
        }
    }
    info.warnings = warnings;

    let slots = (BITMAP_CACHE_BYTES / bitmap_size).max(4) as usize;
    let missing = Arc::new(AtomicU64::new(0));
    let disk = Dynamic {
        file,
        size: virtual_size,
        block_size,
        bitmap_size,
        bat,
        bat_offset: h.table_offset,
        differencing,
        bitmaps: Mutex::new(Lru::new(slots)),
        missing: Arc::clone(&missing),
    };
    Ok(Container {
        info,
        disk: Arc::new(disk),
        missing_backing_bytes: differencing.then_some(missing),
    })
}

/// A dynamic or differencing disk: blocks through the BAT.
struct Dynamic {
    file: Source,
    size: u64,
    block_size: u64,
    bitmap_size: u64,
    bat: Vec<u32>,
    bat_offset: u64,
    differencing: bool,
    bitmaps: Mutex<Lru<Arc<Vec<u8>>>>,
    missing: Arc<AtomicU64>,
}

impl Dynamic {
    fn bitmap(&self, block: u64, at: u64) -> Result<Arc<Vec<u8>>, IoError> {
        let mut cache = self.bitmaps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = cache.get(block) {
            return Ok(b);
        }
        let mut bitmap = vec![0u8; self.bitmap_size as usize];
        self.file.read_at(at, &mut bitmap).map_err(|e| {
            IoError::corrupt(
                LAYER,
                at,
                format!("sector bitmap of block {block} unreadable: {e}"),
            )
        })?;
        let bitmap = Arc::new(bitmap);
        cache.put(block, Arc::clone(&bitmap));
        Ok(bitmap)
    }
}

/// Whether the bitmap marks `sector` as held by this disk. The spec numbers sectors from the
/// most significant bit of each byte.
fn bit(bitmap: &[u8], sector: u64) -> bool {
    bitmap
        .get((sector / 8) as usize)
        .is_some_and(|b| b & (0x80 >> (sector % 8)) != 0)
}

impl ByteSource for Dynamic {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / self.block_size;
            let in_block = pos % self.block_size;
            let left = (buf.len() - done) as u64;
            let mut n = (self.block_size - in_block).min(left);
            let entry = usize::try_from(block)
                .ok()
                .and_then(|b| self.bat.get(b).copied())
                .unwrap_or(UNALLOCATED);
            let out = &mut buf[done..];
            if entry == UNALLOCATED {
                let n = n as usize;
                out[..n].fill(0);
                if self.differencing {
                    self.missing.fetch_add(n as u64, Ordering::Relaxed);
                }
                done += n;
                continue;
            }
            let base = u64::from(entry) * 512;
            let mut present = true;
            if self.differencing {
                // Only the sectors whose bit is set are held here; the rest are the parent's.
                let bitmap = self.bitmap(block, base)?;
                let first = in_block / 512;
                present = bit(&bitmap, first);
                let sectors = self.block_size / 512;
                let mut end = first + 1;
                while end < sectors && end * 512 < in_block + n && bit(&bitmap, end) == present {
                    end += 1;
                }
                n = n.min(end * 512 - in_block);
            }
            let n = n as usize;
            if present {
                let at = base + self.bitmap_size + in_block;
                self.file
                    .read_at(at, &mut out[..n])
                    .map_err(|e| match e {
                        IoError::OutOfBounds { .. } => IoError::corrupt(
                            LAYER,
                            self.bat_offset.saturating_add(block * 4),
                            format!(
                                "data of block {block} (guest offset {pos}) at file offset {at} lies beyond the end of the file (truncated image?)"
                            ),
                        ),
                        other => other,
                    })?;
            } else {
                out[..n].fill(0);
                self.missing.fetch_add(n as u64, Ordering::Relaxed);
            }
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_io::MemSource;

    /// A dynamic (or differencing) VHD in memory: footer copy, header, BAT, blocks of 4 KiB.
    fn image(disk_type: u32, blocks: &[Option<(u8, Vec<u8>)>]) -> Vec<u8> {
        let block = 4096u32;
        let size = blocks.len() as u64 * u64::from(block);
        let mut f = [0u8; FOOTER_LEN];
        f[..8].copy_from_slice(b"conectix");
        f[8..12].copy_from_slice(&2u32.to_be_bytes());
        f[12..16].copy_from_slice(&0x10000u32.to_be_bytes());
        f[16..24].copy_from_slice(&512u64.to_be_bytes());
        f[28..32].copy_from_slice(b"qem2");
        f[40..48].copy_from_slice(&size.to_be_bytes());
        f[48..56].copy_from_slice(&size.to_be_bytes());
        f[56..60].copy_from_slice(&[0xff, 0xff, 16, 0xff]);
        f[60..64].copy_from_slice(&disk_type.to_be_bytes());
        let c = footer::checksum(&f, 64);
        f[64..68].copy_from_slice(&c.to_be_bytes());
        let mut h = [0u8; DYN_HEADER_LEN];
        h[..8].copy_from_slice(b"cxsparse");
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        h[16..24].copy_from_slice(&1536u64.to_be_bytes());
        h[24..28].copy_from_slice(&0x10000u32.to_be_bytes());
        h[28..32].copy_from_slice(&(blocks.len() as u32).to_be_bytes());
        h[32..36].copy_from_slice(&block.to_be_bytes());
        for (i, u) in "base.vhd".encode_utf16().enumerate() {
            h[64 + 2 * i..66 + 2 * i].copy_from_slice(&u.to_be_bytes());
        }
        let c = footer::checksum(&h, 36);
        h[36..40].copy_from_slice(&c.to_be_bytes());
        let mut out = f.to_vec();
        out.extend_from_slice(&h);
        let bat_at = out.len();
        out.resize(bat_at + 512, 0xff);
        for (i, b) in blocks.iter().enumerate() {
            if let Some((bitmap0, data)) = b {
                let sector = (out.len() / 512) as u32;
                out[bat_at + 4 * i..bat_at + 4 * i + 4].copy_from_slice(&sector.to_be_bytes());
                let mut bitmap = [0u8; 512];
                bitmap[0] = *bitmap0;
                out.extend_from_slice(&bitmap);
                let mut d = data.clone();
                d.resize(block as usize, 0);
                out.extend_from_slice(&d);
            }
        }
        out.extend_from_slice(&f);
        out
    }

    fn open_mem(bytes: Vec<u8>) -> Result<Container, ContainerError> {
        open(Arc::new(MemSource(bytes)))
    }

    #[test]
    fn dynamic_reads_blocks_and_zeros_and_ignores_the_bitmap() {
        let c = open_mem(image(
            TYPE_DYNAMIC,
            &[None, Some((0, vec![7u8; 4096])), None],
        ))
        .unwrap();
        assert_eq!(c.info.subformat.as_deref(), Some("dynamic"));
        assert_eq!(c.info.allocated_size, Some(4096));
        assert!(c.missing_backing_bytes.is_none());
        let mut buf = vec![1u8; 3 * 4096];
        c.disk.read_at(0, &mut buf).unwrap();
        assert!(buf[..4096].iter().all(|&b| b == 0));
        // qemu reads an allocated block whole, whatever its bitmap says.
        assert!(buf[4096..8192].iter().all(|&b| b == 7));
        assert!(buf[8192..].iter().all(|&b| b == 0));
    }

    #[test]
    fn differencing_reads_only_sectors_whose_bit_is_set() {
        // Bitmap 0b1010_0000: sectors 0 and 2 are here, 1 and 3..8 are the parent's.
        let c = open_mem(image(
            TYPE_DIFFERENCING,
            &[Some((0b1010_0000, vec![9u8; 4096])), None],
        ))
        .unwrap();
        assert_eq!(c.info.parent.as_deref(), Some("base.vhd"));
        let missing = c.missing_backing_bytes.clone().unwrap();
        let mut buf = vec![1u8; 2 * 4096];
        c.disk.read_at(0, &mut buf).unwrap();
        assert!(buf[..512].iter().all(|&b| b == 9));
        assert!(buf[512..1024].iter().all(|&b| b == 0));
        assert!(buf[1024..1536].iter().all(|&b| b == 9));
        assert!(buf[1536..].iter().all(|&b| b == 0));
        assert_eq!(missing.load(Ordering::Relaxed), 2 * 4096 - 1024);
        // An unaligned read inside a sector.
        let mut small = [1u8; 10];
        c.disk.read_at(1020, &mut small).unwrap();
        assert_eq!(small, [0, 0, 0, 0, 9, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn hostile_headers_fail_cleanly() {
        let mut bytes = image(TYPE_DYNAMIC, &[Some((0, vec![1u8; 16]))]);
        // Block data pointing past the end: opens with a warning, reading it is an error.
        bytes[1536..1540].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        let c = open_mem(bytes.clone()).unwrap();
        assert!(c.info.warnings.iter().any(|w| w.contains("truncated")));
        let mut buf = [0u8; 512];
        let e = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
        assert!(e.contains("beyond the end of the file"), "{e}");
        // A block size that is not a power of two.
        let mut bad = bytes.clone();
        bad[512 + 32..512 + 36].copy_from_slice(&3000u32.to_be_bytes());
        let e = open_mem(bad).err().unwrap().to_string();
        assert!(e.contains("block size 3000"), "{e}");
        // Too few BAT entries for the size.
        let mut bad = bytes.clone();
        bad[512 + 28..512 + 32].copy_from_slice(&0u32.to_be_bytes());
        let e = open_mem(bad).err().unwrap().to_string();
        assert!(e.contains("too few"), "{e}");
        // No footer anywhere.
        let e = open_mem(vec![0u8; 4096]).err().unwrap().to_string();
        assert!(e.contains("no VHD footer"), "{e}");
        let e = open_mem(vec![0u8; 100]).err().unwrap().to_string();
        assert!(e.contains("shorter than a VHD footer"), "{e}");
    }
}
