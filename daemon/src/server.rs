//! Assembles and runs the gRPC server: every service behind the token
//! interceptor, health and reflection without it, message size limits,
//! TCP_NODELAY on accepted sockets, TLS (and mTLS) when configured, and a
//! graceful shutdown.
//!
//! [`Daemon::start`] is what `dutyd`, the end-to-end tests and `duty demo`
//! call: it opens the store, starts the engine, creates the first admin token
//! on an empty store, binds, and serves until [`DaemonHandle::shutdown`] or a
//! storage failure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dutyroom_proto::v1 as pb;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::auth::Authenticator;
use crate::auth::principal::{Principal, Role};
use crate::auth::service::Tokens;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::directory::service::Directory;
use crate::engine::command::{Command, Outcome};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::escalation::service::Escalation;
use crate::incidents::service::Incidents;
use crate::journal::service::Journal;
use crate::store::{Reader, Store};

/// gRPC service names, for health reporting.
const SERVICES: [&str; 15] = [
    pb::incident_service_server::SERVICE_NAME,
    pb::post_service_server::SERVICE_NAME,
    pb::unit_service_server::SERVICE_NAME,
    pb::place_service_server::SERVICE_NAME,
    pb::person_service_server::SERVICE_NAME,
    pb::category_service_server::SERVICE_NAME,
    pb::token_service_server::SERVICE_NAME,
    pb::journal_service_server::SERVICE_NAME,
    pb::escalation_service_server::SERVICE_NAME,
    pb::roster_service_server::SERVICE_NAME,
    pb::handover_service_server::SERVICE_NAME,
    pb::roll_call_service_server::SERVICE_NAME,
    pb::presence_service_server::SERVICE_NAME,
    pb::report_service_server::SERVICE_NAME,
    pb::notify_service_server::SERVICE_NAME,
];

/// How to start a daemon.
pub struct Daemon {
    /// The configuration (listen address, data directory, zone, limits).
    pub config: Config,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Write-path tuning.
    pub engine: EngineOptions,
    /// Serve on this already-bound listener instead of `config.listen`.
    pub listener: Option<std::net::TcpListener>,
}

/// A running daemon.
pub struct DaemonHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The first admin token, when this start created the store's first one.
    /// Shown once: nothing else ever reveals it.
    pub admin_token: Option<String>,
    engine: Engine,
    shutdown: CancellationToken,
    serving: JoinHandle<std::result::Result<(), tonic::transport::Error>>,
    timer: JoinHandle<()>,
    grace: Duration,
}

impl Daemon {
    /// A daemon for `config` on the system clock.
    pub fn new(config: Config) -> Self {
        Daemon {
            config,
            clock: Arc::new(SystemClock),
            engine: EngineOptions::default(),
            listener: None,
        }
    }

    /// Opens the store, starts the engine and begins serving.
    pub async fn start(self) -> Result<DaemonHandle> {
        let config = self.config;
        config
            .validate()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let zone = config
            .zone()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        std::fs::create_dir_all(&config.data)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", config.data.display())))?;
        let data = config.data.clone();
        let cache = config.cache_mb * 1024 * 1024;
        let store = tokio::task::spawn_blocking(move || Store::open(&data, cache))
            .await
            .map_err(|e| Error::Storage(format!("opening the store: {e}")))??;
        let mut options = self.engine;
        options.presence = crate::presence::PresenceOptions {
            offline_grace: Duration::from_secs(config.offline_after_secs),
            skew_threshold: jiff::SignedDuration::from_secs(
                i64::try_from(config.clock_skew_secs).unwrap_or(i64::MAX),
            ),
            ..options.presence
        };
        let engine = Engine::start(store, self.clock, zone, options)?;
        let admin_token = bootstrap(&engine).await?;

        let listener = match self.listener {
            Some(listener) => listener,
            None => std::net::TcpListener::bind(config.listen).map_err(|e| {
                Error::Unavailable(format!("cannot listen on {}: {e}", config.listen))
            })?,
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::Unavailable(format!("listener: {e}")))?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| Error::Unavailable(format!("listener: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Unavailable(format!("listener: {e}")))?;
        // Without TCP_NODELAY every reply waits ~40 ms for Nagle's algorithm.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

        let shutdown = CancellationToken::new();
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", ServingStatus::Serving).await;
        for name in SERVICES {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dutyroom_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| Error::Storage(format!("reflection: {e}")))?;

        let limiter = Arc::new(crate::limits::Limiter::new(crate::limits::Defaults {
            calls_per_second: config.calls_per_second_per_token,
            call_burst: config.call_burst_per_token,
            max_streams: config.max_streams_per_token,
        }));
        let mut auth = Authenticator::new(
            engine.tokens(),
            engine.presence().clone(),
            engine.clock(),
            limiter.clone(),
        );
        if config.client_ca.is_some() {
            auth = auth.requiring_client_certificates();
        }
        let limit = config.max_message_kb * 1024;
        let deliveries = Arc::new(crate::notify::delivery::Deliveries::default());
        let incidents = Incidents::new(engine.clone());
        let directory = Directory::new(engine.clone());
        let tokens = Tokens::new(engine.clone());
        let escalation = Escalation::new(engine.clone());
        let rosters = crate::rosters::service::Rosters::new(engine.clone());
        let journal = Journal::new(
            engine.clone(),
            limiter,
            Duration::from_secs(config.heartbeat_secs),
            shutdown.clone(),
        );
        macro_rules! guarded {
            ($server:path, $inner:expr) => {
                InterceptedService::new(
                    <$server>::new($inner)
                        .max_decoding_message_size(limit)
                        .max_encoding_message_size(limit),
                    auth.clone(),
                )
            };
        }
        let mut builder = Server::builder();
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            let tls = crate::tls::server_config(cert, key, config.client_ca.as_deref())
                .map_err(|e| Error::InvalidArgument(format!("TLS: {e}")))?;
            builder = builder
                .tls_config(tls)
                .map_err(|e| Error::InvalidArgument(format!("TLS: {e}")))?;
        }
        let router = builder
            .layer(crate::error::DecodeErrors)
            .http2_keepalive_interval(Some(Duration::from_secs(20)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(guarded!(
                pb::incident_service_server::IncidentServiceServer<Incidents>,
                incidents
            ))
            .add_service(guarded!(
                pb::post_service_server::PostServiceServer<Directory>,
                directory.clone()
            ))
            .add_service(guarded!(
                pb::unit_service_server::UnitServiceServer<Directory>,
                directory.clone()
            ))
            .add_service(guarded!(
                pb::place_service_server::PlaceServiceServer<Directory>,
                directory.clone()
            ))
            .add_service(guarded!(
                pb::person_service_server::PersonServiceServer<Directory>,
                directory.clone()
            ))
            .add_service(guarded!(
                pb::category_service_server::CategoryServiceServer<Directory>,
                directory
            ))
            .add_service(guarded!(
                pb::token_service_server::TokenServiceServer<Tokens>,
                tokens
            ))
            .add_service(guarded!(
                pb::journal_service_server::JournalServiceServer<Journal>,
                journal
            ))
            .add_service(guarded!(
                pb::escalation_service_server::EscalationServiceServer<Escalation>,
                escalation
            ))
            .add_service(guarded!(
                pb::roster_service_server::RosterServiceServer<crate::rosters::service::Rosters>,
                rosters.clone()
            ))
            .add_service(guarded!(
                pb::handover_service_server::HandoverServiceServer<
                    crate::rosters::service::Rosters,
                >,
                rosters.clone()
            ))
            .add_service(guarded!(
                pb::roll_call_service_server::RollCallServiceServer<
                    crate::rosters::service::Rosters,
                >,
                rosters
            ))
            .add_service(guarded!(
                pb::presence_service_server::PresenceServiceServer<
                    crate::presence::service::PresenceApi,
                >,
                crate::presence::service::PresenceApi::new(engine.clone())
            ))
            .add_service(guarded!(
                pb::report_service_server::ReportServiceServer<
                    crate::assessment::service::ReportApi,
                >,
                crate::assessment::service::ReportApi::new(engine.clone())
            ))
            // The one service a gateway's token may enter (and there, only
            // ReportDelivery): every other refuses it at the door.
            .add_service(InterceptedService::new(
                pb::notify_service_server::NotifyServiceServer::new(
                    crate::notify::service::Notify::new(engine.clone(), deliveries.clone()),
                )
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
                auth.letting_gateways_in(),
            ));

        // A storage failure: say NOT_SERVING and stop.
        let fatal = engine.fatal();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = fatal.cancelled() => {
                    health.set_service_status("", ServingStatus::NotServing).await;
                    for name in SERVICES {
                        health.set_service_status(name, ServingStatus::NotServing).await;
                    }
                    stop.cancel();
                }
                () = stop.cancelled() => {
                    health.set_service_status("", ServingStatus::NotServing).await;
                }
            }
        });

        let timer = tokio::spawn(crate::escalation::timer::run(
            engine.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(crate::notify::delivery::run(
            engine.clone(),
            deliveries,
            shutdown.clone(),
        ));
        if let Some(notices) = engine.take_presence_notices() {
            tokio::spawn(crate::presence::run(
                engine.clone(),
                notices,
                shutdown.clone(),
            ));
        }

        let until = shutdown.clone();
        let serving = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, until.cancelled_owned())
                .await
        });
        tracing::info!(%addr, store = %engine.store().store_id(), head = engine.durable_seq(), "dutyd serving");
        Ok(DaemonHandle {
            addr,
            admin_token,
            engine,
            shutdown,
            serving,
            timer,
            grace: Duration::from_secs(config.shutdown_grace_secs),
        })
    }
}

/// On a new store: records the shipped escalation policy as version 1, and
/// (on a store without any usable token) creates the first admin token.
async fn bootstrap(engine: &Engine) -> Result<Option<String>> {
    let policy = engine.store().policy_record()?;
    if policy.is_none() {
        let command = Command::SetPolicy {
            text: crate::escalation::policy::DEFAULT_POLICY.to_owned(),
            expected_version: None,
        };
        engine.submit(Principal::system(), None, command).await?;
    }
    if engine.tokens().active() > 0 {
        return Ok(None);
    }
    let command = Command::CreateToken {
        name: "first admin".into(),
        role: Role::Admin,
        expires_at: None,
        limits: crate::limits::TokenLimits::default(),
    };
    match engine.submit(Principal::system(), None, command).await? {
        Outcome::Token { bearer, .. } => Ok(bearer),
        other => Err(Error::Storage(format!("bootstrap answered {other:?}"))),
    }
}

impl DaemonHandle {
    /// The engine, for in-process callers (the demo, tests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Fires when shutdown begins (asked for, or after a storage failure).
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops gracefully: stop accepting, end Watch streams with a resumable
    /// status, let in-flight calls finish (up to the grace period), then let
    /// the engine write and flush what is queued. Errors if the daemon
    /// stopped because the store failed.
    pub async fn shutdown(self) -> Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the daemon stops (after [`DaemonHandle::shutdown`] from a
    /// clone of [`DaemonHandle::stopping`], or a storage failure).
    pub async fn wait(self) -> Result<()> {
        let DaemonHandle {
            engine,
            shutdown,
            mut serving,
            timer,
            grace,
            ..
        } = self;
        shutdown.cancelled().await;
        // The whole stop fits in the grace: calls get most of it, the
        // writer the rest (it only has to answer what is queued).
        let began = tokio::time::Instant::now();
        let for_calls = grace.saturating_sub(grace / 5);
        let served = match tokio::time::timeout(for_calls, &mut serving).await {
            Ok(joined) => joined,
            Err(_) => {
                // Held streams (a health Watch) and calls whose body never
                // comes would hold the graceful stop forever. Aborting the
                // accept loop leaves their connection tasks running, so the
                // engine is stopped by message below, not by waiting for
                // every handle to drop.
                tracing::warn!(
                    ?grace,
                    "in-flight calls outlived the grace period; cutting them"
                );
                serving.abort();
                serving.await
            }
        };
        if let Ok(Err(error)) = served {
            tracing::error!(%error, "server error");
        }
        // The timer holds an engine handle: it must end before the engine.
        let left = grace.saturating_sub(began.elapsed());
        match tokio::time::timeout(left, timer).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::error!("the escalation timer panicked"),
            Err(_) => tracing::error!("the escalation timer did not stop in time"),
        }
        let fatal = engine.fatal_reason();
        let left = grace.saturating_sub(began.elapsed());
        if tokio::time::timeout(left.max(Duration::from_millis(500)), engine.shutdown())
            .await
            .is_err()
        {
            tracing::error!("the writer did not stop within the grace period");
        }
        match fatal {
            Some(reason) => Err(Error::Unavailable(reason)),
            None => Ok(()),
        }
    }
}
