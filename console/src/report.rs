//! Assessment reports as people read them: figures formatted (durations,
//! shares, changes against the previous period), the rows of each report
//! kind as cells for a table or CSV, and CSV itself. The CLI, the console's
//! `:report` view and the HTML page all format through here, so the three
//! never disagree on a figure.

pub mod html;
pub mod incidents;

use std::io::Write;

use dutyroom_proto::v1 as pb;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The centre's totals against the previous period.
    Summary,
    /// League table of sub-district posts.
    Posts,
    /// League table of linkage units.
    Units,
    /// By incident category.
    Categories,
    /// By place, each place holding the places below it.
    Places,
    /// By severity.
    Severities,
    /// By source channel.
    Sources,
    /// By the hour of the day received.
    Hours,
    /// By roster shift (白班, 夜班, …).
    Shifts,
    /// Each incident received, with its own times (paged through in full).
    Incidents,
}

impl Kind {
    /// How the daemon should slice incidents for this report.
    pub fn slice_by(self) -> pb::SliceBy {
        match self {
            Kind::Places => pb::SliceBy::Place,
            Kind::Severities => pb::SliceBy::Severity,
            Kind::Sources => pb::SliceBy::Source,
            Kind::Hours => pb::SliceBy::Hour,
            Kind::Shifts => pb::SliceBy::Shift,
            Kind::Summary | Kind::Posts | Kind::Units | Kind::Categories | Kind::Incidents => {
                pb::SliceBy::Category
            }
        }
    }
}

/// A day of the period of `kind` holding `today`, or with `last` of the
/// one before it (the day before the period starts): what `--last` and
/// `:report …-last` ask dutyd for. A span or a day steps back one day.
pub fn day_in_period(
    today: jiff::civil::Date,
    kind: pb::PeriodKind,
    last: bool,
) -> Option<jiff::civil::Date> {
    if !last {
        return Some(today);
    }
    let first = match kind {
        pb::PeriodKind::Week => today
            .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
            .ok()?,
        pb::PeriodKind::Month => today.first_of_month(),
        pb::PeriodKind::Quarter => {
            jiff::civil::Date::new(today.year(), (today.month() - 1) / 3 * 3 + 1, 1).ok()?
        }
        pb::PeriodKind::Year => today.first_of_year(),
        pb::PeriodKind::Day | pb::PeriodKind::Unspecified => today,
    };
    first.yesterday().ok()
}

/// A row's daily sign-for p90 over every day of the report's period, in
/// order (0: nothing timed that day); the API sends only days with
/// figures.
pub fn daily_sign_for_p90(report: &pb::Report, row: &pb::AssigneeRow) -> Vec<u64> {
    let Some(period) = &report.period else {
        return Vec::new();
    };
    let (Ok(from), Ok(to)) = (
        period.from.parse::<jiff::civil::Date>(),
        period.to.parse::<jiff::civil::Date>(),
    ) else {
        return Vec::new();
    };
    let by_day: std::collections::HashMap<&str, u64> = row
        .daily
        .iter()
        .map(|d| (d.day.as_str(), d.sign_for_p90))
        .collect();
    from.series(jiff::Span::new().days(1))
        .take_while(|day| *day <= to)
        .take(10_000)
        .map(|day| by_day.get(day.to_string().as_str()).copied().unwrap_or(0))
        .collect()
}

/// Seconds as people say them: `45s`, `3m20s`, `1h05m`, `2d03h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3_600..172_800 => format!("{}h{:02}m", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// A share (0–1) as a percentage with one decimal; `-` when negative (the
/// API's "no figure").
pub fn share(value: f64) -> String {
    if value < 0.0 {
        "-".into()
    } else {
        format!("{:.1}%", value * 100.0)
    }
}

/// The change from `before` to `now` as `+12` / `-3` / `±0`.
pub fn change(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{}", now - before),
        std::cmp::Ordering::Less => format!("-{}", before - now),
        std::cmp::Ordering::Equal => "±0".into(),
    }
}

/// The change of a share in percentage points (`+2.5pp`), when both exist.
pub fn change_points(now: f64, before: f64) -> String {
    if now < 0.0 || before < 0.0 {
        return String::new();
    }
    format!("{:+.1}pp", (now - before) * 100.0)
}

/// The timed figures of a measure for a table: `p50/p90 (n)`.
pub fn p50_p90(figures: Option<&pb::Figures>) -> String {
    match figures {
        Some(f) if f.count > 0 => format!("{}/{}", duration(f.p50), duration(f.p90)),
        _ => "-".into(),
    }
}

/// A row's ranking value, as the measure it ranks by is read.
pub fn value(rank_by: &str, value: f64, present: bool) -> String {
    if !present {
        return "-".into();
    }
    if rank_by.ends_with("_p90") {
        duration(value.max(0.0) as u64)
    } else if rank_by == "composite" {
        format!("{value:.1}")
    } else {
        share(value)
    }
}

/// Rank, or `-` when not ranked.
pub fn rank(rank: u32) -> String {
    if rank == 0 {
        "-".into()
    } else {
        rank.to_string()
    }
}

/// The trend of a rank: `↑2` (better), `↓1`, `=`, `new` (not ranked
/// before), empty when not ranked now.
pub fn trend(now: u32, before: u32) -> String {
    match (now, before) {
        (0, _) => String::new(),
        (_, 0) => "new".into(),
        (n, b) if n < b => format!("↑{}", b - n),
        (n, b) if n > b => format!("↓{}", n - b),
        _ => "=".into(),
    }
}

/// The header and cells of a league table (posts or units).
pub fn league(report: &pb::Report, rows: &[pb::AssigneeRow]) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "rank",
        "trend",
        "who",
        "name",
        "orders",
        "sent back",
        "sign-for p50/p90",
        "in time",
        "arrive p50/p90",
        "in time",
        "resolve p50/p90",
        "in time",
        "value",
    ];
    let rows = rows
        .iter()
        .map(|row| {
            let compliance = |f: Option<&pb::Figures>| share(f.map_or(-1.0, |f| f.compliance));
            vec![
                rank(row.rank),
                trend(row.rank, row.previous_rank),
                row.assignee.clone(),
                row.name.clone(),
                row.orders.to_string(),
                row.sent_back.to_string(),
                p50_p90(row.sign_for.as_ref()),
                compliance(row.sign_for.as_ref()),
                p50_p90(row.arrive.as_ref()),
                compliance(row.arrive.as_ref()),
                p50_p90(row.resolve.as_ref()),
                compliance(row.resolve.as_ref()),
                value(&report.rank_by, row.value, row.has_value),
            ]
        })
        .collect();
    (header.iter().map(|h| (*h).to_owned()).collect(), rows)
}

/// The raw columns of a league table for CSV: seconds and shares as
/// numbers, empty when there is no figure.
pub fn league_csv(rows: &[pb::AssigneeRow]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec![
        "rank",
        "previous_rank",
        "assignee",
        "name",
        "orders",
        "sent_back",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    header.extend(measure_columns());
    header.extend(["value".to_owned(), "skewed".to_owned()]);
    let rows = rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.rank.to_string(),
                row.previous_rank.to_string(),
                row.assignee.clone(),
                row.name.clone(),
                row.orders.to_string(),
                row.sent_back.to_string(),
            ];
            cells.extend(measures_csv([&row.sign_for, &row.arrive, &row.resolve]));
            cells.push(if row.has_value {
                format!("{}", row.value)
            } else {
                String::new()
            });
            cells.push(row.skewed.to_string());
            cells
        })
        .collect();
    (header, rows)
}

/// The CSV columns of the three measures' figures, in [`measures_csv`]'s
/// order.
fn measure_columns() -> impl Iterator<Item = String> {
    ["sign_for", "arrive", "resolve"]
        .into_iter()
        .flat_map(|measure| {
            ["count", "p50", "p90", "p95", "max", "compliance", "overdue"]
                .into_iter()
                .map(move |figure| format!("{measure}_{figure}"))
        })
}

/// The three measures' figures as CSV cells.
fn measures_csv(measures: [&Option<pb::Figures>; 3]) -> impl Iterator<Item = String> {
    measures
        .into_iter()
        .flat_map(|figures| figures_csv(figures.as_ref()))
}

fn figures_csv(figures: Option<&pb::Figures>) -> Vec<String> {
    let empty = pb::Figures::default();
    let f = figures.unwrap_or(&empty);
    let timed = |v: u64| {
        if f.count > 0 {
            v.to_string()
        } else {
            String::new()
        }
    };
    vec![
        f.count.to_string(),
        timed(f.p50),
        timed(f.p90),
        timed(f.p95),
        timed(f.max),
        if f.compliance < 0.0 {
            String::new()
        } else {
            format!("{:.4}", f.compliance)
        },
        f.overdue.to_string(),
    ]
}

/// The header and cells of a slice report (categories, places, ...).
pub fn slices(report: &pb::Report) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "key",
        "name",
        "incidents",
        "change",
        "sign-for p50/p90",
        "arrive p50/p90",
        "resolve p50/p90",
        "in time",
        "level≥2",
        "satisfaction",
    ];
    let rows = report
        .slices
        .iter()
        .map(|row| {
            let now = row.totals.clone().unwrap_or_default();
            let before = row.previous.clone().unwrap_or_default();
            vec![
                row.key.clone(),
                row.label.clone(),
                now.created.to_string(),
                change(now.created, before.created),
                p50_p90(now.sign_for.as_ref()),
                p50_p90(now.arrive.as_ref()),
                p50_p90(now.resolve.as_ref()),
                share(now.resolve.as_ref().map_or(-1.0, |f| f.compliance)),
                reached(&now, 2).to_string(),
                satisfaction(&now),
            ]
        })
        .collect();
    (header.iter().map(|h| (*h).to_owned()).collect(), rows)
}

/// The raw columns of a slice report for CSV.
pub fn slices_csv(report: &pb::Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = [
        "key",
        "name",
        "incidents",
        "previous_incidents",
        "orders",
        "sent_back",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(measure_columns());
    header.extend(
        [
            "level1",
            "level2",
            "level3",
            "callbacks",
            "satisfaction_mean",
            "skewed",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    let rows = report
        .slices
        .iter()
        .map(|row| {
            let now = row.totals.clone().unwrap_or_default();
            let before = row.previous.clone().unwrap_or_default();
            let mut cells = vec![
                row.key.clone(),
                row.label.clone(),
                now.created.to_string(),
                before.created.to_string(),
                now.orders.to_string(),
                now.sent_back.to_string(),
            ];
            cells.extend(measures_csv([&now.sign_for, &now.arrive, &now.resolve]));
            for level in 1..=3 {
                cells.push(reached(&now, level).to_string());
            }
            cells.push(now.callbacks.to_string());
            cells.push(if now.satisfaction_mean > 0.0 {
                format!("{:.2}", now.satisfaction_mean)
            } else {
                String::new()
            });
            cells.push(now.skewed.to_string());
            cells
        })
        .collect();
    (header, rows)
}

/// Incidents whose ladder reached `level`.
pub fn reached(totals: &pb::Totals, level: u32) -> u64 {
    totals
        .reached
        .iter()
        .find(|l| l.level == level)
        .map_or(0, |l| l.incidents)
}

/// Mean satisfaction with how many gave one: `4.2 (37)`; `-` for none.
pub fn satisfaction(totals: &pb::Totals) -> String {
    let given: u64 = totals.satisfaction.iter().map(|s| s.callbacks).sum();
    if given == 0 {
        "-".into()
    } else {
        format!("{:.1} ({given})", totals.satisfaction_mean)
    }
}

/// The summary as (measure, this period, previous period, change) lines.
pub fn summary(report: &pb::Report) -> Vec<[String; 4]> {
    let now = report.summary.clone().unwrap_or_default();
    let before = report.previous_summary.clone().unwrap_or_default();
    let mut lines = vec![
        count_line("incidents", now.created, before.created),
        count_line("orders", now.orders, before.orders),
        count_line("sent back", now.sent_back, before.sent_back),
    ];
    for (name, n, b) in [
        ("sign-for", &now.sign_for, &before.sign_for),
        ("arrive", &now.arrive, &before.arrive),
        ("resolve", &now.resolve, &before.resolve),
    ] {
        let (n, b) = (n.unwrap_or_default(), b.unwrap_or_default());
        lines.push([
            format!("{name} p50/p90/max"),
            timed(&n),
            timed(&b),
            String::new(),
        ]);
        lines.push([
            format!("{name} in time"),
            share(n.compliance),
            share(b.compliance),
            change_points(n.compliance, b.compliance),
        ]);
        lines.push(count_line(&format!("{name} overdue"), n.overdue, b.overdue));
    }
    for level in 1..=3 {
        lines.push(count_line(
            &format!("reached level {level}"),
            reached(&now, level),
            reached(&before, level),
        ));
    }
    lines.push(count_line("callbacks", now.callbacks, before.callbacks));
    lines.push([
        "satisfaction".into(),
        satisfaction(&now),
        satisfaction(&before),
        String::new(),
    ]);
    lines.push(count_line("skewed times", now.skewed, before.skewed));
    lines
}

fn count_line(name: &str, now: u64, before: u64) -> [String; 4] {
    [
        name.to_owned(),
        now.to_string(),
        before.to_string(),
        change(now, before),
    ]
}

fn timed(f: &pb::Figures) -> String {
    if f.count == 0 {
        return "-".into();
    }
    format!(
        "{}/{}/{} ({})",
        duration(f.p50),
        duration(f.p90),
        duration(f.max),
        f.count
    )
}

/// One CSV field: quoted when it holds a comma, quote or line break; a
/// leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does
/// not run a name from the network as a formula.
pub fn csv_field(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => format!("'{text}"),
        Some('-') if text.parse::<f64>().is_err() => format!("'{text}"),
        _ => text.to_owned(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Writes rows as CSV (no header: a page after the first).
pub fn write_rows_csv(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// Writes a header and rows as CSV.
pub fn write_csv(
    out: &mut dyn Write,
    header: &[String],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    writeln!(out, "{}", line(header))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(200), "3m20s");
        assert_eq!(duration(3_900), "1h05m");
        assert_eq!(duration(2 * 86_400 + 3 * 3_600), "2d03h");
    }

    #[test]
    fn trends_and_changes_say_which_way() {
        assert_eq!(trend(1, 3), "↑2");
        assert_eq!(trend(4, 2), "↓2");
        assert_eq!(trend(2, 2), "=");
        assert_eq!(trend(2, 0), "new");
        assert_eq!(trend(0, 2), "");
        assert_eq!(change(10, 7), "+3");
        assert_eq!(change(7, 10), "-3");
        assert_eq!(change_points(0.9, 0.85), "+5.0pp");
        assert_eq!(change_points(-1.0, 0.85), "");
    }

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        assert_eq!(csv_field("新华街道指挥部"), "新华街道指挥部");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-3"), "-3");
        assert_eq!(csv_field("-cmd"), "'-cmd");
    }
}
