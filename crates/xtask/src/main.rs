//! `cargo xtask <command>`: the project's chores, with nothing to install by hand first.
//!
//! - `test`:  install the missing tools (Debian packages, the wasm32 target, clippy, rustfmt),
//!   then fmt check, clippy (native and wasm32 core), every test. What CI runs (`.ci/run`).
//! - `serve`: install Trunk and wasm-bindgen-cli at the pinned versions, then serve the web page.
//! - `bench`: the same large sparse fixtures through the release CLI and the release page in
//!   headless Chromium; prints bytes read, read calls and time for each.
//! - `site`:  build the web page into `dist/` (`trunk build --release`) with its sample image.
//! - `e2e`:   `site`, then the browser tests in headless Chromium (tests/e2e).
//! - `setup`: only the installing part of `test`.

use preflight_fixtures::display;
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
    (
        "debootstrap",
        "debootstrap: the real Debian 12 cloud image fixture (tests/fixtures/src/debootstrap.rs)",
    ),
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
        "cpio",
        "cpio: initramfs fixtures and the listing they are compared with",
    ),
    (
        "initramfs-tools",
        "mkinitramfs, unmkinitramfs: a real Debian initramfs for the initramfs reader",
    ),
    (
        "xz-utils",
        "xz, lzma: compressed initramfs and kernel fixtures",
    ),
    ("lz4", "lz4 -l: legacy-format initramfs fixtures"),
    ("bzip2", "bzip2: compressed initramfs fixtures"),
    (
        "grub-common",
        "grub-editenv: grubenv blocks cross-checked with GRUB's own tool",
    ),
    (
        "grub-pc-bin",
        "grub-install --target=i386-pc: boot.img/core.img on BIOS boot fixtures",
    ),
    (
        "grub-efi-amd64-bin",
        "grub-mkimage -O x86_64-efi: GRUB EFI images read by the ESP reader",
    ),
    (
        "shim-signed",
        "real shim, fallback (fbx64.efi) and MokManager binaries for the ESP reader",
    ),
    (
        "systemd",
        "systemctl --root: unit states cross-checked (present on Debian; listed for minimal machines)",
    ),
    (
        "syslinux-common",
        "SYSLINUX's real MBR boot code (mbr.bin, gptmbr.bin, altmbr.bin) for the boot-code reader",
    ),
    (
        "file",
        "file -b: kernel image banners cross-checked (the packages come by apt-get download)",
    ),
    (
        "openssh-client",
        "ssh-keygen: fingerprints checked against OpenSSH's",
    ),
    (
        "nftables",
        "nft -c -f: the nftables fixtures of the hardening reader are valid rule sets",
    ),
    (
        "libxml2-utils",
        "xmllint --noout: the firewalld zone fixtures are well-formed XML",
    ),
    (
        "chrony",
        "chronyd -p -f: the chrony configuration as chrony parses it (includes expanded)",
    ),
    (
        "iptables",
        "iptables-restore --test: the saved iptables rule fixtures",
    ),
    (
        "chromium",
        "headless browser for the web page's end-to-end tests",
    ),
    (
        "rpm",
        "rpmbuild, rpm --justdb, rpmdb --exportdb, rpm.vercmp: real RPM databases for the package reader",
    ),
    (
        "db5.3-util",
        "db5.3_load, db5.3_dump: Berkeley DB hash Packages files (RHEL 7/8 layout)",
    ),
    (
        "sqlite3",
        "sqlite3: a live write-ahead log on rpmdb.sqlite for the package reader",
    ),
    (
        "chromium-driver",
        "chromedriver: wasm-bindgen tests in a browser worker",
    ),
    (
        "nodejs",
        "node (and npm): runs the browser tests (tests/e2e), installs playwright-core",
    ),
    (
        "netplan.io",
        "netplan generate --root-dir: netplan fixtures rendered to networkd/NetworkManager \
         files the network reader must agree with (writes only under the given root)",
    ),
    (
        "ifupdown",
        "ifquery -i FILE: /etc/network/interfaces stanzas and includes as ifupdown parses them",
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
        Some("bench") => bench(args.iter().any(|a| a == "--native-only")),
        Some("site") => site().map(|_| ()),
        Some("e2e") => e2e(),
        Some("setup") => setup(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test   install what is missing, then fmt, clippy (native + wasm32), all tests\n  \
                 serve  install trunk {TRUNK_VERSION} + wasm-bindgen-cli {WASM_BINDGEN_VERSION}, serve http://{SERVE_ADDRESS}:{SERVE_PORT}/\n  \
                 bench  20 GiB sparse fixtures, release CLI and page in Chromium: bytes read, calls, time\n         (--native-only: the CLI alone)\n  \
                 site   build the web page into dist/ (trunk build --release) with its sample image\n  \
                 e2e    site, then the browser tests in headless Chromium (tests/e2e)\n  \
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
    // The kernel-image tests download Debian's arm64 kernel package: apt must know arm64.
    let foreign = probe(Command::new("dpkg").arg("--print-foreign-architectures"));
    let add_arm64 = foreign.is_some_and(|f| !f.split_whitespace().any(|a| a == "arm64"));
    if add_arm64 {
        let mut add = if is_root() {
            Command::new("dpkg")
        } else {
            let mut c = Command::new("sudo");
            c.arg("dpkg");
            c
        };
        run(add.args(["--add-architecture", "arm64"]))?;
    }
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .map(|(package, _)| *package)
        .filter(|package| {
            probe(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", package]))
                .is_none_or(|status| status.trim() != "installed")
        })
        .collect();
    if missing.is_empty() && !add_arm64 {
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
    if missing.is_empty() {
        return Ok(());
    }
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
    let mut web_wasm = cargo();
    web_wasm.args([
        "clippy",
        "--target",
        WASM_TARGET,
        "-p",
        "preflight-web",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(("clippy (preflight-web for wasm32)", web_wasm));
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--no-fail-fast"]);
    steps.push(("tests (cargo test --workspace)", tests));

    let mut done = Vec::new();
    let run_step = |name: &'static str, step: &mut dyn FnMut() -> Result| {
        println!("\n==> {name}");
        let t = Instant::now();
        let result = step();
        let took = t.elapsed();
        match result {
            Ok(()) => {
                println!("==> ok: {name} ({})", seconds(took));
                Ok((name, took))
            }
            Err(e) => {
                println!("==> FAILED: {name} after {}", seconds(took));
                Err(format!("step `{name}` failed: {e}"))
            }
        }
    };
    for (name, mut cmd) in steps {
        done.push(run_step(name, &mut || run(&mut cmd))?);
    }
    done.push(run_step(
        "web page (trunk build --release, sample image)",
        &mut || site().map(|_| ()),
    )?);
    done.push(run_step(
        "worker tests (wasm-bindgen, Blob source in a dedicated worker)",
        &mut worker_tests,
    )?);
    done.push(run_step(
        "browser tests (tests/e2e, headless Chromium)",
        &mut || browser_tests(),
    )?);
    println!("\nall steps passed in {}:", seconds(started.elapsed()));
    for (name, took) in done {
        println!("  {:>8}  {name}", seconds(took));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// cargo xtask site / e2e: the web page

/// Installs what building the web page needs: the wasm32 target, Trunk, wasm-bindgen-cli.
fn ensure_web_tools() -> Result {
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
    )
}

/// Disk images the page ships (the sample) and its browser tests drop.
struct SiteImages {
    /// The clean Debian 12 guest on a GPT disk with an EFI system partition, QCOW2 v3 (about
    /// 400 KiB): the page's sample image.
    sample: PathBuf,
    /// The same guest with an SSH host key and a key in root's authorized_keys (S01, S10).
    violating: PathBuf,
    /// A raw disk of 3 GiB (sparse): reads past 2 GiB (the backup GPT) go through f64 offsets.
    large: PathBuf,
    /// The violating guest as a streamOptimized VMDK, an `.oci` tar and an `.oci` tar.gz: the
    /// page's reports must equal the CLI's.
    vmdk: PathBuf,
    oci: PathBuf,
    oci_gz: PathBuf,
    /// An OVA, for the page's "check the manifest" option.
    ova: PathBuf,
    /// Oracle Linux's layout (XFS on LVM) and Fedora's (Btrfs subvolumes), raw.
    lvm_xfs: PathBuf,
    btrfs: PathBuf,
}

/// Where the site's sample image is put for Trunk's post-build hook (Trunk.toml).
const SITE_SAMPLE: &str = "target/site/sample/debian-12-sample.qcow2";

fn site_images() -> SiteImages {
    let (host_private, host_public) = preflight_fixtures::test_key("host");
    let (_, user_public) = preflight_fixtures::test_key("user");
    let violating = debian_guest()
        .file_mode("/etc/ssh/ssh_host_ed25519_key", &host_private, 0o600)
        .file("/etc/ssh/ssh_host_ed25519_key.pub", &host_public)
        .file("/root/.ssh/authorized_keys", &user_public);
    // Both boot (an EFI system partition with a loader on the removable path), so the sample
    // is ready and the violating image fails only for what it violates.
    let bootable = |tree| DiskSpec {
        partitioning: Partitioning::GptEfi,
        ..DiskSpec::new(tree)
    };
    let violating = bootable(violating);
    SiteImages {
        sample: image(&bootable(debian_guest()), Container::Qcow2V3),
        violating: image(&violating, Container::Qcow2V3),
        vmdk: image(&violating, Container::VmdkStream),
        oci: image(&violating, Container::Oci),
        oci_gz: image(&violating, Container::OciGz),
        ova: image(&violating, Container::Ova),
        lvm_xfs: preflight_fixtures::oracle_linux_disk(
            &debian_guest().file("/etc/fstab", preflight_fixtures::ol_fstab()),
        ),
        btrfs: preflight_fixtures::fedora_disk(
            &debian_guest().file("/etc/fstab", preflight_fixtures::fedora_fstab()),
        ),
        large: image(
            &DiskSpec {
                partitioning: Partitioning::GptEfi,
                disk_mib: 3072,
                ..DiskSpec::new(debian_guest())
            },
            Container::Raw,
        ),
    }
}

fn copy(from: &Path, to: &Path) -> Result {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Builds the images, then the site into `dist/` with the sample in `dist/sample/`.
fn site() -> Result<SiteImages> {
    ensure_web_tools()?;
    println!("building the site's disk images (cached under target/fixtures)");
    let images = site_images();
    let root = repo_root();
    copy(&images.sample, &root.join(SITE_SAMPLE))?;
    run(Command::new("trunk")
        .args(["build", "--release"])
        .current_dir(root)
        .env("PATH", path_with_cargo_bin()))?;
    // The post-build hook copies it when the target dir is the default one; make sure anyway.
    copy(
        &images.sample,
        &root.join("dist/sample/debian-12-sample.qcow2"),
    )?;
    println!("site ready in {}", root.join("dist").display());
    Ok(images)
}

/// `npm ci` (or `npm install` without a lock file) in tests/e2e unless playwright-core is there.
fn ensure_e2e_packages(dir: &Path) -> Result {
    // Debian's nodejs comes without npm, NodeSource's with it (and conflicts with Debian's npm).
    if probe(Command::new("npm").arg("--version")).is_none() {
        let mut install = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        install
            .args(["install", "-y", "-qq", "--no-install-recommends", "npm"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut install)?;
    }
    if dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        println!("tests/e2e: node packages present");
        return Ok(());
    }
    let verb = if dir.join("package-lock.json").is_file() {
        "ci"
    } else {
        "install"
    };
    run(Command::new("npm")
        .args([verb, "--no-audit", "--no-fund"])
        .current_dir(dir))
}

/// The browser tests: node's test runner drives headless Chromium over the built site.
fn browser_tests() -> Result {
    let images = site_images();
    let root = repo_root();
    let e2e = root.join("tests/e2e");
    ensure_e2e_packages(&e2e)?;
    // The CLI the page's reports are compared with.
    run(cargo().args(["build", "-p", "preflight-cli"]))?;
    let shots = target_dir().join("e2e-screenshots");
    std::fs::create_dir_all(&shots).map_err(|e| format!("{}: {e}", shots.display()))?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .arg("page.test.mjs")
        .current_dir(&e2e)
        .env("PREFLIGHT_DIST", root.join("dist"))
        .env("PREFLIGHT_SCREENSHOTS", &shots)
        .env("PREFLIGHT_IMAGE_CLEAN", &images.sample)
        .env("PREFLIGHT_IMAGE_VIOLATING", &images.violating)
        .env("PREFLIGHT_IMAGE_LARGE", &images.large)
        .env("PREFLIGHT_IMAGE_VMDK", &images.vmdk)
        .env("PREFLIGHT_IMAGE_OCI", &images.oci)
        .env("PREFLIGHT_IMAGE_OCI_GZ", &images.oci_gz)
        .env("PREFLIGHT_IMAGE_OVA", &images.ova)
        .env("PREFLIGHT_IMAGE_LVM_XFS", &images.lvm_xfs)
        .env("PREFLIGHT_IMAGE_BTRFS", &images.btrfs)
        .env("PREFLIGHT_CLI", target_dir().join("debug/preflight")))
}

/// Chromium profile directories chromedriver makes in the temp dir and leaves there; the
/// 3 GiB Blob test puts 3 GiB of blob storage in each.
fn chromium_scoped_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(env::temp_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("org.chromium.Chromium.scoped_dir.")
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The wasm-bindgen tests of web/tests (the Blob byte source in a real dedicated worker),
/// run by wasm-bindgen-test-runner through chromedriver; browser flags in web/webdriver.json.
fn worker_tests() -> Result {
    ensure_web_tools()?;
    let before = chromium_scoped_dirs();
    let result = worker_tests_run();
    for dir in chromium_scoped_dirs() {
        if !before.contains(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    result
}

fn worker_tests_run() -> Result {
    run(cargo()
        .args([
            "test",
            "-p",
            "preflight-web",
            "--target",
            WASM_TARGET,
            "--tests",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        // The default 20 s is too tight for the debug-build 3 GiB Blob test on a loaded
        // 2-core machine (seen failing here as "might have timed out").
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
        .env("PATH", path_with_cargo_bin()))
}

fn e2e() -> Result {
    ensure_debian_packages()?;
    site()?;
    worker_tests()?;
    browser_tests()
}

// ---------------------------------------------------------------------------------------------
// cargo xtask serve

fn serve() -> Result {
    ensure_web_tools()?;
    // The sample image needs the fixture tools (and root for its file owners): without them
    // the page serves all the same and says the sample is not part of this build.
    let sample =
        std::panic::catch_unwind(|| image(&DiskSpec::new(debian_guest()), Container::Qcow2V3));
    match sample {
        Ok(path) => copy(&path, &repo_root().join(SITE_SAMPLE))?,
        Err(_) => {
            println!("warning: the sample image could not be built (see above); serving without it")
        }
    }
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
    /// `stats.scans`: (what, files, bytes, dirs, truncated).
    scans: Vec<(String, u64, u64, u64, bool)>,
}

/// `stats.scans` of a JSON report.
fn scans_of(report: &serde_json::Value) -> Vec<(String, u64, u64, u64, bool)> {
    report["stats"]["scans"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["what"].as_str().unwrap_or_default().to_string(),
                        s["files"].as_u64().unwrap_or(0),
                        s["bytes"].as_u64().unwrap_or(0),
                        s["dirs"].as_u64().unwrap_or(0),
                        s["truncated"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
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
        scans: scans_of(&report),
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

/// The browser column: tests/e2e/bench.mjs drops each image on the built page in headless
/// Chromium and prints the report's stats as `BENCH {json}` lines.
fn measure_in_browser(images: &[(&str, PathBuf)]) -> Result<Vec<BenchRow>> {
    let e2e = repo_root().join("tests/e2e");
    ensure_e2e_packages(&e2e)?;
    let list = serde_json::Value::Array(
        images
            .iter()
            .map(|(name, path)| serde_json::json!({ "name": name, "path": path }))
            .collect(),
    );
    let mut cmd = Command::new("node");
    cmd.arg("bench.mjs")
        .current_dir(&e2e)
        .env("PREFLIGHT_DIST", repo_root().join("dist"))
        .env("PREFLIGHT_BENCH_IMAGES", list.to_string());
    println!("$ {}", display(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", display(&cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", display(&cmd), out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut rows = Vec::new();
    for line in stdout.lines() {
        let Some(json) = line.strip_prefix("BENCH ") else {
            continue;
        };
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("bench.mjs printed `{line}`: {e}"))?;
        let field = |f: &str| {
            v[f].as_u64()
                .ok_or_else(|| format!("bench.mjs: no numeric {f} in `{line}`"))
        };
        let name = v["name"].as_str().unwrap_or_default();
        let file_size = images
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, p)| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        rows.push(BenchRow {
            name: name.to_string(),
            file_size,
            bytes_read: field("bytes_read")?,
            read_calls: field("read_calls")?,
            elapsed_ms: field("elapsed_ms")?,
            scans: Vec::new(),
        });
    }
    if rows.len() != images.len() {
        return Err(format!(
            "bench.mjs measured {} of {} images",
            rows.len(),
            images.len()
        ));
    }
    Ok(rows)
}

/// The guest scans' cost per image (native runs; the page runs the same code).
fn print_scan_table(rows: &[(&str, BenchRow)]) {
    println!(
        "\n{:<30} {:<30} {:>8} {:>8} {:>12} {:>10}",
        "image", "guest scan", "dirs", "files", "bytes", "partial"
    );
    for (place, r) in rows {
        if *place != "native" {
            continue;
        }
        for (what, files, bytes, dirs, truncated) in &r.scans {
            println!(
                "{:<30} {:<30} {:>8} {:>8} {:>12} {:>10}",
                r.name,
                what,
                dirs,
                files,
                human_bytes(*bytes),
                if *truncated { "yes" } else { "" }
            );
        }
    }
}

fn print_bench_table(rows: &[(&str, BenchRow)]) {
    println!(
        "{:<22} {:<8} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "image", "where", "file size", "bytes read", "% of file", "read calls", "ms"
    );
    for (place, r) in rows {
        let percent = if r.file_size == 0 {
            0.0
        } else {
            r.bytes_read as f64 * 100.0 / r.file_size as f64
        };
        println!(
            "{:<22} {:<8} {:>12} {:>12} {:>9.3}% {:>10} {:>8}",
            r.name,
            place,
            human_bytes(r.file_size),
            human_bytes(r.bytes_read),
            percent,
            r.read_calls,
            r.elapsed_ms
        );
    }
}

/// Incompressible data in the bench guest, so container files have a realistic size (a
/// sparse disk holding only a small guest makes every format a few megabytes) and the tar.gz
/// pass has real work to do.
const BALLAST_BYTES: usize = 512 << 20;

/// `n` pseudo-random bytes (xorshift64*, fixed seed: the fixture's cache key stays stable).
fn ballast(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The bench images: one 20 GiB-virtual sparse disk (GPT, EFI system partition, Debian guest
/// with 512 MiB of incompressible data, 2 GiB root) in each container format the core reads. Fixed VHD/VHDX and static VDI are
/// 20 GiB files too (sparse on disk).
fn bench_images() -> Vec<(&'static str, PathBuf)> {
    let spec = DiskSpec {
        partitioning: Partitioning::GptEfi,
        disk_mib: 20 * 1024,
        root_mib: 2 * 1024,
        ..DiskSpec::new(debian_guest().file("/srv/ballast.bin", ballast(BALLAST_BYTES)))
    };
    vec![
        ("qcow2 v3", image(&spec, Container::Qcow2V3)),
        ("raw", image(&spec, Container::Raw)),
        ("vmdk sparse", image(&spec, Container::VmdkSparse)),
        ("vmdk stream", image(&spec, Container::VmdkStream)),
        ("vhd dynamic", image(&spec, Container::VhdDynamic)),
        ("vhd fixed", image(&spec, Container::VhdFixed)),
        ("vhdx dynamic", image(&spec, Container::VhdxDynamic)),
        ("vhdx fixed", image(&spec, Container::VhdxFixed)),
        ("vdi dynamic", image(&spec, Container::VdiDynamic)),
        ("vdi static", image(&spec, Container::VdiStatic)),
        (".oci tar", image(&spec, Container::Oci)),
        (".oci tar.gz", image(&spec, Container::OciGz)),
        ("ova", image(&spec, Container::Ova)),
        // A real distribution tree (debootstrap, with planted secrets and leftovers): what
        // the guest scans cost on a full system rather than the small fixture guest.
        (
            "debian 12 debootstrap",
            preflight_fixtures::debian_cloud_image(true, Container::Qcow2V3),
        ),
    ]
}

/// `cargo xtask bench [--native-only]`: the same images natively (release CLI) and in the
/// browser (the release site in headless Chromium).
fn bench(native_only: bool) -> Result {
    ensure_debian_packages()?;
    run(cargo().args(["build", "--release", "-p", "preflight-cli"]))?;
    let preflight = target_dir().join("release/preflight");

    println!("building the 20 GiB sparse fixtures (cached under target/fixtures)");
    let t = Instant::now();
    let images = bench_images();
    println!("fixtures ready in {}", seconds(t.elapsed()));

    let mut rows = Vec::new();
    for (name, path) in &images {
        rows.push(("native", measure(&preflight, name, path)?));
    }
    if !native_only {
        site()?;
        for row in measure_in_browser(&images)? {
            rows.push(("browser", row));
        }
    }
    rows.sort_by_key(|(_, r)| images.iter().position(|(n, _)| *n == r.name));

    println!();
    print_bench_table(&rows);
    print_scan_table(&rows);
    if !native_only {
        println!(
            "\nms: inspection time as the report states it (the worker's clock in the browser, \
             after the WebAssembly module is compiled)."
        );
    }
    Ok(())
}
