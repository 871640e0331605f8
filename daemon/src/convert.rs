//! Conversions between proto messages and domain types, at the service edge.
//!
//! Inbound conversions validate: an unknown enum value or a missing field is
//! INVALID_ARGUMENT naming the field.

use dutyroom_proto::v1 as pb;
use jiff::Timestamp;

use crate::auth::principal::Principal;
use crate::auth::tokens::TokenRecord;
use crate::directory::model::{Category, Person, Place, PlaceKind, Post, PostMode, Unit};
use crate::error::{Error, Result};
use crate::escalation::alarm::{Alarm, AlarmKind, AlarmTarget};
use crate::escalation::clocks::{Clock, ClockKind};
use crate::incidents::model::{
    AssigneeKind, AssigneeRef, Assignment, AssignmentRole, AssignmentState, Incident, Intake, Note,
    RepeatCall, Severity, Source, Status, mask_phone,
};
use crate::journal::record::{AlarmEvent, EventBody, GatewayEvent, Record, RosterEvent};
use crate::rosters::handover::Handover;
use crate::rosters::model::{DutyRole, RosterConfig, Scope as RosterScope, ShiftId, Slot};
use crate::rosters::rollcall::RollCall;

/// A time for the wire.
pub(crate) fn ts(at: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    }
}

/// A time from the wire; INVALID_ARGUMENT naming `field` when out of range.
pub(crate) fn ts_in(field: &str, at: Option<&prost_types::Timestamp>) -> Result<Option<Timestamp>> {
    at.map(|t| {
        // google.protobuf.Timestamp: nanos are 0..=999,999,999 (jiff would
        // also take negative ones and normalise them).
        if !(0..=999_999_999).contains(&t.nanos) {
            return Err(Error::invalid(
                field,
                format!("nanos must be 0 to 999999999 (got {})", t.nanos),
            ));
        }
        Timestamp::new(t.seconds, t.nanos).map_err(|_| Error::invalid(field, "is not a valid time"))
    })
    .transpose()
}

/// An optional time for the wire.
pub(crate) fn opt_ts(at: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    at.map(ts)
}

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

// --- enums in ----------------------------------------------------------------

pub(crate) fn severity_in(field: &str, value: i32) -> Result<Severity> {
    match pb::Severity::try_from(value) {
        Ok(pb::Severity::I) => Ok(Severity::I),
        Ok(pb::Severity::Ii) => Ok(Severity::II),
        Ok(pb::Severity::Iii) => Ok(Severity::III),
        Ok(pb::Severity::Iv) => Ok(Severity::IV),
        _ => Err(Error::invalid(
            field,
            "must be SEVERITY_I, _II, _III or _IV",
        )),
    }
}

pub(crate) fn source_in(field: &str, value: i32) -> Result<Source> {
    use pb::SourceChannel as S;
    Ok(match S::try_from(value) {
        Ok(S::Police110) => Source::Police110,
        Ok(S::Fire119) => Source::Fire119,
        Ok(S::Medical120) => Source::Medical120,
        Ok(S::Traffic122) => Source::Traffic122,
        Ok(S::Hotline12345) => Source::Hotline12345,
        Ok(S::GridWorker) => Source::GridWorker,
        Ok(S::PostReport) => Source::PostReport,
        Ok(S::Sensor) => Source::Sensor,
        Ok(S::Other) => Source::Other,
        _ => {
            return Err(Error::invalid(
                field,
                "must be a source channel (SOURCE_CHANNEL_POLICE_110, ..._OTHER)",
            ));
        }
    })
}

pub(crate) fn assignee_in(field: &str, value: Option<&pb::Assignee>) -> Result<AssigneeRef> {
    let value = value.ok_or_else(|| Error::invalid(field, "is required"))?;
    let kind = match pb::AssigneeKind::try_from(value.kind) {
        Ok(pb::AssigneeKind::Post) => AssigneeKind::Post,
        Ok(pb::AssigneeKind::Unit) => AssigneeKind::Unit,
        _ => {
            return Err(Error::invalid(
                &format!("{field}.kind"),
                "must be ASSIGNEE_KIND_POST or ASSIGNEE_KIND_UNIT",
            ));
        }
    };
    crate::validate::slug(&format!("{field}.id"), &value.id)?;
    Ok(AssigneeRef {
        kind,
        id: value.id.clone(),
    })
}

pub(crate) fn role_in(field: &str, value: i32) -> Result<AssignmentRole> {
    match pb::AssignmentRole::try_from(value) {
        Ok(pb::AssignmentRole::Lead) => Ok(AssignmentRole::Lead),
        Ok(pb::AssignmentRole::Support) => Ok(AssignmentRole::Support),
        _ => Err(Error::invalid(
            field,
            "must be ASSIGNMENT_ROLE_LEAD or ASSIGNMENT_ROLE_SUPPORT",
        )),
    }
}

pub(crate) fn status_in(field: &str, value: i32) -> Result<Status> {
    use pb::IncidentStatus as S;
    Ok(match S::try_from(value) {
        Ok(S::New) => Status::New,
        Ok(S::Dispatched) => Status::Dispatched,
        Ok(S::Signed) => Status::Signed,
        Ok(S::OnScene) => Status::OnScene,
        Ok(S::Resolved) => Status::Resolved,
        Ok(S::Closed) => Status::Closed,
        Ok(S::Cancelled) => Status::Cancelled,
        Ok(S::Merged) => Status::Merged,
        _ => return Err(Error::invalid(field, "is not an incident status")),
    })
}

pub(crate) fn post_mode_in(field: &str, value: i32) -> Result<PostMode> {
    match pb::PostMode::try_from(value) {
        Ok(pb::PostMode::Normal) => Ok(PostMode::Normal),
        Ok(pb::PostMode::Emergency) => Ok(PostMode::Emergency),
        _ => Err(Error::invalid(
            field,
            "must be POST_MODE_NORMAL or POST_MODE_EMERGENCY",
        )),
    }
}

pub(crate) fn place_kind_in(field: &str, value: i32) -> Result<PlaceKind> {
    match pb::PlaceKind::try_from(value) {
        Ok(pb::PlaceKind::District) => Ok(PlaceKind::District),
        Ok(pb::PlaceKind::Subdistrict) => Ok(PlaceKind::Subdistrict),
        Ok(pb::PlaceKind::Community) => Ok(PlaceKind::Community),
        Ok(pb::PlaceKind::Grid) => Ok(PlaceKind::Grid),
        _ => Err(Error::invalid(
            field,
            "must be PLACE_KIND_DISTRICT, _SUBDISTRICT, _COMMUNITY or _GRID",
        )),
    }
}

// --- enums out ---------------------------------------------------------------

pub(crate) fn severity_out(value: Severity) -> pb::Severity {
    match value {
        Severity::I => pb::Severity::I,
        Severity::II => pb::Severity::Ii,
        Severity::III => pb::Severity::Iii,
        Severity::IV => pb::Severity::Iv,
    }
}

pub(crate) fn source_out(value: Source) -> pb::SourceChannel {
    use pb::SourceChannel as S;
    match value {
        Source::Police110 => S::Police110,
        Source::Fire119 => S::Fire119,
        Source::Medical120 => S::Medical120,
        Source::Traffic122 => S::Traffic122,
        Source::Hotline12345 => S::Hotline12345,
        Source::GridWorker => S::GridWorker,
        Source::PostReport => S::PostReport,
        Source::Sensor => S::Sensor,
        Source::Other => S::Other,
    }
}

pub(crate) fn status_out(value: Status) -> pb::IncidentStatus {
    use pb::IncidentStatus as S;
    match value {
        Status::New => S::New,
        Status::Dispatched => S::Dispatched,
        Status::Signed => S::Signed,
        Status::OnScene => S::OnScene,
        Status::Resolved => S::Resolved,
        Status::Closed => S::Closed,
        Status::Cancelled => S::Cancelled,
        Status::Merged => S::Merged,
    }
}

fn state_out(value: AssignmentState) -> pb::AssignmentState {
    use pb::AssignmentState as S;
    match value {
        AssignmentState::Dispatched => S::Dispatched,
        AssignmentState::SignedFor => S::SignedFor,
        AssignmentState::OnScene => S::OnScene,
        AssignmentState::Done => S::Done,
        AssignmentState::Refused => S::Refused,
        AssignmentState::Withdrawn => S::Withdrawn,
    }
}

// --- messages out ------------------------------------------------------------

pub(crate) fn principal_out(principal: &Principal) -> pb::Principal {
    pb::Principal {
        token_id: principal.token_id.clone(),
        name: principal.name.clone(),
        role: principal.role.to_string(),
    }
}

pub(crate) fn assignee_out(assignee: &AssigneeRef) -> pb::Assignee {
    pb::Assignee {
        kind: match assignee.kind {
            AssigneeKind::Post => pb::AssigneeKind::Post,
            AssigneeKind::Unit => pb::AssigneeKind::Unit,
        } as i32,
        id: assignee.id.clone(),
        name: String::new(),
    }
}

pub(crate) fn assignment_out(assignment: &Assignment) -> pb::Assignment {
    pb::Assignment {
        id: assignment.id,
        assignee: Some(assignee_out(&assignment.assignee)),
        role: match assignment.role {
            AssignmentRole::Lead => pb::AssignmentRole::Lead,
            AssignmentRole::Support => pb::AssignmentRole::Support,
        } as i32,
        state: state_out(assignment.state) as i32,
        dispatched_at: Some(ts(assignment.dispatched_at)),
        signed_at: opt_ts(assignment.signed_at),
        arrived_at: opt_ts(assignment.arrived_at),
        done_at: opt_ts(assignment.done_at),
        ended_at: opt_ts(assignment.ended_at),
        reason: assignment.reason.clone().unwrap_or_default(),
        last_step_on_behalf: assignment.last_step_on_behalf,
    }
}

fn note_out(note: &Note) -> pb::Note {
    pb::Note {
        at: Some(ts(note.at)),
        author: Some(principal_out(&note.author)),
        text: note.text.clone(),
    }
}

fn repeat_call_out(call: &RepeatCall, phone: Phone) -> pb::RepeatCall {
    pb::RepeatCall {
        at: Some(ts(call.at)),
        source: source_out(call.source) as i32,
        caller_name: call.caller_name.clone(),
        caller_phone: match phone {
            Phone::Full => call.caller_phone.clone(),
            Phone::Masked => mask_phone(&call.caller_phone),
        },
        text: call.text.clone(),
        taken_by: Some(principal_out(&call.taken_by)),
    }
}

pub(crate) fn intake_out(intake: &Intake) -> pb::IncidentIntake {
    pb::IncidentIntake {
        source: source_out(intake.source) as i32,
        caller_name: intake.caller_name.clone(),
        caller_phone: intake.caller_phone.clone(),
        address: intake.address.clone(),
        place_id: intake.place_id.clone().unwrap_or_default(),
        category: intake.category.clone(),
        severity: severity_out(intake.severity) as i32,
        summary: intake.summary.clone(),
        tags: intake.tags.clone(),
        drill: intake.drill,
    }
}

/// How much of the caller's phone a reply shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phone {
    /// In full (detail views).
    Full,
    /// Masked (lists).
    Masked,
}

pub(crate) fn incident_out(incident: &Incident, phone: Phone) -> pb::Incident {
    let intake = &incident.intake;
    pb::Incident {
        id: incident.id,
        number: incident.number.clone(),
        status: status_out(incident.status()) as i32,
        source: source_out(intake.source) as i32,
        caller_name: intake.caller_name.clone(),
        caller_phone: match phone {
            Phone::Full => intake.caller_phone.clone(),
            Phone::Masked => mask_phone(&intake.caller_phone),
        },
        address: intake.address.clone(),
        place_id: intake.place_id.clone().unwrap_or_default(),
        territorial_post_id: incident.territorial_post.clone().unwrap_or_default(),
        category: intake.category.clone(),
        severity: severity_out(intake.severity) as i32,
        summary: intake.summary.clone(),
        tags: intake.tags.clone(),
        assignments: incident.assignments.iter().map(assignment_out).collect(),
        notes: incident.notes.iter().map(note_out).collect(),
        created_at: Some(ts(incident.created_at)),
        updated_at: Some(ts(incident.updated_at)),
        resolved_at: opt_ts(incident.resolved_at),
        closed_at: opt_ts(incident.closed_at),
        outcome: incident.outcome.clone().unwrap_or_default(),
        callback_result: incident.callback_result.clone().unwrap_or_default(),
        satisfaction: incident.satisfaction.map(u32::from).unwrap_or(0),
        cancel_reason: incident.cancel_reason.clone().unwrap_or_default(),
        merged_into: incident.merged_into.clone().unwrap_or_default(),
        merged_from: incident.merged_from.clone(),
        last_seq: incident.last_seq,
        created_by: Some(principal_out(&incident.created_by)),
        clocks: incident.clocks.iter().map(clock_out).collect(),
        escalation_level: u32::from(incident.escalation_level),
        drill: intake.drill,
        repeat_calls: incident
            .repeat_calls
            .iter()
            .map(|call| repeat_call_out(call, phone))
            .collect(),
    }
}

pub(crate) fn clock_kind_out(kind: ClockKind) -> pb::ClockKind {
    match kind {
        ClockKind::SignFor => pb::ClockKind::SignFor,
        ClockKind::Arrive => pb::ClockKind::Arrive,
        ClockKind::Resolve => pb::ClockKind::Resolve,
    }
}

pub(crate) fn clock_out(clock: &Clock) -> pb::Clock {
    pb::Clock {
        kind: clock_kind_out(clock.kind) as i32,
        assignment_id: clock.assignment.unwrap_or(0),
        started_at: Some(ts(clock.started_at)),
        due: Some(ts(clock.due)),
        alarms: u32::from(clock.alarms),
        next_alarm_at: opt_ts(clock.next_alarm),
    }
}

pub(crate) fn targets_out(targets: &[AlarmTarget]) -> Vec<pb::AlarmTarget> {
    targets
        .iter()
        .map(|t| pb::AlarmTarget {
            target: t.target.name().to_owned(),
            scope: t.scope.clone().unwrap_or_default(),
            people: t
                .people
                .iter()
                .map(|p| pb::Contact {
                    person_id: p.person_id.clone().unwrap_or_default(),
                    name: p.name.clone(),
                    phone: p.phone.clone(),
                })
                .collect(),
        })
        .collect()
}

pub(crate) fn alarm_out(alarm: &Alarm) -> pb::Alarm {
    pb::Alarm {
        id: alarm.id,
        raised_at: Some(ts(alarm.raised_at)),
        raised_by: Some(principal_out(&alarm.raised_by)),
        kind: match alarm.kind {
            AlarmKind::SignForOverdue => pb::AlarmKind::SignForOverdue,
            AlarmKind::ArriveOverdue => pb::AlarmKind::ArriveOverdue,
            AlarmKind::ResolveOverdue => pb::AlarmKind::ResolveOverdue,
            AlarmKind::Manual => pb::AlarmKind::Manual,
            AlarmKind::ModeSwitched => pb::AlarmKind::ModeSwitched,
            AlarmKind::RollCallMissed => pb::AlarmKind::RollCallMissed,
        } as i32,
        level: u32::from(alarm.level),
        incident: alarm.incident.clone().unwrap_or_default(),
        assignment_id: alarm.assignment.unwrap_or(0),
        assignee: alarm.assignee.as_ref().map(assignee_out),
        post_id: alarm.post.clone().unwrap_or_default(),
        reason: alarm.reason.clone(),
        targets: targets_out(&alarm.targets),
        late_by_seconds: alarm.late_by_secs.unwrap_or(0),
        acknowledged_at: opt_ts(alarm.acknowledged_at),
        acknowledged_by: alarm.acknowledged_by.as_ref().map(principal_out),
        acknowledgement_note: alarm.acknowledgement_note.clone().unwrap_or_default(),
        drill: alarm.drill,
        notifications: alarm.notifications.iter().map(notification_out).collect(),
    }
}

pub(crate) fn notification_out(n: &crate::notify::outbox::Notification) -> pb::Notification {
    use crate::notify::outbox::DeliveryState as S;
    pb::Notification {
        key: n.key.clone(),
        channel: n.channel.name().to_owned(),
        person_id: n.person_id.clone().unwrap_or_default(),
        name: n.name.clone(),
        to: n.to.clone(),
        state: match n.state {
            S::Queued => pb::DeliveryState::Queued,
            S::Sent => pb::DeliveryState::Sent,
            S::Delivered => pb::DeliveryState::Delivered,
            S::Read => pb::DeliveryState::Read,
            S::Failed => pb::DeliveryState::Failed,
            S::Cancelled => pb::DeliveryState::Cancelled,
        } as i32,
        since: Some(ts(n.since)),
        gateway: n.gateway.clone().unwrap_or_default(),
        attempts: n.attempts,
        reason: n.reason.clone().unwrap_or_default(),
    }
}

/// A gateway as listed: never its secret.
pub(crate) fn gateway_out(
    gateway: &crate::notify::gateway::Gateway,
    health: Option<pb::GatewayHealth>,
) -> pb::Gateway {
    pb::Gateway {
        id: gateway.id.clone(),
        url: gateway.url.clone(),
        channels: gateway
            .channels
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
        max_in_flight: gateway.max_in_flight,
        timeout_ms: u32::try_from(gateway.timeout_ms).unwrap_or(u32::MAX),
        retry_for_seconds: gateway.retry_for_secs,
        ca_pem: gateway.ca_pem.clone().unwrap_or_default(),
        failing_since: gateway.failing_since.map(ts),
        failing_error: gateway.failing_error.clone().unwrap_or_default(),
        added_at: Some(ts(gateway.added_at)),
        added_by: gateway.added_by.clone(),
        health,
    }
}

pub(crate) fn post_out(post: &Post) -> pb::Post {
    pb::Post {
        id: post.id.clone(),
        name: post.name.clone(),
        district: post.district.clone(),
        responsible_leader_id: post.responsible_leader_id.clone().unwrap_or_default(),
        contact: post.contact.clone(),
        mode: match post.mode {
            PostMode::Normal => pb::PostMode::Normal,
            PostMode::Emergency => pb::PostMode::Emergency,
        } as i32,
        mode_reason: post.mode_reason.clone().unwrap_or_default(),
        mode_since: opt_ts(post.mode_since),
        retired: post.retired,
        created_at: Some(ts(post.created_at)),
        updated_at: Some(ts(post.updated_at)),
    }
}

pub(crate) fn unit_out(unit: &Unit) -> pb::Unit {
    pb::Unit {
        id: unit.id.clone(),
        name: unit.name.clone(),
        tier: u32::from(unit.tier),
        categories: unit.categories.clone(),
        contact: unit.contact.clone(),
        retired: unit.retired,
        created_at: Some(ts(unit.created_at)),
        updated_at: Some(ts(unit.updated_at)),
    }
}

pub(crate) fn place_out(place: &Place) -> pb::Place {
    pb::Place {
        id: place.id.clone(),
        name: place.name.clone(),
        kind: match place.kind {
            PlaceKind::District => pb::PlaceKind::District,
            PlaceKind::Subdistrict => pb::PlaceKind::Subdistrict,
            PlaceKind::Community => pb::PlaceKind::Community,
            PlaceKind::Grid => pb::PlaceKind::Grid,
        } as i32,
        parent_id: place.parent_id.clone().unwrap_or_default(),
        post_id: place.post_id.clone().unwrap_or_default(),
        retired: place.retired,
        created_at: Some(ts(place.created_at)),
        updated_at: Some(ts(place.updated_at)),
    }
}

pub(crate) fn person_out(person: &Person) -> pb::Person {
    pb::Person {
        id: person.id.clone(),
        name: person.name.clone(),
        phone: person.phone.clone(),
        sms_phone: person.sms_phone.clone(),
        voice_phone: person.voice_phone.clone(),
        webhook: person.webhook.clone(),
        roles: person.roles.clone(),
        retired: person.retired,
        created_at: Some(ts(person.created_at)),
        updated_at: Some(ts(person.updated_at)),
    }
}

pub(crate) fn category_out(category: &Category) -> pb::Category {
    pb::Category {
        code: category.code.clone(),
        name_zh: category.name_zh.clone(),
        name_en: category.name_en.clone(),
        default_unit_ids: category.default_unit_ids.clone(),
        retired: category.retired,
        created_at: Some(ts(category.created_at)),
        updated_at: Some(ts(category.updated_at)),
    }
}

pub(crate) fn token_out(record: &TokenRecord, last_used: Option<Timestamp>) -> pb::TokenInfo {
    pb::TokenInfo {
        id: record.id.clone(),
        name: record.name.clone(),
        role: record.role.to_string(),
        created_at: Some(ts(record.created_at)),
        revoked: record.revoked_at.is_some(),
        revoked_at: opt_ts(record.revoked_at),
        created_by: Some(principal_out(&record.created_by)),
        expires_at: opt_ts(record.expires_at),
        last_used_at: opt_ts(last_used),
        calls_per_second: record.limits.calls_per_second,
        call_burst: record.limits.call_burst,
        max_streams: record.limits.max_streams,
    }
}

// --- messages in -------------------------------------------------------------

/// Directory entries as created: output-only fields are ignored.
pub(crate) fn post_in(post: Option<pb::Post>) -> Result<Post> {
    let post = post.ok_or_else(|| Error::invalid("post", "is required"))?;
    Ok(Post {
        id: post.id.trim().to_owned(),
        name: post.name.trim().to_owned(),
        district: post.district.trim().to_owned(),
        responsible_leader_id: some(&post.responsible_leader_id),
        contact: post.contact.trim().to_owned(),
        mode: PostMode::Normal,
        mode_reason: None,
        mode_since: None,
        retired: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    })
}

pub(crate) fn unit_in(unit: Option<pb::Unit>) -> Result<Unit> {
    let unit = unit.ok_or_else(|| Error::invalid("unit", "is required"))?;
    Ok(Unit {
        id: unit.id.trim().to_owned(),
        name: unit.name.trim().to_owned(),
        tier: u8::try_from(unit.tier).unwrap_or(u8::MAX),
        categories: crate::validate::tidy_labels(&unit.categories),
        contact: unit.contact.trim().to_owned(),
        retired: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    })
}

pub(crate) fn place_in(place: Option<pb::Place>) -> Result<Place> {
    let place = place.ok_or_else(|| Error::invalid("place", "is required"))?;
    Ok(Place {
        id: place.id.trim().to_owned(),
        name: place.name.trim().to_owned(),
        kind: place_kind_in("place.kind", place.kind)?,
        parent_id: some(&place.parent_id),
        post_id: some(&place.post_id),
        retired: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    })
}

pub(crate) fn person_in(person: Option<pb::Person>) -> Result<Person> {
    let person = person.ok_or_else(|| Error::invalid("person", "is required"))?;
    Ok(Person {
        id: person.id.trim().to_owned(),
        name: person.name.trim().to_owned(),
        phone: person.phone.trim().to_owned(),
        sms_phone: person.sms_phone.trim().to_owned(),
        voice_phone: person.voice_phone.trim().to_owned(),
        webhook: person.webhook.trim().to_owned(),
        roles: crate::validate::tidy_labels(&person.roles),
        retired: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    })
}

pub(crate) fn category_in(category: Option<pb::Category>) -> Result<Category> {
    let category = category.ok_or_else(|| Error::invalid("category", "is required"))?;
    Ok(Category {
        code: category.code.trim().to_owned(),
        name_zh: category.name_zh.trim().to_owned(),
        name_en: category.name_en.trim().to_owned(),
        default_unit_ids: crate::validate::tidy_labels(&category.default_unit_ids),
        retired: false,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    })
}

// --- journal -----------------------------------------------------------------

/// A journal record as a wire event.
pub(crate) fn event_out(record: &Record) -> pb::Event {
    use crate::incidents::model::IncidentEvent as E;
    use pb::event::Body;
    let body = match &record.body {
        EventBody::Incident(event) => Some(match event {
            E::Created { incident } => Body::IncidentCreated(pb::IncidentCreated {
                incident: Some(incident_out(incident, Phone::Full)),
            }),
            E::IntakeUpdated {
                changed,
                intake,
                reason,
                ..
            } => Body::IncidentUpdated(pb::IncidentUpdated {
                changed_fields: changed.clone(),
                intake: Some(intake_out(intake)),
                reason: reason.clone(),
            }),
            E::Assignment {
                assignment,
                on_behalf,
                note,
                ..
            } => Body::AssignmentChanged(pb::AssignmentChanged {
                assignment: Some(assignment_out(assignment)),
                on_behalf: *on_behalf,
                note: note.clone(),
            }),
            E::NoteAdded { note } => Body::NoteAdded(pb::NoteAdded {
                note: Some(note_out(note)),
            }),
            E::RepeatCalled { call } => Body::RepeatCallAdded(repeat_call_out(call, Phone::Full)),
            E::Resolved { outcome } => phase(|p| p.outcome = outcome.clone()),
            E::Closed {
                callback_result,
                satisfaction,
            } => phase(|p| {
                p.callback_result = callback_result.clone();
                p.satisfaction = satisfaction.map(u32::from).unwrap_or(0);
            }),
            E::Cancelled { reason } => phase(|p| p.reason = reason.clone()),
            E::MergedInto { into } => phase(|p| p.other_incident = into.clone()),
            E::Absorbed { from } => phase(|p| p.other_incident = from.clone()),
            E::Reopened { reason } => phase(|p| p.reason = reason.clone()),
            E::Alarmed { alarm, .. } | E::AlarmAcknowledged { alarm } => {
                Body::Alarm(alarm_out(alarm))
            }
            E::AlarmNotified { alarm, key } => Body::AlarmNotified(pb::AlarmNotified {
                alarm: Some(alarm_out(alarm)),
                key: key.clone(),
            }),
            E::SeverityRaised { from, to, reason } => Body::SeverityRaised(pb::SeverityRaised {
                from: severity_out(*from) as i32,
                to: severity_out(*to) as i32,
                reason: reason.clone(),
            }),
            E::ClocksChanged { reason } => Body::ClocksChanged(pb::ClocksChanged {
                reason: reason.clone(),
            }),
        }),
        EventBody::Post(e) => Some(Body::PostChanged(post_out(&e.entry))),
        EventBody::Unit(e) => Some(Body::UnitChanged(unit_out(&e.entry))),
        EventBody::Place(e) => Some(Body::PlaceChanged(place_out(&e.entry))),
        EventBody::Person(e) => Some(Body::PersonChanged(person_out(&e.entry))),
        EventBody::Category(e) => Some(Body::CategoryChanged(category_out(&e.entry))),
        EventBody::Token(e) => Some(Body::TokenChanged(token_out(e.record(), None))),
        EventBody::Alarm(AlarmEvent::Notified { alarm, key }) => {
            Some(Body::AlarmNotified(pb::AlarmNotified {
                alarm: Some(alarm_out(alarm)),
                key: key.clone(),
            }))
        }
        EventBody::Alarm(e) => Some(Body::Alarm(alarm_out(e.alarm()))),
        EventBody::Gateway(
            GatewayEvent::Added(g)
            | GatewayEvent::Removed(g)
            | GatewayEvent::Failing(g)
            | GatewayEvent::Recovered(g),
        ) => Some(Body::GatewayChanged(gateway_out(g, None))),
        EventBody::Policy(e) => Some(Body::PolicyChanged(pb::PolicyChanged {
            version: e.version,
            toml: e.text.clone(),
        })),
        EventBody::Roster(RosterEvent::Config(config)) => {
            Some(Body::RosterConfigChanged(roster_config_out(config, "")))
        }
        EventBody::Roster(RosterEvent::Slot {
            shift,
            scope,
            role,
            slot,
            ..
        }) => Some(Body::SlotChanged(slot_out(shift, scope, *role, slot))),
        EventBody::Handover(handover) => Some(Body::HandoverChanged(handover_out(handover))),
        EventBody::RollCall(rollcall) => Some(Body::RollCallChanged(rollcall_out(rollcall))),
        EventBody::Presence(change) => Some(Body::PresenceChanged(presence_out(
            &change.who,
            change.online,
            Some(change.since),
            change.last_seen,
            0,
            change.clock_offset_ms,
            false,
        ))),
        EventBody::Lookup(lookup) => Some(Body::PhoneLookedUp(pb::PhoneLookup {
            phone: lookup.phone.clone(),
        })),
    };
    pb::Event {
        seq: record.seq,
        at: Some(ts(record.at)),
        principal: Some(principal_out(&record.principal)),
        request_id: record.request_id.clone().unwrap_or_default(),
        kind: record.body.kind(),
        subject_kind: record.subject.kind_noun().to_owned(),
        subject_id: record.subject.display_id(),
        incident_state: record.incident.as_ref().map(|after| pb::IncidentState {
            status: status_out(after.status) as i32,
            severity: severity_out(after.severity) as i32,
            escalation_level: u32::from(after.escalation_level),
            clocks: after.clocks.iter().map(clock_out).collect(),
            drill: after.drill,
        }),
        reported_at: record.reported_at.map(ts),
        clock_skew_ms: record.clock_skew_ms.unwrap_or_default(),
        body,
    }
}

/// `post:<id>` or `unit:<id>` as an assignee (anything else: a post).
pub(crate) fn assignee_key_out(who: &str) -> pb::Assignee {
    let assignee = match who.split_once(':') {
        Some(("unit", id)) => AssigneeRef::unit(id),
        Some((_, id)) => AssigneeRef::post(id),
        None => AssigneeRef::post(who),
    };
    assignee_out(&assignee)
}

/// One client's presence.
pub(crate) fn presence_out(
    who: &str,
    online: bool,
    since: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    streams: u32,
    offset_ms: Option<i64>,
    skewed: bool,
) -> pb::PresenceEntry {
    pb::PresenceEntry {
        who: Some(assignee_key_out(who)),
        online,
        since: since.map(ts),
        last_seen: last_seen.map(ts),
        streams,
        clock_offset_ms: offset_ms.unwrap_or_default(),
        clock_skewed: skewed,
        clock_measured: offset_ms.is_some(),
    }
}

fn phase(fill: impl FnOnce(&mut pb::IncidentPhaseChanged)) -> pb::event::Body {
    let mut changed = pb::IncidentPhaseChanged::default();
    fill(&mut changed);
    pb::event::Body::IncidentPhaseChanged(changed)
}

// --- rosters ------------------------------------------------------------------

pub(crate) fn roster_config_out(config: &RosterConfig, zone: &str) -> pb::RosterConfig {
    pb::RosterConfig {
        patterns: config
            .patterns
            .iter()
            .map(|p| pb::Pattern {
                from: p.from.to_string(),
                shifts: p
                    .shifts
                    .iter()
                    .map(|s| pb::ShiftDef {
                        name: s.name.clone(),
                        start: s.start.strftime("%H:%M").to_string(),
                        minutes: s.minutes,
                    })
                    .collect(),
            })
            .collect(),
        rollcall_times: config
            .rollcall
            .iter()
            .flat_map(|r| r.times.iter().map(|t| t.strftime("%H:%M").to_string()))
            .collect(),
        rollcall_answer_within_seconds: config
            .rollcall
            .as_ref()
            .map_or(0, |r| r.answer_within.as_secs().max(0) as u32),
        time_zone: zone.to_owned(),
    }
}

pub(crate) fn slot_key_out(shift: &ShiftId, scope: &RosterScope, role: DutyRole) -> pb::SlotKey {
    pb::SlotKey {
        date: shift.date.to_string(),
        shift: shift.shift.clone(),
        scope: scope.key(),
        role: role.name().to_owned(),
    }
}

pub(crate) fn slot_out(
    shift: &ShiftId,
    scope: &RosterScope,
    role: DutyRole,
    slot: &Slot,
) -> pb::Slot {
    pb::Slot {
        key: Some(slot_key_out(shift, scope, role)),
        people: slot.people.clone(),
        swaps: slot
            .swaps
            .iter()
            .map(|s| pb::SwapRecord {
                replaced: s.replaced.clone(),
                by: s.by.clone(),
                from: opt_ts(s.from),
                until: opt_ts(s.until),
                asked_by: s.asked_by.clone().unwrap_or_default(),
                approved_by: s.approved_by.clone().unwrap_or_default(),
                reason: s.reason.clone(),
                recorded_by: Some(principal_out(&s.recorded_by)),
                recorded_at: Some(ts(s.recorded_at)),
            })
            .collect(),
        starts: None,
        ends: None,
        effective: Vec::new(),
    }
}

pub(crate) fn shift_out(shift: &ShiftId, start: Timestamp, end: Timestamp) -> pb::ShiftInfo {
    pb::ShiftInfo {
        date: shift.date.to_string(),
        shift: shift.shift.clone(),
        starts: Some(ts(start)),
        ends: Some(ts(end)),
    }
}

pub(crate) fn handover_out(h: &Handover) -> pb::Handover {
    let c = &h.content;
    pb::Handover {
        scope: h.scope.key(),
        id: h.id,
        shift: Some(shift_out(&h.shift, h.shift_start, h.shift_end)),
        status: h.stage().name().to_owned(),
        opened_at: Some(ts(h.opened_at)),
        opened_by: Some(principal_out(&h.opened_by)),
        open_incidents: c
            .open_incidents
            .iter()
            .map(|i| pb::HandoverIncident {
                number: i.number.clone(),
                severity: severity_out(i.severity) as i32,
                category: i.category.clone(),
                status: i.status.clone(),
                summary: i.summary.clone(),
                lead: i.lead.clone().unwrap_or_default(),
            })
            .collect(),
        unsigned_dispatches: c
            .unsigned_dispatches
            .iter()
            .map(|d| pb::HandoverDispatch {
                number: d.number.clone(),
                assignee: Some(assignee_out(&d.assignee)),
                dispatched_at: Some(ts(d.dispatched_at)),
            })
            .collect(),
        overdue: c
            .overdue
            .iter()
            .map(|o| pb::HandoverClock {
                number: o.number.clone(),
                clock: o.clock.clone(),
                due: Some(ts(o.due)),
                alarms: u32::from(o.alarms),
            })
            .collect(),
        alarms: c.alarms.iter().map(alarm_out).collect(),
        mode_changes: c
            .mode_changes
            .iter()
            .map(|m| pb::HandoverModeChange {
                post: m.post.clone(),
                mode: m.mode.clone(),
                reason: m.reason.clone(),
                at: Some(ts(m.at)),
            })
            .collect(),
        counts: Some(pb::ShiftCounts {
            received: c.counts.received,
            resolved: c.counts.resolved,
            closed: c.counts.closed,
            cancelled: c.counts.cancelled,
            escalations: c.counts.escalations,
            open_at_handover: c.counts.open_at_handover,
        }),
        notes: h.notes.clone(),
        signed_out_at: opt_ts(h.signed_out_at),
        signed_out_by: h.signed_out_by.as_ref().map(principal_out),
        countersigned_at: opt_ts(h.countersigned_at),
        countersigned_by: h.countersigned_by.as_ref().map(principal_out),
        remarks: h.remarks.clone(),
    }
}

pub(crate) fn rollcall_out(r: &RollCall) -> pb::RollCall {
    pb::RollCall {
        id: r.id,
        sent_at: Some(ts(r.sent_at)),
        sent_by: Some(principal_out(&r.sent_by)),
        answer_by: Some(ts(r.answer_by)),
        scheduled: r.scheduled,
        posts: r
            .posts
            .iter()
            .map(|e| pb::RollCallAnswer {
                post: e.post.clone(),
                answered_at: opt_ts(e.answered_at),
                answered_by: e.answered_by.as_ref().map(principal_out),
                latency_ms: e.answered_at.map_or(0, |at| {
                    at.duration_since(r.sent_at).as_millis().max(0) as u64
                }),
                alarms: u32::from(e.alarms),
            })
            .collect(),
    }
}
