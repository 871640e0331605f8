//! The write-ahead journal dutyd owns: what makes a write durable.
//!
//! Each group commit is **one frame**, appended with one write and made
//! durable with one `fdatasync` before anyone is answered. sled is applied
//! after, and flushed only at checkpoints (see [`super::Store`]); on open,
//! the frames sled has not durably applied are replayed. So power cuts rest
//! on this file format and two system calls, not on sled's log.
//!
//! # Layout
//!
//! `wal/` holds segment files named by their first frame's number (lsn),
//! `00000000000000000001.wal`. A segment starts with a header — magic
//! [`MAGIC`], first lsn, the store's id, CRC-32 — then frames:
//!
//! ```text
//! lsn u64 | seq u64 | len u32 | crc u32 | payload (len bytes)
//! ```
//!
//! big-endian; `seq` is the journal's head after the frame (for messages a
//! person can act on); the CRC-32 covers lsn, seq, len and the payload.
//! Lsns are gapless across segments. A segment is kept written with zeros
//! up to [`READY_BYTES`] ahead of its last frame, so that the `fdatasync`
//! after a frame has data to flush but rarely the file's size; zeros where
//! the next frame would start are the end. A segment is sealed when it passes
//! [`SEGMENT_BYTES`] and a new one begins (created, header synced, directory
//! synced). Segments are kept: they are the journal — watches, timelines and
//! audits read events from them, through an index sled keeps
//! ([`super::journal`]).
//!
//! # Torn tail versus loss
//!
//! Appends are serialized and each is synced before the next, so at a crash
//! at most **one** frame is not durable, and it is the last. On open, a bad
//! frame (short, wrong lsn, bad CRC) with nothing valid after it in the last
//! segment is that frame, torn and never acknowledged: its bytes are kept in
//! `torn-<lsn>.bin` for inspection and the segment is cut back to the last
//! whole frame. Anything else is loss, and open refuses with what and where:
//! a bad frame followed by a valid one, damage in a sealed segment, a gap
//! between segments, a journal that starts after the state it must replay
//! into, or a state ahead of the journal's end.

pub mod fs;

use std::path::{Path, PathBuf};

use super::archive;
use std::sync::Arc;

use crate::error::{Error, Result};
use fs::{WalFile, WalFs};

/// The first bytes of every segment.
pub const MAGIC: &[u8; 8] = b"DUTYWAL1";

/// Segment header: magic, first lsn, store id (32 ASCII hex), CRC-32.
const HEADER_LEN: usize = 8 + 8 + 32 + 4;

/// Frame header: lsn, seq, len, crc.
const FRAME_HEADER: usize = 8 + 8 + 4 + 4;

/// A segment is sealed once it holds this much. Sealed segments become
/// archives ([`super::archive`]); the newest two stay frames, so this also
/// bounds what a start reads whole.
pub const SEGMENT_BYTES: u64 = 16 << 20;

/// In the journal's directory while accepted loss still owes the store a
/// new epoch (see [`super::Store::recover`]).
pub const EPOCH_PENDING: &str = "epoch-pending";

/// How far ahead of its last frame a segment is kept written with zeros.
#[cfg(not(test))]
const READY_BYTES: u64 = 1 << 20;
/// Tests keep whole stores in memory ([`fs::CrashFs`]): a smaller window,
/// the same behaviour.
#[cfg(test)]
const READY_BYTES: u64 = 16 << 10;

/// No frame is bigger (a batch of 512 commands is far below).
const MAX_FRAME: usize = 256 << 20;

/// A segment's file, as a backup copies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// The segment's first lsn.
    pub first_lsn: u64,
    /// Where it is.
    pub path: PathBuf,
    /// An archive (records only), not frames.
    pub archived: bool,
}

/// One frame read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its number.
    pub lsn: u64,
    /// The journal head after it.
    pub seq: u64,
    /// What was written.
    pub payload: Vec<u8>,
    /// Where its payload starts: the segment (by first lsn) and the byte
    /// offset in that file.
    pub at: Place,
}

/// Where bytes are in the journal: a segment (named by its first lsn) and
/// a byte offset in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The segment's first lsn.
    pub segment: u64,
    /// Byte offset in the segment file.
    pub offset: u64,
}

/// What open found at the end of the last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The lsn the torn frame would have had.
    pub lsn: u64,
    /// How many bytes were cut.
    pub bytes: usize,
    /// Where they were kept.
    pub kept_in: PathBuf,
}

/// The journal opened, and what it holds beyond the applied state.
pub struct Opened {
    /// The journal, ready to append.
    pub wal: Wal,
    /// Frames after the applied lsn, in order: to replay.
    pub replay: Vec<Frame>,
    /// A torn last frame that was cut, if there was one.
    pub torn: Option<TornTail>,
    /// What was set aside (with `accept_loss`), one line each.
    pub lost: Vec<String>,
}

/// A segment on disk.
#[derive(Debug, Clone)]
struct Segment {
    first_lsn: u64,
    /// Last frame's lsn (`first_lsn - 1` while empty).
    last_lsn: u64,
    path: PathBuf,
    /// Records only, in an archive (see [`super::archive`]).
    archived: bool,
    /// Frames, and an archive of them beside (an archive pass stopped
    /// before removing the frames): the index may point into either, so a
    /// backup copies both.
    archive_too: bool,
}

/// The open journal. Only the writer appends.
pub struct Wal {
    fs: Arc<dyn WalFs>,
    dir: PathBuf,
    store_id: String,
    segments: Vec<Segment>,
    current: Box<dyn WalFile>,
    /// Where the next frame goes in the current segment.
    current_len: u64,
    /// How far the current segment is written (frames, then zeros).
    allocated: u64,
    segment_limit: u64,
    next_lsn: u64,
    /// An append failed part-way: the tail may hold a partial frame, so
    /// nothing more may follow it in this run.
    broken: bool,
}

/// A segment's file name.
pub fn segment_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.wal")
}

fn header(first_lsn: u64, store_id: &str) -> Result<Vec<u8>> {
    if store_id.len() != 32 {
        return Err(Error::Storage(format!(
            "store id {store_id:?} is not 32 characters"
        )));
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&first_lsn.to_be_bytes());
    bytes.extend_from_slice(store_id.as_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    Ok(bytes)
}

/// The frame's bytes, ready for one write.
pub fn frame(lsn: u64, seq: u64, payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() > MAX_FRAME {
        return Err(Error::Storage(format!(
            "a journal frame of {} bytes is over the {MAX_FRAME}-byte limit",
            payload.len()
        )));
    }
    let len = u32::try_from(payload.len())
        .map_err(|_| Error::Storage("a journal frame is over 4 GiB".into()))?;
    let mut bytes = Vec::with_capacity(FRAME_HEADER + payload.len());
    bytes.extend_from_slice(&lsn.to_be_bytes());
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(&len.to_be_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes);
    hasher.update(payload);
    bytes.extend_from_slice(&hasher.finalize().to_be_bytes());
    bytes.extend_from_slice(payload);
    Ok(bytes)
}

/// A whole, valid frame at `at` with lsn `lsn` (any lsn when `None`)?
/// Returns it and its length.
fn frame_at(bytes: &[u8], at: usize, lsn: Option<u64>, segment: u64) -> Option<(Frame, usize)> {
    let head = bytes.get(at..at.checked_add(FRAME_HEADER)?)?;
    let (found_lsn, rest) = head.split_first_chunk::<8>()?;
    let (seq, rest) = rest.split_first_chunk::<8>()?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let (crc, _) = rest.split_first_chunk::<4>()?;
    let found_lsn = u64::from_be_bytes(*found_lsn);
    if lsn.is_some_and(|lsn| lsn != found_lsn) || found_lsn == 0 {
        return None;
    }
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_FRAME {
        return None;
    }
    let start = at + FRAME_HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head[..20]);
    hasher.update(payload);
    if hasher.finalize() != u32::from_be_bytes(*crc) {
        return None;
    }
    Some((
        Frame {
            lsn: found_lsn,
            seq: u64::from_be_bytes(*seq),
            payload: payload.to_vec(),
            at: Place {
                segment,
                offset: (start) as u64,
            },
        },
        FRAME_HEADER + len,
    ))
}

/// Any valid frame after `from` with an lsn above `after`: proof that the
/// bad bytes at `from` are not a torn tail.
fn valid_frame_after(bytes: &[u8], from: usize, after: u64) -> Option<Frame> {
    (from + 1..bytes.len().saturating_sub(FRAME_HEADER - 1)).find_map(|at| {
        let lsn = u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
        if lsn <= after || lsn > after.saturating_add(1 << 24) {
            return None;
        }
        frame_at(bytes, at, Some(lsn), 0).map(|(frame, _)| frame)
    })
}

/// Cuts `path` (whose bytes are `bytes`) back to `at`, keeping the cut
/// bytes, unless all zero, in `<kind>-<lsn>.bin`; returns where.
/// What to tell a person when even accepting loss cannot make the store
/// whole: the state refers to journal history that is gone.
fn refuse_history(dir: &Path, what: String) -> Error {
    Error::Storage(format!(
        "the journal in {} is damaged: {what}. The state refers to events in the part \
         that is gone, so `dutyd recover --accept-loss` cannot start from it; dutyd changed \
         nothing. Restore the latest backup into a new directory (docs/operations.md, \
         \"Backups and the store\").",
        dir.display()
    ))
}

fn cut_tail(
    fs: &dyn WalFs,
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    at: usize,
    lsn: u64,
    kind: &str,
) -> Result<PathBuf> {
    let cut = &bytes[at..];
    let kept_in = dir.join(format!("{kind}-{lsn}.bin"));
    if cut.iter().any(|byte| *byte != 0) {
        let _ = fs.remove(&kept_in);
        fs.write_new(&kept_in, cut)
            .map_err(|e| io_error("keeping the cut bytes in", &kept_in, e))?;
        fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))?;
    }
    fs.truncate(path, at as u64)
        .map_err(|e| io_error("cutting", path, e))?;
    Ok(kept_in)
}

/// Renames a segment to `<name>.lost`: out of the journal, kept for
/// inspection.
fn set_aside(fs: &dyn WalFs, dir: &Path, path: &Path) -> Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".lost");
    fs.rename(path, Path::new(&aside))
        .map_err(|e| io_error("setting aside", path, e))?;
    fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Storage(format!("{what} {}: {error}", path.display()))
}

/// What to tell a person when the journal and the state disagree.
fn refuse(dir: &Path, what: String) -> Error {
    Error::Storage(format!(
        "the journal in {} is damaged: {what}. dutyd changed nothing. Restore the \
         latest backup into a new directory (docs/operations.md, \"Backups and the \
         store\"), or, to start from what is left and knowingly lose the rest, run \
         `dutyd recover --accept-loss` on this store.",
        dir.display()
    ))
}

impl Wal {
    /// Opens the journal in `dir` (creating it when `create` and it has no
    /// segments) for a state that has durably applied every frame up to
    /// `applied`; returns the frames to replay. Refuses damage, gaps and
    /// disagreement with the state (see the module docs) — unless
    /// `accept_loss`, when it keeps the longest whole run of frames the state
    /// can take, moves everything else aside (`*.lost`) and says what went in
    /// [`Opened::lost`].
    pub fn open(
        fs: Arc<dyn WalFs>,
        dir: &Path,
        store_id: &str,
        applied: u64,
        create: bool,
        accept_loss: bool,
    ) -> Result<Opened> {
        fs.create_dir_all(dir)
            .map_err(|e| io_error("creating", dir, e))?;
        let names = fs.list(dir).map_err(|e| io_error("listing", dir, e))?;
        let first_of = |suffix: &str| -> std::collections::BTreeSet<u64> {
            names
                .iter()
                .filter_map(|name| name.strip_suffix(suffix)?.parse().ok())
                .collect()
        };
        let (wals, archives) = (first_of(".wal"), first_of(".arc"));
        // A segment archived but not yet removed has both; its `.wal` is
        // read (whole either way) and the next archive pass finishes.
        let firsts: Vec<u64> = wals.union(&archives).copied().collect();
        let mut lost = Vec::new();
        if firsts.is_empty() {
            if !create {
                let what = format!(
                    "it has no segments, yet the state was saved with {applied} journal \
                     frames applied"
                );
                return Err(if accept_loss {
                    refuse_history(dir, what)
                } else {
                    refuse(dir, what)
                });
            }
            let wal = Wal::start_segment(fs, dir, store_id, applied + 1, Vec::new())?;
            return Ok(Opened {
                wal,
                replay: Vec::new(),
                torn: None,
                lost,
            });
        }
        let mut segments: Vec<Segment> = Vec::new();
        let mut frames = Vec::new();
        let mut torn = None;
        let mut current_len = 0;
        let mut allocated = 0;
        let count = firsts.len();
        // Where the whole run of frames ends, if it ends early: what is
        // wrong, and the segment (and byte, within it) from which on
        // nothing can be vouched for.
        let mut damage: Option<(String, usize, Option<usize>)> = None;
        // Segments wholly before the frames to replay are history: their
        // headers are checked here, their frames by `duty audit verify`,
        // so that a start does not read years of journal.
        // The last two are always read whole: if the newest turns out
        // unfinished and goes, the one before becomes the one appended to,
        // and where its frames end must be known.
        let first_needed = firsts
            .iter()
            .rposition(|first| *first <= applied + 1)
            .unwrap_or(0)
            .min(count.saturating_sub(2));
        for (index, first_lsn) in firsts.iter().copied().enumerate() {
            let last = index + 1 == count;
            if !wals.contains(&first_lsn) {
                // Archived: records only. Its frames are no use to replay,
                // and it is never one of the last two.
                let path = dir.join(archive::archive_name(first_lsn));
                let head = fs
                    .read_head(&path, archive::HEADER_LEN)
                    .map_err(|e| io_error("reading", &path, e))?;
                let next = firsts.get(index + 1).copied();
                let what = match archive::check_header(&head, first_lsn, store_id) {
                    Err(what) => Some(format!("{} has {what}", path.display())),
                    Ok(_) if next.is_none() => Some(format!(
                        "{} is archived (records only), yet it is the newest segment",
                        path.display()
                    )),
                    Ok(last_lsn) if Some(last_lsn + 1) != next => Some(format!(
                        "{} ends at frame {last_lsn}, but the next segment starts at {}",
                        path.display(),
                        next.unwrap_or_default()
                    )),
                    Ok(last_lsn) if last_lsn > applied => Some(format!(
                        "{} is archived (records only) up to frame {last_lsn}, but the state \
                         was saved after frame {applied}: it needs those frames whole",
                        path.display()
                    )),
                    Ok(_) => None,
                };
                if let Some(what) = what {
                    // History the state's index points into.
                    return Err(refuse_history(dir, what));
                }
                segments.push(Segment {
                    first_lsn,
                    last_lsn: firsts[index + 1] - 1,
                    path,
                    archived: true,
                    archive_too: false,
                });
                continue;
            }
            let path = dir.join(segment_name(first_lsn));
            if index < first_needed {
                let head = fs
                    .read_head(&path, HEADER_LEN)
                    .map_err(|e| io_error("reading", &path, e))?;
                if head[..] != header(first_lsn, store_id)?[..] {
                    let foreign = head.len() >= HEADER_LEN
                        && &head[..8] == MAGIC
                        && head[16..48] != *store_id.as_bytes();
                    let what = if foreign {
                        format!("{} belongs to another store", path.display())
                    } else {
                        format!("{} has a damaged header", path.display())
                    };
                    // History the state's index points into: setting it
                    // aside cannot make the store whole, so even
                    // --accept-loss refuses.
                    return Err(refuse_history(dir, what));
                }
                segments.push(Segment {
                    first_lsn,
                    // Up to the next segment's start (names are gapless).
                    last_lsn: firsts[index + 1] - 1,
                    path,
                    archived: false,
                    archive_too: archives.contains(&first_lsn),
                });
                continue;
            }
            let bytes = fs.read(&path).map_err(|e| io_error("reading", &path, e))?;
            if let Some(previous) = segments.last().map(|s| s.last_lsn)
                && previous + 1 != first_lsn
            {
                damage = Some((
                    format!(
                        "frames {} to {} are missing (the segment before {} ends at {previous})",
                        previous + 1,
                        first_lsn - 1,
                        path.display()
                    ),
                    index,
                    None,
                ));
                break;
            }
            let expected_header = header(first_lsn, store_id)?;
            if bytes.len() < HEADER_LEN || bytes[..HEADER_LEN] != expected_header[..] {
                if last && expected_header.starts_with(&bytes) {
                    // Created, then the power went before its header was
                    // synced: nothing was ever written to it.
                    fs.remove(&path)
                        .map_err(|e| io_error("removing", &path, e))?;
                    fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))?;
                    break;
                }
                let foreign = bytes.len() >= HEADER_LEN
                    && &bytes[..8] == MAGIC
                    && bytes[16..48] != *store_id.as_bytes();
                let what = if foreign {
                    format!("{} belongs to another store", path.display())
                } else {
                    format!("{} has a damaged header", path.display())
                };
                damage = Some((what, index, None));
                break;
            }
            let mut at = HEADER_LEN;
            let mut last_lsn = first_lsn - 1;
            let mut last_seq = None;
            while at < bytes.len() {
                match frame_at(&bytes, at, Some(last_lsn + 1), first_lsn) {
                    Some((frame, len)) => {
                        at += len;
                        last_lsn = frame.lsn;
                        last_seq = Some(frame.seq);
                        // Only what the state lacks is kept: a segment's
                        // frames held whole cost tens of MiB that the
                        // allocator keeps after the start.
                        if frame.lsn > applied {
                            frames.push(frame);
                        }
                    }
                    None => break,
                }
            }
            segments.push(Segment {
                first_lsn,
                last_lsn,
                path: path.clone(),
                archived: false,
                archive_too: archives.contains(&first_lsn),
            });
            current_len = at as u64;
            allocated = bytes.len() as u64;
            // Zeros after the last frame are the segment made ready ahead.
            if bytes[at..].iter().all(|byte| *byte == 0) {
                continue;
            }
            let after = last_seq.map_or(String::new(), |seq| format!(" (after seq {seq})"));
            if !last {
                damage = Some((
                    format!(
                        "frame {} in {} is damaged at byte {at}{after}, before later segments",
                        last_lsn + 1,
                        path.display()
                    ),
                    index,
                    Some(at),
                ));
                break;
            }
            if let Some(later) = valid_frame_after(&bytes, at, last_lsn) {
                damage = Some((
                    format!(
                        "frame {} in {} is damaged at byte {at}{after}, yet frame {} (seq {}) \
                         after it is whole",
                        last_lsn + 1,
                        path.display(),
                        later.lsn,
                        later.seq
                    ),
                    index,
                    Some(at),
                ));
                break;
            }
            let kept_in = cut_tail(fs.as_ref(), dir, &path, &bytes, at, last_lsn + 1, "torn")?;
            tracing::warn!(
                lsn = last_lsn + 1,
                bytes = bytes.len() - at,
                kept_in = %kept_in.display(),
                "the journal ended in a torn frame (a crash mid-write, never \
                 acknowledged); cut back to the last whole frame"
            );
            torn = Some(TornTail {
                lsn: last_lsn + 1,
                bytes: bytes.len() - at,
                kept_in,
            });
            allocated = at as u64;
        }
        if let Some((what, index, at)) = damage {
            if !accept_loss {
                return Err(refuse(dir, what));
            }
            // Before anything is changed: would what is kept still hold
            // every frame the state has applied, and start where it must?
            let kept_last = match at {
                Some(_) => segments.get(index).map(|s| s.last_lsn),
                None => index
                    .checked_sub(1)
                    .and_then(|i| segments.get(i))
                    .map(|s| s.last_lsn),
            };
            let kept_first = if index == 0 && at.is_none() {
                None
            } else {
                segments.first().map(|s| s.first_lsn)
            };
            let unreachable = match (kept_first, kept_last) {
                (Some(first), Some(last)) => applied + 1 < first || applied > last,
                _ => applied > 0,
            };
            if unreachable {
                return Err(refuse_history(
                    dir,
                    format!(
                        "{what}, and the state was saved after frame {applied}, which the \
                         journal would no longer reach"
                    ),
                ));
            }
            // Durable before anything is set aside: the new epoch this
            // loss needs begins at the next open even if the power goes
            // before it is recorded.
            let pending = dir.join(EPOCH_PENDING);
            if fs.read_head(&pending, 1).is_err() {
                fs.write_new(&pending, what.as_bytes())
                    .map_err(|e| io_error("writing", &pending, e))?;
                fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))?;
            }
            lost.push(what);
            // The damaged segment keeps its whole frames; everything from
            // the damage on goes aside.
            let mut aside = index;
            if let (Some(at), Some(segment)) = (at, segments.get(index)) {
                let bytes = fs
                    .read(&segment.path)
                    .map_err(|e| io_error("reading", &segment.path, e))?;
                cut_tail(
                    fs.as_ref(),
                    dir,
                    &segment.path,
                    &bytes,
                    at,
                    segment.last_lsn + 1,
                    "lost",
                )?;
                current_len = at as u64;
                allocated = at as u64;
                aside = index + 1;
            }
            segments.truncate(aside);
            for first_lsn in &firsts[aside..] {
                set_aside(fs.as_ref(), dir, &dir.join(segment_name(*first_lsn)))?;
            }
        }
        let (first, last) = match (segments.first(), segments.last()) {
            (Some(first), Some(last)) => (first.first_lsn, last.last_lsn),
            // The only segment was an unfinished one (now removed), or
            // everything was set aside.
            _ => {
                let mut opened = Wal::open(fs, dir, store_id, applied, true, accept_loss)?;
                opened.lost.splice(0..0, lost);
                return Ok(opened);
            }
        };
        let disagreement = if applied + 1 < first {
            Some(format!(
                "it starts at frame {first}, but the state was saved after frame {applied}: \
                 frames {} to {} are missing",
                applied + 1,
                first - 1
            ))
        } else if applied > last {
            Some(format!(
                "it ends at frame {last}, but the state was saved after frame {applied}: the \
                 journal lost its last {} frames",
                applied - last
            ))
        } else {
            None
        };
        if let Some(what) = disagreement {
            // The state's index points at records these frames held: no
            // journal can be made to agree with it again.
            return Err(if accept_loss {
                refuse_history(dir, what)
            } else {
                refuse(dir, what)
            });
        }
        let Some(newest) = segments.last().cloned() else {
            return Err(Error::Storage(
                "the journal has no segment to append to".into(),
            ));
        };
        if newest.archived {
            // Accepted loss set aside every segment of frames after an
            // archive: appending goes to a new segment, never into the
            // archive.
            frames.retain(|frame| frame.lsn > applied);
            let wal = Wal::start_segment(fs, dir, store_id, newest.last_lsn + 1, segments)?;
            return Ok(Opened {
                wal,
                replay: frames,
                torn,
                lost,
            });
        }
        let current = fs
            .open_write(&newest.path)
            .map_err(|e| io_error("opening", &newest.path, e))?;
        frames.retain(|frame| frame.lsn > applied);
        Ok(Opened {
            wal: Wal {
                fs,
                dir: dir.to_path_buf(),
                store_id: store_id.to_owned(),
                next_lsn: newest.last_lsn + 1,
                segments,
                current,
                current_len,
                allocated,
                segment_limit: SEGMENT_BYTES,
                broken: false,
            },
            replay: frames,
            torn,
            lost,
        })
    }

    /// Creates segment `first_lsn` (header synced, then the directory).
    fn start_segment(
        fs: Arc<dyn WalFs>,
        dir: &Path,
        store_id: &str,
        first_lsn: u64,
        mut segments: Vec<Segment>,
    ) -> Result<Wal> {
        let path = dir.join(segment_name(first_lsn));
        let mut file = fs
            .create(&path)
            .map_err(|e| io_error("creating", &path, e))?;
        let header = header(first_lsn, store_id)?;
        let zeros = vec![0u8; READY_BYTES as usize];
        file.write_at(0, &header)
            .and_then(|()| file.write_at(HEADER_LEN as u64, &zeros))
            .and_then(|()| file.sync())
            .map_err(|e| io_error("writing the header of", &path, e))?;
        fs.sync_dir(dir).map_err(|e| io_error("syncing", dir, e))?;
        segments.push(Segment {
            first_lsn,
            last_lsn: first_lsn - 1,
            path,
            archived: false,
            archive_too: false,
        });
        Ok(Wal {
            fs,
            dir: dir.to_path_buf(),
            store_id: store_id.to_owned(),
            segments,
            current: file,
            current_len: HEADER_LEN as u64,
            allocated: HEADER_LEN as u64 + READY_BYTES,
            segment_limit: SEGMENT_BYTES,
            next_lsn: first_lsn,
            broken: false,
        })
    }

    /// Seals segments at `bytes` instead of [`SEGMENT_BYTES`] (tests).
    pub fn set_segment_limit(&mut self, bytes: u64) {
        self.segment_limit = bytes;
    }

    /// The lsn the next frame gets.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// How many segments are on disk.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends `payload` as the next frame and makes it durable: one write,
    /// one `fdatasync` (and, when a new segment begins, its creation and the
    /// directory's sync). Returns its lsn. After a failure nothing more can
    /// be appended: the frame may be partly on disk.
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> Result<u64> {
        self.append_at(seq, payload).map(|(lsn, _)| lsn)
    }

    /// [`Wal::append`], also saying where the payload landed.
    pub fn append_at(&mut self, seq: u64, payload: &[u8]) -> Result<(u64, Place)> {
        if self.broken {
            return Err(Error::Storage(
                "an earlier journal write failed; nothing more is written".into(),
            ));
        }
        let lsn = self.next_lsn;
        let bytes = frame(lsn, seq, payload)?;
        if self.current_len > HEADER_LEN as u64
            && self.current_len + bytes.len() as u64 > self.segment_limit
        {
            self.roll(lsn)?;
        }
        let end = self.current_len + bytes.len() as u64;
        // Keep the file written ahead, with zeros, so that the sync after a
        // frame rarely has the file's size (metadata) to commit too.
        let ready = if end > self.allocated {
            end + READY_BYTES
        } else {
            self.allocated
        };
        let zeros = vec![0u8; usize::try_from(ready - end.max(self.allocated)).unwrap_or(0)];
        let written = self
            .current
            .write_at(self.current_len, &bytes)
            .and_then(|()| {
                if zeros.is_empty() {
                    Ok(())
                } else {
                    self.current.write_at(end.max(self.allocated), &zeros)
                }
            })
            .and_then(|()| self.current.sync());
        if let Err(error) = written {
            self.broken = true;
            let path = self
                .segments
                .last()
                .map(|s| s.path.display().to_string())
                .unwrap_or_default();
            return Err(Error::Storage(format!(
                "writing journal frame {lsn} to {path}: {error}"
            )));
        }
        let place = Place {
            segment: self.segments.last().map_or(0, |s| s.first_lsn),
            offset: self.current_len + FRAME_HEADER as u64,
        };
        self.current_len = end;
        self.allocated = ready;
        self.next_lsn += 1;
        if let Some(segment) = self.segments.last_mut() {
            segment.last_lsn = lsn;
        }
        Ok((lsn, place))
    }

    fn roll(&mut self, first_lsn: u64) -> Result<()> {
        let segments = std::mem::take(&mut self.segments);
        let next = Wal::start_segment(
            self.fs.clone(),
            &self.dir,
            &self.store_id,
            first_lsn,
            segments.clone(),
        );
        match next {
            Ok(next) => {
                *self = Wal {
                    segment_limit: self.segment_limit,
                    ..next
                };
                Ok(())
            }
            Err(error) => {
                self.segments = segments;
                self.broken = true;
                Err(error)
            }
        }
    }

    /// The file layer (for readers outside the writer's lock).
    pub fn fs(&self) -> Arc<dyn WalFs> {
        self.fs.clone()
    }

    /// The segments that may hold frames from `from` on, oldest first: each
    /// one's first lsn and path.
    pub fn segment_paths_from(&self, from: u64) -> Vec<SegmentFile> {
        self.segments
            .iter()
            .enumerate()
            .filter(|(index, segment)| {
                // The current segment's last lsn moves on as frames come.
                segment.last_lsn >= from || index + 1 == self.segments.len()
            })
            .flat_map(|(_, segment)| {
                let beside = segment.archive_too.then(|| SegmentFile {
                    first_lsn: segment.first_lsn,
                    path: self.dir.join(archive::archive_name(segment.first_lsn)),
                    archived: true,
                });
                std::iter::once(SegmentFile {
                    first_lsn: segment.first_lsn,
                    path: segment.path.clone(),
                    archived: segment.archived,
                })
                .chain(beside)
            })
            .collect()
    }

    /// Sealed segments not yet archived whose frames all are at or before
    /// `durable` (oldest first), as first lsn, last lsn and path. The newest
    /// two are never offered: if the newest turns out unfinished at an
    /// open, the one before it is appended to again.
    pub fn archivable(&self, durable: u64) -> Vec<(u64, u64, PathBuf)> {
        let keep = self.segments.len().saturating_sub(2);
        self.segments[..keep]
            .iter()
            .filter(|segment| !segment.archived && segment.last_lsn <= durable)
            .map(|segment| (segment.first_lsn, segment.last_lsn, segment.path.clone()))
            .collect()
    }

    /// Segment `first_lsn` is now the archive at `path`.
    pub fn mark_archived(&mut self, first_lsn: u64, path: PathBuf) {
        if let Some(segment) = self
            .segments
            .iter_mut()
            .find(|segment| segment.first_lsn == first_lsn)
        {
            segment.archived = true;
            segment.archive_too = false;
            segment.path = path;
        }
    }

    /// Frames from `from` on that are still on disk, in order (reads whole
    /// segments).
    #[cfg(test)]
    pub fn read_from(&self, from: u64) -> Result<Vec<Frame>> {
        let mut frames = Vec::new();
        for segment in &self.segments {
            if segment.last_lsn < from {
                continue;
            }
            let bytes = self
                .fs
                .read(&segment.path)
                .map_err(|e| io_error("reading", &segment.path, e))?;
            let mut at = HEADER_LEN;
            while let Some((frame, len)) = frame_at(&bytes, at, None, segment.first_lsn) {
                at += len;
                if frame.lsn >= from {
                    frames.push(frame);
                }
            }
        }
        Ok(frames)
    }
}

/// Every whole frame of a segment's bytes, in order, up to the first that
/// is not.
pub fn frames_of(bytes: &[u8], first_lsn: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut at = HEADER_LEN;
    while let Some((frame, len)) = frame_at(bytes, at, None, first_lsn) {
        at += len;
        frames.push(frame);
    }
    frames
}

/// Where frame `lsn` ends in the bytes of segment `first_lsn`, if it is
/// there whole.
pub fn frame_end(bytes: &[u8], first_lsn: u64, lsn: u64) -> Option<usize> {
    let mut at = HEADER_LEN;
    while let Some((frame, len)) = frame_at(bytes, at, None, first_lsn) {
        at += len;
        if frame.lsn == lsn {
            return Some(at);
        }
    }
    None
}

/// The whole frames numbered `from ..= to` in the segment files `paths`,
/// in order, read without the writer's lock: the newest segment may be
/// growing, and a frame still being written there is simply not whole yet.
pub fn read_frames(
    fs: &dyn WalFs,
    paths: &[(u64, PathBuf)],
    from: u64,
    to: u64,
) -> Result<Vec<Frame>> {
    let mut frames = Vec::new();
    for (first_lsn, path) in paths {
        let bytes = fs.read(path).map_err(|e| io_error("reading", path, e))?;
        let mut at = HEADER_LEN;
        while let Some((frame, len)) = frame_at(&bytes, at, None, *first_lsn) {
            at += len;
            if frame.lsn > to {
                return Ok(frames);
            }
            if frame.lsn >= from {
                frames.push(frame);
            }
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests;
