//! The human-readable rendering used by the CLI: verdict first, then what to fix.

use std::fmt::Write;

use crate::{Level, Report, Status};

/// Sizes as people read them: "2.0 GiB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The container's facts, whatever the format; then the archive it came in.
fn image_facts(o: &mut String, img: &crate::Image) {
    let mut line = format!("  {}", img.format);
    if let Some(sub) = &img.subformat {
        let _ = write!(line, " {sub}");
    }
    if let Some(v) = &img.version {
        let _ = write!(line, ", version {v}");
    }
    if let Some(b) = img.block_size {
        let _ = write!(line, ", block {}", human_size(b));
    }
    if let Some(c) = &img.compression {
        let _ = write!(line, ", compression {c}");
    }
    if let Some(a) = img.allocated_size {
        let _ = write!(line, ", {} allocated", human_size(a));
    }
    // QCOW2 has its own, fuller line.
    if img.qcow2.is_none() {
        let _ = writeln!(o, "{line}");
    }
    if let Some(p) = img.parent.as_ref().filter(|_| img.qcow2.is_none()) {
        let _ = writeln!(o, "  parent: {p}");
    }
    if !img.other_files.is_empty() {
        let _ = writeln!(o, "  data in other files: {}", img.other_files.join(", "));
    }
    if img.bytes_missing > 0 {
        let _ = writeln!(
            o,
            "  {} asked of files not given were read as zeros",
            human_size(img.bytes_missing)
        );
    }
    for d in &img.details {
        let _ = writeln!(o, "  {}: {}", d.name, d.value);
    }
    let Some(a) = &img.archive else { return };
    let _ = writeln!(
        o,
        "  in {} archive{}: disk member {}",
        a.kind.to_uppercase(),
        a.compression
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        a.disk_member
    );
    for m in &a.members {
        let _ = writeln!(o, "    member {} ({})", m.name, human_size(m.size));
    }
    if let Some(m) = &a.oci_metadata {
        let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "    image_metadata.json: firmware {}, boot volume {}, network {}, OS {} {}",
            field(&m.firmware),
            field(&m.boot_volume_type),
            field(&m.network_type),
            field(&m.operating_system),
            field(&m.operating_system_version)
        );
        if !m.shapes.is_empty() {
            let _ = writeln!(o, "    shapes: {}", m.shapes.join(", "));
        }
    }
    if let Some(ovf) = &a.ovf {
        let mut line = format!("    OVF {}:", ovf.descriptor);
        if let Some(os) = &ovf.os_type {
            let _ = write!(line, " OS {os},");
        }
        if let Some(c) = ovf.cpus {
            let _ = write!(line, " {c} CPU,");
        }
        if let Some(m) = ovf.memory_mib {
            let _ = write!(line, " {m} MiB memory,");
        }
        for c in &ovf.disk_capacities {
            let _ = write!(line, " disk {},", human_size(*c));
        }
        if !ovf.nics.is_empty() {
            let _ = write!(line, " NIC {},", ovf.nics.join("/"));
        }
        let _ = writeln!(o, "{}", line.trim_end_matches(','));
        for c in &ovf.manifest_checks {
            let state = match c.matches {
                Some(true) => "matches",
                Some(false) => "DIFFERS",
                None => "not checked",
            };
            let _ = writeln!(o, "    manifest {}({}): {state}", c.algorithm, c.member);
        }
    }
    for p in &a.problems {
        let _ = writeln!(o, "    problem: {p}");
    }
}

pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let img = &r.image;
    let _ = writeln!(
        o,
        "{} {} — {} ({}, {} virtual, {} file)",
        r.tool.name,
        r.tool.version,
        img.name,
        img.format,
        human_size(img.virtual_size),
        human_size(img.file_size)
    );
    let _ = writeln!(o);
    let status = match r.verdict.status {
        Status::Ready => "READY",
        Status::Blocked => "BLOCKED",
        Status::Incomplete => "INCOMPLETE",
    };
    let _ = writeln!(o, "VERDICT: {status} — {}", r.verdict.summary);
    let _ = writeln!(
        o,
        "  {} blocker(s) · {} warning(s) · {} info · {} not evaluated",
        r.verdict.blockers, r.verdict.warnings, r.verdict.infos, r.verdict.not_evaluated
    );
    let _ = writeln!(o);

    let rec = &r.recommendation;
    let _ = writeln!(
        o,
        "Launch mode: {}    Firmware: {}",
        rec.launch_mode.as_deref().unwrap_or("undecided"),
        if rec.firmware.is_empty() {
            "undecided".to_string()
        } else {
            rec.firmware.join(", ")
        }
    );
    for reason in &rec.reasons {
        let _ = writeln!(o, "  - {reason}");
    }
    decision(&mut o, rec);

    // Findings by area, blockers first within each; the counts per level head each area.
    for area in crate::Area::ALL {
        let mut items: Vec<_> = r.findings.iter().filter(|f| f.area == area).collect();
        let skipped = r.not_evaluated.iter().filter(|n| n.area == area).count();
        if items.is_empty() {
            continue;
        }
        items.sort_by_key(|f| match f.level {
            Level::Blocker => 0,
            Level::Warning => 1,
            Level::Info => 2,
        });
        let count = |l: Level| items.iter().filter(|f| f.level == l).count();
        let _ = writeln!(
            o,
            "\n{} — {} blocker(s) · {} warning(s) · {} info{}",
            area.label().to_uppercase(),
            count(Level::Blocker),
            count(Level::Warning),
            count(Level::Info),
            if skipped > 0 {
                format!(" · {skipped} not evaluated")
            } else {
                String::new()
            }
        );
        for f in items {
            let level = match f.level {
                Level::Blocker => "BLOCKER",
                Level::Warning => "warning",
                Level::Info => "info",
            };
            let _ = writeln!(o, "  {level} [{}] {}", f.rule, f.title);
            for e in &f.evidence {
                match e.line {
                    Some(l) => {
                        let _ = writeln!(o, "      at {}:{} — {}", e.path, l, e.detail);
                    }
                    None => {
                        let _ = writeln!(o, "      at {} — {}", e.path, e.detail);
                    }
                }
            }
            for (i, line) in f.remedy.lines().enumerate() {
                let _ = writeln!(o, "      {} {line}", if i == 0 { "fix:" } else { "    " });
            }
            let _ = writeln!(o, "      source: {}", f.source);
        }
    }

    if !r.not_evaluated.is_empty() {
        let _ = writeln!(o, "\nNOT EVALUATED (not a pass)");
        for n in &r.not_evaluated {
            let _ = writeln!(o, "  [{}] {} — {}", n.rule, n.title, n.reason);
        }
    }

    let _ = writeln!(o, "\nIMAGE");
    image_facts(&mut o, img);
    if let Some(q) = &img.qcow2 {
        let _ = writeln!(
            o,
            "  QCOW2 version {} (compat {}), cluster {}, compression type {}{}",
            q.version,
            q.compat,
            human_size(q.cluster_size),
            q.compression_type,
            if q.extended_l2 { ", extended L2" } else { "" }
        );
        if let Some(b) = &q.backing_file {
            let _ = writeln!(o, "  backing file: {b}");
        }
    }
    for w in &img.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    if let Some(pt) = &r.partition_table {
        let _ = writeln!(o, "  partition table: {}", pt.scheme);
        for d in &pt.diagnostics {
            let _ = writeln!(o, "    note: {d}");
        }
    }
    for v in &r.volumes {
        let mut line = format!(
            "  volume {}: {} size {}",
            v.index,
            match &v.lv {
                Some(lv) => format!("logical volume {lv}"),
                None => format!(
                    "{}{} at {}",
                    v.kind,
                    v.number.map(|n| format!(" {n}")).unwrap_or_default(),
                    v.start
                ),
            },
            human_size(v.size)
        );
        if let Some(t) = &v.partition_type_name {
            let _ = write!(line, " ({t})");
        }
        let _ = write!(
            line,
            " — {}",
            v.content.as_deref().unwrap_or("no known signature")
        );
        if let Some(u) = &v.uuid {
            let _ = write!(line, " uuid {u}");
        }
        if let Some(l) = &v.label {
            let _ = write!(line, " label {l:?}");
        }
        if let Some(m) = &v.mounted_at {
            let _ = write!(line, ", mounted at {m}");
        } else if !v.readable && v.content.is_some() && v.content.as_deref() != Some("LVM2_member")
        {
            line.push_str(", not readable");
        }
        if let Some(n) = &v.note {
            let _ = write!(line, " ({n})");
        }
        let _ = writeln!(o, "{line}");
    }

    if let Some(g) = &r.guest {
        let _ = writeln!(o, "\nGUEST");
        match &g.os {
            Some(os) => {
                let _ = writeln!(
                    o,
                    "  OS: {} [id {}, version {}] from {}",
                    os.pretty_name
                        .as_deref()
                        .or(os.name.as_deref())
                        .unwrap_or("unknown"),
                    os.id.as_deref().unwrap_or("?"),
                    os.version_id.as_deref().unwrap_or("?"),
                    os.source
                );
            }
            None => {
                let _ = writeln!(o, "  OS: not identified");
            }
        }
        let _ = writeln!(
            o,
            "  architecture: {}{}",
            g.arch.as_deref().unwrap_or("unknown"),
            g.arch_evidence
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        if let Some(b) = &g.boot {
            let _ = writeln!(
                o,
                "  boot: \"{}\" ({}, {}) — {}",
                b.title, b.loader, b.source, b.default_reason
            );
            if let Some(k) = &b.kernel {
                let _ = writeln!(
                    o,
                    "    linux {k} {}{}",
                    b.cmdline.as_deref().unwrap_or(""),
                    b.initrds
                        .iter()
                        .map(|i| format!("\n    initrd {i}"))
                        .collect::<String>()
                );
            }
        }
        for k in &g.kernels {
            let virtio: Vec<String> = k.virtio.iter().map(|(m, s)| format!("{m} {s}")).collect();
            let _ = writeln!(o, "  kernel {}: {}", k.version, virtio.join(", "));
        }
        let logins: Vec<String> = g
            .users
            .iter()
            .filter(|u| u.uid == 0 || u.uid >= 1000 || !u.password.starts_with("locked"))
            .map(|u| format!("{} ({}, {})", u.name, u.shell, u.password))
            .collect();
        if !logins.is_empty() {
            let _ = writeln!(o, "  accounts: {}", logins.join("; "));
        }
        for m in &g.mounts {
            let _ = writeln!(o, "  mount: {} ← volume {}", m.point, m.volume);
        }
    }

    if !r.notes.is_empty() {
        let _ = writeln!(o, "\nNOTES");
        for n in &r.notes {
            let _ = writeln!(o, "  - {n}");
        }
    }
    let _ = writeln!(
        o,
        "\nRead {} in {} call(s), {} ms.",
        human_size(r.stats.bytes_read),
        r.stats.read_calls,
        r.stats.elapsed_ms
    );
    o
}

/// The decision's evidence chain, drivers, modes and shapes, under the launch mode line.
fn decision(o: &mut String, rec: &crate::Recommendation) {
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    if let (Some(a), Some(n), Some(b)) = (
        &rec.architecture,
        &rec.network_attachment,
        &rec.boot_volume_type,
    ) {
        let _ = writeln!(o, "  architecture {a} · NIC {n} · boot volume {b}");
    }
    if !rec.chain.is_empty() {
        let _ = writeln!(o, "  boot chain:");
        for s in &rec.chain {
            let _ = writeln!(
                o,
                "    {} {:<11} {}{}",
                mark(s.ok),
                s.step,
                s.summary,
                s.path
                    .as_deref()
                    .map(|p| format!("  ({p})"))
                    .unwrap_or_default()
            );
            for d in &s.details {
                let _ = writeln!(o, "        {d}");
            }
        }
    }
    if !rec.drivers.is_empty() {
        let _ = writeln!(o, "  drivers:");
        for d in &rec.drivers {
            let status = match d.status.as_str() {
                "builtin" => "built in",
                "initramfs" => "in the initramfs",
                "installed" => "installed, not in the initramfs",
                other => other,
            };
            let _ = writeln!(
                o,
                "    {:<12} {:<32} {}{}",
                d.name,
                status,
                d.purpose,
                d.evidence
                    .as_deref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    if !rec.modes.is_empty() {
        let _ = writeln!(o, "  modes:");
        for m in &rec.modes {
            let _ = writeln!(o, "    {} {:<16} {}", mark(m.possible), m.mode, m.why);
        }
    }
    if !rec.shapes.is_empty() {
        let _ = writeln!(
            o,
            "  shapes{}:",
            rec.shapes_as_of
                .as_deref()
                .map(|d| format!(" (shape table as of {d})"))
                .unwrap_or_default()
        );
        let mut shapes: Vec<_> = rec.shapes.iter().collect();
        shapes.sort_by_key(|s| !s.fits);
        for s in shapes {
            let _ = writeln!(
                o,
                "    {} {:<22} {:<7} {:<3} {}",
                mark(s.fits),
                s.shape,
                s.processor,
                s.kind,
                s.why
            );
        }
    }
    if rec.artifacts.is_some() {
        let _ = writeln!(
            o,
            "  artifacts: the capability schema, import and shape commands and image_metadata.json are in the JSON report (--format json), or written by --emit-artifacts DIR"
        );
    }
}
