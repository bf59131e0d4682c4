//! Everything the rules look at, gathered by the inspection before any rule runs.

use preflight_facts::{
    Provenance, arch::ArchFact, boot_chain::BootChain, efi::EspFacts, hygiene::HygieneFact,
    kernels::KernelsFact, os::OsInfo, ssh_keys, sshd::SshdConfig, updates::UpdatesFact,
    users::UsersFact,
};

pub struct Inputs {
    /// Today (`YYYY-MM-DD`), when the caller knows it.
    pub today: Option<String>,
    pub image: ImageFacts,
    pub disk: DiskFacts,
    pub volumes: Vec<VolumeFacts>,
    /// The guest's facts, or why there are none (no readable root, encrypted disk, …).
    pub guest: Result<GuestFacts, String>,
}

#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub name: String,
    /// qemu-img's format name: "qcow2", "raw", …
    pub format: String,
    pub virtual_size: u64,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub external_data_file: Option<String>,
    pub encryption: Option<String>,
    pub snapshot_count: u32,
    pub snapshot_names: Vec<String>,
    /// Bytes asked of regions that live only in files we do not have (backing file, parent,
    /// other extents).
    pub missing_backing_bytes: u64,
    /// VMDK createType, VHD/VHDX `fixed`/`dynamic`/`differencing`, VDI `static`/`dynamic`.
    pub subformat: Option<String>,
    /// The parent image a VMDK, VHD, VHDX or VDI delta names (QCOW2: `backing_file`).
    pub parent: Option<String>,
    /// Other files holding parts of the disk (split or flat VMDK extents).
    pub other_files: Vec<String>,
    /// The archive the disk came in (`.oci`, OVA), as the report shows it.
    pub archive: Option<preflight_report::Archive>,
}

#[derive(Debug, Clone, Default)]
pub struct DiskFacts {
    /// "mbr", "gpt", "none", or "unreadable".
    pub scheme: String,
    /// Boot code in the first 440 bytes of the disk.
    pub mbr_boot_code: bool,
    pub mbr_grub: bool,
    pub bios_boot_partition: bool,
    /// Volumes that are EFI system partitions.
    pub esp_volumes: Vec<usize>,
    /// LVM2 physical volumes a volume group of this image needs but the image lacks, each a
    /// sentence naming the VG and the PV.
    pub lvm_missing_pvs: Vec<String>,
    /// What a BIOS runs from sector 0.
    pub bios: BiosFact,
    /// Every EFI system partition with what UEFI firmware would run from it.
    pub esps: Vec<EspFact>,
}

/// Sector 0's boot code and, for GRUB 2, its core.img.
#[derive(Debug, Clone, Default)]
pub struct BiosFact {
    /// What the code is, as a phrase ("GRUB 2 boot.img").
    pub code: String,
    /// Bytes 0–439 hold code.
    pub present: bool,
    pub grub_core: Option<GrubCore>,
    /// Oddities, with byte offsets.
    pub diagnostics: Vec<String>,
}

impl BiosFact {
    /// A BIOS would get past sector 0: there is code, and for GRUB 2 a valid core.img.
    pub fn boots(&self) -> bool {
        self.present && self.grub_core.as_ref().is_none_or(|c| c.valid)
    }
}

/// Where GRUB 2's boot.img finds core.img.
#[derive(Debug, Clone, Default)]
pub struct GrubCore {
    pub start_lba: u64,
    pub sectors: u64,
    /// "in the MBR gap before the first partition", "in BIOS boot partition 14", …
    pub location: String,
    /// Inside a partition that is not a BIOS boot partition, or in unallocated space: a file
    /// system or a partitioning tool may overwrite it.
    pub exposed: bool,
    /// The sectors hold diskboot.img and GRUB's decompressor.
    pub valid: bool,
}

/// One EFI system partition.
#[derive(Debug, Clone)]
pub struct EspFact {
    pub volume: usize,
    /// "partition 15".
    pub name: String,
    /// What the firmware would run, or why the partition could not be read.
    pub facts: Result<EspFacts, String>,
    /// The stub grub.cfg's `search --fs-uuid` target is a volume of this image (None: no
    /// such search).
    pub search_found: Option<bool>,
}

impl EspFact {
    /// The removable-media loader for `arch` ("x86_64", "aarch64"), when present.
    pub fn loader_for(&self, arch: &str) -> Option<&str> {
        self.facts
            .as_ref()
            .ok()
            .and_then(|f| f.removable.get(arch))
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Default)]
pub struct VolumeFacts {
    pub index: usize,
    /// "partition 2" or "whole disk", for evidence.
    pub name: String,
    /// What the volume holds, as blkid names it.
    pub content: Option<String>,
    pub uuid: Option<String>,
    pub encrypted: bool,
    /// The encryption header's facts (`LUKS2, cipher aes-xts-plain64, 512-bit key, …`).
    pub encryption: Option<String>,
}

pub struct GuestFacts {
    pub os: Option<OsInfo>,
    pub arch: ArchFact,
    pub kernels: KernelsFact,
    pub users: UsersFact,
    pub sshd: SshdConfig,
    pub host_keys: ssh_keys::HostKeys,
    pub authorized_keys: Vec<ssh_keys::AuthorizedKeysFile>,
    pub fstab: Vec<FstabFact>,
    /// The boot loader's default entry, or why there is none.
    pub boot: Result<BootFact, String>,
    /// Default entry → kernel file → installed kernel → initramfs.
    pub chain: BootChain,
    /// Signs the image was built from an OCI platform image (NATIVE mode needs them).
    pub oci_signs: Vec<(Provenance, String)>,
    /// Secrets, histories and build leftovers.
    pub hygiene: HygieneFact,
    /// The kernel's build date and the last package operation.
    pub updates: UpdatesFact,
    pub cloud_init: preflight_facts::cloud_init::CloudInitFact,
    pub packages: preflight_facts::packages::PackagesFact,
    pub systemd: preflight_facts::systemd::Systemd,
    pub network: preflight_facts::network::NetworkFact,
    pub hardening: preflight_facts::hardening::HardeningFact,
}

/// What the boot loader configuration says the default entry boots.
#[derive(Debug, Clone, Default)]
pub struct BootFact {
    /// `GRUB 2`, `BLS`, `extlinux`, …
    pub loader: String,
    /// The configuration file that decided.
    pub config: String,
    pub title: String,
    /// Where the default entry is defined (`/boot/grub/grub.cfg:170`).
    pub source: String,
    /// Why it is the default (`set default="0"` at …).
    pub default_reason: String,
    pub kernel: Option<String>,
    pub initrds: Vec<String>,
    pub cmdline: Option<String>,
    /// `root=` of the command line as written.
    pub root: Option<String>,
    /// `root=` names the volume by something stable (UUID, LABEL, LVM path, by-uuid).
    pub root_stable: bool,
    /// `root=` resolves to a volume of this image (None when there is no `root=`).
    pub root_found: Option<bool>,
    /// The serial consoles on the command line (`ttyS0`, `ttyAMA0`).
    pub serial_consoles: Vec<String>,
    /// Every console on the command line, in order.
    pub consoles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FstabFact {
    pub line: u32,
    pub spec: String,
    pub mount_point: String,
    /// `nofail` or `noauto`: boot goes on without it.
    pub optional: bool,
    pub state: FstabState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FstabState {
    Found,
    NotFound,
    Unresolved(String),
    NotADisk,
}
