//! # dutyroom-daemon
//!
//! `dutyd`: the duty-room daemon. It holds incidents, posts, units, places,
//! people, categories and tokens in sled, journals every change, and serves
//! the gRPC API v1 (`dutyroom-proto`).
//!
//! # Layout
//!
//! - [`incidents`], [`directory`], [`auth`]: each domain as `model` (pure
//!   state and transitions, no I/O, `now` passed in) and `service` (the gRPC
//!   edge: proto ↔ model, validation).
//! - [`escalation`]: policies, clocks, the alarm ladder and the timer that
//!   fires missed deadlines.
//! - [`journal`]: the journal record, Watch, timelines and audit.
//! - [`engine`]: the write path — commands from every service go through one
//!   writer thread that batches them into one journal frame (one write, one
//!   `fdatasync`: group commit) before anyone is answered.
//! - [`assessment`]: what an incident's changes mean for assessment (考核):
//!   times to sign for, arrive and resolve against the deadlines on their
//!   clocks, send-backs, callbacks; histograms and the percentile method.
//! - [`history`]: finding any incident ever recorded (the search index's
//!   grams, phones and initials; the search), repeat callers, and the board
//!   replayed at a past moment.
//! - [`notify`]: alarms off the console — the signed webhook to SMS and
//!   voice gateways, its retries, and the receiving end.
//! - [`store`]: the only module that touches sled and the write-ahead journal's
//!   files: the journal, checkpoints, keys, recovery.
//! - [`server`]: builds the tonic server (auth, health, reflection, limits)
//!   and runs it until shutdown; [`server::Daemon`] is what `dutyd`, the
//!   tests and `duty demo` start.
//! - [`limits`]: calls per second and Watch streams per token.
//! - [`tls`]: server TLS, client-certificate identities, `dutyd cert`.
//! - [`visibility`]: the one rule for what a principal may see.
//! - [`config`], [`clock`], [`validate`], [`error`]: shared plumbing.

pub mod assessment;
pub mod auth;
pub mod clock;
pub mod config;
mod convert;
pub mod directory;
pub mod engine;
pub mod error;
pub mod escalation;
pub mod history;
pub mod incidents;
pub mod journal;
pub mod limits;
pub mod notify;
pub mod presence;
pub mod rosters;
pub mod server;
pub mod store;
pub mod tls;
pub mod validate;
pub mod visibility;

pub use config::Config;
pub use server::{Daemon, DaemonHandle};
