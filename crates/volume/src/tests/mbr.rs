use super::build::*;
use crate::Scheme;

#[test]
fn primaries_extended_and_logicals_numbered_as_linux_does() {
    let t = read(&mbr_disk(3)).unwrap();
    assert_eq!(t.scheme, Scheme::Mbr);
    assert_eq!(t.sector_size, 512);
    assert_eq!(t.disk_id.as_deref(), Some("12345678"));
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert!(t.gpt.is_none());
    let got: Vec<(u32, u64, u64, &str)> = t
        .partitions
        .iter()
        .map(|p| (p.number, p.start / 512, p.size / 512, p.type_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, 64, 64, "0x83"),
            (2, 128, 64, "0x82"),
            (3, 192, 192, "0x05"),
            (5, 224, 32, "0x83"),
            (6, 288, 32, "0x8e"),
            (7, 352, 32, "0x83"),
        ]
    );
    let p = &t.partitions;
    assert!(p[0].bootable && !p[1].bootable);
    assert_eq!(p[0].attributes, 0x80);
    assert_eq!(p[0].uuid.as_deref(), Some("12345678-01"));
    assert_eq!(p[4].uuid.as_deref(), Some("12345678-06"));
    assert_eq!(p[0].type_name.as_deref(), Some("Linux"));
    assert_eq!(p[1].type_name.as_deref(), Some("Linux swap / Solaris"));
    assert_eq!(p[2].type_name.as_deref(), Some("Extended"));
    assert_eq!(p[4].type_name.as_deref(), Some("Linux LVM"));
    assert!(p[2].is_extended() && !p[3].is_extended());
    assert_eq!(p[0].name, None);
}

#[test]
fn partuuid_number_is_hex_like_the_kernel() {
    let t = read(&mbr_disk(8)).unwrap();
    let last = t.partitions.last().unwrap();
    assert_eq!(last.number, 12);
    assert_eq!(last.uuid.as_deref(), Some("12345678-0c"));
}

#[test]
fn zero_signature_means_no_ids() {
    let mut d = mbr_disk(1);
    put32(&mut d, 440, 0);
    let t = read(&d).unwrap();
    assert_eq!(t.disk_id, None);
    assert!(t.partitions.iter().all(|p| p.uuid.is_none()));
}

#[test]
fn ebr_loop_is_cut() {
    let mut d = mbr_disk(3);
    // The third EBR links back to the first.
    let third = (EXT_START as usize + 128) * 512;
    mbr_entry(&mut d, third, 1, 0, 0x05, 0, 64);
    let t = read(&d).unwrap();
    assert_eq!(t.partitions.len(), 6);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    assert!(
        t.diagnostics[0].contains("loops back to LBA 192 (offset 98304)"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn logical_partitions_are_capped() {
    let t = read(&mbr_disk(300)).unwrap();
    assert_eq!(t.partitions.len(), 3 + 256);
    assert_eq!(t.partitions.last().unwrap().number, 4 + 256);
    assert!(
        t.diagnostics
            .iter()
            .any(|m| m.contains("more than 256 logical partitions")),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn ebr_without_signature_stops_the_chain() {
    let mut d = mbr_disk(3);
    let second = (EXT_START as usize + 64) * 512;
    d[second + 510] = 0;
    let t = read(&d).unwrap();
    assert_eq!(t.partitions.len(), 4);
    assert!(
        t.diagnostics[0].contains("EBR at LBA 256 (offset 131072)"),
        "{:?}",
        t.diagnostics
    );
    assert!(t.diagnostics[0].contains("no 55 AA"), "{:?}", t.diagnostics);
}

#[test]
fn ebr_link_outside_the_extended_partition() {
    let mut d = mbr_disk(2);
    let first = EXT_START as usize * 512;
    mbr_entry(&mut d, first, 1, 0, 0x05, 1_000_000, 64);
    let t = read(&d).unwrap();
    assert_eq!(t.partitions.len(), 4);
    assert!(
        t.diagnostics[0].contains("links to LBA 1000192, outside extended partition 3"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn ebr_past_the_end_of_the_disk() {
    let mut d = vec![0u8; 512 * 64];
    mbr_entry(&mut d, 0, 0, 0, 0x0f, 1000, 5000);
    let t = read(&d).unwrap();
    let all = t.diagnostics.join("\n");
    assert!(
        all.contains("the EBR of extended partition 1 at LBA 1000 (offset 512000) cannot be read"),
        "{all}"
    );
    assert!(all.contains("ends past the end of the disk"), "{all}");
}

#[test]
fn primaries_that_overlap_or_start_at_zero() {
    let mut d = vec![0u8; 512 * 1000];
    mbr_entry(&mut d, 0, 0, 0, 0x83, 0, 100);
    mbr_entry(&mut d, 0, 3, 0, 0x83, 50, 100);
    let t = read(&d).unwrap();
    let all = t.diagnostics.join("\n");
    assert!(all.contains("partition 1 starts at LBA 0"), "{all}");
    assert!(
        all.contains("partitions 1 (bytes 0..51200) and 4 (bytes 25600..76800) overlap"),
        "{all}"
    );
    let numbers: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 4]);
}

#[test]
fn boot_code_and_grub() {
    let mut d = mbr_disk(0);
    assert!(!read(&d).unwrap().mbr_boot_code.present);
    d[0] = 0xeb;
    let t = read(&d).unwrap();
    assert!(t.mbr_boot_code.present && !t.mbr_boot_code.grub);
    put(&mut d, 0x180, b"GRUB ");
    assert!(read(&d).unwrap().mbr_boot_code.grub);
}

#[test]
fn invalid_status_bytes_mean_no_table() {
    let mut d = mbr_disk(1);
    d[446 + 16] = 0x12;
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(
        t.diagnostics[0].contains("invalid status bytes"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn empty_mbr_is_an_mbr_with_no_partitions() {
    let mut d = vec![0u8; 512 * 64];
    d[510] = 0x55;
    d[511] = 0xaa;
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::Mbr);
    assert!(t.partitions.is_empty());
    assert_eq!(t.diagnostics, ["the MBR lists no partitions"]);
}

#[test]
fn stale_gpt_behind_an_mbr_is_ignored_with_a_warning() {
    let mut d = Gpt::new(1024, vec![part(LINUX, 40, 100, "x")]).build();
    d[446..510].fill(0);
    mbr_entry(&mut d, 0, 0, 0, 0x83, 2, 100);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::Mbr);
    assert!(
        t.diagnostics
            .iter()
            .any(|m| m.contains("stale and ignored")),
        "{:?}",
        t.diagnostics
    );
}
