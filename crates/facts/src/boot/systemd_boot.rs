//! systemd-boot: `loader/loader.conf` on the ESP and the BLS type #1 entries of the ESP and
//! of the XBOOTLDR partition (`/boot`).
//!
//! loader.conf(5): `default` is a glob pattern matched against entry ids (the entry file name,
//! `.conf` included); `@saved` means the entry stored in the `LoaderEntryDefault` EFI variable
//! (not in the image); without `default` the first entry in the specification's order boots.
//! The `LoaderEntryDefault`/`LoaderEntryOneShot` EFI variables override the file at boot; an
//! image carries no EFI variables, so the file is what a fresh instance uses.

use super::bls::{self, BlsEntry};
use super::{BootEntry, BootKind, MAX_CONFIG_FILE};
use crate::{FileError, Files, Provenance, files::fnmatch};

pub const LOADER_CONFS: [&str; 3] = [
    "/boot/efi/loader/loader.conf",
    "/efi/loader/loader.conf",
    "/boot/loader/loader.conf",
];

#[derive(Debug, Default)]
pub struct SdBootResult {
    pub entries: Vec<BootEntry>,
    pub default: Option<usize>,
    pub default_reason: String,
    pub files_read: Vec<String>,
    pub diagnostics: Vec<String>,
}

/// Read the loader.conf at `path` and the entries next to it and in `/boot/loader/entries`.
pub fn evaluate(files: &dyn Files, path: &str) -> Result<Option<SdBootResult>, FileError> {
    let Some(data) = files.read(path, MAX_CONFIG_FILE)? else {
        return Ok(None);
    };
    let mut out = SdBootResult {
        files_read: vec![path.to_string()],
        ..SdBootResult::default()
    };
    let mut default: Option<(String, Provenance)> = None;
    for (n, line) in String::from_utf8_lossy(&data).lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = l.split_once(|c: char| c.is_ascii_whitespace())
            && k == "default"
        {
            default = Some((v.trim().to_string(), Provenance::line(path, n as u32 + 1)));
        }
    }
    // $ESP/loader/entries, then XBOOTLDR's.
    let esp_entries = format!("{}/entries", path.rsplit_once('/').map_or("", |x| x.0));
    let mut dirs = vec![esp_entries];
    if !dirs.contains(&bls::ENTRIES_DIRS[0].to_string()) {
        dirs.push(bls::ENTRIES_DIRS[0].to_string());
    }
    let mut entries: Vec<BlsEntry> = Vec::new();
    for d in &dirs {
        entries.extend(bls::read_dir(files, d, &mut out.diagnostics)?);
    }
    bls::sort_spec(&mut entries);
    for (i, b) in entries.iter().enumerate() {
        out.files_read.push(b.path.clone());
        let mut e = BootEntry::new(
            b.title.clone().unwrap_or_else(|| b.id.clone()),
            match b.linux_line {
                Some(l) => Provenance::line(b.path.clone(), l),
                None => Provenance::file(b.path.clone()),
            },
        );
        e.id = Some(format!("{}.conf", b.id));
        e.position = i.to_string();
        e.bls_file = Some(b.path.clone());
        e.kind = if b.linux.is_some() {
            BootKind::Linux
        } else if b.efi.is_some() {
            BootKind::Chainload
        } else {
            BootKind::Other
        };
        e.kernel = b.linux.clone().or_else(|| b.efi.clone());
        e.initrds = b.initrd.clone();
        e.cmdline = Some(b.options.clone().unwrap_or_default());
        out.entries.push(e);
    }
    match &default {
        Some((pat, p)) if pat.starts_with('@') => {
            out.diagnostics.push(format!(
                "{p}: default {pat}: chosen from an EFI variable at boot, not in the image; the first entry is assumed"
            ));
            if !out.entries.is_empty() {
                out.default = Some(0);
                out.default_reason =
                    format!("default {pat} at {p} (EFI variable): first entry assumed");
            }
        }
        Some((pat, p)) => {
            let pat_l = pat.to_ascii_lowercase();
            let found = out.entries.iter().position(|e| {
                let id = e.id.as_deref().unwrap_or("").to_ascii_lowercase();
                fnmatch(&pat_l, &id) || fnmatch(&pat_l, id.trim_end_matches(".conf"))
            });
            match found {
                Some(i) => {
                    out.default = Some(i);
                    out.default_reason = format!("default {pat} at {p}");
                }
                None if !out.entries.is_empty() => {
                    out.default = Some(0);
                    out.default_reason =
                        format!("default {pat} at {p} matches no entry: the first entry boots");
                }
                None => {}
            }
        }
        None if !out.entries.is_empty() => {
            out.default = Some(0);
            out.default_reason = "no default in loader.conf: the first entry in order".into();
        }
        None => {}
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn glob_default_and_order() {
        let entry = |v: &str| {
            format!(
                "# Boot Loader Specification type#1 entry\n# File created by /usr/lib/kernel/install.d/90-loaderentry.install (systemd 252)\n\
                 title      Debian GNU/Linux 12 (bookworm)\nversion    {v}\nmachine-id 4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a\nsort-key   debian\n\
                 options    root=UUID=5a1b0f64-2e3d-4c5b-8a9f-0e1d2c3b4a59 ro console=ttyS0,115200\n\
                 linux      /4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a/{v}/linux\n\
                 initrd     /4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a/{v}/initrd.img-{v}\n"
            )
        };
        let files = MemFiles::new()
            .with(
                "/boot/efi/loader/loader.conf",
                "#timeout 3\n#console-mode keep\ndefault 4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a-*\n",
            )
            .with(
                "/boot/efi/loader/entries/4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a-6.1.0-17-amd64.conf",
                entry("6.1.0-17-amd64"),
            )
            .with(
                "/boot/efi/loader/entries/4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a-6.1.0-18-amd64.conf",
                entry("6.1.0-18-amd64"),
            );
        let r = evaluate(&files, "/boot/efi/loader/loader.conf")
            .unwrap()
            .unwrap();
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.default, Some(0));
        let e = &r.entries[0];
        assert!(e.kernel.as_deref().unwrap().contains("6.1.0-18-amd64"));
        assert_eq!(
            e.id.as_deref(),
            Some("4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a-6.1.0-18-amd64.conf")
        );
        assert_eq!(
            r.default_reason,
            "default 4f0e2c4b8e7d4d1f9c3a2b1e0d9c8b7a-* at /boot/efi/loader/loader.conf:3"
        );
    }
}
