use crate::Format;

/// What the report says about the container.
///
/// The generic fields are filled by every reader (None where the format has no such thing);
/// `qcow2` keeps QCOW2's own header facts; `archive` is set when the disk was found inside an
/// `.oci` or OVA archive, in which case `format` and the generic fields describe the disk
/// image inside (the member) and `file_size` the whole archive.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub format: Format,
    pub virtual_size: u64,
    pub file_size: u64,
    /// The variant within the format: VMDK `createType` (`monolithicSparse`,
    /// `streamOptimized`, …), VHD/VHDX `fixed` / `dynamic` / `differencing`, VDI `static` /
    /// `dynamic`.
    pub subformat: Option<String>,
    /// The format's version as its own tools print it (QCOW2 `3`, VMDK `1`/`3`, VHDX `1`,
    /// VDI `1.1`).
    pub version: Option<String>,
    /// Bytes of the file that hold guest data (allocated clusters, grains or blocks), when the
    /// format's tables say so without reading the data.
    pub allocated_size: Option<u64>,
    /// Allocation unit: QCOW2 cluster, VMDK grain, VHD/VHDX/VDI block.
    pub block_size: Option<u64>,
    /// Compression of the data (`zlib` for streamOptimized grains, `zstd`, …).
    pub compression: Option<String>,
    /// The parent (backing) image this one is a delta of, as the container names it.
    pub parent: Option<String>,
    /// Files other than this one that hold parts of the virtual disk (split or flat VMDK
    /// extents). Their byte ranges read as zeros and are counted in
    /// [`Container::missing_backing_bytes`](crate::Container).
    pub other_files: Vec<String>,
    /// Format-specific facts worth showing, in display order (`("createType",
    /// "streamOptimized")`, `("creator", "qemu 10.0")`, …).
    pub details: Vec<(String, String)>,
    pub qcow2: Option<Qcow2Info>,
    pub archive: Option<ArchiveInfo>,
    /// Things worth telling the publisher that do not stop inspection (dirty bit, …).
    pub warnings: Vec<String>,
}

impl ContainerInfo {
    /// The facts of a file whose format has nothing beyond its size (raw).
    pub fn plain(format: Format, virtual_size: u64, file_size: u64) -> Self {
        ContainerInfo {
            format,
            virtual_size,
            file_size,
            subformat: None,
            version: None,
            allocated_size: None,
            block_size: None,
            compression: None,
            parent: None,
            other_files: Vec::new(),
            details: Vec::new(),
            qcow2: None,
            archive: None,
            warnings: Vec::new(),
        }
    }
}

/// QCOW2 header facts (docs/interop/qcow2.txt in the QEMU source tree is the spec).
#[derive(Debug, Clone, Default)]
pub struct Qcow2Info {
    pub version: u32,
    /// "0.10" for version 2, "1.1" for version 3, as `qemu-img info` prints `compat`.
    pub compat: String,
    pub cluster_size: u64,
    pub compression_type: String,
    pub extended_l2: bool,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub external_data_file: Option<String>,
    /// "aes" or "luks" when the image is encrypted.
    pub encryption: Option<String>,
    pub snapshots: Vec<SnapshotInfo>,
    pub snapshot_count: u32,
    pub dirty: bool,
    pub corrupt: bool,
    pub lazy_refcounts: bool,
    pub refcount_bits: u32,
}

#[derive(Debug, Clone, Default)]
pub struct SnapshotInfo {
    pub id: String,
    pub name: String,
}

/// The archive kinds that carry a disk image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// OCI's export: `output.QCOW2` and `image_metadata.json`.
    Oci,
    /// Open Virtualization Format archive: an `.ovf` descriptor and its disks.
    Ova,
}

impl ArchiveKind {
    pub fn name(self) -> &'static str {
        match self {
            ArchiveKind::Oci => "oci",
            ArchiveKind::Ova => "ova",
        }
    }
}

/// A tar member as the archive lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMember {
    pub name: String,
    pub size: u64,
    /// Offset of the member's data in the (uncompressed) tar stream.
    pub offset: u64,
}

/// What an `.oci` or OVA archive holds, beside the disk the report inspects.
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub kind: ArchiveKind,
    /// `gzip` when the tar itself is compressed (tar.gz `.oci`): the disk was read through a
    /// decompression index built in one pass over the file.
    pub compression: Option<String>,
    /// Every member, in archive order.
    pub members: Vec<ArchiveMember>,
    /// The member whose disk the report inspects.
    pub disk_member: String,
    /// `image_metadata.json` of an `.oci` archive, parsed.
    pub oci_metadata: Option<OciMetadata>,
    /// The OVF descriptor of an OVA, the facts that matter for OCI.
    pub ovf: Option<OvfInfo>,
    /// Problems with the archive's own structure or metadata (unparsable JSON, a member the
    /// layout requires that is missing, …), each a full sentence.
    pub problems: Vec<String>,
}

/// `image_metadata.json` of an `.oci` export (field list: launch-modes-and-shapes.md, "The
/// `.oci` archive"). Every field is optional: exports of different ages differ.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// `imageCapabilityData` re-serialised as compact JSON (it may arrive as an object or as a
    /// JSON-encoded string); None when absent or null.
    pub image_capability_data: Option<String>,
    pub image_caps_format_version: Option<String>,
    pub operating_system: Option<String>,
    pub operating_system_version: Option<String>,
    /// `additionalMetadata.shapeCompatibilities[].internalShapeName`.
    pub shapes: Vec<String>,
}

/// The OVF descriptor's facts that matter for OCI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OvfInfo {
    /// The descriptor's member name.
    pub descriptor: String,
    /// `Disk/@ovf:capacity` in bytes (after `capacityAllocationUnits`), per disk, in order.
    pub disk_capacities: Vec<u64>,
    /// `Disk/@ovf:format` of the first disk.
    pub disk_format: Option<String>,
    /// `OperatingSystemSection` description (or its `ovf:osType`/`ovf:id`).
    pub os_type: Option<String>,
    pub cpus: Option<u64>,
    pub memory_mib: Option<u64>,
    /// Network adapter types (`E1000`, `VmxNet3`, …).
    pub nics: Vec<String>,
    /// Disk controllers (`AHCI`, `PIIX4`, `lsilogic`, …).
    pub controllers: Vec<String>,
    /// `VirtualSystemType` (`vmx-13`, `virtualbox-2.2`).
    pub system_type: Option<String>,
    /// The manifest member (`.mf`), if any.
    pub manifest: Option<String>,
    /// Digests of the manifest checked against the members, when
    /// [`OpenOptions::verify_manifest`](crate::OpenOptions) asked for it (it reads every
    /// member in full); empty otherwise.
    pub manifest_checks: Vec<DigestCheck>,
}

/// One manifest line checked: `SHA256(disk.vmdk)= …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCheck {
    pub member: String,
    /// `SHA1`, `SHA256`, `SHA512`.
    pub algorithm: String,
    pub expected: String,
    /// None when the member is missing from the archive or the algorithm is unknown.
    pub actual: Option<String>,
}
