//! Local accounts and groups: `/etc/passwd`, `/etc/shadow` and `/etc/group`.
//!
//! Needed by S14 (root's shell), S16 (no user may have a password, nor an empty one), the sshd
//! `Match User`/`Match Group` evaluation and sudo/wheel membership.
//!
//! Secrets never leave this module: a password field is reduced to a [`PasswordState`], whose
//! only text is a hashing scheme's name taken from a fixed table. Formats: passwd(5),
//! shadow(5), group(5); hash prefixes: crypt(5) (libxcrypt).

use crate::{Files, Provenance};
use serde::Serialize;

pub const PASSWD: &str = "/etc/passwd";
pub const SHADOW: &str = "/etc/shadow";
pub const GROUP: &str = "/etc/group";

/// Account databases of a few thousand entries are well under this.
const MAX_DB_FILE: u64 = 16 * 1024 * 1024;
/// Warnings beyond this many are summarised, so a garbage file cannot flood the report.
const MAX_WARNINGS: usize = 50;

/// Whether and how an account can authenticate with a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PasswordState {
    /// Starts with `!` or `*` ("!", "!!", "*", "!*", "!$6$…"): locked, even if a hash follows
    /// (`passwd -l` prefixes the hash with `!`).
    Locked,
    /// Empty field: login without any password (shadow(5)).
    Empty,
    /// A crypt(5) hash: a usable password. `scheme` is one of the names in [`scheme_of`].
    Hash { scheme: String },
    /// A value no crypt(5) method produces ("x" in shadow, "NP", "LK"): no password works.
    Unusable,
    /// passwd says the password is in shadow, but shadow has no line for the user.
    NoShadowEntry,
    /// passwd says the password is in shadow, but `/etc/shadow` could not be read (an error,
    /// not absence): not evaluated.
    ShadowUnreadable,
}

impl PasswordState {
    /// True for a state S16 forbids: a usable hash or an empty password.
    pub fn allows_password_login(&self) -> bool {
        matches!(self, PasswordState::Hash { .. } | PasswordState::Empty)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    /// As written; an empty field means `/bin/sh` (passwd(5)).
    pub shell: String,
    /// False for shells that refuse a session: nologin, false, true, sync, shutdown, halt,
    /// /dev/null (see [`shell_allows_login`]).
    pub shell_allows_login: bool,
    pub password: PasswordState,
    /// The line whose password field decided `password`.
    pub password_provenance: Provenance,
    /// The user's passwd line.
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    /// Supplementary members listed in `/etc/group` (primary members are in passwd's gid).
    pub members: Vec<String>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsersFact {
    /// In file order. Duplicate names are kept (each line is an account to judge) and warned.
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub passwd_readable: bool,
    /// False when `/etc/shadow` is absent or unreadable (see `warnings` for which).
    pub shadow_readable: bool,
    pub group_readable: bool,
    pub warnings: Vec<String>,
}

impl UsersFact {
    /// The account `getpwnam(3)` would return: the first with that name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The first group with that name, as `getgrnam(3)`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The groups a user belongs to: its primary group (by gid) and every group listing it.
    pub fn groups_of(&self, user: &User) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.gid == user.gid || g.members.contains(&user.name))
            .collect()
    }
}

/// Read the three databases. Never fails: missing or bad files become flags and warnings.
pub fn gather(files: &dyn Files) -> UsersFact {
    let mut w = Warnings::default();
    let passwd = read_text(files, PASSWD, &mut w);
    let shadow = read_text(files, SHADOW, &mut w);
    let group = read_text(files, GROUP, &mut w);
    if matches!(passwd, Read::Absent) {
        w.push(format!("{PASSWD}: not found"));
    }
    if matches!(shadow, Read::Absent) {
        w.push(format!("{SHADOW}: not found"));
    }
    if matches!(group, Read::Absent) {
        w.push(format!("{GROUP}: not found"));
    }

    let shadow_entries = match &shadow {
        Read::Text(t) => parse_shadow(t, &mut w),
        _ => Vec::new(),
    };
    let users = match &passwd {
        Read::Text(t) => parse_passwd(t, &shadow, &shadow_entries, &mut w),
        _ => Vec::new(),
    };
    let groups = match &group {
        Read::Text(t) => parse_group(t, &mut w),
        _ => Vec::new(),
    };
    UsersFact {
        users,
        groups,
        passwd_readable: matches!(passwd, Read::Text(_)),
        shadow_readable: matches!(shadow, Read::Text(_)),
        group_readable: matches!(group, Read::Text(_)),
        warnings: w.finish(),
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

enum Read {
    Text(String),
    Absent,
    Error,
}

fn read_text(files: &dyn Files, path: &str, w: &mut Warnings) -> Read {
    match files.read(path, MAX_DB_FILE) {
        Ok(Some(b)) => Read::Text(String::from_utf8_lossy(&b).into_owned()),
        Ok(None) => Read::Absent,
        Err(e) => {
            w.push(format!("{path}: not readable: {e}"));
            Read::Error
        }
    }
}

/// Lines worth parsing, with 1-based numbers. Like glibc's nss_files, blank lines and lines
/// starting with `#` are skipped. A CR before the LF (a file edited on Windows) is dropped so
/// it does not end up in the shell field.
fn records(text: &str) -> impl Iterator<Item = (u32, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let number = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
            (number, l.strip_suffix('\r').unwrap_or(l))
        })
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
}

/// NIS compat entries (`+`, `-name`) are not accounts of this image.
fn is_nis(line: &str) -> bool {
    line.starts_with('+') || line.starts_with('-')
}

struct ShadowEntry<'a> {
    name: &'a str,
    password: &'a str,
    line: u32,
}

fn parse_shadow<'a>(text: &'a str, w: &mut Warnings) -> Vec<ShadowEntry<'a>> {
    let mut out = Vec::new();
    for (line, l) in records(text) {
        if is_nis(l) {
            continue;
        }
        let fields: Vec<&str> = l.split(':').collect();
        // shadow(5) has 9 fields; only the first two matter here.
        match fields.as_slice() {
            [name, password, ..] if !name.is_empty() => {
                if fields.len() != 9 {
                    w.push(format!(
                        "{SHADOW}:{line}: {} fields instead of 9",
                        fields.len()
                    ));
                }
                out.push(ShadowEntry {
                    name,
                    password,
                    line,
                });
            }
            _ => w.push(format!("{SHADOW}:{line}: malformed line ignored")),
        }
    }
    out
}

fn parse_passwd(
    text: &str,
    shadow: &Read,
    shadow_entries: &[ShadowEntry],
    w: &mut Warnings,
) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    for (line, l) in records(text) {
        if is_nis(l) {
            w.push(format!("{PASSWD}:{line}: NIS compat entry ignored"));
            continue;
        }
        let fields: Vec<&str> = l.split(':').collect();
        let [name, pw, uid, gid, _gecos, home, shell] = fields.as_slice() else {
            w.push(format!(
                "{PASSWD}:{line}: {} fields instead of 7; line ignored",
                fields.len()
            ));
            continue;
        };
        let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) else {
            w.push(format!(
                "{PASSWD}:{line}: uid or gid is not a number; line ignored"
            ));
            continue;
        };
        if name.is_empty() {
            w.push(format!("{PASSWD}:{line}: empty user name; line ignored"));
            continue;
        }
        if users.iter().any(|u| u.name == *name) {
            w.push(format!(
                "{PASSWD}:{line}: user {name} is defined again (the first one wins for lookups)"
            ));
        }
        let here = Provenance::line(PASSWD, line);
        // pam_unix consults shadow when the field is "x" (or SunOS-style "##name").
        let shadowed = *pw == "x" || pw.strip_prefix("##") == Some(*name);
        let (password, password_provenance) = if !shadowed {
            (classify(pw), here.clone())
        } else {
            match (shadow, shadow_entries.iter().find(|s| s.name == *name)) {
                (_, Some(s)) => (classify(s.password), Provenance::line(SHADOW, s.line)),
                (Read::Error, None) => (PasswordState::ShadowUnreadable, here.clone()),
                _ => (PasswordState::NoShadowEntry, here.clone()),
            }
        };
        users.push(User {
            name: name.to_string(),
            uid,
            gid,
            home: home.to_string(),
            shell: shell.to_string(),
            shell_allows_login: shell_allows_login(shell),
            password,
            password_provenance,
            provenance: here,
        });
    }
    users
}

fn parse_group(text: &str, w: &mut Warnings) -> Vec<Group> {
    let mut groups = Vec::new();
    for (line, l) in records(text) {
        if is_nis(l) {
            continue;
        }
        let fields: Vec<&str> = l.split(':').collect();
        let [name, _pw, gid, members] = fields.as_slice() else {
            w.push(format!(
                "{GROUP}:{line}: {} fields instead of 4; line ignored",
                fields.len()
            ));
            continue;
        };
        let Ok(gid) = gid.parse::<u32>() else {
            w.push(format!("{GROUP}:{line}: gid is not a number; line ignored"));
            continue;
        };
        groups.push(Group {
            name: name.to_string(),
            gid,
            members: members
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(String::from)
                .collect(),
            provenance: Provenance::line(GROUP, line),
        });
    }
    groups
}

/// Whether a login shell gives a session. Programs that refuse (nologin(8), false(1)), do
/// something and exit (true, sync, shutdown, halt) or are not programs (`/dev/null`) do not;
/// matched on the last path component so `/usr/sbin/nologin` and `/sbin/nologin` both count.
/// An empty field means `/bin/sh` (passwd(5)) and allows login.
pub fn shell_allows_login(shell: &str) -> bool {
    let shell = shell.trim();
    if shell == "/dev/null" {
        return false;
    }
    let base = shell.rsplit('/').next().unwrap_or(shell);
    !matches!(
        base,
        "nologin" | "false" | "true" | "sync" | "shutdown" | "halt"
    )
}

/// Characters of the crypt(3) base-64 alphabet (`./0-9A-Za-z`).
fn is_crypt64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '/'
}

/// Classify one password field (from passwd or shadow) without keeping any of it.
pub fn classify(field: &str) -> PasswordState {
    if field.is_empty() {
        PasswordState::Empty
    } else if field.starts_with('!') || field.starts_with('*') {
        PasswordState::Locked
    } else if let Some(scheme) = scheme_of(field) {
        PasswordState::Hash {
            scheme: scheme.to_string(),
        }
    } else {
        PasswordState::Unusable
    }
}

/// The crypt(5) scheme of a hash, or `None` if no crypt method produces this string.
/// Any `$id$…` counts as a hash (an unknown `id` gives "unknown"): for S16 it is safer to
/// report an unknown method than to assume it cannot be used.
pub fn scheme_of(hash: &str) -> Option<&'static str> {
    if let Some(rest) = hash.strip_prefix('$') {
        let id = rest.split('$').next().unwrap_or("");
        return Some(match id {
            "y" => "yescrypt",
            "gy" => "gost-yescrypt",
            "7" => "scrypt",
            "6" => "sha512crypt",
            "5" => "sha256crypt",
            "2a" | "2b" | "2y" | "2x" => "bcrypt",
            "1" => "md5crypt",
            "md5" => "sunmd5",
            "sha1" => "sha1crypt",
            _ => "unknown",
        });
    }
    let len = hash.chars().count();
    if len == 13 && hash.chars().all(is_crypt64) {
        return Some("descrypt");
    }
    if len == 20 && hash.starts_with('_') && hash.chars().skip(1).all(is_crypt64) {
        return Some("bsdicrypt");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    const SHA512: &str = "$6$saltsalt$3ZK6LMQ0i7i.V5bX2LrQ7kQ3dpBq7d3pmPTmRyhYbPSDV8s5D1jRf4gqQKaSbqQ0Lp0bXhUvxw7QUJx4.6vDj/";

    fn passwd_line(name: &str, pw: &str, uid: u32, shell: &str) -> String {
        format!("{name}:{pw}:{uid}:{uid}:{name} user:/home/{name}:{shell}\n")
    }

    fn shadow_line(name: &str, pw: &str) -> String {
        format!("{name}:{pw}:19700:0:99999:7:::\n")
    }

    #[test]
    fn classify_every_state() {
        for (field, want) in [
            ("", PasswordState::Empty),
            ("!", PasswordState::Locked),
            ("!!", PasswordState::Locked),
            ("*", PasswordState::Locked),
            ("!*", PasswordState::Locked),
            ("*LK*", PasswordState::Locked),
            ("!$6$salt$hash", PasswordState::Locked),
            ("x", PasswordState::Unusable),
            ("NP", PasswordState::Unusable),
            ("LK", PasswordState::Unusable),
            ("abc", PasswordState::Unusable),
            ("abcdefghijk:m", PasswordState::Unusable),
        ] {
            assert_eq!(classify(field), want, "{field:?}");
        }
        for (field, scheme) in [
            ("$y$j9T$salt$hash", "yescrypt"),
            (SHA512, "sha512crypt"),
            ("$5$rounds=5000$salt$hash", "sha256crypt"),
            ("$2a$10$abcdefghijklmnopqrstuu", "bcrypt"),
            ("$2b$10$abcdefghijklmnopqrstuu", "bcrypt"),
            ("$2y$10$abcdefghijklmnopqrstuu", "bcrypt"),
            ("$1$salt$hash", "md5crypt"),
            ("abJnggxhB/yWI", "descrypt"),
            ("_J9..CCCCXBrJUJV154M", "bsdicrypt"),
            ("$zz$whatever", "unknown"),
            ("$", "unknown"),
        ] {
            assert_eq!(
                classify(field),
                PasswordState::Hash {
                    scheme: scheme.into()
                },
                "{field:?}"
            );
        }
        assert!(classify(SHA512).allows_password_login());
        assert!(classify("").allows_password_login());
        assert!(!classify("!!").allows_password_login());
    }

    #[test]
    fn shells() {
        for s in [
            "/sbin/nologin",
            "/usr/sbin/nologin",
            "/bin/false",
            "/usr/bin/false",
            "/bin/sync",
            "/sbin/shutdown",
            "/sbin/halt",
            "/dev/null",
        ] {
            assert!(!shell_allows_login(s), "{s}");
        }
        for s in ["/bin/bash", "/bin/sh", "", "/usr/bin/zsh", "/bin/falsey"] {
            assert!(shell_allows_login(s), "{s}");
        }
    }

    #[test]
    fn gather_decides_per_user_with_provenance() {
        let passwd = [
            passwd_line("root", "x", 0, "/bin/bash"),
            passwd_line("daemon", "*", 1, "/usr/sbin/nologin"),
            passwd_line("opc", "x", 1000, "/bin/bash"),
            passwd_line("empty", "x", 1001, "/bin/bash"),
            passwd_line("ghost", "x", 1002, "/bin/bash"),
            passwd_line("legacy", "abJnggxhB/yWI", 1003, "/bin/sh"),
            passwd_line("nopw", "", 1004, "/bin/sh"),
            passwd_line("svc", "x", 1005, "/bin/false"),
        ]
        .concat();
        let shadow = [
            shadow_line("root", "!*"),
            shadow_line("opc", SHA512),
            shadow_line("empty", ""),
            shadow_line("svc", "x"),
            shadow_line("legacy", "!!"), // not consulted: passwd has the hash
        ]
        .concat();
        let f = MemFiles::new()
            .with(PASSWD, passwd)
            .with(SHADOW, shadow)
            .with(GROUP, "root:x:0:\nwheel:x:10:opc, admin\nopc:x:1000:\n");
        let fact = gather(&f);
        assert!(fact.passwd_readable && fact.shadow_readable && fact.group_readable);
        assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
        let state = |n: &str| fact.user(n).unwrap().password.clone();
        assert_eq!(state("root"), PasswordState::Locked);
        assert_eq!(state("daemon"), PasswordState::Locked);
        assert_eq!(
            state("opc"),
            PasswordState::Hash {
                scheme: "sha512crypt".into()
            }
        );
        assert_eq!(state("empty"), PasswordState::Empty);
        assert_eq!(state("ghost"), PasswordState::NoShadowEntry);
        assert_eq!(
            state("legacy"),
            PasswordState::Hash {
                scheme: "descrypt".into()
            }
        );
        assert_eq!(state("nopw"), PasswordState::Empty);
        assert_eq!(state("svc"), PasswordState::Unusable);

        let opc = fact.user("opc").unwrap();
        assert_eq!(
            (opc.uid, opc.gid, opc.home.as_str()),
            (1000, 1000, "/home/opc")
        );
        assert_eq!(opc.password_provenance, Provenance::line(SHADOW, 2));
        assert_eq!(opc.provenance, Provenance::line(PASSWD, 3));
        assert_eq!(
            fact.user("legacy").unwrap().password_provenance,
            Provenance::line(PASSWD, 6)
        );
        assert_eq!(
            fact.user("ghost").unwrap().password_provenance,
            Provenance::line(PASSWD, 5)
        );
        assert!(fact.user("root").unwrap().shell_allows_login);
        assert!(!fact.user("daemon").unwrap().shell_allows_login);

        let wheel = fact.group("wheel").unwrap();
        assert_eq!(
            (wheel.gid, wheel.members.clone()),
            (10, vec!["opc".to_string(), "admin".to_string()])
        );
        assert_eq!(wheel.provenance, Provenance::line(GROUP, 2));
        let names: Vec<_> = fact
            .groups_of(opc)
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, ["wheel", "opc"]);
    }

    #[test]
    fn no_secret_reaches_the_output() {
        let f = MemFiles::new()
            .with(
                PASSWD,
                passwd_line("opc", "x", 1000, "/bin/bash")
                    + &passwd_line("old", "abJnggxhB/yWI", 1, "/bin/sh"),
            )
            .with(GROUP, "")
            .with(SHADOW, shadow_line("opc", SHA512));
        let dump = format!("{:?}", gather(&f));
        assert!(
            !dump.contains("saltsalt") && !dump.contains("3ZK6") && !dump.contains("abJngg"),
            "{dump}"
        );
    }

    #[test]
    fn missing_shadow() {
        let f = MemFiles::new().with(PASSWD, passwd_line("root", "x", 0, "/bin/bash"));
        let fact = gather(&f);
        assert!(!fact.shadow_readable && !fact.group_readable);
        assert_eq!(
            fact.user("root").unwrap().password,
            PasswordState::NoShadowEntry
        );
        assert_eq!(
            fact.warnings,
            vec![
                format!("{SHADOW}: not found"),
                format!("{GROUP}: not found")
            ]
        );
    }

    #[test]
    fn unreadable_shadow_is_not_evaluated() {
        let huge = "a".repeat(MAX_DB_FILE as usize + 1);
        let f = MemFiles::new()
            .with(PASSWD, passwd_line("root", "x", 0, "/bin/bash"))
            .with(SHADOW, huge);
        let fact = gather(&f);
        assert!(!fact.shadow_readable);
        assert_eq!(
            fact.user("root").unwrap().password,
            PasswordState::ShadowUnreadable
        );
        assert!(fact.warnings[0].contains("not readable"));
    }

    #[test]
    fn missing_passwd() {
        let fact = gather(&MemFiles::new().with(SHADOW, shadow_line("root", "!")));
        assert!(!fact.passwd_readable && fact.users.is_empty());
        assert!(
            fact.warnings
                .iter()
                .any(|w| w.contains("/etc/passwd: not found"))
        );
    }

    #[test]
    fn malformed_lines_are_warned_and_skipped() {
        let passwd = "# comment\n\nroot:x:0:0:root:/root:/bin/bash\nshort:x:1\nbaduid:x:abc:0::/:/bin/sh\n\
                      toobig:x:99999999999:0::/:/bin/sh\n:x:5:5::/:/bin/sh\n+::::::\n\
                      extra:x:6:6::/:/bin/sh:more\nroot:x:0:0:again:/root:/bin/sh\n";
        let shadow = "root:!:1::::::\nbroken\n:x:1:2:3:4:5:6:\n";
        let group = "wheel:x:10\nadm:x:four:\nok:x:4:a,,b,\n";
        let f = MemFiles::new()
            .with(PASSWD, passwd)
            .with(SHADOW, shadow)
            .with(GROUP, group);
        let fact = gather(&f);
        let names: Vec<_> = fact.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["root", "root"]);
        assert_eq!(fact.user("root").unwrap().shell, "/bin/bash");
        assert_eq!(fact.users[1].password, PasswordState::Locked);
        let lines: Vec<_> = fact
            .warnings
            .iter()
            .map(|w| w.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "/etc/shadow:2:",
                "/etc/shadow:3:",
                "/etc/passwd:4:",
                "/etc/passwd:5:",
                "/etc/passwd:6:",
                "/etc/passwd:7:",
                "/etc/passwd:8:",
                "/etc/passwd:9:",
                "/etc/passwd:10:",
                "/etc/group:1:",
                "/etc/group:2:"
            ],
            "{:?}",
            fact.warnings
        );
        assert_eq!(fact.group("ok").unwrap().members, ["a", "b"]);
    }

    #[test]
    fn crlf_line_endings() {
        let f = MemFiles::new()
            .with(
                PASSWD,
                "root:x:0:0:root:/root:/sbin/nologin\r\nopc:x:1000:1000::/home/opc:/bin/bash\r\n",
            )
            .with(
                SHADOW,
                "root:!!:19700:0:99999:7:::\r\nopc::19700:0:99999:7:::\r\n",
            )
            .with(GROUP, "wheel:x:10:opc\r\n");
        let fact = gather(&f);
        let root = fact.user("root").unwrap();
        assert_eq!(root.shell, "/sbin/nologin");
        assert!(!root.shell_allows_login);
        assert_eq!(root.password, PasswordState::Locked);
        assert_eq!(fact.user("opc").unwrap().password, PasswordState::Empty);
        assert_eq!(fact.group("wheel").unwrap().members, ["opc"]);
        assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    }

    #[test]
    fn five_hundred_users() {
        let mut passwd = String::new();
        let mut shadow = String::new();
        for i in 0..500u32 {
            let name = format!("user{i}");
            passwd += &passwd_line(&name, "x", 1000 + i, "/bin/bash");
            shadow += &shadow_line(&name, if i % 2 == 0 { "!" } else { "$y$j9T$abc$def" });
        }
        let fact = gather(
            &MemFiles::new()
                .with(PASSWD, passwd)
                .with(SHADOW, shadow)
                .with(GROUP, ""),
        );
        assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
        assert_eq!(fact.users.len(), 500);
        let hashed = fact
            .users
            .iter()
            .filter(|u| u.password.allows_password_login())
            .count();
        assert_eq!(hashed, 250);
        let last = fact.user("user499").unwrap();
        assert_eq!(last.password_provenance, Provenance::line(SHADOW, 500));
        assert_eq!(
            last.password,
            PasswordState::Hash {
                scheme: "yescrypt".into()
            }
        );
    }

    #[test]
    fn warnings_are_capped() {
        let passwd = "garbage\n".repeat(1000);
        let fact = gather(
            &MemFiles::new()
                .with(PASSWD, passwd)
                .with(SHADOW, "")
                .with(GROUP, ""),
        );
        assert_eq!(fact.warnings.len(), MAX_WARNINGS + 1);
        assert!(fact.warnings.last().unwrap().contains("more warnings"));
    }

    #[test]
    fn binary_garbage_does_not_panic() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let _ = gather(
            &MemFiles::new()
                .with(PASSWD, &junk)
                .with(SHADOW, &junk)
                .with(GROUP, &junk),
        );
    }
}
