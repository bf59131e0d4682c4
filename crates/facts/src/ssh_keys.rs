//! SSH keys shipped in the image: host keys (S01: none may ship, sshd regenerates them at
//! first boot) and authorized_keys files (S10: the image ships no login keys; S14: root's keys,
//! if any, must all force a refusing command, as cloud-init's `disable_root` writes them).
//!
//! Private keys are only recognised by their first line; no key material is copied. Public
//! keys are reduced to their type and OpenSSH SHA256 fingerprint (what `ssh-keygen -l`
//! prints), which is enough to name a key in the report.

use crate::{Files, Provenance};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// S01: "/etc/ssh/ssh_host_*key*".
pub const HOST_KEY_GLOB: &str = "/etc/ssh/ssh_host_*key*";
/// Largest authorized_keys file read (sshd reads any size, but an image key file this big
/// is not a real one; it is reported unread instead).
pub const MAX_KEYS_FILE: u64 = 1 << 20;
/// Most entries kept per authorized_keys file.
pub const MAX_ENTRIES: usize = 10_000;
/// Largest .pub host key read (a certificate is a few KiB).
const MAX_PUB_FILE: u64 = 64 * 1024;
/// Bytes looked at to recognise a private key: enough for the longest PEM header line.
const HEAD_BYTES: usize = 64;
/// Bounds for hostile inputs: distinct authorized_keys paths examined, total bytes read,
/// options per key line.
const MAX_KEYS_PATHS: usize = 16_384;
const MAX_TOTAL_BYTES: u64 = 64 << 20;
const MAX_OPTIONS: usize = 256;

/// Key types sshd knows (sshkey.c). Others are accepted when the key blob names the same
/// type, so that a newer key type still counts as a shipped key.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
];

/// authorized_keys options (sshd(8) "AUTHORIZED_KEYS FILE FORMAT", auth-options.c). Any other
/// option makes sshd reject the whole line.
const FLAG_OPTIONS: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "port-forwarding",
    "pty",
    "restrict",
    "touch-required",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];
const VALUE_OPTIONS: &[&str] = &[
    "command",
    "environment",
    "expiry-time",
    "from",
    "permitlisten",
    "permitopen",
    "principals",
    "tunnel",
];

/// OpenSSH's base64 decoder accepts keys with or without padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---------------------------------------------------------------------------------------------
// Public keys

/// A parsed public key: type, fingerprint and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PublicKey {
    key_type: String,
    fingerprint: String,
    comment: Option<String>,
}

/// OpenSSH's default fingerprint: `SHA256:` and unpadded base64 of SHA-256 over the key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// The first SSH wire-format string of a key blob: its key type.
fn blob_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4usize.checked_add(len)?)?).ok()
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    s.split_at(end)
}

/// `type base64 [comment]`. `None`: the first word is no key type (so it may be options);
/// `Some(Err)`: a key type with a broken key.
fn parse_key(text: &str) -> Option<Result<PublicKey, String>> {
    let (key_type, rest) = split_word(text);
    let (b64, comment) = split_word(rest);
    let blob = B64.decode(b64).ok();
    let inner = blob.as_deref().and_then(blob_type);
    let known = KEY_TYPES.contains(&key_type);
    if !known && (key_type.is_empty() || inner != Some(key_type)) {
        return None;
    }
    let Some(blob) = blob.as_deref() else {
        return Some(Err(format!("{key_type} key with invalid base64")));
    };
    if inner != Some(key_type) {
        return Some(Err(format!(
            "line says {key_type} but the key blob is {}",
            inner.unwrap_or("unreadable")
        )));
    }
    let comment = comment.trim();
    Some(Ok(PublicKey {
        key_type: key_type.to_string(),
        fingerprint: fingerprint(blob),
        comment: (!comment.is_empty()).then(|| comment.to_string()),
    }))
}

/// The label of a PEM-style private key header (`-----BEGIN OPENSSH PRIVATE KEY-----` gives
/// `OPENSSH PRIVATE KEY`), or PuTTY's key file marker.
fn private_key_label(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    if text.starts_with("PuTTY-User-Key-File-") {
        return Some("PuTTY-User-Key-File".to_string());
    }
    let label = text.strip_prefix("-----BEGIN ")?;
    let label = &label[..label.find("-----")?];
    label.ends_with("PRIVATE KEY").then(|| label.to_string())
}

// ---------------------------------------------------------------------------------------------
// Host keys

/// Host key files found under /etc/ssh.
#[derive(Debug, Clone, Serialize)]
pub struct HostKeys {
    pub keys: Vec<HostKey>,
    pub warnings: Vec<String>,
}

/// One `/etc/ssh/ssh_host_*key*` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostKey {
    pub path: String,
    pub kind: KeyFileKind,
    /// The private key header label, e.g. `OPENSSH PRIVATE KEY`, `RSA PRIVATE KEY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem_label: Option<String>,
    /// Public keys: the key type, e.g. `ssh-ed25519`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// Public keys: `SHA256:...` as `ssh-keygen -l` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Public keys: the comment, often `root@<build host>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFileKind {
    Private,
    Public,
    /// Neither (empty, unreadable, another format); still a file S01's glob matches.
    Unrecognised,
}

/// Every entry matching [`HOST_KEY_GLOB`], classified.
pub fn host_keys(files: &dyn Files) -> HostKeys {
    let mut out = HostKeys {
        keys: Vec::new(),
        warnings: Vec::new(),
    };
    let paths = match files.glob(HOST_KEY_GLOB) {
        Ok(p) => p,
        Err(e) => {
            out.warnings.push(format!("{HOST_KEY_GLOB}: {e}"));
            return out;
        }
    };
    for path in paths {
        out.keys.push(host_key(files, path));
    }
    out
}

fn host_key(files: &dyn Files, path: String) -> HostKey {
    let mut key = HostKey {
        path,
        kind: KeyFileKind::Unrecognised,
        pem_label: None,
        key_type: None,
        fingerprint: None,
        comment: None,
        error: None,
    };
    match files.head(&key.path, HEAD_BYTES) {
        Ok(Some(head)) => key.pem_label = private_key_label(&head),
        Ok(None) => {
            key.error = Some("not a regular file".to_string());
            return key;
        }
        Err(e) => {
            key.error = Some(e.to_string());
            return key;
        }
    }
    if key.pem_label.is_some() {
        key.kind = KeyFileKind::Private;
        return key;
    }
    if !key.path.ends_with(".pub") {
        key.error = Some("no private key header".to_string());
        return key;
    }
    let parsed = match files.read(&key.path, MAX_PUB_FILE) {
        Ok(Some(data)) => {
            let text = String::from_utf8_lossy(&data);
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'));
            line.and_then(parse_key)
                .unwrap_or_else(|| Err("no public key found".to_string()))
        }
        Ok(None) => Err("not a regular file".to_string()),
        Err(e) => Err(e.to_string()),
    };
    match parsed {
        Ok(pk) => {
            key.kind = KeyFileKind::Public;
            key.key_type = Some(pk.key_type);
            key.fingerprint = Some(pk.fingerprint);
            key.comment = pk.comment;
        }
        Err(e) => key.error = Some(e),
    }
    key
}

// ---------------------------------------------------------------------------------------------
// authorized_keys

/// One authorized_keys file that exists in the image.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizedKeysFile {
    pub path: String,
    /// The users whose logins sshd checks against this file (several when homes coincide).
    pub users: Vec<String>,
    /// The patterns that lead here: AuthorizedKeysFile values, or `.ssh/authorized_keys` /
    /// `.ssh/authorized_keys2` which S10 always inspects.
    pub patterns: Vec<String>,
    /// Whether the given AuthorizedKeysFile patterns name this file (if not, sshd ignores it,
    /// but S10 still counts it).
    pub configured: bool,
    pub entries: Vec<AuthorizedKey>,
    /// More than [`MAX_ENTRIES`] entries: the rest were not parsed.
    pub truncated: bool,
    /// Why the file could not be read (then `entries` is empty and the rules must not pass).
    /// For a pattern that cannot be expanded (`%U`), `path` is the pattern and the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One non-blank, non-comment line of an authorized_keys file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedKey {
    /// 1-based line number.
    pub line: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<KeyOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Why sshd would not accept this line (it skips it; the line still ships in the image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An authorized_keys option: `no-pty`, or `command="..."` (value unquoted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOption {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl AuthorizedKey {
    fn has(&self, name: &str) -> bool {
        self.options
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The value of the first option `name` (case-insensitive), e.g. `command`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
            .and_then(|o| o.value.as_deref())
    }

    /// S14's third alternative: the key is usable, forces a command, and forbids port, agent
    /// and X11 forwarding — the way cloud-init's `disable_root` writes root's keys
    /// (`no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login
    /// as the user ...';sleep 10;exit 142"`). `restrict` forbids all three unless re-enabled.
    /// What the command does is not judged; its text is in [`AuthorizedKey::option`].
    pub fn forces_refusal(&self) -> bool {
        let off = |what: &str| {
            self.has(&format!("no-{what}")) || (self.has("restrict") && !self.has(what))
        };
        self.error.is_none()
            && self.option("command").is_some()
            && off("port-forwarding")
            && off("agent-forwarding")
            && off("x11-forwarding")
    }
}

impl AuthorizedKeysFile {
    /// The file was read completely and every key sshd would accept in it forces a refusal
    /// (true for a file without usable keys).
    pub fn every_key_forces_refusal(&self) -> bool {
        self.error.is_none()
            && !self.truncated
            && self
                .entries
                .iter()
                .filter(|e| e.error.is_none())
                .all(AuthorizedKey::forces_refusal)
    }

    /// Where an entry is, for evidence.
    pub fn provenance(&self, entry: &AuthorizedKey) -> Provenance {
        Provenance::line(self.path.clone(), entry.line)
    }
}

/// The authorized_keys files of `users` (name, home) that exist: every AuthorizedKeysFile
/// pattern (see [`crate::sshd::SshdConfig::authorized_keys_patterns`]) expanded as sshd does
/// (`%h` home, `%u` user, `%%`; relative paths under the home; `none` names no file), plus
/// `~/.ssh/authorized_keys` and `~/.ssh/authorized_keys2`, each path once.
pub fn authorized_keys(
    files: &dyn Files,
    users: &[(String, String)],
    authorized_keys_file_setting: &[String],
) -> Vec<AuthorizedKeysFile> {
    let mut out: Vec<AuthorizedKeysFile> = Vec::new();
    let mut budget = MAX_TOTAL_BYTES;
    let implicit = [
        ".ssh/authorized_keys".to_string(),
        ".ssh/authorized_keys2".to_string(),
    ];
    // Every path looked at: its index in `out` if it exists, `None` if it does not.
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    for (user, home) in users {
        let candidates = authorized_keys_file_setting
            .iter()
            .map(|p| (p, true))
            .chain(implicit.iter().map(|p| (p, false)));
        for (pattern, configured) in candidates {
            if pattern.eq_ignore_ascii_case("none") {
                continue;
            }
            let path = match expand(pattern, user, home) {
                Ok(p) => p,
                Err(e) => {
                    // Keep it visible: sshd would fail on this pattern at login.
                    let path = format!("{pattern} (for {user})");
                    if !seen.contains_key(&path) {
                        seen.insert(path.clone(), Some(out.len()));
                        out.push(new_file(path, user, pattern, configured, Some(e)));
                    }
                    continue;
                }
            };
            if let Some(slot) = seen.get(&path) {
                if let Some(f) = slot.and_then(|i| out.get_mut(i)) {
                    if !f.users.contains(user) {
                        f.users.push(user.clone());
                    }
                    if !f.patterns.contains(pattern) {
                        f.patterns.push(pattern.clone());
                    }
                    f.configured |= configured;
                }
                continue;
            }
            if seen.len() >= MAX_KEYS_PATHS {
                out.push(new_file(
                    path,
                    user,
                    pattern,
                    configured,
                    Some(format!("more than {MAX_KEYS_PATHS} candidate paths: this and later ones not examined")),
                ));
                return out;
            }
            let mut file = new_file(path.clone(), user, pattern, configured, None);
            match files.read(&path, MAX_KEYS_FILE.min(budget)) {
                Ok(None) => {
                    seen.insert(path, None);
                    continue;
                }
                Ok(Some(data)) => {
                    budget = budget.saturating_sub(data.len() as u64);
                    parse_authorized_keys(&mut file, &data);
                }
                Err(e) if budget < MAX_KEYS_FILE => {
                    file.error = Some(format!(
                        "not read: total size limit of {MAX_TOTAL_BYTES} bytes reached ({e})"
                    ))
                }
                Err(e) => file.error = Some(e.to_string()),
            }
            seen.insert(path, Some(out.len()));
            out.push(file);
        }
    }
    out
}

fn new_file(
    path: String,
    user: &str,
    pattern: &str,
    configured: bool,
    error: Option<String>,
) -> AuthorizedKeysFile {
    AuthorizedKeysFile {
        path,
        users: vec![user.to_string()],
        patterns: vec![pattern.to_string()],
        configured,
        entries: Vec::new(),
        truncated: false,
        error,
    }
}

/// sshd's `expand_authorized_keys()`: percent tokens, then relative to the home directory.
/// `%U` (the numeric uid) is not known here and, like an unknown token, gives an error.
fn expand(pattern: &str, user: &str, home: &str) -> Result<String, String> {
    let mut s = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            s.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => s.push('%'),
            Some('h') => s.push_str(home),
            Some('u') => s.push_str(user),
            Some(t) => {
                return Err(format!(
                    "AuthorizedKeysFile {pattern}: token %{t} not expanded here"
                ));
            }
            None => return Err(format!("AuthorizedKeysFile {pattern}: ends with a lone %")),
        }
    }
    if !s.starts_with('/') {
        s = format!("{}/{s}", home.trim_end_matches('/'));
    }
    // Collapse `//` so that homes like "/" or "/home/x/" give one spelling per file.
    let mut clean = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '/' && clean.ends_with('/')) {
            clean.push(c);
        }
    }
    Ok(clean)
}

fn parse_authorized_keys(file: &mut AuthorizedKeysFile, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (i, line) in text.split('\n').enumerate() {
        // sshd skips leading blanks, empty lines and lines starting with '#'.
        let line = line
            .trim_start_matches([' ', '\t'])
            .trim_end_matches(['\r', ' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if file.entries.len() >= MAX_ENTRIES {
            file.truncated = true;
            return;
        }
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        file.entries.push(parse_entry(n, line));
    }
}

/// One line, as sshd's `check_authkey_line()`: a key, or options followed by a key.
fn parse_entry(line: u32, text: &str) -> AuthorizedKey {
    let mut entry = AuthorizedKey {
        line,
        options: Vec::new(),
        key_type: None,
        fingerprint: None,
        comment: None,
        error: None,
    };
    let parsed = match parse_key(text) {
        Some(r) => r,
        None => {
            let (opts, rest) = match split_options(text) {
                Ok(x) => x,
                Err(e) => {
                    entry.error = Some(e);
                    return entry;
                }
            };
            match parse_options(opts) {
                Ok(o) => entry.options = o,
                Err(e) => {
                    entry.error = Some(e);
                    return entry;
                }
            }
            parse_key(rest).unwrap_or_else(|| Err("no public key after the options".to_string()))
        }
    };
    match parsed {
        Ok(k) => {
            entry.key_type = Some(k.key_type);
            entry.fingerprint = Some(k.fingerprint);
            entry.comment = k.comment;
        }
        Err(e) => entry.error = Some(e),
    }
    entry
}

/// `sshkey_advance_past_options()`: options end at the first blank outside double quotes;
/// `\"` inside quotes does not end them.
fn split_options(text: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Ok(text.split_at(i)),
            _ => {}
        }
    }
    if quoted {
        Err("unterminated quote in key options".to_string())
    } else {
        Ok((text, ""))
    }
}

/// `sshauthopt_parse()`: comma-separated names, some with a `="value"` (double quotes
/// required, `\"` escapes a quote). Unknown options and bad syntax reject the line.
fn parse_options(mut rest: &str) -> Result<Vec<KeyOption>, String> {
    let mut out = Vec::new();
    loop {
        if out.len() >= MAX_OPTIONS {
            return Err("too many key options".to_string());
        }
        let end = rest.find(['=', ',']).unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        let lower = name.to_ascii_lowercase();
        if let Some(value) = after.strip_prefix('=') {
            if !VALUE_OPTIONS.contains(&lower.as_str()) {
                return Err(format!("unsupported key option {name}="));
            }
            let (value, remaining) =
                dequote(value).ok_or_else(|| format!("key option {name}: bad quoting"))?;
            out.push(KeyOption {
                name: name.to_string(),
                value: Some(value),
            });
            rest = remaining;
        } else {
            if !FLAG_OPTIONS.contains(&lower.as_str()) {
                return Err(format!("unsupported key option '{name}'"));
            }
            out.push(KeyOption {
                name: name.to_string(),
                value: None,
            });
            rest = after;
        }
        if rest.is_empty() {
            return Ok(out);
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("key options: unexpected text after {name}"))?;
        if rest.is_empty() {
            return Err("key options end with a comma".to_string());
        }
    }
}

/// A double-quoted value at the start of `s` (auth-options.c `opt_dequote`) and what follows.
fn dequote(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                value.push('"');
                chars.next();
            }
            '"' => return Some((value, body.get(i + 1..)?)),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;
    use base64::engine::general_purpose;

    /// ssh-ed25519 blob with the 32 bytes 0..32; `ssh-keygen -lf` on it printed
    /// `256 SHA256:ZkAslGjFiUHdGf/WUL8rQvkib4PTvQatUV0OUQSncCA test@example (ED25519)`.
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
    const FP_A: &str = "SHA256:ZkAslGjFiUHdGf/WUL8rQvkib4PTvQatUV0OUQSncCA";
    /// The bytes 255..=224; `ssh-keygen -lf`: `SHA256:LIHRKjP8oeafKrX0BHkvTYI/ZcB3tRHZHr9uyEhysws`.
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIP/+/fz7+vn49/b19PPy8fDv7u3s6+rp6Ofm5eTj4uHg";
    const FP_B: &str = "SHA256:LIHRKjP8oeafKrX0BHkvTYI/ZcB3tRHZHr9uyEhysws";

    /// The same blob built in the test from the SSH wire format.
    fn ed25519_blob(fill: impl Fn(u8) -> u8) -> Vec<u8> {
        let mut b = Vec::new();
        for field in [b"ssh-ed25519".to_vec(), (0..32).map(&fill).collect()] {
            b.extend_from_slice(&(field.len() as u32).to_be_bytes());
            b.extend_from_slice(&field);
        }
        b
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        let a = ed25519_blob(|i| i);
        assert_eq!(general_purpose::STANDARD.encode(&a), ED_A);
        assert_eq!(fingerprint(&a), FP_A);
        let b = ed25519_blob(|i| 255 - i);
        assert_eq!(general_purpose::STANDARD.encode(&b), ED_B);
        assert_eq!(fingerprint(&b), FP_B);
    }

    #[test]
    fn host_keys_are_classified() {
        let f = MemFiles::new()
            .with(
                "/etc/ssh/ssh_host_ed25519_key",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
            )
            .with(
                "/etc/ssh/ssh_host_ed25519_key.pub",
                format!("ssh-ed25519 {ED_A} root@build\n"),
            )
            .with(
                "/etc/ssh/ssh_host_rsa_key",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
            )
            .with(
                "/etc/ssh/ssh_host_ecdsa_key",
                "\n-----BEGIN EC PRIVATE KEY-----\n",
            )
            .with("/etc/ssh/ssh_host_dsa_key.pub", "garbage\n")
            .with("/etc/ssh/ssh_host_odd_key", "")
            .with("/etc/ssh/sshd_config", "")
            .with("/etc/ssh/moduli", "");
        let hk = host_keys(&f);
        assert!(hk.warnings.is_empty());
        let summary: Vec<(&str, KeyFileKind, Option<&str>)> = hk
            .keys
            .iter()
            .map(|k| (k.path.as_str(), k.kind, k.pem_label.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "/etc/ssh/ssh_host_dsa_key.pub",
                    KeyFileKind::Unrecognised,
                    None
                ),
                (
                    "/etc/ssh/ssh_host_ecdsa_key",
                    KeyFileKind::Private,
                    Some("EC PRIVATE KEY")
                ),
                (
                    "/etc/ssh/ssh_host_ed25519_key",
                    KeyFileKind::Private,
                    Some("OPENSSH PRIVATE KEY")
                ),
                (
                    "/etc/ssh/ssh_host_ed25519_key.pub",
                    KeyFileKind::Public,
                    None
                ),
                ("/etc/ssh/ssh_host_odd_key", KeyFileKind::Unrecognised, None),
                (
                    "/etc/ssh/ssh_host_rsa_key",
                    KeyFileKind::Private,
                    Some("RSA PRIVATE KEY")
                ),
            ]
        );
        let pubkey = &hk.keys[3];
        assert_eq!(pubkey.key_type.as_deref(), Some("ssh-ed25519"));
        assert_eq!(pubkey.fingerprint.as_deref(), Some(FP_A));
        assert_eq!(pubkey.comment.as_deref(), Some("root@build"));
        assert!(hk.keys[0].error.is_some());
        assert!(host_keys(&MemFiles::new()).keys.is_empty());
    }

    fn users(u: &[(&str, &str)]) -> Vec<(String, String)> {
        u.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn authorized_keys_paths_and_entries() {
        let root_keys = format!(
            "# cloud-init\n\nno-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"opc\\\" rather than the user \\\"root\\\".';echo;sleep 10;exit 142\" ssh-ed25519 {ED_A} opc@build\n"
        );
        let f = MemFiles::new()
            .with("/root/.ssh/authorized_keys", root_keys)
            .with(
                "/home/opc/.ssh/authorized_keys2",
                format!("  ssh-ed25519 {ED_B}\r\n"),
            )
            .with(
                "/etc/ssh/keys/opc",
                format!("from=\"10.0.0.0/8,192.168.1.1\",no-pty ssh-ed25519 {ED_A} a b c\n"),
            )
            .with(
                "/home/shared/.ssh/authorized_keys",
                format!("ssh-ed25519 {ED_B}\n"),
            );
        let u = users(&[
            ("root", "/root"),
            ("opc", "/home/opc/"),
            ("a", "/home/shared"),
            ("b", "/home/shared"),
        ]);
        let files = authorized_keys(
            &f,
            &u,
            &strings(&["none", "/etc/ssh/keys/%u", "%h/.ssh/authorized_keys"]),
        );
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/root/.ssh/authorized_keys",
                "/etc/ssh/keys/opc",
                "/home/opc/.ssh/authorized_keys2",
                "/home/shared/.ssh/authorized_keys"
            ]
        );
        let root = &files[0];
        assert_eq!(
            (root.users.as_slice(), root.configured),
            (&strings(&["root"])[..], true)
        );
        assert_eq!(
            root.patterns,
            ["%h/.ssh/authorized_keys", ".ssh/authorized_keys"]
        );
        assert_eq!(root.entries.len(), 1);
        let e = &root.entries[0];
        assert_eq!((e.line, e.error.as_deref()), (3, None));
        assert_eq!(e.fingerprint.as_deref(), Some(FP_A));
        assert_eq!(
            e.option("command"),
            Some(
                "echo 'Please login as the user \"opc\" rather than the user \"root\".';echo;sleep 10;exit 142"
            )
        );
        assert!(e.forces_refusal());
        assert!(root.every_key_forces_refusal());
        assert_eq!(
            root.provenance(e).to_string(),
            "/root/.ssh/authorized_keys:3"
        );

        let opc = &files[1];
        let e = &opc.entries[0];
        assert_eq!(e.option("from"), Some("10.0.0.0/8,192.168.1.1"));
        assert_eq!(e.options.len(), 2);
        assert_eq!(e.comment.as_deref(), Some("a b c"));
        assert!(!e.forces_refusal());

        let opc2 = &files[2];
        assert!(!opc2.configured);
        assert_eq!(opc2.entries[0].fingerprint.as_deref(), Some(FP_B));
        assert_eq!(opc2.entries[0].comment, None);

        assert_eq!(files[3].users, ["a", "b"]);
    }

    #[test]
    fn entry_parsing_edge_cases() {
        let p = |s: &str| parse_entry(1, s);
        // `restrict` forbids forwarding unless re-enabled.
        assert!(p(&format!("restrict,command=\"exit 1\" ssh-ed25519 {ED_A}")).forces_refusal());
        assert!(
            !p(&format!(
                "restrict,port-forwarding,command=\"exit 1\" ssh-ed25519 {ED_A}"
            ))
            .forces_refusal()
        );
        assert!(
            !p(&format!(
                "no-port-forwarding,no-agent-forwarding,no-x11-forwarding ssh-ed25519 {ED_A}"
            ))
            .forces_refusal()
        );
        // Quoted values may hold commas and blanks.
        let e = p(&format!("command=\"a, b\",NO-PTY ssh-ed25519 {ED_A} c"));
        assert_eq!(
            (e.option("command"), e.options.len(), e.error.as_deref()),
            (Some("a, b"), 2, None)
        );
        // Rejected by sshd: kept with an error.
        for bad in [
            format!("bogus ssh-ed25519 {ED_A}"),
            format!("command=unquoted ssh-ed25519 {ED_A}"),
            format!("command=\"open ssh-ed25519 {ED_A}"),
            format!("no-pty, ssh-ed25519 {ED_A}"),
            "ssh-ed25519 !!!notbase64".to_string(),
            format!("ssh-rsa {ED_A}"),
            "no-pty".to_string(),
            "ssh-ed25519".to_string(),
            "\u{fffd}\u{0}".to_string(),
        ] {
            let e = p(&bad);
            assert!(e.error.is_some(), "{bad}: {e:?}");
            assert!(!e.forces_refusal());
        }
        // An unknown type whose blob agrees is still a key.
        let mut blob = Vec::new();
        for field in [&b"ssh-new@example.com"[..], &[1, 2, 3]] {
            blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
            blob.extend_from_slice(field);
        }
        let e = p(&format!(
            "ssh-new@example.com {}",
            general_purpose::STANDARD.encode(&blob)
        ));
        assert_eq!(
            (e.key_type.as_deref(), e.error),
            (Some("ssh-new@example.com"), None)
        );
        // Padding is optional, as for OpenSSH.
        let unpadded = STANDARD_NO_PAD.encode(ed25519_blob(|i| i));
        assert_eq!(
            p(&format!("ssh-ed25519 {unpadded}")).fingerprint.as_deref(),
            Some(FP_A)
        );
    }

    #[test]
    fn expansion() {
        assert_eq!(expand(".ssh/k", "u", "/").as_deref(), Ok("/.ssh/k"));
        assert_eq!(
            expand("/k/%u/%%/%h", "u", "/home/u/").as_deref(),
            Ok("/k/u/%/home/u/")
        );
        assert!(expand("/k/%U", "u", "/h").is_err());
        assert!(expand("/k/%", "u", "/h").is_err());
        let f = MemFiles::new();
        let files = authorized_keys(&f, &users(&[("u", "/h")]), &strings(&["/keys/%U"]));
        assert_eq!(files.len(), 1);
        assert!(files[0].error.as_deref().is_some_and(|e| e.contains("%U")));
    }

    #[test]
    fn limits() {
        let many = format!("ssh-ed25519 {ED_A}\n").repeat(MAX_ENTRIES + 5);
        let big = "#".repeat(MAX_KEYS_FILE as usize + 1);
        let f = MemFiles::new()
            .with("/a/.ssh/authorized_keys", many)
            .with("/b/.ssh/authorized_keys", big);
        let files = authorized_keys(&f, &users(&[("a", "/a"), ("b", "/b")]), &[]);
        assert_eq!(files.len(), 2);
        assert!(files[0].truncated && files[0].entries.len() == MAX_ENTRIES);
        assert!(!files[0].every_key_forces_refusal());
        assert!(files[1].error.is_some() && files[1].entries.is_empty());
    }
}
