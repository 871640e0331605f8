//! # dutyroom-proto
//!
//! The gRPC API v1 (`package dutyroom.v1`), generated from `proto/dutyroom/v1`
//! at build time by protox + tonic-prost-build. No logic lives here: the
//! daemon converts these types to its domain types at the service edge.
//!
//! - [`v1`]: messages, service clients (`*_client`) and servers (`*_server`).
//! - [`bench`]: a no-op echo service for `duty bench --baseline`.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for server reflection
//!   and for rendering messages as proto3 JSON.

/// Generated messages and services of `dutyroom.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("dutyroom.v1");
}

/// Not the API: a no-op `Echo` service with CreateIncident's messages, for
/// the bench's transport ceiling. dutyd does not serve it.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod bench {
    tonic::include_proto!("dutyroom.bench");
}

/// The encoded `FileDescriptorSet` of every dutyroom proto file and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dutyroom_descriptor");

pub use prost_types::Timestamp;
