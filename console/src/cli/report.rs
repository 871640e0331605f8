//! `duty report summary|posts|units|categories|places|severities|sources`:
//! one period's assessment as a table, JSON (the API's `Report`), CSV, or a
//! printable HTML page; `duty report incidents`: each incident received in
//! the period with its own measures.

use std::path::PathBuf;

use dutyroom_proto::v1 as pb;
use jiff::civil::Date;

use super::output::{self, Format};
use super::{CliError, Ctx};
use crate::report::{self, Kind};

/// A period kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeriodArg {
    /// One day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A quarter.
    Quarter,
    /// A calendar year.
    Year,
}

/// Which incidents count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrillsArg {
    /// Drills only (演练).
    Only,
    /// Real incidents and drills together.
    Include,
}

/// `duty report KIND`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    pub kind: Kind,
    /// First day (YYYY-MM-DD, `today` or `yesterday`); with --period, any
    /// day in the period [default: today, in the centre's time zone].
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, inclusive (a span of days; not with --period).
    #[arg(long, conflicts_with = "period")]
    pub to: Option<String>,
    /// The period holding --from.
    #[arg(long, value_enum)]
    pub period: Option<PeriodArg>,
    /// The period before the one holding --from: `--period month --last`
    /// is last month.
    #[arg(long, requires = "period")]
    pub last: bool,
    /// Drills: `only` (演练 on their own) or `include`; without, drills are
    /// left out. `--drills` alone means only.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "only")]
    pub drills: Option<DrillsArg>,
    /// Rank posts and units by: composite, sign_for_p90, arrive_p90,
    /// resolve_p90, sign_for_compliance, arrive_compliance,
    /// resolve_compliance, send_back_rate.
    #[arg(long, default_value = "composite")]
    pub rank_by: String,
    /// Fewer orders than this: shown but not ranked.
    #[arg(long, default_value_t = 5)]
    pub min_sample: u32,
    /// Also write a self-contained printable HTML page (every report kind on
    /// it) to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// incidents: only those this post or unit had an order for
    /// (`post:xinhua`, `unit:fire`).
    #[arg(long)]
    pub assignee: Option<String>,
}

fn day_arg(text: &str, today: Date) -> Result<Date, CliError> {
    match text {
        "today" => Ok(today),
        "yesterday" => today
            .yesterday()
            .map_err(|e| CliError::Usage(e.to_string())),
        _ => text.parse().map_err(|_| {
            CliError::Usage(format!(
                "--from/--to: \"{}\" is not a day; write YYYY-MM-DD, today or yesterday",
                output::visible(text)
            ))
        }),
    }
}

/// The request `args` describe, with `today` the centre's date.
pub fn request(args: &ReportArgs, today: Date) -> Result<pb::GetReportRequest, CliError> {
    let mut from = match &args.from {
        Some(text) => day_arg(text, today)?,
        None => today,
    };
    let period = match args.period {
        None => pb::PeriodKind::Unspecified,
        Some(PeriodArg::Day) => pb::PeriodKind::Day,
        Some(PeriodArg::Week) => pb::PeriodKind::Week,
        Some(PeriodArg::Month) => pb::PeriodKind::Month,
        Some(PeriodArg::Quarter) => pb::PeriodKind::Quarter,
        Some(PeriodArg::Year) => pb::PeriodKind::Year,
    };
    if args.last {
        from = report::day_in_period(from, period, true)
            .ok_or_else(|| CliError::Usage(format!("--last: no period before {from}")))?;
    }
    let to = match &args.to {
        Some(text) => day_arg(text, today)?.to_string(),
        None => String::new(),
    };
    Ok(pb::GetReportRequest {
        from: from.to_string(),
        to,
        period: period as i32,
        drills: match args.drills {
            None => pb::DrillFilter::Exclude,
            Some(DrillsArg::Only) => pb::DrillFilter::Only,
            Some(DrillsArg::Include) => pb::DrillFilter::Include,
        } as i32,
        slice_by: args.kind.slice_by() as i32,
        rank_by: args.rank_by.clone(),
        min_sample: args.min_sample,
    })
}

/// Runs `duty report`.
pub async fn run(ctx: &mut Ctx<'_>, args: ReportArgs) -> Result<(), CliError> {
    let zone = ctx.zone().await?;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(zone.clone())
        .date();
    let ask = request(&args, today)?;
    if args.kind == Kind::Incidents {
        return incidents(ctx, &args, ask, zone).await;
    }
    if args.assignee.is_some() {
        return Err(CliError::Usage(
            "--assignee goes with `duty report incidents`; the league tables hold every post and unit"
                .into(),
        ));
    }
    let mut reports = ctx.client.reports();
    let report = reports.get_report(ask.clone()).await?.into_inner();
    if let Some(path) = &args.html {
        // The page shows incidents by category and by place: the report
        // already asked is one of them, or neither.
        let by = |slice_by: pb::SliceBy| {
            let mut other = ask.clone();
            other.slice_by = slice_by as i32;
            (report.slice_by != slice_by as i32).then_some(other)
        };
        let (for_categories, for_places) = (by(pb::SliceBy::Category), by(pb::SliceBy::Place));
        let categories = match for_categories {
            Some(other) => reports.get_report(other).await?.into_inner(),
            None => report.clone(),
        };
        let places = match for_places {
            Some(other) => reports.get_report(other).await?.into_inner(),
            None => report.clone(),
        };
        let page = report::html::render(&categories, &places);
        std::fs::write(path, page)
            .map_err(|e| CliError::Other(format!("writing {}: {e}", path.display())))?;
    }
    match ctx.format {
        Format::Json => output::json(ctx.out, &report, "Report", true),
        Format::Csv => {
            let (header, rows) = cells(&report, args.kind, true);
            report::write_csv(ctx.out, &header, &rows)?;
            Ok(())
        }
        Format::Table => {
            let period = report.period.clone().unwrap_or_default();
            let previous = report.previous_period.clone().unwrap_or_default();
            let drills = match pb::DrillFilter::try_from(report.drills) {
                Ok(pb::DrillFilter::Only) => " — drills only (演练)",
                Ok(pb::DrillFilter::Include) => " — drills included",
                _ => "",
            };
            writeln!(
                ctx.out,
                "{} ({} to {}, {}), against {}{drills}",
                period.label, period.from, period.to, report.time_zone, previous.label
            )?;
            if matches!(args.kind, Kind::Posts | Kind::Units) {
                writeln!(
                    ctx.out,
                    "ranked by {}; fewer than {} orders: not ranked",
                    report.rank_by, report.min_sample
                )?;
            }
            if !report.confined_to.is_empty() {
                writeln!(
                    ctx.out,
                    "{}: only its own row (a post or unit sees no summary, slices or others)",
                    report.confined_to
                )?;
            }
            let (header, rows) = cells(&report, args.kind, false);
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            output::table(ctx.out, &header, rows)
        }
    }
}

/// `duty report incidents`: every page, streamed out as it arrives (a
/// year is a million rows): JSON lines, CSV, or a table per page.
async fn incidents(
    ctx: &mut Ctx<'_>,
    args: &ReportArgs,
    ask: pb::GetReportRequest,
    zone: jiff::tz::TimeZone,
) -> Result<(), CliError> {
    if args.html.is_some() {
        return Err(CliError::Usage(
            "--html prints the assessment; the incident list is for -o table, json or csv".into(),
        ));
    }
    let mut request = pb::ListIncidentMeasuresRequest {
        from: ask.from,
        to: ask.to,
        period: ask.period,
        drills: ask.drills,
        assignee: args.assignee.clone().unwrap_or_default(),
        page_size: 1_000,
        page_token: String::new(),
    };
    let mut reports = ctx.client.reports();
    let mut first = true;
    let mut shown = 0usize;
    loop {
        let page = reports
            .list_incident_measures(request.clone())
            .await?
            .into_inner();
        if first {
            if ctx.format == Format::Table {
                let period = page.period.clone().unwrap_or_default();
                writeln!(
                    ctx.out,
                    "incidents received {} ({} to {}); late: done after the deadline its clock carried",
                    period.label, period.from, period.to
                )?;
            } else if ctx.format == Format::Csv {
                report::write_csv(ctx.out, &report::incidents::csv_header(), &[])?;
            }
        }
        match ctx.format {
            Format::Json => {
                for row in &page.incidents {
                    output::json(ctx.out, row, "IncidentMeasures", false)?;
                }
            }
            Format::Csv => {
                let rows: Vec<Vec<String>> = page
                    .incidents
                    .iter()
                    .map(report::incidents::csv_row)
                    .collect();
                report::write_rows_csv(ctx.out, &rows)?;
            }
            Format::Table => {
                if !page.incidents.is_empty() || first {
                    let header = report::incidents::header();
                    let header: Vec<&str> = header.iter().map(String::as_str).collect();
                    let rows = page
                        .incidents
                        .iter()
                        .map(|m| report::incidents::row(m, &zone))
                        .collect();
                    output::table(ctx.out, &header, rows)?;
                }
            }
        }
        shown += page.incidents.len();
        first = false;
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if ctx.format == Format::Table && shown > 0 {
        writeln!(ctx.out, "{shown} incidents")?;
    }
    Ok(())
}

/// The header and rows of `kind`, raw for CSV or formatted for a table.
fn cells(report: &pb::Report, kind: Kind, raw: bool) -> (Vec<String>, Vec<Vec<String>>) {
    match (kind, raw) {
        (Kind::Summary, _) => {
            let header = ["measure", "this period", "previous", "change"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            let rows = report::summary(report).into_iter().map(Vec::from).collect();
            (header, rows)
        }
        (Kind::Posts, false) => report::league(report, &report.posts),
        (Kind::Units, false) => report::league(report, &report.units),
        (Kind::Posts, true) => report::league_csv(&report.posts),
        (Kind::Units, true) => report::league_csv(&report.units),
        (Kind::Incidents, _) => (Vec::new(), Vec::new()),
        (_, false) => report::slices(report),
        (_, true) => report::slices_csv(report),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use jiff::civil::date;

    use super::*;

    fn args(line: &[&str]) -> ReportArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            args: ReportArgs,
        }
        let mut argv = vec!["report"];
        argv.extend_from_slice(line);
        Wrap::parse_from(argv).args
    }

    #[test]
    fn last_month_is_one_command_from_any_day_of_this_one() {
        let today = date(2026, 12, 3);
        let ask = request(&args(&["posts", "--period", "month", "--last"]), today).expect("ok");
        assert_eq!(
            (ask.from.as_str(), ask.period),
            ("2026-11-30", pb::PeriodKind::Month as i32)
        );
        let q = request(&args(&["summary", "--period", "quarter", "--last"]), today).expect("ok");
        assert_eq!(q.from, "2026-09-30");
        let w = request(&args(&["summary", "--period", "week", "--last"]), today).expect("ok");
        assert_eq!(
            w.from, "2026-11-29",
            "Thursday 3 Dec: last week ended Sunday 29 Nov"
        );
        let drills = request(&args(&["summary", "--drills"]), today).expect("ok");
        assert_eq!(drills.drills, pb::DrillFilter::Only as i32);
        assert_eq!(drills.from, "2026-12-03");
        let bad = request(&args(&["summary", "--from", "3/12"]), today).expect_err("refused");
        assert!(bad.to_string().contains("YYYY-MM-DD"), "{bad}");
    }
}
