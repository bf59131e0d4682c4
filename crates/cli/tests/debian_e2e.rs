//! End to end on a real distribution: a Debian 12 cloud image made by debootstrap with the
//! real kernel, initramfs-tools, cloud-init, openssh, chrony, netplan and GRUB for BIOS and
//! UEFI (tests/fixtures/src/debootstrap.rs). The clean image passes every blocker; the
//! violating one, with the violations planted in it, makes each planted rule fire with
//! evidence at the planted path — through every container format.

mod common;

use std::collections::BTreeSet;

use common::{blockers, fired, report};
use preflight_fixtures::{
    Container, DEBIAN_CLOUD_VIOLATIONS, debian_cloud_image, debian_cloud_kernel_release,
};
use preflight_report::Report;

/// The rule that must fire for each planted violation, and the guest path its evidence
/// names (the reference's rule, or the one that covers it here).
fn expected(r: &Report) -> Vec<String> {
    let mut missing = Vec::new();
    for v in DEBIAN_CLOUD_VIOLATIONS {
        let found = fired(r, v.rule).iter().any(|f| {
            f.evidence.iter().any(|e| {
                e.path == v.path
                    || e.path.starts_with(v.path)
                    || v.path.starts_with(&format!("{}/", e.path))
                    || e.detail.contains(v.path)
            })
        });
        if !found {
            missing.push(format!("{} at {} ({})", v.rule, v.path, v.what));
        }
    }
    missing
}

#[test]
fn the_clean_debian_cloud_image_is_ready_and_paravirtualized() {
    let (code, r) = report(&debian_cloud_image(false, Container::Qcow2V3));
    assert_eq!(blockers(&r), Vec::<&str>::new(), "{:#?}", r.findings);
    assert_eq!(code, 0);
    let rec = &r.recommendation;
    assert_eq!(
        rec.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED"),
        "{:#?}",
        rec.reasons
    );
    assert_eq!(rec.firmware, ["BIOS", "UEFI_64"]);
    let kernel = rec.chain.iter().find(|s| s.step == "kernel").unwrap();
    assert!(
        kernel.summary.contains(&debian_cloud_kernel_release()),
        "{kernel:?}"
    );
    // The planted rules stay quiet on the clean image.
    let planted: BTreeSet<&str> = DEBIAN_CLOUD_VIOLATIONS.iter().map(|v| v.rule).collect();
    for rule in planted {
        let hits: Vec<_> = fired(&r, rule)
            .into_iter()
            .filter(|f| f.level != preflight_report::Level::Info)
            .collect();
        assert!(
            hits.is_empty(),
            "{rule} fired on the clean image: {hits:#?}"
        );
    }
}

#[test]
fn every_planted_violation_is_found_in_every_container() {
    let mut first: Option<Vec<(String, String)>> = None;
    for container in [
        Container::Qcow2V3,
        Container::VmdkStream,
        Container::VhdDynamic,
        Container::VhdxDynamic,
        Container::VdiDynamic,
        Container::Oci,
        Container::Ova,
    ] {
        let (code, r) = report(&debian_cloud_image(true, container));
        assert_eq!(code, 1, "{container:?}");
        let missing = expected(&r);
        assert!(
            missing.is_empty(),
            "{container:?}: not found: {missing:#?}\nfindings: {:#?}",
            r.findings
        );
        // The guest's findings are the same whatever the container.
        let guest: Vec<(String, String)> = r
            .findings
            .iter()
            .filter(|f| !matches!(f.rule.as_str(), "IMP-FORMAT" | "IMP-STANDALONE"))
            .map(|f| (f.rule.clone(), f.title.clone()))
            .collect();
        match &first {
            None => first = Some(guest),
            Some(f) => assert_eq!(f, &guest, "{container:?}"),
        }
    }
}
