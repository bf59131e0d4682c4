//! B-tree nodes and searches ("On-disk format", "Tree nodes"; "Trees").
//!
//! Every node starts with a 101-byte header: csum [32], fsid [16], bytenr u64, flags u64,
//! chunk_tree_uuid [16], generation u64, owner u64, nritems u32, level u8. A leaf (level 0)
//! continues with `nritems` items of key (objectid u64, type u8, offset u64), data offset u32
//! and size u32 (offsets relative to the end of the header); an internal node with `nritems`
//! key pointers of key, blockptr u64 and generation u64.
//!
//! Each node is read whole in one call and checked (checksum, fsid, its own logical address,
//! the level its parent expects, item bounds, key order) before it enters a bounded cache. A
//! search descends through children whose key ranges can hold the key; since levels strictly
//! decrease and every child's keys must lie inside the range its parent gives it, a walk sees
//! keys in strictly increasing order and cannot loop.

use std::sync::Arc;

use preflight_io::le;

use super::{Error, Inner, R};

pub const HEADER: usize = 0x65;
const LEAF_ITEM: usize = 25;
const KEY_PTR: usize = 33;
/// BTRFS_MAX_LEVEL is 8: levels 0..=7.
pub const MAX_LEVEL: u8 = 7;
/// Copies of a node tried (RAID1C4 has four).
const MAX_COPIES: usize = 4;
/// Most nodes one walk may visit before the tree is called hostile (a directory of a million
/// entries or a file of a million extents spans about 5000 leaves).
const WALK_BUDGET: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub objectid: u64,
    pub ty: u8,
    pub offset: u64,
}

impl Key {
    pub const fn new(objectid: u64, ty: u8, offset: u64) -> Key {
        Key {
            objectid,
            ty,
            offset,
        }
    }

    pub fn parse(b: &[u8], at: usize) -> Key {
        Key {
            objectid: le::u64(b, at),
            ty: b.get(at + 8).copied().unwrap_or(0),
            offset: le::u64(b, at + 9),
        }
    }
}

/// Where a tree starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRoot {
    pub bytenr: u64,
    pub level: u8,
}

pub struct Node {
    level: u8,
    nritems: usize,
    data: Vec<u8>,
}

impl Node {
    fn key(&self, i: usize) -> Key {
        let size = if self.level == 0 { LEAF_ITEM } else { KEY_PTR };
        Key::parse(&self.data, HEADER + size * i)
    }

    fn child(&self, i: usize) -> u64 {
        le::u64(&self.data, HEADER + KEY_PTR * i + 17)
    }

    /// Data of leaf item `i` (bounds checked when the node was loaded).
    fn item(&self, i: usize) -> &[u8] {
        let at = HEADER + LEAF_ITEM * i;
        let off = le::u32(&self.data, at + 17) as usize;
        let size = le::u32(&self.data, at + 21) as usize;
        &self.data[HEADER + off..HEADER + off + size]
    }

    /// Check a freshly read node; `data` is exactly one node.
    fn check(inner: &Inner, logical: u64, level: u8, data: Vec<u8>) -> R<Node> {
        let bad = |m: String| Error::Corrupt(format!("tree node at logical {logical:#x}: {m}"));
        inner.sb.csum.verify(&data).map_err(bad)?;
        if data[0x20..0x30] != inner.sb.meta_fsid {
            return Err(bad("belongs to another file system (fsid)".into()));
        }
        let bytenr = le::u64(&data, 0x30);
        if bytenr != logical {
            return Err(bad(format!("records address {bytenr:#x}")));
        }
        let got_level = data[0x64];
        if got_level != level {
            return Err(bad(format!("level {got_level}, expected {level}")));
        }
        let nritems = le::u32(&data, 0x60) as usize;
        let body = data.len() - HEADER;
        let size = if level == 0 { LEAF_ITEM } else { KEY_PTR };
        if nritems > body / size {
            return Err(bad(format!("{nritems} items do not fit")));
        }
        if level > 0 && nritems == 0 {
            return Err(bad("internal node without children".into()));
        }
        let node = Node {
            level,
            nritems,
            data,
        };
        let mut prev: Option<Key> = None;
        for i in 0..nritems {
            let k = node.key(i);
            if prev.is_some_and(|p| p >= k) {
                return Err(bad(format!("keys out of order at item {i}")));
            }
            prev = Some(k);
            if level == 0 {
                let at = HEADER + LEAF_ITEM * i;
                let off = le::u32(&node.data, at + 17) as usize;
                let len = le::u32(&node.data, at + 21) as usize;
                if off < nritems * LEAF_ITEM || off.checked_add(len).is_none_or(|e| e > body) {
                    return Err(bad(format!("item {i} data out of the node")));
                }
            }
        }
        Ok(node)
    }
}

/// What a walk callback wants next.
pub enum Flow {
    Continue,
    Stop,
}

impl Inner {
    /// The node at `logical`, expected at `level`, from the cache or read in one call.
    fn node(&self, logical: u64, level: u8) -> R<Arc<Node>> {
        if let Some(n) = self
            .nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(logical)
        {
            if n.level != level {
                return Err(Error::Corrupt(format!(
                    "tree node at logical {logical:#x}: level {}, expected {level}",
                    n.level
                )));
            }
            return Ok(n);
        }
        // The first good copy (DUP and RAID1 metadata have more than one, as the kernel
        // reads a mirror when a copy fails its checks); the first copy's error otherwise.
        let mut first_err = None;
        let mut node = None;
        for copy in 0..MAX_COPIES {
            let mut data = vec![0u8; self.sb.nodesize as usize];
            match self.read_node_copy(logical, copy, &mut data) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            }
            match Node::check(self, logical, level, data) {
                Ok(n) => {
                    node = Some(n);
                    break;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let node = Arc::new(match node {
            Some(n) => n,
            None => {
                return Err(first_err.unwrap_or_else(|| {
                    Error::Corrupt(format!("tree node at logical {logical:#x}: no copy"))
                }));
            }
        });
        self.nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(logical, Arc::clone(&node));
        Ok(node)
    }

    /// Read copy `copy` of the node at `logical`; false when there is no such copy.
    fn read_node_copy(&self, logical: u64, copy: usize, data: &mut [u8]) -> R<bool> {
        let Some(m) = self.chunks.map_copy(logical, copy)? else {
            return Ok(false);
        };
        if m.len < data.len() as u64 {
            return Err(Error::Corrupt(format!(
                "tree node at logical {logical:#x} crosses a stripe boundary"
            )));
        }
        preflight_io::check_bounds(m.physical, data.len(), self.src.len()).map_err(Error::Io)?;
        self.src.read_at(m.physical, data).map_err(Error::Io)?;
        Ok(true)
    }

    /// Visit, in key order, every item with a key ≥ `from` until `f` says stop.
    pub fn walk(
        &self,
        root: TreeRoot,
        from: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> R<Flow>,
    ) -> R<()> {
        if root.level > MAX_LEVEL {
            return Err(Error::Corrupt(format!(
                "tree root at {:#x}: level {} above {MAX_LEVEL}",
                root.bytenr, root.level
            )));
        }
        let mut budget = WALK_BUDGET;
        self.visit(root.bytenr, root.level, None, None, from, f, &mut budget)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn visit(
        &self,
        logical: u64,
        level: u8,
        lo: Option<Key>,
        hi: Option<Key>,
        from: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> R<Flow>,
        budget: &mut usize,
    ) -> R<Flow> {
        if *budget == 0 {
            return Err(Error::Corrupt(format!(
                "tree walk visited more than {WALK_BUDGET} nodes"
            )));
        }
        *budget -= 1;
        let node = self.node(logical, level)?;
        if node.nritems > 0 {
            let (first, last) = (node.key(0), node.key(node.nritems - 1));
            if lo.is_some_and(|lo| first < lo) || hi.is_some_and(|hi| last >= hi) {
                return Err(Error::Corrupt(format!(
                    "tree node at logical {logical:#x}: keys outside the range its parent gives"
                )));
            }
        }
        if level == 0 {
            for i in 0..node.nritems {
                let k = node.key(i);
                if k < from {
                    continue;
                }
                if let Flow::Stop = f(k, node.item(i))? {
                    return Ok(Flow::Stop);
                }
            }
            return Ok(Flow::Continue);
        }
        // The last child whose first key is ≤ `from` may hold it; later children follow.
        let mut start = 0;
        for i in 0..node.nritems {
            if node.key(i) <= from {
                start = i;
            } else {
                break;
            }
        }
        for i in start..node.nritems {
            let lo = node.key(i);
            let hi = if i + 1 < node.nritems {
                Some(node.key(i + 1))
            } else {
                hi
            };
            if let Flow::Stop =
                self.visit(node.child(i), level - 1, Some(lo), hi, from, f, budget)?
            {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    /// The data of the item with exactly `key`.
    pub fn get(&self, root: TreeRoot, key: Key) -> R<Option<Vec<u8>>> {
        let mut out = None;
        self.walk(root, key, &mut |k, d| {
            if k == key {
                out = Some(d.to_vec());
            }
            Ok(Flow::Stop)
        })?;
        Ok(out)
    }

    /// The first item with `objectid` and `ty` at or after `key` (any offset).
    pub fn first_of(&self, root: TreeRoot, key: Key) -> R<Option<(Key, Vec<u8>)>> {
        let mut out = None;
        self.walk(root, key, &mut |k, d| {
            if k.objectid == key.objectid && k.ty == key.ty {
                out = Some((k, d.to_vec()));
            }
            Ok(Flow::Stop)
        })?;
        Ok(out)
    }

    /// The greatest key ≤ `key`, if any.
    pub fn prev_or_eq(&self, root: TreeRoot, key: Key) -> R<Option<Key>> {
        if root.level > MAX_LEVEL {
            return Err(Error::Corrupt(format!(
                "tree root at {:#x}: level {} above {MAX_LEVEL}",
                root.bytenr, root.level
            )));
        }
        let (mut logical, mut level) = (root.bytenr, root.level);
        loop {
            let node = self.node(logical, level)?;
            let mut found = None;
            for i in 0..node.nritems {
                if node.key(i) <= key {
                    found = Some(i);
                } else {
                    break;
                }
            }
            let Some(i) = found else {
                return Ok(None);
            };
            if level == 0 {
                return Ok(Some(node.key(i)));
            }
            logical = node.child(i);
            level -= 1;
        }
    }
}
