//! Limits per token: calls per second with a burst (a token bucket), and
//! concurrent Watch streams. Over a limit is RESOURCE_EXHAUSTED with when to
//! retry, in the message and in `grpc-retry-pushback-ms` (the metadata gRPC
//! retry policies read).
//!
//! The daemon-wide defaults come from the config; a token may carry its own
//! (`duty token create --calls-per-second …`; the bench's tokens carry 0,
//! unlimited). State is in memory: a restart refills every bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tonic::Status;

/// A token's own limits; `None` takes the daemon's default, `Some(0)` is
/// unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLimits {
    /// Calls per second, sustained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_second: Option<u32>,
    /// Calls that may come at once after a quiet spell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_burst: Option<u32>,
    /// Watch streams open at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_streams: Option<u32>,
}

impl TokenLimits {
    /// True when nothing is overridden.
    pub fn is_default(&self) -> bool {
        *self == TokenLimits::default()
    }
}

/// The daemon's defaults (0: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Calls per second per token.
    pub calls_per_second: u32,
    /// Burst per token.
    pub call_burst: u32,
    /// Watch streams per token.
    pub max_streams: u32,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every token's bucket and stream count.
pub struct Limiter {
    defaults: Defaults,
    buckets: Mutex<HashMap<String, Bucket>>,
    streams: Arc<Mutex<HashMap<String, u32>>>,
}

/// Holds one of a token's stream slots; gives it back when dropped.
pub struct StreamSlot {
    streams: Arc<Mutex<HashMap<String, u32>>>,
    token: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(count) = streams.get_mut(&self.token) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                streams.remove(&self.token);
            }
        }
    }
}

fn exhausted(message: String, retry: Duration) -> Status {
    let millis = retry.as_millis().max(1);
    let mut status = Status::resource_exhausted(format!("{message}; retry in {millis} ms"));
    if let Ok(value) = millis.to_string().parse() {
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", value);
    }
    status
}

impl Limiter {
    /// A limiter with `defaults`.
    pub fn new(defaults: Defaults) -> Self {
        Limiter {
            defaults,
            buckets: Mutex::new(HashMap::new()),
            streams: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes one call from `token`'s bucket at `now`, or RESOURCE_EXHAUSTED
    /// saying when the next call would be accepted.
    pub fn call(&self, token: &str, own: TokenLimits, now: Instant) -> Result<(), Status> {
        let rate = own
            .calls_per_second
            .unwrap_or(self.defaults.calls_per_second);
        if rate == 0 {
            return Ok(());
        }
        let burst = f64::from(own.call_burst.unwrap_or(self.defaults.call_burst).max(1));
        let rate = f64::from(rate);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let bucket = buckets.entry(token.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
        Err(exhausted(
            format!(
                "token {token} is over its {rate} calls per second (burst {burst})",
                rate = rate as u64,
                burst = burst as u64
            ),
            wait,
        ))
    }

    /// Opens one of `token`'s Watch streams, or RESOURCE_EXHAUSTED.
    pub fn stream(&self, token: &str, own: TokenLimits) -> Result<StreamSlot, Status> {
        let max = own.max_streams.unwrap_or(self.defaults.max_streams);
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = streams.entry(token.to_owned()).or_insert(0);
        if max > 0 && *count >= max {
            return Err(exhausted(
                format!("token {token} already holds its {max} Watch streams: close one first"),
                Duration::from_secs(1),
            ));
        }
        *count += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            token: token.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(Defaults {
            calls_per_second: 10,
            call_burst: 3,
            max_streams: 2,
        })
    }

    #[test]
    fn a_burst_passes_then_calls_wait_for_the_rate() {
        let limiter = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.call("a", TokenLimits::default(), t0).is_ok());
        }
        let refused = limiter
            .call("a", TokenLimits::default(), t0)
            .expect_err("over the burst");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(
            refused.message().contains("retry in 100 ms"),
            "{}",
            refused.message()
        );
        assert_eq!(
            refused
                .metadata()
                .get("grpc-retry-pushback-ms")
                .and_then(|v| v.to_str().ok()),
            Some("100")
        );
        // Another token has its own bucket; time refills this one.
        assert!(limiter.call("b", TokenLimits::default(), t0).is_ok());
        let later = t0 + Duration::from_millis(100);
        assert!(limiter.call("a", TokenLimits::default(), later).is_ok());
    }

    #[test]
    fn a_token_may_carry_its_own_limits_and_zero_is_unlimited() {
        let limiter = limiter();
        let t0 = Instant::now();
        let unlimited = TokenLimits {
            calls_per_second: Some(0),
            ..TokenLimits::default()
        };
        for _ in 0..1000 {
            assert!(limiter.call("bench", unlimited, t0).is_ok());
        }
    }

    #[test]
    fn streams_are_counted_and_given_back() {
        let limiter = limiter();
        let one = limiter.stream("a", TokenLimits::default()).expect("one");
        let _two = limiter.stream("a", TokenLimits::default()).expect("two");
        assert!(limiter.stream("a", TokenLimits::default()).is_err());
        drop(one);
        assert!(limiter.stream("a", TokenLimits::default()).is_ok());
    }
}
