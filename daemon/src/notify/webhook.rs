//! The webhook a gateway receives: one JSON message per notification,
//! POSTed with its signature.
//!
//! ```text
//! POST <gateway url>
//! content-type: application/json
//! idempotency-key: <the message's key>
//! x-dutyroom-timestamp: <unix seconds>
//! x-dutyroom-signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//! ```
//!
//! The signature covers the timestamp, so a receiver that refuses stale
//! timestamps ([`verify`]'s `tolerance`) cannot be replayed an old message;
//! the idempotency key is the same on every retry of one notification, so a
//! receiver sends each at most once however often it arrives.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "x-dutyroom-signature";
/// The header with the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-dutyroom-timestamp";
/// The header repeating the message's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Most characters of a gateway's answer kept (for the failure reason).
const ANSWER_KEPT: usize = 200;

/// Most bytes of a refusal's body read.
const ANSWER_READ: usize = 4096;

/// How a message is to reach its person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text message.
    Sms,
    /// A voice call reading the text.
    Voice,
    /// A POST of the message to the person's own webhook (a work-chat bot,
    /// a pager app), signed like a gateway's.
    Webhook,
}

impl Channel {
    /// `sms` or `voice`, as in the policy and the message.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Webhook => "webhook",
        }
    }
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Their name.
    pub name: String,
    /// The number to text or call.
    pub phone: String,
}

/// One notification as a gateway receives it (the JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The same on every attempt: a receiver sends each key at most once.
    pub idempotency_key: String,
    /// SMS or voice.
    pub channel: Channel,
    /// Who to reach.
    pub to: Recipient,
    /// The alarm it is about.
    pub alarm_id: u64,
    /// The incident's number, if the alarm is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The ladder level.
    pub level: u8,
    /// What to say, in Chinese (drills start with 【演练】).
    pub text: String,
    /// About a drill (演练).
    pub drill: bool,
}

/// The signature header's value for `body` signed at `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex(&mac.finalize().into_bytes()))
}

fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a received message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header is missing or not in the expected form.
    #[error("missing or malformed {0} header")]
    Malformed(&'static str),
    /// Signed too long ago (or in the future): possibly a replay.
    #[error("signed at {signed}, {off} s from now (at most {tolerance} s allowed)")]
    Stale {
        /// When it says it was signed.
        signed: i64,
        /// How far that is from now.
        off: i64,
        /// The most allowed.
        tolerance: i64,
    },
    /// The signature does not match: another secret, or a changed body.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a received message: its timestamp within `tolerance` seconds of
/// `now`, and its signature over that timestamp and `body` (compared in
/// constant time).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), Unverified> {
    let signed: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(Unverified::Malformed(TIMESTAMP_HEADER))?;
    let given = signature
        .and_then(|s| s.trim().strip_prefix("v1="))
        .and_then(unhex)
        .ok_or(Unverified::Malformed(SIGNATURE_HEADER))?;
    let off = now.saturating_sub(signed).saturating_abs();
    if off > tolerance {
        return Err(Unverified::Stale {
            signed,
            off,
            tolerance,
        });
    }
    let mut mac = keyed(secret);
    mac.update(signed.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| Unverified::Mismatch)
}

/// Why a POST did not get a 2xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The gateway's URL cannot be used (nothing to retry).
    #[error("gateway URL {0}")]
    BadUrl(String),
    /// No connection.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No answer within the gateway's time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection broke, or the answer was not HTTP.
    #[error("HTTP: {0}")]
    Http(String),
    /// The gateway answered, but not 2xx.
    #[error("gateway answered {status}: {answer}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        answer: String,
    },
}

impl PostError {
    /// Worth trying again later: the gateway may be back. A 4xx other than
    /// 408 (timeout) and 429 (too many) says the message itself is refused.
    pub fn retryable(&self) -> bool {
        match self {
            PostError::BadUrl(_) => false,
            PostError::Status { status, .. } => {
                !(400..500).contains(status) || matches!(status, 408 | 429)
            }
            PostError::Connect(_) | PostError::Timeout(_) | PostError::Http(_) => true,
        }
    }
}

/// POSTs `message` to `url` (`https://`, or `http://` for an adapter on
/// the same host), signed with `secret` at `timestamp`; the whole exchange
/// within `timeout`. An `https://` gateway's certificate must chain to the
/// system's roots or to `ca_pem` (PEM: the gateway's own CA). The gateway's
/// status when it is 2xx.
pub async fn post(
    url: &str,
    secret: &[u8],
    message: &Message,
    timestamp: i64,
    timeout: Duration,
    ca_pem: Option<&str>,
) -> Result<u16, PostError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| PostError::BadUrl(format!("{url:?}: {e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(PostError::BadUrl(format!(
                "{url:?}: must start with https:// or http://"
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| PostError::BadUrl(format!("{url:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // Host without any user:password@, and the origin-form target (the
    // path), which every server routes on.
    let authority = match uri.port_u16() {
        Some(port) => format!("{}:{port}", uri.host().unwrap_or_default()),
        None => uri.host().unwrap_or_default().to_owned(),
    };
    let target = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let body = serde_json::to_vec(message).map_err(|e| PostError::Http(e.to_string()))?;
    let request = http::Request::post(target)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_HEADER, &message.idempotency_key)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature(secret, timestamp, &body))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| PostError::BadUrl(format!("{url:?}: {e}")))?;
    let connector = if https {
        Some(tls::connector(ca_pem).map_err(PostError::BadUrl)?)
    } else {
        None
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PostError::Connect(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        match connector {
            Some(connector) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| PostError::BadUrl(format!("{url:?}: {e}")))?;
                let stream = connector
                    .connect(name, stream)
                    .await
                    .map_err(|e| PostError::Connect(format!("TLS with {host}: {e}")))?;
                send(stream, request).await
            }
            None => send(stream, request).await,
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| PostError::Timeout(timeout))?
}

/// One request over `stream`: the status when 2xx, else what was answered.
async fn send<S>(stream: S, request: http::Request<Full<Bytes>>) -> Result<u16, PostError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| PostError::Http(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| PostError::Http(e.to_string()))?;
    let status = answer.status().as_u16();
    // Taken is taken, whatever follows the status line: a body that never
    // ends must not turn it into a timeout and a second send.
    if (200..300).contains(&status) {
        driver.abort();
        return Ok(status);
    }
    let text = Limited::new(answer.into_body(), ANSWER_READ)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    driver.abort();
    let answer: String = String::from_utf8_lossy(&text)
        .chars()
        .filter(|c| !c.is_control())
        .take(ANSWER_KEPT)
        .collect();
    Err(PostError::Status { status, answer })
}

/// The TLS client side of `https://` gateways (rustls with ring: no
/// OpenSSL).
pub mod tls {
    use std::sync::{Arc, OnceLock};

    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::{self, RootCertStore};

    /// The system's roots, loaded once.
    fn system_roots() -> &'static RootCertStore {
        static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
        ROOTS.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            roots
        })
    }

    /// Reads the certificates of a PEM text (a CA), or says why not.
    pub fn certificates(
        pem: &str,
    ) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the CA is not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("the CA holds no certificate (-----BEGIN CERTIFICATE-----)".into());
        }
        Ok(certs)
    }

    /// A connector trusting the system's roots and `ca_pem`.
    pub fn connector(ca_pem: Option<&str>) -> Result<TlsConnector, String> {
        let mut roots = system_roots().clone();
        if let Some(pem) = ca_pem {
            for cert in certificates(pem)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA cannot be used: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConnector::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            idempotency_key: "alarm-7-wangwei-sms".into(),
            channel: Channel::Sms,
            to: Recipient {
                name: "王伟".into(),
                phone: "13800000000".into(),
            },
            alarm_id: 7,
            incident: Some("20261204-0012".into()),
            level: 2,
            text: "【演练】20261204-0012 火灾 幸福社区 签收超时（第2级），请立即督办".into(),
            drill: true,
        }
    }

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let body = serde_json::to_vec(&message()).expect("json");
        let signed = signature(b"s3cret", 1_800_000_000, &body);
        assert!(signed.starts_with("v1="));
        let check = |secret: &[u8], time: &str, body: &[u8], now: i64| {
            verify(secret, Some(time), Some(&signed), body, now, 300)
        };
        assert_eq!(check(b"s3cret", "1800000000", &body, 1_800_000_100), Ok(()));
        assert_eq!(
            check(b"other", "1800000000", &body, 1_800_000_000),
            Err(Unverified::Mismatch)
        );
        let mut changed = body.clone();
        changed[10] ^= 1;
        assert_eq!(
            check(b"s3cret", "1800000000", &changed, 1_800_000_000),
            Err(Unverified::Mismatch)
        );
        // The time is signed too: moving it breaks the signature.
        assert_eq!(
            check(b"s3cret", "1800000001", &body, 1_800_000_000),
            Err(Unverified::Mismatch)
        );
        assert!(matches!(
            check(b"s3cret", "1800000000", &body, 1_800_000_301),
            Err(Unverified::Stale { off: 301, .. })
        ));
        assert_eq!(
            verify(b"s3cret", None, Some(&signed), &body, 0, 300),
            Err(Unverified::Malformed(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(b"s3cret", Some("1"), Some("v1=zz"), &body, 1, 300),
            Err(Unverified::Malformed(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn the_body_is_the_documented_json() {
        let json: serde_json::Value = serde_json::to_value(message()).expect("serializes");
        assert_eq!(json["channel"], "sms");
        assert_eq!(json["to"]["phone"], "13800000000");
        assert_eq!(json["idempotency_key"], "alarm-7-wangwei-sms");
        assert_eq!(json["drill"], true);
        assert!(
            json["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("【演练】"))
        );
    }

    #[test]
    fn only_a_refused_message_is_not_retried() {
        let status = |status| PostError::Status {
            status,
            answer: String::new(),
        };
        assert!(status(500).retryable());
        assert!(status(503).retryable());
        assert!(status(429).retryable());
        assert!(status(408).retryable());
        assert!(!status(400).retryable());
        assert!(!status(401).retryable());
        assert!(!PostError::BadUrl("x".into()).retryable());
        assert!(PostError::Connect("refused".into()).retryable());
        assert!(PostError::Timeout(Duration::from_secs(1)).retryable());
    }
}
