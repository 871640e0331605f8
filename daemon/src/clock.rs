//! Where "now" comes from. Domain code takes `now` as an argument; the engine
//! asks a [`Clock`], so tests can run in fixed or virtual time.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// For clocks that jump (tests): a receiver that changes whenever the
    /// time is moved, so sleepers re-check. The wall clock has none.
    fn ticks(&self) -> Option<tokio::sync::watch::Receiver<Timestamp>> {
        None
    }
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Tokio's clock anchored to a wall time: under `tokio::time::pause` it moves
/// only when the test advances it, so clocks and deadlines run in virtual time.
#[derive(Debug)]
pub struct TokioClock {
    anchor: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at `anchor` now.
    pub fn new(anchor: Timestamp) -> Self {
        TokioClock {
            anchor,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        self.anchor.saturating_add(elapsed).unwrap_or(self.anchor)
    }
}

/// A clock that only moves when told to: virtual time for tests. Every move
/// wakes whoever waits on [`Clock::ticks`] (the escalation timer).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    ticks: tokio::sync::watch::Sender<Timestamp>,
}

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock {
            now: Mutex::new(at),
            ticks: tokio::sync::watch::Sender::new(at),
        }
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner()) = at;
        self.ticks.send_replace(at);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: SignedDuration) {
        let next = {
            let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
            *now = now.saturating_add(by).unwrap_or(*now);
            *now
        };
        self.ticks.send_replace(next);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn ticks(&self) -> Option<tokio::sync::watch::Receiver<Timestamp>> {
        Some(self.ticks.subscribe())
    }
}
