//! Each rule fires on an image built to violate it and stays quiet on one built not to,
//! through the real binary and its JSON report. Images are made by the fixture builder with
//! the real tools; the variants are edits of a realistic Debian 12 guest.

mod common;

use std::process::Command;

use common::{blockers, evidence, fired, report, scratch, sh};
use preflight_fixtures::{
    Container, DiskSpec, GuestTree, Partitioning, cpio_newc, debian_guest, image, test_key,
};
use preflight_report::{Level, Report, Status};

fn qcow2(tree: GuestTree) -> std::path::PathBuf {
    image(&DiskSpec::new(tree), Container::Qcow2V3)
}

/// The tree on a disk the firmware can boot (an EFI system partition with a loader), for
/// tests that need no blocker but the one under test.
fn bootable(tree: GuestTree, container: Container) -> std::path::PathBuf {
    let mut spec = DiskSpec::new(tree);
    spec.partitioning = Partitioning::GptEfi;
    image(&spec, container)
}

const OUR_RULES: [&str; 15] = [
    "IMP-FORMAT",
    "IMP-SIZE",
    "IMP-STANDALONE",
    "IMP-ENCRYPT",
    "S01",
    "S10",
    "S14",
    "S16",
    "REC-SSH-PASSWORD",
    "IMP-ROOTREF",
    "REC-SERIAL",
    "IMP-BOOT",
    "IMP-INITRAMFS",
    "REC-MODE",
    "G01",
];

#[test]
fn a_clean_debian_image_is_ready_and_paravirtualized() {
    let mut spec = DiskSpec::new(debian_guest());
    spec.partitioning = Partitioning::GptEfi;
    let (code, r) = report(&image(&spec, Container::Qcow2V3));
    assert_eq!(
        code, 0,
        "findings: {:#?}\nnot evaluated: {:#?}",
        r.findings, r.not_evaluated
    );
    for rule in OUR_RULES {
        assert!(
            fired(&r, rule).is_empty(),
            "{rule} must not fire on the clean image"
        );
        assert!(
            !r.not_evaluated.iter().any(|n| n.rule == rule),
            "{rule} must have run"
        );
    }
    assert_eq!(r.verdict.status, Status::Ready);
    // grub.cfg's root=UUID= is this root: no note about the kernel command line.
    assert!(
        !r.notes.iter().any(|n| n.contains("kernel command line")),
        "{:#?}",
        r.notes
    );
    assert_eq!(r.image.format, "qcow2");
    assert_eq!(r.image.virtual_size, 256 * 1024 * 1024);
    let g = r.guest.as_ref().unwrap();
    assert_eq!(g.arch.as_deref(), Some("x86_64"));
    let os = g.os.as_ref().unwrap();
    assert_eq!(
        (os.id.as_deref(), os.version_id.as_deref()),
        (Some("debian"), Some("12"))
    );
    assert_eq!(
        r.recommendation.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED")
    );
    // The fixture's BIOS boot partition is empty and its MBR has no boot code: UEFI only.
    assert_eq!(r.recommendation.firmware, vec!["UEFI_64"]);
    assert!(g.kernels.iter().any(|k| k.version == "6.1.0-18-amd64"));
    assert!(r.stats.read_calls > 0 && r.stats.bytes_read > 0);
    let sshd: Vec<_> = g
        .sshd
        .iter()
        .map(|s| (s.keyword.as_str(), s.value.as_str(), s.from.as_str()))
        .collect();
    assert!(
        sshd.contains(&(
            "PermitRootLogin",
            "no",
            "/etc/ssh/sshd_config.d/40-hardening.conf:1"
        )),
        "{sshd:?}"
    );
}

#[test]
fn the_text_report_leads_with_the_verdict() {
    let out = common::run(&bootable(debian_guest(), Container::Qcow2V3), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first_lines: Vec<&str> = out.stdout.lines().take(4).collect();
    assert!(
        first_lines.iter().any(|l| l.starts_with("VERDICT: READY")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Launch mode: PARAVIRTUALIZED"));
}

#[test]
fn imp_format_raw_is_a_blocker_with_the_conversion_command() {
    let (code, r) = report(&bootable(debian_guest(), Container::Raw));
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-FORMAT");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].remedy
            .contains("qemu-img convert -p -f raw -O qcow2 disk.raw disk.qcow2"),
        "{}",
        f[0].remedy
    );
    // The guest is inspected all the same.
    assert_eq!(blockers(&r), vec!["IMP-FORMAT"]);
    assert!(r.guest.is_some());
}

#[test]
fn s01_host_keys_are_blockers_and_private_keys_are_never_copied() {
    let (private, public) = test_key("host");
    let tree = debian_guest()
        .file_mode("/etc/ssh/ssh_host_ed25519_key", &private, 0o600)
        .file("/etc/ssh/ssh_host_ed25519_key.pub", &public);
    let (code, r) = report(&qcow2(tree));
    assert_eq!(code, 1);
    let f = fired(&r, "S01");
    assert_eq!(f.len(), 1);
    let ev = evidence(f[0]);
    assert!(
        ev.contains("/etc/ssh/ssh_host_ed25519_key:0 private key (OPENSSH PRIVATE KEY)"),
        "{ev}"
    );
    assert!(ev.contains("ssh-ed25519 SHA256:"), "{ev}");
    assert!(f[0].remedy.contains("rm -f /etc/ssh/ssh_host_*"));
    let json = serde_json::to_string(&r).unwrap();
    let key_body = private.lines().nth(1).unwrap();
    assert!(
        !json.contains(key_body),
        "private key material leaked into the report"
    );
}

#[test]
fn s10_keys_in_any_users_authorized_keys_are_blockers() {
    let (_, alice) = test_key("user");
    let refusal = format!(
        "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"debian\\\" rather than the user \\\"root\\\".';echo;sleep 10;exit 142\" {alice}"
    );
    let tree = debian_guest()
        .file(
            "/home/debian/.ssh/authorized_keys",
            format!("# team keys\n{alice}"),
        )
        .file("/root/.ssh/authorized_keys", &refusal);
    let (code, r) = report(&qcow2(tree));
    assert_eq!(code, 1);
    let f = fired(&r, "S10");
    assert_eq!(f.len(), 2, "{f:#?}");
    let all: String = f.iter().map(|f| evidence(f)).collect();
    assert!(
        all.contains("/home/debian/.ssh/authorized_keys:2 ssh-ed25519 SHA256:"),
        "{all}"
    );
    assert!(all.contains("(alice@laptop)"));
    assert!(all.contains("forced command refusing the login"), "{all}");
}

#[test]
fn s10_empty_or_comment_only_files_pass() {
    let tree = debian_guest().file(
        "/home/debian/.ssh/authorized_keys",
        "# keys are added by cloud-init\n\n",
    );
    let (_, r) = report(&qcow2(tree));
    assert!(fired(&r, "S10").is_empty());
}

#[test]
fn s14_default_prohibit_password_is_not_disabled() {
    // cloud-init would refuse root's key at first boot (disable_root, the default): turn
    // that off to see sshd alone.
    let tree = debian_guest()
        .remove("/etc/ssh/sshd_config.d/40-hardening.conf")
        .file(
            "/etc/cloud/cloud.cfg.d/99-root.cfg",
            "disable_root: false\n",
        );
    let (code, r) = report(&qcow2(tree.clone()));
    assert_eq!(code, 1);
    let f = fired(&r, "S14");
    assert_eq!(f.len(), 1);
    let ev = evidence(f[0]);
    assert!(
        ev.contains("PermitRootLogin not set: OpenSSH's default is prohibit-password"),
        "{ev}"
    );
    assert!(ev.contains("root's shell is /bin/bash"), "{ev}");

    // With cloud-init's disable_root (Debian's cloud.cfg says true), the key root gets at
    // launch refuses the login: the instance does not let root in.
    let (_, r) = report(&qcow2(tree.remove("/etc/cloud/cloud.cfg.d/99-root.cfg")));
    assert!(fired(&r, "S14").is_empty(), "{:#?}", r.findings);
    // PermitRootLogin yes lets root in with a password whatever cloud-init does with keys.
    let yes = debian_guest().file(
        "/etc/ssh/sshd_config.d/40-hardening.conf",
        "PermitRootLogin yes\n",
    );
    let (_, r) = report(&qcow2(yes));
    assert_eq!(fired(&r, "S14").len(), 1, "{:#?}", r.findings);
}

#[test]
fn s14_a_drop_in_read_first_overrides_the_main_file() {
    // Debian reads sshd_config.d/*.conf where the Include stands, at the top: the drop-in's
    // value is the first one sshd sees, so the main file's `no` further down does not count.
    let tree = debian_guest()
        .remove("/etc/ssh/sshd_config.d/40-hardening.conf")
        .file(
            "/etc/ssh/sshd_config.d/10-vendor.conf",
            "PermitRootLogin yes\n",
        )
        .file(
            "/etc/ssh/sshd_config",
            format!(
                "{}\nPermitRootLogin no\n",
                preflight_fixtures::DEBIAN_SSHD_CONFIG
            ),
        );
    let (_, r) = report(&qcow2(tree));
    let f = fired(&r, "S14");
    assert_eq!(f.len(), 1);
    let ev = evidence(f[0]);
    assert!(
        ev.contains("/etc/ssh/sshd_config.d/10-vendor.conf:1 PermitRootLogin yes"),
        "{ev}"
    );
    assert!(f[0].remedy.contains("10-vendor.conf"), "{}", f[0].remedy);
}

#[test]
fn s14_a_match_block_can_reopen_root_login() {
    let tree = debian_guest().file(
        "/etc/ssh/sshd_config",
        format!(
            "{}\nMatch User root Address 10.0.0.0/8\n    PermitRootLogin yes\n",
            preflight_fixtures::DEBIAN_SSHD_CONFIG
        ),
    );
    let (_, r) = report(&qcow2(tree));
    let f = fired(&r, "S14");
    assert_eq!(f.len(), 1);
    let ev = evidence(f[0]);
    assert!(
        ev.contains(
            "PermitRootLogin yes — for connections matching Match User root Address 10.0.0.0/8"
        ),
        "{ev}"
    );
}

#[test]
fn s14_explicit_prohibit_password_fires_and_nologin_shell_passes() {
    let tree = debian_guest()
        .file(
            "/etc/ssh/sshd_config.d/40-hardening.conf",
            "PermitRootLogin without-password\n",
        )
        .file(
            "/etc/cloud/cloud.cfg.d/99-root.cfg",
            "disable_root: false\n",
        );
    let (_, r) = report(&qcow2(tree.clone()));
    let f = fired(&r, "S14");
    assert_eq!(f.len(), 1);
    assert!(evidence(f[0]).contains("only `no` disables root login"));

    let passwd = "root:x:0:0:root:/root:/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\ndebian:x:1000:1000:Debian:/home/debian:/bin/bash\n";
    let (_, r) = report(&qcow2(tree.file("/etc/passwd", passwd)));
    assert!(fired(&r, "S14").is_empty(), "{:#?}", r.findings);
}

#[test]
fn s16_passwords_and_empty_passwords_are_blockers_locked_ones_pass() {
    let shadow = "root:*:19755:0:99999:7:::\n\
                  sshd:*:19755:0:99999:7:::\n\
                  debian:$6$rounds=5000$saltsalt$Jkq9qfYhYnS4QrsK1D7wbx0nYqC7pKbOQ5HdVn3LGpFqvXkSg/8pS1x7y2uF4vWc3hA9eB0dQ1rN5mT6jK7iL.:19755:0:99999:7:::\n\
                  guest::19755:0:99999:7:::\n\
                  backup:!$y$j9T$abc$def:19755:0:99999:7:::\n";
    let passwd = "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n\
                  debian:x:1000:1000:Debian:/home/debian:/bin/bash\nguest:x:1001:1001::/home/guest:/bin/sh\n\
                  backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\n";
    let tree = debian_guest()
        .file_mode("/etc/shadow", shadow, 0o640)
        .file("/etc/passwd", passwd);
    let (code, r) = report(&qcow2(tree));
    assert_eq!(code, 1);
    let f = fired(&r, "S16");
    assert_eq!(f.len(), 2, "{f:#?}");
    let all: String = f.iter().map(|f| evidence(f)).collect::<Vec<_>>().join("\n");
    assert!(
        all.contains("/etc/shadow:3 password field holds a sha512crypt hash"),
        "{all}"
    );
    assert!(
        all.contains("/etc/shadow:4 password field is empty"),
        "{all}"
    );
    assert!(
        !serde_json::to_string(&r).unwrap().contains("saltsalt"),
        "a hash leaked into the report"
    );
}

#[test]
fn rec_ssh_password_follows_first_value_wins() {
    // No cloud-init drop-in: OpenSSH's default `PasswordAuthentication yes` applies.
    let (code, r) = report(&bootable(
        debian_guest().remove("/etc/ssh/sshd_config.d/50-cloud-init.conf"),
        Container::Qcow2V3,
    ));
    assert_eq!(code, 0, "REC-SSH-PASSWORD is a warning, not a blocker");
    let f = fired(&r, "REC-SSH-PASSWORD");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].level, Level::Warning);
    assert!(evidence(f[0]).contains("PasswordAuthentication not set: OpenSSH's default is yes"));

    // The drop-in's `no` is read first; the main file's later `yes` is ignored by sshd.
    let tree = debian_guest().file(
        "/etc/ssh/sshd_config",
        format!(
            "{}\nPasswordAuthentication yes\n",
            preflight_fixtures::DEBIAN_SSHD_CONFIG
        ),
    );
    let (_, r) = report(&qcow2(tree));
    assert!(
        fired(&r, "REC-SSH-PASSWORD").is_empty(),
        "{:#?}",
        r.findings
    );
}

#[test]
fn imp_size_over_400_gb_is_a_blocker() {
    let dir = scratch("imp-size");
    let big = dir.join("big.qcow2");
    std::fs::copy(qcow2(debian_guest()), &big).unwrap();
    sh(Command::new("qemu-img")
        .args(["resize", "-q"])
        .arg(&big)
        .arg("401G"));
    let (code, r) = report(&big);
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-SIZE");
    assert_eq!(f.len(), 1);
    assert!(
        evidence(f[0]).contains("430570471424 bytes"),
        "{}",
        evidence(f[0])
    );
    // The resize left the backup GPT header behind: said, and the guest still read.
    let pt = r.partition_table.as_ref().unwrap();
    assert!(!pt.diagnostics.is_empty());
    assert!(r.guest.is_some());
}

#[test]
fn imp_standalone_backing_file_and_snapshots() {
    let spec = DiskSpec::new(debian_guest());
    let (code, r) = report(&image(&spec, Container::Qcow2Backing));
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-STANDALONE");
    assert_eq!(f.len(), 1);
    assert!(
        evidence(f[0]).contains("backing file \"base.qcow2\" (format qcow2)"),
        "{}",
        evidence(f[0])
    );

    let dir = scratch("imp-standalone");
    let snap = dir.join("snap.qcow2");
    std::fs::copy(image(&spec, Container::Qcow2V3), &snap).unwrap();
    sh(Command::new("qemu-img")
        .args(["snapshot", "-c", "before-cleanup"])
        .arg(&snap));
    let (_, r) = report(&snap);
    let f = fired(&r, "IMP-STANDALONE");
    assert_eq!(f.len(), 1);
    assert!(
        evidence(f[0]).contains("1 snapshot(s): before-cleanup"),
        "{}",
        evidence(f[0])
    );
}

#[test]
fn imp_standalone_partial_overlay_says_what_is_missing() {
    let (code, r) = report(&image(
        &DiskSpec::new(debian_guest()),
        Container::Qcow2BackingPartial,
    ));
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-STANDALONE");
    assert!(
        evidence(f[0]).contains("read as zeros"),
        "{}",
        evidence(f[0])
    );
    assert!(r.image.qcow2.as_ref().unwrap().bytes_missing_from_backing > 0);
}

#[test]
fn imp_standalone_fstab_volume_outside_the_image() {
    let fstab = format!(
        "{}UUID=0b7e3f0e-1111-4222-8333-944455556666 /data ext4 defaults 0 2\n",
        preflight_fixtures::fstab(preflight_fixtures::ROOT_UUID)
    );
    let (_, r) = report(&qcow2(debian_guest().file("/etc/fstab", &fstab)));
    let f = fired(&r, "IMP-STANDALONE");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(evidence(f[0]).contains("/etc/fstab"));
    assert!(evidence(f[0]).contains("/data"));

    let optional = fstab.replace("defaults 0 2", "defaults,nofail 0 2");
    let (_, r) = report(&qcow2(debian_guest().file("/etc/fstab", &optional)));
    assert!(fired(&r, "IMP-STANDALONE").is_empty());
}

#[test]
fn imp_encrypt_luks_qcow2_is_a_blocker_and_guest_rules_say_why_they_did_not_run() {
    let dir = scratch("imp-encrypt");
    let enc = dir.join("encrypted.qcow2");
    let raw = preflight_fixtures::raw_disk(&DiskSpec::new(debian_guest()));
    sh(Command::new("qemu-img")
        .args([
            "convert",
            "-q",
            "-f",
            "raw",
            "-O",
            "qcow2",
            "--object",
            "secret,id=sec0,data=hunter2",
            "-o",
        ])
        .arg("encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10")
        .arg(&raw)
        .arg(&enc));
    let (code, r) = report(&enc);
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-ENCRYPT");
    assert_eq!(f.len(), 1);
    assert!(evidence(f[0]).contains("encryption method luks"));
    assert!(r.guest.is_none());
    assert!(r.guest_error.as_deref().unwrap().contains("encrypted"));
    for rule in ["S01", "S10", "S14", "S16", "REC-SSH-PASSWORD"] {
        let n = r
            .not_evaluated
            .iter()
            .find(|n| n.rule == rule)
            .unwrap_or_else(|| panic!("{rule} not evaluated"));
        assert!(n.reason.contains("encrypted"), "{}", n.reason);
    }
}

/// A LUKS2 volume (here the whole disk, as cryptsetup formats it): IMP-ENCRYPT names the
/// cipher, key size, key slots and label as `cryptsetup luksDump` shows them.
#[test]
fn imp_encrypt_names_a_luks_volume_as_cryptsetup_does() {
    let dir = scratch("imp-encrypt-luks2");
    let disk = dir.join("luks.img");
    let key = dir.join("key");
    std::fs::write(&key, "correct horse battery staple").unwrap();
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    sh(Command::new("cryptsetup")
        .args([
            "luksFormat",
            "--batch-mode",
            "--type",
            "luks2",
            "--label",
            "secret",
        ])
        .args([
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
        ])
        .arg(&key)
        .arg(&disk));
    let dump = Command::new("cryptsetup")
        .args(["luksDump", "--dump-json-metadata"])
        .arg(&disk)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&dump.stdout).unwrap();
    let cipher = json["segments"]["0"]["encryption"].as_str().unwrap();
    let key_bits = json["keyslots"]["0"]["key_size"].as_u64().unwrap() * 8;

    let (code, r) = report(&disk);
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-ENCRYPT");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    let seen = evidence(f[0]);
    for expected in [
        "LUKS2".to_string(),
        format!("cipher {cipher}"),
        format!("{key_bits}-bit key"),
        "1 key slot".to_string(),
        "label \"secret\"".to_string(),
    ] {
        assert!(seen.contains(&expected), "{expected} not in {seen}");
    }
    assert!(r.guest.is_none());
}

#[test]
fn an_old_kernel_or_missing_virtio_means_emulated() {
    // A RHEL 6 era kernel (before virtio_scsi) with ata_piix built in, as RHEL 6 builds it,
    // booted by grub.cfg.
    let old = "2.6.32-754.el6.x86_64";
    let k = "6.1.0-18-amd64";
    let tree = debian_guest()
        .remove(&format!("/boot/vmlinuz-{k}"))
        .remove(&format!("/usr/lib/modules/{k}"))
        .remove(&format!("/boot/config-{k}"))
        .remove(&format!("/boot/initrd.img-{k}"))
        .file(&format!("/boot/vmlinuz-{old}"), "kernel")
        .file(
            &format!("/usr/lib/modules/{old}/modules.dep"),
            "kernel/drivers/virtio/virtio_pci.ko:\nkernel/drivers/net/virtio_net.ko:\nkernel/drivers/net/e1000/e1000.ko:\n",
        )
        .file(
            &format!("/usr/lib/modules/{old}/modules.builtin"),
            "kernel/drivers/ata/ata_piix.ko\n",
        )
        .file(
            "/boot/grub/grub.cfg",
            grub_cfg_with(&format!("vmlinuz-{k}"), &format!("vmlinuz-{old}"))
                .replace(&format!("\tinitrd\t/boot/initrd.img-{k}\n"), ""),
        );
    let (_, r) = report(&bootable(tree, Container::Qcow2V3));
    let rec = &r.recommendation;
    assert_eq!(
        rec.launch_mode.as_deref(),
        Some("EMULATED"),
        "{:?}",
        rec.reasons
    );
    assert!(
        rec.reasons.iter().any(|s| s.contains("older than 3.4")),
        "{:?}",
        rec.reasons
    );
    assert_eq!(rec.network_attachment.as_deref(), Some("E1000"));
    assert_eq!(rec.boot_volume_type.as_deref(), Some("IDE"));
    let f = fired(&r, "REC-MODE");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].level, Level::Warning);
    // EMULATED runs on Intel VM shapes only.
    let fits: Vec<&str> = rec
        .shapes
        .iter()
        .filter(|s| s.fits)
        .map(|s| s.processor.as_str())
        .collect();
    assert!(
        !fits.is_empty() && fits.iter().all(|p| *p == "Intel"),
        "{fits:?}"
    );

    // A current kernel whose virtio_scsi module was removed: no mode reaches the disk.
    let tree = debian_guest()
        .file(
            &format!("/usr/lib/modules/{k}/modules.dep"),
            "kernel/drivers/net/virtio_net.ko:\n",
        )
        .file(
            &format!("/usr/lib/modules/{k}/modules.builtin"),
            "kernel/drivers/virtio/virtio_pci.ko\n",
        )
        .remove(&format!(
            "/usr/lib/modules/{k}/kernel/drivers/scsi/virtio_scsi.ko"
        ))
        .file(
            &format!("/boot/initrd.img-{k}"),
            initrd_with(k, &["kernel/drivers/net/virtio_net.ko"]),
        );
    let (_, r) = report(&bootable(tree, Container::Qcow2V3));
    let rec = &r.recommendation;
    assert_eq!(rec.launch_mode, None, "{:?}", rec.reasons);
    assert!(rec.artifacts.is_none());
    let f = fired(&r, "IMP-INITRAMFS");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].title.contains("no virtio_scsi"), "{}", f[0].title);
    let pv = rec
        .modes
        .iter()
        .find(|m| m.mode == "PARAVIRTUALIZED")
        .unwrap();
    assert!(!pv.possible);
    assert!(pv.why.contains("virtio_scsi"), "{}", pv.why);
    let scsi = rec
        .drivers
        .iter()
        .find(|d| d.name == "virtio_scsi")
        .unwrap();
    assert_eq!(scsi.status, "absent");
}

/// An uncompressed initramfs holding an init script and these modules of kernel `k`.
fn initrd_with(k: &str, modules: &[&str]) -> Vec<u8> {
    let init = b"#!/bin/sh\nexec run-init ${rootmnt} ${init}\n".to_vec();
    let paths: Vec<String> = modules
        .iter()
        .map(|m| format!("usr/lib/modules/{k}/{m}"))
        .collect();
    let ko = b"\x7fELF module".to_vec();
    let mut members: Vec<(&str, &[u8], u32)> = vec![("init", &init, 0o755)];
    members.extend(paths.iter().map(|p| (p.as_str(), ko.as_slice(), 0o644)));
    cpio_newc(members)
}

#[test]
fn imp_initramfs_fires_when_the_virtio_modules_are_installed_but_not_in_the_initramfs() {
    // A host-only initramfs built on another hypervisor: only the NIC driver went in.
    let k = preflight_fixtures::DEBIAN_KERNEL;
    let tree = debian_guest().file(
        &format!("/boot/initrd.img-{k}"),
        initrd_with(k, &["kernel/drivers/net/virtio_net.ko"]),
    );
    let (code, r) = report(&bootable(tree, Container::Qcow2V3));
    assert_eq!(code, 1);
    assert_eq!(blockers(&r), vec!["IMP-INITRAMFS"], "{:#?}", r.findings);
    let f = fired(&r, "IMP-INITRAMFS");
    assert!(
        f[0].title.contains("virtio_scsi, virtio_blk"),
        "{}",
        f[0].title
    );
    let seen = evidence(f[0]);
    assert!(seen.contains(&format!("/boot/initrd.img-{k}")), "{seen}");
    assert!(
        seen.contains(&format!(
            "/lib/modules/{k}/kernel/drivers/scsi/virtio_scsi.ko"
        )),
        "{seen}"
    );
    // Debian builds its initramfs with initramfs-tools.
    assert!(
        f[0].remedy
            .contains("update-initramfs -u -k 6.1.0-18-amd64"),
        "{}",
        f[0].remedy
    );
    // Still the mode to aim for, once the initramfs is rebuilt.
    let rec = &r.recommendation;
    assert_eq!(rec.launch_mode.as_deref(), Some("PARAVIRTUALIZED"));
    let scsi = rec
        .drivers
        .iter()
        .find(|d| d.name == "virtio_scsi")
        .unwrap();
    assert_eq!(scsi.status, "installed");
    let net = rec.drivers.iter().find(|d| d.name == "virtio_net").unwrap();
    assert_eq!(net.status, "initramfs");
    let step = rec.chain.iter().find(|s| s.step == "initramfs").unwrap();
    assert_eq!(step.summary, "1 kernel modules");

    // The same modules in the initramfs: nothing fires.
    let (_, r) = report(&bootable(debian_guest(), Container::Qcow2V3));
    assert!(fired(&r, "IMP-INITRAMFS").is_empty(), "{:#?}", r.findings);
    assert!(!r.not_evaluated.iter().any(|n| n.rule == "IMP-INITRAMFS"));
}

#[test]
fn native_is_offered_only_with_signs_of_an_oci_platform_image_and_iscsi_boot() {
    let k = preflight_fixtures::DEBIAN_KERNEL;
    let dep_path = format!("/usr/lib/modules/{k}/modules.dep");
    let base = debian_guest();
    let dep = String::from_utf8(base.contents(&dep_path).unwrap().to_vec()).unwrap()
        + "kernel/drivers/scsi/iscsi_tcp.ko:\n\
           kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko:\n";
    let init = b"#!/bin/sh\n".to_vec();
    let elf = b"\x7fELF".to_vec();
    let modules: Vec<String> = [
        "kernel/drivers/virtio/virtio_pci.ko",
        "kernel/drivers/scsi/virtio_scsi.ko",
        "kernel/drivers/block/virtio_blk.ko",
        "kernel/drivers/net/virtio_net.ko",
        "kernel/drivers/scsi/iscsi_tcp.ko",
    ]
    .iter()
    .map(|m| format!("usr/lib/modules/{k}/{m}"))
    .collect();
    let mut members: Vec<(&str, &[u8], u32)> =
        vec![("init", &init, 0o755), ("usr/sbin/iscsistart", &elf, 0o755)];
    members.extend(modules.iter().map(|m| (m.as_str(), elf.as_slice(), 0o644)));
    let platform = |tree: GuestTree| {
        tree.file(&dep_path, &dep)
            .file(&format!("/boot/initrd.img-{k}"), cpio_newc(members.clone()))
    };

    // Drivers and initiator, but nothing says OCI platform image: not offered.
    let (_, r) = report(&bootable(platform(debian_guest()), Container::Qcow2V3));
    let native = |r: &Report| {
        r.recommendation
            .modes
            .iter()
            .find(|m| m.mode == "NATIVE")
            .cloned()
            .unwrap()
    };
    let n = native(&r);
    assert!(
        !n.possible && n.why.contains("no sign of an OCI platform image"),
        "{n:?}"
    );
    assert_eq!(
        r.recommendation
            .drivers
            .iter()
            .find(|d| d.name == "iscsi_tcp")
            .map(|d| d.status.as_str()),
        Some("initramfs")
    );

    // With Oracle's cloud-init datasource and hostname configuration: offered, with the
    // evidence, and still not the recommendation.
    let tree = platform(debian_guest())
        .file("/etc/oci-hostname.conf", "PRESERVE_HOSTINFO=0\n")
        .file(
            "/etc/cloud/cloud.cfg.d/99_oracle.cfg",
            "datasource_list: [ Oracle ]\n",
        );
    let (_, r) = report(&bootable(tree.clone(), Container::Qcow2V3));
    let n = native(&r);
    assert!(n.possible, "{n:?}");
    assert!(
        n.why.contains("/etc/oci-hostname.conf") && n.why.contains("iscsistart"),
        "{n:?}"
    );
    assert_eq!(
        r.recommendation.launch_mode.as_deref(),
        Some("PARAVIRTUALIZED")
    );
    assert!(fired(&r, "REC-MODE").is_empty());
    // An iSCSI-booting image needs iscsid.conf's long replacement timeout (REC-ISCSI).
    let f = fired(&r, "REC-ISCSI");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].title.contains("iscsid.conf"), "{}", f[0].title);
    let (_, r) = report(&bootable(
        tree.clone().file(
            "/etc/iscsi/iscsid.conf",
            "node.startup = automatic\nnode.session.timeo.replacement_timeout = 120\n",
        ),
        Container::Qcow2V3,
    ));
    let f = fired(&r, "REC-ISCSI");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].evidence[0].line, Some(2));
    let (_, r) = report(&bootable(
        tree.file(
            "/etc/iscsi/iscsid.conf",
            "node.startup = automatic\nnode.session.timeo.replacement_timeout = 6000\n",
        ),
        Container::Qcow2V3,
    ));
    assert!(fired(&r, "REC-ISCSI").is_empty(), "{:#?}", r.findings);
}

#[test]
fn root_is_found_in_a_logical_partition_and_on_a_bare_disk() {
    for partitioning in [
        Partitioning::MbrLogical,
        Partitioning::None,
        Partitioning::Mbr,
    ] {
        let mut spec = DiskSpec::new(debian_guest());
        spec.partitioning = partitioning;
        let (_, r) = report(&image(&spec, Container::Qcow2V2));
        // These disks carry no boot code: only IMP-BOOT may block.
        assert_eq!(
            blockers(&r),
            vec!["IMP-BOOT"],
            "{partitioning:?}: {:#?}",
            r.findings
        );
        let root = r
            .volumes
            .iter()
            .find(|v| v.mounted_at.as_deref() == Some("/"))
            .expect("root mounted");
        assert_eq!(root.content.as_deref(), Some("ext4"));
        assert_eq!(root.uuid.as_deref(), Some(preflight_fixtures::ROOT_UUID));
    }
}

/// The Debian guest's grub.cfg with one edit.
fn grub_cfg_with(from: &str, to: &str) -> String {
    let cfg = preflight_fixtures::grub_cfg(preflight_fixtures::ROOT_UUID);
    assert!(cfg.contains(from), "{from} not in the fixture's grub.cfg");
    cfg.replace(from, to)
}

#[test]
fn imp_rootref_fires_on_device_names_in_grub_cfg_and_fstab() {
    let root = format!("root=UUID={}", preflight_fixtures::ROOT_UUID);
    let (code, r) = report(&qcow2(debian_guest().file(
        "/boot/grub/grub.cfg",
        grub_cfg_with(&root, "root=/dev/sda1"),
    )));
    assert_eq!(code, 1);
    let f = fired(&r, "IMP-ROOTREF");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].level, Level::Blocker);
    assert!(
        evidence(f[0]).contains("root=/dev/sda1"),
        "{}",
        evidence(f[0])
    );
    assert!(
        evidence(f[0]).contains("/boot/grub/grub.cfg:"),
        "{}",
        evidence(f[0])
    );
    assert!(f[0].remedy.contains("grub-mkconfig"));

    // A root UUID of another disk: the kernel would not find it.
    let (_, r) = report(&qcow2(debian_guest().file(
        "/boot/grub/grub.cfg",
        grub_cfg_with(&root, "root=UUID=00000000-1111-2222-3333-444444444444"),
    )));
    let f = fired(&r, "IMP-ROOTREF");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].title.contains("on no volume"), "{}", f[0].title);

    // fstab by device name; an optional mount only warns.
    let fstab = format!(
        "{}/dev/vdb1 /data ext4 defaults,nofail 0 2\n",
        preflight_fixtures::fstab(preflight_fixtures::ROOT_UUID).replace(
            &format!("UUID={}", preflight_fixtures::ROOT_UUID),
            "/dev/sda1"
        )
    );
    let (_, r) = report(&qcow2(debian_guest().file("/etc/fstab", &fstab)));
    let f = fired(&r, "IMP-ROOTREF");
    let levels: Vec<(Level, u32)> = f
        .iter()
        .map(|f| (f.level, f.evidence[0].line.unwrap_or(0)))
        .collect();
    assert_eq!(levels.len(), 2, "{:#?}", r.findings);
    assert!(levels.contains(&(Level::Blocker, 4)), "{levels:?}");
    assert!(
        levels.iter().any(|(l, _)| *l == Level::Warning),
        "{levels:?}"
    );
}

#[test]
fn rec_serial_warns_without_a_ttys0_console() {
    let (_, r) = report(&qcow2(debian_guest().file(
        "/boot/grub/grub.cfg",
        grub_cfg_with(" console=ttyS0,115200 earlyprintk=ttyS0,115200", ""),
    )));
    let f = fired(&r, "REC-SERIAL");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].level, Level::Warning);
    assert!(
        evidence(f[0]).contains("console=tty0"),
        "{}",
        evidence(f[0])
    );
    assert!(f[0].remedy.contains("console=ttyS0,115200"));
    // The guest's boot entry is in the report.
    let boot = r.guest.as_ref().unwrap().boot.as_ref().unwrap();
    assert_eq!(boot.title, "Debian GNU/Linux");
    assert!(boot.kernel.as_deref().unwrap().contains("vmlinuz-"));
}
