//! Hostile input: random bit flips, field overwrites and truncations of valid images never
//! panic, never loop and never allocate without bound.

use preflight_io::MemSource;

use super::build::*;
use crate::{probe, read_partitions};

/// Iterations per test: a few thousand by default; set `PREFLIGHT_FUZZ_ITERATIONS` for a long
/// run (`cargo test -p preflight-volume --release fuzz`).
fn iterations() -> usize {
    std::env::var("PREFLIGHT_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// xorshift64*: deterministic, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Values that hit edges more often than uniform ones do.
    fn value(&mut self) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => u64::MAX,
            2 => self.below(300) as u64,
            3 => 1 << self.below(64),
            4 => u32::MAX as u64 + self.below(3) as u64 - 1,
            _ => self.next(),
        }
    }
}

fn mutate(rng: &mut Rng, d: &mut Vec<u8>, hot: &[(usize, usize)]) {
    for _ in 0..1 + rng.below(6) {
        let (start, len) = hot[rng.below(hot.len())];
        if d.is_empty() {
            return;
        }
        let at = (start + rng.below(len)).min(d.len() - 1);
        if rng.below(2) == 0 {
            d[at] ^= 1 << rng.below(8);
        } else {
            let v = rng.value().to_le_bytes();
            let width = [1usize, 2, 4, 8][rng.below(4)];
            let at = at & !(width - 1);
            let end = (at + width).min(d.len());
            d[at..end].copy_from_slice(&v[..end - at]);
        }
    }
    if rng.below(10) == 0 {
        let n = rng.below(d.len() + 1);
        d.truncate(n);
    }
}

/// Read the table and probe what it finds; true when a table with partitions came out.
fn exercise(d: Vec<u8>) -> bool {
    let disk = source(d);
    let mut found = false;
    if let Ok(t) = read_partitions(&disk) {
        found = !t.partitions.is_empty();
        assert!(t.partitions.len() <= 1024 + 4 + 256);
        assert!(t.diagnostics.len() < 400, "{}", t.diagnostics.len());
        for p in t.partitions.iter().take(8) {
            let _ = probe(&*p.source(&disk));
        }
    }
    let _ = probe(&*disk);
    found
}

#[test]
fn mutated_gpt_disks_never_panic() {
    let g = Gpt::new(
        300,
        vec![
            part(BIOS_BOOT, 34, 40, "bios"),
            part(ESP, 41, 100, "esp"),
            part(LINUX, 101, 267, "root"),
        ],
    );
    let base = g.build();
    let last = g.last_lba() as usize * 512;
    let backup_array = (g.last_lba() - g.array_sectors()) as usize * 512;
    let hot = [
        (0, 512),
        (512, 92),
        (1024, 512),
        (last, 92),
        (backup_array, 512),
        (0, base.len()),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tables = 0;
    for _ in 0..iterations() {
        let mut d = base.clone();
        mutate(&mut rng, &mut d, &hot);
        // Half the time, make the CRCs right again so the parser gets past them.
        if rng.below(2) == 0 {
            fix_crcs(&mut d, 512, 512);
            fix_crcs(&mut d, last, 512);
        }
        tables += usize::from(exercise(d));
    }
    // The mutations must leave many tables readable, or the deep parsing goes untested.
    eprintln!(
        "GPT: {tables} of {} mutated disks gave partitions",
        iterations()
    );
    assert!(tables * 4 > iterations(), "{tables}");
}

#[test]
fn mutated_mbr_disks_never_panic() {
    let base = mbr_disk(5);
    let ebrs: Vec<(usize, usize)> = (0..5)
        .map(|i| ((EXT_START as usize + 64 * i) * 512 + 446, 66))
        .collect();
    let mut hot = vec![(446, 66), (0, 512)];
    hot.extend(ebrs);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut tables = 0;
    for _ in 0..iterations() {
        let mut d = base.clone();
        mutate(&mut rng, &mut d, &hot);
        tables += usize::from(exercise(d));
    }
    eprintln!(
        "MBR: {tables} of {} mutated disks gave partitions",
        iterations()
    );
    assert!(tables * 4 > iterations(), "{tables}");
}

#[test]
fn mutated_file_system_heads_never_panic() {
    let mut bases = Vec::new();
    let mut ext = vec![0u8; 16384];
    super::probe::ext_superblock(&mut ext, 0x4, 0x2c2, 0x7b);
    bases.push(ext);
    let mut fat = vec![0u8; 512 * 200];
    super::probe::fat16_boot_sector(&mut fat, 200);
    bases.push(fat);
    let mut ntfs = vec![0u8; 65536];
    put(&mut ntfs, 3, b"NTFS    ");
    put(&mut ntfs, 11, &512u16.to_le_bytes());
    ntfs[13] = 8;
    put64(&mut ntfs, 48, 4);
    ntfs[64] = 0xf6;
    put(&mut ntfs, 4 * 4096 + 3 * 1024, b"FILE");
    bases.push(ntfs);
    let mut exfat = vec![0u8; 65536];
    put(&mut exfat, 3, b"EXFAT   ");
    exfat[108] = 9;
    exfat[109] = 3;
    put32(&mut exfat, 96, 4);
    bases.push(exfat);
    let mut swap = vec![0u8; 16384];
    put(&mut swap, 4086, b"SWAPSPACE2");
    put32(&mut swap, 1024, 1);
    bases.push(swap);
    let mut lvm = vec![0u8; 8192];
    put(&mut lvm, 512, b"LABELONE");
    put(&mut lvm, 512 + 24, b"LVM2 001");
    bases.push(lvm);
    let mut md = vec![0u8; 1 << 17];
    put32(&mut md, 4096, 0xa92b_4efc);
    put32(&mut md, 4100, 1);
    bases.push(md);
    let hot = [(0, 2048), (4096, 256), (16384, 4096)];
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for i in 0..iterations() {
        let mut d = bases[i % bases.len()].clone();
        mutate(&mut rng, &mut d, &hot);
        let _ = probe(&MemSource(d));
    }
}
