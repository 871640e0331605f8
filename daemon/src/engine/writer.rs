//! The writer thread (see the `engine` module docs).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use super::command::Outcome;
use super::execute::execute;
use super::scope::Scope;
use super::{EngineOptions, Job, Shared};
use crate::error::{Error, Result};
use crate::journal::record::{EventBody, Record};
use crate::store::{self, Head, TreeId, WriteSet, keys};

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
    options: &EngineOptions,
) -> Result<(mpsc::Sender<Job>, Vec<std::thread::JoinHandle<()>>)> {
    let (jobs_tx, jobs_rx) = mpsc::channel(options.queue_depth.max(1));
    let max_batch = options.max_batch.max(1);
    let writer = std::thread::Builder::new()
        .name("dutyd-writer".into())
        .spawn(move || write_loop(&shared, head, jobs_rx, max_batch))
        .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
    Ok((jobs_tx, vec![writer]))
}

fn fingerprint(job: &Job) -> String {
    let bytes = serde_json::to_vec(&job.command).unwrap_or_default();
    store::record_hash(&bytes)
}

fn write_loop(shared: &Shared, mut head: Head, mut jobs: mpsc::Receiver<Job>, max_batch: usize) {
    let mut last_at = Timestamp::UNIX_EPOCH;
    while let Some(first) = jobs.blocking_recv() {
        let mut writes = WriteSet::default();
        let mut records = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        let mut batch_head = head.clone();
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
                run_job(
                    shared,
                    job,
                    now,
                    &mut writes,
                    &mut records,
                    &mut replies,
                    &mut batch_head,
                );
            }
            next = if taken < max_batch {
                jobs.try_recv().ok()
            } else {
                None
            };
        }
        if !writes.is_empty() {
            let durable = store::encode(&batch_head).and_then(|bytes| {
                writes.put(TreeId::State, keys::meta("head"), bytes);
                shared.store.commit(&writes)?;
                shared.store.flush()
            });
            if let Err(error) = durable {
                shared.go_fatal(format!("writing a batch failed: {error}"));
                for (reply, _) in replies {
                    let _ = reply.send(Err(shared.unavailable()));
                }
                continue;
            }
            head = batch_head;
        }
        publish(shared, records, replies);
    }
}

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

fn run_job(
    shared: &Shared,
    job: Job,
    now: Timestamp,
    writes: &mut WriteSet,
    records: &mut Vec<Arc<Record>>,
    replies: &mut Vec<Reply>,
    head: &mut Head,
) {
    let request_key = job
        .request_id
        .as_deref()
        .map(|rid| keys::request(&job.principal.token_id, rid));
    let fingerprint = request_key.as_ref().map(|_| fingerprint(&job));
    let outcome = {
        let mut scope = Scope::new(
            &shared.store,
            writes,
            head.clone(),
            now,
            &job.principal,
            job.request_id.as_deref(),
            &shared.tz,
        );
        let earlier = match &request_key {
            Some(key) => scope.get::<RequestRecord>(TreeId::State, key),
            None => Ok(None),
        };
        match earlier {
            Err(error) => Err(error),
            Ok(Some(earlier)) => {
                if Some(&earlier.fingerprint) == fingerprint.as_ref() {
                    // A retry: the first answer. It goes out with this batch,
                    // after its flush, so the first write is durable by then.
                    replies.push((job.reply, Ok(earlier.outcome)));
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
                return;
            }
            Ok(None) => execute(&mut scope, &job.command).and_then(|outcome| {
                if let (Some(key), Some(fingerprint)) = (request_key, fingerprint) {
                    let remembered = RequestRecord {
                        fingerprint,
                        outcome: outcome.for_retry(),
                    };
                    scope.put(TreeId::State, key, &remembered)?;
                }
                let Scope {
                    writes: staged,
                    head: new_head,
                    records: new_records,
                    ..
                } = scope;
                Ok((outcome, staged, new_head, new_records))
            }),
        }
    };
    match outcome {
        Ok((outcome, staged, new_head, new_records)) => {
            writes.absorb(staged);
            *head = new_head;
            records.extend(new_records);
            replies.push((job.reply, Ok(outcome)));
        }
        Err(error) => {
            // Nothing was staged: the command's scope is gone with its writes.
            let _ = job.reply.send(Err(error));
        }
    }
}
