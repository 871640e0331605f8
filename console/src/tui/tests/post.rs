//! The post console under pressure (issue 11): call-in by name with each
//! unit on its own, send-backs leave the board, the new order is the one
//! `s` signs, and help says what each key records.

use crossterm::event::KeyCode;
use dutyroom_proto::v1 as pb;

use super::super::app::{App, AppEvent, Effect, Mode, Rpc};
use super::super::i18n::Lang;
use super::{NOW, assignment, command, key, post_app, screen, ts};

fn with_water(app: &mut App) {
    app.model.units.insert(
        "water".into(),
        pb::Unit {
            id: "water".into(),
            name: "城区供水公司".into(),
            tier: 2,
            ..Default::default()
        },
    );
}

fn called_in(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Queue(Rpc::CallIn(r)) => r.units.join(","),
            other => panic!("not a queued call-in: {other:?}"),
        })
        .collect()
}

#[test]
fn call_in_picks_units_by_chinese_name_or_pinyin_each_on_its_own() {
    let mut app = post_app(Lang::Zh);
    with_water(&mut app);
    key(&mut app, KeyCode::Char('i'));
    assert!(matches!(&app.mode, Mode::Picker(p) if p.call_in));
    for c in "xf".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    for c in "供水".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let shown = screen(&app, 80, 24);
    assert!(
        shown.contains("区消防救援大队"),
        "the chosen unit is listed: {shown}"
    );
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(called_in(&effects), vec!["fire", "water"]);
    // On the command line too, by pinyin; an unknown word sends nothing.
    assert!(command(&mut app, "callin 0001 gs bogus").is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("bogus"))
    );
    let effects = command(&mut app, "callin 0001 gs xf");
    assert_eq!(called_in(&effects), vec!["water", "fire"]);
}

/// Xinhua sends its order on `number` back.
fn sent_back_by_xinhua(seq: u64, number: &str) -> AppEvent {
    let mut refused = assignment(
        1,
        pb::AssigneeKind::Post,
        "xinhua",
        true,
        pb::AssignmentState::Refused,
    );
    refused.ended_at = ts(NOW);
    AppEvent::Watch(Box::new(pb::Event {
        seq,
        kind: "incident.refused".into(),
        subject_kind: "incident".into(),
        subject_id: number.into(),
        body: Some(pb::event::Body::AssignmentChanged(pb::AssignmentChanged {
            assignment: Some(refused),
            ..Default::default()
        })),
        ..Default::default()
    }))
}

#[test]
fn an_order_the_post_sent_back_leaves_its_board() {
    let mut app = post_app(Lang::Zh);
    let gas = app.model.by_number("20261123-0006").map(|i| i.id);
    assert!(gas.is_some_and(|id| app.board.contains(&id)));
    app.update(sent_back_by_xinhua(500, "20261123-0006"));
    assert!(
        gas.is_some_and(|id| !app.board.contains(&id)),
        "gone from the board"
    );
    assert!(!screen(&app, 80, 24).contains("小区燃气味道"));
}

fn new_order(app: &mut App, number: &str, severity: pb::Severity) {
    let order = assignment(
        1,
        pb::AssigneeKind::Post,
        "xinhua",
        true,
        pb::AssignmentState::Dispatched,
    );
    app.update(AppEvent::Watch(Box::new(pb::Event {
        seq: 600,
        kind: "incident.assigned".into(),
        subject_kind: "incident".into(),
        subject_id: number.into(),
        body: Some(pb::event::Body::AssignmentChanged(pb::AssignmentChanged {
            assignment: Some(order.clone()),
            ..Default::default()
        })),
        incident_state: Some(pb::IncidentState {
            status: pb::IncidentStatus::Dispatched as i32,
            ..Default::default()
        }),
        ..Default::default()
    })));
    app.update(AppEvent::Fetched(Box::new(pb::Incident {
        id: 9,
        number: number.into(),
        status: pb::IncidentStatus::Dispatched as i32,
        severity: severity as i32,
        summary: "新到派单".into(),
        assignments: vec![order],
        created_at: ts(NOW),
        ..Default::default()
    })));
}

#[test]
fn a_new_order_takes_the_selection_unless_the_post_is_typing() {
    let mut app = post_app(Lang::Zh);
    new_order(&mut app, "20261123-0009", pb::Severity::Iv);
    assert_eq!(
        app.selection().map(|i| i.number.as_str()),
        Some("20261123-0009")
    );
    // The selection moved by itself: the first `s` (maybe meant for the row
    // that was there) is refused, saying which order is selected now.
    assert!(key(&mut app, KeyCode::Char('s')).is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("0009"))
    );
    let effects = key(&mut app, KeyCode::Char('s'));
    assert!(
        matches!(effects.as_slice(), [Effect::Queue(Rpc::Sign(r))] if r.incident == "20261123-0009"),
        "{effects:?}"
    );
    // Typing a note on 0001 when another order arrives: the note stays on
    // 0001 and the selection does not jump.
    let mut app = post_app(Lang::Zh);
    app.selected = app.model.by_number("20261123-0001").map(|i| i.id);
    key(&mut app, KeyCode::Char('m'));
    new_order(&mut app, "20261123-0009", pb::Severity::Iv);
    assert_eq!(
        app.selection().map(|i| i.number.as_str()),
        Some("20261123-0001")
    );
    for c in "已联系".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Queue(Rpc::Note(n))] if n.incident == "20261123-0001"),
        "{effects:?}"
    );
}

#[test]
fn a_posts_help_says_what_its_keys_record() {
    let mut app = post_app(Lang::Zh);
    key(&mut app, KeyCode::Char('?'));
    let help = screen(&app, 100, 40);
    assert!(help.contains("签收本指挥部的派单"), "{help}");
    assert!(
        !help.contains("代为签收"),
        "not the centre's wording: {help}"
    );
}

#[test]
fn a_sent_back_order_is_not_counted_in_the_posts_strip() {
    let mut app = post_app(Lang::Zh);
    let open_before = app.situation.open;
    app.update(sent_back_by_xinhua(700, "20261123-0006"));
    assert_eq!(app.situation.open, open_before - 1);
    assert_eq!(app.situation.open, app.board.len());
}

#[test]
fn with_nothing_else_selected_a_new_order_is_signed_at_once() {
    let mut app = post_app(Lang::Zh);
    app.selected = None;
    app.model.incidents.clear();
    app.rebuild();
    new_order(&mut app, "20261123-0009", pb::Severity::Iv);
    let effects = key(&mut app, KeyCode::Char('s'));
    assert!(
        matches!(effects.as_slice(), [Effect::Queue(Rpc::Sign(r))] if r.incident == "20261123-0009"),
        "{effects:?}"
    );
}
