//! LVM2: the metadata text parser, the PV label / metadata area reader, VG assembly and LV
//! reads, on arbitrary bytes. The first byte picks the mode:
//! - 0: the text parser alone;
//! - 1: the bytes as a PV (label, metadata area headers, circular text buffer);
//! - otherwise: the bytes as the metadata text of a well-formed PV (valid label, header and
//!   checksums), so the fuzzer reaches VG assembly and the LV mapping.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preflight_io::{ByteSource, MemSource, Source};
use preflight_volume::lvm::{self, label};

const AREA: (u64, u64) = (4096, 1 << 16);
const PV_LEN: usize = 1 << 20;

fn put(d: &mut [u8], at: usize, b: &[u8]) {
    d[at..at + b.len()].copy_from_slice(b);
}

/// A 1 MiB PV whose only metadata area (64 KiB at 4 KiB) holds `text`, wrapping around the
/// end of the area when `wrap` is set.
fn pv_with_text(text: &[u8], wrap: bool) -> Option<Vec<u8>> {
    let buffer = (AREA.1 - 512) as usize;
    if text.is_empty() || text.len() > buffer {
        return None;
    }
    let mut d = vec![0u8; PV_LEN];
    let s = 512;
    put(&mut d, s, b"LABELONE");
    put(&mut d, s + 8, &1u64.to_le_bytes());
    put(&mut d, s + 20, &32u32.to_le_bytes());
    put(&mut d, s + 24, b"LVM2 001");
    put(&mut d, s + 32, b"AAAAAAbbbbCCCCddddEEEEffffGGGGGG");
    put(&mut d, s + 64, &(PV_LEN as u64).to_le_bytes());
    put(&mut d, s + 72, &(AREA.0 + AREA.1).to_le_bytes());
    put(&mut d, s + 104, &AREA.0.to_le_bytes());
    put(&mut d, s + 112, &AREA.1.to_le_bytes());
    let crc = label::calc_crc(label::INITIAL_CRC, &d[s + 20..s + 512]);
    put(&mut d, s + 16, &crc.to_le_bytes());
    let h = AREA.0 as usize;
    put(&mut d, h + 4, label::FMTT_MAGIC);
    put(&mut d, h + 20, &1u32.to_le_bytes());
    put(&mut d, h + 24, &AREA.0.to_le_bytes());
    put(&mut d, h + 32, &AREA.1.to_le_bytes());
    let at = if wrap { AREA.1 - 100 } else { 512 };
    put(&mut d, h + 40, &at.to_le_bytes());
    put(&mut d, h + 48, &(text.len() as u64).to_le_bytes());
    let sum = label::calc_crc(label::INITIAL_CRC, text);
    put(&mut d, h + 56, &sum.to_le_bytes());
    for (i, b) in text.iter().enumerate() {
        let mut o = at + i as u64;
        if o >= AREA.1 {
            o = o - AREA.1 + 512;
        }
        d[(AREA.0 + o) as usize] = *b;
    }
    let crc = label::calc_crc(label::INITIAL_CRC, &d[h + 4..h + 512]);
    put(&mut d, h, &crc.to_le_bytes());
    Some(d)
}

fn exercise(pvs: &[(usize, Source)]) {
    let scan = lvm::scan(pvs);
    let mut buf = vec![0u8; 8192];
    for vg in &scan.vgs {
        for lv in &vg.lvs {
            let _ = scan.resolve(&lvm::mapper_path(&vg.name, &lv.name));
            if let Some(src) = lv.source() {
                let len = src.len();
                for i in 0..4u64 {
                    let off = (len / 4).saturating_mul(i);
                    let n = (len - off.min(len)).min(buf.len() as u64) as usize;
                    let _ = src.read_at(off, &mut buf[..n]);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let _ = lvm::text::parse(rest);
        }
        1 => {
            let pv: Source = Arc::new(MemSource(rest.to_vec()));
            exercise(&[(0, pv)]);
        }
        m => {
            if let Some(d) = pv_with_text(rest, m & 1 == 1) {
                let pv: Source = Arc::new(MemSource(d));
                exercise(&[(0, pv)]);
            }
        }
    }
});
