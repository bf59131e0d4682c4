//! Unit tests on two tiny images made by mkfs.vfat and mtools (see testdata/README.md):
//! reading, and damage crafted byte by byte.

use std::io::Read;
use std::sync::Arc;

use preflight_io::MemSource;

use super::*;

fn image(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn fat12() -> Vec<u8> {
    image(include_bytes!("testdata/fat12.img.gz"))
}

fn fat32() -> Vec<u8> {
    image(include_bytes!("testdata/fat32.img.gz"))
}

fn open(bytes: Vec<u8>) -> Result<FatFs, FsError> {
    FatFs::open(Arc::new(MemSource(bytes)))
}

fn walk(fs: &FatFs, path: &str, depth: usize, budget: &mut usize) {
    let Ok(entries) = fs.read_dir(path) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let p = format!("{}/{}", path.trim_end_matches('/'), e.name);
        match fs.lstat(&p).map(|m| m.file_type) {
            Ok(FileType::Directory) if depth < 8 => walk(fs, &p, depth + 1, budget),
            Ok(FileType::Regular) => {
                let _ = fs.read_file(&p, 1 << 20);
            }
            _ => {}
        }
    }
}

/// 2024-02-01 10:20:30 UTC.
const T: i64 = 1_706_782_830;

#[test]
fn reads_both_images() {
    for (bytes, kind) in [(fat12(), "FAT12"), (fat32(), "FAT32")] {
        let fs = open(bytes).unwrap();
        assert_eq!(fs.fat_type(), kind);
        assert_eq!(fs.volume_id(), "1234-ABCD");
        assert_eq!(fs.label().as_deref(), Some("PREFLIGHT"));
        assert_eq!(fs.boot_label().as_deref(), Some("PREFLIGHT"));
        let names: Vec<_> = fs
            .read_dir("/")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "A long name é 日本.txt",
                "EFI",
                "big.txt",
                "d",
                "lower.txt",
                "os-release"
            ]
        );
        assert_eq!(
            fs.read_file("/EFI/BOOT/BOOTX64.EFI", 100).unwrap(),
            b"hello\n"
        );
        // vfat looks names up case-insensitively, by long or short name.
        assert_eq!(
            fs.read_file("/efi/boot/bootx64.efi", 100).unwrap(),
            b"hello\n"
        );
        assert_eq!(fs.read_file("/ALONGN~1.TXT", 100).unwrap(), b"hello\n");
        let m = fs.lstat("/os-release").unwrap();
        assert_eq!(
            (m.mode, m.uid, m.gid, m.size, m.mtime),
            (0o555, 0, 0, 10, Some(T))
        );
        let m = fs.lstat("/lower.txt").unwrap();
        assert_eq!((m.mode, m.file_type), (0o755, FileType::Regular));
        let m = fs.lstat("/d").unwrap();
        assert_eq!((m.mode, m.file_type), (0o755, FileType::Directory));
        assert_eq!(m.size % 512, 0);
        let d = fs.read_dir("/d").unwrap();
        assert_eq!(d.len(), 40);
        assert!(d.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(fs.read_file("/d/entry-7", 10).unwrap(), b"7\n");
        let big = fs.read_file("/big.txt", 10_000).unwrap();
        assert_eq!(big, vec![b'x'; 3000]);
        let mut buf = [0u8; 600];
        assert_eq!(fs.read_at("/big.txt", 2900, &mut buf).unwrap(), 100);
        assert_eq!(fs.read_at("/big.txt", 3000, &mut buf).unwrap(), 0);
        // Errors of the interface.
        assert!(fs.lstat("/nope").unwrap_err().is_not_found());
        assert!(fs.read_dir("/os-release").unwrap_err().is_not_found());
        assert!(fs.lstat("/os-release/x").unwrap_err().is_not_found());
        assert!(matches!(fs.read_link("/EFI"), Err(FsError::NotASymlink(_))));
        assert!(matches!(
            fs.read_link("/os-release"),
            Err(FsError::NotASymlink(_))
        ));
        assert!(fs.read_link("/nope").unwrap_err().is_not_found());
        assert!(matches!(fs.read_file("/d", 10), Err(FsError::NotAFile(_))));
        assert!(matches!(
            fs.read_file("/os-release", 3),
            Err(FsError::TooLarge { .. })
        ));
    }
}

/// Byte offset of the FAT entry of cluster `n` (FAT32 images only) and of the cluster.
fn fat32_entry(fs: &FatFs, n: u32) -> usize {
    (fs.bpb.fat_offset + u64::from(n) * 4) as usize
}

#[test]
fn a_looping_chain_is_an_error() {
    let bytes = fat32();
    let fs = open(bytes.clone()).unwrap();
    let runs = fs.file_runs(&entry(&fs, "/big.txt"), "/big.txt").unwrap();
    let first = runs[0].first;
    // The third cluster points back to the first.
    let mut bad = bytes.clone();
    let at = fat32_entry(&fs, first + 2);
    bad[at..at + 4].copy_from_slice(&first.to_le_bytes());
    let err = open(bad)
        .unwrap()
        .read_file("/big.txt", 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
    // A chain cut short: an error naming the file.
    let mut bad = bytes.clone();
    bad[at..at + 4].copy_from_slice(&0x0FFF_FFFFu32.to_le_bytes());
    let err = open(bad)
        .unwrap()
        .read_file("/big.txt", 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/big.txt") && err.contains("ends after 3"),
        "{err}"
    );
    // A directory chain that loops onto itself.
    let d = entry(&fs, "/d").cluster;
    let mut bad = bytes;
    let at = fat32_entry(&fs, d);
    bad[at..at + 4].copy_from_slice(&d.to_le_bytes());
    let err = open(bad).unwrap().read_dir("/d").unwrap_err().to_string();
    assert!(err.contains("twice"), "{err}");
}

fn entry(fs: &FatFs, path: &str) -> RawEntry {
    match fs.resolve(path).unwrap() {
        Node::Entry(e) => e,
        Node::Root => panic!("root"),
    }
}

#[test]
fn a_directory_that_contains_itself_does_not_loop() {
    let bytes = fat12();
    let fs = open(bytes.clone()).unwrap();
    let d = entry(&fs, "/d").cluster;
    // Make /d/entry-1 a directory pointing at /d's own cluster.
    let at = fs.bpb.cluster_offset(d) as usize;
    let mut bad = bytes;
    let mut found = false;
    for e in bad[at..at + 512].chunks_exact_mut(32) {
        if &e[..8] == b"ENTRY-1 " {
            e[11] = 0x10;
            e[26..28].copy_from_slice(&(d as u16).to_le_bytes());
            found = true;
        }
    }
    assert!(found);
    let fs = open(bad).unwrap();
    assert_eq!(
        fs.read_dir("/d/entry-1/entry-1").unwrap(),
        fs.read_dir("/d").unwrap()
    );
    let mut budget = 5000;
    walk(&fs, "/", 0, &mut budget);
}

#[test]
fn every_prefix_opens_cleanly_or_fails_cleanly() {
    for bytes in [fat12(), fat32()] {
        let step = (bytes.len() / 300).max(1);
        for len in (0..=bytes.len()).step_by(step) {
            if let Ok(fs) = open(bytes[..len].to_vec()) {
                let mut budget = 500;
                walk(&fs, "/", 0, &mut budget);
            }
        }
    }
}

#[test]
fn random_damage_never_panics() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for clean in [fat12(), fat32()] {
        // Damage where the metadata is: boot sector, FAT, root and the first directories.
        let fs = open(clean.clone()).unwrap();
        let meta_end = (fs.bpb.cluster_offset(40) as usize).min(clean.len());
        for _ in 0..400 {
            let mut bytes = clean.clone();
            for _ in 0..(1 + next() % 4) {
                let bit = next() % (meta_end as u64 * 8);
                bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
            }
            if let Ok(fs) = open(bytes) {
                let mut budget = 500;
                walk(&fs, "/", 0, &mut budget);
            }
        }
    }
}
