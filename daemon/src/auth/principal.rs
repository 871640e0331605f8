//! Who is acting: roles and principals (pure types, no I/O).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::incidents::model::AssigneeRef;

/// What a token may do. Stored as its text form (`post:xinhua`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Role {
    /// Everything, including tokens and the directory.
    Admin,
    /// A duty officer: intake, dispatch and every incident action.
    Officer,
    /// A duty leader: what an officer does, plus switching post modes.
    Leader,
    /// A sub-district post: only incidents assigned to it.
    Post(String),
    /// A linkage unit: only incidents assigned to it.
    Unit(String),
    /// An SMS or voice gateway's adapter: may only report how the
    /// notifications it was sent fared (`NotifyService.ReportDelivery`),
    /// nothing else, on no other service.
    Gateway(String),
    /// The daemon itself (bootstrap, escalation engine). Never held by a token.
    System,
}

impl Role {
    /// The post or unit this role is confined to, if any.
    pub fn confined_to(&self) -> Option<AssigneeRef> {
        match self {
            Role::Post(id) => Some(AssigneeRef::post(id)),
            Role::Unit(id) => Some(AssigneeRef::unit(id)),
            _ => None,
        }
    }

    /// Centre roles see every incident and every non-token event.
    pub fn is_centre(&self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Officer | Role::Leader | Role::System
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Officer => f.write_str("officer"),
            Role::Leader => f.write_str("leader"),
            Role::Post(id) => write!(f, "post:{id}"),
            Role::Unit(id) => write!(f, "unit:{id}"),
            Role::Gateway(id) => write!(f, "gateway:{id}"),
            Role::System => f.write_str("system"),
        }
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                "role",
                format!(
                    "{text:?} is not a role; use admin, officer, leader, post:<id>, unit:<id> or gateway:<id>"
                ),
            )
        };
        match text {
            "admin" => Ok(Role::Admin),
            "officer" => Ok(Role::Officer),
            "leader" => Ok(Role::Leader),
            "system" => Ok(Role::System),
            _ => match text.split_once(':') {
                Some(("post", id)) if crate::validate::is_slug(id) => Ok(Role::Post(id.to_owned())),
                Some(("unit", id)) if crate::validate::is_slug(id) => Ok(Role::Unit(id.to_owned())),
                Some(("gateway", id)) if crate::validate::is_slug(id) => {
                    Ok(Role::Gateway(id.to_owned()))
                }
                _ => Err(bad()),
            },
        }
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.to_string()
    }
}

impl TryFrom<String> for Role {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

/// The authenticated caller of one request, recorded on every event it causes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Id of the token used; "system" for the daemon itself.
    pub token_id: String,
    /// The token's label (usually a person's name).
    pub name: String,
    /// What the token may do.
    pub role: Role,
}

impl Principal {
    /// The daemon acting on its own (bootstrap, clocks).
    pub fn system() -> Self {
        Principal {
            token_id: "system".into(),
            name: "dutyd".into(),
            role: Role::System,
        }
    }

    /// True when this principal acts for `assignee` itself (not on its behalf).
    pub fn is(&self, assignee: &AssigneeRef) -> bool {
        self.role.confined_to().as_ref() == Some(assignee)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for text in [
            "admin",
            "officer",
            "leader",
            "post:xinhua",
            "unit:fire-1",
            "gateway:sms-main",
        ] {
            let role: Role = text.parse().expect("valid role");
            assert_eq!(role.to_string(), text);
        }
    }

    #[test]
    fn bad_roles_are_refused_with_the_choices() {
        for text in ["", "root", "post:", "post:Bad Id", "team:x"] {
            let error = text.parse::<Role>().expect_err(text);
            assert!(error.to_string().contains("admin, officer"), "{error}");
        }
    }
}
