//! One command's view of the world while it runs on the writer thread: reads
//! see this command's own writes, then the earlier commands of the same batch,
//! then the store. Writes stay here until the command succeeds; a failed
//! command's scope is simply dropped, so nothing half-done reaches the batch.

use std::sync::Arc;

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::principal::Principal;
use crate::directory::Reader;
use crate::directory::model::{Entry, Post, PostMode, Unit};
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::escalation::clocks::{self, Clock, PlanContext};
use crate::escalation::policy::Policy;
use crate::incidents::model::{AssigneeKind, AssigneeRef, Incident, IncidentEvent};
use crate::journal::record::{EventBody, IncidentAfter, Record, Subject};
use crate::store::{self, Head, Store, TreeId, WriteSet, keys};

/// See the module docs.
pub(crate) struct Scope<'a> {
    store: &'a Store,
    batch: &'a WriteSet,
    /// This command's writes.
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
}

/// What every command in a batch shares: the store, the centre's zone and
/// the policy in force.
pub(crate) struct Env<'a> {
    pub(crate) store: &'a Store,
    pub(crate) tz: &'a TimeZone,
    pub(crate) policy: &'a Policy,
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
        let Env { store, tz, policy } = *env;
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
        }
    }

    /// When the action happened: the client's reported time (an action
    /// queued while its link was down), never later than now; else now.
    pub(crate) fn acted_at(&self) -> Timestamp {
        self.reported.map_or(self.now, |r| r.at.min(self.now))
    }

    fn raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(value) = self.writes.lookup(tree, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        if let Some(value) = self.batch.lookup(tree, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        self.store.get_raw(tree, key)
    }

    /// The bytes at `key`, undecoded (index values are raw ids, not JSON).
    pub(crate) fn get_raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.raw(tree, key)
    }

    /// The decoded value at `key`.
    pub(crate) fn get<T: DeserializeOwned>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>> {
        self.raw(tree, key)?
            .map(|bytes| store::decode(&bytes))
            .transpose()
    }

    /// Stages `value` at `key`.
    pub(crate) fn put<T: Serialize>(
        &mut self,
        tree: TreeId,
        key: Vec<u8>,
        value: &T,
    ) -> Result<()> {
        let bytes = store::encode(value)?;
        self.writes.put(tree, key, bytes);
        Ok(())
    }

    /// Entries under `prefix` as they would be after this command: the
    /// store's, with the batch's and this command's writes laid over them.
    pub(crate) fn entries_with_prefix(
        &self,
        tree: TreeId,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut entries: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = self
            .store
            .scan(tree, prefix, None, usize::MAX)?
            .into_iter()
            .collect();
        for layer in [self.batch, &self.writes] {
            for (key, value) in layer.prefixed(tree, prefix) {
                match value {
                    Some(value) => entries.insert(key.to_vec(), value.to_vec()),
                    None => entries.remove(key),
                };
            }
        }
        Ok(entries.into_iter().collect())
    }

    /// Increments and returns the named meta counter (first value 1).
    pub(crate) fn next_counter(&mut self, name: &str) -> Result<u64> {
        let key = keys::meta(name);
        let next = self.get::<u64>(TreeId::State, &key)?.unwrap_or(0) + 1;
        self.put(TreeId::State, key, &next)?;
        Ok(next)
    }

    /// The incident with this internal id.
    pub(crate) fn incident(&self, id: u64) -> Result<Option<Incident>> {
        self.get(TreeId::State, &keys::incident(id))
    }

    /// The incident with this number, or NOT_FOUND.
    pub(crate) fn incident_by_number(&self, number: &str) -> Result<Incident> {
        let not_found = || Error::not_found(format!("incident {number}"));
        let id_bytes = self
            .raw(TreeId::Index, &keys::number(number))?
            .ok_or_else(not_found)?;
        let id = keys::decode_u64(&id_bytes)?;
        self.incident(id)?.ok_or_else(not_found)
    }

    /// The directory entry with this id.
    pub(crate) fn entry<T: Entry>(&self, id: &str) -> Result<Option<T>> {
        self.get(TreeId::State, &keys::entry(T::KIND, id))
    }

    /// Stages a directory entry.
    pub(crate) fn put_entry<T: Entry>(&mut self, entry: &T) -> Result<()> {
        self.put(TreeId::State, keys::entry(T::KIND, entry.id()), entry)
    }

    /// Every entry of a kind, as it would be after this command.
    pub(crate) fn entries<T: Entry>(&self) -> Result<Vec<T>> {
        let prefix = keys::entry_prefix(T::KIND);
        self.entries_with_prefix(TreeId::State, &prefix)?
            .iter()
            .map(|(_, bytes)| store::decode(bytes))
            .collect()
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
        self.writes
            .put(TreeId::Journal, keys::seq(record.seq), bytes);
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
            };
            incident.last_seq =
                self.emit_with_status(subject, audience, EventBody::Incident(event), Some(after))?;
            incident.seqs.push(incident.last_seq);
        }
        self.save_incident(before.as_ref(), incident)?;
        Ok(incident.last_seq)
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

    /// Deadline keys due at or before `now`, first due first, at most
    /// `limit`, with the incident each belongs to.
    pub(crate) fn due_deadlines(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, keys::DeadlineOwner)>> {
        let end = keys::deadline_time(
            now.saturating_add(SignedDuration::from_millis(1))
                .unwrap_or(now),
        );
        let mut due: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = self
            .store
            .scan(TreeId::Deadlines, &[], None, limit)?
            .into_iter()
            .filter(|(key, _)| key.as_slice() < end.as_slice())
            .collect();
        for layer in [self.batch, &self.writes] {
            for (key, value) in layer.prefixed(TreeId::Deadlines, &[]) {
                if key >= end.as_slice() {
                    continue;
                }
                match value {
                    Some(value) => due.insert(key.to_vec(), value.to_vec()),
                    None => due.remove(key),
                };
            }
        }
        due.into_keys()
            .take(limit)
            .map(|key| {
                let owner = keys::deadline_owner(&key)?;
                Ok((key, owner))
            })
            .collect()
    }

    /// The next alarm id.
    pub(crate) fn next_alarm_id(&mut self) -> Result<u64> {
        self.next_counter("next_alarm_id")
    }

    /// Stages an alarm and its place in the unacknowledged list.
    pub(crate) fn put_alarm(&mut self, alarm: &Alarm) -> Result<()> {
        let open = keys::unacknowledged_alarm(alarm.id);
        if alarm.acknowledged_at.is_some() {
            self.writes.remove(TreeId::Index, open);
        } else {
            self.writes
                .put(TreeId::Index, open, alarm.id.to_be_bytes().to_vec());
        }
        self.put(TreeId::State, keys::alarm(alarm.id), alarm)
    }

    /// The alarm with this id.
    pub(crate) fn alarm(&self, id: u64) -> Result<Option<Alarm>> {
        self.get(TreeId::State, &keys::alarm(id))
    }

    /// Stages an incident and moves its index keys from `before` to `after`.
    fn save_incident(&mut self, before: Option<&Incident>, after: &Incident) -> Result<()> {
        let old = before.map(keys::incident_index).unwrap_or_default();
        let new = keys::incident_index(after);
        for key in &old {
            if !new.contains(key) {
                self.writes.remove(TreeId::Index, key.clone());
            }
        }
        for key in new {
            if !old.contains(&key) {
                self.writes
                    .put(TreeId::Index, key, after.id.to_be_bytes().to_vec());
            }
        }
        let old = before.map(keys::incident_deadlines).unwrap_or_default();
        let new = keys::incident_deadlines(after);
        for key in &old {
            if !new.contains(key) {
                self.writes.remove(TreeId::Deadlines, key.clone());
            }
        }
        for key in new {
            if !old.contains(&key) {
                self.writes
                    .put(TreeId::Deadlines, key, after.id.to_be_bytes().to_vec());
            }
        }
        self.put(TreeId::State, keys::incident(after.id), after)
    }
}

impl Reader for Scope<'_> {
    fn state<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.get(TreeId::State, key)
    }

    fn entry<T: Entry>(&self, id: &str) -> Result<Option<T>> {
        Scope::entry(self, id)
    }

    fn entries<T: Entry>(&self) -> Result<Vec<T>> {
        Scope::entries(self)
    }
}
