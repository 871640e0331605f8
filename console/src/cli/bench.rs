//! `duty bench …`: load generators, ceilings and crash drills (see the
//! `bench` module). Every workload prints throughput and latency
//! percentiles, errors by code and the daemon's memory; `-o json` for
//! scripts.

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
    Intake {
        /// Clients, duration and target.
        #[command(flatten)]
        load: LoadArgs,
        /// First measure the ceilings at the same concurrency (a no-op RPC,
        /// bare sled with a shared flusher, a naive durable design) and
        /// print the result as ratios to them.
        #[arg(long)]
        baseline: bool,
    },
    /// Create + assign to posts at a paced rate while posts and consoles
    /// watch; measures Assign reply → arrival on the post's stream.
    Dispatch {
        /// Dispatchers, pacing and target.
        #[command(flatten)]
        load: LoadArgs,
        /// Posts holding Watch streams (each sees only its own orders).
        #[arg(long, default_value_t = 500)]
        posts: usize,
        /// Centre consoles watching everything.
        #[arg(long, default_value_t = 50)]
        consoles: usize,
    },
    /// The crash drill: dutyd as a child process, writers creating incidents
    /// and notes, SIGKILL (or SIGTERM) at random moments, restart, and every
    /// acknowledged write checked. Prints one summary line.
    Crash {
        /// Kill/restart cycles.
        #[arg(long, default_value_t = 20)]
        cycles: usize,
        /// Concurrent writers.
        #[arg(long, default_value_t = 6)]
        writers: usize,
        /// Stop with SIGTERM (graceful: must be prompt and lose nothing)
        /// instead of SIGKILL.
        #[arg(long)]
        term: bool,
        /// Load before each stop, milliseconds (plus up to as much again,
        /// at random).
        #[arg(long, default_value_t = 300)]
        load_ms: u64,
    },
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
#[derive(Debug, Args, Clone)]
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
    /// Total calls per second across clients (default: as fast as answered;
    /// dispatch: 1000).
    #[arg(long)]
    rate: Option<f64>,
    /// Drive the daemon at --addr with --token (an admin's) instead.
    #[arg(long, conflicts_with = "spawn")]
    remote: bool,
    /// Start dutyd as a child process (next to duty, or $DUTYD_BIN): the
    /// daemon's memory and CPU alone.
    #[arg(long)]
    spawn: bool,
    /// Keep the store of the daemon the bench starts in this (empty)
    /// directory.
    #[arg(long)]
    data: Option<PathBuf>,
}

impl LoadArgs {
    fn options(&self, default_rate: Option<f64>) -> LoadOptions {
        LoadOptions {
            clients: self.clients.max(1),
            duration: Duration::from_secs(self.duration.max(1)),
            count: self.count,
            rate: self.rate.or(default_rate),
        }
    }

    fn target(&self, addr: &str, token: Option<&str>) -> Result<Target, CliError> {
        Ok(if self.remote {
            let token = token.ok_or_else(|| CliError::Usage("--remote needs --token".into()))?;
            Target::Remote {
                addr: addr.to_owned(),
                token: token.to_owned(),
            }
        } else if self.spawn {
            Target::Spawned
        } else {
            Target::Embedded
        })
    }
}

fn other(error: anyhow::Error) -> CliError {
    CliError::Other(format!("{error:#}"))
}

/// Runs a bench command. `addr`/`token` are the global options.
pub async fn run(
    cmd: Cmd,
    addr: String,
    token: Option<String>,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let report = match cmd {
        Cmd::Crash {
            cycles,
            writers,
            term,
            load_ms,
        } => {
            let options = bench::crash::DrillOptions {
                cycles: cycles.max(1),
                writers: writers.max(1),
                stop: if term {
                    bench::crash::Stop::Term
                } else {
                    bench::crash::Stop::Kill
                },
                load: Duration::from_millis(load_ms.max(1)),
            };
            let report = bench::crash::run(&options).await.map_err(other)?;
            if format == Format::Json {
                json(out, &report)?;
            } else {
                writeln!(out, "{}", report.line())?;
            }
            if report.lost > 0 || report.damaged > 0 {
                return Err(CliError::Other(format!(
                    "{} acknowledged writes lost, {} damaged",
                    report.lost, report.damaged
                )));
            }
            return Ok(());
        }
        Cmd::Render {
            incidents,
            frames,
            width,
            height,
        } => {
            let report = bench::render(incidents, frames.max(1), width, height).map_err(other)?;
            if format == Format::Json {
                return json(out, &report);
            }
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
            return Ok(());
        }
        Cmd::Intake { load, baseline } => {
            let prepared = bench::prepare(load.target(&addr, token.as_deref())?, load.data.clone())
                .await
                .map_err(other)?;
            let options = load.options(None);
            let result = intake_with_ceilings(&prepared, &options, baseline).await;
            prepared.finish().await;
            let (report, ceilings) = result.map_err(other)?;
            if let Some(ceilings) = ceilings {
                if format == Format::Json {
                    return json(
                        out,
                        &serde_json::json!({
                            "result": report,
                            "ceilings": ceilings,
                            "ratios": ceilings.ratios(&report).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                        }),
                    );
                }
                for ceiling in [&ceilings.transport, &ceilings.storage, &ceilings.naive] {
                    for line in ceiling.lines() {
                        writeln!(out, "{line}")?;
                    }
                }
                for line in report.lines() {
                    writeln!(out, "{line}")?;
                }
                writeln!(out, "ratios:")?;
                for (name, value) in ceilings.ratios(&report) {
                    writeln!(out, "  {name}: {value:.2}")?;
                }
                return Ok(());
            }
            report
        }
        Cmd::Dispatch {
            load,
            posts,
            consoles,
        } => {
            let prepared = bench::prepare(load.target(&addr, token.as_deref())?, load.data.clone())
                .await
                .map_err(other)?;
            let options = bench::dispatch::DispatchOptions {
                load: load.options(Some(1000.0)),
                posts,
                consoles,
            };
            let report = bench::dispatch::run(&prepared, &options).await;
            prepared.finish().await;
            report.map_err(other)?
        }
    };
    print(out, &report, format)
}

/// The intake run, after the ceilings at the same concurrency if asked.
async fn intake_with_ceilings(
    prepared: &bench::Prepared,
    options: &LoadOptions,
    baseline: bool,
) -> anyhow::Result<(Report, Option<bench::baseline::Ceilings>)> {
    let ceilings = if baseline {
        let reply = bench::baseline::sample_reply(&prepared.client().await?).await?;
        let scratch = bench::baseline::scratch()?;
        Some(
            bench::baseline::ceilings(
                &bench::baseline::ceiling_options(options),
                &reply,
                scratch.path(),
            )
            .await?,
        )
    } else {
        None
    };
    let report = bench::intake::run(prepared, options).await?;
    Ok((report, ceilings))
}

fn json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| CliError::Other(e.to_string()))?;
    writeln!(out)?;
    Ok(())
}

fn print(out: &mut dyn Write, report: &Report, format: Format) -> Result<(), CliError> {
    if format == Format::Json {
        return json(out, report);
    }
    for line in report.lines() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
