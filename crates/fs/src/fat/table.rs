//! The file allocation table: entries read on demand in aligned windows kept in a bounded
//! cache, and cluster chains turned into runs of contiguous clusters (fatgen103, "FAT Data
//! Structure": FAT12 packs two 12-bit entries in three bytes; FAT32 entries use 28 bits).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use preflight_io::{Source, le, read_vec};

use super::bpb::{Bpb, FatKind};
use super::{corrupt, io_err, lock};

/// FAT16/FAT32 windows: bytes per read of the table (a FAT16 table is at most ~128 KiB, so
/// it is one window; FAT32 tables are read where chains lead).
const WINDOW: u64 = 128 * 1024;
/// How many windows stay cached (4 MiB of table: ~1M FAT32 entries).
const MAX_WINDOWS: usize = 32;
/// Most runs one chain may have before it is called hostile (a 4 GiB file in 4 KiB clusters
/// where no two clusters touch).
pub const MAX_RUNS: usize = 1 << 20;

/// A run of contiguous clusters: `first`, `first + 1`, …, `first + count - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub first: u32,
    pub count: u32,
}

/// What a FAT entry says about the cluster after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Cluster(u32),
    End,
    Free,
    Bad,
    /// A value outside the cluster range (not a marker).
    Invalid(u32),
}

pub struct Table {
    src: Source,
    kind: FatKind,
    offset: u64,
    /// Bytes of the FAT worth reading: the entries of every cluster, not the slack after them.
    bytes: u64,
    max_cluster: u32,
    windows: Mutex<Windows>,
}

/// Cached windows of the table by start offset, with the tick of their last use.
#[derive(Default)]
struct Windows {
    map: HashMap<u64, (Arc<Vec<u8>>, u64)>,
    tick: u64,
}

impl Table {
    pub fn new(src: Source, bpb: &Bpb) -> Table {
        let bits: u64 = match bpb.kind {
            FatKind::Fat12 => 12,
            FatKind::Fat16 => 16,
            FatKind::Fat32 => 32,
        };
        let bytes = ((u64::from(bpb.max_cluster()) + 1) * bits).div_ceil(8);
        Table {
            src,
            kind: bpb.kind,
            offset: bpb.fat_offset,
            bytes: bytes.min(bpb.fat_bytes),
            max_cluster: bpb.max_cluster(),
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Window size: FAT12 tables (at most ~6 KiB) are one window, so that no 12-bit entry
    /// straddles two windows.
    fn window(&self) -> u64 {
        match self.kind {
            FatKind::Fat12 => self.bytes.max(1),
            _ => WINDOW,
        }
    }

    /// The window holding byte `at` of the table, and its start.
    fn window_at(&self, at: u64, path: &str) -> Result<(Arc<Vec<u8>>, u64), crate::FsError> {
        let w = self.window();
        let start = at / w * w;
        let mut windows = lock(&self.windows);
        windows.tick += 1;
        let tick = windows.tick;
        if let Some((data, used)) = windows.map.get_mut(&start) {
            *used = tick;
            return Ok((Arc::clone(data), start));
        }
        let len = (self.bytes.saturating_sub(start)).min(w);
        let data =
            read_vec(&*self.src, self.offset + start, len, WINDOW.max(w)).map_err(io_err(path))?;
        let data = Arc::new(data);
        if windows.map.len() >= MAX_WINDOWS
            && let Some(oldest) = windows
                .map
                .iter()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(k, _)| *k)
        {
            windows.map.remove(&oldest);
        }
        windows.map.insert(start, (Arc::clone(&data), tick));
        Ok((data, start))
    }

    /// Keep `data`, read by the caller from the table's start, when it holds the whole
    /// table and the table is one window (FAT12, and FAT16 up to 128 KiB).
    pub fn preload(&self, data: &[u8]) {
        let w = self.window();
        if self.bytes <= w && data.len() as u64 >= self.bytes {
            let mut windows = lock(&self.windows);
            windows.tick += 1;
            let tick = windows.tick;
            let table = data[..self.bytes as usize].to_vec();
            windows.map.insert(0, (Arc::new(table), tick));
        }
    }

    /// The FAT entry of cluster `n` (2 ≤ n ≤ max_cluster).
    pub fn next(&self, n: u32, path: &str) -> Result<Next, crate::FsError> {
        let n64 = u64::from(n);
        let (raw, end_mark, bad) = match self.kind {
            FatKind::Fat12 => {
                let at = n64 + n64 / 2;
                let (w, start) = self.window_at(at, path)?;
                let i = (at - start) as usize;
                if i + 2 > w.len() {
                    return Err(self.short(n, path));
                }
                let v = le::u16(&w, i);
                let v = if n & 1 == 1 { v >> 4 } else { v & 0x0FFF };
                (u32::from(v), 0xFF8, 0xFF7)
            }
            FatKind::Fat16 => {
                let at = n64 * 2;
                let (w, start) = self.window_at(at, path)?;
                let i = (at - start) as usize;
                if i + 2 > w.len() {
                    return Err(self.short(n, path));
                }
                (u32::from(le::u16(&w, i)), 0xFFF8, 0xFFF7)
            }
            FatKind::Fat32 => {
                let at = n64 * 4;
                let (w, start) = self.window_at(at, path)?;
                let i = (at - start) as usize;
                if i + 4 > w.len() {
                    return Err(self.short(n, path));
                }
                (le::u32(&w, i) & 0x0FFF_FFFF, 0x0FFF_FFF8, 0x0FFF_FFF7)
            }
        };
        Ok(match raw {
            0 => Next::Free,
            v if v >= end_mark => Next::End,
            v if v == bad => Next::Bad,
            v if v >= 2 && v <= self.max_cluster => Next::Cluster(v),
            v => Next::Invalid(v),
        })
    }

    fn short(&self, n: u32, path: &str) -> crate::FsError {
        corrupt(
            path,
            format!(
                "the FAT at byte {} has no entry for cluster {n}",
                self.offset
            ),
        )
    }

    /// True when `n` is a cluster number of the data region.
    pub fn valid(&self, n: u32) -> bool {
        n >= 2 && n <= self.max_cluster
    }

    /// The chain starting at `first` as runs, at most `limit` clusters long.
    ///
    /// `need`: `Some(k)` for a file whose size needs exactly `k` clusters (a longer chain is
    /// cut there, as the kernel reads only up to the size; a shorter one is an error);
    /// `None` for a directory (the chain must end within `limit` clusters). A chain that
    /// visits a cluster twice is an error either way.
    pub fn chain(
        &self,
        first: u32,
        need: Option<u64>,
        limit: u64,
        what: &str,
        path: &str,
    ) -> Result<Vec<Run>, crate::FsError> {
        let mut runs: Vec<Run> = Vec::new();
        if need == Some(0) {
            return Ok(runs);
        }
        if !self.valid(first) {
            return Err(corrupt(
                path,
                format!(
                    "{what} starts at cluster {first}, outside 2..={}",
                    self.max_cluster
                ),
            ));
        }
        let mut cur = first;
        let mut count: u64 = 0;
        loop {
            count += 1;
            match runs.last_mut() {
                Some(r) if u64::from(r.first) + u64::from(r.count) == u64::from(cur) => {
                    r.count += 1;
                }
                _ => {
                    if runs.len() >= MAX_RUNS {
                        return Err(corrupt(
                            path,
                            format!("{what}: more than {MAX_RUNS} fragments"),
                        ));
                    }
                    runs.push(Run {
                        first: cur,
                        count: 1,
                    })
                }
            }
            if need == Some(count) {
                break;
            }
            if count >= limit {
                check_no_repeat(&runs, what, path)?;
                return Err(corrupt(
                    path,
                    format!("{what}: cluster chain from {first} longer than {limit} clusters"),
                ));
            }
            let why = match self.next(cur, path)? {
                Next::Cluster(n) => {
                    cur = n;
                    continue;
                }
                Next::End if need.is_none() => break,
                Next::End => "ends".to_string(),
                Next::Free => "reaches a free cluster".to_string(),
                Next::Bad => "reaches a bad cluster".to_string(),
                Next::Invalid(v) => format!("points to cluster {v}"),
            };
            let needed = need.map_or(String::new(), |k| format!(" of the {k} needed"));
            return Err(corrupt(
                path,
                format!(
                    "{what}: cluster chain from {first} {why} after {count} clusters{needed} (FAT entry of cluster {cur})"
                ),
            ));
        }
        check_no_repeat(&runs, what, path)?;
        Ok(runs)
    }
}

/// A chain that visits a cluster twice loops (or two parts of it overlap): an error.
fn check_no_repeat(runs: &[Run], what: &str, path: &str) -> Result<(), crate::FsError> {
    let mut sorted: Vec<Run> = runs.to_vec();
    sorted.sort_unstable_by_key(|r| r.first);
    for w in sorted.windows(2) {
        if u64::from(w[0].first) + u64::from(w[0].count) > u64::from(w[1].first) {
            return Err(corrupt(
                path,
                format!(
                    "{what}: the cluster chain visits cluster {} twice (a loop)",
                    w[1].first
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_in_any_order() {
        let runs = [
            Run {
                first: 10,
                count: 3,
            },
            Run { first: 2, count: 2 },
            Run {
                first: 12,
                count: 1,
            },
        ];
        assert!(check_no_repeat(&runs, "x", "/x").is_err());
        assert!(check_no_repeat(&runs[..2], "x", "/x").is_ok());
    }
}
