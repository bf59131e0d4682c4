//! The boot loader configuration reader: GRUB script evaluation (includes, conditions,
//! submenus, default resolution), grubenv, BLS entries, SYSLINUX, systemd-boot, GRUB Legacy
//! and kernel command lines, on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;
use preflight_facts::boot;

fuzz_target!(|data: &[u8]| {
    // Split the input into a grub.cfg, a sourced file, a grubenv and a BLS entry, so
    // `source`, `load_env` and `blscfg` get exercised together.
    let q = data.len() / 4;
    let (cfg, rest) = data.split_at(q * 2);
    let (env, entry) = rest.split_at(q);
    let files = MemFiles::new()
        .with("/boot/grub/grub.cfg", cfg)
        .with("/boot/grub/custom.cfg", entry)
        .with("/boot/grub/grubenv", env)
        .with("/boot/loader/entries/m-6.1.0.conf", entry)
        .with("/boot/extlinux/extlinux.conf", cfg)
        .with("/boot/grub/menu.lst", cfg)
        .with("/boot/efi/loader/loader.conf", env)
        .with("/etc/default/grub", env);
    if let Ok(all) = boot::read_all(&files) {
        for c in all {
            if let Some(d) = c.default {
                assert!(d < c.entries.len());
            }
            for e in &c.entries {
                let cl = e.cmdline_parsed();
                let _ = (cl.root(), cl.consoles());
                let _ = (e.kernel_candidates(), e.initrd_candidates(), e.title_path());
            }
        }
    }
    let _ = boot::grubenv::parse(data);
    let _ = boot::Cmdline::parse(&String::from_utf8_lossy(data)).consoles();
});
