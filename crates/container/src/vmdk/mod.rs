//! A read-only VMDK reader. Specification: VMware "Virtual Disk Format 5.0".
//!
//! - A hosted sparse extent (`KDMV`: monolithicSparse, streamOptimized, one extent of a
//!   twoGbMaxExtentSparse set) is read in full ([`sparse`]), its grain directory found in the
//!   header or, for streams written front to back, in the footer at the end ([`header`]).
//! - A descriptor (text, [`descriptor`]) names the disk's extents. Embedded in a sparse extent
//!   it only adds facts (createType, CID, parent, adapter). As a file of its own
//!   (monolithicFlat, twoGbMaxExtent*, multi-extent disks) it is all we have: the data lives
//!   in the other files, which read as zeros and are counted as missing, like the parent of a
//!   delta's unallocated grains. We never open another file: a hostile descriptor could name
//!   any host path, and a browser has only the file the publisher dropped.

mod descriptor;
mod header;
mod sparse;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use preflight_io::{ByteSource, IoError, Source, check_bounds};

use crate::info::ContainerInfo;
use crate::{Container, ContainerError, Format};
use descriptor::{Descriptor, MAX_DESCRIPTOR};
use header::{Header, SECTOR};
use sparse::SparseExtent;

/// `parentCID` of a disk without parent.
const NO_PARENT_CID: &str = "ffffffff";

enum Data {
    Sparse(Box<SparseExtent>),
    Zero,
    /// In a file we do not have: zeros, counted.
    Missing,
}

struct Extent {
    /// Guest byte offset of the extent's first byte.
    start: u64,
    len: u64,
    data: Data,
}

/// The virtual disk: extents laid end to end.
pub struct Vmdk {
    size: u64,
    extents: Vec<Extent>,
    missing: Arc<AtomicU64>,
}

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::corrupt(Format::Vmdk, offset, message)
}

/// Opens a VMDK (sparse extent or descriptor file) as a [`Container`].
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let mut magic = [0u8; 4];
    let n = file.len().min(4) as usize;
    file.read_at(0, &mut magic[..n])?;
    match &magic {
        b"KDMV" => open_sparse(file),
        b"COWD" => Err(ContainerError::Unsupported {
            format: Format::Vmdk,
            message: "this is a VMDK version 3 (\"COWD\", ESX 2 era) sparse extent, which Preflight does not read; convert it with `qemu-img convert -O qcow2 IMAGE.vmdk IMAGE.qcow2`".to_string(),
        }),
        _ => open_descriptor_file(file),
    }
}

/// The embedded descriptor of a sparse extent, if its header locates one inside the file.
fn embedded_descriptor(
    file: &dyn ByteSource,
    first: &Header,
    warnings: &mut Vec<String>,
) -> Result<Option<Descriptor>, ContainerError> {
    if first.descriptor_offset == 0 || first.descriptor_size == 0 {
        return Ok(None);
    }
    let at = first.descriptor_offset.saturating_mul(SECTOR);
    let declared = first.descriptor_size.saturating_mul(SECTOR);
    let len = declared
        .min(MAX_DESCRIPTOR)
        .min(file.len().saturating_sub(at));
    if len == 0 {
        warnings.push(format!(
            "The embedded descriptor (sector {}) lies beyond the end of the file; the disk's descriptor facts are unknown.",
            first.descriptor_offset
        ));
        return Ok(None);
    }
    let mut text = vec![0u8; len as usize];
    file.read_at(at, &mut text)?;
    Ok(Some(Descriptor::parse(&text)))
}

fn open_sparse(file: Source) -> Result<Container, ContainerError> {
    let (h, first) = header::parse(&*file)?;
    let mut warnings = Vec::new();
    let desc = embedded_descriptor(&*file, &first, &mut warnings)?;
    // A sparse header of capacity 0 with a descriptor is a descriptor file in a sparse
    // wrapper (QEMU treats it so too).
    if h.capacity == 0
        && let Some(d) = desc.clone()
        && !d.extents.is_empty()
    {
        return open_descriptor(file.len(), d, warnings);
    }
    let desc = desc.unwrap_or_default();
    let parent = parent_of(&desc);
    let missing = Arc::new(AtomicU64::new(0));
    let extent = SparseExtent::open(
        Arc::clone(&file),
        h.clone(),
        parent.as_ref().map(|_| Arc::clone(&missing)),
    )?;
    let (alloc, scan_warning) = extent.scan();
    warnings.extend(scan_warning);

    let size = h.size();
    let mut info = ContainerInfo::plain(Format::Vmdk, size, file.len());
    let inferred = if h.compressed() {
        "streamOptimized"
    } else {
        "monolithicSparse"
    };
    info.subformat = Some(desc.get("createType").unwrap_or(inferred).to_string());
    info.version = Some(h.version.to_string());
    info.block_size = Some(h.grain_bytes());
    info.compression = h.compressed().then(|| "deflate".to_string());
    info.allocated_size = alloc.bytes;
    info.parent = parent.clone();
    describe(&desc, &mut info.details);
    if alloc.complete {
        info.details
            .push(("grains allocated".into(), alloc.grains.to_string()));
    }
    if h.zero_grains() && alloc.complete {
        info.details
            .push(("zeroed grains".into(), alloc.zero_grains.to_string()));
    }
    if h.from_footer {
        info.details.push((
            "grain directory".into(),
            format!("at sector {}, found through the footer", h.gd_offset),
        ));
    }

    if alloc.beyond_eof > 0 {
        warnings.push(format!(
            "{} of the {} allocated grains lie beyond the end of the file: the image is truncated (an incomplete upload or copy?), and those parts of the disk cannot be read.",
            alloc.beyond_eof, alloc.grains
        ));
    }
    if h.unclean_shutdown {
        warnings.push("The image was not closed cleanly (its uncleanShutdown flag is set): it may have been copied while a VM was using it.".into());
    }
    if desc.is_empty() {
        warnings.push(format!(
            "This sparse extent has no descriptor: it is probably one extent of a split (twoGbMaxExtentSparse) disk, whose descriptor file names all the extents. Only this extent's {size} bytes are inspected."
        ));
    } else {
        let sectors: u64 = desc
            .extents
            .iter()
            .map(|e| e.sectors)
            .fold(0, u64::saturating_add);
        if desc.extents.len() > 1 || (sectors != 0 && sectors != h.capacity) {
            warnings.push(format!(
                "The embedded descriptor lists {} extent(s) of {sectors} sectors in all, but this file holds one extent of {} sectors: only this file is inspected.",
                desc.extents.len(),
                h.capacity
            ));
        }
    }
    descriptor_warnings(&desc, &mut warnings);
    info.warnings = warnings;

    let disk = Vmdk {
        size,
        extents: vec![Extent {
            start: 0,
            len: size,
            data: Data::Sparse(Box::new(extent)),
        }],
        missing: Arc::clone(&missing),
    };
    Ok(Container {
        info,
        disk: Arc::new(disk),
        missing_backing_bytes: parent.map(|_| missing),
    })
}

fn open_descriptor_file(file: Source) -> Result<Container, ContainerError> {
    let len = file.len();
    if len > MAX_DESCRIPTOR {
        return Err(corrupt(
            0,
            format!(
                "neither a sparse extent (no KDMV magic) nor a descriptor file: {len} bytes is more than the {MAX_DESCRIPTOR} a descriptor holds"
            ),
        ));
    }
    let mut text = vec![0u8; len as usize];
    file.read_at(0, &mut text)?;
    let desc = Descriptor::parse(&text);
    if desc.extents.is_empty() {
        return Err(corrupt(
            0,
            "the descriptor lists no extent (no line like `RW <sectors> SPARSE \"<file>\"`)",
        ));
    }
    open_descriptor(len, desc, Vec::new())
}

/// A disk described by a descriptor alone: every extent other than ZERO is in a file we do
/// not have.
fn open_descriptor(
    file_len: u64,
    desc: Descriptor,
    mut warnings: Vec<String>,
) -> Result<Container, ContainerError> {
    let mut extents = Vec::with_capacity(desc.extents.len());
    let mut other_files: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut start = 0u64;
    for e in &desc.extents {
        let len = e.sectors.checked_mul(SECTOR).ok_or_else(|| {
            corrupt(
                0,
                format!("extent of {} sectors overflows: {}", e.sectors, e.text),
            )
        })?;
        // VMware reads ZERO extents as zeros; QEMU skips them (and any extent not RW) when it
        // sizes the disk. We follow the spec: they are part of the disk.
        let data = if e.kind == "ZERO" {
            Data::Zero
        } else {
            if let Some(f) = &e.file
                && seen.insert(f.as_str())
            {
                other_files.push(f.clone());
            }
            Data::Missing
        };
        if len > 0 {
            extents.push(Extent { start, len, data });
        }
        start = start
            .checked_add(len)
            .ok_or_else(|| corrupt(0, "the extents' sizes add up to more than 2^64 bytes"))?;
    }
    let size = start;
    let mut info = ContainerInfo::plain(Format::Vmdk, size, file_len);
    info.subformat = desc.get("createType").map(str::to_string);
    info.version = desc.get("version").map(str::to_string);
    info.parent = parent_of(&desc);
    describe(&desc, &mut info.details);
    if !other_files.is_empty() {
        warnings.push(format!(
            "This file is a VMDK descriptor only: the disk's data is in {} other file(s) ({}) that Preflight does not have, so the disk reads as zeros. Convert the disk to a single file and check that: `qemu-img convert -O qcow2 DESCRIPTOR.vmdk IMAGE.qcow2` (or `-O vmdk -o subformat=streamOptimized`).",
            other_files.len(),
            other_files.join(", ")
        ));
    }
    descriptor_warnings(&desc, &mut warnings);
    info.other_files = other_files;
    info.warnings = warnings;
    let missing = Arc::new(AtomicU64::new(0));
    let counted = !info.other_files.is_empty() || info.parent.is_some();
    let disk = Vmdk {
        size,
        extents,
        missing: Arc::clone(&missing),
    };
    Ok(Container {
        info,
        disk: Arc::new(disk),
        missing_backing_bytes: counted.then_some(missing),
    })
}

/// The parent a delta names: `parentFileNameHint`, or only a `parentCID`.
fn parent_of(desc: &Descriptor) -> Option<String> {
    if let Some(hint) = desc.get("parentFileNameHint").filter(|h| !h.is_empty()) {
        return Some(hint.to_string());
    }
    desc.get("parentCID")
        .filter(|cid| !cid.eq_ignore_ascii_case(NO_PARENT_CID))
        .map(|cid| format!("unnamed parent (parentCID {cid})"))
}

/// The descriptor facts a publisher wants to see, in display order.
fn describe(desc: &Descriptor, details: &mut Vec<(String, String)>) {
    let geometry = match (
        desc.get("ddb.geometry.cylinders"),
        desc.get("ddb.geometry.heads"),
        desc.get("ddb.geometry.sectors"),
    ) {
        (Some(c), Some(h), Some(s)) => Some(format!("{c}/{h}/{s}")),
        _ => None,
    };
    let facts = [
        ("createType", desc.get("createType")),
        ("CID", desc.get("CID")),
        ("parentCID", desc.get("parentCID")),
        ("parentFileNameHint", desc.get("parentFileNameHint")),
        ("adapterType", desc.get("ddb.adapterType")),
        ("hwversion", desc.get("ddb.virtualHWVersion")),
        ("geometry", geometry.as_deref()),
        ("uuid", desc.get("ddb.uuid")),
    ];
    for (key, value) in facts {
        if let Some(v) = value {
            details.push((key.to_string(), v.to_string()));
        }
    }
    for (i, e) in desc.extents.iter().enumerate() {
        details.push((format!("extent {}", i + 1), e.text.clone()));
    }
}

fn descriptor_warnings(desc: &Descriptor, warnings: &mut Vec<String>) {
    if desc.not_utf8 {
        warnings.push(
            "The VMDK descriptor is not valid UTF-8; unreadable characters are shown as \u{fffd}."
                .into(),
        );
    }
    if let Some(first) = desc.problems.first() {
        warnings.push(format!(
            "The VMDK descriptor has {} line(s) Preflight could not read (first: {}).",
            desc.problems.len(),
            first.trim_start_matches("unreadable descriptor line: ")
        ));
    }
}

impl ByteSource for Vmdk {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let i = self.extents.partition_point(|e| e.start + e.len <= pos);
            let Some(e) = self.extents.get(i) else {
                return Err(IoError::corrupt(
                    "vmdk",
                    pos,
                    "no extent covers this offset",
                ));
            };
            let within = pos - e.start;
            let n = (e.len - within).min((buf.len() - done) as u64) as usize;
            let out = &mut buf[done..done + n];
            match &e.data {
                Data::Sparse(s) => s.read_at(within, out)?,
                Data::Zero => out.fill(0),
                Data::Missing => {
                    self.missing.fetch_add(n as u64, Ordering::Relaxed);
                    out.fill(0);
                }
            }
            done += n;
        }
        Ok(())
    }
}
