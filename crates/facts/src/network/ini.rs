//! The INI dialects of NetworkManager keyfiles (GLib `GKeyFile`) and systemd unit files.

use super::{MAX_FILE, line_no};

/// One `key=value` line, in the section it stands in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub section: String,
    pub key: String,
    pub value: String,
    /// 1-based line of the key (the first line of a continued value).
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// GKeyFile: `#` comments, no continuation lines, `\s \n \t \r \\` escapes in values.
    KeyFile,
    /// systemd.syntax(7): `#` and `;` comments, a trailing backslash continues the line.
    Systemd,
}

/// Most entries kept per file (real files have tens).
const MAX_ENTRIES: usize = 8192;

/// The entries of a file, in order, and the malformed lines (1-based line, text).
pub(crate) fn parse(text: &str, dialect: Dialect) -> (Vec<Entry>, Vec<(u32, String)>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    let mut section = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() && entries.len() < MAX_ENTRIES {
        let start = i;
        let mut line = lines[i].trim().to_string();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if dialect == Dialect::Systemd {
            if line.starts_with(';') {
                continue;
            }
            // Continuation lines; comment lines inside a continued value are skipped.
            while line.ends_with('\\') && i < lines.len() && line.len() as u64 <= MAX_FILE {
                let next = lines[i].trim();
                i += 1;
                if next.starts_with('#') || next.starts_with(';') {
                    continue;
                }
                line.pop();
                line.push(' ');
                line.push_str(next);
            }
            if line.ends_with('\\') {
                line.pop();
            }
        }
        if let Some(rest) = line.strip_prefix('[') {
            match rest.strip_suffix(']') {
                Some(name) => section = name.trim().to_string(),
                None => bad.push((line_no(start), line.clone())),
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bad.push((line_no(start), line.clone()));
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            bad.push((line_no(start), line.clone()));
            continue;
        }
        let value = value.trim();
        let value = match dialect {
            Dialect::KeyFile => unescape_keyfile(value),
            Dialect::Systemd => value.to_string(),
        };
        entries.push(Entry {
            section: section.clone(),
            key: key.to_string(),
            value,
            line: line_no(start),
        });
    }
    (entries, bad)
}

/// GKeyFile value escapes.
fn unescape_keyfile(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A systemd boolean (`parse_boolean()`): `Some(true)` for 1/yes/y/true/t/on.
pub(crate) fn systemd_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_continuations() {
        let text = "# c\n[Match]\nName=en*\n; c\n[Network]\nAddress=10.0.0.2/24 \\\n# skipped\n  10.0.0.3/24\nbroken\n[Link\n";
        let (e, bad) = parse(text, Dialect::Systemd);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[1].section.as_str(), e[1].value.as_str(), e[1].line),
            ("Network", "10.0.0.2/24  10.0.0.3/24", 6)
        );
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![9, 10]);
        let (e, _) = parse("[connection]\nid=a\\sb\\\\\n", Dialect::KeyFile);
        assert_eq!(e[0].value, "a b\\");
    }
}
