use crate::Format;

/// What the report says about the container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub format: Format,
    pub virtual_size: u64,
    pub file_size: u64,
    pub qcow2: Option<Qcow2Info>,
    /// Things worth telling the publisher that do not stop inspection (dirty bit, …).
    pub warnings: Vec<String>,
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
