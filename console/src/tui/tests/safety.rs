//! The console under pressure: nothing typed is lost, every action names
//! its target and acts on nothing else. Each test reproduces a defect seen
//! on a busy night (issue 11) and fails on the console before the fix.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dutyroom_proto::v1 as pb;

use super::super::app::{AppEvent, Effect, Leave, Mode, Panel, Rpc};
use super::super::form::Field;
use super::super::i18n::Lang;
use super::{app, command, key, screen};

fn ctrl_c() -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

fn type_text(app: &mut super::super::app::App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(app, KeyCode::Char(c)))
        .collect()
}

/// Opens the form and fills category, severity, place and summary.
fn filled_form(app: &mut super::super::app::App) {
    key(app, KeyCode::Char('n'));
    type_text(app, "fire");
    key(app, KeyCode::Tab);
    type_text(app, "1");
    key(app, KeyCode::Tab);
    type_text(app, "xingfu");
    key(app, KeyCode::Tab);
    type_text(app, "三楼冒烟");
}

fn form_text(app: &super::super::app::App, field: Field) -> String {
    match &app.mode {
        Mode::Form(form) => form.text(field).to_owned(),
        other => panic!("the form is not open: {other:?}"),
    }
}

#[test]
fn a_paste_with_line_breaks_stays_in_its_field_and_runs_no_keys() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    // An address pasted with a line break and board hotkeys in it.
    let effects = app.update(AppEvent::Paste("，新华路12号\r\n3e单元".into()));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Rpc(_))),
        "nothing submitted: {effects:?}"
    );
    assert_eq!(
        form_text(&app, Field::Summary),
        "三楼冒烟，新华路12号 3e单元"
    );
    // On the board a paste is dropped, not run as keys (`3` switched views).
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('y'));
    let filter = app.filter.clone();
    assert!(app.update(AppEvent::Paste("3e\n".into())).is_empty());
    assert!(matches!(app.mode, Mode::Board));
    assert_eq!(app.filter, filter);
    assert!(app.message.as_ref().is_some_and(|m| m.error));
}

#[test]
fn a_refused_call_comes_back_with_the_reason_at_its_field() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    let effects = key(&mut app, KeyCode::Enter);
    let request = &created(&effects);
    let sent = request.request_id.clone();
    assert!(!sent.is_empty(), "a retry cannot record the call twice");
    // The officer moves on at once.
    assert!(matches!(app.mode, Mode::Board));
    app.update(AppEvent::CreateFailed(
        sent.clone(),
        "电话: 最多 64 字 (现 80)".into(),
        Some("intake.caller_phone".into()),
    ));
    let Mode::Form(form) = &app.mode else {
        panic!("the refused call did not come back");
    };
    assert_eq!(form.field(), Field::Phone, "the phone field is focused");
    assert!(
        form.problem.as_deref().is_some_and(|p| p.contains("64")),
        "{:?}",
        form.problem
    );
    assert_eq!(
        form.text(Field::Summary),
        "三楼冒烟",
        "nothing typed is lost"
    );
    assert!(screen(&app, 80, 24).contains("最多 64 字"));
    // Accepted this time: the draft is dropped.
    let effects = key(&mut app, KeyCode::Enter);
    let request = &created(&effects);
    let effects = app.update(AppEvent::Created(
        "20261123-0042".into(),
        request.request_id.clone(),
    ));
    assert!(matches!(app.mode, Mode::Board));
    assert!(effects.contains(&Effect::SaveDraft(None)), "{effects:?}");
}

#[test]
fn a_call_refused_while_the_officer_types_elsewhere_waits_for_n() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    let effects = key(&mut app, KeyCode::Enter);
    let request = &created(&effects);
    let sent = request.request_id.clone();
    // Already writing a note on another incident when the refusal comes.
    key(&mut app, KeyCode::Char('m'));
    type_text(&mut app, "电话已通知");
    app.update(AppEvent::CreateFailed(
        sent,
        "摘要: 必填".into(),
        Some("intake.summary".into()),
    ));
    assert!(
        matches!(app.mode, Mode::Prompt(..)),
        "the note is not interrupted"
    );
    assert!(app.message.as_ref().is_some_and(|m| m.error));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('y'));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(
        form_text(&app, Field::Summary),
        "三楼冒烟",
        "n reopens the call"
    );
}

#[test]
fn ctrl_c_and_esc_ask_before_throwing_a_call_away() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    assert!(app.update(ctrl_c()).is_empty());
    assert!(
        !app.quit,
        "Ctrl-C in a half-typed form does not quit at once"
    );
    assert!(matches!(&app.mode, Mode::Leave(_, Leave::Quit)));
    assert!(screen(&app, 80, 24).contains("退出?"));
    // Any other key goes back to the form, and is not typed into it.
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(form_text(&app, Field::Summary), "三楼冒烟");
    // Esc asks too; `y` discards.
    key(&mut app, KeyCode::Esc);
    assert!(matches!(&app.mode, Mode::Leave(_, Leave::Discard)));
    let effects = key(&mut app, KeyCode::Char('y'));
    assert!(matches!(app.mode, Mode::Board));
    assert!(effects.contains(&Effect::SaveDraft(None)));
    // With nothing typed, Ctrl-C quits straight away.
    assert_eq!(app.update(ctrl_c()), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn ctrl_c_with_a_prompt_open_asks_and_then_quits() {
    let mut app = app(Lang::Zh);
    key(&mut app, KeyCode::Char('m'));
    type_text(&mut app, "现场已");
    app.update(ctrl_c());
    assert!(!app.quit);
    assert!(matches!(&app.mode, Mode::Leave(_, Leave::Quit)));
    assert_eq!(
        app.update(ctrl_c()),
        vec![Effect::Quit],
        "Ctrl-C twice quits"
    );
}

#[test]
fn the_intake_draft_is_kept_as_typed_and_restored() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    let effects = type_text(&mut app, "!");
    let Some(Effect::SaveDraft(Some(draft))) = effects.last() else {
        panic!("every change keeps the draft: {effects:?}");
    };
    assert_eq!(draft.fields[3], "三楼冒烟!");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("drafts/0a1b/intake.json");
    super::super::save_draft(&path, Some(draft.clone())).expect("save");
    let loaded = super::super::load_draft(&path).expect("load");
    let mut restarted = super::app(Lang::Zh);
    restarted.restore_draft(&loaded);
    assert_eq!(form_text(&restarted, Field::Summary), "三楼冒烟!");
    assert_eq!(form_text(&restarted, Field::Place), "xingfu");
    super::super::save_draft(&path, None).expect("remove");
    assert!(super::super::load_draft(&path).is_none());
}

#[test]
fn keys_do_not_act_on_a_selection_hidden_by_a_panel() {
    let mut app = app(Lang::Zh);
    app.width = 80;
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.panel, Panel::Posts);
    for action in ['X', 'C', 'R', 'e', 'A', 'm'] {
        let effects = key(&mut app, KeyCode::Char(action));
        assert!(effects.is_empty(), "{action}: {effects:?}");
        assert!(
            matches!(app.mode, Mode::Board),
            "{action} opened {:?}",
            app.mode
        );
        assert!(app.message.as_ref().is_some_and(|m| m.error), "{action}");
    }
    // Beside the board (wide terminal) the same key works.
    app.width = 160;
    key(&mut app, KeyCode::Char('X'));
    assert!(matches!(app.mode, Mode::Prompt(..)));
}

#[test]
fn a_re_sort_between_key_and_confirm_does_not_move_the_target() {
    let mut app = app(Lang::Zh);
    let first = app.board[0];
    let target = app.model.incidents[&first].number.clone();
    key(&mut app, KeyCode::Char('C'));
    // The prompt names the incident.
    let shown = screen(&app, 80, 24);
    assert!(
        shown.contains(target.rsplit('-').next().unwrap_or_default()),
        "{shown}"
    );
    assert!(shown.contains("居民楼三层冒烟"), "{shown}");
    // The board moves under the officer: another row is selected now.
    app.selected = app.board.last().copied();
    type_text(&mut app, "5");
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, "已回访");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Confirm(_)), "close is confirmed");
    let effects = key(&mut app, KeyCode::Char('y'));
    let [Effect::Rpc(Rpc::Close(close))] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(close.incident, target);
}

#[test]
fn cancelling_a_severity_one_incident_is_confirmed_twice() {
    let mut app = app(Lang::Zh);
    let fire = app.model.by_number("20261123-0001").map(|i| i.id);
    app.selected = fire;
    key(&mut app, KeyCode::Char('X'));
    type_text(&mut app, "误报");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(
        key(&mut app, KeyCode::Char('y')).is_empty(),
        "one y is not enough"
    );
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("再次确认"), "{shown}");
    assert!(shown.contains("0001"), "{shown}");
    // A double tap of y does not pass the second question: it takes Y.
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(matches!(app.mode, Mode::Board), "a second y cancels");
    key(&mut app, KeyCode::Char('X'));
    type_text(&mut app, "误报");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    let effects = key(&mut app, KeyCode::Char('Y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Cancel(c))] if c.incident == "20261123-0001"),
        "{effects:?}"
    );
    // A severity IV incident: once; and `n` leaves it alone.
    let noise = app.model.by_number("20261123-0003").map(|i| i.id);
    app.selected = noise;
    key(&mut app, KeyCode::Char('X'));
    type_text(&mut app, "误报");
    key(&mut app, KeyCode::Enter);
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(matches!(app.mode, Mode::Board));
}

#[test]
fn acknowledging_touches_only_the_named_incident() {
    let mut app = app(Lang::Zh);
    // Another alarm on the fire, so one key must acknowledge both.
    app.model.alarms.insert(
        4,
        pb::Alarm {
            id: 4,
            level: 1,
            incident: "20261123-0001".into(),
            ..Default::default()
        },
    );
    app.selected = app.model.by_number("20261123-0003").map(|i| i.id);
    let effects = key(&mut app, KeyCode::Char('A'));
    assert!(effects.is_empty(), "no alarm on 0003: {effects:?}");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("0003"))
    );
    app.selected = app.model.by_number("20261123-0001").map(|i| i.id);
    let acked: Vec<u64> = key(&mut app, KeyCode::Char('A'))
        .into_iter()
        .filter_map(|e| match e {
            Effect::Rpc(Rpc::Ack(a)) => Some(a.id),
            _ => None,
        })
        .collect();
    assert_eq!(acked, vec![3, 4], "every alarm of 0001, in one key");
    // All of them: asked first.
    assert!(command(&mut app, "ack all").is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));
    assert_eq!(key(&mut app, KeyCode::Char('y')).len(), 2);
}

#[test]
fn call_shows_what_it_understood_and_sends_nothing_before_enter() {
    let mut app = app(Lang::Zh);
    // `hou` is no category's name: it was silently taken as 供水漏损.
    let effects = command(&mut app, "call hou 2 xingfu 路面冒水 13800000000");
    assert!(effects.is_empty(), "nothing sent yet: {effects:?}");
    assert!(matches!(app.mode, Mode::CallPreview(_)));
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("? 供水漏损"), "a guess is marked: {shown}");
    assert!(shown.contains("幸福社区 → 新华街道"), "{shown}");
    // Esc goes back to the line, as typed, to correct it.
    key(&mut app, KeyCode::Esc);
    let Mode::Command(line) = &app.mode else {
        panic!("{:?}", app.mode);
    };
    assert_eq!(line.text(), "call hou 2 xingfu 路面冒水 13800000000");
    // Esc on a typed line asks before throwing it away.
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Leave(..)), "{:?}", app.mode);
    key(&mut app, KeyCode::Char('y'));
    // Exact words: no question marks; Enter sends it with its lead.
    command(&mut app, "call fire 1 xingfu 三楼冒烟 13800000000");
    assert!(!screen(&app, 80, 24).contains("? "));
    let effects = key(&mut app, KeyCode::Enter);
    let request = &created(&effects);
    assert!(!request.request_id.is_empty());
    assert_eq!(
        request.dispatch[0].assignee.as_ref().map(|a| a.id.as_str()),
        Some("xinhua")
    );
}

#[test]
fn call_with_an_unknown_place_does_not_dispatch_without_being_asked() {
    let mut app = app(Lang::Zh);
    command(&mut app, "call fire 1 zzzz 三楼冒烟");
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("无匹配"), "{shown}");
    assert!(shown.contains("无主办"), "{shown}");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "Enter alone is refused"
    );
    assert!(app.message.as_ref().is_some_and(|m| m.error));
    let effects = key(&mut app, KeyCode::Char('y'));
    let [Effect::Rpc(Rpc::Create(request))] = effects.as_slice() else {
        panic!("y records it anyway: {effects:?}");
    };
    assert!(
        request
            .dispatch
            .iter()
            .all(|a| a.role != pb::AssignmentRole::Lead as i32),
        "no lead"
    );
}

#[test]
fn the_detail_scrolls_at_80x24_to_the_end_of_a_long_timeline() {
    use super::assignment;
    let mut app = app(Lang::Zh);
    let number = "20261123-0001".to_owned();
    if let Some(fire) = app.model.incidents.get_mut(&1) {
        for (id, unit) in [(3, "water"), (4, "power"), (5, "health")] {
            fire.assignments.push(assignment(
                id,
                pb::AssigneeKind::Unit,
                unit,
                false,
                pb::AssignmentState::Dispatched,
            ));
        }
    }
    app.selected = Some(1);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Detail));
    let events: Vec<pb::Event> = (1..=30)
        .map(|n| pb::Event {
            seq: n,
            kind: "incident.noted".into(),
            subject_kind: "incident".into(),
            subject_id: number.clone(),
            body: Some(pb::event::Body::NoteAdded(pb::NoteAdded {
                note: Some(pb::Note {
                    text: format!("第{n}条进展"),
                    ..Default::default()
                }),
            })),
            ..Default::default()
        })
        .collect();
    app.update(AppEvent::Timeline(number, events));
    let top = screen(&app, 80, 24);
    assert!(top.contains("↓"), "more below is shown: {top}");
    assert!(!top.contains("第30条进展"));
    key(&mut app, KeyCode::Char('G'));
    let bottom = screen(&app, 80, 24);
    assert!(bottom.contains("第30条进展"), "{bottom}");
    assert!(bottom.contains("↑"), "{bottom}");
    // Scrolling does not move the selection.
    assert_eq!(app.selected, Some(1));
}

#[test]
fn the_message_log_keeps_what_the_bottom_line_overwrote() {
    let mut app = app(Lang::Zh);
    app.update(AppEvent::Done(Err("intake.summary: is required".into())));
    app.update(AppEvent::Done(Ok("派单 0042 ✓".into())));
    app.update(AppEvent::Done(Ok("备注 0042 ✓".into())));
    key(&mut app, KeyCode::Char('L'));
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("intake.summary: is required"), "{shown}");
    assert!(shown.contains("派单 0042"), "{shown}");
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Board));
}

#[test]
fn the_incoming_officer_sees_the_handover_and_countersigns_in_four_keys() {
    let mut app = app(Lang::Zh);
    let signed_out = pb::Handover {
        id: 12,
        status: "signed_out".into(),
        signed_out_by: Some(pb::Principal {
            token_id: "99990000".into(),
            name: "李强".into(),
            role: "officer".into(),
        }),
        notes: "新华路火情需跟进".into(),
        ..Default::default()
    };
    app.update(AppEvent::PendingHandovers(vec![signed_out]));
    assert!(app.message.as_ref().is_some_and(|m| m.text.contains("#12")));
    assert!(screen(&app, 80, 24).contains("待接班! #12"));
    let mut control_keys = 0;
    let mut press = |app: &mut super::super::app::App, code: KeyCode| {
        control_keys += 1;
        key(app, code)
    };
    press(&mut app, KeyCode::Char('H'));
    assert_eq!(app.panel, Panel::Handover);
    assert_eq!(app.handover.as_ref().map(|h| h.id), Some(12));
    press(&mut app, KeyCode::Char('H'));
    assert!(matches!(app.mode, Mode::Prompt(..)), "{:?}", app.mode);
    type_text(&mut app, "已接班");
    press(&mut app, KeyCode::Enter);
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Handover(
            super::super::app::HandoverStep::Countersign(12, "已接班".into())
        )]
    );
    assert_eq!(control_keys, 4);
    // The officer who signed it out is not asked to receive it.
    let mut own = app_with_me("99990000");
    own.update(AppEvent::PendingHandovers(vec![pb::Handover {
        id: 12,
        status: "signed_out".into(),
        signed_out_by: Some(pb::Principal {
            token_id: "99990000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }]));
    assert!(own.handover_for_me().is_none());
}

fn app_with_me(token_id: &str) -> super::super::app::App {
    let mut app = app(Lang::Zh);
    if let Some(me) = &mut app.me {
        me.token_id = token_id.into();
    }
    app
}

#[test]
fn the_intake_is_corrected_from_the_console_sending_only_what_changed() {
    let mut app = app(Lang::Zh);
    app.selected = app.model.by_number("20261123-0002").map(|i| i.id);
    let effects = key(&mut app, KeyCode::Char('E'));
    assert_eq!(effects, vec![Effect::Fetch("20261123-0002".into())]);
    assert!(screen(&app, 80, 24).contains("修改接警 20261123-0002"));
    let mut full = app.model.incidents[&2].clone();
    full.caller_phone = "13812345678".into();
    app.update(AppEvent::Fetched(Box::new(full)));
    assert_eq!(form_text(&app, Field::Phone), "13812345678");
    // Unchanged: Esc closes without asking, and no call draft is touched.
    let effects = key(&mut app, KeyCode::Esc);
    assert!(effects.is_empty(), "{effects:?}");
    assert!(matches!(app.mode, Mode::Board));
    key(&mut app, KeyCode::Char('E'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Tab);
    }
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    let typed = type_text(&mut app, "路面水管爆裂，已关阀");
    assert!(
        !typed.iter().any(|e| matches!(e, Effect::SaveDraft(_))),
        "a correction is not a call draft: {typed:?}"
    );
    let effects = key(&mut app, KeyCode::Enter);
    let [Effect::Rpc(Rpc::Update(update))] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(update.incident, "20261123-0002");
    assert_eq!(update.summary.as_deref(), Some("路面水管爆裂，已关阀"));
    assert!(
        update.category.is_none() && update.severity.is_none() && update.caller_phone.is_none()
    );
}

#[test]
fn an_assignment_is_withdrawn_or_the_lead_transferred() {
    let mut app = app(Lang::Zh);
    app.selected = app.model.by_number("20261123-0001").map(|i| i.id);
    key(&mut app, KeyCode::Char('W'));
    assert!(screen(&app, 80, 24).contains("0001"), "the prompt names it");
    type_text(&mut app, "#2");
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, "消防已撤离");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Confirm(_)));
    let effects = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Unassign(u))] if u.assignment_id == 2 && u.incident == "20261123-0001"),
        "{effects:?}"
    );
    // By the assignee's name; an assignee not on it is refused.
    command(&mut app, "unassign 0001 fire 重复派单");
    let effects = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Unassign(u))] if u.assignment_id == 2),
        "{effects:?}"
    );
    command(&mut app, "unassign 0001 qianjin 无");
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(app.message.as_ref().is_some_and(|m| m.error));
    // Transfer: the lead moves to another post.
    let effects = command(&mut app, "transfer 0001 qianjin");
    assert!(
        matches!(effects.as_slice(), [Effect::Rpc(Rpc::Assign(a))] if a.replace_lead && a.assignee.as_ref().is_some_and(|x| x.id == "qianjin")),
        "{effects:?}"
    );
}

#[test]
fn the_exact_address_is_kept_while_the_place_routes_the_call() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    // Summary → phone → exact address.
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "新华路12号3单元");
    let effects = key(&mut app, KeyCode::Enter);
    let request = &created(&effects);
    let intake = request.intake.clone().unwrap_or_default();
    assert_eq!(intake.address, "新华路12号3单元");
    assert_eq!(intake.place_id, "xingfu", "the place still routes it");
    assert_eq!(
        request.dispatch[0].assignee.as_ref().map(|a| a.id.as_str()),
        Some("xinhua")
    );
}

#[test]
fn a_post_typing_while_a_panel_hides_its_board_acts_on_nothing() {
    let mut app = super::post_app(Lang::Zh);
    app.width = 80;
    // The handover panel (after on-duty) is shown in place of the board.
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.panel, Panel::Handover);
    for stray in ['o', 'R', 's', 'x', 'm', 'i'] {
        let effects = key(&mut app, KeyCode::Char(stray));
        assert!(effects.is_empty(), "{stray}: {effects:?}");
        assert!(matches!(app.mode, Mode::Board), "{stray}: {:?}", app.mode);
    }
}

#[test]
fn open_with_a_number_not_on_the_board_opens_nothing() {
    let mut app = app(Lang::Zh);
    app.selected = app.model.by_number("20261123-0001").map(|i| i.id);
    assert!(command(&mut app, "open 0099").is_empty());
    assert!(matches!(app.mode, Mode::Board), "{:?}", app.mode);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("0099"))
    );
}

#[test]
fn a_long_summary_shows_its_end_while_it_is_typed() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    type_text(&mut app, &"一二三四五六七八九十".repeat(5));
    type_text(&mut app, "末尾在此");
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("末尾在此"), "{shown}");
}

#[test]
fn after_g_one_k_scrolls_the_detail_up() {
    let mut app = app(Lang::Zh);
    app.selected = Some(1);
    key(&mut app, KeyCode::Enter);
    let events: Vec<pb::Event> = (1..=40)
        .map(|n| pb::Event {
            seq: n,
            kind: "incident.noted".into(),
            subject_kind: "incident".into(),
            subject_id: "20261123-0001".into(),
            body: Some(pb::event::Body::NoteAdded(pb::NoteAdded {
                note: Some(pb::Note {
                    text: format!("第{n}条"),
                    ..Default::default()
                }),
            })),
            ..Default::default()
        })
        .collect();
    app.update(AppEvent::Timeline("20261123-0001".into(), events));
    // A frame is drawn before the next key, as in the console.
    let _ = screen(&app, 80, 24);
    key(&mut app, KeyCode::Char('G'));
    let bottom = screen(&app, 80, 24);
    assert!(bottom.contains("第40条"), "{bottom}");
    key(&mut app, KeyCode::Char('k'));
    let up = screen(&app, 80, 24);
    assert!(!up.contains("第40条"), "one k moves up at once: {up}");
}

#[test]
fn call_takes_the_start_of_a_pinyin_only_one_candidate_has_as_meant() {
    let mut app = app(Lang::Zh);
    command(&mut app, "call huo 1 xingfu 三楼冒烟");
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("火灾"), "{shown}");
    assert!(!shown.contains("? "), "huo starts only huozai: {shown}");
}

/// A crash between submitting a call and dutyd's answer: the call may be
/// recorded. The restored draft goes again under its first request id, so
/// it cannot become a second incident; edited, it is a new request.
#[test]
fn a_call_restored_after_a_crash_mid_submit_cannot_be_recorded_twice() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    let effects = key(&mut app, KeyCode::Enter);
    let [
        Effect::SaveDraft(Some(on_disk)),
        Effect::Rpc(Rpc::Create(sent)),
    ] = effects.as_slice()
    else {
        panic!("the draft is kept with its request id before sending: {effects:?}");
    };
    assert_eq!(
        on_disk.request_id.as_deref(),
        Some(sent.request_id.as_str())
    );
    // The console dies here; a new one restores the draft.
    let mut restarted = super::app(Lang::Zh);
    restarted.restore_draft(on_disk);
    assert!(
        restarted
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("可能已登记"))
    );
    let effects = key(&mut restarted, KeyCode::Enter);
    let resent = effects.iter().find_map(|e| match e {
        Effect::Rpc(Rpc::Create(r)) => Some(r.request_id.clone()),
        _ => None,
    });
    assert_eq!(resent.as_deref(), Some(sent.request_id.as_str()));
    // Changed before sending: a new call, a new id.
    let mut edited = super::app(Lang::Zh);
    edited.restore_draft(on_disk);
    type_text(&mut edited, "，三楼");
    let effects = key(&mut edited, KeyCode::Enter);
    let fresh = effects.iter().find_map(|e| match e {
        Effect::Rpc(Rpc::Create(r)) => Some(r.request_id.clone()),
        _ => None,
    });
    assert!(fresh.is_some_and(|id| id != sent.request_id));
}

/// The call an Enter sent (beside keeping its draft).
fn created(effects: &[Effect]) -> pb::CreateIncidentRequest {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Rpc(Rpc::Create(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no call sent: {effects:?}"))
}

#[test]
fn what_would_be_refused_is_not_confirmed_first() {
    let mut app = app(Lang::Zh);
    command(&mut app, "close 0001 9 已回访");
    assert!(matches!(app.mode, Mode::Board), "{:?}", app.mode);
    assert!(app.message.as_ref().is_some_and(|m| m.error));
    command(&mut app, "merge 0002 0002");
    assert!(matches!(app.mode, Mode::Board), "{:?}", app.mode);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("不能并入自己"))
    );
    command(&mut app, "close 0001 5 已回访");
    assert!(matches!(app.mode, Mode::Confirm(_)));
}

#[test]
fn a_place_that_routes_to_no_post_is_said_even_when_units_go() {
    let mut app = app(Lang::Zh);
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "fire");
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "1");
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "zzzz路");
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("区消防救援大队"), "units still go: {shown}");
    assert!(shown.contains("无辖区指挥部"), "{shown}");
}

#[test]
fn a_call_marked_as_a_drill_goes_out_as_one_and_every_view_says_so() {
    let mut app = app(Lang::Zh);
    filled_form(&mut app);
    // Summary → phone → address → name → source.
    for _ in 0..4 {
        key(&mut app, KeyCode::Tab);
    }
    assert_eq!(
        match &app.mode {
            Mode::Form(form) => form.field(),
            other => panic!("the form is not open: {other:?}"),
        },
        Field::Source
    );
    assert!(screen(&app, 80, 24).contains("空格 标为演练"));
    key(&mut app, KeyCode::Char(' '));
    assert!(screen(&app, 80, 24).contains("【演练】"));
    // Twice is no drill; three times is one.
    key(&mut app, KeyCode::Char(' '));
    assert!(!screen(&app, 80, 24).contains("【演练】"));
    key(&mut app, KeyCode::Char(' '));
    // The mark survives a console crash with the draft.
    let draft = match &app.mode {
        Mode::Form(form) => form.draft(),
        other => panic!("the form is not open: {other:?}"),
    };
    assert!(draft.drill);
    let effects = key(&mut app, KeyCode::Enter);
    let request = created(&effects);
    assert!(request.intake.unwrap_or_default().drill);

    // On the board, in the detail and in the attention queue.
    let mut app = super::app(Lang::Zh);
    let number = "20261123-0001";
    let id = app
        .model
        .by_number(number)
        .map(|i| i.id)
        .expect("on the board");
    if let Some(incident) = app.model.incidents.get_mut(&id) {
        incident.drill = true;
    }
    app.rebuild();
    let board = screen(&app, 80, 24);
    assert!(board.contains("【演练】"), "{board}");
    assert_eq!(
        board.matches("【演练】").count(),
        1,
        "only the drill: {board}"
    );
    command(&mut app, &format!("open {number}"));
    assert!(screen(&app, 80, 24).contains("【演练】"));
}
