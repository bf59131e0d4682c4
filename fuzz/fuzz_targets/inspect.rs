//! The whole inspection (container, volumes, ext4, guest, facts, rules) on arbitrary images.
//! Seed the corpus with small fixture images (cargo xtask fuzz copies some in).
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_io::MemSource;

fuzz_target!(|data: &[u8]| {
    let _ = preflight_core::inspect(Box::new(MemSource(data.to_vec())), "fuzz.img", &preflight_core::Options::default());
});
