//! The Blob byte source in a real dedicated worker (FileReaderSync exists only there), run by
//! wasm-bindgen-test-runner in headless Chromium through chromedriver:
//! `cargo xtask test` (or see DEVELOPERS.md). Natively this file is empty.
#![cfg(target_family = "wasm")]

use js_sys::{Array, Uint8Array};
use preflight_io::{ByteSource, IoError};
use preflight_web::blob::BlobSource;
use wasm_bindgen_test::*;
use web_sys::Blob;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const MIB: u64 = 1 << 20;

/// Byte `i` of the test pattern (not a multiple of any power of two).
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(7) % 251) as u8
}

fn blob_of(bytes: &[u8]) -> Blob {
    let parts = Array::of1(&Uint8Array::from(bytes));
    Blob::new_with_u8_array_sequence(&parts).expect("blob")
}

#[wasm_bindgen_test]
fn reads_exactly_the_bytes_asked_for() {
    let data: Vec<u8> = (0..300_000u64).map(pattern).collect();
    let source = BlobSource::new(blob_of(&data)).expect("FileReaderSync in a worker");
    assert_eq!(source.len(), data.len() as u64);
    for (offset, len) in [
        (0u64, 1usize),
        (0, 512),
        (511, 2),
        (4096, 65536),
        (299_999, 1),
        (123_457, 100_000),
    ] {
        let mut buf = vec![0u8; len];
        source.read_at(offset, &mut buf).expect("read");
        assert_eq!(
            &buf[..],
            &data[offset as usize..offset as usize + len],
            "at {offset}+{len}"
        );
    }
    assert_eq!(source.stats().1, 6, "one browser read per call");
    let mut nothing = [];
    source
        .read_at(300_000, &mut nothing)
        .expect("an empty read at the end is fine");
}

#[wasm_bindgen_test]
fn refuses_reads_past_the_end() {
    let source = BlobSource::new(blob_of(&[1, 2, 3, 4])).expect("source");
    let mut buf = [0u8; 4];
    for offset in [1u64, 4, u64::MAX - 1] {
        match source.read_at(offset, &mut buf) {
            Err(IoError::OutOfBounds { .. }) => {}
            other => panic!("read at {offset}: {other:?}"),
        }
    }
}

/// A 3 GiB Blob made of references to one 1 MiB part (the browser does not copy them):
/// offsets past 2 GiB and 4 GiB-wrapping arithmetic must go through f64 correctly.
#[wasm_bindgen_test]
fn reads_past_two_gib() {
    let part: Vec<u8> = (0..MIB).map(pattern).collect();
    let part = Uint8Array::from(&part[..]);
    let parts = Array::new();
    for _ in 0..3072 {
        parts.push(&part);
    }
    let blob = Blob::new_with_u8_array_sequence(&parts).expect("3 GiB blob");
    let source = BlobSource::new(blob).expect("source");
    assert_eq!(source.len(), 3072 * MIB);
    for offset in [
        2048 * MIB - 3,
        2048 * MIB,
        2500 * MIB + 12345,
        3072 * MIB - 512,
    ] {
        let mut buf = vec![0u8; 512];
        source.read_at(offset, &mut buf).expect("read");
        let want: Vec<u8> = (0..512u64).map(|i| pattern((offset + i) % MIB)).collect();
        assert_eq!(buf, want, "at {offset}");
    }
}
