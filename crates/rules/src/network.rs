//! Network configuration across every system a distribution may use (facts/network): no MAC
//! address pinned to the build host (G03), and the primary interface on DHCP (G05).

use preflight_facts::network::{IfaceConfig, Method, System};
use preflight_report::{Area, Level};

use crate::sources::MARKETPLACE_IMAGES;
use crate::{GuestFacts, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const G03: Rule = Rule {
    id: "G03",
    area: Area::Network,
    level: Level::Blocker,
    title: "No hard-coded MAC address",
    source: MARKETPLACE_IMAGES,
    check: g03,
};

pub const G05: Rule = Rule {
    id: "G05",
    area: Area::Network,
    level: Level::Blocker,
    title: "The primary interface gets its address by DHCP",
    source: MARKETPLACE_IMAGES,
    check: g05,
};

fn system_name(s: System) -> &'static str {
    match s {
        System::Ifcfg => "ifcfg",
        System::Wicked => "wicked ifcfg",
        System::NetworkManager => "NetworkManager",
        System::Netplan => "netplan",
        System::Networkd => "systemd-networkd",
        System::Ifupdown => "ifupdown",
        System::CloudInit => "cloud-init network config",
    }
}

fn mac_remedy(s: System) -> &'static str {
    match s {
        System::Ifcfg | System::Wicked => {
            "delete the HWADDR=/MACADDR=/LLADDR= lines (the device is matched by DEVICE= name)"
        }
        System::NetworkManager => {
            "delete mac-address= and cloned-mac-address= from [ethernet] (match by interface-name=, or none)"
        }
        System::Netplan => {
            "match the interface by name or driver (match: {name: \"en*\"}) instead of macaddress, and drop macaddress:"
        }
        System::Networkd => {
            "use [Match] Name=en* instead of MACAddress=, and drop [Link] MACAddress="
        }
        System::Ifupdown => "delete the hwaddress lines",
        System::CloudInit => "remove mac_address/macaddress from the cloud-init network config",
    }
}

/// cloud-init regenerates its own netplan file for each new instance, unless its network
/// configuration is disabled.
fn regenerated_by_cloud_init(g: &GuestFacts, path: &str) -> bool {
    path == "/etc/netplan/50-cloud-init.yaml"
        && g.network.cloud_init_network_disabled.is_none()
        && g.cloud_init_present()
}

fn g03(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let net = &g.network;
    let mut hits = Vec::new();
    if !net.persistent_net_rules.is_empty() {
        let mut hit = Hit::new(
            "udev persistent-net rules pin interface names to the build host's MAC addresses",
            "Remove the rules file before capture: rm -f /etc/udev/rules.d/70-persistent-net.rules (on an instance the NIC has another MAC, so its name changes and its configuration does not apply)",
        );
        for (mac, at) in &net.persistent_net_rules {
            hit = hit.at(
                at.path.clone(),
                at.line,
                format!("ATTR{{address}}==\"{mac}\""),
            );
        }
        hits.push(hit);
    }
    for c in net.configs.iter().filter(|c| !c.macs.is_empty()) {
        let regenerated = regenerated_by_cloud_init(g, &c.source.path);
        let mut hit = Hit::new(
            format!(
                "{} configuration {} pins {} to a MAC address",
                system_name(c.system),
                c.source.path,
                c.interface.as_deref().unwrap_or("an interface")
            ),
            format!(
                "Instances get a new MAC address: {}.{}",
                mac_remedy(c.system),
                if regenerated {
                    " cloud-init writes this file again at first boot, so it does no harm there; remove it anyway so the image carries nothing of the build host"
                } else {
                    ""
                }
            ),
        );
        if regenerated {
            hit = hit.level(Level::Warning);
        }
        for (mac, at) in &c.macs {
            hit = hit.at(at.path.clone(), at.line, format!("MAC {mac}"));
        }
        hits.push(hit);
    }
    outcome(hits)
}

fn is_loopback(c: &IfaceConfig) -> bool {
    c.interface.as_deref() == Some("lo")
        || matches!(&c.method, Some(Method::Other(m)) if m == "loopback")
}

/// Names the first NIC of an OCI instance may have, by driver and firmware naming (virtio
/// `ens3`/`enp0s3`, SR-IOV `ens300f0`, legacy `eth0`).
const PRIMARY_NAMES: [&str; 5] = ["eth0", "ens3", "enp0s3", "ens300f0", "ens5"];

/// fnmatch-style `*` and `?` (networkd `Name=`, netplan `match: name:`).
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The configuration may apply to the primary NIC: it names no interface, or a name (or one
/// of several space-separated patterns) the primary NIC may have. Container and bridge
/// profiles shipped by systemd (`ve-*`, `vz-*`, `vt-*`) do not.
fn may_be_primary(c: &IfaceConfig) -> bool {
    match c.interface.as_deref() {
        None => true,
        Some(names) => names.split_whitespace().any(|p| {
            PRIMARY_NAMES
                .iter()
                .any(|n| glob_match(p.trim_start_matches('!'), n))
        }),
    }
}

fn g05(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let configs: Vec<&IfaceConfig> = g
        .network
        .configs
        .iter()
        .filter(|c| !is_loopback(c) && may_be_primary(c))
        .collect();
    let mut hits = Vec::new();
    for c in &configs {
        let starts = c.auto_start.as_ref().is_none_or(|(on, _)| *on);
        if matches!(c.method, Some(Method::Static)) && c.has_ipv4_address() && starts {
            let mut hit = Hit::new(
                format!(
                    "{} gives {} a fixed address: an instance gets its address from the VCN by DHCP",
                    system_name(c.system),
                    c.interface.as_deref().unwrap_or("an interface")
                ),
                match c.system {
                    System::Ifcfg | System::Wicked => {
                        "Set BOOTPROTO=dhcp and delete IPADDR/NETMASK/GATEWAY/PREFIX"
                    }
                    System::NetworkManager => {
                        "Set method=auto in [ipv4] and delete the address lines"
                    }
                    System::Netplan => "Set dhcp4: true and delete addresses:/gateway4:/routes",
                    System::Networkd => {
                        "Set DHCP=ipv4 (or yes) in [Network] and delete Address=/Gateway="
                    }
                    System::Ifupdown => {
                        "Write `iface <name> inet dhcp` and delete the address/netmask/gateway lines"
                    }
                    System::CloudInit => {
                        "Use a dhcp subnet (type: dhcp) or dhcp4: true, or let cloud-init use the datasource's network config"
                    }
                },
            );
            if let Some(at) = &c.method_at {
                hit = hit.at(at.path.clone(), at.line, "static configuration");
            }
            for (addr, at) in c.addresses.iter().take(4) {
                hit = hit.at(at.path.clone(), at.line, format!("address {addr}"));
            }
            if let Some(at) = &g.network.cloud_init_network_disabled {
                hit = hit.at(
                    at.path.clone(),
                    at.line,
                    "cloud-init's network configuration is disabled: it will not replace this one",
                );
            }
            hits.push(hit);
        }
    }
    if !hits.is_empty() {
        return outcome(hits);
    }
    let dhcp = configs
        .iter()
        .any(|c| matches!(c.method, Some(Method::Dhcp)));
    if dhcp {
        return Outcome::Pass;
    }
    // No interface is configured: fine when cloud-init will write a DHCP configuration.
    if g.cloud_init_present() && g.network.cloud_init_network_disabled.is_none() {
        return Outcome::Pass;
    }
    outcome(vec![
        Hit::new(
            "No network configuration gives the primary interface DHCP, and cloud-init will not write one",
            "Configure the primary interface for DHCP in the distribution's network system (ifcfg BOOTPROTO=dhcp, NetworkManager method=auto, netplan dhcp4: true, networkd DHCP=yes, ifupdown inet dhcp), or install cloud-init with its network configuration enabled",
        )
        .at(
            "network configuration",
            None,
            match g.network.cloud_init_network_disabled.as_ref() {
                Some(at) => format!("cloud-init's network configuration is disabled at {at}"),
                None => format!(
                    "{} interface configuration(s), none by DHCP; no cloud-init",
                    configs.len()
                ),
            },
        )
        .level(Level::Warning),
    ])
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn interface_patterns() {
        assert!(glob_match("en*", "ens3"));
        assert!(glob_match("eth?", "eth0"));
        assert!(!glob_match("ve-*", "eth0"));
        assert!(glob_match("*", "enp0s3"));
        assert!(!glob_match("eth1", "eth0"));
    }
}
