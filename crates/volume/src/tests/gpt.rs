use super::build::*;
use crate::{GptHeaderUsed, Scheme, VolumeError};

fn sample() -> Gpt {
    let mut boot = part(BIOS_BOOT, 34, 2047, "BIOS boot");
    boot.unique = "01234567-89ab-cdef-0123-456789abcdef";
    let mut esp = part(ESP, 2048, 4095, "EFI System Partition");
    esp.unique = "fedcba98-7654-3210-fedc-ba9876543210";
    esp.attributes = 1 << 2 | 1;
    let mut root = part(LINUX, 4096, 8191, "");
    root.unique = "00000000-0000-0000-0000-000000000000";
    Gpt::new(8192 + 34, vec![boot, esp, root])
}

#[test]
fn reads_a_clean_gpt() {
    let g = sample();
    let t = read(&g.build()).unwrap();
    assert_eq!(t.scheme, Scheme::Gpt);
    assert_eq!(t.sector_size, 512);
    assert_eq!(
        t.disk_id.as_deref(),
        Some("aabbccdd-eeff-0011-2233-445566778899")
    );
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    let info = t.gpt.as_ref().unwrap();
    assert_eq!(info.header_used, GptHeaderUsed::Primary);
    assert!(info.primary_valid && info.backup_valid);
    assert_eq!(info.backup_lba, g.last_lba());
    assert_eq!(info.first_usable_lba, 34);
    assert_eq!(info.entry_count, 128);

    let p = &t.partitions;
    assert_eq!(p.len(), 3);
    assert_eq!(
        (p[0].number, p[0].start, p[0].size),
        (1, 34 * 512, 2014 * 512)
    );
    assert_eq!(p[0].type_id, BIOS_BOOT);
    assert_eq!(p[0].type_name.as_deref(), Some("BIOS boot"));
    assert_eq!(
        p[0].uuid.as_deref(),
        Some("01234567-89ab-cdef-0123-456789abcdef")
    );
    assert_eq!(p[0].name.as_deref(), Some("BIOS boot"));
    assert!(!p[0].bootable);
    assert_eq!(p[1].type_name.as_deref(), Some("EFI System"));
    assert_eq!(p[1].name.as_deref(), Some("EFI System Partition"));
    assert_eq!(p[1].attributes, 5);
    assert!(p[1].bootable, "attribute bit 2 is legacy BIOS bootable");
    assert_eq!(p[2].uuid, None, "a zero unique GUID is no UUID");
    assert_eq!(p[2].name, None);
    assert_eq!(p[2].type_name.as_deref(), Some("Linux filesystem"));
    assert!(!t.mbr_boot_code.present && !t.mbr_boot_code.grub);
}

#[test]
fn partition_source_is_the_window_of_the_disk() {
    let mut d = sample().build();
    d[2048 * 512..2048 * 512 + 4].copy_from_slice(b"ABCD");
    let disk = source(d);
    let t = crate::read_partitions(&disk).unwrap();
    let esp = t.partitions[1].source(&disk);
    assert_eq!(esp.len(), 2048 * 512);
    let mut b = [0u8; 4];
    esp.read_at(0, &mut b).unwrap();
    assert_eq!(&b, b"ABCD");
}

#[test]
fn four_kib_sectors() {
    let mut g = Gpt::new(2048, vec![part(LINUX, 6, 1000, "root")]);
    g.sector = 4096;
    let t = read(&g.build()).unwrap();
    assert_eq!(t.sector_size, 4096);
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert_eq!(t.partitions[0].start, 6 * 4096);
    assert_eq!(t.partitions[0].size, 995 * 4096);
}

#[test]
fn a_full_36_character_name_without_terminator() {
    let name = "abcdefghijklmnopqrstuvwxyz0123456789";
    let g = Gpt::new(4096, vec![part(LINUX, 40, 100, name)]);
    let t = read(&g.build()).unwrap();
    assert_eq!(t.partitions[0].name.as_deref(), Some(name));
}

#[test]
fn bad_primary_header_crc_uses_the_backup() {
    let g = sample();
    let clean = read(&g.build()).unwrap();
    let mut d = g.build();
    d[512 + 16] ^= 0xff;
    let t = read(&d).unwrap();
    let info = t.gpt.as_ref().unwrap();
    assert_eq!(info.header_used, GptHeaderUsed::Backup);
    assert!(!info.primary_valid && info.backup_valid);
    assert_eq!(t.partitions, clean.partitions);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    let msg = &t.diagnostics[0];
    assert!(
        msg.contains("primary GPT header at LBA 1 (offset 512)"),
        "{msg}"
    );
    assert!(msg.contains("CRC32"), "{msg}");
    assert!(msg.contains(&format!("LBA {}", g.last_lba())), "{msg}");
}

#[test]
fn bad_primary_entry_array_uses_the_backup() {
    let g = sample();
    let mut d = g.build();
    d[1024 + 32] ^= 1; // first LBA of entry 1
    let t = read(&d).unwrap();
    assert_eq!(t.gpt.as_ref().unwrap().header_used, GptHeaderUsed::Backup);
    assert_eq!(t.partitions[0].start, 34 * 512);
    let msg = &t.diagnostics[0];
    assert!(msg.contains("entry array CRC32 mismatch"), "{msg}");
    assert!(msg.contains("offset 1024"), "{msg}");
}

#[test]
fn both_headers_bad_is_an_error_with_both_reasons() {
    let g = sample();
    let mut d = g.build();
    d[512 + 16] ^= 0xff;
    let backup = g.last_lba() as usize * 512;
    d[backup] = b'X';
    let err = read(&d).unwrap_err();
    let VolumeError::GptUnusable {
        primary_offset,
        primary,
        backup_offset,
        backup: reason,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*primary_offset, 512);
    assert_eq!(*backup_offset, backup as u64);
    assert!(primary.contains("CRC32"), "{primary}");
    assert!(reason.contains("no \"EFI PART\" signature"), "{reason}");
    let text = err.to_string();
    assert!(
        text.contains("offset 512") && text.contains(&format!("offset {backup}")),
        "{text}"
    );
}

#[test]
fn bad_backup_is_reported_and_the_primary_used() {
    let g = sample();
    let mut d = g.build();
    let backup = g.last_lba() as usize * 512;
    d[backup + 16] ^= 1;
    let t = read(&d).unwrap();
    let info = t.gpt.as_ref().unwrap();
    assert_eq!(info.header_used, GptHeaderUsed::Primary);
    assert!(info.primary_valid && !info.backup_valid);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    assert!(
        t.diagnostics[0].contains("backup GPT header is unusable"),
        "{:?}",
        t.diagnostics
    );
    assert!(
        t.diagnostics[0].contains(&format!("offset {}", backup + 16)),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn enlarged_disk_reports_the_backup_not_at_the_end() {
    let g = sample();
    let mut d = g.build();
    let old_last = g.last_lba();
    d.resize(d.len() + 1024 * 512, 0);
    let t = read(&d).unwrap();
    let info = t.gpt.as_ref().unwrap();
    assert!(info.primary_valid && info.backup_valid);
    assert_eq!(info.backup_lba, old_last);
    assert_eq!(info.disk_last_lba, old_last + 1024);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    let msg = &t.diagnostics[0];
    assert!(
        msg.contains(&format!("backup GPT header is at LBA {old_last}")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("not at the last LBA {}", old_last + 1024)),
        "{msg}"
    );
    assert!(msg.contains("qemu-img resize"), "{msg}");
}

#[test]
fn shrunk_disk_reads_the_primary_and_says_truncated() {
    let g = sample();
    let mut d = g.build();
    d.truncate(d.len() - 100 * 512);
    let t = read(&d).unwrap();
    assert_eq!(t.gpt.as_ref().unwrap().header_used, GptHeaderUsed::Primary);
    let all = t.diagnostics.join("\n");
    assert!(all.contains("past the last LBA"), "{all}");
    assert!(all.contains("truncated"), "{all}");
    assert!(
        all.contains("partition 3") && all.contains("ends past the end of the disk"),
        "{all}"
    );
}

#[test]
fn headers_that_disagree_are_reported() {
    let g = sample();
    let mut d = g.build();
    let backup = g.last_lba() as usize * 512;
    d[backup + 56] ^= 0xff; // disk GUID
    let backup_array = (g.last_lba() - g.array_sectors()) as usize * 512;
    d[backup_array + 48] ^= 0x80; // an attribute bit of entry 1
    fix_crcs(&mut d, backup, 512);
    let t = read(&d).unwrap();
    let all = t.diagnostics.join("\n");
    assert!(all.contains("different disk GUIDs"), "{all}");
    assert!(all.contains("partition entry arrays differ"), "{all}");
    assert_eq!(t.partitions[0].attributes, 0, "the primary wins");
}

#[test]
fn declared_sizes_are_capped() {
    let g = sample();
    let mut d = g.build();
    put32(&mut d, 512 + 80, 100_000);
    fix_crcs(&mut d, 512, 512);
    let t = read(&d).unwrap();
    assert!(
        t.diagnostics[0].contains("more than the 1024 accepted"),
        "{:?}",
        t.diagnostics
    );

    let mut d = g.build();
    put32(&mut d, 512 + 84, 100);
    fix_crcs(&mut d, 512, 512);
    let t = read(&d).unwrap();
    assert!(
        t.diagnostics[0].contains("entry size 100"),
        "{:?}",
        t.diagnostics
    );

    let mut d = g.build();
    put32(&mut d, 512 + 12, 600); // header larger than the sector
    fix_crcs(&mut d, 512, 512);
    let t = read(&d).unwrap();
    assert!(
        t.diagnostics[0].contains("header size 600"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn header_at_the_wrong_lba_is_rejected() {
    let g = sample();
    let mut d = g.build();
    put64(&mut d, 512 + 24, 7);
    fix_crcs(&mut d, 512, 512);
    let t = read(&d).unwrap();
    assert!(
        t.diagnostics[0].contains("says it is at LBA 7"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn entries_out_of_range_overlapping_or_reversed_are_reported() {
    let parts = vec![
        part(LINUX, 10, 100, "before first usable"),
        part(LINUX, 2000, 3000, "a"),
        part(LINUX, 2500, 3500, "b overlaps a"),
        part(LINUX, 4000, 3999, "reversed"),
        part(LINUX, 3600, 100_000, "past last usable"),
    ];
    let t = read(&Gpt::new(8192, parts).build()).unwrap();
    let all = t.diagnostics.join("\n");
    assert!(
        all.contains("GPT partition 1 (LBA 10..=100) lies outside the usable LBAs 34..="),
        "{all}"
    );
    assert!(
        all.contains("partitions 2 (bytes") && all.contains("and 3 (bytes"),
        "{all}"
    );
    assert!(
        all.contains("GPT partition 4") && all.contains("ignored"),
        "{all}"
    );
    assert!(
        all.contains("GPT partition 5 (LBA 3600..=100000) lies outside"),
        "{all}"
    );
    assert!(
        all.contains("partition 5") && all.contains("ends past the end of the disk"),
        "{all}"
    );
    let numbers: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3, 5]);
    // Partition 5 is clamped by its source rather than failing.
    let disk = source(Gpt::new(8192, vec![part(LINUX, 3600, 100_000, "x")]).build());
    let t = crate::read_partitions(&disk).unwrap();
    assert_eq!(t.partitions[0].source(&disk).len(), (8192 - 3600) * 512);
}

#[test]
fn gpt_without_protective_mbr_is_read_with_a_warning() {
    let g = sample();
    let mut d = g.build();
    d[..512].fill(0);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::Gpt);
    assert!(
        t.diagnostics[0].contains("without a protective MBR"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn hybrid_mbr_is_reported() {
    let g = sample();
    let mut d = g.build();
    mbr_entry(&mut d, 0, 1, 0x80, 0x0c, 2048, 2048);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::Gpt);
    assert!(
        t.diagnostics[0].contains("hybrid MBR"),
        "{:?}",
        t.diagnostics
    );
    assert!(
        t.diagnostics[0].contains("2 (type 0x0c)"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn grub_boot_code_in_the_protective_mbr() {
    let mut d = sample().build();
    d[0] = 0xeb;
    d[0x63] = 0xfa;
    put(&mut d, 0x180, b"GRUB \0Geom\0Hard Disk\0Read\0 Error");
    let t = read(&d).unwrap();
    assert!(t.mbr_boot_code.present && t.mbr_boot_code.grub);
}

#[test]
fn larger_entries_and_headers() {
    let mut g = sample();
    g.entry_size = 256;
    g.entries = 16;
    let t = read(&g.build()).unwrap();
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert_eq!(t.partitions.len(), 3);
    assert_eq!(t.gpt.unwrap().entry_size, 256);
}

#[test]
fn lbas_at_the_end_of_the_u64_range_do_not_overflow() {
    let parts = vec![
        part(LINUX, 0, u64::MAX, "all"),
        part(LINUX, u64::MAX, u64::MAX, "last"),
    ];
    let t = read(&Gpt::new(256, parts).build()).unwrap();
    assert!(t.partitions.is_empty());
    assert_eq!(t.diagnostics.len(), 2, "{:?}", t.diagnostics);
    assert!(
        t.diagnostics.iter().all(|m| m.contains("beyond any disk")),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn table_serializes_for_the_report() {
    let t = read(&sample().build()).unwrap();
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["scheme"], "gpt");
    assert_eq!(json["gpt"]["header_used"], "primary");
    assert_eq!(json["partitions"][1]["type_name"], "EFI System");
    let back: crate::PartitionTable = serde_json::from_value(json).unwrap();
    assert_eq!(back, t);
}
