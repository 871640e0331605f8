//! The writer thread (see the `engine` module docs).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use super::command::Outcome;
use super::execute::execute;
use super::scope::{Env, Scope};
use super::{EngineOptions, Job, Message, Shared};
use crate::error::{Error, Result};
use crate::escalation::policy::Policy;
use crate::journal::record::{EventBody, Record};
use crate::store::{self, Durable, Head, Reader, WriteSet};

/// What the writer remembers about one client request id.
#[derive(serde::Serialize, serde::Deserialize)]
struct RequestRecord {
    /// SHA-256 of the command, to catch an id reused for something else.
    fingerprint: String,
    /// The first answer (without secrets).
    outcome: Outcome,
}

type Reply = (oneshot::Sender<Result<Outcome>>, Result<Outcome>);

pub(super) fn spawn(
    shared: Arc<Shared>,
    head: Head,
    policy: Policy,
    options: &EngineOptions,
) -> Result<(mpsc::Sender<Message>, Vec<std::thread::JoinHandle<()>>)> {
    let (jobs_tx, jobs_rx) = mpsc::channel(options.queue_depth.max(1));
    let max_batch = options.max_batch.max(1);
    // Dropped when the writer ends, however it ends: the checkpointer's cue
    // to make sled durable one last time and stop.
    let (writer_alive, writer_gone) = std::sync::mpsc::channel::<()>();
    let checkpointer = {
        let shared = shared.clone();
        let every = options.checkpoint_every;
        let snapshot_every = options.replay_snapshot_every.max(1);
        std::thread::Builder::new()
            .name("dutyd-checkpoint".into())
            .spawn(move || checkpoint_loop(&shared, &writer_gone, every, snapshot_every))
            .map_err(|e| Error::Storage(format!("cannot start the checkpoint thread: {e}")))?
    };
    let writer = std::thread::Builder::new()
        .name("dutyd-writer".into())
        .spawn(move || {
            let _alive = writer_alive;
            // A panic here must not leave dutyd SERVING with no writer: it
            // takes the fatal path like a storage failure.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                write_loop(&shared, head, policy, jobs_rx, max_batch);
            }));
            if let Err(panic) = ran {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                shared.go_fatal(format!("the writer thread panicked: {what}"));
            }
        })
        .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
    Ok((jobs_tx, vec![writer, checkpointer]))
}

/// Every `every`, if anything was written since the last time, makes sled
/// durable and lets the journal drop what it no longer needs; once more when
/// the writer ends. A failed checkpoint is a storage failure like any other.
fn checkpoint_loop(
    shared: &Shared,
    writer_gone: &std::sync::mpsc::Receiver<()>,
    every: Duration,
    snapshot_every: u64,
) {
    let mut done = shared.store.applied_lsn();
    // After an archive pass fails (say, the disk is full), the next try
    // waits: the journal is whole without archives, only bigger.
    let mut archive_after = std::time::Instant::now();
    loop {
        let stopping = !matches!(
            writer_gone.recv_timeout(every),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if shared.fatal.is_cancelled() {
            return;
        }
        let applied = shared.store.applied_lsn();
        if applied != done {
            if let Err(error) = shared.store.checkpoint() {
                shared.go_fatal(format!("a checkpoint failed: {error}"));
                return;
            }
            done = applied;
        }
        if stopping {
            return;
        }
        // Sealed segments the checkpoint made redundant become archives,
        // a few per tick so that a backlog drains without starving writes.
        let started = std::time::Instant::now();
        while started >= archive_after && started.elapsed() < every / 2 {
            match shared.store.archive_sealed() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "archiving a journal segment failed; trying again in a minute");
                    archive_after = std::time::Instant::now() + Duration::from_secs(60);
                    break;
                }
            }
        }
        // The search index follows the incidents a chunk at a time, in what
        // is left of the tick (searches check the rest one by one).
        while shared.search_index && started.elapsed() < every / 2 {
            match shared.store.index_for_search(500) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "indexing incidents for search failed; trying again next tick");
                    break;
                }
            }
        }
        // Board snapshots for replay follow the journal the same way, with
        // a share of the tick of their own: behind a busy fill, archiving and
        // indexing took all of it and snapshots fell millions of records
        // behind, which a replay of a recent moment then reads through.
        let began = std::time::Instant::now();
        while began.elapsed() < every / 4 {
            let durable = shared.durable_seq.load(Ordering::Acquire);
            match shared.store.snapshot_board(
                durable,
                snapshot_every,
                crate::history::replay::board_change,
            ) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "snapshotting the board for replay failed; trying again next tick");
                    break;
                }
            }
        }
    }
}

fn fingerprint(job: &Job) -> String {
    let bytes = serde_json::to_vec(&job.command).unwrap_or_default();
    store::record_hash(&bytes)
}

fn write_loop(
    shared: &Shared,
    mut head: Head,
    mut policy: Policy,
    mut jobs: mpsc::Receiver<Message>,
    max_batch: usize,
) {
    let mut last_at = Timestamp::UNIX_EPOCH;
    let mut stopping = false;
    while !stopping {
        let first = match jobs.blocking_recv() {
            Some(Message::Job(job)) => job,
            Some(Message::Stop) | None => break,
        };
        #[cfg(test)]
        if shared.panic_next_batch.swap(false, Ordering::SeqCst) {
            panic!("injected by a test");
        }
        let mut writes = WriteSet::default();
        let mut assessments = crate::assessment::Pending::default();
        let mut records = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        let mut batch_head = head.clone();
        let mut policy_changed = false;
        let mut next = Some(first);
        let mut taken = 0;
        // Everything that queued up while the last batch was being flushed.
        while let Some(job) = next {
            taken += 1;
            if shared.fatal.is_cancelled() {
                let _ = job.reply.send(Err(shared.unavailable()));
            } else {
                // Journal times never go backwards, even if the wall clock does.
                let now = shared.clock.now().max(last_at);
                last_at = now;
                let mut batch = Batch {
                    writes: &mut writes,
                    assessments: &mut assessments,
                    records: &mut records,
                    replies: &mut replies,
                    head: &mut batch_head,
                };
                if let Some(new_policy) = run_job(shared, job, now, &policy, &mut batch) {
                    policy = new_policy;
                    policy_changed = true;
                }
            }
            next = if taken < max_batch {
                match jobs.try_recv() {
                    Ok(Message::Job(job)) => Some(job),
                    // Finish this batch, then stop.
                    Ok(Message::Stop) => {
                        stopping = true;
                        None
                    }
                    Err(_) => None,
                }
            } else {
                None
            };
        }
        let deadlines_changed = writes.touches_deadlines();
        let outbox_changed = writes.touches_outbox();
        let mut to_apply = None;
        if !writes.is_empty() {
            let durable =
                crate::engine::scope::stage_assessments(&shared.store, &mut writes, &assessments)
                    .and_then(|()| writes.put_head(&batch_head))
                    .and_then(|()| shared.store.commit_durable(&writes));
            match durable {
                Ok(durable) => to_apply = Some(durable),
                Err(error) => {
                    shared.go_fatal(format!("writing a batch failed: {error}"));
                    // The frame may have reached the disk before the failure
                    // (a failed fdatasync after a good write): say "maybe".
                    for (reply, _) in replies {
                        let _ = reply.send(Err(shared.outcome_unknown()));
                    }
                    continue;
                }
            }
            head = batch_head;
        }
        if policy_changed {
            *shared
                .policy
                .write()
                .unwrap_or_else(|poison| poison.into_inner()) = Arc::new(policy.clone());
        }
        // Durable is what an answer promises: a batch of a few calls is
        // answered now and applied to sled while the answers travel (reads
        // begun meanwhile wait for the apply; see `store::Settle`). A bulk
        // batch — an escalation sweep raising alarms on hundreds of
        // incidents — is applied first: its apply is long, and every read
        // would wait on it.
        let applied = if records.len() <= ANSWER_FIRST_RECORDS {
            if let Some(durable) = &to_apply {
                durable.answer_first();
            }
            publish(shared, records, replies);
            to_apply.map(Durable::apply).transpose()
        } else {
            let applied = to_apply.map(Durable::apply).transpose();
            publish(shared, records, replies);
            applied
        };
        if let Err(error) = applied {
            // Answered and in the journal; a restart replays it.
            shared.go_fatal(format!(
                "applying a durable batch to the state failed: {error}"
            ));
            continue;
        }
        if deadlines_changed {
            shared.deadlines.notify_one();
        }
        if outbox_changed {
            shared.outbox.notify_one();
        }
    }
    // Stopping: what is still queued was never written, and says so.
    jobs.close();
    while let Ok(message) = jobs.try_recv() {
        if let Message::Job(job) = message {
            let _ = job.reply.send(Err(Error::Unavailable(
                "dutyd is shutting down; nothing was recorded".into(),
            )));
        }
    }
}

/// Where one job's effects go in the batch being built.
struct Batch<'a> {
    writes: &'a mut WriteSet,
    assessments: &'a mut crate::assessment::Pending,
    records: &'a mut Vec<Arc<Record>>,
    replies: &'a mut Vec<Reply>,
    head: &'a mut Head,
}

/// Batches of at most this many records are answered before sled applies
/// them; bigger ones after.
const ANSWER_FIRST_RECORDS: usize = 64;

/// After the flush: the new head is durable; tell watchers, then callers.
fn publish(shared: &Shared, records: Vec<Arc<Record>>, replies: Vec<Reply>) {
    if let Some(last) = records.last() {
        shared.durable_seq.store(last.seq, Ordering::Release);
    }
    for record in records {
        if let EventBody::Token(event) = &record.body {
            shared.tokens.upsert(event.record().clone());
        }
        // No receivers is fine: nobody is watching.
        let _ = shared.live.send(record);
    }
    for (reply, outcome) in replies {
        let _ = reply.send(outcome);
    }
}

/// Runs one job into the batch; returns the new policy if it set one.
fn run_job(
    shared: &Shared,
    job: Job,
    now: Timestamp,
    policy: &Policy,
    batch: &mut Batch<'_>,
) -> Option<Policy> {
    let token_id = job.principal.token_id.as_str();
    let request_id = job.request_id.as_deref();
    let fingerprint = request_id.map(|_| fingerprint(&job));
    let outcome = {
        let env = Env {
            store: &shared.store,
            tz: &shared.tz,
            policy,
            assessment_rollups: shared.assessment_rollups,
            search_index: shared.search_index,
        };
        let mut scope = Scope::new(
            &env,
            batch.writes,
            batch.head.clone(),
            now,
            &job.principal,
            job.request_id.as_deref(),
        );
        scope.reported = job.reported;
        let earlier = match request_id {
            Some(request_id) => scope.view().request::<RequestRecord>(token_id, request_id),
            None => Ok(None),
        };
        match earlier {
            Err(error) => Err(error),
            Ok(Some(earlier)) => {
                if Some(&earlier.fingerprint) == fingerprint.as_ref() {
                    // A retry: the first answer. It goes out with this batch,
                    // after its flush, so the first write is durable by then.
                    batch.replies.push((job.reply, Ok(earlier.outcome)));
                } else {
                    let _ = job.reply.send(Err(Error::invalid(
                        "request_id",
                        format!(
                            "{:?} was already used for a different request; use a new id \
                             for a new request",
                            job.request_id.unwrap_or_default()
                        ),
                    )));
                }
                return None;
            }
            Ok(None) => execute(&mut scope, &job.command).and_then(|outcome| {
                if let (Some(request_id), Some(fingerprint)) = (request_id, fingerprint) {
                    let remembered = RequestRecord {
                        fingerprint,
                        outcome: outcome.for_retry(),
                    };
                    scope
                        .writes
                        .put_request(token_id, request_id, &remembered)?;
                }
                let Scope {
                    writes: staged,
                    head: new_head,
                    records: new_records,
                    new_policy,
                    assessments,
                    ..
                } = scope;
                Ok((
                    outcome,
                    staged,
                    new_head,
                    new_records,
                    new_policy,
                    assessments,
                ))
            }),
        }
    };
    match outcome {
        Ok((outcome, staged, new_head, new_records, new_policy, assessments)) => {
            batch.writes.absorb(staged);
            batch.assessments.absorb(assessments);
            *batch.head = new_head;
            batch.records.extend(new_records);
            batch.replies.push((job.reply, Ok(outcome)));
            new_policy
        }
        Err(error) => {
            // Nothing was staged: the command's scope is gone with its writes.
            let _ = job.reply.send(Err(error));
            None
        }
    }
}
