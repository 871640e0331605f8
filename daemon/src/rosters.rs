//! Duty rosters, handover and roll-call.
//!
//! - [`model`]: shift patterns, slots, swaps, "who is on duty at T" (pure).
//! - [`handover`]: the handover record and its stages.
//! - [`rollcall`]: roll-calls and their answers.
//! - [`duty`]: who holds a duty role at a time, from the roster (the
//!   escalation engine's [`crate::escalation::targets::OnDuty`]).
//! - [`service`]: `RosterService`, `HandoverService`, `RollCallService`.

pub mod duty;
pub mod handover;
pub mod model;
pub mod rollcall;
pub mod service;
