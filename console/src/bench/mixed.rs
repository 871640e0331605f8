//! `duty bench mixed`: a typhoon night. Calls pour in and are dispatched to
//! posts; posts sign for their orders, report on scene and list their open
//! work; the centre looks incidents up and adds notes — all at once, while
//! every post holds its stream and consoles watch everything.
//!
//! Out of every 20 calls a client makes: 5 take a call and dispatch it, 3
//! sign for an order (with the post's token), 2 report on scene, 2 add a
//! note, 5 list a post's open work, 3 look an incident up by number.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dutyroom_proto::v1 as pb;
use hdrhistogram::Histogram;
use pb::incident_service_client::IncidentServiceClient;
use pb::watch_response::Item;
use tonic::Status;

use crate::bench::{LoadOptions, Prepared, Report, load};
use crate::client::{Authed, Client};

/// The shape of a mixed run.
#[derive(Debug, Clone)]
pub struct MixedOptions {
    /// Clients, duration, pacing.
    pub load: LoadOptions,
    /// Posts (each watching its stream and acting with its own token).
    pub posts: usize,
    /// Centre consoles watching everything.
    pub consoles: usize,
}

type Incidents = IncidentServiceClient<Authed>;

struct Shared {
    posts: Vec<(String, Incidents)>,
    to_sign: Mutex<VecDeque<(String, usize)>>,
    to_arrive: Mutex<VecDeque<(String, usize)>>,
    recent: Mutex<VecDeque<String>>,
    by_op: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Shared {
    fn record(&self, op: &'static str, began: Instant) {
        let micros = began.elapsed().as_micros().max(1) as u64;
        let mut by_op = lock(&self.by_op);
        let _ = by_op
            .entry(op)
            .or_insert_with(load::histogram)
            .record(micros);
    }

    fn remember(&self, number: &str) {
        let mut recent = lock(&self.recent);
        recent.push_back(number.to_owned());
        while recent.len() > 1000 {
            recent.pop_front();
        }
    }
}

async fn step(
    shared: Arc<Shared>,
    mut centre: Incidents,
    index: usize,
    n: u64,
) -> Result<(), Status> {
    let began = Instant::now();
    let post_of = |n: u64| (n as usize + index) % shared.posts.len();
    match n % 20 {
        0..=4 => {
            let post = post_of(n);
            let mut request = crate::bench::intake::request(index, n);
            request.dispatch.push(pb::AssignRequest {
                assignee: Some(pb::Assignee {
                    kind: pb::AssigneeKind::Post as i32,
                    id: shared.posts[post].0.clone(),
                    name: String::new(),
                }),
                role: pb::AssignmentRole::Lead as i32,
                ..Default::default()
            });
            let number = centre
                .create_incident(request)
                .await?
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            shared.remember(&number);
            lock(&shared.to_sign).push_back((number, post));
            shared.record("take a call and dispatch", began);
        }
        5..=7 => {
            let next = lock(&shared.to_sign).pop_front();
            if let Some((number, post)) = next {
                let mut incidents = shared.posts[post].1.clone();
                incidents
                    .sign_for(pb::AssignmentActionRequest {
                        incident: number.clone(),
                        ..Default::default()
                    })
                    .await?;
                lock(&shared.to_arrive).push_back((number, post));
                shared.record("post signs for", began);
            }
        }
        8..=9 => {
            let next = lock(&shared.to_arrive).pop_front();
            if let Some((number, post)) = next {
                let mut incidents = shared.posts[post].1.clone();
                incidents
                    .arrive(pb::AssignmentActionRequest {
                        incident: number,
                        ..Default::default()
                    })
                    .await?;
                shared.record("post on scene", began);
            }
        }
        10..=11 => {
            let number = lock(&shared.recent).back().cloned();
            if let Some(number) = number {
                centre
                    .add_note(pb::AddNoteRequest {
                        incident: number,
                        text: "回访群众，现场已控制".into(),
                        ..Default::default()
                    })
                    .await?;
                shared.record("note", began);
            }
        }
        12..=16 => {
            let mut incidents = shared.posts[post_of(n)].1.clone();
            incidents
                .list_incidents(pb::ListIncidentsRequest {
                    open_only: true,
                    ..Default::default()
                })
                .await?;
            shared.record("post's open list", began);
        }
        _ => {
            let number = {
                let recent = lock(&shared.recent);
                recent.get(n as usize % recent.len().max(1)).cloned()
            };
            if let Some(number) = number {
                centre
                    .get_incident(pb::GetIncidentRequest { incident: number })
                    .await?;
                shared.record("get by number", began);
            }
        }
    }
    Ok(())
}

async fn hold(client: Client) -> anyhow::Result<()> {
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
            if let Some(Item::Event(_)) = item.item {}
        }
    });
    Ok(())
}

/// Runs the mix.
pub async fn run(prepared: &Prepared, options: &MixedOptions) -> anyhow::Result<Report> {
    let tokens = crate::bench::posts(prepared, options.posts.max(1)).await?;
    let mut posts = Vec::new();
    for (id, token) in tokens {
        let client = Client::connect(&prepared.addr, Some(&token)).await?;
        hold(client.clone()).await?;
        posts.push((id, client.incidents()));
    }
    for _ in 0..options.consoles {
        hold(prepared.client().await?).await?;
    }
    let shared = Arc::new(Shared {
        posts,
        to_sign: Mutex::default(),
        to_arrive: Mutex::default(),
        recent: Mutex::default(),
        by_op: Mutex::default(),
    });
    let mut clients = Vec::new();
    for _ in 0..options.load.clients {
        clients.push(prepared.client().await?.incidents());
    }
    let op_shared = shared.clone();
    let outcome = load::run(clients, &options.load, move |centre, index, n| {
        step(op_shared.clone(), centre, index, n)
    })
    .await?;
    let mut report = outcome.report("mixed (typhoon night)", options.load.clients);
    report.target = prepared.where_().to_owned();
    for (op, histogram) in lock(&shared.by_op).iter() {
        report
            .series
            .insert((*op).to_owned(), load::Latency::of(histogram));
    }
    report
        .figures
        .insert("posts watching".into(), options.posts as f64);
    report
        .figures
        .insert("consoles watching".into(), options.consoles as f64);
    report.rss_mib = prepared.rss_mib();
    Ok(report)
}
