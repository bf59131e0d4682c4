//! Inspection: from the bytes of a disk image file to a [`Report`], through every layer
//! (container → volumes → file systems → guest → facts → rules).
//!
//! Plain synchronous Rust with no OS or browser dependency: the CLI hands it a file, the web
//! worker a `Blob`, both as a [`ByteSource`]. Nothing here fails because one layer is broken:
//! an unreadable part becomes a note and "not evaluated: why"; only an image whose container
//! cannot be opened at all is an [`InspectError`].

mod convert;
mod files;
mod volumes;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use preflight_container::ContainerError;
use preflight_facts::boot::BootConfig;
use preflight_facts::{arch, kernels, os, ssh_keys, sshd, users};
use preflight_guest::{Guest, RootHint, VolumeIdentity};
use preflight_io::{BlockCache, ByteSource, Counting, ReadStats};
use preflight_report::{Report, Stats, Tool};
use preflight_rules::{BootFact, FstabFact, FstabState, GuestFacts, ImageFacts, Inputs};

pub use preflight_report as report;

/// Where the inspection is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Container,
    /// One pass over a compressed archive (tar.gz `.oci`) to index it: the only stage that
    /// reads the whole file; bytes read against the file size is the progress.
    Decompressing,
    Volumes,
    Guest,
    Facts,
    Rules,
    Done,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Container => "reading the container",
            Stage::Decompressing => {
                "decompressing the archive once (gzip has no random access; a plain tar or the QCOW2 itself is read in place)"
            }
            Stage::Volumes => "reading partitions and file systems",
            Stage::Guest => "assembling the guest",
            Stage::Facts => "reading the guest's configuration",
            Stage::Rules => "checking the rules",
            Stage::Done => "done",
        }
    }
}

pub struct Options {
    /// Aligned block size of the cache over the image file. In a browser a read call costs
    /// about a millisecond whatever its size up to 64 KiB, so blocks are large.
    pub cache_block: u64,
    pub cache_bytes: u64,
    /// Check an OVA manifest's digests (reads the whole archive).
    pub verify_manifest: bool,
    /// Today's date (`YYYY-MM-DD`, UTC), for the rules that weigh ages (REC-UPDATES). There
    /// is no clock in wasm32: the caller passes it; `None` leaves ages unjudged.
    pub today: Option<String>,
    /// Called at each stage with the bytes read so far (and repeatedly during
    /// [`Stage::Decompressing`]).
    pub progress: Option<Box<dyn Fn(Stage, ReadStats)>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_block: 256 * 1024,
            cache_bytes: 64 * 1024 * 1024,
            verify_manifest: false,
            today: None,
            progress: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// Inspect a disk image file. `name` is the file name shown in the report (no directory).
/// `stats.elapsed_ms` is left at 0: the caller owns the clock (there is none in wasm32).
pub fn inspect(
    file: Box<dyn ByteSource>,
    name: &str,
    options: &Options,
) -> Result<Report, InspectError> {
    let counting = Counting::new(file);
    let counters = counting.counters();
    let progress = |stage: Stage| {
        if let Some(p) = &options.progress {
            p(stage, counters.snapshot());
        }
    };
    progress(Stage::Container);
    // sources are single-threaded by design (a browser Blob)
    let file: preflight_io::Source = Arc::new(BlockCache::new(
        counting,
        options.cache_block,
        options.cache_bytes,
    ));
    let pass_progress = |_what: &str, _done: u64, _total: u64| progress(Stage::Decompressing);
    let container = preflight_container::open_with(
        file,
        &preflight_container::OpenOptions {
            verify_manifest: options.verify_manifest,
            progress: Some(&pass_progress),
        },
    )?;

    progress(Stage::Volumes);
    let mut notes = Vec::new();
    let vols = volumes::read(&container.disk, &mut notes);

    progress(Stage::Guest);
    let guest = if let Some(why) = &vols.disk_unreadable {
        Err(why.clone())
    } else {
        match Guest::assemble(&vols.readable, &vols.identities) {
            Ok(g) => {
                let boot = read_boot(&g);
                // The kernel mounts what its command line names: assemble again with it when
                // that is not what was chosen (or could not be found), and read the boot
                // configuration of that guest.
                match boot.as_ref().ok().and_then(root_hint) {
                    Some(hint) if hint_changes(&hint, &g, &vols.identities) => {
                        match Guest::assemble_with(&vols.readable, &vols.identities, &hint) {
                            Ok(again) => {
                                let boot = read_boot(&again);
                                Ok((again, boot))
                            }
                            Err(_) => Ok((g, boot)),
                        }
                    }
                    _ => Ok((g, boot)),
                }
            }
            Err(e) => Err(volumes::explain_no_root(&e, &vols.report)),
        }
    };

    progress(Stage::Facts);
    let guest_facts = guest
        .as_ref()
        .map(|(g, boot)| gather(g, boot, &vols.identities, &mut notes))
        .map_err(Clone::clone);
    let guest = guest.map(|(g, _)| g);

    let info = &container.info;
    let qcow2 = info.qcow2.as_ref();
    let image = ImageFacts {
        name: name.to_string(),
        format: info.format.name().to_string(),
        virtual_size: info.virtual_size,
        backing_file: qcow2.and_then(|q| q.backing_file.clone()),
        backing_format: qcow2.and_then(|q| q.backing_format.clone()),
        external_data_file: qcow2.and_then(|q| q.external_data_file.clone()),
        encryption: qcow2.and_then(|q| q.encryption.clone()),
        snapshot_count: qcow2.map_or(0, |q| q.snapshot_count),
        snapshot_names: qcow2.map_or_else(Vec::new, |q| {
            q.snapshots.iter().map(|s| s.name.clone()).collect()
        }),
        missing_backing_bytes: container
            .missing_backing_bytes
            .as_ref()
            .map_or(0, |c| c.load(Ordering::Relaxed)),
        subformat: info.subformat.clone(),
        // QCOW2 names its parent `backing_file` (above), with its own wording in the rules.
        parent: if qcow2.is_some() {
            None
        } else {
            info.parent.clone()
        },
        other_files: info.other_files.clone(),
        archive: info.archive.as_ref().map(convert::archive),
    };
    let arch = guest_facts.as_ref().ok().and_then(|g| g.arch.arch);
    let mut disk = vols.disk.clone();
    disk.esps = esps(&vols, arch);
    let inputs = Inputs {
        today: options.today.clone(),
        image,
        disk,
        volumes: vols.facts.clone(),
        guest: guest_facts,
    };

    progress(Stage::Rules);
    let (findings, not_evaluated) = preflight_rules::evaluate(&inputs);
    let recommendation = preflight_rules::recommend(&inputs);

    let mut volumes_report = vols.report;
    if let Ok(g) = &guest {
        for m in g.mounts() {
            if let Some(v) = volumes_report.iter_mut().find(|v| v.index == m.volume) {
                v.mounted_at = Some(m.point.clone());
            }
        }
        notes.extend(g.notes.iter().cloned());
    }

    let stats = counters.snapshot();
    let mut report = Report {
        schema_version: preflight_report::SCHEMA_VERSION,
        tool: Tool {
            name: "preflight".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        image: convert::image(&inputs.image, info),
        verdict: preflight_report::Verdict {
            status: preflight_report::Status::Incomplete,
            blockers: 0,
            warnings: 0,
            infos: 0,
            not_evaluated: 0,
            summary: String::new(),
        },
        recommendation,
        findings,
        not_evaluated,
        partition_table: vols.table,
        volumes: volumes_report,
        guest: match (&guest, &inputs.guest) {
            (Ok(g), Ok(f)) => Some(convert::guest(g, f)),
            _ => None,
        },
        guest_error: inputs.guest.as_ref().err().cloned(),
        notes,
        stats: Stats {
            bytes_read: stats.bytes_read,
            read_calls: stats.read_calls,
            elapsed_ms: 0,
            scans: inputs.guest.as_ref().map(scan_stats).unwrap_or_default(),
        },
    };
    report.finish();
    progress(Stage::Done);
    Ok(report)
}

/// What the bounded guest scans cost.
fn scan_stats(g: &GuestFacts) -> Vec<preflight_report::ScanStat> {
    let h = &g.hygiene.cost;
    let imds = &g.hardening.imds_refs;
    vec![
        preflight_report::ScanStat {
            what: "secrets, histories, leftovers".into(),
            files: h.files_opened + h.files_sized,
            bytes: h.bytes_read,
            dirs: h.dirs_listed,
            truncated: !h.truncated.is_empty(),
        },
        preflight_report::ScanStat {
            what: "IMDSv1 references".into(),
            files: imds.files_scanned as u64,
            bytes: imds.bytes_read,
            dirs: 0,
            truncated: imds.truncated,
        },
        preflight_report::ScanStat {
            what: "systemd units".into(),
            files: g.systemd.files_read() as u64,
            bytes: g.systemd.bytes_read(),
            dirs: 0,
            truncated: false,
        },
    ]
}

/// What UEFI firmware would run from each EFI system partition, for the guest's architecture
/// (unknown: x86_64, unless the ESP holds only an Arm loader).
fn esps(vols: &volumes::Volumes, arch: Option<arch::Arch>) -> Vec<preflight_rules::EspFact> {
    use preflight_facts::efi;
    vols.disk
        .esp_volumes
        .iter()
        .map(|&volume| {
            let name = vols
                .facts
                .iter()
                .find(|v| v.index == volume)
                .map_or_else(|| format!("volume {volume}"), |v| v.name.clone());
            let Some(r) = vols.readable.iter().find(|r| r.volume == volume) else {
                return preflight_rules::EspFact {
                    volume,
                    name,
                    facts: Err("its FAT file system could not be read".into()),
                    search_found: None,
                };
            };
            let esp = Guest::single(volume, Arc::clone(&r.fs));
            let files = files::GuestFiles(&esp);
            let mut facts = efi::read_esp(&files, arch.unwrap_or(arch::Arch::X86_64));
            if arch.is_none()
                && !facts.removable.contains_key("x86_64")
                && facts.removable.contains_key("aarch64")
            {
                facts = efi::read_esp(&files, arch::Arch::Aarch64);
            }
            let search_found = facts
                .grub_config
                .as_ref()
                .and_then(|c| c.search_uuid.as_deref())
                .map(|u| {
                    preflight_guest::volume_for(&format!("UUID={u}"), &vols.identities).is_some()
                });
            preflight_rules::EspFact {
                volume,
                name,
                facts: Ok(facts),
                search_found,
            }
        })
        .collect()
}

/// The boot loader configuration of the guest, or why there is none.
fn read_boot(guest: &Guest) -> Result<BootConfig, String> {
    match preflight_facts::boot::read(&files::GuestFiles(guest)) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(
            "no boot loader configuration was found (grub.cfg, BLS entries, extlinux.conf, systemd-boot loader.conf)"
                .into(),
        ),
        Err(e) => Err(format!(
            "the boot loader configuration could not be read: {e}"
        )),
    }
}

/// The boot loader as its documentation names it.
fn loader_name(l: preflight_facts::boot::Loader) -> &'static str {
    use preflight_facts::boot::Loader;
    match l {
        Loader::Grub2 => "GRUB 2",
        Loader::GrubLegacy => "GRUB Legacy",
        Loader::Bls => "BLS entries",
        Loader::Extlinux => "EXTLINUX",
        Loader::SystemdBoot => "systemd-boot",
    }
}

/// `root=` and `rootflags=subvol=`/`subvolid=` of the default boot entry's kernel command line.
fn root_hint(config: &BootConfig) -> Option<RootHint> {
    let cmdline = config.default_entry()?.cmdline_parsed();
    let root = cmdline.get("root").map(str::to_string);
    let subvolume = cmdline
        .get("rootflags")
        .and_then(|flags| preflight_guest::subvolume_in(flags.split(',')));
    (root.is_some() || subvolume.is_some()).then_some(RootHint { root, subvolume })
}

/// Whether assembling with `hint` can give another guest than `guest`: a subvolume to mount,
/// or a root= that is not the chosen root (another volume, or none: that is said in a note).
fn hint_changes(hint: &RootHint, guest: &Guest, ids: &[VolumeIdentity]) -> bool {
    hint.subvolume.is_some()
        || hint
            .root
            .as_deref()
            .is_some_and(|r| preflight_guest::volume_for(r, ids) != Some(guest.root_volume))
}

/// The default boot entry as the boot loader configuration gives it, with its `root=` checked
/// against the image's volumes.
fn boot_fact(
    config: &Result<BootConfig, String>,
    ids: &[VolumeIdentity],
) -> Result<BootFact, String> {
    let config = config.as_ref().map_err(Clone::clone)?;
    let Some(entry) = config.default_entry() else {
        return Err(format!("{} has no boot entry", config.config_path));
    };
    let cmdline = entry.cmdline_parsed();
    let root = cmdline.get("root").map(str::to_string);
    let consoles = cmdline.consoles();
    Ok(BootFact {
        loader: loader_name(config.loader).to_string(),
        config: config.config_path.clone(),
        title: entry.title_path(),
        source: entry.source.to_string(),
        default_reason: config.default_reason.clone(),
        kernel: entry.kernel.clone(),
        initrds: entry.initrds.clone(),
        cmdline: entry.cmdline.clone(),
        root_stable: root
            .as_deref()
            .is_some_and(|r| preflight_facts::boot::RootRef::parse(r).is_stable()),
        root_found: root
            .as_deref()
            .map(|r| preflight_guest::volume_for(r, ids).is_some()),
        root,
        serial_consoles: consoles
            .iter()
            .filter(|c| c.is_serial())
            .map(|c| c.name.clone())
            .collect(),
        consoles: consoles.iter().map(|c| c.name.clone()).collect(),
    })
}

/// Read every fact the rules need from the assembled guest.
fn gather(
    guest: &Guest,
    boot: &Result<BootConfig, String>,
    ids: &[VolumeIdentity],
    notes: &mut Vec<String>,
) -> GuestFacts {
    let files = files::GuestFiles(guest);
    let os = os::gather(&files);
    let arch = arch::gather(&files);
    let kernels = kernels::gather(&files);
    let users = users::gather(&files);
    let sshd = sshd::gather(&files);
    let host_keys = ssh_keys::host_keys(&files);
    let homes: Vec<(String, String)> = users
        .users
        .iter()
        .map(|u| (u.name.clone(), u.home.clone()))
        .collect();
    let authorized_keys =
        ssh_keys::authorized_keys(&files, &homes, &sshd.authorized_keys_patterns());

    notes.extend(os.warnings.iter().cloned());
    notes.extend(arch.warnings.iter().cloned());
    notes.extend(arch.note.iter().cloned());
    notes.extend(kernels.warnings.iter().cloned());
    notes.extend(users.warnings.iter().cloned());
    notes.extend(
        sshd.startup_errors
            .iter()
            .map(|e| format!("sshd would refuse to start: {e}")),
    );
    notes.extend(
        sshd.warnings
            .iter()
            .map(|w| format!("sshd configuration: {w}")),
    );
    notes.extend(host_keys.warnings.iter().cloned());
    if os.os.is_none() {
        notes.push(
            "the distribution could not be identified (no os-release or known release file)".into(),
        );
    }

    let fstab = guest
        .fstab
        .iter()
        .map(|r| FstabFact {
            line: r.entry.line,
            spec: r.entry.spec.clone(),
            mount_point: r.entry.mount_point.clone(),
            optional: r.entry.optional(),
            state: match &r.outcome {
                preflight_guest::MountOutcome::NotFound => FstabState::NotFound,
                preflight_guest::MountOutcome::Unresolved { why } => {
                    FstabState::Unresolved(why.clone())
                }
                preflight_guest::MountOutcome::NotADisk => FstabState::NotADisk,
                _ => FstabState::Found,
            },
        })
        .collect();
    let chain = preflight_facts::boot_chain::gather(
        &files,
        boot.as_ref().map_err(String::as_str),
        &kernels,
    );
    let oci_signs = preflight_facts::oci_platform::gather(&files);
    let hygiene = preflight_facts::hygiene::gather(&files, &homes);
    notes.extend(hygiene.warnings.iter().cloned());
    notes.extend(
        hygiene
            .cost
            .truncated
            .iter()
            .map(|t| format!("hygiene scan stopped early: {t}")),
    );
    let banner = chain
        .image
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .and_then(|k| k.banner.clone());
    let updates = preflight_facts::updates::gather(&files, banner.as_deref());
    notes.extend(updates.warnings.iter().cloned());
    let cmdline = boot
        .as_ref()
        .ok()
        .and_then(|c| c.default_entry())
        .and_then(|e| e.cmdline.clone());
    let cloud_init = preflight_facts::cloud_init::gather(&files, cmdline.as_deref());
    notes.extend(
        cloud_init
            .warnings
            .iter()
            .map(|w| format!("cloud-init: {w}")),
    );
    let packages = preflight_facts::packages::gather(&files);
    notes.extend(packages.warnings.iter().map(|w| format!("packages: {w}")));
    let systemd = preflight_facts::systemd::Systemd::load_with_cmdline(&files, cmdline.as_deref());
    notes.extend(systemd.warnings().iter().map(|w| format!("systemd: {w}")));
    let network = preflight_facts::network::gather(&files);
    notes.extend(network.warnings.iter().map(|w| format!("network: {w}")));
    let hardening = preflight_facts::hardening::gather(&files, cmdline.as_deref());
    notes.extend(hardening.warnings.iter().cloned());
    let boot = boot_fact(boot, ids);
    GuestFacts {
        boot,
        chain,
        oci_signs,
        hygiene,
        updates,
        cloud_init,
        packages,
        systemd,
        network,
        hardening,
        os: os.os,
        arch,
        kernels,
        users,
        sshd,
        host_keys,
        authorized_keys,
        fstab,
    }
}
