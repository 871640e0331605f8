//! The directory: posts, units, places, people and categories.
//!
//! - [`model`]: the records, their checks and their events.
//! - [`service`]: the five gRPC services over them.
//! - [`Reader`]: entry lookups shared by the store and the write path.

pub mod model;
pub mod service;

use crate::error::Result;
use crate::store::{Store, TreeId, keys};
use model::Entry;

/// Reads state — directory entries, roster slots — from the store, or from
/// inside a command (where the batch's own writes are visible).
pub trait Reader {
    /// The entry with this id.
    fn entry<T: Entry>(&self, id: &str) -> Result<Option<T>>;
    /// Every entry of a kind, retired ones included.
    fn entries<T: Entry>(&self) -> Result<Vec<T>>;
    /// Any state value by key.
    fn state<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>>;
}

impl Reader for Store {
    fn state<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.get(TreeId::State, key)
    }

    fn entry<T: Entry>(&self, id: &str) -> Result<Option<T>> {
        self.get(TreeId::State, &keys::entry(T::KIND, id))
    }

    fn entries<T: Entry>(&self) -> Result<Vec<T>> {
        self.scan(
            TreeId::State,
            &keys::entry_prefix(T::KIND),
            None,
            usize::MAX,
        )?
        .iter()
        .map(|(_, bytes)| crate::store::decode(bytes))
        .collect()
    }
}
