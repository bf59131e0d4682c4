//! Rules on the launch decision (launch-modes-and-shapes.md): the initramfs reaches the boot
//! volume (IMP-INITRAMFS), paravirtualized mode is used (REC-MODE), and every shape offered
//! has the drivers it needs (G01's offline proxy).

use preflight_facts::boot_chain::Reach;
use preflight_report::{Area, Level};

use crate::mode::{Decision, PV_STORAGE, decide, recommend};
use crate::shapes::LaunchMode;
use crate::sources::{BYOI, MARKETPLACE_IMAGES};
use crate::{GuestFacts, Hit, Inputs, Outcome, Rule, need_guest, outcome};

pub const IMP_INITRAMFS: Rule = Rule {
    id: "IMP-INITRAMFS",
    area: Area::Boot,
    level: Level::Blocker,
    title: "The default kernel's initramfs can reach the boot volume on OCI",
    source: BYOI,
    check: initramfs,
};

pub const REC_MODE: Rule = Rule {
    id: "REC-MODE",
    area: Area::Boot,
    level: Level::Warning,
    title: "The image uses paravirtualized mode",
    source: BYOI,
    check: rec_mode,
};

pub const G01: Rule = Rule {
    id: "G01",
    area: Area::Boot,
    level: Level::Blocker,
    title: "The image boots on every shape marked compatible (its drivers are there)",
    source: MARKETPLACE_IMAGES,
    check: g01,
};

/// Debian and Ubuntu build their initramfs with initramfs-tools; the others with dracut.
fn uses_initramfs_tools(g: &GuestFacts) -> bool {
    g.os.as_ref().is_some_and(|os| {
        std::iter::once(&os.id)
            .chain(os.id_like.iter())
            .any(|id| id == "debian" || id == "ubuntu")
    })
}

/// The command that builds the initramfs of `release` again, with `drivers` in it.
fn rebuild_remedy(g: &GuestFacts, drivers: &[&str], release: &str) -> String {
    let list = drivers.join(" ");
    match (uses_initramfs_tools(g), drivers.is_empty()) {
        (true, true) => format!("Inside the image: update-initramfs -c -k {release}"),
        (true, false) => format!(
            "Inside the image: printf '%s\\n' {list} >> /etc/initramfs-tools/modules && update-initramfs -u -k {release} \
             (a MODULES=dep in /etc/initramfs-tools/initramfs.conf builds for the build host only: set MODULES=most)"
        ),
        (false, true) => format!("Inside the image: dracut -f --no-hostonly --kver {release}"),
        (false, false) => format!(
            "Inside the image: echo 'add_drivers+=\" {list} \"' > /etc/dracut.conf.d/oci-virtio.conf && dracut -f --no-hostonly --kver {release} \
             (hostonly=\"yes\" in /etc/dracut.conf* builds for the build host only: set hostonly=\"no\")"
        ),
    }
}

fn initramfs(i: &Inputs) -> Outcome {
    let g = match need_guest(i) {
        Ok(g) => g,
        Err(o) => return o,
    };
    let chain = &g.chain;
    let Some(release) = chain.release.as_deref() else {
        return Outcome::NotEvaluated(
            "the kernel the image boots could not be identified (see IMP-BOOT and the decision's evidence chain)"
                .into(),
        );
    };
    let d = decide(i);
    let mut hits = Vec::new();
    for missing in &chain.initrd_missing {
        hits.push(
            Hit::new(
                "The initramfs the default boot entry loads is not in the image",
                rebuild_remedy(g, &[], release),
            )
            .at(
                missing.first().cloned().unwrap_or_default(),
                None,
                format!("looked for {}", missing.join(", ")),
            ),
        );
    }
    match d.mode {
        Some(LaunchMode::Paravirtualized) if !d.initramfs_fix.is_empty() => {
            hits.push(missing_at_boot(g, &d, release));
        }
        None if !d.pv.possible => {
            // Neither mode reaches the disk; say what paravirtualized mode lacks.
            let absent: Vec<&str> = PV_STORAGE
                .iter()
                .filter(|n| d.driver(n.name).is_some_and(|r| !r.present()))
                .map(|n| n.name)
                .collect();
            if !absent.is_empty() {
                let mut hit = Hit::new(
                    format!(
                        "Kernel {release} has no {}: no launch mode can reach the boot volume",
                        absent.join(", ")
                    ),
                    format!(
                        "Install a distribution kernel built with virtio (every current one is), then rebuild the initramfs. {}",
                        rebuild_remedy(
                            g,
                            &["virtio_pci", "virtio_scsi", "virtio_blk", "virtio_net"],
                            release
                        )
                    ),
                );
                for n in &absent {
                    if let Some(e) = d.driver(n).and_then(|r| r.evidence()) {
                        hit = hit.at(e, None, format!("{n}: not built in, no module"));
                    }
                }
                hits.push(hit);
            }
        }
        _ => {}
    }
    // Modules for another kernel do not load (modprobe looks in /lib/modules/$(uname -r)).
    for i in &chain.initrds {
        if !i.kernel_versions.is_empty() && !i.kernel_versions.iter().any(|v| v == release) {
            hits.push(
                Hit::new(
                    format!(
                        "The initramfs holds modules for {}, not for the kernel it boots ({release})",
                        i.kernel_versions.join(", ")
                    ),
                    rebuild_remedy(g, &[], release),
                )
                .at(
                    i.path.clone(),
                    None,
                    format!("lib/modules/{}", i.kernel_versions.join(", lib/modules/")),
                ),
            );
        }
    }
    if hits.is_empty() {
        let storage_unknown = PV_STORAGE
            .iter()
            .any(|n| d.driver(n.name).is_some_and(|r| r.reach == Reach::Unknown));
        let unreadable: Vec<String> = chain
            .initrds
            .iter()
            .filter(|i| i.unreadable())
            .map(|i| format!("{}: {}", i.path, i.error.as_deref().unwrap_or("unreadable")))
            .collect();
        if storage_unknown || (!unreadable.is_empty() && !chain.initrd_listed()) {
            return Outcome::NotEvaluated(if unreadable.is_empty() {
                format!(
                    "kernel {release} has no module list or config to tell which drivers it has"
                )
            } else {
                format!("the initramfs could not be read: {}", unreadable.join("; "))
            });
        }
    }
    outcome(hits)
}

/// The storage drivers are installed but the initramfs lacks them.
fn missing_at_boot(g: &GuestFacts, d: &Decision, release: &str) -> Hit {
    let chain = &g.chain;
    let names = d.initramfs_fix.join(", ");
    let title = if chain.no_initrd {
        format!(
            "The default boot entry loads no initramfs and kernel {release} does not build in {names}: the boot volume is not found"
        )
    } else {
        format!(
            "The initramfs of kernel {release} lacks {names}: the boot volume is not found in paravirtualized mode"
        )
    };
    let mut hit = Hit::new(
        title,
        rebuild_remedy(
            g,
            &["virtio_pci", "virtio_scsi", "virtio_blk", "virtio_net"],
            release,
        ),
    );
    for i in &chain.initrds {
        hit = hit.at(
            i.path.clone(),
            None,
            format!(
                "{} modules ({}), none of {names}",
                i.modules.len(),
                i.segments.join(" + ")
            ),
        );
    }
    for n in &d.initramfs_fix {
        if let Some(e) = d.driver(n).and_then(|r| r.evidence()) {
            hit = hit.at(e, None, format!("{n} is installed as a module"));
        }
    }
    hit
}

fn rec_mode(i: &Inputs) -> Outcome {
    if let Err(o) = need_guest(i) {
        return o;
    }
    let d = decide(i);
    let mut hits = Vec::new();
    match d.mode {
        None => {
            return Outcome::NotEvaluated(
                "no launch mode can boot the image as it is (see IMP-INITRAMFS and IMP-BOOT)"
                    .into(),
            );
        }
        Some(LaunchMode::Emulated) => hits.push(
            Hit::new(
                "The image can only run in emulated mode: IDE disk and e1000 NIC, 1 Gbps on any shape, no AMD or Arm shapes",
                "Install a kernel ≥ 3.4 with virtio_pci, virtio_scsi, virtio_blk and virtio_net and put them in its initramfs, then import in PARAVIRTUALIZED mode",
            )
            .at("launch mode", None, format!("PARAVIRTUALIZED: {}", d.pv.why)),
        ),
        _ => {}
    }
    // An .oci archive states its mode in image_metadata.json.
    if let Some(meta) = i
        .image
        .archive
        .as_ref()
        .and_then(|a| a.oci_metadata.as_ref())
        && let Some(declared) = meta.launch_options_source.as_deref()
        && (d.pv.possible || !d.initramfs_fix.is_empty())
        && declared != "PARAVIRTUALIZED"
    {
        hits.push(
            Hit::new(
                format!("image_metadata.json launches the image in {declared} mode, but it can run paravirtualized"),
                "Set launchOptionsSource, bootVolumeType, networkType, remoteDataVolumeType and localDataVolumeType to PARAVIRTUALIZED in image_metadata.json (the decision's artifacts have one ready), then pack the archive again",
            )
            .at(
                format!("{}: image_metadata.json", i.image.name),
                None,
                format!("externalLaunchOptions.launchOptionsSource = {declared}"),
            ),
        );
    }
    outcome(hits)
}

fn g01(i: &Inputs) -> Outcome {
    if let Err(o) = need_guest(i) {
        return o;
    }
    let rec = recommend(i);
    if rec.shapes.is_empty() {
        return Outcome::NotEvaluated(
            "the architecture or the launch mode is undecided, so no shape can be judged".into(),
        );
    }
    let mut hits = Vec::new();
    let declared = i
        .image
        .archive
        .as_ref()
        .and_then(|a| a.oci_metadata.as_ref())
        .map(|m| m.shapes.clone())
        .unwrap_or_default();
    if !declared.is_empty() {
        for name in &declared {
            match rec.shapes.iter().find(|s| &s.shape == name) {
                Some(s) if !s.fits => hits.push(
                    Hit::new(
                        format!("image_metadata.json marks {name} compatible, but the image cannot run on it"),
                        format!("Remove {name} from additionalMetadata.shapeCompatibilities in image_metadata.json (or fix what excludes it), then pack the archive again"),
                    )
                    .at(format!("{}: image_metadata.json", i.image.name), None, format!("{name}: {}", s.why)),
                ),
                Some(_) => {}
                None => hits.push(
                    Hit::new(
                        format!("image_metadata.json marks {name} compatible; that shape is not in Preflight's shape table"),
                        format!("Check {name} against the OCI shape documentation (the table is dated {})", rec.shapes_as_of.clone().unwrap_or_default()),
                    )
                    .at(format!("{}: image_metadata.json", i.image.name), None, name.clone())
                    .level(Level::Info),
                ),
            }
        }
        return outcome(hits);
    }
    // No list to check: warn about shapes of the image's architecture that it lacks drivers
    // for, so they are not marked compatible in the listing.
    let lacking: Vec<&preflight_report::ShapeFit> = rec
        .shapes
        .iter()
        .filter(|s| !s.fits && s.why.contains("driver") && !s.why.contains("the image is"))
        .collect();
    if !lacking.is_empty() {
        let names: Vec<&str> = lacking.iter().map(|s| s.shape.as_str()).collect();
        let mut hit = Hit::new(
            format!("Do not mark {} compatible: the image lacks their drivers", names.join(", ")),
            "Install the missing driver (for DenseIO shapes the nvme module, which every distribution kernel ships) or leave these shapes out of the listing's compatible shapes",
        )
        .level(Level::Warning);
        for s in lacking {
            hit = hit.at("shape table", None, format!("{}: {}", s.shape, s.why));
        }
        hits.push(hit);
    }
    outcome(hits)
}
