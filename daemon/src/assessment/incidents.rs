//! Each incident's own measures (`ListIncidentMeasures`, `duty report
//! incidents`): read from the incidents received in a period — found by
//! their numbers, which begin with the day — and the clocks each keeps as
//! they stopped ([`crate::incidents::model::StoppedClock`]).

use dutyroom_proto::v1 as pb;

use super::period::{Period, day_key};
use super::report::{Drills, period_out};
use crate::error::{Error, Result};
use crate::incidents::model::{AssigneeRef, AssignmentState, Incident};
use crate::store::{Page, PageCursor, Store, Visit};

/// Rows a page holds when the request does not say, and at most.
pub const DEFAULT_PAGE: usize = 500;
/// The most rows a page holds.
pub const MAX_PAGE: usize = 5_000;
/// Incidents one page looks at before it answers (with a place to go on
/// from), so a narrow filter over a year cannot hold a call for long.
const LOOK_AT_MOST: usize = 50_000;

/// A checked request for a period's incidents.
#[derive(Debug, Clone)]
pub struct IncidentsAsk {
    /// Which days.
    pub period: Period,
    /// Drills left out, kept or alone.
    pub drills: Drills,
    /// Only the incidents this post or unit had an order for.
    pub assignee: Option<AssigneeRef>,
    /// Rows per page.
    pub page_size: usize,
    /// Where the page starts.
    pub after: Option<PageCursor>,
}

/// One page of the period's incidents, each with its measures.
pub fn list(store: &Store, ask: &IncidentsAsk) -> Result<pb::ListIncidentMeasuresReply> {
    let page = Page::first(ask.page_size)
        .after(ask.after.clone())
        .looking_at_most(LOOK_AT_MOST);
    let paged = store.incidents_received(
        &day_key(ask.period.from),
        &day_key(ask.period.to),
        &page,
        |incident| {
            let wanted = ask.drills.counts(incident.intake.drill)
                && ask
                    .assignee
                    .as_ref()
                    .is_none_or(|who| incident.assignments.iter().any(|a| &a.assignee == who));
            Ok(if wanted {
                Visit::Keep(measures(&incident))
            } else {
                Visit::Skip
            })
        },
    )?;
    Ok(pb::ListIncidentMeasuresReply {
        period: Some(period_out(&ask.period)),
        incidents: paged.items,
        next_page_token: paged.next.map(|c| c.token()).unwrap_or_default(),
    })
}

/// Reads a page token; a malformed one is refused.
pub fn cursor_of(token: &str) -> Result<Option<PageCursor>> {
    if token.is_empty() {
        return Ok(None);
    }
    PageCursor::from_token(token).map(Some).ok_or_else(|| {
        Error::invalid(
            "page_token",
            "is not a page token from this list: ask for the first page again",
        )
    })
}

/// One incident's measures.
pub fn measures(incident: &Incident) -> pb::IncidentMeasures {
    let sent_back: Vec<&crate::incidents::model::Assignment> = incident
        .assignments
        .iter()
        .filter(|a| a.state == AssignmentState::Refused)
        .collect();
    let lead = super::lead_of(incident)
        .map(|a| a.assignee.to_string())
        .unwrap_or_default();
    pb::IncidentMeasures {
        number: incident.number.clone(),
        received_at: Some(crate::convert::ts(incident.created_at)),
        drill: incident.intake.drill,
        category: incident.intake.category.clone(),
        severity: crate::convert::severity_out(incident.intake.severity) as i32,
        source: super::report::source_key(incident.intake.source),
        place_id: incident.intake.place_id.clone().unwrap_or_default(),
        status: incident.status().word().to_owned(),
        lead,
        orders: incident.assignments.len() as u32,
        sent_back: sent_back.len() as u32,
        sent_back_reasons: sent_back
            .iter()
            .map(|a| a.reason.clone().unwrap_or_default())
            .collect(),
        clocks: incident
            .stopped
            .iter()
            .map(|clock| pb::StoppedClockMeasure {
                kind: crate::convert::clock_kind_out(clock.kind) as i32,
                assignee: clock
                    .assignee
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                done: clock.secs.is_some(),
                seconds: clock.secs.unwrap_or_default(),
                in_time: clock.secs.is_some() && clock.within,
                alarms: u32::from(clock.alarms),
            })
            .collect(),
        running: incident.clocks.len() as u32,
        escalation_level: u32::from(incident.escalation_level),
        called_back: incident.closed_at.is_some(),
        satisfaction: incident.satisfaction.map_or(0, u32::from),
    }
}
