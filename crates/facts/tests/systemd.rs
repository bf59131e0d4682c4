//! The systemd reader against the real `systemctl --root=DIR` (systemd 252 here): guest trees
//! are built on disk, changed with `systemctl enable/disable/mask/preset/set-default`, and
//! every unit's `systemctl is-enabled` answer is compared with ours.

use preflight_facts::systemd::{Systemd, UnitState};
use preflight_facts::{EntryKind, FileError, Files, ListEntry};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------
// A guest over a host directory: symlinks (absolute ones too) resolved inside the root.

struct HostFiles {
    root: PathBuf,
}

impl HostFiles {
    /// The host path of a guest path, symlinks in every component (the last one only if
    /// `follow_last`) resolved inside the root.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<PathBuf, FileError> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(c);
            if todo.is_empty() && !follow_last {
                break;
            }
            let host = self.root.join(cur.join("/"));
            if let Ok(t) = std::fs::read_link(&host) {
                hops += 1;
                if hops > 40 {
                    return Err(FileError(format!("{path}: too many symlinks")));
                }
                cur.pop();
                let t = t.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    cur.clear();
                }
                todo.extend(
                    t.split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(String::from),
                );
            }
        }
        Ok(self.root.join(cur.join("/")))
    }
}

impl Files for HostFiles {
    fn read(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, FileError> {
        let p = self.resolve(path, true)?;
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => {
                if m.len() > max {
                    return Err(FileError(format!("{path}: larger than {max}")));
                }
                std::fs::read(&p)
                    .map(Some)
                    .map_err(|e| FileError(e.to_string()))
            }
            _ => Ok(None),
        }
    }
    fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, FileError> {
        Ok(self.read(path, u64::MAX)?.map(|mut d| {
            d.truncate(n);
            d
        }))
    }
    fn list_dir(&self, path: &str) -> Result<Option<Vec<ListEntry>>, FileError> {
        let p = self.resolve(path, true)?;
        let Ok(rd) = std::fs::read_dir(&p) else {
            return Ok(None);
        };
        let mut out: Vec<ListEntry> = rd
            .flatten()
            .map(|e| {
                let ft = e.file_type().ok();
                let kind = match ft {
                    Some(t) if t.is_symlink() => EntryKind::Symlink,
                    Some(t) if t.is_dir() => EntryKind::Dir,
                    Some(t) if t.is_file() => EntryKind::File,
                    _ => EntryKind::Other,
                };
                ListEntry {
                    name: e.file_name().to_string_lossy().into_owned(),
                    kind,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(out))
    }
    fn read_link(&self, path: &str) -> Result<Option<String>, FileError> {
        let p = self.resolve(path, false)?;
        Ok(std::fs::read_link(p)
            .ok()
            .map(|t| t.to_string_lossy().into_owned()))
    }
}

// ---------------------------------------------------------------------------------------
// Building trees and asking systemctl.

fn fresh_dir(name: &str) -> PathBuf {
    let d = preflight_fixtures::fixtures_dir()
        .join("systemd-trees")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn symlink(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

fn systemctl(root: &Path, args: &[&str]) {
    let out = Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .args(args)
        .output()
        .expect("systemctl");
    assert!(
        out.status.success(),
        "systemctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `systemctl is-enabled` output, or "not-found" when it fails without printing a state.
fn is_enabled(root: &Path, unit: &str) -> String {
    let out = Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .args(["is-enabled", unit])
        .output()
        .expect("systemctl");
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if s.is_empty() { "not-found".into() } else { s }
}

fn have_systemctl() -> bool {
    Command::new("systemctl").arg("--version").output().is_ok()
}

fn service(desc: &str, install: &str) -> String {
    format!("[Unit]\nDescription={desc}\n\n[Service]\nExecStart=/bin/true\n\n{install}")
}

fn target(desc: &str, unit_extra: &str) -> String {
    format!("[Unit]\nDescription={desc}\n{unit_extra}")
}

/// The targets every tree has (as systemd ships them).
fn base_targets(root: &Path, dir: &str) {
    let d = |n: &str| format!("{dir}/{n}");
    write(
        root,
        &d("sysinit.target"),
        &target("System Initialization", ""),
    );
    write(
        root,
        &d("basic.target"),
        &target(
            "Basic System",
            "Requires=sysinit.target\nWants=sockets.target timers.target\n",
        ),
    );
    write(root, &d("sockets.target"), &target("Sockets", ""));
    write(root, &d("timers.target"), &target("Timers", ""));
    write(root, &d("getty.target"), &target("Login Prompts", ""));
    write(
        root,
        &d("multi-user.target"),
        &target("Multi-User System", "Requires=basic.target\n"),
    );
    write(
        root,
        &d("graphical.target"),
        &target("Graphical Interface", "Requires=multi-user.target\n"),
    );
    symlink(root, &d("default.target"), "graphical.target");
    symlink(
        root,
        &d("multi-user.target.wants/getty.target"),
        "../getty.target",
    );
    write(
        root,
        &d("systemd-journald.service"),
        &service("Journal Service", ""),
    );
    symlink(
        root,
        &d("sysinit.target.wants/systemd-journald.service"),
        "../systemd-journald.service",
    );
    write(
        root,
        &d("getty@.service"),
        &service(
            "Getty on %I",
            "[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n",
        ),
    );
}

fn compare(root: &Path, units: &[&str]) -> Systemd {
    let files = HostFiles {
        root: root.to_path_buf(),
    };
    let s = Systemd::load(&files);
    let mut bad = Vec::new();
    for u in units {
        let want = is_enabled(root, u);
        let ours = s.unit(u);
        let got = match ours.state {
            // systemctl asks systemd-sysv-install, which answers enabled/disabled.
            UnitState::Generated if s.enabled_at_boot(u) => "enabled",
            UnitState::Generated => "disabled",
            st => st.as_str(),
        };
        if want != got {
            bad.push(format!("{u}: systemctl {want}, ours {got} ({ours:?})"));
        }
    }
    assert!(
        bad.is_empty(),
        "{}\nwarnings: {:?}",
        bad.join("\n"),
        s.warnings()
    );
    s
}

// ---------------------------------------------------------------------------------------

/// Oracle Linux 9 as OCI ships it: cloud-init, firewalld, chronyd, sshd, NetworkManager.
fn oracle_tree(root: &Path) {
    let v = "/usr/lib/systemd/system";
    base_targets(root, v);
    let p = |n: &str| format!("{v}/{n}");
    for (n, d) in [
        (
            "cloud-init-local.service",
            "Initial cloud-init job (pre-networking)",
        ),
        (
            "cloud-init.service",
            "Initial cloud-init job (metadata service crawler)",
        ),
        (
            "cloud-config.service",
            "Apply the settings specified in cloud-config",
        ),
        ("cloud-final.service", "Execute cloud user/final scripts"),
    ] {
        write(
            root,
            &p(n),
            &service(d, "[Install]\nWantedBy=cloud-init.target\n"),
        );
    }
    write(
        root,
        &p("cloud-init.target"),
        "[Unit]\nDescription=Cloud-init target\nAfter=multi-user.target\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    write(
        root,
        &p("firewalld.service"),
        &service(
            "firewalld - dynamic firewall daemon",
            "[Install]\nWantedBy=multi-user.target\nAlias=dbus-org.fedoraproject.FirewallD1.service\n",
        ),
    );
    write(
        root,
        &p("chronyd.service"),
        &service(
            "NTP client/server",
            "[Install]\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        root,
        &p("sshd.service"),
        &service(
            "OpenSSH server daemon",
            "[Install]\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        root,
        &p("NetworkManager.service"),
        &service(
            "Network Manager",
            "[Install]\nWantedBy=multi-user.target\nAlias=dbus-org.freedesktop.NetworkManager.service\nAlso=NetworkManager-dispatcher.service\n",
        ),
    );
    write(
        root,
        &p("NetworkManager-dispatcher.service"),
        &service(
            "Network Manager Script Dispatcher Service",
            "[Install]\nAlias=dbus-org.freedesktop.nm-dispatcher.service\n",
        ),
    );
    write(
        root,
        &p("rngd.service"),
        &service(
            "Hardware RNG Entropy Gatherer Daemon",
            "[Install]\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        root,
        &p("kdump.service"),
        &service(
            "Crash recovery kernel arming",
            "[Install]\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        root,
        &p("iptables.service"),
        &service(
            "IPv4 firewall with iptables",
            "[Install]\nWantedBy=basic.target\n",
        ),
    );
    write(
        root,
        &p("nftables.service"),
        &service(
            "Netfilter Tables",
            "[Install]\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        root,
        &p("helper.service"),
        &service("only Also", "[Install]\nAlso=kdump.service\n"),
    );
    write(
        root,
        "/etc/machine-id",
        "4b0e1c8f0a3d4e2f9c7b6a5d4e3f2a1b\n",
    );
}

const ORACLE_UNITS: &[&str] = &[
    "cloud-init-local.service",
    "cloud-init.service",
    "cloud-config.service",
    "cloud-final.service",
    "cloud-init.target",
    "firewalld.service",
    "dbus-org.fedoraproject.FirewallD1.service",
    "chronyd.service",
    "sshd.service",
    "NetworkManager.service",
    "NetworkManager-dispatcher.service",
    "dbus-org.freedesktop.NetworkManager.service",
    "dbus-org.freedesktop.nm-dispatcher.service",
    "rngd.service",
    "kdump.service",
    "iptables.service",
    "nftables.service",
    "helper.service",
    "getty@.service",
    "getty@tty1.service",
    "getty@tty2.service",
    "getty@ttyS0.service",
    "systemd-journald.service",
    "multi-user.target",
    "default.target",
    "nonexistent.service",
];

#[test]
fn oracle_linux_enabled_masked_template_static() {
    if !have_systemctl() {
        panic!("systemctl is missing: install systemd (cargo xtask test does)");
    }
    let root = fresh_dir("ol9");
    oracle_tree(&root);
    let s = compare(&root, ORACLE_UNITS); // everything as shipped: disabled/static/indirect
    assert!(!s.enabled_at_boot("firewalld.service"));
    systemctl(
        &root,
        &[
            "enable",
            "cloud-init-local.service",
            "cloud-init.service",
            "cloud-config.service",
            "cloud-final.service",
            "cloud-init.target",
            "firewalld.service",
            "chronyd.service",
            "sshd.service",
            "NetworkManager.service",
            "getty@tty1.service",
            "getty@ttyS0.service",
            "nftables.service",
        ],
    );
    systemctl(&root, &["mask", "kdump.service"]);
    systemctl(&root, &["set-default", "multi-user.target"]);
    // An empty file in /etc masks too.
    write(&root, "/etc/systemd/system/rngd.service", "");
    let s = compare(&root, ORACLE_UNITS);
    for u in [
        "cloud-init.service",
        "cloud-final.service",
        "firewalld.service",
        "chronyd.service",
        "sshd.service",
        "NetworkManager.service",
        "getty@ttyS0.service",
        "systemd-journald.service", // static, pulled in by a vendor .wants link
    ] {
        assert!(s.enabled_at_boot(u), "{u} should start at boot");
    }
    for u in [
        "kdump.service",
        "rngd.service",
        "iptables.service",
        "getty@tty2.service",
    ] {
        assert!(!s.enabled_at_boot(u), "{u} should not start at boot");
    }
    assert_eq!(
        s.unit("cloud-final.service").boot_chain.unwrap(),
        [
            "multi-user.target",
            "cloud-init.target",
            "cloud-final.service"
        ]
    );
    assert_eq!(s.default_target().unwrap().0, "multi-user.target");
    let fw = s.unit("firewalld.service");
    assert_eq!(
        fw.evidence[0].path,
        "/etc/systemd/system/multi-user.target.wants/firewalld.service"
    );
    // Disabling takes the links away again.
    systemctl(
        &root,
        &["disable", "firewalld.service", "getty@tty1.service"],
    );
    systemctl(&root, &["unmask", "kdump.service"]);
    let s = compare(&root, ORACLE_UNITS);
    assert!(!s.enabled_at_boot("firewalld.service"));
    let _ = std::fs::remove_dir_all(&root);
}

/// Debian 12: merged /usr, ssh.service with its sshd.service alias, chrony/chronyd,
/// systemd-timesyncd, nftables, a linked unit file outside the search path, and a SysV-only
/// service.
#[test]
fn debian_alias_linked_and_sysv() {
    if !have_systemctl() {
        panic!("systemctl is missing: install systemd (cargo xtask test does)");
    }
    let root = fresh_dir("deb12");
    symlink(&root, "/lib", "usr/lib");
    symlink(&root, "/sbin", "usr/sbin");
    let v = "/usr/lib/systemd/system";
    base_targets(&root, v);
    let p = |n: &str| format!("{v}/{n}");
    write(
        &root,
        &p("ssh.service"),
        &service(
            "OpenBSD Secure Shell server",
            "[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n",
        ),
    );
    write(
        &root,
        &p("chrony.service"),
        &service(
            "chrony, an NTP client/server",
            "[Install]\nAlias=chronyd.service\nWantedBy=multi-user.target\n",
        ),
    );
    write(
        &root,
        &p("systemd-timesyncd.service"),
        &service(
            "Network Time Synchronization",
            "[Install]\nWantedBy=sysinit.target\nAlias=dbus-org.freedesktop.timesync1.service\n",
        ),
    );
    write(
        &root,
        &p("nftables.service"),
        &service("nftables", "[Install]\nWantedBy=sysinit.target\n"),
    );
    write(
        &root,
        "/opt/agent/agent.service",
        &service("Vendor agent", "[Install]\nWantedBy=multi-user.target\n"),
    );
    write(
        &root,
        "/opt/agent/other.service",
        &service("Other", "[Install]\nWantedBy=multi-user.target\n"),
    );
    // SysV: one script started in runlevels 2-5 (as update-rc.d defaults does), one without links.
    write(
        &root,
        "/etc/init.d/legacyd",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: legacyd\n### END INIT INFO\n",
    );
    write(&root, "/etc/init.d/oldstuff", "#!/bin/sh\n");
    for rl in ["2", "3", "4", "5"] {
        symlink(
            &root,
            &format!("/etc/rc{rl}.d/S01legacyd"),
            "../init.d/legacyd",
        );
    }
    for rl in ["0", "1", "6"] {
        symlink(
            &root,
            &format!("/etc/rc{rl}.d/K01legacyd"),
            "../init.d/legacyd",
        );
    }
    write(&root, "/etc/machine-id", "");
    let units = [
        "ssh.service",
        "sshd.service",
        "chrony.service",
        "chronyd.service",
        "systemd-timesyncd.service",
        "dbus-org.freedesktop.timesync1.service",
        "nftables.service",
        "agent.service",
        "other.service",
        "legacyd.service",
        "oldstuff.service",
    ];
    let s = compare(&root, &units);
    assert!(s.enabled_at_boot("legacyd.service"));
    assert!(!s.enabled_at_boot("oldstuff.service"));
    // An empty machine-id is not a first boot (machine-id(5)).
    assert!(!s.first_boot().0);
    systemctl(
        &root,
        &[
            "enable",
            "ssh.service",
            "chrony.service",
            "nftables.service",
        ],
    );
    systemctl(
        &root,
        &[
            "link",
            "/opt/agent/agent.service",
            "/opt/agent/other.service",
        ],
    );
    systemctl(&root, &["enable", "agent.service"]);
    systemctl(&root, &["mask", "systemd-timesyncd.service"]);
    let s = compare(&root, &units);
    assert!(s.enabled_at_boot("sshd.service"));
    assert!(s.enabled_at_boot("chronyd.service"));
    assert!(s.enabled_at_boot("agent.service"));
    assert!(!s.enabled_at_boot("other.service"));
    assert!(!s.enabled_at_boot("systemd-timesyncd.service"));
    assert_eq!(
        s.unit("nftables.service").boot_chain.unwrap(),
        [
            "graphical.target",
            "multi-user.target",
            "basic.target",
            "sysinit.target",
            "nftables.service"
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A tree never booted: no machine-id, so the first boot applies `preset-all`. The preset
/// verdict is compared with what `systemctl preset-all` does to a copy of the tree.
#[test]
fn presets_on_first_boot() {
    if !have_systemctl() {
        panic!("systemctl is missing: install systemd (cargo xtask test does)");
    }
    let root = fresh_dir("preset");
    oracle_tree(&root);
    std::fs::remove_file(root.join("etc/machine-id")).unwrap();
    write(
        &root,
        "/usr/lib/systemd/system-preset/90-default.preset",
        "# Oracle Linux defaults\nenable sshd.service\nenable chronyd.service\nenable firewalld.service\nenable cloud-*.service\nenable cloud-init.target\nenable NetworkManager.service\nenable getty@.service\nenable kdump.service\nenable nftables.service\n",
    );
    write(
        &root,
        "/usr/lib/systemd/system-preset/99-default-disable.preset",
        "disable *\n",
    );
    // /etc overrides a vendor file of the same name; an earlier name wins over later ones.
    write(
        &root,
        "/etc/systemd/system-preset/90-default.preset",
        "disable nftables.service\nenable sshd.service\nenable chronyd.service\nenable firewalld.service\nenable cloud-*.service\nenable cloud-init.target\nenable NetworkManager.service\nenable getty@.service\n",
    );
    write(
        &root,
        "/etc/systemd/system-preset/50-local.preset",
        "disable chronyd.service\n",
    );
    let files = HostFiles { root: root.clone() };
    let ours = Systemd::load(&files);
    assert!(ours.first_boot().0);
    // What the first boot does: preset-all, enable only.
    let copy = fresh_dir("preset-applied");
    let st = Command::new("cp")
        .args([
            "-a",
            &format!("{}/.", root.display()),
            &copy.display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    systemctl(&copy, &["preset-all", "--preset-mode=enable-only"]);
    let with_install = [
        "cloud-init-local.service",
        "cloud-init.service",
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init.target",
        "firewalld.service",
        "chronyd.service",
        "sshd.service",
        "NetworkManager.service",
        "rngd.service",
        "kdump.service",
        "iptables.service",
        "nftables.service",
    ];
    let mut bad = Vec::new();
    for u in with_install {
        let after = is_enabled(&copy, u);
        let unit = ours.unit(u);
        let preset = unit.preset.clone().expect("a preset verdict").0;
        if preset != (after == "enabled") {
            bad.push(format!(
                "{u}: preset-all gives {after}, our preset {unit:?}"
            ));
        }
        if ours.enabled_at_boot(u) != (after == "enabled") {
            bad.push(format!(
                "{u}: after preset-all {after}, our enabled_at_boot differs"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let c = ours.unit("chronyd.service");
    assert_eq!(
        c.preset.unwrap().1.to_string(),
        "/etc/systemd/system-preset/50-local.preset:1"
    );
    assert_eq!(
        ours.unit("nftables.service").preset.unwrap().1.to_string(),
        "/etc/systemd/system-preset/90-default.preset:1"
    );
    // The same tree with a machine-id: presets are not applied, nothing starts.
    write(
        &root,
        "/etc/machine-id",
        "4b0e1c8f0a3d4e2f9c7b6a5d4e3f2a1b\n",
    );
    let booted = Systemd::load(&files);
    assert!(!booted.first_boot().0);
    assert!(!booted.enabled_at_boot("sshd.service"));
    // `uninitialized` is a first boot again.
    write(&root, "/etc/machine-id", "uninitialized\n");
    assert!(Systemd::load(&files).enabled_at_boot("sshd.service"));
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&copy);
}

/// Ubuntu: cloud-init.target is not enabled in /etc; cloud-init's generator adds it to
/// multi-user.target at boot unless /etc/cloud/cloud-init.disabled exists.
#[test]
fn cloud_init_generator_chain() {
    let f = preflight_facts::MemFiles::new()
        .with("/usr/lib/systemd/system/multi-user.target", "[Unit]\n")
        .with_link("/usr/lib/systemd/system/default.target", "multi-user.target")
        .with(
            "/usr/lib/systemd/system/cloud-init.target",
            "[Unit]\nDescription=Cloud-init target\n",
        )
        .with(
            "/usr/lib/systemd/system/cloud-init.service",
            "[Service]\nExecStart=/usr/bin/cloud-init init\n[Install]\nWantedBy=cloud-init.target\n",
        )
        .with_link(
            "/etc/systemd/system/cloud-init.target.wants/cloud-init.service",
            "/lib/systemd/system/cloud-init.service",
        )
        .with_link("/lib", "usr/lib")
        .with("/usr/lib/systemd/system-generators/cloud-init-generator", "#!/bin/sh\n")
        .with("/etc/machine-id", "x\n");
    let s = Systemd::load(&f);
    let u = s.unit("cloud-init.service");
    assert_eq!(u.state, UnitState::Enabled);
    assert_eq!(
        u.boot_chain.unwrap(),
        [
            "multi-user.target",
            "cloud-init.target",
            "cloud-init.service"
        ]
    );
    let disabled = f.clone().with("/etc/cloud/cloud-init.disabled", "");
    let s = Systemd::load(&disabled);
    assert!(s.unit("cloud-init.service").boot_chain.is_none());
    let s = Systemd::load_with_cmdline(&f, Some("ro cloud-init=disabled"));
    assert!(s.unit("cloud-init.service").boot_chain.is_none());
}
