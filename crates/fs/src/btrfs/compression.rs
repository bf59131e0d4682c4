//! Extent decompression ("Compression" in the btrfs documentation; `compression` field of
//! `btrfs_file_extent_item`: 1 zlib, 2 lzo, 3 zstd). A compressed extent holds at most 128 KiB
//! of uncompressed data and is compressed as one unit:
//!
//! - zlib: one zlib stream (RFC 1950).
//! - zstd: one zstd frame.
//! - lzo: a 4-byte little-endian total length (header included), then segments, each a 4-byte
//!   little-endian compressed length and an LZO1X stream that decompresses to one sector (the
//!   last one to less). A segment header never straddles a sector boundary: when fewer than 4
//!   bytes are left in the sector, the rest of it is padding.
//!
//! Output shorter than the extent's `ram_bytes` is completed with zeros, as the kernel does.

use std::io::Read;

use preflight_io::le;

use super::{Error, R};

pub const COMPRESS_NONE: u8 = 0;
pub const COMPRESS_ZLIB: u8 = 1;
pub const COMPRESS_LZO: u8 = 2;
pub const COMPRESS_ZSTD: u8 = 3;
/// BTRFS_MAX_UNCOMPRESSED: a compressed extent never holds more.
pub const MAX_UNCOMPRESSED: u64 = 128 * 1024;

/// Decompress `input` to exactly `out_len` bytes.
pub fn decompress(kind: u8, input: &[u8], out_len: usize, sectorsize: usize) -> R<Vec<u8>> {
    if out_len as u64 > MAX_UNCOMPRESSED {
        return Err(Error::Corrupt(format!(
            "compressed extent of {out_len} bytes (more than {MAX_UNCOMPRESSED})"
        )));
    }
    let mut out = match kind {
        COMPRESS_ZLIB => zlib(input, out_len),
        COMPRESS_ZSTD => zstd(input, out_len),
        COMPRESS_LZO => lzo_btrfs(input, out_len, sectorsize),
        other => Err(format!("compression type {other}")),
    }
    .map_err(|m| Error::Corrupt(format!("compressed extent: {m}")))?;
    out.resize(out_len, 0);
    Ok(out)
}

fn zlib(input: &[u8], out_len: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; out_len];
    // Like the kernel, inflate the raw deflate data after a valid 2-byte zlib header without
    // a preset dictionary (the Adler-32 at the end is then not checked).
    let (raw, data) = if input.len() >= 2
        && input[0] & 0x0f == 8
        && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0
        && input[1] & 0x20 == 0
    {
        (true, &input[2..])
    } else {
        (false, input)
    };
    let mut d = flate2::Decompress::new(!raw);
    d.decompress(data, &mut out, flate2::FlushDecompress::Finish)
        .map_err(|e| format!("zlib stream is invalid: {e}"))?;
    let produced = d.total_out() as usize;
    out.truncate(produced);
    Ok(out)
}

fn zstd(input: &[u8], out_len: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; out_len];
    let mut src = input;
    let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
        .map_err(|e| format!("zstd frame is invalid: {e}"))?;
    let mut filled = 0;
    while filled < out_len {
        let n = dec
            .read(&mut out[filled..])
            .map_err(|e| format!("zstd data is invalid: {e}"))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    out.truncate(filled);
    Ok(out)
}

fn lzo_btrfs(input: &[u8], out_len: usize, sectorsize: usize) -> Result<Vec<u8>, String> {
    if input.len() < 4 {
        return Err("lzo: no length header".into());
    }
    let total = le::u32(input, 0) as usize;
    if total > input.len() || total < 4 {
        return Err(format!(
            "lzo: total length {total} for {} bytes of data",
            input.len()
        ));
    }
    let mut out = Vec::with_capacity(out_len);
    let mut cur = 4usize;
    while cur < total && out.len() < out_len {
        let left_in_sector = sectorsize - cur % sectorsize;
        if left_in_sector < 4 {
            cur += left_in_sector;
            if cur >= total {
                break;
            }
        }
        if cur + 4 > total {
            return Err("lzo: truncated segment header".into());
        }
        let seg = le::u32(input, cur) as usize;
        cur += 4;
        if seg > total - cur {
            return Err(format!("lzo: segment of {seg} bytes past the end"));
        }
        let limit = sectorsize.min(out_len - out.len());
        let part = lzo1x(&input[cur..cur + seg], limit)?;
        let short = part.len() < sectorsize;
        out.extend_from_slice(&part);
        cur += seg;
        if short {
            break; // only the last segment decompresses to less than a sector
        }
    }
    Ok(out)
}

/// LZO1X decompression (the instruction set described in the Linux kernel's
/// `Documentation/staging/lzo.rst`), producing at most `max` bytes.
pub fn lzo1x(src: &[u8], max: usize) -> Result<Vec<u8>, String> {
    struct In<'a> {
        b: &'a [u8],
        p: usize,
    }
    impl In<'_> {
        fn byte(&mut self) -> Result<usize, String> {
            let v = *self.b.get(self.p).ok_or("lzo1x: input overrun")?;
            self.p += 1;
            Ok(usize::from(v))
        }
        /// The length extension: each zero byte adds 255, the first non-zero byte ends it.
        fn ext(&mut self, max: usize) -> Result<usize, String> {
            let mut n = 0usize;
            loop {
                let b = self.byte()?;
                if b != 0 {
                    return Ok(n + b);
                }
                n += 255;
                if n > max + 255 {
                    return Err("lzo1x: length past the output limit".into());
                }
            }
        }
        fn le16(&mut self) -> Result<usize, String> {
            let lo = self.byte()?;
            Ok(lo | self.byte()? << 8)
        }
    }
    let literals = |i: &mut In, out: &mut Vec<u8>, n: usize| -> Result<(), String> {
        if out.len() + n > max {
            return Err("lzo1x: output overrun".into());
        }
        let s = i.b.get(i.p..i.p + n).ok_or("lzo1x: input overrun")?;
        out.extend_from_slice(s);
        i.p += n;
        Ok(())
    };
    let mut i = In { b: src, p: 0 };
    let mut out = Vec::with_capacity(max);
    // Literals copied by the previous instruction: 0, 1..=3, or 4 for "4 or more".
    let mut state;
    match src.first() {
        Some(&b) if b > 17 => {
            i.p = 1;
            let t = usize::from(b) - 17;
            literals(&mut i, &mut out, t)?;
            state = t.min(4);
        }
        Some(_) => state = 0,
        None => return Err("lzo1x: empty stream".into()),
    }
    loop {
        let inst = i.byte()?;
        let (len, dist, s);
        if inst < 16 {
            if state == 0 {
                let n = 3 + if inst != 0 { inst } else { 15 + i.ext(max)? };
                literals(&mut i, &mut out, n)?;
                state = 4;
                continue;
            }
            let h = i.byte()?;
            if state < 4 {
                len = 2;
                dist = (h << 2) + ((inst >> 2) & 3) + 1;
            } else {
                len = 3;
                dist = (h << 2) + ((inst >> 2) & 3) + 2049;
            }
            s = inst & 3;
        } else if inst < 32 {
            let l = inst & 7;
            len = 2 + if l != 0 { l } else { 7 + i.ext(max)? };
            let v = i.le16()?;
            dist = 16384 + ((inst & 8) << 11) + (v >> 2);
            s = v & 3;
            if dist == 16384 {
                return Ok(out); // end of stream
            }
        } else if inst < 64 {
            let l = inst & 31;
            len = 2 + if l != 0 { l } else { 31 + i.ext(max)? };
            let v = i.le16()?;
            dist = (v >> 2) + 1;
            s = v & 3;
        } else {
            let h = i.byte()?;
            len = if inst < 128 {
                3 + ((inst >> 5) & 1)
            } else {
                5 + ((inst >> 5) & 3)
            };
            dist = (h << 3) + ((inst >> 2) & 7) + 1;
            s = inst & 3;
        }
        if dist > out.len() {
            return Err("lzo1x: match before the start of the output".into());
        }
        if out.len() + len > max {
            return Err("lzo1x: output overrun".into());
        }
        let from = out.len() - dist;
        for k in 0..len {
            let b = out[from + k];
            out.push(b);
        }
        literals(&mut i, &mut out, s)?;
        state = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzo1x_literals_matches_and_end() {
        // "abcd" as a first literal run, a 2kB-window match of 8 bytes at distance 4
        // (1 L L D D D S S with L=3 → len 8, D=3, H=0 → dist 4), then the end marker.
        let stream = [17 + 4, b'a', b'b', b'c', b'd', 0b1110_1100, 0, 0x11, 0, 0];
        assert_eq!(lzo1x(&stream, 100).unwrap(), b"abcdabcdabcd");
        assert!(lzo1x(&stream, 5).is_err());
        assert!(lzo1x(&stream[..6], 100).is_err());
        // A match reaching before the output start is refused.
        assert!(lzo1x(&[17 + 1, b'a', 0b1110_1100, 0, 0x11, 0, 0], 100).is_err());
    }

    #[test]
    fn btrfs_lzo_framing_and_zero_fill() {
        let seg = [17 + 4, b'a', b'b', b'c', b'd', 0x11, 0, 0];
        let mut data = ((4 + 4 + seg.len()) as u32).to_le_bytes().to_vec();
        data.extend_from_slice(&(seg.len() as u32).to_le_bytes());
        data.extend_from_slice(&seg);
        assert_eq!(
            decompress(COMPRESS_LZO, &data, 6, 4096).unwrap(),
            b"abcd\0\0"
        );
        assert!(decompress(COMPRESS_LZO, &data[..10], 6, 4096).is_err());
        assert!(decompress(COMPRESS_ZLIB, &[1, 2, 3], 6, 4096).is_err());
        assert!(decompress(COMPRESS_ZSTD, &[1, 2, 3], 6, 4096).is_err());
        assert!(decompress(COMPRESS_ZSTD, &[], 200_000, 4096).is_err());
    }
}
