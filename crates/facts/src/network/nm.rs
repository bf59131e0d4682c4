//! NetworkManager keyfiles (nm-settings-keyfile(5)).
//!
//! Read from `/run/NetworkManager/system-connections` (where `netplan generate` writes;
//! `*.nmconnection` only), `/etc/NetworkManager/system-connections` (every file but hidden
//! and backup names, as NetworkManager reads it) and
//! `/usr/lib/NetworkManager/system-connections` (`*.nmconnection` only), in that priority:
//! a profile with the same `uuid=` as one read before is shadowed and not reported.
//!
//! `[connection] interface-name=` (else `[match] interface-name=`) names the interface; `[ipv4] method=auto` is DHCP, `manual`
//! static, `disabled` none; a profile without `[ipv4]` gets `auto` (NetworkManager's
//! default). Addresses: `address1=`, `addresses=`... in `[ipv4]` and `[ipv6]`. MACs:
//! `mac-address=` and `cloned-mac-address=` (when it is a MAC, not `random`/`stable`...) in
//! `[ethernet]` (alias `[802-3-ethernet]`) and `[wifi]` (`[802-11-wireless]`).

use super::ini::{self, Dialect};
use super::{Ctx, IfaceConfig, Method, System, is_backup_name, looks_like_mac};
use crate::Provenance;

const RUN_DIR: &str = "/run/NetworkManager/system-connections";
const ETC_DIR: &str = "/etc/NetworkManager/system-connections";
const LIB_DIR: &str = "/usr/lib/NetworkManager/system-connections";

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    let mut uuids: Vec<String> = Vec::new();
    for (dir, need_ext) in [(RUN_DIR, true), (ETC_DIR, false), (LIB_DIR, true)] {
        for name in ctx.list_files(dir) {
            if is_backup_name(&name) || (need_ext && !name.ends_with(".nmconnection")) {
                continue;
            }
            let path = format!("{dir}/{name}");
            let Some(text) = ctx.read_text(&path) else {
                continue;
            };
            let (c, uuid) = read(ctx, &path, &text);
            if let Some(u) = &uuid {
                if uuids.contains(u) {
                    continue;
                }
                if uuids.len() < super::MAX_FILES {
                    uuids.push(u.clone());
                }
            }
            ctx.push(c);
        }
    }
}

/// One keyfile: the configuration and the profile's UUID.
fn read(ctx: &mut Ctx<'_>, path: &str, text: &str) -> (IfaceConfig, Option<String>) {
    let (entries, bad) = ini::parse(text, Dialect::KeyFile);
    for (line, t) in bad {
        ctx.warn(format!(
            "{path}:{line}: not a keyfile line: {t:?}; NetworkManager rejects the profile"
        ));
    }
    let at = |line: u32| Provenance::line(path, line);
    let mut c = IfaceConfig::new(System::NetworkManager, Provenance::file(path));
    let mut uuid = None;
    let mut has_ipv4 = false;
    let mut is_loopback = false;
    for e in &entries {
        let section = e.section.as_str();
        let key = e.key.as_str();
        let value = e.value.trim();
        match (section, key) {
            ("connection", "interface-name") if !value.is_empty() => {
                c.interface = Some(value.to_string())
            }
            ("match", "interface-name") if c.interface.is_none() => {
                let names: Vec<&str> = value.split(';').filter(|n| !n.is_empty()).collect();
                if !names.is_empty() {
                    c.interface = Some(names.join(" "));
                }
            }
            ("connection", "uuid") => uuid = Some(value.to_ascii_lowercase()),
            ("connection", "type") => is_loopback = value == "loopback",
            ("connection", "autoconnect") => {
                let on = !matches!(value.to_ascii_lowercase().as_str(), "false" | "no" | "0");
                c.auto_start = Some((on, at(e.line)));
            }
            ("ipv4", "method") => {
                let m = match value {
                    "auto" => Method::Dhcp,
                    "manual" => Method::Static,
                    "disabled" => Method::Disabled,
                    other => Method::Other(other.to_string()),
                };
                c.set_method(m, at(e.line));
            }
            ("ipv4" | "ipv6", k) if is_address_key(k) => {
                // `address1=192.0.2.10/24,192.0.2.1`: address, then gateway. The legacy
                // `addresses=` holds `;`-separated entries.
                for item in value.split(';') {
                    let addr = item.split(',').next().unwrap_or("");
                    c.add_address(addr, at(e.line));
                }
            }
            (
                "ethernet" | "802-3-ethernet" | "wifi" | "802-11-wireless",
                "mac-address" | "cloned-mac-address",
            ) if looks_like_mac(value) => c.add_mac(value, at(e.line)),
            _ => {}
        }
        if section == "ipv4" {
            has_ipv4 = true;
        }
    }
    if c.method.is_none() && !is_loopback {
        if has_ipv4 {
            // An [ipv4] section without method: NetworkManager normalises to auto unless
            // addresses are given.
            let m = if c.has_ipv4_address() {
                Method::Static
            } else {
                Method::Dhcp
            };
            c.method = Some(m);
        } else {
            c.method = Some(Method::Dhcp);
        }
    }
    if is_loopback {
        c.interface.get_or_insert_with(|| "lo".to_string());
    }
    (c, uuid)
}

/// `address1`, `addresses`, `addresses2`, `address`...
fn is_address_key(key: &str) -> bool {
    let rest = key
        .strip_prefix("addresses")
        .or_else(|| key.strip_prefix("address"));
    rest.is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}
