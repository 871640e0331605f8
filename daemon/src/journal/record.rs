//! A journal record: one event with its sequence number, time, principal,
//! audience and the hash of the record before it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::{Principal, Role};
use crate::auth::tokens::TokenEvent;
use crate::directory::model::{Category, EntryEvent, EntryKind, Person, Place, Post, Unit};
use crate::incidents::model::{IncidentEvent, Status};

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// An incident, by id and number.
    Incident {
        /// Internal id.
        id: u64,
        /// Readable number.
        number: String,
    },
    /// A directory entry.
    Entry {
        /// Which kind.
        kind: EntryKind,
        /// Its id.
        id: String,
    },
    /// A token (never its secret).
    Token {
        /// Token id.
        id: String,
    },
}

impl Subject {
    /// "incident", "post", ..., "token".
    pub fn kind_noun(&self) -> &'static str {
        match self {
            Subject::Incident { .. } => "incident",
            Subject::Entry { kind, .. } => kind.noun(),
            Subject::Token { .. } => "token",
        }
    }

    /// The id people use: an incident's number, an entry's or token's id.
    pub fn display_id(&self) -> &str {
        match self {
            Subject::Incident { number, .. } => number,
            Subject::Entry { id, .. } | Subject::Token { id } => id,
        }
    }
}

/// The event itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum EventBody {
    Incident(IncidentEvent),
    Post(EntryEvent<Post>),
    Unit(EntryEvent<Unit>),
    Place(EntryEvent<Place>),
    Person(EntryEvent<Person>),
    Category(EntryEvent<Category>),
    Token(TokenEvent),
}

impl EventBody {
    /// Stable dotted name, e.g. `incident.signed_for`, `post.mode_switched`.
    pub fn kind(&self) -> String {
        match self {
            EventBody::Incident(event) => event.kind().to_owned(),
            EventBody::Post(e) => format!("post.{}", e.change.verb()),
            EventBody::Unit(e) => format!("unit.{}", e.change.verb()),
            EventBody::Place(e) => format!("place.{}", e.change.verb()),
            EventBody::Person(e) => format!("person.{}", e.change.verb()),
            EventBody::Category(e) => format!("category.{}", e.change.verb()),
            EventBody::Token(e) => e.kind().to_owned(),
        }
    }
}

/// One journal entry, as stored (JSON) and hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Global, gapless, from 1.
    pub seq: u64,
    /// When it was recorded (daemon time).
    pub at: Timestamp,
    /// Who caused it.
    pub principal: Principal,
    /// The client request id of the call, if any.
    pub request_id: Option<String>,
    /// What it is about.
    pub subject: Subject,
    /// Posts and units allowed to see it (`post:xinhua`); centre roles see
    /// everything but token events, which only admins see.
    pub audience: Vec<String>,
    /// The event.
    pub body: EventBody,
    /// For incident events: the incident's status after the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Hex SHA-256 of the previous record's stored bytes.
    pub prev_hash: String,
}

impl Record {
    /// May a caller with `role` see this record?
    pub fn visible_to(&self, role: &Role) -> bool {
        match role {
            Role::Admin | Role::System => true,
            Role::Officer | Role::Leader => !matches!(self.subject, Subject::Token { .. }),
            Role::Post(_) | Role::Unit(_) => {
                let me = role.to_string();
                self.audience.contains(&me)
            }
        }
    }

    /// The incident id, for incident events.
    pub fn incident_id(&self) -> Option<u64> {
        match &self.subject {
            Subject::Incident { id, .. } => Some(*id),
            _ => None,
        }
    }
}
