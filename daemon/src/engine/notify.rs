//! Notification command handlers: planning an alarm's texts and calls in the
//! alarm's own write (the durable outbox), recording how each one fared,
//! and adding or removing the gateways they are handed to.

use crate::auth::principal::Role;
use crate::auth::require_admin;
use crate::directory::model::Person;
use crate::engine::command::{GatewaySpec, Outcome};
use crate::engine::scope::Scope;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::incidents::model::IncidentEvent;
use crate::journal::record::{AlarmEvent, EventBody, GatewayEvent, Subject};
use crate::notify::gateway::{self, Gateway, Secret};
use crate::notify::outbox::{self, DeliveryState, Numbers};
use crate::notify::webhook::Channel;
use crate::store::Reader;

/// People's own alarm numbers, from the directory.
struct Directory<'a, R: Reader>(&'a R);

impl<R: Reader> Numbers for Directory<'_, R> {
    fn number_for(&self, person: &str, channel: Channel) -> Option<String> {
        self.0
            .entry::<Person>(person)
            .ok()
            .flatten()
            .map(|p| p.number_for(channel).to_owned())
    }
}

/// Plans `alarm`'s notifications on the channels of `send` that a gateway
/// serves, to the people of the roles in `send_to` (empty: every role);
/// they are stored with the alarm (its id must be set).
pub(crate) fn plan(
    scope: &Scope<'_>,
    alarm: &mut Alarm,
    send: &[Channel],
    send_to: &[crate::escalation::policy::Target],
) -> Result<()> {
    if send.is_empty() {
        return Ok(());
    }
    let served: Vec<Channel> = scope
        .gateways()?
        .iter()
        .flat_map(|g| g.channels.iter().copied())
        .collect();
    let reached: Vec<crate::escalation::alarm::AlarmTarget> = alarm
        .targets
        .iter()
        .filter(|t| send_to.is_empty() || send_to.contains(&t.target))
        .cloned()
        .collect();
    alarm.notifications = outbox::plan(
        alarm.id,
        &reached,
        send,
        &served,
        &Directory(scope),
        scope.now,
    );
    Ok(())
}

/// What the delivery task (or a gateway's callback) says became of one
/// notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryReport {
    /// Its new state.
    pub state: DeliveryState,
    /// The gateway concerned.
    pub gateway: Option<String>,
    /// POSTs made so far (kept when lower than what is recorded).
    pub attempts: u32,
    /// Why, for a failure; a gateway's word otherwise.
    pub reason: Option<String>,
}

/// Records how a notification fared: on the alarm, and as an event on its
/// incident's timeline (or the alarm's own, when it is about no incident).
/// A report that would step back (a late "sent" after "read") changes
/// nothing.
pub(crate) fn record_delivery(
    scope: &mut Scope<'_>,
    alarm_id: u64,
    key: &str,
    report: &DeliveryReport,
) -> Result<Outcome> {
    if scope.principal.role != Role::System {
        return Err(Error::denied(
            "only dutyd's delivery task records how a notification fared",
        ));
    }
    let mut alarm = scope
        .alarm(alarm_id)?
        .ok_or_else(|| Error::not_found(format!("alarm {alarm_id}")))?;
    let Some(notification) = alarm.notifications.iter_mut().find(|n| n.key == key) else {
        return Err(Error::not_found(format!(
            "notification {key:?} of alarm {alarm_id}"
        )));
    };
    if !notification.state.may_become(report.state) {
        return Ok(Outcome::Alarm(Box::new(alarm)));
    }
    notification.state = report.state;
    notification.since = scope.now;
    if report.gateway.is_some() {
        notification.gateway.clone_from(&report.gateway);
    }
    notification.attempts = notification.attempts.max(report.attempts);
    notification.reason.clone_from(&report.reason);
    scope.writes.put_alarm(&alarm)?;
    record_alarm_change(scope, &alarm, key)?;
    Ok(Outcome::Alarm(Box::new(alarm)))
}

/// A gateway's callback: what became of a notification it was sent, and/or
/// that its person acknowledged the alarm from the phone — recorded in that
/// person's name (the gateway's token as the principal). Only the gateway
/// the notification was handed to may report on it; to any other it does
/// not exist. A callback that overtakes the record of its own send is told
/// to retry; an acknowledgement needs the text to have got through.
pub(crate) fn gateway_report(
    scope: &mut Scope<'_>,
    alarm_id: u64,
    key: &str,
    state: Option<DeliveryState>,
    detail: &str,
    acknowledge: bool,
) -> Result<Outcome> {
    let Role::Gateway(me) = &scope.principal.role else {
        return Err(Error::denied(
            "only a gateway's token reports deliveries (role gateway:<id>)",
        ));
    };
    let missing = || Error::not_found(format!("notification {key:?}"));
    let mut alarm = scope.alarm(alarm_id)?.ok_or_else(missing)?;
    let gateways = scope.gateways()?;
    let Some(notification) = alarm.notifications.iter_mut().find(|n| n.key == key) else {
        return Err(missing());
    };
    match notification.gateway.as_deref() {
        Some(gateway) if gateway == me => {}
        // Being sent to this gateway right now: its answer is not recorded
        // yet. Nothing changes; the gateway tries again.
        None if notification.state.is_owed()
            && gateway::for_channel(&gateways, notification.channel)
                .is_some_and(|g| &g.id == me) =>
        {
            return Err(Error::Unavailable(format!(
                "notification {key:?} is being recorded as sent: report again in a moment"
            )));
        }
        _ => return Err(missing()),
    }
    let person = notification.name.clone();
    let mut changed = false;
    if let Some(state) = state
        && notification.state.may_become(state)
    {
        notification.state = state;
        notification.since = scope.now;
        notification.reason = (!detail.is_empty()).then(|| detail.to_owned());
        changed = true;
    }
    let reached = matches!(
        notification.state,
        DeliveryState::Sent | DeliveryState::Delivered | DeliveryState::Read
    );
    if acknowledge && !reached {
        return Err(Error::precondition(format!(
            "notification {key:?} is {}: a person it did not reach cannot acknowledge through it",
            notification.state.name()
        )));
    }
    if changed {
        scope.writes.put_alarm(&alarm)?;
        record_alarm_change(scope, &alarm, key)?;
    }
    if acknowledge && alarm.acknowledged_at.is_none() {
        alarm.acknowledged_at = Some(scope.now);
        alarm.acknowledged_by = Some(crate::auth::principal::Principal {
            token_id: scope.principal.token_id.clone(),
            name: person,
            role: scope.principal.role.clone(),
        });
        alarm.acknowledgement_note = Some(if detail.is_empty() {
            format!("acknowledged from the phone, via {me}")
        } else {
            format!("acknowledged from the phone, via {me}: {detail}")
        });
        cancel_owed(&mut alarm, scope.now);
        scope.writes.put_alarm(&alarm)?;
        super::escalate::record_acknowledged(scope, &alarm)?;
    }
    Ok(Outcome::Alarm(Box::new(alarm)))
}

/// The event saying one of `alarm`'s notifications changed.
fn record_alarm_change(scope: &mut Scope<'_>, alarm: &Alarm, key: &str) -> Result<()> {
    match alarm.incident_id {
        Some(incident_id) => {
            let mut incident = scope
                .incident(incident_id)?
                .ok_or_else(|| Error::Storage(format!("alarm {}'s incident vanished", alarm.id)))?;
            let events = vec![IncidentEvent::AlarmNotified {
                alarm: Box::new(alarm.clone()),
                key: key.to_owned(),
            }];
            scope.record_incident(&mut incident, events, false)?;
        }
        None => {
            scope.emit(
                Subject::Alarm { id: alarm.id },
                alarm.audience(),
                EventBody::Alarm(AlarmEvent::Notified {
                    alarm: Box::new(alarm.clone()),
                    key: key.to_owned(),
                }),
            )?;
        }
    }
    Ok(())
}

/// When an alarm is acknowledged, what it still owes is not sent: the
/// person it was for no longer needs waking (stored with the alarm; the
/// acknowledgement's own event carries it).
pub(crate) fn cancel_owed(alarm: &mut Alarm, now: jiff::Timestamp) {
    for notification in &mut alarm.notifications {
        if notification.state.is_owed() {
            notification.state = DeliveryState::Cancelled;
            notification.since = now;
            notification.reason = Some("the alarm was acknowledged before it was sent".into());
        }
    }
}

/// Adds a gateway, or replaces one. Without a secret one is made (and
/// answered once).
pub(crate) fn add_gateway(
    scope: &mut Scope<'_>,
    spec: &GatewaySpec,
    secret: Option<&Secret>,
    replace: bool,
) -> Result<Outcome> {
    require_admin(scope.principal, "add notification gateways")?;
    let gateway = Gateway {
        id: spec.id.clone(),
        url: spec.url.clone(),
        channels: spec.channels.clone(),
        max_in_flight: spec.max_in_flight,
        timeout_ms: spec.timeout_ms,
        retry_for_secs: spec.retry_for_secs,
        ca_pem: spec.ca_pem.clone(),
        failing_since: None,
        failing_error: None,
        added_at: scope.now,
        added_by: scope.principal.name.clone(),
    };
    gateway.validate()?;
    if let Some(secret) = secret {
        gateway::check_secret(secret.0.as_bytes())?;
    }
    let existing = scope.gateway(&gateway.id)?;
    if existing.is_some() && !replace {
        return Err(Error::AlreadyExists(format!(
            "gateway {:?} exists: remove it first, or replace it",
            gateway.id
        )));
    }
    let made = match (secret, &existing) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => Some(Secret(gateway::new_secret()?)),
    };
    let stored = secret.or(made.as_ref()).map(|s| s.0.as_str());
    scope.writes.put_gateway(&gateway, stored)?;
    scope.emit(
        Subject::Gateway {
            id: gateway.id.clone(),
        },
        Vec::new(),
        EventBody::Gateway(GatewayEvent::Added(gateway.clone())),
    )?;
    Ok(Outcome::Gateway {
        gateway: Box::new(gateway),
        made_secret: made,
    })
}

/// Records that a gateway started failing (`Some(error)`) or got a message
/// through again (`None`): the delivery task's own command. Nothing
/// changes (and nothing is recorded) when it already stands so.
pub(crate) fn gateway_health(
    scope: &mut Scope<'_>,
    id: &str,
    failing: Option<&str>,
) -> Result<Outcome> {
    if scope.principal.role != Role::System {
        return Err(Error::denied(
            "only dutyd's delivery task records a gateway's health",
        ));
    }
    let Some(mut gateway) = scope.gateway(id)? else {
        return Ok(Outcome::Done);
    };
    let event = match (failing, gateway.failing_since) {
        (Some(error), None) => {
            gateway.failing_since = Some(scope.now);
            gateway.failing_error = Some(error.to_owned());
            GatewayEvent::Failing(gateway.clone())
        }
        (None, Some(_)) => {
            gateway.failing_since = None;
            gateway.failing_error = None;
            GatewayEvent::Recovered(gateway.clone())
        }
        _ => return Ok(Outcome::Done),
    };
    scope.writes.put_gateway(&gateway, None)?;
    scope.emit(
        Subject::Gateway { id: id.to_owned() },
        Vec::new(),
        EventBody::Gateway(event),
    )?;
    Ok(Outcome::Done)
}

/// Removes a gateway (and its secret).
pub(crate) fn remove_gateway(scope: &mut Scope<'_>, id: &str) -> Result<Outcome> {
    require_admin(scope.principal, "remove notification gateways")?;
    let gateway = scope
        .gateway(id)?
        .ok_or_else(|| Error::not_found(format!("gateway {id:?}")))?;
    scope.writes.remove_gateway(id);
    scope.emit(
        Subject::Gateway { id: id.to_owned() },
        Vec::new(),
        EventBody::Gateway(GatewayEvent::Removed(gateway.clone())),
    )?;
    // Its tokens end with it: a gateway added later under the same id must
    // not hear from the old one's adapter.
    let role = Role::Gateway(id.to_owned());
    for token in scope.tokens_of(&role)? {
        super::execute::revoke(scope, token)?;
    }
    Ok(Outcome::Gateway {
        gateway: Box::new(gateway),
        made_secret: None,
    })
}
