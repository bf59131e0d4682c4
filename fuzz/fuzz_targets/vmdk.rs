//! The vmdk reader on arbitrary bytes: open, then reads spread over the virtual disk.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_io::{ByteSource, MemSource};

fuzz_target!(|data: &[u8]| {
    let Ok(c) = preflight_container::vmdk::open(Arc::new(MemSource(data.to_vec()))) else { return };
    let len = c.disk.len();
    let mut buf = vec![0u8; 65536];
    for i in 0..16u64 {
        let off = (len / 16).saturating_mul(i) & !511;
        let n = (len - off.min(len)).min(buf.len() as u64) as usize;
        let _ = c.disk.read_at(off, &mut buf[..n]);
    }
});
