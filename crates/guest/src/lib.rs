//! The guest: which file system is the root, what its fstab mounts where, and path resolution
//! that follows symlinks *inside the guest*.
//!
//! Rules and fact gatherers only ever see guest paths. An absolute symlink target is resolved
//! from the guest's root (never the host's), `..` stops at the guest root, and a path that
//! crosses a mount point continues on the mounted volume — exactly as the booted system would
//! see it.

mod fstab;
mod resolve;

use std::sync::Arc;

use preflight_fs::{FileSystem, FileType, Metadata, SubvolSelector};

pub use fstab::{DeviceSpec, FstabEntry, parse_device, parse_fstab};
pub use preflight_fs::{DirEntry, FsError};
pub use resolve::MAX_SYMLINK_HOPS;

/// Largest /etc/fstab we read.
const MAX_FSTAB: u64 = 1024 * 1024;

/// How a volume can be named by fstab and the kernel command line.
#[derive(Debug, Clone, Default)]
pub struct VolumeIdentity {
    /// Index of the volume in the report's volume list.
    pub index: usize,
    pub fs_type: Option<String>,
    pub uuid: Option<String>,
    pub label: Option<String>,
    pub part_uuid: Option<String>,
    pub part_label: Option<String>,
    /// Partition number on the disk (1-based), for `/dev/sda2`-style names.
    pub part_number: Option<u32>,
    /// Other device paths the guest may name it by: `/dev/mapper/VG-LV`, `/dev/VG/LV`.
    pub device_names: Vec<String>,
}

/// A volume whose file system we can read.
#[derive(Clone)]
pub struct Readable {
    pub volume: usize,
    pub fs: Arc<dyn FileSystem>,
}

#[derive(Clone)]
pub struct Mount {
    /// Guest path of the mount point ("/" for the root).
    pub point: String,
    pub volume: usize,
    pub fs: Arc<dyn FileSystem>,
}

/// What became of one fstab line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOutcome {
    /// The root line: its volume is the one we chose as root.
    Root {
        volume: usize,
    },
    Mounted {
        volume: usize,
    },
    /// A volume matches but its file system cannot be read (type not supported yet, corrupt).
    Unreadable {
        volume: usize,
        fs_type: Option<String>,
    },
    /// No volume of this image matches the device spec.
    NotFound,
    /// The spec names something we cannot map to a volume yet (LVM, device names).
    Unresolved {
        why: String,
    },
    /// Not a disk volume: swap, tmpfs, proc, network file systems, bind mounts.
    NotADisk,
}

#[derive(Debug, Clone)]
pub struct MountResult {
    pub entry: FstabEntry,
    pub outcome: MountOutcome,
}

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error(
        "no volume holds a Linux root file system (one with /etc/os-release or /usr/lib/os-release and /etc/fstab)"
    )]
    NoRoot,
    #[error("{path}: too many levels of symbolic links (more than {MAX_SYMLINK_HOPS})")]
    SymlinkLoop { path: String },
    #[error("{path}: path too deep")]
    TooDeep { path: String },
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl GuestError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, GuestError::Fs(e) if e.is_not_found())
    }
}

/// What the kernel command line of the default boot entry says of the root file system.
#[derive(Debug, Clone, Default)]
pub struct RootHint {
    /// `root=` as written (`UUID=…`, `/dev/mapper/ocivolume-root`, `LABEL=…`, `/dev/sda2`).
    pub root: Option<String>,
    /// `rootflags=subvol=…` / `subvolid=…`.
    pub subvolume: Option<SubvolSelector>,
}

/// The assembled guest.
pub struct Guest {
    /// Sorted by mount point, longest last, so lookups scan from the end.
    mounts: Vec<Mount>,
    pub root_volume: usize,
    pub fstab: Vec<MountResult>,
    /// Things the report should say about the assembly (other root candidates, …).
    pub notes: Vec<String>,
}

impl Guest {
    /// A guest made of one file system mounted at `/` (tests, and images without fstab).
    pub fn single(volume: usize, fs: Arc<dyn FileSystem>) -> Guest {
        Guest {
            mounts: vec![Mount {
                point: "/".into(),
                volume,
                fs,
            }],
            root_volume: volume,
            fstab: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Pick the root among the readable volumes and mount the others as its fstab says.
    pub fn assemble(
        readable: &[Readable],
        identities: &[VolumeIdentity],
    ) -> Result<Guest, GuestError> {
        Guest::assemble_with(readable, identities, &RootHint::default())
    }

    /// [`Guest::assemble`], with what the boot loader's kernel command line says of the root
    /// (`root=`, `rootflags=subvol=`): the kernel mounts that, whatever looks most like a root.
    pub fn assemble_with(
        readable: &[Readable],
        identities: &[VolumeIdentity],
        hint: &RootHint,
    ) -> Result<Guest, GuestError> {
        let mut best: Option<(u8, &Readable)> = None;
        let mut candidates = Vec::new();
        for r in readable {
            let alone = Guest::single(r.volume, Arc::clone(&r.fs));
            let exists = |p: &str| alone.lstat(p).is_ok();
            let os = exists("/etc/os-release") || exists("/usr/lib/os-release");
            let fstab = exists("/etc/fstab");
            let score = u8::from(os) + 2 * u8::from(fstab);
            if score >= 2 || os {
                candidates.push(r.volume);
            }
            if score > 0 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, r));
            }
        }
        let mut hint_notes = Vec::new();
        if let Some(spec) = &hint.root {
            match find_volume(parse_device(spec), identities) {
                Lookup::Found(v) => match readable.iter().find(|r| r.volume == v.index) {
                    Some(r) => {
                        if best.is_some_and(|(_, b)| b.volume != r.volume) {
                            hint_notes.push(format!(
                                "the kernel command line's root={spec} is volume {}, which is used as the root",
                                r.volume
                            ));
                        }
                        best = Some((u8::MAX, r));
                    }
                    None => hint_notes.push(format!(
                        "the kernel command line's root={spec} is volume {}, which cannot be read",
                        v.index
                    )),
                },
                Lookup::NotFound => hint_notes.push(format!(
                    "the kernel command line's root={spec} is on no volume of this image"
                )),
                Lookup::NotADisk | Lookup::Unresolved(_) => {}
            }
        }
        let Some((_, root)) = best else {
            return Err(GuestError::NoRoot);
        };
        let mut root_fs = Arc::clone(&root.fs);
        if let Some(sel) = &hint.subvolume {
            match root.fs.subvolume(sel) {
                Some(Ok(fs)) => root_fs = fs,
                Some(Err(e)) => hint_notes.push(format!(
                    "the kernel command line's rootflags name subvolume {sel:?}, which cannot be opened: {e}"
                )),
                None => {}
            }
        }
        let mut guest = Guest::single(root.volume, root_fs);
        guest.notes.extend(hint_notes);
        if candidates.len() > 1 {
            guest.notes.push(format!(
                "several volumes look like a Linux root ({}); volume {} was chosen",
                candidates
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                root.volume
            ));
        }
        let text = match guest.read_file("/etc/fstab", MAX_FSTAB) {
            Ok(Some(t)) => t,
            Ok(None) => {
                guest.notes.push(
                    "the root file system has no /etc/fstab; only the root is mounted".into(),
                );
                return Ok(guest);
            }
            Err(e) => {
                guest
                    .notes
                    .push(format!("/etc/fstab could not be read: {e}"));
                return Ok(guest);
            }
        };
        let entries = parse_fstab(&String::from_utf8_lossy(&text));
        let mut results = Vec::new();
        let mut mounts = Vec::new();
        for entry in entries {
            let mut outcome = outcome_for(&entry, root.volume, readable, identities);
            let point = normalise_point(&entry.mount_point);
            // Btrfs: `subvol=`/`subvolid=` mounts another subvolume of a volume, the root's
            // own volume included.
            if let MountOutcome::Root { volume } | MountOutcome::Mounted { volume } = outcome
                && let Some(selector) = subvolume_option(&entry)
                && let Some(r) = readable.iter().find(|r| r.volume == volume)
            {
                match r.fs.subvolume(&selector) {
                    // The kernel mounts the root with rootflags; fstab's options for "/" only
                    // apply when no rootflags named a subvolume.
                    Some(Ok(fs)) if point == "/" && hint.subvolume.is_none() => {
                        guest.mounts[0].fs = fs;
                    }
                    Some(Ok(_)) if point == "/" => {}
                    Some(Ok(fs)) => {
                        outcome = MountOutcome::Mounted { volume };
                        mounts.push(Mount {
                            point: point.clone(),
                            volume,
                            fs,
                        });
                        results.push(MountResult { entry, outcome });
                        continue;
                    }
                    Some(Err(e)) => {
                        outcome = MountOutcome::Unresolved {
                            why: format!("subvolume {selector:?} cannot be opened: {e}"),
                        };
                    }
                    None => {}
                }
            }
            if let MountOutcome::Mounted { volume } = outcome
                && let Some(r) = readable.iter().find(|r| r.volume == volume)
            {
                mounts.push(Mount {
                    point,
                    volume,
                    fs: Arc::clone(&r.fs),
                });
            }
            results.push(MountResult { entry, outcome });
        }
        guest.mounts.extend(mounts);
        guest.mounts.sort_by_key(|m| m.point.len());
        guest.fstab = results;
        Ok(guest)
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// Metadata of `path`, following symlinks.
    pub fn stat(&self, path: &str) -> Result<Metadata, GuestError> {
        let r = self.resolve(path, true)?;
        Ok(r.mount.fs.lstat(&r.fs_path)?)
    }

    /// Metadata of `path` itself.
    pub fn lstat(&self, path: &str) -> Result<Metadata, GuestError> {
        let r = self.resolve(path, false)?;
        Ok(r.mount.fs.lstat(&r.fs_path)?)
    }

    /// Where `path` really is: its guest path with every symlink resolved.
    pub fn canonicalize(&self, path: &str) -> Result<String, GuestError> {
        Ok(self.resolve(path, true)?.guest_path)
    }

    /// The whole file (following symlinks); `Ok(None)` if it does not exist.
    pub fn read_file(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, GuestError> {
        match self.resolve(path, true) {
            Ok(r) => Ok(Some(r.mount.fs.read_file(&r.fs_path, max)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The first `n` bytes of a file (following symlinks); `Ok(None)` if it does not exist.
    pub fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, GuestError> {
        let r = match self.resolve(path, true) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = r.mount.fs.lstat(&r.fs_path)?;
        if meta.file_type != FileType::Regular {
            return Err(FsError::NotAFile(path.to_string()).into());
        }
        let mut buf = vec![0u8; n.min(meta.size as usize)];
        let got = r.mount.fs.read_at(&r.fs_path, 0, &mut buf)?;
        buf.truncate(got);
        Ok(Some(buf))
    }

    /// A reader over a regular file (following symlinks), for files too large to hold whole
    /// (an initramfs of 100 MB); `Ok(None)` if it does not exist. Each read is one
    /// `read_at` of the file system.
    pub fn open(&self, path: &str) -> Result<Option<FileReader>, GuestError> {
        let r = match self.resolve(path, true) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = r.mount.fs.lstat(&r.fs_path)?;
        if meta.file_type != FileType::Regular {
            return Err(FsError::NotAFile(path.to_string()).into());
        }
        Ok(Some(FileReader {
            fs: Arc::clone(&r.mount.fs),
            path: r.fs_path,
            pos: 0,
            size: meta.size,
        }))
    }

    /// Directory entries (following symlinks to the directory); `Ok(None)` if there is none.
    pub fn read_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, GuestError> {
        match self.resolve(path, true) {
            Ok(r) => match r.mount.fs.read_dir(&r.fs_path) {
                Ok(entries) => Ok(Some(entries)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e.into()),
            },
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The target of the symlink at `path`; `Ok(None)` if it is not a symlink or missing.
    pub fn read_link(&self, path: &str) -> Result<Option<String>, GuestError> {
        let r = match self.resolve(path, false) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        match r.mount.fs.lstat(&r.fs_path)?.file_type {
            FileType::Symlink => Ok(Some(r.mount.fs.read_link(&r.fs_path)?)),
            _ => Ok(None),
        }
    }
}

fn normalise_point(p: &str) -> String {
    let comps: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", comps.join("/"))
}

const NON_DISK_TYPES: &[&str] = &[
    "swap",
    "tmpfs",
    "proc",
    "sysfs",
    "devpts",
    "devtmpfs",
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "none",
    "bind",
    "rbind",
    "efivarfs",
    "securityfs",
    "debugfs",
    "cgroup",
    "cgroup2",
    "mqueue",
    "hugetlbfs",
    "fuse",
    "sshfs",
    "9p",
    "virtiofs",
    "overlay",
    "autofs",
    "binfmt_misc",
    "ramfs",
];

fn outcome_for(
    entry: &FstabEntry,
    root: usize,
    readable: &[Readable],
    ids: &[VolumeIdentity],
) -> MountOutcome {
    let point = normalise_point(&entry.mount_point);
    let fstype = entry.fs_type.to_ascii_lowercase();
    if NON_DISK_TYPES.contains(&fstype.as_str())
        || entry.options.iter().any(|o| o == "bind" || o == "rbind")
        || !entry.mount_point.starts_with('/')
    {
        return MountOutcome::NotADisk;
    }
    let volume = match find_volume(entry.device(), ids) {
        Lookup::Found(v) => Some(v),
        Lookup::NotFound => None,
        Lookup::NotADisk => return MountOutcome::NotADisk,
        Lookup::Unresolved(why) => return MountOutcome::Unresolved { why },
    };
    let Some(v) = volume else {
        return MountOutcome::NotFound;
    };
    if point == "/" {
        return MountOutcome::Root { volume: v.index };
    }
    if v.index == root {
        // A second mount of the root volume (a subvolume, later): nothing new to read.
        return MountOutcome::Root { volume: v.index };
    }
    if readable.iter().any(|r| r.volume == v.index) {
        MountOutcome::Mounted { volume: v.index }
    } else {
        MountOutcome::Unreadable {
            volume: v.index,
            fs_type: v.fs_type.clone(),
        }
    }
}

/// The volume (report index) a device name means (`UUID=…`, `LABEL=…`, `/dev/mapper/VG-LV`,
/// `/dev/sda2`, …); `None` when no volume of the image has it or it names no disk.
pub fn volume_for(spec: &str, ids: &[VolumeIdentity]) -> Option<usize> {
    match find_volume(parse_device(spec), ids) {
        Lookup::Found(v) => Some(v.index),
        _ => None,
    }
}

/// Which volume a device name (fstab's first field, the kernel's `root=`) means.
enum Lookup<'a> {
    Found(&'a VolumeIdentity),
    NotFound,
    NotADisk,
    Unresolved(String),
}

fn find_volume(spec: DeviceSpec, ids: &[VolumeIdentity]) -> Lookup<'_> {
    let found = match spec {
        DeviceSpec::Uuid(u) => ids.iter().find(|v| eq_ci(&v.uuid, &u)),
        DeviceSpec::Label(l) => ids.iter().find(|v| v.label.as_deref() == Some(l.as_str())),
        DeviceSpec::PartUuid(u) => ids.iter().find(|v| eq_ci(&v.part_uuid, &u)),
        DeviceSpec::PartLabel(l) => ids
            .iter()
            .find(|v| v.part_label.as_deref() == Some(l.as_str())),
        DeviceSpec::DiskPartition { number, .. } => {
            ids.iter().find(|v| v.part_number == Some(number))
        }
        DeviceSpec::Other(s) if s.contains(':') => return Lookup::NotADisk,
        DeviceSpec::Other(s) if ids.iter().any(|v| v.device_names.contains(&s)) => {
            ids.iter().find(|v| v.device_names.contains(&s))
        }
        DeviceSpec::Other(s) if is_device_mapper(&s) => None,
        DeviceSpec::Other(s) => {
            return Lookup::Unresolved(format!(
                "{s} cannot be mapped to a volume of this image yet"
            ));
        }
        DeviceSpec::Pseudo => return Lookup::NotADisk,
    };
    found.map_or(Lookup::NotFound, Lookup::Found)
}

/// `subvol=`/`subvolid=` among an fstab entry's options.
fn subvolume_option(entry: &FstabEntry) -> Option<SubvolSelector> {
    subvolume_in(entry.options.iter().map(String::as_str))
}

/// The subvolume a list of Btrfs mount options selects (fstab's fourth field, the kernel's
/// `rootflags=` split at commas): `subvolid=N`, which wins as in the kernel, or `subvol=PATH`.
pub fn subvolume_in<'a>(options: impl Iterator<Item = &'a str> + Clone) -> Option<SubvolSelector> {
    let value = |key: &str| {
        options
            .clone()
            .find_map(|o| o.strip_prefix(key).map(str::to_string))
    };
    if let Some(id) = value("subvolid=").and_then(|v| v.parse().ok()) {
        return Some(SubvolSelector::Id(id));
    }
    value("subvol=").map(SubvolSelector::Path)
}

/// `/dev/mapper/…` or `/dev/VG/LV`: a name LVM (or device-mapper) gives; when no volume of
/// the image carries it, the volume is not in the image.
fn is_device_mapper(s: &str) -> bool {
    s.starts_with("/dev/mapper/")
        || s.strip_prefix("/dev/")
            .is_some_and(|rest| rest.split('/').count() == 2 && !rest.starts_with("disk/"))
}

fn eq_ci(a: &Option<String>, b: &str) -> bool {
    a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b))
}

/// A regular file of the guest read front to back ([`Guest::open`]).
pub struct FileReader {
    fs: Arc<dyn FileSystem>,
    path: String,
    pos: u64,
    size: u64,
}

impl FileReader {
    /// The file's size from its inode.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl std::io::Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min((self.size - self.pos).min(usize::MAX as u64) as usize);
        let n = self
            .fs
            .read_at(&self.path, self.pos, &mut buf[..want])
            .map_err(std::io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use preflight_fs::MemFs;

    use super::*;

    fn lv(index: usize, vg: &str, lv: &str) -> VolumeIdentity {
        VolumeIdentity {
            index,
            fs_type: Some("ext4".into()),
            device_names: vec![
                format!(
                    "/dev/mapper/{}-{}",
                    vg.replace('-', "--"),
                    lv.replace('-', "--")
                ),
                format!("/dev/{vg}/{lv}"),
            ],
            ..VolumeIdentity::default()
        }
    }

    /// Oracle Linux's layout: root and a data LV named by device-mapper paths in fstab.
    #[test]
    fn fstab_device_mapper_and_vg_lv_names_find_logical_volumes() {
        let root = MemFs::new()
            .file("/etc/os-release", "ID=ol\nVERSION_ID=9.4\n")
            .file(
                "/etc/fstab",
                "/dev/mapper/ocivolume-root /         xfs defaults 0 0\n\
                 /dev/ocivolume/oled        /var/oled xfs defaults 0 0\n\
                 /dev/mapper/my--vg-data    /data     xfs defaults 0 0\n\
                 /dev/mapper/gone-lv        /gone     xfs defaults 0 0\n",
            )
            .dir("/var/oled")
            .dir("/data");
        let oled = MemFs::new().file("/marker", "oled");
        let data = MemFs::new().file("/marker", "data");
        let readable = [
            Readable {
                volume: 0,
                fs: Arc::new(root),
            },
            Readable {
                volume: 1,
                fs: Arc::new(oled),
            },
            Readable {
                volume: 2,
                fs: Arc::new(data),
            },
        ];
        let ids = [
            lv(0, "ocivolume", "root"),
            lv(1, "ocivolume", "oled"),
            lv(2, "my-vg", "data"),
        ];
        let guest = Guest::assemble(&readable, &ids).unwrap();
        let outcomes: Vec<_> = guest.fstab.iter().map(|m| m.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                MountOutcome::Root { volume: 0 },
                MountOutcome::Mounted { volume: 1 },
                MountOutcome::Mounted { volume: 2 },
                MountOutcome::NotFound,
            ]
        );
        assert_eq!(
            guest.read_file("/var/oled/marker", 100).unwrap(),
            Some(b"oled".to_vec())
        );
        assert_eq!(
            guest.read_file("/data/marker", 100).unwrap(),
            Some(b"data".to_vec())
        );
    }

    /// A file system with named subvolumes, standing in for Btrfs.
    struct WithSubvolumes {
        top: MemFs,
        subs: Vec<(String, Arc<dyn FileSystem>)>,
    }

    impl FileSystem for WithSubvolumes {
        fn kind(&self) -> &'static str {
            "btrfs"
        }
        fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
            self.top.lstat(path)
        }
        fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
            self.top.read_dir(path)
        }
        fn read_link(&self, path: &str) -> Result<String, FsError> {
            self.top.read_link(path)
        }
        fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
            self.top.read_at(path, offset, buf)
        }
        fn subvolume(
            &self,
            selector: &SubvolSelector,
        ) -> Option<Result<Arc<dyn FileSystem>, FsError>> {
            let SubvolSelector::Path(p) = selector else {
                return Some(Err(FsError::NotFound(format!("{selector:?}"))));
            };
            Some(
                self.subs
                    .iter()
                    .find(|(n, _)| n == p)
                    .map(|(_, fs)| Arc::clone(fs))
                    .ok_or_else(|| FsError::NotFound(p.clone())),
            )
        }
    }

    fn os(name: &str) -> MemFs {
        MemFs::new()
            .file("/etc/os-release", format!("ID={name}\n"))
            .file("/etc/fstab", "LABEL=a / ext4 defaults 0 0\n")
    }

    fn labelled(index: usize, label: &str) -> VolumeIdentity {
        VolumeIdentity {
            index,
            label: Some(label.into()),
            ..VolumeIdentity::default()
        }
    }

    /// Two volumes look like a root; the kernel's `root=` decides, and says so.
    #[test]
    fn the_kernel_command_line_root_wins() {
        let readable = [
            Readable {
                volume: 0,
                fs: Arc::new(os("first")),
            },
            Readable {
                volume: 1,
                fs: Arc::new(os("second")),
            },
        ];
        let ids = [labelled(0, "a"), labelled(1, "b")];
        let plain = Guest::assemble(&readable, &ids).unwrap();
        assert_eq!(plain.root_volume, 0);
        let hint = RootHint {
            root: Some("LABEL=b".into()),
            subvolume: None,
        };
        let g = Guest::assemble_with(&readable, &ids, &hint).unwrap();
        assert_eq!(g.root_volume, 1);
        assert!(
            g.notes.iter().any(|n| n.contains("root=LABEL=b")),
            "{:?}",
            g.notes
        );
        let missing = RootHint {
            root: Some("UUID=0000".into()),
            subvolume: None,
        };
        let g = Guest::assemble_with(&readable, &ids, &missing).unwrap();
        assert_eq!(g.root_volume, 0);
        assert!(
            g.notes.iter().any(|n| n.contains("on no volume")),
            "{:?}",
            g.notes
        );
    }

    /// `rootflags=subvol=…` picks the subvolume the kernel mounts, over fstab's "/" options.
    #[test]
    fn rootflags_subvol_picks_the_root_subvolume() {
        let snapshot: Arc<dyn FileSystem> =
            Arc::new(os("snapshot").file("/etc/fstab", "LABEL=a / btrfs subvol=@ 0 0\n"));
        let current: Arc<dyn FileSystem> = Arc::new(os("current"));
        let fs = WithSubvolumes {
            top: os("top").file("/etc/fstab", "LABEL=a / btrfs subvol=@ 0 0\n"),
            subs: vec![("@".into(), current), ("@snap".into(), snapshot)],
        };
        let readable = [Readable {
            volume: 0,
            fs: Arc::new(fs),
        }];
        let ids = [labelled(0, "a")];
        let id = |g: &Guest| g.read_file("/etc/os-release", 100).unwrap().unwrap();
        // Without rootflags, fstab's subvol=@ is the root.
        let g = Guest::assemble(&readable, &ids).unwrap();
        assert_eq!(id(&g), b"ID=current\n");
        // rootflags=subvol=@snap (booting a snapshot) wins over fstab.
        let hint = RootHint {
            root: Some("LABEL=a".into()),
            subvolume: Some(SubvolSelector::Path("@snap".into())),
        };
        let g = Guest::assemble_with(&readable, &ids, &hint).unwrap();
        assert_eq!(id(&g), b"ID=snapshot\n");
    }
}
