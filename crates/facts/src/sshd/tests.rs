use super::*;
use crate::MemFiles;

const MAIN: &str = "/etc/ssh/sshd_config";
const DROPIN_DIR: &str = "/etc/ssh/sshd_config.d";

fn at(path: &str, line: u32) -> SettingSource {
    SettingSource::File(Provenance::line(path, line))
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

/// (value, Match line number or None for global) of `values_for_user`.
fn outcomes(cfg: &SshdConfig, kw: &str, user: &str, g: &[&str]) -> Vec<(String, Option<u32>)> {
    cfg.values_for_user(kw, user, &groups(g))
        .into_iter()
        .map(|(s, m)| (s.value, m.and_then(|m| m.from.line)))
        .collect()
}

#[test]
fn debian_layout_dropin_overrides_main_file() {
    let f = MemFiles::new()
        .with(
            MAIN,
            "# Debian\nInclude /etc/ssh/sshd_config.d/*.conf\n\nKbdInteractiveAuthentication no\nUsePAM yes\nPasswordAuthentication yes\n",
        )
        .with(&format!("{DROPIN_DIR}/50-cloud-init.conf"), "PasswordAuthentication no\n")
        .with(&format!("{DROPIN_DIR}/60-other.conf"), "PasswordAuthentication yes\n");
    let cfg = gather(&f);
    assert!(cfg.present && cfg.complete);
    assert_eq!(
        cfg.files_read,
        [
            MAIN,
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "/etc/ssh/sshd_config.d/60-other.conf"
        ]
    );
    let pa = cfg.effective("PasswordAuthentication");
    assert_eq!(pa.value, "no");
    assert_eq!(pa.from, at("/etc/ssh/sshd_config.d/50-cloud-init.conf", 1));
    assert_eq!(cfg.effective("UsePAM").value, "yes");
    assert_eq!(
        cfg.effective("KbdInteractiveAuthentication").from,
        at(MAIN, 4)
    );
    assert!(
        cfg.startup_errors.is_empty() && cfg.warnings.is_empty(),
        "{cfg:?}"
    );
}

#[test]
fn main_file_value_wins_over_later_include() {
    let f = MemFiles::new()
        .with(
            MAIN,
            "PasswordAuthentication no\nInclude sshd_config.d/*.conf\n",
        )
        .with(
            &format!("{DROPIN_DIR}/01-a.conf"),
            "PasswordAuthentication yes\nPermitRootLogin yes\n",
        );
    let cfg = gather(&f);
    assert_eq!(cfg.effective("PasswordAuthentication").from, at(MAIN, 1));
    assert_eq!(
        cfg.effective("PermitRootLogin").from,
        at("/etc/ssh/sshd_config.d/01-a.conf", 2)
    );
}

#[test]
fn defaults_when_unset_or_absent() {
    let cfg = gather(&MemFiles::new().with(MAIN, "# nothing\n"));
    assert!(cfg.present);
    let prl = cfg.effective("PermitRootLogin");
    assert_eq!(
        (prl.value.as_str(), prl.is_default()),
        ("prohibit-password", true)
    );
    for (k, v) in [
        ("PasswordAuthentication", "yes"),
        ("KbdInteractiveAuthentication", "yes"),
        ("ChallengeResponseAuthentication", "yes"),
        ("PermitEmptyPasswords", "no"),
        ("PubkeyAuthentication", "yes"),
        ("UsePAM", "no"),
        ("Port", "22"),
    ] {
        assert_eq!(cfg.effective(k).value, v, "{k}");
    }
    assert_eq!(
        cfg.effective("AuthorizedKeysFile").args,
        [".ssh/authorized_keys", ".ssh/authorized_keys2"]
    );
    assert_eq!(cfg.get("Banner"), None);
    assert_eq!(cfg.effective("Banner").value, "");

    let absent = gather(&MemFiles::new());
    assert!(!absent.present);
    assert!(absent.files_read.is_empty());
    assert_eq!(
        absent.effective("permitrootlogin").value,
        "prohibit-password"
    );
    assert_eq!(
        outcomes(&absent, "PermitRootLogin", "root", &[]),
        [("prohibit-password".into(), None)]
    );
}

#[test]
fn vendor_file_used_when_etc_file_absent() {
    let f = MemFiles::new().with("/usr/etc/ssh/sshd_config", "PermitRootLogin no\n");
    let cfg = gather(&f);
    assert!(cfg.present);
    assert_eq!(cfg.path, "/usr/etc/ssh/sshd_config");
    assert_eq!(cfg.effective("PermitRootLogin").value, "no");
}

#[test]
fn without_password_is_prohibit_password() {
    let cfg = gather(&MemFiles::new().with(MAIN, "PermitRootLogin Without-Password\n"));
    let s = cfg.effective("PermitRootLogin");
    assert_eq!(s.value, "prohibit-password");
    assert_eq!(s.raw, "Without-Password");
    assert!(cfg.startup_errors.is_empty());
}

#[test]
fn challenge_response_is_an_alias() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "ChallengeResponseAuthentication no\nKbdInteractiveAuthentication yes\n",
    ));
    let s = cfg.effective("KbdInteractiveAuthentication");
    assert_eq!(s.value, "no");
    assert_eq!(
        s.written_as.as_deref(),
        Some("ChallengeResponseAuthentication")
    );
    assert_eq!(s.from, at(MAIN, 1));

    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "KbdInteractiveAuthentication yes\nChallengeResponseAuthentication no\n",
    ));
    let s = cfg.effective("ChallengeResponseAuthentication");
    assert_eq!((s.value.as_str(), s.written_as), ("yes", None));
}

#[test]
fn keyword_syntax_quotes_equals_and_case() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "pAsSwOrDaUtHeNtIcAtIoN=No\nPermitRootLogin = NO # comment\nAuthorizedKeysFile \".ssh/my keys\" %h/.ssh/other\nBanner '/etc/issue net'\n",
    ));
    assert_eq!(cfg.effective("PasswordAuthentication").value, "no");
    assert_eq!(cfg.effective("PasswordAuthentication").raw, "No");
    assert_eq!(cfg.effective("permitrootlogin").value, "no");
    assert_eq!(
        cfg.effective("AuthorizedKeysFile").args,
        [".ssh/my keys", "%h/.ssh/other"]
    );
    assert_eq!(cfg.effective("Banner").value, "/etc/issue net");
    assert!(cfg.settings.contains_key("PermitRootLogin"));
    assert!(cfg.startup_errors.is_empty(), "{:?}", cfg.startup_errors);
}

#[test]
fn match_user_root_permits_root() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "PermitRootLogin no\nMatch User root\n  PermitRootLogin yes\n  PermitRootLogin no\n",
    ));
    assert_eq!(cfg.effective("PermitRootLogin").value, "no");
    assert_eq!(cfg.settings["PermitRootLogin"].from, at(MAIN, 1));
    let b = &cfg.match_blocks[0];
    assert_eq!(b.from, Provenance::line(MAIN, 2));
    assert_eq!(
        b.criteria,
        [MatchCriterion {
            criterion: "User".into(),
            pattern: Some("root".into())
        }]
    );
    assert_eq!(b.settings["PermitRootLogin"].from, at(MAIN, 3));
    // The block surely applies to root, so the global value is out of reach for root.
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "root", &[]),
        [("yes".into(), Some(2))]
    );
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "opc", &[]),
        [("no".into(), None)]
    );
    let (_, m) = &cfg.values_for_user("PermitRootLogin", "root", &[])[0];
    assert_eq!(
        m.as_ref().map(|m| m.to_string()).as_deref(),
        Some("Match User root at /etc/ssh/sshd_config:2")
    );
}

#[test]
fn match_negation_and_lists() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "PasswordAuthentication no\nMatch User !root,*\n PasswordAuthentication yes\nMatch Group wheel,!nopw User root\n PermitRootLogin yes\n",
    ));
    assert_eq!(
        outcomes(&cfg, "PasswordAuthentication", "root", &[]),
        [("no".into(), None)]
    );
    assert_eq!(
        outcomes(&cfg, "PasswordAuthentication", "opc", &[]),
        [("yes".into(), Some(2))]
    );
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "root", &["root", "wheel"]),
        [("yes".into(), Some(4))]
    );
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "root", &["wheel", "nopw"]),
        [("prohibit-password".into(), None)]
    );
}

#[test]
fn connection_criteria_may_match() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "Match Address 10.0.0.0/8 User root\n PermitRootLogin yes\nMatch Host *.example.com\n PermitRootLogin no\n",
    ));
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "root", &[]),
        [
            ("yes".into(), Some(1)),
            ("no".into(), Some(3)),
            ("prohibit-password".into(), None)
        ]
    );
    assert_eq!(
        outcomes(&cfg, "PermitRootLogin", "opc", &[]),
        [("no".into(), Some(3)), ("prohibit-password".into(), None)]
    );
    assert_eq!(
        cfg.match_ref(0).map(|r| r.criteria).as_deref(),
        Some("Address 10.0.0.0/8 User root")
    );
}

#[test]
fn match_all_applies_everywhere() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "PasswordAuthentication yes\nMatch User bob\n X11Forwarding yes\nMatch all\nPasswordAuthentication no\nPort 2222\nPermitRootLogin no\n",
    ));
    // sshd reads `Match all` lines at startup too; first value wins there...
    assert_eq!(cfg.settings["PasswordAuthentication"].from, at(MAIN, 1));
    assert_eq!(cfg.settings["PermitRootLogin"].from, at(MAIN, 7));
    assert_eq!(cfg.settings["Port"].value, "2222");
    // ...and per connection the block overrides the global value.
    assert_eq!(cfg.effective("PasswordAuthentication").from, at(MAIN, 5));
    assert_eq!(
        outcomes(&cfg, "PasswordAuthentication", "bob", &[]),
        [("no".into(), Some(4))]
    );
    assert_eq!(cfg.effective("Port").value, "2222");
    assert!(!cfg.settings.contains_key("X11Forwarding"));
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn match_in_included_file_ends_with_that_file() {
    let f = MemFiles::new()
        .with(
            MAIN,
            "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
        )
        .with(
            &format!("{DROPIN_DIR}/10-bob.conf"),
            "Match User bob\n PasswordAuthentication yes\n",
        )
        .with(&format!("{DROPIN_DIR}/20-x.conf"), "X11Forwarding yes\n");
    let cfg = gather(&f);
    assert_eq!(cfg.effective("PasswordAuthentication").from, at(MAIN, 2));
    assert_eq!(
        cfg.effective("X11Forwarding").from,
        at("/etc/ssh/sshd_config.d/20-x.conf", 1)
    );
    assert_eq!(cfg.match_blocks.len(), 1);
    assert_eq!(cfg.match_blocks[0].settings.len(), 1);
    assert_eq!(
        outcomes(&cfg, "PasswordAuthentication", "bob", &[]),
        [("yes".into(), Some(1))]
    );
}

#[test]
fn include_inside_match_stays_in_the_block() {
    let f = MemFiles::new()
        .with(
            MAIN,
            "Match User bob\nInclude extra.conf\nX11Forwarding yes\n",
        )
        .with(
            "/etc/ssh/extra.conf",
            "PasswordAuthentication yes\nMatch Group admins\nMaxAuthTries 3\n",
        );
    let cfg = gather(&f);
    assert!(cfg.settings.is_empty(), "{:?}", cfg.settings);
    let bob = &cfg.match_blocks[0];
    assert!(
        bob.settings.contains_key("PasswordAuthentication")
            && bob.settings.contains_key("X11Forwarding")
    );
    assert_eq!(cfg.match_blocks[1].within, Some(0));
    assert_eq!(
        outcomes(&cfg, "MaxAuthTries", "bob", &["admins"]),
        [("3".into(), Some(2))]
    );
    assert_eq!(
        outcomes(&cfg, "MaxAuthTries", "alice", &["admins"]),
        [("6".into(), None)]
    );
}

#[test]
fn include_cycle_is_reported_not_followed() {
    let f = MemFiles::new()
        .with(MAIN, "Include a.conf\nPermitRootLogin no\n")
        .with(
            "/etc/ssh/a.conf",
            "Include /etc/ssh/sshd_config\nPasswordAuthentication no\n",
        );
    let cfg = gather(&f);
    assert_eq!(cfg.files_read, [MAIN, "/etc/ssh/a.conf"]);
    assert_eq!(cfg.startup_errors.len(), 1, "{:?}", cfg.startup_errors);
    assert!(cfg.startup_errors[0].contains("includes itself"));
    assert_eq!(cfg.effective("PasswordAuthentication").value, "no");
    assert_eq!(cfg.effective("PermitRootLogin").value, "no");
}

#[test]
fn include_depth_limit() {
    // sshd_config (depth 0) includes f1 ... f1 includes f2 ...: f16 is allowed, f17 is not.
    let mut f = MemFiles::new().with(MAIN, "Include f1\n");
    for i in 1..=20 {
        f = f.with(
            &format!("/etc/ssh/f{i}"),
            format!("Include f{}\nMaxSessions {i}\n", i + 1),
        );
    }
    let cfg = gather(&f);
    assert_eq!(cfg.files_read.len(), 17);
    assert_eq!(
        cfg.files_read.last().map(String::as_str),
        Some("/etc/ssh/f16")
    );
    assert_eq!(cfg.startup_errors.len(), 1);
    assert!(cfg.startup_errors[0].starts_with("/etc/ssh/f16:1: Include f17 nests deeper"));
    assert_eq!(cfg.effective("MaxSessions").from, at("/etc/ssh/f16", 2));
}

#[test]
fn missing_include_and_empty_glob_are_fine() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "Include /etc/ssh/none.d/*.conf /etc/ssh/absent.conf\nPort 22\n",
    ));
    assert!(cfg.complete && cfg.startup_errors.is_empty() && cfg.warnings.is_empty());
}

#[test]
fn invalid_values_are_startup_errors() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "PermitRootLogin maybe\nPasswordAuthentication yes no\nBanner \"/unterminated\nUsePAM\nPermitRootLogin no\n",
    ));
    assert_eq!(cfg.startup_errors.len(), 4, "{:?}", cfg.startup_errors);
    assert!(cfg.startup_errors[0].starts_with("/etc/ssh/sshd_config:1: PermitRootLogin maybe"));
    assert_eq!(cfg.effective("PermitRootLogin").from, at(MAIN, 5));
    assert!(cfg.effective("PasswordAuthentication").is_default());
}

#[test]
fn bad_match_lines() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "Match\nMatch User\nMatch all User x\nMatch Frobnicate x\n",
    ));
    assert_eq!(cfg.startup_errors.len(), 3, "{:?}", cfg.startup_errors);
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    assert_eq!(cfg.match_blocks.len(), 4);
}

#[test]
fn global_only_keyword_in_match_is_flagged() {
    let cfg = gather(&MemFiles::new().with(MAIN, "Match User x\nPort 2222\nUsePAM yes\n"));
    assert_eq!(cfg.warnings.len(), 2, "{:?}", cfg.warnings);
    assert_eq!(cfg.effective("Port").value, "22");
    assert_eq!(outcomes(&cfg, "UsePAM", "x", &[]), [("no".into(), None)]);
}

#[test]
fn accumulating_keywords_and_unknown_ones() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "Port 22\nPort 2222\nFooBar baz\nfoobar qux\nAllowUsers a b\nAllowUsers c\n",
    ));
    let port = cfg.effective("Port");
    assert_eq!(port.args, ["22", "2222"]);
    assert_eq!(port.also_from, [Provenance::line(MAIN, 2)]);
    assert_eq!(cfg.effective("AllowUsers").value, "a b c");
    assert_eq!(cfg.unknown_keywords, ["FooBar"]);
    assert_eq!(cfg.effective("FOOBAR").value, "baz");
}

#[test]
fn authorized_keys_patterns_collects_all() {
    let cfg = gather(&MemFiles::new().with(
        MAIN,
        "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\nMatch User deploy\nAuthorizedKeysFile /srv/keys/%u .ssh/authorized_keys\n",
    ));
    assert_eq!(
        cfg.authorized_keys_patterns(),
        [".ssh/authorized_keys", "/etc/ssh/keys/%u", "/srv/keys/%u"]
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    let big = "x".repeat((MAX_CONFIG_FILE + 1) as usize);
    let cfg = gather(
        &MemFiles::new()
            .with(MAIN, "Include big.conf\n")
            .with("/etc/ssh/big.conf", &big),
    );
    assert!(cfg.present && !cfg.complete);
    assert_eq!(cfg.warnings.len(), 1);
    let cfg = gather(&MemFiles::new().with(MAIN, &big));
    assert!(cfg.present && !cfg.complete && cfg.files_read.is_empty());

    let includes = "Include /etc/ssh/none/*\n".repeat(MAX_INCLUDE_GLOBS + 1) + "Port 1\n";
    let cfg = gather(&MemFiles::new().with(MAIN, includes));
    assert!(!cfg.complete && cfg.get("Port").is_some_and(|s| s.is_default()));

    let many = "Match all\n".repeat(MAX_MATCH_BLOCKS + 10) + "PermitRootLogin yes\n";
    let cfg = gather(&MemFiles::new().with(MAIN, many));
    assert!(!cfg.complete);
    assert_eq!(cfg.match_blocks.len(), MAX_MATCH_BLOCKS);
    assert!(cfg.get("PermitRootLogin").is_some_and(|s| s.is_default()));

    let junk: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cfg = gather(&MemFiles::new().with(MAIN, &junk));
    let _ = cfg.values_for_user("PermitRootLogin", "root", &[]);

    let mut f = MemFiles::new().with(MAIN, "Include /etc/ssh/d/*\n");
    for i in 0..300 {
        f = f.with(&format!("/etc/ssh/d/{i:04}"), "Include /etc/ssh/e.conf\n");
    }
    let cfg = gather(&f.with("/etc/ssh/e.conf", "Port 1\n"));
    assert_eq!(cfg.files_read.len(), MAX_CONFIG_FILES);
    assert!(!cfg.complete);
    assert!(cfg.warnings.len() <= MAX_MESSAGES + 1);
}
