//! Version ordering as the package managers define it, so a rule can say "cloud-init ≥ 20.3".
//!
//! - RPM: `rpmvercmp` (rpm.org, "Package version comparison"; rpm's `rpmvercmp.c` behaviour):
//!   both strings are cut into runs of digits or of ASCII letters, everything else separates;
//!   `~` sorts before anything, even the end; `^` sorts after the end but before anything
//!   else; numeric runs compare as numbers (leading zeros ignored), beat alphabetic runs, and
//!   alphabetic runs compare as bytes; the longer string wins when all shared runs are equal.
//!   An EVR (`[epoch:]version[-release]`) compares the epoch (absent = 0), then the version,
//!   then the release, a missing release sorting before any (rpm 4.18's `rpmverCmp`, what
//!   its Lua `rpm.vercmp` does). So "20.3" ≤ "20.3-1.el9": an installed package, which always
//!   has a release, is at least a bare version equal to its own.
//! - dpkg: deb-version(7): `[epoch:]upstream[-revision]`; the epoch is a number; the other
//!   parts compare alternately a non-digit run (letters sort before non-letters, `~` before
//!   everything including the end) and a digit run (numerically).
//!
//! Both are total functions on any input: no panic, linear time.

use std::cmp::Ordering;

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// rpm's `rpmvercmp` on two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    while i < a.len() || j < b.len() {
        while i < a.len() && !is_alnum(a[i]) && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !is_alnum(b[j]) && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == b'^' || cb == b'^' {
            if i >= a.len() {
                return Ordering::Less;
            }
            if j >= b.len() {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let numeric = ca.is_ascii_digit();
        let run = |s: &[u8], k: usize| {
            let mut e = k;
            while e < s.len()
                && (if numeric {
                    s[e].is_ascii_digit()
                } else {
                    s[e].is_ascii_alphabetic()
                })
            {
                e += 1;
            }
            e
        };
        let (ea, eb) = (run(a, i), run(b, j));
        // `a` always has a run here (it starts at an alphanumeric of the right class).
        if eb == j {
            // Different classes: a number beats letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[i..ea], &b[j..eb]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An RPM `[epoch:]version[-release]`, split as rpm's `rpmverParse` does: the epoch is the
/// leading digits before a `:`, the release follows the last `-`.
fn split_evr(s: &str) -> (Option<&str>, &str, Option<&str>) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if s.as_bytes().get(digits) == Some(&b':') {
        let e = &s[..digits];
        (Some(if e.is_empty() { "0" } else { e }), &s[digits + 1..])
    } else {
        (None, s)
    };
    match rest.rfind('-') {
        Some(k) => (epoch, &rest[..k], Some(&rest[k + 1..])),
        None => (epoch, rest, None),
    }
}

/// Compare two RPM EVRs as rpm's `rpmverCmp` (and Lua `rpm.vercmp`) do.
pub fn rpm_evr_cmp(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    rpmvercmp(ea.unwrap_or("0"), eb.unwrap_or("0"))
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        })
}

/// dpkg's character weight in a non-digit run: `~` first, then the end, letters, the rest.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on an upstream version or a revision.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (oa, ob) = (dpkg_order(a.get(i).copied()), dpkg_order(b.get(j).copied()));
            if oa != ob {
                return oa.cmp(&ob);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A Debian version `[epoch:]upstream[-revision]` as dpkg parses it.
fn split_deb(s: &str) -> (u64, &str, &str) {
    let s = s.trim();
    let (epoch, rest) = match s.find(':') {
        Some(k) => (
            s[..k]
                .bytes()
                .try_fold(0u64, |n, c| {
                    c.is_ascii_digit()
                        .then(|| n.saturating_mul(10).saturating_add(u64::from(c - b'0')))
                })
                .unwrap_or(0),
            &s[k + 1..],
        ),
        None => (0, s),
    };
    match rest.rfind('-') {
        Some(k) => (epoch, &rest[..k], &rest[k + 1..]),
        None => (epoch, rest, ""),
    }
}

/// Compare two Debian versions as `dpkg --compare-versions` does.
pub fn dpkg_version_cmp(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_deb(a);
    let (eb, ub, rb) = split_deb(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpm_cases() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("a", "1", Less),
            ("010", "10", Equal),
            ("1_0", "1.0", Equal),
            ("", "", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
        assert_eq!(rpm_evr_cmp("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(rpm_evr_cmp("0:23.4-7.el9", "20.3"), Greater);
        assert_eq!(rpm_evr_cmp("1.0-1", "1.0"), Greater);
    }

    #[test]
    fn dpkg_cases() {
        for (a, b, want) in [
            ("1.0", "1.0-0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0", "1.0.0", Less),
            ("2.30-1", "2.4-1", Greater),
        ] {
            assert_eq!(dpkg_version_cmp(a, b), want, "{a} vs {b}");
        }
    }
}
