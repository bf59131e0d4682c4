//! A read-only reader of the SQLite 3 database file format, just enough to walk the rows of
//! one rowid table: rpm's `rpmdb.sqlite` keeps each installed package as a row of `Packages`
//! (`hnum INTEGER PRIMARY KEY, blob BLOB`).
//!
//! Facts used, all from "Database File Format" (sqlite.org/fileformat2.html):
//! - §1.3 the 100-byte header: magic `SQLite format 3\0`, page size at 16 (u16 BE, 1 = 65536),
//!   reserved bytes per page at 20, database size in pages at 28 (valid only if the change
//!   counter at 24 equals the version-valid-for number at 92), text encoding at 56;
//! - §1.6 b-tree pages: type byte 0x05 interior table / 0x0d leaf table (0x02/0x0a index),
//!   cell count at 3, right-most pointer at 8 on interior pages, the cell pointer array after
//!   the 8- or 12-byte page header; page 1's b-tree header starts after the file header;
//! - table leaf cell: varint payload length, varint rowid, payload, u32 first overflow page;
//!   table interior cell: u32 left child, varint rowid;
//! - overflow: with usable size U, X = U−35, M = ((U−12)×32/255)−23, K = M+((P−M) mod (U−4));
//!   the local part is P if P ≤ X, else K if K ≤ X, else M; overflow pages hold a u32 next
//!   page and U−4 bytes;
//! - §1.7 varints: 1–9 bytes, big-endian, 7 bits per byte, all 8 bits of a ninth byte;
//! - §2.1 record format: header length varint, serial types (0 NULL, 1–6 big-endian integers
//!   of 1, 2, 3, 4, 6, 8 bytes, 7 float, 8/9 the constants 0/1, even N ≥ 12 a blob of
//!   (N−12)/2 bytes, odd N ≥ 13 text of (N−13)/2 bytes);
//! - §2.6 `sqlite_schema` (page 1): columns type, name, tbl_name, rootpage, sql;
//! - §4 the write-ahead log: 32-byte header (magic 0x377f0682/0x377f0683 choosing the
//!   checksum's byte order, page size at 8, salts at 16/20, checksum at 24/28), frames of a
//!   24-byte header (page number, database size after a commit or 0, salts, cumulative
//!   checksum) and a page; only frames up to the last valid commit frame count (§4.4.1).
//!
//! The freelist, indexes and pointer-map pages are never read. Random access is needed (a
//! b-tree's pages are anywhere in the file), so the caller passes the whole file, read with a
//! size cap.

use std::collections::{HashMap, HashSet};

/// SQLite's own b-tree depth limit (BTCURSOR_MAX_DEPTH); deeper trees are corrupt.
const MAX_DEPTH: usize = 20;
/// One row's payload larger than this is not read (rpm headers are well under 16 MiB).
pub const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// Warnings kept per table walk.
const MAX_WARNINGS: usize = 100;
/// Columns decoded per record.
const MAX_COLUMNS: usize = 64;

/// A problem and the byte offset in the file (or WAL) where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteError {
    pub offset: u64,
    pub what: String,
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (byte {})", self.what, self.offset)
    }
}

fn err<T>(offset: u64, what: impl Into<String>) -> Result<T, SqliteError> {
    Err(SqliteError {
        offset,
        what: what.into(),
    })
}

/// A column value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
}

/// One `sqlite_schema` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEntry {
    pub kind: String,
    pub name: String,
    pub table: String,
    pub rootpage: u32,
    pub sql: String,
}

/// An opened database image: the file's bytes plus, if a WAL was applied, the newer pages.
#[derive(Debug)]
pub struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
    pages: u32,
    wal_pages: HashMap<u32, &'a [u8]>,
}

/// Read a varint at `at`: (value, length).
pub fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at.checked_add(i)?)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// What walking a table gave: rows in rowid order, and what was skipped and why.
#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<(i64, Vec<Value>)>,
    pub warnings: Vec<String>,
    /// Payload bytes still allowed: a legitimate table stores each byte once, so a walk
    /// never needs more than the file's size; hostile overflow chains that share pages would.
    budget: u64,
    /// Warnings beyond [`MAX_WARNINGS`], counted only.
    dropped: u64,
}

impl Rows {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.dropped += 1;
        }
    }
}

impl<'a> Db<'a> {
    /// Check the header. `Err` if this is not a SQLite 3 file we can read.
    pub fn open(data: &'a [u8]) -> Result<Db<'a>, SqliteError> {
        if data.len() < 100 || &data[..16] != b"SQLite format 3\0" {
            return err(0, "not a SQLite 3 database (magic)");
        }
        let raw = be16(data, 16).unwrap_or(0);
        let page_size = if raw == 1 { 65536 } else { usize::from(raw) };
        if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
            return err(
                16,
                format!("page size {raw} is not a power of two in 512..=65536"),
            );
        }
        let reserved = usize::from(data[20]);
        let usable = page_size - reserved;
        if usable < 480 {
            return err(
                20,
                format!("{reserved} reserved bytes leave fewer than 480 per page"),
            );
        }
        let encoding = be32(data, 56).unwrap_or(0);
        if encoding > 1 {
            return err(
                56,
                format!("text encoding {encoding} (UTF-16) is not supported"),
            );
        }
        let in_file = u32::try_from(data.len() / page_size).unwrap_or(u32::MAX);
        let header_pages = be32(data, 28).unwrap_or(0);
        let valid = be32(data, 24) == be32(data, 92) && header_pages != 0;
        let pages = if valid {
            header_pages.min(in_file)
        } else {
            in_file
        };
        Ok(Db {
            data,
            page_size,
            usable,
            pages,
            wal_pages: HashMap::new(),
        })
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Overlay the committed frames of a write-ahead log (§4). Returns how many frames were
    /// applied, or why the log was not used (then the database is read as it is).
    pub fn apply_wal(&mut self, wal: &'a [u8]) -> Result<usize, SqliteError> {
        if wal.len() < 32 {
            return err(0, "WAL shorter than its 32-byte header");
        }
        let magic = be32(wal, 0).unwrap_or(0);
        let big = match magic {
            0x377f_0682 => false,
            0x377f_0683 => true,
            _ => return err(0, format!("WAL magic {magic:#x} is not 0x377f0682/3")),
        };
        let psize = be32(wal, 8).unwrap_or(0) as usize;
        if psize != self.page_size {
            return err(
                8,
                format!("WAL page size {psize}, database {}", self.page_size),
            );
        }
        let (salt1, salt2) = (be32(wal, 16), be32(wal, 20));
        let mut sum = wal_checksum(big, &wal[..24], (0, 0));
        if Some(sum.0) != be32(wal, 24) || Some(sum.1) != be32(wal, 28) {
            return err(24, "WAL header checksum mismatch");
        }
        let frame = 24 + psize;
        let mut pending: Vec<(u32, &'a [u8])> = Vec::new();
        let mut applied = 0;
        let mut at = 32usize;
        while at + frame <= wal.len() {
            let fh = &wal[at..at + 24];
            if be32(fh, 8) != salt1 || be32(fh, 12) != salt2 {
                break;
            }
            sum = wal_checksum(big, &fh[..8], sum);
            let page = &wal[at + 24..at + frame];
            sum = wal_checksum(big, page, sum);
            if Some(sum.0) != be32(fh, 16) || Some(sum.1) != be32(fh, 20) {
                break;
            }
            let pgno = be32(fh, 0).unwrap_or(0);
            if pgno == 0 {
                break;
            }
            pending.push((pgno, page));
            let commit_size = be32(fh, 4).unwrap_or(0);
            if commit_size != 0 {
                applied += pending.len();
                for (n, p) in pending.drain(..) {
                    self.wal_pages.insert(n, p);
                }
                self.pages = commit_size;
            }
            at += frame;
        }
        Ok(applied)
    }

    /// Page `n` (1-based) and its offset in the file (for messages).
    fn page(&self, n: u32) -> Result<(&'a [u8], u64), SqliteError> {
        let off = u64::from(n.saturating_sub(1)) * self.page_size as u64;
        if n == 0 || n > self.pages {
            return err(off, format!("page {n} outside 1..={}", self.pages));
        }
        if let Some(p) = self.wal_pages.get(&n) {
            return Ok((p, off));
        }
        let start = (n as usize - 1).checked_mul(self.page_size);
        match start.and_then(|st| self.data.get(st..st.checked_add(self.page_size)?)) {
            Some(p) => Ok((p, off)),
            None => err(off, format!("page {n} past the end of the file")),
        }
    }

    /// The rows of `sqlite_schema`.
    pub fn schema(&self) -> Result<Vec<SchemaEntry>, SqliteError> {
        let rows = self.table(1)?;
        if let Some(w) = rows.warnings.first() {
            return err(0, format!("sqlite_schema: {w}"));
        }
        let text = |v: Option<&Value>| v.and_then(Value::as_text).unwrap_or("").to_string();
        Ok(rows
            .rows
            .into_iter()
            .map(|(_, cols)| SchemaEntry {
                kind: text(cols.first()),
                name: text(cols.get(1)),
                table: text(cols.get(2)),
                rootpage: match cols.get(3) {
                    Some(Value::Int(n)) => u32::try_from(*n).unwrap_or(0),
                    _ => 0,
                },
                sql: text(cols.get(4)),
            })
            .collect())
    }

    /// Root page of the table named `name` (ASCII case-insensitive, as SQLite compares).
    pub fn table_root(&self, name: &str) -> Result<Option<u32>, SqliteError> {
        Ok(self
            .schema()?
            .into_iter()
            .find(|e| e.kind == "table" && e.name.eq_ignore_ascii_case(name))
            .map(|e| e.rootpage))
    }

    /// Walk the rowid table rooted at `root`. A damaged subtree is skipped with a warning;
    /// `Err` only if the root itself is unusable. Each page is visited at most once.
    pub fn table(&self, root: u32) -> Result<Rows, SqliteError> {
        let mut out = Rows {
            budget: (self.data.len() as u64)
                .saturating_add(self.wal_pages.len() as u64 * self.page_size as u64),
            ..Rows::default()
        };
        let mut seen = HashSet::new();
        let (first, off) = self.page(root)?;
        let hdr = if root == 1 { 100 } else { 0 };
        if !matches!(first.get(hdr), Some(0x05 | 0x0d)) {
            return err(
                off + hdr as u64,
                format!("page {root} is not a table b-tree page"),
            );
        }
        // Depth-first, children in key order: a stack of (page, depth), pushed in reverse.
        let mut stack = vec![(root, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            if let Err(e) = self.visit(n, depth, &mut seen, &mut stack, &mut out) {
                out.warn(e.to_string());
            }
        }
        if out.warnings.len() > MAX_WARNINGS {
            let more = out.warnings.len() - MAX_WARNINGS;
            out.warnings.truncate(MAX_WARNINGS);
            out.warn(format!("{more} more problems in this table"));
        }
        Ok(out)
    }

    fn visit(
        &self,
        n: u32,
        depth: usize,
        seen: &mut HashSet<u32>,
        stack: &mut Vec<(u32, usize)>,
        out: &mut Rows,
    ) -> Result<(), SqliteError> {
        let (page, off) = self.page(n)?;
        if !seen.insert(n) {
            return err(off, format!("page {n} reached twice (a cycle)"));
        }
        if depth > MAX_DEPTH {
            return err(off, format!("b-tree deeper than {MAX_DEPTH}"));
        }
        let hdr = if n == 1 { 100 } else { 0 };
        let kind = page[hdr];
        let cells = usize::from(be16(page, hdr + 3).unwrap_or(0));
        let (ptrs, interior) = match kind {
            0x0d => (hdr + 8, false),
            0x05 => (hdr + 12, true),
            _ => {
                return err(
                    off + hdr as u64,
                    format!("page {n}: type {kind:#04x}, not a table page"),
                );
            }
        };
        if ptrs + 2 * cells > self.usable {
            return err(
                off + hdr as u64 + 3,
                format!("page {n}: {cells} cells do not fit"),
            );
        }
        let cell_at = |i: usize| usize::from(be16(page, ptrs + 2 * i).unwrap_or(0));
        if interior {
            let right = be32(page, hdr + 8).unwrap_or(0);
            stack.push((right, depth + 1));
            for i in (0..cells).rev() {
                let c = cell_at(i);
                match be32(page, c) {
                    Some(child) if c >= ptrs && c < self.usable => stack.push((child, depth + 1)),
                    _ => {
                        out.warn(format!(
                            "page {n} cell {i}: pointer {c} outside the page (byte {})",
                            off + (ptrs + 2 * i) as u64
                        ));
                    }
                }
            }
            return Ok(());
        }
        for i in 0..cells {
            let c = cell_at(i);
            match self.leaf_cell(page, c, off, &mut out.budget) {
                Ok(row) => out.rows.push(row),
                Err(e) => out.warn(format!("page {n} cell {i}: {e}")),
            }
        }
        Ok(())
    }

    fn leaf_cell(
        &self,
        page: &[u8],
        c: usize,
        off: u64,
        budget: &mut u64,
    ) -> Result<(i64, Vec<Value>), SqliteError> {
        let at = off + c as u64;
        if c >= self.usable {
            return err(at, "cell pointer outside the page");
        }
        let Some((plen, l1)) = varint(page, c) else {
            return err(at, "truncated payload length");
        };
        let Some((rowid, l2)) = varint(page, c + l1) else {
            return err(at, "truncated rowid");
        };
        if plen > MAX_PAYLOAD {
            return err(at, format!("payload of {plen} bytes, over {MAX_PAYLOAD}"));
        }
        if plen > *budget {
            return err(at, "payloads add up to more than the file holds");
        }
        *budget -= plen;
        let p = plen as usize;
        let u = self.usable;
        let x = u - 35;
        let local = if p <= x {
            p
        } else {
            let m = ((u - 12) * 32 / 255) - 23;
            let k = m + ((p - m) % (u - 4));
            if k <= x { k } else { m }
        };
        let start = c + l1 + l2;
        let Some(local_bytes) = page
            .get(start..start + local)
            .filter(|_| start + local <= u)
        else {
            return err(
                at,
                format!("local payload of {local} bytes runs off the page"),
            );
        };
        let mut payload = Vec::with_capacity(p);
        payload.extend_from_slice(local_bytes);
        if local < p {
            let Some(mut next) = be32(page, start + local) else {
                return err(at, "missing overflow page number");
            };
            // Each overflow page carries u−4 bytes: the chain can be no longer than this.
            let mut budget = (p - local).div_ceil(u - 4);
            while payload.len() < p {
                if budget == 0 {
                    return err(at, "overflow chain longer than its payload");
                }
                budget -= 1;
                let (ov, ovoff) = self.page(next).map_err(|e| SqliteError {
                    offset: at,
                    what: format!("overflow: {}", e.what),
                })?;
                let take = (p - payload.len()).min(u - 4);
                payload.extend_from_slice(&ov[4..4 + take]);
                next = be32(ov, 0).unwrap_or(0);
                if payload.len() < p && next == 0 {
                    return err(ovoff, "overflow chain ends early");
                }
            }
        }
        let cols = record(&payload).map_err(|what| SqliteError { offset: at, what })?;
        Ok((rowid as i64, cols))
    }
}

/// The WAL checksum (§4.4.1) over `data` (a multiple of 8 bytes), continuing from `s`.
fn wal_checksum(big: bool, data: &[u8], s: (u32, u32)) -> (u32, u32) {
    let (mut s0, mut s1) = s;
    for w in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        s0 = s0.wrapping_add(word(&w[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&w[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

/// Decode a record (§2.1).
pub fn record(payload: &[u8]) -> Result<Vec<Value>, String> {
    let (hlen, l) = varint(payload, 0).ok_or("truncated record header length")?;
    let hlen = usize::try_from(hlen).map_err(|_| "record header too long")?;
    if hlen > payload.len() || hlen < l {
        return Err(format!(
            "record header of {hlen} bytes in a {}-byte payload",
            payload.len()
        ));
    }
    let mut types = Vec::new();
    let mut at = l;
    while at < hlen {
        if types.len() >= MAX_COLUMNS {
            return Err(format!("more than {MAX_COLUMNS} columns"));
        }
        let (t, n) = varint(&payload[..hlen], at).ok_or("truncated serial type")?;
        types.push(t);
        at += n;
    }
    let mut body = hlen;
    let mut cols = Vec::with_capacity(types.len());
    for t in types {
        let len = match t {
            0 | 8 | 9 => 0,
            1..=4 => t as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(format!("reserved serial type {t}")),
            n => usize::try_from((n - 12) / 2).map_err(|_| "column too long")?,
        };
        let bytes = payload
            .get(body..body.checked_add(len).ok_or("column too long")?)
            .ok_or_else(|| format!("column of {len} bytes runs past the payload"))?;
        body += len;
        let int = || {
            let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                -1
            } else {
                0
            };
            for &b in bytes {
                v = (v << 8) | i64::from(b);
            }
            v
        };
        cols.push(match t {
            0 => Value::Null,
            1..=6 => Value::Int(int()),
            7 => Value::Float(f64::from_bits(int() as u64)),
            8 => Value::Int(0),
            9 => Value::Int(1),
            n if n % 2 == 0 => Value::Blob(bytes.to_vec()),
            _ => Value::Text(bytes.to_vec()),
        });
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05], 0), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9], 0), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81], 0), None);
    }

    #[test]
    fn records() {
        // header 4 bytes: len=4, NULL, int8, text(3)
        let r = record(&[4, 0, 1, 19, 0xfe, b'a', b'b', b'c']).unwrap();
        assert_eq!(
            r,
            vec![Value::Null, Value::Int(-2), Value::Text(b"abc".to_vec())]
        );
        assert!(record(&[4, 0, 1, 19, 0xfe, b'a']).is_err());
        assert!(record(&[200]).is_err());
    }

    #[test]
    fn hostile_files_do_not_panic() {
        let mut f = b"SQLite format 3\0".to_vec();
        f.resize(1024, 0);
        f[16] = 2; // page size 512
        f[17] = 0;
        f[100] = 0x05; // interior page pointing at itself
        f[100 + 8..100 + 12].copy_from_slice(&1u32.to_be_bytes());
        let db = Db::open(&f).unwrap();
        let rows = db.table(1).unwrap();
        assert!(rows.rows.is_empty());
        assert!(!rows.warnings.is_empty());
        for i in 0..f.len() {
            let mut c = f.clone();
            c[i] ^= 0xa5;
            if let Ok(db) = Db::open(&c) {
                let _ = db.schema();
                let _ = db.table(2);
            }
        }
    }
}
