//! A tiny Btrfs image built in memory from the documented layouts, for unit tests that need no
//! root and for the fuzz corpus seed (`PREFLIGHT_BTRFS_SEED=<file>` writes it, from 64 KiB on).

use std::io::Write;
use std::sync::Arc;

use preflight_io::MemSource;

use super::checksum::{crc32c, name_hash};
use super::tree::{HEADER, Key};
use super::*;
use crate::FileSystem;

const NODE: usize = 4096;
const CHUNK_LOGICAL: u64 = 0x10_0000;
const CHUNK_PHYS: u64 = 0x1_1000;
const FSID: [u8; 16] = [7; 16];

fn phys(logical: u64) -> usize {
    (CHUNK_PHYS + logical - CHUNK_LOGICAL) as usize
}

fn key(k: Key) -> Vec<u8> {
    let mut b = k.objectid.to_le_bytes().to_vec();
    b.push(k.ty);
    b.extend_from_slice(&k.offset.to_le_bytes());
    b
}

fn chunk_item() -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0..8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    b[8..16].copy_from_slice(&2u64.to_le_bytes());
    b[16..24].copy_from_slice(&65536u64.to_le_bytes());
    b[24..32].copy_from_slice(&7u64.to_le_bytes()); // data | system | metadata, single
    b[44..46].copy_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&CHUNK_PHYS.to_le_bytes());
    b.extend_from_slice(&[0u8; 16]);
    b
}

fn leaf(bytenr: u64, owner: u64, mut items: Vec<(Key, Vec<u8>)>) -> Vec<u8> {
    items.sort_by_key(|(k, _)| *k);
    let mut n = vec![0u8; NODE];
    n[0x20..0x30].copy_from_slice(&FSID);
    n[0x30..0x38].copy_from_slice(&bytenr.to_le_bytes());
    n[0x50..0x58].copy_from_slice(&1u64.to_le_bytes());
    n[0x58..0x60].copy_from_slice(&owner.to_le_bytes());
    n[0x60..0x64].copy_from_slice(&(items.len() as u32).to_le_bytes());
    let mut end = NODE - HEADER;
    for (i, (k, data)) in items.iter().enumerate() {
        end -= data.len();
        let at = HEADER + 25 * i;
        n[at..at + 17].copy_from_slice(&key(*k));
        n[at + 17..at + 21].copy_from_slice(&(end as u32).to_le_bytes());
        n[at + 21..at + 25].copy_from_slice(&(data.len() as u32).to_le_bytes());
        n[HEADER + end..HEADER + end + data.len()].copy_from_slice(data);
    }
    let c = crc32c(&n[32..]);
    n[..4].copy_from_slice(&c.to_le_bytes());
    n
}

fn inode(mode: u32, size: u64) -> Vec<u8> {
    let mut b = vec![0u8; 160];
    b[16..24].copy_from_slice(&size.to_le_bytes());
    b[40..44].copy_from_slice(&1u32.to_le_bytes());
    b[44..48].copy_from_slice(&1000u32.to_le_bytes());
    b[48..52].copy_from_slice(&100u32.to_le_bytes());
    b[52..56].copy_from_slice(&mode.to_le_bytes());
    b[136..144].copy_from_slice(&1_700_000_000u64.to_le_bytes());
    b
}

fn dir_item(target: Key, ty: u8, name: &str) -> Vec<u8> {
    let mut b = key(target);
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.push(ty);
    b.extend_from_slice(name.as_bytes());
    b
}

fn inline(data: &[u8], ram: usize, compression: u8) -> Vec<u8> {
    let mut b = vec![0u8; 21];
    b[8..16].copy_from_slice(&(ram as u64).to_le_bytes());
    b[16] = compression;
    b.extend_from_slice(data);
    b
}

fn regular(disk: u64, disk_len: u64, offset: u64, num: u64) -> Vec<u8> {
    let mut b = vec![0u8; 21];
    b[8..16].copy_from_slice(&disk_len.to_le_bytes());
    b[20] = 1;
    for v in [disk, disk_len, offset, num] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn inode_ref(parent: u64, name: &str) -> (Key, Vec<u8>) {
    let mut b = 2u64.to_le_bytes().to_vec();
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.extend_from_slice(name.as_bytes());
    (Key::new(0, INODE_REF, parent), b)
}

const INODE: u8 = items::INODE_ITEM_KEY;
const INODE_REF: u8 = items::INODE_REF_KEY;
const DIR_ITEM: u8 = items::DIR_ITEM_KEY;
const DIR_INDEX: u8 = items::DIR_INDEX_KEY;
const EXTENT: u8 = items::EXTENT_DATA_KEY;

/// The image: `/hello` (inline), `/link -> hello`, `/big` (4 KiB extent + 4 KiB hole),
/// `/zlib` (compressed inline).
pub fn image() -> Vec<u8> {
    let (chunk_root, root_tree, fs_tree, data) = (
        CHUNK_LOGICAL,
        CHUNK_LOGICAL + 0x1000,
        CHUNK_LOGICAL + 0x2000,
        CHUNK_LOGICAL + 0x3000,
    );
    let mut img = vec![0u8; phys(CHUNK_LOGICAL + 0x4000)];
    // Superblock.
    let sb = &mut img[0x10000..0x11000];
    sb[0x20..0x30].copy_from_slice(&FSID);
    sb[0x30..0x38].copy_from_slice(&0x10000u64.to_le_bytes());
    sb[0x40..0x48].copy_from_slice(b"_BHRfS_M");
    sb[0x48..0x50].copy_from_slice(&1u64.to_le_bytes());
    sb[0x50..0x58].copy_from_slice(&root_tree.to_le_bytes());
    sb[0x58..0x60].copy_from_slice(&chunk_root.to_le_bytes());
    sb[0x90..0x94].copy_from_slice(&4096u32.to_le_bytes());
    sb[0x94..0x98].copy_from_slice(&(NODE as u32).to_le_bytes());
    let mut sys = key(Key::new(256, items::CHUNK_ITEM_KEY, CHUNK_LOGICAL));
    sys.extend_from_slice(&chunk_item());
    sb[0xa0..0xa4].copy_from_slice(&(sys.len() as u32).to_le_bytes());
    sb[0xc9..0xd1].copy_from_slice(&1u64.to_le_bytes()); // devid
    sb[0x12b..0x130].copy_from_slice(b"synth");
    sb[0x32b..0x32b + sys.len()].copy_from_slice(&sys);
    let c = crc32c(&sb[32..]);
    sb[..4].copy_from_slice(&c.to_le_bytes());

    let chunk = leaf(
        chunk_root,
        3,
        vec![(
            Key::new(256, items::CHUNK_ITEM_KEY, CHUNK_LOGICAL),
            chunk_item(),
        )],
    );
    let mut root_item = inode(0o40755, 0);
    root_item.resize(439, 0);
    root_item[160..168].copy_from_slice(&1u64.to_le_bytes());
    root_item[168..176].copy_from_slice(&256u64.to_le_bytes());
    root_item[176..184].copy_from_slice(&fs_tree.to_le_bytes());
    let default = dir_item(Key::new(5, items::ROOT_ITEM_KEY, u64::MAX), 2, "default");
    let root = leaf(
        root_tree,
        1,
        vec![
            (Key::new(5, items::ROOT_ITEM_KEY, 0), root_item),
            (Key::new(6, DIR_ITEM, name_hash(b"default")), default),
        ],
    );
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&b"zlib ".repeat(100)).unwrap();
    let zdata = z.finish().unwrap();
    let entries = [
        (257u64, 1u8, "hello"),
        (258, 7, "link"),
        (259, 1, "big"),
        (260, 1, "zlib"),
    ];
    let mut fs_items = vec![
        (Key::new(256, INODE, 0), inode(0o40755, 28)),
        {
            let (mut k, v) = inode_ref(256, "..");
            k.objectid = 256;
            (k, v)
        },
        (Key::new(257, INODE, 0), inode(0o100644, 6)),
        (Key::new(257, EXTENT, 0), inline(b"hello\n", 6, 0)),
        (Key::new(258, INODE, 0), inode(0o120777, 5)),
        (Key::new(258, EXTENT, 0), inline(b"hello", 5, 0)),
        (Key::new(259, INODE, 0), inode(0o100600, 8192)),
        (Key::new(259, EXTENT, 0), regular(data, 4096, 0, 4096)),
        (Key::new(260, INODE, 0), inode(0o100644, 500)),
        (Key::new(260, EXTENT, 0), inline(&zdata, 500, 1)),
    ];
    for (i, (ino, ty, name)) in entries.iter().enumerate() {
        let loc = Key::new(*ino, INODE, 0);
        fs_items.push((
            Key::new(256, DIR_ITEM, name_hash(name.as_bytes())),
            dir_item(loc, *ty, name),
        ));
        fs_items.push((
            Key::new(256, DIR_INDEX, 2 + i as u64),
            dir_item(loc, *ty, name),
        ));
        let (mut k, v) = inode_ref(256, name);
        k.objectid = *ino;
        fs_items.push((k, v));
    }
    let fs = leaf(fs_tree, 5, fs_items);
    for (logical, node) in [(chunk_root, chunk), (root_tree, root), (fs_tree, fs)] {
        img[phys(logical)..phys(logical) + NODE].copy_from_slice(&node);
    }
    for (i, b) in img[phys(data)..phys(data) + 4096].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    img
}

fn open(img: Vec<u8>) -> Result<BtrfsFs, FsError> {
    BtrfsFs::open(Arc::new(MemSource(img)))
}

#[test]
fn synthetic_image_reads() {
    let img = image();
    if let Some(path) = std::env::var_os("PREFLIGHT_BTRFS_SEED") {
        std::fs::write(path, &img[0x10000..]).unwrap();
    }
    let fs = open(img).unwrap();
    assert_eq!(fs.label().as_deref(), Some("synth"));
    assert_eq!(fs.fs_uuid(), "07070707-0707-0707-0707-070707070707");
    assert_eq!(fs.default_subvolume_id(), 5);
    let names: Vec<String> = fs
        .read_dir("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["big", "hello", "link", "zlib"]);
    assert_eq!(fs.read_file("/hello", 100).unwrap(), b"hello\n");
    assert_eq!(fs.read_link("/link").unwrap(), "hello");
    assert_eq!(fs.read_file("/zlib", 1000).unwrap(), b"zlib ".repeat(100));
    let big = fs.read_file("/big", 10_000).unwrap();
    assert_eq!(big.len(), 8192);
    assert!(
        big[..4096]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8)
    );
    assert!(big[4096..].iter().all(|&b| b == 0));
    let m = fs.lstat("/big").unwrap();
    assert_eq!(
        (m.mode, m.uid, m.gid, m.mtime),
        (0o600, 1000, 100, Some(1_700_000_000))
    );
    assert!(fs.lstat("/nope").unwrap_err().is_not_found());
    assert!(fs.lstat("/hello/x").unwrap_err().is_not_found());
    assert!(matches!(fs.read_file("/", 10), Err(FsError::NotAFile(_))));
    assert!(fs.subvolumes().unwrap().is_empty());
}

#[test]
fn every_single_byte_corruption_of_the_metadata_is_clean() {
    let base = image();
    // Flip each byte of the three nodes (resealed, so the parsers see the damage) and of the
    // superblock's fields: no panic, no hang.
    let nodes = [
        CHUNK_LOGICAL,
        CHUNK_LOGICAL + 0x1000,
        CHUNK_LOGICAL + 0x2000,
    ];
    for node in nodes {
        let start = phys(node);
        for at in (0x20..NODE).step_by(7) {
            let mut img = base.clone();
            img[start + at] ^= 0x5a;
            let c = crc32c(&img[start + 32..start + NODE]);
            img[start..start + 4].copy_from_slice(&c.to_le_bytes());
            if let Ok(fs) = open(img) {
                for p in ["/", "/hello", "/link", "/big", "/zlib"] {
                    let _ = fs.read_dir(p);
                    let _ = fs.read_file(p, 1 << 20);
                    let _ = fs.read_link(p);
                }
                let _ = fs.subvolumes();
            }
        }
    }
    for at in 0x20..0x800 {
        let mut img = base.clone();
        img[0x10000 + at] ^= 0xa5;
        let c = crc32c(&img[0x10020..0x11000]);
        img[0x10000..0x10004].copy_from_slice(&c.to_le_bytes());
        if let Ok(fs) = open(img) {
            let _ = fs.read_file("/big", 1 << 20);
        }
    }
    // Unsealed: a checksum error naming the node.
    let mut img = base.clone();
    img[phys(CHUNK_LOGICAL + 0x2000) + 300] ^= 1;
    let fs = open(img).unwrap();
    let err = fs.read_dir("/").unwrap_err().to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains("0x102000"),
        "{err}"
    );
}
