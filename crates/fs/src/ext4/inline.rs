//! A small read-only ext4 reader for file systems with the `inline_data` feature, which
//! `ext4-view` 1.0 refuses to load at all. Written from the kernel's
//! `Documentation/filesystems/ext4/` ("The Super Block", "Block Group Descriptors", "Index
//! Nodes", "The Contents of inode.i_block" (extent trees), "Inline Data", "Extended
//! Attributes", "Directory Entries").
//!
//! What it reads: the superblock, the group descriptor of each inode it needs, inodes, extent
//! trees, directory blocks (read linearly: hash-tree index blocks look like empty entries and
//! are skipped), and for inline inodes the 60 bytes of `i_block` followed by the value of the
//! in-inode `system.data` extended attribute. Checksums (metadata_csum) are not verified and
//! the journal is not replayed: a cleanly unmounted file system reads as the kernel shows it.
//! Files mapped by indirect blocks (ext2/3 style, no `extents` flag) are read through their
//! block map, so the reader also serves as the fallback for inodes ext4-view refuses (it
//! rejects timestamps whose 32-bit base field is negative: times after 2038 and before 1970).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use preflight_io::{IoError, Source, le, read_vec};

use crate::{DirEntry, FileType, FsError, MAX_DIR_ENTRIES, Metadata};

/// INCOMPAT_INLINE_DATA.
pub const INCOMPAT_INLINE_DATA: u32 = 0x8000;
/// INCOMPAT_LARGEDIR (3-level hash trees, directories over 2 GiB: read linearly here).
const INCOMPAT_LARGEDIR: u32 = 0x4000;
/// INCOMPAT_EA_INODE (large attribute values in their own inodes: never needed here).
const INCOMPAT_EA_INODE: u32 = 0x400;
/// The features for which [`InlineExt4`] reads the file system instead of ext4-view.
pub const OWN_READER_FEATURES: u32 = INCOMPAT_INLINE_DATA | INCOMPAT_LARGEDIR | INCOMPAT_EA_INODE;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_COMPRESSION: u32 = 0x1;
const INCOMPAT_DIRDATA: u32 = 0x1000;
const FL_EXTENTS: u32 = 0x8_0000;
const FL_INLINE_DATA: u32 = 0x1000_0000;
const FL_ENCRYPT: u32 = 0x800;
const ROOT_INO: u32 = 2;
/// Largest single read, directory size, extents per file, extent-tree nodes per file.
const MAX_READ: u64 = 4 << 20;
const MAX_DIR_BYTES: u64 = 256 << 20;
const MAX_EXTENTS: usize = 1 << 20;
const MAX_NODES: usize = 1 << 16;
const DIR_CACHE_ENTRIES: usize = 256 * 1024;
const MAX_DEPTH: usize = 4096;
const MAX_SYMLINK: u64 = 4096;

fn corrupt(path: &str, message: impl Into<String>) -> FsError {
    FsError::Corrupt {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        message: format!("ext4: {}", message.into()),
    }
}

fn io_err(path: &str) -> impl FnOnce(IoError) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_string(),
        source,
    }
}

struct Super {
    block: u64,
    inodes_count: u32,
    inodes_per_group: u32,
    inode_size: u64,
    first_data_block: u64,
    desc_size: u64,
    blocks_count: u64,
    filetype: bool,
}

impl Super {
    fn parse(b: &[u8]) -> Result<Super, String> {
        if b.len() < 1024 || le::u16(b, 0x38) != 0xEF53 {
            return Err("no ext4 superblock magic at byte 1080".into());
        }
        let log = le::u32(b, 0x18);
        if log > 6 {
            return Err(format!("s_log_block_size at byte 1048 is {log}"));
        }
        let block = 1024u64 << log;
        let incompat = le::u32(b, 0x60);
        for (bit, name) in [
            (INCOMPAT_COMPRESSION, "compression"),
            (INCOMPAT_META_BG, "meta_bg"),
            (INCOMPAT_DIRDATA, "dirdata"),
        ] {
            if incompat & bit != 0 {
                return Err(format!("unsupported feature {name}"));
            }
        }
        let inodes_per_group = le::u32(b, 0x28);
        let inode_size = if le::u32(b, 0x4C) == 0 {
            128
        } else {
            u64::from(le::u16(b, 0x58))
        };
        if inodes_per_group == 0
            || !(128..=block).contains(&inode_size)
            || !inode_size.is_power_of_two()
        {
            return Err(format!(
                "s_inodes_per_group {inodes_per_group}, s_inode_size {inode_size}"
            ));
        }
        let desc_size = if incompat & INCOMPAT_64BIT != 0 {
            u64::from(le::u16(b, 0xFE))
        } else {
            32
        };
        if !(32..=1024).contains(&desc_size) {
            return Err(format!("s_desc_size at byte 1278 is {desc_size}"));
        }
        let hi = if incompat & INCOMPAT_64BIT != 0 {
            u64::from(le::u32(b, 0x150))
        } else {
            0
        };
        Ok(Super {
            block,
            inodes_count: le::u32(b, 0),
            inodes_per_group,
            inode_size,
            first_data_block: u64::from(le::u32(b, 0x14)),
            desc_size,
            blocks_count: u64::from(le::u32(b, 4)) | (hi << 32),
            filetype: incompat & INCOMPAT_FILETYPE != 0,
        })
    }
}

/// The parts of an inode the reader uses.
#[derive(Clone)]
struct Inode {
    ino: u32,
    mode: u16,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    flags: u32,
    i_block: [u8; 60],
    /// The value of `system.data` (inline inodes only).
    inline_tail: Vec<u8>,
}

impl Inode {
    fn file_type(&self) -> FileType {
        match self.mode & 0xF000 {
            0x8000 => FileType::Regular,
            0x4000 => FileType::Directory,
            0xA000 => FileType::Symlink,
            0x2000 => FileType::CharDevice,
            0x6000 => FileType::BlockDevice,
            0x1000 => FileType::Fifo,
            0xC000 => FileType::Socket,
            _ => FileType::Unknown,
        }
    }

    fn inline(&self) -> bool {
        self.flags & FL_INLINE_DATA != 0
    }

    /// Inline data: `i_block` then `system.data`, cut to the file size.
    fn inline_bytes(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let mut data = self.i_block.to_vec();
        data.extend_from_slice(&self.inline_tail);
        if self.size > data.len() as u64 {
            return Err(corrupt(
                path,
                format!(
                    "inode {}: {} bytes of inline data for a size of {}",
                    self.ino,
                    data.len(),
                    self.size
                ),
            ));
        }
        data.truncate(self.size as usize);
        Ok(data)
    }
}

/// The value of the `system.data` attribute among the in-inode extended attributes that
/// follow `i_extra_isize` (magic 0xEA020000, then entries; values are placed relative to the
/// first entry).
fn system_data(raw: &[u8], ino: u32, path: &str) -> Result<Option<Vec<u8>>, FsError> {
    let extra = usize::from(le::u16(raw, 0x80));
    let start = 0x80 + extra;
    if raw.len() <= 0x80 || start + 4 > raw.len() || le::u32(raw, start) != 0xEA02_0000 {
        return Ok(None);
    }
    let area = &raw[start + 4..];
    let mut at = 0usize;
    while at + 16 <= area.len() {
        if le::u32(area, at) == 0 {
            break;
        }
        let name_len = usize::from(area[at]);
        let index = area[at + 1];
        let value_offs = usize::from(le::u16(area, at + 2));
        let value_inum = le::u32(area, at + 4);
        let value_size = le::u32(area, at + 8) as usize;
        let name = area.get(at + 16..at + 16 + name_len).ok_or_else(|| {
            corrupt(
                path,
                format!("inode {ino}: extended attribute name past the inode"),
            )
        })?;
        if index == 7 && name == b"data" {
            if value_inum != 0 {
                return Err(corrupt(
                    path,
                    format!("inode {ino}: system.data stored in inode {value_inum}"),
                ));
            }
            let value = area
                .get(value_offs..value_offs.saturating_add(value_size))
                .ok_or_else(|| {
                    corrupt(
                        path,
                        format!(
                            "inode {ino}: system.data value at {value_offs} (+{value_size}) past the inode"
                        ),
                    )
                })?;
            return Ok(Some(value.to_vec()));
        }
        at += (16 + name_len + 3) & !3;
    }
    Ok(None)
}

/// A leaf extent: logical block, length, physical block, unwritten.
#[derive(Clone, Copy, Debug)]
struct Extent {
    logical: u64,
    len: u64,
    phys: u64,
    unwritten: bool,
}

/// Extents gathered from a block map.
struct BlockMap {
    out: Vec<Extent>,
    logical: u64,
    need: u64,
    seen: HashSet<u64>,
}

impl BlockMap {
    fn push(&mut self, phys: u64, ino: u32, path: &str) -> Result<(), FsError> {
        if self.logical >= self.need {
            return Ok(());
        }
        if phys != 0 {
            match self.out.last_mut() {
                Some(e) if e.logical + e.len == self.logical && e.phys + e.len == phys => {
                    e.len += 1;
                }
                _ => {
                    if self.out.len() >= MAX_EXTENTS {
                        return Err(corrupt(path, format!("inode {ino}: too many extents")));
                    }
                    self.out.push(Extent {
                        logical: self.logical,
                        len: 1,
                        phys,
                        unwritten: false,
                    });
                }
            }
        }
        self.logical += 1;
        Ok(())
    }
}

#[derive(Clone)]
struct RawEntry {
    name: Vec<u8>,
    ino: u32,
    ftype: u8,
}

/// Parsed directories by inode number, and their total entry count.
type DirCache = (HashMap<u32, Arc<Vec<RawEntry>>>, usize);

pub struct InlineExt4 {
    src: Source,
    sb: Super,
    dirs: Mutex<DirCache>,
    /// Inode table block of each group looked up so far.
    tables: Mutex<HashMap<u64, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl InlineExt4 {
    pub fn open(src: Source) -> Result<InlineExt4, FsError> {
        let b = read_vec(&*src, 1024, 1024, 1024).map_err(io_err("/"))?;
        let sb = Super::parse(&b).map_err(|m| corrupt("/", m))?;
        let fs = InlineExt4 {
            src,
            sb,
            dirs: Mutex::new((HashMap::new(), 0)),
            tables: Mutex::new(HashMap::new()),
        };
        let root = fs.inode(ROOT_INO, "/")?;
        if root.file_type() != FileType::Directory {
            return Err(corrupt("/", "the root inode is not a directory"));
        }
        Ok(fs)
    }

    fn read(&self, offset: u64, len: u64, path: &str) -> Result<Vec<u8>, FsError> {
        read_vec(&*self.src, offset, len, MAX_READ).map_err(io_err(path))
    }

    fn block_offset(&self, block: u64, path: &str) -> Result<u64, FsError> {
        if block >= self.sb.blocks_count {
            return Err(corrupt(
                path,
                format!(
                    "block {block} outside the file system ({} blocks)",
                    self.sb.blocks_count
                ),
            ));
        }
        block
            .checked_mul(self.sb.block)
            .ok_or_else(|| corrupt(path, format!("block {block} beyond any byte offset")))
    }

    fn inode(&self, ino: u32, path: &str) -> Result<Inode, FsError> {
        let sb = &self.sb;
        if ino == 0 || ino > sb.inodes_count {
            return Err(corrupt(path, format!("inode number {ino} out of range")));
        }
        let group = u64::from((ino - 1) / sb.inodes_per_group);
        let index = u64::from((ino - 1) % sb.inodes_per_group);
        let cached = lock(&self.tables).get(&group).copied();
        let table = match cached {
            Some(t) => t,
            None => {
                let desc_at = (sb.first_data_block + 1) * sb.block + group * sb.desc_size;
                let desc = self.read(desc_at, sb.desc_size, path)?;
                let mut table = u64::from(le::u32(&desc, 0x8));
                if sb.desc_size >= 64 {
                    table |= u64::from(le::u32(&desc, 0x28)) << 32;
                }
                let mut tables = lock(&self.tables);
                if tables.len() >= 65_536 {
                    tables.clear();
                }
                tables.insert(group, table);
                table
            }
        };
        let at = self.block_offset(table, path)? + index * sb.inode_size;
        let raw = self.read(at, sb.inode_size, path)?;
        let mode = le::u16(&raw, 0);
        let flags = le::u32(&raw, 0x20);
        let mut i_block = [0u8; 60];
        i_block.copy_from_slice(&raw[0x28..0x28 + 60]);
        let extra = usize::from(le::u16(&raw, 0x80));
        let mut mtime = i64::from(le::u32(&raw, 0x10) as i32);
        if raw.len() > 0x80 && extra >= 12 && 0x80 + extra <= raw.len() {
            // Bits 0-1 of i_mtime_extra extend the seconds (epoch bits).
            mtime += i64::from(le::u32(&raw, 0x88) & 3) << 32;
        }
        let inline_tail = if flags & FL_INLINE_DATA != 0 {
            system_data(&raw, ino, path)?.unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Inode {
            ino,
            mode,
            uid: u32::from(le::u16(&raw, 2)) | (u32::from(le::u16(&raw, 0x78)) << 16),
            gid: u32::from(le::u16(&raw, 0x18)) | (u32::from(le::u16(&raw, 0x7A)) << 16),
            size: u64::from(le::u32(&raw, 4)) | (u64::from(le::u32(&raw, 0x6C)) << 32),
            mtime,
            flags,
            i_block,
            inline_tail,
        })
    }

    /// Every leaf extent of a file, in logical order, walking the tree with a depth limit
    /// and refusing a node seen twice.
    fn extents(&self, inode: &Inode, path: &str) -> Result<Vec<Extent>, FsError> {
        if inode.flags & FL_EXTENTS == 0 {
            return self.block_map(inode, path);
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.extent_node(&inode.i_block, None, inode, &mut out, &mut seen, path)?;
        out.sort_by_key(|e| e.logical);
        Ok(out)
    }

    /// The extents of an inode mapped by direct and (double, triple) indirect blocks, up to
    /// the blocks its size needs; zero pointers are holes.
    fn block_map(&self, inode: &Inode, path: &str) -> Result<Vec<Extent>, FsError> {
        let need = inode.size.div_ceil(self.sb.block);
        let mut map = BlockMap {
            out: Vec::new(),
            logical: 0,
            need,
            seen: HashSet::new(),
        };
        for i in 0..12 {
            map.push(u64::from(le::u32(&inode.i_block, i * 4)), inode.ino, path)?;
        }
        for level in 1..=3u32 {
            let ptr = u64::from(le::u32(&inode.i_block, 44 + level as usize * 4));
            self.indirect(ptr, level, &mut map, inode.ino, path)?;
        }
        Ok(map.out)
    }

    fn indirect(
        &self,
        ptr: u64,
        level: u32,
        map: &mut BlockMap,
        ino: u32,
        path: &str,
    ) -> Result<(), FsError> {
        if map.logical >= map.need {
            return Ok(());
        }
        let per = self.sb.block / 4;
        if ptr == 0 {
            let span = per.saturating_pow(level);
            map.logical = map.logical.saturating_add(span).min(map.need);
            return Ok(());
        }
        if !map.seen.insert(ptr) || map.seen.len() > MAX_NODES {
            return Err(corrupt(
                path,
                format!("inode {ino}: indirect block {ptr} visited twice"),
            ));
        }
        let at = self.block_offset(ptr, path)?;
        let block = self.read(at, self.sb.block, path)?;
        for i in 0..per as usize {
            let p = u64::from(le::u32(&block, i * 4));
            if level == 1 {
                map.push(p, ino, path)?;
            } else {
                self.indirect(p, level - 1, map, ino, path)?;
            }
            if map.logical >= map.need {
                break;
            }
        }
        Ok(())
    }

    fn extent_node(
        &self,
        node: &[u8],
        expect_depth: Option<u16>,
        inode: &Inode,
        out: &mut Vec<Extent>,
        seen: &mut HashSet<u64>,
        path: &str,
    ) -> Result<(), FsError> {
        let ino = inode.ino;
        if le::u16(node, 0) != 0xF30A {
            return Err(corrupt(
                path,
                format!("inode {ino}: bad extent header magic"),
            ));
        }
        let entries = usize::from(le::u16(node, 2));
        let depth = le::u16(node, 6);
        if depth > 5 || expect_depth.is_some_and(|d| d != depth) {
            return Err(corrupt(
                path,
                format!("inode {ino}: extent node of depth {depth}"),
            ));
        }
        if 12 + entries * 12 > node.len() {
            return Err(corrupt(
                path,
                format!("inode {ino}: {entries} extent entries do not fit their node"),
            ));
        }
        for i in 0..entries {
            let e = &node[12 + i * 12..24 + i * 12];
            if depth == 0 {
                let raw_len = u64::from(le::u16(e, 4));
                let (len, unwritten) = if raw_len > 32768 {
                    (raw_len - 32768, true)
                } else {
                    (raw_len, false)
                };
                let phys = (u64::from(le::u16(e, 6)) << 32) | u64::from(le::u32(e, 8));
                if out.len() >= MAX_EXTENTS {
                    return Err(corrupt(path, format!("inode {ino}: too many extents")));
                }
                out.push(Extent {
                    logical: u64::from(le::u32(e, 0)),
                    len,
                    phys,
                    unwritten,
                });
            } else {
                let child = u64::from(le::u32(e, 4)) | (u64::from(le::u16(e, 8)) << 32);
                if !seen.insert(child) || seen.len() > MAX_NODES {
                    return Err(corrupt(
                        path,
                        format!("inode {ino}: extent tree block {child} visited twice"),
                    ));
                }
                let at = self.block_offset(child, path)?;
                let block = self.read(at, self.sb.block, path)?;
                self.extent_node(&block, Some(depth - 1), inode, out, seen, path)?;
            }
        }
        Ok(())
    }

    /// Read `buf.len()` bytes of a block-mapped file at `offset` (holes and unwritten extents
    /// read as zeros); the caller has cut `buf` to the file size.
    fn read_mapped(
        &self,
        extents: &[Extent],
        offset: u64,
        buf: &mut [u8],
        path: &str,
    ) -> Result<(), FsError> {
        buf.fill(0);
        let bs = self.sb.block;
        let end = offset + buf.len() as u64;
        for e in extents {
            let (s, t) = (e.logical * bs, (e.logical + e.len) * bs);
            let (a, b) = (s.max(offset), t.min(end));
            if a >= b || e.unwritten {
                continue;
            }
            if e.phys.saturating_add(e.len) > self.sb.blocks_count {
                return Err(corrupt(
                    path,
                    format!(
                        "extent at block {} (+{}) outside the file system",
                        e.phys, e.len
                    ),
                ));
            }
            let at = self.block_offset(e.phys, path)? + (a - s);
            let dst = &mut buf[(a - offset) as usize..(b - offset) as usize];
            preflight_io::check_bounds(at, dst.len(), self.src.len()).map_err(io_err(path))?;
            self.src.read_at(at, dst).map_err(io_err(path))?;
        }
        Ok(())
    }

    fn dir(&self, inode: &Inode, path: &str) -> Result<Arc<Vec<RawEntry>>, FsError> {
        if inode.file_type() != FileType::Directory {
            return Err(FsError::NotADirectory(path.into()));
        }
        if let Some(d) = lock(&self.dirs).0.get(&inode.ino) {
            return Ok(Arc::clone(d));
        }
        let mut out = Vec::new();
        if inode.inline() {
            // The parent's number, then entries in the rest of i_block and in system.data.
            parse_entries(&inode.i_block[4..], inode.ino, &mut out, path)?;
            parse_entries(&inode.inline_tail, inode.ino, &mut out, path)?;
        } else {
            if inode.size > MAX_DIR_BYTES {
                return Err(corrupt(
                    path,
                    format!("directory inode {} of {} bytes", inode.ino, inode.size),
                ));
            }
            let extents = self.extents(inode, path)?;
            let bs = self.sb.block;
            let mut pos = 0;
            while pos < inode.size {
                let len = (inode.size - pos).min(MAX_READ) / bs * bs;
                let len = len.max(bs.min(inode.size - pos));
                let mut buf = vec![0u8; len as usize];
                self.read_mapped(&extents, pos, &mut buf, path)?;
                for block in buf.chunks(bs as usize) {
                    parse_entries(block, inode.ino, &mut out, path)?;
                }
                pos += len;
            }
        }
        out.retain(|e| e.name != b"." && e.name != b"..");
        if out.len() > MAX_DIR_ENTRIES {
            return Err(corrupt(
                path,
                format!("more than {MAX_DIR_ENTRIES} entries"),
            ));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        let out = Arc::new(out);
        let mut cache = lock(&self.dirs);
        let (map, weight) = &mut *cache;
        if *weight + out.len() > DIR_CACHE_ENTRIES {
            map.clear();
            *weight = 0;
        }
        *weight += out.len();
        map.insert(inode.ino, Arc::clone(&out));
        Ok(out)
    }

    fn resolve(&self, path: &str) -> Result<Inode, FsError> {
        let mut inode = self.inode(ROOT_INO, path)?;
        for (depth, comp) in path.split('/').filter(|c| !c.is_empty()).enumerate() {
            if depth >= MAX_DEPTH {
                return Err(FsError::NotFound(path.into()));
            }
            let entries = self.dir(&inode, path)?;
            let Ok(i) = entries.binary_search_by(|e| e.name.as_slice().cmp(comp.as_bytes())) else {
                return Err(FsError::NotFound(path.into()));
            };
            inode = self.inode(entries[i].ino, path)?;
        }
        Ok(inode)
    }

    pub fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
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

    pub fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let inode = self.resolve(path)?;
        let entries = self.dir(&inode, path)?;
        Ok(entries
            .iter()
            .map(|e| DirEntry {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                file_type: match (self.sb.filetype, e.ftype) {
                    (true, 1) => FileType::Regular,
                    (true, 2) => FileType::Directory,
                    (true, 3) => FileType::CharDevice,
                    (true, 4) => FileType::BlockDevice,
                    (true, 5) => FileType::Fifo,
                    (true, 6) => FileType::Socket,
                    (true, 7) => FileType::Symlink,
                    _ => self
                        .inode(e.ino, path)
                        .map_or(FileType::Unknown, |i| i.file_type()),
                },
            })
            .collect())
    }

    pub fn read_link(&self, path: &str) -> Result<String, FsError> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Symlink {
            return Err(FsError::NotASymlink(path.into()));
        }
        if inode.size > MAX_SYMLINK {
            return Err(corrupt(
                path,
                format!("symlink inode {} of {} bytes", inode.ino, inode.size),
            ));
        }
        let target = if inode.inline() {
            inode.inline_bytes(path)?
        } else if inode.flags & FL_EXTENTS == 0 && inode.size < 60 {
            inode.i_block[..inode.size as usize].to_vec()
        } else {
            let extents = self.extents(&inode, path)?;
            let mut buf = vec![0u8; inode.size as usize];
            self.read_mapped(&extents, 0, &mut buf, path)?;
            buf
        };
        Ok(String::from_utf8_lossy(&target).into_owned())
    }

    pub fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Regular {
            return Err(FsError::NotAFile(path.into()));
        }
        if inode.flags & FL_ENCRYPT != 0 {
            return Err(FsError::Unsupported {
                path: path.into(),
                message: "file is encrypted (fscrypt)".into(),
            });
        }
        if offset >= inode.size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(inode.size - offset) as usize;
        let buf = &mut buf[..n];
        if inode.inline() {
            let data = inode.inline_bytes(path)?;
            buf.copy_from_slice(&data[offset as usize..offset as usize + n]);
        } else {
            let extents = self.extents(&inode, path)?;
            self.read_mapped(&extents, offset, buf, path)?;
        }
        Ok(n)
    }
}

/// `ext4_dir_entry_2` records filling `buf` (a directory block or an inline region).
fn parse_entries(
    buf: &[u8],
    dir_ino: u32,
    out: &mut Vec<RawEntry>,
    path: &str,
) -> Result<(), FsError> {
    let mut at = 0usize;
    while at + 8 <= buf.len() {
        let ino = le::u32(buf, at);
        let rec_len = usize::from(le::u16(buf, at + 4));
        let name_len = usize::from(buf[at + 6]);
        let ftype = buf[at + 7];
        if rec_len < 8 || rec_len % 4 != 0 || at + rec_len > buf.len() || 8 + name_len > rec_len {
            return Err(corrupt(
                path,
                format!(
                    "directory inode {dir_ino}: bad entry at byte {at} (rec_len {rec_len}, name_len {name_len})"
                ),
            ));
        }
        if ino != 0 && name_len > 0 {
            out.push(RawEntry {
                name: buf[at + 8..at + 8 + name_len].to_vec(),
                ino,
                ftype,
            });
            if out.len() > MAX_DIR_ENTRIES {
                return Err(corrupt(
                    path,
                    format!("more than {MAX_DIR_ENTRIES} entries"),
                ));
            }
        }
        at += rec_len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_bad_rec_lens() {
        let mut b = vec![0u8; 24];
        b[0..4].copy_from_slice(&12u32.to_le_bytes());
        b[4..6].copy_from_slice(&12u16.to_le_bytes());
        b[6] = 1;
        b[7] = 1;
        b[8] = b'a';
        b[16..18].copy_from_slice(&8u16.to_le_bytes()); // inode 0: an empty slot
        b[12..16].copy_from_slice(&0u32.to_le_bytes());
        b[12 + 4..12 + 6].copy_from_slice(&12u16.to_le_bytes());
        let mut out = Vec::new();
        parse_entries(&b, 2, &mut out, "/").unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, b"a");
        b[4..6].copy_from_slice(&4u16.to_le_bytes());
        assert!(parse_entries(&b, 2, &mut Vec::new(), "/").is_err());
    }

    #[test]
    fn system_data_is_found_among_ibody_attributes() {
        let mut raw = vec![0u8; 256];
        raw[0x80..0x82].copy_from_slice(&32u16.to_le_bytes());
        let start = 0x80 + 32;
        raw[start..start + 4].copy_from_slice(&0xEA02_0000u32.to_le_bytes());
        let first = start + 4;
        // Entry: "data" in the system index, value at 40 from the first entry, 5 bytes.
        raw[first] = 4;
        raw[first + 1] = 7;
        raw[first + 2..first + 4].copy_from_slice(&40u16.to_le_bytes());
        raw[first + 8..first + 12].copy_from_slice(&5u32.to_le_bytes());
        raw[first + 16..first + 20].copy_from_slice(b"data");
        raw[first + 40..first + 45].copy_from_slice(b"hello");
        assert_eq!(system_data(&raw, 12, "/x").unwrap().unwrap(), b"hello");
        raw[first + 2..first + 4].copy_from_slice(&200u16.to_le_bytes());
        assert!(system_data(&raw, 12, "/x").is_err());
    }
}
