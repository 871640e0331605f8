//! Assessment (考核): what an incident's changes mean for the measures a
//! centre assesses its posts and units by — time to sign for, to arrive and
//! to resolve, whether each was within the deadline in force on its clock,
//! send-backs, how far the ladder climbed, the reporter's satisfaction.
//!
//! This module owns the facts and the arithmetic, not where they are kept:
//! [`observe`] turns one change of an incident (before → after, as the
//! writer stages it) into [`Observation`]s; [`Histogram`] keeps the times of
//! many observations compactly, so that percentiles over any period come
//! from sums of per-day histograms rather than a scan of the journal.
//!
//! Measured from recorded facts only. A time is the assignment's own
//! recorded time (a post's action sent late from its outbox carries the
//! post's clock, corrected for skew, never after the daemon's), and a
//! deadline is the `due` the clock carried when it stopped — the policy in
//! force then, not today's. Drills are observed like any incident and
//! marked, so that reports can leave them out or show them alone.

pub mod histogram;
pub mod incidents;
pub mod period;
pub mod report;
pub mod service;

pub use histogram::Histogram;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::escalation::clocks::{Clock, ClockKind};
use crate::incidents::model::{
    AssigneeRef, AssignmentRole, AssignmentState, Incident, Severity, Source, StoppedClock,
};

/// A timed measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// Dispatch → signed for (签收).
    SignFor,
    /// Dispatch → on scene (到场).
    Arrive,
    /// Intake (or reopening) → resolved (办结).
    Resolve,
}

impl Measure {
    fn of(kind: ClockKind) -> Measure {
        match kind {
            ClockKind::SignFor => Measure::SignFor,
            ClockKind::Arrive => Measure::Arrive,
            ClockKind::Resolve => Measure::Resolve,
        }
    }

    /// The clock that times this measure.
    pub fn clock(self) -> ClockKind {
        match self {
            Measure::SignFor => ClockKind::SignFor,
            Measure::Arrive => ClockKind::Arrive,
            Measure::Resolve => ClockKind::Resolve,
        }
    }
}

impl Observation {
    /// The clock this observation stopped, as the incident keeps it.
    pub fn stopped_clock(&self) -> Option<StoppedClock> {
        match self {
            Observation::Done {
                measure,
                assignee,
                secs,
                within,
                alarms,
            } => Some(StoppedClock {
                kind: measure.clock(),
                assignee: assignee.clone(),
                secs: Some(*secs),
                within: within.unwrap_or(true),
                alarms: *alarms,
            }),
            Observation::Abandoned {
                measure,
                assignee,
                alarms,
            } => Some(StoppedClock {
                kind: measure.clock(),
                assignee: assignee.clone(),
                secs: None,
                within: false,
                alarms: *alarms,
            }),
            _ => None,
        }
    }
}

/// One assessable fact from one change of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The incident was received (counted on its slice).
    Created,
    /// An order went to a post or unit (the base of its send-back rate).
    Assigned {
        /// Who received it.
        assignee: AssigneeRef,
    },
    /// A clock stopped because what it waited for happened.
    Done {
        /// Which measure.
        measure: Measure,
        /// Whose clock (the lead's for resolution; none if nobody led).
        assignee: Option<AssigneeRef>,
        /// How long it took, in whole seconds.
        secs: u64,
        /// Done by the deadline its clock carried (when it had one).
        within: Option<bool>,
        /// Alarms its clock had raised by then (0: never overdue).
        alarms: u8,
    },
    /// A clock stopped without what it waited for: the order was sent back
    /// or withdrawn, the incident cancelled or merged. Counted when overdue.
    Abandoned {
        /// Which measure.
        measure: Measure,
        /// Whose clock.
        assignee: Option<AssigneeRef>,
        /// Alarms its clock had raised.
        alarms: u8,
    },
    /// The assignee sent the order back (退单), with its reason.
    SentBack {
        /// Who.
        assignee: AssigneeRef,
        /// Why.
        reason: String,
    },
    /// The callback was made: the incident closed, with the reporter's
    /// satisfaction (1–5) if given.
    Callback {
        /// 1..=5, or none.
        satisfaction: Option<u8>,
    },
    /// The ladder reached a new highest level on this incident.
    Escalated {
        /// The highest level before.
        from: u8,
        /// The new highest level.
        to: u8,
    },
}

/// One timed measure over many clocks: their times, how many were done by
/// their deadline, how many went overdue (raised an alarm), done or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureDay {
    /// Seconds from each clock's start to its being done.
    pub times: Histogram,
    /// Of those, done by the deadline their clock carried.
    pub within: u64,
    /// Clocks that raised at least one alarm (done late or abandoned).
    pub overdue: u64,
}

/// The three timed measures (签收, 到场, 办结) of some clocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clocks {
    /// 签收: dispatch → signed for.
    #[serde(default)]
    pub sign_for: MeasureDay,
    /// 到场: dispatch → on scene.
    #[serde(default)]
    pub arrive: MeasureDay,
    /// 办结: intake (or reopening) → resolved.
    #[serde(default)]
    pub resolve: MeasureDay,
}

impl Clocks {
    /// One measure's figures.
    pub fn measure(&self, which: Measure) -> &MeasureDay {
        match which {
            Measure::SignFor => &self.sign_for,
            Measure::Arrive => &self.arrive,
            Measure::Resolve => &self.resolve,
        }
    }

    fn measure_mut(&mut self, which: Measure) -> &mut MeasureDay {
        match which {
            Measure::SignFor => &mut self.sign_for,
            Measure::Arrive => &mut self.arrive,
            Measure::Resolve => &mut self.resolve,
        }
    }

    /// Adds another day's clocks.
    pub fn merge(&mut self, other: &Clocks) {
        self.sign_for.merge(&other.sign_for);
        self.arrive.merge(&other.arrive);
        self.resolve.merge(&other.resolve);
    }
}

/// One assignee's (post's or unit's) assessment for the incidents received
/// on one local day: what reports add up over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssigneeDay {
    /// Its clocks (resolution: for incidents it led).
    #[serde(default)]
    pub clocks: Clocks,
    /// Orders sent back (退单), by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sent_back: BTreeMap<String, u64>,
    /// Orders received (dispatches to it), the base of its send-back rate.
    #[serde(default)]
    pub orders: u64,
    /// Times that came from a post's clock corrected for skew.
    #[serde(default)]
    pub skewed: u64,
}

impl AssigneeDay {
    /// Adds one observation about this assignee (callbacks and ladder
    /// levels are the incident's, not an assignee's, and are passed over).
    /// `skewed`: its time came from a post's clock corrected for skew.
    pub fn add(&mut self, observation: &Observation, skewed: bool) {
        if skewed && matches!(observation, Observation::Done { .. }) {
            self.skewed += 1;
        }
        match observation {
            Observation::Done { measure, .. } | Observation::Abandoned { measure, .. } => {
                self.clocks.measure_mut(*measure).add(observation);
            }
            Observation::SentBack { reason, .. } => {
                *self.sent_back.entry(reason.clone()).or_default() += 1;
            }
            Observation::Assigned { .. } => self.orders += 1,
            Observation::Created | Observation::Callback { .. } | Observation::Escalated { .. } => {
            }
        }
    }

    /// Adds another day's (or assignee's) figures to these.
    pub fn merge(&mut self, other: &AssigneeDay) {
        self.clocks.merge(&other.clocks);
        for (reason, count) in &other.sent_back {
            *self.sent_back.entry(reason.clone()).or_default() += count;
        }
        self.orders += other.orders;
        self.skewed += other.skewed;
    }

    /// Orders sent back, whatever the reason.
    pub fn sent_back_total(&self) -> u64 {
        self.sent_back.values().sum()
    }
}

impl MeasureDay {
    /// Adds a clock of this measure that stopped: done (timed, in time or
    /// not) or abandoned; overdue either way when it had raised an alarm.
    /// Other observations are not about a clock and are passed over.
    pub fn add(&mut self, observation: &Observation) {
        match observation {
            Observation::Done {
                secs,
                within,
                alarms,
                ..
            } => {
                self.times.record(*secs);
                self.within += u64::from(*within == Some(true));
                self.overdue += u64::from(*alarms > 0);
            }
            Observation::Abandoned { alarms, .. } => self.overdue += u64::from(*alarms > 0),
            _ => {}
        }
    }

    /// Adds another day's figures for the same measure.
    pub fn merge(&mut self, other: &MeasureDay) {
        self.times.merge(&other.times);
        self.within += other.within;
        self.overdue += other.overdue;
    }
}

/// One way of slicing incidents, with the value an incident has in it: its
/// category, severity, source channel or place, as it stood when each fact
/// was observed. Each incident is counted in one slice of each way, so a
/// report sliced one way reads a few keys a day, not their product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Slice {
    /// By category id.
    Category(String),
    /// By severity.
    Severity(Severity),
    /// By source channel.
    Source(Source),
    /// By place id (none: the incident has no place).
    Place(Option<String>),
    /// By the local hour it was received in (0–23); reports group hours
    /// into the roster's shifts.
    Hour(u8),
}

impl Slice {
    /// The slices `incident` falls in now, one of each way; its hour in the
    /// centre's zone `tz`.
    pub fn of(incident: &Incident, tz: &jiff::tz::TimeZone) -> [Slice; 5] {
        let hour = incident.created_at.to_zoned_datetime(tz.clone()).hour();
        [
            Slice::Category(incident.intake.category.clone()),
            Slice::Severity(incident.intake.severity),
            Slice::Source(incident.intake.source),
            Slice::Place(incident.intake.place_id.clone()),
            Slice::Hour(u8::try_from(hour).unwrap_or_default()),
        ]
    }
}

/// One slice's assessment for the incidents received on one local day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceDay {
    /// Incidents received.
    #[serde(default)]
    pub created: u64,
    /// Its incidents' clocks, every assignee's.
    #[serde(default)]
    pub clocks: Clocks,
    /// Orders sent.
    #[serde(default)]
    pub orders: u64,
    /// Orders sent back.
    #[serde(default)]
    pub sent_back: u64,
    /// Level → incidents whose ladder reached at least that level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reached: BTreeMap<u8, u64>,
    /// Callbacks made (incidents closed).
    #[serde(default)]
    pub callbacks: u64,
    /// Satisfaction (1–5) → callbacks that gave it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub satisfaction: BTreeMap<u8, u64>,
    /// Times that came from a post's clock corrected for skew.
    #[serde(default)]
    pub skewed: u64,
}

impl SliceDay {
    /// Adds one observation about an incident of this slice.
    pub fn add(&mut self, observation: &Observation, skewed: bool) {
        match observation {
            Observation::Created => self.created += 1,
            Observation::Assigned { .. } => self.orders += 1,
            Observation::SentBack { .. } => self.sent_back += 1,
            Observation::Done { measure, .. } => {
                self.clocks.measure_mut(*measure).add(observation);
                self.skewed += u64::from(skewed);
            }
            Observation::Abandoned { measure, .. } => {
                self.clocks.measure_mut(*measure).add(observation)
            }
            Observation::Callback { satisfaction } => {
                self.callbacks += 1;
                if let Some(score) = satisfaction {
                    *self.satisfaction.entry(*score).or_default() += 1;
                }
            }
            Observation::Escalated { from, to } => {
                for level in from.saturating_add(1)..=*to {
                    *self.reached.entry(level).or_default() += 1;
                }
            }
        }
    }

    /// Adds another day's (or slice's) figures to these.
    pub fn merge(&mut self, other: &SliceDay) {
        self.created += other.created;
        self.clocks.merge(&other.clocks);
        self.orders += other.orders;
        self.sent_back += other.sent_back;
        for (level, count) in &other.reached {
            *self.reached.entry(*level).or_default() += count;
        }
        self.callbacks += other.callbacks;
        for (score, count) in &other.satisfaction {
            *self.satisfaction.entry(*score).or_default() += count;
        }
        self.skewed += other.skewed;
    }
}

impl Observation {
    /// The post or unit this observation is about, if any.
    pub fn assignee(&self) -> Option<&AssigneeRef> {
        match self {
            Observation::Done { assignee, .. } | Observation::Abandoned { assignee, .. } => {
                assignee.as_ref()
            }
            Observation::SentBack { assignee, .. } | Observation::Assigned { assignee } => {
                Some(assignee)
            }
            Observation::Created | Observation::Callback { .. } | Observation::Escalated { .. } => {
                None
            }
        }
    }
}

/// What a batch of commands adds to the day rollups, summed in memory and
/// written once per rollup when the batch is written (not read, decoded
/// and re-encoded by every command that touches it: intake's hot path).
#[derive(Debug, Default)]
pub struct Pending {
    assignees: BTreeMap<(String, bool, AssigneeRef), AssigneeDay>,
    slices: BTreeMap<(String, bool, Slice), SliceDay>,
}

impl Pending {
    /// Adds what one change of an incident means (`observations`, from
    /// [`observe`]) to the rollups of `after`'s day; `skewed`: its times
    /// came from a post's clock corrected for skew; `tz` the centre's zone.
    pub fn add(
        &mut self,
        after: &Incident,
        observations: &[Observation],
        skewed: bool,
        tz: &jiff::tz::TimeZone,
    ) {
        if observations.is_empty() {
            return;
        }
        let day = after.day().to_owned();
        let drill = after.intake.drill;
        for slice in Slice::of(after, tz) {
            let figures = self.slices.entry((day.clone(), drill, slice)).or_default();
            for observation in observations {
                figures.add(observation, skewed);
            }
        }
        for observation in observations {
            if let Some(assignee) = observation.assignee() {
                self.assignees
                    .entry((day.clone(), drill, assignee.clone()))
                    .or_default()
                    .add(observation, skewed);
            }
        }
    }

    /// Adds another command's pending figures (it succeeded).
    pub fn absorb(&mut self, other: Pending) {
        for (key, figures) in other.assignees {
            self.assignees.entry(key).or_default().merge(&figures);
        }
        for (key, figures) in other.slices {
            self.slices.entry(key).or_default().merge(&figures);
        }
    }

    /// What to add to each assignee's day: (day, drill, who) → figures.
    pub fn assignees(&self) -> &BTreeMap<(String, bool, AssigneeRef), AssigneeDay> {
        &self.assignees
    }

    /// What to add to each slice's day: (day, drill, slice) → figures.
    pub fn slices(&self) -> &BTreeMap<(String, bool, Slice), SliceDay> {
        &self.slices
    }
}

/// What one change of an incident (`before` → `after`; `None` before a
/// creation) says for assessment. Each fact is observed once: a clock
/// stops once, a send-back happens once, the callback once per closing.
pub fn observe(before: Option<&Incident>, after: &Incident) -> Vec<Observation> {
    let mut found = Vec::new();
    if before.is_none() {
        found.push(Observation::Created);
    }
    let empty = Vec::new();
    let old_clocks = before.map_or(&empty, |b| &b.clocks);
    for clock in old_clocks {
        if after.clocks.iter().any(|c| c.same(clock)) {
            continue;
        }
        found.push(stopped(clock, before, after));
    }
    for assignment in &after.assignments {
        let was = before.and_then(|b| b.assignments.iter().find(|a| a.id == assignment.id));
        if was.is_none() {
            found.push(Observation::Assigned {
                assignee: assignment.assignee.clone(),
            });
        }
        if assignment.state == AssignmentState::Refused
            && was.is_some_and(|w| w.state != AssignmentState::Refused)
        {
            found.push(Observation::SentBack {
                assignee: assignment.assignee.clone(),
                reason: assignment.reason.clone().unwrap_or_default(),
            });
        }
    }
    if after.closed_at.is_some() && before.is_some_and(|b| b.closed_at != after.closed_at) {
        found.push(Observation::Callback {
            satisfaction: after.satisfaction,
        });
    }
    let old_level = before.map_or(0, |b| b.escalation_level);
    if after.escalation_level > old_level {
        found.push(Observation::Escalated {
            from: old_level,
            to: after.escalation_level,
        });
    }
    found
}

/// A clock that is gone after the change: done, or abandoned.
fn stopped(clock: &Clock, before: Option<&Incident>, after: &Incident) -> Observation {
    let measure = Measure::of(clock.kind);
    let assignment = clock
        .assignment
        .and_then(|id| after.assignments.iter().find(|a| a.id == id));
    let assignee = match clock.assignment {
        Some(_) => assignment.map(|a| a.assignee.clone()),
        None => lead_of(after)
            .or_else(|| before.and_then(lead_of))
            .map(|a| a.assignee.clone()),
    };
    let done_at = match clock.kind {
        ClockKind::SignFor => assignment.and_then(|a| a.signed_at),
        ClockKind::Arrive => assignment.and_then(|a| a.arrived_at),
        ClockKind::Resolve => after.resolved_at,
    };
    match done_at {
        Some(done_at) => Observation::Done {
            measure,
            assignee,
            secs: seconds_between(clock.started_at, done_at),
            within: Some(done_at <= clock.due),
            alarms: clock.alarms,
        },
        None => Observation::Abandoned {
            measure,
            assignee,
            alarms: clock.alarms,
        },
    }
}

/// The lead who answers for the incident's resolution: the newest lead
/// still part of it (active, or done once resolved).
fn lead_of(incident: &Incident) -> Option<&crate::incidents::model::Assignment> {
    incident
        .assignments
        .iter()
        .rev()
        .find(|a| a.role == AssignmentRole::Lead && a.state.is_involved())
}

/// Whole seconds from `from` to `to` (0 if `to` is earlier: a skew-corrected
/// post time can precede the dispatch by less than the correction's error).
fn seconds_between(from: Timestamp, to: Timestamp) -> u64 {
    u64::try_from(to.duration_since(from).as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests;
