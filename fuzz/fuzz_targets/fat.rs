//! The FAT reader on arbitrary bytes: open, then walk the whole tree with limits (depth,
//! entries), reading the start of every file and probing case-insensitive lookups. Seed
//! corpus/fat/ with the unit-test images (`gzip -dc crates/fs/src/fat/testdata/fat12.img.gz`,
//! and fat32, cut after their last non-zero 4 KiB: the reader never reads past what it needs).
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_fs::{FatFs, FileSystem, FileType};
use preflight_io::MemSource;

fn walk(fs: &FatFs, path: &str, depth: usize, budget: &mut usize) {
    let Ok(entries) = fs.read_dir(path) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let p = if path == "/" {
            format!("/{}", e.name)
        } else {
            format!("{path}/{}", e.name)
        };
        match fs.lstat(&p).map(|m| m.file_type) {
            Ok(FileType::Directory) if depth < 8 => walk(fs, &p, depth + 1, budget),
            Ok(FileType::Regular) => {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = fs.read_at(&p, 0, &mut buf);
                let _ = fs.read_at(&p, 1 << 20, &mut buf[..512]);
                let _ = fs.lstat(&p.to_uppercase());
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(fs) = FatFs::open(Arc::new(MemSource(data.to_vec()))) else {
        return;
    };
    let _ = (fs.volume_id(), fs.label(), fs.boot_label());
    let _ = fs.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 16);
    let mut budget = 2000;
    walk(&fs, "/", 0, &mut budget);
});
