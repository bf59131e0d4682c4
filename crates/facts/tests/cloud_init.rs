//! cloud-init facts on realistic guest trees, and the configuration merge cross-checked with
//! cloud-init's own code.
//!
//! The real-tool test (`merge_matches_real_cloud_init`) writes each fixture's /etc/cloud to a
//! temporary directory and calls `cloudinit.util.read_conf_with_confd` on it. It needs
//! cloud-init's python package: either installed, or extracted from the Debian package and
//! named by `CLOUD_INIT_PYTHONPATH`:
//! ```text
//! apt-get download cloud-init && dpkg-deb -x cloud-init_*.deb root
//! CLOUD_INIT_PYTHONPATH=$PWD/root/usr/lib/python3/dist-packages cargo test -p preflight-facts --test cloud_init
//! ```
//! (22.4.2, Debian bookworm, needs no other module for this function.)

use preflight_facts::MemFiles;
use preflight_facts::cloud_init::{self, DisabledBy, PwAuth};
use std::process::Command;

type Tree = Vec<(&'static str, String)>;

const DEBIAN_CLOUD_CFG: &str = include_str!("data/yaml/debian12-cloud.cfg.yaml");
const DEBIAN_LOGGING: &str = include_str!("data/yaml/debian12-05_logging.cfg.yaml");
const UBUNTU_CLOUD_CFG: &str = include_str!("data/yaml/ubuntu2204-cloud.cfg.yaml");
const UBUNTU_DPKG: &str = include_str!("data/yaml/ubuntu-90_dpkg.cfg.yaml");
const UBUNTU_CURTIN: &str = include_str!("data/yaml/ubuntu-50-curtin-networking.cfg.yaml");
const OL8_CLOUD_CFG: &str = include_str!("data/yaml/ol8-cloud.cfg.yaml");

const SSHD_WITH_INCLUDE: &str =
    "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n";

fn mem(tree: &Tree) -> MemFiles {
    tree.iter()
        .fold(MemFiles::new(), |m, (p, c)| m.with(p, c.as_bytes()))
}

fn debian12() -> Tree {
    vec![
        ("/usr/bin/cloud-init", "#!/usr/bin/python3\n".into()),
        (
            "/usr/lib/python3/dist-packages/cloudinit/version.py",
            "# This file is part of cloud-init.\n\n__VERSION__ = \"22.4.2\"\n_PACKAGED_VERSION = \"@@PACKAGED_VERSION@@\"\n".into(),
        ),
        ("/usr/lib/python3/dist-packages/cloudinit/__init__.py", String::new()),
        ("/lib/systemd/system/cloud-init-local.service", "[Unit]\n".into()),
        ("/lib/systemd/system/cloud-init.service", "[Unit]\n".into()),
        ("/lib/systemd/system/cloud-config.service", "[Unit]\n".into()),
        ("/lib/systemd/system/cloud-final.service", "[Unit]\n".into()),
        ("/lib/systemd/system/cloud-init.target", "[Unit]\n".into()),
        ("/etc/ssh/sshd_config", SSHD_WITH_INCLUDE.into()),
        ("/etc/cloud/cloud.cfg", DEBIAN_CLOUD_CFG.into()),
        ("/etc/cloud/cloud.cfg.d/05_logging.cfg", DEBIAN_LOGGING.into()),
        ("/etc/cloud/cloud.cfg.d/README", "# All files in this directory will be read by cloud-init\n".into()),
        (
            "/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg",
            "apt:\n  generate_mirrorlists: true\n\nsystem_info:\n  default_user:\n    name: debian\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n    lock_passwd: True\n    gecos: Debian\n    groups: [adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video]\n    sudo_group: sudo\n".into(),
        ),
    ]
}

fn ubuntu2204() -> Tree {
    vec![
        ("/usr/bin/cloud-init", "#!/usr/bin/python3\n".into()),
        ("/usr/lib/python3/dist-packages/cloudinit/__init__.py", String::new()),
        (
            "/usr/lib/python3/dist-packages/cloud_init-23.1.2.egg-info/PKG-INFO",
            "Metadata-Version: 2.1\nName: cloud-init\nVersion: 23.1.2\nSummary: Cloud instance initialisation magic\n".into(),
        ),
        ("/lib/systemd/system/cloud-init.service", "[Unit]\n".into()),
        ("/lib/systemd/system/cloud-init.target", "[Unit]\n".into()),
        ("/etc/ssh/sshd_config", SSHD_WITH_INCLUDE.into()),
        ("/etc/cloud/cloud.cfg", UBUNTU_CLOUD_CFG.into()),
        ("/etc/cloud/cloud.cfg.d/90_dpkg.cfg", UBUNTU_DPKG.into()),
        ("/etc/cloud/cloud.cfg.d/50-curtin-networking.cfg", UBUNTU_CURTIN.into()),
        (
            "/etc/cloud/cloud.cfg.d/curtin-preserve-sources.cfg",
            "apt:\n  preserve_sources_list: true\n".into(),
        ),
        (
            "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
            "network: {config: disabled}\n".into(),
        ),
        (
            "/etc/cloud/cloud.cfg.d/60-pwauth.cfg",
            "# set by the image builder\nssh_pwauth: yes\nchpasswd:\n  expire: false\n  users:\n    - {name: ubuntu, password: s3cret, type: text}\n".into(),
        ),
    ]
}

fn oracle_linux8() -> Tree {
    vec![
        ("/usr/bin/cloud-init", "#!/usr/libexec/platform-python\n".into()),
        (
            "/usr/lib/python3.6/site-packages/cloudinit/version.py",
            "__VERSION__ = \"20.4\"\n".into(),
        ),
        ("/usr/lib/systemd/system/cloud-init-local.service", "[Unit]\n".into()),
        ("/usr/lib/systemd/system/cloud-init.service", "[Unit]\n".into()),
        ("/usr/lib/systemd/system/cloud-config.service", "[Unit]\n".into()),
        ("/usr/lib/systemd/system/cloud-final.service", "[Unit]\n".into()),
        ("/etc/ssh/sshd_config", "PasswordAuthentication yes\n".into()),
        ("/etc/cloud/cloud.cfg", OL8_CLOUD_CFG.into()),
        (
            "/etc/cloud/cloud.cfg.d/99_oracle.cfg",
            "# Oracle Cloud Infrastructure platform images\ndatasource_list: ['Oracle', 'OpenStack']\ndatasource:\n  Oracle:\n    configure_secondary_nics: false\nsystem_info:\n  default_user:\n    name: opc\n    gecos: Oracle Public Cloud User\n    groups: [adm, systemd-journal]\n".into(),
        ),
        (
            "/etc/cloud/cloud.cfg.d/05_logging.cfg",
            DEBIAN_LOGGING.into(),
        ),
    ]
}

/// Merge corner cases: list/str/int winners against a mapping, nested merge, ignored files.
fn merge_corners() -> Tree {
    vec![
        (
            "/etc/cloud/cloud.cfg",
            "a_list: {k: from-cfg}\na_str: {k: from-cfg}\na_int: {k: from-cfg}\nnested:\n  x: 1\n  deep: {p: 1, q: {z: 1}}\nkeep: base\nusers: [default]\nsystem_info:\n  default_user: {name: base, lock_passwd: false}\n".into(),
        ),
        (
            "/etc/cloud/cloud.cfg.d/10_low.cfg",
            "nested:\n  y: 2\n  deep: {q: [1], r: 3}\n".into(),
        ),
        (
            "/etc/cloud/cloud.cfg.d/20_high.cfg",
            "a_list: [1, 2]\na_str: text\na_int: 5\nnested:\n  x: 10\nkeep: [replaced]\nsystem_info:\n  default_user:\n    sudo: false\n".into(),
        ),
        ("/etc/cloud/cloud.cfg.d/30_broken.cfg", "a: [unclosed\n".into()),
        ("/etc/cloud/cloud.cfg.d/40_list.cfg", "- not\n- a mapping\n".into()),
        ("/etc/cloud/cloud.cfg.d/50_multi.cfg", "keep: first\n---\nkeep: second\n".into()),
        ("/etc/cloud/cloud.cfg.d/60_ignored.conf", "keep: not-a-cfg\n".into()),
        ("/etc/cloud/cloud.cfg.d/70_empty.cfg", "# nothing\n".into()),
        (
            "/etc/cloud/cloud.cfg.d/80_anchors.cfg",
            "base: &b {m: 1, n: 2}\nderived:\n  <<: *b\n  n: 3\n".into(),
        ),
    ]
}

#[test]
fn debian12_cloud_image() {
    let f = cloud_init::gather(
        &mem(&debian12()),
        Some("BOOT_IMAGE=/vmlinuz root=UUID=x ro console=ttyS0"),
    );
    assert!(f.installed);
    assert_eq!(f.executables, ["/usr/bin/cloud-init"]);
    assert_eq!(
        f.python_packages,
        ["/usr/lib/python3/dist-packages/cloudinit"]
    );
    let v = f.version.as_ref().unwrap();
    assert_eq!(v.version, "22.4.2");
    assert_eq!(
        v.provenance.to_string(),
        "/usr/lib/python3/dist-packages/cloudinit/version.py:3"
    );
    assert!(f.disabled_by.is_empty());
    assert_eq!(f.units.len(), 5);
    assert!(f.settings.datasource_list.is_none());
    let du = f.settings.default_user.as_ref().unwrap();
    assert_eq!(du.name.as_deref(), Some("debian"));
    assert_eq!(du.lock_passwd, Some(true));
    // 01_debian_cloud.cfg wins: its sudo is a string.
    assert_eq!(du.sudo, ["ALL=(ALL) NOPASSWD:ALL"]);
    assert_eq!(
        du.provenance.path,
        "/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg"
    );
    assert!(f.settings.ssh_pwauth.is_none());
    assert_eq!(
        f.settings
            .disable_root
            .as_ref()
            .unwrap()
            .provenance
            .to_string(),
        "/etc/cloud/cloud.cfg:12"
    );
    assert_eq!(f.settings.modules.runs("set_passwords"), Some(true));
    assert_eq!(f.settings.modules.runs("users-groups"), Some(true));
    let fb = &f.first_boot;
    assert!(fb.runs);
    assert_eq!(fb.sets_password_authentication, None);
    assert!(fb.deletes_host_keys && fb.disables_root_login);
    assert_eq!(fb.default_user.as_deref(), Some("debian"));
    assert_eq!(fb.default_user_password_locked, Some(true));
    assert!(fb.default_user_has_sudo);
    assert!(!fb.sets_passwords);
    let top: Vec<&str> = f.top_level_keys.iter().map(|(k, _)| k.as_str()).collect();
    assert!(top.contains(&"_log") && top.contains(&"users"), "{top:?}");
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    // The order of priority: cloud.cfg.d last name first, cloud.cfg last.
    let order: Vec<&str> = f.config_files.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        order,
        [
            "/etc/cloud/cloud.cfg.d/05_logging.cfg",
            "/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg",
            "/etc/cloud/cloud.cfg"
        ]
    );
}

#[test]
fn ubuntu2204_cloud_image() {
    let f = cloud_init::gather(&mem(&ubuntu2204()), None);
    assert_eq!(f.version.as_ref().unwrap().version, "23.1.2");
    let ds = f.settings.datasource_list.as_ref().unwrap();
    assert!(
        ds.value.contains(&"Oracle".to_string()) && ds.value.contains(&"OpenStack".to_string())
    );
    assert_eq!(
        ds.provenance.to_string(),
        "/etc/cloud/cloud.cfg.d/90_dpkg.cfg:2"
    );
    let net = f.settings.network_config_disabled.as_ref().unwrap();
    assert!(net.value);
    assert_eq!(
        net.provenance.path,
        "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"
    );
    let pw = f.settings.ssh_pwauth.as_ref().unwrap();
    assert_eq!(pw.value, PwAuth::Yes);
    assert_eq!(
        pw.provenance.to_string(),
        "/etc/cloud/cloud.cfg.d/60-pwauth.cfg:2"
    );
    assert_eq!(f.first_boot.sets_password_authentication, Some(true));
    assert_eq!(
        f.first_boot.password_authentication_file.as_deref(),
        Some("/etc/ssh/sshd_config.d/50-cloud-init.conf")
    );
    // The password is located, never copied.
    assert_eq!(f.settings.passwords.len(), 1);
    assert_eq!(f.settings.passwords[0].key, "chpasswd.users");
    assert_eq!(
        f.settings.passwords[0].provenance.to_string(),
        "/etc/cloud/cloud.cfg.d/60-pwauth.cfg:5"
    );
    let json = format!("{:?}", f.settings) + &f.warnings.join("");
    assert!(!json.contains("s3cret"));
    assert!(f.first_boot.sets_passwords);
    assert_eq!(f.first_boot.default_user.as_deref(), Some("ubuntu"));
}

#[test]
fn oracle_linux8_platform_image() {
    let f = cloud_init::gather(&mem(&oracle_linux8()), None);
    assert_eq!(f.version.as_ref().unwrap().version, "20.4");
    assert_eq!(
        f.python_packages,
        ["/usr/lib/python3.6/site-packages/cloudinit"]
    );
    assert_eq!(
        f.settings.datasource_list.as_ref().unwrap().value,
        ["Oracle", "OpenStack"]
    );
    let ds = f.settings.datasource.as_ref().unwrap();
    assert_eq!(
        ds.value.to_json(),
        r#"{"Oracle": {"configure_secondary_nics": false}}"#
    );
    let du = f.settings.default_user.as_ref().unwrap();
    // 99_oracle.cfg renames the user; lock_passwd, sudo and shell come from cloud.cfg.
    assert_eq!(du.name.as_deref(), Some("opc"));
    assert_eq!(du.lock_passwd, Some(true));
    assert_eq!(du.sudo, ["ALL=(ALL) NOPASSWD:ALL"]);
    assert_eq!(du.shell.as_deref(), Some("/bin/bash"));
    // `ssh_pwauth: 0` and `disable_root: 1` are integers: util.is_true reads str(val).
    assert_eq!(f.settings.ssh_pwauth.as_ref().unwrap().value, PwAuth::No);
    assert!(f.settings.disable_root.as_ref().unwrap().value);
    assert!(f.settings.ssh_deletekeys.as_ref().unwrap().value);
    assert_eq!(f.first_boot.sets_password_authentication, Some(false));
    // 20.4 predates the sshd_config.d drop-in.
    assert_eq!(
        f.first_boot.password_authentication_file.as_deref(),
        Some("/etc/ssh/sshd_config")
    );
    assert_eq!(f.first_boot.default_user.as_deref(), Some("opc"));
    assert_eq!(f.first_boot.default_user_password_locked, Some(true));
    assert_eq!(
        f.settings.ssh_genkeytypes.as_ref().unwrap().value,
        ["rsa", "ecdsa", "ed25519"]
    );
}

#[test]
fn disabled_markers_and_masked_units() {
    let mut t = debian12();
    t.push(("/etc/cloud/cloud-init.disabled", String::new()));
    let f = cloud_init::gather(
        &mem(&t).with_link("/etc/systemd/system/cloud-init.service", "/dev/null"),
        Some("ro quiet cloud-init=disabled ci.ds=OpenStack"),
    );
    assert_eq!(f.disabled_by.len(), 2);
    assert!(matches!(f.disabled_by[0], DisabledBy::MarkerFile { .. }));
    assert!(matches!(f.disabled_by[1], DisabledBy::KernelCmdline { .. }));
    assert_eq!(f.cmdline_datasource.as_deref(), Some("OpenStack"));
    let masked = f
        .units
        .iter()
        .find(|u| u.path.starts_with("/etc/"))
        .unwrap();
    assert_eq!(masked.link_target.as_deref(), Some("/dev/null"));
    assert!(!f.first_boot.runs);
    assert!(!f.first_boot.deletes_host_keys);
    assert_eq!(f.first_boot.default_user, None);
}

#[test]
fn missing_cloud_init() {
    let f = cloud_init::gather(
        &MemFiles::new().with("/etc/os-release", "ID=debian\n"),
        None,
    );
    assert!(!f.installed);
    assert!(f.version.is_none() && f.units.is_empty());
    assert_eq!(f.merged_json(), "{}");
    assert!(!f.first_boot.runs);
    assert!(f.config_files.iter().all(|c| !c.used));
}

#[test]
fn merge_corner_cases() {
    let f = cloud_init::gather(&mem(&merge_corners()), None);
    let w = f.warnings.join("\n");
    assert!(w.contains("30_broken.cfg:1: not valid YAML"), "{w}");
    assert!(
        w.contains("40_list.cfg:1: the top level is not a mapping"),
        "{w}"
    );
    assert!(w.contains("50_multi.cfg:2: a second YAML document"), "{w}");
    assert_eq!(
        f.merged_json(),
        r#"{"a_int": 5, "a_list": {"k": "from-cfg"}, "a_str": {"k": "from-cfg"}, "base": {"m": 1, "n": 2}, "derived": {"m": 1, "n": 3}, "keep": ["replaced"], "nested": {"deep": {"p": 1, "q": {"z": 1}, "r": 3}, "x": 10, "y": 2}, "system_info": {"default_user": {"lock_passwd": false, "name": "base", "sudo": false}}, "users": ["default"]}"#
    );
    let keep = f.top_level_keys.iter().find(|(k, _)| k == "keep").unwrap();
    assert_eq!(keep.1.to_string(), "/etc/cloud/cloud.cfg.d/20_high.cfg:6");
    let du = f.settings.default_user.as_ref().unwrap();
    assert!(du.sudo.is_empty());
    assert_eq!(
        f.first_boot.default_user_password_locked, None,
        "not installed: nothing runs"
    );
}

/// Debian's cloud-init package, unpacked once by the fixture crate: its python package
/// directory. The version is whatever the mirror has; the merge rules compared here have not
/// changed across cloud-init releases.
fn debian_cloud_init() -> String {
    preflight_fixtures::debian_package("cloud-init")
        .join("usr/lib/python3/dist-packages")
        .to_string_lossy()
        .into_owned()
}

/// cloud-init's own merge of a fixture's /etc/cloud, as JSON; `None` when cloud-init's python
/// package is not available.
fn real_cloud_init_merge(tree: &Tree, name: &str) -> Option<String> {
    let pythonpath = std::env::var("CLOUD_INIT_PYTHONPATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(debian_cloud_init);
    let dir = std::env::temp_dir().join(format!(
        "preflight-cloud-init-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (p, c) in tree {
        if let Some(rel) = p.strip_prefix("/etc/cloud/") {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, c).unwrap();
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("python3")
        .env("PYTHONPATH", &pythonpath)
        .args([
            "-c",
            "import json,sys,logging\nlogging.disable(logging.CRITICAL)\n\
             try:\n from cloudinit import util\nexcept ImportError:\n sys.exit(4)\n\
             print(json.dumps(util.read_conf_with_confd(sys.argv[1]), sort_keys=True))",
        ])
        .arg(dir.join("cloud.cfg"))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.code() == Some(4) {
        return None;
    }
    assert!(
        out.status.success(),
        "cloud-init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn merge_matches_real_cloud_init() {
    let fixtures: [(&str, Tree); 4] = [
        ("debian12", debian12()),
        ("ubuntu2204", ubuntu2204()),
        ("ol8", oracle_linux8()),
        ("corners", merge_corners()),
    ];
    for (name, tree) in fixtures {
        let real = real_cloud_init_merge(&tree, name)
            .expect("cloud-init's python package does not import (the test unpacks Debian's)");
        let ours = cloud_init::gather(&mem(&tree), None).merged_json();
        assert_eq!(ours, real, "{name}");
    }
}

#[test]
fn the_fixture_guests_cloud_cfg_creates_the_debian_user() {
    let files = MemFiles::new()
        .with("/usr/bin/cloud-init", "#!/usr/bin/python3\n")
        .with(
            "/usr/lib/python3/dist-packages/cloudinit/version.py",
            "__VERSION__ = \"22.4.2\"\n",
        )
        .with("/etc/cloud/cloud.cfg", preflight_fixtures::DEBIAN_CLOUD_CFG);
    let c = cloud_init::gather(&files, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(c.first_boot.runs);
    assert_eq!(
        c.first_boot.default_user.as_deref(),
        Some("debian"),
        "{:#?}",
        c.settings.users
    );
    assert!(c.first_boot.default_user_has_sudo);
}
