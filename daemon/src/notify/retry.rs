//! When to try a failed notification again: exponential back-off with
//! jitter, so that a gateway coming back is not hit by every waiting message
//! at once, for as long as the gateway's `retry_for` allows.

use std::time::Duration;

/// The back-off of one gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (before jitter).
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Give up this long after the first attempt.
    pub retry_for: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(2),
            cap: Duration::from_secs(5 * 60),
            retry_for: Duration::from_secs(60 * 60),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1 for the first): doubling
    /// from `first` up to `cap`, then "equal jitter" — half of it fixed, the
    /// other half drawn from `random` — so that waits never collapse to
    /// nothing and retries spread out.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let base = self
            .first
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.cap);
        let half = base / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            random % (spread + 1)
        };
        half + Duration::from_millis(extra)
    }

    /// Whether to try again at `elapsed` since the first attempt (the next
    /// attempt must start before `retry_for` is over).
    pub fn gives_up(&self, elapsed: Duration, next_delay: Duration) -> bool {
        elapsed.saturating_add(next_delay) > self.retry_for
    }
}

/// A random number for jitter (falls back to the clock if the system's
/// source fails: jitter needs spread, not secrecy).
pub fn jitter_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_with_half_of_each_random() {
        let backoff = Backoff::default();
        for (attempt, base) in [(1, 2), (2, 4), (3, 8), (4, 16), (9, 300), (40, 300)] {
            let base = Duration::from_secs(base);
            let least = backoff.delay(attempt, 0);
            let most = backoff.delay(attempt, u64::MAX - 1);
            assert_eq!(least, base / 2, "attempt {attempt}");
            assert!(
                most <= base && most >= base / 2,
                "attempt {attempt}: {most:?}"
            );
        }
        // Different draws spread out.
        let draws: std::collections::BTreeSet<Duration> =
            (0..50).map(|n| backoff.delay(5, n * 7_919)).collect();
        assert!(draws.len() > 40, "{}", draws.len());
    }

    #[test]
    fn it_gives_up_once_the_next_try_would_be_too_late() {
        let backoff = Backoff {
            retry_for: Duration::from_secs(120),
            ..Backoff::default()
        };
        assert!(!backoff.gives_up(Duration::from_secs(100), Duration::from_secs(20)));
        assert!(backoff.gives_up(Duration::from_secs(100), Duration::from_secs(21)));
    }
}
