//! SYSLINUX/EXTLINUX configuration (`extlinux.conf`, `syslinux.cfg`), as Alpine's
//! update-extlinux and U-Boot's distro boot use it.
//!
//! From the syslinux wiki "Config" (keywords are case-insensitive): `LABEL name` starts an
//! entry; `KERNEL`/`LINUX file`, `APPEND options` (`APPEND -`: none), `INITRD a,b`, `FDT`,
//! `MENU LABEL`, `MENU DEFAULT`, `MENU HIDE` belong to it; a global `APPEND` applies to entries
//! without their own. `DEFAULT` names a label, a UI module (`menu.c32`) or a kernel command
//! line; `UI` names the menu module; `ONTIMEOUT` is what runs when the timeout expires;
//! `INCLUDE file` is read in place. Paths are relative to the configuration file's directory.

use super::{BootEntry, BootKind, MAX_CONFIG_FILE, MAX_ENTRIES, MAX_INCLUDE_DEPTH};
use crate::{Files, Provenance};

pub const PATHS: [&str; 6] = [
    "/boot/extlinux/extlinux.conf",
    "/boot/extlinux.conf",
    "/extlinux.conf",
    "/boot/syslinux/syslinux.cfg",
    "/boot/syslinux.cfg",
    "/syslinux/syslinux.cfg",
];

#[derive(Debug, Default)]
pub struct SyslinuxResult {
    pub entries: Vec<BootEntry>,
    pub default: Option<usize>,
    pub default_reason: String,
    pub files_read: Vec<String>,
    pub diagnostics: Vec<String>,
}

#[derive(Default)]
struct State {
    global_append: Option<String>,
    default: Option<(String, Provenance)>,
    ontimeout: Option<(String, Provenance)>,
    ui: bool,
    menu_default: Option<usize>,
    labels: Vec<(String, BootEntry, bool)>, // (label, entry, has its own APPEND)
    stack: Vec<String>,
    out: SyslinuxResult,
}

pub fn evaluate(files: &dyn Files, path: &str) -> Option<SyslinuxResult> {
    let data = files.read(path, MAX_CONFIG_FILE);
    let mut st = State::default();
    match data {
        Ok(Some(d)) => run(files, &mut st, path, &String::from_utf8_lossy(&d)),
        Ok(None) => return None,
        Err(e) => st.out.diagnostics.push(format!("{path}: {e}")),
    }
    Some(finish(st))
}

fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn resolve_path(base_dir: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", base_dir.trim_end_matches('/'))
    }
}

fn run(files: &dyn Files, st: &mut State, path: &str, text: &str) {
    st.stack.push(path.to_string());
    if !st.out.files_read.iter().any(|p| p == path) {
        st.out.files_read.push(path.to_string());
    }
    let base = dir_of(st.stack.first().map(String::as_str).unwrap_or(path)).to_string();
    for (n, raw) in text.lines().enumerate() {
        let line = n as u32 + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (kw, rest) = match l.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, r)) => (k.to_ascii_lowercase(), r.trim()),
            None => (l.to_ascii_lowercase(), ""),
        };
        let here = Provenance::line(path, line);
        let cur = st.labels.last_mut();
        match (kw.as_str(), cur) {
            ("label", _) => {
                if st.labels.len() >= MAX_ENTRIES {
                    continue;
                }
                let mut e = BootEntry::new(rest.to_string(), here.clone());
                e.id = Some(rest.to_string());
                e.position = st.labels.len().to_string();
                st.labels.push((rest.to_string(), e, false));
            }
            ("kernel" | "linux", Some((_, e, _))) => {
                e.kind = BootKind::Linux;
                e.kernel = Some(rest.to_string());
                e.kernel_line = Some(here.to_string());
            }
            ("com32" | "config" | "localboot" | "pxe" | "fdimage", Some((_, e, _))) => {
                e.kind = BootKind::Other;
                e.kernel = Some(rest.to_string());
            }
            ("append", Some((_, e, own))) => {
                *own = true;
                e.cmdline = Some(if rest == "-" {
                    String::new()
                } else {
                    rest.to_string()
                });
            }
            ("append", None) => st.global_append = Some(rest.to_string()),
            ("initrd", Some((_, e, _))) => {
                e.initrds = rest
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            ("menu", cur) => {
                let (sub, arg) = rest
                    .split_once(|c: char| c.is_ascii_whitespace())
                    .map(|(a, b)| (a.to_ascii_lowercase(), b.trim()))
                    .unwrap_or((rest.to_ascii_lowercase(), ""));
                match (sub.as_str(), cur) {
                    ("label", Some((_, e, _))) => e.title = arg.replace('^', ""),
                    ("default", Some(_)) => st.menu_default = Some(st.labels.len() - 1),
                    _ => {}
                }
            }
            ("default", _) => st.default = Some((rest.to_string(), here)),
            ("ontimeout", _) => st.ontimeout = Some((rest.to_string(), here)),
            ("ui", _) => st.ui = true,
            ("include", _) => {
                let target = resolve_path(&base, rest.split_whitespace().next().unwrap_or(""));
                if st.stack.contains(&target) {
                    st.out
                        .diagnostics
                        .push(format!("{here}: include cycle through {target}; skipped"));
                } else if st.stack.len() > MAX_INCLUDE_DEPTH {
                    st.out
                        .diagnostics
                        .push(format!("{here}: includes nested too deep; skipped"));
                } else {
                    match files.read(&target, MAX_CONFIG_FILE) {
                        Ok(Some(d)) => run(files, st, &target, &String::from_utf8_lossy(&d)),
                        Ok(None) => st
                            .out
                            .diagnostics
                            .push(format!("{here}: include {target}: not found")),
                        Err(e) => st.out.diagnostics.push(format!("{here}: {e}")),
                    }
                }
            }
            _ => {}
        }
    }
    st.stack.pop();
}

fn finish(mut st: State) -> SyslinuxResult {
    let names: Vec<String> = st.labels.iter().map(|x| x.0.clone()).collect();
    let find = |name: &str| names.iter().position(|l| l.eq_ignore_ascii_case(name));
    let mut out = std::mem::take(&mut st.out);
    let global = st.global_append.clone();
    for (_, mut e, own) in std::mem::take(&mut st.labels) {
        if !own {
            e.cmdline = Some(global.clone().unwrap_or_default());
        }
        if e.title.is_empty() {
            e.title = e.id.clone().unwrap_or_default();
        }
        out.entries.push(e);
    }
    let first_word = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    if let Some((t, p)) = &st.ontimeout
        && let Some(i) = find(&first_word(t))
    {
        out.default = Some(i);
        out.default_reason = format!("ONTIMEOUT {t} at {p}");
        return out;
    }
    if let Some(i) = st.menu_default {
        out.default = Some(i);
        out.default_reason = format!("MENU DEFAULT in label {}", names[i]);
        return out;
    }
    if let Some((d, p)) = &st.default {
        let w = first_word(d);
        if let Some(i) = find(&w) {
            out.default = Some(i);
            out.default_reason = format!("DEFAULT {d} at {p}");
            return out;
        }
        let is_module = w.to_ascii_lowercase().ends_with(".c32");
        if !is_module && !st.ui && !w.is_empty() {
            // DEFAULT with a kernel command line and no label of that name.
            let mut e = BootEntry::new(d.clone(), p.clone());
            e.kind = BootKind::Linux;
            e.kernel = Some(w.clone());
            e.cmdline = Some(
                d.split_once(char::is_whitespace)
                    .map(|x| x.1.trim().to_string())
                    .or(global)
                    .unwrap_or_default(),
            );
            e.position = out.entries.len().to_string();
            out.entries.push(e);
            out.default = Some(out.entries.len() - 1);
            out.default_reason = format!("DEFAULT {d} at {p}: a kernel command line");
            return out;
        }
    }
    if !out.entries.is_empty() {
        out.default = Some(0);
        out.default_reason = "no DEFAULT label: the first LABEL".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn alpine() {
        let files = MemFiles::new().with(
            "/boot/extlinux.conf",
            "# Generated by update-extlinux 6.04_pre1-r15\n\
             DEFAULT menu.c32\nPROMPT 0\nMENU TITLE Alpine/Linux Boot Menu\nMENU HIDDEN\n\
             MENU AUTOBOOT Alpine will be booted automatically in # seconds.\nTIMEOUT 10\n\
             LABEL lts\n  MENU DEFAULT\n  MENU LABEL Linux lts\n  LINUX vmlinuz-lts\n\
             \x20 INITRD initramfs-lts\n\
             \x20 APPEND root=UUID=0c6e7a1f-8a7e-4b8f-9f0d-2a3b4c5d6e7f modules=sd-mod,usb-storage,ext4 quiet rootfstype=ext4 console=ttyS0,115200\n\n\
             MENU SEPARATOR\n",
        );
        let r = evaluate(&files, "/boot/extlinux.conf").unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.default, Some(0));
        let e = &r.entries[0];
        assert_eq!(e.title, "Linux lts");
        assert_eq!(e.kernel.as_deref(), Some("vmlinuz-lts"));
        assert_eq!(e.initrds, ["initramfs-lts"]);
        assert!(e.cmdline.as_deref().unwrap().contains("rootfstype=ext4"));
        assert_eq!(e.source.to_string(), "/boot/extlinux.conf:8");
        assert_eq!(r.default_reason, "MENU DEFAULT in label lts");
    }

    #[test]
    fn default_label_global_append_include_cycle() {
        let files = MemFiles::new()
            .with(
                "/boot/syslinux/syslinux.cfg",
                "default linux2\nappend root=/dev/sda1 ro\ninclude more.cfg\n\
                 label linux\n kernel /vmlinuz\nlabel linux2\n kernel /vmlinuz-2\n append -\n",
            )
            .with(
                "/boot/syslinux/more.cfg",
                "include syslinux.cfg\nlabel rescue\n kernel /vmlinuz-r\n",
            );
        let r = evaluate(&files, "/boot/syslinux/syslinux.cfg").unwrap();
        assert_eq!(r.entries.len(), 3);
        assert_eq!(r.default, Some(2));
        assert_eq!(r.entries[2].cmdline.as_deref(), Some(""));
        assert_eq!(r.entries[0].cmdline.as_deref(), Some("root=/dev/sda1 ro"));
        assert!(r.diagnostics[0].contains("cycle"), "{:?}", r.diagnostics);
        // DEFAULT as a command line.
        let files = MemFiles::new().with("/extlinux.conf", "DEFAULT /vmlinuz root=LABEL=r\n");
        let r = evaluate(&files, "/extlinux.conf").unwrap();
        assert_eq!(r.entries[0].cmdline.as_deref(), Some("root=LABEL=r"));
        assert_eq!(r.default, Some(0));
    }
}
