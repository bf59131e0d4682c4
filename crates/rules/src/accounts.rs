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
