//! The store: the journal dutyd owns ([`wal`]) and the state sled derives
//! from it. The only module that touches sled or the journal's files.
//!
//! # The write path
//!
//! [`Store::commit`] takes one batch of changes (a [`WriteSet`]: journal
//! records staged under their seq, and state) and
//! 1. appends it to the write-ahead journal as one frame: one write, one
//!    `fdatasync` — from here on the batch is durable;
//! 2. applies it to sled as one atomic `apply_batch`, with the frame's lsn
//!    under `meta/wal_lsn`: the state, and for the records only where they
//!    are in the journal ([`journal`]); sled is not flushed here.
//!
//! The journal's segments are kept: they are the store's history, read by
//! watches, timelines, audits and backups. [`Store::checkpoint`] (every few
//! seconds, on its own thread, and at a clean stop) flushes sled and
//! `fdatasync`s its log, after which every frame up to the lsn applied before
//! it is durable in sled too. On open, the frames after sled's durable
//! `wal_lsn` are replayed into it, so sled may lose anything since its last
//! checkpoint — a power cut, sled's unsynced blobs — and nothing acknowledged
//! is lost. What the journal cannot vouch for is refused, never opened as an
//! older state (see [`wal`]). [`backup`] takes online backups.
//!
//! # Layout in sled
//!
//! One sled tree holds four keyspaces, each under its own first byte
//! ([`TreeId`]), so that a whole batch of commands is applied with one
//! atomic `apply_batch`:
//!
//! - journal: where each journal record (JSON, gapless from 1, each
//!   carrying the SHA-256 of the one before it) is in the journal's segments,
//!   64 records to a key ([`journal`]).
//! - state: current state by prefixed key ([`keys`]): incidents, directory
//!   entries, tokens, idempotency records and meta counters.
//! - index: secondary indexes ([`keys`]), each valued with the incident id:
//!   by number (which also orders a day's incidents), open, status, assignee.
//! - deadlines: due time → deadline, for the escalation engine.
//!
//! Why one tree and a batch rather than four trees and a transaction: both
//! are recovered atomically by the same sled mechanism (a sealed batch in the
//! log), but the transaction costs more per key and we never need its
//! isolation — the engine has a single writer. Measured on this machine: a
//! 12-key 4-tree transaction p50 161 µs, a 12-key batch 82 µs.
//!
//! Big-endian integer keys make sled's byte order the numeric order.
//! Domain code never sees sled types: reads return decoded values, writes go
//! in as a [`WriteSet`].
//!
//! # The boundary
//!
//! Nor does domain code see a key: the layouts (`keys`, `TreeId`) are
//! private to this module. Services, the engine and its commands read
//! through typed queries — [`Reader`] for single values, which answers the
//! same from the store and from inside a command (its staged writes laid
//! over the store, a [`View`]); the store's lists (`queries`), each read a
//! [`Page`] at a time by the one paging walk (`page`) — and stage writes
//! through typed helpers on [`WriteSet`] (`staging`), which keep a record
//! and its index keys and deadlines together.

mod archive;
pub mod backup;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod journal;
mod keys;
mod page;
mod queries;
mod read;
pub mod replay;
mod staging;
pub mod wal;

pub(crate) use keys::DeadlineOwner;
pub use page::{Page, PageCursor, Paged, Visit};
pub use queries::{AlarmList, IncidentList, Rollup, RollupOf, RollupSubject};
pub(crate) use read::Deadline;
pub use read::{Counter, Reader, View};

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The format this build reads and writes. Bump on incompatible changes.
/// v3: the write-ahead journal in `wal/` is the truth, sled derives from it.
pub const FORMAT_VERSION: &str = "dutyroom-store-v4";

/// The write-ahead journal without archives: read as is, marked v4 when
/// opened (v4 adds archived segments, which a v3 dutyd cannot read).
const FORMAT_V3: &str = "dutyroom-store-v3";

/// Before the write-ahead journal (sled flushed on every batch); converted
/// when opened.
const FORMAT_V2: &str = "dutyroom-store-v2";

/// The format before journal groups; converted when opened.
const FORMAT_V1: &str = "dutyroom-store-v1";

/// Which tree a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TreeId {
    /// seq → record.
    Journal = 0,
    /// Current state.
    State = 1,
    /// Secondary indexes.
    Index = 2,
    /// Deadlines by due time.
    Deadlines = 3,
}

const TREES: [TreeId; 4] = [
    TreeId::Journal,
    TreeId::State,
    TreeId::Index,
    TreeId::Deadlines,
];

impl TreeId {
    /// The first byte of every key in this keyspace.
    fn byte(self) -> u8 {
        match self {
            TreeId::Journal => b'j',
            TreeId::State => b's',
            TreeId::Index => b'x',
            TreeId::Deadlines => b'd',
        }
    }

    fn key(self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(key.len() + 1);
        full.push(self.byte());
        full.extend_from_slice(key);
        full
    }
}

/// A journal record inside a frame's payload: seq, byte offset, length.
pub type RecordSpan = (u64, u64, u32);

/// Pending writes: per tree, key → new value (`None` removes the key).
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    trees: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; 4],
}

impl WriteSet {
    /// Sets `key` to `value`.
    fn put(&mut self, tree: TreeId, key: Vec<u8>, value: Vec<u8>) {
        self.trees[tree as usize].insert(key, Some(value));
    }

    /// Removes `key`.
    fn remove(&mut self, tree: TreeId, key: Vec<u8>) {
        self.trees[tree as usize].insert(key, None);
    }

    /// What this set says about `key`: `Some(None)` means "removed here",
    /// `None` means "not touched here".
    fn lookup(&self, tree: TreeId, key: &[u8]) -> Option<Option<&[u8]>> {
        self.trees[tree as usize]
            .get(key)
            .map(|value| value.as_deref())
    }

    /// The writes to `tree` whose keys start with `prefix`.
    fn prefixed<'a>(
        &'a self,
        tree: TreeId,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.trees[tree as usize]
            .range(prefix.to_vec()..)
            .take_while(move |(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
    }

    /// Moves every write of `other` into this set (later writes win).
    pub fn absorb(&mut self, other: WriteSet) {
        for (mine, theirs) in self.trees.iter_mut().zip(other.trees) {
            mine.extend(theirs);
        }
    }

    /// Any write to `tree`?
    fn touches(&self, tree: TreeId) -> bool {
        !self.trees[tree as usize].is_empty()
    }

    /// No writes at all.
    pub fn is_empty(&self) -> bool {
        self.trees.iter().all(BTreeMap::is_empty)
    }

    /// The seq of the newest journal record staged here.
    pub fn last_journal_seq(&self) -> Result<Option<u64>> {
        self.trees[TreeId::Journal as usize]
            .keys()
            .next_back()
            .map(|key| keys::decode_u64(key))
            .transpose()
    }

    /// The bytes of a journal frame: version 1, then per keyspace the
    /// count of writes and each as key length, key, 1 and value length and
    /// value (a put) or 0 (a removal); integers big-endian u32.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_located().0
    }

    /// [`WriteSet::encode`], and where each journal record's bytes are in
    /// it: (seq, offset, length).
    pub fn encode_located(&self) -> (Vec<u8>, Vec<RecordSpan>) {
        let size: usize = self
            .trees
            .iter()
            .flat_map(|tree| tree.iter())
            .map(|(key, value)| 9 + key.len() + value.as_ref().map_or(0, Vec::len))
            .sum();
        let mut bytes = Vec::with_capacity(1 + 16 + size);
        let mut records = Vec::with_capacity(self.trees[TreeId::Journal as usize].len());
        bytes.push(1);
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
        for (index, tree) in self.trees.iter().enumerate() {
            bytes.extend_from_slice(&len(tree.len()));
            for (key, value) in tree {
                bytes.extend_from_slice(&len(key.len()));
                bytes.extend_from_slice(key);
                match value {
                    Some(value) => {
                        bytes.push(1);
                        bytes.extend_from_slice(&len(value.len()));
                        if index == TreeId::Journal as usize
                            && let Ok(seq) = keys::decode_u64(key)
                        {
                            records.push((
                                seq,
                                bytes.len() as u64,
                                u32::try_from(value.len()).unwrap_or(u32::MAX),
                            ));
                        }
                        bytes.extend_from_slice(value);
                    }
                    None => bytes.push(0),
                }
            }
        }
        (bytes, records)
    }

    /// Reads what [`WriteSet::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<WriteSet> {
        Ok(WriteSet::decode_located(bytes)?.0)
    }

    /// [`WriteSet::decode`], and where each journal record's bytes are, as
    /// [`WriteSet::encode_located`] says.
    pub fn decode_located(bytes: &[u8]) -> Result<(WriteSet, Vec<RecordSpan>)> {
        let total = bytes.len();
        let mut records = Vec::new();
        let mut cursor = Cursor(bytes);
        let version = cursor.byte()?;
        if version != 1 {
            return Err(Error::Storage(format!(
                "a journal frame of version {version}; this dutyd reads version 1"
            )));
        }
        let mut writes = WriteSet::default();
        for (index, tree) in writes.trees.iter_mut().enumerate() {
            let count = cursor.len()?;
            for _ in 0..count {
                let key_len = cursor.len()?;
                let key = cursor.take(key_len)?.to_vec();
                let value = match cursor.byte()? {
                    0 => None,
                    1 => {
                        let value_len = cursor.len()?;
                        let offset = (total - cursor.0.len()) as u64;
                        let value = cursor.take(value_len)?.to_vec();
                        if index == TreeId::Journal as usize {
                            records.push((
                                keys::decode_u64(&key)?,
                                offset,
                                u32::try_from(value.len()).unwrap_or(u32::MAX),
                            ));
                        }
                        Some(value)
                    }
                    other => {
                        return Err(Error::Storage(format!(
                            "a journal frame holds an unknown write kind {other}"
                        )));
                    }
                };
                tree.insert(key, value);
            }
        }
        let rest = cursor.0;
        if !rest.is_empty() {
            return Err(Error::Storage(format!(
                "a journal frame has {} bytes after its writes",
                rest.len()
            )));
        }
        Ok((writes, records))
    }
}

/// Reads a frame's bytes front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::Storage("a journal frame ends early".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize> {
        let bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| Error::Storage("a journal frame ends early".into()))?;
        Ok(u32::from_be_bytes(bytes) as usize)
    }
}

/// The newest journal record: its seq and the hash the next one must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Head {
    /// Seq of the newest record (0 for an empty journal).
    pub seq: u64,
    /// Hex SHA-256 of the newest record's bytes (zeros for an empty journal).
    pub hash: String,
}

impl Head {
    /// The head of an empty journal.
    pub fn genesis() -> Self {
        Head {
            seq: 0,
            hash: "0".repeat(64),
        }
    }
}

/// Hex SHA-256 of a journal record's stored bytes.
pub fn record_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Encodes a stored value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Storage(format!("encoding a record: {e}")))
}

/// The first byte of a value kept deflated ([`encode_packed`]); JSON never
/// starts with it.
const PACKED: u8 = 0x01;

/// No packed value inflates to more.
const MAX_UNPACKED: usize = 64 << 20;

/// [`encode`], deflated: for values written once and kept for years (a
/// finished incident), where the bytes on disk matter more than the ~20 µs.
pub fn encode_packed<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let json = encode(value)?;
    let mut packed = Vec::with_capacity(json.len() / 2 + 1);
    packed.push(PACKED);
    packed.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(&json, 1));
    Ok(packed)
}

/// Decodes a stored value, packed ([`encode_packed`]) or not.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let unpacked;
    let json = match bytes.split_first() {
        Some((&PACKED, packed)) => {
            unpacked = miniz_oxide::inflate::decompress_to_vec_with_limit(packed, MAX_UNPACKED)
                .map_err(|_| Error::Storage("a stored value does not inflate".into()))?;
            unpacked.as_slice()
        }
        _ => bytes,
    };
    serde_json::from_slice(json).map_err(|e| Error::Storage(format!("decoding a record: {e}")))
}

fn storage(error: impl std::fmt::Display) -> Error {
    Error::Storage(error.to_string())
}

/// The journal as the writer holds it.
struct JournalFile {
    wal: wal::Wal,
    /// The journal head's seq after the last frame (for frame headers).
    last_seq: u64,
}

/// The opened store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// Board snapshots for replay (see [`replay`]), apart from the hot keys.
    boards: sled::Tree,
    store_id: String,
    /// The newest journal index group (see [`journal`]).
    index_tail: journal::Tail,
    /// sled's log file, to fdatasync after sled's own flush (see
    /// [`Store::checkpoint`]).
    log_file: std::sync::Arc<std::fs::File>,
    /// Where the journal's segments are.
    wal_dir: std::path::PathBuf,
    /// Journal segments open for reading records, by first lsn.
    files: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<u64, std::sync::Arc<std::fs::File>>>,
    >,
    /// The write-ahead journal; held through a whole commit.
    journal: std::sync::Arc<std::sync::Mutex<JournalFile>>,
    /// The lsn of the last frame applied to sled (durable there or not).
    applied: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// One checkpoint at a time.
    checkpointing: std::sync::Arc<std::sync::Mutex<()>>,
    /// Begun anew when acknowledged events were lost or the store restored.
    epoch: std::sync::Arc<std::sync::RwLock<Epoch>>,
    /// A backup is running (one at a time).
    backup_running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Frames acknowledged before sled has them, and readers waiting.
    settle: std::sync::Arc<Settle>,
    /// Incidents lately decoded, by their stored bytes (see
    /// [`Store::decoded_incident`]).
    decoded: std::sync::Arc<std::sync::Mutex<DecodedIncidents>>,
    /// Held by an archive pass, and by a backup throughout (see
    /// [`archive`]).
    archiving: std::sync::Arc<std::sync::Mutex<()>>,
    /// Every frame up to this lsn is durable in sled (the last checkpoint).
    checkpointed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A frame is acknowledged once durable in the journal, before sled has
/// applied it (that takes as long again: see [`Store::commit_durable`]).
/// So that nobody reads a state older than an answer they were given, every
/// read first waits until sled has applied every frame durable when the read
/// began — as etcd's reads wait for its applied index.
#[derive(Default)]
struct Settle {
    /// The newest durable frame's lsn.
    durable: std::sync::atomic::AtomicU64,
    /// Applying a durable frame failed: dutyd is stopping, and waiting
    /// readers are told so.
    failed: std::sync::atomic::AtomicBool,
    lock: std::sync::Mutex<()>,
    applied: std::sync::Condvar,
}

impl Settle {
    /// Wakes every waiting reader to look again. Under the lock, so that no
    /// waiter checks, misses the change and sleeps.
    fn wake_all(&self) {
        let _waiters = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.applied.notify_all();
    }

    /// What a read hears once an apply failed.
    fn failed_error() -> Error {
        Error::Storage(
            "the state could not take a write the journal holds; dutyd is stopping \
             (a restart replays it)"
                .into(),
        )
    }
}

/// A frame durable in the journal, its writes not yet applied to sled. The
/// journal stays locked until [`Durable::apply`], so frames are applied in
/// order and nothing else changes the index meanwhile.
pub struct Durable<'a> {
    store: &'a Store,
    _journal: std::sync::MutexGuard<'a, JournalFile>,
    writes: &'a WriteSet,
    locations: Vec<journal::Location>,
    lsn: u64,
    applied: bool,
}

impl Drop for Durable<'_> {
    /// Dropped without its apply (a panic between the answer and the
    /// apply): readers waiting for it must not wait forever.
    fn drop(&mut self) {
        if !self.applied {
            self.store.settle_failed(self.lsn);
        }
    }
}

impl Durable<'_> {
    /// To be answered before [`Durable::apply`]: from now on, every read
    /// waits until sled has applied this frame (see [`Settle`]).
    pub fn answer_first(&self) {
        self.store
            .settle
            .durable
            .fetch_max(self.lsn, std::sync::atomic::Ordering::AcqRel);
    }

    /// Applies the frame to sled. A failure here comes after the write was
    /// acknowledged (it is in the journal, and a restart replays it): the
    /// caller must stop dutyd; readers waiting for it get an error.
    pub fn apply(mut self) -> Result<()> {
        let applied = self.store.apply(self.writes, &self.locations, self.lsn);
        self.applied = true;
        if applied.is_err() {
            self.store.settle_failed(self.lsn);
        }
        applied
    }
}

/// Incidents lately decoded, keyed by a hash of their stored bytes and
/// checked against those bytes: an entry can never be stale, since a changed
/// incident has different bytes. Emptied when full.
type DecodedIncidents =
    std::collections::HashMap<u64, (Vec<u8>, std::sync::Arc<crate::incidents::model::Incident>)>;

/// Entries kept in [`DecodedIncidents`]: the open board many times over.
const DECODED_INCIDENTS: usize = 4096;

/// Which life of the store this is. The number counts; the random tag
/// tells apart two lives with the same number (the same backup restored
/// twice, each then taking different writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct Epoch {
    number: u64,
    tag: String,
}

impl Epoch {
    fn first() -> Epoch {
        Epoch {
            number: 1,
            tag: String::new(),
        }
    }

    fn next(&self) -> Result<Epoch> {
        let mut bytes = [0u8; 3];
        getrandom::fill(&mut bytes).map_err(|e| Error::Storage(format!("no randomness: {e}")))?;
        Ok(Epoch {
            number: self.number + 1,
            tag: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// Left in a backup by [`Store::backup`]: opening it is a restore.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct BackupMark {
    /// When the backup was taken.
    taken_at: String,
    /// The journal head it holds.
    head_seq: u64,
}

/// `read` again if it fails once: a segment archived between reading a
/// record's location and opening its file is gone, and the second look-up
/// finds the archive (see [`archive`]).
fn twice<T>(mut read: impl FnMut() -> Result<T>) -> Result<T> {
    read().or_else(|_| read())
}

/// sled's key holding the lsn of the last frame it applied.
fn applied_key() -> Vec<u8> {
    TreeId::State.key(&keys::meta("wal_lsn"))
}

impl Store {
    /// Opens (creating if needed) the store in `dir`: sled's state, then
    /// the journal, replaying into sled what it had not durably applied.
    /// Refuses a store of a different format, a journal that cannot vouch
    /// for the state, or a journal head that does not match its meta.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        Ok(Store::open_with(dir, cache_bytes, false)?.0)
    }

    /// Opens the store accepting loss (`dutyd recover --accept-loss`):
    /// what the journal cannot vouch for is set aside instead of refused,
    /// and if anything was, a new epoch begins (see [`Store::identity`]).
    /// Returns what was set aside, one line each (empty: nothing to do).
    pub fn recover(dir: &Path, cache_bytes: u64) -> Result<(Store, Vec<String>)> {
        Store::open_with(dir, cache_bytes, true)
    }

    fn open_with(dir: &Path, cache_bytes: u64, accept_loss: bool) -> Result<(Store, Vec<String>)> {
        let db = open_db(dir, cache_bytes)?;
        let tree = db.open_tree("dutyroom").map_err(storage)?;
        let format_key = TreeId::State.key(&keys::meta("format"));
        let id_key = TreeId::State.key(&keys::meta("store_id"));
        let mut format = FORMAT_VERSION;
        let store_id = match tree.get(&format_key).map_err(storage)? {
            Some(found)
                if [FORMAT_VERSION, FORMAT_V3, FORMAT_V2, FORMAT_V1]
                    .iter()
                    .any(|known| found.as_ref() == known.as_bytes()) =>
            {
                format = [FORMAT_VERSION, FORMAT_V3, FORMAT_V2, FORMAT_V1]
                    .into_iter()
                    .find(|known| found.as_ref() == known.as_bytes())
                    .unwrap_or(FORMAT_VERSION);
                let id = tree.get(&id_key).map_err(storage)?;
                String::from_utf8_lossy(id.as_deref().unwrap_or_default()).into_owned()
            }
            Some(found) => {
                return Err(Error::Storage(format!(
                    "the store in {} has format {:?}; this dutyd reads {FORMAT_VERSION:?}. \
                     Use a dutyd that matches the store, or migrate it.",
                    dir.display(),
                    String::from_utf8_lossy(&found)
                )));
            }
            None => {
                let foreign = db.tree_names().iter().any(|name| {
                    name.as_ref() != b"dutyroom" && name.as_ref() != b"__sled__default"
                });
                if !tree.is_empty() || !db.is_empty() || foreign {
                    return Err(Error::Storage(format!(
                        "{} holds data without a dutyroom format key: not a dutyroom store",
                        dir.display()
                    )));
                }
                let id = new_store_id()?;
                tree.insert(id_key, id.as_bytes()).map_err(storage)?;
                tree.insert(&format_key, FORMAT_VERSION.as_bytes())
                    .map_err(storage)?;
                db.flush().map_err(storage)?;
                id
            }
        };
        let log_path = dir.join("db");
        let log_file = std::fs::File::open(&log_path).map_err(|e| {
            Error::Storage(format!("opening {} to sync it: {e}", log_path.display()))
        })?;
        let log_file = std::sync::Arc::new(log_file);
        // A v1/v2 store was flushed on every batch: it is its own truth, and
        // its journal starts empty after it (then takes its records). A v3
        // store's sled is only as good as its journal says.
        let legacy = format == FORMAT_V2 || format == FORMAT_V1;
        if format == FORMAT_V3 {
            tree.insert(&format_key, FORMAT_VERSION.as_bytes())
                .map_err(storage)?;
            db.flush().map_err(storage)?;
        }
        let applied = match tree.get(applied_key()).map_err(storage)? {
            Some(bytes) => decode::<u64>(&bytes)?,
            None => 0,
        };
        let wal_dir = dir.join("wal");
        let opened = wal::Wal::open(
            std::sync::Arc::new(wal::fs::RealFs),
            &wal_dir,
            &store_id,
            applied,
            legacy || applied == 0,
            accept_loss,
        )?;
        let epoch = match tree
            .get(TreeId::State.key(&keys::meta("epoch")))
            .map_err(storage)?
        {
            Some(bytes) => decode::<Epoch>(&bytes)?,
            None => Epoch::first(),
        };
        let head_seq = last_seq_in(&tree)?;
        let boards = db.open_tree("board-snapshots").map_err(storage)?;
        let store = Store {
            db,
            tree,
            boards,
            store_id,
            index_tail: journal::Tail::default(),
            log_file,
            wal_dir: wal_dir.clone(),
            files: std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new())),
            journal: std::sync::Arc::new(std::sync::Mutex::new(JournalFile {
                last_seq: opened.replay.last().map_or(head_seq, |frame| frame.seq),
                wal: opened.wal,
            })),
            applied: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(applied)),
            checkpointing: std::sync::Arc::new(std::sync::Mutex::new(())),
            epoch: std::sync::Arc::new(std::sync::RwLock::new(epoch)),
            backup_running: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            decoded: std::sync::Arc::default(),
            settle: std::sync::Arc::new(Settle {
                durable: std::sync::atomic::AtomicU64::new(applied),
                ..Settle::default()
            }),
            archiving: std::sync::Arc::new(std::sync::Mutex::new(())),
            checkpointed: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(applied)),
        };
        store.drop_snapshots_among_indexes()?;
        if !opened.replay.is_empty() {
            let count = opened.replay.len();
            let to_seq = opened.replay.last().map_or(0, |frame| frame.seq);
            for frame in opened.replay {
                let (writes, locations) = frame_writes(&frame)?;
                store.apply(&writes, &locations, frame.lsn)?;
            }
            store.checkpoint()?;
            tracing::info!(
                frames = count,
                seq = to_seq,
                "replayed the journal into the state (it was behind)"
            );
        }
        if legacy {
            store.move_legacy_records(format)?;
        }
        let pending = wal_dir.join(wal::EPOCH_PENDING);
        if !opened.lost.is_empty() || pending.exists() {
            let why = if opened.lost.is_empty() {
                "accepted loss (an earlier recovery stopped before its new epoch)".to_owned()
            } else {
                format!("accepted loss: {}", opened.lost.join("; "))
            };
            store.begin_epoch(&why)?;
            std::fs::remove_file(&pending)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .and_then(|()| std::fs::File::open(&wal_dir)?.sync_all())
                .map_err(|e| Error::Storage(format!("removing {}: {e}", pending.display())))?;
        }
        let restored = store.get::<BackupMark>(TreeId::State, &keys::meta("backup"))?;
        if let Some(mark) = restored {
            // One frame: the mark goes only with the new epoch.
            let mut writes = WriteSet::default();
            writes.remove(TreeId::State, keys::meta("backup"));
            store.begin_epoch_with(
                writes,
                &format!(
                    "restored from the backup taken at {} (seq {})",
                    mark.taken_at, mark.head_seq
                ),
            )?;
        }
        store.check_head()?;
        store.move_old_rollcalls()?;
        Ok((store, opened.lost))
    }

    /// Starts a new epoch: from now on the store's identity differs, so
    /// every client resuming with a seq of the old one is told to resync
    /// (seqs after the loss or the restore point may be reused).
    fn begin_epoch(&self, why: &str) -> Result<()> {
        self.begin_epoch_with(WriteSet::default(), why)
    }

    /// [`Store::begin_epoch`] in the same frame as `writes`.
    fn begin_epoch_with(&self, mut writes: WriteSet, why: &str) -> Result<()> {
        let epoch = self.current_epoch().next()?;
        writes.put(TreeId::State, keys::meta("epoch"), encode(&epoch)?);
        self.commit(&writes)?;
        self.checkpoint()?;
        *self
            .epoch
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = epoch;
        tracing::warn!(
            identity = %self.identity(),
            why,
            "a new epoch of the store begins: clients resuming from an older one must resync"
        );
        Ok(())
    }

    fn current_epoch(&self) -> Epoch {
        self.epoch
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The store's identity as clients see it: its id and epoch,
    /// `<id>-<n>` (`<id>-<n>.<tag>` after the first). Seqs are only
    /// comparable under one identity.
    pub fn identity(&self) -> String {
        let epoch = self.current_epoch();
        if epoch.tag.is_empty() {
            format!("{}-{}", self.store_id, epoch.number)
        } else {
            format!("{}-{}.{}", self.store_id, epoch.number, epoch.tag)
        }
    }

    /// The store's random id, fixed at creation (the same in every epoch).
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Roll-calls were once kept under `rc`, which request records (`r` +
    /// token id) can share when a token id starts with `c`. Moves them to
    /// their own prefix: a roll-call key is exactly `rc` + 8 bytes, a
    /// request key is longer. One atomic batch; nothing to do after.
    fn move_old_rollcalls(&self) -> Result<()> {
        let mut writes = WriteSet::default();
        for (key, value) in self.scan(TreeId::State, keys::OLD_ROLLCALLS, None, usize::MAX)? {
            if key.len() != keys::OLD_ROLLCALLS.len() + 8 {
                continue;
            }
            let id = keys::decode_u64(&key[keys::OLD_ROLLCALLS.len()..])?;
            writes.put(TreeId::State, keys::rollcall(id), value);
            writes.remove(TreeId::State, key);
        }
        if writes.is_empty() {
            return Ok(());
        }
        self.commit(&writes)?;
        self.checkpoint()
    }

    /// Seals journal segments at `bytes` (tests).
    #[cfg(test)]
    pub(crate) fn set_segment_limit(&self, bytes: u64) {
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .wal
            .set_segment_limit(bytes);
    }

    /// The lsn of the last journal frame applied to sled.
    pub fn applied_lsn(&self) -> u64 {
        self.applied.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The newest journal record's seq and hash.
    pub fn head(&self) -> Result<Head> {
        Ok(match self.last_journal_record()? {
            Some((seq, bytes)) => Head {
                seq,
                hash: record_hash(&bytes),
            },
            None => Head::genesis(),
        })
    }

    /// The stored bytes of journal record `seq`.
    pub fn journal_record(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        self.settled()?;
        twice(|| match journal::location(&self.tree, seq)? {
            Some(location) => self.read_records(&[location]).map(|mut found| found.pop()),
            None => Ok(None),
        })
    }

    /// Journal records after `after`, in seq order, at most `limit`.
    pub fn journal_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        self.settled()?;
        twice(|| {
            let locations = journal::locations_after(&self.tree, after, limit)?;
            let records = self.read_records(&locations)?;
            Ok(locations
                .iter()
                .map(|location| location.seq)
                .zip(records)
                .collect())
        })
    }

    /// The newest journal record: its seq and bytes.
    fn last_journal_record(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.settled()?;
        twice(|| match journal::last_location(&self.tree)? {
            Some(location) => Ok(self
                .read_records(&[location])?
                .pop()
                .map(|bytes| (location.seq, bytes))),
            None => Ok(None),
        })
    }

    /// The bytes at `locations`, in order. Neighbours in one segment are
    /// read with one `pread` when they lie close together.
    fn read_records(&self, locations: &[journal::Location]) -> Result<Vec<Vec<u8>>> {
        use std::os::unix::fs::FileExt;
        let mut found = Vec::with_capacity(locations.len());
        let mut rest = locations;
        while let Some(first) = rest.first() {
            // The run of locations in the same segment, each after the last.
            let mut end = first.offset + u64::from(first.len);
            let mut wanted = u64::from(first.len);
            let mut run = 1;
            while let Some(next) = rest.get(run) {
                let next_end = next.offset + u64::from(next.len);
                let span = next_end.saturating_sub(first.offset);
                if next.segment != first.segment
                    || next.offset < end
                    || span > 4 * (wanted + u64::from(next.len)) + (64 << 10)
                {
                    break;
                }
                end = next_end;
                wanted += u64::from(next.len);
                run += 1;
            }
            if first.segment & archive::ARCHIVED != 0 {
                // One block holds many records: read and inflate it once
                // for every wanted record in it.
                let run = rest
                    .iter()
                    .take_while(|l| l.segment == first.segment && l.offset == first.offset)
                    .count();
                let file = self.segment_file(first.segment)?;
                let mut bytes = vec![0u8; first.len as usize];
                file.read_exact_at(&mut bytes, first.offset).map_err(|e| {
                    Error::Storage(format!(
                        "reading journal record {} (archive {}, byte {}): {e}",
                        first.seq,
                        first.segment & !archive::ARCHIVED,
                        first.offset
                    ))
                })?;
                let mut block = archive::block_records(&bytes)?.into_iter().peekable();
                for location in &rest[..run] {
                    let record = loop {
                        match block.next() {
                            Some((seq, record)) if seq == location.seq => break record,
                            Some(_) => continue,
                            None => {
                                return Err(Error::Storage(format!(
                                    "journal record {} is not in its archive block",
                                    location.seq
                                )));
                            }
                        }
                    };
                    found.push(record);
                }
                rest = &rest[run..];
                continue;
            }
            let file = self.segment_file(first.segment)?;
            let span = usize::try_from(end - first.offset)
                .map_err(|_| Error::Storage("a journal read over the address space".into()))?;
            let mut bytes = vec![0u8; span];
            file.read_exact_at(&mut bytes, first.offset).map_err(|e| {
                Error::Storage(format!(
                    "reading journal record {} (segment {}, byte {}): {e}",
                    first.seq, first.segment, first.offset
                ))
            })?;
            for location in &rest[..run] {
                let at = (location.offset - first.offset) as usize;
                found.push(bytes[at..at + location.len as usize].to_vec());
            }
            rest = &rest[run..];
        }
        Ok(found)
    }

    /// The journal segment `first_lsn`, opened once for reading.
    fn segment_file(&self, first_lsn: u64) -> Result<std::sync::Arc<std::fs::File>> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(file) = files.get(&first_lsn) {
            return Ok(file.clone());
        }
        // Not through the journal's lock: a commit holds it across its
        // fdatasync, and readers must not wait for that.
        let path = if first_lsn & archive::ARCHIVED != 0 {
            self.wal_dir
                .join(archive::archive_name(first_lsn & !archive::ARCHIVED))
        } else {
            self.wal_dir.join(wal::segment_name(first_lsn))
        };
        let file = std::fs::File::open(&path)
            .map(std::sync::Arc::new)
            .map_err(|e| Error::Storage(format!("opening {}: {e}", path.display())))?;
        files.insert(first_lsn, file.clone());
        Ok(file)
    }

    /// Moves the records a pre-journal store (format v1 or v2) kept in
    /// sled into the journal, a few thousand per frame, then removes them
    /// from sled and marks the store v3. Each step is atomic and the next
    /// open carries on from where a crash stopped it.
    fn move_legacy_records(&self, format: &str) -> Result<()> {
        const CHUNK: usize = 4096;
        tracing::info!(
            from = format,
            "moving the journal's records into the write-ahead journal (store format v3)"
        );
        let mut moved = 0;
        loop {
            let next = self.head()?.seq + 1;
            let records = journal::legacy_records(&self.tree, next, CHUNK)?;
            if records.is_empty() {
                break;
            }
            let mut writes = WriteSet::default();
            for (seq, record) in records {
                writes.put(TreeId::Journal, keys::seq(seq), record);
                moved += 1;
            }
            self.commit(&writes)?;
            if moved % (CHUNK as u64 * 64) == 0 {
                tracing::info!(records = moved, "still moving records into the journal");
            }
        }
        self.checkpoint()?;
        while journal::remove_legacy(&self.tree, CHUNK)? > 0 {}
        let mut writes = WriteSet::default();
        writes.put(
            TreeId::State,
            keys::meta("format"),
            FORMAT_VERSION.as_bytes().to_vec(),
        );
        self.commit(&writes)?;
        self.checkpoint()?;
        tracing::info!(
            records = moved,
            "the store now keeps a write-ahead journal (format v3)"
        );
        Ok(())
    }

    /// sled's tree, for tests that build old stores by hand.
    #[cfg(test)]
    pub(crate) fn raw_tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// sled's db, for tests that build old stores by hand.
    #[cfg(test)]
    pub(crate) fn raw_db(&self) -> &sled::Db {
        &self.db
    }

    /// The head recorded in meta with the last batch.
    pub fn recorded_head(&self) -> Result<Option<Head>> {
        self.get(TreeId::State, &keys::meta("head"))
    }

    fn check_head(&self) -> Result<()> {
        let head = self.head()?;
        match self.recorded_head()? {
            None if head.seq == 0 => Ok(()),
            Some(recorded) if recorded == head => Ok(()),
            recorded => Err(Error::Storage(format!(
                "journal head mismatch: the journal ends at seq {} but meta records {:?}; \
                 the store was changed outside dutyd (run `duty audit verify` for details)",
                head.seq, recorded
            ))),
        }
    }

    /// Raw bytes at `key`.
    fn get_raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.settled()?;
        Ok(self
            .tree
            .get(tree.key(key))
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    /// The decoded value at `key`.
    fn get<T: DeserializeOwned>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>> {
        self.settled()?;
        match self.tree.get(tree.key(key)).map_err(storage)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Keys (and values) starting with `prefix`, strictly after `after` when
    /// given, in key order, at most `limit`. Keys come back without the
    /// keyspace byte, as they were written.
    fn scan(
        &self,
        tree: TreeId,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let page = Page::first(limit).after(after.map(|key| PageCursor::at(key.to_vec())));
        let found = self.walk(tree, prefix, &page, |key, value| {
            Ok(Visit::Keep((key.to_vec(), value.to_vec())))
        })?;
        Ok(found.items)
    }

    /// Number of keys starting with `prefix`.
    /// Forgets the search index and its build, as a store from before it
    /// was kept (tests only).
    #[cfg(test)]
    pub(crate) fn forget_search_index(&self) {
        for tag in [b'w', b'q', b'y', b'x'] {
            for key in self.tree.scan_prefix(TreeId::Index.key(&[tag])).keys() {
                self.tree.remove(key.expect("key")).expect("remove");
            }
        }
        self.tree
            .remove(TreeId::State.key(&keys::meta("search_indexed_below")))
            .expect("remove");
    }

    #[cfg(test)]
    fn count(&self, tree: TreeId, prefix: &[u8]) -> usize {
        self.tree.scan_prefix(tree.key(prefix)).count()
    }

    /// Makes every change in `writes` durable as one journal frame (one
    /// write, one `fdatasync`), then applies it to sled as one atomic batch
    /// (not flushed: see [`Store::checkpoint`]). Journal records, staged
    /// under their seq, are appended to their groups. Only the writer calls
    /// this. An error after the frame's write leaves its fate unknown.
    pub fn commit(&self, writes: &WriteSet) -> Result<()> {
        self.commit_durable(writes)?.apply()
    }

    /// The first half of [`Store::commit`]: `writes` durable as one journal
    /// frame; [`Durable::apply`] does the rest. To answer before the apply,
    /// call [`Durable::answer_first`] first.
    pub fn commit_durable<'a>(&'a self, writes: &'a WriteSet) -> Result<Durable<'a>> {
        let mut journal = self
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked before anything is written: the journal only grows, by one.
        let mut expected = journal.last_seq + 1;
        for key in writes.trees[TreeId::Journal as usize].keys() {
            let seq = keys::decode_u64(key)?;
            if seq != expected {
                return Err(Error::Storage(format!(
                    "journal record {seq} refused: the journal's next record is {expected}"
                )));
            }
            expected += 1;
        }
        let seq = expected - 1;
        let (payload, records) = writes.encode_located();
        let (lsn, place) = journal.wal.append_at(seq, &payload)?;
        journal.last_seq = seq;
        Ok(Durable {
            store: self,
            _journal: journal,
            writes,
            locations: locate(&records, place),
            lsn,
            applied: false,
        })
    }

    /// The incident stored as `raw`. Lists read the same open incidents
    /// over and over, and decoding their JSON was a third of a post's open
    /// list: a decoded copy is kept by the stored bytes.
    pub(crate) fn decoded_incident(&self, raw: &[u8]) -> Result<crate::incidents::model::Incident> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(raw);
        let cached = self
            .decoded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&hash)
            .filter(|(bytes, _)| bytes.as_slice() == raw)
            .map(|(_, incident)| incident.clone());
        if let Some(incident) = cached {
            return Ok((*incident).clone());
        }
        let incident: crate::incidents::model::Incident = decode(raw)?;
        let mut decoded = self
            .decoded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if decoded.len() >= DECODED_INCIDENTS {
            decoded.clear();
        }
        decoded.insert(hash, (raw.to_vec(), std::sync::Arc::new(incident.clone())));
        Ok(incident)
    }

    /// Frame `lsn` was durable (perhaps answered) and sled could not take
    /// it: from now on every read is an error (dutyd is stopping; a restart
    /// replays it), and waiting readers are woken to say so.
    fn settle_failed(&self, lsn: u64) {
        use std::sync::atomic::Ordering;
        self.settle.durable.fetch_max(lsn, Ordering::AcqRel);
        self.settle.failed.store(true, Ordering::Release);
        self.settle.wake_all();
    }

    /// Waits until sled has applied every frame durable now (see
    /// [`Settle`]); at once when it has.
    fn settled(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.settle.failed.load(Ordering::Acquire) {
            return Err(Settle::failed_error());
        }
        let target = self.settle.durable.load(Ordering::Acquire);
        if self.applied_lsn() >= target {
            return Ok(());
        }
        let mut waiting = self
            .settle
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if self.applied_lsn() >= target {
                return Ok(());
            }
            if self.settle.failed.load(Ordering::Acquire) {
                return Err(Settle::failed_error());
            }
            waiting = self
                .settle
                .applied
                .wait_timeout(waiting, std::time::Duration::from_millis(50))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Applies a frame's changes to sled, with its lsn and where its
    /// records are, as one batch.
    fn apply(&self, writes: &WriteSet, locations: &[journal::Location], lsn: u64) -> Result<()> {
        apply_to(&self.tree, &self.index_tail, writes, locations, lsn, false)?;
        self.applied
            .store(lsn, std::sync::atomic::Ordering::Release);
        self.settle.wake_all();
        Ok(())
    }

    /// Below which id every incident is in the search index (those above it
    /// are the tail the next [`Store::index_for_search`] takes; a search
    /// checks them one by one meanwhile).
    pub fn search_indexed_below(&self) -> Result<u64> {
        let key = TreeId::State.key(&keys::meta("search_indexed_below"));
        match self.tree.get(&key).map_err(storage)? {
            Some(bytes) => decode(&bytes),
            None => Ok(1),
        }
    }

    /// Incidents changed since they were indexed (ids, newest first, at most
    /// `limit`): a search checks them one by one until they are indexed again.
    pub fn search_dirty(&self, limit: usize) -> Result<Vec<u64>> {
        let mut ids: Vec<u64> = self
            .tree
            .scan_prefix(TreeId::Index.key(keys::SEARCH_DIRTY))
            .keys()
            .take(limit)
            .map(|key| keys::search_key_id(&key.map_err(storage)?))
            .collect::<Result<_>>()?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Brings the search index up to date a chunk at a time: first up to
    /// `count` incidents whose texts changed since they were indexed, then
    /// up to `count` of the newest not yet indexed. The index is derived
    /// from the incidents (which the journal holds), so it is written
    /// straight to sled, never journaled, with the progress in the same
    /// atomic batch: a crash loses at most what the next start redoes. A
    /// bigram an edit removed stays as a key: the index finds a superset and
    /// every search checks each candidate. True while more remain.
    pub fn index_for_search(&self, count: usize) -> Result<bool> {
        let mut batch = sled::Batch::default();
        let dirty: Vec<(sled::IVec, sled::IVec)> = self
            .tree
            .scan_prefix(TreeId::Index.key(keys::SEARCH_DIRTY))
            .take(count.max(1))
            .collect::<std::result::Result<_, _>>()
            .map_err(storage)?;
        for (key, _) in &dirty {
            if let Some(incident) = Reader::incident(self, keys::search_key_id(key)?)? {
                for key in keys::incident_search(&incident) {
                    batch.insert(TreeId::Index.key(&key), Vec::new());
                }
            }
        }
        let next = self.search_indexed_below()?;
        let last = self.counter(read::Counter::IncidentId)?;
        let end = next
            .saturating_add(count.max(1) as u64)
            .min(last.saturating_add(1));
        for id in next..end {
            if let Some(incident) = Reader::incident(self, id)? {
                for key in keys::incident_search(&incident) {
                    batch.insert(TreeId::Index.key(&key), Vec::new());
                }
            }
        }
        batch.insert(
            TreeId::State.key(&keys::meta("search_indexed_below")),
            encode(&end.max(next))?,
        );
        self.tree
            .apply_batch(batch)
            .map_err(|e| Error::Storage(format!("writing the search index: {e}")))?;
        // A mark is cleared only if no write marked the incident again
        // while it was being indexed (the value is the seq of its change).
        for (key, seen) in &dirty {
            let _ = self
                .tree
                .compare_and_swap(key, Some(seen), None::<&[u8]>)
                .map_err(storage)?;
        }
        Ok(dirty.len() >= count.max(1) || end <= last)
    }

    /// Makes sled durable through every frame applied so far, so that a
    /// start replays only what came after. Safe beside commits.
    ///
    /// sled 0.34.7 makes its log stable with `sync_file_range` on Linux,
    /// which writes the data but neither the file's metadata (its size, as
    /// the log grows into new segments) nor the disk's write cache; the
    /// `fdatasync` after it is what makes the checkpoint survive a power
    /// cut. Until a checkpoint, the journal alone holds the batches.
    pub fn checkpoint(&self) -> Result<()> {
        let _one = self
            .checkpointing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let applied = self.applied_lsn();
        self.db.flush().map_err(storage)?;
        self.log_file
            .sync_data()
            .map_err(|e| Error::Storage(format!("syncing the store's log: {e}")))?;
        self.checkpointed
            .fetch_max(applied, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// Every frame up to this lsn is durable in sled.
    fn checkpointed_lsn(&self) -> u64 {
        self.checkpointed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Bytes on disk, as sled reports it.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().map_err(storage)
    }
}

/// sled's log segment size for a new store. sled writes any page bigger
/// than a quarter segment to a file of its own (a "blob": create, write,
/// later delete) instead of its log; with sled's 512 KiB default a leaf of
/// journal groups could reach that size, and every rewrite of it cost a file.
/// A 2 MiB segment keeps pages in the log.
const NEW_SEGMENT_SIZE: usize = 2 << 20;

/// The segment size to open `dir` with: the one it was created with (sled
/// refuses any other; stores before dutyroom chose one have sled's default
/// in their `conf`), or [`NEW_SEGMENT_SIZE`] for a new store.
fn segment_size(dir: &Path) -> Result<usize> {
    let conf = dir.join("conf");
    let text = match std::fs::read(&conf) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NEW_SEGMENT_SIZE),
        Err(e) => {
            return Err(Error::Storage(format!("reading {}: {e}", conf.display())));
        }
    };
    text.lines()
        .find_map(|line| line.strip_prefix("segment_size: "))
        .and_then(|size| size.trim().parse().ok())
        .ok_or_else(|| {
            Error::Storage(format!(
                "{} has no segment_size: not a store this dutyd can open",
                conf.display()
            ))
        })
}

/// Opens sled, waiting up to 2 s for the directory's lock: a store closed a
/// moment ago (a restart) releases it when sled's I/O threads finish. A lock
/// held longer means another dutyd is using the store.
fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db> {
    let segment_size = segment_size(dir)?;
    let mut attempts = 0;
    loop {
        // sled panics on some damage in its log ("tried to serialize
        // Uninitialized") instead of returning an error: catch it and say
        // what it means, instead of an 86-line panic.
        let opened = std::panic::catch_unwind(|| {
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .segment_size(segment_size)
                .open()
        });
        let opened = match opened {
            Ok(opened) => opened,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                return Err(Error::Storage(damaged(dir, &what)));
            }
        };
        match opened {
            Ok(db) => return Ok(db),
            // sled wraps the flock failure as an `Other` I/O error.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if attempts >= 100 {
                    return Err(Error::Storage(format!(
                        "the store in {} is in use by another process (another dutyd?)",
                        dir.display()
                    )));
                }
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(sled::Error::Corruption { .. }) => {
                return Err(Error::Storage(damaged(dir, "a damaged record in its log")));
            }
            Err(e) => {
                return Err(Error::Storage(format!(
                    "opening the store in {}: {e}",
                    dir.display()
                )));
            }
        }
    }
}

/// What to say when the store cannot be read back: it is damaged, nothing
/// was changed, and what to do.
fn damaged(dir: &Path, what: &str) -> String {
    format!(
        "the store in {} is damaged and cannot be opened ({what}). dutyd changed nothing. \
         Restore the latest backup into a new directory and start dutyd on it \
         (docs/operations.md, \"Backups and the store\"); keep this directory for \
         inspection.",
        dir.display()
    )
}

/// Applies a frame's changes to `tree`, with its lsn, as one sled batch:
/// the state, the indexes, the deadlines, and the journal index with where
/// the frame's records are (`locations`; the records themselves stay in the
/// journal). `tolerant` (a backup's fuzzy copy, replayed over) skips records
/// the index already holds instead of refusing them.
fn apply_to(
    tree: &sled::Tree,
    tail: &journal::Tail,
    writes: &WriteSet,
    locations: &[journal::Location],
    lsn: u64,
    tolerant: bool,
) -> Result<()> {
    let mut batch = sled::Batch::default();
    let indexed = journal::index(tree, tail, locations, tolerant)?;
    for (key, bytes) in indexed.groups {
        batch.insert(TreeId::Journal.key(&key), bytes);
    }
    for keyspace in TREES {
        if keyspace == TreeId::Journal {
            continue;
        }
        for (key, value) in &writes.trees[keyspace as usize] {
            match value {
                Some(value) => batch.insert(keyspace.key(key), value.as_slice()),
                None => batch.remove(keyspace.key(key)),
            }
        }
    }
    batch.insert(applied_key(), encode(&lsn)?);
    tree.apply_batch(batch)
        .map_err(|e| Error::Storage(format!("applying journal frame {lsn}: {e}")))?;
    if let Some((group, bytes)) = indexed.tail {
        tail.set(group, bytes);
    }
    Ok(())
}

/// Where a frame's records landed: `records` are (seq, offset in the
/// payload, length), `place` where the payload is.
fn locate(records: &[RecordSpan], place: wal::Place) -> Vec<journal::Location> {
    records
        .iter()
        .map(|&(seq, offset, len)| journal::Location {
            seq,
            segment: place.segment,
            offset: place.offset + offset,
            len,
        })
        .collect()
}

/// A frame read back: its changes and where its records are.
fn frame_writes(frame: &wal::Frame) -> Result<(WriteSet, Vec<journal::Location>)> {
    let (writes, records) = WriteSet::decode_located(&frame.payload).map_err(|e| {
        Error::Storage(format!(
            "journal frame {} (seq {}) does not decode: {e}",
            frame.lsn, frame.seq
        ))
    })?;
    Ok((writes, locate(&records, frame.at)))
}

/// The seq of the newest journal record sled holds (0 for none).
fn last_seq_in(tree: &sled::Tree) -> Result<u64> {
    Ok(journal::last_location(tree)?.map_or(0, |location| location.seq))
}

fn new_store_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Storage(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::fixtures::copy_dir;

    /// `count` commits of one 300-byte key each, `k0`, `k1`, ….
    fn fill(store: &Store, from: u32, count: u32) {
        for n in from..from + count {
            let mut writes = WriteSet::default();
            writes.put(TreeId::State, format!("k{n}").into_bytes(), vec![7; 300]);
            store.commit(&writes).expect("commit");
        }
    }

    fn has_all(store: &Store, count: u32) -> bool {
        (0..count).all(|n| {
            store
                .get_raw(TreeId::State, format!("k{n}").as_bytes())
                .expect("read")
                == Some(vec![7; 300])
        })
    }

    /// Damage in sled's log must never surface as a panic, nor as an older
    /// state (issue 13: sled opened such copies 95–122 incidents behind,
    /// silently). Every damaged copy is either refused in words or opens
    /// with every committed write, replayed from the journal.
    #[test]
    fn damage_to_sleds_log_never_opens_an_older_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, 8 << 20).expect("store");
            fill(&store, 0, 400);
            store.checkpoint().expect("checkpoint");
        }
        let clean = std::fs::read(path.join("db")).expect("read the log");
        let mut refused = 0;
        // Garbage at a spread of places in the log, one copy each.
        for step in 0..12 {
            let at = clean.len() * step / 12;
            let copy = dir.path().join(format!("copy{step}"));
            copy_dir(&path, &copy);
            let mut damaged = clean.clone();
            for byte in damaged.iter_mut().skip(at).take(512) {
                *byte ^= 0x5a;
            }
            std::fs::write(copy.join("db"), &damaged).expect("damage");
            let opened = std::panic::catch_unwind(|| Store::open(&copy, 8 << 20));
            match opened {
                Ok(Ok(store)) => assert!(
                    has_all(&store, 400),
                    "a store damaged at byte {at} opened without every write"
                ),
                Ok(Err(error)) => {
                    refused += 1;
                    assert!(
                        error.to_string().contains("damaged")
                            || error.to_string().contains("opening"),
                        "{error}"
                    );
                }
                Err(_) => panic!("opening a store damaged at byte {at} panicked"),
            }
        }
        println!("{refused} of 12 damaged copies refused with a message, the rest whole");
    }

    /// What a power cut does to sled between checkpoints: its files go back
    /// to the last checkpoint. The journal brings every commit back.
    #[test]
    fn a_state_behind_the_journal_is_caught_up_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        let snapshot = dir.path().join("at-checkpoint");
        {
            let store = Store::open(&path, 8 << 20).expect("store");
            fill(&store, 0, 50);
            store.checkpoint().expect("checkpoint");
            copy_dir(&path, &snapshot);
            fill(&store, 50, 70);
        }
        // sled's files as of the checkpoint, the journal as of now.
        std::fs::remove_dir_all(snapshot.join("wal")).expect("drop old journal");
        copy_dir(&path.join("wal"), &snapshot.join("wal"));
        let store = Store::open(&snapshot, 8 << 20).expect("open");
        assert!(has_all(&store, 120), "every commit replayed");
        assert_eq!(store.applied_lsn(), 120, "one frame per commit");
        // And the journal carries on from there.
        fill(&store, 120, 1);
        drop(store);
        let store = Store::open(&snapshot, 8 << 20).expect("reopen");
        assert!(has_all(&store, 121));
    }

    /// A state from before the journal's oldest segment (old segments lost,
    /// or an old copy of sled's files beside a journal missing its start)
    /// cannot be caught up: refused, never opened as it is.
    #[test]
    fn a_state_older_than_the_journal_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        let snapshot = dir.path().join("old");
        {
            let store = Store::open(&path, 8 << 20).expect("store");
            store.set_segment_limit(4096);
            fill(&store, 0, 10);
            store.checkpoint().expect("checkpoint");
            copy_dir(&path, &snapshot);
            fill(&store, 10, 100);
        }
        std::fs::remove_dir_all(snapshot.join("wal")).expect("drop old journal");
        copy_dir(&path.join("wal"), &snapshot.join("wal"));
        // The journal's oldest segments are lost (deleted by hand, say).
        for entry in std::fs::read_dir(snapshot.join("wal")).expect("list") {
            let path = entry.expect("entry").path();
            let first: u64 = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .and_then(|stem| stem.parse().ok())
                .unwrap_or(0);
            if first < 30 {
                std::fs::remove_file(&path).expect("remove");
            }
        }
        let error = Store::open(&snapshot, 8 << 20).err().expect("refused");
        let text = error.to_string();
        assert!(text.contains("are missing"), "{text}");
        assert!(text.contains("recover --accept-loss"), "{text}");
        // Without its journal at all, a store is refused too.
        std::fs::remove_dir_all(path.join("wal")).expect("drop journal");
        let text = Store::open(&path, 8 << 20)
            .err()
            .expect("refused")
            .to_string();
        assert!(text.contains("no segments"), "{text}");
    }

    /// A store of format v2 (sled flushed on every batch, no journal files)
    /// gets its journal on first open and keeps everything.
    #[test]
    fn a_v2_store_gets_a_journal_when_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            fill(&store, 0, 30);
            store.checkpoint().expect("checkpoint");
            // Make it what a v2 dutyd left.
            store
                .tree
                .insert(
                    TreeId::State.key(&keys::meta("format")),
                    FORMAT_V2.as_bytes(),
                )
                .expect("format");
            store.tree.remove(applied_key()).expect("lsn");
            store.db.flush().expect("flush");
        }
        std::fs::remove_dir_all(dir.path().join("wal")).expect("no journal in v2");
        let store = Store::open(dir.path(), 8 << 20).expect("converted");
        assert!(has_all(&store, 30));
        let format = store
            .get_raw(TreeId::State, &keys::meta("format"))
            .expect("read");
        assert_eq!(format.as_deref(), Some(FORMAT_VERSION.as_bytes()));
        assert!(dir.path().join("wal").is_dir());
        fill(&store, 30, 1);
        drop(store);
        assert!(has_all(
            &Store::open(dir.path(), 8 << 20).expect("reopen"),
            31
        ));
    }

    /// A journal that is gone cannot be replaced by a new one: the state
    /// points at records it held. `recover --accept-loss` says so and
    /// changes nothing, rather than starting a store whose history is gone.
    #[test]
    fn recovering_cannot_invent_the_history_the_state_points_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            journal_fill(&store, 20);
            store.checkpoint().expect("checkpoint");
        }
        std::fs::rename(dir.path().join("wal"), dir.path().join("wal.gone")).expect("lose it");
        assert!(Store::open(dir.path(), 8 << 20).is_err(), "refused");
        let error = Store::recover(dir.path(), 8 << 20)
            .err()
            .expect("refused too")
            .to_string();
        assert!(error.contains("cannot start from it"), "{error}");
        assert!(error.contains("Restore the latest backup"), "{error}");
        // Nothing changed: with its journal back, the store opens whole.
        std::fs::remove_dir_all(dir.path().join("wal")).ok();
        std::fs::rename(dir.path().join("wal.gone"), dir.path().join("wal")).expect("back");
        let store = Store::open(dir.path(), 8 << 20).expect("opens");
        assert_eq!(store.head().expect("head").seq, 20);
    }

    /// A recovery that set part of the journal aside and then stopped (a
    /// crash) before its new epoch was recorded still gets the epoch at
    /// the next open: the marker it left first says so.
    #[test]
    fn an_epoch_owed_by_an_interrupted_recovery_begins_at_the_next_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            journal_fill(&store, 3);
            store.identity()
        };
        std::fs::write(
            dir.path().join("wal").join(wal::EPOCH_PENDING),
            b"frame 4 damaged",
        )
        .expect("marker");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        assert_ne!(store.identity(), before);
        assert!(!dir.path().join("wal").join(wal::EPOCH_PENDING).exists());
        let after = store.identity();
        drop(store);
        assert_eq!(
            Store::open(dir.path(), 8 << 20).expect("reopen").identity(),
            after
        );
    }

    /// `count` commits each of one journal record (seq 1, 2, …) and its head.
    fn journal_fill(store: &Store, count: u64) {
        for seq in 1..=count {
            let mut writes = WriteSet::default();
            let record = format!("record {seq}").into_bytes();
            let head = Head {
                seq,
                hash: record_hash(&record),
            };
            writes.put(TreeId::Journal, keys::seq(seq), record);
            writes.put(
                TreeId::State,
                keys::meta("head"),
                encode(&head).expect("head"),
            );
            store.commit(&writes).expect("commit");
        }
    }

    /// Damage in the middle of the journal: refused; with --accept-loss the
    /// whole frames before it replay, the rest is set aside.
    #[test]
    fn recovering_from_a_damaged_journal_keeps_the_whole_frames_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        let snapshot = dir.path().join("behind");
        {
            let store = Store::open(&path, 8 << 20).expect("open");
            fill(&store, 0, 10);
            store.checkpoint().expect("checkpoint");
            copy_dir(&path, &snapshot);
            fill(&store, 10, 30);
        }
        // sled as of the checkpoint; the journal as of now, damaged.
        std::fs::remove_dir_all(snapshot.join("wal")).expect("old journal");
        copy_dir(&path.join("wal"), &snapshot.join("wal"));
        let segment = std::fs::read_dir(snapshot.join("wal"))
            .expect("list")
            .map(|entry| entry.expect("entry").path())
            .find(|path| path.extension().is_some_and(|ext| ext == "wal"))
            .expect("a segment");
        let mut bytes = std::fs::read(&segment).expect("read");
        let used = bytes.iter().rposition(|byte| *byte != 0).expect("frames") + 1;
        let at = used * 6 / 10;
        bytes[at] ^= 0xff;
        std::fs::write(&segment, &bytes).expect("damage");
        let refused = Store::open(&snapshot, 8 << 20).err().expect("refused");
        assert!(refused.to_string().contains("yet frame"), "{refused}");
        let before = Store::open(&path, 8 << 20)
            .expect("the original")
            .identity();
        let (store, lost) = Store::recover(&snapshot, 8 << 20).expect("recover");
        assert_ne!(store.identity(), before, "a new epoch");
        assert!(
            !snapshot.join("wal").join(wal::EPOCH_PENDING).exists(),
            "the epoch it owed is recorded"
        );
        assert_eq!(lost.len(), 1, "{lost:?}");
        let kept = (0..40)
            .take_while(|n| {
                store
                    .get_raw(TreeId::State, format!("k{n}").as_bytes())
                    .expect("read")
                    .is_some()
            })
            .count() as u32;
        assert!((10..39).contains(&kept), "kept {kept}");
        assert!(has_all(&store, kept));
        assert!(
            std::fs::read_dir(snapshot.join("wal"))
                .expect("list")
                .any(|e| e
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .starts_with("lost-")),
            "the cut bytes are kept"
        );
        // It carries on from there.
        fill(&store, 100, 1);
        drop(store);
        assert!(Store::open(&snapshot, 8 << 20).is_ok());
    }

    #[test]
    fn a_read_after_an_acknowledgement_waits_for_the_apply_and_sees_the_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut writes = WriteSet::default();
        writes.put(TreeId::State, b"answer".to_vec(), b"42".to_vec());
        let durable = store.commit_durable(&writes).expect("durable");
        durable.answer_first();
        // Acknowledged: a reader from now on must see it, though sled has
        // not applied it yet.
        let reader = {
            let store = store.clone();
            std::thread::spawn(move || store.get_raw(TreeId::State, b"answer"))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!reader.is_finished(), "the read waits for the apply");
        durable.apply().expect("apply");
        let read = reader.join().expect("reader").expect("read");
        assert_eq!(read, Some(b"42".to_vec()));
        // With nothing pending, reads do not wait.
        assert_eq!(
            store.get_raw(TreeId::State, b"answer").expect("read"),
            Some(b"42".to_vec())
        );
    }

    #[test]
    fn a_decoded_incident_is_reused_only_for_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut incident = fixtures::incident(7, "20261123-0007", "三楼冒烟", Some("xinhua"));
        let first = encode(&incident).expect("encode");
        assert_eq!(store.decoded_incident(&first).expect("decode"), incident);
        assert_eq!(store.decoded_incident(&first).expect("cached"), incident);
        incident.intake.summary = "改过的摘要".into();
        let changed = encode(&incident).expect("encode");
        assert_eq!(store.decoded_incident(&changed).expect("decode"), incident);
        let packed = encode_packed(&incident).expect("pack");
        assert_eq!(store.decoded_incident(&packed).expect("decode"), incident);
        assert!(store.decoded_incident(b"{not json").is_err());
    }

    #[test]
    fn a_packed_value_reads_back_the_same_and_damage_is_an_error() {
        let value: Vec<String> = (0..40)
            .map(|n| format!("第{n}条记录：群众来电反映"))
            .collect();
        let packed = encode_packed(&value).expect("pack");
        let plain = encode(&value).expect("encode");
        assert!(
            packed.len() * 3 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(decode::<Vec<String>>(&packed).expect("unpack"), value);
        assert_eq!(decode::<Vec<String>>(&plain).expect("plain"), value);
        let mut damaged = packed.clone();
        damaged.truncate(packed.len() / 2);
        assert!(decode::<Vec<String>>(&damaged).is_err());
    }

    #[test]
    fn a_write_set_survives_its_frame_encoding() {
        let mut writes = WriteSet::default();
        writes.put(TreeId::Journal, keys::seq(7), b"record".to_vec());
        writes.put(TreeId::State, b"k".to_vec(), Vec::new());
        writes.remove(TreeId::Index, b"gone".to_vec());
        writes.put(TreeId::Deadlines, vec![0; 9], vec![1, 2, 3]);
        let bytes = writes.encode();
        let back = WriteSet::decode(&bytes).expect("decode");
        assert_eq!(back.trees, writes.trees);
        assert_eq!(back.last_journal_seq().expect("seq"), Some(7));
        for cut in 0..bytes.len() {
            assert!(WriteSet::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_store_of_another_format_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            let mut writes = WriteSet::default();
            writes.put(
                TreeId::State,
                keys::meta("format"),
                b"dutyroom-store-v0".to_vec(),
            );
            store.commit(&writes).expect("commit");
            store.checkpoint().expect("checkpoint");
        }
        let error = Store::open(dir.path(), 8 << 20).err().expect("refused");
        let text = error.to_string();
        assert!(text.contains("dutyroom-store-v0"), "{text}");
        assert!(text.contains(FORMAT_VERSION), "{text}");
    }

    #[test]
    fn commit_writes_every_tree_and_scan_respects_prefix_and_cursor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut writes = WriteSet::default();
        for id in 1..=5u64 {
            writes.put(TreeId::Index, keys::open(id), id.to_be_bytes().to_vec());
        }
        writes.put(TreeId::Index, b"p-other".to_vec(), Vec::new());
        store.commit(&writes).expect("commit");
        let all = store.scan(TreeId::Index, b"o", None, 100).expect("scan");
        assert_eq!(all.len(), 5);
        let after_two = store
            .scan(TreeId::Index, b"o", Some(&keys::open(2)), 2)
            .expect("scan");
        let ids: Vec<u64> = after_two
            .iter()
            .map(|(_, v)| keys::decode_u64(v).expect("id"))
            .collect();
        assert_eq!(ids, vec![3, 4]);
    }

    #[test]
    fn roll_calls_never_share_a_prefix_with_request_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8 << 20).expect("open");
            let mut writes = WriteSet::default();
            // A roll-call where older dutyds kept it, and a request record
            // of a token whose id starts with `c`.
            let mut old = keys::OLD_ROLLCALLS.to_vec();
            old.extend_from_slice(&7u64.to_be_bytes());
            writes.put(TreeId::State, old, b"{\"roll-call\":7}".to_vec());
            writes.put(
                TreeId::State,
                keys::request("c0ffee00", "outbox-1"),
                b"{\"request\":1}".to_vec(),
            );
            store.commit(&writes).expect("commit");
            store.checkpoint().expect("checkpoint");
        }
        let store = Store::open(dir.path(), 8 << 20).expect("reopen");
        let rollcalls = store
            .scan(TreeId::State, keys::ROLLCALLS, None, 100)
            .expect("scan");
        assert_eq!(rollcalls.len(), 1, "only the roll-call, moved");
        assert_eq!(rollcalls[0].0, keys::rollcall(7));
        assert!(
            store
                .get_raw(TreeId::State, &keys::request("c0ffee00", "outbox-1"))
                .expect("read")
                .is_some(),
            "the request record stays"
        );
    }

    #[test]
    fn a_store_keeps_the_segment_size_it_was_created_with() {
        let conf = |dir: &Path| {
            String::from_utf8_lossy(&std::fs::read(dir.join("conf")).expect("conf")).into_owned()
        };
        let new = tempfile::tempdir().expect("tempdir");
        drop(Store::open(new.path(), 8 << 20).expect("open"));
        assert!(conf(new.path()).contains("segment_size: 2097152"));
        drop(Store::open(new.path(), 8 << 20).expect("reopen"));
        // A store made with sled's default (as dutyds before this one did).
        let old = tempfile::tempdir().expect("tempdir");
        drop(sled::Config::new().path(old.path()).open().expect("sled"));
        drop(Store::open(old.path(), 8 << 20).expect("open an old store"));
        assert!(conf(old.path()).contains("segment_size: 524288"));
    }

    #[test]
    fn the_store_id_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Store::open(dir.path(), 8 << 20)
            .expect("open")
            .store_id()
            .to_owned();
        let again = Store::open(dir.path(), 8 << 20)
            .expect("reopen")
            .store_id()
            .to_owned();
        assert_eq!(first.len(), 32);
        assert_eq!(first, again);
    }

    /// Board snapshots once lived among the indexes: a store from then
    /// opens with them gone (rebuilt from the journal in their own tree),
    /// and nothing else among the indexes is touched.
    #[test]
    fn board_snapshots_kept_among_the_indexes_are_dropped_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, 8 << 20).expect("store");
            let mut writes = WriteSet::default();
            writes.put(TreeId::Index, b"B\0\0\0\0\0\0\0\x07".to_vec(), vec![1; 64]);
            writes.put(
                TreeId::Index,
                b"b\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x07".to_vec(),
                Vec::new(),
            );
            writes.put(TreeId::Index, b"C-kept".to_vec(), vec![2]);
            store.commit(&writes).expect("commit");
            store.checkpoint().expect("checkpoint");
        }
        let store = Store::open(&path, 8 << 20).expect("reopen");
        assert_eq!(store.raw_tree().scan_prefix(b"xB").count(), 0);
        assert_eq!(store.raw_tree().scan_prefix(b"xb").count(), 0);
        assert_eq!(
            store.get_raw(TreeId::Index, b"C-kept").expect("read"),
            Some(vec![2])
        );
        assert_eq!(store.last_board_snapshot_seq().expect("read"), 0);
    }
}
