//! History: any incident ever recorded, found again.
//!
//! - [`search`]: what of an incident is searchable, how text is cut into
//!   the grams the index holds, and the search itself.
//! - [`service`]: `SearchIncidents` at the gRPC edge (checks, the phone
//!   lookup journaled, the page).
//! - [`related`]: `FindRelated` — a caller's recent calls and open
//!   incidents, and same-place duplicates, for the call being taken.
//! - [`replay`]: `ReplayBoard` — the board as it stood at a past instant,
//!   from the journal and the store's board snapshots.

pub mod related;
pub mod replay;
pub mod search;
pub mod service;
