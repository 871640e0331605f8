//! `duty bench`: the instrument behind every speed and durability claim.
//!
//! Workloads drive a daemon — embedded on a fresh temporary store (default),
//! `dutyd` started as a child process (`--spawn`, for honest memory and CPU
//! figures), or a running one (`--remote`) — with N concurrent clients, each
//! on its own connection, and record every call in an HDR histogram.
//!
//! - [`load`]: the closed-loop (or paced) runner and its report.
//! - [`intake`], [`dispatch`], [`query`], [`mixed`]: the workloads.
//! - [`baseline`]: ceilings measured in the same run — a no-op RPC, bare
//!   sled writes with a shared flusher, a naive durable design — so results
//!   are read as ratios, which hold on noisy machines.
//! - [`startup`]: time to open a store of N incidents and answer.
//! - [`crash`]: kill `dutyd` at random moments and check nothing
//!   acknowledged is lost.
//! - [`child`]: `dutyd` as a child process.
//! - [`render`]: the console's frame time (no daemon).
//! - [`ab`]: A/B in one run — alternating rounds, the ratio of medians.
//! - [`report`]: a year of history, reports over it, and the rollups' cost.
//! - [`search`]: history search at N past calls, and the index's cost.

pub mod ab;
pub mod alarms;
pub mod baseline;
pub mod child;
pub mod crash;
pub mod dispatch;
pub mod intake;
pub mod load;
pub mod mixed;
pub mod query;
pub mod render;
pub mod report;
pub mod search;
pub mod startup;

use std::path::PathBuf;

use dutyroom_daemon::{Config, Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;

use crate::client::Client;

pub use load::{LoadOptions, Report};
pub use render::{RenderReport, render};
pub(crate) use search::call as search_call;

/// Where the load goes.
pub enum Target {
    /// A daemon started in this process on a temporary store.
    Embedded,
    /// `dutyd` started as a child process on a temporary store.
    Spawned,
    /// A running daemon.
    Remote {
        /// Its address.
        addr: String,
        /// An admin token (the workloads create posts and tokens).
        token: String,
    },
}

/// A daemon the bench uses, and how to reach it.
pub struct Prepared {
    /// Its address.
    pub addr: String,
    /// An admin token.
    pub token: String,
    daemon: Option<DaemonHandle>,
    child: Option<child::ChildDaemon>,
    _dir: Option<tempfile::TempDir>,
}

impl Prepared {
    /// Stops the daemon the bench started, if any.
    pub async fn finish(self) {
        if let Some(daemon) = self.daemon {
            let _ = daemon.shutdown().await;
        }
        if let Some(mut child) = self.child {
            let _ = child.terminate().await;
        }
    }

    /// The daemon's resident memory, MiB: the child's, or (embedded) this
    /// whole process's, load generator included; unknown for a remote one.
    pub fn rss_mib(&self) -> Option<f64> {
        match (&self.child, &self.daemon) {
            (Some(child), _) => child::rss_mib(child.pid()),
            (None, Some(_)) => child::rss_mib(std::process::id()),
            (None, None) => None,
        }
    }

    /// Where the daemon runs, for the report.
    pub fn where_(&self) -> &'static str {
        match (&self.child, &self.daemon) {
            (Some(_), _) => "dutyd child process",
            (None, Some(_)) => "embedded",
            (None, None) => "remote",
        }
    }

    /// A new client (its own connection).
    pub async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(&self.addr, Some(&self.token)).await?)
    }
}

/// Prepares `target`, runs `workload` on it, and stops what the bench
/// started (a child dutyd, an embedded one) whether or not it succeeded.
pub async fn on_target<T>(
    target: Target,
    data: Option<PathBuf>,
    workload: impl AsyncFnOnce(&Prepared) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let prepared = prepare(target, data).await?;
    let result = workload(&prepared).await;
    prepared.finish().await;
    result
}

/// Starts (or connects to) the target and loads the categories the
/// workloads use.
pub async fn prepare(target: Target, data: Option<PathBuf>) -> anyhow::Result<Prepared> {
    let prepared = match target {
        Target::Remote { addr, token } => Prepared {
            addr,
            token,
            daemon: None,
            child: None,
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
                child: None,
                _dir: Some(dir),
            }
        }
        Target::Spawned => {
            let dir = tempfile::tempdir()?;
            let data = data.unwrap_or_else(|| dir.path().join("data"));
            // A store the bench made before (--data) keeps its token beside it.
            let token_file = data.with_extension("token");
            let token = if token_file.exists() {
                std::fs::read_to_string(&token_file)?.trim().to_owned()
            } else {
                child::init(&data).await?
            };
            let (child, _) = child::ChildDaemon::start(&data).await?;
            Prepared {
                addr: child.addr.clone(),
                token,
                daemon: None,
                child: Some(child),
                _dir: Some(dir),
            }
        }
    };
    ensure_category(&prepared.client().await?).await?;
    let mut prepared = prepared;
    prepared.token = unlimited_token(&prepared.client().await?).await?;
    Ok(prepared)
}

/// An admin token without limits per token, made with `admin`: the bench
/// measures dutyd, not its limits (which would cap a load at 100 calls/s).
pub async fn unlimited_token(admin: &Client) -> anyhow::Result<String> {
    Ok(admin
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "duty bench (no limits)".into(),
            role: "admin".into(),
            calls_per_second: Some(0),
            max_streams: Some(0),
            ..Default::default()
        })
        .await?
        .into_inner()
        .secret)
}

/// Creates the `fire` category the workloads use, unless it exists.
pub async fn ensure_category(client: &Client) -> anyhow::Result<()> {
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
    Ok(())
}

/// Makes `count` posts (`bench-post-N`) and a token for each, unless they
/// exist; returns the tokens in order.
pub async fn posts(prepared: &Prepared, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let client = prepared.client().await?;
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("bench-post-{n}");
        let exists = client
            .posts()
            .get_post(pb::GetRequest { id: id.clone() })
            .await
            .is_ok();
        if !exists {
            client
                .posts()
                .create_post(pb::CreatePostRequest {
                    request_id: String::new(),
                    post: Some(pb::Post {
                        id: id.clone(),
                        name: format!("压测{n}号街道指挥部"),
                        ..Default::default()
                    }),
                })
                .await?;
        }
        let token = client
            .tokens()
            .create_token(pb::CreateTokenRequest {
                request_id: String::new(),
                name: format!("压测{n}号值守"),
                role: format!("post:{id}"),
                expires_at: None,
                // The bench measures dutyd, not the limits per token.
                calls_per_second: Some(0),
                call_burst: None,
                max_streams: Some(0),
            })
            .await?
            .into_inner()
            .secret;
        out.push((id, token));
    }
    Ok(out)
}
