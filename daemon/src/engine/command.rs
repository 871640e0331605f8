//! Commands (what a caller asks for) and outcomes (what it got).

use serde::{Deserialize, Serialize};

use crate::auth::principal::Role;
use crate::auth::tokens::TokenRecord;
use crate::directory::model::{Category, EntryKind, Person, Place, Post, PostMode, Unit};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{
    AssigneeRef, AssignmentAction, AssignmentRole, AssignmentSelector, Incident, Intake,
    IntakePatch, Severity,
};
use crate::rosters::handover::{Content as HandoverContent, Handover};
use crate::rosters::model::{
    DutyRole, Pattern, RollCallSchedule, RosterConfig, Scope as RosterScope, ShiftId, Slot,
};
use crate::rosters::rollcall::RollCall;

/// A dispatch target with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchTo {
    /// The post or unit.
    pub assignee: AssigneeRef,
    /// Lead or support.
    pub role: AssignmentRole,
}

/// Fields to change on a post; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PostPatch {
    pub id: String,
    pub name: Option<String>,
    pub district: Option<String>,
    /// `Some(None)` clears it.
    pub responsible_leader_id: Option<Option<String>>,
    pub contact: Option<String>,
}

/// Fields to change on a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UnitPatch {
    pub id: String,
    pub name: Option<String>,
    pub tier: Option<u8>,
    pub categories: Option<Vec<String>>,
    pub contact: Option<String>,
}

/// Fields to change on a place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PlacePatch {
    pub id: String,
    pub name: Option<String>,
    pub post_id: Option<String>,
}

/// Fields to change on a person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PersonPatch {
    pub id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub roles: Option<Vec<String>>,
    // Left out when not given, so that a request recorded before these
    // existed keeps its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// Fields to change on a category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CategoryPatch {
    pub code: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub default_unit_ids: Option<Vec<String>>,
}

/// Everything that changes state. Incident references are full numbers
/// (the service resolves short ones before submitting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Command {
    CreateIncident {
        intake: Intake,
        dispatch: Vec<DispatchTo>,
    },
    UpdateIncident {
        incident: String,
        patch: IntakePatch,
        reason: String,
    },
    Assign {
        incident: String,
        to: DispatchTo,
        replace_lead: bool,
    },
    /// Sign for, arrive, finish, refuse or withdraw one assignment. Without
    /// a selector, a post or unit means its own latest assignment.
    Step {
        incident: String,
        selector: Option<AssignmentSelector>,
        action: AssignmentAction,
        note: String,
    },
    AddNote {
        incident: String,
        text: String,
    },
    /// A further call about an open incident, taken at the centre.
    AddRepeatCall {
        incident: String,
        call: RepeatCallIntake,
    },
    Resolve {
        incident: String,
        outcome: String,
    },
    Close {
        incident: String,
        callback_result: String,
        satisfaction: Option<u8>,
    },
    Cancel {
        incident: String,
        reason: String,
    },
    Merge {
        incident: String,
        into: String,
    },
    Reopen {
        incident: String,
        reason: String,
    },
    CreatePost(Post),
    UpdatePost(PostPatch),
    SetPostMode {
        id: String,
        mode: PostMode,
        reason: String,
    },
    CreateUnit(Unit),
    UpdateUnit(UnitPatch),
    CreatePlace(Place),
    UpdatePlace(PlacePatch),
    CreatePerson(Person),
    UpdatePerson(PersonPatch),
    CreateCategory(Category),
    UpdateCategory(CategoryPatch),
    Retire {
        kind: EntryKind,
        id: String,
        restore: bool,
    },
    CreateToken {
        name: String,
        role: Role,
        expires_at: Option<jiff::Timestamp>,
        limits: crate::limits::TokenLimits,
    },
    RevokeToken {
        id: String,
    },
    /// Raise the alarms of every clock due now (the escalation timer's
    /// command; only the daemon itself may send it).
    FireDue,
    /// Escalate by hand: one level up, or to `to_level`.
    Escalate {
        incident: String,
        to_level: Option<u8>,
        reason: String,
    },
    /// Raise the severity one step, or to `to`.
    RaiseSeverity {
        incident: String,
        to: Option<Severity>,
        reason: String,
    },
    /// A post (or the centre) calls in units (街乡吹哨、部门报到).
    CallIn {
        incident: String,
        units: Vec<String>,
        note: String,
    },
    AcknowledgeAlarm {
        id: u64,
        note: String,
    },
    /// Replace the escalation policy (TOML), optionally only if the current
    /// version is `expected_version`.
    SetPolicy {
        text: String,
        expected_version: Option<u64>,
    },
    /// Add or replace the shift pattern from a date on.
    SetPattern(Pattern),
    /// Set (or clear, with no times) the roll-call schedule.
    SetRollCallSchedule(Option<RollCallSchedule>),
    /// Plan who fills a slot.
    SetSlot {
        shift: ShiftId,
        scope: RosterScope,
        role: DutyRole,
        people: Vec<String>,
    },
    /// Record a swap on a slot.
    Swap {
        shift: ShiftId,
        scope: RosterScope,
        role: DutyRole,
        swap: SwapRequest,
    },
    /// Import roster rows (already parsed), all or only the good ones.
    ImportRoster {
        rows: Vec<RosterRow>,
        apply_good_rows: bool,
        dry_run: bool,
    },
    /// Open (or refresh) the handover of a shift with gathered content.
    OpenHandover {
        shift: ShiftId,
        scope: RosterScope,
        content: Box<HandoverContent>,
        notes: Option<String>,
    },
    UpdateHandover {
        id: u64,
        notes: String,
    },
    SignHandover {
        id: u64,
    },
    CountersignHandover {
        id: u64,
        remarks: String,
    },
    /// Send a roll-call to posts (empty: every post).
    SendRollCall {
        posts: Vec<String>,
        answer_within: jiff::SignedDuration,
    },
    AnswerRollCall {
        id: u64,
    },
    /// A post or unit came online or went offline (from the presence
    /// registry; the system's own command).
    Presence(crate::presence::PresenceChange),
    /// Someone at the centre searched history by a phone number: recorded
    /// before the search runs (who looked up which number).
    RecordPhoneLookup {
        phone: String,
    },
    /// Add a notification gateway, or replace one; without a secret one is
    /// made.
    AddGateway {
        spec: GatewaySpec,
        secret: Option<crate::notify::gateway::Secret>,
        replace: bool,
    },
    RemoveGateway {
        id: String,
    },
    /// A gateway's callback about a notification it was sent: its new
    /// state, and/or that its person acknowledged the alarm.
    GatewayReport {
        alarm: u64,
        key: String,
        state: Option<crate::notify::outbox::DeliveryState>,
        detail: String,
        acknowledge: bool,
    },
    /// A gateway started failing (`Some(error)`) or got through again
    /// (the delivery task's own command).
    GatewayHealth {
        id: String,
        failing: Option<String>,
    },
    /// How one of an alarm's notifications fared (the delivery task's own
    /// command).
    RecordDelivery {
        alarm: u64,
        key: String,
        report: crate::engine::notify::DeliveryReport,
    },
}

/// A gateway as an administrator describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GatewaySpec {
    pub id: String,
    pub url: String,
    pub channels: Vec<crate::notify::webhook::Channel>,
    pub max_in_flight: u32,
    pub timeout_ms: u64,
    pub retry_for_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// A repeat call as the officer took it (when and by whom come from the
/// command's scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatCallIntake {
    /// Channel it came in on (the first call's when not given).
    pub source: Option<crate::incidents::model::Source>,
    /// The caller's name (may be empty).
    pub caller_name: String,
    /// The caller's phone (may be empty).
    pub caller_phone: String,
    /// What the caller said (may be empty).
    pub text: String,
}

/// A swap as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SwapRequest {
    pub replaced: String,
    pub by: String,
    pub from: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    pub asked_by: Option<String>,
    pub approved_by: Option<String>,
    pub reason: String,
}

/// One roster row from a spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RosterRow {
    pub line: u32,
    pub date: String,
    pub shift: String,
    pub role: String,
    pub post: String,
    pub person: String,
}

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Outcome {
    /// The incident after the change and the seq of the last event it caused
    /// (its current `last_seq` when nothing changed).
    Incident {
        incident: Box<Incident>,
        seq: u64,
    },
    Post(Post),
    Unit(Unit),
    Place(Place),
    Person(Person),
    Category(Category),
    /// A token; `bearer` is present only in the first answer.
    Token {
        record: TokenRecord,
        bearer: Option<String>,
    },
    Alarm(Box<Alarm>),
    Policy(PolicyRecord),
    /// How many alarms the due clocks raised.
    Fired {
        alarms: usize,
    },
    RosterConfig(RosterConfig),
    Slot {
        shift: ShiftId,
        scope: RosterScope,
        role: DutyRole,
        slot: Slot,
    },
    /// Import result: problems by line, slots written.
    Imported {
        problems: Vec<(u32, String)>,
        slots_written: u32,
        rows_ok: u32,
    },
    Handover(Box<Handover>),
    RollCall(Box<RollCall>),
    /// A gateway; `made_secret` only in the first answer, when dutyd made
    /// its secret.
    Gateway {
        gateway: Box<crate::notify::gateway::Gateway>,
        made_secret: Option<crate::notify::gateway::Secret>,
    },
    /// Recorded.
    Done,
}

/// The stored escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// From 1.
    pub version: u64,
    /// The TOML text as given.
    pub text: String,
    /// When it was set.
    pub set_at: jiff::Timestamp,
    /// Who set it.
    pub set_by: crate::auth::principal::Principal,
}

impl Outcome {
    /// The outcome as remembered for retries: without any secret.
    pub fn for_retry(&self) -> Outcome {
        match self {
            Outcome::Token { record, .. } => Outcome::Token {
                record: record.clone(),
                bearer: None,
            },
            Outcome::Gateway { gateway, .. } => Outcome::Gateway {
                gateway: gateway.clone(),
                made_secret: None,
            },
            other => other.clone(),
        }
    }
}
