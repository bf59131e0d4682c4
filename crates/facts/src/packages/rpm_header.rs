//! The RPM header blob as the package databases store it (rpm.org, "RPM file format",
//! section "Header Structure"; the same layout as a package file's header without its 8-byte
//! intro of magic `8e ad e8 01` and 4 reserved bytes):
//!
//! ```text
//! il: u32 BE   number of index entries
//! dl: u32 BE   length of the data store
//! il × { tag: u32, type: u32, offset: i32, count: u32 }   (16 bytes each, BE)
//! dl bytes of data store
//! ```
//!
//! Types (rpm.org "Header Structure" / tags documentation): 0 NULL, 1 CHAR, 2 INT8, 3 INT16,
//! 4 INT32, 5 INT64, 6 STRING, 7 BIN, 8 STRING_ARRAY, 9 I18NSTRING. Every count and offset is
//! checked against the blob before use; the header is untrusted.

/// rpm refuses headers with more index entries than this (its HEADER_TAGS_MAX, 0xffff).
pub const MAX_INDEX_ENTRIES: u32 = 0xffff;
/// rpm refuses a data store larger than this (its HEADER_DATA_MAX, 256 MiB).
pub const MAX_DATA_LEN: u32 = 0x0fff_ffff;

pub const TAG_NAME: u32 = 1000;
pub const TAG_VERSION: u32 = 1001;
pub const TAG_RELEASE: u32 = 1002;
pub const TAG_EPOCH: u32 = 1003;
pub const TAG_BUILDTIME: u32 = 1006;
pub const TAG_INSTALLTIME: u32 = 1008;
pub const TAG_VENDOR: u32 = 1011;
pub const TAG_ARCH: u32 = 1022;
pub const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Longest string we take from a header: names, versions and vendors are short.
const MAX_STRING: usize = 4096;

/// A parsed header: the index, and the store it points into.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    index: &'a [u8],
    store: &'a [u8],
}

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tag: u32,
    pub ty: u32,
    pub offset: u32,
    pub count: u32,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    /// Check the intro and the sizes; `Err` says what is wrong and at which byte. Trailing
    /// bytes after the store are allowed (BDB/ndb pad blobs).
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, String> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(format!("header of {} bytes: shorter than 8", blob.len()));
        };
        if il == 0 || il > MAX_INDEX_ENTRIES {
            return Err(format!(
                "header index count {il} at byte 0: not 1..={MAX_INDEX_ENTRIES}"
            ));
        }
        if dl > MAX_DATA_LEN {
            return Err(format!(
                "header data length {dl} at byte 4: over {MAX_DATA_LEN}"
            ));
        }
        let index_end = 8 + 16 * il as usize;
        let end = index_end + dl as usize;
        if end > blob.len() {
            return Err(format!(
                "header declares {end} bytes ({il} entries, {dl} data) but has {}",
                blob.len()
            ));
        }
        Ok(Header {
            index: &blob[8..index_end],
            store: &blob[index_end..end],
        })
    }

    /// The index entries in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.index.chunks_exact(16).map(|e| Entry {
            tag: u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            ty: u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
            offset: u32::from_be_bytes([e[8], e[9], e[10], e[11]]),
            count: u32::from_be_bytes([e[12], e[13], e[14], e[15]]),
        })
    }

    fn find(&self, tag: u32) -> Option<Entry> {
        self.entries().find(|e| e.tag == tag)
    }

    /// A string tag (STRING, or the first of a STRING_ARRAY / I18NSTRING), NUL-terminated
    /// inside the store; `None` if absent, of another type, unterminated or not UTF-8.
    pub fn string(&self, tag: u32) -> Option<String> {
        let e = self.find(tag)?;
        if !matches!(e.ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) || e.count == 0 {
            return None;
        }
        let rest = self.store.get(e.offset as usize..)?;
        let len = rest.iter().take(MAX_STRING + 1).position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..len]).ok().map(str::to_string)
    }

    /// The first value of an INT32 tag (big-endian in the store).
    pub fn int32(&self, tag: u32) -> Option<u32> {
        let e = self.find(tag)?;
        if e.ty != TYPE_INT32 || e.count == 0 {
            return None;
        }
        be32(self.store, e.offset as usize)
    }
}

/// What the package list needs from one header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFields {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: Option<String>,
    pub install_time: Option<u32>,
    pub build_time: Option<u32>,
    pub vendor: Option<String>,
    pub source_rpm: Option<String>,
}

impl HeaderFields {
    /// `EPOCHNUM:VERSION-RELEASE`, as `rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}'`.
    pub fn evr(&self) -> String {
        format!(
            "{}:{}-{}",
            self.epoch.unwrap_or(0),
            self.version,
            self.release
        )
    }
}

/// Parse a blob and take the fields of a package. NAME, VERSION and RELEASE are required.
pub fn fields(blob: &[u8]) -> Result<HeaderFields, String> {
    let h = Header::parse(blob)?;
    let need = |tag: u32, what: &str| {
        h.string(tag)
            .ok_or_else(|| format!("header without a readable {what} (tag {tag})"))
    };
    Ok(HeaderFields {
        name: need(TAG_NAME, "NAME")?,
        version: need(TAG_VERSION, "VERSION")?,
        release: need(TAG_RELEASE, "RELEASE")?,
        epoch: h.int32(TAG_EPOCH),
        arch: h.string(TAG_ARCH),
        install_time: h.int32(TAG_INSTALLTIME),
        build_time: h.int32(TAG_BUILDTIME),
        vendor: h.string(TAG_VENDOR),
        source_rpm: h.string(TAG_SOURCERPM),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a blob from (tag, type, data) entries; strings are given with their NUL.
    pub(crate) fn blob(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut store = Vec::new();
        let mut index = Vec::new();
        for &(tag, ty, count, data) in entries {
            if ty == TYPE_INT32 {
                while store.len() % 4 != 0 {
                    store.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(store.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            store.extend_from_slice(data);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(store.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(store);
        out
    }

    pub(crate) fn package(name: &str, epoch: Option<u32>, v: &str, r: &str) -> Vec<u8> {
        let n = format!("{name}\0");
        let v = format!("{v}\0");
        let r = format!("{r}\0");
        let e = epoch.map(|e| e.to_be_bytes());
        let mut entries: Vec<(u32, u32, u32, &[u8])> = vec![
            (TAG_NAME, TYPE_STRING, 1, n.as_bytes()),
            (TAG_VERSION, TYPE_STRING, 1, v.as_bytes()),
            (TAG_RELEASE, TYPE_STRING, 1, r.as_bytes()),
            (TAG_ARCH, TYPE_STRING, 1, b"x86_64\0"),
            (TAG_INSTALLTIME, TYPE_INT32, 1, &[0x60, 0, 0, 1]),
        ];
        if let Some(e) = &e {
            entries.push((TAG_EPOCH, TYPE_INT32, 1, e));
        }
        blob(&entries)
    }

    #[test]
    fn reads_fields() {
        let f = fields(&package("bash", Some(2), "5.1", "2.el9")).unwrap();
        assert_eq!(f.name, "bash");
        assert_eq!(f.evr(), "2:5.1-2.el9");
        assert_eq!(f.arch.as_deref(), Some("x86_64"));
        assert_eq!(f.install_time, Some(0x6000_0001));
        assert_eq!(f.vendor, None);
        let f = fields(&package("a", None, "1", "1")).unwrap();
        assert_eq!(f.evr(), "0:1-1");
    }

    #[test]
    fn hostile_headers_are_errors() {
        let good = package("bash", None, "5.1", "2");
        assert!(fields(&[]).is_err());
        assert!(fields(&good[..good.len() - 1]).is_err());
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(fields(&huge).is_err());
        // Offsets past the store, unterminated strings.
        let mut bad = good.clone();
        bad[8 + 8..8 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(fields(&bad).is_err());
        let mut unterminated = good;
        let n = unterminated.len();
        unterminated[n - 1] = b'x';
        let _ = fields(&unterminated);
        // Every truncation and single-byte corruption is handled without a panic.
        let good = package("bash", Some(1), "5.1", "2");
        for i in 0..good.len() {
            let _ = fields(&good[..i]);
            let mut c = good.clone();
            c[i] ^= 0xff;
            let _ = fields(&c);
        }
    }
}
