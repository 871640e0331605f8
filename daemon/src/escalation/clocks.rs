//! Clocks: the deadlines running on an incident, planned from the policy, and
//! how a clock climbs the ladder when it is missed. Pure: no I/O, `now` given.
//!
//! An incident's clocks are re-planned after every change: each active
//! assignment that is dispatched has a sign-for clock; each that is not yet
//! on scene has an arrival clock ("linked but not moving" is a signed-for
//! assignment still without an arrival); an open incident has a resolution
//! clock. A clock that already raised alarms keeps its place on the ladder.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::escalation::policy::{DeadlineKind, Policy, Subject};
use crate::incidents::model::{AssigneeRef, AssignmentState, Incident, Phase};

/// Which deadline a clock counts down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClockKind {
    /// The assignee must sign for the order (签收; 报到 for a called-in unit).
    SignFor,
    /// The assignee must arrive on scene.
    Arrive,
    /// The incident must be resolved.
    Resolve,
}

impl ClockKind {
    /// Stable one-byte code for keys.
    pub fn code(self) -> u8 {
        match self {
            ClockKind::SignFor => 1,
            ClockKind::Arrive => 2,
            ClockKind::Resolve => 3,
        }
    }

    /// Words for alarm reasons.
    pub fn describe(self) -> &'static str {
        match self {
            ClockKind::SignFor => "sign-for",
            ClockKind::Arrive => "arrival",
            ClockKind::Resolve => "resolution",
        }
    }
}

/// One running deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// What it counts down to.
    pub kind: ClockKind,
    /// The assignment it belongs to (none for resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<u32>,
    /// When it started (dispatch, intake or reopening).
    pub started_at: Timestamp,
    /// The deadline.
    pub due: Timestamp,
    /// Alarms raised so far (its level on the ladder).
    pub alarms: u8,
    /// When the next alarm fires, if the ladder goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_alarm: Option<Timestamp>,
    /// The policy version its deadline came from (0: the shipped defaults).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub policy: u64,
    /// What its deadline depended on besides the policy (category,
    /// severity, post, emergency mode, tier), as [`Subject::basis`]; 0 for
    /// a clock stored before it was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub basis: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Clock {
    /// Same clock (kind and assignment), whatever its times.
    pub fn same(&self, other: &Clock) -> bool {
        self.kind == other.kind && self.assignment == other.assignment
    }
}

/// What planning needs to know beyond the incident.
pub struct PlanContext<'a> {
    /// The incident's post (territorial, else its lead post).
    pub post: Option<&'a str>,
    /// Is that post in emergency mode?
    pub emergency: bool,
    /// A unit's tier (posts count as tier 1).
    pub tier_of: &'a dyn Fn(&AssigneeRef) -> u8,
}

/// The post whose mode and rules apply to an incident: its territorial post,
/// else the post that leads it.
pub fn incident_post(incident: &Incident) -> Option<&str> {
    incident.territorial_post.as_deref().or_else(|| {
        incident
            .active_lead()
            .filter(|lead| lead.assignee.kind == crate::incidents::model::AssigneeKind::Post)
            .map(|lead| lead.assignee.id.as_str())
    })
}

/// The clocks `incident` should have now, keeping the ladder progress of
/// the clocks it has.
pub fn plan(incident: &Incident, policy: &Policy, context: &PlanContext<'_>) -> Vec<Clock> {
    if incident.phase != Phase::Open {
        return Vec::new();
    }
    let subject = |tier: u8| Subject {
        category: &incident.intake.category,
        severity: incident.intake.severity,
        post: context.post,
        emergency: context.emergency,
        tier,
    };
    let mut planned = Vec::new();
    for assignment in incident.assignments.iter().filter(|a| a.state.is_active()) {
        let tier = (context.tier_of)(&assignment.assignee);
        let start = assignment.dispatched_at;
        if assignment.state == AssignmentState::Dispatched {
            planned.push(planned_clock(
                ClockKind::SignFor,
                Some(assignment.id),
                start,
                policy,
                &subject(tier),
            ));
        }
        if assignment.state != AssignmentState::OnScene {
            planned.push(planned_clock(
                ClockKind::Arrive,
                Some(assignment.id),
                start,
                policy,
                &subject(tier),
            ));
        }
    }
    let opened = incident.reopened_at.unwrap_or(incident.created_at);
    planned.push(planned_clock(
        ClockKind::Resolve,
        None,
        opened,
        policy,
        &subject(1),
    ));
    for clock in &mut planned {
        let Some(previous) = incident.clocks.iter().find(|c| c.same(clock)) else {
            continue;
        };
        // A clock keeps the deadline of the policy it started under: a new
        // policy applies to clocks that start after it. When what the
        // deadline depends on changes (a raised severity, emergency mode,
        // another category) it is planned again, under the policy in force.
        let only_the_policy_changed = previous.policy != clock.policy
            && previous.started_at == clock.started_at
            && previous.basis != 0
            && previous.basis == clock.basis;
        if only_the_policy_changed {
            clock.due = previous.due;
            clock.next_alarm = previous.next_alarm;
            clock.policy = previous.policy;
        }
        if previous.alarms > 0 {
            clock.alarms = previous.alarms;
            clock.next_alarm = previous.next_alarm;
        }
    }
    planned
}

/// A new clock of `kind` for `subject` under `policy`.
fn planned_clock(
    kind: ClockKind,
    assignment: Option<u32>,
    start: Timestamp,
    policy: &Policy,
    subject: &Subject<'_>,
) -> Clock {
    let deadline = match kind {
        ClockKind::SignFor => DeadlineKind::SignFor,
        ClockKind::Arrive => DeadlineKind::Arrive,
        ClockKind::Resolve => DeadlineKind::Resolve,
    };
    Clock {
        policy: policy.version,
        basis: subject.basis(),
        ..fresh(kind, assignment, start, policy.deadline(deadline, subject))
    }
}

fn fresh(
    kind: ClockKind,
    assignment: Option<u32>,
    start: Timestamp,
    length: SignedDuration,
) -> Clock {
    let due = start.saturating_add(length).unwrap_or(start);
    Clock {
        kind,
        assignment,
        started_at: start,
        due,
        alarms: 0,
        next_alarm: Some(due),
        policy: 0,
        basis: 0,
    }
}

/// One alarm a clock raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// Its level (1-based; past the ladder: a repeat of the last level).
    pub level: u8,
    /// When it was meant to fire.
    pub scheduled: Timestamp,
    /// How late it fires, when noticeably so (the daemon was down, say).
    pub late_by: Option<SignedDuration>,
    /// When the next one follows, if the ladder goes on.
    pub next_alarm: Option<Timestamp>,
}

/// Lateness below this is scheduling noise, not worth a "late" mark.
pub const LATE_AFTER: SignedDuration = SignedDuration::from_secs(2);

/// The alarm `clock` raises at `now`, if it is due. Levels missed while the
/// daemon was down fire one after another (each marked late); repeats past
/// the ladder are not replayed, the next one is counted from `now`.
pub fn fire(clock: &Clock, policy: &Policy, now: Timestamp) -> Option<Firing> {
    let scheduled = clock.next_alarm?;
    if scheduled > now {
        return None;
    }
    let level = clock.alarms.saturating_add(1);
    policy.level(level)?;
    let late = now.duration_since(scheduled);
    let next_alarm = policy.next_after(level).map(|after| {
        let next = scheduled.saturating_add(after).unwrap_or(scheduled);
        if next <= now && usize::from(level) >= policy.ladder.len() {
            now.saturating_add(after).unwrap_or(now)
        } else {
            next
        }
    });
    Some(Firing {
        level,
        scheduled,
        late_by: (late > LATE_AFTER).then_some(late),
        next_alarm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Principal;
    use crate::incidents::model::{AssignmentRole, Intake, Severity, Source};

    fn at(minutes: i64) -> Timestamp {
        let base: Timestamp = "2026-11-23T01:00:00Z".parse().expect("ts");
        base + SignedDuration::from_mins(minutes)
    }

    fn incident(severity: Severity) -> Incident {
        let intake = Intake {
            source: Source::Police110,
            caller_name: String::new(),
            caller_phone: String::new(),
            address: "新华路".into(),
            place_id: None,
            category: "fire".into(),
            severity,
            summary: "s".into(),
            tags: vec![],
            drill: false,
        };
        Incident::new(
            1,
            "20261123-0001".into(),
            intake,
            Some("xinhua".into()),
            at(0),
            &Principal::system(),
        )
    }

    fn dispatch(incident: &mut Incident, who: AssigneeRef, minutes: i64) {
        let events = incident
            .decide_assign(&who, AssignmentRole::Lead, false, at(minutes))
            .expect("assign");
        for event in events {
            incident.apply(&event, at(minutes));
        }
    }

    fn context(emergency: bool) -> PlanContext<'static> {
        PlanContext {
            post: Some("xinhua"),
            emergency,
            tier_of: &|a: &AssigneeRef| if a.id == "water" { 2 } else { 1 },
        }
    }

    #[test]
    fn a_dispatched_order_runs_sign_for_arrival_and_resolution() {
        let policy = Policy::default_policy();
        let mut incident = incident(Severity::I);
        assert_eq!(
            plan(&incident, &policy, &context(false)).len(),
            1,
            "resolution only"
        );
        dispatch(&mut incident, AssigneeRef::post("xinhua"), 2);
        let clocks = plan(&incident, &policy, &context(false));
        let kinds: Vec<_> = clocks.iter().map(|c| (c.kind, c.due)).collect();
        assert_eq!(
            kinds,
            vec![
                (ClockKind::SignFor, at(3)),
                (ClockKind::Arrive, at(7)),
                (ClockKind::Resolve, at(240)),
            ]
        );
    }

    #[test]
    fn signing_stops_the_sign_for_clock_but_not_the_arrival_one() {
        let policy = Policy::default_policy();
        let mut incident = incident(Severity::II);
        dispatch(&mut incident, AssigneeRef::post("xinhua"), 0);
        incident.clocks = plan(&incident, &policy, &context(false));
        let events = incident
            .decide_step(
                &crate::incidents::model::AssignmentSelector::Id(1),
                crate::incidents::model::AssignmentAction::SignFor,
                "",
                &Principal::system(),
                at(1),
            )
            .expect("sign");
        for event in events {
            incident.apply(&event, at(1));
        }
        let kinds: Vec<_> = plan(&incident, &policy, &context(false))
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, vec![ClockKind::Arrive, ClockKind::Resolve]);
    }

    /// Severity II: resolve within 4 h under the shipped policy; version 2
    /// says 30 min. A running clock keeps 4 h through the change, and is
    /// planned again (under version 2) only when its situation changes.
    #[test]
    fn a_new_policy_leaves_running_clocks_alone_until_their_situation_changes() {
        let shipped = Policy::default_policy();
        let mut stricter =
            crate::escalation::policy::parse(&crate::escalation::policy::DEFAULT_POLICY.replacen(
                "resolve = \"4h\"",
                "resolve = \"30m\"",
                1,
            ))
            .expect("parses");
        stricter.version = 2;
        let mut incident = incident(Severity::II);
        incident.clocks = plan(&incident, &shipped, &context(false));
        assert_eq!(incident.clocks[0].due, at(240));
        let kept = plan(&incident, &stricter, &context(false));
        assert_eq!((kept[0].due, kept[0].policy), (at(240), 0), "kept its 4 h");
        incident.clocks = kept;
        assert_eq!(plan(&incident, &stricter, &context(false))[0].due, at(240));
        // Emergency mode at the post: planned again, under the new policy.
        let emergency = plan(&incident, &stricter, &context(true));
        assert_eq!((emergency[0].due, emergency[0].policy), (at(15), 2));
        // A clock stored before clocks kept their basis follows the policy.
        incident.clocks[0].basis = 0;
        assert_eq!(plan(&incident, &stricter, &context(false))[0].due, at(30));
    }

    #[test]
    fn emergency_halves_and_tier_two_stretches() {
        let policy = Policy::default_policy();
        let mut incident = incident(Severity::II);
        dispatch(&mut incident, AssigneeRef::unit("water"), 0);
        let normal = plan(&incident, &policy, &context(false));
        let emergency = plan(&incident, &policy, &context(true));
        assert_eq!(normal[1].due, at(0) + SignedDuration::from_secs(450));
        assert_eq!(emergency[1].due, at(0) + SignedDuration::from_secs(225));
    }

    #[test]
    fn the_ladder_climbs_then_repeats_and_catches_up_after_downtime() {
        let policy = Policy::default_policy();
        let mut clock = fresh(
            ClockKind::SignFor,
            Some(1),
            at(0),
            SignedDuration::from_mins(1),
        );
        assert_eq!(fire(&clock, &policy, at(0)), None, "not yet due");
        let first = fire(&clock, &policy, at(1)).expect("due");
        assert_eq!(
            (first.level, first.late_by, first.next_alarm),
            (1, None, Some(at(6)))
        );
        clock.alarms = 1;
        clock.next_alarm = first.next_alarm;
        let second = fire(&clock, &policy, at(6)).expect("level 2");
        assert_eq!((second.level, second.next_alarm), (2, Some(at(16))));
        clock.alarms = 2;
        clock.next_alarm = second.next_alarm;
        let third = fire(&clock, &policy, at(16)).expect("level 3");
        assert_eq!((third.level, third.next_alarm), (3, Some(at(31))));
        // Down for two hours: level 4 (a repeat) fires once, late, and the
        // next repeat counts from now, not from the missed schedule.
        clock.alarms = 3;
        clock.next_alarm = third.next_alarm;
        let repeat = fire(&clock, &policy, at(151)).expect("repeat");
        assert_eq!(repeat.level, 4);
        assert_eq!(repeat.late_by, Some(SignedDuration::from_mins(120)));
        assert_eq!(repeat.next_alarm, Some(at(166)));
    }

    #[test]
    fn levels_missed_during_downtime_fire_one_after_another() {
        let policy = Policy::default_policy();
        let clock = fresh(
            ClockKind::SignFor,
            Some(1),
            at(0),
            SignedDuration::from_mins(1),
        );
        // The daemon comes back at minute 20: level 1 is late by 19 minutes
        // and level 2 is due at once too (it was meant for minute 6).
        let first = fire(&clock, &policy, at(20)).expect("due");
        assert_eq!(first.late_by, Some(SignedDuration::from_mins(19)));
        assert_eq!(first.next_alarm, Some(at(6)));
    }

    #[test]
    fn progress_survives_replanning() {
        let policy = Policy::default_policy();
        let mut incident = incident(Severity::II);
        dispatch(&mut incident, AssigneeRef::post("xinhua"), 0);
        incident.clocks = plan(&incident, &policy, &context(false));
        incident.clocks[0].alarms = 2;
        incident.clocks[0].next_alarm = Some(at(30));
        let again = plan(&incident, &policy, &context(true));
        assert_eq!(again[0].alarms, 2);
        assert_eq!(again[0].next_alarm, Some(at(30)));
        assert_eq!(
            again[0].due,
            at(0) + SignedDuration::from_secs(30),
            "tighter due"
        );
    }
}
