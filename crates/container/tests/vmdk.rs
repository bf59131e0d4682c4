//! The VMDK reader against qemu-img: monolithicSparse and streamOptimized disks read
//! byte-identical to `qemu-img convert -O raw`; descriptor-only disks read as zeros, count what
//! is missing and name the same extent files as `qemu-img info`; damaged copies fail cleanly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::{Container as Opened, ContainerError, Format, vmdk};
use preflight_fixtures::{
    Container, DiskSpec, Partitioning, bit_flipped_copy, debian_guest, fixtures_dir, image,
    qemu_raw_sha256_as, raw_disk, sha256_source, truncated_copy,
};
use preflight_io::{BlockCache, ByteSource, Counting, FileSource, MemSource};
use sha2::{Digest, Sha256};

fn open_path(path: &Path) -> Result<Opened, ContainerError> {
    preflight_container::open(Arc::new(FileSource::open(path).unwrap()))
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

fn qemu_info(path: &Path) -> String {
    run(Command::new("qemu-img")
        .args(["info", "--output=json", "-f", "vmdk"])
        .arg(path))
}

/// The first number after `"key": ` in qemu-img's JSON; a key starting with a newline and
/// four spaces is a top-level one (the file node's `children` come first and have their own).
fn json_u64(json: &str, key: &str) -> u64 {
    let (indent, key) = match key.strip_prefix('/') {
        Some(k) => ("\n    ", k),
        None => ("", key),
    };
    let pat = format!("{indent}\"{key}\": ");
    let at = json.find(&pat).unwrap_or_else(|| panic!("{key} in {json}")) + pat.len();
    json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": \"");
    let at = json.find(&pat)? + pat.len();
    json[at..].split('"').next()
}

/// The base names of `format-specific.data.extents[].filename`.
fn qemu_extent_files(json: &str) -> Vec<String> {
    let extents = &json[json.find("\"extents\"").expect("extents")..];
    extents
        .match_indices("\"filename\": \"")
        .map(|(i, p)| {
            let name = extents[i + p.len()..].split('"').next().unwrap();
            Path::new(name)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Reads the whole disk like qemu-img, and checks the facts qemu-img info reports.
fn check_identical(path: &Path) -> Opened {
    let c = open_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(c.info.format, Format::Vmdk);
    let json = qemu_info(path);
    assert_eq!(c.info.virtual_size, json_u64(&json, "/virtual-size"));
    assert_eq!(c.disk.len(), c.info.virtual_size);
    assert_eq!(c.info.block_size, Some(json_u64(&json, "/cluster-size")));
    assert_eq!(
        c.info.subformat.as_deref(),
        json_str(&json, "create-type"),
        "createType"
    );
    // qemu reads the CID from the descriptor; an extent of a split set has none.
    if let Some((_, ours)) = c.info.details.iter().find(|(k, _)| k == "CID") {
        // As the descriptor writes it (qemu: `CID=%x`, no zero padding): compare the numbers.
        assert_eq!(
            u64::from_str_radix(ours, 16).ok(),
            Some(json_u64(&json, "cid")),
            "CID {ours}"
        );
    }
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(path, "vmdk"),
        "{}: our virtual disk differs from qemu-img's",
        path.display()
    );
    c
}

#[test]
fn sparse_and_stream_read_like_qemu_img() {
    for partitioning in [Partitioning::Gpt, Partitioning::MbrLogical] {
        let mut spec = DiskSpec::new(debian_guest());
        spec.partitioning = partitioning;
        let sparse = check_identical(&image(&spec, Container::VmdkSparse));
        assert_eq!(sparse.info.subformat.as_deref(), Some("monolithicSparse"));
        assert_eq!(sparse.info.version.as_deref(), Some("1"));
        assert_eq!(sparse.info.compression, None);
        assert!(sparse.info.parent.is_none() && sparse.missing_backing_bytes.is_none());
        let allocated = sparse.info.allocated_size.unwrap();
        assert!(
            allocated > 0 && allocated.is_multiple_of(65536) && allocated < sparse.info.file_size
        );
        assert!(
            sparse.info.warnings.is_empty(),
            "{:?}",
            sparse.info.warnings
        );

        let stream = check_identical(&image(&spec, Container::VmdkStream));
        assert_eq!(stream.info.subformat.as_deref(), Some("streamOptimized"));
        assert_eq!(stream.info.version.as_deref(), Some("3"));
        assert_eq!(stream.info.compression.as_deref(), Some("deflate"));
        let compressed = stream.info.allocated_size.unwrap();
        assert!(compressed > 0 && compressed < stream.info.file_size);
        assert!(
            stream.info.warnings.is_empty(),
            "{:?}",
            stream.info.warnings
        );
        for key in [
            "createType",
            "parentCID",
            "adapterType",
            "hwversion",
            "geometry",
            "extent 1",
        ] {
            assert!(
                stream.info.details.iter().any(|(k, _)| k == key),
                "{key} in {:?}",
                stream.info.details
            );
        }
    }
}

/// A 3 GiB disk: 96 grain tables, most of them empty.
#[test]
fn larger_disk_uses_many_grain_tables() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.disk_mib = 3072;
    for c in [Container::VmdkSparse, Container::VmdkStream] {
        check_identical(&image(&spec, c));
    }
}

/// A directory of our own under the fixtures directory, built once by `build` (which writes
/// into the directory it is given); concurrent callers in one process are serialised.
/// The content-hash directory a fixture file is cached in: what a fixture derived from it must
/// be keyed on, or it outlives a change of its source.
fn cache_key(fixture: &Path) -> String {
    fixture
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn own_fixture(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = fixtures_dir().join(format!("vmdk-test-{name}"));
    if !dir.join("done").exists() {
        let tmp = fixtures_dir().join(format!("vmdk-test-{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        build(&tmp);
        std::fs::write(tmp.join("done"), "").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).unwrap();
    }
    dir
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A metadata marker sector (spec, "Stream-Optimized Compressed Sparse Extents"): sectors of
/// metadata that follow (u64), size 0 (u32), type (u32).
fn marker(out: &mut Vec<u8>, sectors: u64, kind: u32) {
    let mut m = [0u8; 512];
    m[..8].copy_from_slice(&sectors.to_le_bytes());
    m[12..16].copy_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&m);
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Lays a qemu-written streamOptimized file out the way VMware writes streams: header with
/// `gdOffset = GD_AT_END`, grains each followed (per grain table) by a GT marker and the grain
/// table, then the GD marker and the grain directory, the footer marker, the footer (header
/// copy with the real `gdOffset`) and the end-of-stream marker.
fn vmware_stream_layout(qemu: &[u8]) -> Vec<u8> {
    let capacity = le64(qemu, 12);
    let grain = le64(qemu, 20);
    let gtes = le32(qemu, 44) as u64;
    let rgd = le64(qemu, 48);
    let gd = le64(qemu, 56);
    let overhead = le64(qemu, 64);
    let gd_entries = capacity.div_ceil(gtes * grain);
    let mut header = qemu[..512].to_vec();
    header[8..12].copy_from_slice(&(le32(qemu, 8) & !2).to_le_bytes()); // no redundant GD
    header[48..56].copy_from_slice(&0u64.to_le_bytes());
    let mut out = qemu[..(overhead * 512) as usize].to_vec();
    let meta_start = (rgd.min(gd) * 512) as usize;
    out[meta_start..].fill(0);
    let mut new_gd = vec![0u32; gd_entries as usize];
    for (i, slot) in new_gd.iter_mut().enumerate() {
        let gt_sector = le32(qemu, (gd * 512) as usize + i * 4) as u64;
        if gt_sector == 0 {
            continue;
        }
        let gt = &qemu[(gt_sector * 512) as usize..][..(gtes * 4) as usize];
        let mut new_gt = vec![0u32; gtes as usize];
        for (j, e) in new_gt.iter_mut().enumerate() {
            let at = le32(gt, j * 4) as usize * 512;
            if at == 0 {
                continue;
            }
            let size = le32(qemu, at + 8) as usize;
            *e = (out.len() / 512) as u32;
            out.extend_from_slice(&qemu[at..at + 12 + size]);
            pad(&mut out);
        }
        if new_gt.iter().all(|&e| e == 0) {
            continue;
        }
        let gt_bytes = gtes * 4;
        marker(&mut out, gt_bytes.div_ceil(512), 1);
        *slot = (out.len() / 512) as u32;
        out.extend(new_gt.iter().flat_map(|e| e.to_le_bytes()));
        pad(&mut out);
    }
    marker(&mut out, (gd_entries * 4).div_ceil(512), 2);
    let gd_sector = (out.len() / 512) as u64;
    out.extend(new_gd.iter().flat_map(|e| e.to_le_bytes()));
    pad(&mut out);
    marker(&mut out, 1, 3);
    let mut footer = header.clone();
    footer[56..64].copy_from_slice(&gd_sector.to_le_bytes());
    out.extend_from_slice(&footer);
    marker(&mut out, 0, 0);
    out[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    out[..512].copy_from_slice(&{
        let mut h = header.clone();
        h[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
        h
    });
    out
}

fn vmware_stream() -> (PathBuf, PathBuf) {
    let spec = DiskSpec::new(debian_guest());
    let original = image(&spec, Container::VmdkStream);
    let dir = own_fixture(&format!("vmware-stream-{}", cache_key(&original)), |dir| {
        let bytes = std::fs::read(&original).unwrap();
        std::fs::write(dir.join("disk.vmdk"), vmware_stream_layout(&bytes)).unwrap();
    });
    (dir.join("disk.vmdk"), original)
}

/// Streams whose grain directory is at the end are found through the footer.
#[test]
fn stream_with_footer_reads_like_qemu_img() {
    let (path, original) = vmware_stream();
    let c = check_identical(&path);
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(&original, "vmdk")
    );
    assert!(
        c.info
            .details
            .iter()
            .any(|(k, v)| k == "grain directory" && v.contains("footer")),
        "{:?}",
        c.info.details
    );
    // The same grains, with grain tables between them: the same compressed bytes.
    let qemu_layout = open_path(&original).unwrap();
    assert_eq!(c.info.allocated_size, qemu_layout.info.allocated_size);
}

#[test]
fn stream_without_footer_says_so() {
    let (path, _) = vmware_stream();
    let len = std::fs::metadata(&path).unwrap().len();
    for cut in [len - 512, len - 1536, len / 2] {
        let err = open_path(&truncated_copy(&path, cut))
            .err()
            .expect("no footer");
        let msg = err.to_string();
        assert!(matches!(err, ContainerError::Corrupt { .. }), "{msg}");
        assert!(
            msg.contains("footer") || msg.contains("end-of-stream"),
            "{msg}"
        );
        assert!(msg.contains("incomplete"), "{msg}");
    }
}

/// With the zeroed-grain feature, a grain table entry of 1 is a grain of zeros.
#[test]
fn zeroed_grains_read_like_qemu_img() {
    let dir = own_fixture("zeroed-grain", |dir| {
        run(Command::new("qemu-img").current_dir(dir).args([
            "create",
            "-q",
            "-f",
            "vmdk",
            "-o",
            "zeroed_grain=on",
            "z.vmdk",
            "64M",
        ]));
        run(Command::new("qemu-io").current_dir(dir).args([
            "-f",
            "vmdk",
            "-c",
            "write -P 0x11 0 1M",
            "-c",
            "write -z 256k 128k",
            "-c",
            "write -P 0x22 8M 64k",
            "z.vmdk",
        ]));
    });
    let c = check_identical(&dir.join("z.vmdk"));
    assert!(
        c.info
            .details
            .contains(&("zeroed grains".to_string(), "2".to_string())),
        "{:?}",
        c.info.details
    );
    assert_eq!(c.info.allocated_size, Some(15 * 65536));
}

/// A delta names its parent; its own grains read back, the rest reads as zeros and is counted.
#[test]
fn delta_names_parent_and_counts_missing_bytes() {
    let dir = own_fixture("delta", |dir| {
        run(Command::new("qemu-img").current_dir(dir).args([
            "create",
            "-q",
            "-f",
            "vmdk",
            "base.vmdk",
            "64M",
        ]));
        run(Command::new("qemu-io").current_dir(dir).args([
            "-f",
            "vmdk",
            "-c",
            "write -P 0x33 0 4M",
            "base.vmdk",
        ]));
        run(Command::new("qemu-img").current_dir(dir).args([
            "create",
            "-q",
            "-f",
            "vmdk",
            "-b",
            "base.vmdk",
            "-F",
            "vmdk",
            "delta.vmdk",
        ]));
        run(Command::new("qemu-io").current_dir(dir).args([
            "-f",
            "vmdk",
            "-c",
            "write -P 0x5a 1M 64k",
            "delta.vmdk",
        ]));
    });
    let path = dir.join("delta.vmdk");
    let json = qemu_info(&path);
    let c = open_path(&path).unwrap();
    assert_eq!(
        c.info.parent.as_deref(),
        json_str(&json, "backing-filename")
    );
    assert_eq!(c.info.parent.as_deref(), Some("base.vmdk"));
    assert_eq!(c.info.virtual_size, 64 << 20);
    let missing = c.missing_backing_bytes.clone().expect("a delta counts");
    let mut buf = vec![0u8; 65536];
    c.disk.read_at(1 << 20, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0x5a));
    assert_eq!(missing.load(Ordering::Relaxed), 0);
    c.disk.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(missing.load(Ordering::Relaxed), 65536);
    assert!(c.info.details.iter().any(|(k, _)| k == "parentCID"));
    // The base itself has no parent.
    assert!(
        open_path(&dir.join("base.vmdk"))
            .unwrap()
            .info
            .parent
            .is_none()
    );
}

/// A descriptor whose data is elsewhere: zeros, all counted missing, the same extent files
/// qemu-img names.
fn check_descriptor_only(path: &Path, create_type: &str) -> Opened {
    let c = open_path(path).unwrap();
    let json = qemu_info(path);
    assert_eq!(c.info.format, Format::Vmdk);
    assert_eq!(c.info.subformat.as_deref(), Some(create_type));
    assert_eq!(c.info.virtual_size, json_u64(&json, "/virtual-size"));
    assert_eq!(c.info.other_files, qemu_extent_files(&json));
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains("descriptor only"))
    );
    let missing = c
        .missing_backing_bytes
        .clone()
        .expect("missing extents are counted");
    let mut buf = vec![0xffu8; 1 << 20];
    c.disk.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    let last = c.disk.len() - (1 << 20);
    c.disk.read_at(last, &mut buf).unwrap();
    assert_eq!(missing.load(Ordering::Relaxed), 2 << 20);
    c
}

#[test]
fn flat_descriptor_reads_as_missing_zeros() {
    let spec = DiskSpec::new(debian_guest());
    let c = check_descriptor_only(&image(&spec, Container::VmdkFlat), "monolithicFlat");
    assert_eq!(c.info.other_files, vec!["disk-flat.vmdk".to_string()]);
}

#[test]
fn split_sparse_set_descriptor_and_extent() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.disk_mib = 2560;
    let path = image(&spec, Container::VmdkSplitSparse);
    let c = check_descriptor_only(&path, "twoGbMaxExtentSparse");
    assert_eq!(
        c.info.other_files,
        vec!["disk-s001.vmdk".to_string(), "disk-s002.vmdk".to_string()]
    );
    // Each extent alone is a sparse extent without descriptor (qemu-img refuses to open it:
    // no CID). It must read as its part of the raw disk qemu-img converted.
    let raw = std::fs::File::open(raw_disk(&spec)).unwrap();
    let mut start = 0u64;
    for name in ["disk-s001.vmdk", "disk-s002.vmdk"] {
        let e = open_path(&path.with_file_name(name)).unwrap();
        assert!(
            e.info
                .warnings
                .iter()
                .any(|w| w.contains("one extent of a split")),
            "{:?}",
            e.info.warnings
        );
        assert_eq!(e.info.subformat.as_deref(), Some("monolithicSparse"));
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < e.info.virtual_size {
            let n = (e.info.virtual_size - off).min(1 << 20) as usize;
            std::os::unix::fs::FileExt::read_exact_at(&raw, &mut buf[..n], start + off).unwrap();
            h.update(&buf[..n]);
            off += n as u64;
        }
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha256_source(&*e.disk, 1 << 20), expected, "{name}");
        start += e.info.virtual_size;
    }
    assert_eq!(start, c.info.virtual_size);
}

/// Reads spread over the disk (the whole disk could be huge after a flipped capacity bit):
/// errors are fine, panics and hangs are not.
fn read_around(c: &Opened) {
    let len = c.disk.len();
    let mut buf = vec![0u8; 4 << 20];
    let n = len.min(buf.len() as u64) as usize;
    let _ = c.disk.read_at(0, &mut buf[..n]);
    for i in 1..32u64 {
        let off = (len / 32).saturating_mul(i) & !511;
        let n = (len - off.min(len)).min(256 * 1024) as usize;
        let _ = c.disk.read_at(off, &mut buf[..n]);
    }
}

#[test]
fn truncated_copies_fail_cleanly() {
    let spec = DiskSpec::new(debian_guest());
    for container in [Container::VmdkSparse, Container::VmdkStream] {
        let path = image(&spec, container);
        let len = std::fs::metadata(&path).unwrap().len();
        for cut in [4, 100, 511] {
            let err = vmdk::open(Arc::new(
                FileSource::open(&truncated_copy(&path, cut)).unwrap(),
            ))
            .err()
            .expect("a cut header cannot open");
            assert!(
                err.to_string().contains("header"),
                "{container:?} at {cut}: {err}"
            );
        }
        for cut in [
            512,
            2048,
            13_000,
            65_536,
            70_000,
            len / 2,
            len - 512,
            len - 1,
        ] {
            let copy = truncated_copy(&path, cut);
            match open_path(&copy) {
                Ok(c) => {
                    read_around(&c);
                    // Whatever lay past the cut cannot be read silently as zeros.
                    let mut buf = vec![0u8; 1 << 20];
                    let mut failed = None;
                    let mut off = 0;
                    while off < c.disk.len() && failed.is_none() {
                        let n = (c.disk.len() - off).min(1 << 20) as usize;
                        failed = c.disk.read_at(off, &mut buf[..n]).err();
                        off += n as u64;
                    }
                    if cut < len - 512 || container == Container::VmdkSparse {
                        assert!(
                            c.info.warnings.iter().any(|w| w.contains("truncated")),
                            "{container:?} cut at {cut}: {:?}",
                            c.info.warnings
                        );
                        let e = failed.unwrap_or_else(|| {
                            panic!("{container:?} cut at {cut}: the whole disk read")
                        });
                        assert!(
                            e.to_string().contains("beyond the end of the file")
                                || e.to_string().contains("deflate"),
                            "{container:?} cut at {cut}: {e}"
                        );
                    }
                }
                Err(e) => assert!(
                    matches!(e, ContainerError::Corrupt { .. }),
                    "{container:?} cut at {cut}: {e}"
                ),
            }
        }
    }
}

#[test]
fn bit_flipped_copies_open_and_read_or_fail_cleanly() {
    let spec = DiskSpec::new(debian_guest());
    let (vmware, _) = vmware_stream();
    for path in [
        image(&spec, Container::VmdkSparse),
        image(&spec, Container::VmdkStream),
        vmware,
    ] {
        let len = std::fs::metadata(&path).unwrap().len();
        for seed in 1..=24u64 {
            // Headers, descriptor and tables (the first 64 KiB), then anywhere.
            let within = if seed % 2 == 0 { 64 * 1024 } else { len };
            let copy = bit_flipped_copy(&path, seed, 6, within);
            if let Ok(c) = open_path(&copy) {
                read_around(&c);
            }
        }
        // The footer of the VMware layout, too.
        let copy = bit_flipped_copy(&path, 99, 3, len);
        if let Ok(c) = open_path(&copy) {
            read_around(&c);
        }
    }
}

/// A tiny sparse extent built by hand: 64 sectors, 8-sector grains, one grain table; grain 0
/// holds 4 KiB of 0xab (compressed behind a marker when `compressed`).
fn tiny(compressed: bool) -> Vec<u8> {
    let mut b = vec![0u8; 7 * 512];
    b[..4].copy_from_slice(b"KDMV");
    b[4..8].copy_from_slice(&(if compressed { 3u32 } else { 1 }).to_le_bytes());
    let flags: u32 = 1 | if compressed { 3 << 16 } else { 0 };
    b[8..12].copy_from_slice(&flags.to_le_bytes());
    b[12..20].copy_from_slice(&64u64.to_le_bytes()); // capacity
    b[20..28].copy_from_slice(&8u64.to_le_bytes()); // grainSize
    b[28..36].copy_from_slice(&1u64.to_le_bytes()); // descriptorOffset
    b[36..44].copy_from_slice(&1u64.to_le_bytes()); // descriptorSize
    b[44..48].copy_from_slice(&512u32.to_le_bytes());
    b[56..64].copy_from_slice(&2u64.to_le_bytes()); // gdOffset
    b[64..72].copy_from_slice(&7u64.to_le_bytes()); // overHead
    b[73..77].copy_from_slice(b"\n \r\n");
    b[77..79].copy_from_slice(&(if compressed { 1u16 } else { 0 }).to_le_bytes());
    let desc = b"# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 64 SPARSE \"tiny.vmdk\"\n";
    b[512..512 + desc.len()].copy_from_slice(desc);
    b[1024..1028].copy_from_slice(&3u32.to_le_bytes()); // GD[0] = sector 3
    b[1536..1540].copy_from_slice(&7u32.to_le_bytes()); // GT[0] = sector 7
    if compressed {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[0xab; 4096]).unwrap();
        let z = z.finish().unwrap();
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&(z.len() as u32).to_le_bytes());
        b.extend_from_slice(&z);
        b.resize(b.len().div_ceil(512) * 512, 0);
    } else {
        b.extend_from_slice(&[0xab; 4096]);
    }
    b
}

fn open_mem(bytes: Vec<u8>) -> Result<Opened, ContainerError> {
    vmdk::open(Arc::new(MemSource(bytes)))
}

fn corrupt_message(bytes: Vec<u8>) -> String {
    match open_mem(bytes) {
        Err(e @ ContainerError::Corrupt { .. }) => e.to_string(),
        Err(e) => panic!("not a corruption: {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn hand_built_extents_read() {
    for compressed in [false, true] {
        let c = open_mem(tiny(compressed)).unwrap();
        assert_eq!(c.info.virtual_size, 64 * 512);
        assert_eq!(c.info.block_size, Some(4096));
        let mut buf = vec![0u8; 64 * 512];
        c.disk.read_at(0, &mut buf).unwrap();
        assert!(buf[..4096].iter().all(|&b| b == 0xab));
        assert!(buf[4096..].iter().all(|&b| b == 0));
        assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
    }
}

#[test]
fn absurd_headers_are_refused_by_name() {
    let set = |mut b: Vec<u8>, at: usize, v: &[u8]| {
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let t = || tiny(false);
    assert!(corrupt_message(set(t(), 44, &0u32.to_le_bytes())).contains("numGTEsPerGT"));
    assert!(corrupt_message(set(t(), 44, &4096u32.to_le_bytes())).contains("numGTEsPerGT"));
    assert!(corrupt_message(set(t(), 20, &0u64.to_le_bytes())).contains("grainSize"));
    assert!(corrupt_message(set(t(), 12, &u64::MAX.to_le_bytes())).contains("capacity"));
    // 2^40 sectors of 512-byte grains: a 32 GiB grain directory.
    let huge = set(
        set(t(), 12, &(1u64 << 40).to_le_bytes()),
        20,
        &1u64.to_le_bytes(),
    );
    assert!(corrupt_message(huge).contains("grain directory"));
    assert!(corrupt_message(set(t(), 56, &(1u64 << 50).to_le_bytes())).contains("grain directory"));
    assert!(corrupt_message(set(t(), 64, &1000u64.to_le_bytes())).contains("truncated"));
    assert!(corrupt_message(set(t(), 75, b"\n")).contains("text (ASCII) mode"));
    let v9 = open_mem(set(t(), 4, &9u32.to_le_bytes())).err().unwrap();
    assert!(matches!(v9, ContainerError::Unsupported { .. }), "{v9}");
    let cowd = open_mem(set(t(), 0, b"COWD")).err().unwrap();
    assert!(cowd.to_string().contains("COWD"), "{cowd}");
    // A descriptor size far beyond the file is read up to the end of the file, capped.
    let c = open_mem(set(t(), 36, &(1u64 << 40).to_le_bytes())).unwrap();
    assert_eq!(c.info.subformat.as_deref(), Some("monolithicSparse"));
}

#[test]
fn broken_tables_and_grains_fail_on_read_with_their_place() {
    let set = |mut b: Vec<u8>, at: usize, v: &[u8]| {
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let mut buf = vec![0u8; 4096];
    // A grain directory entry past the end of the file.
    let c = open_mem(set(tiny(false), 1024, &1_000_000u32.to_le_bytes())).unwrap();
    assert!(c.info.warnings.iter().any(|w| w.contains("beyond the end")));
    assert_eq!(c.info.allocated_size, None);
    let e = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(e.contains("grain table 0"), "{e}");
    // A grain past the end of the file.
    let c = open_mem(set(tiny(false), 1536, &1_000_000u32.to_le_bytes())).unwrap();
    let e = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(e.contains("beyond the end of the file"), "{e}");
    // A grain marker declaring 4 GiB of compressed data.
    let c = open_mem(set(tiny(true), 7 * 512 + 8, &u32::MAX.to_le_bytes())).unwrap();
    let e = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(e.contains("declares 4294967295 bytes"), "{e}");
    // Compressed data that is not a zlib stream.
    let c = open_mem(set(tiny(true), 7 * 512 + 12, &[0xff; 8])).unwrap();
    let e = c.disk.read_at(0, &mut buf).unwrap_err().to_string();
    assert!(e.contains("deflate"), "{e}");
    // The rest of the disk still reads.
    c.disk.read_at(4096, &mut buf).unwrap();
}

#[test]
fn descriptor_files_in_memory() {
    let text = "# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\nparentCID=ffffffff\r\ncreateType=\"twoGbMaxExtentFlat\"\r\n\r\nRW 100 FLAT \"a-f001.vmdk\" 0\r\nRW 50 ZERO\r\nRW 100 FLAT \"a-f002.vmdk\" 0\r\nddb.adapterType = \"lsilogic\"\r\n";
    let c = open_mem(text.as_bytes().to_vec()).unwrap();
    assert_eq!(c.info.virtual_size, 250 * 512);
    assert_eq!(c.info.other_files, vec!["a-f001.vmdk", "a-f002.vmdk"]);
    assert_eq!(c.info.subformat.as_deref(), Some("twoGbMaxExtentFlat"));
    assert!(
        c.info
            .details
            .contains(&("adapterType".into(), "lsilogic".into()))
    );
    let mut buf = vec![0xffu8; 250 * 512];
    c.disk.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    let missing = c.missing_backing_bytes.unwrap().load(Ordering::Relaxed);
    assert_eq!(missing, 200 * 512, "the ZERO extent is not missing");

    // Detected without the usual first line, as qemu-img does: comments, blanks, `version=`.
    let text = b"# made by hand\r\n\r\nversion=1\r\nRW 8 FLAT \"x-flat.vmdk\" 0\r\n".to_vec();
    let c = preflight_container::open(Arc::new(MemSource(text))).unwrap();
    assert_eq!((c.info.format, c.info.virtual_size), (Format::Vmdk, 4096));

    // Not UTF-8: decoded lossily, with a warning.
    let mut bytes = b"createType=\"monolithicFlat\"\nRW 8 FLAT \"caf".to_vec();
    bytes.extend_from_slice(b"\xe9-flat.vmdk\" 0\n");
    let c = open_mem(bytes).unwrap();
    assert!(c.info.warnings.iter().any(|w| w.contains("UTF-8")));
    assert_eq!(c.info.other_files, vec!["caf\u{fffd}-flat.vmdk"]);

    // A delta descriptor names its parent.
    let c = open_mem(
        b"parentCID=1234abcd\nparentFileNameHint=\"base.vmdk\"\nRW 8 VMFSSPARSE \"d-delta.vmdk\"\n"
            .to_vec(),
    )
    .unwrap();
    assert_eq!(c.info.parent.as_deref(), Some("base.vmdk"));

    // Too large to be a descriptor, or no extent at all.
    let mut big = b"# Disk DescriptorFile\n".to_vec();
    big.resize(100_000, b' ');
    assert!(corrupt_message(big).contains("more than"));
    assert!(corrupt_message(b"# Disk DescriptorFile\nversion=1\n".to_vec()).contains("no extent"));
    let e = open_mem(b"RW 18446744073709551615 FLAT \"x\" 0\n".to_vec())
        .err()
        .unwrap();
    assert!(e.to_string().contains("overflows"), "{e}");
}

/// Opening and reading the first MiB of a 20 GiB streamOptimized disk, as qemu-img writes it
/// (tables at the front) and as VMware does (tables between the grains, directory at the end),
/// counted under the 256 KiB block cache the core puts on the file (printed with
/// --nocapture).
#[test]
fn read_calls_for_a_large_stream() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.disk_mib = 20480;
    spec.root_mib = 2048;
    spec.partitioning = Partitioning::GptEfi;
    let qemu = image(&spec, Container::VmdkStream);
    let dir = own_fixture(&format!("vmware-stream-20g-{}", cache_key(&qemu)), |dir| {
        let bytes = std::fs::read(&qemu).unwrap();
        std::fs::write(dir.join("disk.vmdk"), vmware_stream_layout(&bytes)).unwrap();
    });
    for (what, path) in [("qemu", qemu.clone()), ("VMware", dir.join("disk.vmdk"))] {
        let counting = Counting::new(FileSource::open(&path).unwrap());
        let counters = counting.counters();
        let file = Arc::new(BlockCache::new(counting, 256 * 1024, 64 << 20));
        let c = vmdk::open(file).unwrap();
        let opened = counters.snapshot();
        let mut buf = vec![0u8; 1 << 20];
        c.disk.read_at(0, &mut buf).unwrap();
        let read = counters.snapshot();
        eprintln!(
            "20 GiB stream, {what} layout ({} bytes, {:?} allocated): open {} calls / {} bytes; + first MiB {} calls / {} bytes",
            c.info.file_size,
            c.info.allocated_size,
            opened.read_calls,
            opened.bytes_read,
            read.read_calls - opened.read_calls,
            read.bytes_read - opened.bytes_read
        );
        assert!(opened.read_calls <= 8, "{what}: {opened:?}");
        assert!(c.info.allocated_size.is_some());
    }
}

/// A grain table entry of 1 is a zeroed grain only with the zeroed-grain flag (bit 2); without
/// it QEMU takes it as sector 1 like any other sector number, and so do we.
#[test]
fn grain_table_entry_one_like_qemu_img() {
    let dir = own_fixture("gte-one", |dir| {
        let mut plain = tiny(false);
        plain[1536..1540].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(dir.join("sector1.vmdk"), &plain).unwrap();
        plain[8] |= 4;
        std::fs::write(dir.join("zeroed.vmdk"), &plain).unwrap();
        std::fs::write(dir.join("plain.vmdk"), tiny(false)).unwrap();
        std::fs::write(dir.join("compressed.vmdk"), tiny(true)).unwrap();
    });
    for name in [
        "sector1.vmdk",
        "zeroed.vmdk",
        "plain.vmdk",
        "compressed.vmdk",
    ] {
        let path = dir.join(name);
        let c = open_path(&path).unwrap();
        assert_eq!(
            sha256_source(&*c.disk, 1 << 20),
            qemu_raw_sha256_as(&path, "vmdk"),
            "{name}"
        );
    }
    let c = open_path(&dir.join("zeroed.vmdk")).unwrap();
    assert!(
        c.info
            .details
            .contains(&("zeroed grains".into(), "1".into()))
    );
    assert_eq!(c.info.allocated_size, Some(0));
}
