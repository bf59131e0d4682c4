//! The Oracle Linux 8/9 layout end to end: MBR, `/boot` on XFS, the root on XFS in the LVM
//! volume group `ocivolume`, `/var/oled` on another LV, fstab naming them by
//! `/dev/mapper/…` and `UUID=`. Built with mkfs.xfs, mkfs.ext4, sfdisk and LVM (activation
//! off); the report must find the guest through all of it, raw and as QCOW2.

mod common;

use std::process::Command;

use common::{fired, report, scratch, sh};
use preflight_fixtures::{
    OL_BOOT_UUID, OL_ROOT_UUID, debian_guest, ol_fstab, ol_root_mount, oracle_linux_disk, test_key,
};
use preflight_report::Report;

const OL_OS_RELEASE: &str = "NAME=\"Oracle Linux Server\"\nVERSION=\"9.4\"\nID=\"ol\"\n\
ID_LIKE=\"fedora\"\nVARIANT=\"Server\"\nVARIANT_ID=\"server\"\nVERSION_ID=\"9.4\"\n\
PLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Oracle Linux Server 9.4\"\nANSI_COLOR=\"0;31\"\n\
CPE_NAME=\"cpe:/o:oracle:linux:9:4:server\"\nHOME_URL=\"https://linux.oracle.com/\"\n";

fn tree() -> preflight_fixtures::GuestTree {
    let (_, user_public) = test_key("user");
    debian_guest()
        .remove("/etc/os-release")
        .file("/etc/os-release", OL_OS_RELEASE)
        .file("/etc/fstab", ol_fstab())
        .file("/var/oled/README", "Oracle Linux Enhanced Diagnostics\n")
        .file("/root/.ssh/authorized_keys", &user_public)
}

fn volume(
    r: &Report,
    pred: impl Fn(&preflight_report::Volume) -> bool,
) -> &preflight_report::Volume {
    r.volumes
        .iter()
        .find(|v| pred(v))
        .unwrap_or_else(|| panic!("{:#?}", r.volumes))
}

fn check(r: &Report, what: &str) {
    let g = r
        .guest
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no guest: {:?}\n{:#?}", r.guest_error, r.volumes));
    let os = g.os.as_ref().expect("os");
    assert_eq!(
        (os.id.as_deref(), os.version_id.as_deref()),
        (Some("ol"), Some("9.4")),
        "{what}"
    );
    // /boot (partition 1, XFS), the PV (partition 2), the two LVs.
    let boot = volume(r, |v| v.number == Some(1));
    assert_eq!(
        (boot.content.as_deref(), boot.uuid.as_deref(), boot.readable),
        (Some("xfs"), Some(OL_BOOT_UUID), true),
        "{what}"
    );
    assert_eq!(boot.mounted_at.as_deref(), Some("/boot"), "{what}");
    let pv = volume(r, |v| v.number == Some(2));
    assert_eq!(pv.content.as_deref(), Some("LVM2_member"), "{what}");
    let root = volume(r, |v| v.lv.as_deref() == Some("ocivolume/root"));
    assert_eq!(
        (
            root.kind.as_str(),
            root.content.as_deref(),
            root.uuid.as_deref()
        ),
        ("lv", Some("xfs"), Some(OL_ROOT_UUID)),
        "{what}"
    );
    assert_eq!(root.mounted_at.as_deref(), Some("/"), "{what}");
    let oled = volume(r, |v| v.lv.as_deref() == Some("ocivolume/oled"));
    assert_eq!(
        (oled.content.as_deref(), oled.mounted_at.as_deref()),
        (Some("ext4"), Some("/var/oled")),
        "{what}"
    );
    // Every fstab line found its volume.
    let outcomes: Vec<(&str, &str)> = g
        .fstab
        .iter()
        .map(|l| (l.mount_point.as_str(), l.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("/", "root"),
            ("/boot", "mounted"),
            ("/var/oled", "mounted")
        ],
        "{what}"
    );
    // Kernels come from /boot (the XFS partition) and /lib/modules (the root LV).
    assert!(!g.kernels.is_empty(), "{what}: {:#?}", g.kernels);
    assert!(g.users.iter().any(|u| u.name == "root"), "{what}");
    assert!(!g.sshd.is_empty(), "{what}");
    // Findings read through XFS on LVM: root's authorized_keys.
    assert!(!fired(r, "S10").is_empty(), "{what}: {:#?}", r.findings);
    assert!(
        fired(r, "IMP-STANDALONE").is_empty(),
        "{what}: {:#?}",
        r.findings
    );
    assert_eq!(
        r.recommendation.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED"),
        "{what}"
    );
    // The boot loader's kernel command line (read from /boot on XFS) names the Debian root's
    // UUID, which this image does not have: said, and the root stays the one fstab confirms.
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("root=UUID=") && n.contains("on no volume of this image")),
        "{what}: {:#?}",
        r.notes
    );
}

#[test]
fn oracle_linux_layout_raw_and_qcow2() {
    let raw = oracle_linux_disk(&tree());
    let (code, r) = report(&raw);
    assert_eq!(code, 1, "S10 and IMP-FORMAT (raw) are blockers");
    check(&r, "raw");

    let dir = scratch("oracle-linux-qcow2");
    let qcow2 = dir.join("ol9.qcow2");
    sh(Command::new("qemu-img")
        .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&qcow2));
    let (_, q) = report(&qcow2);
    check(&q, "qcow2");
    assert!(fired(&q, "IMP-FORMAT").is_empty());
}

/// What the report read from the root LV is what the kernel shows there.
#[test]
fn the_root_lv_reads_like_the_kernel_mount() {
    let raw = oracle_linux_disk(&tree());
    let (_, r) = report(&raw);
    let mount = ol_root_mount(&raw).expect("mount the root LV read-only");
    let os_release = std::fs::read_to_string(mount.path().join("etc/os-release")).unwrap();
    assert_eq!(os_release, OL_OS_RELEASE);
    let g = r.guest.as_ref().unwrap();
    assert_eq!(
        g.os.as_ref().unwrap().pretty_name.as_deref(),
        Some("Oracle Linux Server 9.4")
    );
    let keys: Vec<&str> = g.authorized_keys.iter().map(|k| k.path.as_str()).collect();
    assert!(
        mount.path().join("root/.ssh/authorized_keys").is_file()
            && keys.contains(&"/root/.ssh/authorized_keys"),
        "{keys:?}"
    );
}

/// The volume group also spans a second disk that is not in the image: IMP-STANDALONE names
/// the VG and the missing PV; the LV on it is listed as not readable; the rest still reads.
#[test]
fn a_volume_group_with_a_pv_on_another_disk_is_not_standalone() {
    let disk = preflight_fixtures::oracle_linux_disk_missing_pv(&tree());
    let (code, r) = report(&disk);
    assert_eq!(code, 1);
    let standalone = fired(&r, "IMP-STANDALONE");
    let hit = standalone
        .iter()
        .find(|f| f.title.contains("LVM volume group"))
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert!(
        hit.evidence[0]
            .detail
            .contains("volume group ocivolume needs physical volume"),
        "{:#?}",
        hit.evidence
    );
    let data = volume(&r, |v| v.lv.as_deref() == Some("ocivolume/data"));
    assert!(!data.readable);
    assert!(
        data.note
            .as_deref()
            .unwrap_or_default()
            .contains("not readable"),
        "{data:#?}"
    );
    check_guest_only(&r);
}

/// The guest is still found through the LVs on the disk that is there.
fn check_guest_only(r: &Report) {
    let g = r.guest.as_ref().expect("guest");
    assert_eq!(g.os.as_ref().unwrap().id.as_deref(), Some("ol"));
    let root = volume(r, |v| v.lv.as_deref() == Some("ocivolume/root"));
    assert_eq!(root.mounted_at.as_deref(), Some("/"));
}

/// The kernel command line names the root by its device-mapper path, as Oracle Linux's does:
/// it resolves to the root LV (no note), read from the grub.cfg on /boot (XFS).
#[test]
fn kernel_command_line_root_by_device_mapper_name() {
    let grub_cfg = preflight_fixtures::grub_cfg(OL_ROOT_UUID).replace(
        &format!("root=UUID={OL_ROOT_UUID}"),
        "root=/dev/mapper/ocivolume-root rd.lvm.lv=ocivolume/root",
    );
    assert!(grub_cfg.contains("root=/dev/mapper/ocivolume-root"));
    let disk = oracle_linux_disk(&tree().file("/boot/grub/grub.cfg", grub_cfg));
    let (_, r) = report(&disk);
    check_guest_only(&r);
    assert!(
        !r.notes.iter().any(|n| n.contains("kernel command line")),
        "{:#?}",
        r.notes
    );
}
