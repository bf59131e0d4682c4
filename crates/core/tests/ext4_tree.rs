//! The file tree we read through the whole stack (QCOW2 → GPT/MBR → ext4) must equal what the
//! kernel shows when the same file system is mounted read-only: names, types, sizes, modes,
//! owners, link targets and the hash of every file.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use preflight_fixtures::{
    Container, DiskSpec, GuestTree, Partitioning, RoMount, debian_guest, image, raw_disk,
    root_offset,
};
use preflight_fs::{Ext4Fs, FileSystem, FileType};
use preflight_io::FileSource;
use sha2::{Digest, Sha256};

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File {
        size: u64,
        mode: u32,
        uid: u32,
        gid: u32,
        sha256: String,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Link {
        target: String,
    },
    Other,
}

fn hash(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kernel_tree(root: &Path, rel: &str, out: &mut BTreeMap<String, Node>) {
    let dir = root.join(rel.trim_start_matches('/'));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel == "/" {
            format!("/{name}")
        } else {
            format!("{rel}/{name}")
        };
        let m = std::fs::symlink_metadata(entry.path()).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        let node = if m.file_type().is_symlink() {
            Node::Link {
                target: std::fs::read_link(entry.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            }
        } else if m.is_dir() {
            kernel_tree(root, &path, out);
            Node::Dir {
                mode,
                uid: m.uid(),
                gid: m.gid(),
            }
        } else if m.is_file() {
            let data = std::fs::read(entry.path()).unwrap();
            Node::File {
                size: m.len(),
                mode,
                uid: m.uid(),
                gid: m.gid(),
                sha256: hash(&data),
            }
        } else {
            Node::Other
        };
        out.insert(path, node);
    }
}

fn our_tree(fs: &dyn FileSystem, rel: &str, out: &mut BTreeMap<String, Node>) {
    for entry in fs.read_dir(rel).unwrap() {
        let path = if rel == "/" {
            format!("/{}", entry.name)
        } else {
            format!("{rel}/{}", entry.name)
        };
        let m = fs.lstat(&path).unwrap();
        assert_eq!(
            m.file_type, entry.file_type,
            "{path}: directory entry type vs inode type"
        );
        let node = match m.file_type {
            FileType::Symlink => Node::Link {
                target: fs.read_link(&path).unwrap(),
            },
            FileType::Directory => {
                our_tree(fs, &path, out);
                Node::Dir {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                }
            }
            FileType::Regular => {
                let data = fs.read_file(&path, 1 << 30).unwrap();
                assert_eq!(data.len() as u64, m.size, "{path}");
                Node::File {
                    size: m.size,
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    sha256: hash(&data),
                }
            }
            _ => Node::Other,
        };
        out.insert(path, node);
    }
}

fn compare(spec: &DiskSpec, container: Container) {
    let layout_offset = root_offset(spec);
    let raw = raw_disk(spec);
    let size = spec.root_mib * 1024 * 1024;
    let mount = RoMount::new(&raw, layout_offset, size).expect("loop mount (needs root)");
    let mut expected = BTreeMap::new();
    kernel_tree(mount.path(), "/", &mut expected);
    drop(mount);

    let img = image(spec, container);
    let c = preflight_container::open(Arc::new(FileSource::open(&img).unwrap())).unwrap();
    let table = preflight_volume::read_partitions(&c.disk).unwrap();
    let root = match table.partitions.iter().find(|p| p.start == layout_offset) {
        Some(p) => p.source(&c.disk),
        None => Arc::clone(&c.disk),
    };
    let fs = Ext4Fs::open(root).unwrap();
    let mut ours = BTreeMap::new();
    our_tree(&fs, "/", &mut ours);

    assert!(
        expected.len() > 50,
        "the fixture tree is realistic ({} entries)",
        expected.len()
    );
    for (path, node) in &expected {
        assert_eq!(ours.get(path), Some(node), "{container:?}: {path}");
    }
    assert_eq!(
        ours.len(),
        expected.len(),
        "{container:?}: same number of entries"
    );
}

/// A tree with the shapes ext4 stores differently: an empty file, a file spanning many extents,
/// a sparse file, a long symlink (stored in blocks), a big directory (htree), odd names.
fn awkward_tree() -> GuestTree {
    let mut t = debian_guest()
        .file("/srv/empty", "")
        .file(
            "/srv/big.bin",
            (0..3_000_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect::<Vec<u8>>(),
        )
        .symlink("/srv/long-link", &format!("/usr/{}", "x".repeat(200)))
        .file("/srv/name with spaces & ünïcödé", "ok\n")
        .file_mode("/usr/bin/sudo-like", "#!/bin/sh\n", 0o4755);
    for i in 0..1500 {
        t = t.file(&format!("/var/lib/many/entry-{i:05}"), format!("{i}\n"));
    }
    t
}

#[test]
fn tree_matches_the_kernel_through_qcow2_and_gpt() {
    let spec = DiskSpec::new(awkward_tree());
    compare(&spec, Container::Qcow2Zstd);
    compare(&spec, Container::Qcow2ExtendedL2);
}

#[test]
fn tree_matches_the_kernel_through_mbr_logical() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.partitioning = Partitioning::MbrLogical;
    compare(&spec, Container::Qcow2V2);
}
