//! A gateway: where the centre's texts or calls are handed over, by a signed
//! POST to its URL. Added, listed and removed by an administrator; its
//! secret is kept in the state only — never in a journal record, a listing
//! or an answer.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::retry::Backoff;
use super::webhook::Channel;
use crate::error::{Error, Result};
use crate::validate;

/// Most notifications one gateway is sent at once when not told otherwise.
pub const DEFAULT_IN_FLIGHT: u32 = 4;
/// Most a gateway may be given at once.
pub const MAX_IN_FLIGHT: u32 = 64;
/// How long one POST may take when not told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a notification is retried when not told otherwise.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60 * 60);
/// Failed attempts in a row after which a gateway is reported failing.
pub const FAILING_AFTER: u32 = 3;
/// Shortest secret accepted (bytes): an HMAC key must not be guessable.
pub const MIN_SECRET: usize = 16;
/// Longest secret accepted (bytes).
pub const MAX_SECRET: usize = 512;
/// Longest URL accepted.
const MAX_URL: usize = 2048;
/// Largest CA bundle accepted (bytes of PEM).
const MAX_CA: usize = 64 * 1024;

/// A gateway's secret: shown as `***` by `{:?}`, so that no log or error
/// message carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A gateway, as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gateway {
    /// Short id, e.g. `sms-main`.
    pub id: String,
    /// Where to POST (`https://…`; `http://` for a gateway on the same
    /// host or a test).
    pub url: String,
    /// What it sends.
    pub channels: Vec<Channel>,
    /// Most notifications in flight to it at once.
    pub max_in_flight: u32,
    /// One POST's time limit, in milliseconds.
    pub timeout_ms: u64,
    /// How long one notification is retried, in seconds.
    pub retry_for_secs: u64,
    /// The CA (PEM) an `https://` gateway's certificate chains to, when not
    /// to one of the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Since when it has been failing (after [`FAILING_AFTER`] failed
    /// attempts in a row): an attention item at the centre until a message
    /// gets through again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    /// What its failing attempts got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_error: Option<String>,
    /// When it was added.
    pub added_at: Timestamp,
    /// Who added it.
    pub added_by: String,
}

impl Gateway {
    /// One POST's time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Its retry schedule.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            retry_for: Duration::from_secs(self.retry_for_secs),
            ..Backoff::default()
        }
    }

    /// Checks what an administrator gave, with messages they can act on.
    pub fn validate(&self) -> Result<()> {
        validate::slug("id", &self.id)?;
        check_url(&self.url)?;
        if self.channels.is_empty() {
            return Err(Error::invalid(
                "channels",
                "is empty: say what it sends (sms, voice or both)",
            ));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(Error::invalid(
                "max_in_flight",
                format!("must be 1 to {MAX_IN_FLIGHT} (got {})", self.max_in_flight),
            ));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(Error::invalid(
                "timeout",
                format!("must be 100 ms to 120 s (got {} ms)", self.timeout_ms),
            ));
        }
        if let Some(pem) = &self.ca_pem {
            if pem.len() > MAX_CA {
                return Err(Error::invalid(
                    "ca",
                    format!("is longer than {MAX_CA} bytes"),
                ));
            }
            if !self.url.starts_with("https://") {
                return Err(Error::invalid("ca", "is for an https:// gateway only"));
            }
            super::webhook::tls::certificates(pem).map_err(|e| Error::invalid("ca", e))?;
        }
        if !(10..=7 * 24 * 3600).contains(&self.retry_for_secs) {
            return Err(Error::invalid(
                "retry_for",
                format!("must be 10 s to 7 days (got {} s)", self.retry_for_secs),
            ));
        }
        Ok(())
    }
}

/// An `http://` or `https://` URL with a host, no user or password in it,
/// and nothing a terminal would act on.
pub fn check_url(url: &str) -> Result<()> {
    if url.len() > MAX_URL {
        return Err(Error::invalid(
            "url",
            format!("is longer than {MAX_URL} bytes"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "url",
            "contains spaces or control characters",
        ));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::invalid("url", format!("{url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(Error::invalid(
                "url",
                format!("{url:?} must start with https:// (or http://)"),
            ));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(Error::invalid("url", format!("{url:?} has no host")));
    };
    if authority.as_str().contains('@') {
        return Err(Error::invalid(
            "url",
            "must not carry a user or password: the secret signs each message",
        ));
    }
    if authority.host().is_empty() {
        return Err(Error::invalid("url", format!("{url:?} has no host")));
    }
    // Names and phone numbers must not cross a network in clear.
    if uri.scheme_str() == Some("http") && !is_loopback(authority.host()) {
        return Err(Error::invalid(
            "url",
            format!(
                "{url:?}: plain http:// is only for an adapter on this host \
                 (127.0.0.1, ::1, localhost); use https://"
            ),
        ));
    }
    Ok(())
}

/// This host: `localhost`, 127.0.0.0/8, `::1`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A secret long enough to sign with.
pub fn check_secret(secret: &[u8]) -> Result<()> {
    if secret.len() < MIN_SECRET {
        return Err(Error::invalid(
            "secret",
            format!(
                "is {} bytes: give at least {MIN_SECRET} (or leave it out and one is made)",
                secret.len()
            ),
        ));
    }
    if secret.len() > MAX_SECRET {
        return Err(Error::invalid(
            "secret",
            format!("is longer than {MAX_SECRET} bytes"),
        ));
    }
    Ok(())
}

/// A fresh random secret (hex, 32 bytes of randomness).
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Storage(format!("no randomness for a gateway secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The gateway that sends `channel`: the first by id that serves it.
pub fn for_channel(gateways: &[Gateway], channel: Channel) -> Option<&Gateway> {
    gateways.iter().find(|g| g.channels.contains(&channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(url: &str) -> Gateway {
        Gateway {
            id: "sms-main".into(),
            url: url.into(),
            channels: vec![Channel::Sms],
            max_in_flight: DEFAULT_IN_FLIGHT,
            timeout_ms: 10_000,
            retry_for_secs: 3600,
            ca_pem: None,
            failing_since: None,
            failing_error: None,
            added_at: Timestamp::UNIX_EPOCH,
            added_by: "admin".into(),
        }
    }

    #[test]
    fn urls_are_checked_with_a_reason() {
        assert!(
            gateway("https://sms.example.gov.cn/hook")
                .validate()
                .is_ok()
        );
        assert!(gateway("http://127.0.0.1:8080/").validate().is_ok());
        assert!(gateway("http://localhost:8089/hook").validate().is_ok());
        assert!(gateway("http://[::1]:8089/").validate().is_ok());
        for (url, says) in [
            ("ftp://x/", "https://"),
            ("https://user:pw@x/", "user or password"),
            ("https://x/\u{1b}[2J", "control"),
            ("not a url", "spaces"),
            ("/just/a/path", "https://"),
            (
                "http://sms.example.gov.cn/hook",
                "only for an adapter on this host",
            ),
            ("http://10.0.0.5:8080/", "only for an adapter on this host"),
        ] {
            let error = gateway(url).validate().expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn limits_are_checked() {
        let mut g = gateway("https://x/");
        g.max_in_flight = 0;
        assert!(g.validate().is_err());
        g.max_in_flight = 4;
        g.channels.clear();
        assert!(g.validate().is_err());
        assert!(check_secret(b"short").is_err());
        assert!(check_secret(new_secret().expect("random").as_bytes()).is_ok());
    }
}
