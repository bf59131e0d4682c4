//! The .xz container (The .xz File Format, version 1.1.0, tukaani.org/xz/xz-file-format.txt):
//! stream header, blocks, index, stream footer — read here so that exactly one stream is
//! consumed (lzma-rs' own xz reader insists on the end of the input after it). The LZMA2 data
//! of each block is decoded by lzma-rs.
//!
//! lzma-rs keeps the output of an LZMA2 dictionary in memory until the next dictionary reset
//! (xz resets it only at the start of a block), so the LZMA2 chunk headers (xz-file-format
//! and the LZMA2 chunk layout: control byte, sizes, props) are watched as the bytes pass and
//! a block whose chunks would unpack to more than `Options::max_xz_block` (or past the total
//! budget) is stopped before lzma-rs allocates for it.

use super::ErrorKind;
use super::decompress::{Input, Sink};
use std::io::{self, BufRead, Read};

const HEADER_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];
const FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
/// More blocks than this in one stream is not an initramfs.
const MAX_BLOCKS: u64 = 1 << 20;

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

fn read_n<const N: usize>(r: &mut dyn Read, what: &str) -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| format!("{what}: {e}"))?;
    Ok(b)
}

/// A variable-length integer (xz-file-format 1.2): 7 bits a byte, at most 9 bytes.
fn multibyte(b: &[u8], i: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for k in 0..9 {
        let Some(&byte) = b.get(*i) else {
            return Err("truncated variable-length integer".into());
        };
        *i += 1;
        v |= u64::from(byte & 0x7f) << (7 * k);
        if byte & 0x80 == 0 {
            if byte == 0 && k > 0 {
                return Err("variable-length integer not in its shortest form".into());
            }
            return Ok(v);
        }
    }
    Err("variable-length integer longer than 9 bytes".into())
}

fn read_multibyte(r: &mut dyn Read, crc: &mut flate2::Crc, count: &mut u64) -> Result<u64, String> {
    let mut v: u64 = 0;
    for k in 0..9 {
        let [byte] = read_n::<1>(r, "index")?;
        crc.update(&[byte]);
        *count += 1;
        v |= u64::from(byte & 0x7f) << (7 * k);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("index: variable-length integer longer than 9 bytes".into())
}

fn check_size(check: u8) -> u64 {
    match check {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    }
}

/// Decode one .xz stream, the input at its magic.
pub fn decode(input: &mut Input, sink: &mut Sink) -> Result<(), String> {
    let start = input.offset;
    let hdr = read_n::<12>(input, "stream header")?;
    if hdr.get(..6) != Some(&HEADER_MAGIC[..]) {
        return Err("not an .xz stream header".into());
    }
    let flags = [hdr[6], hdr[7]];
    if crc32(&flags) != u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) {
        return Err(format!("stream header CRC32 mismatch at offset {start}"));
    }
    if flags[0] != 0 || flags[1] & 0xf0 != 0 {
        return Err(format!(
            "unsupported stream flags {:02x}{:02x}",
            flags[0], flags[1]
        ));
    }
    let check = flags[1] & 0x0f;
    if check != 0 && check != 1 {
        sink.col.warn(format!(
            "xz stream at offset {start} uses check type {check}, not CRC32: the kernel's \
             decoder needs `xz --check=crc32` (Documentation/staging/xz.rst)"
        ));
    }
    let mut records: Vec<(u64, u64)> = Vec::new();
    loop {
        let at = input.offset;
        let [size_byte] = read_n::<1>(input, "block header")?;
        if size_byte == 0 {
            break; // the index indicator
        }
        if records.len() as u64 >= MAX_BLOCKS {
            return Err(format!("more than {MAX_BLOCKS} blocks"));
        }
        let hlen = (usize::from(size_byte) + 1) * 4;
        let mut h = vec![0u8; hlen];
        h[0] = size_byte;
        input
            .read_exact(h.get_mut(1..).unwrap_or_default())
            .map_err(|e| format!("block header at offset {at}: {e}"))?;
        let (body, crc) = h.split_at(hlen - 4);
        if crc32(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(format!("block header CRC32 mismatch at offset {at}"));
        }
        let bflags = body.get(1).copied().unwrap_or(0);
        if bflags & 0x3c != 0 {
            return Err(format!("block header at offset {at}: reserved flags set"));
        }
        let mut i = 2;
        let declared_comp = if bflags & 0x40 != 0 {
            Some(multibyte(body, &mut i)?)
        } else {
            None
        };
        let declared_unc = if bflags & 0x80 != 0 {
            Some(multibyte(body, &mut i)?)
        } else {
            None
        };
        let filters = usize::from(bflags & 3) + 1;
        for f in 0..filters {
            let id = multibyte(body, &mut i)?;
            let psize = multibyte(body, &mut i)?;
            if f + 1 < filters || id != 0x21 {
                return Err(format!(
                    "block at offset {at}: filter 0x{id:x} is not supported (only a lone LZMA2 filter)"
                ));
            }
            if psize != 1 {
                return Err(format!(
                    "block at offset {at}: LZMA2 properties of {psize} bytes"
                ));
            }
            let dict = body.get(i).copied().unwrap_or(0xff);
            i += 1;
            if dict > 40 {
                return Err(format!(
                    "block at offset {at}: LZMA2 dictionary size byte {dict}"
                ));
            }
        }
        if body.get(i..).unwrap_or_default().iter().any(|&b| b != 0) {
            return Err(format!("block header at offset {at}: non-zero padding"));
        }
        // The LZMA2 data.
        let data_at = input.offset;
        let out_before = sink.out;
        sink.crc = (check == 1).then(flate2::Crc::new);
        let budget = sink.col.opts.max_unpacked.saturating_sub(sink.col.unpacked);
        let mut guard = Guard {
            inner: input,
            watch: Watch {
                state: Chunk::Control,
                since_reset: 0,
                total: 0,
                max_memory: sink.col.opts.max_xz_block,
                budget,
                stop: None,
            },
        };
        let r = lzma_rs::lzma2_decompress(&mut guard, &mut *sink);
        if let Some(stop) = guard.watch.stop.take() {
            if sink.error.is_none() {
                sink.error = Some((ErrorKind::TooLarge, Some(out_before), stop));
            }
            return Err("stopped".into());
        }
        r.map_err(|e| format!("block at offset {at}: {e}"))?;
        let comp = input.offset - data_at;
        let unc = sink.out - out_before;
        if declared_comp.is_some_and(|c| c != comp) || declared_unc.is_some_and(|u| u != unc) {
            return Err(format!(
                "block at offset {at}: sizes differ from its header"
            ));
        }
        let unpadded = hlen as u64 + comp + check_size(check);
        let pad = (4 - (hlen as u64 + comp) % 4) % 4;
        for _ in 0..pad {
            let [b] = read_n::<1>(input, "block padding")?;
            if b != 0 {
                return Err(format!("block at offset {at}: non-zero block padding"));
            }
        }
        let mut field = vec![0u8; check_size(check) as usize];
        input
            .read_exact(&mut field)
            .map_err(|e| format!("block check at offset {}: {e}", input.offset))?;
        if let Some(crc) = sink.crc.take() {
            let want = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            if crc.sum() != want {
                return Err(format!(
                    "block at offset {at}: CRC32 of the data 0x{:08x}, check field 0x{want:08x}",
                    crc.sum()
                ));
            }
        }
        records.push((unpadded, unc));
    }
    // The index (its indicator byte was read).
    let index_at = input.offset - 1;
    let mut crc = flate2::Crc::new();
    crc.update(&[0]);
    let mut count = 1u64;
    let n = read_multibyte(input, &mut crc, &mut count)?;
    if n != records.len() as u64 {
        return Err(format!(
            "index at offset {index_at} lists {n} blocks, the stream holds {}",
            records.len()
        ));
    }
    for &(unpadded, unc) in &records {
        let a = read_multibyte(input, &mut crc, &mut count)?;
        let b = read_multibyte(input, &mut crc, &mut count)?;
        if (a, b) != (unpadded, unc) {
            return Err(format!(
                "index at offset {index_at} does not match the blocks"
            ));
        }
    }
    while !count.is_multiple_of(4) {
        let [b] = read_n::<1>(input, "index padding")?;
        crc.update(&[b]);
        count += 1;
        if b != 0 {
            return Err(format!("index at offset {index_at}: non-zero padding"));
        }
    }
    let stored = read_n::<4>(input, "index CRC32")?;
    if crc.sum() != u32::from_le_bytes(stored) {
        return Err(format!("index at offset {index_at}: CRC32 mismatch"));
    }
    let footer_at = input.offset;
    let f = read_n::<12>(input, "stream footer")?;
    if crc32(f.get(4..10).unwrap_or_default()) != u32::from_le_bytes([f[0], f[1], f[2], f[3]]) {
        return Err(format!(
            "stream footer CRC32 mismatch at offset {footer_at}"
        ));
    }
    let backward = (u64::from(u32::from_le_bytes([f[4], f[5], f[6], f[7]])) + 1) * 4;
    if backward != count + 4 {
        return Err(format!(
            "stream footer at offset {footer_at}: backward size mismatch"
        ));
    }
    if [f[8], f[9]] != flags || [f[10], f[11]] != FOOTER_MAGIC {
        return Err(format!(
            "stream footer at offset {footer_at}: bad flags or magic"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Control,
    /// Header bytes still to read after the control byte; `lzma` chunks carry sizes.
    Header {
        control: u8,
        have: usize,
        need: usize,
        bytes: [u8; 5],
    },
    Data(u64),
    End,
}

/// Watches LZMA2 chunk headers as lzma-rs consumes them (see the module comment).
struct Guard<'a, 'r> {
    inner: &'a mut Input<'r>,
    watch: Watch,
}

struct Watch {
    state: Chunk,
    since_reset: u64,
    total: u64,
    max_memory: u64,
    budget: u64,
    stop: Option<String>,
}

impl Watch {
    fn observe(&mut self, bytes_in: &[u8]) {
        let mut i = 0;
        while i < bytes_in.len() {
            match self.state {
                Chunk::End => return,
                Chunk::Data(n) => {
                    let take = n.min((bytes_in.len() - i) as u64);
                    i += take as usize;
                    self.state = if take == n {
                        Chunk::Control
                    } else {
                        Chunk::Data(n - take)
                    };
                }
                Chunk::Control => {
                    let Some(&c) = bytes_in.get(i) else { return };
                    i += 1;
                    self.state = match c {
                        0 => Chunk::End,
                        1 | 2 => Chunk::Header {
                            control: c,
                            have: 0,
                            need: 2,
                            bytes: [0; 5],
                        },
                        0x80..=0xff => Chunk::Header {
                            control: c,
                            have: 0,
                            need: if (c >> 5) & 3 >= 2 { 5 } else { 4 },
                            bytes: [0; 5],
                        },
                        _ => Chunk::End, // invalid; lzma-rs reports it
                    };
                }
                Chunk::Header {
                    control,
                    mut have,
                    need,
                    mut bytes,
                } => {
                    if let (Some(slot), Some(&b)) = (bytes.get_mut(have), bytes_in.get(i)) {
                        *slot = b;
                    }
                    have += 1;
                    i += 1;
                    if have < need {
                        self.state = Chunk::Header {
                            control,
                            have,
                            need,
                            bytes,
                        };
                        continue;
                    }
                    self.chunk(control, &bytes);
                }
            }
        }
    }

    fn chunk(&mut self, control: u8, b: &[u8; 5]) {
        let (unpacked, packed, reset) = if control < 0x80 {
            let size = u64::from(u16::from_be_bytes([b[0], b[1]])) + 1;
            (size, size, control == 1)
        } else {
            let unpacked = ((u64::from(control & 0x1f) << 16)
                | u64::from(u16::from_be_bytes([b[0], b[1]])))
                + 1;
            let packed = u64::from(u16::from_be_bytes([b[2], b[3]])) + 1;
            (unpacked, packed, (control >> 5) & 3 == 3)
        };
        if reset {
            self.since_reset = 0;
        }
        self.since_reset += unpacked;
        self.total += unpacked;
        if self.total > self.budget {
            self.stop = Some(format!(
                "more than {} bytes of cpio data in all (decompression bomb?)",
                self.budget
            ));
        } else if self.since_reset > self.max_memory {
            self.stop = Some(format!(
                "an xz block unpacking to more than {} bytes in one LZMA2 dictionary, which \
                 this reader would hold in memory",
                self.max_memory
            ));
        }
        self.state = Chunk::Data(packed);
    }
}

impl Read for Guard<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Guard<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.watch.stop.is_some() {
            return Err(io::Error::other("stopped: too large"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            self.watch
                .observe(b.get(..amt.min(b.len())).unwrap_or_default());
        }
        self.inner.consume(amt);
    }
}
