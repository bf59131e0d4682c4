//! Network configuration facts (G03, G05) from files as each distribution writes them, and
//! cross-checks with the real tools where Debian has them (ifupdown's `ifquery`, netplan's
//! `netplan generate`).

use preflight_facts::network::{self, IfaceConfig, Method, NetworkFact, System};
use preflight_facts::{MemFiles, Provenance};
use std::path::{Path, PathBuf};
use std::process::Command;

fn gather(files: &[(&str, &str)]) -> NetworkFact {
    let mut m = MemFiles::new();
    for (path, text) in files {
        m = m.with(path, text);
    }
    network::gather(&m)
}

fn at(path: &str, line: u32) -> Provenance {
    Provenance::line(path, line)
}

fn vals(v: &[(String, Provenance)]) -> Vec<(&str, String)> {
    v.iter().map(|(s, p)| (s.as_str(), p.to_string())).collect()
}

fn only(fact: &NetworkFact, system: System) -> &IfaceConfig {
    let all: Vec<&IfaceConfig> = fact.of(system).collect();
    assert_eq!(all.len(), 1, "{all:#?}");
    all[0]
}

// ---------------------------------------------------------------- ifcfg (RHEL, OL)

/// /etc/sysconfig/network-scripts/ifcfg-ens3 as cloud-init writes it on an Oracle Linux 8
/// instance in OCI: captured into a custom image, the HWADDR pins the old VNIC.
const OL8_IFCFG_ENS3: &str = "\
# Created by cloud-init on instance boot automatically, do not edit.
#
BOOTPROTO=dhcp
DEVICE=ens3
HWADDR=02:00:17:02:8b:4e
MTU=9000
ONBOOT=yes
TYPE=Ethernet
USERCTL=no
";

#[test]
fn oracle_linux_8_ifcfg_from_cloud_init() {
    let p = "/etc/sysconfig/network-scripts/ifcfg-ens3";
    let f = gather(&[
        (p, OL8_IFCFG_ENS3),
        (
            "/etc/sysconfig/network-scripts/ifcfg-lo",
            "DEVICE=lo\nIPADDR=127.0.0.1\nONBOOT=yes\n",
        ),
        (
            "/etc/sysconfig/network-scripts/ifcfg-ens3.bak",
            "BOOTPROTO=none\n",
        ),
    ]);
    let c = only(&f, System::Ifcfg);
    assert_eq!(c.source, Provenance::file(p));
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(p, 3)));
    assert_eq!(vals(&c.macs), vec![("02:00:17:02:8b:4e", format!("{p}:5"))]);
    assert!(c.addresses.is_empty());
    assert_eq!(c.auto_start, Some((true, at(p, 7))));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

/// Oracle Linux 7/8 image as Oracle builds it for OCI: quoted values, no MAC.
#[test]
fn oracle_linux_ifcfg_quoted_without_mac() {
    let p = "/etc/sysconfig/network-scripts/ifcfg-ens3";
    let f = gather(&[(
        p,
        "TYPE=\"Ethernet\"\nPROXY_METHOD=\"none\"\nBROWSER_ONLY=\"no\"\nBOOTPROTO=\"dhcp\"\nDEFROUTE=\"yes\"\nIPV4_FAILURE_FATAL=\"no\"\nIPV6INIT=\"no\"\nNAME=\"ens3\"\nDEVICE=\"ens3\"\nONBOOT=\"yes\"\n",
    )]);
    let c = only(&f, System::Ifcfg);
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(p, 4)));
    assert!(c.macs.is_empty());
    assert_eq!(c.auto_start, Some((true, at(p, 10))));
}

#[test]
fn ifcfg_static_and_mac_pinned() {
    let p = "/etc/sysconfig/network-scripts/ifcfg-eth0";
    let f = gather(&[(
        p,
        "DEVICE=eth0\nBOOTPROTO=none\nIPADDR0=10.0.0.15\nPREFIX0=24\nGATEWAY=10.0.0.1\nIPV6ADDR=\"fd00::15/64\"\nMACADDR=52:54:00:12:34:56\nHWADDR=52:54:00:AB:CD:EF\nONBOOT=no\n",
    )]);
    let c = only(&f, System::Ifcfg);
    assert_eq!(c.method, Some(Method::Static));
    assert_eq!(c.method_at, Some(at(p, 2)));
    assert_eq!(
        vals(&c.addresses),
        vec![
            ("10.0.0.15", format!("{p}:3")),
            ("fd00::15/64", format!("{p}:6"))
        ]
    );
    assert_eq!(
        vals(&c.macs),
        vec![
            ("52:54:00:12:34:56", format!("{p}:7")),
            ("52:54:00:AB:CD:EF", format!("{p}:8"))
        ]
    );
    assert_eq!(c.auto_start, Some((false, at(p, 9))));
}

#[test]
fn ifcfg_edge_cases() {
    let dir = "/etc/sysconfig/network-scripts";
    let f = gather(&[
        // No BOOTPROTO, an address: static. DEVICE missing: the file name names it.
        (
            &format!("{dir}/ifcfg-eth1"),
            "IPADDR=192.168.1.10\nNETMASK=255.255.255.0\n",
        ),
        // BOOTPROTO=none without an address (a bond slave): IPv4 disabled.
        (
            &format!("{dir}/ifcfg-eth2"),
            "BOOTPROTO=none\nMASTER=bond0\nSLAVE=yes\n",
        ),
        // A broken quote is a warning; the rest of the file still counts.
        (
            &format!("{dir}/ifcfg-eth3"),
            "BOOTPROTO='dhcp\nDEVICE=eth3\n",
        ),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::Ifcfg).collect();
    assert_eq!(cs.len(), 3);
    assert_eq!(cs[0].interface.as_deref(), Some("eth1"));
    assert_eq!(cs[0].method, Some(Method::Static));
    assert_eq!(cs[0].method_at, Some(at(&format!("{dir}/ifcfg-eth1"), 1)));
    assert_eq!(cs[1].method, Some(Method::Disabled));
    // The BOOTPROTO line is broken: as if absent, and no address: no IPv4 (a default).
    assert_eq!(cs[2].method, Some(Method::Disabled));
    assert_eq!(cs[2].method_at, None);
    assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    assert!(f.warnings[0].starts_with(&format!("{dir}/ifcfg-eth3:1: BOOTPROTO: unterminated")));
}

// ---------------------------------------------------------------- SUSE wicked

/// /etc/sysconfig/network/ifcfg-eth0 of a SUSE Linux Enterprise 15 SP5 cloud image.
const SLES15_IFCFG_ETH0: &str = "\
BOOTPROTO='dhcp'
DHCLIENT6_MODE='managed'
DHCLIENT_SET_HOSTNAME='yes'
MTU=''
REMOTE_IPADDR=''
STARTMODE='auto'
";

#[test]
fn sles15_wicked_dhcp() {
    let p = "/etc/sysconfig/network/ifcfg-eth0";
    let f = gather(&[
        (p, SLES15_IFCFG_ETH0),
        (
            "/etc/sysconfig/network/ifcfg-lo",
            "IPADDR=127.0.0.1/8\nNETMASK=255.0.0.0\nNETWORK=127.0.0.0\nSTARTMODE=nfsroot\nBOOTPROTO=static\nUSERCONTROL=no\nFIREWALL=no\n",
        ),
        (
            "/etc/sysconfig/network/ifcfg.template",
            "BOOTPROTO='static'\n",
        ),
    ]);
    let c = only(&f, System::Wicked);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(p, 1)));
    assert!(c.macs.is_empty() && c.addresses.is_empty());
    assert_eq!(c.auto_start, Some((true, at(p, 6))));
    assert_eq!(f.of(System::Ifcfg).count(), 0);
}

#[test]
fn sles15_wicked_static_with_lladdr() {
    let p = "/etc/sysconfig/network/ifcfg-eth0";
    let f = gather(&[(
        p,
        "BOOTPROTO='static'\nIPADDR='10.0.0.5/24'\nIPADDR_2='10.0.0.6/24'\nLLADDR='02:00:17:11:22:33'\nSTARTMODE='hotplug'\n",
    )]);
    let c = only(&f, System::Wicked);
    assert_eq!(c.method, Some(Method::Static));
    assert_eq!(c.method_at, Some(at(p, 1)));
    assert_eq!(
        vals(&c.addresses),
        vec![
            ("10.0.0.5/24", format!("{p}:2")),
            ("10.0.0.6/24", format!("{p}:3"))
        ]
    );
    assert_eq!(vals(&c.macs), vec![("02:00:17:11:22:33", format!("{p}:4"))]);
    assert_eq!(c.auto_start, Some((true, at(p, 5))));
}

// ---------------------------------------------------------------- NetworkManager keyfiles

/// What cloud-init 23's NetworkManager renderer writes on Oracle Linux 9 in OCI.
const OL9_CLOUD_INIT_KEYFILE: &str = "\
# Generated by cloud-init. Changes will be lost.

[connection]
id=cloud-init ens3
uuid=1dd9a779-d327-56e1-8454-c65e2556c12c
autoconnect-priority=120
type=ethernet

[user]
org.freedesktop.NetworkManager.origin=cloud-init

[ethernet]
mac-address=02:00:17:0A:1B:2C

[ipv4]
method=auto
may-fail=false

";

/// A profile made with `nmcli con add type ethernet ifname ens3 ipv4.method manual ...` on
/// Oracle Linux 9.
const OL9_STATIC_KEYFILE: &str = "\
[connection]
id=ens3
uuid=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03
type=ethernet
autoconnect=false
interface-name=ens3

[ethernet]
cloned-mac-address=stable

[ipv4]
address1=10.0.0.15/24,10.0.0.1
dns=169.254.169.254;
method=manual

[ipv6]
addr-gen-mode=eui64
address1=fd00::15/64
method=manual

[proxy]
";

#[test]
fn ol9_networkmanager_keyfiles() {
    let dir = "/etc/NetworkManager/system-connections";
    let a = format!("{dir}/cloud-init-ens3.nmconnection");
    let b = format!("{dir}/ens3.nmconnection");
    let f = gather(&[
        (&a, OL9_CLOUD_INIT_KEYFILE),
        (&b, OL9_STATIC_KEYFILE),
        (
            &format!("{dir}/ens3.nmconnection~"),
            "[ipv4]\nmethod=manual\n",
        ),
        // Shadowed by the /etc profile of the same UUID.
        (
            "/usr/lib/NetworkManager/system-connections/vendor.nmconnection",
            "[connection]\nuuid=1DD9A779-D327-56E1-8454-C65E2556C12C\n[ethernet]\nmac-address=00:11:22:33:44:55\n",
        ),
        // Not *.nmconnection: /usr/lib needs the extension.
        (
            "/usr/lib/NetworkManager/system-connections/README",
            "[ipv4]\nmethod=manual\n",
        ),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::NetworkManager).collect();
    assert_eq!(cs.len(), 2, "{cs:#?}");
    let c = cs[0];
    assert_eq!(c.source, Provenance::file(a.as_str()));
    assert_eq!(c.interface, None);
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(&a, 16)));
    assert_eq!(
        vals(&c.macs),
        vec![("02:00:17:0A:1B:2C", format!("{a}:13"))]
    );
    let c = cs[1];
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    assert_eq!(c.method, Some(Method::Static));
    assert_eq!(c.method_at, Some(at(&b, 14)));
    assert_eq!(
        vals(&c.addresses),
        vec![
            ("10.0.0.15/24", format!("{b}:12")),
            ("fd00::15/64", format!("{b}:18"))
        ]
    );
    assert!(c.macs.is_empty(), "cloned-mac-address=stable is no MAC");
    assert_eq!(c.auto_start, Some((false, at(&b, 5))));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn networkmanager_defaults_and_disabled() {
    let dir = "/etc/NetworkManager/system-connections";
    let f = gather(&[
        // No [ipv4] section: NetworkManager uses DHCP.
        (
            &format!("{dir}/a.nmconnection"),
            "[connection]\nid=a\ntype=ethernet\n",
        ),
        (
            &format!("{dir}/b.nmconnection"),
            "[connection]\nid=b\ntype=ethernet\n[802-3-ethernet]\nmac-address=52:54:00:00:00:01\n[ipv4]\nmethod=disabled\n",
        ),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::NetworkManager).collect();
    assert_eq!(cs[0].method, Some(Method::Dhcp));
    assert_eq!(cs[0].method_at, None, "a default, not written in the file");
    assert_eq!(cs[1].method, Some(Method::Disabled));
    assert_eq!(cs[1].macs.len(), 1);
}

// ---------------------------------------------------------------- systemd-networkd

#[test]
fn networkd_network_and_link_units() {
    let net = "/etc/systemd/network/10-ens3.network";
    let link = "/etc/systemd/network/10-ens3.link";
    let f = gather(&[
        (
            net,
            "[Match]\nMACAddress=02:00:17:00:aa:bb\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=ipv6\n\n[DHCPv4]\nUseMTU=true\n",
        ),
        (
            link,
            "[Match]\nMACAddress=02:00:17:00:aa:bb\n\n[Link]\nName=ens3\nWakeOnLan=off\n",
        ),
        // systemd's own default: no MAC.
        (
            "/usr/lib/systemd/network/99-default.link",
            "#  SPDX-License-Identifier: MIT-0\n[Match]\nOriginalName=*\n\n[Link]\nNamePolicy=keep kernel database onboard slot path\nAlternativeNamesPolicy=database onboard slot path\nMACAddressPolicy=persistent\n",
        ),
        // Hidden by the /etc file of the same name.
        (
            "/usr/lib/systemd/network/10-ens3.network",
            "[Network]\nAddress=10.9.9.9/24\n",
        ),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::Networkd).collect();
    assert_eq!(cs.len(), 3, "{cs:#?}");
    let l = cs[0];
    assert_eq!(l.source, Provenance::file(link));
    assert_eq!(l.interface.as_deref(), Some("ens3"));
    assert_eq!(l.method, None);
    assert_eq!(
        vals(&l.macs),
        vec![("02:00:17:00:aa:bb", format!("{link}:2"))]
    );
    let n = cs[1];
    assert_eq!(n.source, Provenance::file(net));
    assert_eq!(n.interface, None);
    assert_eq!(n.method, Some(Method::Dhcp));
    assert_eq!(n.method_at, Some(at(net, 5)));
    assert!(n.addresses.is_empty());
    assert_eq!(
        vals(&n.macs),
        vec![("02:00:17:00:aa:bb", format!("{net}:2"))]
    );
    let d = cs[2];
    assert_eq!(d.interface.as_deref(), Some("*"));
    assert!(d.macs.is_empty());
}

#[test]
fn networkd_static_masked_and_drop_ins() {
    let a = "/etc/systemd/network/20-static.network";
    let drop = "/etc/systemd/network/20-static.network.d/50-mac.conf";
    let m = MemFiles::new()
        .with(a, "[Match]\nName=ens3 eth*\n\n[Network]\nDHCP=no\nAddress=10.0.0.15/24\nGateway=10.0.0.1\n\n[Address]\nAddress=fd00::15/64\n")
        .with(drop, "[Link]\nMACAddress=52:54:00:12:34:56\n")
        .with("/usr/lib/systemd/network/80-dhcp.network", "[Match]\nName=*\n[Network]\nDHCP=yes\n")
        .with_link("/etc/systemd/network/80-dhcp.network", "/dev/null");
    let f = network::gather(&m);
    let cs: Vec<&IfaceConfig> = f.of(System::Networkd).collect();
    assert_eq!(cs.len(), 1, "{cs:#?}");
    let c = cs[0];
    assert_eq!(c.interface.as_deref(), Some("ens3 eth*"));
    assert_eq!(c.method, Some(Method::Static));
    assert_eq!(c.method_at, Some(at(a, 6)));
    assert_eq!(
        vals(&c.addresses),
        vec![
            ("10.0.0.15/24", format!("{a}:6")),
            ("fd00::15/64", format!("{a}:10"))
        ]
    );
    assert_eq!(
        vals(&c.macs),
        vec![("52:54:00:12:34:56", format!("{drop}:2"))]
    );
}

#[test]
fn networkd_netdev_mac() {
    let p = "/etc/systemd/network/25-bond0.netdev";
    let f = gather(&[(
        p,
        "[NetDev]\nName=bond0\nKind=bond\nMACAddress=52:54:00:aa:00:01\n\n[Bond]\nMode=active-backup\n",
    )]);
    let c = only(&f, System::Networkd);
    assert_eq!(c.interface.as_deref(), Some("bond0"));
    assert_eq!(c.method, None);
    assert_eq!(vals(&c.macs), vec![("52:54:00:aa:00:01", format!("{p}:4"))]);
}

// ---------------------------------------------------------------- Debian ifupdown

/// Debian 12's /etc/network/interfaces as the installer writes it, using source-directory.
const DEBIAN12_INTERFACES: &str = "\
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source-directory /etc/network/interfaces.d

# The loopback network interface
auto lo
iface lo inet loopback
";

const DEBIAN12_ETH0: &str = "\
# The primary network interface
allow-hotplug eth0
iface eth0 inet dhcp
iface eth0 inet6 auto
";

const STATIC_ENS4: &str = "\
auto ens4
iface ens4 inet static
    address 10.0.0.20/24
    gateway 10.0.0.1
    hwaddress ether 52:54:00:de:ad:01
    dns-nameservers 169.254.169.254
";

fn debian_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/etc/network/interfaces", DEBIAN12_INTERFACES),
        ("/etc/network/interfaces.d/eth0", DEBIAN12_ETH0),
        ("/etc/network/interfaces.d/ens4-static", STATIC_ENS4),
        // Not a run-parts name: source-directory skips it.
        (
            "/etc/network/interfaces.d/ens5.cfg",
            "auto ens5\niface ens5 inet static\n address 1.2.3.4/24\n",
        ),
    ]
}

#[test]
fn debian12_interfaces_with_source_directory() {
    let f = gather(&debian_files());
    let cs: Vec<&IfaceConfig> = f.of(System::Ifupdown).collect();
    assert_eq!(cs.len(), 3, "{cs:#?}");
    let s = "/etc/network/interfaces.d/ens4-static";
    let e = "/etc/network/interfaces.d/eth0";
    // interfaces.d is read in name order: ens4-static, then eth0.
    assert_eq!(cs[0].interface.as_deref(), Some("ens4"));
    assert_eq!(cs[0].source, at(s, 2));
    assert_eq!(cs[0].method, Some(Method::Static));
    assert_eq!(
        vals(&cs[0].addresses),
        vec![("10.0.0.20/24", format!("{s}:3"))]
    );
    assert_eq!(
        vals(&cs[0].macs),
        vec![("52:54:00:de:ad:01", format!("{s}:5"))]
    );
    assert_eq!(cs[0].auto_start, Some((true, at(s, 1))));
    assert_eq!(cs[1].interface.as_deref(), Some("eth0"));
    assert_eq!(cs[1].method, Some(Method::Dhcp));
    assert_eq!(cs[1].method_at, Some(at(e, 3)));
    assert_eq!(cs[1].auto_start, Some((true, at(e, 2))));
    assert_eq!(cs[2].method, Some(Method::Other("inet6 auto".into())));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn ifupdown_relative_sources_globs_and_loops() {
    let f = gather(&[
        (
            "/etc/network/interfaces",
            "source interfaces.d/*\nsource /etc/network/interfaces\niface eth9 inet dhcp\n",
        ),
        // Relative to the including file's directory (/etc/network/interfaces.d).
        (
            "/etc/network/interfaces.d/a",
            "source ../more/b\niface eth1 inet manual\n",
        ),
        (
            "/etc/network/more/b",
            "iface eth2 \\\n  inet static\n address 192.0.2.2/24\nsource b\n",
        ),
    ]);
    let names: Vec<(&str, Option<Method>)> = f
        .of(System::Ifupdown)
        .map(|c| (c.interface.as_deref().unwrap_or(""), c.method.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("eth2", Some(Method::Static)),
            ("eth1", Some(Method::Other("manual".into()))),
            ("eth9", Some(Method::Dhcp)),
        ]
    );
    // Not brought up: no auto / allow- line.
    assert!(
        f.of(System::Ifupdown)
            .all(|c| matches!(c.auto_start, Some((false, _))))
    );
    assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
    assert!(f.warnings.iter().all(|w| w.contains("ifupdown would loop")));
}

// ---------------------------------------------------------------- udev persistent-net

/// /etc/udev/rules.d/70-persistent-net.rules as udev's generator wrote it (CentOS 6,
/// Debian 8).
const PERSISTENT_NET: &str = r#"# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
#
# You can modify it, as long as you keep each rule on a single
# line, and change only the value of the NAME= key.

# PCI device 0x1af4:0x1000 (virtio-pci)
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:12:34:56", ATTR{dev_id}=="0x0", ATTR{type}=="1", KERNEL=="eth*", NAME="eth0"

# PCI device 0x8086:0x100e (e1000)
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", \
  ATTR{address}=="08:00:27:aa:bb:cc", ATTR{type}=="1", KERNEL=="eth*", NAME="eth1"
# SUBSYSTEM=="net", ATTR{address}=="00:00:00:00:00:01", NAME="eth9"
SUBSYSTEM=="net", ATTR{address}=="?*", NAME="any"
"#;

#[test]
fn persistent_net_rules() {
    let p = "/etc/udev/rules.d/70-persistent-net.rules";
    let f = gather(&[
        (p, PERSISTENT_NET),
        ("/etc/udev/rules.d/75-persistent-net-generator.rules", ""),
        (
            "/etc/udev/rules.d/80-other.rules",
            "ATTR{address}==\"11:22:33:44:55:66\"\n",
        ),
    ]);
    assert_eq!(
        vals(&f.persistent_net_rules),
        vec![
            ("52:54:00:12:34:56", format!("{p}:8")),
            ("08:00:27:aa:bb:cc", format!("{p}:11"))
        ]
    );
    assert_eq!(f.all_macs().count(), 2);
}

#[test]
fn empty_image_has_nothing_and_no_warnings() {
    let f = gather(&[("/etc/hostname", "x\n")]);
    assert_eq!(f, NetworkFact::default());
}

// ---------------------------------------------------------------- ifquery cross-check

/// Write `files` under `root`, rewriting absolute guest paths inside them to `root`.
fn materialize(root: &Path, files: &[(&str, &str)]) {
    let prefix = root.to_str().unwrap();
    for (path, text) in files {
        let host = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        let text = text.replace(" /etc/", &format!(" {prefix}/etc/"));
        std::fs::write(host, text).unwrap();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("preflight-network-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ifquery` (ifupdown 0.8) reads the same files in the same order, finds the same stanzas
/// and options, and brings up the same interfaces at boot.
#[test]
fn ifupdown_agrees_with_ifquery() {
    if Command::new("ifquery").arg("--version").output().is_err() {
        panic!("ifquery is missing: install ifupdown (cargo xtask test does)");
    }
    let files = debian_files();
    let root = scratch("ifquery");
    materialize(&root, &files);
    let prefix = root.to_str().unwrap().to_string();
    let interfaces = root.join("etc/network/interfaces");
    let state = root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let ifquery = |args: &[&str]| {
        let out = Command::new("ifquery")
            .arg("-i")
            .arg(&interfaces)
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ours = gather(&files);
    let cfgs: Vec<&IfaceConfig> = ours.of(System::Ifupdown).collect();

    // Files read, in order ("parsing file" lines; the main file is not listed).
    let (_, log) = ifquery(&["-v", "eth0"]);
    let theirs: Vec<String> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ifquery: parsing file "))
        .map(|p| p.replacen(&prefix, "", 1))
        .collect();
    let mut read = network::ifupdown::files_read(&{
        let mut m = MemFiles::new();
        for (p, t) in &files {
            m = m.with(p, t);
        }
        m
    });
    read.remove(0);
    assert_eq!(read, theirs);

    // Interfaces brought up at boot: `auto` and `allow-hotplug`.
    let mut theirs: Vec<String> = ifquery(&["--list", "-a"])
        .0
        .lines()
        .chain(ifquery(&["--list", "--allow=hotplug"]).0.lines())
        .filter(|l| *l != "lo")
        .map(String::from)
        .collect();
    theirs.sort();
    let mut mine: Vec<String> = cfgs
        .iter()
        .filter(|c| matches!(c.auto_start, Some((true, _))))
        .filter_map(|c| c.interface.clone())
        .collect();
    mine.sort();
    mine.dedup();
    assert_eq!(mine, theirs);

    // Families and options of each interface.
    for name in ["eth0", "ens4"] {
        let (out, log) = ifquery(&["-v", name]);
        let mut families: Vec<String> = log
            .lines()
            .filter_map(|l| l.strip_prefix("ifquery: querying interface "))
            .filter_map(|l| {
                l.rsplit_once('(')
                    .map(|(_, f)| f.trim_end_matches(')').to_string())
            })
            .collect();
        families.sort();
        let mut my_families: Vec<String> = cfgs
            .iter()
            .filter(|c| c.interface.as_deref() == Some(name))
            .map(|c| match &c.method {
                Some(Method::Other(m)) if m.starts_with("inet6") => "inet6".to_string(),
                _ => "inet".to_string(),
            })
            .collect();
        my_families.sort();
        assert_eq!(my_families, families, "{name}");
        let opt = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_string))
        };
        let mine = cfgs
            .iter()
            .find(|c| c.interface.as_deref() == Some(name))
            .unwrap();
        assert_eq!(
            mine.macs.first().map(|m| m.0.clone()),
            opt("hwaddress"),
            "{name}"
        );
        // ifquery splits address/prefix into address and netmask.
        assert_eq!(
            mine.addresses
                .first()
                .map(|a| a.0.split('/').next().unwrap().to_string()),
            opt("address"),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

// ---------------------------------------------------------------- netplan

/// /etc/netplan/50-cloud-init.yaml as cloud-init writes it on Ubuntu 22.04 in OCI: the
/// `match: macaddress` pins the VNIC the image was captured from.
const UBUNTU2204_50_CLOUD_INIT: &str = "\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        ens3:
            dhcp4: true
            match:
                macaddress: 02:00:17:00:b1:2c
            set-name: ens3
    version: 2
";

/// A hand-written static configuration (Ubuntu server installer style).
const NETPLAN_STATIC: &str = "\
network:
  version: 2
  renderer: networkd
  ethernets:
    enp0s3:
      dhcp4: no
      addresses:
        - 192.168.1.50/24
        - \"2001:db8::50/64\"
      routes:
        - to: default
          via: 192.168.1.1
      macaddress: 52:54:00:12:34:56
      nameservers:
        addresses: [8.8.8.8, 1.1.1.1]
";

/// A DHCP configuration without any MAC (what a clean image should carry).
const NETPLAN_CLEAN: &str = "\
network:
  version: 2
  ethernets:
    all-en:
      match:
        name: \"en*\"
      dhcp4: true
      dhcp6: false
";

#[test]
fn ubuntu2204_netplan_from_cloud_init() {
    let p = "/etc/netplan/50-cloud-init.yaml";
    let f = gather(&[(p, UBUNTU2204_50_CLOUD_INIT)]);
    let c = only(&f, System::Netplan);
    assert_eq!(c.source, at(p, 8));
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(p, 9)));
    assert_eq!(
        vals(&c.macs),
        vec![("02:00:17:00:b1:2c", format!("{p}:11"))]
    );
    assert!(c.addresses.is_empty());
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn netplan_static_with_macaddress() {
    let p = "/etc/netplan/01-netcfg.yaml";
    let f = gather(&[(p, NETPLAN_STATIC)]);
    let c = only(&f, System::Netplan);
    assert_eq!(c.interface.as_deref(), Some("enp0s3"));
    assert_eq!(c.method, Some(Method::Static));
    assert_eq!(c.method_at, Some(at(p, 8)));
    assert_eq!(
        vals(&c.addresses),
        vec![
            ("192.168.1.50/24", format!("{p}:8")),
            ("2001:db8::50/64", format!("{p}:9"))
        ]
    );
    assert_eq!(
        vals(&c.macs),
        vec![("52:54:00:12:34:56", format!("{p}:13"))]
    );
}

#[test]
fn netplan_file_precedence_and_merging() {
    let f = gather(&[
        // Hidden by /etc/netplan/50-cloud-init.yaml.
        (
            "/lib/netplan/50-cloud-init.yaml",
            "network:\n  version: 2\n  ethernets:\n    hidden:\n      dhcp4: true\n",
        ),
        ("/etc/netplan/50-cloud-init.yaml", UBUNTU2204_50_CLOUD_INIT),
        ("/etc/netplan/00-clean.yaml", NETPLAN_CLEAN),
        // Later in name order: overrides dhcp4 of ens3 and adds an address.
        (
            "/run/netplan/90-override.yaml",
            "network:\n  version: 2\n  ethernets:\n    ens3:\n      dhcp4: off\n      addresses: [10.0.0.9/24]\n",
        ),
        ("/etc/netplan/README", "not yaml: [\n"),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::Netplan).collect();
    assert_eq!(cs.len(), 2, "{cs:#?}");
    assert_eq!(cs[0].interface.as_deref(), Some("en*"));
    assert_eq!(cs[0].method, Some(Method::Dhcp));
    assert!(cs[0].macs.is_empty());
    let o = "/run/netplan/90-override.yaml";
    assert_eq!(cs[1].interface.as_deref(), Some("ens3"));
    assert_eq!(cs[1].source, at("/etc/netplan/50-cloud-init.yaml", 8));
    assert_eq!(cs[1].method, Some(Method::Static));
    assert_eq!(cs[1].method_at, Some(at(o, 6)));
    assert_eq!(cs[1].macs.len(), 1);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn netplan_bad_yaml_is_a_warning() {
    let f = gather(&[
        (
            "/etc/netplan/01.yaml",
            "network:\n  ethernets:\n    eth0: {dhcp4: true\n",
        ),
        (
            "/etc/netplan/02.yaml",
            "network:\n  version: 2\n  ethernets:\n    eth1:\n      dhcp4: maybe\n      addresses: 10.0.0.1\n",
        ),
    ]);
    assert_eq!(f.warnings.len(), 3, "{:?}", f.warnings);
    assert!(f.warnings[0].starts_with("/etc/netplan/01.yaml: not valid YAML"));
    let c = only(&f, System::Netplan);
    assert_eq!(c.method, None);
}

// ---------------------------------------------------------------- cloud-init

/// The start of Ubuntu 22.04's /etc/cloud/cloud.cfg: no network key.
const UBUNTU_CLOUD_CFG: &str = "\
# The top level settings are used as module
# and base configuration.

# A set of users which may be applied and/or used by various modules
# when a 'default' entry is found it will reference the 'default_user'
# from the distro configuration specified below
users:
   - default

# If this is set, 'root' will not be able to ssh in and they
# will get a message to login instead as the default $user
disable_root: true

# This will cause the set+update hostname module to not operate (if true)
preserve_hostname: false
";

const CLOUD_INIT_V1: &str = "\
network:
  version: 1
  config:
    - type: physical
      name: eth0
      mac_address: \"52:54:00:12:34:00\"
      subnets:
        - type: static
          address: 192.168.1.10/24
          gateway: 192.168.1.1
    - type: physical
      name: eth1
      subnets:
        - type: dhcp
    - type: nameserver
      address: [1.1.1.1]
";

const CLOUD_INIT_V2: &str = "\
network:
  version: 2
  ethernets:
    ens3:
      dhcp4: true
      match:
        macaddress: \"02:00:17:aa:bb:cc\"
      set-name: ens3
";

#[test]
fn cloud_init_v1_network_config() {
    let p = "/etc/cloud/cloud.cfg.d/50-network.cfg";
    let f = gather(&[
        ("/etc/cloud/cloud.cfg", UBUNTU_CLOUD_CFG),
        (p, CLOUD_INIT_V1),
    ]);
    let cs: Vec<&IfaceConfig> = f.of(System::CloudInit).collect();
    assert_eq!(cs.len(), 2, "{cs:#?}");
    assert_eq!(cs[0].source, at(p, 4));
    assert_eq!(cs[0].interface.as_deref(), Some("eth0"));
    assert_eq!(cs[0].method, Some(Method::Static));
    assert_eq!(cs[0].method_at, Some(at(p, 8)));
    assert_eq!(
        vals(&cs[0].addresses),
        vec![("192.168.1.10/24", format!("{p}:9"))]
    );
    assert_eq!(
        vals(&cs[0].macs),
        vec![("52:54:00:12:34:00", format!("{p}:6"))]
    );
    assert_eq!(cs[1].interface.as_deref(), Some("eth1"));
    assert_eq!(cs[1].method, Some(Method::Dhcp));
    assert_eq!(cs[1].method_at, Some(at(p, 14)));
    assert_eq!(f.cloud_init_network_disabled, None);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn cloud_init_v2_network_config() {
    let p = "/etc/cloud/cloud.cfg.d/90-net.cfg";
    let f = gather(&[
        ("/etc/cloud/cloud.cfg", UBUNTU_CLOUD_CFG),
        (p, CLOUD_INIT_V2),
    ]);
    let c = only(&f, System::CloudInit);
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    assert_eq!(c.method, Some(Method::Dhcp));
    assert_eq!(c.method_at, Some(at(p, 5)));
    assert_eq!(vals(&c.macs), vec![("02:00:17:aa:bb:cc", format!("{p}:7"))]);
}

/// cloud-init's version 2 config reads like the same text as a netplan file.
#[test]
fn cloud_init_v2_reads_as_netplan() {
    let strip = |c: &IfaceConfig| {
        (
            c.interface.clone(),
            c.method.clone(),
            c.macs.len(),
            c.addresses.len(),
        )
    };
    let ci = gather(&[("/etc/cloud/cloud.cfg.d/90-net.cfg", CLOUD_INIT_V2)]);
    let np = gather(&[("/etc/netplan/50-cloud-init.yaml", CLOUD_INIT_V2)]);
    assert_eq!(
        strip(only(&ci, System::CloudInit)),
        strip(only(&np, System::Netplan))
    );
}

#[test]
fn cloud_init_network_disabled() {
    let d = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg";
    let f = gather(&[
        ("/etc/cloud/cloud.cfg.d/50-network.cfg", CLOUD_INIT_V1),
        (d, "network: {config: disabled}\n"),
        // Still reported: netplan's own file.
        ("/etc/netplan/50-cloud-init.yaml", UBUNTU2204_50_CLOUD_INIT),
    ]);
    assert_eq!(f.cloud_init_network_disabled, Some(at(d, 1)));
    assert_eq!(f.of(System::CloudInit).count(), 0);
    assert_eq!(f.of(System::Netplan).count(), 1);
    // A later file setting network.config again wins.
    let f = gather(&[
        (d, "network:\n  config: disabled\n"),
        ("/etc/cloud/cloud.cfg.d/zz-network.cfg", CLOUD_INIT_V1),
    ]);
    assert_eq!(f.cloud_init_network_disabled, None);
    assert_eq!(f.of(System::CloudInit).count(), 2);
}

// ---------------------------------------------------------------- netplan generate

/// The netplan fixtures, as `netplan generate` turns them into systemd-networkd units or
/// NetworkManager keyfiles (and udev .link files): reading those gives the same methods,
/// addresses and MACs as reading the YAML.
#[test]
fn netplan_agrees_with_netplan_generate() {
    if Command::new("netplan").arg("--help").output().is_err() {
        panic!("netplan is missing: install netplan.io (cargo xtask test does)");
    }
    let sets: Vec<Vec<(&str, &str)>> = vec![
        vec![("/etc/netplan/50-cloud-init.yaml", UBUNTU2204_50_CLOUD_INIT)],
        vec![("/etc/netplan/01-netcfg.yaml", NETPLAN_STATIC)],
        // cloud-init hands a version 2 network config to netplan as it is.
        vec![("/etc/netplan/50-cloud-init.yaml", CLOUD_INIT_V2)],
        vec![
            ("/etc/netplan/00-clean.yaml", NETPLAN_CLEAN),
            ("/etc/netplan/50-cloud-init.yaml", UBUNTU2204_50_CLOUD_INIT),
            (
                "/etc/netplan/90-override.yaml",
                "network:\n  version: 2\n  ethernets:\n    ens3:\n      dhcp4: off\n      addresses: [10.0.0.9/24]\n      macaddress: 52:54:00:00:00:09\n",
            ),
        ],
    ];
    for (i, set) in sets.iter().enumerate() {
        for renderer in ["networkd", "NetworkManager"] {
            let root = scratch(&format!("netplan-{i}-{renderer}"));
            // A global renderer in the first file; a file naming its own renderer gets ours.
            let global = format!("network:\n  version: 2\n  renderer: {renderer}\n");
            let texts: Vec<String> = set
                .iter()
                .map(|(_, t)| t.replace("renderer: networkd", &format!("renderer: {renderer}")))
                .collect();
            let mut with_renderer: Vec<(&str, &str)> =
                vec![("/etc/netplan/00-00-renderer.yaml", global.as_str())];
            with_renderer.extend(set.iter().zip(&texts).map(|((p, _), t)| (*p, t.as_str())));
            materialize(&root, &with_renderer);
            for (p, _) in &with_renderer {
                let host = root.join(p.trim_start_matches('/'));
                let mut perm = std::fs::metadata(&host).unwrap().permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
                std::fs::set_permissions(&host, perm).unwrap();
            }
            let out = Command::new("netplan")
                .arg("generate")
                .arg("--root-dir")
                .arg(&root)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The generated tree, at its guest paths.
            let mut generated = MemFiles::new();
            let mut udev_macs: Vec<String> = Vec::new();
            for dir in [
                "run/systemd/network",
                "run/NetworkManager/system-connections",
                "run/udev/rules.d",
            ] {
                let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
                    continue;
                };
                for e in rd {
                    let e = e.unwrap();
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    let name = e.file_name().into_string().unwrap();
                    if name.starts_with("99-netplan-") {
                        // The rename rule netplan writes for `set-name` with `match: macaddress`.
                        udev_macs.extend(network::udev::bindings(&text).into_iter().map(|b| b.0));
                    }
                    generated = generated.with(&format!("/{dir}/{name}"), text);
                }
            }
            let yaml = gather(set);
            let theirs = network::gather(&generated);
            let target = if renderer == "networkd" {
                System::Networkd
            } else {
                System::NetworkManager
            };
            let summary = |cs: Vec<&IfaceConfig>| {
                let mut v: Vec<(Option<String>, String, Vec<String>)> = cs
                    .iter()
                    .map(|c| {
                        let m = match &c.method {
                            Some(Method::Dhcp) => "dhcp",
                            Some(Method::Static) => "static",
                            _ => "other",
                        };
                        let mut a: Vec<String> = c.addresses.iter().map(|x| x.0.clone()).collect();
                        a.sort();
                        (c.interface.clone(), m.to_string(), a)
                    })
                    .collect();
                v.sort();
                v
            };
            let gen_cfgs: Vec<&IfaceConfig> = theirs
                .of(target)
                .filter(|c| !c.source.path.ends_with(".link"))
                .collect();
            assert_eq!(
                summary(yaml.of(System::Netplan).collect()),
                summary(gen_cfgs),
                "set {i}, {renderer}"
            );
            let norm = |m: &String| m.to_ascii_lowercase();
            let mut mine: Vec<String> = yaml.all_macs().map(|m| norm(&m.0)).collect();
            let mut got: Vec<String> = theirs
                .all_macs()
                .map(|m| norm(&m.0))
                .chain(udev_macs.iter().map(norm))
                .collect();
            mine.sort();
            mine.dedup();
            got.sort();
            got.dedup();
            assert_eq!(mine, got, "set {i}, {renderer}");
            let _ = std::fs::remove_dir_all(&root);
        }
    }
}
