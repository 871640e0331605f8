//! `SearchIncidents` at the gRPC edge: the request checked into a
//! [`Query`] (with messages a person can act on), the phone lookup
//! journaled before the search runs, and the page answered.

use std::collections::{HashMap, HashSet};

use dutyroom_proto::v1 as pb;

use super::search::{self, Filter, MIN_PHONE_DIGITS, Query};
use crate::auth::principal::Principal;
use crate::convert::{self, Phone};
use crate::directory::model::Place;
use crate::engine::Engine;
use crate::engine::command::Command;
use crate::error::{Error, Result};
use crate::incidents::numbering;
use crate::store::{Reader, Store};
use crate::validate;

/// How deep a place tree is followed.
const MAX_PLACE_DEPTH: usize = 16;

/// Runs a search for `principal`.
pub async fn search(
    engine: &Engine,
    principal: Principal,
    request: &pb::SearchIncidentsRequest,
) -> Result<pb::ListIncidentsReply> {
    let query = query_of(request, &principal, engine.store())?;
    let page = request.page.clone().unwrap_or_default();
    let limit = crate::incidents::service::page_limit(&page)?;
    let below = match page.page_token.trim() {
        "" => None,
        token => Some(token.parse::<u64>().map_err(|_| {
            Error::invalid(
                "page.page_token",
                "is not a token from a previous search reply",
            )
        })?),
    };
    if let Some(tail) = &query.phone_tail {
        // Who looked up which number, durable before any answer.
        let phone: String = tail.chars().rev().collect();
        engine
            .submit(principal, None, Command::RecordPhoneLookup { phone })
            .await?;
    }
    let store = engine.store().clone();
    let found = tokio::task::spawn_blocking(move || search::search(&store, &query, limit, below))
        .await
        .map_err(|_| Error::Storage("the search thread stopped unexpectedly".into()))??;
    Ok(pb::ListIncidentsReply {
        incidents: found
            .incidents
            .iter()
            .map(|i| convert::incident_out(i, Phone::Masked))
            .collect(),
        next_page_token: found
            .next_below
            .map(|id| id.to_string())
            .unwrap_or_default(),
    })
}

/// The query a request asks for, checked.
pub fn query_of(
    request: &pb::SearchIncidentsRequest,
    principal: &Principal,
    store: &Store,
) -> Result<Query> {
    validate::max_len("text", &request.text, validate::MAX_TEXT)?;
    validate::text_chars("text", &request.text)?;
    let runs: Vec<String> = search::runs(&request.text)
        .into_iter()
        .map(|run| run.into_iter().collect())
        .collect();
    let latin = !runs.is_empty()
        && request
            .text
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c.is_whitespace());
    if !latin && let Some(short) = runs.iter().find(|run| run.chars().count() < 2) {
        return Err(Error::invalid(
            "text",
            format!(
                "{short:?} is one character; each word searched needs two or more (起火, 电动车)"
            ),
        ));
    }
    let initials = latin.then(|| runs.concat());
    let runs = runs
        .into_iter()
        .filter(|run| run.chars().count() >= 2)
        .collect();
    let phone_tail = match request.phone.trim() {
        "" => None,
        phone => {
            let Some(digits) = search::phone_digits(phone, MIN_PHONE_DIGITS) else {
                return Err(Error::invalid(
                    "phone",
                    format!(
                        "{:?}: give the caller's number or its last {MIN_PHONE_DIGITS} or more digits",
                        crate::error::bounded(phone)
                    ),
                ));
            };
            if !principal.role.is_centre() {
                return Err(Error::denied(
                    "searching by phone number is for the centre; a post or unit searches its own incidents by text",
                ));
            }
            Some(digits)
        }
    };
    let day = |field: &str, text: &str| -> Result<Option<String>> {
        match text.trim() {
            "" => Ok(None),
            text => numbering::parse_day(text).map(Some).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "{:?} is not a date; write it as YYYY-MM-DD (2026-11-30)",
                        crate::error::bounded(text)
                    ),
                )
            }),
        }
    };
    let from = day("from", &request.from)?;
    let to = day("to", &request.to)?;
    if let (Some(from), Some(to)) = (&from, &to)
        && from > to
    {
        return Err(Error::invalid("to", "is before `from`"));
    }
    validate::max_len("category", &request.category, validate::MAX_NAME)?;
    let assignee = match &request.assignee {
        Some(a) => Some(convert::assignee_in("assignee", Some(a))?),
        None => None,
    };
    if let (Some(me), Some(asked)) = (principal.role.confined_to(), &assignee)
        && *asked != me
    {
        return Err(Error::denied(format!(
            "{me} may only search its own incidents, not those of {asked}"
        )));
    }
    let places = match request.place_id.trim() {
        "" => None,
        place => Some(place_and_below(store, place)?),
    };
    Ok(Query {
        runs,
        initials,
        phone_tail,
        filter: Filter {
            category: (!request.category.trim().is_empty())
                .then(|| request.category.trim().to_owned()),
            severity: match request.severity {
                0 => None,
                value => Some(convert::severity_in("severity", value)?),
            },
            source: match request.source {
                0 => None,
                value => Some(convert::source_in("source", value)?),
            },
            statuses: request
                .statuses
                .iter()
                .map(|s| convert::status_in("statuses", *s))
                .collect::<Result<Vec<_>>>()?,
            assignee,
            from,
            to,
            places,
            visible_to: principal
                .role
                .confined_to()
                .is_some()
                .then(|| principal.clone()),
        },
    })
}

/// `place` and every place below it.
fn place_and_below(store: &Store, place: &str) -> Result<HashSet<String>> {
    let places = Reader::entries::<Place>(store)?;
    if !places.iter().any(|p| p.id == place) {
        return Err(Error::invalid(
            "place_id",
            format!(
                "no place {:?}; `duty place list` shows their ids",
                crate::error::bounded(place)
            ),
        ));
    }
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in &places {
        if let Some(parent) = &p.parent_id {
            children
                .entry(parent.as_str())
                .or_default()
                .push(p.id.as_str());
        }
    }
    let mut found = HashSet::from([place.to_owned()]);
    let mut level = vec![place];
    for _ in 0..MAX_PLACE_DEPTH {
        let next: Vec<&str> = level
            .iter()
            .flat_map(|p| children.get(p).cloned().unwrap_or_default())
            .filter(|p| found.insert((*p).to_owned()))
            .collect();
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(found)
}
