//! The Linux kernel command line: split into parameters the way the kernel does
//! (`lib/cmdline.c` `next_arg`, documented in Documentation/admin-guide/kernel-parameters.rst):
//! parameters are separated by spaces; double quotes protect spaces (`"foo=a b"` or
//! `foo="a b"`) and are removed; the first `=` separates the name from the value; everything
//! after a lone `--` goes to init.

use serde::Serialize;

/// Longest command line parsed (the kernel's own limit is 2048–4096 bytes on x86; a GRUB
/// line may be longer before the kernel truncates it).
const MAX_CMDLINE: usize = 64 * 1024;
/// Most parameters kept.
const MAX_PARAMS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub key: String,
    /// `None` for a flag (`ro`, `quiet`); `Some("")` for `key=`.
    pub value: Option<String>,
}

/// A parsed kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cmdline {
    /// The line as given.
    pub raw: String,
    pub params: Vec<Param>,
    /// Words after `--`, passed to init.
    pub init_args: Vec<String>,
}

/// A serial or virtual console from `console=name[,options]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Console {
    /// `ttyS0`, `ttyAMA0`, `tty0`, `hvc0`, `uart8250` …
    pub name: String,
    /// `115200n8`, or for `uart8250,io,0x3f8,115200` everything after the first comma.
    pub options: Option<String>,
}

impl Console {
    /// A serial console (`ttyS*`, `ttyAMA*`, `hvc*`, `ttysclp*`, `uart*`, `ttyPS*`).
    pub fn is_serial(&self) -> bool {
        [
            "ttyS", "ttyAMA", "hvc", "ttysclp", "uart", "ttyPS", "ttymxc", "ttyO",
        ]
        .iter()
        .any(|p| self.name.starts_with(p))
    }
}

/// How `root=` names the root file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum RootRef {
    Uuid(String),
    PartUuid(String),
    Label(String),
    PartLabel(String),
    /// `/dev/mapper/…` or an LVM path `/dev/<vg>/<lv>`.
    Mapper(String),
    /// `/dev/disk/by-uuid/<uuid>` (stable: the same as `UUID=`).
    ByUuid(String),
    /// `/dev/disk/by-label/<label>`.
    ByLabel(String),
    /// `/dev/disk/by-id/…`, `/dev/disk/by-path/…`: tied to the hardware.
    ById(String),
    /// `/dev/sda1`, `/dev/vda2`, `/dev/nvme0n1p1`, `/dev/xvda1`: a kernel device name.
    Device(String),
    /// Anything else (`ZFS=…`, `/dev/nfs`, `live:…`, a major:minor number).
    Other(String),
}

impl RootRef {
    pub fn parse(value: &str) -> RootRef {
        let v = value.to_string();
        let strip = |p: &str| value.strip_prefix(p).map(str::to_string);
        if let Some(u) = strip("UUID=") {
            RootRef::Uuid(u)
        } else if let Some(u) = strip("PARTUUID=") {
            RootRef::PartUuid(u)
        } else if let Some(u) = strip("LABEL=") {
            RootRef::Label(u)
        } else if let Some(u) = strip("PARTLABEL=") {
            RootRef::PartLabel(u)
        } else if let Some(u) = strip("/dev/disk/by-uuid/") {
            RootRef::ByUuid(u)
        } else if let Some(u) = strip("/dev/disk/by-label/") {
            RootRef::ByLabel(u)
        } else if value.starts_with("/dev/disk/") {
            RootRef::ById(v)
        } else if value.starts_with("/dev/mapper/") {
            RootRef::Mapper(v)
        } else if let Some(rest) = value.strip_prefix("/dev/") {
            let kernel_name = ["sd", "vd", "hd", "xvd", "nvme", "mmcblk"]
                .iter()
                .any(|p| rest.starts_with(p))
                && !rest.contains('/');
            if kernel_name {
                RootRef::Device(v)
            } else if rest.split('/').count() == 2 {
                // /dev/<vg>/<lv>
                RootRef::Mapper(v)
            } else {
                RootRef::Other(v)
            }
        } else {
            RootRef::Other(v)
        }
    }

    /// Survives a move to other hardware (IMP-ROOTREF): UUID, LABEL, LVM and by-uuid/label.
    pub fn is_stable(&self) -> bool {
        !matches!(
            self,
            RootRef::Device(_) | RootRef::ById(_) | RootRef::Other(_)
        )
    }
}

impl Cmdline {
    pub fn parse(line: &str) -> Cmdline {
        let raw = line.to_string();
        let mut s = line;
        if s.len() > MAX_CMDLINE {
            let mut end = MAX_CMDLINE;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s = &s[..end];
        }
        let mut params = Vec::new();
        let mut init_args = Vec::new();
        let mut after_dashes = false;
        for word in split_words(s) {
            if after_dashes {
                if init_args.len() < MAX_PARAMS {
                    init_args.push(word.replace('"', ""));
                }
                continue;
            }
            if word == "--" {
                after_dashes = true;
                continue;
            }
            if params.len() >= MAX_PARAMS {
                break;
            }
            params.push(split_param(&word));
        }
        Cmdline {
            raw,
            params,
            init_args,
        }
    }

    /// The value the kernel uses for a single-valued parameter: the last one given
    /// (`Some("")` for `key=`; a flag without `=` gives `Some("")` too).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|p| p.key == key)
            .map(|p| p.value.as_deref().unwrap_or(""))
    }

    /// Every value given for `key`, in order (`rd.lvm.lv`, `console`).
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |p| p.key == key)
            .filter_map(|p| p.value.as_deref())
    }

    /// A flag or parameter is present (`ro`, `quiet`, `rhgb`).
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|p| p.key == key)
    }

    /// Every `console=`, in order; the last one is `/dev/console`.
    pub fn consoles(&self) -> Vec<Console> {
        self.values("console")
            .filter(|v| !v.is_empty())
            .map(|v| match v.split_once(',') {
                Some((name, opts)) => Console {
                    name: name.to_string(),
                    options: Some(opts.to_string()),
                },
                None => Console {
                    name: v.to_string(),
                    options: None,
                },
            })
            .collect()
    }

    /// The `root=` value (the last one), parsed.
    pub fn root(&self) -> Option<RootRef> {
        self.get("root")
            .filter(|v| !v.is_empty())
            .map(RootRef::parse)
    }
}

/// Split at spaces outside double quotes, keeping the quotes (removed by [`split_param`]).
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut started = false;
    for c in s.chars() {
        if c == '"' {
            in_quote = !in_quote;
            cur.push(c);
            started = true;
        } else if c.is_whitespace() && !in_quote {
            if started {
                out.push(std::mem::take(&mut cur));
                started = false;
            }
        } else {
            cur.push(c);
            started = true;
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// `key=value`, `"key=value with spaces"`, `key="value with spaces"`: the kernel drops a
/// leading quote with its closing one, and quotes around the value.
fn split_param(word: &str) -> Param {
    let mut w = word;
    if let Some(rest) = w.strip_prefix('"') {
        w = rest;
        if let Some(pos) = w.rfind('"') {
            // "key=value" → key=value (the kernel drops the last quote only when it ends the
            // word, which it does for well-formed input; a stray one is removed as well).
            let mut s = String::with_capacity(w.len());
            s.push_str(&w[..pos]);
            s.push_str(&w[pos + 1..]);
            return split_unquoted(&s);
        }
    }
    split_unquoted(w)
}

fn split_unquoted(w: &str) -> Param {
    match w.split_once('=') {
        Some((k, v)) => {
            let v = v
                .strip_prefix('"')
                .map(|v| v.strip_suffix('"').unwrap_or(v))
                .unwrap_or(v);
            Param {
                key: k.to_string(),
                value: Some(v.to_string()),
            }
        }
        None => Param {
            key: w.to_string(),
            value: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distro_lines() {
        let c = Cmdline::parse(
            "BOOT_IMAGE=/vmlinuz-5.15.0-1040-oracle root=UUID=8d1a-77 rootflags=subvol=@ ro \
             rd.lvm.lv=ol/root rd.lvm.lv=ol/swap console=tty0 console=ttyS0,115200n8 \
             crashkernel=auto quiet",
        );
        assert_eq!(c.get("root"), Some("UUID=8d1a-77"));
        assert_eq!(c.root(), Some(RootRef::Uuid("8d1a-77".into())));
        assert_eq!(c.get("rootflags"), Some("subvol=@"));
        assert_eq!(
            c.values("rd.lvm.lv").collect::<Vec<_>>(),
            ["ol/root", "ol/swap"]
        );
        assert!(c.has("ro") && c.has("quiet") && !c.has("rhgb"));
        assert_eq!(c.get("ro"), Some(""));
        assert_eq!(c.get("crashkernel"), Some("auto"));
        let cons = c.consoles();
        assert_eq!(cons.len(), 2);
        assert_eq!(cons[1].name, "ttyS0");
        assert_eq!(cons[1].options.as_deref(), Some("115200n8"));
        assert!(cons[1].is_serial() && !cons[0].is_serial());
    }

    #[test]
    fn quoting_and_init_args() {
        let c = Cmdline::parse(
            r#"root=/dev/mapper/ol-root "dyndbg=file foo.c +p" foo="a b" console=ttyAMA0 -- single x"#,
        );
        assert_eq!(c.get("dyndbg"), Some("file foo.c +p"));
        assert_eq!(c.get("foo"), Some("a b"));
        assert_eq!(
            c.root(),
            Some(RootRef::Mapper("/dev/mapper/ol-root".into()))
        );
        assert_eq!(c.consoles()[0].name, "ttyAMA0");
        assert!(c.consoles()[0].is_serial());
        assert_eq!(c.init_args, ["single", "x"]);
        // Unbalanced quotes never panic.
        let c = Cmdline::parse(r#"a="b c d"#);
        assert_eq!(c.params.len(), 1);
        let _ = Cmdline::parse("\"\"\"=\"");
    }

    #[test]
    fn root_kinds() {
        for (v, stable) in [
            ("UUID=x", true),
            ("LABEL=cloudimg-rootfs", true),
            ("PARTUUID=1-2", true),
            ("/dev/mapper/rhel-root", true),
            ("/dev/ol/root", true),
            ("/dev/disk/by-uuid/x", true),
            ("/dev/sda1", false),
            ("/dev/nvme0n1p2", false),
            ("/dev/disk/by-id/scsi-1", false),
            ("ZFS=rpool/ROOT", false),
        ] {
            assert_eq!(RootRef::parse(v).is_stable(), stable, "{v}");
        }
        // The last root= wins.
        assert_eq!(
            Cmdline::parse("root=/dev/sda1 root=LABEL=r").root(),
            Some(RootRef::Label("r".into()))
        );
    }
}
