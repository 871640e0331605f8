//! The console driven by scripted keys against a real daemon: the real
//! network task, app and views (on a `TestBackend`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use dutyroom_console::client::Client;
use dutyroom_console::tui::app::{App, AppEvent, Link};
use dutyroom_console::tui::commands::Keymap;
use dutyroom_console::tui::i18n::Lang;
use dutyroom_console::tui::views::{self, Theme};
use dutyroom_console::tui::{Effects, net};
use dutyroom_proto::v1 as pb;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{Notify, mpsc};

use crate::support::{TestDaemon, call, duty};

struct Console {
    app: App,
    terminal: Terminal<TestBackend>,
    effects: Effects,
    events: mpsc::UnboundedReceiver<AppEvent>,
    link: tokio::task::JoinHandle<()>,
    /// Keys pressed that are not typed text.
    control_keys: usize,
}

impl Console {
    async fn open(daemon: &TestDaemon, token: &str) -> Console {
        let client = Client::lazy(&daemon.addr, Some(token)).expect("client");
        let (tx, events) = mpsc::unbounded_channel();
        let reload = Arc::new(Notify::new());
        let link = tokio::spawn(net::link(client.clone(), tx.clone(), reload.clone()));
        let mut console = Console {
            app: App::new(
                Lang::Zh,
                Keymap::new(&BTreeMap::new()).expect("keymap"),
                jiff::Timestamp::now(),
            ),
            terminal: Terminal::new(TestBackend::new(80, 24)).expect("terminal"),
            effects: Effects::new(client, tx, reload, false, Lang::Zh),
            events,
            link,
            control_keys: 0,
        };
        console.until("loaded", |app| app.link == Link::Live).await;
        console
    }

    /// A post's console, keeping its outbox in `outbox`.
    async fn open_post(daemon: &TestDaemon, token: &str, outbox: &std::path::Path) -> Console {
        let client = Client::lazy(&daemon.addr, Some(token)).expect("client");
        let (tx, events) = mpsc::unbounded_channel();
        let reload = Arc::new(Notify::new());
        let link = tokio::spawn(net::link(client.clone(), tx.clone(), reload.clone()));
        let mut app = App::new(
            Lang::Zh,
            Keymap::new(&BTreeMap::new()).expect("keymap"),
            jiff::Timestamp::now(),
        );
        app.post_mode = true;
        let mut console = Console {
            app,
            terminal: Terminal::new(TestBackend::new(80, 24)).expect("terminal"),
            effects: Effects::new(client, tx, reload, false, Lang::Zh)
                .with_outbox(outbox.to_owned()),
            events,
            link,
            control_keys: 0,
        };
        console.until("loaded", |app| app.link == Link::Live).await;
        console
    }

    /// Selects the incident numbered `number` on the board.
    fn select(&mut self, number: &str) {
        let id = self
            .app
            .model
            .by_number(number)
            .map(|i| i.id)
            .expect("on the board");
        self.app.selected = Some(id);
    }

    fn apply(&mut self, event: AppEvent) {
        for effect in self.app.update(event) {
            self.effects.run(effect);
        }
        self.terminal
            .draw(|frame| views::render(&self.app, &Theme { color: true }, frame))
            .expect("draw");
    }

    /// A control key: a hotkey, Tab, Enter, Esc…
    fn press(&mut self, code: KeyCode) {
        self.control_keys += 1;
        self.apply(AppEvent::Key(KeyEvent::from(code)));
    }

    /// Typed text (not counted as control keys).
    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.apply(AppEvent::Key(KeyEvent::from(KeyCode::Char(c))));
        }
    }

    async fn until(&mut self, what: &str, check: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check(&self.app) {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{what}: not within 10 s ({:?})\n{}",
                        self.app.link,
                        self.screen()
                    )
                })
                .expect("events");
            self.apply(event);
        }
    }

    fn screen(&self) -> String {
        self.terminal.backend().to_string()
    }

    fn selected(&self) -> pb::Incident {
        self.app.selection().cloned().expect("a selected incident")
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.link.abort();
    }
}

async fn prepared() -> (TestDaemon, String) {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    daemon
        .admin()
        .await
        .categories()
        .update_category(pb::UpdateCategoryRequest {
            request_id: String::new(),
            code: "fire".into(),
            default_unit_ids: Some(pb::StringList {
                values: vec!["fire".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("routing");
    let officer = daemon.token("officer", "王伟").await;
    (daemon, officer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_taken_and_dispatched_in_six_control_keys() {
    let (daemon, officer) = prepared().await;
    let mut console = Console::open(&daemon, &officer).await;
    console.press(KeyCode::Char('n'));
    console.typed("huo"); // category: 火灾 by its pinyin
    console.press(KeyCode::Tab);
    console.typed("2"); // severity II
    console.press(KeyCode::Tab);
    console.typed("xf"); // place: 幸福社区 by its initials
    console.press(KeyCode::Tab);
    console.typed("居民楼三层冒烟");
    console.press(KeyCode::Tab);
    console.typed("13812345678");
    console.press(KeyCode::Enter);
    assert_eq!(console.control_keys, 6);
    console
        .until("the call on the board", |app| {
            app.selection()
                .is_some_and(|i| i.summary == "居民楼三层冒烟" && i.assignments.len() == 2)
        })
        .await;
    let incident = console.selected();
    let assignees: Vec<String> = incident
        .assignments
        .iter()
        .map(|a| dutyroom_console::cli::output::assignee(a.assignee.as_ref()))
        .collect();
    assert_eq!(assignees, vec!["post:xinhua", "unit:fire"]);
    assert_eq!(incident.severity, pb::Severity::Ii as i32);
    assert_eq!(incident.territorial_post_id, "xinhua");
    assert!(console.screen().contains("居民楼三层冒烟"));

    // The same call as one command line: `:`, Enter to see what it was
    // understood as, Enter to send — three control keys.
    console.control_keys = 0;
    console.press(KeyCode::Char(':'));
    console.typed("call huozai 2 xingfu 楼道有烟 13900000000");
    console.press(KeyCode::Enter);
    assert!(
        console.screen().contains("幸福社区 → 新华街道"),
        "{}",
        console.screen()
    );
    console.press(KeyCode::Enter);
    assert_eq!(console.control_keys, 3);
    console
        .until("the second call", |app| {
            app.model
                .incidents
                .values()
                .any(|i| i.summary == "楼道有烟" && i.assignments.len() == 2)
        })
        .await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalate_resolve_and_close_from_the_keyboard() {
    let (daemon, officer) = prepared().await;
    let number = daemon.call_number("需要督办", Some("post:xinhua")).await;
    let mut console = Console::open(&daemon, &officer).await;
    assert_eq!(console.selected().number, number);
    console.press(KeyCode::Char('e'));
    console.typed("群众再次来电催促");
    console.press(KeyCode::Enter);
    console
        .until("escalated", |app| {
            app.selection().is_some_and(|i| i.escalation_level == 1)
        })
        .await;
    console
        .until("alarm shown", |app| !app.model.alarms.is_empty())
        .await;
    // Sign for it on the post's behalf, then resolve and close.
    console.press(KeyCode::Char('s'));
    console
        .until("signed", |app| {
            app.selection()
                .is_some_and(|i| i.status == pb::IncidentStatus::Signed as i32)
        })
        .await;
    console.press(KeyCode::Char('R'));
    console.typed("已处置完毕");
    console.press(KeyCode::Enter);
    // Resolving and closing are confirmed, naming the incident.
    let short = number.rsplit('-').next().unwrap_or_default().to_owned();
    assert!(console.screen().contains(&short), "{}", console.screen());
    console.press(KeyCode::Char('y'));
    console
        .until("resolved", |app| {
            app.selection()
                .is_some_and(|i| i.status == pb::IncidentStatus::Resolved as i32)
        })
        .await;
    console.press(KeyCode::Char('C'));
    console.typed("5");
    console.press(KeyCode::Enter);
    console.typed("群众满意");
    console.press(KeyCode::Enter);
    console.press(KeyCode::Char('y'));
    console
        .until("closed and off the board", |app| {
            app.model.by_number(&number).is_none()
        })
        .await;
    let closed = daemon
        .admin()
        .await
        .incidents()
        .get_incident(pb::GetIncidentRequest { incident: number })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(closed.satisfaction, 5);
    assert_eq!(closed.callback_result, "群众满意");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_is_opened_twice_signed_and_countersigned_from_the_consoles() {
    let (daemon, officer) = prepared().await;
    let pattern = duty(
        &daemon,
        &daemon.admin,
        &[
            "roster",
            "pattern",
            "2026-01-01",
            "--shift",
            "day=08:00/12h",
            "--shift",
            "night=20:00/12h",
        ],
    )
    .await;
    assert_eq!(pattern.code, 0, "{}", pattern.stderr);
    let mut outgoing = Console::open(&daemon, &officer).await;
    outgoing.press(KeyCode::Char('H'));
    outgoing
        .until("the handover opens", |app| app.handover.is_some())
        .await;
    let id = outgoing.app.handover.as_ref().map(|h| h.id);
    // Again: the same handover, refreshed (this was an INTERNAL error).
    outgoing.app.handover = None;
    outgoing.press(KeyCode::Char('H'));
    outgoing
        .until("refreshed", |app| app.handover.is_some())
        .await;
    assert_eq!(outgoing.app.handover.as_ref().map(|h| h.id), id);
    assert!(
        outgoing.app.message.as_ref().is_none_or(|m| !m.error),
        "{:?}",
        outgoing.app.message
    );
    outgoing.press(KeyCode::Char(':'));
    outgoing.typed("handover sign");
    outgoing.press(KeyCode::Enter);
    outgoing
        .until("signed out", |app| {
            app.handover
                .as_ref()
                .is_some_and(|h| h.status == "signed_out")
        })
        .await;
    drop(outgoing);

    // The next officer logs in: told at once, H shows it, H again asks for
    // remarks, Enter and y countersign.
    let incoming_token = daemon.token("officer", "刘洋").await;
    let mut incoming = Console::open(&daemon, &incoming_token).await;
    incoming
        .until("the waiting handover is known", |app| {
            app.handover_for_me().is_some()
        })
        .await;
    assert!(
        incoming.screen().contains("待接班"),
        "{}",
        incoming.screen()
    );
    incoming.control_keys = 0;
    incoming.press(KeyCode::Char('H'));
    incoming.press(KeyCode::Char('H'));
    incoming.typed("已接班，继续跟进");
    incoming.press(KeyCode::Enter);
    incoming.press(KeyCode::Char('y'));
    assert_eq!(incoming.control_keys, 4);
    incoming
        .until("countersigned", |app| {
            app.handover
                .as_ref()
                .is_some_and(|h| h.status == "countersigned")
        })
        .await;
    let handover = incoming.app.handover.clone().expect("handover");
    assert_eq!(Some(handover.id), id);
    assert_eq!(handover.remarks, "已接班，继续跟进");
    assert_eq!(
        handover.countersigned_by.map(|p| p.name).as_deref(),
        Some("刘洋")
    );
    assert!(incoming.app.handover_for_me().is_none());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dutyd_refuses_comes_back_with_the_reason_in_chinese_at_its_field() {
    let (daemon, officer) = prepared().await;
    let mut console = Console::open(&daemon, &officer).await;
    console.press(KeyCode::Char('n'));
    console.typed("huo");
    console.press(KeyCode::Tab);
    console.typed("2");
    console.press(KeyCode::Tab);
    console.typed("xf");
    console.press(KeyCode::Tab);
    // Pasted, as a long summary would be.
    console.apply(AppEvent::Paste("冒烟".repeat(1100)));
    console.press(KeyCode::Enter);
    console
        .until("the form is back", |app| {
            matches!(&app.mode, dutyroom_console::tui::app::Mode::Form(f) if f.problem.is_some())
        })
        .await;
    let dutyroom_console::tui::app::Mode::Form(form) = &console.app.mode else {
        panic!("no form");
    };
    assert_eq!(
        form.field(),
        dutyroom_console::tui::form::Field::Summary,
        "focused at the field dutyd named"
    );
    assert_eq!(
        form.problem.as_deref(),
        Some("摘要: 最多 2000 字 (现 2200)"),
        "dutyd's reason in the console's words"
    );
    assert_eq!(
        form.text(dutyroom_console::tui::form::Field::Summary)
            .chars()
            .count(),
        2200
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_call_is_sent_and_followed_from_the_centre_console() {
    let (daemon, officer) = prepared().await;
    let mut console = Console::open(&daemon, &officer).await;
    console.control_keys = 0;
    console.press(KeyCode::Char(':'));
    console.typed("rollcall xinhua");
    console.press(KeyCode::Enter);
    assert!(console.screen().contains("新华"), "{}", console.screen());
    console.press(KeyCode::Char('y'));
    assert_eq!(console.control_keys, 3, "`:`, Enter, y");
    console
        .until("the roll-call is followed", |app| app.rollcall.is_some())
        .await;
    let id = console
        .app
        .rollcall
        .as_ref()
        .map(|r| r.id)
        .unwrap_or_default();
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    daemon
        .client(&xinhua)
        .await
        .rollcalls()
        .answer_roll_call(pb::AnswerRollCallRequest {
            id,
            ..Default::default()
        })
        .await
        .expect("answer");
    console
        .until("the answer shows", |app| {
            app.rollcall
                .as_ref()
                .is_some_and(|r| r.posts.iter().all(|p| p.answered_at.is_some()))
        })
        .await;
    assert!(
        console.screen().contains("应答 1/1"),
        "{}",
        console.screen()
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_survives_a_daemon_restart_and_refuses_actions_meanwhile() {
    let (mut daemon, officer) = prepared().await;
    daemon
        .admin()
        .await
        .incidents()
        .create_incident(call("重启前", Some("post:xinhua")))
        .await
        .expect("create");
    let mut console = Console::open(&daemon, &officer).await;
    console
        .until("one incident", |app| app.board.len() == 1)
        .await;
    daemon.stop_only().await;
    console
        .until("says the link is lost", |app| {
            matches!(app.link, Link::Lost { .. })
        })
        .await;
    assert!(console.screen().contains("已断开"), "{}", console.screen());
    // The last state stays on screen, and actions are refused, not lost.
    assert_eq!(console.app.board.len(), 1);
    console.press(KeyCode::Char('m'));
    console.typed("断线时的备注");
    console.press(KeyCode::Enter);
    let message = console.app.message.clone().expect("a message");
    assert!(
        message.error && message.text.contains("未连接"),
        "{message:?}"
    );

    daemon.start_again_same_port().await;
    console
        .until("live again", |app| app.link == Link::Live)
        .await;
    daemon
        .admin()
        .await
        .incidents()
        .create_incident(call("重启后", Some("post:qianjin")))
        .await
        .expect("create");
    console
        .until("new incidents stream in again", |app| app.board.len() == 2)
        .await;
    daemon.stop().await;
}

/// How many events of `kind` an incident's timeline holds, and the first.
async fn events_of(daemon: &TestDaemon, number: &str, kind: &str) -> Vec<pb::Event> {
    daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: number.into(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_works_through_a_dropped_link_and_nothing_is_lost_or_doubled() {
    let (mut daemon, _officer) = prepared().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let incidents = daemon.admin().await.incidents();
    let create = |summary: &'static str, post: &'static str| {
        let request = call(summary, Some(post));
        let mut incidents = incidents.clone();
        async move {
            incidents
                .create_incident(request)
                .await
                .expect("create")
                .into_inner()
                .incident
                .expect("incident")
                .number
        }
    };
    let fire = create("新华路火情", "post:xinhua").await;
    let smoke = create("新华小区冒烟", "post:xinhua").await;
    let elsewhere = create("前进辖区漏水", "post:qianjin").await;
    let outbox = tempfile::tempdir().expect("outbox dir");

    let mut post = Console::open_post(&daemon, &xinhua, outbox.path()).await;
    post.until("its two orders", |app| app.board.len() == 2)
        .await;
    // Its own orders only, lit until signed for.
    assert!(post.app.model.by_number(&elsewhere).is_none());
    assert!(post.screen().contains("新华街道"), "{}", post.screen());

    // The link drops. The post goes on working: sign for and reach the
    // fire, note progress, sign for the smoke.
    daemon.stop_only().await;
    post.until("sees the link is lost", |app| {
        matches!(app.link, Link::Lost { .. })
    })
    .await;
    post.select(&fire);
    post.press(KeyCode::Char('s'));
    post.press(KeyCode::Char('o'));
    post.press(KeyCode::Char('m'));
    post.typed("已到现场，正在疏散");
    post.press(KeyCode::Enter);
    post.select(&smoke);
    post.press(KeyCode::Char('s'));
    post.until("four actions waiting", |app| {
        app.outbox.contents.pending.len() == 4
    })
    .await;
    assert!(post.screen().contains("待发送 4"), "{}", post.screen());
    let resend = post.app.outbox.contents.pending[0].clone();

    // The post's console is closed before the link comes back: the outbox
    // is on disk.
    drop(post);
    tokio::time::sleep(Duration::from_millis(200)).await;
    daemon.start_again_same_port().await;
    let mut post = Console::open_post(&daemon, &xinhua, outbox.path()).await;
    post.until("outbox drained", |app| {
        app.outbox.contents.pending.is_empty()
            && app
                .model
                .by_number(&fire)
                .is_some_and(|i| i.status == pb::IncidentStatus::OnScene as i32)
    })
    .await;

    // A resend of an action already delivered (its answer lost, say) is
    // answered from dutyd's record and changes nothing.
    let client = Client::connect(&daemon.addr, Some(&xinhua))
        .await
        .expect("client");
    dutyroom_console::outbox::send(&client, resend.action.clone().expect("action"))
        .await
        .expect("a resend is answered, not refused");

    // The centre sees every action exactly once, with the post's times.
    for (number, kind) in [
        (&fire, "incident.signed_for"),
        (&fire, "incident.arrived"),
        (&fire, "incident.note_added"),
        (&smoke, "incident.signed_for"),
    ] {
        let found = events_of(&daemon, number, kind).await;
        assert_eq!(found.len(), 1, "{number} {kind}: {found:?}");
        let event = &found[0];
        let reported = event.reported_at.as_ref().expect("the post's time");
        let recorded = event.at.as_ref().expect("dutyd's time");
        assert!(
            reported.seconds <= recorded.seconds,
            "{kind}: done {reported:?}, recorded {recorded:?}"
        );
    }
    daemon.stop().await;
}
