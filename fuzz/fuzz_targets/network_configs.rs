//! The network configuration readers (ifcfg, wicked, NetworkManager keyfiles, netplan,
//! systemd-networkd, ifupdown with includes, udev rules, cloud-init) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;

fuzz_target!(|data: &[u8]| {
    // The same bytes as every format, and split in two so includes and drop-ins meet a
    // second file (ifupdown `source`, networkd `.d/*.conf`, netplan and cloud-init merging).
    let (a, b) = data.split_at(data.len() / 2);
    let files = MemFiles::new()
        .with("/etc/sysconfig/network-scripts/ifcfg-eth0", data)
        .with("/etc/sysconfig/network/ifcfg-eth0", data)
        .with(
            "/etc/NetworkManager/system-connections/a.nmconnection",
            data,
        )
        .with("/etc/systemd/network/10-a.network", data)
        .with("/etc/systemd/network/10-a.network.d/x.conf", b)
        .with("/etc/systemd/network/10-a.link", a)
        .with("/etc/network/interfaces", a)
        .with("/etc/network/interfaces.d/b", b)
        .with("/etc/network/b", b)
        .with("/etc/udev/rules.d/70-persistent-net.rules", data)
        .with("/etc/netplan/50-a.yaml", a)
        .with("/etc/netplan/60-b.yaml", b)
        .with("/etc/cloud/cloud.cfg", a)
        .with("/etc/cloud/cloud.cfg.d/99-b.cfg", b);
    let fact = preflight_facts::network::gather(&files);
    let _ = fact.all_macs().count();
});
