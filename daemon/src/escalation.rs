//! Escalation: the clocks that cure "responding without urgency, linked but
//! not moving" (应而不急、联而不动).
//!
//! - [`policy`]: deadlines per category × severity × post × mode, tier
//!   adjustments and the alarm ladder, as validated TOML data.
//! - [`clocks`]: which clocks an incident runs, planned after every change;
//!   how a missed clock climbs the ladder.
//! - [`alarm`]: alarms, who they are addressed to, acknowledgement.
//! - [`targets`]: the interface that turns roles into people ([`targets::OnDuty`]);
//!   the roster code fills it, the directory answers until then.
//! - [`timer`]: the one loop that sleeps until the next deadline (or a
//!   change) and fires what is due through the ordinary command path.
//! - [`service`]: `EscalationService` (policy, simulation, alarms).
//!
//! Deadlines live in the store's deadlines keyspace keyed by their next
//! alarm time, written in the same atomic batch as the change that sets or
//! clears them, so a sign-for committed before a deadline means no alarm,
//! and a deadline that fell due while dutyd was down fires on start, marked
//! late, exactly once.

pub mod alarm;
pub mod clocks;
pub mod policy;
pub mod service;
pub mod targets;
pub mod timer;
