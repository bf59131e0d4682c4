//! Partition tables written by sgdisk and sfdisk, read by us and compared with what sfdisk
//! (`--json`) and partx (libblkid, the kernel's view of PARTUUIDs) report.

mod common;

use std::path::Path;

use common::*;
use preflight_volume::{
    GptHeaderUsed, PartitionTable, Scheme, VolumeError, probe, read_partitions,
};

const MIB: u64 = 1 << 20;

fn read(img: &Path) -> Result<PartitionTable, VolumeError> {
    read_partitions(&open(img))
}

/// A 64 MiB GPT disk: BIOS boot, ESP, swap, and a root partition with the legacy BIOS
/// bootable attribute.
fn make_gpt(dir: &TempDir) -> std::path::PathBuf {
    let img = dir.path("gpt.img");
    sparse(&img, 64 * MIB);
    sh(
        "sgdisk",
        "gdisk",
        &[
            "-n",
            "1:2048:+1M",
            "-t",
            "1:ef02",
            "-c",
            "1:BIOS boot",
            "-n",
            "2:0:+8M",
            "-t",
            "2:ef00",
            "-c",
            "2:EFI System Partition",
            "-n",
            "3:0:+16M",
            "-t",
            "3:8200",
            "-n",
            "4:0:0",
            "-t",
            "4:8304",
            "-c",
            "4:root",
            "-A",
            "4:set:2",
            s(&img),
        ],
    );
    img
}

/// Our table against `sfdisk --json` (starts, sizes, types, GPT UUIDs and names, bootable
/// flags, disk id) and `partx` (UUIDs/PARTUUIDs as libblkid derives them).
fn assert_matches_tools(img: &Path, t: &PartitionTable) {
    let json: serde_json::Value =
        serde_json::from_str(&sh("sfdisk", "fdisk", &["--json", s(img)])).unwrap();
    let pt = &json["partitiontable"];
    let ss = pt["sectorsize"].as_u64().unwrap_or(512);
    assert_eq!(u64::from(t.sector_size), ss);
    let id = pt["id"].as_str().unwrap().to_lowercase();
    match pt["label"].as_str().unwrap() {
        "gpt" => {
            assert_eq!(t.scheme, Scheme::Gpt);
            assert_eq!(t.disk_id.as_deref(), Some(id.as_str()));
        }
        "dos" => {
            assert_eq!(t.scheme, Scheme::Mbr);
            assert_eq!(t.disk_id.as_deref(), Some(id.trim_start_matches("0x")));
        }
        other => panic!("unexpected label {other}"),
    }
    let theirs = pt["partitions"].as_array().unwrap();
    assert_eq!(
        theirs.len(),
        t.partitions.len(),
        "{theirs:#?}\n{:#?}",
        t.partitions
    );
    for p in theirs {
        let node = p["node"].as_str().unwrap();
        let number: u32 = node[s(img).len()..].parse().unwrap();
        let ours = t
            .partitions
            .iter()
            .find(|q| q.number == number)
            .unwrap_or_else(|| panic!("no partition {number}: {:#?}", t.partitions));
        assert_eq!(
            ours.start,
            p["start"].as_u64().unwrap() * ss,
            "start of {number}"
        );
        assert_eq!(
            ours.size,
            p["size"].as_u64().unwrap() * ss,
            "size of {number}"
        );
        let kind = p["type"].as_str().unwrap().to_lowercase();
        if t.scheme == Scheme::Gpt {
            assert_eq!(ours.type_id, kind, "type of {number}");
            let uuid = p["uuid"].as_str().unwrap().to_lowercase();
            assert_eq!(
                ours.uuid.as_deref(),
                Some(uuid.as_str()),
                "uuid of {number}"
            );
            assert_eq!(ours.name.as_deref(), p["name"].as_str(), "name of {number}");
        } else {
            let byte = u8::from_str_radix(&kind, 16).unwrap();
            assert_eq!(ours.type_id, format!("0x{byte:02x}"), "type of {number}");
            assert_eq!(
                ours.bootable,
                p["bootable"].as_bool().unwrap_or(false),
                "boot flag of {number}"
            );
        }
    }
    // partx -P: NR="1" START="2048" SECTORS="2048" UUID="…"
    let partx = sh(
        "partx",
        "util-linux",
        &["-P", "-o", "NR,START,SECTORS,UUID", s(img)],
    );
    let mut rows = 0;
    for line in partx.lines() {
        let field = |key: &str| {
            let k = format!("{key}=\"");
            let at = line.find(&k).unwrap() + k.len();
            line[at..].split('"').next().unwrap().to_string()
        };
        let number: u32 = field("NR").parse().unwrap();
        let ours = t.partitions.iter().find(|q| q.number == number).unwrap();
        assert_eq!(ours.start / ss, field("START").parse::<u64>().unwrap());
        let uuid = field("UUID");
        assert_eq!(
            ours.uuid.as_deref().unwrap_or(""),
            uuid,
            "PARTUUID of {number}"
        );
        rows += 1;
    }
    assert_eq!(rows, t.partitions.len());
}

#[test]
fn gpt_from_sgdisk_matches_sfdisk_and_partx() {
    let dir = TempDir::new("gpt");
    let img = make_gpt(&dir);
    let t = read(&img).unwrap();
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert_matches_tools(&img, &t);
    let names: Vec<_> = t
        .partitions
        .iter()
        .map(|p| p.type_name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "BIOS boot",
            "EFI System",
            "Linux swap",
            "Linux root (x86-64)"
        ]
    );
    assert!(t.partitions[3].bootable && t.partitions[3].attributes == 4);
    let info = t.gpt.unwrap();
    assert_eq!(info.header_used, GptHeaderUsed::Primary);
    assert_eq!(info.backup_lba, 64 * MIB / 512 - 1);
    assert_eq!((info.entry_count, info.entry_size), (128, 128));
}

#[test]
fn gpt_with_a_corrupt_primary_header_is_read_from_the_backup() {
    let dir = TempDir::new("gpt-primary");
    let img = make_gpt(&dir);
    let clean = read(&img).unwrap();
    flip(&img, 512 + 16);
    let t = read(&img).unwrap();
    assert_eq!(t.gpt.as_ref().unwrap().header_used, GptHeaderUsed::Backup);
    assert_eq!(t.partitions, clean.partitions);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    let msg = &t.diagnostics[0];
    assert!(
        msg.contains("primary GPT header at LBA 1 (offset 512) is unusable"),
        "{msg}"
    );
    assert!(msg.contains("CRC32 mismatch at offset 528"), "{msg}");
}

#[test]
fn gpt_with_a_corrupt_primary_entry_array_is_read_from_the_backup() {
    let dir = TempDir::new("gpt-array");
    let img = make_gpt(&dir);
    let clean = read(&img).unwrap();
    flip(&img, 1024 + 128 + 40); // last LBA of partition 2
    let t = read(&img).unwrap();
    assert_eq!(t.partitions, clean.partitions);
    assert!(
        t.diagnostics[0].contains("entry array CRC32 mismatch (array at LBA 2, offset 1024"),
        "{:?}",
        t.diagnostics
    );
}

#[test]
fn gpt_with_both_headers_corrupt_is_an_error_naming_both() {
    let dir = TempDir::new("gpt-both");
    let img = make_gpt(&dir);
    flip(&img, 512 + 16);
    let backup = 64 * MIB - 512;
    flip(&img, backup + 16);
    let err = read(&img).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, VolumeError::GptUnusable { .. }), "{text}");
    assert!(
        text.contains("primary at offset 512") && text.contains("offset 528"),
        "{text}"
    );
    assert!(
        text.contains(&format!("backup at offset {backup}")),
        "{text}"
    );
    assert!(text.contains(&format!("offset {}", backup + 16)), "{text}");
}

#[test]
fn gpt_on_an_enlarged_disk_reports_the_backup_position_until_sgdisk_moves_it() {
    let dir = TempDir::new("gpt-resize");
    let img = make_gpt(&dir);
    let clean = read(&img).unwrap();
    sh("truncate", "coreutils", &["-s", "96M", s(&img)]);
    let t = read(&img).unwrap();
    assert_eq!(t.partitions, clean.partitions);
    assert_eq!(t.diagnostics.len(), 1, "{:?}", t.diagnostics);
    let old_last = 64 * MIB / 512 - 1;
    assert!(
        t.diagnostics[0].contains(&format!("backup GPT header is at LBA {old_last}")),
        "{:?}",
        t.diagnostics
    );
    assert!(
        t.diagnostics[0].contains(&format!("not at the last LBA {}", 96 * MIB / 512 - 1)),
        "{:?}",
        t.diagnostics
    );
    let info = t.gpt.unwrap();
    assert_eq!(
        (info.backup_lba, info.disk_last_lba),
        (old_last, 96 * MIB / 512 - 1)
    );

    sh("sgdisk", "gdisk", &["-e", s(&img)]);
    let t = read(&img).unwrap();
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert_eq!(t.gpt.as_ref().unwrap().backup_lba, 96 * MIB / 512 - 1);
    assert_matches_tools(&img, &t);
}

#[test]
fn mbr_with_logical_partitions_from_sfdisk_matches_sfdisk_and_partx() {
    let dir = TempDir::new("mbr");
    let img = dir.path("mbr.img");
    sparse(&img, 64 * MIB);
    let n = s(&img);
    let script = format!(
        "label: dos\nlabel-id: 0x5eadbeef\n\
         {n}1 : start=2048, size=8192, type=83, bootable\n\
         {n}2 : size=8192, type=82\n\
         {n}3 : size=65536, type=5\n\
         {n}5 : size=4096, type=83\n\
         {n}6 : size=4096, type=8e\n\
         {n}7 : size=4096, type=83\n\
         {n}8 : size=4096, type=83\n\
         {n}9 : size=4096, type=83\n\
         {n}10 : size=4096, type=fd\n"
    );
    let mut cmd = std::process::Command::new(tool("sfdisk", "fdisk"));
    cmd.args(["-q", n]).stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());

    let t = read(&img).unwrap();
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    let numbers: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        t.partitions.last().unwrap().uuid.as_deref(),
        Some("5eadbeef-0a")
    );
    assert_matches_tools(&img, &t);
}

#[test]
fn file_systems_inside_gpt_partitions_probe_as_blkid_sees_them() {
    let dir = TempDir::new("gpt-fs");
    let img = dir.path("disk.img");
    sparse(&img, 64 * MIB);
    sh(
        "sgdisk",
        "gdisk",
        &[
            "-n",
            "1:2048:+16M",
            "-t",
            "1:ef00",
            "-n",
            "2:0:+32M",
            "-t",
            "2:8300",
            s(&img),
        ],
    );
    sh(
        "mkfs.vfat",
        "dosfstools",
        &[
            "--offset=2048",
            "-n",
            "ESP",
            "-i",
            "0badcafe",
            s(&img),
            "16384",
        ],
    );
    let root_start = (2048 + 16 * 2048) * 512;
    sh(
        "mkfs.ext4",
        "e2fsprogs",
        &[
            "-q",
            "-F",
            "-L",
            "root",
            "-E",
            &format!("offset={root_start}"),
            s(&img),
            "32M",
        ],
    );
    let disk = open(&img);
    let t = read_partitions(&disk).unwrap();
    assert_eq!(t.partitions.len(), 2);
    for p in &t.partitions {
        let ours = probe(&*p.source(&disk)).unwrap();
        let theirs = blkid(&img, Some((p.start, p.size)));
        assert_eq!(
            Some(&ours.name),
            theirs.get("TYPE"),
            "partition {}: {theirs:?}",
            p.number
        );
        assert_eq!(
            ours.uuid.as_ref(),
            theirs.get("UUID"),
            "partition {}",
            p.number
        );
        assert_eq!(
            ours.label.as_ref(),
            theirs.get("LABEL"),
            "partition {}",
            p.number
        );
        assert_eq!(
            ours.version.as_ref(),
            theirs.get("VERSION"),
            "partition {}",
            p.number
        );
    }
    assert_eq!(
        probe(&*t.partitions[0].source(&disk))
            .unwrap()
            .uuid
            .as_deref(),
        Some("0BAD-CAFE")
    );
}

/// 4 KiB logical sectors: sgdisk on a loop device with a 4096-byte block size.
#[test]
fn gpt_with_4096_byte_sectors() {
    let dir = TempDir::new("gpt-4k");
    let img = dir.path("4k.img");
    sparse(&img, 64 * MIB);
    let losetup = tool("losetup", "mount");
    let out = std::process::Command::new(&losetup)
        .args(["-f", "--show", "-b", "4096", s(&img)])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "SKIPPED gpt_with_4096_byte_sectors: no loop device ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let made = std::process::Command::new(tool("sgdisk", "gdisk"))
        .args([
            "-n", "1:0:+8M", "-t", "1:ef00", "-n", "2:0:0", "-t", "2:8300", "-c", "2:root", &dev,
        ])
        .output();
    let json = std::process::Command::new(tool("sfdisk", "fdisk"))
        .args(["--json", &dev])
        .output();
    run(std::process::Command::new(&losetup).args(["-d", &dev]));
    assert!(made.unwrap().status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.unwrap().stdout).unwrap();

    let t = read(&img).unwrap();
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
    assert_eq!(t.sector_size, 4096);
    let theirs = json["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(json["partitiontable"]["sectorsize"], 4096);
    assert_eq!(theirs.len(), 2);
    for (ours, p) in t.partitions.iter().zip(theirs) {
        assert_eq!(ours.start, p["start"].as_u64().unwrap() * 4096);
        assert_eq!(ours.size, p["size"].as_u64().unwrap() * 4096);
        assert_eq!(
            Some(ours.type_id.clone()),
            p["type"].as_str().map(str::to_lowercase)
        );
        assert_eq!(ours.uuid, p["uuid"].as_str().map(str::to_lowercase));
    }
    assert_eq!(t.partitions[1].name.as_deref(), Some("root"));
}
