//! Archived journal segments: history kept as records only, compressed.
//!
//! A frame holds a whole batch: the journal records and the state, index
//! and deadline writes that replay needs. Once a segment is sealed and every
//! frame in it is durable in sled (a checkpoint passed its end), replay will
//! never need those writes again; only the records — the history that
//! watches, timelines, audits and backups read — must stay. So the
//! checkpoint thread rewrites such a segment as an archive,
//! `<first lsn>.arc`, and removes the `.wal`:
//!
//! ```text
//! header:  magic "DUTYARC1" | first lsn u64 | last lsn u64 | store id (32) | crc u32
//! blocks:  raw len u32 | packed len u32 | crc u32 | deflate(records)
//! records: seq u64 | len u32 | bytes   (in a block's raw bytes, in seq order)
//! ```
//!
//! big-endian; a block's CRC-32 covers its two lengths and packed bytes; a
//! block holds about [`BLOCK_RAW`] bytes of records. A record's location
//! ([`super::journal::Location`]) then names the archive (its segment number
//! with [`ARCHIVED`] set), the block's offset and the block's length; reading
//! it reads and inflates that block. The records' bytes are exactly as
//! written (and hashed): only where they are changes.
//!
//! The steps survive a crash at any point: the archive is written under a
//! temporary name, synced and renamed (directory synced); then the index
//! is moved to it in one sled batch and a checkpoint makes that durable;
//! only then is the `.wal` removed. A crash in between leaves both files,
//! each readable, the index pointing at one of them; the next pass finishes.
//! A backup and an archive pass never run at once (a backup copies the
//! segments it replays from).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::journal::{self, Location};
use super::wal::{self, fs::WalFs};
use super::{Store, storage};

/// The first bytes of every archive.
const MAGIC: &[u8; 8] = b"DUTYARC1";

/// Archive header: magic, first lsn, last lsn, store id, CRC-32.
pub(super) const HEADER_LEN: usize = 8 + 8 + 8 + 32 + 4;

/// Block header: raw length, packed length, CRC-32.
const BLOCK_HEADER: usize = 4 + 4 + 4;

/// Records per block, in raw bytes (about): one read and inflate of this
/// much fetches any record in it.
const BLOCK_RAW: usize = 32 << 10;

/// No block inflates to more: a single record can exceed [`BLOCK_RAW`], and
/// a frame (so a record) may be up to 256 MiB.
const MAX_RAW: usize = (256 << 20) + (1 << 20);

/// Set in a location's segment number when the record is in an archive.
pub(super) const ARCHIVED: u64 = 1 << 63;

/// An archive's file name.
pub(super) fn archive_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.arc")
}

fn header(first_lsn: u64, last_lsn: u64, store_id: &str) -> Result<Vec<u8>> {
    if store_id.len() != 32 {
        return Err(Error::Storage(format!(
            "store id {store_id:?} is not 32 characters"
        )));
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&first_lsn.to_be_bytes());
    bytes.extend_from_slice(&last_lsn.to_be_bytes());
    bytes.extend_from_slice(store_id.as_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    Ok(bytes)
}

/// What an archive's header says: its last lsn, if the header is whole and
/// names `first_lsn` and `store_id`. `Err` says what is wrong with it.
pub(super) fn check_header(
    head: &[u8],
    first_lsn: u64,
    store_id: &str,
) -> std::result::Result<u64, &'static str> {
    let head = head.get(..HEADER_LEN).ok_or("a damaged header")?;
    if &head[..8] != MAGIC {
        return Err("a damaged header");
    }
    let crc = u32::from_be_bytes(head[HEADER_LEN - 4..].try_into().map_err(|_| "")?);
    if crc32fast::hash(&head[..HEADER_LEN - 4]) != crc {
        return Err("a damaged header");
    }
    if &head[24..56] != store_id.as_bytes() {
        return Err("the header of another store");
    }
    let read = |at: usize| u64::from_be_bytes(head[at..at + 8].try_into().unwrap_or([0; 8]));
    if read(8) != first_lsn {
        return Err("a header naming another segment");
    }
    Ok(read(16))
}

/// The archive of `records` (in seq order) for frames `first_lsn..=last_lsn`,
/// and where each record is in it.
pub(super) fn build(
    first_lsn: u64,
    last_lsn: u64,
    store_id: &str,
    records: &[(u64, &[u8])],
) -> Result<(Vec<u8>, Vec<Location>)> {
    let mut bytes = header(first_lsn, last_lsn, store_id)?;
    let mut locations = Vec::with_capacity(records.len());
    let mut rest = records;
    while !rest.is_empty() {
        let mut raw = Vec::with_capacity(BLOCK_RAW + 4096);
        let mut taken = 0;
        for (seq, record) in rest {
            if taken > 0 && raw.len() + 12 + record.len() > BLOCK_RAW {
                break;
            }
            let len = u32::try_from(record.len())
                .map_err(|_| Error::Storage(format!("journal record {seq} is over 4 GiB")))?;
            raw.extend_from_slice(&seq.to_be_bytes());
            raw.extend_from_slice(&len.to_be_bytes());
            raw.extend_from_slice(record);
            taken += 1;
        }
        let packed = miniz_oxide::deflate::compress_to_vec(&raw, 6);
        let too_big = || Error::Storage("an archive block is over 4 GiB".to_owned());
        let raw_len = u32::try_from(raw.len()).map_err(|_| too_big())?;
        let packed_len = u32::try_from(packed.len()).map_err(|_| too_big())?;
        let offset = bytes.len() as u64;
        let mut block = Vec::with_capacity(BLOCK_HEADER + packed.len());
        block.extend_from_slice(&raw_len.to_be_bytes());
        block.extend_from_slice(&packed_len.to_be_bytes());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&block);
        hasher.update(&packed);
        block.extend_from_slice(&hasher.finalize().to_be_bytes());
        block.extend_from_slice(&packed);
        let len = u32::try_from(block.len()).map_err(|_| too_big())?;
        for (seq, _) in &rest[..taken] {
            locations.push(Location {
                seq: *seq,
                segment: ARCHIVED | first_lsn,
                offset,
                len,
            });
        }
        bytes.extend_from_slice(&block);
        rest = &rest[taken..];
    }
    Ok((bytes, locations))
}

/// The records of one block (as read from its offset, `len` bytes), each
/// seq and bytes, after checking its CRC.
pub(super) fn block_records(block: &[u8]) -> Result<Vec<(u64, Vec<u8>)>> {
    let damaged = |what: &str| Error::Storage(format!("a journal archive block is {what}"));
    let (head, packed) = block
        .split_at_checked(BLOCK_HEADER)
        .ok_or_else(|| damaged("cut short"))?;
    let field = |at: usize| u32::from_be_bytes(head[at..at + 4].try_into().unwrap_or([0; 4]));
    let (raw_len, packed_len, crc) = (field(0) as usize, field(4) as usize, field(8));
    if packed.len() != packed_len || raw_len > MAX_RAW {
        return Err(damaged("cut short or damaged"));
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head[..8]);
    hasher.update(packed);
    if hasher.finalize() != crc {
        return Err(damaged("damaged (its checksum does not match)"));
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(packed, raw_len)
        .map_err(|_| damaged("damaged (it does not inflate)"))?;
    if raw.len() != raw_len {
        return Err(damaged("damaged (wrong length)"));
    }
    let mut records = Vec::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let (seq, after) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| damaged("damaged inside"))?;
        let (len, after) = after
            .split_first_chunk::<4>()
            .ok_or_else(|| damaged("damaged inside"))?;
        let len = u32::from_be_bytes(*len) as usize;
        let (record, after) = after
            .split_at_checked(len)
            .ok_or_else(|| damaged("damaged inside"))?;
        records.push((u64::from_be_bytes(*seq), record.to_vec()));
        rest = after;
    }
    Ok(records)
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Storage(format!("{what} {}: {error}", path.display()))
}

/// Writes `bytes` as `dir/name`, durably: a temporary name, synced, renamed,
/// the directory synced.
fn write_durably(fs: &dyn WalFs, dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let _ = fs.remove(&temporary);
    fs.write_new(&temporary, bytes)
        .map_err(|e| io_error("writing", &temporary, e))?;
    fs.rename(&temporary, &path)
        .map_err(|e| io_error("renaming", &temporary, e))?;
    fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))?;
    Ok(path)
}

impl Store {
    /// Archives the oldest sealed segment whose frames are all durable in
    /// sled (see the module docs), if there is one and no backup runs.
    /// Returns the archived segment's first lsn. Called by the checkpoint
    /// thread after each checkpoint; safe beside commits and reads.
    pub fn archive_sealed(&self) -> Result<Option<u64>> {
        let Ok(_alone) = self.archiving.try_lock() else {
            return Ok(None);
        };
        let durable = self.checkpointed_lsn();
        let (candidate, fs, store_id) = {
            let journal = self
                .journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (
                journal.wal.archivable(durable).into_iter().next(),
                journal.wal.fs(),
                self.store_id.clone(),
            )
        };
        let Some((first_lsn, last_lsn, path)) = candidate else {
            return Ok(None);
        };
        let bytes = fs.read(&path).map_err(|e| io_error("reading", &path, e))?;
        let frames = wal::frames_of(&bytes, first_lsn);
        if frames.last().map(|frame| frame.lsn) != Some(last_lsn)
            || frames.first().map(|frame| frame.lsn) != Some(first_lsn)
        {
            return Err(Error::Storage(format!(
                "archiving {}: its frames do not run from {first_lsn} to {last_lsn}",
                path.display()
            )));
        }
        let mut records = Vec::new();
        for frame in &frames {
            for (seq, offset, len) in super::WriteSet::decode_located(&frame.payload)?.1 {
                let start = offset as usize;
                let record = frame
                    .payload
                    .get(start..start + len as usize)
                    .ok_or_else(|| Error::Storage(format!("journal record {seq} is cut short")))?;
                records.push((seq, record));
            }
        }
        let (archive, locations) = build(first_lsn, last_lsn, &store_id, &records)?;
        drop(records);
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.wal_dir.clone());
        let archive_path = write_durably(fs.as_ref(), &dir, &archive_name(first_lsn), &archive)?;
        {
            // Under the journal's lock: the writer appends to index groups
            // and keeps the newest in memory; it re-reads it after this.
            let mut journal = self
                .journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let batch = journal::relocate(&self.tree, &self.index_tail, &locations)?;
            self.tree.apply_batch(batch).map_err(storage)?;
            journal.wal.mark_archived(first_lsn, archive_path);
        }
        self.checkpoint()?;
        // Readers holding the segment open keep reading it; new readers
        // find the archive through the index.
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&first_lsn);
        fs.remove(&path)
            .map_err(|e| io_error("removing", &path, e))?;
        fs.sync_dir(&dir)
            .map_err(|e| io_error("syncing", &dir, e))?;
        tracing::debug!(
            segment = first_lsn,
            from = bytes.len(),
            to = archive.len(),
            "archived a journal segment"
        );
        Ok(Some(first_lsn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::copy_dir;
    use crate::store::{Head, TreeId, WriteSet, applied_key, encode, keys, record_hash};

    /// Commits records `seqs` (each with a kilobyte of state beside it, as
    /// an incident's redo would be) as one frame.
    fn commit(store: &Store, seqs: std::ops::RangeInclusive<u64>) {
        let mut writes = WriteSet::default();
        let mut head = None;
        for seq in seqs {
            let record = format!("{{\"seq\":{seq},\"body\":\"record {seq}\"}}").into_bytes();
            head = Some(Head {
                seq,
                hash: record_hash(&record),
            });
            writes.put(TreeId::Journal, keys::seq(seq), record);
            writes.put(
                TreeId::State,
                format!("k{}", seq % 50).into_bytes(),
                vec![7; 1024],
            );
        }
        if let Some(head) = head {
            writes.put(
                TreeId::State,
                keys::meta("head"),
                encode(&head).expect("head"),
            );
        }
        store.commit(&writes).expect("commit");
    }

    fn files(dir: &Path, suffix: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("wal"))
            .expect("list")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(suffix))
            .collect();
        names.sort();
        names
    }

    fn wal_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir.join("wal"))
            .expect("list")
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .map(|meta| meta.len())
            .sum()
    }

    fn all_records(store: &Store) -> Vec<(u64, Vec<u8>)> {
        store.journal_after(0, usize::MAX).expect("journal")
    }

    /// 600 records in frames of 1 to 7, in segments of ~8 KiB.
    fn filled(dir: &Path) -> Store {
        let store = Store::open(dir, 8 << 20).expect("open");
        store.set_segment_limit(8 << 10);
        let mut seq = 1;
        while seq <= 600 {
            let last = (seq + seq % 7).min(600);
            commit(&store, seq..=last);
            seq = last + 1;
        }
        store
    }

    fn archive_all(store: &Store) -> usize {
        store.checkpoint().expect("checkpoint");
        let mut archived = 0;
        while store.archive_sealed().expect("archive").is_some() {
            archived += 1;
        }
        archived
    }

    #[test]
    fn sealed_segments_become_archives_and_every_record_reads_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = filled(dir.path());
        let before = all_records(&store);
        assert_eq!(before.len(), 600);
        let (wals, bytes_before) = (files(dir.path(), ".wal").len(), wal_bytes(dir.path()));
        // Nothing is archived that a checkpoint has not made redundant.
        assert_eq!(store.archive_sealed().expect("archive"), None);
        let archived = archive_all(&store);
        assert_eq!(archived, wals - 2, "all but the newest two");
        assert_eq!(files(dir.path(), ".wal").len(), 2);
        assert_eq!(files(dir.path(), ".arc").len(), archived);
        let bytes_after = wal_bytes(dir.path());
        assert!(
            bytes_after * 3 < bytes_before,
            "{bytes_before} bytes of journal became {bytes_after}"
        );
        assert_eq!(all_records(&store), before);
        for seq in [1, 2, 63, 64, 65, 300, 599, 600] {
            assert_eq!(
                store.journal_record(seq).expect("read"),
                Some(before[seq as usize - 1].1.clone())
            );
        }
        assert_eq!(store.journal_after(250, 3).expect("page").len(), 3);
        // The writer's cached index group was dropped and is read back.
        commit(&store, 601..=601);
        drop(store);
        let store = Store::open(dir.path(), 8 << 20).expect("reopen");
        let after = all_records(&store);
        assert_eq!(after[..600], before[..]);
        assert_eq!(after.len(), 601);
        assert_eq!(store.head().expect("head").seq, 601);
    }

    #[test]
    fn a_crash_between_the_archive_steps_opens_and_the_next_pass_finishes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("live");
        let store = filled(&live);
        store.checkpoint().expect("checkpoint");
        let before = all_records(&store);
        drop(store);
        // The same store twice: in one, archives were written but the index
        // never moved (a crash before the sled batch); in the other, the
        // index moved but the segments were not removed yet.
        let early = dir.path().join("early");
        copy_dir(&live, &early);
        let store = Store::open(&live, 8 << 20).expect("open");
        store.set_segment_limit(8 << 10);
        let wal_copies: Vec<(PathBuf, Vec<u8>)> = files(&live, ".wal")
            .iter()
            .map(|name| {
                let path = live.join("wal").join(name);
                let bytes = std::fs::read(&path).expect("read");
                (path, bytes)
            })
            .collect();
        assert!(archive_all(&store) > 2);
        drop(store);
        for name in files(&live, ".arc") {
            std::fs::copy(live.join("wal").join(&name), early.join("wal").join(&name))
                .expect("copy archive");
        }
        for (path, bytes) in wal_copies {
            if !path.exists() {
                std::fs::write(&path, bytes).expect("put the segment back");
            }
        }
        for (n, dir) in [&early, &live].into_iter().enumerate() {
            let store = Store::open(dir, 8 << 20).expect("opens with both files");
            assert_eq!(all_records(&store), before);
            // A backup now carries whichever file the index points at.
            let copy = dir.with_extension(format!("backup{n}"));
            let mut restore = crate::store::backup::Restore::create(&copy).expect("create");
            store
                .backup(|piece| {
                    restore.take(piece).expect("take");
                    true
                })
                .expect("backup");
            drop(restore);
            let restored = Store::open(&copy, 8 << 20).expect("restore opens");
            assert_eq!(all_records(&restored), before);
            drop(restored);
            assert!(archive_all(&store) > 2, "the pass is done again");
            assert_eq!(files(dir, ".wal").len(), 2);
            assert_eq!(all_records(&store), before);
            drop(store);
            let store = Store::open(dir, 8 << 20).expect("reopens");
            assert_eq!(all_records(&store), before);
        }
    }

    #[test]
    fn a_state_older_than_the_archives_is_refused_and_damage_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = filled(dir.path());
        archive_all(&store);
        // A damaged block: its records are refused, not misread.
        let archive = dir.path().join("wal").join(&files(dir.path(), ".arc")[1]);
        let mut bytes = std::fs::read(&archive).expect("read");
        let middle = HEADER_LEN + 20;
        bytes[middle] ^= 0xff;
        std::fs::write(&archive, &bytes).expect("damage");
        let damaged = (1..=600)
            .filter(|seq| store.journal_record(*seq).is_err())
            .count();
        assert!(damaged > 0);
        let error = store.journal_after(0, usize::MAX).expect_err("refused");
        assert!(error.to_string().contains("checksum"), "{error}");
        bytes[middle] ^= 0xff;
        std::fs::write(&archive, &bytes).expect("mend");
        // sled rewound to before the archives: the frames replay would need
        // are records only now.
        store
            .raw_tree()
            .insert(applied_key(), encode(&3u64).expect("lsn"))
            .expect("rewind");
        store.checkpoint().expect("checkpoint");
        drop(store);
        let error = Store::open(dir.path(), 8 << 20).err().expect("refused");
        let text = error.to_string();
        assert!(
            text.contains("archived") && text.contains("frame 3"),
            "{text}"
        );
        assert!(text.contains("Restore the latest backup"), "{text}");
    }

    #[test]
    fn a_backup_of_an_archived_journal_restores_every_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = filled(&dir.path().join("live"));
        assert!(archive_all(&store) > 2);
        commit(&store, 601..=610);
        let copy = dir.path().join("copy");
        let mut restore = crate::store::backup::Restore::create(&copy).expect("create");
        let mut archives = 0;
        store
            .backup(|piece| {
                if let crate::store::backup::Piece::Segment { archived: true, .. } = &piece {
                    archives += 1;
                }
                restore.take(piece).expect("take");
                true
            })
            .expect("backup");
        assert!(archives > 2);
        drop(restore);
        let restored = Store::open(&copy, 8 << 20).expect("restore opens");
        assert_eq!(all_records(&restored), all_records(&store));
    }
}
