//! netplan (netplan(5), "YAML configuration"): `*.yaml` in `/lib/netplan`, `/etc/netplan`
//! and `/run/netplan`.
//!
//! A file in /run hides the file of the same name in /etc, which hides the one in /lib; the
//! remaining files are read in file-name order whatever their directory, and a later file
//! amends (new keys) or overrides (same keys) what earlier ones set for the same device id.
//! `addresses` of several files add up.
//!
//! Per device (`ethernets`, `wifis`, `bonds`, `bridges`, `vlans`, ...): `dhcp4: true` is DHCP,
//! an IPv4 entry in `addresses` static; `match: {macaddress: ...}` and `macaddress:` are
//! MACs; the interface is `set-name`, else `match: {name}`, else the id when there is no
//! `match`. cloud-init's version 2 network configuration is the same format
//! ([`read_network`]).

use super::{Ctx, IfaceConfig, Method, System, is_ipv4_address};
use crate::Provenance;
use crate::yaml::{self, Node};
use std::collections::BTreeMap;

/// Directories, lowest priority first.
pub const DIRS: &[&str] = &["/lib/netplan", "/etc/netplan", "/run/netplan"];

/// The device sections netplan knows.
const DEVICE_TYPES: &[&str] = &[
    "ethernets",
    "wifis",
    "bonds",
    "bridges",
    "vlans",
    "tunnels",
    "vrfs",
    "modems",
    "dummy-devices",
    "virtual-ethernets",
    "nm-devices",
];

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    // File name → winning path.
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    for dir in DIRS {
        for name in ctx.list_files(dir) {
            if name.ends_with(".yaml") && !name.starts_with('.') && chosen.len() < super::MAX_FILES
            {
                chosen.insert(name.clone(), format!("{dir}/{name}"));
            }
        }
    }
    let mut devs = Devices::default();
    for path in chosen.into_values() {
        let Some(text) = ctx.read_text(&path) else {
            continue;
        };
        let root = match yaml::parse(&text) {
            Ok(root) => root,
            Err(e) => {
                ctx.warn(format!(
                    "{path}: not valid YAML ({e}); netplan rejects the whole configuration"
                ));
                continue;
            }
        };
        if let Some(network) = root.get("network") {
            read_network(ctx, &path, network, &mut devs);
        } else if !matches!(root.value, yaml::Value::Null) {
            ctx.warn(format!("{path}: no top-level `network:` key"));
        }
    }
    for c in devs.into_configs(System::Netplan) {
        ctx.push(c);
    }
}

/// One netplan device definition, merged over the files that mention its id.
#[derive(Debug, Clone)]
struct Device {
    id: String,
    source: Provenance,
    dhcp4: Option<(bool, Provenance)>,
    dhcp6: Option<(bool, Provenance)>,
    addresses: Vec<(String, Provenance)>,
    has_match: bool,
    match_name: Option<String>,
    match_mac: Option<(String, Provenance)>,
    macaddress: Option<(String, Provenance)>,
    set_name: Option<String>,
}

/// Device definitions by (type, id), in first-seen order.
#[derive(Debug, Clone, Default)]
pub(super) struct Devices {
    list: Vec<((String, String), Device)>,
}

impl Devices {
    fn entry(&mut self, kind: &str, id: &str, source: Provenance) -> Option<&mut Device> {
        let key = (kind.to_string(), id.to_string());
        if let Some(i) = self.list.iter().position(|(k, _)| *k == key) {
            return self.list.get_mut(i).map(|(_, d)| d);
        }
        if self.list.len() >= super::MAX_CONFIGS {
            return None;
        }
        self.list.push((
            key,
            Device {
                id: id.to_string(),
                source,
                dhcp4: None,
                dhcp6: None,
                addresses: Vec::new(),
                has_match: false,
                match_name: None,
                match_mac: None,
                macaddress: None,
                set_name: None,
            },
        ));
        self.list.last_mut().map(|(_, d)| d)
    }

    pub(super) fn into_configs(self, system: System) -> Vec<IfaceConfig> {
        self.list
            .into_iter()
            .map(|(_, d)| d.into_config(system))
            .collect()
    }
}

impl Device {
    fn into_config(self, system: System) -> IfaceConfig {
        let mut c = IfaceConfig::new(system, self.source);
        c.interface = self
            .set_name
            .or(self.match_name)
            .or_else(|| (!self.has_match).then_some(self.id));
        for (a, at) in self.addresses {
            c.add_address(&a, at);
        }
        for (m, at) in self.match_mac.into_iter().chain(self.macaddress) {
            c.add_mac(&m, at);
        }
        let first_v4 = c
            .addresses
            .iter()
            .find(|(a, _)| is_ipv4_address(a))
            .map(|(_, at)| at.clone());
        match (self.dhcp4, first_v4, self.dhcp6) {
            (Some((true, at)), _, _) => c.set_method(Method::Dhcp, at),
            (_, Some(at), _) => c.set_method(Method::Static, at),
            (Some((false, at)), None, _) => c.set_method(Method::Disabled, at),
            (None, None, Some((true, at))) => c.set_method(Method::Other("dhcp6".into()), at),
            _ => {}
        }
        c
    }
}

/// Read a netplan `network:` mapping (or cloud-init's version 2 `network:`) into `devs`.
pub(super) fn read_network(ctx: &mut Ctx<'_>, path: &str, network: &Node, devs: &mut Devices) {
    let at = |n: &Node| Provenance::line(path, n.line);
    if let Some(v) = network.get("version")
        && v.as_str() != Some("2")
    {
        ctx.warn(format!(
            "{}: netplan version {:?}; only version 2 exists",
            at(v),
            v.as_str().unwrap_or("")
        ));
    }
    for kind in DEVICE_TYPES {
        let Some(section) = network.get(kind) else {
            continue;
        };
        let Some(entries) = section.as_map() else {
            if !matches!(section.value, yaml::Value::Null) {
                ctx.warn(format!("{}: `{kind}` is not a mapping", at(section)));
            }
            continue;
        };
        for (id_node, def) in entries {
            let Some(id) = id_node.as_str() else {
                ctx.warn(format!("{}: device id is not a string", at(id_node)));
                continue;
            };
            let Some(d) = devs.entry(kind, id, at(id_node)) else {
                ctx.warn(format!(
                    "{}: more than {} devices; the rest are not read",
                    at(id_node),
                    super::MAX_CONFIGS
                ));
                return;
            };
            read_device(ctx, path, def, d);
        }
    }
}

fn read_device(ctx: &mut Ctx<'_>, path: &str, def: &Node, d: &mut Device) {
    let at = |n: &Node| Provenance::line(path, n.line);
    let Some(entries) = def.as_map() else {
        if !matches!(def.value, yaml::Value::Null) {
            ctx.warn(format!("{}: device `{}` is not a mapping", at(def), d.id));
        }
        return;
    };
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            continue;
        };
        match key {
            "dhcp4" | "dhcp6" => match netplan_bool(v) {
                Some(b) => {
                    let slot = if key == "dhcp4" {
                        &mut d.dhcp4
                    } else {
                        &mut d.dhcp6
                    };
                    *slot = Some((b, at(k)));
                }
                None => ctx.warn(format!("{}: {key} is not a boolean", at(v))),
            },
            "addresses" => match v.as_seq() {
                Some(items) => {
                    for item in items {
                        // A plain "192.0.2.10/24" or a mapping {"192.0.2.10/24": {lifetime: 0}}.
                        let addr = item.as_str().map(str::to_string).or_else(|| {
                            item.entries()
                                .first()
                                .and_then(|(k, _)| k.as_str().map(str::to_string))
                        });
                        if let Some(a) = addr
                            && d.addresses.len() < super::MAX_VALUES
                        {
                            d.addresses.push((a, at(item)));
                        }
                    }
                }
                None => ctx.warn(format!("{}: addresses is not a sequence", at(v))),
            },
            "match" => {
                d.has_match = true;
                if let Some(n) = v.get("name").and_then(Node::as_str) {
                    d.match_name = Some(n.to_string());
                }
                if let Some(m) = v.get("macaddress")
                    && let Some(s) = m.as_str()
                {
                    d.match_mac = Some((s.to_string(), at(m)));
                }
            }
            "macaddress" => {
                if let Some(s) = v.as_str() {
                    d.macaddress = Some((s.to_string(), at(k)));
                }
            }
            "set-name" => {
                if let Some(s) = v.as_str() {
                    d.set_name = Some(s.to_string());
                }
            }
            _ => {}
        }
    }
}

/// netplan's boolean words (`handle_generic_bool`), quoted or not.
fn netplan_bool(node: &Node) -> Option<bool> {
    match node.as_str()?.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Some(true),
        "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}
