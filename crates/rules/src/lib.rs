//! The rule catalog: each rule is an ID, a level, a title, its public source and a pure
//! function from [`Inputs`] to findings — or to "not evaluated: why". Rules never read the
//! disk; they only see facts. Adding a rule = one entry in [`CATALOG`] + its tests.
//!
//! IDs and meanings come from shared/reference/oci-image-rules.md.

mod accounts;
mod archive;
mod artifacts;
mod boot;
mod cloud_init;
mod hardening;
mod hygiene;
mod image;
mod inputs;
mod launch;
mod mode;
mod network;
pub mod os;
pub mod shapes;
mod sources;
mod ssh;

pub use inputs::{
    BiosFact, BootFact, DiskFacts, EspFact, FstabFact, FstabState, GrubCore, GuestFacts,
    ImageFacts, Inputs, VolumeFacts,
};
pub use mode::recommend;
pub use preflight_report::Area;
use preflight_report::{Evidence, Finding, Level, NotEvaluated};
pub use shapes::{
    CapabilitySchema, Firmware, Fit, LaunchMode, Shape, ShapeFamily, compatible_shapes,
    validate_capabilities,
};

/// One violation found by a rule.
#[derive(Debug, Clone)]
pub struct Hit {
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub remedy: String,
    /// Overrides the rule's level (a rule may have a softer case, like IMP-SIZE's GB/GiB zone).
    pub level: Option<Level>,
}

impl Hit {
    pub fn new(title: impl Into<String>, remedy: impl Into<String>) -> Hit {
        Hit {
            title: title.into(),
            evidence: Vec::new(),
            remedy: remedy.into(),
            level: None,
        }
    }

    pub fn at(
        mut self,
        path: impl Into<String>,
        line: Option<u32>,
        detail: impl Into<String>,
    ) -> Hit {
        self.evidence.push(Evidence {
            path: path.into(),
            line,
            detail: detail.into(),
        });
        self
    }

    pub fn level(mut self, level: Level) -> Hit {
        self.level = Some(level);
        self
    }
}

/// What a rule concluded.
#[derive(Debug, Clone)]
pub enum Outcome {
    Pass,
    Hits(Vec<Hit>),
    NotEvaluated(String),
}

pub struct Rule {
    pub id: &'static str,
    pub area: Area,
    pub level: Level,
    pub title: &'static str,
    pub source: &'static str,
    pub check: fn(&Inputs) -> Outcome,
}

/// Every rule this build knows, in report order.
pub const CATALOG: &[Rule] = &[
    image::IMP_FORMAT,
    image::IMP_SIZE,
    image::IMP_STANDALONE,
    image::IMP_ENCRYPT,
    os::IMP_OS,
    ssh::S01,
    ssh::S10,
    ssh::S14,
    accounts::S16,
    ssh::REC_SSH_PASSWORD,
    accounts::REC_USER,
    accounts::REC_ROOT_SHELL,
    boot::IMP_BOOT,
    boot::IMP_ROOTREF,
    launch::IMP_INITRAMFS,
    boot::REC_SERIAL,
    launch::REC_MODE,
    launch::G01,
    network::G03,
    network::G05,
    cloud_init::S08,
    cloud_init::G08,
    hygiene::REC_SECRETS,
    hygiene::REC_HISTORY,
    hygiene::REC_LEFTOVERS,
    hygiene::REC_UPDATES,
    hardening::REC_NTP,
    hardening::REC_FIREWALL,
    hardening::REC_MAC,
    hardening::REC_ISCSI,
];

/// Run every rule.
pub fn evaluate(inputs: &Inputs) -> (Vec<Finding>, Vec<NotEvaluated>) {
    let mut findings = Vec::new();
    let mut not_evaluated = Vec::new();
    for rule in CATALOG {
        match (rule.check)(inputs) {
            Outcome::Pass => {}
            Outcome::Hits(hits) => findings.extend(hits.into_iter().map(|h| Finding {
                rule: rule.id.to_string(),
                area: rule.area,
                level: h.level.unwrap_or(rule.level),
                title: h.title,
                evidence: h.evidence,
                remedy: h.remedy,
                source: rule.source.to_string(),
            })),
            Outcome::NotEvaluated(reason) => not_evaluated.push(NotEvaluated {
                rule: rule.id.to_string(),
                area: rule.area,
                title: rule.title.to_string(),
                reason,
            }),
        }
    }
    (findings, not_evaluated)
}

/// Rules that need the guest's files say why they could not run, with the same reason.
pub(crate) fn need_guest(inputs: &Inputs) -> Result<&GuestFacts, Outcome> {
    match &inputs.guest {
        Ok(g) => Ok(g),
        Err(why) => Err(Outcome::NotEvaluated(format!(
            "the guest file system could not be read: {why}"
        ))),
    }
}

pub(crate) fn outcome(hits: Vec<Hit>) -> Outcome {
    if hits.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Hits(hits)
    }
}
