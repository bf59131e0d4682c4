//! The operating system against Oracle's tested list (IMP-OS) and against its vendor's end of
//! support (REC-UPDATES uses [`end_of_life`]). Both lists are data with their sources and date:
//! `data/supported_os.json`, `data/os_eol.json`.

use preflight_facts::os::OsInfo;
use preflight_report::{Area, Level};
use serde::Deserialize;
use std::cmp::Ordering;
use std::sync::OnceLock;

use crate::sources::BYOI;
use crate::{Hit, Inputs, Outcome, Rule, need_guest, outcome};

const SUPPORTED_JSON: &str = include_str!("../data/supported_os.json");
const EOL_JSON: &str = include_str!("../data/os_eol.json");

pub const IMP_OS: Rule = Rule {
    id: "IMP-OS",
    area: Area::Image,
    level: Level::Warning,
    title: "The operating system is on Oracle's tested list for imported images",
    source: BYOI,
    check: imp_os,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportedList {
    pub about: String,
    pub as_of: String,
    pub source: Vec<String>,
    pub entries: Vec<Supported>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supported {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max_major: Option<u64>,
    #[serde(default)]
    pub only: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EolList {
    pub about: String,
    pub as_of: String,
    pub source: Vec<String>,
    pub entries: Vec<Eol>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eol {
    pub id: String,
    pub version: String,
    /// YYYY-MM-DD.
    pub eol: String,
}

/// The embedded lists, parsed once; a unit test parses them, so a failure is a build defect.
pub fn supported_list() -> &'static SupportedList {
    static LIST: OnceLock<SupportedList> = OnceLock::new();
    LIST.get_or_init(|| {
        serde_json::from_str(SUPPORTED_JSON)
            .expect("crates/rules/data/supported_os.json is invalid")
    })
}

pub fn eol_list() -> &'static EolList {
    static LIST: OnceLock<EolList> = OnceLock::new();
    LIST.get_or_init(|| {
        serde_json::from_str(EOL_JSON).expect("crates/rules/data/os_eol.json is invalid")
    })
}

/// Dotted numeric versions compared part by part ("5.0.10" < "5.11" < "12.04"); a part that
/// is not a number compares as 0.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split(['.', '-'])
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    for i in 0..a.len().max(b.len()) {
        match a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

fn major(v: &str) -> u64 {
    v.split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Whether the list covers this OS: `Ok(entry)` when it does, `Err(why not)` otherwise.
pub fn check_supported(os: &OsInfo) -> Result<&'static Supported, String> {
    let list = supported_list();
    let Some(entry) = list.entries.iter().find(|e| e.id == os.id) else {
        return Err(format!(
            "{} (ID={}) is not on Oracle's list of tested operating systems",
            os.pretty_name.as_deref().unwrap_or(&os.id),
            os.id
        ));
    };
    let Some(version) = os.version_id.as_deref() else {
        return Ok(entry);
    };
    if !entry.only.is_empty() && !entry.only.iter().any(|v| version_cmp(v, version).is_eq()) {
        return Err(format!(
            "{} {version} is not a listed version (listed: {})",
            entry.name,
            entry.only.join(", ")
        ));
    }
    if let Some(min) = &entry.min
        && version_cmp(version, min).is_lt()
    {
        return Err(format!(
            "{} {version} is older than the oldest listed version, {min}",
            entry.name
        ));
    }
    if let Some(max) = entry.max_major
        && major(version) > max
    {
        return Err(format!(
            "{} {version} is newer than the newest listed major version, {max}: Oracle has not listed it yet",
            entry.name
        ));
    }
    Ok(entry)
}

/// The end-of-support date of this release, when the list has it: (date, past as of the
/// list's date).
pub fn end_of_life(os: &OsInfo) -> Option<(&'static str, bool)> {
    let list = eol_list();
    let version = os.version_id.as_deref()?;
    let e = list.entries.iter().find(|e| {
        e.id == os.id
            && (e.version == version
                || (!e.version.contains('.') && major(version) == major(&e.version)))
    })?;
    Some((e.eol.as_str(), e.eol.as_str() < list.as_of.as_str()))
}

fn imp_os(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let list = supported_list();
    let Some(os) = &g.os else {
        return outcome(vec![
            Hit::new(
                "The distribution could not be identified: nothing tells whether OCI supports it",
                "Ship /etc/os-release (os-release(5)); every current distribution has it, in /usr/lib/os-release with a link from /etc",
            )
            .at("/etc/os-release", None, "missing, and no other release file was recognised"),
        ]);
    };
    let at = os.provenance.to_string();
    match check_supported(os) {
        Ok(entry) => match &entry.note {
            Some(note) => outcome(vec![
                Hit::new(format!("{}: {note}", entry.name), note.clone())
                    .at(at, None, format!("ID={} VERSION_ID={}", os.id, os.version_id.as_deref().unwrap_or("?")))
                    .level(Level::Info),
            ]),
            None => Outcome::Pass,
        },
        Err(why) => outcome(vec![
            Hit::new(
                format!("{why}: an import may work, but Oracle does not test it"),
                format!(
                    "Build the image from a listed distribution and version if you can (the list, dated {}, is in the source); otherwise test the imported image on every shape you mark compatible",
                    list.as_of
                ),
            )
            .at(
                at,
                None,
                format!(
                    "ID={} VERSION_ID={}",
                    os.id,
                    os.version_id.as_deref().unwrap_or("(none)")
                ),
            ),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, version: &str) -> OsInfo {
        OsInfo {
            id: id.into(),
            id_like: Vec::new(),
            name: None,
            pretty_name: None,
            version: None,
            version_id: Some(version.into()),
            version_codename: None,
            variant_id: None,
            source: preflight_facts::os::OsSource::OsRelease,
            provenance: preflight_facts::Provenance::file("/etc/os-release"),
        }
    }

    #[test]
    fn data_parses() {
        assert!(!supported_list().entries.is_empty());
        assert!(!eol_list().entries.is_empty());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_cmp("5.0.10", "5.11").is_lt());
        assert!(version_cmp("12.04", "12.4").is_eq());
        assert!(version_cmp("22.04", "12.04").is_gt());
        assert!(version_cmp("9", "9.0").is_eq());
    }

    #[test]
    fn listed_and_unlisted() {
        assert!(check_supported(&os("ol", "8.9")).is_ok());
        assert!(check_supported(&os("ol", "5.10")).is_err());
        assert!(
            check_supported(&os("ol", "10.0"))
                .unwrap_err()
                .contains("newer")
        );
        assert!(check_supported(&os("debian", "12")).is_ok());
        assert!(check_supported(&os("ubuntu", "10.04")).is_err());
        assert!(check_supported(&os("opensuse-leap", "15.1")).is_ok());
        assert!(check_supported(&os("opensuse-leap", "15.5")).is_err());
        assert!(
            check_supported(&os("rocky", "9.3"))
                .unwrap_err()
                .contains("not on")
        );
    }

    #[test]
    fn end_of_life_by_major_or_exact_version() {
        assert_eq!(end_of_life(&os("debian", "10")), Some(("2024-06-30", true)));
        assert_eq!(
            end_of_life(&os("debian", "12")),
            Some(("2028-06-30", false))
        );
        assert_eq!(end_of_life(&os("ol", "7.9")), Some(("2024-12-31", true)));
        assert_eq!(
            end_of_life(&os("ubuntu", "22.04")),
            Some(("2027-06-01", false))
        );
        assert_eq!(end_of_life(&os("ubuntu", "22.10")), None);
    }
}
