//! `/etc/default/grub` (and Ubuntu's `/etc/default/grub.d/*.cfg`, sourced after it): the
//! shell variables grub-mkconfig reads to write grub.cfg (GRUB manual, "Simple configuration
//! handling": `GRUB_DEFAULT`, `GRUB_SAVEDEFAULT`, `GRUB_CMDLINE_LINUX`,
//! `GRUB_CMDLINE_LINUX_DEFAULT`, `GRUB_TERMINAL`, `GRUB_SERIAL_COMMAND`,
//! `GRUB_ENABLE_BLSCFG`, `GRUB_DISABLE_SUBMENU`, …).
//!
//! These are what the *next* `grub-mkconfig` / `update-grub` would write; the boot loader
//! itself reads only grub.cfg. The file is a shell script: we evaluate plain assignments
//! (`NAME=value`, `export NAME=value`) with shell quoting and `$VAR`/`${VAR}` expansion of
//! earlier assignments; command substitutions are kept as written and other commands are
//! ignored.

use super::MAX_CONFIG_FILE;
use crate::{FileError, Files, Provenance};
use std::collections::BTreeMap;

pub const PATH: &str = "/etc/default/grub";
pub const DROP_IN_GLOB: &str = "/etc/default/grub.d/*.cfg";
const MAX_VARS: usize = 1024;
const MAX_DROP_INS: usize = 64;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefaultGrub {
    /// The final value of each variable and where it was assigned.
    pub vars: BTreeMap<String, (String, Provenance)>,
    pub files_read: Vec<String>,
    pub diagnostics: Vec<String>,
}

impl DefaultGrub {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|(v, _)| v.as_str())
    }

    pub fn provenance(&self, name: &str) -> Option<&Provenance> {
        self.vars.get(name).map(|(_, p)| p)
    }

    /// What grub-mkconfig puts on a normal entry's `linux` line (10_linux: `GRUB_CMDLINE_LINUX`
    /// then `GRUB_CMDLINE_LINUX_DEFAULT`).
    pub fn cmdline(&self) -> String {
        let a = self.get("GRUB_CMDLINE_LINUX").unwrap_or("").trim();
        let b = self.get("GRUB_CMDLINE_LINUX_DEFAULT").unwrap_or("").trim();
        match (a.is_empty(), b.is_empty()) {
            (_, true) => a.to_string(),
            (true, false) => b.to_string(),
            (false, false) => format!("{a} {b}"),
        }
    }
}

/// Read `/etc/default/grub` and its drop-ins. `Ok(None)` when neither exists.
pub fn read(files: &dyn Files) -> Result<Option<DefaultGrub>, FileError> {
    let mut out = DefaultGrub::default();
    let mut paths = vec![PATH.to_string()];
    let mut drop_ins = files.glob(DROP_IN_GLOB)?;
    drop_ins.truncate(MAX_DROP_INS);
    paths.extend(drop_ins);
    for path in paths {
        let Some(data) = files.read(&path, MAX_CONFIG_FILE)? else {
            continue;
        };
        out.files_read.push(path.clone());
        parse_into(&mut out, &path, &String::from_utf8_lossy(&data));
    }
    Ok((!out.files_read.is_empty()).then_some(out))
}

/// Evaluate one file's assignments into `out`.
pub fn parse_into(out: &mut DefaultGrub, path: &str, text: &str) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1u32;
    while i < chars.len() {
        // One simple command: words up to an unquoted newline or `;`.
        let start_line = line;
        let mut words: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\n' | ';' => {
                    if c == '\n' {
                        line += 1;
                    }
                    i += 1;
                    break;
                }
                '#' if !in_word => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
                ' ' | '\t' => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                    i += 1;
                }
                '\\' => {
                    if chars.get(i + 1) == Some(&'\n') {
                        line += 1;
                    } else if let Some(&n) = chars.get(i + 1) {
                        cur.push(n);
                        in_word = true;
                    }
                    i += 2;
                }
                '\'' => {
                    in_word = true;
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        cur.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                }
                '"' => {
                    in_word = true;
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        match chars[i] {
                            '\\' if chars.get(i + 1) == Some(&'\n') => {
                                line += 1;
                                i += 2;
                            }
                            '\\' if matches!(chars.get(i + 1), Some('$' | '"' | '\\' | '`')) => {
                                cur.push(chars[i + 1]);
                                i += 2;
                            }
                            '$' => i = expand(&chars, i, &mut cur, out),
                            ch => {
                                if ch == '\n' {
                                    line += 1;
                                }
                                cur.push(ch);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                }
                '`' => {
                    // Command substitution: kept as written.
                    in_word = true;
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '`')
                        .map_or(chars.len(), |p| i + 2 + p);
                    cur.extend(&chars[i..end]);
                    i = end;
                }
                '$' if chars.get(i + 1) == Some(&'(') => {
                    in_word = true;
                    let mut depth = 0usize;
                    let mut j = i + 1;
                    while j < chars.len() {
                        match chars[j] {
                            '(' => depth += 1,
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    j += 1;
                                    break;
                                }
                            }
                            '\n' => line += 1,
                            _ => {}
                        }
                        j += 1;
                    }
                    cur.extend(&chars[i..j.min(chars.len())]);
                    i = j;
                }
                '$' => {
                    in_word = true;
                    i = expand(&chars, i, &mut cur, out);
                }
                _ => {
                    in_word = true;
                    cur.push(c);
                    i += 1;
                }
            }
        }
        if in_word {
            words.push(cur);
        }
        let mut ws = words.as_slice();
        if ws.first().is_some_and(|w| w == "export") {
            ws = &ws[1..];
        }
        let Some(first) = ws.first() else {
            continue;
        };
        match first.split_once('=') {
            Some((name, value)) if is_name(name) && ws.len() == 1 => {
                if out.vars.len() >= MAX_VARS && !out.vars.contains_key(name) {
                    continue;
                }
                out.vars.insert(
                    name.to_string(),
                    (value.to_string(), Provenance::line(path, start_line)),
                );
            }
            _ => {
                if out.diagnostics.len() < 64 {
                    out.diagnostics.push(format!(
                        "{path}:{start_line}: not an assignment, ignored: {}",
                        ws.join(" ")
                    ));
                }
            }
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expand `$NAME`, `${NAME}` (earlier assignments; unknown → empty, as the shell does) at
/// `chars[i] == '$'`; `$(…)` and other forms are copied as written. Returns the next index.
fn expand(chars: &[char], i: usize, cur: &mut String, out: &DefaultGrub) -> usize {
    let mut j = i + 1;
    let braced = chars.get(j) == Some(&'{');
    if braced {
        j += 1;
    }
    let start = j;
    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    let name: String = chars[start..j].iter().collect();
    if name.is_empty() || (braced && chars.get(j) != Some(&'}')) {
        cur.push('$');
        return i + 1;
    }
    if braced {
        j += 1;
    }
    if let Some(v) = out.get(&name) {
        cur.push_str(v);
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    #[test]
    fn ubuntu_with_cloudimg_drop_in() {
        let files = MemFiles::new()
            .with(
                PATH,
                "# If you change this file, run 'update-grub' afterwards to update\n\
                 # /boot/grub/grub.cfg.\n\
                 # For full documentation of the options in this file, see:\n\
                 #   info -f grub -n 'Simple configuration'\n\n\
                 GRUB_DEFAULT=0\nGRUB_TIMEOUT_STYLE=hidden\nGRUB_TIMEOUT=0\n\
                 GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
                 GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\nGRUB_CMDLINE_LINUX=\"\"\n\n\
                 # Uncomment to disable graphical terminal (grub-pc only)\n#GRUB_TERMINAL=console\n",
            )
            .with(
                "/etc/default/grub.d/50-cloudimg-settings.cfg",
                "# Cloud Image specific Grub settings for Generic Cloud Images\n\
                 # CLOUD_IMG: This file was created/modified by the Cloud Image build process\n\n\
                 # Set the recordfail timeout\nGRUB_RECORDFAIL_TIMEOUT=0\n\n\
                 # Do not wait on grub prompt\nGRUB_TIMEOUT=0\n\n\
                 # Set the default commandline\n\
                 GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 console=ttyS0\"\n\n\
                 # Set the grub console type\nGRUB_TERMINAL=console\n",
            );
        let d = read(&files).unwrap().unwrap();
        assert_eq!(d.files_read.len(), 2);
        assert_eq!(d.get("GRUB_DEFAULT"), Some("0"));
        assert_eq!(d.cmdline(), "console=tty1 console=ttyS0");
        assert_eq!(
            d.provenance("GRUB_CMDLINE_LINUX_DEFAULT")
                .unwrap()
                .to_string(),
            "/etc/default/grub.d/50-cloudimg-settings.cfg:11"
        );
        assert_eq!(
            d.get("GRUB_DISTRIBUTOR"),
            Some("`lsb_release -i -s 2> /dev/null || echo Debian`")
        );
    }

    #[test]
    fn rhel_and_expansion() {
        let mut d = DefaultGrub::default();
        parse_into(
            &mut d,
            PATH,
            "GRUB_TIMEOUT=5\n\
             GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n\
             GRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT=\"console\"\n\
             GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/ol-swap rd.lvm.lv=ol/root rd.lvm.lv=ol/swap\"\n\
             GRUB_CMDLINE_LINUX=\"${GRUB_CMDLINE_LINUX} console=ttyS0,115200n8 \\\n  net.ifnames=1\"\n\
             GRUB_DISABLE_RECOVERY=\"true\"\nGRUB_ENABLE_BLSCFG=true\nif true; then echo; fi\n",
        );
        assert_eq!(d.get("GRUB_DEFAULT"), Some("saved"));
        assert_eq!(d.get("GRUB_ENABLE_BLSCFG"), Some("true"));
        let c = d.get("GRUB_CMDLINE_LINUX").unwrap();
        assert!(c.starts_with("crashkernel=1G-4G:192M"), "{c}");
        assert!(c.ends_with("console=ttyS0,115200n8   net.ifnames=1"), "{c}");
        assert_eq!(d.provenance("GRUB_CMDLINE_LINUX").unwrap().line, Some(7));
        assert_eq!(d.provenance("GRUB_DISABLE_RECOVERY").unwrap().line, Some(9));
        assert!(d.get("GRUB_DISTRIBUTOR").unwrap().starts_with("$(sed"));
        assert!(!d.diagnostics.is_empty());
    }
}
