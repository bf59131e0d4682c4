//! The input buffer and the decompressors, each consuming exactly its own stream from the
//! input so that the next segment starts where the kernel would look for it
//! (lib/decompress_*.c report the consumed length through `pos`).

use super::{Collector, Compression, ErrorKind, cpio::Parser};
use std::io::{self, BufRead, Read, Write};

const INPUT_BUF: usize = 64 * 1024;

/// The caller's reader with our own buffer, tracking the file offset of the next byte.
pub struct Input<'r> {
    inner: &'r mut dyn Read,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    pub offset: u64,
}

impl<'r> Input<'r> {
    pub fn new(inner: &'r mut dyn Read) -> Input<'r> {
        Input {
            inner,
            buf: vec![0; INPUT_BUF],
            start: 0,
            end: 0,
            offset: 0,
        }
    }

    fn read_inner(&mut self, at: usize) -> io::Result<usize> {
        let Some(dst) = self.buf.get_mut(at..) else {
            return Ok(0);
        };
        loop {
            match self.inner.read(dst) {
                Ok(n) => return Ok(n.min(dst.len())),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// At least `n` bytes (n ≤ the buffer size) unless the input ends first.
    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(INPUT_BUF);
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                let got = self.read_inner(self.end)?;
                if got == 0 {
                    break;
                }
                self.end += got;
            }
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }
}

impl Read for Input<'_> {
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

impl BufRead for Input<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
            self.end = self.read_inner(0)?;
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        let n = amt.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }
}

/// A failure inside a compressed segment: kind, decompressed offset (when it is the cpio
/// content that is wrong), message.
pub type DErr = (ErrorKind, Option<u64>, String);

/// Where decompressed bytes go: counted against the budget, then parsed.
pub struct Sink<'a, 'o> {
    pub parser: &'a mut Parser,
    pub col: &'a mut Collector<'o>,
    pub error: Option<DErr>,
    pub out: u64,
    /// CRC32 of the output (xz blocks with a CRC32 check).
    pub crc: Option<flate2::Crc>,
}

impl Write for Sink<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Err(io::Error::other("stopped"));
        }
        let max = self.col.opts.max_unpacked;
        if self.col.unpacked.saturating_add(buf.len() as u64) > max {
            self.error = Some((
                ErrorKind::TooLarge,
                Some(self.out),
                format!("more than {max} bytes of cpio data in all (decompression bomb?)"),
            ));
            return Err(io::Error::other("budget"));
        }
        self.col.unpacked += buf.len() as u64;
        self.out += buf.len() as u64;
        if let Some(crc) = &mut self.crc {
            crc.update(buf);
        }
        if let Err((k, at, m)) = self.parser.feed(buf, self.col) {
            self.error = Some((k, Some(at), m));
            return Err(io::Error::other("cpio"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Run the decompressor for `c`, the input positioned at its magic.
pub fn decompress(c: Compression, input: &mut Input, sink: &mut Sink) -> Result<(), DErr> {
    let name = c.name();
    let fail = |sink: &mut Sink, e: String| -> DErr {
        sink.error
            .take()
            .unwrap_or((ErrorKind::Compression, None, format!("{name}: {e}")))
    };
    let r = match c {
        Compression::Gzip => {
            let mut d = flate2::bufread::GzDecoder::new(&mut *input);
            pump(&mut d, sink)
        }
        Compression::Zstd => match ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
            &mut *input,
            sink.col.opts.max_window,
        ) {
            Ok(mut d) => pump(&mut d, sink),
            Err(e) => Err(io::Error::other(e.to_string())),
        },
        Compression::Bzip2 => {
            let mut d = bzip2::bufread::BzDecoder::new(&mut *input);
            pump(&mut d, sink)
        }
        Compression::Lz4 => return lz4_legacy(input, sink).map_err(|e| fail(sink, e)),
        Compression::Lzma => {
            let o = lzma_rs::decompress::Options {
                memlimit: Some(sink.col.opts.max_window as usize),
                ..Default::default()
            };
            lzma_rs::lzma_decompress_with_options(&mut *input, &mut *sink, &o)
                .map_err(|e| io::Error::other(e.to_string()))
        }
        Compression::Xz => return super::xz::decode(input, sink).map_err(|e| fail(sink, e)),
        Compression::None | Compression::Lzo | Compression::OldGzip => {
            return Err((
                ErrorKind::Unsupported,
                None,
                format!("{name}-compressed segments are not supported"),
            ));
        }
    };
    r.map_err(|e| fail(sink, e.to_string()))
}

fn pump(r: &mut dyn Read, sink: &mut Sink) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sink.write_all(buf.get(..n).unwrap_or_default())?;
    }
}

/// lz4 "legacy" format (lib/decompress_unlz4.c): magic 0x184C2102, then chunks, each a
/// little-endian 32-bit compressed size and an LZ4 block of at most 8 MiB once decompressed.
/// There is no end mark: the stream goes on until the input ends or a zero size (padding)
/// comes; the magic may repeat (concatenated streams).
fn lz4_legacy(input: &mut Input, sink: &mut Sink) -> Result<(), String> {
    const MAGIC: u32 = 0x184C_2102;
    const CHUNK: usize = 8 << 20;
    // LZ4_compressBound(8 MiB), the most a chunk can take.
    const BOUND: usize = CHUNK + CHUNK / 255 + 16;
    input.consume(4);
    let mut out = vec![0u8; CHUNK];
    let mut comp = Vec::new();
    loop {
        let at = input.offset;
        let head = input.peek(4).map_err(|e| e.to_string())?;
        let Some(size) = head
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        else {
            // Fewer than 4 bytes left: the end (the kernel stops there too).
            return Ok(());
        };
        if size == 0 {
            return Ok(()); // zero padding after the stream, left to the caller
        }
        input.consume(4);
        if size == MAGIC {
            continue;
        }
        let size = size as usize;
        if size > BOUND {
            return Err(format!(
                "chunk at offset {at} claims {size} compressed bytes, more than an 8 MiB chunk can take ({BOUND})"
            ));
        }
        comp.resize(size, 0);
        input
            .read_exact(&mut comp)
            .map_err(|e| format!("chunk at offset {at} of {size} bytes: {e}"))?;
        let n = lz4_flex::block::decompress_into(&comp, &mut out)
            .map_err(|e| format!("chunk at offset {at}: {e}"))?;
        sink.write_all(out.get(..n).unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
}
