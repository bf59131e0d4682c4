//! Hand-made archives: the parser's corner cases (real tools are in tests/initramfs.rs).

use super::*;
use std::io::Write;

/// One newc entry (with its padding).
#[allow(clippy::too_many_arguments)]
fn entry(
    out: &mut Vec<u8>,
    magic: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    name: &[u8],
    data: &[u8],
    check: u32,
) {
    let header = format!(
        "{magic}{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{check:08x}",
        0,
        0,
        0,
        data.len(),
        8,
        1,
        0,
        0,
        name.len()
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn file(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    entry(
        out,
        "070701",
        1,
        0o100644,
        1,
        &[name.as_bytes(), b"\0"].concat(),
        data,
        0,
    );
}

fn trailer(out: &mut Vec<u8>) {
    entry(out, "070701", 0, 0, 1, b"TRAILER!!!\0", b"", 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn empty_input_is_empty() {
    let i = read_bytes(b"", &Options::default()).unwrap();
    assert!(i.segments.is_empty() && i.entries.is_empty());
    let i = read_bytes(&[0; 64], &Options::default()).unwrap();
    assert!(i.segments.is_empty());
}

#[test]
fn symlinks_devices_and_captures() {
    let mut a = Vec::new();
    entry(&mut a, "070701", 1, 0o040755, 2, b".\0", b"", 0);
    entry(&mut a, "070701", 2, 0o120777, 1, b"./lib\0", b"usr/lib", 0);
    file(&mut a, "conf/modules", b"virtio_scsi\n");
    file(
        &mut a,
        "usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko.zst",
        b"x",
    );
    file(&mut a, "usr/lib/modules/6.1.0/kernel/foo-bar.ko", b"x");
    trailer(&mut a);
    let i = read_bytes(&a, &Options::default()).unwrap();
    assert_eq!(i.entries.len(), 5);
    assert_eq!(i.entries[0].path, "");
    assert_eq!(i.entries[1].link_target.as_deref(), Some("usr/lib"));
    assert_eq!(i.file("conf/modules"), Some(&b"virtio_scsi\n"[..]));
    assert!(i.has_module("virtio-blk") && i.has_module("foo_bar"));
    let m = i.modules();
    assert_eq!(m[0].compressed, Some("zst"));
    assert_eq!(m[0].kernel_version.as_deref(), Some("6.1.0"));
    assert_eq!((m[1].name.as_str(), m[1].compressed), ("foo_bar", None));
    assert_eq!(i.kernel_versions(), ["6.1.0"]);
    assert_eq!(i.segments[0].archives, 1);
}

#[test]
fn crc_format_checksum_is_verified() {
    let data = b"abc";
    let sum: u32 = data.iter().map(|&b| u32::from(b)).sum();
    let mut good = Vec::new();
    entry(&mut good, "070702", 1, 0o100644, 1, b"f\0", data, sum);
    trailer(&mut good);
    assert_eq!(
        read_bytes(&good, &Options::default())
            .unwrap()
            .entries
            .len(),
        1
    );
    let mut bad = Vec::new();
    entry(&mut bad, "070702", 1, 0o100644, 1, b"f\0", data, sum + 1);
    trailer(&mut bad);
    let e = read_bytes(&bad, &Options::default()).unwrap_err();
    assert!(e.message.contains("bad data checksum"), "{e}");
    assert_eq!(e.offset, 0);
}

#[test]
fn name_without_nul_is_an_error_with_offset() {
    let mut a = Vec::new();
    file(&mut a, "ok", b"1");
    let at = a.len() as u64;
    entry(&mut a, "070701", 1, 0o100644, 1, b"abcd", b"", 0);
    trailer(&mut a);
    let e = read_bytes(&a, &Options::default()).unwrap_err();
    assert_eq!(e.offset, at + HEADER_LEN as u64);
    assert!(e.message.contains("does not end with NUL"), "{e}");
}

#[test]
fn missing_trailer_is_truncation() {
    let mut a = Vec::new();
    file(&mut a, "a", b"1234567");
    let e = read_bytes(&a, &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
    // In a compressed segment it is the kernel's "junk at the end".
    let e = read_bytes(&gzip(&a), &Options::default()).unwrap_err();
    assert!(
        e.message.contains("junk at the end of compressed archive"),
        "{e}"
    );
}

#[test]
fn several_archives_in_one_compressed_stream() {
    let mut a = Vec::new();
    file(&mut a, "a", b"1");
    trailer(&mut a);
    a.extend_from_slice(&[0; 12]);
    file(&mut a, "b", b"2");
    trailer(&mut a);
    let gz = gzip(&a);
    let mut all = a.clone();
    all.extend_from_slice(&gz);
    let i = read_bytes(&all, &Options::default()).unwrap();
    // Uncompressed: one segment per archive; compressed: one segment holding two.
    assert_eq!(i.segments.len(), 3);
    assert_eq!(i.segments[2].archives, 2);
    assert_eq!(i.segments[2].compression, Compression::Gzip);
    assert_eq!(i.segment_entries(2).len(), 2);
}

#[test]
fn junk_and_misalignment() {
    let mut a = Vec::new();
    file(&mut a, "a", b"1");
    trailer(&mut a);
    let mut junk = a.clone();
    junk.extend_from_slice(b"\0\0\0\0X");
    let e = read_bytes(&gzip(&junk), &Options::default()).unwrap_err();
    assert!(e.message.contains("junk within compressed archive"), "{e}");
    let mut unaligned = a.clone();
    unaligned.push(0);
    unaligned.extend_from_slice(&a);
    let e = read_bytes(&gzip(&unaligned), &Options::default()).unwrap_err();
    assert!(e.message.contains("broken padding"), "{e}");
    // At the top level the kernel's do_reset() checks it too.
    let e = read_bytes(&unaligned, &Options::default()).unwrap_err();
    assert!(e.message.contains("broken padding"), "{e}");
    assert_eq!(e.offset, a.len() as u64 + 1);
    // After a compressed segment, an archive must start at a multiple of 4.
    let mut after_gz = gzip(&a);
    while after_gz.len() % 4 != 1 {
        after_gz.push(0);
    }
    let at = after_gz.len() as u64;
    after_gz.extend_from_slice(&a);
    let e = read_bytes(&after_gz, &Options::default()).unwrap_err();
    assert!(e.message.contains("not a multiple of 4"), "{e}");
    assert_eq!(e.offset, at);
}

#[test]
fn kernel_skips_become_warnings() {
    let mut a = Vec::new();
    entry(&mut a, "070701", 1, 0o040755, 1, b"d\0", b"body", 0);
    file(&mut a, "f", b"");
    trailer(&mut a);
    let i = read_bytes(&a, &Options::default()).unwrap();
    assert_eq!(i.entries.len(), 1);
    assert!(i.warnings[0].contains("skipped"), "{:?}", i.warnings);
}

#[test]
fn hard_links_share_captured_data() {
    let mut a = Vec::new();
    entry(&mut a, "070701", 7, 0o100644, 2, b"etc/modules\0", b"", 0);
    entry(
        &mut a,
        "070701",
        7,
        0o100644,
        2,
        b"conf/modules\0",
        b"virtio_net\n",
        0,
    );
    trailer(&mut a);
    let i = read_bytes(&a, &Options::default()).unwrap();
    assert_eq!(i.entries[1].hard_link_to.as_deref(), Some("etc/modules"));
    assert_eq!(i.file("etc/modules"), Some(&b"virtio_net\n"[..]));
    assert_eq!(i.file("conf/modules"), Some(&b"virtio_net\n"[..]));
}

#[test]
fn unsupported_and_unknown_magic() {
    let e = read_bytes(&[0x89, 0x4c, 0x5a, 0x4f, 0, 0, 0, 0], &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.to_string().contains("lzo"), "{e}");
    let e = read_bytes(b"\x7fELF", &Options::default()).unwrap_err();
    assert!(e.message.contains("invalid magic"), "{e}");
}

#[test]
fn caps() {
    let mut a = Vec::new();
    for n in 0..5 {
        file(&mut a, &format!("f{n}"), b"");
    }
    trailer(&mut a);
    let o = Options {
        max_entries: 3,
        ..Options::default()
    };
    assert_eq!(
        read_bytes(&a, &o).unwrap_err().kind,
        ErrorKind::TooManyEntries
    );
    let o = Options {
        max_unpacked: 100,
        ..Options::default()
    };
    assert_eq!(
        read_bytes(&gzip(&a), &o).unwrap_err().kind,
        ErrorKind::TooLarge
    );
    // Partial reads keep what came before.
    let o = Options {
        max_entries: 3,
        ..Options::default()
    };
    let (i, e) = read_partial(&mut &a[..], &o);
    assert_eq!(i.entries.len(), 3);
    assert!(e.is_some());
}
