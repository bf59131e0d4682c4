//! Facts → the report's own types. The report is a public, versioned contract; internal fact
//! types may change without breaking it.

use preflight_container::{ArchiveInfo, ContainerInfo};
use preflight_facts::arch::Arch;
use preflight_facts::kernels::DriverStatus;
use preflight_facts::users::PasswordState;
use preflight_guest::{Guest, MountOutcome};
use preflight_report as report;
use preflight_rules::{GuestFacts, ImageFacts};

pub fn image(facts: &ImageFacts, info: &ContainerInfo) -> report::Image {
    report::Image {
        name: facts.name.clone(),
        format: facts.format.clone(),
        file_size: info.file_size,
        virtual_size: info.virtual_size,
        subformat: info.subformat.clone(),
        version: info.version.clone(),
        allocated_size: info.allocated_size,
        block_size: info.block_size,
        compression: info.compression.clone(),
        parent: info.parent.clone(),
        other_files: info.other_files.clone(),
        bytes_missing: facts.missing_backing_bytes,
        details: info
            .details
            .iter()
            .map(|(name, value)| report::Detail {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        archive: facts.archive.clone(),
        qcow2: info.qcow2.as_ref().map(|q| report::Qcow2 {
            version: q.version,
            compat: q.compat.clone(),
            cluster_size: q.cluster_size,
            compression_type: q.compression_type.clone(),
            extended_l2: q.extended_l2,
            backing_file: q.backing_file.clone(),
            backing_format: q.backing_format.clone(),
            external_data_file: q.external_data_file.clone(),
            encryption: q.encryption.clone(),
            snapshot_count: q.snapshot_count,
            dirty: q.dirty,
            corrupt: q.corrupt,
            bytes_missing_from_backing: facts.missing_backing_bytes,
        }),
        warnings: info.warnings.clone(),
    }
}

pub fn archive(a: &ArchiveInfo) -> report::Archive {
    report::Archive {
        kind: a.kind.name().to_string(),
        compression: a.compression.clone(),
        members: a
            .members
            .iter()
            .map(|m| report::ArchiveMember {
                name: m.name.clone(),
                size: m.size,
            })
            .collect(),
        disk_member: a.disk_member.clone(),
        oci_metadata: a.oci_metadata.as_ref().map(|m| report::OciMetadata {
            version: m.version.clone(),
            firmware: m.firmware.clone(),
            network_type: m.network_type.clone(),
            boot_volume_type: m.boot_volume_type.clone(),
            remote_data_volume_type: m.remote_data_volume_type.clone(),
            local_data_volume_type: m.local_data_volume_type.clone(),
            launch_options_source: m.launch_options_source.clone(),
            pv_attachment_version: m.pv_attachment_version.clone(),
            pv_encryption_in_transit_enabled: m.pv_encryption_in_transit_enabled,
            consistent_volume_naming_enabled: m.consistent_volume_naming_enabled,
            image_capability_data: m.image_capability_data.clone(),
            image_caps_format_version: m.image_caps_format_version.clone(),
            operating_system: m.operating_system.clone(),
            operating_system_version: m.operating_system_version.clone(),
            shapes: m.shapes.clone(),
        }),
        ovf: a.ovf.as_ref().map(|o| report::Ovf {
            descriptor: o.descriptor.clone(),
            disk_capacities: o.disk_capacities.clone(),
            disk_format: o.disk_format.clone(),
            os_type: o.os_type.clone(),
            cpus: o.cpus,
            memory_mib: o.memory_mib,
            nics: o.nics.clone(),
            controllers: o.controllers.clone(),
            system_type: o.system_type.clone(),
            manifest: o.manifest.clone(),
            manifest_checks: o
                .manifest_checks
                .iter()
                .map(|c| report::ManifestCheck {
                    member: c.member.clone(),
                    algorithm: c.algorithm.clone(),
                    matches: c
                        .actual
                        .as_ref()
                        .map(|actual| actual.eq_ignore_ascii_case(&c.expected)),
                })
                .collect(),
        }),
        problems: a.problems.clone(),
    }
}

pub fn arch_name(a: &Arch) -> String {
    match a {
        Arch::X86_64 => "x86_64".into(),
        Arch::Aarch64 => "aarch64".into(),
        Arch::I386 => "i386".into(),
        Arch::Arm => "arm".into(),
        Arch::Other { machine } => format!("elf-machine-{machine}"),
    }
}

fn password(p: &PasswordState) -> String {
    match p {
        PasswordState::Locked => "locked".into(),
        PasswordState::Empty => "empty".into(),
        PasswordState::Hash { scheme } => format!("hash:{scheme}"),
        PasswordState::Unusable => "unusable".into(),
        PasswordState::NoShadowEntry => "no_shadow_entry".into(),
        PasswordState::ShadowUnreadable => "shadow_unreadable".into(),
    }
}

/// The sshd keywords the report lists (the ones the rules judge, and what explains them).
const SSHD_SHOWN: &[&str] = &[
    "PermitRootLogin",
    "PasswordAuthentication",
    "KbdInteractiveAuthentication",
    "PermitEmptyPasswords",
    "PubkeyAuthentication",
    "UsePAM",
    "AuthorizedKeysFile",
];

pub fn guest(g: &Guest, f: &GuestFacts) -> report::Guest {
    report::Guest {
        arch: f.arch.arch.as_ref().map(arch_name),
        arch_evidence: f
            .arch
            .evidence
            .iter()
            .map(|e| format!("{}: {}", e.path, e.machine))
            .collect(),
        os: f.os.as_ref().map(|o| report::Os {
            id: Some(o.id.clone()),
            version_id: o.version_id.clone(),
            name: o.name.clone(),
            pretty_name: o.pretty_name.clone(),
            id_like: o.id_like.clone(),
            source: o.provenance.path.clone(),
        }),
        kernels: f
            .kernels
            .kernels
            .iter()
            .map(|k| report::Kernel {
                version: k.version.clone(),
                image: k.image.clone(),
                initramfs: k.initramfs.clone(),
                modules_dir: k.modules_dir.clone(),
                virtio: k
                    .virtio
                    .iter()
                    .iter()
                    .map(|(name, d)| {
                        let s = match d.status {
                            DriverStatus::Builtin => "builtin",
                            DriverStatus::Module { .. } => "module",
                            DriverStatus::Absent => "absent",
                            DriverStatus::Unknown => "unknown",
                        };
                        (name.to_string(), s.to_string())
                    })
                    .collect(),
            })
            .collect(),
        users: f
            .users
            .users
            .iter()
            .map(|u| report::User {
                name: u.name.clone(),
                uid: u.uid,
                home: u.home.clone(),
                shell: u.shell.clone(),
                password: password(&u.password),
            })
            .collect(),
        sshd: if f.sshd.present {
            SSHD_SHOWN
                .iter()
                .map(|k| {
                    let s = f.sshd.effective(k);
                    report::SshdSetting {
                        keyword: k.to_string(),
                        value: s.value.clone(),
                        from: s.from.to_string(),
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
        ssh_host_keys: f.host_keys.keys.iter().map(|k| k.path.clone()).collect(),
        authorized_keys: f
            .authorized_keys
            .iter()
            .flat_map(|file| {
                file.entries.iter().map(move |e| report::AuthorizedKey {
                    path: file.path.clone(),
                    line: e.line,
                    user: file.users.join(","),
                    key_type: e.key_type.clone().unwrap_or_default(),
                    fingerprint: e.fingerprint.clone(),
                    comment: e.comment.clone(),
                })
            })
            .collect(),
        mounts: g
            .mounts()
            .iter()
            .map(|m| report::Mount {
                point: m.point.clone(),
                volume: m.volume,
            })
            .collect(),
        fstab: g
            .fstab
            .iter()
            .map(|r| {
                let (outcome, volume) = match &r.outcome {
                    MountOutcome::Root { volume } => ("root", Some(*volume)),
                    MountOutcome::Mounted { volume } => ("mounted", Some(*volume)),
                    MountOutcome::Unreadable { volume, .. } => ("unreadable", Some(*volume)),
                    MountOutcome::NotFound => ("not_found", None),
                    MountOutcome::Unresolved { .. } => ("unresolved", None),
                    MountOutcome::NotADisk => ("not_a_disk", None),
                };
                report::FstabLine {
                    line: r.entry.line,
                    spec: r.entry.spec.clone(),
                    mount_point: r.entry.mount_point.clone(),
                    fs_type: r.entry.fs_type.clone(),
                    options: r.entry.options.join(","),
                    outcome: outcome.into(),
                    volume,
                }
            })
            .collect(),
        boot: f.boot.as_ref().ok().map(|b| report::Boot {
            loader: b.loader.clone(),
            config: b.config.clone(),
            title: b.title.clone(),
            source: b.source.clone(),
            default_reason: b.default_reason.clone(),
            kernel: b.kernel.clone(),
            initrds: b.initrds.clone(),
            cmdline: b.cmdline.clone(),
        }),
    }
}
