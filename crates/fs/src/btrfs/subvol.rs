//! Subvolumes ("Trees": the root tree; "Data structures": ROOT_ITEM, ROOT_REF, ROOT_BACKREF,
//! and the root tree's DIR_ITEM "default").
//!
//! Each subvolume is a file tree whose ROOT_ITEM (id, ROOT_ITEM, 0 — or a transid for
//! snapshots) in the root tree gives its root node. A subvolume linked into a directory of
//! another has a ROOT_REF (parent, ROOT_REF, child) and a ROOT_BACKREF (child, ROOT_BACKREF,
//! parent), both holding the directory's inode number and the entry's name. The default
//! subvolume is the location of the DIR_ITEM named "default" of inode 6 of the root tree.

use std::collections::{BTreeMap, HashSet};

use super::items::{
    self, DIR_ITEM_KEY, FIRST_FREE_OBJECTID, FS_TREE_OBJECTID, INODE_REF_KEY, LAST_FREE_OBJECTID,
    ROOT_BACKREF_KEY, ROOT_ITEM_KEY, ROOT_REF_KEY, ROOT_TREE_DIR_OBJECTID, RootItem, RootRef,
};
use super::tree::{Flow, Key, MAX_LEVEL, TreeRoot};
use super::{Error, Inner, R, checksum};

/// Subvolumes listed before the root tree is called hostile.
const MAX_SUBVOLUMES: usize = 1 << 16;
/// Directory levels walked up from a subvolume's directory to its parent's root.
const MAX_DEPTH: usize = 4096;

/// Which subvolume to open: fstab/rootflags `subvolid=` or `subvol=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubvolSelector {
    Id(u64),
    /// A path from the top level (leading `/` optional), e.g. `@` or `/@/var/lib/machines`.
    Path(String),
}

/// One line of `btrfs subvolume list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subvolume {
    pub id: u64,
    /// The generation of its root item (`gen`).
    pub generation: u64,
    /// The subvolume it is linked in (`top level`).
    pub parent_id: u64,
    /// The path from the top level (`path`).
    pub path: String,
    /// Its name in its parent directory.
    pub name: String,
}

#[derive(Debug, Clone, Copy)]
pub struct RootInfo {
    pub tree: TreeRoot,
    pub root_dirid: u64,
    pub generation: u64,
}

impl Inner {
    /// The root item of tree `id` (cached).
    pub fn root(&self, id: u64) -> R<Option<RootInfo>> {
        if let Some(r) = self
            .roots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(*r);
        }
        // The last ROOT_ITEM of the tree (the kernel searches with offset -1; snapshots carry
        // their creation transid as offset).
        let found = match self.prev_or_eq(self.root_tree, Key::new(id, ROOT_ITEM_KEY, u64::MAX))? {
            Some(k) if k.objectid == id && k.ty == ROOT_ITEM_KEY => self.get(self.root_tree, k)?,
            _ => None,
        };
        let info = match found {
            None => None,
            Some(data) => {
                let r = RootItem::parse(&data)?;
                if r.level > MAX_LEVEL {
                    return Err(Error::Corrupt(format!(
                        "root item of tree {id}: level {}",
                        r.level
                    )));
                }
                Some(RootInfo {
                    tree: TreeRoot {
                        bytenr: r.bytenr,
                        level: r.level,
                    },
                    root_dirid: r.root_dirid,
                    generation: r.generation,
                })
            }
        };
        let mut roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
        if roots.len() < MAX_SUBVOLUMES {
            roots.insert(id, info);
        }
        Ok(info)
    }

    /// The default subvolume id (5 when the root tree names none).
    pub fn default_subvol(&self) -> R<u64> {
        let key = Key::new(
            ROOT_TREE_DIR_OBJECTID,
            DIR_ITEM_KEY,
            checksum::name_hash(b"default"),
        );
        let Some(data) = self.get(self.root_tree, key)? else {
            return Ok(FS_TREE_OBJECTID);
        };
        Ok(items::parse_dir_items(&data)?
            .into_iter()
            .find(|e| e.name == b"default")
            .map_or(FS_TREE_OBJECTID, |e| e.location.objectid))
    }

    /// True when the root tree links subvolume `child` into directory `dir` of `parent` under
    /// `name` (the kernel follows such an entry; without the ref it shows an empty directory).
    pub fn root_ref_matches(&self, parent: u64, child: u64, dir: u64, name: &[u8]) -> R<bool> {
        let Some(data) = self.get(self.root_tree, Key::new(parent, ROOT_REF_KEY, child))? else {
            return Ok(false);
        };
        let r = RootRef::parse(&data)?;
        Ok(r.dirid == dir && r.name == name)
    }

    /// The path of directory `dir` inside subvolume `root` (empty for its root directory).
    fn dir_path(&self, root: u64, mut dir: u64) -> R<String> {
        let info = self
            .root(root)?
            .ok_or_else(|| Error::Corrupt(format!("subvolume {root} has no root item")))?;
        let mut names: Vec<String> = Vec::new();
        while dir != info.root_dirid {
            if names.len() >= MAX_DEPTH {
                return Err(Error::Corrupt(format!(
                    "directory {dir} of subvolume {root} is deeper than {MAX_DEPTH} levels"
                )));
            }
            let (k, data) = self
                .first_of(info.tree, Key::new(dir, INODE_REF_KEY, 0))?
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "directory {dir} of subvolume {root} has no inode ref"
                    ))
                })?;
            names.push(String::from_utf8_lossy(&items::first_inode_ref_name(&data)?).into_owned());
            if k.offset == dir {
                return Err(Error::Corrupt(format!("directory {dir} is its own parent")));
            }
            dir = k.offset;
        }
        names.reverse();
        Ok(names.join("/"))
    }

    /// Every linked subvolume, by id.
    pub fn subvolumes(&self) -> R<Vec<Subvolume>> {
        // (child, parent, ref) from the ROOT_BACKREF items.
        let mut refs: BTreeMap<u64, (u64, RootRef)> = BTreeMap::new();
        let mut err = None;
        self.walk(
            self.root_tree,
            Key::new(FIRST_FREE_OBJECTID, 0, 0),
            &mut |k, d| {
                if k.objectid > LAST_FREE_OBJECTID {
                    return Ok(Flow::Stop);
                }
                if k.ty == ROOT_BACKREF_KEY {
                    match RootRef::parse(d) {
                        Ok(r) => {
                            refs.entry(k.objectid).or_insert((k.offset, r));
                        }
                        Err(e) => err = Some(e),
                    }
                    if refs.len() > MAX_SUBVOLUMES {
                        return Err(Error::Corrupt(format!(
                            "more than {MAX_SUBVOLUMES} subvolumes"
                        )));
                    }
                }
                Ok(Flow::Continue)
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        let mut paths: BTreeMap<u64, String> = BTreeMap::new();
        let mut out = Vec::new();
        for &id in refs.keys() {
            let path = self.subvol_path(id, &refs, &mut paths, &mut HashSet::new())?;
            let (parent, r) = &refs[&id];
            let generation = self.root(id)?.map_or(0, |i| i.generation);
            out.push(Subvolume {
                id,
                generation,
                parent_id: *parent,
                path,
                name: String::from_utf8_lossy(&r.name).into_owned(),
            });
        }
        Ok(out)
    }

    fn subvol_path(
        &self,
        id: u64,
        refs: &BTreeMap<u64, (u64, RootRef)>,
        memo: &mut BTreeMap<u64, String>,
        visiting: &mut HashSet<u64>,
    ) -> R<String> {
        if id == FS_TREE_OBJECTID {
            return Ok(String::new());
        }
        if let Some(p) = memo.get(&id) {
            return Ok(p.clone());
        }
        if !visiting.insert(id) {
            return Err(Error::Corrupt(format!(
                "subvolume {id} is linked inside itself"
            )));
        }
        let (parent, r) = refs
            .get(&id)
            .ok_or_else(|| Error::Corrupt(format!("subvolume {id} is not linked anywhere")))?;
        let base = self.subvol_path(*parent, refs, memo, visiting)?;
        let dir = self.dir_path(*parent, r.dirid)?;
        let name = String::from_utf8_lossy(&r.name).into_owned();
        let path = [base, dir, name]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        memo.insert(id, path.clone());
        Ok(path)
    }
}
