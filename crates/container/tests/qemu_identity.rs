//! The virtual disk we read must be byte-identical to `qemu-img convert -O raw` of the same
//! file, for every container variant the fixture builder makes with qemu-img.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::{Format, open};
use preflight_fixtures::{
    Container, DiskSpec, Partitioning, debian_guest, image, partial_write_offset, qemu_raw_sha256,
    sha256_source,
};
use preflight_io::{ByteSource, FileSource};

fn check(spec: &DiskSpec, container: Container) {
    let path = image(spec, container);
    let file = FileSource::open(&path).unwrap();
    let opened = open(Arc::new(file)).unwrap_or_else(|e| panic!("{container:?}: {e}"));
    let expected = if container == Container::Raw {
        Format::Raw
    } else {
        Format::Qcow2
    };
    assert_eq!(opened.info.format, expected);
    assert_eq!(
        sha256_source(&*opened.disk, 1 << 20),
        qemu_raw_sha256(&path),
        "{container:?} of {}: our virtual disk differs from qemu-img's",
        path.display()
    );
}

#[test]
fn every_variant_reads_like_qemu_img_gpt() {
    let spec = DiskSpec::new(debian_guest());
    for c in std::iter::once(Container::Raw).chain(Container::QCOW2) {
        if c != Container::Qcow2BackingPartial {
            check(&spec, c);
        }
    }
}

#[test]
fn every_variant_reads_like_qemu_img_mbr_logical() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.partitioning = Partitioning::MbrLogical;
    for c in [
        Container::Raw,
        Container::Qcow2V2,
        Container::Qcow2Zlib,
        Container::Qcow2ExtendedL2,
        Container::Qcow2SmallClusters,
    ] {
        check(&spec, c);
    }
}

#[test]
fn facts_of_each_variant_are_reported() {
    let spec = DiskSpec::new(debian_guest());
    let info = |c| {
        open(Arc::new(FileSource::open(&image(&spec, c)).unwrap()))
            .unwrap()
            .info
    };
    let v2 = info(Container::Qcow2V2).qcow2.unwrap();
    assert_eq!((v2.version, v2.compat.as_str()), (2, "0.10"));
    let zstd = info(Container::Qcow2Zstd).qcow2.unwrap();
    assert_eq!((zstd.version, zstd.compression_type.as_str()), (3, "zstd"));
    let ext = info(Container::Qcow2ExtendedL2).qcow2.unwrap();
    assert!(ext.extended_l2);
    assert_eq!(ext.cluster_size, 128 * 1024);
    let small = info(Container::Qcow2SmallClusters).qcow2.unwrap();
    assert_eq!(small.cluster_size, 4096);
    let backing = info(Container::Qcow2Backing).qcow2.unwrap();
    assert_eq!(backing.backing_file.as_deref(), Some("base.qcow2"));
    assert_eq!(backing.backing_format.as_deref(), Some("qcow2"));
    assert!(
        info(Container::Qcow2V3)
            .qcow2
            .unwrap()
            .backing_file
            .is_none()
    );
}

/// With most data only in the backing file (which we do not read), the overlay's own cluster
/// reads back exactly and everything else reads as zeros — and is counted as missing.
#[test]
fn partial_overlay_reads_its_own_clusters_and_counts_the_rest() {
    let spec = DiskSpec::new(debian_guest());
    let path = image(&spec, Container::Qcow2BackingPartial);
    let c = open(Arc::new(FileSource::open(&path).unwrap())).unwrap();
    let at = partial_write_offset(&spec);
    let mut buf = vec![0u8; 64 * 1024];
    c.disk.read_at(at, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0x5a), "the 64 KiB qemu-io wrote");
    let missing = c.missing_backing_bytes.clone().unwrap();
    assert_eq!(missing.load(Ordering::Relaxed), 0);
    c.disk.read_at(0, &mut buf).unwrap();
    assert!(
        buf.iter().all(|&b| b == 0),
        "unallocated clusters read as zeros"
    );
    assert_eq!(missing.load(Ordering::Relaxed), 64 * 1024);
}
