//! The VMDK descriptor: the text that names the disk's extents and its database entries.
//! Specification: VMware "Virtual Disk Format 5.0", "The Descriptor File" — `key=value`
//! lines (values optionally in double quotes), `#` comments, extent lines
//! `ACCESS SECTORS TYPE ["FILENAME" [OFFSET]]`, and the disk database `ddb.* = "value"`.
//!
//! The parser never fails: a line it cannot read is kept as a problem for the report, so a
//! damaged descriptor still yields whatever it says correctly.

/// Where the descriptor text stops mattering: VMware and QEMU write 20 sectors at most in
/// sparse extents and a few hundred bytes in descriptor files.
pub const MAX_DESCRIPTOR: u64 = 64 * 1024;

/// One extent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentLine {
    /// `RW`, `RDONLY` or `NOACCESS`.
    pub access: String,
    pub sectors: u64,
    /// `SPARSE`, `FLAT`, `ZERO`, `VMFS`, `VMFSSPARSE`, `SESPARSE`, …
    pub kind: String,
    /// The extent's file (absent for `ZERO`).
    pub file: Option<String>,
    /// Start of the data inside a `FLAT` extent's file, in sectors.
    pub offset: Option<u64>,
    /// The line as written (trimmed), for the report.
    pub text: String,
}

/// What a descriptor says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// `key=value` entries in file order, quotes removed (`createType`, `CID`, `ddb.*`, …).
    pub entries: Vec<(String, String)>,
    pub extents: Vec<ExtentLine>,
    /// Lines that are neither comments, entries nor valid extent lines.
    pub problems: Vec<String>,
    /// The text was not valid UTF-8 (it was decoded with replacement characters).
    pub not_utf8: bool,
}

impl Descriptor {
    /// Parse descriptor bytes: the text ends at the first NUL (embedded descriptors are
    /// zero-padded to whole sectors); CR LF and LF line ends are both accepted.
    pub fn parse(bytes: &[u8]) -> Descriptor {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let bytes = bytes.get(..end).unwrap_or_default();
        let (text, not_utf8) = match std::str::from_utf8(bytes) {
            Ok(t) => (std::borrow::Cow::Borrowed(t), false),
            Err(_) => (String::from_utf8_lossy(bytes), true),
        };
        let mut d = Descriptor {
            not_utf8,
            ..Descriptor::default()
        };
        for raw in text.split('\n') {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(extent) = parse_extent(line) {
                d.extents.push(extent);
            } else if let Some((key, value)) = line.split_once('=') {
                let key = key.trim();
                if key.is_empty() || key.contains(char::is_whitespace) {
                    d.problems
                        .push(format!("unreadable descriptor line: {line}"));
                    continue;
                }
                d.entries
                    .push((key.to_string(), unquote(value.trim()).to_string()));
            } else {
                d.problems
                    .push(format!("unreadable descriptor line: {line}"));
            }
        }
        d
    }

    /// The value of the first entry named `key` (names compare case-insensitively, as
    /// VMware's own tools do).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// True when the text holds nothing at all (an extent of a split set has its descriptor
    /// area zeroed).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.extents.is_empty() && self.problems.is_empty()
    }
}

/// `"value"` → `value`; an unbalanced quote is kept as written.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

const ACCESS: [&str; 3] = ["RW", "RDONLY", "NOACCESS"];

/// `RW 20480 SPARSE "disk.vmdk"`, `RW 20480 FLAT "disk-flat.vmdk" 0`, `RW 2048 ZERO`.
/// None when the line does not start like an extent line (it may be an entry).
fn parse_extent(line: &str) -> Option<ExtentLine> {
    let (access, after) = split_word(line);
    if !ACCESS.iter().any(|a| a.eq_ignore_ascii_case(access)) {
        return None;
    }
    let (sectors, after) = split_word(after);
    let sectors: u64 = sectors.parse().ok()?;
    let (kind, after) = split_word(after);
    if kind.is_empty() {
        return None;
    }
    let (file, after) = if let Some(quoted) = after.strip_prefix('"') {
        let close = quoted.find('"')?;
        (
            Some(quoted.get(..close)?.to_string()),
            quoted.get(close + 1..)?.trim_start(),
        )
    } else if after.is_empty() {
        (None, after)
    } else {
        // An unquoted file name (some tools write them): up to the next space.
        let (name, after) = split_word(after);
        (Some(name.to_string()), after)
    };
    let offset = if after.is_empty() {
        None
    } else {
        let (word, tail) = split_word(after);
        if !tail.is_empty() {
            return None;
        }
        Some(word.parse().ok()?)
    };
    Some(ExtentLine {
        access: access.to_ascii_uppercase(),
        sectors,
        kind: kind.to_ascii_uppercase(),
        file,
        offset,
        text: line.to_string(),
    })
}

/// The first whitespace-separated word of `s` and the rest, trimmed at its start.
fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i..).unwrap_or_default().trim_start(),
        ),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "# Disk DescriptorFile\nversion=1\nCID=87db444e\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\n# Extent description\nRW 20480 SPARSE \"disk.vmdk\"\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.geometry.cylinders = \"20\"\nddb.adapterType = \"ide\"\n";

    #[test]
    fn qemu_descriptor() {
        let d = Descriptor::parse(QEMU.as_bytes());
        assert_eq!(d.get("version"), Some("1"));
        assert_eq!(d.get("CID"), Some("87db444e"));
        assert_eq!(d.get("createtype"), Some("monolithicSparse"));
        assert_eq!(d.get("ddb.adapterType"), Some("ide"));
        assert_eq!(d.get("ddb.virtualHWVersion"), Some("4"));
        assert_eq!(
            d.extents,
            vec![ExtentLine {
                access: "RW".into(),
                sectors: 20480,
                kind: "SPARSE".into(),
                file: Some("disk.vmdk".into()),
                offset: None,
                text: "RW 20480 SPARSE \"disk.vmdk\"".into(),
            }]
        );
        assert!(d.problems.is_empty() && !d.not_utf8);
    }

    #[test]
    fn crlf_odd_spacing_and_padding() {
        let text = b"# Disk DescriptorFile\r\n  CID = 12345678 \r\ncreateType=\"twoGbMaxExtentFlat\"\r\nRW   4192256\tFLAT  \"my disk-f001.vmdk\"   0\r\nRDONLY 100 ZERO\r\nNOACCESS 8 VMFS \"x.vmdk\"\r\n\0\0\0garbage after the NUL";
        let d = Descriptor::parse(text);
        assert_eq!(d.get("CID"), Some("12345678"));
        assert_eq!(d.extents.len(), 3);
        let e = &d.extents[0];
        assert_eq!(
            (e.sectors, e.kind.as_str(), e.file.as_deref(), e.offset),
            (4192256, "FLAT", Some("my disk-f001.vmdk"), Some(0))
        );
        assert_eq!(
            (d.extents[1].kind.as_str(), d.extents[1].file.as_ref()),
            ("ZERO", None)
        );
        assert_eq!(d.extents[1].access, "RDONLY");
        assert_eq!(d.extents[2].file.as_deref(), Some("x.vmdk"));
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn comments_quotes_and_bad_lines() {
        let text = "# comment = not an entry\nparentFileNameHint=\"../base disk.vmdk\"\nkey=\"unbalanced\nRW notanumber SPARSE \"a.vmdk\"\nRW 10 SPARSE \"unterminated\njust words\n";
        let d = Descriptor::parse(text.as_bytes());
        assert_eq!(d.get("parentFileNameHint"), Some("../base disk.vmdk"));
        assert_eq!(d.get("key"), Some("\"unbalanced"));
        assert!(d.extents.is_empty());
        assert_eq!(d.problems.len(), 3, "{:?}", d.problems);
    }

    #[test]
    fn not_utf8_is_decoded_lossily() {
        let d =
            Descriptor::parse(b"createType=\"monolithicSparse\"\nRW 8 SPARSE \"caf\xe9.vmdk\"\n");
        assert!(d.not_utf8);
        assert_eq!(d.extents.len(), 1);
        assert_eq!(d.extents[0].file.as_deref(), Some("caf\u{fffd}.vmdk"));
    }

    #[test]
    fn empty_and_zeroed() {
        assert!(Descriptor::parse(&[0u8; 512]).is_empty());
        assert!(Descriptor::parse(b"").is_empty());
        assert!(Descriptor::parse(b"\n\n# only comments\n").is_empty());
    }
}
