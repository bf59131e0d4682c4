//! LVM2 volume groups made by the real tools (pvcreate, vgcreate, lvcreate, vgcfgrestore) on
//! loop devices without device-mapper (`activation=0`: LVM writes only its metadata), read by
//! `preflight_volume::lvm` and compared with what `pvs`, `vgs` and `lvs --reportformat json`
//! print. Known data is written into each LV's extents at the offsets the LVM reports give
//! (`pe_start`, `seg_pe_ranges`, `stripe_size`), and our LV sources must read exactly it.
//!
//! Fixtures are built once under `fixtures_dir()/lvm-<case>-v<N>` (temporary directory, then
//! rename). Every LVM command runs with `--devices <the loop devices>`, no backups, archives,
//! hints or devices file, so the host's disks and /etc/lvm are never touched; loop devices are
//! detached when the build ends, even on panic.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use preflight_io::{ByteSource, Slice, Source};
use preflight_volume::lvm::{self, LvmScan, dm_name, label, mapper_path};
use preflight_volume::{ProbeKind, Scheme, probe, read_partitions};
use serde_json::Value;

const MIB: u64 = 1 << 20;
/// Bump when a builder below changes what it makes.
const FIXTURE_VERSION: u32 = 1;
const LVM_CONFIG: &str = "global {activation=0} devices {scan_lvs=0 hints=\"none\" \
     use_devicesfile=0 obtain_device_list_from_udev=0} backup {backup=0 archive=0}";

// ---------------------------------------------------------------------------------------------
// Fixture building.

/// A PV as the fixture records it: which disk file, and where in it.
#[derive(Debug, Clone, Copy)]
struct Member {
    disk: usize,
    offset: u64,
    size: u64,
}

/// Loop devices attached for a build; detached on drop.
struct Loops {
    devs: Vec<String>,
}

impl Loops {
    fn attach(&mut self, file: &Path, m: Member) -> String {
        let out = sh(
            "losetup",
            "mount",
            &[
                "-f",
                "--show",
                "-o",
                &m.offset.to_string(),
                "--sizelimit",
                &m.size.to_string(),
                s(file),
            ],
        );
        let dev = out.trim().to_string();
        self.devs.push(dev.clone());
        dev
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for d in &self.devs {
            let _ = Command::new(tool("losetup", "mount"))
                .args(["-d", d])
                .output();
        }
    }
}

/// Run an LVM command restricted to `devs`; returns stdout.
fn lvm_cmd(cmd: &str, devs: &[String], args: &[&str]) -> String {
    let mut c = Command::new(tool("lvm", "lvm2"));
    c.env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .arg(cmd)
        .args(["--config", LVM_CONFIG, "--devices", &devs.join(",")])
        .args(args);
    run(&mut c)
}

/// What a case builder sets up: disk files, PV members, and the loop device of each member.
struct Build<'a> {
    dir: &'a Path,
    disks: Vec<PathBuf>,
    members: Vec<Member>,
    devs: Vec<String>,
    loops: Loops,
}

impl Build<'_> {
    fn disk(&mut self, size: u64) -> usize {
        let path = self.dir.join(format!("disk{}.raw", self.disks.len()));
        sparse(&path, size);
        self.disks.push(path);
        self.disks.len() - 1
    }

    /// GPT partitions of `sizes` MiB from 1 MiB on, type Linux LVM.
    fn gpt(&mut self, disk: usize, sizes_mib: &[u64]) -> Vec<Member> {
        let mut args = vec!["-o".to_string()];
        let mut start = MIB;
        let mut out = Vec::new();
        for (i, mib) in sizes_mib.iter().enumerate() {
            let n = i + 1;
            args.push(format!("-n{n}:{}:+{mib}M", start / 512));
            args.push(format!("-t{n}:8e00"));
            out.push(Member {
                disk,
                offset: start,
                size: mib * MIB,
            });
            start += mib * MIB;
        }
        args.push(s(&self.disks[disk]).to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sh("sgdisk", "gdisk", &args);
        out
    }

    /// Attach a member as a loop device; returns its index in `members`/`devs`.
    fn member(&mut self, m: Member) -> usize {
        let dev = self.loops.attach(&self.disks[m.disk].clone(), m);
        self.members.push(m);
        self.devs.push(dev);
        self.members.len() - 1
    }

    fn lvm(&self, cmd: &str, args: &[&str]) -> String {
        lvm_cmd(cmd, &self.devs, args)
    }

    fn dev(&self, i: usize) -> &str {
        &self.devs[i]
    }

    /// Save the reports (device names replaced by `m<index>`) and the members, then write the
    /// pattern into every linear/striped LV.
    fn finish(self) {
        let units = ["--units", "b", "--nosuffix", "--reportformat", "json"];
        let mut reports = BTreeMap::new();
        for (name, cmd, fields, extra) in [
            (
                "pvs",
                "pvs",
                "pv_name,pv_uuid,vg_name,pe_start,dev_size,pv_pe_count,pv_mda_count",
                &[][..],
            ),
            (
                "vgs",
                "vgs",
                "vg_name,vg_uuid,vg_extent_size,vg_seqno,pv_count,lv_count",
                &[][..],
            ),
            (
                "lvs",
                "lvs",
                "lv_name,vg_name,lv_uuid,lv_size,segtype,seg_start_pe,seg_size_pe,seg_pe_ranges,\
                 stripes,stripe_size",
                &["-a", "--segments"][..],
            ),
        ] {
            let mut args: Vec<&str> = units.to_vec();
            args.extend_from_slice(extra);
            args.extend(["-o", fields]);
            let mut out = self.lvm(cmd, &args);
            // Longest names first: /dev/loop10 before /dev/loop1.
            let mut order: Vec<usize> = (0..self.devs.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(self.devs[i].len()));
            for i in order {
                out = out.replace(&self.devs[i], &format!("m{i}"));
            }
            reports.insert(name, out);
        }
        for (name, text) in &reports {
            std::fs::write(self.dir.join(format!("{name}.json")), text).unwrap();
        }
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| serde_json::json!([m.disk, m.offset, m.size]))
            .collect();
        std::fs::write(
            self.dir.join("members.json"),
            serde_json::to_string(&members).unwrap(),
        )
        .unwrap();
        let fx = Fixture {
            dir: self.dir.to_path_buf(),
            disks: self.disks.clone(),
            members: self.members.clone(),
            pvs: rows(&reports["pvs"], "pv"),
            vgs: rows(&reports["vgs"], "vg"),
            lvs: rows(&reports["lvs"], "seg"),
        };
        drop(self.loops);
        fx.write_patterns();
    }
}

/// The rows of one `--reportformat json` report.
fn rows(json: &str, kind: &str) -> Vec<BTreeMap<String, String>> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["report"][0][kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().trim().to_string()))
                .collect()
        })
        .collect()
}

/// Serialise fixture builds in this process (LVM holds global locks anyway).
static BUILDING: Mutex<()> = Mutex::new(());

fn fixture(case: &str, build: impl FnOnce(&mut Build)) -> Fixture {
    let root = preflight_fixtures::fixtures_dir();
    let dir = root.join(format!("lvm-{case}-v{FIXTURE_VERSION}"));
    if !dir.is_dir() {
        let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        if !dir.is_dir() {
            std::fs::create_dir_all(root).unwrap();
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let tmp = root.join(format!(".tmp-lvm-{case}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&tmp).unwrap();
            let mut b = Build {
                dir: &tmp,
                disks: Vec::new(),
                members: Vec::new(),
                devs: Vec::new(),
                loops: Loops { devs: Vec::new() },
            };
            build(&mut b);
            b.finish();
            if std::fs::rename(&tmp, &dir).is_err() {
                // Built by another process meanwhile.
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
    }
    Fixture::load(&dir)
}

// ---------------------------------------------------------------------------------------------
// A built fixture and its expectations.

struct Fixture {
    dir: PathBuf,
    disks: Vec<PathBuf>,
    members: Vec<Member>,
    pvs: Vec<BTreeMap<String, String>>,
    vgs: Vec<BTreeMap<String, String>>,
    lvs: Vec<BTreeMap<String, String>>,
}

fn num(row: &BTreeMap<String, String>, key: &str) -> u64 {
    row[key]
        .parse()
        .unwrap_or_else(|e| panic!("{key}={:?}: {e}", row[key]))
}

impl Fixture {
    fn load(dir: &Path) -> Fixture {
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        let members: Vec<Vec<u64>> = serde_json::from_str(&read("members.json")).unwrap();
        let members: Vec<Member> = members
            .iter()
            .map(|m| Member {
                disk: m[0] as usize,
                offset: m[1],
                size: m[2],
            })
            .collect();
        let ndisks = members.iter().map(|m| m.disk + 1).max().unwrap_or(0);
        Fixture {
            dir: dir.to_path_buf(),
            disks: (0..ndisks)
                .map(|i| dir.join(format!("disk{i}.raw")))
                .collect(),
            members,
            pvs: rows(&read("pvs.json"), "pv"),
            vgs: rows(&read("vgs.json"), "vg"),
            lvs: rows(&read("lvs.json"), "seg"),
        }
    }

    fn extent_size(&self, vg: &str) -> u64 {
        num(
            self.vgs.iter().find(|r| r["vg_name"] == vg).unwrap(),
            "vg_extent_size",
        )
    }

    fn pv_row(&self, member: usize) -> &BTreeMap<String, String> {
        let name = format!("m{member}");
        self.pvs.iter().find(|r| r["pv_name"] == name).unwrap()
    }

    /// Byte offset in its disk file of physical extent `pe` of member `m`.
    fn pe_offset(&self, m: usize, pe: u64, extent: u64) -> u64 {
        self.members[m].offset + num(self.pv_row(m), "pe_start") + pe * extent
    }

    /// Where LV byte `offset` lives, from the `lvs` segment rows: (member, byte offset in the
    /// disk file, bytes until the mapping changes).
    fn locate(&self, vg: &str, lv: &str, offset: u64) -> (usize, u64, u64) {
        let extent = self.extent_size(vg);
        for seg in self.segs(vg, lv) {
            let start = num(seg, "seg_start_pe") * extent;
            let len = num(seg, "seg_size_pe") * extent;
            if offset < start || offset >= start + len {
                continue;
            }
            let ranges: Vec<(usize, u64)> = seg["seg_pe_ranges"]
                .split_whitespace()
                .map(|r| {
                    let (dev, range) = r.split_once(':').unwrap();
                    let first = range.split_once('-').unwrap().0.parse().unwrap();
                    (dev[1..].parse().unwrap(), first)
                })
                .collect();
            let within = offset - start;
            let n = ranges.len() as u64;
            assert_eq!(num(seg, "stripes"), n);
            if n == 1 {
                let (m, pe) = ranges[0];
                return (m, self.pe_offset(m, pe, extent) + within, len - within);
            }
            let chunk_size = num(seg, "stripe_size");
            let chunk = within / chunk_size;
            let (m, pe) = ranges[(chunk % n) as usize];
            let on_pv = (chunk / n) * chunk_size + within % chunk_size;
            return (
                m,
                self.pe_offset(m, pe, extent) + on_pv,
                chunk_size - within % chunk_size,
            );
        }
        panic!("{vg}/{lv}: offset {offset} is in no segment")
    }

    fn segs(&self, vg: &str, lv: &str) -> Vec<&BTreeMap<String, String>> {
        self.lvs
            .iter()
            .filter(|r| r["vg_name"] == vg && r["lv_name"] == lv)
            .collect()
    }

    /// The visible linear/striped LVs: (vg, lv, size).
    fn data_lvs(&self) -> Vec<(String, String, u64)> {
        let mut out: Vec<(String, String, u64)> = Vec::new();
        for r in &self.lvs {
            let plain = matches!(r["segtype"].as_str(), "linear" | "striped");
            let key = (r["vg_name"].clone(), r["lv_name"].clone());
            if r["lv_name"].starts_with('[') {
                continue;
            }
            if !plain {
                out.retain(|(v, l, _)| (v, l) != (&key.0, &key.1));
                continue;
            }
            if !out.iter().any(|(v, l, _)| (v, l) == (&key.0, &key.1)) {
                out.push((key.0, key.1, num(r, "lv_size")));
            }
        }
        out
    }

    fn write_patterns(&self) {
        for (vg, lv, size) in self.data_lvs() {
            let mut offset = 0;
            while offset < size {
                let (m, at, run) = self.locate(&vg, &lv, offset);
                let n = run.min(size - offset).min(MIB);
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.disks[self.members[m].disk])
                    .unwrap();
                f.write_all_at(&pattern(&vg, &lv, offset, n), at).unwrap();
                offset += n;
            }
        }
    }

    /// The source of member `m` (a window of its disk file).
    fn member_source(&self, m: usize) -> Source {
        let mm = self.members[m];
        Arc::new(Slice::new(open(&self.disks[mm.disk]), mm.offset, mm.size))
    }

    /// PVs found by reading each disk's partition table and probing, as the lead will:
    /// (member index of the fixture, source).
    fn probed_pvs(&self, disks: &[usize]) -> Vec<(usize, Source)> {
        let mut out = Vec::new();
        for &d in disks {
            let disk = open(&self.disks[d]);
            let table = read_partitions(&disk).unwrap();
            let vols: Vec<(u64, Source)> = if table.scheme == Scheme::None {
                vec![(0, Arc::clone(&disk))]
            } else {
                table
                    .partitions
                    .iter()
                    .map(|p| (p.start, p.source(&disk)))
                    .collect()
            };
            for (start, src) in vols {
                if probe(&*src).unwrap().kind != ProbeKind::Lvm2Member {
                    continue;
                }
                let m = self
                    .members
                    .iter()
                    .position(|mm| mm.disk == d && mm.offset == start)
                    .expect("a probed PV the fixture did not make");
                out.push((m, src));
            }
        }
        out
    }
}

/// The bytes written at LV offsets `offset..offset+len`: each 512-byte block names its LV and
/// block number.
fn pattern(vg: &str, lv: &str, offset: u64, len: u64) -> Vec<u8> {
    assert_eq!(offset % 512, 0);
    let mut out = Vec::with_capacity(len as usize);
    let mut block = offset / 512;
    while (out.len() as u64) < len {
        let line = format!("{vg}/{lv} block {block:>8}\n");
        let mut b: Vec<u8> = line.bytes().cycle().take(512).collect();
        b[511] = b'\n';
        out.extend_from_slice(&b);
        block += 1;
    }
    out.truncate(len as usize);
    out
}

/// Compare our scan with the tools' reports: every VG, PV and LV (names, UUIDs, sizes, segment
/// ranges), and read every linear/striped LV in full against the pattern.
fn check_against_reports(fx: &Fixture, scan: &LvmScan, complete: bool) {
    let context = format!("{scan:#?}\nfixture {}", fx.dir.display());
    for row in &fx.vgs {
        let vg = scan
            .vg(&row["vg_name"])
            .unwrap_or_else(|| panic!("VG {} not found\n{context}", row["vg_name"]));
        assert_eq!(vg.uuid, row["vg_uuid"], "{context}");
        assert_eq!(vg.extent_size, num(row, "vg_extent_size"), "{context}");
        assert_eq!(vg.seqno, num(row, "vg_seqno"), "{context}");
        assert_eq!(vg.pvs.len() as u64, num(row, "pv_count"), "{context}");
        let visible = vg.lvs.iter().filter(|l| l.visible).count() as u64;
        assert_eq!(visible, num(row, "lv_count"), "{context}");
        if complete {
            assert_eq!(vg.missing_pvs().count(), 0, "{context}");
            assert!(vg.diagnostics.is_empty(), "{context}");
        }
    }
    for row in &fx.pvs {
        let Some(vg) = scan.vg(&row["vg_name"]) else {
            continue;
        };
        let pv = vg
            .pvs
            .iter()
            .find(|p| p.uuid == row["pv_uuid"])
            .unwrap_or_else(|| panic!("PV {} not in VG\n{context}", row["pv_uuid"]));
        assert_eq!(pv.pe_start, num(row, "pe_start"), "{context}");
        assert_eq!(pv.pe_count, num(row, "pv_pe_count"), "{context}");
        assert_eq!(pv.dev_size, num(row, "dev_size"), "{context}");
        let m: usize = row["pv_name"][1..].parse().unwrap();
        if let Some(member) = pv.member {
            assert_eq!(member, m, "{context}");
        }
    }
    // LVs: every segment row.
    for row in &fx.lvs {
        let Some(vg) = scan.vg(&row["vg_name"]) else {
            continue;
        };
        let name = row["lv_name"].trim_start_matches('[').trim_end_matches(']');
        let lv = vg
            .lv(name)
            .unwrap_or_else(|| panic!("LV {name} not found\n{context}"));
        assert_eq!(lv.uuid, row["lv_uuid"], "{context}");
        assert_eq!(lv.size, num(row, "lv_size"), "{name}\n{context}");
        let seg = lv
            .segments
            .iter()
            .find(|s| s.start_extent == num(row, "seg_start_pe"))
            .unwrap_or_else(|| panic!("{name}: segment not found\n{context}"));
        assert_eq!(seg.extent_count, num(row, "seg_size_pe"), "{context}");
        assert_eq!(seg.segtype, row["segtype"], "{context}");
        if matches!(seg.segtype.as_str(), "linear" | "striped") {
            assert_eq!(seg.stripes.len() as u64, num(row, "stripes"), "{context}");
            assert_eq!(seg.stripe_size.unwrap_or(0), num(row, "stripe_size"));
            // "m0:0-3 m1:0-3": PV (by member → UUID) and extent range of each stripe.
            let ours: Vec<String> = seg
                .stripes
                .iter()
                .map(|st| {
                    let uuid = st.pv_uuid.as_deref().unwrap();
                    let m = fx
                        .pvs
                        .iter()
                        .find(|r| r["pv_uuid"] == uuid)
                        .map(|r| r["pv_name"].clone())
                        .unwrap();
                    format!(
                        "{m}:{}-{}",
                        st.start_extent,
                        st.start_extent + st.extent_count - 1
                    )
                })
                .collect();
            assert_eq!(ours.join(" "), row["seg_pe_ranges"], "{name}\n{context}");
        }
    }
    if complete {
        for (vgname, lvname, size) in fx.data_lvs() {
            let vg = scan.vg(&vgname).unwrap();
            let lv = vg.lv(&lvname).unwrap();
            assert_eq!(lv.unreadable, None, "{context}");
            let src = lv.source().unwrap();
            assert_eq!(src.len(), size);
            check_lv_bytes(&vgname, &lvname, &*src);
        }
    }
}

/// Read an LV in odd-sized pieces (crossing chunk, extent and segment boundaries) and compare
/// with the pattern.
fn check_lv_bytes(vg: &str, lv: &str, src: &dyn ByteSource) {
    let size = src.len();
    let expected = pattern(vg, lv, 0, size);
    let mut got = vec![0u8; size as usize];
    let mut at = 0usize;
    let mut step = 1usize;
    while at < got.len() {
        let n = (step * 7919 % 300_000 + 1).min(got.len() - at);
        src.read_at(at as u64, &mut got[at..at + n]).unwrap();
        at += n;
        step += 1;
    }
    assert!(
        got == expected,
        "{vg}/{lv}: the bytes read differ from the pattern"
    );
    // One read of everything.
    let mut all = vec![0u8; size as usize];
    src.read_at(0, &mut all).unwrap();
    assert!(all == expected, "{vg}/{lv}: whole read differs");
    // Past the end is an error, not a short read.
    let mut one = [0u8; 1];
    assert!(src.read_at(size, &mut one).is_err());
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// Oracle Linux 8/9: ESP, /boot, and a PV holding VG `ocivolume` with LVs `oled` and `root`;
/// root extended once so that it has two segments.
fn oracle_linux() -> Fixture {
    fixture("oracle-linux", |b| {
        let d = b.disk(160 * MIB);
        let parts = b.gpt(d, &[16, 32, 100]);
        sh("sgdisk", "gdisk", &["-t1:ef00", "-t2:8300", s(&b.disks[d])]);
        let pv = b.member(parts[2]);
        let dev = b.dev(pv).to_string();
        b.lvm("pvcreate", &["-q", &dev]);
        b.lvm("vgcreate", &["-q", "ocivolume", &dev]);
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "root", "-L", "32m", "ocivolume"],
        );
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "oled", "-L", "16m", "ocivolume"],
        );
        b.lvm("lvextend", &["-q", "-L", "+16m", "ocivolume/root"]);
    })
}

#[test]
fn oracle_linux_layout() {
    let fx = oracle_linux();
    let pvs = fx.probed_pvs(&[0]);
    assert_eq!(pvs.len(), 1);
    let scan = lvm::scan(&pvs);
    check_against_reports(&fx, &scan, true);
    assert!(scan.diagnostics.is_empty(), "{:?}", scan.diagnostics);
    let vg = scan.vg("ocivolume").unwrap();
    let root = vg.lv("root").unwrap();
    assert_eq!(root.segments.len(), 2);
    assert_eq!(root.size, 48 * MIB);
    assert_eq!(root.segtype, "linear");
    let (v, l) = scan.resolve("/dev/mapper/ocivolume-root").unwrap();
    assert_eq!((v.name.as_str(), l.name.as_str()), ("ocivolume", "root"));
    assert_eq!(scan.resolve("/dev/ocivolume/oled").unwrap().1.name, "oled");
    assert_eq!(scan.resolve("ocivolume/root").unwrap().1.name, "root");
    assert!(scan.resolve("/dev/mapper/ocivolume-nope").is_none());
    assert_eq!(scan.pvs.len(), 1);
    assert_eq!(scan.pvs[0].vg.as_deref(), Some("ocivolume"));
}

/// Two PVs on one disk (both with a metadata area at the start and one at the end), VG
/// `my-vg` with a striped LV and a linear LV whose name has a hyphen.
fn striped() -> Fixture {
    fixture("striped", |b| {
        let d = b.disk(100 * MIB);
        let parts = b.gpt(d, &[40, 40]);
        let p0 = b.member(parts[0]);
        let p1 = b.member(parts[1]);
        let (d0, d1) = (b.dev(p0).to_string(), b.dev(p1).to_string());
        b.lvm("pvcreate", &["-q", "--pvmetadatacopies", "2", &d0, &d1]);
        b.lvm("vgcreate", &["-q", "-s", "1m", "my-vg", &d0, &d1]);
        b.lvm(
            "lvcreate",
            &[
                "-q", "-Zn", "-Wn", "-n", "lin-ear", "-L", "3m", "my-vg", &d1,
            ],
        );
        b.lvm(
            "lvcreate",
            &[
                "-q", "-Zn", "-Wn", "-n", "st", "-i", "2", "-I", "64k", "-L", "16m", "my-vg",
            ],
        );
        b.lvm(
            "lvcreate",
            &[
                "-q", "-Zn", "-Wn", "-n", "wide", "-i", "2", "-I", "4k", "-L", "2m", "my-vg",
            ],
        );
    })
}

#[test]
fn striped_over_two_pvs_on_one_disk() {
    let fx = striped();
    let pvs = fx.probed_pvs(&[0]);
    assert_eq!(pvs.len(), 2);
    let scan = lvm::scan(&pvs);
    check_against_reports(&fx, &scan, true);
    assert!(scan.diagnostics.is_empty(), "{:?}", scan.diagnostics);
    let vg = scan.vg("my-vg").unwrap();
    let st = vg.lv("st").unwrap();
    assert_eq!(st.segtype, "striped");
    assert_eq!(st.segments[0].stripe_size, Some(65536));
    assert_eq!(dm_name("my-vg", "lin-ear"), "my--vg-lin--ear");
    assert_eq!(mapper_path("my-vg", "st"), "/dev/mapper/my--vg-st");
    assert_eq!(
        scan.resolve("/dev/mapper/my--vg-lin--ear").unwrap().1.name,
        "lin-ear"
    );
    assert_eq!(
        scan.resolve("/dev/my-vg/lin-ear").unwrap().1.name,
        "lin-ear"
    );
    // Both PVs carry two metadata areas (start and end of the device).
    for p in &scan.pvs {
        assert_eq!(p.metadata_areas, 2);
    }
}

#[test]
fn the_metadata_area_at_the_end_is_enough() {
    // Wipe the first metadata area's header on both PVs: the copy at the end still works.
    let fx = striped();
    let dir = TempDir::new("lvm-first-mda");
    let copy = dir.path("disk0.raw");
    std::fs::copy(&fx.disks[0], &copy).unwrap();
    for (m, _) in fx.probed_pvs(&[0]) {
        let l = label::read_label(&*fx.member_source(m)).unwrap().unwrap();
        let first = l.metadata_areas[0];
        poke(&copy, fx.members[m].offset + first.offset, &[0u8; 512]);
    }
    let src = open(&copy);
    let pvs: Vec<(usize, Source)> = fx
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (
                i,
                Arc::new(Slice::new(Arc::clone(&src), m.offset, m.size)) as Source,
            )
        })
        .collect();
    let scan = lvm::scan(&pvs);
    assert_eq!(scan.diagnostics.len(), 2, "{:?}", scan.diagnostics);
    assert!(scan.diagnostics[0].contains("no metadata area header magic"));
    check_against_reports(&fx, &scan, true);
}

/// VG `split` over a partition of disk 0 and the whole of disk 1, and VG `other` on a second
/// partition of disk 0. LV `a` lies on disk 0, `b` on disk 1, `span` on both.
fn split() -> Fixture {
    fixture("split", |b| {
        let d0 = b.disk(80 * MIB);
        let d1 = b.disk(32 * MIB);
        let parts = b.gpt(d0, &[40, 30]);
        let a = b.member(parts[0]);
        let o = b.member(parts[1]);
        let w = b.member(Member {
            disk: d1,
            offset: 0,
            size: 32 * MIB,
        });
        let (da, do_, dw) = (
            b.dev(a).to_string(),
            b.dev(o).to_string(),
            b.dev(w).to_string(),
        );
        b.lvm("pvcreate", &["-q", &da, &do_, &dw]);
        b.lvm("vgcreate", &["-q", "-s", "2m", "split", &da, &dw]);
        b.lvm("vgcreate", &["-q", "other", &do_]);
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "a", "-L", "8m", "split", &da],
        );
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "b", "-L", "8m", "split", &dw],
        );
        b.lvm(
            "lvcreate",
            &[
                "-q",
                "-Zn",
                "-Wn",
                "-n",
                "span",
                "-l",
                "4",
                "split",
                &format!("{da}:10-11"),
                &format!("{dw}:10-11"),
            ],
        );
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "solo", "-L", "8m", "other"],
        );
    })
}

#[test]
fn several_vgs_and_both_disks() {
    let fx = split();
    let pvs = fx.probed_pvs(&[0, 1]);
    assert_eq!(pvs.len(), 3);
    let scan = lvm::scan(&pvs);
    check_against_reports(&fx, &scan, true);
    assert_eq!(scan.vgs.len(), 2);
    let span = scan.vg("split").unwrap().lv("span").unwrap();
    assert_eq!(span.segments.len(), 2);
}

#[test]
fn a_pv_missing_from_the_image() {
    let fx = split();
    let pvs = fx.probed_pvs(&[0]);
    assert_eq!(pvs.len(), 2);
    let scan = lvm::scan(&pvs);
    check_against_reports(&fx, &scan, false);
    let vg = scan.vg("split").unwrap();
    let missing: Vec<&str> = vg.missing_pvs().map(|p| p.uuid.as_str()).collect();
    let disk1_uuid = fx
        .pvs
        .iter()
        .find(|r| r["pv_name"] == "m2")
        .map(|r| r["pv_uuid"].as_str())
        .unwrap();
    assert_eq!(missing, [disk1_uuid]);
    let a = vg.lv("a").unwrap();
    assert_eq!(a.unreadable, None);
    check_lv_bytes("split", "a", &*a.source().unwrap());
    for name in ["b", "span"] {
        let lv = vg.lv(name).unwrap();
        assert!(lv.source().is_none());
        let why = lv.unreadable.as_deref().unwrap();
        assert!(
            why.contains("missing PV") && why.contains(disk1_uuid),
            "{why}"
        );
    }
    // The other VG is complete.
    let other = scan.vg("other").unwrap();
    assert_eq!(other.missing_pvs().count(), 0);
    check_lv_bytes(
        "other",
        "solo",
        &*other.lv("solo").unwrap().source().unwrap(),
    );
}

/// A thin pool and a thin LV (written with vgcfgrestore: creating a thin pool needs
/// device-mapper), next to a linear LV.
fn thin() -> Fixture {
    fixture("thin", |b| {
        let d = b.disk(64 * MIB);
        let pv = b.member(Member {
            disk: d,
            offset: 0,
            size: 64 * MIB,
        });
        let dev = b.dev(pv).to_string();
        b.lvm("pvcreate", &["-q", &dev]);
        b.lvm("vgcreate", &["-q", "-s", "1m", "vgthin", &dev]);
        b.lvm(
            "lvcreate",
            &["-q", "-Zn", "-Wn", "-n", "keep", "-L", "4m", "vgthin"],
        );
        let backup = b.dir.join("vg.txt");
        b.lvm("vgcfgbackup", &["-q", "-f", s(&backup), "vgthin"]);
        let text = std::fs::read_to_string(&backup).unwrap();
        let lv = |name: &str, id: &str, visible: bool, seg: &str| {
            let status = if visible {
                r#"["READ", "WRITE", "VISIBLE"]"#
            } else {
                r#"["READ", "WRITE"]"#
            };
            format!(
                "\n{name} {{\nid = \"{id}\"\nstatus = {status}\nflags = []\nsegment_count = 1\n\
                 segment1 {{\nstart_extent = 0\n{seg}\n}}\n}}\n"
            )
        };
        let striped = |n: u64, at: u64| {
            format!(
                "extent_count = {n}\ntype = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", {at}]"
            )
        };
        let mut add = String::new();
        add += &lv(
            "pool",
            "Thin00-pool-0000-0000-0000-0000-000001",
            true,
            "extent_count = 4\ntype = \"thin-pool\"\nmetadata = \"pool_tmeta\"\npool = \
             \"pool_tdata\"\ntransaction_id = 1\nchunk_size = 128\ndiscards = \"passdown\"\n\
             zero_new_blocks = 1",
        );
        add += &lv(
            "thin1",
            "Thin00-thin-0000-0000-0000-0000-000002",
            true,
            "extent_count = 8\ntype = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 0\n\
             device_id = 1",
        );
        add += &lv(
            "lvol0_pmspare",
            "Thin00-pmsp-0000-0000-0000-0000-000003",
            false,
            &striped(1, 4),
        );
        add += &lv(
            "pool_tmeta",
            "Thin00-tmet-0000-0000-0000-0000-000004",
            false,
            &striped(1, 5),
        );
        add += &lv(
            "pool_tdata",
            "Thin00-tdat-0000-0000-0000-0000-000005",
            false,
            &striped(4, 6),
        );
        let at = text.find("logical_volumes {").unwrap() + "logical_volumes {".len();
        let text = format!("{}{add}{}", &text[..at], &text[at..]);
        std::fs::write(&backup, text).unwrap();
        b.lvm(
            "vgcfgrestore",
            &["-q", "--force", "-f", s(&backup), "vgthin"],
        );
    })
}

#[test]
fn thin_pool_is_listed_but_not_readable() {
    let fx = thin();
    let pvs = fx.probed_pvs(&[0]);
    let scan = lvm::scan(&pvs);
    check_against_reports(&fx, &scan, true);
    let vg = scan.vg("vgthin").unwrap();
    for (name, kind) in [("pool", "thin-pool"), ("thin1", "thin")] {
        let lv = vg.lv(name).unwrap();
        assert_eq!(lv.segtype, kind);
        assert!(lv.source().is_none());
        assert!(
            lv.unreadable.as_deref().unwrap().contains("not readable"),
            "{lv:?}"
        );
    }
    // The pool's hidden data LV is a plain linear LV.
    let tdata = vg.lv("pool_tdata").unwrap();
    assert!(!tdata.visible);
    assert!(tdata.source().is_some());
    assert!(vg.lv("keep").unwrap().source().is_some());
}

/// A small metadata area rewritten until the committed text wraps around its end.
fn wrapped() -> Fixture {
    fixture("wrapped", |b| {
        let d = b.disk(64 * MIB);
        let pv = b.member(Member {
            disk: d,
            offset: 0,
            size: 64 * MIB,
        });
        let dev = b.dev(pv).to_string();
        b.lvm(
            "pvcreate",
            &[
                "-q",
                "--metadatasize",
                "16k",
                "--dataalignment",
                "64k",
                &dev,
            ],
        );
        b.lvm("vgcreate", &["-q", "-s", "1m", "churn", &dev]);
        let disk = b.disks[d].clone();
        let wraps = || {
            let src = open(&disk);
            let l = label::read_label(&*src).unwrap().unwrap();
            let area = l.metadata_areas[0];
            let h = label::read_mda_header(&*src, area).unwrap();
            let r = h.raw_locns[0];
            r.offset + r.size > area.size
        };
        let mut wrapped = false;
        for i in 0..400 {
            let name = format!("lv{}", i % 5);
            b.lvm(
                "lvcreate",
                &["-q", "-Zn", "-Wn", "-n", &name, "-L", "1m", "churn"],
            );
            b.lvm("lvrename", &["-q", "churn", &name, &format!("renamed-{i}")]);
            if i % 3 != 2 {
                b.lvm("lvremove", &["-q", "-f", &format!("churn/renamed-{i}")]);
            }
            if i > 20 && wraps() {
                wrapped = true;
                break;
            }
        }
        assert!(wrapped, "the metadata never wrapped");
    })
}

#[test]
fn metadata_wrapping_around_the_circular_buffer() {
    let fx = wrapped();
    let src = open(&fx.disks[0]);
    // The committed copy does wrap.
    let l = label::read_label(&*src).unwrap().unwrap();
    let area = l.metadata_areas[0];
    let r = label::read_mda_header(&*src, area).unwrap().raw_locns[0];
    assert!(r.offset + r.size > area.size, "{r:?} in {area:?}");
    let pvs = fx.probed_pvs(&[0]);
    let scan = lvm::scan(&pvs);
    assert!(scan.diagnostics.is_empty(), "{:?}", scan.diagnostics);
    check_against_reports(&fx, &scan, true);
    let mut ours: Vec<&str> = scan.vgs[0].lvs.iter().map(|l| l.name.as_str()).collect();
    let mut theirs: Vec<&str> = fx.lvs.iter().map(|r| r["lv_name"].as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    theirs.dedup();
    assert_eq!(ours, theirs);
    assert!(ours.len() > 3, "{ours:?}");
}

#[test]
fn truncated_and_corrupted_pvs_never_panic() {
    let fx = oracle_linux();
    let pvs = fx.probed_pvs(&[0]);
    let (m, full) = &pvs[0];
    // Truncated right after the label, in the metadata, and in the middle of root.
    for len in [1024, 4096 + 700, 8 * MIB, full.len() - 20 * MIB] {
        let cut: Source = Arc::new(Slice::new(Arc::clone(full), 0, len));
        let scan = lvm::scan(&[(*m, cut)]);
        for vg in &scan.vgs {
            for lv in &vg.lvs {
                if let Some(src) = lv.source() {
                    let mut buf = vec![0u8; 65536];
                    let mut at = 0;
                    while at < src.len() {
                        let n = (src.len() - at).min(buf.len() as u64) as usize;
                        if let Err(e) = src.read_at(at, &mut buf[..n]) {
                            let msg = e.to_string();
                            assert!(msg.contains("truncated"), "{msg}");
                            break;
                        }
                        at += n as u64;
                    }
                }
            }
        }
    }
    // Flip bytes of the metadata text: the copy is refused by its checksum, never a panic.
    let l = label::read_label(&**full).unwrap().unwrap();
    let area = l.metadata_areas[0];
    let h = label::read_mda_header(&**full, area).unwrap();
    let text_at = area.offset + h.raw_locns[0].offset;
    let mut bytes = vec![0u8; full.len() as usize];
    full.read_at(0, &mut bytes).unwrap();
    bytes[text_at as usize + 10] ^= 0x55;
    let bad: Source = Arc::new(preflight_io::MemSource(bytes));
    let scan = lvm::scan(&[(7, bad)]);
    assert!(scan.vgs.is_empty());
    assert!(
        scan.diagnostics
            .iter()
            .any(|d| d.contains("PV #7") && d.contains("checksum")),
        "{:?}",
        scan.diagnostics
    );
}
