//! CRC32C as XFS v5 metadata uses it ("XFS Algorithms & Data Structures", "Metadata
//! Checksums"): the standard reflected CRC32C over the whole structure with its 4-byte CRC
//! field taken as zeros, stored little-endian. The arithmetic is `preflight_io::crc32c`.

#[cfg(test)]
pub use preflight_io::crc32c::crc32c;
use preflight_io::crc32c::crc32c_without;

/// True when the little-endian CRC32C stored at `at` in `buf` matches the CRC of `buf` with
/// that field zeroed. A buffer too short to hold the field never matches.
pub fn verify(buf: &[u8], at: usize) -> bool {
    let Some(stored) = buf.get(at..at.saturating_add(4)) else {
        return false;
    };
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    crc32c_without(buf, at) == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_zeroes_the_field() {
        let mut buf: Vec<u8> = (0..100u8).collect();
        buf[10..14].fill(0);
        let c = crc32c(&buf);
        buf[10..14].copy_from_slice(&c.to_le_bytes());
        assert!(verify(&buf, 10));
        buf[50] ^= 1;
        assert!(!verify(&buf, 10));
        assert!(!verify(&buf, 98));
    }
}
