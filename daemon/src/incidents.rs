//! Incidents: intake, dispatch, assignment clocks, resolution, close.
//!
//! - [`model`]: the pure incident state machine.
//! - [`numbering`]: readable `YYYYMMDD-NNNN` numbers in the centre's zone.
//! - [`service`]: `IncidentService` (gRPC edge).

pub mod model;
pub mod numbering;
pub mod service;
