//! One attention queue: alarms, send-backs and posts dropping off ring,
//! are counted, shown with who was alarmed, and keep ringing until
//! acknowledged (issue 11).

use crossterm::event::KeyCode;
use dutyroom_proto::v1 as pb;
use jiff::SignedDuration;

use super::super::app::{App, AppEvent, Effect, Mode, Panel, Rpc};
use super::super::attention::Kind;
use super::super::i18n::Lang;
use super::{NOW, app, assignment, command, key, screen};

fn tick(app: &mut App, secs: i64) -> Vec<Effect> {
    let now = app.now + SignedDuration::from_secs(secs);
    app.update(AppEvent::Tick(now))
}

fn sent_back(seq: u64) -> AppEvent {
    let mut refused = assignment(
        1,
        pb::AssigneeKind::Post,
        "xinhua",
        true,
        pb::AssignmentState::Refused,
    );
    refused.reason = "不在辖区".into();
    refused.ended_at = super::ts(NOW - 10);
    AppEvent::Watch(Box::new(pb::Event {
        seq,
        kind: "incident.refused".into(),
        subject_kind: "incident".into(),
        subject_id: "20261123-0001".into(),
        body: Some(pb::event::Body::AssignmentChanged(pb::AssignmentChanged {
            assignment: Some(refused),
            ..Default::default()
        })),
        ..Default::default()
    }))
}

fn offline(seq: u64, post: &str) -> AppEvent {
    AppEvent::Watch(Box::new(pb::Event {
        seq,
        kind: "presence.offline".into(),
        subject_kind: "presence".into(),
        subject_id: format!("post:{post}"),
        body: Some(pb::event::Body::PresenceChanged(pb::PresenceEntry {
            who: Some(pb::Assignee {
                kind: pb::AssigneeKind::Post as i32,
                id: post.into(),
                name: String::new(),
            }),
            online: false,
            last_seen: super::ts(NOW),
            ..Default::default()
        })),
        ..Default::default()
    }))
}

#[test]
fn a_send_back_rings_is_counted_and_shows_on_the_board() {
    let mut app = app(Lang::Zh);
    let before = app.attention.len();
    let effects = app.update(sent_back(200));
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("退单"))
    );
    assert_eq!(app.attention.len(), before + 1);
    assert!(
        app.attention
            .iter()
            .any(|i| i.kind == Kind::SentBack && i.what.contains("不在辖区"))
    );
    let board = screen(&app, 80, 24);
    assert!(board.contains("!退单"), "{board}");
    assert!(
        board.contains(&format!("待处理! {}", before + 1)),
        "{board}"
    );
}

#[test]
fn the_bell_repeats_until_everything_is_acknowledged_and_can_be_muted() {
    let mut app = app(Lang::Zh);
    // Only the alarm waits: 向阳 being offline was acknowledged before.
    let offline: Vec<String> = app
        .attention
        .iter()
        .filter(|i| i.kind == Kind::Offline)
        .map(|i| i.key.clone())
        .collect();
    app.seen.extend(offline);
    app.rebuild();
    assert_eq!(app.attention.len(), 1, "the snapshot's alarm");
    tick(&mut app, 1);
    assert!(!tick(&mut app, 30).is_empty(), "rings again after 30 s");
    assert!(tick(&mut app, 5).is_empty(), "not every second");
    assert!(tick(&mut app, 30).contains(&Effect::Bell));
    command(&mut app, "mute 5");
    assert!(app.muted_until.is_some());
    assert!(screen(&app, 80, 24).contains("静音至"));
    for _ in 0..8 {
        assert!(!tick(&mut app, 30).contains(&Effect::Bell), "muted");
    }
    // The mute ended (4 minutes of ticks: still muted; then it lifts).
    tick(&mut app, 120);
    assert!(app.muted_until.is_none());
    assert!(tick(&mut app, 30).contains(&Effect::Bell));
    // The alarm acknowledged in dutyd: silence.
    let mut alarm = app.model.alarms[&3].clone();
    alarm.acknowledged_at = super::ts(NOW + 600);
    app.update(AppEvent::Watch(Box::new(pb::Event {
        seq: 300,
        subject_kind: "incident".into(),
        subject_id: alarm.incident.clone(),
        body: Some(pb::event::Body::Alarm(alarm)),
        ..Default::default()
    })));
    assert!(app.attention.is_empty(), "{:?}", app.attention);
    for _ in 0..4 {
        assert!(!tick(&mut app, 30).contains(&Effect::Bell));
    }
}

#[test]
fn a_post_going_offline_rings_and_the_intake_warns_before_routing_to_it() {
    let mut app = app(Lang::Zh);
    let effects = app.update(offline(200, "xinhua"));
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("新华"))
    );
    assert!(app.attention.iter().any(|i| i.kind == Kind::Offline));
    // The board marks the offline lead.
    assert!(screen(&app, 160, 48).contains("新华✕"));
    // A call for 幸福社区 would go to 新华: the form says it is offline.
    key(&mut app, KeyCode::Char('n'));
    for c in "fire".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Tab);
    for c in "xingfu".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let form = screen(&app, 80, 24);
    assert!(form.contains("主办指挥部离线"), "{form}");
}

#[test]
fn view_five_and_the_jump_key_show_every_item_with_who_was_alarmed() {
    let mut app = app(Lang::Zh);
    if let Some(alarm) = app.model.alarms.get_mut(&3) {
        alarm.targets = vec![pb::AlarmTarget {
            target: "centre_duty_leader".into(),
            scope: String::new(),
            people: vec![pb::Contact {
                person_id: "zhang".into(),
                name: "张军".into(),
                phone: "13900000001".into(),
            }],
        }];
        alarm.kind = pb::AlarmKind::SignForOverdue as i32;
    }
    app.update(offline(200, "qianjin"));
    key(&mut app, KeyCode::Char('5'));
    assert_eq!(app.panel, Panel::Alarms);
    let shown = screen(&app, 80, 24);
    assert!(
        shown.contains("签收超时"),
        "in Chinese, from the fields: {shown}"
    );
    assert!(shown.contains("张军 13900000001"), "{shown}");
    assert!(
        shown.contains("离线"),
        "an item with no incident is listed: {shown}"
    );
    // `!` jumps: first the fire's alarm (its incident selected, the board
    // back), then the offline post; `A` acknowledges that one item.
    app.width = 80;
    key(&mut app, KeyCode::Char('!'));
    assert_eq!(
        app.selection().map(|i| i.number.as_str()),
        Some("20261123-0001")
    );
    assert_eq!(app.panel, Panel::Detail);
    key(&mut app, KeyCode::Char('!'));
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("离线"))
    );
    let focused = app.attention_focus.clone().expect("an item is focused");
    let offline = |app: &App| {
        app.attention
            .iter()
            .filter(|i| i.kind == Kind::Offline)
            .count()
    };
    let before = offline(&app);
    let effects = key(&mut app, KeyCode::Char('A'));
    assert!(
        effects.is_empty(),
        "nothing to send for a local item: {effects:?}"
    );
    assert_eq!(offline(&app), before - 1, "that one item only");
    assert!(!app.attention.iter().any(|i| i.key == focused));
    assert!(matches!(app.mode, Mode::Board));
    // The rest at once, confirmed.
    command(&mut app, "ack all");
    let effects = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Ack(a))] if a.id == 3),
        "{effects:?}"
    );
}

#[test]
fn a_roll_call_is_sent_from_the_console_and_followed() {
    let mut app = app(Lang::Zh);
    assert!(command(&mut app, "rollcall xinhua bogus").is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("bogus"))
    );
    assert!(command(&mut app, "rollcall").is_empty(), "asked first");
    let effects = key(&mut app, KeyCode::Char('y'));
    let [Effect::Rpc(Rpc::RollCall(request))] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert!(request.posts.is_empty(), "every post");
    assert_eq!(app.panel, Panel::RollCall);
    let answer = |post: &str, latency_ms: u64| pb::RollCallAnswer {
        post: post.into(),
        answered_at: (latency_ms > 0).then(|| super::ts(NOW + 5)).flatten(),
        latency_ms,
        ..Default::default()
    };
    let rollcall = pb::RollCall {
        id: 8,
        sent_at: super::ts(NOW),
        answer_by: super::ts(NOW + 300),
        posts: vec![
            answer("xinhua", 12_300),
            answer("qianjin", 0),
            answer("xiangyang", 0),
        ],
        ..Default::default()
    };
    app.update(AppEvent::Watch(Box::new(pb::Event {
        seq: 400,
        subject_kind: "rollcall".into(),
        subject_id: "8".into(),
        body: Some(pb::event::Body::RollCallChanged(rollcall)),
        ..Default::default()
    })));
    let shown = screen(&app, 160, 48);
    assert!(shown.contains("应答 1/3"), "{shown}");
    assert!(shown.contains("12.3s"), "{shown}");
    assert!(shown.contains("等待应答"), "{shown}");
    // Past the deadline, those who did not answer are misses.
    tick(&mut app, 301);
    let shown = screen(&app, 160, 48);
    assert!(shown.contains("超时未应答"), "{shown}");
}

#[test]
fn a_lost_link_and_a_waiting_handover_are_in_the_queue_too() {
    let mut app = app(Lang::Zh);
    let before = app.attention.len();
    app.update(AppEvent::LinkLost("connection refused".into()));
    assert!(app.attention.iter().any(|i| i.kind == Kind::Link));
    app.update(AppEvent::PendingHandovers(vec![pb::Handover {
        id: 5,
        status: "signed_out".into(),
        shift: Some(pb::ShiftInfo {
            ends: super::ts(NOW - 60),
            ..Default::default()
        }),
        signed_out_by: Some(pb::Principal {
            token_id: "other".into(),
            name: "李强".into(),
            ..Default::default()
        }),
        ..Default::default()
    }]));
    let handover = app
        .attention
        .iter()
        .find(|i| i.kind == Kind::Handover)
        .expect("the handover waits");
    assert!(handover.what.contains("已过交班时间"), "{}", handover.what);
    assert_eq!(handover.who, "李强");
    assert_eq!(app.attention.len(), before + 2);
    // Back: the link item goes by itself.
    app.update(AppEvent::LinkBack);
    assert!(!app.attention.iter().any(|i| i.kind == Kind::Link));
}

/// Found by trying the console: `!` onto an alarm whose incident is no
/// longer on the board, then `A`, acknowledged the *selected* incident's
/// alarms. It acknowledges the item `!` named, and only it.
#[test]
fn the_jump_then_a_acknowledges_the_item_named_not_the_selection() {
    let mut app = app(Lang::Zh);
    app.model.alarms.insert(
        9,
        pb::Alarm {
            id: 9,
            level: 1,
            incident: "20261123-0077".into(),
            raised_at: super::ts(NOW - 3600),
            ..Default::default()
        },
    );
    app.seen.extend(
        app.attention
            .iter()
            .filter(|i| i.kind == Kind::Offline)
            .map(|i| i.key.clone())
            .collect::<Vec<_>>(),
    );
    app.rebuild();
    app.selected = app.model.by_number("20261123-0001").map(|i| i.id);
    // Jump until the off-board alarm is the one named.
    for _ in 0..app.attention.len() {
        key(&mut app, KeyCode::Char('!'));
        if app.attention_focus.as_deref() == Some("alarm:9") {
            break;
        }
    }
    assert_eq!(app.attention_focus.as_deref(), Some("alarm:9"));
    let effects = key(&mut app, KeyCode::Char('A'));
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Ack(a))] if a.id == 9),
        "only the alarm named: {effects:?}"
    );
}

#[test]
fn a_bell_turned_off_shows_and_mute_off_brings_it_back() {
    let mut app = app(Lang::Zh);
    key(&mut app, KeyCode::Char('b'));
    assert!(!app.bell);
    assert!(screen(&app, 80, 24).contains("提示音已关"));
    command(&mut app, "mute off");
    assert!(app.bell);
    assert!(!screen(&app, 80, 24).contains("提示音已关"));
}

#[test]
fn q_asks_before_leaving_with_items_waiting() {
    let mut app = app(Lang::Zh);
    assert!(!app.attention.is_empty());
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.quit);
    assert!(matches!(app.mode, Mode::Confirm(_)));
    assert!(screen(&app, 80, 24).contains("待处理"));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Quit]);
}

#[test]
fn an_alarm_shows_who_its_texts_reached_and_who_they_did_not() {
    let mut app = app(Lang::Zh);
    let person = pb::Contact {
        person_id: "wangwei".into(),
        name: "王伟".into(),
        phone: "13800000000".into(),
    };
    let target = pb::AlarmTarget {
        target: "centre_duty_leader".into(),
        scope: String::new(),
        people: vec![person.clone()],
    };
    if let Some(waiting) = app.model.alarms.get_mut(&3) {
        waiting.targets = vec![target.clone()];
    }
    app.rebuild();
    let mut alarm = app.model.alarms[&3].clone();
    alarm.notifications = vec![pb::Notification {
        key: format!("alarm-3-{}-sms", person.person_id),
        channel: "sms".into(),
        person_id: person.person_id.clone(),
        name: person.name.clone(),
        to: person.phone.clone(),
        state: pb::DeliveryState::Queued as i32,
        ..Default::default()
    }];
    let notified = |seq: u64, alarm: &pb::Alarm, state: pb::DeliveryState| {
        let mut alarm = alarm.clone();
        alarm.notifications[0].state = state as i32;
        AppEvent::Watch(Box::new(pb::Event {
            seq,
            kind: "incident.alarm_notified".into(),
            subject_kind: "incident".into(),
            subject_id: alarm.incident.clone(),
            body: Some(pb::event::Body::AlarmNotified(pb::AlarmNotified {
                key: alarm.notifications[0].key.clone(),
                alarm: Some(alarm),
            })),
            ..Default::default()
        }))
    };
    // Nothing sent off the console yet: it says so.
    let before = app
        .attention
        .iter()
        .find(|i| i.kind == Kind::Alarm(3))
        .map(|i| i.who.clone())
        .unwrap_or_default();
    assert_eq!(before, "王伟 13800000000 (仅值班台)");
    app.update(notified(300, &alarm, pb::DeliveryState::Queued));
    let who = |app: &App| {
        app.attention
            .iter()
            .find(|i| i.kind == Kind::Alarm(3))
            .map(|i| i.who.clone())
            .unwrap_or_default()
    };
    assert!(who(&app).contains("短信待发"), "{}", who(&app));
    app.update(notified(301, &alarm, pb::DeliveryState::Failed));
    assert!(
        who(&app).contains(&format!("{} {} 短信未送达", person.name, person.phone)),
        "{}",
        who(&app)
    );
    // No new alarm: a text's news does not ring as one.
    let effects = app.update(notified(302, &alarm, pb::DeliveryState::Sent));
    assert!(!effects.contains(&Effect::Bell), "{effects:?}");
    assert!(who(&app).contains("短信已发"), "{}", who(&app));
    // English says it in words.
    let mut en = super::app(Lang::En);
    if let Some(waiting) = en.model.alarms.get_mut(&3) {
        waiting.targets = vec![target];
    }
    en.update(notified(300, &alarm, pb::DeliveryState::Read));
    assert!(who(&en).contains("sms read"), "{}", who(&en));
}

#[test]
fn a_failing_gateway_rings_once_and_waits_until_it_recovers() {
    let mut app = app(Lang::Zh);
    let gateway = |seq: u64, kind: &str, failing: bool| {
        AppEvent::Watch(Box::new(pb::Event {
            seq,
            kind: kind.into(),
            subject_kind: "gateway".into(),
            subject_id: "sms-main".into(),
            body: Some(pb::event::Body::GatewayChanged(pb::Gateway {
                id: "sms-main".into(),
                url: "https://sms.example.gov.cn/hook".into(),
                channels: vec!["sms".into()],
                failing_since: if failing { super::ts(NOW) } else { None },
                failing_error: if failing {
                    "gateway answered 503".into()
                } else {
                    String::new()
                },
                ..Default::default()
            })),
            ..Default::default()
        }))
    };
    let before = app.attention.len();
    assert!(app.update(gateway(200, "gateway.added", false)).is_empty());
    assert_eq!(app.attention.len(), before);
    let effects = app.update(gateway(201, "gateway.failing", true));
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    let item = app
        .attention
        .iter()
        .find(|i| i.kind == Kind::Gateway)
        .expect("an attention item");
    assert!(
        item.what.contains("通知网关发送失败 sms-main (短信)"),
        "{}",
        item.what
    );
    assert!(item.who.contains("sms.example.gov.cn"), "{}", item.who);
    app.update(gateway(202, "gateway.recovered", false));
    assert!(app.attention.iter().all(|i| i.kind != Kind::Gateway));
}
