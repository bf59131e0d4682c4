//! The guest's distribution and release, for IMP-OS (Oracle's tested OS list) and for every
//! rule whose remedy depends on the distro.
//!
//! Like libguestfs inspection, detection is an ordered table of files and parsers:
//! os-release(5) first (`/etc/os-release`, then `/usr/lib/os-release`), then the older
//! distribution release files. The first source that yields an answer wins and is recorded
//! ([`OsSource`], [`Provenance`]). No answer is `os: None` plus a warning, never a guess.

use crate::{Files, Provenance};
use serde::Serialize;

/// Release files are a few hundred bytes; anything bigger is not one.
const MAX_RELEASE_FILE: u64 = 64 * 1024;

/// What [`gather`] found, with the warnings it met (bad lines, unreadable files).
#[derive(Debug, Clone, Serialize)]
pub struct OsFact {
    /// `None`: no source identified the distribution (the rules must say "unknown OS").
    pub os: Option<OsInfo>,
    pub warnings: Vec<String>,
}

/// The distribution, with os-release(5) field names and meanings. Values from older release
/// files are mapped onto the same fields (for example "Oracle Linux Server release 7.9" gives
/// `id` "ol" and `version_id` "7.9").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// Lower-case distro identifier (`ID=`); os-release(5) defaults it to "linux".
    pub id: String,
    /// `ID_LIKE=`, space-separated in the file. For fallback sources it is filled with what the
    /// distro's own os-release says (for example "rhel fedora" for CentOS).
    pub id_like: Vec<String>,
    pub name: Option<String>,
    pub pretty_name: Option<String>,
    pub version: Option<String>,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub variant_id: Option<String>,
    /// Which kind of file decided.
    pub source: OsSource,
    /// The guest path read (as asked for: `/etc/os-release` even when it links elsewhere).
    pub provenance: Provenance,
}

/// The file kind that identified the distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OsSource {
    OsRelease,
    OracleRelease,
    EnterpriseRelease,
    CentosRelease,
    RockyRelease,
    AlmalinuxRelease,
    FedoraRelease,
    RedhatRelease,
    LsbRelease,
    DebianVersion,
    SuseRelease,
    AlpineRelease,
    SystemRelease,
}

impl OsInfo {
    /// True when the distro is `id` or declares itself like it (`ID_LIKE`).
    pub fn is_like(&self, id: &str) -> bool {
        self.id == id || self.id_like.iter().any(|l| l == id)
    }

    /// The leading number of `version_id` ("7.9" → 7, "22.04" → 22).
    pub fn version_major(&self) -> Option<u32> {
        let v = self.version_id.as_deref()?;
        leading_number(v)
    }
}

/// os-release(5): "/etc/os-release takes precedence over /usr/lib/os-release".
const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

type Parser = fn(&str, &str, OsSource, &mut Vec<String>) -> Option<OsInfo>;

/// Older release files, in the order tried. Oracle Linux also ships a `redhat-release` that
/// names Red Hat, and CentOS/Rocky/Alma ship one naming themselves, so the specific files come
/// before `redhat-release`; Ubuntu has both `lsb-release` and a `debian_version`
/// ("bookworm/sid"), so `lsb-release` comes before `debian_version`.
const FALLBACKS: [(&str, OsSource, Parser); 12] = [
    (
        "/etc/oracle-release",
        OsSource::OracleRelease,
        parse_redhat_style,
    ),
    (
        "/etc/enterprise-release",
        OsSource::EnterpriseRelease,
        parse_redhat_style,
    ),
    (
        "/etc/centos-release",
        OsSource::CentosRelease,
        parse_redhat_style,
    ),
    (
        "/etc/rocky-release",
        OsSource::RockyRelease,
        parse_redhat_style,
    ),
    (
        "/etc/almalinux-release",
        OsSource::AlmalinuxRelease,
        parse_redhat_style,
    ),
    (
        "/etc/fedora-release",
        OsSource::FedoraRelease,
        parse_redhat_style,
    ),
    (
        "/etc/redhat-release",
        OsSource::RedhatRelease,
        parse_redhat_style,
    ),
    ("/etc/lsb-release", OsSource::LsbRelease, parse_lsb_release),
    (
        "/etc/debian_version",
        OsSource::DebianVersion,
        parse_debian_version,
    ),
    (
        "/etc/SuSE-release",
        OsSource::SuseRelease,
        parse_suse_release,
    ),
    (
        "/etc/alpine-release",
        OsSource::AlpineRelease,
        parse_alpine_release,
    ),
    (
        "/etc/system-release",
        OsSource::SystemRelease,
        parse_redhat_style,
    ),
];

/// Identify the distribution. Never fails: unreadable files become warnings and the next
/// source is tried.
pub fn gather(files: &dyn Files) -> OsFact {
    let mut warnings = Vec::new();
    for path in OS_RELEASE_PATHS {
        let Some(text) = read_text(files, path, &mut warnings) else {
            continue;
        };
        if let Some(info) = from_os_release(&text, path, &mut warnings) {
            return OsFact {
                os: Some(info),
                warnings,
            };
        }
        warnings.push(format!(
            "{path}: no ID, NAME or VERSION_ID; trying the next source"
        ));
    }
    for (path, source, parse) in FALLBACKS {
        let Some(text) = read_text(files, path, &mut warnings) else {
            continue;
        };
        if let Some(info) = parse(&text, path, source, &mut warnings) {
            return OsFact {
                os: Some(info),
                warnings,
            };
        }
    }
    warnings.push(
        "no os-release(5) nor any known distribution release file identifies the OS".to_string(),
    );
    OsFact { os: None, warnings }
}

fn read_text(files: &dyn Files, path: &str, warnings: &mut Vec<String>) -> Option<String> {
    match files.read(path, MAX_RELEASE_FILE) {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("{path}: not readable: {e}"));
            None
        }
    }
}

fn empty_info(id: &str, source: OsSource, path: &str) -> OsInfo {
    OsInfo {
        id: id.to_string(),
        id_like: Vec::new(),
        name: None,
        pretty_name: None,
        version: None,
        version_id: None,
        version_codename: None,
        variant_id: None,
        source,
        provenance: Provenance::file(path),
    }
}

// ---------------------------------------------------------------------------------------------
// os-release(5) and lsb-release: shell-compatible variable assignments.

/// Parse `KEY=value` lines. Later assignments override earlier ones, as in a shell.
/// Bad lines are skipped with a warning naming the line.
pub fn parse_assignments(
    text: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_assignment(line) {
            Ok(None) => {}
            Ok(Some((key, value))) => {
                out.retain(|(k, _)| k != key);
                out.push((key.to_string(), value));
            }
            Err(why) => warnings.push(format!("{path}:{}: line ignored: {why}", i + 1)),
        }
    }
    out
}

/// One line of an os-release(5) file: `Ok(None)` for a blank line or a comment.
///
/// Values follow the man page: "enclosed in double or single quotes if they include spaces
/// [...]. Shell special characters ("$", quotes, backslash, backtick) must be escaped with
/// backslashes". Like systemd's env-file parser, an unquoted value keeps inner spaces and
/// loses trailing ones; like a shell, ` #` outside quotes starts a comment.
fn parse_assignment(line: &str) -> Result<Option<(&str, String)>, &'static str> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let Some((key, raw)) = line.split_once('=') else {
        return Err("no '='");
    };
    let key = key.trim_end();
    let mut chars = key.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("not a variable name before '='");
    }
    Ok(Some((key, unquote(raw)?)))
}

/// Shell-like unquoting of one value: `"..."` (backslash escapes `$ " \ ``), `'...'` (literal),
/// and unquoted text (backslash escapes any character); the three may be concatenated.
fn unquote(raw: &str) -> Result<String, &'static str> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Double,
        Single,
    }
    let mut out = String::new();
    // Length of `out` without the trailing unquoted whitespace.
    let mut keep = 0usize;
    let mut state = State::Plain;
    let mut chars = raw.trim_start().chars();
    while let Some(c) = chars.next() {
        match state {
            State::Plain => match c {
                '"' => state = State::Double,
                '\'' => state = State::Single,
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                        keep = out.len();
                    }
                }
                '#' if out.len() > keep => break,
                c => {
                    out.push(c);
                    if !c.is_whitespace() {
                        keep = out.len();
                    }
                }
            },
            State::Double => match c {
                '"' => {
                    state = State::Plain;
                    keep = out.len();
                }
                '\\' => match chars.next() {
                    Some(n @ ('$' | '"' | '\\' | '`')) => out.push(n),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => return Err("unterminated double quote"),
                },
                c => out.push(c),
            },
            State::Single => {
                if c == '\'' {
                    state = State::Plain;
                    keep = out.len();
                } else {
                    out.push(c);
                }
            }
        }
    }
    match state {
        State::Plain => {
            out.truncate(keep);
            Ok(out)
        }
        State::Double => Err("unterminated double quote"),
        State::Single => Err("unterminated single quote"),
    }
}

fn lookup(vars: &[(String, String)], key: &str) -> Option<String> {
    vars.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

fn from_os_release(text: &str, path: &str, warnings: &mut Vec<String>) -> Option<OsInfo> {
    let vars = parse_assignments(text, path, warnings);
    let get = |k: &str| lookup(&vars, k);
    if get("ID").is_none()
        && get("NAME").is_none()
        && get("PRETTY_NAME").is_none()
        && get("VERSION_ID").is_none()
    {
        return None;
    }
    let id = match get("ID") {
        Some(id) => id.to_ascii_lowercase(),
        None => {
            warnings.push(format!(
                "{path}: no ID=; os-release(5) default \"linux\" assumed"
            ));
            "linux".to_string()
        }
    };
    Some(OsInfo {
        id,
        id_like: get("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default(),
        name: get("NAME"),
        pretty_name: get("PRETTY_NAME"),
        version: get("VERSION"),
        version_id: get("VERSION_ID"),
        version_codename: get("VERSION_CODENAME"),
        variant_id: get("VARIANT_ID"),
        source: OsSource::OsRelease,
        provenance: Provenance::file(path),
    })
}

fn parse_lsb_release(
    text: &str,
    path: &str,
    source: OsSource,
    warnings: &mut Vec<String>,
) -> Option<OsInfo> {
    let vars = parse_assignments(text, path, warnings);
    // redhat-lsb writes an lsb-release with only LSB_VERSION: not an identification.
    let distrib = lookup(&vars, "DISTRIB_ID")?;
    let id: String = distrib
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("");
    let mut info = empty_info(&id, source, path);
    info.id_like = like_of(&id);
    info.name = Some(distrib);
    info.version_id = lookup(&vars, "DISTRIB_RELEASE");
    info.version = info.version_id.clone();
    info.version_codename = lookup(&vars, "DISTRIB_CODENAME");
    info.pretty_name = lookup(&vars, "DISTRIB_DESCRIPTION");
    Some(info)
}

// ---------------------------------------------------------------------------------------------
// One-line release files.

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// The leading decimal number of `s`, if any ("7.9" → 7).
fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

/// Known names in Red Hat-style release lines, matched in this order on the lower-cased name.
/// Oracle Linux 5 called itself "Enterprise Linux Enterprise Linux Server".
const REDHAT_STYLE_NAMES: [(&str, &str); 11] = [
    ("oracle linux", "ol"),
    ("enterprise linux enterprise linux", "ol"),
    ("red hat", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("scientific linux", "scientific"),
    ("cloudlinux", "cloudlinux"),
    ("eurolinux", "eurolinux"),
];

/// `ID_LIKE` as each distro's own os-release sets it.
fn like_of(id: &str) -> Vec<String> {
    let like: &[&str] = match id {
        "ol" | "rhel" => &["fedora"],
        "centos" | "scientific" | "cloudlinux" | "eurolinux" => &["rhel", "fedora"],
        "rocky" | "almalinux" => &["rhel", "centos", "fedora"],
        "amzn" => &["centos", "rhel", "fedora"],
        "ubuntu" | "linuxmint" => &["debian"],
        "sles" | "sled" => &["suse"],
        "opensuse" => &["suse", "opensuse"],
        _ => &[],
    };
    like.iter().map(|s| s.to_string()).collect()
}

/// "<name> release <version> (<codename>)", as in `/etc/redhat-release`:
/// "Oracle Linux Server release 7.9", "CentOS release 6.10 (Final)",
/// "CentOS Linux release 7.9.2009 (Core)", "Amazon Linux release 2 (Karoo)".
fn parse_redhat_style(
    text: &str,
    path: &str,
    source: OsSource,
    warnings: &mut Vec<String>,
) -> Option<OsInfo> {
    let Some(line) = first_line(text) else {
        warnings.push(format!("{path}: empty"));
        return None;
    };
    let (name, rest) = match line.split_once(" release ") {
        Some((n, r)) => (n.trim(), r.trim()),
        None => {
            warnings.push(format!("{path}:1: no \"release <version>\" in {line:?}"));
            (line, "")
        }
    };
    let lower = name.to_ascii_lowercase();
    let id = match REDHAT_STYLE_NAMES
        .iter()
        .find(|(pat, _)| lower.contains(pat))
    {
        Some((_, id)) => (*id).to_string(),
        None => {
            let guess: String = lower
                .split_whitespace()
                .next()
                .unwrap_or("")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            warnings.push(format!("{path}:1: unrecognised distribution name {name:?}"));
            if guess.is_empty() {
                "unknown".to_string()
            } else {
                guess
            }
        }
    };
    let mut info = empty_info(&id, source, path);
    info.id_like = like_of(&id);
    info.name = Some(name.to_string()).filter(|n| !n.is_empty());
    info.pretty_name = Some(line.to_string());
    if !rest.is_empty() {
        info.version = Some(rest.to_string());
    }
    let token = rest.split_whitespace().next().unwrap_or("");
    let end = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(token.len());
    info.version_id = token
        .get(..end)
        .map(|v| v.trim_end_matches('.'))
        .filter(|v| !v.is_empty())
        .map(String::from);
    if let (Some(open), Some(close)) = (rest.find('('), rest.rfind(')')) {
        info.version_codename = rest
            .get(open + 1..close)
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from);
    }
    Some(info)
}

/// `/etc/debian_version`: "12.5" (point release: `version_id` "12", the major, as Debian's
/// os-release has it), or a codename for testing/unstable ("bookworm/sid"), which must not be
/// taken for a number.
fn parse_debian_version(
    text: &str,
    path: &str,
    source: OsSource,
    warnings: &mut Vec<String>,
) -> Option<OsInfo> {
    let Some(line) = first_line(text) else {
        warnings.push(format!("{path}: empty"));
        return None;
    };
    let mut info = empty_info("debian", source, path);
    info.name = Some("Debian GNU/Linux".to_string());
    info.pretty_name = Some(format!("Debian GNU/Linux {line}"));
    info.version = Some(line.to_string());
    if let Some(major) = leading_number(line) {
        info.version_id = Some(major.to_string());
    } else {
        let codename = line.split('/').next().unwrap_or(line).trim();
        if !codename.is_empty() {
            info.version_codename = Some(codename.to_string());
        }
        warnings.push(format!(
            "{path}:1: {line:?} is a codename, not a release number (testing or unstable)"
        ));
    }
    Some(info)
}

/// `/etc/SuSE-release` (SLES 11/12, old openSUSE):
/// "SUSE Linux Enterprise Server 11 (x86_64)" then `VERSION = 11`, `PATCHLEVEL = 4`.
/// `version_id` is "11.4" as SLES's os-release writes it (PATCHLEVEL 0 adds nothing).
fn parse_suse_release(
    text: &str,
    path: &str,
    source: OsSource,
    warnings: &mut Vec<String>,
) -> Option<OsInfo> {
    let Some(line) = first_line(text) else {
        warnings.push(format!("{path}: empty"));
        return None;
    };
    let lower = line.to_ascii_lowercase();
    let id = if lower.contains("opensuse") {
        "opensuse"
    } else if lower.contains("enterprise server") {
        "sles"
    } else if lower.contains("enterprise desktop") {
        "sled"
    } else {
        warnings.push(format!("{path}:1: unrecognised SUSE product {line:?}"));
        "suse"
    };
    let field = |key: &str| {
        text.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key)
                .then(|| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    };
    let mut info = empty_info(id, source, path);
    info.id_like = like_of(id);
    let name = match line.rfind(" (") {
        Some(i) if line.ends_with(')') => line.get(..i).unwrap_or(line),
        _ => line,
    };
    info.name = Some(name.to_string());
    info.pretty_name = Some(line.to_string());
    info.version_codename = field("CODENAME");
    let version = field("VERSION");
    info.version_id = match (&version, field("PATCHLEVEL")) {
        (Some(v), Some(p)) if p != "0" => Some(format!("{v}.{p}")),
        (v, _) => v.clone(),
    };
    info.version = version;
    Some(info)
}

/// `/etc/alpine-release`: just the version ("3.19.1"), as `VERSION_ID` in Alpine's os-release.
fn parse_alpine_release(
    text: &str,
    path: &str,
    source: OsSource,
    warnings: &mut Vec<String>,
) -> Option<OsInfo> {
    let Some(line) = first_line(text) else {
        warnings.push(format!("{path}: empty"));
        return None;
    };
    let mut info = empty_info("alpine", source, path);
    info.name = Some("Alpine Linux".to_string());
    info.pretty_name = Some(format!("Alpine Linux v{line}"));
    info.version = Some(line.to_string());
    if line.starts_with(|c: char| c.is_ascii_digit()) {
        info.version_id = Some(line.to_string());
    } else {
        warnings.push(format!("{path}:1: {line:?} is not a version number"));
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    fn os(files: &MemFiles) -> OsInfo {
        gather(files).os.expect("an OS")
    }

    #[test]
    fn unquote_cases() {
        for (raw, want) in [
            ("plain", "plain"),
            ("\"Oracle Linux Server\"", "Oracle Linux Server"),
            ("'single $quoted \\ \"x\"'", "single $quoted \\ \"x\""),
            (r#""a \"b\" \$c \\d \`e\` \n""#, "a \"b\" $c \\d `e` \\n"),
            ("esc\\ aped", "esc aped"),
            ("Oracle Linux   ", "Oracle Linux"),
            ("\"quoted\"  # a comment", "quoted"),
            ("abc#def", "abc#def"),
            ("\"con\"'cat'enated", "concatenated"),
            ("\"  inner spaces kept  \"", "  inner spaces kept  "),
            ("", ""),
            ("\"\"", ""),
        ] {
            assert_eq!(unquote(raw).as_deref(), Ok(want), "{raw}");
        }
        assert!(unquote("\"open").is_err());
        assert!(unquote("'open").is_err());
        assert!(unquote("\"ends in backslash\\").is_err());
    }

    #[test]
    fn os_release_fields_and_bad_lines() {
        let text = "# comment\n\nNAME=\"Oracle Linux Server\"\nVERSION=\"9.3\"\nID=\"ol\"\n\
                    ID_LIKE=\"fedora\"\nVARIANT_ID=\"server\"\nVERSION_ID=\"9.3\"\n\
                    PRETTY_NAME=\"Oracle Linux Server 9.3\"\nthis line is bad\n1X=2\n\
                    BROKEN=\"unterminated\n";
        let f = MemFiles::new().with("/etc/os-release", text);
        let fact = gather(&f);
        let o = fact.os.unwrap();
        assert_eq!(o.id, "ol");
        assert_eq!(o.id_like, vec!["fedora"]);
        assert_eq!(o.name.as_deref(), Some("Oracle Linux Server"));
        assert_eq!(o.pretty_name.as_deref(), Some("Oracle Linux Server 9.3"));
        assert_eq!(o.version.as_deref(), Some("9.3"));
        assert_eq!(o.version_id.as_deref(), Some("9.3"));
        assert_eq!(o.variant_id.as_deref(), Some("server"));
        assert_eq!(o.version_major(), Some(9));
        assert_eq!(o.source, OsSource::OsRelease);
        assert_eq!(o.provenance, Provenance::file("/etc/os-release"));
        assert_eq!(fact.warnings.len(), 3, "{:?}", fact.warnings);
        assert!(fact.warnings[0].starts_with("/etc/os-release:10:"));
    }

    #[test]
    fn os_release_debian_unquoted_and_crlf() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\r\nNAME=\"Debian GNU/Linux\"\r\n\
                    VERSION_ID=\"12\"\r\nVERSION=\"12 (bookworm)\"\r\nVERSION_CODENAME=bookworm\r\n\
                    ID=debian\r\nHOME_URL=\"https://www.debian.org/\"\r\n";
        let o = os(&MemFiles::new().with("/etc/os-release", text));
        assert_eq!(o.id, "debian");
        assert_eq!(o.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(o.version_id.as_deref(), Some("12"));
        assert!(o.id_like.is_empty());
        assert!(o.is_like("debian"));
    }

    #[test]
    fn os_release_through_symlink_and_usr_lib_fallback() {
        let f = MemFiles::new()
            .with_link("/etc/os-release", "../usr/lib/os-release")
            .with(
                "/usr/lib/os-release",
                "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n",
            );
        let o = os(&f);
        assert_eq!(
            (o.id.as_str(), o.provenance.path.as_str()),
            ("ubuntu", "/etc/os-release")
        );
        assert!(o.is_like("debian"));

        // A dangling /etc link: /usr/lib/os-release is used and named.
        let f = MemFiles::new()
            .with_link("/etc/os-release", "/nowhere")
            .with("/usr/lib/os-release", "ID=fedora\nVERSION_ID=39\n");
        let o = os(&f);
        assert_eq!(
            (o.id.as_str(), o.provenance.path.as_str()),
            ("fedora", "/usr/lib/os-release")
        );
    }

    #[test]
    fn os_release_precedence_duplicates_and_missing_id() {
        let f = MemFiles::new()
            .with("/etc/os-release", "ID=first\nID=second\n")
            .with("/usr/lib/os-release", "ID=other\n");
        assert_eq!(os(&f).id, "second");

        let fact = gather(&MemFiles::new().with("/etc/os-release", "NAME=\"Mystery\"\n"));
        assert_eq!(fact.os.unwrap().id, "linux");
        assert!(fact.warnings[0].contains("default"));
    }

    #[test]
    fn empty_os_release_falls_through() {
        let f = MemFiles::new().with("/etc/os-release", "# nothing\n").with(
            "/etc/redhat-release",
            "Red Hat Enterprise Linux Server release 6.5 (Santiago)\n",
        );
        let fact = gather(&f);
        let o = fact.os.unwrap();
        assert_eq!(
            (o.id.as_str(), o.version_id.as_deref()),
            ("rhel", Some("6.5"))
        );
        assert_eq!(o.version_codename.as_deref(), Some("Santiago"));
        assert_eq!(o.source, OsSource::RedhatRelease);
        assert_eq!(fact.warnings.len(), 1);
    }

    #[test]
    fn oversized_os_release_is_a_warning() {
        let big = "X=1\n".repeat(20_000);
        let f = MemFiles::new()
            .with("/etc/os-release", big)
            .with("/etc/alpine-release", "3.19.1\n");
        let fact = gather(&f);
        assert!(fact.warnings[0].contains("not readable"));
        let o = fact.os.unwrap();
        assert_eq!(
            (o.id.as_str(), o.version_id.as_deref()),
            ("alpine", Some("3.19.1"))
        );
    }

    #[test]
    fn redhat_style_release_files() {
        for (path, line, id, version_id, source) in [
            (
                "/etc/oracle-release",
                "Oracle Linux Server release 7.9",
                "ol",
                Some("7.9"),
                OsSource::OracleRelease,
            ),
            (
                "/etc/centos-release",
                "CentOS release 6.10 (Final)",
                "centos",
                Some("6.10"),
                OsSource::CentosRelease,
            ),
            (
                "/etc/centos-release",
                "CentOS Linux release 7.9.2009 (Core)",
                "centos",
                Some("7.9.2009"),
                OsSource::CentosRelease,
            ),
            (
                "/etc/centos-release",
                "CentOS Stream release 8",
                "centos",
                Some("8"),
                OsSource::CentosRelease,
            ),
            (
                "/etc/redhat-release",
                "Red Hat Enterprise Linux Server release 6.5 (Santiago)",
                "rhel",
                Some("6.5"),
                OsSource::RedhatRelease,
            ),
            (
                "/etc/rocky-release",
                "Rocky Linux release 8.9 (Green Obsidian)",
                "rocky",
                Some("8.9"),
                OsSource::RockyRelease,
            ),
            (
                "/etc/almalinux-release",
                "AlmaLinux release 9.3 (Shamrock Pampas Cat)",
                "almalinux",
                Some("9.3"),
                OsSource::AlmalinuxRelease,
            ),
            (
                "/etc/enterprise-release",
                "Enterprise Linux Enterprise Linux Server release 5.11 (Carthage)",
                "ol",
                Some("5.11"),
                OsSource::EnterpriseRelease,
            ),
            (
                "/etc/system-release",
                "Amazon Linux release 2 (Karoo)",
                "amzn",
                Some("2"),
                OsSource::SystemRelease,
            ),
            (
                "/etc/fedora-release",
                "Fedora release 20 (Heisenbug)",
                "fedora",
                Some("20"),
                OsSource::FedoraRelease,
            ),
            (
                "/etc/fedora-release",
                "Fedora release rawhide",
                "fedora",
                None,
                OsSource::FedoraRelease,
            ),
        ] {
            let o = os(&MemFiles::new().with(path, format!("{line}\n")));
            assert_eq!(o.id, id, "{line}");
            assert_eq!(o.version_id.as_deref(), version_id, "{line}");
            assert_eq!(o.source, source, "{line}");
            assert_eq!(o.pretty_name.as_deref(), Some(line));
            assert_eq!(o.provenance.path, path);
        }
    }

    #[test]
    fn oracle_release_wins_over_redhat_release() {
        let f = MemFiles::new()
            .with(
                "/etc/redhat-release",
                "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
            )
            .with("/etc/oracle-release", "Oracle Linux Server release 7.9\n");
        let o = os(&f);
        assert_eq!((o.id.as_str(), o.source), ("ol", OsSource::OracleRelease));
        assert_eq!(o.name.as_deref(), Some("Oracle Linux Server"));
        assert_eq!(o.id_like, vec!["fedora"]);
    }

    #[test]
    fn unknown_redhat_style_name_warns() {
        let fact = gather(&MemFiles::new().with("/etc/system-release", "Foo-Bar OS release 1.2\n"));
        assert_eq!(fact.os.unwrap().id, "foobar");
        assert!(fact.warnings[0].contains("unrecognised"));
        let fact = gather(&MemFiles::new().with("/etc/system-release", "\u{1}garbage\n"));
        assert!(fact.os.is_some());
    }

    #[test]
    fn lsb_release_before_debian_version() {
        let f = MemFiles::new()
            .with(
                "/etc/lsb-release",
                "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\nDISTRIB_CODENAME=trusty\n\
                 DISTRIB_DESCRIPTION=\"Ubuntu 14.04.6 LTS\"\n",
            )
            .with("/etc/debian_version", "jessie/sid\n");
        let o = os(&f);
        assert_eq!(o.id, "ubuntu");
        assert_eq!(o.version_id.as_deref(), Some("14.04"));
        assert_eq!(o.version_codename.as_deref(), Some("trusty"));
        assert_eq!(o.pretty_name.as_deref(), Some("Ubuntu 14.04.6 LTS"));
        assert_eq!(o.id_like, vec!["debian"]);
        assert_eq!(o.source, OsSource::LsbRelease);
    }

    #[test]
    fn lsb_release_without_distrib_id_is_skipped() {
        let f = MemFiles::new()
            .with(
                "/etc/lsb-release",
                "LSB_VERSION=base-4.0-amd64:base-4.0-noarch\n",
            )
            .with("/etc/debian_version", "7.11\n");
        let o = os(&f);
        assert_eq!(
            (o.id.as_str(), o.source),
            ("debian", OsSource::DebianVersion)
        );
    }

    #[test]
    fn debian_version_numbers_and_codenames() {
        for (content, version_id, codename) in [
            ("12.5\n", Some("12"), None),
            ("5.0.10\n", Some("5"), None),
            ("bookworm/sid\n", None, Some("bookworm")),
            ("trixie/sid", None, Some("trixie")),
            ("/\n", None, None),
        ] {
            let fact = gather(&MemFiles::new().with("/etc/debian_version", content));
            let o = fact.os.unwrap();
            assert_eq!(o.id, "debian");
            assert_eq!(o.version_id.as_deref(), version_id, "{content}");
            assert_eq!(o.version_codename.as_deref(), codename, "{content}");
            assert_eq!(o.version.as_deref(), Some(content.trim()));
        }
        // A number too large for u32 is not a crash either.
        let o = os(&MemFiles::new().with("/etc/debian_version", "99999999999999999999.1\n"));
        assert_eq!(o.version_id, None);
    }

    #[test]
    fn suse_release() {
        let o = os(&MemFiles::new().with(
            "/etc/SuSE-release",
            "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
        ));
        assert_eq!(o.id, "sles");
        assert_eq!(o.name.as_deref(), Some("SUSE Linux Enterprise Server 11"));
        assert_eq!(o.version_id.as_deref(), Some("11.4"));
        assert_eq!(o.version.as_deref(), Some("11"));
        let o = os(&MemFiles::new().with(
            "/etc/SuSE-release",
            "openSUSE 13.1 (x86_64)\nVERSION = 13.1\nCODENAME = Bottle\n",
        ));
        assert_eq!(
            (o.id.as_str(), o.version_id.as_deref()),
            ("opensuse", Some("13.1"))
        );
        assert_eq!(o.version_codename.as_deref(), Some("Bottle"));
        let o = os(&MemFiles::new().with(
            "/etc/SuSE-release",
            "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 0\n",
        ));
        assert_eq!(o.version_id.as_deref(), Some("12"));
    }

    #[test]
    fn alpine_release() {
        let o = os(&MemFiles::new().with("/etc/alpine-release", "3.19.1\n"));
        assert_eq!(
            (o.id.as_str(), o.version_id.as_deref()),
            ("alpine", Some("3.19.1"))
        );
        assert_eq!(o.source, OsSource::AlpineRelease);
    }

    #[test]
    fn nothing_found_is_loud() {
        let fact = gather(&MemFiles::new().with("/etc/hostname", "x"));
        assert!(fact.os.is_none());
        assert_eq!(fact.warnings.len(), 1);
        // Empty fallback files are skipped with a warning each.
        let fact = gather(
            &MemFiles::new()
                .with("/etc/redhat-release", "")
                .with("/etc/debian_version", "\n"),
        );
        assert!(fact.os.is_none());
        assert_eq!(fact.warnings.len(), 3);
    }

    #[test]
    fn binary_garbage_does_not_panic() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        for path in OS_RELEASE_PATHS
            .iter()
            .copied()
            .chain(FALLBACKS.iter().map(|f| f.0))
        {
            let _ = gather(&MemFiles::new().with(path, &junk));
        }
    }

    #[test]
    fn lsb_ids_are_lower_case() {
        let o = os(&MemFiles::new().with("/etc/lsb-release", "DISTRIB_ID=LinuxMint\n"));
        assert_eq!(
            (o.id.as_str(), o.name.as_deref()),
            ("linuxmint", Some("LinuxMint"))
        );
        assert_eq!(o.id_like, vec!["debian"]);
    }
}
