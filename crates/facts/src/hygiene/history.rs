//! REC-HISTORY: shell and tool histories left in homes. Sizes and line counts only; the
//! contents (commands, often with passwords in them) are never kept.

use super::scan::{Budget, Scan, join};
use super::{HistoryFile, Home};
use crate::files::EntryKind;

/// History files looked for in every home.
pub const HISTORY_NAMES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".ash_history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
    ".lesshst",
    ".viminfo",
    ".wget-hsts",
    ".node_repl_history",
    ".sqlite_history",
    ".rediscli_history",
];
/// Largest history read to count its lines (larger ones get a size and no line count).
pub const MAX_HISTORY_BYTES: u64 = 1 << 20;
const MAX_HISTORY_TOTAL: u64 = 16 << 20;
const MAX_HISTORY_FILES: u64 = 4096;

pub(super) fn gather(scan: &mut Scan, homes: &[Home]) -> Vec<HistoryFile> {
    let mut b = Budget::new(
        "histories",
        0,
        MAX_HISTORY_FILES,
        MAX_HISTORY_BYTES,
        MAX_HISTORY_TOTAL,
        MAX_HISTORY_FILES,
    );
    let mut out = Vec::new();
    for home in homes {
        for e in &home.entries {
            if !HISTORY_NAMES.contains(&e.name.as_str())
                || !matches!(e.kind, EntryKind::File | EntryKind::Symlink)
            {
                continue;
            }
            let path = join(&home.dir, &e.name);
            // A link to /dev/null (a common way to disable history) is no regular file.
            let Some(size) = scan.size(&mut b, &path) else {
                continue;
            };
            let lines = match size {
                0 => Some(0),
                s if s <= MAX_HISTORY_BYTES => scan
                    .head(&mut b, &path, s)
                    .filter(|d| d.len() as u64 == s && !d.contains(&0))
                    .map(|d| count_lines(&d)),
                _ => None,
            };
            out.push(HistoryFile {
                path,
                user: home.user.clone(),
                size,
                lines,
            });
        }
    }
    out
}

/// Lines as `wc -l` counts them, plus an unterminated last line.
pub(super) fn count_lines(d: &[u8]) -> u64 {
    let n = d.iter().filter(|&&b| b == b'\n').count() as u64;
    if d.last().is_some_and(|&b| b != b'\n') {
        n + 1
    } else {
        n
    }
}
