use super::*;
use crate::MemFiles;
use std::io::Write;

const RELEASE: &str = "6.1.0-18-arm64";

/// An arm64 Image: header (booting.rst) with a PE header when `efi`, some code, the banner.
fn arm64_image(efi: bool, flags: u64) -> Vec<u8> {
    let mut img = vec![0u8; 0x10000];
    if efi {
        img[0..2].copy_from_slice(b"MZ");
        img[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        img[0x40..0x44].copy_from_slice(b"PE\0\0");
        img[0x44..0x46].copy_from_slice(&0xaa64u16.to_le_bytes());
    }
    img[8..16].copy_from_slice(&0u64.to_le_bytes());
    img[16..24].copy_from_slice(&0x20000u64.to_le_bytes());
    img[24..32].copy_from_slice(&flags.to_le_bytes());
    img[0x38..0x3c].copy_from_slice(b"ARM\x64");
    // a decoy that is not a banner, then the real one
    img[0x8000..0x8000 + 17].copy_from_slice(b"Linux version %s\0");
    let banner = format!(
        "Linux version {RELEASE} (debian-kernel@lists.debian.org) (gcc-12) #1 SMP Debian 6.1.76-1 (2024-02-01)\n\0"
    );
    img[0x9000..0x9000 + banner.len()].copy_from_slice(banner.as_bytes());
    img
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An EFI zboot file (zboot-header.S) around `payload`, PE machine `machine`.
fn zboot(name: &str, payload: &[u8], machine: u16) -> Vec<u8> {
    let off = 0x1000usize;
    let mut f = vec![0u8; off];
    f[0..2].copy_from_slice(b"MZ");
    f[4..8].copy_from_slice(b"zimg");
    f[8..12].copy_from_slice(&(off as u32).to_le_bytes());
    f[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    f[0x18..0x18 + name.len()].copy_from_slice(name.as_bytes());
    f[0x38..0x3c].copy_from_slice(&0x818223cdu32.to_le_bytes());
    f[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    f[0x40..0x44].copy_from_slice(b"PE\0\0");
    f[0x44..0x46].copy_from_slice(&machine.to_le_bytes());
    f.extend_from_slice(payload);
    f.extend_from_slice(&0x10000u32.to_le_bytes()); // the appended size
    f
}

/// A bzImage setup area (boot.rst), as the fixture guest's and real kernels have it.
fn bzimage(protocol: u16, xloadflags: u16, pe: bool, version: &str) -> Vec<u8> {
    let mut image = vec![0u8; 0x4000];
    image[0..2].copy_from_slice(b"MZ");
    image[0x1f1] = 27;
    image[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    image[0x202..0x206].copy_from_slice(b"HdrS");
    image[0x206..0x208].copy_from_slice(&protocol.to_le_bytes());
    image[0x20e..0x210].copy_from_slice(&0x0200u16.to_le_bytes());
    image[0x236..0x238].copy_from_slice(&xloadflags.to_le_bytes());
    if pe {
        image[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        image[0x80..0x84].copy_from_slice(b"PE\0\0");
        image[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    }
    let v = format!("{version}\0");
    image[0x400..0x400 + v.len()].copy_from_slice(v.as_bytes());
    image
}

#[test]
fn bzimage_header() {
    let v = "6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)";
    let data = bzimage(0x020f, XLF_KERNEL_64 | XLF_EFI_HANDOVER_64, true, v);
    assert_eq!(identify(&data[..HEAD_LEN]), Some(KernelFormat::BzImage));
    assert_eq!(bytes_needed(&data), Some(28 * 512));
    let k = read(&data[..28 * 512]).unwrap();
    assert_eq!(k.arch, Some(Arch::X86_64));
    assert_eq!(k.arch_from, "PE machine 0x8664");
    assert_eq!(k.version.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(k.banner.as_deref(), Some(v));
    assert_eq!(k.boot_protocol.as_deref(), Some("2.15"));
    assert!(k.efi_stub);
    assert!(k.notes.is_empty(), "{:?}", k.notes);

    // No PE header: xloadflags decide.
    let k = read(&bzimage(0x020c, XLF_KERNEL_64, false, v)).unwrap();
    assert_eq!(
        (k.arch, k.arch_from.as_str(), k.efi_stub),
        (Some(Arch::X86_64), "xloadflags XLF_KERNEL_64", false)
    );
    let k = read(&bzimage(
        0x020c,
        XLF_EFI_HANDOVER_32,
        false,
        "6.1.0-18-686-pae #1",
    ))
    .unwrap();
    assert_eq!(k.arch, Some(Arch::I386));
    assert!(k.efi_stub);
    // An old protocol: the release suffix is the only witness.
    let k = read(&bzimage(
        0x020a,
        0,
        false,
        "2.6.32-754.el6.x86_64 (mockbuild@)",
    ))
    .unwrap();
    assert_eq!(k.arch, Some(Arch::X86_64));
    assert_eq!(k.boot_protocol.as_deref(), Some("2.10"));
    let k = read(&bzimage(0x020a, 0, false, "2.6.32-custom")).unwrap();
    assert_eq!(k.arch, None);
    // Protocol 2.12+ without XLF_KERNEL_64 and no other witness: a 32-bit kernel.
    let k = read(&bzimage(0x020f, 0, false, "6.1.0-custom")).unwrap();
    assert_eq!(k.arch, Some(Arch::I386));
}

#[test]
fn bzimage_errors() {
    let data = bzimage(0x020f, 1, false, "6.1.0");
    // The string is past the data given.
    let e = read(&data[..0x300]).unwrap_err();
    assert!(
        matches!(e, KernelImageError::Truncated { offset: 0x400, .. }),
        "{e}"
    );
    // No NUL within the data.
    let mut d = data.clone();
    d.truncate(0x403);
    let e = read(&d).unwrap_err();
    assert!(e.to_string().contains("0x400"), "{e}");
    // No NUL within the cap.
    let mut d = data.clone();
    d[0x400..0x400 + 1024].fill(b'a');
    let e = read(&d).unwrap_err();
    assert!(matches!(e, KernelImageError::Malformed { .. }), "{e}");
    // kernel_version = 0: no version, no error.
    let mut d = data.clone();
    d[0x20e..0x210].fill(0);
    assert_eq!(read(&d).unwrap().version, None);
    // A boot sector without "HdrS" is not a kernel we read (protocol 1.x or not Linux).
    let mut d = data;
    d[0x202..0x206].fill(0);
    assert_eq!(read(&d), Err(KernelImageError::NotAKernel));
}

#[test]
fn arm64_image_header_and_banner() {
    let img = arm64_image(true, 0b1010); // 4K pages, little-endian, placement bit
    assert_eq!(identify(&img[..64]), Some(KernelFormat::Arm64Image));
    assert_eq!(bytes_needed(&img), None);
    let k = read(&img).unwrap();
    assert_eq!(k.arch, Some(Arch::Aarch64));
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    assert!(
        k.banner
            .as_deref()
            .unwrap()
            .starts_with("Linux version 6.1.0-18-arm64 (debian")
    );
    assert!(k.banner.as_deref().unwrap().ends_with("(2024-02-01)"));
    assert!(k.efi_stub);
    assert_eq!(k.page_size_kib, Some(4));
    assert!(!k.big_endian);

    let k = read(&arm64_image(false, 0b111)).unwrap();
    assert!(!k.efi_stub);
    assert!(k.big_endian);
    assert_eq!(k.page_size_kib, Some(64));

    // Before 3.17: image_size 0, flags meaningless.
    let mut old = arm64_image(false, 0b111);
    old[16..24].fill(0);
    let k = read(&old).unwrap();
    assert_eq!((k.big_endian, k.page_size_kib), (false, None));

    // No banner: facts from the header, a note.
    let mut nob = arm64_image(false, 2);
    nob[0x9000..0x9010].fill(0);
    let k = read(&nob).unwrap();
    assert_eq!((k.arch, k.version), (Some(Arch::Aarch64), None));
    assert_eq!(k.notes.len(), 1);
}

#[test]
fn gzip_image() {
    let img = arm64_image(true, 2);
    let gz = gzip(&img);
    assert_eq!(
        identify(&gz),
        Some(KernelFormat::Compressed {
            compression: Compression::Gzip
        })
    );
    let k = read(&gz).unwrap();
    assert_eq!(k.inner, Some(KernelFormat::Arm64Image));
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    assert_eq!(k.arch, Some(Arch::Aarch64));

    // A truncated stream still gives what came out before the cut.
    let k = read(&gz[..gz.len() - 8]).unwrap();
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    // A stream cut in its header is an error with the offset.
    let e = read(&gz[..12]).unwrap_err();
    assert!(
        matches!(e, KernelImageError::Decompress { method: "gzip", .. }),
        "{e}"
    );
}

#[test]
fn zboot_gzip_and_lz4_legacy() {
    let img = arm64_image(true, 2);
    let f = zboot("gzip", &gzip(&img), 0xaa64);
    assert_eq!(
        identify(&f[..HEAD_LEN]),
        Some(KernelFormat::EfiZboot {
            compression: "gzip".into()
        })
    );
    assert_eq!(bytes_needed(&f), Some(f.len() as u64));
    let k = read(&f).unwrap();
    assert_eq!(k.arch, Some(Arch::Aarch64));
    assert_eq!(k.inner, Some(KernelFormat::Arm64Image));
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    assert!(k.efi_stub);
    assert!(k.notes.is_empty(), "{:?}", k.notes);

    // PE machine disagreeing with the inner image: noted.
    let k = read(&zboot("gzip", &gzip(&img), 0x8664)).unwrap();
    assert_eq!(k.arch, Some(Arch::Aarch64));
    assert_eq!(k.notes.len(), 1, "{:?}", k.notes);

    // lz4 legacy format (`lz4 -l`), two blocks.
    let mut lz = LZ4_LEGACY_MAGIC.to_vec();
    for chunk in img.chunks(0x9000) {
        let b = lz4_flex::block::compress(chunk);
        lz.extend_from_slice(&(b.len() as u32).to_le_bytes());
        lz.extend_from_slice(&b);
    }
    lz.extend_from_slice(&(img.len() as u32).to_le_bytes());
    let k = read(&zboot("lz4", &lz, 0xaa64)).unwrap();
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    let k = read(&lz).unwrap();
    assert_eq!(k.version.as_deref(), Some(RELEASE));
}

#[test]
fn zboot_errors() {
    let img = arm64_image(true, 2);
    let f = zboot("gzip", &gzip(&img), 0xaa64);
    // Payload past the end.
    let e = read(&f[..f.len() - 100]).unwrap_err();
    assert!(
        matches!(e, KernelImageError::Truncated { offset: 0x1000, .. }),
        "{e}"
    );
    // Unknown and unsupported compressions.
    let e = read(&zboot("zpaq", &gzip(&img), 0xaa64)).unwrap_err();
    assert!(
        matches!(e, KernelImageError::Unsupported { offset: 0x18, .. }),
        "{e}"
    );
    let e = read(&zboot("lzo", &gzip(&img), 0xaa64)).unwrap_err();
    assert!(matches!(e, KernelImageError::Unsupported { .. }), "{e}");
    // Huge offset/size: no panic, no allocation.
    let mut g = f.clone();
    g[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    g[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(read(&g), Err(KernelImageError::Truncated { .. })));
    let mut g = f;
    g[8..12].copy_from_slice(&4u32.to_le_bytes());
    assert!(matches!(
        read(&g),
        Err(KernelImageError::Malformed { offset: 8, .. })
    ));
    // A payload that is not compressed data.
    let e = read(&zboot("zstd22", &[7u8; 100], 0xaa64)).unwrap_err();
    assert!(
        matches!(
            e,
            KernelImageError::Decompress {
                method: "zstd",
                offset: 0x1000,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn decompression_is_capped() {
    // 300 MiB of zeros compress to ~300 KiB of gzip; the reader must stop at 256 MiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let img = arm64_image(false, 2);
    e.write_all(&img).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        e.write_all(&zeros).unwrap();
    }
    let gz = e.finish().unwrap();
    let k = read(&gz).unwrap();
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    assert!(
        k.notes.iter().any(|n| n.contains("stopped at 256 MiB")),
        "{:?}",
        k.notes
    );
}

#[test]
fn riscv_and_elf() {
    let mut r = vec![0u8; 0x2000];
    r[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
    r[0x38..0x3c].copy_from_slice(b"RSC\x05");
    let b = b"Linux version 6.6.0-riscv64 (x@y) #1 SMP\n";
    r[0x1000..0x1000 + b.len()].copy_from_slice(b);
    let k = read(&r).unwrap();
    assert_eq!(k.format, KernelFormat::RiscvImage);
    assert_eq!(k.arch, Some(Arch::Other { machine: EM_RISCV }));
    assert_eq!(k.version.as_deref(), Some("6.6.0-riscv64"));

    let mut e = vec![0u8; 0x2000];
    e[0..4].copy_from_slice(b"\x7fELF");
    e[4] = 2;
    e[5] = 1;
    e[18..20].copy_from_slice(&62u16.to_le_bytes());
    let b = b"Linux version 5.15.0-1051-oracle #1";
    e[0x1000..0x1000 + b.len()].copy_from_slice(b);
    let k = read(&e).unwrap();
    assert_eq!((k.format, k.arch), (KernelFormat::Elf, Some(Arch::X86_64)));
    assert_eq!(k.version.as_deref(), Some("5.15.0-1051-oracle"));
}

#[test]
fn not_a_kernel_and_garbage() {
    assert_eq!(identify(b""), None);
    assert_eq!(identify(b"#!/bin/sh\n"), None);
    assert_eq!(read(b"hello").unwrap_err(), KernelImageError::NotAKernel);
    // Bit flips and truncations of every format: never a panic.
    let img = arm64_image(true, 2);
    let inputs = [
        img.clone(),
        gzip(&img),
        zboot("gzip", &gzip(&img), 0xaa64),
        bzimage(0x020f, 1, true, "6.1.0-18-amd64 #1"),
    ];
    for input in &inputs {
        for cut in [0, 1, 2, 0x39, 0x3c, 0x203, 0x210, 0x400, input.len() / 2] {
            let _ = read(&input[..cut.min(input.len())]);
        }
        for i in (0..input.len().min(0x1100)).step_by(7) {
            let mut d = input.clone();
            d[i] ^= 0xa5;
            let _ = read(&d);
        }
    }
}

#[test]
fn read_file_reads_only_what_it_needs() {
    let v = "6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP";
    let mut bz = bzimage(0x020f, 1, true, v);
    bz.resize(0x100000, 0x5a); // the compressed kernel behind the setup code
    let files = MemFiles::new()
        .with("/boot/vmlinuz-6.1.0-18-amd64", bz)
        .with("/boot/Image.gz", gzip(&arm64_image(true, 2)))
        .with("/boot/config", "CONFIG_X=y\n");
    let k = read_file(&files, "/boot/vmlinuz-6.1.0-18-amd64")
        .unwrap()
        .unwrap();
    assert_eq!(k.version.as_deref(), Some("6.1.0-18-amd64"));
    let k = read_file(&files, "/boot/Image.gz").unwrap().unwrap();
    assert_eq!(k.version.as_deref(), Some(RELEASE));
    assert_eq!(read_file(&files, "/boot/none").unwrap(), None);
    assert_eq!(
        read_file(&files, "/boot/config").unwrap_err(),
        KernelImageError::NotAKernel
    );
}
