//! MBR/GPT parsing and volume probing on arbitrary disks.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_io::{MemSource, Source};

fuzz_target!(|data: &[u8]| {
    let disk: Source = Arc::new(MemSource(data.to_vec()));
    let _ = preflight_volume::probe(&*disk);
    if let Ok(table) = preflight_volume::read_partitions(&disk) {
        for p in &table.partitions {
            let _ = preflight_volume::probe(&*p.source(&disk));
        }
    }
});
