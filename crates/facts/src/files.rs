use std::collections::BTreeMap;
use std::io::Read;

/// Why a guest file could not be read (the guest layer's error, rendered for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub String);

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FileError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub name: String,
    /// The kind of the entry itself (a symlink is `Symlink`, not what it points to).
    pub kind: EntryKind,
}

/// The guest's files as fact gatherers see them. Paths are absolute guest paths; symlinks
/// (also absolute ones) are resolved inside the guest by the implementation.
pub trait Files {
    /// The whole file, following symlinks. `Ok(None)`: it does not exist (or a path component
    /// is not a directory). Files larger than `max` bytes are an error, never truncated.
    fn read(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, FileError>;

    /// The first `n` bytes (fewer if the file is shorter), following symlinks.
    fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, FileError>;

    /// The entries of a directory (without `.` and `..`), following symlinks to reach it,
    /// sorted by name. `Ok(None)`: no such directory.
    fn list_dir(&self, path: &str) -> Result<Option<Vec<ListEntry>>, FileError>;

    /// The target of a symlink, `Ok(None)` if `path` is not a symlink or does not exist.
    fn read_link(&self, path: &str) -> Result<Option<String>, FileError>;

    /// The file as a reader with its size, following symlinks, for streaming a large file
    /// (an initramfs) without holding it whole. `Ok(None)`: it does not exist. The default
    /// reads it whole through [`Files::read`] (fine for in-memory implementations).
    fn open(&self, path: &str, max: u64) -> Result<Option<SizedReader<'_>>, FileError> {
        Ok(self.read(path, max)?.map(|data| {
            (
                data.len() as u64,
                Box::new(std::io::Cursor::new(data)) as Box<dyn Read>,
            )
        }))
    }

    /// Guest paths matching a glob(7) pattern (`*`, `?`, `[...]`, each within one component),
    /// sorted, as glob(3) returns them. Hidden names match only an explicit leading dot.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, FileError> {
        crate::files::expand_glob(self, pattern)
    }
}

/// A file's size and a reader over it ([`Files::open`]).
pub type SizedReader<'a> = (u64, Box<dyn Read + 'a>);

/// Upper bound on the paths one glob may return: a hostile image could hold millions.
pub const MAX_GLOB_MATCHES: usize = 4096;

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expand a glob component by component through [`Files::list_dir`].
pub fn expand_glob<F: Files + ?Sized>(files: &F, pattern: &str) -> Result<Vec<String>, FileError> {
    if !pattern.starts_with('/') {
        return Ok(Vec::new());
    }
    let mut current = vec![String::from("/")];
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            let joined = |name: &str| {
                if base == "/" {
                    format!("/{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if !has_magic(comp) {
                next.push(joined(comp));
                continue;
            }
            let Some(entries) = files.list_dir(base)? else {
                continue;
            };
            for e in entries {
                if e.name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                if fnmatch(comp, &e.name) {
                    if !last && e.kind == EntryKind::File {
                        continue;
                    }
                    next.push(joined(&e.name));
                    if next.len() > MAX_GLOB_MATCHES {
                        return Err(FileError(format!(
                            "glob {pattern} matches more than {MAX_GLOB_MATCHES} paths"
                        )));
                    }
                }
            }
        }
        current = next;
    }
    // Literal components were not checked on the way; keep only what exists.
    let mut out = Vec::new();
    for p in current {
        if exists(files, &p)? {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn exists<F: Files + ?Sized>(files: &F, path: &str) -> Result<bool, FileError> {
    let (parent, name) = match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => return Ok(false),
    };
    if name.is_empty() {
        return Ok(true);
    }
    Ok(files
        .list_dir(parent)?
        .is_some_and(|entries| entries.iter().any(|e| e.name == name)))
}

/// fnmatch(3) without flags beyond the default: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`,
/// backslash escapes. Iterative with backtracking over the last `*`, so it runs in
/// O(pattern × name) on hostile patterns.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = match_class(&p[pi..], n[ni]) {
                        if matched {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Match a bracket expression at the start of `p`; `None` if it is not closed.
fn match_class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if ch <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// An in-memory guest for tests: files, directories (implied by file paths) and symlinks.
#[derive(Debug, Clone, Default)]
pub struct MemFiles {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
}

impl MemFiles {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files
            .insert(path.to_string(), contents.as_ref().to_vec());
        self
    }

    pub fn with_link(mut self, path: &str, target: &str) -> Self {
        self.links.insert(path.to_string(), target.to_string());
        self
    }

    /// Resolve symlinks in every component (absolute targets from `/`), at most 40 hops.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut hops = 0;
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .rev()
            .collect();
        let mut cur: Vec<String> = Vec::new();
        while let Some(comp) = todo.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(comp);
            let joined = format!("/{}", cur.join("/"));
            if let Some(target) = self.links.get(&joined) {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                for c in target.split('/').filter(|c| !c.is_empty()).rev() {
                    todo.push(c.to_string());
                }
            }
        }
        Some(format!("/{}", cur.join("/")))
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.files
            .keys()
            .chain(self.links.keys())
            .any(|k| k.starts_with(&prefix))
    }
}

impl Files for MemFiles {
    fn read(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, FileError> {
        let Some(p) = self.resolve(path) else {
            return Err(FileError(format!(
                "{path}: too many levels of symbolic links"
            )));
        };
        match self.files.get(&p) {
            Some(d) if d.len() as u64 > max => Err(FileError(format!(
                "{path}: {} bytes, more than the {max} accepted",
                d.len()
            ))),
            Some(d) => Ok(Some(d.clone())),
            None => Ok(None),
        }
    }

    fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, FileError> {
        let Some(p) = self.resolve(path) else {
            return Err(FileError(format!(
                "{path}: too many levels of symbolic links"
            )));
        };
        Ok(self.files.get(&p).map(|d| d[..d.len().min(n)].to_vec()))
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<ListEntry>>, FileError> {
        let Some(p) = self.resolve(path) else {
            return Err(FileError(format!(
                "{path}: too many levels of symbolic links"
            )));
        };
        if !self.is_dir(&p) {
            return Ok(None);
        }
        let prefix = if p == "/" {
            "/".to_string()
        } else {
            format!("{p}/")
        };
        let mut out: BTreeMap<String, EntryKind> = BTreeMap::new();
        for (k, is_link) in self
            .files
            .keys()
            .map(|k| (k, false))
            .chain(self.links.keys().map(|k| (k, true)))
        {
            if let Some(rest) = k.strip_prefix(&prefix) {
                let (name, deeper) = match rest.find('/') {
                    Some(i) => (&rest[..i], true),
                    None => (rest, false),
                };
                let kind = if deeper {
                    EntryKind::Dir
                } else if is_link {
                    EntryKind::Symlink
                } else {
                    EntryKind::File
                };
                out.entry(name.to_string()).or_insert(kind);
            }
        }
        Ok(Some(
            out.into_iter()
                .map(|(name, kind)| ListEntry { name, kind })
                .collect(),
        ))
    }

    fn read_link(&self, path: &str) -> Result<Option<String>, FileError> {
        Ok(self.links.get(path).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_cases() {
        for (p, n, want) in [
            ("*.conf", "a.conf", true),
            ("*.conf", "a.conf.bak", false),
            ("ssh_host_*key*", "ssh_host_rsa_key.pub", true),
            ("ssh_host_*key*", "moduli", false),
            ("[a-c]?", "bz", true),
            ("[!a-c]?", "bz", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "", true),
            ("**a*b*c", "xxaxxbxxc", true),
        ] {
            assert_eq!(fnmatch(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn glob_expands_through_dirs_and_links() {
        let f = MemFiles::new()
            .with("/etc/ssh/sshd_config.d/10-a.conf", "x")
            .with("/etc/ssh/sshd_config.d/20-b.conf", "y")
            .with("/etc/ssh/sshd_config.d/.hidden.conf", "z")
            .with("/etc/ssh/sshd_config.d/README", "r")
            .with_link("/lib", "usr/lib")
            .with("/usr/lib/modules/6.1.0/modules.dep", "");
        assert_eq!(
            f.glob("/etc/ssh/sshd_config.d/*.conf").unwrap(),
            vec![
                "/etc/ssh/sshd_config.d/10-a.conf",
                "/etc/ssh/sshd_config.d/20-b.conf"
            ]
        );
        assert_eq!(
            f.glob("/lib/modules/*").unwrap(),
            vec!["/lib/modules/6.1.0"]
        );
        assert_eq!(
            f.read("/lib/modules/6.1.0/modules.dep", 10).unwrap(),
            Some(vec![])
        );
        assert!(f.glob("/nonexistent/*").unwrap().is_empty());
    }
}
