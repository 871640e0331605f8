//! Ceilings, measured on the same machine and disk just before the real
//! run, with the same payloads and concurrency:
//!
//! - **transport**: a no-op gRPC unary call (the bench-only `Echo` service:
//!   CreateIncident's request in, a real IncidentReply out) on loopback —
//!   nothing can be faster than HTTP/2 + protobuf;
//! - **storage**: bare sled inserts of an incident-sized value, each waiting
//!   for one shared flusher — nothing durable can be faster on this disk;
//! - **naive**: the design we did not build — one three-tree sled
//!   transaction per request plus the shared flush, behind the same no-op
//!   RPC. Group commit of batched commands must beat it.
//!
//! Absolute figures drift on shared machines; ratios to these are what we
//! compare over time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use dutyroom_proto::bench::echo_client::EchoClient;
use dutyroom_proto::bench::echo_server::{Echo, EchoServer};
use dutyroom_proto::v1 as pb;
use prost::Message;
use tokio::sync::watch;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::bench::{LoadOptions, Report, load};

/// One flusher for many writers: each writer waits until a flush that
/// started after its write has finished — how a durable server would share
/// fsyncs. (sled 0.34 must not be flushed concurrently.) Each flush is
/// sled's and then an `fdatasync` of sled's log, as `dutyd` does: sled's
/// own flush does not survive a power cut.
struct Flusher {
    written: AtomicU64,
    wake: Mutex<bool>,
    ring: Condvar,
    flushed: watch::Receiver<u64>,
}

impl Flusher {
    fn start(db: sled::Db, log: std::fs::File) -> Arc<Flusher> {
        let (tx, rx) = watch::channel(0u64);
        let flusher = Arc::new(Flusher {
            written: AtomicU64::new(0),
            wake: Mutex::new(false),
            ring: Condvar::new(),
            flushed: rx,
        });
        let me = flusher.clone();
        std::thread::spawn(move || {
            loop {
                {
                    let mut woken = me.wake.lock().unwrap_or_else(|p| p.into_inner());
                    while !*woken {
                        woken = me.ring.wait(woken).unwrap_or_else(|p| p.into_inner());
                    }
                    *woken = false;
                }
                let target = me.written.load(Ordering::Acquire);
                if db.flush().is_err() || log.sync_data().is_err() {
                    return;
                }
                if tx.send(target).is_err() {
                    return;
                }
            }
        });
        flusher
    }

    /// Waits until everything written so far (this caller's write included)
    /// is on disk.
    async fn durable(&self) -> Result<(), Status> {
        let ticket = self.written.fetch_add(1, Ordering::AcqRel) + 1;
        {
            let mut woken = self.wake.lock().unwrap_or_else(|p| p.into_inner());
            *woken = true;
            self.ring.notify_one();
        }
        let mut flushed = self.flushed.clone();
        flushed
            .wait_for(|done| *done >= ticket)
            .await
            .map(drop)
            .map_err(|_| Status::unavailable("flusher stopped"))
    }
}

/// The no-op (or naive-durable) Echo server.
struct EchoService {
    reply: pb::IncidentReply,
    naive: Option<Naive>,
}

struct Naive {
    trees: (sled::Tree, sled::Tree, sled::Tree),
    next: AtomicU64,
    flusher: Arc<Flusher>,
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn create(
        &self,
        request: Request<pb::CreateIncidentRequest>,
    ) -> Result<Response<pb::IncidentReply>, Status> {
        if let Some(naive) = &self.naive {
            use sled::Transactional;
            let bytes = request.get_ref().encode_to_vec();
            let key = naive.next.fetch_add(1, Ordering::Relaxed).to_be_bytes();
            let (journal, state, index) = &naive.trees;
            (journal, state, index)
                .transaction(|(journal, state, index)| {
                    journal.insert(&key, bytes.as_slice())?;
                    state.insert(&key, bytes.as_slice())?;
                    index.insert(&key, &key)?;
                    Ok(())
                })
                .map_err(|e: sled::transaction::TransactionError<()>| {
                    Status::internal(format!("{e:?}"))
                })?;
            naive.flusher.durable().await?;
        }
        Ok(Response::new(self.reply.clone()))
    }
}

async fn serve(service: EchoService) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(EchoServer::new(service))
            .serve_with_incoming(incoming)
            .await;
    });
    Ok((addr, task))
}

async fn drive(name: &str, addr: SocketAddr, options: &LoadOptions) -> anyhow::Result<Report> {
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        clients.push(EchoClient::new(channel));
    }
    let outcome = load::run(clients, options, |mut echo, index, n| async move {
        echo.create(crate::bench::intake::request(index, n))
            .await
            .map(drop)
    })
    .await?;
    let mut report = outcome.report(name, options.clients);
    report.target = "this process".into();
    Ok(report)
}

/// The transport ceiling: a no-op unary RPC answering `reply`.
pub async fn transport(options: &LoadOptions, reply: &pb::IncidentReply) -> anyhow::Result<Report> {
    let (addr, server) = serve(EchoService {
        reply: reply.clone(),
        naive: None,
    })
    .await?;
    let report = drive("ceiling: no-op RPC", addr, options).await;
    server.abort();
    report
}

/// The naive durable design behind the same RPC, on a sled store in `dir`.
pub async fn naive(
    options: &LoadOptions,
    reply: &pb::IncidentReply,
    dir: &Path,
) -> anyhow::Result<Report> {
    let db = sled::Config::new().path(dir.join("naive")).open()?;
    let log = std::fs::File::open(dir.join("naive").join("db"))?;
    let trees = (
        db.open_tree("journal")?,
        db.open_tree("state")?,
        db.open_tree("index")?,
    );
    let flusher = Flusher::start(db.clone(), log);
    let (addr, server) = serve(EchoService {
        reply: reply.clone(),
        naive: Some(Naive {
            trees,
            next: AtomicU64::new(1),
            flusher,
        }),
    })
    .await?;
    let report = drive("reference: naive durable", addr, options).await;
    server.abort();
    report
}

/// The storage ceiling: `clients` writers inserting an incident-sized value
/// into sled in `dir`, each waiting for the shared flusher.
pub async fn storage(options: &LoadOptions, value: &[u8], dir: &Path) -> anyhow::Result<Report> {
    let db = sled::Config::new().path(dir.join("storage")).open()?;
    let log = std::fs::File::open(dir.join("storage").join("db"))?;
    let flusher = Flusher::start(db.clone(), log);
    let value: Arc<[u8]> = value.into();
    let writers = vec![(db, flusher, value); options.clients];
    let outcome = load::run(writers, options, |(db, flusher, value), _, n| async move {
        db.insert(n.to_be_bytes(), &*value)
            .map_err(|e| Status::internal(e.to_string()))?;
        flusher.durable().await
    })
    .await?;
    let mut report = outcome.report("ceiling: sled insert + shared flush", options.clients);
    report.target = "this process".into();
    Ok(report)
}

/// The three ceilings at `options`' concurrency, on a scratch store in `dir`.
pub async fn ceilings(
    options: &LoadOptions,
    reply: &pb::IncidentReply,
    dir: &Path,
) -> anyhow::Result<Ceilings> {
    let value = reply
        .incident
        .as_ref()
        .map(|i| i.encode_to_vec())
        .unwrap_or_default();
    Ok(Ceilings {
        transport: transport(options, reply).await?,
        storage: storage(options, &value, dir).await?,
        naive: naive(options, reply, dir).await?,
    })
}

/// What [`ceilings`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ceilings {
    /// The no-op RPC.
    pub transport: Report,
    /// Bare sled with a shared flusher.
    pub storage: Report,
    /// One transaction per request behind the no-op RPC.
    pub naive: Report,
}

impl Ceilings {
    /// `result` as ratios to the ceilings: throughput shares, and how many
    /// times the no-op RPC's median its median is.
    pub fn ratios(&self, result: &Report) -> Vec<(String, f64)> {
        let share = |ceiling: &Report| result.per_second / ceiling.per_second.max(1e-9);
        vec![
            ("throughput / no-op RPC".into(), share(&self.transport)),
            (
                "throughput / sled + shared flush".into(),
                share(&self.storage),
            ),
            ("throughput / naive durable".into(), share(&self.naive)),
            (
                "p50 / no-op RPC p50".into(),
                result.latency.p50_us as f64 / self.transport.latency.p50_us.max(1) as f64,
            ),
        ]
    }
}

/// A real IncidentReply to echo: the payload size the daemon answers with.
pub async fn sample_reply(client: &crate::client::Client) -> anyhow::Result<pb::IncidentReply> {
    Ok(client
        .incidents()
        .create_incident(crate::bench::intake::request(0, 0))
        .await?
        .into_inner())
}

/// Keeps a scratch directory for the ceilings next to where the daemon's
/// store would be (the same disk).
pub fn scratch() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::tempdir()?)
}

/// How long to let the ceilings run: the same as the real run, at most 10 s.
pub fn ceiling_options(options: &LoadOptions) -> LoadOptions {
    LoadOptions {
        duration: options.duration.min(Duration::from_secs(10)),
        count: options.count,
        rate: None,
        ..options.clone()
    }
}
