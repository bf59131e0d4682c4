//! REC-SECRETS, REC-HISTORY, REC-LEFTOVERS and REC-UPDATES through the real binary: each
//! fires on a guest with what a careless build leaves, and not on the clean guest.

mod common;

use common::{evidence, fired, report};
use preflight_fixtures::{
    BootChainSpec, Container, DiskSpec, FirmwareLayout, GuestTree, KernelArch, Partitioning,
    boot_chain_disk, debian_guest, image, test_key,
};
use preflight_report::{Area, Level};

fn bootable(tree: GuestTree) -> std::path::PathBuf {
    image(
        &DiskSpec {
            partitioning: Partitioning::GptEfi,
            ..DiskSpec::new(tree)
        },
        Container::Qcow2V3,
    )
}

#[test]
fn a_careless_build_leaves_secrets_histories_and_leftovers() {
    let (private, _) = test_key("user");
    let tree = debian_guest()
        .file_mode("/home/debian/.ssh/id_ed25519", &private, 0o600)
        .file(
            "/root/.aws/credentials",
            "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        )
        .file("/root/.bash_history", "apt-get install foo\nexport TOKEN=abc\n")
        .file("/etc/machine-id", "5eed5eed5eed5eed5eed5eed5eed5eed\n")
        .file("/var/log/syslog", "Nov 20 10:00:00 build kernel: booted\n")
        .file(
            "/var/lib/dhcp/dhclient.eth0.leases",
            "lease {\n  interface \"eth0\";\n  fixed-address 10.0.0.5;\n}\n",
        )
        .file("/var/lib/cloud/instances/build-1/sem/config_ssh", "done\n");
    let (_, r) = report(&bootable(tree));

    let s = fired(&r, "REC-SECRETS");
    assert_eq!(s.len(), 1, "{:#?}", r.findings);
    assert_eq!((s[0].level, s[0].area), (Level::Warning, Area::Hygiene));
    let seen = evidence(s[0]);
    assert!(seen.contains("/home/debian/.ssh/id_ed25519"), "{seen}");
    assert!(seen.contains("/root/.aws/credentials"), "{seen}");
    // Never the secret itself, anywhere in the report.
    let json = serde_json::to_string(&r).unwrap();
    for secret in [
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAIOSFODNN7EXAMPLE",
        private.lines().nth(1).unwrap(),
        "TOKEN=abc",
    ] {
        assert!(!json.contains(secret), "{secret} leaked into the report");
    }

    let h = fired(&r, "REC-HISTORY");
    assert_eq!(h.len(), 1);
    assert!(evidence(h[0]).contains("/root/.bash_history"));
    assert!(evidence(h[0]).contains("2 lines"), "{}", evidence(h[0]));

    let l = fired(&r, "REC-LEFTOVERS");
    let titles: Vec<&str> = l.iter().map(|f| f.title.as_str()).collect();
    for category in ["machine-id", "cloud-init state", "DHCP"] {
        assert!(
            titles.iter().any(|t| t.contains(category)),
            "{category} not in {titles:#?}"
        );
    }
    let machine_id = l.iter().find(|f| f.title.contains("machine-id")).unwrap();
    assert!(machine_id.remedy.contains("truncate -s 0 /etc/machine-id"));
    assert!(
        l.iter().any(|f| evidence(f).contains("/var/log/syslog")),
        "{titles:#?}"
    );
}

#[test]
fn the_clean_guest_has_no_hygiene_finding() {
    let (_, r) = report(&bootable(debian_guest()));
    for rule in ["REC-SECRETS", "REC-HISTORY", "REC-LEFTOVERS"] {
        assert!(fired(&r, rule).is_empty(), "{rule}: {:#?}", r.findings);
        assert!(!r.not_evaluated.iter().any(|n| n.rule == rule), "{rule}");
    }
}

#[test]
fn rec_updates_weighs_the_kernel_build_date_against_today() {
    // The Debian fixture's kernel banner says it was built on 2024-02-01: stale by now.
    let (_, r) = report(&bootable(debian_guest()));
    let f = fired(&r, "REC-UPDATES");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(
        evidence(f[0]).contains("build date 2024-02-01"),
        "{}",
        evidence(f[0])
    );
    assert!(f[0].remedy.contains("apt-get"));

    // Debian's current cloud kernel, fetched today: fresh.
    let disk = boot_chain_disk(&BootChainSpec::new(
        KernelArch::Amd64,
        FirmwareLayout::BiosMbrGap,
    ));
    let (_, r) = report(&disk);
    assert!(fired(&r, "REC-UPDATES").is_empty(), "{:#?}", r.findings);

    // An end-of-life release is stale whatever its kernel.
    let tree = debian_guest().file(
        "/usr/lib/os-release",
        preflight_fixtures::DEBIAN_OS_RELEASE
            .replace("VERSION_ID=\"12\"", "VERSION_ID=\"10\"")
            .replace("12 (bookworm)", "10 (buster)"),
    );
    let (_, r) = report(&bootable(tree));
    let f = fired(&r, "REC-UPDATES");
    assert!(
        f.iter()
            .any(|f| f.title.contains("end of its vendor support on 2024-06-30")),
        "{:#?}",
        r.findings
    );
}
