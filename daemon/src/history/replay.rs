//! Replay: the board as it stood at a past instant, rebuilt from the
//! journal.
//!
//! Which incidents were on the board (open or resolved) comes from the last
//! board snapshot before the instant ([`crate::store`] keeps one every
//! [`SNAPSHOT_EVERY`] records), moved on by the records after it; each of
//! those incidents is then folded from its own records up to the instant,
//! with the status, severity, escalation level and clocks each record
//! carries. So a replay reads at most [`SNAPSHOT_EVERY`] records' heads
//! plus the histories of the incidents shown, however long the journal.
//!
//! A post or unit sees only the incidents it was involved in at that
//! instant, and steps only through their events.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use dutyroom_proto::v1 as pb;

use crate::auth::principal::Principal;
use crate::convert::{self, Phone};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{Incident, IncidentEvent, Status};
use crate::journal::record::{EventBody, IncidentAfter, Record, Subject};
use crate::store::replay::{BoardChange, SNAPSHOT_EVERY, apply_change};
use crate::store::{self, Reader, Store};
use crate::{validate, visibility};

/// The longest `at` accepted.
const MAX_INSTANT: usize = 64;

/// Records read per journal chunk.
const CHUNK: usize = 512;

/// The most record heads a replay reads past its snapshot. Beyond it the
/// snapshots are behind (after a fill, a restore, an upgrade) and a replay
/// would read millions: it is refused until they catch up.
const MAX_SCAN: u64 = 16 * SNAPSHOT_EVERY;

/// How far a step looks for the caller's previous or next event.
const STEP_LOOKAHEAD: u64 = 8 * SNAPSHOT_EVERY;

/// Which moment to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The board at this instant (after every record up to it).
    At(Timestamp),
    /// The board just after this journal record.
    Seq(u64),
}

/// The board at a moment.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The instant shown.
    pub at: Timestamp,
    /// The last record folded in (0: none).
    pub seq: u64,
    /// The incidents on the board then, as they stood, by id.
    pub incidents: Vec<Incident>,
    /// Their alarms raised by then and not acknowledged then.
    pub alarms: Vec<Alarm>,
    /// The caller's incident event before the one shown (0: none found).
    pub previous_seq: u64,
    /// The caller's next incident event (0: none up to `durable`).
    pub next_seq: u64,
    /// None before within the look back, but the journal goes on.
    pub previous_beyond: bool,
    /// None next within the look ahead, but the journal goes on.
    pub next_beyond: bool,
}

/// What replay reads of a record: enough to move the board and to step,
/// without decoding its body.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    at: Timestamp,
    subject: Subject,
    #[serde(default)]
    audience: Vec<String>,
    #[serde(default)]
    incident: Option<HeadAfter>,
}

#[derive(Deserialize)]
struct HeadAfter {
    status: Status,
}

/// On the board: open, or resolved and waiting for its callback.
fn on_board(status: Status) -> bool {
    status.is_open() || status == Status::Resolved
}

/// What one stored record does to the board (for the store's snapshots).
pub fn board_change(bytes: &[u8]) -> Result<BoardChange> {
    let head: Head = store::decode(bytes)?;
    Ok(board_change_of(&head))
}

fn board_change_of(head: &Head) -> BoardChange {
    match (&head.subject, &head.incident) {
        (Subject::Incident { id, .. }, Some(after)) => Some((*id, on_board(after.status))),
        _ => None,
    }
}

/// May `principal` step to this record: an incident's event it is in the
/// audience of (centre roles: any incident's).
fn steps_to(principal: &Principal, head: &Head) -> bool {
    if !matches!(head.subject, Subject::Incident { .. }) {
        return false;
    }
    match principal.role.confined_to() {
        None => true,
        Some(_) => head.audience.contains(&principal.role.to_string()),
    }
}

/// `ReplayBoard`: the request checked, the board rebuilt off the async
/// runtime, the answer with phones masked.
pub async fn replay_board(
    engine: &Engine,
    principal: Principal,
    request: &pb::ReplayBoardRequest,
) -> Result<pb::ReplayBoardReply> {
    validate::max_len("at", &request.at, MAX_INSTANT)?;
    let moment = match (request.seq, request.at.trim()) {
        (0, "") => {
            return Err(Error::invalid(
                "at",
                "say which moment to replay: a time like 2026-12-03 03:00, or a journal seq",
            ));
        }
        (0, text) => Moment::At(parse_instant(text, engine.time_zone(), engine.now())?),
        (seq, _) => Moment::Seq(seq),
    };
    let store = engine.store().clone();
    let durable = engine.durable_seq();
    let head_seq = if principal.role.confined_to().is_some() {
        visibility::newest_visible_seq(engine.store(), &principal, durable)?
    } else {
        durable
    };
    let replayed = tokio::task::spawn_blocking(move || replay(&store, &principal, moment, durable))
        .await
        .map_err(|_| Error::Storage("the replay thread stopped unexpectedly".into()))??;
    Ok(pb::ReplayBoardReply {
        at: Some(convert::ts(replayed.at)),
        seq: replayed.seq,
        incidents: replayed
            .incidents
            .iter()
            .map(|i| convert::incident_out(i, Phone::Masked))
            .collect(),
        previous_seq: replayed.previous_seq,
        next_seq: replayed.next_seq,
        head_seq,
        previous_beyond: replayed.previous_beyond,
        next_beyond: replayed.next_beyond,
        alarmed: replayed
            .alarms
            .iter()
            .filter_map(|a| a.incident.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    })
}

/// The board at `moment` as `principal` may see it, from records up to
/// `durable` only.
pub fn replay(
    store: &Store,
    principal: &Principal,
    moment: Moment,
    durable: u64,
) -> Result<Replayed> {
    let snapshot = match moment {
        Moment::At(at) => store.board_snapshot_before(at)?,
        Moment::Seq(seq) => store.board_snapshot_at_seq(seq.min(durable))?,
    }
    .filter(|s| s.seq <= durable);
    let (mut seq, mut at, mut board) = match snapshot {
        Some(s) => (s.seq, s.at, s.ids.into_iter().collect::<BTreeSet<u64>>()),
        None => (0, Timestamp::UNIX_EPOCH, BTreeSet::new()),
    };
    // The caller's last two events up to the moment, for stepping back.
    let mut steps: Vec<u64> = Vec::new();
    let mut next_seq = 0;
    let mut next_beyond = false;
    let from = seq;
    let mut cursor = seq;
    'scan: while cursor < durable {
        let chunk = store.journal_after(cursor, CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        for (record_seq, bytes) in &chunk {
            if *record_seq > durable {
                break 'scan;
            }
            if record_seq.saturating_sub(from) > MAX_SCAN {
                return Err(Error::Unavailable(format!(
                    "replay is catching up: its board snapshots are more than {MAX_SCAN} \
                     records behind this moment; try again in a minute"
                )));
            }
            let head: Head = store::decode(bytes)?;
            let past = match moment {
                Moment::At(instant) => head.at > instant,
                Moment::Seq(wanted) => head.seq > wanted,
            };
            if past {
                (next_seq, next_beyond) = next_step(store, principal, &head, durable)?;
                break 'scan;
            }
            apply_change(&mut board, board_change_of(&head));
            if steps_to(principal, &head) {
                steps.push(head.seq);
                if steps.len() > 2 {
                    steps.remove(0);
                }
            }
            seq = head.seq;
            at = head.at;
        }
        cursor = chunk.last().map_or(durable, |(s, _)| *s);
    }
    // The event shown is the caller's last one up to `seq`; the step back
    // goes to the one before it (looked for before the snapshot when the
    // records read since hold fewer than two).
    let (shown, (previous_seq, previous_beyond)) = match steps.as_slice() {
        [before, shown] => (*shown, (*before, false)),
        [shown] => (*shown, previous_before(store, principal, *shown, 1)?),
        _ => match previous_before(store, principal, from + 1, 1)? {
            (0, beyond) => (0, (0, beyond)),
            (shown, _) => (shown, previous_before(store, principal, shown, 1)?),
        },
    };
    let confined = principal.role.confined_to().is_some();
    let mut at = match moment {
        Moment::At(instant) => instant,
        Moment::Seq(_) => at,
    };
    // A post or unit learns nothing of the journal beyond its own events:
    // the record named (and, asked by seq, its time) is its own last one.
    let folded_to = seq;
    if confined {
        if let Moment::Seq(_) = moment {
            at = match shown {
                0 => Timestamp::UNIX_EPOCH,
                shown => match store.journal_record(shown)? {
                    Some(bytes) => crate::store::replay::record_time(&bytes)?,
                    None => Timestamp::UNIX_EPOCH,
                },
            };
        }
        seq = shown;
    }
    let mut incidents = Vec::with_capacity(board.len());
    let mut alarms = Vec::new();
    for id in board {
        // A post or unit is shown only incidents it is in; assignments are
        // never removed, so one it is not in now it was not in then either:
        // skip it before folding.
        if confined
            && !Reader::incident(store, id)?
                .is_some_and(|now| visibility::incident(principal, &now))
        {
            continue;
        }
        if let Some((incident, waiting)) = incident_at(store, id, folded_to)?
            && on_board(incident.status())
            && visibility::incident(principal, &incident)
        {
            alarms.extend(
                waiting
                    .into_iter()
                    .filter(|a| visibility::alarm(principal, a, Some(&incident))),
            );
            incidents.push(incident);
        }
    }
    Ok(Replayed {
        at,
        seq,
        incidents,
        alarms,
        previous_seq,
        next_seq,
        previous_beyond,
        next_beyond,
    })
}

/// The caller's first event from `head` on (`head` is the first record past
/// the moment), looking at most [`STEP_LOOKAHEAD`] records ahead.
/// `(0, true)` when none was found but the journal goes on past the look.
fn next_step(
    store: &Store,
    principal: &Principal,
    head: &Head,
    durable: u64,
) -> Result<(u64, bool)> {
    if steps_to(principal, head) {
        return Ok((head.seq, false));
    }
    next_after(store, principal, head.seq, durable, STEP_LOOKAHEAD)
}

/// The caller's first event after `seq`, looking at most `look` records
/// on; `(0, true)` when none was found but the journal goes on past them.
pub(crate) fn next_after(
    store: &Store,
    principal: &Principal,
    seq: u64,
    durable: u64,
    look: u64,
) -> Result<(u64, bool)> {
    let head_seq = seq;
    let end = head_seq.saturating_add(look).min(durable);
    let mut cursor = head_seq;
    while cursor < end {
        let chunk = store.journal_after(cursor, CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        for (seq, bytes) in &chunk {
            if *seq > end {
                break;
            }
            let head: Head = store::decode(bytes)?;
            if steps_to(principal, &head) {
                return Ok((head.seq, false));
            }
        }
        cursor = chunk.last().map_or(end, |(s, _)| *s);
    }
    Ok((0, end < durable))
}

/// The `nth` of the caller's events going back from `below` (exclusive),
/// looking at most [`STEP_LOOKAHEAD`] records back; 0 if none.
/// `(0, true)` when none was found but the journal goes on before the look.
fn previous_before(
    store: &Store,
    principal: &Principal,
    below: u64,
    nth: usize,
) -> Result<(u64, bool)> {
    let floor = below.saturating_sub(STEP_LOOKAHEAD);
    let mut top = below;
    let mut wanted = nth;
    while top > floor.max(1) {
        let from = top.saturating_sub(CHUNK as u64).max(floor);
        let count = usize::try_from(top - from - 1).unwrap_or(CHUNK);
        if count == 0 {
            break;
        }
        let chunk = store.journal_after(from, count)?;
        for (_, bytes) in chunk.iter().rev() {
            let head: Head = store::decode(bytes)?;
            if head.seq < top && steps_to(principal, &head) {
                wanted -= 1;
                if wanted == 0 {
                    return Ok((head.seq, false));
                }
            }
        }
        top = from + 1;
    }
    Ok((0, floor > 1))
}

/// Incident `id` as it stood just after record `seq`: folded from its own
/// records up to there, with the state each record carries (status,
/// severity, escalation level, clocks), and its alarms raised by then and
/// not acknowledged then. `None` if it did not exist yet.
pub fn incident_at(store: &Store, id: u64, seq: u64) -> Result<Option<(Incident, Vec<Alarm>)>> {
    let Some(now) = Reader::incident(store, id)? else {
        return Ok(None);
    };
    let seqs: Vec<u64> = now.seqs.iter().copied().filter(|s| *s <= seq).collect();
    let mut state: Option<Incident> = None;
    let mut waiting: std::collections::BTreeMap<u64, Alarm> = std::collections::BTreeMap::new();
    for (record_seq, bytes) in store.journal_records(&seqs)? {
        let record: Record = store::decode(&bytes)?;
        let EventBody::Incident(event) = &record.body else {
            continue;
        };
        match event {
            IncidentEvent::Alarmed { alarm, .. } => {
                waiting.insert(alarm.id, (**alarm).clone());
            }
            IncidentEvent::AlarmAcknowledged { alarm } => {
                waiting.remove(&alarm.id);
            }
            IncidentEvent::AlarmNotified { alarm, .. } => {
                if let Some(waits) = waiting.get_mut(&alarm.id) {
                    waits.clone_from(alarm);
                }
            }
            _ => {}
        }
        match (&mut state, event) {
            (None, IncidentEvent::Created { incident }) => {
                let mut created = (**incident).clone();
                created.apply(event, record.at);
                state = Some(created);
            }
            (None, _) => {
                return Err(Error::Storage(format!(
                    "incident {} has events before its creation (record {record_seq})",
                    now.number
                )));
            }
            (Some(incident), event) => incident.apply(event, record.at),
        }
        if let Some(incident) = &mut state {
            incident.last_seq = record_seq;
            if let Some(after) = &record.incident {
                carry(incident, after);
            }
        }
    }
    Ok(state.map(|mut incident| {
        incident.seqs = seqs;
        (incident, waiting.into_values().collect())
    }))
}

/// What a record says the incident was after it, over what folding gave.
fn carry(incident: &mut Incident, after: &IncidentAfter) {
    incident.intake.severity = after.severity;
    incident.escalation_level = after.escalation_level;
    incident.clocks = after.clocks.clone();
}

/// The instant `text` names, in the centre's zone `zone`, not after `now`:
/// RFC 3339; `YYYY-MM-DD HH:MM[:SS]` (or with `T`); or `HH:MM[:SS]`, the
/// latest such time not after `now`.
pub fn parse_instant(text: &str, zone: &TimeZone, now: Timestamp) -> Result<Timestamp> {
    let text = text.trim();
    let wrong = || {
        Error::invalid(
            "at",
            format!(
                "{text:?} is not a time: give 2026-12-03 03:00, 03:00 (the latest past one), \
                 or RFC 3339 like 2026-12-03T03:00:00+08:00"
            ),
        )
    };
    let instant = if let Ok(instant) = text.parse::<Timestamp>() {
        instant
    } else if let Ok(civil) = text.parse::<jiff::civil::DateTime>() {
        civil
            .to_zoned_datetime(zone.clone())
            .map_err(|_| wrong())?
            .timestamp()
    } else if let Ok(time) = text.parse::<jiff::civil::Time>() {
        let today = now.to_zoned_datetime(zone.clone()).date();
        let on = |date: jiff::civil::Date| {
            date.to_datetime(time)
                .to_zoned_datetime(zone.clone())
                .map(|z| z.timestamp())
        };
        let instant = on(today).map_err(|_| wrong())?;
        if instant > now {
            on(today.yesterday().map_err(|_| wrong())?).map_err(|_| wrong())?
        } else {
            instant
        }
    } else {
        return Err(wrong());
    };
    if instant > now {
        return Err(Error::invalid(
            "at",
            format!("{text} is in the future: a board can be replayed up to now"),
        ));
    }
    if instant < Timestamp::UNIX_EPOCH {
        return Err(Error::invalid("at", format!("{text} is before 1970")));
    }
    Ok(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("zone")
    }

    #[test]
    fn instants_are_read_in_the_centres_zone_and_never_in_the_future() {
        let now: Timestamp = "2026-12-03T10:00:00+08:00".parse().expect("now");
        let at = |text: &str| parse_instant(text, &zone(), now);
        let expected: Timestamp = "2026-12-03T03:00:00+08:00".parse().expect("t");
        assert_eq!(at("2026-12-03 03:00").expect("local"), expected);
        assert_eq!(at("2026-12-03T03:00:00").expect("local T"), expected);
        assert_eq!(at("2026-12-02T19:00:00Z").expect("rfc 3339"), expected);
        assert_eq!(at("03:00").expect("today's"), expected);
        // 11:00 has not come yet today: yesterday's.
        let yesterday: Timestamp = "2026-12-02T11:00:00+08:00".parse().expect("t");
        assert_eq!(at("11:00").expect("yesterday's"), yesterday);
        let future = at("2026-12-04 03:00").expect_err("future");
        assert!(future.to_string().contains("in the future"), "{future}");
        let nonsense = at("three o'clock").expect_err("nonsense");
        assert!(
            nonsense.to_string().contains("2026-12-03 03:00"),
            "{nonsense}"
        );
    }
}
