//! `preflight`: check a disk image for OCI import and Marketplace publishing.
//!
//! Exit codes: 0 no blocker found, 1 at least one blocker, 2 the image could not be inspected
//! (unreadable, unsupported, bad arguments) — with a one-line reason on stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use preflight_core::Stage;
use preflight_io::ReadStats;

#[derive(Parser)]
#[command(
    name = "preflight",
    version,
    about = "Check a VM disk image for Oracle Cloud (OCI) import and Marketplace publishing, offline."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect a disk image (QCOW2, VMDK, VHD, VHDX, VDI, raw, or an .oci / OVA archive) and
    /// report launch mode and guideline violations.
    Check {
        /// The disk image file.
        image: PathBuf,
        /// For an OVA: check its manifest's digests (reads the whole archive).
        #[arg(long)]
        verify_manifest: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Write the report to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write the image capability schema for this image (JSON for
        /// `oci compute image-capability-schema create --schema-data file://…`) to this file.
        #[arg(long, value_name = "FILE")]
        emit_schema: Option<PathBuf>,
        /// Write every artifact of the launch decision into this directory: schema.json,
        /// image_metadata.json (for packing an .oci archive) and oci-commands.sh (import,
        /// schema and shape-compatibility commands).
        #[arg(long, value_name = "DIR")]
        emit_artifacts: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

const EXIT_BLOCKERS: u8 = 1;
const EXIT_CANNOT_INSPECT: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_CANNOT_INSPECT
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check {
            image,
            verify_manifest,
            format,
            output,
            emit_schema,
            emit_artifacts,
        } => check(
            &image,
            verify_manifest,
            format,
            output.as_deref(),
            &Emit {
                schema: emit_schema,
                artifacts: emit_artifacts,
            },
        ),
    }
}

/// On a terminal, the one slow stage (decompressing a tar.gz archive) shows how far it is;
/// in pipelines (stderr not a terminal) nothing is printed.
fn progress_on_terminal(file_size: u64) -> Option<Box<dyn Fn(Stage, ReadStats)>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let last = std::cell::Cell::new(u64::MAX);
    Some(Box::new(move |stage: Stage, stats: ReadStats| {
        if stage != Stage::Decompressing || file_size == 0 {
            return;
        }
        let percent = stats.bytes_read.saturating_mul(100) / file_size;
        if percent != last.get() {
            last.set(percent);
            eprint!("\r{}: {percent}%", stage.label());
        }
    }))
}

/// Today's UTC date as `YYYY-MM-DD`: days since 1970-01-01 to a civil date (the proleptic
/// Gregorian calendar; H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("preflight: {message}");
    ExitCode::from(EXIT_CANNOT_INSPECT)
}

/// Where to write the decision's artifacts.
struct Emit {
    schema: Option<PathBuf>,
    artifacts: Option<PathBuf>,
}

impl Emit {
    /// Write what was asked; an undecided launch mode has no artifacts, which is an error
    /// when they were asked for.
    fn write(&self, report: &preflight_report::Report) -> Result<(), String> {
        if self.schema.is_none() && self.artifacts.is_none() {
            return Ok(());
        }
        let Some(a) = &report.recommendation.artifacts else {
            return Err(
                "no artifacts to write: the launch mode is undecided (see the report's reasons)"
                    .into(),
            );
        };
        let write = |p: &std::path::Path, text: &str| {
            std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))
        };
        if let Some(p) = &self.schema {
            write(p, &a.schema_json())?;
        }
        if let Some(dir) = &self.artifacts {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            use preflight_report::Artifacts as A;
            write(&dir.join(A::SCHEMA_FILE), &a.schema_json())?;
            write(&dir.join(A::METADATA_FILE), &a.metadata_json())?;
            write(&dir.join(A::COMMANDS_FILE), &a.commands_script())?;
        }
        Ok(())
    }
}

fn check(
    path: &std::path::Path,
    verify_manifest: bool,
    format: OutputFormat,
    output: Option<&std::path::Path>,
    emit: &Emit,
) -> ExitCode {
    let started = Instant::now();
    let file = match preflight_io::FileSource::open(path) {
        Ok(f) => f,
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let options = preflight_core::Options {
        verify_manifest,
        today: Some(today_utc()),
        progress: progress_on_terminal(preflight_io::ByteSource::len(&file)),
        ..preflight_core::Options::default()
    };
    let report = preflight_core::inspect(Box::new(file), &name, &options);
    if options.progress.is_some() {
        eprint!("\r\x1b[K");
    }
    let mut report = match report {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    report.stats.elapsed_ms = started.elapsed().as_millis() as u64;

    let rendered = match format {
        OutputFormat::Text => preflight_report::render_text(&report),
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => return fail(format!("could not encode the report: {e}")),
        },
    };
    let written = match output {
        Some(p) => {
            std::fs::write(p, rendered.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))
        }
        None => std::io::stdout()
            .lock()
            .write_all(rendered.as_bytes())
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = written {
        return fail(e);
    }
    if let Err(e) = emit.write(&report) {
        return fail(e);
    }

    if report.has_blockers() {
        ExitCode::from(EXIT_BLOCKERS)
    } else if let Some(why) = &report.guest_error {
        fail(format!(
            "{}: the guest could not be inspected: {why}",
            path.display()
        ))
    } else {
        ExitCode::SUCCESS
    }
}
