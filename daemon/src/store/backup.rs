//! Online backup: a consistent copy of the store, taken while writes go on.
//!
//! A fuzzy copy plus redo, as databases take their online backups: note
//! the lsn sled has applied (`from`), copy every sled key while the writer
//! carries on (each value is then from some moment after `from`), note the
//! lsn applied by then (`to`), and add the journal frames `from + 1 ..= to`.
//! Replaying those frames over the copy — each sets keys to absolute values,
//! journal records already in the copy are skipped — yields exactly the
//! state after frame `to`. The journal keeps those frames until the backup
//! is done (a pin that checkpoints respect).
//!
//! The source side ([`Store::backup`]) produces [`Piece`]s; the other side
//! ([`Restore`]) builds a new store directory from them, wherever the pieces
//! travelled (`duty admin backup DIR` streams them over gRPC). A backup
//! carries a mark; opening it is a restore, which starts a new epoch so
//! that clients resuming with seqs from after the backup resync.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

use super::{BackupMark, Store, TreeId, WriteSet, applied_key, apply_to, encode, journal, keys};
use super::{last_seq_in, open_db, storage, wal};

/// Bytes of keys and values per [`Piece::Pairs`].
const PAIRS_BYTES: usize = 512 << 10;

/// One piece of a backup, in the order they come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// First: whose store, and the lsn the copy starts from.
    Start {
        /// The store's id.
        store_id: String,
        /// sled had applied every frame up to here when the copy began.
        from_lsn: u64,
    },
    /// sled keys and values, as stored.
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    /// A journal frame to replay over the copy.
    Frame {
        /// Its lsn.
        lsn: u64,
        /// Its payload (a [`WriteSet`]).
        payload: Vec<u8>,
    },
    /// Last: the copy is the state after frame `lsn`.
    End {
        /// The last frame.
        lsn: u64,
    },
}

/// Held while a backup runs: checkpoints keep the frames after `from`.
pub(super) struct Pin {
    slot: Arc<std::sync::Mutex<Option<u64>>>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        *self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl Store {
    /// Produces a backup, piece by piece, into `send` (which returns false
    /// to stop: the receiver went away). One backup at a time.
    pub fn backup(&self, mut send: impl FnMut(Piece) -> bool) -> Result<()> {
        let from = self.applied_lsn();
        let _pin = self.pin_journal(from)?;
        if !send(Piece::Start {
            store_id: self.store_id.clone(),
            from_lsn: from,
        }) {
            return Ok(());
        }
        let mut pairs = Vec::new();
        let mut bytes = 0;
        for item in self.tree.iter() {
            let (key, value) = item.map_err(storage)?;
            bytes += key.len() + value.len();
            pairs.push((key.to_vec(), value.to_vec()));
            if bytes >= PAIRS_BYTES {
                bytes = 0;
                if !send(Piece::Pairs(std::mem::take(&mut pairs))) {
                    return Ok(());
                }
            }
        }
        if !pairs.is_empty() && !send(Piece::Pairs(pairs)) {
            return Ok(());
        }
        let to = self.applied_lsn();
        let (fs, paths) = {
            let journal = self
                .journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (journal.wal.fs(), journal.wal.segment_paths_from(from + 1))
        };
        let mut expected = from + 1;
        for frame in wal::read_frames(fs.as_ref(), &paths, from + 1, to)? {
            if frame.lsn != expected {
                return Err(Error::Storage(format!(
                    "backup: journal frame {expected} is missing (found {})",
                    frame.lsn
                )));
            }
            expected += 1;
            if !send(Piece::Frame {
                lsn: frame.lsn,
                payload: frame.payload,
            }) {
                return Ok(());
            }
        }
        if expected != to + 1 {
            return Err(Error::Storage(format!(
                "backup: journal frames {expected} to {to} could not be read"
            )));
        }
        send(Piece::End { lsn: to });
        Ok(())
    }

    /// Keeps the journal's frames after `from` until the pin drops.
    fn pin_journal(&self, from: u64) -> Result<Pin> {
        let mut slot = self
            .backup_pin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_some() {
            return Err(Error::FailedPrecondition(
                "a backup is already running; wait for it to finish".into(),
            ));
        }
        *slot = Some(from);
        Ok(Pin {
            slot: self.backup_pin.clone(),
        })
    }

    /// The lsn up to which checkpoints may drop journal frames: what sled
    /// holds, but nothing a running backup still needs.
    pub(super) fn trim_limit(&self, applied: u64) -> u64 {
        match *self
            .backup_pin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(from) => applied.min(from),
            None => applied,
        }
    }
}

/// A backup being written into a new store directory.
pub struct Restore {
    dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    tail: journal::Tail,
    store_id: String,
    applied: u64,
    started: bool,
}

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The journal head seq in the copy.
    pub head_seq: u64,
    /// The journal frame the copy is consistent at.
    pub lsn: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

impl Restore {
    /// Starts a backup in `dir`, which must not exist or be empty.
    pub fn create(dir: &Path) -> Result<Restore> {
        if let Ok(mut entries) = std::fs::read_dir(dir)
            && entries.next().is_some()
        {
            return Err(Error::FailedPrecondition(format!(
                "{} is not empty: a backup goes into a new directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("creating {}: {e}", dir.display())))?;
        let db = open_db(dir, 16 << 20)?;
        let tree = db.open_tree("dutyroom").map_err(storage)?;
        Ok(Restore {
            dir: dir.to_path_buf(),
            db,
            tree,
            tail: journal::Tail::default(),
            store_id: String::new(),
            applied: 0,
            started: false,
        })
    }

    /// Takes the next piece, in the order [`Store::backup`] sent them.
    /// Returns what the backup holds once the last piece came.
    pub fn take(&mut self, piece: Piece) -> Result<Option<Restored>> {
        let out_of_order =
            |what: &str| Error::Storage(format!("the backup stream is out of order: {what}"));
        match piece {
            Piece::Start { store_id, from_lsn } => {
                if self.started {
                    return Err(out_of_order("a second start"));
                }
                self.started = true;
                self.store_id = store_id;
                self.applied = from_lsn;
                Ok(None)
            }
            Piece::Pairs(pairs) => {
                if !self.started {
                    return Err(out_of_order("keys before the start"));
                }
                let mut batch = sled::Batch::default();
                for (key, value) in pairs {
                    batch.insert(key, value);
                }
                self.tree.apply_batch(batch).map_err(storage)?;
                Ok(None)
            }
            Piece::Frame { lsn, payload } => {
                if lsn != self.applied + 1 {
                    return Err(out_of_order(&format!(
                        "frame {lsn} after frame {}",
                        self.applied
                    )));
                }
                let writes = WriteSet::decode(&payload)?;
                apply_to(&self.tree, &self.tail, &writes, lsn, true)?;
                self.applied = lsn;
                Ok(None)
            }
            Piece::End { lsn } => {
                if lsn != self.applied {
                    return Err(out_of_order(&format!(
                        "it ends at frame {lsn}, the copy is at {}",
                        self.applied
                    )));
                }
                self.finish().map(Some)
            }
        }
    }

    fn finish(&mut self) -> Result<Restored> {
        // The copy must be one moment: its journal ends where its head says.
        let head_seq = last_seq_in(&self.tree)?;
        let recorded: Option<super::Head> = match self
            .tree
            .get(TreeId::State.key(&keys::meta("head")))
            .map_err(storage)?
        {
            Some(bytes) => Some(super::decode(&bytes)?),
            None => None,
        };
        let last_hash = journal::last_record(&self.tree)?
            .map(|(_, bytes)| super::record_hash(&bytes))
            .unwrap_or_else(|| super::Head::genesis().hash);
        let consistent = match &recorded {
            Some(head) => head.seq == head_seq && head.hash == last_hash,
            None => head_seq == 0,
        };
        if !consistent {
            return Err(Error::Storage(format!(
                "the copy is not consistent: its journal ends at seq {head_seq} but its head \
                 says {recorded:?}"
            )));
        }
        let mark = BackupMark {
            taken_at: jiff::Timestamp::now().to_string(),
            head_seq,
        };
        self.tree
            .insert(TreeId::State.key(&keys::meta("backup")), encode(&mark)?)
            .map_err(storage)?;
        self.tree
            .insert(applied_key(), encode(&self.applied)?)
            .map_err(storage)?;
        self.db.flush().map_err(storage)?;
        std::fs::File::open(self.dir.join("db"))
            .and_then(|file| file.sync_all())
            .map_err(|e| Error::Storage(format!("syncing the backup: {e}")))?;
        // Its journal starts after the last frame it holds.
        wal::Wal::open(
            Arc::new(wal::fs::RealFs),
            &self.dir.join("wal"),
            &self.store_id,
            self.applied,
            true,
            false,
        )?;
        Ok(Restored {
            head_seq,
            lsn: self.applied,
            bytes: self.db.size_on_disk().map_err(storage)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::Head;

    /// Commit `n` as the engine would: one journal record (seq `n`), the head
    /// with it, and a state change a model can follow — `k{n % 40}` set to
    /// `n`, and every fifth commit removes `k{(n + 3) % 40}`.
    fn commit_numbered(store: &Store, n: u64, head: &mut Head) {
        let mut writes = WriteSet::default();
        let record = format!("record {n}").into_bytes();
        *head = Head {
            seq: n,
            hash: crate::store::record_hash(&record),
        };
        writes.put(TreeId::Journal, keys::seq(n), record);
        writes.put(
            TreeId::State,
            keys::meta("head"),
            encode(&*head).expect("head"),
        );
        writes.put(
            TreeId::State,
            format!("k{}", n % 40).into_bytes(),
            n.to_be_bytes().to_vec(),
        );
        if n.is_multiple_of(5) {
            writes.remove(TreeId::State, format!("k{}", (n + 3) % 40).into_bytes());
        }
        store.commit(&writes).expect("commit");
    }

    /// The model's `k*` keys after commits `1..=upto`.
    fn model(upto: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut state = BTreeMap::new();
        for n in 1..=upto {
            state.insert(
                format!("k{}", n % 40).into_bytes(),
                n.to_be_bytes().to_vec(),
            );
            if n.is_multiple_of(5) {
                state.remove(format!("k{}", (n + 3) % 40).as_bytes());
            }
        }
        state
    }

    fn k_keys(store: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
        store
            .scan(TreeId::State, b"k", None, usize::MAX)
            .expect("scan")
            .into_iter()
            .collect()
    }

    /// A backup taken while a writer commits as fast as it can is exactly
    /// the state after one commit: every key as the model says, the journal
    /// gapless up to that commit, and opening it is a restore — a new
    /// identity, same store id.
    #[test]
    fn a_backup_taken_under_writes_is_exactly_one_moment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("live"), 8 << 20).expect("open");
        store.set_segment_limit(16 << 10);
        let mut head = Head::genesis();
        for n in 1..=300 {
            commit_numbered(&store, n, &mut head);
        }
        // Enough bytes for a dozen pieces, so the writer gets well ahead.
        let mut padding = WriteSet::default();
        for i in 0..1500u32 {
            padding.put(TreeId::State, format!("pad{i}").into_bytes(), vec![1; 4096]);
        }
        store.commit(&padding).expect("padding");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let store = store.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 300;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    commit_numbered(&store, n, &mut head);
                    if n % 97 == 0 {
                        store.checkpoint().expect("checkpoint");
                    }
                }
                n
            })
        };
        let copy = dir.path().join("copy");
        let mut restore = Restore::create(&copy).expect("create");
        let mut restored = None;
        let mut frames = 0;
        store
            .backup(|piece| {
                match piece {
                    Piece::Frame { .. } => frames += 1,
                    // Slow the copy down, so the writer gets ahead of it.
                    Piece::Pairs(_) => std::thread::sleep(std::time::Duration::from_millis(15)),
                    _ => {}
                }
                restored = restore.take(piece).expect("take");
                true
            })
            .expect("backup");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let last = writer.join().expect("writer");
        let restored = restored.expect("finished");
        assert!(restored.head_seq > 300 && restored.head_seq < last);
        println!(
            "backup at seq {} while the writer went on to {last}; {frames} frames replayed",
            restored.head_seq
        );
        drop(restore);
        let copy_store = Store::open(&copy, 8 << 20).expect("restore opens");
        assert_eq!(k_keys(&copy_store), model(restored.head_seq));
        let seqs: Vec<u64> = copy_store
            .journal_after(0, usize::MAX)
            .expect("journal")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(seqs, (1..=restored.head_seq).collect::<Vec<_>>());
        assert_eq!(copy_store.store_id(), store.store_id());
        assert_ne!(copy_store.identity(), store.identity());
        // The restore's new epoch is kept, and counted once.
        let identity = copy_store.identity();
        drop(copy_store);
        assert_eq!(
            Store::open(&copy, 8 << 20).expect("reopen").identity(),
            identity
        );
    }

    #[test]
    fn a_backup_goes_only_into_a_new_directory_and_one_runs_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("something"), b"x").expect("write");
        let error = Restore::create(dir.path()).err().expect("refused");
        assert!(error.to_string().contains("not empty"), "{error}");
        let store = Store::open(&dir.path().join("live"), 8 << 20).expect("open");
        let mut second = None;
        store
            .backup(|_| {
                if second.is_none() {
                    second = Some(store.backup(|_| true));
                }
                true
            })
            .expect("first");
        let error = second.expect("tried").expect_err("refused");
        assert!(error.to_string().contains("already running"), "{error}");
    }
}
