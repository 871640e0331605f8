//! Rendering: a pure function of [`App`] into a frame. Layout adapts to the
//! terminal: at 80×24 the board fills the screen; from 120 columns a side
//! panel appears; on very small terminals the strip and hints give way
//! before anything is garbled.

mod board;
mod detail;
mod overlays;
mod report;

pub use report::report_lines;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Link, Mode, Panel};
use crate::tui::i18n::T;
use crate::tui::text::{fit, truncate, width};
use crate::tui::urgency::{self, Urgency};

/// Colours, or none (`NO_COLOR`): every signal also has a text form.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// Use colour at all.
    pub color: bool,
}

impl Theme {
    /// From the environment: no colour when `NO_COLOR` is set.
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    /// Severity: red, orange, yellow, blue (with the numeral always shown).
    pub fn severity(&self, severity: i32) -> Style {
        use dutyroom_proto::v1::Severity as S;
        match S::try_from(severity) {
            Ok(S::I) => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Ok(S::Ii) => self.fg(Color::Indexed(208)).add_modifier(Modifier::BOLD),
            Ok(S::Iii) => self.fg(Color::Yellow),
            Ok(S::Iv) => self.fg(Color::Blue),
            _ => Style::default(),
        }
    }

    /// A countdown: calm, amber, or red (overdue also carries a `+`).
    pub fn urgency(&self, urgency: Urgency) -> Style {
        match urgency {
            Urgency::Calm => Style::default(),
            Urgency::Amber => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Urgency::Red => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// Quiet text (hints, labels).
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// Errors and alarms (also marked with `!`).
    pub fn alert(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Good news (also in words).
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    /// The selected row: reverse video works without colour too.
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// A freshly arrived incident.
    pub fn fresh(&self) -> Style {
        if self.color {
            Style::default().bg(Color::Indexed(22))
        } else {
            Style::default().add_modifier(Modifier::UNDERLINED)
        }
    }
}

/// Draws the whole screen.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.height < 3 || area.width < 20 {
        frame.render_widget(Paragraph::new("dutyroom: terminal too small"), area);
        return;
    }
    let roomy = area.height >= 10;
    let [top, strip, main, input, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(roomy)),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(roomy)),
    ])
    .areas(area);
    title_bar(app, theme, frame, top);
    if roomy {
        situation_strip(app, theme, frame, strip);
        key_hints(app, theme, frame, hints);
    }
    // A replay says so above whatever it shows, always.
    let main = match &app.replay {
        Some(replay) if main.height > 1 => {
            let [bar, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(main);
            replay_bar(app, replay, theme, frame, bar);
            rest
        }
        _ => main,
    };
    match app.mode.shown() {
        Mode::Detail => detail::full(app, theme, frame, main),
        Mode::Form(form) => overlays::form(app, form, theme, frame, main),
        Mode::Picker(picker) => overlays::picker(app, picker, theme, frame, main),
        Mode::Help(offset) => overlays::help(app, *offset, theme, frame, main),
        Mode::Log(offset) => overlays::log(app, *offset, theme, frame, main),
        Mode::Report(offset) => report::report(app, *offset, theme, frame, main),
        Mode::CallPreview(preview) => overlays::call_preview(app, preview, theme, frame, main),
        _ => {
            if main.width >= 120 {
                let [left, right] =
                    Layout::horizontal([Constraint::Min(60), Constraint::Length(48)]).areas(main);
                board::render(app, theme, frame, left);
                match app.panel {
                    Panel::Detail => detail::panel(app, theme, frame, right),
                    Panel::Posts => overlays::posts(app, theme, frame, right),
                    Panel::Alarms => overlays::alarms(app, theme, frame, right),
                    Panel::OnDuty => overlays::on_duty(app, theme, frame, right),
                    Panel::Handover => overlays::handover(app, theme, frame, right),
                    Panel::Outbox => overlays::outbox(app, theme, frame, right),
                    Panel::RollCall => overlays::rollcall(app, theme, frame, right),
                }
            } else {
                // Narrow: the panels are tabs in place of the board.
                match app.panel {
                    Panel::Detail => board::render(app, theme, frame, main),
                    Panel::Posts => overlays::posts(app, theme, frame, main),
                    Panel::Alarms => overlays::alarms(app, theme, frame, main),
                    Panel::OnDuty => overlays::on_duty(app, theme, frame, main),
                    Panel::Handover => overlays::handover(app, theme, frame, main),
                    Panel::Outbox => overlays::outbox(app, theme, frame, main),
                    Panel::RollCall => overlays::rollcall(app, theme, frame, main),
                }
            }
        }
    }
    overlays::input_line(app, theme, frame, input);
}

/// `回放 2026-12-03 03:00:00 · 记录 1234`, the stepping keys, and whether
/// an answer is awaited or failed: in reverse video, never mistaken for
/// the live board.
fn replay_bar(
    app: &App,
    replay: &crate::tui::app::Replay,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let when = replay.at().map_or_else(String::new, |at| {
        at.to_zoned_datetime(app.zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    });
    let seq = replay.shown.as_ref().map_or(0, |(reply, _)| reply.seq);
    // The way out first: on a narrow terminal the end is what is cut.
    let mut text = format!(
        "◀ {} {when} · {}",
        app.t(T::Replaying),
        app.t(T::ReplayExit)
    );
    if let Some(why) = &replay.failed {
        text.push_str(&format!(
            " · ! {}: {}",
            app.t(T::ReplayFailed),
            crate::tui::text::one_line(why)
        ));
    }
    if replay.asking.is_some() {
        text.push_str(&format!(" · {}", app.t(T::ReplayAsking)));
    }
    match seq {
        0 if replay.shown.is_some() => {
            text.push_str(&format!(" · {}", app.t(T::ReplayNothingYet)));
        }
        0 => {}
        seq => text.push_str(&format!(" · {} {seq}", app.t(T::Record))),
    }
    text.push_str(&format!("  {}", app.t(T::ReplaySteps)));
    let style = theme.alert().add_modifier(Modifier::REVERSED);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            fit(&text, area.width as usize),
            style,
        ))),
        area,
    );
}

fn title_bar(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let clock = app
        .now
        .to_zoned_datetime(app.zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let (link, style) = match &app.link {
        Link::Live => (format!("● {}", app.t(T::Live)), theme.ok()),
        Link::Connecting => (format!("○ {}", app.t(T::Connecting)), theme.dim()),
        Link::Lost { since, .. } => (
            format!(
                "✕ {} — {} {} ({} {})",
                app.t(T::Lost),
                app.t(T::Stale),
                since
                    .to_zoned_datetime(app.zone.clone())
                    .strftime("%H:%M:%S"),
                urgency::age(*since, app.now),
                app.t(T::Retrying)
            ),
            theme.alert(),
        ),
    };
    let me = app
        .me
        .as_ref()
        .map(|p| {
            format!(
                "{} ({})",
                p.name,
                crate::tui::i18n::role_label(&p.role, app.lang)
            )
        })
        .unwrap_or_default();
    // A post's console names the post and shows its mode up front.
    let (left, badge) = match app.own.as_deref() {
        Some(own) => {
            let id = own.split_once(':').map_or(own, |(_, id)| id);
            let post = app.model.posts.get(id);
            let name = post.map_or(id.to_owned(), |p| p.name.clone());
            let who = app.me.as_ref().map(|p| p.name.clone()).unwrap_or_default();
            let badge = match post {
                Some(p) if p.mode == dutyroom_proto::v1::PostMode::Emergency as i32 => Some((
                    format!("[!{}] ", app.t(T::Emergency)),
                    theme.alert().add_modifier(Modifier::REVERSED),
                )),
                Some(_) => Some((format!("[{}] ", app.t(T::Normal)), theme.ok())),
                None => None,
            };
            (
                format!(" dutyroom {name} "),
                badge.map(|(t, s)| (t, s, who)),
            )
        }
        None => (format!(" dutyroom {}  {me}", app.t(T::Title)), None),
    };
    let right = format!("{clock} ");
    let total = area.width as usize;
    let link = truncate(&link, total.saturating_sub(width(&right) + 2));
    let mut left_room = total.saturating_sub(width(&right) + width(&link) + 2);
    let mut spans = Vec::new();
    if let Some((badge, badge_style, who)) = badge {
        let head = truncate(&left, left_room);
        left_room = left_room.saturating_sub(width(&head));
        spans.push(Span::styled(
            head,
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let badge = truncate(&badge, left_room);
        left_room = left_room.saturating_sub(width(&badge));
        spans.push(Span::styled(badge, badge_style));
        spans.push(Span::raw(fit(&who, left_room)));
    } else {
        spans.push(Span::styled(
            fit(&left, left_room),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    let line = Line::from(
        [
            spans,
            vec![Span::styled(link, style), Span::raw("  "), Span::raw(right)],
        ]
        .concat(),
    );
    frame.render_widget(Paragraph::new(line), area);
}

fn situation_strip(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let s = app.situation;
    let item = |key: &str, label: T, count: usize, alert: bool| {
        let style = if alert && count > 0 {
            theme.alert()
        } else {
            Style::default()
        };
        let mark = if alert && count > 0 { "!" } else { "" };
        vec![
            Span::styled(format!("[{key}]"), theme.dim()),
            Span::styled(format!("{}{mark} {count} ", app.t(label)), style),
        ]
    };
    // Each group with its rank: when the strip is too narrow, the lowest
    // ranked groups give way whole, never cut in half.
    let post = app.own.is_some();
    let mut groups: Vec<(u8, Vec<Span<'static>>)> = vec![
        (if post { 2 } else { 0 }, item("1", T::Open, s.open, false)),
        (0, item("2", T::Unsigned, s.unsigned, false)),
        (3, item("3", T::OnScene, s.on_scene, false)),
        (0, item("4", T::Overdue, s.overdue, true)),
        (
            if post { 1 } else { 0 },
            item("5", T::Attention, s.alarms, true),
        ),
        // A post's own mode is in its title bar.
        (
            if app.own.is_some() { 4 } else { 1 },
            item("6", T::Emergency, s.emergency, true),
        ),
    ];
    match app.own.as_deref() {
        // A post: the roll-call to answer, and what its outbox holds.
        Some(own) => {
            if let Some(rollcall) = app
                .model
                .rollcalls
                .values()
                .find(|r| crate::tui::model::waits_for(r, own))
            {
                let left = urgency::ts(rollcall.answer_by.as_ref()).duration_since(app.now);
                let countdown = urgency::Countdown {
                    kind: dutyroom_proto::v1::ClockKind::Unspecified,
                    left,
                    length: left,
                };
                groups.push((
                    0,
                    vec![Span::styled(
                        format!(
                            "{}! #{} {} {}{} r ",
                            app.t(T::RollCall),
                            rollcall.id,
                            countdown.text(),
                            app.t(T::AnswerUntil),
                            urgency::ts(rollcall.answer_by.as_ref())
                                .to_zoned_datetime(app.zone.clone())
                                .strftime("%H:%M")
                        ),
                        theme.alert(),
                    )],
                ));
            }
            let outbox = &app.outbox.contents;
            if !outbox.pending.is_empty() {
                groups.push((
                    0,
                    vec![Span::styled(
                        format!("»{} {} ", app.t(T::Outbox), outbox.pending.len()),
                        Style::default().add_modifier(Modifier::BOLD),
                    )],
                ));
            }
            if !outbox.failed.is_empty() {
                groups.push((
                    0,
                    vec![Span::styled(
                        format!("!{} {} ", app.t(T::OutboxFailed), outbox.failed.len()),
                        theme.alert(),
                    )],
                ));
            }
        }
        // The centre: posts that dropped off.
        None => {
            let offline = app
                .model
                .presence
                .iter()
                .filter(|(key, p)| {
                    key.starts_with("post:")
                        && !p.online
                        && app
                            .model
                            .posts
                            .get(key.trim_start_matches("post:"))
                            .is_some_and(|post| !post.retired)
                })
                .count();
            if offline > 0 {
                groups.push((
                    0,
                    vec![Span::styled(
                        format!("✕{} {offline} ", app.t(T::Offline)),
                        theme.alert(),
                    )],
                ));
            }
        }
    }
    if let Some(waiting) = app.handover_for_me() {
        groups.push((
            0,
            vec![Span::styled(
                format!("{}! #{} H ", app.t(T::HandoverPending), waiting.id),
                theme.alert(),
            )],
        ));
    }
    if !app.bell {
        groups.push((
            0,
            vec![Span::styled(
                format!("{} ", app.t(T::BellOff)),
                theme.alert(),
            )],
        ));
    }
    if let Some(until) = app.muted_until {
        groups.push((
            0,
            vec![Span::styled(
                format!(
                    "{} {} ",
                    app.t(T::Muted),
                    until.to_zoned_datetime(app.zone.clone()).strftime("%H:%M")
                ),
                theme.alert(),
            )],
        ));
    }
    if !app.filter.text.is_empty() {
        groups.push((
            0,
            vec![Span::styled(
                format!("/{}", app.filter.text),
                Style::default().add_modifier(Modifier::BOLD),
            )],
        ));
    }
    let cells = |groups: &[(u8, Vec<Span<'static>>)]| {
        groups
            .iter()
            .flat_map(|(_, spans)| spans.iter())
            .map(|span| width(&span.content))
            .sum::<usize>()
    };
    while cells(&groups) > area.width as usize {
        let Some((index, _)) = groups
            .iter()
            .enumerate()
            .filter(|(_, (rank, _))| *rank > 0)
            .max_by_key(|(index, (rank, _))| (*rank, *index))
        else {
            break;
        };
        groups.remove(index);
    }
    let spans: Vec<Span<'static>> = groups.into_iter().flat_map(|(_, spans)| spans).collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn key_hints(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let hints: Vec<(&str, &str)> = match app.mode.shown() {
        Mode::Form(_) | Mode::Picker(_) | Mode::Prompt(..) | Mode::Command(_) | Mode::Filter(_) => {
            Vec::new()
        }
        // Replaying: only what looks.
        _ if app.replay.is_some() => ["open", "filter", "command", "help", "quit"]
            .iter()
            .filter_map(|name| {
                let key = app.keymap.keys_of(name).first().copied()?;
                Some((key, *name))
            })
            .collect(),
        _ if app.post_mode => [
            "sign", "arrive", "note", "resolve", "refuse", "callin", "answer", "outbox", "open",
            "help", "quit",
        ]
        .iter()
        .filter_map(|name| {
            let key = app.keymap.keys_of(name).first().copied()?;
            Some((key, *name))
        })
        .collect(),
        _ => [
            "new", "assign", "sign", "arrive", "escalate", "note", "resolve", "close", "open",
            "filter", "command", "help", "quit",
        ]
        .iter()
        .filter_map(|name| {
            let key = app.keymap.keys_of(name).first().copied()?;
            Some((key, *name))
        })
        .collect(),
    };
    let text = match app.mode.shown() {
        Mode::Form(_) => app.t(T::FormHint).to_owned(),
        Mode::CallPreview(_) => app.t(T::PreviewHint).to_owned(),
        Mode::Picker(p) if p.call_in => app.t(T::CallInHint).to_owned(),
        Mode::Picker(_) => app.t(T::PickerHint).to_owned(),
        _ => hints
            .iter()
            .map(|(key, name)| format!("{key} {}", short(app, name)))
            .collect::<Vec<_>>()
            .join("  "),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&text, area.width as usize),
            theme.dim(),
        )),
        area,
    );
}

/// A command as prompts and confirmations name it, in the console's
/// language (never its English registry name in the Chinese console).
pub(super) fn verb(app: &App, spec: &crate::tui::commands::Spec) -> &'static str {
    spec.verb(app.lang, app.post_mode)
}

/// A command's name for the hint bar, in the console's language.
fn short(app: &App, name: &str) -> &'static str {
    crate::tui::commands::short_label(name, app.lang)
}
