//! Tar headers: POSIX ustar (IEEE 1003.1-2017, "pax" utility, ustar Interchange Format), pax
//! extended headers (`x`, `g`: `path=`, `size=`), and the GNU extensions real exports use
//! (base-256 sizes for members of 8 GiB and more, `L`/`K` long names). GNU sparse members
//! (`S`, or pax `GNU.sparse.*`) are refused: their data is not laid out as the file.
//!
//! [`Walker`] interprets one 512-byte header at a time and keeps the member list; two drivers
//! feed it: [`walk_in_place`] reads a plain tar header by header (one small read each, data
//! skipped), [`TarStream`] follows a decompressed stream as it goes by (tar.gz) and captures
//! the small members we parse.

use preflight_io::{ByteSource, read_vec};

/// What to do with a gzip file that is not an `.oci` export.
const DECOMPRESS_FIRST: &str =
    "this file is compressed; decompress it first and check the disk image inside";

use crate::info::ArchiveMember;
use crate::{ContainerError, Format};

pub const BLOCK: u64 = 512;
/// More members than this is not an export of one disk: refuse rather than list forever.
pub const MAX_MEMBERS: usize = 10_000;
/// Headers of any kind (extension headers included) before we give up.
const MAX_HEADERS: usize = 4 * MAX_MEMBERS;
/// A pax extended header or GNU long name larger than this is refused (real ones: bytes).
pub const MAX_EXTENSION: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext {
    /// `x`: pax extended header for the next member.
    Pax,
    /// `g`: pax global header (nothing in it matters to us; checked for sparse keys).
    PaxGlobal,
    /// GNU `L`: the next member's long name.
    LongName,
    /// GNU `K`: the next member's long link target (ignored).
    LongLink,
}

/// What follows a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Member `walker.members[i]`: its data follows, padded to 512 bytes.
    Member(usize),
    /// Extension data of `size` bytes follows; hand it to [`Walker::extension`].
    Extension(Ext, u64),
    /// `n` bytes of data we do not need follow (padded), or nothing (a lone zero block).
    Skip(u64),
    /// The end-of-archive marker (two zero blocks).
    End,
}

/// `n` rounded up to a whole number of blocks, or None on overflow.
pub fn padded(n: u64) -> Option<u64> {
    n.checked_add(BLOCK - 1).map(|v| v / BLOCK * BLOCK)
}

fn corrupt(at: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Tar, at, message)
}

/// A numeric header field: octal ASCII (space/NUL terminated), or GNU base-256 when the
/// high bit of the first byte is set (sizes of 8 GiB and more). None if malformed.
fn number(field: &[u8]) -> Option<u64> {
    let first = *field.first()?;
    if first & 0x80 != 0 {
        if first == 0xff {
            return None; // negative
        }
        let mut v = u64::from(first & 0x7f);
        for &b in field.get(1..)? {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let mut v = 0u64;
    let mut digits = field
        .iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .peekable();
    while let Some(&b) = digits.next() {
        match b {
            b'0'..=b'7' => v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?,
            b' ' | 0 => {
                // Only terminators may follow.
                if digits.any(|&c| c != b' ' && c != 0) {
                    return None;
                }
                break;
            }
            _ => return None,
        }
    }
    Some(v)
}

/// A NUL-terminated text field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or(&[])).into_owned()
}

/// Interprets headers one at a time; holds the member list.
#[derive(Debug, Default)]
pub struct Walker {
    pub members: Vec<ArchiveMember>,
    /// From a pax `x` header or a GNU `L` header: overrides of the next member.
    next_path: Option<String>,
    next_size: Option<u64>,
    next_sparse: bool,
    headers: usize,
    zero_blocks: u32,
    /// The end-of-archive marker was seen.
    pub ended: bool,
}

impl Walker {
    pub fn new() -> Self {
        Walker::default()
    }

    /// The header block at stream offset `at`.
    pub fn header(&mut self, block: &[u8; 512], at: u64) -> Result<Step, ContainerError> {
        if block.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.ended = true;
                return Ok(Step::End);
            }
            return Ok(Step::Skip(0));
        }
        self.zero_blocks = 0;
        self.headers += 1;
        if self.headers > MAX_HEADERS {
            return Err(corrupt(
                at,
                format!("more than {MAX_HEADERS} tar headers: not an archive of a disk image"),
            ));
        }
        // The checksum: the sum of the header's bytes with the checksum field read as spaces;
        // some historic writers summed signed bytes, so both are accepted.
        let field = block.get(148..156).unwrap_or(&[]);
        let stored = number(field);
        let (mut unsigned, mut signed) = (0i64, 0i64);
        for (i, &b) in block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { b };
            unsigned += i64::from(b);
            signed += i64::from(b as i8);
        }
        match stored {
            Some(s) if s as i64 == unsigned || s as i64 == signed => {}
            _ => {
                return Err(corrupt(
                    at,
                    format!(
                        "tar header checksum mismatch (stored {:?}, computed {unsigned}): the archive is corrupt",
                        text(field).trim()
                    ),
                ));
            }
        }
        let size = number(block.get(124..136).unwrap_or(&[]))
            .ok_or_else(|| corrupt(at, "tar header size field is not a number"))?;
        let typeflag = block[156];
        let mut name = text(block.get(..100).unwrap_or(&[]));
        // POSIX ustar splits long names into prefix (345..500) and name; GNU's "ustar  " magic
        // uses that area for other fields.
        if block.get(257..263) == Some(b"ustar\0") {
            let prefix = text(block.get(345..500).unwrap_or(&[]));
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let ext = |kind| {
            if size > MAX_EXTENSION {
                Err(corrupt(
                    at,
                    format!(
                        "tar extension header of {size} bytes (more than {MAX_EXTENSION} accepted)"
                    ),
                ))
            } else {
                Ok(Step::Extension(kind, size))
            }
        };
        match typeflag {
            b'x' => return ext(Ext::Pax),
            b'g' => return ext(Ext::PaxGlobal),
            b'L' => return ext(Ext::LongName),
            b'K' => return ext(Ext::LongLink),
            _ => {}
        }
        let name = self.next_path.take().unwrap_or(name);
        let size = self.next_size.take().unwrap_or(size);
        let sparse = std::mem::take(&mut self.next_sparse);
        match typeflag {
            b'S' => return Err(sparse_error(&name, at)),
            _ if sparse => return Err(sparse_error(&name, at)),
            b'M' => {
                return Err(corrupt(
                    at,
                    format!(
                        "tar member {name:?} continues a multi-volume archive: only single-volume archives are read"
                    ),
                ));
            }
            // GNU volume label: not a file.
            b'V' => return Ok(Step::Skip(size)),
            _ => {}
        }
        // Links, devices, directories and FIFOs have no data (POSIX: size ignored).
        let has_data = !matches!(typeflag, b'1'..=b'6');
        let size = if has_data { size } else { 0 };
        if self.members.len() >= MAX_MEMBERS {
            return Err(corrupt(
                at,
                format!("more than {MAX_MEMBERS} members: not an archive of a disk image"),
            ));
        }
        let offset = at + BLOCK;
        if padded(size).and_then(|p| offset.checked_add(p)).is_none() {
            return Err(corrupt(
                at,
                format!("tar member {name:?} declares an impossible size ({size} bytes)"),
            ));
        }
        self.members.push(ArchiveMember { name, size, offset });
        Ok(Step::Member(self.members.len() - 1))
    }

    /// The data of an extension header (at stream offset `at`, the header's).
    pub fn extension(&mut self, kind: Ext, data: &[u8], at: u64) -> Result<(), ContainerError> {
        match kind {
            Ext::LongName => self.next_path = Some(text(data)),
            Ext::LongLink => {}
            Ext::Pax | Ext::PaxGlobal => {
                for (key, value) in pax_records(data, at)? {
                    if key.starts_with("GNU.sparse.") {
                        self.next_sparse = true;
                    }
                    if kind == Ext::PaxGlobal {
                        continue;
                    }
                    match key.as_str() {
                        "path" => self.next_path = Some(value),
                        "size" => {
                            let size = value.trim().parse::<u64>().map_err(|_| {
                                corrupt(at, format!("pax size {value:?} is not a number"))
                            })?;
                            self.next_size = Some(size);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

fn sparse_error(name: &str, at: u64) -> ContainerError {
    ContainerError::Unsupported {
        format: Format::Tar,
        message: format!(
            "tar member {name:?} (header at offset {at}) is a GNU sparse member, which Preflight does not read; re-create the archive without --sparse, or extract the disk and check it"
        ),
    }
}

/// pax extended header records: `"%d %s=%s\n"`, the length counting the whole record.
fn pax_records(data: &[u8], at: u64) -> Result<Vec<(String, String)>, ContainerError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let bad = || corrupt(at, "malformed pax extended header record");
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(rest.get(..space).ok_or_else(bad)?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let record = rest.get(..len).ok_or_else(bad)?;
        if len <= space + 1 || record.last() != Some(&b'\n') {
            return Err(bad());
        }
        let body = record.get(space + 1..len - 1).ok_or_else(bad)?;
        let eq = body.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let key = String::from_utf8_lossy(body.get(..eq).unwrap_or(&[])).into_owned();
        let value = String::from_utf8_lossy(body.get(eq + 1..).unwrap_or(&[])).into_owned();
        out.push((key, value));
        rest = rest.get(len..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Lists a plain tar in place: one 512-byte read per header, member data skipped.
pub fn walk_in_place(file: &dyn ByteSource) -> Result<Walker, ContainerError> {
    let len = file.len();
    let mut w = Walker::new();
    let mut pos = 0u64;
    // Each turn moves at least one block forward, and headers are capped.
    while pos < len && !w.ended {
        let mut block = [0u8; 512];
        if len - pos < BLOCK {
            // GNU tar pads archives to whole records; stray bytes after a last member are not
            // a header.
            if w.members.is_empty() {
                return Err(corrupt(pos, "the tar archive is truncated inside a header"));
            }
            break;
        }
        file.read_at(pos, &mut block)?;
        let step = w.header(&block, pos)?;
        let data = pos + BLOCK;
        let skip = |n: u64, what: &str| -> Result<u64, ContainerError> {
            match padded(n).and_then(|p| data.checked_add(p)) {
                Some(next) if data.saturating_add(n) <= len => Ok(next),
                _ => Err(corrupt(
                    pos,
                    format!(
                        "{what} ({n} bytes at offset {data}) runs past the end of the file ({len} bytes): the archive is truncated"
                    ),
                )),
            }
        };
        pos = match step {
            Step::End => break,
            Step::Skip(n) => skip(n, "tar data")?,
            Step::Member(i) => {
                let (name, size) = match w.members.get(i) {
                    Some(m) => (m.name.clone(), m.size),
                    None => (String::new(), 0),
                };
                skip(size, &format!("tar member {name:?}"))?
            }
            Step::Extension(kind, size) => {
                let next = skip(size, "tar extension header")?;
                let bytes = read_vec(file, data, size, MAX_EXTENSION)?;
                w.extension(kind, &bytes, pos)?;
                next
            }
        };
    }
    Ok(w)
}

/// Which members a [`TarStream`] keeps in memory, and up to what size.
pub type CapturePolicy = fn(&str) -> Option<u64>;

enum State {
    Header {
        buf: Box<[u8; 512]>,
        have: usize,
    },
    Data {
        data_left: u64,
        pad_left: u64,
        capture: Option<usize>,
    },
    Ext {
        kind: Ext,
        at: u64,
        buf: Vec<u8>,
        size: usize,
        pad_left: u64,
    },
    Done,
}

/// Follows a tar stream fed in pieces (the output of a decompressor): the member list, and the
/// data of the members the policy asks for (small metadata members).
pub struct TarStream {
    pub walker: Walker,
    pos: u64,
    state: State,
    policy: CapturePolicy,
    /// Captured member data: (member index, bytes).
    pub captured: Vec<(usize, Vec<u8>)>,
    /// False once the first block was seen not to be a tar header.
    headers_seen: usize,
}

impl TarStream {
    pub fn new(policy: CapturePolicy) -> Self {
        TarStream {
            walker: Walker::new(),
            pos: 0,
            state: State::Header {
                buf: Box::new([0; 512]),
                have: 0,
            },
            policy,
            captured: Vec::new(),
            headers_seen: 0,
        }
    }

    /// True once the end-of-archive marker went by (the rest is padding).
    pub fn ended(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ContainerError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return Ok(()),
                State::Header { buf, have } => {
                    let n = (512 - *have).min(data.len());
                    if let (Some(dst), Some(src)) = (buf.get_mut(*have..*have + n), data.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    *have += n;
                    data = data.get(n..).unwrap_or(&[]);
                    self.pos += n as u64;
                    if *have == 512 {
                        let block = std::mem::replace(buf, Box::new([0; 512]));
                        self.on_header(&block)?;
                    }
                }
                State::Data {
                    data_left,
                    pad_left,
                    capture,
                } => {
                    if *data_left > 0 {
                        let n = (*data_left).min(data.len() as u64) as usize;
                        let chunk = data.get(..n).unwrap_or(&[]);
                        if let Some(c) = capture.and_then(|c| self.captured.get_mut(c)) {
                            c.1.extend_from_slice(chunk);
                        }
                        *data_left -= n as u64;
                        data = data.get(n..).unwrap_or(&[]);
                        self.pos += n as u64;
                    } else {
                        let n = (*pad_left).min(data.len() as u64) as usize;
                        *pad_left -= n as u64;
                        data = data.get(n..).unwrap_or(&[]);
                        self.pos += n as u64;
                    }
                    if *data_left == 0 && *pad_left == 0 {
                        self.state = State::Header {
                            buf: Box::new([0; 512]),
                            have: 0,
                        };
                    }
                }
                State::Ext {
                    kind,
                    at,
                    buf,
                    size,
                    pad_left,
                } => {
                    if buf.len() < *size {
                        let n = (*size - buf.len()).min(data.len());
                        buf.extend_from_slice(data.get(..n).unwrap_or(&[]));
                        data = data.get(n..).unwrap_or(&[]);
                        self.pos += n as u64;
                    } else {
                        let n = (*pad_left).min(data.len() as u64) as usize;
                        *pad_left -= n as u64;
                        data = data.get(n..).unwrap_or(&[]);
                        self.pos += n as u64;
                    }
                    if buf.len() == *size && *pad_left == 0 {
                        let (kind, at, bytes) = (*kind, *at, std::mem::take(buf));
                        self.walker.extension(kind, &bytes, at)?;
                        self.state = State::Header {
                            buf: Box::new([0; 512]),
                            have: 0,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn on_header(&mut self, block: &[u8; 512]) -> Result<(), ContainerError> {
        let at = self.pos - BLOCK;
        if self.headers_seen == 0 && block.get(257..262) != Some(b"ustar") {
            return Err(ContainerError::Unsupported {
                format: Format::Gzip,
                message: format!(
                    "the compressed data is not a tar archive (no ustar header at its start), so this is not a tar.gz .oci export; {DECOMPRESS_FIRST}"
                ),
            });
        }
        self.headers_seen += 1;
        let pad = |n: u64| padded(n).map_or(0, |p| p - n);
        self.state = match self.walker.header(block, at)? {
            Step::End => State::Done,
            Step::Skip(n) => State::Data {
                data_left: n,
                pad_left: pad(n),
                capture: None,
            },
            Step::Member(i) => {
                let (name, size) = match self.walker.members.get(i) {
                    Some(m) => (m.name.as_str(), m.size),
                    None => ("", 0),
                };
                let capture = match (self.policy)(name) {
                    Some(cap) if size <= cap => {
                        self.captured.push((i, Vec::with_capacity(size as usize)));
                        Some(self.captured.len() - 1)
                    }
                    _ => None,
                };
                State::Data {
                    data_left: size,
                    pad_left: pad(size),
                    capture,
                }
            }
            Step::Extension(kind, size) => State::Ext {
                kind,
                at,
                buf: Vec::with_capacity(size as usize),
                size: size as usize,
                pad_left: pad(size),
            },
        };
        if let State::Data {
            data_left: 0,
            pad_left: 0,
            ..
        } = self.state
        {
            self.state = State::Header {
                buf: Box::new([0; 512]),
                have: 0,
            };
        }
        Ok(())
    }

    /// The stream ended: complain if it ended inside a member.
    pub fn finish(&self) -> Result<(), ContainerError> {
        let at = self.pos;
        match &self.state {
            State::Done => Ok(()),
            State::Header { have: 0, .. } if self.headers_seen > 0 => Ok(()),
            State::Header { .. } if self.headers_seen == 0 => Err(ContainerError::Unsupported {
                format: Format::Gzip,
                message: format!(
                    "the compressed data is not a tar archive (too short), so this is not a tar.gz .oci export; {DECOMPRESS_FIRST}"
                ),
            }),
            State::Header { .. } => Err(corrupt(
                at,
                "the decompressed tar stream ends inside a header: the archive is truncated",
            )),
            State::Data { data_left, .. } if *data_left > 0 => Err(corrupt(
                at,
                format!(
                    "the decompressed tar stream ends {data_left} bytes before the end of a member: the archive is truncated"
                ),
            )),
            State::Data { .. } => Ok(()),
            State::Ext { .. } => Err(corrupt(
                at,
                "the decompressed tar stream ends inside an extension header: the archive is truncated",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preflight_io::MemSource;

    /// A ustar header for `name` of `size` bytes (type `kind`), checksum filled in.
    pub fn header(name: &str, size: u64, kind: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
        out.extend_from_slice(&header(name, data.len() as u64, kind));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    fn tar(members: &[(&str, &[u8], u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, d, k) in members {
            member(&mut out, n, d, *k);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    fn both(
        bytes: &[u8],
    ) -> (
        Result<Walker, ContainerError>,
        Result<TarStream, ContainerError>,
    ) {
        let a = walk_in_place(&MemSource(bytes.to_vec()));
        let mut s = TarStream::new(|n| n.ends_with(".json").then_some(100));
        // Feed in awkward pieces.
        let r = bytes
            .chunks(77)
            .try_for_each(|c| s.feed(c))
            .and_then(|()| s.finish())
            .map(|()| s);
        (a, r)
    }

    #[test]
    fn lists_members_with_pax_and_gnu_long_names() {
        let long = "d/".repeat(80) + "file.bin";
        // Record length counts its own three digits.
        let pax_path = format!("{} path={long}\n", long.len() + 7 + 3);
        let pax = format!("{} size=3\n", 10) + &pax_path;
        let bytes = tar(&[
            ("a.json", b"{\"x\":1}", b'0'),
            ("././@LongLink", format!("{long}\0").as_bytes(), b'L'),
            ("short", b"12345", b'0'),
            ("dir/", b"", b'5'),
            ("PaxHeader", pax.as_bytes(), b'x'),
            ("ignored", b"abc", b'0'),
        ]);
        let (a, s) = both(&bytes);
        let a = a.unwrap();
        let s = s.unwrap();
        let names: Vec<_> = a
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.size))
            .collect();
        assert_eq!(
            names,
            [
                ("a.json", 7),
                (long.as_str(), 5),
                ("dir/", 0),
                (long.as_str(), 3)
            ]
        );
        assert_eq!(s.walker.members, a.members);
        assert_eq!(s.captured, vec![(0, b"{\"x\":1}".to_vec())]);
        assert!(a.ended && s.ended());
    }

    #[test]
    fn base256_sizes_and_bad_checksums() {
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), Some(5));
        assert_eq!(
            number(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]),
            Some(1 << 33)
        );
        assert_eq!(number(&[0xff; 12]), None);
        assert_eq!(number(b"0000644 \0"), Some(0o644));
        assert_eq!(number(b"12x"), None);
        let mut bytes = tar(&[("a", b"x", b'0')]);
        bytes[0] ^= 1;
        let (a, s) = both(&bytes);
        for e in [a.unwrap_err(), s.err().unwrap()] {
            assert!(e.to_string().contains("checksum mismatch"), "{e}");
        }
    }

    #[test]
    fn sparse_truncated_and_not_a_tar() {
        let bytes = tar(&[("s", b"", b'S')]);
        let e = walk_in_place(&MemSource(bytes)).unwrap_err().to_string();
        assert!(e.contains("GNU sparse"), "{e}");
        let bytes = tar(&[("a", &[7u8; 5000], b'0')]);
        let cut = &bytes[..3000];
        let (a, s) = both(cut);
        let (a, s) = (a.unwrap_err().to_string(), s.err().unwrap().to_string());
        assert!(a.contains("runs past the end of the file"), "{a}");
        assert!(s.contains("truncated"), "{s}");
        let mut s = TarStream::new(|_| None);
        let e = s.feed(&[1u8; 600]).unwrap_err().to_string();
        assert!(e.contains("not a tar archive"), "{e}");
    }

    #[test]
    fn ustar_prefix_and_pax_sparse() {
        let mut h = header("f.vmdk", 0, b'0');
        h[345..348].copy_from_slice(b"dir");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut w = Walker::new();
        assert_eq!(w.header(&h, 0).unwrap(), Step::Member(0));
        assert_eq!(w.members[0].name, "dir/f.vmdk");
        let pax = "22 GNU.sparse.major=1\n";
        let bytes = tar(&[("PaxHeader", pax.as_bytes(), b'x'), ("disk", b"", b'0')]);
        let e = walk_in_place(&MemSource(bytes)).unwrap_err().to_string();
        assert!(e.contains("GNU sparse"), "{e}");
    }

    #[test]
    fn member_count_is_capped() {
        let mut w = Walker::new();
        let h = header("f", 0, b'0');
        let mut last = Ok(Step::End);
        for i in 0..=MAX_MEMBERS as u64 {
            last = w.header(&h, i * 512);
            if last.is_err() {
                break;
            }
        }
        assert!(
            last.unwrap_err()
                .to_string()
                .contains("more than 10000 members")
        );
    }
}
