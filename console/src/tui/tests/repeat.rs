//! The intake form's repeat-caller prompt: asked once per question, answers
//! to an older question dropped, the choice kept by number, and Ctrl-R
//! attaching the call as a repeat call that comes back if refused.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dutyroom_proto::v1 as pb;

use super::super::app::{App, AppEvent, Effect, Mode, Rpc};
use super::super::i18n::Lang;
use super::{app, key, screen, snapshot};

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(app, KeyCode::Char(c)))
        .collect()
}

fn asked(effects: &[Effect]) -> Vec<pb::FindRelatedRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::FindRelated(request) => Some(request.clone()),
            _ => None,
        })
        .collect()
}

fn ctrl_r(app: &mut App) -> Vec<Effect> {
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    )))
}

/// A form filled to the phone field: 火灾, I, 幸福社区, a summary.
fn form_at_phone(app: &mut App) -> Vec<Effect> {
    let mut effects = typed(app, "nhz");
    effects.extend(key(app, KeyCode::Tab));
    effects.extend(typed(app, "1"));
    effects.extend(key(app, KeyCode::Tab));
    effects.extend(typed(app, "xf"));
    effects.extend(key(app, KeyCode::Tab));
    effects.extend(typed(app, "三楼又冒烟了"));
    effects.extend(key(app, KeyCode::Tab));
    effects
}

fn open_incident(number: &str) -> pb::Incident {
    snapshot()
        .incidents
        .into_iter()
        .find(|i| i.number == number)
        .expect("in the snapshot")
}

fn reply(calls: u32, by_phone: &[&str], by_place: &[&str]) -> pb::FindRelatedReply {
    pb::FindRelatedReply {
        calls_last_30_days: calls,
        calls_capped: false,
        open_from_phone: by_phone.iter().map(|n| open_incident(n)).collect(),
        open_same_place: by_place.iter().map(|n| open_incident(n)).collect(),
    }
}

#[test]
fn the_form_asks_once_the_phone_is_whole_and_shows_the_answer() {
    let mut app = app(Lang::Zh);
    let effects = form_at_phone(&mut app);
    // Place and category chosen and left: asked about the place.
    let by_place = asked(&effects);
    assert_eq!(by_place.len(), 1, "{effects:?}");
    assert_eq!(by_place[0].place_id, "xingfu");
    assert_eq!(by_place[0].category, "fire");
    assert_eq!(by_place[0].phone, "");

    // Ten digits typed: not yet a whole mobile number, nothing asked.
    let partial = typed(&mut app, "1390000111");
    assert!(asked(&partial).is_empty(), "{partial:?}");
    let whole = typed(&mut app, "1");
    let question = asked(&whole);
    assert_eq!(question.len(), 1, "{whole:?}");
    assert_eq!(question[0].phone, "13900001111");
    assert_eq!(question[0].place_id, "xingfu");
    assert!(screen(&app, 80, 24).contains("正在查询来电记录"));

    // Moving on with the same number asks nothing again (each lookup by
    // phone is journaled).
    let moved = key(&mut app, KeyCode::Tab);
    assert!(asked(&moved).is_empty(), "{moved:?}");

    app.update(AppEvent::Related(
        question[0].clone(),
        Ok(reply(3, &["20261123-0001"], &["20261123-0001"])),
    ));
    let text = screen(&app, 80, 24).replace(' ', "");
    assert!(text.contains("此号码近30天来电3次"), "{text}");
    assert!(text.contains("▸20261123-0001"), "{text}");
    assert!(text.contains("同号码未结"), "{text}");
    assert!(text.contains("Ctrl-R并入所选"), "{text}");
}

#[test]
fn an_answer_to_an_older_question_is_dropped() {
    let mut app = app(Lang::Zh);
    form_at_phone(&mut app);
    let first = asked(&typed(&mut app, "13900001111")).remove(0);
    // The officer corrects the number before dutyd answers.
    key(&mut app, KeyCode::Backspace);
    let second = asked(&typed(&mut app, "2")).remove(0);
    assert_eq!(second.phone, "13900001112");
    app.update(AppEvent::Related(
        first,
        Ok(reply(9, &["20261123-0001"], &[])),
    ));
    let text = screen(&app, 80, 24).replace(' ', "");
    assert!(!text.contains("来电9次"), "stale answer shown: {text}");
    assert!(text.contains("正在查询来电记录"), "{text}");
    // Ctrl-R with nothing offered attaches nothing and says why.
    let effects = ctrl_r(&mut app);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Rpc(Rpc::RepeatCall(_)))),
        "{effects:?}"
    );
    assert!(screen(&app, 80, 24).contains("没有可并入的未结事件"));
    // The answer comes: the message no longer holds.
    let current = asked(&typed(&mut app, "")).pop();
    assert!(current.is_none());
    let Mode::Form(form) = &app.mode else {
        panic!("form gone");
    };
    let question = form.related.as_ref().expect("asking").asked.clone();
    app.update(AppEvent::Related(
        question,
        Ok(reply(1, &["20261123-0001"], &[])),
    ));
    let text = screen(&app, 80, 24);
    assert!(!text.contains("没有可并入的未结事件"), "{text}");
    assert!(text.replace(' ', "").contains("Ctrl-R并入此事件"), "{text}");
}

#[test]
fn ctrl_r_attaches_the_chosen_incident_and_a_refusal_brings_the_form_back() {
    let mut app = app(Lang::Zh);
    form_at_phone(&mut app);
    let question = asked(&typed(&mut app, "13900001111")).remove(0);
    app.update(AppEvent::Related(
        question.clone(),
        Ok(reply(2, &["20261123-0001"], &["20261123-0002"])),
    ));
    // PgDn chooses the next one; a fresh answer listing them the other way
    // round keeps the choice on the incident, not the row.
    key(&mut app, KeyCode::PageDown);
    app.update(AppEvent::Related(
        question,
        Ok(reply(2, &["20261123-0002"], &["20261123-0001"])),
    ));
    let effects = ctrl_r(&mut app);
    let sent: Vec<&pb::AddRepeatCallRequest> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Rpc(Rpc::RepeatCall(request)) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{effects:?}");
    let request = sent[0];
    assert_eq!(request.incident, "20261123-0002");
    assert_eq!(request.caller_phone, "13900001111");
    assert_eq!(request.text, "三楼又冒烟了");
    assert!(
        request.request_id.ends_with(":repeat:20261123-0002"),
        "{}",
        request.request_id
    );
    // The draft stays on disk until dutyd answers.
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::SaveDraft(Some(_)))),
        "{effects:?}"
    );
    assert!(matches!(app.mode, Mode::Board));

    // dutyd refuses (closed meanwhile): the form comes back as typed, the
    // officer still at the phone, and the list is asked for again.
    let refused = app.update(AppEvent::CreateFailed(
        request.request_id.clone(),
        "20261123-0002 已结案，不能再并入来电".into(),
        None,
    ));
    let Mode::Form(form) = &app.mode else {
        panic!("form not back: {:?}", app.mode);
    };
    assert_eq!(form.text(super::super::form::Field::Phone), "13900001111");
    assert_eq!(form.field(), super::super::form::Field::Phone);
    assert_eq!(asked(&refused).len(), 1, "{refused:?}");
    let text = screen(&app, 80, 24);
    assert!(text.contains("已结案"), "{text}");
    assert!(
        !text.contains("▸20261123-0002"),
        "the old list stays: {text}"
    );
}

#[test]
fn attached_the_form_closes_and_its_draft_goes() {
    let mut app = app(Lang::Zh);
    form_at_phone(&mut app);
    let question = asked(&typed(&mut app, "13900001111")).remove(0);
    app.update(AppEvent::Related(
        question,
        Ok(reply(1, &["20261123-0001"], &[])),
    ));
    let effects = ctrl_r(&mut app);
    let Some(Effect::Rpc(Rpc::RepeatCall(request))) = effects
        .iter()
        .find(|e| matches!(e, Effect::Rpc(Rpc::RepeatCall(_))))
    else {
        panic!("{effects:?}");
    };
    let done = app.update(AppEvent::Created(
        "20261123-0001".into(),
        request.request_id.clone(),
    ));
    assert!(
        done.iter().any(|e| matches!(e, Effect::SaveDraft(None))),
        "{done:?}"
    );
    assert!(matches!(app.mode, Mode::Board));
}

#[test]
fn a_post_console_never_looks_up_callers() {
    let mut app = super::post_app(Lang::Zh);
    let effects = typed(&mut app, "n");
    assert!(asked(&effects).is_empty());
}

#[test]
fn repeat_caller_prompt_80x24_zh() {
    let mut app = app(Lang::Zh);
    form_at_phone(&mut app);
    let question = asked(&typed(&mut app, "13900001111")).remove(0);
    let mut answer = reply(3, &["20261123-0001"], &["20261123-0004"]);
    answer.open_same_place[0].category = "fire".into();
    answer.open_same_place[0].summary = "楼道有烟味".into();
    app.update(AppEvent::Related(question, Ok(answer)));
    insta::assert_snapshot!(screen(&app, 80, 24));
}
