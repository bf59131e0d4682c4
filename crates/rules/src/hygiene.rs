//! What must be cleaned before the image is captured (oci-image-rules.md section 3, after
//! Oracle's `oci-image-cleanup`): secrets (REC-SECRETS), histories (REC-HISTORY), build
//! leftovers (REC-LEFTOVERS), and stale software (REC-UPDATES).

use preflight_report::{Area, Level, human_size};

use crate::os::end_of_life;
use crate::sources::{IMAGES, MARKETPLACE_IMAGES};
use crate::{Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const REC_SECRETS: Rule = Rule {
    id: "REC-SECRETS",
    area: Area::Hygiene,
    level: Level::Warning,
    title: "No private keys, credentials or tokens are left in the image",
    source: MARKETPLACE_IMAGES,
    check: secrets,
};

pub const REC_HISTORY: Rule = Rule {
    id: "REC-HISTORY",
    area: Area::Hygiene,
    level: Level::Warning,
    title: "No shell or tool histories are left in the image",
    source: MARKETPLACE_IMAGES,
    check: histories,
};

pub const REC_LEFTOVERS: Rule = Rule {
    id: "REC-LEFTOVERS",
    area: Area::Hygiene,
    level: Level::Warning,
    title: "Build leftovers are removed (machine-id, logs, cloud-init state, leases, caches)",
    source: MARKETPLACE_IMAGES,
    check: leftovers,
};

pub const REC_UPDATES: Rule = Rule {
    id: "REC-UPDATES",
    area: Area::Hygiene,
    level: Level::Warning,
    title: "The software was updated when the image was made",
    source: IMAGES,
    check: updates,
};

fn secrets(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let h = &g.hygiene;
    if h.secrets.is_empty() {
        return Outcome::Pass;
    }
    let mut hit = Hit::new(
        format!(
            "{} secret{} left in the image: everyone who launches it gets {}",
            h.secrets.len(),
            if h.secrets.len() == 1 { "" } else { "s" },
            if h.secrets.len() == 1 { "it" } else { "them" }
        ),
        "Delete them as the last step before capture (shred -u FILE), and rotate every credential found: \
         the image may already have been copied. Keep build credentials out of the image (pass them at \
         build time, or use instance principals on OCI).",
    );
    for s in &h.secrets {
        hit = hit.at(
            s.path.clone(),
            s.line,
            format!(
                "{}: {}{}",
                s.kind,
                s.detail,
                s.user
                    .as_deref()
                    .map(|u| format!(" (user {u})"))
                    .unwrap_or_default()
            ),
        );
    }
    outcome(vec![hit])
}

fn histories(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let files: Vec<_> = g.hygiene.histories.iter().filter(|h| h.size > 0).collect();
    if files.is_empty() {
        return Outcome::Pass;
    }
    let mut hit = Hit::new(
        format!(
            "{} shell or tool histor{} left in the image",
            files.len(),
            if files.len() == 1 { "y" } else { "ies" }
        ),
        "Remove them as the last step before capture: rm -f /root/.*_history /home/*/.*_history \
         /root/.lesshst /root/.viminfo, and end the build shell with `unset HISTFILE` (or `history -c`) \
         so it does not write them again.",
    );
    for h in files {
        hit = hit.at(
            h.path.clone(),
            None,
            format!(
                "{} of {}{}",
                human_size(h.size),
                h.user,
                h.lines.map(|n| format!(", {n} lines")).unwrap_or_default()
            ),
        );
    }
    outcome(vec![hit])
}

/// The remedy for a leftover category, and its level (the LVM devices file can stop the
/// root volume group from activating: it is worth more than a warning's attention).
fn leftover_remedy(category: &str) -> (&'static str, Level) {
    match category {
        "machine-id" => (
            "Empty it, do not delete it: truncate -s 0 /etc/machine-id (systemd then makes a new one at first boot; a missing file breaks some units); rm -f /var/lib/dbus/machine-id and link it: ln -s /etc/machine-id /var/lib/dbus/machine-id",
            Level::Warning,
        ),
        "logs" | "log file" | "journal" | "rotated logs" => (
            "Empty the logs before capture: find /var/log -type f -exec truncate -s 0 {} +; rm -rf /var/log/journal/*; rm -f /var/log/*.gz /var/log/*.[0-9]",
            Level::Warning,
        ),
        "cloud-init log" | "cloud-init state" => (
            "Reset cloud-init so it runs as on a first boot: cloud-init clean --logs --seed (or rm -rf /var/lib/cloud/instances /var/lib/cloud/instance /var/log/cloud-init*.log)",
            Level::Warning,
        ),
        "DHCP leases" | "DHCP lease" => (
            "Remove the build host's leases: rm -f /var/lib/dhcp/*.leases /var/lib/dhclient/* /var/lib/NetworkManager/*.lease",
            Level::Warning,
        ),
        "temporary files" => (
            "Empty the temporary directories: rm -rf /tmp/* /var/tmp/*",
            Level::Warning,
        ),
        "random seed" => (
            "Remove the seed so every instance makes its own: rm -f /var/lib/systemd/random-seed",
            Level::Warning,
        ),
        "yum UUID" => ("rm -f /var/lib/yum/uuid", Level::Warning),
        "RHN system ID" | "consumer identity certificate" | "Red Hat subscription" => (
            "Unregister the build machine before capture: subscription-manager unregister && subscription-manager clean (older: rm -f /etc/sysconfig/rhn/systemid)",
            Level::Warning,
        ),
        "LVM cache" => ("rm -f /etc/lvm/cache/.cache", Level::Warning),
        "LVM devices file" => (
            "Remove the devices file (rm -f /etc/lvm/devices/system.devices) or set use_devicesfile=0 in /etc/lvm/lvm.conf: on a new disk, LVM ignores every physical volume it does not list",
            Level::Warning,
        ),
        "iSCSI node records" => (
            "Remove the build host's iSCSI targets: rm -rf /etc/iscsi/nodes/* /var/lib/iscsi/nodes/* /var/lib/iscsi/send_targets/*",
            Level::Warning,
        ),
        "persistent net rules" => (
            "rm -f /etc/udev/rules.d/70-persistent-net.rules (it pins interface names to the build host's MAC addresses)",
            Level::Warning,
        ),
        "known hosts" => (
            "Remove the build's known_hosts files: rm -f /root/.ssh/known_hosts /home/*/.ssh/known_hosts",
            Level::Warning,
        ),
        "package cache" => (
            "Clean the package cache to shrink the image: apt-get clean, or dnf clean all / yum clean all",
            Level::Info,
        ),
        "hostname" => (
            "Leave the hostname to cloud-init: echo localhost > /etc/hostname (or truncate it)",
            Level::Info,
        ),
        _ => (
            "Remove it before capture; Oracle's oci-image-cleanup script lists what an image must not carry",
            Level::Warning,
        ),
    }
}

fn leftovers(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    // One finding per category, in the order the scan found them.
    let mut order: Vec<&str> = Vec::new();
    for l in &g.hygiene.leftovers {
        if !order.contains(&l.category) {
            order.push(l.category);
        }
    }
    let mut hits = Vec::new();
    for category in order {
        let items: Vec<_> = g
            .hygiene
            .leftovers
            .iter()
            .filter(|l| l.category == category)
            .collect();
        let total: u64 = items.iter().map(|l| l.size).sum();
        let (remedy, level) = leftover_remedy(category);
        let mut hit = Hit::new(
            format!(
                "Leftover {category}: {} item{}, {}",
                items.len(),
                if items.len() == 1 { "" } else { "s" },
                human_size(total)
            ),
            remedy,
        )
        .level(level);
        for l in items.iter().take(20) {
            hit = hit.at(l.path.clone(), None, l.detail.clone());
        }
        if items.len() > 20 {
            hit = hit.at(
                "…",
                None,
                format!("and {} more of this kind", items.len() - 20),
            );
        }
        hits.push(hit);
    }
    outcome(hits)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian; H. Hinnant's
/// days_from_civil).
pub(crate) fn days(date: &str) -> Option<i64> {
    let mut it = date.get(..10)?.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A kernel or package manager this much older than today is stale.
const STALE_DAYS: i64 = 180;

fn updates(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut hits = Vec::new();
    if let Some(os) = &g.os
        && let Some((eol, past)) = end_of_life(os)
        && past
    {
        hits.push(
            Hit::new(
                format!(
                    "{} reached the end of its vendor support on {eol}: it gets no security updates",
                    os.pretty_name.as_deref().unwrap_or(&os.id)
                ),
                "Build the image from a supported release of the distribution (the dates are in crates/rules/data/os_eol.json, with their sources)",
            )
            .at(
                os.provenance.to_string(),
                None,
                format!("ID={} VERSION_ID={}", os.id, os.version_id.as_deref().unwrap_or("?")),
            ),
        );
    }
    let u = &g.updates;
    let Some(today) = i.today.as_deref().and_then(days) else {
        return if hits.is_empty() {
            Outcome::NotEvaluated(
                "today's date was not given, so the kernel's and the packages' age cannot be judged".into(),
            )
        } else {
            outcome(hits)
        };
    };
    let update = "Update the image before capture: apt-get update && apt-get -y dist-upgrade (Debian, Ubuntu), dnf -y update or yum -y update (Oracle Linux, RHEL), zypper -n update (SUSE); then reboot into the new kernel and clean up";
    if let Some(built) = &u.kernel_build_date
        && let Some(d) = days(built)
        && today - d > STALE_DAYS
    {
        hits.push(
            Hit::new(
                format!("The default kernel was built {} days ago", today - d),
                update,
            )
            .at(
                g.chain
                    .kernel_path
                    .clone()
                    .unwrap_or_else(|| "kernel".into()),
                None,
                format!(
                    "build date {built} (its version banner), release {}",
                    g.chain.release.as_deref().unwrap_or("?")
                ),
            ),
        );
    }
    // RPM records each package's install time in its database.
    if let Some(t) = g.packages.newest_install
        && u.last_package_operation.is_none()
    {
        let d = (t / 86_400) as i64;
        if today - d > STALE_DAYS {
            hits.push(
                Hit::new(
                    format!("The newest package was installed {} days ago", today - d),
                    update,
                )
                .at(
                    g.packages
                        .db
                        .as_ref()
                        .map(|(_, p)| p.clone())
                        .unwrap_or_default(),
                    None,
                    "newest INSTALLTIME in the RPM database",
                ),
            );
        }
    }
    if let Some((last, at)) = &u.last_package_operation
        && let Some(d) = days(last)
        && today - d > STALE_DAYS
    {
        hits.push(
            Hit::new(
                format!("The last package operation was {} days ago", today - d),
                update,
            )
            .at(at.path.clone(), at.line, format!("last entry dated {last}")),
        );
    }
    outcome(hits)
}

#[cfg(test)]
mod tests {
    use super::days;

    #[test]
    fn days_from_dates() {
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(
            days("2026-11-26").unwrap() - days("2026-05-30").unwrap(),
            180
        );
        assert_eq!(days("2026-13-01"), None);
        assert_eq!(days("junk"), None);
    }
}
