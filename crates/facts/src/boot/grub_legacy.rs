//! GRUB Legacy (0.97: CentOS/RHEL/Oracle Linux 5–6) `menu.lst` / `grub.conf`.
//!
//! From the GRUB Legacy manual: `default N` (0-based) or `default saved` (the number in
//! `/boot/grub/default`, written by `savedefault`), `title` starts an entry, then `root`,
//! `kernel file args…`, `initrd file`, `chainloader`. Commands may be written `name=value`
//! (`default=0` in Red Hat's grub.conf). `fallback`, `timeout`, `hiddenmenu` are ignored.

use super::{BootEntry, BootKind, MAX_CONFIG_FILE, MAX_ENTRIES, RootSpec};
use crate::{Files, Provenance};

pub const PATHS: [&str; 3] = [
    "/boot/grub/menu.lst",
    "/boot/grub/grub.conf",
    "/etc/grub.conf",
];
const SAVED_DEFAULT: &str = "/boot/grub/default";

#[derive(Debug, Default)]
pub struct LegacyResult {
    pub entries: Vec<BootEntry>,
    pub default: Option<usize>,
    pub default_reason: String,
    pub files_read: Vec<String>,
    pub diagnostics: Vec<String>,
}

pub fn evaluate(files: &dyn Files, path: &str) -> Option<LegacyResult> {
    let mut out = LegacyResult::default();
    let text = match files.read(path, MAX_CONFIG_FILE) {
        Ok(Some(d)) => String::from_utf8_lossy(&d).into_owned(),
        Ok(None) => return None,
        Err(e) => {
            out.diagnostics.push(format!("{path}: {e}"));
            return Some(out);
        }
    };
    out.files_read.push(path.to_string());
    let mut default: Option<(String, Provenance)> = None;
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let here = Provenance::line(path, n as u32 + 1);
        let (cmd, rest) = match l.find(|c: char| c.is_ascii_whitespace() || c == '=') {
            Some(i) => (&l[..i], l[i + 1..].trim_start_matches(['=', ' ', '\t'])),
            None => (l, ""),
        };
        let rest = rest.trim();
        if cmd == "title" {
            if out.entries.len() >= MAX_ENTRIES {
                break;
            }
            let mut e = BootEntry::new(rest.to_string(), here);
            e.position = out.entries.len().to_string();
            out.entries.push(e);
            continue;
        }
        let Some(e) = out.entries.last_mut() else {
            if cmd == "default" {
                default = Some((rest.to_string(), here));
            }
            continue;
        };
        match cmd {
            "root" => {
                e.grub_root = Some(rest.to_string());
            }
            "uuid" => {
                e.root_spec = Some(RootSpec {
                    kind: "fs-uuid".into(),
                    value: rest.to_string(),
                })
            }
            "kernel" => {
                let mut parts = rest.split_whitespace();
                // `kernel --type=netbsd /file`: options come first.
                let mut k = parts.next();
                while k.is_some_and(|s| s.starts_with("--")) {
                    k = parts.next();
                }
                e.kind = BootKind::Linux;
                e.kernel = k.map(str::to_string);
                e.kernel_line = Some(here.to_string());
                e.cmdline = Some(parts.collect::<Vec<_>>().join(" "));
            }
            "initrd" => {
                e.initrds = rest
                    .split_whitespace()
                    .take(1)
                    .map(str::to_string)
                    .collect()
            }
            "chainloader" => {
                e.kind = BootKind::Chainload;
                e.kernel = Some(rest.to_string());
            }
            _ => {}
        }
    }
    if out.entries.is_empty() {
        return Some(out);
    }
    let (idx, reason) = match default {
        None => (0, "no default line: the first title".to_string()),
        Some((v, p)) if v == "saved" => {
            let saved = files
                .read(SAVED_DEFAULT, 4096)
                .ok()
                .flatten()
                .map(|d| String::from_utf8_lossy(&d).into_owned());
            let n = saved.as_deref().and_then(|s| {
                s.lines()
                    .next()
                    .and_then(|l| l.trim().parse::<usize>().ok())
            });
            if saved.is_some() {
                out.files_read.push(SAVED_DEFAULT.to_string());
            }
            match n {
                Some(n) => (
                    n,
                    format!("default saved at {p}; {SAVED_DEFAULT} holds {n}"),
                ),
                None => (
                    0,
                    format!("default saved at {p}; {SAVED_DEFAULT} unreadable: entry 0"),
                ),
            }
        }
        Some((v, p)) => match v.parse::<usize>() {
            Ok(n) => (n, format!("default {v} at {p}")),
            Err(_) => (0, format!("default {v} at {p} is not a number: entry 0")),
        },
    };
    if idx < out.entries.len() {
        out.default = Some(idx);
        out.default_reason = reason;
    } else {
        out.default = Some(0);
        out.default_reason = format!("{reason}, out of range: GRUB boots entry 0");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn ol6_grub_conf() {
        let files = MemFiles::new().with(
            "/boot/grub/grub.conf",
            "# grub.conf generated by anaconda\n#\n# Note that you do not have to rerun grub after making changes to this file\n\
             # NOTICE:  You have a /boot partition.  This means that\n#          all kernel and initrd paths are relative to /boot/, eg.\n\
             #          root (hd0,0)\n#          kernel /vmlinuz-version ro root=/dev/mapper/vg_ol6-lv_root\n\
             #          initrd /initrd-[generic-]version.img\n#boot=/dev/sda\ndefault=1\ntimeout=5\n\
             splashimage=(hd0,0)/grub/splash.xpm.gz\nhiddenmenu\n\
             title Oracle Linux Server Unbreakable Enterprise Kernel (4.1.12-124.48.6.el6uek.x86_64)\n\
             \troot (hd0,0)\n\tkernel /vmlinuz-4.1.12-124.48.6.el6uek.x86_64 ro root=/dev/mapper/vg_ol6-lv_root rd_LVM_LV=vg_ol6/lv_root rd_NO_LUKS console=ttyS0,115200n8\n\
             \tinitrd /initramfs-4.1.12-124.48.6.el6uek.x86_64.img\n\
             title Oracle Linux Server Red Hat Compatible Kernel (2.6.32-754.35.1.el6.x86_64)\n\
             \troot (hd0,0)\n\tkernel /vmlinuz-2.6.32-754.35.1.el6.x86_64 ro root=/dev/mapper/vg_ol6-lv_root rd_NO_LUKS\n\
             \tinitrd /initramfs-2.6.32-754.35.1.el6.x86_64.img\n",
        );
        let r = evaluate(&files, "/boot/grub/grub.conf").unwrap();
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.default, Some(1));
        let e = &r.entries[1];
        assert_eq!(
            e.kernel.as_deref(),
            Some("/vmlinuz-2.6.32-754.35.1.el6.x86_64")
        );
        assert_eq!(e.grub_root.as_deref(), Some("(hd0,0)"));
        assert_eq!(e.source.line, Some(18));
        assert_eq!(r.default_reason, "default 1 at /boot/grub/grub.conf:10");
    }
}
