//! A read-only FAT12/FAT16/FAT32 reader, written from Microsoft's "FAT: General Overview of
//! On-Disk Format" (fatgen103), showing the tree as the Linux vfat driver does with default
//! mount options: long names (else 8.3 names with the NT case flags), case-insensitive
//! lookups, modes 0755 (0555 for read-only files), owner root, write times read as UTC.
//!
//! What is read, and how often: the boot sector at open, and the root directory (for the
//! volume label; on FAT12/16 in the same call as the FATs before it, when they are small);
//! FAT entries in aligned 128 KiB windows (a FAT12/16 table is one window) kept
//! in a bounded cache; each directory whole, contiguous clusters in one call, parsed listings
//! cached; file data in one call per run of contiguous clusters.

mod bpb;
mod dir;
mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use preflight_io::{IoError, Source, read_vec};

use crate::{DirEntry, FileSystem, FileType, FsError, MAX_DIR_ENTRIES, Metadata};
use bpb::{Bpb, FatKind};
use dir::{ATTR_READ_ONLY, Parser, RawEntry};
use table::{Run, Table};

/// fatgen103: a directory holds at most 65,536 32-byte entries (2 MiB).
const MAX_DIR_BYTES: u64 = 65_536 * 32;
/// FAT12/16: read the FATs and the root directory region in one call at open when they span
/// at most this many bytes.
const PRELOAD: u64 = 512 * 1024;
/// Largest single read (a run of clusters of a directory or a file).
const MAX_READ: u64 = 4 << 20;
/// Cache capacities: directory entries in all cached listings; chains (count).
const DIR_CACHE_ENTRIES: usize = 256 * 1024;
const CHAIN_CACHE: usize = 256;
/// Path components walked at most in one lookup.
const MAX_DEPTH: usize = 4096;

pub(crate) fn corrupt(path: &str, message: impl Into<String>) -> FsError {
    FsError::Corrupt {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        message: format!("fat: {}", message.into()),
    }
}

pub(crate) fn io_err(path: &str) -> impl FnOnce(IoError) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_string(),
        source,
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory listing, sorted by name.
type Dir = Vec<RawEntry>;

/// Cluster runs of files by (first cluster, size).
type ChainCache = HashMap<(u32, u32), Arc<Vec<Run>>>;

/// Where a directory's entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DirAt {
    /// The FAT12/16 root directory region.
    Region,
    /// A cluster chain starting there.
    Chain(u32),
}

/// What a path names.
enum Node {
    Root,
    Entry(RawEntry),
}

pub struct FatFs {
    src: Source,
    bpb: Bpb,
    table: Table,
    label: Option<String>,
    dirs: Mutex<(HashMap<DirAt, Arc<Dir>>, usize)>,
    chains: Mutex<ChainCache>,
}

impl FatFs {
    /// Open the FAT file system on `source`: check the boot sector and read the root
    /// directory.
    pub fn open(source: Source) -> Result<FatFs, FsError> {
        let first = read_vec(&*source, 0, source.len().min(512), 512).map_err(io_err("/"))?;
        let bpb = Bpb::parse(&first).map_err(|m| corrupt("/", m))?;
        let table = Table::new(Arc::clone(&source), &bpb);
        if bpb.kind == FatKind::Fat32 && !table.valid(bpb.root_cluster) {
            return Err(corrupt(
                "/",
                format!(
                    "BPB_RootClus at byte 44 is {}, outside 2..={}",
                    bpb.root_cluster,
                    bpb.max_cluster()
                ),
            ));
        }
        let mut fs = FatFs {
            src: source,
            bpb,
            table,
            label: None,
            dirs: Mutex::new((HashMap::new(), 0)),
            chains: Mutex::new(HashMap::new()),
        };
        // FAT12/16: the table, its copies and the root directory region follow each other;
        // when they are small, one read brings both the table and the root.
        let mut pre = None;
        if fs.bpb.kind != FatKind::Fat32 {
            let start = fs.bpb.fat_offset;
            let end = fs.bpb.root_dir_offset + fs.bpb.root_dir_bytes;
            if end > start && end - start <= PRELOAD && end <= fs.src.len() {
                let buf = read_vec(&*fs.src, start, end - start, PRELOAD).map_err(io_err("/"))?;
                fs.table.preload(&buf);
                pre = Some(buf);
            }
        }
        let root_bytes = pre
            .as_deref()
            .and_then(|b| b.get((fs.bpb.root_dir_offset - fs.bpb.fat_offset) as usize..));
        let (_, label) = fs.load_dir(fs.root_at(), root_bytes, "/")?;
        // blkid shows the root directory's volume-label entry ("NO NAME" is none).
        fs.label = label
            .filter(|l| l != b"NO NAME    ")
            .map(|l| {
                let mut l = l;
                if l[0] == 0x05 {
                    l[0] = 0xE5;
                }
                String::from_utf8_lossy(&l)
                    .trim_end_matches(' ')
                    .to_string()
            })
            .filter(|l| !l.is_empty());
        Ok(fs)
    }

    /// The volume serial number as blkid prints a vfat UUID: `XXXX-XXXX`, upper-case hex.
    pub fn volume_id(&self) -> String {
        let id = self.bpb.volume_id;
        format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF)
    }

    /// The volume label of the root directory, trailing spaces removed, as blkid's `LABEL`.
    pub fn label(&self) -> Option<String> {
        self.label.clone()
    }

    /// The label in the boot sector (blkid's `LABEL_FATBOOT`), unless it is `NO NAME`.
    pub fn boot_label(&self) -> Option<String> {
        let l = &self.bpb.boot_label;
        if !matches!(self.bpb.boot_sig, 0x28 | 0x29) || l == b"NO NAME    " {
            return None;
        }
        let s = String::from_utf8_lossy(l).trim_end_matches(' ').to_string();
        (!s.is_empty()).then_some(s)
    }

    /// "FAT12", "FAT16" or "FAT32", by the count of clusters.
    pub fn fat_type(&self) -> &'static str {
        self.bpb.kind.name()
    }

    fn root_at(&self) -> DirAt {
        match self.bpb.kind {
            FatKind::Fat32 => DirAt::Chain(self.bpb.root_cluster),
            _ => DirAt::Region,
        }
    }

    /// Clusters a directory may span.
    fn dir_cluster_limit(&self) -> u64 {
        MAX_DIR_BYTES.div_ceil(self.bpb.cluster_bytes()).max(1)
    }

    /// A directory's bytes: the root region, or its cluster chain read run by run.
    fn load_dir(
        &self,
        at: DirAt,
        pre: Option<&[u8]>,
        path: &str,
    ) -> Result<(Arc<Dir>, Option<[u8; 11]>), FsError> {
        let mut parser = Parser::new(self.bpb.kind == FatKind::Fat32);
        match (at, pre) {
            (DirAt::Region, Some(bytes)) => parser.feed(bytes),
            (DirAt::Region, None) => {
                let buf = read_vec(
                    &*self.src,
                    self.bpb.root_dir_offset,
                    self.bpb.root_dir_bytes,
                    MAX_DIR_BYTES,
                )
                .map_err(io_err(path))?;
                parser.feed(&buf);
            }
            (DirAt::Chain(first), _) => {
                let runs =
                    self.table
                        .chain(first, None, self.dir_cluster_limit(), "directory", path)?;
                'runs: for run in runs.iter() {
                    let mut done = 0u64;
                    let total = u64::from(run.count) * self.bpb.cluster_bytes();
                    while done < total {
                        let len = (total - done).min(MAX_READ);
                        let at = self.bpb.cluster_offset(run.first) + done;
                        let buf = read_vec(&*self.src, at, len, MAX_READ).map_err(io_err(path))?;
                        parser.feed(&buf);
                        if parser.ended {
                            break 'runs;
                        }
                        done += len;
                    }
                }
            }
        }
        let label = parser.label;
        let mut entries = parser.entries;
        if entries.len() > MAX_DIR_ENTRIES {
            return Err(corrupt(
                path,
                format!("more than {MAX_DIR_ENTRIES} entries"),
            ));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let entries = Arc::new(entries);
        let mut cache = lock(&self.dirs);
        let (map, weight) = &mut *cache;
        if *weight + entries.len() > DIR_CACHE_ENTRIES {
            map.clear();
            *weight = 0;
        }
        if entries.len() <= DIR_CACHE_ENTRIES {
            *weight += entries.len();
            map.insert(at, Arc::clone(&entries));
        }
        Ok((entries, label))
    }

    fn dir(&self, at: DirAt, path: &str) -> Result<Arc<Dir>, FsError> {
        if let Some(d) = lock(&self.dirs).0.get(&at) {
            return Ok(Arc::clone(d));
        }
        Ok(self.load_dir(at, None, path)?.0)
    }

    /// Where the entries of a directory entry live.
    fn dir_at(&self, e: &RawEntry, path: &str) -> Result<DirAt, FsError> {
        if !e.is_dir() {
            return Err(FsError::NotADirectory(path.into()));
        }
        if e.cluster == 0 {
            // ".." entries use 0 for the root; a named subdirectory cannot.
            return Err(corrupt(
                path,
                format!("directory entry {:?} has no first cluster", e.name),
            ));
        }
        Ok(DirAt::Chain(e.cluster))
    }

    /// The entry at `path`, resolved component by component, case-insensitively (as vfat
    /// looks names up), an exact match first.
    fn resolve(&self, path: &str) -> Result<Node, FsError> {
        let mut node = Node::Root;
        for (depth, comp) in path.split('/').filter(|c| !c.is_empty()).enumerate() {
            if depth >= MAX_DEPTH {
                return Err(FsError::NotFound(path.into()));
            }
            let at = match &node {
                Node::Root => self.root_at(),
                Node::Entry(e) => self.dir_at(e, path)?,
            };
            let entries = self.dir(at, path)?;
            let found = match entries.binary_search_by(|e| e.name.as_str().cmp(comp)) {
                Ok(i) => entries.get(i),
                Err(_) => {
                    let lower = comp.to_lowercase();
                    entries
                        .iter()
                        .find(|e| e.name.to_lowercase() == lower || e.short.to_lowercase() == lower)
                }
            };
            match found {
                Some(e) => node = Node::Entry(e.clone()),
                None => return Err(FsError::NotFound(path.into())),
            }
        }
        Ok(node)
    }

    /// The runs of a file's clusters (cached by first cluster and size).
    fn file_runs(&self, e: &RawEntry, path: &str) -> Result<Arc<Vec<Run>>, FsError> {
        let key = (e.cluster, e.size);
        if let Some(r) = lock(&self.chains).get(&key) {
            return Ok(Arc::clone(r));
        }
        let need = u64::from(e.size).div_ceil(self.bpb.cluster_bytes());
        let runs = Arc::new(
            self.table
                .chain(e.cluster, Some(need), need, "file", path)?,
        );
        let mut cache = lock(&self.chains);
        if cache.len() >= CHAIN_CACHE {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&runs));
        Ok(runs)
    }

    /// Size of a directory as the kernel shows it: its clusters' bytes.
    fn dir_size(&self, at: DirAt, path: &str) -> Result<u64, FsError> {
        match at {
            DirAt::Region => Ok(self.bpb.root_dir_bytes),
            DirAt::Chain(first) => {
                let runs =
                    self.table
                        .chain(first, None, self.dir_cluster_limit(), "directory", path)?;
                let clusters: u64 = runs.iter().map(|r| u64::from(r.count)).sum();
                Ok(clusters * self.bpb.cluster_bytes())
            }
        }
    }
}

impl FileSystem for FatFs {
    fn kind(&self) -> &'static str {
        "vfat"
    }

    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        match self.resolve(path)? {
            Node::Root => Ok(Metadata {
                file_type: FileType::Directory,
                size: self.dir_size(self.root_at(), path)?,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: Some(0),
            }),
            Node::Entry(e) => {
                let (file_type, size, mode) = if e.is_dir() {
                    let at = self.dir_at(&e, path)?;
                    (FileType::Directory, self.dir_size(at, path)?, 0o755)
                } else {
                    // The read-only attribute removes the write bits of files (not of
                    // directories, without the `rodir` option).
                    let mode = if e.attr & ATTR_READ_ONLY != 0 {
                        0o555
                    } else {
                        0o755
                    };
                    (FileType::Regular, u64::from(e.size), mode)
                };
                Ok(Metadata {
                    file_type,
                    size,
                    mode,
                    uid: 0,
                    gid: 0,
                    mtime: Some(e.mtime),
                })
            }
        }
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let at = match self.resolve(path)? {
            Node::Root => self.root_at(),
            Node::Entry(e) => self.dir_at(&e, path)?,
        };
        let entries = self.dir(at, path)?;
        Ok(entries
            .iter()
            .map(|e| DirEntry {
                name: e.name.clone(),
                file_type: if e.is_dir() {
                    FileType::Directory
                } else {
                    FileType::Regular
                },
            })
            .collect())
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        self.resolve(path)?;
        Err(FsError::NotASymlink(path.into()))
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let e = match self.resolve(path)? {
            Node::Entry(e) if !e.is_dir() => e,
            _ => return Err(FsError::NotAFile(path.into())),
        };
        let size = u64::from(e.size);
        if offset >= size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - offset) as usize;
        let runs = self.file_runs(&e, path)?;
        let cb = self.bpb.cluster_bytes();
        let mut pos = offset; // file offset of buf[filled]
        let mut filled = 0usize;
        let mut run_start = 0u64; // file offset of the current run
        for run in runs.iter() {
            if filled == n {
                break;
            }
            let run_len = u64::from(run.count) * cb;
            let run_end = run_start + run_len;
            if pos < run_end {
                let within = pos - run_start;
                let len = ((run_end - pos) as usize).min(n - filled);
                let at = self.bpb.cluster_offset(run.first) + within;
                let dst = &mut buf[filled..filled + len];
                preflight_io::check_bounds(at, len, self.src.len()).map_err(io_err(path))?;
                self.src.read_at(at, dst).map_err(io_err(path))?;
                filled += len;
                pos += len as u64;
            }
            run_start = run_end;
        }
        if filled < n {
            return Err(corrupt(
                path,
                format!("the cluster chain maps {run_start} bytes of a {size}-byte file"),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
