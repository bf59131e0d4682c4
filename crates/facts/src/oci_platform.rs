//! Signs that an image was built from an OCI platform image, which NATIVE launch mode requires
//! (launch-modes-and-shapes.md, "Decision" step 4): Oracle Cloud Agent, oci-utils, OCI yum
//! repositories, cloud-init's Oracle datasource, the OCI iSCSI boot configuration.
//!
//! Each sign is a guest path that exists (and for configuration files, a line that says so);
//! none alone proves the origin, so the report lists them all.

use crate::{Files, Provenance};

/// Files and directories whose presence is a sign, with what they are.
const PATHS: [(&str, &str); 9] = [
    (
        "/usr/lib/systemd/system/oracle-cloud-agent.service",
        "Oracle Cloud Agent unit",
    ),
    (
        "/etc/systemd/system/oracle-cloud-agent.service",
        "Oracle Cloud Agent unit",
    ),
    ("/usr/libexec/oracle-cloud-agent", "Oracle Cloud Agent"),
    ("/var/lib/oracle-cloud-agent", "Oracle Cloud Agent state"),
    ("/etc/oci-utils.conf", "oci-utils configuration"),
    ("/etc/oci-utils", "oci-utils configuration"),
    ("/usr/bin/oci-iscsi-config", "oci-utils (oci-iscsi-config)"),
    ("/usr/bin/oci-metadata", "oci-utils (oci-metadata)"),
    ("/etc/oci-hostname.conf", "OCI hostname configuration"),
];

/// Configuration globs whose contents may name OCI, and the words that do.
const CONFIGS: [(&str, &[&str]); 3] = [
    ("/etc/yum.repos.d/*.repo", &["oci", "oracle-cloud"]),
    ("/etc/cloud/cloud.cfg.d/*.cfg", &["Oracle"]),
    ("/etc/cloud/cloud.cfg", &["Oracle"]),
];

const MAX_CONFIG: u64 = 256 * 1024;

/// Every sign found, with where.
pub fn gather(files: &dyn Files) -> Vec<(Provenance, String)> {
    let mut out = Vec::new();
    for (path, what) in PATHS {
        let exists = matches!(files.head(path, 0), Ok(Some(_)))
            || matches!(files.list_dir(path), Ok(Some(_)));
        if exists {
            out.push((Provenance::file(path), what.to_string()));
        }
    }
    for (pattern, words) in CONFIGS {
        for path in files.glob(pattern).unwrap_or_default() {
            let Ok(Some(data)) = files.read(&path, MAX_CONFIG) else {
                continue;
            };
            let text = String::from_utf8_lossy(&data);
            let found = text.lines().enumerate().find(|(_, l)| {
                let l = l.trim();
                !l.starts_with('#') && words.iter().any(|w| mentions(l, w))
            });
            if let Some((n, line)) = found {
                out.push((
                    Provenance::line(&path, n as u32 + 1),
                    format!("names OCI: {}", line.trim()),
                ));
            }
        }
    }
    out
}

/// `word` as a whole word of `line` (`oci` in `[ol8_oci_included]`, not in `social`).
fn mentions(line: &str, word: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .any(|w| w.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn signs_of_an_oci_platform_image() {
        let files = MemFiles::new()
            .with("/etc/oci-hostname.conf", "PRESERVE_HOSTINFO=0\n")
            .with(
                "/etc/yum.repos.d/oracle-ol8.repo",
                "# social\n[ol8_oci_included]\nname=Oracle Linux 8 OCI\n",
            )
            .with("/etc/yum.repos.d/other.repo", "[social]\nname=social\n")
            .with(
                "/etc/cloud/cloud.cfg.d/99_oracle.cfg",
                "datasource_list: [ Oracle ]\n",
            );
        let signs = gather(&files);
        let paths: Vec<String> = signs.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            paths,
            [
                "/etc/oci-hostname.conf",
                "/etc/yum.repos.d/oracle-ol8.repo:2",
                "/etc/cloud/cloud.cfg.d/99_oracle.cfg:1"
            ]
        );
    }

    #[test]
    fn a_plain_image_has_none() {
        let files = MemFiles::new().with("/etc/yum.repos.d/a.repo", "[base]\nname=social\n");
        assert!(gather(&files).is_empty());
    }
}
