//! Boot Loader Specification type #1 entries (`loader/entries/*.conf`), as written by
//! kernel-install on Fedora, RHEL/Oracle Linux 8+ (read there by GRUB's `blscfg` command) and
//! for systemd-boot.
//!
//! Format (https://uapi-group.org/specifications/specs/boot_loader_specification/, "Type #1
//! Boot Loader Entry Keys"): one `key value` per line, `#` comments; `title`, `version`,
//! `machine-id`, `sort-key`, `linux`, `initrd` (repeatable), `efi`, `options` (repeatable,
//! joined with spaces), `devicetree`, `architecture`. Paths are relative to the root of the
//! partition holding the entry. Fedora's GRUB adds `id`, `grub_users`, `grub_arg`, `grub_class`.
//!
//! Order ("Sorting"): entries with a `sort-key` first, by sort-key, then machine-id, then
//! version (newest first); the rest by file name in version order, newest first. GRUB's
//! `blscfg` orders by file name, newest first.

use super::{MAX_CONFIG_FILE, MAX_ENTRIES};
use crate::kernels::natural_cmp;
use crate::{FileError, Files};
use std::cmp::Ordering;

/// Where kernel-install writes entries when /boot is the XBOOTLDR or holds GRUB's BLS.
pub const ENTRIES_DIRS: [&str; 3] = [
    "/boot/loader/entries",
    "/boot/efi/loader/entries",
    "/efi/loader/entries",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    /// The guest path of the `.conf` file.
    pub path: String,
    /// The file name without `.conf`: GRUB's menu entry id, `saved_entry`'s value.
    pub id: String,
    pub title: Option<String>,
    pub version: Option<String>,
    pub machine_id: Option<String>,
    pub sort_key: Option<String>,
    pub linux: Option<String>,
    /// `linux` line number.
    pub linux_line: Option<u32>,
    pub efi: Option<String>,
    pub initrd: Vec<String>,
    /// `options` lines joined with a space, as the spec says; `$var` left unexpanded.
    pub options: Option<String>,
    pub architecture: Option<String>,
    /// Keys not in the specification (`grub_users`, `grub_class`, …) are kept here.
    pub other: Vec<(String, String)>,
}

/// Parse one entry file.
pub fn parse(path: &str, text: &str) -> BlsEntry {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut e = BlsEntry {
        path: path.to_string(),
        id: name.strip_suffix(".conf").unwrap_or(name).to_string(),
        ..BlsEntry::default()
    };
    let mut options: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, v.trim().to_string()),
            None => (line, String::new()),
        };
        match key {
            "title" => e.title = Some(value),
            "version" => e.version = Some(value),
            "machine-id" => e.machine_id = Some(value),
            "sort-key" => e.sort_key = Some(value),
            "linux" => {
                e.linux = Some(value);
                e.linux_line = Some(n as u32 + 1);
            }
            "efi" => e.efi = Some(value),
            "initrd" if e.initrd.len() < 64 => {
                e.initrd
                    .extend(value.split_ascii_whitespace().map(str::to_string));
            }
            "options" if options.len() < 256 => options.push(value),
            "architecture" => e.architecture = Some(value),
            _ if e.other.len() < 64 => e.other.push((key.to_string(), value)),
            _ => {}
        }
    }
    if !options.is_empty() {
        e.options = Some(options.join(" "));
    }
    e
}

/// Read every `*.conf` in `dir` (`Ok(empty)` when it does not exist), unsorted.
pub fn read_dir(
    files: &dyn Files,
    dir: &str,
    diagnostics: &mut Vec<String>,
) -> Result<Vec<BlsEntry>, FileError> {
    let mut out = Vec::new();
    for path in files.glob(&format!("{dir}/*.conf"))? {
        if out.len() >= MAX_ENTRIES {
            diagnostics.push(format!(
                "{dir}: more than {MAX_ENTRIES} entries; rest ignored"
            ));
            break;
        }
        match files.read(&path, MAX_CONFIG_FILE) {
            Ok(Some(data)) => out.push(parse(&path, &String::from_utf8_lossy(&data))),
            Ok(None) => {}
            Err(e) => diagnostics.push(format!("{path}: {e}")),
        }
    }
    Ok(out)
}

/// GRUB's `blscfg` order: file names in version order, newest first.
pub fn sort_grub(entries: &mut [BlsEntry]) {
    entries.sort_by(|a, b| natural_cmp(&b.id, &a.id));
}

/// The specification's order (systemd-boot).
pub fn sort_spec(entries: &mut [BlsEntry]) {
    entries.sort_by(|a, b| match (&a.sort_key, &b.sort_key) {
        (Some(x), Some(y)) => x
            .cmp(y)
            .then_with(|| a.machine_id.cmp(&b.machine_id))
            .then_with(|| match (&a.version, &b.version) {
                (Some(va), Some(vb)) => natural_cmp(vb, va),
                _ => Ordering::Equal,
            })
            .then_with(|| natural_cmp(&b.id, &a.id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => natural_cmp(&b.id, &a.id),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ol9_entry() {
        let e = parse(
            "/boot/loader/entries/2b8e4a6c0f1d4e5b9a7c3d2e1f0a9b8c-5.15.0-200.131.27.el9uek.x86_64.conf",
            "title Oracle Linux Server (5.15.0-200.131.27.el9uek.x86_64) 9.4\n\
             version 5.15.0-200.131.27.el9uek.x86_64\n\
             linux /vmlinuz-5.15.0-200.131.27.el9uek.x86_64\n\
             initrd /initramfs-5.15.0-200.131.27.el9uek.x86_64.img $tuned_initrd\n\
             options root=/dev/mapper/ol-root ro crashkernel=1G-64G:448M,64G-:512M resume=/dev/mapper/ol-swap rd.lvm.lv=ol/root rd.lvm.lv=ol/swap console=ttyS0,115200n8 $tuned_params\n\
             grub_users $grub_users\ngrub_arg --unrestricted\ngrub_class ol\n",
        );
        assert_eq!(
            e.id,
            "2b8e4a6c0f1d4e5b9a7c3d2e1f0a9b8c-5.15.0-200.131.27.el9uek.x86_64"
        );
        assert_eq!(e.linux_line, Some(3));
        assert_eq!(e.initrd.len(), 2);
        assert!(e.options.as_deref().unwrap().ends_with("$tuned_params"));
        assert_eq!(e.other.len(), 3);
    }

    #[test]
    fn orders() {
        let mk = |id: &str, sk: Option<&str>, v: &str| BlsEntry {
            id: id.into(),
            sort_key: sk.map(Into::into),
            version: Some(v.into()),
            ..BlsEntry::default()
        };
        let mut v = vec![
            mk("m-5.14.0-70.el9", None, "5.14.0-70.el9"),
            mk("m-0-rescue-abc", None, "0"),
            mk("m-5.14.0-162.el9", None, "5.14.0-162.el9"),
        ];
        sort_grub(&mut v);
        let ids: Vec<_> = v.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["m-5.14.0-162.el9", "m-5.14.0-70.el9", "m-0-rescue-abc"]
        );
        let mut v = vec![
            mk("z", None, "1"),
            mk("b-1", Some("fedora"), "6.1"),
            mk("b-2", Some("fedora"), "6.10"),
            mk("a", Some("arch"), "1"),
        ];
        sort_spec(&mut v);
        let ids: Vec<_> = v.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b-2", "b-1", "z"]);
    }
}
