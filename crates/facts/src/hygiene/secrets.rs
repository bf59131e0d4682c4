//! REC-SECRETS: private keys, credentials and tokens left in the image.
//!
//! Two passes over candidate paths only. In every home: the files that tools write their
//! credentials to (`.ssh/`, `.aws/`, `.oci/`, `.docker/config.json`, …), each read by its own
//! small parser. Under `/etc`, `/opt`, `/srv` and `/var/www`: a bounded breadth-first walk
//! that opens only files whose name looks like a key or a credential store. Every finding is a
//! path, a line, a kind and a descriptor built from non-secret facts (key type and size,
//! public fingerprint, profile or registry name, a variable name, an AWS key id masked to its
//! last four characters); no secret value is ever copied.

use super::keys::{self, KeyInfo, sanitize};
use super::scan::{Budget, Scan, join};
use super::{Home, SecretFinding};
use crate::files::{EntryKind, fnmatch};
use std::collections::{HashSet, VecDeque};

/// Roots of the walk, as REC-SECRETS names them.
pub const WALK_ROOTS: &[&str] = &["/etc", "/opt", "/srv", "/var/www"];
/// Deepest directory level walked below a root.
pub const MAX_WALK_DEPTH: usize = 6;
/// Most directory entries listed by the secrets phase (homes' `.ssh`/`.oci` and the walk).
pub const MAX_WALK_ENTRIES: u64 = 20_000;
/// Most files opened by the secrets phase.
pub const MAX_FILES_OPENED: u64 = 2_000;
/// Most bytes read of one file.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Most bytes read by the secrets phase in all.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// Directories never walked: CA bundles and certificates (public), and the Red Hat
/// subscription identity, which REC-LEFTOVERS reports.
const EXCLUDED_DIRS: &[&str] = &[
    "/etc/ssl/certs",
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/etc/pki/consumer",
    "/etc/pki/entitlement",
];

/// Names opened by the walk.
const WALK_NAMES: &[&str] = &[
    "*.pem",
    "*.key",
    "*.ppk",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    ".env",
    ".env.*",
    "*credentials*",
    "*secret*",
];

const SNAKEOIL: &str = "/etc/ssl/private/ssl-cert-snakeoil.key";

/// Words that make a `NAME=value` setting a secret when it has a value.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "app_key",
];

/// `.ssh` entries that are not identities.
const SSH_NOT_KEYS: &[&str] = &[
    "authorized_keys",
    "authorized_keys2",
    "config",
    "environment",
];

pub(super) fn gather(scan: &mut Scan, homes: &[Home]) -> Vec<SecretFinding> {
    let mut b = Budget::new(
        "secrets",
        MAX_WALK_ENTRIES,
        MAX_FILES_OPENED,
        MAX_FILE_BYTES,
        MAX_TOTAL_BYTES,
        0,
    );
    let mut s = Secrets {
        out: Vec::new(),
        seen: HashSet::new(),
    };
    for home in homes {
        s.home(scan, &mut b, home);
    }
    s.walk(scan, &mut b);
    s.out
}

struct Secrets {
    out: Vec<SecretFinding>,
    /// Paths already examined (homes may lie under the walk's roots).
    seen: HashSet<String>,
}

fn finding(path: &str, line: Option<u32>, kind: &str, detail: String) -> SecretFinding {
    SecretFinding {
        path: path.to_string(),
        line,
        kind: kind.to_string(),
        detail,
        encrypted: None,
        fingerprint: None,
        user: None,
    }
}

fn key_finding(path: &str, k: &KeyInfo, kind: Option<&str>, note: &str) -> SecretFinding {
    let detail = match kind {
        Some(_) => format!("{}: {}{note}", k.kind, k.describe()),
        None => format!("{}{note}", k.describe()),
    };
    SecretFinding {
        path: path.to_string(),
        line: Some(k.line),
        kind: kind.unwrap_or(&k.kind).to_string(),
        detail,
        encrypted: k.encrypted,
        fingerprint: k.fingerprint.clone(),
        user: None,
    }
}

impl Secrets {
    fn read_bytes(&mut self, scan: &mut Scan, b: &mut Budget, path: &str) -> Option<Vec<u8>> {
        if !self.seen.insert(path.to_string()) {
            return None;
        }
        scan.head(b, path, MAX_FILE_BYTES)
    }

    fn read(&mut self, scan: &mut Scan, b: &mut Budget, path: &str) -> Option<String> {
        let data = self.read_bytes(scan, b, path)?;
        Some(String::from_utf8_lossy(&data).into_owned())
    }

    fn push(&mut self, user: &str, mut f: SecretFinding) {
        f.user = Some(user.to_string());
        self.out.push(f);
    }

    fn home(&mut self, scan: &mut Scan, b: &mut Budget, home: &Home) {
        let has = |name: &str| home.entries.iter().any(|e| e.name == name);
        let user = home.user.as_str();
        let p = |rel: &str| join(&home.dir, rel);
        if has(".ssh") {
            self.ssh_dir(scan, b, home, &p(".ssh"));
        }
        if has(".aws") {
            for name in ["credentials", "config"] {
                let path = p(&format!(".aws/{name}"));
                if let Some(text) = self.read(scan, b, &path) {
                    for f in aws_file(&path, &text) {
                        self.push(user, f);
                    }
                }
            }
        }
        if has(".oci") {
            self.oci(scan, b, home);
        }
        let simple: &[(&str, Parser)] = &[
            (".git-credentials", git_credentials),
            (".netrc", netrc),
            (".pgpass", pgpass),
            (".my.cnf", my_cnf),
            (".npmrc", npmrc),
            (".pypirc", pypirc),
        ];
        for (name, parse) in simple {
            if has(name) {
                let path = p(name);
                if let Some(text) = self.read(scan, b, &path) {
                    for f in parse(&path, &text) {
                        self.push(user, f);
                    }
                }
            }
        }
        if has(".mylogin.cnf") {
            let path = p(".mylogin.cnf");
            if let Some(text) = self.read(scan, b, &path) {
                let f = finding(
                    &path,
                    None,
                    "MySQL login path file",
                    format!(
                        "mysql_config_editor credentials ({} bytes, obfuscated, not encrypted)",
                        text.len()
                    ),
                );
                self.push(user, f);
            }
        }
        if has(".docker") {
            let path = p(".docker/config.json");
            if let Some(text) = self.read(scan, b, &path) {
                for f in docker_config(&path, &text) {
                    self.push(user, f);
                }
            }
        }
        if has(".kube") {
            let path = p(".kube/config");
            if let Some(text) = self.read(scan, b, &path) {
                for f in kube_config(&path, &text) {
                    self.push(user, f);
                }
            }
        }
        if has(".config") {
            self.gcloud(scan, b, home);
        }
    }

    fn ssh_dir(&mut self, scan: &mut Scan, b: &mut Budget, home: &Home, dir: &str) {
        let Some(entries) = scan.list(b, dir) else {
            return;
        };
        for e in entries {
            let name = e.name.as_str();
            if !matches!(e.kind, EntryKind::File | EntryKind::Symlink)
                || name.ends_with(".pub")
                || name.starts_with("known_hosts")
                || SSH_NOT_KEYS.contains(&name)
            {
                continue;
            }
            let path = join(dir, name);
            let Some(text) = self.read(scan, b, &path) else {
                continue;
            };
            let found = keys::find_keys(&text);
            if found.is_empty() && name.starts_with("id_") && !text.is_empty() {
                let f = finding(
                    &path,
                    None,
                    "SSH identity file",
                    format!("no private key header ({} bytes read)", text.len()),
                );
                self.push(&home.user, f);
            }
            for k in found {
                self.push(&home.user, key_finding(&path, &k, None, ""));
            }
        }
    }

    fn oci(&mut self, scan: &mut Scan, b: &mut Budget, home: &Home) {
        let dir = join(&home.dir, ".oci");
        let config = join(&dir, "config");
        if let Some(text) = self.read(scan, b, &config) {
            for (section, key, value, line) in ini(&text) {
                match key.as_str() {
                    "key_file" => {
                        let key_path = expand_home(&value, &home.dir, &dir);
                        let mut f = finding(
                            &config,
                            Some(line),
                            "OCI CLI config",
                            format!(
                                "profile {}: API signing key {}",
                                sanitize(&section, 64),
                                sanitize(&value, 200)
                            ),
                        );
                        if let Some(fp) = ini_value(&text, &section, "fingerprint") {
                            f.detail
                                .push_str(&format!(", fingerprint {}", sanitize(&fp, 60)));
                        }
                        match self.read(scan, b, &key_path) {
                            Some(key_text) => {
                                let note = format!(", named by {config}:{line}");
                                let found = keys::find_keys(&key_text);
                                if found.is_empty() {
                                    f.detail.push_str(" (no private key in it)");
                                }
                                self.push(&home.user, f);
                                for k in found {
                                    let kf = key_finding(
                                        &key_path,
                                        &k,
                                        Some("OCI API signing key"),
                                        &note,
                                    );
                                    self.push(&home.user, kf);
                                }
                            }
                            None => {
                                if !self.out.iter().any(|o| o.path == key_path) {
                                    f.detail.push_str(" (not found in the image)");
                                }
                                self.push(&home.user, f);
                            }
                        }
                    }
                    "pass_phrase" if !value.is_empty() => {
                        let f = finding(
                            &config,
                            Some(line),
                            "OCI API key pass phrase",
                            format!("profile {}: pass_phrase set", sanitize(&section, 64)),
                        );
                        self.push(&home.user, f);
                    }
                    "security_token_file" => {
                        let f = finding(
                            &config,
                            Some(line),
                            "OCI session token",
                            format!(
                                "profile {}: security_token_file {}",
                                sanitize(&section, 64),
                                sanitize(&value, 200)
                            ),
                        );
                        self.push(&home.user, f);
                    }
                    _ => {}
                }
            }
        }
        let Some(entries) = scan.list(b, &dir) else {
            return;
        };
        for e in entries {
            if e.kind != EntryKind::File || !e.name.ends_with(".pem") {
                continue;
            }
            let path = join(&dir, &e.name);
            if let Some(text) = self.read(scan, b, &path) {
                for k in keys::find_keys(&text) {
                    let kf = key_finding(&path, &k, Some("OCI API signing key"), "");
                    self.push(&home.user, kf);
                }
            }
        }
    }

    fn gcloud(&mut self, scan: &mut Scan, b: &mut Budget, home: &Home) {
        let dir = join(&home.dir, ".config/gcloud");
        for (name, what) in [
            ("credentials.db", "gcloud credential store"),
            ("access_tokens.db", "gcloud access token cache"),
        ] {
            let path = join(&dir, name);
            if let Some(text) = self.read(scan, b, &path) {
                let format = if text.starts_with("SQLite format 3") {
                    "SQLite"
                } else {
                    "not SQLite"
                };
                let f = finding(
                    &path,
                    None,
                    what,
                    format!("{format}, {} bytes read", text.len()),
                );
                self.push(&home.user, f);
            }
        }
        let path = join(&dir, "application_default_credentials.json");
        if let Some(text) = self.read(scan, b, &path) {
            for f in google_json(&path, &text) {
                self.push(&home.user, f);
            }
        }
    }

    /// The bounded walk of [`WALK_ROOTS`].
    fn walk(&mut self, scan: &mut Scan, b: &mut Budget) {
        let mut queue: VecDeque<(String, usize)> =
            WALK_ROOTS.iter().map(|r| (r.to_string(), 0)).collect();
        while let Some((dir, depth)) = queue.pop_front() {
            if EXCLUDED_DIRS.contains(&dir.as_str()) {
                continue;
            }
            let Some(entries) = scan.list(b, &dir) else {
                if b.entries_left() == 0 {
                    let limit = format!("{MAX_WALK_ENTRIES} entries listed");
                    for (d, _) in queue.drain(..) {
                        scan.truncated("secrets", limit.clone(), &d);
                    }
                }
                continue;
            };
            for e in entries {
                let path = join(&dir, &e.name);
                match e.kind {
                    EntryKind::Dir if depth < MAX_WALK_DEPTH => {
                        queue.push_back((path, depth + 1));
                    }
                    EntryKind::Dir => {
                        scan.truncated("secrets", format!("depth {MAX_WALK_DEPTH}"), &path);
                    }
                    EntryKind::File if walk_candidate(&dir, &e.name) => {
                        if let Some(data) = self.read_bytes(scan, b, &path) {
                            let found = analyze(&path, &e.name, &data);
                            self.out.extend(found);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A home file's parser: (path, text) to findings.
type Parser = fn(&str, &str) -> Vec<SecretFinding>;

fn walk_candidate(dir: &str, name: &str) -> bool {
    if dir == "/etc/ssh" && name.starts_with("ssh_host_") {
        return false; // S01 reports host keys.
    }
    WALK_NAMES.iter().any(|p| fnmatch(p, name))
}

/// A walked file: keys, AWS key ids, and for env and credential files their secret settings.
fn analyze(path: &str, name: &str, bytes: &[u8]) -> Vec<SecretFinding> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    let mut out = Vec::new();
    let lower = name.to_ascii_lowercase();
    for k in keys::find_keys(text) {
        let kind = (path == SNAKEOIL).then_some("snakeoil TLS key, regenerated by make-ssl-cert");
        out.push(key_finding(path, &k, kind, ""));
    }
    if out.is_empty() && (lower.ends_with(".p12") || lower.ends_with(".pfx")) {
        out.push(finding(
            path,
            None,
            "PKCS#12 keystore",
            format!(
                "not parsed; PKCS#12 files normally hold a private key ({} bytes read)",
                bytes.len()
            ),
        ));
    }
    if out.is_empty() && (lower.ends_with(".jks") || lower.ends_with(".keystore")) {
        let what = match bytes.get(..4) {
            Some([0xfe, 0xed, 0xfe, 0xed]) => "Java keystore (JKS)",
            Some([0xce, 0xce, 0xce, 0xce]) => "Java keystore (JCEKS)",
            Some([0x30, ..]) => "PKCS#12 keystore",
            _ => "keystore file",
        };
        out.push(finding(
            path,
            None,
            what,
            format!("not parsed ({} bytes read)", bytes.len()),
        ));
    }
    if out.is_empty()
        && (lower.ends_with(".key") || lower.ends_with(".pem"))
        && let Some(k) = keys::der_key(bytes)
    {
        let mut f = key_finding(path, &k, None, "");
        f.line = None;
        out.push(f);
    }
    for (line, masked) in aws_key_ids(text) {
        out.push(finding(
            path,
            Some(line),
            "AWS access key id",
            format!("AWS access key id {masked}"),
        ));
    }
    let settings_file = lower == ".env"
        || lower.starts_with(".env.")
        || lower.ends_with(".env")
        || lower.contains("credentials")
        || lower.contains("secret");
    if settings_file {
        let before = out.len();
        for (line, name) in secret_settings(text) {
            out.push(finding(
                path,
                Some(line),
                "secret setting",
                format!("{name} has a value"),
            ));
        }
        if out.is_empty() && before == 0 {
            let lines = text
                .lines()
                .filter(|l| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with('#') && !t.starts_with(';')
                })
                .count();
            if text.contains('\0') {
                out.push(finding(
                    path,
                    None,
                    "credentials file",
                    format!(
                        "binary file named like a credential store ({} bytes read)",
                        bytes.len()
                    ),
                ));
            } else if lines > 0 {
                out.push(finding(
                    path,
                    None,
                    "credentials file",
                    format!("named like a credential store, {lines} non-comment lines (not shown)"),
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Small parsers: each returns findings, never values.

/// `[section]` and `key = value` (or `key: value`) lines: (section, lower-case key, value,
/// 1-based line). `#` and `;` start comments.
fn ini(text: &str) -> Vec<(String, String, String, u32)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        let Some(at) = t.find(['=', ':']) else {
            continue;
        };
        let (k, v) = t.split_at(at);
        let v = v.get(1..).unwrap_or("").trim();
        out.push((
            section.clone(),
            k.trim().to_ascii_lowercase(),
            v.to_string(),
            n,
        ));
    }
    out
}

fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    ini(text)
        .into_iter()
        .find(|(s, k, _, _)| s == section && k == key)
        .map(|(_, _, v, _)| v)
}

fn expand_home(value: &str, home: &str, dir: &str) -> String {
    let value = value.trim().trim_matches('"');
    if let Some(rest) = value.strip_prefix("~/") {
        join(home, rest)
    } else if value.starts_with('/') {
        value.to_string()
    } else {
        join(dir, value)
    }
}

/// `AKIA…WXYZ`: the prefix says the kind, the last four name the key; the rest is hidden.
/// Values shorter than an AWS key id are not shown at all.
fn mask_key_id(id: &str) -> String {
    let n = id.chars().count();
    if n < 16 {
        return format!("({n} characters, not shown)");
    }
    let prefix = sanitize(&id.chars().take(4).collect::<String>(), 4);
    let suffix = sanitize(&id.chars().skip(n - 4).collect::<String>(), 4);
    format!("{prefix}…{suffix}")
}

/// AWS access key ids (`AKIA`/`ASIA` and 16 upper-case letters or digits), masked.
fn aws_key_ids(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut at = 0usize;
        while let Some(pos) = b
            .get(at..)
            .and_then(|r| r.windows(4).position(|w| w == b"AKIA" || w == b"ASIA"))
        {
            let start = at + pos;
            at = start + 4;
            let before_ok = start == 0 || !b.get(start - 1).is_some_and(u8::is_ascii_alphanumeric);
            let Some(id) = b.get(start..start + 20) else {
                break;
            };
            let body_ok = id
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            let after_ok = !b.get(start + 20).is_some_and(u8::is_ascii_alphanumeric);
            if before_ok && body_ok && after_ok && out.len() < 256 {
                let id = String::from_utf8_lossy(id);
                out.push((u32::try_from(i + 1).unwrap_or(u32::MAX), mask_key_id(&id)));
                at = start + 20;
            }
        }
    }
    out
}

/// `NAME=value` / `NAME: value` settings whose name says secret and whose value is set.
fn secret_settings(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with("//") {
            continue;
        }
        let t = t.strip_prefix("export ").unwrap_or(t);
        let Some(at) = t.find(['=', ':']) else {
            continue;
        };
        let (k, v) = t.split_at(at);
        let k = k.trim().trim_matches(['"', '\'']);
        let ok_name = !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !ok_name {
            continue;
        }
        let v = v
            .get(1..)
            .unwrap_or("")
            .trim()
            .trim_end_matches(',')
            .trim_matches(['"', '\''])
            .trim();
        let placeholder = v.len() < 4
            || v.starts_with("${")
            || v.starts_with("$(")
            || v.starts_with('<')
            || ["true", "false", "null", "none", "changeme"]
                .contains(&v.to_ascii_lowercase().as_str());
        let lower = k.to_ascii_lowercase();
        if !placeholder && SECRET_WORDS.iter().any(|w| lower.contains(w)) && out.len() < 256 {
            out.push((u32::try_from(i + 1).unwrap_or(u32::MAX), k.to_string()));
        }
    }
    out
}

/// `~/.aws/credentials` and `~/.aws/config` as `aws configure` writes them.
fn aws_file(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (section, key, value, line) in ini(text) {
        if value.is_empty() {
            continue;
        }
        let profile = sanitize(section.strip_prefix("profile ").unwrap_or(&section), 64);
        let f = match key.as_str() {
            "aws_access_key_id" => finding(
                path,
                Some(line),
                "AWS access key id",
                format!(
                    "AWS access key id {} (profile {profile})",
                    mask_key_id(&value)
                ),
            ),
            "aws_secret_access_key" => finding(
                path,
                Some(line),
                "AWS secret access key",
                format!("profile {profile}"),
            ),
            "aws_session_token" | "aws_security_token" => finding(
                path,
                Some(line),
                "AWS session token",
                format!("profile {profile}"),
            ),
            _ => continue,
        };
        out.push(f);
    }
    out
}

/// `scheme://user:password@host/path` lines (git-credential-store): host only, the user
/// part may itself be a token.
fn git_credentials(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let Some((scheme, rest)) = t.split_once("://") else {
            continue;
        };
        let Some((_userinfo, host)) = rest.rsplit_once('@') else {
            continue;
        };
        let host = host.split('/').next().unwrap_or("");
        out.push(finding(
            path,
            Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
            "git credential",
            format!(
                "stored credential for {}://{}",
                sanitize(scheme, 16),
                sanitize(host, 128)
            ),
        ));
    }
    out
}

/// `machine host login user password secret` tokens, across lines (`macdef` skipped).
fn netrc(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    let mut tokens: Vec<(u32, &str)> = Vec::new();
    let mut in_macdef = false;
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if in_macdef {
            in_macdef = !line.trim().is_empty();
            continue;
        }
        for w in line.split_whitespace() {
            if w.starts_with('#') {
                break;
            }
            tokens.push((n, w));
        }
        if tokens
            .iter()
            .rev()
            .nth(1)
            .is_some_and(|(_, t)| *t == "macdef")
        {
            in_macdef = true;
        }
    }
    let mut machine = String::from("default");
    let mut it = tokens.into_iter();
    while let Some((line, t)) = it.next() {
        match t {
            "machine" => {
                machine = it.next().map(|(_, m)| sanitize(m, 128)).unwrap_or_default();
            }
            "default" => machine = "default".to_string(),
            "password" | "account" if it.next().is_some() => {
                out.push(finding(
                    path,
                    Some(line),
                    "netrc password",
                    format!("{t} for machine {machine}"),
                ));
            }
            "login" | "macdef" => {
                it.next();
            }
            _ => {}
        }
    }
    out
}

/// `host:port:database:user:password` lines; `\:` escapes a colon.
fn pgpass(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<String> = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                        f.push(n);
                    }
                }
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => {
                    if let Some(f) = fields.last_mut() {
                        f.push(c);
                    }
                }
            }
        }
        if fields.len() == 5 && fields.get(4).is_some_and(|p| !p.is_empty()) {
            let host = sanitize(fields.first().map_or("", |s| s), 128);
            let port = sanitize(fields.get(1).map_or("", |s| s), 8);
            let db = sanitize(fields.get(2).map_or("", |s| s), 64);
            out.push(finding(
                path,
                Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                "PostgreSQL password",
                format!("password for {host}:{port}/{db}"),
            ));
        }
    }
    out
}

fn my_cnf(path: &str, text: &str) -> Vec<SecretFinding> {
    ini(text)
        .into_iter()
        .filter(|(_, k, v, _)| k == "password" && !v.is_empty())
        .map(|(s, _, _, line)| {
            finding(
                path,
                Some(line),
                "MySQL password",
                format!("password in [{}]", sanitize(&s, 64)),
            )
        })
        .collect()
}

fn pypirc(path: &str, text: &str) -> Vec<SecretFinding> {
    ini(text)
        .into_iter()
        .filter(|(_, k, v, _)| k == "password" && !v.is_empty())
        .map(|(s, _, _, line)| {
            finding(
                path,
                Some(line),
                "PyPI password",
                format!("password in [{}]", sanitize(&s, 64)),
            )
        })
        .collect()
}

/// `//registry/:_authToken=…`, `_auth=…`, `_password=…`.
fn npmrc(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let (scope, name) = match k.rfind(':') {
            Some(at) => (k.get(..at).unwrap_or(""), k.get(at + 1..).unwrap_or("")),
            None => ("", k),
        };
        if matches!(name, "_authToken" | "_auth" | "_password") && !v.trim().is_empty() {
            let scope = if scope.is_empty() {
                "the default registry".to_string()
            } else {
                sanitize(scope, 128)
            };
            out.push(finding(
                path,
                Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                "npm token",
                format!("{name} for {scope}"),
            ));
        }
    }
    out
}

/// kubeconfig users: embedded client keys, bearer tokens, passwords, OIDC tokens.
fn kube_config(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    let mut user = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim().trim_start_matches("- ").trim();
        let Some((k, v)) = t.split_once(':') else {
            continue;
        };
        let v = v.trim().trim_matches(['"', '\'']);
        if k == "name" {
            user = sanitize(v, 64);
            continue;
        }
        let kind = match k {
            "client-key-data" => "Kubernetes client private key",
            "token" => "Kubernetes bearer token",
            "password" => "Kubernetes basic-auth password",
            "id-token" | "refresh-token" | "client-secret" => "Kubernetes OIDC credential",
            _ => continue,
        };
        if v.is_empty() || v == "null" {
            continue;
        }
        let mut f = finding(
            path,
            Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
            kind,
            format!("{k} for user {user}"),
        );
        if k == "client-key-data" {
            use base64::Engine;
            if let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(v.as_bytes())
                && let Some(key) = keys::find_keys(&String::from_utf8_lossy(&pem)).first()
            {
                f.detail = format!("{k} for user {user}: {}", key.describe());
                f.encrypted = key.encrypted;
                f.fingerprint = key.fingerprint.clone();
            }
        }
        out.push(f);
    }
    out
}

/// `~/.docker/config.json`: `auths.<registry>.auth` / `identitytoken`.
fn docker_config(path: &str, text: &str) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (keys, value, line) in json_strings(text) {
        let [a, registry, field] = keys.as_slice() else {
            continue;
        };
        if a == "auths"
            && matches!(
                field.as_str(),
                "auth" | "identitytoken" | "registrytoken" | "password"
            )
            && !value.is_empty()
        {
            out.push(finding(
                path,
                Some(line),
                "container registry credential",
                format!("{field} for registry {}", sanitize(registry, 128)),
            ));
        }
    }
    out
}

/// Google application default credentials: a refresh token or a service account key.
fn google_json(path: &str, text: &str) -> Vec<SecretFinding> {
    let leaves = json_strings(text);
    let get = |name: &str| {
        leaves
            .iter()
            .find(|(k, _, _)| k.len() == 1 && k.first().is_some_and(|k| k == name))
    };
    let kind = get("type")
        .map(|(_, v, _)| sanitize(v, 40))
        .unwrap_or_default();
    let mut out = Vec::new();
    for secret in ["refresh_token", "private_key", "client_secret"] {
        if let Some((_, v, line)) = get(secret) {
            if v.is_empty() {
                continue;
            }
            let mut f = finding(
                path,
                Some(*line),
                "Google Cloud credential",
                format!("{secret} ({kind})"),
            );
            if secret == "private_key"
                && let Some(k) = keys::find_keys(v).first()
            {
                f.detail = format!("private_key ({kind}): {}", k.describe());
                f.fingerprint = k.fingerprint.clone();
                f.encrypted = k.encrypted;
            }
            out.push(f);
        }
    }
    out
}

/// Every string value in a JSON document with its key path (array items as `[]`) and line.
/// Tolerant and bounded: depth 64, 10 000 values; malformed input gives what was seen.
fn json_strings(text: &str) -> Vec<(Vec<String>, String, u32)> {
    // (is_object, current key)
    let mut stack: Vec<(bool, Option<String>)> = Vec::new();
    let mut expect_key = false;
    let mut out = Vec::new();
    let mut line = 1u32;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line = line.saturating_add(1),
            '{' | '[' => {
                if stack.len() >= 64 {
                    break;
                }
                stack.push((c == '{', None));
                expect_key = c == '{';
            }
            '}' | ']' => {
                stack.pop();
                expect_key = false;
            }
            ',' => expect_key = stack.last().is_some_and(|(obj, _)| *obj),
            ':' => expect_key = false,
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some('u') => {
                                let hex: String = chars.by_ref().take(4).collect();
                                if let Some(ch) =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                                {
                                    s.push(ch);
                                }
                            }
                            Some(other) => s.push(other),
                            None => break,
                        },
                        '\n' => {
                            line = line.saturating_add(1);
                            s.push(c);
                        }
                        c => s.push(c),
                    }
                }
                match stack.last_mut() {
                    Some((true, key)) if expect_key => *key = Some(s),
                    _ => {
                        let path = stack
                            .iter()
                            .map(|(obj, k)| match (obj, k) {
                                (true, Some(k)) => k.clone(),
                                _ => "[]".to_string(),
                            })
                            .collect();
                        out.push((path, s, line));
                        if out.len() >= 10_000 {
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_settings() {
        assert_eq!(mask_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
        assert_eq!(
            aws_key_ids("x=AKIAIOSFODNN7EXAMPLE\nyAKIAIOSFODNN7EXAMPLE\n"),
            vec![(1, "AKIA…MPLE".to_string())]
        );
        assert_eq!(
            secret_settings(
                "# DB_PASSWORD=x\nDB_PASSWORD=\"s3cr3tpw\"\nTOKEN=true\nexport API_KEY=abcd1234\nDEBUG=1\n"
            ),
            vec![(2, "DB_PASSWORD".to_string()), (4, "API_KEY".to_string())]
        );
        assert!(
            json_strings("{\"a\":{\"b\":[\"x\",{\"c\":\"d\\\"e\"}]}}")
                .iter()
                .any(|(k, v, _)| k == &["a", "b", "[]", "c"] && v == "d\"e")
        );
        for s in ["{{{{", "\"", "}}]]", "{\"a\":\"\\u12"] {
            let _ = json_strings(s);
        }
    }

    #[test]
    fn netrc_and_pgpass() {
        let f = netrc(
            "/n",
            "machine a.example login bob password pw1\ndefault\n  password pw2\n",
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].detail, "password for machine a.example");
        assert_eq!(f[1].line, Some(3));
        let f = pgpass("/p", "db.example:5432:app:bob:pw\\:x\n*:*:*:nobody:\n");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].detail, "password for db.example:5432/app");
    }
}
