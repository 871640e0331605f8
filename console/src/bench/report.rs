//! `duty bench report`: a year of history, the reports over it, and what
//! keeping the assessment rollups costs the write path.
//!
//! **The fill.** An embedded dutyd on a virtual clock (so a year passes in
//! minutes) holds the demo city (ten posts, fourteen units, fourteen
//! categories, their places). N incidents are spread evenly over the 365
//! days of 2025, in six waves a day, each lived through as the real API
//! sees it: created and dispatched to the place's post (a third also to a
//! unit of its category), signed for by the post's own token (one in 25
//! sent back instead, then cancelled), arrived, resolved and closed with a
//! callback (half with a satisfaction score); one in 200 is a drill. The
//! virtual clock moves forward between chunks of each step, so sign-for,
//! arrival and resolution times spread over seconds to hours and some
//! clocks run out and raise alarms. Days done are recorded beside a kept
//! store (`--data`), so an interrupted fill resumes.
//!
//! **The reports.** GetReport for the year 2025 (every incident in the
//! store, plus 2024 as the previous period), once per slicing, timed from
//! the client, repeated; and a month for comparison.
//!
//! **Replay.** Once the board snapshots have caught up with the journal,
//! ReplayBoard at `--replays` instants spread over the year — each the
//! time of a record picked evenly over the journal, so they fall where the
//! year was busy — asked by time as `duty incident list --at` does, each
//! timed from the client, and one event on from each (by seq, as the
//! console's `→` asks).
//!
//! **The cost.** Two more embedded daemons on fresh stores, identical but
//! one with the rollups off ([`EngineOptions::assessment_rollups`]), take
//! the same workload — a call's whole life (create + dispatch, sign for,
//! arrive, resolve, close: five durable writes) from every client — in
//! alternating rounds; the report gives each round's calls per second and
//! the ratio of the medians, which holds on a noisy machine where absolute
//! figures do not. The daemon without rollups is checked to have none.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dutyroom_daemon::clock::ManualClock;
use dutyroom_daemon::engine::EngineOptions;
use dutyroom_daemon::{Config, Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;
use futures_util::future::try_join_all;
use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};
use pb::incident_service_client::IncidentServiceClient;

use crate::bench::ab;
use crate::bench::load::{self, LoadOptions};
use crate::client::{Authed, Client};
use crate::demo;

/// The shape of a report run.
#[derive(Debug, Clone)]
pub struct ReportBenchOptions {
    /// Incidents spread over the year.
    pub incidents: u64,
    /// Times each report is asked for.
    pub repeats: usize,
    /// Keep (or reuse, and resume filling) the store here.
    pub data: Option<PathBuf>,
    /// Calls in flight at once while filling.
    pub fill_concurrency: usize,
    /// Clients in the cost measurement.
    pub cost_clients: usize,
    /// Seconds per cost round.
    pub cost_seconds: u64,
    /// Rounds of each (with and without rollups), alternated.
    pub cost_rounds: usize,
    /// Instants to replay the board at (0: skip).
    pub replays: usize,
    /// Show a progress bar while filling.
    pub progress: bool,
}

/// One report's timings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportTiming {
    /// What was asked: `year by category`, ….
    pub report: String,
    /// Round trip, milliseconds: median and worst.
    pub p50_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// Incidents the report counted (its summary's `created`).
    pub incidents: u64,
    /// Rows returned (posts + units + slices).
    pub rows: usize,
}

/// What keeping the rollups costs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollupCost {
    /// Clients.
    pub clients: usize,
    /// Calls (whole lives) per second per round: A with rollups, B without.
    pub compared: ab::Compared,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportBench {
    /// Incidents in the store.
    pub incidents: u64,
    /// Incidents this run added, and how long that took.
    pub filled: u64,
    /// Seconds.
    pub fill_seconds: f64,
    /// The store's size on disk, MiB.
    pub store_mib: f64,
    /// Each report asked for.
    pub reports: Vec<ReportTiming>,
    /// The rollups' cost, when measured.
    pub cost: Option<RollupCost>,
    /// The board replayed at instants across the year.
    pub replay: Option<ReplayTiming>,
}

/// `ReplayBoard` over the year: at spread instants, then stepping.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayTiming {
    /// Seconds the board snapshots took, after the fill, to catch up.
    pub catch_up_seconds: f64,
    /// Journal records in the store.
    pub records: u64,
    /// Instants asked (each a different one, spread over the year).
    pub asked: usize,
    /// Round trip by instant, milliseconds: median, p99 (of `asked`), worst.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// Incidents on a replayed board, mean and most.
    pub mean_board: f64,
    /// Most.
    pub max_board: usize,
    /// One step on by event from each instant: median and worst, ms.
    pub step_p50_ms: f64,
    /// Worst.
    pub step_max_ms: f64,
}

impl ReportBench {
    /// The report as lines of text.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "report: {} incidents over 2025 ({} filled in {:.0} s), store {:.0} MiB",
            self.incidents, self.filled, self.fill_seconds, self.store_mib
        )];
        for timing in &self.reports {
            lines.push(format!(
                "  {:<22} p50 {:>8.1} ms  max {:>8.1} ms  ({} incidents, {} rows)",
                timing.report, timing.p50_ms, timing.max_ms, timing.incidents, timing.rows
            ));
        }
        if let Some(replay) = &self.replay {
            lines.push(format!(
                "replay (ReplayBoard) over {} journal records, snapshots caught up in {:.0} s:",
                replay.records, replay.catch_up_seconds
            ));
            lines.push(format!(
                "  at {} instants across 2025: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (boards of {:.0} incidents, at most {})",
                replay.asked,
                replay.p50_ms,
                replay.p99_ms,
                replay.max_ms,
                replay.mean_board,
                replay.max_board
            ));
            lines.push(format!(
                "  one event on from each:  p50 {:.1} ms  max {:.1} ms",
                replay.step_p50_ms, replay.step_max_ms
            ));
        }
        if let Some(cost) = &self.cost {
            let c = &cost.compared;
            lines.push(format!(
                "rollup cost, {} clients, a call's whole life (5 writes) per op:",
                cost.clients
            ));
            lines.push(format!(
                "  with rollups    {} /s (median {:.0})",
                ab::rounds(&c.a),
                ab::median(&c.a)
            ));
            lines.push(format!(
                "  without rollups {} /s (median {:.0})",
                ab::rounds(&c.b),
                ab::median(&c.b)
            ));
            lines.push(format!(
                "  ratio {:.2} (pairs {:.2}–{:.2}): the rollups cost {:.0} % of throughput",
                c.ratio,
                c.pair_ratios.0,
                c.pair_ratios.1,
                (1.0 - c.ratio) * 100.0
            ));
        }
        lines
    }
}

/// The year the fill spreads over, and the centre's zone it is in.
const YEAR: i16 = 2025;
const ZONE: &str = "Asia/Shanghai";
/// Waves of calls a day, each lived through within its share of the day.
const WAVES: u64 = 6;

/// Runs the fill, the reports and (unless `cost_rounds` is 0) the cost.
pub async fn run(options: &ReportBenchOptions) -> anyhow::Result<ReportBench> {
    let scratch = tempfile::tempdir()?;
    let data = options
        .data
        .clone()
        .unwrap_or_else(|| scratch.path().join("data"));
    let zone = TimeZone::get(ZONE)?;
    let first_day = civil::date(YEAR, 1, 1);
    let progress_file = data.with_extension("bench.json");
    let mut kept: Kept = match std::fs::read_to_string(&progress_file) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => Kept::default(),
    };
    let start_at = first_day
        .checked_add(jiff::Span::new().days(kept.days_done as i64))?
        .to_datetime(civil::Time::midnight())
        .to_zoned_datetime(zone.clone())?
        .timestamp();
    let clock = Arc::new(ManualClock::new(start_at));
    let mut daemon = Daemon::new(Config {
        data: data.clone(),
        time_zone: ZONE.into(),
        ..Config::default()
    });
    daemon.clock = clock.clone();
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    let handle = daemon.start().await?;
    let result = fill_and_measure(
        options,
        &handle,
        &clock,
        &zone,
        &data,
        &progress_file,
        &mut kept,
    )
    .await;
    let _ = handle.shutdown().await;
    let mut bench = result?;
    bench.store_mib = dir_size(&data) as f64 / (1024.0 * 1024.0);
    if options.cost_rounds > 0 {
        bench.cost = Some(cost(options).await?);
    }
    Ok(bench)
}

/// What a kept store's fill has done: its tokens, and days filled.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Kept {
    tokens: Option<Tokens>,
    days_done: u64,
    incidents: u64,
}

/// Unlimited tokens for the admin, each post and each unit.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Tokens {
    admin: String,
    posts: Vec<(String, String)>,
    units: Vec<(String, String)>,
}

async fn fill_and_measure(
    options: &ReportBenchOptions,
    handle: &DaemonHandle,
    clock: &ManualClock,
    zone: &TimeZone,
    data: &Path,
    progress_file: &Path,
    kept: &mut Kept,
) -> anyhow::Result<ReportBench> {
    let addr = handle.addr.to_string();
    let tokens = match (&handle.admin_token, &kept.tokens) {
        (Some(admin), _) => {
            let tokens = city(&addr, admin).await?;
            kept.tokens = Some(tokens.clone());
            std::fs::write(progress_file, serde_json::to_string(kept)?)?;
            tokens
        }
        (None, Some(tokens)) => tokens.clone(),
        (None, None) => anyhow::bail!(
            "{} holds a store this bench did not fill: use an empty directory",
            data.display()
        ),
    };
    let filler = Filler::connect(&addr, &tokens, options.fill_concurrency.max(1)).await?;
    let days = days_in_year();
    let began = Instant::now();
    let mut filled = 0;
    if kept.days_done < days {
        let bar = if options.progress {
            indicatif::ProgressBar::new(options.incidents)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "filling 2025 {bar:40} {pos}/{len} incidents, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(kept.incidents);
        for day in kept.days_done..days {
            let today = (options.incidents * (day + 1) / days) - (options.incidents * day / days);
            let midnight = civil::date(YEAR, 1, 1)
                .checked_add(jiff::Span::new().days(day as i64))?
                .to_datetime(civil::Time::midnight())
                .to_zoned_datetime(zone.clone())?
                .timestamp();
            for wave in 0..WAVES {
                let size = (today * (wave + 1) / WAVES) - (today * wave / WAVES);
                if size == 0 {
                    continue;
                }
                let at = midnight
                    .checked_add(SignedDuration::from_hours((wave * 24 / WAVES) as i64 + 1))?;
                clock.set(at.max(clock_now(clock)));
                let seed = kept.incidents;
                filler.wave(clock, seed, size).await?;
                kept.incidents += size;
                filled += size;
                bar.set_position(kept.incidents);
            }
            kept.days_done = day + 1;
            std::fs::write(progress_file, serde_json::to_string(kept)?)?;
        }
        bar.finish_and_clear();
    }
    let fill_seconds = began.elapsed().as_secs_f64();
    // Past the year's last deadline: whatever clocks are left have fired.
    let after = civil::date(YEAR + 1, 1, 2)
        .to_datetime(civil::Time::midnight())
        .to_zoned_datetime(zone.clone())?
        .timestamp();
    clock.set(after.max(clock_now(clock)));
    let admin = Client::connect(&addr, Some(&tokens.admin)).await?;
    let incidents = crate::bench::query::stored(&admin).await?;
    let mut reports = Vec::new();
    for (name, period, day, slice_by) in [
        (
            "year by category",
            pb::PeriodKind::Year,
            "2025-06-01",
            pb::SliceBy::Category,
        ),
        (
            "year by severity",
            pb::PeriodKind::Year,
            "2025-06-01",
            pb::SliceBy::Severity,
        ),
        (
            "year by source",
            pb::PeriodKind::Year,
            "2025-06-01",
            pb::SliceBy::Source,
        ),
        (
            "year by place",
            pb::PeriodKind::Year,
            "2025-06-01",
            pb::SliceBy::Place,
        ),
        (
            "month by category",
            pb::PeriodKind::Month,
            "2025-11-01",
            pb::SliceBy::Category,
        ),
    ] {
        reports
            .push(time_report(&admin, name, period, day, slice_by, options.repeats.max(1)).await?);
    }
    let replay = if options.replays > 0 {
        Some(time_replays(&admin, options.replays).await?)
    } else {
        None
    };
    Ok(ReportBench {
        incidents,
        filled,
        fill_seconds,
        store_mib: 0.0,
        reports,
        cost: None,
        replay,
    })
}

/// Waits for the board snapshots to catch up with the journal, then asks
/// for the board at `count` instants spread over the year: each the time of
/// a journal record picked evenly over the whole journal (so the instants
/// fall where the year was busy, not in the quiet between waves), asked by
/// time as `duty incident list --at` does; and one event on from each.
async fn time_replays(admin: &Client, count: usize) -> anyhow::Result<ReplayTiming> {
    let caught_up = Instant::now();
    let mut info = pb::ServerInfo::default();
    for _ in 0..7_200 {
        info = admin
            .journal()
            .get_server_info(pb::GetServerInfoRequest {})
            .await?
            .into_inner();
        if info.head_seq.saturating_sub(info.replay_snapshot_seq) < 2_048 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let catch_up_seconds = caught_up.elapsed().as_secs_f64();
    let head = info.head_seq.max(1);
    let mut incidents = admin.incidents();
    let mut times = Vec::with_capacity(count);
    let mut steps = Vec::with_capacity(count);
    let mut boards = Vec::with_capacity(count);
    for n in 0..count as u64 {
        // Evenly over the journal, offset so no two runs of `n` align.
        let seq = 1 + (n * head + head / 2) / count as u64 % head;
        let instant = incidents
            .replay_board(pb::ReplayBoardRequest {
                at: String::new(),
                seq,
            })
            .await?
            .into_inner()
            .at
            .map(|at| jiff::Timestamp::new(at.seconds, at.nanos))
            .transpose()?
            .ok_or_else(|| anyhow::anyhow!("a replay without its instant"))?;
        let began = Instant::now();
        let reply = incidents
            .replay_board(pb::ReplayBoardRequest {
                at: instant.to_string(),
                seq: 0,
            })
            .await?
            .into_inner();
        times.push(began.elapsed().as_secs_f64() * 1000.0);
        boards.push(reply.incidents.len());
        if reply.next_seq > 0 {
            let began = Instant::now();
            incidents
                .replay_board(pb::ReplayBoardRequest {
                    at: String::new(),
                    seq: reply.next_seq,
                })
                .await?;
            steps.push(began.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted
        .get(((sorted.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    Ok(ReplayTiming {
        catch_up_seconds,
        records: info.head_seq,
        asked: count,
        p50_ms: ab::median(&times),
        p99_ms: p99,
        max_ms: times.iter().copied().fold(0.0, f64::max),
        mean_board: boards.iter().sum::<usize>() as f64 / boards.len().max(1) as f64,
        max_board: boards.iter().copied().max().unwrap_or(0),
        step_p50_ms: ab::median(&steps),
        step_max_ms: steps.iter().copied().fold(0.0, f64::max),
    })
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    dutyroom_daemon::clock::Clock::now(clock)
}

fn days_in_year() -> u64 {
    civil::date(YEAR, 1, 1).days_in_year() as u64
}

async fn time_report(
    admin: &Client,
    name: &str,
    period: pb::PeriodKind,
    day: &str,
    slice_by: pb::SliceBy,
    repeats: usize,
) -> anyhow::Result<ReportTiming> {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats {
        let began = Instant::now();
        let report = admin
            .reports()
            .get_report(pb::GetReportRequest {
                from: day.into(),
                period: period as i32,
                slice_by: slice_by as i32,
                ..Default::default()
            })
            .await?
            .into_inner();
        times.push(began.elapsed().as_secs_f64() * 1000.0);
        last = Some(report);
    }
    let report = last.unwrap_or_default();
    Ok(ReportTiming {
        report: name.into(),
        p50_ms: ab::median(&times),
        max_ms: times.iter().copied().fold(0.0, f64::max),
        incidents: report.summary.map_or(0, |s| s.created),
        rows: report.posts.len() + report.units.len() + report.slices.len(),
    })
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Seeds the demo city and makes unlimited tokens (the demo's own are
/// limited per token, which would measure the limits, not dutyd).
async fn city(addr: &str, admin: &str) -> anyhow::Result<Tokens> {
    let client = Client::connect(addr, Some(admin)).await?;
    demo::seed(&client, admin)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo city: {e}"))?;
    let unlimited = |name: String, role: String| {
        let client = client.clone();
        async move {
            anyhow::Ok(
                client
                    .tokens()
                    .create_token(pb::CreateTokenRequest {
                        name,
                        role,
                        calls_per_second: Some(0),
                        max_streams: Some(0),
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .secret,
            )
        }
    };
    let admin = unlimited("duty bench (no limits)".into(), "admin".into()).await?;
    let mut posts = Vec::new();
    for (id, name, _) in demo::POSTS {
        posts.push((
            id.to_owned(),
            unlimited(format!("{name} 压测"), format!("post:{id}")).await?,
        ));
    }
    let mut units = Vec::new();
    for (id, name, _, _) in demo::UNITS {
        units.push((
            id.to_owned(),
            unlimited(format!("{name} 压测"), format!("unit:{id}")).await?,
        ));
    }
    Ok(Tokens {
        admin,
        posts,
        units,
    })
}

type Incidents = IncidentServiceClient<Authed>;

/// Lives calls through, with the right token for each step.
struct Filler {
    admin: Incidents,
    posts: Vec<(String, Incidents)>,
    units: std::collections::HashMap<String, Incidents>,
    concurrency: usize,
}

/// One call of a wave, as the fill plans it.
struct Call {
    number: String,
    post: usize,
    unit: Option<String>,
    sent_back: bool,
    satisfaction: u32,
}

/// A deterministic spread (splitmix64): the same fill every run.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Filler {
    async fn connect(addr: &str, tokens: &Tokens, concurrency: usize) -> anyhow::Result<Filler> {
        let admin = Client::connect(addr, Some(&tokens.admin))
            .await?
            .incidents();
        let mut posts = Vec::new();
        for (id, token) in &tokens.posts {
            posts.push((
                id.clone(),
                Client::connect(addr, Some(token)).await?.incidents(),
            ));
        }
        let mut units = std::collections::HashMap::new();
        for (id, token) in &tokens.units {
            units.insert(
                id.clone(),
                Client::connect(addr, Some(token)).await?.incidents(),
            );
        }
        Ok(Filler {
            admin,
            posts,
            units,
            concurrency,
        })
    }

    /// Runs `step` over `calls` in chunks of the fill's concurrency, moving
    /// the clock forward by `pause(chunk)` seconds before each chunk.
    async fn in_chunks<'c, F, Fut>(
        &self,
        clock: &ManualClock,
        calls: impl Iterator<Item = &'c Call>,
        pause: impl Fn(u64) -> i64,
        step: F,
    ) -> anyhow::Result<()>
    where
        F: Fn(&'c Call) -> Fut,
        Fut: Future<Output = Result<(), tonic::Status>>,
    {
        let calls: Vec<&Call> = calls.collect();
        for (index, chunk) in calls.chunks(self.concurrency).enumerate() {
            clock.advance(SignedDuration::from_secs(pause(index as u64)));
            try_join_all(chunk.iter().map(|call| step(call))).await?;
        }
        Ok(())
    }

    /// Creates `size` calls and lives each through; `seed` numbers them.
    async fn wave(&self, clock: &ManualClock, seed: u64, size: u64) -> anyhow::Result<()> {
        let mut calls = Vec::with_capacity(size as usize);
        for first in (0..size).step_by(self.concurrency) {
            let last = (first + self.concurrency as u64).min(size);
            let created = try_join_all((first..last).map(|i| {
                let n = seed + i;
                let (request, call) = self.plan(n);
                let mut admin = self.admin.clone();
                async move {
                    let reply = admin.create_incident(request).await?.into_inner();
                    let number = reply.incident.map(|i| i.number).unwrap_or_default();
                    Ok::<Call, tonic::Status>(Call { number, ..call })
                }
            }))
            .await?;
            calls.extend(created);
        }
        let salt = mix(seed);
        let spread =
            |base: i64, range: u64| move |chunk: u64| base + (mix(salt ^ chunk) % range) as i64;
        // Sign for (or send back): 5–65 s a chunk.
        self.in_chunks(clock, calls.iter(), spread(5, 60), |call| {
            let mut post = self.posts[call.post].1.clone();
            let number = call.number.clone();
            let sent_back = call.sent_back;
            async move {
                if sent_back {
                    post.refuse(pb::RefuseRequest {
                        incident: number,
                        assignment_id: 1,
                        reason: "不属于本辖区".into(),
                        ..Default::default()
                    })
                    .await?;
                } else {
                    post.sign_for(step(number, 1)).await?;
                }
                Ok(())
            }
        })
        .await?;
        let worked = || calls.iter().filter(|c| !c.sent_back);
        self.in_chunks(
            clock,
            calls.iter().filter(|c| c.sent_back),
            |_| 0,
            |call| {
                let mut admin = self.admin.clone();
                let number = call.number.clone();
                async move {
                    admin
                        .cancel(pb::CancelRequest {
                            incident: number,
                            reason: "已转其他辖区".into(),
                            ..Default::default()
                        })
                        .await?;
                    Ok(())
                }
            },
        )
        .await?;
        // Arrive: 30 s–8 min a chunk.
        self.in_chunks(clock, worked(), spread(30, 450), |call| {
            let mut post = self.posts[call.post].1.clone();
            let number = call.number.clone();
            async move {
                post.arrive(step(number, 1)).await?;
                Ok(())
            }
        })
        .await?;
        // A unit beside the post signs for and arrives.
        let with_unit = || worked().filter(|c| c.unit.is_some());
        for sign in [true, false] {
            self.in_chunks(clock, with_unit(), spread(20, 200), |call| {
                let unit = call
                    .unit
                    .as_deref()
                    .and_then(|u| self.units.get(u))
                    .cloned();
                let number = call.number.clone();
                async move {
                    let Some(mut unit) = unit else {
                        return Ok(());
                    };
                    if sign {
                        unit.sign_for(step(number, 2)).await?;
                    } else {
                        unit.arrive(step(number, 2)).await?;
                    }
                    Ok(())
                }
            })
            .await?;
        }
        // Resolve: 2–22 min a chunk; then the callback.
        self.in_chunks(clock, worked(), spread(120, 1_200), |call| {
            let mut admin = self.admin.clone();
            let number = call.number.clone();
            async move {
                admin
                    .resolve(pb::ResolveRequest {
                        incident: number,
                        outcome: "已到场处置完毕，现场恢复正常".into(),
                        ..Default::default()
                    })
                    .await?;
                Ok(())
            }
        })
        .await?;
        self.in_chunks(
            clock,
            worked(),
            |_| 30,
            |call| {
                let mut admin = self.admin.clone();
                let number = call.number.clone();
                let satisfaction = call.satisfaction;
                async move {
                    admin
                        .close(pb::CloseRequest {
                            incident: number,
                            callback_result: if satisfaction > 0 {
                                "已回访，群众认可处置结果".into()
                            } else {
                                "回访未接通".into()
                            },
                            satisfaction,
                            ..Default::default()
                        })
                        .await?;
                    Ok(())
                }
            },
        )
        .await
    }

    /// Call `n`: its intake and dispatch, and what will happen to it.
    fn plan(&self, n: u64) -> (pb::CreateIncidentRequest, Call) {
        let dice = mix(n);
        let post = (dice % self.posts.len() as u64) as usize;
        let (post_id, _, communities) = demo::POSTS[post % demo::POSTS.len()];
        let (category, _, _, units) = demo::CATEGORIES[((dice >> 8) % 14) as usize];
        let unit = (dice >> 16)
            .is_multiple_of(3)
            .then(|| units.first().map(|u| (*u).to_owned()))
            .flatten();
        let mut dispatch = vec![assign(
            pb::AssigneeKind::Post,
            post_id,
            pb::AssignmentRole::Lead,
        )];
        if let Some(unit) = &unit {
            dispatch.push(assign(
                pb::AssigneeKind::Unit,
                unit,
                pb::AssignmentRole::Support,
            ));
        }
        let community = ((dice >> 20) % 2) as usize;
        let request = pb::CreateIncidentRequest {
            request_id: String::new(),
            intake: Some(pb::IncidentIntake {
                source: [
                    pb::SourceChannel::Police110,
                    pb::SourceChannel::Fire119,
                    pb::SourceChannel::Hotline12345,
                    pb::SourceChannel::GridWorker,
                ][((dice >> 24) % 4) as usize] as i32,
                caller_name: "张先生".into(),
                caller_phone: format!("139{:08}", (dice >> 28) % 100_000_000),
                address: format!("{}{}号", communities[community], (dice >> 40) % 120 + 1),
                place_id: format!("{post_id}-c{}", community + 1),
                category: category.into(),
                severity: ((dice >> 44) % 4 + 1) as i32,
                summary: "群众来电反映情况，请求处置".into(),
                tags: Vec::new(),
                drill: (dice >> 48).is_multiple_of(200),
            }),
            dispatch,
        };
        let call = Call {
            number: String::new(),
            post,
            unit,
            sent_back: (dice >> 52).is_multiple_of(25),
            // Half reached on the callback, mostly content.
            satisfaction: if (dice >> 56).is_multiple_of(2) {
                [5, 5, 4, 4, 3, 2][((dice >> 57) % 6) as usize]
            } else {
                0
            },
        };
        (request, call)
    }
}

fn assign(kind: pb::AssigneeKind, id: &str, role: pb::AssignmentRole) -> pb::AssignRequest {
    pb::AssignRequest {
        assignee: Some(pb::Assignee {
            kind: kind as i32,
            id: id.into(),
            name: String::new(),
        }),
        role: role as i32,
        ..Default::default()
    }
}

fn step(incident: String, assignment_id: u32) -> pb::AssignmentActionRequest {
    pb::AssignmentActionRequest {
        incident,
        assignment_id,
        ..Default::default()
    }
}

/// A fresh embedded daemon on the system clock with the demo city, rollups
/// on or off; its handle, scratch directory and an unlimited admin and
/// post tokens.
async fn cost_daemon(rollups: bool) -> anyhow::Result<(DaemonHandle, tempfile::TempDir, Tokens)> {
    let dir = tempfile::tempdir()?;
    let mut daemon = Daemon::new(Config {
        data: dir.path().join("data"),
        time_zone: ZONE.into(),
        ..Config::default()
    });
    daemon.engine = EngineOptions {
        assessment_rollups: rollups,
        ..EngineOptions::default()
    };
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    let handle = daemon.start().await?;
    let admin = handle
        .admin_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a fresh store has an admin token"))?;
    let tokens = city(&handle.addr.to_string(), &admin).await?;
    Ok((handle, dir, tokens))
}

/// One round of whole lives on `daemon`: calls per second.
async fn cost_round(
    handle: &DaemonHandle,
    tokens: &Tokens,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let addr = handle.addr.to_string();
    let mut lanes = Vec::new();
    for index in 0..clients {
        let (post_id, post_token) = &tokens.posts[index % tokens.posts.len()];
        lanes.push((
            Client::connect(&addr, Some(&tokens.admin))
                .await?
                .incidents(),
            Client::connect(&addr, Some(post_token)).await?.incidents(),
            post_id.clone(),
        ));
    }
    let options = LoadOptions {
        clients,
        duration: Duration::from_secs(seconds.max(1)),
        count: None,
        rate: None,
    };
    let outcome = load::run(
        lanes,
        &options,
        |(mut admin, mut post, post_id), _, n| async move {
            let (category, _, _, _) = demo::CATEGORIES[(mix(n) % 14) as usize];
            let request = pb::CreateIncidentRequest {
                intake: Some(pb::IncidentIntake {
                    source: pb::SourceChannel::Police110 as i32,
                    caller_name: "张先生".into(),
                    caller_phone: "13912345678".into(),
                    address: format!("新华路{}号", n % 300 + 1),
                    place_id: format!("{post_id}-c1"),
                    category: category.into(),
                    severity: (n % 4 + 1) as i32,
                    summary: "群众来电反映情况，请求处置".into(),
                    ..Default::default()
                }),
                dispatch: vec![assign(
                    pb::AssigneeKind::Post,
                    &post_id,
                    pb::AssignmentRole::Lead,
                )],
                ..Default::default()
            };
            let number = admin
                .create_incident(request)
                .await?
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            post.sign_for(step(number.clone(), 1)).await?;
            post.arrive(step(number.clone(), 1)).await?;
            admin
                .resolve(pb::ResolveRequest {
                    incident: number.clone(),
                    outcome: "已处置".into(),
                    ..Default::default()
                })
                .await?;
            admin
                .close(pb::CloseRequest {
                    incident: number,
                    callback_result: "已回访".into(),
                    satisfaction: 5,
                    ..Default::default()
                })
                .await?;
            Ok(())
        },
    )
    .await?;
    if let Some((code, count)) = outcome.errors.iter().next() {
        anyhow::bail!("{count} calls failed with {code} during the cost round");
    }
    Ok(outcome.histogram.len() as f64 / outcome.seconds)
}

/// Incidents today's rollups hold on `handle` (0 when it keeps none).
async fn rollup_count(handle: &DaemonHandle, tokens: &Tokens) -> anyhow::Result<u64> {
    let admin = Client::connect(&handle.addr.to_string(), Some(&tokens.admin)).await?;
    let today = Timestamp::now()
        .to_zoned_datetime(TimeZone::get(ZONE)?)
        .date();
    let report = admin
        .reports()
        .get_report(pb::GetReportRequest {
            from: (today - jiff::Span::new().days(1)).to_string(),
            to: (today + jiff::Span::new().days(1)).to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(report.summary.map_or(0, |s| s.created))
}

async fn cost(options: &ReportBenchOptions) -> anyhow::Result<RollupCost> {
    let (with, _with_dir, with_tokens) = cost_daemon(true).await?;
    let (without, _without_dir, without_tokens) = cost_daemon(false).await?;
    let clients = options.cost_clients.max(1);
    let seconds = options.cost_seconds;
    let measured = async {
        let compared = ab::alternate(options.cost_rounds, async |rollups| {
            if rollups {
                cost_round(&with, &with_tokens, clients, seconds).await
            } else {
                cost_round(&without, &without_tokens, clients, seconds).await
            }
        })
        .await?;
        let kept = rollup_count(&with, &with_tokens).await?;
        let none = rollup_count(&without, &without_tokens).await?;
        anyhow::ensure!(
            kept > 0 && none == 0,
            "the comparison is void: the daemon with rollups counted {kept} incidents, \
             the one without {none}"
        );
        anyhow::Ok(compared)
    }
    .await;
    let _ = with.shutdown().await;
    let _ = without.shutdown().await;
    Ok(RollupCost {
        clients,
        compared: measured?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fill_is_the_same_every_run_and_spreads_its_calls() {
        let posts = (0..10)
            .map(|n| mix(n) % 10)
            .collect::<std::collections::BTreeSet<_>>();
        assert!(posts.len() >= 5, "{posts:?}");
        assert_eq!(mix(42), mix(42));
    }
}
