//! `:at`: the board as it stood at a past moment, read-only, stepped by
//! event (`←`/`→`) or by minute (`,`/`.`), and left with `Esc`.
//!
//! Only the board and the detail show the past; the live model keeps
//! following dutyd underneath, so alarms and new calls still ring and the
//! strip's attention count stays live. Every command that would act is
//! refused while replaying: an officer cannot act on the past by mistake.

use super::*;

/// Commands that only look: allowed during a replay.
const LOOKING: &[&str] = &[
    "down",
    "up",
    "top",
    "bottom",
    "page-down",
    "page-up",
    "open",
    "back",
    "filter",
    "view",
    "panel",
    "command",
    "help",
    "log",
    "report",
    "bell",
    "mute",
    "next",
    "at",
    "refresh",
    "quit",
];

impl App {
    /// `:at 03:00`: asks for the board at that moment.
    pub(super) fn start_replay(&mut self, when: &str) -> Vec<Effect> {
        let when = when.trim();
        if when.is_empty() {
            self.complain(self.t(T::ReplayUsage));
            return Vec::new();
        }
        self.ask_replay(pb::ReplayBoardRequest {
            at: when.to_owned(),
            seq: 0,
        })
    }

    fn ask_replay(&mut self, request: pb::ReplayBoardRequest) -> Vec<Effect> {
        let live_filter = self.filter.clone();
        let replay = self.replay.get_or_insert(Replay {
            asking: None,
            shown: None,
            failed: None,
            queued: 0,
            live_filter,
        });
        replay.asking = Some(request.clone());
        replay.failed = None;
        vec![Effect::Replay(request)]
    }

    /// An answer: shown if it answers the question still asked.
    pub(super) fn replayed(
        &mut self,
        asked: pb::ReplayBoardRequest,
        result: Result<pb::ReplayBoardReply, String>,
    ) -> Vec<Effect> {
        let Some(replay) = self.replay.as_mut() else {
            return Vec::new();
        };
        if replay.asking.as_ref() != Some(&asked) {
            return Vec::new();
        }
        replay.asking = None;
        match result {
            Ok(reply) => {
                let mut then = Model::from_snapshot(Snapshot {
                    head_seq: reply.seq,
                    incidents: reply.incidents.clone(),
                    ..Snapshot::default()
                });
                then.own = self.own.clone();
                // Steps pressed meanwhile go on from here, one at a time.
                let queued = std::mem::take(&mut replay.queued);
                let onward = match queued.signum() {
                    1 => reply.next_seq,
                    -1 => reply.previous_seq,
                    _ => 0,
                };
                replay.shown = Some((reply, then));
                if onward > 0 {
                    replay.queued = queued - queued.signum();
                    let request = pb::ReplayBoardRequest {
                        at: String::new(),
                        seq: onward,
                    };
                    replay.asking = Some(request.clone());
                    self.rebuild();
                    return vec![Effect::Replay(request)];
                }
            }
            // The first question failed: nothing to show, back to live.
            Err(why) if replay.shown.is_none() => {
                self.replay = None;
                self.complain(format!("{}: {why}", self.t(T::ReplayFailed)));
            }
            Err(why) => {
                replay.queued = 0;
                replay.failed = Some(why);
            }
        }
        self.rebuild();
        Vec::new()
    }

    /// Back to the live board.
    pub(super) fn leave_replay(&mut self) {
        // A filter set to look at the past does not stay on the live board.
        if let Some(replay) = self.replay.take() {
            self.filter = replay.live_filter;
        }
        self.say(self.t(T::BackToLive));
        self.rebuild();
    }

    /// A key on the board or in the detail while replaying: the stepping
    /// keys and `Esc` here; `None` lets the key go on to the keymap.
    pub(super) fn replay_key(&mut self, key: &KeyEvent) -> Option<Vec<Effect>> {
        let shown = self.replay.as_ref()?.shown.as_ref().map(|(reply, _)| reply);
        let (previous, next, at, far_back, far_on) = match shown {
            Some(reply) => (
                reply.previous_seq,
                reply.next_seq,
                reply.at,
                reply.previous_beyond,
                reply.next_beyond,
            ),
            None => (0, 0, None, false, false),
        };
        let step = |seq: u64| pb::ReplayBoardRequest {
            at: String::new(),
            seq,
        };
        let minute = |by: i64| {
            at.as_ref().map(|at| pb::ReplayBoardRequest {
                at: urgency::ts(Some(at))
                    .checked_add(jiff::SignedDuration::from_mins(by))
                    .unwrap_or_else(|_| urgency::ts(Some(at)))
                    .to_string(),
                seq: 0,
            })
        };
        // A step pressed while the last is on its way waits for it (a held
        // arrow key is every press, not the first).
        let asking = self.replay.as_ref().is_some_and(|r| r.asking.is_some());
        if asking && matches!(key.code, KeyCode::Left | KeyCode::Right) {
            if let Some(replay) = self.replay.as_mut() {
                replay.queued += if key.code == KeyCode::Right { 1 } else { -1 };
            }
            return Some(Vec::new());
        }
        let ask = match key.code {
            KeyCode::Esc if matches!(self.mode, Mode::Board) => {
                self.leave_replay();
                return Some(Vec::new());
            }
            KeyCode::Left => (previous > 0).then(|| step(previous)),
            KeyCode::Right => (next > 0).then(|| step(next)),
            KeyCode::Char(',' | '<') => minute(-1),
            KeyCode::Char('.' | '>') => {
                // A minute on past now is the live board.
                let later = minute(1);
                if later
                    .as_ref()
                    .and_then(|r| r.at.parse::<Timestamp>().ok())
                    .is_some_and(|t| t > self.now)
                {
                    self.say(self.t(T::ReplayAtLatest));
                    return Some(Vec::new());
                }
                later
            }
            _ => return None,
        };
        match ask {
            Some(request) => Some(self.ask_replay(request)),
            None => {
                let edge = match key.code {
                    // Its events are further away than a step looks.
                    KeyCode::Left if far_back => T::ReplayStepFar,
                    KeyCode::Right if far_on => T::ReplayStepFar,
                    KeyCode::Left => T::ReplayAtEarliest,
                    _ => T::ReplayAtLatest,
                };
                self.say(self.t(edge));
                Some(Vec::new())
            }
        }
    }

    /// May `command` run now: anything while live; only looking during a
    /// replay (says why otherwise).
    pub(super) fn replay_allows(&mut self, command: &str) -> bool {
        if self.replay.is_none() || LOOKING.contains(&command) {
            return true;
        }
        self.complain(self.t(T::ReplayReadOnly));
        false
    }
}
