//! The journal: every change as an event with a gapless seq and a hash chain.
//!
//! - [`record`]: the stored record and who may see it.
//! - [`service`]: `JournalService`: Watch (replay + live), ListEvents
//!   (timelines, audit), VerifyJournal, GetServerInfo.

pub mod record;
pub mod service;
