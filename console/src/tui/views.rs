//! Rendering: a pure function of [`App`] into a frame. Layout adapts to the
//! terminal: at 80×24 the board fills the screen; from 120 columns a side
//! panel appears; on very small terminals the strip and hints give way
//! before anything is garbled.

mod board;
mod detail;
mod overlays;

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
    match &app.mode {
        Mode::Detail => detail::full(app, theme, frame, main),
        Mode::Form(form) => overlays::form(app, form, theme, frame, main),
        Mode::Picker(picker) => overlays::picker(app, picker, theme, frame, main),
        Mode::Help(offset) => overlays::help(app, *offset, theme, frame, main),
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
                }
            } else {
                // Narrow: the panels are tabs in place of the board.
                match app.panel {
                    Panel::Detail => board::render(app, theme, frame, main),
                    Panel::Posts => overlays::posts(app, theme, frame, main),
                    Panel::Alarms => overlays::alarms(app, theme, frame, main),
                    Panel::OnDuty => overlays::on_duty(app, theme, frame, main),
                    Panel::Handover => overlays::handover(app, theme, frame, main),
                }
            }
        }
    }
    overlays::input_line(app, theme, frame, input);
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
        .map(|p| format!("{} ({})", p.name, p.role))
        .unwrap_or_default();
    let left = format!(" dutyroom {}  {me}", app.t(T::Title));
    let right = format!("{clock} ");
    let total = area.width as usize;
    let link = truncate(&link, total.saturating_sub(width(&right) + 2));
    let left_room = total.saturating_sub(width(&right) + width(&link) + 2);
    let line = Line::from(vec![
        Span::styled(
            fit(&left, left_room),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(link, style),
        Span::raw("  "),
        Span::raw(right),
    ]);
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
    let mut spans = Vec::new();
    spans.extend(item("1", T::Open, s.open, false));
    spans.extend(item("2", T::Unsigned, s.unsigned, false));
    spans.extend(item("3", T::OnScene, s.on_scene, false));
    spans.extend(item("4", T::Overdue, s.overdue, true));
    spans.extend(item("5", T::Alarms, s.alarms, true));
    spans.extend(item("6", T::Emergency, s.emergency, true));
    if !app.filter.text.is_empty() {
        spans.push(Span::styled(
            format!("/{}", app.filter.text),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn key_hints(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let hints: Vec<(&str, &str)> = match &app.mode {
        Mode::Form(_) | Mode::Picker(_) | Mode::Prompt(..) | Mode::Command(_) | Mode::Filter(_) => {
            Vec::new()
        }
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
    let text = match &app.mode {
        Mode::Form(_) => app.t(T::FormHint).to_owned(),
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

/// A command's name for the hint bar, in the console's language.
fn short(app: &App, name: &str) -> &'static str {
    use crate::tui::i18n::Lang;
    let (zh, en) = match name {
        "new" => ("接警", "new"),
        "assign" => ("派单", "assign"),
        "sign" => ("签收", "sign"),
        "arrive" => ("到场", "arrive"),
        "escalate" => ("督办", "escalate"),
        "note" => ("备注", "note"),
        "resolve" => ("处置", "resolve"),
        "close" => ("办结", "close"),
        "open" => ("详情", "open"),
        "filter" => ("筛选", "filter"),
        "command" => ("命令", "cmd"),
        "help" => ("帮助", "help"),
        "quit" => ("退出", "quit"),
        _ => ("", ""),
    };
    match app.lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}
