//! `:at`: a past board shown read-only, stepped by event and minute, with
//! answers to older questions dropped, acting refused, the live model still
//! followed underneath, and `Esc` back to live.

use crossterm::event::KeyCode;
use dutyroom_proto::v1 as pb;

use super::super::app::{App, AppEvent, Effect, Mode};
use super::super::i18n::Lang;
use super::{NOW, app, command, key, screen, snapshot, ts};

fn replays(effects: &[Effect]) -> Vec<pb::ReplayBoardRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Replay(request) => Some(request.clone()),
            _ => None,
        })
        .collect()
}

/// The board at 03:00: the fire (as it stood, just dispatched, its
/// sign-for clock running) and a leak that was closed since.
fn then() -> pb::ReplayBoardReply {
    let live = snapshot().incidents;
    let mut fire = live[0].clone();
    fire.status = pb::IncidentStatus::Dispatched as i32;
    fire.escalation_level = 0;
    let mut gone = live[1].clone();
    gone.id = 77;
    gone.number = "20261123-0077".into();
    gone.summary = "地下车库进水".into();
    // Everything three hours earlier than the live snapshot's.
    let earlier = |t: &mut Option<prost_types::Timestamp>| {
        if let Some(t) = t.as_mut() {
            t.seconds -= 3 * 3600;
        }
    };
    for incident in [&mut fire, &mut gone] {
        earlier(&mut incident.created_at);
        for clock in &mut incident.clocks {
            earlier(&mut clock.started_at);
            earlier(&mut clock.due);
            earlier(&mut clock.next_alarm_at);
        }
    }
    pb::ReplayBoardReply {
        alarmed: vec!["20261123-0077".into()],
        at: ts(NOW - 3 * 3600),
        seq: 1234,
        incidents: vec![fire, gone],
        previous_seq: 1230,
        next_seq: 1240,
        head_seq: 5000,
        ..Default::default()
    }
}

fn replaying(app: &mut App) -> pb::ReplayBoardRequest {
    let effects = command(app, "at 18:00");
    let asked = replays(&effects);
    assert_eq!(asked.len(), 1, "{effects:?}");
    assert_eq!(asked[0].at, "18:00");
    app.update(AppEvent::Replayed(asked[0].clone(), Ok(then())));
    asked[0].clone()
}

#[test]
fn the_past_board_replaces_the_live_one_marked_and_read_only() {
    let mut app = app(Lang::Zh);
    let live = app.board.clone();
    replaying(&mut app);
    assert_ne!(app.board, live);
    assert!(app.board.contains(&77));
    let text = screen(&app, 80, 24);
    let flat = text.replace(' ', "");
    assert!(flat.contains("回放2026-11-2318:00:00"), "{text}");
    assert!(flat.contains("记录1234"), "{text}");
    assert!(text.contains("地下车库进水"), "{text}");
    // The alarm waiting then is marked; the one waiting now on 0001 is not.
    assert!(text.contains("! 地下车库进水"), "{text}");
    assert!(!text.contains("! 居民楼"), "{text}");

    // Acting is refused, and says why; nothing is sent or opened.
    for code in [KeyCode::Char('s'), KeyCode::Char('n'), KeyCode::Char('R')] {
        let effects = key(&mut app, code);
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::Rpc(_) | Effect::Queue(_))),
            "{code:?}: {effects:?}"
        );
        assert!(matches!(app.mode, Mode::Board), "{code:?}: {:?}", app.mode);
        assert!(screen(&app, 80, 24).contains("回放中只读"), "{code:?}");
    }
    // Looking is fine: the detail shows the incident as it stood.
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Detail));
    assert_eq!(
        app.selection().map(|i| i.status),
        Some(pb::IncidentStatus::Dispatched as i32)
    );
    key(&mut app, KeyCode::Esc);
    assert!(
        matches!(app.mode, Mode::Board),
        "Esc leaves the detail first"
    );
    assert!(app.replay.is_some());
    key(&mut app, KeyCode::Esc);
    assert!(app.replay.is_none(), "a second Esc is back to live");
    assert_eq!(app.board, live);
    assert!(!screen(&app, 80, 24).contains("回放"));
}

#[test]
fn steps_go_by_event_and_minute_and_older_answers_are_dropped() {
    let mut app = app(Lang::Zh);
    replaying(&mut app);
    let back = replays(&key(&mut app, KeyCode::Left));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].seq, 1230);
    let minute = replays(&key(&mut app, KeyCode::Char(',')));
    assert_eq!(minute[0].at, "2026-11-23T09:59:00Z");
    // The answer to the step back comes last of all: dropped.
    let mut stale = then();
    stale.seq = 1230;
    app.update(AppEvent::Replayed(back[0].clone(), Ok(stale)));
    assert!(screen(&app, 80, 24).replace(' ', "").contains("记录1234"));
    assert!(screen(&app, 80, 24).contains("正在回放"));
    let mut current = then();
    current.seq = 1199;
    current.at = ts(NOW - 3 * 3600 - 60);
    app.update(AppEvent::Replayed(minute[0].clone(), Ok(current)));
    let flat = screen(&app, 80, 24).replace(' ', "");
    assert!(
        flat.contains("17:59:00") && flat.contains("记录1199"),
        "{flat}"
    );
    // A minute on past now is the live board: said, nothing asked.
    let mut latest = then();
    latest.at = ts(NOW - 30);
    latest.next_seq = 0;
    let asked = replays(&key(&mut app, KeyCode::Char('.')));
    app.update(AppEvent::Replayed(asked[0].clone(), Ok(latest)));
    assert!(replays(&key(&mut app, KeyCode::Char('.'))).is_empty());
    assert!(replays(&key(&mut app, KeyCode::Right)).is_empty());
    assert!(screen(&app, 80, 24).contains("已到最新"));
    // Back one event from there.
    let on = replays(&key(&mut app, KeyCode::Left));
    assert_eq!(on[0].seq, 1230);
}

#[test]
fn the_live_model_keeps_following_dutyd_underneath() {
    let mut app = app(Lang::Zh);
    replaying(&mut app);
    let mut fresh = snapshot().incidents[0].clone();
    fresh.id = 90;
    fresh.number = "20261123-0090".into();
    fresh.summary = "新来电：燃气泄漏".into();
    app.update(AppEvent::Watch(Box::new(pb::Event {
        seq: 9_000,
        kind: "incident.created".into(),
        subject_kind: "incident".into(),
        subject_id: fresh.number.clone(),
        body: Some(pb::event::Body::IncidentCreated(pb::IncidentCreated {
            incident: Some(fresh),
        })),
        ..Default::default()
    })));
    assert!(app.model.incidents.contains_key(&90), "live model follows");
    assert!(!app.board.contains(&90), "the replay stays as it was");
    key(&mut app, KeyCode::Esc);
    assert!(app.board.contains(&90), "and the live board has it");
}

#[test]
fn a_first_question_refused_goes_back_to_live_with_why() {
    let mut app = app(Lang::Zh);
    let asked = replays(&command(&mut app, "at 2099-01-01 00:00"));
    app.update(AppEvent::Replayed(
        asked[0].clone(),
        Err("at: 2099-01-01 00:00 is in the future".into()),
    ));
    assert!(app.replay.is_none());
    assert!(screen(&app, 80, 24).contains("回放失败"));
}

#[test]
fn replayed_board_80x24_zh() {
    let mut app = app(Lang::Zh);
    replaying(&mut app);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn an_incident_closed_since_still_opens_as_it_stood() {
    let mut app = app(Lang::Zh);
    replaying(&mut app);
    assert!(
        !app.model.incidents.contains_key(&77),
        "not on the live board"
    );
    while app.selected != Some(77) {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Detail), "{}", screen(&app, 80, 24));
    assert_eq!(app.selection().map(|i| i.id), Some(77));
    assert!(screen(&app, 80, 24).contains("地下车库进水"));
}

#[test]
fn steps_pressed_while_one_is_on_its_way_all_count() {
    let mut app = app(Lang::Zh);
    replaying(&mut app);
    let first = replays(&key(&mut app, KeyCode::Right));
    assert_eq!(first.len(), 1);
    // Held down: two more presses before the answer.
    assert!(replays(&key(&mut app, KeyCode::Right)).is_empty());
    assert!(replays(&key(&mut app, KeyCode::Right)).is_empty());
    let mut answer = then();
    answer.seq = 1240;
    answer.next_seq = 1250;
    let onward = replays(&app.update(AppEvent::Replayed(first[0].clone(), Ok(answer))));
    assert_eq!(onward.len(), 1);
    assert_eq!(
        onward[0].seq, 1250,
        "the next press goes on from the answer"
    );
    let mut answer = then();
    answer.seq = 1250;
    answer.next_seq = 1260;
    let last = replays(&app.update(AppEvent::Replayed(onward[0].clone(), Ok(answer))));
    assert_eq!(last[0].seq, 1260);
    let mut answer = then();
    answer.seq = 1260;
    answer.next_seq = 1270;
    let done = app.update(AppEvent::Replayed(last[0].clone(), Ok(answer)));
    assert!(replays(&done).is_empty(), "three presses, three steps");
    assert!(screen(&app, 80, 24).replace(' ', "").contains("记录1260"));
}

#[test]
fn a_filter_set_in_the_past_is_not_left_on_the_live_board() {
    let mut app = app(Lang::Zh);
    let live = app.board.clone();
    replaying(&mut app);
    key(&mut app, KeyCode::Char('/'));
    for c in "0077".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.board, vec![77]);
    key(&mut app, KeyCode::Esc);
    assert!(app.replay.is_none());
    assert_eq!(app.board, live, "the live board as it was, unfiltered");
}

#[test]
fn a_moment_before_anything_was_recorded_says_so() {
    let mut app = app(Lang::Zh);
    let asked = replays(&command(&mut app, "at 2020-01-01 00:00"));
    app.update(AppEvent::Replayed(
        asked[0].clone(),
        Ok(pb::ReplayBoardReply {
            at: ts(NOW - 5 * 365 * 86_400),
            head_seq: 5000,
            next_seq: 1,
            ..Default::default()
        }),
    ));
    assert!(screen(&app, 80, 24).contains("此刻之前没有任何记录"));
    // Refreshing changes nothing, so it is allowed.
    let refreshed = app.update(AppEvent::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('r'),
        crossterm::event::KeyModifiers::CONTROL,
    )));
    assert!(
        !screen(&app, 80, 24).contains("回放中只读"),
        "{refreshed:?}"
    );
}

#[test]
fn an_event_further_than_a_step_looks_says_to_go_by_minute() {
    let mut app = app(Lang::Zh);
    let asked = replays(&command(&mut app, "at 18:00"));
    let mut far = then();
    far.next_seq = 0;
    far.next_beyond = true;
    app.update(AppEvent::Replayed(asked[0].clone(), Ok(far)));
    assert!(replays(&key(&mut app, KeyCode::Right)).is_empty());
    let text = screen(&app, 80, 24);
    assert!(text.contains("相邻事件较远"), "{text}");
    assert!(!text.contains("已到最新"), "{text}");
}
