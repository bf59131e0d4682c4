//! QCOW2 header and table parsing, and reads through the mapping, on arbitrary bytes.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_io::{ByteSource, MemSource};

fuzz_target!(|data: &[u8]| {
    let Ok(c) = preflight_container::open(Arc::new(MemSource(data.to_vec()))) else { return };
    let len = c.disk.len();
    let mut buf = vec![0u8; 4096];
    // A few reads spread over the virtual disk exercise L1/L2 lookups and decompression.
    for i in 0..8u64 {
        let off = (len / 8).saturating_mul(i) & !511;
        let n = (len - off.min(len)).min(buf.len() as u64) as usize;
        let _ = c.disk.read_at(off, &mut buf[..n]);
    }
});
