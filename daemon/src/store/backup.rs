//! Online backup: a consistent copy of the store, taken while writes go on.
//!
//! A fuzzy copy plus redo, as databases take their online backups: note
//! the lsn sled has applied (`from`), copy every sled key while the writer
//! carries on (each value is then from some moment after `from`), note the
//! lsn applied by then (`to`), and copy the journal's segments up to the end
//! of frame `to` — the journal is the store's history, and holds the frames
//! `from + 1 ..= to` written meanwhile. Replaying those frames over the copy
//! (each sets keys to absolute values; records the copy's index already
//! holds are skipped) yields exactly the state after frame `to`.
//!
//! The source side ([`Store::backup`]) produces [`Piece`]s; the other side
//! ([`Restore`]) builds a new store directory from them, wherever the pieces
//! travelled (`duty admin backup DIR` streams them over gRPC). A backup
//! carries a mark; opening it is a restore, which starts a new epoch so
//! that clients resuming with seqs from after the backup resync.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

use super::{
    BackupMark, Store, TreeId, applied_key, apply_to, encode, frame_writes, journal, keys,
};
use super::{last_seq_in, open_db, storage, wal};

/// Bytes of keys and values per [`Piece::Pairs`], and of segment per
/// [`Piece::Segment`].
const PIECE_BYTES: usize = 512 << 10;

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
    /// Bytes of a journal segment, in order from its start.
    Segment {
        /// The segment (its first lsn).
        first_lsn: u64,
        /// An archive of the segment (records only), not its frames.
        archived: bool,
        /// Where these bytes go in it.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Last: the copy is the state after frame `lsn`.
    End {
        /// The last frame.
        lsn: u64,
    },
}

/// Held while a backup runs: one at a time.
pub(super) struct Running(Arc<std::sync::atomic::AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Store {
    /// Produces a backup, piece by piece, into `send` (which returns false
    /// to stop: the receiver went away). One backup at a time.
    pub fn backup(&self, mut send: impl FnMut(Piece) -> bool) -> Result<()> {
        let _running = self.start_backup()?;
        // No segment is archived while the copy runs: the frames after
        // `from` must stay whole for the replay (see [`super::archive`]).
        let _no_archiving = self
            .archiving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from = self.applied_lsn();
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
            if bytes >= PIECE_BYTES {
                bytes = 0;
                if !send(Piece::Pairs(std::mem::take(&mut pairs))) {
                    return Ok(());
                }
            }
        }
        if !pairs.is_empty() && !send(Piece::Pairs(pairs)) {
            return Ok(());
        }
        // Under the journal's lock: a commit holds it until its frame is
        // applied and counted, so no frame is half in the copy.
        let (to, fs, segments) = {
            let journal = self
                .journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (
                self.applied_lsn(),
                journal.wal.fs(),
                journal.wal.segment_paths_from(0),
            )
        };
        let wanted: Vec<_> = segments
            .into_iter()
            .filter(|segment| segment.first_lsn <= to)
            .collect();
        for (index, segment) in wanted.iter().enumerate() {
            let (first_lsn, path) = (&segment.first_lsn, &segment.path);
            let mut bytes = fs
                .read(path)
                .map_err(|e| Error::Storage(format!("reading {}: {e}", path.display())))?;
            if index + 1 == wanted.len() {
                // The newest one goes on growing: copy up to frame `to`.
                let end = wal::frame_end(&bytes, *first_lsn, to).ok_or_else(|| {
                    Error::Storage(format!("backup: journal frame {to} could not be read"))
                })?;
                bytes.truncate(end);
            }
            for (n, chunk) in bytes.chunks(PIECE_BYTES).enumerate() {
                if !send(Piece::Segment {
                    first_lsn: *first_lsn,
                    archived: segment.archived,
                    offset: (n * PIECE_BYTES) as u64,
                    bytes: chunk.to_vec(),
                }) {
                    return Ok(());
                }
            }
        }
        send(Piece::End { lsn: to });
        Ok(())
    }

    fn start_backup(&self) -> Result<Running> {
        if self
            .backup_running
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return Err(Error::FailedPrecondition(
                "a backup is already running; wait for it to finish".into(),
            ));
        }
        Ok(Running(self.backup_running.clone()))
    }
}

/// A backup being written into a new store directory.
pub struct Restore {
    dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    tail: journal::Tail,
    store_id: String,
    from: u64,
    /// Segments written so far: (first lsn, archived) → bytes written.
    segments: BTreeMap<(u64, bool), u64>,
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

fn io(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Storage(format!("{what} {}: {error}", path.display()))
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
        std::fs::create_dir_all(dir.join("wal")).map_err(|e| io("creating", dir, e))?;
        let db = open_db(dir, 16 << 20)?;
        let tree = db.open_tree("dutyroom").map_err(storage)?;
        Ok(Restore {
            dir: dir.to_path_buf(),
            db,
            tree,
            tail: journal::Tail::default(),
            store_id: String::new(),
            from: 0,
            segments: BTreeMap::new(),
            started: false,
        })
    }

    /// Takes the next piece, in the order [`Store::backup`] sent them.
    /// Returns what the backup holds once the last piece came.
    pub fn take(&mut self, piece: Piece) -> Result<Option<Restored>> {
        let out_of_order =
            |what: &str| Error::Storage(format!("the backup stream is out of order: {what}"));
        if !self.started && !matches!(piece, Piece::Start { .. }) {
            return Err(out_of_order("no start"));
        }
        match piece {
            Piece::Start { store_id, from_lsn } => {
                if self.started {
                    return Err(out_of_order("a second start"));
                }
                if store_id.len() != 32 || !store_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Storage("the backup names no valid store id".into()));
                }
                self.started = true;
                self.store_id = store_id;
                self.from = from_lsn;
                Ok(None)
            }
            Piece::Pairs(pairs) => {
                let mut batch = sled::Batch::default();
                for (key, value) in pairs {
                    batch.insert(key, value);
                }
                self.tree.apply_batch(batch).map_err(storage)?;
                Ok(None)
            }
            Piece::Segment {
                first_lsn,
                archived,
                offset,
                bytes,
            } => {
                let written = self
                    .segments
                    .get(&(first_lsn, archived))
                    .copied()
                    .unwrap_or(0);
                if offset != written {
                    return Err(out_of_order(&format!(
                        "segment {first_lsn} at byte {offset}, {written} written"
                    )));
                }
                let name = if archived {
                    super::archive::archive_name(first_lsn)
                } else {
                    wal::segment_name(first_lsn)
                };
                let path = self.dir.join("wal").join(name);
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| io("opening", &path, e))?;
                file.write_all(&bytes)
                    .map_err(|e| io("writing", &path, e))?;
                self.segments
                    .insert((first_lsn, archived), written + bytes.len() as u64);
                Ok(None)
            }
            Piece::End { lsn } => self.finish(lsn).map(Some),
        }
    }

    fn finish(&mut self, to: u64) -> Result<Restored> {
        let wal_dir = self.dir.join("wal");
        let mut paths: Vec<(u64, PathBuf)> = Vec::new();
        for (first, archived) in self.segments.keys() {
            let name = if *archived {
                super::archive::archive_name(*first)
            } else {
                wal::segment_name(*first)
            };
            let path = wal_dir.join(name);
            std::fs::File::open(&path)
                .and_then(|file| file.sync_all())
                .map_err(|e| io("syncing", &path, e))?;
            if !archived {
                paths.push((*first, path));
            }
        }
        // The frames written while the state was copied, over the copy.
        let mut expected = self.from + 1;
        for frame in wal::read_frames(&wal::fs::RealFs, &paths, self.from + 1, to)? {
            if frame.lsn != expected {
                return Err(Error::Storage(format!(
                    "the backup's journal lacks frame {expected}"
                )));
            }
            expected += 1;
            let (writes, locations) = frame_writes(&frame)?;
            apply_to(&self.tree, &self.tail, &writes, &locations, frame.lsn, true)?;
        }
        if expected != to + 1 {
            return Err(Error::Storage(format!(
                "the backup's journal ends at frame {}, it should reach {to}",
                expected - 1
            )));
        }
        let mark = BackupMark {
            taken_at: jiff::Timestamp::now().to_string(),
            head_seq: last_seq_in(&self.tree)?,
        };
        self.tree
            .insert(TreeId::State.key(&keys::meta("backup")), encode(&mark)?)
            .map_err(storage)?;
        self.tree
            .insert(applied_key(), encode(&to)?)
            .map_err(storage)?;
        self.db.flush().map_err(storage)?;
        std::fs::File::open(self.dir.join("db"))
            .and_then(|file| file.sync_all())
            .map_err(|e| io("syncing", &self.dir.join("db"), e))?;
        // Checks the copied segments end to end (and starts a journal if
        // the store had none yet).
        wal::Wal::open(
            Arc::new(wal::fs::RealFs),
            &wal_dir,
            &self.store_id,
            to,
            true,
            false,
        )?;
        std::fs::File::open(&wal_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| io("syncing", &wal_dir, e))?;
        Ok(Restored {
            head_seq: mark.head_seq,
            lsn: to,
            bytes: self.db.size_on_disk().map_err(storage)? + self.segments.values().sum::<u64>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Head, WriteSet};

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
        let mut first_lsn = 0;
        store
            .backup(|piece| {
                if let Piece::Start { from_lsn, .. } = &piece {
                    first_lsn = *from_lsn;
                }
                match piece {
                    Piece::Segment { .. } => frames += 1,
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
            "backup at seq {} (replaying {} frames) while the writer went on to {last}; \
             {frames} segment pieces",
            restored.head_seq,
            restored.lsn - first_lsn
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
