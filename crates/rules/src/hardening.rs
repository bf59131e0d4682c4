//! Recommended hardening (oci-image-rules.md section 3): time from OCI's NTP service
//! (REC-NTP), a firewall on (REC-FIREWALL), mandatory access control on (REC-MAC), iSCSI
//! timeouts for iSCSI-booted images (REC-ISCSI). Whether a daemon starts is systemd's
//! answer (facts/systemd), not the presence of its configuration.

use preflight_report::{Area, Level};

use crate::sources::{IMAGES, MARKETPLACE_IMAGES};
use crate::{GuestFacts, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const REC_NTP: Rule = Rule {
    id: "REC-NTP",
    area: Area::Hardening,
    level: Level::Warning,
    title: "Time comes from OCI's NTP service, 169.254.169.254",
    source: IMAGES,
    check: ntp,
};

pub const REC_FIREWALL: Rule = Rule {
    id: "REC-FIREWALL",
    area: Area::Hardening,
    level: Level::Warning,
    title: "An OS firewall is enabled, opening only the ports the listing documents",
    source: MARKETPLACE_IMAGES,
    check: firewall,
};

pub const REC_MAC: Rule = Rule {
    id: "REC-MAC",
    area: Area::Hardening,
    level: Level::Warning,
    title: "Mandatory access control (SELinux enforcing, or AppArmor) is on",
    source: MARKETPLACE_IMAGES,
    check: mac,
};

pub const REC_ISCSI: Rule = Rule {
    id: "REC-ISCSI",
    area: Area::Hardening,
    level: Level::Warning,
    title: "iSCSI-booted images keep their boot volume through a brief path loss",
    source: IMAGES,
    check: iscsi,
};

/// Any of these units starts at boot.
fn starts(g: &GuestFacts, units: &[&str]) -> Option<String> {
    units
        .iter()
        .find(|u| g.systemd.enabled_at_boot(u))
        .map(|u| u.to_string())
}

fn ntp(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let time = &g.hardening.time;
    let running: Vec<_> = time
        .daemons
        .iter()
        .filter(|d| starts(g, &d.units).is_some())
        .collect();
    if running.iter().any(|d| d.oci_ntp.is_some()) {
        return Outcome::Pass;
    }
    let remedy = "Point the time daemon at OCI's NTP service: `server 169.254.169.254 iburst` in /etc/chrony.conf (or /etc/chrony/chrony.conf), `NTP=169.254.169.254` in /etc/systemd/timesyncd.conf, or `server 169.254.169.254 iburst` in /etc/ntp.conf; and enable the daemon";
    if running.is_empty() {
        let mut hit = Hit::new(
            "No time daemon starts at boot: the instance's clock drifts",
            remedy,
        );
        for d in &time.daemons {
            hit = hit.at(
                d.config_files.first().cloned().unwrap_or_default(),
                None,
                format!("configured, but none of {} is enabled", d.units.join(", ")),
            );
        }
        if time.daemons.is_empty() {
            hit = hit.at(
                "/etc",
                None,
                "no chrony, ntpd or systemd-timesyncd configuration",
            );
        }
        return outcome(vec![hit]);
    }
    let mut hit = Hit::new(
        "The time daemon does not use OCI's NTP service (169.254.169.254)",
        remedy,
    );
    for d in &running {
        for s in d.sources.iter().take(6) {
            hit = hit.at(
                s.at.path.clone(),
                s.at.line,
                format!("{} {}", s.kind, s.address),
            );
        }
        if d.sources.is_empty() {
            hit = hit.at(
                d.config_files.first().cloned().unwrap_or_default(),
                None,
                "no server configured",
            );
        }
    }
    outcome(vec![hit])
}

fn firewall(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let f = &g.hardening.firewall;
    // (name, enabled unit or setting, open ports with where)
    let mut on: Vec<(&str, String, Vec<String>)> = Vec::new();
    let ports = |ps: &[preflight_facts::hardening::OpenPort]| -> Vec<String> {
        ps.iter()
            .map(|p| format!("{}/{} ({})", p.port, p.protocol, p.at))
            .collect()
    };
    if let Some(fw) = &f.firewalld
        && let Some(u) = starts(g, &fw.units)
    {
        let mut open: Vec<String> = fw
            .services
            .iter()
            .map(|(s, at)| format!("service {s} ({at})"))
            .collect();
        open.extend(ports(&fw.ports));
        on.push((
            "firewalld",
            format!("{u} enabled, zone {}", fw.default_zone),
            open,
        ));
    }
    if let Some(u) = &f.ufw
        && u.enabled
    {
        on.push((
            "ufw",
            u.enabled_at
                .as_ref()
                .map(|a| format!("ENABLED=yes at {a}"))
                .unwrap_or_else(|| "enabled".into()),
            ports(&u.ports),
        ));
    }
    // A rule set loaded at boot that drops nothing filters nothing (Debian's default
    // nftables.conf: an input chain with no rule and no policy).
    let mut permissive = Vec::new();
    for (name, rs) in [("nftables", &f.nftables), ("iptables", &f.iptables)] {
        if let Some(rs) = rs
            && let Some(u) = starts(g, &rs.units)
            && rs.rules > 0
        {
            match &rs.blocks {
                Some(at) => on.push((
                    name,
                    format!("{u} enabled, drops or rejects from {at}"),
                    ports(&rs.open_ports),
                )),
                None => permissive.push((name, u, rs.files.first().cloned().unwrap_or_default())),
            }
        }
    }
    if on.is_empty() {
        let remedy = if permissive.is_empty() {
            "Enable the distribution's firewall and open only the ports the listing documents: systemctl enable firewalld && firewall-offline-cmd --add-service=ssh (Oracle Linux, RHEL), ufw allow OpenSSH && sed -i 's/^ENABLED=no/ENABLED=yes/' /etc/ufw/ufw.conf (Ubuntu), or an nftables ruleset with systemctl enable nftables (Debian)"
        } else {
            "Make the input chain drop what it does not accept: in /etc/nftables.conf give it `policy drop;` and accept rules for `ct state established,related`, `iif lo` and the ports the listing documents (tcp dport 22); or -P INPUT DROP with ACCEPT rules for iptables"
        };
        let mut hit = Hit::new(
            if permissive.is_empty() {
                "No firewall is enabled"
            } else {
                "The firewall that starts at boot accepts everything: no rule drops or rejects"
            },
            remedy,
        );
        let mut any = false;
        for (name, unit, file) in &permissive {
            hit = hit.at(
                file.clone(),
                None,
                format!("{name}: {unit} enabled, but its rules drop or reject nothing (no drop/reject rule, no drop policy)"),
            );
            any = true;
        }
        if let Some(fw) = &f.firewalld {
            hit = hit.at(
                fw.config.clone().unwrap_or_else(|| "firewalld".into()),
                None,
                format!(
                    "firewalld configured, none of {} enabled",
                    fw.units.join(", ")
                ),
            );
            any = true;
        }
        if let Some(u) = &f.ufw {
            hit = hit.at(
                u.enabled_at
                    .as_ref()
                    .map(|a| a.path.clone())
                    .unwrap_or_else(|| "/etc/ufw/ufw.conf".into()),
                u.enabled_at.as_ref().and_then(|a| a.line),
                "ufw not enabled",
            );
            any = true;
        }
        if !any {
            hit = hit.at(
                "/etc",
                None,
                "no firewalld, ufw, nftables or iptables configuration is enabled",
            );
        }
        return outcome(vec![hit]);
    }
    // Enabled: say which ports are open, for the listing's documentation.
    let mut hit = Hit::new(
        format!(
            "Firewall enabled ({}): document the open ports in the listing",
            on.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
        ),
        "Check that the listing's usage instructions name exactly these ports",
    )
    .level(Level::Info);
    for (name, how, open) in &on {
        hit = hit.at(
            name.to_string(),
            None,
            format!(
                "{how}; open: {}",
                if open.is_empty() {
                    "nothing listed".to_string()
                } else {
                    open.join(", ")
                }
            ),
        );
    }
    outcome(vec![hit])
}

fn mac(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let m = &g.hardening.mac;
    let off_params: Vec<_> = m
        .kernel_params
        .iter()
        .filter(|p| matches!(p.param.as_str(), "selinux=0" | "enforcing=0" | "apparmor=0"))
        .collect();
    let selinux = m.selinux.as_ref().and_then(|s| s.mode.as_ref());
    let apparmor_on = m
        .apparmor
        .as_ref()
        .is_some_and(|a| a.profiles > 0 && starts(g, &a.units).is_some());
    let mut hits = Vec::new();
    if !off_params.is_empty() {
        let mut hit = Hit::new(
            "The kernel command line switches mandatory access control off",
            "Remove selinux=0 / enforcing=0 / apparmor=0 from GRUB_CMDLINE_LINUX in /etc/default/grub and regenerate the boot configuration",
        );
        for p in off_params {
            // The default boot entry's command line: cite the entry.
            let (path, line) = match (&g.boot, p.at.path.as_str()) {
                (Ok(b), "kernel command line") => split_source(&b.source),
                _ => (p.at.path.clone(), p.at.line),
            };
            hit = hit.at(path, line, p.param.clone());
        }
        hits.push(hit);
    }
    match selinux {
        Some((mode, _)) if mode == "enforcing" => {}
        Some((mode, at)) => hits.push(
            Hit::new(
                format!("SELinux is {mode}, not enforcing"),
                "Set SELINUX=enforcing in /etc/selinux/config (and relabel: touch /.autorelabel before capture)",
            )
            .at(at.path.clone(), at.line, format!("SELINUX={mode}")),
        ),
        None if !apparmor_on => {
            let mut hit = Hit::new(
                "Neither SELinux nor AppArmor is on",
                "Enable the distribution's mandatory access control: AppArmor on Debian and Ubuntu (apt-get install apparmor apparmor-profiles; systemctl unmask apparmor; systemctl enable apparmor), SELinux enforcing on the RHEL family",
            );
            match &m.apparmor {
                Some(a) => {
                    for u in &a.units {
                        let unit = g.systemd.unit(u);
                        if unit.state != preflight_facts::systemd::UnitState::NotFound {
                            hit = hit.at(
                                unit.path.clone().unwrap_or_else(|| u.to_string()),
                                None,
                                format!("{u}: {} ({} profiles in /etc/apparmor.d)", unit.state.as_str(), a.profiles),
                            );
                        }
                    }
                    if a.profiles == 0 {
                        hit = hit.at("/etc/apparmor.d", None, "no AppArmor profiles");
                    }
                }
                None => {
                    hit = hit.at("/etc/selinux/config", None, "no SELinux configuration and no AppArmor");
                }
            }
            hits.push(hit);
        }
        None => {}
    }
    outcome(hits)
}

/// Oracle's iSCSI-booted platform images set `node.session.timeo.replacement_timeout` to
/// 6000 s so a path loss does not fail the boot volume.
const ISCSI_TIMEOUT: u64 = 6000;

fn iscsi(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let iscsi = &g.hardening.iscsi;
    let native = crate::mode::decide(i).native.possible;
    let Some(conf) = &iscsi.config else {
        return if native {
            outcome(vec![
                Hit::new(
                    "The image can boot from iSCSI (NATIVE) but has no /etc/iscsi/iscsid.conf",
                    format!("Install open-iscsi/iscsi-initiator-utils and set node.session.timeo.replacement_timeout = {ISCSI_TIMEOUT} in /etc/iscsi/iscsid.conf"),
                )
                .at("/etc/iscsi/iscsid.conf", None, "missing"),
            ])
        } else {
            Outcome::Pass
        };
    };
    if !native {
        // Not an iSCSI-booted image: data volumes attach paravirtualized or by the
        // customer's own iscsiadm, with their own settings.
        return Outcome::Pass;
    }
    let value = iscsi
        .replacement_timeout
        .as_ref()
        .and_then(|(v, at)| v.trim().parse::<u64>().ok().map(|n| (n, at)));
    match value {
        Some((n, _)) if n >= ISCSI_TIMEOUT => Outcome::Pass,
        other => outcome(vec![
            Hit::new(
                "The iSCSI session gives up on a lost path quickly: the boot volume can fail",
                format!("Set node.session.timeo.replacement_timeout = {ISCSI_TIMEOUT} in {conf}"),
            )
            .at(
                other
                    .map(|(_, at)| at.path.clone())
                    .unwrap_or_else(|| conf.clone()),
                other.and_then(|(_, at)| at.line),
                match other {
                    Some((n, _)) => format!("replacement_timeout = {n}"),
                    None => "replacement_timeout not set (open-iscsi's default is 120 s)".into(),
                },
            ),
        ]),
    }
}

/// `file:line` as the boot fact writes an entry's source.
fn split_source(source: &str) -> (String, Option<u32>) {
    match source.rsplit_once(':') {
        Some((path, line)) if line.chars().all(|c| c.is_ascii_digit()) && !line.is_empty() => {
            (path.to_string(), line.parse().ok())
        }
        _ => (source.to_string(), None),
    }
}
