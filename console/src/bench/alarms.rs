//! `duty bench alarms`: an alarm storm reaching an SMS gateway, and what it
//! costs intake.
//!
//! An embedded dutyd with a duty leader and an SMS gateway — a receiver in
//! this process that checks every signature, as an adapter would, and
//! answers 2xx at once. Intake (CreateIncident from every client) runs in
//! alternating rounds with and without the storm: during each storm round
//! a pacer escalates prepared incidents to the level that texts the duty
//! leader, so that `--alarms` alarms are raised over `--over` seconds in
//! all. For each alarm: from its `raised_at` to the receiver taking its
//! text (one per alarm), as percentiles; and the ratio of intake with the
//! storm to intake without.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dutyroom_daemon::notify::receiver::{self, Checks};
use dutyroom_daemon::notify::webhook::Message;
use dutyroom_daemon::{Config, Daemon};
use dutyroom_proto::v1 as pb;
use jiff::Timestamp;

use crate::bench::ab;
use crate::bench::load::{self, Latency, LoadOptions};
use crate::client::Client;

/// The shape of a storm run.
#[derive(Debug, Clone)]
pub struct AlarmBenchOptions {
    /// Alarms raised in all.
    pub alarms: u64,
    /// Seconds of storm they are spread over (split across the rounds).
    pub over: u64,
    /// Rounds with and without the storm each.
    pub rounds: usize,
    /// Intake clients.
    pub clients: usize,
    /// Raise the alarms without a gateway (nothing is sent): what the
    /// alarms alone cost intake, apart from their texts.
    pub no_gateway: bool,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlarmBench {
    /// Alarms raised.
    pub alarms: u64,
    /// Seconds they were spread over.
    pub over_seconds: u64,
    /// Texts the receiver took, and keys it was sent more than once.
    pub taken: u64,
    /// Keys the receiver got more than once.
    pub duplicates: u64,
    /// From an alarm's raising to the receiver taking its text.
    pub latency: Latency,
    /// Intake clients.
    pub clients: usize,
    /// Creates per second per round: A during the storm, B without.
    pub intake: ab::Compared,
}

impl AlarmBench {
    /// The report as lines of text.
    pub fn lines(&self) -> Vec<String> {
        let c = &self.intake;
        vec![
            format!(
                "alarm storm: {} alarms over {} s, {} texts taken by the gateway ({} sent twice)",
                self.alarms, self.over_seconds, self.taken, self.duplicates
            ),
            format!("  raised → gateway's 2xx        {}", self.latency.line()),
            format!(
                "intake, {} clients: during the storm {} /s, without {} /s; ratio {:.2} (pairs {:.2}–{:.2}; {:+.0} %)",
                self.clients,
                ab::rounds(&c.a),
                ab::rounds(&c.b),
                c.ratio,
                c.pair_ratios.0,
                c.pair_ratios.1,
                (c.ratio - 1.0) * 100.0
            ),
        ]
    }
}

/// When the receiver first took each alarm's text, by alarm id.
type Taken = Arc<Mutex<BTreeMap<u64, (Timestamp, u32)>>>;

const SECRET: &str = "duty-bench-alarm-storm-secret";

/// Runs the storm.
pub async fn run(options: &AlarmBenchOptions) -> anyhow::Result<AlarmBench> {
    let scratch = tempfile::tempdir()?;
    let mut daemon = Daemon::new(Config {
        data: scratch.path().join("data"),
        ..Config::default()
    });
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    let handle = daemon.start().await?;
    let measured = storm(options, &handle).await;
    let _ = handle.shutdown().await;
    measured
}

async fn storm(
    options: &AlarmBenchOptions,
    handle: &dutyroom_daemon::DaemonHandle,
) -> anyhow::Result<AlarmBench> {
    let addr = handle.addr.to_string();
    let first = handle
        .admin_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a fresh store has an admin token"))?;
    let admin = crate::bench::unlimited_token(&Client::connect(&addr, Some(&first)).await?).await?;
    let client = Client::connect(&addr, Some(&admin)).await?;
    crate::bench::ensure_category(&client).await?;
    client
        .people()
        .create_person(pb::CreatePersonRequest {
            request_id: String::new(),
            person: Some(pb::Person {
                id: "bench-leader".into(),
                name: "值班领导".into(),
                phone: "13800000000".into(),
                roles: vec!["duty_leader".into()],
                ..Default::default()
            }),
        })
        .await?;

    // The gateway: takes every verified text at once, noting when.
    let taken: Taken = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/sms", listener.local_addr()?);
    let noted = taken.clone();
    let receiving = tokio::spawn(receiver::serve(
        listener,
        Checks {
            secret: SECRET.as_bytes().to_vec(),
            tolerance: 300,
        },
        move |message: Message| {
            let noted = noted.clone();
            async move {
                let now = Timestamp::now();
                let mut taken = noted.lock().unwrap_or_else(|p| p.into_inner());
                taken
                    .entry(message.alarm_id)
                    .and_modify(|(_, times)| *times += 1)
                    .or_insert((now, 1));
                200
            }
        },
    ));
    if !options.no_gateway {
        client
            .notify()
            .add_gateway(pb::AddGatewayRequest {
                id: "bench-sms".into(),
                url,
                channels: vec!["sms".into()],
                secret: SECRET.into(),
                ..Default::default()
            })
            .await?;
    }

    // The incidents the storm escalates, made before anything is measured.
    let mut incidents = client.incidents();
    let mut numbers = Vec::with_capacity(options.alarms as usize);
    for n in 0..options.alarms {
        let number = incidents
            .create_incident(crate::bench::search_call(n))
            .await?
            .into_inner()
            .incident
            .map(|i| i.number)
            .unwrap_or_default();
        numbers.push(number);
    }
    let rounds = options.rounds.max(1);
    let per_round = options.alarms.div_ceil(rounds as u64) as usize;
    let round_seconds = (options.over / rounds as u64).max(1);
    let numbers = Arc::new(Mutex::new(numbers));
    let clients = options.clients.max(1);
    let intake = ab::alternate(rounds, async |stormy| {
        let pacer = if stormy {
            let batch: Vec<String> = {
                let mut left = numbers.lock().unwrap_or_else(|p| p.into_inner());
                let keep = left.len().saturating_sub(per_round);
                left.split_off(keep)
            };
            let incidents = Client::connect(&addr, Some(&admin)).await?.incidents();
            Some(tokio::spawn(escalate_paced(
                incidents,
                batch,
                Duration::from_secs(round_seconds),
            )))
        } else {
            None
        };
        let rate = intake_round(&addr, &admin, clients, round_seconds).await?;
        if let Some(pacer) = pacer {
            pacer.await??;
        }
        Ok(rate)
    })
    .await?;

    // Every alarm's text taken (or the wait runs out), then the alarms'
    // own times.
    let deadline = Instant::now()
        + if options.no_gateway {
            Duration::ZERO
        } else {
            Duration::from_secs(60)
        };
    while taken.lock().unwrap_or_else(|p| p.into_inner()).len() < options.alarms as usize
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiving.abort();
    let raised = raised_times(&client).await?;
    let taken = taken.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut histogram = load::histogram();
    for (id, (at, _)) in &taken {
        if let Some(raised) = raised.get(id) {
            let micros = at.duration_since(*raised).as_micros().max(1);
            let _ = histogram.record(u64::try_from(micros).unwrap_or(u64::MAX));
        }
    }
    Ok(AlarmBench {
        alarms: raised.len() as u64,
        over_seconds: round_seconds * rounds as u64,
        taken: taken.len() as u64,
        duplicates: taken.values().filter(|(_, times)| *times > 1).count() as u64,
        latency: Latency::of(&histogram),
        clients,
        intake,
    })
}

/// Escalates each of `numbers` to level 2, evenly over `over`.
async fn escalate_paced(
    mut incidents: pb::incident_service_client::IncidentServiceClient<crate::client::Authed>,
    numbers: Vec<String>,
    over: Duration,
) -> anyhow::Result<()> {
    let gap = over / u32::try_from(numbers.len().max(1)).unwrap_or(u32::MAX);
    let began = tokio::time::Instant::now();
    for (index, number) in numbers.into_iter().enumerate() {
        tokio::time::sleep_until(began + gap * u32::try_from(index).unwrap_or(u32::MAX)).await;
        incidents
            .escalate(pb::EscalateRequest {
                request_id: String::new(),
                incident: number,
                to_level: 2,
                reason: "压测".into(),
            })
            .await?;
    }
    Ok(())
}

/// Creates per second for `seconds`.
async fn intake_round(
    addr: &str,
    admin: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let mut lanes = Vec::new();
    for _ in 0..clients {
        lanes.push(Client::connect(addr, Some(admin)).await?.incidents());
    }
    let options = LoadOptions {
        clients,
        duration: Duration::from_secs(seconds),
        count: None,
        rate: None,
    };
    let outcome = load::run(lanes, &options, |mut incidents, _, n| async move {
        incidents
            .create_incident(crate::bench::search_call(n + 1_000_000))
            .await
            .map(drop)
    })
    .await?;
    if let Some((code, count)) = outcome.errors.iter().next() {
        anyhow::bail!("{count} creates failed with {code} during an intake round");
    }
    Ok(outcome.histogram.len() as f64 / outcome.seconds)
}

/// When each alarm was raised, by id.
async fn raised_times(client: &Client) -> anyhow::Result<BTreeMap<u64, Timestamp>> {
    let mut raised = BTreeMap::new();
    let mut after_id = 0;
    loop {
        let page = client
            .escalation()
            .list_alarms(pb::ListAlarmsRequest {
                include_acknowledged: true,
                incident: String::new(),
                after_id,
                limit: 1000,
            })
            .await?
            .into_inner()
            .alarms;
        let Some(last) = page.last() else { break };
        after_id = last.id;
        for alarm in page {
            if let Some(at) = alarm.raised_at {
                raised.insert(alarm.id, Timestamp::new(at.seconds, at.nanos)?);
            }
        }
    }
    Ok(raised)
}
