//! `RosterService`, `HandoverService`, `RollCallService`: the gRPC edges of
//! rosters, handover and roll-call. Handover contents are gathered here,
//! from the store, so the writer never scans.

use dutyroom_proto::v1 as pb;
use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};
use tonic::{Request, Response, Status};

use crate::auth::principal::{Principal, Role};
use crate::auth::{principal_of, require_centre};
use crate::convert;
use crate::directory::model::{Post, PostMode};
use crate::engine::Engine;
use crate::engine::command::{Command, Outcome, RosterRow, SwapRequest};
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{AssigneeRef, AssignmentRole, AssignmentState, IncidentEvent, Step};
use crate::journal::record::{EventBody, Record};
use crate::rosters::duty::{contacts, people_at};
use crate::rosters::handover::{
    Content, Handover, IncidentLine, ModeChange, OverdueClock, PendingDispatch, Stage,
};
use crate::rosters::model::{
    DutyRole, Pattern, RollCallSchedule, RosterConfig, Scope, ShiftDef, ShiftId, Slot,
};
use crate::store::{self, AlarmList, IncidentList, Page, Reader, Store, Visit};
use crate::validate;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// Serves the three roster services over one engine.
#[derive(Clone)]
pub struct Rosters {
    engine: Engine,
}

impl Rosters {
    /// Serves rosters through `engine`.
    pub fn new(engine: Engine) -> Self {
        Rosters { engine }
    }

    fn config(&self) -> Result<RosterConfig> {
        self.engine.store().roster_config()
    }

    fn zone_name(&self) -> String {
        self.engine
            .time_zone()
            .iana_name()
            .unwrap_or("UTC")
            .to_owned()
    }

    async fn submit(
        &self,
        principal: Principal,
        request_id: &str,
        command: Command,
    ) -> Result<Outcome> {
        let request_id = validate::request_id(request_id)?;
        self.engine.submit(principal, request_id, command).await
    }

    fn today(&self) -> Date {
        self.engine
            .now()
            .to_zoned_datetime(self.engine.time_zone().clone())
            .date()
    }
}

fn date(field: &str, text: &str) -> Result<Date> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("{text:?} is not a date (YYYY-MM-DD)")))
}

fn time(field: &str, text: &str) -> Result<Time> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("{text:?} is not a time of day (HH:MM)")))
}

fn at(value: Option<&prost_types::Timestamp>) -> Result<Option<Timestamp>> {
    value
        .map(|t| {
            Timestamp::new(t.seconds, t.nanos)
                .map_err(|_| Error::invalid("at", "is not a valid time"))
        })
        .transpose()
}

fn slot_key(key: Option<&pb::SlotKey>) -> Result<(ShiftId, Scope, DutyRole)> {
    let key = key.ok_or_else(|| Error::invalid("key", "is required"))?;
    let shift = ShiftId {
        date: date("key.date", &key.date)?,
        shift: key.shift.trim().to_owned(),
    };
    validate::required("key.shift", &shift.shift, 20)?;
    Ok((
        shift,
        Scope::parse(&key.scope)?,
        DutyRole::parse(&key.role)?,
    ))
}

fn person(field: &str, text: &str) -> Result<String> {
    validate::slug(field, text.trim())?;
    Ok(text.trim().to_owned())
}

fn optional_person(field: &str, text: &str) -> Result<Option<String>> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        person(field, text).map(Some)
    }
}

impl Rosters {
    /// A slot for the wire, with its times and who is on it at `when`.
    fn slot_view(
        &self,
        config: &RosterConfig,
        shift: &ShiftId,
        scope: &Scope,
        role: DutyRole,
        slot: &Slot,
    ) -> Result<pb::Slot> {
        let mut out = convert::slot_out(shift, scope, role, slot);
        if let Ok(occurrence) = config.occurrence(shift, self.engine.time_zone()) {
            out.starts = Some(convert::ts(occurrence.start));
            out.ends = Some(convert::ts(occurrence.end));
            out.effective = contacts(self.engine.store(), &slot.effective(occurrence.start))?
                .iter()
                .map(contact_out)
                .collect();
        }
        Ok(out)
    }

    fn scopes(&self, filter: &str) -> Result<Vec<Scope>> {
        if !filter.trim().is_empty() {
            return Ok(vec![Scope::parse(filter)?]);
        }
        let mut scopes = vec![Scope::Centre];
        for post in Reader::entries::<Post>(self.engine.store())? {
            if !post.retired {
                scopes.push(Scope::Post(post.id));
            }
        }
        Ok(scopes)
    }

    fn duties(
        &self,
        config: &RosterConfig,
        scopes: &[Scope],
        at: Timestamp,
    ) -> Result<Vec<pb::Duty>> {
        let store = self.engine.store();
        let mut duties = Vec::new();
        for scope in scopes {
            for role in DutyRole::required(scope) {
                let ids = people_at(store, config, self.engine.time_zone(), scope, *role, at)?;
                duties.push(pb::Duty {
                    scope: scope.key(),
                    role: role.name().to_owned(),
                    people: contacts(store, &ids)?.iter().map(contact_out).collect(),
                });
            }
        }
        Ok(duties)
    }
}

fn contact_out(c: &crate::escalation::alarm::Contact) -> pb::Contact {
    pb::Contact {
        person_id: c.person_id.clone().unwrap_or_default(),
        name: c.name.clone(),
        phone: c.phone.clone(),
    }
}

#[tonic::async_trait]
impl pb::roster_service_server::RosterService for Rosters {
    async fn get_roster_config(
        &self,
        request: Request<pb::GetRosterConfigRequest>,
    ) -> Reply<pb::RosterConfig> {
        principal_of(&request)?;
        Ok(Response::new(convert::roster_config_out(
            &self.config()?,
            &self.zone_name(),
        )))
    }

    async fn set_pattern(
        &self,
        request: Request<pb::SetPatternRequest>,
    ) -> Reply<pb::RosterConfig> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let pattern = r
            .pattern
            .ok_or_else(|| Error::invalid("pattern", "is required"))?;
        let pattern = Pattern {
            from: date("pattern.from", &pattern.from)?,
            shifts: pattern
                .shifts
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    Ok(ShiftDef {
                        name: s.name.trim().to_owned(),
                        start: time(&format!("pattern.shifts[{i}].start"), &s.start)?,
                        minutes: s.minutes,
                    })
                })
                .collect::<Result<_>>()?,
        };
        match self
            .submit(principal, &r.request_id, Command::SetPattern(pattern))
            .await?
        {
            Outcome::RosterConfig(config) => Ok(Response::new(convert::roster_config_out(
                &config,
                &self.zone_name(),
            ))),
            other => Err(Error::Storage(format!("SetPattern answered {other:?}")).into()),
        }
    }

    async fn set_roll_call_schedule(
        &self,
        request: Request<pb::SetRollCallScheduleRequest>,
    ) -> Reply<pb::RosterConfig> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let schedule = if r.times.is_empty() {
            None
        } else {
            let within = match r.answer_within_seconds {
                0 => 300,
                s @ 30..=86_400 => s,
                other => {
                    return Err(Error::invalid(
                        "answer_within_seconds",
                        format!("must be 30 to 86400 (got {other})"),
                    )
                    .into());
                }
            };
            Some(RollCallSchedule {
                times: r
                    .times
                    .iter()
                    .enumerate()
                    .map(|(i, t)| time(&format!("times[{i}]"), t))
                    .collect::<Result<_>>()?,
                answer_within: SignedDuration::from_secs(i64::from(within)),
            })
        };
        match self
            .submit(
                principal,
                &r.request_id,
                Command::SetRollCallSchedule(schedule),
            )
            .await?
        {
            Outcome::RosterConfig(config) => Ok(Response::new(convert::roster_config_out(
                &config,
                &self.zone_name(),
            ))),
            other => Err(Error::Storage(format!("SetRollCallSchedule answered {other:?}")).into()),
        }
    }

    async fn set_slot(&self, request: Request<pb::SetSlotRequest>) -> Reply<pb::Slot> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let (shift, scope, role) = slot_key(r.key.as_ref())?;
        if r.people.len() > validate::MAX_LIST {
            return Err(Error::invalid("people", format!("at most {}", validate::MAX_LIST)).into());
        }
        let people = r
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| person(&format!("people[{i}]"), p))
            .collect::<Result<Vec<_>>>()?;
        let command = Command::SetSlot {
            shift,
            scope,
            role,
            people,
        };
        self.slot_reply(principal, &r.request_id, command).await
    }

    async fn swap(&self, request: Request<pb::SwapRequest>) -> Reply<pb::Slot> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let (shift, scope, role) = slot_key(r.key.as_ref())?;
        validate::required("reason", &r.reason, validate::MAX_REASON)?;
        let swap = SwapRequest {
            replaced: person("replaced", &r.replaced)?,
            by: person("by", &r.by)?,
            from: at(r.from.as_ref())?,
            until: at(r.until.as_ref())?,
            asked_by: optional_person("asked_by", &r.asked_by)?,
            approved_by: optional_person("approved_by", &r.approved_by)?,
            reason: r.reason.trim().to_owned(),
        };
        if swap.replaced == swap.by {
            return Err(Error::invalid("by", "someone cannot stand in for themselves").into());
        }
        let command = Command::Swap {
            shift,
            scope,
            role,
            swap,
        };
        self.slot_reply(principal, &r.request_id, command).await
    }

    async fn get_roster(
        &self,
        request: Request<pb::GetRosterRequest>,
    ) -> Reply<pb::GetRosterReply> {
        principal_of(&request)?;
        let r = request.into_inner();
        let from = if r.from.trim().is_empty() {
            self.today()
        } else {
            date("from", &r.from)?
        };
        let days = match r.days {
            0 => 7,
            d @ 1..=366 => d,
            other => {
                return Err(
                    Error::invalid("days", format!("must be 1 to 366 (got {other})")).into(),
                );
            }
        };
        let config = self.config()?;
        let scopes = self.scopes(&r.scope)?;
        let store = self.engine.store();
        let mut slots = Vec::new();
        for occurrence in config.occurrences(from, days, self.engine.time_zone()) {
            for scope in &scopes {
                for role in DutyRole::required(scope) {
                    let slot = store.slot(&occurrence.id, scope, *role)?;
                    let Some(slot) = slot else { continue };
                    if !r.person.is_empty() && !slot.everyone().contains(&r.person) {
                        continue;
                    }
                    slots.push(self.slot_view(&config, &occurrence.id, scope, *role, &slot)?);
                }
            }
        }
        Ok(Response::new(pb::GetRosterReply { slots }))
    }

    async fn on_duty(&self, request: Request<pb::OnDutyRequest>) -> Reply<pb::OnDutyReply> {
        principal_of(&request)?;
        let r = request.into_inner();
        let when = at(r.at.as_ref())?.unwrap_or_else(|| self.engine.now());
        let config = self.config()?;
        let tz = self.engine.time_zone();
        let current = config.occurrence_at(when, tz).ok_or_else(|| {
            Error::precondition("no shift pattern applies: set one first (duty roster pattern)")
        })?;
        let scopes = self.scopes(&r.scope)?;
        let next = config.occurrence_at(current.end, tz);
        Ok(Response::new(pb::OnDutyReply {
            shift: Some(convert::shift_out(&current.id, current.start, current.end)),
            now: self.duties(&config, &scopes, when)?,
            next_shift: next
                .as_ref()
                .map(|n| convert::shift_out(&n.id, n.start, n.end)),
            next: match &next {
                Some(next) => self.duties(&config, &scopes, next.start)?,
                None => Vec::new(),
            },
        }))
    }

    async fn gaps(&self, request: Request<pb::GapsRequest>) -> Reply<pb::GapsReply> {
        principal_of(&request)?;
        let r = request.into_inner();
        let from = if r.from.trim().is_empty() {
            self.today()
        } else {
            date("from", &r.from)?
        };
        let days = r.days.clamp(1, 366);
        let config = self.config()?;
        let scopes = self.scopes("")?;
        let store = self.engine.store();
        let mut gaps = Vec::new();
        for occurrence in config.occurrences(from, days, self.engine.time_zone()) {
            for scope in &scopes {
                for role in DutyRole::required(scope) {
                    let slot = store.slot(&occurrence.id, scope, *role)?;
                    if slot.is_none_or(|s| s.people.is_empty()) {
                        gaps.push(pb::Gap {
                            key: Some(convert::slot_key_out(&occurrence.id, scope, *role)),
                            starts: Some(convert::ts(occurrence.start)),
                        });
                    }
                }
            }
        }
        Ok(Response::new(pb::GapsReply { gaps }))
    }

    async fn import_roster(
        &self,
        request: Request<pb::ImportRosterRequest>,
    ) -> Reply<pb::ImportRosterReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        if r.rows.len() > 100_000 {
            return Err(Error::invalid("rows", "at most 100000 rows at once").into());
        }
        let rows = r
            .rows
            .iter()
            .map(|row| RosterRow {
                line: row.line,
                date: row.date.clone(),
                shift: row.shift.clone(),
                role: row.role.clone(),
                post: row.post.clone(),
                person: row.person.clone(),
            })
            .collect();
        let command = Command::ImportRoster {
            rows,
            apply_good_rows: r.apply_good_rows,
            dry_run: r.dry_run,
        };
        match self.submit(principal, &r.request_id, command).await? {
            Outcome::Imported {
                problems,
                slots_written,
                rows_ok,
            } => Ok(Response::new(pb::ImportRosterReply {
                problems: problems
                    .into_iter()
                    .map(|(line, reason)| pb::RowProblem { line, reason })
                    .collect(),
                slots_written,
                rows_ok,
            })),
            other => Err(Error::Storage(format!("ImportRoster answered {other:?}")).into()),
        }
    }
}

impl Rosters {
    async fn slot_reply(
        &self,
        principal: Principal,
        request_id: &str,
        command: Command,
    ) -> Reply<pb::Slot> {
        match self.submit(principal, request_id, command).await? {
            Outcome::Slot {
                shift,
                scope,
                role,
                slot,
            } => Ok(Response::new(self.slot_view(
                &self.config()?,
                &shift,
                &scope,
                role,
                &slot,
            )?)),
            other => Err(Error::Storage(format!("a slot command answered {other:?}")).into()),
        }
    }
}

// --- handover -----------------------------------------------------------------

/// The first journal seq at or after `at` (binary search on record times,
/// which never go backwards).
fn first_seq_at(store: &Store, at: Timestamp, head: u64) -> Result<u64> {
    let (mut low, mut high) = (1, head + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let time = match store.journal_record(middle)? {
            Some(bytes) => store::decode::<Record>(&bytes)?.at,
            None => Timestamp::MAX,
        };
        if time < at {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// What a handover records, gathered from the store at `now` for a shift
/// that started at `start`: the whole centre's, or one post's own part.
pub fn gather(engine: &Engine, start: Timestamp, now: Timestamp, whose: &Scope) -> Result<Content> {
    let store = engine.store();
    let mut content = Content::default();
    let post = match whose {
        Scope::Centre => None,
        Scope::Post(id) => Some(AssigneeRef::post(id)),
    };
    let post_key = post.as_ref().map(ToString::to_string);
    let open = store.incidents(&IncidentList::Open, &Page::all(), |incident| {
        Ok(Visit::Keep(incident))
    })?;
    for incident in open.items {
        if let Some(post) = &post
            && !incident.involves(post)
        {
            continue;
        }
        let lead = incident
            .assignments
            .iter()
            .find(|a| a.role == AssignmentRole::Lead && a.state.is_active())
            .map(|a| a.assignee.to_string());
        content.open_incidents.push(IncidentLine {
            number: incident.number.clone(),
            severity: incident.intake.severity,
            category: incident.intake.category.clone(),
            status: incident.status().word().to_owned(),
            summary: incident.intake.summary.clone(),
            lead,
        });
        for a in incident.assignments.iter().filter(|a| {
            a.state == AssignmentState::Dispatched
                && post.as_ref().is_none_or(|post| a.assignee == *post)
        }) {
            content.unsigned_dispatches.push(PendingDispatch {
                number: incident.number.clone(),
                assignee: a.assignee.clone(),
                dispatched_at: a.dispatched_at,
            });
        }
        for clock in incident.clocks.iter().filter(|c| c.due < now) {
            content.overdue.push(OverdueClock {
                number: incident.number.clone(),
                clock: clock.kind.describe().to_owned(),
                due: clock.due,
                alarms: clock.alarms,
            });
        }
    }
    content.counts.open_at_handover = content.open_incidents.len() as u32;
    // Alarms are numbered in time order: read back until the shift began.
    let since_start = Page::all().newest_first().looking_at_most(10_000);
    let mut alarms: Vec<Alarm> = store
        .alarms(AlarmList::All, &since_start, |alarm| {
            Ok(if alarm.raised_at < start {
                Visit::Stop
            } else {
                Visit::Keep(alarm)
            })
        })?
        .items;
    alarms.reverse();
    // A past shift's handover: not the alarms of the shifts after it.
    alarms.retain(|a| a.raised_at <= now);
    if let Some(post) = &post {
        // Alarms about the post's own assignments, or about the post itself
        // (a mode switch, a missed roll-call): not its territory's others.
        alarms.retain(|a| crate::visibility::alarm_addressed_to(post, a));
    }
    content.counts.escalations = alarms.iter().filter(|a| a.incident.is_some()).count() as u32;
    content.alarms = alarms;
    // The shift's events, from the journal.
    let head = engine.durable_seq();
    let mut seq = first_seq_at(store, start, head)?;
    'journal: while seq <= head {
        let chunk = store.journal_after(seq.saturating_sub(1), 1024)?;
        if chunk.is_empty() {
            break;
        }
        for (at_seq, bytes) in &chunk {
            seq = at_seq + 1;
            let record: Record = store::decode(bytes)?;
            if record.at > now {
                break 'journal;
            }
            // A post's counts: orders it received, the incidents it could
            // see, its own mode.
            if let (Some(key), Some(post)) = (&post_key, &post) {
                if let EventBody::Incident(IncidentEvent::Assignment {
                    step: Step::Dispatched,
                    assignment,
                    ..
                }) = &record.body
                    && assignment.assignee == *post
                {
                    content.counts.received += 1;
                    continue;
                }
                let about_post = match &record.body {
                    EventBody::Post(event) => event.entry.id == post.id,
                    _ => record.audience.contains(key),
                };
                if !about_post {
                    continue;
                }
            }
            match record.body.kind().as_str() {
                // A post "receives" an order (counted above), not a call.
                "incident.created" if post.is_none() => content.counts.received += 1,
                "incident.resolved" => content.counts.resolved += 1,
                "incident.closed" => content.counts.closed += 1,
                "incident.cancelled" => content.counts.cancelled += 1,
                "post.mode_switched" => {
                    if let EventBody::Post(event) = &record.body {
                        content.mode_changes.push(ModeChange {
                            post: event.entry.id.clone(),
                            mode: match event.entry.mode {
                                PostMode::Emergency => "emergency".into(),
                                PostMode::Normal => "normal".into(),
                            },
                            reason: event.entry.mode_reason.clone().unwrap_or_default(),
                            at: record.at,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(content)
}

#[tonic::async_trait]
impl pb::handover_service_server::HandoverService for Rosters {
    async fn open_handover(
        &self,
        request: Request<pb::OpenHandoverRequest>,
    ) -> Reply<pb::Handover> {
        let principal = principal_of(&request)?;
        if !matches!(principal.role, Role::Post(_)) {
            require_centre(&principal, "open a handover")?;
        }
        let r = request.into_inner();
        validate::max_len("notes", &r.notes, validate::MAX_TEXT)?;
        let config = self.config()?;
        let tz = self.engine.time_zone();
        let now = self.engine.now();
        let occurrence = if r.date.trim().is_empty() && r.shift.trim().is_empty() {
            config.occurrence_at(now, tz).ok_or_else(|| {
                Error::precondition("no shift pattern applies: set one first (duty roster pattern)")
            })?
        } else {
            config.occurrence(
                &ShiftId {
                    date: date("date", &r.date)?,
                    shift: r.shift.trim().to_owned(),
                },
                tz,
            )?
        };
        // A post's token opens its own post's handover; the centre's roles
        // the centre's unless they name a post.
        let whose = match &principal.role {
            Role::Post(mine) => {
                let asked = Scope::parse(&r.scope)?;
                if !r.scope.trim().is_empty() && asked != Scope::Post(mine.clone()) {
                    return Err(Error::denied(format!(
                        "post {mine}'s token opens post {mine}'s handover only"
                    ))
                    .into());
                }
                Scope::Post(mine.clone())
            }
            _ => Scope::parse(&r.scope)?,
        };
        // A past shift's handover counts that shift's events, not everything
        // since it began.
        let content = gather(
            &self.engine,
            occurrence.start,
            now.min(occurrence.end),
            &whose,
        )?;
        let command = Command::OpenHandover {
            scope: whose,
            shift: occurrence.id,
            content: Box::new(content),
            notes: (!r.notes.trim().is_empty()).then(|| r.notes.trim().to_owned()),
        };
        self.handover_reply(principal, &r.request_id, command).await
    }

    async fn update_handover(
        &self,
        request: Request<pb::UpdateHandoverRequest>,
    ) -> Reply<pb::Handover> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::max_len("notes", &r.notes, validate::MAX_TEXT)?;
        let command = Command::UpdateHandover {
            id: r.id,
            notes: r.notes.trim().to_owned(),
        };
        self.handover_reply(principal, &r.request_id, command).await
    }

    async fn sign_handover(
        &self,
        request: Request<pb::SignHandoverRequest>,
    ) -> Reply<pb::Handover> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        self.handover_reply(principal, &r.request_id, Command::SignHandover { id: r.id })
            .await
    }

    async fn countersign_handover(
        &self,
        request: Request<pb::CountersignHandoverRequest>,
    ) -> Reply<pb::Handover> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::max_len("remarks", &r.remarks, validate::MAX_TEXT)?;
        let command = Command::CountersignHandover {
            id: r.id,
            remarks: r.remarks.trim().to_owned(),
        };
        self.handover_reply(principal, &r.request_id, command).await
    }

    async fn get_handover(&self, request: Request<pb::GetHandoverRequest>) -> Reply<pb::Handover> {
        let principal = principal_of(&request)?;
        let mine = crate::visibility::handovers(&principal)?;
        let id = request.get_ref().id;
        let handover: Handover = self
            .engine
            .store()
            .handover(id)?
            .filter(|h: &Handover| mine.as_ref().is_none_or(|m| h.scope == *m))
            .ok_or_else(|| Error::not_found(format!("handover {id}")))?;
        Ok(Response::new(convert::handover_out(&handover)))
    }

    async fn list_handovers(
        &self,
        request: Request<pb::ListHandoversRequest>,
    ) -> Reply<pb::ListHandoversReply> {
        let principal = principal_of(&request)?;
        let mine = crate::visibility::handovers(&principal)?;
        let r = request.into_inner();
        let only = match (&mine, r.scope.trim()) {
            (Some(mine), _) => Some(mine.clone()),
            (None, "") => None,
            (None, scope) => Some(Scope::parse(scope)?),
        };
        let to = if r.to.trim().is_empty() {
            self.today()
        } else {
            date("to", &r.to)?
        };
        let from = if r.from.trim().is_empty() {
            to.checked_sub(jiff::Span::new().days(7)).unwrap_or(to)
        } else {
            date("from", &r.from)?
        };
        let mut handovers = Vec::new();
        for handover in self.engine.store().handovers()? {
            if only.as_ref().is_some_and(|only| handover.scope != *only) {
                continue;
            }
            let in_range = handover.shift.date >= from && handover.shift.date <= to;
            let pending = handover.stage() != Stage::Countersigned;
            if (in_range && !r.pending_only) || (r.pending_only && pending) {
                handovers.push(convert::handover_out(&handover));
            }
        }
        Ok(Response::new(pb::ListHandoversReply { handovers }))
    }
}

impl Rosters {
    async fn handover_reply(
        &self,
        principal: Principal,
        request_id: &str,
        command: Command,
    ) -> Reply<pb::Handover> {
        match self.submit(principal, request_id, command).await? {
            Outcome::Handover(handover) => Ok(Response::new(convert::handover_out(&handover))),
            other => Err(Error::Storage(format!("a handover command answered {other:?}")).into()),
        }
    }
}

// --- roll-call ----------------------------------------------------------------

#[tonic::async_trait]
impl pb::roll_call_service_server::RollCallService for Rosters {
    async fn send_roll_call(
        &self,
        request: Request<pb::SendRollCallRequest>,
    ) -> Reply<pb::RollCall> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let within = match r.answer_within_seconds {
            0 => 300,
            s @ 10..=86_400 => s,
            other => {
                return Err(Error::invalid(
                    "answer_within_seconds",
                    format!("must be 10 to 86400 (got {other})"),
                )
                .into());
            }
        };
        let posts = r
            .posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                validate::slug(&format!("posts[{i}]"), p.trim())?;
                Ok(p.trim().to_owned())
            })
            .collect::<Result<Vec<_>>>()?;
        let command = Command::SendRollCall {
            posts,
            answer_within: SignedDuration::from_secs(i64::from(within)),
        };
        self.rollcall_reply(principal, &r.request_id, command).await
    }

    async fn answer_roll_call(
        &self,
        request: Request<pb::AnswerRollCallRequest>,
    ) -> Reply<pb::RollCall> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        self.rollcall_reply_done_at(
            principal,
            &r.request_id,
            r.done_at.as_ref(),
            Command::AnswerRollCall { id: r.id },
        )
        .await
    }

    async fn list_roll_calls(
        &self,
        request: Request<pb::ListRollCallsRequest>,
    ) -> Reply<pb::ListRollCallsReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let limit = match r.limit {
            0 => 50,
            n => n.min(1000) as usize,
        };
        let recent = Page::first(limit).newest_first().looking_at_most(10_000);
        let roll_calls = self
            .engine
            .store()
            .rollcalls(&recent, |rollcall| {
                let Some(rollcall) = crate::visibility::rollcall(&principal, rollcall) else {
                    return Ok(Visit::Skip);
                };
                if r.pending_only && rollcall.pending().next().is_none() {
                    return Ok(Visit::Skip);
                }
                Ok(Visit::Keep(convert::rollcall_out(&rollcall)))
            })?
            .items;
        Ok(Response::new(pb::ListRollCallsReply { roll_calls }))
    }
}

impl Rosters {
    async fn rollcall_reply(
        &self,
        principal: Principal,
        request_id: &str,
        command: Command,
    ) -> Reply<pb::RollCall> {
        self.rollcall_reply_done_at(principal, request_id, None, command)
            .await
    }

    async fn rollcall_reply_done_at(
        &self,
        principal: Principal,
        request_id: &str,
        done_at: Option<&prost_types::Timestamp>,
        command: Command,
    ) -> Reply<pb::RollCall> {
        let viewer = principal.clone();
        let request_id = validate::request_id(request_id)?;
        let reported = crate::presence::service::reported(&self.engine, &principal, done_at)?;
        match self
            .engine
            .submit_reported(principal, request_id, reported, command)
            .await?
        {
            Outcome::RollCall(rollcall) => match crate::visibility::rollcall(&viewer, *rollcall) {
                Some(rollcall) => Ok(Response::new(convert::rollcall_out(&rollcall))),
                None => {
                    Err(Error::Storage("a roll-call reply its caller may not see".into()).into())
                }
            },
            other => Err(Error::Storage(format!("a roll-call command answered {other:?}")).into()),
        }
    }
}
