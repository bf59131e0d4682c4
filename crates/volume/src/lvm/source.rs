//! A logical volume as a byte source: LV offsets mapped to PV extents, segment by segment, as
//! device-mapper's `linear` and `striped` targets map them.

use preflight_io::{ByteSource, IoError, Source, check_bounds};

/// One stripe of a mapped segment: the PV and the byte offset of the stripe's first extent.
pub(crate) struct MappedStripe {
    pub pv: Source,
    /// Byte offset on the PV.
    pub offset: u64,
    /// For messages: the PV UUID.
    pub pv_uuid: String,
}

/// A segment with every number in bytes, already checked: `len` is a multiple of the stripe
/// count, each stripe's share (`len / stripes`) a multiple of `stripe_size`, and every stripe
/// lies inside its PV as the metadata describes it.
pub(crate) struct MappedSegment {
    /// Byte offset in the LV.
    pub start: u64,
    pub len: u64,
    /// Bytes per chunk (ignored with a single stripe).
    pub stripe_size: u64,
    pub stripes: Vec<MappedStripe>,
}

/// The LV: segments sorted by `start`, contiguous from 0.
pub(crate) struct LvSource {
    pub name: String,
    pub len: u64,
    pub segments: Vec<MappedSegment>,
}

impl ByteSource for LvSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            // The segment holding `pos`: the last one starting at or before it.
            let i = self.segments.partition_point(|s| s.start <= pos);
            let Some(seg) = i.checked_sub(1).and_then(|i| self.segments.get(i)) else {
                return Err(IoError::corrupt(
                    "LVM2",
                    pos,
                    format!("LV {}: no segment maps this offset", self.name),
                ));
            };
            let within = pos - seg.start;
            if within >= seg.len {
                return Err(IoError::corrupt(
                    "LVM2",
                    pos,
                    format!("LV {}: no segment maps this offset", self.name),
                ));
            }
            let left_in_seg = seg.len - within;
            let n = seg.stripes.len() as u64;
            let (stripe, pv_offset, run) = if n <= 1 {
                (0usize, within, left_in_seg)
            } else {
                let chunk = within / seg.stripe_size;
                let in_chunk = within % seg.stripe_size;
                let stripe = (chunk % n) as usize;
                let row = chunk / n;
                (
                    stripe,
                    row * seg.stripe_size + in_chunk,
                    (seg.stripe_size - in_chunk).min(left_in_seg),
                )
            };
            let Some(st) = seg.stripes.get(stripe) else {
                return Err(IoError::corrupt("LVM2", pos, "stripe index out of range"));
            };
            let want = (buf.len() - done) as u64;
            let take = run.min(want) as usize;
            let at = st
                .offset
                .checked_add(pv_offset)
                .ok_or_else(|| IoError::corrupt("LVM2", pos, "PV offset overflows"))?;
            st.pv
                .read_at(at, &mut buf[done..done + take])
                .map_err(|e| match e {
                    IoError::OutOfBounds { size, .. } => IoError::corrupt(
                        "LVM2",
                        pos,
                        format!(
                            "LV {} maps this offset to byte {at} of PV {}, past its end ({size} \
                             bytes): the image is truncated",
                            self.name, st.pv_uuid
                        ),
                    ),
                    e => e,
                })?;
            done += take;
        }
        Ok(())
    }
}
