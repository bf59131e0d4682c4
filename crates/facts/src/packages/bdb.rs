//! A read-only reader of Berkeley DB hash files, enough for rpm's `Packages` (RHEL/OL/CentOS
//! 7–8): key = a 4-byte header number, value = the header blob.
//!
//! Facts used (Berkeley DB reference guide and the on-disk layout in `db_page.h`):
//! - page 0 is the hash meta page: the generic meta header has the magic at byte 12
//!   (0x00061561 for hash; its byte order gives the file's byte order), the page size at 20,
//!   the encryption algorithm at 24, the page type at 25 (8 = hash meta), meta flags at 26
//!   (bit 0: page checksums), the last page number at 32;
//! - every page starts with a 26-byte header: pgno at 8, next_pgno at 16, entry count at 20, hf_offset at
//!   22, level at 24, type at 25; checksummed files add a 6-byte checksum
//!   area after it (20 more bytes of MAC and IV for encrypted ones, which we refuse);
//! - hash pages (type 13, or 2 for the older unsorted ones) carry an array of u16 item offsets
//!   after the header; items come in key/data pairs; an item's length is the distance to the
//!   previous item's offset (the page size for the first); its first byte is its kind:
//!   1 H_KEYDATA (bytes follow), 3 H_OFFPAGE (3 unused bytes, u32 first overflow page, u32
//!   total length), 2/4 duplicates (not used by rpm);
//! - overflow pages (type 7) hold hf_offset bytes of data after the header and chain through
//!   next_pgno.
//!
//! Rather than following bucket chains from the meta page's spares table, every page is
//! scanned once and each hash page's pairs are taken: freed pages are re-initialised as
//! invalid (type 0) by Berkeley DB, so live pairs are exactly those on hash pages. The
//! reader needs random access for overflow chains, so it takes the whole file.

/// Hash database magic (`DB_HASHMAGIC`).
const HASH_MAGIC: u32 = 0x0006_1561;
/// B-tree magic, named in the error when a btree file is found instead.
const BTREE_MAGIC: u32 = 0x0005_3162;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;
const PAGE_HEADER: usize = 26;
const CHKSUM_AREA: usize = 6;
/// Largest value accepted (rpm headers are well under this).
pub const MAX_VALUE: u64 = 64 * 1024 * 1024;
/// Warnings kept per file.
const MAX_WARNINGS: usize = 100;

/// A key/value pair and the byte offset of the page where it was found.
#[derive(Debug, Clone)]
pub struct Pair {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub offset: u64,
}

#[derive(Debug, Default)]
pub struct Pairs {
    pub pairs: Vec<Pair>,
    /// True if the file is big-endian (the writer's byte order; rpm keys follow it too).
    pub big_endian: bool,
    pub warnings: Vec<String>,
}

struct Reader<'a> {
    data: &'a [u8],
    big: bool,
    page_size: usize,
    overhead: usize,
    pages: u32,
}

impl Reader<'_> {
    fn u16_at(&self, b: &[u8], at: usize) -> Option<u16> {
        let a = [*b.get(at)?, *b.get(at + 1)?];
        Some(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn page(&self, n: u32) -> Option<&[u8]> {
        if n >= self.pages {
            return None;
        }
        let start = n as usize * self.page_size;
        self.data.get(start..start + self.page_size)
    }

    /// Follow an overflow chain for `len` bytes; `budget` caps all overflow bytes read.
    fn overflow(&self, first: u32, len: u32, budget: &mut u64) -> Result<Vec<u8>, String> {
        if u64::from(len) > MAX_VALUE || u64::from(len) > *budget {
            return Err(format!("overflow item of {len} bytes is too large"));
        }
        *budget -= u64::from(len);
        let len = len as usize;
        let per_page = self.page_size - self.overhead;
        let mut hops = len.div_ceil(per_page.max(1)) + 1;
        let mut out = Vec::with_capacity(len);
        let mut n = first;
        while out.len() < len {
            if hops == 0 {
                return Err(format!("overflow chain from page {first} is too long"));
            }
            hops -= 1;
            let Some(p) = self.page(n) else {
                return Err(format!("overflow page {n} outside the file"));
            };
            if p[25] != P_OVERFLOW {
                return Err(format!("page {n} in an overflow chain has type {}", p[25]));
            }
            let here = usize::from(self.u16_at(p, 22).unwrap_or(0));
            let take = here.min(len - out.len()).min(per_page);
            if take == 0 {
                return Err(format!("overflow page {n} holds no data"));
            }
            out.extend_from_slice(&p[self.overhead..self.overhead + take]);
            n = self.u32_at(p, 16).unwrap_or(0);
        }
        Ok(out)
    }

    /// One item of a hash page: its bytes (following overflow chains).
    fn item(&self, p: &[u8], idx: usize, budget: &mut u64) -> Result<Vec<u8>, String> {
        let off = |i: usize| self.u16_at(p, self.overhead + 2 * i).map(usize::from);
        let start = off(idx).ok_or("item offset outside the page")?;
        let end = if idx == 0 {
            self.page_size
        } else {
            off(idx - 1).ok_or("item offset outside the page")?
        };
        if start >= end || end > self.page_size || start < self.overhead {
            return Err(format!(
                "item {idx} spans {start}..{end}, not inside the page"
            ));
        }
        let item = &p[start..end];
        match item[0] {
            H_KEYDATA => Ok(item[1..].to_vec()),
            H_OFFPAGE => {
                let pgno = self.u32_at(item, 4).ok_or("short off-page item")?;
                let tlen = self.u32_at(item, 8).ok_or("short off-page item")?;
                self.overflow(pgno, tlen, budget)
            }
            H_DUPLICATE | H_OFFDUP => Err("duplicate items (not used by rpm)".to_string()),
            k => Err(format!("item {idx} of unknown kind {k}")),
        }
    }
}

/// Every key/value pair of a hash database. `Err` if the meta page says this is not a hash
/// file we can read.
pub fn read(data: &[u8]) -> Result<Pairs, String> {
    let Some(m) = data.get(..512) else {
        return Err(format!("{} bytes: shorter than a meta page", data.len()));
    };
    let magic_le = u32::from_le_bytes([m[12], m[13], m[14], m[15]]);
    let magic_be = u32::from_be_bytes([m[12], m[13], m[14], m[15]]);
    let big = match (magic_le, magic_be) {
        (HASH_MAGIC, _) => false,
        (_, HASH_MAGIC) => true,
        (BTREE_MAGIC, _) | (_, BTREE_MAGIC) => {
            return Err("a Berkeley DB btree, not the hash file rpm uses".to_string());
        }
        _ => {
            return Err(format!(
                "magic {magic_le:#x} at byte 12 is not Berkeley DB hash"
            ));
        }
    };
    let mut r = Reader {
        data,
        big,
        page_size: 0,
        overhead: PAGE_HEADER,
        pages: 0,
    };
    let page_size = r.u32_at(m, 20).unwrap_or(0) as usize;
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(format!(
            "page size {page_size} at byte 20 is not a power of two in 512..=65536"
        ));
    }
    if m[25] != P_HASHMETA {
        return Err(format!(
            "page 0 has type {} at byte 25, not hash meta (8)",
            m[25]
        ));
    }
    if m[24] != 0 {
        return Err("encrypted Berkeley DB: not readable".to_string());
    }
    if m[26] & 1 != 0 {
        r.overhead = PAGE_HEADER + CHKSUM_AREA;
    }
    r.page_size = page_size;
    let in_file = u32::try_from(data.len() / page_size).unwrap_or(u32::MAX);
    let last = r.u32_at(m, 32).unwrap_or(0);
    r.pages = in_file.min(last.saturating_add(1));
    let mut out = Pairs {
        big_endian: big,
        ..Pairs::default()
    };
    if last >= in_file {
        out.warnings.push(format!(
            "meta page says the last page is {last}, but the file holds {in_file} pages"
        ));
    }
    let mut budget = data.len() as u64;
    let mut dropped = 0u64;
    let mut warn = |out: &mut Pairs, w: String| {
        if out.warnings.len() < MAX_WARNINGS {
            out.warnings.push(w);
        } else {
            dropped += 1;
        }
    };
    for n in 1..r.pages {
        let Some(p) = r.page(n) else { break };
        if !matches!(p[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let page_off = u64::from(n) * page_size as u64;
        let entries = usize::from(r.u16_at(p, 20).unwrap_or(0));
        if r.overhead + 2 * entries > page_size {
            warn(
                &mut out,
                format!("hash page {n} (byte {page_off}): {entries} entries do not fit"),
            );
            continue;
        }
        if entries % 2 != 0 {
            warn(
                &mut out,
                format!(
                    "hash page {n} (byte {page_off}): odd entry count {entries}, last item ignored"
                ),
            );
        }
        for i in (0..entries / 2).map(|i| 2 * i) {
            let pair = r
                .item(p, i, &mut budget)
                .and_then(|k| Ok((k, r.item(p, i + 1, &mut budget)?)));
            match pair {
                Ok((key, value)) => out.pairs.push(Pair {
                    key,
                    value,
                    offset: page_off,
                }),
                Err(e) => warn(
                    &mut out,
                    format!("hash page {n} (byte {page_off}) pair {}: {e}", i / 2),
                ),
            }
        }
    }
    if dropped > 0 {
        out.warnings
            .push(format!("{dropped} more problems not listed"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_and_survives_garbage() {
        assert!(read(&[]).is_err());
        assert!(read(&[0u8; 4096]).is_err());
        let mut f = vec![0u8; 4 * 512];
        f[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        f[20..24].copy_from_slice(&512u32.to_le_bytes());
        f[25] = P_HASHMETA;
        f[32..36].copy_from_slice(&3u32.to_le_bytes());
        // Page 1: a hash page with one pair, the value off-page in a self-looping chain.
        let p = 512;
        f[p + 25] = P_HASH;
        f[p + 20] = 2;
        f[p + 26..p + 28].copy_from_slice(&500u16.to_le_bytes());
        f[p + 28..p + 30].copy_from_slice(&480u16.to_le_bytes());
        f[p + 500] = H_KEYDATA;
        f[p + 480] = H_OFFPAGE;
        f[p + 484..p + 488].copy_from_slice(&2u32.to_le_bytes());
        f[p + 488..p + 492].copy_from_slice(&100_000u32.to_le_bytes());
        let q = 1024;
        f[q + 25] = P_OVERFLOW;
        f[q + 16..q + 20].copy_from_slice(&2u32.to_le_bytes());
        f[q + 22..q + 24].copy_from_slice(&400u16.to_le_bytes());
        let r = read(&f).unwrap();
        assert!(r.pairs.is_empty());
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        for i in 0..f.len() {
            let mut c = f.clone();
            c[i] ^= 0x5a;
            let _ = read(&c);
        }
    }
}
