//! `image_metadata.json` of an `.oci` export (fields: launch-modes-and-shapes.md, "The `.oci`
//! archive"; the Console's export writes them, oci-cli issue 869 shows one). Exports of
//! different ages differ, so every field is optional and unknown fields are ignored; numbers
//! and strings are both accepted where exports disagree (`version`, `pvAttachmentVersion`).

use serde_json::Value;

use crate::info::OciMetadata;

/// The member is capped: real ones are a few KiB.
pub const MAX_METADATA: u64 = 1 << 20;

/// A string, or a number/bool written as text; None for null, absent, objects and arrays.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Parses the metadata; Err is a sentence for `ArchiveInfo.problems`.
pub fn parse(bytes: &[u8], member: &str) -> Result<OciMetadata, String> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!("{member} is not valid JSON ({e}); its launch options could not be read.")
    })?;
    let Value::Object(_) = root else {
        return Err(format!(
            "{member} is not a JSON object; its launch options could not be read."
        ));
    };
    let launch = root.get("externalLaunchOptions");
    let opt = |k: &str| launch.and_then(|l| l.get(k));
    let image_capability_data = match root.get("imageCapabilityData") {
        None | Some(Value::Null) => None,
        // Some exports carry the capabilities as a JSON document inside a string.
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Null) => None,
            Ok(v) => Some(v.to_string()),
            Err(_) => Some(s.clone()),
        },
        Some(v) => Some(v.to_string()),
    };
    let shapes = root
        .get("additionalMetadata")
        .and_then(|a| a.get("shapeCompatibilities"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| scalar(s.get("internalShapeName")))
                .collect()
        })
        .unwrap_or_default();
    Ok(OciMetadata {
        version: scalar(root.get("version")),
        firmware: scalar(opt("firmware")),
        network_type: scalar(opt("networkType")),
        boot_volume_type: scalar(opt("bootVolumeType")),
        remote_data_volume_type: scalar(opt("remoteDataVolumeType")),
        local_data_volume_type: scalar(opt("localDataVolumeType")),
        launch_options_source: scalar(opt("launchOptionsSource")),
        pv_attachment_version: scalar(opt("pvAttachmentVersion")),
        pv_encryption_in_transit_enabled: boolean(opt("pvEncryptionInTransitEnabled")),
        consistent_volume_naming_enabled: boolean(opt("consistentVolumeNamingEnabled")),
        image_capability_data,
        image_caps_format_version: scalar(root.get("imageCapsFormatVersion")),
        operating_system: scalar(root.get("operatingSystem")),
        operating_system_version: scalar(root.get("operatingSystemVersion")),
        shapes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_numbers_strings_and_capability_forms() {
        let m = parse(
            br#"{"version": "3", "externalLaunchOptions": {"firmware": "UEFI_64",
                "pvAttachmentVersion": "2", "pvEncryptionInTransitEnabled": false, "x": 1},
                "imageCapabilityData": "{\"a\": {\"b\": 1}}", "unknown": [1]}"#,
            "m",
        )
        .unwrap();
        assert_eq!(m.version.as_deref(), Some("3"));
        assert_eq!(m.firmware.as_deref(), Some("UEFI_64"));
        assert_eq!(m.pv_attachment_version.as_deref(), Some("2"));
        assert_eq!(m.pv_encryption_in_transit_enabled, Some(false));
        assert_eq!(m.image_capability_data.as_deref(), Some(r#"{"a":{"b":1}}"#));
        assert_eq!(m.network_type, None);
        let m = parse(br#"{"imageCapabilityData": {"z": [1, 2]}}"#, "m").unwrap();
        assert_eq!(m.image_capability_data.as_deref(), Some(r#"{"z":[1,2]}"#));
        assert_eq!(parse(b"{}", "m").unwrap(), OciMetadata::default());
        let e = parse(b"{nope", "image_metadata.json").unwrap_err();
        assert!(
            e.starts_with("image_metadata.json is not valid JSON"),
            "{e}"
        );
        assert!(
            parse(b"[1]", "m")
                .unwrap_err()
                .contains("not a JSON object")
        );
    }
}
