//! Every transition of the incident state machine, valid and invalid, and a
//! property test over random command sequences.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::auth::principal::{Principal, Role};

fn at(minutes: i64) -> Timestamp {
    let base: Timestamp = "2026-11-23T01:00:00Z".parse().expect("timestamp");
    base + SignedDuration::from_mins(minutes)
}

fn officer() -> Principal {
    Principal {
        token_id: "00000001".into(),
        name: "王伟".into(),
        role: Role::Officer,
    }
}

fn post_principal(id: &str) -> Principal {
    Principal {
        token_id: "00000002".into(),
        name: "新华街道".into(),
        role: Role::Post(id.into()),
    }
}

fn intake() -> Intake {
    Intake {
        source: Source::Police110,
        caller_name: "李娜".into(),
        caller_phone: "13812345678".into(),
        address: "新华路12号".into(),
        place_id: None,
        category: "fire".into(),
        severity: Severity::II,
        summary: "居民楼三层冒烟".into(),
        tags: vec![],
        drill: false,
    }
}

fn fresh() -> Incident {
    Incident::new(1, "20261123-0001".into(), intake(), None, at(0), &officer())
}

/// Applies the events a decision produced, as the engine does.
macro_rules! run {
    ($incident:ident, $events:expr, $minutes:expr $(,)?) => {{
        let events: Result<Vec<IncidentEvent>> = $events;
        for event in events.expect("allowed") {
            $incident.apply(&event, at($minutes));
        }
    }};
}

fn xinhua() -> AssigneeRef {
    AssigneeRef::post("xinhua")
}

fn fire() -> AssigneeRef {
    AssigneeRef::unit("fire")
}

fn step(
    incident: &Incident,
    who: &AssigneeRef,
    action: AssignmentAction,
    by: &Principal,
    minutes: i64,
) -> Result<Vec<IncidentEvent>> {
    incident.decide_step(
        &AssignmentSelector::Assignee(who.clone()),
        action,
        "",
        by,
        at(minutes),
    )
}

fn dispatched() -> Incident {
    let mut incident = fresh();
    let events = incident.decide_assign(&xinhua(), AssignmentRole::Lead, false, at(1));
    run!(incident, events, 1);
    incident
}

fn precondition(result: Result<Vec<IncidentEvent>>) -> String {
    match result {
        Err(Error::FailedPrecondition(message)) => message,
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
}

#[test]
fn a_new_incident_is_new_and_open() {
    let incident = fresh();
    assert_eq!(incident.status(), Status::New);
    assert!(incident.status().is_open());
    assert_eq!(incident.day(), "20261123");
}

#[test]
fn the_full_happy_path_derives_each_status() {
    let mut incident = dispatched();
    assert_eq!(incident.status(), Status::Dispatched);
    let by_post = post_principal("xinhua");
    run!(
        incident,
        step(&incident, &xinhua(), AssignmentAction::SignFor, &by_post, 2),
        2
    );
    assert_eq!(incident.status(), Status::Signed);
    assert_eq!(incident.assignments[0].signed_at, Some(at(2)));
    assert!(!incident.assignments[0].last_step_on_behalf);
    run!(
        incident,
        step(&incident, &xinhua(), AssignmentAction::Arrive, &by_post, 7),
        7
    );
    assert_eq!(incident.status(), Status::OnScene);
    assert_eq!(incident.assignments[0].arrived_at, Some(at(7)));
    run!(incident, incident.decide_resolve("火已扑灭"), 30);
    assert_eq!(incident.status(), Status::Resolved);
    assert_eq!(incident.assignments[0].state, AssignmentState::Done);
    assert_eq!(incident.assignments[0].done_at, Some(at(30)));
    run!(incident, incident.decide_close("回访满意", Some(5)), 60);
    assert_eq!(incident.status(), Status::Closed);
    assert_eq!(incident.satisfaction, Some(5));
    assert_eq!(incident.updated_at, at(60));
}

#[test]
fn an_officer_signing_for_a_post_is_recorded_as_on_behalf() {
    let mut incident = dispatched();
    let events = step(
        &incident,
        &xinhua(),
        AssignmentAction::SignFor,
        &officer(),
        2,
    );
    let Ok([IncidentEvent::Assignment { on_behalf, .. }]) = events.as_deref() else {
        panic!("one assignment event expected: {events:?}");
    };
    assert!(on_behalf);
    run!(incident, events, 2);
    assert!(incident.assignments[0].last_step_on_behalf);
}

#[test]
fn arriving_without_signing_counts_as_both() {
    let mut incident = dispatched();
    run!(
        incident,
        step(
            &incident,
            &xinhua(),
            AssignmentAction::Arrive,
            &officer(),
            5
        ),
        5
    );
    let lead = &incident.assignments[0];
    assert_eq!(lead.state, AssignmentState::OnScene);
    assert_eq!(lead.signed_at, Some(at(5)));
}

#[test]
fn signing_twice_says_where_the_assignment_is() {
    let mut incident = dispatched();
    run!(
        incident,
        step(
            &incident,
            &xinhua(),
            AssignmentAction::SignFor,
            &officer(),
            2
        ),
        2
    );
    let message = precondition(step(
        &incident,
        &xinhua(),
        AssignmentAction::SignFor,
        &officer(),
        3,
    ));
    assert!(message.contains("is signed for"), "{message}");
    assert!(
        message.contains("only sign for an assignment that is dispatched"),
        "{message}"
    );
}

#[test]
fn one_active_lead_unless_replaced() {
    let mut incident = dispatched();
    let message = precondition(incident.decide_assign(
        &AssigneeRef::post("qianjin"),
        AssignmentRole::Lead,
        false,
        at(2),
    ));
    assert!(
        message.contains("already has lead post:xinhua"),
        "{message}"
    );
    let events = incident.decide_assign(
        &AssigneeRef::post("qianjin"),
        AssignmentRole::Lead,
        true,
        at(2),
    );
    run!(incident, events, 2);
    assert_eq!(incident.assignments[0].state, AssignmentState::Withdrawn);
    assert_eq!(
        incident.active_lead().map(|a| a.assignee.id.as_str()),
        Some("qianjin")
    );
}

#[test]
fn the_same_assignee_cannot_hold_two_active_assignments() {
    let incident = dispatched();
    let result = incident.decide_assign(&xinhua(), AssignmentRole::Support, false, at(2));
    assert!(matches!(result, Err(Error::AlreadyExists(_))), "{result:?}");
}

#[test]
fn supports_finish_but_the_lead_resolves() {
    let mut incident = dispatched();
    run!(
        incident,
        incident.decide_assign(&fire(), AssignmentRole::Support, false, at(2)),
        2,
    );
    let message = precondition(step(
        &incident,
        &fire(),
        AssignmentAction::Finish,
        &officer(),
        3,
    ));
    assert!(message.contains("signed for or on scene"), "{message}");
    run!(
        incident,
        step(&incident, &fire(), AssignmentAction::Arrive, &officer(), 4),
        4
    );
    run!(
        incident,
        step(&incident, &fire(), AssignmentAction::Finish, &officer(), 9),
        9
    );
    assert_eq!(incident.assignments[1].state, AssignmentState::Done);
    let message = precondition(step(
        &incident,
        &xinhua(),
        AssignmentAction::Finish,
        &officer(),
        9,
    ));
    assert!(message.contains("resolving the incident"), "{message}");
}

#[test]
fn a_refused_order_leaves_the_incident_needing_dispatch() {
    let mut incident = dispatched();
    let events = incident.decide_step(
        &AssignmentSelector::Id(1),
        AssignmentAction::Refuse,
        "不属于本辖区",
        &post_principal("xinhua"),
        at(3),
    );
    run!(incident, events, 3);
    assert_eq!(incident.assignments[0].state, AssignmentState::Refused);
    assert_eq!(
        incident.assignments[0].reason.as_deref(),
        Some("不属于本辖区")
    );
    assert_eq!(incident.status(), Status::New);
    assert!(!incident.involves(&xinhua()));
    // Once refused it cannot be signed, but it can be dispatched again.
    precondition(step(
        &incident,
        &xinhua(),
        AssignmentAction::SignFor,
        &officer(),
        4,
    ));
    run!(
        incident,
        incident.decide_assign(&xinhua(), AssignmentRole::Lead, false, at(5)),
        5,
    );
    assert_eq!(incident.assignments.len(), 2);
    assert_eq!(incident.status(), Status::Dispatched);
}

#[test]
fn on_scene_cannot_be_refused_and_done_cannot_be_withdrawn() {
    let mut incident = dispatched();
    run!(
        incident,
        step(
            &incident,
            &xinhua(),
            AssignmentAction::Arrive,
            &officer(),
            5
        ),
        5
    );
    precondition(step(
        &incident,
        &xinhua(),
        AssignmentAction::Refuse,
        &officer(),
        6,
    ));
    run!(
        incident,
        step(
            &incident,
            &xinhua(),
            AssignmentAction::Unassign,
            &officer(),
            6
        ),
        6,
    );
    assert_eq!(incident.assignments[0].state, AssignmentState::Withdrawn);
    precondition(step(
        &incident,
        &xinhua(),
        AssignmentAction::Unassign,
        &officer(),
        7,
    ));
}

#[test]
fn closed_needs_resolved_and_satisfaction_is_one_to_five() {
    let mut incident = dispatched();
    let message = precondition(incident.decide_close("ok", Some(4)));
    assert!(
        message.contains("only a resolved incident can be closed"),
        "{message}"
    );
    run!(incident, incident.decide_resolve("处理完毕"), 10);
    assert!(matches!(
        incident.decide_close("ok", Some(6)),
        Err(Error::InvalidArgument(_))
    ));
    run!(incident, incident.decide_close("无人接听", None), 11);
    assert_eq!(incident.satisfaction, None);
}

#[test]
fn nothing_but_notes_and_reopen_touches_a_closed_incident() {
    let mut incident = dispatched();
    run!(incident, incident.decide_resolve("处理完毕"), 10);
    run!(incident, incident.decide_close("满意", Some(5)), 11);
    let message =
        precondition(incident.decide_assign(&fire(), AssignmentRole::Support, false, at(12)));
    assert!(message.contains("is closed"), "{message}");
    assert!(message.contains("reopen it first"), "{message}");
    precondition(incident.decide_resolve("again"));
    precondition(incident.decide_cancel("late"));
    precondition(incident.decide_update(&IntakePatch::default(), None, ""));
    assert_eq!(
        incident.decide_note("补充记录", &officer(), at(12)).len(),
        1
    );
    run!(incident, incident.decide_reopen("群众再次来电"), 13);
    assert_eq!(incident.status(), Status::New);
    assert_eq!(incident.outcome, None);
    assert_eq!(incident.closed_at, None);
}

#[test]
fn cancel_withdraws_active_assignments() {
    let mut incident = dispatched();
    run!(incident, incident.decide_cancel("误报"), 3);
    assert_eq!(incident.status(), Status::Cancelled);
    assert_eq!(incident.assignments[0].state, AssignmentState::Withdrawn);
    assert!(
        incident.assignments[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("误报"))
    );
    precondition(incident.decide_cancel("again"));
    run!(incident, incident.decide_reopen("not a false alarm"), 4);
    assert_eq!(incident.status(), Status::New);
}

#[test]
fn merge_keeps_history_on_both_sides() {
    let mut duplicate = dispatched();
    let mut original = Incident::new(2, "20261123-0002".into(), intake(), None, at(0), &officer());
    let (on_duplicate, on_original) = duplicate.decide_merge(&original).expect("allowed");
    run!(duplicate, Ok(on_duplicate), 4);
    run!(original, Ok(on_original), 4);
    assert_eq!(duplicate.status(), Status::Merged);
    assert_eq!(duplicate.merged_into.as_deref(), Some("20261123-0002"));
    assert_eq!(duplicate.assignments[0].state, AssignmentState::Withdrawn);
    assert_eq!(original.merged_from, vec!["20261123-0001".to_owned()]);
    // A merged incident cannot be merged again, nor be a merge target.
    precondition(duplicate.decide_merge(&original).map(|(a, _)| a));
    let third = Incident::new(3, "20261123-0003".into(), intake(), None, at(0), &officer());
    let message = precondition(third.decide_merge(&duplicate).map(|(a, _)| a));
    assert!(
        message.contains("merge into 20261123-0002 instead"),
        "{message}"
    );
    // Actions on a merged incident point to the one it went into.
    let message = precondition(duplicate.decide_resolve("x"));
    assert!(
        message.contains("act on 20261123-0002 instead"),
        "{message}"
    );
    assert!(matches!(
        original.decide_merge(&original),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn updates_report_only_changed_fields_and_nothing_when_unchanged() {
    let incident = dispatched();
    let same = IntakePatch {
        address: Some(incident.intake.address.clone()),
        ..IntakePatch::default()
    };
    assert!(
        incident
            .decide_update(&same, None, "")
            .expect("ok")
            .is_empty()
    );
    let patch = IntakePatch {
        address: Some("新华路14号".into()),
        severity: Some(Severity::I),
        ..IntakePatch::default()
    };
    let events = incident
        .decide_update(&patch, None, "来电更正")
        .expect("ok");
    let [
        IncidentEvent::IntakeUpdated {
            changed, intake, ..
        },
    ] = events.as_slice()
    else {
        panic!("one update expected: {events:?}");
    };
    assert_eq!(changed, &vec!["address".to_owned(), "severity".to_owned()]);
    assert_eq!(intake.severity, Severity::I);
}

#[test]
fn phones_are_masked_in_the_middle() {
    assert_eq!(mask_phone("13812345678"), "138****5678");
    assert_eq!(mask_phone("62345678"), "****5678");
    assert_eq!(mask_phone("110"), "***");
    assert_eq!(mask_phone(""), "");
}

// --- property: any sequence of commands keeps the state consistent ----------

#[derive(Debug, Clone)]
enum Op {
    Assign(usize, bool, bool),
    Step(usize, AssignmentAction),
    Resolve,
    Close,
    Cancel,
    Reopen,
    Note,
}

fn assignees() -> [AssigneeRef; 3] {
    [xinhua(), fire(), AssigneeRef::unit("water")]
}

fn op() -> impl Strategy<Value = Op> {
    let action = prop_oneof![
        Just(AssignmentAction::SignFor),
        Just(AssignmentAction::Arrive),
        Just(AssignmentAction::Finish),
        Just(AssignmentAction::Refuse),
        Just(AssignmentAction::Unassign),
    ];
    prop_oneof![
        4 => (0..3usize, any::<bool>(), any::<bool>()).prop_map(|(a, l, r)| Op::Assign(a, l, r)),
        8 => (0..3usize, action).prop_map(|(a, s)| Op::Step(a, s)),
        1 => Just(Op::Resolve),
        1 => Just(Op::Close),
        1 => Just(Op::Cancel),
        1 => Just(Op::Reopen),
        1 => Just(Op::Note),
    ]
}

proptest! {
    #[test]
    fn any_command_sequence_keeps_status_consistent(ops in prop::collection::vec(op(), 0..40)) {
        let mut incident = fresh();
        let mut journal = vec![(IncidentEvent::Created { incident: Box::new(incident.clone()) }, at(0))];
        for (minute, op) in ops.into_iter().enumerate() {
            let now = at(minute as i64 + 1);
            let before = incident.clone();
            let decided = match op {
                Op::Assign(a, lead, replace) => incident.decide_assign(
                    &assignees()[a],
                    if lead { AssignmentRole::Lead } else { AssignmentRole::Support },
                    replace,
                    now,
                ),
                Op::Step(a, action) => incident.decide_step(
                    &AssignmentSelector::Assignee(assignees()[a].clone()),
                    action,
                    "reason",
                    &officer(),
                    now,
                ),
                Op::Resolve => incident.decide_resolve("done"),
                Op::Close => incident.decide_close("ok", Some(3)),
                Op::Cancel => incident.decide_cancel("false alarm"),
                Op::Reopen => incident.decide_reopen("again"),
                Op::Note => Ok(incident.decide_note("n", &officer(), now)),
            };
            match decided {
                Ok(events) => {
                    for event in events {
                        incident.apply(&event, now);
                        journal.push((event, now));
                    }
                }
                // A refused command changes nothing.
                Err(_) => prop_assert_eq!(&incident, &before),
            }
            // Invariants.
            let active_leads = incident.assignments.iter()
                .filter(|a| a.role == AssignmentRole::Lead && a.state.is_active()).count();
            prop_assert!(active_leads <= 1, "two active leads: {:?}", incident.assignments);
            for assignee in assignees() {
                let active = incident.assignments.iter()
                    .filter(|a| a.assignee == assignee && a.state.is_active()).count();
                prop_assert!(active <= 1);
            }
            let status = incident.status();
            let any_active = incident.assignments.iter().any(|a| a.state.is_active());
            match incident.phase {
                Phase::Open => {
                    prop_assert!(status.is_open());
                    prop_assert_eq!(status == Status::New, !any_active);
                }
                _ => {
                    prop_assert!(!status.is_open());
                    prop_assert!(!any_active, "active assignment on a {:?} incident", status);
                }
            }
            for a in &incident.assignments {
                if a.state == AssignmentState::OnScene { prop_assert!(a.signed_at.is_some()); }
                if let (Some(s), Some(r)) = (a.signed_at, a.arrived_at) { prop_assert!(s <= r); }
            }
        }
        // Replaying the journal, each event at its own time, rebuilds the state.
        let mut replayed = fresh();
        replayed.assignments.clear();
        for (event, at) in &journal {
            replayed.apply(event, *at);
        }
        prop_assert_eq!(replayed, incident);
    }
}
