//! EFI loaders read from real binaries: images made by `grub-mkimage` (x86_64-efi, and
//! arm64-efi from Debian's grub-efi-arm64-bin), Debian's signed GRUB and shim, shim's
//! fallback and MokManager; machine and sections cross-checked with `objdump -h` and
//! `file -b`, the prefix and embedded config with what we passed to grub-mkimage. Then ESPs
//! laid out as Debian and Ubuntu install them, and the boot path the firmware would take.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use preflight_facts::MemFiles;
use preflight_facts::arch::Arch;
use preflight_facts::efi::{self, EfiLoader, LoaderKind};

const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
const FALLBACK: &str = "/usr/lib/shim/fbx64.efi.signed";
const MOKMANAGER: &str = "/usr/lib/shim/mmx64.efi.signed";
const BOOT_CSV: &str = "/usr/lib/shim/BOOTX64.CSV";
const SIGNED_GRUB: &str = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";
const ARM64_DEB: &str = "grub-efi-arm64-bin_2.06-13+deb12u2_arm64.deb";
const MODULES: [&str; 7] = [
    "part_gpt",
    "fat",
    "ext2",
    "normal",
    "search",
    "configfile",
    "linux",
];
const STUB_CFG: &str = "search.fs_uuid 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0 root hd0,gpt2 \n\
                        set prefix=($root)'/boot/grub'\n\
                        configfile $prefix/grub.cfg\n";

fn need(path: &str, package: &str) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| {
        panic!("{path}: {e}: install the Debian package `{package}` (`cargo xtask test` does)")
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A per-test scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("preflight-efi-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `grub-mkimage -O <format> -p <prefix> [-c config] [-d dir] -o out MODULES…`.
fn mkimage(
    dir: &Path,
    format: &str,
    prefix: &str,
    config: Option<&str>,
    modules_dir: Option<&Path>,
) -> Vec<u8> {
    let out = dir.join(format!("{format}.efi"));
    let mut cmd = Command::new("grub-mkimage");
    cmd.args(["-O", format, "-p", prefix, "-o"]).arg(&out);
    if let Some(c) = config {
        let cfg = dir.join("embedded.cfg");
        fs::write(&cfg, c).unwrap();
        cmd.arg("-c").arg(cfg);
    }
    if let Some(d) = modules_dir {
        cmd.arg("-d").arg(d);
    }
    run(cmd.args(MODULES));
    fs::read(out).unwrap()
}

/// What `objdump -h` lists as section names, in order.
fn objdump_sections(path: &Path) -> Vec<String> {
    run(Command::new("objdump").arg("-h").arg(path))
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 7 && f[0].parse::<u32>().is_ok()).then(|| f[1].to_string())
        })
        .collect()
}

fn file_b(path: &Path) -> String {
    run(Command::new("file").arg("-b").arg(path))
}

fn loader(bytes: &[u8]) -> EfiLoader {
    // Read as read_esp does: only as far as bytes_needed says.
    let head = &bytes[..bytes.len().min(64 << 10)];
    let need = efi::bytes_needed(head).unwrap() as usize;
    efi::read_loader(&bytes[..need.min(bytes.len())]).unwrap()
}

fn cross_check(path: &Path, l: &EfiLoader, file_machine: &str) {
    assert!(file_b(path).contains(file_machine), "{}", file_b(path));
    if file_machine == "x86-64" {
        assert_eq!(l.sections, objdump_sections(path));
    }
}

#[test]
fn grub_mkimage_x86_64() {
    let s = Scratch::new("mk64");
    let bytes = mkimage(&s.0, "x86_64-efi", "/EFI/debian", None, None);
    let l = loader(&bytes);
    cross_check(&s.0.join("x86_64-efi.efi"), &l, "x86-64");
    assert_eq!((l.machine, l.arch), (0x8664, Some(Arch::X86_64)));
    assert_eq!(l.kind, LoaderKind::Grub);
    assert_eq!(l.prefix.as_deref(), Some("/EFI/debian"));
    assert_eq!((l.embedded_config.as_deref(), l.memdisk_size), (None, None));
    // The modules asked for, plus their dependencies resolved by grub-mkimage.
    assert!(l.modules >= MODULES.len(), "{}", l.modules);
    assert_eq!((l.sbat.as_deref(), l.version.as_deref()), (None, None));

    let bytes = mkimage(
        &s.0,
        "x86_64-efi",
        "(hd0,gpt2)/boot/grub",
        Some(STUB_CFG),
        None,
    );
    let l = loader(&bytes);
    assert_eq!(l.prefix.as_deref(), Some("(hd0,gpt2)/boot/grub"));
    assert_eq!(l.embedded_config.as_deref(), Some(STUB_CFG));
}

#[test]
fn grub_mkimage_arm64() {
    let s = Scratch::new("mkaa64");
    let deb = ["/tmp", "/var/cache/apt/archives"]
        .iter()
        .map(|d| Path::new(d).join(ARM64_DEB))
        .find(|p| p.is_file());
    let deb = match deb {
        Some(d) => d,
        None => {
            run(Command::new("apt-get")
                .current_dir(&s.0)
                .args(["download", "grub-efi-arm64-bin:arm64"]));
            fs::read_dir(&s.0)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "deb"))
                .expect("downloaded grub-efi-arm64-bin")
        }
    };
    let root = s.0.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let mods = root.join("usr/lib/grub/arm64-efi");
    let bytes = mkimage(&s.0, "arm64-efi", "/EFI/BOOT", None, Some(&mods));
    let l = loader(&bytes);
    cross_check(&s.0.join("arm64-efi.efi"), &l, "Aarch64");
    assert_eq!((l.machine, l.arch), (0xaa64, Some(Arch::Aarch64)));
    assert_eq!(l.kind, LoaderKind::Grub);
    assert_eq!(l.prefix.as_deref(), Some("/EFI/BOOT"));

    // An aarch64 ESP: GRUB on the removable path reads grub.cfg next to it.
    let esp = MemFiles::new().with("/EFI/BOOT/BOOTAA64.EFI", &bytes).with(
        "/EFI/BOOT/grub.cfg",
        "search --no-floppy --label --set=root cloudimg-rootfs\n",
    );
    let facts = efi::read_esp(&esp, Arch::Aarch64);
    assert_eq!(facts.boot_path.len(), 1, "{facts:#?}");
    let cfg = facts.grub_config.unwrap();
    assert_eq!(cfg.path, "/EFI/BOOT/grub.cfg");
    assert_eq!(cfg.search_label.as_deref(), Some("cloudimg-rootfs"));
    // The same ESP for an x86_64 guest: nothing on its removable path.
    let facts = efi::read_esp(&esp, Arch::X86_64);
    assert!(facts.boot_path.is_empty());
    assert_eq!(facts.removable.keys().collect::<Vec<_>>(), ["aarch64"]);
    // An aarch64 GRUB named BOOTX64.EFI: the firmware would refuse it.
    let esp = MemFiles::new().with("/EFI/BOOT/BOOTX64.EFI", &bytes);
    let facts = efi::read_esp(&esp, Arch::X86_64);
    assert!(
        facts.warnings.iter().any(|w| w.contains("0xaa64")),
        "{:?}",
        facts.warnings
    );
}

#[test]
fn debian_signed_binaries() {
    let grub = need(SIGNED_GRUB, "grub-efi-amd64-signed");
    let l = loader(&grub);
    cross_check(Path::new(SIGNED_GRUB), &l, "x86-64");
    assert_eq!(l.kind, LoaderKind::Grub);
    // Debian builds it with `-p /EFI/debian` and a memdisk whose grub.cfg sources
    // $prefix/grub.cfg; the embedded config only hands over to it.
    assert_eq!(l.prefix.as_deref(), Some("/EFI/debian"));
    assert_eq!(
        l.embedded_config.as_deref(),
        Some("normal (memdisk)/grub.cfg\n")
    );
    assert!(l.memdisk_size.is_some_and(|n| n > 0));
    assert_eq!(l.vendor.as_deref(), Some("Debian"));
    let sbat = l.sbat.as_deref().unwrap();
    assert!(sbat.lines().any(|x| x.starts_with("grub,")), "{sbat}");
    // The version in the vendor SBAT line is the package version, as dpkg knows it.
    let v = l.version.unwrap();
    assert!(v.starts_with("2."), "{v}");

    for (path, kind) in [
        (SHIM, LoaderKind::Shim),
        (FALLBACK, LoaderKind::Fallback),
        (MOKMANAGER, LoaderKind::MokManager),
    ] {
        let l = loader(&need(path, "shim-signed"));
        cross_check(Path::new(path), &l, "x86-64");
        assert_eq!(l.kind, kind, "{path}");
        assert_eq!(l.vendor.as_deref(), Some("Debian"), "{path}");
        assert!(l.sbat.as_deref().unwrap().contains("\nshim,"), "{path}");
    }
    let shim = loader(&need(SHIM, "shim-signed"));
    // shim's long section names come from the COFF string table, as objdump shows them.
    assert!(shim.sections.iter().any(|s| s == ".vendor_cert"));
    // .data.ident and .sbat agree on the version.
    let ident = String::from_utf8_lossy(&need(SHIM, "shim-signed")).into_owned();
    let v = shim.version.clone().unwrap();
    assert!(ident.contains(&format!("$Version: {v} $")), "{v}");
}

/// A Debian ESP as grub-install and shim-signed leave it (with the removable path, as
/// `grub-install --force-extra-removable` writes it).
fn debian_esp(stub: &str) -> MemFiles {
    MemFiles::new()
        .with("/EFI/BOOT/BOOTX64.EFI", need(SHIM, "shim-signed"))
        .with("/EFI/BOOT/fbx64.efi", need(FALLBACK, "shim-signed"))
        .with(
            "/EFI/BOOT/grubx64.efi",
            need(SIGNED_GRUB, "grub-efi-amd64-signed"),
        )
        .with("/EFI/debian/shimx64.efi", need(SHIM, "shim-signed"))
        .with("/EFI/debian/mmx64.efi", need(MOKMANAGER, "shim-signed"))
        .with(
            "/EFI/debian/grubx64.efi",
            need(SIGNED_GRUB, "grub-efi-amd64-signed"),
        )
        .with("/EFI/debian/BOOTX64.CSV", need(BOOT_CSV, "shim-signed"))
        .with("/EFI/debian/grub.cfg", stub)
}

#[test]
fn debian_esp_chain() {
    let facts = efi::read_esp(&debian_esp(STUB_CFG), Arch::X86_64);
    let paths: Vec<&str> = facts.boot_path.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/EFI/BOOT/BOOTX64.EFI",
            "/EFI/BOOT/fbx64.efi",
            "/EFI/debian/shimx64.efi",
            "/EFI/debian/grubx64.efi",
        ],
        "{facts:#?}"
    );
    let what: Vec<&str> = facts.boot_path.iter().map(|s| s.what.as_str()).collect();
    assert!(what[0].starts_with("shim ") && what[0].contains("(Debian): runs fbx64.efi"));
    assert!(
        what[1].contains("reads /EFI/debian/BOOTX64.CSV"),
        "{}",
        what[1]
    );
    assert!(
        what[2].ends_with("runs grubx64.efi next to it"),
        "{}",
        what[2]
    );
    assert!(
        what[3].contains("reads /EFI/debian/grub.cfg"),
        "{}",
        what[3]
    );
    let cfg = facts.grub_config.unwrap();
    assert_eq!(
        cfg.search_uuid.as_deref(),
        Some("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0")
    );
    assert_eq!(
        cfg.next_config.as_deref(),
        Some("($root)/boot/grub/grub.cfg")
    );
    assert_eq!(facts.loaders.len(), 6);
    assert_eq!(
        facts.removable.get("x86_64").map(String::as_str),
        Some("/EFI/BOOT/BOOTX64.EFI")
    );
    assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);
}

#[test]
fn shim_without_fallback_runs_grub_next_to_it() {
    // Names in another case, as FAT may return them: looked up case-insensitively.
    let esp = MemFiles::new()
        .with("/EFI/Boot/bootx64.efi", need(SHIM, "shim-signed"))
        .with(
            "/EFI/Boot/GRUBX64.EFI",
            need(SIGNED_GRUB, "grub-efi-amd64-signed"),
        );
    let facts = efi::read_esp(&esp, Arch::X86_64);
    let paths: Vec<&str> = facts.boot_path.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/EFI/Boot/bootx64.efi", "/EFI/Boot/GRUBX64.EFI"]);
    // Debian's GRUB would look for /EFI/debian/grub.cfg: not on this ESP.
    assert!(
        facts
            .warnings
            .iter()
            .any(|w| w.contains("/EFI/debian/grub.cfg")),
        "{:?}",
        facts.warnings
    );
}

#[test]
fn ubuntu_esp_without_removable_path() {
    let esp = MemFiles::new()
        .with("/EFI/ubuntu/shimx64.efi", need(SHIM, "shim-signed"))
        .with("/EFI/ubuntu/mmx64.efi", need(MOKMANAGER, "shim-signed"))
        .with(
            "/EFI/ubuntu/grubx64.efi",
            need(SIGNED_GRUB, "grub-efi-amd64-signed"),
        )
        .with("/EFI/ubuntu/BOOTX64.CSV", need(BOOT_CSV, "shim-signed"))
        .with("/EFI/ubuntu/grub.cfg", STUB_CFG);
    let facts = efi::read_esp(&esp, Arch::X86_64);
    assert!(facts.boot_path.is_empty(), "{facts:#?}");
    assert!(facts.removable.is_empty());
    assert_eq!(facts.loaders.len(), 3);
    let w = facts.warnings.join("\n");
    assert!(w.contains("no \\EFI\\BOOT\\BOOTX64.EFI"), "{w}");
    assert!(w.contains("/EFI/ubuntu/shimx64.efi"), "{w}");
}

#[test]
fn grub_with_embedded_stub_on_removable_path() {
    let s = Scratch::new("embedded");
    let bytes = mkimage(&s.0, "x86_64-efi", "/EFI/BOOT", Some(STUB_CFG), None);
    let esp = MemFiles::new().with("/EFI/BOOT/BOOTX64.EFI", &bytes);
    let facts = efi::read_esp(&esp, Arch::X86_64);
    assert_eq!(facts.boot_path.len(), 1);
    let cfg = facts.grub_config.unwrap();
    assert_eq!(cfg.path, "<embedded in /EFI/BOOT/BOOTX64.EFI>");
    assert_eq!(
        cfg.next_config.as_deref(),
        Some("($root)/boot/grub/grub.cfg")
    );
}

#[test]
fn truncated_and_corrupt_loaders_never_panic() {
    let shim = need(SHIM, "shim-signed");
    let grub = need(SIGNED_GRUB, "grub-efi-amd64-signed");
    for data in [&shim, &grub] {
        for cut in [0, 2, 0x40, 0x80, 0x100, 0x200, 0x400, 0x1000, 0x20000] {
            let _ = efi::read_loader(&data[..cut.min(data.len())]);
        }
        for at in (0..0x400).step_by(7) {
            let mut d = data[..data.len().min(0x40000)].to_vec();
            d[at] ^= 0xff;
            let _ = efi::read_loader(&d);
        }
    }
}
