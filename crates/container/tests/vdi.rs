//! The VDI reader against qemu-img: dynamic and static images of GPT, MBR-logical and
//! unpartitioned disks and of a 3 GiB sparse disk read byte-identical to `qemu-img convert -O
//! raw`; header facts match `qemu-img info` and `qemu-img map`; a differencing image (made by
//! editing a dynamic one, as qemu-img cannot create one) reports its parent and counts what the
//! parent would hold; damaged copies open and read without panicking, or fail cleanly.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::{Container as Opened, ContainerError, Format, open};
use preflight_fixtures::{
    Container, DiskSpec, Partitioning, bit_flip_positions, bit_flipped_copy, debian_guest,
    fixtures_dir, image, qemu_raw_sha256_as, sha256_source, truncated_copy,
};
use preflight_io::{BlockCache, ByteSource, Counting, FileSource, IoError};

const MIB: u64 = 1 << 20;

fn open_path(path: &Path) -> Result<Opened, ContainerError> {
    open(Arc::new(FileSource::open(path).unwrap()))
}

fn detail<'a>(c: &'a Opened, key: &str) -> Option<&'a str> {
    c.info
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn qemu_img(args: &[&str], path: &Path) -> std::process::Output {
    Command::new("qemu-img")
        .args(args)
        .arg(path)
        .output()
        .expect("qemu-img runs")
}

/// A number field of `qemu-img info --output=json`. The image's own fields come after its
/// `children` (the protocol layer, which has a `virtual-size` of its own): take the last one.
fn info_number(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\": ");
    let at = json
        .rfind(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Bytes `qemu-img map --output=json` reports as data (allocated blocks of a dynamic image).
fn qemu_data_bytes(path: &Path) -> u64 {
    let out = qemu_img(&["map", "--output=json", "-f", "vdi"], path);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split('}')
        .filter(|e| e.contains("\"data\": true"))
        .map(|e| info_number(e, "length"))
        .sum()
}

/// Header fields straight from the file, for building expectations.
struct Raw {
    map_offset: u64,
    data_offset: u64,
    blocks: u64,
    map: Vec<u32>,
}

fn raw_header(path: &Path) -> Raw {
    let f = fs::File::open(path).unwrap();
    let mut h = [0u8; 512];
    f.read_exact_at(&mut h, 0).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(h[at..at + 4].try_into().unwrap());
    let (map_offset, data_offset, blocks) = (u32_at(0x154), u32_at(0x158), u32_at(0x180));
    let mut map = vec![0u8; blocks as usize * 4];
    f.read_exact_at(&mut map, map_offset.into()).unwrap();
    Raw {
        map_offset: map_offset.into(),
        data_offset: data_offset.into(),
        blocks: blocks.into(),
        map: map
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    }
}

/// The virtual disk equals qemu-img's, and the facts equal what qemu-img and the file say.
fn check(spec: &DiskSpec, container: Container) -> Opened {
    let path = image(spec, container);
    let c = open_path(&path).unwrap_or_else(|e| panic!("{container:?}: {e}"));
    let what = format!(
        "{container:?} of {:?} ({})",
        spec.partitioning,
        path.display()
    );
    assert_eq!(c.info.format, Format::Vdi, "{what}");
    assert_eq!(
        sha256_source(&*c.disk, MIB as usize),
        qemu_raw_sha256_as(&path, "vdi"),
        "{what}: our virtual disk differs from qemu-img's"
    );

    let info = qemu_img(&["info", "--output=json", "-f", "vdi"], &path);
    let json = String::from_utf8(info.stdout).unwrap();
    assert_eq!(
        c.info.virtual_size,
        info_number(&json, "virtual-size"),
        "{what}"
    );
    assert_eq!(c.info.virtual_size, spec.disk_mib * MIB, "{what}");
    assert_eq!(c.disk.len(), c.info.virtual_size, "{what}");
    assert_eq!(
        c.info.block_size,
        Some(info_number(&json, "cluster-size")),
        "{what}"
    );
    assert_eq!(c.info.version.as_deref(), Some("1.1"), "{what}");
    assert_eq!(
        c.info.file_size,
        fs::metadata(&path).unwrap().len(),
        "{what}"
    );
    assert_eq!(
        detail(&c, "banner"),
        Some("<<< QEMU VM Virtual Disk Image >>>"),
        "{what}"
    );
    assert!(
        detail(&c, "image UUID").is_some_and(|u| u.len() == 36),
        "{what}"
    );
    assert!(
        c.info.parent.is_none() && c.missing_backing_bytes.is_none(),
        "{what}"
    );
    assert!(c.info.warnings.is_empty(), "{what}: {:?}", c.info.warnings);

    let raw = raw_header(&path);
    let allocated = c.info.allocated_size.unwrap();
    if container == Container::VdiStatic {
        assert_eq!(c.info.subformat.as_deref(), Some("static"), "{what}");
        assert_eq!(allocated, c.info.virtual_size, "{what}: every block");
        assert_eq!(c.info.file_size, raw.data_offset + allocated, "{what}");
    } else {
        assert_eq!(c.info.subformat.as_deref(), Some("dynamic"), "{what}");
        assert_eq!(allocated, qemu_data_bytes(&path), "{what}: qemu-img map");
        assert!(allocated < c.info.virtual_size, "{what}: sparse");
    }
    let expected = format!("{} of {}", allocated / MIB, raw.blocks);
    assert_eq!(
        detail(&c, "blocks allocated"),
        Some(expected.as_str()),
        "{what}"
    );
    c
}

#[test]
fn dynamic_and_static_read_like_qemu_img() {
    for partitioning in [
        Partitioning::Gpt,
        Partitioning::MbrLogical,
        Partitioning::None,
    ] {
        let spec = DiskSpec {
            partitioning,
            ..DiskSpec::new(debian_guest())
        };
        check(&spec, Container::VdiDynamic);
        check(&spec, Container::VdiStatic);
    }
}

/// The 3 GiB disk: identical to qemu-img, and read with few calls. Prints the counts (stderr,
/// `--nocapture`) for the benchmark notes.
#[test]
fn large_sparse_disk_reads_like_qemu_img_in_few_calls() {
    let spec = DiskSpec {
        disk_mib: 3072,
        ..DiskSpec::new(debian_guest())
    };
    for container in [Container::VdiDynamic, Container::VdiStatic] {
        let c = check(&spec, container);
        let allocated_blocks = c.info.allocated_size.unwrap() / MIB;
        drop(c);
        let path = image(&spec, container);
        for chunk in [MIB as usize, 8 * MIB as usize] {
            // The stack `preflight_core::inspect` builds: Counting under a 256 KiB block cache.
            let counting = Counting::new(FileSource::open(&path).unwrap());
            let counters = counting.counters();
            let file = Arc::new(BlockCache::new(counting, 256 * 1024, 64 * MIB));
            let c = open(file).unwrap();
            let opened = counters.snapshot();
            let sha = sha256_source(&*c.disk, chunk);
            let total = counters.snapshot();
            eprintln!(
                "{container:?} 3 GiB, {} MiB reads: open {} calls / {} bytes; open + sha256 {} calls / {} bytes ({} blocks allocated)",
                chunk as u64 / MIB,
                opened.read_calls,
                opened.bytes_read,
                total.read_calls,
                total.bytes_read,
                allocated_blocks
            );
            assert_eq!(sha, qemu_raw_sha256_as(&path, "vdi"));
            // Header and map fit in the first cached 256 KiB block.
            assert_eq!(opened.read_calls, 1, "{container:?}");
            // One call per run of blocks contiguous in the file within a read, so at most one
            // per allocated block; a static image's blocks are all contiguous.
            let calls = total.read_calls - opened.read_calls;
            let per_chunk = chunk as u64 / MIB;
            if container == Container::VdiStatic {
                assert_eq!(calls, spec.disk_mib / per_chunk, "{container:?}");
            } else if per_chunk == 1 {
                assert_eq!(calls, allocated_blocks, "{container:?}");
            } else {
                assert!(calls < allocated_blocks, "{container:?}: {calls} calls");
            }
        }
    }
}

/// A private copy of `src` with `edit` applied, built once under the fixtures directory (named
/// after the source's own fixture directory and `what`).
fn edited_copy(src: &Path, what: &str, edit: impl FnOnce(&fs::File)) -> PathBuf {
    let key = src
        .parent()
        .and_then(Path::file_name)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let dir = fixtures_dir().join(format!("vdi-test-{what}-{key}"));
    let path = dir.join(src.file_name().unwrap());
    if path.is_file() {
        return path;
    }
    let tmp = fixtures_dir().join(format!("vdi-test-{what}-{key}.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    let copy = tmp.join(src.file_name().unwrap());
    let status = Command::new("cp")
        .arg("--sparse=always")
        .arg(src)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    edit(&fs::File::options().write(true).open(&copy).unwrap());
    // Another test process may have won the race: theirs is as good as ours.
    if fs::rename(&tmp, &dir).is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    path
}

/// Parent UUID 01020304-0506-0708-090a-0b0c0d0e0f10 as VirtualBox stores it (RTUUID: first
/// three fields little-endian).
const PARENT_STORED: [u8; 16] = [4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16];
const PARENT_TEXT: &str = "01020304-0506-0708-090a-0b0c0d0e0f10";

/// qemu-img cannot create a differencing VDI (nor read one: it refuses a non-null link UUID),
/// so this one is a dynamic image edited as VirtualBox would have written it: image type 4
/// (`VDI_IMAGE_TYPE_DIFF`) at 0x4c, the parent's UUID at 0x1a8 (`uuidLinkage`) and its
/// modification UUID at 0x1b8 (`uuidParentModify`); and its first free block turned into a
/// zero block (0xfffffffe), which is this image's own zeros, not the parent's data.
#[test]
fn differencing_image_names_its_parent_and_counts_what_it_would_hold() {
    let spec = DiskSpec::new(debian_guest());
    let base = image(&spec, Container::VdiDynamic);
    let raw = raw_header(&base);
    let first_free = raw.map.iter().position(|&e| e == u32::MAX).unwrap() as u64;
    let path = edited_copy(&base, "differencing", |f| {
        f.write_all_at(&4u32.to_le_bytes(), 0x4c).unwrap();
        f.write_all_at(&PARENT_STORED, 0x1a8).unwrap();
        f.write_all_at(&[0x77; 16], 0x1b8).unwrap();
        f.write_all_at(
            &0xffff_fffeu32.to_le_bytes(),
            raw.map_offset + 4 * first_free,
        )
        .unwrap();
    });

    let qemu = qemu_img(&["info", "-f", "vdi"], &path);
    assert!(!qemu.status.success());
    assert!(
        String::from_utf8_lossy(&qemu.stderr).contains("non-NULL link UUID"),
        "qemu-img refuses differencing VDIs"
    );

    let c = open_path(&path).unwrap();
    assert_eq!(c.info.subformat.as_deref(), Some("differencing"));
    assert_eq!(c.info.parent.as_deref(), Some(PARENT_TEXT));
    assert_eq!(detail(&c, "parent UUID"), Some(PARENT_TEXT));
    assert_eq!(detail(&c, "image type"), Some("differencing"));
    assert!(detail(&c, "parent modification UUID").is_some_and(|u| u.starts_with("77777777-")));
    assert_eq!(c.info.warnings.len(), 1, "{:?}", c.info.warnings);
    assert!(c.info.warnings[0].contains(PARENT_TEXT));
    let missing = c
        .missing_backing_bytes
        .clone()
        .expect("a missing-bytes counter");
    assert_eq!(missing.load(Ordering::Relaxed), 0);

    // What this image holds reads as in the base image (whose reading equals qemu-img's): its
    // free blocks were zeros there and are zeros here.
    assert_eq!(
        sha256_source(&*c.disk, MIB as usize),
        qemu_raw_sha256_as(&base, "vdi")
    );
    let free = raw.map.iter().filter(|&&e| e == u32::MAX).count() as u64 - 1;
    assert_eq!(missing.load(Ordering::Relaxed), free * MIB);
}

/// Open and read everything; an error is fine, a panic or a hang is not. Returns the open
/// error, or the read errors.
fn survive(source: Arc<dyn ByteSource>) -> Result<Vec<String>, String> {
    let c = open(source).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    let mut buf = vec![0u8; MIB as usize];
    let mut off = 0;
    while off < c.disk.len() && off < 512 * MIB {
        let n = (c.disk.len() - off).min(MIB) as usize;
        if let Err(e) = c.disk.read_at(off, &mut buf[..n]) {
            errors.push(e.to_string());
        }
        off += n as u64;
    }
    Ok(errors)
}

#[test]
fn truncated_copies_fail_cleanly_and_say_where() {
    let spec = DiskSpec::new(debian_guest());
    let path = image(&spec, Container::VdiDynamic);
    let raw = raw_header(&path);
    let len = fs::metadata(&path).unwrap().len();
    let map_end = raw.map_offset + raw.blocks * 4;
    let first_data = raw.map.iter().position(|&e| e == 0).unwrap();

    let cases: Vec<(u64, Option<String>)> = vec![
        (300, Some("shorter than a VDI header".into())),
        (
            raw.map_offset + 8,
            Some(format!(
                "block map of {} entries at offset {} ends at {map_end}, beyond the end of the file",
                raw.blocks, raw.map_offset
            )),
        ),
        (raw.data_offset, None),
        (raw.data_offset + 2 * MIB + 123, None),
        (len - 1, None),
    ];
    for (at, expected) in cases {
        let copy = truncated_copy(&path, at);
        let result = survive(Arc::new(FileSource::open(&copy).unwrap()));
        match (expected, result) {
            (Some(msg), Err(e)) => assert!(e.contains(&msg), "cut at {at}: {e}"),
            (Some(msg), Ok(_)) => panic!("cut at {at}: opened, expected {msg}"),
            (None, Err(e)) => panic!("cut at {at}: {e}"),
            (None, Ok(errors)) => {
                assert!(!errors.is_empty(), "cut at {at}: data is missing");
                assert!(
                    errors
                        .iter()
                        .all(|e| e.contains("beyond the end of the file")),
                    "cut at {at}: {errors:?}"
                );
            }
        }
    }
    // Cut right after the map: the warning and the first read name the first data block.
    let copy = truncated_copy(&path, raw.data_offset);
    let c = open_path(&copy).unwrap();
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains(&format!("(the first is block {first_data})"))),
        "{:?}",
        c.info.warnings
    );
    let mut buf = vec![0u8; 4096];
    let err = c
        .disk
        .read_at(first_data as u64 * MIB, &mut buf)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "block {first_data} (block map entry 0) has its data at offset {}",
            raw.data_offset
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "at offset {}",
            raw.map_offset + 4 * first_data as u64
        )),
        "{err}"
    );
}

/// `bit_flipped_copy`'s damage, applied over the intact file in memory, so hundreds of seeds
/// cost no copies.
struct Flipped {
    inner: FileSource,
    bits: Vec<u64>,
}

impl ByteSource for Flipped {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.inner.read_at(offset, buf)?;
        for bit in &self.bits {
            if let Some(i) = (bit / 8).checked_sub(offset)
                && let Some(b) = buf.get_mut(i as usize)
            {
                *b ^= 1 << (bit % 8);
            }
        }
        Ok(())
    }
}

#[test]
fn bit_flipped_images_open_and_read_or_fail_cleanly() {
    let spec = DiskSpec::new(debian_guest());
    for container in [Container::VdiDynamic, Container::VdiStatic] {
        let path = image(&spec, container);
        let raw = raw_header(&path);
        let (mut opened, mut refused) = (0, 0);
        // Header only, then header and block map.
        for (within, flips) in [(512, 3), (raw.data_offset, 6)] {
            for seed in 0..150 {
                let bits = bit_flip_positions(seed, flips, within);
                let source = Flipped {
                    inner: FileSource::open(&path).unwrap(),
                    bits,
                };
                match survive(Arc::new(source)) {
                    Ok(_) => opened += 1,
                    Err(_) => refused += 1,
                }
            }
        }
        eprintln!("{container:?}: {opened} flipped images opened, {refused} refused");
        assert!(opened > 0 && refused > 0);
    }
    // A few real damaged files, as the CLI would see them.
    let path = image(&spec, Container::VdiDynamic);
    for seed in 0..3 {
        let copy = bit_flipped_copy(&path, seed, 4, 512);
        let _ = survive(Arc::new(FileSource::open(&copy).unwrap()));
    }
}
