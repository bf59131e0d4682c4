//! Synthetic VDI images built in memory, for what the qemu-img fixtures cannot show: zero
//! blocks, extra data, odd sizes, differencing images and every header check.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_io::{ByteSource, Counting, IoError, MemSource};

use super::header::*;
use super::*;

/// A VDI as VirtualBox lays it out: header, block map at 0x200, data after the map (sector
/// aligned), `data[i]` stored as data-area block `i`.
struct Image {
    image_type: u32,
    disk_size: u64,
    block_size: u32,
    extra: u32,
    map: Vec<u32>,
    data: Vec<Vec<u8>>,
    blocks_allocated: Option<u32>,
    linkage: [u8; 16],
}

impl Image {
    fn new(block_size: u32, map: Vec<u32>) -> Image {
        let data_blocks = map.iter().filter(|&&e| e < BLOCK_ZERO).count();
        Image::without_data(block_size, map, data_blocks)
    }

    /// With `data_blocks` blocks of data (patterns).
    fn without_data(block_size: u32, map: Vec<u32>, data_blocks: usize) -> Image {
        Image {
            image_type: 1,
            disk_size: map.len() as u64 * u64::from(block_size),
            block_size,
            extra: 0,
            data: (0..data_blocks)
                .map(|i| pattern(i as u8, block_size as usize))
                .collect(),
            map,
            blocks_allocated: None,
            linkage: [0; 16],
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let map_off = 0x200usize;
        let data_off = (map_off + self.map.len() * 4).div_ceil(512) * 512;
        let mut b = vec![0u8; data_off];
        b[..40].copy_from_slice(b"<<< Oracle VM VirtualBox Disk Image >>>\n");
        let put32 = |b: &mut Vec<u8>, at: u64, v: u32| {
            b[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes())
        };
        put32(&mut b, OFF_SIGNATURE, SIGNATURE);
        put32(&mut b, OFF_VERSION, 0x0001_0001);
        put32(&mut b, OFF_HEADER_SIZE, 0x190);
        put32(&mut b, OFF_IMAGE_TYPE, self.image_type);
        b[OFF_DESCRIPTION as usize..OFF_DESCRIPTION as usize + 5].copy_from_slice(b"hello");
        put32(&mut b, OFF_MAP, map_off as u32);
        put32(&mut b, OFF_DATA, data_off as u32);
        put32(&mut b, OFF_LEGACY_GEOMETRY + 12, 512);
        b[OFF_DISK_SIZE as usize..OFF_DISK_SIZE as usize + 8]
            .copy_from_slice(&self.disk_size.to_le_bytes());
        put32(&mut b, OFF_BLOCK_SIZE, self.block_size);
        put32(&mut b, OFF_BLOCK_EXTRA, self.extra);
        put32(&mut b, OFF_BLOCKS, self.map.len() as u32);
        let allocated = self.map.iter().filter(|&&e| e < BLOCK_ZERO).count() as u32;
        put32(
            &mut b,
            OFF_BLOCKS_ALLOCATED,
            self.blocks_allocated.unwrap_or(allocated),
        );
        b[OFF_UUID_IMAGE as usize] = 0x11;
        b[OFF_UUID_LINKAGE as usize..OFF_UUID_LINKAGE as usize + 16].copy_from_slice(&self.linkage);
        put32(&mut b, OFF_LCHS_GEOMETRY, 1024);
        put32(&mut b, OFF_LCHS_GEOMETRY + 4, 255);
        put32(&mut b, OFF_LCHS_GEOMETRY + 8, 63);
        put32(&mut b, OFF_LCHS_GEOMETRY + 12, 512);
        for (i, e) in self.map.iter().enumerate() {
            put32(&mut b, (map_off + i * 4) as u64, *e);
        }
        for d in &self.data {
            b.extend(std::iter::repeat_n(0xee, self.extra as usize));
            b.extend_from_slice(d);
        }
        b
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8) | 1)
        .collect()
}

fn open_bytes(bytes: Vec<u8>) -> Result<Container, ContainerError> {
    open(Arc::new(MemSource(bytes)))
}

fn read_all(c: &Container) -> Vec<u8> {
    let mut out = vec![0u8; c.disk.len() as usize];
    c.disk.read_at(0, &mut out).unwrap();
    out
}

fn message(r: Result<Container, ContainerError>) -> String {
    match r {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    }
}

/// Patch a little-endian u32 of a built image.
fn with32(mut b: Vec<u8>, at: u64, v: u32) -> Vec<u8> {
    b[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes());
    b
}

#[test]
fn dynamic_blocks_free_zero_and_out_of_order() {
    let img = Image::new(4096, vec![1, BLOCK_FREE, 0, BLOCK_ZERO]);
    let c = open_bytes(img.bytes()).unwrap();
    let mut expected = img.data[1].clone();
    expected.extend(vec![0; 4096]);
    expected.extend(&img.data[0]);
    expected.extend(vec![0; 4096]);
    assert_eq!(read_all(&c), expected);
    // A read across a block boundary, inside blocks.
    let mut buf = vec![0u8; 100];
    c.disk.read_at(2 * 4096 - 50, &mut buf).unwrap();
    assert_eq!(&buf[..50], &[0; 50]);
    assert_eq!(&buf[50..], &img.data[0][..50]);

    let i = &c.info;
    assert_eq!(i.format, Format::Vdi);
    assert_eq!(i.subformat.as_deref(), Some("dynamic"));
    assert_eq!(i.version.as_deref(), Some("1.1"));
    assert_eq!(i.block_size, Some(4096));
    assert_eq!(i.allocated_size, Some(2 * 4096));
    assert_eq!(i.virtual_size, 4 * 4096);
    assert!(i.parent.is_none());
    assert!(c.missing_backing_bytes.is_none());
    let get = |k: &str| {
        i.details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("banner"),
        Some("<<< Oracle VM VirtualBox Disk Image >>>")
    );
    assert_eq!(get("description"), Some("hello"));
    assert_eq!(get("geometry (LCHS)"), Some("1024/255/63"));
    assert_eq!(
        get("image UUID"),
        Some("00000011-0000-0000-0000-000000000000")
    );
    assert_eq!(get("blocks allocated"), Some("2 of 4"));
    assert_eq!(get("parent UUID"), None);
    // Only the non-1 MiB block size is worth a warning.
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert!(i.warnings[0].contains("1 MiB blocks"));
}

#[test]
fn contiguous_blocks_are_read_in_one_call() {
    // Static: every block in order. Dynamic: runs broken by a free block and by jumps
    // ([0 1] [2 3] [5] [4] [6]).
    for (map, calls) in [
        (vec![0, 1, 2, 3, 4, 5, 6, 7], 1),
        (vec![0, 1, BLOCK_FREE, 2, 3, 5, 4, 6], 5),
    ] {
        let img = Image::new(4096, map.clone());
        let counting = Counting::new(MemSource(img.bytes()));
        let counters = counting.counters();
        let c = open(Arc::new(counting)).unwrap();
        let opened = counters.snapshot().read_calls;
        assert_eq!(opened, 2, "header and block map");
        let all = read_all(&c);
        assert_eq!(
            counters.snapshot().read_calls - opened,
            calls,
            "map {map:?}"
        );
        for (block, &e) in map.iter().enumerate() {
            let got = &all[block * 4096..(block + 1) * 4096];
            if e == BLOCK_FREE {
                assert!(got.iter().all(|&b| b == 0));
            } else {
                assert_eq!(got, &img.data[e as usize][..], "block {block}");
            }
        }
    }
}

#[test]
fn extra_data_before_each_block_is_skipped() {
    let mut img = Image::new(4096, vec![1, 0]);
    img.extra = 512;
    let c = open_bytes(img.bytes()).unwrap();
    let mut expected = img.data[1].clone();
    expected.extend(&img.data[0]);
    assert_eq!(read_all(&c), expected);
    assert!(c.info.warnings.iter().any(|w| w.contains("extra data")));
}

#[test]
fn odd_disk_size_is_rounded_up_to_a_sector_like_qemu() {
    let mut img = Image::new(4096, vec![0, 1]);
    img.disk_size = 4096 + 1000;
    let c = open_bytes(img.bytes()).unwrap();
    assert_eq!(c.disk.len(), 4096 + 1024);
    let all = read_all(&c);
    assert_eq!(&all[4096..], &img.data[1][..1024]);
    assert!(c.info.warnings.iter().any(|w| w.contains("rounded up")));
}

#[test]
fn differencing_image_counts_what_its_parent_holds() {
    let mut img = Image::new(4096, vec![0, BLOCK_FREE, BLOCK_ZERO, BLOCK_FREE]);
    img.image_type = 4;
    img.linkage = [4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16];
    let c = open_bytes(img.bytes()).unwrap();
    assert_eq!(c.info.subformat.as_deref(), Some("differencing"));
    assert_eq!(
        c.info.parent.as_deref(),
        Some("01020304-0506-0708-090a-0b0c0d0e0f10")
    );
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains("differencing image") && w.contains("01020304-"))
    );
    let missing = c.missing_backing_bytes.clone().unwrap();
    let all = read_all(&c);
    assert_eq!(&all[..4096], &img.data[0][..]);
    assert!(all[4096..].iter().all(|&b| b == 0));
    // Blocks 1 and 3 only; the zero block 2 is this image's own (zeros).
    assert_eq!(missing.load(Ordering::Relaxed), 2 * 4096);

    img.image_type = 3;
    let c = open_bytes(img.bytes()).unwrap();
    assert!(c.info.warnings.iter().any(|w| w.contains("undo image")));
    assert!(c.missing_backing_bytes.is_some());
}

#[test]
fn free_blocks_of_a_base_image_are_not_missing() {
    let img = Image::new(4096, vec![BLOCK_FREE, 0]);
    let c = open_bytes(img.bytes()).unwrap();
    assert!(c.missing_backing_bytes.is_none());
    assert!(read_all(&c)[..4096].iter().all(|&b| b == 0));
}

#[test]
fn allocated_count_comes_from_the_map() {
    let mut img = Image::new(4096, vec![0, 1, BLOCK_FREE]);
    img.blocks_allocated = Some(3);
    let c = open_bytes(img.bytes()).unwrap();
    assert_eq!(c.info.allocated_size, Some(2 * 4096));
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains("says 3 blocks are allocated but the block map holds 2"))
    );
}

#[test]
fn a_block_beyond_the_end_of_the_file_fails_by_name() {
    let img = Image::new(4096, vec![0, 7, 1]);
    let c = open_bytes(img.bytes()).unwrap();
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains("Block 1 of the VDI block map points beyond the end")),
        "{:?}",
        c.info.warnings
    );
    // Block 0 still reads; block 1 fails, naming itself and its entry; block 2 reads.
    let mut buf = vec![0u8; 4096];
    c.disk.read_at(0, &mut buf).unwrap();
    c.disk.read_at(2 * 4096, &mut buf).unwrap();
    assert_eq!(buf, img.data[1]);
    let err = c.disk.read_at(4000, &mut buf).unwrap_err().to_string();
    assert!(
        err.contains("block 1 (block map entry 7)") && err.contains("beyond the end of the file"),
        "{err}"
    );
    assert!(err.contains("at offset 516"), "the entry's offset: {err}");
}

#[test]
fn a_truncated_last_block_fails_and_the_run_before_it_reads() {
    let img = Image::new(4096, vec![0, 1, 2]);
    let mut bytes = img.bytes();
    bytes.truncate(bytes.len() - 100);
    let c = open_bytes(bytes).unwrap();
    let mut buf = vec![0u8; 2 * 4096];
    c.disk.read_at(0, &mut buf).unwrap();
    let mut buf = vec![0u8; 3 * 4096];
    let err = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(err.contains("block 2 (block map entry 2)"), "{err}");
}

#[test]
fn header_checks_say_what_and_where() {
    let good = Image::new(4096, vec![0, 1]).bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..300].to_vec(), "shorter than a VDI header"),
        (
            with32(good.clone(), OFF_SIGNATURE, 1),
            "signature is 0x00000001",
        ),
        (
            with32(good.clone(), OFF_VERSION, 2),
            "VDI version 0.2 is not supported",
        ),
        (
            with32(good.clone(), OFF_HEADER_SIZE, 0x100),
            "header size 256",
        ),
        (
            with32(good.clone(), OFF_IMAGE_TYPE, 9),
            "image type 9 is unknown",
        ),
        (
            with32(good.clone(), OFF_BLOCK_SIZE, 3000),
            "block size 3000 is not a power of two",
        ),
        (with32(good.clone(), OFF_BLOCK_SIZE, 256), "block size 256"),
        (
            with32(good.clone(), OFF_BLOCK_EXTRA, 3),
            "extra data size 3",
        ),
        (
            with32(good.clone(), OFF_BLOCKS, 1),
            "1 blocks of 4096 bytes (4096 bytes) do not cover the disk size of 8192 bytes",
        ),
        (
            with32(good.clone(), OFF_MAP, 0x100),
            "block map offset 256 lies inside the header",
        ),
        (
            with32(good.clone(), OFF_MAP, 0x10_0000),
            "beyond the end of the file",
        ),
        (
            with32(good.clone(), OFF_DATA, 0x201),
            "data area offset 513 overlaps the block map",
        ),
        (
            with32(good.clone(), OFF_DATA, 0x10_0000),
            "data area offset 1048576 is beyond the end of the file",
        ),
    ];
    for (bytes, expected) in cases {
        let msg = message(open_bytes(bytes));
        assert!(msg.contains(expected), "{msg:?} lacks {expected:?}");
    }
    // Errors name the field's offset.
    let msg = message(open_bytes(with32(good.clone(), OFF_IMAGE_TYPE, 9)));
    assert!(msg.contains("(at offset 76)"), "{msg}");
}

/// A file of `len` bytes that holds `head` and then zeros, without the memory.
struct Sparse {
    head: Vec<u8>,
    len: u64,
}

impl ByteSource for Sparse {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        preflight_io::check_bounds(offset, buf.len(), self.len)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.head.get(offset as usize + i).copied().unwrap_or(0);
        }
        Ok(())
    }
}

#[test]
fn a_block_map_above_the_cap_is_refused_before_allocating() {
    // 16 Mi blocks of 1 MiB: a 16 TiB disk whose 64 MiB map lies in the (sparse) file.
    let blocks = 16u32 << 20;
    let mut head = Image::new(4096, vec![]).bytes();
    head = with32(head, OFF_BLOCK_SIZE, 1 << 20);
    head = with32(head, OFF_BLOCKS, blocks);
    head = with32(head, OFF_DATA, 0x200 + blocks * 4);
    head[OFF_DISK_SIZE as usize..OFF_DISK_SIZE as usize + 8]
        .copy_from_slice(&(u64::from(blocks) << 20).to_le_bytes());
    let file = Sparse {
        head,
        len: 0x200 + u64::from(blocks) * 4,
    };
    match open(Arc::new(file)) {
        Err(ContainerError::Io(IoError::TooLarge { offset, len, max })) => {
            assert_eq!((offset, len, max), (0x200, 64 << 20, MAX_MAP_BYTES));
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn huge_entries_and_sizes_do_not_overflow() {
    // Entries near the reserved values with the largest stride: offsets beyond any file.
    let mut img = Image::without_data(1 << 31, vec![BLOCK_ZERO - 1, 0], 0);
    img.extra = 1 << 31;
    img.disk_size = u64::MAX;
    // blocks × block size cannot cover u64::MAX: refused.
    assert!(message(open_bytes(img.bytes())).contains("do not cover"));
    img.disk_size = 2 << 31;
    let c = open_bytes(img.bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    let err = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(
        err.contains("block 0 (block map entry 4294967293)"),
        "{err}"
    );
    let err = c.disk.read_at(1 << 31, &mut buf).unwrap_err().to_string();
    assert!(err.contains("block 1 (block map entry 0)"), "{err}");
    assert!(c.disk.read_at(u64::MAX - 10, &mut buf).is_err());
}
