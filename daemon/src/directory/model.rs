//! Posts, units, places, people and categories: pure records and their checks.
//!
//! Directory entries are created, updated and retired, never deleted. Each
//! change is recorded as an [`EntryEvent`] carrying the whole entry after the
//! change, so applying an event is replacing the entry.

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::validate;

/// The kinds of directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// Sub-district command post.
    Post,
    /// Linkage unit.
    Unit,
    /// Node of the territory tree.
    Place,
    /// A person.
    Person,
    /// Incident category.
    Category,
}

impl EntryKind {
    /// Lowercase noun used in messages, event kinds and keys.
    pub fn noun(self) -> &'static str {
        match self {
            EntryKind::Post => "post",
            EntryKind::Unit => "unit",
            EntryKind::Place => "place",
            EntryKind::Person => "person",
            EntryKind::Category => "category",
        }
    }
}

/// Behaviour shared by every directory entry.
pub trait Entry: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Which kind this is.
    const KIND: EntryKind;
    /// The stable id (a category's code).
    fn id(&self) -> &str;
    /// Retired entries cannot be newly used.
    fn retired(&self) -> bool;
    /// Retires or restores.
    fn set_retired(&mut self, retired: bool);
    /// Sets the creation and update times.
    fn stamp(&mut self, created_at: Timestamp, updated_at: Timestamp);
    /// When it was created.
    fn created_at(&self) -> Timestamp;
    /// Checks the entry's own fields (not references to other entries).
    fn validate(&self) -> Result<()>;
}

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryChange {
    /// Created.
    Created,
    /// Fields changed.
    Updated,
    /// Retired.
    Retired,
    /// Brought back from retirement.
    Restored,
    /// A post switched between normal and emergency mode.
    ModeSwitched,
}

impl EntryChange {
    /// Past-tense verb for event kinds (`post.retired`).
    pub fn verb(self) -> &'static str {
        match self {
            EntryChange::Created => "created",
            EntryChange::Updated => "updated",
            EntryChange::Retired => "retired",
            EntryChange::Restored => "restored",
            EntryChange::ModeSwitched => "mode_switched",
        }
    }
}

/// A change to a directory entry, carrying the entry after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryEvent<T> {
    /// What happened.
    pub change: EntryChange,
    /// The entry after it happened.
    pub entry: T,
}

/// Normal or emergency (平急转换).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PostMode {
    /// A coordination desk.
    Normal,
    /// The frontline command post: tighter clocks, leaders notified.
    Emergency,
}

/// A sub-district command post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id, e.g. `xinhua`.
    pub id: String,
    /// Display name, e.g. 新华街道指挥部.
    pub name: String,
    /// District it belongs to.
    pub district: String,
    /// Person id of the responsible leader (包保领导).
    pub responsible_leader_id: Option<String>,
    /// Phone or radio contact.
    pub contact: String,
    /// Normal or emergency.
    pub mode: PostMode,
    /// Why the mode was last switched.
    pub mode_reason: Option<String>,
    /// When the mode was last switched.
    pub mode_since: Option<Timestamp>,
    /// Retired posts get no new assignments.
    pub retired: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A linkage unit (department or enterprise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// 1 core responders, 2 public services, 3 others.
    pub tier: u8,
    /// Category codes it handles.
    pub categories: Vec<String>,
    /// Phone or radio contact.
    pub contact: String,
    /// Retired units get no new assignments.
    pub retired: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Level of a place in the territory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlaceKind {
    /// 区/县: the root.
    District,
    /// 街道/乡镇: has a command post.
    Subdistrict,
    /// 社区/村
    Community,
    /// 网格
    Grid,
}

impl PlaceKind {
    /// The kind a parent of this kind must have (`None` for a district).
    pub fn parent_kind(self) -> Option<PlaceKind> {
        match self {
            PlaceKind::District => None,
            PlaceKind::Subdistrict => Some(PlaceKind::District),
            PlaceKind::Community => Some(PlaceKind::Subdistrict),
            PlaceKind::Grid => Some(PlaceKind::Community),
        }
    }

    /// Lowercase noun for messages.
    pub fn noun(self) -> &'static str {
        match self {
            PlaceKind::District => "district",
            PlaceKind::Subdistrict => "sub-district",
            PlaceKind::Community => "community",
            PlaceKind::Grid => "grid",
        }
    }
}

/// A node of the territory tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Level in the tree.
    pub kind: PlaceKind,
    /// The place one level up (`None` for a district).
    pub parent_id: Option<String>,
    /// The territorial post: set on a sub-district, inherited below it.
    pub post_id: Option<String>,
    /// Retired places are not offered for new incidents.
    pub retired: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A person: duty staff, leaders, post contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// Where alarm text messages go, if not `phone`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sms_phone: String,
    /// Where alarm voice calls go, if not `phone`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub voice_phone: String,
    /// Their own webhook for alarms (`https://…`), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub webhook: String,
    /// Free labels, e.g. `duty_officer`.
    pub roles: Vec<String>,
    /// Retired people are not offered for rosters.
    pub retired: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// An incident category and its routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Units suggested on dispatch.
    pub default_unit_ids: Vec<String>,
    /// Retired categories are not offered for new incidents.
    pub retired: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

macro_rules! entry_common {
    ($kind:expr, $id:ident) => {
        const KIND: EntryKind = $kind;
        fn id(&self) -> &str {
            &self.$id
        }
        fn retired(&self) -> bool {
            self.retired
        }
        fn set_retired(&mut self, retired: bool) {
            self.retired = retired;
        }
        fn stamp(&mut self, created_at: Timestamp, updated_at: Timestamp) {
            self.created_at = created_at;
            self.updated_at = updated_at;
        }
        fn created_at(&self) -> Timestamp {
            self.created_at
        }
    };
}

impl Entry for Post {
    entry_common!(EntryKind::Post, id);
    fn validate(&self) -> Result<()> {
        validate::slug("post.id", &self.id)?;
        validate::required("post.name", &self.name, validate::MAX_NAME)?;
        validate::max_len("post.district", &self.district, validate::MAX_NAME)?;
        if let Some(leader) = &self.responsible_leader_id {
            validate::slug("post.responsible_leader_id", leader)?;
        }
        validate::max_len("post.contact", &self.contact, validate::MAX_PHONE)
    }
}

impl Entry for Unit {
    entry_common!(EntryKind::Unit, id);
    fn validate(&self) -> Result<()> {
        validate::slug("unit.id", &self.id)?;
        validate::required("unit.name", &self.name, validate::MAX_NAME)?;
        if !(1..=3).contains(&self.tier) {
            return Err(crate::error::Error::invalid(
                "unit.tier",
                format!(
                    "must be 1 (core responders), 2 (public services) or 3 (others), got {}",
                    self.tier
                ),
            ));
        }
        validate::labels("unit.categories", &self.categories)?;
        validate::max_len("unit.contact", &self.contact, validate::MAX_PHONE)
    }
}

impl Entry for Place {
    entry_common!(EntryKind::Place, id);
    fn validate(&self) -> Result<()> {
        use crate::error::Error;
        validate::slug("place.id", &self.id)?;
        validate::required("place.name", &self.name, validate::MAX_NAME)?;
        match (self.kind.parent_kind(), &self.parent_id) {
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "place.parent_id",
                    "a district has no parent",
                ));
            }
            (Some(kind), None) => {
                return Err(Error::invalid(
                    "place.parent_id",
                    format!("a {} needs a parent {}", self.kind.noun(), kind.noun()),
                ));
            }
            _ => {}
        }
        if self.kind == PlaceKind::Subdistrict && self.post_id.is_none() {
            return Err(Error::invalid(
                "place.post_id",
                "a sub-district needs its command post",
            ));
        }
        Ok(())
    }
}

impl Person {
    /// Where to reach them by `channel`: its own number, or their phone;
    /// for a webhook, their webhook's URL (empty: they have none).
    pub fn number_for(&self, channel: crate::notify::webhook::Channel) -> &str {
        let own = match channel {
            crate::notify::webhook::Channel::Sms => &self.sms_phone,
            crate::notify::webhook::Channel::Voice => &self.voice_phone,
            crate::notify::webhook::Channel::Webhook => return &self.webhook,
        };
        if own.is_empty() { &self.phone } else { own }
    }
}

impl Entry for Person {
    entry_common!(EntryKind::Person, id);
    fn validate(&self) -> Result<()> {
        validate::slug("person.id", &self.id)?;
        validate::required("person.name", &self.name, validate::MAX_NAME)?;
        validate::phone("person.phone", &self.phone)?;
        validate::phone("person.sms_phone", &self.sms_phone)?;
        validate::phone("person.voice_phone", &self.voice_phone)?;
        if !self.webhook.is_empty() {
            crate::notify::gateway::check_url(&self.webhook)
                .map_err(|e| crate::error::Error::invalid("person.webhook", e.to_string()))?;
        }
        validate::labels("person.roles", &self.roles)
    }
}

impl Entry for Category {
    entry_common!(EntryKind::Category, code);
    fn validate(&self) -> Result<()> {
        validate::slug("category.code", &self.code)?;
        validate::required("category.name_zh", &self.name_zh, validate::MAX_NAME)?;
        validate::max_len("category.name_en", &self.name_en, validate::MAX_NAME)?;
        validate::labels("category.default_unit_ids", &self.default_unit_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::webhook::Channel;

    #[test]
    fn alarms_go_to_a_persons_own_numbers_or_their_phone() {
        let mut person = Person {
            id: "zhaolei".into(),
            name: "赵磊".into(),
            phone: "0571-87000001".into(),
            sms_phone: "13900000001".into(),
            voice_phone: String::new(),
            webhook: String::new(),
            roles: vec![],
            retired: false,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(person.number_for(Channel::Sms), "13900000001");
        assert_eq!(person.number_for(Channel::Voice), "0571-87000001");
        person.sms_phone.clear();
        assert_eq!(person.number_for(Channel::Sms), "0571-87000001");
    }
}
