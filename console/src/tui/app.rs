//! The console's state and its update function: keys and server events in,
//! effects (RPCs, fetches, the bell) out. Views only read this state; nothing
//! here blocks or does I/O.
//!
//! This file holds the state (what the console knows and shows); the rest
//! is split by what drives it:
//! - `app/update.rs`: server events, ticks and replies;
//! - `app/keys.rs`: the modes and how each reads a key or a paste;
//! - `app/handlers.rs`: one function per command, named by its registry
//!   entry;
//! - `app/actions.rs`: what commands share.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dutyroom_proto::v1 as pb;
use jiff::Timestamp;
use jiff::tz::TimeZone;

mod actions;
pub(crate) mod handlers;
mod keys;
mod replay;
mod update;

use crate::tui::attention;
use crate::tui::commands::{self, ArgKind, Keymap, Spec};
use crate::tui::form::{self, Field, IntakeForm};
use crate::tui::fuzzy::{Candidate, rank};
use crate::tui::i18n::{Lang, T};
use crate::tui::line::Line;
use crate::tui::model::{Model, Notice, Snapshot, is_open};
use crate::tui::urgency::{self, order_key};

/// Something that happened: a key, a tick, or news from dutyd.
#[derive(Debug, Clone)]
pub enum AppEvent {
    /// A key press.
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): it goes into the
    /// field being typed in, never runs keys.
    Paste(String),
    /// The terminal changed size.
    Resize(u16, u16),
    /// A second passed.
    Tick(Timestamp),
    /// Connected: who we are and the centre's time zone.
    Connected {
        /// The principal of our token.
        me: pb::Principal,
        /// IANA zone name.
        zone: String,
    },
    /// A full reload.
    Snapshot(Box<Snapshot>),
    /// A journal event from Watch.
    Watch(Box<pb::Event>),
    /// The link dropped; the network task is retrying.
    LinkLost(String),
    /// The stream is live again (resumed without a gap).
    LinkBack,
    /// An incident fetched whole.
    Fetched(Box<pb::Incident>),
    /// An incident's timeline.
    Timeline(String, Vec<pb::Event>),
    /// An action's result, as a line to show.
    Done(Result<String, String>),
    /// A call was just created (number, the request id it was sent with):
    /// select it.
    Created(String, String),
    /// dutyd refused a call (the request id, why, the request field it
    /// concerns): the form comes back with the reason at its field.
    CreateFailed(String, String, Option<String>),
    /// Who is on duty (loaded on connect, on roster changes, at shift change).
    OnDuty(Box<pb::OnDutyReply>),
    /// Handovers signed out and waiting for the incoming officer.
    PendingHandovers(Vec<pb::Handover>),
    /// The handover being worked on.
    Handover(Box<pb::Handover>),
    /// The post's outbox changed.
    Outbox(Box<OutboxView>),
    /// An assessment report arrived (`:report`).
    Report(Box<pb::Report>),
    /// dutyd answered what a call being taken may belong to (the question).
    Related(pb::FindRelatedRequest, Result<pb::FindRelatedReply, String>),
    /// A history search answered (the filter text it was for).
    History(String, Result<pb::ListIncidentsReply, String>),
    /// dutyd answered a replay question (the question).
    Replayed(pb::ReplayBoardRequest, Result<pb::ReplayBoardReply, String>),
}

/// The outbox as the console shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxView {
    /// Waiting and refused actions.
    pub contents: crate::outbox::Contents,
    /// Why the head is still waiting (dutyd unreachable), if it is.
    pub waiting: Option<String>,
}

/// What the app asks the outside world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Call dutyd.
    Rpc(Rpc),
    /// A post's action: into the durable outbox, then to dutyd in order.
    Queue(Rpc),
    /// Forget the outbox's refused actions.
    DismissFailed,
    /// Fetch an incident whole.
    Fetch(String),
    /// Keep the unsent intake on disk (`None`: it was sent or discarded).
    SaveDraft(Option<form::Draft>),
    /// Load an incident's timeline.
    LoadTimeline(String),
    /// Reload everything.
    Reload,
    /// Ring the terminal bell.
    Bell,
    /// Ask who is on duty now.
    LoadOnDuty,
    /// Ask for an assessment report.
    LoadReport(pb::GetReportRequest),
    /// Ask what a call being taken may belong to (repeat caller, duplicate).
    FindRelated(pb::FindRelatedRequest),
    /// Search everything ever recorded for the `/` filter (its text, the
    /// request).
    SearchHistory(String, pb::SearchIncidentsRequest),
    /// Ask for the board at a past moment (`:at`, stepping).
    Replay(pb::ReplayBoardRequest),
    /// Handovers waiting for a countersignature.
    LoadPendingHandovers,
    /// Open, note, sign or counter-sign the current shift's handover.
    Handover(HandoverStep),
    /// Leave.
    Quit,
}

/// A call to dutyd.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Rpc {
    Create(pb::CreateIncidentRequest),
    Assign(pb::AssignRequest),
    Sign(pb::AssignmentActionRequest),
    Arrive(pb::AssignmentActionRequest),
    Note(pb::AddNoteRequest),
    Escalate(pb::EscalateRequest),
    Raise(pb::RaiseSeverityRequest),
    CallIn(pb::CallInRequest),
    Resolve(pb::ResolveRequest),
    Close(pb::CloseRequest),
    Cancel(pb::CancelRequest),
    Merge(pb::MergeRequest),
    Reopen(pb::ReopenRequest),
    Ack(pb::AcknowledgeAlarmRequest),
    Mode(pb::SetPostModeRequest),
    Finish(pb::AssignmentActionRequest),
    Refuse(pb::RefuseRequest),
    Answer(pb::AnswerRollCallRequest),
    RollCall(pb::SendRollCallRequest),
    Update(pb::UpdateIncidentRequest),
    Unassign(pb::UnassignRequest),
    RepeatCall(pb::AddRepeatCallRequest),
}

impl Rpc {
    /// The outbox form of a post's action (`None`: not a post action).
    pub fn into_action(self) -> Option<crate::outbox::Action> {
        use crate::outbox::Action;
        Some(match self {
            Rpc::Sign(r) => Action::SignFor(r),
            Rpc::Arrive(r) => Action::Arrive(r),
            Rpc::Finish(r) => Action::Finish(r),
            Rpc::Refuse(r) => Action::Refuse(r),
            Rpc::Note(r) => Action::Note(r),
            Rpc::Resolve(r) => Action::Resolve(r),
            Rpc::CallIn(r) => Action::CallIn(r),
            Rpc::Answer(r) => Action::AnswerRollCall(r),
            _ => return None,
        })
    }
}

/// What to do to the handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverStep {
    /// Open (or refresh) the current shift's handover.
    Open,
    /// Set its notes.
    Note(u64, String),
    /// Sign it out.
    Sign(u64),
    /// Counter-sign it, with remarks.
    Countersign(u64, String),
}

/// The state of the link to dutyd.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// Not yet loaded.
    Connecting,
    /// Streaming.
    Live,
    /// Lost since then; the network task retries with back-off.
    Lost {
        /// When it dropped.
        since: Timestamp,
        /// Why.
        error: String,
    },
}

/// The side panel shown on wide terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The selected incident's detail.
    Detail,
    /// Posts: mode, load, overdue.
    Posts,
    /// Alarms waiting.
    Alarms,
    /// Who is on duty now and next shift.
    OnDuty,
    /// The current shift's handover.
    Handover,
    /// A post's outbox: actions waiting or refused.
    Outbox,
    /// The last roll-call: who answered, how fast, who missed it.
    RollCall,
}

/// A command waiting for the rest of its arguments (or a confirmation).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Which command.
    pub spec: &'static Spec,
    /// Arguments so far.
    pub args: Vec<String>,
    /// The incident it acts on, fixed when the key was pressed: the board
    /// may re-sort before Enter, the target does not move with it.
    pub target: Option<Target>,
    /// How many confirmations were given so far.
    pub confirmed: u8,
}

/// The incident a command acts on, as shown in its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Incident id.
    pub id: u64,
    /// Its number.
    pub number: String,
    /// Its summary (for the prompt).
    pub summary: String,
    /// Its severity when the key was pressed.
    pub severity: i32,
}

impl Target {
    fn of(incident: &pb::Incident) -> Target {
        Target {
            id: incident.id,
            number: incident.number.clone(),
            summary: incident.summary.clone(),
            severity: incident.severity,
        }
    }
}

impl Pending {
    fn new(spec: &'static Spec, args: Vec<String>) -> Pending {
        Pending {
            spec,
            args,
            target: None,
            confirmed: 0,
        }
    }

    /// Confirmations this command needs: cancelling a severity I or II
    /// incident is asked twice.
    pub fn confirmations(&self) -> u8 {
        let grave = self.target.as_ref().is_some_and(|t| {
            matches!(
                pb::Severity::try_from(t.severity),
                Ok(pb::Severity::I | pb::Severity::Ii)
            )
        });
        match self.spec.name {
            "cancel" if grave => 2,
            _ if self.spec.confirm => 1,
            _ => 0,
        }
    }
}

/// What the keyboard is talking to.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The board.
    Board,
    /// One incident full screen.
    Detail,
    /// The intake form.
    Form(Box<IntakeForm>),
    /// Choosing a post or unit to assign.
    Picker(Box<Picker>),
    /// Asking for one argument.
    Prompt(Box<Pending>, Line),
    /// Asking "sure?".
    Confirm(Box<Pending>),
    /// The `:` command line.
    Command(Line),
    /// The `/` filter line.
    Filter(Line),
    /// The help screen, scrolled down this many lines.
    Help(usize),
    /// "Throw away what was typed?" over the mode it came from.
    Leave(Box<Mode>, Leave),
    /// What a `:call` line was understood as, waiting for Enter.
    CallPreview(Box<CallPreview>),
    /// The message log, scrolled up this many lines from the newest.
    Log(usize),
    /// The assessment report (`:report`), scrolled down this many lines.
    Report(usize),
}

/// A `:call` line as understood: shown before anything is sent.
#[derive(Debug, Clone)]
pub struct CallPreview {
    /// The line as typed (Esc goes back to it).
    pub line: String,
    /// What would be sent.
    pub request: pb::CreateIncidentRequest,
    /// How the category word was read.
    pub category: form::Match,
    /// How the place word was read.
    pub place: form::Match,
    /// The post that would lead, if the place has one.
    pub lead: Option<String>,
}

/// What leaving a half-typed form or prompt would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Close it, losing what was typed.
    Discard,
    /// Quit the console (an intake draft stays on disk).
    Quit,
}

impl Mode {
    /// The mode on screen: under a "sure?" question, the one it asks about.
    pub fn shown(&self) -> &Mode {
        match self {
            Mode::Leave(back, _) => back.shown(),
            other => other,
        }
    }

    /// Something typed would be lost by leaving now.
    fn holds_input(&self) -> bool {
        match self {
            Mode::Form(form) => !form.is_empty(),
            Mode::Prompt(..) | Mode::Confirm(_) | Mode::Picker(_) => true,
            Mode::Command(line) => !line.text().trim().is_empty(),
            Mode::CallPreview(_) => true,
            _ => false,
        }
    }
}

/// The assign picker.
#[derive(Debug, Clone)]
pub struct Picker {
    /// The incident being assigned.
    pub incident: String,
    /// What was typed.
    pub query: Line,
    /// Which match is highlighted.
    pub choice: usize,
    /// Assign as support rather than lead.
    pub support: bool,
    /// Calling in units (吹哨) rather than assigning: units only, several
    /// may be chosen.
    pub call_in: bool,
    /// Units chosen so far for a call-in (`unit:ID`).
    pub chosen: Vec<String>,
}

impl Picker {
    /// A picker for `incident`: posts and units to assign (lead first), or
    /// units to call in.
    pub fn new(incident: String, call_in: bool) -> Picker {
        Picker {
            incident,
            query: Line::default(),
            choice: 0,
            support: call_in,
            call_in,
            chosen: Vec::new(),
        }
    }
}

/// What the board shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Words to find in number, summary, address, category, post.
    pub words: Vec<String>,
    /// `post:ID` / `unit:ID` involved.
    pub assignee: Option<String>,
    /// Category code.
    pub category: Option<String>,
    /// Severity.
    pub severity: Option<i32>,
    /// Statuses (any).
    pub statuses: Vec<i32>,
    /// Only open incidents.
    pub open_only: bool,
    /// Only with a dispatch waiting for sign-for.
    pub unsigned: bool,
    /// Only overdue.
    pub overdue: bool,
    /// Only with alarms waiting.
    pub alarmed: bool,
    /// Only of posts in emergency mode.
    pub emergency: bool,
    /// A caller's phone number (or its last 4+ digits, `tel:1234`) to look
    /// for in history.
    pub phone: Option<String>,
    /// The text it was parsed from, to show.
    pub text: String,
}

impl Filter {
    /// Parses `xinhua post:xinhua cat:fire sev:II status:new overdue …`.
    pub fn parse(text: &str) -> Filter {
        let mut filter = Filter {
            text: text.trim().to_owned(),
            ..Filter::default()
        };
        for word in text.split_whitespace() {
            match word.split_once(':') {
                Some(("post" | "unit", _)) => filter.assignee = Some(word.to_owned()),
                Some(("cat", code)) => filter.category = Some(code.to_owned()),
                Some(("sev", sev)) => filter.severity = form::severity(sev).map(|s| s as i32),
                Some(("tel", digits)) => filter.phone = Some(digits.to_owned()),
                Some(("status", status)) => {
                    if let Ok(s) = crate::cli::incident::parse_status(status) {
                        filter.statuses.push(s as i32);
                    }
                }
                _ => match word {
                    "overdue" => filter.overdue = true,
                    "unsigned" => filter.unsigned = true,
                    "open" => filter.open_only = true,
                    "alarmed" => filter.alarmed = true,
                    "emergency" => filter.emergency = true,
                    // A whole phone number: the board finds it in incident
                    // numbers and texts, history by the caller's phone.
                    _ if is_phone_number(word) => {
                        filter.phone = Some(word.to_owned());
                        filter.words.push(word.to_owned());
                    }
                    _ => filter.words.push(word.to_lowercase()),
                },
            }
        }
        filter
    }

    fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// The filter as a search of everything ever recorded, when it asks
    /// for something history can answer: words or a phone number, and no
    /// condition that only means something now (open, overdue, unsigned,
    /// alarmed, emergency). `centre`: the phone goes to the phone search
    /// (a post may not search by phone; its digits stay words).
    pub fn history_request(&self, centre: bool) -> Option<pb::SearchIncidentsRequest> {
        let now_only =
            self.open_only || self.unsigned || self.overdue || self.alarmed || self.emergency;
        let phone = self.phone.clone().filter(|_| centre);
        if now_only || (self.words.is_empty() && phone.is_none()) {
            return None;
        }
        let words: Vec<&str> = self
            .words
            .iter()
            .map(String::as_str)
            .filter(|w| phone.as_deref() != Some(*w))
            .collect();
        let assignee = self
            .assignee
            .as_deref()
            .and_then(|key| crate::cli::incident::parse_assignee(key).ok());
        Some(pb::SearchIncidentsRequest {
            text: words.join(" "),
            phone: phone.unwrap_or_default(),
            category: self.category.clone().unwrap_or_default(),
            severity: self.severity.unwrap_or_default(),
            statuses: self.statuses.clone(),
            assignee,
            page: Some(pb::Page {
                limit: HISTORY_ROWS,
                page_token: String::new(),
            }),
            ..Default::default()
        })
    }

    fn matches(
        &self,
        model: &Model,
        incident: &pb::Incident,
        now: Timestamp,
        flagged: &std::collections::BTreeSet<&str>,
    ) -> bool {
        if self.open_only && !is_open(incident.status) {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&incident.status) {
            return false;
        }
        if self.severity.is_some_and(|s| s != incident.severity) {
            return false;
        }
        if self
            .category
            .as_ref()
            .is_some_and(|c| *c != incident.category)
        {
            return false;
        }
        if let Some(who) = &self.assignee {
            let involved = incident
                .assignments
                .iter()
                .any(|a| crate::cli::output::assignee(a.assignee.as_ref()) == *who)
                || who.strip_prefix("post:") == Some(incident.territorial_post_id.as_str());
            if !involved {
                return false;
            }
        }
        if self.unsigned && !urgency::unsigned(incident) {
            return false;
        }
        if self.overdue && !urgency::overdue(incident, now) {
            return false;
        }
        if self.alarmed && !flagged.contains(incident.number.as_str()) {
            return false;
        }
        let in_emergency = model
            .posts
            .get(&incident.territorial_post_id)
            .is_some_and(|p| p.mode == pb::PostMode::Emergency as i32);
        if self.emergency && !in_emergency {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let post_name = model
            .posts
            .get(&incident.territorial_post_id)
            .map_or("", |p| p.name.as_str());
        let haystack = format!(
            "{} {} {} {} {} {}",
            incident.number,
            incident.summary,
            incident.address,
            incident.category,
            incident.territorial_post_id,
            post_name
        )
        .to_lowercase();
        self.words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// Seven or more digits: a phone number rather than an incident number.
fn is_phone_number(word: &str) -> bool {
    word.len() >= 7 && word.len() <= 20 && word.bytes().all(|b| b.is_ascii_digit())
}

/// How many past incidents one `/` search shows.
const HISTORY_ROWS: u32 = 50;

/// Between a call's request id and the incident number in the id of the
/// attach that sends it as a repeat call.
const REPEAT_TAG: &str = ":repeat:";

/// The board as it stood at a past moment (`:at`), shown instead of the
/// live board, read-only. The live model keeps following dutyd meanwhile:
/// alarms and new calls still ring and count in the strip.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The question in flight, if any (an older answer is dropped).
    pub asking: Option<pb::ReplayBoardRequest>,
    /// The board shown: the answer and its incidents as a model.
    pub shown: Option<(pb::ReplayBoardReply, Model)>,
    /// Why the last question failed.
    pub failed: Option<String>,
    /// Event steps pressed while a question was on its way (+ on, − back).
    pub queued: i32,
    /// The live board's filter, back when the replay ends.
    pub live_filter: Filter,
}

impl Replay {
    /// The instant shown.
    pub fn at(&self) -> Option<Timestamp> {
        self.shown
            .as_ref()
            .and_then(|(reply, _)| reply.at.as_ref())
            .map(|at| urgency::ts(Some(at)))
    }
}

/// What `/` found in history, below the board's own rows.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The filter text it answers (a changed filter drops it).
    pub query: String,
    /// Past incidents, newest first.
    pub incidents: Vec<pb::Incident>,
    /// Where the search stands.
    pub state: HistoryState,
}

/// Where a history search stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryState {
    /// Asked, no answer yet.
    Searching,
    /// Answered; `more`: there are older ones than shown.
    Found {
        /// Older matches exist beyond the first page.
        more: bool,
    },
    /// Refused or unreachable, with why.
    Failed(String),
}

/// A line at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What to say.
    pub text: String,
    /// An error (shown in red, with `!`).
    pub error: bool,
}

/// A message as kept in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// When it was said.
    pub at: Timestamp,
    /// What.
    pub text: String,
    /// An error.
    pub error: bool,
}

/// How many messages the log keeps.
const LOG_LINES: usize = 200;

/// The console's whole state.
pub struct App {
    /// What we know of the duty room.
    pub model: Model,
    /// Language of every text.
    pub lang: Lang,
    /// Keys → commands.
    pub keymap: Keymap,
    /// Who we are.
    pub me: Option<pb::Principal>,
    /// The centre's time zone.
    pub zone: TimeZone,
    /// The link to dutyd.
    pub link: Link,
    /// The time (advanced by ticks).
    pub now: Timestamp,
    /// What the keyboard talks to.
    pub mode: Mode,
    /// The selected incident.
    pub selected: Option<u64>,
    /// The board's filter.
    pub filter: Filter,
    /// Saved filters on number keys 7–9.
    pub views: BTreeMap<u8, Filter>,
    /// The side panel on wide terminals.
    pub panel: Panel,
    /// The bottom line.
    pub message: Option<Message>,
    /// The last results and errors, oldest first (`L` shows them).
    pub log: std::collections::VecDeque<Logged>,
    /// How far the detail screen is scrolled down.
    pub detail_scroll: usize,
    /// The furthest the detail could scroll at the last frame (the view
    /// measures it; keys clamp to it, so `k` after `G` moves at once).
    pub detail_last: std::cell::Cell<usize>,
    /// A new order to select as soon as it is on the board (a post's).
    pub select_when_shown: Option<String>,
    /// The selection moved by itself (a new order took it): the next action
    /// key is refused once, so a key meant for the old row never lands on
    /// the new one.
    pub moved_by_itself: Option<String>,
    /// Ring the bell on new incidents and alarms.
    pub bell: bool,
    /// Incidents highlighted as new, until when.
    pub fresh: BTreeMap<u64, Timestamp>,
    /// Everything waiting for the officer, as of the last rebuild.
    pub attention: Vec<attention::Item>,
    /// Attention items acknowledged here (send-backs, offline posts).
    pub seen: std::collections::BTreeSet<String>,
    /// The item `!` last jumped to (what `A` acknowledges when it is not
    /// about an incident).
    pub attention_focus: Option<String>,
    /// How often the bell repeats while anything waits.
    pub bell_every: jiff::SignedDuration,
    /// When the bell rings next while anything waits.
    pub next_ring: Option<Timestamp>,
    /// The alarm sound is off until then (`:mute`).
    pub muted_until: Option<Timestamp>,
    /// The open detail's timeline, once loaded.
    pub timeline: Option<(String, Vec<pb::Event>)>,
    /// Who is on duty, as last loaded.
    pub on_duty: Option<pb::OnDutyReply>,
    /// The handover being worked on, as last seen.
    pub handover: Option<pb::Handover>,
    /// The roll-call the centre follows: the newest one seen.
    pub rollcall: Option<pb::RollCall>,
    /// Handovers signed out and not yet countersigned (this console's
    /// scope: the centre's, or its own post's).
    pub pending_handovers: Vec<pb::Handover>,
    /// The post or unit this console speaks for (`post:xinhua`): post mode.
    pub own: Option<String>,
    /// Started as a post's console (`duty post`), before dutyd said whose.
    pub post_mode: bool,
    /// The post's outbox, as last reported.
    pub outbox: OutboxView,
    /// The last assessment report asked for (`:report`).
    pub report: Option<Box<pb::Report>>,
    /// The board's rows: filtered and ordered incident ids; past
    /// incidents found by `/` follow the first `board_live`.
    pub board: Vec<u64>,
    /// How many of `board` are the live board's rows.
    pub board_live: usize,
    /// What the last `/` search found in history.
    pub history: Option<History>,
    /// A past moment shown instead of the live board (`:at`).
    pub replay: Option<Replay>,
    /// Rows the board showed last frame (for paging).
    pub page_rows: usize,
    /// Columns of the terminal last frame: below 120 a panel hides the board.
    pub width: u16,
    /// The intake form last submitted, until dutyd records it: a refusal
    /// brings it back, with everything typed.
    pub sent_form: Option<(String, Box<IntakeForm>)>,
    /// A refused call the officer was busy elsewhere for: `n` reopens it.
    pub refused_form: Option<Box<IntakeForm>>,
    /// Calls submitted from the form so far (request ids).
    submitted: u64,
    /// The situation strip's counts, as of the last rebuild.
    pub situation: urgency::Situation,
    /// Set when the user asked to leave.
    pub quit: bool,
}

/// How long a new incident stays highlighted.
const FRESH_FOR: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

impl App {
    /// A console with no data yet.
    pub fn new(lang: Lang, keymap: Keymap, now: Timestamp) -> App {
        App {
            model: Model::default(),
            lang,
            keymap,
            me: None,
            zone: TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC),
            link: Link::Connecting,
            now,
            mode: Mode::Board,
            selected: None,
            filter: Filter::default(),
            views: BTreeMap::new(),
            panel: Panel::Detail,
            message: None,
            log: std::collections::VecDeque::new(),
            detail_scroll: 0,
            detail_last: std::cell::Cell::new(usize::MAX / 2),
            select_when_shown: None,
            moved_by_itself: None,
            bell: true,
            fresh: BTreeMap::new(),
            attention: Vec::new(),
            seen: std::collections::BTreeSet::new(),
            attention_focus: None,
            bell_every: jiff::SignedDuration::from_secs(30),
            next_ring: None,
            muted_until: None,
            timeline: None,
            on_duty: None,
            handover: None,
            pending_handovers: Vec::new(),
            rollcall: None,
            own: None,
            post_mode: false,
            outbox: OutboxView::default(),
            report: None,
            board: Vec::new(),
            board_live: 0,
            history: None,
            replay: None,
            page_rows: 10,
            width: 80,
            sent_form: None,
            refused_form: None,
            submitted: 0,
            situation: urgency::Situation::default(),
            quit: false,
        }
    }

    /// A text in the console's language.
    pub fn t(&self, text: T) -> &'static str {
        text.get(self.lang)
    }

    /// Keeps the list of signed-out handovers current.
    fn note_handover(&mut self, handover: &pb::Handover) {
        self.pending_handovers.retain(|h| h.id != handover.id);
        if handover.status == "signed_out" {
            self.pending_handovers.push(handover.clone());
        }
    }

    /// A handover someone else signed out, for this console to receive.
    pub fn handover_for_me(&self) -> Option<&pb::Handover> {
        let me = self.me.as_ref().map(|p| p.token_id.as_str());
        self.pending_handovers
            .iter()
            .find(|h| h.signed_out_by.as_ref().map(|p| p.token_id.as_str()) != me)
    }

    /// Should the bell sound now (on, and not muted)?
    fn ringing(&self) -> bool {
        self.bell && self.muted_until.is_none_or(|until| until <= self.now)
    }

    /// `post:xinhua` → 新华街道 (the id when unknown).
    fn display_name(&self, key: &str) -> String {
        match key.split_once(':') {
            Some(("post", id)) => self.model.posts.get(id).map(|p| p.name.clone()),
            Some(("unit", id)) => self.model.units.get(id).map(|u| u.name.clone()),
            _ => None,
        }
        .unwrap_or_else(|| key.to_owned())
    }

    fn say(&mut self, text: impl Into<String>) {
        self.tell(text.into(), false);
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.tell(text.into(), true);
    }

    /// Shows a message on the bottom line and keeps it in the log.
    fn tell(&mut self, text: String, error: bool) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(Logged {
            at: self.now,
            text: text.clone(),
            error,
        });
        self.message = Some(Message { text, error });
    }

    /// The selected incident.
    pub fn selection(&self) -> Option<&pb::Incident> {
        self.selected.and_then(|id| self.incident(id))
    }

    /// An incident on the board, or one `/` found in history.
    pub fn incident(&self, id: u64) -> Option<&pb::Incident> {
        // A replay shows each incident as it stood then.
        if let Some((_, then)) = self.replay.as_ref().and_then(|r| r.shown.as_ref()) {
            return then.incidents.get(&id);
        }
        self.model.incidents.get(&id).or_else(|| {
            self.history
                .as_ref()
                .and_then(|h| h.incidents.iter().find(|i| i.id == id))
        })
    }

    /// Applies a `/` filter; `search`: also look in history (on Enter, not
    /// per key, since every phone search is journaled).
    pub fn set_filter(&mut self, filter: Filter, search: bool) -> Vec<Effect> {
        self.filter = filter;
        if self
            .history
            .as_ref()
            .is_some_and(|h| h.query != self.filter.text)
        {
            self.history = None;
        }
        let centre = self.own.is_none() && !self.post_mode;
        match self.filter.history_request(centre) {
            Some(request) if search => {
                self.history = Some(History {
                    query: self.filter.text.clone(),
                    incidents: Vec::new(),
                    state: HistoryState::Searching,
                });
                vec![Effect::SearchHistory(self.filter.text.clone(), request)]
            }
            _ => Vec::new(),
        }
    }

    /// The time the board's clocks and ages count from: now, or the
    /// moment a replay shows.
    pub fn board_now(&self) -> Timestamp {
        self.replay
            .as_ref()
            .and_then(Replay::at)
            .unwrap_or(self.now)
    }

    /// Recomputes the board's rows and keeps the selection valid.
    pub fn rebuild(&mut self) {
        let now = self.board_now();
        self.attention = attention::items(&self.model, &self.seen, self.lang);
        // What only this console knows: its own link, and a handover left
        // for its officer (late once its shift has ended).
        if let Link::Lost { since, error } = &self.link
            && !self.seen.contains(&format!("link:{}", since.as_second()))
        {
            self.attention.push(attention::Item {
                key: format!("link:{}", since.as_second()),
                kind: attention::Kind::Link,
                incident: None,
                since: Some(*since),
                what: format!("{}: {}", self.t(T::Lost), crate::tui::text::one_line(error)),
                who: String::new(),
            });
        }
        if let Some(waiting) = self.handover_for_me() {
            let key = format!("handover:{}", waiting.id);
            let late = waiting
                .shift
                .as_ref()
                .and_then(|s| s.ends.as_ref())
                .is_some_and(|end| urgency::ts(Some(end)) < self.now);
            if !self.seen.contains(&key) {
                let item = attention::Item {
                    key,
                    kind: attention::Kind::Handover,
                    incident: None,
                    since: waiting.signed_out_at.as_ref().map(|t| urgency::ts(Some(t))),
                    what: format!(
                        "{} #{}{}",
                        self.t(T::HandoverWaiting),
                        waiting.id,
                        if late { self.t(T::Late) } else { "" }
                    ),
                    who: waiting
                        .signed_out_by
                        .as_ref()
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                };
                self.attention.push(item);
            }
        }
        let flagged: std::collections::BTreeSet<&str> = self
            .attention
            .iter()
            .filter_map(|item| item.incident.as_deref())
            .collect();
        let own = self.own.as_deref();
        let replayed = self
            .replay
            .as_ref()
            .and_then(|r| r.shown.as_ref())
            .map(|(_, then)| then);
        let shown = replayed.unwrap_or(&self.model);
        let mut rows: Vec<&pb::Incident> = shown
            .incidents
            .values()
            .filter(|i| self.filter.matches(&self.model, i, now, &flagged))
            // An order the post sent back (or that was withdrawn) is no
            // longer the post's: it leaves its board.
            .filter(|i| own.is_none_or(|own| !crate::tui::model::only_ended_for(i, own)))
            .collect();
        match own {
            // A post: orders still to sign for on top, most urgent first.
            Some(own) => rows.sort_by_cached_key(|i| {
                let unsigned = crate::tui::model::unsigned_for(i, own).is_some();
                (!unsigned, order_key(i, now))
            }),
            None => rows.sort_by_cached_key(|i| order_key(i, now)),
        }
        self.board = rows.iter().map(|i| i.id).collect();
        self.board_live = self.board.len();
        if self.replay.is_some() {
            // A replay is the board then, nothing else.
            self.history = None;
        }
        if self
            .history
            .as_ref()
            .is_some_and(|h| h.query != self.filter.text)
        {
            self.history = None;
        }
        if let Some(history) = &self.history {
            // Past incidents not already on the board, in the search's order
            // (an open one on the board shows there, live).
            let live: std::collections::BTreeSet<u64> = self.board.iter().copied().collect();
            let past = history.incidents.iter().map(|i| i.id);
            self.board.extend(past.filter(|id| !live.contains(id)));
        }
        // A new order takes the selection once it is on the board.
        if let Some(number) = self.select_when_shown.clone()
            && let Some(id) = self.model.by_number(&number).map(|i| i.id)
            && self.board.contains(&id)
        {
            self.select_when_shown = None;
            if matches!(self.mode, Mode::Board) && self.selected != Some(id) {
                // Only a move away from another row can mislead a key.
                let away_from_a_row = self
                    .selected
                    .is_some_and(|other| self.board.contains(&other));
                self.selected = Some(id);
                if away_from_a_row {
                    self.moved_by_itself = Some(number);
                }
            }
        }
        self.situation = urgency::situation(replayed.unwrap_or(&self.model), now);
        // The strip counts everything waiting for the officer, not only alarms.
        self.situation.alarms = self.attention.len();
        if self.attention.is_empty() {
            self.next_ring = None;
        }
        if self.selected.is_none_or(|id| !self.board.contains(&id)) {
            self.selected = self.board.first().copied();
        }
        self.fresh.retain(|_, until| *until > now);
    }
}
