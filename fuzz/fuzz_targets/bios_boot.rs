//! BIOS boot code: sector 0 identification and GRUB 2's chain to core.img, on arbitrary disks.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_io::{MemSource, Source};

fuzz_target!(|data: &[u8]| {
    let disk: Source = Arc::new(MemSource(data.to_vec()));
    let _ = preflight_volume::bios_boot::identify(data);
    if let Ok(table) = preflight_volume::read_partitions(&disk) {
        let boot = preflight_volume::bios_boot::read(&disk, &table);
        if let Some(core) = boot.core {
            assert!(!core.valid || core.sectors <= preflight_volume::bios_boot::MAX_CORE_SECTORS);
        }
    }
});
