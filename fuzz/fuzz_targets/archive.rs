//! Tar / tar.gz archives (.oci, OVA) on arbitrary bytes: member listing, metadata and OVF
//! parsing, the gzip index, and reads of the disk inside.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_container::{Format, OpenOptions};
use preflight_io::{ByteSource, MemSource};

fuzz_target!(|data: &[u8]| {
    let file: preflight_io::Source = Arc::new(MemSource(data.to_vec()));
    let format = if data.starts_with(&[0x1f, 0x8b]) { Format::Gzip } else { Format::Tar };
    let options = OpenOptions { verify_manifest: data.len() % 2 == 0, progress: None };
    let Ok(c) = preflight_container::archive::open(file, format, &options) else { return };
    let len = c.disk.len();
    let mut buf = vec![0u8; 65536];
    for i in 0..16u64 {
        let off = (len / 16).saturating_mul(i) & !511;
        let n = (len - off.min(len)).min(buf.len() as u64) as usize;
        let _ = c.disk.read_at(off, &mut buf[..n]);
    }
});
