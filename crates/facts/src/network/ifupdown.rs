//! Debian ifupdown: `/etc/network/interfaces` (interfaces(5)) and the files it includes.
//!
//! - A line whose first non-blank character is `#` is a comment; a trailing backslash joins
//!   the next line.
//! - `iface NAME FAMILY METHOD` starts a stanza; the indented option lines that follow belong
//!   to it (`address`, `hwaddress [ether] MAC`, ...). `inet dhcp` is DHCP, `inet static`
//!   static, `inet manual` leaves the interface unconfigured; `inet6` stanzas give
//!   [`Method::Other`]`("inet6 METHOD")`. The loopback stanza is skipped.
//! - `auto NAME...` and `allow-CLASS NAME...` (`allow-hotplug`) bring interfaces up at boot;
//!   an interface without either is not brought up by ifupdown.
//! - `source PATTERN` includes the files a glob matches; `source-directory DIR` includes the
//!   files of DIR whose names consist of letters, digits, `_` and `-` (run-parts names).
//!   Relative paths are relative to the directory of the file that holds the line (as
//!   ifupdown 0.8 does). Includes are read where they stand, at most 16 deep and 512 files;
//!   a file including itself (directly or not) is warned about and not read again.

use super::{Ctx, IfaceConfig, Method, System, line_no, looks_like_mac};
use crate::Provenance;

pub const MAIN: &str = "/etc/network/interfaces";
const MAX_DEPTH: usize = 16;

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    let mut state = State::default();
    read_file(ctx, &mut state, MAIN, 0);
    let State {
        mut configs, autos, ..
    } = state;
    for c in &mut configs {
        let name = c.interface.clone().unwrap_or_default();
        c.auto_start = Some(match autos.iter().find(|(n, _)| *n == name) {
            Some((_, at)) => (true, at.clone()),
            None => (false, c.source.clone()),
        });
    }
    for c in configs {
        ctx.push(c);
    }
}

#[derive(Default)]
struct State {
    configs: Vec<IfaceConfig>,
    /// Interfaces named by `auto` / `allow-*` and where.
    autos: Vec<(String, Provenance)>,
    /// The include chain being read (for loop detection).
    stack: Vec<String>,
    files_read: usize,
    /// The files read, in order.
    files: Vec<String>,
}

/// The files ifupdown reads, in order, starting from [`MAIN`] (for cross-checks with
/// `ifquery -v`).
pub fn files_read(files: &dyn crate::Files) -> Vec<String> {
    let mut ctx = Ctx {
        files,
        fact: Default::default(),
    };
    let mut state = State::default();
    read_file(&mut ctx, &mut state, MAIN, 0);
    state.files
}

fn read_file(ctx: &mut Ctx<'_>, st: &mut State, path: &str, depth: usize) {
    if st.stack.iter().any(|p| p == path) {
        ctx.warn(format!(
            "{path}: included again from {}; ifupdown would loop, not read again",
            st.stack.last().map_or("", String::as_str)
        ));
        return;
    }
    if depth > MAX_DEPTH || st.files_read >= super::MAX_FILES {
        ctx.warn(format!(
            "{path}: not read: more than {MAX_DEPTH} nested includes or {} files",
            super::MAX_FILES
        ));
        return;
    }
    let Some(text) = ctx.read_text(path) else {
        if depth == 0 {
            return;
        }
        // ifupdown skips a `source` glob that matches nothing; a named file that is missing
        // is reported by ifupdown too.
        ctx.warn(format!("{path}: included but not found"));
        return;
    };
    st.files_read += 1;
    st.files.push(path.to_string());
    st.stack.push(path.to_string());
    let dir = match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    };
    // Index into st.configs of the stanza the option lines belong to.
    let mut current: Option<usize> = None;
    for (line, words) in logical_lines(&text) {
        let at = Provenance::line(path, line);
        let Some(first) = words.first() else {
            continue;
        };
        match first.as_str() {
            "iface" => {
                current = None;
                let [_, name, family, method, ..] = words.as_slice() else {
                    ctx.warn(format!("{at}: iface line without name, family and method"));
                    continue;
                };
                if family == "inet" && method == "loopback" {
                    continue;
                }
                let mut c = IfaceConfig::new(System::Ifupdown, at.clone());
                c.interface = Some(name.clone());
                let m = match (family.as_str(), method.as_str()) {
                    ("inet", "dhcp" | "bootp") => Method::Dhcp,
                    ("inet", "static") => Method::Static,
                    ("inet", m) => Method::Other(m.to_string()),
                    (f, m) => Method::Other(format!("{f} {m}")),
                };
                c.set_method(m, at);
                if st.configs.len() < super::MAX_CONFIGS {
                    st.configs.push(c);
                    current = Some(st.configs.len() - 1);
                }
            }
            "auto" | "mapping" | "rename" | "no-auto-down" | "no-scripts" => {
                current = None;
                if first == "auto" {
                    add_autos(st, &words[1..], &at);
                }
            }
            w if w.starts_with("allow-") => {
                current = None;
                add_autos(st, &words[1..], &at);
            }
            "source" | "source-directory" => {
                current = None;
                let Some(arg) = words.get(1) else {
                    ctx.warn(format!("{at}: {first} without a path"));
                    continue;
                };
                let full = if arg.starts_with('/') {
                    normalize(arg)
                } else {
                    normalize(&format!("{dir}/{arg}"))
                };
                let paths = if first == "source" {
                    ctx.glob(&full)
                } else {
                    ctx.list_files(&full)
                        .into_iter()
                        .filter(|n| {
                            n.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        })
                        .map(|n| format!("{}/{n}", full.trim_end_matches('/')))
                        .collect()
                };
                for p in paths {
                    read_file(ctx, st, &p, depth + 1);
                }
            }
            option => {
                let Some(c) = current.and_then(|i| st.configs.get_mut(i)) else {
                    // An option of a skipped stanza (loopback, mapping) or a misplaced one.
                    continue;
                };
                match option {
                    "address" => {
                        if let Some(a) = words.get(1) {
                            c.add_address(a, at);
                        }
                    }
                    "hwaddress" => {
                        if let Some(mac) = words[1..].iter().rev().find(|w| looks_like_mac(w)) {
                            c.add_mac(mac, at);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    st.stack.pop();
}

fn add_autos(st: &mut State, names: &[String], at: &Provenance) {
    for n in names {
        if st.autos.len() < super::MAX_CONFIGS {
            st.autos.push((n.clone(), at.clone()));
        }
    }
}

/// The file's logical lines (continuations joined, comments and blank lines dropped) as
/// words, with the line each starts on.
fn logical_lines(text: &str) -> Vec<(u32, Vec<String>)> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut line) = match pending.take() {
            Some((s, mut acc)) => {
                acc.push(' ');
                acc.push_str(raw);
                (s, acc)
            }
            None => {
                if raw.trim_start().starts_with('#') {
                    continue;
                }
                (line_no(i), raw.to_string())
            }
        };
        if line.ends_with('\\') {
            line.pop();
            pending = Some((start, line));
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        if !words.is_empty() {
            out.push((start, words));
        }
    }
    if let Some((s, line)) = pending {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        if !words.is_empty() {
            out.push((s, words));
        }
    }
    out
}

/// `.` and `..` removed lexically, so a file reached by two spellings is one file.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}
