//! Helpers for tests that compare our reading with what real tools (sfdisk, sgdisk, blkid,
//! mkfs.*) write and see.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use preflight_io::{FileSource, Source};

/// Where a tool is, or a panic naming the Debian package that provides it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed: install the Debian package `{package}` \
         (`apt-get install -y {package}`; `cargo xtask test` installs it)"
    )
}

/// Run a command; panic with its output if it fails. Returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a tool by name with arguments.
pub fn sh(name: &str, package: &str, args: &[&str]) -> String {
    run(Command::new(tool(name, package)).args(args))
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "preflight-volume-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sparse file of `size` bytes (`truncate -s`).
pub fn sparse(path: &Path, size: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
}

pub fn open(path: &Path) -> Source {
    Arc::new(FileSource::open(path).unwrap())
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Overwrite bytes in a file.
pub fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// XOR one byte of a file.
pub fn flip(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], offset).unwrap();
}

/// `blkid -p -o export` of a file (optionally a window of it), as KEY → value.
pub fn blkid(path: &Path, window: Option<(u64, u64)>) -> BTreeMap<String, String> {
    let mut args = vec!["-p".to_string(), "-o".into(), "export".into()];
    if let Some((offset, size)) = window {
        args.extend([
            "-O".into(),
            offset.to_string(),
            "-S".into(),
            size.to_string(),
        ]);
    }
    args.push(s(path).into());
    let out = Command::new(tool("blkid", "util-linux"))
        .args(&args)
        .output()
        .unwrap();
    // Exit status 2: nothing found.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        // blkid's "M-"/"^" notation is ambiguous with literal text: a UUID such as
        // "wQLgYM-F4gR-…" (LVM's alphabet) must stay as printed. Only labels carry bytes
        // blkid escapes.
        .map(|(k, v)| {
            let v = if k.contains("UUID") {
                v.to_string()
            } else {
                unescape(v)
            };
            (k.to_string(), v)
        })
        .collect()
}

/// Undo blkid's export escaping: a backslash before shell-special characters, and `cat -v`
/// notation for other bytes ("M-CM-^D" is the UTF-8 of "Ä": M- sets the high bit, ^ flips 0x40).
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (high, skip) = if b[i..].starts_with(b"M-") {
            (0x80u8, 2)
        } else {
            (0, 0)
        };
        let j = i + skip;
        if j < b.len() && b[j] == b'^' && j + 1 < b.len() {
            out.push((b[j + 1] ^ 0x40) | high);
            i = j + 2;
        } else if high != 0 && j < b.len() {
            out.push(b[j] | high);
            i = j + 1;
        } else if b[i] == b'\\' && i + 1 < b.len() {
            out.push(b[i + 1]);
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
