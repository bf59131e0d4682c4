//! The report: the one document every front end renders (CLI text, JSON, the web page).
//!
//! It is versioned ([`SCHEMA_VERSION`]); field names are part of the public contract
//! (README.md documents them). Bump the version when a field changes meaning or disappears;
//! adding a field is compatible.

use serde::{Deserialize, Serialize};

mod text;

pub use text::{human_size, render_text};

/// Version of the report's JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub image: Image,
    pub verdict: Verdict,
    pub recommendation: Recommendation,
    pub findings: Vec<Finding>,
    pub not_evaluated: Vec<NotEvaluated>,
    #[serde(default)]
    pub partition_table: Option<PartitionTable>,
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub guest: Option<Guest>,
    /// Why the guest's files could not be inspected, when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_error: Option<String>,
    /// What the inspection itself ran into (a volume it could not read, a second root, …).
    pub notes: Vec<String>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Image {
    /// File name as given (no directory: the report may be shared).
    pub name: String,
    /// "qcow2", "raw", … (qemu-img's names).
    pub format: String,
    pub file_size: u64,
    pub virtual_size: u64,
    /// The variant within the format: VMDK `createType`, VHD/VHDX `fixed`/`dynamic`/
    /// `differencing`, VDI `static`/`dynamic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subformat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Bytes of the file holding guest data, as the format's tables say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_size: Option<u64>,
    /// Cluster (QCOW2), grain (VMDK) or block (VHD, VHDX, VDI) size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// The parent (backing) image this one is a delta of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Other files holding parts of the disk (split or flat VMDK extents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_files: Vec<String>,
    /// Bytes the inspection asked of regions held by files it does not have (parent, other
    /// extents); they were read as zeros.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes_missing: u64,
    /// Format-specific facts, in display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qcow2: Option<Qcow2>,
    /// Set when the disk was found inside an `.oci` or OVA archive; the fields above then
    /// describe the disk image inside, `file_size` the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<Archive>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Detail {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Archive {
    /// `oci` or `ova`.
    pub kind: String,
    /// `gzip` for a tar.gz `.oci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    pub members: Vec<ArchiveMember>,
    /// The member whose disk was inspected.
    pub disk_member: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_metadata: Option<OciMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovf: Option<Ovf>,
    /// Problems with the archive's structure or metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ArchiveMember {
    pub name: String,
    pub size: u64,
}

/// `image_metadata.json` of an `.oci` archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct OciMetadata {
    pub version: Option<String>,
    pub firmware: Option<String>,
    pub network_type: Option<String>,
    pub boot_volume_type: Option<String>,
    pub remote_data_volume_type: Option<String>,
    pub local_data_volume_type: Option<String>,
    pub launch_options_source: Option<String>,
    pub pv_attachment_version: Option<String>,
    pub pv_encryption_in_transit_enabled: Option<bool>,
    pub consistent_volume_naming_enabled: Option<bool>,
    /// Compact JSON of `imageCapabilityData`.
    pub image_capability_data: Option<String>,
    pub image_caps_format_version: Option<String>,
    pub operating_system: Option<String>,
    pub operating_system_version: Option<String>,
    pub shapes: Vec<String>,
}

/// The OVF descriptor of an OVA.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Ovf {
    pub descriptor: String,
    pub disk_capacities: Vec<u64>,
    pub disk_format: Option<String>,
    pub os_type: Option<String>,
    pub cpus: Option<u64>,
    pub memory_mib: Option<u64>,
    pub nics: Vec<String>,
    pub controllers: Vec<String>,
    pub system_type: Option<String>,
    pub manifest: Option<String>,
    /// Manifest digests checked (only with `--verify-manifest`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_checks: Vec<ManifestCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ManifestCheck {
    pub member: String,
    pub algorithm: String,
    /// Whether the member's digest matches the manifest; None when it could not be computed
    /// (member missing, unknown algorithm).
    pub matches: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Qcow2 {
    pub version: u32,
    pub compat: String,
    pub cluster_size: u64,
    pub compression_type: String,
    pub extended_l2: bool,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub external_data_file: Option<String>,
    pub encryption: Option<String>,
    pub snapshot_count: u32,
    pub dirty: bool,
    pub corrupt: bool,
    /// Bytes the inspection asked of clusters that live only in the (absent) backing file.
    pub bytes_missing_from_backing: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Blocker,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Blocker => "blocker",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// Guest path (or an image-level location such as "qcow2 header").
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What was seen there.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub rule: String,
    /// What part of the image the rule is about, for grouping.
    #[serde(default)]
    pub area: Area,
    pub level: Level,
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub remedy: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotEvaluated {
    pub rule: String,
    #[serde(default)]
    pub area: Area,
    pub title: String,
    pub reason: String,
}

/// The areas findings are grouped by, in report order.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// The file itself: format, size, self-containment, encryption, operating system.
    #[default]
    Image,
    /// Firmware, boot loader, kernel, initramfs, launch mode, shapes.
    Boot,
    SshAccounts,
    Network,
    CloudInit,
    /// What must be cleaned before capture: secrets, histories, leftovers, updates.
    Hygiene,
    /// Time, firewall, mandatory access control, iSCSI.
    Hardening,
}

impl Area {
    pub const ALL: [Area; 7] = [
        Area::Image,
        Area::Boot,
        Area::SshAccounts,
        Area::Network,
        Area::CloudInit,
        Area::Hygiene,
        Area::Hardening,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Area::Image => "Image",
            Area::Boot => "Boot and launch",
            Area::SshAccounts => "SSH and accounts",
            Area::Network => "Network",
            Area::CloudInit => "cloud-init",
            Area::Hygiene => "Hygiene",
            Area::Hardening => "Hardening",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No blocker found and every rule ran.
    Ready,
    /// At least one blocker.
    Blocked,
    /// No blocker found, but some rules could not run: not a pass.
    Incomplete,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub blockers: usize,
    pub warnings: usize,
    pub infos: usize,
    pub not_evaluated: usize,
    /// One sentence for humans.
    pub summary: String,
}

/// The launch decision (shared/reference/launch-modes-and-shapes.md): mode, firmware, shapes,
/// the evidence chain it was made from, and the OCI artifacts that apply it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Recommendation {
    /// "PARAVIRTUALIZED", "EMULATED" or "NATIVE"; absent when nothing could be decided.
    pub launch_mode: Option<String>,
    /// "BIOS" and/or "UEFI_64", the one to set first.
    pub firmware: Vec<String>,
    /// One sentence per step of the decision, in order.
    pub reasons: Vec<String>,
    /// "x86_64" or "aarch64" (absent: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `Network.AttachmentType` for the mode: "PARAVIRTUALIZED", "E1000" or "VFIO".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_attachment: Option<String>,
    /// `Storage.BootVolumeType` for the mode: "PARAVIRTUALIZED", "IDE" or "ISCSI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_volume_type: Option<String>,
    /// What the firmware finds, step by step: firmware → boot loader → boot entry → kernel →
    /// initramfs → drivers.
    #[serde(default)]
    pub chain: Vec<ChainStep>,
    /// The drivers each mode needs and whether they are reachable at boot.
    #[serde(default)]
    pub drivers: Vec<DriverReach>,
    /// Every launch mode, possible or not, and why.
    #[serde(default)]
    pub modes: Vec<ModeOption>,
    /// Every shape of the shape table, whether this image fits it and why.
    #[serde(default)]
    pub shapes: Vec<ShapeFit>,
    /// The date the shape table was checked against its sources (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shapes_as_of: Option<String>,
    /// Ready-to-use artifacts, when a launch mode was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Artifacts>,
}

impl Artifacts {
    /// The file names the artifacts are saved under (the CLI's `--emit-artifacts`, the page's
    /// downloads): the schema, the metadata, and a shell script with every command.
    pub const SCHEMA_FILE: &'static str = "schema.json";
    pub const METADATA_FILE: &'static str = "image_metadata.json";
    pub const COMMANDS_FILE: &'static str = "oci-commands.sh";

    /// A shell script with the import, schema and shape commands in the order they are run.
    pub fn commands_script(&self) -> String {
        let mut s = String::from(
            "#!/bin/sh\n# Written by Preflight: import the image, apply its capability schema, add shape compatibility.\n\
             # Set these first: NAMESPACE, BUCKET, COMPARTMENT_OCID; IMAGE_OCID once the import has finished;\n\
             # GLOBAL_SCHEMA_VERSION from: oci compute global-image-capability-schema-version list --global-image-capability-schema-id <id>\n\
             set -eu\n\n# 1. import\n",
        );
        s.push_str(&self.import_command);
        s.push_str("\n\n# 2. capability schema (schema.json next to this script)\n");
        s.push_str(&self.schema_command);
        s.push_str("\n\n# 3. shape compatibility\n");
        for c in &self.shape_commands {
            s.push_str(c);
            s.push('\n');
        }
        s
    }

    /// Pretty JSON of the capability schema, as saved to [`Self::SCHEMA_FILE`].
    pub fn schema_json(&self) -> String {
        serde_json::to_string_pretty(&self.capability_schema).unwrap_or_default() + "\n"
    }

    /// Pretty JSON of `image_metadata.json`.
    pub fn metadata_json(&self) -> String {
        serde_json::to_string_pretty(&self.image_metadata).unwrap_or_default() + "\n"
    }
}

/// One link of the boot chain as the firmware would follow it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ChainStep {
    /// "firmware", "boot loader", "boot entry", "kernel", "initramfs".
    pub step: String,
    /// One line: "GRUB 2 boot.img in the MBR, core.img in the MBR gap (sectors 1–2047)".
    pub summary: String,
    /// The guest path or disk location it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// False when this link is broken (the chain stops here).
    pub ok: bool,
    #[serde(default)]
    pub details: Vec<String>,
}

/// Whether one driver is reachable when the kernel mounts the root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DriverReach {
    /// Module name: "virtio_scsi".
    pub name: String,
    /// What it is for: "paravirtualized boot volume (virtio-scsi)".
    pub purpose: String,
    /// "builtin", "initramfs", "installed" (a module on disk but not in the initramfs),
    /// "absent" or "unknown".
    pub status: String,
    /// The file (and line) that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// One launch mode and whether this image can use it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ModeOption {
    /// "PARAVIRTUALIZED", "EMULATED", "NATIVE".
    pub mode: String,
    pub possible: bool,
    pub why: String,
}

/// One shape and whether this image runs on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ShapeFit {
    pub shape: String,
    /// "Intel", "AMD", "Ampere".
    pub processor: String,
    /// "VM" or "BM".
    pub kind: String,
    pub fits: bool,
    /// Why it fits (the mode and firmware to use) or why not.
    pub why: String,
}

/// What the publisher runs or uploads to apply the decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Artifacts {
    /// The image capability schema document for
    /// `oci compute image-capability-schema create --schema-data file://schema.json`.
    pub capability_schema: serde_json::Value,
    /// `oci compute image import from-object … --launch-mode …`.
    pub import_command: String,
    /// The `oci compute image-capability-schema create` command that applies the schema.
    pub schema_command: String,
    /// One `oci compute image-shape-compatibility-entry add` per fitting shape.
    pub shape_commands: Vec<String>,
    /// `image_metadata.json` for packaging the disk as an `.oci` archive.
    pub image_metadata: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionTable {
    /// "mbr", "gpt" or "none".
    pub scheme: String,
    pub sector_size: u64,
    pub disk_id: Option<String>,
    pub diagnostics: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Volume {
    pub index: usize,
    /// "partition", "disk" (no partition table) or "lv" (an LVM2 logical volume).
    pub kind: String,
    /// `VG/LV` of a logical volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lv: Option<String>,
    pub number: Option<u32>,
    pub start: u64,
    pub size: u64,
    pub partition_type: Option<String>,
    pub partition_type_name: Option<String>,
    pub part_uuid: Option<String>,
    pub part_label: Option<String>,
    /// Signature found on the volume, named as blkid names it ("ext4", "xfs", "crypto_LUKS", …).
    pub content: Option<String>,
    pub uuid: Option<String>,
    pub label: Option<String>,
    pub readable: bool,
    pub mounted_at: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Guest {
    pub arch: Option<String>,
    pub arch_evidence: Vec<String>,
    pub os: Option<Os>,
    pub kernels: Vec<Kernel>,
    pub users: Vec<User>,
    pub sshd: Vec<SshdSetting>,
    pub ssh_host_keys: Vec<String>,
    pub authorized_keys: Vec<AuthorizedKey>,
    pub mounts: Vec<Mount>,
    pub fstab: Vec<FstabLine>,
    /// The boot loader's default entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
}

/// The entry the boot loader boots by default, as its configuration says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Boot {
    /// `Grub2`, `Bls`, `GrubLegacy`, `Extlinux`, `SystemdBoot`.
    pub loader: String,
    pub config: String,
    pub title: String,
    /// Where the entry is defined (`file:line`).
    pub source: String,
    pub default_reason: String,
    pub kernel: Option<String>,
    pub initrds: Vec<String>,
    pub cmdline: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Os {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub name: Option<String>,
    pub pretty_name: Option<String>,
    pub id_like: Vec<String>,
    /// File the values came from.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Kernel {
    pub version: String,
    pub image: Option<String>,
    pub initramfs: Option<String>,
    pub modules_dir: Option<String>,
    /// For each of virtio_pci, virtio_scsi, virtio_blk, virtio_net: "builtin", "module" or "absent".
    pub virtio: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub home: String,
    pub shell: String,
    /// "locked", "empty", "hash:<scheme>", "unusable", "no_shadow_entry": never the hash.
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SshdSetting {
    pub keyword: String,
    pub value: String,
    /// "default" or "path:line".
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuthorizedKey {
    pub path: String,
    pub line: u32,
    pub user: String,
    pub key_type: String,
    pub fingerprint: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Mount {
    pub point: String,
    pub volume: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FstabLine {
    pub line: u32,
    pub spec: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
    /// "root", "mounted", "unreadable", "not_found", "unresolved", "not_a_disk".
    pub outcome: String,
    pub volume: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Stats {
    pub bytes_read: u64,
    pub read_calls: u64,
    pub elapsed_ms: u64,
    /// What the bounded guest scans cost (the secrets and leftovers scan, the IMDSv1
    /// reference scan, the systemd unit reader), for the benchmark.
    #[serde(default)]
    pub scans: Vec<ScanStat>,
}

/// The cost of one guest scan: files opened and bytes read through the guest's files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ScanStat {
    pub what: String,
    pub files: u64,
    pub bytes: u64,
    /// Directories listed, where the scan walks.
    #[serde(default)]
    pub dirs: u64,
    /// A limit stopped it: the result is partial.
    #[serde(default)]
    pub truncated: bool,
}

impl Report {
    /// Count findings and decide the verdict. Call after findings and not_evaluated are final.
    pub fn finish(&mut self) {
        self.findings
            .sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.rule.cmp(&b.rule)));
        let count = |l| self.findings.iter().filter(|f| f.level == l).count();
        let (blockers, warnings, infos) = (
            count(Level::Blocker),
            count(Level::Warning),
            count(Level::Info),
        );
        let not_evaluated = self.not_evaluated.len();
        let (status, summary) = if blockers > 0 {
            (
                Status::Blocked,
                format!(
                    "{blockers} blocker(s) found: OCI import or Marketplace review would fail until they are fixed"
                ),
            )
        } else if not_evaluated > 0 {
            (
                Status::Incomplete,
                format!(
                    "no blocker found, but {not_evaluated} rule(s) could not be evaluated: this is not a pass"
                ),
            )
        } else {
            (
                Status::Ready,
                "no blocker found: ready for OCI import as far as these rules go".to_string(),
            )
        };
        self.verdict = Verdict {
            status,
            blockers,
            warnings,
            infos,
            not_evaluated,
            summary,
        };
    }

    pub fn has_blockers(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Blocker)
    }
}
