//! The chunk map ("On-disk format", "Chunk tree"; "Data structures", `CHUNK_ITEM`): every
//! logical address lies in one chunk, whose stripes say where its bytes are on which device.
//!
//! Chunk item: length u64, owner u64, stripe_len u64, type u64, io_align u32, io_width u32,
//! sector_size u32, num_stripes u16, sub_stripes u16, then `num_stripes` stripes of devid u64,
//! offset u64, dev_uuid [16] (48 + 32 × n bytes).

use std::collections::BTreeMap;

use preflight_io::le;

use super::{Error, R};

const BG_RAID0: u64 = 1 << 3;
const BG_RAID1: u64 = 1 << 4;
const BG_DUP: u64 = 1 << 5;
const BG_RAID10: u64 = 1 << 6;
const BG_RAID5: u64 = 1 << 7;
const BG_RAID6: u64 = 1 << 8;
const BG_RAID1C3: u64 = 1 << 9;
const BG_RAID1C4: u64 = 1 << 10;

/// Chunks beyond this many are treated as hostile (data chunks are up to 1 GiB, 10 GiB on
/// large file systems: 64k chunks is 64 TiB and more).
pub const MAX_CHUNKS: usize = 1 << 16;
/// Stripes per chunk (the on-disk field is a u16; real arrays have a few dozen at most).
const MAX_STRIPES: u16 = 256;

#[derive(Debug, Clone)]
struct Chunk {
    length: u64,
    stripe_len: u64,
    profile: u64,
    sub_stripes: u16,
    stripes: Vec<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct ChunkMap {
    chunks: BTreeMap<u64, Chunk>,
    /// This device's id (superblock `dev_item.devid`).
    devid: u64,
}

/// Where a run of logical bytes is on this device.
pub struct Mapped {
    pub physical: u64,
    /// Bytes from `logical` that stay contiguous on the device.
    pub len: u64,
}

impl ChunkMap {
    pub fn new(devid: u64) -> ChunkMap {
        ChunkMap {
            chunks: BTreeMap::new(),
            devid,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Add the chunk item in `b` for `logical`; returns its size in bytes.
    pub fn add(&mut self, logical: u64, b: &[u8]) -> R<usize> {
        let bad = |m: String| Error::Corrupt(format!("chunk at logical {logical:#x}: {m}"));
        if b.len() < 48 {
            return Err(bad("truncated".into()));
        }
        let length = le::u64(b, 0);
        let stripe_len = le::u64(b, 16);
        let profile = le::u64(b, 24);
        let num_stripes = le::u16(b, 44);
        let sub_stripes = le::u16(b, 46);
        if num_stripes == 0 || num_stripes > MAX_STRIPES {
            return Err(bad(format!("{num_stripes} stripes")));
        }
        let size = 48 + 32 * usize::from(num_stripes);
        if b.len() < size {
            return Err(bad("truncated stripes".into()));
        }
        if length == 0 || logical.checked_add(length).is_none() {
            return Err(bad(format!("length {length}")));
        }
        if !stripe_len.is_power_of_two() || stripe_len < 4096 {
            return Err(bad(format!("stripe length {stripe_len}")));
        }
        if profile & BG_RAID10 != 0
            && (sub_stripes == 0 || !num_stripes.is_multiple_of(sub_stripes))
        {
            return Err(bad(format!(
                "raid10 with {num_stripes} stripes and {sub_stripes} sub-stripes"
            )));
        }
        let stripes = (0..usize::from(num_stripes))
            .map(|i| (le::u64(b, 48 + 32 * i), le::u64(b, 56 + 32 * i)))
            .collect();
        // Chunks must not overlap (the chunk tree repeats the system chunks of the bootstrap
        // array: an identical start is a replacement, not an overlap).
        if let Some((&s, c)) = self.chunks.range(..=logical).next_back()
            && s != logical
            && s + c.length > logical
        {
            return Err(bad(format!("overlaps the chunk at {s:#x}")));
        }
        if let Some((&s, _)) = self.chunks.range(logical + 1..).next()
            && s < logical + length
        {
            return Err(bad(format!("overlaps the chunk at {s:#x}")));
        }
        if self.chunks.len() >= MAX_CHUNKS {
            return Err(bad(format!("more than {MAX_CHUNKS} chunks")));
        }
        self.chunks.insert(
            logical,
            Chunk {
                length,
                stripe_len,
                profile,
                sub_stripes,
                stripes,
            },
        );
        Ok(size)
    }

    /// Map `logical` to this device: the first copy. Mirrored profiles (DUP, RAID1,
    /// RAID1C3/4) have several copies, RAID10 two per sub-stripe (see [`ChunkMap::map_copy`]);
    /// RAID0/RAID10 follow the striping; RAID5/6 are not supported.
    pub fn map(&self, logical: u64) -> R<Mapped> {
        self.map_copy(logical, 0)?
            .ok_or_else(|| Error::Corrupt(format!("logical address {logical:#x}: no copy")))
    }

    /// Copy number `copy` (counting only copies on this device) of `logical`; `None` when
    /// there are not that many. No copy at all on this device is an error naming the device.
    pub fn map_copy(&self, logical: u64, copy: usize) -> R<Option<Mapped>> {
        let (&start, c) = self
            .chunks
            .range(..=logical)
            .next_back()
            .filter(|(s, c)| logical - **s < c.length)
            .ok_or_else(|| {
                Error::Corrupt(format!("logical address {logical:#x} is in no chunk"))
            })?;
        if c.profile & (BG_RAID5 | BG_RAID6) != 0 {
            return Err(Error::Unsupported(format!(
                "chunk at {start:#x} uses RAID5/6"
            )));
        }
        let off = logical - start;
        let left_in_chunk = c.length - off;
        // (stripe index, offset inside that stripe's device extent, contiguous bytes)
        let candidates: Vec<(usize, u64, u64)> = if c.profile & (BG_RAID0 | BG_RAID10) != 0 {
            let per = if c.profile & BG_RAID10 != 0 {
                u64::from(c.sub_stripes)
            } else {
                1
            };
            let factor = c.stripes.len() as u64 / per;
            let stripe_nr = off / c.stripe_len;
            let within = off % c.stripe_len;
            let first = (stripe_nr % factor) * per;
            let dev_off = (stripe_nr / factor)
                .checked_mul(c.stripe_len)
                .and_then(|x| x.checked_add(within))
                .ok_or_else(|| Error::Corrupt("stripe offset overflows".into()))?;
            let len = (c.stripe_len - within).min(left_in_chunk);
            (first..first + per)
                .map(|i| (i as usize, dev_off, len))
                .collect()
        } else if c.profile & (BG_DUP | BG_RAID1 | BG_RAID1C3 | BG_RAID1C4) != 0 {
            (0..c.stripes.len())
                .map(|i| (i, off, left_in_chunk))
                .collect()
        } else {
            vec![(0, off, left_in_chunk)]
        };
        let mut here = candidates
            .iter()
            .filter(|(i, _, _)| c.stripes[*i].0 == self.devid);
        let Some(&(idx, dev_off, len)) = here.nth(copy) else {
            if copy > 0 {
                return Ok(None);
            }
            let devid = c.stripes[candidates[0].0].0;
            return Err(Error::Unsupported(format!(
                "logical address {logical:#x} is on device {devid}, not on this device ({}): \
                 multi-device file systems need every device",
                self.devid
            )));
        };
        let physical = c.stripes[idx]
            .1
            .checked_add(dev_off)
            .ok_or_else(|| Error::Corrupt("stripe offset overflows".into()))?;
        Ok(Some(Mapped { physical, len }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(length: u64, profile: u64, stripes: &[(u64, u64)], sub: u16) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0..8].copy_from_slice(&length.to_le_bytes());
        b[16..24].copy_from_slice(&65536u64.to_le_bytes());
        b[24..32].copy_from_slice(&profile.to_le_bytes());
        b[44..46].copy_from_slice(&(stripes.len() as u16).to_le_bytes());
        b[46..48].copy_from_slice(&sub.to_le_bytes());
        for (d, o) in stripes {
            b.extend_from_slice(&d.to_le_bytes());
            b.extend_from_slice(&o.to_le_bytes());
            b.extend_from_slice(&[0u8; 16]);
        }
        b
    }

    #[test]
    fn raid0_and_raid10_stripe_and_other_devices_are_named() {
        let mut m = ChunkMap::new(1);
        m.add(
            1 << 30,
            &item(1 << 20, BG_RAID0, &[(1, 0x1000_0000), (1, 0x2000_0000)], 0),
        )
        .unwrap();
        let a = m.map((1 << 30) + 65536 + 5).unwrap();
        assert_eq!(a.physical, 0x2000_0000 + 5);
        assert_eq!(a.len, 65536 - 5);
        let a = m.map((1 << 30) + 2 * 65536).unwrap();
        assert_eq!(a.physical, 0x1000_0000 + 65536);
        m.add(
            2 << 30,
            &item(
                1 << 20,
                BG_RAID10,
                &[(2, 0), (1, 100 << 20), (2, 0), (1, 200 << 20)],
                2,
            ),
        )
        .unwrap();
        assert_eq!(m.map((2 << 30) + 65536).unwrap().physical, 200 << 20);
        m.add(3 << 30, &item(1 << 20, 0, &[(7, 0)], 0)).unwrap();
        let e = m.map(3 << 30).err().unwrap();
        assert!(
            matches!(&e, Error::Unsupported(m) if m.contains("device 7")),
            "{e:?}"
        );
        assert!(
            m.add((3 << 30) + 4096, &item(4096, 0, &[(1, 0)], 0))
                .is_err()
        );
    }
}
