//! How the journal keyspace is laid out: records packed in groups.
//!
//! sled keeps per-page metadata in memory for as long as the store is open,
//! and splits a leaf at 17 keys whatever their size, so its resident memory
//! grows with the number of keys, not bytes (measured here: ~33 MB per
//! million keys, the same for 8-byte and 900-byte values). One key per
//! journal record made the journal most of the store's keys. Records are
//! therefore packed [`GROUP`] to a key: `G` + group number (big-endian),
//! valued with the records in seq order, each as seq (u64 BE), length (u32
//! BE) and the record's bytes exactly as hashed.
//!
//! The engine still stages a record under its seq ([`super::keys::seq`]);
//! [`Store::commit`](super::Store::commit) appends staged records to their
//! group. The writer is the only committer, so the newest group is kept in
//! memory ([`Tail`]) and never read back before an append.
//!
//! Stores written before groups (format v1, a key per seq) are converted
//! when opened, a few thousand records per atomic batch; a conversion cut
//! short by a crash carries on at the next open.

use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};

use super::{Store, TreeId, storage};

/// Records per journal key.
pub const GROUP: u64 = 16;

/// The first byte of a group key (a v1 per-seq key starts with 0x00).
const GROUP_TAG: u8 = b'G';

/// The key of the group holding `seq`.
pub fn group_key(seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(GROUP_TAG);
    key.extend_from_slice(&(seq / GROUP).to_be_bytes());
    key
}

/// Appends one record to a group's bytes.
fn push_entry(group: &mut Vec<u8>, seq: u64, record: &[u8]) -> Result<()> {
    let len = u32::try_from(record.len())
        .map_err(|_| Error::Storage(format!("journal record {seq} is over 4 GiB")))?;
    group.extend_from_slice(&seq.to_be_bytes());
    group.extend_from_slice(&len.to_be_bytes());
    group.extend_from_slice(record);
    Ok(())
}

/// The records of a group's bytes, in seq order.
pub fn entries(group: &[u8]) -> Result<Vec<(u64, &[u8])>> {
    let mut found = Vec::with_capacity(GROUP as usize);
    let mut rest = group;
    while !rest.is_empty() {
        let damaged = || Error::Storage("a journal group is truncated or damaged".to_owned());
        let (seq, after) = rest.split_first_chunk::<8>().ok_or_else(damaged)?;
        let (len, after) = after.split_first_chunk::<4>().ok_or_else(damaged)?;
        let len = u32::from_be_bytes(*len) as usize;
        if after.len() < len {
            return Err(damaged());
        }
        let (record, after) = after.split_at(len);
        found.push((u64::from_be_bytes(*seq), record));
        rest = after;
    }
    Ok(found)
}

fn last_seq(group: &[u8]) -> Result<Option<u64>> {
    Ok(entries(group)?.last().map(|(seq, _)| *seq))
}

/// The newest group as last committed, so that appending never reads it.
#[derive(Clone, Default)]
pub(super) struct Tail(Arc<Mutex<Option<Group>>>);

/// A group's number and bytes.
type Group = (u64, Vec<u8>);

impl Tail {
    /// Takes it for a commit; [`Store::remember_tail`] puts the new one back
    /// once the batch is applied. A commit that fails leaves it empty, and
    /// the next one reads the group from the store.
    fn take(&self) -> Option<Group> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    pub(super) fn set(&self, group: u64, bytes: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((group, bytes));
    }
}

/// Staged records packed into their groups, ready for the batch.
pub(super) struct Packed {
    /// Group key → its new bytes.
    pub groups: Vec<(Vec<u8>, Vec<u8>)>,
    /// The newest group after this commit, for [`Tail`].
    pub tail: Option<Group>,
}

/// Packs staged `(seq, record)` pairs (in seq order) into their groups, on
/// top of what `tree` holds (or `tail` remembers). Refuses a seq that is not
/// after its group's last — the journal only grows — or, when `tolerant`,
/// skips it (replaying over a backup's copy, which may hold it already).
pub(super) fn pack<'a>(
    tree: &sled::Tree,
    tail: &Tail,
    staged: impl Iterator<Item = (u64, &'a [u8])>,
    tolerant: bool,
) -> Result<Packed> {
    let mut groups: Vec<Group> = Vec::new();
    let mut tail = tail.take();
    // The seq each group being built ends with, read once per group.
    let mut last = None;
    for (seq, record) in staged {
        let group = seq / GROUP;
        if groups.last().is_none_or(|(g, _)| *g != group) {
            let base = match tail.take() {
                Some((g, bytes)) if g == group => bytes,
                _ => stored_group(tree, seq)?.unwrap_or_default(),
            };
            last = last_seq(&base)?;
            groups.push((group, base));
        }
        let (_, bytes) = groups.last_mut().ok_or_else(|| {
            Error::Storage("packing the journal: no group to append to".to_owned())
        })?;
        if let Some(last) = last
            && seq <= last
        {
            if tolerant {
                continue;
            }
            return Err(Error::Storage(format!(
                "journal record {seq} would not come after record {last}"
            )));
        }
        push_entry(bytes, seq, record)?;
        last = Some(seq);
    }
    let tail = groups.last().cloned();
    Ok(Packed {
        groups: groups
            .into_iter()
            .map(|(group, bytes)| (group_key(group * GROUP), bytes))
            .collect(),
        tail,
    })
}

fn stored_group(tree: &sled::Tree, seq: u64) -> Result<Option<Vec<u8>>> {
    Ok(tree
        .get(TreeId::Journal.key(&group_key(seq)))
        .map_err(storage)?
        .map(|bytes| bytes.to_vec()))
}

/// The newest journal record in `tree`: its seq and bytes.
pub(super) fn last_record(tree: &sled::Tree) -> Result<Option<(u64, Vec<u8>)>> {
    let last = tree
        .scan_prefix(TreeId::Journal.key(&[GROUP_TAG]))
        .next_back()
        .transpose()
        .map_err(storage)?;
    let Some((_, group)) = last else {
        return Ok(None);
    };
    Ok(entries(&group)?
        .last()
        .map(|(seq, record)| (*seq, record.to_vec())))
}

/// Converts a v1 journal (a key per seq) to groups; returns how many
/// records moved. Each batch moves whole runs of records and removes their
/// old keys, so it can stop anywhere and carry on later.
pub(super) fn group_old_journal(tree: &sled::Tree) -> Result<u64> {
    const CHUNK: usize = 4096;
    // v1 keys are the 8-byte big-endian seq; seqs stay far below 2^56, so
    // they all start with a zero byte.
    let old_prefix = TreeId::Journal.key(&[0]);
    let mut moved = 0;
    loop {
        let mut old = Vec::with_capacity(CHUNK);
        for item in tree.scan_prefix(&old_prefix).take(CHUNK) {
            let (key, record) = item.map_err(storage)?;
            let seq = super::keys::decode_u64(&key[1..])?;
            old.push((key, seq, record));
        }
        if old.is_empty() {
            return Ok(moved);
        }
        // Nothing is cached: every group is read from the store.
        let packed = pack(
            tree,
            &Tail::default(),
            old.iter().map(|(_, seq, record)| (*seq, record.as_ref())),
            false,
        )?;
        let mut batch = sled::Batch::default();
        for (key, bytes) in packed.groups {
            batch.insert(TreeId::Journal.key(&key), bytes);
        }
        for (key, _, _) in &old {
            batch.remove(key.as_ref());
        }
        tree.apply_batch(batch)
            .map_err(|e| Error::Storage(format!("grouping the journal: {e}")))?;
        moved += old.len() as u64;
    }
}

impl Store {
    /// The stored bytes of journal record `seq`.
    pub fn journal_record(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let Some(group) = stored_group(&self.tree, seq)? else {
            return Ok(None);
        };
        Ok(entries(&group)?
            .into_iter()
            .find(|(found, _)| *found == seq)
            .map(|(_, record)| record.to_vec()))
    }

    /// Journal records after `after`, in seq order, at most `limit`.
    pub fn journal_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut found = Vec::new();
        let start = TreeId::Journal.key(&group_key(after.saturating_add(1)));
        let prefix = TreeId::Journal.key(&[GROUP_TAG]);
        for item in self.tree.range(start..) {
            let (key, group) = item.map_err(storage)?;
            if !key.starts_with(&prefix) {
                break;
            }
            for (seq, record) in entries(&group)? {
                if seq <= after {
                    continue;
                }
                if found.len() >= limit {
                    return Ok(found);
                }
                found.push((seq, record.to_vec()));
            }
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// The newest journal record: its seq and bytes.
    pub(super) fn last_journal_record(&self) -> Result<Option<(u64, Vec<u8>)>> {
        last_record(&self.tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{WriteSet, keys};

    fn stage(store: &Store, seqs: std::ops::RangeInclusive<u64>) {
        let mut writes = WriteSet::default();
        let mut head = None;
        for seq in seqs {
            let record = format!("record {seq}").into_bytes();
            head = Some(crate::store::Head {
                seq,
                hash: crate::store::record_hash(&record),
            });
            writes.put(TreeId::Journal, keys::seq(seq), record);
        }
        // As the engine does: the head goes with its records.
        if let Some(head) = head {
            let head = crate::store::encode(&head).expect("head");
            writes.put(TreeId::State, keys::meta("head"), head);
        }
        store.commit(&writes).expect("commit");
    }

    #[test]
    fn records_read_back_by_seq_and_in_order_across_groups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        // Commits of different sizes, crossing group boundaries.
        stage(&store, 1..=1);
        stage(&store, 2..=20);
        stage(&store, 21..=21);
        stage(&store, 22..=70);
        for seq in [1, 15, 16, 17, 31, 32, 70] {
            let bytes = store.journal_record(seq).expect("read").expect("there");
            assert_eq!(bytes, format!("record {seq}").into_bytes());
        }
        assert!(store.journal_record(71).expect("read").is_none());
        let all: Vec<u64> = store
            .journal_after(0, 1000)
            .expect("scan")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(all, (1..=70).collect::<Vec<_>>());
        let page: Vec<u64> = store
            .journal_after(14, 5)
            .expect("scan")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(page, vec![15, 16, 17, 18, 19]);
        assert_eq!(
            store.last_journal_record().expect("last").map(|(s, _)| s),
            Some(70)
        );
        // 70 records in 5 keys (groups 0..=4).
        assert_eq!(store.count(TreeId::Journal, &[GROUP_TAG]), 5);
    }

    #[test]
    fn the_journal_never_takes_a_seq_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        stage(&store, 1..=3);
        let mut writes = WriteSet::default();
        writes.put(TreeId::Journal, keys::seq(3), b"again".to_vec());
        let error = store.commit(&writes).expect_err("refused");
        assert!(error.to_string().contains("record 3"), "{error}");
        assert_eq!(
            store.journal_record(3).expect("read"),
            Some(b"record 3".to_vec())
        );
    }

    #[test]
    fn appends_after_reopening_read_the_stored_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            stage(&store, 1..=5);
            store.checkpoint().expect("checkpoint");
        }
        let store = Store::open(dir.path(), 8 << 20).expect("reopen");
        stage(&store, 6..=6);
        let all = store.journal_after(0, 100).expect("scan");
        assert_eq!(all.len(), 6);
        assert_eq!(all[5].1, b"record 6".to_vec());
    }

    #[test]
    fn a_v1_store_is_converted_when_opened_and_keeps_its_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut hashes = Vec::new();
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            // What a v1 dutyd wrote: a key per seq, and its format key.
            for seq in 1..=40u64 {
                let record = format!("record {seq}").into_bytes();
                hashes.push(crate::store::record_hash(&record));
                store
                    .tree
                    .insert(TreeId::Journal.key(&keys::seq(seq)), record)
                    .expect("insert");
            }
            let mut writes = WriteSet::default();
            writes.put(
                TreeId::State,
                keys::meta("format"),
                b"dutyroom-store-v1".to_vec(),
            );
            let head = crate::store::Head {
                seq: 40,
                hash: hashes[39].clone(),
            };
            writes.put(
                TreeId::State,
                keys::meta("head"),
                crate::store::encode(&head).expect("head"),
            );
            store.commit(&writes).expect("commit");
            store.checkpoint().expect("checkpoint");
        }
        let store = Store::open(dir.path(), 8 << 20).expect("converted");
        assert_eq!(store.head().expect("head").seq, 40);
        assert_eq!(store.count(TreeId::Journal, &[0]), 0, "no v1 keys left");
        let all = store.journal_after(0, 100).expect("scan");
        assert_eq!(all.len(), 40);
        for (seq, bytes) in &all {
            assert_eq!(crate::store::record_hash(bytes), hashes[*seq as usize - 1]);
        }
        let format = store
            .get_raw(TreeId::State, &keys::meta("format"))
            .expect("read");
        assert_eq!(
            format.as_deref(),
            Some(crate::store::FORMAT_VERSION.as_bytes())
        );
        stage(&store, 41..=41);
        assert_eq!(store.journal_after(39, 10).expect("scan").len(), 2);
    }

    #[test]
    fn a_damaged_group_is_an_error_not_a_panic() {
        assert!(entries(&[0, 0, 0]).is_err());
        let mut group = Vec::new();
        push_entry(&mut group, 1, b"abc").expect("push");
        group.truncate(group.len() - 1);
        assert!(entries(&group).is_err());
    }
}
