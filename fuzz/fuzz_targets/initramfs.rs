//! The initramfs reader (cpio newc/crc segments, each maybe compressed) on arbitrary bytes,
//! with small limits so that bombs and huge listings end fast.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::initramfs::{self, Options};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        max_entries: 2_000,
        max_unpacked: 16 << 20,
        max_name_bytes: 1 << 20,
        max_window: 8 << 20,
        max_xz_block: 8 << 20,
        max_capture: 64 << 10,
        max_captured_total: 1 << 20,
        capture: vec!["*".into()],
    };
    let (initrd, _err) = initramfs::read_partial(&mut &data[..], &opts);
    let _ = initrd.modules();
    let _ = initrd.binaries();
    let _ = initrd.kernel_versions();
    for (i, _) in initrd.segments.iter().enumerate() {
        let _ = initrd.segment_entries(i);
    }
});
