//! The OCI shape table and the global image capability schema, kept as data
//! (`data/shapes.json`, `data/capability_schema.json`, each with its sources and an `as_of`
//! date; shared/DESIGN.md "Data as data") and embedded at build time.
//!
//! [`compatible_shapes`] says for every shape whether an image with a given architecture,
//! firmware and launch mode can run on it, and why not (launch-modes-and-shapes.md, "Decision"
//! step 6). [`validate_capabilities`] checks a capability schema document (what
//! `oci compute image-capability-schema create --schema-data` takes, or `.oci` metadata's
//! `imageCapabilityData`) against the global schema's keys and values.

use preflight_facts::arch::Arch;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SHAPES_JSON: &str = include_str!("../data/shapes.json");
const SCHEMA_JSON: &str = include_str!("../data/capability_schema.json");

/// CPU architecture of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "aarch64")]
    Aarch64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Aarch64 => "aarch64",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Processor {
    Intel,
    #[serde(rename = "AMD")]
    Amd,
    Ampere,
}

impl Processor {
    pub fn as_str(self) -> &'static str {
        match self {
            Processor::Intel => "Intel",
            Processor::Amd => "AMD",
            Processor::Ampere => "Ampere",
        }
    }
}

/// Virtual machine or bare metal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ShapeKind {
    #[serde(rename = "VM")]
    Vm,
    #[serde(rename = "BM")]
    Bm,
}

/// The series a shape belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeFamily {
    Standard,
    Optimized,
    DenseIo,
    Gpu,
}

/// `Compute.Firmware` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Firmware {
    #[serde(rename = "BIOS")]
    Bios,
    #[serde(rename = "UEFI_64")]
    Uefi64,
}

impl Firmware {
    pub fn as_str(self) -> &'static str {
        match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi64 => "UEFI_64",
        }
    }

    /// From the schema's spelling ("BIOS", "UEFI_64"), as `recommend` reports it.
    pub fn parse(s: &str) -> Option<Firmware> {
        match s {
            "BIOS" => Some(Firmware::Bios),
            "UEFI_64" => Some(Firmware::Uefi64),
            _ => None,
        }
    }
}

/// `Compute.LaunchMode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchMode {
    Native,
    Emulated,
    Paravirtualized,
    /// Explicit launch options; compatibility is judged as for PARAVIRTUALIZED.
    Custom,
}

impl LaunchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchMode::Native => "NATIVE",
            LaunchMode::Emulated => "EMULATED",
            LaunchMode::Paravirtualized => "PARAVIRTUALIZED",
            LaunchMode::Custom => "CUSTOM",
        }
    }

    pub fn parse(s: &str) -> Option<LaunchMode> {
        Some(match s {
            "NATIVE" => LaunchMode::Native,
            "EMULATED" => LaunchMode::Emulated,
            "PARAVIRTUALIZED" => LaunchMode::Paravirtualized,
            "CUSTOM" => LaunchMode::Custom,
            _ => return None,
        })
    }
}

/// What a shape needs from the image beyond architecture, firmware and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The `nvme` driver (local NVMe drives of DenseIO shapes).
    Nvme,
    /// The GPU vendor's driver (not checked offline).
    GpuDriver,
}

/// One shape of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub name: String,
    pub family: ShapeFamily,
    pub architecture: Architecture,
    pub processor: Processor,
    pub processor_model: String,
    pub kind: ShapeKind,
    /// Firmware the shape boots.
    pub firmware: Vec<Firmware>,
    /// Launch modes an image may use on this shape (NATIVE only for images built from OCI
    /// platform images).
    pub launch_modes: Vec<LaunchMode>,
    pub needs: Vec<Need>,
    pub notes: Vec<String>,
    pub source: String,
}

/// `data/shapes.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeTable {
    pub about: String,
    /// When the table was last checked against its sources (YYYY-MM-DD).
    pub as_of: String,
    pub source: Vec<String>,
    /// The general rules the table encodes, as sentences for the report.
    pub rules: Vec<String>,
    pub shapes: Vec<Shape>,
}

/// The kind of a capability descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DescriptorType {
    Enumstring,
    Enuminteger,
    Boolean,
}

impl DescriptorType {
    pub fn as_str(self) -> &'static str {
        match self {
            DescriptorType::Enumstring => "enumstring",
            DescriptorType::Enuminteger => "enuminteger",
            DescriptorType::Boolean => "boolean",
        }
    }
}

/// One key of the global schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapabilityKey {
    pub descriptor_type: DescriptorType,
    /// Allowed values (enum types); empty for booleans.
    #[serde(default)]
    pub values: Vec<Value>,
    pub default_value: Value,
    /// `Some(false)`: custom images may not set this boolean to true (Compute.SecureBoot).
    #[serde(default, rename = "custom_images_allow_true")]
    pub custom_images_allow_true: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `data/capability_schema.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySchema {
    pub about: String,
    pub as_of: String,
    /// When Oracle's page documented these values.
    pub documented: String,
    pub source: Vec<String>,
    /// Fields a descriptor may have.
    pub descriptor_fields: Vec<String>,
    /// Values of a descriptor's `source`.
    pub descriptor_sources: Vec<String>,
    pub keys: BTreeMap<String, CapabilityKey>,
}

/// The embedded shape table, parsed once. The data is part of the build and a unit test
/// parses it, so a parse failure here is a build defect.
pub fn shape_table() -> &'static ShapeTable {
    static TABLE: OnceLock<ShapeTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(SHAPES_JSON).expect("crates/rules/data/shapes.json is invalid")
    })
}

/// Every shape of the table, in table order.
pub fn shapes() -> &'static [Shape] {
    &shape_table().shapes
}

/// The embedded global image capability schema, parsed once.
pub fn capability_schema() -> &'static CapabilitySchema {
    static SCHEMA: OnceLock<CapabilitySchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(SCHEMA_JSON)
            .expect("crates/rules/data/capability_schema.json is invalid")
    })
}

/// Whether an image fits a shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub fits: bool,
    /// Not fitting: every reason, "; "-separated. Fitting: what is still assumed or left to
    /// do (a GPU driver not checked, a compatibility entry to add), or empty.
    pub why: String,
}

/// Every shape with whether an image of architecture `arch`, bootable with `firmware` (what
/// the disk can boot; empty = unknown, not held against any shape) in launch `mode`, fits it.
/// `has_nvme_driver`: the default kernel has `nvme` (built in or as a module).
pub fn compatible_shapes(
    arch: Arch,
    firmware: &[Firmware],
    mode: LaunchMode,
    has_nvme_driver: bool,
) -> Vec<(&'static Shape, Fit)> {
    let image_arch = match arch {
        Arch::X86_64 => Some(Architecture::X86_64),
        Arch::Aarch64 => Some(Architecture::Aarch64),
        _ => None,
    };
    shapes()
        .iter()
        .map(|s| {
            let mut no = Vec::new();
            let mut caveats = Vec::new();
            match image_arch {
                None => no.push(format!(
                    "{} image: OCI shapes are x86_64 or aarch64 ({} here)",
                    arch_name(arch),
                    s.architecture.as_str()
                )),
                Some(a) if a != s.architecture => no.push(format!(
                    "the image is {}, the shape is {} ({})",
                    a.as_str(),
                    s.architecture.as_str(),
                    s.processor.as_str()
                )),
                Some(_) => {}
            }
            if !firmware.is_empty() && !firmware.iter().any(|f| s.firmware.contains(f)) {
                no.push(format!(
                    "the image boots with {}, the shape offers {}",
                    join(firmware.iter().map(|f| f.as_str())),
                    join(s.firmware.iter().map(|f| f.as_str()))
                ));
            }
            let effective = if mode == LaunchMode::Custom {
                LaunchMode::Paravirtualized
            } else {
                mode
            };
            if !s.launch_modes.contains(&effective) {
                let detail = match (effective, s.kind, s.processor) {
                    (LaunchMode::Emulated, ShapeKind::Vm, Processor::Amd | Processor::Ampere) => {
                        format!(
                            "EMULATED mode is not available on {} shapes",
                            s.processor.as_str()
                        )
                    }
                    (_, ShapeKind::Bm, _) => {
                        "bare metal runs only NATIVE images built from an OCI platform image (BYOI is not supported on bare metal)".to_string()
                    }
                    _ => format!(
                        "{} mode is not available (the shape offers {})",
                        mode.as_str(),
                        join(s.launch_modes.iter().map(|m| m.as_str()))
                    ),
                };
                no.push(detail);
            } else if mode == LaunchMode::Custom {
                caveats.push("CUSTOM launch options judged as PARAVIRTUALIZED".to_string());
            }
            for need in &s.needs {
                match need {
                    Need::Nvme if !has_nvme_driver => {
                        no.push("the shape's local NVMe drives need the nvme driver, which the kernel lacks".into())
                    }
                    Need::Nvme => {}
                    Need::GpuDriver => caveats
                        .push("the GPU vendor's driver must be installed (not checked)".into()),
                }
            }
            if no.is_empty() && s.architecture == Architecture::Aarch64 && s.kind == ShapeKind::Vm {
                caveats.push(format!(
                    "imported Arm images are not compatible automatically: add the {} compatibility entry",
                    s.name
                ));
            }
            let fit = if no.is_empty() {
                Fit {
                    fits: true,
                    why: caveats.join("; "),
                }
            } else {
                Fit {
                    fits: false,
                    why: no.join("; "),
                }
            };
            (s, fit)
        })
        .collect()
}

fn arch_name(a: Arch) -> String {
    match a {
        Arch::X86_64 => "x86_64".into(),
        Arch::Aarch64 => "aarch64".into(),
        Arch::I386 => "32-bit x86 (i386)".into(),
        Arch::Arm => "32-bit Arm".into(),
        Arch::Other { machine } => format!("ELF machine {machine}"),
    }
}

fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Check a capability schema document (`{"Compute.Firmware": {"descriptorType": "enumstring",
/// "source": "IMAGE", "values": [...], "defaultValue": "..."}, …}`, or the same JSON encoded
/// as a string, as `.oci` metadata may hold it) against the global schema: known keys only,
/// descriptors with known fields, the key's descriptor type, values and default among the
/// allowed ones (an image may use a subset), the default among its own values, and no Secure
/// Boot for custom images. `Err` lists every problem.
pub fn validate_capabilities(json: &Value) -> Result<(), Vec<String>> {
    let parsed;
    let json = match json {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| vec![format!("capability data is a string but not JSON: {e}")])?;
            &parsed
        }
        j => j,
    };
    let Value::Object(doc) = json else {
        return Err(vec![format!(
            "capability data must be a JSON object of keys, not {}",
            kind(json)
        )]);
    };
    let schema = capability_schema();
    let mut errors = Vec::new();
    for (key, desc) in doc {
        let Some(spec) = schema.keys.get(key) else {
            errors.push(format!(
                "{key}: not a key of the global image capability schema"
            ));
            continue;
        };
        let Value::Object(desc) = desc else {
            errors.push(format!(
                "{key}: the descriptor must be an object, not {}",
                kind(desc)
            ));
            continue;
        };
        for field in desc.keys() {
            if !schema.descriptor_fields.iter().any(|f| f == field) {
                errors.push(format!("{key}: unknown descriptor field {field:?}"));
            }
        }
        let want = spec.descriptor_type.as_str();
        match desc.get("descriptorType") {
            Some(Value::String(t)) if t == want => {}
            Some(t) => errors.push(format!("{key}: descriptorType {t} (must be {want:?})")),
            None => errors.push(format!("{key}: no descriptorType (must be {want:?})")),
        }
        match desc.get("source") {
            None => {}
            Some(Value::String(s)) if schema.descriptor_sources.iter().any(|x| x == s) => {}
            Some(s) => errors.push(format!(
                "{key}: source {s} (must be one of {})",
                schema.descriptor_sources.join(", ")
            )),
        }
        let allowed = |v: &Value| match spec.descriptor_type {
            DescriptorType::Boolean => v.is_boolean(),
            DescriptorType::Enumstring | DescriptorType::Enuminteger => spec.values.contains(v),
        };
        let allowed_list = || {
            if spec.descriptor_type == DescriptorType::Boolean {
                "true or false".to_string()
            } else {
                spec.values
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let own: Option<&Vec<Value>> = match desc.get("values") {
            None => None,
            Some(Value::Array(vs)) if spec.descriptor_type != DescriptorType::Boolean => {
                if vs.is_empty() {
                    errors.push(format!("{key}: empty values list"));
                }
                for v in vs {
                    if !allowed(v) {
                        errors.push(format!(
                            "{key}: value {v} is not allowed (allowed: {})",
                            allowed_list()
                        ));
                    }
                }
                Some(vs)
            }
            Some(v) if spec.descriptor_type == DescriptorType::Boolean => {
                errors.push(format!("{key}: a boolean descriptor has no values ({v})"));
                None
            }
            Some(v) => {
                errors.push(format!("{key}: values must be a list, not {}", kind(v)));
                None
            }
        };
        if let Some(d) = desc.get("defaultValue") {
            if !allowed(d) {
                errors.push(format!(
                    "{key}: defaultValue {d} is not allowed (allowed: {})",
                    allowed_list()
                ));
            } else if let Some(vs) = own
                && !vs.contains(d)
            {
                errors.push(format!(
                    "{key}: defaultValue {d} is not among the descriptor's own values"
                ));
            }
            if spec.custom_images_allow_true == Some(false) && d == &Value::Bool(true) {
                errors.push(format!(
                    "{key}: true is not supported for custom images{}",
                    spec.note
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fitting(arch: Arch, fw: &[Firmware], mode: LaunchMode, nvme: bool) -> Vec<&'static str> {
        compatible_shapes(arch, fw, mode, nvme)
            .into_iter()
            .filter(|(_, f)| f.fits)
            .map(|(s, _)| s.name.as_str())
            .collect()
    }

    #[test]
    fn data_parses_with_source_and_date() {
        let t = shape_table();
        assert_eq!(t.as_of, "2026-11-26");
        assert!(t.source.iter().any(|s| s.ends_with("computeshapes.htm")));
        assert!(t.shapes.len() >= 10);
        let s = capability_schema();
        assert_eq!(s.as_of, "2026-11-26");
        assert!(s.source[0].ends_with("configuringimagecapabilities.htm"));
        assert_eq!(s.keys.len(), 12);
        // Every key's default is one of its values.
        for (k, spec) in &s.keys {
            match spec.descriptor_type {
                DescriptorType::Boolean => assert!(spec.default_value.is_boolean(), "{k}"),
                _ => assert!(spec.values.contains(&spec.default_value), "{k}"),
            }
        }
    }

    #[test]
    fn every_shape_is_source_backed_and_consistent() {
        let mut names = std::collections::BTreeSet::new();
        for s in shapes() {
            assert!(names.insert(&s.name), "duplicate {}", s.name);
            assert!(
                s.source.starts_with("https://docs.oracle.com/"),
                "{}",
                s.name
            );
            // Architecture agrees with the processor vendor.
            let want = match s.processor {
                Processor::Ampere => Architecture::Aarch64,
                Processor::Intel | Processor::Amd => Architecture::X86_64,
            };
            assert_eq!(s.architecture, want, "{}", s.name);
            assert_eq!(
                s.name.starts_with("BM."),
                s.kind == ShapeKind::Bm,
                "{}",
                s.name
            );
            assert!(
                !s.firmware.is_empty() && !s.launch_modes.is_empty(),
                "{}",
                s.name
            );
            if s.architecture == Architecture::Aarch64 {
                assert_eq!(s.firmware, [Firmware::Uefi64], "{}", s.name);
            }
            // EMULATED only on Intel VMs; PARAVIRTUALIZED on every VM; bare metal NATIVE.
            assert_eq!(
                s.launch_modes.contains(&LaunchMode::Emulated),
                s.processor == Processor::Intel && s.kind == ShapeKind::Vm,
                "{}",
                s.name
            );
            assert_eq!(
                s.launch_modes.contains(&LaunchMode::Paravirtualized),
                s.kind == ShapeKind::Vm,
                "{}",
                s.name
            );
            assert_eq!(
                s.launch_modes == [LaunchMode::Native],
                s.kind == ShapeKind::Bm,
                "{}",
                s.name
            );
            assert_eq!(
                s.needs.contains(&Need::Nvme),
                s.family == ShapeFamily::DenseIo,
                "{}",
                s.name
            );
            assert_eq!(
                s.needs.contains(&Need::GpuDriver),
                s.family == ShapeFamily::Gpu,
                "{}",
                s.name
            );
        }
        // The shapes the reference names are all there.
        for n in [
            "VM.Standard.A1.Flex",
            "VM.Standard.A2.Flex",
            "BM.Standard.A1.160",
            "VM.Standard3.Flex",
            "VM.Standard.E4.Flex",
            "VM.Standard.E5.Flex",
            "VM.Optimized3.Flex",
            "VM.DenseIO.E4.Flex",
            "VM.DenseIO.E5.Flex",
        ] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
    }

    #[test]
    fn aarch64_fits_only_ampere() {
        let fit = fitting(
            Arch::Aarch64,
            &[Firmware::Uefi64],
            LaunchMode::Paravirtualized,
            true,
        );
        assert_eq!(fit, ["VM.Standard.A1.Flex", "VM.Standard.A2.Flex"]);
        for (s, f) in compatible_shapes(Arch::Aarch64, &[], LaunchMode::Native, true) {
            assert_eq!(
                f.fits,
                s.name == "BM.Standard.A1.160",
                "{} {}",
                s.name,
                f.why
            );
        }
        let all = compatible_shapes(
            Arch::Aarch64,
            &[Firmware::Uefi64],
            LaunchMode::Paravirtualized,
            true,
        );
        let e4 = all
            .iter()
            .find(|(s, _)| s.name == "VM.Standard.E4.Flex")
            .unwrap();
        assert_eq!(e4.1.why, "the image is aarch64, the shape is x86_64 (AMD)");
        let a1 = all
            .iter()
            .find(|(s, _)| s.name == "VM.Standard.A1.Flex")
            .unwrap();
        assert!(
            a1.1.why
                .contains("add the VM.Standard.A1.Flex compatibility entry")
        );
    }

    #[test]
    fn emulated_fits_no_amd_or_arm_shape() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for (s, f) in compatible_shapes(arch, &[], LaunchMode::Emulated, true) {
                if s.processor != Processor::Intel {
                    assert!(!f.fits, "{}", s.name);
                }
            }
        }
        let fit = fitting(Arch::X86_64, &[Firmware::Bios], LaunchMode::Emulated, false);
        assert_eq!(
            fit,
            ["VM.Standard3.Flex", "VM.Optimized3.Flex", "VM.GPU.A10.1"]
        );
        let e5 = compatible_shapes(Arch::X86_64, &[Firmware::Bios], LaunchMode::Emulated, true)
            .into_iter()
            .find(|(s, _)| s.name == "VM.Standard.E5.Flex")
            .unwrap();
        assert_eq!(e5.1.why, "EMULATED mode is not available on AMD shapes");
    }

    #[test]
    fn uefi_only_x86_fits_standard3_e4_e5() {
        let fit = fitting(
            Arch::X86_64,
            &[Firmware::Uefi64],
            LaunchMode::Paravirtualized,
            false,
        );
        for n in [
            "VM.Standard3.Flex",
            "VM.Standard.E4.Flex",
            "VM.Standard.E5.Flex",
        ] {
            assert!(fit.contains(&n), "{n}: {fit:?}");
        }
        // No nvme: DenseIO does not fit, with the reason.
        assert!(!fit.iter().any(|n| n.contains("DenseIO")));
        let d = compatible_shapes(
            Arch::X86_64,
            &[Firmware::Uefi64],
            LaunchMode::Paravirtualized,
            false,
        )
        .into_iter()
        .find(|(s, _)| s.name == "VM.DenseIO.E5.Flex")
        .unwrap();
        assert!(d.1.why.contains("nvme"), "{}", d.1.why);
        let fit = fitting(
            Arch::X86_64,
            &[Firmware::Uefi64],
            LaunchMode::Paravirtualized,
            true,
        );
        assert!(fit.contains(&"VM.DenseIO.E4.Flex"));
        // Bare metal never fits an imported PV image; GPU fits with a caveat.
        assert!(!fit.iter().any(|n| n.starts_with("BM.")));
        let gpu = compatible_shapes(Arch::X86_64, &[Firmware::Bios], LaunchMode::Custom, true)
            .into_iter()
            .find(|(s, _)| s.name == "VM.GPU.A10.1")
            .unwrap();
        assert!(
            gpu.1.fits && gpu.1.why.contains("GPU vendor's driver"),
            "{}",
            gpu.1.why
        );
        // A 32-bit guest fits nothing.
        assert!(fitting(Arch::I386, &[], LaunchMode::Paravirtualized, true).is_empty());
    }

    #[test]
    fn validate_accepts_a_good_schema() {
        let doc = json!({
            "Compute.Firmware": {"descriptorType": "enumstring", "source": "IMAGE",
                "values": ["BIOS", "UEFI_64"], "defaultValue": "UEFI_64"},
            "Compute.LaunchMode": {"descriptorType": "enumstring", "source": "IMAGE",
                "values": ["PARAVIRTUALIZED"], "defaultValue": "PARAVIRTUALIZED"},
            "Storage.ParaVirtualization.AttachmentVersion": {"descriptorType": "enuminteger",
                "source": "IMAGE", "values": [1, 2], "defaultValue": 2},
            "Storage.ConsistentVolumeNaming": {"descriptorType": "boolean", "source": "IMAGE",
                "defaultValue": true}
        });
        assert_eq!(validate_capabilities(&doc), Ok(()));
        // The same as a JSON-encoded string (.oci metadata).
        assert_eq!(
            validate_capabilities(&Value::String(doc.to_string())),
            Ok(())
        );
    }

    #[test]
    fn validate_rejects_unknown_keys_and_values() {
        let doc = json!({
            "Compute.Firmwar": {"descriptorType": "enumstring", "values": ["BIOS"], "defaultValue": "BIOS"},
            "Compute.Firmware": {"descriptorType": "enumstring", "values": ["BIOS", "UEFI_32"],
                "defaultValue": "BIOS"},
        });
        let errs = validate_capabilities(&doc).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("Compute.Firmwar: not a key"),
            "{errs:?}"
        );
        assert!(errs[1].contains("\"UEFI_32\" is not allowed"), "{errs:?}");

        let errs = validate_capabilities(&json!({
            "Compute.LaunchMode": {"descriptorType": "enumstring", "values": ["PARAVIRTUALIZED"],
                "defaultValue": "EMULATED", "extra": 1},
            "Compute.SecureBoot": {"descriptorType": "boolean", "defaultValue": true},
            "Storage.ParaVirtualization.AttachmentVersion": {"descriptorType": "enumstring",
                "values": [3], "defaultValue": 2, "source": "ELSEWHERE"},
            "Network.AttachmentType": "VFIO"
        }))
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "Compute.LaunchMode: unknown descriptor field \"extra\"",
            "Compute.LaunchMode: defaultValue \"EMULATED\" is not among the descriptor's own values",
            "Compute.SecureBoot: true is not supported for custom images",
            "AttachmentVersion: descriptorType \"enumstring\" (must be \"enuminteger\")",
            "AttachmentVersion: value 3 is not allowed (allowed: 1, 2)",
            "AttachmentVersion: source \"ELSEWHERE\"",
            "Network.AttachmentType: the descriptor must be an object, not a string",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        assert!(validate_capabilities(&json!([1])).is_err());
        assert!(validate_capabilities(&json!("{not json")).is_err());
    }
}
