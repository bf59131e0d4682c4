//! Linux file systems and swap.

use preflight_io::{ByteSource, IoError, be, le};

use super::{Probe, ProbeKind, field, magic, read_exact};
use crate::text::{c_string, uuid_bytes};

pub(super) fn xfs(h: &[u8]) -> Option<Probe> {
    if !magic(h, 0, b"XFSB") {
        return None;
    }
    let block = be::u32(h, 4);
    let sector = be::u16(h, 102);
    if !(512..=65536).contains(&block) || !block.is_power_of_two() {
        return None;
    }
    if !(512..=32768).contains(&sector) || !sector.is_power_of_two() {
        return None;
    }
    Some(
        Probe::new(ProbeKind::Xfs)
            .uuid(field(h, 32, 16).and_then(uuid_bytes))
            .label(field(h, 108, 12).and_then(c_string)),
    )
}

pub(super) fn ext(h: &[u8]) -> Option<Probe> {
    let sb = field(h, 1024, 1024)?;
    if le::u16(sb, 56) != 0xef53 {
        return None;
    }
    const HAS_JOURNAL: u32 = 0x4;
    const INCOMPAT_FILETYPE: u32 = 0x2;
    const INCOMPAT_RECOVER: u32 = 0x4;
    const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
    const INCOMPAT_META_BG: u32 = 0x10;
    // sparse_super, large_file, btree_dir: what ext2 and ext3 drivers accept read-write.
    const RO_COMPAT_OLD: u32 = 0x1 | 0x2 | 0x4;
    let compat = le::u32(sb, 92);
    let incompat = le::u32(sb, 96);
    let ro_compat = le::u32(sb, 100);
    let journal = compat & HAS_JOURNAL != 0;
    let kind = if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        ProbeKind::Jbd
    } else if !journal
        && incompat & !(INCOMPAT_FILETYPE | INCOMPAT_META_BG) == 0
        && ro_compat & !RO_COMPAT_OLD == 0
    {
        ProbeKind::Ext2
    } else if journal
        && incompat & !(INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG) == 0
        && ro_compat & !RO_COMPAT_OLD == 0
    {
        ProbeKind::Ext3
    } else {
        // extents, 64bit, flex_bg, huge_file, dir_nlink, extra_isize, metadata_csum, …
        ProbeKind::Ext4
    };
    Some(
        Probe::new(kind)
            .uuid(field(sb, 104, 16).and_then(uuid_bytes))
            .label(field(sb, 120, 16).and_then(c_string))
            .version(format!("{}.{}", le::u32(sb, 76), le::u16(sb, 62))),
    )
}

pub(super) fn btrfs(v: &dyn ByteSource, _: &[u8]) -> Result<Option<Probe>, IoError> {
    let Some(sb) = read_exact(v, 65536, 1024)? else {
        return Ok(None);
    };
    if !magic(&sb, 64, b"_BHRfS_M") {
        return Ok(None);
    }
    Ok(Some(
        Probe::new(ProbeKind::Btrfs)
            .uuid(field(&sb, 32, 16).and_then(uuid_bytes))
            .label(field(&sb, 299, 256).and_then(c_string)),
    ))
}

pub(super) fn squashfs(h: &[u8]) -> Option<Probe> {
    magic(h, 0, b"hsqs").then(|| {
        Probe::new(ProbeKind::Squashfs).version(format!("{}.{}", le::u16(h, 28), le::u16(h, 30)))
    })
}

pub(super) fn swap(v: &dyn ByteSource, h: &[u8], pages: &[u64]) -> Result<Option<Probe>, IoError> {
    for &page in pages {
        let at = page - 10;
        let sig = match field(h, at as usize, 10) {
            Some(s) => s.to_vec(),
            None => match read_exact(v, at, 10)? {
                Some(s) => s,
                None => continue,
            },
        };
        if sig == b"SWAP-SPACE" {
            return Ok(Some(Probe::new(ProbeKind::Swap).version("0")));
        }
        let suspend = [&b"S1SUSPEND"[..], b"S2SUSPEND", b"ULSUSPEND", b"LINHIB0001"]
            .iter()
            .any(|m| sig.starts_with(m))
            || sig.starts_with(b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c");
        if sig != b"SWAPSPACE2" && !suspend {
            continue;
        }
        // The v1 header after the 1 KiB boot block: version, last page, bad pages, UUID, label.
        let version = le::u32(h, 1024);
        if !suspend && version != 1 && version.swap_bytes() != 1 {
            continue;
        }
        let kind = if suspend {
            ProbeKind::SwapSuspend
        } else {
            ProbeKind::Swap
        };
        return Ok(Some(
            Probe::new(kind)
                .uuid(field(h, 1036, 16).and_then(uuid_bytes))
                .label(field(h, 1052, 16).and_then(c_string))
                .version("1"),
        ));
    }
    Ok(None)
}
