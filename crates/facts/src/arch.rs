//! The guest's CPU architecture, read from the ELF headers of a few of its core binaries.
//!
//! The architecture decides the shape family (x86_64 → Intel/AMD, aarch64 → Ampere) and 32-bit
//! guests are a blocker for current shapes (launch-modes-and-shapes.md, "Decision" step 1).
//! Only the first 64 bytes (one ELF header, `Elf64_Ehdr`) of each candidate are read.
//!
//! Field offsets and values are those of the System V ABI, "ELF Header" (gABI 4.1 and its
//! updates at <https://www.sco.com/developers/gabi/latest/ch4.eheader.html>) and elf(5).

use crate::Files;
use serde::Serialize;

/// Binaries that every Linux guest has, most telling first (`/sbin/init` is what the kernel
/// runs). Symlinks (`/sbin/init` → systemd, `/bin` → `usr/bin`) are resolved by [`Files`].
pub const CANDIDATES: [&str; 9] = [
    "/sbin/init",
    "/usr/lib/systemd/systemd",
    "/lib/systemd/systemd",
    "/bin/sh",
    "/usr/bin/sh",
    "/bin/bash",
    "/usr/bin/env",
    "/bin/ls",
    "/usr/bin/ls",
];

/// Enough agreeing witnesses; reading more costs time and says nothing new.
const WANTED: usize = 3;

/// Size of `Elf64_Ehdr`; `Elf32_Ehdr` is 52.
const HEADER_LEN: usize = 64;
const ELF32_HEADER_LEN: usize = 52;

// e_ident indexes and values (gABI "ELF Identification").
const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;
const ELFCLASS32: u8 = 1;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ELFDATA2MSB: u8 = 2;
const EV_CURRENT: u8 = 1;
/// `e_machine` is the `Elf_Half` at offset 18 in both classes (after e_ident[16], e_type).
const E_MACHINE: usize = 18;

// e_machine values (gABI "e_machine" table; also /usr/include/elf.h).
/// Intel 80386.
pub const EM_386: u16 = 3;
/// ARM 32-bit architecture (AARCH32).
pub const EM_ARM: u16 = 40;
/// AMD x86-64 architecture.
pub const EM_X86_64: u16 = 62;
/// ARM 64-bit architecture (AARCH64).
pub const EM_AARCH64: u16 = 183;

/// A CPU architecture as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "aarch64")]
    Aarch64,
    #[serde(rename = "i386")]
    I386,
    #[serde(rename = "arm")]
    Arm,
    /// Any other `e_machine` value, kept as read.
    #[serde(rename = "other")]
    Other { machine: u16 },
}

impl Arch {
    pub fn from_machine(machine: u16) -> Arch {
        match machine {
            EM_X86_64 => Arch::X86_64,
            EM_AARCH64 => Arch::Aarch64,
            EM_386 => Arch::I386,
            EM_ARM => Arch::Arm,
            machine => Arch::Other { machine },
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arch::X86_64 => f.write_str("x86_64"),
            Arch::Aarch64 => f.write_str("aarch64"),
            Arch::I386 => f.write_str("i386"),
            Arch::Arm => f.write_str("arm"),
            Arch::Other { machine } => {
                write!(f, "{} (e_machine {machine})", machine_name(*machine))
            }
        }
    }
}

/// Byte order of the binaries (`EI_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endianness {
    Little,
    Big,
}

/// What the ELF header of one binary says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfHeader {
    pub machine: u16,
    /// 32 or 64 (`EI_CLASS`).
    pub bits: u8,
    pub endianness: Endianness,
}

/// One binary that testified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchEvidence {
    pub path: String,
    /// The `e_machine` constant's name, e.g. "EM_X86_64".
    pub machine: String,
    pub arch: Arch,
    pub bits: u8,
    pub endianness: Endianness,
}

/// The architecture, with the binaries that show it.
#[derive(Debug, Clone, Serialize)]
pub struct ArchFact {
    /// `None`: no candidate was a valid ELF file.
    pub arch: Option<Arch>,
    pub bits: Option<u8>,
    pub endianness: Option<Endianness>,
    pub evidence: Vec<ArchEvidence>,
    /// Set when the binaries disagree (a multilib or foreign binary at a core path).
    pub note: Option<String>,
    pub warnings: Vec<String>,
}

/// Why a header that starts with the ELF magic is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    Truncated,
    BadClass(u8),
    BadData(u8),
    BadVersion(u8),
}

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ElfError::NotElf => f.write_str("not an ELF file"),
            ElfError::Truncated => f.write_str("ELF header truncated"),
            ElfError::BadClass(c) => write!(f, "invalid EI_CLASS {c}"),
            ElfError::BadData(d) => write!(f, "invalid EI_DATA {d}"),
            ElfError::BadVersion(v) => write!(f, "invalid EI_VERSION {v}"),
        }
    }
}

/// Validate an ELF header (the first bytes of a file) and read its class, byte order and
/// machine.
pub fn parse_header(head: &[u8]) -> Result<ElfHeader, ElfError> {
    if head.get(..4) != Some(&ELFMAG[..]) {
        return Err(ElfError::NotElf);
    }
    let byte = |i: usize| head.get(i).copied().ok_or(ElfError::Truncated);
    let (bits, len) = match byte(EI_CLASS)? {
        ELFCLASS32 => (32, ELF32_HEADER_LEN),
        ELFCLASS64 => (64, HEADER_LEN),
        c => return Err(ElfError::BadClass(c)),
    };
    let endianness = match byte(EI_DATA)? {
        ELFDATA2LSB => Endianness::Little,
        ELFDATA2MSB => Endianness::Big,
        d => return Err(ElfError::BadData(d)),
    };
    match byte(EI_VERSION)? {
        EV_CURRENT => {}
        v => return Err(ElfError::BadVersion(v)),
    }
    if head.len() < len {
        return Err(ElfError::Truncated);
    }
    let pair = [byte(E_MACHINE)?, byte(E_MACHINE + 1)?];
    let machine = match endianness {
        Endianness::Little => u16::from_le_bytes(pair),
        Endianness::Big => u16::from_be_bytes(pair),
    };
    Ok(ElfHeader {
        machine,
        bits,
        endianness,
    })
}

/// The conventional name of an `e_machine` value (elf.h), for evidence.
pub fn machine_name(machine: u16) -> String {
    let name = match machine {
        EM_386 => "EM_386",
        EM_ARM => "EM_ARM",
        EM_X86_64 => "EM_X86_64",
        EM_AARCH64 => "EM_AARCH64",
        2 => "EM_SPARC",
        8 => "EM_MIPS",
        20 => "EM_PPC",
        21 => "EM_PPC64",
        22 => "EM_S390",
        43 => "EM_SPARCV9",
        243 => "EM_RISCV",
        258 => "EM_LOONGARCH",
        _ => return format!("EM_{machine}"),
    };
    name.to_string()
}

/// Read the candidates' headers until [`WANTED`] valid ELF files have testified.
pub fn gather(files: &dyn Files) -> ArchFact {
    let mut evidence = Vec::new();
    let mut warnings = Vec::new();
    for path in CANDIDATES {
        if evidence.len() >= WANTED {
            break;
        }
        let head = match files.head(path, HEADER_LEN) {
            Ok(Some(head)) => head,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("{path}: not readable: {e}"));
                continue;
            }
        };
        match parse_header(&head) {
            Ok(h) => evidence.push(ArchEvidence {
                path: path.to_string(),
                machine: machine_name(h.machine),
                arch: Arch::from_machine(h.machine),
                bits: h.bits,
                endianness: h.endianness,
            }),
            // Scripts and other non-ELF files at these paths are normal (busybox setups).
            Err(ElfError::NotElf) => {}
            Err(e) => warnings.push(format!("{path}: {e}")),
        }
    }
    decide(evidence, warnings)
}

/// The majority of the witnesses (the earliest on a tie); a note when they disagree.
fn decide(evidence: Vec<ArchEvidence>, mut warnings: Vec<String>) -> ArchFact {
    let key = |e: &ArchEvidence| (e.arch, e.bits, e.endianness);
    let winner = evidence
        .iter()
        .enumerate()
        .max_by_key(|(i, e)| {
            let votes = evidence.iter().filter(|o| key(o) == key(e)).count();
            (votes, std::cmp::Reverse(*i))
        })
        .map(|(_, e)| key(e));
    let Some((arch, bits, endianness)) = winner else {
        warnings.push(format!(
            "no valid ELF binary among {}",
            CANDIDATES.join(", ")
        ));
        return ArchFact {
            arch: None,
            bits: None,
            endianness: None,
            evidence,
            note: None,
            warnings,
        };
    };
    let note = evidence
        .iter()
        .any(|e| key(e) != (arch, bits, endianness))
        .then(|| {
            let seen: Vec<String> = evidence
                .iter()
                .map(|e| {
                    format!(
                        "{} is {} ({}-bit, {:?}-endian)",
                        e.path, e.arch, e.bits, e.endianness
                    )
                })
                .collect();
            format!(
                "binaries disagree: {}; {arch} ({bits}-bit) is the majority",
                seen.join("; ")
            )
        });
    ArchFact {
        arch: Some(arch),
        bits: Some(bits),
        endianness: Some(endianness),
        evidence,
        note,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    /// A minimal ELF header: magic, class, data, version, then e_machine at offset 18.
    fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; if class == ELFCLASS32 { 52 } else { 64 }];
        h[..4].copy_from_slice(&ELFMAG);
        h[EI_CLASS] = class;
        h[EI_DATA] = data;
        h[EI_VERSION] = EV_CURRENT;
        h[16] = 2; // ET_EXEC
        let m = if data == ELFDATA2MSB {
            machine.to_be_bytes()
        } else {
            machine.to_le_bytes()
        };
        h[E_MACHINE..E_MACHINE + 2].copy_from_slice(&m);
        h.extend_from_slice(&[0xAA; 200]); // the rest of a binary, never read
        h
    }

    #[test]
    fn parse_header_machines() {
        for (class, data, machine, arch, bits, end) in [
            (
                ELFCLASS64,
                ELFDATA2LSB,
                EM_X86_64,
                Arch::X86_64,
                64,
                Endianness::Little,
            ),
            (
                ELFCLASS64,
                ELFDATA2LSB,
                EM_AARCH64,
                Arch::Aarch64,
                64,
                Endianness::Little,
            ),
            (
                ELFCLASS32,
                ELFDATA2LSB,
                EM_386,
                Arch::I386,
                32,
                Endianness::Little,
            ),
            (
                ELFCLASS32,
                ELFDATA2LSB,
                EM_ARM,
                Arch::Arm,
                32,
                Endianness::Little,
            ),
            (
                ELFCLASS64,
                ELFDATA2MSB,
                22,
                Arch::Other { machine: 22 },
                64,
                Endianness::Big,
            ),
        ] {
            let h = parse_header(&header(class, data, machine)).unwrap();
            assert_eq!(
                (Arch::from_machine(h.machine), h.bits, h.endianness),
                (arch, bits, end)
            );
        }
        assert_eq!(machine_name(22), "EM_S390");
        assert_eq!(machine_name(9999), "EM_9999");
    }

    #[test]
    fn parse_header_rejects_bad_headers() {
        let good = header(ELFCLASS64, ELFDATA2LSB, EM_X86_64);
        assert_eq!(parse_header(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(parse_header(b""), Err(ElfError::NotElf));
        assert_eq!(parse_header(&good[..4]), Err(ElfError::Truncated));
        assert_eq!(parse_header(&good[..40]), Err(ElfError::Truncated));
        let mut bad = good.clone();
        bad[EI_CLASS] = 3;
        assert_eq!(parse_header(&bad), Err(ElfError::BadClass(3)));
        let mut bad = good.clone();
        bad[EI_DATA] = 0;
        assert_eq!(parse_header(&bad), Err(ElfError::BadData(0)));
        let mut bad = good;
        bad[EI_VERSION] = 7;
        assert_eq!(parse_header(&bad), Err(ElfError::BadVersion(7)));
        // Every prefix of a valid header is handled without panicking.
        let full = header(ELFCLASS32, ELFDATA2MSB, EM_ARM);
        for n in 0..full.len() {
            let _ = parse_header(&full[..n]);
        }
    }

    #[test]
    fn gather_stops_after_three_and_follows_links() {
        let x86 = header(ELFCLASS64, ELFDATA2LSB, EM_X86_64);
        let f = MemFiles::new()
            .with_link("/sbin/init", "../lib/systemd/systemd")
            .with("/lib/systemd/systemd", &x86)
            .with("/bin/sh", &x86)
            .with("/bin/bash", &x86)
            .with("/usr/bin/env", header(ELFCLASS32, ELFDATA2LSB, EM_386));
        let fact = gather(&f);
        assert_eq!(fact.arch, Some(Arch::X86_64));
        assert_eq!(
            (fact.bits, fact.endianness),
            (Some(64), Some(Endianness::Little))
        );
        let paths: Vec<_> = fact.evidence.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/sbin/init", "/lib/systemd/systemd", "/bin/sh"]);
        assert_eq!(fact.evidence[0].machine, "EM_X86_64");
        assert!(fact.note.is_none());
        assert!(fact.warnings.is_empty());
    }

    #[test]
    fn gather_skips_scripts_and_warns_on_broken_elf() {
        let arm = header(ELFCLASS64, ELFDATA2LSB, EM_AARCH64);
        let mut broken = arm.clone();
        broken[EI_CLASS] = 9;
        let f = MemFiles::new()
            .with("/sbin/init", "#!/bin/sh\nexec /bin/busybox init\n")
            .with("/bin/sh", &broken)
            .with("/usr/bin/env", &arm);
        let fact = gather(&f);
        assert_eq!(fact.arch, Some(Arch::Aarch64));
        assert_eq!(fact.evidence.len(), 1);
        assert_eq!(
            fact.warnings,
            vec!["/bin/sh: invalid EI_CLASS 9".to_string()]
        );
    }

    #[test]
    fn disagreement_is_noted_and_majority_wins() {
        let f = MemFiles::new()
            .with("/sbin/init", header(ELFCLASS32, ELFDATA2LSB, EM_386))
            .with("/bin/sh", header(ELFCLASS64, ELFDATA2LSB, EM_X86_64))
            .with("/bin/ls", header(ELFCLASS64, ELFDATA2LSB, EM_X86_64));
        let fact = gather(&f);
        assert_eq!((fact.arch, fact.bits), (Some(Arch::X86_64), Some(64)));
        let note = fact.note.unwrap();
        assert!(note.contains("/sbin/init is i386 (32-bit"), "{note}");

        // A tie goes to the first witness.
        let f = MemFiles::new()
            .with("/sbin/init", header(ELFCLASS64, ELFDATA2LSB, EM_AARCH64))
            .with("/bin/sh", header(ELFCLASS64, ELFDATA2LSB, EM_X86_64));
        let fact = gather(&f);
        assert_eq!(fact.arch, Some(Arch::Aarch64));
        assert!(fact.note.is_some());
    }

    #[test]
    fn nothing_found() {
        let fact = gather(&MemFiles::new().with("/etc/hostname", "x"));
        assert_eq!((fact.arch, fact.bits, fact.endianness), (None, None, None));
        assert!(fact.evidence.is_empty());
        assert_eq!(fact.warnings.len(), 1);
    }

    #[test]
    fn display_names() {
        assert_eq!(Arch::X86_64.to_string(), "x86_64");
        assert_eq!(Arch::Aarch64.to_string(), "aarch64");
        assert_eq!(Arch::I386.to_string(), "i386");
        assert_eq!(Arch::Arm.to_string(), "arm");
        assert_eq!(
            Arch::Other { machine: 243 }.to_string(),
            "EM_RISCV (e_machine 243)"
        );
    }

    /// The host's own /bin/true (this machine is x86_64) as the guest's /bin/sh.
    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn real_host_binary() {
        use std::io::Read;
        let mut head = Vec::new();
        let file = std::fs::File::open("/bin/true").expect("/bin/true on the test host");
        file.take(HEADER_LEN as u64).read_to_end(&mut head).unwrap();
        let fact = gather(&MemFiles::new().with("/bin/sh", &head));
        assert_eq!(fact.arch, Some(Arch::X86_64));
        assert_eq!(
            (fact.bits, fact.endianness),
            (Some(64), Some(Endianness::Little))
        );
        assert_eq!(fact.evidence[0].path, "/bin/sh");
    }
}
