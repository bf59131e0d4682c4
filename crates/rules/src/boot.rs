//! What the firmware and the boot loader's default entry ask of the disk: something to boot
//! (IMP-BOOT), a root named so that it is still found after import (IMP-ROOTREF, which also
//! covers fstab), and a serial console (REC-SERIAL).

use preflight_facts::arch::Arch;
use preflight_facts::boot::RootRef;
use preflight_report::{Area, Level};

use crate::sources::{BYOI, IMAGES, IMPORT_LINUX};
use crate::{FstabState, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const IMP_BOOT: Rule = Rule {
    id: "IMP-BOOT",
    area: Area::Boot,
    level: Level::Blocker,
    title: "The disk boots: boot code or an EFI loader, a boot configuration, and the kernel it names",
    source: BYOI,
    check: boot,
};

pub const IMP_ROOTREF: Rule = Rule {
    id: "IMP-ROOTREF",
    area: Area::Boot,
    level: Level::Blocker,
    title: "The boot loader and /etc/fstab name volumes by UUID, LABEL or LVM path, and those exist",
    source: IMPORT_LINUX,
    check: rootref,
};

pub const REC_SERIAL: Rule = Rule {
    id: "REC-SERIAL",
    area: Area::Boot,
    level: Level::Warning,
    title: "The kernel command line has a serial console (ttyS0 on x86, ttyAMA0 on Arm)",
    source: IMAGES,
    check: serial,
};

/// How to put a stable root= back, for both boot loader families.
const ROOT_REMEDY: &str = "Let the boot loader name the root by UUID: remove GRUB_DISABLE_LINUX_UUID=true and any \
     GRUB_DEVICE override from /etc/default/grub, then regenerate the configuration \
     (grub-mkconfig -o /boot/grub/grub.cfg, or grub2-mkconfig -o /boot/grub2/grub.cfg); on BLS systems: \
     grubby --update-kernel=ALL --args=\"root=UUID=$(findmnt -no UUID /)\"";

fn rootref(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let mut hits = Vec::new();
    for f in &g.fstab {
        if f.state == FstabState::NotADisk {
            continue;
        }
        if !RootRef::parse(&f.spec).is_stable() {
            let hit = Hit::new(
                format!(
                    "/etc/fstab mounts {} by a device name that changes after import",
                    f.mount_point
                ),
                format!(
                    "Name it by UUID (blkid shows it): edit /etc/fstab line {} to UUID=<uuid> {} …",
                    f.line, f.mount_point
                ),
            )
            .at(
                "/etc/fstab",
                Some(f.line),
                format!("{} {}", f.spec, f.mount_point),
            );
            hits.push(if f.optional {
                hit.level(Level::Warning)
            } else {
                hit
            });
        }
    }
    match &g.boot {
        Ok(b) => {
            if let Some(root) = &b.root {
                if !b.root_stable {
                    hits.push(
                        Hit::new(
                            format!("The default boot entry finds the root as {root}, a name that changes after import"),
                            ROOT_REMEDY,
                        )
                        .at(b.source.clone(), None, format!("root={root} in \"{}\"", b.title)),
                    );
                } else if b.root_found == Some(false) {
                    hits.push(
                        Hit::new(
                            format!("The default boot entry's root={root} is on no volume of this image"),
                            format!(
                                "The kernel would not find its root. Regenerate the boot configuration inside the image so it names this root's UUID. {ROOT_REMEDY}"
                            ),
                        )
                        .at(b.source.clone(), None, format!("root={root} in \"{}\"", b.title)),
                    );
                }
            }
            outcome(hits)
        }
        Err(why) if hits.is_empty() => Outcome::NotEvaluated(format!(
            "/etc/fstab names its volumes well, but the kernel command line could not be checked: {why}"
        )),
        Err(_) => outcome(hits),
    }
}

fn serial(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let b = match &g.boot {
        Ok(b) => b,
        Err(why) => return Outcome::NotEvaluated(why.clone()),
    };
    let want = match g.arch.arch {
        Some(Arch::Aarch64) => "ttyAMA0",
        _ => "ttyS0",
    };
    if b.serial_consoles.iter().any(|c| c == want) {
        return Outcome::Pass;
    }
    let seen = if b.consoles.is_empty() {
        "no console= on the kernel command line".to_string()
    } else {
        format!("console={}", b.consoles.join(" console="))
    };
    outcome(vec![
        Hit::new(
            format!("The default boot entry has no {want} console: the OCI serial console will show nothing"),
            format!(
                "Add console=tty0 console={want},115200 to GRUB_CMDLINE_LINUX in /etc/default/grub and regenerate the boot configuration (grub-mkconfig -o /boot/grub/grub.cfg, grub2-mkconfig -o /boot/grub2/grub.cfg, or on BLS systems grubby --update-kernel=ALL --args=\"console=tty0 console={want},115200\")"
            ),
        )
        .at(b.source.clone(), None, format!("{seen} (entry \"{}\")", b.title)),
    ])
}

fn boot(i: &Inputs) -> Outcome {
    let d = &i.disk;
    if d.scheme == "unreadable" {
        return Outcome::NotEvaluated("the partition table could not be read".into());
    }
    let mut hits = Vec::new();
    let arch = i.guest.as_ref().ok().and_then(|g| g.arch.arch);
    let esp = !d.esp_volumes.is_empty();
    let paths = crate::mode::firmware_paths(i, arch.as_ref());
    // A path that fails is a blocker when no other path boots, a warning otherwise (that
    // firmware must then not be offered).
    let level = |other_boots: bool| {
        if other_boots {
            Level::Warning
        } else {
            Level::Blocker
        }
    };
    if d.scheme == "none" {
        hits.push(
            Hit::new(
                "The disk has no partition table: a file system written from sector 0 has no boot sector for the firmware",
                "Build the image on a partitioned disk (an MBR or GPT table with the root in a partition) and install the boot loader on it: grub-install --target=i386-pc /dev/sdX, and for UEFI grub-install --target=x86_64-efi --removable",
            )
            .at("sector 0", None, "no MBR signature 55 AA with a partition table"),
        );
    } else if matches!(arch, Some(Arch::Aarch64)) && !(esp && d.scheme == "gpt") {
        hits.push(
            Hit::new(
                "An Arm image must boot with UEFI from a GPT disk's EFI system partition",
                "Partition the disk with GPT, create an EFI system partition (vfat, type EF00) and install GRUB for arm64-efi on it: grub-install --target=arm64-efi --removable",
            )
            .at(
                "partition table",
                None,
                format!(
                    "{} table, {}",
                    d.scheme,
                    if esp { "EFI system partition present" } else { "no EFI system partition" }
                ),
            ),
        );
    } else if !d.bios.present && !esp {
        hits.push(
            Hit::new(
                "Nothing on the disk boots: no boot code in the MBR and no EFI system partition",
                "Install the boot loader inside the image before export: grub-install --target=i386-pc /dev/sdX (BIOS), and/or grub-install --target=x86_64-efi --removable on an EFI system partition (UEFI)",
            )
            .at("sector 0", None, "bytes 0–439 are zero"),
        );
    } else if !d.bios.present && d.bios_boot_partition && paths.uefi.is_empty() {
        hits.push(
            Hit::new(
                "A BIOS boot partition exists but the MBR has no boot code to load it",
                "Install GRUB for BIOS on the disk: grub-install --target=i386-pc /dev/sdX",
            )
            .at("sector 0", None, "bytes 0–439 are zero"),
        );
    }
    if let Some(c) = &d.bios.grub_core
        && d.bios.present
        && !matches!(arch, Some(Arch::Aarch64))
    {
        if !c.valid {
            hits.push(
                Hit::new(
                    "GRUB's boot code in the MBR points at a core.img that is not there: BIOS boot stops at \"GRUB \"",
                    "Reinstall GRUB for BIOS inside the image (grub-install --target=i386-pc /dev/sdX), after any repartitioning",
                )
                .at(
                    format!("LBA {}", c.start_lba),
                    None,
                    format!("boot.img's core.img sector (offset 0x5C of sector 0); {}", d.bios.diagnostics.join("; ")),
                )
                .level(level(!paths.uefi.is_empty())),
            );
        } else if c.exposed {
            hits.push(
                Hit::new(
                    format!("GRUB's core.img sits {}: it is not protected", c.location),
                    "Give GRUB a BIOS boot partition (GPT, 1 MiB, type EF02) or the gap before the first partition (MBR, start it at 1 MiB), then grub-install --target=i386-pc /dev/sdX",
                )
                .at(format!("LBA {}", c.start_lba), None, format!("{} sectors", c.sectors))
                .level(Level::Warning),
            );
        }
    }
    let want = match arch {
        Some(Arch::Aarch64) => ("aarch64", "BOOTAA64.EFI", "arm64-efi"),
        _ => ("x86_64", "BOOTX64.EFI", "x86_64-efi"),
    };
    for e in &d.esps {
        match &e.facts {
            Ok(f) if !f.removable.contains_key(want.0) => {
                let found: Vec<String> = f
                    .loaders
                    .iter()
                    .map(|l| format!("{} ({})", l.path, l.kind.name()))
                    .collect();
                hits.push(
                    Hit::new(
                        format!("The EFI system partition has no \\EFI\\BOOT\\{}: UEFI firmware on OCI finds nothing to boot", want.1),
                        format!(
                            "An imported image starts with no UEFI boot entries, so the firmware runs only the removable-media path. Install it inside the image: grub-install --target={} --removable (or --force-extra-removable on Debian/Ubuntu), or copy the distribution's shim/GRUB to \\EFI\\BOOT\\{}",
                            want.2, want.1
                        ),
                    )
                    .at(
                        e.name.clone(),
                        None,
                        if found.is_empty() { "no EFI loader at all".to_string() } else { format!("loaders: {}", found.join(", ")) },
                    )
                    .level(level(paths.bios)),
                );
            }
            Ok(f) if e.search_found == Some(false) => {
                let c = f.grub_config.as_ref();
                hits.push(
                    Hit::new(
                        "The EFI GRUB configuration searches for a file system that is not in this image",
                        "Regenerate the ESP's grub.cfg inside the image so it searches for the root or /boot file system's UUID (grub-install --target=x86_64-efi, or edit the search.fs_uuid line)",
                    )
                    .at(
                        c.map(|c| c.path.clone()).unwrap_or_default(),
                        None,
                        format!("search --fs-uuid {}", c.and_then(|c| c.search_uuid.clone()).unwrap_or_default()),
                    )
                    .level(level(paths.bios)),
                );
            }
            _ => {}
        }
    }
    if let Ok(g) = &i.guest {
        match &g.boot {
            Err(why) => hits.push(
                Hit::new(
                    "No boot loader configuration: the boot loader stops at its prompt",
                    "Generate it inside the image: grub-mkconfig -o /boot/grub/grub.cfg (Debian, Ubuntu), grub2-mkconfig -o /boot/grub2/grub.cfg (RHEL family, SUSE)",
                )
                .at("/boot", None, why.clone()),
            ),
            Ok(b) => {
                let chain = &g.chain;
                if !chain.kernel_missing.is_empty() {
                    hits.push(
                        Hit::new(
                            "The default boot entry's kernel is not in the image",
                            "Reinstall the kernel package or regenerate the boot configuration so the default entry names an installed kernel (grub-mkconfig / grub2-mkconfig, or grubby --set-default)",
                        )
                        .at(
                            b.source.clone(),
                            None,
                            format!(
                                "\u{201c}{}\u{201d} boots {}; looked for {}",
                                b.title,
                                b.kernel.as_deref().unwrap_or("?"),
                                chain.kernel_missing.join(", ")
                            ),
                        ),
                    );
                }
                if let (Some(Ok(img)), Some(guest_arch)) = (&chain.image, arch)
                    && let Some(k) = img.arch
                    && k != guest_arch
                {
                    hits.push(
                        Hit::new(
                            "The default kernel is built for another architecture than the guest's binaries",
                            "Install the kernel of the guest's architecture and make it the default entry",
                        )
                        .at(
                            chain.kernel_path.clone().unwrap_or_default(),
                            None,
                            format!("kernel: {k:?} ({}); binaries: {guest_arch:?}", img.arch_from),
                        ),
                    );
                }
            }
        }
    }
    outcome(hits)
}
