//! Board snapshots for replay: which incidents were on the board (open or
//! resolved) after every [`SNAPSHOT_EVERY`]th journal record.
//!
//! The board at a past instant is the last snapshot before it, moved on by
//! the records after it (at most [`SNAPSHOT_EVERY`]), each incident then
//! folded from its own records. The snapshots are derived from the journal
//! alone, on the checkpoint thread ([`Store::snapshot_board`]), a few per
//! tick and never on the write path: written straight to sled, never
//! journaled, so a crash loses at most what the next pass redoes.
//!
//! Layout, in a sled tree of their own (`board-snapshots`): `B` + seq
//! (big-endian) → a [`BoardSnapshot`]; `b` + its record's time
//! (milliseconds, big-endian) + seq → nothing, to find the snapshot before
//! an instant. Each snapshot names the store identity it was built under:
//! after a restore or a new epoch the seqs mean other records, and older
//! snapshots are dropped.
//!
//! A tree of their own because a snapshot is big (every id on the board)
//! and sled rewrites a whole node when any key in it changes: kept among
//! the indexes, the newest snapshot shared a node with the outbox's keys,
//! and every notification sent rewrote a megabyte on the write path —
//! 10–15 % of intake during an alarm storm (`duty bench alarms`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Store, TreeId, decode, encode, journal, storage};
use crate::error::{Error, Result};

/// Journal records between two snapshots by default: the most a replay
/// reads beyond its snapshot.
pub const SNAPSHOT_EVERY: u64 = 2048;

const SNAPSHOT: u8 = b'B';
const SNAPSHOT_TIME: u8 = b'b';

/// The incidents on the board after one journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardSnapshot {
    /// The record's seq.
    pub seq: u64,
    /// The record's time.
    pub at: Timestamp,
    /// The store identity the seq belongs to.
    pub identity: String,
    /// Incident ids on the board then, ascending.
    pub ids: Vec<u64>,
}

/// What one journal record says about the board: the incident it is about
/// and whether that incident is on the board after it.
pub type BoardChange = Option<(u64, bool)>;

/// Moves a board (a set of incident ids) on by one record's change.
pub fn apply_change(board: &mut std::collections::BTreeSet<u64>, change: BoardChange) {
    match change {
        Some((id, true)) => {
            board.insert(id);
        }
        Some((id, false)) => {
            board.remove(&id);
        }
        None => {}
    }
}

/// The seq a snapshot or time key ends with.
fn key_seq(key: &[u8]) -> Result<u64> {
    let bytes = key
        .get(key.len().saturating_sub(8)..)
        .ok_or_else(|| Error::Storage("a short board snapshot key".into()))?;
    super::keys::decode_u64(bytes)
}

fn snapshot_key(seq: u64) -> Vec<u8> {
    let mut key = vec![SNAPSHOT];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn time_key(at: Timestamp, seq: u64) -> Vec<u8> {
    let mut key = vec![SNAPSHOT_TIME];
    key.extend_from_slice(&millis(at).to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Milliseconds since 1970, 0 before it (keys sort as unsigned).
fn millis(at: Timestamp) -> u64 {
    u64::try_from(at.as_millisecond()).unwrap_or(0)
}

impl Store {
    /// The newest snapshot at or before `seq` under this store's identity.
    pub fn board_snapshot_at_seq(&self, seq: u64) -> Result<Option<BoardSnapshot>> {
        let found = self
            .boards
            .range(snapshot_key(0)..=snapshot_key(seq))
            .next_back()
            .transpose()
            .map_err(storage)?;
        self.current_snapshot(found.map(|(_, value)| value))
    }

    /// The newest snapshot whose record is at or before `at`.
    pub fn board_snapshot_before(&self, at: Timestamp) -> Result<Option<BoardSnapshot>> {
        let candidates = self
            .boards
            .range(time_key(Timestamp::UNIX_EPOCH, 0)..=time_key(at, u64::MAX))
            .rev();
        for found in candidates {
            let (key, _) = found.map_err(storage)?;
            let seq = key_seq(&key)?;
            let value = self.boards.get(snapshot_key(seq)).map_err(storage)?;
            match self.current_snapshot(value)? {
                // The key keeps milliseconds: a record later in the same
                // millisecond is after the instant; the one before is not.
                Some(snapshot) if snapshot.at > at => continue,
                found => return Ok(found),
            }
        }
        Ok(None)
    }

    /// The seq of the newest board snapshot (0: none yet).
    pub fn last_board_snapshot_seq(&self) -> Result<u64> {
        self.last_snapshot_entry()?
            .map_or(Ok(0), |(key, _)| key_seq(&key))
    }

    /// The newest snapshot's key and value, whatever its identity.
    fn last_snapshot_entry(&self) -> Result<Option<(sled::IVec, sled::IVec)>> {
        self.boards
            .scan_prefix([SNAPSHOT])
            .next_back()
            .transpose()
            .map_err(storage)
    }

    fn current_snapshot(&self, value: Option<sled::IVec>) -> Result<Option<BoardSnapshot>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let snapshot: BoardSnapshot = decode(&value)?;
        Ok((snapshot.identity == self.identity()).then_some(snapshot))
    }

    /// The stored bytes of each of `seqs` (ascending), read together so
    /// that neighbours in one segment or archive block cost one read.
    pub fn journal_records(&self, seqs: &[u64]) -> Result<Vec<(u64, Vec<u8>)>> {
        self.settled()?;
        super::twice(|| {
            let mut locations = Vec::with_capacity(seqs.len());
            for &seq in seqs {
                if let Some(location) = journal::location(&self.tree, seq)? {
                    locations.push(location);
                }
            }
            let records = self.read_records(&locations)?;
            Ok(locations.iter().map(|l| l.seq).zip(records).collect())
        })
    }

    /// Builds the next board snapshot if the journal has grown `every`
    /// records past the last one (up to `durable`): reads the
    /// records in between and applies `change` (what a record does to the
    /// board) to the last snapshot's set. True if one was written (call
    /// again: there may be more).
    pub fn snapshot_board(
        &self,
        durable: u64,
        every: u64,
        change: impl Fn(&[u8]) -> Result<BoardChange>,
    ) -> Result<bool> {
        let identity = self.identity();
        let mut board = match self.last_snapshot_entry()? {
            Some((_, value)) => {
                let snapshot: BoardSnapshot = decode(&value)?;
                if snapshot.identity != identity {
                    self.drop_board_snapshots()?;
                    return Ok(true);
                }
                snapshot
            }
            None => BoardSnapshot {
                seq: 0,
                at: Timestamp::UNIX_EPOCH,
                identity,
                ids: Vec::new(),
            },
        };
        let target = board.seq + every.max(1);
        if durable < target {
            return Ok(false);
        }
        let mut ids: std::collections::BTreeSet<u64> = board.ids.iter().copied().collect();
        let mut cursor = board.seq;
        let mut at = board.at;
        while cursor < target {
            let want = usize::try_from(target - cursor)
                .unwrap_or(usize::MAX)
                .min(512);
            let chunk = self.journal_after(cursor, want)?;
            let Some((last_seq, _)) = chunk.last() else {
                return Err(Error::Storage(format!(
                    "journal record {} is missing: cannot snapshot the board",
                    cursor + 1
                )));
            };
            let last_seq = *last_seq;
            for (_, bytes) in &chunk {
                apply_change(&mut ids, change(bytes)?);
            }
            if last_seq >= target {
                at = record_time(&chunk[chunk.len() - 1].1)?;
            }
            cursor = last_seq;
        }
        board.seq = target;
        board.at = at;
        board.ids = ids.into_iter().collect();
        let mut batch = sled::Batch::default();
        batch.insert(snapshot_key(board.seq), encode(&board)?);
        batch.insert(time_key(board.at, board.seq), Vec::new());
        self.boards
            .apply_batch(batch)
            .map_err(|e| Error::Storage(format!("writing a board snapshot: {e}")))?;
        Ok(true)
    }

    /// Removes every board snapshot (they belong to another identity).
    fn drop_board_snapshots(&self) -> Result<()> {
        self.boards
            .clear()
            .map_err(|e| Error::Storage(format!("dropping old board snapshots: {e}")))
    }

    /// Stores before board snapshots had a tree of their own kept them
    /// among the indexes: dropped there on open (they are rebuilt from the
    /// journal in the new tree).
    pub(super) fn drop_snapshots_among_indexes(&self) -> Result<()> {
        let mut batch = sled::Batch::default();
        let mut found = false;
        for tag in [SNAPSHOT, SNAPSHOT_TIME] {
            for key in self.tree.scan_prefix(TreeId::Index.key(&[tag])).keys() {
                batch.remove(key.map_err(storage)?);
                found = true;
            }
        }
        if found {
            self.tree
                .apply_batch(batch)
                .map_err(|e| Error::Storage(format!("dropping old board snapshots: {e}")))?;
        }
        Ok(())
    }
}

/// A record's time, read without decoding the rest of it.
pub fn record_time(bytes: &[u8]) -> Result<Timestamp> {
    #[derive(Deserialize)]
    struct Time {
        at: Timestamp,
    }
    Ok(decode::<Time>(bytes)?.at)
}
