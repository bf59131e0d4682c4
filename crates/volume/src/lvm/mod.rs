//! LVM2: physical volumes, volume groups and logical volumes, read from the PVs' labels and
//! text metadata, with linear and striped LVs exposed as byte sources.
//!
//! [`scan`] takes every volume that probed as `LVM2_member` and returns the volume groups
//! found on them ([`LvmScan`]): for each VG its PVs (present in the image, or missing), and its
//! LVs with their segments. An LV whose segments are all `striped` (LVM writes a linear LV as
//! a striped segment with one stripe) and lie on present PVs is readable through
//! [`LogicalVolume::source`]; thin, cache, RAID, mirror, snapshot, VDO and unknown segment types
//! are listed with [`LogicalVolume::unreadable`] saying why. Nothing about one PV, VG or LV
//! is an error for the others: problems become diagnostics naming the PV and the offset.
//!
//! Format facts: see [`label`] (binary structures, checksum) and [`text`] (metadata grammar).
//! Units in the metadata are 512-byte sectors (`extent_size`, `pe_start`, `dev_size`,
//! `stripe_size`) and extents (`pe_count`, `start_extent`, `extent_count`, stripe starts);
//! everything exposed here is converted to bytes where the name says so.

pub mod label;
mod source;
pub mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use preflight_io::{ByteSource, Source};
use serde::Serialize;

use label::{RAW_LOCN_IGNORED, calc_crc, read_circular, read_label, read_mda_header};
use source::{LvSource, MappedSegment, MappedStripe};
use text::{Section, Value};

/// Largest metadata text read from one metadata area (LVM's default area is about 1 MiB; real
/// metadata is a few KiB).
pub const MAX_METADATA_TEXT: u64 = 1 << 20;
/// Most stripes accepted in one segment (LVM allows 128).
pub const MAX_STRIPES: usize = 128;
/// Most logical volumes kept per volume group, and segments per logical volume.
pub const MAX_LVS: usize = 4096;
pub const MAX_SEGMENTS: usize = 4096;

const SECTOR: u64 = 512;

/// What [`scan`] found on the PVs it was given.
#[derive(Debug, Clone, Serialize)]
pub struct LvmScan {
    /// Every source that carries an LVM2 label, in the order given.
    pub pvs: Vec<PvLabelInfo>,
    /// Volume groups, by name.
    pub vgs: Vec<VolumeGroup>,
    /// Problems that concern no single VG: unreadable labels, unreadable metadata areas (each
    /// naming the PV and the offset), PVs whose VG metadata was not found.
    pub diagnostics: Vec<String>,
}

/// A labelled PV as its label says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvLabelInfo {
    /// The caller's identifier of the source.
    pub member: usize,
    /// As LVM prints it (6-4-4-4-4-4-6).
    pub uuid: String,
    /// Device size recorded in the PV header, in bytes.
    pub device_size: u64,
    /// Metadata areas in the PV header (0, 1 or 2).
    pub metadata_areas: usize,
    /// The name of the VG this PV belongs to, when its metadata was found.
    pub vg: Option<String>,
}

/// One volume group, from the copy of its metadata with the highest sequence number.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeGroup {
    pub name: String,
    /// As LVM prints it (6-4-4-4-4-4-6).
    pub uuid: String,
    pub seqno: u64,
    /// Bytes.
    pub extent_size: u64,
    pub status: Vec<String>,
    pub pvs: Vec<PhysicalVolume>,
    pub lvs: Vec<LogicalVolume>,
    /// The caller's identifier of the source the metadata used was read from.
    pub metadata_from: usize,
    /// Oddities in this VG: older copies of the metadata, PVs smaller than their extents,
    /// unparsable LVs.
    pub diagnostics: Vec<String>,
}

impl VolumeGroup {
    /// PVs listed in the metadata but not found among the sources given.
    pub fn missing_pvs(&self) -> impl Iterator<Item = &PhysicalVolume> {
        self.pvs.iter().filter(|p| p.member.is_none())
    }

    pub fn lv(&self, name: &str) -> Option<&LogicalVolume> {
        self.lvs.iter().find(|l| l.name == name)
    }
}

/// A PV as the VG metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhysicalVolume {
    /// The key in the metadata (`pv0`, `pv1`, …) that segments refer to.
    pub key: String,
    /// As LVM prints it (6-4-4-4-4-4-6).
    pub uuid: String,
    /// The caller's identifier of the source holding it; `None`: missing from this image.
    pub member: Option<usize>,
    /// The device path LVM last saw it on (a hint only).
    pub device_hint: Option<String>,
    /// Bytes (the metadata's `dev_size`).
    pub dev_size: u64,
    /// Byte offset of the first extent.
    pub pe_start: u64,
    pub pe_count: u64,
    pub status: Vec<String>,
    pub flags: Vec<String>,
}

/// A logical volume.
#[derive(Clone, Serialize)]
pub struct LogicalVolume {
    pub name: String,
    /// As LVM prints it (6-4-4-4-4-4-6).
    pub uuid: String,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    /// Has the `VISIBLE` status (hidden LVs are the parts of thin pools, mirrors, RAID, …).
    pub visible: bool,
    /// As `lvs -o segtype` prints the first segment: `linear`, `striped`, `thin-pool`, …
    pub segtype: String,
    pub extent_count: u64,
    /// Bytes (extents × extent size).
    pub size: u64,
    pub segments: Vec<Segment>,
    /// Why this LV cannot be read; `None` when [`LogicalVolume::source`] gives its bytes.
    pub unreadable: Option<String>,
    #[serde(skip)]
    source: Option<Source>,
}

impl fmt::Debug for LogicalVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogicalVolume")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field("status", &self.status)
            .field("visible", &self.visible)
            .field("segtype", &self.segtype)
            .field("extent_count", &self.extent_count)
            .field("size", &self.size)
            .field("segments", &self.segments)
            .field("unreadable", &self.unreadable)
            .finish()
    }
}

impl LogicalVolume {
    /// The LV's bytes: linear and striped segments mapped to the PVs' extents. `None` when the
    /// LV is not readable (see [`LogicalVolume::unreadable`]).
    pub fn source(&self) -> Option<Source> {
        self.source.clone()
    }
}

/// One segment of an LV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub start_extent: u64,
    pub extent_count: u64,
    /// The metadata's `type` (`striped`, `thin-pool`, `thin`, `cache`, `raid1`, `mirror`, …).
    pub kind: String,
    /// As `lvs -o segtype` prints it (`linear` for a striped segment with one stripe).
    pub segtype: String,
    /// Bytes per stripe chunk (striped segments with several stripes).
    pub stripe_size: Option<u64>,
    /// Striped segments: the PV areas, in stripe order.
    pub stripes: Vec<Stripe>,
}

/// Where one stripe of a segment lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stripe {
    /// The PV key (`pv0`).
    pub pv: String,
    /// The PV's UUID when the key names a PV of the VG.
    pub pv_uuid: Option<String>,
    /// First physical extent on that PV.
    pub start_extent: u64,
    /// Physical extents used on that PV (segment extents / stripes).
    pub extent_count: u64,
}

/// The device-mapper name of an LV, as LVM builds it: VG and LV names joined by a hyphen, each
/// hyphen inside the names doubled (`my-vg`/`root` → `my--vg-root`).
pub fn dm_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

/// `/dev/mapper/<dm name>`: how fstab and `root=` usually name an LV.
pub fn mapper_path(vg: &str, lv: &str) -> String {
    format!("/dev/mapper/{}", dm_name(vg, lv))
}

/// `/dev/<vg>/<lv>`: the symlink udev makes for a visible LV.
pub fn dev_path(vg: &str, lv: &str) -> String {
    format!("/dev/{vg}/{lv}")
}

impl LvmScan {
    /// The VG and LV a device name refers to: `/dev/mapper/VG-LV`, `/dev/VG/LV`, `VG/LV` (as in
    /// `rd.lvm.lv=`), or the bare dm name `VG-LV`.
    pub fn resolve(&self, name: &str) -> Option<(&VolumeGroup, &LogicalVolume)> {
        let name = name.trim();
        for vg in &self.vgs {
            for lv in &vg.lvs {
                let dm = dm_name(&vg.name, &lv.name);
                let hit = name.strip_prefix("/dev/mapper/") == Some(dm.as_str())
                    || name == dm
                    || name == dev_path(&vg.name, &lv.name)
                    || name.split_once('/') == Some((vg.name.as_str(), lv.name.as_str()));
                if hit {
                    return Some((vg, lv));
                }
            }
        }
        None
    }

    pub fn vg(&self, name: &str) -> Option<&VolumeGroup> {
        self.vgs.iter().find(|v| v.name == name)
    }
}

/// "Ym8QLic3yl…" → "Ym8QLi-c3yl-…" (6-4-4-4-4-4-6), as LVM prints UUIDs. Text of another
/// length is returned unchanged.
pub fn format_uuid(raw: &str) -> String {
    let raw: String = raw.chars().filter(|&c| c != '-').collect();
    if raw.chars().count() != 32 {
        return raw;
    }
    let mut out = String::with_capacity(38);
    for (i, c) in raw.chars().enumerate() {
        if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
            out.push('-');
        }
        out.push(c);
    }
    out
}

fn uuid_key(s: &str) -> String {
    s.chars().filter(|&c| c != '-').collect()
}

/// A parsed copy of some VG's metadata.
struct MetadataCopy {
    member: usize,
    vg_name: String,
    vg_uuid: String,
    seqno: u64,
    checksum: u32,
    vg: Section,
}

/// Read the labels and metadata of the given PVs (the caller's identifier, the PV's bytes) and
/// assemble their volume groups. Never fails: what cannot be read is a diagnostic.
pub fn scan(pvs: &[(usize, Source)]) -> LvmScan {
    let mut diagnostics = Vec::new();
    let mut labels: Vec<PvLabelInfo> = Vec::new();
    // PV UUID (no hyphens) → source.
    let mut present: BTreeMap<String, (usize, Source)> = BTreeMap::new();
    // VG UUID → best copy.
    let mut best: BTreeMap<String, MetadataCopy> = BTreeMap::new();
    // VG UUID → (seqno, member) of every copy seen, for diagnostics.
    let mut seen: BTreeMap<String, Vec<(u64, u32, usize)>> = BTreeMap::new();
    // Texts already parsed, by (checksum, size): copies on other areas are not parsed again.
    let mut parsed: Vec<(u32, u64)> = Vec::new();

    for (member, pv) in pvs {
        let member = *member;
        let label = match read_label(&**pv) {
            Ok(Some(l)) => l,
            Ok(None) => {
                diagnostics.push(format!(
                    "PV #{member}: no LVM2 label in the first 4 sectors"
                ));
                continue;
            }
            Err(e) => {
                diagnostics.push(format!("PV #{member}: {e}"));
                continue;
            }
        };
        let uuid = format_uuid(&label.uuid);
        if pv.len() < label.device_size {
            diagnostics.push(format!(
                "PV #{member} ({uuid}): the label records a device of {} bytes, the volume holds \
                 {}: the image may be truncated",
                label.device_size,
                pv.len()
            ));
        }
        if present.contains_key(&label.uuid) {
            diagnostics.push(format!(
                "PV #{member}: PV UUID {uuid} appears on more than one volume; the first is used"
            ));
            continue;
        }
        present.insert(label.uuid.clone(), (member, Arc::clone(pv)));
        labels.push(PvLabelInfo {
            member,
            uuid: uuid.clone(),
            device_size: label.device_size,
            metadata_areas: label.metadata_areas.len(),
            vg: None,
        });
        for area in &label.metadata_areas {
            let header = match read_mda_header(&**pv, *area) {
                Ok(h) => h,
                Err(e) => {
                    diagnostics.push(format!("PV #{member} ({uuid}): {e}"));
                    continue;
                }
            };
            let Some(rl) = header.raw_locns.first() else {
                continue; // an empty area: a PV not in any VG yet
            };
            if rl.flags & RAW_LOCN_IGNORED != 0 || rl.size == 0 {
                continue;
            }
            if parsed.contains(&(rl.checksum, rl.size)) {
                // The same text was read from another area: only note the VG membership.
                continue;
            }
            let at = area.offset.saturating_add(rl.offset);
            let text = match read_circular(
                &**pv,
                area.offset,
                area.size,
                rl.offset,
                rl.size,
                MAX_METADATA_TEXT,
            ) {
                Ok(t) => t,
                Err(e) => {
                    diagnostics.push(format!("PV #{member} ({uuid}): {e}"));
                    continue;
                }
            };
            let sum = calc_crc(label::INITIAL_CRC, &text);
            if sum != rl.checksum {
                diagnostics.push(format!(
                    "PV #{member} ({uuid}): metadata text at offset {at} ({} bytes) has checksum \
                     {sum:#010x}, the header says {:#010x}; this copy is ignored",
                    rl.size, rl.checksum
                ));
                continue;
            }
            let doc = match text::parse(&text) {
                Ok(d) => d,
                Err(e) => {
                    diagnostics.push(format!(
                        "PV #{member} ({uuid}): metadata text at offset {at}: {e}"
                    ));
                    continue;
                }
            };
            parsed.push((rl.checksum, rl.size));
            let Some((vg_name, vg)) = doc.entries.into_iter().find_map(|(k, v)| match v {
                text::Item::Section(s) if s.str("id").is_some() => Some((k, s)),
                _ => None,
            }) else {
                diagnostics.push(format!(
                    "PV #{member} ({uuid}): metadata text at offset {at} holds no volume group"
                ));
                continue;
            };
            let (Some(vg_id), Some(seqno)) = (vg.str("id"), vg.uint("seqno")) else {
                diagnostics.push(format!(
                    "PV #{member} ({uuid}): metadata text at offset {at}: VG {vg_name} has no \
                     id or seqno"
                ));
                continue;
            };
            let key = uuid_key(vg_id);
            seen.entry(key.clone())
                .or_default()
                .push((seqno, rl.checksum, member));
            let better = best.get(&key).is_none_or(|b| seqno > b.seqno);
            if better {
                best.insert(
                    key.clone(),
                    MetadataCopy {
                        member,
                        vg_name,
                        vg_uuid: key,
                        seqno,
                        checksum: rl.checksum,
                        vg,
                    },
                );
            }
        }
    }

    let mut vgs: Vec<VolumeGroup> = best
        .into_values()
        .map(|copy| {
            let copies = seen.remove(&copy.vg_uuid).unwrap_or_default();
            build_vg(copy, &copies, &present)
        })
        .collect();
    vgs.sort_by(|a, b| a.name.cmp(&b.name).then(a.uuid.cmp(&b.uuid)));

    for l in &mut labels {
        l.vg = vgs
            .iter()
            .find(|vg| vg.pvs.iter().any(|p| p.member == Some(l.member)))
            .map(|vg| vg.name.clone());
        if l.vg.is_none() {
            diagnostics.push(format!(
                "PV #{} ({}): belongs to no volume group found (an unused PV, or its VG's \
                 metadata is on PVs not given or unreadable)",
                l.member, l.uuid
            ));
        }
    }
    LvmScan {
        pvs: labels,
        vgs,
        diagnostics,
    }
}

fn sectors(n: u64) -> Option<u64> {
    n.checked_mul(SECTOR)
}

fn build_vg(
    copy: MetadataCopy,
    copies: &[(u64, u32, usize)],
    present: &BTreeMap<String, (usize, Source)>,
) -> VolumeGroup {
    let MetadataCopy {
        member,
        vg_name,
        vg_uuid,
        seqno,
        checksum,
        vg,
    } = copy;
    let mut diags = Vec::new();
    let older: Vec<String> = copies
        .iter()
        .filter(|(s, _, _)| *s < seqno)
        .map(|(s, _, m)| format!("seqno {s} on PV #{m}"))
        .collect();
    if !older.is_empty() {
        diags.push(format!(
            "older metadata copies were ignored ({}); seqno {seqno} from PV #{member} is used",
            older.join(", ")
        ));
    }
    if copies.iter().any(|(s, c, _)| *s == seqno && *c != checksum) {
        diags.push(format!(
            "two different metadata texts carry seqno {seqno}; the one from PV #{member} is used"
        ));
    }
    let extent_size = match vg.uint("extent_size").and_then(sectors) {
        Some(e) if e > 0 => e,
        _ => {
            diags.push("extent_size is missing or zero: no LV can be mapped".to_string());
            0
        }
    };
    let status = vg.strings("status").into_iter().map(String::from).collect();

    let mut pvs = Vec::new();
    if let Some(section) = vg.section("physical_volumes") {
        for (key, p) in section.sections() {
            let Some(id) = p.str("id") else {
                diags.push(format!("PV {key} has no id"));
                continue;
            };
            let uuid = format_uuid(id);
            let found = present.get(&uuid_key(id));
            let pv = PhysicalVolume {
                key: key.to_string(),
                uuid: uuid.clone(),
                member: found.map(|(m, _)| *m),
                device_hint: p.str("device").map(String::from),
                dev_size: p.uint("dev_size").and_then(sectors).unwrap_or(0),
                pe_start: p.uint("pe_start").and_then(sectors).unwrap_or(0),
                pe_count: p.uint("pe_count").unwrap_or(0),
                status: p.strings("status").into_iter().map(String::from).collect(),
                flags: p.strings("flags").into_iter().map(String::from).collect(),
            };
            let end = pv
                .pe_count
                .checked_mul(extent_size)
                .and_then(|b| b.checked_add(pv.pe_start));
            match end {
                None => diags.push(format!(
                    "PV {key} ({uuid}): pe_start + pe_count × extent_size overflows"
                )),
                Some(end) => {
                    if pv.dev_size > 0 && end > pv.dev_size {
                        diags.push(format!(
                            "PV {key} ({uuid}): its extents end at byte {end}, past its recorded \
                             size of {} bytes",
                            pv.dev_size
                        ));
                    }
                    if let Some((m, src)) = found
                        && end > src.len()
                    {
                        diags.push(format!(
                            "PV {key} ({uuid}, #{m}): its extents end at byte {end}, past the \
                             end of the volume ({} bytes): the image is truncated",
                            src.len()
                        ));
                    }
                }
            }
            pvs.push(pv);
        }
    }

    let mut lvs = Vec::new();
    if let Some(section) = vg.section("logical_volumes") {
        for (name, l) in section.sections() {
            if lvs.len() >= MAX_LVS {
                diags.push(format!("more than {MAX_LVS} LVs: the rest are not listed"));
                break;
            }
            lvs.push(build_lv(&vg_name, name, l, extent_size, &pvs, present));
        }
    }

    VolumeGroup {
        name: vg_name,
        uuid: format_uuid(&vg_uuid),
        seqno,
        extent_size,
        status,
        pvs,
        lvs,
        metadata_from: member,
        diagnostics: diags,
    }
}

/// `lvs`' name of a segment type.
fn display_segtype(kind: &str, stripes: usize) -> String {
    match kind {
        "striped" if stripes == 1 => "linear".to_string(),
        k => k.to_string(),
    }
}

fn build_lv(
    vg_name: &str,
    name: &str,
    l: &Section,
    extent_size: u64,
    pvs: &[PhysicalVolume],
    present: &BTreeMap<String, (usize, Source)>,
) -> LogicalVolume {
    let status: Vec<String> = l.strings("status").into_iter().map(String::from).collect();
    let mut reason: Option<String> = None;
    let mut segments = Vec::new();
    for (key, s) in l.sections() {
        if !key.starts_with("segment") {
            continue;
        }
        if segments.len() >= MAX_SEGMENTS {
            note(&mut reason, format!("more than {MAX_SEGMENTS} segments"));
            break;
        }
        match parse_segment(s, pvs) {
            Ok(seg) => segments.push(seg),
            Err(e) => note(&mut reason, format!("{key}: {e}")),
        }
    }
    segments.sort_by_key(|s| s.start_extent);
    let mut extent_count = 0u64;
    for s in &segments {
        if s.start_extent != extent_count {
            note(
                &mut reason,
                format!(
                    "segments do not follow each other: one starts at extent {}, expected {}",
                    s.start_extent, extent_count
                ),
            );
        }
        match extent_count.checked_add(s.extent_count) {
            Some(e) => extent_count = e,
            None => note(&mut reason, "the extent count overflows".to_string()),
        }
    }
    if segments.is_empty() {
        note(&mut reason, "no segments".to_string());
    }
    if let Some(n) = l.uint("segment_count")
        && n != segments.len() as u64
    {
        note(
            &mut reason,
            format!(
                "segment_count says {n}, {} segments were read",
                segments.len()
            ),
        );
    }
    let size = extent_count.checked_mul(extent_size);
    if size.is_none() {
        note(&mut reason, "the size overflows".to_string());
    }
    if extent_size == 0 {
        note(&mut reason, "the VG's extent size is unknown".to_string());
    }
    let lv_name = format!("{vg_name}/{name}");
    let mut mapped = Vec::new();
    if reason.is_none() {
        for seg in &segments {
            match map_segment(seg, extent_size, pvs, present) {
                Ok(m) => mapped.push(m),
                Err(e) => {
                    note(&mut reason, e);
                    break;
                }
            }
        }
    }
    let source: Option<Source> = match (&reason, size) {
        (None, Some(len)) => Some(Arc::new(LvSource {
            name: lv_name,
            len,
            segments: mapped,
        })),
        _ => None,
    };
    LogicalVolume {
        name: name.to_string(),
        uuid: format_uuid(l.str("id").unwrap_or("")),
        visible: status.iter().any(|s| s == "VISIBLE"),
        status,
        flags: l.strings("flags").into_iter().map(String::from).collect(),
        segtype: segments
            .first()
            .map_or_else(String::new, |s| s.segtype.clone()),
        extent_count,
        size: size.unwrap_or(0),
        segments,
        unreadable: reason,
        source,
    }
}

/// Keep the first reason an LV is not readable.
fn note(reason: &mut Option<String>, r: String) {
    if reason.is_none() {
        *reason = Some(r);
    }
}

fn parse_segment(s: &Section, pvs: &[PhysicalVolume]) -> Result<Segment, String> {
    let start_extent = s.uint("start_extent").ok_or("no start_extent")?;
    let extent_count = s.uint("extent_count").ok_or("no extent_count")?;
    let kind = s.str("type").ok_or("no type")?.to_string();
    let mut seg = Segment {
        start_extent,
        extent_count,
        segtype: kind.clone(),
        kind,
        stripe_size: None,
        stripes: Vec::new(),
    };
    if seg.kind != "striped" {
        return Ok(seg);
    }
    let n = s.uint("stripe_count").ok_or("no stripe_count")?;
    if n == 0 || n > MAX_STRIPES as u64 {
        return Err(format!(
            "stripe_count {n} is not between 1 and {MAX_STRIPES}"
        ));
    }
    let list = s.array("stripes").ok_or("no stripes")?;
    if list.len() as u64 != 2 * n {
        return Err(format!(
            "{} items in stripes, {} expected for {n} stripes",
            list.len(),
            2 * n
        ));
    }
    if !extent_count.is_multiple_of(n) {
        return Err(format!(
            "{extent_count} extents do not divide into {n} stripes"
        ));
    }
    let per = extent_count / n;
    for pair in list.chunks_exact(2) {
        let (Value::Str(pv), Value::Int(start)) = (&pair[0], &pair[1]) else {
            return Err("stripes must be pairs of a PV name and an extent".to_string());
        };
        let start = u64::try_from(*start).map_err(|_| format!("negative extent {start}"))?;
        seg.stripes.push(Stripe {
            pv: pv.clone(),
            pv_uuid: pvs.iter().find(|p| p.key == *pv).map(|p| p.uuid.clone()),
            start_extent: start,
            extent_count: per,
        });
    }
    if n > 1 {
        seg.stripe_size = Some(
            s.uint("stripe_size")
                .and_then(sectors)
                .filter(|&b| b > 0)
                .ok_or("no stripe_size")?,
        );
    }
    seg.segtype = display_segtype(&seg.kind, seg.stripes.len());
    Ok(seg)
}

/// Check a segment against its PVs and turn it into bytes, or say why it cannot be read.
fn map_segment(
    seg: &Segment,
    extent_size: u64,
    pvs: &[PhysicalVolume],
    present: &BTreeMap<String, (usize, Source)>,
) -> Result<MappedSegment, String> {
    if seg.kind != "striped" {
        return Err(format!(
            "segment type {} is not readable (only linear and striped LVs are)",
            seg.segtype
        ));
    }
    let overflow = || "segment offsets overflow".to_string();
    let start = seg
        .start_extent
        .checked_mul(extent_size)
        .ok_or_else(overflow)?;
    let len = seg
        .extent_count
        .checked_mul(extent_size)
        .ok_or_else(overflow)?;
    let stripe_size = seg.stripe_size.unwrap_or(0);
    if seg.stripes.len() > 1 {
        let per = len / seg.stripes.len() as u64;
        if stripe_size == 0 || !per.is_multiple_of(stripe_size) {
            return Err(format!(
                "stripe size {stripe_size} does not divide the {per} bytes of each stripe"
            ));
        }
    }
    let mut stripes = Vec::new();
    for st in &seg.stripes {
        let Some(pv) = pvs.iter().find(|p| p.key == st.pv) else {
            return Err(format!("a stripe names PV {}, not in the VG", st.pv));
        };
        let Some((_, src)) = present.get(&uuid_key(&pv.uuid)) else {
            return Err(format!("on missing PV {} ({})", pv.uuid, pv.key));
        };
        let end = st
            .start_extent
            .checked_add(st.extent_count)
            .ok_or_else(overflow)?;
        if end > pv.pe_count {
            return Err(format!(
                "uses extents {}..{end} of PV {} which has {} extents",
                st.start_extent, pv.uuid, pv.pe_count
            ));
        }
        let offset = st
            .start_extent
            .checked_mul(extent_size)
            .and_then(|b| b.checked_add(pv.pe_start))
            .ok_or_else(overflow)?;
        let bytes = st
            .extent_count
            .checked_mul(extent_size)
            .ok_or_else(overflow)?;
        offset.checked_add(bytes).ok_or_else(overflow)?;
        stripes.push(MappedStripe {
            pv: Arc::clone(src),
            offset,
            pv_uuid: pv.uuid.clone(),
        });
    }
    Ok(MappedSegment {
        start,
        len,
        stripe_size,
        stripes,
    })
}
