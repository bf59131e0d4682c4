//! Metadata checksums ("On-disk format", "Checksums"): the superblock and every tree node
//! carry a checksum of everything after their 32-byte checksum field, of the type named by
//! the superblock's `csum_type`: 0 CRC32C, 1 xxHash64, 2 SHA-256, 3 BLAKE2b-256. CRC32C and
//! xxHash64 (seed 0) are stored little-endian in the first 4 / 8 bytes, SHA-256 and BLAKE2b
//! use all 32 bytes.

use sha2::{Digest, Sha256};

pub const CSUM_CRC32C: u16 = 0;
pub const CSUM_XXHASH: u16 = 1;
pub const CSUM_SHA256: u16 = 2;
pub const CSUM_BLAKE2: u16 = 3;

/// The checksum kinds this reader verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsumType {
    Crc32c,
    XxHash64,
    Sha256,
}

impl CsumType {
    /// The supported type for the on-disk value, or a message naming the unsupported one.
    pub fn from_disk(v: u16) -> Result<CsumType, String> {
        match v {
            CSUM_CRC32C => Ok(CsumType::Crc32c),
            CSUM_XXHASH => Ok(CsumType::XxHash64),
            CSUM_SHA256 => Ok(CsumType::Sha256),
            CSUM_BLAKE2 => Err("checksum type blake2b is not supported".into()),
            other => Err(format!("unknown checksum type {other}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CsumType::Crc32c => "crc32c",
            CsumType::XxHash64 => "xxhash64",
            CsumType::Sha256 => "sha256",
        }
    }

    /// Check `block` (a superblock or a node: checksum field first) and return a description
    /// of the mismatch if any.
    pub fn verify(self, block: &[u8]) -> Result<(), String> {
        if block.len() < 32 {
            return Err("block shorter than its checksum".into());
        }
        let (stored, body) = block.split_at(32);
        let computed: Vec<u8> = match self {
            CsumType::Crc32c => crc32c(body).to_le_bytes().to_vec(),
            CsumType::XxHash64 => xxhash64(body, 0).to_le_bytes().to_vec(),
            CsumType::Sha256 => Sha256::digest(body).to_vec(),
        };
        if stored[..computed.len()] == computed[..] {
            Ok(())
        } else {
            Err(format!(
                "{} checksum mismatch (stored {}, computed {})",
                self.name(),
                hex(&stored[..computed.len()]),
                hex(&computed)
            ))
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The raw CRC32C register update (no inversion before or after), as the kernel's
/// `crc32c(seed, data, len)` computes it.
pub fn crc32c_raw(crc: u32, data: &[u8]) -> u32 {
    preflight_io::crc32c::update(crc, data)
}

/// The standard CRC32C (initial value and final xor all ones).
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_raw(!0, data)
}

/// The directory item name hash ("Data structures", `DIR_ITEM`: "the key offset is the
/// crc32c hash of the name", seeded with `~1` and not inverted).
pub fn name_hash(name: &[u8]) -> u64 {
    u64::from(crc32c_raw(!1u32, name))
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn u64_at(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// xxHash64 (the published XXH64 algorithm).
pub fn xxhash64(data: &[u8], seed: u64) -> u64 {
    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        h ^= round(0, u64_at(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let k = u64::from(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
        h ^= k.wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(xxhash64(b"", 0), 0xEF46_DB37_51D8_E999);
        // Longer inputs are checked by the tree test on a `mkfs.btrfs --csum xxhash` image.
    }
}
