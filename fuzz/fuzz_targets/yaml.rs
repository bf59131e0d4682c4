//! The YAML reader on arbitrary text: no panic, bounded time and memory; whatever parses
//! must convert to JSON and serialize.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(doc) = preflight_facts::yaml::parse_document(&text) {
        let _ = doc.root.to_json();
        for (k, v) in doc.root.entries() {
            let _ = (k.as_str(), v.as_bool(), v.as_i64(), v.as_seq(), v.kind());
        }
    }
});
