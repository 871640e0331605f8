//! The one visibility rule: what a principal may see of incidents, journal
//! events, alarms, handovers, roll-calls, presence and server info.
//!
//! Every read, list, stream and acknowledgement asks this module, and
//! nothing else decides. The rule:
//!
//! - Centre roles (admin, officer, leader, the daemon) see everything except
//!   token events, which only admins see.
//! - A post or unit (a *confined* principal) sees an incident only while it
//!   is involved in it (an assignment that is not refused or withdrawn); the
//!   journal events whose audience names it (decided when the event is
//!   written, by [`incident_event_audience`] for incident events); alarms
//!   addressed to it (its own assignment's, or its own post's when the alarm
//!   names no assignee) and, for an incident's alarm, only while it is
//!   involved; its own handovers; its own line of a roll-call; no presence
//!   and no store-wide figures.
//! - What it may not see does not exist for it: NOT_FOUND, with the same
//!   message as an id that does not exist.
//! - Personal data is trimmed for confined principals: caller phones in
//!   events are masked (journal.proto), roll-calls show only their own answer.
//!
//! Handlers authorise before any state-dependent check, so an error message
//! never tells a caller something about a thing it may not see.

use dutyroom_proto::v1 as pb;

use crate::auth::principal::{Principal, Role};
use crate::convert;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{AssigneeKind, AssigneeRef, Incident, IncidentEvent, mask_phone};
use crate::journal::record::{EventBody, Record, Subject};
use crate::rosters::model::Scope as RosterScope;
use crate::rosters::rollcall::RollCall;
use crate::store::{self, Reader, Store};

/// How far back [`newest_visible_seq`] looks for a confined principal's
/// newest event before it answers with the bottom of what it read.
const HEAD_SCAN_BUDGET: u64 = 65_536;

/// May `principal` see `incident`? Centre roles see all; a post or unit
/// only incidents it is involved in.
pub fn incident(principal: &Principal, incident: &Incident) -> bool {
    match principal.role.confined_to() {
        None => true,
        Some(me) => incident.involves(&me),
    }
}

/// NOT_FOUND (as if it did not exist) when `principal` may not see
/// `incident`: a post cannot learn which numbers exist elsewhere.
pub fn require_incident(principal: &Principal, incident: &Incident) -> Result<()> {
    if self::incident(principal, incident) {
        Ok(())
    } else {
        Err(Error::not_found(format!("incident {}", incident.number)))
    }
}

/// Is `alarm` addressed to `who`: its assignee, or, when it names none
/// (a resolve clock, a mode switch, a missed roll-call), its post?
pub fn alarm_addressed_to(who: &AssigneeRef, alarm: &Alarm) -> bool {
    match &alarm.assignee {
        Some(assignee) => assignee == who,
        None => who.kind == AssigneeKind::Post && alarm.post.as_deref() == Some(who.id.as_str()),
    }
}

/// May `principal` see (and acknowledge) `alarm`? `incident` is the alarm's
/// incident as stored now, when it has one.
pub fn alarm(principal: &Principal, alarm: &Alarm, incident: Option<&Incident>) -> bool {
    let Some(me) = principal.role.confined_to() else {
        return true;
    };
    alarm_addressed_to(&me, alarm)
        && (alarm.incident_id.is_none() || incident.is_some_and(|i| i.involves(&me)))
}

/// [`alarm`], loading the alarm's incident from `store` when it matters.
pub fn alarm_in(store: &Store, principal: &Principal, alarm: &Alarm) -> Result<bool> {
    let Some(me) = principal.role.confined_to() else {
        return Ok(true);
    };
    if !alarm_addressed_to(&me, alarm) {
        return Ok(false);
    }
    let incident = match alarm.incident_id {
        Some(id) => store.incident(id)?,
        None => None,
    };
    Ok(self::alarm(principal, alarm, incident.as_ref()))
}

/// Who may see an event about `incident`: the posts and units involved
/// before it (`before`) or after it. Alarms add nobody: an alarm's post is
/// the incident's territory, which need not be involved.
pub fn incident_event_audience(before: &[String], after: &Incident) -> Vec<String> {
    let mut audience = before.to_vec();
    for tag in after.involved().map(ToString::to_string) {
        if !audience.contains(&tag) {
            audience.push(tag);
        }
    }
    audience
}

/// May `principal` see journal `record`? Reads the store only for an
/// incident's alarm events seen by a post or unit (records written before
/// this rule let a territorial post into those audiences).
pub fn record(store: &Store, principal: &Principal, record: &Record) -> Result<bool> {
    match &principal.role {
        // A gateway reads nothing (the door lets it call one RPC only).
        Role::Gateway(_) => Ok(false),
        Role::Admin | Role::System => Ok(true),
        // Tokens, and who looked up which phone number: admins only.
        Role::Officer | Role::Leader => Ok(!matches!(
            record.subject,
            Subject::Token { .. } | Subject::Lookup { .. }
        )),
        Role::Post(_) | Role::Unit(_) => {
            let me = principal.role.to_string();
            if !record.audience.contains(&me) {
                return Ok(false);
            }
            match &record.body {
                EventBody::Incident(
                    IncidentEvent::Alarmed { alarm, .. }
                    | IncidentEvent::AlarmAcknowledged { alarm }
                    | IncidentEvent::AlarmNotified { alarm, .. },
                ) => {
                    let Some(who) = principal.role.confined_to() else {
                        return Ok(false);
                    };
                    if alarm.assignee.as_ref() == Some(&who) {
                        return Ok(true);
                    }
                    let incident = match record.incident_id() {
                        Some(id) => store.incident(id)?,
                        None => None,
                    };
                    Ok(incident.is_some_and(|i| i.involves(&who)))
                }
                // Another post's answer to a roll-call is its own business.
                EventBody::RollCall(_) => Ok(
                    record.principal.role.is_centre() || record.principal.role == principal.role
                ),
                _ => Ok(true),
            }
        }
    }
}

/// `record` as `principal` may see it, or `None`.
pub fn event(store: &Store, principal: &Principal, record: &Record) -> Result<Option<pb::Event>> {
    if !self::record(store, principal, record)? {
        return Ok(None);
    }
    let mut event = convert::event_out(record);
    redact_event(principal, &mut event);
    Ok(Some(event))
}

/// An event of an incident `principal` may see (a timeline), trimmed for it.
pub fn timeline_event(principal: &Principal, record: &Record) -> pb::Event {
    let mut event = convert::event_out(record);
    redact_event(principal, &mut event);
    event
}

/// Trims what a confined principal may not read in an event it may see.
fn redact_event(principal: &Principal, event: &mut pb::Event) {
    use pb::event::Body;
    let Some(me) = principal.role.confined_to() else {
        return;
    };
    match &mut event.body {
        Some(Body::IncidentCreated(created)) => {
            if let Some(incident) = &mut created.incident {
                incident.caller_phone = mask_phone(&incident.caller_phone);
            }
        }
        Some(Body::IncidentUpdated(updated)) => {
            if let Some(intake) = &mut updated.intake {
                intake.caller_phone = mask_phone(&intake.caller_phone);
            }
        }
        Some(Body::RepeatCallAdded(call)) => {
            call.caller_phone = mask_phone(&call.caller_phone);
        }
        Some(Body::RollCallChanged(rollcall)) => {
            rollcall.posts.retain(|answer| answer.post == me.id);
        }
        _ => {}
    }
}

/// `rollcall` as `principal` may see it: a post sees only its own line, and
/// none of a roll-call it was not asked in.
pub fn rollcall(principal: &Principal, mut rollcall: RollCall) -> Option<RollCall> {
    match principal.role.confined_to() {
        None => Some(rollcall),
        Some(me) if me.kind == AssigneeKind::Post => {
            rollcall.posts.retain(|entry| entry.post == me.id);
            (!rollcall.posts.is_empty()).then_some(rollcall)
        }
        Some(_) => None,
    }
}

/// Which handovers `principal` may read: every one (`None`) for the
/// centre's roles, its own post's for a post; a unit none (PERMISSION_DENIED).
pub fn handovers(principal: &Principal) -> Result<Option<RosterScope>> {
    match &principal.role {
        Role::Post(post) => Ok(Some(RosterScope::Post(post.clone()))),
        _ => crate::auth::require_centre(principal, "read handovers").map(|()| None),
    }
}

/// Who is connected is the centre's business.
pub fn presence(principal: &Principal) -> Result<()> {
    crate::auth::require_centre(principal, "see who is connected")
}

/// Store-wide figures (incident count): the centre's only.
pub fn store_figures(principal: &Principal) -> bool {
    principal.role.is_centre()
}

/// The journal position `principal` may be told: the durable head for the
/// centre; for a post or unit the seq of the newest event it may see (or,
/// after a bounded look back, the oldest seq looked at — nothing it may see
/// lies between that and the head), so resuming from it misses nothing and
/// the head itself is never revealed.
pub fn newest_visible_seq(store: &Store, principal: &Principal, durable: u64) -> Result<u64> {
    if principal.role.is_centre() {
        return Ok(durable);
    }
    let mut high = durable;
    let floor = durable.saturating_sub(HEAD_SCAN_BUDGET);
    while high > floor {
        let low = high.saturating_sub(256).max(floor);
        let chunk = store.journal_after(low, usize::try_from(high - low).unwrap_or(256))?;
        for (seq, bytes) in chunk.iter().rev() {
            if *seq > high {
                continue;
            }
            let record: Record = store::decode(bytes)?;
            if self::record(store, principal, &record)? {
                return Ok(*seq);
            }
        }
        high = low;
    }
    Ok(high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::alarm::AlarmKind;

    fn principal(role: &str) -> Principal {
        Principal {
            token_id: "t".into(),
            name: "n".into(),
            role: role.parse().expect("role"),
        }
    }

    fn alarm(assignee: Option<AssigneeRef>, post: Option<&str>, incident: Option<u64>) -> Alarm {
        Alarm {
            id: 1,
            raised_at: jiff::Timestamp::UNIX_EPOCH,
            raised_by: Principal::system(),
            kind: AlarmKind::Manual,
            level: 1,
            incident: incident.map(|i| format!("20260101-{i:04}")),
            incident_id: incident,
            assignment: None,
            assignee,
            post: post.map(str::to_owned),
            reason: String::new(),
            targets: Vec::new(),
            late_by_secs: None,
            acknowledged_at: None,
            acknowledged_by: None,
            acknowledgement_note: None,
            drill: false,
            notifications: Vec::new(),
        }
    }

    #[test]
    fn a_territorial_post_does_not_see_an_alarm_addressed_to_a_unit() {
        let xinhua = principal("post:xinhua");
        let to_fire = alarm(Some(AssigneeRef::unit("fire")), Some("xinhua"), Some(4));
        assert!(!super::alarm(&xinhua, &to_fire, None));
        assert!(super::alarm(&principal("officer"), &to_fire, None));
    }

    #[test]
    fn a_post_sees_its_own_alarm_without_an_incident_but_not_another_posts() {
        let mode = alarm(None, Some("xinhua"), None);
        assert!(super::alarm(&principal("post:xinhua"), &mode, None));
        assert!(!super::alarm(&principal("post:qianjin"), &mode, None));
        assert!(!super::alarm(&principal("unit:xinhua"), &mode, None));
    }

    #[test]
    fn an_incident_alarm_needs_involvement_even_when_addressed() {
        let resolve = alarm(None, Some("xinhua"), Some(4));
        assert!(!super::alarm(&principal("post:xinhua"), &resolve, None));
    }

    #[test]
    fn a_post_sees_only_its_own_roll_call_line() {
        use crate::rosters::rollcall::Entry;
        let entry = |post: &str| Entry {
            post: post.into(),
            answered_at: None,
            answered_by: None,
            alarms: 0,
            next_alarm: None,
        };
        let call = RollCall {
            id: 1,
            sent_at: jiff::Timestamp::UNIX_EPOCH,
            sent_by: Principal::system(),
            answer_by: jiff::Timestamp::UNIX_EPOCH,
            scheduled: false,
            posts: vec![entry("xinhua"), entry("qianjin")],
        };
        let seen = rollcall(&principal("post:xinhua"), call.clone()).expect("asked");
        assert_eq!(seen.posts.len(), 1);
        assert_eq!(seen.posts[0].post, "xinhua");
        assert!(rollcall(&principal("post:other"), call.clone()).is_none());
        assert!(rollcall(&principal("unit:fire"), call.clone()).is_none());
        assert_eq!(
            rollcall(&principal("leader"), call).map(|c| c.posts.len()),
            Some(2)
        );
    }
}
