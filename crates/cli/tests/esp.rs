//! The EFI system partition is a FAT file system mounted at /boot/efi by fstab, as Debian,
//! Ubuntu and the Red Hat family write it (`UUID=XXXX-XXXX /boot/efi vfat umask=0077 0 1`).

mod common;

use common::report;
use preflight_fixtures::{
    Container, DiskSpec, ESP_VOLUME_ID, Partitioning, ROOT_UUID, debian_guest, fstab, image,
};

#[test]
fn the_esp_is_read_and_mounted_at_boot_efi() {
    let uuid = format!("{}-{}", &ESP_VOLUME_ID[..4], &ESP_VOLUME_ID[4..]);
    let tree = debian_guest().file(
        "/etc/fstab",
        format!(
            "{}UUID={uuid} /boot/efi vfat umask=0077 0 1\n",
            fstab(ROOT_UUID)
        ),
    );
    let spec = DiskSpec {
        partitioning: Partitioning::GptEfi,
        ..DiskSpec::new(tree)
    };
    let (code, r) = report(&image(&spec, Container::Qcow2V3));
    assert_eq!(code, 0, "{:#?}", r.findings);
    let esp = r
        .volumes
        .iter()
        .find(|v| v.content.as_deref() == Some("vfat"))
        .unwrap_or_else(|| panic!("{:#?}", r.volumes));
    assert_eq!(esp.uuid.as_deref(), Some(uuid.as_str()));
    assert!(esp.readable, "{esp:#?}");
    assert_eq!(esp.mounted_at.as_deref(), Some("/boot/efi"));
    let g = r.guest.as_ref().unwrap();
    let line = g
        .fstab
        .iter()
        .find(|l| l.mount_point == "/boot/efi")
        .unwrap();
    assert_eq!(line.outcome, "mounted");
    assert_eq!(line.volume, Some(esp.index));
}
