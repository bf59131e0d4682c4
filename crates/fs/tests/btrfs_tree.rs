//! The Btrfs reader against the kernel: images made by mkfs.btrfs and filled through real
//! read-write mounts (subvolumes as Fedora/openSUSE lay them out, zstd/zlib/lzo compression,
//! inline, sparse and preallocated files, a big directory), then every subvolume's tree as we
//! read it must equal a read-only kernel mount of it with `subvol=`: names, types, sizes, modes,
//! owners, link targets and the hash of every file. Also: the subvolume list against
//! `btrfs subvolume list`, and damaged images (truncated, bit flips) end in clean errors.
//!
//! Needs root (loop mounts) and btrfs-progs.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use preflight_fixtures::{debian_guest, fixtures_dir};
use preflight_fs::btrfs::{BtrfsFs, SubvolSelector};
use preflight_fs::{FileSystem, FileType};
use preflight_io::{ByteSource, Counting, FileSource, IoError, Slice, Source};
use sha2::{Digest, Sha256};

/// Bump when a builder below changes what it produces.
const VERSION: u32 = 1;

/// Kernel mounts of btrfs images are serialized: two loop devices carrying the same fsid
/// must not be mounted at once.
static KERNEL: Mutex<()> = Mutex::new(());

fn kernel_lock() -> MutexGuard<'static, ()> {
    KERNEL.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(script: &str) -> String {
    run(Command::new("sh").arg("-ec").arg(script))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A loop mount with options; unmounted (and its directory removed) when dropped.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn new(image: &Path, options: &str) -> Mount {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("preflight-btrfs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("mount")
            .arg("-t")
            .arg("btrfs")
            .arg("-o")
            .arg(format!("loop,{options}"))
            .arg(image)
            .arg(&dir));
        Mount { dir }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    fn remount(&self, options: &str) {
        run(Command::new("mount")
            .arg("-o")
            .arg(format!("remount,{options}"))
            .arg(&self.dir));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success())
            || Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success());
        if ok {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// `fixtures_dir()/btrfs-v<VERSION>-<name>/disk.img`, built once by `populate` on a fresh
/// `mkfs.btrfs <args>` image of `size` bytes mounted read-write with `compress-force=zstd`.
fn fixture(name: &str, size: u64, mkfs: &[&str], populate: fn(&Mount)) -> PathBuf {
    let dir = fixtures_dir().join(format!("btrfs-v{VERSION}-{name}"));
    let img = dir.join("disk.img");
    if img.is_file() {
        return img;
    }
    let _guard = kernel_lock();
    if img.is_file() {
        return img;
    }
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    let tmp = fixtures_dir().join(format!(
        ".tmp-btrfs-v{VERSION}-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let tmp_img = tmp.join("disk.img");
    std::fs::File::create(&tmp_img)
        .unwrap()
        .set_len(size)
        .unwrap();
    run(Command::new("mkfs.btrfs")
        .arg("-q")
        .arg("-f")
        .args(mkfs)
        .arg(&tmp_img));
    {
        let m = Mount::new(&tmp_img, "compress-force=zstd");
        populate(&m);
        run(&mut Command::new("sync"));
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Built by another process meanwhile.
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(img.is_file(), "fixture {} missing", img.display());
    }
    img
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    // Compressible but not trivially: words from a small vocabulary, pseudo-randomly chosen.
    let words = [
        "kernel ",
        "module ",
        "systemd ",
        "unit ",
        "0xdeadbeef ",
        "root ",
        "\n",
        "btrfs ",
        "extent ",
        "zstd ",
        "lzo ",
        "zlib ",
    ];
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % words.len() as u32) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 11) as u8
        })
        .collect()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Fedora/openSUSE-like: `@` (default), `@home`, `@/var/lib/machines` nested, a snapshot
/// `@snap` of `@` (whose nested subvolume becomes an empty placeholder), content written in
/// zstd, zlib and lzo batches.
fn populate_main(m: &Mount) {
    let root = m.path();
    let p = root.display();
    sh(&format!(
        "btrfs -q subvolume create {p}/@
         btrfs -q subvolume create {p}/@home
         mkdir -p {p}/@/var/lib
         btrfs -q subvolume create {p}/@/var/lib/machines
         btrfs -q subvolume set-default {p}/@"
    ));
    let at = root.join("@");
    // Batch 1 (zstd): a Debian-like root.
    debian_guest()
        .file_mode("/usr/bin/sudo-like", "#!/bin/sh\necho hi\n", 0o4755)
        .file("/etc/ünïcödé name ✓", "utf-8 names\n")
        .symlink("/srv/long-link", &format!("/usr/{}", "x".repeat(300)))
        .file("/srv/owned", "owned by 1000\n")
        .chown("/srv/owned", 1000, 1001)
        .dir("/srv/private", 0o700)
        .file("/srv/empty", "")
        .materialize(&at)
        .unwrap();
    write(&at.join("srv/zstd-text.txt"), &pattern(300_000, 1));
    write(&at.join("srv/tiny-zstd"), &pattern(1500, 2));
    // A sparse file: data at 0, 3 MiB and 10 MiB, size 16 MiB.
    let f = std::fs::File::create(at.join("srv/sparse.img")).unwrap();
    f.write_all_at(&pattern(10_000, 3), 0).unwrap();
    f.write_all_at(&noise(70_000, 4), 3 << 20).unwrap();
    f.write_all_at(b"middle", 10 << 20).unwrap();
    f.set_len(16 << 20).unwrap();
    drop(f);
    // A preallocated region with a little data inside, and preallocation past the end.
    sh(&format!(
        "fallocate -l 2M {p}/@/srv/prealloc
         printf 'written into preallocated space' | dd of={p}/@/srv/prealloc bs=1 seek=524288 conv=notrunc status=none
         printf 'short' > {p}/@/srv/prealloc-keep
         fallocate -n -o 0 -l 1M {p}/@/srv/prealloc-keep"
    ));
    run(&mut Command::new("sync"));

    // Batch 2 (zlib): a 5 MB file (half compressible), the nested subvolume's content.
    m.remount("compress-force=zlib");
    let mut big = pattern(3_000_000, 5);
    big.extend_from_slice(&noise(2_000_000, 6));
    write(&at.join("srv/big.bin"), &big);
    write(&at.join("srv/tiny-zlib"), &pattern(900, 7));
    let machines = at.join("var/lib/machines");
    write(&machines.join("container1/etc/os-release"), b"ID=debian\n");
    write(&machines.join("container1/data.txt"), &pattern(200_000, 8));
    run(&mut Command::new("sync"));

    // Batch 3 (lzo): home directories and a directory with 3000 entries.
    m.remount("compress-force=lzo");
    let home = root.join("@home");
    write(&home.join("alice/.bashrc"), &pattern(3000, 9));
    write(&home.join("alice/notes.txt"), &pattern(150_000, 10));
    write(&home.join("alice/tiny-lzo"), &pattern(1800, 11));
    sh(&format!(
        "chown -R 1000:1000 {p}/@home/alice && chmod 0750 {p}/@home/alice"
    ));
    for i in 0..3000 {
        write(
            &at.join(format!("var/lib/many/entry-{i:05}")),
            format!("{i}\n").as_bytes(),
        );
    }
    write(&at.join("srv/lzo-big.txt"), &pattern(400_000, 12));
    run(&mut Command::new("sync"));
    m.remount("compress=no");
    write(&at.join("srv/plain.bin"), &noise(300_000, 13));
    sh(&format!(
        "ln {p}/@/srv/plain.bin {p}/@/srv/hardlink.bin
         mkfifo {p}/@/srv/fifo
         btrfs -q subvolume snapshot {p}/@ {p}/@snap"
    ));
}

fn populate_simple(m: &Mount) {
    debian_guest()
        .file("/srv/hello", "hello\n")
        .materialize(m.path())
        .unwrap();
    write(&m.path().join("srv/data.txt"), &pattern(500_000, 20));
    write(&m.path().join("srv/noise"), &noise(200_000, 21));
}

/// A 3 GiB image: a large preallocated file first, so later data lands in later chunks.
fn populate_spread(m: &Mount) {
    let p = m.path().display();
    sh(&format!("fallocate -l 900M {p}/filler"));
    run(&mut Command::new("sync"));
    m.remount("compress=no");
    populate_simple(m);
    write(&m.path().join("srv/late.bin"), &noise(3_000_000, 22));
}

fn main_image() -> PathBuf {
    fixture("main", 1 << 30, &["-L", "fedora"], populate_main)
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File {
        size: u64,
        mtime: i64,
        mode: u32,
        uid: u32,
        gid: u32,
        sha256: String,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Link {
        target: String,
    },
    Other {
        mode: u32,
    },
}

fn hash(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kernel_tree(root: &Path, rel: &str, out: &mut BTreeMap<String, Node>) {
    let dir = root.join(rel.trim_start_matches('/'));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel == "/" {
            format!("/{name}")
        } else {
            format!("{rel}/{name}")
        };
        let m = std::fs::symlink_metadata(entry.path()).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        let node = if m.file_type().is_symlink() {
            Node::Link {
                target: std::fs::read_link(entry.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            }
        } else if m.is_dir() {
            kernel_tree(root, &path, out);
            Node::Dir {
                mode,
                uid: m.uid(),
                gid: m.gid(),
            }
        } else if m.is_file() {
            Node::File {
                size: m.len(),
                mtime: m.mtime(),
                mode,
                uid: m.uid(),
                gid: m.gid(),
                sha256: hash(&std::fs::read(entry.path()).unwrap()),
            }
        } else {
            Node::Other { mode }
        };
        out.insert(path, node);
    }
}

fn our_tree(fs: &dyn FileSystem, rel: &str, out: &mut BTreeMap<String, Node>) {
    let entries = fs.read_dir(rel).unwrap();
    assert!(
        entries.windows(2).all(|w| w[0].name < w[1].name),
        "{rel}: sorted"
    );
    for entry in entries {
        let path = if rel == "/" {
            format!("/{}", entry.name)
        } else {
            format!("{rel}/{}", entry.name)
        };
        let m = fs.lstat(&path).unwrap();
        assert_eq!(m.file_type, entry.file_type, "{path}: entry type vs inode");
        let node = match m.file_type {
            FileType::Symlink => Node::Link {
                target: fs.read_link(&path).unwrap(),
            },
            FileType::Directory => {
                our_tree(fs, &path, out);
                Node::Dir {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                }
            }
            FileType::Regular => {
                let data = fs.read_file(&path, 1 << 30).unwrap();
                assert_eq!(data.len() as u64, m.size, "{path}");
                Node::File {
                    size: m.size,
                    mtime: m.mtime.unwrap_or(i64::MIN),
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    sha256: hash(&data),
                }
            }
            _ => Node::Other { mode: m.mode },
        };
        out.insert(path, node);
    }
}

fn open(img: &Path) -> BtrfsFs {
    BtrfsFs::open(Arc::new(FileSource::open(img).unwrap())).unwrap()
}

/// Our tree of `fs` equals the kernel's with `options` (`subvol=…` / `subvolid=…`).
fn compare(img: &Path, fs: &BtrfsFs, options: &str, min_entries: usize) {
    let mut expected = BTreeMap::new();
    {
        let _guard = kernel_lock();
        let m = Mount::new(img, &format!("ro,{options}"));
        kernel_tree(m.path(), "/", &mut expected);
    }
    let mut ours = BTreeMap::new();
    our_tree(fs, "/", &mut ours);
    assert!(
        expected.len() >= min_entries,
        "{options}: the tree is realistic ({} entries)",
        expected.len()
    );
    for (path, node) in &expected {
        assert_eq!(ours.get(path), Some(node), "{options}: {path}");
    }
    assert_eq!(
        ours.len(),
        expected.len(),
        "{options}: same number of entries"
    );
}

/// `btrfs subvolume list` lines (ID, gen, top level, path) of the top level mounted.
fn kernel_subvolumes(img: &Path) -> Vec<String> {
    let _guard = kernel_lock();
    let m = Mount::new(img, "ro,subvolid=5");
    let out = run(Command::new("btrfs")
        .arg("subvolume")
        .arg("list")
        .arg(m.path()));
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn dump_tree(img: &Path) -> String {
    run(Command::new("btrfs")
        .args(["inspect-internal", "dump-tree"])
        .arg(img))
}

#[test]
fn main_fixture_really_has_compressed_inline_and_prealloc_extents() {
    let dump = dump_tree(&main_image());
    for (what, needle) in [
        ("zlib", "compression 1"),
        ("lzo", "compression 2"),
        ("zstd", "compression 3"),
        ("inline", "inline extent"),
        ("prealloc", "type 2 (prealloc)"),
    ] {
        assert!(
            dump.contains(needle),
            "no {what} extent ({needle:?}) in the dump"
        );
    }
}

#[test]
fn every_subvolume_matches_the_kernel() {
    let img = main_image();
    let fs = open(&img);
    assert_eq!(fs.kind(), "btrfs");
    assert_eq!(fs.label().as_deref(), Some("fedora"));
    let blkid = run(Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "UUID"])
        .arg(&img));
    assert_eq!(fs.fs_uuid(), blkid.trim());

    // The default subvolume is `@`, and opening the image reads it.
    let subvols = fs.subvolumes().unwrap();
    let at = subvols.iter().find(|s| s.path == "@").expect("@ listed");
    assert_eq!(fs.default_subvolume_id(), at.id);
    assert_eq!(fs.subvolume_id(), at.id);
    compare(&img, &fs, &format!("subvolid={}", at.id), 3000);

    let top = fs.open_subvolume(SubvolSelector::Id(5)).unwrap();
    compare(&img, &top, "subvolid=5", 6000);
    for s in &subvols {
        let by_path = fs
            .open_subvolume(SubvolSelector::Path(format!("/{}", s.path)))
            .unwrap();
        assert_eq!(by_path.subvolume_id(), s.id, "{}", s.path);
        compare(&img, &by_path, &format!("subvol=/{}", s.path), 1);
    }
    assert!(
        fs.open_subvolume(SubvolSelector::Path("@/etc".into()))
            .is_err(),
        "a plain directory is not a subvolume"
    );
    assert!(fs.open_subvolume(SubvolSelector::Id(4242)).is_err());
}

#[test]
fn subvolume_list_matches_btrfs_progs() {
    let img = main_image();
    let fs = open(&img);
    let mut ours: Vec<String> = fs
        .subvolumes()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "ID {} gen {} top level {} path {}",
                s.id, s.generation, s.parent_id, s.path
            )
        })
        .collect();
    ours.sort();
    let theirs = kernel_subvolumes(&img);
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 4, "{ours:#?}");
}

#[test]
fn nested_subvolume_in_a_snapshot_is_an_empty_directory() {
    let fs = open(&main_image());
    let snap = fs
        .open_subvolume(SubvolSelector::Path("@snap".into()))
        .unwrap();
    assert!(snap.read_dir("/var/lib/machines").unwrap().is_empty());
    assert_eq!(
        snap.lstat("/var/lib/machines").unwrap().file_type,
        FileType::Directory
    );
    assert!(snap.lstat("/var/lib/machines/container1").is_err());
    // Through `@` the nested subvolume's content is there.
    assert_eq!(
        fs.read_file("/var/lib/machines/container1/etc/os-release", 100)
            .unwrap(),
        b"ID=debian\n"
    );
}

#[test]
fn partial_reads_across_extents_holes_and_compression() {
    let img = main_image();
    let fs = open(&img);
    let _guard = kernel_lock();
    let m = Mount::new(&img, "ro");
    for path in [
        "/srv/big.bin",
        "/srv/sparse.img",
        "/srv/prealloc",
        "/srv/lzo-big.txt",
        "/srv/zstd-text.txt",
        "/srv/plain.bin",
    ] {
        let want = std::fs::read(m.path().join(&path[1..])).unwrap();
        for (off, len) in [
            (0usize, 1usize),
            (4095, 2),
            (131_071, 3),
            (131_000, 140_000),
            (want.len().saturating_sub(10), 100),
            (want.len() / 2, 65_536),
            (want.len(), 10),
        ] {
            let mut buf = vec![0xaau8; len];
            let n = fs.read_at(path, off as u64, &mut buf).unwrap();
            let end = (off + len).min(want.len());
            let expect = &want[off.min(end)..end];
            assert_eq!(n, expect.len(), "{path} at {off}");
            assert!(buf[..n] == *expect, "{path} at {off}+{len}");
        }
    }
}

#[test]
fn single_profile_and_spread_chunks_match_the_kernel() {
    let img = fixture(
        "single",
        512 << 20,
        &["-m", "single", "-d", "single"],
        populate_simple,
    );
    let fs = open(&img);
    assert_eq!(fs.default_subvolume_id(), 5);
    assert!(fs.label().is_none());
    compare(&img, &fs, "subvolid=5", 50);

    let img = fixture("spread", 3 << 30, &[], populate_spread);
    let fs = open(&img);
    compare(&img, &fs, "subvolid=5", 50);
}

#[test]
fn other_checksum_types() {
    for csum in ["xxhash", "sha256"] {
        let img = fixture(
            &format!("csum-{csum}"),
            256 << 20,
            &["--csum", csum],
            populate_simple,
        );
        let fs = open(&img);
        compare(&img, &fs, "subvolid=5", 50);
    }
    // blake2b: refused with a clear message.
    let img = fixture("csum-blake2", 256 << 20, &["--csum", "blake2"], |m| {
        write(&m.path().join("x"), b"x");
    });
    let err = BtrfsFs::open(Arc::new(FileSource::open(&img).unwrap()))
        .err()
        .expect("blake2 is not supported");
    assert!(err.to_string().contains("blake2b"), "{err}");
}

#[test]
fn read_calls_for_open_and_os_release() {
    let img = main_image();
    // Straight on the file, and under the block cache the core puts on top of it.
    for cached in [false, true] {
        let counting = Counting::new(FileSource::open(&img).unwrap());
        let counters = counting.counters();
        let src: Source = if cached {
            Arc::new(preflight_io::BlockCache::new(
                counting,
                256 * 1024,
                64 << 20,
            ))
        } else {
            Arc::new(counting)
        };
        let fs = BtrfsFs::open(src).unwrap();
        let after_open = counters.snapshot();
        // /etc/os-release is a link to ../usr/lib/os-release, as on Debian.
        assert_eq!(
            fs.read_link("/etc/os-release").unwrap(),
            "../usr/lib/os-release"
        );
        let data = fs.read_file("/usr/lib/os-release", 1 << 20).unwrap();
        assert!(!data.is_empty());
        let after_read = counters.snapshot();
        println!(
            "btrfs (block cache: {cached}) open: {} calls, {} bytes; \
             + /etc/os-release: {} calls, {} bytes",
            after_open.read_calls,
            after_open.bytes_read,
            after_read.read_calls - after_open.read_calls,
            after_read.bytes_read - after_open.bytes_read
        );
        assert!(after_read.read_calls <= 12, "{after_read:?}");
    }
}

/// Two devices, metadata RAID1 and data RAID0: `(first, second)` device images.
fn two_devices() -> (PathBuf, PathBuf) {
    let dir = fixtures_dir().join(format!("btrfs-v{VERSION}-raid1-raid0"));
    let (a, b) = (dir.join("dev1.img"), dir.join("dev2.img"));
    if b.is_file() {
        return (a, b);
    }
    let _guard = kernel_lock();
    if b.is_file() {
        return (a, b);
    }
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    let tmp = fixtures_dir().join(format!(
        ".tmp-btrfs-v{VERSION}-raid-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let (ta, tb) = (tmp.join("dev1.img"), tmp.join("dev2.img"));
    for t in [&ta, &tb] {
        std::fs::File::create(t)
            .unwrap()
            .set_len(512 << 20)
            .unwrap();
    }
    run(Command::new("mkfs.btrfs")
        .args(["-q", "-f", "-m", "raid1", "-d", "raid0"])
        .arg(&ta)
        .arg(&tb));
    let la = run(Command::new("losetup").args(["-f", "--show"]).arg(&ta));
    let lb = run(Command::new("losetup").args(["-f", "--show"]).arg(&tb));
    let (la, lb) = (la.trim().to_string(), lb.trim().to_string());
    let result = std::panic::catch_unwind(|| {
        run(Command::new("btrfs").args(["device", "scan", &la, &lb]));
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mnt =
            std::env::temp_dir().join(format!("preflight-btrfs-raid-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&mnt).unwrap();
        run(Command::new("mount").arg(&la).arg(&mnt));
        let m = Mount { dir: mnt };
        populate_simple(&m);
        write(&m.path().join("srv/striped.bin"), &noise(3_000_000, 30));
        drop(m);
    });
    let _ = Command::new("losetup").arg("-d").arg(&la).status();
    let _ = Command::new("losetup").arg("-d").arg(&lb).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    (a, b)
}

#[test]
fn one_device_of_two_reads_mirrored_metadata_and_names_the_missing_device() {
    let (a, b) = two_devices();
    for (img, other) in [(&a, 2), (&b, 1)] {
        let fs = open(img);
        assert!(fs.read_dir("/etc").unwrap().len() > 5);
        assert_eq!(fs.read_file("/srv/hello", 100).unwrap(), b"hello\n");
        let err = fs
            .read_file("/srv/striped.bin", 1 << 30)
            .expect_err("half of the stripes are on the other device")
            .to_string();
        assert!(err.contains(&format!("device {other}")), "{err}");
        // RAID0 striping: the 4 KiB pieces on this device read right, the others name the
        // other device.
        let want = noise(3_000_000, 30);
        let (mut ok, mut missing) = (0, 0);
        for k in 0..45u64 {
            let at = k * 65_536 + 1000;
            let mut buf = vec![0u8; 4096];
            match fs.read_at("/srv/striped.bin", at, &mut buf) {
                Ok(n) => {
                    assert_eq!(n, 4096);
                    assert!(
                        buf == want[at as usize..at as usize + 4096],
                        "{img:?} at {at}"
                    );
                    ok += 1;
                }
                Err(e) => {
                    assert!(e.to_string().contains(&format!("device {other}")), "{e}");
                    missing += 1;
                }
            }
        }
        assert!(
            ok >= 15 && missing >= 15,
            "{ok} read, {missing} on the other device"
        );
    }
}

// ---- damaged images ----

/// The primary superblock's CRC32C over bytes 32..4096 (for resealing flipped copies).
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

/// A view of a source with one bit flipped; when `block` is given (start, length) and a read
/// covers it whole, its CRC32C is recomputed so the damage gets past the checksum.
struct Flipped {
    inner: Source,
    at: u64,
    bit: u8,
    block: Option<(u64, usize)>,
}

impl ByteSource for Flipped {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.inner.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        if (offset..end).contains(&self.at) {
            buf[(self.at - offset) as usize] ^= 1 << self.bit;
        }
        if let Some((start, len)) = self.block
            && offset <= start
            && start + len as u64 <= end
        {
            let b = &mut buf[(start - offset) as usize..(start - offset) as usize + len];
            let c = crc32c(&b[32..]);
            b[..4].copy_from_slice(&c.to_le_bytes());
        }
        Ok(())
    }
}

/// Records the offset of every read of `size` bytes (whole tree nodes).
struct Recorder {
    inner: Source,
    size: usize,
    seen: Mutex<Vec<u64>>,
}

impl ByteSource for Recorder {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        if buf.len() == self.size {
            self.seen.lock().unwrap().push(offset);
        }
        self.inner.read_at(offset, buf)
    }
}

/// Open and walk everything (reading files up to 1 MiB); errors are fine, panics and hangs
/// are not. Returns the first error's text, if any.
fn walk_all(src: Source) -> Option<String> {
    let fs = match BtrfsFs::open(src) {
        Ok(fs) => fs,
        Err(e) => return Some(e.to_string()),
    };
    let mut first = None;
    let _ = fs.subvolumes();
    let mut stack = vec!["/".to_string()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let entries = match fs.read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                first.get_or_insert(e.to_string());
                continue;
            }
        };
        for e in entries {
            seen += 1;
            if seen > 20_000 {
                return first;
            }
            let path = if dir == "/" {
                format!("/{}", e.name)
            } else {
                format!("{dir}/{}", e.name)
            };
            match fs.lstat(&path) {
                Ok(m) if m.file_type == FileType::Directory => stack.push(path),
                Ok(m) if m.file_type == FileType::Regular && m.size <= 1 << 20 => {
                    if let Err(e) = fs.read_file(&path, 1 << 20) {
                        first.get_or_insert(e.to_string());
                    }
                }
                Ok(m) if m.file_type == FileType::Symlink => {
                    if let Err(e) = fs.read_link(&path) {
                        first.get_or_insert(e.to_string());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    first.get_or_insert(e.to_string());
                }
            }
        }
    }
    first
}

#[test]
fn truncated_images_fail_cleanly() {
    let img = main_image();
    let file: Source = Arc::new(FileSource::open(&img).unwrap());
    for len in [
        0u64,
        1000,
        65_536 + 100,
        69_632,
        1 << 20,
        8 << 20,
        40 << 20,
        300 << 20,
    ] {
        let src: Source = Arc::new(Slice::new(Arc::clone(&file), 0, len));
        let err = walk_all(src);
        if len < 69_632 {
            assert!(err.is_some(), "{len} bytes opened");
        }
    }
}

/// The logical → physical offsets of the nodes read while opening `img` and reading a little.
fn node_offsets(file: &Source, files: &[&str]) -> Vec<u64> {
    let rec = Arc::new(Recorder {
        inner: Arc::clone(file),
        size: 16_384,
        seen: Mutex::new(Vec::new()),
    });
    {
        let fs = BtrfsFs::open(rec.clone() as Source).unwrap();
        for f in files {
            fs.read_file(f, 1 << 30).unwrap();
        }
        fs.read_dir("/").unwrap();
        fs.subvolumes().unwrap();
    }
    let mut nodes = rec.seen.lock().unwrap().clone();
    nodes.sort();
    nodes.dedup();
    assert!(nodes.len() >= 4, "{nodes:?}");
    nodes
}

#[test]
fn bit_flips_in_superblocks_and_nodes_fail_cleanly() {
    let img = main_image();
    let file: Source = Arc::new(FileSource::open(&img).unwrap());

    // A damaged primary superblock: the mirror at 64 MiB takes over.
    let src: Source = Arc::new(Flipped {
        inner: Arc::clone(&file),
        at: 65_536 + 0x50,
        bit: 3,
        block: None,
    });
    let fs = BtrfsFs::open(src).expect("mirror superblock used");
    assert!(!fs.read_dir("/etc").unwrap().is_empty());

    // DUP metadata: a damaged first copy of any node is read from the second one.
    let nodes = node_offsets(&file, &["/usr/lib/os-release", "/srv/big.bin"]);
    for &node in &nodes {
        let src: Source = Arc::new(Flipped {
            inner: Arc::clone(&file),
            at: node + 200,
            bit: 1,
            block: None,
        });
        assert_eq!(
            walk_all(src),
            None,
            "node at {node:#x}: the DUP copy is used"
        );
    }

    // Single metadata: a checksum error naming the logical address.
    let img = fixture(
        "single",
        512 << 20,
        &["-m", "single", "-d", "single"],
        populate_simple,
    );
    let file: Source = Arc::new(FileSource::open(&img).unwrap());
    let nodes = node_offsets(&file, &["/srv/data.txt"]);
    for &node in &nodes {
        let src: Source = Arc::new(Flipped {
            inner: Arc::clone(&file),
            at: node + 200,
            bit: 1,
            block: None,
        });
        let err = walk_all(src).expect("a flipped node is noticed");
        assert!(
            err.contains("checksum mismatch") && err.contains("logical"),
            "{err}"
        );
        // Resealed: the parsers meet the damage; any clean outcome will do.
        for (at, bit) in [
            (0x30u64, 0u8),
            (0x60, 2),
            (0x64, 0),
            (0x65 + 8, 4),
            (0x65 + 17, 7),
            (0x65 + 21, 5),
            (0x65 + 25 + 3, 6),
            (0x65 + 33 + 20, 3),
            (0x65 + 33 + 26, 1),
            (16_384 - 200, 0),
            (16_384 - 2000, 6),
            (16_384 - 160 + 16, 7),
        ] {
            let src: Source = Arc::new(Flipped {
                inner: Arc::clone(&file),
                at: node + at,
                bit,
                block: Some((node, 16_384)),
            });
            let _ = walk_all(src);
        }
    }
}
