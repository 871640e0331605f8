//! Rendering tests on ratatui's `TestBackend`: snapshots of the main screens
//! at 80×24 and 160×48, in Chinese and English, with Chinese data (mixed
//! with ASCII, an emoji and a combining mark), on a fixed clock.

use std::collections::BTreeMap;

use dutyroom_proto::v1 as pb;
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, AppEvent, Mode};
use super::commands::Keymap;
use super::i18n::Lang;
use super::model::Snapshot;
use super::views::{self, Theme};

pub(crate) fn ts(secs: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    })
}

/// 2026-11-23 21:00:00 in Shanghai.
pub(crate) const NOW: i64 = 1_795_438_800;

fn clock(kind: pb::ClockKind, assignment: u32, started: i64, due: i64, alarms: u32) -> pb::Clock {
    pb::Clock {
        kind: kind as i32,
        assignment_id: assignment,
        started_at: ts(started),
        due: ts(due),
        alarms,
        next_alarm_at: ts(due),
    }
}

fn assignment(
    id: u32,
    kind: pb::AssigneeKind,
    who: &str,
    lead: bool,
    state: pb::AssignmentState,
) -> pb::Assignment {
    pb::Assignment {
        id,
        assignee: Some(pb::Assignee {
            kind: kind as i32,
            id: who.into(),
            name: String::new(),
        }),
        role: if lead {
            pb::AssignmentRole::Lead
        } else {
            pb::AssignmentRole::Support
        } as i32,
        state: state as i32,
        dispatched_at: ts(NOW - 300),
        ..Default::default()
    }
}

/// A small duty room: three posts (one in emergency mode), units,
/// categories, places, and five incidents in different states.
pub(crate) fn snapshot() -> Snapshot {
    use pb::AssignmentState as A;
    use pb::IncidentStatus as S;
    let post = |id: &str, name: &str, emergency: bool| pb::Post {
        id: id.into(),
        name: name.into(),
        contact: "0571-87000001".into(),
        mode: if emergency {
            pb::PostMode::Emergency
        } else {
            pb::PostMode::Normal
        } as i32,
        ..Default::default()
    };
    let incident = |id: u64,
                    severity: pb::Severity,
                    category: &str,
                    place: &str,
                    post: &str,
                    summary: &str,
                    status: S| pb::Incident {
        id,
        number: format!("20261123-{id:04}"),
        status: status as i32,
        severity: severity as i32,
        category: category.into(),
        place_id: place.into(),
        territorial_post_id: post.into(),
        address: "新华路12号".into(),
        caller_name: "李娜".into(),
        caller_phone: "138****5678".into(),
        summary: summary.into(),
        created_at: ts(NOW - 600 - id as i64 * 60),
        ..Default::default()
    };
    let mut fire = incident(
        1,
        pb::Severity::I,
        "fire",
        "xingfu",
        "xinhua",
        "居民楼三层冒烟，有人被困🔥",
        S::Dispatched,
    );
    fire.assignments = vec![
        assignment(1, pb::AssigneeKind::Post, "xinhua", true, A::Dispatched),
        assignment(2, pb::AssigneeKind::Unit, "fire", false, A::SignedFor),
    ];
    fire.clocks = vec![
        clock(pb::ClockKind::SignFor, 1, NOW - 300, NOW - 240, 2),
        clock(pb::ClockKind::Arrive, 2, NOW - 300, NOW + 120, 0),
    ];
    fire.escalation_level = 2;
    let mut leak = incident(
        2,
        pb::Severity::Iii,
        "water_leak",
        "guangming",
        "xinhua",
        "路面水管爆裂 Café\u{301} 门口积水",
        S::Signed,
    );
    leak.assignments = vec![assignment(
        1,
        pb::AssigneeKind::Post,
        "xinhua",
        true,
        A::SignedFor,
    )];
    leak.clocks = vec![clock(pb::ClockKind::Arrive, 1, NOW - 300, NOW + 600, 0)];
    let mut noise = incident(
        3,
        pb::Severity::Iv,
        "noise",
        "",
        "qianjin",
        "工地夜间施工噪声扰民",
        S::OnScene,
    );
    noise.assignments = vec![assignment(
        1,
        pb::AssigneeKind::Post,
        "qianjin",
        true,
        A::OnScene,
    )];
    noise.clocks = vec![clock(pb::ClockKind::Resolve, 0, NOW - 900, NOW + 85_500, 0)];
    let mut traffic = incident(
        4,
        pb::Severity::Ii,
        "traffic",
        "",
        "xiangyang",
        "货车侧翻，占用两条车道",
        S::Dispatched,
    );
    traffic.assignments = vec![assignment(
        1,
        pb::AssigneeKind::Post,
        "xiangyang",
        true,
        A::Dispatched,
    )];
    traffic.clocks = vec![clock(pb::ClockKind::SignFor, 1, NOW - 30, NOW + 30, 0)];
    let resolved = incident(
        5,
        pb::Severity::Iii,
        "fire",
        "xingfu",
        "xinhua",
        "楼道杂物起火，已扑灭",
        S::Resolved,
    );
    Snapshot {
        head_seq: 100,
        gateways: Vec::new(),
        incidents: vec![fire, leak, noise, traffic, resolved],
        posts: vec![
            post("xinhua", "新华街道指挥部", false),
            post("qianjin", "前进街道指挥部", false),
            post("xiangyang", "向阳镇指挥部", true),
        ],
        units: vec![pb::Unit {
            id: "fire".into(),
            name: "区消防救援大队".into(),
            tier: 1,
            ..Default::default()
        }],
        categories: [
            ("fire", "火灾", "Fire"),
            ("water_leak", "供水漏损", "Water leak"),
            ("noise", "噪声扰民", "Noise"),
            ("traffic", "交通事故", "Traffic accident"),
        ]
        .iter()
        .map(|(code, zh, en)| pb::Category {
            code: (*code).into(),
            name_zh: (*zh).into(),
            name_en: (*en).into(),
            default_unit_ids: vec!["fire".into()],
            ..Default::default()
        })
        .collect(),
        places: vec![
            pb::Place {
                id: "xingfu".into(),
                name: "幸福社区".into(),
                kind: pb::PlaceKind::Community as i32,
                post_id: "xinhua".into(),
                ..Default::default()
            },
            pb::Place {
                id: "guangming".into(),
                name: "光明社区".into(),
                kind: pb::PlaceKind::Community as i32,
                post_id: "xinhua".into(),
                ..Default::default()
            },
        ],
        people: vec![],
        alarms: vec![pb::Alarm {
            id: 3,
            level: 2,
            incident: "20261123-0001".into(),
            reason: "sign-for overdue by post:xinhua".into(),
            ..Default::default()
        }],
        // Qianjin answered; Xinhua has 4:00 left.
        rollcalls: vec![pb::RollCall {
            id: 7,
            sent_at: ts(NOW - 60),
            answer_by: ts(NOW + 240),
            posts: vec![
                pb::RollCallAnswer {
                    post: "xinhua".into(),
                    ..Default::default()
                },
                pb::RollCallAnswer {
                    post: "qianjin".into(),
                    answered_at: ts(NOW - 30),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        // Xinhua online; Xiangyang dropped off 12 minutes ago; Qianjin's
        // clock runs 95 s fast.
        presence: vec![
            presence("xinhua", true, 0),
            pb::PresenceEntry {
                last_seen: ts(NOW - 720),
                ..presence("xiangyang", false, 0)
            },
            presence("qianjin", true, 95_000),
        ],
    }
}

fn presence(post: &str, online: bool, offset_ms: i64) -> pb::PresenceEntry {
    pb::PresenceEntry {
        who: Some(pb::Assignee {
            kind: pb::AssigneeKind::Post as i32,
            id: post.into(),
            name: String::new(),
        }),
        online,
        last_seen: ts(NOW - 5),
        clock_offset_ms: offset_ms,
        clock_skewed: offset_ms.abs() > 10_000,
        clock_measured: true,
        ..Default::default()
    }
}

pub(crate) fn app(lang: Lang) -> App {
    let now = Timestamp::from_second(NOW).expect("now");
    let mut app = App::new(lang, Keymap::new(&BTreeMap::new()).expect("keymap"), now);
    app.update(AppEvent::Connected {
        me: pb::Principal {
            token_id: "0a1b2c3d".into(),
            name: "王伟".into(),
            role: "officer".into(),
        },
        zone: "Asia/Shanghai".into(),
    });
    app.update(AppEvent::Snapshot(Box::new(snapshot())));
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| views::render(app, &Theme { color: true }, frame))
        .expect("draw");
    terminal.backend().to_string()
}

#[test]
fn board_80x24_zh() {
    insta::assert_snapshot!(screen(&app(Lang::Zh), 80, 24));
}

#[test]
fn board_80x24_en() {
    insta::assert_snapshot!(screen(&app(Lang::En), 80, 24));
}

#[test]
fn board_160x48_zh() {
    insta::assert_snapshot!(screen(&app(Lang::Zh), 160, 48));
}

#[test]
fn board_160x48_en() {
    insta::assert_snapshot!(screen(&app(Lang::En), 160, 48));
}

#[test]
fn intake_form_80x24_zh() {
    let mut app = app(Lang::Zh);
    for key in "nhz".chars() {
        app.update(AppEvent::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(key),
        )));
    }
    app.update(AppEvent::Key(crossterm::event::KeyCode::Tab.into()));
    app.update(AppEvent::Key(crossterm::event::KeyCode::Char('1').into()));
    app.update(AppEvent::Key(crossterm::event::KeyCode::Tab.into()));
    for key in "xf".chars() {
        app.update(AppEvent::Key(crossterm::event::KeyCode::Char(key).into()));
    }
    assert!(matches!(app.mode, Mode::Form(_)));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn help_80x24_en() {
    let mut app = app(Lang::En);
    app.update(AppEvent::Key(crossterm::event::KeyCode::Char('?').into()));
    insta::assert_snapshot!(screen(&app, 80, 24));
    // It scrolls to the last commands, then any other key closes it.
    app.update(AppEvent::Key(crossterm::event::KeyCode::PageDown.into()));
    assert!(!screen(&app, 80, 24).contains(":quit"));
    app.update(AppEvent::Key(crossterm::event::KeyCode::End.into()));
    assert!(screen(&app, 80, 24).contains(":quit"));
    app.update(AppEvent::Key(crossterm::event::KeyCode::Esc.into()));
    assert!(matches!(app.mode, Mode::Board));
}

#[test]
fn the_board_is_most_urgent_first_and_never_wider_than_the_screen() {
    let app = app(Lang::Zh);
    let numbers: Vec<&str> = app
        .board
        .iter()
        .filter_map(|id| app.model.incidents.get(id))
        .map(|i| i.number.as_str())
        .collect();
    // I first; then II, III (the nearer deadline first), IV; resolved last.
    assert_eq!(
        numbers,
        vec![
            "20261123-0001",
            "20261123-0004",
            "20261123-0002",
            "20261123-0003",
            "20261123-0005"
        ]
    );
    // Long summaries are cut on a whole glyph, with an ellipsis.
    assert!(screen(&app, 80, 24).contains("居民楼三层冒烟，…"));
}

#[test]
fn tiny_terminals_degrade_without_garbling() {
    let app = app(Lang::Zh);
    insta::assert_snapshot!(screen(&app, 40, 8));
}

fn on_duty() -> pb::OnDutyReply {
    let contact = |id: &str, name: &str, phone: &str| pb::Contact {
        person_id: id.into(),
        name: name.into(),
        phone: phone.into(),
    };
    let duty = |scope: &str, role: &str, people: Vec<pb::Contact>| pb::Duty {
        scope: scope.into(),
        role: role.into(),
        people,
    };
    pb::OnDutyReply {
        shift: Some(pb::ShiftInfo {
            date: "2026-11-23".into(),
            shift: "夜班".into(),
            starts: ts(NOW - 3600),
            ends: ts(NOW + 11 * 3600),
        }),
        now: vec![
            duty(
                "centre",
                "duty_officer",
                vec![contact("wangwei", "王伟", "13800000001")],
            ),
            duty(
                "centre",
                "duty_leader",
                vec![contact("liuyang", "刘洋", "13800000004")],
            ),
            duty(
                "post:xinhua",
                "duty_contact",
                vec![contact("chen", "陈静", "13700000001")],
            ),
            // A hole in the roster shows as "nobody", in the alert colour.
            duty("post:xiangyang", "duty_contact", vec![]),
        ],
        next_shift: Some(pb::ShiftInfo {
            date: "2026-11-24".into(),
            shift: "白班".into(),
            starts: ts(NOW + 11 * 3600),
            ends: ts(NOW + 23 * 3600),
        }),
        next: vec![duty(
            "centre",
            "duty_officer",
            vec![contact("lina", "李娜", "13800000002")],
        )],
    }
}

fn handover() -> pb::Handover {
    pb::Handover {
        id: 3,
        shift: Some(pb::ShiftInfo {
            date: "2026-11-23".into(),
            shift: "夜班".into(),
            starts: ts(NOW - 3600),
            ends: ts(NOW + 11 * 3600),
        }),
        status: "open".into(),
        open_incidents: vec![pb::HandoverIncident {
            number: "20261123-0001".into(),
            status: "dispatched".into(),
            summary: "居民楼三层冒烟".into(),
            ..Default::default()
        }],
        unsigned_dispatches: vec![pb::HandoverDispatch {
            number: "20261123-0001".into(),
            assignee: Some(pb::Assignee {
                kind: pb::AssigneeKind::Post as i32,
                // Handover records keep ids: the console names them.
                id: "xinhua".into(),
                name: String::new(),
            }),
            dispatched_at: ts(NOW - 600),
        }],
        overdue: vec![pb::HandoverClock {
            number: "20261123-0004".into(),
            clock: "arrival".into(),
            due: ts(NOW - 60),
            alarms: 1,
        }],
        counts: Some(pb::ShiftCounts {
            received: 7,
            resolved: 2,
            closed: 1,
            cancelled: 0,
            escalations: 1,
            open_at_handover: 4,
        }),
        notes: "燃气抢修仍在现场".into(),
        ..Default::default()
    }
}

fn key(app: &mut App, code: crossterm::event::KeyCode) -> Vec<super::app::Effect> {
    app.update(AppEvent::Key(code.into()))
}

fn command(app: &mut App, line: &str) -> Vec<super::app::Effect> {
    key(app, crossterm::event::KeyCode::Char(':'));
    for c in line.chars() {
        key(app, crossterm::event::KeyCode::Char(c));
    }
    key(app, crossterm::event::KeyCode::Enter)
}

#[test]
fn on_duty_panel_160x48_zh() {
    use super::app::{Effect, Panel};
    let mut app = app(Lang::Zh);
    let mut effects = Vec::new();
    while app.panel != Panel::OnDuty {
        effects = key(&mut app, crossterm::event::KeyCode::Tab);
    }
    // Nothing loaded yet: Tab onto the panel asks dutyd.
    assert_eq!(effects, vec![Effect::LoadOnDuty]);
    app.update(AppEvent::OnDuty(Box::new(on_duty())));
    insta::assert_snapshot!(screen(&app, 160, 48));
}

#[test]
fn the_people_on_duty_are_reloaded_at_shift_change() {
    use super::app::Effect;
    let mut app = app(Lang::Zh);
    app.update(AppEvent::OnDuty(Box::new(on_duty())));
    let before = Timestamp::from_second(NOW + 11 * 3600 - 1).expect("time");
    assert!(
        !app.update(AppEvent::Tick(before))
            .contains(&Effect::LoadOnDuty)
    );
    let after = Timestamp::from_second(NOW + 11 * 3600).expect("time");
    assert!(
        app.update(AppEvent::Tick(after))
            .contains(&Effect::LoadOnDuty)
    );
}

#[test]
fn handover_panel_80x24_zh() {
    use super::app::{Effect, HandoverStep, Panel};
    let mut app = app(Lang::Zh);
    // Signing before anything is open asks for the handover first.
    assert!(command(&mut app, "handover sign").is_empty());
    assert_eq!(
        key(&mut app, crossterm::event::KeyCode::Char('H')),
        vec![Effect::Handover(HandoverStep::Open)]
    );
    app.update(AppEvent::Handover(Box::new(handover())));
    assert_eq!(app.panel, Panel::Handover);
    insta::assert_snapshot!(screen(&app, 80, 24));
    assert_eq!(
        command(&mut app, "handover note 燃气 抢修"),
        vec![Effect::Handover(HandoverStep::Note(3, "燃气 抢修".into()))]
    );
    assert_eq!(
        command(&mut app, "ho sign"),
        vec![Effect::Handover(HandoverStep::Sign(3))]
    );
    assert_eq!(
        command(&mut app, "handover countersign 已核对"),
        vec![Effect::Handover(HandoverStep::Countersign(
            3,
            "已核对".into()
        ))]
    );
}

/// Xinhua's own console: its incidents only, as dutyd sends a post, plus a
/// fresher order than the fire's.
pub(crate) fn post_app(lang: Lang) -> App {
    use pb::AssignmentState as A;
    let now = Timestamp::from_second(NOW).expect("now");
    let mut app = App::new(lang, Keymap::new(&BTreeMap::new()).expect("keymap"), now);
    app.post_mode = true;
    app.update(AppEvent::Connected {
        me: pb::Principal {
            token_id: "1b2c3d4e".into(),
            name: "周明".into(),
            role: "post:xinhua".into(),
        },
        zone: "Asia/Shanghai".into(),
    });
    let mut snapshot = snapshot();
    snapshot.incidents.retain(|i| {
        i.assignments
            .iter()
            .any(|a| a.assignee.as_ref().is_some_and(|x| x.id == "xinhua"))
    });
    let mut gas = snapshot.incidents[1].clone();
    gas.id = 6;
    gas.number = "20261123-0006".into();
    gas.severity = pb::Severity::Iv as i32;
    gas.summary = "小区燃气味道".into();
    gas.status = pb::IncidentStatus::Dispatched as i32;
    gas.assignments = vec![pb::Assignment {
        dispatched_at: ts(NOW - 20),
        ..assignment(1, pb::AssigneeKind::Post, "xinhua", true, A::Dispatched)
    }];
    gas.clocks = vec![clock(pb::ClockKind::SignFor, 1, NOW - 20, NOW + 280, 0)];
    snapshot.incidents.push(gas);
    snapshot.presence.clear();
    app.update(AppEvent::Snapshot(Box::new(snapshot)));
    app
}

#[test]
fn post_console_80x24_zh() {
    let app = post_app(Lang::Zh);
    let numbers: Vec<&str> = app
        .board
        .iter()
        .filter_map(|id| app.model.incidents.get(id))
        .map(|i| i.number.as_str())
        .collect();
    // Orders to sign for first, the most urgent (severity I) on top; then
    // the rest.
    assert_eq!(
        numbers,
        vec!["20261123-0001", "20261123-0006", "20261123-0002"]
    );
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn a_post_acts_through_its_outbox_even_offline() {
    use super::app::{Effect, Rpc};
    let mut app = post_app(Lang::Zh);
    app.update(AppEvent::LinkLost("connection refused".into()));
    // `s` signs for the selected order (the most urgent): no assignee
    // named, the post's own is meant; queued, not refused for the lost link.
    let effects = key(&mut app, crossterm::event::KeyCode::Char('s'));
    let [Effect::Queue(Rpc::Sign(request))] = effects.as_slice() else {
        panic!("sign is queued: {effects:?}");
    };
    assert_eq!(request.incident, "20261123-0001");
    assert!(request.assignee.is_none());
    // `r` answers the roll-call waiting for Xinhua.
    let effects = key(&mut app, crossterm::event::KeyCode::Char('r'));
    assert!(
        matches!(effects.as_slice(), [Effect::Queue(Rpc::Answer(a))] if a.id == 7),
        "{effects:?}"
    );
    // The centre's commands are not a post's.
    assert!(key(&mut app, crossterm::event::KeyCode::Char('e')).is_empty());
    assert!(app.message.as_ref().is_some_and(|m| m.error));
    assert!(command(&mut app, "assign 0006 qianjin").is_empty());
}

#[test]
fn a_new_order_rings_and_stays_lit_until_signed() {
    use super::app::Effect;
    let mut app = post_app(Lang::Zh);
    let order = pb::Event {
        seq: 101,
        kind: "incident.assigned".into(),
        subject_kind: "incident".into(),
        subject_id: "20261123-0009".into(),
        body: Some(pb::event::Body::AssignmentChanged(pb::AssignmentChanged {
            assignment: Some(assignment(
                1,
                pb::AssigneeKind::Post,
                "xinhua",
                true,
                pb::AssignmentState::Dispatched,
            )),
            ..Default::default()
        })),
        incident_state: Some(pb::IncidentState {
            status: pb::IncidentStatus::Dispatched as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let effects = app.update(AppEvent::Watch(Box::new(order)));
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    // A post's first sight of an incident: fetched whole.
    assert!(effects.contains(&Effect::Fetch("20261123-0009".into())));
    // The centre's console does not ring for another post's order.
    let mut centre = app_for_centre();
    let other = pb::Event {
        seq: 101,
        subject_kind: "incident".into(),
        subject_id: "20261123-0004".into(),
        body: Some(pb::event::Body::AssignmentChanged(pb::AssignmentChanged {
            assignment: Some(assignment(
                1,
                pb::AssigneeKind::Post,
                "xiangyang",
                true,
                pb::AssignmentState::Dispatched,
            )),
            ..Default::default()
        })),
        ..Default::default()
    };
    assert!(
        !centre
            .update(AppEvent::Watch(Box::new(other)))
            .contains(&Effect::Bell)
    );
}

fn app_for_centre() -> App {
    app(Lang::Zh)
}

#[test]
fn outbox_panel_80x24_zh() {
    use super::app::{OutboxView, Panel};
    let mut app = post_app(Lang::Zh);
    let entry = |seq: u64, summary: &str, done: i64, failed: &str| crate::outbox::Entry {
        seq,
        request_id: format!("outbox-{seq}"),
        done_at: ts(done),
        summary: summary.into(),
        failed: failed.into(),
        action: Some(crate::outbox::Action::Note(pb::AddNoteRequest {
            incident: "20261123-0002".into(),
            ..Default::default()
        })),
    };
    app.update(AppEvent::Outbox(Box::new(OutboxView {
        contents: crate::outbox::Contents {
            pending: vec![
                entry(3, "sign for 20261123-0006", NOW - 90, ""),
                entry(4, "note 20261123-0002", NOW - 40, ""),
            ],
            failed: vec![entry(
                2,
                "resolve 20261123-0001",
                NOW - 300,
                "incident 20261123-0001 is dispatched: resolve needs the lead on scene",
            )],
        },
        waiting: Some("connection refused".into()),
    })));
    assert!(command(&mut app, "outbox").is_empty());
    assert_eq!(app.panel, Panel::Outbox);
    insta::assert_snapshot!(screen(&app, 80, 24));
    // `:outbox clear` forgets the refused ones.
    assert_eq!(
        command(&mut app, "outbox clear"),
        vec![super::app::Effect::DismissFailed]
    );
}

#[test]
fn posts_panel_shows_presence_160x48_zh() {
    use super::app::Panel;
    let mut app = app(Lang::Zh);
    while app.panel != Panel::Posts {
        key(&mut app, crossterm::event::KeyCode::Tab);
    }
    let screen = screen(&app, 160, 48);
    // Xiangyang dropped off 12 minutes ago; Qianjin's clock is 95 s fast.
    assert!(screen.contains("✕12m"), "{screen}");
    assert!(screen.contains("+95s"), "{screen}");
    insta::assert_snapshot!(screen);
}

mod attention;
mod history;
mod post;
mod repeat;
mod replay;
mod safety;

/// A month's report as dutyd sends it: two posts ranked, one below the
/// minimum sample, a unit, and a hostile name.
fn month_report() -> pb::Report {
    let figures = |count, p50, p90, compliance| {
        Some(pb::Figures {
            count,
            p50,
            p90,
            p95: p90,
            max: p90,
            mean: p50 as f64,
            within: (count as f64 * compliance) as u64,
            compliance,
            overdue: 1,
        })
    };
    let daily = |values: &[u64]| {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| pb::DayPoint {
                day: format!("2026-10-{:02}", i + 1),
                orders: 1,
                sign_for_p90: *v,
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    let row =
        |who: &str, name: &str, orders, value: f64, rank, previous, days: &[u64]| pb::AssigneeRow {
            assignee: who.into(),
            name: name.into(),
            orders,
            sent_back: 1,
            send_back_rate: 1.0 / orders as f64,
            sign_for: figures(orders, 40, 90, 0.8),
            value,
            has_value: true,
            rank,
            previous_rank: previous,
            daily: daily(days),
            ..Default::default()
        };
    let month: Vec<u64> = (0..31)
        .map(|d| if d % 7 == 6 { 0 } else { 30 + d * 5 })
        .collect();
    pb::Report {
        period: Some(pb::ReportPeriod {
            kind: pb::PeriodKind::Month as i32,
            from: "2026-10-01".into(),
            to: "2026-10-31".into(),
            label: "2026-10".into(),
        }),
        previous_period: Some(pb::ReportPeriod {
            label: "2026-09".into(),
            ..Default::default()
        }),
        time_zone: "Asia/Shanghai".into(),
        summary: Some(pb::Totals {
            created: 412,
            orders: 530,
            sent_back: 12,
            sign_for: figures(520, 48, 175, 0.912),
            arrive: figures(505, 600, 1_500, 0.87),
            resolve: figures(400, 7_200, 30_000, 0.95),
            callbacks: 390,
            satisfaction: vec![pb::ScoreCount {
                score: 5,
                callbacks: 300,
            }],
            satisfaction_mean: 4.6,
            ..Default::default()
        }),
        previous_summary: Some(pb::Totals {
            created: 398,
            sign_for: figures(500, 50, 180, 0.9),
            ..Default::default()
        }),
        posts: vec![
            row("post:xinhua", "新华街道指挥部", 120, 92.5, 1, 2, &month),
            row(
                "post:qianjin",
                "前进街道指挥部",
                98,
                88.0,
                2,
                1,
                &month[5..],
            ),
            row("post:x", "\u{1b}[2J清屏\u{202e}指挥部", 3, 40.0, 0, 0, &[]),
        ],
        units: vec![row("unit:fire", "区消防救援大队", 60, 97.0, 1, 0, &month)],
        rank_by: "composite".into(),
        min_sample: 5,
        ..Default::default()
    }
}

#[test]
fn the_report_view_fits_80x24_with_bars_and_sparklines() {
    use super::app::Effect;
    let mut app = app(Lang::Zh);
    let effects = command(&mut app, "report month-last");
    let asked = effects
        .iter()
        .find_map(|e| match e {
            Effect::LoadReport(request) => Some(request.clone()),
            _ => None,
        })
        .expect("asks dutyd for the report");
    assert_eq!(
        (asked.from.as_str(), asked.period),
        ("2026-10-31", pb::PeriodKind::Month as i32),
        "23 November: last month is October"
    );
    assert!(matches!(app.mode, Mode::Report(0)));
    assert!(screen(&app, 80, 24).contains("正在统计"));
    app.update(AppEvent::Report(Box::new(month_report())));
    let shown = screen(&app, 80, 24);
    insta::assert_snapshot!(shown);
    assert!(shown.contains("考核 2026-10"));
    assert!(shown.contains("接警 412 (+14)"));
    assert!(shown.contains("新华街道指挥部"));
    assert!(shown.contains("92.5"));
    assert!(
        shown.contains('█') && shown.contains('▂'),
        "bars and sparklines"
    );
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'));
    // Any key but a scroll goes back to the board.
    key(&mut app, crossterm::event::KeyCode::Char('j'));
    assert!(matches!(app.mode, Mode::Report(1)));
    key(&mut app, crossterm::event::KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Board));
    // A word it does not know says how to ask.
    command(&mut app, "report fortnight");
    assert!(matches!(app.mode, Mode::Board));
    assert!(screen(&app, 80, 24).contains(":考核"));
    // The same in Chinese: this year's.
    let effects = command(&mut app, "考核 年");
    assert!(
        effects.iter().any(|e| matches!(e, Effect::LoadReport(r)
            if r.period == pb::PeriodKind::Year as i32 && r.from == "2026-11-23")),
        "{effects:?}"
    );
}
