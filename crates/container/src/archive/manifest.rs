//! The OVA manifest (`.mf`, DSP0243 §5.1): one line per file, `SHA256(disk1.vmdk)= <hex>`
//! (SHA1 in OVF 1.x, SHA256 or SHA512 in 2.x; some tools write a space before the `=` or the
//! parenthesis). Checking reads every listed member in full, so it is done only on request.

use preflight_io::{ByteSource, Source};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::Progress;
use crate::info::{ArchiveMember, DigestCheck};

/// The manifest member is capped (one short line per file).
pub const MAX_MANIFEST: u64 = 1 << 20;
/// Lines considered, at most.
const MAX_LINES: usize = 10_000;
/// Bytes hashed per read.
const CHUNK: u64 = 4 << 20;

pub const PROGRESS_MESSAGE: &str = "Checking the manifest digests";

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub algorithm: String,
    pub member: String,
    pub digest: String,
}

/// Parses the manifest; lines that are not digests are skipped.
pub fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .take(MAX_LINES)
        .filter_map(|line| {
            let open = line.find('(')?;
            let close = line.rfind(')')?;
            let algorithm = line.get(..open)?.trim().to_ascii_uppercase();
            let member = line.get(open + 1..close)?.to_string();
            let digest = line
                .get(close + 1..)?
                .trim_start()
                .strip_prefix('=')?
                .trim();
            if algorithm.is_empty() || digest.is_empty() {
                return None;
            }
            Some(Line {
                algorithm,
                member,
                digest: digest.to_ascii_lowercase(),
            })
        })
        .collect()
}

enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: &str) -> Option<Self> {
        match algorithm {
            "SHA1" => Some(Hasher::Sha1(Sha1::new())),
            "SHA256" => Some(Hasher::Sha256(Sha256::new())),
            "SHA512" => Some(Hasher::Sha512(Sha512::new())),
            _ => None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes = match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A manifest name against a member name: exact, or once a leading `./` is dropped.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim_start_matches("./") == b.trim_start_matches("./")
}

/// Checks each line against the member it names, reading members from `stream` (the tar's
/// bytes, plain or decompressed). A read error is returned: the archive is unreadable there.
pub fn verify(
    lines: &[Line],
    members: &[ArchiveMember],
    stream: &Source,
    progress: Option<Progress<'_>>,
) -> Result<Vec<DigestCheck>, preflight_io::IoError> {
    let found: Vec<Option<&ArchiveMember>> = lines
        .iter()
        .map(|l| members.iter().find(|m| same_name(&m.name, &l.member)))
        .collect();
    let total: u64 = found
        .iter()
        .zip(lines)
        .filter(|(m, l)| m.is_some() && Hasher::new(&l.algorithm).is_some())
        .map(|(m, _)| m.map_or(0, |m| m.size))
        .fold(0, u64::saturating_add);
    let mut done = 0u64;
    let mut buf = Vec::new();
    let mut checks = Vec::new();
    for (line, member) in lines.iter().zip(found) {
        let actual = match (member, Hasher::new(&line.algorithm)) {
            (Some(m), Some(mut h)) => {
                let mut off = 0u64;
                // Each turn reads a chunk; the member's size bounds the turns.
                while off < m.size {
                    let n = (m.size - off).min(CHUNK);
                    buf.resize(n as usize, 0);
                    stream.read_at(m.offset.saturating_add(off), &mut buf)?;
                    h.update(&buf);
                    off += n;
                    done = done.saturating_add(n);
                    if let Some(p) = progress {
                        p(PROGRESS_MESSAGE, done, total);
                    }
                }
                Some(h.hex())
            }
            _ => None,
        };
        checks.push(DigestCheck {
            member: line.member.clone(),
            algorithm: line.algorithm.clone(),
            expected: line.digest.clone(),
            actual,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use preflight_io::MemSource;

    use super::*;

    #[test]
    fn parses_the_usual_spellings() {
        let lines = parse(
            "SHA256(disk.ovf)= AB12\nSHA1 (a b.vmdk) = cd\r\nnonsense\nSHA512(x)=\nMD5(y)= 00\n",
        );
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.algorithm.as_str(), l.member.as_str(), l.digest.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("SHA256", "disk.ovf", "ab12"),
                ("SHA1", "a b.vmdk", "cd"),
                ("MD5", "y", "00")
            ]
        );
    }

    #[test]
    fn verifies_each_algorithm() {
        let data = b"hello world".to_vec();
        let stream: Source = Arc::new(MemSource(data.clone()));
        let members = [ArchiveMember {
            name: "./f".into(),
            size: 5,
            offset: 6,
        }];
        let lines = parse(
            "SHA1(f)= 7c211433f02071597741e6ff5a8ea34789abbf43\nSHA256(f)= 486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7\nSHA512(missing)= 00\nMD5(f)= 00\n",
        );
        let checks = verify(&lines, &members, &stream, None).unwrap();
        assert_eq!(
            checks[0].actual.as_deref(),
            Some(checks[0].expected.as_str())
        );
        assert_eq!(
            checks[1].actual.as_deref(),
            Some(checks[1].expected.as_str())
        );
        assert_eq!(checks[2].actual, None);
        assert_eq!(checks[3].actual, None);
    }
}
