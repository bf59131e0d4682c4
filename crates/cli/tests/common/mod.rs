//! Running the real `preflight` binary on fixture images.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use preflight_report::{Level, Report};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `preflight check IMAGE --format json`, killing it if it runs longer than a minute
/// (a hang is a bug: hostile images must not loop).
pub fn run(image: &Path, extra: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .arg("check")
        .arg(image)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn preflight");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "preflight did not finish within 60 s on {}",
                image.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn report(image: &Path) -> (i32, Report) {
    let r = run(image, &["--format", "json"]);
    let report: Report = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report of {}: {e}\nstdout: {}\nstderr: {}",
            image.display(),
            r.stdout,
            r.stderr
        )
    });
    (r.code, report)
}

pub fn fired<'a>(r: &'a Report, rule: &str) -> Vec<&'a preflight_report::Finding> {
    r.findings.iter().filter(|f| f.rule == rule).collect()
}

pub fn blockers(r: &Report) -> Vec<&str> {
    r.findings
        .iter()
        .filter(|f| f.level == Level::Blocker)
        .map(|f| f.rule.as_str())
        .collect()
}

/// A scratch directory for images derived in a test (resized, snapshotted, encrypted copies).
pub fn scratch(name: &str) -> PathBuf {
    let dir = preflight_fixtures::fixtures_dir()
        .join("scratch")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// All evidence of a finding, as one string to search in.
pub fn evidence(f: &preflight_report::Finding) -> String {
    f.evidence
        .iter()
        .map(|e| format!("{}:{} {}", e.path, e.line.unwrap_or(0), e.detail))
        .collect::<Vec<_>>()
        .join("\n")
}
