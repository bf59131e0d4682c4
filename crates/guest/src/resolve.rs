//! Component-by-component path resolution across the guest's mounts.

use crate::{Guest, GuestError, Mount};
use preflight_fs::{FileType, FsError};

/// Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we.
pub const MAX_SYMLINK_HOPS: u32 = 40;
/// Components processed in one lookup, symlink expansions included.
const MAX_COMPONENTS: usize = 4096;

pub(crate) struct Resolved<'g> {
    pub mount: &'g Mount,
    pub fs_path: String,
    pub guest_path: String,
}

impl Guest {
    fn mount_for(&self, guest_path: &str) -> (&Mount, String) {
        for m in self.mounts.iter().rev() {
            if m.point == "/" {
                return (m, guest_path.to_string());
            }
            if guest_path == m.point {
                return (m, "/".into());
            }
            if let Some(rest) = guest_path.strip_prefix(m.point.as_str())
                && rest.starts_with('/')
            {
                return (m, rest.to_string());
            }
        }
        // The root mount is always present and matches everything.
        (&self.mounts[0], guest_path.to_string())
    }

    /// Resolve `path` (absolute, or taken as absolute) to a file system and a path on it.
    /// With `follow_last`, a symlink in the last component is followed too.
    pub(crate) fn resolve(
        &self,
        path: &str,
        follow_last: bool,
    ) -> Result<Resolved<'_>, GuestError> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0u32;
        let mut steps = 0usize;
        while let Some(comp) = todo.pop() {
            steps += 1;
            if steps > MAX_COMPONENTS {
                return Err(GuestError::TooDeep { path: path.into() });
            }
            match comp.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(comp);
            let is_last = todo.is_empty();
            let guest_path = format!("/{}", cur.join("/"));
            let (mount, fs_path) = self.mount_for(&guest_path);
            let meta = match mount.fs.lstat(&fs_path) {
                Ok(m) => m,
                Err(e) if e.is_not_found() => return Err(FsError::NotFound(guest_path).into()),
                Err(e) => return Err(e.into()),
            };
            match meta.file_type {
                FileType::Symlink if !is_last || follow_last => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(GuestError::SymlinkLoop { path: path.into() });
                    }
                    let target = mount.fs.read_link(&fs_path)?;
                    cur.pop();
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    todo.extend(
                        target
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .rev()
                            .map(String::from),
                    );
                }
                FileType::Directory | FileType::Symlink => {}
                _ if !is_last => return Err(FsError::NotADirectory(guest_path).into()),
                _ => {}
            }
        }
        let guest_path = format!("/{}", cur.join("/"));
        let (mount, fs_path) = self.mount_for(&guest_path);
        Ok(Resolved {
            mount,
            fs_path,
            guest_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use preflight_fs::MemFs;

    use crate::{Guest, GuestError, Mount};

    fn guest() -> Guest {
        let root = MemFs::new()
            .file("/usr/lib/os-release", "ID=debian\n")
            .symlink("/etc/os-release", "../usr/lib/os-release")
            .symlink("/lib", "usr/lib")
            .symlink("/etc/abs", "/usr/lib/os-release")
            .symlink("/etc/escape", "../../../../../../etc/passwd")
            .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .symlink("/loop/a", "b")
            .symlink("/loop/b", "a")
            .symlink("/etc/into-boot", "/boot/grub/grub.cfg")
            .dir("/boot");
        let boot = MemFs::new()
            .file("/grub/grub.cfg", "set default=0\n")
            .symlink("/vmlinuz", "/boot/vmlinuz-6.1");
        let boot = boot.file("/vmlinuz-6.1", "kernel");
        let mut g = Guest::single(0, Arc::new(root));
        g.mounts.push(Mount {
            point: "/boot".into(),
            volume: 1,
            fs: Arc::new(boot),
        });
        g
    }

    #[test]
    fn relative_and_absolute_links_stay_inside_the_guest() {
        let g = guest();
        assert_eq!(
            g.read_file("/etc/os-release", 100).unwrap().unwrap(),
            b"ID=debian\n"
        );
        assert_eq!(
            g.read_file("/etc/abs", 100).unwrap().unwrap(),
            b"ID=debian\n"
        );
        assert_eq!(
            g.read_file("/lib/os-release", 100).unwrap().unwrap(),
            b"ID=debian\n"
        );
        // `..` stops at the guest root, like the kernel does at `/`.
        assert_eq!(g.canonicalize("/etc/escape").unwrap(), "/etc/passwd");
    }

    #[test]
    fn links_cross_into_mounted_volumes() {
        let g = guest();
        assert_eq!(
            g.read_file("/etc/into-boot", 100).unwrap().unwrap(),
            b"set default=0\n"
        );
        // An absolute link on the /boot volume resolves from the guest root.
        assert_eq!(
            g.read_file("/boot/vmlinuz", 100).unwrap().unwrap(),
            b"kernel"
        );
        assert_eq!(
            g.read_link("/boot/vmlinuz").unwrap().unwrap(),
            "/boot/vmlinuz-6.1"
        );
    }

    #[test]
    fn loops_and_missing_paths_are_clean_errors() {
        let g = guest();
        assert!(matches!(
            g.read_file("/loop/a", 100),
            Err(GuestError::SymlinkLoop { .. })
        ));
        assert_eq!(g.read_file("/nope/x", 100).unwrap(), None);
        assert_eq!(g.read_file("/etc/passwd/x", 100).unwrap(), None);
        assert!(
            g.read_dir("/usr/lib")
                .unwrap()
                .unwrap()
                .iter()
                .any(|e| e.name == "os-release")
        );
    }
}
