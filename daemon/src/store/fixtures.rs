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

/// Copies a store directory (sled's files and `wal/`).
pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
