//! `FindRelated`: what the centre already knows about a call being taken —
//! how often its number rang lately and the open incidents it called
//! about, and open incidents of the same category at the same place — so
//! a repeat call is attached, not taken twice.

use std::collections::BTreeMap;

use dutyroom_proto::v1 as pb;

use super::search::{self, Filter, Query};
use crate::auth::principal::Principal;
use crate::convert::{self, Phone};
use crate::engine::Engine;
use crate::engine::command::Command;
use crate::error::{Error, Result};
use crate::incidents::model::Incident;
use crate::incidents::numbering;
use crate::store::{IncidentList, Page, Store, Visit};
use crate::validate;

/// How far back a number's calls are counted.
pub const CALLS_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(30 * 24);

/// Incidents a number's count reads at most (a number calling more than
/// this in a month is shown as "at least").
const COUNT_AT_MOST: usize = 500;

/// Fewest digits a phone lookup at intake takes: a whole number.
pub const MIN_DIGITS: usize = 7;

/// Open incidents listed per kind, at most.
const LIST_AT_MOST: usize = 20;

/// Answers `FindRelated` for `principal`.
pub async fn find_related(
    engine: &Engine,
    principal: Principal,
    request: &pb::FindRelatedRequest,
) -> Result<pb::FindRelatedReply> {
    if !principal.role.is_centre() {
        return Err(Error::denied(
            "looking up a caller's history is for the centre, where calls are taken",
        ));
    }
    let phone = match request.phone.trim() {
        "" => None,
        phone => {
            let Some(digits) = search::phone_digits(phone, MIN_DIGITS) else {
                return Err(Error::invalid(
                    "phone",
                    format!(
                        "{:?}: give the caller's whole number ({MIN_DIGITS} to 20 digits)",
                        crate::error::bounded(phone)
                    ),
                ));
            };
            Some(digits)
        }
    };
    validate::max_len("place_id", &request.place_id, validate::MAX_NAME)?;
    validate::max_len("category", &request.category, validate::MAX_NAME)?;
    let place = request.place_id.trim().to_owned();
    let category = request.category.trim().to_owned();
    if phone.is_none() && (place.is_empty() || category.is_empty()) {
        return Err(Error::invalid(
            "phone",
            "give the caller's number, or both place_id and category",
        ));
    }
    if let Some(tail) = &phone {
        // Who looked up which number, durable before any answer.
        let phone: String = tail.chars().rev().collect();
        engine
            .submit(principal, None, Command::RecordPhoneLookup { phone })
            .await?;
    }
    let store = engine.store().clone();
    let now = engine.now();
    let tz = engine.time_zone().clone();
    let asked = Asked {
        phone,
        place,
        category,
    };
    tokio::task::spawn_blocking(move || related(&store, &asked, now, &tz))
        .await
        .map_err(|_| Error::Storage("the lookup thread stopped unexpectedly".into()))?
}

/// What a lookup asks, checked.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// The caller's digits, reversed.
    pub phone: Option<String>,
    /// A place id (with `category`: same-place duplicates).
    pub place: String,
    /// A category code.
    pub category: String,
}

/// The lookup itself, at `now`.
pub fn related(
    store: &Store,
    asked: &Asked,
    now: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Result<pb::FindRelatedReply> {
    let since = now - CALLS_WINDOW;
    let mut reply = pb::FindRelatedReply::default();
    // The open board is small: read it whole.
    let open = store.incidents(&IncidentList::Open, &Page::all(), |i| Ok(Visit::Keep(i)))?;
    let mut open: Vec<Incident> = open.items;
    open.sort_by_key(|i| std::cmp::Reverse(i.id));
    let mut counted: BTreeMap<u64, u32> = BTreeMap::new();
    if let Some(tail) = &asked.phone {
        let query = Query {
            phone_tail: Some(tail.clone()),
            filter: Filter {
                from: Some(numbering::local_day(since, tz)),
                ..Filter::default()
            },
            ..Query::default()
        };
        let mut below = None;
        let mut read = 0;
        'pages: loop {
            let found = search::search(store, &query, 100, below)?;
            for incident in &found.incidents {
                // The index finds numbers by their end: keep this number.
                let calls = calls_from(incident, tail, since);
                if calls > 0 {
                    counted.insert(incident.id, calls);
                }
                read += 1;
                if read >= COUNT_AT_MOST {
                    reply.calls_capped = true;
                    break 'pages;
                }
            }
            match found.next_below {
                Some(next) => below = Some(next),
                None => break,
            }
        }
        for incident in &open {
            if search::phones(incident).any(|p| search::same_number(p, tail)) {
                // An open incident received before the window may still
                // have been called about within it.
                counted
                    .entry(incident.id)
                    .or_insert_with(|| calls_from(incident, tail, since));
                if reply.open_from_phone.len() < LIST_AT_MOST {
                    reply
                        .open_from_phone
                        .push(convert::incident_out(incident, Phone::Full));
                }
            }
        }
        reply.calls_last_30_days = counted.values().sum();
    }
    if !asked.place.is_empty() && !asked.category.is_empty() {
        let listed: Vec<u64> = reply.open_from_phone.iter().map(|i| i.id).collect();
        reply.open_same_place = open
            .iter()
            .filter(|i| {
                i.intake.place_id.as_deref() == Some(asked.place.as_str())
                    && i.intake.category == asked.category
                    && !listed.contains(&i.id)
            })
            .take(LIST_AT_MOST)
            .map(|i| convert::incident_out(i, Phone::Masked))
            .collect();
    }
    Ok(reply)
}

/// Calls from the number ending `tail` about `incident` since `since`: its
/// intake and its repeat calls.
fn calls_from(incident: &Incident, tail: &str, since: jiff::Timestamp) -> u32 {
    let intake = u32::from(
        incident.created_at >= since && search::same_number(&incident.intake.caller_phone, tail),
    );
    let repeats = incident
        .repeat_calls
        .iter()
        .filter(|c| c.at >= since && search::same_number(&c.caller_phone, tail))
        .count();
    intake + u32::try_from(repeats).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::model::RepeatCall;

    fn day(n: i64) -> jiff::Timestamp {
        jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(24 * n)
    }

    #[test]
    fn a_number_counts_each_of_its_calls_within_the_window_only() {
        let mut incident = crate::store::fixtures::incident(1, "19700101-0001", "冒烟", None);
        incident.created_at = day(0);
        incident.intake.caller_phone = "139-0000-1111".into();
        let repeat = |at, phone: &str| RepeatCall {
            at,
            source: incident.intake.source,
            caller_name: String::new(),
            caller_phone: phone.into(),
            text: String::new(),
            taken_by: Principal::system(),
        };
        incident.repeat_calls = vec![
            repeat(day(20), "13900001111"),
            repeat(day(35), "13900001111"),
            repeat(day(36), "13700002222"),
            repeat(day(37), "+86 139 0000 1111"),
        ];
        let tail = search::reversed_digits("13900001111");
        // At day 40 the window starts at day 10: the intake (day 0) is out.
        let since = day(40) - CALLS_WINDOW;
        assert_eq!(calls_from(&incident, &tail, since), 3);
        // From the start: the intake too, never the other number.
        assert_eq!(calls_from(&incident, &tail, day(0)), 4);
        let other = search::reversed_digits("13700002222");
        assert_eq!(calls_from(&incident, &other, day(0)), 1);
    }
}
