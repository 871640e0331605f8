//! Handover (交接班): a record of the shift built from live state at shift
//! change, plus free text; signed out by the outgoing officer, counter-signed
//! by the incoming one, and immutable from then on.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{AssigneeRef, Severity};
use crate::rosters::model::ShiftId;

/// An open incident at handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct IncidentLine {
    pub number: String,
    pub severity: Severity,
    pub category: String,
    pub status: String,
    pub summary: String,
    pub lead: Option<String>,
}

/// A dispatch still waiting for its sign-for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PendingDispatch {
    pub number: String,
    pub assignee: AssigneeRef,
    pub dispatched_at: Timestamp,
}

/// A clock past its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OverdueClock {
    pub number: String,
    pub clock: String,
    pub due: Timestamp,
    pub alarms: u8,
}

/// A post's mode switch during the shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ModeChange {
    pub post: String,
    pub mode: String,
    pub reason: String,
    pub at: Timestamp,
}

/// The shift in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Counts {
    pub received: u32,
    pub resolved: u32,
    pub closed: u32,
    pub cancelled: u32,
    pub escalations: u32,
    pub open_at_handover: u32,
}

/// What dutyd gathers for a handover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Incidents still open.
    pub open_incidents: Vec<IncidentLine>,
    /// Dispatches not yet signed for.
    pub unsigned_dispatches: Vec<PendingDispatch>,
    /// Clocks past their deadline.
    pub overdue: Vec<OverdueClock>,
    /// Alarms raised during the shift.
    pub alarms: Vec<Alarm>,
    /// Post mode switches during the shift.
    pub mode_changes: Vec<ModeChange>,
    /// Counts of the shift.
    pub counts: Counts,
}

/// Where a handover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Being written by the outgoing officer.
    Open,
    /// Signed out; waiting for the incoming officer.
    SignedOut,
    /// Counter-signed: final.
    Countersigned,
}

impl Stage {
    /// As the API says it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::SignedOut => "signed_out",
            Stage::Countersigned => "countersigned",
        }
    }
}

fn centre() -> crate::rosters::model::Scope {
    crate::rosters::model::Scope::Centre
}

/// A handover record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// From 1.
    pub id: u64,
    /// The shift handed over.
    pub shift: ShiftId,
    /// When that shift started.
    pub shift_start: Timestamp,
    /// When it ends (the next shift starts).
    pub shift_end: Timestamp,
    /// When it was (last) opened or refreshed.
    pub opened_at: Timestamp,
    /// Who opened it.
    pub opened_by: Principal,
    /// What dutyd gathered.
    pub content: Content,
    /// The outgoing officer's free text.
    pub notes: String,
    /// When the outgoing officer signed out.
    pub signed_out_at: Option<Timestamp>,
    /// Who signed out.
    pub signed_out_by: Option<Principal>,
    /// When the incoming officer counter-signed.
    pub countersigned_at: Option<Timestamp>,
    /// Who counter-signed.
    pub countersigned_by: Option<Principal>,
    /// The incoming officer's remarks.
    pub remarks: String,
    /// Whose shift change: the centre's or a post's.
    #[serde(default = "centre")]
    pub scope: crate::rosters::model::Scope,
}

impl Handover {
    /// Where it is.
    pub fn stage(&self) -> Stage {
        match (self.signed_out_at, self.countersigned_at) {
            (_, Some(_)) => Stage::Countersigned,
            (Some(_), None) => Stage::SignedOut,
            _ => Stage::Open,
        }
    }

    /// Refuses a change to a handover past `stage`.
    pub fn require(&self, stage: Stage, action: &str) -> Result<()> {
        if self.stage() == stage {
            return Ok(());
        }
        let hint = match self.stage() {
            Stage::Countersigned => "it is counter-signed and can no longer change",
            Stage::SignedOut => "it is signed out and waits for the incoming officer",
            Stage::Open => "the outgoing officer has not signed it out yet",
        };
        Err(Error::precondition(format!(
            "handover {} ({} {}) is {}: cannot {action}; {hint}",
            self.id,
            self.shift.date,
            self.shift.shift,
            self.stage().name()
        )))
    }
}
