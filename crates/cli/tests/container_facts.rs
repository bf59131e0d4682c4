//! QCOW2 header facts that OCI cares about, on images made by qemu-img and then poked the way
//! QEMU's own iotests poke headers (qcow2.txt gives the offsets).

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::process::Command;

use common::{evidence, fired, report, run, scratch, sh};
use preflight_fixtures::{Container, DiskSpec, debian_guest, image, raw_disk};

/// Set bits in the big-endian `incompatible_features` field (offset 72).
fn poke_incompatible(path: &std::path::Path, bits: u64) {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(72)).unwrap();
    let mut cur = [0u8; 8];
    std::io::Read::read_exact(&mut f, &mut cur).unwrap();
    let v = u64::from_be_bytes(cur) | bits;
    f.seek(SeekFrom::Start(72)).unwrap();
    f.write_all(&v.to_be_bytes()).unwrap();
}

fn copy_of_v3(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    // A bootable layout (an EFI system partition): no blocker but what the test makes.
    let mut spec = DiskSpec::new(debian_guest());
    spec.partitioning = preflight_fixtures::Partitioning::GptEfi;
    std::fs::copy(image(&spec, Container::Qcow2V3), &p).unwrap();
    p
}

#[test]
fn dirty_and_corrupt_bits_are_warnings_and_the_guest_is_still_read() {
    let dir = scratch("dirty");
    let dirty = copy_of_v3(&dir, "dirty.qcow2");
    poke_incompatible(&dirty, 1);
    let (code, r) = report(&dirty);
    assert_eq!(code, 0);
    assert!(r.image.qcow2.as_ref().unwrap().dirty);
    assert!(
        r.image.warnings.iter().any(|w| w.contains("dirty bit")),
        "{:?}",
        r.image.warnings
    );
    assert!(r.guest.is_some());

    let corrupt = copy_of_v3(&dir, "corrupt.qcow2");
    poke_incompatible(&corrupt, 2);
    let (_, r) = report(&corrupt);
    assert!(r.image.qcow2.as_ref().unwrap().corrupt);
    assert!(
        r.image
            .warnings
            .iter()
            .any(|w| w.contains("marked this QCOW2 image corrupt"))
    );
}

#[test]
fn an_unknown_incompatible_feature_is_refused_by_name() {
    let dir = scratch("unknown-feature");
    let p = copy_of_v3(&dir, "future.qcow2");
    poke_incompatible(&p, 1 << 9);
    let out = run(&p, &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("incompatible features this reader does not know: bit 9"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_external_data_file_is_not_standalone() {
    let dir = scratch("data-file");
    let out = dir.join("external.qcow2");
    sh(Command::new("qemu-img")
        .args(["convert", "-q", "-f", "raw", "-O", "qcow2", "-o"])
        .arg(format!(
            "data_file={},data_file_raw=on",
            dir.join("external.data").display()
        ))
        .arg(raw_disk(&DiskSpec::new(debian_guest())))
        .arg(&out));
    let (code, r) = report(&out);
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-STANDALONE");
    assert_eq!(f.len(), 1);
    assert!(
        evidence(f[0]).contains("external data file"),
        "{}",
        evidence(f[0])
    );
    assert!(
        r.guest_error
            .as_deref()
            .unwrap()
            .contains("external data file")
    );
}
