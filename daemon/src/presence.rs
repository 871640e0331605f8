//! Presence: which posts and units are connected now (a Watch stream of
//! theirs is open), when each was last seen, and how far its clock is from
//! dutyd's — measured from heartbeats, and used to correct the times a post
//! reports for actions it took while its link was down.
//!
//! The registry is in memory: after a restart everyone is offline until they
//! reconnect, which is the truth. Coming online and going offline are
//! journaled (`presence` events, centre only) by a task in [`server`]
//! (crate::server) fed from this registry, so the centre's consoles see them
//! live and the audit trail keeps them. Going offline waits a grace period,
//! so a link that drops and comes straight back does not flap.

pub mod service;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::auth::principal::{Principal, Role};
use crate::clock::Clock;

/// Heartbeats kept per client for its offset (the median is used).
const OFFSETS_KEPT: usize = 5;

/// How presence behaves.
#[derive(Debug, Clone, Copy)]
pub struct PresenceOptions {
    /// How long a client may be without a stream before it is offline.
    pub offline_grace: Duration,
    /// Clock offsets beyond this are corrected and flagged.
    pub skew_threshold: SignedDuration,
    /// How often clients should send heartbeats.
    pub heartbeat_interval: Duration,
}

impl Default for PresenceOptions {
    fn default() -> Self {
        PresenceOptions {
            offline_grace: Duration::from_secs(5),
            skew_threshold: SignedDuration::from_secs(10),
            heartbeat_interval: Duration::from_secs(15),
        }
    }
}

/// A journaled presence change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    /// `post:<id>` or `unit:<id>`.
    pub who: String,
    /// Online after the change.
    pub online: bool,
    /// When it changed (for going offline: when the last stream closed).
    pub since: Timestamp,
    /// Its last call or heartbeat.
    pub last_seen: Option<Timestamp>,
    /// Its measured clock offset, if any.
    pub clock_offset_ms: Option<i64>,
}

/// What the registry knows of one client.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Watch streams open.
    pub streams: u32,
    /// Online (a stream open, or closed less than the grace period ago).
    pub online: bool,
    /// When it last came online or went offline.
    pub since: Option<Timestamp>,
    /// Its last call or heartbeat.
    pub last_seen: Option<Timestamp>,
    /// The median of its recent offsets, once measured.
    pub offset_ms: Option<i64>,
    offsets: VecDeque<i64>,
    /// Bumped whenever the last stream closes, so a late offline check for
    /// an earlier close does nothing.
    generation: u64,
}

/// Something the journaling task must do.
#[derive(Debug)]
pub(crate) enum Notice {
    /// Journal this change now.
    Changed(PresenceChange),
    /// The last stream closed: after the grace period, if it is still the
    /// same `generation`, the client is offline since `at`.
    MaybeOffline {
        who: String,
        generation: u64,
        at: Timestamp,
    },
}

/// The presence registry. Shared by the engine's handle.
pub struct Presence {
    clients: Mutex<HashMap<String, Status>>,
    notices: mpsc::UnboundedSender<Notice>,
    clock: Arc<dyn Clock>,
    /// As configured.
    pub options: PresenceOptions,
}

/// Who a principal is for presence: posts and units only.
pub fn client_of(principal: &Principal) -> Option<String> {
    match &principal.role {
        Role::Post(_) | Role::Unit(_) => Some(principal.role.to_string()),
        _ => None,
    }
}

/// Keeps a client online while a stream of its is open.
pub struct StreamGuard {
    presence: Arc<Presence>,
    who: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.presence.stream_closed(&self.who);
    }
}

impl Presence {
    /// A registry whose notices go to the returned receiver.
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        options: PresenceOptions,
    ) -> (Presence, mpsc::UnboundedReceiver<Notice>) {
        let (notices, receiver) = mpsc::unbounded_channel();
        (
            Presence {
                clients: Mutex::new(HashMap::new()),
                notices,
                clock,
                options,
            },
            receiver,
        )
    }

    fn with<R>(&self, who: &str, f: impl FnOnce(&mut Status) -> R) -> R {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        f(clients.entry(who.to_owned()).or_default())
    }

    fn notify(&self, notice: Notice) {
        // No receiver: dutyd is stopping; nothing left to journal.
        let _ = self.notices.send(notice);
    }

    /// A stream opened: online from now (journaled if it was offline).
    pub fn stream_opened(self: &Arc<Self>, who: &str) -> StreamGuard {
        let now = self.clock.now();
        let change = self.with(who, |s| {
            s.streams += 1;
            s.last_seen = Some(now);
            // A bumped generation voids any pending offline check.
            s.generation += 1;
            if s.online {
                return None;
            }
            s.online = true;
            s.since = Some(now);
            Some(PresenceChange {
                who: who.to_owned(),
                online: true,
                since: now,
                last_seen: s.last_seen,
                clock_offset_ms: s.offset_ms,
            })
        });
        if let Some(change) = change {
            self.notify(Notice::Changed(change));
        }
        StreamGuard {
            presence: self.clone(),
            who: who.to_owned(),
        }
    }

    fn stream_closed(&self, who: &str) {
        let now = self.clock.now();
        let check = self.with(who, |s| {
            s.streams = s.streams.saturating_sub(1);
            s.last_seen = Some(now);
            (s.streams == 0).then(|| {
                s.generation += 1;
                s.generation
            })
        });
        if let Some(generation) = check {
            self.notify(Notice::MaybeOffline {
                who: who.to_owned(),
                generation,
                at: now,
            });
        }
    }

    /// After the grace period: offline, if nothing reopened meanwhile.
    pub(crate) fn confirm_offline(
        &self,
        who: &str,
        generation: u64,
        at: Timestamp,
    ) -> Option<PresenceChange> {
        self.with(who, |s| {
            if s.generation != generation || s.streams > 0 || !s.online {
                return None;
            }
            s.online = false;
            s.since = Some(at);
            Some(PresenceChange {
                who: who.to_owned(),
                online: false,
                since: at,
                last_seen: s.last_seen,
                clock_offset_ms: s.offset_ms,
            })
        })
    }

    /// Any call from the client.
    pub fn seen(&self, who: &str) {
        let now = self.clock.now();
        self.with(who, |s| s.last_seen = Some(now));
    }

    /// A heartbeat: the client's clock read `client_time` about half a
    /// round trip before now. Returns the offset now in force.
    pub fn heartbeat(&self, who: &str, client_time: Timestamp, round_trip: Duration) -> i64 {
        let now = self.clock.now();
        let one_way = SignedDuration::try_from(round_trip / 2).unwrap_or(SignedDuration::ZERO);
        let sent_at_server = now - one_way;
        let offset = client_time.duration_since(sent_at_server).as_millis() as i64;
        self.with(who, |s| {
            s.last_seen = Some(now);
            s.offsets.push_back(offset);
            while s.offsets.len() > OFFSETS_KEPT {
                s.offsets.pop_front();
            }
            let mut sorted: Vec<i64> = s.offsets.iter().copied().collect();
            sorted.sort_unstable();
            let median = sorted[sorted.len() / 2];
            s.offset_ms = Some(median);
            median
        })
    }

    /// Is this offset beyond the threshold?
    pub fn is_skewed(&self, offset_ms: i64) -> bool {
        offset_ms.unsigned_abs() > self.options.skew_threshold.as_millis().unsigned_abs() as u64
    }

    /// A time the client reported, corrected by its offset when that is
    /// beyond the threshold; with the correction applied, if any.
    pub fn correct(&self, who: &str, reported: Timestamp) -> (Timestamp, Option<i64>) {
        let offset = self.with(who, |s| s.offset_ms);
        match offset {
            Some(offset) if self.is_skewed(offset) => {
                (reported - SignedDuration::from_millis(offset), Some(offset))
            }
            _ => (reported, None),
        }
    }

    /// Everyone the registry has heard of since dutyd started.
    pub fn snapshot(&self) -> HashMap<String, Status> {
        self.clients
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

/// Journals presence changes as they come, and offline ones after the grace
/// period, until `shutdown`.
pub(crate) async fn run(
    engine: crate::engine::Engine,
    mut notices: mpsc::UnboundedReceiver<Notice>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let presence = engine.presence().clone();
    let (due_tx, mut due) = mpsc::unbounded_channel::<(String, u64, Timestamp)>();
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => return,
            notice = notices.recv() => match notice {
                None => return,
                Some(Notice::Changed(change)) => Some(change),
                Some(Notice::MaybeOffline { who, generation, at }) => {
                    let due_tx = due_tx.clone();
                    let grace = presence.options.offline_grace;
                    tokio::spawn(async move {
                        tokio::time::sleep(grace).await;
                        let _ = due_tx.send((who, generation, at));
                    });
                    None
                }
            },
            Some((who, generation, at)) = due.recv() => {
                presence.confirm_offline(&who, generation, at)
            }
        };
        if let Some(change) = change {
            let result = engine
                .submit(
                    Principal::system(),
                    None,
                    crate::engine::command::Command::Presence(change),
                )
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "presence change not journaled");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn registry() -> (
        Arc<Presence>,
        Arc<ManualClock>,
        mpsc::UnboundedReceiver<Notice>,
    ) {
        let clock = Arc::new(ManualClock::new(
            "2026-11-23T12:00:00Z".parse().expect("time"),
        ));
        let (presence, notices) = Presence::new(clock.clone(), PresenceOptions::default());
        (Arc::new(presence), clock, notices)
    }

    #[test]
    fn online_while_a_stream_is_open_and_offline_only_after_the_last_closes() {
        let (presence, clock, mut notices) = registry();
        let first = presence.stream_opened("post:xinhua");
        let second = presence.stream_opened("post:xinhua");
        assert!(
            matches!(notices.try_recv(), Ok(Notice::Changed(c)) if c.online && c.who == "post:xinhua")
        );
        // The second stream is no news.
        assert!(notices.try_recv().is_err());
        drop(first);
        assert!(notices.try_recv().is_err());
        clock.advance(SignedDuration::from_secs(3));
        drop(second);
        let Ok(Notice::MaybeOffline {
            who,
            generation,
            at,
        }) = notices.try_recv()
        else {
            panic!("the last close asks for an offline check");
        };
        let change = presence
            .confirm_offline(&who, generation, at)
            .expect("offline");
        assert!(!change.online);
        assert_eq!(change.since, at);
        assert!(!presence.snapshot()["post:xinhua"].online);
    }

    #[test]
    fn a_quick_reconnect_does_not_flap() {
        let (presence, _clock, mut notices) = registry();
        let stream = presence.stream_opened("post:xinhua");
        let _ = notices.try_recv();
        drop(stream);
        let Ok(Notice::MaybeOffline {
            who,
            generation,
            at,
        }) = notices.try_recv()
        else {
            panic!("offline check");
        };
        let _back = presence.stream_opened("post:xinhua");
        // Back within the grace period: no offline, and no second online.
        assert!(presence.confirm_offline(&who, generation, at).is_none());
        assert!(notices.try_recv().is_err());
        assert!(presence.snapshot()["post:xinhua"].online);
    }

    #[test]
    fn a_skewed_clock_is_measured_and_its_times_corrected() {
        let (presence, clock, _notices) = registry();
        // The post's clock is 5 minutes fast; the link has 200 ms round trips.
        for _ in 0..3 {
            let client = clock.now() + SignedDuration::from_mins(5);
            clock.advance(SignedDuration::from_millis(100));
            presence.heartbeat("post:xinhua", client, Duration::from_millis(200));
        }
        let offset = presence.snapshot()["post:xinhua"]
            .offset_ms
            .expect("measured");
        assert_eq!(offset, 300_000);
        let reported: Timestamp = "2026-11-23T12:10:00Z".parse().expect("time");
        let (corrected, applied) = presence.correct("post:xinhua", reported);
        assert_eq!(applied, Some(300_000));
        assert_eq!(corrected, "2026-11-23T12:05:00Z".parse().expect("time"));
        // An offset within the threshold is measurement noise: left alone.
        let (presence, clock, _notices) = registry();
        let client = clock.now() + SignedDuration::from_secs(2);
        presence.heartbeat("post:qianjin", client, Duration::ZERO);
        assert_eq!(presence.correct("post:qianjin", reported), (reported, None));
    }

    #[test]
    fn one_wild_heartbeat_does_not_move_the_offset() {
        let (presence, clock, _notices) = registry();
        for delay_ms in [0, 0, 9_000, 0, 0] {
            // A heartbeat stuck 9 s in a queue looks like a clock 9 s slow.
            let client = clock.now() - SignedDuration::from_millis(delay_ms);
            presence.heartbeat("post:xinhua", client, Duration::ZERO);
        }
        assert_eq!(presence.snapshot()["post:xinhua"].offset_ms, Some(0));
    }
}
