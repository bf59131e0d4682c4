//! cloud-init as the instance will run it (facts/cloud_init, facts/systemd): it takes the
//! customer's SSH key at launch (S08), and nothing uses the v1 metadata service (G08).

use preflight_facts::cloud_init::DisabledBy;
use preflight_report::{Area, Level};

use crate::os::version_cmp;
use crate::sources::MARKETPLACE_IMAGES;
use crate::{GuestFacts, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const S08: Rule = Rule {
    id: "S08",
    area: Area::CloudInit,
    level: Level::Blocker,
    title: "cloud-init (or an equivalent agent) takes the customer's SSH key at launch",
    source: MARKETPLACE_IMAGES,
    check: s08,
};

pub const G08: Rule = Rule {
    id: "G08",
    area: Area::CloudInit,
    level: Level::Warning,
    title: "Nothing uses the instance metadata service v1 (IMDSv2 only)",
    source: MARKETPLACE_IMAGES,
    check: g08,
};

/// The units cloud-init runs as; `cloud-init.target` pulls them in on current versions.
pub(crate) const CLOUD_INIT_UNITS: [&str; 5] = [
    "cloud-init-local.service",
    "cloud-init.service",
    "cloud-config.service",
    "cloud-final.service",
    "cloud-init.target",
];

/// Datasources that read OCI's metadata: Oracle's own, and the OpenStack-compatible one.
const OCI_DATASOURCES: [&str; 2] = ["Oracle", "OpenStack"];

/// cloud-init ≥ 20.3 and Oracle Cloud Agent ≥ 0.0.19 speak IMDSv2 (oci-image-rules.md, G08).
const CLOUD_INIT_IMDSV2: &str = "20.3";
const AGENT_IMDSV2: &str = "0.0.19";

impl GuestFacts {
    /// cloud-init is installed, not disabled, and at least one of its units starts at boot
    /// (or none is known to be masked when unit states cannot tell).
    pub fn cloud_init_present(&self) -> bool {
        let c = &self.cloud_init;
        c.installed && c.disabled_by.is_empty() && self.cloud_init_units_ok().is_ok()
    }

    /// Whether systemd would start cloud-init: `Err` names the masked units, or says none is
    /// enabled.
    pub(crate) fn cloud_init_units_ok(&self) -> Result<(), String> {
        let masked: Vec<&str> = CLOUD_INIT_UNITS
            .iter()
            .copied()
            .filter(|u| self.systemd.unit(u).state == preflight_facts::systemd::UnitState::Masked)
            .collect();
        if !masked.is_empty() {
            return Err(format!("masked: {}", masked.join(", ")));
        }
        let known = CLOUD_INIT_UNITS
            .iter()
            .any(|u| self.systemd.unit(u).state != preflight_facts::systemd::UnitState::NotFound);
        if !known {
            // No unit file at all (a SysV or non-systemd guest): nothing to hold against it.
            return Ok(());
        }
        // enabled_at_boot follows cloud-init's generator too (the systemd facts model it).
        if CLOUD_INIT_UNITS
            .iter()
            .any(|u| self.systemd.enabled_at_boot(u))
        {
            Ok(())
        } else {
            Err("none of its units is enabled".into())
        }
    }

    /// cloud-init's version: the package database's, else the python package's.
    pub(crate) fn cloud_init_version(&self) -> Option<(String, String)> {
        if let Some(p) = self.packages.get("cloud-init") {
            return Some((
                p.version.clone(),
                self.packages
                    .db
                    .as_ref()
                    .map(|(_, path)| path.clone())
                    .unwrap_or_default(),
            ));
        }
        self.cloud_init
            .version
            .as_ref()
            .map(|v| (v.version.clone(), v.provenance.to_string()))
    }
}

/// `1:22.4.2-1` or `23.4-7.0.1.el9` → the upstream `22.4.2` / `23.4`.
fn upstream(version: &str) -> &str {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    v.split(['-', '~', '+']).next().unwrap_or(v)
}

fn s08(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let c = &g.cloud_init;
    let install = "Install cloud-init (apt-get install cloud-init, dnf install cloud-init, zypper install cloud-init) and enable it: systemctl enable cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service";
    if !c.installed {
        return outcome(vec![
            Hit::new(
                "cloud-init is not installed: an instance will not get the customer's SSH key",
                install,
            )
            .at(
                "/usr/bin/cloud-init",
                None,
                "no cloud-init executable, python package or package database entry",
            ),
        ]);
    }
    let mut hits = Vec::new();
    for d in &c.disabled_by {
        let (at, detail, remedy) = match d {
            DisabledBy::MarkerFile { path } => (
                path.clone(),
                "this file disables cloud-init".to_string(),
                format!("rm -f {path}"),
            ),
            DisabledBy::KernelCmdline { word } => (
                "kernel command line".to_string(),
                word.clone(),
                "Remove cloud-init=disabled from the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then regenerate the boot configuration)".to_string(),
            ),
        };
        hits.push(
            Hit::new(
                "cloud-init is disabled: an instance will not get the customer's SSH key",
                remedy,
            )
            .at(at, None, detail),
        );
    }
    if let Err(why) = g.cloud_init_units_ok() {
        let mut hit = Hit::new(
            format!("cloud-init will not start at boot ({why})"),
            "systemctl unmask cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service && systemctl enable cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service",
        );
        for u in CLOUD_INIT_UNITS {
            let unit = g.systemd.unit(u);
            if unit.state != preflight_facts::systemd::UnitState::NotFound {
                hit = hit.at(
                    unit.path.clone().unwrap_or_else(|| u.to_string()),
                    None,
                    format!("{u}: {}", unit.state.as_str()),
                );
            }
        }
        hits.push(hit);
    }
    if let Some(list) = &c.settings.datasource_list
        && !list
            .value
            .iter()
            .any(|d| OCI_DATASOURCES.contains(&d.as_str()))
    {
        hits.push(
            Hit::new(
                "cloud-init's datasource list has neither Oracle nor OpenStack: it will not read OCI's metadata",
                format!(
                    "Add Oracle to datasource_list (datasource_list: [ Oracle, OpenStack, None ]) in {}, or remove the setting",
                    list.provenance.path
                ),
            )
            .at(
                list.provenance.path.clone(),
                list.provenance.line,
                format!("datasource_list: [{}]", list.value.join(", ")),
            ),
        );
    }
    outcome(hits)
}

fn g08(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut hits = Vec::new();
    if g.cloud_init.installed
        && let Some((version, from)) = g.cloud_init_version()
        && version_cmp(upstream(&version), CLOUD_INIT_IMDSV2).is_lt()
    {
        hits.push(
            Hit::new(
                format!("cloud-init {version} uses the v1 metadata service (IMDSv2 needs {CLOUD_INIT_IMDSV2} or later)"),
                "Update cloud-init to the distribution's current version (20.3 or later)",
            )
            .at(from, None, format!("cloud-init {version}")),
        );
    }
    if let Some(p) = g.packages.get("oracle-cloud-agent")
        && version_cmp(upstream(&p.version), AGENT_IMDSV2).is_lt()
    {
        hits.push(
            Hit::new(
                format!("Oracle Cloud Agent {} uses the v1 metadata service (IMDSv2 needs {AGENT_IMDSV2} or later)", p.version),
                "Update oracle-cloud-agent (dnf update oracle-cloud-agent)",
            )
            .at(
                g.packages.db.as_ref().map(|(_, p)| p.clone()).unwrap_or_default(),
                None,
                format!("oracle-cloud-agent {}", p.version),
            ),
        );
    }
    let refs = &g.hardening.imds_refs;
    if !refs.refs.is_empty() {
        let mut hit = Hit::new(
            format!(
                "{} place{} call{} the v1 metadata service (/opc/v1/ or /openstack/)",
                refs.refs.len(),
                if refs.refs.len() == 1 { "" } else { "s" },
                if refs.refs.len() == 1 { "s" } else { "" }
            ),
            "Use IMDSv2: http://169.254.169.254/opc/v2/… with the header \"Authorization: Bearer Oracle\" (for example curl -H 'Authorization: Bearer Oracle' http://169.254.169.254/opc/v2/instance/)",
        );
        for r in refs.refs.iter().take(20) {
            hit = hit.at(r.at.path.clone(), r.at.line, r.text.clone());
        }
        hits.push(hit);
    }
    outcome(hits)
}

#[cfg(test)]
mod tests {
    use super::upstream;

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream("22.4.2-1"), "22.4.2");
        assert_eq!(upstream("0:23.4-7.0.1.el9"), "23.4");
        assert_eq!(upstream("19.4-7.0.5.el8_8"), "19.4");
        assert_eq!(upstream("24.1~4ubuntu1"), "24.1");
    }
}
