//! `duty bench startup`: how long `dutyd` takes to open a store of N
//! incidents and answer its first request, and its memory once it has.
//! `dutyd` runs as a child process; the store is filled first (through the
//! API, as `duty bench query` fills it) unless it already holds enough.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dutyroom_proto::v1 as pb;

use crate::bench::child::{self, ChildDaemon};
use crate::bench::{LoadOptions, Prepared, Report, load};
use crate::client::Client;

/// The shape of a startup run.
#[derive(Debug, Clone)]
pub struct StartupOptions {
    /// Incidents the store should hold.
    pub incidents: u64,
    /// Restarts to time.
    pub restarts: usize,
    /// The store to use (kept); default: a temporary one.
    pub data: Option<PathBuf>,
    /// Show a progress bar while filling.
    pub progress: bool,
}

/// Spawn to first answered request.
async fn first_answer(data: &Path, token: &str) -> anyhow::Result<(ChildDaemon, Duration)> {
    let began = Instant::now();
    let (child, _) = ChildDaemon::start(data).await?;
    let client = Client::connect(&child.addr, Some(token)).await?;
    client
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?;
    Ok((child, began.elapsed()))
}

/// Fills (if needed), then restarts `dutyd` on the store and times each
/// start to its first answer.
pub async fn run(options: &StartupOptions) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let data = options
        .data
        .clone()
        .unwrap_or_else(|| dir.path().join("data"));
    let token_file = data.with_extension("token");
    let token = if token_file.exists() {
        std::fs::read_to_string(&token_file)?.trim().to_owned()
    } else {
        child::init(&data).await?
    };
    // Fill through a child, then stop it: the timed starts open a store at rest.
    let (filler, _) = ChildDaemon::start(&data).await?;
    let prepared = Prepared::attach(filler, token.clone()).await?;
    let posts = crate::bench::posts(&prepared, 100).await?;
    let query = crate::bench::query::QueryOptions {
        load: LoadOptions {
            clients: 1,
            duration: Duration::from_secs(1),
            count: None,
            rate: None,
        },
        incidents: options.incidents,
        posts: posts.len(),
        open_per_post: 20,
        progress: options.progress,
    };
    crate::bench::query::fill(&prepared, &query, &posts).await?;
    let info = prepared
        .client()
        .await?
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner();
    let (stored, events) = (info.incidents, info.head_seq);
    prepared.finish().await;

    let mut histogram = load::histogram();
    let mut rss = None;
    for _ in 0..options.restarts.max(1) {
        let (mut child, took) = first_answer(&data, &token).await?;
        let _ = histogram.record(took.as_micros() as u64);
        rss = child::rss_mib(child.pid());
        child.terminate().await?;
    }
    let mut report = Report {
        workload: "startup: spawn → first answer".into(),
        target: "dutyd child process".into(),
        clients: 1,
        ok: histogram.len(),
        latency: load::Latency::of(&histogram),
        rss_mib: rss,
        ..Report::default()
    };
    report
        .figures
        .insert("incidents stored".into(), stored as f64);
    if let Some(size) = dir_size(&data) {
        report.figures.insert(
            "store on disk, MiB".into(),
            (size as f64 / 1048576.0).round(),
        );
        // The whole directory: sled, the journal's archives and its newest
        // segments (a fixed ~32 MiB that small stores feel most).
        if stored > 0 {
            report.figures.insert(
                "on disk per incident, bytes".into(),
                (size as f64 / stored as f64).round(),
            );
        }
        if events > 0 {
            report.figures.insert(
                "on disk per journal event, bytes".into(),
                (size as f64 / events as f64).round(),
            );
        }
    }
    let wal = data.join("wal");
    let archived = files_size(&wal, ".arc");
    let frames = files_size(&wal, ".wal");
    if let (Some(archived), Some(frames)) = (archived, frames) {
        report.figures.insert(
            "journal archives, MiB".into(),
            (archived as f64 / 1048576.0).round(),
        );
        report.figures.insert(
            "journal segments (frames), MiB".into(),
            (frames as f64 / 1048576.0).round(),
        );
        if let Some(state) = std::fs::metadata(data.join("db")).ok().map(|m| m.len())
            && stored > 0
        {
            report.figures.insert(
                "sled per incident, bytes".into(),
                (state as f64 / stored as f64).round(),
            );
        }
    }
    Ok(report)
}

/// Bytes in the files of `dir` whose names end with `suffix`.
fn files_size(dir: &Path, suffix: &str) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        if entry.file_name().to_string_lossy().ends_with(suffix) {
            total += entry.metadata().ok()?.len();
        }
    }
    Some(total)
}

fn dir_size(path: &Path) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path).ok()? {
        let entry = entry.ok()?;
        let meta = entry.metadata().ok()?;
        total += if meta.is_dir() {
            dir_size(&entry.path()).unwrap_or(0)
        } else {
            meta.len()
        };
    }
    Some(total)
}

impl Prepared {
    /// A prepared target around a child the caller started.
    pub async fn attach(child: ChildDaemon, token: String) -> anyhow::Result<Prepared> {
        let prepared = Prepared {
            addr: child.addr.clone(),
            token,
            daemon: None,
            child: Some(child),
            _dir: None,
        };
        crate::bench::ensure_category(&prepared.client().await?).await?;
        let mut prepared = prepared;
        prepared.token = crate::bench::unlimited_token(&prepared.client().await?).await?;
        Ok(prepared)
    }
}
