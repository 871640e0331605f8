//! Everything drawn over or instead of the board: the intake form, the
//! assign picker, help, the posts and alarms panels, and the bottom line
//! (messages, prompts, the command line, the filter).

use dutyroom_proto::v1 as pb;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Theme;
use super::board::{category, numeral};
use crate::tui::app::{App, Leave, Mode, Picker};
use crate::tui::commands::{ArgKind, COMMANDS};
use crate::tui::form::{self, Field, IntakeForm};
use crate::tui::fuzzy::rank;
use crate::tui::i18n::T;
use crate::tui::model::is_open;
use crate::tui::text::{fit, truncate, width};

fn label(app: &App, field: Field) -> &'static str {
    app.t(match field {
        Field::Category => T::Category,
        Field::Severity => T::Severity,
        Field::Place => T::Place,
        Field::Summary => T::Summary,
        Field::Phone => T::Phone,
        Field::Address => T::ExactAddress,
        Field::Name => T::Caller,
        Field::Source => T::Source,
    })
}

/// The intake form.
pub(super) fn form(app: &App, form: &IntakeForm, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let title = match &form.editing {
        Some(incident) => format!("{} {}", app.t(T::Editing), incident.number),
        None => app.t(T::Intake).to_owned(),
    };
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        title,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let label_cells = 10;
    let value_cells = (inner.width as usize).saturating_sub(label_cells + 1);
    let mut lines = Vec::new();
    let mut cursor = None;
    let category = form.category(&app.model);
    let place = form.place(&app.model);
    for (index, field) in form::FIELDS.iter().enumerate() {
        let focused = index == form.focus;
        let mut value = match field {
            Field::Source if form.drill => {
                format!("◂ {} ▸  {}", form::SOURCES[form.source].1, app.t(T::Drill))
            }
            Field::Source if focused && form.editing.is_none() => format!(
                "◂ {} ▸  {}",
                form::SOURCES[form.source].1,
                app.t(T::DrillHint)
            ),
            Field::Source => format!("◂ {} ▸", form::SOURCES[form.source].1),
            _ => form.lines[index].text().to_owned(),
        };
        let chosen = match field {
            Field::Category => category.as_deref().map(|c| category_label(app, c)),
            Field::Place => place
                .as_ref()
                .and_then(|p| app.model.places.get(p))
                .map(|p| p.name.clone()),
            Field::Severity => form::severity(&value).map(|s| numeral(s as i32).to_owned()),
            _ => None,
        };
        if let Some(chosen) = &chosen
            && !value.is_empty()
        {
            value = format!("{value} → {chosen}");
        }
        let style = if focused {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let marker = if focused { "▸" } else { " " };
        // The focused field shows the text around the cursor, so what is
        // being typed is always in view.
        if focused && *field != Field::Source {
            let (shown, column) = form.lines[index].window(value_cells);
            if chosen.is_none() || form.lines[index].text().is_empty() {
                value = shown;
            }
            cursor = Some((label_cells + 1 + column, lines.len()));
        }
        lines.push(Line::from(vec![
            Span::styled(
                fit(&format!("{marker}{}", label(app, *field)), label_cells),
                theme.dim(),
            ),
            Span::raw(" "),
            Span::styled(truncate(&value, value_cells), style),
        ]));
        // Suggestions under the focused fuzzy field.
        if focused && matches!(field, Field::Category | Field::Place) {
            let candidates = if *field == Field::Category {
                form::category_candidates(&app.model)
            } else {
                form::place_candidates(&app.model)
            };
            let query = form.lines[index].text();
            if !query.trim().is_empty() {
                let choice = if *field == Field::Category {
                    form.category_choice
                } else {
                    form.place_choice
                };
                for (n, candidate) in rank(query, &candidates).iter().take(4).enumerate() {
                    let name = if *field == Field::Category {
                        category_label(app, &candidate.value)
                    } else {
                        app.model
                            .places
                            .get(&candidate.value)
                            .map_or(candidate.value.clone(), |p| p.name.clone())
                    };
                    let style = if n == choice.min(3) {
                        theme.selected()
                    } else {
                        theme.dim()
                    };
                    lines.push(Line::from(vec![
                        Span::raw(" ".repeat(label_cells + 1)),
                        Span::styled(truncate(&format!(" {name} "), value_cells), style),
                    ]));
                }
            }
        }
    }
    let dispatch = form::suggest(&app.model, category.as_deref(), place.as_deref());
    let mut targets: Vec<String> = dispatch
        .lead
        .iter()
        .map(|p| {
            app.model
                .posts
                .get(p)
                .map_or(p.clone(), |post| post.name.clone())
        })
        .collect();
    targets.extend(dispatch.support.iter().map(|u| {
        app.model
            .units
            .get(u)
            .map_or(u.clone(), |unit| unit.name.clone())
    }));
    lines.push(Line::raw(""));
    // The post that would lead has dropped off: say so before dispatching.
    if let Some(lead) = &dispatch.lead
        && let Some(presence) = app
            .model
            .presence
            .get(&format!("post:{lead}"))
            .filter(|p| !p.online)
    {
        let name = app
            .model
            .posts
            .get(lead)
            .map_or(lead.clone(), |p| p.name.clone());
        let since = match &presence.last_seen {
            Some(seen) => crate::tui::urgency::age(crate::tui::urgency::ts(Some(seen)), app.now),
            None => app.t(T::Never).to_owned(),
        };
        lines.push(Line::from(Span::styled(
            truncate(
                &format!("! {}: {name} ✕ {since}", app.t(T::LeadOffline)),
                inner.width as usize,
            ),
            theme.alert(),
        )));
    }
    if dispatch.lead.is_some() || !dispatch.support.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::WillDispatch)), theme.dim()),
            Span::raw(truncate(&targets.join(" + "), value_cells)),
        ]));
    }
    // A place typed that routes to no post: say so, even when units go.
    if dispatch.lead.is_none() && (place.is_some() || !form.text(Field::Place).is_empty()) {
        lines.push(Line::from(Span::styled(
            truncate(&format!("! {}", app.t(T::NoPost)), inner.width as usize),
            theme.alert(),
        )));
    }
    if let Some(related) = &form.related {
        related_lines(app, related, theme, inner.width as usize, &mut lines);
    }
    match &form.problem {
        Some(problem) => lines.push(Line::from(Span::styled(
            truncate(&format!("! {problem}"), inner.width as usize),
            theme.alert(),
        ))),
        None if form.editing.is_some() => {
            lines.push(Line::from(Span::styled(app.t(T::SubmitEdit), theme.dim())))
        }
        None => lines.push(Line::from(Span::styled(app.t(T::Submit), theme.dim()))),
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((column, row)) = cursor
        && row < inner.height as usize
    {
        frame.set_cursor_position(Position::new(
            inner.x + column.min(inner.width as usize) as u16,
            inner.y + row as u16,
        ));
    }
}

/// What dutyd knows this call may belong to: how often the number called,
/// and the open incidents it may be about, the one Ctrl-R would attach to
/// marked. At most four rows, the chosen one always among them.
fn related_lines(
    app: &App,
    related: &form::Related,
    theme: &Theme,
    cells: usize,
    lines: &mut Vec<Line<'static>>,
) {
    let alert = |text: String| Line::from(Span::styled(truncate(&text, cells), theme.alert()));
    if let Some(why) = &related.failed {
        lines.push(alert(format!(
            "! {}: {}",
            app.t(T::LookupFailed),
            crate::tui::text::one_line(why)
        )));
        return;
    }
    let Some(reply) = &related.reply else {
        lines.push(Line::from(Span::styled(app.t(T::LookingUp), theme.dim())));
        return;
    };
    if !related.asked.phone.is_empty() && reply.calls_last_30_days > 0 {
        let at_least = if reply.calls_capped {
            app.t(T::AtLeast)
        } else {
            ""
        };
        let times = match app.lang {
            crate::tui::i18n::Lang::Zh => format!("{at_least}{} 次", reply.calls_last_30_days),
            crate::tui::i18n::Lang::En => format!("{at_least}{}", reply.calls_last_30_days),
        };
        lines.push(alert(format!("! {} {times}", app.t(T::CallsLast30))));
    }
    let offered = related.offered();
    if offered.is_empty() {
        return;
    }
    const ROWS: usize = 4;
    let chosen_at = offered
        .iter()
        .position(|i| Some(&i.number) == related.chosen.as_ref())
        .unwrap_or(0);
    let first = chosen_at.saturating_sub(ROWS - 1);
    let by_phone = reply.open_from_phone.len();
    for (at, incident) in offered.iter().enumerate().skip(first).take(ROWS) {
        let why = if at < by_phone {
            T::SamePhoneOpen
        } else {
            T::SamePlaceOpen
        };
        let marker = if at == chosen_at { "▸" } else { " " };
        let age = crate::tui::urgency::age(
            crate::tui::urgency::ts(incident.created_at.as_ref()),
            app.now,
        );
        let text = format!(
            "{marker}{} {} {} {} {}",
            incident.number,
            category(app, &incident.category),
            crate::tui::text::one_line(&incident.summary),
            age,
            app.t(why),
        );
        let style = if at == chosen_at {
            theme.selected()
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(fit(&text, cells), style)));
    }
    if offered.len() > ROWS {
        lines.push(Line::from(Span::styled(
            format!(" … {}/{}", chosen_at + 1, offered.len()),
            theme.dim(),
        )));
    }
    let hint = if offered.len() > 1 {
        T::AttachHint
    } else {
        T::AttachHintOne
    };
    lines.push(Line::from(Span::styled(
        truncate(app.t(hint), cells),
        theme.dim(),
    )));
}

/// What a `:call` line was understood as: every field, guesses marked `?`
/// with the next candidates, and a missing lead said plainly.
pub(super) fn call_preview(
    app: &App,
    preview: &crate::tui::app::CallPreview,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(":{}", preview.line),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let cells = inner.width as usize;
    let place_name = |id: &str| {
        app.model
            .places
            .get(id)
            .map_or(id.to_owned(), |p| p.name.clone())
    };
    let shown = |m: &form::Match, name: &dyn Fn(&str) -> String| -> (String, bool) {
        match &m.value {
            None => (format!("? {}", app.t(T::NoMatch2)), true),
            Some(v) if m.exact => (name(v), false),
            Some(v) => {
                let others: Vec<String> = m.others.iter().map(|o| name(o)).collect();
                let mut text = format!("? {} ({}", name(v), app.t(T::Guess));
                if !others.is_empty() {
                    text.push_str(&format!(": {}", others.join(", ")));
                }
                text.push(')');
                (text, true)
            }
        }
    };
    let intake = preview.request.intake.clone().unwrap_or_default();
    let (category, category_guess) = shown(&preview.category, &|c| category_label(app, c));
    let (place, place_guess) = shown(&preview.place, &place_name);
    let lead = match &preview.lead {
        Some(post) => app
            .model
            .posts
            .get(post)
            .map_or(post.clone(), |p| p.name.clone()),
        None => format!("! {}", app.t(T::NoLead)),
    };
    let units: Vec<String> = preview
        .request
        .dispatch
        .iter()
        .filter(|a| a.role == pb::AssignmentRole::Support as i32)
        .filter_map(|a| a.assignee.as_ref())
        .map(|a| {
            app.model
                .units
                .get(&a.id)
                .map_or(a.id.clone(), |u| u.name.clone())
        })
        .collect();
    let rows: Vec<(T, String, bool)> = vec![
        (T::Category, category, category_guess),
        (T::Severity, numeral(intake.severity).to_owned(), false),
        (
            T::Place,
            format!("{place} → {lead}"),
            place_guess || preview.lead.is_none(),
        ),
        (T::Units, units.join(" + "), false),
        (T::Summary, intake.summary.clone(), false),
        (T::Phone, intake.caller_phone.clone(), false),
    ];
    let mut lines = vec![Line::from(Span::styled(
        format!("{}:", app.t(T::Understood)),
        theme.dim(),
    ))];
    for (label, value, flagged) in rows {
        lines.push(Line::from(vec![
            Span::styled(fit(app.t(label), 10), theme.dim()),
            Span::raw(" "),
            Span::styled(
                truncate(&value, cells.saturating_sub(11)),
                if flagged {
                    theme.alert()
                } else {
                    Style::default()
                },
            ),
        ]));
    }
    lines.push(Line::raw(""));
    let hint = if preview.lead.is_none() {
        app.t(T::NoLeadAsk)
    } else {
        app.t(T::PreviewHint)
    };
    lines.push(Line::from(Span::styled(truncate(hint, cells), theme.dim())));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The message log, newest at the bottom, scrolled up `offset` lines.
pub(super) fn log(app: &App, offset: usize, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!("{} ({})", app.t(T::Log), app.log.len()),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = inner.height as usize;
    let cells = inner.width as usize;
    let end = app.log.len().saturating_sub(offset);
    let start = end.saturating_sub(rows);
    let lines: Vec<Line<'static>> = app
        .log
        .iter()
        .skip(start)
        .take(end - start)
        .map(|entry| {
            let at = entry
                .at
                .to_zoned_datetime(app.zone.clone())
                .strftime("%H:%M:%S");
            let (mark, style) = if entry.error {
                ("!", theme.alert())
            } else {
                (" ", Style::default())
            };
            Line::from(Span::styled(
                truncate(&format!("{at} {mark} {}", entry.text), cells),
                style,
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The roll-call the centre follows: each post answered (with how long it
/// took), still waiting (with the time left), or missed.
pub(super) fn rollcall(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let cells = area.width.saturating_sub(2) as usize;
    let Some(rollcall) = &app.rollcall else {
        let block = Block::default()
            .borders(Borders::LEFT)
            .title(Span::styled(app.t(T::RollCallPanel), theme.dim()));
        frame.render_widget(
            Paragraph::new(Span::styled(app.t(T::NoRollCall2), theme.dim())).block(block),
            area,
        );
        return;
    };
    let time = |ts: Option<&prost_types::Timestamp>, format: &str| {
        crate::tui::urgency::ts(ts)
            .to_zoned_datetime(app.zone.clone())
            .strftime(format)
            .to_string()
    };
    let answered = rollcall
        .posts
        .iter()
        .filter(|p| p.answered_at.is_some())
        .count();
    let title = format!(
        "{} #{} {} {} · {}{} · {} {answered}/{}",
        app.t(T::RollCallPanel),
        rollcall.id,
        app.t(T::SentAt),
        time(rollcall.sent_at.as_ref(), "%H:%M:%S"),
        app.t(T::AnswerUntil),
        time(rollcall.answer_by.as_ref(), "%H:%M"),
        app.t(T::Answered),
        rollcall.posts.len()
    );
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(truncate(&title, cells), theme.dim()));
    let due = crate::tui::urgency::ts(rollcall.answer_by.as_ref());
    let mut rows: Vec<&pb::RollCallAnswer> = rollcall.posts.iter().collect();
    // Misses first, then those still waiting, then answers, slowest first.
    rows.sort_by_key(|p| (p.answered_at.is_some(), std::cmp::Reverse(p.latency_ms)));
    let lines: Vec<Line<'static>> = rows
        .into_iter()
        .map(|answer| {
            let name = app
                .model
                .posts
                .get(&answer.post)
                .map_or(answer.post.clone(), |p| p.name.clone());
            let (text, style) = match &answer.answered_at {
                Some(_) => (
                    format!(
                        "✓ {} {} {:.1}s",
                        fit(&name, 14),
                        app.t(T::Answered),
                        answer.latency_ms as f64 / 1000.0
                    ),
                    theme.ok(),
                ),
                None if due <= app.now => (
                    format!("✕ {} {}", fit(&name, 14), app.t(T::Missed)),
                    theme.alert(),
                ),
                None => (
                    format!(
                        "… {} {} {}",
                        fit(&name, 14),
                        app.t(T::AwaitingAnswer),
                        crate::tui::urgency::age(app.now, due)
                    ),
                    Style::default(),
                ),
            };
            Line::from(Span::styled(truncate(&text, cells), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn category_label(app: &App, code: &str) -> String {
    format!("{} {code}", category(app, code))
}

/// Open incidents a post or unit is involved in.
pub(super) fn load(app: &App, key: &str) -> usize {
    app.model
        .incidents
        .values()
        .filter(|i| is_open(i.status))
        .filter(|i| {
            i.assignments.iter().any(|a| {
                crate::cli::output::assignee(a.assignee.as_ref()) == key
                    && matches!(
                        pb::AssignmentState::try_from(a.state),
                        Ok(pb::AssignmentState::Dispatched
                            | pb::AssignmentState::SignedFor
                            | pb::AssignmentState::OnScene)
                    )
            })
        })
        .count()
}

/// The assign picker.
pub(super) fn picker(app: &App, picker: &Picker, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let role = if picker.support {
        app.t(T::AsSupport)
    } else {
        app.t(T::AsLead)
    };
    let title = if picker.call_in {
        let chosen: Vec<String> = picker
            .chosen
            .iter()
            .map(|u| {
                app.model
                    .units
                    .get(u.trim_start_matches("unit:"))
                    .map_or(u.clone(), |unit| unit.name.clone())
            })
            .collect();
        format!(
            "{} {}  {}: {}",
            app.t(T::CallIn),
            picker.incident,
            app.t(T::ChosenUnits),
            chosen.join("、")
        )
    } else {
        format!("{} {} [{role}]", app.t(T::AssignTo), picker.incident)
    };
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        title,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let cells = inner.width as usize;
    let mut lines = vec![Line::from(vec![
        Span::styled("> ", theme.dim()),
        Span::raw(picker.query.text().to_owned()),
    ])];
    let matches = app.picker_matches(picker);
    let choice = picker.choice.min(matches.len().saturating_sub(1));
    for (n, candidate) in matches
        .iter()
        .take(inner.height.saturating_sub(1) as usize)
        .enumerate()
    {
        let (name, contact, mode) = match candidate.value.split_once(':') {
            Some(("post", id)) => app.model.posts.get(id).map_or_else(
                || (id.to_owned(), String::new(), ""),
                |p| {
                    let mode = if p.mode == pb::PostMode::Emergency as i32 {
                        app.t(T::Emergency)
                    } else {
                        app.t(T::Normal)
                    };
                    (p.name.clone(), p.contact.clone(), mode)
                },
            ),
            Some((_, id)) => app.model.units.get(id).map_or_else(
                || (id.to_owned(), String::new(), ""),
                |u| (u.name.clone(), u.contact.clone(), ""),
            ),
            None => (candidate.value.clone(), String::new(), ""),
        };
        let text = format!(
            "{} {} {} {} {}",
            fit(&name, 20),
            fit(&candidate.value, 18),
            fit(mode, 6),
            fit(
                &format!("{} {}", app.t(T::Load), load(app, &candidate.value)),
                8
            ),
            contact
        );
        let style = if n == choice {
            theme.selected()
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(truncate(&text, cells), style)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let column = 2 + picker.query.cursor_column();
    frame.set_cursor_position(Position::new(
        inner.x + column.min(inner.width as usize) as u16,
        inner.y,
    ));
}

/// The help screen: the keys actually in effect, from the registry;
/// scrolls with ↑↓ / j k / PgUp PgDn.
pub(super) fn help(app: &App, offset: usize, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let cells = area.width as usize;
    let room = (area.height as usize).saturating_sub(2);
    // Only what this console offers (a post's or the centre's).
    let offered: Vec<_> = COMMANDS.iter().filter(|spec| app.offers(spec)).collect();
    // Never past the last page.
    let offset = offset.min(offered.len().saturating_sub(room));
    let more = offered.len() > offset + room;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{} — {}", app.t(T::Help), app.t(T::Keys)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            if more {
                format!("   {}", app.t(T::More))
            } else {
                String::new()
            },
            theme.dim(),
        ),
    ])];
    for spec in offered.iter().skip(offset).take(room + 1) {
        let keys = app.keymap.keys_of(spec.name).join(" ");
        let args = if spec
            .args
            .iter()
            .any(|a| a.kind == ArgKind::Rest || !a.optional)
        {
            format!(":{}", spec.usage_in(app.lang))
        } else {
            format!(":{}", spec.name)
        };
        lines.push(Line::from(vec![
            Span::styled(
                fit(&keys, 10),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(" "),
            Span::styled(fit(&args, 24), theme.dim()),
            Span::raw(" "),
            Span::raw(truncate(
                spec.help_for(app.lang, app.post_mode),
                cells.saturating_sub(36),
            )),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The posts panel: mode, load, overdue.
pub(super) fn posts(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(app.t(T::Posts), theme.dim()));
    let cells = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line<'static>> = app
        .model
        .posts
        .values()
        .filter(|p| !p.retired)
        .map(|p| {
            let key = format!("post:{}", p.id);
            let overdue = app
                .model
                .incidents
                .values()
                .filter(|i| {
                    i.territorial_post_id == p.id && crate::tui::urgency::overdue(i, app.now)
                })
                .count();
            let emergency = p.mode == pb::PostMode::Emergency as i32;
            let mode = if emergency {
                format!("!{}", app.t(T::Emergency))
            } else {
                app.t(T::Normal).to_owned()
            };
            let style = if emergency {
                theme.alert()
            } else {
                Style::default()
            };
            // Online or since when not; a skewed clock is worth a word.
            let presence = app.model.presence.get(&key);
            let online = presence.is_some_and(|p| p.online);
            // Online: a dot. Offline: a cross and for how long (or never).
            let seen = match presence {
                Some(p) if p.online => "●".to_owned(),
                Some(p) => match &p.last_seen {
                    Some(seen) => format!(
                        "✕{}",
                        crate::tui::urgency::age(crate::tui::urgency::ts(Some(seen)), app.now)
                    ),
                    None => format!("✕{}", app.t(T::Never)),
                },
                None => String::new(),
            };
            let skew = presence
                .filter(|p| p.clock_skewed)
                .map(|p| format!(" {}{:+}s", app.t(T::ClockOff), p.clock_offset_ms / 1000))
                .unwrap_or_default();
            let presence_style = if online || presence.is_none() {
                theme.ok()
            } else {
                theme.alert()
            };
            let tail = format!("{seen}{skew}");
            let room = cells.saturating_sub(crate::tui::text::width(&tail));
            Line::from(vec![
                Span::styled(
                    fit(
                        &format!(
                            "{} {} {}{} {}{} ",
                            fit(&p.name, 14),
                            fit(&mode, 6),
                            app.t(T::Load),
                            load(app, &key),
                            app.t(T::Overdue),
                            overdue
                        ),
                        room,
                    ),
                    style,
                ),
                Span::styled(tail, presence_style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The alarms panel: waiting for acknowledgement.
pub(super) fn alarms(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let mut title = format!("{} {}", app.t(T::Attention), app.attention.len());
    if let Some(until) = app.muted_until {
        title.push_str(&format!(
            "  {} {}",
            app.t(T::Muted),
            until.to_zoned_datetime(app.zone.clone()).strftime("%H:%M")
        ));
    }
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(title, theme.dim()));
    let cells = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    if app.attention.is_empty() {
        lines.push(Line::from(Span::styled(
            app.t(T::NothingWaiting),
            theme.dim(),
        )));
    }
    // Grouped per incident: a heading, then each item: what, since when,
    // who was alarmed.
    let mut group: Option<Option<String>> = None;
    for item in &app.attention {
        if group.as_ref() != Some(&item.incident) {
            group = Some(item.incident.clone());
            if let Some(number) = &item.incident {
                let heading = match app.model.by_number(number) {
                    Some(i) => format!(
                        "{} {} {}",
                        number.rsplit('-').next().unwrap_or(number),
                        numeral(i.severity),
                        i.summary
                    ),
                    None => number.clone(),
                };
                lines.push(Line::from(Span::styled(
                    truncate(&heading, cells),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
            }
        }
        let focused = app.attention_focus.as_deref() == Some(item.key.as_str());
        let style = if focused {
            theme.alert().patch(theme.selected())
        } else {
            theme.alert()
        };
        let since = item.since.map_or_else(
            || app.t(T::Never).to_owned(),
            |at| crate::tui::urgency::age(at, app.now),
        );
        lines.push(Line::from(Span::styled(
            truncate(&format!(" ! {} · {since}", item.what), cells),
            style,
        )));
        if !item.who.is_empty() {
            lines.push(Line::from(Span::styled(
                truncate(&format!("   → {}", item.who), cells),
                theme.dim(),
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// ` 0042 居民楼冒烟 · ` — the incident a prompt acts on, named in full.
fn target_words(pending: &crate::tui::app::Pending) -> String {
    match &pending.target {
        Some(t) => format!(
            " {} {} {}",
            t.number.rsplit('-').next().unwrap_or(&t.number),
            numeral(t.severity),
            truncate(&t.summary, 24)
        ),
        None => String::new(),
    }
}

/// The bottom line: a prompt, the command line, the filter, or a message.
pub(super) fn input_line(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let cells = area.width as usize;
    if let Mode::Leave(back, leave) = &app.mode {
        let text = app.t(match leave {
            Leave::Discard => T::AskDiscard,
            // Only a form leaves a draft behind to say so.
            Leave::Quit if matches!(back.shown(), Mode::Form(f) if f.editing.is_none()) => {
                T::AskQuit
            }
            Leave::Quit => T::AskQuitPlain,
        });
        frame.render_widget(
            Paragraph::new(Span::styled(truncate(text, cells), theme.alert())),
            area,
        );
        return;
    }
    let (prefix, line) = match &app.mode {
        Mode::Prompt(pending, line) => {
            let arg = pending.spec.args.get(pending.args.len());
            let what = arg.map_or("", |a| app.t(a.prompt));
            (
                format!(
                    "{}{} · {what}: ",
                    super::verb(app, pending.spec),
                    target_words(pending)
                ),
                Some(line),
            )
        }
        Mode::Command(line) => (":".to_owned(), Some(line)),
        Mode::Filter(line) => ("/".to_owned(), Some(line)),
        Mode::Confirm(pending) => {
            let again = pending.confirmed > 0;
            let text = format!(
                "{}{}{}{} — {}",
                if again { app.t(T::ConfirmAgain) } else { "" },
                super::verb(app, pending.spec),
                target_words(pending),
                pending
                    .args
                    .iter()
                    .skip(usize::from(pending.target.is_some()))
                    .map(|a| format!(" {a}"))
                    .collect::<String>(),
                app.t(T::Confirm)
            );
            frame.render_widget(
                Paragraph::new(Span::styled(truncate(&text, cells), theme.alert())),
                area,
            );
            return;
        }
        _ => {
            if let Some(message) = &app.message {
                let (text, style) = if message.error {
                    (format!("! {}", message.text), theme.alert())
                } else {
                    (message.text.clone(), Style::default())
                };
                frame.render_widget(
                    Paragraph::new(Span::styled(truncate(&text, cells), style)),
                    area,
                );
            }
            return;
        }
    };
    if let Some(line) = line {
        // What is typed stays in view: the prompt gives way first (down to
        // a third of the line), then the text shows around the cursor.
        let room_for_prefix = cells
            .saturating_sub(width(line.text()) + 1)
            .max(cells / 3)
            .min(width(&prefix));
        let prefix = truncate(&prefix, room_for_prefix);
        let (shown, column) = line.window(cells.saturating_sub(width(&prefix)));
        frame.render_widget(Paragraph::new(format!("{prefix}{shown}")), area);
        let column = width(&prefix) + column;
        frame.set_cursor_position(Position::new(
            area.x + column.min(cells.saturating_sub(1)) as u16,
            area.y,
        ));
    }
}

fn people(app: &App, list: &[pb::Contact]) -> String {
    if list.is_empty() {
        return app.t(T::Nobody).to_owned();
    }
    list.iter()
        .map(|c| format!("{} {}", c.name, c.phone).trim().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who is on duty now (centre and posts) and next shift.
pub(super) fn on_duty(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(app.t(T::OnDuty), theme.dim()));
    let cells = area.width.saturating_sub(2) as usize;
    let Some(duty) = &app.on_duty else {
        frame.render_widget(
            Paragraph::new(Span::styled(app.t(T::NoRoster), theme.dim())).block(block),
            area,
        );
        return;
    };
    let time = |t: Option<&prost_types::Timestamp>| {
        crate::tui::urgency::ts(t)
            .to_zoned_datetime(app.zone.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let who = |scope: &str| -> String {
        if scope == "centre" {
            app.t(T::Centre).to_owned()
        } else {
            let id = scope.trim_start_matches("post:");
            app.model
                .posts
                .get(id)
                .map_or(id.to_owned(), |p| p.name.clone())
        }
    };
    let role = |role: &str| match (role, app.lang) {
        ("duty_officer", crate::tui::i18n::Lang::Zh) => "值班员",
        ("duty_leader", crate::tui::i18n::Lang::Zh) => "带班领导",
        ("duty_contact", crate::tui::i18n::Lang::Zh) => "值守",
        ("duty_officer", _) => "officer",
        ("duty_leader", _) => "leader",
        _ => "contact",
    };
    let mut lines = Vec::new();
    for (label, shift, duties) in [
        (app.t(T::OnDuty), &duty.shift, &duty.now),
        (app.t(T::NextShift), &duty.next_shift, &duty.next),
    ] {
        let shift = shift.clone().unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!(
                "{label}: {} {}–{}",
                shift.shift,
                time(shift.starts.as_ref()),
                time(shift.ends.as_ref())
            ),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        let own_scope = app.own.clone().unwrap_or_default();
        for d in duties
            .iter()
            .filter(|d| app.own.is_none() || d.scope == "centre" || d.scope == own_scope)
        {
            let missing = d.people.is_empty();
            let text = truncate(
                &format!(
                    " {} {} {}",
                    fit(&who(&d.scope), 14),
                    fit(role(&d.role), 8),
                    people(app, &d.people)
                ),
                cells,
            );
            let style = if missing {
                theme.alert()
            } else {
                Style::default()
            };
            lines.push(Line::from(Span::styled(text, style)));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A status word from a handover record (stored as the daemon wrote it) in
/// the console's language.
fn status_word(app: &App, word: &str) -> String {
    use pb::IncidentStatus as S;
    let status = match word {
        "new" => S::New,
        "dispatched" => S::Dispatched,
        "signed" => S::Signed,
        "on scene" => S::OnScene,
        "resolved" => S::Resolved,
        "closed" => S::Closed,
        "cancelled" => S::Cancelled,
        "merged" => S::Merged,
        other => return other.to_owned(),
    };
    super::board::status(app, status as i32).to_owned()
}

/// A clock name from a handover record in the console's language.
fn clock_word(app: &App, word: &str) -> String {
    let kind = match word {
        "sign-for" => pb::ClockKind::SignFor,
        "arrival" => pb::ClockKind::Arrive,
        "resolution" => pb::ClockKind::Resolve,
        other => return other.to_owned(),
    };
    super::board::clock(app, kind).to_owned()
}

/// The current shift's handover.
pub(super) fn handover(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(app.t(T::Handover), theme.dim()));
    let cells = area.width.saturating_sub(2) as usize;
    let Some(h) = &app.handover else {
        frame.render_widget(
            Paragraph::new(Span::styled(app.t(T::NoHandover), theme.dim())).block(block),
            area,
        );
        return;
    };
    let shift = h.shift.clone().unwrap_or_default();
    let counts = h.counts.unwrap_or_default();
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "#{} {} {} — {}",
                h.id,
                shift.date,
                shift.shift,
                match (h.status.as_str(), app.lang) {
                    ("open", crate::tui::i18n::Lang::Zh) => "未签出",
                    ("signed_out", crate::tui::i18n::Lang::Zh) => "已签出, 待接班人会签",
                    ("countersigned", crate::tui::i18n::Lang::Zh) => "已会签",
                    ("signed_out", _) => "signed out, awaiting countersign",
                    (other, _) => other,
                }
            ),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(truncate(
            &match app.lang {
                crate::tui::i18n::Lang::Zh => format!(
                    "接警 {} 处置 {} 办结 {} 升级 {} 未结 {}",
                    counts.received,
                    counts.resolved,
                    counts.closed,
                    counts.escalations,
                    counts.open_at_handover
                ),
                crate::tui::i18n::Lang::En => format!(
                    "received {} resolved {} closed {} escalated {} open {}",
                    counts.received,
                    counts.resolved,
                    counts.closed,
                    counts.escalations,
                    counts.open_at_handover
                ),
            },
            cells,
        )),
    ];
    // What the incoming officer must chase first: unsigned orders and
    // overdue clocks, then the rest of the open incidents.
    let mut items: Vec<Line<'_>> = Vec::new();
    for d in &h.unsigned_dispatches {
        let who = d
            .assignee
            .as_ref()
            .map(|a| {
                // The record keeps ids; names come from the directory.
                let known = if a.kind == pb::AssigneeKind::Post as i32 {
                    app.model.posts.get(&a.id).map(|p| p.name.clone())
                } else {
                    app.model.units.get(&a.id).map(|u| u.name.clone())
                };
                known
                    .or_else(|| (!a.name.is_empty()).then(|| a.name.clone()))
                    .unwrap_or_else(|| a.id.clone())
            })
            .unwrap_or_default();
        items.push(Line::from(Span::styled(
            truncate(
                &format!("! {} {} {who}", d.number, app.t(T::Unsigned)),
                cells,
            ),
            theme.alert(),
        )));
    }
    for c in &h.overdue {
        items.push(Line::from(Span::styled(
            truncate(
                &format!(
                    "! {} {} {}",
                    c.number,
                    clock_word(app, &c.clock),
                    app.t(T::Overdue)
                ),
                cells,
            ),
            theme.alert(),
        )));
    }
    for incident in &h.open_incidents {
        items.push(Line::from(truncate(
            &format!(
                "  {} {} {}",
                incident.number,
                status_word(app, &incident.status),
                incident.summary
            ),
            cells,
        )));
    }
    // Header (2) + notes, signatures and the hint (up to 4).
    let room = area.height.saturating_sub(6) as usize;
    if items.len() > room {
        let hidden = items.len() - room.saturating_sub(1);
        items.truncate(room.saturating_sub(1));
        items.push(Line::from(Span::styled(
            format!("  … +{hidden}"),
            theme.dim(),
        )));
    }
    lines.extend(items);
    lines.push(Line::from(truncate(
        &format!("{}: {}", app.t(T::NoteText), h.notes),
        cells,
    )));
    if let Some(p) = &h.signed_out_by {
        lines.push(Line::from(format!("✓ {}", p.name)));
    }
    if let Some(p) = &h.countersigned_by {
        lines.push(Line::from(format!("✓✓ {} {}", p.name, h.remarks)));
    }
    lines.push(Line::from(Span::styled(
        ":handover note … · :handover sign · :handover countersign …",
        theme.dim(),
    )));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A queued action in the console's language.
fn action_label(app: &App, entry: &crate::outbox::Entry) -> String {
    use crate::outbox::Action;
    use crate::tui::i18n::Lang;
    let Some(action) = &entry.action else {
        return entry.summary.clone();
    };
    let (zh, en) = match action {
        Action::SignFor(_) => ("签收", "sign for"),
        Action::Arrive(_) => ("到场", "on scene"),
        Action::Finish(_) => ("协办完成", "finish"),
        Action::Refuse(_) => ("退回", "refuse"),
        Action::Note(_) => ("备注", "note"),
        Action::Resolve(_) => ("处置", "resolve"),
        Action::CallIn(_) => ("吹哨", "call in"),
        Action::AnswerRollCall(r) => {
            return match app.lang {
                Lang::Zh => format!("应答查岗 #{}", r.id),
                Lang::En => format!("answer roll-call #{}", r.id),
            };
        }
    };
    let verb = match app.lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    format!("{verb} {}", action.incident())
}

/// A post's outbox: what waits to be sent (and why it waits) and what dutyd
/// refused (with its reason), oldest first.
pub(super) fn outbox(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(app.t(T::Outbox), theme.dim()));
    let cells = area.width.saturating_sub(2) as usize;
    let contents = &app.outbox.contents;
    let when = |entry: &crate::outbox::Entry| {
        crate::tui::urgency::ts(entry.done_at.as_ref())
            .to_zoned_datetime(app.zone.clone())
            .strftime("%H:%M:%S")
            .to_string()
    };
    let mut lines = Vec::new();
    if contents.pending.is_empty() && contents.failed.is_empty() {
        lines.push(Line::from(Span::styled(app.t(T::OutboxEmpty), theme.dim())));
    }
    if !contents.pending.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("{} {}", app.t(T::Outbox), contents.pending.len()),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        if let Some(why) = &app.outbox.waiting {
            lines.push(Line::from(Span::styled(
                truncate(&format!(" {}: {why}", app.t(T::Waiting)), cells),
                theme.alert(),
            )));
        }
        for entry in &contents.pending {
            lines.push(Line::from(truncate(
                &format!(" » {} {}", when(entry), action_label(app, entry)),
                cells,
            )));
        }
    }
    if !contents.failed.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("! {} {}", app.t(T::OutboxFailed), contents.failed.len()),
            theme.alert(),
        )));
        for entry in &contents.failed {
            lines.push(Line::from(Span::styled(
                truncate(
                    &format!(" {} {}", when(entry), action_label(app, entry)),
                    cells,
                ),
                theme.alert(),
            )));
            lines.push(Line::from(truncate(&format!("   {}", entry.failed), cells)));
        }
        lines.push(Line::from(Span::styled(
            app.t(T::OutboxClearHint),
            theme.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
