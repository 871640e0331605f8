//! `duty bench query`: reads on a store holding a chosen amount of history.
//!
//! The fill gives the store N incidents: a few still open per post (assigned
//! to it) and the rest history (created, then cancelled: out of every open
//! index, as closed incidents are). Then, each for the run's duration: a
//! post's own open list (with the post's token), an incident by number, and
//! create + assign (to show writes do not slow down as history grows). What
//! that phase created is cancelled afterwards, unmeasured: left open, its
//! clocks would fire alarms through the next run on the same store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dutyroom_proto::v1 as pb;

use crate::bench::{LoadOptions, Prepared, Report, load};
use crate::client::Client;

/// The shape of a query run.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Clients and duration of each measured phase.
    pub load: LoadOptions,
    /// Incidents the store should hold (filled up to, if it holds fewer).
    pub incidents: u64,
    /// Posts the incidents are spread over.
    pub posts: usize,
    /// Incidents left open per post.
    pub open_per_post: u64,
    /// Show a progress bar while filling.
    pub progress: bool,
}

/// What the fill did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filled {
    /// Incidents created.
    pub created: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// How many incidents the store holds.
pub async fn stored(client: &Client) -> anyhow::Result<u64> {
    Ok(client
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner()
        .incidents)
}

/// Fills the store up to `options.incidents` incidents over the bench posts.
pub async fn fill(
    prepared: &Prepared,
    options: &QueryOptions,
    posts: &[(String, String)],
) -> anyhow::Result<Filled> {
    let client = prepared.client().await?;
    let already = stored(&client).await?;
    let wanted = options.incidents.saturating_sub(already);
    let started = Instant::now();
    if wanted == 0 {
        return Ok(Filled::default());
    }
    let bar = if options.progress {
        indicatif::ProgressBar::new(wanted)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "filling {bar:40} {pos}/{len} incidents, {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // The open ones go last, so they are the newest of each post.
    let open_total = (options.open_per_post * posts.len() as u64).min(wanted);
    let history = wanted - open_total;
    let next = Arc::new(AtomicU64::new(0));
    let post_ids: Arc<Vec<String>> = Arc::new(posts.iter().map(|(id, _)| id.clone()).collect());
    let mut tasks = Vec::new();
    for worker in 0..64usize {
        let client = prepared.client().await?;
        let next = next.clone();
        let post_ids = post_ids.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut incidents = client.incidents();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= wanted {
                    return Ok::<(), anyhow::Error>(());
                }
                let mut request = crate::bench::intake::request(worker, n);
                if n >= history {
                    let post = &post_ids[(n - history) as usize % post_ids.len()];
                    request.dispatch.push(pb::AssignRequest {
                        assignee: Some(pb::Assignee {
                            kind: pb::AssigneeKind::Post as i32,
                            id: post.clone(),
                            name: String::new(),
                        }),
                        role: pb::AssignmentRole::Lead as i32,
                        ..Default::default()
                    });
                }
                let number = incidents
                    .create_incident(request)
                    .await?
                    .into_inner()
                    .incident
                    .map(|i| i.number)
                    .unwrap_or_default();
                if n < history {
                    incidents
                        .cancel(pb::CancelRequest {
                            request_id: String::new(),
                            incident: number,
                            reason: "压测历史数据".into(),
                        })
                        .await?;
                }
                bar.inc(1);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    bar.finish_and_clear();
    Ok(Filled {
        created: wanted,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Fills, then measures the three phases.
pub async fn run(prepared: &Prepared, options: &QueryOptions) -> anyhow::Result<Report> {
    let posts = crate::bench::posts(prepared, options.posts.max(1)).await?;
    let filled = fill(prepared, options, &posts).await?;
    let client = prepared.client().await?;
    let total = stored(&client).await?;
    let numbers: Arc<Vec<String>> = Arc::new(sample_numbers(&client, 1000).await?);

    // A post's own open list, with its own token.
    let mut lists = Vec::new();
    for index in 0..options.load.clients {
        let (_, token) = &posts[index % posts.len()];
        lists.push(
            Client::connect(&prepared.addr, Some(token))
                .await?
                .incidents(),
        );
    }
    // What a list holds is what its latency means: reported with it.
    let list_lengths = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let lengths = list_lengths.clone();
    let listed = load::run(lists, &options.load, move |mut incidents, _, _| {
        let lengths = lengths.clone();
        async move {
            let reply = incidents
                .list_incidents(pb::ListIncidentsRequest {
                    open_only: true,
                    ..Default::default()
                })
                .await?;
            lengths
                .0
                .fetch_add(reply.get_ref().incidents.len() as u64, Ordering::Relaxed);
            lengths.1.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    })
    .await?;

    // An incident by number.
    let mut getters = Vec::new();
    for _ in 0..options.load.clients {
        getters.push(prepared.client().await?.incidents());
    }
    let gets = numbers.clone();
    let got = load::run(getters, &options.load, move |mut incidents, _, n| {
        let number = gets[n as usize % gets.len().max(1)].clone();
        async move {
            incidents
                .get_incident(pb::GetIncidentRequest { incident: number })
                .await
                .map(drop)
        }
    })
    .await?;

    // Writes on the big store: create + assign.
    let mut writers = Vec::new();
    for _ in 0..options.load.clients {
        writers.push(prepared.client().await?.incidents());
    }
    // To posts whose lists were not measured, when there are any, so that a
    // store reused by the next run keeps the listed posts' lists as filled.
    let listed_posts = options.load.clients.min(posts.len());
    let unlisted = if posts.len() > listed_posts {
        &posts[listed_posts..]
    } else {
        &posts[..]
    };
    let post_ids: Arc<Vec<String>> = Arc::new(unlisted.iter().map(|(id, _)| id.clone()).collect());
    let made = Arc::new(std::sync::Mutex::new(Vec::new()));
    let made_here = made.clone();
    let assigned = load::run(writers, &options.load, move |mut incidents, index, n| {
        let post = post_ids[n as usize % post_ids.len()].clone();
        let made = made_here.clone();
        async move {
            let number = incidents
                .create_incident(crate::bench::intake::request(index, n))
                .await?
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            if !number.is_empty() {
                made.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(number.clone());
            }
            incidents
                .assign(pb::AssignRequest {
                    request_id: String::new(),
                    incident: number,
                    assignee: Some(pb::Assignee {
                        kind: pb::AssigneeKind::Post as i32,
                        id: post,
                        name: String::new(),
                    }),
                    role: pb::AssignmentRole::Lead as i32,
                    replace_lead: false,
                })
                .await
                .map(drop)
        }
    })
    .await?;
    // Left open, those incidents' clocks would fire alarms on hundreds of
    // them during the next run on this store: cancelled, unmeasured, so a
    // reused store stays as it was filled.
    let made = std::mem::take(
        &mut *made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    cancel_all(prepared, made, options.load.clients.max(1)).await?;

    let mut report = listed.report("query: a post's open list", options.load.clients);
    report.target = prepared.where_().to_owned();
    report
        .series
        .insert("get by number".into(), load::Latency::of(&got.histogram));
    let assigned_report = assigned.report("create + assign", options.load.clients);
    report
        .series
        .insert("create + assign".into(), assigned_report.latency);
    report.figures.insert(
        "create + assign per second".into(),
        assigned_report.per_second.round(),
    );
    report.figures.insert(
        "get by number per second".into(),
        got.report("", 0).per_second.round(),
    );
    report
        .figures
        .insert("incidents stored".into(), total as f64);
    let (listed_total, lists_done) = (
        list_lengths.0.load(Ordering::Relaxed),
        list_lengths.1.load(Ordering::Relaxed),
    );
    if lists_done > 0 {
        report.figures.insert(
            "open incidents per post's list (mean)".into(),
            (listed_total as f64 / lists_done as f64).round(),
        );
    }
    if filled.created > 0 {
        report.figures.insert(
            "fill: incidents per second".into(),
            (filled.created as f64 / filled.seconds).round(),
        );
    }
    for (code, n) in got.errors.iter().chain(&assigned.errors) {
        *report.errors.entry(code.clone()).or_default() += n;
    }
    report.rss_mib = prepared.rss_mib();
    Ok(report)
}

/// Cancels `numbers`, `clients` at a time.
async fn cancel_all(
    prepared: &Prepared,
    numbers: Vec<String>,
    clients: usize,
) -> anyhow::Result<()> {
    let numbers = Arc::new(numbers);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut incidents = prepared.client().await?.incidents();
        let (numbers, next) = (numbers.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(number) = numbers.get(n) else {
                    return Ok::<(), anyhow::Error>(());
                };
                incidents
                    .cancel(pb::CancelRequest {
                        request_id: String::new(),
                        incident: number.clone(),
                        reason: "压测结束".into(),
                    })
                    .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Up to `count` incident numbers spread over the store.
async fn sample_numbers(client: &Client, count: usize) -> anyhow::Result<Vec<String>> {
    let mut numbers = Vec::new();
    let mut token = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while numbers.len() < count && Instant::now() < deadline {
        let page = client
            .incidents()
            .list_incidents(pb::ListIncidentsRequest {
                page: Some(pb::Page {
                    limit: 1000,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner();
        numbers.extend(page.incidents.into_iter().map(|i| i.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok(numbers)
}
