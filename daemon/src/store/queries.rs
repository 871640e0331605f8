//! The store's lists, as the services read them: incidents by the most
//! selective index a filter allows, alarms, roll-calls, handovers, tokens,
//! and the next deadline. Each pages through [`Store::walk`]; which keys a
//! list walks is decided here and nowhere else.

use jiff::Timestamp;

use super::keys;
use super::page::{Page, PageCursor, Paged, Visit};
use super::{Store, TreeId, decode};
use crate::assessment::{AssigneeDay, Slice, SliceDay};
use crate::auth::tokens::TokenRecord;
use crate::error::Result;
use crate::escalation::alarm::Alarm;
use crate::incidents::model::{AssigneeRef, Incident, Status};
use crate::rosters::handover::Handover;
use crate::rosters::rollcall::RollCall;

/// Which incidents a list walks, and in what order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentList {
    /// Every incident, by id.
    All,
    /// The open incidents, by id.
    Open,
    /// The incidents in one status, by id.
    InStatus(Status),
    /// One local day's incidents (`YYYYMMDD`), in number order.
    OfDay(String),
    /// The incidents that ever had an assignment for a post or unit, by id.
    AssignedTo(AssigneeRef),
    /// The open incidents a post or unit is involved in, by id.
    OpenFor(AssigneeRef),
}

impl IncidentList {
    /// The keyspace and prefix the list walks.
    fn keys(&self) -> (TreeId, Vec<u8>) {
        match self {
            IncidentList::All => (TreeId::State, keys::INCIDENTS.to_vec()),
            IncidentList::Open => (TreeId::Index, keys::OPEN.to_vec()),
            IncidentList::InStatus(status) => (TreeId::Index, keys::status_prefix(status.code())),
            IncidentList::OfDay(day) => (TreeId::Index, keys::day_prefix(day)),
            IncidentList::AssignedTo(assignee) => (TreeId::Index, keys::assignee_prefix(assignee)),
            IncidentList::OpenFor(assignee) => {
                (TreeId::Index, keys::assignee_open_prefix(assignee))
            }
        }
    }

    /// Is `cursor` a place in this list (and not in another list's)?
    pub fn holds(&self, cursor: &PageCursor) -> bool {
        cursor.key().starts_with(&self.keys().1)
    }
}

/// One day's assessment rollup, as [`Store::assessment_days`] hands it out.
#[derive(Debug, Clone)]
pub struct Rollup {
    /// The local day (`YYYYMMDD`) of the incidents it counts.
    pub day: String,
    /// Drills, or real incidents.
    pub drill: bool,
    /// Whose figures.
    pub of: RollupOf,
}

/// Whose figures a rollup holds, before they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupSubject {
    /// A post's or unit's.
    Assignee(AssigneeRef),
    /// A slice's.
    Slice(Slice),
}

/// Whose figures a [`Rollup`] holds.
#[derive(Debug, Clone)]
pub enum RollupOf {
    /// A post's or unit's.
    Assignee(AssigneeRef, AssigneeDay),
    /// A slice's (category, severity, source, place).
    Slice(Slice, SliceDay),
}

/// Which alarms a list walks, in id (raise) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmList {
    /// Every alarm.
    All,
    /// The alarms nobody has acknowledged yet.
    Unacknowledged,
}

impl AlarmList {
    /// The keyspace and prefix the list walks.
    fn keys(self) -> (TreeId, &'static [u8]) {
        match self {
            AlarmList::All => (TreeId::State, keys::ALARMS),
            AlarmList::Unacknowledged => (TreeId::Index, keys::UNACKNOWLEDGED_ALARMS),
        }
    }

    /// The place in this list just after alarm `id`.
    pub fn after_alarm(self, id: u64) -> PageCursor {
        PageCursor::at(match self {
            AlarmList::All => keys::alarm(id),
            AlarmList::Unacknowledged => keys::unacknowledged_alarm(id),
        })
    }
}

impl Store {
    /// One page of `list`, each incident handed to `visit`. Incidents an
    /// index names but the store no longer holds are passed over.
    pub fn incidents<T>(
        &self,
        list: &IncidentList,
        page: &Page,
        mut visit: impl FnMut(Incident) -> Result<Visit<T>>,
    ) -> Result<Paged<T>> {
        let (tree, prefix) = list.keys();
        self.walk(tree, &prefix, page, |_, value| {
            let incident = if tree == TreeId::State {
                self.decoded_incident(value)?
            } else {
                let key = keys::incident(keys::decode_u64(value)?);
                match self.get_raw(TreeId::State, &key)? {
                    Some(raw) => self.decoded_incident(&raw)?,
                    None => return Ok(Visit::Skip),
                }
            };
            visit(incident)
        })
    }

    /// One page of the incidents received from local day `from` to `to`
    /// (`YYYYMMDD`, inclusive), in number order, each handed to `visit`.
    /// A page that starts at a place outside those days is refused.
    pub fn incidents_received<T>(
        &self,
        from: &str,
        to: &str,
        page: &Page,
        mut visit: impl FnMut(Incident) -> Result<Visit<T>>,
    ) -> Result<Paged<T>> {
        let first = keys::day_prefix(from);
        let last = keys::day_prefix(to);
        if let Some(place) = page.place() {
            let day = place.key().get(..last.len());
            if !day.is_some_and(|day| day >= first.as_slice() && day <= last.as_slice()) {
                return Err(crate::error::Error::invalid(
                    "page_token",
                    "is not a place in this period's incidents: ask for the first page again",
                ));
            }
        }
        let page = page.clone().or_after(PageCursor::at(first));
        self.walk(TreeId::Index, &keys::day_prefix(""), &page, |key, value| {
            if key
                .get(..last.len())
                .is_none_or(|day| day > last.as_slice())
            {
                return Ok(Visit::Stop);
            }
            let key = keys::incident(keys::decode_u64(value)?);
            match self.get_raw(TreeId::State, &key)? {
                Some(raw) => visit(self.decoded_incident(&raw)?),
                None => Ok(Visit::Skip),
            }
        })
    }

    /// The first and last ids of the incidents received from local day
    /// `from` to `to` (`YYYYMMDD`, inclusive); none when there are none.
    /// Ids grow with intake, so every id between was received in those days.
    pub fn incident_ids_received(&self, from: &str, to: &str) -> Result<Option<(u64, u64)>> {
        let first_key = keys::day_prefix(from);
        let last_key = keys::day_prefix(to);
        let all = keys::day_prefix("");
        let in_days = |key: &[u8]| {
            key.get(..last_key.len())
                .is_some_and(|day| day >= first_key.as_slice() && day <= last_key.as_slice())
        };
        let first = self.walk(
            TreeId::Index,
            &all,
            &Page::first(1).after(Some(PageCursor::at(first_key.clone()))),
            |key, value| {
                Ok(if in_days(key) {
                    Visit::Keep(keys::decode_u64(value)?)
                } else {
                    Visit::Stop
                })
            },
        )?;
        let mut end = last_key.clone();
        end.extend_from_slice(&[0xFF; 5]);
        let last = self.walk(
            TreeId::Index,
            &all,
            &Page::first(1)
                .newest_first()
                .after(Some(PageCursor::at(end))),
            |key, value| {
                Ok(if in_days(key) {
                    Visit::Keep(keys::decode_u64(value)?)
                } else {
                    Visit::Stop
                })
            },
        )?;
        Ok(match (first.items.first(), last.items.first()) {
            (Some(first), Some(last)) if first <= last => Some((*first, *last)),
            _ => None,
        })
    }

    /// The largest id at or below `at_most` of an incident holding the text
    /// bigram `gram` (see [`crate::history::search`]).
    pub fn incident_with_gram(&self, gram: &str, at_most: u64) -> Result<Option<u64>> {
        let prefix = keys::search_gram_prefix(gram);
        let page = Page::first(1).newest_first();
        let page = match at_most.checked_add(1) {
            Some(end) => page.after(Some(PageCursor::at(keys::with_id(prefix.clone(), end)))),
            None => page,
        };
        let found = self.walk(TreeId::Index, &prefix, &page, |key, _| {
            Ok(Visit::Keep(keys::search_key_id(key)?))
        })?;
        Ok(found.items.first().copied())
    }

    /// Ids of the incidents whose caller's phone ends with the digits that
    /// `reversed` holds last first, at most `limit`, in no useful order.
    pub fn incidents_with_phone_tail(&self, reversed: &str, limit: usize) -> Result<Vec<u64>> {
        self.search_ids(&keys::search_phone_prefix(reversed), limit)
    }

    /// Ids of the incidents whose caller's name has pinyin initials
    /// beginning with `initials`, at most `limit`, in no useful order.
    pub fn incidents_with_initials(&self, initials: &str, limit: usize) -> Result<Vec<u64>> {
        self.search_ids(&keys::search_initials_prefix(initials), limit)
    }

    fn search_ids(&self, prefix: &[u8], limit: usize) -> Result<Vec<u64>> {
        Ok(self
            .walk(TreeId::Index, prefix, &Page::first(limit), |key, _| {
                Ok(Visit::Keep(keys::search_key_id(key)?))
            })?
            .items)
    }

    /// One page of `list`, each alarm handed to `visit`. Alarms the index
    /// names but the store no longer holds are passed over.
    pub fn alarms<T>(
        &self,
        list: AlarmList,
        page: &Page,
        mut visit: impl FnMut(Alarm) -> Result<Visit<T>>,
    ) -> Result<Paged<T>> {
        let (tree, prefix) = list.keys();
        self.walk(tree, prefix, page, |_, value| {
            let alarm = if tree == TreeId::State {
                decode(value)?
            } else {
                match self.get(TreeId::State, &keys::alarm(keys::decode_u64(value)?))? {
                    Some(alarm) => alarm,
                    None => return Ok(Visit::Skip),
                }
            };
            visit(alarm)
        })
    }

    /// One page of the roll-calls, in id (send) order, each handed to
    /// `visit`.
    pub fn rollcalls<T>(
        &self,
        page: &Page,
        mut visit: impl FnMut(RollCall) -> Result<Visit<T>>,
    ) -> Result<Paged<T>> {
        self.walk(TreeId::State, keys::ROLLCALLS, page, |_, value| {
            visit(decode(value)?)
        })
    }

    /// Every handover, by id.
    pub fn handovers(&self) -> Result<Vec<Handover>> {
        self.everything(keys::HANDOVERS)
    }

    /// Every token record, by token id.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.everything(keys::TOKENS)
    }

    /// When the first planned deadline is due, if any is planned.
    pub fn next_deadline(&self) -> Result<Option<Timestamp>> {
        self.walk(TreeId::Deadlines, &[], &Page::first(1), |key, _| {
            keys::deadline_at(key).map(Visit::Keep)
        })
        .map(|first| first.items.into_iter().next())
    }

    /// The assessment rollups of the local days `from..=to` (`YYYYMMDD`)
    /// that `want` (drill or not, whose) asks for, decoded and handed to
    /// `visit` in day order; the rest are passed over undecoded, as are
    /// keys this build does not know.
    pub fn assessment_days(
        &self,
        from: &str,
        to: &str,
        want: impl Fn(bool, &RollupSubject) -> bool,
        mut visit: impl FnMut(Rollup),
    ) -> Result<()> {
        let start = PageCursor::at(keys::assessment_days_from(from));
        let page = Page::all().after(Some(start));
        self.walk(TreeId::State, keys::ASSESSMENT_DAYS, &page, |key, value| {
            let Some((day, drill, about)) = keys::parse_assessment_key(key) else {
                return Ok(Visit::Skip);
            };
            if day.as_str() > to {
                return Ok(Visit::Stop);
            }
            if !want(drill, &about) {
                return Ok(Visit::Skip);
            }
            let of = match about {
                RollupSubject::Assignee(who) => RollupOf::Assignee(who, decode(value)?),
                RollupSubject::Slice(slice) => RollupOf::Slice(slice, decode(value)?),
            };
            visit(Rollup { day, drill, of });
            Ok(Visit::<()>::Skip)
        })?;
        Ok(())
    }

    /// Every state value under `prefix`, decoded, in key order.
    fn everything<T: serde::de::DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>> {
        Ok(self
            .walk(TreeId::State, prefix, &Page::all(), |_, value| {
                decode(value).map(Visit::Keep)
            })?
            .items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Principal;
    use crate::escalation::alarm::AlarmKind;
    use crate::store::WriteSet;

    fn incident(id: u64, number: &str) -> Incident {
        crate::store::fixtures::incident(id, number, "smoke", None)
    }

    fn alarm(id: u64, acknowledged: bool) -> Alarm {
        Alarm {
            id,
            raised_at: Timestamp::UNIX_EPOCH,
            raised_by: Principal::system(),
            kind: AlarmKind::ModeSwitched,
            level: 1,
            incident: None,
            incident_id: None,
            assignment: None,
            assignee: None,
            post: Some("xinhua".into()),
            reason: format!("alarm {id}"),
            targets: Vec::new(),
            late_by_secs: None,
            acknowledged_at: acknowledged.then_some(Timestamp::UNIX_EPOCH),
            acknowledged_by: None,
            acknowledgement_note: None,
            drill: false,
            notifications: Vec::new(),
        }
    }

    fn keep<T>(item: T) -> Result<Visit<T>> {
        Ok(Visit::Keep(item))
    }

    #[test]
    fn incident_lists_page_by_their_index_and_refuse_another_lists_cursor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut writes = WriteSet::default();
        for id in 1..=3 {
            writes
                .put_incident(None, &incident(id, &format!("20260101-{id}")))
                .expect("stage");
        }
        writes
            .put_incident(None, &incident(4, "20260102-1"))
            .expect("stage");
        // An index entry whose incident is gone is passed over.
        writes.remove(TreeId::State, keys::incident(2));
        store.commit(&writes).expect("commit");

        let day = IncidentList::OfDay("20260101".into());
        let first = store
            .incidents(&day, &Page::first(1), keep)
            .expect("first page");
        assert_eq!(first.items.len(), 1);
        assert_eq!(first.items[0].id, 1);
        let cursor = first.next.expect("a full page goes on");
        assert!(day.holds(&cursor));
        assert!(!IncidentList::OfDay("20260102".into()).holds(&cursor));
        assert!(!IncidentList::All.holds(&cursor));
        let rest = store
            .incidents(&day, &Page::first(5).after(Some(cursor)), keep)
            .expect("next page");
        let ids: Vec<u64> = rest.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![3]);
        assert!(rest.next.is_none());

        let all = store
            .incidents(&IncidentList::All, &Page::all(), keep)
            .expect("all");
        let ids: Vec<u64> = all.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![1, 3, 4]);
    }

    #[test]
    fn acknowledged_alarms_leave_the_unacknowledged_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut writes = WriteSet::default();
        for id in 1..=4 {
            writes.put_alarm(&alarm(id, false)).expect("stage");
        }
        store.commit(&writes).expect("commit");
        let mut writes = WriteSet::default();
        writes.put_alarm(&alarm(2, true)).expect("stage");
        store.commit(&writes).expect("commit");

        let ids = |list: AlarmList, page: &Page| -> Vec<u64> {
            store
                .alarms(list, page, |alarm| keep(alarm.id))
                .expect("alarms")
                .items
        };
        assert_eq!(ids(AlarmList::All, &Page::all()), vec![1, 2, 3, 4]);
        assert_eq!(ids(AlarmList::Unacknowledged, &Page::all()), vec![1, 3, 4]);
        let after_one = AlarmList::Unacknowledged.after_alarm(1);
        assert_eq!(
            ids(
                AlarmList::Unacknowledged,
                &Page::first(1).after(Some(after_one))
            ),
            vec![3]
        );
        assert_eq!(
            ids(AlarmList::All, &Page::all().newest_first()),
            vec![4, 3, 2, 1]
        );
    }
}
