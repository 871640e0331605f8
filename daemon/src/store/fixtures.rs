//! Values the store's tests write (tests only).

use jiff::Timestamp;

use crate::auth::principal::Principal;
use crate::incidents::model::{Incident, Intake, Severity, Source};

/// A fire incident, numbered `number`, with `summary`, in `post`'s
/// territory.
pub(crate) fn incident(id: u64, number: &str, summary: &str, post: Option<&str>) -> Incident {
    let intake = Intake {
        source: Source::Other,
        caller_name: String::new(),
        caller_phone: String::new(),
        address: "somewhere".into(),
        place_id: None,
        category: "fire".into(),
        severity: Severity::III,
        summary: summary.into(),
        tags: Vec::new(),
        drill: false,
    };
    Incident::new(
        id,
        number.into(),
        intake,
        post.map(str::to_owned),
        Timestamp::UNIX_EPOCH,
        &Principal::system(),
    )
}
