//! Roster, handover and roll-call command handlers.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::auth::principal::Role;
use crate::auth::require_centre;
use crate::directory::model::{Person, Post};
use crate::engine::command::{Outcome, RosterRow, SwapRequest};
use crate::engine::scope::Scope;
use crate::error::{Error, Result};
use crate::escalation::alarm::{Alarm, AlarmKind};
use crate::escalation::targets;
use crate::incidents::model::AssigneeRef;
use crate::journal::record::{AlarmEvent, EventBody, RosterEvent, Subject};
use crate::rosters::duty::RosterDuty;
use crate::rosters::handover::{Content, Handover, Stage};
use crate::rosters::model::{
    self, DutyRole, Pattern, RollCallSchedule, RosterConfig, Scope as RosterScope, ShiftId, Slot,
    Swap,
};
use crate::rosters::rollcall::{Entry, RollCall};
use crate::store::{Counter, Deadline, Reader};

/// The roster's shape as stored (empty when never set).
pub(crate) fn config(scope: &Scope<'_>) -> Result<RosterConfig> {
    scope.roster_config()
}

fn save_config(scope: &mut Scope<'_>, config: &RosterConfig) -> Result<()> {
    scope.writes.put_roster_config(config)?;
    scope.emit(
        Subject::Roster {
            what: "config".into(),
        },
        Vec::new(),
        EventBody::Roster(RosterEvent::Config(config.clone())),
    )?;
    Ok(())
}

/// Adds or replaces the pattern that applies from its date.
pub(crate) fn set_pattern(scope: &mut Scope<'_>, pattern: &Pattern) -> Result<Outcome> {
    require_centre(scope.principal, "change the roster")?;
    model::validate_pattern(pattern)?;
    let mut config = config(scope)?;
    config.patterns.retain(|p| p.from != pattern.from);
    config.patterns.push(pattern.clone());
    config.patterns.sort_by_key(|p| p.from);
    save_config(scope, &config)?;
    Ok(Outcome::RosterConfig(config))
}

/// The next scheduled roll-call after `now`.
fn next_scheduled(
    schedule: &RollCallSchedule,
    now: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Option<Timestamp> {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut candidates = Vec::new();
    for date in [today, today.tomorrow().ok()?] {
        for time in &schedule.times {
            if let Ok(zoned) = date.to_datetime(*time).to_zoned_datetime(tz.clone()) {
                candidates.push(zoned.timestamp());
            }
        }
    }
    candidates.into_iter().filter(|t| *t > now).min()
}

/// Replaces the roll-call schedule and re-plans its next run.
pub(crate) fn set_rollcall_schedule(
    scope: &mut Scope<'_>,
    schedule: Option<&RollCallSchedule>,
) -> Result<Outcome> {
    require_centre(scope.principal, "schedule roll-calls")?;
    let mut config = config(scope)?;
    config.rollcall = schedule.cloned();
    if let Some(previous) = scope.view().scheduled_rollcall()? {
        scope.writes.unschedule_rollcall(previous);
    }
    if let Some(next) = schedule.and_then(|s| next_scheduled(s, scope.now, scope.tz)) {
        scope.writes.schedule_rollcall(next)?;
    }
    save_config(scope, &config)?;
    Ok(Outcome::RosterConfig(config))
}

fn check_person(scope: &Scope<'_>, field: &str, id: &str) -> Result<()> {
    // For the `person` column the field name would only repeat "person".
    let which = if field == "person" {
        String::new()
    } else {
        format!(" ({field})")
    };
    match Reader::entry::<Person>(scope, id)? {
        None => Err(Error::not_found(format!("person {id:?}{which}"))),
        Some(person) if person.retired => Err(Error::precondition(format!(
            "person {id:?}{which} is retired and cannot be rostered"
        ))),
        Some(_) => Ok(()),
    }
}

fn check_slot(
    scope: &Scope<'_>,
    config: &RosterConfig,
    shift: &ShiftId,
    who: &RosterScope,
    role: DutyRole,
) -> Result<()> {
    config.occurrence(shift, scope.tz)?;
    if !role.fits(who) {
        return Err(Error::invalid(
            "role",
            format!(
                "{} is not a role of {}: the centre has duty_officer and duty_leader, a post duty_contact",
                role.name(),
                who.key()
            ),
        ));
    }
    if let RosterScope::Post(post) = who {
        match Reader::entry::<Post>(scope, post)? {
            None => return Err(Error::not_found(format!("post {post:?}"))),
            Some(p) if p.retired => {
                return Err(Error::precondition(format!("post {post:?} is retired")));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn save_slot(
    scope: &mut Scope<'_>,
    shift: &ShiftId,
    who: &RosterScope,
    role: DutyRole,
    slot: &Slot,
    swap: bool,
) -> Result<()> {
    scope.writes.put_slot(shift, who, role, slot)?;
    let audience = match who {
        RosterScope::Post(post) => vec![AssigneeRef::post(post).to_string()],
        RosterScope::Centre => Vec::new(),
    };
    scope.emit(
        Subject::Roster {
            what: format!(
                "{}/{}/{}/{}",
                shift.date,
                shift.shift,
                who.key(),
                role.name()
            ),
        },
        audience,
        EventBody::Roster(RosterEvent::Slot {
            shift: shift.clone(),
            scope: who.clone(),
            role,
            slot: slot.clone(),
            swap,
        }),
    )?;
    Ok(())
}

/// Plans who fills a slot (its swaps stay recorded).
pub(crate) fn set_slot(
    scope: &mut Scope<'_>,
    shift: &ShiftId,
    who: &RosterScope,
    role: DutyRole,
    people: &[String],
) -> Result<Outcome> {
    require_centre(scope.principal, "change the roster")?;
    let config = config(scope)?;
    check_slot(scope, &config, shift, who, role)?;
    for person in people {
        check_person(scope, "people", person)?;
    }
    let mut slot = scope.slot(shift, who, role)?.unwrap_or_default();
    slot.people = crate::validate::tidy_labels(people);
    save_slot(scope, shift, who, role, &slot, false)?;
    Ok(Outcome::Slot {
        shift: shift.clone(),
        scope: who.clone(),
        role,
        slot,
    })
}

/// Records one person standing in for another.
pub(crate) fn swap(
    scope: &mut Scope<'_>,
    shift: &ShiftId,
    who: &RosterScope,
    role: DutyRole,
    request: &SwapRequest,
) -> Result<Outcome> {
    require_centre(scope.principal, "record swaps")?;
    let config = config(scope)?;
    check_slot(scope, &config, shift, who, role)?;
    let occurrence = config.occurrence(shift, scope.tz)?;
    let mut slot = scope.slot(shift, who, role)?.ok_or_else(|| {
        Error::precondition(format!(
            "nobody is rostered as {} for {} on {} {}: set the slot before swapping",
            role.name(),
            who.key(),
            shift.date,
            shift.shift
        ))
    })?;
    if !slot.everyone().contains(&request.replaced) {
        return Err(Error::precondition(format!(
            "{:?} is not on this slot (it has {}): only someone rostered can be swapped out",
            request.replaced,
            slot.everyone().join(", ")
        )));
    }
    check_person(scope, "by", &request.by)?;
    for (field, person) in [
        ("asked_by", &request.asked_by),
        ("approved_by", &request.approved_by),
    ] {
        if let Some(person) = person {
            check_person(scope, field, person)?;
        }
    }
    let from = request.from.map(|t| t.max(occurrence.start));
    let until = request.until.map(|t| t.min(occurrence.end));
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        return Err(Error::invalid(
            "until",
            "the swap must end after it starts, within the shift",
        ));
    }
    slot.swaps.push(Swap {
        replaced: request.replaced.clone(),
        by: request.by.clone(),
        from,
        until,
        asked_by: request.asked_by.clone(),
        approved_by: request.approved_by.clone(),
        reason: request.reason.clone(),
        recorded_by: scope.principal.clone(),
        recorded_at: scope.now,
    });
    save_slot(scope, shift, who, role, &slot, true)?;
    Ok(Outcome::Slot {
        shift: shift.clone(),
        scope: who.clone(),
        role,
        slot,
    })
}

/// Validates every row, then writes all slots (or only the good rows' when
/// asked) in this one command.
pub(crate) fn import(
    scope: &mut Scope<'_>,
    rows: &[RosterRow],
    apply_good: bool,
    dry_run: bool,
) -> Result<Outcome> {
    require_centre(scope.principal, "import a roster")?;
    let config = config(scope)?;
    let mut problems = Vec::new();
    let mut slots: BTreeMap<(ShiftId, RosterScope, DutyRole), Vec<(u32, String)>> = BTreeMap::new();
    for row in rows {
        let checked = (|| -> Result<(ShiftId, RosterScope, DutyRole)> {
            let date = crate::incidents::numbering::parse_day(&row.date)
                .and_then(|d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]).parse().ok())
                .ok_or_else(|| {
                    Error::invalid("date", format!("{:?} is not a date (YYYY-MM-DD)", row.date))
                })?;
            let shift = ShiftId {
                date,
                shift: row.shift.trim().to_owned(),
            };
            let role = DutyRole::parse(&row.role)?;
            let who = if row.post.trim().is_empty() {
                RosterScope::Centre
            } else {
                RosterScope::parse(&row.post)?
            };
            check_slot(scope, &config, &shift, &who, role)?;
            check_person(scope, "person", row.person.trim())?;
            Ok((shift, who, role))
        })();
        match checked {
            Ok(key) => {
                let people = slots.entry(key).or_default();
                let person = row.person.trim().to_owned();
                if people.iter().any(|(_, p)| *p == person) {
                    problems.push((row.line, format!("{person} is listed twice for this slot")));
                } else {
                    people.push((row.line, person));
                }
            }
            Err(error) => problems.push((row.line, error.to_string())),
        }
    }
    let rows_ok = slots.values().map(Vec::len).sum::<usize>() as u32;
    if dry_run || (!problems.is_empty() && !apply_good) {
        return Ok(Outcome::Imported {
            problems,
            slots_written: 0,
            rows_ok,
        });
    }
    let mut written = 0;
    for ((shift, who, role), people) in slots {
        let mut slot = scope.slot(&shift, &who, role)?.unwrap_or_default();
        slot.people = people.into_iter().map(|(_, p)| p).collect();
        save_slot(scope, &shift, &who, role, &slot, false)?;
        written += 1;
    }
    Ok(Outcome::Imported {
        problems,
        slots_written: written,
        rows_ok,
    })
}

/// May `principal` write the handover of `whose` shift change? The centre's
/// by centre roles; a post's by that post's own tokens only.
pub(crate) fn require_handover_writer(
    principal: &crate::auth::principal::Principal,
    whose: &RosterScope,
    action: &str,
) -> Result<()> {
    match whose {
        RosterScope::Centre => require_centre(principal, action),
        RosterScope::Post(post) => match &principal.role {
            Role::Post(mine) if mine == post => Ok(()),
            _ => Err(Error::denied(format!(
                "post {post}'s handover is written by post {post}'s own people (a post:{post} \
                 token); role {} may not {action}",
                principal.role
            ))),
        },
    }
}

/// A handover `principal` may see: a post sees only its own (another's
/// answers NOT_FOUND, as a missing one); a unit is refused before any
/// lookup, so the answer never depends on which ids exist.
fn handover_by_id(scope: &Scope<'_>, id: u64) -> Result<Handover> {
    let mine = crate::visibility::handovers(scope.principal)?;
    scope
        .handover(id)?
        .filter(|h| mine.as_ref().is_none_or(|m| h.scope == *m))
        .ok_or_else(|| Error::not_found(format!("handover {id}")))
}

fn save_handover(scope: &mut Scope<'_>, handover: &Handover) -> Result<Outcome> {
    scope.writes.put_handover(handover)?;
    // A post's handover is its own business, and the centre's.
    let audience = match &handover.scope {
        RosterScope::Centre => Vec::new(),
        RosterScope::Post(post) => vec![format!("post:{post}")],
    };
    scope.emit(
        Subject::Handover { id: handover.id },
        audience,
        EventBody::Handover(Box::new(handover.clone())),
    )?;
    Ok(Outcome::Handover(Box::new(handover.clone())))
}

/// Opens a shift's handover, or refreshes it while it is still open.
pub(crate) fn open_handover(
    scope: &mut Scope<'_>,
    shift: &ShiftId,
    whose: &RosterScope,
    content: &Content,
    notes: Option<&str>,
) -> Result<Outcome> {
    require_handover_writer(scope.principal, whose, "open a handover")?;
    let config = config(scope)?;
    let occurrence = config.occurrence(shift, scope.tz)?;
    let existing = match scope.view().handover_of_shift(shift, whose)? {
        Some(id) => Some(handover_by_id(scope, id)?),
        None => None,
    };
    let handover = match existing {
        Some(mut handover) => {
            handover.require(Stage::Open, "refresh it")?;
            handover.content = content.clone();
            handover.opened_at = scope.now;
            if let Some(notes) = notes {
                handover.notes = notes.to_owned();
            }
            handover
        }
        None => {
            let id = scope.next_counter(Counter::HandoverId)?;
            scope.writes.put_handover_of_shift(shift, whose, id);
            Handover {
                id,
                shift: shift.clone(),
                shift_start: occurrence.start,
                shift_end: occurrence.end,
                opened_at: scope.now,
                opened_by: scope.principal.clone(),
                content: content.clone(),
                notes: notes.unwrap_or_default().to_owned(),
                signed_out_at: None,
                signed_out_by: None,
                countersigned_at: None,
                countersigned_by: None,
                remarks: String::new(),
                scope: whose.clone(),
            }
        }
    };
    save_handover(scope, &handover)
}

/// Changes a handover's free text while it is open.
pub(crate) fn update_handover(scope: &mut Scope<'_>, id: u64, notes: &str) -> Result<Outcome> {
    let mut handover = handover_by_id(scope, id)?;
    require_handover_writer(scope.principal, &handover.scope, "write this handover")?;
    handover.require(Stage::Open, "change its notes")?;
    handover.notes = notes.to_owned();
    save_handover(scope, &handover)
}

/// The outgoing officer signs out.
pub(crate) fn sign_handover(scope: &mut Scope<'_>, id: u64) -> Result<Outcome> {
    let mut handover = handover_by_id(scope, id)?;
    require_handover_writer(scope.principal, &handover.scope, "sign this handover")?;
    handover.require(Stage::Open, "sign it out")?;
    handover.signed_out_at = Some(scope.now);
    handover.signed_out_by = Some(scope.principal.clone());
    save_handover(scope, &handover)
}

/// The incoming officer counter-signs; the handover is final after this.
pub(crate) fn countersign_handover(
    scope: &mut Scope<'_>,
    id: u64,
    remarks: &str,
) -> Result<Outcome> {
    let mut handover = handover_by_id(scope, id)?;
    require_handover_writer(
        scope.principal,
        &handover.scope,
        "counter-sign this handover",
    )?;
    handover.require(Stage::SignedOut, "counter-sign it")?;
    if handover
        .signed_out_by
        .as_ref()
        .is_some_and(|p| p.token_id == scope.principal.token_id)
    {
        return Err(Error::precondition(
            "the incoming officer counter-signs with their own token: the one who signed out \
             cannot counter-sign too",
        ));
    }
    handover.countersigned_at = Some(scope.now);
    handover.countersigned_by = Some(scope.principal.clone());
    handover.remarks = remarks.to_owned();
    save_handover(scope, &handover)
}

fn save_rollcall(scope: &mut Scope<'_>, rollcall: &RollCall) -> Result<()> {
    scope.writes.put_rollcall(rollcall)?;
    let audience = rollcall
        .posts
        .iter()
        .map(|e| AssigneeRef::post(&e.post).to_string())
        .collect();
    scope.emit(
        Subject::RollCall { id: rollcall.id },
        audience,
        EventBody::RollCall(Box::new(rollcall.clone())),
    )?;
    Ok(())
}

/// Sends a roll-call; each post's answer deadline goes in the deadlines.
pub(crate) fn send_rollcall(
    scope: &mut Scope<'_>,
    posts: &[String],
    answer_within: jiff::SignedDuration,
    scheduled: bool,
) -> Result<Outcome> {
    if !scheduled {
        require_centre(scope.principal, "send roll-calls")?;
    }
    let posts: Vec<String> = if posts.is_empty() {
        scope
            .entries::<Post>()?
            .into_iter()
            .filter(|p| !p.retired)
            .map(|p| p.id)
            .collect()
    } else {
        for post in posts {
            match Reader::entry::<Post>(scope, post)? {
                Some(p) if !p.retired => {}
                Some(_) => return Err(Error::precondition(format!("post {post:?} is retired"))),
                None => return Err(Error::not_found(format!("post {post:?}"))),
            }
        }
        posts.to_vec()
    };
    if posts.is_empty() {
        return Err(Error::precondition("there are no posts to roll-call"));
    }
    let id = scope.next_counter(Counter::RollCallId)?;
    let answer_by = scope.now.saturating_add(answer_within).unwrap_or(scope.now);
    let rollcall = RollCall {
        id,
        sent_at: scope.now,
        sent_by: scope.principal.clone(),
        answer_by,
        scheduled,
        posts: posts
            .iter()
            .map(|post| Entry {
                post: post.clone(),
                answered_at: None,
                answered_by: None,
                alarms: 0,
                next_alarm: Some(answer_by),
            })
            .collect(),
    };
    for entry in &rollcall.posts {
        scope
            .writes
            .put_rollcall_deadline(answer_by, id, &entry.post);
    }
    save_rollcall(scope, &rollcall)?;
    Ok(Outcome::RollCall(Box::new(rollcall)))
}

/// A post answers a roll-call.
pub(crate) fn answer_rollcall(scope: &mut Scope<'_>, id: u64) -> Result<Outcome> {
    let Role::Post(post) = &scope.principal.role else {
        return Err(Error::denied(
            "a post answers a roll-call with its own token",
        ));
    };
    let post = post.clone();
    let mut rollcall = scope
        .rollcall(id)?
        .ok_or_else(|| Error::not_found(format!("roll-call {id}")))?;
    let entry = rollcall
        .posts
        .iter_mut()
        .find(|e| e.post == post)
        .ok_or_else(|| Error::not_found(format!("roll-call {id}")))?;
    if entry.answered_at.is_some() {
        return Ok(Outcome::RollCall(Box::new(rollcall)));
    }
    if let Some(next) = entry.next_alarm.take() {
        scope.writes.remove_rollcall_deadline(next, id, &post);
    }
    // Answered from an outbox: when the post answered, not before it was asked.
    entry.answered_at = Some(scope.acted_at().max(rollcall.sent_at));
    entry.answered_by = Some(scope.principal.clone());
    save_rollcall(scope, &rollcall)?;
    Ok(Outcome::RollCall(Box::new(rollcall)))
}

/// Fires the due parts of a roll-call: each post that has not answered by
/// its deadline climbs the escalation ladder.
pub(crate) fn fire_rollcall(scope: &mut Scope<'_>, id: u64, due: &[Deadline]) -> Result<usize> {
    let Some(mut rollcall) = scope.rollcall(id)? else {
        for deadline in due {
            scope.writes.remove_deadline(deadline);
        }
        return Ok(0);
    };
    let now = scope.now;
    let roster = config(scope)?;
    let mut raised = 0;
    let mut alarms = Vec::new();
    for entry in &mut rollcall.posts {
        let Some(scheduled) = entry.next_alarm.filter(|at| *at <= now) else {
            continue;
        };
        scope
            .writes
            .remove_rollcall_deadline(scheduled, id, &entry.post);
        if entry.answered_at.is_some() {
            entry.next_alarm = None;
            continue;
        }
        let number = entry.alarms.saturating_add(1);
        let Some(level) = scope.policy.level(number).cloned() else {
            entry.next_alarm = None;
            continue;
        };
        let next = scope.policy.next_after(number).map(|after| {
            let next = scheduled.saturating_add(after).unwrap_or(scheduled);
            if next <= now {
                now.saturating_add(after).unwrap_or(now)
            } else {
                next
            }
        });
        entry.alarms = number;
        entry.next_alarm = next;
        if let Some(next) = next {
            scope.writes.put_rollcall_deadline(next, id, &entry.post);
        }
        let assignee = AssigneeRef::post(&entry.post);
        let duty = RosterDuty {
            reader: &*scope,
            config: &roster,
            tz: scope.tz,
        };
        let targets = targets::resolve(
            &duty,
            &level.notify,
            Some(&assignee),
            Some(&entry.post),
            now,
        )?;
        let late = now.duration_since(scheduled);
        alarms.push((
            (level.send.clone(), level.send_to.clone()),
            Alarm {
                id: 0,
                raised_at: now,
                raised_by: scope.principal.clone(),
                kind: AlarmKind::RollCallMissed,
                level: number,
                incident: None,
                incident_id: None,
                assignment: None,
                assignee: Some(assignee),
                post: Some(entry.post.clone()),
                reason: format!(
                    "roll-call {id} not answered by post {} (due {}), level {number}",
                    entry.post,
                    rollcall
                        .answer_by
                        .to_zoned_datetime(scope.tz.clone())
                        .strftime("%H:%M:%S")
                ),
                targets,
                late_by_secs: (late > crate::escalation::clocks::LATE_AFTER)
                    .then(|| late.as_secs()),
                acknowledged_at: None,
                acknowledged_by: None,
                drill: false,
                notifications: Vec::new(),
                acknowledgement_note: None,
            },
        ));
    }
    for ((send, send_to), mut alarm) in alarms {
        alarm.id = scope.next_alarm_id()?;
        super::notify::plan(scope, &mut alarm, &send, &send_to)?;
        scope.writes.put_alarm(&alarm)?;
        let audience = alarm.audience();
        scope.emit(
            Subject::Alarm { id: alarm.id },
            audience,
            EventBody::Alarm(AlarmEvent::Raised(Box::new(alarm))),
        )?;
        raised += 1;
    }
    save_rollcall(scope, &rollcall)?;
    Ok(raised)
}

/// The schedule's turn: roll-call every post, and plan the next one.
pub(crate) fn fire_schedule(scope: &mut Scope<'_>, deadline: &Deadline) -> Result<()> {
    scope.writes.remove_deadline(deadline);
    let config = config(scope)?;
    let Some(schedule) = config.rollcall else {
        return Ok(());
    };
    if !scope.entries::<Post>()?.iter().any(|p| !p.retired) {
        return Ok(());
    }
    send_rollcall(scope, &[], schedule.answer_within, true)?;
    if let Some(next) = next_scheduled(&schedule, scope.now, scope.tz) {
        scope.writes.schedule_rollcall(next)?;
    }
    Ok(())
}
