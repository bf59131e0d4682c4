//! Kernel version numbers and the order of version strings.

use serde::Serialize;
use std::cmp::Ordering;

/// The numeric part of a kernel release string: "6.1.0-18-amd64" → 6.1.0,
/// "3.10.0-1160.el7.x86_64" → 3.10.0, "2.6.32-754.el6.x86_64" → 2.6.32.
/// Ordered by (major, minor, patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    /// The leading `major.minor[.patch]` digits; `None` without at least `major.minor`
    /// ("linux", "0-rescue-…") or when a number does not fit in u32.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        fn number(s: &str) -> Option<(u32, &str)> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, rest) = s.split_at(end);
            Some((digits.parse().ok()?, rest))
        }
        let (major, rest) = number(s)?;
        let (minor, rest) = number(rest.strip_prefix('.')?)?;
        let patch = rest
            .strip_prefix('.')
            .and_then(number)
            .map_or(0, |(p, _)| p);
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

/// Compare strings with digit runs compared as numbers ("5.14.0-162" > "5.14.0-70"), of any
/// length and without parsing them, so no overflow.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    /// The leading digit run without its leading zeros, and the rest.
    fn digits(s: &[u8]) -> (&[u8], &[u8]) {
        let end = s
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(s.len());
        let (d, rest) = s.split_at(end);
        let first = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
        (d.split_at(first).1, rest)
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        let (x, y) = match (a.split_first(), b.split_first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => (x, y),
        };
        let ((cx, ra), (cy, rb)) = (x, y);
        let order = if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (da, ra) = digits(a);
            let (db, rb) = digits(b);
            (a, b) = (ra, rb);
            da.len().cmp(&db.len()).then_with(|| da.cmp(db))
        } else {
            (a, b) = (ra, rb);
            cx.cmp(cy)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        for (s, want) in [
            ("6.1.0-18-amd64", Some((6, 1, 0))),
            ("3.10.0-1160.el7.x86_64", Some((3, 10, 0))),
            ("2.6.32-754.el6.x86_64", Some((2, 6, 32))),
            ("5.15.0-1051-oracle", Some((5, 15, 0))),
            ("6.7.4-arch1-1", Some((6, 7, 4))),
            ("4.19", Some((4, 19, 0))),
            ("5.4.", Some((5, 4, 0))),
            ("linux", None),
            ("0-rescue-0123abcd", None),
            ("6", None),
            ("", None),
            ("99999999999.1.1", None),
        ] {
            let got = KernelVersion::parse(s).map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn natural_ordering() {
        assert_eq!(
            natural_cmp("5.14.0-162.el9", "5.14.0-70.el9"),
            Ordering::Greater
        );
        assert_eq!(natural_cmp("a007", "a7"), Ordering::Equal);
        assert_eq!(
            natural_cmp("6.1.0-18-amd64", "6.1.0-18-cloud-amd64"),
            Ordering::Less
        );
        assert_eq!(natural_cmp("", "x"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(natural_cmp(&"1".repeat(100), "9"), Ordering::Greater);
    }
}
