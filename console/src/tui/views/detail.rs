//! One incident: intake, assignments with their clocks, notes, timeline.

use dutyroom_proto::v1 as pb;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use super::board::{assignee_name, category, clock, numeral, state, status};
use crate::tui::app::App;
use crate::tui::i18n::T;
use crate::tui::text::truncate;
use crate::tui::urgency;

fn time(app: &App, ts: Option<&prost_types::Timestamp>) -> String {
    if ts.is_none() {
        return String::new();
    }
    urgency::ts(ts)
        .to_zoned_datetime(app.zone.clone())
        .strftime("%H:%M:%S")
        .to_string()
}

fn lines(
    app: &App,
    theme: &Theme,
    incident: &pb::Incident,
    phone: bool,
    cells: usize,
) -> Vec<Line<'static>> {
    let label = |text: T| Span::styled(format!("{} ", app.t(text)), theme.dim());
    let caller_phone = if phone {
        incident.caller_phone.clone()
    } else {
        dutyroom_daemon::incidents::model::mask_phone(&incident.caller_phone)
    };
    let mut out = vec![
        Line::from(vec![
            Span::styled(
                incident.number.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                if incident.drill {
                    format!(" {}", app.t(T::Drill).trim_end())
                } else {
                    String::new()
                },
                theme.alert(),
            ),
            Span::raw("  "),
            Span::styled(
                numeral(incident.severity).to_owned(),
                theme.severity(incident.severity),
            ),
            Span::raw(format!(
                "  {}  {}",
                category(app, &incident.category),
                status(app, incident.status)
            )),
        ]),
        Line::from(vec![label(T::Summary), Span::raw(incident.summary.clone())]),
        Line::from(vec![label(T::Address), Span::raw(incident.address.clone())]),
        Line::from(vec![
            label(T::Caller),
            Span::raw(format!("{} {caller_phone}", incident.caller_name)),
        ]),
    ];
    if !incident.assignments.is_empty() {
        out.push(Line::from(Span::styled(app.t(T::Assignments), theme.dim())));
        for a in &incident.assignments {
            let role = if a.role == pb::AssignmentRole::Lead as i32 {
                app.t(T::AsLead)
            } else {
                app.t(T::AsSupport)
            };
            let mut text = format!(
                " #{} {} [{role}] {}  {}",
                a.id,
                assignee_name(app, a.assignee.as_ref()),
                state(app, a.state),
                time(app, a.dispatched_at.as_ref())
            );
            if a.signed_at.is_some() {
                text.push_str(&format!(" ✓{}", time(app, a.signed_at.as_ref())));
            }
            if a.arrived_at.is_some() {
                text.push_str(&format!(" ⌂{}", time(app, a.arrived_at.as_ref())));
            }
            if !a.reason.is_empty() {
                text.push_str(&format!(" ({})", a.reason));
            }
            out.push(Line::from(truncate(&text, cells)));
        }
    }
    let mut clocks = incident.clocks.clone();
    clocks.sort_by_key(|c| c.due.as_ref().map(|t| t.seconds));
    if !clocks.is_empty() {
        out.push(Line::from(Span::styled(app.t(T::Clock), theme.dim())));
        for c in &clocks {
            let countdown = urgency::Countdown {
                kind: pb::ClockKind::try_from(c.kind).unwrap_or(pb::ClockKind::Unspecified),
                left: urgency::ts(c.due.as_ref()).duration_since(app.board_now()),
                length: urgency::ts(c.due.as_ref())
                    .duration_since(urgency::ts(c.started_at.as_ref())),
            };
            let who = if c.assignment_id > 0 {
                format!(" #{}", c.assignment_id)
            } else {
                String::new()
            };
            let alarms = if c.alarms > 0 {
                format!("  ↑{}", c.alarms)
            } else {
                String::new()
            };
            out.push(Line::from(vec![
                Span::raw(format!(" {}{who} ", clock(app, countdown.kind))),
                Span::styled(countdown.text(), theme.urgency(countdown.urgency())),
                Span::raw(format!("  {}{alarms}", time(app, c.due.as_ref()))),
            ]));
        }
    }
    if !incident.repeat_calls.is_empty() {
        out.push(Line::from(Span::styled(
            format!(
                "{} {} {}",
                app.t(T::RepeatCalls),
                incident.repeat_calls.len() + 1,
                app.t(T::Times)
            ),
            theme.alert(),
        )));
        // The first call too, so that the lines add up to the count.
        out.push(Line::from(truncate(
            &format!(
                " {} {}",
                time(app, incident.created_at.as_ref()),
                caller_said(
                    &incident.caller_name,
                    &incident.caller_phone,
                    app.t(T::FirstCall)
                )
            ),
            cells,
        )));
        for call in &incident.repeat_calls {
            out.push(Line::from(truncate(
                &format!(
                    " {} {}",
                    time(app, call.at.as_ref()),
                    caller_said(&call.caller_name, &call.caller_phone, &call.text)
                ),
                cells,
            )));
        }
    }
    if !incident.notes.is_empty() {
        out.push(Line::from(Span::styled(app.t(T::Notes), theme.dim())));
        for note in &incident.notes {
            let author = note.author.as_ref().map_or("", |a| a.name.as_str());
            out.push(Line::from(truncate(
                &format!(" {} {author}: {}", time(app, note.at.as_ref()), note.text),
                cells,
            )));
        }
    }
    out
}

/// A timeline entry in words.
pub(crate) fn describe(app: &App, event: &pb::Event) -> String {
    use pb::event::Body;
    let zh = app.lang == crate::tui::i18n::Lang::Zh;
    let pick = |c: &str, e: &str| if zh { c.to_owned() } else { e.to_owned() };
    match &event.body {
        Some(Body::IncidentCreated(_)) => pick("接警登记", "call recorded"),
        Some(Body::IncidentUpdated(u)) => {
            let fields: Vec<String> = u
                .changed_fields
                .iter()
                .map(|field| crate::tui::i18n::field_label(field, app.lang))
                .collect();
            format!("{} {}", pick("修改", "changed"), fields.join("、"))
        }
        Some(Body::AssignmentChanged(c)) => {
            let a = c.assignment.clone().unwrap_or_default();
            let who = assignee_name(app, a.assignee.as_ref());
            let verb = match event.kind.as_str() {
                "incident.assigned" => pick("派单给", "dispatched to"),
                "incident.signed_for" => pick("签收", "signed for by"),
                "incident.arrived" => pick("到场", "arrived:"),
                "incident.finished" => pick("完成", "finished:"),
                "incident.refused" => pick("退回", "refused by"),
                _ => pick("撤回", "withdrawn from"),
            };
            let behalf = if c.on_behalf {
                pick(" (代)", " (on behalf)")
            } else {
                String::new()
            };
            let note = if c.note.is_empty() {
                String::new()
            } else {
                format!(" {}", c.note)
            };
            format!("{verb} {who}{behalf}{note}")
        }
        Some(Body::NoteAdded(n)) => format!(
            "{}: {}",
            pick("备注", "note"),
            n.note.as_ref().map_or("", |n| n.text.as_str())
        ),
        Some(Body::RepeatCallAdded(c)) => format!(
            "{} {}",
            pick("重复来电", "repeat call from"),
            caller_said(&c.caller_name, &c.caller_phone, &c.text)
        ),
        Some(Body::IncidentPhaseChanged(p)) => {
            let what = match event.kind.as_str() {
                "incident.resolved" => pick("处置完毕", "resolved"),
                "incident.closed" => pick("回访办结", "closed"),
                "incident.cancelled" => pick("撤销", "cancelled"),
                "incident.merged_into" => pick("并入", "merged into"),
                "incident.absorbed" => pick("合并了", "absorbed"),
                _ => pick("重新打开", "reopened"),
            };
            let detail = [
                p.outcome.as_str(),
                p.callback_result.as_str(),
                p.reason.as_str(),
                p.other_incident.as_str(),
            ]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
            format!("{what} {detail}")
        }
        Some(Body::Alarm(a)) => {
            if a.acknowledged_at.is_some() {
                format!("{} #{}", pick("警报已确认", "alarm acknowledged"), a.id)
            } else {
                // From the alarm's fields, in the console's language.
                format!(
                    "! #{} {}",
                    a.id,
                    crate::tui::attention::describe_alarm(&app.model, a, app.lang)
                )
            }
        }
        Some(Body::AlarmNotified(n)) => n
            .alarm
            .as_ref()
            .and_then(|a| {
                let sent = a.notifications.iter().find(|x| x.key == n.key)?;
                let mut line = format!(
                    "#{} {} {}",
                    a.id,
                    sent.name,
                    crate::tui::attention::notification(sent, app.lang)
                );
                // dutyd's reason is English: the Chinese console leaves it.
                if !zh && !sent.reason.is_empty() {
                    line.push_str(": ");
                    line.push_str(&sent.reason);
                }
                Some(line)
            })
            .unwrap_or_else(|| pick("通知", "notification")),
        Some(Body::SeverityRaised(r)) => format!(
            "{} {} → {}",
            pick("升级", "severity"),
            numeral(r.from),
            numeral(r.to)
        ),
        // dutyd's reason is English prose: the Chinese console says what
        // happened without it.
        Some(Body::ClocksChanged(_)) if zh => "时限调整".to_owned(),
        Some(Body::ClocksChanged(c)) => format!("clocks changed: {}", c.reason),
        _ => pick("其他记录", &event.kind),
    }
}

/// The side panel on wide terminals: the selected incident.
pub(super) fn panel(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(Span::styled(app.t(T::Detail), theme.dim()));
    let content = match app.selection() {
        Some(incident) => lines(
            app,
            theme,
            incident,
            false,
            area.width.saturating_sub(2) as usize,
        ),
        None => vec![Line::from(Span::styled(app.t(T::NoSelection), theme.dim()))],
    };
    frame.render_widget(Paragraph::new(content).block(block), area);
}

/// The detail screen: everything, phone in full, and the timeline.
pub(super) fn full(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(incident) = app.selection() else {
        // Stepped back to before this incident was taken.
        let why = if app.replay.is_some() {
            T::NotYetThen
        } else {
            T::NoSelection
        };
        frame.render_widget(Paragraph::new(app.t(why)), area);
        return;
    };
    let cells = area.width as usize;
    let mut content = lines(app, theme, incident, true, cells);
    content.push(Line::from(Span::styled(app.t(T::Timeline), theme.dim())));
    match &app.timeline {
        Some((number, events)) if *number == incident.number => {
            // A replay shows the timeline up to its moment.
            let until = app
                .replay
                .as_ref()
                .and_then(|r| r.shown.as_ref())
                .map_or(u64::MAX, |(reply, _)| reply.seq);
            for event in events.iter().filter(|e| e.seq <= until) {
                // dutyd's own records (clocks, texts sent) are the system's.
                let who = match event.principal.as_ref() {
                    Some(p) if p.role == "system" => app.t(T::SystemActor),
                    Some(p) => p.name.as_str(),
                    None => "",
                };
                let style = if event.kind == "incident.escalated" {
                    theme.alert()
                } else {
                    Style::default()
                };
                content.push(Line::from(Span::styled(
                    truncate(
                        &format!(
                            " {} {}  — {who}",
                            time(app, event.at.as_ref()),
                            describe(app, event)
                        ),
                        cells,
                    ),
                    style,
                )));
            }
        }
        _ => content.push(Line::from(Span::styled(app.t(T::Loading), theme.dim()))),
    }
    // Everything is there; the movement keys scroll it (clamped to the
    // last page), with arrows in the corner when there is more.
    let rows: usize = content
        .iter()
        .map(|line| line.width().max(1).div_ceil(cells.max(1)))
        .sum();
    let height = area.height as usize;
    let last = rows.saturating_sub(height);
    app.detail_last.set(last);
    let scroll = app.detail_scroll.min(last);
    frame.render_widget(
        Paragraph::new(content)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        area,
    );
    let corner = |y: u16| Rect::new(area.right().saturating_sub(3), y, 3.min(area.width), 1);
    if scroll > 0 {
        frame.render_widget(
            Paragraph::new(Span::styled(" ↑ ", theme.alert())),
            corner(area.y),
        );
    }
    if scroll < last {
        frame.render_widget(
            Paragraph::new(Span::styled(" ↓ ", theme.alert())),
            corner(area.bottom().saturating_sub(1)),
        );
    }
}

/// "name phone: text", leaving out what was not given (no stray colon).
fn caller_said(name: &str, phone: &str, text: &str) -> String {
    let who: Vec<&str> = [name.trim(), phone.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    match (who.is_empty(), text.trim().is_empty()) {
        (true, _) => text.trim().to_owned(),
        (false, true) => who.join(" "),
        (false, false) => format!("{}: {}", who.join(" "), text.trim()),
    }
}

#[cfg(test)]
mod tests {
    use dutyroom_proto::v1 as pb;
    use pb::event::Body;

    use super::describe;
    use crate::tui::i18n::Lang;

    /// Every kind of timeline entry, described in Chinese, holds no English
    /// word: only the data (Chinese here) and digits.
    #[test]
    fn the_timeline_speaks_one_language() {
        let app = crate::tui::tests::app(Lang::Zh);
        let assignment = pb::Assignment {
            assignee: Some(pb::Assignee {
                kind: pb::AssigneeKind::Post as i32,
                id: "xinhua".into(),
                name: String::new(),
            }),
            ..Default::default()
        };
        let bodies: Vec<(&str, Body)> = vec![
            (
                "incident.created",
                Body::IncidentCreated(pb::IncidentCreated::default()),
            ),
            (
                "incident.updated",
                Body::IncidentUpdated(pb::IncidentUpdated {
                    changed_fields: vec![
                        "summary".into(),
                        "place_id".into(),
                        "caller_phone".into(),
                    ],
                    ..Default::default()
                }),
            ),
            ("incident.noted", Body::NoteAdded(pb::NoteAdded::default())),
            (
                "incident.resolved",
                Body::IncidentPhaseChanged(pb::IncidentPhaseChanged::default()),
            ),
            (
                "incident.closed",
                Body::IncidentPhaseChanged(pb::IncidentPhaseChanged::default()),
            ),
            (
                "incident.cancelled",
                Body::IncidentPhaseChanged(pb::IncidentPhaseChanged::default()),
            ),
            (
                "incident.reopened",
                Body::IncidentPhaseChanged(pb::IncidentPhaseChanged::default()),
            ),
            (
                "incident.raised",
                Body::SeverityRaised(pb::SeverityRaised::default()),
            ),
            (
                "incident.clocks_changed",
                Body::ClocksChanged(pb::ClocksChanged {
                    reason: "post xinhua switched to emergency mode".into(),
                }),
            ),
            (
                "policy.changed",
                Body::PolicyChanged(pb::PolicyChanged::default()),
            ),
        ];
        let mut bodies = bodies;
        for kind in [
            "incident.assigned",
            "incident.signed_for",
            "incident.arrived",
            "incident.finished",
            "incident.refused",
            "incident.withdrawn",
        ] {
            bodies.push((
                kind,
                Body::AssignmentChanged(pb::AssignmentChanged {
                    assignment: Some(assignment.clone()),
                    ..Default::default()
                }),
            ));
        }
        for alarm_kind in 0..=6 {
            bodies.push((
                "alarm.raised",
                Body::Alarm(pb::Alarm {
                    id: 1,
                    level: 2,
                    kind: alarm_kind,
                    reason: "sign-for overdue by post:xinhua".into(),
                    post_id: "xinhua".into(),
                    late_by_seconds: 120,
                    ..Default::default()
                }),
            ));
        }
        for (kind, body) in bodies {
            let event = pb::Event {
                kind: kind.into(),
                body: Some(body),
                ..Default::default()
            };
            let text = describe(&app, &event);
            // Durations keep the compact 2m / 1h30 / 3d form in both
            // languages (the board's columns are 4 cells wide).
            let words: Vec<&str> = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
                .filter(|w| {
                    !(w.starts_with(|c: char| c.is_ascii_digit())
                        && w.trim_start_matches(|c: char| c.is_ascii_digit()).len() == 1)
                })
                .collect();
            assert!(words.is_empty(), "{kind}: {text} ({words:?})");
        }
    }
}
