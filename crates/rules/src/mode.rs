//! The first launch-mode and firmware recommendation (shared/reference/launch-modes-and-shapes.md).
//! PARAVIRTUALIZED needs Linux ≥ 3.4 (where virtio_scsi entered the kernel) with virtio_pci,
//! virtio_scsi and virtio_net available; otherwise EMULATED. The boot loader's default entry
//! and the initramfs contents refine this in a later version.

use preflight_facts::arch::Arch;
use preflight_facts::kernels::DriverStatus;
use preflight_report::Recommendation;

use crate::Inputs;

/// Drivers paravirtualized mode needs: the PCI transport, the boot volume (virtio-scsi) and
/// the NIC (virtio-net).
const PV_DRIVERS: [&str; 3] = ["virtio_pci", "virtio_scsi", "virtio_net"];

pub fn recommend(i: &Inputs) -> Recommendation {
    let mut reasons = Vec::new();
    let arch = i.guest.as_ref().ok().and_then(|g| g.arch.arch);
    let firmware = firmware(i, arch.as_ref(), &mut reasons);

    let launch_mode = match &i.guest {
        Err(why) => {
            reasons.push(format!(
                "launch mode undecided: the guest could not be inspected ({why})"
            ));
            None
        }
        Ok(g) => match g.kernels.default_candidate() {
            None => {
                reasons.push(
                    "launch mode undecided: no Linux kernel found in /boot or /lib/modules".into(),
                );
                None
            }
            Some(k) => {
                let from = k
                    .image
                    .as_deref()
                    .or(k.modules_dir.as_deref())
                    .unwrap_or("?");
                let recent = k.version_at_least(3, 4);
                reasons.push(format!(
                    "kernel {} ({from}) is {} 3.4{}",
                    k.version,
                    if recent { "≥" } else { "older than" },
                    if g.kernels.kernels.len() > 1 {
                        "; newest of the installed kernels, taken as the default"
                    } else {
                        ""
                    }
                ));
                let mut missing = Vec::new();
                for (name, d) in k.virtio.iter() {
                    if !PV_DRIVERS.contains(&name) {
                        continue;
                    }
                    let by = d
                        .decided_by
                        .as_ref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default();
                    match &d.status {
                        DriverStatus::Builtin => {
                            reasons.push(format!("{name} is built into the kernel{by}"))
                        }
                        DriverStatus::Module { path } => {
                            reasons.push(format!("{name} is a module: {path}"))
                        }
                        DriverStatus::Absent => {
                            missing.push(name);
                            reasons.push(format!("{name} is missing{by}"));
                        }
                        DriverStatus::Unknown => {
                            missing.push(name);
                            reasons.push(format!("{name}: no module list or kernel config to tell whether it is present"));
                        }
                    }
                }
                if recent && missing.is_empty() {
                    Some("PARAVIRTUALIZED")
                } else {
                    if matches!(arch, Some(Arch::Aarch64)) {
                        reasons.push("EMULATED mode does not exist on Arm (Ampere) shapes: this image cannot run on OCI until virtio drivers are available".into());
                    }
                    reasons.push("EMULATED mode: IDE disk and e1000 NIC (1 Gbps whatever the shape); install a kernel ≥ 3.4 with virtio_pci, virtio_scsi and virtio_net for PARAVIRTUALIZED".into());
                    Some("EMULATED")
                }
            }
        },
    };
    Recommendation {
        launch_mode: launch_mode.map(String::from),
        firmware,
        reasons,
    }
}

fn firmware(i: &Inputs, arch: Option<&Arch>, reasons: &mut Vec<String>) -> Vec<String> {
    let d = &i.disk;
    let mut fw = Vec::new();
    let bios = d.mbr_boot_code || d.bios_boot_partition;
    if matches!(arch, Some(Arch::Aarch64)) {
        reasons.push("aarch64 guests boot with UEFI only (Ampere shapes)".into());
        return vec!["UEFI_64".into()];
    }
    if bios {
        fw.push("BIOS".to_string());
        let why = match (d.mbr_grub, d.bios_boot_partition) {
            (_, true) => "a BIOS boot partition holds the boot loader",
            (true, false) => "GRUB boot code is in the MBR",
            (false, false) => "the MBR holds boot code",
        };
        reasons.push(format!("BIOS: {why}"));
    }
    if !d.esp_volumes.is_empty() {
        fw.push("UEFI_64".to_string());
        reasons.push(format!(
            "UEFI_64: EFI system partition on volume {} (import creates the image as BIOS; set Compute.Firmware to UEFI_64 in the image capability schema)",
            d.esp_volumes.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    if fw.is_empty() {
        reasons.push("no boot code in the MBR and no EFI system partition were found: the disk may not boot; OCI import defaults to BIOS".into());
        fw.push("BIOS".to_string());
    }
    fw
}
