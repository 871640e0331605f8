//! `duty bench`: load generation and latency measurement.
//!
//! Drives a daemon — an embedded one on a fresh temporary store (default) or
//! a running one — with N concurrent clients, each on its own connection,
//! and records every call's latency in an HDR histogram.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dutyroom_daemon::{Config, Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

use crate::client::Client;

/// Where the load goes.
pub enum Target {
    /// A daemon started in this process on a temporary store.
    Embedded,
    /// A running daemon.
    Remote {
        /// Its address.
        addr: String,
        /// A token that may create incidents.
        token: String,
    },
}

/// How much load.
pub struct LoadOptions {
    /// Concurrent clients, each on its own connection.
    pub clients: usize,
    /// Run for this long...
    pub duration: Duration,
    /// ...or stop after this many calls in total.
    pub count: Option<u64>,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The workload.
    pub workload: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Successful calls per second.
    pub per_second: f64,
    /// Latency percentiles of successful calls, microseconds.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Resident memory of the daemon's process, MiB (embedded: this process).
    pub rss_mib: Option<f64>,
}

/// A daemon the bench started, and how to reach it.
pub struct Prepared {
    addr: String,
    token: String,
    daemon: Option<DaemonHandle>,
    _dir: Option<tempfile::TempDir>,
}

impl Prepared {
    /// Stops the embedded daemon, if any.
    pub async fn finish(self) {
        if let Some(daemon) = self.daemon {
            let _ = daemon.shutdown().await;
        }
    }
}

/// Starts (or connects to) the target and loads the categories the
/// workloads use.
pub async fn prepare(target: Target, data: Option<PathBuf>) -> anyhow::Result<Prepared> {
    let prepared = match target {
        Target::Remote { addr, token } => Prepared {
            addr,
            token,
            daemon: None,
            _dir: None,
        },
        Target::Embedded => {
            let dir = tempfile::tempdir()?;
            let data = data.unwrap_or_else(|| dir.path().join("data"));
            let mut daemon = Daemon::new(Config {
                data,
                ..Config::default()
            });
            daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
            let handle = daemon.start().await?;
            let token = handle
                .admin_token
                .clone()
                .ok_or_else(|| anyhow::anyhow!("--data must name an empty directory"))?;
            Prepared {
                addr: handle.addr.to_string(),
                token,
                daemon: Some(handle),
                _dir: Some(dir),
            }
        }
    };
    let client = Client::connect(&prepared.addr, Some(&prepared.token)).await?;
    let exists = client
        .categories()
        .get_category(pb::GetRequest { id: "fire".into() })
        .await
        .is_ok();
    if !exists {
        client
            .categories()
            .create_category(pb::CreateCategoryRequest {
                request_id: String::new(),
                category: Some(pb::Category {
                    code: "fire".into(),
                    name_zh: "火灾".into(),
                    name_en: "Fire".into(),
                    ..Default::default()
                }),
            })
            .await?;
    }
    Ok(prepared)
}

/// A realistic intake: Chinese text of the length officers type.
pub fn intake_request(client: usize, n: u64) -> pb::CreateIncidentRequest {
    pb::CreateIncidentRequest {
        request_id: String::new(),
        intake: Some(pb::IncidentIntake {
            source: pb::SourceChannel::Police110 as i32,
            caller_name: "张先生".into(),
            caller_phone: "13912345678".into(),
            address: format!("城关区新华路{}号幸福小区{}栋", n % 300 + 1, client % 40 + 1),
            place_id: String::new(),
            category: "fire".into(),
            severity: pb::Severity::Iii as i32,
            summary: format!(
                "群众来电反映居民楼{}层楼道内有烟雾，疑似电动车充电起火，请求处置（第{n}次）",
                n % 30 + 1
            ),
            tags: vec!["电动车".into()],
        }),
        dispatch: Vec::new(),
    }
}

/// Runs the intake workload: every client creates incidents back to back.
pub async fn intake(prepared: &Prepared, options: &LoadOptions) -> anyhow::Result<Report> {
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let errors: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let issued = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(Client::connect(&prepared.addr, Some(&prepared.token)).await?);
    }
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let histogram = histogram.clone();
        let errors = errors.clone();
        let issued = issued.clone();
        let count = options.count;
        tasks.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok();
            let mut incidents = client.incidents();
            loop {
                let n = issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if count.is_some_and(|c| n >= c) || (count.is_none() && Instant::now() >= deadline)
                {
                    break;
                }
                let began = Instant::now();
                match incidents.create_incident(intake_request(index, n)).await {
                    Ok(_) => {
                        if let Some(local) = &mut local {
                            let _ = local.record(began.elapsed().as_micros() as u64);
                        }
                    }
                    Err(status) => {
                        *errors
                            .lock()
                            .await
                            .entry(format!("{:?}", status.code()))
                            .or_default() += 1;
                    }
                }
            }
            if let Some(local) = local {
                let _ = histogram.lock().await.add(local);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let histogram = histogram.lock().await;
    let ok = histogram.len();
    Ok(Report {
        workload: "intake".into(),
        clients: options.clients,
        ok,
        errors: errors.lock().await.clone(),
        seconds,
        per_second: ok as f64 / seconds,
        p50_us: histogram.value_at_quantile(0.50),
        p90_us: histogram.value_at_quantile(0.90),
        p99_us: histogram.value_at_quantile(0.99),
        max_us: histogram.max(),
        rss_mib: if prepared.daemon.is_some() {
            rss_mib()
        } else {
            None
        },
    })
}

/// This process's resident memory, from /proc (Linux).
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What the render benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderReport {
    /// Incidents on the board.
    pub incidents: usize,
    /// Terminal size.
    pub width: u16,
    /// Terminal size.
    pub height: u16,
    /// Frames drawn.
    pub frames: usize,
    /// Drawing one frame, median, microseconds.
    pub frame_p50_us: u64,
    /// Drawing one frame, 99th percentile.
    pub frame_p99_us: u64,
    /// Re-filtering and re-sorting the board after a change, median.
    pub rebuild_p50_us: u64,
}

/// Draws the board with `incidents` open incidents `frames` times on an
/// in-memory terminal and times each frame (and each board rebuild, which
/// runs once per change, not per frame).
pub fn render(
    incidents: usize,
    frames: usize,
    width: u16,
    height: u16,
) -> anyhow::Result<RenderReport> {
    use crate::tui::app::{App, AppEvent};
    use crate::tui::commands::Keymap;
    use crate::tui::model::Snapshot;
    use crate::tui::views::{self, Theme};

    let now = jiff::Timestamp::now();
    let secs = now.as_second();
    let at = |s: i64| {
        Some(prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    let mut snapshot = Snapshot {
        head_seq: 1,
        ..Snapshot::default()
    };
    for (index, (id, name, communities)) in crate::demo::POSTS.iter().enumerate() {
        snapshot.posts.push(pb::Post {
            id: (*id).into(),
            name: format!("{name}指挥部"),
            mode: if index == 0 {
                pb::PostMode::Emergency
            } else {
                pb::PostMode::Normal
            } as i32,
            ..Default::default()
        });
        for (n, community) in communities.iter().enumerate() {
            snapshot.places.push(pb::Place {
                id: format!("{id}-c{n}"),
                name: (*community).into(),
                post_id: (*id).into(),
                ..Default::default()
            });
        }
    }
    for (code, zh, en, _) in crate::demo::CATEGORIES {
        snapshot.categories.push(pb::Category {
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            ..Default::default()
        });
    }
    let mut dice = crate::demo::Dice::new();
    for n in 0..incidents {
        let (post, _, _) = crate::demo::POSTS[n % crate::demo::POSTS.len()];
        let started = secs - dice.below(3600) as i64;
        let due = started + 60 + dice.below(900) as i64;
        snapshot.incidents.push(pb::Incident {
            id: n as u64 + 1,
            number: format!("20261123-{:04}", n + 1),
            status: pb::IncidentStatus::Dispatched as i32,
            severity: 1 + dice.below(4) as i32,
            category: crate::demo::CATEGORIES[n % crate::demo::CATEGORIES.len()]
                .0
                .into(),
            place_id: format!("{post}-c{}", n % 2),
            territorial_post_id: post.into(),
            summary: "居民楼楼道内电动车充电起火，有浓烟".into(),
            created_at: at(started),
            assignments: vec![pb::Assignment {
                id: 1,
                assignee: Some(pb::Assignee {
                    kind: pb::AssigneeKind::Post as i32,
                    id: post.into(),
                    name: String::new(),
                }),
                role: pb::AssignmentRole::Lead as i32,
                state: pb::AssignmentState::Dispatched as i32,
                dispatched_at: at(started),
                ..Default::default()
            }],
            clocks: vec![pb::Clock {
                kind: pb::ClockKind::SignFor as i32,
                assignment_id: 1,
                started_at: at(started),
                due: at(due),
                alarms: 0,
                next_alarm_at: at(due),
            }],
            ..Default::default()
        });
    }
    let keymap = Keymap::new(&std::collections::BTreeMap::new())?;
    let mut app = App::new(crate::tui::i18n::Lang::Zh, keymap, now);
    app.update(AppEvent::Snapshot(Box::new(snapshot)));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))?;
    let theme = Theme { color: true };
    let mut frame_times = Vec::with_capacity(frames);
    let mut rebuild_times = Vec::with_capacity(frames);
    for frame in 0..frames {
        // Each frame a second later, as the live countdowns tick.
        app.now = now + jiff::SignedDuration::from_secs(frame as i64);
        let started = Instant::now();
        app.rebuild();
        rebuild_times.push(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        terminal.draw(|f| views::render(&app, &theme, f))?;
        frame_times.push(started.elapsed().as_micros() as u64);
    }
    frame_times.sort_unstable();
    rebuild_times.sort_unstable();
    let pick = |values: &[u64], q: f64| values[((values.len() - 1) as f64 * q) as usize];
    Ok(RenderReport {
        incidents,
        width,
        height,
        frames,
        frame_p50_us: pick(&frame_times, 0.5),
        frame_p99_us: pick(&frame_times, 0.99),
        rebuild_p50_us: pick(&rebuild_times, 0.5),
    })
}
