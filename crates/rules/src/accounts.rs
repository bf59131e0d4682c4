//! Account rules: what /etc/passwd and /etc/shadow allow.

use preflight_facts::users::PasswordState;
use preflight_report::{Area, Level};

use crate::sources::MARKETPLACE_IMAGES;
use crate::{Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const S16: Rule = Rule {
    id: "S16",
    area: Area::SshAccounts,
    level: Level::Blocker,
    title: "No OS user may have a password, and none may have an empty one",
    source: MARKETPLACE_IMAGES,
    check: passwords,
};

fn passwords(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    if !g.users.passwd_readable {
        return Outcome::NotEvaluated("/etc/passwd is missing or unreadable".into());
    }
    let mut hits = Vec::new();
    let mut unknown = Vec::new();
    for u in &g.users.users {
        let p = &u.password_provenance;
        match &u.password {
            PasswordState::Hash { scheme } => hits.push(
                Hit::new(
                    format!("User {} has a password", u.name),
                    format!(
                        "Lock the password (SSH keys given at launch are the way in): passwd -l {0}   (or: usermod -p '!' {0})",
                        u.name
                    ),
                )
                .at(&p.path, p.line, format!("password field holds a {scheme} hash (not shown)")),
            ),
            PasswordState::Empty => hits.push(
                Hit::new(
                    format!("User {} has an empty password: anyone can log in as {0} without one", u.name),
                    format!("Lock the account's password: passwd -l {0}   (or: usermod -p '!' {0})", u.name),
                )
                .at(&p.path, p.line, "password field is empty"),
            ),
            PasswordState::ShadowUnreadable => unknown.push(u.name.clone()),
            PasswordState::Locked | PasswordState::Unusable | PasswordState::NoShadowEntry => {}
        }
    }
    if hits.is_empty() && !unknown.is_empty() {
        return Outcome::NotEvaluated(format!(
            "/etc/shadow could not be read, so the passwords of {} are unknown",
            unknown.join(", ")
        ));
    }
    outcome(hits)
}

pub const REC_USER: Rule = Rule {
    id: "REC-USER",
    area: Area::SshAccounts,
    level: Level::Warning,
    title: "The login account is cloud-init's default user, with sudo",
    source: MARKETPLACE_IMAGES,
    check: default_user,
};

pub const REC_ROOT_SHELL: Rule = Rule {
    id: "REC-ROOT-SHELL",
    area: Area::SshAccounts,
    level: Level::Warning,
    title: "Root's shell refuses logins (/sbin/nologin)",
    source: MARKETPLACE_IMAGES,
    check: root_shell,
};

/// The default user each distribution's cloud images use (Oracle's images: `opc`).
fn expected_user(os_id: &str) -> Option<&'static str> {
    Some(match os_id {
        "ol" => "opc",
        "debian" => "debian",
        "ubuntu" => "ubuntu",
        "centos" => "centos",
        "rhel" => "cloud-user",
        "fedora" => "fedora",
        "almalinux" => "almalinux",
        "rocky" => "rocky",
        "sles" | "opensuse-leap" => "sles",
        _ => return None,
    })
}

fn default_user(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    if !g.cloud_init.installed {
        return Outcome::NotEvaluated(
            "cloud-init is not installed, so there is no default user to check (see S08)".into(),
        );
    }
    let fb = &g.cloud_init.first_boot;
    let at = g
        .cloud_init
        .settings
        .default_user
        .as_ref()
        .map(|d| d.provenance.clone())
        .unwrap_or_else(|| preflight_facts::Provenance::file("/etc/cloud/cloud.cfg"));
    let Some(name) = &fb.default_user else {
        return outcome(vec![
            Hit::new(
                "cloud-init creates no default user: the customer's key goes to no login account",
                "Define system_info.default_user (name, lock_passwd: true, sudo: [\"ALL=(ALL) NOPASSWD:ALL\"]) in /etc/cloud/cloud.cfg and keep `default` in users:",
            )
            .at(at.path.clone(), at.line, "no default user"),
        ]);
    };
    let mut hits = Vec::new();
    if !fb.default_user_has_sudo {
        hits.push(
            Hit::new(
                format!("cloud-init's default user {name} gets no sudo rule"),
                "Add sudo: [\"ALL=(ALL) NOPASSWD:ALL\"] to system_info.default_user in /etc/cloud/cloud.cfg",
            )
            .at(at.path.clone(), at.line, format!("default_user {name}, no sudo")),
        );
    }
    if let Some(os) = &g.os
        && let Some(want) = expected_user(&os.id)
        && want != name
    {
        hits.push(
            Hit::new(
                format!("The default user is {name}; {} images use {want}", os.pretty_name.as_deref().unwrap_or(&os.id)),
                format!("Customers expect {want}: set system_info.default_user.name to {want} in /etc/cloud/cloud.cfg, or document {name} in the listing's usage instructions"),
            )
            .at(at.path.clone(), at.line, format!("default_user {name}"))
            .level(Level::Info),
        );
    }
    outcome(hits)
}

fn root_shell(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let Some(root) = g
        .users
        .users
        .iter()
        .find(|u| u.uid == 0 && u.name == "root")
    else {
        return Outcome::NotEvaluated("/etc/passwd has no root entry".into());
    };
    if !root.shell_allows_login {
        return Outcome::Pass;
    }
    outcome(vec![
        Hit::new(
            format!(
                "Root's shell is {}: root can log in wherever a password or key lets it",
                if root.shell.is_empty() {
                    "/bin/sh"
                } else {
                    &root.shell
                }
            ),
            "usermod -s /sbin/nologin root (keep console access through the default user's sudo)",
        )
        .at(
            root.provenance.path.clone(),
            root.provenance.line,
            format!("root:…:{}", root.shell),
        ),
    ])
}
