//! ifcfg files: RHEL / Oracle Linux (`/etc/sysconfig/network-scripts/ifcfg-*`, read by
//! initscripts and NetworkManager's ifcfg-rh plugin) and SUSE wicked
//! (`/etc/sysconfig/network/ifcfg-*`).
//!
//! Both are shell variable assignments (`KEY=value`, `KEY="value"`, `KEY='value'`); the last
//! assignment of a key wins, as when the file is sourced. `ifcfg-lo` and backup files
//! (`*.bak`, `*.rpmsave`, `*~`...) are skipped as the tools skip them.
//!
//! - RHEL: `DEVICE=` names the interface (else the file name's suffix); `BOOTPROTO=dhcp|bootp`
//!   is DHCP; `none`/`static` (or no BOOTPROTO) with `IPADDR`/`IPADDRn` is static, without an
//!   address NetworkManager's ifcfg-rh reader leaves IPv4 disabled; `HWADDR=` binds the profile to a MAC and
//!   `MACADDR=` sets one; `ONBOOT=yes|no`.
//! - wicked (ifcfg(5)): the file name's suffix names the interface; `BOOTPROTO='dhcp'`,
//!   `'dhcp4'`, `'dhcp+autoip'` are DHCP, `'static'` (the default) with `IPADDR`/`IPADDR_*` is
//!   static, `'none'` is no IP configuration; `LLADDR=` sets the MAC; `STARTMODE=`.

use super::{Ctx, IfaceConfig, Method, System, file_name, is_backup_name, line_no};
use crate::Provenance;
use std::collections::BTreeMap;

const RHEL_GLOB: &str = "/etc/sysconfig/network-scripts/ifcfg-*";
const SUSE_GLOB: &str = "/etc/sysconfig/network/ifcfg-*";

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    for (system, pattern) in [(System::Ifcfg, RHEL_GLOB), (System::Wicked, SUSE_GLOB)] {
        for path in ctx.glob(pattern) {
            let name = file_name(&path);
            let suffix = name.strip_prefix("ifcfg-").unwrap_or(name);
            if suffix == "lo" || is_backup_name(name) {
                continue;
            }
            let Some(text) = ctx.read_text(&path) else {
                continue;
            };
            let (vars, bad) = parse(&text);
            for (line, why) in bad {
                ctx.warn(format!("{path}:{line}: {why}; the line is ignored"));
            }
            ctx.push(config(system, &path, suffix, &vars));
        }
    }
}

/// A variable's value and its 1-based line.
pub type Vars = BTreeMap<String, (String, u32)>;

/// The variables a shell would set by sourcing the file (last assignment wins), and the
/// lines it could not parse (line, why).
pub fn parse(text: &str) -> (Vars, Vec<(u32, String)>) {
    let mut vars = Vars::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            bad.push((line_no(i), format!("not a KEY=value assignment: {line:?}")));
            continue;
        };
        let valid_key = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_key {
            bad.push((line_no(i), format!("not a shell variable name: {key:?}")));
            continue;
        }
        match shell_word(rest) {
            Ok(value) => {
                vars.insert(key.to_string(), (value, line_no(i)));
            }
            Err(why) => bad.push((line_no(i), format!("{key}: {why}"))),
        }
    }
    (vars, bad)
}

/// The first shell word of `s` with quotes removed: `'...'` is literal, `"..."` and bare
/// text honour backslash escapes. What follows the word (a `# comment`) is ignored.
fn shell_word(s: &str) -> Result<String, &'static str> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => break,
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => out.push(c),
                    None => return Err("unterminated single quote"),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(n @ ('$' | '`' | '"' | '\\')) => out.push(n),
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => return Err("unterminated double quote"),
                    },
                    Some(c) => out.push(c),
                    None => return Err("unterminated double quote"),
                }
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Whether a variable holds a fixed address.
fn is_address_key(system: System, key: &str) -> bool {
    if key == "IPADDR" || key == "IPV6ADDR" || key == "IPV6ADDR_SECONDARIES" {
        return true;
    }
    match system {
        // IPADDR0, IPADDR1, ...
        System::Ifcfg => key
            .strip_prefix("IPADDR")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        // IPADDR_0, IPADDR_foo, ...
        _ => key.starts_with("IPADDR_"),
    }
}

/// The configuration one ifcfg file gives.
fn config(system: System, path: &str, suffix: &str, vars: &Vars) -> IfaceConfig {
    let at = |line: u32| Provenance::line(path, line);
    let mut c = IfaceConfig::new(system, Provenance::file(path));
    c.interface = match (system, vars.get("DEVICE")) {
        (System::Ifcfg, Some((dev, _))) if !dev.is_empty() => Some(dev.clone()),
        _ => Some(suffix.to_string()),
    };
    let mut first_v4: Option<u32> = None;
    for (key, (value, line)) in vars {
        if !is_address_key(system, key) {
            continue;
        }
        for word in value.split_whitespace() {
            c.add_address(word, at(*line));
            if super::is_ipv4_address(word) {
                first_v4 = Some(first_v4.map_or(*line, |l| l.min(*line)));
            }
        }
    }
    let mac_keys: &[&str] = match system {
        System::Ifcfg => &["HWADDR", "MACADDR"],
        _ => &["LLADDR", "HWADDR"],
    };
    let mut macs: Vec<(&String, u32)> = mac_keys
        .iter()
        .filter_map(|k| vars.get(*k))
        .map(|(v, l)| (v, *l))
        .collect();
    macs.sort_by_key(|m| m.1);
    for (value, line) in macs {
        c.add_mac(value, at(line));
    }
    let bootproto = vars.get("BOOTPROTO");
    let proto = bootproto.map(|(v, _)| v.to_ascii_lowercase());
    match (proto.as_deref(), bootproto) {
        (Some("dhcp" | "bootp" | "dhcp4" | "dhcp+autoip"), Some((_, line))) => {
            c.set_method(Method::Dhcp, at(*line));
        }
        (Some("none" | "static" | "manual" | ""), Some((_, line))) => {
            if first_v4.is_some() {
                c.set_method(Method::Static, at(*line));
            } else {
                c.set_method(Method::Disabled, at(*line));
            }
        }
        (Some(other), Some((_, line))) => {
            c.set_method(Method::Other(other.to_string()), at(*line));
        }
        _ => {
            // No BOOTPROTO: static with an address, else no IPv4 (NetworkManager's ifcfg-rh
            // reader; wicked's default is static too).
            match first_v4 {
                Some(line) => c.set_method(Method::Static, at(line)),
                None => c.method = Some(Method::Disabled),
            }
        }
    }
    let start = match system {
        System::Ifcfg => vars.get("ONBOOT").map(|(v, l)| {
            let on = !matches!(v.to_ascii_lowercase().as_str(), "no" | "false" | "0");
            (on, *l)
        }),
        _ => vars.get("STARTMODE").map(|(v, l)| {
            let on = !matches!(v.to_ascii_lowercase().as_str(), "manual" | "off" | "");
            (on, *l)
        }),
    };
    c.auto_start = start.map(|(on, l)| (on, at(l)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        for (raw, want) in [
            ("dhcp", Ok("dhcp")),
            ("'dhcp'", Ok("dhcp")),
            ("\"dhcp\" # comment", Ok("dhcp")),
            ("a\\ b", Ok("a b")),
            ("\"a\\\"b\\n\"", Ok("a\"b\\n")),
            ("''", Ok("")),
            ("", Ok("")),
            ("'x", Err("unterminated single quote")),
            ("\"x\\", Err("unterminated double quote")),
        ] {
            assert_eq!(shell_word(raw).as_deref().map_err(|e| *e), want, "{raw}");
        }
    }
}
