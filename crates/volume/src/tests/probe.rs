use preflight_io::MemSource;

use super::build::*;
use crate::probe::{Probe, ProbeKind, probe};

fn run(d: &[u8]) -> Probe {
    probe(&MemSource(d.to_vec())).unwrap()
}

const UUID_BYTES: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
];
const UUID_TEXT: &str = "01234567-89ab-cdef-1032-547698badcfe";

/// An ext superblock at 1024 with the given feature words, UUID and label "rootfs".
pub fn ext_superblock(d: &mut [u8], compat: u32, incompat: u32, ro_compat: u32) {
    let sb = 1024;
    put(d, sb + 56, &0xef53u16.to_le_bytes());
    put32(d, sb + 76, 1);
    put32(d, sb + 92, compat);
    put32(d, sb + 96, incompat);
    put32(d, sb + 100, ro_compat);
    put(d, sb + 104, &UUID_BYTES);
    put(d, sb + 120, b"rootfs");
}

/// A FAT16 boot sector (512-byte sectors, 4 sectors per cluster, 1 reserved, 2 FATs of 20
/// sectors, 512 root entries) labelled "BOOTLABEL" with serial 0x1234ABCD.
pub fn fat16_boot_sector(d: &mut [u8], total_sectors: u16) {
    d[0] = 0xeb;
    d[1] = 0x3c;
    d[2] = 0x90;
    put(d, 3, b"mkfs.fat");
    put(d, 11, &512u16.to_le_bytes());
    d[13] = 4;
    put(d, 14, &1u16.to_le_bytes());
    d[16] = 2;
    put(d, 17, &512u16.to_le_bytes());
    put(d, 19, &total_sectors.to_le_bytes());
    d[21] = 0xf8;
    put(d, 22, &20u16.to_le_bytes());
    d[38] = 0x29;
    put32(d, 39, 0x1234_abcd);
    put(d, 43, b"BOOTLABEL  ");
    put(d, 54, b"FAT16   ");
    d[510] = 0x55;
    d[511] = 0xaa;
}

#[test]
fn ext2_ext3_ext4_by_features() {
    let cases = [
        (0, 0x2, 0x3, ProbeKind::Ext2, "ext2"),
        (0x4, 0x2, 0x3, ProbeKind::Ext3, "ext3"),
        (0x4, 0x6, 0x3, ProbeKind::Ext3, "ext3"), // needs_recovery is still ext3
        (0x4, 0x2c2, 0x7b, ProbeKind::Ext4, "ext4"), // extents, flex_bg, 64bit, huge_file
        (0x0, 0x42, 0x3, ProbeKind::Ext4, "ext4"), // extents without a journal
        (0x4, 0x2, 0x3 | 0x8, ProbeKind::Ext4, "ext4"), // huge_file only
        (0x0, 0x8, 0x0, ProbeKind::Jbd, "jbd"),
    ];
    for (compat, incompat, ro, kind, name) in cases {
        let mut d = vec![0u8; 8192];
        ext_superblock(&mut d, compat, incompat, ro);
        let p = run(&d);
        assert_eq!(
            (p.kind, p.name.as_str()),
            (kind, name),
            "{compat:#x} {incompat:#x} {ro:#x}"
        );
        assert_eq!(p.uuid.as_deref(), Some(UUID_TEXT));
        assert_eq!(p.label.as_deref(), Some("rootfs"));
        assert_eq!(p.version.as_deref(), Some("1.0"));
        assert!(!p.encrypted && p.kind.is_filesystem() == (kind != ProbeKind::Jbd));
    }
}

#[test]
fn xfs() {
    let mut d = vec![0u8; 8192];
    put(&mut d, 0, b"XFSB");
    put(&mut d, 4, &4096u32.to_be_bytes());
    put(&mut d, 32, &UUID_BYTES);
    put(&mut d, 100, &0xb4a5u16.to_be_bytes());
    put(&mut d, 102, &512u16.to_be_bytes());
    put(&mut d, 108, b"twelve-chars");
    let p = run(&d);
    assert_eq!(p.name, "xfs");
    assert_eq!(p.uuid.as_deref(), Some(UUID_TEXT));
    assert_eq!(p.label.as_deref(), Some("twelve-chars"));
    // A block size that is not a power of two is not XFS.
    put(&mut d, 4, &4097u32.to_be_bytes());
    assert_eq!(run(&d), Probe::UNKNOWN);
}

#[test]
fn btrfs() {
    let mut d = vec![0u8; 65536 + 4096];
    put(&mut d, 65536 + 64, b"_BHRfS_M");
    put(&mut d, 65536 + 32, &UUID_BYTES);
    put(&mut d, 65536 + 299, b"data");
    let p = run(&d);
    assert_eq!(
        (p.kind, p.uuid.as_deref(), p.label.as_deref()),
        (ProbeKind::Btrfs, Some(UUID_TEXT), Some("data"))
    );
    // Too small to hold the superblock: unknown, not an error.
    assert_eq!(run(&d[..65536 + 100]), Probe::UNKNOWN);
}

#[test]
fn swap_at_every_page_size() {
    for page in [4096usize, 8192, 16384, 65536] {
        let mut d = vec![0u8; page * 2];
        put(&mut d, page - 10, b"SWAPSPACE2");
        put32(&mut d, 1024, 1);
        put(&mut d, 1036, &UUID_BYTES);
        put(&mut d, 1052, b"swaplabel");
        let p = run(&d);
        assert_eq!(p.name, "swap", "page {page}");
        assert_eq!(p.uuid.as_deref(), Some(UUID_TEXT));
        assert_eq!(p.label.as_deref(), Some("swaplabel"));
        assert_eq!(p.version.as_deref(), Some("1"));
    }
    let mut d = vec![0u8; 4096];
    put(&mut d, 4086, b"SWAP-SPACE");
    assert_eq!(run(&d).version.as_deref(), Some("0"));
    let mut d = vec![0u8; 4096];
    put(&mut d, 4086, b"S1SUSPEND\0");
    put32(&mut d, 1024, 1);
    assert_eq!(run(&d).kind, ProbeKind::SwapSuspend);
    // SWAPSPACE2 with a nonsense header version is not swap.
    let mut d = vec![0u8; 4096];
    put(&mut d, 4086, b"SWAPSPACE2");
    put32(&mut d, 1024, 7);
    assert_eq!(run(&d), Probe::UNKNOWN);
}

#[test]
fn luks1_and_luks2() {
    let mut d = vec![0u8; 8192];
    put(&mut d, 0, b"LUKS\xba\xbe\x00\x01");
    put(&mut d, 168, UUID_TEXT.as_bytes());
    put(&mut d, 24, b"ignored in v1");
    let p = run(&d);
    assert_eq!(
        (p.name.as_str(), p.version.as_deref()),
        ("crypto_LUKS", Some("1"))
    );
    assert_eq!(p.uuid.as_deref(), Some(UUID_TEXT));
    assert_eq!(p.label, None);
    assert!(p.encrypted && !p.kind.is_filesystem());
    put(&mut d, 6, &[0, 2]);
    let p = run(&d);
    assert_eq!(p.version.as_deref(), Some("2"));
    assert_eq!(p.label.as_deref(), Some("ignored in v1"));
}

#[test]
fn bitlocker() {
    let mut d = vec![0u8; 8192];
    put(&mut d, 3, b"-FVE-FS-");
    let p = run(&d);
    assert_eq!(p.name, "BitLocker");
    assert!(p.encrypted);
}

#[test]
fn lvm2_label_with_its_checksum() {
    let mut d = vec![0u8; 8192];
    let s = 512;
    put(&mut d, s, b"LABELONE");
    put(&mut d, s + 8, &1u64.to_le_bytes());
    put32(&mut d, s + 20, 32);
    put(&mut d, s + 24, b"LVM2 001");
    put(&mut d, s + 32, b"Ym8QLic3ylT0IXA6AfS6SPBLvHelze5d");
    let crc = crate::probe::lvm_crc_for_tests(&d[s + 20..s + 512]);
    put32(&mut d, s + 16, crc);
    let p = run(&d);
    assert_eq!(p.name, "LVM2_member");
    assert_eq!(
        p.uuid.as_deref(),
        Some("Ym8QLi-c3yl-T0IX-A6Af-S6SP-BLvH-elze5d")
    );
    assert_eq!(p.version.as_deref(), Some("LVM2 001"));
    // A wrong checksum: not LVM.
    d[s + 40] ^= 1;
    assert_eq!(run(&d), Probe::UNKNOWN);
}

#[test]
fn lvm_crc_matches_a_known_value() {
    // Reflected CRC-32 without the final inversion, seeded with 0xf597a6cf: equal to
    // crc32fast seeded with the inverted seed, inverted at the end.
    let data: Vec<u8> = (0..492u32).map(|i| (i * 31 % 251) as u8).collect();
    let mut h = crc32fast::Hasher::new_with_initial(!0xf597_a6cf);
    h.update(&data);
    assert_eq!(crate::probe::lvm_crc_for_tests(&data), !h.finalize());
}

/// An NTFS boot sector (512-byte sectors, 8 per cluster, MFT at cluster 4, 1 KiB records)
/// and MFT record 3 with the volume name `name`, its fix-ups applied on disk.
fn ntfs(name: &str) -> Vec<u8> {
    let mut d = vec![0u8; 65536];
    put(&mut d, 3, b"NTFS    ");
    put(&mut d, 11, &512u16.to_le_bytes());
    d[13] = 8;
    put64(&mut d, 48, 4);
    d[64] = 0xf6; // -10: 2^10-byte records
    put64(&mut d, 72, 0x0123_4567_89ab_cdef);
    d[510] = 0x55;
    d[511] = 0xaa;
    let r = 4 * 4096 + 3 * 1024;
    put(&mut d, r, b"FILE");
    put(&mut d, r + 4, &48u16.to_le_bytes()); // update sequence at 48
    put(&mut d, r + 6, &3u16.to_le_bytes()); // check value + 2 strides
    put(&mut d, r + 20, &56u16.to_le_bytes()); // first attribute
    // $STANDARD_INFORMATION-like filler attribute, then $VOLUME_NAME.
    let a = r + 56;
    put32(&mut d, a, 0x10);
    put32(&mut d, a + 4, 400);
    let v = a + 400;
    let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    put32(&mut d, v, 0x60);
    put32(&mut d, v + 4, (24 + utf16.len() as u32).next_multiple_of(8));
    put32(&mut d, v + 16, utf16.len() as u32);
    put(&mut d, v + 20, &24u16.to_le_bytes());
    put(&mut d, v + 24, &utf16);
    let end = v + (24 + utf16.len()).next_multiple_of(8);
    put32(&mut d, end, 0xffff_ffff);
    // Fix-ups: move the last two bytes of each 512-byte stride into the array.
    put(&mut d, r + 48, &[0x77, 0x00]);
    for i in 1..3 {
        let at = r + i * 512 - 2;
        let real = [d[at], d[at + 1]];
        put(&mut d, r + 48 + 2 * i, &real);
        put(&mut d, at, &[0x77, 0x00]);
    }
    d
}

#[test]
fn ntfs_serial_and_label_across_a_fixup() {
    // 220 characters: the name runs over the end of the first 512-byte stride.
    let name: String = "Windows-Ä-".repeat(22);
    let d = ntfs(&name);
    let p = run(&d);
    assert_eq!(p.name, "ntfs");
    assert_eq!(p.uuid.as_deref(), Some("0123456789ABCDEF"));
    assert_eq!(p.label.as_deref(), Some(name.as_str()));
    // A damaged fix-up hides the label, not the file system.
    let mut d = d;
    d[4 * 4096 + 3 * 1024 + 510] = 0;
    let p = run(&d);
    assert_eq!((p.name.as_str(), p.label), ("ntfs", None));
}

#[test]
fn exfat_serial_version_and_label() {
    let mut d = vec![0u8; 65536];
    put(&mut d, 3, b"EXFAT   ");
    put32(&mut d, 88, 32); // cluster heap at sector 32
    put32(&mut d, 96, 4); // root directory at cluster 4
    put32(&mut d, 100, 0xdead_beef);
    d[104] = 0;
    d[105] = 1;
    d[108] = 9;
    d[109] = 3;
    let root = (32 + 2 * 8) * 512;
    d[root] = 0x81; // allocation bitmap entry
    d[root + 32] = 0x83;
    d[root + 33] = 5;
    put(
        &mut d,
        root + 34,
        &"Daten"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>(),
    );
    let p = run(&d);
    assert_eq!(p.name, "exfat");
    assert_eq!(p.uuid.as_deref(), Some("DEAD-BEEF"));
    assert_eq!(p.version.as_deref(), Some("1.0"));
    assert_eq!(p.label.as_deref(), Some("Daten"));
}

#[test]
fn fat16_label_from_the_root_directory_else_the_boot_sector() {
    let mut d = vec![0u8; 512 * 20000];
    fat16_boot_sector(&mut d, 20000);
    let p = run(&d);
    assert_eq!(p.name, "vfat");
    assert_eq!(p.version.as_deref(), Some("FAT16"));
    assert_eq!(p.uuid.as_deref(), Some("1234-ABCD"));
    assert_eq!(p.label.as_deref(), Some("BOOTLABEL"));
    // Root directory at (1 + 2 * 20) sectors; a deleted entry, a long name, then the label.
    let root = 41 * 512;
    d[root] = 0xe5;
    d[root + 11] = 0x08;
    d[root + 32] = b'A';
    d[root + 32 + 11] = 0x0f;
    put(&mut d, root + 64, b"ROOTLABEL  ");
    d[root + 64 + 11] = 0x08;
    assert_eq!(run(&d).label.as_deref(), Some("ROOTLABEL"));
    // "NO NAME" in both places: no label.
    put(&mut d, root + 64, b"NO NAME    ");
    put(&mut d, 43, b"NO NAME    ");
    assert_eq!(run(&d).label, None);
}

#[test]
fn fat12_by_cluster_count() {
    let mut d = vec![0u8; 512 * 2000];
    fat16_boot_sector(&mut d, 2000);
    put(&mut d, 54, b"FAT12   ");
    assert_eq!(run(&d).version.as_deref(), Some("FAT12"));
}

#[test]
fn fat32_label_in_the_root_cluster() {
    let mut d = vec![0u8; 512 * 300];
    d[0] = 0xeb;
    put(&mut d, 11, &512u16.to_le_bytes());
    d[13] = 1;
    put(&mut d, 14, &32u16.to_le_bytes());
    d[16] = 2;
    put32(&mut d, 32, 70000);
    d[21] = 0xf8;
    put32(&mut d, 36, 600); // sectors per FAT
    put32(&mut d, 44, 3); // root cluster
    d[66] = 0x29;
    put32(&mut d, 67, 0x0000_0042);
    put(&mut d, 71, b"NO NAME    ");
    put(&mut d, 82, b"FAT32   ");
    let p = run(&d);
    assert_eq!(
        (p.version.as_deref(), p.uuid.as_deref(), p.label.as_deref()),
        (Some("FAT32"), Some("0000-0042"), None)
    );
    // Root cluster 3 = sector 32 + 2 * 600 + 1: past this small image, so no label, no error.
    let mut d2 = d.clone();
    d2.resize(512 * 1300, 0);
    put(&mut d2, 1233 * 512, b"EFI        ");
    d2[1233 * 512 + 11] = 0x08;
    assert_eq!(run(&d2).label.as_deref(), Some("EFI"));
}

#[test]
fn iso9660_label_and_date_uuid() {
    let mut d = vec![0u8; 40000];
    let pvd = 32768;
    d[pvd] = 1;
    put(&mut d, pvd + 1, b"CD001");
    put(&mut d, pvd + 40, b"CIDATA                          ");
    put(&mut d, pvd + 813, b"2024010203040500");
    put(&mut d, pvd + 830, b"0000000000000000");
    let p = run(&d);
    assert_eq!(p.name, "iso9660");
    assert_eq!(p.label.as_deref(), Some("CIDATA"));
    assert_eq!(p.uuid.as_deref(), Some("2024-01-02-03-04-05-00"));
    put(&mut d, pvd + 830, b"2025\xff\x0002030405060");
    assert_eq!(run(&d).uuid.as_deref(), Some("2025-??-02-03-04-05-06"));
}

#[test]
fn squashfs_version() {
    let mut d = vec![0u8; 4096];
    put(&mut d, 0, b"hsqs");
    put(&mut d, 28, &[4, 0, 0, 0]);
    let p = run(&d);
    assert_eq!(
        (p.name.as_str(), p.version.as_deref()),
        ("squashfs", Some("4.0"))
    );
}

fn md_v1(d: &mut [u8], at: usize) {
    put32(d, at, 0xa92b_4efc);
    put32(d, at + 4, 1);
    put(d, at + 16, &UUID_BYTES);
    put(d, at + 32, b"host:0");
    put64(d, at + 144, at as u64 / 512);
}

#[test]
fn md_raid_members_before_the_file_system_they_hold() {
    for (at, version) in [(4096usize, "1.2"), (0, "1.1")] {
        let mut d = vec![0u8; 1 << 20];
        md_v1(&mut d, at);
        let p = run(&d);
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("linux_raid_member", Some(version))
        );
        assert_eq!(p.uuid.as_deref(), Some(UUID_TEXT));
        assert_eq!(p.label.as_deref(), Some("host:0"));
    }
    // Metadata 1.0 at the end, with an ext4 file system at the start: a RAID member.
    let len = (1 << 20) + 5000;
    let mut d = vec![0u8; len];
    ext_superblock(&mut d, 0x4, 0x2c2, 0x7b);
    md_v1(&mut d, (len - 8192) & !4095);
    assert_eq!(run(&d).version.as_deref(), Some("1.0"));
    // The superblock must say where it is.
    let mut d = vec![0u8; 1 << 20];
    md_v1(&mut d, 4096);
    put64(&mut d, 4096 + 144, 0);
    assert_eq!(run(&d), Probe::UNKNOWN);
    // 0.90 in the last 64 KiB-aligned block.
    let mut d = vec![0u8; (1 << 20) + 100];
    let at = (1 << 20) - 65536;
    put32(&mut d, at, 0xa92b_4efc);
    put32(&mut d, at + 8, 90);
    put(&mut d, at + 20, &UUID_BYTES[..4]);
    put(&mut d, at + 52, &UUID_BYTES[4..]);
    let p = run(&d);
    assert_eq!(
        (p.version.as_deref(), p.uuid.as_deref()),
        (Some("0.90.0"), Some(UUID_TEXT))
    );
}

#[test]
fn unknown_and_tiny_volumes() {
    assert_eq!(run(&[]), Probe::UNKNOWN);
    assert_eq!(run(&[0u8; 10]), Probe::UNKNOWN);
    assert_eq!(run(&vec![0u8; 1 << 17]), Probe::UNKNOWN);
    assert!(!Probe::UNKNOWN.is_known());
}

#[test]
fn probe_serializes_for_the_report() {
    let mut d = vec![0u8; 8192];
    ext_superblock(&mut d, 0x4, 0x2c2, 0x7b);
    let json = serde_json::to_value(run(&d)).unwrap();
    assert_eq!(json["kind"], "ext4");
    assert_eq!(json["name"], "ext4");
    assert_eq!(json["uuid"], UUID_TEXT);
}
