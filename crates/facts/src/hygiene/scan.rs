//! The bounded reader every hygiene phase goes through: it counts what it lists, opens and
//! reads, stops at named limits, and remembers which limit stopped what.

use super::ScanCost;
use crate::files::{EntryKind, Files, ListEntry};

/// Most warnings kept; later ones are counted.
const MAX_WARNINGS: usize = 64;

/// The limits of one phase (secrets, histories, leftovers) and what is left of them.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    pub phase: &'static str,
    max_entries: u64,
    max_opened: u64,
    max_bytes: u64,
    max_sized: u64,
    /// Largest read of one file.
    pub per_file: u64,
    entries: u64,
    opened: u64,
    bytes: u64,
    sized: u64,
}

impl Budget {
    pub fn new(
        phase: &'static str,
        max_entries: u64,
        max_opened: u64,
        per_file: u64,
        max_bytes: u64,
        max_sized: u64,
    ) -> Self {
        Budget {
            phase,
            max_entries,
            max_opened,
            max_bytes,
            max_sized,
            per_file,
            entries: 0,
            opened: 0,
            bytes: 0,
            sized: 0,
        }
    }

    pub fn entries_left(&self) -> u64 {
        self.max_entries.saturating_sub(self.entries)
    }
}

/// One limit that stopped something: the first path it stopped and how many in all.
#[derive(Debug)]
struct Truncation {
    phase: &'static str,
    limit: String,
    first: String,
    stopped: u64,
}

pub(super) struct Scan<'a> {
    pub files: &'a dyn Files,
    pub cost: ScanCost,
    warnings: Vec<String>,
    dropped_warnings: u64,
    truncations: Vec<Truncation>,
}

impl<'a> Scan<'a> {
    pub fn new(files: &'a dyn Files) -> Self {
        Scan {
            files,
            cost: ScanCost::default(),
            warnings: Vec::new(),
            dropped_warnings: 0,
            truncations: Vec::new(),
        }
    }

    pub fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.dropped_warnings = self.dropped_warnings.saturating_add(1);
        }
    }

    /// Record that `limit` of `phase` stopped `path` (a directory not listed or walked, a
    /// file not opened).
    pub fn truncated(&mut self, phase: &'static str, limit: String, path: &str) {
        if let Some(t) = self
            .truncations
            .iter_mut()
            .find(|t| t.phase == phase && t.limit == limit)
        {
            t.stopped = t.stopped.saturating_add(1);
            return;
        }
        self.truncations.push(Truncation {
            phase,
            limit,
            first: path.to_string(),
            stopped: 1,
        });
    }

    /// The directory's entries, at most what the budget has left. `None`: no such directory,
    /// unreadable (warned) or the listing budget is spent (recorded).
    pub fn list(&mut self, b: &mut Budget, path: &str) -> Option<Vec<ListEntry>> {
        if b.entries_left() == 0 {
            let limit = format!("{} entries listed", b.max_entries);
            self.truncated(b.phase, limit, path);
            return None;
        }
        let mut entries = match self.files.list_dir(path) {
            Ok(Some(e)) => e,
            Ok(None) => return None,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                return None;
            }
        };
        self.cost.dirs_listed = self.cost.dirs_listed.saturating_add(1);
        let left = usize::try_from(b.entries_left()).unwrap_or(usize::MAX);
        if entries.len() > left {
            entries.truncate(left);
            let limit = format!("{} entries listed", b.max_entries);
            self.truncated(b.phase, limit, path);
        }
        let n = entries.len() as u64;
        b.entries = b.entries.saturating_add(n);
        self.cost.entries_listed = self.cost.entries_listed.saturating_add(n);
        Some(entries)
    }

    /// The first `max` bytes (at most the budget's per-file and remaining bytes). `None`: no
    /// such file, unreadable (warned) or a limit reached (recorded).
    pub fn head(&mut self, b: &mut Budget, path: &str, max: u64) -> Option<Vec<u8>> {
        if b.opened >= b.max_opened {
            let limit = format!("{} files opened", b.max_opened);
            self.truncated(b.phase, limit, path);
            return None;
        }
        let left = b.max_bytes.saturating_sub(b.bytes);
        if left == 0 {
            let limit = format!("{} bytes read in all", b.max_bytes);
            self.truncated(b.phase, limit, path);
            return None;
        }
        let n = max.min(b.per_file).min(left);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        match self.files.head(path, n) {
            Ok(Some(data)) => {
                let len = data.len() as u64;
                b.opened = b.opened.saturating_add(1);
                b.bytes = b.bytes.saturating_add(len);
                self.cost.files_opened = self.cost.files_opened.saturating_add(1);
                self.cost.bytes_read = self.cost.bytes_read.saturating_add(len);
                Some(data)
            }
            Ok(None) => None,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    /// The size of a regular file (following symlinks) without reading it. `None`: no such
    /// file, not a regular file, unreadable (warned) or the budget is spent (recorded).
    pub fn size(&mut self, b: &mut Budget, path: &str) -> Option<u64> {
        if b.sized >= b.max_sized {
            let limit = format!("{} files sized", b.max_sized);
            self.truncated(b.phase, limit, path);
            return None;
        }
        match self.files.open(path, u64::MAX) {
            Ok(Some((size, _reader))) => {
                b.sized = b.sized.saturating_add(1);
                self.cost.files_sized = self.cost.files_sized.saturating_add(1);
                Some(size)
            }
            Ok(None) => None,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    /// The target of `path` if it is a symlink.
    pub fn read_link(&mut self, path: &str) -> Option<String> {
        match self.files.read_link(path) {
            Ok(t) => t,
            Err(e) => {
                self.warn(format!("{path}: {e}"));
                None
            }
        }
    }

    /// Every regular file below `root` (not following symlinked directories), breadth first,
    /// with its size, down to `max_depth` levels.
    pub fn walk(&mut self, b: &mut Budget, root: &str, max_depth: usize) -> Walk {
        let mut out = Walk {
            complete: true,
            ..Walk::default()
        };
        let mut queue = std::collections::VecDeque::new();
        queue.push_back((root.to_string(), 0usize));
        while let Some((dir, depth)) = queue.pop_front() {
            let Some(entries) = self.list(b, &dir) else {
                if b.entries_left() == 0 {
                    out.complete = false;
                    for (d, _) in queue.drain(..) {
                        let limit = format!("{} entries listed", b.max_entries);
                        self.truncated(b.phase, limit, &d);
                    }
                }
                continue;
            };
            out.found_dir = true;
            for e in entries {
                let path = join(&dir, &e.name);
                out.entries = out.entries.saturating_add(1);
                match e.kind {
                    EntryKind::Dir if depth < max_depth => queue.push_back((path, depth + 1)),
                    EntryKind::Dir => {
                        out.complete = false;
                        self.truncated(b.phase, format!("depth {max_depth}"), &path);
                    }
                    EntryKind::File => match self.size(b, &path) {
                        Some(size) => out.files.push((path, size)),
                        None => out.complete = false,
                    },
                    EntryKind::Symlink | EntryKind::Other => {}
                }
            }
        }
        out
    }

    /// Counters, warnings and truncation notes.
    pub fn finish(mut self) -> (ScanCost, Vec<String>) {
        for t in &self.truncations {
            let more = match t.stopped {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            self.cost.truncated.push(format!(
                "{}: limit of {} reached; not examined: {}{more}",
                t.phase, t.limit, t.first
            ));
        }
        if self.dropped_warnings > 0 {
            self.warnings
                .push(format!("… and {} more warnings", self.dropped_warnings));
        }
        (self.cost, self.warnings)
    }
}

/// What [`Scan::walk`] saw.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// The root was a directory that could be listed.
    pub found_dir: bool,
    /// Every entry below the root (files, directories, links).
    pub entries: u64,
    /// Regular files and their sizes.
    pub files: Vec<(String, u64)>,
    /// `false` when a limit left something unexamined.
    pub complete: bool,
}

impl Walk {
    pub fn bytes(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |a, (_, s)| a.saturating_add(*s))
    }
}

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
