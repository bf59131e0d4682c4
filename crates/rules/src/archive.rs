//! IMP-FORMAT for disks that came in an archive: OCI's own `.oci` export (accepted by the
//! Console only) and OVA (not accepted), and whether an `.oci` archive's
//! `image_metadata.json` agrees with the disk it carries (launch-modes-and-shapes.md, "The
//! `.oci` archive").

use preflight_report::{Archive, Level, OciMetadata};

use crate::image::{display_format, stem};
use crate::{Hit, Inputs, Outcome, outcome};

const METADATA: &str = "image_metadata.json";

pub(crate) fn check(i: &Inputs, archive: &Archive) -> Outcome {
    let mut hits = match archive.kind.as_str() {
        "oci" => oci(i, archive),
        _ => ova(i, archive),
    };
    for problem in &archive.problems {
        hits.push(
            Hit::new(
                format!("The {} archive has a problem", archive.kind.to_uppercase()),
                "Re-export the image (or fix the archive's metadata and pack it again) so OCI reads what you intend",
            )
            .at(&i.image.name, None, problem.clone())
            .level(Level::Warning),
        );
    }
    outcome(hits)
}

fn oci(i: &Inputs, archive: &Archive) -> Vec<Hit> {
    let name = &i.image.name;
    let member = &archive.disk_member;
    let mut hits = Vec::new();
    if i.image.format != "qcow2" {
        hits.push(
            Hit::new(
                format!(
                    "The .oci archive's disk is {}, not QCOW2",
                    display_format(&i.image.format)
                ),
                format!(
                    "Extract it, convert it and pack the archive again:\ntar -xf {name} {member}\nqemu-img convert -p -O qcow2 {member} output.QCOW2\ntar -cf {name} output.QCOW2 {METADATA}"
                ),
            )
            .at(format!("{name}: {member}"), None, format!("format {}", i.image.format)),
        );
    }
    // Compressed: Oracle's own export writes tar.gz; the Console reads both. Say what the CLI
    // and API take instead, since pipelines use them.
    hits.push(
        Hit::new(
            "An .oci archive is imported by the OCI Console only; the OCI CLI and API take the QCOW2 itself",
            format!(
                "In the Console: Compute › Custom images › Import image, type OCI. For `oci compute image import` or the API, upload the disk alone:\ntar -xf {name} {member}"
            ),
        )
        .at(
            name,
            None,
            format!(
                "{} archive holding {}",
                match &archive.compression {
                    Some(c) => format!("{c}-compressed tar"),
                    None => "tar".to_string(),
                },
                archive
                    .members
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .level(Level::Info),
    );
    match &archive.oci_metadata {
        Some(meta) => hits.extend(metadata_against_disk(i, meta)),
        None => {
            if !archive.members.iter().any(|m| m.name == METADATA) {
                hits.push(
                    Hit::new(
                        format!("The .oci archive has no {METADATA}"),
                        format!(
                            "Re-export the image from OCI, or add an {METADATA} (launch options, firmware, OS) and pack again: tar -cf {name} output.QCOW2 {METADATA}"
                        ),
                    )
                    .at(name, None, "members: ".to_string() + &member_names(archive)),
                );
            }
        }
    }
    hits
}

fn member_names(archive: &Archive) -> String {
    archive
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the metadata promises that the disk cannot keep.
fn metadata_against_disk(i: &Inputs, meta: &OciMetadata) -> Vec<Hit> {
    let name = &i.image.name;
    let at = format!("{name}: {METADATA}");
    let mut hits = Vec::new();
    let esp = !i.disk.esp_volumes.is_empty();
    let bios_boot = i.disk.mbr_boot_code || i.disk.bios_boot_partition;
    match meta.firmware.as_deref() {
        Some("UEFI_64") if !esp => hits.push(
            Hit::new(
                "image_metadata.json declares UEFI_64 firmware, but the disk has no EFI system partition",
                format!(
                    "UEFI firmware cannot boot this disk. Set \"firmware\": \"BIOS\" in {METADATA} if the disk boots with BIOS, or add an EFI system partition with a UEFI boot loader; then pack again: tar -cf {name} output.QCOW2 {METADATA}"
                ),
            )
            .at(
                at.clone(),
                None,
                format!(
                    "externalLaunchOptions.firmware = UEFI_64; partition table: {}, no EFI system partition",
                    i.disk.scheme
                ),
            ),
        ),
        Some("BIOS") if esp && !bios_boot => hits.push(
            Hit::new(
                "image_metadata.json declares BIOS firmware, but the disk looks UEFI-only",
                format!(
                    "The disk has an EFI system partition and no BIOS boot code. Set \"firmware\": \"UEFI_64\" in {METADATA}, or install a BIOS boot loader too (grub-install --target=i386-pc); then pack again"
                ),
            )
            .at(
                at.clone(),
                None,
                "externalLaunchOptions.firmware = BIOS; EFI system partition present, no boot code in the MBR, no BIOS boot partition",
            ),
        ),
        _ => {}
    }

    // Launch mode: the metadata's volume and NIC types against what the guest can drive.
    let rec = crate::mode::recommend(i);
    if let Some(mode) = rec.launch_mode.as_deref() {
        let declared: Vec<(&str, &str)> = [
            ("bootVolumeType", meta.boot_volume_type.as_deref()),
            ("networkType", meta.network_type.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let paravirt = declared.iter().any(|(_, v)| *v == "PARAVIRTUALIZED");
        if paravirt && mode != "PARAVIRTUALIZED" && mode != "NATIVE" {
            hits.push(
                Hit::new(
                    format!("image_metadata.json asks for paravirtualized devices, but the guest is fit for {mode} mode"),
                    format!(
                        "Either give the guest virtio drivers in its initramfs (virtio_pci, virtio_scsi, virtio_blk, virtio_net), or set the launch options in {METADATA} to the emulated types (bootVolumeType ISCSI or IDE, networkType E1000)"
                    ),
                )
                .at(
                    at.clone(),
                    None,
                    declared
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .level(Level::Warning),
            );
        }
    }

    // Operating system: the Console shows it; a mismatch misleads customers.
    if let (Some(declared), Ok(guest)) = (&meta.operating_system, &i.guest)
        && let Some(os) = &guest.os
        && !same_os(declared, os)
    {
        hits.push(
            Hit::new(
                "image_metadata.json names another operating system than the one on the disk",
                format!(
                    "Set \"operatingSystem\" and \"operatingSystemVersion\" in {METADATA} to the guest's ({}), then pack again",
                    os.pretty_name.as_deref().unwrap_or(&os.id)
                ),
            )
            .at(
                at,
                None,
                format!(
                    "operatingSystem = {declared}{}; the guest's os-release says {}",
                    meta.operating_system_version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default(),
                    os.pretty_name.as_deref().unwrap_or(&os.id)
                ),
            )
            .level(Level::Warning),
        );
    }
    hits
}

/// "Oracle Linux" and ID=ol, "Canonical Ubuntu" and ID=ubuntu, "CentOS" and ID=centos: the
/// declared name matches when it contains the guest's ID or one of its names' first word.
fn same_os(declared: &str, os: &preflight_facts::os::OsInfo) -> bool {
    let declared = declared.to_lowercase();
    let words: Vec<&str> = declared
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let initials: String = words.iter().filter_map(|w| w.chars().next()).collect();
    let mut candidates = vec![os.id.to_lowercase()];
    for n in [&os.name, &os.pretty_name].into_iter().flatten() {
        if let Some(first) = n.split_whitespace().next() {
            candidates.push(first.to_lowercase());
        }
    }
    candidates
        .iter()
        .any(|c| words.contains(&c.as_str()) || initials == *c)
}

fn ova(i: &Inputs, archive: &Archive) -> Vec<Hit> {
    let name = &i.image.name;
    let member = &archive.disk_member;
    let importable_vmdk = i.image.format == "vmdk"
        && matches!(
            i.image.subformat.as_deref(),
            Some("streamOptimized" | "monolithicSparse")
        );
    let then = if importable_vmdk {
        format!(
            "The VMDK inside is {} and OCI imports it as it is (image type VMDK).",
            i.image.subformat.as_deref().unwrap_or_default()
        )
    } else {
        format!(
            "Then convert it: qemu-img convert -p -O qcow2 {member} {}.qcow2",
            stem(member)
        )
    };
    let mut hits = vec![
        Hit::new(
            "OVA archives cannot be imported into OCI",
            format!("Extract the disk and import that:\ntar -xf {name} {member}\n{then}"),
        )
        .at(
            name,
            None,
            format!(
                "OVA holding {}; disk {member} ({}{})",
                member_names(archive),
                display_format(&i.image.format),
                i.image
                    .subformat
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default()
            ),
        ),
    ];
    if let Some(ovf) = &archive.ovf {
        let bad: Vec<_> = ovf
            .manifest_checks
            .iter()
            .filter(|c| c.matches == Some(false))
            .collect();
        if !bad.is_empty() {
            hits.push(
                Hit::new(
                    "Members of the OVA do not match its manifest: the file is damaged or was altered",
                    "Download or export the OVA again and compare its digests with the manifest before uploading",
                )
                .at(
                    format!("{name}: {}", ovf.manifest.as_deref().unwrap_or("manifest")),
                    None,
                    bad.iter()
                        .map(|c| format!("{}({}) differs", c.algorithm, c.member))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            );
        }
    }
    hits
}
