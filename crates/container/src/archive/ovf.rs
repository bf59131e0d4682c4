//! The OVF descriptor of an OVA (DMTF DSP0243, OVF 1.x/2.x): the facts OCI cares about.
//!
//! Parsed with `roxmltree`, which refuses DTDs by default: entity expansion (the "billion
//! laughs" attack) cannot happen. Elements and attributes are matched by local name, since
//! exporters differ in namespace prefixes and versions (`ovf:` 1.0 and 2.0 namespaces).

use roxmltree::{Document, Node, ParsingOptions};

use crate::info::OvfInfo;

/// The descriptor is capped (real ones: a few KiB to a few hundred).
pub const MAX_DESCRIPTOR: u64 = 4 << 20;
/// XML nodes accepted, far above any real descriptor.
const MAX_NODES: u32 = 200_000;

/// What the descriptor says, and which member holds the first disk.
pub struct Descriptor {
    pub info: OvfInfo,
    /// `References/File/@href` of the first `DiskSection/Disk`.
    pub disk_file: Option<String>,
    /// Sentences about what could not be understood.
    pub problems: Vec<String>,
}

fn attr<'a>(n: Node<'a, '_>, local: &str) -> Option<&'a str> {
    n.attributes()
        .find(|a| a.name() == local)
        .map(|a| a.value())
}

fn child<'a, 'i>(n: Node<'a, 'i>, local: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == local)
}

fn child_text(n: Node<'_, '_>, local: &str) -> Option<String> {
    child(n, local)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn elements<'a, 'i>(doc: &'a Document<'i>, local: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    doc.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == local)
}

/// Bytes per unit of a capacity or allocation unit string: DMTF DSP0004 programmatic units
/// ("byte", "byte * 2^30", "byte * 10^9", "byte * 1024") and the older names VMware and
/// VirtualBox write ("MegaBytes", "GB", …). None when not understood.
pub fn unit_bytes(units: &str) -> Option<u64> {
    let u = units.trim();
    let lower = u.to_ascii_lowercase();
    let named = match lower.as_str() {
        "" | "byte" | "bytes" | "b" => Some(1),
        "kilobytes" | "kb" | "kib" => Some(1 << 10),
        "megabytes" | "mb" | "mib" => Some(1 << 20),
        "gigabytes" | "gb" | "gib" => Some(1 << 30),
        "terabytes" | "tb" | "tib" => Some(1 << 40),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let rest = lower.strip_prefix("byte")?.trim_start();
    let factor = rest.strip_prefix('*')?.trim();
    if let Some((base, exp)) = factor.split_once('^') {
        let base: u64 = base.trim().parse().ok()?;
        let exp: u32 = exp.trim().parse().ok()?;
        base.checked_pow(exp)
    } else {
        factor.parse().ok()
    }
}

/// Parses the descriptor text; Err is a sentence for the archive's problems.
pub fn parse(text: &str, member: &str) -> Result<Descriptor, String> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| format!("the OVF descriptor {member} is not valid XML ({e})."))?;
    let mut info = OvfInfo {
        descriptor: member.to_string(),
        ..OvfInfo::default()
    };
    let mut problems = Vec::new();
    let disks: Vec<Node> = elements(&doc, "Disk")
        .filter(|d| {
            d.parent()
                .is_some_and(|p| p.tag_name().name() == "DiskSection")
        })
        .collect();
    for d in &disks {
        let Some(cap) = attr(*d, "capacity") else {
            continue;
        };
        let units = attr(*d, "capacityAllocationUnits").unwrap_or("byte");
        match (cap.trim().parse::<u64>(), unit_bytes(units)) {
            (Ok(n), Some(u)) => {
                if let Some(bytes) = n.checked_mul(u) {
                    info.disk_capacities.push(bytes);
                }
            }
            _ => problems.push(format!(
                "The OVF descriptor gives a disk capacity Preflight does not understand ({cap:?} in units {units:?})."
            )),
        }
    }
    info.disk_format = disks
        .first()
        .and_then(|d| attr(*d, "format"))
        .map(str::to_string);
    let disk_file = disks
        .first()
        .and_then(|d| attr(*d, "fileRef"))
        .and_then(|r| {
            elements(&doc, "File")
                .find(|f| attr(*f, "id") == Some(r))
                .and_then(|f| attr(f, "href"))
                .map(str::to_string)
        });
    if let Some(os) = elements(&doc, "OperatingSystemSection").next() {
        info.os_type = child_text(os, "Description")
            .or_else(|| attr(os, "osType").map(str::to_string))
            .or_else(|| attr(os, "id").map(str::to_string));
    }
    info.system_type = elements(&doc, "VirtualSystemType")
        .next()
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string());
    // CIM_ResourceAllocationSettingData ResourceType values (DSP1041 / CIM schema): 3
    // processor, 4 memory, 5 IDE controller, 6 SCSI controller, 10 Ethernet adapter, 20 other
    // storage (SATA, NVMe).
    for item in elements(&doc, "Item")
        .chain(elements(&doc, "StorageItem"))
        .chain(elements(&doc, "EthernetPortItem"))
    {
        let kind = child_text(item, "ResourceType").and_then(|t| t.parse::<u32>().ok());
        let quantity = child_text(item, "VirtualQuantity").and_then(|t| t.parse::<u64>().ok());
        let subtype = child_text(item, "ResourceSubType");
        match kind {
            Some(3) => info.cpus = quantity.or(info.cpus),
            Some(4) => {
                let unit = child_text(item, "AllocationUnits")
                    .and_then(|u| unit_bytes(&u))
                    .unwrap_or(1 << 20);
                if let Some(bytes) = quantity.and_then(|q| q.checked_mul(unit)) {
                    info.memory_mib = Some(bytes >> 20);
                }
            }
            Some(10) => info
                .nics
                .push(subtype.unwrap_or_else(|| "unknown".to_string())),
            Some(5) => info
                .controllers
                .push(subtype.unwrap_or_else(|| "IDE".to_string())),
            Some(6) => info
                .controllers
                .push(subtype.unwrap_or_else(|| "SCSI".to_string())),
            Some(20) => info
                .controllers
                .push(subtype.unwrap_or_else(|| "storage controller".to_string())),
            _ => {}
        }
    }
    Ok(Descriptor {
        info,
        disk_file,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(unit_bytes("byte * 2^30"), Some(1 << 30));
        assert_eq!(unit_bytes("byte*2^20"), Some(1 << 20));
        assert_eq!(unit_bytes("byte * 10^9"), Some(1_000_000_000));
        assert_eq!(unit_bytes("byte * 1024"), Some(1024));
        assert_eq!(unit_bytes("MegaBytes"), Some(1 << 20));
        assert_eq!(unit_bytes("byte"), Some(1));
        assert_eq!(unit_bytes("byte * 2^99"), None);
        assert_eq!(unit_bytes("furlongs"), None);
    }

    #[test]
    fn vmware_style_descriptor() {
        let text = r#"<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="x">
 <References><File ovf:href="other.iso" ovf:id="file0"/><File ovf:href="vm-disk1.vmdk" ovf:id="file1"/></References>
 <DiskSection><Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
 <VirtualSystem ovf:id="vm"><OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest" xmlns:vmw="http://www.vmware.com/schema/ovf"/>
 <VirtualHardwareSection><System><vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
 <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
 <Item><rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>8</rasd:VirtualQuantity></Item>
 <Item><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
 <Item><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
 </VirtualHardwareSection></VirtualSystem></Envelope>"#;
        let d = parse(text, "vm.ovf").unwrap();
        assert_eq!(d.disk_file.as_deref(), Some("vm-disk1.vmdk"));
        assert_eq!(d.info.disk_capacities, vec![16 << 30]);
        assert_eq!(d.info.cpus, Some(4));
        assert_eq!(d.info.memory_mib, Some(8192));
        assert_eq!(d.info.controllers, vec!["lsilogic"]);
        assert_eq!(d.info.nics, vec!["VmxNet3"]);
        assert_eq!(d.info.system_type.as_deref(), Some("vmx-13"));
        assert_eq!(d.info.os_type.as_deref(), Some("otherLinux64Guest"));
    }

    #[test]
    fn dtd_and_entities_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Envelope>&lol2;</Envelope>"#;
        let e = parse(bomb, "x.ovf").err().unwrap();
        assert!(e.contains("not valid XML"), "{e}");
        assert!(parse("<Envelope", "x.ovf").is_err());
    }
}
