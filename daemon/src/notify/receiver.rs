//! The receiving end of the webhook, as a gateway adapter would run it:
//! every POST's signature and timestamp checked ([`webhook::verify`])
//! before its message is handed on; anything unsigned, stale, tampered
//! with or not a message is refused (401, 400) and never handed on.
//!
//! Used by `examples/notify_receiver.rs` and by the tests; a real gateway
//! adapter does the same in whatever it is written in (`docs/notify.md`).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::webhook::{self, Message, SIGNATURE_HEADER, TIMESTAMP_HEADER};

pub use tokio_rustls::TlsAcceptor;

/// The largest body accepted.
const MAX_BODY: usize = 64 * 1024;

/// How a receiver checks what it is sent.
#[derive(Debug, Clone)]
pub struct Checks {
    /// The secret shared with dutyd for this gateway.
    pub secret: Vec<u8>,
    /// The most seconds a signature may be from the receiver's clock.
    pub tolerance: i64,
}

/// Serves `listener` until it fails: each verified message goes to
/// `handle`, whose answer is the HTTP status sent back (2xx: taken).
pub async fn serve<F, Fut>(
    listener: tokio::net::TcpListener,
    checks: Checks,
    handle: F,
) -> std::io::Result<()>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send + 'static,
{
    serve_with(listener, None, checks, handle).await
}

/// [`serve`] over TLS (an `https://` gateway), with `acceptor`'s
/// certificate; a connection whose handshake fails is dropped.
pub async fn serve_tls<F, Fut>(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    checks: Checks,
    handle: F,
) -> std::io::Result<()>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send + 'static,
{
    serve_with(listener, Some(acceptor), checks, handle).await
}

/// A TLS acceptor for [`serve_tls`] from a certificate (chain) and its
/// private key, PEM.
pub fn tls_acceptor(cert_pem: &str, key_pem: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let certs = super::webhook::tls::certificates(cert_pem)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("the key is not a PEM private key: {e}"))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve_with<F, Fut>(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    checks: Checks,
    handle: F,
) -> std::io::Result<()>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send + 'static,
{
    let checks = Arc::new(checks);
    let handle = Arc::new(handle);
    loop {
        let (stream, _) = listener.accept().await?;
        let checks = checks.clone();
        let handle = handle.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        connection(stream, checks, handle).await;
                    }
                }
                None => connection(stream, checks, handle).await,
            }
        });
    }
}

/// Answers the requests of one connection.
async fn connection<S, F, Fut>(stream: S, checks: Arc<Checks>, handle: Arc<F>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let checks = checks.clone();
        let handle = handle.clone();
        async move { Ok::<_, std::convert::Infallible>(answer(request, &checks, &*handle).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer<F, Fut>(
    request: http::Request<Incoming>,
    checks: &Checks,
    handle: &F,
) -> http::Response<Full<Bytes>>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = u16>,
{
    let reply = |status: u16, text: String| {
        let mut response = http::Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response
    };
    if request.method() != http::Method::POST {
        return reply(405, "POST a message".into());
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(413, format!("a message is at most {MAX_BODY} bytes")),
    };
    let now = jiff::Timestamp::now().as_second();
    if let Err(why) = webhook::verify(
        &checks.secret,
        timestamp.as_deref(),
        signature.as_deref(),
        &body,
        now,
        checks.tolerance,
    ) {
        return reply(401, why.to_string());
    }
    let message: Message = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => return reply(400, format!("not a dutyroom message: {e}")),
    };
    let status = handle(message).await;
    reply(status, String::new())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::notify::webhook::{Channel, PostError, Recipient, post};

    fn message(key: &str) -> Message {
        Message {
            idempotency_key: key.into(),
            channel: Channel::Voice,
            to: Recipient {
                name: "刘洋".into(),
                phone: "13900000000".into(),
            },
            alarm_id: 3,
            incident: Some("20261204-0003".into()),
            level: 3,
            text: "20261204-0003 火灾 到场超时，请立即督办".into(),
            drill: false,
        }
    }

    async fn receiver(secret: &str, status: u16) -> (String, Arc<Mutex<Vec<Message>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        tokio::spawn(serve(
            listener,
            Checks {
                secret: secret.as_bytes().to_vec(),
                tolerance: 300,
            },
            move |message| {
                kept.lock().expect("lock").push(message);
                async move { status }
            },
        ));
        (url, got)
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    #[tokio::test]
    async fn a_signed_message_arrives_whole_and_a_forged_one_never() {
        let (url, got) = receiver("gw-secret", 200).await;
        let sent = message("alarm-3-liuyang-voice");
        let status = post(
            &url,
            b"gw-secret",
            &sent,
            now(),
            Duration::from_secs(5),
            None,
        )
        .await
        .expect("delivered");
        assert_eq!(status, 200);
        assert_eq!(
            got.lock().expect("lock").as_slice(),
            std::slice::from_ref(&sent)
        );

        // Another secret: refused, not handed on.
        let forged = post(&url, b"guessed", &sent, now(), Duration::from_secs(5), None).await;
        assert!(
            matches!(&forged, Err(PostError::Status { status: 401, answer }) if answer.contains("signature")),
            "{forged:?}"
        );
        // An old signature (a replay): refused.
        let replayed = post(
            &url,
            b"gw-secret",
            &sent,
            now() - 3_600,
            Duration::from_secs(5),
            None,
        )
        .await;
        assert!(
            matches!(&replayed, Err(PostError::Status { status: 401, .. })),
            "{replayed:?}"
        );
        assert!(!replayed.as_ref().is_err_and(PostError::retryable));
        assert_eq!(got.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn a_failing_or_absent_gateway_is_worth_retrying() {
        let (url, _) = receiver("s", 503).await;
        let busy = post(
            &url,
            b"s",
            &message("k"),
            now(),
            Duration::from_secs(5),
            None,
        )
        .await;
        assert!(
            matches!(&busy, Err(e @ PostError::Status { status: 503, .. }) if e.retryable()),
            "{busy:?}"
        );
        // Nobody listening.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let gone = format!("http://{}/", listener.local_addr().expect("addr"));
        drop(listener);
        let down = post(
            &gone,
            b"s",
            &message("k"),
            now(),
            Duration::from_secs(5),
            None,
        )
        .await;
        assert!(
            matches!(&down, Err(e @ PostError::Connect(_)) if e.retryable()),
            "{down:?}"
        );
        // Accepts, never answers: the time limit holds.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mute = format!("http://{}/", silent.local_addr().expect("addr"));
        let began = std::time::Instant::now();
        let slow = post(
            &mute,
            b"s",
            &message("k"),
            now(),
            Duration::from_millis(300),
            None,
        )
        .await;
        assert!(matches!(&slow, Err(PostError::Timeout(_))), "{slow:?}");
        assert!(began.elapsed() < Duration::from_secs(5));
        drop(silent);
        // Not a URL it can use: never retried.
        let bad = post(
            "ftp://x/",
            b"s",
            &message("k"),
            now(),
            Duration::from_secs(1),
            None,
        )
        .await;
        assert!(matches!(&bad, Err(e @ PostError::BadUrl(_)) if !e.retryable()));
    }
}
