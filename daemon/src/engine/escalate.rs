//! Escalation command handlers: firing due clocks, manual escalation and
//! severity raises, calling in units, acknowledging alarms, replacing the
//! policy, and what a post's mode switch does to its incidents' clocks.

use std::collections::{BTreeMap, BTreeSet};

use crate::auth::{require_admin, require_centre, require_leader};
use crate::directory::model::{Category, Post, PostMode};
use crate::engine::command::{Outcome, PolicyRecord};
use crate::engine::scope::Scope;
use crate::error::{Error, Result};
use crate::escalation::alarm::{Alarm, AlarmKind};
use crate::escalation::clocks::{self, ClockKind};
use crate::escalation::policy::{self, Level, Policy, Target};
use crate::escalation::targets;
use crate::incidents::model::{AssigneeRef, AssignmentRole, Incident, IncidentEvent, Severity};
use crate::journal::record::{AlarmEvent, EventBody, PolicyEvent, Subject};
use crate::rosters::duty::RosterDuty;
use crate::store::{Deadline, DeadlineOwner, Reader};
use crate::visibility::require_incident as require_visible;

/// Most clocks one FireDue command handles; the timer sends another at once
/// if more are due. Small, so that after a long stop, when thousands of
/// clocks are due at once, an officer's command queued behind the catch-up
/// waits for one short batch, not a long one (the writer runs jobs in order).
const FIRE_LIMIT: usize = 32;

/// Raises the alarms of every clock due now.
pub(crate) fn fire_due(scope: &mut Scope<'_>) -> Result<Outcome> {
    if scope.principal.role != crate::auth::principal::Role::System {
        return Err(Error::denied("only dutyd's own timer fires deadlines"));
    }
    let now = scope.now;
    let all_due = scope.due_deadlines(now, FIRE_LIMIT)?;
    let mut raised = 0;
    let mut rollcalls: BTreeMap<u64, Vec<Deadline>> = BTreeMap::new();
    let mut due = Vec::new();
    for (deadline, owner) in all_due {
        match owner {
            DeadlineOwner::Incident(id) => due.push((deadline, id)),
            DeadlineOwner::RollCall(id) => rollcalls.entry(id).or_default().push(deadline),
            DeadlineOwner::Schedule => super::rosters::fire_schedule(scope, &deadline)?,
        }
    }
    for (id, deadlines) in rollcalls {
        raised += super::rosters::fire_rollcall(scope, id, &deadlines)?;
    }
    let incidents: BTreeSet<u64> = due.iter().map(|(_, id)| *id).collect();
    for id in incidents {
        let Some(mut incident) = scope.incident(id)? else {
            // A key without its incident: drop it so it cannot fire forever.
            for (deadline, _) in due.iter().filter(|(_, owner)| *owner == id) {
                scope.writes.remove_deadline(deadline);
            }
            continue;
        };
        let before = incident.clone();
        // Deadlines that no longer match any clock (left by an older state) go.
        for (deadline, _) in due.iter().filter(|(_, owner)| *owner == id) {
            if !deadline.is_planned_for(&before) {
                scope.writes.remove_deadline(deadline);
            }
        }
        let mut events = Vec::new();
        let mut raised_severity = false;
        let mut exhausted = false;
        for clock in before
            .clocks
            .iter()
            .filter(|c| c.next_alarm.is_some_and(|at| at <= now))
        {
            let Some(firing) = clocks::fire(clock, scope.policy, now) else {
                // The ladder ended (the policy changed under it): stop the clock.
                if let Some(running) = incident.clocks.iter_mut().find(|c| c.same(clock)) {
                    running.next_alarm = None;
                }
                exhausted = true;
                continue;
            };
            let Some(level) = scope.policy.level(firing.level).cloned() else {
                continue;
            };
            let assignment = clock
                .assignment
                .and_then(|id| before.assignments.iter().find(|a| a.id == id));
            let assignee = assignment.map(|a| a.assignee.clone());
            let kind = match clock.kind {
                ClockKind::SignFor => AlarmKind::SignForOverdue,
                ClockKind::Arrive => AlarmKind::ArriveOverdue,
                ClockKind::Resolve => AlarmKind::ResolveOverdue,
            };
            let who = assignee
                .as_ref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default();
            let mut reason = format!(
                "{} overdue{who}: due {}, level {}",
                clock.kind.describe(),
                clock
                    .due
                    .to_zoned_datetime(scope.tz.clone())
                    .strftime("%H:%M:%S"),
                firing.level
            );
            if let Some(late) = firing.late_by {
                reason.push_str(&format!(" (fired {} late)", policy::human(late)));
            }
            let alarm = new_alarm(
                scope,
                &before,
                kind,
                firing.level,
                assignee.as_ref(),
                clock.assignment,
                &level,
                reason.clone(),
                firing.late_by.map(|d| d.as_secs()),
            )?;
            events.push(IncidentEvent::Alarmed {
                alarm: Box::new(alarm),
                clock: Some((clock.kind, clock.assignment)),
                next_alarm: firing.next_alarm,
            });
            raised += 1;
            if level.raise_severity && !raised_severity && before.intake.severity != Severity::I {
                raised_severity = true;
                events.extend(before.decide_raise_severity(None, &reason)?);
            }
        }
        if events.is_empty() && exhausted {
            events.push(IncidentEvent::ClocksChanged {
                reason: "the escalation ladder ended".into(),
            });
        }
        scope.record_incident_from(Some(before), &mut incident, events)?;
    }
    Ok(Outcome::Fired { alarms: raised })
}

/// Builds and stores an alarm about an incident.
#[allow(clippy::too_many_arguments)]
fn new_alarm(
    scope: &mut Scope<'_>,
    incident: &Incident,
    kind: AlarmKind,
    level: u8,
    assignee: Option<&AssigneeRef>,
    assignment: Option<u32>,
    ladder_level: &Level,
    reason: String,
    late_by_secs: Option<i64>,
) -> Result<Alarm> {
    let post = clocks::incident_post(incident).map(str::to_owned);
    let roster = super::rosters::config(scope)?;
    let duty = RosterDuty {
        reader: &*scope,
        config: &roster,
        tz: scope.tz,
    };
    let targets = targets::resolve(
        &duty,
        &ladder_level.notify,
        assignee,
        post.as_deref(),
        scope.now,
    )?;
    let mut alarm = Alarm {
        id: scope.next_alarm_id()?,
        raised_at: scope.now,
        raised_by: scope.principal.clone(),
        kind,
        level,
        incident: Some(incident.number.clone()),
        incident_id: Some(incident.id),
        assignment,
        assignee: assignee.cloned(),
        post,
        reason,
        targets,
        late_by_secs,
        acknowledged_at: None,
        acknowledged_by: None,
        acknowledgement_note: None,
        drill: incident.intake.drill,
        notifications: Vec::new(),
    };
    super::notify::plan(scope, &mut alarm, &ladder_level.send, &ladder_level.send_to)?;
    scope.writes.put_alarm(&alarm)?;
    Ok(alarm)
}

/// Escalates an incident by hand: one level above its current one, or to
/// the level asked for, alarming that level's people (and raising the
/// severity when the level says so).
pub(crate) fn escalate(
    scope: &mut Scope<'_>,
    number: &str,
    to_level: Option<u8>,
    reason: &str,
) -> Result<Outcome> {
    require_centre(scope.principal, "escalate incidents")?;
    let mut incident = scope.existing_incident(number)?;
    if !incident.status().is_open() {
        return Err(Error::precondition(format!(
            "incident {} is {}: only an open incident can be escalated",
            incident.number,
            incident.status().word()
        )));
    }
    let level_number = to_level
        .unwrap_or(incident.escalation_level.saturating_add(1))
        .max(1);
    let policy_level = scope
        .policy
        .level(level_number)
        .or_else(|| scope.policy.ladder.last())
        .cloned()
        .ok_or_else(|| Error::precondition("the escalation policy has no ladder"))?;
    let lead = incident.active_lead().map(|a| (a.assignee.clone(), a.id));
    let alarm = new_alarm(
        scope,
        &incident,
        AlarmKind::Manual,
        level_number,
        lead.as_ref().map(|(a, _)| a),
        lead.as_ref().map(|(_, id)| *id),
        &policy_level,
        format!(
            "escalated by {} to level {level_number}: {reason}",
            scope.principal.name
        ),
        None,
    )?;
    let mut events = vec![IncidentEvent::Alarmed {
        alarm: Box::new(alarm),
        clock: None,
        next_alarm: None,
    }];
    if policy_level.raise_severity && incident.intake.severity != Severity::I {
        events.extend(incident.decide_raise_severity(None, reason)?);
    }
    let before = incident.clone();
    let seq = scope.record_incident_from(Some(before), &mut incident, events)?;
    Ok(Outcome::Incident {
        incident: Box::new(incident),
        seq,
    })
}

/// Raises an incident's severity by hand.
pub(crate) fn raise_severity(
    scope: &mut Scope<'_>,
    number: &str,
    to: Option<Severity>,
    reason: &str,
) -> Result<Outcome> {
    require_centre(scope.principal, "raise severity")?;
    let mut incident = scope.existing_incident(number)?;
    let events = incident.decide_raise_severity(to, reason)?;
    let seq = scope.record_incident(&mut incident, events, false)?;
    Ok(Outcome::Incident {
        incident: Box::new(incident),
        seq,
    })
}

/// A post (or the centre) calls in units: each gets a supporting
/// assignment, whose sign-for clock is its report deadline (报到).
pub(crate) fn call_in(
    scope: &mut Scope<'_>,
    number: &str,
    units: &[String],
    note: &str,
) -> Result<Outcome> {
    let mut incident = scope.existing_incident(number)?;
    require_visible(scope.principal, &incident)?;
    if !scope.principal.role.is_centre() && scope.principal.role.confined_to().is_none() {
        return Err(Error::denied(
            "only the centre or an involved post may call in units",
        ));
    }
    let by = scope
        .principal
        .role
        .confined_to()
        .map_or_else(|| scope.principal.name.clone(), |me| me.to_string());
    let remark = if note.is_empty() {
        format!("called in by {by}")
    } else {
        format!("called in by {by}: {note}")
    };
    let mut events = Vec::new();
    let mut planned = incident.clone();
    for unit in units {
        let assignee = AssigneeRef::unit(unit);
        super::execute::check_assignee(scope, &assignee)?;
        for mut event in
            planned.decide_assign(&assignee, AssignmentRole::Support, false, scope.now)?
        {
            if let IncidentEvent::Assignment { note, .. } = &mut event {
                *note = remark.clone();
            }
            planned.apply(&event, scope.now);
            events.push(event);
        }
    }
    let seq = scope.record_incident(&mut incident, events, false)?;
    Ok(Outcome::Incident {
        incident: Box::new(incident),
        seq,
    })
}

/// Acknowledges an alarm (recorded with who and when). Acknowledging twice
/// changes nothing and answers the alarm as it is.
pub(crate) fn acknowledge(scope: &mut Scope<'_>, id: u64, note: &str) -> Result<Outcome> {
    let mut alarm = scope
        .alarm(id)?
        .ok_or_else(|| Error::not_found(format!("alarm {id}")))?;
    // Only the alarm's addressee (or the centre) acknowledges it; any other
    // post or unit is told it does not exist.
    let incident = match alarm.incident_id {
        Some(incident_id) if scope.principal.role.confined_to().is_some() => {
            scope.incident(incident_id)?
        }
        _ => None,
    };
    if !crate::visibility::alarm(scope.principal, &alarm, incident.as_ref()) {
        return Err(Error::not_found(format!("alarm {id}")));
    }
    if alarm.acknowledged_at.is_some() {
        return Ok(Outcome::Alarm(Box::new(alarm)));
    }
    alarm.acknowledged_at = Some(scope.now);
    alarm.acknowledged_by = Some(scope.principal.clone());
    super::notify::cancel_owed(&mut alarm, scope.now);
    alarm.acknowledgement_note = (!note.is_empty()).then(|| note.to_owned());
    scope.writes.put_alarm(&alarm)?;
    record_acknowledged(scope, &alarm)?;
    Ok(Outcome::Alarm(Box::new(alarm)))
}

/// The clock an alarm of `kind` is about, if a clock raised it.
fn clock_of(kind: AlarmKind) -> Option<ClockKind> {
    match kind {
        AlarmKind::SignForOverdue => Some(ClockKind::SignFor),
        AlarmKind::ArriveOverdue => Some(ClockKind::Arrive),
        AlarmKind::ResolveOverdue => Some(ClockKind::Resolve),
        AlarmKind::Manual | AlarmKind::ModeSwitched | AlarmKind::RollCallMissed => None,
    }
}

/// The event saying `alarm` was acknowledged: on its incident's timeline,
/// or its own when it is about no incident; when the policy says so, the
/// clock that raised it stops climbing.
pub(crate) fn record_acknowledged(scope: &mut Scope<'_>, alarm: &Alarm) -> Result<()> {
    match alarm.incident_id {
        Some(incident_id) => {
            let mut incident = scope
                .incident(incident_id)?
                .ok_or_else(|| Error::Storage(format!("alarm {}'s incident vanished", alarm.id)))?;
            let before = incident.clone();
            let mut events = vec![IncidentEvent::AlarmAcknowledged {
                alarm: Box::new(alarm.clone()),
            }];
            if scope.policy.acknowledge_stops_ladder
                && let Some(kind) = clock_of(alarm.kind)
                && let Some(clock) = incident.clocks.iter_mut().find(|c| {
                    c.kind == kind && c.assignment == alarm.assignment && c.next_alarm.is_some()
                })
            {
                // Its next level is not planned again: a clock that has
                // alarmed keeps its ladder state when re-planned.
                clock.next_alarm = None;
                events.push(IncidentEvent::ClocksChanged {
                    reason: format!(
                        "alarm {} acknowledged: its ladder stops (the policy's acknowledge.stops_ladder)",
                        alarm.id
                    ),
                });
            }
            scope.record_incident_from(Some(before), &mut incident, events)?;
        }
        None => {
            scope.emit(
                Subject::Alarm { id: alarm.id },
                alarm.audience(),
                EventBody::Alarm(AlarmEvent::Acknowledged(Box::new(alarm.clone()))),
            )?;
        }
    }
    Ok(())
}

/// Replaces the escalation policy, whole or not at all.
pub(crate) fn set_policy(
    scope: &mut Scope<'_>,
    text: &str,
    expected_version: Option<u64>,
) -> Result<Outcome> {
    require_admin(scope.principal, "replace the escalation policy")?;
    let parsed: Policy = policy::parse(text)?;
    for (index, rule) in parsed.rules.iter().enumerate() {
        for code in &rule.categories {
            if scope.entry::<Category>(code)?.is_none() {
                return Err(Error::InvalidArgument(format!(
                    "policy: rule {}: category {code:?} does not exist",
                    index + 1
                )));
            }
        }
        for post in &rule.posts {
            if Reader::entry::<Post>(&*scope, post)?.is_none() {
                return Err(Error::InvalidArgument(format!(
                    "policy: rule {}: post {post:?} does not exist",
                    index + 1
                )));
            }
        }
    }
    let current = scope.policy_record()?;
    let current_version = current.as_ref().map_or(0, |p| p.version);
    if let Some(expected) = expected_version
        && expected != current_version
    {
        return Err(Error::precondition(format!(
            "the policy is at version {current_version}, not {expected}: someone changed it; \
             read it again and re-apply your change"
        )));
    }
    let record = PolicyRecord {
        version: current_version + 1,
        text: text.to_owned(),
        set_at: scope.now,
        set_by: scope.principal.clone(),
    };
    scope.writes.put_policy_record(&record)?;
    scope.emit(
        Subject::Policy {
            version: record.version,
        },
        Vec::new(),
        EventBody::Policy(PolicyEvent {
            version: record.version,
            text: text.to_owned(),
        }),
    )?;
    let mut parsed = parsed;
    parsed.version = record.version;
    scope.new_policy = Some(parsed);
    Ok(Outcome::Policy(record))
}

/// After a post's mode switched: re-plan the clocks of its open incidents
/// (tighter in emergency mode, from this moment) and alarm the leaders.
pub(crate) fn mode_switched(scope: &mut Scope<'_>, post: &Post, reason: &str) -> Result<()> {
    require_leader(scope.principal, "switch a post's mode")?;
    let mut ids: BTreeSet<u64> = scope
        .open_incident_ids_in_territory(&post.id)?
        .into_iter()
        .collect();
    ids.extend(scope.open_incident_ids_of(&AssigneeRef::post(&post.id))?);
    let mode = match post.mode {
        PostMode::Emergency => "emergency",
        PostMode::Normal => "normal",
    };
    let why = format!("post {} switched to {mode} mode: {reason}", post.id);
    for id in ids {
        let Some(mut incident) = scope.incident(id)? else {
            continue;
        };
        // Only incidents whose clocks follow this post's mode.
        if clocks::incident_post(&incident) != Some(post.id.as_str()) {
            continue;
        }
        if scope.plan_clocks(&incident)? == incident.clocks {
            continue;
        }
        let events = vec![IncidentEvent::ClocksChanged {
            reason: why.clone(),
        }];
        scope.record_incident(&mut incident, events, false)?;
    }
    let notify = [
        Target::CentreDutyLeader,
        Target::PostResponsibleLeader,
        Target::LeadersOnDuty,
    ];
    let roster = super::rosters::config(scope)?;
    let duty = RosterDuty {
        reader: &*scope,
        config: &roster,
        tz: scope.tz,
    };
    let targets = targets::resolve(&duty, &notify, None, Some(&post.id), scope.now)?;
    let mut alarm = Alarm {
        id: scope.next_alarm_id()?,
        raised_at: scope.now,
        raised_by: scope.principal.clone(),
        kind: AlarmKind::ModeSwitched,
        level: 1,
        incident: None,
        incident_id: None,
        assignment: None,
        assignee: None,
        post: Some(post.id.clone()),
        reason: why,
        targets,
        late_by_secs: None,
        acknowledged_at: None,
        acknowledged_by: None,
        acknowledgement_note: None,
        drill: false,
        notifications: Vec::new(),
    };
    let (send, send_to) = scope
        .policy
        .level(1)
        .map(|l| (l.send.clone(), l.send_to.clone()))
        .unwrap_or_default();
    super::notify::plan(scope, &mut alarm, &send, &send_to)?;
    scope.writes.put_alarm(&alarm)?;
    let audience = alarm.audience();
    scope.emit(
        Subject::Alarm { id: alarm.id },
        audience,
        EventBody::Alarm(AlarmEvent::Raised(Box::new(alarm))),
    )?;
    Ok(())
}
