//! The launch decision (shared/reference/launch-modes-and-shapes.md, "Decision"): from what the
//! image will really boot — the default boot entry's kernel and initramfs — to the launch
//! mode, the firmware, the shapes, and the evidence chain behind them.
//!
//! - PARAVIRTUALIZED needs Linux ≥ 3.4 (where virtio_scsi entered the kernel) with
//!   `virtio_pci`, `virtio_scsi` and `virtio_blk` reachable when the root is mounted (built in
//!   or in the initramfs) and `virtio_net` installed.
//! - EMULATED (x86 only) needs the IDE disk driver (`ata_piix`) at boot and `e1000`.
//! - NATIVE is only offered with evidence of an OCI platform image, iSCSI boot in the
//!   initramfs and the SR-IOV NIC driver; it is never the recommendation (REC-MODE).
//!
//! [`decide`] is pure and cheap: the rules that need the decision (IMP-INITRAMFS, REC-MODE,
//! G01, the `.oci` metadata check) call it again rather than share state.

use preflight_facts::arch::Arch;
use preflight_facts::boot_chain::{BootChain, KernelChoice, Reach};
use preflight_facts::kernels::KernelVersion;
use preflight_report::{ChainStep, DriverReach, ModeOption, Recommendation, ShapeFit};

use crate::shapes::{Firmware, LaunchMode, ShapeKind, compatible_shapes, shape_table};
use crate::{GuestFacts, Inputs};

/// A driver a mode or shape needs, and what for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Need {
    pub name: &'static str,
    pub purpose: &'static str,
    /// Needed before the root is mounted (built in or in the initramfs); otherwise an
    /// installed module is enough (udev loads it from the root file system).
    pub at_boot: bool,
}

pub(crate) const PV_STORAGE: [Need; 3] = [
    Need {
        name: "virtio_pci",
        purpose: "virtio PCI transport (every paravirtualized device)",
        at_boot: true,
    },
    Need {
        name: "virtio_scsi",
        purpose: "paravirtualized boot volume (virtio-scsi)",
        at_boot: true,
    },
    Need {
        name: "virtio_blk",
        purpose: "paravirtualized block volumes (virtio-blk)",
        at_boot: true,
    },
];
pub(crate) const PV_NET: Need = Need {
    name: "virtio_net",
    purpose: "paravirtualized NIC (virtio-net)",
    at_boot: false,
};
const EMULATED_DISK: Need = Need {
    name: "ata_piix",
    purpose: "emulated IDE boot disk (EMULATED mode)",
    at_boot: true,
};
const EMULATED_NET: Need = Need {
    name: "e1000",
    purpose: "emulated NIC, e1000 (EMULATED mode)",
    at_boot: false,
};
const NATIVE_ISCSI: Need = Need {
    name: "iscsi_tcp",
    purpose: "iSCSI boot volume (NATIVE mode)",
    at_boot: true,
};
const NATIVE_NIC: Need = Need {
    name: "mlx5_core",
    purpose: "SR-IOV virtual function NIC, VFIO (NATIVE mode)",
    at_boot: false,
};
pub(crate) const NVME: Need = Need {
    name: "nvme",
    purpose: "local NVMe drives (DenseIO shapes)",
    at_boot: false,
};

/// iSCSI initiators that can log in to the boot volume from the initramfs.
const ISCSI_TOOLS: [&str; 2] = ["iscsistart", "iscsid"];

/// Whether a mode can be used, and why.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub possible: bool,
    pub why: String,
}

/// One driver with where it is.
#[derive(Debug, Clone)]
pub(crate) struct DriverRow {
    pub need: Need,
    pub reach: Reach,
}

impl DriverRow {
    /// Reachable when needed: at boot (built in, in the initramfs) or, for drivers needed
    /// later, installed at all.
    pub fn ok(&self) -> Option<bool> {
        match &self.reach {
            Reach::Builtin(_) | Reach::Initramfs { .. } => Some(true),
            Reach::Installed(_) => Some(!self.need.at_boot),
            Reach::Absent(_) => Some(false),
            Reach::Unknown => None,
        }
    }

    /// The kernel has it at all (built in, installed, or in the initramfs).
    pub fn present(&self) -> bool {
        !matches!(self.reach, Reach::Absent(_) | Reach::Unknown)
    }

    pub fn status(&self) -> &'static str {
        match self.reach {
            Reach::Builtin(_) => "builtin",
            Reach::Initramfs { .. } => "initramfs",
            Reach::Installed(_) => "installed",
            Reach::Absent(_) => "absent",
            Reach::Unknown => "unknown",
        }
    }

    pub fn evidence(&self) -> Option<String> {
        match &self.reach {
            Reach::Builtin(p) | Reach::Absent(p) => p.as_ref().map(|p| p.to_string()),
            Reach::Initramfs { archive, path } => Some(format!("{archive}: {path}")),
            Reach::Installed(p) => Some(p.clone()),
            Reach::Unknown => None,
        }
    }
}

/// Everything the launch decision found.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub arch: Option<Arch>,
    pub mode: Option<LaunchMode>,
    pub firmware: Vec<Firmware>,
    pub reasons: Vec<String>,
    pub chain: Vec<ChainStep>,
    pub drivers: Vec<DriverRow>,
    pub pv: Verdict,
    pub emulated: Verdict,
    pub native: Verdict,
    /// PARAVIRTUALIZED is the target but the initramfs must be rebuilt first: the storage
    /// drivers that are installed yet not reachable at boot.
    pub initramfs_fix: Vec<&'static str>,
}

impl Decision {
    pub fn driver(&self, name: &str) -> Option<&DriverRow> {
        self.drivers.iter().find(|d| d.need.name == name)
    }
}

/// The kernel's parsed version, when known.
fn kernel_version(chain: &BootChain) -> Option<KernelVersion> {
    chain
        .installed
        .as_ref()
        .and_then(|k| k.parsed)
        .or_else(|| chain.release.as_deref().and_then(KernelVersion::parse))
}

pub(crate) fn decide(i: &Inputs) -> Decision {
    let mut d = Decision {
        arch: None,
        mode: None,
        firmware: Vec::new(),
        reasons: Vec::new(),
        chain: Vec::new(),
        drivers: Vec::new(),
        pv: Verdict {
            possible: false,
            why: String::new(),
        },
        emulated: Verdict {
            possible: false,
            why: String::new(),
        },
        native: Verdict {
            possible: false,
            why: String::new(),
        },
        initramfs_fix: Vec::new(),
    };
    let g = match &i.guest {
        Ok(g) => g,
        Err(why) => {
            d.firmware = firmware(i, None, &firmware_paths(i, None), &mut d.reasons);
            let why = format!("the guest could not be inspected ({why})");
            d.reasons.push(format!("launch mode undecided: {why}"));
            for v in [&mut d.pv, &mut d.emulated, &mut d.native] {
                v.why = why.clone();
            }
            return d;
        }
    };
    d.arch = architecture(g, &mut d.reasons);
    let paths = firmware_paths(i, d.arch.as_ref());
    d.firmware = firmware(i, d.arch.as_ref(), &paths, &mut d.reasons);
    d.chain = paths.steps;
    chain_steps(g, &mut d.chain);

    let chain = &g.chain;
    let needs = [
        PV_STORAGE[0],
        PV_STORAGE[1],
        PV_STORAGE[2],
        PV_NET,
        NVME,
        EMULATED_DISK,
        EMULATED_NET,
        NATIVE_ISCSI,
        NATIVE_NIC,
    ];
    d.drivers = needs
        .iter()
        .map(|n| DriverRow {
            need: *n,
            reach: chain.reach(n.name),
        })
        .collect();

    let version = kernel_version(chain);
    let Some(release) = chain.release.clone() else {
        let why = match &chain.choice {
            KernelChoice::DefaultEntry { .. } if !chain.kernel_missing.is_empty() => format!(
                "the default boot entry's kernel is not in the image (looked for {})",
                chain.kernel_missing.join(", ")
            ),
            _ => {
                "no Linux kernel was found (no boot entry kernel, nothing in /boot or /lib/modules)"
                    .to_string()
            }
        };
        d.reasons.push(format!("launch mode undecided: {why}"));
        for v in [&mut d.pv, &mut d.emulated, &mut d.native] {
            v.why = why.clone();
        }
        return d;
    };
    let recent = version.map(|v| (v.major, v.minor) >= (3, 4));
    d.reasons.push(match recent {
        Some(true) => format!("kernel {release} is ≥ 3.4: virtio_scsi exists"),
        Some(false) => format!(
            "kernel {release} is older than 3.4: no virtio_scsi, no paravirtualized boot volume"
        ),
        None => format!("kernel {release}: the version could not be parsed"),
    });

    // PARAVIRTUALIZED
    let storage: Vec<&DriverRow> = d.drivers.iter().take(3).collect();
    let net = &d.drivers[3];
    let missing: Vec<&str> = storage
        .iter()
        .filter(|r| !r.present())
        .map(|r| r.need.name)
        .collect();
    let late: Vec<&'static str> = storage
        .iter()
        .filter(|r| matches!(r.reach, Reach::Installed(_)))
        .map(|r| r.need.name)
        .collect();
    let unknown: Vec<&str> = storage
        .iter()
        .chain(std::iter::once(&net))
        .filter(|r| matches!(r.reach, Reach::Unknown))
        .map(|r| r.need.name)
        .collect();
    d.pv = if recent == Some(false) {
        Verdict {
            possible: false,
            why: format!("kernel {release} is older than 3.4 (virtio_scsi entered Linux in 3.4)"),
        }
    } else if !missing.is_empty() || !net.present() && !matches!(net.reach, Reach::Unknown) {
        let mut gone = missing.clone();
        if !net.present() && !matches!(net.reach, Reach::Unknown) {
            gone.push(net.need.name);
        }
        Verdict {
            possible: false,
            why: format!("the kernel has no {}", gone.join(", ")),
        }
    } else if !late.is_empty() {
        d.initramfs_fix = late.clone();
        Verdict {
            possible: false,
            why: format!(
                "{} installed but not in the initramfs: the boot volume is not found until the initramfs is rebuilt with {}",
                late.join(", "),
                if late.len() == 1 { "it" } else { "them" }
            ),
        }
    } else if !unknown.is_empty() {
        Verdict {
            possible: true,
            why: format!(
                "assumed: whether {} reach the boot could not be read",
                unknown.join(", ")
            ),
        }
    } else {
        Verdict {
            possible: true,
            why: "kernel ≥ 3.4 with virtio_pci, virtio_scsi and virtio_blk at boot and virtio_net installed".into(),
        }
    };

    // EMULATED
    let ide = &d.drivers[5];
    d.emulated = match d.arch {
        Some(Arch::Aarch64) => Verdict {
            possible: false,
            why: "EMULATED mode does not exist on Arm (Ampere) shapes".into(),
        },
        _ => match ide.ok() {
            Some(true) => Verdict {
                possible: true,
                why: "the IDE disk driver (ata_piix) is reachable at boot; the e1000 NIC caps the network at 1 Gbps whatever the shape, and AMD shapes do not offer this mode".into(),
            },
            Some(false) => Verdict {
                possible: false,
                why: match ide.reach {
                    Reach::Installed(_) => "ata_piix is installed but not in the initramfs: the IDE boot disk is not found".into(),
                    _ => "the kernel has no ata_piix: the emulated IDE boot disk is not found".into(),
                },
            },
            None => Verdict {
                possible: true,
                why: "assumed: whether ata_piix reaches the boot could not be read".into(),
            },
        },
    };

    // NATIVE
    let iscsi = &d.drivers[7];
    let nic = &d.drivers[8];
    let tools: Vec<&str> = chain
        .initrds
        .iter()
        .flat_map(|i| i.binaries.iter())
        .filter(|b| ISCSI_TOOLS.contains(&b.as_str()))
        .map(String::as_str)
        .collect();
    let mut lacking = Vec::new();
    if g.oci_signs.is_empty() {
        lacking.push("no sign of an OCI platform image (Oracle Cloud Agent, oci-utils, OCI repositories, cloud-init's Oracle datasource)".to_string());
    }
    if iscsi.ok() != Some(true) {
        lacking.push("iscsi_tcp is not reachable at boot".into());
    }
    if tools.is_empty() {
        lacking.push("no iSCSI initiator (iscsistart, iscsid) in the initramfs".into());
    }
    if !nic.present() {
        lacking.push("no mlx5_core for the SR-IOV NIC".into());
    }
    d.native = if lacking.is_empty() {
        Verdict {
            possible: true,
            why: format!(
                "built from an OCI platform image ({}); iSCSI boot ({}, {}) and mlx5_core present",
                g.oci_signs
                    .iter()
                    .map(|(p, _)| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                iscsi.need.name,
                tools.join(", ")
            ),
        }
    } else {
        Verdict {
            possible: false,
            why: format!(
                "only for images built from OCI platform images: {}",
                lacking.join("; ")
            ),
        }
    };

    // The mode to import with.
    let pv_target = d.pv.possible || !d.initramfs_fix.is_empty();
    d.mode = if pv_target {
        Some(LaunchMode::Paravirtualized)
    } else if d.emulated.possible {
        Some(LaunchMode::Emulated)
    } else {
        None
    };
    match d.mode {
        Some(LaunchMode::Paravirtualized) if !d.initramfs_fix.is_empty() => d.reasons.push(format!(
            "PARAVIRTUALIZED once the initramfs holds {} (IMP-INITRAMFS); as it is, the boot volume is not found",
            d.initramfs_fix.join(", ")
        )),
        Some(LaunchMode::Paravirtualized) => d.reasons.push(format!("PARAVIRTUALIZED: {}", d.pv.why)),
        Some(LaunchMode::Emulated) => {
            d.reasons.push(format!("PARAVIRTUALIZED is not possible: {}", d.pv.why));
            d.reasons.push(format!(
                "EMULATED: {}; install a kernel ≥ 3.4 with virtio_pci, virtio_scsi, virtio_blk and virtio_net for PARAVIRTUALIZED",
                d.emulated.why
            ));
        }
        _ => {
            d.reasons.push(format!("PARAVIRTUALIZED is not possible: {}", d.pv.why));
            d.reasons.push(format!("EMULATED is not possible: {}", d.emulated.why));
            d.reasons.push("no launch mode can boot this image as it is".into());
        }
    }
    if d.native.possible {
        d.reasons.push(format!(
            "NATIVE is possible too ({}); PARAVIRTUALIZED stays the recommendation for Marketplace images",
            d.native.why
        ));
    }
    d
}

/// The guest's architecture: its binaries' ELF headers, checked against the kernel image.
fn architecture(g: &GuestFacts, reasons: &mut Vec<String>) -> Option<Arch> {
    let elf = g.arch.arch;
    let kernel = g
        .chain
        .image
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .and_then(|k| k.arch);
    let from = |a: Arch| match a {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
        Arch::I386 => "32-bit x86",
        Arch::Arm => "32-bit Arm",
        Arch::Other { .. } => "another architecture",
    };
    match (elf, kernel) {
        (Some(e), Some(k)) if e != k => {
            reasons.push(format!(
                "the binaries are {} but the kernel is {}: taken as {}",
                from(e),
                from(k),
                from(k)
            ));
            Some(k)
        }
        (Some(e), _) => {
            reasons.push(format!("{} guest (ELF headers of its binaries)", from(e)));
            Some(e)
        }
        (None, Some(k)) => {
            reasons.push(format!("{} kernel image; no binary could tell", from(k)));
            Some(k)
        }
        (None, None) => {
            reasons
                .push("the architecture could not be read (no ELF binary, no kernel image)".into());
            None
        }
    }
}

/// The architecture's name as the ESP facts key removable loaders.
fn esp_arch(arch: Option<&Arch>) -> &'static str {
    match arch {
        Some(Arch::Aarch64) => "aarch64",
        _ => "x86_64",
    }
}

/// How each firmware gets to the boot loader: the firmware steps of the evidence chain, and
/// which firmware works.
pub(crate) struct FirmwarePaths {
    pub bios: bool,
    /// ESPs with a removable-media loader for the guest's architecture.
    pub uefi: Vec<usize>,
    pub steps: Vec<ChainStep>,
}

pub(crate) fn firmware_paths(i: &Inputs, arch: Option<&Arch>) -> FirmwarePaths {
    let d = &i.disk;
    let arm = matches!(arch, Some(Arch::Aarch64));
    let mut steps = Vec::new();
    let b = &d.bios;
    let bios = b.boots() && !arm;
    if b.present {
        let (summary, path, ok) = match &b.grub_core {
            Some(c) if c.valid => (
                format!("BIOS: {} in the MBR → core.img {}", b.code, c.location),
                Some(format!(
                    "sector 0 → LBA {}, {} sectors",
                    c.start_lba, c.sectors
                )),
                true,
            ),
            Some(c) => (
                format!(
                    "BIOS: {} in the MBR points at LBA {}, where there is no GRUB core.img: BIOS boot stops",
                    b.code, c.start_lba
                ),
                Some(format!("sector 0 → LBA {}", c.start_lba)),
                false,
            ),
            None => (
                format!("BIOS: {} in the MBR", b.code),
                Some("sector 0".into()),
                true,
            ),
        };
        let mut details = b.diagnostics.clone();
        if let Some(c) = &b.grub_core
            && c.exposed
        {
            details.push(format!(
                "core.img is {}: a file system or partitioning tool may overwrite it",
                c.location
            ));
        }
        if arm {
            details.push("Arm shapes boot with UEFI only: BIOS boot code is not used".into());
        }
        steps.push(ChainStep {
            step: "firmware".into(),
            summary,
            path,
            ok: ok && !arm,
            details,
        });
    }
    let want = esp_arch(arch);
    let mut uefi = Vec::new();
    for e in &d.esps {
        let (summary, ok, details) = match &e.facts {
            Err(why) => (
                format!("UEFI: the EFI system partition could not be read: {why}"),
                false,
                Vec::new(),
            ),
            Ok(f) => match f.removable.get(want) {
                Some(path) => {
                    uefi.push(e.volume);
                    let mut details: Vec<String> = f
                        .boot_path
                        .iter()
                        .map(|s| format!("{}: {}", s.path, s.what))
                        .collect();
                    if let Some(c) = &f.grub_config {
                        if let Some(u) = &c.search_uuid {
                            details.push(format!(
                                "{} searches for the file system UUID {u}: {}",
                                c.path,
                                match e.search_found {
                                    Some(true) => "a volume of this image",
                                    _ => "on no volume of this image",
                                }
                            ));
                        }
                        if let Some(n) = &c.next_config {
                            details.push(format!("then reads {n}"));
                        }
                    }
                    details.extend(f.warnings.iter().cloned());
                    (
                        format!("UEFI: {} on {}", path.replace('/', "\\"), e.name),
                        e.search_found != Some(false),
                        details,
                    )
                }
                None => {
                    let mut details: Vec<String> = f
                        .loaders
                        .iter()
                        .map(|l| format!("{} ({})", l.path, l.kind.name()))
                        .collect();
                    details.extend(f.warnings.iter().cloned());
                    (
                        format!(
                            "UEFI: no \\EFI\\BOOT\\BOOT{}.EFI on {}: an OCI instance starts with no UEFI boot entries, so the firmware finds nothing to run",
                            if want == "aarch64" { "AA64" } else { "X64" },
                            e.name
                        ),
                        false,
                        details,
                    )
                }
            },
        };
        steps.push(ChainStep {
            step: "firmware".into(),
            summary,
            path: None,
            ok,
            details,
        });
    }
    FirmwarePaths { bios, uefi, steps }
}

/// The firmware list, the one to set first: those whose path to the boot loader works;
/// when none does, the ones the disk was meant for (IMP-BOOT says why they fail).
fn firmware(
    i: &Inputs,
    arch: Option<&Arch>,
    paths: &FirmwarePaths,
    reasons: &mut Vec<String>,
) -> Vec<Firmware> {
    let d = &i.disk;
    if matches!(arch, Some(Arch::Aarch64)) {
        if !paths.uefi.is_empty() && d.scheme == "gpt" {
            reasons.push("UEFI_64: aarch64 guests boot with UEFI from a GPT disk's EFI system partition (Ampere shapes)".into());
        } else {
            reasons.push(format!(
                "UEFI_64 is the only firmware of Arm shapes, but this {} disk has no BOOTAA64.EFI on a GPT EFI system partition: it will not boot (IMP-BOOT)",
                d.scheme
            ));
        }
        return vec![Firmware::Uefi64];
    }
    let mut fw = Vec::new();
    if paths.bios {
        fw.push(Firmware::Bios);
        reasons.push(format!(
            "BIOS: {}{}",
            d.bios.code,
            d.bios
                .grub_core
                .as_ref()
                .map(|c| format!(" loads core.img {}", c.location))
                .unwrap_or_default()
        ));
    }
    if !paths.uefi.is_empty() {
        fw.push(Firmware::Uefi64);
        reasons.push(format!(
            "UEFI_64: a removable-media loader on the EFI system partition{} (import creates the image as BIOS; set Compute.Firmware to UEFI_64 in the image capability schema)",
            if fw.len() == 2 { "; both firmwares boot it, BIOS needs no change after import" } else { "" }
        ));
    }
    if fw.is_empty() {
        reasons.push(
            "neither a BIOS nor a UEFI firmware can start a boot loader from this disk (IMP-BOOT)"
                .into(),
        );
        if !d.esps.is_empty() {
            fw.push(Firmware::Uefi64);
        } else {
            fw.push(Firmware::Bios);
        }
    }
    fw
}

/// The evidence chain from the boot entry to the initramfs (the firmware and boot loader
/// steps come first, from the disk).
fn chain_steps(g: &GuestFacts, out: &mut Vec<ChainStep>) {
    let chain = &g.chain;
    match (&g.boot, &chain.choice) {
        (Ok(b), KernelChoice::DefaultEntry { .. }) => out.push(ChainStep {
            step: "boot entry".into(),
            summary: format!("{} entry \u{201c}{}\u{201d}", b.loader, b.title),
            path: Some(b.source.clone()),
            ok: true,
            details: [
                Some(format!("default because {}", b.default_reason)),
                b.cmdline.as_ref().map(|c| format!("command line: {c}")),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }),
        (_, KernelChoice::NewestInstalled { why }) | (Err(why), _) => out.push(ChainStep {
            step: "boot entry".into(),
            summary: "no default boot entry: the newest installed kernel is assumed".into(),
            path: None,
            ok: false,
            details: vec![why.clone()],
        }),
    }
    let kernel_ok = chain.kernel_path.is_some() && chain.release.is_some();
    let mut details = Vec::new();
    if let Some(Ok(img)) = &chain.image {
        details.push(format!(
            "{}{}",
            img.format.describe(),
            if img.efi_stub { ", EFI stub" } else { "" }
        ));
        if let Some(b) = &img.banner {
            details.push(b.clone());
        }
    }
    if let Some(Err(e)) = &chain.image {
        details.push(format!("the image could not be read: {e}"));
    }
    if let Some(from) = &chain.release_from {
        details.push(format!("release from {from}"));
    }
    if let Some(k) = &chain.installed {
        if let Some(m) = &k.modules_dir {
            details.push(format!("modules: {m}"));
        }
        if let Some(c) = &k.config {
            details.push(format!("config: {c}"));
        }
    } else if chain.release.is_some() {
        details.push("no module tree for this release".into());
    }
    out.push(ChainStep {
        step: "kernel".into(),
        summary: match (&chain.release, &chain.kernel_path) {
            (Some(r), _) => format!(
                "Linux {r}{}",
                chain
                    .image
                    .as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .and_then(|k| k.arch)
                    .map(|a| format!(" ({})", arch_word(a)))
                    .unwrap_or_default()
            ),
            (None, Some(p)) => format!("{p}: the release could not be read"),
            (None, None) if !chain.kernel_missing.is_empty() => format!(
                "the kernel the entry boots is missing ({})",
                chain.kernel_missing.join(", ")
            ),
            (None, None) => "no kernel".into(),
        },
        path: chain.kernel_path.clone(),
        ok: kernel_ok,
        details,
    });
    if chain.no_initrd {
        out.push(ChainStep {
            step: "initramfs".into(),
            summary:
                "the entry loads no initramfs: the kernel must build in the boot volume's drivers"
                    .into(),
            path: None,
            ok: true,
            details: Vec::new(),
        });
    }
    for missing in &chain.initrd_missing {
        out.push(ChainStep {
            step: "initramfs".into(),
            summary: format!("missing: {}", missing.join(" or ")),
            path: None,
            ok: false,
            details: Vec::new(),
        });
    }
    for i in &chain.initrds {
        let mut details = vec![format!(
            "{} entries in {} segment{} ({})",
            i.entries,
            i.segments.len(),
            if i.segments.len() == 1 { "" } else { "s" },
            i.segments.join(" + ")
        )];
        if !i.kernel_versions.is_empty() {
            details.push(format!("modules for {}", i.kernel_versions.join(", ")));
        }
        if let Some(e) = &i.error {
            details.push(format!("reading stopped: {e}"));
        }
        details.extend(i.warnings.iter().take(5).cloned());
        out.push(ChainStep {
            step: "initramfs".into(),
            summary: format!(
                "{} kernel modules{}",
                i.modules.len(),
                if i.unreadable() { " (unreadable)" } else { "" }
            ),
            path: Some(i.path.clone()),
            ok: !i.unreadable(),
            details,
        });
    }
}

fn arch_word(a: Arch) -> &'static str {
    match a {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
        Arch::I386 => "i386",
        Arch::Arm => "arm",
        Arch::Other { .. } => "other",
    }
}

/// The report's recommendation: the decision with its shapes and artifacts.
pub fn recommend(i: &Inputs) -> Recommendation {
    let d = decide(i);
    let table = shape_table();
    let nvme = d.driver(NVME.name).is_none_or(|r| r.present());
    let shapes: Vec<ShapeFit> = match (d.arch, d.mode) {
        (Some(arch), Some(mode)) => compatible_shapes(arch, &d.firmware, mode, nvme)
            .into_iter()
            .map(|(s, fit)| ShapeFit {
                shape: s.name.clone(),
                processor: s.processor.as_str().to_string(),
                kind: match s.kind {
                    ShapeKind::Vm => "VM".into(),
                    ShapeKind::Bm => "BM".into(),
                },
                fits: fit.fits,
                why: fit.why,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut reasons = d.reasons.clone();
    if !shapes.is_empty() {
        let fit: Vec<&str> = shapes
            .iter()
            .filter(|s| s.fits)
            .map(|s| s.shape.as_str())
            .collect();
        reasons.push(if fit.is_empty() {
            "no shape of the table fits".to_string()
        } else {
            format!("shapes: {}", fit.join(", "))
        });
    }
    let artifacts = d
        .mode
        .map(|mode| crate::artifacts::build(i, mode, &d.firmware, &shapes));
    Recommendation {
        launch_mode: d.mode.map(|m| m.as_str().to_string()),
        firmware: d.firmware.iter().map(|f| f.as_str().to_string()).collect(),
        reasons,
        architecture: d.arch.map(|a| arch_word(a).to_string()),
        network_attachment: d.mode.map(|m| network_type(m).to_string()),
        boot_volume_type: d.mode.map(|m| boot_volume_type(m).to_string()),
        chain: d.chain.clone(),
        drivers: d
            .drivers
            .iter()
            .map(|r| DriverReach {
                name: r.need.name.to_string(),
                purpose: r.need.purpose.to_string(),
                status: r.status().to_string(),
                evidence: r.evidence(),
            })
            .collect(),
        modes: [
            (LaunchMode::Paravirtualized, &d.pv),
            (LaunchMode::Emulated, &d.emulated),
            (LaunchMode::Native, &d.native),
        ]
        .into_iter()
        .map(|(m, v)| ModeOption {
            mode: m.as_str().to_string(),
            possible: v.possible,
            why: v.why.clone(),
        })
        .collect(),
        shapes,
        shapes_as_of: Some(table.as_of.clone()),
        artifacts,
    }
}

/// `Network.AttachmentType` / `networkType` for a mode.
pub(crate) fn network_type(mode: LaunchMode) -> &'static str {
    match mode {
        LaunchMode::Emulated => "E1000",
        LaunchMode::Native => "VFIO",
        LaunchMode::Paravirtualized | LaunchMode::Custom => "PARAVIRTUALIZED",
    }
}

/// `Storage.BootVolumeType` / `bootVolumeType` for a mode.
pub(crate) fn boot_volume_type(mode: LaunchMode) -> &'static str {
    match mode {
        LaunchMode::Emulated => "IDE",
        LaunchMode::Native => "ISCSI",
        LaunchMode::Paravirtualized | LaunchMode::Custom => "PARAVIRTUALIZED",
    }
}
