//! The disk's volumes: partition table, what each volume holds, and the file systems we can
//! open. Failures become notes on the volume; nothing here stops the inspection.

use std::sync::Arc;

use preflight_fs::{BtrfsFs, Ext4Fs, FatFs, FileSystem, FsError, SubvolSelector, XfsFs};
use preflight_guest::{GuestError, Readable, VolumeIdentity};
use preflight_io::{IoError, Source};
use preflight_report as report;
use preflight_rules::{DiskFacts, VolumeFacts};
use preflight_volume::{
    Partition, PartitionTable, ProbeKind, Scheme, VolumeError, bitlocker_info, luks_info, lvm,
    probe, read_partitions,
};

const ESP_GPT: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const BIOS_BOOT_GPT: &str = "21686148-6449-6e6f-744e-656564454649";

pub struct Volumes {
    pub table: Option<report::PartitionTable>,
    pub disk: DiskFacts,
    pub facts: Vec<VolumeFacts>,
    pub identities: Vec<VolumeIdentity>,
    pub readable: Vec<Readable>,
    pub report: Vec<report::Volume>,
    /// The virtual disk cannot be read at all (encrypted, data in an external file, …).
    pub disk_unreadable: Option<String>,
    /// Volumes that are LVM2 physical volumes, with their bytes, for the LVM scan.
    lvm_members: Vec<(usize, Source)>,
}

/// Where a volume comes from, for the report and the guest's device names.
struct Origin<'a> {
    part: Option<&'a Partition>,
    /// `VG/LV` for a logical volume.
    lv: Option<String>,
    /// Other names the guest may use for it (`/dev/mapper/VG-LV`, `/dev/VG/LV`).
    device_names: Vec<String>,
}

pub fn read(disk: &Source, notes: &mut Vec<String>) -> Volumes {
    let mut out = Volumes {
        table: None,
        disk: DiskFacts {
            scheme: "unreadable".into(),
            ..DiskFacts::default()
        },
        facts: Vec::new(),
        identities: Vec::new(),
        readable: Vec::new(),
        report: Vec::new(),
        disk_unreadable: None,
        lvm_members: Vec::new(),
    };
    let table = match read_partitions(disk) {
        Ok(t) => t,
        Err(VolumeError::Io(IoError::Unavailable { message, .. })) => {
            out.disk_unreadable = Some(message);
            return out;
        }
        Err(e) => {
            let why = e.to_string();
            notes.push(format!("the partition table could not be read: {why}"));
            out.disk_unreadable = Some(format!("the partition table could not be read: {why}"));
            return out;
        }
    };
    out.disk = disk_facts(&table);
    out.disk.bios = bios_fact(preflight_volume::bios_boot::read(disk, &table));
    out.table = Some(report::PartitionTable {
        scheme: out.disk.scheme.clone(),
        sector_size: u64::from(table.sector_size),
        disk_id: table.disk_id.clone(),
        diagnostics: table.diagnostics.clone(),
    });

    let volumes: Vec<(Option<&Partition>, Source)> = if table.scheme == Scheme::None {
        vec![(None, Arc::clone(disk))]
    } else {
        table
            .partitions
            .iter()
            .filter(|p| !p.is_extended())
            .map(|p| (Some(p), p.source(disk)))
            .collect()
    };
    for (index, (part, source)) in volumes.into_iter().enumerate() {
        let origin = Origin {
            part,
            lv: None,
            device_names: Vec::new(),
        };
        open_volume(index, origin, source, &mut out, notes);
    }
    logical_volumes(&mut out, notes);
    for (i, v) in out.report.iter().enumerate() {
        if matches!(v.partition_type.as_deref(), Some(ESP_GPT) | Some("0xef")) {
            out.disk.esp_volumes.push(i);
        }
    }
    out
}

fn disk_facts(t: &PartitionTable) -> DiskFacts {
    DiskFacts {
        scheme: match t.scheme {
            Scheme::Mbr => "mbr",
            Scheme::Gpt => "gpt",
            Scheme::None => "none",
        }
        .into(),
        mbr_boot_code: t.mbr_boot_code.present,
        mbr_grub: t.mbr_boot_code.grub,
        bios_boot_partition: t.partitions.iter().any(|p| p.type_id == BIOS_BOOT_GPT),
        esp_volumes: Vec::new(),
        lvm_missing_pvs: Vec::new(),
        bios: Default::default(),
        esps: Vec::new(),
    }
}

/// The rules' view of sector 0's boot code.
fn bios_fact(b: preflight_volume::bios_boot::BiosBoot) -> preflight_rules::BiosFact {
    use preflight_volume::bios_boot::{BootCode, CoreLocation};
    preflight_rules::BiosFact {
        code: b.code.describe().to_string(),
        present: b.code != BootCode::None,
        grub_core: b.core.map(|c| preflight_rules::GrubCore {
            start_lba: c.start_lba,
            sectors: c.sectors,
            location: c.location.describe(),
            exposed: matches!(
                c.location,
                CoreLocation::Partition { .. } | CoreLocation::Unallocated
            ),
            valid: c.valid,
        }),
        diagnostics: b.diagnostics,
    }
}

/// The LVM2 volume groups on the PVs found: every visible LV becomes a volume of its own,
/// opened like a partition; LVs that cannot be read are listed with the reason.
fn logical_volumes(out: &mut Volumes, notes: &mut Vec<String>) {
    if out.lvm_members.is_empty() {
        return;
    }
    let members = std::mem::take(&mut out.lvm_members);
    let scan = lvm::scan(&members);
    notes.extend(scan.diagnostics.iter().map(|d| format!("LVM: {d}")));
    for vg in &scan.vgs {
        notes.extend(
            vg.diagnostics
                .iter()
                .map(|d| format!("LVM volume group {}: {d}", vg.name)),
        );
        for pv in vg.missing_pvs() {
            out.disk.lvm_missing_pvs.push(format!(
                "volume group {} needs physical volume {}{}, which is not in this image",
                vg.name,
                pv.uuid,
                pv.device_hint
                    .as_deref()
                    .map(|d| format!(" (last seen as {d})"))
                    .unwrap_or_default()
            ));
        }
        for lv in vg.lvs.iter().filter(|lv| lv.visible) {
            let index = out.report.len();
            let origin = Origin {
                part: None,
                lv: Some(format!("{}/{}", vg.name, lv.name)),
                device_names: vec![
                    lvm::mapper_path(&vg.name, &lv.name),
                    lvm::dev_path(&vg.name, &lv.name),
                ],
            };
            match lv.source() {
                Some(source) => open_volume(index, origin, source, out, notes),
                None => {
                    let why = lv
                        .unreadable
                        .clone()
                        .unwrap_or_else(|| "not readable".into());
                    let vol = report::Volume {
                        index,
                        kind: "lv".into(),
                        size: lv.size,
                        lv: origin.lv.clone(),
                        partition_type_name: Some(format!("LVM {}", lv.segtype)),
                        note: Some(format!("logical volume not readable: {why}")),
                        ..report::Volume::default()
                    };
                    let name = format!("logical volume {}/{}", vg.name, lv.name);
                    out.identities.push(VolumeIdentity {
                        index,
                        device_names: origin.device_names,
                        ..VolumeIdentity::default()
                    });
                    push(out, vol, &name, false, None);
                }
            }
        }
    }
}

fn open_volume(
    index: usize,
    origin: Origin<'_>,
    source: Source,
    out: &mut Volumes,
    notes: &mut Vec<String>,
) {
    let part = origin.part;
    let name = match (part, &origin.lv) {
        (Some(p), _) => format!("partition {}", p.number),
        (None, Some(lv)) => format!("logical volume {lv}"),
        (None, None) => "whole disk".to_string(),
    };
    let kind = match (part, &origin.lv) {
        (Some(_), _) => "partition",
        (None, Some(_)) => "lv",
        (None, None) => "disk",
    };
    let mut vol = report::Volume {
        index,
        kind: kind.into(),
        lv: origin.lv.clone(),
        number: part.map(|p| p.number),
        start: part.map_or(0, |p| p.start),
        size: source.len(),
        partition_type: part.map(|p| p.type_id.clone()),
        partition_type_name: part.and_then(|p| p.type_name.clone()),
        part_uuid: part.and_then(|p| p.uuid.clone()),
        part_label: part.and_then(|p| p.name.clone()),
        ..report::Volume::default()
    };
    let probed = match probe(&*source) {
        Ok(p) => p,
        Err(e) => {
            vol.note = Some(format!("unreadable: {e}"));
            notes.push(format!("{name} could not be read: {e}"));
            push(out, vol, &name, false, None);
            return;
        }
    };
    let kind = probed.kind;
    let mut encryption = None;
    if probed.is_known() {
        vol.content = Some(probed.name.clone());
        vol.uuid = probed.uuid.clone();
        vol.label = probed.label.clone();
    }
    let fs: Option<Arc<dyn FileSystem>> = match kind {
        ProbeKind::Ext2 | ProbeKind::Ext3 | ProbeKind::Ext4 => opened(
            Ext4Fs::open(Arc::clone(&source)),
            &probed.name,
            &name,
            &mut vol,
            notes,
        ),
        ProbeKind::Btrfs => opened(
            BtrfsFs::open(Arc::clone(&source)),
            &probed.name,
            &name,
            &mut vol,
            notes,
        )
        .map(|fs| btrfs_root_view(fs, &name, notes)),
        ProbeKind::Vfat => opened(
            FatFs::open(Arc::clone(&source)),
            &probed.name,
            &name,
            &mut vol,
            notes,
        ),
        ProbeKind::Xfs => opened(
            XfsFs::open(Arc::clone(&source)),
            &probed.name,
            &name,
            &mut vol,
            notes,
        ),
        ProbeKind::Luks | ProbeKind::BitLocker => {
            let detail = encryption_detail(kind, &source);
            vol.note = Some(format!("encrypted: {detail}"));
            encryption = Some(detail);
            None
        }
        ProbeKind::Unknown | ProbeKind::Swap | ProbeKind::SwapSuspend => None,
        ProbeKind::Lvm2Member => {
            out.lvm_members.push((index, Arc::clone(&source)));
            vol.note = Some("LVM2 physical volume: its logical volumes are listed below".into());
            None
        }
        _ => {
            vol.note = Some(format!(
                "{} is not readable by this version of Preflight yet",
                probed.name
            ));
            None
        }
    };
    out.identities.push(VolumeIdentity {
        index,
        fs_type: vol.content.clone(),
        uuid: vol.uuid.clone(),
        label: vol.label.clone(),
        part_uuid: vol.part_uuid.clone(),
        part_label: vol.part_label.clone(),
        part_number: vol.number,
        device_names: origin.device_names,
    });
    vol.readable = fs.is_some();
    if let Some(fs) = fs {
        out.readable.push(Readable { volume: index, fs });
    }
    push(out, vol, &name, probed.encrypted, encryption);
}

/// What the encryption header says, for the evidence: never anything secret (the header holds
/// no key material in the clear, and we do not try to decrypt).
fn encryption_detail(kind: ProbeKind, source: &Source) -> String {
    if kind == ProbeKind::BitLocker {
        return match bitlocker_info(&**source) {
            Ok(Some(b)) => format!(
                "BitLocker ({}{})",
                b.flavour,
                b.version
                    .map(|v| format!(", FVE metadata version {v}"))
                    .unwrap_or_default()
            ),
            _ => "BitLocker".into(),
        };
    }
    match luks_info(&**source) {
        Ok(Some(l)) => {
            let mut parts = vec![format!("LUKS{}", l.version)];
            if let Some(c) = &l.cipher {
                parts.push(format!("cipher {c}"));
            }
            if let Some(k) = l.key_bits {
                parts.push(format!("{k}-bit key"));
            }
            parts.push(format!(
                "{} key slot{}",
                l.keyslots.len(),
                if l.keyslots.len() == 1 { "" } else { "s" }
            ));
            if let Some(label) = &l.label {
                parts.push(format!("label \"{label}\""));
            }
            parts.join(", ")
        }
        Ok(None) => "LUKS".into(),
        Err(e) => format!("LUKS (header unreadable: {e})"),
    }
}

/// Which subvolume of a Btrfs volume stands for it when the guest's root is looked for: the
/// default one if it holds a Linux root, else the first subvolume that does (`root`, `@`
/// first: Fedora's and openSUSE's names). fstab's `subvol=` options then pick the mounts.
fn btrfs_root_view(
    fs: Arc<dyn FileSystem>,
    volume: &str,
    notes: &mut Vec<String>,
) -> Arc<dyn FileSystem> {
    let has_root = |fs: &dyn FileSystem| {
        fs.lstat("/etc/os-release").is_ok() || fs.lstat("/usr/lib/os-release").is_ok()
    };
    if has_root(&*fs) {
        return fs;
    }
    let Some(Ok(top)) = fs.subvolume(&SubvolSelector::Id(5)) else {
        return fs;
    };
    // The subvolume list lives on the concrete type; reach it through the top level.
    let mut names: Vec<(u8, String)> = Vec::new();
    if let Ok(entries) = top.read_dir("/") {
        for e in entries {
            let rank = match e.name.as_str() {
                "root" | "@" => 0,
                _ => 1,
            };
            names.push((rank, e.name));
        }
    }
    names.sort();
    for (_, name) in names.into_iter().take(64) {
        if let Some(Ok(sub)) = fs.subvolume(&SubvolSelector::Path(name.clone()))
            && has_root(&*sub)
        {
            notes.push(format!(
                "{volume}: the Btrfs default subvolume holds no Linux root; subvolume {name} does and stands for the volume"
            ));
            return sub;
        }
    }
    fs
}

/// A file system opened, or why not (on the volume and in the notes).
fn opened<F: FileSystem + 'static>(
    result: Result<F, FsError>,
    fs_name: &str,
    volume: &str,
    vol: &mut report::Volume,
    notes: &mut Vec<String>,
) -> Option<Arc<dyn FileSystem>> {
    match result {
        Ok(fs) => Some(Arc::new(fs)),
        Err(e) => {
            vol.note = Some(format!("{fs_name} file system could not be opened: {e}"));
            notes.push(format!(
                "{volume}: the {fs_name} file system could not be opened: {e}"
            ));
            None
        }
    }
}

fn push(
    out: &mut Volumes,
    vol: report::Volume,
    name: &str,
    encrypted: bool,
    encryption: Option<String>,
) {
    out.facts.push(VolumeFacts {
        encryption,
        index: vol.index,
        name: format!("volume {} ({name})", vol.index),
        content: vol.content.clone(),
        uuid: vol.uuid.clone(),
        encrypted,
    });
    out.report.push(vol);
}

/// Why no guest: say what the volumes held, so "no root" is actionable.
pub fn explain_no_root(e: &GuestError, volumes: &[report::Volume]) -> String {
    let unreadable: Vec<String> = volumes
        .iter()
        .filter(|v| !v.readable && v.content.is_some())
        .map(|v| {
            format!(
                "volume {} holds {}",
                v.index,
                v.content.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let problems: Vec<String> = volumes
        .iter()
        .filter_map(|v| v.note.clone().map(|n| format!("volume {}: {n}", v.index)))
        .collect();
    let mut why = e.to_string();
    if !unreadable.is_empty() {
        why.push_str(&format!("; {} (not readable yet)", unreadable.join(", ")));
    }
    if !problems.is_empty() {
        why.push_str(&format!("; {}", problems.join("; ")));
    }
    why
}
