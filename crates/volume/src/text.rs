//! Turning on-disk bytes into the text blkid and sfdisk print: GUIDs, UUIDs, labels.

use std::fmt::Write;

/// A GPT GUID (mixed-endian: the first three fields little-endian) in lowercase canonical form.
pub(crate) fn guid_mixed(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, &idx) in [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        .iter()
        .enumerate()
    {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{:02x}", b[idx]);
    }
    s
}

/// A 16-byte UUID stored in byte order (ext4, XFS, Btrfs, swap, md) as blkid prints it:
/// lowercase 8-4-4-4-12. `None` when all zero (blkid sets no UUID then).
pub(crate) fn uuid_bytes(b: &[u8]) -> Option<String> {
    if b.len() != 16 || b.iter().all(|&x| x == 0) {
        return None;
    }
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{x:02x}");
    }
    Some(s)
}

/// A fixed-size byte string up to its first NUL, lossily decoded; `None` when empty.
pub(crate) fn c_string(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).into_owned();
    (!s.is_empty()).then_some(s)
}

/// Like [`c_string`] but also drops trailing spaces (FAT and ISO 9660 pad with spaces).
pub(crate) fn padded_string(b: &[u8]) -> Option<String> {
    let s = c_string(b)?;
    let t = s.trim_end_matches(' ');
    (!t.is_empty()).then(|| t.to_string())
}

/// UTF-16 text up to its first NUL (invalid units become U+FFFD); `None` when empty.
pub(crate) fn utf16(b: &[u8], big_endian: bool) -> Option<String> {
    let units = b.chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    let units: Vec<u16> = units.take_while(|&u| u != 0).collect();
    let s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_guid_is_mixed_endian() {
        // EFI System Partition as stored on disk.
        let esp = [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ];
        assert_eq!(guid_mixed(&esp), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    }

    #[test]
    fn uuid_in_byte_order_and_zero_is_none() {
        let b: Vec<u8> = (0..16).collect();
        assert_eq!(
            uuid_bytes(&b).unwrap(),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
        assert_eq!(uuid_bytes(&[0; 16]), None);
        assert_eq!(uuid_bytes(&[1; 3]), None);
    }

    #[test]
    fn strings() {
        assert_eq!(c_string(b"root\0\0junk").as_deref(), Some("root"));
        assert_eq!(c_string(b"\0abc"), None);
        assert_eq!(padded_string(b"EFI        ").as_deref(), Some("EFI"));
        assert_eq!(padded_string(b"           "), None);
        assert_eq!(
            utf16(b"r\0o\0o\0t\0\0\0x\0", false).as_deref(),
            Some("root")
        );
        assert_eq!(utf16(b"\0r\0o", true).as_deref(), Some("ro"));
        assert_eq!(utf16(b"\0\0", false), None);
        // A lone surrogate does not panic.
        assert_eq!(
            utf16(&[0x00, 0xd8, b'a', 0], false).as_deref(),
            Some("\u{fffd}a")
        );
    }
}
