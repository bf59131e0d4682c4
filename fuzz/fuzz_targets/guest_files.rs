//! Text parsers of guest files (passwd, shadow, group, os-release, fstab, modules lists) on
//! arbitrary contents.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = preflight_guest::parse_fstab(&text);
    let files = MemFiles::new()
        .with("/etc/passwd", data)
        .with("/etc/shadow", data)
        .with("/etc/group", data)
        .with("/etc/os-release", data)
        .with("/etc/redhat-release", data)
        .with("/usr/lib/modules/6.1.0/modules.dep", data)
        .with("/usr/lib/modules/6.1.0/modules.builtin", data)
        .with("/boot/vmlinuz-6.1.0", data)
        .with("/boot/config-6.1.0", data)
        .with("/sbin/init", data);
    let _ = preflight_facts::users::gather(&files);
    let _ = preflight_facts::os::gather(&files);
    let _ = preflight_facts::kernels::gather(&files);
    let _ = preflight_facts::arch::gather(&files);
});
