//! Where "now" comes from. Domain code takes `now` as an argument; the engine
//! asks a [`Clock`], so tests can run in fixed or virtual time.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
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

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner()) = at;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}
