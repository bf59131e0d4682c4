//! The boot loader configuration of the guest and its default entry: which kernel, initramfs
//! and command line a fresh instance boots (launch-modes-and-shapes.md, "Decision" step 2;
//! IMP-BOOT, IMP-ROOTREF, IMP-INITRAMFS, REC-SERIAL).
//!
//! Configurations looked for, as a firmware would reach them:
//! - GRUB 2: `/boot/grub2/grub.cfg`, `/boot/grub/grub.cfg`, `/boot/efi/EFI/*/grub.cfg` (on
//!   RHEL/Ubuntu often a stub that `configfile`s the one in /boot), with `grubenv` and BLS
//!   entries through `blscfg` ([`grub`]);
//! - systemd-boot: `loader/loader.conf` on the ESP and BLS entries ([`systemd_boot`]);
//! - SYSLINUX/EXTLINUX ([`syslinux`]); GRUB Legacy `menu.lst`/`grub.conf` ([`grub_legacy`]);
//! - BLS entries alone (`/boot/loader/entries`), when nothing else names them;
//! - `/etc/default/grub` (+ `grub.d`), what the next grub-mkconfig would write
//!   ([`default_grub`]): attached to GRUB results, never used to pick the default.
//!
//! Everything is a pure function of the guest files read through [`Files`]. Limits for
//! hostile input: configuration files ≤ 1 MiB, ≤ 10 000 entries, block nesting ≤ 16,
//! includes (`source`, `configfile`, `INCLUDE`) ≤ 8 deep with cycle detection; problems
//! become `diagnostics` with file and line, never panics.

pub mod bls;
pub mod cmdline;
pub mod default_grub;
pub mod grub;
pub mod grub_legacy;
pub mod grubenv;
pub mod syslinux;
pub mod systemd_boot;

pub use cmdline::{Cmdline, Console, RootRef};
pub use default_grub::DefaultGrub;

use crate::{FileError, Files, Provenance};
use serde::Serialize;
use std::collections::BTreeMap;

/// Largest configuration file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Most menu entries kept per configuration.
pub const MAX_ENTRIES: usize = 10_000;
/// Deepest nesting of `if`/`menuentry`/`submenu` blocks.
pub const MAX_NESTING: usize = 16;
/// Deepest chain of `source`/`configfile`/`INCLUDE`.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// GRUB 2 main configurations, in the order they are tried.
pub const GRUB_CFGS: [&str; 2] = ["/boot/grub2/grub.cfg", "/boot/grub/grub.cfg"];
/// EFI GRUB configurations (`/boot/efi/EFI/<vendor>/grub.cfg`).
pub const EFI_GRUB_GLOB: &str = "/boot/efi/EFI/*/grub.cfg";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Loader {
    Grub2,
    GrubLegacy,
    /// BLS entries found with no loader configuration that reads them.
    Bls,
    Extlinux,
    SystemdBoot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BootKind {
    /// `linux`/`kernel` (or a BLS `linux` key).
    Linux,
    /// `chainloader`, a BLS `efi` key: another EFI binary or boot sector.
    Chainload,
    /// `multiboot`/`multiboot2` (Xen and other hypervisors); `kernel` is the dom0 kernel
    /// module when one is named like a Linux image.
    Multiboot,
    /// No boot command recognised (firmware setup, memtest, an empty entry…).
    #[default]
    Other,
}

/// What `search … --set=root` looks for (`kind`: `fs-uuid`, `label` or `file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootSpec {
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootEntry {
    pub title: String,
    /// GRUB `--id` (grub-mkconfig's `gnulinux-…`), the BLS file name (without `.conf` for
    /// GRUB, with it for systemd-boot), the SYSLINUX label.
    pub id: Option<String>,
    /// Titles of the enclosing submenus, outermost first.
    pub menu_path: Vec<String>,
    /// Index at each menu level joined with `>` (`"0"`, `"1>2"`), as GRUB's `default` takes it.
    pub position: String,
    pub kind: BootKind,
    /// The kernel path as the loader sees it (relative to the loader's root device: a
    /// separate /boot partition makes `/vmlinuz-…` mean the guest's `/boot/vmlinuz-…`; see
    /// [`grub::guest_candidates`]).
    pub kernel: Option<String>,
    /// Where the kernel line is (`file:line`).
    pub kernel_line: Option<String>,
    pub initrds: Vec<String>,
    /// The kernel command line (variables expanded as far as known).
    pub cmdline: Option<String>,
    /// `search --fs-uuid/--label/--file --set=root …` in effect for the entry.
    pub root_spec: Option<RootSpec>,
    /// `set root=…` (GRUB 2) / `root (hd0,0)` (Legacy) in effect for the entry, when known.
    pub grub_root: Option<String>,
    /// The BLS entry file, for entries from BLS.
    pub bls_file: Option<String>,
    /// Where the entry is defined.
    pub source: Provenance,
    pub notes: Vec<String>,
}

impl BootEntry {
    pub fn new(title: String, source: Provenance) -> BootEntry {
        BootEntry {
            title,
            id: None,
            menu_path: Vec::new(),
            position: String::new(),
            kind: BootKind::Other,
            kernel: None,
            kernel_line: None,
            initrds: Vec::new(),
            cmdline: None,
            root_spec: None,
            grub_root: None,
            bls_file: None,
            source,
            notes: Vec::new(),
        }
    }

    /// The command line parsed into parameters (empty when there is none).
    pub fn cmdline_parsed(&self) -> Cmdline {
        Cmdline::parse(self.cmdline.as_deref().unwrap_or(""))
    }

    /// The `root=` of the command line (the last one), parsed.
    pub fn root(&self) -> Option<RootRef> {
        self.cmdline_parsed().root()
    }

    /// Titles from the top menu, `>`-joined, as GRUB's `default` accepts them.
    pub fn title_path(&self) -> String {
        let mut v: Vec<String> = self
            .menu_path
            .iter()
            .map(|t| t.replace('>', ">>"))
            .collect();
        v.push(self.title.replace('>', ">>"));
        v.join(">")
    }

    /// Guest paths the kernel may be at (see [`grub::guest_candidates`]); relative
    /// SYSLINUX paths are taken from the configuration file's directory.
    pub fn kernel_candidates(&self) -> Vec<String> {
        self.kernel
            .as_deref()
            .map(|k| self.path_candidates(k))
            .unwrap_or_default()
    }

    /// Guest paths each initramfs may be at.
    pub fn initrd_candidates(&self) -> Vec<Vec<String>> {
        self.initrds
            .iter()
            .map(|i| self.path_candidates(i))
            .collect()
    }

    fn path_candidates(&self, p: &str) -> Vec<String> {
        let dir = self
            .source
            .path
            .rsplit_once('/')
            .map_or("/", |x| if x.0.is_empty() { "/" } else { x.0 });
        if !p.starts_with('/') && !p.starts_with('(') && !p.starts_with('$') {
            return grub::guest_candidates(&format!("{}/{p}", dir.trim_end_matches('/')), dir);
        }
        grub::guest_candidates(p, dir)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BootConfig {
    pub loader: Loader,
    /// The file the firmware's loader reads first.
    pub config_path: String,
    /// The file that made the menu (a stub's `configfile` target), when different.
    pub menu_file: String,
    /// Every file read, in order.
    pub files_read: Vec<String>,
    pub entries: Vec<BootEntry>,
    /// Index into `entries`.
    pub default: Option<usize>,
    /// Why: `default="0" (set default="0" at /boot/grub/grub.cfg:12)`,
    /// `default="…" (… saved_entry=… from /boot/grub2/grubenv)`, `MENU DEFAULT in label lts`.
    pub default_reason: String,
    /// GRUB's environment block as `load_env` read it.
    pub grubenv_path: Option<String>,
    pub grubenv: Option<BTreeMap<String, String>>,
    /// GRUB read BLS entries (`blscfg`).
    pub bls: bool,
    /// `/etc/default/grub` for GRUB loaders (what the next grub-mkconfig would write).
    pub default_grub: Option<DefaultGrub>,
    /// Problems and guesses, with file and line.
    pub diagnostics: Vec<String>,
}

impl BootConfig {
    pub fn default_entry(&self) -> Option<&BootEntry> {
        self.default.and_then(|i| self.entries.get(i))
    }
}

/// The configuration that decides the boot: the first of [`read_all`] with entries (BIOS
/// GRUB, then EFI GRUB, systemd-boot, EXTLINUX/SYSLINUX, GRUB Legacy, bare BLS), else the
/// first one found. `Ok(None)`: no boot loader configuration at all.
pub fn read(files: &dyn Files) -> Result<Option<BootConfig>, FileError> {
    let all = read_all(files)?;
    let pick = all.iter().position(|c| !c.entries.is_empty()).unwrap_or(0);
    Ok(all.into_iter().nth(pick))
}

/// Every boot loader configuration found, in the order [`read`] prefers them.
pub fn read_all(files: &dyn Files) -> Result<Vec<BootConfig>, FileError> {
    let mut out = Vec::new();
    let default_grub = default_grub::read(files)?;
    let mut grub_paths: Vec<String> = GRUB_CFGS.iter().map(|s| s.to_string()).collect();
    grub_paths.extend(files.glob(EFI_GRUB_GLOB)?);
    for path in grub_paths {
        let Some(r) = grub::evaluate(files, &path) else {
            continue;
        };
        let mut diagnostics = r.diagnostics;
        if let Some(dg) = &default_grub {
            compare_default_grub(dg, r.grubenv.as_ref(), &mut diagnostics);
        }
        out.push(BootConfig {
            loader: Loader::Grub2,
            config_path: path,
            menu_file: r.menu_file,
            files_read: r.files_read,
            entries: r.entries,
            default: r.default,
            default_reason: r.default_reason,
            grubenv_path: r.grubenv_path,
            grubenv: r.grubenv,
            bls: r.used_blscfg,
            default_grub: default_grub.clone(),
            diagnostics,
        });
    }
    for path in systemd_boot::LOADER_CONFS {
        if let Some(r) = systemd_boot::evaluate(files, path)? {
            out.push(simple(
                Loader::SystemdBoot,
                path,
                r.entries,
                r.default,
                r.default_reason,
                r.files_read,
                r.diagnostics,
            ));
        }
    }
    for path in syslinux::PATHS {
        if let Some(r) = syslinux::evaluate(files, path) {
            out.push(simple(
                Loader::Extlinux,
                path,
                r.entries,
                r.default,
                r.default_reason,
                r.files_read,
                r.diagnostics,
            ));
        }
    }
    for path in grub_legacy::PATHS {
        if let Some(r) = grub_legacy::evaluate(files, path) {
            let mut c = simple(
                Loader::GrubLegacy,
                path,
                r.entries,
                r.default,
                r.default_reason,
                r.files_read,
                r.diagnostics,
            );
            c.default_grub = default_grub.clone();
            out.push(c);
        }
    }
    if !out.iter().any(|c| c.bls || c.loader == Loader::SystemdBoot) {
        let mut diagnostics = Vec::new();
        let mut entries = bls::read_dir(files, bls::ENTRIES_DIRS[0], &mut diagnostics)?;
        if !entries.is_empty() {
            bls::sort_spec(&mut entries);
            let mut list = Vec::new();
            for (i, b) in entries.iter().enumerate() {
                let mut e = BootEntry::new(
                    b.title.clone().unwrap_or_else(|| b.id.clone()),
                    b.linux_line.map_or(Provenance::file(b.path.clone()), |l| {
                        Provenance::line(b.path.clone(), l)
                    }),
                );
                e.id = Some(b.id.clone());
                e.position = i.to_string();
                e.bls_file = Some(b.path.clone());
                e.kind = if b.linux.is_some() {
                    BootKind::Linux
                } else {
                    BootKind::Other
                };
                e.kernel = b.linux.clone();
                e.initrds = b.initrd.clone();
                e.cmdline = b.options.clone();
                list.push(e);
            }
            let files_read = entries.iter().map(|e| e.path.clone()).collect();
            diagnostics.push(format!(
                "BLS entries in {} but no loader configuration reads them; the first in the specification's order is assumed",
                bls::ENTRIES_DIRS[0]
            ));
            out.push(simple(
                Loader::Bls,
                bls::ENTRIES_DIRS[0],
                list,
                Some(0),
                "BLS order (no loader configuration)".into(),
                files_read,
                diagnostics,
            ));
        }
    }
    Ok(out)
}

fn simple(
    loader: Loader,
    path: &str,
    entries: Vec<BootEntry>,
    default: Option<usize>,
    default_reason: String,
    files_read: Vec<String>,
    diagnostics: Vec<String>,
) -> BootConfig {
    BootConfig {
        loader,
        config_path: path.to_string(),
        menu_file: path.to_string(),
        files_read,
        entries,
        default,
        default_reason,
        grubenv_path: None,
        grubenv: None,
        bls: false,
        default_grub: None,
        diagnostics,
    }
}

/// Point out a GRUB_DEFAULT=saved without a saved entry.
fn compare_default_grub(
    dg: &DefaultGrub,
    env: Option<&BTreeMap<String, String>>,
    diagnostics: &mut Vec<String>,
) {
    if dg.get("GRUB_DEFAULT") == Some("saved") && env.is_none_or(|e| !e.contains_key("saved_entry"))
    {
        let at = dg
            .provenance("GRUB_DEFAULT")
            .map(|p| p.to_string())
            .unwrap_or_default();
        diagnostics.push(format!(
            "GRUB_DEFAULT=saved ({at}) but no saved_entry in grubenv: GRUB boots the first entry"
        ));
    }
}
