//! The load runner: N clients calling back to back (closed loop) or at a
//! given total rate (paced), every call timed into an HDR histogram, errors
//! counted by gRPC code; and the report every workload prints.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How much load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent clients, each on its own connection.
    pub clients: usize,
    /// Run for this long...
    pub duration: Duration,
    /// ...or stop after this many calls in total.
    pub count: Option<u64>,
    /// Total calls per second across clients (paced); none: as fast as the
    /// answers come (closed loop).
    pub rate: Option<f64>,
}

/// A latency distribution, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `histogram`.
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            max_us: histogram.max(),
        }
    }

    /// `p50 581 µs  p90 718 µs  p99 888 µs  max 2.1 ms`.
    pub fn line(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  max {}",
            micros(self.p50_us),
            micros(self.p90_us),
            micros(self.p99_us),
            micros(self.max_us)
        )
    }
}

/// `581 µs`, `3.8 ms`, `1.20 s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1000.0),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

/// A fresh histogram from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds hdrhistogram accepts")
}

/// What a run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// The workload.
    pub workload: String,
    /// Embedded, child process or remote.
    pub target: String,
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
    /// Latency of successful calls.
    pub latency: Latency,
    /// Other measured series (push latency, per-operation latency...).
    pub series: BTreeMap<String, Latency>,
    /// Other figures, named (events missed, store size...).
    pub figures: BTreeMap<String, f64>,
    /// Resident memory of the daemon, MiB.
    pub rss_mib: Option<f64>,
}

impl Report {
    /// The report as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![if self.seconds > 0.0 {
            format!(
                "{} ({}, {} clients): {} ok in {:.1} s = {:.0}/s",
                self.workload, self.target, self.clients, self.ok, self.seconds, self.per_second
            )
        } else {
            format!("{} ({}): {} runs", self.workload, self.target, self.ok)
        }];
        if self.latency.count > 0 {
            lines.push(format!("  latency  {}", self.latency.line()));
        }
        for (name, latency) in &self.series {
            lines.push(format!(
                "  {name}: {} ({} samples)",
                latency.line(),
                latency.count
            ));
        }
        for (name, value) in &self.figures {
            lines.push(format!("  {name}: {}", trim(*value)));
        }
        if !self.errors.is_empty() {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            lines.push(format!("  errors: {}", errors.join(", ")));
        }
        if let Some(rss) = self.rss_mib {
            lines.push(format!("  daemon RSS: {rss:.0} MiB"));
        }
        lines
    }
}

fn trim(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// What the runner collected.
pub struct Outcome {
    /// Latencies of successful calls.
    pub histogram: Histogram<u64>,
    /// Failures by code.
    pub errors: BTreeMap<String, u64>,
    /// Wall time.
    pub seconds: f64,
}

impl Outcome {
    /// A report for `workload` with `clients`.
    pub fn report(&self, workload: &str, clients: usize) -> Report {
        let ok = self.histogram.len();
        Report {
            workload: workload.to_owned(),
            clients,
            ok,
            errors: self.errors.clone(),
            seconds: self.seconds,
            per_second: ok as f64 / self.seconds.max(1e-9),
            latency: Latency::of(&self.histogram),
            ..Report::default()
        }
    }
}

/// Runs `op` from every client until the time or count is up. `op` gets
/// the client (a clone: gRPC clients are handles), its index and a global
/// call number, and says how the call went.
pub async fn run<C, F, Fut>(
    clients: Vec<C>,
    options: &LoadOptions,
    op: F,
) -> anyhow::Result<Outcome>
where
    C: Clone + Send + 'static,
    F: Fn(C, usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let op = Arc::new(op);
    let issued = Arc::new(AtomicU64::new(0));
    let count = clients.len().max(1);
    let started = Instant::now();
    let deadline = started + options.duration;
    let pace = options
        .rate
        .filter(|r| *r > 0.0)
        .map(|rate| Duration::from_secs_f64(count as f64 / rate));
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let op = op.clone();
        let issued = issued.clone();
        let limit = options.count;
        tasks.push(tokio::spawn(async move {
            let mut histogram = histogram();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut ticks = pace.map(|every| {
                // Spread the clients' first calls over one period.
                let offset = every.mul_f64(index as f64 / count as f64);
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks
            });
            loop {
                if let Some(ticks) = &mut ticks {
                    ticks.tick().await;
                }
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|c| n >= c) || (limit.is_none() && Instant::now() >= deadline)
                {
                    break;
                }
                let began = Instant::now();
                match op(client.clone(), index, n).await {
                    Ok(()) => {
                        let _ = histogram.record(began.elapsed().as_micros().max(1) as u64);
                    }
                    Err(status) => {
                        *errors.entry(format!("{:?}", status.code())).or_default() += 1;
                    }
                }
            }
            (histogram, errors)
        }));
    }
    let mut histogram = histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for task in tasks {
        let (local, local_errors) = task.await?;
        histogram.add(local)?;
        for (code, n) in local_errors {
            *errors.entry(code).or_default() += n;
        }
    }
    Ok(Outcome {
        histogram,
        errors,
        seconds: started.elapsed().as_secs_f64(),
    })
}
