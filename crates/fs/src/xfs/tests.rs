//! Unit tests on two tiny images made by mkfs.xfs (see testdata/README.md): reading, and
//! damage crafted byte by byte (with CRCs recomputed, so the parsers behind them are reached).

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

fn v5() -> Vec<u8> {
    image(include_bytes!("testdata/v5-1k.img.gz"))
}

fn v4() -> Vec<u8> {
    image(include_bytes!("testdata/v4-noftype.img.gz"))
}

fn open(bytes: Vec<u8>) -> Result<XfsFs, FsError> {
    XfsFs::open(Arc::new(MemSource(bytes)))
}

/// Store the CRC32C of `buf` (with its field zeroed) at `at`, as XFS does.
fn set_crc(buf: &mut [u8], at: usize) {
    buf[at..at + 4].fill(0);
    let c = crc::crc32c(buf);
    buf[at..at + 4].copy_from_slice(&c.to_le_bytes());
}

fn walk(fs: &XfsFs, path: &str, depth: usize, budget: &mut usize) {
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
            Ok(FileType::Symlink) => {
                let _ = fs.read_link(&p);
            }
            _ => {}
        }
    }
}

#[test]
fn reads_both_images() {
    for (bytes, ftype) in [(v5(), true), (v4(), false)] {
        let fs = open(bytes).unwrap();
        assert_eq!(fs.ctx.sb.has_ftype, ftype);
        let names: Vec<_> = fs
            .read_dir("/")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["d", "etc"]);
        assert_eq!(
            fs.read_file("/etc/os-release", 100).unwrap(),
            b"ID=debian\n"
        );
        assert_eq!(fs.read_file("/etc/hostname", 100).unwrap(), b"host\n");
        assert_eq!(fs.read_link("/etc/link").unwrap(), "../d/entry-1");
        if ftype {
            // mkfs.xfs 6.1 -p writes v5 remote symlink blocks without their XSLM header (the
            // kernel refuses them as well): a real-world corrupt block.
            let err = fs.read_link("/etc/long").unwrap_err().to_string();
            assert!(err.contains("bad magic at block 13"), "{err}");
        } else {
            assert_eq!(
                fs.read_link("/etc/long").unwrap(),
                format!("/{}", "z".repeat(400))
            );
        }
        let d = fs.read_dir("/d").unwrap();
        assert_eq!(d.len(), 40);
        assert!(d.windows(2).all(|w| w[0].name < w[1].name));
        assert!(d.iter().all(|e| e.file_type == FileType::Regular));
        let m = fs.lstat("/d/entry-7").unwrap();
        assert_eq!((m.uid, m.gid, m.mode, m.size), (1000, 1000, 0o600, 2));
        assert_eq!(fs.read_file("/d/entry-7", 10).unwrap(), b"7\n");
        // Errors of the interface.
        assert!(fs.lstat("/nope").unwrap_err().is_not_found());
        assert!(fs.read_dir("/etc/hostname").unwrap_err().is_not_found());
        assert!(fs.lstat("/etc/hostname/x").unwrap_err().is_not_found());
        assert!(matches!(fs.read_link("/etc"), Err(FsError::NotASymlink(_))));
        assert!(matches!(fs.read_file("/d", 10), Err(FsError::NotAFile(_))));
        assert!(matches!(
            fs.read_file("/etc/os-release", 3),
            Err(FsError::TooLarge { .. })
        ));
        let mut buf = [0u8; 4];
        assert_eq!(fs.read_at("/etc/os-release", 3, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"debi");
        assert_eq!(fs.read_at("/etc/os-release", 100, &mut buf).unwrap(), 0);
    }
}

/// The byte offset of the inode at `path` and its number.
fn inode_at(bytes: &[u8], path: &str) -> (usize, u64) {
    let fs = open(bytes.to_vec()).unwrap();
    let ino = fs.resolve(path).unwrap().ino;
    (fs.ctx.sb.ino_location(ino).unwrap() as usize, ino)
}

/// Rewrite the first extent record of the v5 inode at `path` (then fix the inode's CRC).
fn patch_first_extent(bytes: &mut [u8], path: &str, f: impl FnOnce(u64, u64) -> (u64, u64)) {
    let (at, _) = inode_at(bytes, path);
    let rec = at + 176;
    let l0 = u64::from_be_bytes(bytes[rec..rec + 8].try_into().unwrap());
    let l1 = u64::from_be_bytes(bytes[rec + 8..rec + 16].try_into().unwrap());
    let (l0, l1) = f(l0, l1);
    bytes[rec..rec + 8].copy_from_slice(&l0.to_be_bytes());
    bytes[rec + 8..rec + 16].copy_from_slice(&l1.to_be_bytes());
    set_crc(&mut bytes[at..at + 512], 100);
}

#[test]
fn an_extent_beyond_the_device_is_an_error() {
    let mut bytes = v5();
    // Start block 20000 in a single group of 16384 blocks.
    patch_first_extent(&mut bytes, "/etc/os-release", |l0, l1| {
        (l0 & !0x1ff, (l1 & 0x1f_ffff) | (20_000 << 21))
    });
    let fs = open(bytes).unwrap();
    let err = fs
        .read_file("/etc/os-release", 100)
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the file system"), "{err}");
    assert!(fs.read_file("/etc/hostname", 100).is_ok());
}

#[test]
fn an_extent_past_the_end_of_the_image_is_an_io_error() {
    let mut bytes = v5();
    // Inside the file system's geometry, past the end of this cut image.
    patch_first_extent(&mut bytes, "/etc/os-release", |l0, l1| {
        (l0 & !0x1ff, (l1 & 0x1f_ffff) | (10_000 << 21))
    });
    let fs = open(bytes).unwrap();
    assert!(matches!(
        fs.read_file("/etc/os-release", 100),
        Err(FsError::Io { .. })
    ));
}

#[test]
fn a_directory_whose_block_is_its_own_inode_is_an_error() {
    let mut bytes = v5();
    let (at, _) = inode_at(&bytes, "/d");
    let own_block = (at / 1024) as u64;
    patch_first_extent(&mut bytes, "/d", |l0, l1| {
        (l0 & !0x1ff, (l1 & 0x1f_ffff) | (own_block << 21))
    });
    let fs = open(bytes).unwrap();
    let err = fs.read_dir("/d").unwrap_err().to_string();
    assert!(err.contains("magic"), "{err}");
}

#[test]
fn a_bad_crc_names_the_block_and_offset() {
    let mut bytes = v5();
    let (at, ino) = inode_at(&bytes, "/etc/hostname");
    bytes[at + 60] ^= 1;
    let fs = open(bytes).unwrap();
    let err = fs.lstat("/etc/hostname").unwrap_err().to_string();
    assert!(
        err.contains(&format!("inode {ino}: bad CRC at block {}", at / 1024))
            && err.contains(&format!("byte offset {at}")),
        "{err}"
    );
}

#[test]
fn every_prefix_opens_cleanly_or_fails_cleanly() {
    for bytes in [v5(), v4()] {
        for len in (0..=bytes.len()).step_by(256) {
            if let Ok(fs) = open(bytes[..len].to_vec()) {
                let mut budget = 500;
                walk(&fs, "/", 0, &mut budget);
            }
        }
    }
}

#[test]
fn random_damage_without_crcs_never_panics() {
    // v4 has no CRCs, so flipped bits reach every parser.
    let clean = v4();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for _ in 0..1500 {
        let mut bytes = clean.clone();
        for _ in 0..(1 + next() % 4) {
            let bit = next() % (bytes.len() as u64 * 8);
            bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
        if let Ok(fs) = open(bytes) {
            let mut budget = 500;
            walk(&fs, "/", 0, &mut budget);
        }
    }
}
