//! The console's state and its update function: keys and server events in,
//! effects (RPCs, fetches, the bell) out. Views only read this state; nothing
//! here blocks or does I/O.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dutyroom_proto::v1 as pb;
use jiff::Timestamp;
use jiff::tz::TimeZone;

pub(crate) mod handlers;

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
    /// dutyd refused a call (the request id, why): the form comes back with
    /// the reason at its field.
    CreateFailed(String, String),
    /// Who is on duty (loaded on connect, on roster changes, at shift change).
    OnDuty(Box<pb::OnDutyReply>),
    /// Handovers signed out and waiting for the incoming officer.
    PendingHandovers(Vec<pb::Handover>),
    /// The handover being worked on.
    Handover(Box<pb::Handover>),
    /// The post's outbox changed.
    Outbox(Box<OutboxView>),
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
                    _ => filter.words.push(word.to_lowercase()),
                },
            }
        }
        filter
    }

    fn is_empty(&self) -> bool {
        *self == Filter::default()
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
    /// A new order to select as soon as it is on the board (a post's).
    pub select_when_shown: Option<String>,
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
    /// The board's rows: filtered and ordered incident ids.
    pub board: Vec<u64>,
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
            select_when_shown: None,
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
            board: Vec::new(),
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
        self.selected.and_then(|id| self.model.incidents.get(&id))
    }

    /// Recomputes the board's rows and keeps the selection valid.
    pub fn rebuild(&mut self) {
        let now = self.now;
        self.attention = attention::items(&self.model, &self.seen, self.lang);
        let flagged: std::collections::BTreeSet<&str> = self
            .attention
            .iter()
            .filter_map(|item| item.incident.as_deref())
            .collect();
        let own = self.own.as_deref();
        let mut rows: Vec<&pb::Incident> = self
            .model
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
        // A new order takes the selection once it is on the board.
        if let Some(number) = self.select_when_shown.clone()
            && let Some(id) = self.model.by_number(&number).map(|i| i.id)
            && self.board.contains(&id)
        {
            self.select_when_shown = None;
            if matches!(self.mode, Mode::Board) {
                self.selected = Some(id);
            }
        }
        self.situation = urgency::situation(&self.model, now);
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

    /// Handles one event.
    pub fn update(&mut self, event: AppEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match event {
            AppEvent::Key(key) => effects = self.key(key),
            AppEvent::Paste(text) => effects = self.paste(&text),
            AppEvent::Resize(..) => {}
            AppEvent::Tick(now) => {
                self.now = now.max(self.now);
                if self.muted_until.is_some_and(|until| until <= self.now) {
                    self.muted_until = None;
                    self.say(self.t(T::Unmuted));
                }
                // The bell repeats while anything waits, until acknowledged.
                if !self.attention.is_empty() {
                    match self.next_ring {
                        Some(at) if at <= self.now => {
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Some(_) => {}
                        None => self.next_ring = Some(self.now + self.bell_every),
                    }
                }
                // At shift change, the people on duty change.
                let ended = self
                    .on_duty
                    .as_ref()
                    .and_then(|d| d.shift.as_ref())
                    .and_then(|s| s.ends.as_ref())
                    .is_some_and(|end| urgency::ts(Some(end)) <= self.now);
                if ended {
                    self.on_duty = None;
                    effects.push(Effect::LoadOnDuty);
                }
            }
            AppEvent::Connected { me, zone } => {
                // A post's or unit's token: this is that post's console.
                self.own = (me.role.starts_with("post:") || me.role.starts_with("unit:"))
                    .then(|| me.role.clone());
                self.model.own = self.own.clone();
                if self.own.is_some() {
                    self.post_mode = true;
                    if self.panel == Panel::Posts {
                        self.panel = Panel::Detail;
                    }
                }
                self.me = Some(me);
                if let Ok(zone) = TimeZone::get(&zone) {
                    self.zone = zone;
                }
            }
            AppEvent::Snapshot(snapshot) => {
                self.model = Model::from_snapshot(*snapshot);
                self.model.own = self.own.clone();
                self.link = Link::Live;
                effects.push(Effect::LoadOnDuty);
                effects.push(Effect::LoadPendingHandovers);
            }
            AppEvent::Watch(event) => {
                for notice in self.model.apply(&event) {
                    match notice {
                        Notice::NewIncident(number) => {
                            if let Some(incident) = self.model.by_number(&number) {
                                self.fresh.insert(incident.id, self.now + FRESH_FOR);
                            }
                            self.say(format!("{}: {number}", self.t(T::NewIncident)));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::NewOrder(number) => {
                            // Unless the post is typing, the new order is
                            // what `s` will sign for.
                            if matches!(self.mode, Mode::Board) {
                                self.select_when_shown = Some(number.clone());
                            }
                            self.complain(format!(
                                "{}: {number} — {}",
                                self.t(T::NewOrder),
                                self.t(T::SignHint)
                            ));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::RollCall(id) => {
                            self.complain(format!(
                                "{} #{id} — r {}",
                                self.t(T::RollCall),
                                self.t(T::AnswerBy)
                            ));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::Alarm(id) => {
                            let reason = self
                                .model
                                .alarms
                                .get(&id)
                                .map(|a| {
                                    format!(
                                        "{} {}",
                                        a.incident,
                                        attention::describe_alarm(&self.model, a, self.lang)
                                    )
                                })
                                .unwrap_or_default();
                            self.complain(format!("{} #{id}: {reason}", self.t(T::NewAlarm)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Notice::SentBack(number, who) => {
                            let name = self.display_name(&who);
                            self.complain(format!("{}: {number} {name}", self.t(T::SentBack)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Notice::Offline(post) => {
                            let name = self.display_name(&format!("post:{post}"));
                            self.complain(format!("{}: {name}", self.t(T::PostOffline)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                    }
                }
                for number in std::mem::take(&mut self.model.needs_fetch) {
                    effects.push(Effect::Fetch(number));
                }
                if let Some(pb::event::Body::RollCallChanged(rollcall)) = &event.body
                    && self.rollcall.as_ref().is_none_or(|r| r.id <= rollcall.id)
                {
                    self.rollcall = Some(rollcall.clone());
                }
                match event.subject_kind.as_str() {
                    "roster" | "post" | "person" => effects.push(Effect::LoadOnDuty),
                    "handover" => {
                        if let Some(pb::event::Body::HandoverChanged(h)) = &event.body {
                            if self.handover.as_ref().is_none_or(|mine| mine.id == h.id) {
                                self.handover = Some(h.clone());
                            }
                            self.note_handover(h);
                        }
                    }
                    _ => {}
                }
                if let Some((number, events)) = &mut self.timeline
                    && event.subject_id == *number
                {
                    events.push(*event);
                }
            }
            AppEvent::LinkLost(error) => {
                if !matches!(self.link, Link::Lost { .. }) {
                    self.link = Link::Lost {
                        since: self.now,
                        error,
                    };
                }
            }
            AppEvent::LinkBack => self.link = Link::Live,
            AppEvent::Fetched(incident) => {
                // An edit form opened from the list gets the phone in full.
                if let Mode::Form(form) = &mut self.mode
                    && form
                        .editing
                        .as_ref()
                        .is_some_and(|was| was.id == incident.id)
                    && form.text(Field::Phone).is_empty()
                {
                    if let Some(index) = form::FIELDS.iter().position(|f| *f == Field::Phone) {
                        form.lines[index].set(&incident.caller_phone);
                    }
                    form.editing = Some(incident.clone());
                    form.opened_as = Some(form.draft());
                }
                self.model.put(*incident);
            }
            AppEvent::OnDuty(reply) => self.on_duty = Some(*reply),
            AppEvent::PendingHandovers(list) => {
                self.pending_handovers.clear();
                for handover in &list {
                    self.note_handover(handover);
                }
                if let Some(waiting) = self.handover_for_me() {
                    let text = format!(
                        "{} #{} — H {}",
                        self.t(T::HandoverWaiting),
                        waiting.id,
                        self.t(T::Show)
                    );
                    self.complain(text);
                }
            }
            AppEvent::Outbox(view) => self.outbox = *view,
            AppEvent::Handover(handover) => {
                self.note_handover(&handover);
                self.handover = Some(*handover);
                self.panel = Panel::Handover;
            }
            AppEvent::Timeline(number, events) => self.timeline = Some((number, events)),
            AppEvent::Done(Ok(text)) => self.say(text),
            AppEvent::Created(number, request_id) => {
                if self
                    .sent_form
                    .as_ref()
                    .is_some_and(|(sent, _)| *sent == request_id)
                {
                    self.sent_form = None;
                    if self.refused_form.is_none() && !matches!(self.mode, Mode::Form(_)) {
                        effects.push(Effect::SaveDraft(None));
                    }
                }
                self.rebuild();
                if let Some(id) = self.model.by_number(&number).map(|i| i.id) {
                    self.selected = Some(id);
                }
            }
            AppEvent::Done(Err(text)) => self.complain(text),
            AppEvent::CreateFailed(request_id, text) => {
                match self.sent_form.take() {
                    Some((sent, mut form)) if sent == request_id => {
                        form.refuse(form::field_of_error(&text), text.clone());
                        if matches!(self.mode, Mode::Board | Mode::Detail) {
                            self.mode = Mode::Form(form);
                        } else {
                            // Busy with something else: say so, keep the call.
                            self.refused_form = Some(form);
                            self.complain(format!("{}: {text}", self.t(T::CallRefused)));
                        }
                    }
                    other => {
                        self.sent_form = other;
                        self.complain(text);
                    }
                }
            }
        }
        self.rebuild();
        effects
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return Vec::new();
        }
        // Ctrl-C leaves from anywhere, but asks first when something typed
        // would be lost.
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c && !matches!(self.mode, Mode::Leave(..)) {
            if self.mode.holds_input() {
                let back = std::mem::replace(&mut self.mode, Mode::Board);
                self.mode = Mode::Leave(Box::new(back), Leave::Quit);
                return Vec::new();
            }
            self.quit = true;
            return vec![Effect::Quit];
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Board);
        match mode {
            Mode::Leave(back, leave) => {
                let yes = matches!(key.code, KeyCode::Char('y' | 'Y')) || ctrl_c;
                if !yes {
                    // Anything else is "no": back to the typing, key unused.
                    self.mode = *back;
                    return Vec::new();
                }
                let was_form = matches!(&*back, Mode::Form(f) if f.editing.is_none());
                match leave {
                    Leave::Quit => {
                        self.quit = true;
                        vec![Effect::Quit]
                    }
                    Leave::Discard => {
                        self.say(self.t(T::Discarded));
                        if was_form {
                            vec![Effect::SaveDraft(None)]
                        } else {
                            Vec::new()
                        }
                    }
                }
            }
            Mode::Board | Mode::Detail => {
                self.mode = mode;
                self.message = None;
                match self.keymap.command(&key) {
                    Some(name) => {
                        let digit = match key.code {
                            KeyCode::Char(c) if c.is_ascii_digit() => Some(c.to_string()),
                            _ => None,
                        };
                        self.run_key(name, digit)
                    }
                    None => Vec::new(),
                }
            }
            Mode::Log(offset) => {
                let scroll = match key.code {
                    KeyCode::Up | KeyCode::Char('k') => Some(offset + 1),
                    KeyCode::Down | KeyCode::Char('j') => Some(offset.saturating_sub(1)),
                    KeyCode::PageUp => Some(offset + self.page_rows),
                    KeyCode::PageDown | KeyCode::Char(' ') => {
                        Some(offset.saturating_sub(self.page_rows))
                    }
                    _ => None,
                };
                if let Some(offset) = scroll {
                    self.mode = Mode::Log(offset.min(self.log.len().saturating_sub(1)));
                }
                Vec::new()
            }
            Mode::Help(offset) => {
                // Scroll with the movement keys; anything else closes help.
                let scroll = match key.code {
                    KeyCode::Down | KeyCode::Char('j') => Some(offset + 1),
                    KeyCode::Up | KeyCode::Char('k') => Some(offset.saturating_sub(1)),
                    KeyCode::PageDown | KeyCode::Char(' ') => Some(offset + self.page_rows),
                    KeyCode::PageUp => Some(offset.saturating_sub(self.page_rows)),
                    KeyCode::End | KeyCode::Char('G') => Some(usize::MAX),
                    KeyCode::Home | KeyCode::Char('g') => Some(0),
                    _ => None,
                };
                if let Some(offset) = scroll {
                    self.mode = Mode::Help(offset.min(commands::COMMANDS.len().saturating_sub(1)));
                }
                Vec::new()
            }
            Mode::Form(form) => self.form_key(*form, key),
            Mode::Picker(picker) => self.picker_key(*picker, key),
            Mode::Prompt(pending, line) => self.prompt_key(*pending, line, key),
            Mode::Confirm(mut pending) => {
                if key.code == KeyCode::Char('y') {
                    pending.confirmed += 1;
                    if pending.confirmed < pending.confirmations() {
                        self.mode = Mode::Confirm(pending);
                        return Vec::new();
                    }
                    self.execute(&pending)
                } else {
                    self.say(self.t(T::NotDone));
                    Vec::new()
                }
            }
            Mode::Command(line) => self.command_key(line, key),
            Mode::CallPreview(preview) => self.preview_key(*preview, key),
            Mode::Filter(line) => self.filter_key(line, key),
        }
    }

    /// Runs the command bound to a key: incident arguments come from the
    /// selection, the rest are asked for.
    /// Does this console offer `spec`? A post's offers its own actions,
    /// the centre's the rest.
    pub fn offers(&self, spec: &Spec) -> bool {
        match spec.who {
            commands::Who::Any => true,
            commands::Who::Centre => !self.post_mode,
            commands::Who::Post => self.post_mode,
        }
    }

    fn refuse_elsewhere(&mut self, spec: &Spec) {
        let whose = if self.post_mode {
            T::CentreOnly
        } else {
            T::PostOnly
        };
        self.complain(format!(
            "{}: {}",
            spec.verb(self.lang, self.post_mode),
            self.t(whose)
        ));
    }

    fn run_key(&mut self, name: &'static str, digit: Option<String>) -> Vec<Effect> {
        let Some(spec) = commands::find(name) else {
            return Vec::new();
        };
        if !matches!(name, "ack" | "next") {
            self.attention_focus = None;
        }
        if !self.offers(spec) {
            self.refuse_elsewhere(spec);
            return Vec::new();
        }
        let mut pending = Pending::new(spec, Vec::new());
        let on_selection = spec
            .args
            .first()
            .is_some_and(|a| a.kind == ArgKind::Incident)
            || spec.name == "ack";
        if let Some(digit) = digit {
            pending.args.push(digit);
        } else if on_selection {
            // Never act on an incident the officer cannot see (acknowledging
            // the item `!` jumped to, not about an incident, is fine).
            let local_focus = name == "ack"
                && self.attention_focus.as_ref().is_some_and(|key| {
                    self.attention
                        .iter()
                        .any(|i| i.key == *key && i.incident.is_none())
                });
            if !self.board_visible() && !local_focus {
                self.complain(self.t(T::BoardHidden));
                return Vec::new();
            }
            match self.selection() {
                Some(incident) => {
                    pending.target = Some(Target::of(incident));
                    if spec.name != "ack" {
                        pending.args.push(incident.number.clone());
                    }
                }
                None if spec.args.first().is_none_or(|a| a.optional) => {}
                None => {
                    self.complain(self.t(T::NoSelection));
                    return Vec::new();
                }
            }
        }
        self.continue_command(pending)
    }

    /// Is the selected incident on screen: the board (alone, or beside a
    /// panel on a wide terminal) or its detail? Below 120 columns a panel
    /// takes the board's place, and keys must not act on what it hides.
    pub fn board_visible(&self) -> bool {
        match self.mode.shown() {
            Mode::Detail => true,
            _ => self.width >= 120 || self.panel == Panel::Detail,
        }
    }

    /// Asks for the next missing argument, or runs the command.
    fn continue_command(&mut self, pending: Pending) -> Vec<Effect> {
        let next = pending.spec.args.get(pending.args.len());
        match next {
            Some(arg) if !arg.optional => {
                let prompt = Line::default();
                self.mode = Mode::Prompt(Box::new(pending), prompt);
                Vec::new()
            }
            _ => {
                if pending.confirmations() > pending.confirmed {
                    self.mode = Mode::Confirm(Box::new(pending));
                    Vec::new()
                } else {
                    self.execute(&pending)
                }
            }
        }
    }

    fn edit(line: &mut Line, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => line.clear(),
            KeyCode::Char('w') if ctrl => line.delete_word(),
            KeyCode::Char('a') if ctrl => line.home(),
            KeyCode::Char('e') if ctrl => line.end(),
            KeyCode::Char(c) if !ctrl => line.insert(c),
            KeyCode::Backspace => line.backspace(),
            KeyCode::Delete => line.delete(),
            KeyCode::Left => line.left(),
            KeyCode::Right => line.right(),
            KeyCode::Home => line.home(),
            KeyCode::End => line.end(),
            _ => return false,
        }
        true
    }

    fn prompt_key(&mut self, mut pending: Pending, mut line: Line, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc if line.text().trim().is_empty() => Vec::new(),
            KeyCode::Esc => {
                let back = Mode::Prompt(Box::new(pending), line);
                self.mode = Mode::Leave(Box::new(back), Leave::Discard);
                Vec::new()
            }
            KeyCode::Enter => {
                let text = line.text().trim().to_owned();
                if text.is_empty() {
                    self.mode = Mode::Prompt(Box::new(pending), line);
                    return Vec::new();
                }
                pending.args.push(text);
                self.continue_command(pending)
            }
            _ => {
                Self::edit(&mut line, &key);
                self.mode = Mode::Prompt(Box::new(pending), line);
                Vec::new()
            }
        }
    }

    fn command_key(&mut self, mut line: Line, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => self.command_line(line.text()),
            KeyCode::Tab => {
                let text = line.text().to_owned();
                if !text.contains(' ')
                    && let [only] = commands::complete(&text).as_slice()
                {
                    line.set(&format!("{only} "));
                } else if let Some((head, last)) = text.rsplit_once(' ') {
                    // Complete the last word: an incident number or a post/unit.
                    let candidates: Vec<String> = self
                        .model
                        .incidents
                        .values()
                        .map(|i| i.number.clone())
                        .chain(self.model.posts.keys().cloned())
                        .chain(self.model.units.keys().cloned())
                        .filter(|c| !last.is_empty() && (c.starts_with(last) || c.ends_with(last)))
                        .collect();
                    if let [only] = candidates.as_slice() {
                        line.set(&format!("{head} {only} "));
                    }
                }
                self.mode = Mode::Command(line);
                Vec::new()
            }
            _ => {
                Self::edit(&mut line, &key);
                self.mode = Mode::Command(line);
                Vec::new()
            }
        }
    }

    fn filter_key(&mut self, mut line: Line, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.filter = Filter::default();
                Vec::new()
            }
            KeyCode::Enter => {
                self.filter = Filter::parse(line.text());
                Vec::new()
            }
            _ => {
                Self::edit(&mut line, &key);
                // Filter as you type.
                self.filter = Filter::parse(line.text());
                self.mode = Mode::Filter(line);
                Vec::new()
            }
        }
    }

    /// Parses and runs a `:` command line.
    pub fn command_line(&mut self, text: &str) -> Vec<Effect> {
        let text = text.trim().trim_start_matches(':');
        let Some((name, rest)) = text
            .split_once(' ')
            .or_else(|| (!text.is_empty()).then_some((text, "")))
        else {
            return Vec::new();
        };
        let Some(spec) = commands::find(name) else {
            self.complain(format!("{}: {name}", self.t(T::UnknownCommand)));
            return Vec::new();
        };
        if !self.offers(spec) {
            self.refuse_elsewhere(spec);
            return Vec::new();
        }
        let mut args = Vec::new();
        let mut rest = rest.trim();
        for arg in spec.args {
            if rest.is_empty() {
                break;
            }
            match arg.kind {
                ArgKind::Rest => {
                    args.push(rest.to_owned());
                    rest = "";
                }
                ArgKind::Incident | ArgKind::Word => {
                    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                    args.push(word.to_owned());
                    rest = tail.trim();
                }
            }
        }
        let mut pending = Pending::new(spec, args);
        if spec
            .args
            .first()
            .is_some_and(|a| a.kind == ArgKind::Incident)
        {
            pending.target = pending
                .args
                .first()
                .and_then(|n| self.find_incident(n))
                .map(Target::of);
            // A short number names the incident it found, in full.
            if let Some(target) = &pending.target {
                pending.args[0] = target.number.clone();
            }
        }
        self.continue_command(pending)
    }

    fn live(&mut self) -> bool {
        if self.link == Link::Live {
            return true;
        }
        self.complain(self.t(T::NotConnected));
        false
    }

    /// The assignee a command names: `post:x`, `unit:y`, an id, or a fuzzy
    /// name; without one, the incident's active lead.
    fn assignee(&self, incident: &str, named: Option<&str>) -> Option<pb::Assignee> {
        match named {
            Some(text) => {
                let candidates = form::assignee_candidates(&self.model);
                let key = if text.contains(':') {
                    Some(text.to_owned())
                } else {
                    rank(text, &candidates).first().map(|c| c.value.clone())
                };
                key.and_then(|k| crate::cli::incident::parse_assignee(&k).ok())
            }
            None => {
                let incident = self.find_incident(incident)?;
                incident
                    .assignments
                    .iter()
                    .find(|a| {
                        a.role == pb::AssignmentRole::Lead as i32
                            && matches!(
                                pb::AssignmentState::try_from(a.state),
                                Ok(pb::AssignmentState::Dispatched
                                    | pb::AssignmentState::SignedFor
                                    | pb::AssignmentState::OnScene)
                            )
                    })
                    .and_then(|a| a.assignee.clone())
            }
        }
    }

    /// An incident by full or short number.
    pub fn find_incident(&self, text: &str) -> Option<&pb::Incident> {
        self.model.by_number(text).or_else(|| {
            let digits = text.trim_start_matches('0');
            self.model.incidents.values().find(|i| {
                i.number
                    .split_once('-')
                    .is_some_and(|(_, n)| n.trim_start_matches('0') == digits)
            })
        })
    }

    /// Runs a command whose arguments are all in: its registry entry
    /// carries the handler.
    fn execute(&mut self, pending: &Pending) -> Vec<Effect> {
        (pending.spec.run)(self, pending)
    }

    /// `A` / `:ack`: every alarm of the target incident, one alarm by
    /// `#id`, or every alarm (`all`, after a confirmation). Never an alarm
    /// of another incident than the one named.
    fn acknowledge(&mut self, pending: &Pending) -> Vec<Effect> {
        let word = pending.args.first().map(|a| a.trim()).unwrap_or_default();
        let ids: Vec<u64> = if word == "all" || word == "全部" {
            if pending.confirmed == 0 {
                let mut asking = pending.clone();
                asking.target = None;
                self.mode = Mode::Confirm(Box::new(asking));
                return Vec::new();
            }
            let local: Vec<String> = self
                .attention
                .iter()
                .filter(|i| !matches!(i.kind, attention::Kind::Alarm(_)))
                .map(|i| i.key.clone())
                .collect();
            self.seen.extend(local);
            self.model.alarms.keys().copied().collect()
        } else if word.is_empty()
            && let Some(focus) = self.attention_focus.take().filter(|key| {
                self.attention
                    .iter()
                    .any(|i| i.key == *key && i.incident.is_none())
            })
        {
            // The item `!` jumped to, when it is not about an incident.
            match self.attention.iter().find(|i| i.key == focus) {
                Some(attention::Item {
                    kind: attention::Kind::Alarm(id),
                    ..
                }) => vec![*id],
                Some(item) => {
                    self.say(format!("{} ✓", item.what));
                    self.seen.insert(focus);
                    return Vec::new();
                }
                None => Vec::new(),
            }
        } else if let Ok(id) = word.trim_start_matches('#').parse::<u64>() {
            if !self.model.alarms.contains_key(&id) {
                self.complain(format!("{} #{id}", self.t(T::NoSuchAlarm)));
                return Vec::new();
            }
            vec![id]
        } else {
            let number = match (&pending.target, word) {
                (_, w) if !w.is_empty() => self.find_incident(w).map(|i| i.number.clone()),
                (Some(target), _) => Some(target.number.clone()),
                (None, _) => None,
            };
            let Some(number) = number else {
                self.complain(self.t(T::NoSelection));
                return Vec::new();
            };
            let ids: Vec<u64> = self
                .model
                .alarms
                .values()
                .filter(|a| a.incident == number)
                .map(|a| a.id)
                .collect();
            // The incident's other items (send-backs) are acknowledged here.
            let local: Vec<String> = self
                .attention
                .iter()
                .filter(|i| {
                    i.incident.as_deref() == Some(number.as_str())
                        && !matches!(i.kind, attention::Kind::Alarm(_))
                })
                .map(|i| i.key.clone())
                .collect();
            if !local.is_empty() {
                self.seen.extend(local);
                if ids.is_empty() {
                    self.say(format!("{number} ✓"));
                    return Vec::new();
                }
            }
            if ids.is_empty() {
                self.say(format!("{}: {number}", self.t(T::NoAlarmHere)));
                return Vec::new();
            }
            ids
        };
        if !self.live() {
            return Vec::new();
        }
        ids.into_iter()
            .map(|id| {
                Effect::Rpc(Rpc::Ack(pb::AcknowledgeAlarmRequest {
                    request_id: String::new(),
                    id,
                    note: String::new(),
                }))
            })
            .collect()
    }

    /// One call-in request per unit: queued at a post, sent at the centre.
    fn call_in(&mut self, number: &str, units: &[String]) -> Vec<Effect> {
        if !self.post_mode && !self.live() {
            return Vec::new();
        }
        let names: Vec<String> = units.iter().map(|u| self.display_name(u)).collect();
        let effects: Vec<Effect> = units
            .iter()
            .map(|unit| {
                let request = pb::CallInRequest {
                    incident: number.to_owned(),
                    units: vec![unit.trim_start_matches("unit:").to_owned()],
                    ..Default::default()
                };
                if self.post_mode {
                    Effect::Queue(Rpc::CallIn(request))
                } else {
                    Effect::Rpc(Rpc::CallIn(request))
                }
            })
            .collect();
        let verb = if self.post_mode {
            self.t(T::Recording)
        } else {
            "…"
        };
        self.say(format!(
            "{} {number}: {} — {verb}",
            self.t(T::CallIn),
            names.join("、")
        ));
        effects
    }

    /// Selects the next item that needs the officer (after the one last
    /// jumped to): its incident on the board, or the item on the bottom line.
    fn next_attention(&mut self) {
        if self.attention.is_empty() {
            self.attention_focus = None;
            self.say(self.t(T::NothingWaiting));
            return;
        }
        let after = self
            .attention_focus
            .as_ref()
            .and_then(|key| self.attention.iter().position(|i| i.key == *key));
        let index = after.map_or(0, |i| (i + 1) % self.attention.len());
        let item = self.attention[index].clone();
        self.attention_focus = Some(item.key.clone());
        if let Some(number) = &item.incident
            && let Some(id) = self.model.by_number(number).map(|i| i.id)
        {
            if !self.board.contains(&id) {
                // Filtered out: show the whole board again.
                self.filter = Filter::default();
                self.rebuild();
            }
            self.selected = Some(id);
            if self.width < 120 {
                self.panel = Panel::Detail;
            }
        }
        let since = item.since.map_or_else(
            || self.t(T::Never).to_owned(),
            |at| urgency::age(at, self.now),
        );
        let mut text = format!(
            "[{}/{}] {}{} · {since}",
            index + 1,
            self.attention.len(),
            item.incident
                .as_ref()
                .map(|n| format!("{n} "))
                .unwrap_or_default(),
            item.what
        );
        if !item.who.is_empty() {
            text.push_str(&format!(" · {}", item.who));
        }
        text.push_str(&format!(" · {}", self.t(T::AckHint)));
        self.complain(text);
    }

    /// A post's action as a request; its own assignment is meant, so none
    /// is named.
    fn post_action(&mut self, pending: &Pending) -> Option<Rpc> {
        let args = &pending.args;
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let number = arg(0);
        let step = |note: String| pb::AssignmentActionRequest {
            incident: number.clone(),
            note,
            ..Default::default()
        };
        Some(match pending.spec.name {
            "sign" => Rpc::Sign(step(String::new())),
            "arrive" => Rpc::Arrive(step(String::new())),
            "finish" => Rpc::Finish(step(arg(1))),
            "refuse" => Rpc::Refuse(pb::RefuseRequest {
                incident: number.clone(),
                reason: arg(1),
                ..Default::default()
            }),
            "note" => Rpc::Note(pb::AddNoteRequest {
                incident: number.clone(),
                text: arg(1),
                ..Default::default()
            }),
            "resolve" => Rpc::Resolve(pb::ResolveRequest {
                incident: number.clone(),
                outcome: arg(1),
                ..Default::default()
            }),
            "answer" => {
                let own = self.own.clone().unwrap_or_default();
                let id = match arg(0).trim_start_matches('#').parse::<u64>() {
                    Ok(id) => Some(id),
                    Err(_) => self
                        .model
                        .rollcalls
                        .values()
                        .find(|r| crate::tui::model::waits_for(r, &own))
                        .map(|r| r.id),
                };
                let Some(id) = id else {
                    self.say(self.t(T::NoRollCall));
                    return None;
                };
                Rpc::Answer(pb::AnswerRollCallRequest {
                    id,
                    ..Default::default()
                })
            }
            _ => return None,
        })
    }

    /// Enter sends the previewed call (only with a lead post); `y` sends it
    /// without one; Esc goes back to the line to correct it.
    fn preview_key(&mut self, preview: CallPreview, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Command(Line::with(&preview.line));
                Vec::new()
            }
            KeyCode::Enter if preview.lead.is_none() => {
                self.complain(self.t(T::NoLeadAsk));
                self.mode = Mode::CallPreview(Box::new(preview));
                Vec::new()
            }
            KeyCode::Enter | KeyCode::Char('y') => {
                if !self.live() {
                    self.mode = Mode::CallPreview(Box::new(preview));
                    return Vec::new();
                }
                let mut request = preview.request;
                self.submitted += 1;
                request.request_id =
                    format!("call-{}-{}", self.now.as_millisecond(), self.submitted);
                vec![Effect::Rpc(Rpc::Create(request))]
            }
            _ => {
                self.mode = Mode::CallPreview(Box::new(preview));
                Vec::new()
            }
        }
    }

    /// `:call CATEGORY SEVERITY PLACE SUMMARY… [PHONE]`, as understood.
    fn call(&self, args: &[String]) -> Result<CallPreview, String> {
        let [category, severity, place, summary] = args else {
            return Err(format!(
                "call: {}",
                commands::find("call").map_or(String::new(), |s| s.usage())
            ));
        };
        let categories = form::category_candidates(&self.model);
        let category_match = form::best(category, &categories);
        let category = category_match
            .value
            .clone()
            .ok_or_else(|| format!("{} ?: {category}", self.t(T::Category)))?;
        let severity = form::severity(severity)
            .ok_or_else(|| format!("{}: {severity}", self.t(T::Severity)))?;
        let places = form::place_candidates(&self.model);
        let place_match = form::best(place, &places);
        let place_id = place_match.value.clone();
        let mut summary = summary.clone();
        let mut phone = String::new();
        if let Some((head, last)) = summary.rsplit_once(' ')
            && last.len() >= 7
            && last.chars().all(|c| c.is_ascii_digit())
        {
            phone = last.to_owned();
            summary = head.trim().to_owned();
        }
        let address = place_id
            .as_ref()
            .and_then(|id| self.model.places.get(id))
            .map_or(place.clone(), |p| p.name.clone());
        let intake = pb::IncidentIntake {
            source: pb::SourceChannel::Police110 as i32,
            caller_name: String::new(),
            caller_phone: phone,
            address,
            place_id: place_id.clone().unwrap_or_default(),
            category: category.clone(),
            severity: severity as i32,
            summary,
            tags: Vec::new(),
        };
        let dispatch = form::suggest(&self.model, Some(&category), place_id.as_deref());
        Ok(CallPreview {
            line: format!("call {}", args.join(" ")),
            request: form::request(intake, &dispatch),
            category: category_match,
            place: place_match,
            lead: dispatch.lead,
        })
    }

    fn scroll_detail(&mut self, how: &str) {
        let page = self.page_rows.max(1);
        self.detail_scroll = match how {
            "down" => self.detail_scroll + 1,
            "up" => self.detail_scroll.saturating_sub(1),
            "page-down" => self.detail_scroll + page,
            "page-up" => self.detail_scroll.saturating_sub(page),
            "top" => 0,
            // The view clamps to the last page.
            _ => usize::MAX / 2,
        };
    }

    fn navigate(&mut self, how: &str) {
        let Some(position) = self
            .selected
            .and_then(|id| self.board.iter().position(|b| *b == id))
        else {
            self.selected = self.board.first().copied();
            return;
        };
        let last = self.board.len().saturating_sub(1);
        let page = self.page_rows.max(1);
        let next = match how {
            "down" => (position + 1).min(last),
            "up" => position.saturating_sub(1),
            "top" => 0,
            "bottom" => last,
            "page-down" => (position + page).min(last),
            "page-up" => position.saturating_sub(page),
            _ => position,
        };
        self.selected = self.board.get(next).copied();
    }

    fn view(&mut self, which: &str, save: Option<&str>) {
        if which == "save" {
            if let Some(slot) = save.and_then(|s| s.parse::<u8>().ok()) {
                self.views.insert(slot, self.filter.clone());
                self.say(format!("{} {slot}", self.t(T::View)));
            }
            return;
        }
        let Ok(slot) = which.parse::<u8>() else {
            return;
        };
        self.filter = match slot {
            0 => Filter::default(),
            1 => Filter::parse("open"),
            2 => Filter::parse("unsigned"),
            3 => Filter::parse("status:on-scene"),
            4 => Filter::parse("overdue"),
            5 => {
                // Everything waiting, with the queue beside (or instead of)
                // the board: items without an incident show there.
                self.panel = Panel::Alarms;
                Filter::parse("alarmed")
            }
            6 => Filter::parse("emergency"),
            n => self.views.get(&n).cloned().unwrap_or_default(),
        };
        if !self.filter.is_empty() {
            self.say(format!("{}: {}", self.t(T::Filter), self.filter.text));
        }
    }

    fn form_key(&mut self, mut form: IntakeForm, key: KeyEvent) -> Vec<Effect> {
        form.problem = None;
        form.problem_field = None;
        let before = form.draft();
        let last = form::FIELDS.len() - 1;
        match key.code {
            KeyCode::Esc if form.editing.is_some() && form.opened_as == Some(form.draft()) => {
                return Vec::new();
            }
            KeyCode::Esc if form.is_empty() => return vec![Effect::SaveDraft(None)],
            KeyCode::Esc => {
                self.mode = Mode::Leave(Box::new(Mode::Form(Box::new(form))), Leave::Discard);
                return Vec::new();
            }
            KeyCode::Tab => form.focus = (form.focus + 1).min(last),
            KeyCode::BackTab => form.focus = form.focus.saturating_sub(1),
            KeyCode::Down | KeyCode::Up => {
                let down = key.code == KeyCode::Down;
                let step = |n: usize| if down { n + 1 } else { n.saturating_sub(1) };
                match form.field() {
                    Field::Category => form.category_choice = step(form.category_choice),
                    Field::Place => form.place_choice = step(form.place_choice),
                    _ => {
                        form.focus = if down {
                            (form.focus + 1).min(last)
                        } else {
                            form.focus.saturating_sub(1)
                        }
                    }
                }
            }
            KeyCode::Left | KeyCode::Right if form.field() == Field::Source => {
                let n = form::SOURCES.len();
                form.source = if key.code == KeyCode::Right {
                    (form.source + 1) % n
                } else {
                    (form.source + n - 1) % n
                };
            }
            KeyCode::Enter => {
                if !self.live() {
                    self.mode = Mode::Form(Box::new(form));
                    return Vec::new();
                }
                if form.editing.is_some() {
                    match form.build_update(&self.model) {
                        Ok(request) => return vec![Effect::Rpc(Rpc::Update(request))],
                        Err(problem) => {
                            let field = form.field();
                            form.refuse(field, format!("{}: {problem}", self.t(T::Missing)));
                        }
                    }
                    self.mode = Mode::Form(Box::new(form));
                    return Vec::new();
                }
                match form.build(&self.model) {
                    Ok(mut request) => {
                        // The officer moves on at once; the form is kept
                        // (and its draft on disk) until dutyd records it.
                        self.submitted += 1;
                        let id = format!("intake-{}-{}", self.now.as_millisecond(), self.submitted);
                        request.request_id = id.clone();
                        self.sent_form = Some((id, Box::new(form)));
                        return vec![Effect::Rpc(Rpc::Create(request))];
                    }
                    Err(missing) => {
                        let field = match missing {
                            "category" => Field::Category,
                            "severity" => Field::Severity,
                            "place" => Field::Place,
                            _ => Field::Summary,
                        };
                        form.refuse(field, format!("{}: {missing}", self.t(T::Missing)));
                    }
                }
            }
            _ => {
                if Self::edit(form.line(), &key) {
                    match form.field() {
                        Field::Category => form.category_choice = 0,
                        Field::Place => form.place_choice = 0,
                        _ => {}
                    }
                }
            }
        }
        let draft = form.draft();
        // A correction is not a call: it never replaces the call's draft.
        let editing = form.editing.is_some();
        self.mode = Mode::Form(Box::new(form));
        if draft != before && !editing {
            vec![Effect::SaveDraft(Some(draft))]
        } else {
            Vec::new()
        }
    }

    /// Pasted text goes into the line being typed in, as one line; with no
    /// line open it is dropped (a paste never runs keys).
    fn paste(&mut self, text: &str) -> Vec<Effect> {
        let text = crate::tui::text::one_line(text);
        let insert = |line: &mut Line| text.chars().for_each(|c| line.insert(c));
        match &mut self.mode {
            Mode::Form(form) if form.field() != Field::Source => {
                insert(form.line());
                match form.field() {
                    Field::Category => form.category_choice = 0,
                    Field::Place => form.place_choice = 0,
                    _ => {}
                }
                if form.editing.is_none() {
                    return vec![Effect::SaveDraft(Some(form.draft()))];
                }
            }
            Mode::Prompt(_, line) | Mode::Command(line) => insert(line),
            Mode::Filter(line) => {
                insert(line);
                self.filter = Filter::parse(line.text());
            }
            Mode::Picker(picker) => {
                insert(&mut picker.query);
                picker.choice = 0;
            }
            _ => self.complain(self.t(T::PasteIgnored)),
        }
        Vec::new()
    }

    /// Reopens the intake form with a draft kept from before a restart.
    pub fn restore_draft(&mut self, draft: &form::Draft) {
        let form = IntakeForm::from_draft(draft);
        if !form.is_empty() {
            self.mode = Mode::Form(Box::new(form));
            self.say(self.t(T::DraftRestored));
        }
    }

    /// The picker's candidates, best first.
    pub fn picker_matches(&self, picker: &Picker) -> Vec<Candidate<String>> {
        let candidates: Vec<Candidate<String>> = form::assignee_candidates(&self.model)
            .into_iter()
            .filter(|c| {
                !picker.call_in
                    || (c.value.starts_with("unit:") && !picker.chosen.contains(&c.value))
            })
            .collect();
        rank(picker.query.text(), &candidates)
            .into_iter()
            .cloned()
            .collect()
    }

    fn picker_key(&mut self, mut picker: Picker, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            // Calling in: Tab adds the highlighted unit, Enter calls in what
            // was added (or the highlighted one).
            KeyCode::Tab if picker.call_in => {
                let matches = self.picker_matches(&picker);
                if let Some(chosen) =
                    matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                {
                    picker.chosen.push(chosen.value.clone());
                    picker.query.clear();
                    picker.choice = 0;
                }
            }
            KeyCode::Enter if picker.call_in => {
                let mut units = picker.chosen.clone();
                if units.is_empty() || !picker.query.text().trim().is_empty() {
                    let matches = self.picker_matches(&picker);
                    if let Some(chosen) =
                        matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                    {
                        units.push(chosen.value.clone());
                    }
                }
                if units.is_empty() {
                    self.mode = Mode::Picker(Box::new(picker));
                    return Vec::new();
                }
                return self.call_in(&picker.incident, &units);
            }
            KeyCode::Tab => picker.support = !picker.support,
            KeyCode::Down => picker.choice += 1,
            KeyCode::Up => picker.choice = picker.choice.saturating_sub(1),
            KeyCode::Enter => {
                let matches = self.picker_matches(&picker);
                if let Some(chosen) =
                    matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                {
                    let role = if picker.support { "support" } else { "lead" };
                    let Some(spec) = commands::find("assign") else {
                        return Vec::new();
                    };
                    let pending = Pending::new(
                        spec,
                        vec![picker.incident.clone(), chosen.value.clone(), role.into()],
                    );
                    return self.execute(&pending);
                }
            }
            _ => {
                if Self::edit(&mut picker.query, &key) {
                    picker.choice = 0;
                }
            }
        }
        self.mode = Mode::Picker(Box::new(picker));
        Vec::new()
    }
}
