//! Builders of small disk images in memory, with correct CRCs.

use std::sync::Arc;

use preflight_io::{MemSource, Source};

use crate::{PartitionTable, VolumeError, read_partitions};

pub const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
pub const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
pub const BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";

/// Canonical GUID text to GPT's mixed-endian bytes.
pub fn guid(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .chars()
        .filter(|c| *c != '-')
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|p| u8::from_str_radix(&p.iter().collect::<String>(), 16).unwrap())
        .collect();
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&[hex[3], hex[2], hex[1], hex[0]]);
    g[4..6].copy_from_slice(&[hex[5], hex[4]]);
    g[6..8].copy_from_slice(&[hex[7], hex[6]]);
    g[8..].copy_from_slice(&hex[8..16]);
    g
}

pub fn put(d: &mut [u8], at: usize, bytes: &[u8]) {
    d[at..at + bytes.len()].copy_from_slice(bytes);
}

pub fn put32(d: &mut [u8], at: usize, v: u32) {
    put(d, at, &v.to_le_bytes());
}

pub fn put64(d: &mut [u8], at: usize, v: u64) {
    put(d, at, &v.to_le_bytes());
}

pub fn source(d: Vec<u8>) -> Source {
    Arc::new(MemSource(d))
}

pub fn read(d: &[u8]) -> Result<PartitionTable, VolumeError> {
    read_partitions(&source(d.to_vec()))
}

pub struct GptPart {
    pub type_guid: &'static str,
    pub unique: &'static str,
    pub first: u64,
    pub last: u64,
    pub attributes: u64,
    pub name: &'static str,
}

pub fn part(type_guid: &'static str, first: u64, last: u64, name: &'static str) -> GptPart {
    GptPart {
        type_guid,
        unique: "11111111-2222-3333-4444-555555555555",
        first,
        last,
        attributes: 0,
        name,
    }
}

pub struct Gpt {
    pub sector: usize,
    pub sectors: u64,
    pub entries: u32,
    pub entry_size: u32,
    pub disk_guid: &'static str,
    pub parts: Vec<GptPart>,
}

impl Gpt {
    pub fn new(sectors: u64, parts: Vec<GptPart>) -> Gpt {
        Gpt {
            sector: 512,
            sectors,
            entries: 128,
            entry_size: 128,
            disk_guid: "aabbccdd-eeff-0011-2233-445566778899",
            parts,
        }
    }

    fn array(&self) -> Vec<u8> {
        let size = self.entry_size as usize;
        let mut a = vec![0u8; self.entries as usize * size];
        for (i, p) in self.parts.iter().enumerate() {
            let e = &mut a[i * size..(i + 1) * size];
            put(e, 0, &guid(p.type_guid));
            put(e, 16, &guid(p.unique));
            put64(e, 32, p.first);
            put64(e, 40, p.last);
            put64(e, 48, p.attributes);
            for (j, u) in p.name.encode_utf16().take(36).enumerate() {
                put(e, 56 + 2 * j, &u.to_le_bytes());
            }
        }
        a
    }

    pub fn array_sectors(&self) -> u64 {
        (self.entries as u64 * self.entry_size as u64).div_ceil(self.sector as u64)
    }

    pub fn last_lba(&self) -> u64 {
        self.sectors - 1
    }

    pub fn build(&self) -> Vec<u8> {
        let ss = self.sector;
        let mut d = vec![0u8; ss * self.sectors as usize];
        // Protective MBR.
        d[446 + 4] = 0xee;
        put32(&mut d, 446 + 8, 1);
        put32(
            &mut d,
            446 + 12,
            (self.sectors - 1).min(u32::MAX as u64) as u32,
        );
        d[510] = 0x55;
        d[511] = 0xaa;
        let array = self.array();
        let crc = crc32fast::hash(&array);
        let last = self.last_lba();
        let backup_array = last - self.array_sectors();
        let first_usable = 2 + self.array_sectors();
        let last_usable = backup_array - 1;
        put(&mut d, 2 * ss, &array);
        put(&mut d, backup_array as usize * ss, &array);
        for (lba, alt, entry_lba) in [(1, last, 2), (last, 1, backup_array)] {
            let h = header(lba, alt, first_usable, last_usable, self, entry_lba, crc);
            put(&mut d, lba as usize * ss, &h);
        }
        d
    }
}

#[allow(clippy::too_many_arguments)]
fn header(
    lba: u64,
    alternate: u64,
    first_usable: u64,
    last_usable: u64,
    g: &Gpt,
    entry_lba: u64,
    entries_crc: u32,
) -> Vec<u8> {
    let mut h = vec![0u8; 92];
    put(&mut h, 0, b"EFI PART");
    put32(&mut h, 8, 0x0001_0000);
    put32(&mut h, 12, 92);
    put64(&mut h, 24, lba);
    put64(&mut h, 32, alternate);
    put64(&mut h, 40, first_usable);
    put64(&mut h, 48, last_usable);
    put(&mut h, 56, &guid(g.disk_guid));
    put64(&mut h, 72, entry_lba);
    put32(&mut h, 80, g.entries);
    put32(&mut h, 84, g.entry_size);
    put32(&mut h, 88, entries_crc);
    let crc = crc32fast::hash(&h);
    put32(&mut h, 16, crc);
    h
}

/// Recompute the CRCs of the header at `offset` (its entry array first, when the header's
/// fields make that possible), so a test can change a field and still get past the CRC checks.
pub fn fix_crcs(d: &mut [u8], offset: usize, sector: usize) {
    let le32 = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    let le64 = |d: &[u8], at: usize| u64::from_le_bytes(d[at..at + 8].try_into().unwrap());
    if offset + 92 > d.len() {
        return;
    }
    let entry_lba = le64(d, offset + 72);
    let count = le32(d, offset + 80) as u64;
    let size = le32(d, offset + 84) as u64;
    let start = entry_lba.saturating_mul(sector as u64);
    let len = count.saturating_mul(size);
    if count <= 4096 && size <= 4096 && start.saturating_add(len) <= d.len() as u64 {
        let crc = crc32fast::hash(&d[start as usize..(start + len) as usize]);
        put32(d, offset + 88, crc);
    }
    let hsize = (le32(d, offset + 12) as usize).clamp(92, sector);
    if offset + hsize > d.len() {
        return;
    }
    put32(d, offset + 16, 0);
    let crc = crc32fast::hash(&d[offset..offset + hsize]);
    put32(d, offset + 16, crc);
}

/// One MBR partition entry.
pub fn mbr_entry(
    d: &mut [u8],
    sector_offset: usize,
    slot: usize,
    status: u8,
    kind: u8,
    start: u32,
    sectors: u32,
) {
    let at = sector_offset + 446 + 16 * slot;
    d[at] = status;
    d[at + 4] = kind;
    put32(d, at + 8, start);
    put32(d, at + 12, sectors);
    d[sector_offset + 510] = 0x55;
    d[sector_offset + 511] = 0xaa;
}

/// A compact MBR disk with signature 0x12345678: partition 1 (Linux, active) at LBA 64 (64
/// sectors), partition 2 (swap) at 128 (64), partition 3 extended at 192 holding `logicals`
/// logical partitions: EBR i at 192 + 64 i, its partition 32 sectors after it, 32 sectors long.
pub fn mbr_disk(logicals: u32) -> Vec<u8> {
    let ext_size = 64 * logicals.max(1);
    let sectors = 192 + ext_size as usize + 64;
    let mut d = vec![0u8; 512 * sectors];
    put32(&mut d, 440, 0x1234_5678);
    mbr_entry(&mut d, 0, 0, 0x80, 0x83, 64, 64);
    mbr_entry(&mut d, 0, 1, 0, 0x82, 128, 64);
    mbr_entry(&mut d, 0, 2, 0, 0x05, EXT_START, ext_size);
    for i in 0..logicals {
        let off = (EXT_START + 64 * i) as usize * 512;
        let kind = if i == 1 { 0x8e } else { 0x83 };
        mbr_entry(&mut d, off, 0, 0, kind, 32, 32);
        if i + 1 < logicals {
            mbr_entry(&mut d, off, 1, 0, 0x05, 64 * (i + 1), 64);
        }
    }
    d
}

pub const EXT_START: u32 = 192;
