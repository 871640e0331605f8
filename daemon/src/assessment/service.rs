//! `ReportService`: reads a report request, checks who may see what, and
//! builds the report off the async threads (a year's report walks a few
//! hundred thousand rollups).

use dutyroom_proto::v1 as pb;
use jiff::civil::Date;
use tonic::{Request, Response, Status};

use super::incidents::{self, IncidentsAsk};
use super::period::{Period, PeriodKind};
use super::report::{self, Ask, DEFAULT_MIN_SAMPLE, Drills, RankBy, SliceBy};
use crate::auth::principal::Role;
use crate::auth::principal_of;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::incidents::model::AssigneeRef;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The gRPC report service.
#[derive(Clone)]
pub struct ReportApi {
    engine: Engine,
}

impl ReportApi {
    /// Serves reports from `engine`'s store.
    pub fn new(engine: Engine) -> Self {
        ReportApi { engine }
    }
}

fn date_in(field: &str, text: &str) -> Result<Date> {
    text.parse::<Date>().map_err(|_| {
        Error::invalid(
            field,
            format!(
                "{:?} is not a date; write it as YYYY-MM-DD (2026-11-30)",
                crate::error::bounded(text)
            ),
        )
    })
}

/// The period a request names: `from` and `to`, or `from` and a period
/// kind.
fn period_of(from: &str, to: &str, period: i32) -> Result<Period> {
    if from.is_empty() {
        return Err(Error::invalid("from", "is required (YYYY-MM-DD)"));
    }
    let from = date_in("from", from)?;
    let kind = match pb::PeriodKind::try_from(period) {
        Ok(pb::PeriodKind::Unspecified) => PeriodKind::Span,
        Ok(pb::PeriodKind::Day) => PeriodKind::Day,
        Ok(pb::PeriodKind::Week) => PeriodKind::Week,
        Ok(pb::PeriodKind::Month) => PeriodKind::Month,
        Ok(pb::PeriodKind::Quarter) => PeriodKind::Quarter,
        Ok(pb::PeriodKind::Year) => PeriodKind::Year,
        Err(_) => return Err(Error::invalid("period", "is not a known period kind")),
    };
    match kind {
        PeriodKind::Span => {
            let to = if to.is_empty() {
                from
            } else {
                date_in("to", to)?
            };
            Period::span(from, to)
        }
        kind => {
            if !to.is_empty() {
                return Err(Error::invalid(
                    "to",
                    "goes with a span of days, not with a period: give `from` (any day in \
                     the period) and the period, or `from` and `to`",
                ));
            }
            Period::holding(kind, from)
        }
    }
}

fn drills_of(drills: i32) -> Result<Drills> {
    match pb::DrillFilter::try_from(drills) {
        Ok(pb::DrillFilter::Exclude) => Ok(Drills::Exclude),
        Ok(pb::DrillFilter::Include) => Ok(Drills::Include),
        Ok(pb::DrillFilter::Only) => Ok(Drills::Only),
        Err(_) => Err(Error::invalid("drills", "is not a known drill filter")),
    }
}

/// The report a request asks for, checked.
fn ask_of(request: &pb::GetReportRequest, role: &Role) -> Result<Ask> {
    let period = period_of(&request.from, &request.to, request.period)?;
    let drills = drills_of(request.drills)?;
    let slice_by = match pb::SliceBy::try_from(request.slice_by) {
        Ok(pb::SliceBy::Category) => SliceBy::Category,
        Ok(pb::SliceBy::Severity) => SliceBy::Severity,
        Ok(pb::SliceBy::Source) => SliceBy::Source,
        Ok(pb::SliceBy::Place) => SliceBy::Place,
        Ok(pb::SliceBy::Hour) => SliceBy::Hour,
        Ok(pb::SliceBy::Shift) => SliceBy::Shift,
        Err(_) => return Err(Error::invalid("slice_by", "is not a known way to slice")),
    };
    let rank_by = RankBy::parse(&request.rank_by).ok_or_else(|| {
        Error::invalid(
            "rank_by",
            format!(
                "{:?} is not a measure to rank by; one of {}",
                crate::error::bounded(&request.rank_by),
                RankBy::names()
            ),
        )
    })?;
    let min_sample = match request.min_sample {
        0 => DEFAULT_MIN_SAMPLE,
        n => n,
    };
    Ok(Ask {
        period,
        drills,
        slice_by,
        rank_by,
        min_sample,
        confined_to: role.confined_to(),
    })
}

/// The incidents a request asks for, checked: a post or unit gets its own
/// only, and is refused another's.
fn incidents_ask_of(
    request: &pb::ListIncidentMeasuresRequest,
    role: &Role,
) -> Result<IncidentsAsk> {
    let period = period_of(&request.from, &request.to, request.period)?;
    let drills = drills_of(request.drills)?;
    let named = if request.assignee.is_empty() {
        None
    } else {
        Some(assignee_in(&request.assignee)?)
    };
    let assignee = match (role.confined_to(), named) {
        (Some(own), Some(named)) if own != named => {
            return Err(Error::denied(format!(
                "a post or unit sees only its own incidents; leave out `assignee` or name {own}"
            )));
        }
        (Some(own), _) => Some(own),
        (None, named) => named,
    };
    let page_size = match request.page_size {
        0 => incidents::DEFAULT_PAGE,
        n => (n as usize).min(incidents::MAX_PAGE),
    };
    Ok(IncidentsAsk {
        period,
        drills,
        assignee,
        page_size,
        after: incidents::cursor_of(&request.page_token)?,
    })
}

/// `post:<id>` or `unit:<id>`.
fn assignee_in(text: &str) -> Result<AssigneeRef> {
    let refused = || {
        Error::invalid(
            "assignee",
            format!(
                "{:?} is not a post or unit; write post:<id> or unit:<id> (post:xinhua)",
                crate::error::bounded(text)
            ),
        )
    };
    match text.split_once(':') {
        Some(("post", id)) if crate::validate::is_slug(id) => Ok(AssigneeRef::post(id)),
        Some(("unit", id)) if crate::validate::is_slug(id) => Ok(AssigneeRef::unit(id)),
        _ => Err(refused()),
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for ReportApi {
    async fn list_incident_measures(
        &self,
        request: Request<pb::ListIncidentMeasuresRequest>,
    ) -> Reply<pb::ListIncidentMeasuresReply> {
        let principal = principal_of(&request)?;
        let ask = incidents_ask_of(request.get_ref(), &principal.role)?;
        let engine = self.engine.clone();
        let reply = tokio::task::spawn_blocking(move || incidents::list(engine.store(), &ask))
            .await
            .map_err(|_| Status::internal("listing the incidents stopped unexpectedly"))??;
        Ok(Response::new(reply))
    }

    async fn get_report(&self, request: Request<pb::GetReportRequest>) -> Reply<pb::Report> {
        let principal = principal_of(&request)?;
        let ask = ask_of(request.get_ref(), &principal.role)?;
        let engine = self.engine.clone();
        let report = tokio::task::spawn_blocking(move || {
            let zone = engine.time_zone().iana_name().unwrap_or("UTC").to_owned();
            report::build(engine.store(), &ask, &zone)
        })
        .await
        .map_err(|_| Status::internal("building the report stopped unexpectedly"))??;
        Ok(Response::new(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(from: &str, to: &str, period: pb::PeriodKind) -> pb::GetReportRequest {
        pb::GetReportRequest {
            from: from.into(),
            to: to.into(),
            period: period as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_request_names_its_period_or_is_told_what_to_write() {
        let month = ask_of(
            &request("2026-11-15", "", pb::PeriodKind::Month),
            &Role::Officer,
        )
        .expect("a month");
        assert_eq!(month.period.label(), "2026-11");
        assert_eq!(month.min_sample, DEFAULT_MIN_SAMPLE);
        let bad = ask_of(
            &request("30/11/2026", "", pb::PeriodKind::Month),
            &Role::Officer,
        )
        .expect_err("refused");
        assert!(bad.to_string().contains("YYYY-MM-DD"), "{bad}");
        let both = ask_of(
            &request("2026-11-01", "2026-11-30", pb::PeriodKind::Month),
            &Role::Officer,
        )
        .expect_err("refused");
        assert!(both.to_string().contains("span"), "{both}");
        let mut rank = request("2026-11-01", "", pb::PeriodKind::Day);
        rank.rank_by = "\u{1b}[2Jfastest".into();
        let bad_rank = ask_of(&rank, &Role::Officer)
            .expect_err("refused")
            .to_string();
        assert!(bad_rank.contains("composite"), "{bad_rank}");
        assert!(!bad_rank.contains('\u{1b}'), "{bad_rank:?}");
        let post = ask_of(
            &request("2026-11-01", "", pb::PeriodKind::Day),
            &Role::Post("xinhua".into()),
        )
        .expect("a post's own");
        assert_eq!(
            post.confined_to.map(|a| a.to_string()).as_deref(),
            Some("post:xinhua")
        );
    }
}
