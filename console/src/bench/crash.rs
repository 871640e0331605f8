//! `duty bench crash`: the crash drill. `dutyd` runs as a child process;
//! concurrent writers create incidents and add notes; at a random moment
//! the child is killed (SIGKILL) — or asked to stop (SIGTERM, which must be
//! prompt and lose nothing) — and restarted on the same store. After every
//! restart every acknowledged write must be there and intact, and the
//! journal's hash chain must verify.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dutyroom_proto::v1 as pb;
use tokio::process::Command;

use crate::bench::child::ChildDaemon;
use crate::client::Client;

/// How to stop the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Stop {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a graceful stop.
    Term,
}

/// The drill's shape.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Kill/restart cycles.
    pub cycles: usize,
    /// Concurrent writers.
    pub writers: usize,
    /// How to stop the child.
    pub stop: Stop,
    /// Load runs between this and twice this before each stop.
    pub load: Duration,
}

/// What the drill found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DrillReport {
    /// Cycles run.
    pub cycles: usize,
    /// How the child was stopped.
    pub stop: Option<Stop>,
    /// Incidents whose creation was acknowledged.
    pub incidents_acknowledged: usize,
    /// Notes whose addition was acknowledged.
    pub notes_acknowledged: usize,
    /// Acknowledged incidents or notes missing after a restart.
    pub lost: usize,
    /// Acknowledged incidents present but altered.
    pub damaged: usize,
    /// Journal events verified after the last restart.
    pub events_verified: u64,
    /// Restart to listening, median, milliseconds.
    pub restart_p50_ms: f64,
    /// Restart to listening, slowest.
    pub restart_max_ms: f64,
    /// SIGTERM to exit, slowest (SIGTERM drills).
    pub term_exit_max_ms: Option<f64>,
}

impl DrillReport {
    /// The summary line.
    pub fn line(&self) -> String {
        let how = match self.stop {
            Some(Stop::Term) => "SIGTERM",
            _ => "SIGKILL",
        };
        let term = self
            .term_exit_max_ms
            .map(|ms| format!("; exits within {ms:.0} ms of SIGTERM"))
            .unwrap_or_default();
        format!(
            "crash drill: {} cycles ({how}), {} incidents + {} notes acknowledged, {} lost, {} damaged; \
             store reopened every time (restart p50 {:.0} ms, max {:.0} ms); journal verified ({} events){term}",
            self.cycles,
            self.incidents_acknowledged,
            self.notes_acknowledged,
            self.lost,
            self.damaged,
            self.restart_p50_ms,
            self.restart_max_ms,
            self.events_verified
        )
    }
}

/// What the writers got acknowledged: number → (summary, notes).
type Acknowledged = Arc<Mutex<HashMap<String, (String, usize)>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A small source of randomness for the kill moments (no crate needed).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

async fn writer(
    addr: String,
    token: String,
    worker: usize,
    cycle: usize,
    acknowledged: Acknowledged,
) {
    let Ok(client) = Client::connect(&addr, Some(&token)).await else {
        return;
    };
    let mut incidents = client.incidents();
    let mut mine: Vec<String> = Vec::new();
    for n in 0u64.. {
        if n % 3 == 2
            && let Some(number) = mine.last().cloned()
        {
            let text = format!("进展 c{cycle} w{worker} n{n}");
            match incidents
                .add_note(pb::AddNoteRequest {
                    incident: number.clone(),
                    text,
                    ..Default::default()
                })
                .await
            {
                Ok(_) => {
                    if let Some(entry) = lock(&acknowledged).get_mut(&number) {
                        entry.1 += 1;
                    }
                    continue;
                }
                // The stop: this writer is done for the cycle.
                Err(_) => return,
            }
        }
        let summary = format!("崩溃演练 c{cycle} w{worker} n{n}");
        let mut request = crate::bench::intake::request(worker, n);
        if let Some(intake) = request.intake.as_mut() {
            intake.summary = summary.clone();
        }
        match incidents.create_incident(request).await {
            Ok(reply) => {
                let Some(incident) = reply.into_inner().incident else {
                    return;
                };
                lock(&acknowledged).insert(incident.number.clone(), (summary, 0));
                mine.push(incident.number);
            }
            Err(_) => return,
        }
    }
}

/// Checks every acknowledged write on the daemon at `addr`: (lost, damaged).
async fn verify(
    addr: &str,
    token: &str,
    acknowledged: &Acknowledged,
) -> anyhow::Result<(usize, usize, u64)> {
    let client = Client::connect(addr, Some(token)).await?;
    let mut incidents = client.incidents();
    let expected = lock(acknowledged).clone();
    let (mut lost, mut damaged) = (0, 0);
    for (number, (summary, notes)) in &expected {
        match incidents
            .get_incident(pb::GetIncidentRequest {
                incident: number.clone(),
            })
            .await
        {
            Ok(found) => {
                let found = found.into_inner();
                if found.summary != *summary {
                    damaged += 1;
                }
                lost += notes.saturating_sub(found.notes.len());
            }
            Err(status) if status.code() == tonic::Code::NotFound => lost += 1 + notes,
            Err(status) => return Err(status).context(format!("reading {number}")),
        }
    }
    let verified = client
        .journal()
        .verify_journal(pb::VerifyJournalRequest {})
        .await?
        .into_inner();
    if !verified.intact {
        bail!(
            "the journal does not verify at seq {}: {}",
            verified.first_break_seq,
            verified.detail
        );
    }
    Ok((lost, damaged, verified.checked))
}

/// Runs the drill on the store in `data` (initialised, admin `token`),
/// starting the child with `launch(data)` each time.
pub async fn drill(
    options: &DrillOptions,
    data: &Path,
    token: &str,
    launch: &(dyn Fn(&Path) -> Command + Send + Sync),
) -> anyhow::Result<DrillReport> {
    let mut dice = Dice(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    let acknowledged: Acknowledged = Arc::default();
    let mut restarts = Vec::new();
    let mut term_exits = Vec::new();
    let (mut child, _) = ChildDaemon::spawn(launch(data)).await?;
    let admin = Client::connect(&child.addr, Some(token)).await?;
    crate::bench::ensure_category(&admin).await?;
    let unlimited = crate::bench::unlimited_token(&admin).await?;
    let token = unlimited.as_str();
    let mut report = DrillReport {
        stop: Some(options.stop),
        ..DrillReport::default()
    };
    for cycle in 0..options.cycles {
        let writers: Vec<_> = (0..options.writers)
            .map(|worker| {
                tokio::spawn(writer(
                    child.addr.clone(),
                    token.to_owned(),
                    worker,
                    cycle,
                    acknowledged.clone(),
                ))
            })
            .collect();
        let millis = options.load.as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(millis + dice.below(millis + 1))).await;
        match options.stop {
            Stop::Kill => child.kill().await?,
            Stop::Term => term_exits.push(child.terminate().await?),
        }
        for writer in writers {
            let _ = writer.await;
        }
        let began = Instant::now();
        let (next, _) = ChildDaemon::spawn(launch(data))
            .await
            .with_context(|| format!("the store did not reopen after cycle {cycle}"))?;
        restarts.push(began.elapsed());
        child = next;
        let (lost, damaged, checked) = verify(&child.addr, token, &acknowledged).await?;
        report.lost = report.lost.max(lost);
        report.damaged = report.damaged.max(damaged);
        report.events_verified = checked;
        report.cycles = cycle + 1;
    }
    let _ = child.terminate().await;
    let acknowledged = lock(&acknowledged);
    report.incidents_acknowledged = acknowledged.len();
    report.notes_acknowledged = acknowledged.values().map(|(_, n)| n).sum();
    restarts.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    report.restart_p50_ms = restarts.get(restarts.len() / 2).map(ms).unwrap_or_default();
    report.restart_max_ms = restarts.last().map(ms).unwrap_or_default();
    report.term_exit_max_ms = term_exits.iter().max().map(ms);
    Ok(report)
}

/// The drill against the real `dutyd` (next to `duty`, or `$DUTYD_BIN`) on
/// a fresh store.
pub async fn run(options: &DrillOptions) -> anyhow::Result<DrillReport> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let token = crate::bench::child::init(&data).await?;
    let binary = crate::bench::child::binary()?;
    drill(options, &data, &token, &move |data: &Path| {
        crate::bench::child::command(&binary, data, "127.0.0.1:0")
    })
    .await
}
