//! The QCOW2 header and its extensions, as specified in QEMU's docs/interop/qcow2.txt.
//! Every field is checked before anything is allocated from it.

use preflight_io::{ByteSource, be, read_vec};

use crate::info::{Qcow2Info, SnapshotInfo};
use crate::{ContainerError, Format};

const V2_HEADER_LEN: usize = 72;
const V3_MIN_HEADER_LEN: usize = 104;

/// Incompatible feature bits (qcow2.txt, "incompatible_features").
const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 = 0b1_1111;
const COMPAT_LAZY_REFCOUNTS: u64 = 1 << 0;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_FEATURE_TABLE: u32 = 0x6803_f857;
const EXT_DATA_FILE: u32 = 0x4441_5441;

/// QEMU refuses cluster sizes outside 512 B ..= 2 MiB.
pub const MIN_CLUSTER_BITS: u32 = 9;
pub const MAX_CLUSTER_BITS: u32 = 21;
/// QEMU caps the L1 table at 32 MiB (QCOW_MAX_L1_SIZE).
pub const MAX_L1_BYTES: u64 = 32 * 1024 * 1024;
/// Backing file names longer than this are refused by QEMU too.
const MAX_BACKING_NAME: u32 = 1023;
/// Snapshot names listed in the report; the count is always exact.
const MAX_LISTED_SNAPSHOTS: u32 = 64;

#[derive(Debug, Clone)]
pub struct Header {
    pub cluster_bits: u32,
    pub size: u64,
    pub crypt_method: u32,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub incompatible: u64,
    pub compatible: u64,
    pub refcount_order: u32,
    pub compression_type: u8,
    pub nb_snapshots: u32,
    pub snapshots_offset: u64,
    pub backing_file_offset: u64,
    pub backing_file_size: u32,
}

impl Header {
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }
    pub fn extended_l2(&self) -> bool {
        self.incompatible & INCOMPAT_EXTL2 != 0
    }
    pub fn has_data_file(&self) -> bool {
        self.incompatible & INCOMPAT_DATA_FILE != 0
    }
}

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Qcow2, offset, message)
}

/// Parse and validate the header; collect the facts and warnings for the report.
pub fn parse(file: &dyn ByteSource) -> Result<(Header, Qcow2Info, Vec<String>), ContainerError> {
    let file_len = file.len();
    if file_len < V2_HEADER_LEN as u64 {
        return Err(corrupt(
            0,
            format!("file is {file_len} bytes, shorter than a QCOW2 header"),
        ));
    }
    let mut fixed = [0u8; V3_MIN_HEADER_LEN];
    let n = (file_len.min(V3_MIN_HEADER_LEN as u64)) as usize;
    file.read_at(0, &mut fixed[..n])?;
    let b = &fixed[..];

    let version = be::u32(b, 4);
    if version != 2 && version != 3 {
        return Err(ContainerError::Unsupported {
            format: Format::Qcow2,
            message: format!("QCOW2 version {version} is not supported (only 2 and 3 exist)"),
        });
    }
    let cluster_bits = be::u32(b, 20);
    if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
        return Err(corrupt(
            20,
            format!("cluster_bits {cluster_bits} outside 9..=21"),
        ));
    }
    let cluster_size = 1u64 << cluster_bits;
    let mut h = Header {
        cluster_bits,
        backing_file_offset: be::u64(b, 8),
        backing_file_size: be::u32(b, 16),
        size: be::u64(b, 24),
        crypt_method: be::u32(b, 32),
        l1_size: be::u32(b, 36),
        l1_table_offset: be::u64(b, 40),
        nb_snapshots: be::u32(b, 60),
        snapshots_offset: be::u64(b, 64),
        incompatible: 0,
        compatible: 0,
        refcount_order: 4,
        compression_type: 0,
    };
    let mut header_len = V2_HEADER_LEN;
    if version == 3 {
        if n < V3_MIN_HEADER_LEN {
            return Err(corrupt(0, "version 3 header is truncated"));
        }
        h.incompatible = be::u64(b, 72);
        h.compatible = be::u64(b, 80);
        h.refcount_order = be::u32(b, 96);
        header_len = be::u32(b, 100) as usize;
        if header_len < V3_MIN_HEADER_LEN
            || !header_len.is_multiple_of(8)
            || header_len as u64 > cluster_size
        {
            return Err(corrupt(
                100,
                format!("header_length {header_len} is invalid"),
            ));
        }
        if header_len > V3_MIN_HEADER_LEN {
            let mut ct = [0u8; 1];
            file.read_at(V3_MIN_HEADER_LEN as u64, &mut ct)?;
            h.compression_type = ct[0];
        }
    }

    let mut warnings = Vec::new();
    let mut feature_names: Vec<(u8, u8, String)> = Vec::new();
    let mut backing_format = None;
    let mut data_file_name = None;

    // Header extensions follow the header, up to the end of the first cluster.
    let mut off = header_len as u64;
    let ext_end = cluster_size.min(file_len);
    for _ in 0..256 {
        if off + 8 > ext_end {
            break;
        }
        let mut eh = [0u8; 8];
        file.read_at(off, &mut eh)?;
        let (ty, len) = (be::u32(&eh, 0), be::u32(&eh, 4) as u64);
        if ty == EXT_END {
            break;
        }
        let data_off = off + 8;
        if data_off + len > ext_end {
            return Err(corrupt(
                off,
                format!("header extension 0x{ty:08x} of {len} bytes overruns the first cluster"),
            ));
        }
        let data = read_vec(file, data_off, len, cluster_size)?;
        match ty {
            EXT_BACKING_FORMAT => backing_format = Some(text(&data)),
            EXT_DATA_FILE => data_file_name = Some(text(&data)),
            EXT_FEATURE_TABLE => {
                for e in data.chunks_exact(48) {
                    feature_names.push((e[0], e[1], text(&e[2..])));
                }
            }
            _ => {}
        }
        off = data_off + len.div_ceil(8) * 8;
    }

    let unknown = h.incompatible & !INCOMPAT_KNOWN;
    if unknown != 0 {
        let names: Vec<String> = (0..64u8)
            .filter(|bit| unknown & (1 << bit) != 0)
            .map(|bit| {
                feature_names
                    .iter()
                    .find(|(ty, b, _)| *ty == 0 && *b == bit)
                    .map_or(format!("bit {bit}"), |(_, _, name)| {
                        format!("\"{name}\" (bit {bit})")
                    })
            })
            .collect();
        return Err(ContainerError::Unsupported {
            format: Format::Qcow2,
            message: format!(
                "QCOW2 image uses incompatible features this reader does not know: {}",
                names.join(", ")
            ),
        });
    }
    if h.incompatible & INCOMPAT_COMPRESSION == 0 && h.compression_type != 0 {
        return Err(corrupt(
            104,
            "compression type set without the compression-type feature bit",
        ));
    }
    let compression_type = match h.compression_type {
        0 => "zlib",
        1 => "zstd",
        other => {
            return Err(ContainerError::Unsupported {
                format: Format::Qcow2,
                message: format!("unknown QCOW2 compression type {other}"),
            });
        }
    };
    if h.refcount_order > 6 {
        return Err(corrupt(
            96,
            format!("refcount_order {} above 6", h.refcount_order),
        ));
    }
    // QEMU allows virtual sizes up to 2^61 bytes; more is certainly garbage.
    if h.size > 1 << 61 {
        return Err(corrupt(
            24,
            format!("virtual size {} is beyond what QCOW2 allows", h.size),
        ));
    }
    let l2_entry = if h.extended_l2() { 16 } else { 8 };
    let l2_entries = cluster_size / l2_entry;
    let needed_l1 = h.size.div_ceil(cluster_size).div_ceil(l2_entries);
    if (h.l1_size as u64) < needed_l1 {
        return Err(corrupt(
            36,
            format!(
                "L1 table has {} entries, {needed_l1} are needed for the virtual size",
                h.l1_size
            ),
        ));
    }
    if h.l1_size as u64 * 8 > MAX_L1_BYTES {
        return Err(corrupt(
            36,
            format!("L1 table of {} entries exceeds 32 MiB", h.l1_size),
        ));
    }
    if h.l1_size > 0 && !h.l1_table_offset.is_multiple_of(cluster_size) {
        return Err(corrupt(
            40,
            format!(
                "L1 table offset {} is not cluster-aligned",
                h.l1_table_offset
            ),
        ));
    }
    if h.extended_l2() && cluster_bits < 14 {
        return Err(corrupt(
            20,
            "extended L2 entries need clusters of at least 16 KiB",
        ));
    }

    let backing_file = if h.backing_file_offset != 0 {
        if h.backing_file_size == 0 || h.backing_file_size > MAX_BACKING_NAME {
            return Err(corrupt(
                16,
                format!(
                    "backing file name length {} is invalid",
                    h.backing_file_size
                ),
            ));
        }
        let name = read_vec(
            file,
            h.backing_file_offset,
            h.backing_file_size as u64,
            MAX_BACKING_NAME as u64,
        )?;
        Some(text(&name))
    } else {
        None
    };

    if h.incompatible & INCOMPAT_DIRTY != 0 {
        warnings.push("the QCOW2 dirty bit is set: the image was not closed cleanly (lazy refcounts). Data is readable; `qemu-img check -r all` repairs the refcounts before upload".into());
    }
    if h.incompatible & INCOMPAT_CORRUPT != 0 {
        warnings.push("QEMU marked this QCOW2 image corrupt; results may be wrong. Run `qemu-img check` and repair or rebuild the image".into());
    }

    let snapshots = read_snapshot_names(file, &h, &mut warnings);

    let info = Qcow2Info {
        version,
        compat: if version == 2 {
            "0.10".into()
        } else {
            "1.1".into()
        },
        cluster_size,
        compression_type: compression_type.into(),
        extended_l2: h.extended_l2(),
        backing_file,
        backing_format,
        external_data_file: if h.has_data_file() {
            Some(data_file_name.unwrap_or_else(|| "(name not recorded in the image)".into()))
        } else {
            None
        },
        encryption: match h.crypt_method {
            0 => None,
            1 => Some("aes".into()),
            2 => Some("luks".into()),
            other => Some(format!("method {other}")),
        },
        snapshots,
        snapshot_count: h.nb_snapshots,
        dirty: h.incompatible & INCOMPAT_DIRTY != 0,
        corrupt: h.incompatible & INCOMPAT_CORRUPT != 0,
        lazy_refcounts: h.compatible & COMPAT_LAZY_REFCOUNTS != 0,
        refcount_bits: 1 << h.refcount_order,
    };
    Ok((h, info, warnings))
}

/// The snapshot table (qcow2.txt, "Snapshots"): only ids and names, for the evidence.
fn read_snapshot_names(
    file: &dyn ByteSource,
    h: &Header,
    warnings: &mut Vec<String>,
) -> Vec<SnapshotInfo> {
    let mut out = Vec::new();
    let mut off = h.snapshots_offset;
    for _ in 0..h.nb_snapshots.min(MAX_LISTED_SNAPSHOTS) {
        let mut fixed = [0u8; 40];
        if file.read_at(off, &mut fixed).is_err() {
            warnings.push(format!(
                "the snapshot table at offset {off} could not be read"
            ));
            break;
        }
        let id_len = be::u16(&fixed, 12) as u64;
        let name_len = be::u16(&fixed, 14) as u64;
        let extra = be::u32(&fixed, 36) as u64;
        let id_off = off + 40 + extra;
        let (Ok(id), Ok(name)) = (
            read_vec(file, id_off, id_len, 65535),
            read_vec(file, id_off + id_len, name_len, 65535),
        ) else {
            warnings.push(format!("snapshot entry at offset {off} is truncated"));
            break;
        };
        out.push(SnapshotInfo {
            id: text(&id),
            name: text(&name),
        });
        off = (id_off + id_len + name_len).div_ceil(8) * 8;
    }
    out
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
