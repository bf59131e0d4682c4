//! Kernel image facts against real Debian kernels: the release our reader finds must be the
//! package's `/lib/modules/<release>` directory name, and for x86 the version `file -b`
//! prints. The packages are fetched once with `apt-get download` (pinned versions) and only
//! their `vmlinuz` is kept under `<fixtures>/kernels-debian-<release>/`.
//!
//! The arm64 `Image` is also wrapped as the other formats Linux ships (Image.gz, EFI zboot
//! with gzip/zstd, compressed by the real `zstd`, `xz`, `lzma`, `lz4 -l`, `bzip2` tools) to
//! check the decompression paths on a real kernel's bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use preflight_facts::arch::Arch;
use preflight_facts::kernel_image::{
    Compression, HEAD_LEN, KernelFormat, bytes_needed, identify, read, read_file, read_plain_header,
};
use preflight_facts::{Files, MemFiles};

/// Debian bookworm's cloud kernels; the package version pins the bytes.
const AMD64: (&str, &str) = ("linux-image-6.1.0-50-cloud-amd64-unsigned", "6.1.176-1");
const ARM64: (&str, &str) = (
    "linux-image-6.1.0-50-cloud-arm64-unsigned:arm64",
    "6.1.176-1",
);

struct Kernel {
    /// `/boot/vmlinuz-<release>` of the package.
    image: PathBuf,
    /// The one directory under `/lib/modules` of the package.
    modules_dir: String,
    /// `file -b` on the image.
    file_b: String,
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", preflight_fixtures::display(cmd)));
    assert!(
        out.status.success(),
        "{} failed: {}",
        preflight_fixtures::display(cmd),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Download and unpack the package once; keep the image, the module directory name and
/// `file -b`'s description.
fn kernel((package, version): (&str, &str)) -> Kernel {
    let key = package.replace(':', "-");
    let dir = preflight_fixtures::fixtures_dir().join(format!("kernels-debian-{key}-{version}"));
    if !dir.join("modules_dir").is_file() {
        let tmp = preflight_fixtures::fixtures_dir()
            .join(format!("kernels-tmp-{key}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join("x")).unwrap();
        let mut get = Command::new("apt-get");
        get.arg("download")
            .arg(format!("{package}={version}"))
            .current_dir(&tmp);
        let out = get
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", preflight_fixtures::display(&get)));
        assert!(
            out.status.success(),
            "{} failed: {}\n(the arm64 package needs `dpkg --add-architecture arm64 && apt-get \
             update`; a pinned version that left the mirror needs a newer pin here)",
            preflight_fixtures::display(&get),
            String::from_utf8_lossy(&out.stderr)
        );
        let deb = fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("apt-get download wrote no .deb");
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(tmp.join("x")));
        let modules: Vec<String> = fs::read_dir(tmp.join("x/lib/modules"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(modules.len(), 1, "{modules:?}");
        let image = tmp.join(format!("x/boot/vmlinuz-{}", modules[0]));
        let file_b = run(Command::new("file").arg("-b").arg(&image)).stdout;
        let out = tmp.join("out");
        fs::create_dir_all(&out).unwrap();
        fs::rename(&image, out.join("vmlinuz")).unwrap();
        fs::write(out.join("file_b"), file_b).unwrap();
        fs::write(out.join("modules_dir"), &modules[0]).unwrap();
        // Publish by rename; a parallel run may have won the race.
        if fs::rename(&out, &dir).is_err() {
            assert!(dir.join("modules_dir").is_file());
        }
        let _ = fs::remove_dir_all(&tmp);
    }
    Kernel {
        image: dir.join("vmlinuz"),
        modules_dir: fs::read_to_string(dir.join("modules_dir")).unwrap(),
        file_b: fs::read_to_string(dir.join("file_b"))
            .unwrap()
            .trim()
            .to_string(),
    }
}

/// The files view of a host file, reading only what is asked (and counting it).
struct HostFile {
    path: PathBuf,
    read: std::cell::Cell<u64>,
}

impl Files for HostFile {
    fn read(&self, _: &str, max: u64) -> Result<Option<Vec<u8>>, preflight_facts::FileError> {
        let d = fs::read(&self.path).unwrap();
        assert!(d.len() as u64 <= max);
        self.read.set(self.read.get() + d.len() as u64);
        Ok(Some(d))
    }
    fn head(&self, _: &str, n: usize) -> Result<Option<Vec<u8>>, preflight_facts::FileError> {
        use std::io::Read;
        let mut d = Vec::new();
        fs::File::open(&self.path)
            .unwrap()
            .take(n as u64)
            .read_to_end(&mut d)
            .unwrap();
        self.read.set(self.read.get() + d.len() as u64);
        Ok(Some(d))
    }
    fn list_dir(
        &self,
        _: &str,
    ) -> Result<Option<Vec<preflight_facts::ListEntry>>, preflight_facts::FileError> {
        Ok(None)
    }
    fn read_link(&self, _: &str) -> Result<Option<String>, preflight_facts::FileError> {
        Ok(None)
    }
}

#[test]
fn debian_amd64_bzimage() {
    let k = kernel(AMD64);
    let files = HostFile {
        path: k.image.clone(),
        read: 0.into(),
    };
    let img = read_file(&files, "/boot/vmlinuz").unwrap().unwrap();
    assert_eq!(img.format, KernelFormat::BzImage);
    assert_eq!(img.arch, Some(Arch::X86_64));
    assert_eq!(img.arch_from, "PE machine 0x8664");
    assert_eq!(img.version.as_deref(), Some(k.modules_dir.as_str()));
    assert!(img.efi_stub);
    // `file -b`: "Linux kernel x86 boot executable bzImage, version <kernel_version>, RO-rootFS…"
    let banner = img.banner.as_deref().unwrap();
    assert!(
        k.file_b.contains(&format!("version {banner},")),
        "{banner:?} vs {:?}",
        k.file_b
    );
    assert!(banner.contains("Debian 6.1.176-1"), "{banner}");
    assert!(img.boot_protocol.as_deref().unwrap() >= "2.12");
    // Only the head and the setup code, not the 14 MiB image.
    let size = fs::metadata(&k.image).unwrap().len();
    assert!(
        files.read.get() < 64 * 1024,
        "read {} of {size} bytes",
        files.read.get()
    );
    assert!(img.notes.is_empty(), "{:?}", img.notes);
}

/// The fixture guest's (synthetic) bzImage header.
#[test]
fn fixture_guest_bzimage() {
    let k = preflight_fixtures::DEBIAN_KERNEL;
    let tree = preflight_fixtures::debian_guest();
    let data = tree.contents(&format!("/boot/vmlinuz-{k}")).unwrap();
    assert_eq!(identify(data), Some(KernelFormat::BzImage));
    let files = MemFiles::new().with("/boot/vmlinuz", data);
    let img = read_file(&files, "/boot/vmlinuz").unwrap().unwrap();
    assert_eq!(img.version.as_deref(), Some(k));
    // The fixture header has no xloadflags and no PE header: the release names the arch.
    assert_eq!(img.arch, Some(Arch::X86_64));
    assert!(!img.efi_stub);
    assert_eq!(img.boot_protocol.as_deref(), Some("2.15"));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Compress with a real tool reading stdin.
fn tool(cmd: &str, args: &[&str], data: &[u8], tmp: &Path) -> Vec<u8> {
    let input = tmp.join(format!("in-{cmd}"));
    fs::write(&input, data).unwrap();
    let out = run(Command::new(cmd)
        .args(args)
        .stdin(fs::File::open(&input).unwrap()));
    out.stdout
}

/// EFI zboot around `payload` (drivers/firmware/efi/libstub/zboot-header.S).
fn zboot(name: &str, payload: &[u8]) -> Vec<u8> {
    let off = 0x1000usize;
    let mut f = vec![0u8; off];
    f[0..2].copy_from_slice(b"MZ");
    f[4..8].copy_from_slice(b"zimg");
    f[8..12].copy_from_slice(&(off as u32).to_le_bytes());
    f[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    f[0x18..0x18 + name.len()].copy_from_slice(name.as_bytes());
    f[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    f[0x40..0x44].copy_from_slice(b"PE\0\0");
    f[0x44..0x46].copy_from_slice(&0xaa64u16.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn debian_arm64_image_and_wrappings() {
    let k = kernel(ARM64);
    let data = fs::read(&k.image).unwrap();
    assert!(
        k.file_b.contains("ARM64 boot executable Image"),
        "{}",
        k.file_b
    );
    assert_eq!(identify(&data[..HEAD_LEN]), Some(KernelFormat::Arm64Image));
    assert_eq!(bytes_needed(&data[..HEAD_LEN]), None);
    let img = read(&data).unwrap();
    assert_eq!(img.arch, Some(Arch::Aarch64));
    assert_eq!(img.version.as_deref(), Some(k.modules_dir.as_str()));
    let banner = img.banner.clone().unwrap();
    assert!(banner.starts_with(&format!("Linux version {} (debian-kernel@", k.modules_dir)));
    assert!(banner.contains("Debian 6.1.176-1"), "{banner}");
    assert!(img.efi_stub);
    // `file -b`: "…, little-endian, 4K pages"
    assert!(k.file_b.contains("little-endian, 4K pages"), "{}", k.file_b);
    assert_eq!((img.big_endian, img.page_size_kib), (false, Some(4)));
    // The header alone gives the same header facts, and no release.
    let head = read_plain_header(&data[..HEAD_LEN]).unwrap().unwrap();
    assert_eq!(
        (head.arch, head.efi_stub, head.page_size_kib, head.version),
        (img.arch, img.efi_stub, img.page_size_kib, None)
    );

    // Image.gz and zboot (gzip) of the whole real image.
    let gz = gzip(&data);
    let g = read(&gz).unwrap();
    assert_eq!(
        g.format,
        KernelFormat::Compressed {
            compression: Compression::Gzip
        }
    );
    assert_eq!(
        (g.version.as_deref(), g.arch),
        (img.version.as_deref(), img.arch)
    );
    let z = read(&zboot("gzip", &gz)).unwrap();
    assert_eq!(
        (z.version.as_deref(), z.arch),
        (img.version.as_deref(), img.arch)
    );
    assert_eq!(z.inner, Some(KernelFormat::Arm64Image));

    // The other codecs, made by the real tools, on a cut-down image: the real header, then
    // the real bytes around the banner (1 MiB), to keep the test fast.
    let at = data
        .windows(14)
        .position(|w| w == b"Linux version ")
        .unwrap();
    let mut small = data[..0x10000].to_vec();
    small.extend_from_slice(&data[at - 0x80000..at + 0x80000]);
    let tmp =
        preflight_fixtures::fixtures_dir().join(format!("kernels-codecs-{}", std::process::id()));
    fs::create_dir_all(&tmp).unwrap();
    let cases: [(&str, &str, &[&str]); 7] = [
        ("zstd22", "zstd", &["-19", "-c"]),
        ("xzkern", "xz", &["--check=crc32", "-c"]),
        // What scripts/xz_wrap.sh does for arm64 (xz ≥ 5.4): a BCJ filter before LZMA2.
        (
            "xzkern",
            "xz",
            &[
                "--check=crc32",
                "--threads=1",
                "--arm64",
                "--lzma2=dict=32MiB",
                "-c",
            ],
        ),
        ("lzma", "lzma", &["-9", "-c"]),
        ("lz4", "lz4", &["-l", "-9", "-c"]),
        ("bzip2", "bzip2", &["-9", "-c"]),
        ("gzip", "gzip", &["-n", "-9", "-c"]),
    ];
    for (name, cmd, args) in cases {
        let payload = tool(cmd, args, &small, &tmp);
        for (what, file) in [("zboot", zboot(name, &payload)), ("plain", payload)] {
            let r = read(&file).unwrap_or_else(|e| panic!("{name} {what}: {e}"));
            assert_eq!(
                r.version.as_deref(),
                img.version.as_deref(),
                "{name} {what}: {:?}",
                r.notes
            );
            assert_eq!(r.arch, Some(Arch::Aarch64), "{name} {what}");
            assert_eq!(r.inner, Some(KernelFormat::Arm64Image), "{name} {what}");
            // lzma-rs does not know the BCJ filter: decoded as plain LZMA2, and said so.
            assert_eq!(
                r.notes
                    .iter()
                    .any(|n| n.contains("ARM64 branch filter not undone")),
                args.contains(&"--arm64"),
                "{name} {what}: {:?}",
                r.notes
            );
        }
    }
    let _ = fs::remove_dir_all(&tmp);
}
