//! Private keys recognised in file contents: PEM blocks (PKCS#1, SEC 1, PKCS#8, encrypted or
//! not), OpenSSH's own format, PuTTY key files, PGP secret key blocks, OpenVPN static keys.
//!
//! Only non-secret facts leave this module: the key type and size or curve, whether it is
//! encrypted, and the OpenSSH SHA256 fingerprint of its public half where that half is in the
//! file (RSA and ECDSA keys, OpenSSH's public section). Decoded key material lives only in
//! local buffers.

use crate::ssh_keys::fingerprint;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Most key blocks reported per file.
const MAX_BLOCKS: usize = 64;

/// A private key found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyInfo {
    /// 1-based line of the header.
    pub line: u32,
    /// "OpenSSH private key", "PEM private key (PKCS#8)", …
    pub kind: String,
    /// "RSA 3072 bits", "ECDSA nistp256", "Ed25519", … when the format shows it.
    pub algorithm: Option<String>,
    pub encrypted: Option<bool>,
    /// The cipher named by the file ("aes256-ctr", "AES-128-CBC"), when encrypted.
    pub cipher: Option<String>,
    pub fingerprint: Option<String>,
}

impl KeyInfo {
    fn new(line: u32, kind: &str) -> Self {
        KeyInfo {
            line,
            kind: kind.to_string(),
            algorithm: None,
            encrypted: None,
            cipher: None,
            fingerprint: None,
        }
    }

    /// "RSA 3072 bits, not encrypted, SHA256:…".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(a) = &self.algorithm {
            parts.push(a.clone());
        }
        match (self.encrypted, &self.cipher) {
            (Some(true), Some(c)) => parts.push(format!("encrypted ({c})")),
            (Some(true), None) => parts.push("encrypted".to_string()),
            (Some(false), _) => parts.push("not encrypted".to_string()),
            (None, _) => {}
        }
        if let Some(f) = &self.fingerprint {
            parts.push(f.clone());
        }
        if parts.is_empty() {
            "details not readable".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Every private key block in `text` (a file's first bytes, lossily decoded; JSON-escaped
/// newlines inside a block are accepted, as in a Google service account key file).
pub(super) fn find_keys(text: &str) -> Vec<KeyInfo> {
    let mut out = Vec::new();
    let mut line = 1u32;
    let mut counted = 0usize;
    for (at, _) in text.match_indices("-----BEGIN ") {
        if out.len() >= MAX_BLOCKS {
            break;
        }
        line = line.saturating_add(count_newlines(text.get(counted..at).unwrap_or("")));
        counted = at;
        let rest = text.get(at + 11..).unwrap_or("");
        let Some(end) = rest.get(..rest.len().min(80)).and_then(|r| r.find("-----")) else {
            continue;
        };
        let label = rest.get(..end).unwrap_or("");
        if !label
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ' || c == b'#')
        {
            if label.starts_with("OpenVPN Static key") {
                let mut k = KeyInfo::new(line, "OpenVPN static key");
                k.encrypted = Some(false);
                out.push(k);
            }
            continue;
        }
        let after = rest.get(end + 5..).unwrap_or("");
        let body = match after.find("-----END ") {
            Some(e) => after.get(..e).unwrap_or(""),
            None => after,
        };
        if label == "PGP PRIVATE KEY BLOCK" {
            out.push(KeyInfo::new(line, "PGP secret key block"));
            continue;
        }
        if !label.ends_with("PRIVATE KEY") {
            continue;
        }
        out.push(pem_key(line, label, body));
    }
    let mut line = 1u32;
    for l in text.split('\n') {
        if l.starts_with("PuTTY-User-Key-File-") && out.len() < MAX_BLOCKS {
            out.push(putty_key(line, l, text));
        }
        line = line.saturating_add(1);
    }
    out.sort_by_key(|k| k.line);
    out
}

fn count_newlines(s: &str) -> u32 {
    u32::try_from(s.bytes().filter(|&b| b == b'\n').count()).unwrap_or(u32::MAX)
}

/// A PEM block: `label` is what follows BEGIN, `body` what lies between the markers.
fn pem_key(line: u32, label: &str, body: &str) -> KeyInfo {
    let body = body.replace("\\n", "\n").replace("\\r", "");
    let mut headers: Vec<(&str, &str)> = Vec::new();
    let mut b64 = String::new();
    for l in body.lines() {
        let l = l.trim();
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim(), v.trim()));
        } else {
            b64.extend(l.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let der = B64.decode(b64.as_bytes()).ok();
    let der = der.as_deref().unwrap_or(&[]);
    let mut k = match label {
        "OPENSSH PRIVATE KEY" => return openssh_key(line, der),
        "ENCRYPTED PRIVATE KEY" => {
            let mut k = KeyInfo::new(line, "PEM private key (PKCS#8, encrypted)");
            k.encrypted = Some(true);
            k.cipher = pkcs8_encryption(der);
            return k;
        }
        "PRIVATE KEY" => {
            let mut k = KeyInfo::new(line, "PEM private key (PKCS#8)");
            pkcs8(der, &mut k);
            k
        }
        "RSA PRIVATE KEY" => {
            let mut k = KeyInfo::new(line, "PEM private key (PKCS#1 RSA)");
            rsa(der, &mut k);
            k
        }
        "EC PRIVATE KEY" => {
            let mut k = KeyInfo::new(line, "PEM private key (SEC 1 EC)");
            ec(der, None, &mut k);
            k
        }
        "DSA PRIVATE KEY" => {
            let mut k = KeyInfo::new(line, "PEM private key (DSA)");
            dsa(der, &mut k);
            k
        }
        other => KeyInfo::new(line, &format!("PEM private key ({other})")),
    };
    let proc_encrypted = headers
        .iter()
        .any(|(h, v)| h.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"));
    if proc_encrypted {
        k.encrypted = Some(true);
        // DEK-Info: AES-128-CBC,<IV>: the cipher only, never the IV.
        k.cipher = headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case("DEK-Info"))
            .and_then(|(_, v)| v.split(',').next())
            .map(|c| sanitize(c, 32));
        k.algorithm = match label {
            "RSA PRIVATE KEY" => Some("RSA".to_string()),
            "EC PRIVATE KEY" => Some("EC".to_string()),
            "DSA PRIVATE KEY" => Some("DSA".to_string()),
            _ => None,
        };
        k.fingerprint = None;
    } else if k.encrypted.is_none() {
        k.encrypted = Some(false);
    }
    k
}

fn putty_key(line: u32, first: &str, text: &str) -> KeyInfo {
    let mut k = KeyInfo::new(line, "PuTTY private key");
    if let Some((_, alg)) = first.split_once(':') {
        k.algorithm = Some(sanitize(alg.trim(), 40));
    }
    if let Some(enc) = text
        .lines()
        .find_map(|l| l.strip_prefix("Encryption:"))
        .map(str::trim)
    {
        k.encrypted = Some(enc != "none");
        if enc != "none" {
            k.cipher = Some(sanitize(enc, 32));
        }
    }
    k
}

/// Keep a short, printable copy of a non-secret label.
pub(super) fn sanitize(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

// ---------------------------------------------------------------------------------------------
// OpenSSH (PROTOCOL.key)

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let b = self.0.get(..4)?;
        self.0 = self.0.get(4..)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }
    fn string(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        let s = self.0.get(..n)?;
        self.0 = self.0.get(n..)?;
        Some(s)
    }
}

fn openssh_key(line: u32, data: &[u8]) -> KeyInfo {
    let mut k = KeyInfo::new(line, "OpenSSH private key");
    let Some(rest) = data.strip_prefix(b"openssh-key-v1\0") else {
        return k;
    };
    let mut r = Reader(rest);
    let Some(cipher) = r.string() else { return k };
    let cipher = String::from_utf8_lossy(cipher);
    k.encrypted = Some(cipher != "none");
    if cipher != "none" {
        k.cipher = Some(sanitize(&cipher, 32));
    }
    let (Some(_kdf), Some(_kdfopts), Some(n)) = (r.string(), r.string(), r.u32()) else {
        return k;
    };
    if n == 0 {
        return k;
    }
    let Some(blob) = r.string() else { return k };
    k.algorithm = ssh_blob_algorithm(blob);
    if k.algorithm.is_some() {
        k.fingerprint = Some(fingerprint(blob));
    }
    k
}

/// "RSA 3072 bits", "ECDSA nistp256", "Ed25519" from a public key blob.
fn ssh_blob_algorithm(blob: &[u8]) -> Option<String> {
    let mut r = Reader(blob);
    let t = String::from_utf8_lossy(r.string()?).into_owned();
    Some(match t.as_str() {
        "ssh-rsa" => {
            let _e = r.string()?;
            format!("RSA {} bits", int_bits(r.string()?))
        }
        "ssh-dss" => format!("DSA {} bits", int_bits(r.string()?)),
        "ssh-ed25519" => "Ed25519".to_string(),
        "sk-ssh-ed25519@openssh.com" => "Ed25519-SK (security key)".to_string(),
        t if t.starts_with("ecdsa-sha2-") => {
            format!(
                "ECDSA {}",
                sanitize(&String::from_utf8_lossy(r.string()?), 16)
            )
        }
        t if t.starts_with("sk-ecdsa-sha2-") => {
            format!(
                "ECDSA-SK {} (security key)",
                sanitize(&String::from_utf8_lossy(r.string()?), 16)
            )
        }
        other => sanitize(other, 40),
    })
}

/// Bits of a big-endian unsigned integer (leading zero bytes ignored).
fn int_bits(b: &[u8]) -> u32 {
    let b = match b.iter().position(|&x| x != 0) {
        Some(i) => b.get(i..).unwrap_or(&[]),
        None => return 0,
    };
    let Some(&first) = b.first() else { return 0 };
    let bytes = u32::try_from(b.len()).unwrap_or(u32::MAX / 8);
    bytes
        .saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(8 - first.leading_zeros())
}

// ---------------------------------------------------------------------------------------------
// DER (only what key structures need)

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

/// One TLV: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for &b in rest.get(..n)? {
            len = len.checked_mul(256)?.checked_add(usize::from(b))?;
        }
        (len, rest.get(n..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = tlv(input)?;
    (tag == want).then_some((body, rest))
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];
const OID_X25519: &[u8] = &[0x2b, 0x65, 0x6e];
const OID_X448: &[u8] = &[0x2b, 0x65, 0x6f];
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];

/// Named curves: DER OID, OpenSSH name (for ECDSA fingerprints) or the SEC name.
const CURVES: &[(&[u8], &str, bool)] = &[
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        "nistp256",
        true,
    ),
    (&[0x2b, 0x81, 0x04, 0x00, 0x22], "nistp384", true),
    (&[0x2b, 0x81, 0x04, 0x00, 0x23], "nistp521", true),
    (&[0x2b, 0x81, 0x04, 0x00, 0x0a], "secp256k1", false),
    (
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07],
        "brainpoolP256r1",
        false,
    ),
];

fn curve(oid: &[u8]) -> Option<(&'static str, bool)> {
    CURVES
        .iter()
        .find(|(o, _, _)| *o == oid)
        .map(|(_, n, ssh)| (*n, *ssh))
}

/// SSH wire string.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(u32::try_from(s.len()).unwrap_or(u32::MAX)).to_be_bytes());
    out.extend_from_slice(s);
}

/// PKCS#1 RSAPrivateKey: SEQUENCE { version, n, e, d, … }.
fn rsa(der: &[u8], k: &mut KeyInfo) -> Option<()> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (_version, rest) = expect(seq, INTEGER)?;
    let (n, rest) = expect(rest, INTEGER)?;
    let (e, _) = expect(rest, INTEGER)?;
    k.algorithm = Some(format!("RSA {} bits", int_bits(n)));
    // DER INTEGERs of positive numbers are already SSH mpints.
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-rsa");
    put_string(&mut blob, e);
    put_string(&mut blob, n);
    k.fingerprint = Some(fingerprint(&blob));
    Some(())
}

/// DSAPrivateKey: SEQUENCE { version, p, q, g, y, x }.
fn dsa(der: &[u8], k: &mut KeyInfo) -> Option<()> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (_version, rest) = expect(seq, INTEGER)?;
    let (p, _) = expect(rest, INTEGER)?;
    k.algorithm = Some(format!("DSA {} bits", int_bits(p)));
    Some(())
}

/// SEC 1 ECPrivateKey: SEQUENCE { version, privateKey, [0] curve OID, [1] public key }.
/// `curve_oid`: from the PKCS#8 algorithm parameters when the inner key leaves it out.
fn ec(der: &[u8], curve_oid: Option<&[u8]>, k: &mut KeyInfo) -> Option<()> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (_version, rest) = expect(seq, INTEGER)?;
    let (_d, mut rest) = expect(rest, OCTET_STRING)?;
    let mut oid = curve_oid;
    let mut public: Option<&[u8]> = None;
    while let Some((tag, body, next)) = tlv(rest) {
        match tag {
            0xa0 => oid = expect(body, OID).map(|(o, _)| o).or(oid),
            0xa1 => public = expect(body, BIT_STRING).and_then(|(b, _)| b.get(1..)),
            _ => {}
        }
        rest = next;
    }
    let Some((name, ssh)) = oid.and_then(curve) else {
        k.algorithm = Some("EC (unknown curve)".to_string());
        return Some(());
    };
    k.algorithm = Some(format!("ECDSA {name}"));
    if let Some(q) = public.filter(|q| ssh && q.first() == Some(&4)) {
        let mut blob = Vec::new();
        put_string(&mut blob, format!("ecdsa-sha2-{name}").as_bytes());
        put_string(&mut blob, name.as_bytes());
        put_string(&mut blob, q);
        k.fingerprint = Some(fingerprint(&blob));
    }
    Some(())
}

/// PKCS#8 PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING key, … }.
fn pkcs8(der: &[u8], k: &mut KeyInfo) -> Option<()> {
    k.encrypted = Some(false);
    let (seq, _) = expect(der, SEQUENCE)?;
    let (_version, rest) = expect(seq, INTEGER)?;
    let (alg, rest) = expect(rest, SEQUENCE)?;
    let (inner, _) = expect(rest, OCTET_STRING)?;
    let (oid, params) = expect(alg, OID)?;
    match oid {
        o if o == OID_RSA || o == OID_RSA_PSS => rsa(inner, k),
        o if o == OID_DSA => {
            let (p, _) = expect(params, SEQUENCE)?;
            let (p, _) = expect(p, INTEGER)?;
            k.algorithm = Some(format!("DSA {} bits", int_bits(p)));
            Some(())
        }
        o if o == OID_EC => {
            let curve_oid = expect(params, OID).map(|(c, _)| c);
            ec(inner, curve_oid, k)
        }
        o if o == OID_ED25519 => {
            k.algorithm = Some("Ed25519".to_string());
            Some(())
        }
        o if o == OID_ED448 => {
            k.algorithm = Some("Ed448".to_string());
            Some(())
        }
        o if o == OID_X25519 => {
            k.algorithm = Some("X25519".to_string());
            Some(())
        }
        o if o == OID_X448 => {
            k.algorithm = Some("X448".to_string());
            Some(())
        }
        _ => {
            k.algorithm = Some("unknown algorithm".to_string());
            Some(())
        }
    }
}

/// EncryptedPrivateKeyInfo's scheme: "PBES2" or "legacy PKCS#5/#12".
fn pkcs8_encryption(der: &[u8]) -> Option<String> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (alg, _) = expect(seq, SEQUENCE)?;
    let (oid, _) = expect(alg, OID)?;
    Some(if oid == OID_PBES2 {
        "PBES2".to_string()
    } else {
        "legacy PBE".to_string()
    })
}

/// A binary DER private key (a `*.key` file not in PEM): PKCS#8 or PKCS#1.
pub(super) fn der_key(data: &[u8]) -> Option<KeyInfo> {
    let mut k = KeyInfo::new(1, "DER private key (PKCS#8)");
    if pkcs8(data, &mut k).is_some() {
        return Some(k);
    }
    let mut k = KeyInfo::new(1, "DER private key (PKCS#1 RSA)");
    rsa(data, &mut k)?;
    k.encrypted = Some(false);
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_der_never_panics() {
        for data in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x80],
            &[0x30, 0x03, 0x02, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
        ] {
            let _ = der_key(data);
            let mut k = KeyInfo::new(1, "x");
            let _ = ec(data, None, &mut k);
        }
        assert_eq!(int_bits(&[0, 0x80, 0]), 16);
        assert_eq!(int_bits(&[0x01]), 1);
        assert_eq!(int_bits(&[]), 0);
    }

    #[test]
    fn truncated_blocks_still_count() {
        let keys = find_keys("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].line, 2);
        assert_eq!(keys[0].kind, "OpenSSH private key");
        let keys = find_keys("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(keys.is_empty());
    }
}
