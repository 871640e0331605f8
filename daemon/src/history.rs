//! History: any incident ever recorded, found again.
//!
//! - [`search`]: what of an incident is searchable, how text is cut into
//!   the grams the index holds, and the search itself.

pub mod search;
