//! What UEFI firmware does with an EFI system partition (ESP).
//!
//! An OCI instance launched from an imported image starts with no UEFI boot entries
//! (`Boot####` variables), so the firmware takes the removable-media path: it runs
//! `\EFI\BOOT\BOOTX64.EFI` on x86_64 or `\EFI\BOOT\BOOTAA64.EFI` on aarch64 (UEFI
//! specification 2.10, 3.5.1.1 "Removable Media Boot Behavior", table "UEFI Image Types").
//! [`read_esp`] reads every loader under `/EFI/*/`, then follows that path the way the
//! loaders themselves would:
//!
//! - **shim** (rhboot/shim, `shim.c` `DEFAULT_LOADER` and `FALLBACK`): when `fb<arch>.efi`
//!   sits next to it, it runs that fallback, which reads `\EFI\<vendor>\BOOT<ARCH>.CSV`
//!   (UTF-16, `loader,label,options,description`), creates boot entries and boots the listed
//!   loader, usually `\EFI\<vendor>\shim<arch>.efi`; otherwise it runs `grub<arch>.efi` from
//!   its own directory;
//! - **GRUB** (`grub-mkimage`): its `mods` section holds the module info (`mimg`) with the
//!   prefix and an optional embedded configuration and memdisk. A prefix without a device
//!   part is a directory of the device GRUB was loaded from, here the ESP; GRUB then reads
//!   `$prefix/grub.cfg`. Distribution-signed GRUBs (Debian, Ubuntu) carry the prefix of the
//!   vendor directory (`/EFI/debian`), and that stub grub.cfg does `search … --set=root`,
//!   `set prefix=…` and `configfile` to reach `/boot/grub/grub.cfg` on another file system;
//!   we report those three;
//! - **systemd-boot** and **Linux kernels** (UKIs or EFI-stub kernels) end the chain.
//!
//! PE/COFF layouts are from the Microsoft "PE Format" specification (sections "MS-DOS Stub",
//! "COFF File Header", "Section Table", "COFF String Table", "Machine Types"). The module
//! info layout is GRUB's `include/grub/kernel.h` (`struct grub_module_info32/64`,
//! `struct grub_module_header`, `OBJ_TYPE_*`). SBAT is rhboot/shim `SBAT.md`.
//!
//! Hostile input: at most [`MAX_LOADERS`] files are read, each at most [`MAX_LOADER_SIZE`]
//! bytes and only as far as the sections we need; every offset is checked; errors carry the
//! file offset.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Files;
use crate::arch::Arch;

/// Loaders read at most (a hostile ESP could hold thousands).
pub const MAX_LOADERS: usize = 64;
/// Largest part of one loader read (GRUB images with big memdisks are a few MiB).
pub const MAX_LOADER_SIZE: u64 = 64 << 20;
/// Headers read first: DOS stub, PE header and the section table fit in this.
const HEAD: usize = 64 << 10;
/// Sections kept from one PE file (the spec allows 96 in practice; the field is a u16).
const MAX_SECTIONS: usize = 96;
/// Modules walked in one module info (a GRUB image has some tens to a few hundred).
const MAX_MODULES: usize = 4096;
/// Longest text kept from a section or object (SBAT, embedded config, prefix).
const MAX_TEXT: usize = 16 << 10;
/// Steps of the boot path followed at most (cycles between loaders are cut).
const MAX_STEPS: usize = 8;
/// Largest grub.cfg or CSV read from the ESP.
const MAX_CONFIG: u64 = 1 << 20;

// PE machine types (PE Format, "Machine Types").
pub const IMAGE_FILE_MACHINE_I386: u16 = 0x014c;
pub const IMAGE_FILE_MACHINE_ARMNT: u16 = 0x01c4;
pub const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
pub const IMAGE_FILE_MACHINE_ARM64: u16 = 0xaa64;
pub const IMAGE_FILE_MACHINE_RISCV64: u16 = 0x5064;

/// kernel.h `GRUB_MODULE_MAGIC`: "mimg" read as a little-endian u32.
const GRUB_MODULE_MAGIC: &[u8; 4] = b"mimg";
// kernel.h `enum grub_module_header_types`.
const OBJ_TYPE_ELF: u32 = 0;
const OBJ_TYPE_MEMDISK: u32 = 1;
const OBJ_TYPE_CONFIG: u32 = 2;
const OBJ_TYPE_PREFIX: u32 = 3;

/// What one `.efi` file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoaderKind {
    /// rhboot shim (has `.vendor_cert`, or `.data.ident` "UEFI SHIM").
    Shim,
    /// shim's fallback `fb<arch>.efi` (creates boot entries from `BOOT<ARCH>.CSV`).
    Fallback,
    /// shim's MokManager `mm<arch>.efi`.
    MokManager,
    /// A GRUB 2 image (a `mods` section holding the module info).
    Grub,
    /// systemd-boot (`.sdmagic` "#### LoaderInfo: systemd-boot …").
    SystemdBoot,
    /// A Linux kernel with its EFI stub, or a unified kernel image (`.linux` section).
    LinuxKernel,
    /// The Windows boot manager.
    WindowsBootManager,
    Unknown,
}

impl LoaderKind {
    pub fn name(self) -> &'static str {
        match self {
            LoaderKind::Shim => "shim",
            LoaderKind::Fallback => "shim fallback",
            LoaderKind::MokManager => "MokManager",
            LoaderKind::Grub => "GRUB",
            LoaderKind::SystemdBoot => "systemd-boot",
            LoaderKind::LinuxKernel => "Linux kernel (EFI stub)",
            LoaderKind::WindowsBootManager => "Windows Boot Manager",
            LoaderKind::Unknown => "unknown EFI application",
        }
    }
}

/// One EFI application on the ESP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EfiLoader {
    /// Its path in the ESP, with the names as stored (empty from [`read_loader`]).
    pub path: String,
    /// COFF header `Machine`.
    pub machine: u16,
    /// `None` for machine types Preflight does not name.
    pub arch: Option<Arch>,
    pub kind: LoaderKind,
    /// The `.sbat` section's text (CSV, one component a line).
    pub sbat: Option<String>,
    /// The product version: from `.sbat` (the vendor line, else the product line), shim's
    /// `.data.ident`, or systemd-boot's LoaderInfo.
    pub version: Option<String>,
    /// The vendor from `.sbat` ("Debian", "Red Hat").
    pub vendor: Option<String>,
    /// GRUB: the prefix object.
    pub prefix: Option<String>,
    /// GRUB: the embedded configuration object (grub-mkimage `-c`).
    pub embedded_config: Option<String>,
    /// GRUB: size of the memdisk object in bytes (Debian's signed GRUB carries one holding a
    /// grub.cfg that sources `$prefix/grub.cfg`).
    pub memdisk_size: Option<u64>,
    /// GRUB: modules built in (their count).
    pub modules: usize,
    /// PE section names, in table order.
    pub sections: Vec<String>,
}

/// One step of what the firmware would run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootStep {
    /// The file run at this step (or read, for configuration steps).
    pub path: String,
    /// One sentence: "shim 16.1 (Debian): runs fbx64.efi next to it".
    pub what: String,
}

/// The configuration GRUB reads first from the ESP (or has embedded), as far as it decides
/// where the real grub.cfg is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EspGrubConfig {
    /// Its path in the ESP, or "<embedded in PATH>".
    pub path: String,
    /// `search --fs-uuid`/`search.fs_uuid` target.
    pub search_uuid: Option<String>,
    /// `search --label`/`search.fs_label` target.
    pub search_label: Option<String>,
    /// `search --file`/`search.file` target.
    pub search_file: Option<String>,
    /// `set prefix=…`, quotes removed.
    pub prefix: Option<String>,
    /// `configfile`/`source` argument, else `$prefix/grub.cfg` when a prefix was set.
    pub next_config: Option<String>,
}

/// What the ESP holds and what the firmware would do with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EspFacts {
    pub loaders: Vec<EfiLoader>,
    /// What runs, in order, for the architecture asked for. Empty: nothing on the removable
    /// path (the firmware would find nothing to boot).
    pub boot_path: Vec<BootStep>,
    /// Architecture name ("x86_64", "aarch64", "i386", "arm") → path of the removable-media
    /// loader present for it.
    pub removable: BTreeMap<String, String>,
    pub grub_config: Option<EspGrubConfig>,
    pub warnings: Vec<String>,
}

/// The UEFI file-name suffix of an architecture (UEFI spec table "UEFI Image Types").
pub fn arch_suffix(arch: Arch) -> Option<&'static str> {
    match arch {
        Arch::X86_64 => Some("x64"),
        Arch::Aarch64 => Some("aa64"),
        Arch::I386 => Some("ia32"),
        Arch::Arm => Some("arm"),
        Arch::Other { .. } => None,
    }
}

/// The architecture of a PE machine type.
pub fn arch_of_machine(machine: u16) -> Option<Arch> {
    match machine {
        IMAGE_FILE_MACHINE_AMD64 => Some(Arch::X86_64),
        IMAGE_FILE_MACHINE_ARM64 => Some(Arch::Aarch64),
        IMAGE_FILE_MACHINE_I386 => Some(Arch::I386),
        IMAGE_FILE_MACHINE_ARMNT | 0x01c0 | 0x01c2 => Some(Arch::Arm),
        _ => None,
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// One section table entry.
#[derive(Debug, Clone)]
struct Section {
    name: String,
    /// Raw name field when it is a "/N" string-table reference not yet resolved.
    file_offset: u64,
    /// min(VirtualSize, SizeOfRawData): the bytes that belong to the section in the file.
    file_size: u64,
}

/// The PE headers: machine and sections, and how far into the file they reach.
#[derive(Debug, Clone)]
struct PeHeaders {
    machine: u16,
    sections: Vec<Section>,
    /// Where the COFF string table starts, if the headers name one.
    string_table: Option<u64>,
}

/// Read the PE headers from the first bytes of a file.
fn pe_headers(b: &[u8]) -> Result<PeHeaders, String> {
    if b.get(..2) != Some(b"MZ") {
        return Err("no MZ signature at offset 0: not a PE/COFF file".into());
    }
    let pe = u32_at(b, 0x3c).ok_or("file ends before e_lfanew at offset 0x3c")? as usize;
    if b.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0") {
        return Err(format!(
            "no PE signature at offset {pe:#x} (e_lfanew at 0x3c)"
        ));
    }
    let coff = pe + 4;
    let field = |at: usize, what: &str| {
        u16_at(b, coff + at).ok_or(format!(
            "COFF header truncated: {what} at offset {:#x}",
            coff + at
        ))
    };
    let machine = field(0, "Machine")?;
    let count = usize::from(field(2, "NumberOfSections")?);
    let opt_size = usize::from(field(16, "SizeOfOptionalHeader")?);
    let symtab = u32_at(b, coff + 8).unwrap_or(0);
    let nsyms = u32_at(b, coff + 12).unwrap_or(0);
    let string_table = (symtab != 0)
        .then(|| u64::from(symtab).checked_add(u64::from(nsyms).checked_mul(18)?))
        .flatten();
    if count > MAX_SECTIONS {
        return Err(format!(
            "NumberOfSections at offset {:#x} is {count}, more than the {MAX_SECTIONS} accepted",
            coff + 2
        ));
    }
    let table = coff + 20 + opt_size;
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let at = table + i * 40;
        let Some(entry) = b.get(at..at + 40) else {
            return Err(format!(
                "section table entry {i} at offset {at:#x} is beyond the {} bytes read",
                b.len()
            ));
        };
        let raw_name = &entry[..8];
        let end = raw_name.iter().position(|&c| c == 0).unwrap_or(8);
        let name = String::from_utf8_lossy(&raw_name[..end]).into_owned();
        let vsize = u32_at(entry, 8).unwrap_or(0);
        let raw_size = u32_at(entry, 16).unwrap_or(0);
        let ptr = u32_at(entry, 20).unwrap_or(0);
        // VirtualSize 0 (object files) means the raw size is the size.
        let size = if vsize == 0 {
            raw_size
        } else {
            vsize.min(raw_size)
        };
        sections.push(Section {
            name,
            file_offset: u64::from(ptr),
            file_size: u64::from(size),
        });
    }
    Ok(PeHeaders {
        machine,
        sections,
        string_table,
    })
}

/// Sections whose content classification reads.
const WANTED: [&str; 6] = [
    ".sbat",
    "mods",
    ".sdmagic",
    ".data.ident",
    ".linux",
    ".osrel",
];

/// How many bytes of the file [`read_loader`] needs, from its first bytes: up to the end of
/// the sections it reads (and the string table, for long section names), capped at
/// [`MAX_LOADER_SIZE`].
pub fn bytes_needed(head: &[u8]) -> Result<u64, String> {
    let h = pe_headers(head)?;
    let mut need = head.len() as u64;
    let long_names = h.sections.iter().any(|s| s.name.starts_with('/'));
    if long_names && let Some(st) = h.string_table {
        // The string table's first u32 is its size; 64 KiB is more than any loader's.
        need = need.max(st.saturating_add(64 << 10));
    }
    for s in &h.sections {
        if WANTED.contains(&s.name.as_str()) || s.name.starts_with('/') {
            need = need.max(
                s.file_offset
                    .saturating_add(s.file_size.min(MAX_LOADER_SIZE)),
            );
        }
    }
    Ok(need.min(MAX_LOADER_SIZE))
}

/// Classify one EFI application from its bytes (the whole file, or at least the first
/// [`bytes_needed`] bytes). The result's `path` is empty.
pub fn read_loader(bytes: &[u8]) -> Result<EfiLoader, String> {
    let h = pe_headers(bytes)?;
    let mut sections = h.sections;
    // Long names ("/4") are offsets into the COFF string table.
    if let Some(st) = h.string_table.and_then(|s| usize::try_from(s).ok()) {
        for s in sections.iter_mut().filter(|s| s.name.starts_with('/')) {
            let Some(off) = s.name[1..].parse::<usize>().ok() else {
                continue;
            };
            if let Some(name) = st.checked_add(off).and_then(|at| bytes.get(at..)) {
                let end = name.iter().take(256).position(|&c| c == 0);
                if let Some(end) = end {
                    s.name = String::from_utf8_lossy(&name[..end]).into_owned();
                }
            }
        }
    }
    let content = |name: &str| -> Option<&[u8]> {
        let s = sections.iter().find(|s| s.name == name)?;
        let start = usize::try_from(s.file_offset).ok()?;
        let end = start.checked_add(usize::try_from(s.file_size).ok()?)?;
        bytes.get(start..end.min(bytes.len()))
    };
    let text = |b: &[u8]| -> String {
        let end = b
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(b.len())
            .min(MAX_TEXT);
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let has = |name: &str| sections.iter().any(|s| s.name == name);

    let mut l = EfiLoader {
        path: String::new(),
        machine: h.machine,
        arch: arch_of_machine(h.machine),
        kind: LoaderKind::Unknown,
        sbat: content(".sbat").map(text).filter(|t| !t.trim().is_empty()),
        version: None,
        vendor: None,
        prefix: None,
        embedded_config: None,
        memdisk_size: None,
        modules: 0,
        sections: sections.iter().map(|s| s.name.clone()).collect(),
    };
    let sbat_component = l.sbat.as_deref().and_then(sbat_component);
    let ident = content(".data.ident").map(text);
    let sdmagic = content(".sdmagic").map(text);
    if let Some(mods) = content("mods")
        && mods.starts_with(GRUB_MODULE_MAGIC)
    {
        l.kind = LoaderKind::Grub;
        module_info(mods, &mut l)?;
    }
    if l.kind == LoaderKind::Unknown {
        l.kind = if has(".linux") || is_kernel(bytes) {
            LoaderKind::LinuxKernel
        } else if let Some(info) = sdmagic
            .as_deref()
            .and_then(|m| loader_info(m, "systemd-boot"))
        {
            l.version = Some(info);
            LoaderKind::SystemdBoot
        } else if has(".vendor_cert")
            || ident.as_deref().is_some_and(|i| i.starts_with("UEFI SHIM"))
        {
            LoaderKind::Shim
        } else if sbat_component.as_ref().is_some_and(|c| c.0 == "shim") {
            // fallback and MokManager carry shim's SBAT but no certificate. fallback.c
            // opens L"boot.csv" (UCS-2); MokManager.c names itself in its messages.
            if contains(bytes, &ucs2("boot.csv")) {
                LoaderKind::Fallback
            } else if contains(bytes, b"MokManager") || contains(bytes, &ucs2("MokManager")) {
                LoaderKind::MokManager
            } else {
                LoaderKind::Unknown
            }
        } else {
            LoaderKind::Unknown
        };
    }
    if let Some((_, vendor, version)) = sbat_component {
        l.vendor = vendor;
        l.version = l.version.take().or(version);
    }
    if l.version.is_none() && l.kind == LoaderKind::Shim {
        // shim's .data.ident: "UEFI SHIM\n$Version: 16.1 $\n…".
        l.version = ident.as_deref().and_then(|i| {
            let v = i.split("$Version:").nth(1)?.split('$').next()?.trim();
            (!v.is_empty()).then(|| v.to_string())
        });
    }
    Ok(l)
}

/// An ASCII string as UEFI's CHAR16 strings store it (UCS-2 little-endian).
fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A Linux kernel image with its EFI stub: x86 boot protocol "HdrS" at 0x202
/// (Documentation/arch/x86/boot.rst), or the arm64 `Image` magic "ARM\x64" at 0x38
/// (Documentation/arch/arm64/booting.rst).
fn is_kernel(b: &[u8]) -> bool {
    b.get(0x202..0x206) == Some(b"HdrS") || b.get(0x38..0x3c) == Some(b"ARM\x64")
}

/// systemd's `.sdmagic`: "#### LoaderInfo: systemd-boot 252.22-1~deb12u1 ####" → the version.
fn loader_info(magic: &str, product: &str) -> Option<String> {
    let rest = magic.split("LoaderInfo:").nth(1)?.trim();
    let rest = rest.strip_prefix(product)?.trim();
    let v = rest.trim_end_matches('#').trim();
    Some(v.to_string())
}

/// From `.sbat` (SBAT.md: `component,generation,vendor,package,version,url`): the product
/// component's name ("shim", "grub", "systemd-boot"…), and vendor and version from the
/// vendor line (`grub.debian,…,Debian,grub2,2.06-13+deb12u2,…`), else the product line.
fn sbat_component(sbat: &str) -> Option<(String, Option<String>, Option<String>)> {
    let lines: Vec<Vec<&str>> = sbat
        .lines()
        .map(|l| l.split(',').map(str::trim).collect())
        .filter(|f: &Vec<&str>| f.len() >= 5 && f[0] != "sbat")
        .collect();
    let product = lines.iter().find(|f| !f[0].contains('.'))?;
    let name = product[0].to_string();
    let vendor_line = lines.iter().find(|f| f[0].starts_with(&format!("{name}.")));
    let (vendor, version) = match vendor_line {
        Some(f) => (Some(f[2].to_string()), Some(f[4].to_string())),
        None => (None, Some(product[4].to_string())),
    };
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Some((name, nonempty(vendor), nonempty(version)))
}

/// GRUB's module info (kernel.h): `grub_module_info64 { u32 magic; u32 padding; u64 offset;
/// u64 size; }` on 64-bit platforms, `grub_module_info32 { u32 magic; u32 offset; u32 size; }`
/// on 32-bit ones; `offset` is where the first module header is (the struct's size), `size`
/// the whole area. Then `grub_module_header { u32 type; u32 size; }` records, `size` counting
/// the header and the alignment padding.
fn module_info(mods: &[u8], l: &mut EfiLoader) -> Result<(), String> {
    let (offset, size) = if u32_at(mods, 4) == Some(12) {
        (
            u64::from(u32_at(mods, 4).unwrap_or(0)),
            u64::from(u32_at(mods, 8).unwrap_or(0)),
        )
    } else {
        (u64_at(mods, 8).unwrap_or(0), u64_at(mods, 16).unwrap_or(0))
    };
    let end = usize::try_from(size).unwrap_or(usize::MAX).min(mods.len());
    let mut at = usize::try_from(offset).unwrap_or(usize::MAX);
    if at != 12 && at != 24 {
        return Err(format!(
            "GRUB module info: first module at offset {offset:#x}, expected 0xc or 0x18"
        ));
    }
    let text = |b: &[u8]| {
        let b = &b[..b.len().min(MAX_TEXT)];
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let mut count = 0;
    while at.saturating_add(8) <= end {
        count += 1;
        if count > MAX_MODULES {
            return Err(format!(
                "GRUB module info: more than {MAX_MODULES} objects (at offset {at:#x} of mods)"
            ));
        }
        let kind = u32_at(mods, at).unwrap_or(u32::MAX);
        let len = u32_at(mods, at + 4).unwrap_or(0) as usize;
        if kind == 0 && len == 0 {
            break; // zero padding after the last object
        }
        if len < 8 || at.saturating_add(len) > end {
            return Err(format!(
                "GRUB module info: object at offset {at:#x} of mods declares {len} bytes, \
                 outside the {end}-byte area"
            ));
        }
        let body = &mods[at + 8..at + len];
        match kind {
            OBJ_TYPE_ELF => l.modules += 1,
            OBJ_TYPE_MEMDISK => l.memdisk_size = Some(body.len() as u64),
            OBJ_TYPE_CONFIG => l.embedded_config = Some(text(body)),
            OBJ_TYPE_PREFIX => l.prefix = Some(text(body)),
            _ => {}
        }
        at += len;
    }
    Ok(())
}

/// Find a directory entry by name, ignoring ASCII case (FAT is case-insensitive; names come
/// back as stored). Returns the stored name.
fn find_ci(files: &dyn Files, dir: &str, name: &str) -> Option<String> {
    let entries = files.list_dir(dir).ok()??;
    entries
        .into_iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
        .map(|e| e.name)
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The ESP path of `\EFI\<dir>\<file>` with the stored case, if it exists.
fn efi_path(files: &dyn Files, dir: &str, file: &str) -> Option<String> {
    let efi = find_ci(files, "/", "EFI")?;
    let d = find_ci(files, &join("/", &efi), dir)?;
    let base = join(&join("/", &efi), &d);
    let f = find_ci(files, &base, file)?;
    Some(join(&base, &f))
}

/// Read the ESP and resolve what the firmware runs for `arch` (the guest's architecture).
pub fn read_esp(files: &dyn Files, arch: Arch) -> EspFacts {
    let mut out = EspFacts {
        loaders: Vec::new(),
        boot_path: Vec::new(),
        removable: BTreeMap::new(),
        grub_config: None,
        warnings: Vec::new(),
    };
    collect_loaders(files, &mut out);
    for a in [Arch::X86_64, Arch::Aarch64, Arch::I386, Arch::Arm] {
        let Some(sfx) = arch_suffix(a) else { continue };
        let name = format!("BOOT{}.EFI", sfx.to_ascii_uppercase());
        if let Some(p) = efi_path(files, "BOOT", &name) {
            out.removable.insert(a.to_string(), p);
        }
    }
    let Some(sfx) = arch_suffix(arch) else {
        out.warnings.push(format!(
            "UEFI defines no removable-media loader name for {arch}"
        ));
        return out;
    };
    let Some(first) = out.removable.get(&arch.to_string()).cloned() else {
        let others: Vec<&str> = out
            .loaders
            .iter()
            .filter(|l| l.arch == Some(arch))
            .map(|l| l.path.as_str())
            .collect();
        out.warnings.push(format!(
            "no \\EFI\\BOOT\\BOOT{}.EFI: firmware without boot entries (an imported image's \
             first boot) has nothing to run{}",
            sfx.to_ascii_uppercase(),
            if others.is_empty() {
                String::new()
            } else {
                format!(
                    "; loaders present only under vendor directories: {}",
                    others.join(", ")
                )
            }
        ));
        return out;
    };
    follow(files, &mut out, first, sfx, arch);
    out
}

fn collect_loaders(files: &dyn Files, out: &mut EspFacts) {
    let Some(efi) = find_ci(files, "/", "EFI") else {
        out.warnings.push("no /EFI directory on the ESP".into());
        return;
    };
    let efi = join("/", &efi);
    let dirs = match files.list_dir(&efi) {
        Ok(Some(d)) => d,
        Ok(None) => return,
        Err(e) => {
            out.warnings.push(format!("{efi}: {e}"));
            return;
        }
    };
    for d in dirs {
        let dir = join(&efi, &d.name);
        let Ok(Some(entries)) = files.list_dir(&dir) else {
            continue;
        };
        for e in entries {
            let lower = e.name.to_ascii_lowercase();
            if !lower.ends_with(".efi") {
                continue;
            }
            if out.loaders.len() >= MAX_LOADERS {
                out.warnings.push(format!(
                    "more than {MAX_LOADERS} EFI applications under {efi}: the rest not read"
                ));
                return;
            }
            let path = join(&dir, &e.name);
            match load(files, &path) {
                Ok(l) => out.loaders.push(l),
                Err(e) => out.warnings.push(format!("{path}: {e}")),
            }
        }
    }
}

/// Read and classify one loader: its headers first, then as far as the sections it needs.
fn load(files: &dyn Files, path: &str) -> Result<EfiLoader, String> {
    let head = files
        .head(path, HEAD)
        .map_err(|e| e.to_string())?
        .ok_or("vanished while reading")?;
    let need = bytes_needed(&head)?;
    let bytes = if need as usize > head.len() {
        let n = usize::try_from(need).unwrap_or(usize::MAX);
        files
            .head(path, n)
            .map_err(|e| e.to_string())?
            .ok_or("vanished while reading")?
    } else {
        head
    };
    let mut l = read_loader(&bytes)?;
    l.path = path.to_string();
    Ok(l)
}

fn describe(l: &EfiLoader) -> String {
    let mut s = l.kind.name().to_string();
    if let Some(v) = &l.version {
        s.push(' ');
        s.push_str(v);
    }
    if let Some(v) = &l.vendor {
        s.push_str(&format!(" ({v})"));
    }
    s
}

fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn follow(files: &dyn Files, out: &mut EspFacts, first: String, sfx: &str, arch: Arch) {
    let mut next = Some(first);
    let mut seen: Vec<String> = Vec::new();
    while let Some(path) = next.take() {
        if out.boot_path.len() >= MAX_STEPS || seen.contains(&path) {
            out.warnings
                .push(format!("boot path loops back to {path}: stopped"));
            return;
        }
        seen.push(path.clone());
        let Some(l) = out.loaders.iter().find(|l| l.path == path).cloned() else {
            out.boot_path.push(BootStep {
                what: "unreadable or not an EFI application".into(),
                path,
            });
            return;
        };
        if l.arch != Some(arch) {
            out.warnings.push(format!(
                "{path} is built for PE machine {:#06x}, not {arch}: the firmware will not run it",
                l.machine
            ));
        }
        let dir = dir_of(&path).to_string();
        let here = |name: &str| {
            let f = find_ci(files, &dir, name)?;
            Some(join(&dir, &f))
        };
        let what;
        match l.kind {
            LoaderKind::Shim => {
                let fb = format!("fb{sfx}.efi");
                let grub = format!("grub{sfx}.efi");
                if let Some(p) = here(&fb) {
                    what = format!("{}: runs {fb} next to it", describe(&l));
                    next = Some(p);
                } else if let Some(p) = here(&grub) {
                    what = format!("{}: runs {grub} next to it", describe(&l));
                    next = Some(p);
                } else {
                    what = format!("{}: runs {grub} next to it, which is missing", describe(&l));
                    out.warnings.push(format!(
                        "{path} is shim but neither {fb} nor {grub} is in {dir}"
                    ));
                }
            }
            LoaderKind::Fallback => {
                let (s, n) = fallback(files, sfx, out);
                what = format!("{}: {s}", describe(&l));
                next = n;
            }
            LoaderKind::Grub => {
                let cfg = grub_config(files, &l, &dir, out);
                what = format!("{}: {cfg}", describe(&l));
            }
            LoaderKind::SystemdBoot => {
                what = format!(
                    "{}: reads /loader/loader.conf and /loader/entries/",
                    describe(&l)
                );
            }
            LoaderKind::LinuxKernel => what = format!("{}: starts the kernel", describe(&l)),
            LoaderKind::MokManager => {
                what = format!("{}: key management, boots nothing", describe(&l));
                out.warnings
                    .push(format!("{path}: MokManager on the boot path"));
            }
            LoaderKind::WindowsBootManager | LoaderKind::Unknown => what = describe(&l),
        }
        out.boot_path.push(BootStep { path, what });
    }
}

/// shim's fallback (`fallback.c`): every `\EFI\<vendor>\BOOT<ARCH>.CSV` (else `BOOT.CSV`)
/// names a loader in that directory; it creates boot entries and boots the first one.
fn fallback(files: &dyn Files, sfx: &str, out: &mut EspFacts) -> (String, Option<String>) {
    let Some(efi) = find_ci(files, "/", "EFI") else {
        return ("no /EFI directory".into(), None);
    };
    let efi = join("/", &efi);
    let dirs = files.list_dir(&efi).ok().flatten().unwrap_or_default();
    let arch_csv = format!("BOOT{}.CSV", sfx.to_ascii_uppercase());
    for d in dirs {
        if d.name.eq_ignore_ascii_case("BOOT") {
            continue;
        }
        let dir = join(&efi, &d.name);
        let Some(csv) =
            find_ci(files, &dir, &arch_csv).or_else(|| find_ci(files, &dir, "BOOT.CSV"))
        else {
            continue;
        };
        let csv_path = join(&dir, &csv);
        let data = match files.read(&csv_path, MAX_CONFIG) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                out.warnings.push(format!("{csv_path}: {e}"));
                continue;
            }
        };
        let text = decode_csv(&data);
        let Some(loader) = text
            .lines()
            .filter_map(|l| l.split(',').next())
            .map(str::trim)
            .find(|f| !f.is_empty())
        else {
            out.warnings.push(format!("{csv_path}: no loader listed"));
            continue;
        };
        let Some(found) = find_ci(files, &dir, loader) else {
            out.warnings
                .push(format!("{csv_path} lists {loader}, which is not in {dir}"));
            return (
                format!("reads {csv_path}, which lists the missing {loader}"),
                None,
            );
        };
        let p = join(&dir, &found);
        return (
            format!("reads {csv_path}, creates a boot entry and runs {p}"),
            Some(p),
        );
    }
    out.warnings.push(format!(
        "shim's fallback finds no {arch_csv} under {efi}: it has nothing to boot"
    ));
    ("finds no boot CSV".into(), None)
}

/// `BOOT<ARCH>.CSV` is UCS-2 little-endian with a byte-order mark (shim's
/// `README.fallback`); accept UTF-8 too.
fn decode_csv(data: &[u8]) -> String {
    let utf16 = data.starts_with(&[0xff, 0xfe])
        || (data.len() >= 2 && data.len().is_multiple_of(2) && data[1] == 0 && data[0] != 0);
    if utf16 {
        let body = data.strip_prefix(&[0xff, 0xfe][..]).unwrap_or(data);
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(data).into_owned()
    }
}

/// Where GRUB's configuration is, from its prefix and embedded config; records the stub
/// config found on the ESP in `out.grub_config`. Returns a sentence fragment.
fn grub_config(files: &dyn Files, l: &EfiLoader, dir: &str, out: &mut EspFacts) -> String {
    // An embedded config other than the memdisk hand-over decides first.
    if let Some(cfg) = l
        .embedded_config
        .as_deref()
        .filter(|c| !c.contains("(memdisk)"))
    {
        let parsed = parse_stub(cfg, format!("<embedded in {}>", l.path));
        let s = match &parsed.next_config {
            Some(n) => format!("its embedded config leads to {n}"),
            None => "its embedded config names no next config".to_string(),
        };
        out.grub_config = Some(parsed);
        return s;
    }
    // No prefix object: GRUB uses the directory it was loaded from ($cmdpath).
    let prefix = l.prefix.clone().unwrap_or_else(|| dir.to_string());
    if prefix.starts_with('(') {
        return format!("reads {prefix}/grub.cfg (outside the ESP)");
    }
    let cfg_path = join(if prefix.is_empty() { "/" } else { &prefix }, "grub.cfg");
    let found = resolve_ci(files, &cfg_path);
    let Some(found) = found else {
        out.warnings.push(format!(
            "{} reads {cfg_path}, which is not on the ESP",
            l.path
        ));
        return format!("reads {cfg_path}, which is missing");
    };
    match files.read(&found, MAX_CONFIG) {
        Ok(Some(data)) => {
            let parsed = parse_stub(&String::from_utf8_lossy(&data), found.clone());
            let s = match &parsed.next_config {
                Some(n) => format!("reads {found}, which leads to {n}"),
                None => format!("reads {found}"),
            };
            out.grub_config = Some(parsed);
            s
        }
        Ok(None) => format!("reads {cfg_path}, which is missing"),
        Err(e) => {
            out.warnings.push(format!("{found}: {e}"));
            format!("reads {found}, which is unreadable")
        }
    }
}

/// An absolute path looked up component by component ignoring case.
fn resolve_ci(files: &dyn Files, path: &str) -> Option<String> {
    let mut cur = String::from("/");
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let f = find_ci(files, &cur, comp)?;
        cur = join(&cur, &f);
    }
    Some(cur)
}

/// Split a GRUB command line into words: whitespace separates, `'…'` and `"…"` quote,
/// backslash escapes, `#` at a word start comments (GRUB manual, "Shell-like scripting").
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The commands of a stub grub.cfg that say where the real one is: `search` (both the
/// `search --fs-uuid|--label|--file [--set[=var]] NAME` form and the `search.fs_uuid NAME
/// [VAR [HINTS…]]` family, GRUB manual "search"), `set prefix=`, `configfile`/`source`.
/// The first of each wins; conditions are not evaluated.
pub fn parse_stub(text: &str, path: String) -> EspGrubConfig {
    let mut c = EspGrubConfig {
        path,
        search_uuid: None,
        search_label: None,
        search_file: None,
        prefix: None,
        next_config: None,
    };
    let keywords = ["if", "then", "elif", "else", "!", "fi"];
    for line in text.lines().take(10_000) {
        for part in line.split(';') {
            let w = words(part);
            let w: Vec<&str> = w
                .iter()
                .map(String::as_str)
                .skip_while(|x| keywords.contains(x))
                .collect();
            let Some((&cmd, args)) = w.split_first() else {
                continue;
            };
            match cmd {
                "search" => {
                    let mut kind = "file";
                    let mut name = None;
                    let mut i = 0;
                    while i < args.len() {
                        match args[i] {
                            "--fs-uuid" | "-u" => kind = "uuid",
                            "--label" | "-l" => kind = "label",
                            "--file" | "-f" => kind = "file",
                            "--set" | "-s" => {
                                // `--set VAR`: the next word is the variable when a name
                                // follows it.
                                if i + 2 < args.len() && !args[i + 1].starts_with('-') {
                                    i += 1;
                                }
                            }
                            a if a.starts_with('-') => {
                                if matches!(a, "--hint" | "-h") {
                                    i += 1;
                                }
                            }
                            a => {
                                if name.is_none() {
                                    name = Some(a.to_string());
                                }
                            }
                        }
                        i += 1;
                    }
                    set_search(&mut c, kind, name);
                }
                "search.fs_uuid" => set_search(&mut c, "uuid", args.first().map(|s| s.to_string())),
                "search.fs_label" => {
                    set_search(&mut c, "label", args.first().map(|s| s.to_string()))
                }
                "search.file" => set_search(&mut c, "file", args.first().map(|s| s.to_string())),
                "set" => {
                    if let Some(v) = args.first().and_then(|a| a.strip_prefix("prefix=")) {
                        c.prefix.get_or_insert_with(|| v.to_string());
                    }
                }
                "configfile" | "source" | "normal" => {
                    if let Some(a) = args.first() {
                        c.next_config.get_or_insert_with(|| a.to_string());
                    }
                }
                a if a.starts_with("prefix=") => {
                    c.prefix
                        .get_or_insert_with(|| a["prefix=".len()..].to_string());
                }
                _ => {}
            }
        }
    }
    if c.next_config.is_none() {
        c.next_config = c.prefix.as_ref().map(|p| format!("{p}/grub.cfg"));
    }
    // `$prefix/grub.cfg` with a known prefix: spell it out.
    if let (Some(n), Some(p)) = (&c.next_config, &c.prefix) {
        for var in ["$prefix", "${prefix}"] {
            if let Some(rest) = n.strip_prefix(var) {
                c.next_config = Some(format!("{p}{rest}"));
                break;
            }
        }
    }
    c
}

fn set_search(c: &mut EspGrubConfig, kind: &str, name: Option<String>) {
    let slot = match kind {
        "uuid" => &mut c.search_uuid,
        "label" => &mut c.search_label,
        _ => &mut c.search_file,
    };
    if slot.is_none() {
        *slot = name;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_configs() {
        let debian = "search.fs_uuid 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0 root hd0,gpt2 \n\
                      set prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n";
        let c = parse_stub(debian, "/EFI/debian/grub.cfg".into());
        assert_eq!(
            c.search_uuid.as_deref(),
            Some("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0")
        );
        assert_eq!(c.prefix.as_deref(), Some("($root)/boot/grub"));
        assert_eq!(c.next_config.as_deref(), Some("($root)/boot/grub/grub.cfg"));
        let fedora = "search --no-floppy --fs-uuid --set=dev 1234-ABCD\n\
                      set prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n";
        let c = parse_stub(fedora, "x".into());
        assert_eq!(c.search_uuid.as_deref(), Some("1234-ABCD"));
        assert_eq!(c.next_config.as_deref(), Some("($dev)/grub2/grub.cfg"));
        let c = parse_stub(
            "search --set root --label 'my root' # comment\n",
            "x".into(),
        );
        assert_eq!(c.search_label.as_deref(), Some("my root"));
        assert_eq!(c.next_config, None);
        // Debian's memdisk config: conditions skipped, the first search wins.
        let memdisk = "if [ -z \"$prefix\" -o ! -e \"$prefix\" ]; then\n\
                       \tif ! search --file --set=root /.disk/info; then\n";
        let c = parse_stub(memdisk, "x".into());
        assert_eq!(c.search_file.as_deref(), Some("/.disk/info"));
    }

    #[test]
    fn hostile_pe_headers() {
        assert!(read_loader(b"").is_err());
        assert!(read_loader(b"MZ").is_err());
        let mut b = vec![0u8; 0x200];
        b[..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        b[0x84..0x86].copy_from_slice(&IMAGE_FILE_MACHINE_AMD64.to_le_bytes());
        let l = read_loader(&b).expect("no sections is fine");
        assert_eq!((l.arch, l.kind), (Some(Arch::X86_64), LoaderKind::Unknown));
        // A section table beyond the data, a mods section pointing anywhere.
        b[0x86] = 20;
        assert!(
            read_loader(&b)
                .unwrap_err()
                .contains("section table entry 9")
        );
        b[0x86] = 1;
        let sec = 0x84 + 20;
        b[sec..sec + 4].copy_from_slice(b"mods");
        b[sec + 8..sec + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        b[sec + 16..sec + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        b[sec + 20..sec + 24].copy_from_slice(&0x100u32.to_le_bytes());
        b[0x100..0x104].copy_from_slice(b"mimg");
        b[0x108] = 0x18;
        b[0x110..0x118].copy_from_slice(&u64::MAX.to_le_bytes());
        b[0x118..0x120].copy_from_slice(&[3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(read_loader(&b).unwrap_err().contains("offset 0x18"));
        b[0x118..0x120].copy_from_slice(&[3, 0, 0, 0, 12, 0, 0, 0]);
        b[0x120..0x124].copy_from_slice(b"/ab\0");
        let l = read_loader(&b).unwrap();
        assert_eq!(
            (l.kind, l.prefix.as_deref()),
            (LoaderKind::Grub, Some("/ab"))
        );
        assert!(bytes_needed(&b).unwrap() <= MAX_LOADER_SIZE);
    }

    #[test]
    fn csv_and_sbat() {
        let mut d = vec![0xff, 0xfe];
        for u in "shimx64.efi,debian,,This is the boot entry for debian\n".encode_utf16() {
            d.extend(u.to_le_bytes());
        }
        assert!(decode_csv(&d).starts_with("shimx64.efi,debian,"));
        let sbat = "sbat,1,SBAT Version,sbat,1,https://x\n\
                    grub,5,Free Software Foundation,grub,2.06,https://y\n\
                    grub.debian,5,Debian,grub2,2.06-13+deb12u2,https://z\n";
        assert_eq!(
            sbat_component(sbat),
            Some((
                "grub".into(),
                Some("Debian".into()),
                Some("2.06-13+deb12u2".into())
            ))
        );
    }
}
