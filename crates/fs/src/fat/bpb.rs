//! The boot sector and its BIOS parameter block (fatgen103, "Boot Sector and BPB Structure"),
//! and the geometry derived from it: where the FATs, the FAT12/16 root directory region and
//! the data region start, how many clusters there are, and therefore the FAT type.

use preflight_io::le;

/// What the boot sector says, checked and reduced to what the reader needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpb {
    pub kind: FatKind,
    pub bytes_per_sector: u32,
    pub sectors_per_cluster: u32,
    /// Byte offset of the FAT the reader uses (the active one when FAT32 mirroring is off).
    pub fat_offset: u64,
    /// Bytes of one FAT.
    pub fat_bytes: u64,
    /// Byte offset and length of the FAT12/16 root directory region (length 0 on FAT32).
    pub root_dir_offset: u64,
    pub root_dir_bytes: u64,
    /// Byte offset of cluster 2.
    pub data_offset: u64,
    /// Count of data clusters (valid cluster numbers are `2..=max_cluster`).
    pub clusters: u32,
    /// The FAT32 root directory's first cluster (0 on FAT12/16).
    pub root_cluster: u32,
    /// Volume serial number (BS_VolID / BS_VolID of the FAT32 BPB).
    pub volume_id: u32,
    /// BS_VolLab: the label as mkfs wrote it into the boot sector.
    pub boot_label: [u8; 11],
    /// BS_BootSig: 0x29 (or 0x28) when the serial number and label fields are present.
    pub boot_sig: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatKind {
    Fat12,
    Fat16,
    Fat32,
}

impl FatKind {
    pub fn name(self) -> &'static str {
        match self {
            FatKind::Fat12 => "FAT12",
            FatKind::Fat16 => "FAT16",
            FatKind::Fat32 => "FAT32",
        }
    }
}

impl Bpb {
    /// Bytes per cluster.
    pub fn cluster_bytes(&self) -> u64 {
        u64::from(self.bytes_per_sector) * u64::from(self.sectors_per_cluster)
    }

    /// The largest valid cluster number.
    pub fn max_cluster(&self) -> u32 {
        self.clusters.saturating_add(1)
    }

    /// Byte offset of cluster `n` (which the caller has checked to be valid).
    pub fn cluster_offset(&self, n: u32) -> u64 {
        self.data_offset + u64::from(n.saturating_sub(2)) * self.cluster_bytes()
    }

    /// Parse the first sector (at least 512 bytes). Errors say which field is wrong.
    pub fn parse(b: &[u8]) -> Result<Bpb, String> {
        if b.len() < 512 {
            return Err(format!("boot sector: {} bytes, 512 needed", b.len()));
        }
        // BS_jmpBoot: EB ?? 90 or E9 ?? ??. Linux only warns; require one of the jumps
        // anyway, so that random data (and other file systems) is not taken for FAT.
        if !(b[0] == 0xEB || b[0] == 0xE9) {
            return Err(format!(
                "boot sector: no jump instruction at byte 0 (0x{:02x})",
                b[0]
            ));
        }
        let bps = u32::from(le::u16(b, 11));
        if !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
            return Err(format!("BPB_BytsPerSec at byte 11 is {bps}"));
        }
        let spc = u32::from(b[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(format!("BPB_SecPerClus at byte 13 is {spc}"));
        }
        let reserved = u64::from(le::u16(b, 14));
        if reserved == 0 {
            return Err("BPB_RsvdSecCnt at byte 14 is 0".into());
        }
        let num_fats = u64::from(b[16]);
        if num_fats == 0 {
            return Err("BPB_NumFATs at byte 16 is 0".into());
        }
        let root_entries = u64::from(le::u16(b, 17));
        let total16 = u64::from(le::u16(b, 19));
        let media = b[21];
        if !(media == 0xF0 || media >= 0xF8) {
            return Err(format!("BPB_Media at byte 21 is 0x{media:02x}"));
        }
        let fat16_size = u64::from(le::u16(b, 22));
        let total32 = u64::from(le::u32(b, 32));
        let fat_size = if fat16_size != 0 {
            fat16_size
        } else {
            u64::from(le::u32(b, 36))
        };
        let total = if total16 != 0 { total16 } else { total32 };
        if fat_size == 0 {
            return Err("BPB_FATSz16 and BPB_FATSz32 are both 0".into());
        }
        let bps64 = u64::from(bps);
        let root_sectors = (root_entries * 32).div_ceil(bps64);
        let meta = reserved + num_fats * fat_size + root_sectors;
        if meta >= total {
            return Err(format!(
                "{total} sectors in all, {meta} before the data region"
            ));
        }
        let clusters64 = (total - meta) / u64::from(spc);
        // fatgen103, "FAT Type Determination": by the count of clusters alone.
        let kind = if clusters64 < 4085 {
            FatKind::Fat12
        } else if clusters64 < 65525 {
            FatKind::Fat16
        } else {
            FatKind::Fat32
        };
        if clusters64 == 0 {
            return Err("no data cluster".into());
        }
        // FAT32 cluster numbers have 28 bits; 0x0FFFFFF7 and above are markers.
        let clusters = u32::try_from(clusters64.min(0x0FFF_FFF5)).unwrap_or(0x0FFF_FFF5);
        let (root_cluster, ext_at, fat_index) = if kind == FatKind::Fat32 {
            if root_entries != 0 || fat16_size != 0 {
                return Err(format!(
                    "FAT32 by its {clusters} clusters, but BPB_RootEntCnt is {root_entries} and BPB_FATSz16 {fat16_size}"
                ));
            }
            let ext_flags = le::u16(b, 40);
            let version = le::u16(b, 42);
            if version != 0 {
                return Err(format!("BPB_FSVer at byte 42 is 0x{version:04x}"));
            }
            // Bit 7: mirroring off, bits 0-3 the active FAT.
            let active = if ext_flags & 0x80 != 0 {
                u64::from(ext_flags & 0x0F)
            } else {
                0
            };
            if active >= num_fats {
                return Err(format!(
                    "BPB_ExtFlags at byte 40 names FAT {active} of {num_fats}"
                ));
            }
            (le::u32(b, 44), 64, active)
        } else {
            if root_entries == 0 {
                return Err(format!(
                    "{} by its {clusters} clusters, but BPB_RootEntCnt is 0",
                    kind.name()
                ));
            }
            (0, 36, 0)
        };
        let bits: u64 = match kind {
            FatKind::Fat12 => 12,
            FatKind::Fat16 => 16,
            FatKind::Fat32 => 32,
        };
        let fat_bytes = fat_size * bps64;
        // The FAT must hold an entry for every cluster (and the two reserved ones).
        let needed = (u64::from(clusters) + 2) * bits / 8;
        if fat_bytes < needed {
            return Err(format!(
                "a FAT of {fat_bytes} bytes cannot map {clusters} clusters ({needed} bytes needed)"
            ));
        }
        let fat_offset = (reserved + fat_index * fat_size) * bps64;
        let root_dir_offset = (reserved + num_fats * fat_size) * bps64;
        let mut label = [0u8; 11];
        label.copy_from_slice(&b[ext_at + 7..ext_at + 18]);
        Ok(Bpb {
            kind,
            bytes_per_sector: bps,
            sectors_per_cluster: spc,
            fat_offset,
            fat_bytes,
            root_dir_offset,
            root_dir_bytes: root_entries * 32,
            data_offset: meta * bps64,
            clusters,
            root_cluster,
            volume_id: le::u32(b, ext_at + 3),
            boot_label: label,
            boot_sig: b[ext_at + 2],
        })
    }
}
