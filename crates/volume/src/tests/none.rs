use super::build::*;
use crate::Scheme;

#[test]
fn blank_disk_has_no_table_and_no_warning() {
    let t = read(&vec![0u8; 4096]).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(t.partitions.is_empty() && t.diagnostics.is_empty() && t.disk_id.is_none());
}

#[test]
fn tiny_disk() {
    let t = read(&[0u8; 100]).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(t.diagnostics[0].contains("smaller than one sector"));
    assert_eq!(read(&[]).unwrap().scheme, Scheme::None);
}

#[test]
fn fat_at_sector_zero_is_a_whole_disk_file_system() {
    // A FAT16 boot sector: its boot code bytes would make nonsense partition entries.
    let mut d = vec![0u8; 512 * 100];
    super::probe::fat16_boot_sector(&mut d, 20000);
    d[446..510].fill(0x41);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
}

#[test]
fn ntfs_at_sector_zero_is_a_whole_disk_file_system() {
    let mut d = vec![0u8; 4096];
    put(&mut d, 3, b"NTFS    ");
    d[446] = 0x80;
    d[446 + 4] = 0x07;
    put32(&mut d, 446 + 12, 10);
    d[510] = 0x55;
    d[511] = 0xaa;
    assert_eq!(read(&d).unwrap().scheme, Scheme::None);
}

#[test]
fn ext4_at_sector_zero() {
    let mut d = vec![0u8; 64 * 1024];
    super::probe::ext_superblock(&mut d, 0x4, 0x2c2, 0x7b);
    assert_eq!(read(&d).unwrap().scheme, Scheme::None);
    // With a leftover 55 AA and no entries.
    d[510] = 0x55;
    d[511] = 0xaa;
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
}

#[test]
fn stale_backup_gpt_behind_a_whole_disk_file_system() {
    let mut d = Gpt::new(256, vec![part(LINUX, 40, 100, "x")]).build();
    d[..2 * 512 + 128 * 128].fill(0);
    super::probe::ext_superblock(&mut d, 0x4, 0x2c2, 0x7b);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::None);
    assert!(
        t.diagnostics[0].contains("ignored as stale"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn only_a_backup_gpt_left() {
    let mut d = Gpt::new(256, vec![part(LINUX, 40, 100, "x")]).build();
    d[..2 * 512].fill(0);
    let t = read(&d).unwrap();
    assert_eq!(t.scheme, Scheme::Gpt);
    assert_eq!(
        t.gpt.as_ref().unwrap().header_used,
        crate::GptHeaderUsed::Backup
    );
    assert_eq!(t.partitions.len(), 1);
    let all = t.diagnostics.join("\n");
    assert!(all.contains("without a protective MBR"), "{all}");
    assert!(
        all.contains("primary GPT header at LBA 1 (offset 512) is unusable"),
        "{all}"
    );
}
