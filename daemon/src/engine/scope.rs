//! One command's view of the world while it runs on the writer thread: reads
//! see this command's own writes, then the earlier commands of the same batch,
//! then the store. Writes stay here until the command succeeds; a failed
//! command's scope is simply dropped, so nothing half-done reaches the batch.
//!
//! Reads are the store's typed queries ([`Reader`], over a [`View`] of the
//! staged writes); writes are staged with the store's typed helpers on
//! [`Scope::writes`] (`put_incident`, `put_alarm`, …). No key is built here.

use std::sync::Arc;

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::auth::principal::Principal;
use crate::directory::model::{Post, PostMode, Unit};
use crate::error::{Error, Result};
use crate::escalation::clocks::{self, Clock, PlanContext};
use crate::escalation::policy::Policy;
use crate::incidents::model::{AssigneeKind, AssigneeRef, Incident, IncidentEvent};
use crate::journal::record::{EventBody, IncidentAfter, Record, Subject};
use crate::store::{self, Counter, Deadline, DeadlineOwner, Head, Reader, Store, View, WriteSet};

/// See the module docs.
pub(crate) struct Scope<'a> {
    store: &'a Store,
    batch: &'a WriteSet,
    /// This command's writes, staged with the [`WriteSet`]'s typed helpers.
    pub(crate) writes: WriteSet,
    /// The journal head after this command's events.
    pub(crate) head: Head,
    /// This command's journal records, in order.
    pub(crate) records: Vec<Arc<Record>>,
    /// The command's time (never earlier than the previous event's).
    pub(crate) now: Timestamp,
    /// Who asked.
    pub(crate) principal: &'a Principal,
    request_id: Option<&'a str>,
    /// The centre's time zone.
    pub(crate) tz: &'a TimeZone,
    /// The escalation policy in force.
    pub(crate) policy: &'a Policy,
    /// A policy this command sets, taking effect for later commands.
    pub(crate) new_policy: Option<Policy>,
    /// When the client says it did this, if it said.
    pub(crate) reported: Option<crate::engine::Reported>,
    /// What this command adds to the assessment rollups.
    pub(crate) assessments: crate::assessment::Pending,
    assessment_rollups: bool,
    search_index: bool,
}

/// What every command in a batch shares: the store, the centre's zone and
/// the policy in force.
pub(crate) struct Env<'a> {
    pub(crate) store: &'a Store,
    pub(crate) tz: &'a TimeZone,
    pub(crate) policy: &'a Policy,
    /// Whether commands add to the assessment rollups.
    pub(crate) assessment_rollups: bool,
    /// Whether incident writes keep the search index.
    pub(crate) search_index: bool,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        env: &Env<'a>,
        batch: &'a WriteSet,
        head: Head,
        now: Timestamp,
        principal: &'a Principal,
        request_id: Option<&'a str>,
    ) -> Self {
        let Env {
            store,
            tz,
            policy,
            assessment_rollups,
            search_index,
        } = *env;
        Scope {
            store,
            batch,
            writes: WriteSet::default(),
            head,
            records: Vec::new(),
            now,
            principal,
            request_id,
            tz,
            policy,
            new_policy: None,
            reported: None,
            assessments: crate::assessment::Pending::default(),
            assessment_rollups,
            search_index,
        }
    }

    /// When the action happened: the client's reported time (an action
    /// queued while its link was down), never later than now; else now.
    pub(crate) fn acted_at(&self) -> Timestamp {
        self.reported.map_or(self.now, |r| r.at.min(self.now))
    }

    /// Increments and returns a counter (first value 1).
    pub(crate) fn next_counter(&mut self, counter: Counter<'_>) -> Result<u64> {
        let next = self.counter(counter)? + 1;
        self.writes.put_counter(counter, next)?;
        Ok(next)
    }

    /// The incident with this number, or NOT_FOUND.
    pub(crate) fn existing_incident(&self, number: &str) -> Result<Incident> {
        self.incident_by_number(number)?
            .ok_or_else(|| Error::not_found(format!("incident {number}")))
    }

    /// Appends an event to the journal: next seq, chained to the previous
    /// record's hash.
    pub(crate) fn emit(
        &mut self,
        subject: Subject,
        audience: Vec<String>,
        body: EventBody,
    ) -> Result<u64> {
        self.emit_with_status(subject, audience, body, None)
    }

    fn emit_with_status(
        &mut self,
        subject: Subject,
        audience: Vec<String>,
        body: EventBody,
        incident: Option<IncidentAfter>,
    ) -> Result<u64> {
        let record = Record {
            seq: self.head.seq + 1,
            at: self.now,
            principal: self.principal.clone(),
            request_id: self.request_id.map(str::to_owned),
            subject,
            audience,
            body,
            incident,
            reported_at: self.reported.map(|r| r.at.min(self.now)),
            clock_skew_ms: self.reported.and_then(|r| r.skew_ms),
            prev_hash: self.head.hash.clone(),
        };
        let bytes = store::encode(&record)?;
        self.head = Head {
            seq: record.seq,
            hash: store::record_hash(&bytes),
        };
        self.writes.put_journal_record(record.seq, bytes);
        self.records.push(Arc::new(record));
        Ok(self.head.seq)
    }

    /// Applies `events` to `incident`, journals each one, re-plans its
    /// clocks and stages the new state with its indexes and deadlines.
    /// `is_new` when the first event creates it. Returns the seq of the last
    /// event (the incident's `last_seq` when there were none).
    pub(crate) fn record_incident(
        &mut self,
        incident: &mut Incident,
        events: Vec<IncidentEvent>,
        is_new: bool,
    ) -> Result<u64> {
        let before = (!is_new).then(|| incident.clone());
        self.record_incident_from(before, incident, events)
    }

    /// [`Scope::record_incident`] when the caller already changed the
    /// incident in place and holds the state as stored (`before`).
    pub(crate) fn record_incident_from(
        &mut self,
        before: Option<Incident>,
        incident: &mut Incident,
        events: Vec<IncidentEvent>,
    ) -> Result<u64> {
        if events.is_empty() {
            return Ok(incident.last_seq);
        }
        for event in events {
            let before: Vec<String> = incident.involved().map(ToString::to_string).collect();
            incident.apply(&event, self.now);
            incident.clocks = self.plan_clocks(incident)?;
            let audience = crate::visibility::incident_event_audience(&before, incident);
            let subject = Subject::Incident {
                id: incident.id,
                number: incident.number.clone(),
            };
            let after = IncidentAfter {
                status: incident.status(),
                severity: incident.intake.severity,
                escalation_level: incident.escalation_level,
                clocks: incident.clocks.clone(),
                drill: incident.intake.drill,
            };
            incident.last_seq =
                self.emit_with_status(subject, audience, EventBody::Incident(event), Some(after))?;
            incident.seqs.push(incident.last_seq);
        }
        let observations = crate::assessment::observe(before.as_ref(), incident);
        incident.stopped.extend(
            observations
                .iter()
                .filter_map(crate::assessment::Observation::stopped_clock),
        );
        self.writes
            .put_incident_searched(before.as_ref(), incident, self.search_index)?;
        self.assess(incident, &observations);
        Ok(incident.last_seq)
    }

    /// Adds what this change means for assessment to the batch's pending
    /// rollups (see [`crate::assessment::Pending`]), written with the batch.
    fn assess(&mut self, after: &Incident, observations: &[crate::assessment::Observation]) {
        if !self.assessment_rollups {
            return;
        }
        let skewed = self.reported.is_some_and(|r| r.skew_ms.is_some());
        self.assessments.add(after, observations, skewed, self.tz);
    }

    /// The clocks `incident` should have now, under the policy in force and
    /// its post's mode.
    pub(crate) fn plan_clocks(&self, incident: &Incident) -> Result<Vec<Clock>> {
        let post = clocks::incident_post(incident).map(str::to_owned);
        let emergency = match &post {
            Some(post) => self
                .entry::<Post>(post)?
                .is_some_and(|p| p.mode == PostMode::Emergency),
            None => false,
        };
        let mut tiers = HashMap::new();
        for assignment in incident.assignments.iter().filter(|a| a.state.is_active()) {
            if assignment.assignee.kind == AssigneeKind::Unit {
                let tier = self
                    .entry::<Unit>(&assignment.assignee.id)?
                    .map_or(1, |u| u.tier);
                tiers.insert(assignment.assignee.id.clone(), tier);
            }
        }
        let tier_of = |assignee: &AssigneeRef| match assignee.kind {
            AssigneeKind::Unit => tiers.get(&assignee.id).copied().unwrap_or(1),
            AssigneeKind::Post => 1,
        };
        let context = PlanContext {
            post: post.as_deref(),
            emergency,
            tier_of: &tier_of,
        };
        Ok(clocks::plan(incident, self.policy, &context))
    }

    /// Deadlines due at or before `now`, first due first, at most `limit`,
    /// with what each belongs to.
    pub(crate) fn due_deadlines(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Deadline, DeadlineOwner)>> {
        self.view().due_deadlines(now, limit)
    }

    /// The tokens of `role`, as they stand with this batch's writes.
    pub(crate) fn tokens_of(
        &self,
        role: &crate::auth::principal::Role,
    ) -> Result<Vec<crate::auth::tokens::TokenRecord>> {
        let mut found = Vec::new();
        for stored in self.store.tokens()? {
            if let Some(record) = self.token(&stored.id)?
                && record.role == *role
            {
                found.push(record);
            }
        }
        Ok(found)
    }

    /// The next alarm id.
    pub(crate) fn next_alarm_id(&mut self) -> Result<u64> {
        self.next_counter(Counter::AlarmId)
    }
}

/// Adds a batch's pending assessment figures to the stored day rollups,
/// staging each rollup once: read from the store (only this does, so the
/// store holds every earlier batch's), merged, written with the batch.
pub(crate) fn stage_assessments(
    store: &Store,
    writes: &mut WriteSet,
    pending: &crate::assessment::Pending,
) -> Result<()> {
    for ((day, drill, who), figures) in pending.assignees() {
        let mut rollup = store.assessment_day(day, *drill, who)?.unwrap_or_default();
        rollup.merge(figures);
        writes.put_assessment_day(day, *drill, who, &rollup)?;
    }
    for ((day, drill, slice), figures) in pending.slices() {
        let mut rollup = store
            .assessment_slice_day(day, *drill, slice)?
            .unwrap_or_default();
        rollup.merge(figures);
        writes.put_assessment_slice_day(day, *drill, slice, &rollup)?;
    }
    Ok(())
}

/// A command reads its own writes, then the batch's, then the store.
impl Reader for Scope<'_> {
    fn view(&self) -> View<'_> {
        View::staged(self.store, self.batch, &self.writes)
    }
}
