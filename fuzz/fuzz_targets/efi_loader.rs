//! EFI applications (PE/COFF headers, sections, GRUB module info, SBAT) and an ESP holding
//! them, with a stub grub.cfg and a boot CSV made of the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;
use preflight_facts::arch::Arch;
use preflight_facts::efi;

fuzz_target!(|data: &[u8]| {
    let _ = efi::bytes_needed(data);
    let _ = efi::read_loader(data);
    let _ = efi::parse_stub(&String::from_utf8_lossy(data), String::new());
    let esp = MemFiles::new()
        .with("/EFI/BOOT/BOOTX64.EFI", data)
        .with("/EFI/BOOT/fbx64.efi", data)
        .with("/EFI/BOOT/grubx64.efi", data)
        .with("/EFI/debian/BOOTX64.CSV", data)
        .with("/EFI/debian/grub.cfg", data);
    let facts = efi::read_esp(&esp, Arch::X86_64);
    assert!(facts.boot_path.len() <= 8);
});
