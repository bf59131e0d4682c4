//! The VHDX reader against qemu: fixtures read byte-identical to `qemu-img convert -f vhdx -O
//! raw`, reads past the BAT's sector-bitmap interleave agree with `qemu-io`, a dirty log is
//! replayed in memory as `qemu-img check -r all` replays it, a differencing disk counts what
//! its parent would supply, and damaged copies fail cleanly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::{Container as Opened, ContainerError, Format, open, vhdx};
use preflight_fixtures::{
    Container, DiskSpec, Partitioning, bit_flipped_copy, debian_guest, fixtures_dir, image,
    qemu_raw_sha256_as, sha256_source, truncated_copy,
};
use preflight_io::{BlockCache, ByteSource, Counting, FileSource};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn try_open(path: &Path) -> Result<Opened, ContainerError> {
    vhdx::open(Arc::new(FileSource::open(path).unwrap()))
}

fn open_path(path: &Path) -> Opened {
    open(Arc::new(FileSource::open(path).unwrap()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn run(cmd: &mut Command) -> String {
    let (ok, text) = output(cmd);
    assert!(ok, "{cmd:?}: {text}");
    text
}

fn qemu_info_number(path: &Path, key: &str) -> Option<u64> {
    let json = run(Command::new("qemu-img")
        .args(["info", "--output=json", "-f", "vhdx"])
        .arg(path));
    let prefix = format!("    \"{key}\": ");
    json.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim_end_matches(',').parse().unwrap())
}

fn detail<'a>(c: &'a Opened, key: &str) -> Option<&'a str> {
    c.info
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn check_identical(path: &Path, subformat: &str) -> Opened {
    let c = open_path(path);
    assert_eq!(c.info.format, Format::Vhdx);
    assert_eq!(c.info.subformat.as_deref(), Some(subformat));
    assert_eq!(c.info.version.as_deref(), Some("1"));
    assert_eq!(
        Some(c.info.virtual_size),
        qemu_info_number(path, "virtual-size")
    );
    assert_eq!(c.info.block_size, qemu_info_number(path, "cluster-size"));
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(path, "vhdx"),
        "{}: our virtual disk differs from qemu-img's",
        path.display()
    );
    assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
    assert!(c.missing_backing_bytes.is_none());
    c
}

#[test]
fn dynamic_and_fixed_read_like_qemu_gpt_and_mbr_logical() {
    for partitioning in [Partitioning::Gpt, Partitioning::MbrLogical] {
        let mut spec = DiskSpec::new(debian_guest());
        spec.partitioning = partitioning;
        let d = check_identical(&image(&spec, Container::VhdxDynamic), "dynamic");
        let allocated = d.info.allocated_size.unwrap();
        assert!(allocated > 0 && allocated < d.info.virtual_size);
        assert_eq!(
            detail(&d, "creator").map(|c| c.contains("QEMU")),
            Some(true)
        );
        assert_eq!(detail(&d, "logical sector size"), Some("512"));
        assert_eq!(detail(&d, "physical sector size"), Some("512"));
        assert_eq!(detail(&d, "log"), Some("empty"));
        let f = check_identical(&image(&spec, Container::VhdxFixed), "fixed");
        // qemu-img keeps a fixed VHDX's all-zero blocks in the ZERO state (space reserved in
        // the file, no data): only the written ones count as allocated.
        let allocated = f.info.allocated_size.unwrap();
        assert!(allocated > 0 && allocated < f.info.virtual_size);
        let blocks = f.info.virtual_size / f.info.block_size.unwrap();
        let summary = detail(&f, "payload blocks").unwrap();
        assert!(
            summary.contains("zero") && summary.contains("fully present"),
            "{summary}"
        );
        assert!(
            f.info.file_size > f.info.virtual_size,
            "{blocks} blocks reserved"
        );
    }
}

#[test]
fn a_larger_sparse_disk_uses_many_blocks() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.disk_mib = 3072;
    let c = check_identical(&image(&spec, Container::VhdxDynamic), "dynamic");
    assert_eq!(c.info.virtual_size, 3072 * MIB);
}

/// A directory of our own under the fixtures directory, built once.
fn own_dir(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures_dir().join(format!("vhdx-tests-v2-{name}"));
    if !dir.join("done").exists() {
        let tmp = fixtures_dir().join(format!("vhdx-tests-v2-{name}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        build(&tmp);
        fs::write(tmp.join("done"), "").unwrap();
        if fs::rename(&tmp, &dir).is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    dir
}

fn qemu_io(path: &Path, commands: &[String]) -> String {
    let mut cmd = Command::new("qemu-io");
    cmd.args(["-f", "vhdx"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    run(cmd.arg(path))
}

/// Writes of a pattern each (offset, length, byte), and the reads that check them: ours must
/// return the pattern (zeros around it), and qemu-io must agree on every range.
fn check_spot_reads(path: &Path, writes: &[(u64, u64, u8)]) {
    let c = open_path(path);
    let mut qemu_checks = Vec::new();
    for &(off, len, byte) in writes {
        let mut buf = vec![0xeeu8; len as usize];
        c.disk.read_at(off, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == byte), "pattern at {off}");
        qemu_checks.push(format!("read -P {byte} {off} {len}"));
        // The 64 KiB before (if not written) read as zeros, in one read spanning both.
        let before = off.saturating_sub(64 * KIB);
        if !writes.iter().any(|&(o, l, _)| o < off && o + l > before) && before < off {
            let mut buf = vec![0xeeu8; (off + len - before) as usize];
            c.disk.read_at(before, &mut buf).unwrap();
            let (zeros, data) = buf.split_at((off - before) as usize);
            assert!(zeros.iter().all(|&b| b == 0), "zeros before {off}");
            assert!(data.iter().all(|&b| b == byte), "pattern at {off}");
            qemu_checks.push(format!("read -P 0 {before} {}", off - before));
        }
    }
    let out = qemu_io(path, &qemu_checks);
    assert!(!out.contains("verification failed"), "{out}");
}

/// 20 GiB virtual in 32 MiB blocks with 512-byte sectors: a sector-bitmap entry follows every
/// 512 payload entries (chunk ratio 2^23 × 512 / 32 MiB), so blocks from 16 GiB on sit one
/// entry further in the BAT.
#[test]
fn reads_past_the_sector_bitmap_interleave_agree_with_qemu_32m_blocks() {
    let writes = [
        (8 * GIB, 64 * KIB, 0x31),
        (16 * GIB - 64 * KIB, 128 * KIB, 0x32),
        (16 * GIB + 32 * MIB + 4 * KIB, 4 * KIB, 0x33),
        (20 * GIB - MIB, MIB, 0x34),
    ];
    let dir = own_dir("interleave-32m", |dir| {
        run(Command::new("qemu-img")
            .current_dir(dir)
            .args(["create", "-q", "-f", "vhdx", "-o", "block_size=32M"])
            .args(["big.vhdx", "20G"]));
        let cmds: Vec<String> = writes
            .iter()
            .map(|(o, l, b)| format!("write -P {b} {o} {l}"))
            .collect();
        qemu_io(&dir.join("big.vhdx"), &cmds);
    });
    let path = dir.join("big.vhdx");
    let c = open_path(&path);
    assert_eq!(c.info.virtual_size, 20 * GIB);
    assert_eq!(c.info.block_size, Some(32 * MIB));
    assert_eq!(
        Some(c.info.virtual_size),
        qemu_info_number(&path, "virtual-size")
    );
    // Each write touched one block, the one across 16 GiB two: 5 blocks.
    assert_eq!(c.info.allocated_size, Some(5 * 32 * MIB));
    check_spot_reads(&path, &writes);
}

/// 1 MiB blocks: the chunk ratio is 4096 and the interleave comes at 4 GiB, so a whole-disk
/// comparison across it stays cheap.
#[test]
fn the_whole_disk_across_the_interleave_reads_like_qemu_1m_blocks() {
    let writes = [
        (4 * GIB - 3 * MIB, 5 * MIB, 0x41),
        (5 * GIB - 4 * KIB, 4 * KIB, 0x42),
    ];
    let dir = own_dir("interleave-1m", |dir| {
        run(Command::new("qemu-img")
            .current_dir(dir)
            .args(["create", "-q", "-f", "vhdx", "-o", "block_size=1M"])
            .args(["one.vhdx", "5G"]));
        let cmds: Vec<String> = writes
            .iter()
            .map(|(o, l, b)| format!("write -P {b} {o} {l}"))
            .collect();
        qemu_io(&dir.join("one.vhdx"), &cmds);
    });
    let path = dir.join("one.vhdx");
    let c = open_path(&path);
    assert_eq!(c.info.block_size, Some(MIB));
    check_spot_reads(&path, &writes);
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(&path, "vhdx")
    );
}

/// CRC-32C, bit by bit (the reader has its own table-driven one; this checks it independently).
fn crc32c(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The current header's offset (the valid one with the higher sequence number).
fn current_header(b: &[u8]) -> usize {
    let (a, c) = (64 * 1024, 128 * 1024);
    if le64(b, a + 8) >= le64(b, c + 8) {
        a
    } else {
        c
    }
}

fn fix_crc(b: &mut [u8], at: usize, len: usize) {
    b[at + 4..at + 8].fill(0);
    let c = crc32c(&b[at..at + len]);
    b[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
}

/// A region's offset from the region table, by the GUID's on-disk bytes.
fn region(b: &[u8], guid: &[u8; 16]) -> usize {
    let t = 192 * 1024;
    (0..le32(b, t + 8) as usize)
        .map(|i| t + 16 + i * 32)
        .find(|&e| &b[e..e + 16] == guid)
        .map(|e| le64(b, e + 16) as usize)
        .expect("region")
}
const BAT_GUID: [u8; 16] = [
    0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08,
];
const METADATA_GUID: [u8; 16] = [
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e,
];

fn small_vhdx(dir: &Path) -> Vec<u8> {
    run(Command::new("qemu-img")
        .current_dir(dir)
        .args(["create", "-q", "-f", "vhdx", "-o", "block_size=1M"])
        .args(["small.vhdx", "8M"]));
    qemu_io(
        &dir.join("small.vhdx"),
        &[
            "write -P 0x11 0 1M".to_string(),
            "write -P 0x22 2M 1M".to_string(),
        ],
    );
    fs::read(dir.join("small.vhdx")).unwrap()
}

/// One log entry ([MS-VHDX] 2.3.1): header, descriptors, then a data sector per `desc`.
/// `writes` are (file offset, Some(sector) to write | None to zero 4 KiB).
fn log_entry(
    guid: &[u8; 16],
    seq: u64,
    tail: u32,
    file_len: u64,
    writes: &[(u64, Option<Vec<u8>>)],
) -> Vec<u8> {
    let desc_sectors = (64 + 32 * writes.len()).div_ceil(4096);
    let data = writes.iter().filter(|(_, w)| w.is_some()).count();
    let len = (desc_sectors + data) * 4096;
    let mut e = vec![0u8; len];
    e[0..4].copy_from_slice(b"loge");
    e[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    e[12..16].copy_from_slice(&tail.to_le_bytes());
    e[16..24].copy_from_slice(&seq.to_le_bytes());
    e[24..28].copy_from_slice(&(writes.len() as u32).to_le_bytes());
    e[32..48].copy_from_slice(guid);
    e[48..56].copy_from_slice(&file_len.to_le_bytes()); // FlushedFileOffset
    e[56..64].copy_from_slice(&file_len.to_le_bytes()); // LastFileOffset
    let mut sector = desc_sectors;
    for (i, (offset, write)) in writes.iter().enumerate() {
        let d = 64 + 32 * i;
        match write {
            Some(bytes) => {
                e[d..d + 4].copy_from_slice(b"desc");
                e[d + 4..d + 8].copy_from_slice(&bytes[4092..]); // TrailingBytes
                e[d + 8..d + 16].copy_from_slice(&bytes[..8]); // LeadingBytes
                let s = sector * 4096;
                e[s..s + 4].copy_from_slice(b"data");
                e[s + 4..s + 8].copy_from_slice(&((seq >> 32) as u32).to_le_bytes());
                e[s + 8..s + 4092].copy_from_slice(&bytes[8..4092]);
                e[s + 4092..s + 4096].copy_from_slice(&(seq as u32).to_le_bytes());
                sector += 1;
            }
            None => {
                e[d..d + 4].copy_from_slice(b"zero");
                e[d + 8..d + 16].copy_from_slice(&4096u64.to_le_bytes()); // ZeroLength
            }
        }
        e[d + 16..d + 24].copy_from_slice(&offset.to_le_bytes());
        e[d + 24..d + 32].copy_from_slice(&seq.to_le_bytes());
    }
    fix_crc(&mut e, 0, len);
    e
}

/// A disk not closed cleanly: its log holds a sequence of two entries that write guest data,
/// a BAT page (mapping a new block) and zeros. We replay it in memory; qemu refuses the image
/// read-only, and `qemu-img check -r all` on a copy replays it into the file: the two views
/// must be byte-identical. A log GUID with no entry carrying it is an empty log.
#[test]
fn a_dirty_log_is_replayed_like_qemu_replays_it() {
    let dir = own_dir("log", |dir| {
        let base = small_vhdx(dir);
        let h = current_header(&base);
        let guid: [u8; 16] = *b"preflight-log-01";
        let mut b = base.clone();
        b[h + 48..h + 64].copy_from_slice(&guid);
        fix_crc(&mut b, h, 4096);
        fs::write(dir.join("guid-only.vhdx"), &b).unwrap();

        let bat = region(&b, &BAT_GUID);
        let block = |i: usize| le64(&b, bat + 8 * i) >> 20 << 20;
        let (block0, block2) = (block(0), block(2));
        let mut bat_page = b[bat..bat + 4096].to_vec();
        bat_page[24..32].copy_from_slice(&(block0 | 6).to_le_bytes()); // block 3 → block 0's data
        let file_len = b.len() as u64;
        let first = log_entry(
            &guid,
            10,
            0,
            file_len,
            &[
                (block2 + 8192, Some(vec![0x77; 4096])),
                (bat as u64, Some(bat_page)),
                (block0 + 4096, None),
            ],
        );
        // The second entry (the head) overwrites the first's data sector; its Tail names the
        // first, so both are replayed, in order.
        let second = log_entry(
            &guid,
            11,
            0,
            file_len,
            &[(block2 + 8192, Some(vec![0x88; 4096]))],
        );
        let log = le64(&b, h + 72) as usize;
        b[log..log + first.len()].copy_from_slice(&first);
        b[log + first.len()..log + first.len() + second.len()].copy_from_slice(&second);
        fs::write(dir.join("dirty.vhdx"), &b).unwrap();
        fs::write(dir.join("replayed-by-qemu.vhdx"), &b).unwrap();
        run(Command::new("qemu-img")
            .args(["check", "-q", "-r", "all", "-f", "vhdx"])
            .arg(dir.join("replayed-by-qemu.vhdx")));
    });
    let (ok, qemu) = output(
        Command::new("qemu-img")
            .args(["info", "-f", "vhdx", "--force-share"])
            .arg(dir.join("dirty.vhdx")),
    );
    assert!(
        !ok && qemu.contains("log that needs to be replayed"),
        "qemu-img info: {qemu}"
    );

    let c = open_path(&dir.join("dirty.vhdx"));
    assert_eq!(
        detail(&c, "log"),
        Some("replayed in memory: 2 entries (sequence 10 to 11), 4 writes")
    );
    assert!(
        c.info
            .warnings
            .iter()
            .any(|w| w.contains("qemu-img check -r all")),
        "{:?}",
        c.info.warnings
    );
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(&dir.join("replayed-by-qemu.vhdx"), "vhdx")
    );
    // And what the replay did, concretely.
    let mut buf = vec![0u8; 4096];
    c.disk.read_at(2 * MIB + 8192, &mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0x88), "the head's write wins");
    c.disk.read_at(4096, &mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0), "zeroed by the log");
    c.disk.read_at(3 * MIB, &mut buf).unwrap();
    assert!(
        buf.iter().all(|&x| x == 0x11),
        "block 3 mapped by the logged BAT page"
    );

    let c = open_path(&dir.join("guid-only.vhdx"));
    assert!(
        detail(&c, "log").is_some_and(|l| l.starts_with("no entries to replay")),
        "{:?}",
        c.info.details
    );
    let path = dir.join("guid-only.vhdx");
    assert_eq!(
        sha256_source(&*c.disk, 1 << 20),
        qemu_raw_sha256_as(&path, "vhdx")
    );
}

/// qemu-img cannot create differencing VHDXs (nor read them), so we make one from a dynamic
/// VHDX: the has-parent flag in the file parameters, a parent locator item, a partially
/// present block with its sector bitmap block appended, the other unwritten blocks not
/// present. (Metadata and BAT carry no checksum.)
#[test]
fn differencing_disk_reads_its_sectors_and_counts_the_parents() {
    let dir = own_dir("differencing", |dir| {
        let mut b = small_vhdx(dir);
        let meta = region(&b, &METADATA_GUID);
        let bat = region(&b, &BAT_GUID);
        let count = u16::from_le_bytes([b[meta + 10], b[meta + 11]]) as usize;
        // File parameters: set HasParent.
        let fp_guid = [
            0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44,
            0xe7, 0x6b,
        ];
        let fp = (0..count)
            .map(|i| meta + 32 + i * 32)
            .find(|&e| b[e..e + 16] == fp_guid)
            .map(|e| meta + le32(&b, e + 16) as usize)
            .unwrap();
        b[fp + 4] |= 2;
        // Parent locator item at 512 KiB into the region (qemu's items sit right after the
        // 64 KiB table).
        let s = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(|u| u.to_le_bytes()).collect() };
        let pairs = [
            ("parent_linkage", "{00000000-0000-0000-0000-000000000001}"),
            ("relative_path", "..\\base.vhdx"),
        ];
        let mut item = vec![
            0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44,
            0x59, 0x13, 0, 0,
        ];
        item.extend_from_slice(&(pairs.len() as u16).to_le_bytes());
        let mut strings = Vec::new();
        let mut at = 20 + 12 * pairs.len();
        for (k, v) in pairs {
            let (k, v) = (s(k), s(v));
            item.extend_from_slice(&(at as u32).to_le_bytes());
            item.extend_from_slice(&((at + k.len()) as u32).to_le_bytes());
            item.extend_from_slice(&(k.len() as u16).to_le_bytes());
            item.extend_from_slice(&(v.len() as u16).to_le_bytes());
            at += k.len() + v.len();
            strings.extend_from_slice(&k);
            strings.extend_from_slice(&v);
        }
        item.extend_from_slice(&strings);
        let item_at = 512 * 1024;
        b[meta + item_at..meta + item_at + item.len()].copy_from_slice(&item);
        let e = meta + 32 + count * 32;
        b[e..e + 16].copy_from_slice(&[
            0x2b, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34,
            0xab, 0x0c,
        ]);
        b[e + 16..e + 20].copy_from_slice(&(item_at as u32).to_le_bytes());
        b[e + 20..e + 24].copy_from_slice(&(item.len() as u32).to_le_bytes());
        b[e + 24..e + 28].copy_from_slice(&(2u32 | 4).to_le_bytes()); // IsVirtualDisk, IsRequired
        b[meta + 10..meta + 12].copy_from_slice(&((count + 1) as u16).to_le_bytes());
        // BAT: 8 payload entries (1 MiB blocks, chunk ratio 4096) and the chunk's sector
        // bitmap entry at index 4096. Block 0 partially present: its first 1024 sectors.
        let entry = |b: &[u8], i: usize| le64(b, bat + 8 * i);
        let set = |b: &mut Vec<u8>, i: usize, v: u64| {
            b[bat + 8 * i..bat + 8 * i + 8].copy_from_slice(&v.to_le_bytes())
        };
        let e0 = entry(&b, 0);
        assert_eq!(e0 & 7, 6, "block 0 written by qemu-io");
        set(&mut b, 0, (e0 & !7) | 7);
        for i in [1, 3, 4, 5, 6, 7] {
            set(&mut b, i, 0);
        }
        b.resize(b.len().next_multiple_of(MIB as usize), 0);
        let sb = b.len() as u64;
        let mut bitmap = vec![0u8; MIB as usize];
        bitmap[..128].fill(0xff);
        b.extend_from_slice(&bitmap);
        set(&mut b, 4096, sb | 6);
        fs::write(dir.join("diff.vhdx"), &b).unwrap();
    });
    let c = open_path(&dir.join("diff.vhdx"));
    assert_eq!(c.info.subformat.as_deref(), Some("differencing"));
    assert_eq!(c.info.parent.as_deref(), Some("..\\base.vhdx"));
    assert_eq!(
        detail(&c, "parent locator parent_linkage"),
        Some("{00000000-0000-0000-0000-000000000001}")
    );
    assert!(c.info.warnings.is_empty(), "{:?}", c.info.warnings);
    assert_eq!(c.info.allocated_size, Some(2 * MIB));
    let missing = c.missing_backing_bytes.clone().unwrap();
    let mut buf = vec![0xeeu8; 8 * MIB as usize];
    c.disk.read_at(0, &mut buf).unwrap();
    let half = (MIB / 2) as usize;
    let m = MIB as usize;
    assert!(buf[..half].iter().all(|&x| x == 0x11));
    assert!(buf[half..2 * m].iter().all(|&x| x == 0));
    assert!(buf[2 * m..3 * m].iter().all(|&x| x == 0x22));
    assert!(buf[3 * m..].iter().all(|&x| x == 0));
    assert_eq!(missing.load(Ordering::Relaxed), MIB / 2 + MIB + 5 * MIB);
}

/// Reads spread over the disk: no panic, errors only as errors.
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
    let path = image(&DiskSpec::new(debian_guest()), Container::VhdxDynamic);
    let len = fs::metadata(&path).unwrap().len();
    for cut in [
        0,
        8,
        1000,
        70_000,
        200_000,
        300_000,
        MIB,
        2 * MIB,
        4 * MIB,
        len / 2,
        len - 1,
    ] {
        let copy = truncated_copy(&path, cut.min(len));
        match try_open(&copy) {
            Ok(c) => {
                if let Err(e) = exercise(&c) {
                    assert!(
                        e.contains("beyond the end of the file"),
                        "cut at {cut}: {e}"
                    );
                }
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("VHDX"), "cut at {cut}: {e}");
                if cut < 320 * KIB {
                    assert!(e.contains("shorter than the VHDX header section"), "{e}");
                }
            }
        }
    }
}

#[test]
fn bit_flipped_copies_fail_cleanly() {
    let path = image(&DiskSpec::new(debian_guest()), Container::VhdxDynamic);
    for seed in 0..24 {
        // Headers, region tables, metadata and BAT: the first few MiB.
        let copy = bit_flipped_copy(&path, seed, 8, 4 * MIB);
        match try_open(&copy) {
            Ok(c) => {
                let _ = exercise(&c);
            }
            Err(e) => assert!(e.to_string().contains("VHDX"), "seed {seed}: {e}"),
        }
    }
}

/// Opening costs a handful of file reads behind the 256 KiB block cache the core puts under
/// every container (a browser pays about 1 ms per call), and reading the whole disk one call
/// per allocated block (or per 4 MiB read of larger blocks).
#[test]
fn opening_and_reading_cost_few_calls() {
    let spec = DiskSpec::new(debian_guest());
    let path = image(&spec, Container::VhdxDynamic);
    let counting = Counting::new(FileSource::open(&path).unwrap());
    let counters = counting.counters();
    let cached = BlockCache::new(counting, 256 * 1024, 64 << 20);
    let c = vhdx::open(Arc::new(cached)).unwrap();
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
        "vhdx: open {open_calls} calls; whole-disk read {read_calls} calls for {blocks} allocated blocks"
    );
    assert!(open_calls <= 6, "open took {open_calls} calls");
    assert!(
        read_calls <= expected + 2,
        "{read_calls} calls for {blocks} blocks"
    );
}
