//! /etc/fstab (fstab(5)): six whitespace-separated fields, `#` comments, octal escapes
//! (`\040` for a space) in the first two fields.

/// One line of fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    pub spec: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: Vec<String>,
    /// 1-based line number in /etc/fstab.
    pub line: u32,
}

/// How the first field names the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    Uuid(String),
    Label(String),
    PartUuid(String),
    PartLabel(String),
    /// `/dev/sda2`, `/dev/vda2`, `/dev/xvda2`, `/dev/nvme0n1p2`: a partition of some disk —
    /// names that change when the disk moves to another controller (rule IMP-ROOTREF).
    DiskPartition {
        disk: String,
        number: u32,
    },
    /// `none`, `tmpfs`, `proc`…
    Pseudo,
    Other(String),
}

impl FstabEntry {
    pub fn has_option(&self, name: &str) -> bool {
        self.options.iter().any(|o| o == name)
    }

    /// `nofail` or `noauto`: the system boots without this volume.
    pub fn optional(&self) -> bool {
        self.has_option("nofail") || self.has_option("noauto")
    }

    pub fn device(&self) -> DeviceSpec {
        parse_device(&self.spec)
    }
}

pub fn parse_device(spec: &str) -> DeviceSpec {
    let unquote = |s: &str| s.trim_matches('"').to_string();
    if let Some((key, value)) = spec.split_once('=') {
        return match key.to_ascii_uppercase().as_str() {
            "UUID" => DeviceSpec::Uuid(unquote(value)),
            "LABEL" => DeviceSpec::Label(unquote(value)),
            "PARTUUID" => DeviceSpec::PartUuid(unquote(value)),
            "PARTLABEL" => DeviceSpec::PartLabel(unquote(value)),
            _ => DeviceSpec::Other(spec.to_string()),
        };
    }
    for (prefix, make) in [
        (
            "/dev/disk/by-uuid/",
            DeviceSpec::Uuid as fn(String) -> DeviceSpec,
        ),
        ("/dev/disk/by-label/", DeviceSpec::Label),
        ("/dev/disk/by-partuuid/", DeviceSpec::PartUuid),
        ("/dev/disk/by-partlabel/", DeviceSpec::PartLabel),
    ] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            return make(udev_unescape(rest));
        }
    }
    if let Some(dev) = spec.strip_prefix("/dev/") {
        if let Some(p) = disk_partition(dev) {
            return p;
        }
        return DeviceSpec::Other(spec.to_string());
    }
    if !spec.contains('/') {
        return DeviceSpec::Pseudo;
    }
    DeviceSpec::Other(spec.to_string())
}

/// `sda2`, `vdb1`, `xvda3`, `hda1` → (disk, 2); `nvme0n1p2`, `mmcblk0p1` → (disk, 2).
fn disk_partition(dev: &str) -> Option<DeviceSpec> {
    let digits_at = dev.find(|c: char| c.is_ascii_digit())?;
    let (stem, _) = dev.split_at(digits_at);
    if ["sd", "vd", "xvd", "hd"]
        .iter()
        .any(|p| stem.starts_with(p) && stem.len() > p.len())
    {
        let number = dev[digits_at..].parse().ok()?;
        return Some(DeviceSpec::DiskPartition {
            disk: stem.to_string(),
            number,
        });
    }
    if dev.starts_with("nvme") || dev.starts_with("mmcblk") {
        let (disk, num) = dev.rsplit_once('p')?;
        let number = num.parse().ok()?;
        return Some(DeviceSpec::DiskPartition {
            disk: disk.to_string(),
            number,
        });
    }
    None
}

/// udev escapes `/` and other bytes in by-label links as `\x2f`.
fn udev_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest
            .get(i + 2..i + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// fstab(5) octal escapes: `\040` space, `\011` tab, `\134` backslash.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let oct = bytes.get(i + 1..i + 4);
            if let Some(oct) = oct.filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c))) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_fstab(text: &str) -> Vec<FstabEntry> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().take(100_000) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        out.push(FstabEntry {
            spec: unescape(fields[0]),
            mount_point: unescape(fields[1]),
            fs_type: fields.get(2).unwrap_or(&"auto").to_string(),
            options: fields
                .get(3)
                .unwrap_or(&"defaults")
                .split(',')
                .map(String::from)
                .collect(),
            line: n as u32 + 1,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let t = "# comment\nUUID=1234-abcd / ext4 errors=remount-ro 0 1\n\
                 LABEL=boot\\040x /boot ext4 defaults 0 2\n\
                 /dev/disk/by-uuid/7F3A-11C2 /boot/efi vfat umask=0077,nofail 0 1\n\
                 /dev/sda3 none swap sw 0 0\n/dev/nvme0n1p2 /data xfs defaults\n\
                 tmpfs /tmp tmpfs defaults 0 0\n/dev/mapper/ocivolume-root / xfs defaults 0 0\n";
        let e = parse_fstab(t);
        assert_eq!(e.len(), 7);
        assert_eq!(e[0].device(), DeviceSpec::Uuid("1234-abcd".into()));
        assert_eq!(e[0].line, 2);
        assert_eq!(e[1].device(), DeviceSpec::Label("boot x".into()));
        assert_eq!(e[2].device(), DeviceSpec::Uuid("7F3A-11C2".into()));
        assert!(e[2].optional());
        assert_eq!(
            e[3].device(),
            DeviceSpec::DiskPartition {
                disk: "sda".into(),
                number: 3
            }
        );
        assert_eq!(
            e[4].device(),
            DeviceSpec::DiskPartition {
                disk: "nvme0n1".into(),
                number: 2
            }
        );
        assert_eq!(e[5].device(), DeviceSpec::Pseudo);
        assert_eq!(
            e[6].device(),
            DeviceSpec::Other("/dev/mapper/ocivolume-root".into())
        );
    }

    #[test]
    fn hostile_escapes_do_not_panic() {
        for t in ["\\", "a\\0 b", "\\04 \\7777 x", "é\\040é /x"] {
            let _ = parse_fstab(t);
        }
    }
}
