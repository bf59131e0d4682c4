//! cloud-init's network configuration in the image: the `network:` key of
//! `/etc/cloud/cloud.cfg` and `/etc/cloud/cloud.cfg.d/*.cfg`.
//!
//! cloud-init merges these files as dictionaries, `cloud.cfg.d` files after `cloud.cfg` in
//! name order, a later file winning key by key (lists are replaced whole). So:
//! - `network: {config: disabled}` disables cloud-init's networking unless a later file sets
//!   `network.config` to something else; the configurations are then not reported.
//! - Version 1 (`config:` a list of `type: physical|bond|bridge|vlan` entries with `name`,
//!   `mac_address` and `subnets: [{type: dhcp|dhcp4|static|..., address}]`): the last file's
//!   list is the one used.
//! - Version 2 (netplan's format directly under `network:`): device definitions of all files
//!   are merged, as netplan merges files.
//!
//! A system configuration in the image takes precedence over the datasource's (cloud-init
//! "Network configuration sources": kernel command line, initramfs, system config,
//! datasource, fallback), so on OCI it decides how the first boot configures the network.

use super::netplan::{self, Devices};
use super::{Ctx, IfaceConfig, Method, System, file_name, is_backup_name, is_ipv4_address};
use crate::Provenance;
use crate::yaml::{self, Node};

pub const MAIN: &str = "/etc/cloud/cloud.cfg";
pub const DROP_IN_GLOB: &str = "/etc/cloud/cloud.cfg.d/*.cfg";

pub(super) fn gather(ctx: &mut Ctx<'_>) {
    let mut paths = vec![MAIN.to_string()];
    for p in ctx.glob(DROP_IN_GLOB) {
        if !is_backup_name(file_name(&p)) {
            paths.push(p);
        }
    }
    // The last assignment of `network.config`: disabled, or a version 1 list (path, node).
    let mut disabled: Option<Provenance> = None;
    let mut v1: Option<(String, Node)> = None;
    let mut version: Option<(String, Provenance)> = None;
    let mut v2 = Devices::default();
    let mut v2_seen = false;
    for path in paths {
        let Some(text) = ctx.read_text(&path) else {
            continue;
        };
        let root = match yaml::parse(&text) {
            Ok(root) => root,
            Err(e) => {
                ctx.warn(format!(
                    "{path}: not valid YAML ({e}); cloud-init ignores the whole file"
                ));
                continue;
            }
        };
        let Some(mut network) = root.get("network") else {
            continue;
        };
        // Some images nest the netplan-style `network:` once more.
        if network.get("version").is_none()
            && let Some(inner) = network.get("network")
        {
            network = inner;
        }
        if let Some(v) = network.get("version") {
            let at = Provenance::line(path.as_str(), v.line);
            version = Some((v.as_str().unwrap_or("").to_string(), at));
        }
        if let Some(cfg) = network.get("config") {
            if cfg.as_str() == Some("disabled") {
                disabled = Some(Provenance::line(path.as_str(), cfg.line));
                v1 = None;
            } else if cfg.as_seq().is_some() {
                disabled = None;
                v1 = Some((path.clone(), cfg.clone()));
            } else {
                disabled = None;
                ctx.warn(format!(
                    "{path}:{}: network.config is neither `disabled` nor a list",
                    cfg.line
                ));
            }
        }
        if network
            .get("version")
            .is_some_and(|v| v.as_str() == Some("2"))
        {
            v2_seen = true;
            netplan::read_network(ctx, &path, network, &mut v2);
        }
    }
    ctx.fact.cloud_init_network_disabled = disabled.clone();
    if disabled.is_some() {
        return;
    }
    match version.as_ref().map(|(v, at)| (v.as_str(), at)) {
        Some(("1", _)) => {
            if let Some((path, cfg)) = v1 {
                read_v1(ctx, &path, &cfg);
            }
        }
        Some(("2", _)) => {
            if v2_seen {
                for c in v2.into_configs(System::CloudInit) {
                    ctx.push(c);
                }
            }
        }
        Some((other, at)) => {
            let at = at.clone();
            ctx.warn(format!(
                "{at}: cloud-init network config version {other:?} is not 1 or 2"
            ));
        }
        None => {
            if let Some((path, _)) = v1 {
                ctx.warn(format!(
                    "{path}: network.config without network.version; cloud-init rejects it"
                ));
            }
        }
    }
}

/// A version 1 `config:` list.
fn read_v1(ctx: &mut Ctx<'_>, path: &str, cfg: &Node) {
    let at = |n: &Node| Provenance::line(path, n.line);
    for item in cfg.as_seq().unwrap_or(&[]) {
        let kind = item.get("type").and_then(Node::as_str).unwrap_or("");
        if !matches!(kind, "physical" | "bond" | "bridge" | "vlan") {
            continue;
        }
        let mut c = IfaceConfig::new(System::CloudInit, at(item));
        c.interface = item.get("name").and_then(Node::as_str).map(str::to_string);
        if let Some(m) = item.get("mac_address")
            && let Some(s) = m.as_str()
        {
            c.add_mac(s, at(m));
        }
        let mut dhcp: Option<Provenance> = None;
        let mut stat: Option<Provenance> = None;
        let mut other: Option<(String, Provenance)> = None;
        for subnet in item.get("subnets").and_then(Node::as_seq).unwrap_or(&[]) {
            let t = subnet.get("type").and_then(Node::as_str).unwrap_or("");
            let t_at = subnet.get("type").map_or_else(|| at(subnet), at);
            for key in ["address", "addresses"] {
                let Some(a) = subnet.get(key) else {
                    continue;
                };
                if let Some(s) = a.as_str() {
                    c.add_address(s, at(a));
                }
                for x in a.as_seq().unwrap_or(&[]) {
                    if let Some(s) = x.as_str() {
                        c.add_address(s, at(x));
                    }
                }
            }
            match t {
                "dhcp" | "dhcp4" => {
                    dhcp.get_or_insert(t_at);
                }
                "static"
                    if subnet
                        .get("address")
                        .and_then(Node::as_str)
                        .is_none_or(is_ipv4_address) =>
                {
                    stat.get_or_insert(t_at);
                }
                _ => {
                    other.get_or_insert((t.to_string(), t_at));
                }
            }
        }
        if let Some(p) = dhcp {
            c.set_method(Method::Dhcp, p);
        } else if let Some(p) = stat {
            c.set_method(Method::Static, p);
        } else if let Some((t, p)) = other {
            c.set_method(Method::Other(t), p);
        }
        ctx.push(c);
    }
}
