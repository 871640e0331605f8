//! Who holds a duty role at a time, from the roster — what the escalation
//! engine alarms. Where the roster has nobody (no pattern, an unfilled
//! slot), the directory answers instead ([`DirectoryDuty`]), so an alarm
//! always reaches someone if anyone is known.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::directory::model::Person;
use crate::error::Result;
use crate::escalation::alarm::Contact;
use crate::escalation::targets::{DirectoryDuty, OnDuty};
use crate::incidents::model::{AssigneeKind, AssigneeRef};
use crate::rosters::model::{DutyRole, RosterConfig, Scope};
use crate::store::Reader;

/// [`OnDuty`] from the roster, falling back to the directory.
pub struct RosterDuty<'a, R: Reader> {
    /// Where slots and people are read.
    pub reader: &'a R,
    /// The roster's shape.
    pub config: &'a RosterConfig,
    /// The centre's zone.
    pub tz: &'a TimeZone,
}

/// Who fills `role` for `scope` at `at` (swaps applied); empty when the
/// roster has nobody.
pub fn people_at<R: Reader>(
    reader: &R,
    config: &RosterConfig,
    tz: &TimeZone,
    scope: &Scope,
    role: DutyRole,
    at: Timestamp,
) -> Result<Vec<String>> {
    let Some(shift) = config.occurrence_at(at, tz) else {
        return Ok(Vec::new());
    };
    let slot = reader.slot(&shift.id, scope, role)?;
    Ok(slot.map(|s| s.effective(at)).unwrap_or_default())
}

/// People as contacts (unknown ids are shown as they are).
pub fn contacts<R: Reader>(reader: &R, ids: &[String]) -> Result<Vec<Contact>> {
    ids.iter()
        .map(|id| {
            Ok(match reader.entry::<Person>(id)? {
                Some(person) => Contact {
                    person_id: Some(person.id),
                    name: person.name,
                    phone: person.phone,
                },
                None => Contact {
                    person_id: Some(id.clone()),
                    name: id.clone(),
                    phone: String::new(),
                },
            })
        })
        .collect()
}

impl<R: Reader> RosterDuty<'_, R> {
    fn rostered(&self, scope: &Scope, role: DutyRole, at: Timestamp) -> Result<Vec<Contact>> {
        let ids = people_at(self.reader, self.config, self.tz, scope, role, at)?;
        contacts(self.reader, &ids)
    }
}

impl<R: Reader> OnDuty for RosterDuty<'_, R> {
    fn duty_contact(&self, assignee: &AssigneeRef, at: Timestamp) -> Result<Vec<Contact>> {
        if assignee.kind == AssigneeKind::Post {
            let rostered =
                self.rostered(&Scope::Post(assignee.id.clone()), DutyRole::DutyContact, at)?;
            if !rostered.is_empty() {
                return Ok(rostered);
            }
        }
        DirectoryDuty(self.reader).duty_contact(assignee, at)
    }

    fn centre_leaders(&self, at: Timestamp) -> Result<Vec<Contact>> {
        let rostered = self.rostered(&Scope::Centre, DutyRole::DutyLeader, at)?;
        if rostered.is_empty() {
            return DirectoryDuty(self.reader).centre_leaders(at);
        }
        Ok(rostered)
    }

    fn centre_officers(&self, at: Timestamp) -> Result<Vec<Contact>> {
        let rostered = self.rostered(&Scope::Centre, DutyRole::DutyOfficer, at)?;
        if rostered.is_empty() {
            return DirectoryDuty(self.reader).centre_officers(at);
        }
        Ok(rostered)
    }

    fn responsible_leader(&self, post: &str) -> Result<Vec<Contact>> {
        DirectoryDuty(self.reader).responsible_leader(post)
    }

    /// The centre's duty leaders on the roster, and the people labelled
    /// `leader` (the district's leaders, who are always reachable).
    fn leaders_on_duty(&self, at: Timestamp) -> Result<Vec<Contact>> {
        let mut leaders = self.centre_leaders(at)?;
        let labelled: Vec<String> = self
            .reader
            .entries::<Person>()?
            .into_iter()
            .filter(|p| !p.retired && p.roles.iter().any(|r| r == "leader"))
            .map(|p| p.id)
            .collect();
        for leader in contacts(self.reader, &labelled)? {
            if !leaders.contains(&leader) {
                leaders.push(leader);
            }
        }
        Ok(leaders)
    }
}
