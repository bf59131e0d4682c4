//! ISO 9660 (with Joliet).

use preflight_io::{ByteSource, IoError};

use super::{Probe, ProbeKind, field, magic, read_exact, read_upto};
use crate::text::{padded_string, utf16};

pub(super) fn iso9660(v: &dyn ByteSource, _: &[u8]) -> Result<Option<Probe>, IoError> {
    let Some(pvd) = read_exact(v, 32768, 2048)? else {
        return Ok(None);
    };
    if !magic(&pvd, 1, b"CD001") {
        return Ok(None);
    }
    // blkid makes a UUID of the modification date, else the creation date.
    let date_uuid = |at: usize| {
        let d = field(&pvd, at, 17)?;
        if d[..16].iter().all(|&c| c == b'0') && d[16] == 0 {
            return None;
        }
        // One byte per char, so the byte ranges below are char boundaries.
        let c: String = d[..16]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        Some(format!(
            "{}-{}-{}-{}-{}-{}-{}",
            &c[0..4],
            &c[4..6],
            &c[6..8],
            &c[8..10],
            &c[10..12],
            &c[12..14],
            &c[14..16]
        ))
    };
    let uuid = date_uuid(830).or_else(|| date_uuid(813));
    let mut p = Probe::new(ProbeKind::Iso9660)
        .uuid(uuid)
        .label(field(&pvd, 40, 32).and_then(padded_string));
    // A Joliet supplementary descriptor among the next 16: its UTF-16 label wins unless it
    // says the same as the primary's (which it may have cut short).
    let more = read_upto(v, 32768 + 2048, 16 * 2048)?;
    for vd in more.chunks_exact(2048) {
        if vd[0] == 0xff || !magic(vd, 1, b"CD001") {
            break;
        }
        let joliet = [&b"%/@"[..], b"%/C", b"%/E"]
            .iter()
            .any(|m| magic(vd, 88, m));
        if vd[0] != 2 || !joliet {
            continue;
        }
        p.version = Some("Joliet Extension".to_string());
        let primary = &pvd[40..72];
        let same = vd[40..72]
            .chunks_exact(2)
            .zip(primary)
            .all(|(u, &a)| u[0] == 0 && u[1] == a);
        if !same {
            p.label = utf16(&vd[40..72], true).map(|l| l.trim_end().to_string());
        }
        break;
    }
    Ok(Some(p))
}
