//! `EscalationService`: the policy (get, replace), what-if simulation, and
//! alarms (list, acknowledge).

use dutyroom_proto::v1 as pb;
use jiff::Timestamp;
use tonic::{Request, Response, Status};

use crate::auth::principal::Principal;
use crate::auth::{principal_of, require_centre};
use crate::convert;
use crate::directory::model::{Post, PostMode, Unit};
use crate::engine::Engine;
use crate::engine::command::{Command, Outcome, PolicyRecord};
use crate::error::{Error, Result};
use crate::escalation::clocks::{self, PlanContext};
use crate::escalation::policy::{self, DEFAULT_POLICY};
use crate::escalation::targets;
use crate::incidents::model::{AssigneeRef, AssignmentRole, Incident, Intake, Source};
use crate::incidents::numbering;
use crate::store::{AlarmList, Page, Reader, Visit};
use crate::validate;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The gRPC escalation service.
#[derive(Clone)]
pub struct Escalation {
    engine: Engine,
}

impl Escalation {
    /// Serves escalation through `engine`.
    pub fn new(engine: Engine) -> Self {
        Escalation { engine }
    }

    fn policy_record(&self) -> Result<Option<PolicyRecord>> {
        self.engine.store().policy_record()
    }
}

fn policy_info(record: Option<PolicyRecord>) -> pb::PolicyInfo {
    match record {
        Some(record) => pb::PolicyInfo {
            version: record.version,
            toml: record.text,
            set_at: Some(convert::ts(record.set_at)),
            set_by: Some(convert::principal_out(&record.set_by)),
        },
        None => pb::PolicyInfo {
            version: 0,
            toml: DEFAULT_POLICY.to_owned(),
            set_at: None,
            set_by: None,
        },
    }
}

#[tonic::async_trait]
impl pb::escalation_service_server::EscalationService for Escalation {
    async fn get_policy(&self, request: Request<pb::GetPolicyRequest>) -> Reply<pb::PolicyInfo> {
        principal_of(&request)?;
        Ok(Response::new(policy_info(self.policy_record()?)))
    }

    async fn set_policy(&self, request: Request<pb::SetPolicyRequest>) -> Reply<pb::PolicyInfo> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let request_id = validate::request_id(&r.request_id)?;
        let text = if r.reset_to_default {
            DEFAULT_POLICY.to_owned()
        } else if r.toml.trim().is_empty() {
            return Err(
                Error::invalid("toml", "is empty: give a policy, or reset_to_default").into(),
            );
        } else {
            r.toml
        };
        let command = Command::SetPolicy {
            text,
            expected_version: (r.expected_version > 0).then_some(r.expected_version),
        };
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Policy(record) => Ok(Response::new(policy_info(Some(record)))),
            other => Err(Error::Storage(format!("SetPolicy answered {other:?}")).into()),
        }
    }

    async fn simulate(&self, request: Request<pb::SimulateRequest>) -> Reply<pb::SimulateReply> {
        let principal = principal_of(&request)?;
        require_centre(&principal, "simulate escalation")?;
        let r = request.into_inner();
        Ok(Response::new(simulate(&self.engine, &r)?))
    }

    async fn list_alarms(
        &self,
        request: Request<pb::ListAlarmsRequest>,
    ) -> Reply<pb::ListAlarmsReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let limit = match r.limit as usize {
            0 => 100,
            n if n > 1000 => {
                return Err(
                    Error::invalid("limit", format!("must be at most 1000 (got {n})")).into(),
                );
            }
            n => n,
        };
        let incident = match r.incident.trim() {
            "" => None,
            text => Some(numbering::parse_ref(
                text,
                self.engine.now(),
                self.engine.time_zone(),
            )?),
        };
        let store = self.engine.store();
        if let Some(number) = &incident {
            // An incident the caller may not see answers as a missing one.
            crate::incidents::service::load_visible(store, &principal, number)?;
        }
        let list = if r.include_acknowledged {
            AlarmList::All
        } else {
            AlarmList::Unacknowledged
        };
        let after = (r.after_id > 0).then(|| list.after_alarm(r.after_id));
        let page = Page::first(limit).after(after);
        let alarms = store
            .alarms(list, &page, |alarm| {
                let wanted = incident
                    .as_deref()
                    .is_none_or(|n| alarm.incident.as_deref() == Some(n));
                Ok(
                    if wanted && crate::visibility::alarm_in(store, &principal, &alarm)? {
                        Visit::Keep(convert::alarm_out(&alarm))
                    } else {
                        Visit::Skip
                    },
                )
            })?
            .items;
        Ok(Response::new(pb::ListAlarmsReply { alarms }))
    }

    async fn acknowledge_alarm(
        &self,
        request: Request<pb::AcknowledgeAlarmRequest>,
    ) -> Reply<pb::Alarm> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let request_id = validate::request_id(&r.request_id)?;
        if r.id == 0 {
            return Err(Error::invalid("id", "is required").into());
        }
        validate::max_len("note", &r.note, validate::MAX_REASON)?;
        let command = Command::AcknowledgeAlarm {
            id: r.id,
            note: r.note.trim().to_owned(),
        };
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Alarm(alarm) => Ok(Response::new(convert::alarm_out(&alarm))),
            other => Err(Error::Storage(format!("AcknowledgeAlarm answered {other:?}")).into()),
        }
    }
}

/// Plans the clocks of a hypothetical incident and walks each one up the
/// ladder, resolving who would be alarmed at each level.
fn simulate(engine: &Engine, r: &pb::SimulateRequest) -> Result<pb::SimulateReply> {
    let store = engine.store();
    validate::slug("category", &r.category)?;
    validate::slug("post", &r.post)?;
    let severity = convert::severity_in("severity", r.severity)?;
    let post: Post = store
        .entry(&r.post)?
        .ok_or_else(|| Error::not_found(format!("post {:?}", r.post)))?;
    let assignee = match r.unit.trim() {
        "" => AssigneeRef::post(&post.id),
        unit => {
            validate::slug("unit", unit)?;
            store
                .entry::<Unit>(unit)?
                .ok_or_else(|| Error::not_found(format!("unit {unit:?}")))?;
            AssigneeRef::unit(unit)
        }
    };
    let at = match &r.at {
        Some(at) => Timestamp::new(at.seconds, at.nanos)
            .map_err(|_| Error::invalid("at", "is not a valid time"))?,
        None => engine.now(),
    };
    let policy = engine.policy();
    let intake = Intake {
        source: Source::Other,
        caller_name: String::new(),
        caller_phone: String::new(),
        address: String::new(),
        place_id: None,
        category: r.category.clone(),
        severity,
        summary: "simulation".into(),
        tags: Vec::new(),
        drill: false,
    };
    let mut incident = Incident::new(
        0,
        "simulation".into(),
        intake,
        Some(post.id.clone()),
        at,
        &Principal::system(),
    );
    for event in incident.decide_assign(&assignee, AssignmentRole::Lead, false, at)? {
        incident.apply(&event, at);
    }
    let tier = match &assignee.kind {
        crate::incidents::model::AssigneeKind::Unit => {
            store.entry::<Unit>(&assignee.id)?.map_or(1, |u| u.tier)
        }
        crate::incidents::model::AssigneeKind::Post => 1,
    };
    let tier_of = |_: &AssigneeRef| tier;
    let context = PlanContext {
        post: Some(&post.id),
        emergency: r.emergency || post.mode == PostMode::Emergency,
        tier_of: &tier_of,
    };
    let roster = store.roster_config()?;
    let duty = crate::rosters::duty::RosterDuty {
        reader: store,
        config: &roster,
        tz: engine.time_zone(),
    };
    let mut clocks_out = Vec::new();
    for clock in clocks::plan(&incident, &policy, &context) {
        let mut levels = Vec::new();
        let mut when = clock.due;
        let steps = policy.ladder.len() + usize::from(policy.repeat_every.is_some());
        for index in 0..steps {
            let number = u8::try_from(index + 1).unwrap_or(u8::MAX);
            let Some(level) = policy.level(number) else {
                break;
            };
            let after = if index < policy.ladder.len() {
                level.after
            } else {
                policy.repeat_every.unwrap_or_default()
            };
            when = when.saturating_add(after).unwrap_or(when);
            let scope_assignee = (clock.kind != clocks::ClockKind::Resolve).then_some(&assignee);
            levels.push(pb::SimulatedLevel {
                level: u32::from(number),
                at: Some(convert::ts(when)),
                raise_severity: level.raise_severity,
                send: level.send.iter().map(|c| c.name().to_owned()).collect(),
                send_to: level.send_to.iter().map(|t| t.name().to_owned()).collect(),
                repeat: index >= policy.ladder.len(),
                targets: convert::targets_out(&targets::resolve(
                    &duty,
                    &level.notify,
                    scope_assignee,
                    Some(&post.id),
                    when,
                )?),
            });
        }
        clocks_out.push(pb::SimulatedClock {
            kind: convert::clock_kind_out(clock.kind) as i32,
            due: Some(convert::ts(clock.due)),
            length: policy::human(clock.due.duration_since(clock.started_at)),
            levels,
        });
    }
    let version = store.policy_record()?.map_or(0, |p| p.version);
    Ok(pb::SimulateReply {
        policy_version: version,
        clocks: clocks_out,
    })
}
