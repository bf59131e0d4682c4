//! udev persistent-net rules: `/etc/udev/rules.d/*persistent-net*.rules`.
//!
//! Old udev (RHEL 6, Debian before 9) wrote `70-persistent-net.rules` binding each NIC's MAC
//! to a name; an image that keeps the file renames the cloud's new NIC away from `eth0`.
//! Every `ATTR{address}==` / `ATTRS{address}==` match whose value is a MAC (or a MAC
//! pattern, not `?*`) is reported. Comment lines are skipped; a trailing backslash joins the
//! next line, as udev does.

use super::{Ctx, MAX_VALUES, line_no, looks_like_mac};
use crate::Provenance;

const GLOB: &str = "/etc/udev/rules.d/*persistent-net*.rules";

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    for path in ctx.glob(GLOB) {
        if let Ok(Some(target)) = ctx.files.read_link(&path)
            && target == "/dev/null"
        {
            continue;
        }
        let Some(text) = ctx.read_text(&path) else {
            continue;
        };
        for (mac, line) in bindings(&text) {
            if ctx.fact.persistent_net_rules.len() < MAX_VALUES {
                ctx.fact
                    .persistent_net_rules
                    .push((mac, Provenance::line(path.as_str(), line)));
            }
        }
    }
}

/// The MACs matched by `ATTR{address}==` in a rules file, with their lines.
pub fn bindings(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut line) = match pending.take() {
            Some((s, mut acc)) => {
                acc.push_str(raw.trim_start());
                (s, acc)
            }
            None => (line_no(i), raw.trim_start().to_string()),
        };
        if line.ends_with('\\') {
            line.pop();
            pending = Some((start, line));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        scan(&line, start, &mut out);
        if out.len() >= MAX_VALUES {
            break;
        }
    }
    if let Some((s, line)) = pending {
        scan(&line, s, &mut out);
    }
    out
}

fn scan(line: &str, at: u32, out: &mut Vec<(String, u32)>) {
    for key in line.split(',') {
        let key = key.trim();
        let Some((lhs, rhs)) = key.split_once("==") else {
            continue;
        };
        let lhs = lhs.trim();
        if lhs != "ATTR{address}" && lhs != "ATTRS{address}" {
            continue;
        }
        let value = rhs.trim().trim_matches('"');
        // `|` separates alternatives in udev match values.
        for alt in value.split('|') {
            if looks_like_mac(alt) && out.len() < MAX_VALUES {
                out.push((alt.to_string(), at));
            }
        }
    }
}
