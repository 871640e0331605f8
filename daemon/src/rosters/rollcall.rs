//! Roll-call (查岗): the centre asks posts to answer within a deadline; the
//! latency is recorded, and a post that does not answer climbs the
//! escalation ladder like a missed sign-for.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;

/// One post's part in a roll-call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The post.
    pub post: String,
    /// When it answered.
    pub answered_at: Option<Timestamp>,
    /// Who answered.
    pub answered_by: Option<Principal>,
    /// Alarms raised for not answering (its level on the ladder).
    pub alarms: u8,
    /// When its next alarm fires, while unanswered.
    pub next_alarm: Option<Timestamp>,
}

/// A roll-call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollCall {
    /// From 1.
    pub id: u64,
    /// When it went out.
    pub sent_at: Timestamp,
    /// Who sent it (the daemon for scheduled ones).
    pub sent_by: Principal,
    /// The deadline to answer.
    pub answer_by: Timestamp,
    /// Sent by the schedule.
    pub scheduled: bool,
    /// Each post asked.
    pub posts: Vec<Entry>,
}

impl RollCall {
    /// Posts that have not answered.
    pub fn pending(&self) -> impl Iterator<Item = &Entry> {
        self.posts.iter().filter(|e| e.answered_at.is_none())
    }
}
