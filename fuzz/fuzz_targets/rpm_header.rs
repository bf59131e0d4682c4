//! The RPM header blob parser (what every RPM database stores per package), on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::packages::rpm_header::{self, Header};

fuzz_target!(|data: &[u8]| {
    let _ = rpm_header::fields(data);
    if let Ok(h) = Header::parse(data) {
        for e in h.entries().take(64) {
            let _ = h.string(e.tag);
            let _ = h.int32(e.tag);
        }
    }
});
