//! systemd-networkd `.network`, `.link` and `.netdev` units (systemd.network(5),
//! systemd.link(5), systemd.netdev(5)).
//!
//! Directories in priority order: `/etc/systemd/network`, `/run/systemd/network`,
//! `/usr/local/lib/systemd/network`, `/usr/lib/systemd/network`, `/lib/systemd/network`. A
//! file in a higher-priority directory hides the file of the same name in the others; a
//! file that is empty or a symlink to `/dev/null` masks it. Drop-ins `<unit>.d/*.conf` (the
//! same priority rule by drop-in name) are read after the unit, in name order.
//!
//! `.network`: `[Match] Name=` names the interface(s); `[Match] MACAddress=` /
//! `PermanentMACAddress=` and `[Link] MACAddress=` are MACs; `[Network] DHCP=yes|ipv4|both`
//! is DHCP, `Address=` (in `[Network]` or `[Address]`) a fixed address. `.link`: `[Match]
//! MACAddress=` / `PermanentMACAddress=`, `[Link] MACAddress=`, `[Link] Name=` (else `[Match]
//! OriginalName=`); `.netdev` (a bond, bridge, VLAN...): `[NetDev] Name=` and `MACAddress=`.
//! `.link` and `.netdev` files have no method.

use super::ini::{self, Dialect, Entry, systemd_bool};
use super::{Ctx, IfaceConfig, Method, System, is_ipv4_address, looks_like_mac};
use crate::Provenance;
use std::collections::BTreeMap;

/// The unit directories, highest priority first.
pub const DIRS: &[&str] = &[
    "/etc/systemd/network",
    "/run/systemd/network",
    "/usr/local/lib/systemd/network",
    "/usr/lib/systemd/network",
    "/lib/systemd/network",
];

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    // Unit name → path of the file that wins.
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for dir in DIRS {
        for name in ctx.list_files(dir) {
            if (name.ends_with(".network") || name.ends_with(".link") || name.ends_with(".netdev"))
                && !name.starts_with('.')
                && units.len() < super::MAX_FILES
            {
                units.entry(name.clone()).or_insert(format!("{dir}/{name}"));
            }
        }
    }
    for (name, path) in units {
        let Some(text) = read_unit(ctx, &path) else {
            continue;
        };
        let mut parts = vec![(path.clone(), text)];
        for drop_in in drop_ins(ctx, &name) {
            if let Some(t) = read_unit(ctx, &drop_in) {
                parts.push((drop_in, t));
            }
        }
        let kind = if name.ends_with(".network") {
            Kind::Network
        } else if name.ends_with(".link") {
            Kind::Link
        } else {
            Kind::NetDev
        };
        let c = read(ctx, &path, kind, &parts);
        ctx.push(c);
    }
}

/// The text of a unit file; `None` when masked, missing or unreadable.
fn read_unit(ctx: &mut Ctx<'_>, path: &str) -> Option<String> {
    if let Ok(Some(target)) = ctx.files.read_link(path)
        && target == "/dev/null"
    {
        return None;
    }
    let text = ctx.read_text(path)?;
    if text.trim().is_empty() {
        return None;
    }
    Some(text)
}

/// The drop-ins of a unit, in the order systemd applies them.
fn drop_ins(ctx: &mut Ctx<'_>, unit: &str) -> Vec<String> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for dir in DIRS {
        let d = format!("{dir}/{unit}.d");
        for name in ctx.list_files(&d) {
            if name.ends_with(".conf") && found.len() < super::MAX_FILES {
                found.entry(name.clone()).or_insert(format!("{d}/{name}"));
            }
        }
    }
    found.into_values().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Network,
    Link,
    NetDev,
}

/// One unit with its drop-ins.
fn read(ctx: &mut Ctx<'_>, path: &str, kind: Kind, parts: &[(String, String)]) -> IfaceConfig {
    let is_link = kind == Kind::Link;
    let mut c = IfaceConfig::new(System::Networkd, Provenance::file(path));
    let mut names: Vec<String> = Vec::new();
    let mut original_names: Vec<String> = Vec::new();
    let mut link_name: Option<String> = None;
    let mut match_macs: Vec<(String, Provenance)> = Vec::new();
    let mut link_macs: Vec<(String, Provenance)> = Vec::new();
    let mut dhcp: Option<(String, Provenance)> = None;
    for (file, text) in parts {
        let (entries, bad) = ini::parse(text, Dialect::Systemd);
        for (line, t) in bad {
            ctx.warn(format!(
                "{file}:{line}: not a unit file line: {t:?}; systemd ignores it"
            ));
        }
        for Entry {
            section,
            key,
            value,
            line,
        } in entries
        {
            let at = Provenance::line(file.as_str(), line);
            match (section.as_str(), key.as_str()) {
                ("Match", "Name") => list(&mut names, &value),
                ("Match", "OriginalName") => list(&mut original_names, &value),
                ("Match", "MACAddress" | "PermanentMACAddress") => {
                    if value.trim().is_empty() {
                        match_macs.clear();
                    }
                    for mac in value.split_whitespace() {
                        if looks_like_mac(mac) {
                            match_macs.push((mac.to_string(), at.clone()));
                        }
                    }
                }
                ("Link", "MACAddress") if looks_like_mac(&value) => {
                    link_macs.push((value.trim().to_string(), at));
                }
                ("Link", "Name") if is_link => link_name = Some(value.trim().to_string()),
                ("NetDev", "Name") if kind == Kind::NetDev => {
                    link_name = Some(value.trim().to_string())
                }
                ("NetDev", "MACAddress") if looks_like_mac(&value) => {
                    link_macs.push((value.trim().to_string(), at));
                }
                ("Network", "DHCP") => dhcp = Some((value.trim().to_ascii_lowercase(), at)),
                ("Network" | "Address", "Address") => {
                    for a in value.split_whitespace() {
                        c.add_address(a, at.clone());
                    }
                }
                _ => {}
            }
        }
    }
    for (mac, at) in match_macs.into_iter().chain(link_macs) {
        c.add_mac(&mac, at);
    }
    c.interface = if kind != Kind::Network {
        link_name
            .filter(|n| !n.is_empty())
            .or_else(|| (!original_names.is_empty()).then(|| original_names.join(" ")))
    } else {
        (!names.is_empty()).then(|| names.join(" "))
    };
    if kind != Kind::Network {
        return c;
    }
    let first_v4 = c
        .addresses
        .iter()
        .find(|(a, _)| is_ipv4_address(a))
        .map(|(_, at)| at.clone());
    match dhcp {
        Some((v, at)) if v == "ipv4" || v == "both" || systemd_bool(&v) == Some(true) => {
            c.set_method(Method::Dhcp, at);
        }
        Some((v, at)) => match first_v4 {
            Some(a) => c.set_method(Method::Static, a),
            None if v == "ipv6" => c.set_method(Method::Other("DHCP=ipv6".into()), at),
            None => c.set_method(Method::Disabled, at),
        },
        None => {
            if let Some(a) = first_v4 {
                c.set_method(Method::Static, a);
            }
        }
    }
    c
}

/// A whitespace-separated list setting; an empty assignment resets it.
fn list(into: &mut Vec<String>, value: &str) {
    if value.trim().is_empty() {
        into.clear();
    }
    for v in value.split_whitespace() {
        if into.len() < super::MAX_VALUES {
            into.push(v.to_string());
        }
    }
}
