//! The initramfs reader against real tools: trees packed by GNU cpio (`-H newc`), compressed
//! by gzip, xz, zstd, lz4 (legacy), lzma and bzip2, with the microcode-first layout; our
//! listing must equal `cpio -itvn` of each segment. Then damaged and hostile archives.
//!
//! Needs (Debian packages): cpio, gzip, xz-utils (xz, lzma), zstd, lz4, bzip2.

use preflight_facts::initramfs::{
    self, Compression, EntryKind, ErrorKind, Initramfs, InitramfsError, Options,
};
use preflight_fixtures::fixtures_dir;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Bump when a builder below changes its output.
const VERSION: u32 = 3;

/// `fixtures_dir()/initramfs-<name>-v<VERSION>`, built once by `build` in a unique temporary
/// directory renamed into place.
fn cached(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures_dir().join(format!("initramfs-{name}-v{VERSION}"));
    if dir.is_dir() {
        return dir;
    }
    fs::create_dir_all(fixtures_dir()).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tmp = fixtures_dir().join(format!(
        ".tmp-initramfs-{name}-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&tmp).unwrap();
    build(&tmp);
    if fs::rename(&tmp, &dir).is_err() {
        // Someone else finished first.
        let _ = fs::remove_dir_all(&tmp);
        assert!(dir.is_dir(), "cannot publish {}", dir.display());
    }
    dir
}

fn sh(script: &str, cwd: &Path) {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("sh: {e}"));
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic bytes that do not compress to nothing.
fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 3 == 0 {
                b'a' + (x % 26) as u8
            } else {
                x as u8
            }
        })
        .collect()
}

const KVER: &str = "6.1.0-18-amd64";

/// The .ko files of the main tree (relative paths).
const MODULES: [&str; 9] = [
    "kernel/drivers/virtio/virtio_pci.ko.xz",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz",
    "kernel/drivers/scsi/virtio_scsi.ko.zst",
    "kernel/drivers/block/virtio_blk.ko",
    "kernel/drivers/net/virtio_net.ko.xz",
    "kernel/drivers/net/net_failover.ko.gz",
    "kernel/drivers/scsi/iscsi_tcp.ko",
    "kernel/drivers/scsi/libiscsi-tcp.ko",
    "kernel/fs/ext4/ext4.ko.zst",
];

/// A realistic main initramfs tree: busybox and applets, scripts, conf/, etc/, modules with
/// modules.dep, a symlink, a hard link, an empty file, a device node and a large file.
fn main_tree(root: &Path) {
    let w = |p: &str, data: &[u8], mode: u32| {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    };
    w(
        "init",
        b"#!/bin/sh\n. /scripts/functions\nexec run-init\n",
        0o755,
    );
    w("bin/busybox", &noise(1, 150_000), 0o755);
    for applet in ["sh", "mount", "modprobe"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    w("sbin/iscsistart", &noise(2, 5_000), 0o755);
    w("usr/sbin/iscsid", &noise(3, 7_000), 0o755);
    w("usr/bin/cloud-init", b"#!/usr/bin/python3\n", 0o755);
    w("usr/bin/not-executable", b"data\n", 0o644);
    w("scripts/local", b"# local\nmountroot() { :; }\n", 0o644);
    w("scripts/functions", &noise(4, 20_000), 0o644);
    w(
        "conf/initramfs.conf",
        b"MODULES=most\nBUSYBOX=auto\n",
        0o644,
    );
    w("conf/modules", b"virtio_pci\nvirtio-scsi\n", 0o644);
    w("conf/conf.d/empty", b"", 0o644);
    w(
        "etc/modules-load.d/virtio.conf",
        b"virtio_net\nvirtio_blk\n",
        0o644,
    );
    w(
        "etc/modprobe.d/blacklist.conf",
        b"blacklist floppy\n",
        0o644,
    );
    let mut dep = String::new();
    for m in MODULES {
        let path = format!("usr/lib/modules/{KVER}/{m}");
        w(&path, &noise(m.len() as u32, 3_000 + m.len() * 100), 0o644);
        dep.push_str(&format!("{m}:\n"));
    }
    w(
        &format!("usr/lib/modules/{KVER}/modules.dep"),
        dep.as_bytes(),
        0o644,
    );
    w(
        &format!("usr/lib/modules/{KVER}/modules.builtin"),
        b"kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n",
        0o644,
    );
    // Matches a capture pattern; bigger than the capture limit of `small_captures()`.
    w("etc/modprobe.d/huge.conf", &noise(5, 100_000), 0o644);
    symlink("usr/lib", root.join("lib")).unwrap();
    fs::hard_link(root.join("bin/busybox"), root.join("bin/busybox.hard")).unwrap();
    w("etc/fstab", b"", 0o644);
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::create_dir_all(root.join("run")).unwrap();
    sh("mknod dev/console c 5 1 && chmod 600 dev/console", root);
}

fn early_tree(root: &Path) {
    let dir = root.join("kernel/x86/microcode");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("GenuineIntel.bin"), noise(9, 40_000)).unwrap();
}

/// The packed archives: early.cpio, main.cpio, and main.cpio.<ext> for every compressor.
fn archives() -> PathBuf {
    cached("archives", |dir| {
        for (name, build) in [("main", main_tree as fn(&Path)), ("early", early_tree)] {
            let tree = dir.join(format!("{name}-tree"));
            fs::create_dir_all(&tree).unwrap();
            build(&tree);
            sh(
                &format!("find . | LC_ALL=C sort | cpio -o -H newc --quiet > ../{name}.cpio"),
                &tree,
            );
        }
        sh(
            "gzip -n -9 -c main.cpio > main.cpio.gz
             xz --check=crc32 -c main.cpio > main.cpio.xz
             zstd -q -19 -c main.cpio > main.cpio.zst
             lz4 -l -q -c main.cpio > main.cpio.lz4
             lzma -c main.cpio > main.cpio.lzma
             bzip2 -c main.cpio > main.cpio.bz2",
            dir,
        );
    })
}

const COMPRESSORS: [(&str, Compression); 6] = [
    ("gz", Compression::Gzip),
    ("xz", Compression::Xz),
    ("zst", Compression::Zstd),
    ("lz4", Compression::Lz4),
    ("lzma", Compression::Lzma),
    ("bz2", Compression::Bzip2),
];

/// One line of `cpio -itvn`: mode string, size (or "maj,min"), name, link target.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    name: String,
    mode: String,
    nlink: u32,
    uid: u32,
    gid: u32,
    size: String,
    target: Option<String>,
}

fn cpio_listing(archive: &Path) -> Vec<Listed> {
    let out = Command::new("cpio")
        .args(["-itvn", "--quiet"])
        .stdin(fs::File::open(archive).unwrap())
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            // Devices print "maj, min" in the size column.
            let (size, rest) = if t[4].ends_with(',') {
                (format!("{}{}", t[4], t[5]), &t[6..])
            } else {
                (t[4].to_string(), &t[5..])
            };
            // Then a date of three tokens, the name, maybe "-> target".
            let rest = &rest[3..];
            let (name, target) = match rest.iter().position(|&x| x == "->") {
                Some(i) => (rest[..i].join(" "), Some(rest[i + 1..].join(" "))),
                None => (rest.join(" "), None),
            };
            Listed {
                name,
                mode: t[0].to_string(),
                nlink: t[1].parse().unwrap(),
                uid: t[2].parse().unwrap(),
                gid: t[3].parse().unwrap(),
                size,
                target,
            }
        })
        .collect()
}

fn mode_string(mode: u32) -> String {
    let t = match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o140000 => 's',
        _ => '-',
    };
    let mut s = String::from(t);
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        let bit = 0o400 >> i;
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (set, special) {
            (true, false) => c,
            (false, false) => '-',
            (true, true) => {
                if i == 8 {
                    't'
                } else {
                    's'
                }
            }
            (false, true) => {
                if i == 8 {
                    'T'
                } else {
                    'S'
                }
            }
        });
    }
    s
}

fn ours(initrd: &Initramfs, segment: usize) -> Vec<Listed> {
    initrd
        .segment_entries(segment)
        .iter()
        .map(|e| Listed {
            name: e.name.clone(),
            mode: mode_string(e.mode),
            nlink: e.nlink,
            uid: e.uid,
            gid: e.gid,
            size: match e.rdev {
                Some((a, b)) => format!("{a},{b}"),
                None => e.size.to_string(),
            },
            target: e.link_target.clone(),
        })
        .collect()
}

fn read_file(path: &Path, opts: &Options) -> Result<Initramfs, InitramfsError> {
    let mut f = fs::File::open(path).unwrap();
    initramfs::read(&mut f, opts)
}

fn concat(parts: &[&Path]) -> Vec<u8> {
    parts.iter().flat_map(|p| fs::read(p).unwrap()).collect()
}

/// The .ko paths of the tree, as the reader names them.
fn tree_modules() -> BTreeSet<String> {
    MODULES
        .iter()
        .map(|m| format!("usr/lib/modules/{KVER}/{m}"))
        .collect()
}

fn check_main(initrd: &Initramfs, segment: usize, main_cpio: &Path) {
    assert_eq!(ours(initrd, segment), cpio_listing(main_cpio));
    let modules: BTreeSet<String> = initrd.modules().into_iter().map(|m| m.path).collect();
    assert_eq!(modules, tree_modules());
    for name in [
        "virtio_pci",
        "virtio_scsi",
        "virtio_blk",
        "virtio_net",
        "libiscsi_tcp",
    ] {
        assert!(initrd.has_module(name), "{name}");
    }
    assert!(initrd.has_module("libiscsi-tcp"));
    assert!(!initrd.has_module("virtio_console"));
    assert_eq!(initrd.kernel_versions(), vec![KVER.to_string()]);
    let bins = initrd.binaries();
    for b in [
        "busybox",
        "sh",
        "modprobe",
        "iscsistart",
        "iscsid",
        "cloud-init",
    ] {
        assert!(bins.iter().any(|x| x == b), "{b} in {bins:?}");
    }
    assert!(!bins.iter().any(|x| x == "not-executable"));
    assert_eq!(
        initrd.file("conf/modules"),
        Some(&b"virtio_pci\nvirtio-scsi\n"[..])
    );
    assert_eq!(
        initrd.file("etc/modules-load.d/virtio.conf"),
        Some(&b"virtio_net\nvirtio_blk\n"[..])
    );
    assert_eq!(initrd.file("conf/conf.d/empty"), Some(&b""[..]));
    let dep = initrd
        .file(&format!("usr/lib/modules/{KVER}/modules.dep"))
        .unwrap();
    assert!(dep.starts_with(b"kernel/drivers/virtio/virtio_pci.ko.xz:\n"));
    assert_eq!(
        initrd.file("etc/modprobe.d/huge.conf").map(<[u8]>::len),
        Some(100_000)
    );
    assert_eq!(
        initrd.file("etc/modprobe.d/blacklist.conf"),
        Some(&b"blacklist floppy\n"[..])
    );
    assert_eq!(
        initrd.entry("lib").unwrap().link_target.as_deref(),
        Some("usr/lib")
    );
    assert_eq!(initrd.entry("./bin/sh").unwrap().kind, EntryKind::Symlink);
    assert_eq!(initrd.entry("dev/console").unwrap().rdev, Some((5, 1)));
    // GNU cpio writes the data with the last name of a hard-link group.
    let (a, b) = (
        initrd.entry("bin/busybox").unwrap(),
        initrd.entry("bin/busybox.hard").unwrap(),
    );
    assert_eq!((a.nlink, b.nlink), (2, 2));
    assert_eq!(a.hard_link_to, None);
    assert_eq!(b.hard_link_to.as_deref(), Some("bin/busybox"));
    assert_eq!(a.size + b.size, 150_000);
}

#[test]
fn uncompressed_archive_equals_cpio_listing() {
    let dir = archives();
    let initrd = read_file(&dir.join("main.cpio"), &Options::default()).unwrap();
    assert_eq!(initrd.segments.len(), 1);
    let s = &initrd.segments[0];
    assert_eq!(
        (s.offset, s.compression, s.archives),
        (0, Compression::None, 1)
    );
    check_main(&initrd, 0, &dir.join("main.cpio"));
}

/// Files over `max_capture` are listed, not kept, with a warning.
#[test]
fn small_captures() {
    let opts = Options {
        max_capture: 50_000,
        ..Options::default()
    };
    let initrd = read_file(&archives().join("main.cpio.zst"), &opts).unwrap();
    assert!(initrd.file("etc/modprobe.d/huge.conf").is_none());
    assert_eq!(
        initrd.entry("etc/modprobe.d/huge.conf").unwrap().size,
        100_000
    );
    assert!(
        initrd.warnings.iter().any(|w| w.contains("huge.conf")),
        "{:?}",
        initrd.warnings
    );
    assert!(initrd.file("conf/modules").is_some());
}

#[test]
fn every_compressor_equals_cpio_listing() {
    let dir = archives();
    let main_len = fs::metadata(dir.join("main.cpio")).unwrap().len();
    for (ext, compression) in COMPRESSORS {
        let path = dir.join(format!("main.cpio.{ext}"));
        let initrd = read_file(&path, &Options::default()).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(initrd.segments.len(), 1, "{ext}");
        let s = &initrd.segments[0];
        assert_eq!(s.compression, compression, "{ext}");
        assert_eq!(s.unpacked, main_len, "{ext}");
        assert_eq!(s.length, fs::metadata(&path).unwrap().len(), "{ext}");
        check_main(&initrd, 0, &dir.join("main.cpio"));
    }
}

#[test]
fn microcode_first_layout_for_every_compressor() {
    let dir = archives();
    let early = dir.join("early.cpio");
    let early_len = fs::metadata(&early).unwrap().len();
    for (ext, compression) in COMPRESSORS {
        let main = dir.join(format!("main.cpio.{ext}"));
        let data = concat(&[&early, &main]);
        let initrd = initramfs::read_bytes(&data, &Options::default())
            .unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(initrd.segments.len(), 2, "{ext}");
        assert_eq!(initrd.segments[0].compression, Compression::None);
        // GNU cpio pads to 512 bytes: the segment ends at the trailer's padding.
        assert!(initrd.segments[0].length <= early_len);
        assert_eq!(
            (initrd.segments[1].offset, initrd.segments[1].compression),
            (early_len, compression),
            "{ext}"
        );
        assert_eq!(ours(&initrd, 0), cpio_listing(&early));
        assert!(
            initrd
                .entry("kernel/x86/microcode/GenuineIntel.bin")
                .is_some()
        );
        check_main(&initrd, 1, &dir.join("main.cpio"));
    }
}

/// Several compressed segments back to back, with zero padding between them, and an
/// uncompressed archive in the middle: each decoder must stop at the end of its stream.
#[test]
fn segments_in_sequence_with_padding() {
    let dir = archives();
    let early = dir.join("early.cpio");
    // lz4 legacy has no end mark and lzma-rs wants the end of the input after .lzma:
    // those two go last.
    let order = ["gz", "zst", "xz", "bz2", "lz4"];
    let mut data = fs::read(&early).unwrap();
    let mut offsets = vec![0u64];
    for ext in order {
        while !data.len().is_multiple_of(4) {
            data.push(0);
        }
        data.extend_from_slice(&[0; 8]);
        offsets.push(data.len() as u64);
        data.extend(fs::read(dir.join(format!("main.cpio.{ext}"))).unwrap());
    }
    let initrd = initramfs::read_bytes(&data, &Options::default()).unwrap();
    let got: Vec<u64> = initrd.segments.iter().map(|s| s.offset).collect();
    assert_eq!(got, offsets);
    for i in 1..=order.len() {
        assert_eq!(ours(&initrd, i), cpio_listing(&dir.join("main.cpio")));
    }
    // An uncompressed archive after a compressed one, then lzma last.
    let mut data = fs::read(dir.join("main.cpio.gz")).unwrap();
    while !data.len().is_multiple_of(4) {
        data.push(0);
    }
    data.extend(fs::read(&early).unwrap());
    data.extend(fs::read(dir.join("main.cpio.lzma")).unwrap());
    let initrd = initramfs::read_bytes(&data, &Options::default()).unwrap();
    let kinds: Vec<Compression> = initrd.segments.iter().map(|s| s.compression).collect();
    assert_eq!(
        kinds,
        [Compression::Gzip, Compression::None, Compression::Lzma]
    );
}

/// Any cut point: an error (truncated or a decoder's), never a panic, and the entries read
/// before it are a prefix of the full listing.
#[test]
fn truncated_archives() {
    let dir = archives();
    let early = dir.join("early.cpio");
    for ext in [
        "cpio",
        "cpio.gz",
        "cpio.xz",
        "cpio.zst",
        "cpio.lz4",
        "cpio.lzma",
        "cpio.bz2",
    ] {
        let data = concat(&[&early, &dir.join(format!("main.{ext}"))]);
        let full = initramfs::read_bytes(&data, &Options::default()).unwrap();
        let early_len = fs::metadata(&early).unwrap().len() as usize;
        let step = (data.len() / 61).max(1);
        let mut cut = 1;
        while cut < data.len() {
            let (partial, err) = initramfs::read_partial(&mut &data[..cut], &Options::default());
            assert!(
                full.entries.starts_with(&partial.entries),
                "{ext} cut at {cut}: listing is not a prefix"
            );
            // The early archive is complete from its trailer on: cuts in its zero padding
            // or right after it are valid initramfs images.
            let in_padding = |end: usize| cut + 512 >= end && cut <= end;
            let complete = in_padding(early_len) || (ext == "cpio" && in_padding(data.len()));
            if !complete {
                let e = err.unwrap_or_else(|| panic!("{ext} cut at {cut}: no error"));
                assert!(!e.message.is_empty());
                assert!(e.offset <= cut as u64);
            }
            cut += step;
        }
    }
}

/// Bit flips across the headers and the compressed data: no panic, no hang.
#[test]
fn bit_flips() {
    let dir = archives();
    for ext in [
        "cpio",
        "cpio.gz",
        "cpio.xz",
        "cpio.zst",
        "cpio.lz4",
        "cpio.lzma",
        "cpio.bz2",
    ] {
        let data = fs::read(dir.join(format!("main.{ext}"))).unwrap();
        // The first headers (of the cpio or of the compressed stream), then across the data.
        let positions: Vec<usize> = (0..400.min(data.len()))
            .step_by(11)
            .chain((0..data.len()).step_by(data.len() / 25 + 1))
            .collect();
        for pos in positions {
            let mut copy = data.clone();
            copy[pos] ^= 1 << (pos % 8);
            let start = Instant::now();
            let _ = initramfs::read_partial(&mut &copy[..], &Options::default());
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{ext} flip at {pos}"
            );
        }
    }
}

fn newc_header(mode: u32, filesize: u32, namesize: u32) -> String {
    format!(
        "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{filesize:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
        1, 0, 0, 1, 0, 0, 0, 0, 0, 0
    )
}

/// A cpio whose one file holds `len` zeros (4 GiB - 1 for zstd, 1 GiB for the slower
/// tools), compressed by the real tool: the budget stops it quickly, with the cap in the
/// message.
fn bomb(ext: &str, tool: &str, len: u32) -> PathBuf {
    cached(&format!("bomb-{ext}-{len}"), |dir| {
        let header = newc_header(0o100644, len, 5);
        sh(
            &format!(
                "{{ printf '%s' '{header}'; printf 'zero\\0\\0'; head -c {len} /dev/zero; }} | {tool} > bomb.{ext}"
            ),
            dir,
        );
    })
    .join(format!("bomb.{ext}"))
}

#[test]
fn decompression_bombs_hit_the_cap() {
    let opts = Options {
        max_unpacked: 64 << 20,
        ..Options::default()
    };
    for (ext, tool, len) in [
        ("zst", "zstd -q -1 -c", u32::MAX),
        ("xz", "xz -0 --check=crc32 -c", 1 << 30),
        ("gz", "gzip -1 -c", 1 << 30),
    ] {
        let path = bomb(ext, tool, len);
        let start = Instant::now();
        let err = read_file(&path, &opts).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooLarge, "{ext}: {err}");
        assert!(
            err.to_string().contains(&(64u64 << 20).to_string()),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "{ext}");
    }
    assert_eq!(Options::default().max_unpacked, 2 << 30);
}

/// 10 GiB of zeros as zstd: not a cpio at all; the kernel stops at the first header ("no
/// cpio magic") and so do we, at once.
#[test]
fn zstd_of_zeros_stops_at_once() {
    let path = cached("zeros-zst", |dir| {
        sh("head -c 10G /dev/zero | zstd -q -1 -c > zeros.zst", dir);
    })
    .join("zeros.zst");
    let start = Instant::now();
    let err = read_file(&path, &Options::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed, "{err}");
    assert!(err.message.contains("no cpio magic"), "{err}");
    assert_eq!(err.unpacked_offset, Some(0));
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn four_gib_name_is_an_error_with_offset() {
    let mut data = fs::read(archives().join("early.cpio")).unwrap();
    let at = data.len() as u64;
    data.extend(newc_header(0o100644, 0, 0xffff_ffff).as_bytes());
    data.extend(b"x".repeat(64));
    let err = initramfs::read_bytes(&data, &Options::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    assert_eq!(err.offset, at);
    assert!(err.message.contains("4294967295"), "{err}");
    // The same inside a gzip segment: the decompressed offset says where.
    let gz = cached("name-gz", |dir| {
        let header = newc_header(0o100644, 0, 0xffff_ffff);
        sh(&format!("printf '%s' '{header}' | gzip -c > name.gz"), dir);
    })
    .join("name.gz");
    let err = read_file(&gz, &Options::default()).unwrap_err();
    assert_eq!((err.offset, err.unpacked_offset), (0, Some(0)));
    assert_eq!(err.compression, Compression::Gzip);
    assert!(err.to_string().contains("decompressed offset 0"), "{err}");
}

#[test]
fn entry_cap() {
    let opts = Options {
        max_entries: 10,
        ..Options::default()
    };
    let err = read_file(&archives().join("main.cpio.zst"), &opts).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyEntries);
    assert!(err.message.contains("more than 10 entries"));
}

/// Trailing junk after the last segment: the kernel's "invalid magic" error, with offset.
#[test]
fn junk_after_the_archive() {
    let mut data = fs::read(archives().join("main.cpio.gz")).unwrap();
    let at = data.len() as u64;
    data.extend(b"JUNKJUNK");
    let (partial, err) = initramfs::read_partial(&mut &data[..], &Options::default());
    let err = err.unwrap();
    assert_eq!(err.offset, at);
    assert!(err.message.contains("invalid magic"), "{err}");
    assert_eq!(partial.segments.len(), 1);
    assert!(partial.has_module("virtio_scsi"));
}

/// The Debian kernel whose modules go into the real initramfs below.
const DEBIAN_KERNEL_PACKAGE: &str = "linux-image-6.1.0-56-amd64";
const DEBIAN_KERNEL_VERSION: &str = "6.1.0-56-amd64";

/// A real Debian 12 initramfs: `mkinitramfs` (initramfs-tools, MODULES=most, COMPRESS=zstd
/// as Debian ships it) for a Debian kernel package unpacked with `dpkg -x`, its modules and
/// config bound over /usr/lib/modules and /boot in a private mount namespace. Also kept:
/// the decompressed cpio and `unmkinitramfs`'s file list. `None` when the package cannot be
/// downloaded (no network): the test then says so and passes.
fn mkinitramfs_image() -> Option<PathBuf> {
    let probe = fixtures_dir().join(format!("initramfs-mkinitramfs-v{VERSION}/initrd.img"));
    if !probe.is_file() {
        let ok = Command::new("apt-get")
            .args(["download", "--print-uris", DEBIAN_KERNEL_PACKAGE])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        if !ok {
            return None;
        }
    }
    let dir = cached("mkinitramfs", |dir| {
        let d = dir.display();
        // mkinitramfs reads /lib/modules/<v> (/usr/lib/modules on merged /usr) and
        // /boot/config-<v>: the mount points must exist (Debian has both).
        sh(
            &format!(
                "apt-get download {DEBIAN_KERNEL_PACKAGE} 2>/dev/null
                 dpkg -x {DEBIAN_KERNEL_PACKAGE}_*.deb root
                 rm {DEBIAN_KERNEL_PACKAGE}_*.deb
                 mkdir -p /usr/lib/modules /boot
                 cp -r /etc/initramfs-tools conf
                 sed -i 's/^COMPRESS=.*/COMPRESS=zstd/; s/^MODULES=.*/MODULES=most/' conf/initramfs.conf
                 unshare -m sh -ec 'mount --bind {d}/root/lib/modules /usr/lib/modules
                   mount --bind {d}/root/boot /boot
                   mkinitramfs -d {d}/conf -o {d}/initrd.img {DEBIAN_KERNEL_VERSION}'
                 rm -rf root conf
                 zstd -q -d -c initrd.img > main.cpio
                 unmkinitramfs initrd.img unpacked
                 (cd unpacked && find . -mindepth 1 | LC_ALL=C sort > ../unmkinitramfs.txt)
                 rm -rf unpacked"
            ),
            dir,
        );
    });
    Some(dir)
}

#[test]
fn real_debian_initramfs() {
    let Some(dir) = mkinitramfs_image() else {
        eprintln!("skipped: {DEBIAN_KERNEL_PACKAGE} cannot be downloaded");
        return;
    };
    let initrd = read_file(&dir.join("initrd.img"), &Options::default()).unwrap();
    assert_eq!(initrd.segments.len(), 1);
    assert_eq!(initrd.segments[0].compression, Compression::Zstd);
    let listed = cpio_listing(&dir.join("main.cpio"));
    assert_eq!(ours(&initrd, 0), listed);
    // unmkinitramfs (initramfs-tools' own splitter) extracts the same paths.
    let unpacked: BTreeSet<String> = fs::read_to_string(dir.join("unmkinitramfs.txt"))
        .unwrap()
        .lines()
        .map(initramfs::normalize)
        .collect();
    let ours_paths: BTreeSet<String> = initrd
        .entries
        .iter()
        .map(|e| e.path.clone())
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(ours_paths, unpacked);
    // The modules are the .ko files cpio lists; virtio is there (MODULES=most).
    let ko: BTreeSet<String> = listed
        .iter()
        .filter(|l| l.mode.starts_with('-') && l.name.contains(".ko"))
        .map(|l| initramfs::normalize(&l.name))
        .collect();
    let modules: BTreeSet<String> = initrd.modules().into_iter().map(|m| m.path).collect();
    assert_eq!(modules, ko);
    for m in [
        "virtio_pci",
        "virtio_scsi",
        "virtio_blk",
        "virtio_net",
        "iscsi_tcp",
    ] {
        assert!(initrd.has_module(m), "{m}");
    }
    assert_eq!(initrd.kernel_versions(), [DEBIAN_KERNEL_VERSION]);
    assert!(
        initrd
            .binaries()
            .iter()
            .any(|b| b == "busybox" || b == "sh")
    );
    let dep = initrd
        .file(&format!(
            "usr/lib/modules/{DEBIAN_KERNEL_VERSION}/modules.dep"
        ))
        .or_else(|| initrd.file(&format!("lib/modules/{DEBIAN_KERNEL_VERSION}/modules.dep")))
        .expect("modules.dep captured");
    assert!(String::from_utf8_lossy(dep).contains("virtio_scsi.ko"));
    assert!(initrd.file("conf/initramfs.conf").is_some());

    // The same archive as xz (what COMPRESS=xz makes: one block, CRC32), which lzma-rs
    // holds in memory block by block: under the default limit, over a small one.
    let xz = cached("mkinitramfs-xz", |out| {
        sh(
            &format!(
                "xz --check=crc32 -1 -T1 -c {} > main.cpio.xz",
                dir.join("main.cpio").display()
            ),
            out,
        );
    })
    .join("main.cpio.xz");
    let again = read_file(&xz, &Options::default()).unwrap();
    assert_eq!(ours(&again, 0), listed);
    let small = Options {
        max_xz_block: 32 << 20,
        ..Options::default()
    };
    let err = read_file(&xz, &small).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLarge, "{err}");
    assert!(err.message.contains("in memory"), "{err}");
}
