//! The cpio "newc" (`070701`) and "crc" (`070702`) push parser, fed as bytes pass by, after
//! the kernel's state machine in init/initramfs.c as Documentation/driver-api/early-userspace/
//! buffer-format.rst describes it:
//!
//! - a header is 110 ASCII bytes: the magic and 13 fields of 8 hex digits (ino, mode, uid, gid,
//!   nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check);
//! - the name (namesize bytes, NUL included) follows, padded so that header + name end on a
//!   4-byte boundary; the data follows, padded to 4 bytes;
//! - `TRAILER!!!` ends an archive; zero bytes may follow, and within one compressed stream
//!   another archive may start (at a 4-byte boundary) after them.
//!
//! The kernel skips entries with a name of 0 or more than PATH_MAX bytes; here a name longer
//! than PATH_MAX is an error (nothing after it can be trusted: the kernel skips to an offset
//! computed from it) and so is an empty one. It also skips, silently, non-regular entries with
//! data (a symlink target over PATH_MAX, a directory with a body): those become warnings.

use super::{Collector, Entry, EntryKind, ErrorKind};

/// The size of a newc header.
pub const HEADER_LEN: usize = 110;
/// Linux PATH_MAX: the longest name (NUL included) and symlink target the kernel accepts.
pub const PATH_MAX: u64 = 4096;

const S_IFMT: u32 = 0o170000;

/// The 13 numeric fields of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub crc: bool,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub namesize: u32,
    pub check: u32,
}

const FIELDS: [&str; 13] = [
    "c_ino",
    "c_mode",
    "c_uid",
    "c_gid",
    "c_nlink",
    "c_mtime",
    "c_filesize",
    "c_devmajor",
    "c_devminor",
    "c_rdevmajor",
    "c_rdevminor",
    "c_namesize",
    "c_check",
];

/// Parse a 110-byte header; the error says which field and at which byte of the header.
pub fn parse_header(h: &[u8]) -> Result<Header, (ErrorKind, u64, String)> {
    if h.len() < HEADER_LEN {
        return Err((
            ErrorKind::Truncated,
            0,
            format!("cpio header of {} bytes, {HEADER_LEN} needed", h.len()),
        ));
    }
    let crc = match h.get(..6) {
        Some(b"070701") => false,
        Some(b"070702") => true,
        Some(b"070707") => {
            return Err((
                ErrorKind::Malformed,
                0,
                "cpio in the old portable (odc) format: the kernel reads only newc/crc (cpio -H newc)"
                    .into(),
            ));
        }
        _ => {
            let shown: String = h
                .iter()
                .take(6)
                .map(|&b| {
                    if b.is_ascii_graphic() {
                        (b as char).to_string()
                    } else {
                        format!("\\x{b:02x}")
                    }
                })
                .collect();
            return Err((
                ErrorKind::Malformed,
                0,
                format!("no cpio magic (070701/070702): found \"{shown}\""),
            ));
        }
    };
    let mut v = [0u32; 13];
    for (i, slot) in v.iter_mut().enumerate() {
        let start = 6 + i * 8;
        let field = h.get(start..start + 8).unwrap_or_default();
        let mut n: u32 = 0;
        for (j, &b) in field.iter().enumerate() {
            let d = match (b as char).to_digit(16) {
                Some(d) => d,
                None => {
                    return Err((
                        ErrorKind::Malformed,
                        (start + j) as u64,
                        format!(
                            "cpio header field {} is not 8 hex digits (byte 0x{b:02x})",
                            FIELDS.get(i).copied().unwrap_or("?")
                        ),
                    ));
                }
            };
            n = (n << 4) | d;
        }
        *slot = n;
    }
    Ok(Header {
        crc,
        ino: v[0],
        mode: v[1],
        uid: v[2],
        gid: v[3],
        nlink: v[4],
        mtime: v[5],
        filesize: v[6],
        devmajor: v[7],
        devminor: v[8],
        rdevmajor: v[9],
        rdevminor: v[10],
        namesize: v[11],
        check: v[12],
    })
}

/// The bytes the name and its padding take after the header (the kernel's `N_ALIGN`), so
/// that header + name end 4-byte aligned.
pub fn name_span(namesize: u32) -> u64 {
    (((u64::from(namesize) + 1) & !3) + 2).max(u64::from(namesize))
}

pub fn kind_of(mode: u32) -> EntryKind {
    match mode & S_IFMT {
        0o100000 => EntryKind::File,
        0o040000 => EntryKind::Dir,
        0o120000 => EntryKind::Symlink,
        0o020000 => EntryKind::CharDevice,
        0o060000 => EntryKind::BlockDevice,
        0o010000 => EntryKind::Fifo,
        0o140000 => EntryKind::Socket,
        _ => EntryKind::Other,
    }
}

#[derive(Debug)]
enum State {
    /// Between archives (after a trailer, or at the start of a compressed stream): zeros are
    /// skipped, `0` starts a header.
    Reset,
    Header,
    /// Collecting the name (`namesize` bytes), then skipping to `end` (the name's padding).
    Name {
        end: u64,
    },
    /// Data of the current entry up to `end`.
    Body {
        end: u64,
    },
    /// Padding or a skipped entry, up to `end`.
    Skip {
        end: u64,
        then_reset: bool,
    },
}

#[derive(Debug, Default)]
struct Current {
    hdr: Header,
    at: u64,
    name: Vec<u8>,
    /// The data is kept: a symlink target, or a file to capture.
    keep: Option<Vec<u8>>,
    sum: u32,
    path: String,
}

/// Where the parser stopped in top-level mode.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed {
    /// Everything was consumed; more may come.
    All,
    /// The archive ended (trailer and zero padding) after this many bytes; the rest is not
    /// cpio of this segment.
    Ended(usize),
}

/// A parser for one stream (an uncompressed segment, or one decompressed segment).
pub struct Parser {
    pos: u64,
    state: State,
    hdr: [u8; HEADER_LEN],
    hdr_len: usize,
    cur: Current,
    /// Top level: stop at the first non-zero byte after a trailer (the kernel's
    /// `write_buffer` returning to `unpack_to_rootfs`).
    top_level: bool,
    pub archives: usize,
}

/// A parser error: kind, position in this stream, message.
pub type PErr = (ErrorKind, u64, String);

impl Parser {
    /// `top_level`: an uncompressed segment whose first byte is the `0` of a header.
    /// Otherwise a decompressed stream, which starts where the kernel's state machine was:
    /// expecting a header for the first segment, between archives (zeros skipped) after an
    /// earlier one (`after_archive`).
    pub fn new(top_level: bool, after_archive: bool) -> Parser {
        Parser {
            pos: 0,
            state: if top_level || !after_archive {
                State::Header
            } else {
                State::Reset
            },
            hdr: [0; HEADER_LEN],
            hdr_len: 0,
            cur: Current::default(),
            top_level,
            archives: 0,
        }
    }

    /// What is missing when the stream ends here.
    pub fn end_error(&self) -> Option<PErr> {
        let what = match &self.state {
            State::Reset => return None,
            State::Header => format!(
                "the data ends inside a cpio header ({} of {HEADER_LEN} bytes)",
                self.hdr_len
            ),
            State::Name { .. } => "the data ends inside a cpio entry name".to_string(),
            State::Body { end } => format!(
                "the data ends inside the data of {} ({} bytes missing)",
                self.cur.path,
                end.saturating_sub(self.pos)
            ),
            State::Skip {
                then_reset: true, ..
            } => return None,
            State::Skip { end, .. } => {
                if *end <= self.pos {
                    return None;
                }
                format!(
                    "the data ends inside the padding after {} ({} bytes missing)",
                    self.cur.path,
                    end.saturating_sub(self.pos)
                )
            }
        };
        Some((
            ErrorKind::Truncated,
            self.pos,
            format!("{what}; no TRAILER!!! entry"),
        ))
    }

    /// Feed bytes. In top-level mode, returns `Ended(n)` when the archive is over and byte
    /// `n` is not part of it.
    pub fn feed(&mut self, data: &[u8], col: &mut Collector) -> Result<Fed, PErr> {
        let mut i = 0usize;
        // Every iteration consumes at least one byte or changes state toward one that does.
        while i < data.len() {
            let rest = data.get(i..).unwrap_or_default();
            match self.state {
                State::Reset => {
                    let zeros = rest.iter().take_while(|&&b| b == 0).count();
                    i += zeros;
                    self.pos += zeros as u64;
                    let Some(&b) = data.get(i) else { break };
                    if !self.pos.is_multiple_of(4) {
                        return Err((
                            ErrorKind::Malformed,
                            self.pos,
                            "broken padding: data after a cpio trailer is not 4-byte aligned"
                                .into(),
                        ));
                    }
                    if self.top_level {
                        return Ok(Fed::Ended(i));
                    }
                    if b != b'0' {
                        return Err((
                            ErrorKind::Malformed,
                            self.pos,
                            format!(
                                "junk within compressed archive: byte 0x{b:02x} where a cpio header or zero padding belongs"
                            ),
                        ));
                    }
                    self.state = State::Header;
                    self.hdr_len = 0;
                }
                State::Header => {
                    let want = HEADER_LEN - self.hdr_len;
                    let n = want.min(rest.len());
                    if let (Some(dst), Some(src)) = (
                        self.hdr.get_mut(self.hdr_len..self.hdr_len + n),
                        rest.get(..n),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    self.hdr_len += n;
                    i += n;
                    self.pos += n as u64;
                    if self.hdr_len == HEADER_LEN {
                        self.hdr_len = 0;
                        self.start_entry(col)?;
                    }
                }
                State::Name { end } => {
                    let namesize = self.cur.hdr.namesize as usize;
                    let take = if self.cur.name.len() < namesize {
                        (namesize - self.cur.name.len()).min(rest.len())
                    } else {
                        0
                    };
                    if take > 0 {
                        self.cur
                            .name
                            .extend_from_slice(rest.get(..take).unwrap_or_default());
                        i += take;
                        self.pos += take as u64;
                        continue;
                    }
                    let skip = (end.saturating_sub(self.pos)).min(rest.len() as u64) as usize;
                    i += skip;
                    self.pos += skip as u64;
                    if self.pos >= end {
                        self.name_done(col)?;
                    }
                }
                State::Body { end } => {
                    let n = (end.saturating_sub(self.pos)).min(rest.len() as u64) as usize;
                    let chunk = rest.get(..n).unwrap_or_default();
                    if self.cur.hdr.crc {
                        for &b in chunk {
                            self.cur.sum = self.cur.sum.wrapping_add(u32::from(b));
                        }
                    }
                    if let Some(keep) = &mut self.cur.keep {
                        keep.extend_from_slice(chunk);
                    }
                    i += n;
                    self.pos += n as u64;
                    if self.pos >= end {
                        self.body_done(col)?;
                    }
                }
                State::Skip { end, then_reset } => {
                    let n = (end.saturating_sub(self.pos)).min(rest.len() as u64) as usize;
                    i += n;
                    self.pos += n as u64;
                    if self.pos >= end {
                        self.state = if then_reset {
                            State::Reset
                        } else {
                            State::Header
                        };
                    }
                }
            }
        }
        Ok(Fed::All)
    }

    fn start_entry(&mut self, col: &mut Collector) -> Result<(), PErr> {
        let at = self.pos - HEADER_LEN as u64;
        let hdr = parse_header(&self.hdr).map_err(|(k, off, m)| (k, at + off, m))?;
        if hdr.namesize == 0 {
            return Err((
                ErrorKind::Malformed,
                at,
                "cpio entry with c_namesize 0".into(),
            ));
        }
        if u64::from(hdr.namesize) > PATH_MAX {
            return Err((
                ErrorKind::Malformed,
                at,
                format!(
                    "cpio entry name of {} bytes: more than PATH_MAX ({PATH_MAX}), which the kernel skips",
                    hdr.namesize
                ),
            ));
        }
        let body_start = at + HEADER_LEN as u64 + name_span(hdr.namesize);
        self.cur = Current {
            hdr,
            at,
            name: Vec::with_capacity(hdr.namesize as usize),
            keep: None,
            sum: 0,
            path: String::new(),
        };
        let _ = col;
        self.state = State::Name { end: body_start };
        Ok(())
    }

    fn name_done(&mut self, col: &mut Collector) -> Result<(), PErr> {
        let hdr = self.cur.hdr;
        let at = self.cur.at;
        match self.cur.name.split_last() {
            Some((0, _)) => {}
            _ => {
                return Err((
                    ErrorKind::Malformed,
                    at + HEADER_LEN as u64,
                    format!(
                        "cpio entry name \"{}\" does not end with NUL",
                        String::from_utf8_lossy(&self.cur.name).escape_debug()
                    ),
                ));
            }
        }
        let raw = self
            .cur
            .name
            .get(..self.cur.name.len() - 1)
            .unwrap_or_default();
        let name = String::from_utf8_lossy(raw).into_owned();
        let size = u64::from(hdr.filesize);
        let end = self.pos + size;
        let kind = kind_of(hdr.mode);
        // The kernel decides to skip before it looks at the name (do_header).
        let skipped = if kind == EntryKind::Symlink && size > PATH_MAX {
            Some("a symlink target longer than PATH_MAX")
        } else if !matches!(kind, EntryKind::File | EntryKind::Symlink) && size > 0 {
            Some("data on an entry that is neither a file nor a symlink")
        } else {
            None
        };
        if let Some(why) = skipped {
            col.warn(format!(
                "cpio entry {name:?} at offset {at} skipped, as the kernel does: {why}"
            ));
            self.skip_to(end, false);
            return Ok(());
        }
        if name == "TRAILER!!!" {
            self.archives += 1;
            self.skip_to(end, true);
            return Ok(());
        }
        let path = normalize(&name);
        if kind == EntryKind::Symlink {
            self.cur.keep = Some(Vec::with_capacity(size as usize));
        } else if kind == EntryKind::File {
            self.cur.keep = col.wants(&path, size);
        }
        self.cur.path = path;
        col.add_entry(Entry {
            path: self.cur.path.clone(),
            name,
            kind,
            mode: hdr.mode,
            uid: hdr.uid,
            gid: hdr.gid,
            nlink: hdr.nlink,
            mtime: hdr.mtime,
            size,
            link_target: None,
            rdev: matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice)
                .then_some((hdr.rdevmajor, hdr.rdevminor)),
            hard_link_to: None,
            ino: hdr.ino,
            dev: (hdr.devmajor, hdr.devminor),
        })
        .map_err(|(k, m)| (k, at, m))?;
        self.state = State::Body { end };
        if size == 0 {
            self.body_done(col)?;
        }
        Ok(())
    }

    fn body_done(&mut self, col: &mut Collector) -> Result<(), PErr> {
        let hdr = self.cur.hdr;
        let end = self.pos;
        if hdr.crc && kind_of(hdr.mode) == EntryKind::File && self.cur.sum != hdr.check {
            return Err((
                ErrorKind::Malformed,
                self.cur.at,
                format!(
                    "bad data checksum for {}: c_check 0x{:08x}, data sums to 0x{:08x}",
                    self.cur.path, hdr.check, self.cur.sum
                ),
            ));
        }
        if let Some(data) = self.cur.keep.take() {
            col.body(&self.cur.path, kind_of(hdr.mode), data);
        }
        self.skip_to(end, false);
        Ok(())
    }

    fn skip_to(&mut self, end: u64, then_reset: bool) {
        let aligned = end.saturating_add(3) & !3;
        if aligned <= self.pos {
            self.state = if then_reset {
                State::Reset
            } else {
                State::Header
            };
        } else {
            self.state = State::Skip {
                end: aligned,
                then_reset,
            };
        }
    }
}

/// The path as the kernel creates it, relative to the root: leading `/` and `./` removed,
/// `.` alone is the root (``).
pub fn normalize(name: &str) -> String {
    let mut s = name;
    loop {
        if let Some(r) = s.strip_prefix("./") {
            s = r;
        } else if let Some(r) = s.strip_prefix('/') {
            s = r;
        } else {
            break;
        }
    }
    if s == "." {
        s = "";
    }
    s.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: [u32; 13], magic: &str) -> Vec<u8> {
        let mut s = magic.to_string();
        for f in fields {
            s.push_str(&format!("{f:08X}"));
        }
        s.into_bytes()
    }

    #[test]
    fn parses_fields_in_order() {
        let h = header([1, 0o100644, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "070701");
        let p = parse_header(&h).unwrap();
        assert!(!p.crc);
        assert_eq!(
            (p.ino, p.mode, p.uid, p.gid, p.nlink, p.mtime, p.filesize),
            (1, 0o100644, 2, 3, 4, 5, 6)
        );
        assert_eq!(
            (
                p.devmajor,
                p.devminor,
                p.rdevmajor,
                p.rdevminor,
                p.namesize,
                p.check
            ),
            (7, 8, 9, 10, 11, 12)
        );
        let mut h2 = h.clone();
        h2[5] = b'2';
        assert!(parse_header(&h2).unwrap().crc);
    }

    #[test]
    fn header_errors_say_where() {
        let mut h = header([0; 13], "070701");
        h[6 + 6 * 8 + 3] = b'g';
        let (_, off, msg) = parse_header(&h).unwrap_err();
        assert_eq!(off, 6 + 6 * 8 + 3);
        assert!(msg.contains("c_filesize"), "{msg}");
        let h = header([0; 13], "070707");
        assert!(parse_header(&h).unwrap_err().2.contains("newc"));
        let h = header([0; 13], "\u{1}abcde");
        assert!(parse_header(&h).unwrap_err().2.contains("no cpio magic"));
        assert!(parse_header(b"0707").is_err());
    }

    #[test]
    fn name_span_aligns_header_and_name() {
        for n in 1..40u32 {
            let span = name_span(n);
            assert!(span >= u64::from(n));
            assert_eq!((HEADER_LEN as u64 + span) % 4, 0, "namesize {n}");
            assert!(span < u64::from(n) + 4);
        }
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("."), "");
        assert_eq!(normalize("./bin/sh"), "bin/sh");
        assert_eq!(normalize("/etc/x"), "etc/x");
        assert_eq!(normalize("usr/lib/"), "usr/lib");
        assert_eq!(normalize("kernel"), "kernel");
    }

    #[test]
    fn kinds() {
        assert_eq!(kind_of(0o100755), EntryKind::File);
        assert_eq!(kind_of(0o040755), EntryKind::Dir);
        assert_eq!(kind_of(0o120777), EntryKind::Symlink);
        assert_eq!(kind_of(0o020600), EntryKind::CharDevice);
        assert_eq!(kind_of(0o060600), EntryKind::BlockDevice);
        assert_eq!(kind_of(0o010600), EntryKind::Fifo);
        assert_eq!(kind_of(0o140600), EntryKind::Socket);
        assert_eq!(kind_of(0o000600), EntryKind::Other);
    }
}
