//! CRC-32C (Castagnoli), the checksum of the VHDX headers, region tables and log entries
//! ([MS-VHDX] 2.2.2.1 "Checksum": a CRC-32C "using the Castagnoli polynomial").
//! Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF (RFC 3720 B.4).

const POLY: u32 = 0x82f6_3b78;

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = table();

/// CRC-32C of `parts` concatenated (so a structure can be summed with its checksum field
/// replaced by zeros without copying it).
pub fn crc32c(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// The checksum of a structure whose own 4-byte checksum field at `at` counts as zero.
pub fn crc32c_without(bytes: &[u8], at: usize) -> u32 {
    let at = at.min(bytes.len());
    let end = (at + 4).min(bytes.len());
    let zeros = [0u8; 4];
    crc32c(&[&bytes[..at], &zeros[..end - at], &bytes[end..]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // RFC 3720 and every CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        assert_eq!(crc32c(&[b"123456789"]), 0xe306_9283);
        assert_eq!(crc32c(&[b"1234", b"56789"]), 0xe306_9283);
        assert_eq!(crc32c(&[&[0u8; 32]]), 0x8a91_36aa);
    }
}
