//! Command handlers: authorise, check references, ask the pure domain for
//! events, and stage state, indexes and journal records in the [`Scope`].

use crate::auth::principal::Role;
use crate::auth::tokens::{self, TokenEvent, TokenRecord};
use crate::auth::{require_admin, require_centre, require_leader};
use crate::directory::model::{
    Category, Entry, EntryChange, EntryEvent, EntryKind, Person, Place, PlaceKind, Post, PostMode,
    Unit,
};
use crate::engine::command::{Command, DispatchTo, Outcome};
use crate::engine::scope::Scope;
use crate::engine::{escalate, rosters};
use crate::error::{Error, Result};
use crate::incidents::model::{
    AssigneeKind, AssigneeRef, AssignmentAction, AssignmentSelector, Incident, IncidentEvent,
    Intake, RepeatCall,
};
use crate::incidents::numbering;
use crate::journal::record::{EventBody, PhoneLookup, Subject};
use crate::store::{Counter, Reader};
use crate::visibility::require_incident as require_visible;

/// Runs one command in `scope`.
pub(crate) fn execute(scope: &mut Scope<'_>, command: &Command) -> Result<Outcome> {
    match command {
        Command::CreateIncident { intake, dispatch } => create_incident(scope, intake, dispatch),
        Command::UpdateIncident {
            incident,
            patch,
            reason,
        } => {
            require_centre(scope.principal, "change intake fields")?;
            let current = scope.existing_incident(incident)?;
            let territorial = match &patch.place_id {
                Some(place) => Some(check_intake_refs(
                    scope,
                    patch.category.as_deref(),
                    place.as_deref(),
                )?),
                None => {
                    if let Some(category) = &patch.category {
                        check_category(scope, category)?;
                    }
                    None
                }
            };
            let events = current.decide_update(patch, territorial, reason)?;
            incident_outcome(scope, current, events)
        }
        Command::Assign {
            incident,
            to,
            replace_lead,
        } => {
            require_centre(scope.principal, "dispatch incidents")?;
            let current = scope.existing_incident(incident)?;
            check_assignee(scope, &to.assignee)?;
            let events = current.decide_assign(&to.assignee, to.role, *replace_lead, scope.now)?;
            incident_outcome(scope, current, events)
        }
        Command::Step {
            incident,
            selector,
            action,
            note,
        } => step(scope, incident, selector.as_ref(), *action, note),
        Command::AddNote { incident, text } => {
            let current = scope.existing_incident(incident)?;
            require_visible(scope.principal, &current)?;
            let events = current.decide_note(text, scope.principal, scope.acted_at());
            incident_outcome(scope, current, events)
        }
        Command::AddRepeatCall { incident, call } => {
            require_centre(scope.principal, "take calls")?;
            let current = scope.existing_incident(incident)?;
            let events = current.decide_repeat_call(RepeatCall {
                at: scope.acted_at(),
                source: call.source.unwrap_or(current.intake.source),
                caller_name: call.caller_name.clone(),
                caller_phone: call.caller_phone.clone(),
                text: call.text.clone(),
                taken_by: scope.principal.clone(),
            })?;
            incident_outcome(scope, current, events)
        }
        Command::Resolve { incident, outcome } => {
            let current = scope.existing_incident(incident)?;
            require_visible(scope.principal, &current)?;
            if let Some(me) = scope.principal.role.confined_to()
                && current.active_lead().map(|lead| &lead.assignee) != Some(&me)
            {
                return Err(Error::denied(format!(
                    "{me} is not the active lead of incident {}: only the lead or the centre \
                     can resolve it",
                    current.number
                )));
            }
            let events = current.decide_resolve(outcome)?;
            incident_outcome(scope, current, events)
        }
        Command::Close {
            incident,
            callback_result,
            satisfaction,
        } => {
            require_centre(scope.principal, "close incidents")?;
            let current = scope.existing_incident(incident)?;
            let events = current.decide_close(callback_result, *satisfaction)?;
            incident_outcome(scope, current, events)
        }
        Command::Cancel { incident, reason } => {
            require_centre(scope.principal, "cancel incidents")?;
            let current = scope.existing_incident(incident)?;
            let events = current.decide_cancel(reason)?;
            incident_outcome(scope, current, events)
        }
        Command::Merge { incident, into } => {
            require_centre(scope.principal, "merge incidents")?;
            let mut duplicate = scope.existing_incident(incident)?;
            let mut target = scope.existing_incident(into)?;
            let (duplicate_events, target_events) = duplicate.decide_merge(&target)?;
            scope.record_incident(&mut duplicate, duplicate_events, false)?;
            scope.record_incident(&mut target, target_events, false)?;
            // The reply shows the duplicate; its seq is that of its own event.
            let seq = duplicate.last_seq;
            Ok(Outcome::Incident {
                incident: Box::new(duplicate),
                seq,
            })
        }
        Command::Reopen { incident, reason } => {
            require_centre(scope.principal, "reopen incidents")?;
            let current = scope.existing_incident(incident)?;
            let events = current.decide_reopen(reason)?;
            incident_outcome(scope, current, events)
        }
        Command::CreatePost(post) => {
            check_post_refs(scope, post)?;
            let mut post = post.clone();
            post.mode = PostMode::Normal;
            post.mode_reason = None;
            post.mode_since = None;
            create_entry(scope, post, EventBody::Post).map(Outcome::Post)
        }
        Command::UpdatePost(patch) => {
            let post = update_entry::<Post>(scope, &patch.id, |post| {
                set(&mut post.name, &patch.name);
                set(&mut post.district, &patch.district);
                set(
                    &mut post.responsible_leader_id,
                    &patch.responsible_leader_id,
                );
                set(&mut post.contact, &patch.contact);
            })?;
            check_post_refs(scope, &post)?;
            save_entry(scope, post, EntryChange::Updated, EventBody::Post).map(Outcome::Post)
        }
        Command::SetPostMode { id, mode, reason } => {
            require_leader(scope.principal, "switch a post's mode")?;
            let mut post = existing_entry::<Post>(scope, id)?;
            if post.mode == *mode {
                return Ok(Outcome::Post(post));
            }
            post.mode = *mode;
            post.mode_reason = Some(reason.clone());
            post.mode_since = Some(scope.now);
            let post = save_entry(scope, post, EntryChange::ModeSwitched, EventBody::Post)?;
            escalate::mode_switched(scope, &post, reason)?;
            Ok(Outcome::Post(post))
        }
        Command::CreateUnit(unit) => {
            check_categories(scope, "unit.categories", &unit.categories)?;
            create_entry(scope, unit.clone(), EventBody::Unit).map(Outcome::Unit)
        }
        Command::UpdateUnit(patch) => {
            let unit = update_entry::<Unit>(scope, &patch.id, |unit| {
                set(&mut unit.name, &patch.name);
                set(&mut unit.tier, &patch.tier);
                set(&mut unit.categories, &patch.categories);
                set(&mut unit.contact, &patch.contact);
            })?;
            check_categories(scope, "unit.categories", &unit.categories)?;
            save_entry(scope, unit, EntryChange::Updated, EventBody::Unit).map(Outcome::Unit)
        }
        Command::CreatePlace(place) => {
            check_place_refs(scope, place)?;
            create_entry(scope, place.clone(), EventBody::Place).map(Outcome::Place)
        }
        Command::UpdatePlace(patch) => {
            let place = update_entry::<Place>(scope, &patch.id, |place| {
                set(&mut place.name, &patch.name);
                if let Some(post) = &patch.post_id {
                    place.post_id = Some(post.clone());
                }
            })?;
            check_place_refs(scope, &place)?;
            save_entry(scope, place, EntryChange::Updated, EventBody::Place).map(Outcome::Place)
        }
        Command::CreatePerson(person) => {
            create_entry(scope, person.clone(), EventBody::Person).map(Outcome::Person)
        }
        Command::UpdatePerson(patch) => {
            let person = update_entry::<Person>(scope, &patch.id, |person| {
                set(&mut person.name, &patch.name);
                set(&mut person.phone, &patch.phone);
                set(&mut person.sms_phone, &patch.sms_phone);
                set(&mut person.voice_phone, &patch.voice_phone);
                set(&mut person.webhook, &patch.webhook);
                set(&mut person.roles, &patch.roles);
            })?;
            save_entry(scope, person, EntryChange::Updated, EventBody::Person).map(Outcome::Person)
        }
        Command::CreateCategory(category) => {
            check_units(scope, &category.default_unit_ids)?;
            create_entry(scope, category.clone(), EventBody::Category).map(Outcome::Category)
        }
        Command::UpdateCategory(patch) => {
            let category = update_entry::<Category>(scope, &patch.code, |category| {
                set(&mut category.name_zh, &patch.name_zh);
                set(&mut category.name_en, &patch.name_en);
                set(&mut category.default_unit_ids, &patch.default_unit_ids);
            })?;
            check_units(scope, &category.default_unit_ids)?;
            save_entry(scope, category, EntryChange::Updated, EventBody::Category)
                .map(Outcome::Category)
        }
        Command::Retire { kind, id, restore } => retire(scope, *kind, id, *restore),
        Command::CreateToken {
            name,
            role,
            expires_at,
            limits,
        } => create_token(scope, name, role, *expires_at, *limits),
        Command::RevokeToken { id } => revoke_token(scope, id),
        Command::FireDue => escalate::fire_due(scope),
        Command::Escalate {
            incident,
            to_level,
            reason,
        } => escalate::escalate(scope, incident, *to_level, reason),
        Command::RaiseSeverity {
            incident,
            to,
            reason,
        } => escalate::raise_severity(scope, incident, *to, reason),
        Command::CallIn {
            incident,
            units,
            note,
        } => escalate::call_in(scope, incident, units, note),
        Command::AcknowledgeAlarm { id, note } => escalate::acknowledge(scope, *id, note),
        Command::SetPolicy {
            text,
            expected_version,
        } => escalate::set_policy(scope, text, *expected_version),
        Command::SetPattern(pattern) => rosters::set_pattern(scope, pattern),
        Command::SetRollCallSchedule(schedule) => {
            rosters::set_rollcall_schedule(scope, schedule.as_ref())
        }
        Command::SetSlot {
            shift,
            scope: who,
            role,
            people,
        } => rosters::set_slot(scope, shift, who, *role, people),
        Command::Swap {
            shift,
            scope: who,
            role,
            swap,
        } => rosters::swap(scope, shift, who, *role, swap),
        Command::ImportRoster {
            rows,
            apply_good_rows,
            dry_run,
        } => rosters::import(scope, rows, *apply_good_rows, *dry_run),
        Command::OpenHandover {
            shift,
            scope: whose,
            content,
            notes,
        } => rosters::open_handover(scope, shift, whose, content, notes.as_deref()),
        Command::UpdateHandover { id, notes } => rosters::update_handover(scope, *id, notes),
        Command::SignHandover { id } => rosters::sign_handover(scope, *id),
        Command::CountersignHandover { id, remarks } => {
            rosters::countersign_handover(scope, *id, remarks)
        }
        Command::SendRollCall {
            posts,
            answer_within,
        } => rosters::send_rollcall(scope, posts, *answer_within, false),
        Command::AnswerRollCall { id } => rosters::answer_rollcall(scope, *id),
        Command::Presence(change) => {
            if scope.principal.role != Role::System {
                return Err(Error::denied("only dutyd itself records presence"));
            }
            scope.emit(
                Subject::Presence {
                    who: change.who.clone(),
                },
                Vec::new(),
                EventBody::Presence(change.clone()),
            )?;
            Ok(Outcome::Done)
        }
        Command::AddGateway {
            spec,
            secret,
            replace,
        } => super::notify::add_gateway(scope, spec, secret.as_ref(), *replace),
        Command::RemoveGateway { id } => super::notify::remove_gateway(scope, id),
        Command::GatewayHealth { id, failing } => {
            super::notify::gateway_health(scope, id, failing.as_deref())
        }
        Command::GatewayReport {
            alarm,
            key,
            state,
            detail,
            acknowledge,
        } => super::notify::gateway_report(scope, *alarm, key, *state, detail, *acknowledge),
        Command::RecordDelivery { alarm, key, report } => {
            super::notify::record_delivery(scope, *alarm, key, report)
        }
        Command::RecordPhoneLookup { phone } => {
            if !scope.principal.role.is_centre() {
                return Err(Error::denied(
                    "searching by phone number is for the centre; a post or unit searches its own incidents by text",
                ));
            }
            scope.emit(
                Subject::Lookup {
                    phone: phone.clone(),
                },
                Vec::new(),
                EventBody::Lookup(PhoneLookup {
                    phone: phone.clone(),
                }),
            )?;
            Ok(Outcome::Done)
        }
    }
}

fn set<T: Clone>(field: &mut T, value: &Option<T>) {
    if let Some(value) = value {
        *field = value.clone();
    }
}

// --- incidents ---------------------------------------------------------------

fn incident_outcome(
    scope: &mut Scope<'_>,
    mut incident: Incident,
    events: Vec<IncidentEvent>,
) -> Result<Outcome> {
    let seq = scope.record_incident(&mut incident, events, false)?;
    Ok(Outcome::Incident {
        incident: Box::new(incident),
        seq,
    })
}

fn create_incident(
    scope: &mut Scope<'_>,
    intake: &Intake,
    dispatch: &[DispatchTo],
) -> Result<Outcome> {
    require_centre(scope.principal, "record incidents")?;
    let territorial = check_intake_refs(scope, Some(&intake.category), intake.place_id.as_deref())?;
    for to in dispatch {
        check_assignee(scope, &to.assignee)?;
    }
    let day = numbering::local_day(scope.now, scope.tz);
    let daily = scope.next_counter(Counter::IncidentOfDay(&day))?;
    let daily = u32::try_from(daily)
        .map_err(|_| Error::Unavailable(format!("incident counter for {day} overflowed")))?;
    let id = scope.next_counter(Counter::IncidentId)?;
    let mut incident = Incident::new(
        id,
        numbering::number(&day, daily),
        intake.clone(),
        territorial,
        scope.now,
        scope.principal,
    );
    let created = IncidentEvent::Created {
        incident: Box::new(incident.clone()),
    };
    scope.record_incident(&mut incident, vec![created], true)?;
    for to in dispatch {
        let events = incident.decide_assign(&to.assignee, to.role, false, scope.now)?;
        scope.record_incident(&mut incident, events, false)?;
    }
    let seq = incident.last_seq;
    Ok(Outcome::Incident {
        incident: Box::new(incident),
        seq,
    })
}

fn step(
    scope: &mut Scope<'_>,
    number: &str,
    selector: Option<&AssignmentSelector>,
    action: AssignmentAction,
    note: &str,
) -> Result<Outcome> {
    let current = scope.existing_incident(number)?;
    require_visible(scope.principal, &current)?;
    let me = scope.principal.role.confined_to();
    let selector = match (selector, &me) {
        (Some(selector), _) => selector.clone(),
        (None, Some(me)) => AssignmentSelector::Assignee(me.clone()),
        (None, None) => {
            return Err(Error::invalid(
                "assignment_id",
                "name the assignment (by id or assignee): the centre acts on behalf of one",
            ));
        }
    };
    if let Some(me) = &me {
        if action == AssignmentAction::Unassign {
            return Err(Error::denied(
                "only the centre can withdraw an assignment; refuse it with a reason instead",
            ));
        }
        let target = current.assignment(&selector)?;
        if &target.assignee != me {
            return Err(Error::denied(format!(
                "{me} may only act on its own assignments (assignment {} is {})",
                target.id, target.assignee
            )));
        }
    }
    let events = current.decide_step(&selector, action, note, scope.principal, scope.acted_at())?;
    incident_outcome(scope, current, events)
}

fn check_category(scope: &Scope<'_>, code: &str) -> Result<()> {
    let category = scope
        .entry::<Category>(code)?
        .ok_or_else(|| Error::not_found(format!("category {code:?}")))?;
    if category.retired {
        return Err(Error::precondition(format!(
            "category {code:?} is retired: pick a current one"
        )));
    }
    Ok(())
}

/// Checks the category and place of an intake; returns the territorial post.
fn check_intake_refs(
    scope: &Scope<'_>,
    category: Option<&str>,
    place: Option<&str>,
) -> Result<Option<String>> {
    if let Some(category) = category {
        check_category(scope, category)?;
    }
    let Some(place_id) = place else {
        return Ok(None);
    };
    let place = scope
        .entry::<Place>(place_id)?
        .ok_or_else(|| Error::not_found(format!("place {place_id:?}")))?;
    if place.retired {
        return Err(Error::precondition(format!(
            "place {place_id:?} is retired"
        )));
    }
    territorial_post(scope, &place)
}

/// The post of the sub-district at or above `place`.
fn territorial_post(scope: &Scope<'_>, place: &Place) -> Result<Option<String>> {
    let mut current = place.clone();
    // The tree is at most four levels deep; the bound guards against a cycle.
    for _ in 0..4 {
        match current.kind {
            PlaceKind::Subdistrict => return Ok(current.post_id.clone()),
            PlaceKind::District => return Ok(None),
            PlaceKind::Community | PlaceKind::Grid => {
                let Some(parent) = &current.parent_id else {
                    return Ok(None);
                };
                match scope.entry::<Place>(parent)? {
                    Some(parent) => current = parent,
                    None => return Ok(None),
                }
            }
        }
    }
    Ok(None)
}

pub(crate) fn check_assignee(scope: &Scope<'_>, assignee: &AssigneeRef) -> Result<()> {
    let retired = match assignee.kind {
        AssigneeKind::Post => scope.entry::<Post>(&assignee.id)?.map(|p| p.retired),
        AssigneeKind::Unit => scope.entry::<Unit>(&assignee.id)?.map(|u| u.retired),
    };
    match retired {
        None => Err(Error::not_found(assignee)),
        Some(true) => Err(Error::precondition(format!(
            "{assignee} is retired and takes no new assignments"
        ))),
        Some(false) => Ok(()),
    }
}

// --- directory ---------------------------------------------------------------

fn audience_of(kind: EntryKind, id: &str) -> Vec<String> {
    match kind {
        EntryKind::Post => vec![AssigneeRef::post(id).to_string()],
        EntryKind::Unit => vec![AssigneeRef::unit(id).to_string()],
        _ => Vec::new(),
    }
}

fn create_entry<T: Entry>(
    scope: &mut Scope<'_>,
    mut entry: T,
    body: fn(EntryEvent<T>) -> EventBody,
) -> Result<T> {
    require_admin(scope.principal, &format!("create a {}", T::KIND.noun()))?;
    entry.validate()?;
    if scope.entry::<T>(entry.id())?.is_some() {
        return Err(Error::AlreadyExists(format!(
            "{} {:?} already exists; update it instead",
            T::KIND.noun(),
            entry.id()
        )));
    }
    entry.stamp(scope.now, scope.now);
    entry.set_retired(false);
    save_entry(scope, entry, EntryChange::Created, body)
}

fn existing_entry<T: Entry>(scope: &Scope<'_>, id: &str) -> Result<T> {
    scope
        .entry::<T>(id)?
        .ok_or_else(|| Error::not_found(format!("{} {id:?}", T::KIND.noun())))
}

fn update_entry<T: Entry>(scope: &Scope<'_>, id: &str, change: impl FnOnce(&mut T)) -> Result<T> {
    require_admin(scope.principal, &format!("change a {}", T::KIND.noun()))?;
    let mut entry = existing_entry::<T>(scope, id)?;
    change(&mut entry);
    entry.validate()?;
    Ok(entry)
}

fn save_entry<T: Entry>(
    scope: &mut Scope<'_>,
    mut entry: T,
    change: EntryChange,
    body: fn(EntryEvent<T>) -> EventBody,
) -> Result<T> {
    let created = entry.created_at();
    entry.stamp(created, scope.now);
    scope.writes.put_entry(&entry)?;
    let subject = Subject::Entry {
        kind: T::KIND,
        id: entry.id().to_owned(),
    };
    let audience = audience_of(T::KIND, entry.id());
    scope.emit(
        subject,
        audience,
        body(EntryEvent {
            change,
            entry: entry.clone(),
        }),
    )?;
    Ok(entry)
}

fn check_post_refs(scope: &Scope<'_>, post: &Post) -> Result<()> {
    if let Some(leader) = &post.responsible_leader_id
        && scope.entry::<Person>(leader)?.is_none()
    {
        return Err(Error::not_found(format!(
            "person {leader:?} (post.responsible_leader_id)"
        )));
    }
    Ok(())
}

fn check_categories(scope: &Scope<'_>, field: &str, codes: &[String]) -> Result<()> {
    for code in codes {
        if scope.entry::<Category>(code)?.is_none() {
            return Err(Error::not_found(format!("category {code:?} ({field})")));
        }
    }
    Ok(())
}

fn check_units(scope: &Scope<'_>, ids: &[String]) -> Result<()> {
    for id in ids {
        if scope.entry::<Unit>(id)?.is_none() {
            return Err(Error::not_found(format!(
                "unit {id:?} (category.default_unit_ids)"
            )));
        }
    }
    Ok(())
}

fn check_place_refs(scope: &Scope<'_>, place: &Place) -> Result<()> {
    if let (Some(parent_id), Some(kind)) = (&place.parent_id, place.kind.parent_kind()) {
        let parent = scope
            .entry::<Place>(parent_id)?
            .ok_or_else(|| Error::not_found(format!("place {parent_id:?} (place.parent_id)")))?;
        if parent.kind != kind {
            return Err(Error::invalid(
                "place.parent_id",
                format!(
                    "a {}'s parent must be a {}, but {parent_id:?} is a {}",
                    place.kind.noun(),
                    kind.noun(),
                    parent.kind.noun()
                ),
            ));
        }
    }
    match (&place.post_id, place.kind) {
        (Some(post), PlaceKind::Subdistrict) => {
            if scope.entry::<Post>(post)?.is_none() {
                return Err(Error::not_found(format!("post {post:?} (place.post_id)")));
            }
        }
        (Some(_), kind) => {
            return Err(Error::invalid(
                "place.post_id",
                format!(
                    "only a sub-district has its own post; a {} takes the post of the \
                     sub-district above it",
                    kind.noun()
                ),
            ));
        }
        (None, _) => {}
    }
    Ok(())
}

fn retire(scope: &mut Scope<'_>, kind: EntryKind, id: &str, restore: bool) -> Result<Outcome> {
    fn flip<T: Entry>(
        scope: &mut Scope<'_>,
        id: &str,
        restore: bool,
        body: fn(EntryEvent<T>) -> EventBody,
    ) -> Result<T> {
        let mut entry = existing_entry::<T>(scope, id)?;
        if entry.retired() != restore {
            // Already where the caller wants it.
            return Ok(entry);
        }
        entry.set_retired(!restore);
        let change = if restore {
            EntryChange::Restored
        } else {
            EntryChange::Retired
        };
        save_entry(scope, entry, change, body)
    }

    // Authorise before any state check: the refusal to retire names open
    // incidents, which only an admin may learn about this way.
    require_admin(scope.principal, &format!("retire a {}", kind.noun()))?;
    if !restore {
        check_retirable(scope, kind, id)?;
    }
    Ok(match kind {
        EntryKind::Post => Outcome::Post(flip(scope, id, restore, EventBody::Post)?),
        EntryKind::Unit => Outcome::Unit(flip(scope, id, restore, EventBody::Unit)?),
        EntryKind::Place => Outcome::Place(flip(scope, id, restore, EventBody::Place)?),
        EntryKind::Person => Outcome::Person(flip(scope, id, restore, EventBody::Person)?),
        EntryKind::Category => Outcome::Category(flip(scope, id, restore, EventBody::Category)?),
    })
}

/// Refuses to retire what live work still depends on.
fn check_retirable(scope: &Scope<'_>, kind: EntryKind, id: &str) -> Result<()> {
    let assignee = match kind {
        EntryKind::Post => Some(AssigneeRef::post(id)),
        EntryKind::Unit => Some(AssigneeRef::unit(id)),
        _ => None,
    };
    if let Some(assignee) = assignee {
        let open = scope.open_incident_ids_of(&assignee)?;
        if !open.is_empty() {
            let mut numbers = Vec::new();
            for id in open.iter().take(3) {
                if let Some(incident) = scope.incident(*id)? {
                    numbers.push(incident.number);
                }
            }
            return Err(Error::precondition(format!(
                "{assignee} is involved in {} open incident(s) ({}{}): re-assign or resolve \
                 them first",
                open.len(),
                numbers.join(", "),
                if open.len() > 3 { ", ..." } else { "" }
            )));
        }
    }
    match kind {
        EntryKind::Place => {
            let children: Vec<String> = scope
                .entries::<Place>()?
                .into_iter()
                .filter(|p| !p.retired && p.parent_id.as_deref() == Some(id))
                .map(|p| p.id)
                .collect();
            if !children.is_empty() {
                return Err(Error::precondition(format!(
                    "place {id:?} has current places under it ({}): retire those first",
                    children.join(", ")
                )));
            }
        }
        EntryKind::Person => {
            let posts: Vec<String> = scope
                .entries::<Post>()?
                .into_iter()
                .filter(|p| !p.retired && p.responsible_leader_id.as_deref() == Some(id))
                .map(|p| p.id)
                .collect();
            if !posts.is_empty() {
                return Err(Error::precondition(format!(
                    "person {id:?} is the responsible leader of post(s) {}: name another first",
                    posts.join(", ")
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

// --- tokens ------------------------------------------------------------------

fn create_token(
    scope: &mut Scope<'_>,
    name: &str,
    role: &Role,
    expires_at: Option<jiff::Timestamp>,
    limits: crate::limits::TokenLimits,
) -> Result<Outcome> {
    require_admin(scope.principal, "create tokens")?;
    if let Some(at) = expires_at
        && at <= scope.now
    {
        return Err(Error::invalid(
            "expires_at",
            format!(
                "{at} is not in the future (dutyd's clock says {})",
                scope.now
            ),
        ));
    }
    if *role == Role::System {
        return Err(Error::invalid("role", "system is the daemon's own role"));
    }
    if let Some(assignee) = role.confined_to() {
        check_assignee(scope, &assignee)?;
    }
    if let Role::Gateway(id) = role
        && scope.gateway(id)?.is_none()
    {
        return Err(Error::not_found(format!(
            "gateway {id:?}: add it first (duty notify gateway add)"
        )));
    }
    let mut new = tokens::generate()?;
    // 32 random bits: a clash is rare but cheap to rule out.
    while scope.token(&new.id)?.is_some() {
        new = tokens::generate()?;
    }
    let record = TokenRecord {
        id: new.id.clone(),
        name: name.to_owned(),
        role: role.clone(),
        secret_hash: new.secret_hash,
        created_at: scope.now,
        created_by: scope.principal.clone(),
        revoked_at: None,
        expires_at,
        limits,
    };
    scope.writes.put_token(&record)?;
    scope.emit(
        Subject::Token {
            id: record.id.clone(),
        },
        Vec::new(),
        EventBody::Token(TokenEvent::Created(record.clone())),
    )?;
    Ok(Outcome::Token {
        record,
        bearer: Some(new.bearer),
    })
}

fn revoke_token(scope: &mut Scope<'_>, id: &str) -> Result<Outcome> {
    require_admin(scope.principal, "revoke tokens")?;
    let record = scope
        .token(id)?
        .ok_or_else(|| Error::not_found(format!("token {id:?}")))?;
    let record = revoke(scope, record)?;
    Ok(Outcome::Token {
        record,
        bearer: None,
    })
}

/// Revokes a token (journaled), unless it already is.
pub(crate) fn revoke(scope: &mut Scope<'_>, mut record: TokenRecord) -> Result<TokenRecord> {
    if record.revoked_at.is_none() {
        record.revoked_at = Some(scope.now);
        scope.writes.put_token(&record)?;
        scope.emit(
            Subject::Token {
                id: record.id.clone(),
            },
            Vec::new(),
            EventBody::Token(TokenEvent::Revoked(record.clone())),
        )?;
    }
    Ok(record)
}
