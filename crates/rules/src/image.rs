//! Import requirements that concern the image file itself (OCI "Bring Your Own Image").

use preflight_report::{Area, Level, human_size};

use crate::sources::{BYOI, IMPORT_LINUX};
use crate::{FstabState, Hit, Inputs, Outcome, Rule, outcome};

/// OCI: "the maximum image size is 400 GB". Oracle's "GB" is ambiguous; above 400 GiB import
/// certainly fails, between 400×10⁹ and 400 GiB we warn.
const MAX_GIB: u64 = 400 * 1024 * 1024 * 1024;
const MAX_GB: u64 = 400 * 1000 * 1000 * 1000;

pub const IMP_FORMAT: Rule = Rule {
    id: "IMP-FORMAT",
    area: Area::Image,
    level: Level::Blocker,
    title: "The file must be QCOW2, a single-file VMDK (monolithicSparse or streamOptimized) or an .oci archive",
    source: IMPORT_LINUX,
    check: format,
};

pub const IMP_SIZE: Rule = Rule {
    id: "IMP-SIZE",
    area: Area::Image,
    level: Level::Blocker,
    title: "The virtual disk must be at most 400 GB",
    source: BYOI,
    check: size,
};

pub const IMP_STANDALONE: Rule = Rule {
    id: "IMP-STANDALONE",
    area: Area::Image,
    level: Level::Blocker,
    title: "The image must be one self-contained disk",
    source: IMPORT_LINUX,
    check: standalone,
};

pub const IMP_ENCRYPT: Rule = Rule {
    id: "IMP-ENCRYPT",
    area: Area::Image,
    level: Level::Blocker,
    title: "The disk must not be encrypted",
    source: BYOI,
    check: encrypt,
};

/// `disk.img` → `disk`: used to write commands with the publisher's own file name.
pub(crate) fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// The VMDK variants OCI imports: one file, no parent (oci-image-rules.md, IMP-FORMAT).
const OCI_VMDK_TYPES: [&str; 2] = ["monolithicSparse", "streamOptimized"];

/// How publishers know the format (qemu-img says `vpc` for VHD).
pub(crate) fn display_format(format: &str) -> String {
    match format {
        "vpc" => "VHD".to_string(),
        "qcow2" => "QCOW2".to_string(),
        other => other.to_uppercase(),
    }
}

/// The two conversions OCI accepts, for a file `name` that qemu-img reads as `format`.
fn convert_commands(format: &str, name: &str) -> String {
    let stem = stem(name);
    format!(
        "Convert it with qemu-img (the checks below apply to the converted image unchanged):\n\
         qemu-img convert -p -f {format} -O qcow2 {name} {stem}.qcow2\n\
         or, to upload a VMDK instead:\n\
         qemu-img convert -p -f {format} -O vmdk -o subformat=streamOptimized {name} {stem}.vmdk"
    )
}

fn format(i: &Inputs) -> Outcome {
    if let Some(archive) = &i.image.archive {
        return crate::archive::check(i, archive);
    }
    let name = &i.image.name;
    let format = i.image.format.as_str();
    match format {
        "qcow2" => Outcome::Pass,
        "raw" => outcome(vec![
            Hit::new(
                "Raw disk images cannot be imported into OCI",
                convert_commands("raw", name),
            )
            .at(name, None, "no container header: the file is a raw disk"),
        ]),
        "vmdk" => {
            let subformat = i.image.subformat.as_deref().unwrap_or("unknown");
            if OCI_VMDK_TYPES.contains(&subformat) && i.image.other_files.is_empty() {
                return Outcome::Pass;
            }
            let mut detail = format!("VMDK createType \"{subformat}\"");
            if !i.image.other_files.is_empty() {
                detail.push_str(&format!(
                    "; the disk's data is in {}",
                    i.image.other_files.join(", ")
                ));
            }
            outcome(vec![
                Hit::new(
                    format!("VMDK images of type {subformat} cannot be imported into OCI: it takes single-file VMDKs (monolithicSparse or streamOptimized)"),
                    format!(
                        "With every extent file beside the descriptor, convert to one file:\n\
                         qemu-img convert -p -O qcow2 {name} {stem}.qcow2\n\
                         or: qemu-img convert -p -O vmdk -o subformat=streamOptimized {name} {stem}-stream.vmdk",
                        stem = stem(name)
                    ),
                )
                .at("VMDK descriptor", None, detail),
            ])
        }
        other => outcome(vec![
            Hit::new(
                format!(
                    "{} images cannot be imported into OCI",
                    display_format(other)
                ),
                convert_commands(other, name),
            )
            .at(
                name,
                None,
                match &i.image.subformat {
                    Some(sub) => format!("format {} ({sub})", display_format(other)),
                    None => format!("format {}", display_format(other)),
                },
            ),
        ]),
    }
}

fn size(i: &Inputs) -> Outcome {
    let v = i.image.virtual_size;
    let seen = format!("virtual size {} ({v} bytes)", human_size(v));
    let remedy = "Shrink the guest's file systems and partitions below 400 GB, then the virtual disk: \
                  qemu-img resize --shrink IMAGE 400G (or rebuild the image on a smaller disk)";
    if v > MAX_GIB {
        outcome(vec![
            Hit::new("The virtual disk is larger than 400 GB", remedy).at(
                &i.image.name,
                None,
                seen,
            ),
        ])
    } else if v > MAX_GB {
        outcome(vec![
            Hit::new(
                "The virtual disk is above 400×10⁹ bytes: OCI's 400 GB limit may be decimal",
                remedy,
            )
            .at(&i.image.name, None, seen)
            .level(Level::Warning),
        ])
    } else {
        Outcome::Pass
    }
}

fn standalone(i: &Inputs) -> Outcome {
    let name = &i.image.name;
    let mut hits = Vec::new();
    if let Some(b) = &i.image.backing_file {
        let mut detail = format!(
            "backing file \"{b}\"{}",
            i.image
                .backing_format
                .as_ref()
                .map(|f| format!(" (format {f})"))
                .unwrap_or_default()
        );
        if i.image.missing_backing_bytes > 0 {
            detail.push_str(&format!(
                "; {} of the data this inspection needed lives only in the backing file and was read as zeros, so guest checks may be incomplete",
                human_size(i.image.missing_backing_bytes)
            ));
        }
        hits.push(
            Hit::new(
                "The QCOW2 image depends on a backing file",
                format!(
                    "Flatten the chain where the backing file is reachable:\nqemu-img convert -p -O qcow2 {name} {}-standalone.qcow2",
                    stem(name)
                ),
            )
            .at("qcow2 header", None, detail),
        );
    }
    if let Some(parent) = &i.image.parent {
        let format = display_format(&i.image.format);
        let mut detail = format!("parent \"{parent}\"");
        if i.image.missing_backing_bytes > 0 {
            detail.push_str(&format!(
                "; {} of the data this inspection needed lives only in the parent and was read as zeros, so guest checks may be incomplete",
                human_size(i.image.missing_backing_bytes)
            ));
        }
        hits.push(
            Hit::new(
                format!("The {format} image is a delta (snapshot) of another image"),
                format!(
                    "Merge the chain into one image where the parent is reachable:\nqemu-img convert -p -O qcow2 {name} {}-standalone.qcow2",
                    stem(name)
                ),
            )
            .at(format!("{format} header"), None, detail),
        );
    }
    for missing in &i.disk.lvm_missing_pvs {
        hits.push(
            Hit::new(
                "An LVM volume group of this image spans a disk that is not in the image",
                "Move the volume group's data onto this disk's physical volumes (pvmove, then vgreduce --removemissing), or put every disk of the group into the image",
            )
            .at("LVM metadata", None, missing.clone()),
        );
    }
    for missing in &i.disk.lvm_missing_pvs {
        hits.push(
            Hit::new(
                "An LVM volume group of this image spans a disk that is not in the image",
                "Move the volume group's data onto this disk's physical volumes (pvmove, then vgreduce --removemissing), or put every disk of the group into the image",
            )
            .at("LVM metadata", None, missing.clone()),
        );
    }
    if !i.image.other_files.is_empty() {
        let mut detail = format!("extents in {}", i.image.other_files.join(", "));
        if i.image.missing_backing_bytes > 0 {
            detail.push_str(&format!(
                "; {} of the data this inspection needed is in those files and was read as zeros",
                human_size(i.image.missing_backing_bytes)
            ));
        }
        hits.push(
            Hit::new(
                "The virtual disk is spread over several files",
                format!(
                    "OCI imports one file. With the extent files beside it, convert:\nqemu-img convert -p -O qcow2 {name} {}.qcow2",
                    stem(name)
                ),
            )
            .at("VMDK descriptor", None, detail),
        );
    }
    if let Some(d) = &i.image.external_data_file {
        hits.push(
            Hit::new(
                "The QCOW2 image keeps its data in an external data file",
                format!(
                    "qemu-img convert -p -O qcow2 {name} {}-standalone.qcow2",
                    stem(name)
                ),
            )
            .at("qcow2 header", None, format!("external data file \"{d}\"")),
        );
    }
    if i.image.snapshot_count > 0 {
        let names = if i.image.snapshot_names.is_empty() {
            String::new()
        } else {
            format!(": {}", i.image.snapshot_names.join(", "))
        };
        hits.push(
            Hit::new(
                "The QCOW2 image holds internal snapshots",
                format!(
                    "Delete them (qemu-img snapshot -l {name}; qemu-img snapshot -d NAME {name}) or copy the current state only: qemu-img convert -p -O qcow2 {name} {}-standalone.qcow2",
                    stem(name)
                ),
            )
            .at("qcow2 snapshot table", None, format!("{} snapshot(s){names}", i.image.snapshot_count)),
        );
    }
    match &i.guest {
        Ok(g) => {
            for f in &g.fstab {
                if f.state == FstabState::NotFound && !f.optional {
                    hits.push(
                        Hit::new(
                            format!("/etc/fstab mounts {} from a volume that is not in this image", f.mount_point),
                            format!(
                                "Put that file system in the image, or remove the line, or add `nofail` to its options so boot does not wait for it: edit /etc/fstab line {}",
                                f.line
                            ),
                        )
                        .at("/etc/fstab", Some(f.line), format!("{} {} — no volume of this image has that identity", f.spec, f.mount_point)),
                    );
                }
            }
            outcome(hits)
        }
        Err(why) if hits.is_empty() => Outcome::NotEvaluated(format!(
            "the image itself is standalone, but /etc/fstab could not be checked for volumes outside the image: {why}"
        )),
        Err(_) => outcome(hits),
    }
}

fn encrypt(i: &Inputs) -> Outcome {
    let mut hits = Vec::new();
    if let Some(method) = &i.image.encryption {
        hits.push(
            Hit::new(
                "The QCOW2 image is encrypted",
                format!(
                    "Write a decrypted copy: qemu-img convert -p --object secret,id=sec0,file=PASSPHRASE_FILE --image-opts driver=qcow2,file.filename={},encrypt.key-secret=sec0 -O qcow2 {}-plain.qcow2",
                    i.image.name,
                    stem(&i.image.name)
                ),
            )
            .at("qcow2 header", None, format!("encryption method {method}")),
        );
    }
    for v in i.volumes.iter().filter(|v| v.encrypted) {
        let kind = v.content.as_deref().unwrap_or("encrypted");
        hits.push(
            Hit::new(
                format!("{} is encrypted ({kind})", v.name),
                "Rebuild the image without disk encryption on this volume (OCI encrypts boot volumes at rest itself); for LUKS in the build VM: cryptsetup reencrypt --decrypt DEVICE",
            )
            .at(
                v.name.clone(),
                None,
                format!(
                    "{} header{}",
                    v.encryption.as_deref().unwrap_or(kind),
                    v.uuid.as_ref().map(|u| format!(", UUID {u}")).unwrap_or_default()
                ),
            ),
        );
    }
    outcome(hits)
}
