//! The post's durable outbox: actions taken at a post are written here first
//! and sent to dutyd in order, so nothing done on a flaky link is lost.
//!
//! Each action is one small file in the outbox directory, written to a
//! temporary name, synced and renamed into place (then the directory is
//! synced), so after a crash it is either whole or absent. It carries the
//! request id that makes a resend safe (dutyd answers a repeat with the first
//! answer) and `done_at`, the post's time of the action. A sent action's file
//! is removed; if that removal is lost in a crash, the resend is answered
//! from dutyd's idempotency record, so it still lands once.
//!
//! Sending ([`Outbox::send_next`]) takes the oldest action. A network
//! failure leaves it at the head, to be retried when the link returns;
//! dutyd refusing it (a bad argument, the incident moved on) moves it aside
//! as *failed*, with dutyd's reason, for a person to read and dismiss; the
//! actions behind it go on.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dutyroom_proto::v1 as pb;
use prost::Message;
use tonic::Code;

use crate::client::Client;

/// What can go wrong with the outbox files.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// A file could not be read or written.
    #[error("outbox {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not an outbox entry (it is left alone).
    #[error("outbox {path}: not a readable entry ({reason})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One queued action: the request as it will be sent.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Action {
    /// Sign for an order.
    #[prost(message, tag = "10")]
    SignFor(pb::AssignmentActionRequest),
    /// Report on scene.
    #[prost(message, tag = "11")]
    Arrive(pb::AssignmentActionRequest),
    /// Finish a supporting part.
    #[prost(message, tag = "12")]
    Finish(pb::AssignmentActionRequest),
    /// Refuse (send back) an order, with a reason.
    #[prost(message, tag = "13")]
    Refuse(pb::RefuseRequest),
    /// A progress note.
    #[prost(message, tag = "14")]
    Note(pb::AddNoteRequest),
    /// Resolve with an outcome.
    #[prost(message, tag = "15")]
    Resolve(pb::ResolveRequest),
    /// Call in units.
    #[prost(message, tag = "16")]
    CallIn(pb::CallInRequest),
    /// Answer a roll-call.
    #[prost(message, tag = "17")]
    AnswerRollCall(pb::AnswerRollCallRequest),
}

impl Action {
    fn stamp(&mut self, request_id: &str, done_at: prost_types::Timestamp) {
        let (id, at) = match self {
            Action::SignFor(r) | Action::Arrive(r) | Action::Finish(r) => {
                (&mut r.request_id, &mut r.done_at)
            }
            Action::Refuse(r) => (&mut r.request_id, &mut r.done_at),
            Action::Note(r) => (&mut r.request_id, &mut r.done_at),
            Action::Resolve(r) => (&mut r.request_id, &mut r.done_at),
            Action::CallIn(r) => (&mut r.request_id, &mut r.done_at),
            Action::AnswerRollCall(r) => (&mut r.request_id, &mut r.done_at),
        };
        *id = request_id.to_owned();
        *at = Some(done_at);
    }

    /// The incident it is about (empty for a roll-call answer).
    pub fn incident(&self) -> &str {
        match self {
            Action::SignFor(r) | Action::Arrive(r) | Action::Finish(r) => &r.incident,
            Action::Refuse(r) => &r.incident,
            Action::Note(r) => &r.incident,
            Action::Resolve(r) => &r.incident,
            Action::CallIn(r) => &r.incident,
            Action::AnswerRollCall(_) => "",
        }
    }

    /// The verb, for people (`sign for`, `note`…).
    /// The console command that queued it (for its label in a language).
    pub fn command(&self) -> &'static str {
        match self {
            Action::SignFor(_) => "sign",
            Action::Arrive(_) => "arrive",
            Action::Finish(_) => "finish",
            Action::Refuse(_) => "refuse",
            Action::Note(_) => "note",
            Action::Resolve(_) => "resolve",
            Action::CallIn(_) => "callin",
            Action::AnswerRollCall(_) => "answer",
        }
    }

    /// What it does, in English (logs, the CLI).
    pub fn verb(&self) -> &'static str {
        match self {
            Action::SignFor(_) => "sign for",
            Action::Arrive(_) => "on scene",
            Action::Finish(_) => "finish",
            Action::Refuse(_) => "refuse",
            Action::Note(_) => "note",
            Action::Resolve(_) => "resolve",
            Action::CallIn(_) => "call in",
            Action::AnswerRollCall(_) => "answer roll-call",
        }
    }
}

/// An action in the outbox, as stored.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// Its place in the queue (from 1).
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    /// The request id it is sent with (every time).
    #[prost(string, tag = "2")]
    pub request_id: String,
    /// When it was done at the post (the post's clock).
    #[prost(message, optional, tag = "3")]
    pub done_at: Option<prost_types::Timestamp>,
    /// What it is, for people: "sign for 20261123-0042".
    #[prost(string, tag = "4")]
    pub summary: String,
    /// Why dutyd refused it, once it has.
    #[prost(string, tag = "5")]
    pub failed: String,
    /// The request.
    #[prost(oneof = "Action", tags = "10, 11, 12, 13, 14, 15, 16, 17")]
    pub action: Option<Action>,
}

/// What sending the head of the outbox came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Nothing to send.
    Empty,
    /// dutyd recorded it (or had already: a resend).
    Done(String),
    /// dutyd refused it; it is moved to the failed list.
    Refused {
        /// What it was.
        summary: String,
        /// dutyd's reason.
        reason: String,
    },
    /// dutyd could not be reached; it stays at the head.
    Unreachable(String),
}

/// What the outbox holds, for display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contents {
    /// Waiting to be sent, oldest first.
    pub pending: Vec<Entry>,
    /// Refused by dutyd, with the reason, until dismissed.
    pub failed: Vec<Entry>,
}

/// The outbox directory.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    next_seq: u64,
}

const PENDING: &str = "pending";
const FAILED: &str = "failed";

impl Outbox {
    /// Opens (creating) the outbox in `dir`.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        for sub in [PENDING, FAILED] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(io(&path))?;
            // A temporary file is a write that never returned: nobody was
            // told it was queued. Clear it away.
            for leftover in fs::read_dir(&path)
                .map_err(io(&path))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
            {
                let _ = fs::remove_file(leftover);
            }
        }
        let mut outbox = Outbox {
            dir: dir.to_owned(),
            next_seq: 1,
        };
        let highest = outbox
            .read(PENDING)?
            .into_iter()
            .chain(outbox.read(FAILED)?)
            .map(|e| e.seq)
            .max()
            .unwrap_or(0);
        outbox.next_seq = highest + 1;
        Ok(outbox)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, sub: &str, seq: u64) -> PathBuf {
        self.dir.join(sub).join(format!("{seq:020}.entry"))
    }

    fn read(&self, sub: &str) -> Result<Vec<Entry>, OutboxError> {
        let dir = self.dir.join(sub);
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "entry"))
            .collect();
        // Zero-padded sequence numbers: name order is queue order.
        names.sort();
        let mut entries = Vec::with_capacity(names.len());
        for path in names {
            let bytes = fs::read(&path).map_err(io(&path))?;
            let entry = Entry::decode(bytes.as_slice()).map_err(|e| OutboxError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Writes `entry` whole under `sub`, durably.
    fn write(&self, sub: &str, entry: &Entry) -> Result<(), OutboxError> {
        let path = self.file(sub, entry.seq);
        let temporary = path.with_extension("tmp");
        let mut file = fs::File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(&entry.encode_to_vec())
            .and_then(|()| file.sync_all())
            .map_err(io(&temporary))?;
        fs::rename(&temporary, &path).map_err(io(&path))?;
        sync_dir(&self.dir.join(sub))
    }

    /// Queues an action done now at the post; returns the stored entry. It
    /// is on disk when this returns.
    pub fn push(&mut self, mut action: Action, summary: String) -> Result<Entry, OutboxError> {
        let seq = self.next_seq;
        let now = jiff::Timestamp::now();
        let done_at = prost_types::Timestamp {
            seconds: now.as_second(),
            nanos: now.subsec_nanosecond(),
        };
        let request_id = format!("outbox-{}-{seq}", random_hex());
        action.stamp(&request_id, done_at);
        let entry = Entry {
            seq,
            request_id,
            done_at: Some(done_at),
            summary,
            failed: String::new(),
            action: Some(action),
        };
        self.write(PENDING, &entry)?;
        self.next_seq += 1;
        Ok(entry)
    }

    /// What is waiting and what failed.
    pub fn contents(&self) -> Result<Contents, OutboxError> {
        Ok(Contents {
            pending: self.read(PENDING)?,
            failed: self.read(FAILED)?,
        })
    }

    /// The oldest action waiting.
    pub fn head(&self) -> Result<Option<Entry>, OutboxError> {
        Ok(self.read(PENDING)?.into_iter().next())
    }

    /// Drops a sent action.
    pub fn remove(&self, seq: u64) -> Result<(), OutboxError> {
        let path = self.file(PENDING, seq);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Moves a refused action to the failed list with dutyd's reason.
    pub fn fail(&self, mut entry: Entry, reason: &str) -> Result<(), OutboxError> {
        entry.failed = reason.to_owned();
        self.write(FAILED, &entry)?;
        self.remove(entry.seq)
    }

    /// Forgets failed actions (a person read them).
    pub fn dismiss_failed(&self) -> Result<usize, OutboxError> {
        let failed = self.read(FAILED)?;
        for entry in &failed {
            let path = self.file(FAILED, entry.seq);
            fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(failed.len())
    }

    /// Sends the oldest action once and deals with the answer.
    pub async fn send_next(&self, client: &Client) -> Result<Sent, OutboxError> {
        let Some(entry) = self.head()? else {
            return Ok(Sent::Empty);
        };
        let Some(action) = entry.action.clone() else {
            // Nothing to send: an entry from a newer console. Keep it visible.
            self.fail(
                entry.clone(),
                "this console cannot send this kind of action",
            )?;
            return Ok(Sent::Refused {
                summary: entry.summary,
                reason: "unknown action".into(),
            });
        };
        match send(client, action).await {
            Ok(()) => {
                self.remove(entry.seq)?;
                Ok(Sent::Done(entry.summary))
            }
            Err(status) if retryable(status.code()) => {
                Ok(Sent::Unreachable(status.message().to_owned()))
            }
            Err(status) => {
                let reason = status.message().to_owned();
                let summary = entry.summary.clone();
                self.fail(entry, &reason)?;
                Ok(Sent::Refused { summary, reason })
            }
        }
    }
}

/// Worth trying again later: the link or dutyd, not the request.
pub fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
    )
}

/// Sends one action to dutyd.
pub async fn send(client: &Client, action: Action) -> Result<(), tonic::Status> {
    let mut incidents = client.incidents();
    match action {
        Action::SignFor(r) => incidents.sign_for(r).await.map(drop),
        Action::Arrive(r) => incidents.arrive(r).await.map(drop),
        Action::Finish(r) => incidents.finish(r).await.map(drop),
        Action::Refuse(r) => incidents.refuse(r).await.map(drop),
        Action::Note(r) => incidents.add_note(r).await.map(drop),
        Action::Resolve(r) => incidents.resolve(r).await.map(drop),
        Action::CallIn(r) => incidents.call_in(r).await.map(drop),
        Action::AnswerRollCall(r) => client.rollcalls().answer_roll_call(r).await.map(drop),
    }
}

fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
    // A rename is durable once its directory is synced (Unix). Elsewhere,
    // opening a directory fails and the rename is as durable as it gets.
    match fs::File::open(dir) {
        Ok(handle) => handle.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the time still makes ids unique per outbox.
        bytes = jiff::Timestamp::now()
            .as_nanosecond()
            .to_le_bytes()
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The outbox directory for a token: `<data>/outbox/<token id>`, so two
/// posts on one machine never share a queue.
pub fn dir_for(data: &Path, token: &str) -> PathBuf {
    let id = token
        .strip_prefix("dty_")
        .and_then(|rest| rest.split('_').next())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or("default");
    data.join("outbox").join(id)
}

/// Where the console keeps the unsent intake form of `token`'s user.
pub fn draft_path(data: &Path, token: &str) -> PathBuf {
    let outbox = dir_for(data, token);
    let id = outbox.file_name().map(std::ffi::OsStr::to_owned);
    let mut path = data.join("drafts");
    if let Some(id) = id {
        path.push(id);
    }
    path.join("intake.json")
}

/// Where the console keeps its data by default:
/// `$XDG_DATA_HOME/dutyroom`, else `~/.local/share/dutyroom`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("dutyroom");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/dutyroom"),
        None => PathBuf::from("dutyroom-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(incident: &str, text: &str) -> Action {
        Action::Note(pb::AddNoteRequest {
            incident: incident.into(),
            text: text.into(),
            ..Default::default()
        })
    }

    #[test]
    fn actions_survive_a_restart_in_order_with_their_ids_and_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first_id;
        {
            let mut outbox = Outbox::open(dir.path()).expect("open");
            let first = outbox
                .push(note("20261123-0001", "到场"), "note 0001".into())
                .expect("push");
            first_id = first.request_id.clone();
            outbox
                .push(note("20261123-0002", "处置中"), "note 0002".into())
                .expect("push");
            // The request carries the id and the post's time.
            let Some(Action::Note(request)) = &first.action else {
                panic!("a note");
            };
            assert_eq!(request.request_id, first.request_id);
            assert_eq!(request.done_at, first.done_at);
        }
        let mut outbox = Outbox::open(dir.path()).expect("reopen");
        let contents = outbox.contents().expect("contents");
        let summaries: Vec<&str> = contents
            .pending
            .iter()
            .map(|e| e.summary.as_str())
            .collect();
        assert_eq!(summaries, vec!["note 0001", "note 0002"]);
        assert_eq!(contents.pending[0].request_id, first_id);
        // New entries go after the old ones, with fresh ids.
        let third = outbox
            .push(note("20261123-0003", "x"), "note 0003".into())
            .expect("push");
        assert_eq!(third.seq, 3);
        assert_ne!(third.request_id, first_id);
    }

    #[test]
    fn a_refused_action_moves_aside_and_the_rest_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut outbox = Outbox::open(dir.path()).expect("open");
        let first = outbox.push(note("1", "a"), "a".into()).expect("push");
        outbox.push(note("2", "b"), "b".into()).expect("push");
        outbox.fail(first, "incident 1 is closed").expect("fail");
        let contents = outbox.contents().expect("contents");
        assert_eq!(contents.pending.len(), 1);
        assert_eq!(contents.pending[0].summary, "b");
        assert_eq!(contents.failed.len(), 1);
        assert_eq!(contents.failed[0].failed, "incident 1 is closed");
        // Failed entries keep their numbers: a reopen does not reuse them.
        assert_eq!(Outbox::open(dir.path()).expect("reopen").next_seq, 3);
        assert_eq!(outbox.dismiss_failed().expect("dismiss"), 1);
        assert!(outbox.contents().expect("contents").failed.is_empty());
    }

    #[test]
    fn a_half_written_entry_is_never_read_as_an_action() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut outbox = Outbox::open(dir.path()).expect("open");
        outbox.push(note("1", "a"), "a".into()).expect("push");
        // A crash mid-write leaves only the temporary file.
        fs::write(
            dir.path().join(PENDING).join("00000000000000000002.tmp"),
            b"\x0a",
        )
        .expect("write");
        let contents = Outbox::open(dir.path())
            .expect("reopen")
            .contents()
            .expect("contents");
        assert_eq!(contents.pending.len(), 1);
        assert!(
            !dir.path()
                .join(PENDING)
                .join("00000000000000000002.tmp")
                .exists()
        );
    }

    #[test]
    fn each_token_has_its_own_outbox() {
        let data = Path::new("/data");
        assert_eq!(
            dir_for(data, "dty_0a1b2c3d_ffff"),
            Path::new("/data/outbox/0a1b2c3d")
        );
        assert_eq!(dir_for(data, "nonsense"), Path::new("/data/outbox/default"));
    }
}
