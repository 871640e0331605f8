//! # The duty console
//!
//! What a night-duty officer looks at for twelve hours. State → view:
//!
//! - [`model`]: what the console knows, kept current by Watch events (pure).
//! - [`urgency`]: countdowns, colours, the board's order, the strip (pure).
//! - [`app`]: the state machine: keys and server events in, effects out.
//! - [`commands`]: the one registry behind hotkeys, `:` and help.
//! - [`form`], [`line`], [`fuzzy`], [`text`], [`i18n`]: intake, editing,
//!   pinyin-aware fuzzy picking, CJK-safe widths, the text catalogue.
//! - [`views`]: rendering, a pure function of the app.
//! - [`net`]: the link to dutyd and the action executor (tasks).
//!
//! The loop ([`drive`]) is generic over the terminal backend and fed by a
//! channel, so tests run it on a `TestBackend` with scripted keys.

pub mod app;
pub mod attention;
pub mod commands;
pub mod form;
pub mod fuzzy;
pub mod i18n;
pub mod line;
pub mod model;
pub mod net;
pub mod refusal;
pub mod text;
pub mod urgency;
pub mod views;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{Notify, mpsc};

use crate::client::Client;
use app::{App, AppEvent, Effect};
use views::Theme;

/// How the console starts.
pub struct Options {
    /// dutyd's address.
    pub addr: String,
    /// Bearer token.
    pub token: Option<String>,
    /// Language.
    pub lang: i18n::Lang,
    /// Key overrides.
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    /// Ring the bell.
    pub bell: bool,
    /// Ring again this often while anything waits (0: once).
    pub bell_repeat_secs: u64,
    /// Where the post's outbox lives (`<data>/outbox/<token id>`).
    pub outbox: Option<std::path::PathBuf>,
    /// Opened as a post's console (`duty post`).
    pub post: bool,
    /// Where the unsent intake form is kept (`<data>/drafts/<token id>`).
    pub draft: Option<std::path::PathBuf>,
}

/// Runs effects: RPCs in tasks, reloads and the bell at once.
pub struct Effects {
    client: Client,
    events: mpsc::UnboundedSender<AppEvent>,
    reload: Arc<Notify>,
    /// How many times the bell rang (tests look).
    pub rings: usize,
    ring: bool,
    lang: i18n::Lang,
    outbox_dir: Option<std::path::PathBuf>,
    outbox: Option<net::OutboxLink>,
    drafts: Option<DraftKeeper>,
}

/// Keeps the intake draft on disk from a task of its own: the render loop
/// only hands over the latest text, and a burst of keys becomes one write.
struct DraftKeeper {
    latest: Arc<std::sync::Mutex<Option<Option<form::Draft>>>>,
    wake: Arc<Notify>,
}

impl DraftKeeper {
    fn start(path: std::path::PathBuf, events: mpsc::UnboundedSender<AppEvent>) -> DraftKeeper {
        let latest: Arc<std::sync::Mutex<Option<Option<form::Draft>>>> = Arc::default();
        let wake = Arc::new(Notify::new());
        tokio::spawn({
            let latest = latest.clone();
            let wake = wake.clone();
            async move {
                loop {
                    wake.notified().await;
                    let next = latest.lock().ok().and_then(|mut l| l.take());
                    let Some(draft) = next else { continue };
                    let path = path.clone();
                    let written = tokio::task::spawn_blocking(move || save_draft(&path, draft))
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))
                        .and_then(|r| r);
                    if let Err(error) = written {
                        let _ = events.send(AppEvent::Done(Err(format!(
                            "intake draft not saved: {error}"
                        ))));
                    }
                }
            }
        });
        DraftKeeper { latest, wake }
    }

    fn keep(&self, draft: Option<form::Draft>) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(draft);
        }
        self.wake.notify_one();
    }
}

/// Writes (or, for `None`, removes) the draft: temp file then rename, so a
/// crash mid-write leaves the previous draft whole.
fn save_draft(path: &std::path::Path, draft: Option<form::Draft>) -> std::io::Result<()> {
    let Some(draft) = draft else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec(&draft).map_err(std::io::Error::other)?;
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

/// The draft left by a console that stopped before sending its call.
pub fn load_draft(path: &std::path::Path) -> Option<form::Draft> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Effects {
    /// Effects over `client`, reporting into `events` in `lang`; `ring`
    /// writes the bell to the terminal.
    pub fn new(
        client: Client,
        events: mpsc::UnboundedSender<AppEvent>,
        reload: Arc<Notify>,
        ring: bool,
        lang: i18n::Lang,
    ) -> Self {
        Effects {
            client,
            events,
            reload,
            rings: 0,
            ring,
            lang,
            outbox_dir: None,
            outbox: None,
            drafts: None,
        }
    }

    /// Keeps the unsent intake form at `path` as it is typed.
    pub fn with_drafts(mut self, path: std::path::PathBuf) -> Self {
        self.drafts = Some(DraftKeeper::start(path, self.events.clone()));
        self
    }

    /// Keeps a post's actions in the outbox in `dir`; if it holds actions
    /// from before, starts sending them now.
    pub fn with_outbox(mut self, dir: std::path::PathBuf) -> Self {
        if dir.join("pending").is_dir() {
            self.outbox = self.open_outbox(&dir);
        }
        self.outbox_dir = Some(dir);
        self
    }

    fn open_outbox(&self, dir: &std::path::Path) -> Option<net::OutboxLink> {
        match net::OutboxLink::start(dir, self.client.clone(), self.events.clone(), self.lang) {
            Ok(link) => Some(link),
            Err(error) => {
                let _ = self.events.send(AppEvent::Done(Err(error.to_string())));
                None
            }
        }
    }

    /// Starts one effect; never blocks.
    pub fn run(&mut self, effect: Effect) {
        match effect {
            Effect::Bell => {
                self.rings += 1;
                if self.ring {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07");
                    let _ = out.flush();
                }
            }
            Effect::Reload => self.reload.notify_one(),
            Effect::Queue(rpc) => {
                let Some(action) = rpc.into_action() else {
                    return;
                };
                if self.outbox.is_none() {
                    let Some(dir) = self.outbox_dir.clone() else {
                        let _ = self.events.send(AppEvent::Done(Err(
                            "no outbox directory: start the post console with `duty post`".into(),
                        )));
                        return;
                    };
                    self.outbox = self.open_outbox(&dir);
                }
                if let Some(outbox) = &self.outbox {
                    outbox.record(action);
                }
            }
            Effect::DismissFailed => {
                if let Some(outbox) = &self.outbox {
                    match outbox.dismiss_failed() {
                        Ok(_) => outbox.report(),
                        Err(error) => {
                            let _ = self.events.send(AppEvent::Done(Err(error.to_string())));
                        }
                    }
                }
            }
            Effect::Quit => {}
            Effect::SaveDraft(draft) => {
                if let Some(drafts) = &self.drafts {
                    drafts.keep(draft);
                }
            }
            other => {
                tokio::spawn(net::execute(
                    self.client.clone(),
                    other,
                    self.events.clone(),
                    self.lang,
                ));
            }
        }
    }
}

/// The loop: draw, wait for the next event, update, run effects; repeat
/// until the app quits or the events end. Events that queued up while
/// drawing are all applied before the next frame.
pub async fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    theme: &Theme,
    events: &mut mpsc::UnboundedReceiver<AppEvent>,
    effects: &mut Effects,
) -> Result<(), B::Error> {
    loop {
        let size = terminal.size()?;
        app.page_rows = usize::from(size.height.saturating_sub(6)).max(1);
        app.width = size.width;
        terminal.draw(|frame| views::render(app, theme, frame))?;
        let Some(event) = events.recv().await else {
            return Ok(());
        };
        for effect in app.update(event) {
            effects.run(effect);
        }
        while let Ok(event) = events.try_recv() {
            for effect in app.update(event) {
                effects.run(effect);
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// Starts the console on the real terminal and runs it until quit.
pub async fn run(options: Options) -> Result<(), crate::cli::CliError> {
    use crate::cli::CliError;
    let keymap =
        commands::Keymap::new(&options.keys).map_err(|e| CliError::Usage(e.to_string()))?;
    let client = Client::lazy(&options.addr, options.token.as_deref())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reload = Arc::new(Notify::new());
    let link = tokio::spawn(net::link(client.clone(), tx.clone(), reload.clone()));
    let heartbeats = tokio::spawn(net::heartbeats(client.clone()));
    let ticks = tokio::spawn({
        let tx = tx.clone();
        async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                if tx.send(AppEvent::Tick(jiff::Timestamp::now())).is_err() {
                    return;
                }
            }
        }
    });
    // Input on a thread of its own with crossterm's blocking reader: it
    // reads until the terminal has nothing left, so a long paste (and the
    // Enter after it) arrives whole, not 1 KiB per wake-up as with the
    // async event stream.
    let keys = {
        let tx = tx.clone();
        std::thread::spawn(move || read_input(&tx))
    };
    let mut app = App::new(options.lang, keymap, jiff::Timestamp::now());
    app.bell = options.bell;
    app.bell_every = jiff::SignedDuration::from_secs(match options.bell_repeat_secs {
        // "Once": a repeat so far off it never comes in a shift.
        0 => 365 * 24 * 3600,
        secs => secs.clamp(5, 3600) as i64,
    });
    app.post_mode = options.post;
    let theme = Theme::from_env();
    let mut effects = Effects::new(client, tx, reload, true, options.lang);
    if let Some(dir) = options.outbox {
        effects = effects.with_outbox(dir);
    }
    if let Some(path) = options.draft {
        if let Some(draft) = load_draft(&path) {
            app.restore_draft(&draft);
        }
        effects = effects.with_drafts(path);
    }
    let mut terminal = ratatui::try_init()?;
    // Pastes arrive as one event, never as keys (an address with a line
    // break must not submit the form).
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
        restore(info);
    }));
    let result = drive(&mut terminal, &mut app, &theme, &mut rx, &mut effects).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    link.abort();
    heartbeats.abort();
    ticks.abort();
    drop(rx);
    // The reader notices the closed channel within one poll interval.
    let _ = keys.join();
    result.map_err(CliError::Io)
}

/// Reads terminal input until the console's channel closes.
fn read_input(tx: &mpsc::UnboundedSender<AppEvent>) {
    use crossterm::event::{self, Event};
    while !tx.is_closed() {
        match event::poll(Duration::from_millis(200)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return,
        }
        let event = match event::read() {
            Ok(Event::Key(key)) => AppEvent::Key(key),
            Ok(Event::Paste(text)) => AppEvent::Paste(text),
            Ok(Event::Resize(w, h)) => AppEvent::Resize(w, h),
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
