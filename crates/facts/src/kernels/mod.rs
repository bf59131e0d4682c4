//! Installed Linux kernels: images and initramfs files in `/boot`, module trees in
//! `/lib/modules`, and whether each kernel has the virtio drivers OCI's paravirtualized mode
//! needs (IMP-INITRAMFS, launch-modes-and-shapes.md "Decision" steps 2–3).
//!
//! What this module answers is "does this kernel *have* virtio_pci/scsi/blk/net", built in
//! (`modules.builtin`, `CONFIG_…=y`) or as an installed module (`modules.dep`, modules.dep(5)).
//! Whether a module is also inside the initramfs is a separate check on the initramfs archive.
//!
//! Layouts covered: Debian/Ubuntu (`vmlinuz-<v>`, `initrd.img-<v>`), Fedora/EL
//! (`initramfs-<v>.img`, rescue kernels `vmlinuz-0-rescue-<machine-id>`), SUSE (`initrd-<v>`,
//! `Image-<v>` on Arm), Arch (`vmlinuz-linux` with the version only in `/usr/lib/modules`).
//! Not covered yet: kernels kept on the ESP by systemd-boot/kernel-install (`/boot/<id>/<v>/`).

mod version;
mod virtio;

pub use version::{KernelVersion, natural_cmp};
pub use virtio::{Driver, DriverStatus, OTHER_DRIVERS, Virtio};

use crate::{EntryKind, Files, ListEntry};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

pub const BOOT: &str = "/boot";
/// `/lib` is often a symlink to `usr/lib` (merged /usr), which [`Files`] resolves; a
/// non-merged guest may still have a separate `/usr/lib/modules`, so both are listed (the
/// first one wins for a version). Listed rather than globbed (`/lib/modules/*`): the entry
/// kinds let stray files be skipped without one more call each.
const MODULE_ROOTS: [&str; 2] = ["/lib/modules", "/usr/lib/modules"];

/// modules.dep of a distro kernel is about 0.5 MiB; modules.builtin much less.
const MAX_MODULE_LIST: u64 = 16 * 1024 * 1024;
/// A kernel config is about 250 KiB.
const MAX_CONFIG: u64 = 4 * 1024 * 1024;
/// Arch Linux's `pkgbase` holds a package name.
const PKGBASE_HEAD: usize = 256;
/// More kernels than this is not a real image; only the newest are evaluated.
const MAX_KERNELS: usize = 32;
/// Directory entries looked at per listing (a hostile /boot could list millions).
const MAX_ENTRIES: usize = 4096;

/// Image file name prefixes in `/boot`; the rest of the name is the version (or, on Arch, a
/// package name). Earlier prefixes win when two images claim the same version.
const IMAGE_PREFIXES: [&str; 4] = ["vmlinuz-", "Image-", "vmlinux-", "kernel-"];

/// Backup and signature files that look like kernels but are not installed kernels.
const SKIP_SUFFIXES: [&str; 13] = [
    ".old",
    ".bak",
    ".orig",
    ".dpkg-old",
    ".dpkg-bak",
    ".dpkg-new",
    ".dpkg-tmp",
    ".rpmsave",
    ".rpmnew",
    ".sig",
    ".hmac",
    ".asc",
    "~",
];

/// One installed kernel (the files that share a version).
#[derive(Debug, Clone, Serialize)]
pub struct Kernel {
    /// `uname -r` (the module directory name), or the image name's suffix when no module
    /// tree matched it.
    pub version: String,
    pub parsed: Option<KernelVersion>,
    pub image: Option<String>,
    pub modules_dir: Option<String>,
    pub initramfs: Option<String>,
    pub config: Option<String>,
    /// A rescue kernel (EL/Fedora `vmlinuz-0-rescue-<machine-id>`): kept, never the default.
    pub rescue: bool,
    pub virtio: Virtio,
    /// [`OTHER_DRIVERS`] (nvme, iscsi_tcp, mlx5_core, ata_piix, e1000), by module name.
    pub other_drivers: BTreeMap<String, Driver>,
    /// How the files were matched when it was not by the version in their names.
    pub notes: Vec<String>,
}

impl Kernel {
    /// How this kernel provides a driver (a virtio one or one of [`OTHER_DRIVERS`]).
    pub fn driver(&self, name: &str) -> Option<&Driver> {
        self.virtio
            .iter()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d)
            .or_else(|| self.other_drivers.get(name))
    }

    /// True when the parsed version is at least `major.minor` (false when it could not be
    /// parsed). Paravirtualized mode needs 3.4, where virtio_scsi entered Linux.
    pub fn version_at_least(&self, major: u32, minor: u32) -> bool {
        self.parsed
            .is_some_and(|v| (v.major, v.minor) >= (major, minor))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KernelsFact {
    /// Newest first.
    pub kernels: Vec<Kernel>,
    pub warnings: Vec<String>,
}

impl KernelsFact {
    /// The kernel most likely to boot, until the boot loader's default entry is read (a later
    /// issue: GRUB `saved_entry`/`GRUB_DEFAULT`, BLS entries): the newest non-rescue kernel
    /// that has both an image and a module tree, else the newest non-rescue one, else the
    /// newest of all. "Newest" compares the parsed numbers, then the version strings with
    /// numbers compared as numbers ("5.14.0-162" > "5.14.0-70").
    pub fn default_candidate(&self) -> Option<&Kernel> {
        let newest = |pick: &dyn Fn(&Kernel) -> bool| {
            self.kernels
                .iter()
                .filter(|k| pick(k))
                .max_by(|a, b| newer(a, b))
        };
        newest(&|k| !k.rescue && k.image.is_some() && k.modules_dir.is_some())
            .or_else(|| newest(&|k| !k.rescue))
            .or_else(|| newest(&|_| true))
    }

    pub fn kernel(&self, version: &str) -> Option<&Kernel> {
        self.kernels.iter().find(|k| k.version == version)
    }
}

fn newer(a: &Kernel, b: &Kernel) -> Ordering {
    a.parsed
        .cmp(&b.parsed)
        .then_with(|| natural_cmp(&a.version, &b.version))
}

/// Find the kernels and evaluate their virtio drivers. Never fails: unreadable parts become
/// warnings and `Unknown` statuses.
pub fn gather(files: &dyn Files) -> KernelsFact {
    let mut warnings = Vec::new();
    let boot = list(files, BOOT, &mut warnings).unwrap_or_default();
    let boot_names: BTreeSet<&str> = boot.iter().map(|e| e.name.as_str()).collect();

    let mut kernels: BTreeMap<String, Kernel> = BTreeMap::new();
    // The name suffix used in /boot for each version, when it differs from the version.
    let mut boot_keys: BTreeMap<String, String> = BTreeMap::new();
    let mut flavors = Vec::new();
    for (key, path) in find_images(&boot) {
        if key.starts_with(|c: char| c.is_ascii_digit()) {
            entry(&mut kernels, &key).image = Some(path);
        } else {
            flavors.push((key, path));
        }
    }
    let mut module_roots = 0;
    for root in MODULE_ROOTS {
        let Some(entries) = list(files, root, &mut warnings) else {
            continue;
        };
        module_roots += 1;
        for e in entries {
            if matches!(e.kind, EntryKind::Dir | EntryKind::Symlink) && !e.name.starts_with('.') {
                let k = entry(&mut kernels, &e.name);
                if k.modules_dir.is_none() {
                    k.modules_dir = Some(format!("{root}/{}", e.name));
                }
            }
        }
    }
    if module_roots == 0 {
        warnings.push(format!(
            "no module tree: neither {} exists",
            MODULE_ROOTS.join(" nor ")
        ));
    }
    match_flavors(files, flavors, &mut kernels, &mut boot_keys, &mut warnings);

    let mut out: Vec<Kernel> = kernels.into_values().collect();
    out.sort_by(|a, b| newer(b, a));
    if out.len() > MAX_KERNELS {
        warnings.push(format!(
            "{} kernels found; only the newest {MAX_KERNELS} are evaluated",
            out.len()
        ));
        out.truncate(MAX_KERNELS);
    }
    for k in &mut out {
        let key = boot_keys
            .get(&k.version)
            .cloned()
            .unwrap_or_else(|| k.version.clone());
        complete(files, k, &key, &boot_names, &mut warnings);
    }
    KernelsFact {
        kernels: out,
        warnings,
    }
}

/// Fill in the rest of a kernel: rescue flag, initramfs, config and virtio drivers. `key` is
/// the name suffix its /boot files use.
fn complete(
    files: &dyn Files,
    k: &mut Kernel,
    key: &str,
    boot_names: &BTreeSet<&str>,
    warnings: &mut Vec<String>,
) {
    k.rescue = key.contains("rescue");
    k.initramfs = initramfs_names(key)
        .into_iter()
        .find(|n| boot_names.contains(n.as_str()))
        .map(|n| format!("{BOOT}/{n}"));
    let mut configs = Vec::new();
    let boot_config = format!("config-{}", k.version);
    if boot_names.contains(boot_config.as_str()) {
        configs.push(format!("{BOOT}/{boot_config}"));
    }
    if let Some(dir) = &k.modules_dir {
        // Fedora and EL9 also install the config inside the module tree.
        configs.push(format!("{dir}/config"));
    }
    let (virtio, others, config) =
        virtio::evaluate(files, k.modules_dir.as_deref(), &configs, warnings);
    k.virtio = virtio;
    k.other_drivers = others;
    k.config = config;
}

fn entry<'a>(kernels: &'a mut BTreeMap<String, Kernel>, version: &str) -> &'a mut Kernel {
    kernels
        .entry(version.to_string())
        .or_insert_with(|| Kernel {
            version: version.to_string(),
            parsed: KernelVersion::parse(version),
            image: None,
            modules_dir: None,
            initramfs: None,
            config: None,
            rescue: false,
            virtio: Virtio::unknown(),
            other_drivers: BTreeMap::new(),
            notes: Vec::new(),
        })
}

/// A directory's entries (capped); `None` when it does not exist (warned for /boot) or
/// cannot be listed (warned).
fn list(files: &dyn Files, dir: &str, warnings: &mut Vec<String>) -> Option<Vec<ListEntry>> {
    match files.list_dir(dir) {
        Ok(Some(mut v)) => {
            if v.len() > MAX_ENTRIES {
                warnings.push(format!(
                    "{dir}: {} entries; only the first {MAX_ENTRIES} are looked at",
                    v.len()
                ));
                v.truncate(MAX_ENTRIES);
            }
            Some(v)
        }
        Ok(None) => {
            if dir == BOOT {
                warnings.push(format!("{dir}: not found"));
            }
            None
        }
        Err(e) => {
            warnings.push(format!("{dir}: not listable: {e}"));
            None
        }
    }
}

/// Kernel images in /boot as (name suffix, path). Bare `vmlinuz`/`Image` links and backups
/// (`vmlinuz.old`, `*.dpkg-old`, …) are skipped: they duplicate or shadow real entries.
fn find_images(boot: &[ListEntry]) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for prefix in IMAGE_PREFIXES {
        for e in boot {
            if !matches!(e.kind, EntryKind::File | EntryKind::Symlink) {
                continue;
            }
            let Some(key) = e.name.strip_prefix(prefix) else {
                continue;
            };
            if key.is_empty() || SKIP_SUFFIXES.iter().any(|s| key.ends_with(s)) {
                continue;
            }
            if seen.insert(key.to_string()) {
                out.push((key.to_string(), format!("{BOOT}/{}", e.name)));
            }
        }
    }
    out
}

/// Images whose name carries no version (Arch `vmlinuz-linux`, `vmlinuz-linux-lts`) get the
/// version of a module tree without an image: one whose name ends the image name, else one
/// whose `pkgbase` file names the flavour (Arch writes it), else the only one left when there
/// is a single such image. Otherwise the kernel is kept with an unknown version.
fn match_flavors(
    files: &dyn Files,
    flavors: Vec<(String, String)>,
    kernels: &mut BTreeMap<String, Kernel>,
    boot_keys: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) {
    let single = flavors.len() == 1;
    for (flavor, path) in flavors.into_iter().take(MAX_KERNELS) {
        let unclaimed: Vec<(String, String)> = kernels
            .values()
            .filter(|k| k.image.is_none())
            .filter_map(|k| Some((k.version.clone(), k.modules_dir.clone()?)))
            .collect();
        let by_suffix = unclaimed
            .iter()
            .find(|(v, _)| flavor.ends_with(&format!("-{v}")))
            .map(|(v, _)| {
                (
                    v.clone(),
                    format!("version {v} is the end of the image name {path}"),
                )
            });
        let chosen = by_suffix
            .or_else(|| {
                unclaimed.iter().take(MAX_KERNELS).find_map(|(v, dir)| {
                    let pkgbase = format!("{dir}/pkgbase");
                    match files.head(&pkgbase, PKGBASE_HEAD) {
                        Ok(Some(b)) if String::from_utf8_lossy(&b).trim() == flavor => {
                            Some((v.clone(), format!("{pkgbase} names {flavor:?}, the image {path}")))
                        }
                        Ok(_) => None,
                        Err(e) => {
                            warnings.push(format!("{pkgbase}: not readable: {e}"));
                            None
                        }
                    }
                })
            })
            .or_else(|| match unclaimed.as_slice() {
                [(v, dir)] if single => Some((
                    v.clone(),
                    format!("assumed: {path} has no version in its name and {dir} is the only module tree without an image"),
                )),
                _ => None,
            });
        match chosen {
            Some((v, note)) => {
                let k = entry(kernels, &v);
                k.image = Some(path);
                k.notes.push(note);
                boot_keys.insert(v, flavor);
            }
            None => {
                let k = entry(kernels, &flavor);
                k.image = Some(path.clone());
                k.notes.push(format!(
                    "{path} has no version in its name and no module tree matches it"
                ));
                warnings.push(format!("{path}: kernel version unknown"));
            }
        }
    }
}

/// Initramfs names for a /boot key, by distro: Debian/Ubuntu, Fedora/EL/Arch, SUSE, older.
fn initramfs_names(key: &str) -> [String; 4] {
    [
        format!("initrd.img-{key}"),
        format!("initramfs-{key}.img"),
        format!("initrd-{key}"),
        format!("initrd-{key}.img"),
    ]
}

fn read_text(
    files: &dyn Files,
    path: &str,
    max: u64,
    warnings: &mut Vec<String>,
) -> Option<String> {
    match files.read(path, max) {
        Ok(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("{path}: not readable: {e}"));
            None
        }
    }
}

fn line_no(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemFiles, Provenance};

    fn module(path: &str) -> DriverStatus {
        DriverStatus::Module {
            path: path.to_string(),
        }
    }

    /// Debian 12: merged /usr (/lib → usr/lib), vmlinuz + initrd.img, modules as plain .ko,
    /// virtio_pci built in (Debian's cloud and generic kernels do this).
    fn debian() -> MemFiles {
        let dep = "kernel/drivers/net/virtio_net.ko: kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko\n\
                   kernel/drivers/block/virtio_blk.ko:\n\
                   kernel/drivers/scsi/virtio_scsi.ko:\n\
                   kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n";
        let builtin = "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n\
                       kernel/drivers/virtio/virtio_pci.ko\n";
        MemFiles::new()
            .with_link("/lib", "usr/lib")
            .with("/boot/vmlinuz-6.1.0-18-amd64", "kernel")
            .with("/boot/vmlinuz-6.1.0-17-amd64", "kernel")
            .with("/boot/initrd.img-6.1.0-18-amd64", "cpio")
            .with(
                "/boot/config-6.1.0-18-amd64",
                "CONFIG_VIRTIO_PCI=y\nCONFIG_SCSI_VIRTIO=m\nCONFIG_VIRTIO_BLK=m\n",
            )
            .with("/boot/System.map-6.1.0-18-amd64", "")
            .with_link("/boot/vmlinuz", "vmlinuz-6.1.0-18-amd64")
            .with_link("/boot/vmlinuz.old", "vmlinuz-6.1.0-17-amd64")
            .with_link("/boot/initrd.img", "initrd.img-6.1.0-18-amd64")
            .with("/boot/vmlinuz-6.1.0-16-amd64.dpkg-bak", "kernel")
            .with("/usr/lib/modules/6.1.0-18-amd64/modules.dep", dep)
            .with("/usr/lib/modules/6.1.0-18-amd64/modules.builtin", builtin)
    }

    #[test]
    fn debian_layout() {
        let fact = gather(&debian());
        let versions: Vec<_> = fact.kernels.iter().map(|k| k.version.as_str()).collect();
        assert_eq!(versions, ["6.1.0-18-amd64", "6.1.0-17-amd64"]);
        let k = &fact.kernels[0];
        assert_eq!(k.image.as_deref(), Some("/boot/vmlinuz-6.1.0-18-amd64"));
        assert_eq!(
            k.initramfs.as_deref(),
            Some("/boot/initrd.img-6.1.0-18-amd64")
        );
        assert_eq!(
            k.modules_dir.as_deref(),
            Some("/lib/modules/6.1.0-18-amd64")
        );
        assert_eq!(k.config.as_deref(), Some("/boot/config-6.1.0-18-amd64"));
        assert!(
            !k.rescue
                && k.version_at_least(3, 4)
                && k.version_at_least(6, 1)
                && !k.version_at_least(6, 2)
        );

        let dir = "/lib/modules/6.1.0-18-amd64";
        assert_eq!(k.virtio.virtio_pci.status, DriverStatus::Builtin);
        assert_eq!(
            k.virtio.virtio_pci.decided_by,
            Some(Provenance::line(format!("{dir}/modules.builtin"), 3))
        );
        assert_eq!(
            k.virtio.virtio_net.status,
            module(&format!("{dir}/kernel/drivers/net/virtio_net.ko"))
        );
        assert_eq!(
            k.virtio.virtio_net.decided_by,
            Some(Provenance::line(format!("{dir}/modules.dep"), 1))
        );
        assert_eq!(
            k.virtio.virtio_blk.status,
            module(&format!("{dir}/kernel/drivers/block/virtio_blk.ko"))
        );
        assert_eq!(
            k.virtio.virtio_scsi.decided_by,
            Some(Provenance::line(format!("{dir}/modules.dep"), 3))
        );
        assert!(k.virtio.iter().iter().all(|(_, d)| d.present()));

        // The older kernel has an image only: nothing to judge its drivers by.
        let old = &fact.kernels[1];
        assert_eq!(
            (old.modules_dir.as_deref(), old.initramfs.as_deref()),
            (None, None)
        );
        assert_eq!(old.virtio.virtio_scsi.status, DriverStatus::Unknown);

        assert_eq!(
            fact.default_candidate().map(|k| k.version.as_str()),
            Some("6.1.0-18-amd64")
        );
        assert!(fact.warnings.is_empty(), "{:?}", fact.warnings);
    }

    #[test]
    fn el7_layout_with_xz_modules_and_rescue() {
        let v = "3.10.0-1160.el7.x86_64";
        let dep = "kernel/drivers/virtio/virtio.ko.xz:\n\
                   kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz kernel/drivers/virtio/virtio.ko.xz\n\
                   kernel/drivers/scsi/virtio_scsi.ko.xz: kernel/drivers/virtio/virtio.ko.xz\n\
                   kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz\n\
                   kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz\n";
        let f = MemFiles::new()
            .with(&format!("/boot/vmlinuz-{v}"), "k")
            .with(&format!("/boot/initramfs-{v}.img"), "i")
            .with(&format!("/boot/initramfs-{v}kdump.img"), "i")
            .with(
                &format!("/boot/config-{v}"),
                "CONFIG_VIRTIO_PCI=m\nCONFIG_SCSI_VIRTIO=m\n",
            )
            .with(&format!("/boot/.vmlinuz-{v}.hmac"), "h")
            .with("/boot/vmlinuz-0-rescue-4f1c2e", "k")
            .with("/boot/initramfs-0-rescue-4f1c2e.img", "i")
            .with(&format!("/lib/modules/{v}/modules.dep"), dep)
            .with(
                &format!("/lib/modules/{v}/modules.builtin"),
                "kernel/fs/ext4/ext4.ko\n",
            );
        let fact = gather(&f);
        assert_eq!(fact.kernels.len(), 2);
        let k = fact.kernel(v).unwrap();
        assert_eq!(
            k.parsed,
            Some(KernelVersion {
                major: 3,
                minor: 10,
                patch: 0
            })
        );
        assert_eq!(k.initramfs, Some(format!("/boot/initramfs-{v}.img")));
        assert_eq!(
            k.virtio.virtio_scsi.status,
            module(&format!(
                "/lib/modules/{v}/kernel/drivers/scsi/virtio_scsi.ko.xz"
            ))
        );
        assert_eq!(
            k.virtio.virtio_pci.decided_by,
            Some(Provenance::line(format!("/lib/modules/{v}/modules.dep"), 2))
        );
        let rescue = fact.kernel("0-rescue-4f1c2e").unwrap();
        assert!(rescue.rescue && rescue.parsed.is_none());
        assert_eq!(
            rescue.initramfs.as_deref(),
            Some("/boot/initramfs-0-rescue-4f1c2e.img")
        );
        assert_eq!(fact.default_candidate().unwrap().version, v);
    }

    #[test]
    fn builtin_virtio_from_config_only() {
        // A custom kernel: no module tree at all, everything compiled in.
        let config = "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_SCSI_VIRTIO=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_VIRTIO_NET=y\n";
        let f = MemFiles::new()
            .with("/boot/vmlinuz-6.6.8-custom", "k")
            .with("/boot/config-6.6.8-custom", config);
        let fact = gather(&f);
        let k = &fact.kernels[0];
        for (name, d) in k.virtio.iter() {
            assert_eq!(d.status, DriverStatus::Builtin, "{name}");
        }
        assert_eq!(
            k.virtio.virtio_scsi.decided_by,
            Some(Provenance::line("/boot/config-6.6.8-custom", 3))
        );
        assert!(
            fact.warnings
                .iter()
                .any(|w| w.starts_with("no module tree"))
        );
    }

    #[test]
    fn config_only_absence_cites_the_line() {
        let config = "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_NET=m\n# CONFIG_VIRTIO_BLK is not set\n";
        let f = MemFiles::new()
            .with("/boot/vmlinuz-4.4.0-x", "k")
            .with("/boot/config-4.4.0-x", config);
        let v = &gather(&f).kernels[0].virtio;
        let cfg = "/boot/config-4.4.0-x";
        assert_eq!(
            (&v.virtio_net.status, &v.virtio_net.decided_by),
            (&DriverStatus::Absent, &Some(Provenance::line(cfg, 2)))
        );
        assert_eq!(v.virtio_blk.decided_by, Some(Provenance::line(cfg, 3)));
        assert_eq!(v.virtio_scsi.decided_by, Some(Provenance::file(cfg)));
        assert_eq!(v.virtio_pci.status, DriverStatus::Builtin);
    }

    #[test]
    fn missing_virtio_is_absent_with_the_deciding_file() {
        let v = "5.15.0-91-generic";
        let f = MemFiles::new()
            .with(&format!("/boot/vmlinuz-{v}"), "k")
            .with(
                &format!("/boot/config-{v}"),
                "# CONFIG_VIRTIO_PCI is not set\n",
            )
            .with(
                &format!("/lib/modules/{v}/modules.dep"),
                "kernel/fs/xfs/xfs.ko.zst: kernel/lib/libcrc32c.ko.zst\n",
            )
            .with(
                &format!("/lib/modules/{v}/modules.builtin"),
                "kernel/fs/ext4/ext4.ko\n",
            );
        let k = &gather(&f).kernels[0];
        for (name, d) in k.virtio.iter() {
            assert_eq!(d.status, DriverStatus::Absent, "{name}");
            assert_eq!(
                d.decided_by,
                Some(Provenance::file(format!("/lib/modules/{v}/modules.dep")))
            );
            assert!(!d.present());
        }
    }

    #[test]
    fn no_modules_dep_falls_back_to_conventional_paths() {
        let dir = "/lib/modules/4.14.0-old";
        let f = MemFiles::new()
            .with("/boot/vmlinuz-4.14.0-old", "k")
            .with(&format!("{dir}/kernel/drivers/virtio/virtio_pci.ko"), "m")
            .with(&format!("{dir}/kernel/drivers/scsi/virtio_scsi.ko.gz"), "m")
            .with(
                &format!("{dir}/kernel/drivers/block/virtio_blk.ko.orig"),
                "m",
            );
        let k = &gather(&f).kernels[0];
        assert_eq!(
            k.virtio.virtio_pci.status,
            module(&format!("{dir}/kernel/drivers/virtio/virtio_pci.ko"))
        );
        assert_eq!(
            k.virtio.virtio_scsi.status,
            module(&format!("{dir}/kernel/drivers/scsi/virtio_scsi.ko.gz"))
        );
        assert_eq!(k.virtio.virtio_blk.status, DriverStatus::Absent);
        assert_eq!(k.virtio.virtio_blk.decided_by, Some(Provenance::file(dir)));
        assert_eq!(k.virtio.virtio_net.status, DriverStatus::Absent);
    }

    #[test]
    fn modules_dep_dash_names_and_absolute_paths() {
        let dir = "/lib/modules/2.6.32-754.el6.x86_64";
        let f = MemFiles::new().with(
            &format!("{dir}/modules.dep"),
            format!(
                "{dir}/kernel/drivers/virtio/virtio-pci.ko: {dir}/x.ko\nnot a module line\n:\n\n"
            ),
        );
        let k = &gather(&f).kernels[0];
        assert_eq!(
            k.virtio.virtio_pci.status,
            module(&format!("{dir}/kernel/drivers/virtio/virtio-pci.ko"))
        );
        assert!(k.version_at_least(2, 6) && !k.version_at_least(3, 4));
        // Module tree only, no image: still the default candidate (the only kernel).
        assert_eq!(
            gather(&f).default_candidate().unwrap().version,
            "2.6.32-754.el6.x86_64"
        );
    }

    #[test]
    fn arch_linux_version_from_module_tree() {
        let f = MemFiles::new()
            .with_link("/lib", "usr/lib")
            .with("/boot/vmlinuz-linux", "k")
            .with("/boot/vmlinuz-linux-lts", "k")
            .with("/boot/initramfs-linux.img", "i")
            .with("/boot/initramfs-linux-fallback.img", "i")
            .with("/boot/initramfs-linux-lts.img", "i")
            .with("/usr/lib/modules/6.7.4-arch1-1/pkgbase", "linux\n")
            .with(
                "/usr/lib/modules/6.7.4-arch1-1/modules.builtin",
                "kernel/drivers/virtio/virtio_pci.ko\n",
            )
            .with("/usr/lib/modules/6.6.16-1-lts/pkgbase", "linux-lts\n")
            .with("/usr/lib/modules/6.6.16-1-lts/modules.dep", "");
        let fact = gather(&f);
        let k = fact.kernel("6.7.4-arch1-1").unwrap();
        assert_eq!(k.image.as_deref(), Some("/boot/vmlinuz-linux"));
        assert_eq!(k.initramfs.as_deref(), Some("/boot/initramfs-linux.img"));
        assert_eq!(k.modules_dir.as_deref(), Some("/lib/modules/6.7.4-arch1-1"));
        assert_eq!(k.virtio.virtio_pci.status, DriverStatus::Builtin);
        assert!(k.notes[0].contains("pkgbase"));
        let lts = fact.kernel("6.6.16-1-lts").unwrap();
        assert_eq!(lts.image.as_deref(), Some("/boot/vmlinuz-linux-lts"));
        assert_eq!(
            lts.initramfs.as_deref(),
            Some("/boot/initramfs-linux-lts.img")
        );
        assert_eq!(fact.kernels.len(), 2);
        assert_eq!(fact.default_candidate().unwrap().version, "6.7.4-arch1-1");
    }

    #[test]
    fn versionless_image_without_clues() {
        // One flavour, one module tree, no pkgbase: assumed and said so.
        let f = MemFiles::new()
            .with("/boot/vmlinuz-linux", "k")
            .with("/lib/modules/6.8.1-arch1-1/modules.dep", "");
        let fact = gather(&f);
        assert_eq!(fact.kernels.len(), 1);
        assert!(fact.kernels[0].notes[0].starts_with("assumed"));

        // Two module trees and no pkgbase: the version stays unknown, nothing crashes.
        let f = MemFiles::new()
            .with("/boot/vmlinuz-linux", "k")
            .with("/lib/modules/6.8.1-arch1-1/modules.dep", "")
            .with("/lib/modules/6.7.4-arch1-1/modules.dep", "");
        let fact = gather(&f);
        let k = fact.kernel("linux").unwrap();
        assert!(k.parsed.is_none() && !k.version_at_least(0, 0));
        assert!(fact.warnings.iter().any(|w| w.contains("version unknown")));
        // The newest with image and modules does not exist; the newest non-rescue does.
        assert_eq!(fact.default_candidate().unwrap().version, "6.8.1-arch1-1");
    }

    #[test]
    fn image_name_ending_with_module_version() {
        let f = MemFiles::new()
            .with("/boot/kernel-genkernel-x86_64-6.1.67-gentoo", "k")
            .with("/boot/initramfs-genkernel-x86_64-6.1.67-gentoo.img", "i")
            .with("/lib/modules/6.1.67-gentoo/modules.dep", "");
        let k = &gather(&f).kernels[0];
        assert_eq!(k.version, "6.1.67-gentoo");
        assert_eq!(
            k.image.as_deref(),
            Some("/boot/kernel-genkernel-x86_64-6.1.67-gentoo")
        );
        assert_eq!(
            k.initramfs.as_deref(),
            Some("/boot/initramfs-genkernel-x86_64-6.1.67-gentoo.img")
        );
    }

    #[test]
    fn suse_and_arm_names() {
        let f = MemFiles::new()
            .with("/boot/Image-5.14.21-150500.55.39-default", "k")
            .with("/boot/initrd-5.14.21-150500.55.39-default", "i")
            .with_link("/boot/Image", "Image-5.14.21-150500.55.39-default")
            .with(
                "/lib/modules/5.14.21-150500.55.39-default/config",
                "CONFIG_VIRTIO_NET=y\n",
            );
        let fact = gather(&f);
        assert_eq!(fact.kernels.len(), 1);
        let k = &fact.kernels[0];
        assert_eq!(
            k.initramfs.as_deref(),
            Some("/boot/initrd-5.14.21-150500.55.39-default")
        );
        assert_eq!(
            k.config.as_deref(),
            Some("/lib/modules/5.14.21-150500.55.39-default/config")
        );
        assert_eq!(k.virtio.virtio_net.status, DriverStatus::Builtin);
    }

    #[test]
    fn newest_by_numbers_not_by_text() {
        let f = MemFiles::new()
            .with("/boot/vmlinuz-5.14.0-70.13.1.el9_0.x86_64", "k")
            .with("/boot/vmlinuz-5.14.0-162.6.1.el9_1.x86_64", "k")
            .with("/boot/vmlinuz-4.18.0-513.el8.x86_64", "k")
            .with("/lib/modules/5.14.0-70.13.1.el9_0.x86_64/modules.dep", "")
            .with("/lib/modules/5.14.0-162.6.1.el9_1.x86_64/modules.dep", "")
            .with("/lib/modules/4.18.0-513.el8.x86_64/modules.dep", "");
        let fact = gather(&f);
        assert_eq!(
            fact.default_candidate().unwrap().version,
            "5.14.0-162.6.1.el9_1.x86_64"
        );
        assert_eq!(fact.kernels[0].version, "5.14.0-162.6.1.el9_1.x86_64");
        assert_eq!(fact.kernels[2].version, "4.18.0-513.el8.x86_64");
    }

    #[test]
    fn oversized_lists_are_warnings() {
        let dir = "/lib/modules/6.1.0-1-amd64";
        let f = MemFiles::new()
            .with("/boot/vmlinuz-6.1.0-1-amd64", "k")
            .with(
                "/boot/config-6.1.0-1-amd64",
                "#".repeat(MAX_CONFIG as usize + 1),
            )
            .with(
                &format!("{dir}/modules.builtin"),
                "x".repeat(MAX_MODULE_LIST as usize + 1),
            );
        let fact = gather(&f);
        assert!(
            fact.warnings
                .iter()
                .any(|w| w.starts_with("/boot/config-6.1.0-1-amd64: not readable"))
        );
        assert!(
            fact.warnings
                .iter()
                .any(|w| w.starts_with(&format!("{dir}/modules.builtin: not readable")))
        );
        // modules.dep is absent: the conventional paths are checked, and absence is decided by the dir.
        assert_eq!(
            fact.kernels[0].virtio.virtio_pci.status,
            DriverStatus::Absent
        );
    }

    #[test]
    fn too_many_kernels_are_capped() {
        let mut f = MemFiles::new();
        for i in 0..(MAX_KERNELS + 8) {
            f = f.with(&format!("/boot/vmlinuz-5.{i}.0"), "k");
        }
        let fact = gather(&f);
        assert_eq!(fact.kernels.len(), MAX_KERNELS);
        assert_eq!(fact.kernels[0].version, format!("5.{}.0", MAX_KERNELS + 7));
        assert!(fact.warnings.iter().any(|w| w.contains("only the newest")));
    }

    #[test]
    fn empty_guest() {
        let fact = gather(&MemFiles::new().with("/etc/hostname", "x"));
        assert!(fact.kernels.is_empty() && fact.default_candidate().is_none());
        assert_eq!(
            fact.warnings,
            [
                "/boot: not found",
                "no module tree: neither /lib/modules nor /usr/lib/modules exists"
            ]
        );
    }

    #[test]
    fn binary_garbage_does_not_panic() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
        let dir = "/lib/modules/6.1.0";
        let f = MemFiles::new()
            .with("/boot/vmlinuz-6.1.0", &junk)
            .with("/boot/config-6.1.0", &junk)
            .with(&format!("{dir}/modules.dep"), &junk)
            .with(&format!("{dir}/modules.builtin"), &junk)
            .with(&format!("{dir}/pkgbase"), &junk);
        let _ = gather(&f);
    }
}
