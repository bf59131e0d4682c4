//! Which systemd units start at boot, decided offline the way `systemctl is-enabled` decides it
//! (systemd 252, src/shared/install.c) plus what the boot itself adds: presets applied on the
//! first boot, SysV scripts (systemd-sysv-generator) and the cloud-init generator.
//!
//! Semantics (systemd.unit(5), systemd.preset(5), systemctl(1), machine-id(5)):
//! - Unit search path, first hit wins: /etc/systemd/system, /run/systemd/system (empty
//!   offline), /usr/local/lib/systemd/system, /usr/lib/systemd/system, /lib/systemd/system.
//!   Directories that resolve to the same place (merged /usr) are read once.
//! - A unit file that is empty, or a symlink to /dev/null (or to an empty file), is masked.
//! - A symlink whose target lies in the search path under another name is an alias; one
//!   whose target lies outside is a linked unit file. Aliases are followed (at most 64 hops).
//! - A template instance (`getty@tty1.service`) without its own file uses the template.
//! - `is-enabled`: symlinks in the configuration directory (/etc/systemd/system, its
//!   `*.wants/`, `*.requires/`, `*.upholds/`) that carry the unit's name (or an `Alias=` name,
//!   or the `DefaultInstance=` instance of a template) make it `enabled`; a symlink under any
//!   other name that points at it makes it `indirect`; otherwise an `[Install]` section with
//!   WantedBy/RequiredBy/UpheldBy/Alias makes it `disabled`, only `Also=` `indirect`, none
//!   `static`. Links in vendor directories do not count for `is-enabled` (they still pull
//!   units in at boot: see [`Unit::boot_chain`]).
//! - Presets: `*.preset` files from /etc/systemd/system-preset, /run/systemd/system-preset,
//!   /usr/local/lib/systemd/system-preset, /usr/lib/systemd/system-preset (and /lib), sorted
//!   by file name across the directories, a name in an earlier directory hiding the same name
//!   later (an empty file masks it); the first matching `enable`/`disable` line wins; no match
//!   means enable.
//! - First boot (machine-id(5) "First Boot Semantics", systemd 252): /etc/machine-id missing or
//!   containing `uninitialized` (an *empty* file is not a first boot), unless the kernel
//!   command line sets `systemd.condition_first_boot=`. On a first boot systemd runs
//!   `preset-all` in enable-only mode, so a preset `enable` starts a unit that is not masked.
//! - SysV: `/etc/init.d/NAME` without a native unit becomes `NAME.service` (generated), started
//!   in the runlevels whose `/etc/rc[2-5].d/S??NAME` link exists.
//!
//! Everything is read once by [`Systemd::load`] (directory listings, symlinks, unit files), with
//! named limits; [`Systemd::files_read`] and [`Systemd::bytes_read`] show the cost. Problems
//! become [`Systemd::warnings`]; nothing here panics on hostile input.

use crate::{EntryKind, Files, Provenance};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The unit search path of the system manager, in priority order.
pub const UNIT_SEARCH_PATH: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];
/// Configuration directories: links here decide `enabled` (first) and `enabled-runtime`.
const PERSISTENT_CONFIG: &str = "/etc/systemd/system";
const RUNTIME_CONFIG: &str = "/run/systemd/system";
/// Preset directories, in priority order.
pub const PRESET_PATH: &[&str] = &[
    "/etc/systemd/system-preset",
    "/run/systemd/system-preset",
    "/usr/local/lib/systemd/system-preset",
    "/usr/lib/systemd/system-preset",
    "/lib/systemd/system-preset",
];
const SYSV_INIT_DIR: &str = "/etc/init.d";
/// Runlevel directories systemd-sysv-generator reads, with the target each one maps to.
const SYSV_RUNLEVELS: &[(&str, &str)] = &[
    ("/etc/rc2.d", "multi-user.target"),
    ("/etc/rc3.d", "multi-user.target"),
    ("/etc/rc4.d", "multi-user.target"),
    ("/etc/rc5.d", "graphical.target"),
];
const MACHINE_ID: &str = "/etc/machine-id";
const CLOUD_INIT_GENERATORS: &[&str] = &[
    "/usr/lib/systemd/system-generators/cloud-init-generator",
    "/lib/systemd/system-generators/cloud-init-generator",
];
const CLOUD_INIT_DISABLED: &str = "/etc/cloud/cloud-init.disabled";

/// Largest unit, drop-in or preset file read; systemd's own limit for unit files is 4 MiB,
/// real ones are a few KiB.
pub const MAX_UNIT_FILE: u64 = 256 << 10;
/// Most files read by one [`Systemd::load`] (unit files, drop-ins, presets).
pub const MAX_FILES: usize = 8192;
/// Most bytes read by one [`Systemd::load`].
pub const MAX_BYTES: u64 = 32 << 20;
/// Most entries kept from one directory listing.
const MAX_DIR_ENTRIES: usize = 16384;
/// Most `*.wants`-style and drop-in directories listed.
const MAX_SUBDIRS: usize = 4096;
/// install.c `UNIT_FILE_FOLLOW_SYMLINK_MAX`.
const MAX_ALIAS_HOPS: usize = 64;
/// Symlink hops when resolving a directory path.
const MAX_LINK_HOPS: usize = 40;
/// Most units visited when walking from default.target.
const MAX_BOOT_UNITS: usize = 8192;
/// Most values kept per `[Install]`/`[Unit]` list.
const MAX_VALUES: usize = 1024;
const MAX_WARNINGS: usize = 256;
const MAX_PRESET_RULES: usize = 16384;
const MAX_LINE: usize = 64 << 10;

/// What `systemctl is-enabled` would print, plus `generated` for SysV scripts and
/// `not-found` where systemctl fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitState {
    Enabled,
    EnabledRuntime,
    Linked,
    Alias,
    Masked,
    Static,
    Indirect,
    Disabled,
    /// A SysV init script turned into a unit by systemd-sysv-generator.
    Generated,
    NotFound,
}

impl UnitState {
    /// The word `systemctl is-enabled` prints (`generated` for SysV; systemctl itself asks
    /// the distribution's `systemd-sysv-install` and prints enabled/disabled).
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Enabled => "enabled",
            UnitState::EnabledRuntime => "enabled-runtime",
            UnitState::Linked => "linked",
            UnitState::Alias => "alias",
            UnitState::Masked => "masked",
            UnitState::Static => "static",
            UnitState::Indirect => "indirect",
            UnitState::Disabled => "disabled",
            UnitState::Generated => "generated",
            UnitState::NotFound => "not-found",
        }
    }
}

/// One unit as the image will have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// The name asked about.
    pub name: String,
    pub state: UnitState,
    /// The unit file (after following aliases and links), or the SysV script.
    pub path: Option<String>,
    /// The symlinks or lines that decide the state: the enabling link, the mask, the alias
    /// link, the `[Install]` line, the rc?.d link.
    pub evidence: Vec<Provenance>,
    /// The preset verdict (true: enable) and the rule that decided it, or the directory
    /// looked at when no rule matched (systemd then enables).
    pub preset: Option<(bool, Provenance)>,
    /// The next boot is a first boot (machine-id(5)), so systemd applies `preset-all`
    /// (enable only) before starting units.
    pub first_boot_preset_applies: bool,
    /// For an alias: the unit it names.
    pub alias_of: Option<String>,
    /// A chain of units from default.target that pulls this unit in at boot (first element
    /// default.target's real name, last this unit), or `None` if none was found. Follows
    /// `.wants/.requires/.upholds` links in every unit directory, `Wants=/Requires=/Upholds=/
    /// BindsTo=` of the units on the way, socket/timer/path activation, the SysV and
    /// cloud-init generators.
    pub boot_chain: Option<Vec<String>>,
}

/// The `[Install]` section of a unit file and its drop-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Install {
    wanted_by: Vec<(String, Provenance)>,
    required_by: Vec<(String, Provenance)>,
    upheld_by: Vec<(String, Provenance)>,
    alias: Vec<(String, Provenance)>,
    also: Vec<(String, Provenance)>,
    default_instance: Option<(String, Provenance)>,
}

impl Install {
    fn has_rules(&self) -> bool {
        !self.wanted_by.is_empty()
            || !self.required_by.is_empty()
            || !self.upheld_by.is_empty()
            || !self.alias.is_empty()
    }
    fn first_line(&self) -> Option<&Provenance> {
        self.wanted_by
            .iter()
            .chain(&self.required_by)
            .chain(&self.upheld_by)
            .chain(&self.alias)
            .chain(&self.also)
            .map(|(_, p)| p)
            .next()
    }
}

#[derive(Debug, Clone, Default)]
struct UnitFile {
    path: String,
    empty: bool,
    install: Install,
    /// `[Unit]` Wants/Requires/Upholds/BindsTo and activation (`Service=`, `Unit=`).
    deps: Vec<(String, Provenance)>,
}

#[derive(Debug, Clone)]
struct DirEntryInfo {
    kind: EntryKind,
    /// For symlinks: the target, absolute and normalized, parent directory resolved.
    link: Option<String>,
    /// For regular files read: index into `Systemd::files`.
    file: Option<usize>,
}

#[derive(Debug, Clone, Default)]
struct UnitDir {
    path: String,
    entries: BTreeMap<String, DirEntryInfo>,
    /// `NAME.wants` / `.requires` / `.upholds` directory → link names in it (with targets).
    wants: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// `NAME.d` → its `*.conf` files (indexes into `Systemd::files`).
    dropins: BTreeMap<String, Vec<usize>>,
}

#[derive(Debug, Clone)]
struct PresetRule {
    enable: bool,
    pattern: String,
    instances: Vec<String>,
    at: Provenance,
}

#[derive(Debug, Clone)]
struct SysvScript {
    path: String,
    /// The rc?.d S links and the target of each runlevel.
    start_links: Vec<(String, &'static str)>,
}

/// The unit files, links and presets of the image.
#[derive(Debug, Clone, Default)]
pub struct Systemd {
    dirs: Vec<UnitDir>,
    files: Vec<UnitFile>,
    /// Unit files outside the search path that linked units point at.
    outside: BTreeMap<String, usize>,
    presets: Vec<PresetRule>,
    preset_dirs_seen: Vec<String>,
    first_boot: bool,
    first_boot_evidence: Option<Provenance>,
    sysv: BTreeMap<String, SysvScript>,
    cloud_init_generator: Option<String>,
    cloud_init_disabled: bool,
    files_read: usize,
    bytes_read: u64,
    warnings: Vec<String>,
}

/// Reading state during [`Systemd::load`].
struct Loader<'a> {
    files: &'a dyn Files,
    out: Systemd,
    /// Resolved parent directories of link targets (most links share a few).
    canonical_dirs: BTreeMap<String, String>,
}

impl Loader<'_> {
    fn warn(&mut self, msg: String) {
        if self.out.warnings.len() < MAX_WARNINGS {
            self.out.warnings.push(msg);
        }
    }

    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        if self.out.files_read >= MAX_FILES || self.out.bytes_read >= MAX_BYTES {
            self.warn(format!(
                "{path}: not read, the limit of {MAX_FILES} files / {MAX_BYTES} bytes was reached"
            ));
            return None;
        }
        self.out.files_read += 1;
        match self.files.read(path, MAX_UNIT_FILE) {
            Ok(Some(d)) => {
                self.out.bytes_read = self.out.bytes_read.saturating_add(d.len() as u64);
                Some(d)
            }
            Ok(None) => None,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    fn list(&mut self, path: &str) -> Vec<crate::ListEntry> {
        match self.files.list_dir(path) {
            Ok(Some(mut v)) => {
                if v.len() > MAX_DIR_ENTRIES {
                    self.warn(format!(
                        "{path}: {} entries, only the first {MAX_DIR_ENTRIES} read",
                        v.len()
                    ));
                    v.truncate(MAX_DIR_ENTRIES);
                }
                v
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                Vec::new()
            }
        }
    }

    fn read_link(&mut self, path: &str) -> Option<String> {
        match self.files.read_link(path) {
            Ok(t) => t,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    /// Resolve symlinks in every component of an absolute path (the final one too).
    fn canonical(&mut self, path: &str) -> String {
        let mut hops = 0;
        let mut todo: Vec<String> = components(path).rev().map(String::from).collect();
        let mut cur: Vec<String> = Vec::new();
        while let Some(comp) = todo.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(comp);
            let joined = format!("/{}", cur.join("/"));
            if let Some(target) = self.read_link(&joined) {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    self.warn(format!("{path}: too many levels of symbolic links"));
                    return joined;
                }
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                todo.extend(components(&target).rev().map(String::from));
            }
        }
        format!("/{}", cur.join("/"))
    }

    /// A symlink's target made absolute, `.`/`..` removed, its parent directory resolved
    /// (chase_symlinks with CHASE_NOFOLLOW: the last component is kept).
    fn link_target(&mut self, dir: &str, target: &str) -> String {
        let abs = if target.starts_with('/') {
            normalize(target)
        } else {
            normalize(&format!("{dir}/{target}"))
        };
        let (parent, name) = split_path(&abs);
        let parent = match self.canonical_dirs.get(parent) {
            Some(p) => p.clone(),
            None => {
                let p = self.canonical(parent);
                if self.canonical_dirs.len() < MAX_SUBDIRS {
                    self.canonical_dirs.insert(parent.to_string(), p.clone());
                }
                p
            }
        };
        join(&parent, name)
    }

    fn load_unit_file(&mut self, path: &str) -> Option<usize> {
        let data = self.read(path)?;
        let idx = self.out.files.len();
        self.out.files.push(parse_unit_file(path, &data));
        Some(idx)
    }

    fn load_dir(&mut self, path: &str) -> UnitDir {
        let mut dir = UnitDir {
            path: path.to_string(),
            ..UnitDir::default()
        };
        let mut subdirs = 0usize;
        for e in self.list(path) {
            let full = join(path, &e.name);
            let mut info = DirEntryInfo {
                kind: e.kind,
                link: None,
                file: None,
            };
            match e.kind {
                EntryKind::Symlink => {
                    if let Some(t) = self.read_link(&full) {
                        info.link = Some(self.link_target(path, &t));
                    }
                }
                EntryKind::File if is_unit_name(&e.name) => {
                    info.file = self.load_unit_file(&full);
                }
                EntryKind::Dir if is_dependency_dir(&e.name) || e.name.ends_with(".d") => {
                    subdirs += 1;
                    if subdirs > MAX_SUBDIRS {
                        self.warn(format!("{path}: more than {MAX_SUBDIRS} subdirectories"));
                        continue;
                    }
                    if is_dependency_dir(&e.name) {
                        let mut links = Vec::new();
                        for l in self.list(&full) {
                            if l.kind != EntryKind::Symlink {
                                continue;
                            }
                            let lp = join(&full, &l.name);
                            let t = self.read_link(&lp).map(|t| self.link_target(&full, &t));
                            links.push((l.name, t));
                        }
                        dir.wants.insert(e.name.clone(), links);
                    } else {
                        let mut confs = Vec::new();
                        for c in self.list(&full) {
                            if c.name.ends_with(".conf") && c.kind != EntryKind::Dir {
                                let cp = join(&full, &c.name);
                                if let Some(i) = self.load_unit_file(&cp) {
                                    confs.push(i);
                                }
                            }
                        }
                        dir.dropins.insert(e.name.clone(), confs);
                    }
                }
                _ => {}
            }
            dir.entries.insert(e.name, info);
        }
        dir
    }

    fn load(mut self, cmdline: Option<&str>) -> Systemd {
        // Unit directories, merged /usr duplicates removed.
        let mut seen = BTreeSet::new();
        for d in UNIT_SEARCH_PATH {
            let canon = self.canonical(d);
            if !seen.insert(canon.clone()) {
                continue;
            }
            let dir = self.load_dir(&canon);
            self.out.dirs.push(dir);
        }
        // Linked unit files: targets outside the search path.
        let mut outside = BTreeSet::new();
        for d in &self.out.dirs {
            for e in d.entries.values() {
                if let Some(t) = &e.link
                    && t != "/dev/null"
                    && !self.out.in_search_path(t)
                {
                    outside.insert(t.clone());
                }
            }
        }
        for t in outside {
            if let Some(i) = self.load_unit_file(&t) {
                self.out.outside.insert(t, i);
            }
        }
        self.load_presets();
        self.load_first_boot(cmdline);
        self.load_sysv();
        for g in CLOUD_INIT_GENERATORS {
            if matches!(self.files.head(g, 0), Ok(Some(_))) {
                self.out.cloud_init_generator = Some((*g).to_string());
                break;
            }
        }
        self.out.cloud_init_disabled =
            matches!(self.files.head(CLOUD_INIT_DISABLED, 0), Ok(Some(_)))
                || cmdline
                    .is_some_and(|c| c.split_whitespace().any(|w| w == "cloud-init=disabled"));
        self.out
    }

    fn load_presets(&mut self) {
        // File name → path, the first directory holding a name wins.
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for d in PRESET_PATH {
            let canon = self.canonical(d);
            if !seen.insert(canon.clone()) {
                continue;
            }
            let entries = self.list(&canon);
            if !entries.is_empty() {
                self.out.preset_dirs_seen.push(canon.clone());
            }
            for e in entries {
                if e.name.ends_with(".preset") && e.kind != EntryKind::Dir {
                    by_name
                        .entry(e.name.clone())
                        .or_insert_with(|| join(&canon, &e.name));
                }
            }
        }
        for path in by_name.into_values() {
            // A symlink to /dev/null masks the vendor file of that name.
            if let Some(t) = self.read_link(&path)
                && normalize(&t) == "/dev/null"
            {
                continue;
            }
            let Some(data) = self.read(&path) else {
                continue;
            };
            for (n, line) in lines(&data) {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                    continue;
                }
                let mut words = line.split_whitespace();
                let verb = words.next().unwrap_or("");
                let enable = match verb {
                    "enable" => true,
                    "disable" => false,
                    _ => {
                        self.warn(format!("{path}:{n}: unknown preset verb {verb:?}"));
                        continue;
                    }
                };
                let Some(pattern) = words.next() else {
                    self.warn(format!("{path}:{n}: preset line without a unit"));
                    continue;
                };
                if self.out.presets.len() >= MAX_PRESET_RULES {
                    self.warn(format!("{path}: more than {MAX_PRESET_RULES} preset rules"));
                    return;
                }
                self.out.presets.push(PresetRule {
                    enable,
                    pattern: pattern.to_string(),
                    instances: if enable {
                        words.take(MAX_VALUES).map(String::from).collect()
                    } else {
                        Vec::new()
                    },
                    at: Provenance::line(path.clone(), n),
                });
            }
        }
    }

    fn load_first_boot(&mut self, cmdline: Option<&str>) {
        if let Some(c) = cmdline {
            for w in c.split_whitespace() {
                let v = w
                    .strip_prefix("systemd.condition_first_boot=")
                    .or_else(|| w.strip_prefix("systemd.condition-first-boot="));
                if let Some(v) = v
                    && let Some(b) = parse_bool(v)
                {
                    self.out.first_boot = b;
                    self.out.first_boot_evidence =
                        Some(Provenance::file(format!("kernel command line: {w}")));
                    return;
                }
            }
        }
        self.out.first_boot_evidence = Some(Provenance::file(MACHINE_ID));
        self.out.first_boot = match self.files.head(MACHINE_ID, 64) {
            Ok(None) => true,
            Ok(Some(d)) => {
                let first = d.split(|&b| b == b'\n').next().unwrap_or(&[]);
                first == b"uninitialized"
            }
            Err(e) => {
                self.warn(format!("{MACHINE_ID}: {e}"));
                false
            }
        };
    }

    fn load_sysv(&mut self) {
        let scripts = self.list(SYSV_INIT_DIR);
        if scripts.is_empty() {
            return;
        }
        let names: BTreeSet<String> = scripts
            .into_iter()
            .filter(|e| e.kind != EntryKind::Dir && !e.name.starts_with('.'))
            .filter(|e| !matches!(e.name.as_str(), "README" | "skeleton" | "rc" | "rcS"))
            .map(|e| e.name)
            .collect();
        for name in &names {
            let unit = format!("{name}.service");
            if !is_unit_name(&unit) || self.out.find_in_search_path(&unit).is_some() {
                continue;
            }
            self.out.sysv.insert(
                unit,
                SysvScript {
                    path: join(SYSV_INIT_DIR, name),
                    start_links: Vec::new(),
                },
            );
        }
        if self.out.sysv.is_empty() {
            return;
        }
        for (dir, target) in SYSV_RUNLEVELS {
            for e in self.list(dir) {
                let b = e.name.as_bytes();
                if b.len() < 4 || b[0] != b'S' || !b[1].is_ascii_digit() || !b[2].is_ascii_digit() {
                    continue;
                }
                let unit = format!("{}.service", &e.name[3..]);
                if let Some(s) = self.out.sysv.get_mut(&unit) {
                    s.start_links.push((join(dir, &e.name), target));
                }
            }
        }
    }
}

/// How a path in the search path looks to install.c's `unit_file_load_or_readlink`.
enum Probe<'a> {
    Missing,
    Regular(&'a UnitFile),
    Masked,
    /// A symlink to another file in the search path.
    Alias(String),
    /// A symlink to a file outside the search path.
    Linked(String),
    Bad(String),
}

/// The result of following a name to its unit file.
struct Found<'a> {
    /// The final name (after aliases; an instance name keeps its instance).
    name: String,
    path: String,
    file: Option<&'a UnitFile>,
    masked: bool,
    /// The links followed on the way.
    links: Vec<Provenance>,
}

impl Systemd {
    /// Read the image's unit directories, presets, machine-id and SysV scripts.
    pub fn load(files: &dyn Files) -> Systemd {
        Self::load_with_cmdline(files, None)
    }

    /// As [`Systemd::load`], with the kernel command line of the default boot entry, which
    /// can force or deny the first boot (`systemd.condition_first_boot=`) and disable
    /// cloud-init (`cloud-init=disabled`).
    pub fn load_with_cmdline(files: &dyn Files, cmdline: Option<&str>) -> Systemd {
        Loader {
            files,
            out: Systemd::default(),
            canonical_dirs: BTreeMap::new(),
        }
        .load(cmdline)
    }

    /// Files read by [`Systemd::load`].
    pub fn files_read(&self) -> usize {
        self.files_read
    }
    /// Bytes read by [`Systemd::load`].
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
    /// Unreadable files, limits hit, bad lines.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// Whether the next boot is a first boot, and what said so.
    pub fn first_boot(&self) -> (bool, Option<&Provenance>) {
        (self.first_boot, self.first_boot_evidence.as_ref())
    }

    /// What default.target names (following aliases), with the link that says so.
    pub fn default_target(&self) -> Option<(String, Vec<Provenance>)> {
        let f = self.discover("default.target").ok()?;
        Some((f.name, f.links))
    }

    fn in_search_path(&self, path: &str) -> bool {
        self.dirs.iter().any(|d| {
            path.strip_prefix(&d.path)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    fn dir_of_path<'a>(&'a self, path: &'a str) -> Option<(&'a UnitDir, &'a str)> {
        let (parent, name) = split_path(path);
        self.dirs
            .iter()
            .find(|d| d.path == parent)
            .map(|d| (d, name))
    }

    fn find_in_search_path(&self, name: &str) -> Option<String> {
        self.dirs
            .iter()
            .find(|d| d.entries.contains_key(name))
            .map(|d| join(&d.path, name))
    }

    /// install.c `unit_file_load_or_readlink` on a full path.
    fn probe(&self, path: &str) -> Probe<'_> {
        if let Some(&i) = self.outside.get(path) {
            return match self.files.get(i) {
                Some(f) if f.empty => Probe::Masked,
                Some(f) => Probe::Regular(f),
                None => Probe::Missing,
            };
        }
        let Some((dir, name)) = self.dir_of_path(path) else {
            return Probe::Missing;
        };
        let Some(e) = dir.entries.get(name) else {
            return Probe::Missing;
        };
        match e.kind {
            EntryKind::File => match e.file.and_then(|i| self.files.get(i)) {
                Some(f) if f.empty => Probe::Masked,
                Some(f) => Probe::Regular(f),
                None => Probe::Bad(format!("{path}: unreadable unit file")),
            },
            EntryKind::Symlink => {
                let Some(t) = &e.link else {
                    return Probe::Bad(format!("{path}: unreadable symlink"));
                };
                if t == "/dev/null" || self.is_empty_file(t) {
                    return Probe::Masked;
                }
                if self.in_search_path(t) {
                    Probe::Alias(t.clone())
                } else {
                    Probe::Linked(t.clone())
                }
            }
            EntryKind::Dir => Probe::Bad(format!("{path}: is a directory")),
            EntryKind::Other => Probe::Bad(format!("{path}: not a regular file")),
        }
    }

    fn is_empty_file(&self, path: &str) -> bool {
        match self.probe_plain(path) {
            Some(f) => f.empty,
            None => false,
        }
    }

    fn probe_plain(&self, path: &str) -> Option<&UnitFile> {
        if let Some(&i) = self.outside.get(path) {
            return self.files.get(i);
        }
        let (dir, name) = self.dir_of_path(path)?;
        let e = dir.entries.get(name)?;
        e.file.and_then(|i| self.files.get(i))
    }

    /// `unit_file_search`: the first directory holding the name, else the template's.
    fn search(&self, name: &str) -> Option<(String, Probe<'_>)> {
        let mut candidates = vec![name.to_string()];
        if let Some(t) = template_of(name) {
            candidates.push(t);
        }
        for c in candidates {
            for d in &self.dirs {
                if d.entries.contains_key(&c) {
                    let p = join(&d.path, &c);
                    let probe = self.probe(&p);
                    if matches!(probe, Probe::Missing) {
                        continue;
                    }
                    return Some((p, probe));
                }
            }
        }
        None
    }

    /// `install_info_discover` + `install_info_traverse`: follow aliases and links to the
    /// unit file.
    fn discover(&self, name: &str) -> Result<Found<'_>, String> {
        let mut cur = name.to_string();
        let mut links = Vec::new();
        let Some((mut path, mut probe)) = self.search(&cur) else {
            return Err(format!("{name}: no such unit file"));
        };
        for _ in 0..MAX_ALIAS_HOPS {
            match probe {
                Probe::Missing => return Err(format!("{path}: dangling link")),
                Probe::Bad(why) => return Err(why),
                Probe::Regular(f) => {
                    return Ok(Found {
                        name: cur,
                        path,
                        file: Some(f),
                        masked: false,
                        links,
                    });
                }
                Probe::Masked => {
                    links.push(Provenance::file(path.clone()));
                    return Ok(Found {
                        name: cur,
                        path,
                        file: None,
                        masked: true,
                        links,
                    });
                }
                Probe::Linked(target) => {
                    links.push(Provenance::file(path.clone()));
                    probe = self.probe(&target);
                    if matches!(probe, Probe::Missing) {
                        return Err(format!("{path}: links to missing {target}"));
                    }
                    path = target;
                }
                Probe::Alias(target) => {
                    links.push(Provenance::file(path.clone()));
                    let (_, target_name) = split_path(&target);
                    if unit_suffix(target_name) != unit_suffix(&cur) {
                        return Err(format!("{path}: alias to {target} of another unit type"));
                    }
                    if target_name == cur {
                        probe = self.probe(&target);
                        path = target;
                        continue;
                    }
                    // Another name: search it from the start of the path.
                    let mut next = target_name.to_string();
                    if let (Some(inst), true) = (instance_of(&cur), is_template(target_name)) {
                        next = with_instance(target_name, inst);
                    }
                    cur = next;
                    match self.search(&cur) {
                        Some((p, pr)) => {
                            path = p;
                            probe = pr;
                        }
                        None => return Err(format!("{target}: alias target not found")),
                    }
                }
            }
        }
        Err(format!("{name}: too many levels of aliases"))
    }

    fn install_of(&self, found: &Found<'_>) -> Install {
        let mut install = found.file.map(|f| f.install.clone()).unwrap_or_default();
        // Drop-ins of the final name and of its template add to the lists.
        let mut names = vec![format!("{}.d", found.name)];
        if let Some(t) = template_of(&found.name) {
            names.push(format!("{t}.d"));
        }
        let mut by_conf: BTreeMap<String, &UnitFile> = BTreeMap::new();
        for n in &names {
            for d in &self.dirs {
                for &i in d.dropins.get(n).into_iter().flatten() {
                    if let Some(f) = self.files.get(i) {
                        let (_, conf) = split_path(&f.path);
                        by_conf.entry(conf.to_string()).or_insert(f);
                    }
                }
            }
        }
        for f in by_conf.values() {
            merge_install(&mut install, &f.install);
        }
        install
    }

    /// install.c `find_symlinks_in_scope` over the configuration directories.
    fn find_symlinks(
        &self,
        name: &str,
        install: &Install,
        unit_path: &str,
        match_name: bool,
    ) -> Option<(UnitState, Provenance)> {
        let known = |link: &str| -> bool {
            if !match_name || link == name || install.alias.iter().any(|(a, _)| a == link) {
                return true;
            }
            if let Some((inst, _)) = &install.default_instance
                && is_template(name)
            {
                return with_instance(name, inst) == link;
            }
            false
        };
        let mut same_name_config = None;
        let mut enabled_runtime = None;
        let mut ignore_same_name = false;
        for d in &self.dirs {
            let config = d.path == PERSISTENT_CONFIG;
            let runtime = d.path == RUNTIME_CONFIG;
            if config || runtime {
                let mut hit = None;
                // `.wants/` etc.: the link's own name (or its template) decides.
                'outer: for (sub, links) in &d.wants {
                    for (l, _) in links {
                        let found_path = l == name;
                        let found_dest = !found_path && template_of(l).as_deref() == Some(name);
                        if (found_path || found_dest) && known(l) {
                            hit = Some(Provenance::file(join(&join(&d.path, sub), l)));
                            break 'outer;
                        }
                    }
                }
                if hit.is_none() {
                    for (l, e) in &d.entries {
                        let Some(t) = &e.link else { continue };
                        let found_path = !ignore_same_name && l == name;
                        let found_dest = split_path(t).1 == name;
                        if found_path && found_dest {
                            if config && same_name_config.is_none() {
                                same_name_config = Some(Provenance::file(join(&d.path, l)));
                            }
                        } else if (found_path || found_dest) && known(l) {
                            hit = Some(Provenance::file(join(&d.path, l)));
                            break;
                        }
                    }
                }
                if let Some(p) = hit {
                    if config {
                        return Some((UnitState::Enabled, p));
                    }
                    enabled_runtime.get_or_insert(p);
                }
            }
            if !ignore_same_name && unit_path.starts_with(&format!("{}/", d.path)) {
                ignore_same_name = true;
            }
        }
        if let Some(p) = enabled_runtime {
            return Some((UnitState::EnabledRuntime, p));
        }
        same_name_config.map(|p| (UnitState::Linked, p))
    }

    /// The preset verdict for a unit name: first matching rule, else enable.
    pub fn preset(&self, name: &str) -> (bool, Provenance) {
        for r in &self.presets {
            if r.instances.is_empty() {
                if crate::files::fnmatch(&r.pattern, name) {
                    return (r.enable, r.at.clone());
                }
            } else if let (Some(t), Some(inst)) = (template_of(name), instance_of(name)) {
                if crate::files::fnmatch(&r.pattern, &t) && r.instances.iter().any(|i| i == inst) {
                    return (r.enable, r.at.clone());
                }
            } else if is_template(name) && crate::files::fnmatch(&r.pattern, name) {
                return (r.enable, r.at.clone());
            }
        }
        let dir = self
            .preset_dirs_seen
            .first()
            .cloned()
            .unwrap_or_else(|| PRESET_PATH[3].to_string());
        (true, Provenance::file(dir))
    }

    /// The unit as `systemctl is-enabled` sees it, with preset and boot chain.
    pub fn unit(&self, name: &str) -> Unit {
        let mut u = Unit {
            name: name.to_string(),
            state: UnitState::NotFound,
            path: None,
            evidence: Vec::new(),
            preset: None,
            first_boot_preset_applies: self.first_boot,
            alias_of: None,
            boot_chain: None,
        };
        if !is_unit_name(name) {
            return u;
        }
        let found = match self.discover(name) {
            Ok(f) => f,
            Err(_) => {
                if let Some(s) = self.sysv.get(name) {
                    u.state = UnitState::Generated;
                    u.path = Some(s.path.clone());
                    u.evidence = s
                        .start_links
                        .iter()
                        .map(|(p, _)| Provenance::file(p.clone()))
                        .collect();
                    u.boot_chain = self.boot_chain(name);
                }
                return u;
            }
        };
        u.path = Some(found.path.clone());
        if found.masked {
            u.state = UnitState::Masked;
            u.evidence = found.links;
            return u;
        }
        let install = self.install_of(&found);
        u.preset = if install.has_rules() || is_template(&found.name) {
            Some(self.preset(&found.name))
        } else {
            None
        };
        u.boot_chain = self.boot_chain(&found.name);
        let (_, base) = split_path(&found.path);
        if name != base && !is_instance(&found.name) {
            u.state = UnitState::Alias;
            u.alias_of = Some(found.name.clone());
            u.evidence = found.links;
            return u;
        }
        if let Some((state, p)) = self.find_symlinks(&found.name, &install, &found.path, true) {
            u.state = state;
            u.evidence = vec![p];
            return u;
        }
        if let Some((_, p)) = self.find_symlinks(&found.name, &install, &found.path, false) {
            u.state = UnitState::Indirect;
            u.evidence = vec![p];
            return u;
        }
        if install.has_rules() {
            u.state = UnitState::Disabled;
        } else if !install.also.is_empty() {
            u.state = UnitState::Indirect;
        } else {
            u.state = UnitState::Static;
        }
        u.evidence = install.first_line().cloned().into_iter().collect();
        u
    }

    /// Whether the unit starts at boot: not masked, and enabled (or, when presets will be
    /// applied on the first boot, preset-enabled), or pulled in from default.target by links
    /// and dependencies (a static unit in a vendor `.wants/`, a SysV script with S links).
    /// An alias answers for the unit it names.
    pub fn enabled_at_boot(&self, name: &str) -> bool {
        let u = self.unit(name);
        let u = match (&u.state, &u.alias_of) {
            (UnitState::Alias, Some(target)) => self.unit(target),
            _ => u,
        };
        match u.state {
            UnitState::Masked | UnitState::NotFound | UnitState::Alias => false,
            UnitState::Enabled | UnitState::EnabledRuntime => true,
            UnitState::Generated => u.boot_chain.is_some(),
            _ => {
                u.boot_chain.is_some()
                    || (u.first_boot_preset_applies
                        && matches!(u.state, UnitState::Disabled | UnitState::Linked)
                        && u.preset.as_ref().is_some_and(|(e, _)| *e))
            }
        }
    }

    /// Units a unit pulls in: `.wants/.requires/.upholds` links in every directory, its
    /// `[Unit]` dependencies, activation, generators.
    fn pulled_in_by(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut keys = vec![name.to_string()];
        if let Some(t) = template_of(name) {
            keys.push(t);
        }
        for k in &keys {
            for d in &self.dirs {
                for suffix in [".wants", ".requires", ".upholds"] {
                    if let Some(links) = d.wants.get(&format!("{k}{suffix}")) {
                        for (l, t) in links {
                            // A link to /dev/null in a .wants dir is ignored.
                            if t.as_deref() == Some("/dev/null") {
                                continue;
                            }
                            out.push(l.clone());
                        }
                    }
                }
            }
        }
        if let Ok(f) = self.discover(name)
            && !f.masked
        {
            if let Some(file) = f.file {
                out.extend(file.deps.iter().map(|(n, _)| n.clone()));
            }
            for (suffix, service_suffix) in [
                (".socket", ".service"),
                (".timer", ".service"),
                (".path", ".service"),
            ] {
                if let Some(stem) = name.strip_suffix(suffix) {
                    out.push(format!("{stem}{service_suffix}"));
                }
            }
        }
        if matches!(name, "multi-user.target" | "graphical.target") {
            let target_of_runlevel = name;
            for (unit, s) in &self.sysv {
                if s.start_links.iter().any(|(_, t)| *t == target_of_runlevel) {
                    out.push(unit.clone());
                }
            }
        }
        if name == "multi-user.target"
            && self.cloud_init_generator.is_some()
            && !self.cloud_init_disabled
        {
            out.push("cloud-init.target".to_string());
        }
        out
    }

    /// Breadth-first from default.target; the chain to `name`, if any.
    fn boot_chain(&self, name: &str) -> Option<Vec<String>> {
        let start = match self.discover("default.target") {
            Ok(f) => f.name,
            Err(_) => "graphical.target".to_string(),
        };
        let canon = |n: &str| -> String {
            match self.discover(n) {
                Ok(f) if !f.masked => f.name,
                _ => n.to_string(),
            }
        };
        let goal = canon(name);
        let mut parent: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::new();
        parent.insert(start.clone(), String::new());
        queue.push_back(start);
        while let Some(cur) = queue.pop_front() {
            if cur == goal || cur == name {
                let mut chain = vec![cur.clone()];
                let mut c = cur;
                while let Some(p) = parent.get(&c) {
                    if p.is_empty() || chain.len() > MAX_BOOT_UNITS {
                        break;
                    }
                    chain.push(p.clone());
                    c = p.clone();
                }
                chain.reverse();
                return Some(chain);
            }
            // A masked unit pulls nothing in.
            if matches!(self.discover(&cur), Ok(ref f) if f.masked) {
                continue;
            }
            for next in self.pulled_in_by(&cur) {
                if parent.len() >= MAX_BOOT_UNITS {
                    return None;
                }
                let next = canon(&next);
                if !parent.contains_key(&next) {
                    parent.insert(next.clone(), cur.clone());
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

fn merge_install(into: &mut Install, from: &Install) {
    for (dst, src) in [
        (&mut into.wanted_by, &from.wanted_by),
        (&mut into.required_by, &from.required_by),
        (&mut into.upheld_by, &from.upheld_by),
        (&mut into.alias, &from.alias),
        (&mut into.also, &from.also),
    ] {
        for v in src {
            if dst.len() < MAX_VALUES {
                dst.push(v.clone());
            }
        }
    }
    if from.default_instance.is_some() {
        into.default_instance = from.default_instance.clone();
    }
}

/// Parse the parts of a unit file the install logic and the boot walk need.
fn parse_unit_file(path: &str, data: &[u8]) -> UnitFile {
    let mut f = UnitFile {
        path: path.to_string(),
        empty: data.is_empty(),
        ..UnitFile::default()
    };
    let mut section = String::new();
    let mut pending: Option<(u32, String)> = None;
    for (n, raw) in lines(data) {
        let raw = if raw.len() > MAX_LINE {
            &raw[..floor_char_boundary(raw, MAX_LINE)]
        } else {
            raw
        };
        // Line continuation: a trailing backslash joins the next line (comments in between
        // are skipped).
        let (start, mut text) = match pending.take() {
            Some((s, mut acc)) => {
                let t = raw.trim_start();
                if t.starts_with('#') || t.starts_with(';') {
                    pending = Some((s, acc));
                    continue;
                }
                acc.push(' ');
                acc.push_str(raw);
                (s, acc)
            }
            None => (n, raw.to_string()),
        };
        if text.ends_with('\\') && text.len() < MAX_LINE {
            text.pop();
            pending = Some((start, text));
            continue;
        }
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let at = Provenance::line(path, start);
        let list = |dst: &mut Vec<(String, Provenance)>| {
            if value.is_empty() {
                dst.clear();
                return;
            }
            for w in value.split_whitespace() {
                if dst.len() < MAX_VALUES {
                    dst.push((w.to_string(), at.clone()));
                }
            }
        };
        match (section.as_str(), key) {
            ("Install", "WantedBy") => list(&mut f.install.wanted_by),
            ("Install", "RequiredBy") => list(&mut f.install.required_by),
            ("Install", "UpheldBy") => list(&mut f.install.upheld_by),
            ("Install", "Alias") => list(&mut f.install.alias),
            ("Install", "Also") => list(&mut f.install.also),
            ("Install", "DefaultInstance") => {
                f.install.default_instance = (!value.is_empty()).then(|| (value.to_string(), at));
            }
            ("Unit", "Wants" | "Requires" | "Upholds" | "BindsTo")
            | ("Socket" | "Timer" | "Path", "Service" | "Unit") => list(&mut f.deps),
            _ => {}
        }
    }
    f
}

/// Lines with 1-based numbers, invalid UTF-8 replaced.
fn lines(data: &[u8]) -> impl Iterator<Item = (u32, &str)> {
    data.split(|&b| b == b'\n').enumerate().map(|(i, l)| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let n = u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX);
        (n, std::str::from_utf8(l).unwrap_or(""))
    })
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

const UNIT_SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".target",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".timer",
    ".path",
    ".slice",
    ".scope",
];

fn unit_suffix(name: &str) -> Option<&'static str> {
    UNIT_SUFFIXES.iter().copied().find(|s| name.ends_with(s))
}

/// A plausible unit name: `prefix[@instance].type`, at most 255 bytes, no slash.
pub fn is_unit_name(name: &str) -> bool {
    let Some(suffix) = unit_suffix(name) else {
        return false;
    };
    let stem = &name[..name.len() - suffix.len()];
    !stem.is_empty()
        && name.len() <= 255
        && !stem.starts_with('@')
        && stem.matches('@').count() <= 1
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c))
}

fn is_dependency_dir(name: &str) -> bool {
    [".wants", ".requires", ".upholds"]
        .iter()
        .any(|s| name.strip_suffix(s).is_some_and(is_unit_name))
}

fn is_template(name: &str) -> bool {
    unit_suffix(name).is_some_and(|s| name[..name.len() - s.len()].ends_with('@'))
}

fn is_instance(name: &str) -> bool {
    instance_of(name).is_some()
}

/// `getty@tty1.service` → `tty1`.
fn instance_of(name: &str) -> Option<&str> {
    let s = unit_suffix(name)?;
    let stem = &name[..name.len() - s.len()];
    let (_, inst) = stem.split_once('@')?;
    (!inst.is_empty()).then_some(inst)
}

/// `getty@tty1.service` → `getty@.service`.
fn template_of(name: &str) -> Option<String> {
    let s = unit_suffix(name)?;
    let stem = &name[..name.len() - s.len()];
    let (prefix, inst) = stem.split_once('@')?;
    (!inst.is_empty()).then(|| format!("{prefix}@{s}"))
}

/// `getty@.service` + `tty1` → `getty@tty1.service`.
fn with_instance(template: &str, inst: &str) -> String {
    match unit_suffix(template) {
        Some(s) => {
            let stem = &template[..template.len() - s.len()];
            format!("{}{inst}{s}", stem)
        }
        None => template.to_string(),
    }
}

fn components(path: &str) -> std::iter::Filter<std::str::Split<'_, char>, fn(&&str) -> bool> {
    path.split('/').filter(|c| !c.is_empty())
}

/// Remove `.`, `..` and repeated slashes from an absolute path (no symlinks followed).
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in components(path) {
        match c {
            "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn names() {
        assert!(is_unit_name("getty@tty1.service"));
        assert!(is_unit_name("dbus-org.freedesktop.nm-dispatcher.service"));
        assert!(!is_unit_name("foo"));
        assert!(!is_unit_name(".service"));
        assert_eq!(
            template_of("getty@tty1.service").as_deref(),
            Some("getty@.service")
        );
        assert_eq!(instance_of("getty@tty1.service"), Some("tty1"));
        assert_eq!(
            with_instance("getty@.service", "tty2"),
            "getty@tty2.service"
        );
        assert!(is_template("getty@.service"));
        assert_eq!(normalize("/a/./b/../c//d"), "/a/c/d");
    }

    #[test]
    fn debian_ssh_alias_and_merged_usr() {
        let unit = "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n";
        let f = MemFiles::new()
            .with_link("/lib", "usr/lib")
            .with("/usr/lib/systemd/system/ssh.service", unit)
            .with(
                "/usr/lib/systemd/system/multi-user.target",
                "[Unit]\nDescription=x\n",
            )
            .with_link(
                "/usr/lib/systemd/system/default.target",
                "multi-user.target",
            )
            .with_link(
                "/etc/systemd/system/sshd.service",
                "/lib/systemd/system/ssh.service",
            )
            .with_link(
                "/etc/systemd/system/multi-user.target.wants/ssh.service",
                "/lib/systemd/system/ssh.service",
            )
            .with("/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        let s = Systemd::load(&f);
        let u = s.unit("ssh.service");
        assert_eq!(u.state, UnitState::Enabled, "{u:?}");
        assert_eq!(
            u.path.as_deref(),
            Some("/usr/lib/systemd/system/ssh.service")
        );
        assert_eq!(
            u.boot_chain,
            Some(vec!["multi-user.target".into(), "ssh.service".into()])
        );
        let a = s.unit("sshd.service");
        assert_eq!(a.state, UnitState::Alias);
        assert_eq!(a.alias_of.as_deref(), Some("ssh.service"));
        assert!(s.enabled_at_boot("sshd.service"));
        assert!(!s.first_boot().0);
        assert_eq!(s.unit("nope.service").state, UnitState::NotFound);
    }

    #[test]
    fn hostile_alias_loop_is_bounded() {
        let f = MemFiles::new()
            .with_link("/usr/lib/systemd/system/a.service", "b.service")
            .with_link("/usr/lib/systemd/system/b.service", "a.service")
            .with_link("/usr/lib/systemd/system/default.target", "default.target");
        let s = Systemd::load(&f);
        assert_eq!(s.unit("a.service").state, UnitState::NotFound);
        assert!(!s.enabled_at_boot("a.service"));
    }
}
