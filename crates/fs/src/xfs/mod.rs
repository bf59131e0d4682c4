//! A read-only XFS reader, written from the on-disk format documented in the kernel tree
//! (`Documentation/filesystems/xfs/`, "XFS Algorithms & Data Structures"; field layouts as in
//! `xfs_format.h` and `xfs_da_format.h`).
//!
//! What is read, and how often: the superblock once at open; then, per path component, the
//! directory's inode and its data blocks (short-form directories live in the inode), whole
//! directory blocks and runs of contiguous blocks in one call each; decoded inodes, directory
//! listings and extent lists are kept in bounded LRU caches. v5 metadata (superblock, inodes,
//! directory data blocks, bmap btree blocks, remote symlink blocks) is checked against its CRC.
//! Allocation-group headers and free-space/inode btrees are never needed: inode numbers encode
//! the inode's place.

mod bmap;
mod crc;
mod dir;
mod inode;
mod lru;
mod superblock;
mod symlink;

use std::sync::{Arc, Mutex, MutexGuard};

use preflight_io::{IoError, Source, read_vec};

use crate::{DirEntry, FileSystem, FileType, FsError, MAX_DIR_ENTRIES, Metadata};
use bmap::Extent;
use dir::RawEntry;
use inode::{FMT_BTREE, FMT_EXTENTS, FMT_LOCAL, Inode};
use lru::Lru;
use superblock::Superblock;

/// Largest single metadata read (a run of directory or btree blocks).
const MAX_READ: u64 = 4 << 20;
/// Most bytes of directory data blocks one directory may hold before we call it hostile.
const MAX_DIR_DATA: u64 = 512 << 20;
/// Directory data blocks are read in runs of at most this many bytes.
const DIR_BATCH: u64 = 1 << 20;
/// Cache capacities: decoded inodes (count), directory entries (total), extents (total).
const INODE_CACHE: usize = 4096;
/// Inodes are read in aligned clusters of this many bytes (or one block, if larger).
const INODE_CLUSTER: u64 = 8192;
const DIR_CACHE: usize = 256 * 1024;
const EXTENT_CACHE: usize = 1 << 20;

fn corrupt(path: &str, message: impl Into<String>) -> FsError {
    FsError::Corrupt {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        message: format!("xfs: {}", message.into()),
    }
}

/// The device and its geometry: what every decoder needs to read blocks.
pub(crate) struct Ctx {
    src: Source,
    sb: Superblock,
}

impl Ctx {
    fn io(path: &str) -> impl FnOnce(IoError) -> FsError + '_ {
        move |source| FsError::Io {
            path: path.to_string(),
            source,
        }
    }

    fn read(&self, offset: u64, len: u64, path: &str) -> Result<Vec<u8>, FsError> {
        read_vec(&*self.src, offset, len, MAX_READ).map_err(Self::io(path))
    }

    fn read_into(&self, offset: u64, buf: &mut [u8], path: &str) -> Result<(), FsError> {
        preflight_io::check_bounds(offset, buf.len(), self.src.len()).map_err(Self::io(path))?;
        self.src.read_at(offset, buf).map_err(Self::io(path))
    }
}

/// A directory listing, sorted by name bytes.
type Dir = Vec<RawEntry>;

pub struct XfsFs {
    ctx: Ctx,
    inodes: Mutex<Lru<Inode>>,
    dirs: Mutex<Lru<Dir>>,
    extents: Mutex<Lru<Vec<Extent>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl XfsFs {
    /// Open the XFS file system on `source`: check the superblock (and its CRC on v5) and the
    /// root directory's inode.
    pub fn open(source: Source) -> Result<XfsFs, FsError> {
        let io = |source| FsError::Io {
            path: "/".into(),
            source,
        };
        let first = read_vec(&*source, 0, source.len().min(4096), 4096).map_err(io)?;
        let sb = Superblock::parse(&first)?;
        let sect = usize::from(sb.sect_size);
        if sect > first.len() {
            let sector = read_vec(&*source, 0, sect as u64, 1 << 16).map_err(io)?;
            sb.verify_crc(&sector)?;
        } else {
            sb.verify_crc(&first[..sect])?;
        }
        let fs = XfsFs {
            ctx: Ctx { src: source, sb },
            inodes: Mutex::new(Lru::new(INODE_CACHE)),
            dirs: Mutex::new(Lru::new(DIR_CACHE)),
            extents: Mutex::new(Lru::new(EXTENT_CACHE)),
        };
        let root = fs.inode(fs.ctx.sb.root_ino, "/")?;
        if root.file_type() != FileType::Directory {
            return Err(corrupt("/", "the root inode is not a directory"));
        }
        Ok(fs)
    }

    fn inode(&self, ino: u64, path: &str) -> Result<Arc<Inode>, FsError> {
        if let Some(i) = lock(&self.inodes).get(ino) {
            return Ok(i);
        }
        let sb = &self.ctx.sb;
        let at = sb.ino_location(ino).map_err(|m| corrupt(path, m))?;
        // Read the aligned cluster around it in one call and keep every inode in it that
        // decodes: siblings in a directory usually share inode chunks. Block numbers map to
        // inode numbers one to one, so the neighbours are exactly what a lookup would read.
        let bl = sb.block_log;
        let isz = usize::from(sb.inode_size);
        let per_block = 1u64 << sb.inop_blog;
        let blocks = (INODE_CLUSTER >> bl).max(1);
        let linear = at >> bl;
        let first = linear / blocks * blocks;
        let end = (first + blocks).min(sb.dblocks);
        let (first, buf) = match self.ctx.read(first << bl, (end - first) << bl, path) {
            Ok(buf) => (first, buf),
            // A cut image may still hold the inode itself: read just its block.
            Err(_) => (linear, self.ctx.read(linear << bl, 1 << bl, path)?),
        };
        let mut found = None;
        let mut cache = lock(&self.inodes);
        for (i, block) in buf.chunks_exact(1 << bl).enumerate() {
            let lb = first + i as u64;
            let agno = lb / u64::from(sb.ag_blocks);
            let agbno = lb % u64::from(sb.ag_blocks);
            let shift = u32::from(sb.ag_blk_log) + u32::from(sb.inop_blog);
            let Some(base) = agno.checked_shl(shift) else {
                continue;
            };
            let base = base | (agbno << sb.inop_blog);
            for (k, raw) in block.chunks_exact(isz).enumerate().take(per_block as usize) {
                let n = base | k as u64;
                let where_ = (lb << bl) + (k * isz) as u64;
                if n == ino {
                    found =
                        Some(Inode::parse(sb, ino, where_, raw).map_err(|e| with_path(e, path)));
                } else if let Ok(other) = Inode::parse(sb, n, where_, raw) {
                    cache.insert(n, Arc::new(other), 1);
                }
            }
        }
        let inode = match found {
            Some(r) => Arc::new(r?),
            None => {
                return Err(corrupt(
                    path,
                    format!("inode {ino} not found in its cluster"),
                ));
            }
        };
        cache.insert(ino, Arc::clone(&inode), 1);
        Ok(inode)
    }

    fn extents(&self, inode: &Inode, path: &str) -> Result<Arc<Vec<Extent>>, FsError> {
        if let Some(e) = lock(&self.extents).get(inode.ino) {
            return Ok(e);
        }
        let list = Arc::new(bmap::extents(&self.ctx, inode, path)?);
        lock(&self.extents).insert(inode.ino, Arc::clone(&list), list.len());
        Ok(list)
    }

    fn dir(&self, inode: &Inode, path: &str) -> Result<Arc<Dir>, FsError> {
        if inode.file_type() != FileType::Directory {
            return Err(FsError::NotADirectory(path.into()));
        }
        if let Some(d) = lock(&self.dirs).get(inode.ino) {
            return Ok(d);
        }
        let sb = &self.ctx.sb;
        let mut entries = match inode.format {
            FMT_LOCAL => dir::parse_shortform(sb, inode.ino, &inode.fork, inode.size, path)?,
            FMT_EXTENTS | FMT_BTREE => {
                let extents = self.extents(inode, path)?;
                self.read_dir_blocks(inode, &extents, path)?
            }
            f => {
                return Err(corrupt(
                    path,
                    format!("directory inode {} has data fork format {f}", inode.ino),
                ));
            }
        };
        if entries.len() > MAX_DIR_ENTRIES {
            return Err(corrupt(
                path,
                format!("more than {MAX_DIR_ENTRIES} entries"),
            ));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let entries = Arc::new(entries);
        lock(&self.dirs).insert(inode.ino, Arc::clone(&entries), entries.len());
        Ok(entries)
    }

    /// Entries of every data block of a block, leaf, node or B+tree directory: the data fork
    /// below `XFS_DIR2_LEAF_OFFSET`, read in runs of whole directory blocks.
    fn read_dir_blocks(
        &self,
        inode: &Inode,
        extents: &[Extent],
        path: &str,
    ) -> Result<Vec<RawEntry>, FsError> {
        let sb = &self.ctx.sb;
        let bl = sb.block_log;
        let dbs = sb.dir_block_size() as u64;
        // Logical byte spans holding data blocks, widened to whole directory blocks.
        let mut spans: Vec<(u64, u64)> = Vec::new();
        for e in extents {
            let start = e.off << bl;
            if start >= dir::LEAF_OFFSET {
                break;
            }
            let end = ((e.off + e.len) << bl).min(dir::LEAF_OFFSET);
            let (start, end) = (start / dbs * dbs, end.div_ceil(dbs) * dbs);
            match spans.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end)),
            }
        }
        let total: u64 = spans.iter().map(|(s, e)| e - s).sum();
        if total > MAX_DIR_DATA {
            return Err(corrupt(
                path,
                format!(
                    "directory inode {}: {total} bytes of data blocks",
                    inode.ino
                ),
            ));
        }
        let mut out = Vec::new();
        for (start, end) in spans {
            let mut pos = start;
            while pos < end {
                let len = (end - pos).min(DIR_BATCH.max(dbs));
                let mut buf = vec![0u8; len as usize];
                let pieces = bmap::read_range(&self.ctx, extents, pos, &mut buf, path)?;
                for (i, block) in buf.chunks_exact(dbs as usize).enumerate() {
                    let b_start = i as u64 * dbs;
                    let b_end = b_start + dbs;
                    let mut mapped = 0;
                    let mut phys = None;
                    for p in &pieces {
                        let (s, e) = (p.at.max(b_start), (p.at + p.len).min(b_end));
                        if s < e && p.phys.is_some() {
                            mapped += e - s;
                            if s == b_start {
                                phys = p.phys.map(|ph| ph + (s - p.at));
                            }
                        }
                    }
                    if mapped == 0 {
                        continue; // a freed data block: a hole in the directory
                    }
                    let Some(phys) = phys.filter(|_| mapped == dbs) else {
                        return Err(corrupt(
                            path,
                            format!(
                                "directory inode {}: directory block at offset {} is partly mapped",
                                inode.ino,
                                pos + b_start
                            ),
                        ));
                    };
                    dir::parse_data_block(
                        sb,
                        inode.ino,
                        block,
                        phys,
                        &mut out,
                        MAX_DIR_ENTRIES,
                        path,
                    )?;
                }
                pos += len;
            }
        }
        Ok(out)
    }

    /// The inode at `path`, resolved component by component from the root.
    fn resolve(&self, path: &str) -> Result<Arc<Inode>, FsError> {
        let mut inode = self.inode(self.ctx.sb.root_ino, "/")?;
        let mut walked = 0usize;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            walked += 1;
            if walked > 4096 {
                return Err(FsError::NotFound(path.into()));
            }
            if inode.file_type() != FileType::Directory {
                return Err(FsError::NotADirectory(path.into()));
            }
            let entries = self.dir(&inode, path)?;
            let Ok(i) = entries.binary_search_by(|e| e.name.as_slice().cmp(comp.as_bytes())) else {
                return Err(FsError::NotFound(path.into()));
            };
            inode = self.inode(entries[i].ino, path)?;
        }
        Ok(inode)
    }
}

fn with_path(e: FsError, path: &str) -> FsError {
    match e {
        FsError::Corrupt { message, .. } => FsError::Corrupt {
            path: path.into(),
            message,
        },
        other => other,
    }
}

impl FileSystem for XfsFs {
    fn kind(&self) -> &'static str {
        "xfs"
    }

    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        let inode = self.resolve(path)?;
        Ok(Metadata {
            file_type: inode.file_type(),
            size: inode.size,
            mode: u32::from(inode.mode) & 0o7777,
            uid: inode.uid,
            gid: inode.gid,
            mtime: Some(inode.mtime),
        })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let inode = self.resolve(path)?;
        let entries = self.dir(&inode, path)?;
        let mut out: Vec<DirEntry> = entries
            .iter()
            .map(|e| DirEntry {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                // Without the ftype feature (or with an unknown type) the inode tells.
                file_type: e.ftype.unwrap_or_else(|| {
                    self.inode(e.ino, path)
                        .map_or(FileType::Unknown, |i| i.file_type())
                }),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Symlink {
            return Err(FsError::NotASymlink(path.into()));
        }
        if inode.size == 0 || inode.size > symlink::MAX_LEN {
            return Err(corrupt(
                path,
                format!("symlink inode {} of {} bytes", inode.ino, inode.size),
            ));
        }
        let target = match inode.format {
            FMT_LOCAL => inode
                .fork
                .get(..inode.size as usize)
                .ok_or_else(|| {
                    corrupt(
                        path,
                        format!("symlink inode {}: target larger than its fork", inode.ino),
                    )
                })?
                .to_vec(),
            FMT_EXTENTS => {
                let extents = self.extents(&inode, path)?;
                symlink::read_remote(&self.ctx, &inode, &extents, path)?
            }
            f => {
                return Err(corrupt(
                    path,
                    format!("symlink inode {} has data fork format {f}", inode.ino),
                ));
            }
        };
        Ok(String::from_utf8_lossy(&target).into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Regular {
            return Err(FsError::NotAFile(path.into()));
        }
        if inode.realtime {
            return Err(FsError::Unsupported {
                path: path.into(),
                message: "XFS file on the realtime device".into(),
            });
        }
        if offset >= inode.size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(inode.size - offset) as usize;
        let buf = &mut buf[..n];
        match inode.format {
            FMT_EXTENTS | FMT_BTREE => {
                let extents = self.extents(&inode, path)?;
                bmap::read_range(&self.ctx, &extents, offset, buf, path)?;
            }
            FMT_LOCAL => {
                let data = inode
                    .fork
                    .get(offset as usize..offset as usize + n)
                    .ok_or_else(|| {
                        corrupt(
                            path,
                            format!("inode {}: inline data shorter than the file", inode.ino),
                        )
                    })?;
                buf.copy_from_slice(data);
            }
            f => {
                return Err(corrupt(
                    path,
                    format!("file inode {} has data fork format {f}", inode.ino),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
