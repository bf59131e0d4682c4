//! The XFS reader on arbitrary bytes: open, then walk the whole tree with limits (depth,
//! entries), reading links and the start of every file. Seeds in corpus/xfs/ are small images
//! made by mkfs.xfs -p (v5 1 KiB and 4 KiB blocks, 16 KiB directory blocks, v4 without ftype),
//! cut after their last used block.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_fs::{FileSystem, FileType, XfsFs};
use preflight_io::MemSource;

fn walk(fs: &XfsFs, path: &str, depth: usize, budget: &mut usize) {
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
            }
            Ok(FileType::Symlink) => {
                let _ = fs.read_link(&p);
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(fs) = XfsFs::open(Arc::new(MemSource(data.to_vec()))) else {
        return;
    };
    let _ = fs.lstat("/etc/os-release");
    let _ = fs.read_file("/etc/os-release", 1 << 16);
    let mut budget = 2000;
    walk(&fs, "/", 0, &mut budget);
});
