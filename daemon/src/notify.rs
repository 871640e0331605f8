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
//! Not yet wired to the escalation ladder: which alarms send what, and the
//! durable outbox they leave from, come next (issue 16).

pub mod receiver;
pub mod retry;
pub mod text;
pub mod webhook;
