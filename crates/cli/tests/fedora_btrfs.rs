//! The Fedora layout end to end: GPT, `/boot` on ext4, one Btrfs file system with subvolumes
//! `root` and `home` (default subvolume: the top level), written with zstd compression, and an
//! fstab that mounts them with `subvol=`. Built with mkfs.btrfs and `btrfs subvolume create`.

mod common;

use common::{fired, report};
use preflight_fixtures::{FEDORA_BTRFS_UUID, debian_guest, fedora_disk, fedora_fstab, test_key};

const FEDORA_OS_RELEASE: &str = "NAME=\"Fedora Linux\"\nVERSION=\"40 (Cloud Edition)\"\n\
ID=fedora\nVERSION_ID=40\nVARIANT=\"Cloud Edition\"\nVARIANT_ID=cloud\n\
PRETTY_NAME=\"Fedora Linux 40 (Cloud Edition)\"\n";

#[test]
fn fedora_btrfs_subvolumes_are_mounted_as_fstab_says() {
    let (_, user_public) = test_key("user");
    let tree = debian_guest()
        .remove("/etc/os-release")
        .file("/etc/os-release", FEDORA_OS_RELEASE)
        .file("/etc/fstab", fedora_fstab())
        .file("/home/debian/.ssh/authorized_keys", &user_public)
        .chown("/home/debian/.ssh/authorized_keys", 1000, 1000);
    let (code, r) = report(&fedora_disk(&tree));
    assert_eq!(code, 1, "S10 and IMP-FORMAT (raw) are blockers");
    let g = r
        .guest
        .as_ref()
        .unwrap_or_else(|| panic!("no guest: {:?}\n{:#?}", r.guest_error, r.volumes));
    let os = g.os.as_ref().unwrap();
    assert_eq!(
        (os.id.as_deref(), os.version_id.as_deref()),
        (Some("fedora"), Some("40"))
    );
    let btrfs = r
        .volumes
        .iter()
        .find(|v| v.content.as_deref() == Some("btrfs"))
        .unwrap_or_else(|| panic!("{:#?}", r.volumes));
    assert_eq!(btrfs.uuid.as_deref(), Some(FEDORA_BTRFS_UUID));
    assert!(btrfs.readable);
    let outcomes: Vec<(&str, &str)> = g
        .fstab
        .iter()
        .map(|l| (l.mount_point.as_str(), l.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [("/", "root"), ("/boot", "mounted"), ("/home", "mounted")]
    );
    // /home/debian/.ssh/authorized_keys lives in subvolume `home`: S10 sees it.
    let s10 = fired(&r, "S10");
    assert!(
        s10.iter().any(|f| f
            .evidence
            .iter()
            .any(|e| e.path == "/home/debian/.ssh/authorized_keys")),
        "{:#?}",
        r.findings
    );
    // Kernels from /boot (ext4) and /lib/modules (subvolume root): paravirtualized.
    assert!(!g.kernels.is_empty());
    assert_eq!(
        r.recommendation.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED")
    );
    assert!(
        r.notes.iter().any(|n| n.contains("subvolume root")),
        "the note says which subvolume stands for the volume: {:#?}",
        r.notes
    );
}
