//! `:report`: the assessment of a period at a glance, made for 80×24 — the
//! centre's figures against the previous period, then each league table
//! with a bar of its value and a sparkline of each row's daily sign-for
//! p90. Scrolls when the tables are longer than the screen.

use dutyroom_proto::v1 as pb;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Theme;
use crate::report::{change, duration, satisfaction, share, trend, value};
use crate::tui::app::App;
use crate::tui::i18n::{Lang, T};
use crate::tui::text::{fit, one_line, truncate, width};

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `values` (0: none that day) as one block character each, scaled to the
/// largest; a day without a figure is a space.
fn sparkline(values: &[u64]) -> String {
    let top = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                let step = (u128::from(v) * 7 / u128::from(top)).min(7) as usize;
                BLOCKS[step]
            }
        })
        .collect()
}

/// Averages `values` into at most `cells` buckets (keeping zeros as gaps
/// only when the whole bucket had none).
fn squeeze(values: &[u64], cells: usize) -> Vec<u64> {
    if values.len() <= cells || cells == 0 {
        return values.to_vec();
    }
    (0..cells)
        .map(|i| {
            let start = i * values.len() / cells;
            let end = ((i + 1) * values.len() / cells).max(start + 1);
            let some: Vec<u64> = values[start..end]
                .iter()
                .copied()
                .filter(|v| *v > 0)
                .collect();
            if some.is_empty() {
                0
            } else {
                let sum: u128 = some.iter().map(|v| u128::from(*v)).sum();
                u64::try_from(sum / some.len() as u128).unwrap_or(u64::MAX)
            }
        })
        .collect()
}

/// A horizontal bar of `value` out of `max`, `cells` wide, in eighths.
fn bar(value: f64, max: f64, cells: usize) -> String {
    if !(max.is_finite() && value.is_finite()) || max <= 0.0 || value <= 0.0 {
        return " ".repeat(cells);
    }
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = ((value / max).min(1.0) * (cells * 8) as f64).round() as usize;
    let mut out: String = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        out.push(EIGHTHS[eighths % 8 - 1]);
    }
    let pad = cells.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

fn zh(app: &App, zh: &'static str, en: &'static str) -> &'static str {
    match app.lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// Every line of the view, for drawing and for bounding the scroll.
fn lines(app: &App, report: &pb::Report, cells: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let period = report.period.clone().unwrap_or_default();
    let previous = report.previous_period.clone().unwrap_or_default();
    let drills = match pb::DrillFilter::try_from(report.drills) {
        Ok(pb::DrillFilter::Only) => zh(app, "仅演练", "drills only"),
        Ok(pb::DrillFilter::Include) => zh(app, "含演练", "drills included"),
        _ => zh(app, "不含演练", "drills excluded"),
    };
    out.push(Line::from(Span::styled(
        truncate(
            &format!(
                "{} {} ({} – {}) {} {} · {drills}",
                zh(app, "考核", "Assessment"),
                period.label,
                period.from,
                period.to,
                zh(app, "对比", "vs"),
                previous.label
            ),
            cells,
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )));
    if let Some(now) = &report.summary {
        let before = report.previous_summary.clone().unwrap_or_default();
        out.push(Line::from(truncate(
            &format!(
                "{} {} ({})  {} {}  {} {}  {} {}  {} {}",
                zh(app, "接警", "calls"),
                now.created,
                change(now.created, before.created),
                zh(app, "派单", "orders"),
                now.orders,
                zh(app, "退单", "sent back"),
                now.sent_back,
                zh(app, "回访", "callbacks"),
                now.callbacks,
                zh(app, "满意度", "satisfaction"),
                satisfaction(now),
            ),
            cells,
        )));
        let measure = |name: &str, f: &Option<pb::Figures>, b: &Option<pb::Figures>| {
            let f = f.unwrap_or_default();
            let b = b.unwrap_or_default();
            if f.count == 0 {
                return format!("{name} -");
            }
            let moved = if b.count == 0 {
                String::new()
            } else {
                crate::report::change_points(f.compliance, b.compliance)
            };
            format!(
                "{name} {}/{} {} {moved}",
                duration(f.p50),
                duration(f.p90),
                share(f.compliance),
            )
        };
        out.push(Line::from(truncate(
            &format!(
                "{}  {}  {}",
                measure(zh(app, "签收", "sign"), &now.sign_for, &before.sign_for),
                measure(zh(app, "到场", "arrive"), &now.arrive, &before.arrive),
                measure(zh(app, "办结", "resolve"), &now.resolve, &before.resolve),
            ),
            cells,
        )));
    }
    for (title, rows) in [
        (zh(app, "指挥部", "Posts"), &report.posts),
        (zh(app, "联动单位", "Units"), &report.units),
    ] {
        if rows.is_empty() {
            continue;
        }
        out.push(Line::from(Span::styled(
            truncate(
                &format!(
                    "── {title} · {} {} · <{} {} ──",
                    zh(app, "按", "by"),
                    report.rank_by,
                    report.min_sample,
                    zh(app, "单不排名", "orders unranked"),
                ),
                cells,
            ),
            theme.dim(),
        )));
        let max = if report.rank_by == "composite" {
            100.0
        } else {
            rows.iter().map(|r| r.value).fold(0.0, f64::max)
        };
        // rank 3, trend 4, name 14, orders 5, back 4, value 7, bar 10: 47
        // cells, then the sparkline takes what is left.
        let spark_cells = cells.saturating_sub(49).min(31);
        for row in rows {
            let sign_p90 = crate::report::daily_sign_for_p90(report, row);
            let spark = sparkline(&squeeze(&sign_p90, spark_cells));
            let style = if row.rank == 0 {
                theme.dim()
            } else {
                Style::default()
            };
            let text = format!(
                "{}{}{}{}{}{} {} {}",
                fit(&crate::report::rank(row.rank), 3),
                fit(&trend(row.rank, row.previous_rank), 4),
                fit(&one_line(&row.name), 14),
                fit(&format!("{:>4}", row.orders), 5),
                fit(&format!("{:>3}", row.sent_back), 4),
                fit(
                    &format!("{:>6}", value(&report.rank_by, row.value, row.has_value)),
                    7
                ),
                bar(if row.has_value { row.value } else { 0.0 }, max, 10),
                spark,
            );
            out.push(Line::from(Span::styled(truncate(&text, cells), style)));
        }
    }
    out
}

/// How many lines the view has (the scroll's bound).
pub fn report_lines(app: &App) -> usize {
    match &app.report {
        Some(report) => lines(app, report, 80, &Theme::from_env()).len(),
        None => 0,
    }
}

/// Draws the view.
pub(super) fn report(app: &App, offset: usize, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        zh(
            app,
            "考核报告 (j/k 滚动, 其他键返回)",
            "assessment (j/k scroll, any other key back)",
        ),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(report) = &app.report else {
        frame.render_widget(
            Paragraph::new(Span::styled(app.t(T::ReportLoading), theme.dim())),
            inner,
        );
        return;
    };
    let all = lines(app, report, inner.width as usize, theme);
    let shown: Vec<Line<'static>> = all.into_iter().skip(offset).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_worst_day_and_leave_gaps() {
        assert_eq!(sparkline(&[10, 0, 40, 80]), "▁ ▄█");
        assert_eq!(squeeze(&[1, 3, 0, 0, 5, 7], 3), [2, 0, 6]);
        assert_eq!(bar(50.0, 100.0, 4), "██  ");
        assert_eq!(bar(0.0, 100.0, 3), "   ");
        assert_eq!(bar(f64::NAN, 100.0, 3), "   ");
        assert_eq!(sparkline(&[u64::MAX, 1]), "█▁");
    }
}
