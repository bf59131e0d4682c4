//! The launch-decision card's words, file names and files, kept apart from the DOM so they are
//! tested natively (the card itself is `decision_view.rs`).

use preflight_report::{Artifacts, Recommendation, ShapeFit};

/// What the guest sees in a launch mode, in one line.
pub fn mode_meaning(mode: &str) -> &'static str {
    match mode {
        "PARAVIRTUALIZED" => {
            "virtio disk (virtio-scsi) and virtio-net NIC: the fast mode OCI recommends for imported images"
        }
        "EMULATED" => {
            "IDE disk and an emulated Intel e1000 NIC, capped at 1 Gbps; Intel shapes only"
        }
        "NATIVE" => "SR-IOV NIC and iSCSI boot volume, as OCI's own platform images boot",
        "CUSTOM" => "the devices are set one by one in the capability schema",
        _ => "a launch mode this page does not describe",
    }
}

/// What a firmware value means for this disk.
pub fn firmware_meaning(firmware: &str) -> &'static str {
    match firmware {
        "BIOS" => "legacy BIOS: boots through the MBR",
        "UEFI_64" => "64-bit UEFI: boots a loader from the EFI system partition",
        _ => "",
    }
}

/// The device behind a `Network.AttachmentType` value.
pub fn network_meaning(value: &str) -> &'static str {
    match value {
        "PARAVIRTUALIZED" => "virtio-net",
        "E1000" => "emulated Intel e1000, 1 Gbps",
        "VFIO" => "SR-IOV virtual function",
        _ => "",
    }
}

/// The device behind a `Storage.BootVolumeType` value.
pub fn volume_meaning(value: &str) -> &'static str {
    match value {
        "PARAVIRTUALIZED" => "virtio-scsi",
        "IDE" => "emulated IDE",
        "SCSI" => "emulated SCSI",
        "ISCSI" => "iSCSI",
        _ => "",
    }
}

/// `value (meaning)`, or the bare value when there is no meaning to add.
pub fn with_meaning(value: &str, meaning: &str) -> String {
    if meaning.is_empty() {
        value.to_string()
    } else {
        format!("{value} ({meaning})")
    }
}

/// How a driver's reachability at boot is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Badge {
    /// The words on the badge.
    pub text: &'static str,
    /// Its CSS class (`ok`, `warn`, `bad`, `unknown`), which sets the colour.
    pub class: &'static str,
}

/// A `DriverReach.status` → its badge. Anything the page does not know is "unknown".
pub fn driver_badge(status: &str) -> Badge {
    let (text, class) = match status {
        "builtin" => ("built in", "ok"),
        "initramfs" => ("in initramfs", "ok"),
        "installed" => ("installed, NOT in initramfs", "warn"),
        "absent" => ("absent", "bad"),
        _ => ("unknown", "unknown"),
    };
    Badge { text, class }
}

/// A chain step's or a mode's mark: the symbol and the words a screen reader says.
pub fn mark(ok: bool) -> (&'static str, &'static str) {
    if ok { ("✓", "ok") } else { ("✗", "broken") }
}

/// The shapes, those this image fits first, each group in the table's order.
pub fn shapes_fitting_first(shapes: &[ShapeFit]) -> Vec<&ShapeFit> {
    let mut sorted: Vec<&ShapeFit> = shapes.iter().collect();
    // A stable sort keeps the shape table's own order within each group.
    sorted.sort_by_key(|s| !s.fits);
    sorted
}

/// "7 of 12 shapes fit this image".
pub fn shapes_summary(shapes: &[ShapeFit]) -> String {
    let fit = shapes.iter().filter(|s| s.fits).count();
    let total = shapes.len();
    match (fit, total) {
        (_, 1) => format!("{fit} of 1 shape fits this image"),
        (1, _) => format!("1 of {total} shapes fits this image"),
        _ => format!("{fit} of {total} shapes fit this image"),
    }
}

/// "VM" → "virtual machine", "BM" → "bare metal", for the title of a kind cell.
pub fn kind_title(kind: &str) -> &'static str {
    match kind {
        "VM" => "virtual machine",
        "BM" => "bare metal",
        _ => "",
    }
}

/// Whether the report carries more than the mode, firmware and reasons (a report of a core
/// that fills the evidence chain, drivers, modes or shapes).
pub fn has_evidence(rec: &Recommendation) -> bool {
    !rec.chain.is_empty() || !rec.drivers.is_empty() || !rec.modes.is_empty()
}

/// The shape-compatibility commands, one after the other.
pub fn shape_commands_text(artifacts: &Artifacts) -> String {
    artifacts.shape_commands.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str, fits: bool) -> ShapeFit {
        ShapeFit {
            shape: name.into(),
            processor: "AMD".into(),
            kind: "VM".into(),
            fits,
            why: String::new(),
        }
    }

    #[test]
    fn driver_badges() {
        let check = |status: &str, text: &'static str, class: &'static str| {
            assert_eq!(driver_badge(status), Badge { text, class }, "{status}");
        };
        check("builtin", "built in", "ok");
        check("initramfs", "in initramfs", "ok");
        check("installed", "installed, NOT in initramfs", "warn");
        check("absent", "absent", "bad");
        check("unknown", "unknown", "unknown");
        check("", "unknown", "unknown");
        check("something-new", "unknown", "unknown");
    }

    #[test]
    fn words() {
        assert!(mode_meaning("PARAVIRTUALIZED").starts_with("virtio disk"));
        assert!(mode_meaning("EMULATED").contains("1 Gbps"));
        assert!(mode_meaning("NATIVE").contains("SR-IOV"));
        assert!(mode_meaning("NATIVE").contains("iSCSI"));
        assert_eq!(
            with_meaning("E1000", network_meaning("E1000")),
            "E1000 (emulated Intel e1000, 1 Gbps)"
        );
        assert_eq!(with_meaning("X", network_meaning("X")), "X");
        assert_eq!(volume_meaning("PARAVIRTUALIZED"), "virtio-scsi");
        assert!(!firmware_meaning("UEFI_64").is_empty());
        assert_eq!(mark(true), ("✓", "ok"));
        assert_eq!(mark(false), ("✗", "broken"));
        assert_eq!(kind_title("BM"), "bare metal");
    }

    #[test]
    fn shapes_fitting_first_keeps_the_table_order() {
        let shapes = [
            shape("a", false),
            shape("b", true),
            shape("c", false),
            shape("d", true),
        ];
        let names: Vec<&str> = shapes_fitting_first(&shapes)
            .iter()
            .map(|s| s.shape.as_str())
            .collect();
        assert_eq!(names, ["b", "d", "a", "c"]);
        assert_eq!(shapes_summary(&shapes), "2 of 4 shapes fit this image");
        assert_eq!(
            shapes_summary(&shapes[..3]),
            "1 of 3 shapes fits this image"
        );
        assert_eq!(
            shapes_summary(&shapes[1..2]),
            "1 of 1 shape fits this image"
        );
    }
}
