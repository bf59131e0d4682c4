//! The GRUB environment block (`grubenv`), read by `load_env` and written by `save_env`,
//! `grub-editenv` and `grub2-set-default`.
//!
//! Format (GRUB manual, "Environment block"; grub-editenv(1)): the signature line
//! `# GRUB Environment Block`, then `name=value` lines, the rest of the fixed-size block
//! (1024 bytes) filled with `#`. A backslash escapes the next character (`\\`, and a newline
//! stored inside a value). Lines starting with `#` are padding or comments.

use std::collections::BTreeMap;

pub const SIGNATURE: &str = "# GRUB Environment Block\n";
/// The size grub-editenv creates (`DEFAULT_ENVBLK_SIZE`).
pub const BLOCK_SIZE: usize = 1024;
/// A block is one or a few sectors; anything beyond this is not a grubenv.
pub const MAX_GRUBENV: u64 = 64 * 1024;
const MAX_VARS: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrubEnv {
    pub vars: BTreeMap<String, String>,
    /// Problems found (no signature, unusual size), without file name.
    pub warnings: Vec<String>,
}

impl GrubEnv {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Parse a grubenv block. `None` when the signature is missing: GRUB's `load_env` then
/// refuses the file ("invalid environment block").
pub fn parse(data: &[u8]) -> Option<GrubEnv> {
    let body = data.strip_prefix(SIGNATURE.as_bytes())?;
    let mut env = GrubEnv::default();
    if data.len() != BLOCK_SIZE {
        env.warnings.push(format!(
            "{} bytes instead of the usual {BLOCK_SIZE} (an edited copy?)",
            data.len()
        ));
    }
    let mut i = 0;
    while i < body.len() {
        // One logical line: an escaped newline continues it.
        let mut line = Vec::new();
        while i < body.len() && body[i] != b'\n' {
            if body[i] == b'\\' && i + 1 < body.len() {
                line.push(b'\\');
                line.push(body[i + 1]);
                i += 2;
            } else {
                line.push(body[i]);
                i += 1;
            }
        }
        i += 1;
        if line.first().is_none_or(|&c| c == b'#') {
            continue;
        }
        let Some(eq) = line.iter().position(|&c| c == b'=') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..eq]).into_owned();
        let mut value = Vec::new();
        let mut j = eq + 1;
        while j < line.len() {
            if line[j] == b'\\' && j + 1 < line.len() {
                value.push(line[j + 1]);
                j += 2;
            } else {
                value.push(line[j]);
                j += 1;
            }
        }
        if env.vars.len() >= MAX_VARS {
            env.warnings
                .push(format!("more than {MAX_VARS} variables; the rest ignored"));
            break;
        }
        env.vars
            .insert(name, String::from_utf8_lossy(&value).into_owned());
    }
    Some(env)
}

/// Build a block as grub-editenv writes it (for tests and fuzzing): variables in the order
/// given, `\` and newlines escaped, padded with `#` to [`BLOCK_SIZE`] (longer when needed).
pub fn build(vars: &[(&str, &str)]) -> Vec<u8> {
    let mut out = SIGNATURE.as_bytes().to_vec();
    for (k, v) in vars {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        for &c in v.as_bytes() {
            if c == b'\\' || c == b'\n' {
                out.push(b'\\');
            }
            out.push(c);
        }
        out.push(b'\n');
    }
    while out.len() < BLOCK_SIZE {
        out.push(b'#');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let block = build(&[
            (
                "saved_entry",
                "2b8e4a6c0f1d4e5b9a7c3d2e1f0a9b8c-5.15.0-200.131.27.el9uek.x86_64",
            ),
            (
                "kernelopts",
                "root=/dev/mapper/ol-root ro rd.lvm.lv=ol/root",
            ),
            ("odd", "a\\b\nc"),
        ]);
        assert_eq!(block.len(), BLOCK_SIZE);
        let env = parse(&block).unwrap();
        assert!(env.warnings.is_empty());
        assert_eq!(
            env.get("kernelopts"),
            Some("root=/dev/mapper/ol-root ro rd.lvm.lv=ol/root")
        );
        assert_eq!(env.get("odd"), Some("a\\b\nc"));
        assert_eq!(env.vars.len(), 3);
    }

    #[test]
    fn bad_blocks() {
        assert!(parse(b"saved_entry=0\n").is_none());
        assert!(parse(b"").is_none());
        let env = parse(b"# GRUB Environment Block\nnoequals\n=empty\nx=1\\").unwrap();
        assert_eq!(env.get("x"), Some("1\\"));
        assert_eq!(env.get(""), Some("empty"));
        assert_eq!(env.warnings.len(), 1);
    }
}
