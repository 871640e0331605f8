//! `duty incident …`: intake, dispatch and every action on an incident.
//!
//! Incidents are named by number: `20261123-0042`, or `0042` / `42` for
//! today's in the centre's time zone.

use clap::{Args, Subcommand};
use dutyroom_proto::v1 as pb;

use crate::cli::output::{self, Format, fields, table, time};
use crate::cli::{CliError, Ctx};

/// `post:<id>` or `unit:<id>`.
pub fn parse_assignee(text: &str) -> Result<pb::Assignee, String> {
    let (kind, id) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: write post:<id> or unit:<id>"))?;
    let kind = match kind {
        "post" => pb::AssigneeKind::Post,
        "unit" => pb::AssigneeKind::Unit,
        _ => return Err(format!("{text:?}: write post:<id> or unit:<id>")),
    };
    Ok(pb::Assignee {
        kind: kind as i32,
        id: id.to_owned(),
        name: String::new(),
    })
}

/// `I`..`IV` (or `1`..`4`).
pub fn parse_severity(text: &str) -> Result<pb::Severity, String> {
    Ok(match text.to_ascii_uppercase().as_str() {
        "I" | "1" => pb::Severity::I,
        "II" | "2" => pb::Severity::Ii,
        "III" | "3" => pb::Severity::Iii,
        "IV" | "4" => pb::Severity::Iv,
        _ => return Err(format!("{text:?}: severity is I, II, III or IV")),
    })
}

/// `110`, `119`, `120`, `122`, `12345`, `grid`, `post`, `sensor`, `other`.
pub fn parse_source(text: &str) -> Result<pb::SourceChannel, String> {
    use pb::SourceChannel as S;
    Ok(match text {
        "110" => S::Police110,
        "119" => S::Fire119,
        "120" => S::Medical120,
        "122" => S::Traffic122,
        "12345" => S::Hotline12345,
        "grid" => S::GridWorker,
        "post" => S::PostReport,
        "sensor" => S::Sensor,
        "other" => S::Other,
        _ => {
            return Err(format!(
                "{text:?}: source is 110, 119, 120, 122, 12345, grid, post, sensor or other"
            ));
        }
    })
}

/// A status word as listed by `duty incident list`.
pub fn parse_status(text: &str) -> Result<pb::IncidentStatus, String> {
    use pb::IncidentStatus as S;
    Ok(match text {
        "new" => S::New,
        "dispatched" => S::Dispatched,
        "signed" => S::Signed,
        "on-scene" | "on_scene" => S::OnScene,
        "resolved" => S::Resolved,
        "closed" => S::Closed,
        "cancelled" => S::Cancelled,
        "merged" => S::Merged,
        _ => {
            return Err(format!(
                "{text:?}: status is new, dispatched, signed, on-scene, resolved, closed, \
                 cancelled or merged"
            ));
        }
    })
}

/// The incident commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Records a call (and dispatches it at once with --lead/--support).
    Create(CreateArgs),
    /// Changes intake fields.
    Update(UpdateArgs),
    /// Shows one incident in full.
    Get {
        /// Number (20261123-0042, or 0042 for today's).
        incident: String,
    },
    /// Lists incidents (caller phones masked).
    List(ListArgs),
    /// Searches every incident ever recorded, newest first: by words (two
    /// or more characters each; Latin letters also match callers' name
    /// initials, `zxs` → 张先生), by the caller's phone or its last 4+
    /// digits (centre only; each such search is journaled), and filters.
    Search(SearchArgs),
    /// For a call being taken: how often this number called in the last 30
    /// days and its open incidents; with --place and --category, open
    /// incidents of that category there (centre only; journaled).
    Related {
        /// The caller's whole number.
        #[arg(long)]
        phone: Option<String>,
        /// Place id.
        #[arg(long)]
        place: Option<String>,
        /// Category code.
        #[arg(long)]
        category: Option<String>,
    },
    /// Attaches a call to an open incident as a repeat call (重复来电)
    /// instead of recording a new incident.
    RepeatCall {
        /// Number of the open incident.
        incident: String,
        /// What the caller said this time.
        #[arg(default_value = "")]
        text: String,
        /// Caller's phone.
        #[arg(long, default_value = "")]
        phone: String,
        /// Caller's name.
        #[arg(long, default_value = "")]
        name: String,
        /// Channel (the first call's when not given): 110, 119, 120, 122,
        /// 12345, grid, post, sensor, other.
        #[arg(long, value_parser = parse_source)]
        source: Option<pb::SourceChannel>,
    },
    /// Dispatches to a post or unit.
    Assign {
        /// Number.
        incident: String,
        /// post:<id> or unit:<id>.
        #[arg(value_parser = parse_assignee)]
        assignee: pb::Assignee,
        /// As a supporting assignee (default: lead).
        #[arg(long)]
        support: bool,
        /// Withdraw the current lead and make this one the lead.
        #[arg(long)]
        replace_lead: bool,
    },
    /// Withdraws an assignment.
    Unassign {
        /// Number.
        incident: String,
        /// Assignment id (see `duty incident get`).
        assignment: u32,
        /// Why.
        #[arg(long, short)]
        reason: String,
    },
    /// Signs for a dispatch order (on behalf of the assignee, for the centre).
    Sign(StepArgs),
    /// Reports arrival on scene.
    Arrive(StepArgs),
    /// Finishes a supporting assignment.
    Finish(StepArgs),
    /// Sends a dispatch order back, with a reason.
    Refuse {
        /// Which assignment.
        #[command(flatten)]
        step: StepArgs,
        /// Why (required).
        #[arg(long, short)]
        reason: String,
    },
    /// Adds a note.
    Note {
        /// Number.
        incident: String,
        /// The note.
        text: String,
    },
    /// Resolves with an outcome.
    Resolve {
        /// Number.
        incident: String,
        /// What was done.
        outcome: String,
    },
    /// Closes after the callback.
    Close {
        /// Number.
        incident: String,
        /// What the reporter said (or why there was no callback).
        #[arg(long)]
        callback: String,
        /// 1 (very unsatisfied) to 5 (very satisfied).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
        satisfaction: Option<u32>,
    },
    /// Cancels (false alarm, invalid call).
    Cancel {
        /// Number.
        incident: String,
        /// Why.
        #[arg(long, short)]
        reason: String,
    },
    /// Merges a duplicate into another incident.
    Merge {
        /// The duplicate.
        incident: String,
        /// The incident it duplicates.
        #[arg(long)]
        into: String,
    },
    /// Reopens a resolved, closed or cancelled incident.
    Reopen {
        /// Number.
        incident: String,
        /// Why.
        #[arg(long, short)]
        reason: String,
    },
    /// The incident's journal events, oldest first.
    Timeline {
        /// Number.
        incident: String,
    },
    /// Escalates by hand: one level up, or to --level; alarms that level.
    Escalate {
        /// Number.
        incident: String,
        /// The ladder level to escalate to (default: one above the current).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=9))]
        level: Option<u32>,
        /// Why (required).
        #[arg(long, short)]
        reason: String,
    },
    /// Raises the severity one step towards I (or to --to).
    Raise {
        /// Number.
        incident: String,
        /// I, II, III or IV.
        #[arg(long, value_parser = parse_severity)]
        to: Option<pb::Severity>,
        /// Why (required).
        #[arg(long, short)]
        reason: String,
    },
    /// Calls in units (街乡吹哨、部门报到): each must report in time.
    CallIn {
        /// Number.
        incident: String,
        /// Unit ids.
        #[arg(required = true)]
        units: Vec<String>,
        /// What they are needed for.
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// `duty incident create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Channel: 110, 119, 120, 122, 12345, grid, post, sensor, other.
    #[arg(long, value_parser = parse_source, default_value = "110")]
    source: pb::SourceChannel,
    /// Category code (see `duty category list`).
    #[arg(long, short)]
    category: String,
    /// I, II, III or IV.
    #[arg(long, short, value_parser = parse_severity)]
    severity: pb::Severity,
    /// What happened.
    #[arg(long)]
    summary: String,
    /// The address as given.
    #[arg(long, default_value = "")]
    address: String,
    /// Place id (see `duty place list`); decides the territorial post.
    #[arg(long, default_value = "")]
    place: String,
    /// Caller's name.
    #[arg(long, default_value = "")]
    caller_name: String,
    /// Caller's phone.
    #[arg(long, default_value = "")]
    caller_phone: String,
    /// Tags (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A drill (演练), not a real emergency: marked wherever it shows, its
    /// alarms too, and left out of assessment. Cannot be changed later.
    #[arg(long)]
    drill: bool,
    /// Dispatch at once to this lead: post:<id> or unit:<id>.
    #[arg(long, value_parser = parse_assignee)]
    lead: Option<pb::Assignee>,
    /// Dispatch at once to these supporting assignees (repeatable).
    #[arg(long, value_parser = parse_assignee)]
    support: Vec<pb::Assignee>,
}

/// `duty incident update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Number.
    incident: String,
    #[arg(long, value_parser = parse_source)]
    source: Option<pb::SourceChannel>,
    #[arg(long)]
    category: Option<String>,
    #[arg(long, value_parser = parse_severity)]
    severity: Option<pb::Severity>,
    #[arg(long)]
    summary: Option<String>,
    #[arg(long)]
    address: Option<String>,
    /// Place id ("" clears it).
    #[arg(long)]
    place: Option<String>,
    #[arg(long)]
    caller_name: Option<String>,
    #[arg(long)]
    caller_phone: Option<String>,
    /// Replace the tags (repeatable; --clear-tags to empty them).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Remove every tag.
    #[arg(long)]
    clear_tags: bool,
    /// Why (kept on the timeline).
    #[arg(long, short, default_value = "")]
    reason: String,
}

/// `duty incident list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only open incidents.
    #[arg(long)]
    open: bool,
    /// Only these statuses (repeatable).
    #[arg(long, value_parser = parse_status)]
    status: Vec<pb::IncidentStatus>,
    /// Only incidents assigned to post:<id> or unit:<id>.
    #[arg(long, value_parser = parse_assignee)]
    assignee: Option<pb::Assignee>,
    /// Only incidents of this local day (YYYY-MM-DD or YYYYMMDD).
    #[arg(long)]
    day: Option<String>,
    /// At most this many (the server caps a page at 1000).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Follow pages until everything is listed.
    #[arg(long)]
    all: bool,
    /// Replay: the board as it stood at this past moment (`2026-12-03
    /// 03:00`, `03:00` for the latest past one, or RFC 3339): the incidents
    /// open or resolved then, as they were.
    #[arg(long, conflicts_with_all = ["open", "status", "assignee", "day", "all"])]
    at: Option<String>,
}

/// `duty incident search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find (in the caller's name, address, summary, tags, notes,
    /// outcome, callback, reasons).
    text: Vec<String>,
    /// The caller's phone, or its last 4 or more digits.
    #[arg(long)]
    phone: Option<String>,
    /// Only this category (its code).
    #[arg(long)]
    category: Option<String>,
    /// Only this severity (I, II, III, IV).
    #[arg(long, value_parser = parse_severity)]
    severity: Option<pb::Severity>,
    /// Only this source channel.
    #[arg(long, value_parser = parse_source)]
    source: Option<pb::SourceChannel>,
    /// Only these statuses (repeatable).
    #[arg(long, value_parser = parse_status)]
    status: Vec<pb::IncidentStatus>,
    /// Only incidents ever assigned to post:<id> or unit:<id>.
    #[arg(long, value_parser = parse_assignee)]
    assignee: Option<pb::Assignee>,
    /// Received on or after this local day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Received on or before this local day (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// At this place or any place below it (its id).
    #[arg(long)]
    place: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Names one assignment of an incident.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// Number.
    incident: String,
    /// Assignment id (see `duty incident get`).
    #[arg(long)]
    assignment: Option<u32>,
    /// Or the assignee: post:<id> or unit:<id>. A post or unit token may
    /// name neither (its own assignment).
    #[arg(long, value_parser = parse_assignee)]
    assignee: Option<pb::Assignee>,
    /// A remark recorded with the step.
    #[arg(long, default_value = "")]
    note: String,
}

impl StepArgs {
    fn request(self, request_id: String) -> pb::AssignmentActionRequest {
        pb::AssignmentActionRequest {
            done_at: None,
            request_id,
            incident: self.incident,
            assignment_id: self.assignment.unwrap_or(0),
            assignee: self.assignee,
            note: self.note,
        }
    }
}

/// Runs an incident command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: Cmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut incidents = ctx.client.incidents();
    let reply = match cmd {
        Cmd::Create(a) => {
            let mut dispatch = Vec::new();
            if let Some(lead) = a.lead {
                dispatch.push(assign_request(lead, pb::AssignmentRole::Lead));
            }
            for support in a.support {
                dispatch.push(assign_request(support, pb::AssignmentRole::Support));
            }
            let request = pb::CreateIncidentRequest {
                request_id: rid,
                intake: Some(pb::IncidentIntake {
                    source: a.source as i32,
                    caller_name: a.caller_name,
                    caller_phone: a.caller_phone,
                    address: a.address,
                    place_id: a.place,
                    category: a.category,
                    severity: a.severity as i32,
                    summary: a.summary,
                    tags: a.tags,
                    drill: a.drill,
                }),
                dispatch,
            };
            incidents.create_incident(request).await?
        }
        Cmd::Update(a) => {
            let tags = if a.clear_tags {
                Some(pb::StringList { values: Vec::new() })
            } else if a.tags.is_empty() {
                None
            } else {
                Some(pb::StringList { values: a.tags })
            };
            let request = pb::UpdateIncidentRequest {
                request_id: rid,
                incident: a.incident,
                source: a.source.map(|s| s as i32),
                caller_name: a.caller_name,
                caller_phone: a.caller_phone,
                address: a.address,
                place_id: a.place,
                category: a.category,
                severity: a.severity.map(|s| s as i32),
                summary: a.summary,
                tags,
                reason: a.reason,
            };
            incidents.update_incident(request).await?
        }
        Cmd::Get { incident } => {
            let found = incidents
                .get_incident(pb::GetIncidentRequest { incident })
                .await?
                .into_inner();
            return print_incident(ctx, &found).await;
        }
        Cmd::List(a) => return list(ctx, a).await,
        Cmd::Search(a) => return search(ctx, a).await,
        Cmd::Related {
            phone,
            place,
            category,
        } => {
            let by_phone = phone.as_deref().is_some_and(|p| !p.trim().is_empty());
            let reply = incidents
                .find_related(pb::FindRelatedRequest {
                    phone: phone.unwrap_or_default(),
                    place_id: place.unwrap_or_default(),
                    category: category.unwrap_or_default(),
                })
                .await?
                .into_inner();
            return print_related(ctx, &reply, by_phone).await;
        }
        Cmd::RepeatCall {
            incident,
            text,
            phone,
            name,
            source,
        } => {
            incidents
                .add_repeat_call(pb::AddRepeatCallRequest {
                    request_id: rid,
                    incident,
                    source: source.map_or(0, |s| s as i32),
                    caller_name: name,
                    caller_phone: phone,
                    text,
                })
                .await?
        }
        Cmd::Assign {
            incident,
            assignee,
            support,
            replace_lead,
        } => {
            let role = if support {
                pb::AssignmentRole::Support
            } else {
                pb::AssignmentRole::Lead
            };
            let mut request = assign_request(assignee, role);
            request.request_id = rid;
            request.incident = incident;
            request.replace_lead = replace_lead;
            incidents.assign(request).await?
        }
        Cmd::Unassign {
            incident,
            assignment,
            reason,
        } => {
            incidents
                .unassign(pb::UnassignRequest {
                    request_id: rid,
                    incident,
                    assignment_id: assignment,
                    reason,
                })
                .await?
        }
        Cmd::Sign(step) => incidents.sign_for(step.request(rid)).await?,
        Cmd::Arrive(step) => incidents.arrive(step.request(rid)).await?,
        Cmd::Finish(step) => incidents.finish(step.request(rid)).await?,
        Cmd::Refuse { step, reason } => {
            let step = step.request(rid);
            incidents
                .refuse(pb::RefuseRequest {
                    done_at: None,
                    request_id: step.request_id,
                    incident: step.incident,
                    assignment_id: step.assignment_id,
                    assignee: step.assignee,
                    reason,
                })
                .await?
        }
        Cmd::Note { incident, text } => {
            incidents
                .add_note(pb::AddNoteRequest {
                    done_at: None,
                    request_id: rid,
                    incident,
                    text,
                })
                .await?
        }
        Cmd::Resolve { incident, outcome } => {
            incidents
                .resolve(pb::ResolveRequest {
                    done_at: None,
                    request_id: rid,
                    incident,
                    outcome,
                })
                .await?
        }
        Cmd::Close {
            incident,
            callback,
            satisfaction,
        } => {
            incidents
                .close(pb::CloseRequest {
                    request_id: rid,
                    incident,
                    callback_result: callback,
                    satisfaction: satisfaction.unwrap_or(0),
                })
                .await?
        }
        Cmd::Cancel { incident, reason } => {
            incidents
                .cancel(pb::CancelRequest {
                    request_id: rid,
                    incident,
                    reason,
                })
                .await?
        }
        Cmd::Merge { incident, into } => {
            incidents
                .merge(pb::MergeRequest {
                    request_id: rid,
                    incident,
                    into,
                })
                .await?
        }
        Cmd::Reopen { incident, reason } => {
            incidents
                .reopen(pb::ReopenRequest {
                    request_id: rid,
                    incident,
                    reason,
                })
                .await?
        }
        Cmd::Timeline { incident } => {
            return crate::cli::journal::timeline(ctx, incident).await;
        }
        Cmd::Escalate {
            incident,
            level,
            reason,
        } => {
            incidents
                .escalate(pb::EscalateRequest {
                    request_id: rid,
                    incident,
                    to_level: level.unwrap_or(0),
                    reason,
                })
                .await?
        }
        Cmd::Raise {
            incident,
            to,
            reason,
        } => {
            incidents
                .raise_severity(pb::RaiseSeverityRequest {
                    request_id: rid,
                    incident,
                    severity: to.map_or(0, |s| s as i32),
                    reason,
                })
                .await?
        }
        Cmd::CallIn {
            incident,
            units,
            note,
        } => {
            incidents
                .call_in(pb::CallInRequest {
                    done_at: None,
                    request_id: rid,
                    incident,
                    units,
                    note,
                })
                .await?
        }
    };
    let reply = reply.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &reply, "IncidentReply", true);
    }
    match &reply.incident {
        Some(incident) => print_incident(ctx, incident).await,
        None => Ok(()),
    }
}

fn assign_request(assignee: pb::Assignee, role: pb::AssignmentRole) -> pb::AssignRequest {
    pb::AssignRequest {
        request_id: String::new(),
        incident: String::new(),
        assignee: Some(assignee),
        role: role as i32,
        replace_lead: false,
    }
}

async fn list(ctx: &mut Ctx<'_>, a: ListArgs) -> Result<(), CliError> {
    if let Some(at) = &a.at {
        return replay(ctx, at, a.limit).await;
    }
    let mut incidents = ctx.client.incidents();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let remaining = if a.all {
            1000
        } else {
            a.limit.saturating_sub(all.len() as u32).min(1000)
        };
        if remaining == 0 {
            break;
        }
        let reply = incidents
            .list_incidents(pb::ListIncidentsRequest {
                open_only: a.open,
                statuses: a.status.iter().map(|s| *s as i32).collect(),
                assignee: a.assignee.clone(),
                day: a.day.clone().unwrap_or_default(),
                page: Some(pb::Page {
                    limit: remaining,
                    page_token: page_token.clone(),
                }),
            })
            .await?
            .into_inner();
        all.extend(reply.incidents);
        page_token = reply.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    if ctx.json() {
        let reply = pb::ListIncidentsReply {
            incidents: all,
            next_page_token: page_token,
        };
        return output::json(ctx.out, &reply, "ListIncidentsReply", true);
    }
    print_list(ctx, &all).await?;
    if !page_token.is_empty() && !a.all {
        writeln!(ctx.out, "(more: --limit or --all)")?;
    }
    Ok(())
}

/// `duty incident list --at`: the board then, under a line saying it is a
/// replay, of when, and up to which journal record.
async fn replay(ctx: &mut Ctx<'_>, at: &str, limit: u32) -> Result<(), CliError> {
    let reply = ctx
        .client
        .incidents()
        .replay_board(pb::ReplayBoardRequest {
            at: at.to_owned(),
            seq: 0,
        })
        .await?
        .into_inner();
    if ctx.json() {
        return output::json(ctx.out, &reply, "ReplayBoardReply", true);
    }
    let zone = ctx.zone().await?;
    writeln!(
        ctx.out,
        "Replay (回放) of the board at {}: {} incident(s), journal record {} of {}",
        time(reply.at.as_ref(), &zone),
        reply.incidents.len(),
        reply.seq,
        reply.head_seq
    )?;
    let shown = reply.incidents.len().min(limit as usize);
    print_list(ctx, &reply.incidents[..shown]).await?;
    if shown < reply.incidents.len() {
        writeln!(ctx.out, "(more: --limit)")?;
    }
    Ok(())
}

/// `duty incident search`: pages until `limit` are found or nothing is
/// left (a page may hold fewer and still go on).
/// `duty incident related`: the count, then each list.
async fn print_related(
    ctx: &mut Ctx<'_>,
    reply: &pb::FindRelatedReply,
    by_phone: bool,
) -> Result<(), CliError> {
    if ctx.format == Format::Json {
        return output::json(ctx.out, reply, "FindRelatedReply", true);
    }
    if by_phone {
        writeln!(
            ctx.out,
            "Calls from this number in the last 30 days: {}{}",
            if reply.calls_capped { "at least " } else { "" },
            reply.calls_last_30_days
        )?;
    }
    for (title, list) in [
        (
            "Open incidents this number called about",
            &reply.open_from_phone,
        ),
        (
            "Open incidents of this category here",
            &reply.open_same_place,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(ctx.out, "\n{title}:")?;
        print_list(ctx, list).await?;
    }
    Ok(())
}

async fn search(ctx: &mut Ctx<'_>, a: SearchArgs) -> Result<(), CliError> {
    let mut incidents = ctx.client.incidents();
    let mut found = Vec::new();
    let mut page_token = String::new();
    while (found.len() as u32) < a.limit {
        let reply = incidents
            .search_incidents(pb::SearchIncidentsRequest {
                text: a.text.join(" "),
                phone: a.phone.clone().unwrap_or_default(),
                category: a.category.clone().unwrap_or_default(),
                severity: a.severity.map_or(0, |s| s as i32),
                source: a.source.map_or(0, |s| s as i32),
                statuses: a.status.iter().map(|s| *s as i32).collect(),
                assignee: a.assignee.clone(),
                from: a.from.clone().unwrap_or_default(),
                to: a.to.clone().unwrap_or_default(),
                place_id: a.place.clone().unwrap_or_default(),
                page: Some(pb::Page {
                    limit: (a.limit - found.len() as u32).min(1000),
                    page_token: page_token.clone(),
                }),
            })
            .await?
            .into_inner();
        found.extend(reply.incidents);
        page_token = reply.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    match ctx.format {
        Format::Json => output::json(
            ctx.out,
            &pb::ListIncidentsReply {
                incidents: found,
                next_page_token: page_token,
            },
            "ListIncidentsReply",
            true,
        ),
        Format::Csv => {
            let zone = ctx.zone().await?;
            let header: Vec<String> = [
                "number", "received", "severity", "status", "category", "source", "summary",
                "address", "caller", "phone", "lead",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|i| {
                    vec![
                        i.number.clone(),
                        time(i.created_at.as_ref(), &zone),
                        output::severity(i.severity).to_owned(),
                        output::status(i.status).to_owned(),
                        i.category.clone(),
                        pb::SourceChannel::try_from(i.source)
                            .map(|s| {
                                s.as_str_name()
                                    .trim_start_matches("SOURCE_CHANNEL_")
                                    .to_ascii_lowercase()
                            })
                            .unwrap_or_default(),
                        i.summary.clone(),
                        i.address.clone(),
                        i.caller_name.clone(),
                        i.caller_phone.clone(),
                        lead_of(i),
                    ]
                })
                .collect();
            crate::report::write_csv(ctx.out, &header, &rows)?;
            Ok(())
        }
        Format::Table => {
            print_list(ctx, &found).await?;
            if !page_token.is_empty() {
                writeln!(ctx.out, "(more: --limit)")?;
            }
            Ok(())
        }
    }
}

/// The active lead of `i`, with its state.
fn lead_of(i: &pb::Incident) -> String {
    i.assignments
        .iter()
        .find(|a| {
            a.role == pb::AssignmentRole::Lead as i32
                && !matches!(
                    pb::AssignmentState::try_from(a.state),
                    Ok(pb::AssignmentState::Refused | pb::AssignmentState::Withdrawn)
                )
        })
        .map(|a| {
            format!(
                "{} ({})",
                output::assignee(a.assignee.as_ref()),
                output::assignment_state(a.state)
            )
        })
        .unwrap_or_default()
}

/// Incidents as a table, a row each.
async fn print_list(ctx: &mut Ctx<'_>, all: &[pb::Incident]) -> Result<(), CliError> {
    let zone = ctx.zone().await?;
    let rows = all
        .iter()
        .map(|i| {
            let lead = lead_of(i);
            vec![
                i.number.clone(),
                time(i.created_at.as_ref(), &zone),
                output::severity(i.severity).to_owned(),
                output::status(i.status).to_owned(),
                i.category.clone(),
                if i.drill {
                    format!("[演练] {}", truncate(&i.summary, 19))
                } else {
                    truncate(&i.summary, 24)
                },
                lead,
            ]
        })
        .collect();
    table(
        ctx.out,
        &[
            "NUMBER", "CREATED", "SEVERITY", "STATUS", "CATEGORY", "SUMMARY", "LEAD",
        ],
        rows,
    )?;
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Prints one incident in full.
pub async fn print_incident(ctx: &mut Ctx<'_>, i: &pb::Incident) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(ctx.out, i, "Incident", true);
    }
    let zone = ctx.zone().await?;
    let caller = [i.caller_name.as_str(), i.caller_phone.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let satisfaction = if i.satisfaction > 0 {
        format!("{}/5", i.satisfaction)
    } else {
        String::new()
    };
    fields(
        ctx.out,
        &[
            ("number", i.number.clone()),
            ("status", output::status(i.status).to_owned()),
            ("severity", output::severity(i.severity).to_owned()),
            ("category", i.category.clone()),
            ("source", output::source(i.source).to_owned()),
            (
                "drill",
                if i.drill {
                    "yes (演练: not a real emergency)".to_owned()
                } else {
                    String::new()
                },
            ),
            ("summary", i.summary.clone()),
            ("address", i.address.clone()),
            ("place", i.place_id.clone()),
            ("post", i.territorial_post_id.clone()),
            ("caller", caller),
            ("tags", i.tags.join(", ")),
            ("created", time(i.created_at.as_ref(), &zone)),
            ("resolved", time(i.resolved_at.as_ref(), &zone)),
            ("outcome", i.outcome.clone()),
            ("closed", time(i.closed_at.as_ref(), &zone)),
            ("callback", i.callback_result.clone()),
            ("satisfaction", satisfaction),
            ("cancelled", i.cancel_reason.clone()),
            ("merged into", i.merged_into.clone()),
            ("merged from", i.merged_from.join(", ")),
            (
                "escalation",
                if i.escalation_level > 0 {
                    format!("level {}", i.escalation_level)
                } else {
                    String::new()
                },
            ),
        ],
    )?;
    if !i.assignments.is_empty() {
        writeln!(ctx.out)?;
        let rows = i
            .assignments
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    output::assignee(a.assignee.as_ref()),
                    if a.role == pb::AssignmentRole::Lead as i32 {
                        "lead".into()
                    } else {
                        "support".into()
                    },
                    output::assignment_state(a.state).to_owned(),
                    time(a.dispatched_at.as_ref(), &zone),
                    time(a.signed_at.as_ref(), &zone),
                    time(a.arrived_at.as_ref(), &zone),
                    a.reason.clone(),
                ]
            })
            .collect();
        table(
            ctx.out,
            &[
                "ID",
                "ASSIGNEE",
                "ROLE",
                "STATE",
                "DISPATCHED",
                "SIGNED",
                "ARRIVED",
                "REASON",
            ],
            rows,
        )?;
    }
    if !i.clocks.is_empty() {
        writeln!(ctx.out)?;
        let mut clocks = i.clocks.clone();
        clocks.sort_by_key(|c| c.due.as_ref().map(|t| (t.seconds, t.nanos)));
        let rows = clocks
            .iter()
            .map(|c| {
                vec![
                    output::clock_kind(c.kind).to_owned(),
                    if c.assignment_id > 0 {
                        c.assignment_id.to_string()
                    } else {
                        String::new()
                    },
                    time(c.due.as_ref(), &zone),
                    c.alarms.to_string(),
                    time(c.next_alarm_at.as_ref(), &zone),
                ]
            })
            .collect();
        table(
            ctx.out,
            &["CLOCK", "ASSIGNMENT", "DUE", "ALARMS", "NEXT ALARM"],
            rows,
        )?;
    }
    if !i.repeat_calls.is_empty() {
        writeln!(ctx.out)?;
        writeln!(ctx.out, "Repeat calls: {}", i.repeat_calls.len())?;
        for call in &i.repeat_calls {
            writeln!(
                ctx.out,
                "{}  {} {} ({}): {}",
                time(call.at.as_ref(), &zone),
                output::visible(&call.caller_name),
                output::visible(&call.caller_phone),
                output::source(call.source),
                output::visible(&call.text)
            )?;
        }
    }
    if !i.notes.is_empty() {
        writeln!(ctx.out)?;
        for note in &i.notes {
            let author = note.author.as_ref().map(|a| a.name.as_str()).unwrap_or("");
            writeln!(
                ctx.out,
                "{}  {}: {}",
                time(note.at.as_ref(), &zone),
                output::visible(author),
                output::visible(&note.text)
            )?;
        }
    }
    Ok(())
}
