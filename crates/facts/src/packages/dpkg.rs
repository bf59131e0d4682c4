//! dpkg's database of installed packages, `/var/lib/dpkg/status` (dpkg(1) "FILES",
//! deb-control(5)/deb822(5) syntax): stanzas of `Field: value` lines separated by blank lines,
//! continuation lines starting with a space or tab.
//!
//! A package is installed when the third word of `Status` (want, flag, status) is
//! `installed`, or `triggers-awaiting`/`triggers-pending` (unpacked and configured, with
//! triggers still to run): so `hold ok installed` counts, `deinstall ok config-files` (removed,
//! configuration kept) does not. dpkg records no install time in this file, so
//! `install_time` stays empty (the mtime of `/var/lib/dpkg/info/<pkg>.list` would be a guess,
//! and is not used). `status-old` is dpkg's backup of the previous state and is ignored.

use super::Package;
use crate::Provenance;

/// Fields one stanza may carry before we stop reading it.
/// Warnings kept per file.
const MAX_WARNINGS: usize = 100;
const MAX_FIELDS: usize = 256;

/// Whether a `Status` value means the package's files are on disk and configured.
pub fn status_installed(status: &str) -> bool {
    let mut w = status.split_ascii_whitespace();
    let (_want, _flag, state) = (w.next(), w.next(), w.next());
    matches!(
        state,
        Some("installed" | "triggers-awaiting" | "triggers-pending")
    )
}

/// Parse a status file: installed packages in file order, and warnings.
pub fn parse(text: &str, path: &str) -> (Vec<Package>, Vec<String>) {
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut fields: Vec<(&str, String, u32)> = Vec::new();
    let mut start = 0u32;
    let finish = |fields: &mut Vec<(&str, String, u32)>,
                  start: u32,
                  packages: &mut Vec<Package>,
                  warnings: &mut Vec<String>| {
        if fields.is_empty() {
            return;
        }
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v, line)| (v.as_str(), *line))
        };
        match (get("Package"), get("Status")) {
            (Some((name, line)), Some((status, _))) if status_installed(status) => {
                match get("Version") {
                    Some((version, _)) => packages.push(Package {
                        name: name.to_string(),
                        version: version.to_string(),
                        arch: get("Architecture").map(|(a, _)| a.to_string()),
                        install_time: None,
                        build_time: None,
                        vendor: None,
                        source: get("Source")
                            .and_then(|(s, _)| s.split_whitespace().next())
                            .map(str::to_string),
                        provenance: Provenance::line(path, line),
                    }),
                    None => warn(
                        warnings,
                        format!("{path}:{line}: installed package {name} has no Version"),
                    ),
                }
            }
            (None, _) => warn(warnings, format!("{path}:{start}: stanza without Package")),
            _ => {}
        }
        fields.clear();
    };
    let mut overflowed = false;
    for (n, line) in text.lines().enumerate() {
        let lineno = u32::try_from(n + 1).unwrap_or(u32::MAX);
        if line.trim().is_empty() {
            finish(&mut fields, start, &mut packages, &mut warnings);
            overflowed = false;
            continue;
        }
        if fields.is_empty() {
            start = lineno;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation: only descriptions and conffiles use them; values we read are
            // single-line, so keep nothing.
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            warn(
                &mut warnings,
                format!("{path}:{lineno}: not a `Field: value` line"),
            );
            continue;
        };
        if fields.len() >= MAX_FIELDS {
            if !overflowed {
                warn(
                    &mut warnings,
                    format!("{path}:{lineno}: more than {MAX_FIELDS} fields in one stanza"),
                );
                overflowed = true;
            }
            continue;
        }
        fields.push((k.trim(), v.trim().to_string(), lineno));
    }
    finish(&mut fields, start, &mut packages, &mut warnings);
    (packages, warnings)
}

/// Keep at most `MAX_WARNINGS` warnings, then one line saying more were dropped.
fn warn(list: &mut Vec<String>, w: String) {
    match list.len() {
        n if n < MAX_WARNINGS => list.push(w),
        n if n == MAX_WARNINGS => list.push("further problems not listed".to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\nSource: a-src (2.0-1)\nDescription: x\n more\n\n\
                    Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: c\nStatus: hold ok installed\nVersion: 3\nArchitecture: all\n\n\
                    Status: install ok installed\n\n\
                    Package: d\nStatus: install ok installed\n";
        let (p, w) = parse(text, "/var/lib/dpkg/status");
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["a", "c"]);
        assert_eq!(p[0].version, "1:2.0-1");
        assert_eq!(p[0].source.as_deref(), Some("a-src"));
        assert_eq!(p[0].provenance.line, Some(1));
        assert_eq!(p[1].provenance.line, Some(13));
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
