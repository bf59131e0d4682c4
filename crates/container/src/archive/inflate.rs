//! A DEFLATE decoder (RFC 1951) for gzip files (RFC 1952, one or more members) that can start
//! at any block boundary given the output that preceded it.
//!
//! Why our own: a random-access index over a tar.gz (see `gzip_index`) restarts decoding in
//! the middle of the stream, at a bit offset, with the last 32 KiB of output as history.
//! flate2's pure-Rust backend cannot start at a bit offset, so the index needs a decoder whose
//! state at a block boundary is just (bit position, window).
//!
//! The decoder pulls compressed bytes from a [`Source`] in large chunks and hands out
//! uncompressed bytes in pieces: [`Inflater::advance`] decodes until the end of the current
//! block or until its buffer is full, then the caller looks at [`Inflater::output`] and, at a
//! block boundary, [`Inflater::at_block_start`]. Hostile input: every code is validated, every
//! distance is checked against the history we hold, and a stream that ends early says
//! "truncated at compressed offset …".

use preflight_io::{ByteSource, IoError, Source};

const LAYER: &str = "gzip";
/// The history a deflate distance may reach back into (RFC 1951 §2: 32 KiB).
pub const WINDOW: usize = 32 * 1024;
/// Output decoded per call at most, beside the window.
const OUT_CHUNK: usize = 512 * 1024;
/// Longest match (RFC 1951 §3.2.5).
const MAX_MATCH: usize = 258;
const OUT_CAP: usize = WINDOW + OUT_CHUNK + MAX_MATCH;
/// gzip header file name and comment fields longer than this are refused: real ones are short,
/// and a header without its terminating zero would otherwise be scanned to the end of the file.
const MAX_HEADER_FIELD: usize = 64 * 1024;

/// Bits of the first-level lookup of a Huffman table: codes up to this long decode in one
/// lookup; longer ones (rare) go through a second-level table.
const PRIMARY_BITS: u32 = 10;
const PRIMARY_SIZE: usize = 1 << PRIMARY_BITS;
/// Table entry layout: symbol (or second-level offset) in bits 0..16, code length (or
/// second-level index width) in bits 16..21, bit 31 set for a second-level pointer. An entry of
/// 0 (length 0) is a code the table does not assign.
const SUBTABLE: u32 = 1 << 31;

/// RFC 1951 §3.2.5: base lengths and extra bits of length symbols 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances and extra bits of distance symbols 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// RFC 1951 §3.2.7: the order code length code lengths are stored in.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

fn corrupt(offset: u64, message: impl Into<String>) -> IoError {
    IoError::corrupt(LAYER, offset, message)
}

fn truncated(offset: u64) -> IoError {
    corrupt(
        offset,
        format!("the compressed data is truncated at compressed offset {offset}"),
    )
}

/// LSB-first bit reader over a source, refilled in chunks of `chunk` bytes.
///
/// `bits` may hold, above `count`, bits of bytes not yet accounted for (the 8-byte refill
/// loads whole words); they are always the true next bits of the file, so OR-ing them in
/// again later is harmless.
struct BitReader {
    src: Source,
    chunk: usize,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// Next byte of `buf` not yet in `bits`.
    next: usize,
    bits: u64,
    count: u32,
}

impl BitReader {
    fn new(src: Source, chunk: usize, byte_offset: u64) -> Self {
        BitReader {
            src,
            chunk: chunk.max(64),
            buf: Vec::new(),
            base: byte_offset,
            next: 0,
            bits: 0,
            count: 0,
        }
    }

    /// Offset in bits of the next unread bit.
    fn bit_pos(&self) -> u64 {
        (self.base + self.next as u64) * 8 - u64::from(self.count)
    }

    /// Offset of the byte holding the next unread bit.
    fn byte_pos(&self) -> u64 {
        self.bit_pos() / 8
    }

    /// Loads the next chunk of the file; false at the end of the file.
    fn load(&mut self) -> Result<bool, IoError> {
        let pos = self.base + self.next as u64;
        let len = self.src.len();
        if pos >= len {
            return Ok(false);
        }
        let n = (len - pos).min(self.chunk as u64) as usize;
        self.buf.resize(n, 0);
        self.src.read_at(pos, &mut self.buf)?;
        self.base = pos;
        self.next = 0;
        Ok(true)
    }

    /// Ensures at least 56 bits are buffered, unless the file ends first.
    #[inline(always)]
    fn refill(&mut self) -> Result<(), IoError> {
        if self.count >= 56 {
            return Ok(());
        }
        if let Some(word) = self.buf.get(self.next..self.next + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(word);
            self.bits |= u64::from_le_bytes(a) << self.count;
            let take = (63 - self.count) / 8;
            self.next += take as usize;
            self.count += take * 8;
            return Ok(());
        }
        self.refill_slow()
    }

    #[cold]
    fn refill_slow(&mut self) -> Result<(), IoError> {
        while self.count <= 56 {
            match self.buf.get(self.next) {
                Some(&b) => {
                    self.bits |= u64::from(b) << self.count;
                    self.next += 1;
                    self.count += 8;
                }
                None => {
                    if !self.load()? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) -> Result<(), IoError> {
        if n > self.count {
            return Err(truncated(self.src.len()));
        }
        self.bits >>= n;
        self.count -= n;
        Ok(())
    }

    /// Takes `n` (at most 32) bits after a refill.
    #[inline(always)]
    fn take(&mut self, n: u32) -> Result<u32, IoError> {
        let v = (self.bits & ((1u64 << n) - 1)) as u32;
        self.consume(n)?;
        Ok(v)
    }

    /// Reads `n` (at most 32) bits, refilling first.
    fn bits(&mut self, n: u32) -> Result<u32, IoError> {
        self.refill()?;
        self.take(n)
    }

    fn align(&mut self) -> Result<(), IoError> {
        self.consume(self.count % 8)
    }

    fn byte(&mut self) -> Result<u8, IoError> {
        Ok(self.bits(8)? as u8)
    }

    /// Fills `dst` from a byte-aligned position.
    fn read_bytes(&mut self, dst: &mut [u8]) -> Result<(), IoError> {
        let mut done = 0;
        while self.count >= 8 && done < dst.len() {
            if let Some(d) = dst.get_mut(done) {
                *d = self.bits as u8;
            }
            self.bits >>= 8;
            self.count -= 8;
            done += 1;
        }
        if done == dst.len() {
            return Ok(());
        }
        // The register is empty: drop the look-ahead bits, the bytes come from `buf` now.
        self.bits = 0;
        self.count = 0;
        while done < dst.len() {
            let avail = self.buf.len().saturating_sub(self.next);
            if avail == 0 {
                if !self.load()? {
                    return Err(truncated(self.src.len()));
                }
                continue;
            }
            let n = avail.min(dst.len() - done);
            if let (Some(to), Some(from)) = (
                dst.get_mut(done..done + n),
                self.buf.get(self.next..self.next + n),
            ) {
                to.copy_from_slice(from);
            }
            self.next += n;
            done += n;
        }
        Ok(())
    }

    /// Positions the reader at bit `bit_pos` of the file.
    fn seek(&mut self, bit_pos: u64) -> Result<(), IoError> {
        self.base = bit_pos / 8;
        self.next = 0;
        self.buf.clear();
        self.bits = 0;
        self.count = 0;
        self.refill()?;
        self.consume((bit_pos % 8) as u32)
    }

    /// True when no bit is left (after aligning).
    fn at_end(&mut self) -> Result<bool, IoError> {
        self.refill()?;
        Ok(self.count == 0)
    }
}

/// A canonical Huffman code as a two-level lookup table (RFC 1951 §3.2.2 gives the codes).
struct Huffman {
    primary: Box<[u32; PRIMARY_SIZE]>,
    sub: Vec<u32>,
}

impl Huffman {
    fn new() -> Self {
        Huffman {
            primary: Box::new([0; PRIMARY_SIZE]),
            sub: Vec::new(),
        }
    }

    /// Builds the table of the code whose lengths per symbol are `lengths`. Over-subscribed
    /// codes are refused; incomplete codes only when `allow_incomplete` and at most one code
    /// is used (a single distance code, as zlib accepts), since an unassigned bit pattern
    /// could otherwise be met in valid-looking data. Unassigned patterns decode as length 0.
    fn build(&mut self, lengths: &[u8], allow_incomplete: bool) -> Result<(), &'static str> {
        let mut count = [0u16; 16];
        for &l in lengths {
            match count.get_mut(usize::from(l)) {
                Some(c) => *c += 1,
                None => return Err("a code length is above 15"),
            }
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for c in &count[1..] {
            left = (left << 1) - i32::from(*c);
            if left < 0 {
                return Err("over-subscribed Huffman code");
            }
        }
        let max = (1..16).rev().find(|&l| count[l] > 0).unwrap_or(0);
        let used: u32 = count.iter().map(|&c| u32::from(c)).sum();
        if left > 0 && max > 0 && !(allow_incomplete && used == 1) {
            return Err("incomplete Huffman code");
        }
        // First code of each length (RFC 1951 §3.2.2 step 2).
        let mut next = [0u32; 16];
        let mut code = 0u32;
        for len in 1..16 {
            code = (code + u32::from(count[len - 1])) << 1;
            next[len] = code;
        }
        self.primary.fill(0);
        self.sub.clear();
        // Widest second-level index needed under each first-level prefix.
        let mut sub_bits = [0u8; PRIMARY_SIZE];
        let mut codes: Vec<(u32, u32, u32)> = Vec::with_capacity(lengths.len());
        for (sym, &l) in lengths.iter().enumerate() {
            let len = u32::from(l);
            if len == 0 {
                continue;
            }
            let c = next[len as usize];
            next[len as usize] += 1;
            // Deflate sends codes most significant bit first into an LSB-first stream.
            let rev = c.reverse_bits() >> (32 - len);
            codes.push((sym as u32, len, rev));
            if len > PRIMARY_BITS {
                let p = (rev as usize) & (PRIMARY_SIZE - 1);
                sub_bits[p] = sub_bits[p].max((len - PRIMARY_BITS) as u8);
            }
        }
        for (p, &bits) in sub_bits.iter().enumerate() {
            if bits > 0 {
                self.primary[p] = SUBTABLE | (u32::from(bits) << 16) | self.sub.len() as u32;
                self.sub.resize(self.sub.len() + (1 << bits), 0);
            }
        }
        for (sym, len, rev) in codes {
            let entry = (len << 16) | sym;
            if len <= PRIMARY_BITS {
                let mut i = rev as usize;
                while i < PRIMARY_SIZE {
                    self.primary[i] = entry;
                    i += 1 << len;
                }
            } else {
                let p = self.primary[(rev as usize) & (PRIMARY_SIZE - 1)];
                let off = (p & 0xffff) as usize;
                let width = (p >> 16) & 0x1f;
                let sub_len = len - PRIMARY_BITS;
                let mut i = (rev >> PRIMARY_BITS) as usize;
                while i < (1 << width) {
                    if let Some(e) = self.sub.get_mut(off + i) {
                        *e = ((sub_len + PRIMARY_BITS) << 16) | sym;
                    }
                    i += 1 << sub_len;
                }
            }
        }
        Ok(())
    }

    /// (symbol, code length) of the code at the bottom of `bits`; length 0 if unassigned.
    #[inline(always)]
    fn decode(&self, bits: u64) -> (u32, u32) {
        let e = self.primary[(bits as usize) & (PRIMARY_SIZE - 1)];
        if e & SUBTABLE == 0 {
            return (e & 0xffff, (e >> 16) & 0x1f);
        }
        let width = (e >> 16) & 0x1f;
        let idx = (e & 0xffff) as usize + ((bits >> PRIMARY_BITS) as usize & ((1 << width) - 1));
        let e = self.sub.get(idx).copied().unwrap_or(0);
        (e & 0xffff, (e >> 16) & 0x1f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A gzip member header comes next.
    Header,
    /// A deflate block header comes next.
    BlockStart,
    Stored {
        remaining: u32,
        last: bool,
    },
    Codes {
        fixed: bool,
        last: bool,
    },
    /// The 8-byte gzip member trailer (CRC-32, ISIZE) comes next.
    Trailer,
    Done,
}

/// A gzip decoder that hands out its output in pieces and can resume at a block boundary.
pub struct Inflater {
    input: BitReader,
    state: State,
    /// The window (history) followed by output not yet compacted away.
    out: Vec<u8>,
    pos: usize,
    /// Start of the output handed out by the last `advance`.
    fresh: usize,
    /// Uncompressed offset of `out[0]`.
    base: u64,
    /// Bytes of valid history before `out[pos]` (distances may not reach further).
    history: u64,
    lit: Huffman,
    dist: Huffman,
    fixed_lit: Huffman,
    fixed_dist: Huffman,
    /// Checking CRC-32 and ISIZE: only when decoding from the start of a member.
    verify: bool,
    crc: crc32fast::Hasher,
    member_bytes: u64,
    members: u64,
    /// Where data that is not a gzip member follows the last member.
    trailing: Option<u64>,
}

impl Inflater {
    fn with(input: BitReader, state: State, verify: bool) -> Result<Self, IoError> {
        let mut fixed_lit = Huffman::new();
        let mut lengths = [0u8; 288];
        for (i, l) in lengths.iter_mut().enumerate() {
            *l = match i {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let mut fixed_dist = Huffman::new();
        let built = fixed_lit
            .build(&lengths, false)
            .and_then(|()| fixed_dist.build(&[5u8; 32], false));
        built.map_err(|e| corrupt(0, format!("fixed Huffman tables: {e}")))?;
        Ok(Inflater {
            input,
            state,
            out: vec![0u8; OUT_CAP],
            pos: 0,
            fresh: 0,
            base: 0,
            history: 0,
            lit: Huffman::new(),
            dist: Huffman::new(),
            fixed_lit,
            fixed_dist,
            verify,
            crc: crc32fast::Hasher::new(),
            member_bytes: 0,
            members: 0,
            trailing: None,
        })
    }

    /// Decodes the gzip file `src` from its start, checking each member's CRC-32 and size.
    /// Compressed bytes are read `chunk` bytes at a time.
    pub fn new(src: Source, chunk: usize) -> Result<Self, IoError> {
        Self::with(BitReader::new(src, chunk, 0), State::Header, true)
    }

    /// Resumes decoding at the block that starts at bit `bit_pos`, whose output starts at
    /// uncompressed offset `out_offset`, preceded by `window` (at most 32 KiB of the output
    /// just before). CRC-32 and sizes are not checked: the member's start is not decoded.
    pub fn resume(
        src: Source,
        chunk: usize,
        bit_pos: u64,
        out_offset: u64,
        window: &[u8],
    ) -> Result<Self, IoError> {
        let mut input = BitReader::new(src, chunk, 0);
        input.seek(bit_pos)?;
        let mut inf = Self::with(input, State::BlockStart, false)?;
        let w = window
            .get(window.len().saturating_sub(WINDOW)..)
            .unwrap_or(&[]);
        if let Some(dst) = inf.out.get_mut(..w.len()) {
            dst.copy_from_slice(w);
        }
        inf.pos = w.len();
        inf.fresh = w.len();
        inf.base = out_offset.saturating_sub(w.len() as u64);
        inf.history = w.len() as u64;
        Ok(inf)
    }

    /// The bytes decoded by the last [`advance`](Self::advance).
    pub fn output(&self) -> &[u8] {
        self.out.get(self.fresh..self.pos).unwrap_or(&[])
    }

    /// Uncompressed offset of `output()[0]`.
    pub fn output_offset(&self) -> u64 {
        self.base + self.fresh as u64
    }

    /// Uncompressed bytes decoded so far (offset of the next byte).
    pub fn total_out(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Decoded bytes still held from uncompressed offset `from` on (empty if not held).
    pub fn held_from(&self, from: u64) -> &[u8] {
        match from.checked_sub(self.base) {
            Some(i) if i <= self.pos as u64 => self.out.get(i as usize..self.pos).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The output just before the current position (at most 32 KiB): a checkpoint's window.
    pub fn window(&self) -> &[u8] {
        self.out
            .get(self.pos.saturating_sub(WINDOW)..self.pos)
            .unwrap_or(&[])
    }

    /// At a deflate block boundary: the bit offset of the block header to resume at.
    pub fn at_block_start(&self) -> Option<u64> {
        (self.state == State::BlockStart).then(|| self.input.bit_pos())
    }

    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Compressed bytes consumed so far.
    pub fn compressed_pos(&self) -> u64 {
        self.input.byte_pos()
    }

    /// gzip members decoded to their end.
    pub fn members(&self) -> u64 {
        self.members
    }

    /// Offset of data after the last gzip member that is not a gzip member (ignored, as gzip
    /// itself does).
    pub fn trailing(&self) -> Option<u64> {
        self.trailing
    }

    /// Decodes on, to the end of the current deflate block or until the buffer is full; the
    /// new bytes are then in [`output`](Self::output). Does nothing once [`done`](Self::done).
    pub fn advance(&mut self) -> Result<(), IoError> {
        // Keep the window, drop what is older, once enough has piled up.
        if self.pos >= WINDOW + OUT_CHUNK / 2 {
            let from = self.pos - WINDOW;
            self.out.copy_within(from..self.pos, 0);
            self.base += from as u64;
            self.pos = WINDOW;
        }
        self.fresh = self.pos;
        let result = self.step();
        if self.verify {
            let fresh = self.out.get(self.fresh..self.pos).unwrap_or(&[]);
            self.crc.update(fresh);
            self.member_bytes += fresh.len() as u64;
        }
        result
    }

    fn step(&mut self) -> Result<(), IoError> {
        loop {
            match self.state {
                State::Done => return Ok(()),
                State::Header => {
                    self.header()?;
                    self.state = State::BlockStart;
                    return Ok(());
                }
                State::Trailer => {
                    self.trailer()?;
                    if self.state == State::Done {
                        return Ok(());
                    }
                }
                State::BlockStart => self.block_header()?,
                State::Stored { remaining, last } => {
                    let room = self.out.len().saturating_sub(self.pos);
                    let n = (remaining as usize).min(room);
                    let dst = self
                        .out
                        .get_mut(self.pos..self.pos + n)
                        .ok_or_else(|| corrupt(self.input.byte_pos(), "output buffer overrun"))?;
                    self.input.read_bytes(dst)?;
                    self.pos += n;
                    self.history += n as u64;
                    let remaining = remaining - n as u32;
                    if remaining == 0 {
                        self.end_block(last);
                        return Ok(());
                    }
                    self.state = State::Stored { remaining, last };
                    return Ok(());
                }
                State::Codes { fixed, last } => {
                    if self.codes(fixed)? {
                        self.end_block(last);
                    }
                    return Ok(());
                }
            }
        }
    }

    fn end_block(&mut self, last: bool) {
        self.state = if last {
            State::Trailer
        } else {
            State::BlockStart
        };
    }

    /// RFC 1952 §2.3: the member header; only deflate (CM 8) exists.
    fn header(&mut self) -> Result<(), IoError> {
        let at = self.input.byte_pos();
        let mut h = [0u8; 10];
        self.input.read_bytes(&mut h)?;
        if h[0] != 0x1f || h[1] != 0x8b {
            return Err(corrupt(at, "not a gzip member (no 1f 8b magic)"));
        }
        if h[2] != 8 {
            return Err(corrupt(
                at,
                format!("gzip compression method {} is not deflate (8)", h[2]),
            ));
        }
        let flags = h[3];
        if flags & 0xe0 != 0 {
            return Err(corrupt(at, "gzip header has reserved flag bits set"));
        }
        if flags & 4 != 0 {
            let mut xlen = [0u8; 2];
            self.input.read_bytes(&mut xlen)?;
            for _ in 0..u16::from_le_bytes(xlen) {
                self.input.byte()?;
            }
        }
        for (flag, what) in [(8u8, "file name"), (16, "comment")] {
            if flags & flag != 0 {
                let mut n = 0;
                while self.input.byte()? != 0 {
                    n += 1;
                    if n > MAX_HEADER_FIELD {
                        return Err(corrupt(
                            at,
                            format!("gzip header {what} is longer than {MAX_HEADER_FIELD} bytes"),
                        ));
                    }
                }
            }
        }
        if flags & 2 != 0 {
            let mut crc16 = [0u8; 2];
            self.input.read_bytes(&mut crc16)?;
        }
        self.crc = crc32fast::Hasher::new();
        self.member_bytes = 0;
        self.history = 0;
        Ok(())
    }

    /// RFC 1952 §2.3: CRC-32 and ISIZE (size mod 2^32), then another member or the end.
    fn trailer(&mut self) -> Result<(), IoError> {
        self.input.align()?;
        let at = self.input.byte_pos();
        let mut t = [0u8; 8];
        self.input.read_bytes(&mut t)?;
        if self.verify {
            let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
            let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
            let actual = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
            if crc != actual {
                return Err(corrupt(
                    at,
                    format!(
                        "CRC-32 mismatch at the end of gzip member {}: the trailer says {crc:08x}, the data gives {actual:08x}",
                        self.members + 1
                    ),
                ));
            }
            if u64::from(isize) != self.member_bytes & 0xffff_ffff {
                return Err(corrupt(
                    at,
                    format!(
                        "size mismatch at the end of gzip member {}: the trailer says {isize} (mod 2^32), the data is {} bytes",
                        self.members + 1,
                        self.member_bytes
                    ),
                ));
            }
        }
        self.members += 1;
        // Concatenated members are one stream (RFC 1952 §2.2); anything else is ignored.
        if self.input.at_end()? {
            self.state = State::Done;
        } else if self.input.count >= 16 && self.input.bits & 0xffff == 0x8b1f {
            // A new member starts: decoding it from its header, we can check it.
            self.verify = true;
            self.state = State::Header;
        } else {
            self.trailing = Some(self.input.byte_pos());
            self.state = State::Done;
        }
        Ok(())
    }

    /// RFC 1951 §3.2.3: BFINAL, BTYPE, and for each type what precedes the data.
    fn block_header(&mut self) -> Result<(), IoError> {
        let at = self.input.byte_pos();
        let h = self.input.bits(3)?;
        let last = h & 1 == 1;
        match h >> 1 {
            0 => {
                // §3.2.4: stored, LEN and its one's complement NLEN at the next byte boundary.
                self.input.align()?;
                let mut l = [0u8; 4];
                self.input.read_bytes(&mut l)?;
                let len = u16::from_le_bytes([l[0], l[1]]);
                let nlen = u16::from_le_bytes([l[2], l[3]]);
                if len != !nlen {
                    return Err(corrupt(
                        at,
                        "stored block length does not match its complement",
                    ));
                }
                self.state = State::Stored {
                    remaining: u32::from(len),
                    last,
                };
            }
            1 => self.state = State::Codes { fixed: true, last },
            2 => {
                self.dynamic_tables(at)?;
                self.state = State::Codes { fixed: false, last };
            }
            _ => return Err(corrupt(at, "invalid deflate block type 3")),
        }
        Ok(())
    }

    /// RFC 1951 §3.2.7: the code lengths of a dynamic block, themselves Huffman coded.
    fn dynamic_tables(&mut self, at: u64) -> Result<(), IoError> {
        let hlit = self.input.bits(5)? as usize + 257;
        let hdist = self.input.bits(5)? as usize + 1;
        let hclen = self.input.bits(4)? as usize + 4;
        if hlit > 286 || hdist > 30 {
            return Err(corrupt(
                at,
                "dynamic block declares too many length or distance codes",
            ));
        }
        let mut clen = [0u8; 19];
        for &i in CLEN_ORDER.iter().take(hclen) {
            clen[i] = self.input.bits(3)? as u8;
        }
        let mut clen_code = Huffman::new();
        clen_code
            .build(&clen, false)
            .map_err(|e| corrupt(at, format!("code length code: {e}")))?;
        let mut lengths = [0u8; 286 + 30];
        let total = hlit + hdist;
        let mut i = 0;
        while i < total {
            self.input.refill()?;
            let (sym, len) = clen_code.decode(self.input.bits);
            if len == 0 {
                return Err(corrupt(at, "invalid code length code"));
            }
            self.input.consume(len)?;
            let (value, repeat) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let prev = match i.checked_sub(1).and_then(|p| lengths.get(p)) {
                        Some(&p) => p,
                        None => {
                            return Err(corrupt(at, "repeat of a code length with none before"));
                        }
                    };
                    (prev, 3 + self.input.take(2)? as usize)
                }
                17 => (0, 3 + self.input.take(3)? as usize),
                _ => (0, 11 + self.input.take(7)? as usize),
            };
            let dst = lengths
                .get_mut(i..i + repeat)
                .filter(|_| i + repeat <= total)
                .ok_or_else(|| corrupt(at, "code lengths repeat past the end of the table"))?;
            dst.fill(value);
            i += repeat;
        }
        let (lit, dist) = lengths.split_at(hlit);
        if lit.get(256).copied().unwrap_or(0) == 0 {
            return Err(corrupt(at, "dynamic block has no end-of-block code"));
        }
        self.lit
            .build(lit, false)
            .map_err(|e| corrupt(at, format!("literal/length code: {e}")))?;
        self.dist
            .build(dist.get(..hdist).unwrap_or(&[]), true)
            .map_err(|e| corrupt(at, format!("distance code: {e}")))?;
        Ok(())
    }

    /// Decodes symbols of a Huffman-coded block until its end (true) or a full buffer (false).
    fn codes(&mut self, fixed: bool) -> Result<bool, IoError> {
        let (lit, dist) = if fixed {
            (&self.fixed_lit, &self.fixed_dist)
        } else {
            (&self.lit, &self.dist)
        };
        let input = &mut self.input;
        let out = &mut self.out[..];
        let mut pos = self.pos;
        let start = pos;
        let result = loop {
            if pos + MAX_MATCH > out.len() {
                break Ok(false);
            }
            // One refill covers a whole symbol: code (15) + extra (5) + distance (15 + 13).
            if let Err(e) = input.refill() {
                break Err(e);
            }
            let (sym, len) = lit.decode(input.bits);
            if len == 0 {
                break Err(corrupt(input.byte_pos(), "invalid literal/length code"));
            }
            if let Err(e) = input.consume(len) {
                break Err(e);
            }
            if sym < 256 {
                out[pos] = sym as u8;
                pos += 1;
                continue;
            }
            if sym == 256 {
                break Ok(true);
            }
            let i = (sym - 257) as usize;
            let (Some(&base), Some(&extra)) = (LEN_BASE.get(i), LEN_EXTRA.get(i)) else {
                break Err(corrupt(input.byte_pos(), "invalid length symbol"));
            };
            let length = match input.take(u32::from(extra)) {
                Ok(v) => usize::from(base) + v as usize,
                Err(e) => break Err(e),
            };
            let (dsym, dlen) = dist.decode(input.bits);
            if dlen == 0 {
                break Err(corrupt(input.byte_pos(), "invalid distance code"));
            }
            if let Err(e) = input.consume(dlen) {
                break Err(e);
            }
            let d = dsym as usize;
            let (Some(&dbase), Some(&dextra)) = (DIST_BASE.get(d), DIST_EXTRA.get(d)) else {
                break Err(corrupt(input.byte_pos(), "invalid distance symbol"));
            };
            let distance = match input.take(u32::from(dextra)) {
                Ok(v) => usize::from(dbase) + v as usize,
                Err(e) => break Err(e),
            };
            let held = (pos - start) as u64 + self.history;
            if distance > pos || distance as u64 > held {
                break Err(corrupt(
                    input.byte_pos(),
                    format!("match distance {distance} reaches before the start of the data"),
                ));
            }
            let from = pos - distance;
            if distance >= length {
                out.copy_within(from..from + length, pos);
            } else if distance == 1 {
                let b = out[from];
                out[pos..pos + length].fill(b);
            } else {
                for k in 0..length {
                    out[pos + k] = out[from + k];
                }
            }
            pos += length;
        };
        self.history += (pos - start) as u64;
        self.pos = pos;
        result
    }
}

/// Reads a whole gzip source into memory (tests and small inputs only).
#[cfg(test)]
pub fn inflate_all(src: Source) -> Result<Vec<u8>, IoError> {
    let mut inf = Inflater::new(src, 1 << 16)?;
    let mut all = Vec::new();
    while !inf.done() {
        inf.advance()?;
        all.extend_from_slice(inf.output());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use preflight_io::MemSource;

    use super::*;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn src(bytes: Vec<u8>) -> Source {
        Arc::new(MemSource(bytes))
    }

    /// Cheap deterministic data with some structure (so that matches occur).
    fn sample(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 => v.extend(std::iter::repeat_n(
                    (x >> 8) as u8,
                    (x >> 16) as usize % 300,
                )),
                1 => {
                    let back = ((x >> 20) as usize % 40_000).min(v.len());
                    let len = (x >> 40) as usize % 260;
                    let start = v.len() - back;
                    for k in 0..len.min(back) {
                        let b = v[start + k];
                        v.push(b);
                    }
                }
                _ => v.extend_from_slice(&x.to_le_bytes()),
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn decodes_what_flate2_encodes_at_every_level_and_size() {
        for &n in &[0usize, 1, 100, 65_535, 65_536, 300_000, 2_000_000] {
            for level in [0, 1, 6, 9] {
                let data = sample(n, n as u64 + u64::from(level));
                let gz = gzip(&data, level);
                let out =
                    inflate_all(src(gz)).unwrap_or_else(|e| panic!("n {n} level {level}: {e}"));
                assert!(out == data, "n {n} level {level}: output differs");
            }
        }
    }

    #[test]
    fn random_bytes_and_zeros_decode() {
        let random: Vec<u8> = (0..500_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let zeros = vec![0u8; 5_000_000];
        for data in [random, zeros] {
            for level in [0, 1, 9] {
                assert!(inflate_all(src(gzip(&data, level))).unwrap() == data);
            }
        }
    }

    #[test]
    fn concatenated_members_are_one_stream_and_trailing_garbage_is_noted() {
        let a = sample(100_000, 1);
        let b = sample(50_000, 2);
        let mut gz = gzip(&a, 6);
        gz.extend(gzip(&b, 1));
        gz.extend(gzip(&[], 6));
        let mut inf = Inflater::new(src(gz.clone()), 4096).unwrap();
        let mut all = Vec::new();
        while !inf.done() {
            inf.advance().unwrap();
            all.extend_from_slice(inf.output());
        }
        assert_eq!(inf.members(), 3);
        assert_eq!(inf.trailing(), None);
        assert!(all == [a.clone(), b.clone()].concat());
        let end = gz.len() as u64;
        gz.extend_from_slice(b"\0\0\0\0junk");
        let mut inf = Inflater::new(src(gz), 4096).unwrap();
        while !inf.done() {
            inf.advance().unwrap();
        }
        assert_eq!(inf.trailing(), Some(end));
    }

    #[test]
    fn truncation_and_corruption_are_clean_errors() {
        let data = sample(300_000, 7);
        let gz = gzip(&data, 6);
        for cut in [
            0usize,
            5,
            10,
            11,
            100,
            gz.len() / 2,
            gz.len() - 9,
            gz.len() - 1,
        ] {
            let e = inflate_all(src(gz[..cut].to_vec()))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("truncated at compressed offset {cut}")) || cut < 10,
                "cut {cut}: {e}"
            );
        }
        // The CRC catches what the code structure does not.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 1;
        let e = inflate_all(src(bad)).unwrap_err().to_string();
        assert!(e.contains("CRC-32 mismatch"), "{e}");
        // Any flipped bit: an error or (rarely) different output, never a panic.
        for i in (0..gz.len() * 8).step_by(97) {
            let mut bad = gz.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let _ = inflate_all(src(bad));
        }
    }

    #[test]
    fn resumes_at_every_block_boundary() {
        let data = sample(3_000_000, 11);
        for level in [1, 6] {
            let gz = gzip(&data, level);
            let file = src(gz);
            let mut inf = Inflater::new(Arc::clone(&file), 1 << 16).unwrap();
            let mut points = Vec::new();
            while !inf.done() {
                inf.advance().unwrap();
                if let Some(bit) = inf.at_block_start() {
                    points.push((bit, inf.total_out(), inf.window().to_vec()));
                }
            }
            assert!(points.len() >= 3, "only {} blocks", points.len());
            for (bit, out, window) in points {
                let mut r =
                    Inflater::resume(Arc::clone(&file), 1 << 16, bit, out, &window).unwrap();
                let mut got = Vec::new();
                while !r.done() && got.len() < 100_000 {
                    r.advance().unwrap();
                    assert_eq!(r.output_offset(), out + got.len() as u64);
                    got.extend_from_slice(r.output());
                }
                let o = out as usize;
                let expect = &data[o..(o + got.len()).min(data.len())];
                assert!(got == expect, "level {level}: resume at bit {bit} differs");
            }
        }
    }

    #[test]
    fn refuses_bad_headers() {
        let e = inflate_all(src(b"\x1f\x8b\x07\0\0\0\0\0\0\0".to_vec())).unwrap_err();
        assert!(e.to_string().contains("not deflate"), "{e}");
        let e = inflate_all(src(b"\x1f\x8b\x08\xe0\0\0\0\0\0\0".to_vec())).unwrap_err();
        assert!(e.to_string().contains("reserved flag"), "{e}");
        // Block type 3.
        let e = inflate_all(src(
            b"\x1f\x8b\x08\0\0\0\0\0\0\x03\x07\0\0\0\0\0\0\0\0".to_vec()
        ))
        .unwrap_err();
        assert!(e.to_string().contains("block type 3"), "{e}");
    }
}
