//! Directory entries (fatgen103, "FAT Directory Structure" and "FAT Long Directory Entries"):
//! 32-byte short entries with 8.3 names, preceded by long-name entries holding UTF-16 pieces
//! in reverse order, tied to their short entry by a checksum of its 11-byte name.

use preflight_io::le;

pub const ATTR_READ_ONLY: u8 = 0x01;
pub const ATTR_VOLUME_ID: u8 = 0x08;
pub const ATTR_DIRECTORY: u8 = 0x10;
/// READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID: the attribute byte of a long-name entry.
const ATTR_LONG_NAME: u8 = 0x0F;
/// NTRes bits (as Windows NT and Linux use them): lower-case base name, lower-case extension.
const LOWER_BASE: u8 = 0x08;
const LOWER_EXT: u8 = 0x10;
/// A long name is at most 255 UTF-16 units, in at most 20 entries of 13.
const MAX_LFN_ENTRIES: u8 = 20;

/// One entry of a directory, as the kernel's vfat driver shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The long name if a valid one precedes the short entry, else the short name with the
    /// case flags applied.
    pub name: String,
    /// The 8.3 alias as stored (upper case, `BASE.EXT`), for case-insensitive lookups.
    pub short: String,
    pub attr: u8,
    pub cluster: u32,
    pub size: u32,
    /// Write date and time, local time taken as UTC.
    pub mtime: i64,
}

impl RawEntry {
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }
}

/// Long-name pieces gathered so far, waiting for their short entry.
#[derive(Default)]
struct Lfn {
    /// 13 UTF-16 units per entry, entry 1 first.
    units: Vec<u16>,
    checksum: u8,
    /// The ordinal expected next (counting down to 1); 0 when nothing is pending.
    expect: u8,
    complete: bool,
}

/// Parses a directory's bytes, fed in pieces (long-name sequences may span clusters).
#[derive(Default)]
pub struct Parser {
    lfn: Lfn,
    pub entries: Vec<RawEntry>,
    /// The first volume-label entry seen (meaningful in the root directory).
    pub label: Option<[u8; 11]>,
    pub ended: bool,
    fat32: bool,
}

impl Parser {
    pub fn new(fat32: bool) -> Parser {
        Parser {
            fat32,
            ..Parser::default()
        }
    }

    /// Feed whole 32-byte entries; stops at the end marker (a first byte of 0).
    pub fn feed(&mut self, buf: &[u8]) {
        for e in buf.chunks_exact(32) {
            if self.ended {
                return;
            }
            self.entry(e);
        }
    }

    fn entry(&mut self, e: &[u8]) {
        let first = e[0];
        let attr = e[11];
        if first == 0x00 {
            self.ended = true;
            return;
        }
        if first == 0xE5 {
            self.lfn = Lfn::default();
            return;
        }
        if attr & 0x3F == ATTR_LONG_NAME {
            self.long_entry(e);
            return;
        }
        let mut name11 = [0u8; 11];
        name11.copy_from_slice(&e[..11]);
        let lfn = std::mem::take(&mut self.lfn);
        if attr & ATTR_VOLUME_ID != 0 && attr & ATTR_DIRECTORY == 0 {
            if self.label.is_none() {
                self.label = Some(name11);
            }
            return;
        }
        if name11 == *b".          " || name11 == *b"..         " {
            return;
        }
        if first == 0x05 {
            name11[0] = 0xE5; // KANJI lead byte 0xE5 stored as 0x05
        }
        let nt = e[12];
        let (base, ext) = name11.split_at(8);
        let base = trim_spaces(base);
        let ext = trim_spaces(ext);
        let short = join(&cp437(base, false), &cp437(ext, false));
        let long = (lfn.complete && lfn.checksum == checksum(&e[..11]))
            .then(|| decode_long(&lfn.units))
            .flatten();
        let name = long.unwrap_or_else(|| {
            join(
                &cp437(base, nt & LOWER_BASE != 0),
                &cp437(ext, nt & LOWER_EXT != 0),
            )
        });
        let hi = if self.fat32 {
            u32::from(le::u16(e, 20)) << 16
        } else {
            0
        };
        self.entries.push(RawEntry {
            name,
            short,
            attr,
            cluster: hi | u32::from(le::u16(e, 26)),
            size: le::u32(e, 28),
            mtime: fat_time(le::u16(e, 24), le::u16(e, 22)),
        });
    }

    fn long_entry(&mut self, e: &[u8]) {
        let ord = e[0];
        let n = ord & 0x3F;
        let sum = e[13];
        if ord & 0x40 != 0 {
            // The last piece of the name comes first.
            if n == 0 || n > MAX_LFN_ENTRIES {
                self.lfn = Lfn::default();
                return;
            }
            self.lfn = Lfn {
                units: vec![0xFFFF; usize::from(n) * 13],
                checksum: sum,
                expect: n,
                complete: false,
            };
        } else if self.lfn.expect == 0
            || self.lfn.complete
            || n != self.lfn.expect
            || sum != self.lfn.checksum
        {
            self.lfn = Lfn::default();
            return;
        }
        let at = usize::from(n - 1) * 13;
        let mut units = [0u16; 13];
        for (i, off) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
            .into_iter()
            .enumerate()
        {
            units[i] = le::u16(e, off);
        }
        if let Some(dst) = self.lfn.units.get_mut(at..at + 13) {
            dst.copy_from_slice(&units);
        }
        self.lfn.expect = n - 1;
        self.lfn.complete = n == 1;
    }
}

fn trim_spaces(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    &b[..end]
}

fn join(base: &str, ext: &str) -> String {
    if ext.is_empty() {
        base.to_string()
    } else {
        format!("{base}.{ext}")
    }
}

/// The checksum of an 11-byte short name (fatgen103, "ChkSum"): rotate right, add.
pub fn checksum(name: &[u8]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &c| sum.rotate_right(1).wrapping_add(c))
}

/// A long name from its UTF-16 units: up to the first NUL (the 0xFFFF padding after it is
/// ignored); unpaired surrogates become U+FFFD. An empty name is no name.
fn decode_long(units: &[u16]) -> Option<String> {
    let end = units.iter().position(|&u| u == 0).unwrap_or_else(|| {
        units
            .iter()
            .rposition(|&u| u != 0xFFFF)
            .map_or(0, |i| i + 1)
    });
    let units = &units[..end];
    if units.is_empty() {
        return None;
    }
    Some(
        char::decode_utf16(units.iter().copied())
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Short-name bytes in code page 437 (the kernel's default `codepage=437`), optionally
/// lower-cased as the NTRes case flags ask (ASCII letters only, as the kernel does).
fn cp437(bytes: &[u8], lower: bool) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b < 0x80 {
                let c = b as char;
                if lower { c.to_ascii_lowercase() } else { c }
            } else {
                CP437_HIGH[usize::from(b - 0x80)]
            }
        })
        .collect()
}

/// Code page 437, bytes 0x80..=0xFF.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}', //
];

/// Seconds since the epoch of a FAT date and time (fatgen103, "Date and Time Formats": date
/// bits 15-9 years since 1980, 8-5 month, 4-0 day; time bits 15-11 hours, 10-5 minutes, 4-0
/// two-second units), read as UTC. Out-of-range fields are not rejected: like the kernel,
/// month and day 0 count as 1, and the arithmetic simply runs on (a month above 12 counts no
/// days before it).
pub fn fat_time(date: u16, time: u16) -> i64 {
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 0x0F).max(1);
    let day = i64::from(date & 0x1F).max(1);
    let days_before_month = if month <= 12 {
        const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        CUM[(month - 1) as usize] + i64::from(leap && month > 2)
    } else {
        0
    };
    let days = days_from_civil_jan1(year) + days_before_month + day - 1;
    let secs = i64::from(time >> 11) * 3600
        + i64::from((time >> 5) & 0x3F) * 60
        + i64::from(time & 0x1F) * 2;
    days * 86_400 + secs
}

/// Days from 1970-01-01 to January 1st of `year` (proleptic Gregorian).
fn days_from_civil_jan1(year: i64) -> i64 {
    let y = year - 1;
    365 * (year - 1970) + (y / 4 - y / 100 + y / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_known_dates() {
        // 2024-02-01 00:00:00
        assert_eq!(fat_time((44 << 9) | (2 << 5) | 1, 0), 1_706_745_600);
        // 1980-01-01 00:00:00
        assert_eq!(fat_time((1 << 5) | 1, 0), 315_532_800);
        // 2000-03-01 12:34:56 (after a leap day)
        assert_eq!(
            fat_time((20 << 9) | (3 << 5) | 1, (12 << 11) | (34 << 5) | 28),
            951_914_096
        );
        // Zero date: month and day count as 1.
        assert_eq!(fat_time(0, 0), 315_532_800);
    }

    #[test]
    fn checksum_of_a_known_name() {
        // Any rotation-add fold: check against a hand computation for "A          ".
        let mut sum = 0u8;
        for &c in b"A          " {
            sum = (if sum & 1 != 0 { 0x80 } else { 0 } + (sum >> 1)).wrapping_add(c);
        }
        assert_eq!(checksum(b"A          "), sum);
    }

    fn short(name: &[u8; 11], attr: u8, nt: u8) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[11] = attr;
        e[12] = nt;
        e
    }

    fn long(ord: u8, sum: u8, text: &[u16]) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[0] = ord;
        e[11] = ATTR_LONG_NAME;
        e[13] = sum;
        for (i, off) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
            .into_iter()
            .enumerate()
        {
            let u = text
                .get(i)
                .copied()
                .unwrap_or(if i == text.len() { 0 } else { 0xFFFF });
            e[off..off + 2].copy_from_slice(&u.to_le_bytes());
        }
        e
    }

    #[test]
    fn long_names_case_flags_and_bad_checksums() {
        let name = *b"LONGNA~1TXT";
        let sum = checksum(&name);
        let text: Vec<u16> = "a 日本 😀 name.txt".encode_utf16().collect();
        let mut buf = Vec::new();
        buf.extend(long(0x42, sum, &text[13..]));
        buf.extend(long(0x01, sum, &text[..13]));
        buf.extend(short(&name, 0x20, 0));
        // A long name with a wrong checksum: the short name (lower-cased by its flags) wins.
        buf.extend(long(
            0x41,
            sum ^ 1,
            &"ignored".encode_utf16().collect::<Vec<_>>(),
        ));
        buf.extend(short(b"README  TXT", 0x20, LOWER_BASE));
        buf.extend(short(b"MIXED   TXT", 0x20, LOWER_EXT));
        let mut deleted = short(b"GONE    TXT", 0x20, 0);
        deleted[0] = 0xE5;
        buf.extend(deleted);
        buf.extend(short(b"MYLABEL    ", ATTR_VOLUME_ID, 0));
        buf.extend(short(b".          ", ATTR_DIRECTORY, 0));
        buf.extend([0u8; 32]);
        buf.extend(short(b"AFTEREND   ", 0x20, 0));
        let mut p = Parser::new(true);
        p.feed(&buf);
        let names: Vec<_> = p.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a 日本 😀 name.txt", "readme.TXT", "MIXED.txt"]);
        assert_eq!(p.entries[0].short, "LONGNA~1.TXT");
        assert_eq!(p.label, Some(*b"MYLABEL    "));
        assert!(p.ended);
    }
}
