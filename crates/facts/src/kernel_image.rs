//! What a kernel image file is: its format, CPU architecture, release ("6.1.0-18-amd64") and
//! banner, read from the file's bytes and nothing else.
//!
//! Formats and the facts each one gives (the layouts are the kernel's documented boot
//! headers; offsets below are from those documents):
//!
//! - **x86 bzImage** (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header"):
//!   `setup_sects` at 0x1F1, boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, the boot protocol
//!   version at 0x206, `kernel_version` at 0x20E (a pointer to a NUL-terminated string, less
//!   0x200, inside the setup code), `xloadflags` at 0x236 (protocol 2.12+: `XLF_KERNEL_64` bit
//!   0, `XLF_EFI_HANDOVER_32/64` bits 2–3). Only the setup code is needed
//!   ([`bytes_needed`]), never the compressed kernel behind it.
//! - **arm64 `Image`** (Documentation/arch/arm64/booting.rst, "Call the kernel image"): magic
//!   "ARM\x64" at 0x38, `text_offset` at 8, `image_size` at 16, `flags` at 24 (bit 0
//!   big-endian, bits 1–2 page size 4K/16K/64K). The release is in the "Linux version …"
//!   banner inside the image, found by a search.
//! - **RISC-V `Image`** (Documentation/arch/riscv/boot-image-header.rst): magic2 "RSC\x05" at
//!   0x38 (older kernels: magic "RISCV\0\0\0" at 0x30); banner as for arm64.
//! - **EFI zboot** (drivers/firmware/efi/libstub/zboot-header.S, used by arm64, RISC-V and
//!   LoongArch `vmlinuz.efi`): "MZ" at 0, "zimg" at 4, payload offset (u32 LE) at 8, payload
//!   size at 12, the compression name at 0x18 ("gzip", "lz4", "lzma", "lzo", "xzkern",
//!   "zstd22"); the payload is the compressed `Image`, decompressed (capped) and read as above.
//! - **A compressed `Image`** (Debian/Ubuntu arm64 `vmlinuz` used to be `Image.gz`): gzip,
//!   zstd, xz, lzma, lz4 (frame and the kernel's legacy format), bzip2; decompressed (capped)
//!   and read as above. The kernel's xz streams carry a branch (BCJ) filter that lzma-rs does
//!   not know: their LZMA2 data is decoded and the filter left in place, which changes only
//!   instruction bytes, never text such as the banner. LZO is recognised, not decompressed.
//! - **ELF `vmlinux`**: architecture from `e_machine`, banner by search.
//!
//! EFI stub: a PE/COFF header ("MZ", then "PE\0\0" at the offset stored at 0x3C;
//! Microsoft PE/COFF specification, "MS-DOS Stub" and "Signature"), or for x86 the EFI
//! handover bits of `xloadflags`.
//!
//! Untrusted input: every offset is checked, a decompressed kernel stops at
//! [`MAX_DECOMPRESSED`], errors name the offset. Nothing here panics.

use crate::arch::Arch;
use crate::kernels::KernelVersion;
use crate::{FileError, Files};
use serde::Serialize;
use std::io::{self, Read, Write};

/// What [`identify`] needs: the first 4 KiB of the file.
pub const HEAD_LEN: usize = 4096;
/// Largest kernel file read whole (compressed images, arm64 `Image`s); distro kernels are
/// 10–40 MiB.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// Decompression stops here: what was decompressed so far is still searched.
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;
/// Longest banner kept (a real one is about 200 bytes).
const MAX_BANNER: usize = 512;
/// "Linux version " occurrences looked at before giving up on the banner.
const MAX_BANNER_CANDIDATES: usize = 64;

/// `EM_RISCV` (gABI e_machine table).
pub const EM_RISCV: u16 = 243;
/// `EM_LOONGARCH`.
pub const EM_LOONGARCH: u16 = 258;

// PE machine types (PE/COFF specification, "Machine Types").
const IMAGE_FILE_MACHINE_I386: u16 = 0x014c;
const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
const IMAGE_FILE_MACHINE_ARM64: u16 = 0xaa64;
const IMAGE_FILE_MACHINE_RISCV64: u16 = 0x5064;
const IMAGE_FILE_MACHINE_LOONGARCH64: u16 = 0x6264;

// x86 setup header (boot.rst).
const X86_SETUP_SECTS: usize = 0x1f1;
const X86_HEADER: usize = 0x202;
const X86_VERSION: usize = 0x206;
const X86_KERNEL_VERSION: usize = 0x20e;
const X86_XLOADFLAGS: usize = 0x236;
const XLF_KERNEL_64: u16 = 1 << 0;
const XLF_EFI_HANDOVER_32: u16 = 1 << 2;
const XLF_EFI_HANDOVER_64: u16 = 1 << 3;

// arm64 / RISC-V Image headers.
const IMAGE_MAGIC_AT: usize = 0x38;
const ARM64_MAGIC: &[u8; 4] = b"ARM\x64";
const RISCV_MAGIC2: &[u8; 4] = b"RSC\x05";
const RISCV_MAGIC_OLD_AT: usize = 0x30;
const RISCV_MAGIC_OLD: &[u8; 8] = b"RISCV\0\0\0";

// EFI zboot header.
const ZBOOT_TYPE: &[u8; 4] = b"zimg";
const ZBOOT_PAYLOAD_OFFSET: usize = 8;
const ZBOOT_PAYLOAD_SIZE: usize = 12;
const ZBOOT_COMP_TYPE: usize = 0x18;
const ZBOOT_COMP_TYPE_LEN: usize = 32;

const BANNER: &[u8] = b"Linux version ";

/// A compression method of a kernel payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Lzma,
    Lz4,
    Bzip2,
    /// Recognised, not decompressed (no pure-Rust LZO decoder among the dependencies).
    Lzo,
}

impl Compression {
    /// From the leading magic bytes of a stream.
    pub fn from_magic(b: &[u8]) -> Option<Compression> {
        if b.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if b.starts_with(&[0x04, 0x22, 0x4d, 0x18]) || b.starts_with(&LZ4_LEGACY_MAGIC) {
            Some(Compression::Lz4)
        } else if b.starts_with(b"BZh") && b.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            Some(Compression::Bzip2)
        } else if b.starts_with(&[0x89, b'L', b'Z', b'O', 0, 0x0d, 0x0a, 0x1a, 0x0a]) {
            Some(Compression::Lzo)
        } else if b.len() >= 13 && b[0] == 0x5d && b[1..5] == [0, 0, 0x80, 0]
            || b.len() >= 13 && b[0] == 0x5d && b[5..13] == [0xff; 8]
        {
            // lzma "alone": properties 0x5d (lc=3 lp=0 pb=2, what `lzma` and the kernel use),
            // then the dictionary size, then the unpacked size (all ones: unknown).
            Some(Compression::Lzma)
        } else {
            None
        }
    }

    /// From a zboot header's compression name (`comp-type-y` in
    /// drivers/firmware/efi/libstub/Makefile.zboot).
    pub fn from_zboot_name(name: &str) -> Option<Compression> {
        Some(match name {
            "gzip" => Compression::Gzip,
            n if n.starts_with("zstd") => Compression::Zstd,
            "xzkern" | "xz" => Compression::Xz,
            "lzma" => Compression::Lzma,
            "lz4" => Compression::Lz4,
            "bzip2" => Compression::Bzip2,
            "lzo" => Compression::Lzo,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Lz4 => "lz4",
            Compression::Bzip2 => "bzip2",
            Compression::Lzo => "lzo",
        }
    }
}

/// The container of a kernel image file, as its first bytes tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelFormat {
    /// x86 boot protocol image (bzImage; zImage for protocol < 2.00 loaders).
    BzImage,
    /// arm64 `Image` (uncompressed).
    Arm64Image,
    /// RISC-V `Image` (uncompressed).
    RiscvImage,
    /// EFI zboot: a PE application wrapping a compressed `Image`; `compression` is the name in
    /// its header, as written.
    EfiZboot { compression: String },
    /// The whole file is one compressed stream (`Image.gz`, …).
    Compressed { compression: Compression },
    /// An ELF `vmlinux`.
    Elf,
}

impl KernelFormat {
    pub fn describe(&self) -> String {
        match self {
            KernelFormat::BzImage => "x86 bzImage".into(),
            KernelFormat::Arm64Image => "arm64 Image".into(),
            KernelFormat::RiscvImage => "RISC-V Image".into(),
            KernelFormat::EfiZboot { compression } => format!("EFI zboot ({compression})"),
            KernelFormat::Compressed { compression } => {
                format!("{}-compressed image", compression.name())
            }
            KernelFormat::Elf => "ELF vmlinux".into(),
        }
    }
}

/// What a kernel image file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelImage {
    /// The CPU architecture; `None` only for an x86 image too old to say (boot protocol
    /// < 2.12, no PE header) whose version string names no architecture either.
    pub arch: Option<Arch>,
    /// How the architecture was decided ("xloadflags XLF_KERNEL_64", "PE machine 0xaa64", …).
    pub arch_from: String,
    /// The outer format of the file.
    pub format: KernelFormat,
    /// For zboot and compressed files: the format found inside.
    pub inner: Option<KernelFormat>,
    /// The release (`uname -r`): "6.1.0-18-amd64".
    pub version: Option<String>,
    /// The whole version text: x86 the setup header's `kernel_version` string, otherwise the
    /// "Linux version …" banner line.
    pub banner: Option<String>,
    /// Bootable by UEFI firmware directly (PE/COFF header, or x86 EFI handover support).
    pub efi_stub: bool,
    /// x86 boot protocol version ("2.15").
    pub boot_protocol: Option<String>,
    /// arm64: the page size the kernel was built for, in KiB (None: not stated).
    pub page_size_kib: Option<u32>,
    /// arm64: a big-endian kernel (flags bit 0).
    pub big_endian: bool,
    /// Anything worth telling that is not an error (decompression stopped at the cap, …).
    pub notes: Vec<String>,
}

/// Why a kernel image could not be read. Offsets are in the file (or, with `inner`, in the
/// decompressed payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelImageError {
    /// No kernel format's magic in the first bytes.
    NotAKernel,
    /// The data ends before a structure it declares.
    Truncated {
        what: &'static str,
        offset: u64,
        need: u64,
        have: u64,
    },
    /// A field has an impossible value.
    Malformed { what: String, offset: u64 },
    /// Recognised, but this reader cannot go further.
    Unsupported { what: String, offset: u64 },
    /// The payload did not decompress (nothing usable came out).
    Decompress {
        method: &'static str,
        offset: u64,
        why: String,
    },
    /// The file could not be read.
    File(FileError),
}

impl std::fmt::Display for KernelImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelImageError::NotAKernel => f.write_str("no known kernel image header"),
            KernelImageError::Truncated {
                what,
                offset,
                need,
                have,
            } => write!(
                f,
                "{what} at offset {offset:#x} needs {need} bytes, the data has {have}"
            ),
            KernelImageError::Malformed { what, offset } => {
                write!(f, "{what} (offset {offset:#x})")
            }
            KernelImageError::Unsupported { what, offset } => {
                write!(f, "{what} (offset {offset:#x}) is not supported")
            }
            KernelImageError::Decompress {
                method,
                offset,
                why,
            } => write!(f, "{method} payload at offset {offset:#x}: {why}"),
            KernelImageError::File(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KernelImageError {}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn truncated(what: &'static str, offset: usize, need: usize, have: usize) -> KernelImageError {
    KernelImageError::Truncated {
        what,
        offset: offset as u64,
        need: need as u64,
        have: have as u64,
    }
}

/// The format, from the first bytes of the file ([`HEAD_LEN`] is enough; fewer work for the
/// formats whose magic they hold).
pub fn identify(head: &[u8]) -> Option<KernelFormat> {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    if at(0, b"MZ") && at(4, ZBOOT_TYPE) {
        return Some(KernelFormat::EfiZboot {
            compression: zboot_name(head),
        });
    }
    if at(IMAGE_MAGIC_AT, ARM64_MAGIC) {
        return Some(KernelFormat::Arm64Image);
    }
    if at(IMAGE_MAGIC_AT, RISCV_MAGIC2) || at(RISCV_MAGIC_OLD_AT, RISCV_MAGIC_OLD) {
        return Some(KernelFormat::RiscvImage);
    }
    // "HdrS" (boot protocol 2.00+, every kernel since 1.3.73); the 0xAA55 boot flag alone
    // is any boot sector.
    if at(X86_HEADER, b"HdrS") {
        return Some(KernelFormat::BzImage);
    }
    if at(0, b"\x7fELF") {
        return Some(KernelFormat::Elf);
    }
    Compression::from_magic(head).map(|compression| KernelFormat::Compressed { compression })
}

/// The compression name at 0x18 of a zboot header, up to its NUL (at most 32 bytes), with
/// anything unprintable replaced.
fn zboot_name(head: &[u8]) -> String {
    let field = head
        .get(ZBOOT_COMP_TYPE..)
        .map(|b| &b[..b.len().min(ZBOOT_COMP_TYPE_LEN)])
        .unwrap_or(&[]);
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    field[..end]
        .iter()
        .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' })
        .collect()
}

/// How many leading bytes of the file [`read`] needs, from its head: x86 the setup code,
/// zboot the header and payload; `None` means the whole file (an `Image` or compressed file,
/// where the banner may be anywhere).
pub fn bytes_needed(head: &[u8]) -> Option<u64> {
    match identify(head)? {
        KernelFormat::BzImage => {
            // boot.rst: "If this field is 0, the real value is 4." The setup code is
            // (setup_sects + 1) sectors including the boot sector.
            let sects = head.get(X86_SETUP_SECTS).copied().unwrap_or(0);
            let sects = if sects == 0 { 4 } else { sects };
            Some((u64::from(sects) + 1) * 512)
        }
        KernelFormat::EfiZboot { .. } => {
            let off = u32_at(head, ZBOOT_PAYLOAD_OFFSET)?;
            let size = u32_at(head, ZBOOT_PAYLOAD_SIZE)?;
            // The kernel may append the uncompressed size (4 bytes) after the counted payload.
            Some(u64::from(off) + u64::from(size) + 4)
        }
        _ => None,
    }
}

/// Read a kernel image file through [`Files`], reading only what [`read`] needs.
/// `Ok(None)`: the file does not exist.
pub fn read_file<F: Files + ?Sized>(
    files: &F,
    path: &str,
) -> Result<Option<KernelImage>, KernelImageError> {
    let Some(head) = files.head(path, HEAD_LEN).map_err(KernelImageError::File)? else {
        return Ok(None);
    };
    if identify(&head).is_none() {
        return Err(KernelImageError::NotAKernel);
    }
    let data = match bytes_needed(&head) {
        Some(n) if n <= head.len() as u64 => head,
        Some(n) if n <= MAX_FILE => files
            .head(path, n as usize)
            .map_err(KernelImageError::File)?
            .unwrap_or_default(),
        _ => files
            .read(path, MAX_FILE)
            .map_err(KernelImageError::File)?
            .unwrap_or_default(),
    };
    read(&data).map(Some)
}

/// Read the facts of a kernel image from its bytes (the whole file, or at least
/// [`bytes_needed`] of it).
pub fn read(data: &[u8]) -> Result<KernelImage, KernelImageError> {
    let format = identify(data).ok_or(KernelImageError::NotAKernel)?;
    match &format {
        KernelFormat::BzImage => read_bzimage(data),
        KernelFormat::EfiZboot { compression } => read_zboot(data, compression.clone()),
        KernelFormat::Compressed { compression } => {
            let mut notes = Vec::new();
            let inner = decompress(*compression, data, 0, &mut notes)?;
            let mut img = read_inner(&inner, format.clone())?;
            img.notes.splice(0..0, notes);
            Ok(img)
        }
        KernelFormat::Arm64Image | KernelFormat::RiscvImage | KernelFormat::Elf => {
            read_plain(data, format)
        }
    }
}

/// A new result with everything unknown.
fn blank(format: KernelFormat) -> KernelImage {
    KernelImage {
        arch: None,
        arch_from: String::new(),
        format,
        inner: None,
        version: None,
        banner: None,
        efi_stub: false,
        boot_protocol: None,
        page_size_kib: None,
        big_endian: false,
        notes: Vec::new(),
    }
}

/// The machine type of a PE/COFF header, if `data` has one ("MZ", `e_lfanew` at 0x3C
/// pointing at "PE\0\0" followed by the COFF header's Machine field).
fn pe_machine(data: &[u8]) -> Option<u16> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    let pe = usize::try_from(u32_at(data, 0x3c)?).ok()?;
    if pe < 0x40 || data.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    u16_at(data, pe + 4)
}

fn arch_of_pe(machine: u16) -> Option<Arch> {
    Some(match machine {
        IMAGE_FILE_MACHINE_AMD64 => Arch::X86_64,
        IMAGE_FILE_MACHINE_I386 => Arch::I386,
        IMAGE_FILE_MACHINE_ARM64 => Arch::Aarch64,
        IMAGE_FILE_MACHINE_RISCV64 => Arch::Other { machine: EM_RISCV },
        IMAGE_FILE_MACHINE_LOONGARCH64 => Arch::Other {
            machine: EM_LOONGARCH,
        },
        _ => return None,
    })
}

/// The release is the version text up to the first space.
fn release_of(text: &str) -> Option<String> {
    let r = text.split_whitespace().next()?;
    (!r.is_empty()).then(|| r.to_string())
}

/// The architecture a distro release string names (EL "…el7.x86_64", Debian "…-amd64",
/// "…-686-pae"): a last resort for old x86 headers.
fn arch_of_release(release: &str) -> Option<Arch> {
    let r = release.to_ascii_lowercase();
    if r.ends_with("x86_64") || r.ends_with("amd64") {
        Some(Arch::X86_64)
    } else if ["i386", "i486", "i586", "i686", "686", "686-pae", "pae"]
        .iter()
        .any(|s| r.ends_with(s))
    {
        Some(Arch::I386)
    } else {
        None
    }
}

fn read_bzimage(data: &[u8]) -> Result<KernelImage, KernelImageError> {
    let mut img = blank(KernelFormat::BzImage);
    if data.get(X86_HEADER..X86_HEADER + 4) != Some(b"HdrS") {
        // boot.rst: a kernel without "HdrS" is protocol 1.x (a zImage older than 2.6).
        return Err(KernelImageError::Unsupported {
            what: "x86 boot protocol before 2.00 (no \"HdrS\" signature)".into(),
            offset: X86_HEADER as u64,
        });
    }
    let protocol = u16_at(data, X86_VERSION).ok_or(truncated(
        "x86 boot protocol version",
        X86_VERSION,
        2,
        data.len(),
    ))?;
    img.boot_protocol = Some(format!("{}.{:02}", protocol >> 8, protocol & 0xff));
    let setup_sects = data[X86_SETUP_SECTS]; // X86_HEADER + 4 ≤ len implies this is in range
    let setup_sects = if setup_sects == 0 { 4 } else { setup_sects };
    let setup_len = (usize::from(setup_sects) + 1) * 512;

    let kver = u16_at(data, X86_KERNEL_VERSION).unwrap_or(0);
    if kver != 0 {
        let at = usize::from(kver) + 0x200;
        if at >= setup_len {
            img.notes.push(format!(
                "kernel_version points at {at:#x}, past the setup code ({setup_len:#x} bytes)"
            ));
        }
        let Some(rest) = data.get(at..) else {
            return Err(truncated(
                "x86 kernel_version string",
                at,
                1,
                data.len().saturating_sub(at),
            ));
        };
        let end = rest
            .iter()
            .take(MAX_BANNER)
            .position(|&c| c == 0)
            .ok_or_else(|| {
                if rest.len() < MAX_BANNER {
                    truncated("x86 kernel_version string", at, rest.len() + 1, rest.len())
                } else {
                    KernelImageError::Malformed {
                        what: format!("kernel_version string longer than {MAX_BANNER} bytes"),
                        offset: at as u64,
                    }
                }
            })?;
        let text = String::from_utf8_lossy(&rest[..end]).trim().to_string();
        img.version = release_of(&text);
        img.banner = (!text.is_empty()).then_some(text);
    }

    let xloadflags = if protocol >= 0x020c {
        u16_at(data, X86_XLOADFLAGS).unwrap_or(0)
    } else {
        0
    };
    let machine = pe_machine(data);
    img.efi_stub =
        machine.is_some() || xloadflags & (XLF_EFI_HANDOVER_32 | XLF_EFI_HANDOVER_64) != 0;
    let by_release = img.version.as_deref().and_then(arch_of_release);
    (img.arch, img.arch_from) = if let Some(a) = machine.and_then(arch_of_pe) {
        (Some(a), format!("PE machine {:#06x}", machine.unwrap_or(0)))
    } else if xloadflags & XLF_KERNEL_64 != 0 {
        (Some(Arch::X86_64), "xloadflags XLF_KERNEL_64".into())
    } else if let Some(a) = by_release {
        (Some(a), "the release string's architecture suffix".into())
    } else if protocol >= 0x020c {
        (
            Some(Arch::I386),
            "boot protocol ≥ 2.12 without XLF_KERNEL_64".into(),
        )
    } else {
        (None, String::new())
    };
    Ok(img)
}

fn read_zboot(data: &[u8], name: String) -> Result<KernelImage, KernelImageError> {
    let off = u32_at(data, ZBOOT_PAYLOAD_OFFSET).ok_or(truncated(
        "zboot payload offset",
        ZBOOT_PAYLOAD_OFFSET,
        4,
        data.len(),
    ))? as usize;
    let size = u32_at(data, ZBOOT_PAYLOAD_SIZE).ok_or(truncated(
        "zboot payload size",
        ZBOOT_PAYLOAD_SIZE,
        4,
        data.len(),
    ))? as usize;
    if off < 0x40 {
        return Err(KernelImageError::Malformed {
            what: format!("zboot payload offset {off:#x} inside the header"),
            offset: ZBOOT_PAYLOAD_OFFSET as u64,
        });
    }
    let end = off.saturating_add(size);
    let payload = data.get(off..end).ok_or(truncated(
        "zboot payload",
        off,
        size,
        data.len().saturating_sub(off),
    ))?;
    let compression =
        Compression::from_zboot_name(&name).ok_or_else(|| KernelImageError::Unsupported {
            what: format!("zboot compression {name:?}"),
            offset: ZBOOT_COMP_TYPE as u64,
        })?;
    let mut notes = Vec::new();
    let inner = decompress(compression, payload, off as u64, &mut notes)?;
    let mut img = read_inner(&inner, KernelFormat::EfiZboot { compression: name })?;
    img.notes.splice(0..0, notes);
    img.efi_stub = true;
    if let Some(m) = pe_machine(data) {
        let pe_arch = arch_of_pe(m);
        if img.arch.is_none() {
            img.arch = pe_arch;
            img.arch_from = format!("PE machine {m:#06x}");
        } else if pe_arch.is_some() && pe_arch != img.arch {
            img.notes.push(format!(
                "the zboot PE machine {m:#06x} does not match the inner image ({})",
                img.arch_from
            ));
        }
    } else {
        img.notes
            .push("zboot header without a valid PE header: UEFI will not load it".into());
    }
    Ok(img)
}

/// The image inside a zboot or compressed file.
fn read_inner(inner: &[u8], outer: KernelFormat) -> Result<KernelImage, KernelImageError> {
    let fmt = match identify(inner) {
        Some(f @ (KernelFormat::Arm64Image | KernelFormat::RiscvImage | KernelFormat::Elf)) => f,
        Some(KernelFormat::BzImage) => {
            let mut img = read_bzimage(inner)?;
            img.inner = Some(KernelFormat::BzImage);
            img.format = outer;
            return Ok(img);
        }
        Some(other) => {
            return Err(KernelImageError::Unsupported {
                what: format!("{} inside {}", other.describe(), outer.describe()),
                offset: 0,
            });
        }
        None => {
            // Not an Image header: still look for the banner (some payloads are raw binaries).
            let mut img = blank(outer);
            img.notes
                .push("no known header in the decompressed payload".into());
            find_banner(inner, &mut img);
            if img.banner.is_none() {
                return Err(KernelImageError::NotAKernel);
            }
            return Ok(img);
        }
    };
    let mut img = read_plain(inner, fmt.clone())?;
    img.format = outer;
    img.inner = Some(fmt);
    Ok(img)
}

/// arm64/RISC-V `Image` or ELF: header facts, then the banner.
fn read_plain(data: &[u8], format: KernelFormat) -> Result<KernelImage, KernelImageError> {
    let mut img = plain_header(data, format)?;
    find_banner(data, &mut img);
    if img.banner.is_none() {
        img.notes
            .push("no \"Linux version\" banner found in the image".into());
    }
    Ok(img)
}

/// The header facts of an uncompressed arm64/RISC-V `Image` or ELF `vmlinux` (architecture,
/// page size, EFI stub) from its first bytes ([`HEAD_LEN`]), without the banner search that
/// needs the whole file (a 25–40 MiB read): for when the release is known from elsewhere
/// (the module tree the file name points at). `None` for the other formats, whose release
/// sits in a header or a payload [`read_file`] reads anyway.
pub fn read_plain_header(head: &[u8]) -> Option<Result<KernelImage, KernelImageError>> {
    match identify(head)? {
        f @ (KernelFormat::Arm64Image | KernelFormat::RiscvImage | KernelFormat::Elf) => {
            Some(plain_header(head, f))
        }
        _ => None,
    }
}

fn plain_header(data: &[u8], format: KernelFormat) -> Result<KernelImage, KernelImageError> {
    let mut img = blank(format.clone());
    match format {
        KernelFormat::Arm64Image => {
            let flags =
                u64_at(data, 24).ok_or(truncated("arm64 Image header", 0, 64, data.len()))?;
            let image_size = u64_at(data, 16).unwrap_or(0);
            img.arch = Some(Arch::Aarch64);
            img.arch_from = "arm64 Image header magic".into();
            if image_size == 0 {
                // booting.rst: image_size is 0 before v3.17; flags are then meaningless too.
                img.notes
                    .push("image_size is 0: a kernel older than 3.17, header flags ignored".into());
            } else {
                img.big_endian = flags & 1 != 0;
                img.page_size_kib = match (flags >> 1) & 3 {
                    1 => Some(4),
                    2 => Some(16),
                    3 => Some(64),
                    _ => None,
                };
            }
            img.efi_stub = pe_machine(data).is_some();
        }
        KernelFormat::RiscvImage => {
            img.arch = Some(Arch::Other { machine: EM_RISCV });
            img.arch_from = "RISC-V Image header magic".into();
            img.efi_stub = pe_machine(data).is_some();
        }
        KernelFormat::Elf => {
            // e_ident[EI_DATA] at 5, e_machine at 18 (gABI "ELF Header").
            let machine = match data.get(5) {
                Some(2) => data.get(18..20).map(|b| u16::from_be_bytes([b[0], b[1]])),
                _ => u16_at(data, 18),
            }
            .ok_or(truncated("ELF header", 0, 20, data.len()))?;
            img.arch = Some(Arch::from_machine(machine));
            img.arch_from = format!("ELF e_machine {machine}");
            img.big_endian = data.get(5) == Some(&2);
        }
        _ => {}
    }
    Ok(img)
}

/// The first "Linux version <release> …" line whose release looks like one (digits first,
/// `major.minor`), fills `banner` and `version`.
fn find_banner(data: &[u8], img: &mut KernelImage) {
    let mut from = 0;
    for _ in 0..MAX_BANNER_CANDIDATES {
        let Some(i) = find(&data[from..], BANNER) else {
            return;
        };
        let start = from + i;
        from = start + BANNER.len();
        let rest = &data[from..];
        let len = rest
            .iter()
            .take(MAX_BANNER)
            .position(|&c| c == 0 || c == b'\n')
            .unwrap_or(rest.len().min(MAX_BANNER));
        let text = &rest[..len];
        if !text.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            continue;
        }
        let text = String::from_utf8_lossy(text).into_owned();
        let Some(release) = release_of(&text) else {
            continue;
        };
        if KernelVersion::parse(&release).is_none() {
            continue;
        }
        img.version = Some(release);
        img.banner = Some(format!("Linux version {text}"));
        return;
    }
}

/// The first position of `needle` in `hay` (memchr on the first byte, then compare).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(i) = hay.get(at..)?.iter().position(|&b| b == first) {
        let p = at + i;
        if hay.get(p + 1..p + needle.len()) == Some(rest) {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

/// A writer that keeps at most `cap` bytes and then fails, remembering that it did.
struct Capped {
    out: Vec<u8>,
    cap: usize,
    full: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.cap - self.out.len();
        if room == 0 {
            self.full = true;
            return Err(io::Error::other("decompressed size cap reached"));
        }
        let n = buf.len().min(room);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copy a decoder into a capped buffer; `Err` only for a decoder error.
fn drain<R: Read>(mut r: R, w: &mut Capped) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if w.write_all(&buf[..n]).is_err() {
            return Ok(()); // cap reached: `full` says so
        }
    }
}

const LZ4_LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// lz4 legacy frames: blocks of at most 8 MiB uncompressed (lz4 programs/lz4io.c,
/// `LEGACY_BLOCKSIZE`).
const LZ4_LEGACY_BLOCK: usize = 8 * 1024 * 1024;

/// The kernel's lz4 (`lz4 -l`): the legacy magic, then blocks each preceded by their
/// compressed size (u32 LE); the stream ends at the data's end or at a size that is not a
/// block (the appended uncompressed size, or the next frame's magic). Errors name the offset
/// in the stream.
fn lz4_legacy(data: &[u8], w: &mut Capped) -> Result<(), String> {
    let mut pos = 4;
    let mut block = vec![0u8; LZ4_LEGACY_BLOCK];
    while let Some(size) = u32_at(data, pos) {
        let size = size as usize;
        if size == 0 || size > lz4_flex::block::get_maximum_output_size(LZ4_LEGACY_BLOCK) {
            break;
        }
        let Some(input) = data.get(pos + 4..pos + 4 + size) else {
            break; // the kernel's appended size: 4 bytes, nothing after
        };
        let n = lz4_flex::block::decompress_into(input, &mut block)
            .map_err(|e| format!("block at offset {pos:#x}: {e}"))?;
        if w.write_all(&block[..n]).is_err() {
            return Ok(());
        }
        pos += 4 + size;
    }
    Ok(())
}

/// xz filter IDs (xz file format specification 1.1.0, "5.3 Filters" and "Branch/Call/Jump
/// Filters for Executables").
const XZ_FILTER_LZMA2: u64 = 0x21;
const XZ_BCJ_FILTERS: [(u64, &str); 8] = [
    (0x04, "x86"),
    (0x05, "PowerPC"),
    (0x06, "IA-64"),
    (0x07, "ARM"),
    (0x08, "ARM-Thumb"),
    (0x09, "SPARC"),
    (0x0a, "ARM64"),
    (0x0b, "RISC-V"),
];

/// A multibyte integer of the xz format (7 bits a byte, at most 9 bytes).
fn xz_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let c = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(c & 0x7f) << (7 * i);
        if c & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The first block of an xz stream whose filter chain is BCJ filters then LZMA2: decode the
/// LZMA2 data and leave the BCJ conversion in place. A BCJ filter rewrites only the address
/// field of branch instructions, so text (the banner) comes out unchanged; the kernel's xz
/// streams are one block (`xz --threads=1`).
fn xz_lzma2_ignoring_bcj(
    data: &[u8],
    w: &mut Capped,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    const STREAM_HEADER: usize = 12;
    let size = *data.get(STREAM_HEADER).ok_or("no block header")?;
    if size == 0 {
        return Err("the stream holds no block".into());
    }
    let len = (usize::from(size) + 1) * 4;
    let hdr = data
        .get(STREAM_HEADER..STREAM_HEADER + len)
        .ok_or(format!("block header of {len} bytes is cut off"))?;
    let flags = hdr[1];
    let mut pos = 2;
    if flags & 0x40 != 0 {
        xz_varint(hdr, &mut pos).ok_or("bad compressed size")?;
    }
    if flags & 0x80 != 0 {
        xz_varint(hdr, &mut pos).ok_or("bad uncompressed size")?;
    }
    let count = usize::from(flags & 3) + 1;
    let mut ignored = Vec::new();
    for i in 0..count {
        let id = xz_varint(hdr, &mut pos).ok_or("bad filter id")?;
        let props = xz_varint(hdr, &mut pos).ok_or("bad filter properties size")?;
        pos = usize::try_from(props)
            .ok()
            .and_then(|p| pos.checked_add(p))
            .filter(|&p| p <= hdr.len())
            .ok_or("filter properties past the block header")?;
        let last = i + 1 == count;
        match XZ_BCJ_FILTERS.iter().find(|(f, _)| *f == id) {
            Some((_, name)) if !last => ignored.push(*name),
            _ if last && id == XZ_FILTER_LZMA2 => {}
            _ => return Err(format!("unsupported xz filter chain (filter id {id:#x})")),
        }
    }
    let mut src = &data[STREAM_HEADER + len..];
    let r = lzma_rs::lzma2_decompress(&mut src, w).map_err(|e| e.to_string());
    if !ignored.is_empty() && !w.out.is_empty() {
        notes.push(format!(
            "xz {} branch filter not undone: instructions stay converted, text is exact",
            ignored.join("+")
        ));
    }
    r
}

/// Decompress a payload into at most [`MAX_DECOMPRESSED`] bytes. A stream that fails after
/// giving data is kept (with a note): the banner may be in what came out.
fn decompress(
    c: Compression,
    data: &[u8],
    offset: u64,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>, KernelImageError> {
    let mut w = Capped {
        out: Vec::new(),
        cap: MAX_DECOMPRESSED,
        full: false,
    };
    let err = |why: String| KernelImageError::Decompress {
        method: c.name(),
        offset,
        why,
    };
    let result: Result<(), String> = match c {
        Compression::Gzip => {
            drain(flate2::read::GzDecoder::new(data), &mut w).map_err(|e| e.to_string())
        }
        Compression::Bzip2 => {
            drain(bzip2::read::BzDecoder::new(data), &mut w).map_err(|e| e.to_string())
        }
        Compression::Zstd => {
            let mut src = data;
            match ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                &mut src,
                MAX_DECOMPRESSED as u64,
            ) {
                Ok(d) => drain(d, &mut w).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        Compression::Lz4 if data.starts_with(&LZ4_LEGACY_MAGIC) => lz4_legacy(data, &mut w),
        Compression::Lz4 => {
            drain(lz4_flex::frame::FrameDecoder::new(data), &mut w).map_err(|e| e.to_string())
        }
        Compression::Xz => {
            let mut src = data;
            match lzma_rs::xz_decompress(&mut src, &mut w) {
                Ok(()) => Ok(()),
                Err(_) if w.out.is_empty() && !w.full => {
                    // lzma-rs knows only the LZMA2 filter; the kernel's "xzkern" adds a
                    // branch-call-jump filter (scripts/xz_wrap.sh).
                    xz_lzma2_ignoring_bcj(data, &mut w, notes)
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Compression::Lzma => {
            let mut src = data;
            let opts = lzma_rs::decompress::Options {
                unpacked_size: lzma_rs::decompress::UnpackedSize::ReadFromHeader,
                memlimit: Some(MAX_DECOMPRESSED),
                allow_incomplete: true,
            };
            lzma_rs::lzma_decompress_with_options(&mut src, &mut w, &opts)
                .map_err(|e| e.to_string())
        }
        Compression::Lzo => {
            return Err(KernelImageError::Unsupported {
                what: "LZO-compressed kernel".into(),
                offset,
            });
        }
    };
    if w.full {
        notes.push(format!(
            "decompression stopped at {} MiB; only that much was searched",
            MAX_DECOMPRESSED >> 20
        ));
    } else if let Err(why) = result {
        if w.out.len() < 64 {
            return Err(err(why));
        }
        notes.push(format!(
            "{} stream ended with an error after {} bytes ({why}); the bytes before were used",
            c.name(),
            w.out.len()
        ));
    }
    if w.out.is_empty() {
        return Err(err("no data".into()));
    }
    Ok(w.out)
}

#[cfg(test)]
mod tests;
