//! The directory: posts, units, places, people and categories.
//!
//! - [`model`]: the records, their checks and their events.
//! - [`service`]: the five gRPC services over them.

pub mod model;
pub mod service;
