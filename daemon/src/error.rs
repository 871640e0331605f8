//! The daemon's one error type, and its mapping to gRPC statuses.
//!
//! Domain and store code return [`Error`]; the service edge turns it into a
//! [`tonic::Status`] in exactly one place ([`From<Error> for Status`]). Storage
//! details are logged there and never reach clients.

use tonic::{Code, Status};

/// Everything that can go wrong handling a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed. The message names the field.
    #[error("{0}")]
    InvalidArgument(String),
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

impl Error {
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

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(m) => Status::new(Code::InvalidArgument, m),
            Error::NotFound(m) => Status::new(Code::NotFound, m),
            Error::AlreadyExists(m) => Status::new(Code::AlreadyExists, m),
            Error::FailedPrecondition(m) => Status::new(Code::FailedPrecondition, m),
            Error::PermissionDenied(m) => Status::new(Code::PermissionDenied, m),
            Error::Unauthenticated(m) => Status::new(Code::Unauthenticated, m),
            Error::Unavailable(m) => Status::new(Code::Unavailable, m),
            Error::Storage(detail) => {
                tracing::error!(%detail, "storage error");
                Status::new(
                    Code::Internal,
                    "internal storage error; the daemon log has the detail",
                )
            }
        }
    }
}

/// Shorthand for results in the daemon.
pub type Result<T, E = Error> = std::result::Result<T, E>;
