//! The other configuration the recommended-guideline rules read: time sources (REC-NTP),
//! firewall (REC-FIREWALL), mandatory access control (REC-MAC), references to the instance
//! metadata service v1 (G08) and iSCSI timeouts (REC-ISCSI).
//!
//! Whether a daemon starts at boot is not answered here: each part names the units to ask
//! [`crate::systemd::Systemd`] about. Every value carries its file and line. Files are capped,
//! include depth and counts are bounded, problems become [`HardeningFact::warnings`].

use crate::{EntryKind, Files, Provenance};
use serde::Serialize;
use std::collections::BTreeMap;

/// OCI's NTP server and metadata service address.
pub const OCI_NTP: &str = "169.254.169.254";
/// Largest configuration file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
const MAX_INCLUDE_DEPTH: usize = 10;
const MAX_CONFIG_FILES: usize = 256;
const MAX_ITEMS: usize = 4096;
const MAX_WARNINGS: usize = 256;

/// Everything this module gathers.
#[derive(Debug, Clone, Serialize)]
pub struct HardeningFact {
    pub time: TimeFact,
    pub firewall: FirewallFact,
    pub mac: MacFact,
    pub imds_refs: ImdsRefs,
    pub iscsi: IscsiFact,
    pub warnings: Vec<String>,
}

/// Read the image's time, firewall, MAC, IMDS and iSCSI configuration. `cmdline` is the
/// kernel command line of the default boot entry, when known.
pub fn gather(files: &dyn Files, cmdline: Option<&str>) -> HardeningFact {
    let mut r = Reader {
        files,
        warnings: Vec::new(),
        config_files: 0,
    };
    let time = r.time();
    let firewall = r.firewall();
    let mac = r.mac(cmdline);
    let iscsi = r.iscsi();
    let imds_refs = scan_imds(files, &mut r.warnings);
    HardeningFact {
        time,
        firewall,
        mac,
        imds_refs,
        iscsi,
        warnings: r.warnings,
    }
}

// ---------------------------------------------------------------------------------------
// Time

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeDaemonKind {
    Chrony,
    Ntpd,
    Timesyncd,
}

/// One configured server, pool or peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeSource {
    /// `server`, `pool`, `peer` (chrony, ntpd), `NTP` or `FallbackNTP` (timesyncd).
    pub kind: String,
    pub address: String,
    pub at: Provenance,
}

/// A time daemon whose configuration is in the image.
#[derive(Debug, Clone, Serialize)]
pub struct TimeDaemon {
    pub kind: TimeDaemonKind,
    /// Units to ask the systemd reader about (names differ between distributions).
    pub units: Vec<&'static str>,
    /// The files read, main file first.
    pub config_files: Vec<String>,
    /// The effective sources (for timesyncd: the last `NTP=` and `FallbackNTP=` values).
    pub sources: Vec<TimeSource>,
    /// The first source that is OCI's NTP server.
    pub oci_ntp: Option<Provenance>,
    /// Directories whose files are only known at run time (chrony `sourcedir /run/...`).
    pub runtime_source_dirs: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeFact {
    pub daemons: Vec<TimeDaemon>,
}

impl TimeFact {
    /// The first configured source pointing at 169.254.169.254, in any daemon.
    pub fn oci_ntp(&self) -> Option<&Provenance> {
        self.daemons.iter().find_map(|d| d.oci_ntp.as_ref())
    }
}

// ---------------------------------------------------------------------------------------
// Firewall

/// An allowed port (or range `a:b` / `a-b` as written) with its protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenPort {
    pub protocol: String,
    pub port: String,
    pub at: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct Firewalld {
    pub units: Vec<&'static str>,
    /// /etc/firewalld/firewalld.conf, if present.
    pub config: Option<String>,
    pub default_zone: String,
    /// The `DefaultZone=` line, or `None` when firewalld's built-in default (public) applies.
    pub default_zone_at: Option<Provenance>,
    /// The zone file read (/etc/firewalld/zones first, then /usr/lib/firewalld/zones).
    pub zone_file: Option<String>,
    /// The zone's `target` attribute (`ACCEPT` opens everything), if set.
    pub zone_target: Option<(String, Provenance)>,
    pub services: Vec<(String, Provenance)>,
    pub ports: Vec<OpenPort>,
    /// `<rule>` elements (rich rules), not interpreted.
    pub rich_rules: Vec<Provenance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ufw {
    pub units: Vec<&'static str>,
    /// `ENABLED=yes` in /etc/ufw/ufw.conf.
    pub enabled: bool,
    pub enabled_at: Option<Provenance>,
    pub ports: Vec<OpenPort>,
}

/// A saved iptables or nftables rule set.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSet {
    pub units: Vec<&'static str>,
    pub files: Vec<String>,
    /// Rule lines (non-comment, non-empty) seen.
    pub rules: usize,
    /// The policy of the input chain (`ACCEPT`/`DROP`, `accept`/`drop`), where stated.
    pub input_policy: Option<(String, Provenance)>,
    /// An nftables chain hooked on input exists (without a policy it accepts everything).
    pub has_input_chain: bool,
    pub open_ports: Vec<OpenPort>,
    /// The first rule or policy that drops or rejects traffic: without one, the rule set
    /// filters nothing (Debian's default `/etc/nftables.conf` has an input chain and no rule).
    pub blocks: Option<Provenance>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FirewallFact {
    pub firewalld: Option<Firewalld>,
    pub ufw: Option<Ufw>,
    pub nftables: Option<RuleSet>,
    pub iptables: Option<RuleSet>,
}

// ---------------------------------------------------------------------------------------
// MAC

#[derive(Debug, Clone, Serialize)]
pub struct Selinux {
    /// `SELINUX=` value (enforcing, permissive, disabled).
    pub mode: Option<(String, Provenance)>,
    /// `SELINUXTYPE=` value (targeted, mls, …).
    pub policy: Option<(String, Provenance)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppArmor {
    /// Profiles directly in /etc/apparmor.d.
    pub profiles: usize,
    /// Profiles disabled through /etc/apparmor.d/disable.
    pub disabled_profiles: usize,
    pub units: Vec<&'static str>,
}

/// A kernel parameter that switches MAC off (or sets the LSM), where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelParam {
    pub param: String,
    /// `kernel command line` or the /etc/default/grub line.
    pub at: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct MacFact {
    pub selinux: Option<Selinux>,
    pub apparmor: Option<AppArmor>,
    /// `selinux=`, `enforcing=`, `apparmor=`, `security=`, `lsm=` on the kernel command line
    /// given, or in /etc/default/grub's `GRUB_CMDLINE_LINUX*`.
    pub kernel_params: Vec<KernelParam>,
}

// ---------------------------------------------------------------------------------------
// IMDS

/// Where the IMDS scan looks.
pub const IMDS_SCAN_PLACES: &[&str] = &[
    "/etc/systemd/system/*",
    "/usr/lib/systemd/system/*",
    "/etc/cron*",
    "/var/spool/cron/**",
    "/etc/rc.local",
    "/etc/rc.d/rc.local",
    "/etc/profile.d/*",
    "/usr/local/bin/*",
    "/usr/local/sbin/*",
    "/opt/*/bin/*",
    "/etc/cloud/**",
    "/root/*.sh",
    "/home/*/*.sh",
];
/// Strings that mean "instance metadata service v1" (or the OpenStack-compatible API).
pub const IMDS_V1_PATTERNS: &[&str] = &["169.254.169.254/opc/v1", "/opc/v1/", "/openstack/"];
/// Largest file scanned.
pub const IMDS_MAX_FILE: u64 = 1 << 20;
/// Most files scanned.
pub const IMDS_MAX_FILES: usize = 2000;
/// Most bytes read by the scan.
pub const IMDS_MAX_BYTES: u64 = 64 << 20;
/// Bytes looked at for a NUL (a binary is skipped).
const BINARY_PROBE: usize = 4096;
const IMDS_MAX_MATCHES: usize = 1000;
const IMDS_MAX_DEPTH: usize = 4;
const IMDS_TEXT_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImdsRef {
    pub at: Provenance,
    /// Which of [`IMDS_V1_PATTERNS`] matched.
    pub pattern: &'static str,
    /// The line, trimmed to 200 characters.
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImdsRefs {
    pub refs: Vec<ImdsRef>,
    pub files_scanned: usize,
    pub bytes_read: u64,
    pub binaries_skipped: usize,
    pub too_large_skipped: usize,
    /// A limit stopped the scan: the result is partial.
    pub truncated: bool,
}

// ---------------------------------------------------------------------------------------
// iSCSI

#[derive(Debug, Clone, Default, Serialize)]
pub struct IscsiFact {
    /// /etc/iscsi/iscsid.conf exists.
    pub config: Option<String>,
    /// `node.session.timeo.replacement_timeout` (last value set).
    pub replacement_timeout: Option<(String, Provenance)>,
    /// Node record directories found (/etc/iscsi/nodes/*, /var/lib/iscsi/nodes/*).
    pub node_records: Vec<String>,
}

// ---------------------------------------------------------------------------------------

struct Reader<'a> {
    files: &'a dyn Files,
    warnings: Vec<String>,
    config_files: usize,
}

/// Lines with 1-based numbers, invalid UTF-8 replaced.
fn lines(data: &[u8]) -> Vec<(u32, String)> {
    data.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let n = u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX);
            (n, String::from_utf8_lossy(l).into_owned())
        })
        .collect()
}

fn strip_comment<'a>(line: &'a str, marks: &[char]) -> &'a str {
    match line.find(marks) {
        Some(i) => &line[..i],
        None => line,
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn push_bounded<T>(v: &mut Vec<T>, x: T) {
    if v.len() < MAX_ITEMS {
        v.push(x);
    }
}

impl Reader<'_> {
    fn warn(&mut self, msg: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(msg);
        }
    }

    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        if self.config_files >= MAX_CONFIG_FILES {
            self.warn(format!(
                "{path}: not read, more than {MAX_CONFIG_FILES} files"
            ));
            return None;
        }
        self.config_files += 1;
        match self.files.read(path, MAX_CONFIG_FILE) {
            Ok(d) => d,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    fn glob(&mut self, pattern: &str) -> Vec<String> {
        match self.files.glob(pattern) {
            Ok(v) => v,
            Err(e) => {
                self.warn(format!("{pattern}: {e}"));
                Vec::new()
            }
        }
    }

    fn list(&mut self, dir: &str) -> Vec<crate::ListEntry> {
        match self.files.list_dir(dir) {
            Ok(Some(v)) => v,
            Ok(None) => Vec::new(),
            Err(e) => {
                self.warn(format!("{dir}: {e}"));
                Vec::new()
            }
        }
    }

    // -- time -------------------------------------------------------------------------

    fn time(&mut self) -> TimeFact {
        let mut t = TimeFact::default();
        for main in ["/etc/chrony.conf", "/etc/chrony/chrony.conf"] {
            if let Some(data) = self.read(main) {
                let mut d = TimeDaemon {
                    kind: TimeDaemonKind::Chrony,
                    units: vec!["chronyd.service", "chrony.service"],
                    config_files: Vec::new(),
                    sources: Vec::new(),
                    oci_ntp: None,
                    runtime_source_dirs: Vec::new(),
                };
                self.chrony_file(main, &data, 0, &mut d);
                finish_time(&mut d);
                t.daemons.push(d);
                break;
            }
        }
        for main in ["/etc/ntp.conf", "/etc/ntpsec/ntp.conf"] {
            if let Some(data) = self.read(main) {
                let mut d = TimeDaemon {
                    kind: TimeDaemonKind::Ntpd,
                    units: vec!["ntpd.service", "ntp.service", "ntpsec.service"],
                    config_files: Vec::new(),
                    sources: Vec::new(),
                    oci_ntp: None,
                    runtime_source_dirs: Vec::new(),
                };
                self.ntp_file(main, &data, 0, &mut d);
                finish_time(&mut d);
                t.daemons.push(d);
            }
        }
        if let Some(d) = self.timesyncd() {
            t.daemons.push(d);
        }
        t
    }

    fn chrony_file(&mut self, path: &str, data: &[u8], depth: usize, d: &mut TimeDaemon) {
        push_bounded(&mut d.config_files, path.to_string());
        for (n, line) in lines(data) {
            let line = strip_comment(&line, &['#', '!', ';', '%'])
                .trim()
                .to_string();
            let mut words = line.split_whitespace();
            let Some(key) = words.next() else { continue };
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "server" | "pool" | "peer" => {
                    if let Some(addr) = words.next() {
                        push_bounded(
                            &mut d.sources,
                            TimeSource {
                                kind: key.clone(),
                                address: addr.to_string(),
                                at: Provenance::line(path, n),
                            },
                        );
                    }
                }
                "include" | "confdir" | "sourcedir" if depth >= MAX_INCLUDE_DEPTH => {
                    self.warn(format!("{path}:{n}: includes nested too deeply"));
                }
                "include" => {
                    for pat in words {
                        for p in self.glob(pat) {
                            if let Some(data) = self.read(&p) {
                                self.chrony_file(&p, &data, depth + 1, d);
                            }
                        }
                    }
                }
                "confdir" | "sourcedir" => {
                    // Files with the same name: the first directory wins; read sorted by name.
                    let ext = if key == "confdir" {
                        ".conf"
                    } else {
                        ".sources"
                    };
                    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
                    for dir in words {
                        if dir.starts_with("/run") || dir.starts_with("/var/run") {
                            push_bounded(&mut d.runtime_source_dirs, dir.to_string());
                            continue;
                        }
                        for e in self.list(dir) {
                            if e.name.ends_with(ext) && e.kind != EntryKind::Dir {
                                by_name
                                    .entry(e.name.clone())
                                    .or_insert_with(|| join(dir, &e.name));
                            }
                        }
                    }
                    for p in by_name.into_values() {
                        if let Some(data) = self.read(&p) {
                            if key == "confdir" {
                                self.chrony_file(&p, &data, depth + 1, d);
                            } else {
                                // sources files hold only server/pool/peer lines.
                                self.chrony_sources(&p, &data, d);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn chrony_sources(&mut self, path: &str, data: &[u8], d: &mut TimeDaemon) {
        push_bounded(&mut d.config_files, path.to_string());
        for (n, line) in lines(data) {
            let line = strip_comment(&line, &['#', '!', ';', '%'])
                .trim()
                .to_string();
            let mut w = line.split_whitespace();
            if let (Some(k @ ("server" | "pool" | "peer")), Some(addr)) = (w.next(), w.next()) {
                push_bounded(
                    &mut d.sources,
                    TimeSource {
                        kind: k.to_string(),
                        address: addr.to_string(),
                        at: Provenance::line(path, n),
                    },
                );
            }
        }
    }

    fn ntp_file(&mut self, path: &str, data: &[u8], depth: usize, d: &mut TimeDaemon) {
        push_bounded(&mut d.config_files, path.to_string());
        for (n, line) in lines(data) {
            let line = strip_comment(&line, &['#']).trim().to_string();
            let mut words = line.split_whitespace();
            let Some(key) = words.next() else { continue };
            match key {
                "server" | "pool" | "peer" | "broadcastclient" => {
                    if let Some(addr) = words.next() {
                        // `server -4 host` takes an address-family flag first.
                        let addr = if addr == "-4" || addr == "-6" {
                            words.next().unwrap_or(addr)
                        } else {
                            addr
                        };
                        push_bounded(
                            &mut d.sources,
                            TimeSource {
                                kind: key.to_string(),
                                address: addr.to_string(),
                                at: Provenance::line(path, n),
                            },
                        );
                    }
                }
                "includefile" if depth < MAX_INCLUDE_DEPTH => {
                    if let Some(p) = words.next()
                        && let Some(data) = self.read(p)
                    {
                        self.ntp_file(p, &data, depth + 1, d);
                    }
                }
                _ => {}
            }
        }
    }

    /// timesyncd.conf(5): the main file, then drop-ins sorted by name across
    /// /etc, /run, /usr/local/lib, /usr/lib (`timesyncd.conf.d`), the last assignment wins.
    fn timesyncd(&mut self) -> Option<TimeDaemon> {
        let main = "/etc/systemd/timesyncd.conf";
        let mut paths = Vec::new();
        let main_present = {
            let d = self.read(main);
            d.map(|d| paths.push((main.to_string(), d))).is_some()
        };
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        for dir in [
            "/etc/systemd/timesyncd.conf.d",
            "/run/systemd/timesyncd.conf.d",
            "/usr/local/lib/systemd/timesyncd.conf.d",
            "/usr/lib/systemd/timesyncd.conf.d",
        ] {
            for e in self.list(dir) {
                if e.name.ends_with(".conf") {
                    by_name
                        .entry(e.name.clone())
                        .or_insert_with(|| join(dir, &e.name));
                }
            }
        }
        for p in by_name.into_values() {
            if let Some(d) = self.read(&p) {
                paths.push((p, d));
            }
        }
        if !main_present && paths.is_empty() {
            return None;
        }
        let mut ntp: Vec<TimeSource> = Vec::new();
        let mut fallback: Vec<TimeSource> = Vec::new();
        let mut config_files = Vec::new();
        for (path, data) in &paths {
            config_files.push(path.clone());
            let mut section = String::new();
            for (n, line) in lines(data) {
                let line = line.trim();
                if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                    continue;
                }
                if line.starts_with('[') {
                    section = line.trim_matches(|c| c == '[' || c == ']').to_string();
                    continue;
                }
                if section != "Time" {
                    continue;
                }
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                let dst = match k.trim() {
                    "NTP" => &mut ntp,
                    "FallbackNTP" => &mut fallback,
                    _ => continue,
                };
                let kind = k.trim().to_string();
                // An assignment replaces the list; the empty one resets it.
                dst.clear();
                for a in v.split_whitespace() {
                    push_bounded(
                        dst,
                        TimeSource {
                            kind: kind.clone(),
                            address: a.to_string(),
                            at: Provenance::line(path.clone(), n),
                        },
                    );
                }
            }
        }
        let mut d = TimeDaemon {
            kind: TimeDaemonKind::Timesyncd,
            units: vec!["systemd-timesyncd.service"],
            config_files,
            sources: ntp.into_iter().chain(fallback).collect(),
            oci_ntp: None,
            runtime_source_dirs: Vec::new(),
        };
        finish_time(&mut d);
        Some(d)
    }

    // -- firewall ---------------------------------------------------------------------

    fn firewall(&mut self) -> FirewallFact {
        FirewallFact {
            firewalld: self.firewalld(),
            ufw: self.ufw(),
            nftables: self.nftables(),
            iptables: self.iptables(),
        }
    }

    fn firewalld(&mut self) -> Option<Firewalld> {
        let conf = "/etc/firewalld/firewalld.conf";
        let conf_data = self.read(conf);
        let mut fw = Firewalld {
            units: vec!["firewalld.service"],
            config: conf_data.as_ref().map(|_| conf.to_string()),
            default_zone: "public".to_string(),
            default_zone_at: None,
            zone_file: None,
            zone_target: None,
            services: Vec::new(),
            ports: Vec::new(),
            rich_rules: Vec::new(),
        };
        if let Some(d) = &conf_data {
            for (n, line) in lines(d) {
                let line = line.trim();
                if let Some(v) = line.strip_prefix("DefaultZone=") {
                    let v = v.trim().trim_matches('"');
                    if !v.is_empty() && !v.contains('/') {
                        fw.default_zone = v.to_string();
                        fw.default_zone_at = Some(Provenance::line(conf, n));
                    }
                }
            }
        }
        let zone = fw.default_zone.clone();
        let mut zone_data = None;
        for dir in ["/etc/firewalld/zones", "/usr/lib/firewalld/zones"] {
            let p = format!("{dir}/{zone}.xml");
            if let Some(d) = self.read(&p) {
                fw.zone_file = Some(p);
                zone_data = Some(d);
                break;
            }
        }
        if conf_data.is_none() && zone_data.is_none() {
            return None;
        }
        if let (Some(path), Some(data)) = (fw.zone_file.clone(), zone_data) {
            let text = String::from_utf8_lossy(&data);
            let mut stack: Vec<String> = Vec::new();
            for tag in xml_tags(&text) {
                match tag.kind {
                    TagKind::Close => {
                        stack.pop();
                        continue;
                    }
                    TagKind::Open | TagKind::Empty => {}
                }
                let at = Provenance::line(path.clone(), tag.line);
                let parent = stack.last().map(String::as_str);
                match (tag.name.as_str(), parent) {
                    ("zone", _) => {
                        if let Some(t) = tag.attr("target") {
                            fw.zone_target = Some((t.to_string(), at.clone()));
                        }
                    }
                    ("service", Some("zone")) => {
                        if let Some(s) = tag.attr("name") {
                            push_bounded(&mut fw.services, (s.to_string(), at.clone()));
                        }
                    }
                    ("port", Some("zone")) => {
                        if let (Some(p), Some(proto)) = (tag.attr("port"), tag.attr("protocol")) {
                            push_bounded(
                                &mut fw.ports,
                                OpenPort {
                                    protocol: proto.to_string(),
                                    port: p.to_string(),
                                    at: at.clone(),
                                },
                            );
                        }
                    }
                    ("rule", _) => push_bounded(&mut fw.rich_rules, at.clone()),
                    _ => {}
                }
                if tag.kind == TagKind::Open && stack.len() < 64 {
                    stack.push(tag.name.clone());
                }
            }
        }
        Some(fw)
    }

    fn ufw(&mut self) -> Option<Ufw> {
        let conf = "/etc/ufw/ufw.conf";
        let data = self.read(conf)?;
        let mut u = Ufw {
            units: vec!["ufw.service"],
            enabled: false,
            enabled_at: None,
            ports: Vec::new(),
        };
        for (n, line) in lines(&data) {
            if let Some(v) = line.trim().strip_prefix("ENABLED=") {
                u.enabled = v.trim().trim_matches(|c| c == '"' || c == '\'') == "yes";
                u.enabled_at = Some(Provenance::line(conf, n));
            }
        }
        for p in ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"] {
            if let Some(d) = self.read(p) {
                let rs = parse_iptables_save(p, &d);
                for port in rs.open_ports {
                    push_bounded(&mut u.ports, port);
                }
            }
        }
        Some(u)
    }

    fn iptables(&mut self) -> Option<RuleSet> {
        let mut out: Option<RuleSet> = None;
        for p in [
            "/etc/sysconfig/iptables",
            "/etc/sysconfig/ip6tables",
            "/etc/iptables/rules.v4",
            "/etc/iptables/rules.v6",
        ] {
            let Some(d) = self.read(p) else { continue };
            let rs = parse_iptables_save(p, &d);
            let o = out.get_or_insert_with(|| RuleSet {
                units: vec![
                    "iptables.service",
                    "ip6tables.service",
                    "netfilter-persistent.service",
                ],
                files: Vec::new(),
                rules: 0,
                input_policy: None,
                has_input_chain: false,
                open_ports: Vec::new(),
                blocks: None,
            });
            o.files.push(p.to_string());
            o.rules = o.rules.saturating_add(rs.rules);
            if o.input_policy.is_none() {
                o.input_policy = rs.input_policy;
            }
            o.has_input_chain |= rs.has_input_chain;
            if o.blocks.is_none() {
                o.blocks = rs.blocks;
            }
            for port in rs.open_ports {
                push_bounded(&mut o.open_ports, port);
            }
        }
        out
    }

    fn nftables(&mut self) -> Option<RuleSet> {
        let mut out: Option<RuleSet> = None;
        for p in ["/etc/nftables.conf", "/etc/sysconfig/nftables.conf"] {
            let Some(d) = self.read(p) else { continue };
            let rs = out.get_or_insert_with(|| RuleSet {
                units: vec!["nftables.service"],
                files: Vec::new(),
                rules: 0,
                input_policy: None,
                has_input_chain: false,
                open_ports: Vec::new(),
                blocks: None,
            });
            self.nft_file(p, &d, 0, rs);
        }
        out
    }

    fn nft_file(&mut self, path: &str, data: &[u8], depth: usize, rs: &mut RuleSet) {
        push_bounded(&mut rs.files, path.to_string());
        let mut in_input_chain = false;
        for (n, line) in lines(data) {
            let line = strip_comment(&line, &['#']).trim().to_string();
            if line.is_empty() {
                continue;
            }
            if let Some(inc) = line.strip_prefix("include") {
                let pat = inc.trim().trim_matches('"');
                if depth >= MAX_INCLUDE_DEPTH {
                    self.warn(format!("{path}:{n}: includes nested too deeply"));
                    continue;
                }
                let paths = if pat.contains(['*', '?', '[']) {
                    self.glob(pat)
                } else {
                    vec![pat.to_string()]
                };
                for p in paths {
                    if let Some(d) = self.read(&p) {
                        self.nft_file(&p, &d, depth + 1, rs);
                    }
                }
                continue;
            }
            let at = Provenance::line(path, n);
            if line.starts_with("chain ") {
                in_input_chain = false;
            }
            for stmt in line.split(';') {
                let stmt = stmt.trim();
                if stmt.starts_with("type ") && stmt.contains("hook input") {
                    rs.has_input_chain = true;
                    in_input_chain = true;
                }
                if let Some(p) = stmt.strip_prefix("policy ")
                    && in_input_chain
                    && rs.input_policy.is_none()
                {
                    rs.input_policy = Some((p.trim().to_string(), at.clone()));
                }
            }
            if rs.blocks.is_none()
                && line
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|w| w == "drop" || w == "reject")
            {
                rs.blocks = Some(at.clone());
            }
            if line.contains("dport") && line.contains("accept") {
                rs.rules = rs.rules.saturating_add(1);
                for port in nft_dports(&line, &at) {
                    push_bounded(&mut rs.open_ports, port);
                }
            } else if !line.ends_with('{') && line != "}" {
                rs.rules = rs.rules.saturating_add(1);
            }
        }
    }

    // -- MAC --------------------------------------------------------------------------

    fn mac(&mut self, cmdline: Option<&str>) -> MacFact {
        let selinux = self.read("/etc/selinux/config").map(|d| {
            let mut s = Selinux {
                mode: None,
                policy: None,
            };
            for (n, line) in lines(&d) {
                let line = line.trim();
                let at = Provenance::line("/etc/selinux/config", n);
                if let Some(v) = line.strip_prefix("SELINUX=") {
                    s.mode = Some((v.trim().trim_matches('"').to_string(), at));
                } else if let Some(v) = line.strip_prefix("SELINUXTYPE=") {
                    s.policy = Some((v.trim().trim_matches('"').to_string(), at));
                }
            }
            s
        });
        let entries = self.list("/etc/apparmor.d");
        let apparmor = (!entries.is_empty()).then(|| {
            let profiles = entries
                .iter()
                .filter(|e| e.kind == EntryKind::File && !e.name.starts_with('.'))
                .count();
            let disabled_profiles = self.list("/etc/apparmor.d/disable").len();
            AppArmor {
                profiles,
                disabled_profiles,
                units: vec!["apparmor.service"],
            }
        });
        let mut kernel_params = Vec::new();
        let is_mac_param = |w: &str| {
            ["selinux=", "enforcing=", "apparmor=", "security=", "lsm="]
                .iter()
                .any(|p| w.starts_with(p))
        };
        if let Some(c) = cmdline {
            for w in c.split_whitespace().filter(|w| is_mac_param(w)) {
                push_bounded(
                    &mut kernel_params,
                    KernelParam {
                        param: w.to_string(),
                        at: Provenance::file("kernel command line"),
                    },
                );
            }
        }
        if let Some(d) = self.read("/etc/default/grub") {
            for (n, line) in lines(&d) {
                let t = line.trim();
                if !t.starts_with("GRUB_CMDLINE_LINUX") {
                    continue;
                }
                let Some((_, v)) = t.split_once('=') else {
                    continue;
                };
                for w in v
                    .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                    .filter(|w| is_mac_param(w))
                {
                    push_bounded(
                        &mut kernel_params,
                        KernelParam {
                            param: w.to_string(),
                            at: Provenance::line("/etc/default/grub", n),
                        },
                    );
                }
            }
        }
        MacFact {
            selinux,
            apparmor,
            kernel_params,
        }
    }

    // -- iSCSI ------------------------------------------------------------------------

    fn iscsi(&mut self) -> IscsiFact {
        let conf = "/etc/iscsi/iscsid.conf";
        let mut f = IscsiFact::default();
        if let Some(d) = self.read(conf) {
            f.config = Some(conf.to_string());
            for (n, line) in lines(&d) {
                let t = strip_comment(&line, &['#']).trim();
                if let Some((k, v)) = t.split_once('=')
                    && k.trim() == "node.session.timeo.replacement_timeout"
                {
                    f.replacement_timeout = Some((v.trim().to_string(), Provenance::line(conf, n)));
                }
            }
        }
        for dir in ["/etc/iscsi/nodes", "/var/lib/iscsi/nodes"] {
            for e in self.list(dir) {
                push_bounded(&mut f.node_records, join(dir, &e.name));
            }
        }
        f
    }
}

fn finish_time(d: &mut TimeDaemon) {
    d.oci_ntp = d
        .sources
        .iter()
        .find(|s| s.address == OCI_NTP)
        .map(|s| s.at.clone());
}

/// `iptables-save` / ufw rules: ACCEPT rules with `--dport`/`--dports`, and chain policies.
fn parse_iptables_save(path: &str, data: &[u8]) -> RuleSet {
    let mut rs = RuleSet {
        units: Vec::new(),
        files: vec![path.to_string()],
        rules: 0,
        input_policy: None,
        has_input_chain: false,
        open_ports: Vec::new(),
        blocks: None,
    };
    for (n, line) in lines(data) {
        let t = line.trim();
        let at = Provenance::line(path, n);
        if let Some(rest) = t.strip_prefix(":INPUT ") {
            rs.has_input_chain = true;
            if let Some(p) = rest.split_whitespace().next() {
                if matches!(p, "DROP" | "REJECT") && rs.blocks.is_none() {
                    rs.blocks = Some(at.clone());
                }
                rs.input_policy = Some((p.to_string(), at));
            }
            continue;
        }
        if !t.starts_with("-A ") {
            continue;
        }
        rs.rules = rs.rules.saturating_add(1);
        let words: Vec<&str> = t.split_whitespace().collect();
        let target = words
            .windows(2)
            .find(|w| w[0] == "-j" || w[0] == "--jump")
            .map(|w| w[1]);
        if matches!(target, Some("DROP" | "REJECT")) && rs.blocks.is_none() {
            rs.blocks = Some(at.clone());
        }
        if target != Some("ACCEPT") {
            continue;
        }
        let proto = words
            .windows(2)
            .find(|w| w[0] == "-p" || w[0] == "--protocol")
            .map(|w| w[1])
            .unwrap_or("all");
        for w in words.windows(2) {
            if matches!(w[0], "--dport" | "--dports" | "--destination-port") {
                for p in w[1].split(',') {
                    push_bounded(
                        &mut rs.open_ports,
                        OpenPort {
                            protocol: proto.to_string(),
                            port: p.to_string(),
                            at: at.clone(),
                        },
                    );
                }
            }
        }
    }
    rs
}

/// `tcp dport 22 accept`, `tcp dport { 22, 80-90 } accept`, `th dport 53`, `meta l4proto udp`.
fn nft_dports(line: &str, at: &Provenance) -> Vec<OpenPort> {
    let mut out = Vec::new();
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut i = 0;
    while i < words.len() {
        if words[i] == "dport" {
            let proto = if i > 0 { words[i - 1] } else { "any" };
            let mut j = i + 1;
            let mut ports = Vec::new();
            if words.get(j) == Some(&"{") {
                j += 1;
                while j < words.len() && words[j] != "}" {
                    ports.push(words[j]);
                    j += 1;
                }
            } else if let Some(w) = words.get(j) {
                ports.push(w.trim_matches(|c| c == '{' || c == '}'));
            }
            for p in ports {
                let p = p.trim_matches(|c| c == '{' || c == '}');
                if !p.is_empty() {
                    out.push(OpenPort {
                        protocol: proto.to_string(),
                        port: p.to_string(),
                        at: at.clone(),
                    });
                }
            }
            i = j;
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// A tiny XML tag reader for firewalld zone files: element names, attributes, line numbers.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Open,
    Close,
    Empty,
}

#[derive(Debug, Clone)]
struct Tag {
    name: String,
    kind: TagKind,
    attrs: Vec<(String, String)>,
    line: u32,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The tags of an XML text, comments, processing instructions, declarations and CDATA
/// skipped; malformed input stops the reading (the tags so far are returned).
fn xml_tags(text: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line: u32 = 1;
    let count_lines = |s: &str| u32::try_from(s.matches('\n').count()).unwrap_or(u32::MAX);
    while let Some(lt) = rest.find('<') {
        line = line.saturating_add(count_lines(&rest[..lt]));
        rest = &rest[lt..];
        let skip_to = |rest: &str, end: &str| rest.find(end).map(|i| i + end.len());
        let consumed = if rest.starts_with("<!--") {
            skip_to(rest, "-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to(rest, "]]>")
        } else if rest.starts_with("<?") {
            skip_to(rest, "?>")
        } else if rest.starts_with("<!") {
            skip_to(rest, ">")
        } else {
            None
        };
        if let Some(c) = consumed {
            line = line.saturating_add(count_lines(&rest[..c]));
            rest = &rest[c..];
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            break;
        }
        // A tag: up to the first '>' outside quotes.
        let bytes = rest.as_bytes();
        let mut quote = None;
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), _) if b == q => quote = None,
                (None, b'>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let inner = &rest[1..end];
        let tag_line = line;
        line = line.saturating_add(count_lines(&rest[..=end]));
        rest = &rest[end + 1..];
        let (kind, body) = if let Some(b) = inner.strip_prefix('/') {
            (TagKind::Close, b)
        } else if let Some(b) = inner.strip_suffix('/') {
            (TagKind::Empty, b)
        } else {
            (TagKind::Open, inner)
        };
        let body = body.trim();
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = body[..name_end].to_string();
        let attrs = xml_attrs(&body[name_end..]);
        if out.len() < MAX_ITEMS {
            out.push(Tag {
                name,
                kind,
                attrs,
                line: tag_line,
            });
        } else {
            break;
        }
    }
    out
}

fn xml_attrs(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        let Some(eq) = s.find('=') else { break };
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let Some(close) = s[1..].find(q) else { break };
        let value = xml_unescape(&s[1..1 + close]);
        s = &s[close + 2..];
        if out.len() < 64 {
            out.push((key, value));
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------
// IMDS scan

struct Scan<'a> {
    files: &'a dyn Files,
    out: ImdsRefs,
    seen: std::collections::BTreeSet<String>,
}

impl Scan<'_> {
    fn full(&mut self) -> bool {
        if self.out.files_scanned >= IMDS_MAX_FILES || self.out.bytes_read >= IMDS_MAX_BYTES {
            self.out.truncated = true;
            return true;
        }
        false
    }

    fn file(&mut self, path: &str, warnings: &mut Vec<String>) {
        if self.full() || !self.seen.insert(path.to_string()) {
            return;
        }
        let head = match self.files.head(path, BINARY_PROBE) {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("{path}: {e}"));
                }
                return;
            }
        };
        self.out.files_scanned += 1;
        self.out.bytes_read = self.out.bytes_read.saturating_add(head.len() as u64);
        if head.contains(&0) {
            self.out.binaries_skipped += 1;
            return;
        }
        let data = if head.len() < BINARY_PROBE {
            head
        } else {
            match self.files.read(path, IMDS_MAX_FILE) {
                Ok(Some(d)) => {
                    self.out.bytes_read = self.out.bytes_read.saturating_add(d.len() as u64);
                    d
                }
                Ok(None) => return,
                Err(_) => {
                    self.out.too_large_skipped += 1;
                    return;
                }
            }
        };
        if data.contains(&0) {
            self.out.binaries_skipped += 1;
            return;
        }
        for (n, line) in lines(&data) {
            let Some(pattern) = IMDS_V1_PATTERNS.iter().copied().find(|p| line.contains(p)) else {
                continue;
            };
            if self.out.refs.len() >= IMDS_MAX_MATCHES {
                self.out.truncated = true;
                return;
            }
            let t = line.trim();
            let text: String = t.chars().take(IMDS_TEXT_MAX).collect();
            self.out.refs.push(ImdsRef {
                at: Provenance::line(path, n),
                pattern,
                text,
            });
        }
    }

    /// A directory's regular files (and, below `depth`, its subdirectories).
    fn walk(&mut self, dir: &str, depth: usize, warnings: &mut Vec<String>) {
        if self.full() {
            return;
        }
        let entries = match self.files.list_dir(dir) {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(e) => {
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("{dir}: {e}"));
                }
                return;
            }
        };
        for e in entries {
            let p = join(dir, &e.name);
            match e.kind {
                EntryKind::File => self.file(&p, warnings),
                EntryKind::Dir if depth > 0 => self.walk(&p, depth - 1, warnings),
                _ => {}
            }
            if self.full() {
                return;
            }
        }
    }

    /// A glob's matches: files scanned, directories walked `depth` levels.
    fn place(&mut self, pattern: &str, depth: usize, warnings: &mut Vec<String>) {
        let paths = match self.files.glob(pattern) {
            Ok(v) => v,
            Err(e) => {
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("{pattern}: {e}"));
                }
                return;
            }
        };
        for p in paths {
            // Symlinks in unit directories point at vendor units scanned on their own.
            if matches!(self.files.read_link(&p), Ok(Some(_))) {
                continue;
            }
            match self.files.list_dir(&p) {
                Ok(Some(_)) => self.walk(&p, depth, warnings),
                _ => self.file(&p, warnings),
            }
            if self.full() {
                return;
            }
        }
    }
}

fn scan_imds(files: &dyn Files, warnings: &mut Vec<String>) -> ImdsRefs {
    let mut s = Scan {
        files,
        out: ImdsRefs::default(),
        seen: Default::default(),
    };
    for place in IMDS_SCAN_PLACES {
        let (pattern, depth) = match place.strip_suffix("/**") {
            Some(dir) => (dir.to_string(), IMDS_MAX_DEPTH),
            None => ((*place).to_string(), 1),
        };
        // `dir/*` matches are files (or unit drop-in dirs, walked one level).
        s.place(&pattern, depth, warnings);
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_reader() {
        let t = xml_tags(
            "<?xml version=\"1.0\"?>\n<!-- c > -->\n<zone target='ACCEPT'>\n  <service name=\"ssh\"/>\n  <port protocol=\"tcp\" port=\"8443\"/>\n</zone>\n",
        );
        let names: Vec<_> = t
            .iter()
            .map(|t| (t.name.as_str(), t.kind, t.line))
            .collect();
        assert_eq!(
            names,
            [
                ("zone", TagKind::Open, 3),
                ("service", TagKind::Empty, 4),
                ("port", TagKind::Empty, 5),
                ("zone", TagKind::Close, 6)
            ]
        );
        assert_eq!(t[0].attr("target"), Some("ACCEPT"));
        assert!(xml_tags("<a b=\"unterminated").is_empty());
        assert!(xml_tags("<!-- never closed").is_empty());
    }

    #[test]
    fn nft_ports() {
        let at = Provenance::line("/x", 1);
        let p = nft_dports("tcp dport { 22, 80-90 } ct state new accept", &at);
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.protocol.as_str(), p.port.as_str()))
            .collect();
        assert_eq!(got, [("tcp", "22"), ("tcp", "80-90")]);
        let p = nft_dports("udp dport 53 accept", &at);
        assert_eq!(p[0].port, "53");
    }
}
