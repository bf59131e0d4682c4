//! The Btrfs reader on arbitrary bytes: open, list subvolumes, walk each tree with limits.
//!
//! The input is the image from 64 KiB on (the superblock first). So that mutations reach the
//! parsers behind the checksums, the harness writes the magic and the superblock's own offset,
//! and reseals the CRC32C of the superblock and of every node-size-aligned block that carries
//! the file system's fsid.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_fs::FileSystem;
use preflight_fs::btrfs::{BtrfsFs, SubvolSelector};
use preflight_io::MemSource;

const SB: usize = 64 * 1024;

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn reseal(block: &mut [u8]) {
    let c = crc32c(&block[32..]);
    block[..4].copy_from_slice(&c.to_le_bytes());
}

fn walk(fs: &BtrfsFs, budget: &mut usize) {
    let mut stack = vec!["/".to_string()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs.read_dir(&dir) else {
            continue;
        };
        for e in entries {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let path = if dir == "/" {
                format!("/{}", e.name)
            } else {
                format!("{dir}/{}", e.name)
            };
            match fs.lstat(&path) {
                Ok(m) if m.file_type == preflight_fs::FileType::Directory => stack.push(path),
                Ok(_) => {
                    let _ = fs.read_file(&path, 256 * 1024);
                    let _ = fs.read_link(&path);
                    let mut buf = [0u8; 100];
                    let _ = fs.read_at(&path, 4000, &mut buf);
                }
                Err(_) => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4096 || data.len() > 4 << 20 {
        return;
    }
    let mut img = vec![0u8; SB];
    img.extend_from_slice(data);
    img[SB + 0x30..SB + 0x38].copy_from_slice(&(SB as u64).to_le_bytes());
    img[SB + 0x40..SB + 0x48].copy_from_slice(b"_BHRfS_M");
    let nodesize = u32::from_le_bytes([
        img[SB + 0x94],
        img[SB + 0x95],
        img[SB + 0x96],
        img[SB + 0x97],
    ]) as usize;
    let mut fsid = [0u8; 16];
    fsid.copy_from_slice(&img[SB + 0x20..SB + 0x30]);
    if nodesize.is_power_of_two() && (4096..=65536).contains(&nodesize) {
        let mut off = 0;
        while off + nodesize <= img.len() {
            if off != SB && img[off + 0x20..off + 0x30] == fsid {
                reseal(&mut img[off..off + nodesize]);
            }
            off += nodesize;
        }
    }
    reseal(&mut img[SB..SB + 4096]);
    let Ok(fs) = BtrfsFs::open(Arc::new(MemSource(img))) else {
        return;
    };
    let _ = fs.label();
    let _ = fs.fs_uuid();
    let mut budget = 2000;
    walk(&fs, &mut budget);
    if let Ok(subvols) = fs.subvolumes() {
        for s in subvols.iter().take(8) {
            if let Ok(sub) = fs.open_subvolume(SubvolSelector::Id(s.id)) {
                walk(&sub, &mut budget);
            }
            let _ = fs.open_subvolume(SubvolSelector::Path(s.path.clone()));
        }
    }
});
