//! Every network configuration a Linux guest may carry, read the way each system reads it, for
//! G05 (the primary interface uses DHCP) and G03 (no hard-coded MAC address).
//!
//! One [`IfaceConfig`] per configured interface and per file or stanza that configures it:
//! an interface may appear several times (an ifupdown `inet` and `inet6` stanza, two
//! NetworkManager profiles, a netplan file and the networkd file generated from it). Every
//! value cites its file and line.
//!
//! Systems and where they are read:
//! - RHEL / Oracle Linux ifcfg: `/etc/sysconfig/network-scripts/ifcfg-*` ([`ifcfg`]).
//! - SUSE wicked: `/etc/sysconfig/network/ifcfg-*` ([`ifcfg`]).
//! - NetworkManager keyfiles: `/etc/NetworkManager/system-connections`,
//!   `/usr/lib/NetworkManager/system-connections` ([`nm`]).
//! - netplan: `/lib/netplan`, `/etc/netplan`, `/run/netplan` `*.yaml` ([`netplan`]).
//! - systemd-networkd: `.network` and `.link` units and their drop-ins ([`networkd`]).
//! - Debian ifupdown: `/etc/network/interfaces` and its includes ([`ifupdown`]).
//! - udev persistent-net rules: `/etc/udev/rules.d/*persistent-net*.rules` ([`udev`]).
//! - cloud-init: the `network:` key of `/etc/cloud/cloud.cfg` and `cloud.cfg.d/*.cfg`
//!   ([`cloud_init`]).
//!
//! [`IfaceConfig::method`] is how the interface gets its IPv4 address. IPv6-only settings
//! (an ifupdown `inet6` stanza, netplan `dhcp6`) give [`Method::Other`].
//!
//! Nothing here panics on hostile input: files are capped at [`MAX_FILE`], at most
//! [`MAX_FILES`] files are read per system, include depth and the number of configurations,
//! values and warnings are bounded; problems become warnings.

pub mod cloud_init;
pub mod ifcfg;
pub mod ifupdown;
mod ini;
pub mod netplan;
pub mod networkd;
pub mod nm;
pub mod udev;

use crate::{Files, Provenance};
use serde::Serialize;

/// Largest configuration file read.
pub const MAX_FILE: u64 = 1 << 20;
/// Most files read per system (a hostile image may hold millions).
pub const MAX_FILES: usize = 512;
/// Most interface configurations kept in all.
pub const MAX_CONFIGS: usize = 4096;
/// Most addresses or MACs kept per configuration, and persistent-net rules kept.
pub const MAX_VALUES: usize = 256;
/// Most warnings kept.
pub const MAX_WARNINGS: usize = 256;

/// The configuration system a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// RHEL, Oracle Linux, CentOS initscripts / NetworkManager ifcfg-rh files.
    Ifcfg,
    /// SUSE wicked ifcfg files.
    Wicked,
    /// NetworkManager keyfiles.
    NetworkManager,
    Netplan,
    /// systemd-networkd `.network` and `.link` units.
    Networkd,
    /// Debian ifupdown.
    Ifupdown,
    /// cloud-init's network configuration in the image's cloud.cfg.
    CloudInit,
}

/// How an interface gets its IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Dhcp,
    /// A fixed address written in the file.
    Static,
    /// No IPv4 configuration (NetworkManager `method=disabled`, ifcfg `BOOTPROTO=none`
    /// without an address, netplan `dhcp4: false` without addresses, networkd `DHCP=no`
    /// without `Address=`).
    Disabled,
    /// Anything else, as written (`link-local`, `shared`, `inet6 auto`, `manual`, `dhcp6`...).
    Other(String),
}

/// One interface as one file (or stanza) configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfaceConfig {
    pub system: System,
    /// The file, and the line where the stanza / entry starts when there is one.
    pub source: Provenance,
    /// The interface name (or name pattern, for networkd `Name=en*`) when the file says it.
    pub interface: Option<String>,
    /// How the interface gets its IPv4 address; `None`: the file does not say.
    pub method: Option<Method>,
    /// Where the method was set; `None` with a `Some` method: the system's default for a file
    /// that does not say (NetworkManager profiles without `[ipv4]` use DHCP).
    pub method_at: Option<Provenance>,
    /// Fixed addresses (IPv4 and IPv6), as written.
    pub addresses: Vec<(String, Provenance)>,
    /// Hard-coded MAC addresses: matched on or assigned to the interface, as written.
    pub macs: Vec<(String, Provenance)>,
    /// Whether the interface is brought up at boot (ifcfg `ONBOOT`, wicked `STARTMODE`,
    /// NetworkManager `autoconnect`, ifupdown `auto` / `allow-*`), when the system says.
    pub auto_start: Option<(bool, Provenance)>,
}

impl IfaceConfig {
    fn new(system: System, source: Provenance) -> Self {
        IfaceConfig {
            system,
            source,
            interface: None,
            method: None,
            method_at: None,
            addresses: Vec::new(),
            macs: Vec::new(),
            auto_start: None,
        }
    }

    fn set_method(&mut self, method: Method, at: Provenance) {
        self.method = Some(method);
        self.method_at = Some(at);
    }

    fn add_address(&mut self, value: &str, at: Provenance) {
        let value = value.trim();
        if !value.is_empty() && self.addresses.len() < MAX_VALUES {
            self.addresses.push((value.to_string(), at));
        }
    }

    fn add_mac(&mut self, value: &str, at: Provenance) {
        let value = value.trim();
        if !value.is_empty() && self.macs.len() < MAX_VALUES {
            self.macs.push((value.to_string(), at));
        }
    }

    /// Whether a fixed IPv4 address is configured.
    pub fn has_ipv4_address(&self) -> bool {
        self.addresses.iter().any(|(a, _)| is_ipv4_address(a))
    }
}

/// All network configuration found in the image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkFact {
    /// In reading order: ifcfg, wicked, NetworkManager, netplan, networkd, ifupdown,
    /// cloud-init.
    pub configs: Vec<IfaceConfig>,
    /// MAC addresses bound by udev persistent-net rules (`ATTR{address}==`).
    pub persistent_net_rules: Vec<(String, Provenance)>,
    /// Where cloud-init's network configuration is disabled (`network: {config: disabled}`),
    /// when it is (the last file setting `network.config` wins).
    pub cloud_init_network_disabled: Option<Provenance>,
    /// Files that could not be read, syntax cloud-init or the system would reject, limits hit.
    pub warnings: Vec<String>,
}

impl NetworkFact {
    /// The configurations of one system.
    pub fn of(&self, system: System) -> impl Iterator<Item = &IfaceConfig> {
        self.configs.iter().filter(move |c| c.system == system)
    }

    /// Every hard-coded MAC address: in configurations and in persistent-net rules.
    pub fn all_macs(&self) -> impl Iterator<Item = &(String, Provenance)> {
        self.configs
            .iter()
            .flat_map(|c| c.macs.iter())
            .chain(self.persistent_net_rules.iter())
    }
}

/// Read every network configuration of the guest.
pub fn gather(files: &dyn Files) -> NetworkFact {
    let mut ctx = Ctx {
        files,
        fact: NetworkFact::default(),
    };
    ifcfg::gather(&mut ctx);
    nm::gather(&mut ctx);
    netplan::gather(&mut ctx);
    networkd::gather(&mut ctx);
    ifupdown::gather(&mut ctx);
    udev::gather(&mut ctx);
    cloud_init::gather(&mut ctx);
    ctx.fact
}

/// What every reader shares: the guest and the fact being built.
pub(crate) struct Ctx<'a> {
    files: &'a dyn Files,
    fact: NetworkFact,
}

impl Ctx<'_> {
    fn warn(&mut self, message: String) {
        if self.fact.warnings.len() < MAX_WARNINGS {
            self.fact.warnings.push(message);
        } else if self.fact.warnings.len() == MAX_WARNINGS {
            self.fact.warnings.push(format!(
                "more than {MAX_WARNINGS} warnings; the rest are not shown"
            ));
        }
    }

    fn push(&mut self, config: IfaceConfig) {
        if self.fact.configs.len() < MAX_CONFIGS {
            self.fact.configs.push(config);
        } else if self.fact.configs.len() == MAX_CONFIGS {
            let at = config.source.to_string();
            self.warn(format!(
                "more than {MAX_CONFIGS} interface configurations; {at} and later ones are not read"
            ));
        }
    }

    /// A file's text (lossy UTF-8); `None` when it does not exist or cannot be read (warned).
    fn read_text(&mut self, path: &str) -> Option<String> {
        match self.files.read(path, MAX_FILE) {
            Ok(Some(data)) => Some(String::from_utf8_lossy(&data).into_owned()),
            Ok(None) => None,
            Err(e) => {
                self.warn(format!("{path}: not read: {e}"));
                None
            }
        }
    }

    /// The sorted paths matching a glob; an error is warned and gives nothing. At most
    /// [`MAX_FILES`] are returned.
    fn glob(&mut self, pattern: &str) -> Vec<String> {
        match self.files.glob(pattern) {
            Ok(mut paths) => {
                if paths.len() > MAX_FILES {
                    self.warn(format!(
                        "{pattern}: {} files, only the first {MAX_FILES} are read",
                        paths.len()
                    ));
                    paths.truncate(MAX_FILES);
                }
                paths
            }
            Err(e) => {
                self.warn(format!("{pattern}: not listed: {e}"));
                Vec::new()
            }
        }
    }

    /// The names of the regular files (and symlinks) of a directory, sorted.
    fn list_files(&mut self, dir: &str) -> Vec<String> {
        match self.files.list_dir(dir) {
            Ok(Some(entries)) => {
                let mut names: Vec<String> = entries
                    .into_iter()
                    .filter(|e| e.kind != crate::EntryKind::Dir)
                    .map(|e| e.name)
                    .collect();
                if names.len() > MAX_FILES {
                    self.warn(format!(
                        "{dir}: {} entries, only the first {MAX_FILES} are read",
                        names.len()
                    ));
                    names.truncate(MAX_FILES);
                }
                names
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                self.warn(format!("{dir}: not listed: {e}"));
                Vec::new()
            }
        }
    }
}

/// Whether a string looks like an IPv4 address, with or without a `/prefix`.
pub fn is_ipv4_address(s: &str) -> bool {
    let addr = s.split('/').next().unwrap_or("");
    let parts: Vec<&str> = addr.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a value looks like a MAC address or a MAC pattern (hex digits with `:`/`-`
/// separators, possibly with glob characters), rather than a keyword such as `random` or
/// `?*`.
pub fn looks_like_mac(s: &str) -> bool {
    let s = s.trim();
    let hex = s.bytes().filter(u8::is_ascii_hexdigit).count();
    hex >= 2
        && s.contains([':', '-'])
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b":-*?[]!".contains(&b))
}

/// A file name that configuration systems skip: hidden, editor and package-manager leftovers.
fn is_backup_name(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "~",
        ".bak",
        ".old",
        ".orig",
        ".rej",
        ".swp",
        ".tmp",
        ".rpmnew",
        ".rpmorig",
        ".rpmsave",
        ".dpkg-old",
        ".dpkg-new",
        ".dpkg-dist",
        ".dpkg-bak",
        ".dpkg-tmp",
        ".ucf-old",
        ".ucf-new",
        ".ucf-dist",
    ];
    name.starts_with('.') || SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The last component of a guest path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Line numbers as `u32` (files are capped far below the limit).
fn line_no(index: usize) -> u32 {
    u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX)
}
