//! What the console knows: the board's incidents, the directory, alarms and
//! the journal position, kept current by applying Watch events. Pure: no
//! I/O; what it cannot derive from an event it asks for in
//! [`Model::needs_fetch`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dutyroom_proto::v1 as pb;
use pb::event::Body;

/// Statuses shown on the board: open, and resolved awaiting the callback.
pub fn on_board(status: i32) -> bool {
    use pb::IncidentStatus as S;
    matches!(
        S::try_from(status),
        Ok(S::New | S::Dispatched | S::Signed | S::OnScene | S::Resolved)
    )
}

/// Open (not yet resolved, closed, cancelled or merged).
pub fn is_open(status: i32) -> bool {
    use pb::IncidentStatus as S;
    matches!(
        S::try_from(status),
        Ok(S::New | S::Dispatched | S::Signed | S::OnScene)
    )
}

/// Everything loaded at (re)connection.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The journal head the snapshot was taken at or after.
    pub head_seq: u64,
    /// Open and resolved incidents.
    pub incidents: Vec<pb::Incident>,
    /// Posts.
    pub posts: Vec<pb::Post>,
    /// Units.
    pub units: Vec<pb::Unit>,
    /// Categories.
    pub categories: Vec<pb::Category>,
    /// Places.
    pub places: Vec<pb::Place>,
    /// People.
    pub people: Vec<pb::Person>,
    /// Unacknowledged alarms.
    pub alarms: Vec<pb::Alarm>,
    /// Roll-calls with a post still to answer.
    pub rollcalls: Vec<pb::RollCall>,
    /// Who is connected (the centre's view; empty for a post).
    pub presence: Vec<pb::PresenceEntry>,
    /// The SMS and voice gateways (the centre's view; empty for a post).
    pub gateways: Vec<pb::Gateway>,
}

/// The console's picture of the duty room.
#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Board incidents by id.
    pub incidents: BTreeMap<u64, pb::Incident>,
    by_number: HashMap<String, u64>,
    /// Posts by id.
    pub posts: BTreeMap<String, pb::Post>,
    /// Units by id.
    pub units: BTreeMap<String, pb::Unit>,
    /// Categories by code.
    pub categories: BTreeMap<String, pb::Category>,
    /// Places by id.
    pub places: BTreeMap<String, pb::Place>,
    /// People by id.
    pub people: BTreeMap<String, pb::Person>,
    /// Unacknowledged alarms by id.
    pub alarms: BTreeMap<u64, pb::Alarm>,
    /// Roll-calls with a post still to answer, by id.
    pub rollcalls: BTreeMap<u64, pb::RollCall>,
    /// Presence by `post:<id>` / `unit:<id>`.
    pub presence: BTreeMap<String, pb::PresenceEntry>,
    /// The SMS and voice gateways by id (a failing one needs the officer).
    pub gateways: BTreeMap<String, pb::Gateway>,
    /// The post or unit this console speaks for (`post:xinhua`), if any.
    pub own: Option<String>,
    /// The last journal seq applied: resume the stream from here.
    pub last_seq: u64,
    /// Incidents the model learned of but cannot build from events alone
    /// (a reopened one, or a post's first sight of an incident).
    pub needs_fetch: BTreeSet<String>,
    /// Bumped on every change, so views can cache derived orderings.
    pub generation: u64,
}

/// What an applied event means for the people watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A new incident arrived.
    NewIncident(String),
    /// A new alarm was raised.
    Alarm(u64),
    /// An order for this console's own post or unit.
    NewOrder(String),
    /// A roll-call this console's post must answer.
    RollCall(u64),
    /// A post or unit sent an order back (退单): incident number, who.
    SentBack(String, String),
    /// A post dropped off (its id).
    Offline(String),
    /// A gateway started failing (its id): texts and calls are not going out.
    GatewayFailing(String),
}

/// `post:<id>` or `unit:<id>` for an assignee.
pub fn assignee_key(assignee: &pb::Assignee) -> String {
    let kind = if assignee.kind == pb::AssigneeKind::Unit as i32 {
        "unit"
    } else {
        "post"
    };
    format!("{kind}:{}", assignee.id)
}

/// A presence entry's key.
pub fn presence_key(entry: &pb::PresenceEntry) -> String {
    entry.who.as_ref().map(assignee_key).unwrap_or_default()
}

/// Is this roll-call waiting for `own` (a post's answer)?
pub fn waits_for(rollcall: &pb::RollCall, own: &str) -> bool {
    rollcall
        .posts
        .iter()
        .any(|p| p.answered_at.is_none() && format!("post:{}", p.post) == own)
}

/// Was `own` assigned to this incident only in assignments that ended
/// without its work (sent back or withdrawn)? Then it is no longer its.
pub fn only_ended_for(incident: &pb::Incident, own: &str) -> bool {
    let mut ours = incident
        .assignments
        .iter()
        .filter(|a| a.assignee.as_ref().is_some_and(|x| assignee_key(x) == own))
        .peekable();
    ours.peek().is_some()
        && ours.all(|a| {
            matches!(
                pb::AssignmentState::try_from(a.state),
                Ok(pb::AssignmentState::Refused | pb::AssignmentState::Withdrawn)
            )
        })
}

/// This incident's assignment of `own` that is waiting to be signed for.
pub fn unsigned_for<'a>(incident: &'a pb::Incident, own: &str) -> Option<&'a pb::Assignment> {
    incident.assignments.iter().find(|a| {
        a.state == pb::AssignmentState::Dispatched as i32
            && a.assignee.as_ref().is_some_and(|x| assignee_key(x) == own)
    })
}

/// This incident's active assignment of `own`, if any.
pub fn mine<'a>(incident: &'a pb::Incident, own: &str) -> Option<&'a pb::Assignment> {
    incident.assignments.iter().find(|a| {
        matches!(
            pb::AssignmentState::try_from(a.state),
            Ok(pb::AssignmentState::Dispatched
                | pb::AssignmentState::SignedFor
                | pb::AssignmentState::OnScene)
        ) && a.assignee.as_ref().is_some_and(|x| assignee_key(x) == own)
    })
}

impl Model {
    /// A model from a fresh snapshot.
    pub fn from_snapshot(snapshot: Snapshot) -> Model {
        let mut model = Model {
            last_seq: snapshot.head_seq,
            ..Model::default()
        };
        for incident in snapshot.incidents {
            model.put(incident);
        }
        model.posts = snapshot
            .posts
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        model.units = snapshot
            .units
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        model.categories = snapshot
            .categories
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect();
        model.places = snapshot
            .places
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        model.people = snapshot
            .people
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        model.alarms = snapshot.alarms.into_iter().map(|a| (a.id, a)).collect();
        model.rollcalls = snapshot.rollcalls.into_iter().map(|r| (r.id, r)).collect();
        model.presence = snapshot
            .presence
            .into_iter()
            .map(|p| (presence_key(&p), p))
            .collect();
        model.gateways = snapshot
            .gateways
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect();
        model
    }

    /// The board incident with this number.
    pub fn by_number(&self, number: &str) -> Option<&pb::Incident> {
        self.by_number
            .get(number)
            .and_then(|id| self.incidents.get(id))
    }

    /// Adds or replaces an incident (and drops it if it left the board).
    pub fn put(&mut self, incident: pb::Incident) {
        self.generation += 1;
        self.needs_fetch.remove(&incident.number);
        if on_board(incident.status) {
            self.by_number.insert(incident.number.clone(), incident.id);
            self.incidents.insert(incident.id, incident);
        } else {
            self.by_number.remove(&incident.number);
            self.incidents.remove(&incident.id);
        }
    }

    /// Folds one journal event in. Returns what deserves attention.
    pub fn apply(&mut self, event: &pb::Event) -> Vec<Notice> {
        if event.seq <= self.last_seq {
            return Vec::new();
        }
        self.last_seq = event.seq;
        self.generation += 1;
        let mut notices = Vec::new();
        if let (Some(own), Some(Body::AssignmentChanged(changed))) = (&self.own, &event.body)
            && let Some(assignment) = &changed.assignment
            && assignment.state == pb::AssignmentState::Dispatched as i32
            && assignment
                .assignee
                .as_ref()
                .is_some_and(|a| assignee_key(a) == *own)
        {
            notices.push(Notice::NewOrder(event.subject_id.clone()));
        }
        // The centre hears of every send-back at once.
        if self.own.is_none()
            && let Some(Body::AssignmentChanged(changed)) = &event.body
            && let Some(assignment) = &changed.assignment
            && assignment.state == pb::AssignmentState::Refused as i32
        {
            let who = assignment
                .assignee
                .as_ref()
                .map(assignee_key)
                .unwrap_or_default();
            notices.push(Notice::SentBack(event.subject_id.clone(), who));
        }
        match &event.body {
            Some(Body::IncidentCreated(created)) => {
                let known = created
                    .incident
                    .as_ref()
                    .and_then(|i| self.incidents.get(&i.id))
                    .is_some_and(|i| i.last_seq >= event.seq);
                if let Some(incident) = created.incident.as_ref().filter(|_| !known) {
                    let mut incident = incident.clone();
                    if let Some(state) = &event.incident_state {
                        apply_state(&mut incident, state);
                    }
                    incident.last_seq = event.seq;
                    notices.push(Notice::NewIncident(incident.number.clone()));
                    self.put(incident);
                }
            }
            Some(Body::Alarm(alarm)) => {
                if alarm.acknowledged_at.is_some() {
                    self.alarms.remove(&alarm.id);
                } else {
                    if !self.alarms.contains_key(&alarm.id) {
                        notices.push(Notice::Alarm(alarm.id));
                    }
                    self.alarms.insert(alarm.id, alarm.clone());
                }
                if event.subject_kind == "incident" {
                    self.apply_to_incident(event);
                }
            }
            Some(Body::AlarmNotified(notified)) => {
                // Only an alarm still waiting is kept; its texts' states
                // follow it.
                if let Some(alarm) = &notified.alarm
                    && let Some(waiting) = self.alarms.get_mut(&alarm.id)
                {
                    waiting.notifications.clone_from(&alarm.notifications);
                }
                if event.subject_kind == "incident" {
                    self.apply_to_incident(event);
                }
            }
            Some(Body::RollCallChanged(rollcall)) => {
                if let Some(own) = &self.own
                    && waits_for(rollcall, own)
                    && !self.rollcalls.contains_key(&rollcall.id)
                {
                    notices.push(Notice::RollCall(rollcall.id));
                }
                if rollcall.posts.iter().any(|p| p.answered_at.is_none()) {
                    self.rollcalls.insert(rollcall.id, rollcall.clone());
                } else {
                    self.rollcalls.remove(&rollcall.id);
                }
            }
            Some(Body::PresenceChanged(entry)) => {
                let key = presence_key(entry);
                let was_online = self.presence.get(&key).is_none_or(|p| p.online);
                if self.own.is_none()
                    && was_online
                    && !entry.online
                    && let Some(id) = key.strip_prefix("post:")
                {
                    notices.push(Notice::Offline(id.to_owned()));
                }
                self.presence.insert(key, entry.clone());
            }
            Some(Body::GatewayChanged(gateway)) => {
                if event.kind == "gateway.removed" {
                    self.gateways.remove(&gateway.id);
                } else {
                    let was_failing = self
                        .gateways
                        .get(&gateway.id)
                        .is_some_and(|g| g.failing_since.is_some());
                    if gateway.failing_since.is_some() && !was_failing {
                        notices.push(Notice::GatewayFailing(gateway.id.clone()));
                    }
                    self.gateways.insert(gateway.id.clone(), gateway.clone());
                }
            }
            Some(Body::PostChanged(post)) => {
                self.posts.insert(post.id.clone(), post.clone());
            }
            Some(Body::UnitChanged(unit)) => {
                self.units.insert(unit.id.clone(), unit.clone());
            }
            Some(Body::PlaceChanged(place)) => {
                self.places.insert(place.id.clone(), place.clone());
            }
            Some(Body::PersonChanged(person)) => {
                self.people.insert(person.id.clone(), person.clone());
            }
            Some(Body::CategoryChanged(category)) => {
                self.categories
                    .insert(category.code.clone(), category.clone());
            }
            _ if event.subject_kind == "incident" => self.apply_to_incident(event),
            _ => {}
        }
        notices
    }

    fn apply_to_incident(&mut self, event: &pb::Event) {
        let number = &event.subject_id;
        let Some(id) = self.by_number.get(number).copied() else {
            // Not on the board: if it is (back) on it now, fetch it whole.
            if event
                .incident_state
                .as_ref()
                .is_some_and(|s| on_board(s.status))
            {
                self.needs_fetch.insert(number.clone());
            }
            return;
        };
        let Some(incident) = self.incidents.get_mut(&id) else {
            return;
        };
        // Already in the incident as loaded (the snapshot raced the stream).
        if event.seq <= incident.last_seq {
            return;
        }
        match &event.body {
            Some(Body::IncidentUpdated(updated)) => {
                if let Some(intake) = &updated.intake {
                    incident.source = intake.source;
                    incident.caller_name = intake.caller_name.clone();
                    incident.caller_phone = intake.caller_phone.clone();
                    incident.address = intake.address.clone();
                    incident.place_id = intake.place_id.clone();
                    incident.category = intake.category.clone();
                    incident.severity = intake.severity;
                    incident.summary = intake.summary.clone();
                    incident.tags = intake.tags.clone();
                }
                if updated.changed_fields.iter().any(|f| f == "place_id") {
                    // The territorial post follows the place: ask for it.
                    self.needs_fetch.insert(number.clone());
                }
            }
            Some(Body::AssignmentChanged(changed)) => {
                if let Some(assignment) = &changed.assignment {
                    match incident
                        .assignments
                        .iter_mut()
                        .find(|a| a.id == assignment.id)
                    {
                        Some(slot) => *slot = assignment.clone(),
                        None => incident.assignments.push(assignment.clone()),
                    }
                }
            }
            Some(Body::NoteAdded(added)) => {
                if let Some(note) = &added.note {
                    incident.notes.push(note.clone());
                }
            }
            Some(Body::RepeatCallAdded(call)) => incident.repeat_calls.push(call.clone()),
            Some(Body::IncidentPhaseChanged(phase)) => match event.kind.as_str() {
                "incident.resolved" => {
                    incident.outcome = phase.outcome.clone();
                    incident.resolved_at = event.at;
                    mark_active(incident, pb::AssignmentState::Done);
                }
                "incident.closed" => {
                    incident.callback_result = phase.callback_result.clone();
                    incident.satisfaction = phase.satisfaction;
                    incident.closed_at = event.at;
                }
                "incident.cancelled" => {
                    incident.cancel_reason = phase.reason.clone();
                    mark_active(incident, pb::AssignmentState::Withdrawn);
                }
                "incident.merged_into" => {
                    incident.merged_into = phase.other_incident.clone();
                    mark_active(incident, pb::AssignmentState::Withdrawn);
                }
                "incident.absorbed" => incident.merged_from.push(phase.other_incident.clone()),
                "incident.reopened" => {
                    incident.outcome.clear();
                    incident.resolved_at = None;
                    incident.closed_at = None;
                }
                _ => {}
            },
            Some(Body::SeverityRaised(raised)) => incident.severity = raised.to,
            _ => {}
        }
        if let Some(state) = &event.incident_state {
            apply_state(incident, state);
        }
        incident.last_seq = event.seq;
        if event.at.is_some() {
            incident.updated_at = event.at;
        }
        let status = incident.status;
        if !on_board(status) {
            let number = incident.number.clone();
            self.incidents.remove(&id);
            self.by_number.remove(&number);
        }
    }
}

fn apply_state(incident: &mut pb::Incident, state: &pb::IncidentState) {
    incident.status = state.status;
    incident.severity = state.severity;
    incident.escalation_level = state.escalation_level;
    incident.clocks = state.clocks.clone();
}

fn mark_active(incident: &mut pb::Incident, to: pb::AssignmentState) {
    use pb::AssignmentState as S;
    for assignment in &mut incident.assignments {
        if matches!(
            S::try_from(assignment.state),
            Ok(S::Dispatched | S::SignedFor | S::OnScene)
        ) {
            assignment.state = to as i32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: u64, status: pb::IncidentStatus) -> pb::Incident {
        pb::Incident {
            id,
            number: format!("20261123-{id:04}"),
            status: status as i32,
            severity: pb::Severity::Ii as i32,
            summary: "冒烟".into(),
            ..Default::default()
        }
    }

    fn event(
        seq: u64,
        number: &str,
        kind: &str,
        body: Body,
        status: pb::IncidentStatus,
    ) -> pb::Event {
        pb::Event {
            seq,
            kind: kind.into(),
            subject_kind: "incident".into(),
            subject_id: number.into(),
            incident_state: Some(pb::IncidentState {
                status: status as i32,
                severity: pb::Severity::Ii as i32,
                escalation_level: 0,
                clocks: vec![],
                drill: false,
            }),
            body: Some(body),
            ..Default::default()
        }
    }

    #[test]
    fn events_build_the_board_and_old_ones_are_ignored() {
        let mut model = Model::from_snapshot(Snapshot {
            head_seq: 10,
            ..Snapshot::default()
        });
        let created = event(
            11,
            "20261123-0001",
            "incident.created",
            Body::IncidentCreated(pb::IncidentCreated {
                incident: Some(incident(1, pb::IncidentStatus::New)),
            }),
            pb::IncidentStatus::New,
        );
        assert_eq!(
            model.apply(&created),
            vec![Notice::NewIncident("20261123-0001".into())]
        );
        assert!(model.apply(&created).is_empty(), "replayed: ignored");
        let assigned = event(
            12,
            "20261123-0001",
            "incident.assigned",
            Body::AssignmentChanged(pb::AssignmentChanged {
                assignment: Some(pb::Assignment {
                    id: 1,
                    state: pb::AssignmentState::Dispatched as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            pb::IncidentStatus::Dispatched,
        );
        model.apply(&assigned);
        let board = model.by_number("20261123-0001").expect("on the board");
        assert_eq!(board.status, pb::IncidentStatus::Dispatched as i32);
        assert_eq!(board.assignments.len(), 1);
        assert_eq!(model.last_seq, 12);
    }

    #[test]
    fn closed_incidents_leave_and_reopened_ones_are_fetched() {
        let mut model = Model::from_snapshot(Snapshot {
            head_seq: 1,
            incidents: vec![incident(1, pb::IncidentStatus::Resolved)],
            ..Snapshot::default()
        });
        let closed = event(
            2,
            "20261123-0001",
            "incident.closed",
            Body::IncidentPhaseChanged(pb::IncidentPhaseChanged {
                callback_result: "满意".into(),
                satisfaction: 5,
                ..Default::default()
            }),
            pb::IncidentStatus::Closed,
        );
        model.apply(&closed);
        assert!(model.incidents.is_empty());
        let reopened = event(
            3,
            "20261123-0001",
            "incident.reopened",
            Body::IncidentPhaseChanged(pb::IncidentPhaseChanged::default()),
            pb::IncidentStatus::New,
        );
        model.apply(&reopened);
        assert!(model.needs_fetch.contains("20261123-0001"));
    }

    #[test]
    fn alarms_come_and_go_with_acknowledgement() {
        let mut model = Model::default();
        let mut alarm = pb::Alarm {
            id: 7,
            level: 1,
            ..Default::default()
        };
        let raised = pb::Event {
            seq: 1,
            kind: "alarm.raised".into(),
            subject_kind: "alarm".into(),
            body: Some(Body::Alarm(alarm.clone())),
            ..Default::default()
        };
        assert_eq!(model.apply(&raised), vec![Notice::Alarm(7)]);
        alarm.acknowledged_at = Some(prost_types::Timestamp::default());
        let acked = pb::Event {
            seq: 2,
            body: Some(Body::Alarm(alarm)),
            ..raised
        };
        model.apply(&acked);
        assert!(model.alarms.is_empty());
    }
}
