//! CRC32C (Castagnoli), as XFS v5 metadata uses it ("XFS Algorithms & Data Structures",
//! "Metadata Checksums"): the standard reflected CRC32C (initial value and final xor all ones)
//! over the whole structure with its 4-byte CRC field taken as zeros, stored little-endian.

const POLY: u32 = 0x82f6_3b78; // reflected Castagnoli polynomial

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Continue a CRC32C over `data` (`crc` is the running, non-inverted register).
fn update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xff) as usize];
    }
    crc
}

/// CRC32C of `data`.
#[cfg(test)]
pub fn crc32c(data: &[u8]) -> u32 {
    !update(!0, data)
}

/// True when the little-endian CRC32C stored at `at` in `buf` matches the CRC of `buf` with
/// that field zeroed. A buffer too short to hold the field never matches.
pub fn verify(buf: &[u8], at: usize) -> bool {
    let Some(stored) = buf.get(at..at + 4) else {
        return false;
    };
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let mut crc = update(!0, &buf[..at]);
    crc = update(crc, &[0; 4]);
    crc = update(crc, &buf[at + 4..]);
    !crc == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) B.4 test vectors and the usual check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
    }

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
