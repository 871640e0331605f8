//! The daemon's one error type, and its mapping to gRPC statuses.
//!
//! Domain and store code return [`Error`]; the service edge turns it into a
//! [`tonic::Status`] in exactly one place ([`From<Error> for Status`]). Storage
//! details are logged there under an error id and never reach clients, who
//! get the id. Messages are bounded there too: a quoted piece of client
//! input is cut to [`ECHO_LIMIT`] characters and a whole message to
//! [`MESSAGE_LIMIT`], so a megabyte id never comes back as a megabyte of
//! metadata. [`DecodeErrors`] turns tonic's decoder failure (INTERNAL with
//! prost's words) into the INVALID_ARGUMENT that malformed input is.

use tonic::{Code, Status};

/// Everything that can go wrong handling a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed. The message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// A field failed one of the shared checks: the message for people, and
    /// a stable reason with its numbers for programs (sent as a
    /// `google.rpc.ErrorInfo` detail).
    #[error("{}", .0.message)]
    Field(FieldError),
    /// No such incident, post, token, ... (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// Creating something that already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is well-formed but not allowed in the current state. The
    /// message says what state it is in and what is allowed.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// No token, a malformed token, or a revoked one.
    #[error("{0}")]
    Unauthenticated(String),
    /// The daemon cannot make writes durable right now (or is shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed. The detail is logged, never sent to clients.
    #[error("storage error: {0}")]
    Storage(String),
}

/// A field that failed a shared check, said twice: for people and for
/// programs (clients map `reason` to their own language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the client spells it (`intake.summary`).
    pub field: String,
    /// What is wrong, stably.
    pub reason: Reason,
    /// The English sentence, naming the field.
    pub message: String,
}

/// Why a field was refused; the `ErrorInfo.reason` strings are stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Blank.
    Required,
    /// Longer than allowed.
    TooLong {
        /// Most characters allowed.
        max: usize,
        /// Characters sent.
        got: usize,
    },
    /// A control or bidi character where none may be.
    ControlChars,
    /// Not a valid id (`a-z 0-9 - _`).
    BadId,
}

impl Reason {
    /// The `ErrorInfo.reason` string.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Required => "FIELD_REQUIRED",
            Reason::TooLong { .. } => "FIELD_TOO_LONG",
            Reason::ControlChars => "FIELD_CONTROL_CHARS",
            Reason::BadId => "FIELD_BAD_ID",
        }
    }
}

/// The `ErrorInfo.domain` of dutyd's reasons.
pub const ERROR_DOMAIN: &str = "dutyroom";

impl Error {
    /// A field failed a shared check: `field` as the client spells it.
    pub fn field(field: &str, reason: Reason, problem: impl std::fmt::Display) -> Self {
        Error::Field(FieldError {
            field: field.to_owned(),
            reason,
            message: format!("{field}: {problem}"),
        })
    }

    /// The same error with its message rewritten (a field renamed for the
    /// request it came in); the kind and reason stay.
    pub fn map_message(self, rewrite: impl Fn(&str) -> String) -> Self {
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(rewrite(&m)),
            Error::Field(mut f) => {
                f.message = rewrite(&f.message);
                f.field = rewrite(&f.field);
                Error::Field(f)
            }
            other => other,
        }
    }

    /// A field failed validation: `field` as the client spells it.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        Error::InvalidArgument(format!("{field}: {problem}"))
    }

    /// Something is not in the state the action needs.
    pub fn precondition(message: impl Into<String>) -> Self {
        Error::FailedPrecondition(message.into())
    }

    /// A named thing does not exist (or is not the caller's to see).
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Error::NotFound(format!("{what} not found"))
    }

    /// The caller's role may not do this.
    pub fn denied(message: impl Into<String>) -> Self {
        Error::PermissionDenied(message.into())
    }
}

/// Most characters of one quoted piece of client input in a message.
pub const ECHO_LIMIT: usize = 100;
/// Most characters of a whole message.
pub const MESSAGE_LIMIT: usize = 600;

/// `message` with every quoted (`"…"`, Rust debug style) piece cut to
/// [`ECHO_LIMIT`] characters and the whole cut to [`MESSAGE_LIMIT`].
pub fn bounded(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MESSAGE_LIMIT + 16));
    let mut quoted = false;
    let mut escaped = false;
    let mut run = 0usize;
    let mut cut = false;
    for c in message.chars() {
        if quoted {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
                cut = false;
                out.push(c);
                continue;
            }
            run += 1;
            if run > ECHO_LIMIT {
                if !cut {
                    out.push('…');
                    cut = true;
                }
                continue;
            }
            out.push(c);
        } else {
            if c == '"' {
                quoted = true;
                run = 0;
            }
            out.push(c);
        }
    }
    if out.chars().count() > MESSAGE_LIMIT {
        out = out.chars().take(MESSAGE_LIMIT).collect();
        out.push('…');
    }
    out
}

/// A short random id that ties an INTERNAL reply to its log line.
fn error_id() -> String {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        // An id only needs to be findable in the log; the time will do.
        let nanos = jiff::Timestamp::now().subsec_nanosecond();
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let status = |code, message: String| Status::new(code, bounded(&message));
        match error {
            Error::InvalidArgument(m) => status(Code::InvalidArgument, m),
            Error::Field(f) => {
                use tonic_types::{ErrorDetails, StatusExt};
                let mut metadata = std::collections::HashMap::new();
                metadata.insert("field".to_owned(), bounded(&f.field));
                if let Reason::TooLong { max, got } = f.reason {
                    metadata.insert("max".to_owned(), max.to_string());
                    metadata.insert("got".to_owned(), got.to_string());
                }
                Status::with_error_details(
                    Code::InvalidArgument,
                    bounded(&f.message),
                    ErrorDetails::with_error_info(f.reason.code(), ERROR_DOMAIN, metadata),
                )
            }
            Error::NotFound(m) => status(Code::NotFound, m),
            Error::AlreadyExists(m) => status(Code::AlreadyExists, m),
            Error::FailedPrecondition(m) => status(Code::FailedPrecondition, m),
            Error::PermissionDenied(m) => status(Code::PermissionDenied, m),
            Error::Unauthenticated(m) => status(Code::Unauthenticated, m),
            Error::Unavailable(m) => status(Code::Unavailable, m),
            Error::Storage(detail) => {
                let id = error_id();
                tracing::error!(error_id = %id, %detail, "internal error");
                Status::new(
                    Code::Internal,
                    format!("internal error {id}; the daemon log has the detail under this id"),
                )
            }
        }
    }
}

/// Tower layer: a request body that does not decode (invalid UTF-8, a
/// truncated field, a bad varint) is the client's error, not dutyd's. tonic
/// answers it INTERNAL with prost's message; this answers INVALID_ARGUMENT
/// with a fixed one, so INTERNAL keeps meaning "dutyd failed" (which clients
/// are told they may retry).
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeErrors;

impl<S> tower::Layer<S> for DecodeErrors {
    type Service = DecodeErrorsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DecodeErrorsService { inner }
    }
}

/// The service [`DecodeErrors`] wraps around the server.
#[derive(Debug, Clone)]
pub struct DecodeErrorsService<S> {
    inner: S,
}

/// The start of tonic-prost's decode failure message, percent-encoded as
/// it travels in `grpc-message`, and plain.
const DECODE_FAILURE: [&str; 2] = [
    "failed%20to%20decode%20Protobuf",
    "failed to decode Protobuf",
];

fn fix_decode_failure(headers: &mut tonic::codegen::http::HeaderMap) {
    let internal = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"13");
    let decoding = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| DECODE_FAILURE.iter().any(|p| m.starts_with(p)));
    if internal && decoding {
        headers.insert(
            "grpc-status",
            tonic::codegen::http::HeaderValue::from_static("3"),
        );
        headers.insert(
            "grpc-message",
            tonic::codegen::http::HeaderValue::from_static(
                "the%20request%20is%20not%20a%20valid%20protobuf%20message%20for%20this%20method",
            ),
        );
    }
}

impl<S, B, R> tower::Service<tonic::codegen::http::Request<B>> for DecodeErrorsService<S>
where
    S: tower::Service<
            tonic::codegen::http::Request<B>,
            Response = tonic::codegen::http::Response<R>,
        >,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<S::Response, S::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            fix_decode_failure(response.headers_mut());
            Ok(response)
        })
    }
}

/// Shorthand for results in the daemon.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_input_and_whole_messages_are_bounded() {
        let long = "x".repeat(100_000);
        let message = bounded(&format!("{long:?} is not an incident number"));
        assert!(message.chars().count() < 130, "{}", message.len());
        assert!(
            message.ends_with("…\" is not an incident number"),
            "{message}"
        );
        let short = format!("{:?} is fine", "post:xinhua");
        assert_eq!(bounded(&short), short);
        let escaped = format!("{:?} and {:?}", "a\"b".repeat(80), "c");
        let cut = bounded(&escaped);
        assert!(cut.ends_with(" and \"c\""), "{cut}");
        assert!(bounded(&"y".repeat(5000)).chars().count() <= MESSAGE_LIMIT + 1);
    }

    #[test]
    fn storage_details_stay_in_the_log() {
        let status = Status::from(Error::Storage("sled: /data/db corrupt".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("sled"), "{}", status.message());
        assert!(
            status.message().starts_with("internal error "),
            "{}",
            status.message()
        );
    }

    proptest::proptest! {
        /// Whatever a client sends, the message it gets back is bounded
        /// and a quoted echo of it is at most ECHO_LIMIT characters.
        #[test]
        fn any_input_comes_back_bounded(input in "\\PC{0,3000}", prefix in "[a-z .]{0,40}") {
            let message = bounded(&format!("{prefix}{input:?} is not valid"));
            proptest::prop_assert!(message.chars().count() <= MESSAGE_LIMIT + 1);
            let echoed = input.chars().take(ECHO_LIMIT + 1).collect::<String>();
            if input.chars().count() > ECHO_LIMIT + 20 && !input.contains(['"', '\\']) {
                proptest::prop_assert!(!message.contains(&echoed));
            }
        }
    }
}
