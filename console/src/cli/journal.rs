//! `duty watch`, `duty audit …`, `duty info` and incident timelines.

use clap::{Args, Subcommand};
use dutyroom_proto::v1 as pb;
use jiff::tz::TimeZone;

use crate::cli::output::{self, fields, table, time};
use crate::cli::{CliError, Ctx};

/// `duty watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Replay events after this seq first (0: the whole journal). To resume,
    /// pass the last seq you processed.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Skip the replay: only events from now on.
    #[arg(long, conflicts_with = "from")]
    live: bool,
    /// The store identity --from belongs to (`duty info`, or the
    /// `store_id` of a heartbeat): dutyd refuses to resume across a restore
    /// or an accepted loss, where seqs may have been reused.
    #[arg(long = "store", requires = "from")]
    store: Option<String>,
    /// Only these incidents (repeatable).
    #[arg(long = "incident")]
    incidents: Vec<String>,
    /// Only these subject kinds: incident, post, unit, place, person,
    /// category, token (repeatable).
    #[arg(long = "kind")]
    kinds: Vec<String>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// Also print heartbeats.
    #[arg(long)]
    heartbeats: bool,
}

/// `duty audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Walks the journal's hash chain and reports the first break (admin).
    Verify,
    /// Lists journal events with who made them.
    Log {
        /// Events after this seq.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// One event as a line for people.
pub fn event_line(event: &pb::Event, zone: &TimeZone) -> String {
    use pb::event::Body;
    let who = event
        .principal
        .as_ref()
        .map(|p| format!("{} ({})", p.name, p.role))
        .unwrap_or_default();
    let detail = match &event.body {
        Some(Body::IncidentCreated(c)) => c
            .incident
            .as_ref()
            .map(|i| {
                format!(
                    "{} {} {}",
                    output::severity(i.severity),
                    i.category,
                    i.summary
                )
            })
            .unwrap_or_default(),
        Some(Body::IncidentUpdated(u)) => format!("{} {}", u.changed_fields.join(","), u.reason),
        Some(Body::AssignmentChanged(c)) => {
            let a = c.assignment.clone().unwrap_or_default();
            let behalf = if c.on_behalf { " (on behalf)" } else { "" };
            format!(
                "#{} {} {}{behalf} {}",
                a.id,
                output::assignee(a.assignee.as_ref()),
                output::assignment_state(a.state),
                c.note
            )
        }
        Some(Body::NoteAdded(n)) => n.note.as_ref().map(|n| n.text.clone()).unwrap_or_default(),
        Some(Body::RepeatCallAdded(c)) => {
            format!("{} {} {}", c.caller_name, c.caller_phone, c.text)
        }
        Some(Body::IncidentPhaseChanged(p)) => [
            p.outcome.as_str(),
            p.callback_result.as_str(),
            p.reason.as_str(),
            p.other_incident.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" "),
        Some(Body::PostChanged(p)) => format!("{} mode={}", p.name, p.mode_reason),
        Some(Body::UnitChanged(u)) => u.name.clone(),
        Some(Body::PlaceChanged(p)) => p.name.clone(),
        Some(Body::PersonChanged(p)) => p.name.clone(),
        Some(Body::CategoryChanged(c)) => c.name_zh.clone(),
        Some(Body::TokenChanged(t)) => format!("{} {}", t.name, t.role),
        Some(Body::PhoneLookedUp(l)) => format!("searched history for phone {}", l.phone),
        Some(Body::Alarm(a)) => {
            let state = if a.acknowledged_at.is_some() {
                " (acknowledged)"
            } else {
                ""
            };
            format!("#{} level {}{state}: {}", a.id, a.level, a.reason)
        }
        Some(Body::AlarmNotified(n)) => n
            .alarm
            .as_ref()
            .and_then(|a| {
                a.notifications
                    .iter()
                    .find(|x| x.key == n.key)
                    .map(|x| format!("#{} {}", a.id, output::notification(x)))
            })
            .unwrap_or_default(),
        Some(Body::GatewayChanged(g)) => format!("{} ({}) {}", g.id, g.channels.join(","), g.url),
        Some(Body::SeverityRaised(r)) => format!(
            "{} → {} {}",
            output::severity(r.from),
            output::severity(r.to),
            r.reason
        ),
        Some(Body::PolicyChanged(p)) => format!("version {}", p.version),
        Some(Body::ClocksChanged(c)) => c.reason.clone(),
        Some(Body::RosterConfigChanged(c)) => format!("{} pattern(s)", c.patterns.len()),
        Some(Body::SlotChanged(s)) => format!("{} swap(s): {}", s.swaps.len(), s.people.join(",")),
        Some(Body::HandoverChanged(h)) => h.status.clone(),
        Some(Body::RollCallChanged(r)) => {
            let waiting = r.posts.iter().filter(|p| p.answered_at.is_none()).count();
            format!("{} post(s), {waiting} waiting", r.posts.len())
        }
        Some(Body::PresenceChanged(p)) => {
            if p.clock_measured && p.clock_offset_ms != 0 {
                format!("clock {:+.1} s", p.clock_offset_ms as f64 / 1000.0)
            } else {
                String::new()
            }
        }
        None => String::new(),
    };
    // An action sent late from a post's outbox: when it was really done.
    let detail = match &event.reported_at {
        Some(done) => {
            let skew = if event.clock_skew_ms != 0 {
                format!(
                    ", its clock {:+.1} s corrected",
                    event.clock_skew_ms as f64 / 1000.0
                )
            } else {
                String::new()
            };
            format!("{detail} [done {}{skew}]", time(Some(done), zone))
        }
        None => detail,
    };
    format!(
        "{:>7}  {}  {:<22} {:<14} {}  {}",
        event.seq,
        time(event.at.as_ref(), zone),
        event.kind,
        event.subject_id,
        detail.trim(),
        who
    )
}

/// Streams events until interrupted (or `--count`).
pub async fn watch(ctx: &mut Ctx<'_>, args: WatchArgs) -> Result<(), CliError> {
    let zone = if ctx.json() {
        TimeZone::UTC
    } else {
        ctx.zone().await?
    };
    let request = pb::WatchRequest {
        from_seq: args.from,
        live_only: args.live,
        store_id: args.store.unwrap_or_default(),
        filter: Some(pb::WatchFilter {
            incidents: args.incidents,
            subject_kinds: args.kinds,
        }),
    };
    let mut stream = ctx.client.journal().watch(request).await?.into_inner();
    let mut seen = 0;
    while let Some(item) = stream.message().await? {
        match item.item {
            Some(pb::watch_response::Item::Event(event)) => {
                if ctx.json() {
                    output::json(ctx.out, &event, "Event", false)?;
                } else {
                    writeln!(ctx.out, "{}", output::visible(&event_line(&event, &zone)))?;
                }
                ctx.out.flush()?;
                seen += 1;
                if args.count.is_some_and(|count| seen >= count) {
                    break;
                }
            }
            Some(pb::watch_response::Item::Heartbeat(beat)) if args.heartbeats => {
                if ctx.json() {
                    output::json(ctx.out, &beat, "Heartbeat", false)?;
                } else {
                    let caught_up = if beat.caught_up { " (caught up)" } else { "" };
                    writeln!(
                        ctx.out,
                        "-- head {}{caught_up} (store {})",
                        beat.head_seq,
                        output::visible(&beat.store_id)
                    )?;
                }
                ctx.out.flush()?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Prints an incident's timeline.
pub async fn timeline(ctx: &mut Ctx<'_>, incident: String) -> Result<(), CliError> {
    let mut journal = ctx.client.journal();
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let reply = journal
            .list_events(pb::ListEventsRequest {
                after_seq: after,
                incident: incident.clone(),
                limit: 1000,
            })
            .await?
            .into_inner();
        events.extend(reply.events);
        if reply.next_after_seq == 0 {
            break;
        }
        after = reply.next_after_seq;
    }
    print_events(ctx, events).await
}

async fn print_events(ctx: &mut Ctx<'_>, events: Vec<pb::Event>) -> Result<(), CliError> {
    if ctx.json() {
        let reply = pb::ListEventsReply {
            events,
            next_after_seq: 0,
        };
        return output::json(ctx.out, &reply, "ListEventsReply", true);
    }
    let zone = ctx.zone().await?;
    for event in &events {
        writeln!(ctx.out, "{}", output::visible(&event_line(event, &zone)))?;
    }
    Ok(())
}

/// Runs an audit command.
pub async fn audit(ctx: &mut Ctx<'_>, cmd: AuditCmd) -> Result<(), CliError> {
    let mut journal = ctx.client.journal();
    match cmd {
        AuditCmd::Verify => {
            let reply = journal
                .verify_journal(pb::VerifyJournalRequest {})
                .await?
                .into_inner();
            if ctx.json() {
                output::json(ctx.out, &reply, "VerifyJournalReply", true)?;
            } else if reply.intact {
                writeln!(ctx.out, "journal intact: {} events chain", reply.checked)?;
            } else {
                writeln!(
                    ctx.out,
                    "journal BROKEN at seq {}: {} ({} events verified before it)",
                    reply.first_break_seq, reply.detail, reply.checked
                )?;
            }
            if reply.intact {
                Ok(())
            } else {
                Err(CliError::Other(format!(
                    "the journal's hash chain breaks at seq {}",
                    reply.first_break_seq
                )))
            }
        }
        AuditCmd::Log { after, limit } => {
            let reply = journal
                .list_events(pb::ListEventsRequest {
                    after_seq: after,
                    incident: String::new(),
                    limit,
                })
                .await?
                .into_inner();
            print_events(ctx, reply.events).await
        }
    }
}

/// `duty info`.
pub async fn info(ctx: &mut Ctx<'_>) -> Result<(), CliError> {
    let info = ctx
        .client
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner();
    if ctx.json() {
        return output::json(ctx.out, &info, "ServerInfo", true);
    }
    let time_info = info.time.clone().unwrap_or_default();
    let zone = TimeZone::get(&time_info.time_zone).unwrap_or(TimeZone::UTC);
    let you = info.you.clone().unwrap_or_default();
    let addr = ctx.client.addr().to_owned();
    fields(
        ctx.out,
        &[
            ("server", addr),
            ("version", info.version),
            ("store", info.store_id),
            ("journal head", info.head_seq.to_string()),
            ("incidents", info.incidents.to_string()),
            (
                "search index",
                if info.search_unindexed == 0 {
                    "up to date".to_owned()
                } else {
                    format!("{} incidents behind (catching up)", info.search_unindexed)
                },
            ),
            ("time", time(time_info.now.as_ref(), &zone)),
            ("time zone", time_info.time_zone),
            (
                "you",
                format!("{} ({}), token {}", you.name, you.role, you.token_id),
            ),
        ],
    )
}

/// `duty presence`.
pub async fn presence(ctx: &mut Ctx<'_>, offline_only: bool) -> Result<(), CliError> {
    let mut reply = ctx
        .client
        .presence()
        .list_presence(pb::ListPresenceRequest {})
        .await?
        .into_inner();
    if offline_only {
        reply.entries.retain(|e| !e.online);
    }
    if ctx.json() {
        return output::json(ctx.out, &reply, "ListPresenceReply", true);
    }
    let zone = ctx.zone().await?;
    let rows = reply
        .entries
        .iter()
        .map(|e| {
            let clock = if !e.clock_measured {
                String::new()
            } else if e.clock_skewed {
                format!("{:+.1} s (corrected)", e.clock_offset_ms as f64 / 1000.0)
            } else {
                format!("{:+.1} s", e.clock_offset_ms as f64 / 1000.0)
            };
            vec![
                output::assignee(e.who.as_ref()),
                if e.online { "online" } else { "offline" }.to_owned(),
                time(e.since.as_ref(), &zone),
                time(e.last_seen.as_ref(), &zone),
                e.streams.to_string(),
                clock,
            ]
        })
        .collect();
    table(
        ctx.out,
        &["WHO", "STATE", "SINCE", "LAST SEEN", "STREAMS", "CLOCK"],
        rows,
    )
}
