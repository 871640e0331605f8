//! `duty bench dispatch`: orders going out while posts and consoles watch.
//!
//! M posts each hold a Watch stream with their own token (so each sees only
//! its own orders) and C centre consoles watch everything. Dispatchers
//! create an incident and assign it to a post, at a paced total rate. For
//! every assignment the bench measures the time from the Assign reply to the
//! event's arrival on the post's stream and on every console's (an event
//! that arrives before the reply counts as 1 µs: dutyd publishes before it
//! answers). Anything never delivered is counted as missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dutyroom_proto::v1 as pb;
use hdrhistogram::Histogram;
use pb::watch_response::Item;

use crate::bench::{LoadOptions, Prepared, Report, load};
use crate::client::Client;

/// The shape of a dispatch run.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Dispatchers and pacing.
    pub load: LoadOptions,
    /// Posts watching their own orders.
    pub posts: usize,
    /// Centre consoles watching everything.
    pub consoles: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Watcher {
    Post,
    Console,
}

#[derive(Default)]
struct Pending {
    replied: Option<Instant>,
    early: Vec<Watcher>,
    arrived: usize,
}

struct Tracker {
    pending: Mutex<HashMap<String, Pending>>,
    post: Mutex<Histogram<u64>>,
    console: Mutex<Histogram<u64>>,
    expected_per_order: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Tracker {
    fn record(&self, who: Watcher, micros: u64) {
        let histogram = match who {
            Watcher::Post => &self.post,
            Watcher::Console => &self.console,
        };
        let _ = lock(histogram).record(micros.max(1));
    }

    fn replied(&self, number: &str, at: Instant) {
        let early = {
            let mut pending = lock(&self.pending);
            let entry = pending.entry(number.to_owned()).or_default();
            entry.replied = Some(at);
            let early = std::mem::take(&mut entry.early);
            if entry.arrived >= self.expected_per_order {
                pending.remove(number);
            }
            early
        };
        for who in early {
            self.record(who, 1);
        }
    }

    fn arrived(&self, number: &str, who: Watcher) {
        let now = Instant::now();
        let latency = {
            let mut pending = lock(&self.pending);
            let entry = pending.entry(number.to_owned()).or_default();
            entry.arrived += 1;
            let latency = match entry.replied {
                Some(replied) => Some(now.saturating_duration_since(replied)),
                None => {
                    entry.early.push(who);
                    None
                }
            };
            if entry.replied.is_some() && entry.arrived >= self.expected_per_order {
                pending.remove(number);
            }
            latency
        };
        if let Some(latency) = latency {
            self.record(who, latency.as_micros() as u64);
        }
    }

    fn missed(&self) -> usize {
        lock(&self.pending)
            .values()
            .filter(|p| p.replied.is_some())
            .map(|p| self.expected_per_order.saturating_sub(p.arrived))
            .sum()
    }
}

async fn watch(client: Client, who: Watcher, tracker: Arc<Tracker>) -> anyhow::Result<()> {
    let mut stream = client
        .journal()
        .watch(pb::WatchRequest {
            live_only: true,
            ..Default::default()
        })
        .await?
        .into_inner();
    tokio::spawn(async move {
        while let Ok(Some(item)) = stream.message().await {
            if let Some(Item::Event(event)) = item.item
                && event.kind == "incident.assigned"
            {
                tracker.arrived(&event.subject_id, who);
            }
        }
    });
    Ok(())
}

/// Runs the dispatch workload.
pub async fn run(prepared: &Prepared, options: &DispatchOptions) -> anyhow::Result<Report> {
    let posts = crate::bench::posts(prepared, options.posts.max(1)).await?;
    let tracker = Arc::new(Tracker {
        pending: Mutex::new(HashMap::new()),
        post: Mutex::new(load::histogram()),
        console: Mutex::new(load::histogram()),
        expected_per_order: 1 + options.consoles,
    });
    for (_, token) in &posts {
        let client = Client::connect(&prepared.addr, Some(token)).await?;
        watch(client, Watcher::Post, tracker.clone()).await?;
    }
    for _ in 0..options.consoles {
        watch(prepared.client().await?, Watcher::Console, tracker.clone()).await?;
    }
    let assign_latency = Arc::new(Mutex::new(load::histogram()));
    let mut clients = Vec::new();
    for _ in 0..options.load.clients {
        clients.push(prepared.client().await?.incidents());
    }
    let post_ids: Arc<Vec<String>> = Arc::new(posts.into_iter().map(|(id, _)| id).collect());
    let op_tracker = tracker.clone();
    let op_latency = assign_latency.clone();
    let outcome = load::run(clients, &options.load, move |mut incidents, index, n| {
        let tracker = op_tracker.clone();
        let latency = op_latency.clone();
        let post = post_ids[n as usize % post_ids.len()].clone();
        async move {
            let number = incidents
                .create_incident(crate::bench::intake::request(index, n))
                .await?
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            let began = Instant::now();
            incidents
                .assign(pb::AssignRequest {
                    request_id: String::new(),
                    incident: number.clone(),
                    assignee: Some(pb::Assignee {
                        kind: pb::AssigneeKind::Post as i32,
                        id: post,
                        name: String::new(),
                    }),
                    role: pb::AssignmentRole::Lead as i32,
                    replace_lead: false,
                })
                .await?;
            let replied = Instant::now();
            let _ = lock(&latency).record((replied - began).as_micros().max(1) as u64);
            tracker.replied(&number, replied);
            Ok(())
        }
    })
    .await?;
    // Let the last events arrive before counting what never did.
    let settle = Instant::now() + Duration::from_secs(5);
    while tracker.missed() > 0 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut report = outcome.report("dispatch", options.load.clients);
    report.target = prepared.where_().to_owned();
    report.rss_mib = prepared.rss_mib();
    report.series.insert(
        "assign reply".into(),
        load::Latency::of(&lock(&assign_latency)),
    );
    report.series.insert(
        format!("push to the post ({} posts watching)", options.posts),
        load::Latency::of(&lock(&tracker.post)),
    );
    if options.consoles > 0 {
        report.series.insert(
            format!(
                "push to consoles ({} watching everything)",
                options.consoles
            ),
            load::Latency::of(&lock(&tracker.console)),
        );
    }
    report
        .figures
        .insert("deliveries missed".into(), tracker.missed() as f64);
    if let Some(rate) = options.load.rate {
        report.figures.insert("target assigns/s".into(), rate);
    }
    Ok(report)
}
