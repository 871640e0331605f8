//! `duty roster …`, `duty handover …`, `duty rollcall …`.
//!
//! The roster spreadsheet format (CSV, UTF-8, header row required):
//!
//! ```text
//! date,shift,role,post,person
//! 2026-12-01,day,duty_officer,,wangwei
//! 2026-12-01,day,duty_leader,,zhangqiang
//! 2026-12-01,day,duty_contact,xinhua,zhouming
//! ```
//!
//! `post` is empty for the centre's roles; a slot with several people takes
//! several rows. Export writes the same format, so files round-trip.

use std::path::PathBuf;

use clap::Subcommand;
use dutyroom_proto::v1 as pb;

use crate::cli::output::{self, fields, table, time};
use crate::cli::{CliError, Ctx};

/// `duty roster …`
#[derive(Debug, Subcommand)]
pub enum RosterCmd {
    /// Shows the roster of a period.
    Show {
        /// First date, YYYY-MM-DD (default: today).
        #[arg(long)]
        from: Option<String>,
        /// Days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Only "centre" or "post:<id>".
        #[arg(long)]
        scope: Option<String>,
        /// Only this person's duties.
        #[arg(long)]
        person: Option<String>,
    },
    /// Who is on duty now (or --at TIME), centre and posts, and next shift.
    Now {
        /// RFC 3339 or "YYYY-MM-DD HH:MM" in the centre's zone.
        #[arg(long)]
        at: Option<String>,
        /// Only "centre" or "post:<id>".
        #[arg(long)]
        scope: Option<String>,
    },
    /// Sets who fills a role on a shift.
    Set {
        /// YYYY-MM-DD.
        date: String,
        /// Shift name.
        shift: String,
        /// duty_officer, duty_leader (centre) or duty_contact (with --post).
        role: String,
        /// Person ids.
        #[arg(required = true)]
        people: Vec<String>,
        /// For a post's duty contact.
        #[arg(long)]
        post: Option<String>,
    },
    /// One person stands in for another on a shift (or part of it).
    Swap {
        /// YYYY-MM-DD.
        date: String,
        /// Shift name.
        shift: String,
        /// The role.
        role: String,
        /// Who is replaced.
        replaced: String,
        /// Who stands in.
        by: String,
        /// For a post's duty contact.
        #[arg(long)]
        post: Option<String>,
        /// Part of the shift: from (RFC 3339 or "YYYY-MM-DD HH:MM").
        #[arg(long)]
        from: Option<String>,
        /// Part of the shift: until.
        #[arg(long)]
        until: Option<String>,
        /// Who asked (person id).
        #[arg(long)]
        asked_by: Option<String>,
        /// Who approved (person id).
        #[arg(long)]
        approved_by: Option<String>,
        /// Why.
        #[arg(long, short)]
        reason: String,
    },
    /// Loads a roster from CSV (date,shift,role,post,person), validated as a
    /// whole: nothing is written if any row is bad, unless --apply-good.
    Import {
        /// The CSV file ("-" for standard input).
        file: PathBuf,
        /// Write the good rows even if some are bad.
        #[arg(long)]
        apply_good: bool,
        /// Only check the file.
        #[arg(long)]
        dry_run: bool,
    },
    /// Writes the roster of a period as CSV (the import format).
    Export {
        /// First date, YYYY-MM-DD (default: today).
        #[arg(long)]
        from: Option<String>,
        /// Days.
        #[arg(long, default_value_t = 31)]
        days: u32,
    },
    /// Required slots with nobody in them.
    Gaps {
        /// Days ahead.
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// From (default: today).
        #[arg(long)]
        from: Option<String>,
    },
    /// An iCalendar file of a person's or a post's duties.
    Ical {
        /// A person id.
        #[arg(long, conflicts_with = "post")]
        person: Option<String>,
        /// A post id.
        #[arg(long)]
        post: Option<String>,
        /// Days ahead.
        #[arg(long, default_value_t = 60)]
        days: u32,
    },
    /// Shows the shift patterns and roll-call schedule.
    Config,
    /// Sets the shift pattern from a date on, e.g.
    /// `--shift day=08:00/12h --shift night=20:00/12h`.
    Pattern {
        /// First date it applies to, YYYY-MM-DD.
        from: String,
        /// NAME=HH:MM/LENGTH (LENGTH like 12h, 8h, 24h, 90m); repeat for each.
        #[arg(long = "shift", required = true)]
        shifts: Vec<String>,
    },
    /// Schedules daily roll-calls (no --at: none).
    RollcallSchedule {
        /// Local times, HH:MM (repeatable).
        #[arg(long = "at")]
        times: Vec<String>,
        /// Seconds posts have to answer.
        #[arg(long, default_value_t = 300)]
        within: u32,
    },
}

/// `duty handover …`
#[derive(Debug, Subcommand)]
pub enum HandoverCmd {
    /// Opens (or refreshes) the handover of the current shift.
    Open {
        /// Another shift: its date…
        #[arg(long, requires = "shift")]
        date: Option<String>,
        /// …and name.
        #[arg(long)]
        shift: Option<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        notes: String,
        /// Whose: "centre" (default for centre roles) or "post:<id>"
        /// (a post's token always opens its own).
        #[arg(long, default_value = "")]
        scope: String,
    },
    /// Sets the free text while open.
    Note {
        /// Handover id.
        id: u64,
        /// The text.
        notes: String,
    },
    /// The outgoing officer signs out.
    Sign {
        /// Handover id.
        id: u64,
    },
    /// The incoming officer counter-signs (final).
    Countersign {
        /// Handover id.
        id: u64,
        /// Remarks.
        #[arg(long, default_value = "")]
        remarks: String,
    },
    /// Handovers of a period (default: the last 7 days).
    List {
        /// From, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// To, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        /// Only those not yet counter-signed.
        #[arg(long)]
        pending: bool,
        /// Only the centre's ("centre") or one post's ("post:<id>").
        #[arg(long, default_value = "")]
        scope: String,
    },
    /// Shows one handover in full.
    Show {
        /// Handover id.
        id: u64,
    },
}

/// `duty rollcall …`
#[derive(Debug, Subcommand)]
pub enum RollCallCmd {
    /// Sends a roll-call to posts (default: all).
    Send {
        /// Post ids.
        posts: Vec<String>,
        /// Seconds to answer.
        #[arg(long, default_value_t = 300)]
        within: u32,
    },
    /// Answers a roll-call (a post's token).
    Answer {
        /// Roll-call id.
        id: u64,
    },
    /// Recent roll-calls and their answers.
    List {
        /// Only those still waiting for a post.
        #[arg(long)]
        pending: bool,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

fn when(text: &str, zone: &jiff::tz::TimeZone) -> Result<prost_types::Timestamp, CliError> {
    let ts = match text.parse::<jiff::Timestamp>() {
        Ok(ts) => ts,
        Err(_) => text
            .replace(' ', "T")
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|c| c.to_zoned_datetime(zone.clone()).ok())
            .map(|z| z.timestamp())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{text:?}: write RFC 3339 (2026-11-23T09:00:00+08:00) or \"2026-11-23 09:00\""
                ))
            })?,
    };
    Ok(prost_types::Timestamp {
        seconds: ts.as_second(),
        nanos: ts.subsec_nanosecond(),
    })
}

fn key(date: String, shift: String, role: String, post: Option<String>) -> pb::SlotKey {
    pb::SlotKey {
        date,
        shift,
        scope: post.map_or_else(|| "centre".to_owned(), |p| format!("post:{p}")),
        role,
    }
}

fn people(list: &[pb::Contact]) -> String {
    if list.is_empty() {
        return "—".into();
    }
    list.iter()
        .map(|c| format!("{} {}", c.name, c.phone).trim().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `NAME=HH:MM/LENGTH` → a shift.
fn shift(text: &str) -> Result<pb::ShiftDef, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--shift {text:?}: write NAME=HH:MM/LENGTH, e.g. day=08:00/12h"
        ))
    };
    let (name, rest) = text.split_once('=').ok_or_else(bad)?;
    let (start, length) = rest.split_once('/').ok_or_else(bad)?;
    let length: jiff::SignedDuration = length.trim().parse().map_err(|_| bad())?;
    Ok(pb::ShiftDef {
        name: name.trim().to_owned(),
        start: start.trim().to_owned(),
        minutes: u32::try_from(length.as_mins()).map_err(|_| bad())?,
    })
}

/// Runs a roster command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: RosterCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut rosters = ctx.client.rosters();
    match cmd {
        RosterCmd::Show {
            from,
            days,
            scope,
            person,
        } => {
            let reply = rosters
                .get_roster(pb::GetRosterRequest {
                    from: from.unwrap_or_default(),
                    days,
                    scope: scope.unwrap_or_default(),
                    person: person.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "GetRosterReply", true);
            }
            let zone = ctx.zone().await?;
            let rows = reply
                .slots
                .iter()
                .map(|s| {
                    let key = s.key.clone().unwrap_or_default();
                    // Part-shift swaps change who is on duty mid-shift: say when.
                    let clock = |t: Option<&prost_types::Timestamp>| {
                        t.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
                            .map(|t| {
                                t.to_zoned_datetime(zone.clone())
                                    .strftime("%H:%M")
                                    .to_string()
                            })
                    };
                    let swaps = s
                        .swaps
                        .iter()
                        .map(|w| {
                            let span = match (clock(w.from.as_ref()), clock(w.until.as_ref())) {
                                (None, None) => String::new(),
                                (from, until) => format!(
                                    " {}–{}",
                                    from.unwrap_or_default(),
                                    until.unwrap_or_default()
                                ),
                            };
                            format!("{}→{}{span}", w.replaced, w.by)
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    vec![
                        key.date,
                        key.shift,
                        time(s.starts.as_ref(), &zone),
                        key.scope,
                        key.role,
                        people(&s.effective),
                        swaps,
                    ]
                })
                .collect();
            table(
                ctx.out,
                &[
                    "DATE", "SHIFT", "STARTS", "SCOPE", "ROLE", "ON DUTY", "SWAPS",
                ],
                rows,
            )
        }
        RosterCmd::Now { at, scope } => {
            let zone = ctx.zone().await?;
            let at = at.map(|t| when(&t, &zone)).transpose()?;
            let reply = rosters
                .on_duty(pb::OnDutyRequest {
                    at,
                    scope: scope.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "OnDutyReply", true);
            }
            for (label, shift, duties) in [
                ("now", reply.shift.clone(), &reply.now),
                ("next", reply.next_shift.clone(), &reply.next),
            ] {
                let shift = shift.unwrap_or_default();
                writeln!(
                    ctx.out,
                    "{label}: {} {} ({} → {})",
                    shift.date,
                    shift.shift,
                    time(shift.starts.as_ref(), &zone),
                    time(shift.ends.as_ref(), &zone)
                )?;
                let rows = duties
                    .iter()
                    .map(|d| vec![d.scope.clone(), d.role.clone(), people(&d.people)])
                    .collect();
                table(ctx.out, &["SCOPE", "ROLE", "WHO"], rows)?;
            }
            Ok(())
        }
        RosterCmd::Set {
            date,
            shift,
            role,
            people: who,
            post,
        } => {
            let slot = rosters
                .set_slot(pb::SetSlotRequest {
                    request_id: rid,
                    key: Some(key(date, shift, role, post)),
                    people: who,
                })
                .await?
                .into_inner();
            print_slot(ctx, &slot)
        }
        RosterCmd::Swap {
            date,
            shift,
            role,
            replaced,
            by,
            post,
            from,
            until,
            asked_by,
            approved_by,
            reason,
        } => {
            let zone = ctx.zone().await?;
            let slot = rosters
                .swap(pb::SwapRequest {
                    request_id: rid,
                    key: Some(key(date, shift, role, post)),
                    replaced,
                    by,
                    from: from.map(|t| when(&t, &zone)).transpose()?,
                    until: until.map(|t| when(&t, &zone)).transpose()?,
                    asked_by: asked_by.unwrap_or_default(),
                    approved_by: approved_by.unwrap_or_default(),
                    reason,
                })
                .await?
                .into_inner();
            print_slot(ctx, &slot)
        }
        RosterCmd::Import {
            file,
            apply_good,
            dry_run,
        } => import(ctx, &file, apply_good, dry_run, rid).await,
        RosterCmd::Export { from, days } => {
            let reply = rosters
                .get_roster(pb::GetRosterRequest {
                    from: from.unwrap_or_default(),
                    days,
                    scope: String::new(),
                    person: String::new(),
                })
                .await?
                .into_inner();
            let mut writer = csv::Writer::from_writer(Vec::new());
            let csv_error = |e: csv::Error| CliError::Other(e.to_string());
            writer
                .write_record(["date", "shift", "role", "post", "person"])
                .map_err(csv_error)?;
            for slot in &reply.slots {
                let key = slot.key.clone().unwrap_or_default();
                let post = key.scope.strip_prefix("post:").unwrap_or("").to_owned();
                for person in &slot.people {
                    writer
                        .write_record([&key.date, &key.shift, &key.role, &post, person])
                        .map_err(csv_error)?;
                }
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| CliError::Other(e.to_string()))?;
            ctx.out.write_all(&bytes)?;
            Ok(())
        }
        RosterCmd::Gaps { days, from } => {
            let reply = rosters
                .gaps(pb::GapsRequest {
                    from: from.unwrap_or_default(),
                    days,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "GapsReply", true);
            }
            let zone = ctx.zone().await?;
            let count = reply.gaps.len();
            let rows = reply
                .gaps
                .into_iter()
                .map(|g| {
                    let key = g.key.unwrap_or_default();
                    vec![
                        key.date,
                        key.shift,
                        time(g.starts.as_ref(), &zone),
                        key.scope,
                        key.role,
                    ]
                })
                .collect();
            table(ctx.out, &["DATE", "SHIFT", "STARTS", "SCOPE", "ROLE"], rows)?;
            if count > 0 {
                writeln!(ctx.out, "{count} slot(s) with nobody on duty")?;
            }
            Ok(())
        }
        RosterCmd::Ical { person, post, days } => {
            let scope = post
                .as_ref()
                .map(|p| format!("post:{p}"))
                .unwrap_or_default();
            if person.is_none() && post.is_none() {
                return Err(CliError::Usage("give --person ID or --post ID".into()));
            }
            let reply = rosters
                .get_roster(pb::GetRosterRequest {
                    from: String::new(),
                    days,
                    scope,
                    person: person.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            let name = person.or(post).unwrap_or_default();
            write!(ctx.out, "{}", ical(&name, &reply.slots))?;
            Ok(())
        }
        RosterCmd::Config => {
            let config = rosters
                .get_roster_config(pb::GetRosterConfigRequest {})
                .await?
                .into_inner();
            print_config(ctx, &config)
        }
        RosterCmd::Pattern { from, shifts } => {
            let shifts = shifts
                .iter()
                .map(|s| shift(s))
                .collect::<Result<Vec<_>, _>>()?;
            let config = rosters
                .set_pattern(pb::SetPatternRequest {
                    request_id: rid,
                    pattern: Some(pb::Pattern { from, shifts }),
                })
                .await?
                .into_inner();
            print_config(ctx, &config)
        }
        RosterCmd::RollcallSchedule { times, within } => {
            let config = rosters
                .set_roll_call_schedule(pb::SetRollCallScheduleRequest {
                    request_id: rid,
                    times,
                    answer_within_seconds: within,
                })
                .await?
                .into_inner();
            print_config(ctx, &config)
        }
    }
}

fn print_config(ctx: &mut Ctx<'_>, config: &pb::RosterConfig) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(ctx.out, config, "RosterConfig", true);
    }
    if config.patterns.is_empty() {
        writeln!(
            ctx.out,
            "no shift pattern yet (duty roster pattern FROM --shift NAME=HH:MM/LENGTH …)"
        )?;
    }
    for pattern in &config.patterns {
        let shifts = pattern
            .shifts
            .iter()
            .map(|s| {
                format!(
                    "{} {} ({}h{:02})",
                    s.name,
                    s.start,
                    s.minutes / 60,
                    s.minutes % 60
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(ctx.out, "from {}: {shifts}", pattern.from)?;
    }
    if !config.rollcall_times.is_empty() {
        writeln!(
            ctx.out,
            "roll-calls at {} (answer within {} s)",
            config.rollcall_times.join(", "),
            config.rollcall_answer_within_seconds
        )?;
    }
    Ok(())
}

fn print_slot(ctx: &mut Ctx<'_>, slot: &pb::Slot) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(ctx.out, slot, "Slot", true);
    }
    let key = slot.key.clone().unwrap_or_default();
    writeln!(
        ctx.out,
        "{} {} {} {}: {}",
        key.date,
        key.shift,
        key.scope,
        key.role,
        people(&slot.effective)
    )?;
    for swap in &slot.swaps {
        writeln!(
            ctx.out,
            "  swap: {} → {} ({})",
            swap.replaced, swap.by, swap.reason
        )?;
    }
    Ok(())
}

async fn import(
    ctx: &mut Ctx<'_>,
    file: &PathBuf,
    apply_good: bool,
    dry_run: bool,
    request_id: String,
) -> Result<(), CliError> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
    };
    let lines = text.lines().count().saturating_sub(1) as u64;
    let progress = indicatif::ProgressBar::new(lines);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if lines < 2000 || ctx.json() {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let [
        Some(date),
        Some(shift),
        Some(role),
        Some(post),
        Some(person),
    ] = ["date", "shift", "role", "post", "person"].map(column)
    else {
        return Err(CliError::Usage(format!(
            "{}: the header must name the columns date,shift,role,post,person",
            file.display()
        )));
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u32 + 2;
        progress.inc(1);
        match record {
            Ok(record) => {
                let get = |i: usize| record.get(i).unwrap_or("").to_owned();
                rows.push(pb::RosterRow {
                    line,
                    date: get(date),
                    shift: get(shift),
                    role: get(role),
                    post: get(post),
                    person: get(person),
                });
            }
            Err(e) => problems.push(pb::RowProblem {
                line,
                reason: e.to_string(),
            }),
        }
    }
    progress.finish_and_clear();
    let parse_problems = !problems.is_empty();
    let reply = ctx
        .client
        .rosters()
        .import_roster(pb::ImportRosterRequest {
            request_id,
            rows,
            dry_run: dry_run || (parse_problems && !apply_good),
            apply_good_rows: apply_good,
        })
        .await?
        .into_inner();
    problems.extend(reply.problems);
    problems.sort_by_key(|p| p.line);
    if ctx.json() {
        let reply = pb::ImportRosterReply {
            problems: problems.clone(),
            ..reply
        };
        output::json(ctx.out, &reply, "ImportRosterReply", true)?;
    } else {
        for problem in &problems {
            writeln!(ctx.out, "line {}: {}", problem.line, problem.reason)?;
        }
        writeln!(
            ctx.out,
            "{} good row(s), {} bad; {} slot(s) written{}",
            reply.rows_ok,
            problems.len(),
            reply.slots_written,
            if dry_run { " (dry run)" } else { "" }
        )?;
    }
    if !problems.is_empty() && reply.slots_written == 0 && !dry_run {
        return Err(CliError::Other(format!(
            "nothing imported: {} bad row(s) (fix them, or --apply-good to load the rest)",
            problems.len()
        )));
    }
    Ok(())
}

/// An iCalendar (RFC 5545) file with one event per duty.
pub fn ical(name: &str, slots: &[pb::Slot]) -> String {
    let stamp = |t: Option<&prost_types::Timestamp>| {
        t.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
            .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_default()
    };
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dutyroom//roster//ZH\r\nCALSCALE:GREGORIAN\r\n",
    );
    out.push_str(&format!("X-WR-CALNAME:值班 {name}\r\n"));
    for slot in slots {
        let key = slot.key.clone().unwrap_or_default();
        let role = match key.role.as_str() {
            "duty_officer" => "值班员",
            "duty_leader" => "带班领导",
            _ => "值守",
        };
        out.push_str("BEGIN:VEVENT\r\n");
        out.push_str(&format!(
            "UID:{}-{}-{}-{}@dutyroom\r\n",
            key.date,
            key.shift,
            key.scope.replace(':', "-"),
            key.role
        ));
        out.push_str(&format!("DTSTAMP:{}\r\n", stamp(slot.starts.as_ref())));
        out.push_str(&format!("DTSTART:{}\r\n", stamp(slot.starts.as_ref())));
        out.push_str(&format!("DTEND:{}\r\n", stamp(slot.ends.as_ref())));
        out.push_str(&format!("SUMMARY:{role} ({} {})\r\n", key.scope, key.shift));
        out.push_str("END:VEVENT\r\n");
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// Runs a handover command.
pub async fn run_handover(ctx: &mut Ctx<'_>, cmd: HandoverCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut handovers = ctx.client.handovers();
    let handover = match cmd {
        HandoverCmd::Open {
            date,
            shift,
            notes,
            scope,
        } => {
            handovers
                .open_handover(pb::OpenHandoverRequest {
                    request_id: rid,
                    date: date.unwrap_or_default(),
                    shift: shift.unwrap_or_default(),
                    notes,
                    scope,
                })
                .await?
        }
        HandoverCmd::Note { id, notes } => {
            handovers
                .update_handover(pb::UpdateHandoverRequest {
                    request_id: rid,
                    id,
                    notes,
                })
                .await?
        }
        HandoverCmd::Sign { id } => {
            handovers
                .sign_handover(pb::SignHandoverRequest {
                    request_id: rid,
                    id,
                })
                .await?
        }
        HandoverCmd::Countersign { id, remarks } => {
            handovers
                .countersign_handover(pb::CountersignHandoverRequest {
                    request_id: rid,
                    id,
                    remarks,
                })
                .await?
        }
        HandoverCmd::Show { id } => {
            handovers
                .get_handover(pb::GetHandoverRequest { id })
                .await?
        }
        HandoverCmd::List {
            from,
            to,
            pending,
            scope,
        } => {
            let reply = handovers
                .list_handovers(pb::ListHandoversRequest {
                    from: from.unwrap_or_default(),
                    to: to.unwrap_or_default(),
                    pending_only: pending,
                    scope,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "ListHandoversReply", true);
            }
            let zone = ctx.zone().await?;
            let now = jiff::Timestamp::now();
            let rows = reply
                .handovers
                .iter()
                .map(|h| {
                    let shift = h.shift.clone().unwrap_or_default();
                    vec![
                        h.id.to_string(),
                        h.scope.clone(),
                        shift.date,
                        shift.shift.clone(),
                        // Not counter-signed after its shift ended: the duty
                        // leader's list (`--pending`) shows it as late.
                        if h.status != "countersigned"
                            && shift
                                .ends
                                .as_ref()
                                .is_some_and(|end| end.seconds < now.as_second())
                        {
                            format!("{} (late)", h.status)
                        } else {
                            h.status.clone()
                        },
                        h.opened_by
                            .as_ref()
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                        time(h.signed_out_at.as_ref(), &zone),
                        h.countersigned_by
                            .as_ref()
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            return table(
                ctx.out,
                &[
                    "ID",
                    "SCOPE",
                    "DATE",
                    "SHIFT",
                    "STATUS",
                    "OPENED BY",
                    "SIGNED OUT",
                    "COUNTERSIGNED BY",
                ],
                rows,
            );
        }
    }
    .into_inner();
    print_handover(ctx, &handover).await
}

async fn print_handover(ctx: &mut Ctx<'_>, h: &pb::Handover) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(ctx.out, h, "Handover", true);
    }
    let zone = ctx.zone().await?;
    let shift = h.shift.clone().unwrap_or_default();
    let counts = h.counts.unwrap_or_default();
    fields(
        ctx.out,
        &[
            ("handover", h.id.to_string()),
            (
                "shift",
                format!(
                    "{} {} ({} → {})",
                    shift.date,
                    shift.shift,
                    time(shift.starts.as_ref(), &zone),
                    time(shift.ends.as_ref(), &zone)
                ),
            ),
            ("status", h.status.clone()),
            (
                "opened",
                format!(
                    "{} by {}",
                    time(h.opened_at.as_ref(), &zone),
                    h.opened_by.as_ref().map_or("", |p| p.name.as_str())
                ),
            ),
            (
                "counts",
                format!(
                    "received {}, resolved {}, closed {}, cancelled {}, escalations {}, open now {}",
                    counts.received,
                    counts.resolved,
                    counts.closed,
                    counts.cancelled,
                    counts.escalations,
                    counts.open_at_handover
                ),
            ),
            ("notes", h.notes.clone()),
            (
                "signed out",
                h.signed_out_by.as_ref().map_or(String::new(), |p| {
                    format!("{} by {}", time(h.signed_out_at.as_ref(), &zone), p.name)
                }),
            ),
            (
                "countersigned",
                h.countersigned_by.as_ref().map_or(String::new(), |p| {
                    format!("{} by {}", time(h.countersigned_at.as_ref(), &zone), p.name)
                }),
            ),
            ("remarks", h.remarks.clone()),
        ],
    )?;
    if !h.open_incidents.is_empty() {
        writeln!(ctx.out, "\nopen incidents")?;
        let rows = h
            .open_incidents
            .iter()
            .map(|i| {
                vec![
                    i.number.clone(),
                    output::severity(i.severity).to_owned(),
                    i.status.clone(),
                    i.lead.clone(),
                    i.summary.clone(),
                ]
            })
            .collect();
        table(
            ctx.out,
            &["NUMBER", "SEVERITY", "STATUS", "LEAD", "SUMMARY"],
            rows,
        )?;
    }
    if !h.unsigned_dispatches.is_empty() {
        writeln!(ctx.out, "\nnot yet signed for")?;
        let rows = h
            .unsigned_dispatches
            .iter()
            .map(|d| {
                vec![
                    d.number.clone(),
                    output::assignee(d.assignee.as_ref()),
                    time(d.dispatched_at.as_ref(), &zone),
                ]
            })
            .collect();
        table(ctx.out, &["NUMBER", "ASSIGNEE", "DISPATCHED"], rows)?;
    }
    if !h.overdue.is_empty() {
        writeln!(ctx.out, "\noverdue clocks")?;
        let rows = h
            .overdue
            .iter()
            .map(|o| {
                vec![
                    o.number.clone(),
                    o.clock.clone(),
                    time(o.due.as_ref(), &zone),
                    o.alarms.to_string(),
                ]
            })
            .collect();
        table(ctx.out, &["NUMBER", "CLOCK", "DUE", "ALARMS"], rows)?;
    }
    if !h.alarms.is_empty() {
        writeln!(ctx.out, "\nalarms during the shift")?;
        let rows = h
            .alarms
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    time(a.raised_at.as_ref(), &zone),
                    a.level.to_string(),
                    a.reason.clone(),
                    if a.acknowledged_at.is_some() {
                        "acked".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        table(ctx.out, &["ID", "RAISED", "LEVEL", "WHY", ""], rows)?;
    }
    if !h.mode_changes.is_empty() {
        writeln!(ctx.out, "\npost mode changes")?;
        let rows = h
            .mode_changes
            .iter()
            .map(|m| {
                vec![
                    m.post.clone(),
                    m.mode.clone(),
                    time(m.at.as_ref(), &zone),
                    m.reason.clone(),
                ]
            })
            .collect();
        table(ctx.out, &["POST", "MODE", "AT", "REASON"], rows)?;
    }
    Ok(())
}

/// Runs a roll-call command.
pub async fn run_rollcall(ctx: &mut Ctx<'_>, cmd: RollCallCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut rollcalls = ctx.client.rollcalls();
    let list = match cmd {
        RollCallCmd::Send { posts, within } => vec![
            rollcalls
                .send_roll_call(pb::SendRollCallRequest {
                    request_id: rid,
                    posts,
                    answer_within_seconds: within,
                })
                .await?
                .into_inner(),
        ],
        RollCallCmd::Answer { id } => vec![
            rollcalls
                .answer_roll_call(pb::AnswerRollCallRequest {
                    done_at: None,
                    request_id: rid,
                    id,
                })
                .await?
                .into_inner(),
        ],
        RollCallCmd::List { pending, limit } => {
            rollcalls
                .list_roll_calls(pb::ListRollCallsRequest {
                    pending_only: pending,
                    limit,
                })
                .await?
                .into_inner()
                .roll_calls
        }
    };
    if ctx.json() {
        let reply = pb::ListRollCallsReply { roll_calls: list };
        return output::json(ctx.out, &reply, "ListRollCallsReply", true);
    }
    let zone = ctx.zone().await?;
    let mut rows = Vec::new();
    for rc in &list {
        for answer in &rc.posts {
            rows.push(vec![
                rc.id.to_string(),
                time(rc.sent_at.as_ref(), &zone),
                time(rc.answer_by.as_ref(), &zone),
                answer.post.clone(),
                if answer.answered_at.is_some() {
                    format!("{:.1} s", answer.latency_ms as f64 / 1000.0)
                } else {
                    "waiting".into()
                },
                if answer.alarms > 0 {
                    format!("{} alarm(s)", answer.alarms)
                } else {
                    String::new()
                },
            ]);
        }
    }
    table(
        ctx.out,
        &["ID", "SENT", "ANSWER BY", "POST", "ANSWERED", ""],
        rows,
    )
}
