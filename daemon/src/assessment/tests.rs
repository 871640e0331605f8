//! One incident's life, change by change, with its measures worked out by
//! hand: dispatched at 09:01, signed for at 09:04 (deadline 09:06), on
//! scene at 09:40 (deadline 09:31, one alarm by then), resolved at 11:00
//! (deadline 09:00 + 24 h), closed with satisfaction 4; a supporting unit
//! sends its order back after two sign-for alarms.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::auth::principal::Principal;
use crate::incidents::model::{Assignment, AssignmentRole, Intake, Phase, Severity, Source};

fn at(minutes: i64) -> Timestamp {
    let nine: Timestamp = "2026-11-23T01:00:00Z".parse().expect("09:00 in Shanghai");
    nine + SignedDuration::from_mins(minutes)
}

fn intake() -> Intake {
    Intake {
        source: Source::Police110,
        caller_name: "李娜".into(),
        caller_phone: "13812345678".into(),
        address: "新华路12号".into(),
        place_id: None,
        category: "fire".into(),
        severity: Severity::III,
        summary: "居民楼三层冒烟".into(),
        tags: vec![],
        drill: false,
    }
}

fn assignment(id: u32, who: AssigneeRef, role: AssignmentRole, minutes: i64) -> Assignment {
    Assignment {
        id,
        assignee: who,
        role,
        state: AssignmentState::Dispatched,
        dispatched_at: at(minutes),
        signed_at: None,
        arrived_at: None,
        done_at: None,
        ended_at: None,
        reason: None,
        last_step_on_behalf: false,
    }
}

fn clock(kind: ClockKind, assignment: Option<u32>, started: i64, due: i64, alarms: u8) -> Clock {
    Clock {
        kind,
        assignment,
        started_at: at(started),
        due: at(due),
        alarms,
        next_alarm: None,
        policy: 0,
        basis: 0,
    }
}

fn xinhua() -> AssigneeRef {
    AssigneeRef::post("xinhua")
}

fn fire() -> AssigneeRef {
    AssigneeRef::unit("fire")
}

/// Dispatched at 09:01 to 新华 (lead) and the fire brigade (support).
fn dispatched() -> Incident {
    let mut incident = Incident::new(
        1,
        "20261123-0001".into(),
        intake(),
        Some("xinhua".into()),
        at(0),
        &Principal::system(),
    );
    incident.assignments = vec![
        assignment(1, xinhua(), AssignmentRole::Lead, 1),
        assignment(2, fire(), AssignmentRole::Support, 1),
    ];
    incident.clocks = vec![
        clock(ClockKind::SignFor, Some(1), 1, 6, 0),
        clock(ClockKind::Arrive, Some(1), 1, 31, 0),
        clock(ClockKind::SignFor, Some(2), 1, 8, 2),
        clock(ClockKind::Resolve, None, 0, 24 * 60, 0),
    ];
    incident
}

#[test]
fn a_creation_is_one_incident_received_and_its_orders() {
    assert_eq!(
        observe(None, &dispatched()),
        vec![
            Observation::Created,
            Observation::Assigned { assignee: xinhua() },
            Observation::Assigned { assignee: fire() },
        ]
    );
}

/// The whole life above, added into its slice's day and 新华's: one
/// incident, two orders (one sent back), sign-for 180 s in time, arrival
/// 2,340 s late, resolution 7,200 s in time, the ladder at level 2 (so
/// levels 1 and 2 reached), one callback scoring 4; the arrival was
/// reported from a skewed post clock.
#[test]
fn a_slice_day_and_an_assignee_day_add_up_one_life() {
    let mut slice = SliceDay::default();
    let mut post = AssigneeDay::default();
    let life = [
        (Observation::Created, false),
        (Observation::Assigned { assignee: xinhua() }, false),
        (Observation::Assigned { assignee: fire() }, false),
        (
            Observation::Done {
                measure: Measure::SignFor,
                assignee: Some(xinhua()),
                secs: 180,
                within: Some(true),
                alarms: 0,
            },
            false,
        ),
        (
            Observation::SentBack {
                assignee: fire(),
                reason: "不属于本单位职责".into(),
            },
            false,
        ),
        (
            Observation::Done {
                measure: Measure::Arrive,
                assignee: Some(xinhua()),
                secs: 2_340,
                within: Some(false),
                alarms: 1,
            },
            true,
        ),
        (Observation::Escalated { from: 0, to: 2 }, false),
        (
            Observation::Done {
                measure: Measure::Resolve,
                assignee: Some(xinhua()),
                secs: 7_200,
                within: Some(true),
                alarms: 0,
            },
            false,
        ),
        (
            Observation::Callback {
                satisfaction: Some(4),
            },
            false,
        ),
    ];
    for (observation, skewed) in &life {
        slice.add(observation, *skewed);
        if observation.assignee() == Some(&xinhua()) {
            post.add(observation, *skewed);
        }
    }
    assert_eq!((slice.created, slice.orders, slice.sent_back), (1, 2, 1));
    assert_eq!(slice.clocks.sign_for.times.max(), 180);
    assert_eq!(
        (slice.clocks.arrive.within, slice.clocks.arrive.overdue),
        (0, 1)
    );
    assert_eq!(slice.clocks.resolve.times.percentile(50.0), Some(7_200));
    assert_eq!(
        slice.reached,
        BTreeMap::from([(1, 1), (2, 1)]),
        "a jump from 0 to 2 passes level 1"
    );
    assert_eq!(slice.callbacks, 1);
    assert_eq!(slice.satisfaction, BTreeMap::from([(4, 1)]));
    assert_eq!(slice.skewed, 1);
    assert_eq!(
        (post.orders, post.sent_back_total(), post.skewed),
        (1, 0, 1)
    );
    assert_eq!(post.clocks.resolve.times.count(), 1);
    // Two days of it are the sum of each.
    let mut two = slice.clone();
    two.merge(&slice);
    assert_eq!((two.created, two.callbacks), (2, 2));
    assert_eq!(two.reached.get(&2), Some(&2));
    assert_eq!(two.clocks.arrive.times.count(), 2);
}

#[test]
fn a_sign_for_in_time_is_three_minutes_within_its_deadline() {
    let before = dispatched();
    let mut after = before.clone();
    after.assignments[0].state = AssignmentState::SignedFor;
    after.assignments[0].signed_at = Some(at(4));
    after.clocks.remove(0);
    assert_eq!(
        observe(Some(&before), &after),
        vec![Observation::Done {
            measure: Measure::SignFor,
            assignee: Some(xinhua()),
            secs: 180,
            within: Some(true),
            alarms: 0,
        }]
    );
}

#[test]
fn a_late_arrival_is_counted_late_by_the_deadline_on_its_clock() {
    let mut before = dispatched();
    before.assignments[0].state = AssignmentState::SignedFor;
    before.assignments[0].signed_at = Some(at(4));
    before.clocks.remove(0);
    // The arrival clock had raised one alarm by 09:40.
    before.clocks[0].alarms = 1;
    let mut after = before.clone();
    after.assignments[0].state = AssignmentState::OnScene;
    after.assignments[0].arrived_at = Some(at(40));
    after.clocks.remove(0);
    after.escalation_level = 1;
    assert_eq!(
        observe(Some(&before), &after),
        vec![
            Observation::Done {
                measure: Measure::Arrive,
                assignee: Some(xinhua()),
                secs: 39 * 60,
                within: Some(false),
                alarms: 1,
            },
            Observation::Escalated { from: 0, to: 1 },
        ]
    );
}

#[test]
fn a_send_back_is_one_send_back_and_an_abandoned_overdue_clock() {
    let before = dispatched();
    let mut after = before.clone();
    after.assignments[1].state = AssignmentState::Refused;
    after.assignments[1].ended_at = Some(at(12));
    after.assignments[1].reason = Some("不属于本单位职责".into());
    after.clocks.remove(2);
    let seen = observe(Some(&before), &after);
    assert_eq!(
        seen,
        vec![
            Observation::Abandoned {
                measure: Measure::SignFor,
                assignee: Some(fire()),
                alarms: 2,
            },
            Observation::SentBack {
                assignee: fire(),
                reason: "不属于本单位职责".into(),
            },
        ]
    );
    // The same state again (a note, say) observes nothing more.
    assert!(observe(Some(&after), &after).is_empty());
}

#[test]
fn resolving_times_the_incident_for_its_lead_and_closing_gives_the_callback() {
    let mut before = dispatched();
    before.assignments[0].state = AssignmentState::OnScene;
    before.assignments[0].signed_at = Some(at(4));
    before.assignments[0].arrived_at = Some(at(40));
    before.clocks = vec![clock(ClockKind::Resolve, None, 0, 24 * 60, 0)];
    let mut resolved = before.clone();
    resolved.phase = Phase::Resolved;
    resolved.resolved_at = Some(at(120));
    resolved.assignments[0].state = AssignmentState::Done;
    resolved.assignments[0].done_at = Some(at(120));
    resolved.clocks.clear();
    assert_eq!(
        observe(Some(&before), &resolved),
        vec![Observation::Done {
            measure: Measure::Resolve,
            assignee: Some(xinhua()),
            secs: 2 * 3600,
            within: Some(true),
            alarms: 0,
        }]
    );
    let mut closed = resolved.clone();
    closed.phase = Phase::Closed;
    closed.closed_at = Some(at(150));
    closed.satisfaction = Some(4);
    closed.callback_result = Some("群众满意".into());
    assert_eq!(
        observe(Some(&resolved), &closed),
        vec![Observation::Callback {
            satisfaction: Some(4)
        }]
    );
}

#[test]
fn a_cancelled_incident_abandons_its_clocks_without_timing_them() {
    let before = dispatched();
    let mut after = before.clone();
    after.phase = Phase::Cancelled;
    for a in &mut after.assignments {
        a.state = AssignmentState::Withdrawn;
        a.ended_at = Some(at(3));
    }
    after.clocks.clear();
    let seen = observe(Some(&before), &after);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen.iter()
            .all(|o| matches!(o, Observation::Abandoned { .. })),
        "{seen:?}"
    );
}
