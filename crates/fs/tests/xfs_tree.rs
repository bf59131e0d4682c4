//! XFS images made by the real tools (mkfs.xfs, a loop mount, the kernel writing the files) and
//! read by `XfsFs`: the tree must equal what the kernel shows through a read-only mount (names,
//! types, sizes, modes, owners, times, link targets, the hash of every file). Damaged copies
//! must give clean errors or clean reads, never a panic or a loop. Needs root (loop mounts).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use preflight_fixtures::{RoMount, bit_flip_positions, debian_guest, fixtures_dir, truncated_copy};
use preflight_fs::{FileSystem, FileType, XfsFs};
use preflight_io::{ByteSource, Counting, FileSource, IoError, Source};
use sha2::{Digest, Sha256};

/// Bump when a builder below changes what it produces: every cached image is rebuilt.
const XFS_FIXTURE_VERSION: u32 = 2;
const IMAGE_MIB: u64 = 320; // mkfs.xfs refuses file systems under 300 MB

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

/// `fixtures_dir()/xfs-v<version>-<name>/xfs.img`, built once by `build` (given the path of a
/// fresh image file and a scratch directory) under a lock, published by renaming a temporary
/// directory, so concurrent test processes share one build.
fn cached_image(name: &str, build: impl FnOnce(&Path, &Path)) -> PathBuf {
    let root = fixtures_dir();
    let key = format!("xfs-v{XFS_FIXTURE_VERSION}-{name}");
    let dir = root.join(&key);
    let image = dir.join("xfs.img");
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
    let tmp_image = tmp.join("xfs.img");
    build(&tmp_image, &tmp.join("scratch"));
    fs::remove_dir_all(tmp.join("scratch")).unwrap();
    fs::rename(&tmp, &dir).unwrap();
    image
}

/// A read-write loop mount, unmounted on drop (also when the builder panics).
struct RwMount(PathBuf);

impl RwMount {
    fn new(image: &Path, at: &Path, opts: &str) -> RwMount {
        fs::create_dir_all(at).unwrap();
        run(Command::new("mount")
            .arg("-o")
            .arg(format!("loop,{opts}"))
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

fn set_owner_mode(p: &Path, uid: u32, gid: u32, mode: u32) {
    lchown(p, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn many(dir: &Path, n: usize, name: impl Fn(usize) -> String) {
    fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        fs::write(dir.join(name(i)), format!("{i}\n")).unwrap();
    }
}

/// The tree both kinds of images hold: the Debian guest plus every shape XFS stores
/// differently (directory formats, long symlinks, sparse and big files, owners and modes).
fn write_common_tree(root: &Path, with_specials: bool) {
    debian_guest().materialize(root).unwrap();
    let srv = root.join("srv");
    fs::create_dir_all(&srv).unwrap();
    // Directory formats: short form, block, leaf, node.
    many(&srv.join("d3"), 3, |i| format!("f{i}"));
    many(&srv.join("d50"), 50, |i| format!("entry-{i:05}"));
    many(&srv.join("d600"), 600, |i| format!("entry-{i:05}-ünïcödé"));
    many(&srv.join("d5000"), 5000, |i| {
        format!("node-format-entry-{i:06}")
    });
    fs::create_dir_all(srv.join("empty-dir")).unwrap();
    // Files.
    fs::write(srv.join("empty"), "").unwrap();
    fs::write(srv.join("big.bin"), pseudo_random(3_000_000, 1)).unwrap();
    fs::write(srv.join("name with spaces & ünïcödé ✓"), "ok\n").unwrap();
    let sparse = srv.join("sparse.bin");
    {
        let mut f = fs::File::create(&sparse).unwrap();
        f.write_all(b"start").unwrap();
        f.set_len(10 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&pseudo_random(5000, 7), 4 << 20).unwrap();
        f.write_all_at(b"end", (10 << 20) - 3).unwrap();
    }
    // Symlinks: relative, absolute, long (remote), longest XFS allows.
    symlink("../usr/lib/os-release", srv.join("rel-link")).unwrap();
    symlink("/etc/hostname", srv.join("abs-link")).unwrap();
    symlink(format!("/usr/{}", "x".repeat(200)), srv.join("long-link")).unwrap();
    symlink(format!("/{}", "y/".repeat(511)), srv.join("longest-link")).unwrap();
    symlink("dangling-target", srv.join("dangling")).unwrap();
    // Owners and modes.
    let owned = srv.join("owned");
    fs::create_dir_all(&owned).unwrap();
    fs::write(owned.join("setuid"), "#!/bin/sh\n").unwrap();
    set_owner_mode(&owned.join("setuid"), 0, 0, 0o4755);
    fs::write(owned.join("user-file"), "mine\n").unwrap();
    set_owner_mode(&owned.join("user-file"), 1000, 1000, 0o600);
    fs::write(owned.join("nobody"), "x\n").unwrap();
    set_owner_mode(&owned.join("nobody"), 65534, 65534, 0o640);
    fs::create_dir_all(owned.join("home-dir")).unwrap();
    set_owner_mode(&owned.join("home-dir"), 1000, 100, 0o2750);
    if with_specials {
        set_owner_mode(&owned, 0, 0, 0o1777);
        run(Command::new("mkfifo").arg(srv.join("fifo")));
        run(Command::new("mknod")
            .arg(srv.join("null-dev"))
            .args(["c", "1", "3"]));
    }
}

/// Shapes only a live kernel makes: unwritten extents, fragmented files (btree data forks,
/// multi-level with small blocks), a fragmented big directory (btree directory), far-future
/// times (bigtime).
fn write_kernel_only(root: &Path) {
    let srv = root.join("srv");
    run(Command::new("xfs_io")
        .arg("-f")
        .args(["-c", "falloc 0 1m", "-c", "pwrite -q -S 0x5a 256k 4k"])
        .arg(srv.join("unwritten.bin")));
    run(Command::new("xfs_io")
        .arg("-f")
        .args([
            "-c",
            "truncate 2m",
            "-c",
            "falloc -k 1m 512k",
            "-c",
            "pwrite -q -S 0x33 0 4k",
        ])
        .arg(srv.join("prealloc-past-eof.bin")));
    // Two files written in alternation with a sync after each chunk: each gets a new extent
    // per chunk (the mount uses allocsize=4k, so no speculative preallocation merges them).
    let frag = srv.join("frag");
    fs::create_dir_all(&frag).unwrap();
    let mut a = fs::File::create(frag.join("a.bin")).unwrap();
    let mut b = fs::File::create(frag.join("b.bin")).unwrap();
    for i in 0..2500u32 {
        a.write_all(&pseudo_random(4096, i)).unwrap();
        a.sync_data().unwrap();
        b.write_all(&pseudo_random(4096, i + 100_000)).unwrap();
        b.sync_data().unwrap();
    }
    drop((a, b));
    // A big directory grown between synced writes of another file: a btree directory.
    let bigdir = srv.join("btree-dir");
    fs::create_dir_all(&bigdir).unwrap();
    let mut spacer = fs::File::create(frag.join("spacer.bin")).unwrap();
    for i in 0..6000u32 {
        fs::write(
            bigdir.join(format!("a-rather-long-file-name-for-more-blocks-{i:06}")),
            [],
        )
        .unwrap();
        if i % 10 == 9 {
            spacer.write_all(&pseudo_random(4096, i)).unwrap();
            spacer.sync_data().unwrap();
        }
    }
    // Remove every entry of a range (whole data blocks freed: holes in the directory), then
    // every third one (freed space inside data blocks).
    for i in 2000..3000u32 {
        fs::remove_file(bigdir.join(format!("a-rather-long-file-name-for-more-blocks-{i:06}")))
            .unwrap();
    }
    for i in (0..6000u32).filter(|i| i % 3 == 0 && !(2000..3000).contains(i)) {
        fs::remove_file(bigdir.join(format!("a-rather-long-file-name-for-more-blocks-{i:06}")))
            .unwrap();
    }
    // Shared extents (reflink), then a copy-on-write overwrite in the middle of the clone.
    run(Command::new("cp")
        .arg("--reflink=always")
        .arg(srv.join("big.bin"))
        .arg(srv.join("big-clone.bin")));
    run(Command::new("xfs_io")
        .args(["-c", "pwrite -q -S 0x77 1000000 10000"])
        .arg(srv.join("big-clone.bin")));
    let future = srv.join("future");
    fs::write(&future, "2200\n").unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(7_258_118_400); // 2200-01-01
    fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// A v5 image made by mkfs.xfs with `mkfs_args`, filled through a read-write kernel mount.
fn kernel_image(name: &str, mkfs_args: &[&str]) -> PathBuf {
    let args: Vec<String> = mkfs_args.iter().map(|s| s.to_string()).collect();
    cached_image(name, move |image, scratch| {
        let f = fs::File::create(image).unwrap();
        f.set_len(IMAGE_MIB << 20).unwrap();
        drop(f);
        run(Command::new("mkfs.xfs")
            .args(["-q", "-f"])
            .args(&args)
            .arg(image));
        let mnt = scratch.join("mnt");
        let mount = RwMount::new(image, &mnt, "allocsize=4k");
        write_common_tree(&mnt, true);
        write_kernel_only(&mnt);
        run(&mut Command::new("sync"));
        drop(mount);
    })
}

/// A v4 image: this kernel cannot mount v4 (CONFIG_XFS_SUPPORT_V4 is off in current kernels),
/// so mkfs.xfs fills it from a prototype file describing a tree staged on the host. The staged
/// tree is kept beside the image as the expected view.
fn v4_image(name: &str, mkfs_args: &[&str]) -> (PathBuf, PathBuf) {
    let args: Vec<String> = mkfs_args.iter().map(|s| s.to_string()).collect();
    let image = cached_image(name, move |image, _scratch| {
        let staged = image.with_file_name("staged");
        write_common_tree(&staged, false);
        // Prototype files cannot name entries with spaces.
        fs::remove_file(staged.join("srv/name with spaces & ünïcödé ✓")).unwrap();
        let mut proto = String::from("preflight-v4\n0 0\n");
        proto_dir(&staged, &mut proto, 0);
        let proto_path = image.with_file_name("proto.txt");
        fs::write(&proto_path, proto).unwrap();
        let f = fs::File::create(image).unwrap();
        f.set_len(IMAGE_MIB << 20).unwrap();
        drop(f);
        run(Command::new("mkfs.xfs")
            .args(["-q", "-f"])
            .args(&args)
            .arg("-p")
            .arg(&proto_path)
            .arg(image));
    });
    let staged = image.with_file_name("staged");
    (image, staged)
}

/// mkfs.xfs prototype syntax ("mkfs.xfs(8)", -p): `name mode uid gid [source]`, where mode is
/// type (`-dlpcb`), setuid (`u`/`-`), setgid (`g`/`-`) and three octal digits; `$` ends a
/// directory.
fn proto_dir(dir: &Path, out: &mut String, depth: usize) {
    let m = fs::symlink_metadata(dir).unwrap();
    let mode = m.mode();
    if depth == 0 {
        out.push_str(&format!(
            "{} {} {}\n",
            proto_mode('d', mode),
            m.uid(),
            m.gid()
        ));
    }
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let m = fs::symlink_metadata(e.path()).unwrap();
        let indent = " ".repeat(depth + 1);
        let ft = m.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(e.path()).unwrap();
            out.push_str(&format!(
                "{indent}{name} {} {} {} {}\n",
                proto_mode('l', m.mode()),
                m.uid(),
                m.gid(),
                target.display()
            ));
        } else if ft.is_dir() {
            out.push_str(&format!(
                "{indent}{name} {} {} {}\n",
                proto_mode('d', m.mode()),
                m.uid(),
                m.gid()
            ));
            proto_dir(&e.path(), out, depth + 1);
        } else {
            out.push_str(&format!(
                "{indent}{name} {} {} {} {}\n",
                proto_mode('-', m.mode()),
                m.uid(),
                m.gid(),
                e.path().display()
            ));
        }
    }
    out.push_str(&format!("{}$\n", " ".repeat(depth)));
}

fn proto_mode(kind: char, mode: u32) -> String {
    format!(
        "{kind}{}{}{:03o}",
        if mode & 0o4000 != 0 { 'u' } else { '-' },
        if mode & 0o2000 != 0 { 'g' } else { '-' },
        mode & 0o777
    )
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
        mtime: Option<i64>,
        sha256: String,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: Option<i64>,
    },
    Link {
        target: String,
        uid: u32,
        gid: u32,
    },
    Other {
        kind: &'static str,
        mode: u32,
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

fn kernel_tree(root: &Path, rel: &str, times: bool, out: &mut BTreeMap<String, Node>) {
    let dir = root.join(rel.trim_start_matches('/'));
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let path = join(rel, &entry.file_name().to_string_lossy());
        let m = fs::symlink_metadata(entry.path()).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        let mtime = times.then(|| m.mtime());
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
            kernel_tree(root, &path, times, out);
            Node::Dir {
                mode,
                uid: m.uid(),
                gid: m.gid(),
                mtime,
            }
        } else if ft.is_file() {
            Node::File {
                size: m.len(),
                mode,
                uid: m.uid(),
                gid: m.gid(),
                mtime,
                sha256: hash(&fs::read(entry.path()).unwrap()),
            }
        } else {
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_fifo() {
                "fifo"
            } else if ft.is_char_device() {
                "char"
            } else if ft.is_block_device() {
                "block"
            } else {
                "socket"
            };
            Node::Other { kind, mode }
        };
        out.insert(path, node);
    }
}

fn our_tree(fs: &dyn FileSystem, rel: &str, times: bool, out: &mut BTreeMap<String, Node>) {
    let entries = fs.read_dir(rel).unwrap();
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "{rel}: duplicate names");
    for entry in entries {
        let path = join(rel, &entry.name);
        let m = fs.lstat(&path).unwrap();
        assert_eq!(
            m.file_type, entry.file_type,
            "{path}: entry type vs inode type"
        );
        let mtime = times.then_some(m.mtime.unwrap());
        let node = match m.file_type {
            FileType::Symlink => Node::Link {
                target: fs.read_link(&path).unwrap(),
                uid: m.uid,
                gid: m.gid,
            },
            FileType::Directory => {
                our_tree(fs, &path, times, out);
                Node::Dir {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    mtime,
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
                    mtime,
                    sha256: hash(&data),
                }
            }
            FileType::Fifo => Node::Other {
                kind: "fifo",
                mode: m.mode,
            },
            FileType::CharDevice => Node::Other {
                kind: "char",
                mode: m.mode,
            },
            FileType::BlockDevice => Node::Other {
                kind: "block",
                mode: m.mode,
            },
            other => panic!("{path}: unexpected type {other:?}"),
        };
        out.insert(path, node);
    }
}

fn open(image: &Path) -> XfsFs {
    XfsFs::open(Arc::new(FileSource::open(image).unwrap())).unwrap()
}

fn assert_same(expected: &BTreeMap<String, Node>, ours: &BTreeMap<String, Node>, what: &str) {
    assert!(
        expected.len() > 5000,
        "{what}: realistic tree ({} entries)",
        expected.len()
    );
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

fn compare_with_kernel(image: &Path, what: &str) -> XfsFs {
    let size = fs::metadata(image).unwrap().len();
    let mount = RoMount::new(image, 0, size).expect("loop mount (needs root)");
    let mut expected = BTreeMap::new();
    kernel_tree(mount.path(), "/", true, &mut expected);
    drop(mount);
    let fs = open(image);
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", true, &mut ours);
    assert_same(&expected, &ours, what);
    fs
}

/// What xfs_bmap (through xfs_db) says about an inode's data fork: (format, extent count).
fn fork_shape(image: &Path, path: &str) -> (String, u64) {
    let out = run(Command::new("xfs_db")
        .arg("-r")
        .args([
            "-c",
            &format!("path {path}"),
            "-c",
            "print core.format core.nextents",
        ])
        .arg(image));
    let mut format = String::new();
    let mut n = 0;
    for line in out.lines() {
        if let Some(v) = line.strip_prefix("core.format = ") {
            format = v.trim().to_string();
        }
        if let Some(v) = line.strip_prefix("core.nextents = ") {
            n = v.trim().parse().unwrap();
        }
    }
    (format, n)
}

/// True when the directory's data blocks (below the 32 GiB leaf offset) leave a gap.
fn has_data_hole(image: &Path, path: &str) -> bool {
    let out = xfs_db(image, &[format!("path {path}"), "bmap".into()], false);
    let leaf_block = (1u64 << 35) >> 12; // 4 KiB blocks in the default image
    let mut next = 0;
    for line in out.lines() {
        // "data offset 0 startblock 24 (0/24) count 1 flag 0"
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(off), Some(count)) = (
            words.get(2).and_then(|w| w.parse::<u64>().ok()),
            words.get(7).and_then(|w| w.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if off >= leaf_block {
            break;
        }
        if off > next {
            return true;
        }
        next = off + count;
    }
    false
}

fn default_image() -> PathBuf {
    kernel_image("v5-default", &[])
}

#[test]
fn v5_default_matches_the_kernel() {
    let image = default_image();
    let fs = compare_with_kernel(&image, "v5 default");
    // The fixture really holds the shapes it is meant to.
    assert!(
        fork_shape(&image, "/srv/frag/a.bin").0.starts_with("3"),
        "btree file"
    );
    assert!(
        fork_shape(&image, "/srv/btree-dir").0.starts_with("3"),
        "btree directory"
    );
    assert!(
        fork_shape(&image, "/srv/d3").0.starts_with("1"),
        "short-form directory"
    );
    assert!(
        has_data_hole(&image, "/srv/btree-dir"),
        "directory with freed data blocks"
    );
    assert_eq!(fs.lstat("/srv/future").unwrap().mtime, Some(7_258_118_400));
    assert_eq!(fs.read_link("/srv/longest-link").unwrap().len(), 1023);
    // Unwritten extents and holes read as zeros.
    let unwritten = fs.read_file("/srv/unwritten.bin", 1 << 20).unwrap();
    assert_eq!(unwritten.len(), 1 << 20);
    assert!(unwritten[..256 * 1024].iter().all(|&b| b == 0));
    assert!(unwritten[256 * 1024..260 * 1024].iter().all(|&b| b == 0x5a));
}

#[test]
fn v5_small_blocks_matches_the_kernel() {
    let image = kernel_image("v5-1k-blocks", &["-b", "size=1024"]);
    compare_with_kernel(&image, "v5 1 KiB blocks");
    assert!(
        fork_shape(&image, "/srv/frag/a.bin").0.starts_with("3"),
        "btree file"
    );
}

#[test]
fn v5_big_directory_blocks_matches_the_kernel() {
    let image = kernel_image("v5-16k-dirblocks", &["-n", "size=16k"]);
    compare_with_kernel(&image, "v5 16 KiB directory blocks");
}

/// Prototype files have no way to say "sticky" (`/tmp` is 1777 on the host, 0777 in the image).
fn without_sticky_bits(tree: &mut BTreeMap<String, Node>) {
    for node in tree.values_mut() {
        if let Node::Dir { mode, .. } | Node::File { mode, .. } = node {
            *mode &= !0o1000;
        }
    }
}

#[test]
fn v5_large_extent_counters_and_old_timestamps_match_the_kernel() {
    let image = kernel_image(
        "v5-nrext64-nobigtime",
        &["-i", "nrext64=1", "-m", "bigtime=0"],
    );
    let fs = compare_with_kernel(&image, "v5 nrext64, no bigtime");
    // 2200 does not fit 32-bit seconds: the kernel stored the largest time it could.
    assert_eq!(
        fs.lstat("/srv/future").unwrap().mtime,
        Some(i64::from(i32::MAX))
    );
}

#[test]
fn v4_without_ftype_matches_the_staged_tree() {
    let (image, staged) = v4_image("v4-noftype", &["-m", "crc=0", "-n", "ftype=0"]);
    let mut expected = BTreeMap::new();
    kernel_tree(&staged, "/", false, &mut expected);
    without_sticky_bits(&mut expected);
    let fs = open(&image);
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", false, &mut ours);
    assert_same(&expected, &ours, "v4 no ftype");
}

#[test]
fn v4_with_ftype_matches_the_staged_tree() {
    let (image, staged) = v4_image("v4-ftype-1k", &["-m", "crc=0", "-b", "size=1024"]);
    let mut expected = BTreeMap::new();
    kernel_tree(&staged, "/", false, &mut expected);
    without_sticky_bits(&mut expected);
    let fs = open(&image);
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", false, &mut ours);
    assert_same(&expected, &ours, "v4 1 KiB blocks");
}

// ---------------------------------------------------------------------------------------------
// Read calls

#[test]
fn opening_and_reading_os_release_takes_few_reads() {
    let image = default_image();
    let counting = Counting::new(FileSource::open(&image).unwrap());
    let counters = counting.counters();
    let fs = XfsFs::open(Arc::new(counting)).unwrap();
    let after_open = counters.snapshot();
    assert_eq!(
        fs.read_link("/etc/os-release").unwrap(),
        "../usr/lib/os-release"
    );
    let data = fs.read_file("/usr/lib/os-release", 1 << 20).unwrap();
    assert_eq!(data, preflight_fixtures::DEBIAN_OS_RELEASE.as_bytes());
    let total = counters.snapshot();
    eprintln!(
        "xfs read calls: open {} ({} bytes), open + /etc/os-release -> /usr/lib/os-release {} ({} bytes)",
        after_open.read_calls, after_open.bytes_read, total.read_calls, total.bytes_read
    );
    assert!(after_open.read_calls <= 2, "{after_open:?}");
    assert!(total.read_calls <= 12, "{total:?}");
    // Everything is cached now: reading again costs one data read.
    fs.read_file("/usr/lib/os-release", 1 << 20).unwrap();
    assert_eq!(counters.snapshot().read_calls, total.read_calls + 1);

    // The same under the block cache the core puts on the file (256 KiB blocks).
    let counting = Counting::new(FileSource::open(&image).unwrap());
    let counters = counting.counters();
    let cached = preflight_io::BlockCache::new(counting, 256 * 1024, 64 << 20);
    let fs = XfsFs::open(Arc::new(cached)).unwrap();
    fs.read_link("/etc/os-release").unwrap();
    fs.read_file("/usr/lib/os-release", 1 << 20).unwrap();
    let cached = counters.snapshot();
    eprintln!(
        "xfs read calls under a 256 KiB block cache: {} ({} bytes)",
        cached.read_calls, cached.bytes_read
    );
    assert!(cached.read_calls <= total.read_calls);
}

// ---------------------------------------------------------------------------------------------
// Damaged images

/// A file read through a damage overlay: bits flipped at `flips` (bit positions) and/or the
/// length cut to `len`, so many variants cost no copies of a 320 MB image.
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
        let first = self.flips.partition_point(|b| b / 8 < offset);
        for bit in &self.flips[first..] {
            if bit / 8 >= end {
                break;
            }
            buf[(bit / 8 - offset) as usize] ^= 1 << (bit % 8);
        }
        Ok(())
    }
}

fn damaged(image: &Path, len: Option<u64>, flips: Vec<u64>) -> Source {
    let inner = FileSource::open(image).unwrap();
    let len = len.unwrap_or(inner.len());
    Arc::new(Damaged { inner, len, flips })
}

/// Walk everything reachable with limits, ignoring errors: the point is that it ends without
/// a panic. Returns the number of entries seen.
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
                // Enough to map every extent; not every byte (many walks per test).
                let mut buf = vec![0u8; 64 * 1024];
                let _ = fs.read_at(&p, 0, &mut buf);
                let _ = fs.read_at(&p, 1 << 40, &mut buf);
            }
            Ok(FileType::Symlink) => {
                let _ = fs.read_link(&p);
            }
            _ => {}
        }
    }
    seen
}

fn walk_source(source: Source) -> Option<usize> {
    let fs = XfsFs::open(source).ok()?;
    let mut budget = 20_000;
    Some(walk_limited(&fs, "/", 0, &mut budget))
}

/// `xfs_db -r -c <cmds…>` on `image`, output as text.
fn xfs_db(image: &Path, cmds: &[String], expert: bool) -> String {
    let mut cmd = Command::new("xfs_db");
    cmd.arg(if expert { "-x" } else { "-r" });
    for c in cmds {
        cmd.arg("-c").arg(c);
    }
    run(cmd.arg(image))
}

/// Byte offset of the inode at `path` and of the first block of its data fork.
fn locations(image: &Path, path: &str) -> (u64, Option<u64>) {
    let ino_out = xfs_db(
        image,
        &[format!("path {path}"), "print core.version".into()],
        false,
    );
    assert!(ino_out.contains("core.version"), "{ino_out}");
    // `inode` is printed by `stack` in the form "inode 1234 (…)"? Use `convert` from the number.
    let num_out = xfs_db(image, &[format!("path {path}"), "stack".into()], false);
    let ino: u64 = num_out
        .split_whitespace()
        .skip_while(|w| *w != "inode")
        .nth(1)
        .and_then(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("no inode number in {num_out}"));
    let byte = xfs_db(image, &[format!("convert inode {ino} byte")], false);
    let ino_byte = parse_convert(&byte);
    let bmap = xfs_db(image, &[format!("path {path}"), "bmap".into()], false);
    let block = bmap
        .lines()
        .next()
        .and_then(|l| l.split("startblock ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse::<u64>().ok())
        .map(|fsb| {
            parse_convert(&xfs_db(
                image,
                &[format!("convert fsblock {fsb} byte")],
                false,
            ))
        });
    (ino_byte, block)
}

fn parse_convert(out: &str) -> u64 {
    // "0x10000 (65536)"
    out.split('(')
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse xfs_db convert output {out:?}"))
}

#[test]
fn truncated_images_give_clean_errors() {
    let image = default_image();
    let full = fs::metadata(&image).unwrap().len();
    for len in [
        0,
        100,
        511,
        512,
        4096,
        65_536,
        1 << 20,
        8 << 20,
        64 << 20,
        full / 2,
        full - 1,
    ] {
        let started = Instant::now();
        let seen = walk_source(damaged(&image, Some(len), vec![]));
        assert!(started.elapsed() < Duration::from_secs(60), "len {len}");
        if len < 512 {
            assert!(seen.is_none(), "len {len} opened");
        }
    }
    // And once through a real truncated file.
    let cut = truncated_copy(&image, 4 << 20);
    walk_source(Arc::new(FileSource::open(&cut).unwrap()));
}

#[test]
fn superblock_bit_flips_are_caught_by_the_crc() {
    let image = default_image();
    for seed in 0..64 {
        let flips = bit_flip_positions(seed, 1, 512);
        let r = XfsFs::open(damaged(&image, None, flips.clone()));
        assert!(r.is_err(), "seed {seed}: flip {flips:?} went unnoticed");
    }
    let err = XfsFs::open(damaged(&image, None, vec![230 * 8]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("CRC"), "{err}");
}

#[test]
fn agi_bit_flips_do_not_matter() {
    // Lookup by inode number never reads the allocation-group headers.
    let image = default_image();
    let clean = walk_source(damaged(&image, None, vec![])).unwrap();
    for seed in 0..8 {
        let flips: Vec<u64> = bit_flip_positions(seed, 32, 512)
            .into_iter()
            .map(|b| b + 2 * 512 * 8) // the AGI is the third sector
            .collect();
        assert_eq!(
            walk_source(damaged(&image, None, flips)),
            Some(clean),
            "seed {seed}"
        );
    }
}

fn flips_everywhere(image: &Path, regions: &[(u64, u64)], seeds: u64, per_region: usize) {
    for seed in 0..seeds {
        let mut flips = Vec::new();
        for &(start, len) in regions {
            flips.extend(
                bit_flip_positions(seed * 7919 + start, per_region, len)
                    .into_iter()
                    .map(|b| b + start * 8),
            );
        }
        flips.sort_unstable();
        flips.dedup();
        let started = Instant::now();
        walk_source(damaged(image, None, flips));
        assert!(started.elapsed() < Duration::from_secs(60), "seed {seed}");
    }
}

#[test]
fn metadata_bit_flips_give_clean_errors_or_reads() {
    for (image, crc) in [
        (default_image(), true),
        (
            v4_image("v4-noftype", &["-m", "crc=0", "-n", "ftype=0"]).0,
            false,
        ),
    ] {
        let mut regions = vec![(0, 4096)];
        for path in [
            "/",
            "/etc",
            "/srv",
            "/srv/d600",
            "/srv/d5000",
            "/srv/longest-link",
        ] {
            let (ino, block) = locations(&image, path);
            regions.push((ino & !(16 * 1024 - 1), 16 * 1024)); // its inode cluster
            if let Some(b) = block {
                regions.push((b, 4096));
            }
        }
        flips_everywhere(&image, &regions, if crc { 20 } else { 60 }, 3);
        // One flip in /etc's directory block: a v5 CRC error that names the block.
        if crc {
            let (_, Some(block)) = locations(&image, "/etc") else {
                panic!("no /etc block")
            };
            let fs = XfsFs::open(damaged(&image, None, vec![(block + 100) * 8])).unwrap();
            let err = fs.read_dir("/etc").unwrap_err().to_string();
            assert!(err.contains("CRC") && err.contains("block"), "{err}");
        }
    }
}

/// Copies of an image edited with `xfs_db -x` (a sparse copy, then the commands).
fn edited_copy(image: &Path, name: &str, cmds: &[String]) -> PathBuf {
    let dir = fixtures_dir()
        .join(".tmp")
        .join(format!("xfs-edit-{name}-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("xfs.img");
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg(image)
        .arg(&copy));
    xfs_db(&copy, cmds, true);
    copy
}

/// The block pointers xfs_db prints for `field` ("f[1] = 42" or "f[1-3] = 1:42 2:43 3:44").
fn pointers(out: &str) -> Vec<u64> {
    let values = out.split_once('=').map_or("", |(_, v)| v);
    values
        .split_whitespace()
        .filter_map(|w| w.rsplit(':').next().and_then(|v| v.parse().ok()))
        .collect()
}

#[test]
fn bmbt_cycles_and_loops_are_errors() {
    let image = kernel_image("v5-1k-blocks", &["-b", "size=1024"]);
    let path = "/srv/frag/a.bin";
    let root = pointers(&xfs_db(
        &image,
        &[format!("path {path}"), "print u3.bmbt.ptrs".into()],
        false,
    ));
    assert!(!root.is_empty());
    let node = root[0];
    let children = pointers(&xfs_db(
        &image,
        &[
            format!("fsblock {node}"),
            "type bmapbtd".into(),
            "print ptrs".into(),
        ],
        false,
    ));
    assert!(children.len() >= 2, "{children:?}");
    // Two pointers to the same leaf: the block graph is not a tree.
    let twice = edited_copy(
        &image,
        "bmbt-twice",
        &[
            format!("fsblock {node}"),
            "type bmapbtd".into(),
            format!("write ptrs[2] {}", children[0]),
        ],
    );
    let err = open(&twice)
        .read_file(path, 1 << 30)
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
    // A node whose first child is itself.
    let selfref = edited_copy(
        &image,
        "bmbt-self",
        &[
            format!("fsblock {node}"),
            "type bmapbtd".into(),
            format!("write ptrs[1] {node}"),
        ],
    );
    let err = open(&selfref)
        .read_file(path, 1 << 30)
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice") || err.contains("level"), "{err}");
    for dir in [twice.parent().unwrap(), selfref.parent().unwrap()] {
        fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_directory_that_contains_itself_does_not_loop() {
    let image = default_image();
    let out = xfs_db(&image, &["path /srv/d3".into(), "stack".into()], false);
    let ino: u64 = out
        .split_whitespace()
        .skip_while(|w| *w != "inode")
        .nth(1)
        .and_then(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let copy = edited_copy(
        &image,
        "dir-self",
        &[
            "path /srv/d3".into(),
            format!("write u3.sfdir3.list[0].inumber.i4 {ino}"),
        ],
    );
    let fs = open(&copy);
    // /srv/d3/f0 is /srv/d3 again (its type byte still says "file"; the inode says directory).
    assert_eq!(
        fs.lstat("/srv/d3/f0").unwrap().file_type,
        FileType::Directory
    );
    assert_eq!(
        fs.read_dir("/srv/d3/f0/f0/f0").unwrap(),
        fs.read_dir("/srv/d3").unwrap()
    );
    let mut budget = 50_000;
    walk_limited(&fs, "/", 0, &mut budget);
    fs::remove_dir_all(copy.parent().unwrap()).unwrap();
}

#[test]
fn a_hash_tree_node_pointing_to_itself_does_not_matter() {
    // Listings and lookups read only the data blocks; the node directory's da-btree root
    // (its first leaf-area block, at 32 GiB) is an index we never follow.
    let image = default_image();
    let leaf = (1u64 << 35) >> 12;
    let copy = edited_copy(
        &image,
        "da-self",
        &[
            "path /srv/d5000".into(),
            format!("dblock {leaf}"),
            format!("write nbtree[0].before {leaf}"),
            format!("write nbtree[1].before {leaf}"),
        ],
    );
    let clean = open(&image);
    let fs = open(&copy);
    assert_eq!(
        fs.read_dir("/srv/d5000").unwrap(),
        clean.read_dir("/srv/d5000").unwrap()
    );
    assert_eq!(
        fs.read_file("/srv/d5000/node-format-entry-004999", 100)
            .unwrap(),
        b"4999\n"
    );
    fs::remove_dir_all(copy.parent().unwrap()).unwrap();
}
