//! The VHD footer and dynamic disk header, as laid out in Microsoft's "Virtual Hard Disk Image
//! Format Specification" 1.0 ("Hard Disk Footer Format", "Dynamic Disk Header Format"). Every
//! field is big-endian. Nothing here allocates from a field before checking it.

use preflight_io::be;

/// Disk types (spec, "Disk Type" field).
pub const TYPE_FIXED: u32 = 2;
pub const TYPE_DYNAMIC: u32 = 3;
pub const TYPE_DIFFERENCING: u32 = 4;

pub const FOOTER_LEN: usize = 512;
pub const DYN_HEADER_LEN: usize = 1024;
const FOOTER_COOKIE: &[u8; 8] = b"conectix";
const DYN_COOKIE: &[u8; 8] = b"cxsparse";
/// Offset of the checksum in both structures' own layouts.
const FOOTER_CHECKSUM_AT: usize = 64;
const DYN_CHECKSUM_AT: usize = 36;

/// The largest CHS geometry (65535 cylinders, 16 heads, 255 sectors): images this big have
/// their true size only in the current-size field.
const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;

#[derive(Debug, Clone)]
pub struct Footer {
    pub format_version: u32,
    pub data_offset: u64,
    pub creator_app: [u8; 4],
    pub creator_version: u32,
    pub creator_os: u32,
    pub current_size: u64,
    pub cylinders: u16,
    pub heads: u8,
    pub sectors: u8,
    pub disk_type: u32,
    pub checksum: u32,
    pub computed_checksum: u32,
    pub uuid: [u8; 16],
    pub saved_state: u8,
}

/// One's complement of the byte sum, the checksum field counted as zero (spec, "Checksum").
pub fn checksum(bytes: &[u8], checksum_at: usize) -> u32 {
    let sum = bytes.iter().enumerate().fold(0u32, |sum, (i, &b)| {
        if (checksum_at..checksum_at + 4).contains(&i) {
            sum
        } else {
            sum.wrapping_add(u32::from(b))
        }
    });
    !sum
}

pub fn is_footer(b: &[u8]) -> bool {
    b.starts_with(FOOTER_COOKIE)
}

impl Footer {
    /// Decode a footer whose cookie has been checked.
    pub fn parse(b: &[u8; FOOTER_LEN]) -> Footer {
        let mut creator_app = [0u8; 4];
        creator_app.copy_from_slice(&b[28..32]);
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[68..84]);
        Footer {
            format_version: be::u32(b, 12),
            data_offset: be::u64(b, 16),
            creator_app,
            creator_version: be::u32(b, 32),
            creator_os: be::u32(b, 36),
            current_size: be::u64(b, 48),
            cylinders: be::u16(b, 56),
            heads: b[58],
            sectors: b[59],
            disk_type: be::u32(b, 60),
            checksum: be::u32(b, FOOTER_CHECKSUM_AT),
            computed_checksum: checksum(b, FOOTER_CHECKSUM_AT),
            uuid,
            saved_state: b[84],
        }
    }

    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.computed_checksum
    }

    pub fn chs_sectors(&self) -> u64 {
        u64::from(self.cylinders) * u64::from(self.heads) * u64::from(self.sectors)
    }

    /// Whether the virtual size comes from the CHS geometry rather than the current-size field.
    ///
    /// Virtual PC sizes a disk by its geometry, Hyper-V and most others by the current-size
    /// field (which Virtual PC sets larger). qemu's vpc driver tells them apart by creator
    /// application: `win `, `qem2`, `d2v `, `CTXS` and `tap\0` use the field, every other
    /// creator the geometry — except at the maximum geometry, which cannot express larger
    /// disks. We follow qemu, so the disk we read is the one `qemu-img convert` produces.
    pub fn size_from_geometry(&self) -> bool {
        let by_field: [&[u8; 4]; 5] = [b"win ", b"qem2", b"d2v ", b"CTXS", b"tap\0"];
        !by_field.contains(&&self.creator_app) && self.chs_sectors() != MAX_GEOMETRY_SECTORS
    }

    /// The virtual size in bytes, as qemu computes it (whole 512-byte sectors).
    pub fn virtual_size(&self) -> u64 {
        if self.size_from_geometry() {
            self.chs_sectors() * 512
        } else {
            self.current_size / 512 * 512
        }
    }

    pub fn subformat(&self) -> &'static str {
        match self.disk_type {
            TYPE_FIXED => "fixed",
            TYPE_DYNAMIC => "dynamic",
            TYPE_DIFFERENCING => "differencing",
            _ => "unknown",
        }
    }

    /// `qem2 (QEMU) 5.3`: the four-character code, who it is, and the major.minor version.
    pub fn creator(&self) -> String {
        let code: String = self
            .creator_app
            .iter()
            .map(|&c| {
                if c.is_ascii_graphic() || c == b' ' {
                    c as char
                } else {
                    '?'
                }
            })
            .collect();
        let who = match &self.creator_app {
            b"vpc " => Some("Virtual PC"),
            b"vs  " => Some("Virtual Server"),
            b"win " => Some("Windows / Hyper-V"),
            b"qemu" | b"qem2" => Some("QEMU"),
            b"d2v " => Some("Disk2vhd"),
            b"tap\0" => Some("XenServer"),
            b"CTXS" => Some("XenConverter"),
            b"vbox" => Some("VirtualBox"),
            _ => None,
        };
        let version = format!(
            "{}.{}",
            self.creator_version >> 16,
            self.creator_version & 0xffff
        );
        match who {
            Some(who) => format!("{} ({who}) {version}", code.trim_end()),
            None => format!("{} {version}", code.trim_end()),
        }
    }

    pub fn host_os(&self) -> String {
        match self.creator_os {
            0x5769_326b => "Windows (Wi2k)".to_string(),
            0x4d61_6320 => "Macintosh (Mac )".to_string(),
            other => format!("0x{other:08x}"),
        }
    }
}

/// The dynamic disk header (dynamic and differencing disks).
#[derive(Debug, Clone)]
pub struct DynHeader {
    pub table_offset: u64,
    pub header_version: u32,
    pub max_table_entries: u32,
    pub block_size: u32,
    pub checksum: u32,
    pub computed_checksum: u32,
    pub parent_uuid: [u8; 16],
    pub parent_name: String,
    pub locators: Vec<Locator>,
}

/// A parent locator entry (spec, "Parent Locator Entries").
#[derive(Debug, Clone, Copy)]
pub struct Locator {
    pub index: usize,
    pub code: u32,
    pub data_space: u32,
    pub data_length: u32,
    pub data_offset: u64,
}

impl Locator {
    pub fn code_name(&self) -> String {
        String::from_utf8_lossy(&self.code.to_be_bytes()).into_owned()
    }
}

pub fn is_dyn_header(b: &[u8]) -> bool {
    b.starts_with(DYN_COOKIE)
}

impl DynHeader {
    pub fn parse(b: &[u8; DYN_HEADER_LEN]) -> DynHeader {
        let mut parent_uuid = [0u8; 16];
        parent_uuid.copy_from_slice(&b[40..56]);
        // Parent Unicode Name: 512 bytes of UTF-16 big-endian, NUL-terminated if shorter.
        let units: Vec<u16> = b[64..576]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let parent_name = String::from_utf16_lossy(&units);
        let locators = (0..8)
            .map(|i| {
                let at = 576 + i * 24;
                Locator {
                    index: i,
                    code: be::u32(b, at),
                    data_space: be::u32(b, at + 4),
                    data_length: be::u32(b, at + 8),
                    data_offset: be::u64(b, at + 16),
                }
            })
            .filter(|l| l.code != 0)
            .collect();
        DynHeader {
            table_offset: be::u64(b, 16),
            header_version: be::u32(b, 24),
            max_table_entries: be::u32(b, 28),
            block_size: be::u32(b, 32),
            checksum: be::u32(b, DYN_CHECKSUM_AT),
            computed_checksum: checksum(b, DYN_CHECKSUM_AT),
            parent_uuid,
            parent_name,
            locators,
        }
    }

    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.computed_checksum
    }
}

/// Decode a locator's platform data: `W2ru`/`W2ku` are UTF-16 little-endian Windows paths,
/// `MacX` a UTF-8 file URL, the deprecated `Wi2r`/`Wi2k` and `Mac ` single-byte text.
pub fn decode_locator(code: u32, data: &[u8]) -> String {
    let text = match &code.to_be_bytes() {
        b"W2ru" | b"W2ku" => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    text.trim_end_matches('\0').to_string()
}

pub fn uuid_string(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_skips_its_own_field() {
        let mut b = [0u8; FOOTER_LEN];
        b[..8].copy_from_slice(FOOTER_COOKIE);
        let c = checksum(&b, FOOTER_CHECKSUM_AT);
        b[FOOTER_CHECKSUM_AT..FOOTER_CHECKSUM_AT + 4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&b, FOOTER_CHECKSUM_AT), c);
        assert!(Footer::parse(&b).checksum_ok());
    }

    #[test]
    fn size_rule_follows_the_creator() {
        let mut b = [0u8; FOOTER_LEN];
        b[..8].copy_from_slice(FOOTER_COOKIE);
        b[48..56].copy_from_slice(&(1000u64 << 20).to_be_bytes());
        b[56..58].copy_from_slice(&2032u16.to_be_bytes());
        b[58] = 16;
        b[59] = 63;
        b[28..32].copy_from_slice(b"vpc ");
        assert_eq!(Footer::parse(&b).virtual_size(), 2032 * 16 * 63 * 512);
        b[28..32].copy_from_slice(b"win ");
        assert_eq!(Footer::parse(&b).virtual_size(), 1000 << 20);
        // Maximum geometry: the field wins whoever the creator.
        b[28..32].copy_from_slice(b"vpc ");
        b[56..58].copy_from_slice(&65535u16.to_be_bytes());
        b[59] = 255;
        assert_eq!(Footer::parse(&b).virtual_size(), 1000 << 20);
    }

    #[test]
    fn locators_decode() {
        let utf16: Vec<u8> = ".\\base.vhd"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(
            decode_locator(u32::from_be_bytes(*b"W2ru"), &utf16),
            ".\\base.vhd"
        );
        assert_eq!(
            decode_locator(u32::from_be_bytes(*b"MacX"), b"file://base.vhd\0"),
            "file://base.vhd"
        );
    }
}
