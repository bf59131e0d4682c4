//! The systemd reader on a unit file, a drop-in, a preset file and a symlink farm built from
//! arbitrary bytes: states, presets and the boot walk must stay bounded and never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;
use preflight_facts::systemd::Systemd;

const DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/etc/systemd/system/multi-user.target.wants",
    "/usr/lib/systemd/system",
    "/usr/lib/systemd/system/sysinit.target.wants",
    "/lib/systemd/system",
];
const NAMES: &[&str] = &[
    "a.service",
    "b.service",
    "getty@.service",
    "getty@tty1.service",
    "default.target",
    "multi-user.target",
    "x.socket",
    "sysinit.target",
];
const TARGETS: &[&str] = &[
    "/dev/null",
    "a.service",
    "../a.service",
    "/usr/lib/systemd/system/b.service",
    "/lib/systemd/system/getty@.service",
    "multi-user.target",
    "/opt/x/a.service",
    "/etc/systemd/system",
    "..",
];

fuzz_target!(|data: &[u8]| {
    // First bytes: a symlink farm (3 bytes per link); the rest: file contents.
    let n = usize::from(data.first().copied().unwrap_or(0) % 16);
    let farm_len = (1 + n * 3).min(data.len());
    let (farm, rest) = data.split_at(farm_len);
    let mut files = MemFiles::new();
    for chunk in farm.get(1..).unwrap_or(&[]).chunks_exact(3) {
        let dir = DIRS[usize::from(chunk[0]) % DIRS.len()];
        let name = NAMES[usize::from(chunk[1]) % NAMES.len()];
        let target = TARGETS[usize::from(chunk[2]) % TARGETS.len()];
        files = files.with_link(&format!("{dir}/{name}"), target);
    }
    let third = rest.len() / 3;
    let (unit, more) = rest.split_at(third);
    let (dropin, preset) = more.split_at(more.len() / 2);
    files = files
        .with("/usr/lib/systemd/system/a.service", unit)
        .with("/usr/lib/systemd/system/b.service", dropin)
        .with("/etc/systemd/system/a.service.d/x.conf", dropin)
        .with("/usr/lib/systemd/system/multi-user.target", unit)
        .with("/opt/x/a.service", preset)
        .with("/usr/lib/systemd/system-preset/90.preset", preset)
        .with("/etc/init.d/legacy", "")
        .with_link("/etc/rc2.d/S01legacy", "../init.d/legacy");
    if rest.first().is_some_and(|b| b & 1 == 1) {
        files = files.with_link("/lib", "usr/lib");
    }
    let cmdline = std::str::from_utf8(preset).ok();
    let s = Systemd::load_with_cmdline(&files, cmdline);
    for name in NAMES
        .iter()
        .chain(&["legacy.service", "nope.service", "@.service"])
    {
        let _ = s.unit(name);
        let _ = s.enabled_at_boot(name);
    }
    let _ = s.default_target();
});
