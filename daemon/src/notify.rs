//! Alarms that reach people off the console: the centre's SMS and voice
//! gateways, reached by a signed webhook (see `docs/notify.md`).
//!
//! - [`webhook`]: the JSON message a gateway receives, its HMAC-SHA256
//!   signature, checking one, and one POST with a time limit.
//! - [`retry`]: when to try again after a failed POST: exponential back-off
//!   with jitter, for as long as the gateway allows.
//! - [`text`]: what a message says about an alarm, in Chinese (【演练】 first
//!   for a drill).
//! - [`receiver`]: the receiving end — checks each message's signature
//!   before handing it on — for the example receiver and the tests.
//!
//! - [`outbox`]: the notifications an alarm owes, planned in the alarm's
//!   own write, and the states they go through.
//! - [`gateway`]: where they are handed over, and its secret.
//! - [`delivery`]: the task that sends what is owed, at most N at once per
//!   gateway, retrying with back-off, and records how each fared.

pub mod delivery;
pub mod gateway;
pub mod outbox;
pub mod receiver;
pub mod retry;
pub mod service;
pub mod text;
pub mod webhook;
