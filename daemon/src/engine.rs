//! The write path: one writer, group commit.
//!
//! RPC handlers [`Engine::submit`] commands. A single writer thread takes
//! whatever has queued up, runs each command against the current state
//! (`execute` over a `scope::Scope`), writes the whole batch — state,
//! indexes, journal records — as **one** journal frame made durable with
//! **one** `fdatasync`, applies it to sled as one atomic batch, publishes the
//! events to live watchers and only then answers the callers. Commands that
//! arrive during a sync form the next batch, so under load one sync serves
//! many commands (group commit).
//!
//! "Durable" means the batch's frame is in the write-ahead journal and
//! `fdatasync`ed ([`crate::store::Store::commit`]); sled is applied at once
//! but made durable only by a checkpoint thread every
//! [`EngineOptions::checkpoint_every`] and when the writer stops.
//!
//! If a commit or checkpoint fails, the engine turns fatal: every caller gets
//! UNAVAILABLE, [`Engine::fatal`] fires (the server reports NOT_SERVING and
//! exits non-zero). An acknowledged write is never lost.
//!
//! - [`command`]: what callers ask for and what they get.
//! - `scope`: one command's staged reads and writes.
//! - `execute`: the command handlers.
//! - `writer`: the writer thread.

pub mod command;
mod escalate;
mod execute;
pub mod notify;
mod rosters;
mod scope;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::auth::TokenCache;
use crate::auth::principal::Principal;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::escalation::policy::{self, Policy};
use crate::journal::record::Record;
use crate::store::{Reader, Store};
use command::{Command, Outcome};

/// Tuning for the write path.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Most commands in one batch (one transaction).
    pub max_batch: usize,
    /// Commands waiting for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    /// Live events buffered for watchers; a watcher further behind catches up
    /// from the journal instead.
    pub broadcast_capacity: usize,
    /// Presence: offline grace, skew threshold, heartbeat interval.
    pub presence: crate::presence::PresenceOptions,
    /// How often sled is made durable (a checkpoint), so that the journal
    /// replayed after a crash stays short.
    pub checkpoint_every: std::time::Duration,
    /// Keep the assessment rollups as incidents change (on by default).
    /// Off only to measure what keeping them costs (`duty bench report`):
    /// a store written with them off lacks those days' figures.
    pub assessment_rollups: bool,
    /// Keep the search index as incidents change (on by default). Off only
    /// to measure what keeping it costs (`duty bench search`): incidents
    /// written with it off are never found by words or phone.
    pub search_index: bool,
    /// Journal records between two board snapshots for replay (the most a
    /// replay reads beyond its snapshot). Small only in tests.
    pub replay_snapshot_every: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 512,
            queue_depth: 4096,
            broadcast_capacity: 4096,
            presence: crate::presence::PresenceOptions::default(),
            checkpoint_every: std::time::Duration::from_secs(2),
            assessment_rollups: true,
            search_index: true,
            replay_snapshot_every: crate::store::replay::SNAPSHOT_EVERY,
        }
    }
}

/// One queued command and where to send its answer.
/// What the writer thread is handed.
#[expect(
    clippy::large_enum_variant,
    reason = "Stop is sent once per run; boxing every job would cost an allocation per command"
)]
enum Message {
    /// A command to run.
    Job(Job),
    /// Stop: answer what is still queued and end, even while other handles
    /// (connections being cut) still hold a sender.
    Stop,
}

struct Job {
    principal: Principal,
    request_id: Option<String>,
    reported: Option<Reported>,
    command: Command,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// When a client says it did what it asks for (sent late from an outbox),
/// already corrected for its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// The corrected time.
    pub at: Timestamp,
    /// The offset it was corrected by, if it was.
    pub skew_ms: Option<i64>,
}

/// State shared by the engine's handle, its threads and readers.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tz: TimeZone,
    pub(crate) tokens: Arc<TokenCache>,
    live: broadcast::Sender<Arc<Record>>,
    durable_seq: AtomicU64,
    fatal: CancellationToken,
    fatal_reason: Mutex<Option<String>>,
    /// The escalation policy in force (as of the last durable batch).
    pub(crate) policy: RwLock<Arc<Policy>>,
    /// Woken when a batch changed the deadlines: the timer re-reads the next.
    pub(crate) deadlines: Notify,
    /// Woken when a batch added or settled a notification owed to a gateway.
    pub(crate) outbox: Notify,
    /// Who is connected, and their clocks.
    pub(crate) presence: Arc<crate::presence::Presence>,
    /// Presence changes to journal, taken by the task that journals them.
    presence_notices: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<crate::presence::Notice>>>,
    /// Whether commands add to the assessment rollups.
    pub(crate) assessment_rollups: bool,
    /// Whether incident writes keep the search index.
    pub(crate) search_index: bool,
    /// Makes this engine's writer panic at its next batch (engine tests).
    #[cfg(test)]
    panic_next_batch: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn go_fatal(&self, reason: String) {
        tracing::error!(%reason, "the store failed; refusing writes and shutting down");
        let mut slot = self
            .fatal_reason
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        slot.get_or_insert(reason);
        self.fatal.cancel();
    }

    /// For a command that was never written: true to say nothing was.
    fn unavailable(&self) -> Error {
        Error::Unavailable(
            "dutyd cannot make writes durable (storage failure) and is shutting down; \
             nothing was recorded"
                .into(),
        )
    }

    /// For a command whose batch failed part-way: it may be in the store.
    fn outcome_unknown(&self) -> Error {
        Error::Unavailable(OUTCOME_UNKNOWN.into())
    }
}

/// What a caller hears when its write failed after it reached the store:
/// the truth is "maybe", and the request id makes a retry safe.
const OUTCOME_UNKNOWN: &str = "dutyd could not confirm this write is durable (storage failure) \
     and is shutting down; it may have been recorded: retry with the same request id once \
     dutyd is back";

/// Handle to the write path. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Engine {
    /// Starts the writer thread over `store`.
    pub fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        tz: TimeZone,
        options: EngineOptions,
    ) -> Result<Engine> {
        let head = store.head()?;
        let tokens = store.tokens()?;
        let (live, _) = broadcast::channel(options.broadcast_capacity.max(16));
        let policy = match store.policy_record()? {
            Some(record) => {
                let mut policy = policy::parse(&record.text).map_err(|e| {
                    Error::Storage(format!(
                        "the stored escalation policy no longer parses: {e}"
                    ))
                })?;
                policy.version = record.version;
                policy
            }
            None => Policy::default_policy(),
        };
        let (presence, presence_notices) =
            crate::presence::Presence::new(clock.clone(), options.presence);
        let shared = Arc::new(Shared {
            store,
            clock,
            tz,
            tokens: Arc::new(TokenCache::new(tokens)),
            live,
            durable_seq: AtomicU64::new(head.seq),
            fatal: CancellationToken::new(),
            fatal_reason: Mutex::new(None),
            policy: RwLock::new(Arc::new(policy.clone())),
            deadlines: Notify::new(),
            outbox: Notify::new(),
            presence: Arc::new(presence),
            presence_notices: Mutex::new(Some(presence_notices)),
            assessment_rollups: options.assessment_rollups,
            search_index: options.search_index,
            #[cfg(test)]
            panic_next_batch: std::sync::atomic::AtomicBool::new(false),
        });
        let (jobs, threads) = writer::spawn(shared.clone(), head, policy, &options)?;
        Ok(Engine {
            jobs,
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Runs a command; answers once its effects are durable.
    pub async fn submit(
        &self,
        principal: Principal,
        request_id: Option<String>,
        command: Command,
    ) -> Result<Outcome> {
        self.submit_reported(principal, request_id, None, command)
            .await
    }

    /// Runs a command the client says it did at `reported` (see
    /// [`Reported`]); its events record both times.
    pub async fn submit_reported(
        &self,
        principal: Principal,
        request_id: Option<String>,
        reported: Option<Reported>,
        command: Command,
    ) -> Result<Outcome> {
        if self.shared.fatal.is_cancelled() {
            return Err(self.shared.unavailable());
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            principal,
            request_id,
            reported,
            command,
            reply,
        };
        self.jobs.send(Message::Job(job)).await.map_err(|_| {
            Error::Unavailable("dutyd is shutting down; nothing was recorded".into())
        })?;
        // No answer: the writer died with the job in hand (it may be written).
        answer
            .await
            .map_err(|_| Error::Unavailable(OUTCOME_UNKNOWN.into()))?
    }

    /// The presence registry.
    pub fn presence(&self) -> &Arc<crate::presence::Presence> {
        &self.shared.presence
    }

    /// The presence changes to journal (once: the server's task takes them).
    pub(crate) fn take_presence_notices(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::presence::Notice>> {
        self.shared
            .presence_notices
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The current time by the engine's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.clock.now()
    }

    /// The engine's clock (the interceptor checks token expiry by it).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// The centre's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.shared.tz
    }

    /// The token records, as the interceptor sees them.
    pub fn tokens(&self) -> Arc<TokenCache> {
        self.shared.tokens.clone()
    }

    /// The newest seq that is durable (and published to watchers).
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Live durable events. Subscribe *before* reading [`Engine::durable_seq`]
    /// and replaying the journal up to it, and nothing falls in between.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.shared.live.subscribe()
    }

    /// The escalation policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.shared
            .policy
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// When the next clock alarm is due, if any clock runs.
    pub fn next_deadline(&self) -> Result<Option<jiff::Timestamp>> {
        self.shared.store.next_deadline()
    }

    /// Woken whenever a batch changed the deadlines.
    pub fn deadlines_changed(&self) -> &Notify {
        &self.shared.deadlines
    }

    /// Woken whenever a batch added or settled an owed notification.
    pub fn outbox_changed(&self) -> &Notify {
        &self.shared.outbox
    }

    /// Ticks of a test clock (none for the wall clock).
    pub fn clock_ticks(&self) -> Option<tokio::sync::watch::Receiver<jiff::Timestamp>> {
        self.shared.clock.ticks()
    }

    /// Fires when the store failed and the daemon must stop.
    pub fn fatal(&self) -> CancellationToken {
        self.shared.fatal.clone()
    }

    /// Why the engine turned fatal, if it did.
    pub fn fatal_reason(&self) -> Option<String> {
        self.shared
            .fatal_reason
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Stops taking commands, lets the writer finish what is queued (and
    /// flush it), and waits for it. Other clones of this handle must be
    /// dropped first, or the queue stays open.
    pub async fn shutdown(self) {
        let Engine { jobs, threads, .. } = self;
        // Connections still being cut hold senders too: tell the writer
        // instead of waiting for every sender to go.
        let _ = jobs.send(Message::Stop).await;
        drop(jobs);
        let handles = std::mem::take(&mut *threads.lock().unwrap_or_else(|p| p.into_inner()));
        let joined = tokio::task::spawn_blocking(move || {
            for handle in handles {
                let _ = handle.join();
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("engine threads did not stop cleanly");
        }
    }
}

#[cfg(test)]
mod tests;
