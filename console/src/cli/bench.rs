//! `duty bench …`: load generators (see the `bench` module).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::bench::{self, LoadOptions, Report, Target};
use crate::cli::CliError;
use crate::cli::output::Format;

/// The workloads.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Durable CreateIncident calls with realistic Chinese payloads.
    Intake(LoadArgs),
    /// The console's frame time with many open incidents (no daemon).
    Render {
        /// Open incidents on the board.
        #[arg(long, default_value_t = 10_000)]
        incidents: usize,
        /// Frames to draw.
        #[arg(long, default_value_t = 300)]
        frames: usize,
        /// Terminal width.
        #[arg(long, default_value_t = 160)]
        width: u16,
        /// Terminal height.
        #[arg(long, default_value_t = 48)]
        height: u16,
    },
}

/// Load shape and target.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Concurrent clients (each on its own connection).
    #[arg(long, short, default_value_t = 32)]
    clients: usize,
    /// Seconds to run (ignored with --count).
    #[arg(long, short, default_value_t = 10)]
    duration: u64,
    /// Stop after this many calls in total.
    #[arg(long)]
    count: Option<u64>,
    /// Drive the daemon at --addr with --token instead of an embedded one.
    #[arg(long)]
    remote: bool,
    /// Embedded daemon: keep the store in this (empty) directory.
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Runs a bench command. `addr`/`token` are the global options.
pub async fn run(
    cmd: Cmd,
    addr: String,
    token: Option<String>,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let args = match cmd {
        Cmd::Intake(args) => args,
        Cmd::Render {
            incidents,
            frames,
            width,
            height,
        } => {
            let report = bench::render(incidents, frames.max(1), width, height)
                .map_err(|e| CliError::Other(format!("{e:#}")))?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &report)
                    .map_err(|e| CliError::Other(e.to_string()))?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "render: {} open incidents at {}x{}: frame p50 {} µs, p99 {} µs; board rebuild p50 {} µs ({} frames)",
                    report.incidents,
                    report.width,
                    report.height,
                    report.frame_p50_us,
                    report.frame_p99_us,
                    report.rebuild_p50_us,
                    report.frames
                )?;
            }
            return Ok(());
        }
    };
    let target = if args.remote {
        let token = token.ok_or_else(|| CliError::Usage("--remote needs --token".into()))?;
        Target::Remote { addr, token }
    } else {
        Target::Embedded
    };
    let options = LoadOptions {
        clients: args.clients.max(1),
        duration: Duration::from_secs(args.duration.max(1)),
        count: args.count,
    };
    let prepared = bench::prepare(target, args.data)
        .await
        .map_err(|e| CliError::Other(format!("{e:#}")))?;
    let report = bench::intake(&prepared, &options)
        .await
        .map_err(|e| CliError::Other(format!("{e:#}")));
    prepared.finish().await;
    print(out, &report?, format)
}

fn print(out: &mut dyn Write, report: &Report, format: Format) -> Result<(), CliError> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, report)
            .map_err(|e| CliError::Other(e.to_string()))?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{}: {} clients, {} ok in {:.1} s = {:.0}/s",
        report.workload, report.clients, report.ok, report.seconds, report.per_second
    )?;
    writeln!(
        out,
        "latency µs: p50 {}  p90 {}  p99 {}  max {}",
        report.p50_us, report.p90_us, report.p99_us, report.max_us
    )?;
    if !report.errors.is_empty() {
        writeln!(out, "errors: {:?}", report.errors)?;
    }
    if let Some(rss) = report.rss_mib {
        writeln!(
            out,
            "rss: {rss:.0} MiB (embedded: daemon and load in one process)"
        )?;
    }
    Ok(())
}
