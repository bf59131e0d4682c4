//! What the publisher runs or uploads to apply the launch decision
//! (launch-modes-and-shapes.md, "Image capability schema" and "The `.oci` archive"): the image
//! capability schema document, the `oci` CLI commands that import the image, apply the schema
//! and add shape compatibility, and an `image_metadata.json` for packing an `.oci` archive.
//!
//! Commands use shell variables for what only the publisher knows (`$NAMESPACE`, `$BUCKET`,
//! `$COMPARTMENT_OCID`, `$IMAGE_OCID`, `$GLOBAL_SCHEMA_VERSION`), so they can be pasted into
//! a script as they are.

use preflight_report::{Artifacts, ShapeFit};
use serde_json::{Value, json};

use crate::Inputs;
use crate::mode::{boot_volume_type, network_type};
use crate::shapes::{Firmware, LaunchMode};

/// The artifacts for importing this image in `mode` with `firmware` (first = default), and
/// making it compatible with the fitting VM shapes.
pub(crate) fn build(
    i: &Inputs,
    mode: LaunchMode,
    firmware: &[Firmware],
    shapes: &[ShapeFit],
) -> Artifacts {
    let schema = capability_schema(mode, firmware);
    let fitting: Vec<&ShapeFit> = shapes.iter().filter(|s| s.fits && s.kind == "VM").collect();
    Artifacts {
        capability_schema: schema,
        import_command: import_command(i, mode),
        schema_command: "oci compute image-capability-schema create \\\n  --compartment-id \"$COMPARTMENT_OCID\" \\\n  --image-id \"$IMAGE_OCID\" \\\n  --global-image-capability-schema-version-name \"$GLOBAL_SCHEMA_VERSION\" \\\n  --schema-data file://schema.json".to_string(),
        shape_commands: fitting
            .iter()
            .map(|s| {
                format!(
                    "oci compute image-shape-compatibility-entry add --image-id \"$IMAGE_OCID\" --shape-name {}",
                    s.shape
                )
            })
            .collect(),
        image_metadata: image_metadata(i, mode, firmware, &fitting),
    }
}

/// `{"Compute.Firmware": {…}, "Compute.LaunchMode": {…}, …}` with only this image's values:
/// an image schema may use a subset of the global schema's values.
pub(crate) fn capability_schema(mode: LaunchMode, firmware: &[Firmware]) -> Value {
    let enumstring = |values: Vec<&str>| {
        json!({
            "descriptorType": "enumstring",
            "source": "IMAGE",
            "defaultValue": values.first().copied().unwrap_or_default(),
            "values": values,
        })
    };
    let volume = boot_volume_type(mode);
    // An image that boots from an IDE or iSCSI volume still attaches its data volumes as
    // iSCSI or paravirtualized; only the boot volume and the NIC follow the mode.
    let data_volumes = match mode {
        LaunchMode::Emulated => vec!["ISCSI"],
        LaunchMode::Native => vec!["ISCSI", "PARAVIRTUALIZED"],
        _ => vec!["PARAVIRTUALIZED", "ISCSI"],
    };
    json!({
        "Compute.Firmware": enumstring(firmware.iter().map(|f| f.as_str()).collect()),
        "Compute.LaunchMode": enumstring(vec![mode.as_str()]),
        "Network.AttachmentType": enumstring(vec![network_type(mode)]),
        "Storage.BootVolumeType": enumstring(vec![volume]),
        "Storage.RemoteDataVolumeType": enumstring(data_volumes),
        "Compute.SecureBoot": {
            "descriptorType": "boolean",
            "source": "IMAGE",
            "defaultValue": false,
        },
    })
}

/// `oci compute image import from-object` for the file as the publisher will upload it.
fn import_command(i: &Inputs, mode: LaunchMode) -> String {
    let name = &i.image.name;
    let (object, source_type, before) = match (&i.image.archive, i.image.format.as_str()) {
        (Some(a), _) if a.kind == "oci" => (name.clone(), None, None),
        (Some(_), _) => {
            // OVA: upload the VMDK inside it.
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let vmdk = format!("{stem}.vmdk");
            (
                vmdk.clone(),
                Some("VMDK"),
                Some(format!(
                    "# extract the disk from the OVA first: tar -xf {name} (upload its .vmdk as {vmdk})"
                )),
            )
        }
        (None, "qcow2") => (name.clone(), Some("QCOW2"), None),
        (None, "vmdk")
            if matches!(
                i.image.subformat.as_deref(),
                Some("streamOptimized" | "monolithicSparse")
            ) =>
        {
            (name.clone(), Some("VMDK"), None)
        }
        (None, _) => {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let qcow2 = format!("{stem}.qcow2");
            (
                qcow2.clone(),
                Some("QCOW2"),
                Some(format!(
                    "# OCI imports QCOW2 or VMDK: convert first (IMP-FORMAT): qemu-img convert -p -O qcow2 {name} {qcow2}"
                )),
            )
        }
    };
    let mut lines = Vec::new();
    if let Some(b) = before {
        lines.push(b);
    }
    let mut cmd = format!(
        "oci compute image import from-object \\\n  --compartment-id \"$COMPARTMENT_OCID\" \\\n  --namespace \"$NAMESPACE\" \\\n  --bucket-name \"$BUCKET\" \\\n  --name {} \\\n  --display-name {}",
        shell_word(&object),
        shell_word(&display_name(&object))
    );
    match source_type {
        Some(t) => cmd.push_str(&format!(
            " \\\n  --source-image-type {t} \\\n  --launch-mode {}",
            mode.as_str()
        )),
        // An .oci archive carries its launch options in image_metadata.json.
        None => lines.push(
            "# an .oci archive carries its launch options and shapes in image_metadata.json".into(),
        ),
    }
    lines.push(cmd);
    lines.join("\n")
}

/// The object name without its extension, as a display name.
fn display_name(object: &str) -> String {
    object
        .rsplit_once('.')
        .map_or(object, |(s, _)| s)
        .to_string()
}

/// Quote a word for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,/:@%+=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The operating system as OCI names it in image metadata.
fn os_name(i: &Inputs) -> (Value, Value) {
    let Ok(g) = &i.guest else {
        return (Value::Null, Value::Null);
    };
    let Some(os) = &g.os else {
        return (Value::Null, Value::Null);
    };
    let name = match os.id.as_str() {
        "ol" => "Oracle Linux".to_string(),
        "ubuntu" => "Canonical Ubuntu".to_string(),
        "centos" => "CentOS".to_string(),
        "rhel" => "Red Hat Enterprise Linux".to_string(),
        "debian" => "Debian".to_string(),
        "sles" | "sled" => "SUSE Linux Enterprise Server".to_string(),
        "rocky" => "Rocky Linux".to_string(),
        "almalinux" => "AlmaLinux".to_string(),
        _ => os.name.clone().unwrap_or_else(|| os.id.clone()),
    };
    (
        Value::String(name),
        os.version_id
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    )
}

/// `image_metadata.json` as OCI's export writes it (version 2).
fn image_metadata(
    i: &Inputs,
    mode: LaunchMode,
    firmware: &[Firmware],
    fitting: &[&ShapeFit],
) -> Value {
    let (os, os_version) = os_name(i);
    let volume = boot_volume_type(mode);
    let data = if mode == LaunchMode::Emulated {
        "ISCSI"
    } else {
        "PARAVIRTUALIZED"
    };
    json!({
        "version": 2,
        "externalLaunchOptions": {
            "firmware": firmware.first().map_or("BIOS", |f| f.as_str()),
            "networkType": network_type(mode),
            "bootVolumeType": volume,
            "remoteDataVolumeType": data,
            "localDataVolumeType": data,
            "launchOptionsSource": mode.as_str(),
            "pvAttachmentVersion": 2,
            "pvEncryptionInTransitEnabled": mode == LaunchMode::Paravirtualized,
            "consistentVolumeNamingEnabled": true,
        },
        "imageCapabilityData": Value::Null,
        "imageCapsFormatVersion": Value::Null,
        "operatingSystem": os,
        "operatingSystemVersion": os_version,
        "additionalMetadata": {
            "shapeCompatibilities": fitting.iter().map(|s| json!({
                "internalShapeName": s.shape,
                "ocpuConstraints": Value::Null,
                "memoryConstraints": Value::Null,
            })).collect::<Vec<_>>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::validate_capabilities;

    #[test]
    fn every_schema_we_emit_validates_against_the_global_schema() {
        let firmwares: [&[Firmware]; 3] = [
            &[Firmware::Bios],
            &[Firmware::Uefi64],
            &[Firmware::Bios, Firmware::Uefi64],
        ];
        for mode in [
            LaunchMode::Paravirtualized,
            LaunchMode::Emulated,
            LaunchMode::Native,
        ] {
            for fw in firmwares {
                let schema = capability_schema(mode, fw);
                assert_eq!(validate_capabilities(&schema), Ok(()), "{mode:?} {fw:?}");
                assert_eq!(
                    schema["Compute.Firmware"]["defaultValue"],
                    fw[0].as_str(),
                    "the first firmware is the default"
                );
            }
        }
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("disk.qcow2"), "disk.qcow2");
        assert_eq!(shell_word("my disk's.qcow2"), "'my disk'\\''s.qcow2'");
        assert_eq!(shell_word(""), "''");
    }
}
