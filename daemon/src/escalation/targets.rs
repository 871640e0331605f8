//! Who is alarmed: turns the policy's roles into people.
//!
//! [`OnDuty`] is the interface the roster code fills. Until rosters exist,
//! [`DirectoryDuty`] answers from the directory: a post's or unit's duty
//! contact is its contact line, the centre's duty leaders and officers are
//! the people labelled `duty_leader` / `duty_officer`, and a post's
//! responsible leader is the person named on the post.

use jiff::Timestamp;

use crate::directory::model::{Person, Post, Unit};
use crate::error::Result;
use crate::escalation::alarm::{AlarmTarget, Contact};
use crate::escalation::policy::Target;
use crate::incidents::model::{AssigneeKind, AssigneeRef};
use crate::store::Reader;

/// Who holds a duty role at a time.
pub trait OnDuty {
    /// The duty contact of a post or unit at `at`.
    fn duty_contact(&self, assignee: &AssigneeRef, at: Timestamp) -> Result<Vec<Contact>>;
    /// The centre's duty leaders at `at`.
    fn centre_leaders(&self, at: Timestamp) -> Result<Vec<Contact>>;
    /// The centre's duty officers at `at`.
    fn centre_officers(&self, at: Timestamp) -> Result<Vec<Contact>>;
    /// A post's responsible leader (包保领导).
    fn responsible_leader(&self, post: &str) -> Result<Vec<Contact>>;
    /// Every leader on duty at `at`, centre and posts.
    fn leaders_on_duty(&self, at: Timestamp) -> Result<Vec<Contact>>;
}

/// Answers [`OnDuty`] from the directory alone (no rosters yet).
pub struct DirectoryDuty<'a, R: Reader>(pub &'a R);

fn person_contact(person: &Person) -> Contact {
    Contact {
        person_id: Some(person.id.clone()),
        name: person.name.clone(),
        phone: person.phone.clone(),
    }
}

impl<R: Reader> DirectoryDuty<'_, R> {
    fn labelled(&self, label: &str) -> Result<Vec<Contact>> {
        Ok(self
            .0
            .entries::<Person>()?
            .iter()
            .filter(|p| !p.retired && p.roles.iter().any(|r| r == label))
            .map(person_contact)
            .collect())
    }
}

impl<R: Reader> OnDuty for DirectoryDuty<'_, R> {
    fn duty_contact(&self, assignee: &AssigneeRef, _at: Timestamp) -> Result<Vec<Contact>> {
        let desk = match assignee.kind {
            AssigneeKind::Post => self
                .0
                .entry::<Post>(&assignee.id)?
                .map(|p| (p.name, p.contact)),
            AssigneeKind::Unit => self
                .0
                .entry::<Unit>(&assignee.id)?
                .map(|u| (u.name, u.contact)),
        };
        Ok(desk
            .map(|(name, phone)| Contact {
                person_id: None,
                name: format!("{name} 值班"),
                phone,
            })
            .into_iter()
            .collect())
    }

    fn centre_leaders(&self, _at: Timestamp) -> Result<Vec<Contact>> {
        self.labelled("duty_leader")
    }

    fn centre_officers(&self, _at: Timestamp) -> Result<Vec<Contact>> {
        self.labelled("duty_officer")
    }

    fn responsible_leader(&self, post: &str) -> Result<Vec<Contact>> {
        let Some(leader) = self
            .0
            .entry::<Post>(post)?
            .and_then(|p| p.responsible_leader_id)
        else {
            return Ok(Vec::new());
        };
        Ok(self
            .0
            .entry::<Person>(&leader)?
            .iter()
            .map(person_contact)
            .collect())
    }

    fn leaders_on_duty(&self, at: Timestamp) -> Result<Vec<Contact>> {
        let mut leaders = self.centre_leaders(at)?;
        for leader in self.labelled("leader")? {
            if !leaders.contains(&leader) {
                leaders.push(leader);
            }
        }
        Ok(leaders)
    }
}

/// Resolves the roles of one ladder level into addressees.
pub fn resolve(
    duty: &dyn OnDuty,
    roles: &[Target],
    assignee: Option<&AssigneeRef>,
    post: Option<&str>,
    at: Timestamp,
) -> Result<Vec<AlarmTarget>> {
    let mut targets = Vec::new();
    for role in roles {
        let (scope, people) = match role {
            Target::AssigneeDutyContact => match assignee {
                Some(assignee) => (Some(assignee.to_string()), duty.duty_contact(assignee, at)?),
                // No assignee (a resolution clock): the incident's post.
                None => match post {
                    Some(post) => {
                        let assignee = AssigneeRef::post(post);
                        (
                            Some(assignee.to_string()),
                            duty.duty_contact(&assignee, at)?,
                        )
                    }
                    None => (None, Vec::new()),
                },
            },
            Target::CentreDutyLeader => (None, duty.centre_leaders(at)?),
            Target::CentreDutyOfficers => (None, duty.centre_officers(at)?),
            Target::PostResponsibleLeader => match post {
                Some(post) => (
                    Some(AssigneeRef::post(post).to_string()),
                    duty.responsible_leader(post)?,
                ),
                None => (None, Vec::new()),
            },
            Target::LeadersOnDuty => (None, duty.leaders_on_duty(at)?),
        };
        targets.push(AlarmTarget {
            target: *role,
            scope,
            people,
        });
    }
    Ok(targets)
}
