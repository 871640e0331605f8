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
    /// Everything, in one go, with dutyd as a child process: intake with its
    /// ceilings at 1 and 32 clients, dispatch, query, mixed, startup, the
    /// crash drill and the console; then every target, met or missed.
    All {
        /// Seconds per measured run.
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
        /// Incidents in the store for query and startup.
        #[arg(long, default_value_t = 10_000)]
        incidents: u64,
        /// Crash drill cycles.
        #[arg(long, default_value_t = 20)]
        cycles: usize,
    },
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
    /// Reads on a store of --incidents (filled first, with a progress bar):
    /// a post's open list, get by number, and create + assign.
    Query {
        /// Clients, duration (of each phase) and target.
        #[command(flatten)]
        load: LoadArgs,
        /// Incidents in the store (history, with a few open per post).
        #[arg(long, default_value_t = 10_000)]
        incidents: u64,
        /// Posts the incidents are spread over.
        #[arg(long, default_value_t = 100)]
        posts: usize,
        /// Incidents left open per post.
        #[arg(long, default_value_t = 20)]
        open_per_post: u64,
    },
    /// A typhoon night: calls dispatched, posts signing for and reporting,
    /// open lists, look-ups and notes at once, with posts and consoles
    /// watching. Latency per kind of call.
    Mixed {
        /// Clients, duration and target.
        #[command(flatten)]
        load: LoadArgs,
        /// Posts (each watching and acting with its own token).
        #[arg(long, default_value_t = 50)]
        posts: usize,
        /// Centre consoles watching everything.
        #[arg(long, default_value_t = 10)]
        consoles: usize,
    },
    /// How long dutyd (a child process) takes to open a store of
    /// --incidents and answer its first request, and its memory then.
    Startup {
        /// Incidents in the store (filled first unless --data holds them).
        #[arg(long, default_value_t = 10_000)]
        incidents: u64,
        /// Restarts to time.
        #[arg(long, default_value_t = 5)]
        restarts: usize,
        /// Keep (or reuse) the store here.
        #[arg(long)]
        data: Option<PathBuf>,
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
    /// Assessment reports over a year of history (an embedded dutyd on a
    /// virtual clock, filled with --incidents lived through 2025 in the
    /// demo city), then what keeping the rollups costs a call's whole life,
    /// with and without them in alternating rounds.
    Report {
        /// Incidents spread over the year.
        #[arg(long, default_value_t = 100_000)]
        incidents: u64,
        /// Times each report is asked for.
        #[arg(long, default_value_t = 7)]
        repeats: usize,
        /// Keep (or reuse, resuming its fill) the store here.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Calls in flight at once while filling.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Clients in the cost rounds.
        #[arg(long, default_value_t = 32)]
        cost_clients: usize,
        /// Seconds per cost round.
        #[arg(long, default_value_t = 5)]
        cost_seconds: u64,
        /// Cost rounds with and without rollups each (0: skip).
        #[arg(long, default_value_t = 6)]
        cost_rounds: usize,
        /// Instants across the year to replay the board at (0: skip).
        #[arg(long, default_value_t = 100)]
        replays: usize,
    },
    /// History search on a store of --incidents past calls (an embedded
    /// dutyd, filled first): a whole phone, its last 4 digits, two words, a
    /// word within days; then intake with and without the index in
    /// alternating rounds.
    Search {
        /// Past calls in the store.
        #[arg(long, default_value_t = 100_000)]
        incidents: u64,
        /// Keep (or reuse and top up) the store here.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Clients searching (and creating, in the cost rounds) at once.
        #[arg(long, short, default_value_t = 8)]
        clients: usize,
        /// Seconds per kind of search.
        #[arg(long, short, default_value_t = 10)]
        duration: u64,
        /// Cost rounds with and without the index each (0: skip).
        #[arg(long, default_value_t = 6)]
        cost_rounds: usize,
        /// Seconds per cost round.
        #[arg(long, default_value_t = 5)]
        cost_seconds: u64,
    },
    /// An alarm storm reaching an SMS gateway (an embedded dutyd and a
    /// verifying receiver in this process): from each alarm's raising to
    /// the gateway's 2xx, and intake during the storm against intake
    /// without, in alternating rounds.
    Alarms {
        /// Alarms raised in all.
        #[arg(long, default_value_t = 1_000)]
        alarms: u64,
        /// Seconds of storm they are spread over.
        #[arg(long, default_value_t = 60)]
        over: u64,
        /// Rounds with and without the storm each.
        #[arg(long, default_value_t = 6)]
        rounds: usize,
        /// Intake clients.
        #[arg(long, short, default_value_t = 8)]
        clients: usize,
        /// Raise the alarms with no gateway (nothing sent): what the
        /// alarms alone cost intake.
        #[arg(long)]
        no_gateway: bool,
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

/// A report as JSON, for `all`'s list of runs.
fn to_json<T: serde::Serialize>(report: &T) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(report).map_err(|e| CliError::Other(e.to_string()))
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
    let progress = format != Format::Json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = match cmd {
        Cmd::All {
            duration,
            incidents,
            cycles,
        } => {
            return all(
                Duration::from_secs(duration.max(1)),
                incidents,
                cycles.max(1),
                progress,
                format,
                out,
            )
            .await;
        }
        Cmd::Query {
            load,
            incidents,
            posts,
            open_per_post,
        } => {
            let options = bench::query::QueryOptions {
                load: load.options(None),
                incidents,
                posts: posts.max(1),
                open_per_post,
                progress,
            };
            bench::on_target(
                load.target(&addr, token.as_deref())?,
                load.data.clone(),
                async |prepared| bench::query::run(prepared, &options).await,
            )
            .await
            .map_err(other)?
        }
        Cmd::Mixed {
            load,
            posts,
            consoles,
        } => {
            let options = bench::mixed::MixedOptions {
                load: load.options(None),
                posts: posts.max(1),
                consoles,
            };
            bench::on_target(
                load.target(&addr, token.as_deref())?,
                load.data.clone(),
                async |prepared| bench::mixed::run(prepared, &options).await,
            )
            .await
            .map_err(other)?
        }
        Cmd::Startup {
            incidents,
            restarts,
            data,
        } => bench::startup::run(&bench::startup::StartupOptions {
            incidents,
            restarts,
            data,
            progress,
        })
        .await
        .map_err(other)?,
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
        Cmd::Report {
            incidents,
            repeats,
            data,
            concurrency,
            cost_clients,
            cost_seconds,
            cost_rounds,
            replays,
        } => {
            let report = bench::report::run(&bench::report::ReportBenchOptions {
                incidents,
                repeats,
                data,
                fill_concurrency: concurrency,
                cost_clients,
                cost_seconds,
                cost_rounds,
                replays,
                progress,
            })
            .await
            .map_err(other)?;
            if format == Format::Json {
                return json(out, &report);
            }
            for line in report.lines() {
                writeln!(out, "{line}")?;
            }
            return Ok(());
        }
        Cmd::Search {
            incidents,
            data,
            clients,
            duration,
            cost_rounds,
            cost_seconds,
        } => {
            let report = bench::search::run(&bench::search::SearchBenchOptions {
                incidents,
                data,
                load: LoadOptions {
                    clients: clients.max(1),
                    duration: Duration::from_secs(duration.max(1)),
                    count: None,
                    rate: None,
                },
                cost_rounds,
                cost_seconds,
                progress,
            })
            .await
            .map_err(other)?;
            if format == Format::Json {
                return json(out, &report);
            }
            for line in report.lines() {
                writeln!(out, "{line}")?;
            }
            return Ok(());
        }
        Cmd::Alarms {
            alarms,
            over,
            rounds,
            clients,
            no_gateway,
        } => {
            let report = bench::alarms::run(&bench::alarms::AlarmBenchOptions {
                alarms,
                over,
                rounds,
                clients,
                no_gateway,
            })
            .await
            .map_err(other)?;
            if format == Format::Json {
                return json(out, &report);
            }
            for line in report.lines() {
                writeln!(out, "{line}")?;
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
            let options = load.options(None);
            let (report, ceilings) = bench::on_target(
                load.target(&addr, token.as_deref())?,
                load.data.clone(),
                async |prepared| intake_with_ceilings(prepared, &options, baseline).await,
            )
            .await
            .map_err(other)?;
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
            let options = bench::dispatch::DispatchOptions {
                load: load.options(Some(1000.0)),
                posts,
                consoles,
            };
            bench::on_target(
                load.target(&addr, token.as_deref())?,
                load.data.clone(),
                async |prepared| bench::dispatch::run(prepared, &options).await,
            )
            .await
            .map_err(other)?
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

/// One target: what was measured against what we promise.
#[derive(Debug, serde::Serialize)]
struct Goal {
    what: String,
    measured: f64,
    target: String,
    met: bool,
}

fn target(what: &str, measured: f64, at_most: Option<f64>, at_least: Option<f64>) -> Goal {
    let met =
        at_most.is_none_or(|max| measured <= max) && at_least.is_none_or(|min| measured >= min);
    let target = match (at_most, at_least) {
        (Some(max), _) => format!("≤ {max}"),
        (_, Some(min)) => format!("≥ {min}"),
        _ => String::new(),
    };
    Goal {
        what: what.to_owned(),
        measured: (measured * 100.0).round() / 100.0,
        target,
        met,
    }
}

fn series_p99_ms(report: &Report, prefix: &str) -> f64 {
    report
        .series
        .iter()
        .find(|(name, _)| name.starts_with(prefix))
        .map_or(f64::NAN, |(_, l)| l.p99_us as f64 / 1000.0)
}

/// `duty bench all`.
async fn all(
    duration: Duration,
    incidents: u64,
    cycles: usize,
    progress: bool,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let text = format != Format::Json;
    let mut reports: Vec<serde_json::Value> = Vec::new();
    let mut targets = Vec::new();
    let say = |out: &mut dyn Write, lines: Vec<String>| -> Result<(), CliError> {
        if text {
            for line in lines {
                writeln!(out, "{line}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    };
    let load = |clients: usize, rate: Option<f64>| LoadOptions {
        clients,
        duration,
        count: None,
        rate,
    };

    // Intake and its ceilings, at one client and at 32.
    for clients in [1, 32] {
        let options = load(clients, None);
        let (report, ceilings) = bench::on_target(Target::Spawned, None, async |prepared| {
            intake_with_ceilings(prepared, &options, true).await
        })
        .await
        .map_err(other)?;
        let ceilings = ceilings.ok_or_else(|| CliError::Other("no ceilings".into()))?;
        let mut lines = Vec::new();
        for r in [
            &ceilings.transport,
            &ceilings.storage,
            &ceilings.naive,
            &report,
        ] {
            lines.extend(r.lines());
        }
        let ratios = ceilings.ratios(&report);
        for (name, value) in &ratios {
            lines.push(format!("  {name}: {value:.2}"));
        }
        say(out, lines)?;
        let ratio = |name: &str| {
            ratios
                .iter()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |(_, v)| *v)
        };
        // Issue 13's targets for the write-ahead journal.
        if clients == 1 {
            targets.push(target(
                "1 client: durable create p50 / no-op RPC p50",
                ratio("p50 / no-op RPC p50"),
                Some(3.0),
                None,
            ));
            targets.push(target(
                "1 client: durable intake / naive durable design",
                ratio("throughput / naive durable"),
                None,
                Some(1.0),
            ));
        } else {
            targets.push(target(
                "32 clients: durable intake / no-op RPC throughput",
                ratio("throughput / no-op RPC"),
                None,
                Some(0.35),
            ));
            targets.push(target(
                "32 clients: durable intake / naive durable design",
                ratio("throughput / naive durable"),
                None,
                Some(1.0),
            ));
        }
        reports.push(serde_json::json!({"result": report, "ceilings": ceilings}));
    }

    // Dispatch: 500 posts and 50 consoles watching, 1,000 assigns/s.
    let options = bench::dispatch::DispatchOptions {
        load: load(24, Some(1000.0)),
        posts: 500,
        consoles: 50,
    };
    let dispatch = bench::on_target(Target::Spawned, None, async |prepared| {
        bench::dispatch::run(prepared, &options).await
    })
    .await
    .map_err(other)?;
    say(out, dispatch.lines())?;
    targets.push(target(
        &format!(
            "dispatch push to the post p99, ms ({:.0} assigns/s)",
            dispatch.per_second
        ),
        series_p99_ms(&dispatch, "push to the post"),
        Some(5.0),
        None,
    ));
    targets.push(target(
        "50 consoles watching everything: push p99, ms",
        series_p99_ms(&dispatch, "push to consoles"),
        Some(10.0),
        None,
    ));
    targets.push(target(
        "dispatch deliveries missed",
        dispatch
            .figures
            .get("deliveries missed")
            .copied()
            .unwrap_or(f64::NAN),
        Some(0.0),
        None,
    ));
    reports.push(to_json(&dispatch)?);

    // Query on a store of `incidents`.
    let options = bench::query::QueryOptions {
        load: load(8, None),
        incidents,
        posts: 100,
        open_per_post: 20,
        progress,
    };
    let query = bench::on_target(Target::Spawned, None, async |prepared| {
        bench::query::run(prepared, &options).await
    })
    .await
    .map_err(other)?;
    say(out, query.lines())?;
    targets.push(target(
        &format!("a post's open list p99, ms ({incidents} incidents stored)"),
        query.latency.p99_us as f64 / 1000.0,
        Some(5.0),
        None,
    ));
    reports.push(to_json(&query)?);

    // A typhoon night.
    let options = bench::mixed::MixedOptions {
        load: load(32, None),
        posts: 50,
        consoles: 10,
    };
    let mixed = bench::on_target(Target::Spawned, None, async |prepared| {
        bench::mixed::run(prepared, &options).await
    })
    .await
    .map_err(other)?;
    say(out, mixed.lines())?;
    reports.push(to_json(&mixed)?);

    // Startup and memory at `incidents`.
    let startup = bench::startup::run(&bench::startup::StartupOptions {
        incidents,
        restarts: 5,
        data: None,
        progress,
    })
    .await
    .map_err(other)?;
    say(out, startup.lines())?;
    targets.push(target(
        &format!("start with {incidents} incidents, s (slowest of 5)"),
        startup.latency.max_us as f64 / 1e6,
        Some(2.0),
        None,
    ));
    targets.push(target(
        &format!("on disk per incident, bytes ({incidents} incidents, the bench fill)"),
        startup
            .figures
            .get("on disk per incident, bytes")
            .copied()
            .unwrap_or(f64::NAN),
        Some(1536.0),
        None,
    ));
    targets.push(target(
        &format!("RSS after start with {incidents} incidents, MiB"),
        startup.rss_mib.unwrap_or(f64::NAN),
        Some(150.0),
        None,
    ));
    reports.push(to_json(&startup)?);

    // The crash drill.
    let crash = bench::crash::run(&bench::crash::DrillOptions {
        cycles,
        writers: 6,
        stop: bench::crash::Stop::Kill,
        load: Duration::from_millis(300),
    })
    .await
    .map_err(other)?;
    say(out, vec![crash.line()])?;
    targets.push(target(
        &format!("crash drill: acknowledged writes lost over {cycles} SIGKILLs"),
        (crash.lost + crash.damaged) as f64,
        Some(0.0),
        None,
    ));
    reports.push(to_json(&crash)?);

    // The console.
    for (width, height) in [(80, 24), (160, 48)] {
        let render = bench::render(10_000, 300, width, height).map_err(other)?;
        say(
            out,
            vec![format!(
                "render: 10000 open incidents at {width}x{height}: frame p50 {} µs, p99 {} µs; board rebuild p50 {} µs",
                render.frame_p50_us, render.frame_p99_us, render.rebuild_p50_us
            )],
        )?;
        reports.push(to_json(&render)?);
    }

    if !text {
        return json(
            out,
            &serde_json::json!({"runs": reports, "targets": targets}),
        );
    }
    writeln!(out, "targets:")?;
    for t in &targets {
        writeln!(
            out,
            "  {} {}: {} (target {})",
            if t.met { "met   " } else { "MISSED" },
            t.what,
            t.measured,
            t.target
        )?;
    }
    Ok(())
}
