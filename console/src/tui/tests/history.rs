//! `/` searches history as well as the board: on Enter (never per key,
//! since a phone search is journaled), with answers to an older filter
//! dropped, and past incidents selectable below the board's own rows.

use crossterm::event::KeyCode;
use dutyroom_proto::v1 as pb;

use super::super::app::{AppEvent, Effect, HistoryState, Mode};
use super::super::i18n::Lang;
use super::{NOW, app, key, screen, ts};

fn slash(app: &mut super::super::app::App, text: &str) -> Vec<Effect> {
    let mut effects = key(app, KeyCode::Char('/'));
    for c in text.chars() {
        effects.extend(key(app, KeyCode::Char(c)));
    }
    effects
}

fn searches(effects: &[Effect]) -> Vec<(String, pb::SearchIncidentsRequest)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SearchHistory(query, request) => Some((query.clone(), request.clone())),
            _ => None,
        })
        .collect()
}

fn past(id: u64, status: pb::IncidentStatus, summary: &str) -> pb::Incident {
    pb::Incident {
        id,
        number: format!("20261102-{id:04}"),
        status: status as i32,
        severity: pb::Severity::Iii as i32,
        category: "fire".into(),
        place_id: "xingfu".into(),
        territorial_post_id: "xinhua".into(),
        caller_phone: "139****1111".into(),
        summary: summary.into(),
        created_at: ts(NOW - 30 * 86_400),
        ..Default::default()
    }
}

#[test]
fn typing_filters_the_board_and_only_enter_searches_history() {
    let mut app = app(Lang::Zh);
    let typed = slash(&mut app, "13900001111");
    assert!(searches(&typed).is_empty(), "no search per key: {typed:?}");
    let entered = key(&mut app, KeyCode::Enter);
    let asked = searches(&entered);
    assert_eq!(asked.len(), 1, "{entered:?}");
    let (query, request) = &asked[0];
    assert_eq!(query, "13900001111");
    assert_eq!(
        request.phone, "13900001111",
        "a whole number is a phone search"
    );
    assert_eq!(request.text, "", "the number is not also a word to find");
    assert!(matches!(app.mode, Mode::Board));
    let text = screen(&app, 80, 24);
    assert!(text.contains("正在查找历史记录"), "{text}");
}

#[test]
fn past_incidents_follow_the_board_and_open_like_any_other() {
    let mut app = app(Lang::Zh);
    slash(&mut app, "冒烟");
    let entered = key(&mut app, KeyCode::Enter);
    let (query, request) = searches(&entered).remove(0);
    assert_eq!(request.text, "冒烟");
    assert_eq!(request.phone, "", "words are not a phone search");
    let live = app.board.len();
    app.update(AppEvent::History(
        query,
        Ok(pb::ListIncidentsReply {
            incidents: vec![
                past(901, pb::IncidentStatus::Closed, "上月三楼冒烟，已处置"),
                past(902, pb::IncidentStatus::Cancelled, "误报：厨房冒烟"),
            ],
            next_page_token: "more".into(),
        }),
    ));
    assert_eq!(app.board.len(), live + 2, "{:?}", app.board);
    // Wide characters leave a blank cell after them on the test screen.
    let text = screen(&app, 80, 24).replace(' ', "");
    assert!(text.contains("历史记录2条，最近的在前"), "{text}");
    assert!(text.contains("还有更早的"), "{text}");
    assert!(text.contains("已办结") && text.contains("已撤销"), "{text}");
    // Walk down past the live rows onto the first past incident and open it.
    for _ in 0..live {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.selected, Some(901));
    let opened = key(&mut app, KeyCode::Enter);
    assert!(
        opened.contains(&Effect::LoadTimeline("20261102-0901".into())),
        "{opened:?} {:?} {:?}",
        app.message,
        app.mode
    );
    let detail = screen(&app, 80, 24).replace(' ', "");
    assert!(detail.contains("20261102-0901"), "{detail}");
    assert!(detail.contains("上月三楼冒烟"), "{detail}");
}

#[test]
fn an_answer_to_an_older_filter_is_dropped() {
    let mut app = app(Lang::Zh);
    slash(&mut app, "冒烟");
    let (old_query, _) = searches(&key(&mut app, KeyCode::Enter)).remove(0);
    // The officer changes the filter before the answer comes.
    slash(&mut app, "漏水");
    let live = app.board.len();
    app.update(AppEvent::History(
        old_query,
        Ok(pb::ListIncidentsReply {
            incidents: vec![past(901, pb::IncidentStatus::Closed, "冒烟")],
            next_page_token: String::new(),
        }),
    ));
    assert_eq!(app.board.len(), live, "stale rows never reach the board");
    assert!(app.history.is_none());
    // Esc clears the filter and what it found.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Esc);
    assert!(app.history.is_none());
}

#[test]
fn now_only_filters_and_a_posts_phone_digits_stay_off_the_phone_search() {
    let mut app = app(Lang::Zh);
    slash(&mut app, "overdue 冒烟");
    assert!(
        searches(&key(&mut app, KeyCode::Enter)).is_empty(),
        "overdue means now"
    );
    let mut post = super::post_app(Lang::Zh);
    slash(&mut post, "13900001111");
    let (_, request) = searches(&key(&mut post, KeyCode::Enter)).remove(0);
    assert_eq!(request.phone, "", "a post may not search by phone");
    assert_eq!(request.text, "13900001111");
    // `tel:` asks for the last digits, at the centre.
    let mut app = app_with("tel:1111 sev:III");
    let (_, request) = searches(&key(&mut app, KeyCode::Enter)).remove(0);
    assert_eq!(request.phone, "1111");
    assert_eq!(request.severity, pb::Severity::Iii as i32);
}

fn app_with(filter: &str) -> super::super::app::App {
    let mut app = app(Lang::Zh);
    slash(&mut app, filter);
    app
}

#[test]
fn a_failed_search_says_why_under_the_board() {
    let mut app = app(Lang::En);
    slash(&mut app, "smoke");
    let (query, _) = searches(&key(&mut app, KeyCode::Enter)).remove(0);
    app.update(AppEvent::History(query, Err("dutyd unreachable".into())));
    assert!(matches!(
        app.history.as_ref().map(|h| &h.state),
        Some(HistoryState::Failed(_))
    ));
    let text = screen(&app, 80, 24);
    assert!(
        text.contains("history search failed: dutyd unreachable"),
        "{text}"
    );
}
