//! An in-memory file system for tests of the layers above (guest, facts).

use std::collections::BTreeMap;

use crate::{DirEntry, FileSystem, FileType, FsError, Metadata};

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(String),
}

/// Paths are absolute; parent directories are created implicitly.
#[derive(Debug, Clone)]
pub struct MemFs {
    nodes: BTreeMap<String, Node>,
}

impl Default for MemFs {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), Node::Dir);
        MemFs { nodes }
    }
}

impl MemFs {
    pub fn new() -> Self {
        Self::default()
    }

    fn add_parents(&mut self, path: &str) {
        let mut p = path;
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            let dir = if p.is_empty() { "/" } else { p };
            self.nodes.entry(dir.to_string()).or_insert(Node::Dir);
            if p.is_empty() {
                break;
            }
        }
    }

    pub fn file(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.add_parents(path);
        self.nodes
            .insert(path.to_string(), Node::File(contents.as_ref().to_vec()));
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        self.add_parents(path);
        self.nodes.insert(path.to_string(), Node::Dir);
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.add_parents(path);
        self.nodes
            .insert(path.to_string(), Node::Link(target.to_string()));
        self
    }

    fn node(&self, path: &str) -> Result<&Node, FsError> {
        self.nodes
            .get(path)
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }
}

impl FileSystem for MemFs {
    fn kind(&self) -> &'static str {
        "memfs"
    }

    fn lstat(&self, path: &str) -> Result<Metadata, FsError> {
        let (file_type, size) = match self.node(path)? {
            Node::File(d) => (FileType::Regular, d.len() as u64),
            Node::Dir => (FileType::Directory, 0),
            Node::Link(t) => (FileType::Symlink, t.len() as u64),
        };
        Ok(Metadata {
            file_type,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: None,
        })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        match self.node(path)? {
            Node::Dir => {}
            _ => return Err(FsError::NotADirectory(path.to_string())),
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| k.len() > prefix.len() && !k[prefix.len()..].contains('/'))
            .map(|(k, n)| DirEntry {
                name: k[prefix.len()..].to_string(),
                file_type: match n {
                    Node::File(_) => FileType::Regular,
                    Node::Dir => FileType::Directory,
                    Node::Link(_) => FileType::Symlink,
                },
            })
            .collect())
    }

    fn read_link(&self, path: &str) -> Result<String, FsError> {
        match self.node(path)? {
            Node::Link(t) => Ok(t.clone()),
            _ => Err(FsError::NotASymlink(path.to_string())),
        }
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, FsError> {
        match self.node(path)? {
            Node::File(d) => {
                let start = (offset as usize).min(d.len());
                let n = buf.len().min(d.len() - start);
                buf[..n].copy_from_slice(&d[start..start + n]);
                Ok(n)
            }
            _ => Err(FsError::NotAFile(path.to_string())),
        }
    }
}
