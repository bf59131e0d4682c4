//! The Marketplace listing-description checklist (shared/reference/listing-checklist.md).
//!
//! Pure functions over a [`Listing`] (the text a publisher submits with the Marketplace
//! Publisher API): each check gives pass, fail or not applicable with a message that says what
//! was seen and what to change. No I/O, no browser, no clock: the web page runs them as the
//! publisher types, the CLI can run them on the listing JSON.

mod listing;
mod text;

use preflight_report::Level;
use serde::Serialize;

pub use listing::{Listing, SupportContact, SupportLink, VersionDetails};
pub use text::{check_email, check_https_url, check_phone, urls_in};

/// Oracle's listing guidelines, the source of every check here.
pub const LISTING_GUIDELINES: &str =
    "https://docs.oracle.com/en-us/iaas/Content/publisher/publish_guidelines_listings.htm";

/// Longest name the Marketplace accepts, and the part of it that displays in full.
pub const NAME_MAX_CHARS: usize = 80;
pub const NAME_DISPLAYED_CHARS: usize = 36;
/// The headline must state the purpose in at most this many lines.
pub const HEADLINE_MAX_LINES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not applicable: nothing to check yet (no links given, nothing entered).
    Na,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Na => "na",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    pub status: Status,
    /// What was seen, and for a failure what to change.
    pub message: String,
    /// Further remarks that do not change the status (a name longer than what displays, a
    /// link that cannot be loaded offline).
    pub notes: Vec<String>,
    pub source: &'static str,
}

struct Rule {
    id: &'static str,
    level: Level,
    title: &'static str,
    check: fn(&Listing) -> Outcome,
}

struct Outcome {
    status: Status,
    message: String,
    notes: Vec<String>,
}

fn pass(message: impl Into<String>) -> Outcome {
    Outcome {
        status: Status::Pass,
        message: message.into(),
        notes: Vec::new(),
    }
}

fn fail(message: impl Into<String>) -> Outcome {
    Outcome {
        status: Status::Fail,
        message: message.into(),
        notes: Vec::new(),
    }
}

fn na(message: impl Into<String>) -> Outcome {
    Outcome {
        status: Status::Na,
        message: message.into(),
        notes: Vec::new(),
    }
}

impl Outcome {
    fn note(mut self, note: impl Into<String>) -> Outcome {
        self.notes.push(note.into());
        self
    }
}

const RULES: &[Rule] = &[
    Rule {
        id: "LST-NAME",
        level: Level::Blocker,
        title: "Listing name present, at most 80 characters, one line",
        check: name,
    },
    Rule {
        id: "LST-HEADLINE",
        level: Level::Blocker,
        title: "Headline states the purpose in at most two lines",
        check: headline,
    },
    Rule {
        id: "LST-USAGE-CONNECT",
        level: Level::Blocker,
        title: "Usage information tells how to connect (protocol, user, key or password)",
        check: usage_connect,
    },
    Rule {
        id: "LST-SYSREQ",
        level: Level::Blocker,
        title: "System requirements name shapes, boot volume size and network ports",
        check: sysreq,
    },
    Rule {
        id: "LST-SUPPORT",
        level: Level::Blocker,
        title: "Support contact with a valid email address or phone number",
        check: support,
    },
    Rule {
        id: "LST-LINKS",
        level: Level::Blocker,
        title: "Every link is a well-formed absolute https URL",
        check: links,
    },
    Rule {
        id: "LST-VERSION",
        level: Level::Blocker,
        title: "Version string well-formed and the same everywhere",
        check: version,
    },
    Rule {
        id: "LST-PLACEHOLDER",
        level: Level::Blocker,
        title: "No leftover placeholders",
        check: placeholder,
    },
];

/// The IDs of the checks [`check_listing`] runs, in its order.
pub fn check_ids() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|r| r.id)
}

/// Run every check. A listing with nothing entered gives "not applicable" everywhere.
pub fn check_listing(listing: &Listing) -> Vec<Check> {
    let empty = listing.is_empty();
    RULES
        .iter()
        .map(|rule| {
            let outcome = if empty {
                na("nothing entered yet")
            } else {
                (rule.check)(listing)
            };
            Check {
                id: rule.id,
                level: rule.level,
                title: rule.title,
                status: outcome.status,
                message: outcome.message,
                notes: outcome.notes,
                source: LISTING_GUIDELINES,
            }
        })
        .collect()
}

fn has_line_break(s: &str) -> bool {
    s.contains(['\n', '\r', '\u{2028}', '\u{2029}'])
}

fn name(l: &Listing) -> Outcome {
    let name = l.display_name.trim();
    if name.is_empty() {
        return fail("the listing has no name");
    }
    if has_line_break(name) {
        return fail("the name holds a line break: write it on one line");
    }
    let chars = name.chars().count();
    if chars > NAME_MAX_CHARS {
        return fail(format!(
            "the name has {chars} characters; the Marketplace accepts at most {NAME_MAX_CHARS}"
        ));
    }
    let out = pass(format!("“{name}” ({chars} characters)"));
    if chars > NAME_DISPLAYED_CHARS {
        out.note(format!(
            "only the first {NAME_DISPLAYED_CHARS} characters display in full in the Marketplace: \
             “{}…”",
            name.chars().take(NAME_DISPLAYED_CHARS).collect::<String>()
        ))
    } else {
        out
    }
}

fn headline(l: &Listing) -> Outcome {
    let headline = l.headline.trim();
    if headline.is_empty() {
        return fail("the listing has no headline: say in a line or two what the product does");
    }
    let lines = headline.lines().filter(|s| !s.trim().is_empty()).count();
    if lines > HEADLINE_MAX_LINES {
        return fail(format!(
            "the headline runs over {lines} lines; state the purpose in at most \
             {HEADLINE_MAX_LINES}"
        ));
    }
    let words = headline.split_whitespace().count();
    if words < 3 {
        return fail(format!(
            "the headline “{headline}” is too short to state the product's purpose"
        ));
    }
    pass(format!("{words} words on {lines} line(s)"))
}

/// Any of these words names how to reach the instance.
const PROTOCOL_WORDS: &[&str] = &[
    "ssh",
    "rdp",
    "remote desktop",
    "https",
    "http",
    "browser",
    "web console",
    "vnc",
];
/// …who to log in as.
const USER_WORDS: &[&str] = &[
    "user",
    "username",
    "user name",
    "login",
    "log in as",
    "sign in as",
    "account",
    // the usual default users, named without the word "user"
    "opc",
    "root",
    "admin",
    "administrator",
    "ubuntu",
    "cloud-user",
    "ec2-user",
];
/// …and where the secret comes from.
const CREDENTIAL_WORDS: &[&str] = &[
    "key",
    "keys",
    "ssh key",
    "private key",
    "public key",
    "password",
    "passphrase",
    "credential",
    "credentials",
    "token",
];

fn any_word(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text::has_word(text, w))
}

fn usage_connect(l: &Listing) -> Outcome {
    let usage = l.usage_information.trim();
    if usage.is_empty() {
        return fail(
            "the usage information is empty: tell customers how to connect (protocol, user name, \
             port, where the key or initial password comes from)",
        );
    }
    let user = l.username.trim();
    let mut missing = Vec::new();
    if !any_word(usage, PROTOCOL_WORDS) {
        missing.push("the protocol (SSH, RDP or HTTPS)");
    }
    let names_user = any_word(usage, USER_WORDS)
        || (!user.is_empty() && text::has_word(usage, &user.to_ascii_lowercase()));
    if !names_user {
        missing.push("the user name to log in as");
    }
    if !any_word(usage, CREDENTIAL_WORDS) {
        missing.push("where the SSH key or initial password comes from");
    }
    if !missing.is_empty() {
        return fail(format!(
            "the usage information does not say {}",
            join_and(&missing)
        ));
    }
    let mut out = pass("names the protocol, the user and the credentials");
    if !text::has_word(usage, "port") && !usage.chars().any(|c| c.is_ascii_digit()) {
        out = out.note("consider naming the port to open (e.g. 22 for SSH, 443 for HTTPS)");
    }
    if !user.is_empty() && !text::has_word(usage, &user.to_ascii_lowercase()) {
        out = out.note(format!(
            "the image's login user “{user}” does not appear in the usage information"
        ));
    }
    out
}

fn sysreq(l: &Listing) -> Outcome {
    let req = l.system_requirements.trim();
    if req.is_empty() {
        return fail(
            "the system requirements are empty: name the compute shapes (and minimum OCPU and \
             memory), the boot volume size and the ports to open",
        );
    }
    let lower = req.to_ascii_lowercase();
    let mut missing = Vec::new();
    let shape = any_word(
        req,
        &["shape", "shapes", "ocpu", "ocpus", "cpu", "cpus", "vcpu"],
    ) || lower.contains("vm.")
        || lower.contains("bm.");
    if !shape {
        missing.push("the compute shapes or minimum OCPUs");
    }
    let volume = any_word(
        req,
        &[
            "boot volume",
            "volume",
            "disk",
            "storage",
            "gb",
            "gib",
            "tb",
        ],
    ) || has_size_suffix(&lower);
    if !volume {
        missing.push("the boot volume size");
    }
    let ports = any_word(
        req,
        &[
            "port",
            "ports",
            "security list",
            "security lists",
            "ingress",
            "network security group",
            "nsg",
            "firewall",
        ],
    ) || lower.contains("/tcp")
        || lower.contains("/udp");
    if !ports {
        missing.push("the network ports or security list rules");
    }
    if missing.is_empty() {
        pass("names shapes, boot volume size and ports")
    } else {
        fail(format!(
            "the system requirements do not name {}",
            join_and(&missing)
        ))
    }
}

/// "50GB", "100 GiB" written without a space.
fn has_size_suffix(lower: &str) -> bool {
    ["gb", "gib", "tb", "tib"].iter().any(|unit| {
        lower.match_indices(unit).any(|(i, _)| {
            lower[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_digit())
                && lower[i + unit.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

fn support(l: &Listing) -> Outcome {
    let contacts: Vec<(usize, &SupportContact)> = l
        .support_contacts
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if contacts.is_empty() {
        return fail("no support contact: give an email address or a phone number for support");
    }
    let mut problems = Vec::new();
    let mut reachable = 0;
    for (i, c) in &contacts {
        let who = if c.name.trim().is_empty() {
            format!("contact {}", i + 1)
        } else {
            format!("contact “{}”", c.name.trim())
        };
        let email = c.email.trim();
        let phone = c.phone.trim();
        if email.is_empty() && phone.is_empty() {
            problems.push(format!(
                "{who} has neither an email address nor a phone number"
            ));
            continue;
        }
        let mut ok = true;
        if !email.is_empty()
            && let Err(why) = check_email(email)
        {
            problems.push(format!("{who}: email “{email}” {why}"));
            ok = false;
        }
        if !phone.is_empty()
            && let Err(why) = check_phone(phone)
        {
            problems.push(format!("{who}: phone “{phone}” {why}"));
            ok = false;
        }
        if ok {
            reachable += 1;
        }
    }
    if let Some(first) = problems.first() {
        let mut out = fail(first.clone());
        for p in problems.iter().skip(1) {
            out = out.note(p.clone());
        }
        return out;
    }
    pass(format!(
        "{reachable} support contact(s) with a valid address"
    ))
}

/// Every link a listing holds: the support links and every URL written in a text field.
fn all_links(l: &Listing) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for (i, link) in l.support_links.iter().enumerate() {
        if link.is_empty() {
            continue;
        }
        let label = if link.name.trim().is_empty() {
            format!("link {}", i + 1)
        } else {
            format!("link “{}”", link.name.trim())
        };
        links.push((label, link.url.trim().to_string()));
    }
    for (field, text) in l.text_fields() {
        if field.starts_with("link ") {
            continue;
        }
        for url in urls_in(text) {
            links.push((format!("in the {field}"), url));
        }
    }
    links
}

fn links(l: &Listing) -> Outcome {
    let links = all_links(l);
    if links.is_empty() {
        return na("no links given");
    }
    let mut bad = Vec::new();
    for (where_, url) in &links {
        if url.is_empty() {
            bad.push(format!("{where_} has no URL"));
        } else if let Err(why) = check_https_url(url) {
            bad.push(format!("{url} ({where_}) {why}"));
        }
    }
    let offline = "whether each link loads cannot be checked offline: open them once before \
                   submitting";
    if let Some(first) = bad.first() {
        let mut out = fail(first.clone());
        for b in bad.iter().skip(1) {
            out = out.note(b.clone());
        }
        return out.note(offline);
    }
    pass(format!(
        "{} link(s), all well-formed https URLs",
        links.len()
    ))
    .note(offline)
}

/// Characters a version string may hold.
fn version_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')')
}

/// Version numbers written in free text: the token after the word "version" (when it starts
/// with a digit, or `v` and a digit) and standalone `v1.2`-style tokens.
fn versions_in(text: &str) -> Vec<String> {
    let trim = |t: &str| {
        t.trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string()
    };
    let is_number = |t: &str| {
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        t.starts_with(|c: char| c.is_ascii_digit())
    };
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut found = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        let word = trim(tok).to_ascii_lowercase();
        if word == "version"
            && let Some(next) = tokens.get(i + 1)
        {
            let next = trim(next);
            if is_number(&next) {
                found.push(next);
            }
            continue;
        }
        let t = trim(tok);
        let dotted_v = t.len() > 1
            && t.starts_with(['v', 'V'])
            && t[1..].starts_with(|c: char| c.is_ascii_digit())
            && t.contains('.')
            && t[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let after_version = i > 0 && trim(tokens[i - 1]).eq_ignore_ascii_case("version");
        if dotted_v && !after_version {
            found.push(t);
        }
    }
    found
}

fn normalize_version(v: &str) -> String {
    let v = v.trim().to_ascii_lowercase();
    v.strip_prefix('v').unwrap_or(&v).to_string()
}

fn version(l: &Listing) -> Outcome {
    let number = l.version_details.number.trim();
    if number.is_empty() {
        return fail("no version number: fill in the version field");
    }
    if let Some(c) = number.chars().find(|c| !version_char_ok(*c)) {
        return fail(format!(
            "the version “{number}” contains “{c}”: use only letters, digits, “.”, “-”, “_”, \
             spaces and parentheses"
        ));
    }
    let canonical = normalize_version(number.split_whitespace().next().unwrap_or(number));
    let places = [
        ("release notes", l.version_details.description.as_str()),
        ("headline", l.headline.as_str()),
        ("tagline", l.tagline.as_str()),
        ("short description", l.short_description.as_str()),
        ("long description", l.long_description.as_str()),
        ("usage information", l.usage_information.as_str()),
    ];
    let mut seen = Vec::new();
    for (field, text) in places {
        for v in versions_in(text) {
            if normalize_version(&v) == canonical {
                seen.push(field);
            } else {
                return fail(format!(
                    "the {field} says version “{v}” but the version field is “{number}”: use \
                     the same version everywhere"
                ));
            }
        }
    }
    seen.dedup();
    if seen.is_empty() {
        pass(format!("“{number}”"))
    } else {
        pass(format!("“{number}”, also in the {}", join_and(&seen)))
    }
}

/// Leftover placeholders: (needle, case-sensitive, whole word).
const PLACEHOLDERS: &[(&str, bool, bool)] = &[
    ("TODO", true, true),
    ("TBD", true, true),
    ("FIXME", true, true),
    ("lorem ipsum", false, false),
    ("<your", false, false),
    ("[your", false, false),
    ("[insert", false, false),
    ("<insert", false, false),
    ("xxx", false, false),
];

fn placeholder(l: &Listing) -> Outcome {
    let mut hits = Vec::new();
    for (field, text) in l.text_fields() {
        let lower = text.to_ascii_lowercase();
        for (needle, case_sensitive, whole_word) in PLACEHOLDERS {
            let (hay, pat) = if *case_sensitive {
                (text, needle.to_string())
            } else {
                (lower.as_str(), needle.to_ascii_lowercase())
            };
            let at = if *whole_word {
                text::find_word(hay, &pat)
            } else {
                hay.find(&pat)
            };
            if let Some(at) = at {
                hits.push(format!(
                    "“{needle}” in the {field}: “{}”",
                    text::excerpt(text, at, pat.len())
                ));
                break;
            }
        }
    }
    match hits.split_first() {
        None => pass("no placeholder text found"),
        Some((first, rest)) => {
            let mut out = fail(format!("leftover placeholder {first}"));
            for r in rest {
                out = out.note(format!("leftover placeholder {r}"));
            }
            out
        }
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
