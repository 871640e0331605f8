//! `JournalService`: Watch (replay, then live), ListEvents, VerifyJournal and
//! GetServerInfo.
//!
//! A Watch stream is a pull-driven state machine (no task, no buffer of its
//! own): tonic pulls the next item when the client has room. It replays the
//! journal after the client's `from_seq` up to the durable head, then follows
//! the engine's live broadcast. A client that falls behind the broadcast
//! buffer simply catches up from the journal again, so a slow client never
//! blocks writers and never sees a gap or a duplicate.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dutyroom_proto::v1 as pb;
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::auth::principal::Principal;
use crate::auth::{principal_of, require_admin};
use crate::convert;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::incidents::numbering;
use crate::incidents::service::load_visible;
use crate::journal::record::Record;
use crate::store::{self, Counter, Reader};
use crate::visibility;

type Reply<T> = std::result::Result<Response<T>, Status>;
type WatchStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::WatchResponse, Status>> + Send>>;

/// Records read from the journal per step of a replay.
const REPLAY_CHUNK: usize = 256;

/// The gRPC journal service.
#[derive(Clone)]
pub struct Journal {
    engine: Engine,
    limiter: Arc<crate::limits::Limiter>,
    heartbeat: Duration,
    shutdown: CancellationToken,
}

impl Journal {
    /// Serves the journal of `engine`; streams end when `shutdown` fires.
    pub fn new(
        engine: Engine,
        limiter: Arc<crate::limits::Limiter>,
        heartbeat: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        Journal {
            engine,
            limiter,
            heartbeat,
            shutdown,
        }
    }
}

/// Which events a stream wants, beyond what the caller may see.
struct Filter {
    incidents: HashSet<String>,
    subject_kinds: HashSet<String>,
}

impl Filter {
    fn wants(&self, record: &Record) -> bool {
        (self.subject_kinds.is_empty() || self.subject_kinds.contains(record.subject.kind_noun()))
            && (self.incidents.is_empty() || self.incidents.contains(&record.subject.display_id()))
    }
}

enum Phase {
    Replay,
    Live,
    Done,
}

struct Watcher {
    /// Dropped with the stream: the client goes offline.
    _presence: Option<crate::presence::StreamGuard>,
    /// Dropped with the stream: the token may open another.
    _slot: crate::limits::StreamSlot,
    engine: Engine,
    principal: Principal,
    filter: Filter,
    /// Seq of the last record looked at (sent or filtered out).
    last_seen: u64,
    /// Seq of the last record sent (or where the stream started).
    last_sent: u64,
    live: broadcast::Receiver<Arc<Record>>,
    ready: VecDeque<pb::WatchResponse>,
    phase: Phase,
    caught_up_once: bool,
    heartbeat: Duration,
    shutdown: CancellationToken,
    tokens: Arc<crate::auth::TokenCache>,
    /// Fires on every token change: a revoked token's stream ends at once.
    token_changes: tokio::sync::watch::Receiver<u64>,
}

impl Watcher {
    fn offer(&mut self, record: &Record) -> Result<()> {
        self.last_seen = record.seq;
        if !self.filter.wants(record) {
            return Ok(());
        }
        if let Some(event) = visibility::event(self.engine.store(), &self.principal, record)? {
            self.last_sent = record.seq;
            self.ready.push_back(pb::WatchResponse {
                item: Some(pb::watch_response::Item::Event(event)),
            });
        }
        Ok(())
    }

    fn heartbeat(&self, caught_up: bool) -> pb::WatchResponse {
        // A post or unit is told how far it has everything it may see, not
        // the store's head (visibility: no store-wide figures).
        let head_seq = if self.principal.role.is_centre() {
            self.engine.durable_seq()
        } else {
            self.last_sent
        };
        pb::WatchResponse {
            item: Some(pb::watch_response::Item::Heartbeat(pb::Heartbeat {
                head_seq,
                server_time: Some(convert::ts(self.engine.now())),
                caught_up,
                store_id: self.engine.store().identity(),
            })),
        }
    }

    /// Reads the next chunk of the journal; switches to live when caught up.
    fn replay_step(&mut self) -> Result<()> {
        let durable = self.engine.durable_seq();
        let chunk = self
            .engine
            .store()
            .journal_after(self.last_seen, REPLAY_CHUNK)?;
        let mut read = 0;
        for (_, bytes) in chunk {
            let record: Record = store::decode(&bytes)?;
            if record.seq > durable {
                break;
            }
            read += 1;
            self.offer(&record)?;
        }
        if read < REPLAY_CHUNK && self.last_seen >= durable {
            self.phase = Phase::Live;
            if !self.caught_up_once {
                self.caught_up_once = true;
                let beat = self.heartbeat(true);
                self.ready.push_back(beat);
            }
        }
        Ok(())
    }

    async fn next(mut self) -> Option<(std::result::Result<pb::WatchResponse, Status>, Self)> {
        loop {
            // A stream outlives the call that authenticated it: a token
            // revoked or expired since ends it, before anything else is sent.
            if !matches!(self.phase, Phase::Done)
                && let Err(error) = self
                    .tokens
                    .check(&self.principal.token_id, self.engine.now())
            {
                self.phase = Phase::Done;
                return Some((Err(error.into()), self));
            }
            if let Some(item) = self.ready.pop_front() {
                return Some((Ok(item), self));
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Replay => {
                    if let Err(error) = self.replay_step() {
                        self.phase = Phase::Done;
                        return Some((Err(error.into()), self));
                    }
                }
                Phase::Live => {
                    tokio::select! {
                        biased;
                        () = self.shutdown.cancelled() => {
                            self.phase = Phase::Done;
                            let status = Status::unavailable(format!(
                                "dutyd is shutting down; reconnect and resume from seq {}",
                                self.last_seen
                            ));
                            return Some((Err(status), self));
                        }
                        received = self.live.recv() => match received {
                            Ok(record) if record.seq <= self.last_seen => {}
                            Ok(record) if record.seq == self.last_seen + 1 => {
                                if let Err(error) = self.offer(&record) {
                                    self.phase = Phase::Done;
                                    return Some((Err(error.into()), self));
                                }
                            }
                            // Missed something: the journal has it.
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                                self.phase = Phase::Replay;
                            }
                            Err(broadcast::error::RecvError::Closed) => {
                                self.phase = Phase::Done;
                                let status = Status::unavailable(format!(
                                    "dutyd is stopping; reconnect and resume from seq {}",
                                    self.last_seen
                                ));
                                return Some((Err(status), self));
                            }
                        },
                        // Re-checked at the top of the loop.
                        _ = self.token_changes.changed() => {}
                        () = tokio::time::sleep(self.heartbeat) => {
                            let beat = self.heartbeat(false);
                            self.ready.push_back(beat);
                        }
                    }
                }
            }
        }
    }
}

/// A backup piece for the wire.
fn backup_chunk(piece: crate::store::backup::Piece) -> pb::BackupChunk {
    use crate::store::backup::Piece;
    use pb::backup_chunk::Item;
    let item = match piece {
        Piece::Start { store_id, from_lsn } => Item::Start(pb::BackupStart { store_id, from_lsn }),
        Piece::Pairs(pairs) => {
            let (keys, values) = pairs.into_iter().unzip();
            Item::Pairs(pb::BackupPairs { keys, values })
        }
        Piece::Segment {
            first_lsn,
            archived,
            offset,
            bytes,
        } => Item::Segment(pb::BackupSegment {
            first_lsn,
            offset,
            bytes,
            archived,
        }),
        Piece::End { lsn } => Item::End(pb::BackupEnd { lsn }),
    };
    pb::BackupChunk { item: Some(item) }
}

#[tonic::async_trait]
impl pb::journal_service_server::JournalService for Journal {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Reply<Self::WatchStream> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let filter = r.filter.unwrap_or_default();
        let now = self.engine.now();
        let incidents = filter
            .incidents
            .iter()
            .map(|text| numbering::parse_ref(text, now, self.engine.time_zone()))
            .collect::<Result<HashSet<_>>>()?;
        let identity = self.engine.store().identity();
        if !r.store_id.is_empty() && r.store_id != identity {
            use tonic_types::{ErrorDetails, StatusExt};
            let mut metadata = std::collections::HashMap::new();
            metadata.insert("store_id".to_owned(), identity.clone());
            return Err(Status::with_error_details(
                tonic::Code::Aborted,
                format!(
                    "from_seq {} belongs to another identity of this store; it is now \
                     {identity} (a new epoch: events were lost or the store was restored from \
                     a backup, and seqs may be reused); resync from a fresh snapshot",
                    r.from_seq,
                ),
                ErrorDetails::with_error_info(
                    "STORE_CHANGED",
                    crate::error::ERROR_DOMAIN,
                    metadata,
                ),
            ));
        }
        // Subscribe before reading the head: nothing can fall in between.
        let live = self.engine.subscribe();
        let head = self.engine.durable_seq();
        if r.from_seq > head {
            return Err(Status::out_of_range(format!(
                "from_seq {} is ahead of this journal (head {head}): the store was replaced \
                 or reset; resync from 0",
                r.from_seq
            )));
        }
        let slot = self.limiter.stream(
            &principal.token_id,
            self.engine.tokens().limits(&principal.token_id),
        )?;
        // A post or unit is online while this stream lives.
        let presence = crate::presence::client_of(&principal)
            .map(|who| self.engine.presence().stream_opened(&who));
        let last_sent = if r.live_only {
            visibility::newest_visible_seq(self.engine.store(), &principal, head)?
        } else {
            r.from_seq
        };
        let watcher = Watcher {
            _presence: presence,
            _slot: slot,
            engine: self.engine.clone(),
            principal,
            filter: Filter {
                incidents,
                subject_kinds: filter.subject_kinds.into_iter().collect(),
            },
            last_seen: if r.live_only { head } else { r.from_seq },
            last_sent,
            live,
            ready: VecDeque::new(),
            phase: Phase::Replay,
            caught_up_once: false,
            heartbeat: self.heartbeat,
            shutdown: self.shutdown.clone(),
            tokens: self.engine.tokens(),
            token_changes: self.engine.tokens().changes(),
        };
        let stream = futures_util::stream::unfold(watcher, Watcher::next);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Reply<pb::ListEventsReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let limit = match r.limit as usize {
            0 => 100,
            n if n > 1000 => {
                return Err(
                    Error::invalid("limit", format!("must be at most 1000 (got {n})")).into(),
                );
            }
            n => n,
        };
        let store = self.engine.store();
        let durable = self.engine.durable_seq();
        let mut events = Vec::new();
        let mut last = r.after_seq;
        if r.incident.trim().is_empty() {
            let mut cursor = r.after_seq;
            'scan: loop {
                let chunk = store.journal_after(cursor, 512)?;
                let exhausted = chunk.len() < 512;
                for (_, bytes) in &chunk {
                    let record: Record = store::decode(bytes)?;
                    if record.seq > durable {
                        break 'scan;
                    }
                    cursor = record.seq;
                    if let Some(event) = visibility::event(store, &principal, &record)? {
                        events.push(event);
                        last = record.seq;
                        if events.len() == limit {
                            break 'scan;
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
        } else {
            let number =
                numbering::parse_ref(&r.incident, self.engine.now(), self.engine.time_zone())?;
            // The whole history of an incident the caller may see.
            let incident = load_visible(store, &principal, &number)?;
            let seqs = incident.seqs.iter().filter(|seq| **seq > r.after_seq);
            for &seq in seqs.take(limit) {
                if seq > durable {
                    break;
                }
                if let Some(bytes) = store.journal_record(seq)? {
                    let record: Record = store::decode(&bytes)?;
                    events.push(visibility::timeline_event(&principal, &record));
                    last = seq;
                }
            }
        }
        let next_after_seq = if events.len() == limit { last } else { 0 };
        Ok(Response::new(pb::ListEventsReply {
            events,
            next_after_seq,
        }))
    }

    async fn verify_journal(
        &self,
        request: Request<pb::VerifyJournalRequest>,
    ) -> Reply<pb::VerifyJournalReply> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "verify the journal")?;
        let store = self.engine.store().clone();
        let durable = self.engine.durable_seq();
        let reply = tokio::task::spawn_blocking(move || verify(&store, durable))
            .await
            .map_err(|e| Error::Storage(format!("verification task failed: {e}")))??;
        Ok(Response::new(reply))
    }

    type BackupStream = tokio_stream::wrappers::ReceiverStream<Result<pb::BackupChunk, Status>>;

    async fn backup(&self, request: Request<pb::BackupRequest>) -> Reply<Self::BackupStream> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "take a backup")?;
        let store = self.engine.store().clone();
        let (chunks, stream) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            // A receiver gone (the client left, or dutyd is stopping) ends it.
            let sent = store.backup(|piece| chunks.blocking_send(Ok(backup_chunk(piece))).is_ok());
            if let Err(error) = sent {
                let _ = chunks.blocking_send(Err(Status::from(error)));
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            stream,
        )))
    }

    async fn get_server_info(
        &self,
        request: Request<pb::GetServerInfoRequest>,
    ) -> Reply<pb::ServerInfo> {
        let principal = principal_of(&request)?;
        let store = self.engine.store();
        let head_seq =
            visibility::newest_visible_seq(store, &principal, self.engine.durable_seq())?;
        let (incidents, search_unindexed, replay_snapshot_seq) =
            if visibility::store_figures(&principal) {
                let incidents = store.counter(Counter::IncidentId)?;
                let indexed = store.search_indexed_below()?.saturating_sub(1);
                (
                    incidents,
                    incidents.saturating_sub(indexed),
                    store.last_board_snapshot_seq()?,
                )
            } else {
                (0, 0, 0)
            };
        Ok(Response::new(pb::ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            store_id: store.identity(),
            head_seq,
            time: Some(pb::ServerTime {
                now: Some(convert::ts(self.engine.now())),
                time_zone: self
                    .engine
                    .time_zone()
                    .iana_name()
                    .unwrap_or("UTC")
                    .to_owned(),
            }),
            you: Some(convert::principal_out(&principal)),
            incidents,
            search_unindexed,
            replay_snapshot_seq,
        }))
    }
}

/// Walks the hash chain from seq 1 to `durable`; reports the first break.
pub fn verify(store: &store::Store, durable: u64) -> Result<pb::VerifyJournalReply> {
    let mut expected_prev = store::Head::genesis().hash;
    let mut expected_seq = 1;
    let mut checked = 0;
    let broken = |seq: u64, checked: u64, detail: String| pb::VerifyJournalReply {
        intact: false,
        checked,
        first_break_seq: seq,
        detail,
    };
    let mut cursor = 0;
    loop {
        let chunk = match store.journal_after(cursor, 1024) {
            Ok(chunk) => chunk,
            Err(e) => {
                return Ok(broken(
                    expected_seq,
                    checked,
                    format!("the records from {expected_seq} on are unreadable: {e}"),
                ));
            }
        };
        let exhausted = chunk.len() < 1024;
        for &(seq, ref bytes) in &chunk {
            if seq > durable {
                break;
            }
            if seq != expected_seq {
                return Ok(broken(
                    expected_seq,
                    checked,
                    format!("seq {expected_seq} is missing (next is {seq})"),
                ));
            }
            let record: Record = match store::decode(bytes) {
                Ok(record) => record,
                Err(e) => {
                    return Ok(broken(
                        seq,
                        checked,
                        format!("record {seq} is unreadable: {e}"),
                    ));
                }
            };
            if record.seq != seq {
                return Ok(broken(
                    seq,
                    checked,
                    format!("record under key {seq} says seq {}", record.seq),
                ));
            }
            if record.prev_hash != expected_prev {
                return Ok(broken(
                    seq,
                    checked,
                    format!(
                        "record {seq} does not chain to record {}: it or its predecessor was altered",
                        seq - 1
                    ),
                ));
            }
            expected_prev = store::record_hash(bytes);
            expected_seq += 1;
            checked += 1;
        }
        if exhausted {
            break;
        }
        cursor = chunk.last().map_or(cursor, |(seq, _)| *seq);
    }
    if let Some(recorded) = store.recorded_head()?
        && recorded.seq == checked
        && recorded.hash != expected_prev
    {
        return Ok(broken(
            checked,
            checked,
            format!(
                "the newest record {checked} does not match the head recorded with it: it was altered"
            ),
        ));
    }
    Ok(pb::VerifyJournalReply {
        intact: true,
        checked,
        first_break_seq: 0,
        detail: format!("{checked} events chain intact"),
    })
}
