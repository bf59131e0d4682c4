//! rpm's own "ndb" package store, `Packages.db` (openSUSE Leap / SLES 15 up to 15.3).
//!
//! Layout, from rpm's `lib/backend/ndb/rpmpkg.c` (all words little-endian):
//! - bytes 0..32 of the file: magic `RpmP`, version (0), generation, number of slot pages,
//!   next package index;
//! - the slot pages (4096 bytes each, the first 32 bytes taken by that header) hold 16-byte
//!   slots: magic `Slot`, package index (0 = free slot), block offset, block count;
//! - blocks are 16 bytes; a package's blob starts at block offset × 16 with a 16-byte head
//!   (magic `BlbS`, package index, generation, blob length), then the blob (an RPM header),
//!   and ends its block range with a 12-byte tail (Adler-32, blob length, magic `BlbE`).
//!
//! The Adler-32 checksum is not verified; the head's package index and length and the tail's
//! magic and length must agree with the slot. Debian's rpm is built without ndb, so this
//! reader is tested on files built here from the layout above, not on files rpm wrote.

/// Warnings kept per file.
const MAX_WARNINGS: usize = 100;
const MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_MAGIC: &[u8; 4] = b"BlbS";
const TAIL_MAGIC: &[u8; 4] = b"BlbE";
const SLOT_PAGE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK: u64 = 16;
/// rpm keeps slot pages few (each holds 256 packages); more than this is corrupt.
const MAX_SLOT_PAGES: usize = 4096;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A blob and where it starts in the file.
#[derive(Debug, Clone)]
pub struct Blob<'a> {
    pub pkgidx: u32,
    pub offset: u64,
    pub data: &'a [u8],
}

#[derive(Debug, Default)]
pub struct Blobs<'a> {
    pub blobs: Vec<Blob<'a>>,
    pub warnings: Vec<String>,
}

/// True if `head` starts like an ndb package file.
pub fn is_ndb(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Every package blob named by a slot.
pub fn read(data: &[u8]) -> Result<Blobs<'_>, String> {
    if !is_ndb(data) || data.len() < 32 {
        return Err("not an rpm ndb file (magic RpmP)".to_string());
    }
    let version = le32(data, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(format!("ndb version {version} at byte 4 (only 0 is known)"));
    }
    let slot_pages = le32(data, 12).unwrap_or(0) as usize;
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES {
        return Err(format!(
            "{slot_pages} slot pages at byte 12: not 1..={MAX_SLOT_PAGES}"
        ));
    }
    let slots_end = slot_pages * SLOT_PAGE;
    let mut out = Blobs::default();
    if slots_end > data.len() {
        warn(
            &mut out.warnings,
            format!(
                "{slot_pages} slot pages declared, the file holds {} bytes",
                data.len()
            ),
        );
    }
    let mut at = 32;
    while at + SLOT_SIZE <= slots_end.min(data.len()) {
        let s = &data[at..at + SLOT_SIZE];
        let slot_at = at;
        at += SLOT_SIZE;
        if &s[..4] != SLOT_MAGIC {
            warn(
                &mut out.warnings,
                format!("slot at byte {slot_at}: bad magic, slot table ends"),
            );
            break;
        }
        let pkgidx = le32(s, 4).unwrap_or(0);
        if pkgidx == 0 {
            continue;
        }
        let blkoff = u64::from(le32(s, 8).unwrap_or(0));
        let blkcnt = u64::from(le32(s, 12).unwrap_or(0));
        match blob(data, pkgidx, blkoff * BLOCK, blkcnt * BLOCK) {
            Ok(b) => out.blobs.push(b),
            Err(e) => warn(
                &mut out.warnings,
                format!(
                    "package {pkgidx} (slot at byte {slot_at}, blob at byte {}): {e}",
                    blkoff * BLOCK
                ),
            ),
        }
    }
    Ok(out)
}

fn blob(data: &[u8], pkgidx: u32, start: u64, len: u64) -> Result<Blob<'_>, String> {
    let end = start.checked_add(len).ok_or("block range overflows")?;
    if end > data.len() as u64 || len < 28 || start < SLOT_PAGE as u64 {
        return Err(format!(
            "block range {start}..{end} is not inside the file's data"
        ));
    }
    let area = &data[start as usize..end as usize];
    if &area[..4] != BLOB_MAGIC {
        return Err("no blob head magic BlbS".to_string());
    }
    if le32(area, 4) != Some(pkgidx) {
        return Err(format!(
            "blob head names package {}",
            le32(area, 4).unwrap_or(0)
        ));
    }
    let blen = le32(area, 12).unwrap_or(0) as u64;
    if 16 + blen + 12 > len {
        return Err(format!(
            "blob of {blen} bytes overruns its {len}-byte blocks"
        ));
    }
    let tail = &area[area.len() - 12..];
    if &tail[8..] != TAIL_MAGIC || le32(tail, 4) != Some(blen as u32) {
        return Err("blob tail (BlbE, length) does not match its head".to_string());
    }
    Ok(Blob {
        pkgidx,
        offset: start,
        data: &area[16..16 + blen as usize],
    })
}

/// Build an ndb file holding `blobs` (package indexes from 1), as rpmpkg.c lays it out
/// (checksums left zero). For tests: Debian's rpm cannot write ndb.
pub fn build(blobs: &[&[u8]]) -> Vec<u8> {
    let slot_pages = (blobs.len() + 2).div_ceil(SLOT_PAGE / SLOT_SIZE).max(1);
    let mut f = vec![0u8; slot_pages * SLOT_PAGE];
    f[..4].copy_from_slice(MAGIC);
    f[12..16].copy_from_slice(&(slot_pages as u32).to_le_bytes());
    f[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
    for s in (32..f.len()).step_by(SLOT_SIZE) {
        f[s..s + 4].copy_from_slice(SLOT_MAGIC);
    }
    for (i, b) in blobs.iter().enumerate() {
        let pkgidx = i as u32 + 1;
        let start = f.len();
        let blocks = (16 + b.len() + 12).div_ceil(BLOCK as usize);
        f.extend_from_slice(BLOB_MAGIC);
        f.extend_from_slice(&pkgidx.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&(b.len() as u32).to_le_bytes());
        f.extend_from_slice(b);
        f.resize(start + blocks * BLOCK as usize - 12, 0);
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(b.len() as u32).to_le_bytes());
        f.extend_from_slice(TAIL_MAGIC);
        let s = 32 + i * SLOT_SIZE;
        f[s + 4..s + 8].copy_from_slice(&pkgidx.to_le_bytes());
        f[s + 8..s + 12].copy_from_slice(&((start as u64 / BLOCK) as u32).to_le_bytes());
        f[s + 12..s + 16].copy_from_slice(&(blocks as u32).to_le_bytes());
    }
    f
}

/// Keep at most `MAX_WARNINGS` warnings, then one line saying more were dropped.
fn warn(list: &mut Vec<String>, w: String) {
    match list.len() {
        n if n < MAX_WARNINGS => list.push(w),
        n if n == MAX_WARNINGS => list.push("further problems not listed".to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let f = build(&[b"one", b"second blob"]);
        let r = read(&f).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let got: Vec<&[u8]> = r.blobs.iter().map(|b| b.data).collect();
        assert_eq!(got, vec![&b"one"[..], &b"second blob"[..]]);
        for i in 0..f.len() {
            let mut c = f.clone();
            c[i] ^= 0x81;
            let _ = read(&c);
            let _ = read(&f[..i]);
        }
    }
}
