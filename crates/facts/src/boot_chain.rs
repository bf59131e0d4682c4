//! The Linux boot chain a fresh instance follows after the boot loader: the default entry's
//! kernel file, what that file says it is (architecture, release), the installed kernel it
//! belongs to (module tree, config) and the initramfs the entry loads with the modules and
//! binaries inside it (launch-modes-and-shapes.md, "Decision" steps 1–4; IMP-INITRAMFS).
//!
//! Without a usable default entry the newest installed kernel stands in, and the chain says
//! so: every decision made from it is a guess the report must show as one.

use crate::boot::BootConfig;
use crate::initramfs::{self, Options};
use crate::kernel_image::{self, KernelImage};
use crate::kernels::{Kernel, KernelsFact};
use crate::{Files, Provenance};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The largest initramfs read (distro ones are 20–150 MB; the reader streams it).
pub const MAX_INITRAMFS: u64 = 1 << 30;

/// How the kernel was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelChoice {
    /// The boot loader's default entry names it.
    DefaultEntry {
        /// The configuration file that decided.
        config: String,
        title: String,
        /// Where the entry's kernel line is (`file:line`), or where the entry is.
        at: String,
    },
    /// No default entry could be read: the newest installed kernel is assumed.
    NewestInstalled { why: String },
}

/// The initramfs archive of the chosen entry, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitrdFact {
    /// Guest path.
    pub path: String,
    pub size: u64,
    /// Compression of each segment, in order ("none", "gzip", …).
    pub segments: Vec<String>,
    pub entries: usize,
    /// Kernel modules by modprobe name → path in the archive.
    pub modules: BTreeMap<String, String>,
    /// `<v>` of the archive's `lib/modules/<v>` trees.
    pub kernel_versions: Vec<String>,
    /// Executables in its bin/sbin directories.
    pub binaries: BTreeSet<String>,
    /// Why reading stopped early (what was listed before still counts), or why the file could
    /// not be read at all (then nothing was listed).
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

impl InitrdFact {
    /// Nothing of the archive could be listed.
    pub fn unreadable(&self) -> bool {
        self.error.is_some() && self.entries == 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BootChain {
    pub choice: KernelChoice,
    /// The kernel file's guest path, when it exists.
    pub kernel_path: Option<String>,
    /// The entry names a kernel no candidate path holds: the paths tried.
    pub kernel_missing: Vec<String>,
    /// What the kernel file says about itself, or why it could not be read.
    pub image: Option<Result<KernelImage, String>>,
    /// The release (`uname -r`): from the image, else from the file name.
    pub release: Option<String>,
    /// Where the release came from.
    pub release_from: Option<String>,
    /// The installed kernel (module tree, config, drivers) of that release.
    pub installed: Option<Kernel>,
    /// The entry loads no initramfs (the kernel must build in what mounts the root).
    pub no_initrd: bool,
    /// Initramfs files the entry names that are not in the image: the paths tried.
    pub initrd_missing: Vec<Vec<String>>,
    pub initrds: Vec<InitrdFact>,
}

impl BootChain {
    /// Where a driver is reachable when the kernel mounts the root: built in, in one of the
    /// initramfs archives, only installed on the root file system, absent or unknown.
    pub fn reach(&self, driver: &str) -> Reach {
        let want = initramfs::module_name(driver);
        let kernel = self.installed.as_ref().and_then(|k| k.driver(driver));
        if let Some(d) = kernel
            && d.status == crate::kernels::DriverStatus::Builtin
        {
            return Reach::Builtin(d.decided_by.clone());
        }
        for i in &self.initrds {
            if let Some(p) = i.modules.get(&want) {
                return Reach::Initramfs {
                    archive: i.path.clone(),
                    path: p.clone(),
                };
            }
        }
        match kernel.map(|d| &d.status) {
            Some(crate::kernels::DriverStatus::Module { path }) => Reach::Installed(path.clone()),
            Some(crate::kernels::DriverStatus::Absent) => {
                Reach::Absent(kernel.and_then(|d| d.decided_by.clone()))
            }
            _ => Reach::Unknown,
        }
    }

    /// True when at least one initramfs was listed (fully or partly).
    pub fn initrd_listed(&self) -> bool {
        self.initrds.iter().any(|i| !i.unreadable())
    }
}

/// Where a driver is when the root is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Builtin(Option<Provenance>),
    Initramfs {
        archive: String,
        path: String,
    },
    /// A module on the root file system only: loadable after the root is mounted.
    Installed(String),
    Absent(Option<Provenance>),
    Unknown,
}

/// Follow the chain from the boot configuration (or, without one, the newest kernel).
pub fn gather(
    files: &dyn Files,
    boot: Result<&BootConfig, &str>,
    kernels: &KernelsFact,
) -> BootChain {
    let entry = boot.ok().and_then(|c| c.default_entry().map(|e| (c, e)));
    let mut chain = BootChain {
        choice: KernelChoice::NewestInstalled { why: String::new() },
        kernel_path: None,
        kernel_missing: Vec::new(),
        image: None,
        release: None,
        release_from: None,
        installed: None,
        no_initrd: false,
        initrd_missing: Vec::new(),
        initrds: Vec::new(),
    };
    let initrd_paths: Vec<String>;
    match entry {
        Some((config, e)) if e.kernel.is_some() => {
            chain.choice = KernelChoice::DefaultEntry {
                config: config.config_path.clone(),
                title: e.title_path(),
                at: e
                    .kernel_line
                    .clone()
                    .unwrap_or_else(|| e.source.to_string()),
            };
            let candidates = e.kernel_candidates();
            chain.kernel_path = candidates
                .iter()
                .find(|p| matches!(files.head(p, 0), Ok(Some(_))))
                .cloned();
            if chain.kernel_path.is_none() {
                chain.kernel_missing = candidates;
            }
            let mut paths = Vec::new();
            for c in e.initrd_candidates() {
                match c.iter().find(|p| matches!(files.head(p, 0), Ok(Some(_)))) {
                    Some(p) => paths.push(p.clone()),
                    None => chain.initrd_missing.push(c),
                }
            }
            chain.no_initrd = e.initrds.is_empty();
            initrd_paths = paths;
        }
        other => {
            let why = match (boot, other) {
                (Err(why), _) => why.to_string(),
                (Ok(c), None) => format!("{} has no default boot entry", c.config_path),
                (Ok(c), Some(_)) => format!(
                    "the default entry of {} boots no Linux kernel",
                    c.config_path
                ),
            };
            chain.choice = KernelChoice::NewestInstalled { why };
            let k = kernels.default_candidate();
            chain.kernel_path = k.and_then(|k| k.image.clone());
            initrd_paths = k.and_then(|k| k.initramfs.clone()).into_iter().collect();
            if let Some(k) = k {
                chain.release = Some(k.version.clone());
                chain.release_from = Some(
                    k.modules_dir
                        .clone()
                        .or_else(|| k.image.clone())
                        .unwrap_or_default(),
                );
            }
        }
    }

    if let Some(path) = &chain.kernel_path {
        chain.image = Some(read_kernel(files, path, kernels));
        if let Some(Ok(img)) = &chain.image
            && let Some(v) = &img.version
        {
            chain.release = Some(v.clone());
            chain.release_from = Some(if img.banner.is_some() {
                format!("{path} ({})", img.format.describe())
            } else {
                format!(
                    "the name of {path} and its module tree (the image's header gives no release)"
                )
            });
        }
    }
    chain.installed = installed_kernel(&chain, kernels);
    if chain.release.is_none()
        && let Some(k) = &chain.installed
    {
        chain.release = Some(k.version.clone());
        chain.release_from = Some(format!(
            "the file name of {}",
            chain.kernel_path.as_deref().unwrap_or("?")
        ));
    }
    chain.initrds = initrd_paths.iter().map(|p| read_initrd(files, p)).collect();
    chain
}

/// What the kernel file says. An uncompressed arm64 `Image` holds its release only in a banner
/// somewhere in 25–40 MiB: when the file name already names an installed kernel's module
/// tree, only its header is read and the release comes from the tree.
fn read_kernel(
    files: &dyn Files,
    path: &str,
    kernels: &KernelsFact,
) -> Result<KernelImage, String> {
    if let Some(k) = named_kernel(kernels, path).filter(|k| k.modules_dir.is_some())
        && let Ok(Some(head)) = files.head(path, kernel_image::HEAD_LEN)
        && let Some(header) = kernel_image::read_plain_header(&head)
    {
        let mut img = header.map_err(|e| e.to_string())?;
        img.version = Some(k.version.clone());
        img.notes.push(format!(
            "release from the file name's module tree {}; the image was not searched for its banner",
            k.modules_dir.as_deref().unwrap_or_default()
        ));
        return Ok(img);
    }
    kernel_image::read_file(files, path)
        .map_err(|e| e.to_string())
        .and_then(|i| i.ok_or_else(|| "the file is missing".to_string()))
}

/// The installed kernel the chain boots: same release, else same image path, else one whose
/// version the file name ends with (`vmlinuz-<v>`).
fn installed_kernel(chain: &BootChain, kernels: &KernelsFact) -> Option<Kernel> {
    if let Some(r) = &chain.release
        && let Some(k) = kernels.kernel(r)
    {
        return Some(k.clone());
    }
    let path = chain.kernel_path.as_deref()?;
    kernels
        .kernels
        .iter()
        .find(|k| k.image.as_deref() == Some(path))
        .or_else(|| named_kernel(kernels, path))
        .cloned()
}

/// The installed kernel whose version the file name ends with (`vmlinuz-<v>`), the longest
/// such version when several do (`6.1.0-18-amd64` over `18-amd64`).
fn named_kernel<'k>(kernels: &'k KernelsFact, path: &str) -> Option<&'k Kernel> {
    let name = path.rsplit('/').next().unwrap_or(path);
    kernels
        .kernels
        .iter()
        .filter(|k| name.ends_with(&format!("-{}", k.version)))
        .max_by_key(|k| k.version.len())
}

/// List one initramfs, streamed from the guest.
fn read_initrd(files: &dyn Files, path: &str) -> InitrdFact {
    let mut fact = InitrdFact {
        path: path.to_string(),
        size: 0,
        segments: Vec::new(),
        entries: 0,
        modules: BTreeMap::new(),
        kernel_versions: Vec::new(),
        binaries: BTreeSet::new(),
        error: None,
        warnings: Vec::new(),
    };
    let (size, mut reader) = match files.open(path, MAX_INITRAMFS) {
        Ok(Some(r)) => r,
        Ok(None) => {
            fact.error = Some("the file is missing".into());
            return fact;
        }
        Err(e) => {
            fact.error = Some(e.to_string());
            return fact;
        }
    };
    fact.size = size;
    let opts = Options {
        capture: Vec::new(),
        ..Options::default()
    };
    let (archive, err) = initramfs::read_partial(&mut reader, &opts);
    fact.error = err.map(|e| e.to_string());
    fact.segments = archive
        .segments
        .iter()
        .map(|s| s.compression.name().to_string())
        .collect();
    fact.entries = archive.entries.len();
    for m in archive.modules() {
        fact.modules.entry(m.name).or_insert(m.path);
    }
    fact.kernel_versions = archive.kernel_versions();
    fact.binaries = archive.binaries().into_iter().collect();
    fact.warnings = archive.warnings;
    fact
}
