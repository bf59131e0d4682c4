use preflight_io::{ByteSource, IoError};

/// Container formats we can name. All are read but QCOW version 1 and xz/zstd-compressed
/// files (gzip is read when it holds an `.oci` tar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Raw,
    Qcow2,
    /// QCOW version 1, obsolete.
    Qcow1,
    /// VMDK sparse extent (`KDMV`) or a VMDK descriptor text file.
    Vmdk,
    Vhd,
    Vhdx,
    Vdi,
    /// A tar archive: an `.oci` export or an OVA.
    Tar,
    /// gzip-compressed data: an `.oci` tar.gz export, or a compressed raw disk.
    Gzip,
    Xz,
    Zstd,
}

impl Format {
    /// The name the report uses (`image.format`), as `qemu-img` names formats where it can.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Qcow1 => "qcow",
            Format::Vmdk => "vmdk",
            Format::Vhd => "vpc",
            Format::Vhdx => "vhdx",
            Format::Vdi => "vdi",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
        }
    }

    /// Why we stop, for the formats no reader handles; the formats we read say so.
    pub fn not_supported_message(self) -> &'static str {
        match self {
            Format::Xz | Format::Zstd => {
                "this file is compressed; decompress it first and check the disk image inside"
            }
            Format::Qcow1 => {
                "QCOW version 1 is obsolete and not supported; convert with `qemu-img convert -O qcow2 IMAGE IMAGE.qcow2`"
            }
            Format::Raw
            | Format::Qcow2
            | Format::Vmdk
            | Format::Vhd
            | Format::Vhdx
            | Format::Vdi
            | Format::Tar
            | Format::Gzip => "supported",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Vhd => "VHD",
            Format::Qcow2 => "QCOW2",
            Format::Qcow1 => "QCOW",
            Format::Vmdk => "VMDK",
            Format::Vhdx => "VHDX",
            Format::Vdi => "VDI",
            other => other.name(),
        })
    }
}

/// Identify the container from its magic numbers. Anything unrecognised is raw: a raw disk
/// has no header of its own.
pub fn detect(file: &dyn ByteSource) -> Result<Format, IoError> {
    let len = file.len();
    let mut head = [0u8; 512];
    let n = len.min(head.len() as u64) as usize;
    file.read_at(0, &mut head[..n])?;
    let head = &head[..n];
    let starts = |magic: &[u8]| head.starts_with(magic);

    if starts(b"QFI\xfb") {
        // Version is the big-endian u32 that follows the magic.
        let version = preflight_io::be::u32(head, 4);
        return Ok(if version == 1 {
            Format::Qcow1
        } else {
            Format::Qcow2
        });
    }
    if starts(b"KDMV") || starts(b"COWD") || vmdk_descriptor_text(head) {
        return Ok(Format::Vmdk);
    }
    if starts(b"vhdxfile") {
        return Ok(Format::Vhdx);
    }
    // VDI: a text banner, then the signature 0xbeda107f (little-endian) at 0x40.
    if preflight_io::le::u32(head, 0x40) == 0xbeda_107f {
        return Ok(Format::Vdi);
    }
    // Dynamic VHDs start with a copy of the footer; fixed ones only have it at the end.
    if starts(b"conectix") {
        return Ok(Format::Vhd);
    }
    if len >= 512 {
        let mut tail = [0u8; 8];
        file.read_at(len - 512, &mut tail)?;
        if &tail == b"conectix" {
            return Ok(Format::Vhd);
        }
    }
    if head.get(257..262) == Some(b"ustar") {
        return Ok(Format::Tar);
    }
    if starts(&[0x1f, 0x8b]) {
        return Ok(Format::Gzip);
    }
    if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Ok(Format::Xz);
    }
    if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Format::Zstd);
    }
    Ok(Format::Raw)
}

/// A VMDK descriptor file: VMware's start with `# Disk DescriptorFile`; like QEMU we also
/// accept any text whose first line that is neither a `#` comment nor blank is `version=1`,
/// `2` or `3` (VMware "Virtual Disk Format 5.0", "The Descriptor File").
fn vmdk_descriptor_text(head: &[u8]) -> bool {
    if head.starts_with(b"# Disk DescriptorFile") {
        return true;
    }
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"#") || line.iter().all(|&b| b == b' ') {
            continue;
        }
        return matches!(line, b"version=1" | b"version=2" | b"version=3");
    }
    false
}
