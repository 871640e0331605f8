//! The store: the only module that touches sled.
//!
//! # Layout
//!
//! Four trees, written together in one sled transaction per batch of
//! commands (see [`Store::commit`]):
//!
//! - `journal`: seq (u64, big-endian) → journal record (JSON). Gapless from 1;
//!   each record carries the SHA-256 of the one before it.
//! - `state`: current state by prefixed key ([`keys`]): incidents, directory
//!   entries, tokens, idempotency records and meta counters.
//! - `index`: secondary indexes, keys only ([`keys`]): by number, open, status,
//!   assignee, day and each incident's timeline.
//! - `deadlines`: due time → deadline, for the escalation engine.
//!
//! Big-endian integer keys make sled's byte order the numeric order.
//! Domain code never sees sled types: reads return decoded values, writes go
//! in as a [`WriteSet`].

pub mod keys;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The format this build reads and writes. Bump on incompatible changes.
pub const FORMAT_VERSION: &str = "dutyroom-store-v1";

/// Which tree a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TreeId {
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

/// Pending writes: per tree, key → new value (`None` removes the key).
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    trees: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; 4],
}

impl WriteSet {
    /// Sets `key` to `value`.
    pub fn put(&mut self, tree: TreeId, key: Vec<u8>, value: Vec<u8>) {
        self.trees[tree as usize].insert(key, Some(value));
    }

    /// Removes `key`.
    pub fn remove(&mut self, tree: TreeId, key: Vec<u8>) {
        self.trees[tree as usize].insert(key, None);
    }

    /// What this set says about `key`: `Some(None)` means "removed here",
    /// `None` means "not touched here".
    pub fn lookup(&self, tree: TreeId, key: &[u8]) -> Option<Option<&[u8]>> {
        self.trees[tree as usize]
            .get(key)
            .map(|value| value.as_deref())
    }

    /// The writes to `tree` whose keys start with `prefix`.
    pub fn prefixed<'a>(
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

    /// No writes at all.
    pub fn is_empty(&self) -> bool {
        self.trees.iter().all(BTreeMap::is_empty)
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

/// Decodes a stored value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Storage(format!("decoding a record: {e}")))
}

fn storage(error: impl std::fmt::Display) -> Error {
    Error::Storage(error.to_string())
}

/// The opened store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    trees: [sled::Tree; 4],
    store_id: String,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`. Refuses a store of a
    /// different format, or one whose journal head does not match its meta.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| Error::Storage(format!("opening the store in {}: {e}", dir.display())))?;
        let open_tree = |name: &str| db.open_tree(name).map_err(storage);
        let trees = [
            open_tree("journal")?,
            open_tree("state")?,
            open_tree("index")?,
            open_tree("deadlines")?,
        ];
        let state = &trees[TreeId::State as usize];
        let format_key = keys::meta("format");
        let store_id = match state.get(&format_key).map_err(storage)? {
            Some(found) if found.as_ref() == FORMAT_VERSION.as_bytes() => {
                let id = state.get(keys::meta("store_id")).map_err(storage)?;
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
                if trees.iter().any(|tree| !tree.is_empty()) {
                    return Err(Error::Storage(format!(
                        "{} holds data without a dutyroom format key: not a dutyroom store",
                        dir.display()
                    )));
                }
                let id = new_store_id()?;
                state
                    .insert(keys::meta("store_id"), id.as_bytes())
                    .map_err(storage)?;
                state
                    .insert(format_key, FORMAT_VERSION.as_bytes())
                    .map_err(storage)?;
                db.flush().map_err(storage)?;
                id
            }
        };
        let store = Store {
            db,
            trees,
            store_id,
        };
        store.check_head()?;
        Ok(store)
    }

    fn tree(&self, tree: TreeId) -> &sled::Tree {
        &self.trees[tree as usize]
    }

    /// Random id fixed when the store was created.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// The newest journal record's seq and hash.
    pub fn head(&self) -> Result<Head> {
        match self.tree(TreeId::Journal).last().map_err(storage)? {
            Some((key, bytes)) => Ok(Head {
                seq: keys::decode_u64(&key)?,
                hash: record_hash(&bytes),
            }),
            None => Ok(Head::genesis()),
        }
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
    pub fn get_raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(tree)
            .get(key)
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    /// The decoded value at `key`.
    pub fn get<T: DeserializeOwned>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>> {
        match self.tree(tree).get(key).map_err(storage)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Keys (and values) starting with `prefix`, strictly after `after` when
    /// given, in key order, at most `limit`.
    pub fn scan(
        &self,
        tree: TreeId,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let tree = self.tree(tree);
        let iter = match after {
            Some(after) => {
                let mut start = after.to_vec();
                start.push(0);
                tree.range(start..)
            }
            None => tree.range(prefix.to_vec()..),
        };
        let mut found = Vec::new();
        for item in iter {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(prefix) || found.len() >= limit {
                break;
            }
            found.push((key.to_vec(), value.to_vec()));
        }
        Ok(found)
    }

    /// Number of keys starting with `prefix`.
    pub fn count(&self, tree: TreeId, prefix: &[u8]) -> usize {
        self.tree(tree).scan_prefix(prefix).count()
    }

    /// Writes every change in `writes` atomically, in one sled transaction.
    /// Not durable until [`Store::flush`].
    pub fn commit(&self, writes: &WriteSet) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::{ConflictableTransactionError, TransactionError};

        let [journal, state, index, deadlines] = &self.trees;
        (journal, state, index, deadlines)
            .transaction(|(journal, state, index, deadlines)| {
                for tree in TREES {
                    let target = match tree {
                        TreeId::Journal => journal,
                        TreeId::State => state,
                        TreeId::Index => index,
                        TreeId::Deadlines => deadlines,
                    };
                    for (key, value) in &writes.trees[tree as usize] {
                        match value {
                            Some(value) => target.insert(key.as_slice(), value.as_slice())?,
                            None => target.remove(key.as_slice())?,
                        };
                    }
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| Error::Storage(format!("commit: {e:?}")))
    }

    /// Makes everything committed so far durable. Only the engine's flusher
    /// thread calls this (concurrent flushes hang on sled 0.34.7).
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// Bytes on disk, as sled reports it.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().map_err(storage)
    }
}

fn new_store_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Storage(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            store.flush().expect("flush");
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
            writes.put(TreeId::Index, keys::open(id), Vec::new());
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
            .map(|(k, _)| keys::trailing_u64(k).expect("id"))
            .collect();
        assert_eq!(ids, vec![3, 4]);
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
}
