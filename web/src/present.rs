//! Words and numbers the page shows, kept apart from the DOM so they are tested natively.

use preflight_report::{Level, Report, Status, human_size};

/// The verdict's headline.
pub fn verdict_title(report: &Report) -> String {
    let v = &report.verdict;
    match v.status {
        Status::Ready => "Ready for OCI import".into(),
        Status::Blocked => match v.blockers {
            1 => "1 blocker found".into(),
            n => format!("{n} blockers found"),
        },
        Status::Incomplete => match v.not_evaluated {
            1 => "Incomplete: 1 rule could not run".into(),
            n => format!("Incomplete: {n} rules could not run"),
        },
    }
}

pub fn status_class(status: Status) -> &'static str {
    match status {
        Status::Ready => "ready",
        Status::Blocked => "blocked",
        Status::Incomplete => "incomplete",
    }
}

pub fn level_heading(level: Level) -> &'static str {
    match level {
        Level::Blocker => "Blockers",
        Level::Warning => "Warnings",
        Level::Info => "Information",
    }
}

/// "blocker"/"blockers", "warning"/"warnings", "info".
pub fn level_word(level: Level, n: usize) -> &'static str {
    match (level, n) {
        (Level::Blocker, 1) => "blocker",
        (Level::Blocker, _) => "blockers",
        (Level::Warning, 1) => "warning",
        (Level::Warning, _) => "warnings",
        (Level::Info, _) => "info",
    }
}

/// The area as a stable identifier for the page's markup and tests.
pub fn area_id(area: preflight_report::Area) -> &'static str {
    use preflight_report::Area;
    match area {
        Area::Image => "image",
        Area::Boot => "boot",
        Area::SshAccounts => "ssh_accounts",
        Area::Network => "network",
        Area::CloudInit => "cloud_init",
        Area::Hygiene => "hygiene",
        Area::Hardening => "hardening",
    }
}

pub fn level_explanation(level: Level) -> &'static str {
    match level {
        Level::Blocker => "OCI import or Marketplace review fails until these are fixed.",
        Level::Warning => "Review expects these fixed; they may not stop an import.",
        Level::Info => "Worth knowing; nothing to fix.",
    }
}

/// "PARAVIRTUALIZED" → "Paravirtualized".
pub fn launch_mode_name(mode: &str) -> String {
    let lower = mode.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The OCI CLI command that imports the image (uploaded to Object Storage) with the recommended
/// launch mode; the parts only the publisher knows are in angle brackets.
pub fn import_command(report: &Report) -> Option<String> {
    let mode = report.recommendation.launch_mode.as_deref()?;
    // OCI imports QCOW2 and VMDK; anything else is converted to QCOW2 first (IMP-FORMAT
    // says how), so the command names the converted file.
    let (source_type, object) = match report.image.format.as_str() {
        "qcow2" => ("QCOW2", report.image.name.clone()),
        "vmdk" => ("VMDK", report.image.name.clone()),
        _ => {
            let name = &report.image.name;
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            ("QCOW2", format!("{stem}.qcow2"))
        }
    };
    let mut cmd = format!(
        "oci compute image import from-object \\\n  --namespace <namespace> \\\n  \
         --bucket-name <bucket> \\\n  --name {} \\\n  --compartment-id <compartment-ocid> \\\n  \
         --display-name <image-name> \\\n  --source-image-type {source_type} \\\n  \
         --launch-mode {mode}",
        shell_word(&object)
    );
    if let Some(os) = report.guest.as_ref().and_then(|g| g.os.as_ref()) {
        if let Some(name) = &os.name {
            cmd.push_str(&format!(" \\\n  --operating-system {}", shell_word(name)));
        }
        if let Some(version) = &os.version_id {
            cmd.push_str(&format!(
                " \\\n  --operating-system-version {}",
                shell_word(version)
            ));
        }
    }
    Some(cmd)
}

/// Quote for a POSIX shell unless the word is plain.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// "2.4 MiB read in 12 calls (0.08 % of the file), 310 ms".
pub fn read_summary(bytes_read: u64, read_calls: u64, file_size: u64, elapsed_ms: u64) -> String {
    let share = if file_size == 0 {
        String::new()
    } else {
        format!(
            " ({} of the file)",
            percent(bytes_read as f64 / file_size as f64)
        )
    };
    let calls = if read_calls == 1 { "call" } else { "calls" };
    format!(
        "{} read in {read_calls} {calls}{share}, {}",
        human_size(bytes_read),
        duration(elapsed_ms)
    )
}

fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p >= 10.0 {
        format!("{p:.0} %")
    } else if p >= 0.1 {
        format!("{p:.1} %")
    } else {
        format!("{p:.2} %")
    }
}

pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// The file name for the downloaded report: `<image>.preflight.json`.
pub fn report_file_name(image_name: &str) -> String {
    let base: String = image_name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() {
        "image".into()
    } else {
        base
    };
    format!("{base}.preflight.json")
}

/// How publishers name the format: "QCOW2", "VHD" (qemu-img's `vpc`), "OCI archive (QCOW2)".
pub fn format_label(image: &preflight_report::Image) -> String {
    let format = match image.format.as_str() {
        "vpc" => "VHD".to_string(),
        other => other.to_uppercase(),
    };
    match &image.archive {
        Some(a) => format!("{} archive ({format})", a.kind.to_uppercase()),
        None => format,
    }
}

/// "VMDK streamOptimized, version 3, 64 KiB grains, deflate, 40.0 MiB allocated".
pub fn container_summary(image: &preflight_report::Image) -> String {
    let mut parts = vec![match &image.subformat {
        Some(sub) => format!("{} {sub}", format_label(image)),
        None => format_label(image),
    }];
    if let Some(v) = &image.version {
        parts.push(format!("version {v}"));
    }
    if let Some(b) = image.block_size {
        parts.push(format!("{} blocks", human_size(b)));
    }
    if let Some(c) = &image.compression {
        parts.push(format!("{c} compression"));
    }
    if let Some(a) = image.allocated_size {
        parts.push(format!("{} allocated", human_size(a)));
    }
    parts.join(", ")
}

pub fn archive_summary(a: &preflight_report::Archive) -> String {
    let members = a
        .members
        .iter()
        .map(|m| format!("{} ({})", m.name, human_size(m.size)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{}{}: {members}; disk {}",
        a.kind.to_uppercase(),
        a.compression
            .as_deref()
            .map(|c| format!(" ({c}: decompressed once to index it)"))
            .unwrap_or_default(),
        a.disk_member
    )
}

pub fn oci_metadata_summary(m: &preflight_report::OciMetadata) -> String {
    let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "not set".into());
    let mut s = format!(
        "firmware {}, boot volume {}, network {}, OS {}{}",
        field(&m.firmware),
        field(&m.boot_volume_type),
        field(&m.network_type),
        field(&m.operating_system),
        m.operating_system_version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    if !m.shapes.is_empty() {
        s.push_str(&format!("; shapes {}", m.shapes.join(", ")));
    }
    s
}

pub fn ovf_summary(o: &preflight_report::Ovf) -> String {
    let mut parts = Vec::new();
    if let Some(os) = &o.os_type {
        parts.push(format!("OS {os}"));
    }
    if let Some(c) = o.cpus {
        parts.push(format!("{c} CPU"));
    }
    if let Some(m) = o.memory_mib {
        parts.push(format!("{m} MiB memory"));
    }
    for c in &o.disk_capacities {
        parts.push(format!("disk {}", human_size(*c)));
    }
    if !o.nics.is_empty() {
        parts.push(format!("NIC {}", o.nics.join(", ")));
    }
    if !o.controllers.is_empty() {
        parts.push(format!("controllers {}", o.controllers.join(", ")));
    }
    if !o.manifest_checks.is_empty() {
        let bad = o
            .manifest_checks
            .iter()
            .filter(|c| c.matches != Some(true))
            .count();
        parts.push(if bad == 0 {
            "manifest digests match".to_string()
        } else {
            format!("{bad} manifest digest(s) do not match")
        });
    } else if o.manifest.is_some() {
        parts.push("manifest not checked".to_string());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_command_names_the_file_oci_takes() {
        let json = |name: &str, format: &str| {
            format!(
                r#"{{"schema_version":1,"tool":{{"name":"preflight","version":"0"}},
                "image":{{"name":"{name}","format":"{format}","file_size":1,"virtual_size":1}},
                "verdict":{{"status":"ready","blockers":0,"warnings":0,"infos":0,"not_evaluated":0,"summary":""}},
                "recommendation":{{"launch_mode":"PARAVIRTUALIZED","firmware":["BIOS"],"reasons":[]}},
                "findings":[],"not_evaluated":[],"volumes":[],"notes":[],
                "stats":{{"bytes_read":0,"read_calls":0,"elapsed_ms":0}}}}"#
            )
        };
        let cmd = |name: &str, format: &str| {
            let report: Report = serde_json::from_str(&json(name, format)).unwrap();
            import_command(&report).unwrap()
        };
        assert!(cmd("a.qcow2", "qcow2").contains("--name a.qcow2 \\\n"));
        assert!(cmd("a.qcow2", "qcow2").contains("--source-image-type QCOW2"));
        assert!(cmd("disk.raw", "raw").contains("--name disk.qcow2 \\\n"));
        assert!(cmd("my disk.img", "raw").contains("--name 'my disk.qcow2'"));
        assert!(cmd("a.qcow2", "qcow2").ends_with("--launch-mode PARAVIRTUALIZED"));
    }

    #[test]
    fn words() {
        assert_eq!(launch_mode_name("PARAVIRTUALIZED"), "Paravirtualized");
        assert_eq!(launch_mode_name(""), "");
        assert_eq!(shell_word("disk.qcow2"), "disk.qcow2");
        assert_eq!(shell_word("Debian GNU/Linux"), "'Debian GNU/Linux'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(
            report_file_name("my disk.qcow2"),
            "my_disk.qcow2.preflight.json"
        );
        assert_eq!(report_file_name(""), "image.preflight.json");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1500), "1.5 s");
        assert_eq!(percent(0.5), "50 %");
        assert_eq!(percent(0.005), "0.5 %");
        assert_eq!(percent(0.00001), "0.00 %");
        assert!(read_summary(1024, 1, 4096, 5).contains("in 1 call (25 % of the file), 5 ms"));
    }
}
