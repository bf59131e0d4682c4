//! Installed packages, from whichever package database the guest has:
//!
//! | database | where | reader |
//! | --- | --- | --- |
//! | dpkg | `/var/lib/dpkg/status` | [`dpkg`] |
//! | RPM SQLite (RHEL/OL 9, Fedora ≥ 33, SUSE ≥ 15.4) | `/var/lib/rpm/rpmdb.sqlite`, `/usr/lib/sysimage/rpm/rpmdb.sqlite` | [`sqlite`] + WAL |
//! | RPM ndb (SUSE 15 up to 15.3) | `…/Packages.db` | [`ndb`] |
//! | RPM Berkeley DB hash (RHEL/OL/CentOS 7–8) | `…/Packages` | [`bdb`] |
//!
//! Each RPM database stores one header blob per package ([`rpm_header`]). A file's kind is
//! decided by its magic, not its name. When several databases exist (a Debian guest with the
//! `rpm` tool, a converted RPM database left behind), the one with the most installed
//! packages is reported and the others are named in a warning.
//!
//! The RPM databases need random access (b-tree, hash and slot pages point anywhere), and
//! [`Files`] offers whole reads and streams only, so each database is read whole, capped at
//! [`MAX_DB_FILE`]; a real `rpmdb.sqlite` is 5–30 MB.

pub mod bdb;
pub mod dpkg;
pub mod ndb;
pub mod rpm_header;
pub mod sqlite;
pub mod version;

use crate::{Files, Provenance};
use serde::Serialize;
use std::cmp::Ordering;

pub use version::{dpkg_version_cmp, rpm_evr_cmp, rpmvercmp};

pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Where RPM databases live, newest format first (the first found of a kind is read).
pub const RPM_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages.db",
    "/var/lib/rpm/Packages",
    "/usr/lib/sysimage/rpm/Packages",
];
/// Largest package database read (whole, see the module doc).
pub const MAX_DB_FILE: u64 = 256 * 1024 * 1024;
/// Largest SQLite write-ahead log applied.
pub const MAX_WAL_FILE: u64 = 64 * 1024 * 1024;
/// Largest dpkg status file (a desktop's is about 3 MB).
pub const MAX_STATUS_FILE: u64 = 64 * 1024 * 1024;
/// Most packages kept from one database.
pub const MAX_PACKAGES: usize = 200_000;
const MAX_WARNINGS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    Dpkg,
    RpmSqlite,
    RpmBdb,
    RpmNdb,
}

impl DbKind {
    pub fn is_rpm(self) -> bool {
        self != DbKind::Dpkg
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    /// RPM: `EPOCHNUM:VERSION-RELEASE`, as `rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}'`
    /// prints it (epoch 0 when absent). dpkg: the `Version` field as written.
    pub version: String,
    /// RPM `ARCH` (absent for `gpg-pubkey` entries); dpkg `Architecture`.
    pub arch: Option<String>,
    /// RPM `INSTALLTIME` (Unix seconds). dpkg keeps none.
    pub install_time: Option<u64>,
    /// RPM `BUILDTIME`. dpkg keeps none.
    pub build_time: Option<u64>,
    /// RPM `VENDOR`. dpkg keeps none (`Maintainer` is a person, not a vendor).
    pub vendor: Option<String>,
    /// RPM `SOURCERPM`; dpkg `Source` without its version (absent when equal to the name).
    pub source: Option<String>,
    /// The database file; for dpkg, the line of the stanza's `Package` field.
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PackagesFact {
    /// The database read and its guest path; `None` if the guest has none we know.
    pub db: Option<(DbKind, String)>,
    /// In database order (dpkg: file order; RPM: header number order).
    pub packages: Vec<Package>,
    /// The newest `install_time` (RPM only).
    pub newest_install: Option<u64>,
    pub warnings: Vec<String>,
}

impl PackagesFact {
    /// The first package of that name (dpkg multi-arch and RPM multilib may list several).
    pub fn get(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Compare two versions the way this guest's package manager does.
    pub fn version_cmp(&self, a: &str, b: &str) -> Ordering {
        version_cmp(self.db.as_ref().map_or(DbKind::RpmSqlite, |d| d.0), a, b)
    }

    /// `Some(true)` if package `name` is installed at `min` or newer (`min` may omit the
    /// epoch and release); `None` if it is not installed.
    pub fn at_least(&self, name: &str, min: &str) -> Option<bool> {
        self.get(name)
            .map(|p| self.version_cmp(&p.version, min) != Ordering::Less)
    }
}

/// Version ordering of the given package manager: [`rpm_evr_cmp`] for RPM databases,
/// [`dpkg_version_cmp`] for dpkg.
pub fn version_cmp(kind: DbKind, a: &str, b: &str) -> Ordering {
    match kind {
        DbKind::Dpkg => dpkg_version_cmp(a, b),
        _ => rpm_evr_cmp(a, b),
    }
}

struct Found {
    kind: DbKind,
    path: String,
    packages: Vec<Package>,
    warnings: Vec<String>,
}

/// Read the guest's package databases.
pub fn gather(files: &dyn Files) -> PackagesFact {
    let mut found: Vec<Found> = Vec::new();
    let mut warnings = Vec::new();
    match files.read(DPKG_STATUS, MAX_STATUS_FILE) {
        Ok(Some(bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            let (packages, w) = dpkg::parse(&text, DPKG_STATUS);
            found.push(Found {
                kind: DbKind::Dpkg,
                path: DPKG_STATUS.to_string(),
                packages,
                warnings: w,
            });
        }
        Ok(None) => {}
        Err(e) => warnings.push(format!("{DPKG_STATUS}: not read: {e}")),
    }
    let mut kinds_seen = Vec::new();
    for &path in RPM_PATHS {
        let head = match files.head(path, 512) {
            Ok(Some(h)) => h,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("{path}: not read: {e}"));
                continue;
            }
        };
        let Some(kind) = rpm_kind(&head) else {
            if !head.is_empty() {
                warnings.push(format!("{path}: not a known RPM database format (magic)"));
            }
            continue;
        };
        if kinds_seen.contains(&kind) {
            continue; // the same database through /var/lib/rpm → /usr/lib/sysimage/rpm
        }
        kinds_seen.push(kind);
        found.push(read_rpm(files, kind, path));
    }
    let Some(best) = (0..found.len()).max_by_key(|&i| (found[i].packages.len(), usize::MAX - i))
    else {
        return PackagesFact {
            warnings,
            ..PackagesFact::default()
        };
    };
    let chosen = found.swap_remove(best);
    for other in &found {
        warnings.push(format!(
            "{} ({} installed packages) also exists; {} was used",
            other.path,
            other.packages.len(),
            chosen.path
        ));
    }
    warnings.extend(chosen.warnings);
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - MAX_WARNINGS;
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("{more} more warnings not shown"));
    }
    let newest_install = chosen.packages.iter().filter_map(|p| p.install_time).max();
    PackagesFact {
        db: Some((chosen.kind, chosen.path)),
        packages: chosen.packages,
        newest_install,
        warnings,
    }
}

/// The RPM database format of a file, by its first bytes.
pub fn rpm_kind(head: &[u8]) -> Option<DbKind> {
    if head.starts_with(b"SQLite format 3\0") {
        return Some(DbKind::RpmSqlite);
    }
    if ndb::is_ndb(head) {
        return Some(DbKind::RpmNdb);
    }
    let m = head.get(12..16)?;
    let magic = [0x00, 0x06, 0x15, 0x61];
    let rev = [0x61, 0x15, 0x06, 0x00];
    (m == magic || m == rev).then_some(DbKind::RpmBdb)
}

fn read_rpm(files: &dyn Files, kind: DbKind, path: &str) -> Found {
    let mut found = Found {
        kind,
        path: path.to_string(),
        packages: Vec::new(),
        warnings: Vec::new(),
    };
    let data = match files.read(path, MAX_DB_FILE) {
        Ok(Some(d)) => d,
        Ok(None) => return found,
        Err(e) => {
            found.warnings.push(format!("{path}: not read: {e}"));
            return found;
        }
    };
    let wal = if kind == DbKind::RpmSqlite {
        let wal_path = format!("{path}-wal");
        match files.read(&wal_path, MAX_WAL_FILE) {
            Ok(w) => w.filter(|w| !w.is_empty()).map(|w| (wal_path, w)),
            Err(e) => {
                found.warnings.push(format!(
                    "{wal_path}: not read ({e}); changes not yet checkpointed may be missing"
                ));
                None
            }
        }
    } else {
        None
    };
    let blobs = match kind {
        DbKind::RpmSqlite => sqlite_blobs(&data, wal.as_ref(), path, &mut found.warnings),
        DbKind::RpmBdb => bdb_blobs(&data, path, &mut found.warnings),
        DbKind::RpmNdb => ndb_blobs(&data, path, &mut found.warnings),
        DbKind::Dpkg => Vec::new(),
    };
    for (label, blob) in blobs {
        if found.packages.len() >= MAX_PACKAGES {
            found.warnings.push(format!(
                "{path}: more than {MAX_PACKAGES} packages, rest not read"
            ));
            break;
        }
        match rpm_header::fields(&blob) {
            Ok(h) => found.packages.push(Package {
                version: h.evr(),
                name: h.name,
                arch: h.arch,
                install_time: h.install_time.map(u64::from),
                build_time: h.build_time.map(u64::from),
                vendor: h.vendor,
                source: h.source_rpm,
                provenance: Provenance::file(path),
            }),
            Err(e) => found.warnings.push(format!("{path}: {label}: {e}")),
        }
    }
    found
}

/// `Packages` rows of an rpmdb.sqlite: (label for messages, header blob).
fn sqlite_blobs(
    data: &[u8],
    wal: Option<&(String, Vec<u8>)>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Vec<(String, Vec<u8>)> {
    let mut db = match sqlite::Db::open(data) {
        Ok(db) => db,
        Err(e) => {
            warnings.push(format!("{path}: not read: {e}"));
            return Vec::new();
        }
    };
    if let Some((wal_path, w)) = wal
        && let Err(e) = db.apply_wal(w)
    {
        warnings.push(format!(
            "{wal_path}: not applied ({e}); changes not yet checkpointed may be missing"
        ));
    }
    let root = match db.table_root("Packages") {
        Ok(Some(r)) => r,
        Ok(None) => {
            warnings.push(format!("{path}: no Packages table"));
            return Vec::new();
        }
        Err(e) => {
            warnings.push(format!("{path}: schema not read: {e}"));
            return Vec::new();
        }
    };
    let rows = match db.table(root) {
        Ok(r) => r,
        Err(e) => {
            warnings.push(format!("{path}: Packages table not read: {e}"));
            return Vec::new();
        }
    };
    warnings.extend(rows.warnings.into_iter().map(|w| format!("{path}: {w}")));
    rows.rows
        .into_iter()
        .filter_map(|(hnum, cols)| match cols.into_iter().nth(1) {
            Some(sqlite::Value::Blob(b)) => Some((format!("hnum {hnum}"), b)),
            _ => {
                warnings.push(format!("{path}: hnum {hnum}: no blob column"));
                None
            }
        })
        .collect()
}

fn bdb_blobs(data: &[u8], path: &str, warnings: &mut Vec<String>) -> Vec<(String, Vec<u8>)> {
    let pairs = match bdb::read(data) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("{path}: not read: {e}"));
            return Vec::new();
        }
    };
    warnings.extend(pairs.warnings.into_iter().map(|w| format!("{path}: {w}")));
    let big = pairs.big_endian;
    let mut out: Vec<(u32, String, Vec<u8>)> = pairs
        .pairs
        .into_iter()
        .filter_map(|p| {
            let k: [u8; 4] = p.key.as_slice().try_into().ok()?;
            let num = if big {
                u32::from_be_bytes(k)
            } else {
                u32::from_le_bytes(k)
            };
            // Record 0 holds rpm's next-header-number counter, not a package.
            (num != 0).then(|| {
                (
                    num,
                    format!("header {num} (page at byte {})", p.offset),
                    p.value,
                )
            })
        })
        .collect();
    out.sort_by_key(|(n, _, _)| *n);
    out.into_iter().map(|(_, l, b)| (l, b)).collect()
}

fn ndb_blobs(data: &[u8], path: &str, warnings: &mut Vec<String>) -> Vec<(String, Vec<u8>)> {
    match ndb::read(data) {
        Ok(b) => {
            warnings.extend(b.warnings.into_iter().map(|w| format!("{path}: {w}")));
            let mut blobs = b.blobs;
            blobs.sort_by_key(|b| b.pkgidx);
            blobs
                .into_iter()
                .map(|b| {
                    (
                        format!("package {} (byte {})", b.pkgidx, b.offset),
                        b.data.to_vec(),
                    )
                })
                .collect()
        }
        Err(e) => {
            warnings.push(format!("{path}: not read: {e}"));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn nothing_installed() {
        let f = gather(&MemFiles::new());
        assert_eq!(f.db, None);
        assert!(f.packages.is_empty() && f.warnings.is_empty());
    }

    #[test]
    fn ndb_through_gather_and_symlinked_dir() {
        let a = rpm_header::tests::package("bash", None, "5.1", "2");
        let b = rpm_header::tests::package("kernel", Some(1), "6.1", "3.el9");
        let files = MemFiles::new()
            .with("/usr/lib/sysimage/rpm/Packages.db", ndb::build(&[&a, &b]))
            .with_link("/var/lib/rpm", "../../usr/lib/sysimage/rpm");
        let f = gather(&files);
        assert_eq!(
            f.db,
            Some((DbKind::RpmNdb, "/var/lib/rpm/Packages.db".to_string()))
        );
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        assert_eq!(f.get("kernel").unwrap().version, "1:6.1-3.el9");
        assert_eq!(f.newest_install, Some(0x6000_0001));
        assert_eq!(f.at_least("kernel", "6.0"), Some(true));
        assert_eq!(f.at_least("kernel", "2:1"), Some(false));
        assert_eq!(f.at_least("nope", "1"), None);
    }

    #[test]
    fn picks_the_fuller_database() {
        let a = rpm_header::tests::package("bash", None, "5.1", "2");
        let files = MemFiles::new()
            .with("/var/lib/rpm/Packages.db", ndb::build(&[&a]))
            .with(
                DPKG_STATUS,
                "Package: x\nStatus: install ok installed\nVersion: 1\n\nPackage: y\nStatus: install ok installed\nVersion: 1\n",
            );
        let f = gather(&files);
        assert_eq!(f.db.as_ref().unwrap().0, DbKind::Dpkg);
        assert_eq!(f.packages.len(), 2);
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
        assert_eq!(f.at_least("x", "1~"), Some(true));
    }
}
