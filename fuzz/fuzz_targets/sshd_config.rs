//! The sshd_config reader: includes, Match blocks, quoting, on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;

fuzz_target!(|data: &[u8]| {
    // Split the input into a main file and a drop-in, so Include paths get exercised too.
    let (main, drop_in) = data.split_at(data.len() / 2);
    let files = MemFiles::new()
        .with("/etc/ssh/sshd_config", main)
        .with("/etc/ssh/sshd_config.d/50-x.conf", drop_in);
    let cfg = preflight_facts::sshd::gather(&files);
    let _ = cfg.values_for_user("PermitRootLogin", "root", &["root".to_string()]);
    let _ = preflight_facts::ssh_keys::authorized_keys(&files, &[("root".into(), "/etc/ssh".into())], &cfg.authorized_keys_patterns());
});
