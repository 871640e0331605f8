//! Typed writes: how a command stages a change in a [`WriteSet`] — an
//! incident with its index keys and deadlines, an alarm with its place in
//! the unacknowledged list, a roll-call's answer deadlines — without knowing
//! the keys. What goes together (a record and its indexes) is staged by one
//! call, so no caller can stage half of it.

use jiff::Timestamp;
use serde::Serialize;

use super::keys;
use super::read::{Counter, Deadline};
use super::{Head, TreeId, WriteSet, encode, encode_packed};
use crate::auth::tokens::TokenRecord;
use crate::directory::model::Entry;
use crate::engine::command::PolicyRecord;
use crate::error::Result;
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{Incident, Status};
use crate::notify::gateway::Gateway;
use crate::rosters::handover::Handover;
use crate::rosters::model::{DutyRole, RosterConfig, Scope, ShiftId, Slot};
use crate::rosters::rollcall::RollCall;

impl WriteSet {
    /// Stages `value`, encoded, at `key` of the state.
    fn put_state<T: Serialize>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        self.put(TreeId::State, key, encode(value)?);
        Ok(())
    }

    /// [`WriteSet::put_incident_searched`], marking text changes (tests).
    #[cfg(test)]
    pub(crate) fn put_incident(
        &mut self,
        before: Option<&Incident>,
        after: &Incident,
    ) -> Result<()> {
        self.put_incident_searched(before, after, true)
    }

    /// Stages an incident as it is `after` a change, moving its index keys
    /// and clock deadlines from those of `before` (`None`: it is new). The
    /// search index is kept off the write path: a new incident is in the
    /// indexer's tail already, and one whose searchable texts changed is
    /// marked for it here, when `searched` (off only to measure the cost).
    pub(crate) fn put_incident_searched(
        &mut self,
        before: Option<&Incident>,
        after: &Incident,
        searched: bool,
    ) -> Result<()> {
        let id = after.id.to_be_bytes().to_vec();
        let old = before.map(keys::incident_index).unwrap_or_default();
        let new = keys::incident_index(after);
        for key in &old {
            if !new.contains(key) {
                self.remove(TreeId::Index, key.clone());
            }
        }
        for key in new {
            if !old.contains(&key) {
                self.put(TreeId::Index, key, id.clone());
            }
        }
        if searched
            && let Some(before) = before
            && !crate::history::search::same_searchables(before, after)
        {
            self.put(
                TreeId::Index,
                keys::search_dirty(after.id),
                after.last_seq.to_be_bytes().to_vec(),
            );
        }
        let old = before.map(keys::incident_deadlines).unwrap_or_default();
        let new = keys::incident_deadlines(after);
        for key in &old {
            if !new.contains(key) {
                self.remove(TreeId::Deadlines, key.clone());
            }
        }
        for key in new {
            if !old.contains(&key) {
                self.put(TreeId::Deadlines, key, id.clone());
            }
        }
        if after.status().is_open() || after.status() == Status::Resolved {
            self.put_state(keys::incident(after.id), after)
        } else {
            // Finished: history, rarely written again and kept for years.
            self.put(
                TreeId::State,
                keys::incident(after.id),
                encode_packed(after)?,
            );
            Ok(())
        }
    }

    /// Stages `assignee`'s assessment for local `day` (see
    /// [`super::Reader::assessment_day`]).
    pub(crate) fn put_assessment_day(
        &mut self,
        day: &str,
        drill: bool,
        assignee: &crate::incidents::model::AssigneeRef,
        value: &crate::assessment::AssigneeDay,
    ) -> Result<()> {
        self.put_state(keys::assessment_day(day, drill, assignee), value)
    }

    /// Stages a slice's assessment for local `day` (see
    /// [`super::Reader::assessment_slice_day`]).
    pub(crate) fn put_assessment_slice_day(
        &mut self,
        day: &str,
        drill: bool,
        slice: &crate::assessment::Slice,
        value: &crate::assessment::SliceDay,
    ) -> Result<()> {
        self.put_state(keys::assessment_slice_day(day, drill, slice)?, value)
    }

    /// Stages a directory entry.
    pub(crate) fn put_entry<T: Entry>(&mut self, entry: &T) -> Result<()> {
        self.put_state(keys::entry(T::KIND, entry.id()), entry)
    }

    /// Stages an alarm, and its place in the unacknowledged list until it
    /// is acknowledged.
    pub(crate) fn put_alarm(&mut self, alarm: &Alarm) -> Result<()> {
        for notification in &alarm.notifications {
            let owed = keys::owed_notification(alarm.id, &notification.key);
            if notification.state.is_owed() {
                self.put(TreeId::Index, owed, Vec::new());
            } else {
                self.remove(TreeId::Index, owed);
            }
        }
        let unacknowledged = keys::unacknowledged_alarm(alarm.id);
        if alarm.acknowledged_at.is_some() {
            self.remove(TreeId::Index, unacknowledged);
        } else {
            self.put(
                TreeId::Index,
                unacknowledged,
                alarm.id.to_be_bytes().to_vec(),
            );
        }
        self.put_state(keys::alarm(alarm.id), alarm)
    }

    /// Stages a gateway and, when given, its secret.
    pub(crate) fn put_gateway(&mut self, gateway: &Gateway, secret: Option<&str>) -> Result<()> {
        if let Some(secret) = secret {
            self.put_state(keys::gateway_secret(&gateway.id), &secret)?;
        }
        self.put_state(keys::gateway(&gateway.id), gateway)
    }

    /// Drops a gateway and its secret.
    pub(crate) fn remove_gateway(&mut self, id: &str) {
        self.remove(TreeId::State, keys::gateway(id));
        self.remove(TreeId::State, keys::gateway_secret(id));
    }

    /// Does this set add or settle a notification owed to a gateway?
    pub(crate) fn touches_outbox(&self) -> bool {
        self.prefixed(TreeId::Index, keys::OWED_NOTIFICATIONS)
            .next()
            .is_some()
    }

    /// Stages a token record.
    pub(crate) fn put_token(&mut self, record: &TokenRecord) -> Result<()> {
        self.put_state(keys::token(&record.id), record)
    }

    /// Stages who is rostered for `role` of `scope` in `shift`.
    pub(crate) fn put_slot(
        &mut self,
        shift: &ShiftId,
        scope: &Scope,
        role: DutyRole,
        slot: &Slot,
    ) -> Result<()> {
        self.put_state(keys::slot(shift, scope, role), slot)
    }

    /// Stages the roster's shape.
    pub(crate) fn put_roster_config(&mut self, config: &RosterConfig) -> Result<()> {
        self.put_state(keys::roster_config(), config)
    }

    /// Stages the escalation policy.
    pub(crate) fn put_policy_record(&mut self, record: &PolicyRecord) -> Result<()> {
        self.put_state(keys::meta("policy"), record)
    }

    /// Stages a handover.
    pub(crate) fn put_handover(&mut self, handover: &Handover) -> Result<()> {
        self.put_state(keys::handover(handover.id), handover)
    }

    /// Stages `id` as the handover of `whose` change of `shift`.
    pub(crate) fn put_handover_of_shift(&mut self, shift: &ShiftId, whose: &Scope, id: u64) {
        self.put(
            TreeId::Index,
            keys::shift_handover(shift, whose),
            id.to_be_bytes().to_vec(),
        );
    }

    /// Stages a roll-call.
    pub(crate) fn put_rollcall(&mut self, rollcall: &RollCall) -> Result<()> {
        self.put_state(keys::rollcall(rollcall.id), rollcall)
    }

    /// Plans `post`'s answer to roll-call `rollcall` as due at `at`.
    pub(crate) fn put_rollcall_deadline(&mut self, at: Timestamp, rollcall: u64, post: &str) {
        self.put(
            TreeId::Deadlines,
            keys::rollcall_deadline(at, rollcall, post),
            rollcall.to_be_bytes().to_vec(),
        );
    }

    /// Drops the deadline of `post`'s answer to roll-call `rollcall` due at
    /// `at`.
    pub(crate) fn remove_rollcall_deadline(&mut self, at: Timestamp, rollcall: u64, post: &str) {
        self.remove(
            TreeId::Deadlines,
            keys::rollcall_deadline(at, rollcall, post),
        );
    }

    /// Plans the next scheduled roll-call at `at`.
    pub(crate) fn schedule_rollcall(&mut self, at: Timestamp) -> Result<()> {
        self.put(TreeId::Deadlines, keys::schedule_deadline(at), Vec::new());
        self.put_state(keys::meta("rollcall_next"), &at)
    }

    /// Drops the scheduled roll-call planned at `at`.
    pub(crate) fn unschedule_rollcall(&mut self, at: Timestamp) {
        self.remove(TreeId::Deadlines, keys::schedule_deadline(at));
        self.remove(TreeId::State, keys::meta("rollcall_next"));
    }

    /// Drops a deadline (one that fired, or that nothing owns any more).
    pub(crate) fn remove_deadline(&mut self, deadline: &Deadline) {
        self.remove(TreeId::Deadlines, deadline.key().to_vec());
    }

    /// Does this set plan or drop any deadline?
    pub(crate) fn touches_deadlines(&self) -> bool {
        self.touches(TreeId::Deadlines)
    }

    /// Stages a counter's new value.
    pub(crate) fn put_counter(&mut self, counter: Counter<'_>, value: u64) -> Result<()> {
        self.put_state(counter.key(), &value)
    }

    /// Stages journal record `seq`, as its stored bytes.
    pub(crate) fn put_journal_record(&mut self, seq: u64, bytes: Vec<u8>) {
        self.put(TreeId::Journal, keys::seq(seq), bytes);
    }

    /// Stages the journal head as of this set's last record.
    pub(crate) fn put_head(&mut self, head: &Head) -> Result<()> {
        self.put_state(keys::meta("head"), head)
    }

    /// Stages what to remember of the request `request_id` of token
    /// `token_id`, for its retries.
    pub(crate) fn put_request<T: Serialize>(
        &mut self,
        token_id: &str,
        request_id: &str,
        remembered: &T,
    ) -> Result<()> {
        self.put_state(keys::request(token_id, request_id), remembered)
    }
}
