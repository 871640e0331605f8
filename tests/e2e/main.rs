//! End-to-end tests: a real `dutyd` on 127.0.0.1:0 with a temporary store,
//! driven through the gRPC API and the `duty` CLI.
//!
//! - `support`: the [`support::TestDaemon`] fixture and CLI runner.
//! - one file per scenario: lifecycle, idempotency, watch, isolation,
//!   validation, restart, races, crash (SIGKILL of a child process),
//!   escalation (virtual time), visibility (the matrix of every RPC × role),
//!   hostile (malformed bytes and huge strings to every RPC), tls (TLS,
//!   mTLS, cleartext refusal), tokens (revocation, expiry, limits), backup
//!   (online backup under writes, restore, resync across epochs).
//! - `raw`: a descriptor-driven client for any RPC by name.

mod backup;
mod bench;
mod console;
mod crash;
mod escalation;
mod history;
mod hostile;
mod idempotency;
mod isolation;
mod lifecycle;
mod notify;
mod presence;
mod races;
mod raw;
mod replay;
mod reports;
mod restart;
mod rosters;
mod support;
mod tls;
mod tokens;
mod validation;
mod visibility;
mod watch;
