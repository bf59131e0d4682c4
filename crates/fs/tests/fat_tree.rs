//! FAT12/16/32 images made by the real tools (dosfstools mkfs.vfat, mtools mmd/mcopy/mdel/
//! mattrib) and read by `FatFs`: the tree must equal what mtools extracts (`mcopy -s -m`:
//! names, types, sizes, write times, the hash of every file) and, where the kernel has a vfat
//! driver, what a read-only kernel mount shows (also modes); volume ID and label must equal
//! `blkid -p`. Damaged copies must give clean errors or clean reads, never a panic or a hang.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use preflight_fixtures::{RoMount, bit_flip_positions, fixtures_dir};
use preflight_fs::{FatFs, FileSystem, FileType};
use preflight_io::{ByteSource, Counting, FileSource, IoError, Source};
use sha2::{Digest, Sha256};

/// Bump when a builder below changes what it produces: every cached image is rebuilt.
const FAT_FIXTURE_VERSION: u32 = 2;

// ---------------------------------------------------------------------------------------------
// Building images

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mtool(tool: &str, image: &Path) -> Command {
    let mut c = Command::new(tool);
    c.env("MTOOLS_SKIP_CHECK", "1")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .arg("-i")
        .arg(image);
    c
}

/// `fixtures_dir()/fat-v<version>-<name>/fat.img`, built once by `build` under a lock,
/// published by renaming a temporary directory.
fn cached_image(name: &str, build: impl FnOnce(&Path, &Path)) -> PathBuf {
    let root = fixtures_dir();
    let key = format!("fat-v{FAT_FIXTURE_VERSION}-{name}");
    let dir = root.join(&key);
    let image = dir.join("fat.img");
    if image.is_file() {
        return image;
    }
    let locks = root.join(".locks");
    fs::create_dir_all(&locks).unwrap();
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join(&key))
        .unwrap();
    lock.lock().unwrap();
    if image.is_file() {
        return image;
    }
    let tmp = root
        .join(".tmp")
        .join(format!("{key}-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).unwrap();
    }
    fs::create_dir_all(tmp.join("scratch")).unwrap();
    build(&tmp.join("fat.img"), &tmp.join("scratch"));
    fs::remove_dir_all(tmp.join("scratch")).unwrap();
    fs::rename(&tmp, &dir).unwrap();
    image
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Write `data` at `path` with the modification time `secs` (FAT keeps 2-second steps; odd
/// values check the rounding).
fn write_at_time(path: &Path, data: &[u8], secs: u64) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

const VOLUME_ID: &str = "5EED0E5F";
const LABEL: &str = "PREFLIGHT";
/// Files given the read-only attribute.
const READ_ONLY: &[&str] = &["/EFI/debian/grub.cfg"];

/// The staged tree copied in by `mcopy -s -m`.
fn stage(dir: &Path) {
    let t0 = 1_706_745_600; // 2024-02-01
    write_at_time(
        &dir.join("EFI/BOOT/BOOTX64.EFI"),
        &pseudo_random(70_000, 1),
        t0 + 1,
    );
    write_at_time(
        &dir.join("EFI/debian/grubx64.efi"),
        &pseudo_random(200_000, 2),
        t0 + 2,
    );
    write_at_time(
        &dir.join("EFI/debian/shimx64.efi"),
        &pseudo_random(90_000, 3),
        t0 + 3,
    );
    write_at_time(
        &dir.join("EFI/debian/grub.cfg"),
        b"search.fs_uuid 0000 root\nconfigfile $prefix/grub.cfg\n",
        t0 + 4,
    );
    write_at_time(
        &dir.join("a long name with spaces.txt"),
        b"spaces\n",
        t0 + 61,
    );
    write_at_time(&dir.join("café é.txt"), b"utf-8\n", t0 + 3601);
    write_at_time(&dir.join("日本/ファイル.txt"), b"japanese\n", 946_684_799);
    write_at_time(&dir.join("MixedCase.Txt"), b"mixed\n", 1_000_000_000);
    write_at_time(&dir.join("lower.txt"), b"lower\n", t0);
    write_at_time(&dir.join("UPPER.TXT"), b"upper\n", t0);
    write_at_time(&dir.join("empty"), b"", t0);
    write_at_time(
        &dir.join("big.bin"),
        &pseudo_random(3_000_000, 9),
        4_000_000_000,
    );
    for i in 0..500u32 {
        write_at_time(
            &dir.join(format!("many/entry number {i:04} with a long name")),
            format!("{i}\n").as_bytes(),
            t0 + u64::from(i) * 2,
        );
    }
}

/// An image of `kind` (12, 16 or 32) holding the staged tree, a fragmented file and a label.
fn fat_image(kind: u32) -> PathBuf {
    cached_image(&format!("fat{kind}"), move |image, scratch| {
        let (mib, extra): (u64, &[&str]) = match kind {
            12 => (16, &[]),
            16 => (64, &[]),
            _ => (80, &["-s", "1"]),
        };
        let f = fs::File::create(image).unwrap();
        f.set_len(mib << 20).unwrap();
        drop(f);
        run(Command::new("mkfs.vfat")
            .args(["-F", &kind.to_string(), "-i", VOLUME_ID, "-n", LABEL])
            .args(extra)
            .arg(image));
        let staged = scratch.join("staged");
        stage(&staged);
        let mut entries: Vec<_> = fs::read_dir(&staged)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        run(mtool("mcopy", image)
            .args(["-s", "-m"])
            .args(&entries)
            .arg("::/"));
        for p in READ_ONLY {
            run(mtool("mattrib", image).arg("+r").arg(format!("::{p}")));
        }
        // Fragmentation: interleaved small files, every other one deleted, then a file that
        // fills the holes.
        let frag = scratch.join("frag");
        fs::create_dir_all(&frag).unwrap();
        run(mtool("mmd", image).arg("::/frag"));
        for i in 0..12u32 {
            let p = frag.join(format!("piece{i}"));
            write_at_time(&p, &pseudo_random(5000, 100 + i), 1_706_745_600);
            run(mtool("mcopy", image).arg("-m").arg(&p).arg("::/frag/"));
        }
        for i in (0..12u32).step_by(2) {
            run(mtool("mdel", image).arg(format!("::/frag/piece{i}")));
        }
        if kind == 32 {
            // mtools allocates after FSInfo's next-free hint: point it back at cluster 2 so
            // that the holes get used.
            use std::os::unix::fs::FileExt;
            let f = fs::File::options()
                .read(true)
                .write(true)
                .open(image)
                .unwrap();
            let mut bpb = [0u8; 512];
            f.read_exact_at(&mut bpb, 0).unwrap();
            let bps = u64::from(u16::from_le_bytes([bpb[11], bpb[12]]));
            let info = u64::from(u16::from_le_bytes([bpb[48], bpb[49]])) * bps;
            f.write_all_at(&2u32.to_le_bytes(), info + 492).unwrap();
        }
        let p = frag.join("fragmented.bin");
        write_at_time(&p, &pseudo_random(200_000, 77), 1_706_745_600);
        run(mtool("mcopy", image).arg("-m").arg(&p).arg("::/frag/"));
        run(Command::new("fsck.fat").arg("-n").arg(image));
    })
}

// ---------------------------------------------------------------------------------------------
// Comparing trees

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File {
        size: u64,
        mode: Option<u32>,
        mtime: i64,
        sha256: String,
    },
    Dir {
        mode: Option<u32>,
    },
}

fn hash(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn join(rel: &str, name: &str) -> String {
    if rel == "/" {
        format!("/{name}")
    } else {
        format!("{rel}/{name}")
    }
}

/// A tree on the host (an mtools extraction or a kernel mount). Modes are kept only for a
/// kernel mount; times at FAT's 2-second resolution.
fn host_tree(root: &Path, rel: &str, modes: bool, out: &mut BTreeMap<String, Node>) {
    let dir = root.join(rel.trim_start_matches('/'));
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let path = join(rel, &entry.file_name().to_string_lossy());
        let m = fs::symlink_metadata(entry.path()).unwrap();
        let mode = modes.then(|| m.permissions().mode() & 0o7777);
        let node = if m.is_dir() {
            host_tree(root, &path, modes, out);
            Node::Dir { mode }
        } else {
            Node::File {
                size: m.len(),
                mode,
                mtime: m.mtime() / 2 * 2,
                sha256: hash(&fs::read(entry.path()).unwrap()),
            }
        };
        out.insert(path, node);
    }
}

fn our_tree(fs: &dyn FileSystem, rel: &str, modes: bool, out: &mut BTreeMap<String, Node>) {
    let entries = fs.read_dir(rel).unwrap();
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "{rel}: duplicate names");
    for entry in entries {
        let path = join(rel, &entry.name);
        let m = fs.lstat(&path).unwrap();
        assert_eq!(m.file_type, entry.file_type, "{path}");
        assert_eq!((m.uid, m.gid), (0, 0), "{path}");
        let mode = modes.then_some(m.mode);
        let node = match m.file_type {
            FileType::Directory => {
                our_tree(fs, &path, modes, out);
                Node::Dir { mode }
            }
            FileType::Regular => {
                let data = fs.read_file(&path, 1 << 30).unwrap();
                assert_eq!(data.len() as u64, m.size, "{path}");
                Node::File {
                    size: m.size,
                    mode,
                    mtime: m.mtime.unwrap(),
                    sha256: hash(&data),
                }
            }
            other => panic!("{path}: unexpected type {other:?}"),
        };
        out.insert(path, node);
    }
}

fn open(image: &Path) -> FatFs {
    FatFs::open(Arc::new(FileSource::open(image).unwrap())).unwrap()
}

fn assert_same(expected: &BTreeMap<String, Node>, ours: &BTreeMap<String, Node>, what: &str) {
    assert!(expected.len() > 500, "{what}: {} entries", expected.len());
    for (path, node) in expected {
        assert_eq!(ours.get(path), Some(node), "{what}: {path}");
    }
    for path in ours.keys() {
        assert!(
            expected.contains_key(path),
            "{what}: {path} only in our view"
        );
    }
}

/// What mtools extracts with `mcopy -s -m` (write times kept, as UTC).
fn mtools_tree(image: &Path) -> BTreeMap<String, Node> {
    let out = std::env::temp_dir().join(format!(
        "preflight-fat-out-{}-{}",
        std::process::id(),
        image
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    ));
    if out.exists() {
        fs::remove_dir_all(&out).unwrap();
    }
    fs::create_dir_all(&out).unwrap();
    run(mtool("mcopy", image)
        .args(["-s", "-m", "-n"])
        .arg("::/*")
        .arg(&out));
    let mut tree = BTreeMap::new();
    host_tree(&out, "/", false, &mut tree);
    fs::remove_dir_all(&out).unwrap();
    tree
}

fn compare(kind: u32) -> (PathBuf, FatFs) {
    let image = fat_image(kind);
    let what = format!("FAT{kind}");
    let fs = open(&image);
    assert_eq!(fs.fat_type(), what);
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", false, &mut ours);
    assert_same(&mtools_tree(&image), &ours, &format!("{what} vs mtools"));
    // The kernel's view, where this kernel has a vfat driver.
    let size = fs::metadata(&image).unwrap().len();
    match RoMount::new(&image, 0, size) {
        Ok(mount) => {
            let mut expected = BTreeMap::new();
            host_tree(mount.path(), "/", true, &mut expected);
            drop(mount);
            let mut ours = BTreeMap::new();
            our_tree(&fs, "/", true, &mut ours);
            assert_same(&expected, &ours, &format!("{what} vs the kernel"));
        }
        Err(e) => eprintln!("{what}: no kernel comparison ({e})"),
    }
    // Modes as vfat shows them with default options (umask 022): read-only files 0555.
    for p in READ_ONLY {
        assert_eq!(fs.lstat(p).unwrap().mode, 0o555, "{p}");
    }
    assert_eq!(fs.lstat("/EFI/BOOT/BOOTX64.EFI").unwrap().mode, 0o755);
    assert_eq!(fs.lstat("/EFI").unwrap().mode, 0o755);
    // blkid's identity of the volume.
    let out = run(Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(&image));
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    assert_eq!(Some(fs.volume_id()), field("UUID"), "{out}");
    assert_eq!(fs.label(), field("LABEL"), "{out}");
    assert_eq!(field("VERSION").as_deref(), Some(what.as_str()), "{out}");
    (image, fs)
}

fn check_shapes(fs: &FatFs) {
    // Names as vfat shows them: long names, 8.3 names with their case flags.
    let root: Vec<String> = fs
        .read_dir("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    for n in [
        "MixedCase.Txt",
        "lower.txt",
        "UPPER.TXT",
        "café é.txt",
        "日本",
    ] {
        assert!(root.iter().any(|r| r == n), "{n} in {root:?}");
    }
    // Lookups ignore case, as vfat's do.
    assert_eq!(fs.read_file("/mixedcase.txt", 100).unwrap(), b"mixed\n");
    assert_eq!(
        fs.read_file("/efi/boot/bootx64.efi", 1 << 20)
            .unwrap()
            .len(),
        70_000
    );
    assert_eq!(fs.read_dir("/many").unwrap().len(), 500);
    assert_eq!(fs.lstat("/empty").unwrap().size, 0);
    assert_eq!(fs.read_file("/empty", 10).unwrap(), b"");
    assert_eq!(fs.lstat("/big.bin").unwrap().size, 3_000_000);
    assert!(matches!(
        fs.read_link("/EFI"),
        Err(preflight_fs::FsError::NotASymlink(_))
    ));
}

fn fragments(image: &Path, path: &str) -> usize {
    let out = run(mtool("mshowfat", image).arg(format!("::{path}")));
    out.matches('<').count()
}

#[test]
fn fat12_matches_mtools_blkid_and_the_kernel() {
    let (image, fs) = compare(12);
    check_shapes(&fs);
    assert!(fragments(&image, "/frag/fragmented.bin") > 1);
}

#[test]
fn fat16_matches_mtools_blkid_and_the_kernel() {
    let (image, fs) = compare(16);
    check_shapes(&fs);
    assert!(fragments(&image, "/frag/fragmented.bin") > 1);
}

#[test]
fn fat32_matches_mtools_blkid_and_the_kernel() {
    let (image, fs) = compare(32);
    check_shapes(&fs);
    assert!(fragments(&image, "/frag/fragmented.bin") > 1);
    // The 500-entry directory spans several clusters.
    assert!(fragments(&image, "/many") >= 1);
    assert!(fs.lstat("/many").unwrap().size > 8 * 512);
}

// ---------------------------------------------------------------------------------------------
// Read calls

#[test]
fn opening_the_esp_and_reading_bootx64_takes_few_reads() {
    let image = fat_image(32);
    for kind in [12, 16, 32] {
        let image = if kind == 32 {
            image.clone()
        } else {
            fat_image(kind)
        };
        let counting = Counting::new(FileSource::open(&image).unwrap());
        let counters = counting.counters();
        let fs = FatFs::open(Arc::new(counting)).unwrap();
        let after_open = counters.snapshot();
        let data = fs.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 20).unwrap();
        assert_eq!(data, pseudo_random(70_000, 1));
        let total = counters.snapshot();
        eprintln!(
            "FAT{kind} read calls: open {} ({} bytes), open + /EFI/BOOT/BOOTX64.EFI {} ({} bytes)",
            after_open.read_calls, after_open.bytes_read, total.read_calls, total.bytes_read
        );
        assert!(after_open.read_calls <= 4, "{after_open:?}");
        assert!(total.read_calls <= 8, "{total:?}");
        // Cached now: one read for the data.
        fs.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 20).unwrap();
        assert!(counters.snapshot().read_calls <= total.read_calls + 1);
    }
}

/// The ESP of the project's Debian-like GPT disk (mkfs.vfat + mtools in the fixture builder),
/// read through a partition slice of the raw disk, counted under it.
#[test]
fn the_fixture_esp_reads_with_few_calls() {
    use preflight_fixtures::{DiskSpec, ESP_VOLUME_ID, PartitionRole, Partitioning, layout};
    let spec = DiskSpec {
        partitioning: Partitioning::GptEfi,
        ..DiskSpec::new(preflight_fixtures::debian_guest())
    };
    let disk = preflight_fixtures::raw_disk(&spec);
    let esp = layout(&spec)
        .into_iter()
        .find(|p| p.role == PartitionRole::Esp)
        .unwrap();
    let counting = Counting::new(FileSource::open(&disk).unwrap());
    let counters = counting.counters();
    let slice = preflight_io::Slice::new(Arc::new(counting), esp.start, esp.size);
    let fs = FatFs::open(Arc::new(slice)).unwrap();
    let after_open = counters.snapshot();
    let boot = fs.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 20).unwrap();
    let total = counters.snapshot();
    eprintln!(
        "fixture ESP ({}): open {} calls ({} bytes), open + /EFI/BOOT/BOOTX64.EFI ({} bytes) {} calls ({} bytes)",
        fs.fat_type(),
        after_open.read_calls,
        after_open.bytes_read,
        boot.len(),
        total.read_calls,
        total.bytes_read
    );
    assert_eq!(&boot[..2], b"MZ");
    assert_eq!(
        fs.volume_id().replace('-', ""),
        ESP_VOLUME_ID,
        "blkid shows it as 5EED-0E5F"
    );
    assert!(fs.read_file("/EFI/debian/grub.cfg", 1 << 20).is_ok());
    assert!(after_open.read_calls <= 3, "{after_open:?}");
    assert!(total.read_calls <= 7, "{total:?}");
}

// ---------------------------------------------------------------------------------------------
// Damaged images

/// A file read through a damage overlay: bits flipped at `flips`, bytes replaced at `patches`,
/// the length cut to `len`.
struct Damaged {
    inner: FileSource,
    len: u64,
    flips: Vec<u64>,
    patches: Vec<(u64, Vec<u8>)>,
}

impl ByteSource for Damaged {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        preflight_io::check_bounds(offset, buf.len(), self.len)?;
        self.inner.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for bit in &self.flips {
            if bit / 8 >= offset && bit / 8 < end {
                buf[(bit / 8 - offset) as usize] ^= 1 << (bit % 8);
            }
        }
        for (at, bytes) in &self.patches {
            for (i, b) in bytes.iter().enumerate() {
                let p = at + i as u64;
                if p >= offset && p < end {
                    buf[(p - offset) as usize] = *b;
                }
            }
        }
        Ok(())
    }
}

fn damaged(
    image: &Path,
    len: Option<u64>,
    flips: Vec<u64>,
    patches: Vec<(u64, Vec<u8>)>,
) -> Source {
    let inner = FileSource::open(image).unwrap();
    let len = len.unwrap_or(inner.len());
    Arc::new(Damaged {
        inner,
        len,
        flips,
        patches,
    })
}

fn walk_limited(fs: &dyn FileSystem, path: &str, depth: usize, budget: &mut usize) -> usize {
    let Ok(entries) = fs.read_dir(path) else {
        return 0;
    };
    let mut seen = 0;
    for e in entries {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        seen += 1;
        let p = join(path, &e.name);
        match fs.lstat(&p).map(|m| m.file_type) {
            Ok(FileType::Directory) if depth < 12 => {
                seen += walk_limited(fs, &p, depth + 1, budget)
            }
            Ok(FileType::Regular) => {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = fs.read_at(&p, 0, &mut buf);
                let _ = fs.read_at(&p, 1 << 40, &mut buf);
                let _ = fs.read_file(&p, 4 << 20);
            }
            _ => {}
        }
    }
    seen
}

fn walk_source(source: Source) -> Option<usize> {
    let fs = FatFs::open(source).ok()?;
    let mut budget = 5_000;
    Some(walk_limited(&fs, "/", 0, &mut budget))
}

/// Geometry from the boot sector, read by hand: (FAT offset, FAT bytes, root region offset,
/// data offset, cluster bytes).
fn geometry(image: &Path) -> (u64, u64, u64, u64, u64) {
    let b = fs::read(image).unwrap();
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let bps = u16_at(11);
    let spc = u64::from(b[13]);
    let reserved = u16_at(14);
    let fats = u64::from(b[16]);
    let root_entries = u16_at(17);
    let fat_size = if u16_at(22) != 0 {
        u16_at(22)
    } else {
        u32_at(36)
    };
    let fat = reserved * bps;
    let root = fat + fats * fat_size * bps;
    let data = root + (root_entries * 32).div_ceil(bps) * bps;
    (fat, fat_size * bps, root, data, spc * bps)
}

/// The clusters mshowfat lists for `path` ("::/x <5-7> <9>").
fn clusters(image: &Path, path: &str) -> Vec<u32> {
    let out = run(mtool("mshowfat", image).arg(format!("::{path}")));
    let mut v = Vec::new();
    for part in out.split('<').skip(1) {
        let range = part.split('>').next().unwrap();
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let (a, b): (u32, u32) = (a.trim().parse().unwrap(), b.trim().parse().unwrap());
        v.extend(a..=b);
    }
    v
}

fn fat_entry_patch(fat: u64, kind: u32, cluster: u32, value: u32, image: &Path) -> (u64, Vec<u8>) {
    match kind {
        32 => (fat + u64::from(cluster) * 4, value.to_le_bytes().to_vec()),
        16 => (
            fat + u64::from(cluster) * 2,
            (value as u16).to_le_bytes().to_vec(),
        ),
        _ => {
            let at = fat + u64::from(cluster) + u64::from(cluster) / 2;
            let b = fs::read(image).unwrap();
            let old = u16::from_le_bytes([b[at as usize], b[at as usize + 1]]);
            let v = value as u16 & 0x0FFF;
            let new = if cluster & 1 == 1 {
                (old & 0x000F) | (v << 4)
            } else {
                (old & 0xF000) | v
            };
            (at, new.to_le_bytes().to_vec())
        }
    }
}

#[test]
fn truncated_images_give_clean_errors() {
    for kind in [12, 16, 32] {
        let image = fat_image(kind);
        let full = fs::metadata(&image).unwrap().len();
        for len in [
            0,
            100,
            511,
            512,
            4096,
            65_536,
            1 << 20,
            4 << 20,
            full / 2,
            full - 1,
        ] {
            let started = Instant::now();
            let seen = walk_source(damaged(&image, Some(len), vec![], vec![]));
            assert!(started.elapsed() < Duration::from_secs(60), "len {len}");
            if len < 512 {
                assert!(seen.is_none(), "len {len} opened");
            }
        }
    }
}

#[test]
fn metadata_bit_flips_give_clean_errors_or_reads() {
    for kind in [12, 16, 32] {
        let image = fat_image(kind);
        let (fat, fat_bytes, root, data, cluster) = geometry(&image);
        let mut regions = vec![(0u64, 512u64), (fat, fat_bytes.min(64 * 1024))];
        if kind != 32 {
            regions.push((root, data - root));
        }
        for dir in ["/EFI", "/EFI/debian", "/many", "/frag"] {
            for c in clusters(&image, dir).into_iter().take(4) {
                regions.push((data + u64::from(c - 2) * cluster, cluster));
            }
        }
        if kind == 32 {
            // The root directory's first cluster (BPB_RootClus, usually 2).
            regions.push((data, cluster));
        }
        for seed in 0..40u64 {
            let mut flips = Vec::new();
            for &(start, len) in &regions {
                flips.extend(
                    bit_flip_positions(seed * 7919 + start, 3, len)
                        .into_iter()
                        .map(|b| b + start * 8),
                );
            }
            let started = Instant::now();
            walk_source(damaged(&image, None, flips, vec![]));
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "FAT{kind} seed {seed}"
            );
        }
    }
}

#[test]
fn looping_chains_are_errors_and_self_containing_directories_do_not_hang() {
    for kind in [12, 16, 32] {
        let image = fat_image(kind);
        let (fat, _, _, data, cluster) = geometry(&image);
        // A file whose chain loops back to its first cluster.
        let big = clusters(&image, "/big.bin");
        assert!(big.len() > 3);
        let patch = fat_entry_patch(fat, kind, big[2], big[0], &image);
        let fs = FatFs::open(damaged(&image, None, vec![], vec![patch])).unwrap();
        let err = fs.read_file("/big.bin", 1 << 30).unwrap_err().to_string();
        assert!(
            err.contains("twice") && err.contains("/big.bin"),
            "FAT{kind}: {err}"
        );
        // A chain ending early: an error naming the file.
        let patch = fat_entry_patch(fat, kind, big[2], 0x0FFF_FFFF, &image);
        let fs = FatFs::open(damaged(&image, None, vec![], vec![patch])).unwrap();
        let err = fs.read_file("/big.bin", 1 << 30).unwrap_err().to_string();
        assert!(
            err.contains("/big.bin") && err.contains("ends after 3"),
            "FAT{kind}: {err}"
        );
        // A directory whose chain loops.
        let many = clusters(&image, "/many");
        let last = *many.last().unwrap();
        let patch = fat_entry_patch(fat, kind, last, many[0], &image);
        let fs = FatFs::open(damaged(&image, None, vec![], vec![patch])).unwrap();
        let started = Instant::now();
        let err = fs.read_dir("/many").unwrap_err().to_string();
        assert!(
            err.contains("twice") || err.contains("longer"),
            "FAT{kind}: {err}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        // /EFI/debian made to point at /EFI, its parent: /EFI/debian/debian/… never ends.
        let efi = clusters(&image, "/EFI")[0];
        let efi_at = data + u64::from(efi - 2) * cluster;
        let bytes = fs::read(&image).unwrap();
        let dir = &bytes[efi_at as usize..(efi_at + cluster) as usize];
        let mut patches = Vec::new();
        for (i, e) in dir.chunks_exact(32).enumerate() {
            if &e[..11] != b"DEBIAN     " {
                continue;
            }
            let to = efi;
            let at = efi_at + i as u64 * 32;
            patches.push((at + 26, (to as u16).to_le_bytes().to_vec()));
            patches.push((at + 20, ((to >> 16) as u16).to_le_bytes().to_vec()));
        }
        assert_eq!(patches.len(), 2, "FAT{kind}");
        let fs = FatFs::open(damaged(&image, None, vec![], patches)).unwrap();
        assert_eq!(
            fs.read_dir("/EFI/debian/debian/BOOT").unwrap(),
            fs.read_dir("/EFI/BOOT").unwrap()
        );
        let started = Instant::now();
        let mut budget = 20_000;
        walk_limited(&fs, "/", 0, &mut budget);
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
