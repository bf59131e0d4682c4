//! Package databases against the real tools.
//!
//! - RPM SQLite: packages built by `rpmbuild`, installed with `rpm -i --justdb` into a fresh
//!   `rpmdb.sqlite`; our list must equal `rpm -qa` (name, EPOCHNUM:VERSION-RELEASE, arch,
//!   install time, build time, vendor). A write-ahead log made by the `sqlite3` shell must be
//!   applied as `rpm -qa` applies it.
//! - RPM Berkeley DB: the headers of `rpmdb --exportdb`, loaded by `db5.3_load -t hash` as
//!   rpm lays `Packages` out (key = header number in the file's byte order, value = header),
//!   little- and big-endian and with page checksums; rpm's own `bdb_ro` backend must read
//!   each file back the same before ours is compared.
//! - RPM ndb: Debian's rpm is built without ndb, so the file is made by
//!   `ndb::build` (rpmpkg.c's layout) from the exported headers.
//! - dpkg: a status file written here and this machine's `/var/lib/dpkg/status`, against
//!   `dpkg-query --admindir`.
//! - Version order: `rpm.vercmp` (rpm's Lua) and `dpkg --compare-versions`.
//!
//! Needs (Debian packages): rpm, db5.3-util, sqlite3, dpkg.

use preflight_facts::MemFiles;
use preflight_facts::packages::{self, DbKind, PackagesFact, ndb};
use preflight_fixtures::fixtures_dir;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Bump when a builder below changes its output.
const VERSION: u32 = 1;
/// Filler subpackages (besides the named ones) in the test spec.
const FILLERS: usize = 24;

fn cached(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures_dir().join(format!("packages-{name}-v{VERSION}"));
    if dir.is_dir() {
        return dir;
    }
    fs::create_dir_all(fixtures_dir()).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tmp = fixtures_dir().join(format!(
        ".tmp-packages-{name}-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&tmp).unwrap();
    build(&tmp);
    if fs::rename(&tmp, &dir).is_err() {
        let _ = fs::remove_dir_all(&tmp);
        assert!(dir.is_dir(), "cannot publish {}", dir.display());
    }
    dir
}

fn sh(script: &str, cwd: &Path) -> String {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("sh: {e}"));
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The spec: named packages that cover epochs, tilde versions, a description that needs
/// overflow pages, a header with many files, and fillers.
fn spec() -> String {
    let mut s = String::from(
        "Name: pf\nVersion: 1\nRelease: 5.el9\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
         Vendor: Preflight Test\nAutoReqProv: no\n%description\nt\n%install\n\
         mkdir -p %{buildroot}/opt/files\n\
         for i in $(seq 1 300); do echo $i > %{buildroot}/opt/files/a-rather-long-file-name-$i.conf; done\n",
    );
    for i in 0..FILLERS {
        let _ = writeln!(
            s,
            "mkdir -p %{{buildroot}}/opt/f{i}; for j in $(seq 1 {}); do echo $j > %{{buildroot}}/opt/f{i}/file$j; done",
            i % 7 * 10 + 1
        );
    }
    let long: String = (0..4000).map(|i| format!("word{i} ")).collect();
    let sub = |s: &mut String, name: &str, extra: &str, desc: &str, files: &str| {
        let _ = write!(
            s,
            "%package -n {name}\nSummary: s\nAutoReqProv: no\n{extra}%description -n {name}\n{desc}\n%files -n {name}\n{files}\n"
        );
    };
    sub(&mut s, "pf-alpha", "Version: 1.0\n", "a", "");
    sub(&mut s, "pf-beta", "Epoch: 2\nVersion: 2.3.4\n", "b", "");
    sub(&mut s, "pf-gamma", "Version: 0.9~rc1\n", "g", "");
    sub(&mut s, "pf-caret", "Version: 1.0^git5\n", "c", "");
    sub(&mut s, "pf-bigdesc", "Version: 3\n", &long, "");
    sub(&mut s, "pf-files", "Version: 4\n", "f", "/opt/files");
    for i in 0..FILLERS {
        sub(
            &mut s,
            &format!("pf-filler{i}"),
            &format!("Version: {i}.{}\n", i * 7 % 5),
            "f",
            &format!("/opt/f{i}"),
        );
    }
    s
}

/// `rpms/*.rpm` from the spec, and `db/rpmdb.sqlite` with all of them installed.
fn rpm_fixture() -> PathBuf {
    cached("rpm", |d| {
        fs::write(d.join("pf.spec"), spec()).unwrap();
        sh(
            "rpmbuild -bb --define \"_topdir $PWD/top\" --define '__os_install_post %{nil}' \
             --define '_build_id_links none' --define '_binary_payload w1.gzdio' pf.spec >build.log 2>&1\n\
             mkdir rpms db && mv top/RPMS/noarch/*.rpm rpms/ && rm -rf top\n\
             rpm --initdb --dbpath \"$PWD/db\"\n\
             rpm -i --justdb --nodeps --noscripts --dbpath \"$PWD/db\" rpms/*.rpm 2>/dev/null\n\
             rpmdb --exportdb --dbpath \"$PWD/db\" > export.bin",
            d,
        );
    })
}

const QF: &str =
    "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{INSTALLTIME} %{BUILDTIME} %{VENDOR}\\n";

fn rpm_qa(dbpath: &Path, backend: &str) -> Vec<String> {
    let out = sh(
        &format!(
            "rpm -qa --dbpath \"{}\" --define '_db_backend {backend}' --qf '{QF}'",
            dbpath.display()
        ),
        Path::new("/"),
    );
    out.lines().map(str::to_string).collect()
}

fn ours(f: &PackagesFact) -> Vec<String> {
    let none = || "(none)".to_string();
    f.packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {} {}",
                p.name,
                p.version,
                p.arch.clone().unwrap_or_else(none),
                p.install_time.map_or_else(none, |t| t.to_string()),
                p.build_time.map_or_else(none, |t| t.to_string()),
                p.vendor.clone().unwrap_or_else(none)
            )
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn gather_one(path: &str, bytes: Vec<u8>) -> PackagesFact {
    packages::gather(&MemFiles::new().with(path, bytes))
}

/// The header blobs of `rpmdb --exportdb` (each preceded by the 8-byte header intro).
fn exported_headers(dir: &Path) -> Vec<Vec<u8>> {
    let data = fs::read(dir.join("export.bin")).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        assert_eq!(
            &data[at..at + 4],
            &[0x8e, 0xad, 0xe8, 0x01],
            "intro at {at}"
        );
        let be = |o: usize| u32::from_be_bytes(data[o..o + 4].try_into().unwrap()) as usize;
        let (il, dl) = (be(at + 8), be(at + 12));
        let end = at + 16 + 16 * il + dl;
        out.push(data[at + 8..end].to_vec());
        at = end;
    }
    out
}

#[test]
fn sqlite_db_matches_rpm() {
    let dir = rpm_fixture();
    let expected = rpm_qa(&dir.join("db"), "sqlite");
    assert_eq!(expected.len(), FILLERS + 6);
    let fact = gather_one(
        "/var/lib/rpm/rpmdb.sqlite",
        fs::read(dir.join("db/rpmdb.sqlite")).unwrap(),
    );
    assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    assert_eq!(
        fact.db,
        Some((DbKind::RpmSqlite, "/var/lib/rpm/rpmdb.sqlite".to_string()))
    );
    assert_eq!(ours(&fact), expected, "order and content as rpm -qa");
    let beta = fact.get("pf-beta").unwrap();
    assert_eq!(beta.version, "2:2.3.4-5.el9");
    assert!(
        beta.source
            .as_deref()
            .unwrap()
            .starts_with("pf-1-5.el9.src.rpm")
    );
    assert_eq!(
        fact.newest_install,
        fact.packages.iter().filter_map(|p| p.install_time).max()
    );
    assert_eq!(fact.at_least("pf-gamma", "0.9"), Some(false));
    assert_eq!(fact.at_least("pf-gamma", "0.9~beta"), Some(true));
    assert_eq!(fact.at_least("pf-caret", "1.0"), Some(true));
    assert_eq!(fact.at_least("pf-caret", "1.0.1"), Some(false));
}

#[test]
fn sqlite_wal_is_applied() {
    let dir = rpm_fixture();
    let work = tempdir("wal");
    // One connection deletes a row and copies a row; the files are copied while it is open
    // (before its closing checkpoint), for rpm (a) and for us (b).
    sh(
        &format!(
            "cp {db}/rpmdb.sqlite src.sqlite\nmkdir a b\n\
             sqlite3 src.sqlite 'PRAGMA wal_autocheckpoint=0;' \
             'DELETE FROM Packages WHERE hnum = 3;' \
             'INSERT INTO Packages(blob) SELECT blob FROM Packages WHERE hnum = 1;' \
             '.shell cp src.sqlite a/rpmdb.sqlite; cp src.sqlite-wal a/rpmdb.sqlite-wal; \
             cp src.sqlite b/rpmdb.sqlite; cp src.sqlite-wal b/rpmdb.sqlite-wal' >/dev/null",
            db = dir.join("db").display()
        ),
        &work,
    );
    let wal = fs::read(work.join("b/rpmdb.sqlite-wal")).unwrap();
    assert!(!wal.is_empty(), "the WAL holds the change");
    let files = MemFiles::new()
        .with(
            "/var/lib/rpm/rpmdb.sqlite",
            fs::read(work.join("b/rpmdb.sqlite")).unwrap(),
        )
        .with("/var/lib/rpm/rpmdb.sqlite-wal", &wal);
    let fact = packages::gather(&files);
    assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    let expected = rpm_qa(&work.join("a"), "sqlite");
    assert_eq!(expected.len(), FILLERS + 6);
    assert_eq!(ours(&fact), expected);
    // Without the log the change is not there: the log is what carried it.
    let without = gather_one(
        "/var/lib/rpm/rpmdb.sqlite",
        fs::read(work.join("b/rpmdb.sqlite")).unwrap(),
    );
    assert_ne!(ours(&without), expected);
    // A damaged log is reported, and the database is read as it is.
    let mut bad = wal.clone();
    bad[0] ^= 1;
    let fact = packages::gather(
        &MemFiles::new()
            .with(
                "/var/lib/rpm/rpmdb.sqlite",
                fs::read(work.join("b/rpmdb.sqlite")).unwrap(),
            )
            .with("/var/lib/rpm/rpmdb.sqlite-wal", &bad),
    );
    assert_eq!(fact.warnings.len(), 1, "{:?}", fact.warnings);
    assert_eq!(ours(&fact), ours(&without));
}

fn tempdir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "preflight-packages-{name}-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&d).unwrap();
    d
}

/// A Berkeley DB hash `Packages` made by db5.3_load from the exported headers.
fn bdb_packages(headers: &[Vec<u8>], big_endian: bool, options: &str, dir: &Path) -> PathBuf {
    let mut dump = String::from("VERSION=3\nformat=bytevalue\ntype=hash\n");
    let _ = writeln!(
        dump,
        "db_lorder={}\n{options}HEADER=END",
        if big_endian { 4321 } else { 1234 }
    );
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for (i, h) in headers.iter().enumerate() {
        let n = i as u32 + 1;
        let key = if big_endian {
            n.to_be_bytes()
        } else {
            n.to_le_bytes()
        };
        let _ = writeln!(dump, " {}\n {}", hex(&key), hex(h));
    }
    dump.push_str("DATA=END\n");
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("dump.txt"), dump).unwrap();
    sh("db5.3_load -f dump.txt Packages", dir);
    dir.join("Packages")
}

#[test]
fn berkeley_db_matches_rpm() {
    let dir = rpm_fixture();
    let headers = exported_headers(&dir);
    let expected = sorted(rpm_qa(&dir.join("db"), "sqlite"));
    assert_eq!(headers.len(), expected.len());
    let work = tempdir("bdb");
    for (name, big, options) in [
        ("le-4k", false, "db_pagesize=4096\n"),
        ("be-4k", true, "db_pagesize=4096\n"),
        ("le-512", false, "db_pagesize=512\n"),
        ("le-64k-chksum", false, "db_pagesize=65536\nchksum=1\n"),
    ] {
        let d = work.join(name);
        let file = bdb_packages(&headers, big, options, &d);
        // rpm's own read-only Berkeley DB backend reads the file as we built it. It does not
        // read checksummed pages: there db5.3_dump, Berkeley DB's own reader, must agree.
        if options.contains("chksum") {
            let dump = sh("db5.3_dump -p Packages | grep -c '^ '", &d);
            assert_eq!(dump.trim(), (2 * headers.len()).to_string());
        } else {
            assert_eq!(
                sorted(rpm_qa(&d, "bdb_ro")),
                expected,
                "rpm bdb_ro on {name}"
            );
        }
        let bytes = fs::read(&file).unwrap();
        let fact = gather_one("/var/lib/rpm/Packages", bytes.clone());
        assert!(fact.warnings.is_empty(), "{name}: {:?}", fact.warnings);
        assert_eq!(fact.db.as_ref().unwrap().0, DbKind::RpmBdb);
        assert_eq!(sorted(ours(&fact)), expected, "{name}");
        // Header-number order, as rpm lists a Berkeley DB.
        assert_eq!(
            ours(&fact),
            expected_in_export_order(&dir),
            "{name}: header order"
        );
        hostile(&bytes, "/var/lib/rpm/Packages", 300);
    }
}

fn expected_in_export_order(dir: &Path) -> Vec<String> {
    // exportdb writes in header-number order, which is rpm -qa's order for sqlite too.
    rpm_qa(&dir.join("db"), "sqlite")
}

#[test]
fn ndb_from_exported_headers() {
    let dir = rpm_fixture();
    let headers = exported_headers(&dir);
    let refs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
    let file = ndb::build(&refs);
    let fact = gather_one("/usr/lib/sysimage/rpm/Packages.db", file.clone());
    assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    assert_eq!(fact.db.as_ref().unwrap().0, DbKind::RpmNdb);
    assert_eq!(ours(&fact), rpm_qa(&dir.join("db"), "sqlite"));
    hostile(&file, "/var/lib/rpm/Packages.db", 300);
}

/// Corrupt and truncated copies: never a panic, and each finishes quickly.
fn hostile(bytes: &[u8], path: &str, n: usize) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let started = Instant::now();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut c = bytes.to_vec();
        let at = (x % bytes.len() as u64) as usize;
        if i % 10 == 0 {
            c.truncate(at);
        } else {
            c[at] ^= (x >> 32) as u8 | 1;
        }
        let _ = gather_one(path, c);
    }
    assert!(
        started.elapsed().as_secs() < 60,
        "{path}: corrupt copies too slow"
    );
}

#[test]
fn sqlite_hostile_copies() {
    let dir = rpm_fixture();
    let bytes = fs::read(dir.join("db/rpmdb.sqlite")).unwrap();
    hostile(&bytes, "/var/lib/rpm/rpmdb.sqlite", 400);
}

fn dpkg_query(admindir: &Path) -> Vec<String> {
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}", admindir.display()))
        .args([
            "-W",
            "-f",
            "${db:Status-Status} ${Package} ${Version} ${Architecture}\\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (status, rest) = l.split_once(' ')?;
            matches!(
                status,
                "installed" | "triggers-awaiting" | "triggers-pending"
            )
            .then(|| rest.to_string())
        })
        .collect()
}

fn ours_dpkg(f: &PackagesFact) -> Vec<String> {
    f.packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p.name,
                p.version,
                p.arch.as_deref().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn dpkg_status_matches_dpkg_query() {
    let work = tempdir("dpkg");
    let status = "Package: zlib1g\nStatus: install ok installed\nPriority: required\n\
                  Maintainer: m\nArchitecture: amd64\nMulti-Arch: same\nSource: zlib\n\
                  Version: 1:1.2.13.dfsg-1\nDescription: z\n long text\n .\n more\n\n\
                  Package: zlib1g\nStatus: install ok installed\nMaintainer: m\n\
                  Architecture: i386\nMulti-Arch: same\nVersion: 1:1.2.13.dfsg-1\nDescription: z\n\n\
                  Package: oldconf\nStatus: deinstall ok config-files\nMaintainer: m\n\
                  Architecture: all\nVersion: 0.1\nConffiles:\n /etc/x 0123\nDescription: o\n\n\
                  Package: held\nStatus: hold ok installed\nMaintainer: m\nArchitecture: all\n\
                  Version: 2.0~rc1+dfsg-3\nDescription: h\n\n\
                  Package: trig\nStatus: install ok triggers-pending\nMaintainer: m\n\
                  Architecture: all\nVersion: 5\nTriggers-Pending: x\nDescription: t\n\n\
                  Package: half\nStatus: install reinstreq half-installed\nMaintainer: m\n\
                  Architecture: all\nVersion: 6\nDescription: h\n";
    fs::write(work.join("status"), status).unwrap();
    let fact = gather_one(packages::DPKG_STATUS, status.into());
    assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    assert_eq!(sorted(ours_dpkg(&fact)), sorted(dpkg_query(&work)));
    assert_eq!(fact.get("zlib1g").unwrap().source.as_deref(), Some("zlib"));
    assert_eq!(fact.get("held").unwrap().provenance.line, Some(31));

    // This machine's own database: hundreds of real stanzas.
    let real = fs::read("/var/lib/dpkg/status").unwrap();
    let started = Instant::now();
    let fact = gather_one(packages::DPKG_STATUS, real);
    let took = started.elapsed();
    assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    assert_eq!(
        sorted(ours_dpkg(&fact)),
        sorted(dpkg_query(Path::new("/var/lib/dpkg")))
    );
    assert!(fact.packages.len() > 100);
    eprintln!(
        "/var/lib/dpkg/status: {} packages in {took:?}",
        fact.packages.len()
    );
}

/// Version pairs: hand-picked edge cases, then generated ones.
fn version_pairs(alphabet: &[&str], valid_deb: bool) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("1.0", "1.0"),
        ("1.0", "1.0.0"),
        ("1.0a", "1.0"),
        ("1.0~rc1", "1.0"),
        ("1.0~rc1", "1.0~rc2"),
        ("1.0^", "1.0"),
        ("1.0^git1", "1.0.1"),
        ("2.0.1", "2.0.01"),
        ("10", "9"),
        ("1:1.0-1", "2.0-1"),
        ("0:1.0-1", "1.0"),
        ("1.0-1", "1.0-2"),
        ("20.3", "20.3-1.el9"),
        ("23.4-7.el9_4.1", "23.4-7.el9"),
        ("5.1-2+deb12u1", "5.1-2"),
        ("1.2.13.dfsg-1", "1.2.13-1"),
        ("1.0+b1", "1.0"),
        ("2:8.2.2434-3+deb11u1", "2:9.0.1378-2"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let mut x: u32 = 12345;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize % n
    };
    let gen_one = |next: &mut dyn FnMut(usize) -> usize| {
        let mut s = if valid_deb {
            String::from(["1", "2", "0", "10"][next(4)])
        } else {
            String::new()
        };
        for _ in 0..1 + next(6) {
            s.push_str(alphabet[next(alphabet.len())]);
        }
        s
    };
    for _ in 0..300 {
        let a = gen_one(&mut next);
        let b = if next(3) == 0 {
            a.clone() + alphabet[next(alphabet.len())]
        } else {
            gen_one(&mut next)
        };
        pairs.push((a, b));
    }
    pairs
}

#[test]
fn rpm_version_order_matches_rpm() {
    let pairs = version_pairs(
        &[
            "1", "0", "10", "01", "a", "b", "rc", ".", "_", "~", "^", "+", "-",
        ],
        false,
    );
    let mut lua = String::from("%{lua: ");
    for (a, b) in &pairs {
        let _ = write!(lua, "print(rpm.vercmp(\"{a}\", \"{b}\")) print(\"\\n\") ");
    }
    lua.push('}');
    let out = Command::new("rpm").args(["--eval", &lua]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<i32> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(results.len(), pairs.len());
    for ((a, b), want) in pairs.iter().zip(results) {
        let want = want.cmp(&0);
        assert_eq!(
            packages::rpm_evr_cmp(a, b),
            want,
            "rpm.vercmp({a:?}, {b:?})"
        );
        assert_eq!(
            packages::version_cmp(DbKind::RpmSqlite, a, b),
            want,
            "{a} {b}"
        );
    }
}

#[test]
fn dpkg_version_order_matches_dpkg() {
    let pairs = version_pairs(
        &[
            "1", "0", "10", "01", "a", "b", "rc", ".", "~", "+", "-", "-1", "1:",
        ],
        true,
    );
    let mut checked = 0;
    for (a, b) in &pairs {
        let ask = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .output()
                .unwrap()
        };
        let lt = ask("lt");
        if !lt.stderr.is_empty() {
            continue; // dpkg rejects it as a version ("1:" in the middle, …)
        }
        let want = if lt.status.success() {
            Ordering::Less
        } else if ask("eq").status.success() {
            Ordering::Equal
        } else {
            Ordering::Greater
        };
        assert_eq!(
            packages::dpkg_version_cmp(a, b),
            want,
            "dpkg --compare-versions {a:?} {b:?}"
        );
        assert_eq!(packages::version_cmp(DbKind::Dpkg, a, b), want);
        checked += 1;
    }
    assert!(checked > 150, "only {checked} pairs were valid versions");
}

/// Speed on a large database: `PREFLIGHT_RPMDB=/path/to/rpmdb.sqlite cargo test --release
/// -p preflight-facts --test packages -- --ignored --nocapture`.
#[test]
#[ignore]
fn large_rpmdb_speed() {
    let path = std::env::var("PREFLIGHT_RPMDB").expect("PREFLIGHT_RPMDB");
    let bytes = fs::read(&path).unwrap();
    let kind = packages::rpm_kind(&bytes).expect("an RPM database");
    let guest = match kind {
        DbKind::RpmSqlite => "/var/lib/rpm/rpmdb.sqlite",
        DbKind::RpmNdb => "/var/lib/rpm/Packages.db",
        _ => "/var/lib/rpm/Packages",
    };
    let size = bytes.len();
    let started = Instant::now();
    let fact = gather_one(guest, bytes);
    let took = started.elapsed();
    eprintln!(
        "{path}: {size} bytes, {} packages, {took:?} ({:.0} MB/s), warnings {:?}",
        fact.packages.len(),
        size as f64 / took.as_secs_f64() / 1e6,
        fact.warnings
    );
}
