//! Key layout of the state, index and deadline keyspaces, private to the
//! store: the rest of dutyd reads through typed queries ([`super::Reader`],
//! the lists in `queries`) and stages writes through `staging`.
//!
//! One-byte prefixes keep each kind of key in its own range; integers are
//! big-endian so that byte order is numeric order.

use super::queries::RollupSubject;
use crate::assessment::Slice;
use crate::directory::model::EntryKind;
use crate::error::{Error, Result};
use crate::incidents::model::{AssigneeRef, Incident};

/// `state`: an incident by internal id.
pub(super) fn incident(id: u64) -> Vec<u8> {
    tagged(b'i', &id.to_be_bytes())
}

/// `state`: prefix of all incidents.
pub(super) const INCIDENTS: &[u8] = b"i";

/// `state`: a directory entry.
pub(super) fn entry(kind: EntryKind, id: &str) -> Vec<u8> {
    let mut key = entry_prefix(kind);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `state`: prefix of all entries of one kind.
pub(super) fn entry_prefix(kind: EntryKind) -> Vec<u8> {
    let tag = match kind {
        EntryKind::Post => b'p',
        EntryKind::Unit => b'u',
        EntryKind::Place => b'l',
        EntryKind::Person => b'h',
        EntryKind::Category => b'c',
    };
    vec![b'e', tag, b'/']
}

/// `state`: a token record by token id.
pub(super) fn token(id: &str) -> Vec<u8> {
    tagged(b't', id.as_bytes())
}

/// `state`: prefix of all tokens.
pub(super) const TOKENS: &[u8] = b"t";

/// `state`: a meta value (format, store id, counters, head).
pub(super) fn meta(name: &str) -> Vec<u8> {
    tagged(b'm', name.as_bytes())
}

/// `state`: the idempotency record of one client request.
pub(super) fn request(token_id: &str, request_id: &str) -> Vec<u8> {
    let mut key = tagged(b'r', token_id.as_bytes());
    key.push(0);
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// `index`: incident number → id. The daily sequence is stored as a
/// big-endian u32 after the day, so a day's incidents sort in number order
/// (…-9999 before …-10000) and [`day_prefix`] finds them all.
pub(super) fn number(number: &str) -> Vec<u8> {
    match number.split_once('-') {
        Some((day, seq)) if day.len() == 8 => match seq.parse::<u32>() {
            Ok(seq) => {
                let mut key = day_prefix(day);
                key.extend_from_slice(&seq.to_be_bytes());
                key
            }
            Err(_) => tagged(b'N', number.as_bytes()),
        },
        _ => tagged(b'N', number.as_bytes()),
    }
}

/// `index`: prefix of the numbers of one local day (`YYYYMMDD`).
pub(super) fn day_prefix(day: &str) -> Vec<u8> {
    tagged(b'n', day.as_bytes())
}

/// `index`: an open incident.
pub(super) fn open(id: u64) -> Vec<u8> {
    tagged(b'o', &id.to_be_bytes())
}

/// `index`: prefix of open incidents.
pub(super) const OPEN: &[u8] = b"o";

/// `index`: prefix of incidents in one status.
pub(super) fn status_prefix(code: u8) -> Vec<u8> {
    vec![b's', code]
}

/// `index`: prefix of incidents that ever had an assignment for `assignee`.
pub(super) fn assignee_prefix(assignee: &AssigneeRef) -> Vec<u8> {
    let mut key = tagged(b'a', assignee.to_string().as_bytes());
    key.push(0);
    key
}

/// `index`: prefix of open incidents in a post's territory.
pub(super) fn territory_open_prefix(post: &str) -> Vec<u8> {
    let mut key = tagged(b'P', post.as_bytes());
    key.push(0);
    key
}

/// `state`: one assignee's assessment for the incidents received on a local
/// day (`YYYYMMDD`), drills apart: `AD`, day, `d` or `r`, `a`, assignee.
pub(super) fn assessment_day(day: &str, drill: bool, assignee: &AssigneeRef) -> Vec<u8> {
    let mut key = assessment_day_prefix(day, drill);
    key.push(b'a');
    key.extend_from_slice(assignee.to_string().as_bytes());
    key
}

/// `state`: one slice's assessment for the incidents received on a local
/// day: `AD`, day, `d` or `r`, `s`, the slice as JSON (its fields in a
/// fixed order, so one slice has one key).
pub(super) fn assessment_slice_day(day: &str, drill: bool, slice: &Slice) -> Result<Vec<u8>> {
    let mut key = assessment_day_prefix(day, drill);
    key.push(b's');
    key.extend_from_slice(&super::encode(slice)?);
    Ok(key)
}

fn assessment_day_prefix(day: &str, drill: bool) -> Vec<u8> {
    let mut key = ASSESSMENT_DAYS.to_vec();
    key.extend_from_slice(day.as_bytes());
    key.push(if drill { b'd' } else { b'r' });
    key
}

/// Splits an assessment key into its day, whether it counts drills, and
/// what it is about; `None` for a key this build does not know.
pub(super) fn parse_assessment_key(key: &[u8]) -> Option<(String, bool, RollupSubject)> {
    let rest = key.strip_prefix(ASSESSMENT_DAYS)?;
    let day = std::str::from_utf8(rest.get(..8)?).ok()?.to_owned();
    let drill = match rest.get(8)? {
        b'd' => true,
        b'r' => false,
        _ => return None,
    };
    let about = match (rest.get(9)?, rest.get(10..)?) {
        (b'a', who) => {
            let (kind, id) = std::str::from_utf8(who).ok()?.split_once(':')?;
            RollupSubject::Assignee(match kind {
                "post" => AssigneeRef::post(id),
                "unit" => AssigneeRef::unit(id),
                _ => return None,
            })
        }
        (b's', json) => RollupSubject::Slice(serde_json::from_slice(json).ok()?),
        _ => return None,
    };
    Some((day, drill, about))
}

/// `state`: the first assessment key of local `day` (`YYYYMMDD`).
pub(super) fn assessment_days_from(day: &str) -> Vec<u8> {
    let mut key = ASSESSMENT_DAYS.to_vec();
    key.extend_from_slice(day.as_bytes());
    key
}

/// `state`: prefix of every assessment day.
pub(super) const ASSESSMENT_DAYS: &[u8] = b"AD";

/// `state`: an alarm.
pub(super) fn alarm(id: u64) -> Vec<u8> {
    let mut key = b"al".to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// `state`: prefix of all alarms.
pub(super) const ALARMS: &[u8] = b"al";

/// `index`: an alarm nobody has acknowledged yet.
pub(super) fn unacknowledged_alarm(id: u64) -> Vec<u8> {
    tagged(b'U', &id.to_be_bytes())
}

/// `index`: prefix of unacknowledged alarms.
pub(super) const UNACKNOWLEDGED_ALARMS: &[u8] = b"U";

/// `state`: a notification gateway (never its secret).
pub(super) fn gateway(id: &str) -> Vec<u8> {
    tagged(b'g', id.as_bytes())
}

/// `state`: prefix of all gateways.
pub(super) const GATEWAYS: &[u8] = b"g";

/// `state`: a gateway's secret, apart from the gateway so that nothing
/// that lists or journals gateways can carry it.
pub(super) fn gateway_secret(id: &str) -> Vec<u8> {
    tagged(b'G', id.as_bytes())
}

/// `index`: a notification still owed to a gateway: alarm id, then its
/// idempotency key.
pub(super) fn owed_notification(alarm: u64, key: &str) -> Vec<u8> {
    let mut bytes = tagged(b'O', &alarm.to_be_bytes());
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

/// `index`: prefix of owed notifications.
pub(super) const OWED_NOTIFICATIONS: &[u8] = b"O";

/// The alarm id and key of an owed notification's index key.
pub(super) fn parse_owed_notification(key: &[u8]) -> Result<(u64, String)> {
    let rest = key
        .strip_prefix(OWED_NOTIFICATIONS)
        .filter(|rest| rest.len() > 8)
        .ok_or_else(|| Error::Storage("a malformed outbox key".into()))?;
    let (id, name) = rest.split_at(8);
    Ok((
        decode_u64(id)?,
        String::from_utf8(name.to_vec())
            .map_err(|_| Error::Storage("an outbox key that is not text".into()))?,
    ))
}

/// What a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadlineOwner {
    /// An incident's clock.
    Incident(u64),
    /// A roll-call waiting for a post's answer.
    RollCall(u64),
    /// The next scheduled roll-call.
    Schedule,
}

/// `deadlines`: a clock's next alarm: fire time (ms since the epoch,
/// big-endian, so the first key is the next one due), `I`, incident id,
/// clock.
pub(super) fn deadline(
    at: jiff::Timestamp,
    incident: u64,
    clock: &crate::escalation::clocks::Clock,
) -> Vec<u8> {
    let mut key = deadline_time(at);
    key.push(b'I');
    key.extend_from_slice(&incident.to_be_bytes());
    key.push(clock.kind.code());
    key.extend_from_slice(&clock.assignment.unwrap_or(0).to_be_bytes());
    key
}

/// `deadlines`: a post's answer to a roll-call: time, `R`, roll-call id, post.
pub(super) fn rollcall_deadline(at: jiff::Timestamp, rollcall: u64, post: &str) -> Vec<u8> {
    let mut key = deadline_time(at);
    key.push(b'R');
    key.extend_from_slice(&rollcall.to_be_bytes());
    key.extend_from_slice(post.as_bytes());
    key
}

/// `deadlines`: the next scheduled roll-call: time, `S`.
pub(super) fn schedule_deadline(at: jiff::Timestamp) -> Vec<u8> {
    let mut key = deadline_time(at);
    key.push(b'S');
    key
}

/// Whose deadline a key is.
pub(super) fn deadline_owner(key: &[u8]) -> Result<DeadlineOwner> {
    let id = || decode_u64(key.get(9..17).unwrap_or_default());
    match key.get(8) {
        Some(b'I') => Ok(DeadlineOwner::Incident(id()?)),
        Some(b'R') => Ok(DeadlineOwner::RollCall(id()?)),
        Some(b'S') => Ok(DeadlineOwner::Schedule),
        _ => Err(Error::Storage(format!("unknown deadline key {key:?}"))),
    }
}

/// `state`: the roster configuration (patterns, roll-call schedule).
pub(super) fn roster_config() -> Vec<u8> {
    meta("roster")
}

/// `state`: a roster slot.
pub(super) fn slot(
    id: &crate::rosters::model::ShiftId,
    scope: &crate::rosters::model::Scope,
    role: crate::rosters::model::DutyRole,
) -> Vec<u8> {
    let mut key = slot_prefix(id.date);
    key.extend_from_slice(format!("{}/{}/{}", id.shift, scope.key(), role.name()).as_bytes());
    key
}

/// `state`: prefix of every slot of shifts starting on a date.
pub(super) fn slot_prefix(date: jiff::civil::Date) -> Vec<u8> {
    format!("ro/{date}/").into_bytes()
}

/// `state`: a handover.
pub(super) fn handover(id: u64) -> Vec<u8> {
    let mut key = b"ho".to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// `state`: prefix of all handovers.
pub(super) const HANDOVERS: &[u8] = b"ho";

/// `index`: the handover of a shift, the centre's or a post's.
pub(super) fn shift_handover(
    id: &crate::rosters::model::ShiftId,
    scope: &crate::rosters::model::Scope,
) -> Vec<u8> {
    match scope {
        crate::rosters::model::Scope::Centre => {
            tagged(b'H', format!("{}/{}", id.date, id.shift).as_bytes())
        }
        crate::rosters::model::Scope::Post(post) => tagged(
            b'H',
            format!("{}/{}/post:{post}", id.date, id.shift).as_bytes(),
        ),
    }
}

/// `state`: a roll-call.
pub(super) fn rollcall(id: u64) -> Vec<u8> {
    let mut key = ROLLCALLS.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// `state`: prefix of all roll-calls. (Not `rc`: request records are `r`
/// + token id, and a token id may start with `c`.)
pub(super) const ROLLCALLS: &[u8] = b"RC";

/// `state`: where roll-calls were kept before they moved to [`ROLLCALLS`]:
/// `rc` + 8-byte id. Only [`Store::open`](crate::store::Store::open)'s
/// migration reads it.
pub(super) const OLD_ROLLCALLS: &[u8] = b"rc";

/// `deadlines`: the first 8 bytes of every key due at `at`.
pub(super) fn deadline_time(at: jiff::Timestamp) -> Vec<u8> {
    let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
    millis.to_be_bytes().to_vec()
}

/// The fire time of a deadline key.
pub(super) fn deadline_at(key: &[u8]) -> Result<jiff::Timestamp> {
    let millis = decode_u64(key.get(..8).unwrap_or_default())?;
    jiff::Timestamp::from_millisecond(i64::try_from(millis).unwrap_or(i64::MAX))
        .map_err(|e| Error::Storage(format!("bad deadline key: {e}")))
}

/// The deadline keys of an incident's clocks.
pub(super) fn incident_deadlines(incident: &Incident) -> Vec<Vec<u8>> {
    incident
        .clocks
        .iter()
        .filter_map(|clock| clock.next_alarm.map(|at| deadline(at, incident.id, clock)))
        .collect()
}

/// `index`: prefix of open incidents `assignee` is involved in.
pub(super) fn assignee_open_prefix(assignee: &AssigneeRef) -> Vec<u8> {
    let mut key = tagged(b'A', assignee.to_string().as_bytes());
    key.push(0);
    key
}

/// `journal`: the key of a seq.
pub(super) fn seq(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

/// The index keys an incident should have. Every index value is the
/// incident's id, so any index scan yields ids the same way. Writing an
/// incident replaces the old set of keys with this one.
pub(super) fn incident_index(incident: &Incident) -> Vec<Vec<u8>> {
    let status = incident.status();
    let mut keys = vec![
        number(&incident.number),
        with_id(status_prefix(status.code()), incident.id),
    ];
    if status.is_open() {
        keys.push(open(incident.id));
        if let Some(post) = &incident.territorial_post {
            keys.push(with_id(territory_open_prefix(post), incident.id));
        }
    }
    let mut seen: Vec<&AssigneeRef> = Vec::new();
    for assignment in &incident.assignments {
        if seen.contains(&&assignment.assignee) {
            continue;
        }
        seen.push(&assignment.assignee);
        keys.push(with_id(assignee_prefix(&assignment.assignee), incident.id));
        if status.is_open() && incident.involves(&assignment.assignee) {
            keys.push(with_id(
                assignee_open_prefix(&assignment.assignee),
                incident.id,
            ));
        }
    }
    keys
}

/// `index`: prefix of the incidents holding the text bigram `gram`. A
/// bigram is two characters, so no bigram's bytes begin another's.
pub(super) fn search_gram_prefix(gram: &str) -> Vec<u8> {
    tagged(b'w', gram.as_bytes())
}

/// `index`: prefix of the incidents whose caller's phone, digits reversed,
/// begins with `reversed` (the number ends with those digits).
pub(super) fn search_phone_prefix(reversed: &str) -> Vec<u8> {
    tagged(b'q', reversed.as_bytes())
}

/// `index`: prefix of the incidents whose caller's name has pinyin
/// initials beginning with `initials`.
pub(super) fn search_initials_prefix(initials: &str) -> Vec<u8> {
    tagged(b'y', initials.as_bytes())
}

/// `index`: prefix of the incidents whose searchable texts changed since
/// they were indexed (`x` + id → the seq of the change).
pub(super) const SEARCH_DIRTY: &[u8] = b"x";

/// `index`: incident `id` changed its searchable texts since it was indexed.
pub(super) fn search_dirty(id: u64) -> Vec<u8> {
    with_id(SEARCH_DIRTY.to_vec(), id)
}

/// The end of a phone's digits or a name's initials, before the id (no
/// digit or letter is 0xFF).
const SEARCH_END: u8 = 0xFF;

/// `index`: the search keys of `incident` (id in the key, no value): one
/// per text bigram, its phone and its caller's initials.
pub(super) fn incident_search(incident: &Incident) -> std::collections::BTreeSet<Vec<u8>> {
    use crate::history::search;
    let mut keys: std::collections::BTreeSet<Vec<u8>> = search::incident_grams(incident)
        .iter()
        .map(|gram| with_id(search_gram_prefix(gram), incident.id))
        .collect();
    for phone in search::phones(incident) {
        let phone = search::reversed_digits(phone);
        if !phone.is_empty() {
            let mut key = search_phone_prefix(&phone);
            key.push(SEARCH_END);
            keys.insert(with_id(key, incident.id));
        }
    }
    for name in search::caller_names(incident) {
        let initials = search::initials(name);
        if !initials.is_empty() {
            let mut key = search_initials_prefix(&initials);
            key.push(SEARCH_END);
            keys.insert(with_id(key, incident.id));
        }
    }
    keys
}

/// The incident id at the end of a search key.
pub(super) fn search_key_id(key: &[u8]) -> Result<u64> {
    decode_u64(key.get(key.len().saturating_sub(8)..).unwrap_or_default())
}

/// `prefix` followed by an incident id.
pub(super) fn with_id(mut prefix: Vec<u8>, id: u64) -> Vec<u8> {
    prefix.extend_from_slice(&id.to_be_bytes());
    prefix
}

/// A big-endian u64.
pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Storage(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

fn tagged(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(tag);
    key.extend_from_slice(rest);
    key
}
