//! LUKS1 and LUKS2 headers made by `cryptsetup luksFormat`, read by `luks_info` and compared
//! with `cryptsetup luksDump` (and `--dump-json-metadata` for LUKS2). Nothing is decrypted.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use preflight_volume::{LuksInfo, ProbeKind, luks_info, probe};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// `luksDump` as "Key:" → value (first occurrence), plus the enabled LUKS1 key slots.
fn dump(img: &Path) -> (BTreeMap<String, String>, Vec<u32>) {
    let out = sh("cryptsetup", "cryptsetup-bin", &["luksDump", s(img)]);
    let mut map = BTreeMap::new();
    let mut enabled = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Key Slot ") {
            if let Some((n, state)) = rest.split_once(':')
                && state.trim() == "ENABLED"
            {
                enabled.push(n.parse().unwrap());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            map.entry(k.trim().to_string())
                .or_insert_with(|| v.trim().to_string());
        }
    }
    (map, enabled)
}

fn json_dump(img: &Path) -> Value {
    let out = sh(
        "cryptsetup",
        "cryptsetup-bin",
        &["luksDump", "--dump-json-metadata", s(img)],
    );
    serde_json::from_str(&out).unwrap()
}

fn format(dir: &TempDir, name: &str, args: &[&str]) -> std::path::PathBuf {
    let img = dir.path(name);
    sparse(&img, 40 * MIB);
    let key = dir.path("key");
    std::fs::write(&key, b"not a secret").unwrap();
    let mut a = vec!["luksFormat", "--batch-mode", "--key-file", s(&key)];
    a.extend_from_slice(args);
    a.push(s(&img));
    sh("cryptsetup", "cryptsetup-bin", &a);
    img
}

fn ours(img: &Path) -> LuksInfo {
    let src = open(img);
    assert_eq!(probe(&*src).unwrap().kind, ProbeKind::Luks);
    luks_info(&*src).unwrap().expect("LUKS header")
}

fn check_luks1(img: &Path) -> LuksInfo {
    let info = ours(img);
    let (d, enabled) = dump(img);
    let context = format!("{info:#?}\n{d:#?}");
    assert_eq!(info.version, 1);
    assert_eq!(d["Version"], "1");
    assert_eq!(info.uuid.as_deref(), Some(d["UUID"].as_str()), "{context}");
    assert_eq!(
        info.cipher.as_deref(),
        Some(format!("{}-{}", d["Cipher name"], d["Cipher mode"]).as_str()),
        "{context}"
    );
    assert_eq!(
        info.key_bits.unwrap().to_string(),
        d["MK bits"],
        "{context}"
    );
    assert_eq!(info.hash.as_deref(), Some(d["Hash spec"].as_str()));
    assert_eq!(
        info.data_offset,
        Some(d["Payload offset"].parse::<u64>().unwrap() * 512)
    );
    let slots: Vec<u32> = info.keyslots.iter().map(|k| k.index).collect();
    assert_eq!(slots, enabled, "{context}");
    assert!(info.diagnostics.is_empty(), "{context}");
    info
}

fn check_luks2(img: &Path) -> LuksInfo {
    let info = ours(img);
    let (d, _) = dump(img);
    let j = json_dump(img);
    let context = format!("{info:#?}\n{d:#?}\n{j:#}");
    assert_eq!(info.version, 2);
    assert_eq!(d["Version"], "2");
    assert_eq!(info.uuid.as_deref(), Some(d["UUID"].as_str()), "{context}");
    let label = (d["Label"] != "(no label)").then(|| d["Label"].clone());
    assert_eq!(info.label, label, "{context}");
    let subsystem = (d["Subsystem"] != "(no subsystem)").then(|| d["Subsystem"].clone());
    assert_eq!(info.subsystem, subsystem, "{context}");
    assert_eq!(info.seqid.unwrap().to_string(), d["Epoch"], "{context}");
    assert_eq!(
        format!("{} [bytes]", info.header_size.unwrap()),
        d["Metadata area"]
    );
    // Segments.
    let segs = j["segments"].as_object().unwrap();
    assert_eq!(info.segments.len(), segs.len());
    for s in &info.segments {
        let js = &segs[&s.index.to_string()];
        assert_eq!(s.kind, js["type"]);
        assert_eq!(s.cipher.as_deref(), js["encryption"].as_str());
        assert_eq!(s.offset.unwrap().to_string(), js["offset"]);
        match js["size"].as_str().unwrap() {
            "dynamic" => assert_eq!(s.size, None),
            n => assert_eq!(s.size.unwrap().to_string(), n),
        }
        assert_eq!(
            Some(u64::from(s.sector_size.unwrap())),
            js["sector_size"].as_u64()
        );
    }
    assert_eq!(info.cipher.as_deref(), segs["0"]["encryption"].as_str());
    // Key slots.
    let slots = j["keyslots"].as_object().unwrap();
    assert_eq!(info.keyslots.len(), slots.len(), "{context}");
    for k in &info.keyslots {
        let jk = &slots[&k.index.to_string()];
        assert_eq!(k.kind, jk["type"]);
        assert_eq!(
            u64::from(k.key_bits.unwrap()),
            jk["key_size"].as_u64().unwrap() * 8
        );
        assert_eq!(k.cipher.as_deref(), jk["area"]["encryption"].as_str());
        assert_eq!(k.pbkdf.as_deref(), jk["kdf"]["type"].as_str());
    }
    assert_eq!(
        info.key_bits.map(u64::from),
        slots
            .get(&info.keyslots[0].index.to_string())
            .and_then(|k| k["key_size"].as_u64())
            .map(|b| b * 8)
    );
    info
}

#[test]
fn luks1_default_and_custom_cipher() {
    let dir = TempDir::new("luks1");
    let img = format(
        &dir,
        "default",
        &[
            "--type",
            "luks1",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
        ],
    );
    let info = check_luks1(&img);
    assert_eq!(info.cipher.as_deref(), Some("aes-xts-plain64"));
    assert_eq!(info.keyslots.len(), 1);

    let img = format(
        &dir,
        "cbc",
        &[
            "--type",
            "luks1",
            "--cipher",
            "aes-cbc-essiv:sha256",
            "--key-size",
            "256",
            "--hash",
            "sha1",
            "--iter-time",
            "1",
        ],
    );
    // A second key slot, in slot 5.
    let key2 = dir.path("key2");
    std::fs::write(&key2, b"other").unwrap();
    sh(
        "cryptsetup",
        "cryptsetup-bin",
        &[
            "luksAddKey",
            "--batch-mode",
            "--key-file",
            s(&dir.path("key")),
            "--key-slot",
            "5",
            "--iter-time",
            "1",
            s(&img),
            s(&key2),
        ],
    );
    let info = check_luks1(&img);
    assert_eq!(info.cipher.as_deref(), Some("aes-cbc-essiv:sha256"));
    assert_eq!(info.key_bits, Some(256));
    assert_eq!(
        info.keyslots.iter().map(|k| k.index).collect::<Vec<_>>(),
        [0, 5]
    );
}

#[test]
fn luks2_variants() {
    let dir = TempDir::new("luks2");
    let img = format(
        &dir,
        "pbkdf2",
        &[
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--label",
            "cryptroot",
            "--subsystem",
            "oci",
        ],
    );
    let info = check_luks2(&img);
    assert_eq!(info.cipher.as_deref(), Some("aes-xts-plain64"));
    assert_eq!(info.key_bits, Some(512));
    assert_eq!(info.keyslots[0].pbkdf.as_deref(), Some("pbkdf2"));
    assert!(info.diagnostics.is_empty(), "{:?}", info.diagnostics);

    let img = format(
        &dir,
        "argon",
        &[
            "--type",
            "luks2",
            "--pbkdf",
            "argon2id",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-memory",
            "32",
            "--luks2-metadata-size",
            "64k",
            "--cipher",
            "aes-cbc-essiv:sha256",
            "--key-size",
            "256",
            "--sector-size",
            "512",
        ],
    );
    let info = check_luks2(&img);
    assert_eq!(info.header_size, Some(65536));
    assert_eq!(info.keyslots[0].pbkdf.as_deref(), Some("argon2id"));
    assert_eq!(info.cipher.as_deref(), Some("aes-cbc-essiv:sha256"));
    assert!(info.diagnostics.is_empty(), "{:?}", info.diagnostics);
}

#[test]
fn luks2_damaged_primary_falls_back_to_the_secondary() {
    let dir = TempDir::new("luks2-bad");
    let img = format(
        &dir,
        "img",
        &[
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
        ],
    );
    let good = check_luks2(&img);
    // A byte of the primary's JSON area: its checksum fails; cryptsetup uses the secondary.
    flip(&img, 4096 + 10);
    let info = ours(&img);
    assert!(info.secondary_header);
    assert_eq!(info.uuid, good.uuid);
    assert_eq!(info.cipher, good.cipher);
    assert!(
        info.diagnostics[0].contains("primary"),
        "{:?}",
        info.diagnostics
    );
    let (d, _) = dump(&img);
    assert_eq!(info.uuid.as_deref(), Some(d["UUID"].as_str()));
}
