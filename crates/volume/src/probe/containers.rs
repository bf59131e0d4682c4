//! Containers and encryption: md RAID members, LUKS, BitLocker, LVM2 physical volumes.

use preflight_io::{ByteSource, IoError, be, le};

use super::{Probe, ProbeKind, field, magic, read_exact};
use crate::text::{c_string, uuid_bytes};

fn md_v1(sb: &[u8], offset: u64, version: &str) -> Option<Probe> {
    if le::u32(sb, 0) != 0xa92b_4efc || le::u32(sb, 4) != 1 {
        return None;
    }
    // super_offset: where the superblock says it is, in 512-byte sectors.
    if le::u64(sb, 144) != offset / 512 {
        return None;
    }
    Some(
        Probe::new(ProbeKind::LinuxRaidMember)
            .uuid(field(sb, 16, 16).and_then(uuid_bytes))
            .label(field(sb, 32, 32).and_then(c_string))
            .version(version),
    )
}

pub(super) fn linux_raid(v: &dyn ByteSource, head: &[u8]) -> Result<Option<Probe>, IoError> {
    // Metadata 1.2 at 4 KiB, 1.1 at 0.
    for (at, version) in [(4096usize, "1.2"), (0, "1.1")] {
        if let Some(p) = field(head, at, 256).and_then(|sb| md_v1(sb, at as u64, version)) {
            return Ok(Some(p));
        }
    }
    let len = v.len();
    // Metadata 1.0: 8 KiB before the end, 4 KiB aligned.
    if len >= 3 * 4096 {
        let at = (len - 8192) & !4095;
        if let Some(p) = read_exact(v, at, 256)?.and_then(|sb| md_v1(&sb, at, "1.0")) {
            return Ok(Some(p));
        }
    }
    // Metadata 0.90: the last 64 KiB-aligned 64 KiB block.
    if len >= 2 * 65536 {
        let at = (len & !0xffff) - 0x10000;
        if let Some(sb) = read_exact(v, at, 64)?
            && le::u32(&sb, 0) == 0xa92b_4efc
            && le::u32(&sb, 4) == 0
        {
            let mut uuid = [0u8; 16];
            uuid[..4].copy_from_slice(&sb[20..24]);
            uuid[4..].copy_from_slice(&sb[52..64]);
            let version = format!(
                "{}.{}.{}",
                le::u32(&sb, 4),
                le::u32(&sb, 8),
                le::u32(&sb, 12)
            );
            return Ok(Some(
                Probe::new(ProbeKind::LinuxRaidMember)
                    .uuid(uuid_bytes(&uuid))
                    .version(version),
            ));
        }
    }
    Ok(None)
}

pub(super) fn luks(h: &[u8]) -> Option<Probe> {
    if !magic(h, 0, b"LUKS\xba\xbe") {
        return None;
    }
    let version = be::u16(h, 6);
    let mut p = Probe::new(ProbeKind::Luks)
        .uuid(field(h, 168, 40).and_then(c_string))
        .version(version.to_string());
    if version == 2 {
        p = p.label(field(h, 24, 48).and_then(c_string));
    }
    Some(p)
}

pub(super) fn bitlocker(h: &[u8]) -> Option<Probe> {
    magic(h, 3, b"-FVE-FS-").then(|| Probe::new(ProbeKind::BitLocker))
}

/// LVM2's label CRC: CRC-32 (reflected 0xEDB88320) seeded with 0xf597a6cf, no final inversion.
fn lvm_crc(data: &[u8]) -> u32 {
    const TABLE: [u32; 16] = [
        0x0000_0000,
        0x1db7_1064,
        0x3b6e_20c8,
        0x26d9_30ac,
        0x76dc_4190,
        0x6b6b_51f4,
        0x4db2_6158,
        0x5005_713c,
        0xedb8_8320,
        0xf00f_9344,
        0xd6d6_a3e8,
        0xcb61_b38c,
        0x9b64_c2b0,
        0x86d3_d2d4,
        0xa00a_e278,
        0xbdbd_f21c,
    ];
    let mut crc = 0xf597_a6cf_u32;
    for &b in data {
        crc ^= u32::from(b);
        crc = (crc >> 4) ^ TABLE[(crc & 0xf) as usize];
        crc = (crc >> 4) ^ TABLE[(crc & 0xf) as usize];
    }
    crc
}

#[cfg(test)]
pub(crate) fn lvm_crc_for_tests(data: &[u8]) -> u32 {
    lvm_crc(data)
}

pub(super) fn lvm2(h: &[u8]) -> Option<Probe> {
    for sector in 0..4usize {
        let Some(s) = field(h, sector * 512, 512) else {
            break;
        };
        if !magic(s, 0, b"LABELONE") || !magic(s, 24, b"LVM2 001") {
            continue;
        }
        if le::u64(s, 8) != sector as u64 || lvm_crc(&s[20..]) != le::u32(s, 16) {
            continue;
        }
        let pv = le::u32(s, 20) as usize;
        let uuid = field(s, pv, 32).map(|id| {
            let id = String::from_utf8_lossy(id);
            let mut out = String::with_capacity(38);
            for (i, c) in id.chars().enumerate() {
                if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
                    out.push('-');
                }
                out.push(c);
            }
            out
        });
        return Some(
            Probe::new(ProbeKind::Lvm2Member)
                .uuid(uuid)
                .version("LVM2 001"),
        );
    }
    None
}
