//! Archives that carry a disk image: OCI's `.oci` export (a tar of `output.QCOW2` and
//! `image_metadata.json`, or the same as tar.gz, which Oracle's own tooling writes) and OVA (a
//! tar of an OVF descriptor, its disks and a manifest; DMTF DSP0243).
//!
//! A plain tar is listed header by header and the disk member is exposed in place as a
//! [`Slice`] of the file: no copy. A tar.gz is decompressed once, in one sequential pass that
//! lists the tar as it goes by and builds a random-access index (`gzip_index`); the disk
//! member is then a slice of the indexed uncompressed stream. Either way the member is opened
//! with [`crate::open_with`] like any dropped file (QCOW2 in an `.oci`, streamOptimized VMDK
//! in an OVA); archives inside archives are refused.

mod gzip_index;
mod inflate;
mod manifest;
mod oci_metadata;
mod ovf;
mod tar;

use std::sync::Arc;

use preflight_io::{Slice, Source, read_vec};

use crate::info::{ArchiveInfo, ArchiveKind, ArchiveMember, OciMetadata, OvfInfo};
use crate::{Container, ContainerError, Format, OpenOptions, detect};

pub use gzip_index::{DEFAULT_SPACING, MAX_CHECKPOINTS};

const MIB: u64 = 1 << 20;
/// Member names listed in an error about an archive we do not recognise.
const NAMES_IN_ERROR: usize = 20;

/// Opens the archive in `file` (`format` is [`Format::Tar`] or [`Format::Gzip`]) and the disk
/// image inside it.
pub fn open(
    file: Source,
    format: Format,
    options: &OpenOptions<'_>,
) -> Result<Container, ContainerError> {
    open_with_index_spacing(file, format, options, DEFAULT_SPACING)
}

/// [`open`] with the initial spacing of a tar.gz's decompression checkpoints (tests use a small
/// one to get many checkpoints from a small file).
#[doc(hidden)]
pub fn open_with_index_spacing(
    file: Source,
    format: Format,
    options: &OpenOptions<'_>,
    spacing: u64,
) -> Result<Container, ContainerError> {
    let listing = list(&file, format, options, spacing)?;
    let members = &listing.members;
    let base = |m: &ArchiveMember| m.name.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    // OCI's export writes `output.QCOW2`; matching regardless of case (and directory) costs
    // nothing and accepts archives repacked by hand.
    let oci_disk = members.iter().position(|m| base(m) == "output.qcow2");
    let descriptor = members.iter().position(|m| base(m).ends_with(".ovf"));
    let mut problems = listing.problems.clone();
    let (kind, disk, oci_metadata, mut ovf) = match (oci_disk, descriptor) {
        (Some(disk), _) => {
            let meta = members
                .iter()
                .position(|m| base(m) == "image_metadata.json");
            let metadata = oci_metadata(&listing, meta, &mut problems);
            (ArchiveKind::Oci, disk, metadata, None)
        }
        (None, Some(d)) => {
            let (disk, ovf) = ova(&listing, d, options, &mut problems)?;
            (ArchiveKind::Ova, disk, None, Some(ovf))
        }
        (None, None) => return Err(not_a_disk_archive(members)),
    };
    let member = members
        .get(disk)
        .ok_or_else(|| ContainerError::corrupt(Format::Tar, 0, "disk member vanished"))?;
    let mut container = open_member(&listing.stream, member, options)?;
    let info = &mut container.info;
    info.file_size = file.len();
    match kind {
        ArchiveKind::Oci if info.format != Format::Qcow2 => problems.push(format!(
            "{} is not a QCOW2 image (Preflight reads it as {}); an .oci archive's disk must be QCOW2.",
            member.name, info.format
        )),
        ArchiveKind::Ova => {
            if let Some(&capacity) = ovf.as_ref().and_then(|o| o.disk_capacities.first())
                && capacity != info.virtual_size
            {
                problems.push(format!(
                    "The OVF descriptor gives the disk a capacity of {capacity} bytes, but {} holds a {}-byte virtual disk.",
                    member.name, info.virtual_size
                ));
            }
            if let Some(o) = &mut ovf {
                for c in &o.manifest_checks {
                    match &c.actual {
                        Some(a) if *a != c.expected => problems.push(format!(
                            "The manifest's {} digest of {} does not match its contents (expected {}, found {a}): the archive was altered or damaged.",
                            c.algorithm, c.member, c.expected
                        )),
                        Some(_) => {}
                        None => problems.push(format!(
                            "The manifest's {} digest of {} could not be checked ({}).",
                            c.algorithm,
                            c.member,
                            if members.iter().any(|m| manifest::same_name(&m.name, &c.member)) {
                                "unknown algorithm"
                            } else {
                                "no such member in the archive"
                            }
                        )),
                    }
                }
            }
        }
        _ => {}
    }
    let compression = listing.gzip.as_ref().map(|g| {
        let gap_mib = g.max_gap.div_ceil(MIB).max(1);
        info.details.push((
            "archive compression".to_string(),
            format!(
                "gzip; read through a decompression index; each random read inflates up to {gap_mib} MiB"
            ),
        ));
        info.details.push((
            "decompression index".to_string(),
            format!(
                "{} checkpoints, {:.1} MiB of windows, {} gzip member(s)",
                g.checkpoints,
                g.window_bytes as f64 / MIB as f64,
                g.members
            ),
        ));
        info.warnings.push(format!(
            "This {} archive is gzip-compressed: gzip has no random access, so the whole file was decompressed once to index it and every read of the disk decompresses again from the nearest checkpoint (up to {gap_mib} MiB). A plain tar {} (or the disk image itself) is read in place and is much faster to check.",
            kind_label(kind),
            kind_label(kind)
        ));
        "gzip".to_string()
    });
    info.archive = Some(ArchiveInfo {
        kind,
        compression,
        members: listing.members.clone(),
        disk_member: member.name.clone(),
        oci_metadata,
        ovf,
        problems,
    });
    Ok(container)
}

fn kind_label(kind: ArchiveKind) -> &'static str {
    match kind {
        ArchiveKind::Oci => ".oci",
        ArchiveKind::Ova => "OVA",
    }
}

/// The facts of a tar.gz's decompression index, for the report.
struct GzFacts {
    checkpoints: usize,
    window_bytes: usize,
    max_gap: u64,
    members: u64,
}

/// A tar's members and where their bytes are.
struct Listing {
    /// The tar stream: the file itself, or its decompressed view.
    stream: Source,
    members: Vec<ArchiveMember>,
    /// Small members captured while a tar.gz went by: (member index, bytes).
    captured: Vec<(usize, Vec<u8>)>,
    gzip: Option<GzFacts>,
    problems: Vec<String>,
}

impl Listing {
    /// The bytes of member `i`, at most `max`; a problem sentence when they cannot be had.
    fn bytes(&self, i: usize, max: u64) -> Result<Vec<u8>, String> {
        if let Some((_, b)) = self.captured.iter().find(|(j, _)| *j == i) {
            return Ok(b.clone());
        }
        let m = self
            .members
            .get(i)
            .ok_or_else(|| "member index out of range".to_string())?;
        read_vec(&*self.stream, m.offset, m.size, max)
            .map_err(|e| format!("{} could not be read ({e}).", m.name))
    }
}

/// Which members a tar.gz pass keeps (the small ones we parse), and up to what size.
fn capture_policy(name: &str) -> Option<u64> {
    let base = name.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    if base == "image_metadata.json" {
        Some(oci_metadata::MAX_METADATA)
    } else if base.ends_with(".ovf") {
        Some(ovf::MAX_DESCRIPTOR)
    } else if base.ends_with(".mf") {
        Some(manifest::MAX_MANIFEST)
    } else {
        None
    }
}

fn list(
    file: &Source,
    format: Format,
    options: &OpenOptions<'_>,
    spacing: u64,
) -> Result<Listing, ContainerError> {
    match format {
        Format::Tar => {
            let walker = tar::walk_in_place(&**file)?;
            Ok(Listing {
                stream: Arc::clone(file),
                members: walker.members,
                captured: Vec::new(),
                gzip: None,
                problems: Vec::new(),
            })
        }
        Format::Gzip => {
            let mut stream = tar::TarStream::new(capture_policy);
            let pass = gzip_index::build(
                file,
                spacing,
                |bytes| {
                    if stream.ended() {
                        Ok(())
                    } else {
                        stream.feed(bytes).map_err(in_decompressed)
                    }
                },
                options.progress,
            )?;
            stream.finish().map_err(in_decompressed)?;
            let mut problems = Vec::new();
            if let Some(at) = pass.trailing {
                problems.push(format!(
                    "{} bytes after the end of the gzip data (from offset {at}) were ignored.",
                    file.len().saturating_sub(at)
                ));
            }
            let facts = GzFacts {
                checkpoints: pass.index.checkpoints(),
                window_bytes: pass.index.window_bytes(),
                max_gap: pass.index.max_gap(pass.len),
                members: pass.members,
            };
            let source = gzip_index::GzSource::new(Arc::clone(file), pass);
            Ok(Listing {
                stream: Arc::new(source),
                members: stream.walker.members,
                captured: stream.captured,
                gzip: Some(facts),
                problems,
            })
        }
        other => Err(ContainerError::Unsupported {
            format: other,
            message: other.not_supported_message().to_string(),
        }),
    }
}

/// A tar error found in a decompressed stream: its offset is not a file offset, say so.
fn in_decompressed(e: ContainerError) -> ContainerError {
    match e {
        ContainerError::Corrupt {
            format,
            offset,
            message,
        } => ContainerError::Corrupt {
            format,
            offset,
            message: format!("{message} (offset in the decompressed tar stream)"),
        },
        other => other,
    }
}

fn not_a_disk_archive(members: &[ArchiveMember]) -> ContainerError {
    let mut names: Vec<&str> = members
        .iter()
        .take(NAMES_IN_ERROR)
        .map(|m| m.name.as_str())
        .collect();
    let more = members.len().saturating_sub(NAMES_IN_ERROR);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    if names.is_empty() {
        names.push("no member");
    }
    ContainerError::Unsupported {
        format: Format::Tar,
        message: format!(
            "this tar archive holds {}{more}: not an .oci export (output.QCOW2 + image_metadata.json) nor an OVA (.ovf + disks)",
            names.join(", ")
        ),
    }
}

fn oci_metadata(
    listing: &Listing,
    member: Option<usize>,
    problems: &mut Vec<String>,
) -> Option<OciMetadata> {
    let Some(i) = member else {
        problems.push(
            "The .oci archive has no image_metadata.json: the launch options and firmware an import would take from it are unknown.".to_string(),
        );
        return None;
    };
    let name = listing.members.get(i).map_or("", |m| m.name.as_str());
    let parsed = listing
        .bytes(i, oci_metadata::MAX_METADATA)
        .and_then(|b| oci_metadata::parse(&b, name));
    match parsed {
        Ok(m) => Some(m),
        Err(p) => {
            problems.push(p);
            None
        }
    }
}

/// The OVA's descriptor, disk member and (on request) manifest checks.
fn ova(
    listing: &Listing,
    descriptor: usize,
    options: &OpenOptions<'_>,
    problems: &mut Vec<String>,
) -> Result<(usize, OvfInfo), ContainerError> {
    let members = &listing.members;
    let name = members
        .get(descriptor)
        .map_or(String::new(), |m| m.name.clone());
    if descriptor != 0 {
        problems.push(format!(
            "The OVF descriptor {name} is not the first member of the OVA, as DSP0243 requires; some importers refuse such archives."
        ));
    }
    let parsed = listing
        .bytes(descriptor, ovf::MAX_DESCRIPTOR)
        .and_then(|b| {
            String::from_utf8(b)
                .map_err(|_| format!("The OVF descriptor {name} is not UTF-8 text."))
        })
        .and_then(|t| ovf::parse(&t, &name));
    let (mut info, disk_file) = match parsed {
        Ok(d) => {
            problems.extend(d.problems);
            (d.info, d.disk_file)
        }
        Err(p) => {
            problems.push(p);
            (
                OvfInfo {
                    descriptor: name.clone(),
                    ..OvfInfo::default()
                },
                None,
            )
        }
    };
    let disk = match &disk_file {
        Some(href) => members
            .iter()
            .position(|m| manifest::same_name(&m.name, href))
            .ok_or_else(|| ContainerError::Corrupt {
                format: Format::Tar,
                offset: members.get(descriptor).map_or(0, |m| m.offset),
                message: format!(
                    "the OVF descriptor {name} names the disk file {href:?}, which is not in the archive"
                ),
            })?,
        None => members
            .iter()
            .position(|m| m.name.to_ascii_lowercase().ends_with(".vmdk"))
            .ok_or_else(|| ContainerError::Unsupported {
                format: Format::Tar,
                message: format!(
                    "this OVA's descriptor {name} names no disk and the archive holds no .vmdk member"
                ),
            })?,
    };
    let mf = members
        .iter()
        .position(|m| m.name.to_ascii_lowercase().ends_with(".mf"));
    if let Some(i) = mf {
        info.manifest = members.get(i).map(|m| m.name.clone());
        if options.verify_manifest {
            match listing.bytes(i, manifest::MAX_MANIFEST) {
                Ok(b) => {
                    let lines = manifest::parse(&String::from_utf8_lossy(&b));
                    info.manifest_checks =
                        manifest::verify(&lines, members, &listing.stream, options.progress)?;
                }
                Err(p) => problems.push(p),
            }
        }
    }
    Ok((disk, info))
}

/// Opens the disk member through a slice of the tar stream.
fn open_member(
    stream: &Source,
    member: &ArchiveMember,
    options: &OpenOptions<'_>,
) -> Result<Container, ContainerError> {
    let end = member.offset.checked_add(member.size);
    if end.is_none_or(|e| e > stream.len()) {
        return Err(ContainerError::corrupt(
            Format::Tar,
            member.offset,
            format!(
                "the disk member {} ({} bytes) runs past the end of the archive: it is truncated",
                member.name, member.size
            ),
        ));
    }
    let source: Source = Arc::new(Slice::new(Arc::clone(stream), member.offset, member.size));
    let inner = detect(&*source)?;
    if matches!(inner, Format::Tar | Format::Gzip) {
        return Err(ContainerError::Unsupported {
            format: inner,
            message: format!(
                "the disk member {} is itself an archive ({}): archives inside archives are not read; extract it and check the disk image inside",
                member.name,
                inner.name()
            ),
        });
    }
    let name = &member.name;
    crate::open_with(source, options).map_err(|e| match e {
        ContainerError::Corrupt {
            format,
            offset,
            message,
        } => ContainerError::Corrupt {
            format,
            offset,
            message: format!(
                "{message} (offset in archive member {name}, whose data starts at archive offset {})",
                member.offset
            ),
        },
        ContainerError::Unsupported { format, message } => ContainerError::Unsupported {
            format,
            message: format!("{message} (archive member {name})"),
        },
        other => other,
    })
}
