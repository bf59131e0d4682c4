//! GRUB 2 configuration: evaluate grub.cfg the way GRUB's `normal` mode would, as far as it
//! can be known offline, to list the menu and find the default entry.
//!
//! What is evaluated (GRUB manual, "Shell-like scripting" and the command list):
//! - `set name=value`, `name=value`, `unset`, `export` (no-op here);
//! - `load_env [-f file] [names…]` from the grubenv block ([`super::grubenv`]);
//!   `save_env` is a no-op (the file is not changed by booting offline);
//! - `if`/`elif`/`else`: `[ … ]`/`test` conditions are evaluated (strings, `-z`/`-n`,
//!   `=`/`!=`, numbers, `-e`/`-f`/`-s`/`-d` on files we can map into the guest); anything
//!   unknown (another command, a value only known at boot such as `$grub_platform`) is taken
//!   as true and noted when the branch matters;
//! - `source file` (in place), `configfile file` (its menu replaces ours, as GRUB shows it
//!   immediately), both at most 8 deep with cycle detection;
//! - `menuentry`/`submenu` blocks: the title, `--id` (grub-mkconfig passes
//!   `$menuentry_id_option`, which is `--id` on every GRUB since 2.00 because normal mode sets
//!   `feature_menuentry_id=y`), and in the body `linux`/`linux16`/`linuxefi`, `initrd*`,
//!   `search … --set=root`, `set root=`, `chainloader`, `multiboot*`/`module*`;
//! - `blscfg` (Fedora/RHEL patch): the BLS entries of `/boot/loader/entries` are inserted
//!   there, newest first, with `$kernelopts`-style variables expanded from the environment.
//!
//! Bodies are evaluated after the whole script ran (GRUB runs an entry's body when it boots
//! it), each in a copy of the final environment. `function` definitions are skipped and calls
//! ignored; loops are not run. `$root`, `$prefix`, `$cmdpath` and other values only known at
//! boot stay literal (`$root`). Paths such as `$prefix/grubenv` or `($dev)/grub2/grub.cfg`
//! are mapped into the guest by [`guest_candidates`].
//!
//! The default entry is chosen as GRUB's menu code does: the `default` variable after the
//! script ran is an index, a title or an id, with `>` separating submenu levels (`1>2`,
//! `gnulinux-advanced-…>gnulinux-6.1.0-…`, `>>` for a literal `>`); an unset, unknown or
//! out-of-range value selects the first entry (of that level).

mod lexer;
mod parser;
mod test_expr;

use super::bls::{self, BlsEntry};
use super::grubenv;
use super::{BootEntry, BootKind, MAX_CONFIG_FILE, MAX_ENTRIES, MAX_INCLUDE_DEPTH, RootSpec};
use crate::{Files, Provenance};
use lexer::{Part, Word};
use parser::{Cmd, Parser};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

pub use test_expr::Tri;

/// Variables whose value only exists at boot time: left literal when the script did not set
/// them.
const RUNTIME_VARS: [&str; 12] = [
    "root",
    "prefix",
    "cmdpath",
    "grub_platform",
    "grub_cpu",
    "lang",
    "locale_dir",
    "secondary_locale_dir",
    "chosen",
    "net_default_server",
    "?",
    "fw_path",
];

/// Set by GRUB's normal mode (grub-core/normal/main.c features list) on every GRUB ≥ 2.00;
/// grub-mkconfig's 00_header tests them.
const FEATURES: [&str; 7] = [
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_timeout_style",
];

/// Most variables kept (a hostile script could set millions, copied for every entry).
const MAX_VARS: usize = 1024;
/// Longest variable value kept.
const MAX_VALUE: usize = 64 * 1024;
/// Longest explanation kept for a variable.
const MAX_ORIGIN: usize = 1024;
/// Total bytes variable expansion may produce in one evaluation (`$a$a$a…` on a long value
/// would otherwise take gigabytes).
const EXPANSION_BUDGET: usize = 8 << 20;
/// Most messages kept.
const MAX_DIAGNOSTICS: usize = 256;
/// Most commands evaluated in total (a hostile file cannot make evaluation slow).
const MAX_STEPS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Val {
    /// Shared: the environment is copied for every entry body.
    text: Rc<str>,
    /// Contains a part only known at boot.
    unknown: bool,
    /// Where it was set (for explanations), at most [`MAX_ORIGIN`] bytes.
    origin: Rc<str>,
}

#[derive(Debug, Clone, Default)]
struct Env {
    vars: BTreeMap<String, Val>,
    /// `search … --set=<var>` results, by variable.
    searches: BTreeMap<String, RootSpec>,
}

/// A menu item as the script builds it.
#[derive(Debug, Clone)]
enum Item {
    Entry {
        title: String,
        id: Option<String>,
        body: Vec<Cmd>,
        source: Provenance,
    },
    Bls {
        entry: Box<BlsEntry>,
        source: Provenance,
    },
    Submenu {
        title: String,
        id: Option<String>,
        items: Vec<Item>,
    },
}

/// What evaluating one GRUB configuration produced.
#[derive(Debug, Clone, Default)]
pub struct GrubResult {
    pub entries: Vec<BootEntry>,
    pub default: Option<usize>,
    pub default_reason: String,
    pub files_read: Vec<String>,
    pub diagnostics: Vec<String>,
    /// The grubenv read by `load_env` (the last one), and its variables.
    pub grubenv_path: Option<String>,
    pub grubenv: Option<BTreeMap<String, String>>,
    /// The configuration that made the menu (differs from the first file when a stub used
    /// `configfile`).
    pub menu_file: String,
    pub used_blscfg: bool,
}

struct Eval<'a> {
    files: &'a dyn Files,
    /// Guest directory of the first configuration file: what `$prefix` means when unset.
    prefix_dir: String,
    stack: Vec<String>,
    menu_stack: Vec<Vec<Item>>,
    entries_seen: usize,
    steps: usize,
    stop: bool,
    budget: Cell<usize>,
    out: GrubResult,
}

/// Evaluate the GRUB configuration at `path` (a guest path). `Ok(None)` when it does not
/// exist.
pub fn evaluate(files: &dyn Files, path: &str) -> Option<GrubResult> {
    let dir = parent(path);
    let mut ev = Eval {
        files,
        prefix_dir: dir.to_string(),
        stack: Vec::new(),
        menu_stack: vec![Vec::new()],
        entries_seen: 0,
        steps: 0,
        stop: false,
        budget: Cell::new(EXPANSION_BUDGET),
        out: GrubResult {
            menu_file: path.to_string(),
            ..GrubResult::default()
        },
    };
    let mut env = Env::default();
    for f in FEATURES {
        env.vars.insert(
            f.to_string(),
            Val {
                text: "y".into(),
                unknown: false,
                origin: "set by GRUB".into(),
            },
        );
    }
    let data = match files.read(path, MAX_CONFIG_FILE) {
        Ok(Some(d)) => d,
        Ok(None) => return None,
        Err(e) => {
            ev.out.diagnostics.push(format!("{path}: {e}"));
            return Some(ev.out);
        }
    };
    set_config_vars(&mut env, path);
    ev.run_file(&mut env, path, &data);
    let menu = ev.menu_stack.pop().unwrap_or_default();
    ev.finish(menu, &env);
    if ev.budget.get() == 0 {
        ev.diag(format!(
            "variable expansion stopped after {EXPANSION_BUDGET} bytes; later values are empty"
        ));
    }
    Some(ev.out)
}

fn set_config_vars(env: &mut Env, path: &str) {
    for (k, v) in [("config_file", path), ("config_directory", parent(path))] {
        env.vars.insert(
            k.to_string(),
            Val {
                text: v.into(),
                unknown: false,
                origin: format!("GRUB reading {path}").into(),
            },
        );
    }
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

impl Eval<'_> {
    fn diag(&mut self, msg: String) {
        if self.out.diagnostics.len() < MAX_DIAGNOSTICS {
            self.out.diagnostics.push(msg);
        }
    }

    fn cur_file(&self) -> String {
        self.stack.last().cloned().unwrap_or_default()
    }

    fn run_file(&mut self, env: &mut Env, path: &str, data: &[u8]) {
        self.stack.push(path.to_string());
        if !self.out.files_read.iter().any(|p| p == path) {
            self.out.files_read.push(path.to_string());
        }
        let text = String::from_utf8_lossy(data);
        let mut warnings = Vec::new();
        let toks = lexer::lex(&text, &mut warnings);
        let (cmds, errors) = Parser::new(&toks).parse();
        for w in warnings.into_iter().chain(errors) {
            self.diag(format!("{path}: {w}"));
        }
        self.run(env, &cmds, &mut None);
        self.stack.pop();
    }

    fn run(&mut self, env: &mut Env, cmds: &[Cmd], entry: &mut Option<&mut BootEntry>) {
        for cmd in cmds {
            if self.stop {
                return;
            }
            self.steps += 1;
            if self.steps > MAX_STEPS {
                self.stop = true;
                self.diag(format!("more than {MAX_STEPS} commands evaluated; stopped"));
                return;
            }
            match cmd {
                Cmd::Simple { words, line } => self.simple(env, words, *line, entry),
                Cmd::If {
                    branches,
                    otherwise,
                    line,
                } => {
                    let mut chosen: Option<&[Cmd]> = None;
                    let mut guessed = false;
                    for (cond, body) in branches {
                        match self.condition(env, cond) {
                            Tri::True => {
                                chosen = Some(body);
                                break;
                            }
                            Tri::Unknown => {
                                guessed = true;
                                chosen = Some(body);
                                break;
                            }
                            Tri::False => {}
                        }
                    }
                    if guessed && self.if_matters(branches, otherwise.as_deref()) {
                        let f = self.cur_file();
                        let text = branches
                            .iter()
                            .find_map(|(c, _)| match c.last() {
                                Some(Cmd::Simple { words, .. }) => Some(
                                    words
                                        .iter()
                                        .map(Word::display)
                                        .collect::<Vec<_>>()
                                        .join(" "),
                                ),
                                _ => None,
                            })
                            .unwrap_or_default();
                        self.diag(format!(
                            "{f}:{line}: condition `{text}` not decidable offline; assumed true"
                        ));
                    }
                    let body = chosen.or(otherwise.as_deref()).unwrap_or(&[]);
                    self.run(env, body, entry);
                }
                Cmd::Menu {
                    submenu,
                    args,
                    body,
                    line,
                } => {
                    if entry.is_some() {
                        // GRUB adds entries defined inside an entry when that entry runs: not a
                        // boot menu item.
                        continue;
                    }
                    self.menu(env, *submenu, args, body, *line);
                }
                Cmd::Function => {}
                Cmd::Loop { line } => {
                    let f = self.cur_file();
                    self.diag(format!("{f}:{line}: loop not evaluated"));
                }
            }
        }
    }

    /// Whether a guessed branch affects what we report.
    fn if_matters(&self, branches: &[(Vec<Cmd>, Vec<Cmd>)], otherwise: Option<&[Cmd]>) -> bool {
        fn relevant(cmds: &[Cmd]) -> bool {
            cmds.iter().any(|c| match c {
                Cmd::Simple { words, .. } => {
                    let first = words.first().map(|w| w.display()).unwrap_or_default();
                    let second = words.get(1).map(|w| w.display()).unwrap_or_default();
                    matches!(
                        first.as_str(),
                        "configfile"
                            | "source"
                            | "blscfg"
                            | "load_env"
                            | "linux"
                            | "linux16"
                            | "linuxefi"
                            | "initrd"
                            | "initrd16"
                            | "initrdefi"
                            | "search"
                    ) || (first == "set"
                        && ["default", "saved_entry", "next_entry", "kernelopts", "root"]
                            .iter()
                            .any(|v| second.starts_with(&format!("{v}="))))
                }
                Cmd::If {
                    branches,
                    otherwise,
                    ..
                } => {
                    branches.iter().any(|(_, b)| relevant(b))
                        || otherwise.as_deref().is_some_and(relevant)
                }
                Cmd::Menu { .. } => true,
                _ => false,
            })
        }
        branches.iter().any(|(_, b)| relevant(b)) || otherwise.is_some_and(relevant)
    }

    fn condition(&mut self, env: &mut Env, cond: &[Cmd]) -> Tri {
        // The status of a list is that of its last command.
        let Some(last) = cond.last() else {
            return Tri::True;
        };
        if cond.len() > 1 {
            self.run(env, &cond[..cond.len() - 1], &mut None);
        }
        match last {
            Cmd::Simple { words, .. } => {
                let args: Vec<(String, bool)> = self.expand_all(env, words);
                let Some((first, _)) = args.first() else {
                    return Tri::True;
                };
                let mut rest: &[(String, bool)] = &args[1..];
                match first.as_str() {
                    "[" => {
                        if rest.last().is_some_and(|(s, _)| s == "]") {
                            rest = &rest[..rest.len() - 1];
                        } else {
                            return Tri::False;
                        }
                    }
                    "test" => {}
                    "true" => return Tri::True,
                    "false" => return Tri::False,
                    _ => return Tri::Unknown,
                }
                let files = self.files;
                let prefix_dir = self.prefix_dir.clone();
                test_expr::eval(rest, &|path: &str, op: char| {
                    file_test(files, &prefix_dir, path, op)
                })
            }
            _ => Tri::Unknown,
        }
    }

    /// Expand words into fields (unquoted variables split at blanks), each with "contains a
    /// boot-time value".
    fn expand_all(&self, env: &Env, words: &[Word]) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for w in words {
            expand_word(env, w, &mut out, &self.budget);
        }
        out
    }

    fn simple(
        &mut self,
        env: &mut Env,
        words: &[Word],
        line: u32,
        entry: &mut Option<&mut BootEntry>,
    ) {
        let args = self.expand_all(env, words);
        let Some((cmd, _)) = args.first() else {
            return;
        };
        let file = self.cur_file();
        let here = format!("{file}:{line}");
        let strs: Vec<&str> = args.iter().map(|(s, _)| s.as_str()).collect();
        match cmd.as_str() {
            "set" => {
                for (i, (a, unknown)) in args.iter().enumerate().skip(1) {
                    if let Some((name, value)) = a.split_once('=') {
                        let raw = words.get(i).map(|w| w.display()).unwrap_or_default();
                        let origin =
                            self.origin(env, &words[i..=i.min(words.len() - 1)], &here, &raw);
                        assign(env, name, value, *unknown, origin, entry);
                    }
                }
            }
            "unset" => {
                for (a, _) in &args[1..] {
                    env.vars.remove(a);
                    env.searches.remove(a);
                }
            }
            "load_env" => self.load_env(env, &strs[1..], &here),
            "source" | "." => {
                if let Some(p) = strs.get(1) {
                    self.include(env, p, &here, false);
                }
            }
            "configfile" | "normal" => {
                if let Some(p) = strs.get(1) {
                    if entry.is_some() {
                        return;
                    }
                    self.include(env, p, &here, true);
                }
            }
            "blscfg" => {
                if entry.is_none() {
                    self.blscfg(line);
                }
            }
            c if c.starts_with("search") => {
                if let Some((var, spec)) = search_spec(&strs) {
                    env.vars.insert(
                        var.clone(),
                        Val {
                            text: format!("${var}").into(),
                            unknown: true,
                            origin: here.as_str().into(),
                        },
                    );
                    if var == "root"
                        && let Some(e) = entry.as_deref_mut()
                    {
                        e.root_spec = Some(spec.clone());
                    }
                    env.searches.insert(var, spec);
                }
            }
            _ => {
                // `name=value` without set.
                if args.len() == 1
                    && let Some((name, value)) = cmd.split_once('=')
                    && is_name(name)
                    && matches!(words[0].parts.first(), Some(Part::Lit(_)))
                {
                    let origin = self.origin(env, words, &here, &words[0].display());
                    assign(env, name, value, args[0].1, origin, entry);
                    return;
                }
                if let Some(e) = entry.as_deref_mut() {
                    boot_command(e, &args, &here);
                }
            }
        }
    }

    /// "file:line: set x=…", plus where the variables it used came from.
    fn origin(&self, env: &Env, words: &[Word], here: &str, raw: &str) -> String {
        let mut s = format!("{raw} at {here}");
        for w in words {
            for p in &w.parts {
                if let Part::Var { name, .. } = p
                    && let Some(v) = env.vars.get(name)
                {
                    s.push_str(&format!("; {name}={} from {}", v.text, v.origin));
                }
            }
        }
        truncate(&s, MAX_ORIGIN).to_string()
    }

    fn load_env(&mut self, env: &mut Env, args: &[&str], here: &str) {
        let mut file: Option<String> = None;
        let mut names = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = args[i];
            if a == "-f" || a == "--file" {
                file = args.get(i + 1).map(|s| s.to_string());
                i += 2;
                continue;
            }
            if let Some(f) = a.strip_prefix("--file=") {
                file = Some(f.to_string());
            } else if a == "-s" || a == "--skip-sig" {
            } else {
                names.push(a.to_string());
            }
            i += 1;
        }
        let file = file.unwrap_or_else(|| "$prefix/grubenv".to_string());
        let Some(path) = self.find(&file) else {
            self.diag(format!("{here}: load_env: {file} not found in the guest"));
            return;
        };
        let data = match self.files.read(&path, grubenv::MAX_GRUBENV) {
            Ok(Some(d)) => d,
            Ok(None) => return,
            Err(e) => {
                self.diag(format!("{here}: load_env: {e}"));
                return;
            }
        };
        let Some(block) = grubenv::parse(&data) else {
            self.diag(format!(
                "{here}: load_env: {path} is not a GRUB environment block"
            ));
            return;
        };
        for w in &block.warnings {
            self.diag(format!("{path}: {w}"));
        }
        if !self.out.files_read.contains(&path) {
            self.out.files_read.push(path.clone());
        }
        for (k, v) in &block.vars {
            if names.is_empty() || names.contains(k) {
                env.vars.insert(
                    k.clone(),
                    Val {
                        text: v.as_str().into(),
                        unknown: false,
                        origin: path.as_str().into(),
                    },
                );
            }
        }
        self.out.grubenv_path = Some(path);
        self.out.grubenv = Some(block.vars);
    }

    /// The first existing guest file for a GRUB path.
    fn find(&self, grub_path: &str) -> Option<String> {
        guest_candidates(grub_path, &self.prefix_dir)
            .into_iter()
            .find(|p| matches!(self.files.head(p, 0), Ok(Some(_))))
    }

    fn include(&mut self, env: &mut Env, grub_path: &str, here: &str, replace: bool) {
        let what = if replace { "configfile" } else { "source" };
        let Some(path) = self.find(grub_path) else {
            self.diag(format!(
                "{here}: {what} {grub_path}: not found in the guest"
            ));
            return;
        };
        if self.stack.contains(&path) {
            self.diag(format!("{here}: {what} {path}: include cycle; skipped"));
            return;
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.diag(format!(
                "{here}: {what} {path}: more than {MAX_INCLUDE_DEPTH} nested includes; skipped"
            ));
            return;
        }
        let data = match self.files.read(&path, MAX_CONFIG_FILE) {
            Ok(Some(d)) => d,
            Ok(None) => return,
            Err(e) => {
                self.diag(format!("{here}: {what} {path}: {e}"));
                return;
            }
        };
        if !replace {
            self.run_file(env, &path, &data);
            return;
        }
        // configfile: a new menu; GRUB shows it at once, so it is the menu that boots.
        set_config_vars(env, &path);
        self.menu_stack.push(Vec::new());
        self.run_file(env, &path, &data);
        let menu = self.menu_stack.pop().unwrap_or_default();
        if !menu.is_empty() {
            if let Some(top) = self.menu_stack.last_mut() {
                *top = menu;
            }
            self.out.menu_file = path;
            self.stop = true;
        }
    }

    fn menu(&mut self, env: &Env, submenu: bool, args: &[Word], body: &[Cmd], line: u32) {
        let args = self.expand_all(env, args);
        let mut title = None;
        let mut id = None;
        let mut i = 0;
        while i < args.len() {
            let a = args[i].0.as_str();
            match a {
                "--class" | "--users" | "--hotkey" | "--source" => i += 1,
                "--id" => {
                    id = args.get(i + 1).map(|a| a.0.clone());
                    i += 1;
                }
                "--unrestricted" => {}
                _ if a.starts_with("--id=") => id = Some(a[5..].to_string()),
                _ if a.starts_with("--") => {}
                _ => {
                    if title.is_none() {
                        title = Some(a.to_string());
                    }
                }
            }
            i += 1;
        }
        let title = title.unwrap_or_default();
        let source = Provenance::line(self.cur_file(), line);
        if self.entries_seen >= MAX_ENTRIES {
            if self.entries_seen == MAX_ENTRIES {
                self.diag(format!(
                    "more than {MAX_ENTRIES} menu entries; rest ignored"
                ));
                self.entries_seen += 1;
            }
            return;
        }
        self.entries_seen += 1;
        if submenu {
            self.menu_stack.push(Vec::new());
            let mut inner = env.clone();
            self.run(&mut inner, body, &mut None);
            let items = self.menu_stack.pop().unwrap_or_default();
            self.push_item(Item::Submenu {
                title,
                id: id.filter(|s| !s.is_empty()),
                items,
            });
        } else {
            self.push_item(Item::Entry {
                title,
                id: id.filter(|s| !s.is_empty()),
                body: body.to_vec(),
                source,
            });
        }
    }

    fn push_item(&mut self, item: Item) {
        if let Some(top) = self.menu_stack.last_mut() {
            top.push(item);
        }
    }

    fn blscfg(&mut self, line: u32) {
        self.out.used_blscfg = true;
        let here = Provenance::line(self.cur_file(), line);
        let mut diags = Vec::new();
        let mut entries = Vec::new();
        let dir = bls::ENTRIES_DIRS[0];
        match bls::read_dir(self.files, dir, &mut diags) {
            Ok(e) => entries = e,
            Err(e) => diags.push(format!("{dir}: {e}")),
        }
        for d in diags {
            self.diag(d);
        }
        if entries.is_empty() {
            self.diag(format!("{here}: blscfg: no entries in {dir}"));
        }
        bls::sort_grub(&mut entries);
        for e in entries {
            if self.entries_seen >= MAX_ENTRIES {
                break;
            }
            self.entries_seen += 1;
            if !self.out.files_read.contains(&e.path) {
                self.out.files_read.push(e.path.clone());
            }
            self.push_item(Item::Bls {
                entry: Box::new(e),
                source: here.clone(),
            });
        }
    }

    /// Flatten the menu, evaluate bodies and pick the default.
    fn finish(&mut self, menu: Vec<Item>, env: &Env) {
        let mut entries = Vec::new();
        self.flatten(&menu, env, &mut Vec::new(), &mut Vec::new(), &mut entries);
        self.out.entries = entries;
        let (default, reason) = match env.vars.get("default") {
            None => (
                resolve(&menu, "", &self.out.entries).0,
                "no `set default`: GRUB boots the first entry".to_string(),
            ),
            Some(v) => {
                let (idx, exact) = resolve(&menu, &v.text, &self.out.entries);
                let mut reason = format!("default=\"{}\" ({})", v.text, v.origin);
                if v.unknown {
                    reason.push_str("; contains a value known only at boot");
                }
                if v.text.is_empty() {
                    reason.push_str("; empty, so GRUB boots the first entry");
                }
                if let Some(e) = idx.and_then(|i| self.out.entries.get(i))
                    && !exact
                {
                    reason.push_str(&format!(
                        "; no entry matches, so GRUB falls back to entry {}",
                        e.position
                    ));
                }
                (idx, reason)
            }
        };
        self.out.default = default;
        self.out.default_reason = reason;
    }

    fn flatten(
        &mut self,
        items: &[Item],
        env: &Env,
        titles: &mut Vec<String>,
        pos: &mut Vec<usize>,
        out: &mut Vec<BootEntry>,
    ) {
        for (i, item) in items.iter().enumerate() {
            pos.push(i);
            let position = pos
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(">");
            match item {
                Item::Entry {
                    title,
                    id,
                    body,
                    source,
                } => {
                    let mut e = BootEntry::new(title.clone(), source.clone());
                    e.id = id.clone();
                    e.menu_path = titles.clone();
                    e.position = position;
                    let mut benv = env.clone();
                    e.root_spec = benv.searches.get("root").cloned();
                    if let Some(r) = benv.vars.get("root").filter(|v| !v.unknown) {
                        e.grub_root = Some(r.text.to_string());
                    }
                    self.stack.push(source.path.clone());
                    self.stop = false;
                    self.run(&mut benv, body, &mut Some(&mut e));
                    self.stack.pop();
                    out.push(e);
                }
                Item::Bls { entry, source } => {
                    let mut e = bls_entry(entry, env, &self.budget);
                    e.menu_path = titles.clone();
                    e.position = position;
                    for n in std::mem::take(&mut e.notes) {
                        self.diag(n.clone());
                        e.notes.push(n);
                    }
                    e.notes
                        .push(format!("BLS entry read by blscfg at {source}"));
                    out.push(e);
                }
                Item::Submenu { title, items, .. } => {
                    titles.push(title.clone());
                    self.flatten(items, env, titles, pos, out);
                    titles.pop();
                }
            }
            pos.pop();
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn assign(
    env: &mut Env,
    name: &str,
    value: &str,
    unknown: bool,
    origin: String,
    entry: &mut Option<&mut BootEntry>,
) {
    if !is_name(name) {
        return;
    }
    if name == "root"
        && let Some(e) = entry.as_deref_mut()
    {
        e.grub_root = Some(value.to_string());
    }
    env.searches.remove(name);
    if env.vars.len() >= MAX_VARS && !env.vars.contains_key(name) {
        return;
    }
    env.vars.insert(
        name.to_string(),
        Val {
            text: truncate(value, MAX_VALUE).into(),
            unknown,
            origin: truncate(&origin, MAX_ORIGIN).into(),
        },
    );
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn expand_word(env: &Env, w: &Word, out: &mut Vec<(String, bool)>, budget: &Cell<usize>) {
    // Fields being built; an unquoted variable's value is split at blanks.
    let mut cur = String::new();
    let mut unknown = false;
    let mut has_any = false;
    let mut fields: Vec<(String, bool)> = Vec::new();
    for p in &w.parts {
        match p {
            Part::Lit(s) | Part::Quoted(s) => {
                cur.push_str(s);
                has_any = true;
            }
            Part::Var { name, quoted } => {
                let (mut text, unk) = match env.vars.get(name) {
                    Some(v) => (v.text.to_string(), v.unknown),
                    None if RUNTIME_VARS.contains(&name.as_str()) => (format!("${name}"), true),
                    None => (String::new(), false),
                };
                match budget.get().checked_sub(text.len()) {
                    Some(left) => budget.set(left),
                    None => {
                        budget.set(0);
                        text.clear();
                    }
                }
                unknown |= unk;
                if *quoted {
                    cur.push_str(&text);
                    has_any = true;
                } else {
                    let mut first = true;
                    for piece in text.split([' ', '\t', '\n']) {
                        if !first {
                            if !cur.is_empty() || has_any {
                                fields.push((std::mem::take(&mut cur), unknown));
                            }
                            has_any = false;
                        }
                        first = false;
                        if !piece.is_empty() {
                            cur.push_str(piece);
                            has_any = true;
                        }
                    }
                }
            }
        }
    }
    // A quoted empty word stays; an unquoted empty expansion disappears.
    let quoted_any = w
        .parts
        .iter()
        .any(|p| matches!(p, Part::Quoted(_)) || matches!(p, Part::Var { quoted: true, .. }));
    if !cur.is_empty() || (has_any && quoted_any) {
        fields.push((cur, unknown));
    }
    for f in fields {
        if !f.0.is_empty() || quoted_any {
            out.push(f);
        }
    }
}

/// `search [--fs-uuid|--label|--file] [--set[=var]] [--no-floppy] [--hint…] name`, and
/// `search.fs_uuid name [var]`, `search.fs_label`, `search.file`. Returns the variable set
/// and what it searches for.
fn search_spec(args: &[&str]) -> Option<(String, RootSpec)> {
    let (mut kind, mut var) = match args[0] {
        "search.fs_uuid" => ("fs-uuid", None),
        "search.fs_label" => ("label", None),
        "search.file" => ("file", None),
        "search" => ("file", None),
        _ => return None,
    };
    let mut values = Vec::new();
    let mut set = args[0] != "search";
    let mut i = 1;
    while i < args.len() {
        let a = args[i];
        match a {
            "--fs-uuid" | "-u" => kind = "fs-uuid",
            "--label" | "-l" => kind = "label",
            "--file" | "-f" => kind = "file",
            "--set" | "-s" => set = true,
            _ if a.starts_with("--set=") => {
                set = true;
                var = Some(a[6..].to_string());
            }
            _ if a.starts_with("--hint") => {
                if !a.contains('=') {
                    i += 1;
                }
            }
            _ if a.starts_with('-') => {}
            _ => values.push(a.to_string()),
        }
        i += 1;
    }
    if !set {
        return None;
    }
    let value = values.first()?.clone();
    if args[0] != "search" && var.is_none() {
        var = values.get(1).cloned();
    }
    Some((
        var.unwrap_or_else(|| "root".to_string()),
        RootSpec {
            kind: kind.to_string(),
            value,
        },
    ))
}

/// Record the boot commands of an entry body.
fn boot_command(e: &mut BootEntry, args: &[(String, bool)], here: &str) {
    let cmd = args[0].0.as_str();
    let rest: Vec<&str> = args[1..].iter().map(|(s, _)| s.as_str()).collect();
    match cmd {
        "linux" | "linux16" | "linuxefi" | "kernel" => {
            let Some(k) = rest.first() else { return };
            e.kind = BootKind::Linux;
            e.kernel = Some(k.to_string());
            e.kernel_line = Some(here.to_string());
            e.cmdline = Some(join_cmdline(&rest[1..]));
        }
        "initrd" | "initrd16" | "initrdefi" => {
            e.initrds = rest
                .iter()
                .filter(|s| !s.starts_with("--"))
                .map(|s| s.to_string())
                .collect();
        }
        "chainloader" => {
            e.kind = BootKind::Chainload;
            e.kernel = rest
                .iter()
                .find(|s| !s.starts_with("--"))
                .map(|s| s.to_string());
        }
        "multiboot" | "multiboot2" => {
            e.kind = BootKind::Multiboot;
            e.notes.push(format!(
                "{here}: multiboot ({}): a hypervisor entry",
                rest.join(" ")
            ));
        }
        "module" | "module2" if e.kind == BootKind::Multiboot && e.kernel.is_none() => {
            let rest: Vec<&str> = rest.into_iter().filter(|s| !s.starts_with("--")).collect();
            if let Some(k) = rest.first().filter(|k| k.contains("vmlinu")) {
                e.kernel = Some(k.to_string());
                e.cmdline = Some(join_cmdline(&rest[1..]));
            } else if e.kernel.is_some() {
                e.initrds.extend(rest.first().map(|s| s.to_string()));
            }
        }
        "module" | "module2" if e.kind == BootKind::Multiboot => {
            if let Some(r) = rest.iter().find(|s| !s.starts_with("--")) {
                e.initrds.push(r.to_string());
            }
        }
        _ => {}
    }
}

/// GRUB joins the `linux` arguments with spaces into the kernel command line; an argument
/// holding a blank is passed in double quotes.
fn join_cmdline(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains([' ', '\t']) && !a.contains('"') {
                format!("\"{a}\"")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A BLS entry as GRUB's blscfg presents it: id = file name, `options` with `$var`s expanded
/// from the environment (RHEL 8 `$kernelopts`), `$tuned_*` likewise (empty when unset).
fn bls_entry(b: &BlsEntry, env: &Env, budget: &Cell<usize>) -> BootEntry {
    let title = b.title.clone().unwrap_or_else(|| b.id.clone());
    let mut e = BootEntry::new(title, Provenance::file(b.path.clone()));
    e.id = Some(b.id.clone());
    e.bls_file = Some(b.path.clone());
    e.kind = if b.linux.is_some() {
        BootKind::Linux
    } else if b.efi.is_some() {
        BootKind::Chainload
    } else {
        BootKind::Other
    };
    if let Some(l) = b.linux_line {
        e.source = Provenance::line(b.path.clone(), l);
    }
    e.kernel = b.linux.clone().or_else(|| b.efi.clone());
    e.kernel_line = b.linux_line.map(|l| format!("{}:{l}", b.path));
    e.root_spec = env.searches.get("root").cloned();
    let mut initrds = Vec::new();
    for i in &b.initrd {
        initrds.extend(expand_text(env, i, &b.path, &mut e.notes, budget));
    }
    e.initrds = initrds;
    if let Some(o) = &b.options {
        let words = expand_text(env, o, &b.path, &mut e.notes, budget);
        e.cmdline = Some(words.join(" "));
    } else {
        e.cmdline = Some(String::new());
    }
    e
}

/// Expand `$var`/`${var}` in BLS text (GRUB expands it when the entry runs); unset
/// variables are empty, noted when the name looks important.
fn expand_text(
    env: &Env,
    text: &str,
    path: &str,
    notes: &mut Vec<String>,
    budget: &Cell<usize>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let toks = lexer::lex(text, &mut warnings);
    let mut out = Vec::new();
    for t in toks {
        if let lexer::Tok::Word(w, _) = t {
            for p in &w.parts {
                if let Part::Var { name, .. } = p
                    && !env.vars.contains_key(name)
                    && name == "kernelopts"
                {
                    notes.push(format!(
                        "{path}: options use ${name}, which no grubenv or grub.cfg sets: the kernel gets no root="
                    ));
                }
            }
            let mut fields = Vec::new();
            expand_word(env, &w, &mut fields, budget);
            out.extend(fields.into_iter().map(|(s, _)| s));
        }
    }
    out
}

/// Split a `default` value into menu levels: `>` separates, `>>` is a literal `>`.
fn split_default(spec: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '>' {
            if chars.peek() == Some(&'>') {
                chars.next();
                if let Some(s) = out.last_mut() {
                    s.push('>');
                }
            } else {
                out.push(String::new());
            }
        } else if let Some(s) = out.last_mut() {
            s.push(c);
        }
    }
    out
}

/// The flat index of the entry GRUB boots for `default = spec`, and whether every level
/// matched (false: GRUB fell back to a first entry somewhere).
fn resolve(menu: &[Item], spec: &str, flat: &[BootEntry]) -> (Option<usize>, bool) {
    if flat.is_empty() {
        return (None, false);
    }
    let mut exact = true;
    let comps = split_default(spec);
    let mut level = menu;
    let mut pos = Vec::new();
    let mut comps = comps.iter().peekable();
    loop {
        if level.is_empty() {
            return (None, false);
        }
        let c = comps.next().map(String::as_str).unwrap_or("");
        let idx = if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) {
            c.parse::<usize>().ok().filter(|&i| i < level.len())
        } else if c.is_empty() {
            None
        } else {
            level.iter().position(|it| match it {
                Item::Entry { title, id, .. } | Item::Submenu { title, id, .. } => {
                    title == c || id.as_deref() == Some(c)
                }
                Item::Bls { entry, .. } => entry.id == c || entry.title.as_deref() == Some(c),
            })
        };
        if idx.is_none() && !c.is_empty() {
            exact = false;
        }
        let i = idx.unwrap_or(0);
        pos.push(i);
        match &level[i] {
            Item::Submenu { items, .. } => level = items,
            _ => break,
        }
    }
    let want = pos
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(">");
    (flat.iter().position(|e| e.position == want), exact)
}

/// Guest paths a GRUB path may name, most likely first: the device part (`(hd0,gpt2)`,
/// `($root)`, `($dev)`) is dropped, `$prefix`/`${prefix}` (when unset), `$cmdpath` and
/// `$config_directory` become `prefix_dir`; a path not under /boot is also tried under /boot
/// (a separate /boot partition is the root of GRUB's view). Empty when the path still holds
/// a boot-time variable.
pub fn guest_candidates(grub_path: &str, prefix_dir: &str) -> Vec<String> {
    let mut p = grub_path.trim().to_string();
    if p.starts_with('(')
        && let Some(end) = p.find(')')
    {
        p = p[end + 1..].to_string();
    }
    for v in [
        "${prefix}",
        "$prefix",
        "${cmdpath}",
        "$cmdpath",
        "${config_directory}",
        "$config_directory",
    ] {
        if let Some(rest) = p.strip_prefix(v) {
            p = format!("{}{rest}", prefix_dir.trim_end_matches('/'));
            break;
        }
    }
    if p.contains('$') || !p.starts_with('/') {
        return Vec::new();
    }
    let mut out = vec![normalize(&p)];
    if !p.starts_with("/boot/") {
        out.push(normalize(&format!("/boot{p}")));
    }
    out.dedup();
    out
}

fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `-e`, `-f`, `-d`, `-s` on a GRUB path.
fn file_test(files: &dyn Files, prefix_dir: &str, path: &str, op: char) -> Tri {
    let cands = guest_candidates(path, prefix_dir);
    if cands.is_empty() {
        return Tri::Unknown;
    }
    for c in cands {
        match op {
            'd' => {
                if matches!(files.list_dir(&c), Ok(Some(_))) {
                    return Tri::True;
                }
            }
            _ => match files.head(&c, 1) {
                Ok(Some(d)) => {
                    if op != 's' || !d.is_empty() {
                        return Tri::True;
                    }
                }
                Ok(None) => {}
                Err(_) => return Tri::Unknown,
            },
        }
    }
    Tri::False
}
