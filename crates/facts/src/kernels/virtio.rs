//! Whether a kernel has the virtio drivers OCI's paravirtualized mode needs, and which file
//! says so.
//!
//! Sources, in the order they decide (the first verdict per driver stands):
//! 1. `modules.builtin` of the module tree (one `kernel/…/name.ko` per built-in driver,
//!    written by the kernel build, see modules.builtin in the kernel's kbuild docs);
//! 2. the kernel config: `CONFIG_…=y` is built in;
//! 3. `modules.dep` (modules.dep(5): `path: dependencies`) lists an installed module; when it
//!    is missing (depmod never ran), the conventional paths under `kernel/drivers/`.
//!
//! A driver none of them shows is absent, cited by the most telling source read (the module
//! tree, else the config line `=m`/"is not set", else modules.builtin); with no source at all
//! it is unknown, never absent.

use super::{MAX_CONFIG, MAX_MODULE_LIST, line_no, read_text};
use crate::{Files, Provenance};
use serde::Serialize;
use std::collections::BTreeMap;

/// How a kernel provides one driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DriverStatus {
    /// Compiled into the kernel image.
    Builtin,
    /// A loadable module; `path` is the guest path of the `.ko*` file.
    Module { path: String },
    /// Neither built in nor installed, according to `decided_by`.
    Absent,
    /// Nothing to judge by: no module tree and no config for this kernel.
    Unknown,
}

/// One driver's status and the file (and line) that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Driver {
    pub status: DriverStatus,
    pub decided_by: Option<Provenance>,
}

impl Driver {
    pub fn unknown() -> Driver {
        Driver {
            status: DriverStatus::Unknown,
            decided_by: None,
        }
    }

    /// Built in or installed as a module.
    pub fn present(&self) -> bool {
        matches!(
            self.status,
            DriverStatus::Builtin | DriverStatus::Module { .. }
        )
    }
}

/// The drivers the paravirtualized launch mode needs (boot volume through virtio-scsi or
/// virtio-blk on the virtio PCI transport, virtio-net NIC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Virtio {
    pub virtio_pci: Driver,
    pub virtio_scsi: Driver,
    pub virtio_blk: Driver,
    pub virtio_net: Driver,
}

impl Virtio {
    pub fn unknown() -> Virtio {
        Virtio {
            virtio_pci: Driver::unknown(),
            virtio_scsi: Driver::unknown(),
            virtio_blk: Driver::unknown(),
            virtio_net: Driver::unknown(),
        }
    }

    /// The four drivers with their module names, in a fixed order.
    pub fn iter(&self) -> [(&'static str, &Driver); 4] {
        [
            ("virtio_pci", &self.virtio_pci),
            ("virtio_scsi", &self.virtio_scsi),
            ("virtio_blk", &self.virtio_blk),
            ("virtio_net", &self.virtio_net),
        ]
    }
}

struct Target {
    module: &'static str,
    /// Kconfig symbol: note that virtio_scsi's is SCSI_VIRTIO (drivers/scsi/Kconfig).
    config: &'static str,
    /// Where the module sits in a kernel tree, for trees without modules.dep.
    conventional: &'static str,
}

/// In the order of [`Virtio`]'s fields.
const TARGETS: [Target; N] = [
    Target {
        module: "virtio_pci",
        config: "CONFIG_VIRTIO_PCI",
        conventional: "kernel/drivers/virtio/virtio_pci",
    },
    Target {
        module: "virtio_scsi",
        config: "CONFIG_SCSI_VIRTIO",
        conventional: "kernel/drivers/scsi/virtio_scsi",
    },
    Target {
        module: "virtio_blk",
        config: "CONFIG_VIRTIO_BLK",
        conventional: "kernel/drivers/block/virtio_blk",
    },
    Target {
        module: "virtio_net",
        config: "CONFIG_VIRTIO_NET",
        conventional: "kernel/drivers/net/virtio_net",
    },
    // The other drivers a launch mode or shape needs (launch-modes-and-shapes.md): local NVMe
    // drives (DenseIO), iSCSI boot and the SR-IOV NIC (NATIVE), IDE disk and e1000 NIC
    // (EMULATED). Kconfig symbols from drivers/nvme/host, drivers/scsi, drivers/net/ethernet.
    Target {
        module: "nvme",
        config: "CONFIG_BLK_DEV_NVME",
        conventional: "kernel/drivers/nvme/host/nvme",
    },
    Target {
        module: "iscsi_tcp",
        config: "CONFIG_ISCSI_TCP",
        conventional: "kernel/drivers/scsi/iscsi_tcp",
    },
    Target {
        module: "mlx5_core",
        config: "CONFIG_MLX5_CORE",
        conventional: "kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core",
    },
    Target {
        module: "ata_piix",
        config: "CONFIG_ATA_PIIX",
        conventional: "kernel/drivers/ata/ata_piix",
    },
    Target {
        module: "e1000",
        config: "CONFIG_E1000",
        conventional: "kernel/drivers/net/ethernet/intel/e1000/e1000",
    },
];

/// Drivers evaluated beyond the four virtio ones, by module name, in [`TARGETS`] order.
pub const OTHER_DRIVERS: [&str; 5] = ["nvme", "iscsi_tcp", "mlx5_core", "ata_piix", "e1000"];
const N: usize = 4 + OTHER_DRIVERS.len();

/// Module file suffixes kmod accepts (uncompressed, zstd, xz, gzip).
const MODULE_SUFFIXES: [&str; 4] = [".ko.zst", ".ko.xz", ".ko.gz", ".ko"];

/// The module name of a path in modules.dep/modules.builtin (`kernel/…/virtio_scsi.ko.xz` →
/// `virtio_scsi`), `None` for anything else.
fn module_stem(path: &str) -> Option<&str> {
    let base = path.rsplit('/').next()?;
    MODULE_SUFFIXES.iter().find_map(|s| base.strip_suffix(s))
}

/// kmod treats `-` and `_` in module names as the same character.
fn same_module(a: &str, b: &str) -> bool {
    let norm = |c: char| if c == '-' { '_' } else { c };
    a.len() == b.len() && a.chars().map(norm).eq(b.chars().map(norm))
}

/// Verdicts collected source by source.
#[derive(Default)]
struct Verdicts {
    found: [Option<Driver>; N],
    builtin: Option<String>,
    config: Option<String>,
    /// Per driver, the config line that says `=m` or "is not set".
    config_lines: [Option<Provenance>; N],
    /// modules.dep, or the module directory when it had none.
    tree: Option<Provenance>,
}

impl Verdicts {
    fn decide(&mut self, target: usize, status: DriverStatus, by: Provenance) {
        if let Some(slot @ None) = self.found.get_mut(target) {
            *slot = Some(Driver {
                status,
                decided_by: Some(by),
            });
        }
    }

    /// Targets named by a module path of a modules.builtin or modules.dep line.
    fn targets_of(module_path: &str) -> impl Iterator<Item = usize> + '_ {
        let stem = module_stem(module_path);
        TARGETS
            .iter()
            .enumerate()
            .filter(move |(_, t)| stem.is_some_and(|s| same_module(s, t.module)))
            .map(|(i, _)| i)
    }

    fn scan_builtin(&mut self, path: &str, text: &str) {
        for (i, line) in text.lines().enumerate() {
            for t in Self::targets_of(line.trim()) {
                self.decide(t, DriverStatus::Builtin, Provenance::line(path, line_no(i)));
            }
        }
        self.builtin = Some(path.to_string());
    }

    fn scan_config(&mut self, path: &str, text: &str) {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            for (t, target) in TARGETS.iter().enumerate() {
                let here = || Provenance::line(path, line_no(i));
                let value = line
                    .strip_prefix(target.config)
                    .and_then(|r| r.strip_prefix('='));
                let not_set = line
                    .strip_prefix("# ")
                    .and_then(|r| r.strip_prefix(target.config))
                    == Some(" is not set");
                if value.map(str::trim) == Some("y") {
                    self.decide(t, DriverStatus::Builtin, here());
                } else if (value.is_some() || not_set)
                    && let Some(slot @ None) = self.config_lines.get_mut(t)
                {
                    *slot = Some(here());
                }
            }
        }
        self.config = Some(path.to_string());
    }

    fn scan_dep(&mut self, dir: &str, path: &str, text: &str) {
        for (i, line) in text.lines().enumerate() {
            let Some((module, _deps)) = line.split_once(':') else {
                continue;
            };
            let module = module.trim();
            for t in Self::targets_of(module) {
                // Paths are relative to the module directory; very old depmod wrote them absolute.
                let full = if module.starts_with('/') {
                    module.to_string()
                } else {
                    format!("{dir}/{module}")
                };
                self.decide(
                    t,
                    DriverStatus::Module { path: full },
                    Provenance::line(path, line_no(i)),
                );
            }
        }
        self.tree = Some(Provenance::file(path));
    }

    fn scan_conventional_paths(
        &mut self,
        files: &dyn Files,
        dir: &str,
        warnings: &mut Vec<String>,
    ) {
        for (t, target) in TARGETS.iter().enumerate() {
            let pattern = format!("{dir}/{}.ko*", target.conventional);
            match files.glob(&pattern) {
                Ok(paths) => {
                    if let Some(p) = paths
                        .into_iter()
                        .find(|p| module_stem(p) == Some(target.module))
                    {
                        self.decide(
                            t,
                            DriverStatus::Module { path: p.clone() },
                            Provenance::file(p),
                        );
                    }
                }
                Err(e) => warnings.push(format!("{pattern}: {e}")),
            }
        }
        self.tree = Some(Provenance::file(dir));
    }

    fn finish(self) -> (Virtio, BTreeMap<String, Driver>) {
        let Verdicts {
            found,
            builtin,
            config,
            config_lines,
            tree,
        } = self;
        let mut drivers = found
            .into_iter()
            .zip(config_lines)
            .map(|(found, config_line)| {
                found.unwrap_or_else(|| {
                    let by = tree
                        .clone()
                        .or_else(|| config_line.or_else(|| config.as_deref().map(Provenance::file)))
                        .or_else(|| builtin.as_deref().map(Provenance::file));
                    match by {
                        Some(by) => Driver {
                            status: DriverStatus::Absent,
                            decided_by: Some(by),
                        },
                        None => Driver::unknown(),
                    }
                })
            });
        let mut next = || drivers.next().unwrap_or_else(Driver::unknown);
        let virtio = Virtio {
            virtio_pci: next(),
            virtio_scsi: next(),
            virtio_blk: next(),
            virtio_net: next(),
        };
        let others = OTHER_DRIVERS
            .iter()
            .map(|name| (name.to_string(), next()))
            .collect();
        (virtio, others)
    }
}

/// Evaluate one kernel's drivers (the virtio ones and [`OTHER_DRIVERS`]) from its module tree (if any) and the first readable config among
/// `configs`. Returns the drivers and the config path that was read.
pub(super) fn evaluate(
    files: &dyn Files,
    modules_dir: Option<&str>,
    configs: &[String],
    warnings: &mut Vec<String>,
) -> (Virtio, BTreeMap<String, Driver>, Option<String>) {
    let mut v = Verdicts::default();
    if let Some(dir) = modules_dir {
        let path = format!("{dir}/modules.builtin");
        if let Some(text) = read_text(files, &path, MAX_MODULE_LIST, warnings) {
            v.scan_builtin(&path, &text);
        }
    }
    if let Some((path, text)) = configs
        .iter()
        .find_map(|p| read_text(files, p, MAX_CONFIG, warnings).map(|t| (p, t)))
    {
        v.scan_config(path, &text);
    }
    if let Some(dir) = modules_dir {
        let path = format!("{dir}/modules.dep");
        match read_text(files, &path, MAX_MODULE_LIST, warnings) {
            Some(text) => v.scan_dep(dir, &path, &text),
            None => v.scan_conventional_paths(files, dir, warnings),
        }
    }
    let config = v.config.clone();
    let (virtio, others) = v.finish();
    (virtio, others, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(
            module_stem("kernel/drivers/scsi/virtio_scsi.ko.xz"),
            Some("virtio_scsi")
        );
        assert_eq!(
            module_stem("kernel/drivers/net/virtio_net.ko.zst"),
            Some("virtio_net")
        );
        assert_eq!(module_stem("virtio_blk.ko.gz"), Some("virtio_blk"));
        assert_eq!(
            module_stem("kernel/drivers/virtio/virtio_pci.ko"),
            Some("virtio_pci")
        );
        assert_eq!(module_stem("kernel/drivers/virtio/virtio_pci.ko.bak"), None);
        assert_eq!(module_stem(""), None);
        assert!(same_module("virtio-pci", "virtio_pci"));
        assert!(!same_module("virtio_pcix", "virtio_pci"));
    }

    #[test]
    fn config_lines_for_similar_symbols_do_not_match() {
        let mut v = Verdicts::default();
        v.scan_config(
            "/boot/config-x",
            "CONFIG_VIRTIO_PCI_LEGACY=y\n# CONFIG_VIRTIO_PCI_LIB is not set\nCONFIG_VIRTIO_BLK_SCSI=y\n",
        );
        let (virtio, others) = v.finish();
        for (name, d) in virtio.iter() {
            assert_eq!(d.status, DriverStatus::Absent, "{name}");
            assert_eq!(
                d.decided_by,
                Some(Provenance::file("/boot/config-x")),
                "{name}"
            );
        }
        // CONFIG_ATA_PIIX is not mentioned: absent by the config file, too.
        assert_eq!(others["ata_piix"].status, DriverStatus::Absent);
    }

    #[test]
    fn other_drivers_from_builtin_and_config() {
        let mut v = Verdicts::default();
        v.scan_builtin(
            "/m/modules.builtin",
            "kernel/drivers/nvme/host/nvme.ko
",
        );
        v.scan_config(
            "/boot/config-x",
            "CONFIG_MLX5_CORE=m
CONFIG_E1000=y
",
        );
        v.scan_dep(
            "/m",
            "/m/modules.dep",
            "kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko.xz: kernel/lib/x.ko
",
        );
        let (_, others) = v.finish();
        assert_eq!(others["nvme"].status, DriverStatus::Builtin);
        assert_eq!(others["e1000"].status, DriverStatus::Builtin);
        assert_eq!(
            others["mlx5_core"].status,
            DriverStatus::Module {
                path: "/m/kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko.xz".into()
            }
        );
        assert_eq!(others["iscsi_tcp"].status, DriverStatus::Absent);
    }

    #[test]
    fn first_verdict_stands() {
        let mut v = Verdicts::default();
        v.scan_builtin(
            "/m/modules.builtin",
            "kernel/drivers/virtio/virtio_pci.ko\n",
        );
        v.scan_dep(
            "/m",
            "/m/modules.dep",
            "kernel/drivers/virtio/virtio_pci.ko:\n",
        );
        let (virtio, _) = v.finish();
        assert_eq!(virtio.virtio_pci.status, DriverStatus::Builtin);
        assert_eq!(
            virtio.virtio_scsi.decided_by,
            Some(Provenance::file("/m/modules.dep"))
        );
    }

    #[test]
    fn nothing_read_is_unknown() {
        let (virtio, others) = Verdicts::default().finish();
        assert_eq!(virtio, Virtio::unknown());
        assert_eq!(others.len(), OTHER_DRIVERS.len());
        assert!(others.values().all(|d| d.status == DriverStatus::Unknown));
    }
}
