//! The effective sshd configuration, computed offline the way OpenSSH's sshd (servconf.c)
//! computes it, for S14 (root login), REC-SSH-PASSWORD and the AuthorizedKeysFile paths S10
//! must inspect.
//!
//! Semantics, from sshd_config(5):
//! - "Unless noted otherwise, for each keyword, the first obtained value will be used."
//!   Keywords that accumulate (Port, ListenAddress, HostKey, AllowUsers, ...) keep every value.
//! - `Include` is processed where it stands: Debian and Ubuntu put
//!   `Include /etc/ssh/sshd_config.d/*.conf` first, so a drop-in beats the main file.
//!   Relative paths are relative to /etc/ssh; globs expand in sorted order; a glob matching
//!   nothing is fine; nesting is limited to 16 levels (servconf.c `SERVCONF_MAX_DEPTH`).
//! - A `Match` line's keywords apply "until either another Match line or the end of the file";
//!   since includes are parsed inline, that is the end of the file holding the Match line
//!   (servconf.c saves and restores the Match state around each included file). An Include
//!   inside a Match block puts the included file under that block; a Match line in such a
//!   file applies only if the enclosing block does too (servconf.c `SSHCFG_NEVERMATCH`).
//! - `Match all` applies to every connection: sshd treats its lines as active when it reads the
//!   configuration at startup, and applies them again per connection.
//! - Per connection, sshd re-reads the file with only matching Match blocks active and lets
//!   each value so set (first wins among them) override the global one
//!   (`parse_server_match_config` / `copy_set_server_options`), for the keywords sshd_config(5)
//!   allows inside Match.
//!
//! Nothing here panics on hostile input: files are capped at 1 MiB, at most 256 files are read,
//! Match blocks and recorded messages are bounded, and problems become messages.

mod keywords;
mod lexer;
mod pattern;
#[cfg(test)]
mod tests;

use crate::{Files, Provenance};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where sshd looks first.
pub const MAIN_CONFIG: &str = "/etc/ssh/sshd_config";
/// openSUSE's vendor configuration, read by its sshd when /etc/ssh/sshd_config is absent.
const VENDOR_CONFIG: &str = "/usr/etc/ssh/sshd_config";
/// Base of relative Include paths (OpenSSH's `SSHDIR`).
const SSH_DIR: &str = "/etc/ssh";
/// Largest configuration file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Most configuration files read (main file and includes together).
pub const MAX_CONFIG_FILES: usize = 256;
/// servconf.c `SERVCONF_MAX_DEPTH`: deeper includes make sshd refuse to start.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Bounds for hostile files; real configurations stay far below them.
const MAX_MATCH_BLOCKS: usize = 1024;
const MAX_MESSAGES: usize = 256;
const MAX_VALUES: usize = 1024;
const MAX_UNKNOWN: usize = 256;
const MAX_INCLUDE_GLOBS: usize = 1024;

/// The sshd configuration of the image.
#[derive(Debug, Clone, Serialize)]
pub struct SshdConfig {
    /// The main configuration file exists.
    pub present: bool,
    /// The main configuration file read (or looked for).
    pub path: String,
    /// False when a file could not be read or a limit stopped the reading: the rules must then
    /// say the result is partial.
    pub complete: bool,
    /// The global settings as sshd computes them at startup (canonical keyword →
    /// first value): lines outside Match blocks, and lines under `Match all`. Compiled-in
    /// defaults are not listed here; see [`SshdConfig::effective`].
    pub settings: BTreeMap<String, Setting>,
    /// Every Match block, in file order.
    pub match_blocks: Vec<MatchBlock>,
    /// Keywords not in our sshd_config(5) table, as first spelled. sshd rejects unknown
    /// keywords, but distributions patch in their own, so this is only reported. Their values
    /// are kept under that spelling like any other keyword.
    pub unknown_keywords: Vec<String>,
    /// Files parsed, in order (a file included twice appears twice).
    pub files_read: Vec<String>,
    /// Problems that make sshd refuse to start with this configuration (bad quotes, invalid
    /// yes/no values, include loops, bad Match lines), with file and line.
    pub startup_errors: Vec<String>,
    /// Problems reading the configuration (unreadable files, limits), and doubtful lines.
    pub warnings: Vec<String>,
}

/// One keyword's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Normalised: arguments joined by one space, yes/no-style words lower-cased, and
    /// PermitRootLogin's old spelling `without-password` given as `prohibit-password`.
    pub value: String,
    /// The arguments as written (quotes removed), joined by one space.
    pub raw: String,
    /// The normalised arguments one by one (listed when there are several, for example the
    /// AuthorizedKeysFile paths).
    #[serde(skip_serializing_if = "has_at_most_one")]
    pub args: Vec<String>,
    pub from: SettingSource,
    /// The keyword as written when it was an old alias (ChallengeResponseAuthentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_as: Option<String>,
    /// Further lines that added values (keywords that accumulate, such as Port).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_from: Vec<Provenance>,
}

fn has_at_most_one(v: &[String]) -> bool {
    v.len() <= 1
}

/// Where a value came from: `"default"` (compiled into sshd) or `{"path":..,"line":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingSource {
    Default,
    #[serde(untagged)]
    File(Provenance),
}

impl std::fmt::Display for SettingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingSource::Default => f.write_str("sshd's compiled-in default"),
            SettingSource::File(p) => p.fmt(f),
        }
    }
}

impl Setting {
    fn default_value(value: &str) -> Self {
        Setting {
            value: value.to_string(),
            raw: value.to_string(),
            args: value.split(' ').map(String::from).collect(),
            from: SettingSource::Default,
            written_as: None,
            also_from: Vec::new(),
        }
    }

    /// The file and line that set it; `None` for a compiled-in default.
    pub fn provenance(&self) -> Option<&Provenance> {
        match &self.from {
            SettingSource::Default => None,
            SettingSource::File(p) => Some(p),
        }
    }

    pub fn is_default(&self) -> bool {
        self.from == SettingSource::Default
    }
}

/// A `Match` line and the settings under it.
#[derive(Debug, Clone, Serialize)]
pub struct MatchBlock {
    /// The criteria as written (all must hold).
    pub criteria: Vec<MatchCriterion>,
    /// The Match line.
    pub from: Provenance,
    /// Index of the Match block whose `Include` brought this block's file in: this block
    /// applies only where that one does too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<usize>,
    /// Canonical keyword → first value in this block (including lines of files it includes).
    pub settings: BTreeMap<String, Setting>,
}

/// One criterion of a Match line, e.g. `User` `root,admin`; `All` has no pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchCriterion {
    pub criterion: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// A reference to a Match block, for evidence ("because of Match Address 10.0.0.0/8 at
/// /etc/ssh/sshd_config:120").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchRef {
    /// Index into [`SshdConfig::match_blocks`].
    pub index: usize,
    /// The criteria as one line, e.g. `User root Address 10.0.0.0/8`.
    pub criteria: String,
    pub from: Provenance,
}

impl std::fmt::Display for MatchRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Match {} at {}", self.criteria, self.from)
    }
}

impl MatchBlock {
    /// The criteria as one line, e.g. `User root Address 10.0.0.0/8`.
    pub fn criteria_text(&self) -> String {
        let parts: Vec<String> = self
            .criteria
            .iter()
            .map(|c| match &c.pattern {
                Some(p) => format!("{} {}", c.criterion, p),
                None => c.criterion.clone(),
            })
            .collect();
        parts.join(" ")
    }

    fn is_all(&self) -> bool {
        !self.criteria.is_empty()
            && self
                .criteria
                .iter()
                .all(|c| c.criterion.eq_ignore_ascii_case("all"))
    }
}

/// Whether a Match block applies to connections of a given user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    Always,
    Maybe,
    Never,
}

impl Applies {
    fn and(self, other: Applies) -> Applies {
        match (self, other) {
            (Applies::Never, _) | (_, Applies::Never) => Applies::Never,
            (Applies::Always, Applies::Always) => Applies::Always,
            _ => Applies::Maybe,
        }
    }
}

/// The Match criteria sshd knows (sshd_config(5)); `All` and `Invalid-User` take no pattern.
const CRITERIA_WITH_PATTERN: &[&str] = &[
    "user",
    "group",
    "host",
    "address",
    "localaddress",
    "localport",
    "rdomain",
    "version",
];
const CRITERIA_WITHOUT_PATTERN: &[&str] = &["all", "invalid-user"];

/// Read the effective sshd configuration. Never fails: problems become warnings or
/// startup errors, and unset keywords fall back to sshd's defaults.
pub fn gather(files: &dyn Files) -> SshdConfig {
    let mut p = Parser {
        files,
        cfg: SshdConfig {
            present: false,
            path: MAIN_CONFIG.to_string(),
            complete: true,
            settings: BTreeMap::new(),
            match_blocks: Vec::new(),
            unknown_keywords: Vec::new(),
            files_read: Vec::new(),
            startup_errors: Vec::new(),
            warnings: Vec::new(),
        },
        stack: Vec::new(),
        stopped: false,
        globs: 0,
    };
    // head(.., 0) only asks whether the file exists.
    let main = match files.head(MAIN_CONFIG, 0) {
        Ok(None) if matches!(files.head(VENDOR_CONFIG, 0), Ok(Some(_))) => {
            p.warn(format!(
                "{MAIN_CONFIG} is absent; using the vendor file {VENDOR_CONFIG} (openSUSE)"
            ));
            VENDOR_CONFIG
        }
        _ => MAIN_CONFIG,
    };
    p.cfg.path = main.to_string();
    p.parse_file(main, 0, None);
    if !p.cfg.present {
        p.warn(format!(
            "{main} is absent: sshd's compiled-in defaults assumed"
        ));
    }
    p.cfg
}

struct Parser<'a> {
    files: &'a dyn Files,
    cfg: SshdConfig,
    /// Files being parsed (the include chain), to stop include loops.
    stack: Vec<String>,
    /// A limit was reached: nothing more is read, so nothing after it can sneak into the
    /// wrong block.
    stopped: bool,
    /// Include patterns expanded so far (each costs directory listings).
    globs: usize,
}

impl Parser<'_> {
    fn warn(&mut self, msg: String) {
        push_bounded(&mut self.cfg.warnings, msg);
    }

    fn fatal(&mut self, msg: String) {
        push_bounded(&mut self.cfg.startup_errors, msg);
    }

    fn stop(&mut self, msg: String) {
        self.warn(msg);
        self.cfg.complete = false;
        self.stopped = true;
    }

    /// Parse one file in the context `base` (the Match block in force where it was included,
    /// `None` for global). A Match line inside it lasts until the next Match line or the end
    /// of this file.
    fn parse_file(&mut self, path: &str, depth: usize, base: Option<usize>) {
        if self.stopped {
            return;
        }
        if self.cfg.files_read.len() >= MAX_CONFIG_FILES {
            self.stop(format!(
                "more than {MAX_CONFIG_FILES} configuration files; {path} and later ones not read"
            ));
            return;
        }
        if self.stack.iter().any(|f| f == path) {
            self.fatal(format!(
                "{path} includes itself (through {}): sshd nests it until its limit of {MAX_INCLUDE_DEPTH} levels and refuses to start",
                self.stack.join(" -> ")
            ));
            return;
        }
        let data = match self.files.read(path, MAX_CONFIG_FILE) {
            Ok(Some(d)) => d,
            Ok(None) => {
                if depth > 0 {
                    self.warn(format!(
                        "{path}: matched by Include but not a readable file"
                    ));
                }
                return;
            }
            Err(e) => {
                self.cfg.present |= depth == 0;
                self.cfg.complete = false;
                self.warn(format!("{path}: not read: {e}"));
                return;
            }
        };
        self.cfg.present |= depth == 0;
        self.cfg.files_read.push(path.to_string());
        self.stack.push(path.to_string());
        let text = String::from_utf8_lossy(&data);
        let mut current = base;
        for (i, line) in text.split('\n').enumerate() {
            if self.stopped {
                break;
            }
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let (keyword, args) = match lexer::split(line) {
                Ok(lexer::Line::Empty) => continue,
                Ok(lexer::Line::Directive { keyword, args }) => (keyword, args),
                Err(lexer::LexError::Quotes) => {
                    self.fatal(format!("{path}:{n}: unbalanced quotes"));
                    continue;
                }
                Err(lexer::LexError::TooManyArgs) => {
                    self.cfg.complete = false;
                    self.warn(format!(
                        "{path}:{n}: more than {} words; line ignored",
                        lexer::MAX_ARGS
                    ));
                    continue;
                }
            };
            if keyword.eq_ignore_ascii_case("match") {
                current = self.open_match(path, n, &args, base).or(current);
            } else if keyword.eq_ignore_ascii_case("include") {
                self.include(path, n, &args, depth, current);
            } else {
                self.set(path, n, &keyword, args, current);
            }
        }
        self.stack.pop();
    }

    /// Start a Match block; `None` if the block limit stopped the parse.
    fn open_match(
        &mut self,
        path: &str,
        n: u32,
        args: &[String],
        base: Option<usize>,
    ) -> Option<usize> {
        if self.cfg.match_blocks.len() >= MAX_MATCH_BLOCKS {
            self.stop(format!(
                "{path}:{n}: more than {MAX_MATCH_BLOCKS} Match blocks; the rest is not read"
            ));
            return None;
        }
        let mut criteria = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            // Older sshd split `User=root` like a keyword and its value; accept both forms.
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let lower = name.to_ascii_lowercase();
            let pattern = if CRITERIA_WITHOUT_PATTERN.contains(&lower.as_str()) {
                None
            } else {
                if !CRITERIA_WITH_PATTERN.contains(&lower.as_str()) {
                    self.warn(format!(
                        "{path}:{n}: Match criterion '{name}' unknown to sshd_config(5); treated as possibly matching"
                    ));
                }
                let pattern = inline.or_else(|| it.next().cloned());
                if pattern.is_none() {
                    self.fatal(format!("{path}:{n}: Match {name} lacks its pattern"));
                }
                pattern
            };
            criteria.push(MatchCriterion {
                criterion: name.to_string(),
                pattern,
            });
        }
        if criteria.is_empty() {
            self.fatal(format!("{path}:{n}: Match without criteria"));
        } else if criteria.len() > 1
            && criteria
                .iter()
                .any(|c| c.criterion.eq_ignore_ascii_case("all"))
        {
            self.fatal(format!(
                "{path}:{n}: 'Match all' cannot be combined with other criteria"
            ));
        }
        self.cfg.match_blocks.push(MatchBlock {
            criteria,
            from: Provenance::line(path, n),
            within: base,
            settings: BTreeMap::new(),
        });
        Some(self.cfg.match_blocks.len() - 1)
    }

    fn include(&mut self, path: &str, n: u32, args: &[String], depth: usize, ctx: Option<usize>) {
        if args.is_empty() {
            self.fatal(format!("{path}:{n}: Include without a file name"));
        }
        for arg in args {
            if self.stopped {
                return;
            }
            let pattern = if arg.starts_with('/') {
                arg.clone()
            } else if arg.is_empty() {
                self.fatal(format!("{path}:{n}: Include with an empty argument"));
                continue;
            } else if arg.starts_with('~') {
                // sshd passes it to glob(3) without tilde expansion; nothing we can resolve.
                self.warn(format!(
                    "{path}:{n}: Include {arg}: '~' paths are not expanded by sshd; ignored"
                ));
                continue;
            } else {
                format!("{SSH_DIR}/{arg}")
            };
            if depth + 1 > MAX_INCLUDE_DEPTH {
                self.fatal(format!(
                    "{path}:{n}: Include {arg} nests deeper than {MAX_INCLUDE_DEPTH} levels: sshd refuses to start"
                ));
                continue;
            }
            self.globs += 1;
            if self.globs > MAX_INCLUDE_GLOBS {
                self.stop(format!("{path}:{n}: more than {MAX_INCLUDE_GLOBS} Include patterns; the rest is not read"));
                return;
            }
            match self.files.glob(&pattern) {
                Ok(paths) => {
                    for p in paths {
                        self.parse_file(&p, depth + 1, ctx);
                    }
                }
                Err(e) => {
                    self.cfg.complete = false;
                    self.warn(format!("{path}:{n}: Include {arg}: {e}"));
                }
            }
        }
    }

    /// Record one directive in its context: first value wins, accumulating keywords add up.
    fn set(
        &mut self,
        path: &str,
        n: u32,
        written: &str,
        raw_args: Vec<String>,
        ctx: Option<usize>,
    ) {
        let known = keywords::lookup(written);
        let name = match known {
            Some(k) => k.name.to_string(),
            None => match self
                .cfg
                .unknown_keywords
                .iter()
                .find(|u| u.eq_ignore_ascii_case(written))
            {
                Some(u) => u.clone(),
                None if self.cfg.unknown_keywords.len() >= MAX_UNKNOWN => {
                    self.warn(format!(
                        "{path}:{n}: too many unknown keywords; {written} ignored"
                    ));
                    return;
                }
                None => {
                    self.cfg.unknown_keywords.push(written.to_string());
                    written.to_string()
                }
            },
        };
        if let Some(k) = known
            && !self.valid(path, n, k, &raw_args)
        {
            return;
        }
        let args: Vec<String> = raw_args.iter().map(|a| normalise(known, a)).collect();
        let setting = Setting {
            value: args.join(" "),
            raw: raw_args.join(" "),
            args,
            from: SettingSource::File(Provenance::line(path, n)),
            written_as: (!name.eq_ignore_ascii_case(written)).then(|| written.to_string()),
            also_from: Vec::new(),
        };
        let multi = known.is_some_and(|k| k.has(keywords::MULTI));
        let global = match ctx {
            None => true,
            Some(i) => {
                let unconditional = self.unconditional(i);
                if !unconditional && known.is_some_and(|k| !k.has(keywords::MATCH)) {
                    self.warn(format!(
                        "{path}:{n}: {name} is not allowed in a Match block (sshd_config(5)); sshd refuses to start"
                    ));
                }
                if let Some(block) = self.cfg.match_blocks.get_mut(i) {
                    insert(&mut block.settings, &name, setting.clone(), multi);
                }
                unconditional
            }
        };
        if global {
            insert(&mut self.cfg.settings, &name, setting, multi);
        }
    }

    /// Arguments sshd would reject outright (it refuses to start on them).
    fn valid(&mut self, path: &str, n: u32, k: keywords::Keyword, args: &[String]) -> bool {
        let Some(first) = args.first() else {
            self.fatal(format!("{path}:{n}: {} without an argument", k.name));
            return false;
        };
        let allowed: &[&str] = if k.name == "PermitRootLogin" {
            &[
                "yes",
                "prohibit-password",
                "without-password",
                "forced-commands-only",
                "no",
            ]
        } else if k.has(keywords::FLAG) {
            &["yes", "no"]
        } else {
            return true;
        };
        if args.len() > 1 || !allowed.iter().any(|a| a.eq_ignore_ascii_case(first)) {
            self.fatal(format!(
                "{path}:{n}: {} {}: sshd accepts only {}",
                k.name,
                args.join(" "),
                allowed.join(", ")
            ));
            return false;
        }
        true
    }

    fn unconditional(&self, i: usize) -> bool {
        unconditional(&self.cfg.match_blocks, i)
    }
}

/// A block under `Match all` only (possibly through includes): it applies to everything.
fn unconditional(blocks: &[MatchBlock], i: usize) -> bool {
    let mut cur = i;
    // `within` always points to an earlier block, so this ends; the bound is a second guard.
    for _ in 0..=blocks.len() {
        let Some(b) = blocks.get(cur) else {
            return false;
        };
        if !b.is_all() {
            return false;
        }
        match b.within {
            None => return true,
            Some(j) => cur = j,
        }
    }
    false
}

fn normalise(known: Option<keywords::Keyword>, arg: &str) -> String {
    match known {
        Some(k) if k.has(keywords::CI) => {
            let lower = arg.to_ascii_lowercase();
            if k.name == "PermitRootLogin" && lower == "without-password" {
                "prohibit-password".to_string()
            } else {
                lower
            }
        }
        _ => arg.to_string(),
    }
}

fn insert(map: &mut BTreeMap<String, Setting>, name: &str, new: Setting, multi: bool) {
    match map.get_mut(name) {
        None => {
            map.insert(name.to_string(), new);
        }
        Some(old) if multi && old.args.len() + new.args.len() <= MAX_VALUES => {
            old.args.extend(new.args);
            old.value = old.args.join(" ");
            old.raw = format!("{} {}", old.raw, new.raw);
            if let SettingSource::File(p) = new.from {
                old.also_from.push(p);
            }
        }
        // sshd_config(5): "the first obtained value will be used".
        Some(_) => {}
    }
}

fn push_bounded(list: &mut Vec<String>, msg: String) {
    if list.len() < MAX_MESSAGES {
        list.push(msg);
    } else if list.len() == MAX_MESSAGES {
        list.push("further messages suppressed".to_string());
    }
}

impl SshdConfig {
    /// The canonical name of a keyword (case-insensitive, aliases resolved), if known or seen.
    fn canonical(&self, keyword: &str) -> Option<String> {
        if let Some(k) = keywords::lookup(keyword) {
            return Some(k.name.to_string());
        }
        self.unknown_keywords
            .iter()
            .find(|u| u.eq_ignore_ascii_case(keyword))
            .cloned()
    }

    fn match_allowed(keyword: &str) -> bool {
        keywords::lookup(keyword).is_some_and(|k| k.has(keywords::MATCH))
    }

    /// The global value at startup: set in the files, else the compiled-in default.
    fn global(&self, name: &str) -> Option<Setting> {
        self.settings
            .get(name)
            .cloned()
            .or_else(|| keywords::default_of(name).map(Setting::default_value))
    }

    /// The value for a connection to which no conditional Match block applies: the first
    /// `Match all` block setting it (it overrides per connection), else the global value, else
    /// sshd's compiled-in default. `None`: unset and no default known.
    pub fn get(&self, keyword: &str) -> Option<Setting> {
        let name = self.canonical(keyword)?;
        if Self::match_allowed(&name) {
            let from_all = self.match_blocks.iter().enumerate().find_map(|(i, b)| {
                unconditional(&self.match_blocks, i)
                    .then(|| b.settings.get(&name))
                    .flatten()
            });
            if let Some(s) = from_all {
                return Some(s.clone());
            }
        }
        self.global(&name)
    }

    /// Like [`SshdConfig::get`]; a keyword without any value or known default gives an empty
    /// value marked as default.
    pub fn effective(&self, keyword: &str) -> Setting {
        self.get(keyword)
            .unwrap_or_else(|| Setting::default_value(""))
    }

    /// Every value `keyword` can take for connections by `user` (whose groups, primary and
    /// supplementary, are `user_groups`), in sshd's order of precedence, each with the Match
    /// block that sets it (`None`: the global value or default).
    ///
    /// User and Group criteria are decided with OpenSSH's pattern lists; Host, Address,
    /// LocalAddress, LocalPort, RDomain and other criteria depend on the connection and are
    /// taken as "may match". A block that surely applies (only `all`, User and Group criteria,
    /// all matching) hides later blocks and the global value, which are then left out.
    /// Keywords sshd does not allow in Match only ever have their global value.
    pub fn values_for_user(
        &self,
        keyword: &str,
        user: &str,
        user_groups: &[String],
    ) -> Vec<(Setting, Option<MatchRef>)> {
        let Some(name) = self.canonical(keyword) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if Self::match_allowed(&name) {
            for (i, block) in self.match_blocks.iter().enumerate() {
                let applies = self.applies(i, user, user_groups);
                if applies == Applies::Never {
                    continue;
                }
                if let (Some(s), Some(r)) = (block.settings.get(&name), self.match_ref(i)) {
                    out.push((s.clone(), Some(r)));
                    if applies == Applies::Always {
                        return out;
                    }
                }
            }
        }
        if let Some(g) = self.global(&name) {
            out.push((g, None));
        }
        out
    }

    /// A reference to Match block `index`, for evidence.
    pub fn match_ref(&self, index: usize) -> Option<MatchRef> {
        self.match_blocks.get(index).map(|b| MatchRef {
            index,
            criteria: b.criteria_text(),
            from: b.from.clone(),
        })
    }

    /// Every AuthorizedKeysFile pattern sshd may use (global, default, and any Match block),
    /// deduplicated in order, for [`crate::ssh_keys::authorized_keys`].
    pub fn authorized_keys_patterns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let settings = self
            .get("AuthorizedKeysFile")
            .into_iter()
            .chain(self.global("AuthorizedKeysFile"))
            .chain(
                self.match_blocks
                    .iter()
                    .filter_map(|b| b.settings.get("AuthorizedKeysFile").cloned()),
            );
        for s in settings {
            for a in s.args {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// Whether block `i` (and every block enclosing it) applies to `user`.
    fn applies(&self, i: usize, user: &str, groups: &[String]) -> Applies {
        let mut result = Applies::Always;
        let mut cur = i;
        for _ in 0..=self.match_blocks.len() {
            let Some(b) = self.match_blocks.get(cur) else {
                return Applies::Maybe;
            };
            result = result.and(criteria_apply(&b.criteria, user, groups));
            match b.within {
                None => return result,
                Some(j) => cur = j,
            }
        }
        Applies::Maybe
    }
}

/// All criteria of one Match line hold (sshd_config(5): "If all of the criteria on the Match
/// line are satisfied").
fn criteria_apply(criteria: &[MatchCriterion], user: &str, groups: &[String]) -> Applies {
    if criteria.is_empty() {
        return Applies::Maybe;
    }
    let mut result = Applies::Always;
    for c in criteria {
        let this = match (c.criterion.to_ascii_lowercase().as_str(), &c.pattern) {
            ("all", _) => Applies::Always,
            ("user", Some(p)) => yes_no(pattern::user_matches(user, p)),
            ("group", Some(p)) => yes_no(pattern::groups_match(groups, p)),
            _ => Applies::Maybe,
        };
        result = result.and(this);
    }
    result
}

fn yes_no(b: bool) -> Applies {
    if b { Applies::Always } else { Applies::Never }
}
