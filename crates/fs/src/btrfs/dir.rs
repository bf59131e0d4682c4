//! Inodes and directories ("Data structures": INODE_ITEM, DIR_ITEM, DIR_INDEX).
//!
//! A name is looked up with one search for the DIR_ITEM keyed (directory inode, DIR_ITEM,
//! name hash), whose entries are compared by name (collisions share the item). A listing walks
//! the DIR_INDEX items (directory inode, DIR_INDEX, sequence), one entry each.

use super::items::{
    self, DIR_INDEX_KEY, DIR_ITEM_KEY, DirEntryItem, INODE_ITEM_KEY, InodeItem, parse_dir_items,
};
use super::tree::{Flow, Key, TreeRoot};
use super::{Error, Inner, R, checksum};
use crate::{DirEntry, FileType};

/// `btrfs_dir_item.type` ("Data structures", BTRFS_FT_*).
fn dir_entry_type(t: u8) -> FileType {
    match t {
        1 => FileType::Regular,
        2 => FileType::Directory,
        3 => FileType::CharDevice,
        4 => FileType::BlockDevice,
        5 => FileType::Fifo,
        6 => FileType::Socket,
        7 => FileType::Symlink,
        _ => FileType::Unknown,
    }
}

impl Inner {
    pub fn inode(&self, tree: TreeRoot, ino: u64) -> R<InodeItem> {
        match self.get(tree, Key::new(ino, INODE_ITEM_KEY, 0))? {
            Some(d) => InodeItem::parse(&d),
            None => Err(Error::Corrupt(format!(
                "inode {ino} has no inode item (tree at {:#x})",
                tree.bytenr
            ))),
        }
    }

    /// The entry `name` of directory `dir`.
    pub fn lookup(&self, tree: TreeRoot, dir: u64, name: &[u8]) -> R<Option<DirEntryItem>> {
        if name.is_empty() || name.len() > items::MAX_NAME {
            return Ok(None);
        }
        let key = Key::new(dir, DIR_ITEM_KEY, checksum::name_hash(name));
        let Some(data) = self.get(tree, key)? else {
            return Ok(None);
        };
        Ok(parse_dir_items(&data)?.into_iter().find(|e| e.name == name))
    }

    /// Every entry of directory `dir` (unsorted; `.` and `..` are not stored).
    pub fn list_dir(&self, tree: TreeRoot, dir: u64, max: usize) -> R<Vec<DirEntry>> {
        let mut out = Vec::new();
        self.walk(tree, Key::new(dir, DIR_INDEX_KEY, 0), &mut |k, d| {
            if k.objectid != dir || k.ty != DIR_INDEX_KEY {
                return Ok(Flow::Stop);
            }
            for e in parse_dir_items(d)? {
                out.push(DirEntry {
                    name: String::from_utf8_lossy(&e.name).into_owned(),
                    file_type: dir_entry_type(e.file_type),
                });
            }
            if out.len() > max {
                return Err(Error::Corrupt(format!(
                    "directory {dir} has more than {max} entries"
                )));
            }
            Ok(Flow::Continue)
        })?;
        Ok(out)
    }
}
