//! cloud-init as the instance will see it at first boot: installed or not, disabled or not,
//! its system configuration merged as cloud-init merges it, and what that configuration will
//! change (sshd password authentication, host keys, root login, the default user).
//!
//! Needed by S08 (the image takes the customer's key: cloud-init installed, enabled, a
//! datasource list allowing Oracle/OpenStack), G08 (cloud-init version for IMDSv2),
//! REC-SSH-PASSWORD (`ssh_pwauth`), S14 (`disable_root`) and REC-USER (`default_user`).
//!
//! The merge follows cloud-init's own code (22.4, `util.read_conf_with_confd`,
//! `util.read_conf_d`, `util.mergemanydict` and the default mergers `list()+dict()+str()`):
//! - `/etc/cloud/cloud.cfg`, then `/etc/cloud/cloud.cfg.d/*.cfg` (regular files, names sorted),
//!   or the directory named by a `conf_d:` key of cloud.cfg; the later file wins and
//!   cloud.cfg.d wins over cloud.cfg;
//! - mappings merge key by key, recursively; for a key both sides set, the winning value is
//!   kept unless the losing value is a mapping and the winner a list or a string, in which
//!   case (the list and string mergers' `replace`) the mapping replaces it;
//! - a file that is not valid YAML, or whose root is not a mapping, counts as empty (cloud-init
//!   logs and goes on), and so does a file holding several YAML documents (PyYAML's
//!   `safe_load` refuses it).
//!
//! This is the system configuration only: vendor data, user data and the kernel command
//! line's `cc:` come from the platform at boot and override it.

use crate::yaml::{self, Kind, Node, Value};
use crate::{EntryKind, Files, Provenance};
use serde::Serialize;

pub const CLOUD_CFG: &str = "/etc/cloud/cloud.cfg";
pub const CLOUD_CFG_D: &str = "/etc/cloud/cloud.cfg.d";
/// `cloud-init.disabled` marker (docs: "Disabling cloud-init": touching this file disables it).
pub const DISABLED_MARKER: &str = "/etc/cloud/cloud-init.disabled";
const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// The file cloud-init ≥ 22.3 writes when sshd_config includes sshd_config.d.
pub const SSHD_DROP_IN: &str = "/etc/ssh/sshd_config.d/50-cloud-init.conf";

/// Largest configuration file read (the YAML reader's own limit).
const MAX_CONFIG_FILE: u64 = yaml::MAX_INPUT as u64;
/// Most files of cloud.cfg.d read.
const MAX_CONFIG_FILES: usize = 256;
const MAX_SMALL_FILE: u64 = 64 * 1024;
const MAX_WARNINGS: usize = 100;
const MAX_LIST: usize = 1024;

const EXECUTABLES: &[&str] = &["/usr/bin/cloud-init", "/usr/local/bin/cloud-init"];
const PACKAGE_GLOBS: &[&str] = &[
    "/usr/lib/python3*/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/lib64/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages",
];
/// The systemd units cloud-init ships.
pub const UNITS: &[&str] = &[
    "cloud-init-local.service",
    "cloud-init.service",
    "cloud-config.service",
    "cloud-final.service",
    "cloud-init.target",
];
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// A value with the file and line that set it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: String,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisabledBy {
    /// `/etc/cloud/cloud-init.disabled` exists.
    MarkerFile { path: String },
    /// `cloud-init=disabled` on the kernel command line.
    KernelCmdline { word: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitFile {
    pub name: String,
    pub path: String,
    /// The symlink target when the unit file is a link (`/dev/null`: masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// `ssh_pwauth` as cc_set_passwords `handle_ssh_pwauth` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PwAuth {
    /// Sets `PasswordAuthentication yes`.
    Yes,
    /// Sets `PasswordAuthentication no`.
    No,
    /// `unchanged` or null: sshd's configuration is left alone.
    Unchanged,
    /// Any other value: left alone, with a warning in cloud-init's log.
    Unrecognized(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct DefaultUser {
    pub name: Option<String>,
    /// cloud-init's default when absent is true (distros `create_user`: "'lock_passwd'
    /// defaults to True").
    pub lock_passwd: Option<bool>,
    /// Sudo rules as written (a string or each list item); empty when absent or false.
    pub sudo: Vec<String>,
    pub shell: Option<String>,
    pub groups: Vec<String>,
    /// The default user has a `passwd`, `hashed_passwd` or `plain_text_passwd` (its value is
    /// never copied).
    pub has_password: bool,
    pub provenance: Provenance,
}

/// One entry of `users:`.
#[derive(Debug, Clone, Serialize)]
pub struct UserEntry {
    /// `default` for the distribution's default user.
    pub name: Option<String>,
    pub is_default: bool,
    pub lock_passwd: Option<bool>,
    pub has_password: bool,
    pub sudo: Vec<String>,
    pub ssh_authorized_keys: usize,
    pub provenance: Provenance,
}

/// Where a password is configured (the value itself is never copied).
#[derive(Debug, Clone, Serialize)]
pub struct PasswordSetting {
    /// The configuration path, e.g. `password`, `chpasswd.list`, `users[2].passwd`.
    pub key: String,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Modules {
    pub cloud_init_modules: Option<Setting<Vec<String>>>,
    pub cloud_config_modules: Option<Setting<Vec<String>>>,
    pub cloud_final_modules: Option<Setting<Vec<String>>>,
}

impl Modules {
    /// Whether a module is listed in any stage (`-` and `_` are the same to cloud-init).
    /// `None` when no stage list is configured at all.
    pub fn runs(&self, module: &str) -> Option<bool> {
        let want = module.replace('-', "_");
        let lists = [
            &self.cloud_init_modules,
            &self.cloud_config_modules,
            &self.cloud_final_modules,
        ];
        if lists.iter().all(|l| l.is_none()) {
            return None;
        }
        Some(
            lists
                .iter()
                .flat_map(|l| l.iter())
                .any(|l| l.value.iter().any(|m| m.replace('-', "_") == want)),
        )
    }
}

/// The settings the rules need, from the merged system configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    pub datasource_list: Option<Setting<Vec<String>>>,
    /// The `datasource:` mapping as configured (typed as PyYAML reads it).
    pub datasource: Option<Setting<Node>>,
    pub ssh_pwauth: Option<Setting<PwAuth>>,
    pub disable_root: Option<Setting<bool>>,
    pub disable_root_opts: Option<Setting<String>>,
    pub ssh_deletekeys: Option<Setting<bool>>,
    pub ssh_genkeytypes: Option<Setting<Vec<String>>>,
    pub default_user: Option<DefaultUser>,
    pub users: Option<Setting<Vec<UserEntry>>>,
    /// `chpasswd`, `password`, users' `passwd`/`hashed_passwd`/`plain_text_passwd`.
    pub passwords: Vec<PasswordSetting>,
    /// `network: {config: disabled}`.
    pub network_config_disabled: Option<Setting<bool>>,
    pub preserve_hostname: Option<Setting<bool>>,
    /// As written: true, false, `localhost`, `template`.
    pub manage_etc_hosts: Option<Setting<String>>,
    pub modules: Modules,
}

/// What cloud-init will change at first boot, from its defaults and the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct FirstBoot {
    /// Installed and not disabled.
    pub runs: bool,
    /// `Some(true)`: writes `PasswordAuthentication yes`; `Some(false)`: `no`; `None`: leaves
    /// sshd alone (or the set-passwords module does not run).
    pub sets_password_authentication: Option<bool>,
    /// The file it writes `PasswordAuthentication` into.
    pub password_authentication_file: Option<String>,
    pub password_authentication_provenance: Option<Provenance>,
    /// Deletes the image's SSH host keys (`ssh_deletekeys`, default true) — needs the `ssh`
    /// module.
    pub deletes_host_keys: bool,
    /// Makes root's authorized_keys refuse logins (`disable_root`, default true) — needs the
    /// `ssh` module.
    pub disables_root_login: bool,
    /// The default user created (`users:` lists `default`, or the old `user:` key).
    pub default_user: Option<String>,
    /// Its password is locked (`lock_passwd`, default true).
    pub default_user_password_locked: Option<bool>,
    pub default_user_has_sudo: bool,
    /// A password is configured somewhere (see [`Settings::passwords`]).
    pub sets_passwords: bool,
}

/// Every configuration file read, in cloud-init's order of priority (first wins).
#[derive(Debug, Clone, Serialize)]
pub struct ConfigFile {
    pub path: String,
    /// False when cloud-init would ignore it (unreadable, bad YAML, not a mapping).
    pub used: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudInitFact {
    pub installed: bool,
    pub executables: Vec<String>,
    /// Directories holding the `cloudinit` python package.
    pub python_packages: Vec<String>,
    pub version: Option<Version>,
    /// Empty when nothing disables it.
    pub disabled_by: Vec<DisabledBy>,
    pub units: Vec<UnitFile>,
    /// `ci.ds=` / `ci.datasource=` on the kernel command line (overrides `datasource_list`).
    pub cmdline_datasource: Option<String>,
    pub config_files: Vec<ConfigFile>,
    /// For each top-level key of the merged configuration, where the winning value was set.
    pub top_level_keys: Vec<(String, Provenance)>,
    pub settings: Settings,
    pub first_boot: FirstBoot,
    /// The merged configuration (typed as PyYAML reads it); see [`CloudInitFact::merged_json`].
    #[serde(skip)]
    pub merged: Node,
    pub warnings: Vec<String>,
}

impl CloudInitFact {
    /// The merged configuration as `json.dumps(cfg, sort_keys=True)` prints cloud-init's
    /// own merge result.
    pub fn merged_json(&self) -> String {
        self.merged.to_json()
    }
}

#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, s: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(s);
        } else {
            self.dropped += 1;
        }
    }
    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("… and {} more warnings", self.dropped));
        }
        self.list
    }
}

/// Gather the cloud-init facts. `cmdline` is the kernel command line the image boots with,
/// when known. Never fails: problems become warnings.
pub fn gather(files: &dyn Files, cmdline: Option<&str>) -> CloudInitFact {
    let mut w = Warnings::default();

    let mut executables = Vec::new();
    for e in EXECUTABLES {
        if exists(files, e, &mut w) {
            executables.push((*e).to_string());
        }
    }
    let mut site_dirs = Vec::new();
    for g in PACKAGE_GLOBS {
        match files.glob(g) {
            Ok(v) => site_dirs.extend(v),
            Err(e) => w.push(format!("{g}: {e}")),
        }
    }
    site_dirs.sort();
    site_dirs.dedup();
    let mut python_packages = Vec::new();
    let mut version = None;
    for site in &site_dirs {
        let pkg = format!("{site}/cloudinit");
        if matches!(files.list_dir(&pkg), Ok(Some(_))) {
            python_packages.push(pkg.clone());
            if version.is_none() {
                version = version_py(files, &format!("{pkg}/version.py"), &mut w);
            }
        }
    }
    if version.is_none() {
        for site in &site_dirs {
            version = dist_metadata(files, site, &mut w);
            if version.is_some() {
                break;
            }
        }
    }
    let installed = !executables.is_empty() || !python_packages.is_empty();

    let mut disabled_by = Vec::new();
    if exists(files, DISABLED_MARKER, &mut w) {
        disabled_by.push(DisabledBy::MarkerFile {
            path: DISABLED_MARKER.into(),
        });
    }
    let mut cmdline_datasource = None;
    if let Some(c) = cmdline {
        for word in c.split_ascii_whitespace() {
            if word == "cloud-init=disabled" {
                disabled_by.push(DisabledBy::KernelCmdline { word: word.into() });
            }
            if let Some(v) = word
                .strip_prefix("ci.ds=")
                .or_else(|| word.strip_prefix("ci.datasource="))
            {
                cmdline_datasource = Some(v.to_string());
            }
        }
    }

    let mut units = Vec::new();
    for dir in UNIT_DIRS {
        for u in UNITS {
            let path = format!("{dir}/{u}");
            let link_target = files.read_link(&path).ok().flatten();
            if link_target.is_some() || exists(files, &path, &mut w) {
                units.push(UnitFile {
                    name: (*u).to_string(),
                    path,
                    link_target,
                });
            }
        }
    }

    let (merged, config_files) = merged_config(files, &mut w);
    let merged_node = merged.to_node();
    let top_level_keys = match &merged.v {
        MV::Map(entries) => entries
            .iter()
            .map(|(k, m)| (key_string(k), m.provenance(&merged.paths)))
            .collect(),
        MV::Leaf(_) => Vec::new(),
    };
    let settings = settings(&merged, &mut w);
    let first_boot = first_boot(
        files,
        installed && disabled_by.is_empty(),
        &settings,
        version.as_ref(),
        &merged,
    );

    CloudInitFact {
        installed,
        executables,
        python_packages,
        version,
        disabled_by,
        units,
        cmdline_datasource,
        config_files,
        top_level_keys,
        settings,
        first_boot,
        merged: merged_node,
        warnings: w.finish(),
    }
}

fn exists(files: &dyn Files, path: &str, w: &mut Warnings) -> bool {
    match files.head(path, 0) {
        Ok(Some(_)) => true,
        Ok(None) => matches!(files.list_dir(path), Ok(Some(_))),
        Err(e) => {
            w.push(format!("{path}: not readable: {e}"));
            false
        }
    }
}

fn read_text(files: &dyn Files, path: &str, max: u64, w: &mut Warnings) -> Option<String> {
    match files.read(path, max) {
        Ok(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Ok(None) => None,
        Err(e) => {
            w.push(format!("{path}: not readable: {e}"));
            None
        }
    }
}

/// `__VERSION__ = "22.4.2"` in cloudinit/version.py.
fn version_py(files: &dyn Files, path: &str, w: &mut Warnings) -> Option<Version> {
    let text = read_text(files, path, MAX_SMALL_FILE, w)?;
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("__VERSION__") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let v = rest.trim().trim_matches(|c| c == '"' || c == '\'');
        if !v.is_empty() {
            return Some(Version {
                version: v.to_string(),
                provenance: Provenance::line(path, line_no(i)),
            });
        }
    }
    w.push(format!("{path}: no __VERSION__ line"));
    None
}

/// `Version:` of `cloud_init-*.dist-info/METADATA` or `cloud_init-*.egg-info[/PKG-INFO]`.
fn dist_metadata(files: &dyn Files, site: &str, w: &mut Warnings) -> Option<Version> {
    let mut candidates = Vec::new();
    for pat in [
        format!("{site}/cloud_init-*.dist-info/METADATA"),
        format!("{site}/cloud_init-*.egg-info/PKG-INFO"),
        format!("{site}/cloud_init-*.egg-info"),
    ] {
        if let Ok(v) = files.glob(&pat) {
            candidates.extend(v);
        }
    }
    for path in candidates {
        if matches!(files.list_dir(&path), Ok(Some(_))) {
            continue;
        }
        let Some(text) = read_text(files, &path, MAX_SMALL_FILE, w) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Version:") {
                return Some(Version {
                    version: v.trim().to_string(),
                    provenance: Provenance::line(&path, line_no(i)),
                });
            }
        }
    }
    None
}

fn line_no(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX - 1).saturating_add(1)
}

// ---- The merge -------------------------------------------------------------------------

/// A merged node: mappings stay open for merging, everything else is a leaf. `file` indexes
/// the list of file paths.
#[derive(Debug, Clone)]
struct M {
    v: MV,
    file: usize,
    line: u32,
}

#[derive(Debug, Clone)]
enum MV {
    Leaf(Node),
    Map(Vec<(Node, M)>),
}

struct Merged {
    v: MV,
    paths: Vec<String>,
}

impl M {
    fn from_node(n: Node, file: usize) -> M {
        let line = n.line;
        match n.value {
            Value::Map(entries) => M {
                v: MV::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| {
                            let kl = k.line;
                            let mut m = M::from_node(v, file);
                            // A key's provenance is the key's line.
                            m.line = kl;
                            (k, m)
                        })
                        .collect(),
                ),
                file,
                line,
            },
            value => M {
                v: MV::Leaf(Node { value, line }),
                file,
                line,
            },
        }
    }

    fn provenance(&self, paths: &[String]) -> Provenance {
        Provenance::line(paths.get(self.file).cloned().unwrap_or_default(), self.line)
    }

    fn to_node(&self) -> Node {
        match &self.v {
            MV::Leaf(n) => n.clone(),
            MV::Map(entries) => Node {
                value: Value::Map(
                    entries
                        .iter()
                        .map(|(k, m)| (k.clone(), m.to_node()))
                        .collect(),
                ),
                line: self.line,
            },
        }
    }

    fn is_map(&self) -> bool {
        matches!(self.v, MV::Map(_))
    }

    fn get(&self, key: &str) -> Option<&M> {
        match &self.v {
            MV::Map(e) => e
                .iter()
                .find(|(k, _)| k.as_str() == Some(key) && k.kind() == Some(Kind::Str))
                .map(|(_, m)| m),
            MV::Leaf(_) => None,
        }
    }

    fn node(&self) -> Option<&Node> {
        match &self.v {
            MV::Leaf(n) => Some(n),
            MV::Map(_) => None,
        }
    }
}

impl Merged {
    fn to_node(&self) -> Node {
        M {
            v: self.v.clone(),
            file: 0,
            line: 1,
        }
        .to_node()
    }

    fn get(&self, key: &str) -> Option<&M> {
        match &self.v {
            MV::Map(e) => e
                .iter()
                .find(|(k, _)| k.as_str() == Some(key) && k.kind() == Some(Kind::Str))
                .map(|(_, m)| m),
            MV::Leaf(_) => None,
        }
    }

    fn prov(&self, m: &M) -> Provenance {
        m.provenance(&self.paths)
    }
}

/// Python's identity of a key (type and value), as a dict compares them.
fn key_id(k: &Node) -> String {
    k.to_json()
}

fn key_string(k: &Node) -> String {
    match k.kind() {
        Some(Kind::Str) => k.as_str().unwrap_or_default().to_string(),
        _ => k.to_json(),
    }
}

/// cloud-init's default merge of `lo` (lower priority) into `hi`: DictMerger `no_replace`
/// with `recurse_dict`; for a key both set, `merge_same_key(old, new)`.
fn merge_into(hi: &mut Vec<(Node, M)>, lo: Vec<(Node, M)>) {
    // An index of the winner's keys keeps a hostile file with many keys linear.
    let mut index: std::collections::BTreeMap<String, usize> = hi
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (key_id(k), i))
        .collect();
    for (k, v) in lo {
        let id = key_id(&k);
        let Some(&i) = index.get(&id) else {
            index.insert(id, hi.len());
            hi.push((k, v));
            continue;
        };
        let Some((_, old)) = hi.get_mut(i) else {
            continue;
        };
        if !v.is_map() {
            // Not a dict: "Otherwise leave it be".
            continue;
        }
        match &mut old.v {
            MV::Map(old_entries) => {
                if let MV::Map(new_entries) = v.v {
                    merge_into(old_entries, new_entries);
                }
            }
            MV::Leaf(n) => {
                // The winner is not a dict: the merger picked by its type decides.
                // ListMerger `replace` and StringMerger (no append) return the new value;
                // any other type is kept (UnknownMerger).
                let replaced = match &n.value {
                    Value::Seq(_) => true,
                    Value::Scalar(s) => s.kind() == Kind::Str,
                    _ => false,
                };
                if replaced {
                    *old = v;
                }
            }
        }
    }
}

fn merged_config(files: &dyn Files, w: &mut Warnings) -> (Merged, Vec<ConfigFile>) {
    let mut paths: Vec<String> = Vec::new();
    let mut config_files = Vec::new();
    let load = |path: &str, w: &mut Warnings, paths: &mut Vec<String>| -> Option<M> {
        let idx = paths.len();
        paths.push(path.to_string());
        let text = read_text(files, path, MAX_CONFIG_FILE, w)?;
        if text.starts_with("## template: jinja") {
            w.push(format!(
                "{path}: a jinja template, rendered with instance data at boot; read as plain YAML here"
            ));
        }
        match yaml::parse_document(&text) {
            Err(e) => {
                w.push(format!(
                    "{path}:{}: not valid YAML, cloud-init ignores this file: {}",
                    e.line, e.message
                ));
                None
            }
            Ok(d) if !d.more_documents.is_empty() => {
                w.push(format!(
                    "{path}:{}: a second YAML document; cloud-init's loader refuses the file and ignores it",
                    d.more_documents[0]
                ));
                None
            }
            Ok(d) => match d.root.value {
                Value::Map(_) => {
                    let m = M::from_node(d.root, idx);
                    if m.get("merge_how").is_some() || m.get("merge_type").is_some() {
                        w.push(format!(
                            "{path}: sets merge_how/merge_type; its custom merge rules are not modelled (default rules used)"
                        ));
                    }
                    Some(m)
                }
                Value::Null => None,
                _ => {
                    w.push(format!(
                        "{path}:{}: the top level is not a mapping; cloud-init ignores this file",
                        d.root.line
                    ));
                    None
                }
            },
        }
    };

    let main = load(CLOUD_CFG, w, &mut paths);
    config_files.push(ConfigFile {
        path: CLOUD_CFG.into(),
        used: main.is_some(),
    });
    // `conf_d:` in cloud.cfg names another directory.
    let mut confd = Some(CLOUD_CFG_D.to_string());
    if let Some(m) = main.as_ref().and_then(|m| m.get("conf_d")) {
        confd = m
            .node()
            .and_then(|n| match n.kind() {
                Some(Kind::Str) => n.as_str().map(|s| s.trim().to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty());
        if confd.is_none() {
            w.push(format!(
                "{CLOUD_CFG}:{}: conf_d is not a path; no .d directory read",
                m.line
            ));
        }
    }
    let mut parts: Vec<M> = Vec::new();
    if let Some(dir) = confd {
        match files.list_dir(&dir) {
            Ok(Some(entries)) => {
                let mut names: Vec<String> = entries
                    .into_iter()
                    .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Symlink))
                    .map(|e| e.name)
                    .filter(|n| n.ends_with(".cfg"))
                    .collect();
                names.sort();
                if names.len() > MAX_CONFIG_FILES {
                    w.push(format!(
                        "{dir}: {} .cfg files; only the last {MAX_CONFIG_FILES} (which win) are read",
                        names.len()
                    ));
                    names.drain(..names.len() - MAX_CONFIG_FILES);
                }
                // Later names win: merge from the last one.
                for name in names.iter().rev() {
                    let path = format!("{dir}/{name}");
                    if matches!(files.list_dir(&path), Ok(Some(_))) {
                        continue;
                    }
                    let m = load(&path, w, &mut paths);
                    config_files.push(ConfigFile {
                        path,
                        used: m.is_some(),
                    });
                    parts.extend(m);
                }
            }
            Ok(None) => {}
            Err(e) => w.push(format!("{dir}: not readable: {e}")),
        }
    }
    // Priority order: cloud.cfg.d (last name first), then cloud.cfg.
    let d_files: Vec<ConfigFile> = config_files.drain(1..).collect();
    let main_file = config_files.pop();
    config_files.extend(d_files);
    config_files.extend(main_file);
    parts.extend(main);
    let mut root: Vec<(Node, M)> = Vec::new();
    for p in parts {
        if let MV::Map(e) = p.v {
            merge_into(&mut root, e);
        }
    }
    (
        Merged {
            v: MV::Map(root),
            paths,
        },
        config_files,
    )
}

// ---- Settings --------------------------------------------------------------------------

/// Python truthiness of a leaf as PyYAML typed it.
fn truthy(n: &Node) -> bool {
    match &n.value {
        Value::Null => false,
        Value::Seq(v) => !v.is_empty(),
        Value::Map(v) => !v.is_empty(),
        Value::Scalar(s) => match s.kind() {
            Kind::Null => false,
            Kind::Bool(b) => b,
            Kind::Int(i) => i != 0,
            Kind::Float(f) => f != 0.0,
            Kind::Str => !s.text.is_empty(),
        },
    }
}

/// Python's `str(val)` for a scalar (what `util.is_true` compares).
fn py_str(n: &Node) -> Option<String> {
    match &n.value {
        Value::Null => Some("None".into()),
        Value::Scalar(s) => Some(match s.kind() {
            Kind::Null => "None".into(),
            Kind::Bool(b) => if b { "True" } else { "False" }.into(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(_) => n.to_json(),
            Kind::Str => s.text.clone(),
        }),
        _ => None,
    }
}

/// `util.is_true` / `util.is_false`: a bool is itself, anything else by `str(val)`.
fn is_true_false(n: &Node) -> Option<bool> {
    if let Some(Kind::Bool(b)) = n.kind() {
        return Some(b);
    }
    let s = py_str(n)?.trim().to_lowercase();
    if ["true", "1", "on", "yes"].contains(&s.as_str()) {
        Some(true)
    } else if ["off", "0", "no", "false"].contains(&s.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// `util.translate_bool`: falsy values are false, a bool is itself, else `is_true`.
fn translate_bool(n: &Node) -> bool {
    if !truthy(n) {
        return false;
    }
    if let Some(Kind::Bool(b)) = n.kind() {
        return b;
    }
    is_true_false(n) == Some(true)
}

fn string_list(n: &Node) -> Option<Vec<String>> {
    match &n.value {
        Value::Seq(items) => Some(
            items
                .iter()
                .take(MAX_LIST)
                .filter_map(|i| match &i.value {
                    Value::Scalar(s) => Some(s.text.clone()),
                    // Module entries may be [name, frequency].
                    Value::Seq(v) => v.first().and_then(|x| x.as_str()).map(str::to_string),
                    Value::Map(_) => i.get("name").and_then(|x| x.as_str()).map(str::to_string),
                    Value::Null => None,
                })
                .collect(),
        ),
        Value::Scalar(s) => Some(
            s.text
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

/// `sudo:` as cloud-init takes it: a string, a list of strings, or false/null for none.
fn sudo_rules(n: Option<&Node>) -> Vec<String> {
    let Some(n) = n else { return Vec::new() };
    match &n.value {
        Value::Scalar(s) if s.kind() == Kind::Str => vec![s.text.clone()],
        Value::Seq(v) => v
            .iter()
            .take(MAX_LIST)
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

const PASSWORD_KEYS: &[&str] = &["passwd", "hashed_passwd", "plain_text_passwd"];

fn settings(m: &Merged, w: &mut Warnings) -> Settings {
    let mut s = Settings::default();
    let leaf = |key: &str| m.get(key).map(|x| (x.to_node(), m.prov(x)));

    if let Some((n, p)) = leaf("datasource_list") {
        match string_list(&n) {
            Some(v) => {
                s.datasource_list = Some(Setting {
                    value: v,
                    provenance: p,
                })
            }
            None => w.push(format!("{p}: datasource_list is not a list")),
        }
    }
    if let Some((n, p)) = leaf("datasource") {
        s.datasource = Some(Setting {
            value: n,
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("ssh_pwauth") {
        // cc_set_passwords.handle_ssh_pwauth.
        let v = match is_true_false(&n) {
            Some(true) => PwAuth::Yes,
            Some(false) => PwAuth::No,
            None => match py_str(&n) {
                Some(t) if t == "None" || t.eq_ignore_ascii_case("unchanged") => PwAuth::Unchanged,
                Some(t) => PwAuth::Unrecognized(t),
                None => PwAuth::Unrecognized(n.to_json()),
            },
        };
        s.ssh_pwauth = Some(Setting {
            value: v,
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("disable_root") {
        // cc_ssh: util.get_cfg_option_bool(cfg, "disable_root", True).
        s.disable_root = Some(Setting {
            value: translate_bool(&n),
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("disable_root_opts")
        && let Some(v) = py_str(&n)
    {
        s.disable_root_opts = Some(Setting {
            value: v,
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("ssh_deletekeys") {
        // cc_ssh: `if cfg.get("ssh_deletekeys", True):` — Python truthiness.
        s.ssh_deletekeys = Some(Setting {
            value: truthy(&n),
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("ssh_genkeytypes")
        && let Some(v) = string_list(&n)
    {
        s.ssh_genkeytypes = Some(Setting {
            value: v,
            provenance: p,
        });
    }
    if let Some(du) = m.get("system_info").and_then(|x| x.get("default_user")) {
        let n = du.to_node();
        s.default_user = Some(DefaultUser {
            name: n.get("name").and_then(py_str),
            lock_passwd: n.get("lock_passwd").map(truthy),
            sudo: sudo_rules(n.get("sudo")),
            shell: n.get("shell").and_then(|x| x.as_str()).map(str::to_string),
            groups: n.get("groups").and_then(string_list).unwrap_or_default(),
            has_password: PASSWORD_KEYS.iter().any(|k| n.get(k).is_some_and(truthy)),
            provenance: m.prov(du),
        });
        for k in PASSWORD_KEYS {
            if let Some((key, v)) = n.get_entry(k)
                && truthy(v)
            {
                s.passwords.push(PasswordSetting {
                    key: format!("system_info.default_user.{k}"),
                    provenance: Provenance::line(
                        m.paths.get(du.file).cloned().unwrap_or_default(),
                        key.line,
                    ),
                });
            }
        }
    }
    if let Some(u) = m.get("users") {
        let n = u.to_node();
        let file = m.paths.get(u.file).cloned().unwrap_or_default();
        let items: Vec<Node> = match &n.value {
            Value::Seq(v) => v.iter().take(MAX_LIST).cloned().collect(),
            Value::Scalar(_) => string_list(&n)
                .unwrap_or_default()
                .into_iter()
                .map(|name| Node {
                    value: Value::Scalar(yaml::Scalar {
                        text: name,
                        quoted: true,
                    }),
                    line: n.line,
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut entries = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let name = match &it.value {
                Value::Scalar(_) => it.as_str().map(str::to_string),
                Value::Map(_) => it.get("name").and_then(py_str),
                _ => None,
            };
            for k in PASSWORD_KEYS {
                if let Some((key, v)) = it.get_entry(k)
                    && truthy(v)
                {
                    s.passwords.push(PasswordSetting {
                        key: format!("users[{i}].{k}"),
                        provenance: Provenance::line(&file, key.line),
                    });
                }
            }
            entries.push(UserEntry {
                is_default: name.as_deref() == Some("default"),
                name,
                lock_passwd: it.get("lock_passwd").map(truthy),
                has_password: PASSWORD_KEYS.iter().any(|k| it.get(k).is_some_and(truthy)),
                sudo: sudo_rules(it.get("sudo")),
                ssh_authorized_keys: it
                    .get("ssh_authorized_keys")
                    .and_then(|x| x.as_seq())
                    .map_or(0, <[Node]>::len),
                provenance: Provenance::line(&file, it.line),
            });
        }
        s.users = Some(Setting {
            value: entries,
            provenance: m.prov(u),
        });
    }
    if let Some(c) = m.get("chpasswd") {
        let file = m.paths.get(c.file).cloned().unwrap_or_default();
        let n = c.to_node();
        for k in ["list", "users"] {
            if let Some((key, v)) = n.get_entry(k)
                && truthy(v)
            {
                s.passwords.push(PasswordSetting {
                    key: format!("chpasswd.{k}"),
                    provenance: Provenance::line(&file, key.line),
                });
            }
        }
    }
    for k in ["password", "plain_text_passwd"] {
        if let Some((n, p)) = leaf(k)
            && truthy(&n)
        {
            s.passwords.push(PasswordSetting {
                key: k.into(),
                provenance: p,
            });
        }
    }
    if let Some(net) = m.get("network")
        && let Some(cfg) = net.get("config")
    {
        let disabled = cfg.node().and_then(|n| n.as_str()) == Some("disabled");
        s.network_config_disabled = Some(Setting {
            value: disabled,
            provenance: m.prov(cfg),
        });
    }
    if let Some((n, p)) = leaf("preserve_hostname") {
        s.preserve_hostname = Some(Setting {
            value: translate_bool(&n),
            provenance: p,
        });
    }
    if let Some((n, p)) = leaf("manage_etc_hosts")
        && let Some(v) = n.as_str().map(str::to_string).or_else(|| py_str(&n))
    {
        s.manage_etc_hosts = Some(Setting {
            value: v,
            provenance: p,
        });
    }
    let modules = |key: &str| {
        leaf(key).and_then(|(n, p)| {
            string_list(&n).map(|v| Setting {
                value: v,
                provenance: p,
            })
        })
    };
    s.modules = Modules {
        cloud_init_modules: modules("cloud_init_modules"),
        cloud_config_modules: modules("cloud_config_modules"),
        cloud_final_modules: modules("cloud_final_modules"),
    };
    s
}

/// Whether `/etc/ssh/sshd_config` has the exact line cloud-init looks for before writing its
/// drop-in (`ssh_util._includes_dconf`: a line starting `Include /etc/ssh/sshd_config.d/*.conf`).
fn sshd_includes_dconf(files: &dyn Files) -> bool {
    match files.read(SSHD_CONFIG, MAX_CONFIG_FILE) {
        Ok(Some(b)) => String::from_utf8_lossy(&b)
            .lines()
            .any(|l| l.starts_with("Include /etc/ssh/sshd_config.d/*.conf")),
        _ => false,
    }
}

/// cloud-init ≥ 22.3 writes the drop-in (the 22.3 release added `_includes_dconf`).
fn writes_drop_in(version: Option<&Version>) -> bool {
    let Some(v) = version else { return true };
    let mut it = v
        .version
        .split(['.', '-', '+'])
        .map(|x| x.parse::<u32>().ok());
    match (it.next().flatten(), it.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (22, 3),
        (Some(major), None) => major > 22,
        _ => true,
    }
}

fn first_boot(
    files: &dyn Files,
    runs: bool,
    s: &Settings,
    version: Option<&Version>,
    m: &Merged,
) -> FirstBoot {
    let set_passwords_runs = s.modules.runs("set-passwords").unwrap_or(false);
    let ssh_runs = s.modules.runs("ssh").unwrap_or(false);
    // Docs, module "Set Passwords": ssh_pwauth true → "PasswordAuthentication yes", false →
    // "no", "unchanged" or unset → sshd_config left as it is.
    let sets = match s.ssh_pwauth.as_ref().map(|x| &x.value) {
        Some(PwAuth::Yes) => Some(true),
        Some(PwAuth::No) => Some(false),
        _ => None,
    }
    .filter(|_| runs && set_passwords_runs);
    let file = sets.map(|_| {
        if writes_drop_in(version) && sshd_includes_dconf(files) {
            SSHD_DROP_IN.to_string()
        } else {
            SSHD_CONFIG.to_string()
        }
    });
    // Docs, module "SSH": "ssh_deletekeys: ... Default: true"; cc_ssh `cfg.get("ssh_deletekeys", True)`.
    let deletes = s.ssh_deletekeys.as_ref().is_none_or(|x| x.value);
    // Docs, module "SSH": "disable_root: Disable root login. Default: true";
    // cc_ssh `util.get_cfg_option_bool(cfg, "disable_root", True)`.
    let disables_root = s.disable_root.as_ref().is_none_or(|x| x.value);
    // ug_util.normalize_users_groups: the default user is created only when `users` lists
    // `default`, or the old `user:` key is set.
    let users_default = s
        .users
        .as_ref()
        .is_some_and(|u| u.value.iter().any(|e| e.is_default));
    let old_user = m.get("user").and_then(|u| match &u.v {
        MV::Leaf(n) if truthy(n) => n.as_str().map(str::to_string),
        MV::Map(_) => u.get("name").and_then(|x| x.node()).and_then(py_str),
        _ => None,
    });
    let default_name = old_user
        .clone()
        .or_else(|| s.default_user.as_ref().and_then(|d| d.name.clone()))
        .filter(|_| runs && (users_default || old_user.is_some()));
    let du = s.default_user.as_ref();
    FirstBoot {
        runs,
        sets_password_authentication: sets,
        password_authentication_file: file,
        password_authentication_provenance: sets
            .and(s.ssh_pwauth.as_ref().map(|x| x.provenance.clone())),
        deletes_host_keys: runs && ssh_runs && deletes,
        disables_root_login: runs && ssh_runs && disables_root,
        // distros.create_user: "'lock_passwd' defaults to True".
        default_user_password_locked: default_name
            .as_ref()
            .map(|_| du.and_then(|d| d.lock_passwd).unwrap_or(true)),
        default_user_has_sudo: default_name.is_some() && du.is_some_and(|d| !d.sudo.is_empty()),
        default_user: default_name,
        sets_passwords: runs && !s.passwords.is_empty(),
    }
}
