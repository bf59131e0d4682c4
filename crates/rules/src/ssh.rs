//! SSH rules: host keys (S01), shipped authorized keys (S10), root login (S14) and password
//! authentication (REC-SSH-PASSWORD). The sshd configuration they judge is the effective one
//! (first value wins, Includes where they stand, Match blocks, compiled-in defaults).

use preflight_facts::ssh_keys::KeyFileKind;
use preflight_facts::sshd::{Setting, SshdConfig};
use preflight_report::{Area, Level};

use crate::sources::MARKETPLACE_IMAGES;
use crate::{GuestFacts, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const S01: Rule = Rule {
    id: "S01",
    area: Area::SshAccounts,
    level: Level::Blocker,
    title: "SSH host keys must not ship in the image",
    source: MARKETPLACE_IMAGES,
    check: host_keys,
};

pub const S10: Rule = Rule {
    id: "S10",
    area: Area::SshAccounts,
    level: Level::Blocker,
    title: "No authorized_keys file may hold a key: keys are given at launch",
    source: MARKETPLACE_IMAGES,
    check: authorized_keys,
};

pub const S14: Rule = Rule {
    id: "S14",
    area: Area::SshAccounts,
    level: Level::Blocker,
    title: "Root login must be disabled",
    source: MARKETPLACE_IMAGES,
    check: root_login,
};

pub const REC_SSH_PASSWORD: Rule = Rule {
    id: "REC-SSH-PASSWORD",
    area: Area::SshAccounts,
    level: Level::Warning,
    title: "sshd should not accept passwords",
    source: MARKETPLACE_IMAGES,
    check: password_auth,
};

fn host_keys(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    if g.host_keys.keys.is_empty() && !g.host_keys.warnings.is_empty() {
        return Outcome::NotEvaluated(g.host_keys.warnings.join("; "));
    }
    if g.host_keys.keys.is_empty() {
        return Outcome::Pass;
    }
    let mut hit = Hit::new(
        format!(
            "{} SSH host key file(s) ship in the image: every instance would share them",
            g.host_keys.keys.len()
        ),
        "Delete them as the last step before capturing the image: rm -f /etc/ssh/ssh_host_*\n\
         They are generated again at first boot (cloud-init's ssh_deletekeys/ssh_genkeytypes, \
         or the distribution's sshd-keygen service / `ssh-keygen -A`).",
    );
    for k in &g.host_keys.keys {
        let detail = match k.kind {
            KeyFileKind::Private => format!(
                "private key ({})",
                k.pem_label.as_deref().unwrap_or("unknown format")
            ),
            KeyFileKind::Public => format!(
                "public key {} {}{}",
                k.key_type.as_deref().unwrap_or("?"),
                k.fingerprint.as_deref().unwrap_or(""),
                k.comment
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            KeyFileKind::Unrecognised => {
                format!(
                    "host key file{}",
                    k.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )
            }
        };
        hit = hit.at(&k.path, None, detail);
    }
    Outcome::Hits(vec![hit])
}

fn authorized_keys(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut hits = Vec::new();
    let mut unreadable = Vec::new();
    for f in &g.authorized_keys {
        if let Some(e) = &f.error {
            unreadable.push(format!("{}: {e}", f.path));
            continue;
        }
        if f.entries.is_empty() {
            continue;
        }
        let mut hit = Hit::new(
            format!(
                "{} holds {} key(s) (user {})",
                f.path,
                f.entries.len(),
                f.users.join(", ")
            ),
            format!(
                "Remove the keys before capturing the image: rm -f {}\n\
                 Customers' keys are installed at launch by cloud-init from the instance metadata.",
                f.path
            ),
        );
        for e in &f.entries {
            let mut detail = format!(
                "{} {}",
                e.key_type.as_deref().unwrap_or("unparsed key"),
                e.fingerprint.as_deref().unwrap_or("")
            );
            if let Some(c) = &e.comment {
                detail.push_str(&format!(" ({c})"));
            }
            if e.forces_refusal() {
                detail.push_str(
                    " — forced command refusing the login (as cloud-init's disable_root writes it)",
                );
            }
            if let Some(err) = &e.error {
                detail.push_str(&format!(" — sshd would ignore this line: {err}"));
            }
            hit = hit.at(&f.path, Some(e.line), detail);
        }
        if f.truncated {
            hit = hit.at(&f.path, None, "more lines were not read (limit reached)");
        }
        hits.push(hit);
    }
    if hits.is_empty() && !unreadable.is_empty() {
        return Outcome::NotEvaluated(format!(
            "some authorized_keys files could not be read: {}",
            unreadable.join("; ")
        ));
    }
    outcome(hits)
}

fn describe(keyword: &str, s: &Setting) -> (String, Option<u32>, String) {
    match s.provenance() {
        Some(p) => (p.path.clone(), p.line, format!("{keyword} {}", s.raw)),
        None => (
            "/etc/ssh/sshd_config".into(),
            None,
            format!("{keyword} not set: OpenSSH's default is {}", s.value),
        ),
    }
}

/// Where a publisher should write a keyword so that it wins (sshd keeps the first value).
fn where_to_set(cfg: &SshdConfig, keyword: &str, s: &Setting) -> String {
    match s.provenance() {
        Some(p) => format!(
            "change line {} of {} (sshd keeps the first value it reads, so that line decides)",
            p.line.unwrap_or(0),
            p.path
        ),
        None => {
            let drop_in = cfg
                .files_read
                .iter()
                .any(|f| f.starts_with("/etc/ssh/sshd_config.d/"))
                || cfg.settings.contains_key("Include");
            if drop_in {
                format!(
                    "add `{keyword}` in a drop-in read before the others, e.g. /etc/ssh/sshd_config.d/00-marketplace.conf, or at the top of /etc/ssh/sshd_config"
                )
            } else {
                "add it at the top of /etc/ssh/sshd_config".to_string()
            }
        }
    }
}

fn root_login(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let root = g.users.user("root");
    // Alternative 1: root's shell refuses a session.
    if root.is_some_and(|r| !r.shell_allows_login) {
        return Outcome::Pass;
    }
    // Alternative 3: every key root has forces a refusal (how cloud-init disables root).
    let root_files: Vec<_> = g
        .authorized_keys
        .iter()
        .filter(|f| f.users.iter().any(|u| u == "root"))
        .collect();
    if !root_files.is_empty()
        && root_files
            .iter()
            .all(|f| f.error.is_none() && f.every_key_forces_refusal() && !f.entries.is_empty())
    {
        return Outcome::Pass;
    }
    if !g.sshd.present {
        return Outcome::NotEvaluated(
            "no /etc/ssh/sshd_config in the image, and root's shell allows a login: whether root can log in depends on an SSH server this check cannot see".into(),
        );
    }
    // Alternative 2: the effective PermitRootLogin is `no` for every connection root can make.
    let groups = root_groups(g);
    let values = g.sshd.values_for_user("PermitRootLogin", "root", &groups);
    let allowing: Vec<_> = values.iter().filter(|(s, _)| s.value != "no").collect();
    if allowing.is_empty() {
        return if g.sshd.complete {
            Outcome::Pass
        } else {
            Outcome::NotEvaluated(format!(
                "the sshd configuration could not be read completely: {}",
                g.sshd.warnings.join("; ")
            ))
        };
    }
    // cloud-init's disable_root (on by default) writes the customer's key into root's
    // authorized_keys behind a command that refuses the login: with key-only root logins
    // and no other root key in the image, the instance refuses root.
    let fb = &g.cloud_init.first_boot;
    let key_only = allowing.iter().all(|(s, _)| s.value == "prohibit-password");
    if fb.runs && fb.disables_root_login && key_only && root_files.is_empty() {
        return Outcome::Pass;
    }
    let global = g.sshd.effective("PermitRootLogin");
    let mut hit = Hit::new(
        "Root can log in over SSH",
        format!(
            "Set `PermitRootLogin no`: {}. Alternatively give root a shell that refuses logins: usermod -s /sbin/nologin root",
            where_to_set(&g.sshd, "PermitRootLogin no", &global)
        ),
    );
    if let Some(r) = root {
        hit = hit.at(
            &r.provenance.path,
            r.provenance.line,
            format!("root's shell is {}", r.shell),
        );
    }
    for (s, m) in allowing {
        let (path, line, mut detail) = describe("PermitRootLogin", s);
        if let Some(m) = m {
            detail.push_str(&format!(" — for connections matching {m}"));
        }
        if s.value == "prohibit-password" {
            detail.push_str(" (keys still log root in: only `no` disables root login)");
        }
        hit = hit.at(path, line, detail);
    }
    Outcome::Hits(vec![hit])
}

fn root_groups(g: &GuestFacts) -> Vec<String> {
    g.users
        .user("root")
        .map(|u| {
            g.users
                .groups_of(u)
                .into_iter()
                .map(|gr| gr.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn password_auth(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    if !g.sshd.present {
        return Outcome::NotEvaluated("no /etc/ssh/sshd_config in the image".into());
    }
    let mut hits = Vec::new();
    for (keyword, meaning) in [
        ("PasswordAuthentication", "sshd accepts passwords"),
        (
            "KbdInteractiveAuthentication",
            "sshd accepts keyboard-interactive logins (passwords through PAM)",
        ),
        ("PermitEmptyPasswords", "sshd accepts empty passwords"),
    ] {
        let global = g.sshd.effective(keyword);
        let mut evidence = Vec::new();
        if global.value != "no" {
            evidence.push(describe(keyword, &global));
        }
        for (idx, block) in g.sshd.match_blocks.iter().enumerate() {
            if let Some(s) = block.settings.get(keyword).filter(|s| s.value != "no") {
                let (path, line, detail) = describe(keyword, s);
                let m = g
                    .sshd
                    .match_ref(idx)
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                evidence.push((
                    path,
                    line,
                    format!("{detail} — for connections matching {m}"),
                ));
            }
        }
        if evidence.is_empty() {
            continue;
        }
        let mut hit = Hit::new(
            meaning.to_string(),
            format!(
                "Set `{keyword} no`: {}",
                where_to_set(&g.sshd, &format!("{keyword} no"), &global)
            ),
        );
        for (path, line, detail) in evidence {
            hit = hit.at(path, line, detail);
        }
        hits.push(hit);
    }
    // cloud-init's set-passwords module rewrites PasswordAuthentication at first boot
    // (ssh_pwauth): the instance has what it writes, not what the image's files say.
    let fb = &g.cloud_init.first_boot;
    if fb.runs {
        match fb.sets_password_authentication {
            Some(true) => {
                hits.retain(|h| !h.title.starts_with("sshd accepts passwords"));
                let at = fb.password_authentication_provenance.clone();
                hits.push(
                    Hit::new(
                        "cloud-init turns SSH password logins on at first boot (ssh_pwauth: true)",
                        format!(
                            "Set ssh_pwauth: false in {} (or remove the setting and set PasswordAuthentication no in sshd's configuration)",
                            at.as_ref().map_or("/etc/cloud/cloud.cfg.d/", |p| p.path.as_str())
                        ),
                    )
                    .at(
                        at.as_ref().map_or_else(|| "/etc/cloud/cloud.cfg".to_string(), |p| p.path.clone()),
                        at.as_ref().and_then(|p| p.line),
                        format!(
                            "ssh_pwauth: true; cloud-init writes PasswordAuthentication yes into {}",
                            fb.password_authentication_file.as_deref().unwrap_or("sshd's configuration")
                        ),
                    ),
                );
            }
            Some(false) => {
                // It writes `no`: that decides unless a file sshd reads first says otherwise
                // (sshd keeps the first value).
                let effective = g.sshd.effective("PasswordAuthentication");
                let decided_elsewhere = effective.provenance().is_some_and(|p| {
                    Some(p.path.as_str()) != fb.password_authentication_file.as_deref()
                });
                if !decided_elsewhere {
                    hits.retain(|h| !h.title.starts_with("sshd accepts passwords"));
                }
            }
            None => {}
        }
    }
    if hits.is_empty() && !g.sshd.complete {
        return Outcome::NotEvaluated(format!(
            "the sshd configuration could not be read completely: {}",
            g.sshd.warnings.join("; ")
        ));
    }
    outcome(hits)
}
