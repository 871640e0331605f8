//! The incident and its assignments: pure state, commands' decisions and the
//! events that record them. No I/O; `now` is always passed in.
//!
//! Each action is split in two: a `decide_*` method checks the action against
//! the current state and returns the events it causes (or a
//! FAILED_PRECONDITION saying what state the incident is in and what is
//! allowed), and [`Incident::apply`] folds one event into the state. Applying
//! an incident's journal events in order rebuilds it exactly.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::escalation::clocks::{Clock, ClockKind};

/// National four-level severity; I is the most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// 特别重大 (red)
    I,
    /// 重大 (orange)
    II,
    /// 较大 (yellow)
    III,
    /// 一般 (blue)
    IV,
}

impl Severity {
    /// The roman numeral, as officers say it.
    pub fn label(self) -> &'static str {
        match self {
            Severity::I => "I",
            Severity::II => "II",
            Severity::III => "III",
            Severity::IV => "IV",
        }
    }
}

/// Where the call came in (三台合一 plus grid, post and sensor reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Source {
    Police110,
    Fire119,
    Medical120,
    Traffic122,
    Hotline12345,
    GridWorker,
    PostReport,
    Sensor,
    Other,
}

/// Whether an assignee is a sub-district post or a linkage unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AssigneeKind {
    /// A sub-district command post.
    Post,
    /// A linkage unit.
    Unit,
}

/// A post or unit, by id. Its text form `post:xinhua` is also its index key
/// and the audience tag of the events it may see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssigneeRef {
    /// Post or unit.
    pub kind: AssigneeKind,
    /// The post's or unit's id.
    pub id: String,
}

impl AssigneeRef {
    /// A post by id.
    pub fn post(id: &str) -> Self {
        AssigneeRef {
            kind: AssigneeKind::Post,
            id: id.to_owned(),
        }
    }

    /// A unit by id.
    pub fn unit(id: &str) -> Self {
        AssigneeRef {
            kind: AssigneeKind::Unit,
            id: id.to_owned(),
        }
    }
}

impl fmt::Display for AssigneeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AssigneeKind::Post => write!(f, "post:{}", self.id),
            AssigneeKind::Unit => write!(f, "unit:{}", self.id),
        }
    }
}

/// Lead (first-contact responsibility, 首问责任) or support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentRole {
    /// At most one active lead per incident.
    Lead,
    /// Any number of supporting assignees.
    Support,
}

/// Where one assignment's clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentState {
    /// Order sent, not yet acknowledged.
    Dispatched,
    /// Acknowledged (签收).
    SignedFor,
    /// Arrived (到场).
    OnScene,
    /// Finished its part.
    Done,
    /// Sent back by the assignee, with a reason.
    Refused,
    /// Taken back by the centre (or by cancel/merge).
    Withdrawn,
}

impl AssignmentState {
    /// Dispatched, signed for or on scene: the assignee still owes work.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AssignmentState::Dispatched | AssignmentState::SignedFor | AssignmentState::OnScene
        )
    }

    /// The assignee is part of the incident (it may see and act on it):
    /// anything but refused or withdrawn.
    pub fn is_involved(self) -> bool {
        !matches!(self, AssignmentState::Refused | AssignmentState::Withdrawn)
    }

    fn describe(self) -> &'static str {
        match self {
            AssignmentState::Dispatched => "dispatched (not yet signed for)",
            AssignmentState::SignedFor => "signed for",
            AssignmentState::OnScene => "on scene",
            AssignmentState::Done => "done",
            AssignmentState::Refused => "refused",
            AssignmentState::Withdrawn => "withdrawn",
        }
    }
}

/// One post's or unit's part in an incident, with its own clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Unique within the incident, from 1.
    pub id: u32,
    /// Who is assigned.
    pub assignee: AssigneeRef,
    /// Lead or support.
    pub role: AssignmentRole,
    /// Where its clock stands.
    pub state: AssignmentState,
    /// When the order was sent.
    pub dispatched_at: Timestamp,
    /// When it was signed for (also set by an arrival without a sign-for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<Timestamp>,
    /// When the assignee reported arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<Timestamp>,
    /// When it finished (its own finish, or the incident's resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Timestamp>,
    /// When it was refused or withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Why it was refused or withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last step was recorded by someone other than the assignee.
    pub last_step_on_behalf: bool,
}

/// A free-text note on the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When it was written.
    pub at: Timestamp,
    /// Who wrote it.
    pub author: Principal,
    /// What it says.
    pub text: String,
}

/// A further call about an incident already open (重复来电).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatCall {
    /// When it was taken.
    pub at: Timestamp,
    /// Channel it came in on.
    pub source: Source,
    /// The caller's name (may be empty).
    pub caller_name: String,
    /// The caller's phone: personal data, masked in lists.
    pub caller_phone: String,
    /// What the caller said this time (may be empty).
    pub text: String,
    /// The officer who took it.
    pub taken_by: Principal,
}

/// The fields an officer records at intake (接警).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    /// Channel the call came in on.
    pub source: Source,
    /// Reporter's name (may be empty: anonymous calls).
    pub caller_name: String,
    /// Reporter's phone: personal data, masked in lists.
    pub caller_phone: String,
    /// The address as given.
    pub address: String,
    /// The place in the territory tree, when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<String>,
    /// Category code.
    pub category: String,
    /// I to IV.
    pub severity: Severity,
    /// What happened.
    pub summary: String,
    /// Free labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A drill (演练), not a real emergency: set when the call is taken and
    /// never changed after (no patch carries it), so a real incident cannot
    /// be hidden as a drill, nor a drill counted as real.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
}

/// A change to intake fields: `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct IntakePatch {
    pub source: Option<Source>,
    pub caller_name: Option<String>,
    pub caller_phone: Option<String>,
    pub address: Option<String>,
    /// `Some(None)` clears the place.
    pub place_id: Option<Option<String>>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub summary: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Where the incident is in its life, apart from its assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Being handled: the status comes from the assignments.
    Open,
    /// Handling is over, awaiting the callback.
    Resolved,
    /// Callback done, finished (办结).
    Closed,
    /// False alarm or invalid call.
    Cancelled,
    /// A duplicate, merged into another incident.
    Merged,
}

/// The incident's status, derived from its phase and assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Status {
    New,
    Dispatched,
    Signed,
    OnScene,
    Resolved,
    Closed,
    Cancelled,
    Merged,
}

impl Status {
    /// All statuses, in order.
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::Dispatched,
        Status::Signed,
        Status::OnScene,
        Status::Resolved,
        Status::Closed,
        Status::Cancelled,
        Status::Merged,
    ];

    /// Not yet resolved, closed, cancelled or merged.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::New | Status::Dispatched | Status::Signed | Status::OnScene
        )
    }

    /// Lowercase word used in messages and index keys.
    pub fn word(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Dispatched => "dispatched",
            Status::Signed => "signed",
            Status::OnScene => "on scene",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
            Status::Merged => "merged",
        }
    }

    /// Stable one-byte code for index keys.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An incident: intake, assignments, notes and where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Internal id, from the store's own counter.
    pub id: u64,
    /// `YYYYMMDD-NNNN` from the centre's local date: what people say.
    pub number: String,
    /// Intake fields.
    pub intake: Intake,
    /// The post whose territory holds the place, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territorial_post: Option<String>,
    /// Every assignment ever made, in order; never removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<Assignment>,
    /// Notes in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Open, resolved, closed, cancelled or merged.
    pub phase: Phase,
    /// When it was resolved (cleared on reopen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// The outcome given at resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// What the reporter said on the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_result: Option<String>,
    /// 1..=5, when the reporter gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    /// Why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The incident this one was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Incidents merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// Who recorded it.
    pub created_by: Principal,
    /// Time of the last change.
    pub updated_at: Timestamp,
    /// Journal seq of the last change (set by the store when it is written).
    pub last_seq: u64,
    /// Journal seqs of every event about this incident, oldest first: its
    /// timeline (set by the store when it is written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seqs: Vec<u64>,
    /// When it was last reopened (its resolution clock restarts then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<Timestamp>,
    /// The highest alarm level raised on it.
    #[serde(default)]
    pub escalation_level: u8,
    /// Running deadlines, re-planned by the escalation planner after every
    /// change; alarms move them up the ladder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// Clocks that have stopped, oldest first, as they stood then: what the
    /// incident's own assessment reads once the running clock is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<StoppedClock>,
    /// Further calls about it while open, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeat_calls: Vec<RepeatCall>,
}

/// A clock as it stopped: how long its wait took, and whether the deadline
/// it carried then was met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedClock {
    /// What it counted down to.
    pub kind: ClockKind,
    /// Whose clock (the lead's for resolution; none if nobody led).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<AssigneeRef>,
    /// Seconds from its start to what it waited for; none when it stopped
    /// without it (sent back, withdrawn, cancelled, merged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secs: Option<u64>,
    /// Done by the deadline it carried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub within: bool,
    /// Alarms it had raised (0: never overdue).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub alarms: u8,
}

fn is_zero(value: &u8) -> bool {
    *value == 0
}

/// What one step did to an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Assigned (dispatch order sent).
    Dispatched,
    /// Signed for.
    SignedFor,
    /// Arrived on scene.
    Arrived,
    /// Finished its part.
    Finished,
    /// Refused by the assignee.
    Refused,
    /// Withdrawn by the centre.
    Withdrawn,
}

/// A fact about one incident, as recorded in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IncidentEvent {
    /// Recorded at intake: the whole new incident.
    Created {
        /// The incident as created.
        incident: Box<Incident>,
    },
    /// Intake fields changed.
    IntakeUpdated {
        /// Names of the fields that changed.
        changed: Vec<String>,
        /// The whole intake after the change.
        intake: Intake,
        /// The territorial post after the change.
        territorial_post: Option<String>,
        /// Why.
        reason: String,
    },
    /// An assignment was made or moved on.
    Assignment {
        /// What happened.
        step: Step,
        /// The assignment after the step.
        assignment: Assignment,
        /// Recorded by someone other than the assignee.
        on_behalf: bool,
        /// Remark or reason given with the step.
        note: String,
    },
    /// A note was added.
    NoteAdded {
        /// The note.
        note: Note,
    },
    /// Someone called again about it (重复来电).
    RepeatCalled {
        /// The call.
        call: RepeatCall,
    },
    /// Handling is over: every active assignment is done.
    Resolved {
        /// The outcome.
        outcome: String,
    },
    /// The callback was made and the incident is finished.
    Closed {
        /// What the reporter said.
        callback_result: String,
        /// 1..=5, if given.
        satisfaction: Option<u8>,
    },
    /// Cancelled: every active assignment is withdrawn.
    Cancelled {
        /// Why.
        reason: String,
    },
    /// This incident was merged into another: active assignments withdrawn.
    MergedInto {
        /// The other incident's number.
        into: String,
    },
    /// Another incident was merged into this one.
    Absorbed {
        /// The other incident's number.
        from: String,
    },
    /// Reopened from resolved, closed or cancelled.
    Reopened {
        /// Why.
        reason: String,
    },
    /// An alarm was raised about this incident (a missed deadline, or by hand).
    Alarmed {
        /// The alarm.
        alarm: Box<Alarm>,
        /// The clock that ran out, if any: (kind, assignment).
        clock: Option<(ClockKind, Option<u32>)>,
        /// When that clock's next alarm follows.
        next_alarm: Option<Timestamp>,
    },
    /// An alarm about this incident was acknowledged.
    AlarmAcknowledged {
        /// The alarm, with who and when.
        alarm: Box<Alarm>,
    },
    /// A text or call about one of this incident's alarms changed state
    /// (sent, delivered, read, failed, cancelled).
    AlarmNotified {
        /// The alarm, with its notifications.
        alarm: Box<Alarm>,
        /// Which notification.
        key: String,
    },
    /// The severity was raised (by the ladder or by hand).
    SeverityRaised {
        /// Before.
        from: Severity,
        /// After.
        to: Severity,
        /// Why.
        reason: String,
    },
    /// The clocks changed without any other change (a post's mode switched,
    /// say); the new clocks are in the record's incident state.
    ClocksChanged {
        /// Why.
        reason: String,
    },
}

impl IncidentEvent {
    /// Stable dotted name for clients (`incident.signed_for`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            IncidentEvent::Created { .. } => "incident.created",
            IncidentEvent::IntakeUpdated { .. } => "incident.updated",
            IncidentEvent::Assignment { step, .. } => match step {
                Step::Dispatched => "incident.assigned",
                Step::SignedFor => "incident.signed_for",
                Step::Arrived => "incident.arrived",
                Step::Finished => "incident.finished",
                Step::Refused => "incident.refused",
                Step::Withdrawn => "incident.unassigned",
            },
            IncidentEvent::NoteAdded { .. } => "incident.note_added",
            IncidentEvent::RepeatCalled { .. } => "incident.repeat_call",
            IncidentEvent::Resolved { .. } => "incident.resolved",
            IncidentEvent::Closed { .. } => "incident.closed",
            IncidentEvent::Cancelled { .. } => "incident.cancelled",
            IncidentEvent::MergedInto { .. } => "incident.merged_into",
            IncidentEvent::Absorbed { .. } => "incident.absorbed",
            IncidentEvent::Reopened { .. } => "incident.reopened",
            IncidentEvent::Alarmed { .. } => "incident.escalated",
            IncidentEvent::AlarmAcknowledged { .. } => "incident.alarm_acknowledged",
            IncidentEvent::AlarmNotified { .. } => "incident.alarm_notified",
            IncidentEvent::SeverityRaised { .. } => "incident.severity_raised",
            IncidentEvent::ClocksChanged { .. } => "incident.clocks_changed",
        }
    }
}

/// Which assignment an action names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssignmentSelector {
    /// By id within the incident.
    Id(u32),
    /// The assignee's current (latest) assignment.
    Assignee(AssigneeRef),
}

/// A per-assignment action, for [`Incident::decide_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssignmentAction {
    /// Sign for the order.
    SignFor,
    /// Report arrival.
    Arrive,
    /// Finish a supporting part.
    Finish,
    /// Send the order back (needs a reason).
    Refuse,
    /// Withdraw the assignment (needs a reason).
    Unassign,
}

impl AssignmentAction {
    fn verb(self) -> &'static str {
        match self {
            AssignmentAction::SignFor => "sign for",
            AssignmentAction::Arrive => "report arrival on",
            AssignmentAction::Finish => "finish",
            AssignmentAction::Refuse => "refuse",
            AssignmentAction::Unassign => "withdraw",
        }
    }
}

impl Incident {
    /// A new incident, as recorded at intake.
    pub fn new(
        id: u64,
        number: String,
        intake: Intake,
        territorial_post: Option<String>,
        now: Timestamp,
        by: &Principal,
    ) -> Self {
        Incident {
            id,
            number,
            intake,
            territorial_post,
            assignments: Vec::new(),
            notes: Vec::new(),
            phase: Phase::Open,
            resolved_at: None,
            outcome: None,
            closed_at: None,
            callback_result: None,
            satisfaction: None,
            cancel_reason: None,
            merged_into: None,
            merged_from: Vec::new(),
            created_at: now,
            created_by: by.clone(),
            updated_at: now,
            last_seq: 0,
            seqs: Vec::new(),
            reopened_at: None,
            escalation_level: 0,
            clocks: Vec::new(),
            stopped: Vec::new(),
            repeat_calls: Vec::new(),
        }
    }

    /// The status, derived from the phase and the assignments: while open,
    /// the furthest any active assignment has got.
    pub fn status(&self) -> Status {
        match self.phase {
            Phase::Resolved => Status::Resolved,
            Phase::Closed => Status::Closed,
            Phase::Cancelled => Status::Cancelled,
            Phase::Merged => Status::Merged,
            Phase::Open => {
                let mut status = Status::New;
                for assignment in &self.assignments {
                    let reached = match assignment.state {
                        AssignmentState::Dispatched => Status::Dispatched,
                        AssignmentState::SignedFor => Status::Signed,
                        AssignmentState::OnScene => Status::OnScene,
                        _ => continue,
                    };
                    status = status.max(reached);
                }
                status
            }
        }
    }

    /// The local day (`YYYYMMDD`) the incident was recorded on.
    pub fn day(&self) -> &str {
        self.number.split('-').next().unwrap_or(&self.number)
    }

    /// The active lead assignment, if any.
    pub fn active_lead(&self) -> Option<&Assignment> {
        self.assignments
            .iter()
            .find(|a| a.role == AssignmentRole::Lead && a.state.is_active())
    }

    /// Posts and units involved in the incident (not refused or withdrawn).
    pub fn involved(&self) -> impl Iterator<Item = &AssigneeRef> {
        self.assignments
            .iter()
            .filter(|a| a.state.is_involved())
            .map(|a| &a.assignee)
    }

    /// Is `assignee` involved (may it see this incident)?
    pub fn involves(&self, assignee: &AssigneeRef) -> bool {
        self.involved().any(|a| a == assignee)
    }

    /// Finds the assignment an action names.
    pub fn assignment(&self, selector: &AssignmentSelector) -> Result<&Assignment> {
        let found = match selector {
            AssignmentSelector::Id(id) => self.assignments.iter().find(|a| a.id == *id),
            AssignmentSelector::Assignee(assignee) => self
                .assignments
                .iter()
                .rev()
                .find(|a| &a.assignee == assignee),
        };
        found.ok_or_else(|| {
            let which = match selector {
                AssignmentSelector::Id(id) => format!("assignment {id}"),
                AssignmentSelector::Assignee(assignee) => format!("an assignment for {assignee}"),
            };
            Error::NotFound(format!("incident {} has no {which}", self.number))
        })
    }

    fn require_open(&self, action: &str) -> Result<()> {
        if self.phase == Phase::Open {
            return Ok(());
        }
        let hint = match self.phase {
            Phase::Merged => format!(
                "; act on {} instead",
                self.merged_into
                    .as_deref()
                    .unwrap_or("the incident it was merged into")
            ),
            _ => "; reopen it first".to_owned(),
        };
        Err(Error::precondition(format!(
            "incident {} is {}: {action} needs it open (new, dispatched, signed or on scene){hint}",
            self.number,
            self.status().word()
        )))
    }

    /// Decides an intake change. No event when nothing differs.
    pub fn decide_update(
        &self,
        patch: &IntakePatch,
        territorial_post: Option<Option<String>>,
        reason: &str,
    ) -> Result<Vec<IncidentEvent>> {
        if matches!(self.phase, Phase::Closed | Phase::Merged | Phase::Cancelled) {
            return Err(Error::precondition(format!(
                "incident {} is {}: intake fields can be changed while it is open or resolved",
                self.number,
                self.status().word()
            )));
        }
        let mut intake = self.intake.clone();
        let mut changed = Vec::new();
        macro_rules! set {
            ($field:ident) => {
                if let Some(value) = &patch.$field {
                    if intake.$field != *value {
                        intake.$field = value.clone();
                        changed.push(stringify!($field).to_owned());
                    }
                }
            };
        }
        set!(source);
        set!(caller_name);
        set!(caller_phone);
        set!(address);
        set!(place_id);
        set!(category);
        set!(severity);
        set!(summary);
        set!(tags);
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let territorial_post = territorial_post.unwrap_or_else(|| self.territorial_post.clone());
        Ok(vec![IncidentEvent::IntakeUpdated {
            changed,
            intake,
            territorial_post,
            reason: reason.to_owned(),
        }])
    }

    /// Decides a dispatch to `assignee`. With `replace_lead`, an active lead
    /// is withdrawn first; without it a second lead is refused.
    pub fn decide_assign(
        &self,
        assignee: &AssigneeRef,
        role: AssignmentRole,
        replace_lead: bool,
        now: Timestamp,
    ) -> Result<Vec<IncidentEvent>> {
        self.require_open("dispatch")?;
        if let Some(existing) = self
            .assignments
            .iter()
            .find(|a| &a.assignee == assignee && a.state.is_active())
        {
            return Err(Error::AlreadyExists(format!(
                "{assignee} already has active assignment {} on incident {} ({}); \
                 withdraw it first to change its role",
                existing.id,
                self.number,
                existing.state.describe()
            )));
        }
        let mut events = Vec::new();
        if role == AssignmentRole::Lead
            && let Some(lead) = self.active_lead()
        {
            if !replace_lead {
                return Err(Error::precondition(format!(
                    "incident {} already has lead {} (assignment {}): assign as support, \
                     or replace the lead",
                    self.number, lead.assignee, lead.id
                )));
            }
            let mut withdrawn = lead.clone();
            withdrawn.state = AssignmentState::Withdrawn;
            withdrawn.ended_at = Some(now);
            withdrawn.reason = Some(format!("lead re-assigned to {assignee}"));
            withdrawn.last_step_on_behalf = false;
            events.push(IncidentEvent::Assignment {
                step: Step::Withdrawn,
                assignment: withdrawn,
                on_behalf: false,
                note: format!("lead re-assigned to {assignee}"),
            });
        }
        let id = self.assignments.iter().map(|a| a.id).max().unwrap_or(0) + 1;
        events.push(IncidentEvent::Assignment {
            step: Step::Dispatched,
            assignment: Assignment {
                id,
                assignee: assignee.clone(),
                role,
                state: AssignmentState::Dispatched,
                dispatched_at: now,
                signed_at: None,
                arrived_at: None,
                done_at: None,
                ended_at: None,
                reason: None,
                last_step_on_behalf: false,
            },
            on_behalf: false,
            note: String::new(),
        });
        Ok(events)
    }

    /// Decides a step on one assignment: sign for, arrive, finish, refuse or
    /// withdraw. `by` tells whether the assignee acts itself or someone does
    /// it on its behalf. Refuse and withdraw need a reason in `note`.
    pub fn decide_step(
        &self,
        selector: &AssignmentSelector,
        action: AssignmentAction,
        note: &str,
        by: &Principal,
        now: Timestamp,
    ) -> Result<Vec<IncidentEvent>> {
        self.require_open(action.verb())?;
        let current = self.assignment(selector)?;
        // A step reported late (from a post's outbox, its clock corrected)
        // may not precede the steps it follows.
        let now = [
            Some(current.dispatched_at),
            current.signed_at,
            current.arrived_at,
        ]
        .into_iter()
        .flatten()
        .fold(now, Timestamp::max);
        let mut next = current.clone();
        let refuse = |allowed: &str| {
            Error::precondition(format!(
                "assignment {} ({}) on incident {} is {}: can only {} an assignment that is {allowed}",
                current.id,
                current.assignee,
                self.number,
                current.state.describe(),
                action.verb()
            ))
        };
        let step = match action {
            AssignmentAction::SignFor => {
                if current.state != AssignmentState::Dispatched {
                    return Err(refuse("dispatched"));
                }
                next.state = AssignmentState::SignedFor;
                next.signed_at = Some(now);
                Step::SignedFor
            }
            AssignmentAction::Arrive => {
                if !matches!(
                    current.state,
                    AssignmentState::Dispatched | AssignmentState::SignedFor
                ) {
                    return Err(refuse("dispatched or signed for"));
                }
                // Arriving without a sign-for counts as both: nobody at the
                // scene should be blocked by a missed acknowledgement.
                next.signed_at.get_or_insert(now);
                next.state = AssignmentState::OnScene;
                next.arrived_at = Some(now);
                Step::Arrived
            }
            AssignmentAction::Finish => {
                if current.role == AssignmentRole::Lead {
                    return Err(Error::precondition(format!(
                        "assignment {} ({}) is the lead on incident {}: the lead finishes \
                         by resolving the incident",
                        current.id, current.assignee, self.number
                    )));
                }
                if !matches!(
                    current.state,
                    AssignmentState::SignedFor | AssignmentState::OnScene
                ) {
                    return Err(refuse("signed for or on scene"));
                }
                next.state = AssignmentState::Done;
                next.done_at = Some(now);
                Step::Finished
            }
            AssignmentAction::Refuse => {
                if !matches!(
                    current.state,
                    AssignmentState::Dispatched | AssignmentState::SignedFor
                ) {
                    return Err(refuse("dispatched or signed for"));
                }
                next.state = AssignmentState::Refused;
                next.ended_at = Some(now);
                next.reason = Some(note.to_owned());
                Step::Refused
            }
            AssignmentAction::Unassign => {
                if !current.state.is_active() {
                    return Err(refuse("dispatched, signed for or on scene"));
                }
                next.state = AssignmentState::Withdrawn;
                next.ended_at = Some(now);
                next.reason = Some(note.to_owned());
                Step::Withdrawn
            }
        };
        let on_behalf = !by.is(&current.assignee);
        next.last_step_on_behalf = on_behalf;
        Ok(vec![IncidentEvent::Assignment {
            step,
            assignment: next,
            on_behalf,
            note: note.to_owned(),
        }])
    }

    /// Decides a note. Notes are allowed in every phase.
    pub fn decide_note(&self, text: &str, by: &Principal, now: Timestamp) -> Vec<IncidentEvent> {
        vec![IncidentEvent::NoteAdded {
            note: Note {
                at: now,
                author: by.clone(),
                text: text.to_owned(),
            },
        }]
    }

    /// Decides a repeat call: only while the incident is being handled (a
    /// resolved one is reopened, a merged one named by what absorbed it).
    pub fn decide_repeat_call(&self, call: RepeatCall) -> Result<Vec<IncidentEvent>> {
        // A merged incident names what absorbed it (attach there).
        if self.phase == Phase::Merged {
            self.require_open("attach a repeat call to")?;
        }
        // Mid-call, "reopen it first" is the wrong advice: the call is news.
        if self.phase != Phase::Open {
            return Err(Error::precondition(format!(
                "incident {} is {}: a repeat call attaches only to an open incident; \
                 take this call as a new one",
                self.number,
                self.status().word()
            )));
        }
        Ok(vec![IncidentEvent::RepeatCalled { call }])
    }

    /// Decides a resolution.
    pub fn decide_resolve(&self, outcome: &str) -> Result<Vec<IncidentEvent>> {
        self.require_open("resolve")?;
        Ok(vec![IncidentEvent::Resolved {
            outcome: outcome.to_owned(),
        }])
    }

    /// Decides a close after the callback.
    pub fn decide_close(
        &self,
        callback_result: &str,
        satisfaction: Option<u8>,
    ) -> Result<Vec<IncidentEvent>> {
        if self.phase != Phase::Resolved {
            return Err(Error::precondition(format!(
                "incident {} is {}: only a resolved incident can be closed",
                self.number,
                self.status().word()
            )));
        }
        if let Some(score) = satisfaction
            && !(1..=5).contains(&score)
        {
            return Err(Error::invalid(
                "satisfaction",
                format!("must be 1 to 5, or 0 when not given (got {score})"),
            ));
        }
        Ok(vec![IncidentEvent::Closed {
            callback_result: callback_result.to_owned(),
            satisfaction,
        }])
    }

    /// Decides a cancellation.
    pub fn decide_cancel(&self, reason: &str) -> Result<Vec<IncidentEvent>> {
        self.require_open("cancel")?;
        Ok(vec![IncidentEvent::Cancelled {
            reason: reason.to_owned(),
        }])
    }

    /// Decides merging this incident (a duplicate) into `target`. Returns the
    /// events for this incident and for the target.
    pub fn decide_merge(
        &self,
        target: &Incident,
    ) -> Result<(Vec<IncidentEvent>, Vec<IncidentEvent>)> {
        if self.id == target.id {
            return Err(Error::invalid(
                "into",
                "an incident cannot be merged into itself",
            ));
        }
        if !matches!(self.phase, Phase::Open | Phase::Resolved) {
            return Err(Error::precondition(format!(
                "incident {} is {}: only an open or resolved incident can be merged",
                self.number,
                self.status().word()
            )));
        }
        if matches!(target.phase, Phase::Merged | Phase::Cancelled) {
            let hint = target
                .merged_into
                .as_deref()
                .map(|n| format!("; merge into {n} instead"))
                .unwrap_or_default();
            return Err(Error::precondition(format!(
                "incident {} is {}: cannot merge into it{hint}",
                target.number,
                target.status().word()
            )));
        }
        Ok((
            vec![IncidentEvent::MergedInto {
                into: target.number.clone(),
            }],
            vec![IncidentEvent::Absorbed {
                from: self.number.clone(),
            }],
        ))
    }

    /// Decides a reopen.
    pub fn decide_reopen(&self, reason: &str) -> Result<Vec<IncidentEvent>> {
        if !matches!(
            self.phase,
            Phase::Resolved | Phase::Closed | Phase::Cancelled
        ) {
            return Err(Error::precondition(format!(
                "incident {} is {}: only a resolved, closed or cancelled incident can be reopened",
                self.number,
                self.status().word()
            )));
        }
        Ok(vec![IncidentEvent::Reopened {
            reason: reason.to_owned(),
        }])
    }

    /// Folds one event into the state. `at` is the event's time.
    pub fn apply(&mut self, event: &IncidentEvent, at: Timestamp) {
        self.updated_at = at;
        match event {
            IncidentEvent::Created { incident } => {
                *self = (**incident).clone();
            }
            IncidentEvent::IntakeUpdated {
                intake,
                territorial_post,
                ..
            } => {
                self.intake = intake.clone();
                self.territorial_post = territorial_post.clone();
            }
            IncidentEvent::Assignment { assignment, .. } => {
                match self.assignments.iter_mut().find(|a| a.id == assignment.id) {
                    Some(slot) => *slot = assignment.clone(),
                    None => self.assignments.push(assignment.clone()),
                }
            }
            IncidentEvent::NoteAdded { note } => self.notes.push(note.clone()),
            IncidentEvent::RepeatCalled { call } => self.repeat_calls.push(call.clone()),
            IncidentEvent::Resolved { outcome } => {
                self.phase = Phase::Resolved;
                self.resolved_at = Some(at);
                self.outcome = Some(outcome.clone());
                for assignment in self.assignments.iter_mut().filter(|a| a.state.is_active()) {
                    assignment.state = AssignmentState::Done;
                    assignment.done_at = Some(at);
                }
            }
            IncidentEvent::Closed {
                callback_result,
                satisfaction,
            } => {
                self.phase = Phase::Closed;
                self.closed_at = Some(at);
                self.callback_result = Some(callback_result.clone());
                self.satisfaction = *satisfaction;
            }
            IncidentEvent::Cancelled { reason } => {
                self.phase = Phase::Cancelled;
                self.cancel_reason = Some(reason.clone());
                self.withdraw_active(at, &format!("incident cancelled: {reason}"));
            }
            IncidentEvent::MergedInto { into } => {
                self.phase = Phase::Merged;
                self.merged_into = Some(into.clone());
                self.withdraw_active(at, &format!("merged into {into}"));
            }
            IncidentEvent::Absorbed { from } => {
                if !self.merged_from.contains(from) {
                    self.merged_from.push(from.clone());
                }
            }
            IncidentEvent::Reopened { .. } => {
                self.phase = Phase::Open;
                self.reopened_at = Some(at);
                self.resolved_at = None;
                self.outcome = None;
                self.closed_at = None;
                self.callback_result = None;
                self.satisfaction = None;
                self.cancel_reason = None;
            }
            IncidentEvent::Alarmed {
                alarm,
                clock,
                next_alarm,
            } => {
                self.escalation_level = self.escalation_level.max(alarm.level);
                if let Some((kind, assignment)) = clock
                    && let Some(running) = self
                        .clocks
                        .iter_mut()
                        .find(|c| c.kind == *kind && c.assignment == *assignment)
                {
                    running.alarms = alarm.level;
                    running.next_alarm = *next_alarm;
                }
            }
            IncidentEvent::AlarmAcknowledged { .. }
            | IncidentEvent::AlarmNotified { .. }
            | IncidentEvent::ClocksChanged { .. } => {}
            IncidentEvent::SeverityRaised { to, .. } => self.intake.severity = *to,
        }
    }

    /// Decides a severity raise: to `to`, or one step up when `None`.
    pub fn decide_raise_severity(
        &self,
        to: Option<Severity>,
        reason: &str,
    ) -> Result<Vec<IncidentEvent>> {
        self.require_open("raise severity")?;
        let from = self.intake.severity;
        let to = match to {
            Some(to) => to,
            None => match from {
                Severity::IV => Severity::III,
                Severity::III => Severity::II,
                Severity::II | Severity::I => Severity::I,
            },
        };
        if to >= from {
            return Err(Error::precondition(format!(
                "incident {} is already severity {}: raising means towards I (most serious)",
                self.number,
                from.label()
            )));
        }
        Ok(vec![IncidentEvent::SeverityRaised {
            from,
            to,
            reason: reason.to_owned(),
        }])
    }

    fn withdraw_active(&mut self, at: Timestamp, reason: &str) {
        for assignment in self.assignments.iter_mut().filter(|a| a.state.is_active()) {
            assignment.state = AssignmentState::Withdrawn;
            assignment.ended_at = Some(at);
            assignment.reason = Some(reason.to_owned());
        }
    }
}

/// Masks a phone number for lists: `13812345678` → `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_end = 4;
    let keep_start = if chars.len() >= 11 { 3 } else { 0 };
    let hidden = chars.len() - keep_start - keep_end;
    let mut masked: String = chars[..keep_start].iter().collect();
    masked.push_str(&"*".repeat(hidden));
    masked.extend(&chars[chars.len() - keep_end..]);
    masked
}

#[cfg(test)]
mod tests;
