//! Alarms: who must act, about what, at which level. An alarm is recorded in
//! the journal (on the incident's timeline when it has one), listed until it
//! is acknowledged, and acknowledged with who and when.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;
use crate::escalation::policy::Target;
use crate::incidents::model::AssigneeRef;
use crate::notify::outbox::Notification;

/// Why an alarm was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmKind {
    /// A dispatch order was not signed for in time.
    SignForOverdue,
    /// An assignee did not arrive in time ("linked but not moving").
    ArriveOverdue,
    /// The incident was not resolved in time.
    ResolveOverdue,
    /// An officer or leader escalated by hand.
    Manual,
    /// A post switched between normal and emergency mode.
    ModeSwitched,
    /// A post did not answer a roll-call in time.
    RollCallMissed,
}

/// Someone to reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The person's id, when the contact is a known person.
    pub person_id: Option<String>,
    /// Name (or a desk, e.g. "新华街道指挥部 duty line").
    pub name: String,
    /// Phone.
    pub phone: String,
}

/// One addressee of an alarm: a role, where, and the people it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmTarget {
    /// The role, as in the policy.
    pub target: Target,
    /// Where the role applies (`post:xinhua`), if not the centre.
    pub scope: Option<String>,
    /// Who that is now (empty: nobody found — the alarm still stands).
    pub people: Vec<Contact>,
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// From 1, in order.
    pub id: u64,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// Who raised it (the daemon for clocks).
    pub raised_by: Principal,
    /// Why.
    pub kind: AlarmKind,
    /// Ladder level (1-based).
    pub level: u8,
    /// The incident's number, if about one.
    pub incident: Option<String>,
    /// The incident's id, if about one.
    pub incident_id: Option<u64>,
    /// The assignment whose clock ran out.
    pub assignment: Option<u32>,
    /// Its assignee.
    pub assignee: Option<AssigneeRef>,
    /// The post concerned.
    pub post: Option<String>,
    /// What happened, in words.
    pub reason: String,
    /// Who must act.
    pub targets: Vec<AlarmTarget>,
    /// How late it fired, in seconds, when noticeably late.
    pub late_by_secs: Option<i64>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<Principal>,
    /// What they said.
    pub acknowledgement_note: Option<String>,
    /// Raised on a drill (演练) incident: every message about it says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
    /// The texts and calls it owes, and how far each got.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
}

impl Alarm {
    /// Posts and units that may see it.
    pub fn audience(&self) -> Vec<String> {
        let mut tags = Vec::new();
        if let Some(assignee) = &self.assignee {
            tags.push(assignee.to_string());
        }
        if let Some(post) = &self.post {
            let tag = AssigneeRef::post(post).to_string();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }
}
