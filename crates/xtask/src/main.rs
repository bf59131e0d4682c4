//! `cargo xtask <command>`: the project's chores, with nothing to install by hand first.
//!
//! - `test`:  install the missing tools (Debian packages, the wasm32 target, clippy, rustfmt),
//!   then fmt check, clippy (native and wasm32 core), every test. What CI runs (`.ci/run`).
//! - `serve`: install Trunk and wasm-bindgen-cli at the pinned versions, then serve the web page.
//! - `bench`: run the release CLI on a large sparse fixture and print what it read.
//! - `setup`: only the installing part of `test`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use preflight_fixtures::{Container, DiskSpec, Partitioning, debian_guest, image};

type Result<T = ()> = std::result::Result<T, String>;

/// Debian packages the fixtures and tests use, with what for.
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    (
        "e2fsprogs",
        "mkfs.ext4 -d, debugfs, dumpe2fs: ext2/3/4 fixtures",
    ),
    ("fdisk", "sfdisk: MBR fixtures, partition tables as JSON"),
    ("gdisk", "sgdisk: GPT fixtures"),
    ("dosfstools", "mkfs.vfat: EFI system partitions"),
    ("mtools", "mmd, mcopy, mdir: files inside vfat images"),
    (
        "qemu-utils",
        "qemu-img, qemu-io: QCOW2 fixtures and the byte-identity reference",
    ),
    ("zstd", "zstd: compressed initramfs fixtures"),
    ("xfsprogs", "mkfs.xfs: XFS fixtures"),
    ("btrfs-progs", "mkfs.btrfs: Btrfs fixtures"),
    ("cryptsetup-bin", "cryptsetup: LUKS fixtures"),
    ("lvm2", "pvcreate, vgcreate, lvcreate: LVM2 fixtures"),
    (
        "util-linux",
        "mount, losetup, blkid, mkswap: kernel cross-checks",
    ),
    ("ntfs-3g", "mkntfs: NTFS probe fixtures"),
    ("exfatprogs", "mkfs.exfat: exFAT probe fixtures"),
    ("squashfs-tools", "mksquashfs: squashfs probe fixtures"),
    ("xorriso", "ISO 9660 probe fixtures"),
    (
        "openssh-client",
        "ssh-keygen: fingerprints checked against OpenSSH's",
    ),
];

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRUNK_VERSION: &str = "0.21.14";
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const SERVE_ADDRESS: &str = "127.0.0.1";
const SERVE_PORT: &str = "8080";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("serve") => serve(),
        Some("bench") => bench(),
        Some("setup") => setup(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test   install what is missing, then fmt, clippy (native + wasm32), all tests\n  \
                 serve  install trunk {TRUNK_VERSION} + wasm-bindgen-cli {WASM_BINDGEN_VERSION}, serve http://{SERVE_ADDRESS}:{SERVE_PORT}/\n  \
                 bench  release CLI on a 20 GiB sparse fixture (raw, qcow2): bytes read, calls, time\n  \
                 setup  only install what `test` needs"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// The repository root (this crate is `crates/xtask`).
fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/xtask sits two levels below the repository root")
}

/// The cargo that runs us (`$CARGO`), so nested builds use the same toolchain.
fn cargo() -> Command {
    let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(repo_root());
    c
}

fn display(cmd: &Command) -> String {
    let quote = |s: &std::ffi::OsStr| {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints the command, runs it with inherited output, fails unless it exits with 0.
fn run(cmd: &mut Command) -> Result {
    println!("$ {}", display(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", display(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(cmd)))
    }
}

/// Runs a probe silently: its standard output if it exits with 0.
fn probe(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    probe(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// `$CARGO_HOME/bin`, where `cargo install` puts binaries.
fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

/// `PATH` with `$CARGO_HOME/bin` in front, for tools installed by `cargo install`.
fn path_with_cargo_bin() -> std::ffi::OsString {
    let mut dirs = vec![cargo_bin_dir()];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).unwrap_or_default()
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Installing what is missing

/// Installs the Debian packages that are not installed (one `apt-get update` first, only then).
fn ensure_debian_packages() -> Result {
    if probe(Command::new("dpkg-query").arg("--version")).is_none() {
        println!(
            "warning: no dpkg here; install these tools yourself: {}",
            DEBIAN_PACKAGES
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .map(|(package, _)| *package)
        .filter(|package| {
            probe(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", package]))
                .is_none_or(|status| status.trim() != "installed")
        })
        .collect();
    if missing.is_empty() {
        println!("Debian packages: all {} present", DEBIAN_PACKAGES.len());
        return Ok(());
    }
    println!("Debian packages missing: {}", missing.join(" "));
    let apt = |args: &[&str]| {
        let mut c = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

/// Adds the wasm32 target unless rustup has it.
fn ensure_wasm_target() -> Result {
    let Some(targets) = probe(Command::new("rustup").args(["target", "list", "--installed"]))
    else {
        println!("warning: no rustup here; make sure the {WASM_TARGET} target is installed");
        return Ok(());
    };
    if targets.lines().any(|t| t.trim() == WASM_TARGET) {
        println!("rust target {WASM_TARGET}: present");
        Ok(())
    } else {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
    }
}

/// Adds the rustup components (clippy, rustfmt) that are not installed.
fn ensure_components(components: &[&str]) -> Result {
    let Some(installed) = probe(Command::new("rustup").args(["component", "list", "--installed"]))
    else {
        println!(
            "warning: no rustup here; make sure {} are installed",
            components.join(", ")
        );
        return Ok(());
    };
    // Lines read `clippy-x86_64-unknown-linux-gnu`.
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| {
            !installed
                .lines()
                .any(|l| l.trim() == *c || l.starts_with(&format!("{c}-")))
        })
        .collect();
    if missing.is_empty() {
        println!("rust components {}: present", components.join(", "));
        Ok(())
    } else {
        run(Command::new("rustup")
            .args(["component", "add"])
            .args(&missing))
    }
}

/// Runs `cargo install <install_args>` unless `<binary> --version` already names `version`.
fn ensure_cargo_tool(binary: &str, version: &str, install_args: &[&str]) -> Result {
    let seen = probe(
        Command::new(binary)
            .arg("--version")
            .env("PATH", path_with_cargo_bin()),
    );
    if seen.as_deref().is_some_and(|v| {
        v.split_whitespace()
            .any(|w| w.trim_start_matches('v') == version)
    }) {
        println!("{binary} {version}: present");
        return Ok(());
    }
    println!(
        "{binary}: {} but {version} is needed; installing (this takes minutes)",
        seen.map_or("not found".to_string(), |v| format!("found {}", v.trim()))
    );
    run(cargo().arg("install").args(install_args))
}

// ---------------------------------------------------------------------------------------------
// cargo xtask test

/// What `test` needs installed: Debian's tools for the fixtures, rustup's parts for the checks.
fn setup() -> Result {
    ensure_debian_packages()?;
    ensure_wasm_target()?;
    ensure_components(&["clippy", "rustfmt"])
}

fn test() -> Result {
    let started = Instant::now();
    setup()?;

    let root = repo_root();
    let mut steps: Vec<(&str, Command)> = Vec::new();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    steps.push(("format (cargo fmt --check)", fmt));
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(("clippy (native, all targets)", clippy));
    if root.join("crates/core").is_dir() {
        let mut wasm = cargo();
        wasm.args([
            "clippy",
            "--target",
            WASM_TARGET,
            "-p",
            "preflight-core",
            "--",
            "-D",
            "warnings",
        ]);
        steps.push(("clippy (preflight-core for wasm32)", wasm));
    } else {
        println!("skipping the wasm32 build: crates/core does not exist");
    }
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--no-fail-fast"]);
    steps.push(("tests (cargo test --workspace)", tests));

    let mut done = Vec::new();
    for (name, mut cmd) in steps {
        println!("\n==> {name}");
        let t = Instant::now();
        let result = run(&mut cmd);
        let took = t.elapsed();
        match result {
            Ok(()) => {
                println!("==> ok: {name} ({})", seconds(took));
                done.push((name, took));
            }
            Err(e) => {
                println!("==> FAILED: {name} after {}", seconds(took));
                return Err(format!("step `{name}` failed: {e}"));
            }
        }
    }
    println!("\nall steps passed in {}:", seconds(started.elapsed()));
    for (name, took) in done {
        println!("  {:>8}  {name}", seconds(took));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// cargo xtask serve

fn serve() -> Result {
    ensure_wasm_target()?;
    ensure_cargo_tool(
        "trunk",
        TRUNK_VERSION,
        &["trunk", "--version", TRUNK_VERSION, "--locked"],
    )?;
    // No --locked: wasm-bindgen-cli's own lock file pins crates that need a newer rustc.
    ensure_cargo_tool(
        "wasm-bindgen",
        WASM_BINDGEN_VERSION,
        &["wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION],
    )?;
    println!("\nserving the web page on http://{SERVE_ADDRESS}:{SERVE_PORT}/ (Ctrl-C stops)");
    run(Command::new("trunk")
        .args(["serve", "--address", SERVE_ADDRESS, "--port", SERVE_PORT])
        .current_dir(repo_root())
        .env("PATH", path_with_cargo_bin()))
}

// ---------------------------------------------------------------------------------------------
// cargo xtask bench

/// Where cargo puts build output: `$CARGO_TARGET_DIR` or `<root>/target`.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}

struct BenchRow {
    name: String,
    file_size: u64,
    bytes_read: u64,
    read_calls: u64,
    elapsed_ms: u64,
}

/// Runs `preflight check <image> --format json` and takes `stats` from the report. Exit codes
/// 0 (no blocker) and 1 (blockers found) both carry a report.
fn measure(preflight: &Path, name: &str, image: &Path) -> Result<BenchRow> {
    let mut cmd = Command::new(preflight);
    cmd.arg("check").arg(image).args(["--format", "json"]);
    println!("$ {}", display(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", display(&cmd)))?;
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!("`{}` failed ({})", display(&cmd), out.status));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`{}` did not print a JSON report: {e}", display(&cmd)))?;
    let stat = |field: &str| {
        report["stats"][field]
            .as_u64()
            .ok_or_else(|| format!("the report has no numeric stats.{field}"))
    };
    let file_size = std::fs::metadata(image)
        .map_err(|e| format!("cannot stat {}: {e}", image.display()))?
        .len();
    Ok(BenchRow {
        name: name.to_string(),
        file_size,
        bytes_read: stat("bytes_read")?,
        read_calls: stat("read_calls")?,
        elapsed_ms: stat("elapsed_ms")?,
    })
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn bench() -> Result {
    ensure_debian_packages()?;
    run(cargo().args(["build", "--release", "-p", "preflight-cli"]))?;
    let preflight = target_dir().join("release/preflight");

    println!("building the 20 GiB sparse fixture (cached under target/fixtures)");
    let t = Instant::now();
    let spec = DiskSpec {
        partitioning: Partitioning::GptEfi,
        disk_mib: 20 * 1024,
        root_mib: 2 * 1024,
        ..DiskSpec::new(debian_guest())
    };
    let images = [
        ("qcow2 v3, 20 GiB", image(&spec, Container::Qcow2V3)),
        ("raw, 20 GiB", image(&spec, Container::Raw)),
    ];
    println!("fixtures ready in {}", seconds(t.elapsed()));

    let rows = images
        .iter()
        .map(|(name, path)| measure(&preflight, name, path))
        .collect::<Result<Vec<_>>>()?;

    println!();
    println!(
        "{:<18} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "image", "file size", "bytes read", "% of file", "read calls", "ms"
    );
    for r in &rows {
        let percent = if r.file_size == 0 {
            0.0
        } else {
            r.bytes_read as f64 * 100.0 / r.file_size as f64
        };
        println!(
            "{:<18} {:>12} {:>12} {:>9.3}% {:>10} {:>8}",
            r.name,
            human_bytes(r.file_size),
            human_bytes(r.bytes_read),
            percent,
            r.read_calls,
            r.elapsed_ms
        );
    }
    Ok(())
}
