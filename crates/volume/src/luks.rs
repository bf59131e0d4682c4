//! Header details of encrypted volumes, for the report: LUKS1, LUKS2 and BitLocker. Nothing is
//! ever decrypted; only the plaintext headers are read.
//!
//! Format facts:
//! - LUKS1 (the "LUKS On-Disk Format Specification", version 1.2.3), big-endian: magic
//!   `LUKS\xba\xbe` at 0, version u16 at 6, cipher name (32 bytes) at 8, cipher mode (32) at
//!   40, hash spec (32) at 72, payload offset (u32, 512-byte sectors) at 104, key bytes (u32)
//!   at 108, master-key digest (20), salt (32) and iterations (u32) at 112..168, UUID (40) at
//!   168, then 8 key slots of 48 bytes at 208: state (u32, 0x00AC71F3 enabled, 0x0000DEAD
//!   disabled), iterations, salt (32), key material offset (sectors), AF stripes.
//! - LUKS2 (the "LUKS2 On-Disk Format Specification"), big-endian binary header of 4096 bytes:
//!   magic (`LUKS\xba\xbe` primary, `SKUL\xba\xbe` secondary), version u16 at 6, header size
//!   u64 at 8 (binary header + JSON area, a power of two from 16 KiB to 4 MiB), sequence id u64
//!   at 16, label (48) at 24, checksum algorithm (32) at 72, salt (64) at 104, UUID (40) at
//!   168, subsystem (48) at 208, header offset u64 at 256, checksum (64) at 448. The JSON
//!   metadata follows at 4096, NUL-padded to the header size; the checksum covers the whole
//!   header size with the checksum field zeroed. The secondary header sits at the primary's
//!   size (16 KiB … 4 MiB).
//! - BitLocker (the "BitLocker Drive Encryption (BDE) format" description of the libbde
//!   project): the volume header's `-FVE-FS-` signature at 3 (Windows Vista with jump
//!   `EB 52 90`, Windows 7 and later with `EB 58 90`), or `MSWIN4.1` for BitLocker To Go; the
//!   FVE metadata block offsets (three u64, little-endian) at 176 (Windows 7 and later) or 440
//!   (To Go); each FVE metadata block starts with `-FVE-FS-`, its size (u16) at 8 and its
//!   version (u16: 1 Vista, 2 Windows 7 and later) at 10.

use preflight_io::{ByteSource, be, le, read_vec};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::VolumeError;
use crate::text::c_string;

/// Largest LUKS2 header (binary header + JSON area) accepted.
pub const LUKS2_MAX_HEADER: u64 = 4 << 20;
/// Key slots and segments listed at most.
const MAX_LISTED: usize = 64;

const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
const LUKS2_SECONDARY_MAGIC: &[u8; 6] = b"SKUL\xba\xbe";
const LUKS1_KEY_ENABLED: u32 = 0x00ac_71f3;
const LUKS1_KEY_DISABLED: u32 = 0x0000_dead;

/// What the header of a LUKS volume says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuksInfo {
    /// 1 or 2.
    pub version: u16,
    pub uuid: Option<String>,
    /// LUKS2 label (`cryptsetup --label`).
    pub label: Option<String>,
    /// LUKS2 subsystem.
    pub subsystem: Option<String>,
    /// The data cipher as cryptsetup prints it: `aes-xts-plain64` (LUKS1: name-mode; LUKS2:
    /// the first crypt segment's `encryption`).
    pub cipher: Option<String>,
    /// The volume key size in bits (LUKS1: key bytes × 8; LUKS2: the first key slot's
    /// `key_size` × 8).
    pub key_bits: Option<u32>,
    /// LUKS1 hash spec; LUKS2: the first digest's hash.
    pub hash: Option<String>,
    /// Where the encrypted data starts, in bytes (LUKS1 payload offset; LUKS2 first segment).
    pub data_offset: Option<u64>,
    /// LUKS2: header size (binary header + JSON area), in bytes.
    pub header_size: Option<u64>,
    /// LUKS2: the header's sequence id (cryptsetup's "Epoch").
    pub seqid: Option<u64>,
    /// LUKS2: the header read was the secondary copy (the primary is damaged).
    pub secondary_header: bool,
    /// Key slots in use.
    pub keyslots: Vec<LuksKeyslot>,
    /// LUKS2 data segments.
    pub segments: Vec<LuksSegment>,
    /// What was odd: bad checksums, unreadable JSON, a secondary header used.
    pub diagnostics: Vec<String>,
}

/// A key slot in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuksKeyslot {
    pub index: u32,
    /// LUKS2 keyslot type (`luks2`, `reencrypt`); `luks1` for LUKS1 slots.
    pub kind: String,
    /// Bits of the key this slot protects.
    pub key_bits: Option<u32>,
    /// The cipher of the key material area (LUKS2 `area.encryption`; LUKS1: the volume's).
    pub cipher: Option<String>,
    /// `pbkdf2`, `argon2i`, `argon2id`.
    pub pbkdf: Option<String>,
    /// PBKDF2 iterations, or Argon2 time cost.
    pub iterations: Option<u64>,
}

/// A LUKS2 data segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuksSegment {
    pub index: u32,
    /// `crypt`, or `linear` during reencryption.
    pub kind: String,
    /// Bytes from the start of the device.
    pub offset: Option<u64>,
    /// Bytes; `None` for `dynamic` (to the end of the device).
    pub size: Option<u64>,
    pub cipher: Option<String>,
    pub sector_size: Option<u32>,
}

/// Read the header of a LUKS volume. `Ok(None)`: no LUKS magic at offset 0 (nor a LUKS2
/// secondary header). Damage inside a recognised header is reported in
/// [`LuksInfo::diagnostics`]; only read failures are errors.
pub fn luks_info(source: &dyn ByteSource) -> Result<Option<LuksInfo>, VolumeError> {
    if source.len() < 4096 {
        if source.len() >= 592 {
            let h = read_vec(source, 0, 592, 592)?;
            if &h[..6] == LUKS_MAGIC && be::u16(&h, 6) == 1 {
                return Ok(Some(luks1(&h)));
            }
        }
        return Ok(None);
    }
    let head = read_vec(source, 0, 4096, 4096)?;
    if &head[..6] == LUKS_MAGIC {
        match be::u16(&head, 6) {
            1 => return Ok(Some(luks1(&head))),
            2 => {}
            v => {
                return Ok(Some(LuksInfo {
                    diagnostics: vec![format!("unknown LUKS version {v}")],
                    ..empty(v)
                }));
            }
        }
        let primary = luks2(source, &head, 0, false)?;
        if primary.diagnostics.is_empty() {
            return Ok(Some(primary));
        }
        // The primary is damaged: look for the secondary, as cryptsetup does.
        if let Some(mut secondary) = find_secondary(source)? {
            let why = primary.diagnostics.join("; ");
            secondary
                .diagnostics
                .insert(0, format!("the primary LUKS2 header is damaged ({why})"));
            return Ok(Some(secondary));
        }
        return Ok(Some(primary));
    }
    // A damaged primary magic: a LUKS2 secondary header alone still identifies the volume.
    Ok(find_secondary(source)?.map(|mut s| {
        s.diagnostics
            .insert(0, "no primary LUKS header at offset 0".to_string());
        s
    }))
}

fn empty(version: u16) -> LuksInfo {
    LuksInfo {
        version,
        uuid: None,
        label: None,
        subsystem: None,
        cipher: None,
        key_bits: None,
        hash: None,
        data_offset: None,
        header_size: None,
        seqid: None,
        secondary_header: false,
        keyslots: Vec::new(),
        segments: Vec::new(),
        diagnostics: Vec::new(),
    }
}

fn text(h: &[u8], at: usize, len: usize) -> Option<String> {
    h.get(at..at + len).and_then(c_string)
}

fn luks1(h: &[u8]) -> LuksInfo {
    let name = text(h, 8, 32);
    let mode = text(h, 40, 32);
    let cipher = match (&name, &mode) {
        (Some(n), Some(m)) => Some(format!("{n}-{m}")),
        (Some(n), None) => Some(n.clone()),
        _ => None,
    };
    let key_bytes = be::u32(h, 108);
    let mut info = LuksInfo {
        uuid: text(h, 168, 40),
        cipher: cipher.clone(),
        key_bits: key_bytes.checked_mul(8),
        hash: text(h, 72, 32),
        data_offset: Some(u64::from(be::u32(h, 104)) * 512),
        ..empty(1)
    };
    for i in 0..8u32 {
        let at = 208 + 48 * i as usize;
        match be::u32(h, at) {
            LUKS1_KEY_ENABLED => info.keyslots.push(LuksKeyslot {
                index: i,
                kind: "luks1".to_string(),
                key_bits: info.key_bits,
                cipher: cipher.clone(),
                pbkdf: Some("pbkdf2".to_string()),
                iterations: Some(u64::from(be::u32(h, at + 4))),
            }),
            LUKS1_KEY_DISABLED => {}
            other => info.diagnostics.push(format!(
                "key slot {i} (offset {at}) has the unknown state {other:#010x}"
            )),
        }
    }
    info
}

/// The secondary LUKS2 header at one of the offsets the specification allows.
fn find_secondary(source: &dyn ByteSource) -> Result<Option<LuksInfo>, VolumeError> {
    let mut size = 16384u64;
    while size <= LUKS2_MAX_HEADER {
        if size.saturating_add(4096) <= source.len() {
            let h = read_vec(source, size, 4096, 4096)?;
            if &h[..6] == LUKS2_SECONDARY_MAGIC && be::u16(&h, 6) == 2 {
                let info = luks2(source, &h, size, true)?;
                return Ok(Some(info));
            }
        }
        size *= 2;
    }
    Ok(None)
}

/// A LUKS2 header whose binary part `h` was read at `at`.
fn luks2(
    source: &dyn ByteSource,
    h: &[u8],
    at: u64,
    secondary: bool,
) -> Result<LuksInfo, VolumeError> {
    let mut info = LuksInfo {
        uuid: text(h, 168, 40),
        label: text(h, 24, 48),
        subsystem: text(h, 208, 48),
        seqid: Some(be::u64(h, 16)),
        secondary_header: secondary,
        ..empty(2)
    };
    let hdr_size = be::u64(h, 8);
    let valid_size = hdr_size.is_power_of_two() && (16384..=LUKS2_MAX_HEADER).contains(&hdr_size);
    if !valid_size {
        info.diagnostics.push(format!(
            "header size {hdr_size} at offset {} is not a power of two between 16 KiB and 4 MiB",
            at + 8
        ));
        return Ok(info);
    }
    info.header_size = Some(hdr_size);
    if be::u64(h, 256) != at {
        info.diagnostics.push(format!(
            "the header at offset {at} says it is at offset {}",
            be::u64(h, 256)
        ));
    }
    if at.checked_add(hdr_size).is_none_or(|e| e > source.len()) {
        info.diagnostics.push(format!(
            "the {hdr_size}-byte header at offset {at} runs past the end of the volume ({} bytes)",
            source.len()
        ));
        return Ok(info);
    }
    let mut whole = read_vec(source, at, hdr_size, LUKS2_MAX_HEADER)?;
    let alg = text(h, 72, 32).unwrap_or_default();
    let stored: Vec<u8> = whole[448..448 + 32].to_vec();
    if alg == "sha256" {
        whole[448..512].fill(0);
        let sum = Sha256::digest(&whole);
        if sum.as_slice() != stored.as_slice() {
            info.diagnostics.push(format!(
                "the header checksum (sha256) at offset {} does not match",
                at + 448
            ));
        }
    } else {
        info.diagnostics
            .push(format!("header checksum algorithm {alg:?} is not checked"));
    }
    let json = &whole[4096..];
    let end = json.iter().position(|&b| b == 0).unwrap_or(json.len());
    let doc: Value = match serde_json::from_slice(&json[..end]) {
        Ok(v) => v,
        Err(e) => {
            info.diagnostics.push(format!(
                "the JSON metadata at offset {} is not valid JSON: {e}",
                at + 4096
            ));
            return Ok(info);
        }
    };
    read_json(&doc, &mut info);
    Ok(info)
}

/// JSON numbers that LUKS2 writes as strings (offsets, sizes) or as numbers.
fn json_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn json_str(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

/// The objects of a JSON map keyed by decimal indexes, sorted by index.
fn indexed(v: &Value) -> Vec<(u32, &serde_json::Map<String, Value>)> {
    let mut out: Vec<(u32, &serde_json::Map<String, Value>)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_object()?)))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|(i, _)| *i);
    out.truncate(MAX_LISTED);
    out
}

fn read_json(doc: &Value, info: &mut LuksInfo) {
    for (index, s) in indexed(&doc["segments"]) {
        info.segments.push(LuksSegment {
            index,
            kind: s.get("type").and_then(json_str).unwrap_or_default(),
            offset: s.get("offset").and_then(json_u64),
            size: s.get("size").and_then(json_u64),
            cipher: s.get("encryption").and_then(json_str),
            sector_size: s
                .get("sector_size")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
        });
    }
    for (index, k) in indexed(&doc["keyslots"]) {
        let kdf = k.get("kdf");
        info.keyslots.push(LuksKeyslot {
            index,
            kind: k.get("type").and_then(json_str).unwrap_or_default(),
            key_bits: k
                .get("key_size")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n.checked_mul(8)?).ok()),
            cipher: k
                .get("area")
                .and_then(|a| a.get("encryption"))
                .and_then(json_str),
            pbkdf: kdf.and_then(|k| k.get("type")).and_then(json_str),
            iterations: kdf
                .and_then(|k| k.get("iterations").or_else(|| k.get("time")))
                .and_then(Value::as_u64),
        });
    }
    let crypt = info.segments.iter().find(|s| s.kind == "crypt");
    info.cipher = crypt.and_then(|s| s.cipher.clone());
    info.data_offset = info.segments.first().and_then(|s| s.offset);
    info.key_bits = info.keyslots.first().and_then(|k| k.key_bits);
    info.hash = indexed(&doc["digests"])
        .first()
        .and_then(|(_, d)| d.get("hash"))
        .and_then(json_str);
}

/// What a BitLocker volume header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BitLockerInfo {
    /// The FVE metadata version: 1 (Windows Vista) or 2 (Windows 7 and later); `None` when no
    /// FVE metadata block could be read.
    pub version: Option<u16>,
    /// `vista`, `win7` (Windows 7 and later) or `to_go` (BitLocker To Go), from the volume
    /// header.
    pub flavour: &'static str,
    /// Where the FVE metadata blocks are, in bytes (as the volume header says).
    pub metadata_offsets: Vec<u64>,
    pub diagnostics: Vec<String>,
}

/// The GUID of BitLocker To Go volumes at offset 424 (4967d63b-2e29-4ad8-8399-f6a339e3d001),
/// as stored (mixed-endian).
const BDE_TO_GO_GUID: [u8; 16] = [
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
];

/// Read a BitLocker volume header. `Ok(None)`: not BitLocker. Nothing is decrypted.
pub fn bitlocker_info(source: &dyn ByteSource) -> Result<Option<BitLockerInfo>, VolumeError> {
    if source.len() < 512 {
        return Ok(None);
    }
    let h = read_vec(source, 0, 512, 512)?;
    let (flavour, offsets_at) = if &h[3..11] == b"-FVE-FS-" {
        if h[..3] == [0xeb, 0x52, 0x90] {
            ("vista", None)
        } else {
            ("win7", Some(176usize))
        }
    } else if &h[3..11] == b"MSWIN4.1" && h[424..440] == BDE_TO_GO_GUID {
        ("to_go", Some(440usize))
    } else {
        return Ok(None);
    };
    let mut info = BitLockerInfo {
        version: None,
        flavour,
        metadata_offsets: Vec::new(),
        diagnostics: Vec::new(),
    };
    let Some(at) = offsets_at else {
        info.diagnostics
            .push("Windows Vista BitLocker: the FVE metadata offset is not read".to_string());
        return Ok(Some(info));
    };
    for i in 0..3 {
        let off = le::u64(&h, at + 8 * i);
        info.metadata_offsets.push(off);
        if info.version.is_some() {
            continue;
        }
        if off.checked_add(64).is_none_or(|e| e > source.len()) {
            info.diagnostics.push(format!(
                "FVE metadata block {i} at offset {off} lies past the end of the volume"
            ));
            continue;
        }
        let b = read_vec(source, off, 64, 64)?;
        if &b[..8] != b"-FVE-FS-" {
            info.diagnostics
                .push(format!("no FVE metadata block signature at offset {off}"));
            continue;
        }
        info.version = Some(le::u16(&b, 10));
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use preflight_io::MemSource;

    use super::*;

    fn put(d: &mut [u8], at: usize, b: &[u8]) {
        d[at..at + b.len()].copy_from_slice(b);
    }

    #[test]
    fn luks1_header_fields() {
        let mut d = vec![0u8; 8192];
        put(&mut d, 0, LUKS_MAGIC);
        put(&mut d, 6, &1u16.to_be_bytes());
        put(&mut d, 8, b"aes");
        put(&mut d, 40, b"cbc-essiv:sha256");
        put(&mut d, 72, b"sha1");
        put(&mut d, 104, &4096u32.to_be_bytes());
        put(&mut d, 108, &32u32.to_be_bytes());
        put(&mut d, 168, b"00000000-1111-2222-3333-444444444444");
        for i in 0..8 {
            let state = if i == 2 {
                LUKS1_KEY_ENABLED
            } else {
                LUKS1_KEY_DISABLED
            };
            put(&mut d, 208 + 48 * i, &state.to_be_bytes());
            put(&mut d, 212 + 48 * i, &77u32.to_be_bytes());
        }
        let info = luks_info(&MemSource(d)).unwrap().unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.cipher.as_deref(), Some("aes-cbc-essiv:sha256"));
        assert_eq!(info.key_bits, Some(256));
        assert_eq!(info.data_offset, Some(4096 * 512));
        assert_eq!(info.keyslots.len(), 1);
        assert_eq!(info.keyslots[0].index, 2);
        assert_eq!(info.keyslots[0].iterations, Some(77));
        assert!(info.diagnostics.is_empty());
    }

    fn luks2_image(json: &str, hdr_size: u64, checksum: bool) -> Vec<u8> {
        let mut d = vec![0u8; 2 * hdr_size as usize + 8192];
        for (at, magic) in [(0u64, LUKS_MAGIC), (hdr_size, LUKS2_SECONDARY_MAGIC)] {
            let a = at as usize;
            let mut h = vec![0u8; hdr_size as usize];
            put(&mut h, 0, magic);
            put(&mut h, 6, &2u16.to_be_bytes());
            put(&mut h, 8, &hdr_size.to_be_bytes());
            put(&mut h, 16, &5u64.to_be_bytes());
            put(&mut h, 24, b"my label");
            put(&mut h, 72, b"sha256");
            put(&mut h, 168, b"aaaaaaaa-1111-2222-3333-444444444444");
            put(&mut h, 256, &at.to_be_bytes());
            put(&mut h, 4096, json.as_bytes());
            if checksum {
                let sum = Sha256::digest(&h);
                put(&mut h, 448, &sum);
            }
            put(&mut d, a, &h);
        }
        d
    }

    const JSON: &str = r#"{"keyslots":{"1":{"type":"luks2","key_size":32,"area":{"encryption":"aes-cbc-essiv:sha256"},"kdf":{"type":"argon2id","time":4}},"0":{"type":"luks2","key_size":64,"area":{"encryption":"aes-xts-plain64"},"kdf":{"type":"pbkdf2","iterations":1000}}},
        "segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","encryption":"aes-xts-plain64","sector_size":4096}},
        "digests":{"0":{"hash":"sha512"}}}"#;

    #[test]
    fn luks2_header_and_json() {
        let d = luks2_image(JSON, 16384, true);
        let info = luks_info(&MemSource(d.clone())).unwrap().unwrap();
        assert_eq!(info.version, 2);
        assert!(info.diagnostics.is_empty(), "{:?}", info.diagnostics);
        assert_eq!(info.label.as_deref(), Some("my label"));
        assert_eq!(info.cipher.as_deref(), Some("aes-xts-plain64"));
        assert_eq!(info.key_bits, Some(512));
        assert_eq!(info.hash.as_deref(), Some("sha512"));
        assert_eq!(info.data_offset, Some(16 << 20));
        assert_eq!(info.seqid, Some(5));
        assert_eq!(info.keyslots.len(), 2);
        assert_eq!(info.keyslots[1].pbkdf.as_deref(), Some("argon2id"));
        assert_eq!(info.keyslots[1].iterations, Some(4));
        assert_eq!(info.segments[0].size, None);
        assert_eq!(info.segments[0].sector_size, Some(4096));
        // A damaged primary: the secondary is used, and says so.
        let mut bad = d.clone();
        bad[5000] ^= 1;
        let info = luks_info(&MemSource(bad)).unwrap().unwrap();
        assert!(info.secondary_header);
        assert_eq!(info.cipher.as_deref(), Some("aes-xts-plain64"));
        assert!(
            info.diagnostics[0].contains("primary"),
            "{:?}",
            info.diagnostics
        );
        // No primary magic at all.
        let mut bad = d;
        bad[0] = 0;
        let info = luks_info(&MemSource(bad)).unwrap().unwrap();
        assert!(info.secondary_header);
    }

    #[test]
    fn luks2_damage_is_diagnosed_not_fatal() {
        let d = luks2_image("{not json", 16384, true);
        let info = luks_info(&MemSource(d)).unwrap().unwrap();
        assert!(
            info.diagnostics
                .iter()
                .any(|m| m.contains("not valid JSON"))
        );
        let mut d = luks2_image(JSON, 16384, true);
        put(&mut d, 8, &12345u64.to_be_bytes());
        put(&mut d, 16384 + 8, &u64::MAX.to_be_bytes());
        let info = luks_info(&MemSource(d)).unwrap().unwrap();
        assert!(info.diagnostics.iter().any(|m| m.contains("power of two")));
        // Too short to hold the declared header.
        let d = luks2_image(JSON, 1 << 20, true);
        let info = luks_info(&MemSource(d[..65536].to_vec())).unwrap().unwrap();
        assert!(!info.diagnostics.is_empty());
        // Not LUKS.
        assert_eq!(luks_info(&MemSource(vec![0; 100_000])).unwrap(), None);
        assert_eq!(luks_info(&MemSource(vec![0; 10])).unwrap(), None);
    }

    #[test]
    fn bitlocker_headers() {
        let mut d = vec![0u8; 65536];
        put(&mut d, 0, &[0xeb, 0x58, 0x90]);
        put(&mut d, 3, b"-FVE-FS-");
        put(&mut d, 176, &8192u64.to_le_bytes());
        put(&mut d, 184, &16384u64.to_le_bytes());
        put(&mut d, 192, &(1u64 << 40).to_le_bytes());
        put(&mut d, 8192, b"-FVE-FS-");
        put(&mut d, 8192 + 10, &2u16.to_le_bytes());
        let info = bitlocker_info(&MemSource(d.clone())).unwrap().unwrap();
        assert_eq!(info.flavour, "win7");
        assert_eq!(info.version, Some(2));
        assert_eq!(info.metadata_offsets, [8192, 16384, 1 << 40]);
        // Vista.
        d[1] = 0x52;
        let info = bitlocker_info(&MemSource(d)).unwrap().unwrap();
        assert_eq!(info.flavour, "vista");
        // To Go.
        let mut d = vec![0u8; 65536];
        put(&mut d, 3, b"MSWIN4.1");
        put(&mut d, 424, &BDE_TO_GO_GUID);
        put(&mut d, 440, &4096u64.to_le_bytes());
        put(&mut d, 4096, b"-FVE-FS-");
        put(&mut d, 4096 + 10, &2u16.to_le_bytes());
        let info = bitlocker_info(&MemSource(d)).unwrap().unwrap();
        assert_eq!((info.flavour, info.version), ("to_go", Some(2)));
        assert_eq!(bitlocker_info(&MemSource(vec![0; 4096])).unwrap(), None);
    }
}
