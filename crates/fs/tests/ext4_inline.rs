//! ext4 file systems with features current distributions enable or may enable, made by
//! mkfs.ext4 and filled through a read-write kernel loop mount, read by `Ext4Fs`: the tree must
//! equal what the kernel shows through a read-only mount (names, types, sizes, modes, owners,
//! times, link targets, the hash of every file). `inline_data` file systems (which ext4-view
//! refuses to load) go through our own reader; the others through ext4-view. Needs root.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use preflight_fixtures::{RoMount, bit_flip_positions, debian_guest, fixtures_dir};
use preflight_fs::{Ext4Fs, FileSystem, FileType};
use preflight_io::{ByteSource, FileSource, IoError, Source};
use sha2::{Digest, Sha256};

/// Bump when a builder below changes what it produces: every cached image is rebuilt.
const EXT4_FIXTURE_VERSION: u32 = 2;
const IMAGE_MIB: u64 = 64;

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

/// `fixtures_dir()/ext4-v<version>-<name>/ext4.img`, built once under a lock, published by
/// renaming a temporary directory.
fn cached_image(name: &str, build: impl FnOnce(&Path, &Path)) -> PathBuf {
    let root = fixtures_dir();
    let key = format!("ext4-v{EXT4_FIXTURE_VERSION}-{name}");
    let dir = root.join(&key);
    let image = dir.join("ext4.img");
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
    build(&tmp.join("ext4.img"), &tmp.join("scratch"));
    fs::remove_dir_all(tmp.join("scratch")).unwrap();
    fs::rename(&tmp, &dir).unwrap();
    image
}

/// A read-write loop mount, unmounted on drop (also when the builder panics).
struct RwMount(PathBuf);

impl RwMount {
    fn new(image: &Path, at: &Path) -> RwMount {
        fs::create_dir_all(at).unwrap();
        run(Command::new("mount")
            .arg("-o")
            .arg("loop")
            .arg(image)
            .arg(at));
        RwMount(at.to_path_buf())
    }
}

impl Drop for RwMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn text(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| b'a' + ((i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) % 26) as u8)
        .collect()
}

/// The tree: the Debian guest, plus every size class of inline data (in i_block only, spilling
/// into system.data, too big to stay inline), small (inline) and big (block) directories, a
/// directory grown then emptied, symlinks of every length, owners, modes and special files.
fn write_tree(root: &Path) {
    debian_guest().materialize(root).unwrap();
    let srv = root.join("srv");
    fs::create_dir_all(&srv).unwrap();
    let sizes = srv.join("sizes");
    fs::create_dir_all(&sizes).unwrap();
    for len in [
        0usize, 1, 10, 59, 60, 61, 100, 150, 160, 200, 500, 4096, 5000, 100_000,
    ] {
        fs::write(sizes.join(format!("f{len}")), text(len, len as u32)).unwrap();
    }
    fs::write(srv.join("binary-small"), pseudo_random(90, 3)).unwrap();
    // A file written inline first, then grown out of the inode.
    fs::write(srv.join("grown"), b"small\n").unwrap();
    {
        use std::io::Write;
        let mut f = fs::File::options()
            .append(true)
            .open(srv.join("grown"))
            .unwrap();
        f.write_all(&text(9000, 5)).unwrap();
    }
    // Directories: empty, a few entries (inline), enough to spill into system.data, many
    // (converted to blocks), and one grown then emptied.
    fs::create_dir_all(srv.join("empty-dir")).unwrap();
    for (name, n) in [("d2", 2usize), ("d5", 5), ("d300", 300)] {
        let d = srv.join(name);
        fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            fs::write(d.join(format!("e{i}")), format!("{i}\n")).unwrap();
        }
    }
    let shrunk = srv.join("shrunk");
    fs::create_dir_all(&shrunk).unwrap();
    for i in 0..100 {
        fs::write(shrunk.join(format!("entry-with-a-long-name-{i:04}")), b"").unwrap();
    }
    for i in 1..100 {
        fs::remove_file(shrunk.join(format!("entry-with-a-long-name-{i:04}"))).unwrap();
    }
    fs::write(srv.join("ünïcödé name ✓"), b"ok\n").unwrap();
    // Symlinks: fast (< 60 bytes), 60 and more (block or inline), long.
    symlink("../usr/lib/os-release", srv.join("rel-link")).unwrap();
    symlink(format!("/{}", "x".repeat(59)), srv.join("link-60")).unwrap();
    symlink(format!("/{}", "y".repeat(100)), srv.join("link-101")).unwrap();
    symlink(format!("/{}", "z/".repeat(400)), srv.join("link-long")).unwrap();
    // Owners and modes, specials.
    let owned = srv.join("owned");
    fs::create_dir_all(&owned).unwrap();
    fs::write(owned.join("setuid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(owned.join("setuid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(owned.join("user-file"), "mine\n").unwrap();
    lchown(owned.join("user-file"), Some(1000), Some(1000)).unwrap();
    fs::set_permissions(owned.join("user-file"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(owned.join("big-ids"), "x\n").unwrap();
    lchown(owned.join("big-ids"), Some(100_000), Some(200_000)).unwrap();
    run(Command::new("mkfifo").arg(srv.join("fifo")));
    run(Command::new("mknod")
        .arg(srv.join("null-dev"))
        .args(["c", "1", "3"]));
    // After 2038 (a negative 32-bit base time: ext4-view refuses the inode and our reader
    // takes over), big enough for double-indirect blocks on ext3 with 1 KiB blocks.
    let future = srv.join("future");
    fs::write(&future, pseudo_random(3_000_000, 2200)).unwrap();
    let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(7_258_118_400);
    fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn ext4_image(name: &str, mkfs_args: &[&str]) -> PathBuf {
    let args: Vec<String> = mkfs_args.iter().map(|s| s.to_string()).collect();
    cached_image(name, move |image, scratch| {
        let f = fs::File::create(image).unwrap();
        f.set_len(IMAGE_MIB << 20).unwrap();
        drop(f);
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .args(&args)
            .arg(image));
        let mnt = scratch.join("mnt");
        let mount = RwMount::new(image, &mnt);
        write_tree(&mnt);
        run(&mut Command::new("sync"));
        drop(mount);
        run(Command::new("e2fsck").args(["-f", "-n"]).arg(image));
    })
}

// ---------------------------------------------------------------------------------------------
// Comparing trees

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File {
        size: u64,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: i64,
        sha256: String,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: i64,
    },
    Link {
        target: String,
        uid: u32,
        gid: u32,
    },
    Other {
        kind: &'static str,
        mode: u32,
        uid: u32,
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

fn kernel_tree(root: &Path, rel: &str, out: &mut BTreeMap<String, Node>) {
    let dir = root.join(rel.trim_start_matches('/'));
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let path = join(rel, &entry.file_name().to_string_lossy());
        let m = fs::symlink_metadata(entry.path()).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        let ft = m.file_type();
        let node = if ft.is_symlink() {
            Node::Link {
                target: fs::read_link(entry.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                uid: m.uid(),
                gid: m.gid(),
            }
        } else if ft.is_dir() {
            kernel_tree(root, &path, out);
            Node::Dir {
                mode,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime(),
            }
        } else if ft.is_file() {
            Node::File {
                size: m.len(),
                mode,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime(),
                sha256: hash(&fs::read(entry.path()).unwrap()),
            }
        } else {
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_fifo() { "fifo" } else { "char" };
            Node::Other {
                kind,
                mode,
                uid: m.uid(),
            }
        };
        out.insert(path, node);
    }
}

fn our_tree(fs: &dyn FileSystem, rel: &str, out: &mut BTreeMap<String, Node>) {
    let entries = fs.read_dir(rel).unwrap();
    for entry in entries {
        let path = join(rel, &entry.name);
        let m = fs.lstat(&path).unwrap();
        assert_eq!(m.file_type, entry.file_type, "{path}: entry vs inode type");
        let node = match m.file_type {
            FileType::Symlink => Node::Link {
                target: fs.read_link(&path).unwrap(),
                uid: m.uid,
                gid: m.gid,
            },
            FileType::Directory => {
                our_tree(fs, &path, out);
                Node::Dir {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    mtime: m.mtime.unwrap(),
                }
            }
            FileType::Regular => {
                let data = fs.read_file(&path, 1 << 30).unwrap();
                assert_eq!(data.len() as u64, m.size, "{path}");
                Node::File {
                    size: m.size,
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    mtime: m.mtime.unwrap(),
                    sha256: hash(&data),
                }
            }
            FileType::Fifo => Node::Other {
                kind: "fifo",
                mode: m.mode,
                uid: m.uid,
            },
            FileType::CharDevice => Node::Other {
                kind: "char",
                mode: m.mode,
                uid: m.uid,
            },
            other => panic!("{path}: unexpected type {other:?}"),
        };
        out.insert(path, node);
    }
}

fn open(image: &Path) -> Ext4Fs {
    Ext4Fs::open(Arc::new(FileSource::open(image).unwrap())).unwrap()
}

fn compare_with_kernel(image: &Path, what: &str) -> Ext4Fs {
    let size = fs::metadata(image).unwrap().len();
    let mount = RoMount::new(image, 0, size).expect("loop mount (needs root)");
    let mut expected = BTreeMap::new();
    kernel_tree(mount.path(), "/", &mut expected);
    drop(mount);
    let fs = open(image);
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", &mut ours);
    assert!(expected.len() > 300, "{what}: {} entries", expected.len());
    for (path, node) in &expected {
        assert_eq!(ours.get(path), Some(node), "{what}: {path}");
    }
    for path in ours.keys() {
        assert!(
            expected.contains_key(path),
            "{what}: {path} only in our view"
        );
    }
    fs
}

/// debugfs's "Size of inline data" for `path`, if the inode holds inline data.
fn inline_size(image: &Path, path: &str) -> Option<u64> {
    let out = run(Command::new("debugfs")
        .args(["-R", &format!("stat {path}")])
        .arg(image));
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Size of inline data:"))
        .map(|v| v.trim().parse().unwrap())
}

fn check_inline_shapes(image: &Path, fs: &Ext4Fs) {
    assert!(fs.uses_inline_reader());
    assert_eq!(inline_size(image, "/srv/sizes/f10"), Some(60));
    assert!(
        inline_size(image, "/srv/sizes/f100").unwrap() > 60,
        "spills into system.data"
    );
    assert_eq!(inline_size(image, "/srv/sizes/f5000"), None);
    assert!(inline_size(image, "/srv/d2").is_some(), "inline directory");
    assert!(
        inline_size(image, "/srv/d5").unwrap() > 60,
        "directory in system.data"
    );
    assert_eq!(inline_size(image, "/srv/d300"), None, "block directory");
    assert_eq!(fs.read_file("/srv/sizes/f10", 100).unwrap(), text(10, 10));
    assert_eq!(fs.lstat("/srv/future").unwrap().mtime, Some(7_258_118_400));
    let mut buf = [0u8; 30];
    assert_eq!(fs.read_at("/srv/sizes/f150", 140, &mut buf).unwrap(), 10);
    assert_eq!(&buf[..10], &text(150, 150)[140..]);
    assert!(fs.lstat("/srv/nope").unwrap_err().is_not_found());
    assert!(fs.read_dir("/srv/sizes/f10").unwrap_err().is_not_found());
    assert!(matches!(
        fs.read_link("/srv/d2"),
        Err(preflight_fs::FsError::NotASymlink(_))
    ));
    assert!(matches!(
        fs.read_file("/srv/d2", 100),
        Err(preflight_fs::FsError::NotAFile(_))
    ));
}

#[test]
fn inline_data_64bit_matches_the_kernel() {
    let image = ext4_image("inline-64bit", &["-O", "inline_data"]);
    let fs = compare_with_kernel(&image, "inline_data");
    check_inline_shapes(&image, &fs);
}

#[test]
fn inline_data_without_64bit_matches_the_kernel() {
    let image = ext4_image("inline-no64bit", &["-O", "inline_data,^64bit"]);
    let fs = compare_with_kernel(&image, "inline_data,^64bit");
    check_inline_shapes(&image, &fs);
}

#[test]
fn inline_data_1k_blocks_matches_the_kernel() {
    let image = ext4_image("inline-1k", &["-b", "1024", "-O", "inline_data"]);
    let fs = compare_with_kernel(&image, "inline_data, 1 KiB blocks");
    check_inline_shapes(&image, &fs);
}

#[test]
fn current_defaults_and_new_features_match_the_kernel() {
    // This mke2fs's defaults (metadata_csum, 64bit, …), then orphan_file and
    // metadata_csum_seed (e2fsprogs 1.47), through ext4-view.
    for (name, args) in [
        ("defaults", &[][..]),
        (
            "orphan-csum-seed",
            &["-O", "orphan_file,metadata_csum_seed"][..],
        ),
    ] {
        let image = ext4_image(name, args);
        let fs = compare_with_kernel(&image, name);
        assert!(!fs.uses_inline_reader());
        assert_eq!(fs.lstat("/srv/future").unwrap().mtime, Some(7_258_118_400));
    }
}

#[test]
fn large_dir_and_ea_inode_match_the_kernel() {
    // Both make ext4-view 1.0 refuse the file system: our reader reads it.
    let image = ext4_image("largedir-eainode", &["-O", "large_dir,ea_inode"]);
    let fs = compare_with_kernel(&image, "large_dir,ea_inode");
    assert!(fs.uses_inline_reader());
}

#[test]
fn ext3_block_maps_through_the_fallback_match_the_kernel() {
    // ext4-view reads the tree; the file dated 2200 goes through our reader's block map
    // (direct, indirect and double-indirect blocks).
    let image = ext4_image("ext3-1k", &["-t", "ext3", "-b", "1024"]);
    let fs = compare_with_kernel(&image, "ext3 1 KiB blocks");
    assert!(!fs.uses_inline_reader());
    assert_eq!(fs.lstat("/srv/future").unwrap().mtime, Some(7_258_118_400));
    assert_eq!(
        fs.read_file("/srv/future", 1 << 30).unwrap(),
        pseudo_random(3_000_000, 2200)
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged images

struct Damaged {
    inner: FileSource,
    len: u64,
    flips: Vec<u64>,
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
        Ok(())
    }
}

fn walk_limited(fs: &dyn FileSystem, path: &str, depth: usize, budget: &mut usize) {
    let Ok(entries) = fs.read_dir(path) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        let p = join(path, &e.name);
        match fs.lstat(&p).map(|m| m.file_type) {
            Ok(FileType::Directory) if depth < 12 => walk_limited(fs, &p, depth + 1, budget),
            Ok(FileType::Regular) => {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = fs.read_at(&p, 0, &mut buf);
            }
            Ok(FileType::Symlink) => {
                let _ = fs.read_link(&p);
            }
            _ => {}
        }
    }
}

#[test]
fn damaged_inline_images_give_clean_errors_or_reads() {
    let image = ext4_image("inline-1k", &["-b", "1024", "-O", "inline_data"]);
    let full = fs::metadata(&image).unwrap().len();
    // Truncations.
    for len in [0, 1024, 2047, 4096, 65_536, 1 << 20, full / 2, full - 1] {
        let src: Source = Arc::new(Damaged {
            inner: FileSource::open(&image).unwrap(),
            len,
            flips: vec![],
        });
        if let Ok(fs) = Ext4Fs::open(src) {
            let mut budget = 5000;
            walk_limited(&fs, "/", 0, &mut budget);
        }
    }
    // Bit flips in the first 2 MiB (superblock, group descriptors, bitmaps, inode tables,
    // early directory blocks).
    for seed in 0..60u64 {
        let flips: Vec<u64> = bit_flip_positions(seed, 40, 2 << 20);
        let src: Source = Arc::new(Damaged {
            inner: FileSource::open(&image).unwrap(),
            len: full,
            flips,
        });
        let started = Instant::now();
        if let Ok(fs) = Ext4Fs::open(src) {
            let mut budget = 5000;
            walk_limited(&fs, "/", 0, &mut budget);
        }
        assert!(started.elapsed() < Duration::from_secs(30), "seed {seed}");
    }
}
