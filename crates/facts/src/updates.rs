//! How fresh the image's software is, offline (REC-UPDATES): the default kernel's build date
//! (the date its version banner ends with) and the date of the last package operation the
//! package manager logged (`/var/log/dpkg.log`, `/var/log/dnf.rpm.log`).
//!
//! Dates are kept as `YYYY-MM-DD` text; comparing them with today is the caller's business
//! (there is no clock here: the CLI and the page pass the date in).

use crate::{Files, Provenance};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};

/// Package manager logs, newest format first. dpkg.log lines start `2024-02-01 10:00:01 …`;
/// dnf.rpm.log lines start `2024-02-01T10:00:01+0000 …` (ISO 8601).
const LOGS: [&str; 3] = [
    "/var/log/dpkg.log",
    "/var/log/dnf.rpm.log",
    "/var/log/zypp/history",
];

/// Logs bigger than this are read only this far (the last date seen so far counts).
const MAX_LOG: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdatesFact {
    /// The kernel's build date from its banner (`… (2024-02-01)`).
    pub kernel_build_date: Option<String>,
    /// The newest date of a package operation in a package manager log, and the log.
    pub last_package_operation: Option<(String, Provenance)>,
    pub warnings: Vec<String>,
}

/// `YYYY-MM-DD` at the start of `s`, when it is one.
fn leading_date(s: &str) -> Option<&str> {
    let d = s.get(..10)?;
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)).then_some(d)
}

/// The build date a kernel banner ends with: Debian `… Debian 6.1.76-1 (2024-02-01)`, the
/// x86 setup header's `… #1 SMP PREEMPT_DYNAMIC Thu Feb  1 10:00:00 UTC 2024` (month names).
pub fn banner_date(banner: &str) -> Option<String> {
    let trimmed = banner.trim_end();
    if let Some(open) = trimmed.rfind('(')
        && let Some(d) = leading_date(&trimmed[open + 1..])
    {
        return Some(d.to_string());
    }
    // `date`-style: "... Mon Jan 15 12:00:00 UTC 2024"
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let year: u32 = words.last()?.parse().ok()?;
    if !(1991..=9999).contains(&year) {
        return None;
    }
    let m = words.iter().rposition(|w| MONTHS.contains(w))?;
    let month = MONTHS.iter().position(|x| *x == words[m])? + 1;
    let day: u32 = words.get(m + 1)?.parse().ok()?;
    (1..=31)
        .contains(&day)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

pub fn gather(files: &dyn Files, kernel_banner: Option<&str>) -> UpdatesFact {
    let mut out = UpdatesFact {
        kernel_build_date: kernel_banner.and_then(banner_date),
        ..UpdatesFact::default()
    };
    for path in LOGS {
        let reader = match files.open(path, u64::MAX) {
            Ok(Some((_, r))) => r,
            Ok(None) => continue,
            Err(e) => {
                out.warnings.push(format!("{path}: {e}"));
                continue;
            }
        };
        let mut newest: Option<(String, u32)> = None;
        let mut read = 0u64;
        let mut lines = BufReader::new(reader.take(MAX_LOG));
        let mut line = Vec::new();
        let mut n = 0u32;
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(len) => read += len as u64,
                Err(e) => {
                    out.warnings.push(format!("{path}: {e}"));
                    break;
                }
            }
            n += 1;
            let text = String::from_utf8_lossy(&line);
            // zypp history: `2024-02-01 10:00:01|install|…`
            if let Some(d) = leading_date(&text)
                && newest.as_ref().is_none_or(|(x, _)| d >= x.as_str())
            {
                newest = Some((d.to_string(), n));
            }
        }
        if read >= MAX_LOG {
            out.warnings
                .push(format!("{path}: only its first {MAX_LOG} bytes were read"));
        }
        if let Some((d, line)) = newest
            && out
                .last_package_operation
                .as_ref()
                .is_none_or(|(x, _)| d > *x)
        {
            out.last_package_operation = Some((d, Provenance::line(path, line)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn banner_dates() {
        assert_eq!(
            banner_date("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)").as_deref(),
            Some("2024-02-01")
        );
        assert_eq!(
            banner_date("5.15.0-200.131.27.el9uek.x86_64 (mockbuild@host) #2 SMP Wed Nov 22 18:09:23 PST 2023").as_deref(),
            Some("2023-11-22")
        );
        assert_eq!(banner_date("6.1.0 (no date here)"), None);
    }

    #[test]
    fn newest_operation_across_logs() {
        let files = MemFiles::new()
            .with(
                "/var/log/dpkg.log",
                "2024-01-10 10:00:00 startup archives unpack\n2024-03-02 09:00:00 status installed curl:amd64 7.88\n2024-02-01 08:00:00 status installed x\n",
            )
            .with(
                "/var/log/dnf.rpm.log",
                "2023-12-01T10:00:00+0000 SUBDEBUG Installed: bash\n",
            );
        let u = gather(&files, None);
        assert_eq!(
            u.last_package_operation,
            Some((
                "2024-03-02".to_string(),
                Provenance::line("/var/log/dpkg.log", 2)
            ))
        );
    }
}
