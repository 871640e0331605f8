//! A journal record: one event with its sequence number, time, principal,
//! audience and the hash of the record before it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;
use crate::auth::tokens::TokenEvent;
use crate::directory::model::{Category, EntryEvent, EntryKind, Person, Place, Post, Unit};
use crate::escalation::alarm::Alarm;
use crate::escalation::clocks::Clock;
use crate::incidents::model::{IncidentEvent, Severity, Status};

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
    /// An alarm not about one incident (a post's mode switch, say).
    Alarm {
        /// Alarm id.
        id: u64,
    },
    /// The escalation policy.
    Policy {
        /// The new version.
        version: u64,
    },
    /// The roster (its shape, or one slot).
    Roster {
        /// What changed, e.g. `2026-11-23/day/post:xinhua/duty_contact`.
        what: String,
    },
    /// A handover.
    Handover {
        /// Its id.
        id: u64,
    },
    /// A roll-call.
    RollCall {
        /// Its id.
        id: u64,
    },
    /// A post's or unit's presence.
    Presence {
        /// `post:<id>` or `unit:<id>`.
        who: String,
    },
    /// A notification gateway.
    Gateway {
        /// Its id.
        id: String,
    },
    /// A search of history by phone number.
    Lookup {
        /// The number, or the last digits of one, as searched.
        phone: String,
    },
}

impl Subject {
    /// "incident", "post", ..., "token".
    pub fn kind_noun(&self) -> &'static str {
        match self {
            Subject::Incident { .. } => "incident",
            Subject::Entry { kind, .. } => kind.noun(),
            Subject::Token { .. } => "token",
            Subject::Alarm { .. } => "alarm",
            Subject::Policy { .. } => "policy",
            Subject::Roster { .. } => "roster",
            Subject::Handover { .. } => "handover",
            Subject::RollCall { .. } => "rollcall",
            Subject::Presence { .. } => "presence",
            Subject::Lookup { .. } => "lookup",
            Subject::Gateway { .. } => "gateway",
        }
    }

    /// The id people use: an incident's number, an entry's or token's id,
    /// an alarm's or policy version's number.
    pub fn display_id(&self) -> String {
        match self {
            Subject::Incident { number, .. } => number.clone(),
            Subject::Entry { id, .. } | Subject::Token { id } | Subject::Gateway { id } => {
                id.clone()
            }
            Subject::Alarm { id } | Subject::Handover { id } | Subject::RollCall { id } => {
                id.to_string()
            }
            Subject::Policy { version } => version.to_string(),
            Subject::Roster { what } => what.clone(),
            Subject::Presence { who } => who.clone(),
            Subject::Lookup { phone } => phone.clone(),
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
    Alarm(AlarmEvent),
    Policy(PolicyEvent),
    Roster(RosterEvent),
    Handover(Box<crate::rosters::handover::Handover>),
    RollCall(Box<crate::rosters::rollcall::RollCall>),
    Presence(crate::presence::PresenceChange),
    Lookup(PhoneLookup),
    Gateway(GatewayEvent),
}

/// A gateway added or removed (without its secret: see
/// [`crate::notify::gateway`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GatewayEvent {
    /// Added, or replaced (with a new secret when one was given).
    Added(crate::notify::gateway::Gateway),
    /// Removed; what it still owed goes to another gateway of its channel,
    /// or fails.
    Removed(crate::notify::gateway::Gateway),
    /// Failed attempts in a row: an attention item at the centre.
    Failing(crate::notify::gateway::Gateway),
    /// A message got through again after it was failing.
    Recovered(crate::notify::gateway::Gateway),
}

/// Who looked up which phone number (the principal is the record's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneLookup {
    /// The number, or the digits of its end, as searched.
    pub phone: String,
}

/// A change to the roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RosterEvent {
    /// Patterns or the roll-call schedule changed.
    Config(crate::rosters::model::RosterConfig),
    /// A slot was set or swapped.
    Slot {
        /// The shift.
        shift: crate::rosters::model::ShiftId,
        /// Centre or post.
        scope: crate::rosters::model::Scope,
        /// The role.
        role: crate::rosters::model::DutyRole,
        /// The slot after the change.
        slot: crate::rosters::model::Slot,
        /// A swap (rather than a plan).
        swap: bool,
    },
}

/// A change to an alarm that is not about one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlarmEvent {
    /// Raised.
    Raised(Box<Alarm>),
    /// Acknowledged.
    Acknowledged(Box<Alarm>),
    /// One of its notifications changed state.
    Notified {
        /// The alarm, with its notifications.
        alarm: Box<Alarm>,
        /// Which notification.
        key: String,
    },
}

impl AlarmEvent {
    /// The alarm after the change.
    pub fn alarm(&self) -> &Alarm {
        match self {
            AlarmEvent::Raised(alarm)
            | AlarmEvent::Acknowledged(alarm)
            | AlarmEvent::Notified { alarm, .. } => alarm,
        }
    }
}

/// A new escalation policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEvent {
    /// Its version (from 1).
    pub version: u64,
    /// Its TOML text, as given.
    pub text: String,
}

/// An incident's derived state after an event, so that watchers need not
/// fetch it: status, severity, escalation level and clocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentAfter {
    /// Status.
    pub status: Status,
    /// Severity.
    pub severity: Severity,
    /// Highest alarm level.
    pub escalation_level: u8,
    /// Running clocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// The incident is a drill (演练).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
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
            EventBody::Alarm(AlarmEvent::Raised(_)) => "alarm.raised".to_owned(),
            EventBody::Alarm(AlarmEvent::Acknowledged(_)) => "alarm.acknowledged".to_owned(),
            EventBody::Policy(_) => "policy.updated".to_owned(),
            EventBody::Roster(RosterEvent::Config(_)) => "roster.config_set".to_owned(),
            EventBody::Roster(RosterEvent::Slot { swap: false, .. }) => {
                "roster.slot_set".to_owned()
            }
            EventBody::Roster(RosterEvent::Slot { swap: true, .. }) => "roster.swapped".to_owned(),
            EventBody::Handover(h) => format!("handover.{}", h.stage().name()),
            EventBody::RollCall(_) => "rollcall.changed".to_owned(),
            EventBody::Presence(p) if p.online => "presence.online".to_owned(),
            EventBody::Presence(_) => "presence.offline".to_owned(),
            EventBody::Lookup(_) => "lookup.phone".to_owned(),
            EventBody::Alarm(AlarmEvent::Notified { .. }) => "alarm.notified".to_owned(),
            EventBody::Gateway(GatewayEvent::Added(_)) => "gateway.added".to_owned(),
            EventBody::Gateway(GatewayEvent::Removed(_)) => "gateway.removed".to_owned(),
            EventBody::Gateway(GatewayEvent::Failing(_)) => "gateway.failing".to_owned(),
            EventBody::Gateway(GatewayEvent::Recovered(_)) => "gateway.recovered".to_owned(),
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What it is about.
    pub subject: Subject,
    /// Posts and units allowed to see it (`post:xinhua`); centre roles see
    /// everything but token events, which only admins see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The event.
    pub body: EventBody,
    /// For incident events: the incident's derived state after the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentAfter>,
    /// When the client says it did this (an action sent late from a post's
    /// outbox), corrected for a skewed clock, never after `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<Timestamp>,
    /// The clock offset `reported_at` was corrected by, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_ms: Option<i64>,
    /// Hex SHA-256 of the previous record's stored bytes.
    pub prev_hash: String,
}

impl Record {
    /// The incident id, for incident events.
    pub fn incident_id(&self) -> Option<u64> {
        match &self.subject {
            Subject::Incident { id, .. } => Some(*id),
            _ => None,
        }
    }
}
