//! The board: open incidents, most urgent first, one line each.

use dutyroom_proto::v1 as pb;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::tui::app::{App, History, HistoryState};
use crate::tui::i18n::{Lang, T};
use crate::tui::text::{fit, truncate};
use crate::tui::urgency;

/// The roman numeral of a severity.
pub(super) fn numeral(severity: i32) -> &'static str {
    use pb::Severity as S;
    match S::try_from(severity) {
        Ok(S::I) => "I",
        Ok(S::Ii) => "II",
        Ok(S::Iii) => "III",
        Ok(S::Iv) => "IV",
        _ => "?",
    }
}

/// An incident status in words.
pub(super) fn status(app: &App, status: i32) -> &'static str {
    use pb::IncidentStatus as S;
    app.t(match S::try_from(status) {
        Ok(S::New) => T::StatusNew,
        Ok(S::Dispatched) => T::StatusDispatched,
        Ok(S::Signed) => T::StatusSigned,
        Ok(S::OnScene) => T::StatusOnScene,
        Ok(S::Resolved) => T::StatusResolved,
        Ok(S::Closed) => T::StatusClosed,
        Ok(S::Cancelled) => T::StatusCancelled,
        _ => T::StatusMerged,
    })
}

/// An assignment state in words.
pub(super) fn state(app: &App, state: i32) -> &'static str {
    use pb::AssignmentState as S;
    app.t(match S::try_from(state) {
        Ok(S::Dispatched) => T::Dispatched,
        Ok(S::SignedFor) => T::SignedFor,
        Ok(S::OnScene) => T::OnScene,
        Ok(S::Done) => T::Done,
        Ok(S::Refused) => T::Refused,
        _ => T::Withdrawn,
    })
}

/// A clock kind in words.
pub(super) fn clock(app: &App, kind: pb::ClockKind) -> &'static str {
    app.t(match kind {
        pb::ClockKind::SignFor => T::ClockSign,
        pb::ClockKind::Arrive => T::ClockArrive,
        _ => T::ClockResolve,
    })
}

/// A category's name in the console's language.
pub(super) fn category(app: &App, code: &str) -> String {
    match app.model.categories.get(code) {
        Some(c) if app.lang == Lang::Zh || c.name_en.is_empty() => c.name_zh.clone(),
        Some(c) => c.name_en.clone(),
        None => code.to_owned(),
    }
}

/// A post's or unit's display name.
pub(super) fn assignee_name(app: &App, assignee: Option<&pb::Assignee>) -> String {
    let Some(a) = assignee else {
        return String::new();
    };
    let name = if a.kind == pb::AssigneeKind::Post as i32 {
        app.model.posts.get(&a.id).map(|p| p.name.clone())
    } else {
        app.model.units.get(&a.id).map(|u| u.name.clone())
    };
    name.unwrap_or_else(|| a.id.clone())
}

/// The active lead assignment.
pub(super) fn lead(incident: &pb::Incident) -> Option<&pb::Assignment> {
    use pb::AssignmentState as S;
    incident.assignments.iter().find(|a| {
        a.role == pb::AssignmentRole::Lead as i32
            && matches!(
                S::try_from(a.state),
                Ok(S::Dispatched | S::SignedFor | S::OnScene | S::Done)
            )
    })
}

/// A post's or unit's name as a board cell has room for: `新华街道` → `新华`.
pub(super) fn short_name(name: &str) -> String {
    let mut short = name;
    'strip: loop {
        for suffix in ["办事处", "指挥部", "街道", "乡", "镇"] {
            if let Some(stem) = short.strip_suffix(suffix)
                && stem.chars().count() >= 2
            {
                short = stem;
                continue 'strip;
            }
        }
        return short.to_owned();
    }
}

/// Who leads an incident, for the centre's board: `!新华✕ 待签收` — `!` the
/// post is in emergency mode, `✕` it is offline; `!退单 新华` when the lead
/// sent the order back and no one leads now. The flag says "needs the
/// officer" (offline lead, send-back, no lead).
pub(super) fn lead_cell(app: &App, incident: &pb::Incident, cells: usize) -> (String, bool) {
    if let Some(a) = lead(incident) {
        let who = a.assignee.as_ref();
        let key = who.map(crate::tui::model::assignee_key).unwrap_or_default();
        let emergency = who.is_some_and(|w| {
            w.kind == pb::AssigneeKind::Post as i32
                && app
                    .model
                    .posts
                    .get(&w.id)
                    .is_some_and(|p| p.mode == pb::PostMode::Emergency as i32)
        });
        let offline = app.model.presence.get(&key).is_some_and(|p| !p.online);
        let mut text = format!(
            "{}{}{}",
            if emergency { "!" } else { "" },
            short_name(&assignee_name(app, who)),
            if offline { "✕" } else { "" },
        );
        // The state when there is room; the clock column says what is due.
        if cells >= 14 {
            text.push(' ');
            text.push_str(state(app, a.state));
        }
        return (text, offline);
    }
    let refused = incident.assignments.iter().rev().find(|a| {
        a.role == pb::AssignmentRole::Lead as i32 && a.state == pb::AssignmentState::Refused as i32
    });
    match refused {
        Some(a) => (
            format!(
                "!{} {}",
                app.t(T::SentBack),
                short_name(&assignee_name(app, a.assignee.as_ref()))
            ),
            true,
        ),
        // Nobody leads a call still being handled: that needs the officer.
        None => (
            app.t(T::NoLead).to_owned(),
            incident.status < pb::IncidentStatus::Resolved as i32,
        ),
    }
}

/// Where an incident is: its place's name, else its post's, else the
/// address as given.
pub(super) fn where_(app: &App, incident: &pb::Incident) -> String {
    if let Some(place) = app.model.places.get(&incident.place_id) {
        return place.name.clone();
    }
    if let Some(post) = app.model.posts.get(&incident.territorial_post_id) {
        return post.name.clone();
    }
    incident.address.clone()
}

/// Column widths for a board `total` cells wide (0: column hidden).
struct Columns {
    number: usize,
    age: usize,
    severity: usize,
    category: usize,
    place: usize,
    lead: usize,
    clock: usize,
    summary: usize,
}

impl Columns {
    fn for_width(total: usize) -> Columns {
        let mut columns = Columns {
            number: 4,
            age: 4,
            severity: 4,
            category: 8,
            place: 12,
            lead: 8,
            clock: 10,
            summary: 0,
        };
        if total >= 110 {
            columns.number = 13;
            columns.category = 10;
            columns.place = 16;
            columns.lead = 16;
            columns.clock = 12;
        }
        // Narrow terminals lose the least needed columns first, whole.
        if total < 72 {
            columns.lead = 0;
        }
        if total < 62 {
            columns.category = 0;
        }
        if total < 48 {
            columns.age = 0;
        }
        let shown = [
            columns.number,
            columns.age,
            columns.severity,
            columns.category,
            columns.place,
            columns.lead,
            columns.clock,
        ];
        let fixed: usize = shown.iter().filter(|w| **w > 0).map(|w| w + 1).sum();
        if fixed > total {
            columns.place = columns.place.saturating_sub(fixed - total);
        }
        columns.summary = total.saturating_sub(fixed + 1);
        columns
    }
}

/// Draws the board into `area`.
pub(super) fn render(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let total = area.width as usize;
    let columns = Columns::for_width(total);
    let rows = area.height.saturating_sub(1) as usize;
    let header = [
        (app.t(T::Number), columns.number),
        (app.t(T::Age), columns.age),
        (app.t(T::SeverityShort), columns.severity),
        (app.t(T::Category), columns.category),
        (app.t(T::Where), columns.place),
        (
            app.t(if app.own.is_some() { T::Ours } else { T::Lead }),
            columns.lead,
        ),
        (app.t(T::Clock), columns.clock),
        (app.t(T::Summary), columns.summary),
    ]
    .iter()
    .filter(|(_, cells)| *cells > 0)
    .map(|(label, cells)| fit(label, *cells))
    .collect::<Vec<_>>()
    .join(" ");
    let mut lines = vec![Line::from(Span::styled(
        truncate(&header, total),
        theme.dim().add_modifier(Modifier::BOLD),
    ))];
    let mut items: Vec<Item> = Vec::new();
    if app.board_live == 0 {
        let shown = app
            .replay
            .as_ref()
            .and_then(|r| r.shown.as_ref())
            .map_or(&app.model, |(_, then)| then);
        let empty = if shown.incidents.is_empty() {
            T::NoIncidents
        } else {
            T::NoMatch
        };
        items.push(Item::Note(app.t(empty).to_owned()));
    }
    items.extend(app.board[..app.board_live].iter().map(|id| Item::Row(*id)));
    if let Some(history) = &app.history {
        items.push(Item::Note(history_heading(
            app,
            history,
            app.board.len() - app.board_live,
        )));
        items.extend(app.board[app.board_live..].iter().map(|id| Item::Row(*id)));
    }
    // Keep the selection in view.
    let selected = app
        .selected
        .and_then(|id| items.iter().position(|item| *item == Item::Row(id)))
        .unwrap_or(0);
    let first = selected.saturating_sub(rows.saturating_sub(1));
    for item in items.iter().skip(first).take(rows) {
        match item {
            Item::Note(text) => {
                lines.push(Line::from(Span::styled(truncate(text, total), theme.dim())));
            }
            Item::Row(id) => {
                let Some(incident) = app.incident(*id) else {
                    continue;
                };
                lines.push(row(
                    app,
                    theme,
                    incident,
                    &columns,
                    Some(*id) == app.selected,
                ));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A line of the board: an incident, or a word about the rows below it.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Row(u64),
    Note(String),
}

/// The line above what `/` found in history.
fn history_heading(app: &App, history: &History, shown: usize) -> String {
    let said = match &history.state {
        HistoryState::Searching => app.t(T::HistorySearching).to_owned(),
        HistoryState::Failed(why) => format!("{}: {why}", app.t(T::HistoryFailed)),
        HistoryState::Found { .. } if shown == 0 => app.t(T::HistoryNothingMore).to_owned(),
        HistoryState::Found { more } => format!(
            "{} {shown}{}{}",
            app.t(T::HistoryFound),
            app.t(T::HistoryFoundTail),
            if *more { app.t(T::HistoryMore) } else { "" }
        ),
    };
    format!("── {said} ──")
}

fn row(
    app: &App,
    theme: &Theme,
    incident: &pb::Incident,
    columns: &Columns,
    selected: bool,
) -> Line<'static> {
    let number = if columns.number >= 13 {
        incident.number.clone()
    } else {
        incident
            .number
            .split_once('-')
            .map_or(incident.number.clone(), |(_, n)| n.to_owned())
    };
    let age = urgency::age(urgency::ts(incident.created_at.as_ref()), app.board_now());
    let place = where_(app, incident);
    let own = app.own.as_deref();
    // A post sees its own part: its assignment's state and clocks; the
    // centre sees who leads.
    let (lead, lead_alert) = match own {
        Some(own) => match crate::tui::model::mine(incident, own) {
            Some(a) => (state(app, a.state).to_owned(), false),
            None => (status(app, incident.status).to_owned(), false),
        },
        None => lead_cell(app, incident, columns.lead),
    };
    let (clock_text, clock_style) = match urgency::countdown_of(incident, app.board_now(), own) {
        Some(countdown) => (
            format!("{}{}", clock(app, countdown.kind), countdown.text()),
            theme.urgency(countdown.urgency()),
        ),
        None => (status(app, incident.status).to_owned(), theme.dim()),
    };
    // A replay marks the alarms waiting then, not now; actions not yet
    // delivered are not the past's at all.
    let replaying = app.replay.is_some();
    let alarmed = match app.replay.as_ref().map(|r| r.shown.as_ref()) {
        Some(Some((then, _))) => then.alarmed.contains(&incident.number),
        Some(None) => false,
        None => app
            .model
            .alarms
            .values()
            .any(|a| a.incident == incident.number),
    };
    let mut summary = if incident.drill {
        format!("{}{}", app.t(T::Drill), incident.summary)
    } else {
        incident.summary.clone()
    };
    // Done at the post, not yet delivered.
    if !replaying
        && app.outbox.contents.pending.iter().any(|e| {
            e.action
                .as_ref()
                .is_some_and(|a| a.incident() == incident.number)
        })
    {
        summary = format!("» {summary}");
    }
    // Called about again and again: how many calls in all.
    if !incident.repeat_calls.is_empty() {
        let calls = incident.repeat_calls.len() + 1;
        summary = format!("{calls}{} {summary}", app.t(T::Times));
    }
    if alarmed {
        summary = format!("! {summary}");
    }
    if incident.escalation_level > 0 {
        summary = format!("↑{} {summary}", incident.escalation_level);
    }
    let mut base = Style::default();
    // New, or (at a post) an order not yet signed for: it stays lit.
    let unsigned_here =
        own.is_some_and(|own| crate::tui::model::unsigned_for(incident, own).is_some());
    if app.fresh.contains_key(&incident.id) || unsigned_here {
        base = base.patch(theme.fresh());
    }
    if selected {
        base = base.patch(theme.selected());
    }
    let summary_style = if alarmed {
        base.patch(theme.alert())
    } else {
        base
    };
    let cells = [
        (number, columns.number, base.add_modifier(Modifier::BOLD)),
        (age, columns.age, base),
        (
            numeral(incident.severity).to_owned(),
            columns.severity,
            base.patch(theme.severity(incident.severity)),
        ),
        (category(app, &incident.category), columns.category, base),
        (place, columns.place, base),
        (
            lead,
            columns.lead,
            if lead_alert {
                base.patch(theme.alert())
            } else {
                base
            },
        ),
        (clock_text, columns.clock, base.patch(clock_style)),
        (summary, columns.summary, summary_style),
    ];
    let mut spans = Vec::new();
    for (text, cells, style) in cells {
        if cells == 0 {
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::styled(" ", base));
        }
        spans.push(Span::styled(fit(&text, cells), style));
    }
    Line::from(spans)
}
