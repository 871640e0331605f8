//! `IncidentService`: validates requests, turns them into commands for the
//! engine, and serves reads straight from the store.

use dutyroom_proto::v1 as pb;
use pb::incident_service_server::IncidentService;
use tonic::{Request, Response, Status};

use crate::auth::principal::Principal;
use crate::auth::principal_of;
use crate::convert::{self, Phone};
use crate::engine::Engine;
use crate::engine::command::{Command, DispatchTo, Outcome, RepeatCallIntake};
use crate::error::{Error, Result};
use crate::incidents::model::{
    AssignmentAction, AssignmentSelector, Incident, Intake, IntakePatch, Status as IncidentStatus,
};
use crate::incidents::numbering;
use crate::store::{IncidentList, Page, PageCursor, Paged, Reader, Store, Visit};
use crate::validate::{self, MAX_ADDRESS, MAX_NAME, MAX_REASON, MAX_SUMMARY, MAX_TEXT};
use crate::visibility::{incident as can_see, require_incident as require_visible};

/// Default and largest page of a list call.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page of a list call.
pub const MAX_PAGE: usize = 1000;

/// The gRPC incident service.
#[derive(Clone)]
pub struct Incidents {
    engine: Engine,
}

impl Incidents {
    /// Serves incidents through `engine`.
    pub fn new(engine: Engine) -> Self {
        Incidents { engine }
    }

    fn number(&self, text: &str) -> Result<String> {
        numbering::parse_ref(text, self.engine.now(), self.engine.time_zone())
    }

    async fn run(
        &self,
        principal: Principal,
        request_id: &str,
        command: Command,
    ) -> Result<pb::IncidentReply> {
        self.run_done_at(principal, request_id, None, command).await
    }

    /// Runs a command the client says it did at `done_at` (an action sent
    /// late from a post's outbox): its events record both times.
    async fn run_done_at(
        &self,
        principal: Principal,
        request_id: &str,
        done_at: Option<&prost_types::Timestamp>,
        command: Command,
    ) -> Result<pb::IncidentReply> {
        let request_id = validate::request_id(request_id)?;
        let reported = crate::presence::service::reported(&self.engine, &principal, done_at)?;
        match self
            .engine
            .submit_reported(principal, request_id, reported, command)
            .await?
        {
            Outcome::Incident { incident, seq } => Ok(pb::IncidentReply {
                incident: Some(convert::incident_out(&incident, Phone::Full)),
                seq,
            }),
            other => Err(Error::Storage(format!(
                "an incident command answered with {other:?}"
            ))),
        }
    }
}

/// The incident with this number if `principal` may see it, else NOT_FOUND.
pub fn load_visible(store: &Store, principal: &Principal, number: &str) -> Result<Incident> {
    let incident = store
        .incident_by_number(number)?
        .ok_or_else(|| Error::not_found(format!("incident {number}")))?;
    require_visible(principal, &incident)?;
    Ok(incident)
}

fn intake_in(intake: Option<pb::IncidentIntake>) -> Result<Intake> {
    let intake = intake.ok_or_else(|| Error::invalid("intake", "is required"))?;
    let intake = Intake {
        source: convert::source_in("intake.source", intake.source)?,
        caller_name: intake.caller_name.trim().to_owned(),
        caller_phone: intake.caller_phone.trim().to_owned(),
        address: intake.address.trim().to_owned(),
        place_id: Some(intake.place_id.trim().to_owned()).filter(|p| !p.is_empty()),
        category: intake.category.trim().to_owned(),
        severity: convert::severity_in("intake.severity", intake.severity)?,
        summary: intake.summary.trim().to_owned(),
        tags: validate::tidy_labels(&intake.tags),
        drill: intake.drill,
    };
    validate::max_len("intake.caller_name", &intake.caller_name, MAX_NAME)?;
    validate::phone("intake.caller_phone", &intake.caller_phone)?;
    validate::max_len("intake.address", &intake.address, MAX_ADDRESS)?;
    if let Some(place) = &intake.place_id {
        validate::slug("intake.place_id", place)?;
    }
    validate::slug("intake.category", &intake.category)?;
    validate::required("intake.summary", &intake.summary, MAX_SUMMARY)?;
    validate::labels("intake.tags", &intake.tags)?;
    if intake.address.is_empty() && intake.place_id.is_none() {
        return Err(Error::invalid(
            "intake.address",
            "give an address or a place: the centre must know where to send people",
        ));
    }
    Ok(intake)
}

fn dispatch_in(field: &str, request: &pb::AssignRequest) -> Result<DispatchTo> {
    Ok(DispatchTo {
        assignee: convert::assignee_in(&format!("{field}.assignee"), request.assignee.as_ref())?,
        role: convert::role_in(&format!("{field}.role"), request.role)?,
    })
}

fn selector_in(id: u32, assignee: Option<&pb::Assignee>) -> Result<Option<AssignmentSelector>> {
    match (id, assignee) {
        (0, None) => Ok(None),
        (0, Some(assignee)) => Ok(Some(AssignmentSelector::Assignee(convert::assignee_in(
            "assignee",
            Some(assignee),
        )?))),
        (id, None) => Ok(Some(AssignmentSelector::Id(id))),
        (_, Some(_)) => Err(Error::invalid(
            "assignment_id",
            "name the assignment by id or by assignee, not both",
        )),
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl IncidentService for Incidents {
    async fn create_incident(
        &self,
        request: Request<pb::CreateIncidentRequest>,
    ) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let request = request.into_inner();
        let intake = intake_in(request.intake)?;
        if request.dispatch.len() > validate::MAX_LIST {
            return Err(Error::invalid(
                "dispatch",
                format!("at most {} assignees at once", validate::MAX_LIST),
            )
            .into());
        }
        let dispatch = request
            .dispatch
            .iter()
            .enumerate()
            .map(|(i, d)| dispatch_in(&format!("dispatch[{i}]"), d))
            .collect::<Result<Vec<_>>>()?;
        let command = Command::CreateIncident { intake, dispatch };
        Ok(Response::new(
            self.run(principal, &request.request_id, command).await?,
        ))
    }

    async fn update_incident(
        &self,
        request: Request<pb::UpdateIncidentRequest>,
    ) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let incident = self.number(&r.incident)?;
        let trim = |v: Option<String>| v.map(|s| s.trim().to_owned());
        let patch = IntakePatch {
            source: r
                .source
                .map(|v| convert::source_in("source", v))
                .transpose()?,
            caller_name: trim(r.caller_name),
            caller_phone: trim(r.caller_phone),
            address: trim(r.address),
            place_id: trim(r.place_id).map(|p| Some(p).filter(|p| !p.is_empty())),
            category: trim(r.category),
            severity: r
                .severity
                .map(|v| convert::severity_in("severity", v))
                .transpose()?,
            summary: trim(r.summary),
            tags: r.tags.map(|t| validate::tidy_labels(&t.values)),
        };
        if let Some(v) = &patch.caller_name {
            validate::max_len("caller_name", v, MAX_NAME)?;
        }
        if let Some(v) = &patch.caller_phone {
            validate::phone("caller_phone", v)?;
        }
        if let Some(v) = &patch.address {
            validate::max_len("address", v, MAX_ADDRESS)?;
        }
        if let Some(Some(v)) = &patch.place_id {
            validate::slug("place_id", v)?;
        }
        if let Some(v) = &patch.category {
            validate::slug("category", v)?;
        }
        if let Some(v) = &patch.summary {
            validate::required("summary", v, MAX_SUMMARY)?;
        }
        if let Some(v) = &patch.tags {
            validate::labels("tags", v)?;
        }
        validate::max_len("reason", &r.reason, MAX_REASON)?;
        let command = Command::UpdateIncident {
            incident,
            patch,
            reason: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn get_incident(&self, request: Request<pb::GetIncidentRequest>) -> Reply<pb::Incident> {
        let principal = principal_of(&request)?;
        let number = self.number(&request.get_ref().incident)?;
        let incident = load_visible(self.engine.store(), &principal, &number)?;
        Ok(Response::new(convert::incident_out(&incident, Phone::Full)))
    }

    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Reply<pb::ListIncidentsReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let query = Query::from_request(&r, &principal)?;
        let Paged {
            items: incidents,
            next,
        } = query.run(self.engine.store(), &principal)?;
        Ok(Response::new(pb::ListIncidentsReply {
            incidents: incidents
                .iter()
                .map(|i| convert::incident_out(i, Phone::Masked))
                .collect(),
            next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
        }))
    }

    async fn search_incidents(
        &self,
        request: Request<pb::SearchIncidentsRequest>,
    ) -> Reply<pb::ListIncidentsReply> {
        let principal = principal_of(&request)?;
        Ok(Response::new(
            crate::history::service::search(&self.engine, principal, request.get_ref()).await?,
        ))
    }

    async fn assign(&self, request: Request<pb::AssignRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = Command::Assign {
            incident: self.number(&r.incident)?,
            to: dispatch_in("", &r)
                .map_err(|e| e.map_message(|m| m.trim_start_matches('.').into()))?,
            replace_lead: r.replace_lead,
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn unassign(&self, request: Request<pb::UnassignRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        if r.assignment_id == 0 {
            return Err(Error::invalid("assignment_id", "is required").into());
        }
        let command = Command::Step {
            incident: self.number(&r.incident)?,
            selector: Some(AssignmentSelector::Id(r.assignment_id)),
            action: AssignmentAction::Unassign,
            note: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn sign_for(
        &self,
        request: Request<pb::AssignmentActionRequest>,
    ) -> Reply<pb::IncidentReply> {
        self.assignment_action(request, AssignmentAction::SignFor)
            .await
    }

    async fn arrive(
        &self,
        request: Request<pb::AssignmentActionRequest>,
    ) -> Reply<pb::IncidentReply> {
        self.assignment_action(request, AssignmentAction::Arrive)
            .await
    }

    async fn finish(
        &self,
        request: Request<pb::AssignmentActionRequest>,
    ) -> Reply<pb::IncidentReply> {
        self.assignment_action(request, AssignmentAction::Finish)
            .await
    }

    async fn refuse(&self, request: Request<pb::RefuseRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        let command = Command::Step {
            incident: self.number(&r.incident)?,
            selector: selector_in(r.assignment_id, r.assignee.as_ref())?,
            action: AssignmentAction::Refuse,
            note: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run_done_at(principal, &r.request_id, r.done_at.as_ref(), command)
                .await?,
        ))
    }

    async fn add_note(&self, request: Request<pb::AddNoteRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("text", &r.text, MAX_TEXT)?;
        let command = Command::AddNote {
            incident: self.number(&r.incident)?,
            text: r.text.trim().to_owned(),
        };
        Ok(Response::new(
            self.run_done_at(principal, &r.request_id, r.done_at.as_ref(), command)
                .await?,
        ))
    }

    async fn find_related(
        &self,
        request: Request<pb::FindRelatedRequest>,
    ) -> Reply<pb::FindRelatedReply> {
        let principal = principal_of(&request)?;
        Ok(Response::new(
            crate::history::related::find_related(&self.engine, principal, request.get_ref())
                .await?,
        ))
    }

    async fn replay_board(
        &self,
        request: Request<pb::ReplayBoardRequest>,
    ) -> Reply<pb::ReplayBoardReply> {
        let principal = principal_of(&request)?;
        Ok(Response::new(
            crate::history::replay::replay_board(&self.engine, principal, request.get_ref())
                .await?,
        ))
    }

    async fn add_repeat_call(
        &self,
        request: Request<pb::AddRepeatCallRequest>,
    ) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::max_len("caller_name", &r.caller_name, MAX_NAME)?;
        validate::phone("caller_phone", &r.caller_phone)?;
        validate::max_len("text", &r.text, MAX_TEXT)?;
        let command = Command::AddRepeatCall {
            incident: self.number(&r.incident)?,
            call: RepeatCallIntake {
                source: match r.source {
                    0 => None,
                    value => Some(convert::source_in("source", value)?),
                },
                caller_name: r.caller_name.trim().to_owned(),
                caller_phone: r.caller_phone.trim().to_owned(),
                text: r.text.trim().to_owned(),
            },
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn resolve(&self, request: Request<pb::ResolveRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("outcome", &r.outcome, MAX_TEXT)?;
        let command = Command::Resolve {
            incident: self.number(&r.incident)?,
            outcome: r.outcome.trim().to_owned(),
        };
        Ok(Response::new(
            self.run_done_at(principal, &r.request_id, r.done_at.as_ref(), command)
                .await?,
        ))
    }

    async fn close(&self, request: Request<pb::CloseRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("callback_result", &r.callback_result, MAX_TEXT)?;
        let satisfaction = match r.satisfaction {
            0 => None,
            score @ 1..=5 => Some(score as u8),
            other => {
                return Err(Error::invalid(
                    "satisfaction",
                    format!("must be 1 to 5, or 0 when not given (got {other})"),
                )
                .into());
            }
        };
        let command = Command::Close {
            incident: self.number(&r.incident)?,
            callback_result: r.callback_result.trim().to_owned(),
            satisfaction,
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        let command = Command::Cancel {
            incident: self.number(&r.incident)?,
            reason: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn merge(&self, request: Request<pb::MergeRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let into = numbering::parse_ref(&r.into, self.engine.now(), self.engine.time_zone())
            .map_err(|e| e.map_message(|m| m.replacen("incident", "into", 1)))?;
        let command = Command::Merge {
            incident: self.number(&r.incident)?,
            into,
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn escalate(&self, request: Request<pb::EscalateRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        let to_level = match r.to_level {
            0 => None,
            level @ 1..=9 => Some(level as u8),
            other => {
                return Err(Error::invalid(
                    "to_level",
                    format!("must be 1 to 9, or 0 for one level up (got {other})"),
                )
                .into());
            }
        };
        let command = Command::Escalate {
            incident: self.number(&r.incident)?,
            to_level,
            reason: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn raise_severity(
        &self,
        request: Request<pb::RaiseSeverityRequest>,
    ) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        let to = match r.severity {
            0 => None,
            value => Some(convert::severity_in("severity", value)?),
        };
        let command = Command::RaiseSeverity {
            incident: self.number(&r.incident)?,
            to,
            reason: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }

    async fn call_in(&self, request: Request<pb::CallInRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        if r.units.is_empty() {
            return Err(Error::invalid("units", "name at least one unit").into());
        }
        let units = validate::tidy_labels(&r.units);
        validate::labels("units", &units)?;
        for (index, unit) in units.iter().enumerate() {
            validate::slug(&format!("units[{index}]"), unit)?;
        }
        validate::max_len("note", &r.note, MAX_REASON)?;
        let command = Command::CallIn {
            incident: self.number(&r.incident)?,
            units,
            note: r.note.trim().to_owned(),
        };
        Ok(Response::new(
            self.run_done_at(principal, &r.request_id, r.done_at.as_ref(), command)
                .await?,
        ))
    }

    async fn reopen(&self, request: Request<pb::ReopenRequest>) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("reason", &r.reason, MAX_REASON)?;
        let command = Command::Reopen {
            incident: self.number(&r.incident)?,
            reason: r.reason.trim().to_owned(),
        };
        Ok(Response::new(
            self.run(principal, &r.request_id, command).await?,
        ))
    }
}

impl Incidents {
    async fn assignment_action(
        &self,
        request: Request<pb::AssignmentActionRequest>,
        action: AssignmentAction,
    ) -> Reply<pb::IncidentReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::max_len("note", &r.note, MAX_REASON)?;
        let command = Command::Step {
            incident: self.number(&r.incident)?,
            selector: selector_in(r.assignment_id, r.assignee.as_ref())?,
            action,
            note: r.note.trim().to_owned(),
        };
        Ok(Response::new(
            self.run_done_at(principal, &r.request_id, r.done_at.as_ref(), command)
                .await?,
        ))
    }
}

/// A page's `limit`, checked: 0 is [`DEFAULT_PAGE`], more than
/// [`MAX_PAGE`] is refused.
pub(crate) fn page_limit(page: &pb::Page) -> Result<usize> {
    match page.limit as usize {
        0 => Ok(DEFAULT_PAGE),
        n if n > MAX_PAGE => Err(Error::invalid(
            "page.limit",
            format!("must be at most {MAX_PAGE} (got {n})"),
        )),
        n => Ok(n),
    }
}

/// A list query, planned onto the most selective index.
struct Query {
    open_only: bool,
    statuses: Vec<IncidentStatus>,
    assignee: Option<crate::incidents::model::AssigneeRef>,
    day: Option<String>,
    limit: usize,
    /// Where the previous page ended.
    after: Option<PageCursor>,
}

impl Query {
    fn from_request(r: &pb::ListIncidentsRequest, principal: &Principal) -> Result<Query> {
        let statuses = r
            .statuses
            .iter()
            .map(|s| convert::status_in("statuses", *s))
            .collect::<Result<Vec<_>>>()?;
        let mut assignee = match &r.assignee {
            Some(a) => Some(convert::assignee_in("assignee", Some(a))?),
            None => None,
        };
        // A post or unit only ever lists its own incidents.
        if let Some(me) = principal.role.confined_to() {
            match &assignee {
                Some(asked) if *asked != me => {
                    return Err(Error::denied(format!(
                        "{me} may only list its own incidents, not those of {asked}"
                    )));
                }
                _ => assignee = Some(me),
            }
        }
        let day = match r.day.trim() {
            "" => None,
            text => Some(numbering::parse_day(text).ok_or_else(|| {
                Error::invalid(
                    "day",
                    format!("{text:?} is not a date (YYYYMMDD or YYYY-MM-DD)"),
                )
            })?),
        };
        let page = r.page.clone().unwrap_or_default();
        let limit = page_limit(&page)?;
        let after = match page.page_token.trim() {
            "" => None,
            token => Some(PageCursor::from_token(token).ok_or_else(|| {
                Error::invalid("page.page_token", "is not a token from a previous reply")
            })?),
        };
        let query = Query {
            open_only: r.open_only,
            statuses,
            assignee,
            day,
            limit,
            after,
        };
        if let Some(after) = &query.after
            && !query.list().holds(after)
        {
            return Err(Error::invalid(
                "page.page_token",
                "belongs to a different query: repeat the same filters, or start over",
            ));
        }
        Ok(query)
    }

    /// The list to walk: the most selective index the query allows.
    fn list(&self) -> IncidentList {
        if let Some(assignee) = &self.assignee {
            if self.open_only {
                return IncidentList::OpenFor(assignee.clone());
            }
            return IncidentList::AssignedTo(assignee.clone());
        }
        if let Some(day) = &self.day {
            return IncidentList::OfDay(day.clone());
        }
        if let [status] = self.statuses.as_slice() {
            return IncidentList::InStatus(*status);
        }
        if self.open_only {
            return IncidentList::Open;
        }
        IncidentList::All
    }

    fn matches(&self, incident: &Incident, principal: &Principal) -> bool {
        let status = incident.status();
        (!self.open_only || status.is_open())
            && (self.statuses.is_empty() || self.statuses.contains(&status))
            && self.day.as_deref().is_none_or(|day| incident.day() == day)
            && self
                .assignee
                .as_ref()
                .is_none_or(|a| incident.assignments.iter().any(|x| &x.assignee == a))
            && can_see(principal, incident)
    }

    /// The page, and where the next one starts when there may be more.
    fn run(&self, store: &Store, principal: &Principal) -> Result<Paged<Incident>> {
        let page = Page::first(self.limit).after(self.after.clone());
        store.incidents(&self.list(), &page, |incident| {
            let keep = self.matches(&incident, principal);
            Ok(Visit::keep_if(keep, incident))
        })
    }
}
