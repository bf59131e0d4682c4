//! CRC-32C (Castagnoli), the checksum of VHDX headers and logs, XFS v5 metadata and Btrfs
//! trees: reflected polynomial 0x82F63B78 (RFC 3720 B.4). One slicing-by-8 implementation for
//! every reader; the formats differ only in seed, final inversion and where the field sits.

const POLY: u32 = 0x82f6_3b78;

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

/// Continue the raw register over `data` (no inversion before or after), as the Linux
/// kernel's `crc32c(seed, data, len)` computes it.
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
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

/// The standard CRC-32C of `data` (initial value and final xor all ones).
pub fn crc32c(data: &[u8]) -> u32 {
    !update(!0, data)
}

/// The standard CRC-32C of `parts` concatenated (a structure summed around a field without
/// copying it).
pub fn crc32c_parts(parts: &[&[u8]]) -> u32 {
    !parts.iter().fold(!0, |crc, part| update(crc, part))
}

/// The standard CRC-32C of `bytes` with its own 4-byte checksum field at `at` taken as zeros
/// (how VHDX and XFS sum a structure that holds its checksum). A field past the end counts
/// only where it overlaps.
pub fn crc32c_without(bytes: &[u8], at: usize) -> u32 {
    let at = at.min(bytes.len());
    let end = at.saturating_add(4).min(bytes.len());
    let mut crc = update(!0, &bytes[..at]);
    crc = update(crc, &[0u8; 4][..end - at]);
    !update(crc, &bytes[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 B.4 and the common "123456789" check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c_parts(&[b"1234", b"", b"56789"]), 0xe306_9283);
    }

    #[test]
    fn slicing_matches_bytewise_at_every_length() {
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut bytewise = !0u32;
            for &b in &data[..n] {
                bytewise = (bytewise >> 8) ^ TABLES[0][((bytewise ^ u32::from(b)) & 0xff) as usize];
            }
            assert_eq!(update(!0, &data[..n]), bytewise, "length {n}");
        }
    }

    #[test]
    fn the_field_counts_as_zeros() {
        let mut b = *b"abcdWXYZefgh";
        let with_zeros = {
            let mut z = b;
            z[4..8].fill(0);
            crc32c(&z)
        };
        assert_eq!(crc32c_without(&b, 4), with_zeros);
        b[4] = 0x55;
        assert_eq!(crc32c_without(&b, 4), with_zeros);
        assert_eq!(crc32c_without(&b, 10), crc32c_without(&b, 10));
        assert_eq!(crc32c_without(b"", 0), crc32c(&[]));
    }
}
