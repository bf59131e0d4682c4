//! The VDI header (VirtualBox Disk Image, version 1.1).
//!
//! Layout: VirtualBox's src/VBox/Storage/VDICore.h (`VDIPREHEADER`, then `VDIHEADER1` or
//! `VDIHEADER1PLUS`) and QEMU's block/vdi.c (`VdiHeader`, which names the same fields
//! differently). Every integer is little-endian:
//!
//! | offset | field (VirtualBox / QEMU name)                                     |
//! | ------ | ------------------------------------------------------------------ |
//! | 0x000  | 64-byte text banner ("<<< Oracle VM VirtualBox Disk Image >>>\n")  |
//! | 0x040  | signature 0xbeda107f                                               |
//! | 0x044  | version: major << 16 \| minor (0x00010001 = 1.1)                    |
//! | 0x048  | header size (from 0x48): 0x180 `VDIHEADER1`, 0x190 with LCHS       |
//! | 0x04c  | image type: 1 normal (dynamic), 2 fixed (static), 3 undo, 4 diff   |
//! | 0x050  | image flags                                                        |
//! | 0x054  | description, 256 bytes of UTF-8, NUL-terminated                    |
//! | 0x154  | offset of the block map                                            |
//! | 0x158  | offset of the data area                                            |
//! | 0x15c  | legacy geometry: cylinders, heads, sectors, sector size (4 × u32)  |
//! | 0x16c  | unused (was the BIOS translation mode)                             |
//! | 0x170  | disk size in bytes (u64)                                           |
//! | 0x178  | block size                                                         |
//! | 0x17c  | block extra data (bytes stored before each block's data)           |
//! | 0x180  | blocks in image (block map entries)                                |
//! | 0x184  | blocks allocated                                                   |
//! | 0x188  | image UUID (`uuidCreate`)                                          |
//! | 0x198  | last modification UUID (`uuidModify`, QEMU "last snap")            |
//! | 0x1a8  | parent image UUID (`uuidLinkage`, QEMU "link")                     |
//! | 0x1b8  | parent's modification UUID (`uuidParentModify`, QEMU "parent")    |
//! | 0x1c8  | LCHS geometry (4 × u32), only when the header size is >= 0x190     |
//!
//! Every field is checked here before anything is allocated from it.

use preflight_io::{ByteSource, le};

use crate::{ContainerError, Format};

pub const SIGNATURE: u32 = 0xbeda_107f;
/// The pre-header (banner, signature, version) is 0x48 bytes; the v1 header follows.
const PRE_HEADER_LEN: u64 = 0x48;
/// `sizeof(VDIHEADER1)`: the smallest v1 header VirtualBox accepts.
const V1_HEADER_LEN: u32 = 0x180;
/// `sizeof(VDIHEADER1PLUS)`: a v1 header that also holds the LCHS geometry.
const V1_PLUS_HEADER_LEN: u32 = 0x190;
/// Bytes of the file the pre-header and the smallest v1 header occupy.
pub const MIN_FILE_LEN: u64 = PRE_HEADER_LEN + V1_HEADER_LEN as u64;

pub const OFF_SIGNATURE: u64 = 0x40;
pub const OFF_VERSION: u64 = 0x44;
pub const OFF_HEADER_SIZE: u64 = 0x48;
pub const OFF_IMAGE_TYPE: u64 = 0x4c;
pub const OFF_FLAGS: u64 = 0x50;
pub const OFF_DESCRIPTION: u64 = 0x54;
pub const OFF_MAP: u64 = 0x154;
pub const OFF_DATA: u64 = 0x158;
pub const OFF_LEGACY_GEOMETRY: u64 = 0x15c;
pub const OFF_DISK_SIZE: u64 = 0x170;
pub const OFF_BLOCK_SIZE: u64 = 0x178;
pub const OFF_BLOCK_EXTRA: u64 = 0x17c;
pub const OFF_BLOCKS: u64 = 0x180;
pub const OFF_BLOCKS_ALLOCATED: u64 = 0x184;
pub const OFF_UUID_IMAGE: u64 = 0x188;
pub const OFF_UUID_MODIFY: u64 = 0x198;
pub const OFF_UUID_LINKAGE: u64 = 0x1a8;
pub const OFF_UUID_PARENT_MODIFY: u64 = 0x1b8;
pub const OFF_LCHS_GEOMETRY: u64 = 0x1c8;

/// The only sector size either implementation supports (VDICore.h `VDI_GEOMETRY_SECTOR_SIZE`,
/// QEMU's `SECTOR_SIZE`).
pub const SECTOR: u64 = 512;
/// VirtualBox's default block size (`VDI_IMAGE_DEFAULT_BLOCK_SIZE`), the only one QEMU reads.
pub const DEFAULT_BLOCK_SIZE: u32 = 1 << 20;

/// The image types of VDICore.h `VDIIMAGETYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// Dynamically growing base image.
    Normal,
    /// Preallocated base image.
    Fixed,
    /// Dynamically growing image for undo/commit support: a delta on a parent.
    Undo,
    /// Dynamically growing differencing image (a VirtualBox snapshot): a delta on a parent.
    Diff,
}

impl ImageType {
    /// `ContainerInfo::subformat`: the words VHD/VHDX use too.
    pub fn subformat(self) -> &'static str {
        match self {
            ImageType::Normal => "dynamic",
            ImageType::Fixed => "static",
            ImageType::Undo | ImageType::Diff => "differencing",
        }
    }

    /// VirtualBox's name of the type, for the details.
    pub fn name(self) -> &'static str {
        match self {
            ImageType::Normal => "normal (dynamically allocated)",
            ImageType::Fixed => "fixed (preallocated)",
            ImageType::Undo => "undo",
            ImageType::Diff => "differencing",
        }
    }

    /// Whether blocks this image does not hold come from a parent image.
    pub fn has_parent(self) -> bool {
        matches!(self, ImageType::Undo | ImageType::Diff)
    }
}

/// Cylinders, heads, sectors per track, bytes per sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    pub cylinders: u32,
    pub heads: u32,
    pub sectors: u32,
    pub sector_size: u32,
}

impl Geometry {
    fn read(b: &[u8], at: u64) -> Geometry {
        let at = at as usize;
        Geometry {
            cylinders: le::u32(b, at),
            heads: le::u32(b, at + 4),
            sectors: le::u32(b, at + 8),
            sector_size: le::u32(b, at + 12),
        }
    }

    /// "C/H/S", or None when not recorded (VirtualBox writes zeros for "not calculated").
    pub fn chs(&self) -> Option<String> {
        (self.cylinders != 0 || self.heads != 0 || self.sectors != 0)
            .then(|| format!("{}/{}/{}", self.cylinders, self.heads, self.sectors))
    }
}

pub type Uuid = [u8; 16];

#[derive(Debug, Clone)]
pub struct Header {
    pub banner: String,
    pub major: u16,
    pub minor: u16,
    pub image_type: ImageType,
    pub flags: u32,
    pub description: String,
    pub map_offset: u64,
    pub data_offset: u64,
    pub legacy_geometry: Geometry,
    /// As recorded; [`Header::virtual_size`] is what the guest sees.
    pub disk_size: u64,
    pub block_size: u32,
    pub block_extra: u32,
    pub blocks: u32,
    pub blocks_allocated: u32,
    pub uuid_image: Uuid,
    pub uuid_modify: Uuid,
    pub uuid_linkage: Uuid,
    pub uuid_parent_modify: Uuid,
    /// Present when the header is a `VDIHEADER1PLUS`.
    pub lchs_geometry: Option<Geometry>,
}

impl Header {
    /// The guest-visible size. QEMU rounds a disk size that is not a whole number of sectors up
    /// to the next sector ("'VBoxManage convertfromraw' can create images with odd disk
    /// sizes", block/vdi.c); so do we, so the disk matches `qemu-img convert`. The rounded
    /// size stays inside the blocks (`parse` checks that they cover the disk size, and their
    /// total is a multiple of 512).
    pub fn virtual_size(&self) -> u64 {
        self.disk_size.div_ceil(SECTOR).saturating_mul(SECTOR)
    }

    /// Bytes of the block map: one u32 per block.
    pub fn map_len(&self) -> u64 {
        u64::from(self.blocks) * 4
    }
}

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Vdi, offset, message)
}

/// Parse and validate the header; warnings go to `warnings`.
pub fn parse(file: &dyn ByteSource, warnings: &mut Vec<String>) -> Result<Header, ContainerError> {
    let file_len = file.len();
    if file_len < MIN_FILE_LEN {
        return Err(corrupt(
            0,
            format!("file is {file_len} bytes, shorter than a VDI header ({MIN_FILE_LEN} bytes)"),
        ));
    }
    // The v1 header ends at 0x1d8 at most; one 512-byte read holds all we use.
    let mut raw = [0u8; 512];
    let n = file_len.min(raw.len() as u64) as usize;
    file.read_at(0, &mut raw[..n])?;
    let b = &raw[..n];
    let u32_at = |at: u64| le::u32(b, at as usize);

    let signature = u32_at(OFF_SIGNATURE);
    if signature != SIGNATURE {
        return Err(corrupt(
            OFF_SIGNATURE,
            format!("signature is 0x{signature:08x}, not 0x{SIGNATURE:08x}"),
        ));
    }
    let version = u32_at(OFF_VERSION);
    let (major, minor) = ((version >> 16) as u16, version as u16);
    if major != 1 {
        // Version 0 headers have another layout (VDICore.h `VDIHEADER0`); no later major
        // version exists.
        return Err(ContainerError::Unsupported {
            format: Format::Vdi,
            message: format!(
                "VDI version {major}.{minor} is not supported (only 1.x is); let VirtualBox convert it with `VBoxManage clonemedium IMAGE.vdi NEW.vdi` first"
            ),
        });
    }
    if minor != 1 {
        warnings.push(format!(
            "The VDI header says version 1.{minor}; every VirtualBox release writes 1.1, and qemu-img refuses any other version."
        ));
    }

    let header_size = u32_at(OFF_HEADER_SIZE);
    if header_size < V1_HEADER_LEN {
        return Err(corrupt(
            OFF_HEADER_SIZE,
            format!(
                "header size {header_size} is smaller than a version 1 header ({V1_HEADER_LEN} bytes)"
            ),
        ));
    }
    let image_type = match u32_at(OFF_IMAGE_TYPE) {
        1 => ImageType::Normal,
        2 => ImageType::Fixed,
        3 => ImageType::Undo,
        4 => ImageType::Diff,
        other => {
            return Err(corrupt(
                OFF_IMAGE_TYPE,
                format!(
                    "image type {other} is unknown (1 dynamic, 2 static, 3 undo, 4 differencing)"
                ),
            ));
        }
    };

    let block_size = u32_at(OFF_BLOCK_SIZE);
    // VirtualBox requires a power of two (it shifts by log2 of it); below a sector makes no
    // sense for a disk.
    if !block_size.is_power_of_two() || u64::from(block_size) < SECTOR {
        return Err(corrupt(
            OFF_BLOCK_SIZE,
            format!("block size {block_size} is not a power of two of at least 512 bytes"),
        ));
    }
    let block_extra = u32_at(OFF_BLOCK_EXTRA);
    if block_extra != 0 && !block_extra.is_power_of_two() {
        return Err(corrupt(
            OFF_BLOCK_EXTRA,
            format!("block extra data size {block_extra} is neither 0 nor a power of two"),
        ));
    }
    let blocks = u32_at(OFF_BLOCKS);
    let disk_size = le::u64(b, OFF_DISK_SIZE as usize);
    // At most (2^32 - 1) * 2^31: no overflow in u64.
    let covered = u64::from(blocks) * u64::from(block_size);
    if covered < disk_size {
        return Err(corrupt(
            OFF_BLOCKS,
            format!(
                "{blocks} blocks of {block_size} bytes ({covered} bytes) do not cover the disk size of {disk_size} bytes"
            ),
        ));
    }

    let h = Header {
        banner: text(b.get(..0x40).unwrap_or_default()),
        major,
        minor,
        image_type,
        flags: u32_at(OFF_FLAGS),
        description: text(
            b.get(OFF_DESCRIPTION as usize..OFF_MAP as usize)
                .unwrap_or_default(),
        ),
        map_offset: u64::from(u32_at(OFF_MAP)),
        data_offset: u64::from(u32_at(OFF_DATA)),
        legacy_geometry: Geometry::read(b, OFF_LEGACY_GEOMETRY),
        disk_size,
        block_size,
        block_extra,
        blocks,
        blocks_allocated: u32_at(OFF_BLOCKS_ALLOCATED),
        uuid_image: uuid_at(b, OFF_UUID_IMAGE),
        uuid_modify: uuid_at(b, OFF_UUID_MODIFY),
        uuid_linkage: uuid_at(b, OFF_UUID_LINKAGE),
        uuid_parent_modify: uuid_at(b, OFF_UUID_PARENT_MODIFY),
        lchs_geometry: (header_size >= V1_PLUS_HEADER_LEN)
            .then(|| Geometry::read(b, OFF_LCHS_GEOMETRY)),
    };

    // The block map must follow the header and lie in the file; the data area must follow the
    // map (VirtualBox's vdiValidateHeader refuses the same overlaps).
    let map_end = h.map_offset + h.map_len();
    if h.map_offset < MIN_FILE_LEN {
        return Err(corrupt(
            OFF_MAP,
            format!(
                "block map offset {} lies inside the header (which ends at {MIN_FILE_LEN})",
                h.map_offset
            ),
        ));
    }
    if map_end > file_len {
        return Err(corrupt(
            OFF_MAP,
            format!(
                "block map of {blocks} entries at offset {} ends at {map_end}, beyond the end of the file ({file_len} bytes; truncated image?)",
                h.map_offset
            ),
        ));
    }
    if h.data_offset < map_end {
        return Err(corrupt(
            OFF_DATA,
            format!(
                "data area offset {} overlaps the block map (offsets {}..{map_end})",
                h.data_offset, h.map_offset
            ),
        ));
    }
    if h.data_offset > file_len {
        return Err(corrupt(
            OFF_DATA,
            format!(
                "data area offset {} is beyond the end of the file ({file_len} bytes; truncated image?)",
                h.data_offset
            ),
        ));
    }

    header_warnings(&h, warnings);
    Ok(h)
}

/// Odd but readable headers: say what differs from what VirtualBox and qemu-img write.
fn header_warnings(h: &Header, warnings: &mut Vec<String>) {
    if h.block_size != DEFAULT_BLOCK_SIZE {
        warnings.push(format!(
            "The VDI block size is {} bytes; qemu-img only reads VDI images with 1 MiB blocks, so `qemu-img convert` will refuse this image (VBoxManage clonemedium --format RAW can convert it).",
            h.block_size
        ));
    }
    if h.block_extra != 0 {
        // VDICore.h: the extra data is "prepended before block data"; QEMU ignores the field
        // and would read the extra bytes as guest data.
        warnings.push(format!(
            "Each VDI block starts with {} bytes of extra data, which this reader skips as VirtualBox does; qemu-img ignores that field and reads such an image differently.",
            h.block_extra
        ));
    }
    if h.legacy_geometry.sector_size != SECTOR as u32 {
        warnings.push(format!(
            "The VDI header records a sector size of {} bytes; VirtualBox writes 512 and qemu-img refuses any other value.",
            h.legacy_geometry.sector_size
        ));
    }
    if !h.disk_size.is_multiple_of(SECTOR) {
        warnings.push(format!(
            "The VDI disk size of {} bytes is not a whole number of 512-byte sectors; it is rounded up to {} bytes, as qemu-img does.",
            h.disk_size,
            h.virtual_size()
        ));
    }
}

fn uuid_at(b: &[u8], at: u64) -> Uuid {
    let mut u = [0u8; 16];
    if let Some(s) = b.get(at as usize..at as usize + 16) {
        u.copy_from_slice(s);
    }
    u
}

/// A UUID as VirtualBox prints it. IPRT's `RTUUID` is stored with its first three fields
/// little-endian (the Microsoft GUID layout; QEMU's `uuid_convert` swaps the same fields).
pub fn uuid_text(u: &Uuid) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, rest @ ..] = *u;
    let mut s = format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-",
        a3, a2, a1, a0, b1, b0, c1, c0
    );
    for (i, byte) in rest.iter().enumerate() {
        if i == 2 {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

pub fn is_null(u: &Uuid) -> bool {
    u.iter().all(|&b| b == 0)
}

/// NUL-terminated text, lossily decoded, control characters (the banner's newline) dropped.
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default())
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_print_like_virtualbox() {
        // RTUUID bytes as stored for 01020304-0506-0708-090a-0b0c0d0e0f10.
        let stored = [4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16];
        assert_eq!(uuid_text(&stored), "01020304-0506-0708-090a-0b0c0d0e0f10");
        assert!(is_null(&[0; 16]));
        assert!(!is_null(&stored));
    }

    #[test]
    fn banner_text_loses_its_newline_and_padding() {
        let mut b = [0u8; 64];
        let banner = b"<<< Oracle VM VirtualBox Disk Image >>>\n";
        b[..banner.len()].copy_from_slice(banner);
        assert_eq!(text(&b), "<<< Oracle VM VirtualBox Disk Image >>>");
        assert_eq!(text(&[0xff, b'a', 0, b'b']), "\u{fffd}a");
    }
}
