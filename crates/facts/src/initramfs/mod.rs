//! The initramfs archive, read as the kernel unpacks it (init/initramfs.c,
//! Documentation/driver-api/early-userspace/buffer-format.rst): a sequence of cpio
//! "newc"/"crc" archives, each optionally compressed, separated by zero padding. A compressed
//! segment is recognised by its first two bytes as lib/decompress.c does (gzip `1f 8b`, bzip2
//! `42 5a`, lzma `5d 00`, xz `fd 37`, lzo `89 4c`, lz4 legacy `02 21`, zstd `28 b5`); an
//! uncompressed one starts with the `0` of `070701` at a 4-byte aligned offset. The usual
//! layout (Debian/Ubuntu/RHEL) is an uncompressed early cpio with
//! `kernel/x86/microcode/*.bin`, then the compressed main archive.
//!
//! The archive is streamed: decompressed bytes pass through the cpio parser and only the
//! listing is kept, plus the data of small files named by [`Options::capture`].
//!
//! ```no_run
//! # let mut file = std::io::empty();
//! use preflight_facts::initramfs::{self, Options};
//! let initrd = initramfs::read(&mut file, &Options::default())?;
//! if !initrd.has_module("virtio_scsi") { /* … */ }
//! # Ok::<(), initramfs::InitramfsError>(())
//! ```

mod cpio;
mod decompress;
mod xz;

pub use cpio::{HEADER_LEN, Header, PATH_MAX, name_span, normalize, parse_header};

use decompress::{Input, Sink};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::ops::Range;

/// Limits and what to keep. The defaults suit a real initramfs (10⁴ entries, 100–300 MB).
#[derive(Debug, Clone)]
pub struct Options {
    /// Entries in all segments.
    pub max_entries: usize,
    /// cpio bytes in all segments (decompressed plus uncompressed): the bomb guard.
    pub max_unpacked: u64,
    /// Bytes of entry names kept in all.
    pub max_name_bytes: usize,
    /// Largest zstd window / lzma dictionary accepted (the memory a decoder may take).
    pub max_window: u64,
    /// Largest xz block (LZMA2 dictionary run) accepted: lzma-rs holds it in memory.
    pub max_xz_block: u64,
    /// fnmatch(3) patterns on normalized paths (`usr/lib/modules/*/modules.dep`; `*`
    /// matches `/` too) of regular files whose data is kept.
    pub capture: Vec<String>,
    /// Largest file kept (bigger ones become a warning).
    pub max_capture: u64,
    /// All kept data together.
    pub max_captured_total: u64,
}

/// Files worth reading: module lists, modprobe/modules-load configuration, the
/// initramfs-tools and dracut configuration, the command line dracut adds.
pub const DEFAULT_CAPTURE: [&str; 14] = [
    "conf/modules",
    "conf/initramfs.conf",
    "conf/conf.d/*",
    "etc/modules",
    "etc/modules-load.d/*",
    "usr/lib/modules-load.d/*",
    "lib/modules-load.d/*",
    "etc/modprobe.d/*",
    "lib/modules/*/modules.dep",
    "usr/lib/modules/*/modules.dep",
    "lib/modules/*/modules.builtin",
    "usr/lib/modules/*/modules.builtin",
    "etc/cmdline.d/*",
    "etc/iscsi/initiatorname.iscsi",
];

impl Default for Options {
    fn default() -> Self {
        Options {
            max_entries: 200_000,
            max_unpacked: 2 << 30,
            max_name_bytes: 32 << 20,
            max_window: 128 << 20,
            max_xz_block: 512 << 20,
            capture: DEFAULT_CAPTURE.iter().map(|s| s.to_string()).collect(),
            max_capture: 1 << 20,
            max_captured_total: 32 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Lzma,
    Xz,
    Lzo,
    Lz4,
    Zstd,
    /// `1f 9e`, which lib/decompress.c maps to gzip but gzip no longer writes.
    OldGzip,
}

impl Compression {
    /// lib/decompress.c's `compressed_formats`: two bytes decide.
    pub fn detect(b: &[u8]) -> Option<Compression> {
        Some(match b.get(..2)? {
            [0x1f, 0x8b] => Compression::Gzip,
            [0x1f, 0x9e] => Compression::OldGzip,
            [0x42, 0x5a] => Compression::Bzip2,
            [0x5d, 0x00] => Compression::Lzma,
            [0xfd, 0x37] => Compression::Xz,
            [0x89, 0x4c] => Compression::Lzo,
            [0x02, 0x21] => Compression::Lz4,
            [0x28, 0xb5] => Compression::Zstd,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::OldGzip => "old gzip",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

/// One cpio entry, as the archive lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Relative to the root the kernel unpacks into: `usr/lib/modules/…` (no `./` or `/`;
    /// the root itself is ``).
    pub path: String,
    /// The name as stored (what `cpio -t` prints).
    pub name: String,
    pub kind: EntryKind,
    /// Type and permission bits (`c_mode`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// `c_filesize`: for hard links, 0 on all but the entry that carries the data.
    pub size: u64,
    pub link_target: Option<String>,
    /// Device numbers of a character or block device.
    pub rdev: Option<(u32, u32)>,
    /// For a hard link (nlink ≥ 2): the path of the first entry of its group (same ino,
    /// device and mode), as the kernel's `maybe_link` links them.
    pub hard_link_to: Option<String>,
    pub ino: u32,
    pub dev: (u32, u32),
}

impl Entry {
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// File offset of its first byte (the cpio magic or the compression magic).
    pub offset: u64,
    /// Input bytes it takes (zero padding after it excluded).
    pub length: u64,
    pub compression: Compression,
    /// cpio bytes it holds (its decompressed size).
    pub unpacked: u64,
    /// cpio archives (`TRAILER!!!` entries) in it.
    pub archives: usize,
    /// Its entries: indices into [`Initramfs::entries`].
    pub entries: Range<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Initramfs {
    pub segments: Vec<Segment>,
    /// Every entry of every segment, in archive order.
    pub entries: Vec<Entry>,
    /// Data of the files matched by [`Options::capture`], by path (a later entry replaces an
    /// earlier one, as when the kernel unpacks it).
    #[serde(skip)]
    pub captured: BTreeMap<String, Vec<u8>>,
    /// What the kernel would skip, captures refused, unusual settings.
    pub warnings: Vec<String>,
}

/// A kernel module found in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleEntry {
    /// As modprobe names it: `-` normalized to `_` (`virtio_scsi`).
    pub name: String,
    pub path: String,
    /// `xz`, `zst`, `gz` for `.ko.xz` …, `None` for a plain `.ko`.
    pub compressed: Option<&'static str>,
    /// `<v>` of `lib/modules/<v>/…` or `usr/lib/modules/<v>/…`.
    pub kernel_version: Option<String>,
}

const MODULE_SUFFIXES: [(&str, Option<&str>); 4] = [
    (".ko.xz", Some("xz")),
    (".ko.zst", Some("zst")),
    (".ko.gz", Some("gz")),
    (".ko", None),
];

const MODULE_ROOTS: [&str; 2] = ["lib/modules/", "usr/lib/modules/"];
const BIN_DIRS: [&str; 4] = ["bin/", "sbin/", "usr/bin/", "usr/sbin/"];

/// modprobe treats `-` and `_` alike.
pub fn module_name(name: &str) -> String {
    name.replace('-', "_")
}

impl Initramfs {
    pub fn segment_entries(&self, segment: usize) -> &[Entry] {
        self.segments
            .get(segment)
            .and_then(|s| self.entries.get(s.entries.clone()))
            .unwrap_or_default()
    }

    /// The last entry with this path (normalized, as [`normalize`] makes it).
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        let p = normalize(path);
        self.entries.iter().rev().find(|e| e.path == p)
    }

    /// Kept data of a captured file.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.captured.get(&normalize(path)).map(Vec::as_slice)
    }

    /// Kernel modules (`*.ko`, `*.ko.xz`, `*.ko.zst`, `*.ko.gz` regular files), sorted by
    /// path, one per path.
    pub fn modules(&self) -> Vec<ModuleEntry> {
        let mut out: BTreeMap<&str, ModuleEntry> = BTreeMap::new();
        for e in &self.entries {
            if e.kind != EntryKind::File {
                continue;
            }
            let base = e.path.rsplit('/').next().unwrap_or_default();
            let Some((stem, comp)) = MODULE_SUFFIXES
                .iter()
                .find_map(|(s, c)| base.strip_suffix(s).map(|stem| (stem, *c)))
            else {
                continue;
            };
            if stem.is_empty() {
                continue;
            }
            let kernel_version = MODULE_ROOTS.iter().find_map(|root| {
                let rest = e.path.strip_prefix(root)?;
                let (v, _) = rest.split_once('/')?;
                Some(v.to_string())
            });
            out.insert(
                &e.path,
                ModuleEntry {
                    name: module_name(stem),
                    path: e.path.clone(),
                    compressed: comp,
                    kernel_version,
                },
            );
        }
        out.into_values().collect()
    }

    /// True when a module of this name (`-`/`_` alike) is in the archive.
    pub fn has_module(&self, name: &str) -> bool {
        let want = module_name(name);
        self.modules().iter().any(|m| m.name == want)
    }

    /// Executables in bin/, sbin/, usr/bin/, usr/sbin/ (files with an x bit, and symlinks
    /// such as busybox applets), by name, sorted and unique.
    pub fn binaries(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for e in &self.entries {
            let executable = match e.kind {
                EntryKind::File => e.is_executable(),
                EntryKind::Symlink => true,
                _ => false,
            };
            if !executable {
                continue;
            }
            for dir in BIN_DIRS {
                if let Some(name) = e.path.strip_prefix(dir)
                    && !name.is_empty()
                    && !name.contains('/')
                {
                    out.insert(name.to_string());
                }
            }
        }
        out.into_iter().collect()
    }

    pub fn has_binary(&self, name: &str) -> bool {
        self.binaries().iter().any(|b| b == name)
    }

    /// `<v>` of every `lib/modules/<v>` and `usr/lib/modules/<v>` in the archive, sorted.
    pub fn kernel_versions(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for e in &self.entries {
            for root in MODULE_ROOTS {
                if let Some(rest) = e.path.strip_prefix(root) {
                    let v = rest.split('/').next().unwrap_or_default();
                    let is_dir = rest.contains('/') || e.kind == EntryKind::Dir;
                    if !v.is_empty() && is_dir {
                        out.insert(v.to_string());
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The data ends inside an entry or a compressed stream.
    Truncated,
    /// Not what the kernel accepts: bad magic, header, padding, junk.
    Malformed,
    /// A compressed stream does not decode.
    Compression,
    /// A compression the kernel knows but this reader does not (lzo) or xz filters.
    Unsupported,
    /// More entries than [`Options::max_entries`] or names than `max_name_bytes`.
    TooManyEntries,
    /// More data than [`Options::max_unpacked`] or a window/dictionary over the limits.
    TooLarge,
    /// The reader failed.
    Io,
}

/// What went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitramfsError {
    pub kind: ErrorKind,
    /// File offset: exact in an uncompressed segment; the segment's start in a compressed
    /// one (see `unpacked_offset`).
    pub offset: u64,
    /// Offset in the decompressed data of the segment, when the cpio content is at fault.
    pub unpacked_offset: Option<u64>,
    /// Index of the segment, when inside one.
    pub segment: Option<usize>,
    pub compression: Compression,
    pub message: String,
}

impl std::fmt::Display for InitramfsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.segment, self.unpacked_offset) {
            (Some(s), Some(u)) if self.compression != Compression::None => write!(
                f,
                "initramfs segment {s} ({} at offset {}), decompressed offset {u}: {}",
                self.compression.name(),
                self.offset,
                self.message
            ),
            (Some(s), None) if self.compression != Compression::None => write!(
                f,
                "initramfs segment {s} ({} at offset {}): {}",
                self.compression.name(),
                self.offset,
                self.message
            ),
            _ => write!(f, "initramfs at offset {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for InitramfsError {}

/// Read the whole initramfs; any error ends it.
pub fn read(data: &mut dyn Read, opts: &Options) -> Result<Initramfs, InitramfsError> {
    match read_partial(data, opts) {
        (i, None) => Ok(i),
        (_, Some(e)) => Err(e),
    }
}

pub fn read_bytes(data: &[u8], opts: &Options) -> Result<Initramfs, InitramfsError> {
    let mut r = data;
    read(&mut r, opts)
}

/// Read as far as possible: what was listed before an error is kept, as the kernel keeps
/// the files it unpacked before it stops ("Initramfs unpacking failed").
pub fn read_partial(data: &mut dyn Read, opts: &Options) -> (Initramfs, Option<InitramfsError>) {
    let mut col = Collector {
        opts,
        entries: Vec::new(),
        captured: BTreeMap::new(),
        captured_total: 0,
        warnings: Vec::new(),
        name_bytes: 0,
        unpacked: 0,
        links: BTreeMap::new(),
    };
    let mut segments = Vec::new();
    let mut input = Input::new(data);
    let err = run(&mut input, &mut col, &mut segments).err();
    col.finish();
    (
        Initramfs {
            segments,
            entries: col.entries,
            captured: col.captured,
            warnings: col.warnings,
        },
        err,
    )
}

fn io_err(offset: u64, e: std::io::Error) -> InitramfsError {
    InitramfsError {
        kind: ErrorKind::Io,
        offset,
        unpacked_offset: None,
        segment: None,
        compression: Compression::None,
        message: format!("read failed: {e}"),
    }
}

fn run(
    input: &mut Input,
    col: &mut Collector,
    segments: &mut Vec<Segment>,
) -> Result<(), InitramfsError> {
    loop {
        let at = input.offset;
        let head = input.peek(8).map_err(|e| io_err(at, e))?;
        let Some(&first) = head.first() else {
            return Ok(());
        };
        if first == 0 {
            let buf = input.fill_buf().map_err(|e| io_err(at, e))?;
            let zeros = buf.iter().take_while(|&&b| b == 0).count();
            input.consume(zeros);
            continue;
        }
        let index = segments.len();
        let compression = if first == b'0' && at.is_multiple_of(4) {
            Compression::None
        } else {
            match Compression::detect(head) {
                Some(c) => c,
                None => {
                    let msg = if first == b'0' {
                        "a cpio archive at an offset that is not a multiple of 4".to_string()
                    } else {
                        format!(
                            "invalid magic at start of compressed archive: {}",
                            head.iter()
                                .take(6)
                                .map(|b| format!("{b:02x}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        )
                    };
                    return Err(InitramfsError {
                        kind: ErrorKind::Malformed,
                        offset: at,
                        unpacked_offset: None,
                        segment: Some(index),
                        compression: Compression::None,
                        message: msg,
                    });
                }
            }
        };
        let first_entry = col.entries.len();
        let unpacked_before = col.unpacked;
        let mut parser = cpio::Parser::new(compression == Compression::None, index > 0);
        let mut seg = Segment {
            offset: at,
            length: 0,
            compression,
            unpacked: 0,
            archives: 0,
            entries: first_entry..first_entry,
        };
        let result = if compression == Compression::None {
            plain(input, col, &mut parser, at)
        } else {
            let mut sink = Sink {
                parser: &mut parser,
                col,
                error: None,
                out: 0,
                crc: None,
            };
            let r = decompress::decompress(compression, input, &mut sink);
            let r = r.and_then(|()| match sink.parser.end_error() {
                None => Ok(()),
                Some((_, pos, m)) => Err((
                    ErrorKind::Truncated,
                    Some(pos),
                    format!("junk at the end of compressed archive: {m}"),
                )),
            });
            r.map_err(|(kind, unpacked_offset, message)| InitramfsError {
                kind,
                offset: at,
                unpacked_offset,
                segment: Some(index),
                compression,
                message,
            })
        };
        // Every decoder reads at least its magic; this keeps the loop finite regardless.
        let result = match result {
            Ok(()) if input.offset == at => Err(InitramfsError {
                kind: ErrorKind::Compression,
                offset: at,
                unpacked_offset: None,
                segment: Some(index),
                compression,
                message: "the decoder consumed nothing".into(),
            }),
            r => r,
        };
        seg.length = input.offset - at;
        seg.unpacked = col.unpacked - unpacked_before;
        seg.archives = parser.archives;
        seg.entries = first_entry..col.entries.len();
        segments.push(seg);
        result?;
    }
}

/// An uncompressed segment: parsed in place until its archive ends.
fn plain(
    input: &mut Input,
    col: &mut Collector,
    parser: &mut cpio::Parser,
    start: u64,
) -> Result<(), InitramfsError> {
    let wrap = |kind, offset, message| InitramfsError {
        kind,
        offset,
        unpacked_offset: None,
        segment: None,
        compression: Compression::None,
        message,
    };
    loop {
        let at = input.offset;
        let buf = input.fill_buf().map_err(|e| io_err(at, e))?;
        if buf.is_empty() {
            return match parser.end_error() {
                None => Ok(()),
                Some((k, pos, m)) => Err(wrap(k, start + pos, m)),
            };
        }
        let len = buf.len() as u64;
        if col.unpacked.saturating_add(len) > col.opts.max_unpacked {
            return Err(wrap(
                ErrorKind::TooLarge,
                at,
                format!(
                    "more than {} bytes of cpio data in all",
                    col.opts.max_unpacked
                ),
            ));
        }
        let fed = parser
            .feed(buf, col)
            .map_err(|(k, pos, m)| wrap(k, start + pos, m))?;
        match fed {
            cpio::Fed::All => {
                col.unpacked += len;
                input.consume(buf_len(len));
                continue;
            }
            cpio::Fed::Ended(n) => {
                col.unpacked += n as u64;
                input.consume(n);
                return Ok(());
            }
        }
    }
}

fn buf_len(len: u64) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// What the parser hands over: entries, captured data, warnings, counters.
pub(crate) struct Collector<'o> {
    opts: &'o Options,
    entries: Vec<Entry>,
    captured: BTreeMap<String, Vec<u8>>,
    captured_total: u64,
    warnings: Vec<String>,
    name_bytes: usize,
    /// cpio bytes parsed so far in all segments.
    unpacked: u64,
    /// Hard-link groups: (ino, dev, mode) → first path.
    links: BTreeMap<(u32, (u32, u32), u32), String>,
}

#[cfg(test)]
mod tests;

const MAX_WARNINGS: usize = 100;

impl Collector<'_> {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings.push("more warnings not shown".into());
        }
    }

    fn add_entry(&mut self, mut e: Entry) -> Result<(), (ErrorKind, String)> {
        if self.entries.len() >= self.opts.max_entries {
            return Err((
                ErrorKind::TooManyEntries,
                format!("more than {} entries", self.opts.max_entries),
            ));
        }
        self.name_bytes = self.name_bytes.saturating_add(e.name.len() + e.path.len());
        if self.name_bytes > self.opts.max_name_bytes {
            return Err((
                ErrorKind::TooManyEntries,
                format!(
                    "more than {} bytes of entry names",
                    self.opts.max_name_bytes
                ),
            ));
        }
        // init/initramfs.c maybe_link(): regular files, devices, fifos and sockets with
        // nlink ≥ 2 are linked to the first entry of the same (major, minor, ino, mode).
        if e.nlink >= 2 && !matches!(e.kind, EntryKind::Dir | EntryKind::Symlink) {
            let key = (e.ino, e.dev, e.mode);
            match self.links.get(&key) {
                Some(first) => e.hard_link_to = Some(first.clone()),
                None => {
                    if self.links.len() < self.opts.max_entries {
                        self.links.insert(key, e.path.clone());
                    }
                }
            }
        }
        self.entries.push(e);
        Ok(())
    }

    /// A buffer for the data of `path` if it is to be captured.
    fn wants(&mut self, path: &str, size: u64) -> Option<Vec<u8>> {
        if !self
            .opts
            .capture
            .iter()
            .any(|p| crate::files::fnmatch(p, path))
        {
            return None;
        }
        if size > self.opts.max_capture {
            self.warn(format!(
                "{path}: {size} bytes, more than the {} kept",
                self.opts.max_capture
            ));
            return None;
        }
        if self.captured_total.saturating_add(size) > self.opts.max_captured_total {
            self.warn(format!(
                "{path}: not kept, the captured files already take {} bytes",
                self.captured_total
            ));
            return None;
        }
        self.captured_total += size;
        Some(Vec::with_capacity(size as usize))
    }

    fn body(&mut self, path: &str, kind: EntryKind, data: Vec<u8>) {
        if kind == EntryKind::Symlink {
            let target = String::from_utf8_lossy(&data).into_owned();
            if let Some(e) = self.entries.last_mut()
                && e.path == path
            {
                e.link_target = Some(target);
            }
        } else {
            self.captured.insert(path.to_string(), data);
        }
    }

    /// Hard links whose data came with another name of the group share it (GNU cpio
    /// writes the data with the last name; the kernel links the earlier ones to it).
    fn finish(&mut self) {
        let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for e in &self.entries {
            if e.nlink < 2 || e.size == 0 {
                continue;
            }
            let first = e.hard_link_to.as_ref().unwrap_or(&e.path);
            if let Some(d) = self.captured.get(&e.path) {
                data.insert(first.clone(), d.clone());
            }
        }
        if data.is_empty() {
            return;
        }
        for e in &self.entries {
            let first = e.hard_link_to.as_ref().unwrap_or(&e.path);
            let Some(d) = data.get(first) else { continue };
            if e.nlink < 2 || self.captured.get(&e.path) == Some(d) {
                continue;
            }
            if !self
                .opts
                .capture
                .iter()
                .any(|p| crate::files::fnmatch(p, &e.path))
            {
                continue;
            }
            let len = d.len() as u64;
            if self.captured_total.saturating_add(len) > self.opts.max_captured_total {
                break;
            }
            self.captured_total += len;
            self.captured.insert(e.path.clone(), d.clone());
        }
    }
}
