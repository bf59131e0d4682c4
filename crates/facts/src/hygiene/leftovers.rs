//! REC-LEFTOVERS: per-machine state and build debris a publisher must remove before capture,
//! each with the size found (and the number of files for directories).

use super::history::count_lines;
use super::keys::sanitize;
use super::scan::{Budget, Scan, Walk, join};
use super::{Home, Leftover};
use crate::files::{EntryKind, fnmatch};

/// Most directory entries listed and files sized by the leftovers phase.
pub const MAX_LEFTOVER_ENTRIES: u64 = 20_000;
/// Deepest level walked below a leftover directory (`/var/log`, `/tmp`, caches).
pub const MAX_LEFTOVER_DEPTH: usize = 8;
/// Largest log files listed one by one.
pub const LARGEST_LOGS: usize = 10;

/// Small files read for their contents (machine-id, hostname, LVM devices, known_hosts).
const MAX_SMALL_READ: u64 = 1 << 20;

pub(super) fn gather(scan: &mut Scan, homes: &[Home]) -> Vec<Leftover> {
    let mut b = Budget::new(
        "leftovers",
        MAX_LEFTOVER_ENTRIES,
        1024,
        MAX_SMALL_READ,
        16 << 20,
        MAX_LEFTOVER_ENTRIES,
    );
    let mut l = Leftovers {
        out: Vec::new(),
        scan,
        b: &mut b,
    };
    l.machine_id();
    l.logs();
    l.cloud_init();
    l.dhcp();
    for dir in ["/tmp", "/var/tmp"] {
        l.dir_total("temporary files", dir, "");
    }
    for path in [
        "/var/lib/systemd/random-seed",
        "/var/lib/random-seed",
        "/var/lib/urandom/random-seed",
    ] {
        l.file(
            "random seed",
            path,
            "every instance of the image starts from the same seed unless it is removed",
        );
    }
    l.file(
        "yum UUID",
        "/var/lib/yum/uuid",
        "identifies the machine to repositories; yum writes a new one when it is missing",
    );
    l.file(
        "RHN system ID",
        "/etc/sysconfig/rhn/systemid",
        "the build machine's Red Hat Network registration",
    );
    l.subscription();
    l.file(
        "LVM cache",
        "/etc/lvm/cache/.cache",
        "the build host's device scan cache",
    );
    l.lvm_devices();
    for dir in ["/etc/iscsi/nodes", "/var/lib/iscsi/nodes"] {
        l.dir_total(
            "iSCSI node records",
            dir,
            "targets discovered on the build host; iscsid logs in to them at boot",
        );
    }
    l.file(
        "persistent net rules",
        "/etc/udev/rules.d/70-persistent-net.rules",
        "pins interface names to the build host's MAC addresses (the network facts list them)",
    );
    l.known_hosts(homes);
    l.package_caches();
    l.hostname();
    l.out
}

struct Leftovers<'s, 'a> {
    out: Vec<Leftover>,
    scan: &'s mut Scan<'a>,
    b: &'s mut Budget,
}

fn incomplete(w: &Walk) -> &'static str {
    if w.complete {
        ""
    } else {
        " (at least: a scan limit was reached)"
    }
}

impl Leftovers<'_, '_> {
    fn push(
        &mut self,
        category: &'static str,
        path: &str,
        size: u64,
        count: Option<u64>,
        detail: String,
    ) {
        self.out.push(Leftover {
            category,
            path: path.to_string(),
            size,
            count,
            detail,
        });
    }

    /// A regular file that must not ship: reported whenever it exists.
    fn file(&mut self, category: &'static str, path: &str, detail: &str) -> Option<u64> {
        let size = self.scan.size(self.b, path)?;
        self.push(category, path, size, None, detail.to_string());
        Some(size)
    }

    /// A directory whose contents must not ship: reported when it holds anything.
    fn dir_total(&mut self, category: &'static str, dir: &str, detail: &str) {
        let w = self.scan.walk(self.b, dir, MAX_LEFTOVER_DEPTH);
        if w.entries == 0 {
            return;
        }
        let mut d = format!(
            "{} entries, {} regular files, {} bytes{}",
            w.entries,
            w.files.len(),
            w.bytes(),
            incomplete(&w)
        );
        if !detail.is_empty() {
            d.push_str("; ");
            d.push_str(detail);
        }
        self.push(category, dir, w.bytes(), Some(w.entries), d);
    }

    /// Regular files in `dir` whose names match `pattern`.
    fn matching(&mut self, dir: &str, pattern: &str) -> Vec<String> {
        let Some(entries) = self.scan.list(self.b, dir) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::File && fnmatch(pattern, &e.name))
            .map(|e| join(dir, &e.name))
            .collect()
    }

    fn machine_id(&mut self) {
        let path = "/etc/machine-id";
        if let Some(size) = self.scan.size(self.b, path) {
            let head = self.scan.head(self.b, path, 64).unwrap_or_default();
            let text = String::from_utf8_lossy(&head);
            let value = text.trim();
            if !value.is_empty() && value != "uninitialized" {
                self.push(
                    "machine-id",
                    path,
                    size,
                    None,
                    "set; systemd generates a new machine ID at first boot only when this file \
                     is empty (or says \"uninitialized\"), so every instance would share it"
                        .to_string(),
                );
            }
        }
        let dbus = "/var/lib/dbus/machine-id";
        match self.scan.read_link(dbus) {
            Some(_) => {}
            None => {
                if let Some(size) = self.scan.size(self.b, dbus)
                    && size > 0
                {
                    self.push(
                        "machine-id",
                        dbus,
                        size,
                        None,
                        "a file of its own, not a link to /etc/machine-id: D-Bus keeps this \
                             ID on every instance"
                            .to_string(),
                    );
                }
            }
        }
    }

    fn logs(&mut self) {
        let w = self.scan.walk(self.b, "/var/log", MAX_LEFTOVER_DEPTH);
        let mut files: Vec<(String, u64)> =
            w.files.iter().filter(|(_, s)| *s > 0).cloned().collect();
        if !files.is_empty() {
            let total = files.iter().fold(0u64, |a, (_, s)| a.saturating_add(*s));
            files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let largest: Vec<String> = files
                .iter()
                .take(LARGEST_LOGS)
                .map(|(p, s)| format!("{p} ({s} bytes)"))
                .collect();
            self.push(
                "logs",
                "/var/log",
                total,
                Some(files.len() as u64),
                format!(
                    "{} non-empty log files, {total} bytes{}; largest: {}",
                    files.len(),
                    incomplete(&w),
                    largest.join(", ")
                ),
            );
            for (p, s) in files.iter().take(LARGEST_LOGS) {
                self.push(
                    "log file",
                    p,
                    *s,
                    None,
                    "one of the largest logs".to_string(),
                );
            }
        }
        let journal: Vec<&(String, u64)> = w
            .files
            .iter()
            .filter(|(p, _)| p.starts_with("/var/log/journal/"))
            .collect();
        if !journal.is_empty() {
            let size = journal.iter().fold(0u64, |a, (_, s)| a.saturating_add(*s));
            self.push(
                "journal",
                "/var/log/journal",
                size,
                Some(journal.len() as u64),
                format!("{} journal files, {size} bytes", journal.len()),
            );
        }
        let rotated: Vec<&(String, u64)> = w.files.iter().filter(|(p, _)| is_rotated(p)).collect();
        if !rotated.is_empty() {
            let size = rotated.iter().fold(0u64, |a, (_, s)| a.saturating_add(*s));
            self.push(
                "rotated logs",
                "/var/log",
                size,
                Some(rotated.len() as u64),
                format!("{} rotated or compressed logs, {size} bytes", rotated.len()),
            );
        }
        let cloud: Vec<(String, u64)> = w
            .files
            .iter()
            .filter(|(p, _)| {
                p.rsplit_once('/')
                    .is_some_and(|(d, n)| d == "/var/log" && fnmatch("cloud-init*.log", n))
            })
            .cloned()
            .collect();
        for (p, s) in cloud {
            self.push(
                "cloud-init log",
                &p,
                s,
                None,
                "the build machine's first-boot log".to_string(),
            );
        }
    }

    fn cloud_init(&mut self) {
        let link = "/var/lib/cloud/instance";
        if let Some(target) = self.scan.read_link(link) {
            self.push(
                "cloud-init state",
                link,
                0,
                None,
                format!(
                    "link to {}: cloud-init believes it already ran for this instance",
                    sanitize(&target, 256)
                ),
            );
        }
        let dir = "/var/lib/cloud/instances";
        let Some(entries) = self.scan.list(self.b, dir) else {
            return;
        };
        for e in entries {
            if e.kind != EntryKind::Dir {
                continue;
            }
            let path = join(dir, &e.name);
            let w = self.scan.walk(self.b, &path, MAX_LEFTOVER_DEPTH);
            self.push(
                "cloud-init state",
                &path,
                w.bytes(),
                Some(w.entries),
                format!(
                    "state of instance {}: {} entries, {} bytes{}; `cloud-init clean` removes it",
                    sanitize(&e.name, 128),
                    w.entries,
                    w.bytes(),
                    incomplete(&w)
                ),
            );
        }
    }

    fn dhcp(&mut self) {
        for (dir, pattern) in [
            ("/var/lib/dhcp", "*.leases"),
            ("/var/lib/dhclient", "*"),
            ("/var/lib/NetworkManager", "*.lease"),
            ("/var/lib/wicked", "lease*"),
            ("/var/lib/dhcpcd", "*.lease*"),
        ] {
            for path in self.matching(dir, pattern) {
                let Some(size) = self.scan.size(self.b, &path) else {
                    continue;
                };
                if size > 0 {
                    self.push(
                        "DHCP lease",
                        &path,
                        size,
                        None,
                        "the build network's lease".to_string(),
                    );
                }
            }
        }
    }

    fn subscription(&mut self) {
        for (path, what) in [
            (
                "/etc/pki/consumer/cert.pem",
                "consumer identity certificate",
            ),
            ("/etc/pki/consumer/key.pem", "consumer identity private key"),
        ] {
            if let Some(size) = self.scan.size(self.b, path) {
                self.push(
                    "Red Hat subscription",
                    path,
                    size,
                    None,
                    format!(
                        "the build machine's {what}; `subscription-manager unregister` removes it"
                    ),
                );
            }
        }
        let certs = self.matching("/etc/pki/entitlement", "*.pem");
        if !certs.is_empty() {
            let mut size = 0u64;
            for p in &certs {
                size = size.saturating_add(self.scan.size(self.b, p).unwrap_or(0));
            }
            self.push(
                "Red Hat subscription",
                "/etc/pki/entitlement",
                size,
                Some(certs.len() as u64),
                format!(
                    "{} entitlement certificates and keys of the build machine",
                    certs.len()
                ),
            );
        }
    }

    fn lvm_devices(&mut self) {
        let path = "/etc/lvm/devices/system.devices";
        let Some(size) = self.scan.size(self.b, path) else {
            return;
        };
        let data = self.scan.head(self.b, path, 64 * 1024).unwrap_or_default();
        let text = String::from_utf8_lossy(&data);
        let ids = text
            .lines()
            .filter(|l| l.trim_start().starts_with("IDTYPE="))
            .count();
        self.push(
            "LVM devices file",
            path,
            size,
            Some(ids as u64),
            format!(
                "pins {ids} device IDs of the build host's disks: LVM ignores physical volumes \
                 not listed, so the root volume group may not activate on the instance"
            ),
        );
    }

    fn known_hosts(&mut self, homes: &[Home]) {
        for home in homes {
            if !home.entries.iter().any(|e| e.name == ".ssh") {
                continue;
            }
            for name in ["known_hosts", "known_hosts2"] {
                let path = join(&home.dir, &format!(".ssh/{name}"));
                let Some(size) = self.scan.size(self.b, &path) else {
                    continue;
                };
                let lines = if size <= MAX_SMALL_READ {
                    self.scan.head(self.b, &path, size).map(|d| count_lines(&d))
                } else {
                    None
                };
                self.push(
                    "known_hosts",
                    &path,
                    size,
                    lines,
                    format!(
                        "hosts {} connected to from the build",
                        sanitize(&home.user, 64)
                    ),
                );
            }
        }
    }

    fn package_caches(&mut self) {
        let debs = self.matching("/var/cache/apt/archives", "*.deb");
        if !debs.is_empty() {
            let mut size = 0u64;
            for p in &debs {
                size = size.saturating_add(self.scan.size(self.b, p).unwrap_or(0));
            }
            self.push(
                "package cache",
                "/var/cache/apt/archives",
                size,
                Some(debs.len() as u64),
                format!(
                    "{} downloaded .deb files; `apt-get clean` removes them",
                    debs.len()
                ),
            );
        }
        for dir in ["/var/cache/dnf", "/var/cache/yum"] {
            let w = self.scan.walk(self.b, dir, MAX_LEFTOVER_DEPTH);
            if w.bytes() > 0 {
                self.push(
                    "package cache",
                    dir,
                    w.bytes(),
                    Some(w.files.len() as u64),
                    format!(
                        "{} files, {} bytes{}; `dnf clean all` / `yum clean all` removes them",
                        w.files.len(),
                        w.bytes(),
                        incomplete(&w)
                    ),
                );
            }
        }
    }

    fn hostname(&mut self) {
        let path = "/etc/hostname";
        let Some(size) = self.scan.size(self.b, path) else {
            return;
        };
        let data = self.scan.head(self.b, path, 256).unwrap_or_default();
        let text = String::from_utf8_lossy(&data);
        let value = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        // The neutral names are what an image should ship (cloud-init sets the real one).
        let neutral = ["localhost", "localhost.localdomain", "localhost6"];
        if !value.is_empty() && !neutral.contains(&value) {
            self.push(
                "hostname",
                path,
                size,
                None,
                format!("set to \"{}\"", sanitize(value, 64)),
            );
        }
    }
}

/// `syslog.1`, `messages-20240101`, `*.gz`, `*.xz`, `*.bz2`, `*.zst`, `*.old`.
fn is_rotated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if [".gz", ".xz", ".bz2", ".zst", ".old"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    name.rsplit_once('.').is_some_and(|(_, ext)| digits(ext))
        || name
            .rsplit_once('-')
            .is_some_and(|(_, date)| date.len() == 8 && digits(date))
}
