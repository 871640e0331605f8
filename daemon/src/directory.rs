//! The directory: posts, units, places, people and categories.
//!
//! - [`model`]: the records, their checks and their events.
//! - [`service`]: the five gRPC services over them.
//!
//! Entries are read through [`crate::store::Reader`] (`entry`, `entries`),
//! from the store or from inside a command.

pub mod model;
pub mod service;
