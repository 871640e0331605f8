//! `ReportService`: reads a report request, checks who may see what, and
//! builds the report off the async threads (a year's report walks a few
//! hundred thousand rollups).

use dutyroom_proto::v1 as pb;
use jiff::civil::Date;
use tonic::{Request, Response, Status};

use super::period::{Period, PeriodKind};
use super::report::{self, Ask, DEFAULT_MIN_SAMPLE, Drills, RankBy, SliceBy};
use crate::auth::principal::Role;
use crate::auth::principal_of;
use crate::engine::Engine;
use crate::error::{Error, Result};

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

/// The report a request asks for, checked.
fn ask_of(request: &pb::GetReportRequest, role: &Role) -> Result<Ask> {
    if request.from.is_empty() {
        return Err(Error::invalid("from", "is required (YYYY-MM-DD)"));
    }
    let from = date_in("from", &request.from)?;
    let kind = match pb::PeriodKind::try_from(request.period) {
        Ok(pb::PeriodKind::Unspecified) => PeriodKind::Span,
        Ok(pb::PeriodKind::Day) => PeriodKind::Day,
        Ok(pb::PeriodKind::Week) => PeriodKind::Week,
        Ok(pb::PeriodKind::Month) => PeriodKind::Month,
        Ok(pb::PeriodKind::Quarter) => PeriodKind::Quarter,
        Ok(pb::PeriodKind::Year) => PeriodKind::Year,
        Err(_) => return Err(Error::invalid("period", "is not a known period kind")),
    };
    let period = match kind {
        PeriodKind::Span => {
            let to = if request.to.is_empty() {
                from
            } else {
                date_in("to", &request.to)?
            };
            Period::span(from, to)?
        }
        kind => {
            if !request.to.is_empty() {
                return Err(Error::invalid(
                    "to",
                    "goes with a span of days, not with a period: give `from` (any day in \
                     the period) and the period, or `from` and `to`",
                ));
            }
            Period::holding(kind, from)?
        }
    };
    let drills = match pb::DrillFilter::try_from(request.drills) {
        Ok(pb::DrillFilter::Exclude) => Drills::Exclude,
        Ok(pb::DrillFilter::Include) => Drills::Include,
        Ok(pb::DrillFilter::Only) => Drills::Only,
        Err(_) => return Err(Error::invalid("drills", "is not a known drill filter")),
    };
    let slice_by = match pb::SliceBy::try_from(request.slice_by) {
        Ok(pb::SliceBy::Category) => SliceBy::Category,
        Ok(pb::SliceBy::Severity) => SliceBy::Severity,
        Ok(pb::SliceBy::Source) => SliceBy::Source,
        Ok(pb::SliceBy::Place) => SliceBy::Place,
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

#[tonic::async_trait]
impl pb::report_service_server::ReportService for ReportApi {
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
