//! Typed reads: what the rest of dutyd asks of the state — an incident, a
//! directory entry, a roster slot, a counter — without knowing where or how
//! it is kept. The same reads ([`Reader`]) answer from the store itself and
//! from inside a command, where the batch's staged writes lie over the
//! store (a [`View`] with layers), so a command reads its own writes.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;

use super::keys::{self, DeadlineOwner};
use super::page::{Page, Visit};
use super::{Store, TreeId, WriteSet, decode};
use crate::auth::tokens::TokenRecord;
use crate::directory::model::Entry;
use crate::engine::command::PolicyRecord;
use crate::error::Result;
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{AssigneeRef, Incident};
use crate::notify::gateway::Gateway;
use crate::rosters::handover::Handover;
use crate::rosters::model::{DutyRole, RosterConfig, Scope, ShiftId, Slot};
use crate::rosters::rollcall::RollCall;

/// The state as one reader sees it: the store, and the writes staged over
/// it, the newest first (each hides what lies under it).
pub struct View<'a> {
    store: &'a Store,
    layers: [Option<&'a WriteSet>; 2],
}

impl<'a> View<'a> {
    fn of(store: &'a Store) -> View<'a> {
        View {
            store,
            layers: [None, None],
        }
    }

    /// A command's view: its own `writes` over the `batch` so far, over
    /// `store`.
    pub(crate) fn staged(store: &'a Store, batch: &'a WriteSet, writes: &'a WriteSet) -> Self {
        View {
            store,
            layers: [Some(writes), Some(batch)],
        }
    }

    /// The bytes at `key`, undecoded.
    fn raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for layer in self.layers.iter().flatten() {
            if let Some(value) = layer.lookup(tree, key) {
                return Ok(value.map(<[u8]>::to_vec));
            }
        }
        self.store.get_raw(tree, key)
    }

    /// The decoded value at `key`.
    fn get<T: DeserializeOwned>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>> {
        self.raw(tree, key)?.map(|bytes| decode(&bytes)).transpose()
    }

    /// Every entry under `prefix`, in key order, as it is with the layers
    /// laid over the store.
    fn prefixed(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut entries: BTreeMap<Vec<u8>, Vec<u8>> = self
            .store
            .walk(tree, prefix, &Page::all(), |key, value| {
                Ok(Visit::Keep((key.to_vec(), value.to_vec())))
            })?
            .items
            .into_iter()
            .collect();
        for layer in self.layers.iter().rev().flatten() {
            for (key, value) in layer.prefixed(tree, prefix) {
                match value {
                    Some(value) => entries.insert(key.to_vec(), value.to_vec()),
                    None => entries.remove(key),
                };
            }
        }
        Ok(entries.into_iter().collect())
    }

    /// The incident ids an index holds under `prefix`.
    fn incident_ids(&self, prefix: &[u8]) -> Result<Vec<u64>> {
        self.prefixed(TreeId::Index, prefix)?
            .iter()
            .map(|(_, id)| keys::decode_u64(id))
            .collect()
    }

    /// Deadlines due at or before `now`, the first due first, at most
    /// `limit`, each with what it belongs to.
    pub(crate) fn due_deadlines(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Deadline, DeadlineOwner)>> {
        let end = keys::deadline_time(
            now.saturating_add(SignedDuration::from_millis(1))
                .unwrap_or(now),
        );
        let mut due: BTreeMap<Vec<u8>, Vec<u8>> = self
            .store
            .walk(TreeId::Deadlines, &[], &Page::first(limit), |key, value| {
                Ok(Visit::Keep((key.to_vec(), value.to_vec())))
            })?
            .items
            .into_iter()
            .filter(|(key, _)| key.as_slice() < end.as_slice())
            .collect();
        for layer in self.layers.iter().rev().flatten() {
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
                Ok((Deadline(key), owner))
            })
            .collect()
    }

    /// The id of the handover of `whose` change of `shift`, once opened.
    pub(crate) fn handover_of_shift(&self, shift: &ShiftId, whose: &Scope) -> Result<Option<u64>> {
        self.raw(TreeId::Index, &keys::shift_handover(shift, whose))?
            .map(|id| keys::decode_u64(&id))
            .transpose()
    }

    /// When the next scheduled roll-call is planned, if one is.
    pub(crate) fn scheduled_rollcall(&self) -> Result<Option<Timestamp>> {
        self.get(TreeId::State, &keys::meta("rollcall_next"))
    }

    /// What was remembered of the request `request_id` of token `token_id`.
    pub(crate) fn request<T: DeserializeOwned>(
        &self,
        token_id: &str,
        request_id: &str,
    ) -> Result<Option<T>> {
        self.get(TreeId::State, &keys::request(token_id, request_id))
    }
}

/// A counter the store keeps; ids and incident numbers are handed out from
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// The last incident id handed out: how many incidents there are.
    IncidentId,
    /// The last incident number of one local day (`YYYYMMDD`).
    IncidentOfDay(&'a str),
    /// The last alarm id.
    AlarmId,
    /// The last handover id.
    HandoverId,
    /// The last roll-call id.
    RollCallId,
}

impl Counter<'_> {
    /// The counter's key.
    pub(super) fn key(self) -> Vec<u8> {
        match self {
            Counter::IncidentId => keys::meta("next_incident_id"),
            Counter::IncidentOfDay(day) => keys::meta(&format!("day/{day}")),
            Counter::AlarmId => keys::meta("next_alarm_id"),
            Counter::HandoverId => keys::meta("next_handover_id"),
            Counter::RollCallId => keys::meta("next_rollcall_id"),
        }
    }
}

/// One planned deadline (an incident's clock, a post's answer to a
/// roll-call, the next scheduled roll-call), as [`View::due_deadlines`]
/// found it: what the timer removes once it has fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deadline(Vec<u8>);

impl Deadline {
    /// Is this deadline one of `incident`'s clocks as they stand? (A key
    /// left by an older state of the incident is not.)
    pub(crate) fn is_planned_for(&self, incident: &Incident) -> bool {
        keys::incident_deadlines(incident).contains(&self.0)
    }

    /// The deadline's key.
    pub(super) fn key(&self) -> &[u8] {
        &self.0
    }
}

/// Typed reads of the state, from the store ([`Store`]) or from inside a
/// command (the engine's scope, over a [`View`] with its staged writes).
pub trait Reader {
    /// The state as this reader sees it.
    fn view(&self) -> View<'_>;

    /// `assignee`'s assessment for the incidents received on local `day`
    /// (`YYYYMMDD`), drills or real ones.
    fn assessment_day(
        &self,
        day: &str,
        drill: bool,
        assignee: &AssigneeRef,
    ) -> Result<Option<crate::assessment::AssigneeDay>> {
        self.view()
            .get(TreeId::State, &keys::assessment_day(day, drill, assignee))
    }

    /// A slice's assessment for the incidents received on local `day`.
    fn assessment_slice_day(
        &self,
        day: &str,
        drill: bool,
        slice: &crate::assessment::Slice,
    ) -> Result<Option<crate::assessment::SliceDay>> {
        self.view().get(
            TreeId::State,
            &keys::assessment_slice_day(day, drill, slice)?,
        )
    }

    /// The incident with this internal id.
    fn incident(&self, id: u64) -> Result<Option<Incident>> {
        self.view().get(TreeId::State, &keys::incident(id))
    }

    /// The incident with this number (`YYYYMMDD-N`).
    fn incident_by_number(&self, number: &str) -> Result<Option<Incident>> {
        let view = self.view();
        match view.raw(TreeId::Index, &keys::number(number))? {
            Some(id) => view.get(TreeId::State, &keys::incident(keys::decode_u64(&id)?)),
            None => Ok(None),
        }
    }

    /// The ids of the open incidents `assignee` is involved in, in id order.
    fn open_incident_ids_of(&self, assignee: &AssigneeRef) -> Result<Vec<u64>> {
        self.view()
            .incident_ids(&keys::assignee_open_prefix(assignee))
    }

    /// The ids of the open incidents in `post`'s territory, in id order.
    fn open_incident_ids_in_territory(&self, post: &str) -> Result<Vec<u64>> {
        self.view().incident_ids(&keys::territory_open_prefix(post))
    }

    /// The directory entry with this id.
    fn entry<T: Entry>(&self, id: &str) -> Result<Option<T>> {
        self.view().get(TreeId::State, &keys::entry(T::KIND, id))
    }

    /// Every entry of a kind, retired ones included, by id.
    fn entries<T: Entry>(&self) -> Result<Vec<T>> {
        self.view()
            .prefixed(TreeId::State, &keys::entry_prefix(T::KIND))?
            .iter()
            .map(|(_, bytes)| decode(bytes))
            .collect()
    }

    /// Who is rostered for `role` of `scope` in `shift`, if the slot was
    /// ever set.
    fn slot(&self, shift: &ShiftId, scope: &Scope, role: DutyRole) -> Result<Option<Slot>> {
        self.view()
            .get(TreeId::State, &keys::slot(shift, scope, role))
    }

    /// The roster's shape (empty when never set).
    fn roster_config(&self) -> Result<RosterConfig> {
        Ok(self
            .view()
            .get(TreeId::State, &keys::roster_config())?
            .unwrap_or_default())
    }

    /// The escalation policy as last set, if it ever was.
    fn policy_record(&self) -> Result<Option<PolicyRecord>> {
        self.view().get(TreeId::State, &keys::meta("policy"))
    }

    /// The token with this id.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        self.view().get(TreeId::State, &keys::token(id))
    }

    /// The alarm with this id.
    fn alarm(&self, id: u64) -> Result<Option<Alarm>> {
        self.view().get(TreeId::State, &keys::alarm(id))
    }

    /// Every notification gateway, by id (never their secrets).
    fn gateways(&self) -> Result<Vec<Gateway>> {
        self.view()
            .prefixed(TreeId::State, keys::GATEWAYS)?
            .iter()
            .map(|(_, bytes)| decode(bytes))
            .collect()
    }

    /// The gateway with this id.
    fn gateway(&self, id: &str) -> Result<Option<Gateway>> {
        self.view().get(TreeId::State, &keys::gateway(id))
    }

    /// A gateway's secret, for signing what is sent to it.
    fn gateway_secret(&self, id: &str) -> Result<Option<String>> {
        self.view().get(TreeId::State, &keys::gateway_secret(id))
    }

    /// The notifications still owed to a gateway: (alarm id, key), oldest
    /// alarm first.
    fn owed_notifications(&self) -> Result<Vec<(u64, String)>> {
        self.view()
            .prefixed(TreeId::Index, keys::OWED_NOTIFICATIONS)?
            .iter()
            .map(|(key, _)| keys::parse_owed_notification(key))
            .collect()
    }

    /// The handover with this id.
    fn handover(&self, id: u64) -> Result<Option<Handover>> {
        self.view().get(TreeId::State, &keys::handover(id))
    }

    /// The roll-call with this id.
    fn rollcall(&self, id: u64) -> Result<Option<RollCall>> {
        self.view().get(TreeId::State, &keys::rollcall(id))
    }

    /// A counter's value (0 when never counted).
    fn counter(&self, counter: Counter<'_>) -> Result<u64> {
        Ok(self
            .view()
            .get::<u64>(TreeId::State, &counter.key())?
            .unwrap_or(0))
    }
}

impl Reader for Store {
    fn view(&self) -> View<'_> {
        View::of(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: u64, summary: &str) -> Incident {
        crate::store::fixtures::incident(id, &format!("20260101-{id}"), summary, Some("xinhua"))
    }

    /// A command reads its own writes over the batch's over the store's,
    /// one value or a whole list.
    #[test]
    fn a_staged_view_lays_the_newest_writes_over_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut stored = WriteSet::default();
        for id in [1, 2] {
            stored
                .put_incident(None, &incident(id, "stored"))
                .expect("stage");
        }
        stored.put_counter(Counter::AlarmId, 5).expect("stage");
        store.commit(&stored).expect("commit");

        let mut batch = WriteSet::default();
        batch
            .put_incident(None, &incident(3, "batch"))
            .expect("stage");
        batch.put_counter(Counter::AlarmId, 6).expect("stage");
        let mut writes = WriteSet::default();
        writes
            .put_incident(None, &incident(1, "mine"))
            .expect("stage");
        // The command's own removal hides what the store holds.
        writes.remove(
            TreeId::Index,
            keys::with_id(keys::territory_open_prefix("xinhua"), 2),
        );

        struct Staged<'a>(&'a Store, &'a WriteSet, &'a WriteSet);
        impl Reader for Staged<'_> {
            fn view(&self) -> View<'_> {
                View::staged(self.0, self.1, self.2)
            }
        }
        let staged = Staged(&store, &batch, &writes);
        let summary = |found: Result<Option<Incident>>| {
            found.expect("read").map(|incident| incident.intake.summary)
        };
        assert_eq!(summary(staged.incident(1)).as_deref(), Some("mine"));
        assert_eq!(summary(store.incident(1)).as_deref(), Some("stored"));
        assert_eq!(summary(staged.incident(3)).as_deref(), Some("batch"));
        assert_eq!(summary(store.incident(3)), None);
        assert_eq!(staged.counter(Counter::AlarmId).expect("read"), 6);
        assert_eq!(store.counter(Counter::AlarmId).expect("read"), 5);
        assert_eq!(
            staged
                .open_incident_ids_in_territory("xinhua")
                .expect("read"),
            vec![1, 3]
        );
        assert_eq!(
            store
                .open_incident_ids_in_territory("xinhua")
                .expect("read"),
            vec![1, 2]
        );
        assert_eq!(
            staged
                .incident_by_number("20260101-3")
                .expect("read")
                .map(|i| i.id),
            Some(3)
        );
    }
}
