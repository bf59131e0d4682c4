//! The VHD reader against qemu: every fixture reads byte-identical to `qemu-img convert -f vpc
//! -O raw`, facts match `qemu-img info`, the size rule (CHS geometry or current size) is
//! qemu's, differencing disks count what their parent would supply, and damaged copies fail
//! cleanly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::{Container as Opened, Format, open, vhd};
use preflight_fixtures::{
    Container, DiskSpec, Partitioning, bit_flipped_copy, debian_guest, fixtures_dir, image,
    qemu_raw_sha256_as, sha256_source, truncated_copy,
};
use preflight_io::{BlockCache, ByteSource, Counting, FileSource, MemSource};

fn open_path(path: &Path) -> Opened {
    open(Arc::new(FileSource::open(path).unwrap()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A top-level number of `qemu-img info --output=json -f vpc`.
fn qemu_info_number(path: &Path, key: &str) -> Option<u64> {
    let json = run(Command::new("qemu-img")
        .args(["info", "--output=json", "-f", "vpc"])
        .arg(path));
    let prefix = format!("    \"{key}\": ");
    json.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim_end_matches(',').parse().unwrap())
}

fn check_identical(path: &Path, subformat: &str) -> Opened {
    let c = open_path(path);
    assert_eq!(c.info.format, Format::Vhd);
    assert_eq!(c.info.subformat.as_deref(), Some(subformat));
    assert_eq!(
        Some(c.info.virtual_size),
        qemu_info_number(path, "virtual-size")
    );
    assert_eq!(c.disk.len(), c.info.virtual_size);
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(path, "vpc"),
        "{}: our virtual disk differs from qemu-img's",
        path.display()
    );
    assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
    c
}

fn detail<'a>(c: &'a Opened, key: &str) -> Option<&'a str> {
    c.info
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn dynamic_and_fixed_read_like_qemu_gpt_and_mbr_logical() {
    for partitioning in [Partitioning::Gpt, Partitioning::MbrLogical] {
        let mut spec = DiskSpec::new(debian_guest());
        spec.partitioning = partitioning;
        let d = check_identical(&image(&spec, Container::VhdDynamic), "dynamic");
        assert_eq!(d.info.block_size, Some(2 << 20));
        assert_eq!(
            d.info.block_size,
            qemu_info_number(&image(&spec, Container::VhdDynamic), "cluster-size")
        );
        let allocated = d.info.allocated_size.unwrap();
        assert!(allocated > 0 && allocated < d.info.virtual_size);
        assert!(d.missing_backing_bytes.is_none());
        assert_eq!(d.info.version.as_deref(), Some("1.0"));
        assert_eq!(detail(&d, "creator"), Some("qem2 (QEMU) 5.3"));
        assert_eq!(detail(&d, "creator host OS"), Some("Windows (Wi2k)"));
        assert_eq!(detail(&d, "size from"), Some("current size field"));
        assert!(detail(&d, "disk UUID").is_some_and(|u| u.len() == 36));

        let f = check_identical(&image(&spec, Container::VhdFixed), "fixed");
        assert_eq!(f.info.allocated_size, Some(f.info.virtual_size));
        assert_eq!(f.info.virtual_size, spec.disk_mib << 20);
    }
}

#[test]
fn a_larger_sparse_disk_uses_many_blocks() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.disk_mib = 3072;
    let c = check_identical(&image(&spec, Container::VhdDynamic), "dynamic");
    assert_eq!(c.info.virtual_size, 3072 << 20);
}

/// A directory of our own under the fixtures directory, built once.
fn own_dir(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures_dir().join(format!("vhd-tests-v1-{name}"));
    if !dir.join("done").exists() {
        let tmp = fixtures_dir().join(format!("vhd-tests-v1-{name}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        build(&tmp);
        fs::write(tmp.join("done"), "").unwrap();
        if fs::rename(&tmp, &dir).is_err() {
            // Another test process won the race; theirs is as good.
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    dir
}

fn checksum(b: &[u8], at: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(at..at + 4).contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    !sum
}

/// Rewrite a footer in place (at `at` in `bytes`) with `edit`, fixing its checksum.
fn edit_footer(bytes: &mut [u8], at: usize, edit: impl Fn(&mut [u8])) {
    let f = &mut bytes[at..at + 512];
    edit(f);
    let c = checksum(f, 64);
    f[64..68].copy_from_slice(&c.to_be_bytes());
}

fn qemu_io(path: &Path, format: &str, commands: &[&str]) -> String {
    let mut cmd = Command::new("qemu-io");
    cmd.args(["-f", format]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    run(cmd.arg(path))
}

/// qemu sizes disks of creators it does not know as Hyper-V-like by CHS geometry, others by
/// the current-size field: images whose two sizes differ (made by patching a qemu-img image,
/// as qemu-img itself always writes them equal) must get qemu's size.
#[test]
fn virtual_size_follows_qemu_for_each_creator() {
    let dir = own_dir("geometry", |dir| {
        run(Command::new("qemu-img")
            .current_dir(dir)
            .args(["create", "-q", "-f", "vpc", "-o", "subformat=dynamic"])
            .args(["base.vhd", "1000M"]));
        // Data in the last block, so the size difference shows in the bytes.
        qemu_io(
            &dir.join("base.vhd"),
            "vpc",
            &["write -P 0x5a 1048000000 512k"],
        );
        let base = fs::read(dir.join("base.vhd")).unwrap();
        let tail = base.len() - 512;
        for (name, creator) in [("vpc.vhd", b"vpc "), ("win.vhd", b"win ")] {
            let mut b = base.clone();
            for at in [0, tail] {
                edit_footer(&mut b, at, |f| {
                    f[28..32].copy_from_slice(creator);
                    f[40..48].copy_from_slice(&(1000u64 << 20).to_be_bytes());
                    f[48..56].copy_from_slice(&(1000u64 << 20).to_be_bytes());
                });
            }
            fs::write(dir.join(name), b).unwrap();
        }
    });
    let chs = 2032 * 16 * 63 * 512; // qemu's geometry for 1000 MiB, above 1000 MiB
    let vpc = open_path(&dir.join("vpc.vhd"));
    assert_eq!(vpc.info.virtual_size, chs);
    assert_eq!(
        qemu_info_number(&dir.join("vpc.vhd"), "virtual-size"),
        Some(chs)
    );
    assert!(
        vpc.info.warnings.iter().any(|w| w.contains("CHS geometry")),
        "{:?}",
        vpc.info.warnings
    );
    assert_eq!(detail(&vpc, "size from"), Some("CHS geometry"));
    let win = open_path(&dir.join("win.vhd"));
    assert_eq!(win.info.virtual_size, 1000 << 20);
    assert_eq!(
        qemu_info_number(&dir.join("win.vhd"), "virtual-size"),
        Some(1000 << 20)
    );
    assert!(win.info.warnings.is_empty(), "{:?}", win.info.warnings);
    for name in ["vpc.vhd", "win.vhd"] {
        let path = dir.join(name);
        assert_eq!(
            sha256_source(&*open_path(&path).disk, 1 << 20),
            qemu_raw_sha256_as(&path, "vpc"),
            "{name}"
        );
    }
}

const MIB: u64 = 1 << 20;

/// qemu-img cannot create differencing VHDs, so we make one from a dynamic VHD the only way
/// available here: disk type 4 in the footer and its copy, a parent name and a `W2ru` locator
/// in the dynamic header (both checksums fixed), and a cleared bitmap bit range in block 0.
#[test]
fn differencing_disk_reads_its_sectors_and_counts_the_parents() {
    let dir = own_dir("differencing", |dir| {
        run(Command::new("qemu-img")
            .current_dir(dir)
            .args([
                "create",
                "-q",
                "-f",
                "vpc",
                "-o",
                "subformat=dynamic,force_size=on",
            ])
            .args(["dyn.vhd", "8M"]));
        qemu_io(
            &dir.join("dyn.vhd"),
            "vpc",
            &["write -P 0x11 0 64k", "write -P 0x22 3M 1M"],
        );
        let mut b = fs::read(dir.join("dyn.vhd")).unwrap();
        let footer = b.split_off(b.len() - 512);
        // The locator's data in a sector of its own before the footer.
        let locator_at = b.len() as u64;
        let path: Vec<u8> = ".\\base.vhd"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut sector = path.clone();
        sector.resize(512, 0);
        b.extend_from_slice(&sector);
        b.extend_from_slice(&footer);
        let tail = b.len() - 512;
        for at in [0, tail] {
            edit_footer(&mut b, at, |f| {
                f[60..64].copy_from_slice(&4u32.to_be_bytes())
            });
        }
        let h = 512;
        for (i, u) in "base.vhd".encode_utf16().enumerate() {
            b[h + 64 + 2 * i..h + 66 + 2 * i].copy_from_slice(&u.to_be_bytes());
        }
        let l = h + 576;
        b[l..l + 4].copy_from_slice(b"W2ru");
        b[l + 4..l + 8].copy_from_slice(&1u32.to_be_bytes());
        b[l + 8..l + 12].copy_from_slice(&(path.len() as u32).to_be_bytes());
        b[l + 16..l + 24].copy_from_slice(&locator_at.to_be_bytes());
        let c = checksum(&b[h..h + 1024], 36);
        b[h + 36..h + 40].copy_from_slice(&c.to_be_bytes());
        // Block 0's bitmap: sectors 8..16 (bytes 4096..8192) left to the parent.
        let bat = u64::from_be_bytes(b[h + 16..h + 24].try_into().unwrap()) as usize;
        let block0 = u32::from_be_bytes(b[bat..bat + 4].try_into().unwrap()) as usize * 512;
        b[block0 + 1] = 0;
        fs::write(dir.join("diff.vhd"), b).unwrap();
    });
    let dynamic = open_path(&dir.join("dyn.vhd"));
    assert_eq!(
        sha256_source(&*dynamic.disk, 1 << 20),
        qemu_raw_sha256_as(&dir.join("dyn.vhd"), "vpc")
    );
    let c = open_path(&dir.join("diff.vhd"));
    assert_eq!(c.info.subformat.as_deref(), Some("differencing"));
    assert_eq!(c.info.parent.as_deref(), Some("base.vhd"));
    assert_eq!(
        detail(&c, "parent locator 0 (W2ru)"),
        Some(".\\base.vhd"),
        "{:?}",
        c.info.details
    );
    assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
    let missing = c.missing_backing_bytes.clone().unwrap();

    let mut ours = vec![0u8; 8 * MIB as usize];
    c.disk.read_at(0, &mut ours).unwrap();
    let mut expected = vec![0u8; 8 * MIB as usize];
    dynamic.disk.read_at(0, &mut expected).unwrap();
    expected[4096..8192].fill(0);
    assert_eq!(ours, expected);
    assert!(ours[..4096].iter().all(|&b| b == 0x11));
    assert!(
        ours[3 * MIB as usize..4 * MIB as usize]
            .iter()
            .all(|&b| b == 0x22)
    );
    // Held here: block 0 but for 4 KiB, block 1; the parent's: 4 KiB and blocks 2, 3.
    assert_eq!(missing.load(Ordering::Relaxed), 4096 + 4 * MIB);
}

#[test]
fn a_fixed_vhd_is_detected_by_its_footer_at_the_end() {
    let path = image(&DiskSpec::new(debian_guest()), Container::VhdFixed);
    let file = FileSource::open(&path).unwrap();
    assert_eq!(preflight_container::detect(&file).unwrap(), Format::Vhd);
}

/// Reads spread over the disk, and one whole pass: no panic, errors only as errors.
fn exercise(c: &Opened) -> Result<(), String> {
    let len = c.disk.len();
    let mut buf = vec![0u8; 256 * 1024];
    for i in 0..64u64 {
        let off = (len / 64 * i) & !511;
        let n = (len - off).min(buf.len() as u64) as usize;
        c.disk
            .read_at(off, &mut buf[..n])
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn truncated_copies_fail_cleanly() {
    let path = image(&DiskSpec::new(debian_guest()), Container::VhdDynamic);
    let len = fs::metadata(&path).unwrap().len();
    for cut in [0, 100, 511, 512, 1000, 1600, 4096, len / 2, len - 1] {
        let copy = truncated_copy(&path, cut);
        match vhd::open(Arc::new(FileSource::open(&copy).unwrap())) {
            Ok(c) => {
                // Opened from the footer copy at the start: the damage is reported.
                assert!(!c.info.warnings.is_empty(), "cut at {cut}");
                if let Err(e) = exercise(&c) {
                    assert!(
                        e.contains("beyond the end of the file"),
                        "cut at {cut}: {e}"
                    );
                }
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("VHD"), "cut at {cut}: {e}");
                if cut < 512 {
                    assert!(e.contains("shorter than a VHD footer"), "{e}");
                }
            }
        }
    }
}

#[test]
fn bit_flipped_copies_fail_cleanly() {
    let path = image(&DiskSpec::new(debian_guest()), Container::VhdDynamic);
    for seed in 0..24 {
        // The footer copy, dynamic header and BAT are in the first 2 KiB.
        let copy = bit_flipped_copy(&path, seed, 4, 2048);
        match vhd::open(Arc::new(FileSource::open(&copy).unwrap())) {
            Ok(c) => {
                let _ = exercise(&c);
            }
            Err(e) => assert!(e.to_string().contains("VHD"), "seed {seed}: {e}"),
        }
    }
    let fixed = image(&DiskSpec::new(debian_guest()), Container::VhdFixed);
    let len = fs::metadata(&fixed).unwrap().len();
    let bytes = fs::read(&fixed).unwrap()[(len - 512) as usize..].to_vec();
    // A footer alone, claiming a disk larger than the file holds.
    let e = vhd::open(Arc::new(MemSource(bytes)))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("holds only 0 bytes of data"), "{e}");
}

/// Opening costs a handful of file reads behind the 256 KiB block cache the core puts under
/// every container (a browser pays about 1 ms per call), and reading the whole disk one call
/// per allocated block (or per 4 MiB read of larger blocks).
#[test]
fn opening_and_reading_cost_few_calls() {
    let spec = DiskSpec::new(debian_guest());
    let path = image(&spec, Container::VhdDynamic);
    let counting = Counting::new(FileSource::open(&path).unwrap());
    let counters = counting.counters();
    let cached = BlockCache::new(counting, 256 * 1024, 64 << 20);
    let c = vhd::open(Arc::new(cached)).unwrap();
    let open_calls = counters.snapshot().read_calls;
    let mut buf = vec![0u8; 4 << 20];
    let mut off = 0;
    while off < c.disk.len() {
        let n = (c.disk.len() - off).min(buf.len() as u64) as usize;
        c.disk.read_at(off, &mut buf[..n]).unwrap();
        off += n as u64;
    }
    let read_calls = counters.snapshot().read_calls - open_calls;
    let allocated = c.info.allocated_size.unwrap();
    let blocks = allocated / c.info.block_size.unwrap();
    // One call per allocated block, or per 4 MiB read when blocks are larger.
    let expected = blocks.max(allocated.div_ceil(buf.len() as u64));
    eprintln!(
        "vhd: open {open_calls} calls; whole-disk read {read_calls} calls for {blocks} allocated blocks"
    );
    assert!(open_calls <= 3, "open took {open_calls} calls");
    assert!(
        read_calls <= expected + 2,
        "{read_calls} calls for {blocks} blocks"
    );
}
