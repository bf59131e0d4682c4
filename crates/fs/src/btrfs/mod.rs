//! A read-only Btrfs reader for one subvolume at a time, written from the on-disk format
//! documented at btrfs.readthedocs.io ("On-disk format", "Trees", "Data structures",
//! "Compression").
//!
//! Opening reads the best superblock copy ([`superblock`]), bootstraps the chunk map from its
//! `sys_chunk_array` and completes it from the chunk tree ([`chunks`]), then finds the default
//! subvolume in the root tree ([`subvol`]). Paths are resolved name by name through DIR_ITEM
//! hash lookups ([`dir`]); directory listings come from DIR_INDEX items; file data from
//! EXTENT_DATA items ([`extents`]), decompressed by [`compression`]. Entries that are other
//! subvolumes are followed into them when the root tree holds the matching ROOT_REF, as the
//! kernel does; otherwise (a snapshot of a subvolume that had subvolumes inside) they are the
//! empty placeholder directory the kernel shows.
//!
//! What is read, and how often: the superblock copies once; each tree node whole, in one call,
//! checked (checksum, fsid, address, level, item bounds and order) and kept in a bounded LRU
//! cache; compressed extents whole (at most 128 KiB) and kept decompressed in a small LRU
//! cache; uncompressed file data straight into the caller's buffer, one call per contiguous
//! run. Data checksums (the csum tree) and the log tree (fsync'ed data of an unclean shutdown)
//! are not read, nor are free-space, extent, quota and device trees: nothing a read needs.
//!
//! Multi-device file systems: each handle reads one device. Mirrored chunks (DUP, RAID1,
//! RAID1C3/4, RAID10 sub-stripes) use a copy on this device; anything only on another device
//! is an error naming that device's id. RAID5/6 chunks are not supported.

mod checksum;
mod chunks;
mod compression;
mod dir;
mod extents;
mod items;
mod lru;
mod subvol;
mod superblock;
#[cfg(test)]
mod synth;
mod tree;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use preflight_io::{IoError, Source, check_bounds};

use crate::{DirEntry, FileSystem, FileType, FsError, MAX_DIR_ENTRIES, Metadata};
use chunks::ChunkMap;
use items::{FS_TREE_OBJECTID, InodeItem};
use lru::Lru;
use superblock::Superblock;
use tree::TreeRoot;

pub use subvol::{SubvolSelector, Subvolume};

/// Tree nodes kept decoded (bytes); decompressed extents kept (count, 128 KiB each at most).
const NODE_CACHE_BYTES: usize = 8 << 20;
const EXTENT_CACHE: usize = 64;
/// The longest symlink target we accept (PATH_MAX).
const MAX_LINK: u64 = 4096;

/// What went wrong below the API, before a path is attached.
#[derive(Debug)]
pub(crate) enum Error {
    Corrupt(String),
    Unsupported(String),
    Io(IoError),
}

pub(crate) type R<T> = Result<T, Error>;

impl Error {
    fn at(self, path: &str) -> FsError {
        let path = if path.is_empty() { "/" } else { path }.to_string();
        match self {
            Error::Corrupt(m) => FsError::Corrupt {
                path,
                message: format!("btrfs: {m}"),
            },
            Error::Unsupported(m) => FsError::Unsupported {
                path,
                message: format!("btrfs: {m}"),
            },
            Error::Io(source) => FsError::Io { path, source },
        }
    }
}

/// The device, its geometry and the caches shared by every subvolume opened from it.
pub(crate) struct Inner {
    src: Source,
    sb: Superblock,
    chunks: ChunkMap,
    root_tree: TreeRoot,
    nodes: Mutex<Lru<tree::Node>>,
    extents: Mutex<Lru<Vec<u8>>>,
    roots: Mutex<HashMap<u64, Option<subvol::RootInfo>>>,
}

impl Inner {
    fn open(src: Source) -> R<Inner> {
        let sb = superblock::read_best(&*src)?;
        let mut map = ChunkMap::new(sb.devid);
        superblock::bootstrap(&sb, &mut map)?;
        let node_cap = NODE_CACHE_BYTES / sb.nodesize as usize;
        let mut inner = Inner {
            root_tree: TreeRoot {
                bytenr: sb.root,
                level: sb.root_level,
            },
            src,
            chunks: map,
            nodes: Mutex::new(Lru::new(node_cap)),
            extents: Mutex::new(Lru::new(EXTENT_CACHE)),
            roots: Mutex::default(),
            sb,
        };
        // The chunk tree maps everything else ("Chunk tree": CHUNK_ITEM keys are
        // (FIRST_CHUNK_TREE_OBJECTID, CHUNK_ITEM, logical)).
        let chunk_root = TreeRoot {
            bytenr: inner.sb.chunk_root,
            level: inner.sb.chunk_root_level,
        };
        let mut found = Vec::new();
        inner.walk(
            chunk_root,
            tree::Key::new(items::FIRST_CHUNK_TREE_OBJECTID, items::CHUNK_ITEM_KEY, 0),
            &mut |k, d| {
                if k.objectid != items::FIRST_CHUNK_TREE_OBJECTID || k.ty != items::CHUNK_ITEM_KEY {
                    return Ok(tree::Flow::Stop);
                }
                if found.len() >= chunks::MAX_CHUNKS {
                    return Err(Error::Corrupt(format!(
                        "chunk tree: more than {} chunks",
                        chunks::MAX_CHUNKS
                    )));
                }
                found.push((k.offset, d.to_vec()));
                Ok(tree::Flow::Continue)
            },
        )?;
        for (logical, item) in found {
            inner.chunks.add(logical, &item)?;
        }
        // Nodes read through the bootstrap map stay valid: the chunk tree agrees with it.
        Ok(inner)
    }

    /// Read `buf.len()` bytes at a logical address, one call per contiguous physical run.
    fn read_logical(&self, logical: u64, buf: &mut [u8]) -> R<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = logical
                .checked_add(done as u64)
                .ok_or_else(|| Error::Corrupt("logical address overflows".into()))?;
            let m = self.chunks.map(at)?;
            let n = (buf.len() - done).min(usize::try_from(m.len).unwrap_or(usize::MAX));
            check_bounds(m.physical, n, self.src.len()).map_err(Error::Io)?;
            self.src
                .read_at(m.physical, &mut buf[done..done + n])
                .map_err(Error::Io)?;
            done += n;
        }
        Ok(())
    }
}

/// One subvolume of a Btrfs file system, behind [`FileSystem`].
pub struct BtrfsFs {
    inner: Arc<Inner>,
    subvol: u64,
    root: subvol::RootInfo,
    default_id: u64,
}

/// What a path names.
enum Found {
    Inode {
        tree: TreeRoot,
        ino: u64,
        inode: InodeItem,
    },
    /// The placeholder the kernel shows for a subvolume entry without its ROOT_REF.
    EmptySubvolDir,
}

fn file_type_of_mode(mode: u32) -> FileType {
    match mode & 0o170000 {
        0o100000 => FileType::Regular,
        0o040000 => FileType::Directory,
        0o120000 => FileType::Symlink,
        0o020000 => FileType::CharDevice,
        0o060000 => FileType::BlockDevice,
        0o010000 => FileType::Fifo,
        0o140000 => FileType::Socket,
        _ => FileType::Unknown,
    }
}

impl BtrfsFs {
    /// Open the default subvolume (the root tree's "default" DIR_ITEM, else FS_TREE 5).
    pub fn open(source: Source) -> Result<BtrfsFs, FsError> {
        let inner = Arc::new(Inner::open(source).map_err(|e| e.at("/"))?);
        let default_id = inner.default_subvol().map_err(|e| e.at("/"))?;
        Self::with_subvol(inner, default_id, default_id)
    }

    fn with_subvol(inner: Arc<Inner>, id: u64, default_id: u64) -> Result<BtrfsFs, FsError> {
        let root = inner
            .root(id)
            .map_err(|e| e.at("/"))?
            .ok_or_else(|| Error::Corrupt(format!("subvolume {id} has no root item")).at("/"))?;
        Ok(BtrfsFs {
            inner,
            subvol: id,
            root,
            default_id,
        })
    }

    /// Every subvolume, as `btrfs subvolume list` prints them (paths from the top level).
    pub fn subvolumes(&self) -> Result<Vec<Subvolume>, FsError> {
        self.inner.subvolumes().map_err(|e| e.at("/"))
    }

    /// Another subvolume of the same file system (fstab/rootflags `subvolid=` / `subvol=`;
    /// a path is taken from the top level, as the kernel does).
    pub fn open_subvolume(&self, sel: SubvolSelector) -> Result<BtrfsFs, FsError> {
        let id = match &sel {
            SubvolSelector::Id(id) => *id,
            SubvolSelector::Path(p) => {
                let top = Self::with_subvol(Arc::clone(&self.inner), FS_TREE_OBJECTID, 0)?;
                top.subvol_at(p)?
            }
        };
        if id != FS_TREE_OBJECTID
            && !(items::FIRST_FREE_OBJECTID..=items::LAST_FREE_OBJECTID).contains(&id)
        {
            return Err(FsError::NotFound(format!("subvolume id {id}")));
        }
        match self.inner.root(id) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(FsError::NotFound(format!("subvolume id {id}"))),
            Err(e) => return Err(e.at("/")),
        }
        Self::with_subvol(Arc::clone(&self.inner), id, self.default_id)
    }

    /// The subvolume whose root directory `path` names (from this subvolume's root).
    fn subvol_at(&self, path: &str) -> Result<u64, FsError> {
        let (root_id, found) = self.resolve_with_root(path)?;
        match found {
            Found::Inode { ino, .. } => {
                let info = self
                    .inner
                    .root(root_id)
                    .map_err(|e| e.at(path))?
                    .ok_or_else(|| FsError::NotFound(path.to_string()))?;
                if ino == info.root_dirid {
                    Ok(root_id)
                } else {
                    Err(FsError::Unsupported {
                        path: path.to_string(),
                        message: "btrfs: not a subvolume".into(),
                    })
                }
            }
            Found::EmptySubvolDir => Err(FsError::NotFound(path.to_string())),
        }
    }

    /// The id of the subvolume this handle reads.
    pub fn subvolume_id(&self) -> u64 {
        self.subvol
    }

    /// The file system's default subvolume (`btrfs subvolume get-default`).
    pub fn default_subvolume_id(&self) -> u64 {
        self.default_id
    }

    /// The file system UUID as blkid prints it.
    pub fn fs_uuid(&self) -> String {
        let u = &self.inner.sb.fsid;
        let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// The label, if set.
    pub fn label(&self) -> Option<String> {
        Some(self.inner.sb.label.clone()).filter(|l| !l.is_empty())
    }

    fn resolve(&self, path: &str) -> Result<Found, FsError> {
        self.resolve_with_root(path).map(|(_, f)| f)
    }

    /// Resolve `path` name by name; returns the id of the subvolume holding the result.
    fn resolve_with_root(&self, path: &str) -> Result<(u64, Found), FsError> {
        let inner = &self.inner;
        let mut root_id = self.subvol;
        let mut tree = self.root.tree;
        let mut ino = self.root.root_dirid;
        let mut inode = inner.inode(tree, ino).map_err(|e| e.at(path))?;
        let mut walked = String::new();
        let mut comps = path.split('/').filter(|c| !c.is_empty()).peekable();
        while let Some(name) = comps.next() {
            if file_type_of_mode(inode.mode) != FileType::Directory {
                return Err(FsError::NotADirectory(if walked.is_empty() {
                    "/".into()
                } else {
                    walked
                }));
            }
            walked.push('/');
            walked.push_str(name);
            let entry = inner
                .lookup(tree, ino, name.as_bytes())
                .map_err(|e| e.at(&walked))?
                .ok_or_else(|| FsError::NotFound(walked.clone()))?;
            match entry.location.ty {
                items::INODE_ITEM_KEY => {
                    ino = entry.location.objectid;
                }
                items::ROOT_ITEM_KEY => {
                    let child = entry.location.objectid;
                    let linked = inner
                        .root_ref_matches(root_id, child, ino, name.as_bytes())
                        .map_err(|e| e.at(&walked))?;
                    let info = if linked {
                        inner.root(child).map_err(|e| e.at(&walked))?
                    } else {
                        None
                    };
                    match info {
                        Some(info) => {
                            root_id = child;
                            tree = info.tree;
                            ino = info.root_dirid;
                        }
                        None => {
                            if comps.peek().is_some() {
                                let rest: Vec<&str> = comps.collect();
                                return Err(FsError::NotFound(format!(
                                    "{walked}/{}",
                                    rest.join("/")
                                )));
                            }
                            return Ok((root_id, Found::EmptySubvolDir));
                        }
                    }
                }
                t => {
                    return Err(Error::Corrupt(format!(
                        "directory entry points to a key of type {t}"
                    ))
                    .at(&walked));
                }
            }
            inode = inner.inode(tree, ino).map_err(|e| e.at(&walked))?;
        }
        Ok((root_id, Found::Inode { tree, ino, inode }))
    }
}

impl FileSystem for BtrfsFs {
    fn kind(&self) -> &'static str {
        "btrfs"
    }

    fn subvolume(
        &self,
        selector: &SubvolSelector,
    ) -> Option<Result<std::sync::Arc<dyn FileSystem>, FsError>> {
        Some(
            self.open_subvolume(selector.clone())
                .map(|fs| std::sync::Arc::new(fs) as std::sync::Arc<dyn FileSystem>),
        )
    }

    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        Ok(match self.resolve(path)? {
            Found::Inode { inode, .. } => Metadata {
                file_type: file_type_of_mode(inode.mode),
                size: inode.size,
                mode: inode.mode & 0o7777,
                uid: inode.uid,
                gid: inode.gid,
                mtime: Some(inode.mtime),
            },
            Found::EmptySubvolDir => Metadata {
                file_type: FileType::Directory,
                size: 0,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: None,
            },
        })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let (tree, ino, inode) = match self.resolve(path)? {
            Found::Inode { tree, ino, inode } => (tree, ino, inode),
            Found::EmptySubvolDir => return Ok(Vec::new()),
        };
        if file_type_of_mode(inode.mode) != FileType::Directory {
            return Err(FsError::NotADirectory(path.to_string()));
        }
        let mut out = self
            .inner
            .list_dir(tree, ino, MAX_DIR_ENTRIES)
            .map_err(|e| e.at(path))?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        let Found::Inode { tree, ino, inode } = self.resolve(path)? else {
            return Err(FsError::NotASymlink(path.to_string()));
        };
        if file_type_of_mode(inode.mode) != FileType::Symlink {
            return Err(FsError::NotASymlink(path.to_string()));
        }
        if inode.size > MAX_LINK {
            return Err(FsError::TooLarge {
                path: path.to_string(),
                size: inode.size,
                max: MAX_LINK,
            });
        }
        let mut buf = vec![0u8; inode.size as usize];
        let n = self
            .inner
            .read_data(tree, ino, inode.size, 0, &mut buf)
            .map_err(|e| e.at(path))?;
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let Found::Inode { tree, ino, inode } = self.resolve(path)? else {
            return Err(FsError::NotAFile(path.to_string()));
        };
        if file_type_of_mode(inode.mode) != FileType::Regular {
            return Err(FsError::NotAFile(path.to_string()));
        }
        self.inner
            .read_data(tree, ino, inode.size, offset, buf)
            .map_err(|e| e.at(path))
    }
}
