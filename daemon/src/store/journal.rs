//! Where journal records are: in the write-ahead journal's segments, found
//! through an index sled keeps.
//!
//! A record's bytes (exactly as hashed) are written once, inside the frame of
//! the batch that made it ([`super::wal`]). sled keeps only where they are:
//! `L` + (seq / [`INDEX_GROUP`]) (big-endian) → that group's entries in seq
//! order, each seq, segment, byte offset and length ([`Location`], 28 bytes,
//! big-endian). A group of 64 entries is under 2 KiB: appending to it costs
//! little, and sled — whose memory grows with its number of keys — holds one
//! key per 64 records. The writer is the only committer, so the newest group
//! is kept in memory ([`Tail`]) and never read back before an append.
//!
//! Stores before the write-ahead journal kept the records in sled itself:
//! format v1 a key per seq (`0x00…`), v2 packed 16 to a key (`G` + group,
//! each record as seq, length, bytes). [`legacy_records`] reads them for the
//! conversion in [`super::Store::open`].

use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};

use super::{TreeId, storage};

/// Index entries per sled key.
pub const INDEX_GROUP: u64 = 64;

/// The first byte of an index key.
const INDEX_TAG: u8 = b'L';

/// Bytes per index entry.
const ENTRY: usize = 8 + 8 + 8 + 4;

/// Where one record's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The record's seq.
    pub seq: u64,
    /// The segment (by its first lsn).
    pub segment: u64,
    /// Byte offset in the segment file.
    pub offset: u64,
    /// Length in bytes.
    pub len: u32,
}

/// The index key of the group holding `seq`.
pub fn index_key(seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(INDEX_TAG);
    key.extend_from_slice(&(seq / INDEX_GROUP).to_be_bytes());
    key
}

fn push_entry(group: &mut Vec<u8>, location: &Location) {
    group.extend_from_slice(&location.seq.to_be_bytes());
    group.extend_from_slice(&location.segment.to_be_bytes());
    group.extend_from_slice(&location.offset.to_be_bytes());
    group.extend_from_slice(&location.len.to_be_bytes());
}

/// The entries of an index group, in seq order.
pub fn entries(group: &[u8]) -> Result<Vec<Location>> {
    if !group.len().is_multiple_of(ENTRY) {
        return Err(Error::Storage(
            "a journal index group is truncated or damaged".to_owned(),
        ));
    }
    Ok(group
        .chunks_exact(ENTRY)
        .map(|entry| {
            let u64_at = |at: usize| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&entry[at..at + 8]);
                u64::from_be_bytes(bytes)
            };
            let mut len = [0u8; 4];
            len.copy_from_slice(&entry[24..28]);
            Location {
                seq: u64_at(0),
                segment: u64_at(8),
                offset: u64_at(16),
                len: u32::from_be_bytes(len),
            }
        })
        .collect())
}

/// The newest index group as last applied, so that appending never reads it.
#[derive(Clone, Default)]
pub(super) struct Tail(Arc<Mutex<Option<Group>>>);

/// A group's number and bytes.
type Group = (u64, Vec<u8>);

impl Tail {
    /// Takes it for an apply; [`Tail::set`] puts the new one back once the
    /// batch is applied. An apply that fails leaves it empty, and the next
    /// one reads the group from the store.
    fn take(&self) -> Option<Group> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    pub(super) fn set(&self, group: u64, bytes: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((group, bytes));
    }
}

/// Index groups updated with new locations, ready for the batch.
pub(super) struct Indexed {
    /// Group key → its new bytes.
    pub groups: Vec<(Vec<u8>, Vec<u8>)>,
    /// The newest group after this batch, for [`Tail`].
    pub tail: Option<Group>,
}

/// Adds `locations` (in seq order) to their index groups, on top of what
/// `tree` holds (or `tail` remembers). Refuses a seq that is not after its
/// group's last — the journal only grows — or, when `tolerant`, skips it
/// (replaying over a backup's copy, which may hold it already).
pub(super) fn index(
    tree: &sled::Tree,
    tail: &Tail,
    locations: &[Location],
    tolerant: bool,
) -> Result<Indexed> {
    let mut groups: Vec<Group> = Vec::new();
    let mut tail = tail.take();
    // The seq each group being built ends with, read once per group.
    let mut last = None;
    for location in locations {
        let group = location.seq / INDEX_GROUP;
        if groups.last().is_none_or(|(g, _)| *g != group) {
            let base = match tail.take() {
                Some((g, bytes)) if g == group => bytes,
                _ => stored_group(tree, location.seq)?.unwrap_or_default(),
            };
            last = entries(&base)?.last().map(|entry| entry.seq);
            groups.push((group, base));
        }
        let (_, bytes) = groups.last_mut().ok_or_else(|| {
            Error::Storage("indexing the journal: no group to append to".to_owned())
        })?;
        if let Some(last) = last
            && location.seq <= last
        {
            if tolerant {
                continue;
            }
            return Err(Error::Storage(format!(
                "journal record {} would not come after record {last}",
                location.seq
            )));
        }
        push_entry(bytes, location);
        last = Some(location.seq);
    }
    let tail = groups.last().cloned();
    Ok(Indexed {
        groups: groups
            .into_iter()
            .map(|(group, bytes)| (index_key(group * INDEX_GROUP), bytes))
            .collect(),
        tail,
    })
}

/// Moves the index entries of `locations`' seqs to those locations (an
/// archived segment's records, see [`super::archive`]): the batch to apply.
/// The caller holds the journal's lock; the newest group, which the writer
/// keeps in memory, is dropped from memory so that the next append reads
/// it back.
pub(super) fn relocate(
    tree: &sled::Tree,
    tail: &Tail,
    locations: &[Location],
) -> Result<sled::Batch> {
    drop(tail.take());
    let mut batch = sled::Batch::default();
    let mut rest = locations;
    while let Some(first) = rest.first() {
        let group = first.seq / INDEX_GROUP;
        let run = rest
            .iter()
            .take_while(|location| location.seq / INDEX_GROUP == group)
            .count();
        let moved = &rest[..run];
        let stored = stored_group(tree, first.seq)?.ok_or_else(|| {
            Error::Storage(format!(
                "archiving: the journal index has no entry for record {}",
                first.seq
            ))
        })?;
        let mut bytes = Vec::with_capacity(stored.len());
        for mut entry in entries(&stored)? {
            if let Some(new) = moved.iter().find(|location| location.seq == entry.seq) {
                entry = *new;
            }
            push_entry(&mut bytes, &entry);
        }
        batch.insert(TreeId::Journal.key(&index_key(first.seq)), bytes);
        rest = &rest[run..];
    }
    Ok(batch)
}

fn stored_group(tree: &sled::Tree, seq: u64) -> Result<Option<Vec<u8>>> {
    Ok(tree
        .get(TreeId::Journal.key(&index_key(seq)))
        .map_err(storage)?
        .map(|bytes| bytes.to_vec()))
}

/// Where record `seq` is, if the journal has it.
pub(super) fn location(tree: &sled::Tree, seq: u64) -> Result<Option<Location>> {
    let Some(group) = stored_group(tree, seq)? else {
        return Ok(None);
    };
    Ok(entries(&group)?.into_iter().find(|entry| entry.seq == seq))
}

/// Where the newest record is.
pub(super) fn last_location(tree: &sled::Tree) -> Result<Option<Location>> {
    let last = tree
        .scan_prefix(TreeId::Journal.key(&[INDEX_TAG]))
        .next_back()
        .transpose()
        .map_err(storage)?;
    let Some((_, group)) = last else {
        return Ok(None);
    };
    Ok(entries(&group)?.last().copied())
}

/// Locations of the records after `after`, in seq order, at most `limit`.
pub(super) fn locations_after(
    tree: &sled::Tree,
    after: u64,
    limit: usize,
) -> Result<Vec<Location>> {
    let mut found = Vec::new();
    let start = TreeId::Journal.key(&index_key(after.saturating_add(1)));
    let prefix = TreeId::Journal.key(&[INDEX_TAG]);
    for item in tree.range(start..) {
        let (key, group) = item.map_err(storage)?;
        if !key.starts_with(&prefix) {
            break;
        }
        for entry in entries(&group)? {
            if entry.seq <= after {
                continue;
            }
            if found.len() >= limit {
                return Ok(found);
            }
            found.push(entry);
        }
    }
    Ok(found)
}

/// Records a pre-journal store kept in sled (formats v1 and v2) with seq
/// at least `from`, in seq order, at most `limit`, and the sled keys they
/// were under.
pub(super) fn legacy_records(
    tree: &sled::Tree,
    from: u64,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut found = Vec::new();
    // v1: a key per seq, the 8-byte big-endian seq (so a zero first byte).
    let mut v1 = TreeId::Journal.key(&[0]);
    v1.truncate(1);
    let mut start = v1.clone();
    start.extend_from_slice(&from.to_be_bytes());
    for item in tree.range(start..) {
        let (key, record) = item.map_err(storage)?;
        if key.len() != 9 || key.get(1) != Some(&0) || found.len() >= limit {
            break;
        }
        let seq = super::keys::decode_u64(&key[1..])?;
        found.push((seq, record.to_vec()));
    }
    if !found.is_empty() {
        return Ok(found);
    }
    // v2: groups of 16.
    let mut start = TreeId::Journal.key(&[LEGACY_GROUP_TAG]);
    start.extend_from_slice(&(from / LEGACY_GROUP).to_be_bytes());
    let prefix = TreeId::Journal.key(&[LEGACY_GROUP_TAG]);
    for item in tree.range(start..) {
        let (key, group) = item.map_err(storage)?;
        if !key.starts_with(&prefix) {
            break;
        }
        for (seq, record) in legacy_entries(&group)? {
            if seq < from {
                continue;
            }
            if found.len() >= limit {
                return Ok(found);
            }
            found.push((seq, record.to_vec()));
        }
    }
    Ok(found)
}

/// Removes up to `limit` keys of a pre-journal store's records (once they
/// are in the journal); returns how many went.
pub(super) fn remove_legacy(tree: &sled::Tree, limit: usize) -> Result<usize> {
    let mut batch = sled::Batch::default();
    let mut count = 0;
    for tag in [0u8, LEGACY_GROUP_TAG] {
        for item in tree.scan_prefix(TreeId::Journal.key(&[tag])) {
            let (key, _) = item.map_err(storage)?;
            if count >= limit {
                break;
            }
            batch.remove(key);
            count += 1;
        }
    }
    tree.apply_batch(batch).map_err(storage)?;
    Ok(count)
}

/// v2's records per key, and the first byte of its keys.
const LEGACY_GROUP: u64 = 16;
const LEGACY_GROUP_TAG: u8 = b'G';

/// The records of a v2 group's bytes, in seq order.
fn legacy_entries(group: &[u8]) -> Result<Vec<(u64, &[u8])>> {
    let mut found = Vec::with_capacity(LEGACY_GROUP as usize);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, WriteSet, keys};

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
    fn records_read_back_by_seq_and_in_order_across_index_groups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        store.set_segment_limit(2048);
        // Commits of different sizes, crossing index groups and segments.
        stage(&store, 1..=1);
        stage(&store, 2..=70);
        stage(&store, 71..=71);
        stage(&store, 72..=200);
        for seq in [1, 63, 64, 65, 127, 128, 200] {
            let bytes = store.journal_record(seq).expect("read").expect("there");
            assert_eq!(bytes, format!("record {seq}").into_bytes());
        }
        assert!(store.journal_record(201).expect("read").is_none());
        let all: Vec<u64> = store
            .journal_after(0, 1000)
            .expect("scan")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(all, (1..=200).collect::<Vec<_>>());
        let page: Vec<u64> = store
            .journal_after(62, 5)
            .expect("scan")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(page, vec![63, 64, 65, 66, 67]);
        assert_eq!(store.head().expect("head").seq, 200);
        // 200 records in 4 keys (groups 0..=3).
        assert_eq!(store.count(TreeId::Journal, &[INDEX_TAG]), 4);
    }

    #[test]
    fn the_journal_never_takes_a_seq_twice_nor_skips_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        stage(&store, 1..=3);
        for seq in [3, 5] {
            let mut writes = WriteSet::default();
            writes.put(TreeId::Journal, keys::seq(seq), b"again".to_vec());
            let error = store.commit(&writes).expect_err("refused");
            assert!(error.to_string().contains("next record is 4"), "{error}");
        }
        assert_eq!(
            store.journal_record(3).expect("read"),
            Some(b"record 3".to_vec())
        );
        // Refused before anything was written: the journal goes on.
        stage(&store, 4..=4);
    }

    #[test]
    fn appends_after_reopening_read_the_stored_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            stage(&store, 1..=5);
        }
        let store = Store::open(dir.path(), 8 << 20).expect("reopen");
        stage(&store, 6..=6);
        let all = store.journal_after(0, 100).expect("scan");
        assert_eq!(all.len(), 6);
        assert_eq!(all[5].1, b"record 6".to_vec());
    }

    /// A pre-journal store (v1: a key per seq; v2: groups of 16) moves its
    /// records into the journal when opened, chain intact.
    #[test]
    fn older_stores_move_their_records_into_the_journal() {
        for (format, grouped) in [("dutyroom-store-v1", false), ("dutyroom-store-v2", true)] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut hashes = Vec::new();
            {
                let store = Store::open(dir.path(), 8 << 20).expect("open");
                let mut group = Vec::new();
                for seq in 1..=40u64 {
                    let record = format!("record {seq}").into_bytes();
                    hashes.push(crate::store::record_hash(&record));
                    if grouped {
                        group.extend_from_slice(&seq.to_be_bytes());
                        group.extend_from_slice(&(record.len() as u32).to_be_bytes());
                        group.extend_from_slice(&record);
                        if seq % LEGACY_GROUP == LEGACY_GROUP - 1 || seq == 40 {
                            let mut key = TreeId::Journal.key(&[LEGACY_GROUP_TAG]);
                            key.extend_from_slice(&(seq / LEGACY_GROUP).to_be_bytes());
                            store.raw_tree().insert(key, group.clone()).expect("insert");
                            group.clear();
                        }
                    } else {
                        store
                            .raw_tree()
                            .insert(TreeId::Journal.key(&keys::seq(seq)), record)
                            .expect("insert");
                    }
                }
                let head = crate::store::Head {
                    seq: 40,
                    hash: hashes[39].clone(),
                };
                let tree = store.raw_tree();
                tree.insert(
                    TreeId::State.key(&keys::meta("head")),
                    crate::store::encode(&head).expect("head"),
                )
                .expect("head");
                tree.insert(TreeId::State.key(&keys::meta("format")), format.as_bytes())
                    .expect("format");
                tree.remove(super::super::applied_key()).expect("no lsn");
                store.raw_db().flush().expect("flush");
            }
            std::fs::remove_dir_all(dir.path().join("wal")).expect("no journal before v3");
            let store = Store::open(dir.path(), 8 << 20).expect("converted");
            assert_eq!(store.head().expect("head").seq, 40, "{format}");
            assert!(
                legacy_records(store.raw_tree(), 0, 10)
                    .expect("legacy")
                    .is_empty(),
                "{format}: no old keys left"
            );
            let all = store.journal_after(0, 100).expect("scan");
            assert_eq!(all.len(), 40);
            for (seq, bytes) in &all {
                assert_eq!(crate::store::record_hash(bytes), hashes[*seq as usize - 1]);
            }
            stage(&store, 41..=41);
            assert_eq!(store.journal_after(39, 10).expect("scan").len(), 2);
        }
    }

    #[test]
    fn a_damaged_index_group_is_an_error_not_a_panic() {
        assert!(entries(&[0, 0, 0]).is_err());
        let mut group = Vec::new();
        push_entry(
            &mut group,
            &Location {
                seq: 1,
                segment: 1,
                offset: 60,
                len: 3,
            },
        );
        group.truncate(group.len() - 1);
        assert!(entries(&group).is_err());
        assert!(legacy_entries(&[0, 0, 0]).is_err());
    }
}
