//! The delivery task: sends what the outbox owes and records how it fared.
//!
//! Each pass reads the owed notifications from the store (the outbox index
//! is the truth, so a restart simply starts again from it), and POSTs
//! each one that is due to the first gateway serving its channel, at most
//! `max_in_flight` at once per gateway, signed afresh on every attempt. A
//! 2xx is recorded as *sent*; a refusal (a 4xx other than 408/429, a bad
//! URL) as *failed* at once; anything else is retried with back-off and
//! jitter until the gateway's `retry_for` is over, then recorded as failed
//! with the last error. Retries live in memory: after a restart every owed
//! notification is tried again at once, under the same idempotency key.
//!
//! What each gateway is going through (owed, in flight, failures in a row)
//! is kept in [`Deliveries`] for `ListGateways` and the console.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::gateway::{self, Gateway};
use super::outbox::{DeliveryState, Notification};
use super::retry;
use super::text;
use super::webhook::{self, Channel, Message, PostError, Recipient};
use crate::auth::principal::Principal;
use crate::directory::model::{Category, Place};
use crate::engine::Engine;
use crate::engine::command::Command;
use crate::engine::notify::DeliveryReport;
use crate::error::{Error, Result};
use crate::escalation::alarm::Alarm;
use crate::store::Reader;

/// How long to wait when nothing is owed (a new alarm wakes the task).
const IDLE: Duration = Duration::from_secs(3600);
/// Pause after an unexpected error reading the store.
const PAUSE: Duration = Duration::from_secs(1);
/// Longest reason kept from a failure.
const REASON_CHARS: usize = 200;

/// How one gateway is doing, as the delivery task sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayStatus {
    /// Notifications waiting for it.
    pub owed: u32,
    /// Being sent to it now.
    pub in_flight: u32,
    /// Failed attempts in a row.
    pub failures_in_a_row: u32,
    /// Since when it has been failing.
    pub failing_since: Option<Timestamp>,
    /// Its last failed attempt's error.
    pub last_error: Option<String>,
    /// When it last took a notification.
    pub last_sent_at: Option<Timestamp>,
}

/// Shared between the delivery task and the services that report on it.
#[derive(Debug, Default)]
pub struct Deliveries {
    gateways: Mutex<HashMap<String, GatewayStatus>>,
}

impl Deliveries {
    /// How gateway `id` is doing (all zero when it has not been used).
    pub fn status(&self, id: &str) -> GatewayStatus {
        self.lock().get(id).cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, GatewayStatus>> {
        self.gateways
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut GatewayStatus)) {
        change(self.lock().entry(id.to_owned()).or_default());
    }
}

/// A retry waiting for its time.
#[derive(Debug, Clone)]
struct Retry {
    attempts: u32,
    next_at: Timestamp,
}

/// One POST's outcome, back from its task.
struct Sent {
    key: String,
    alarm: u64,
    gateway: Gateway,
    attempts: u32,
    result: std::result::Result<u16, PostError>,
    /// A 2xx whose `sent` record was made (else it must be tried again).
    recorded: bool,
}

/// What a running send task is, should it panic.
struct Sending {
    key: String,
    alarm: u64,
    gateway: Gateway,
    attempts: u32,
}

/// The delivery task's memory: retries waiting for their time, and what is
/// being sent now.
#[derive(Default)]
struct Work {
    retries: HashMap<String, Retry>,
    in_flight: HashSet<String>,
    tasks: HashMap<tokio::task::Id, Sending>,
}

/// Runs until `shutdown` fires or the engine stops.
pub async fn run(engine: Engine, deliveries: Arc<Deliveries>, shutdown: CancellationToken) {
    let mut ticks = engine.clock_ticks();
    let mut work = Work::default();
    let mut sending: JoinSet<Sent> = JoinSet::new();
    loop {
        if shutdown.is_cancelled() || engine.fatal().is_cancelled() {
            return;
        }
        let wait = match pass(&engine, &deliveries, &mut work, &mut sending).await {
            Ok(wait) => wait,
            Err(Error::Unavailable(_)) => return,
            Err(error) => {
                tracing::error!(%error, "sending notifications");
                PAUSE
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = engine.outbox_changed().notified() => {}
            Some(done) = sending.join_next_with_id(), if !sending.is_empty() => {
                let sent = match done {
                    Ok((id, sent)) => {
                        work.tasks.remove(&id);
                        sent
                    }
                    // A send task that panicked: its notification is tried
                    // again later, and its slot at the gateway is freed.
                    Err(error) => {
                        let Some(lost) = work.tasks.remove(&error.id()) else {
                            continue;
                        };
                        tracing::error!(%error, key = %lost.key, "a notification's send task failed");
                        Sent {
                            key: lost.key,
                            alarm: lost.alarm,
                            gateway: lost.gateway,
                            attempts: lost.attempts,
                            result: Err(PostError::Http("the send task failed".into())),
                            recorded: false,
                        }
                    }
                };
                work.in_flight.remove(&sent.key);
                settle(&engine, &deliveries, &mut work.retries, sent).await;
            }
            () = tokio::time::sleep(wait) => {}
            () = moved(&mut ticks) => {}
        }
    }
}

/// The channel an owed notification's key ends with.
fn channel_of_key(key: &str) -> Option<Channel> {
    [Channel::Sms, Channel::Voice, Channel::Webhook]
        .into_iter()
        .find(|c| key.strip_suffix(c.name()).is_some_and(|k| k.ends_with('-')))
}

/// Starts every owed notification that is due and has room at its
/// gateway; answers how long until the next retry is due. Reads an alarm
/// only for a notification it is about to send: the owed index says the
/// rest (its keys name the channel), so a long outage with thousands owed
/// costs a scan of keys per pass, not of alarms.
async fn pass(
    engine: &Engine,
    deliveries: &Deliveries,
    work: &mut Work,
    sending: &mut JoinSet<Sent>,
) -> Result<Duration> {
    let store = engine.store();
    let gateways = store.gateways()?;
    let owed = store.owed_notifications()?;
    let now = engine.now();
    let owed_keys: HashSet<&str> = owed.iter().map(|(_, key)| key.as_str()).collect();
    work.retries
        .retain(|key, _| owed_keys.contains(key.as_str()));
    let mut owed_to: HashMap<String, u32> = HashMap::new();
    let mut busy: HashMap<String, u32> = deliveries
        .lock()
        .iter()
        .map(|(id, status)| (id.clone(), status.in_flight))
        .collect();
    let mut next_due: Option<Timestamp> = None;
    for (alarm_id, key) in &owed {
        let Some(channel) = channel_of_key(key) else {
            continue;
        };
        let gateway = gateway::for_channel(&gateways, channel);
        if let Some(gateway) = gateway {
            *owed_to.entry(gateway.id.clone()).or_default() += 1;
        }
        if work.in_flight.contains(key) {
            continue;
        }
        let retry = work.retries.get(key).cloned();
        if let Some(retry) = &retry
            && retry.next_at > now
        {
            next_due = Some(next_due.map_or(retry.next_at, |t: Timestamp| t.min(retry.next_at)));
            continue;
        }
        if let Some(gateway) = gateway
            && busy.get(&gateway.id).copied().unwrap_or(0) >= gateway.max_in_flight
        {
            continue;
        }
        let Some(alarm) = store.alarm(*alarm_id)? else {
            continue;
        };
        let Some(notification) = alarm.notifications.iter().find(|n| &n.key == key) else {
            continue;
        };
        if !notification.state.is_owed() {
            continue;
        }
        let Some(gateway) = gateway else {
            let reason = format!(
                "no gateway sends {} any more (add one with `duty notify gateway add`)",
                channel.name()
            );
            if let Err(error) = record(
                engine,
                *alarm_id,
                key,
                DeliveryState::Failed,
                None,
                0,
                Some(reason),
            )
            .await
            {
                tracing::warn!(%error, %key, "recording a notification no gateway sends");
            }
            continue;
        };
        let Some(secret) = store.gateway_secret(&gateway.id)? else {
            continue;
        };
        *busy.entry(gateway.id.clone()).or_default() += 1;
        deliveries.update(&gateway.id, |s| s.in_flight += 1);
        let attempts = retry.map_or(0, |r| r.attempts) + 1;
        let message = message_for(store, &alarm, notification);
        // A person's own webhook is posted to directly, paced and signed
        // by the gateway that sends webhooks.
        let url = if channel == Channel::Webhook {
            notification.to.clone()
        } else {
            gateway.url.clone()
        };
        work.in_flight.insert(key.clone());
        let gateway = gateway.clone();
        let alarm_id = *alarm_id;
        let key = key.clone();
        let task_engine = engine.clone();
        let task_gateway = gateway.clone();
        let task_key = key.clone();
        let task = sending.spawn(async move {
            let (engine, gateway, key) = (task_engine, task_gateway, task_key);
            let timestamp = Timestamp::now().as_second();
            let result = webhook::post(
                &url,
                secret.as_bytes(),
                &message,
                timestamp,
                gateway.timeout(),
                gateway.ca_pem.as_deref(),
            )
            .await;
            // Recorded here, so that many sends are recorded together (the
            // writer batches them) rather than one after another.
            let recorded = match &result {
                Ok(_) => match record(
                    &engine,
                    alarm_id,
                    &key,
                    DeliveryState::Sent,
                    Some(gateway.id.clone()),
                    attempts,
                    None,
                )
                .await
                {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(%error, %key, "recording a sent notification");
                        false
                    }
                },
                Err(_) => false,
            };
            Sent {
                key,
                alarm: alarm_id,
                gateway,
                attempts,
                result,
                recorded,
            }
        });
        work.tasks.insert(
            task.id(),
            Sending {
                key,
                alarm: alarm_id,
                gateway,
                attempts,
            },
        );
    }
    for gateway in &gateways {
        let owed = owed_to.get(&gateway.id).copied().unwrap_or(0);
        deliveries.update(&gateway.id, |s| s.owed = owed);
    }
    Ok(next_due.map_or(IDLE, |at| {
        Duration::try_from(at.duration_since(now))
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(1))
    }))
}

/// Records a finished POST: sent, refused, or a retry planned (failed for
/// good once the gateway's `retry_for` is over).
async fn settle(
    engine: &Engine,
    deliveries: &Deliveries,
    retries: &mut HashMap<String, Retry>,
    sent: Sent,
) {
    let now = engine.now();
    let id = sent.gateway.id.clone();
    deliveries.update(&id, |s| s.in_flight = s.in_flight.saturating_sub(1));
    let outcome = match sent.result {
        // Taken, but its record failed: the outbox still owes it. Tried
        // again after a back-off (the gateway sends each key once), never
        // at once and over and over.
        Ok(_) if !sent.recorded => {
            let delay = sent
                .gateway
                .backoff()
                .delay(sent.attempts, retry::jitter_seed());
            let next_at = now
                .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
                .unwrap_or(now);
            retries.insert(
                sent.key,
                Retry {
                    attempts: sent.attempts,
                    next_at,
                },
            );
            Ok(())
        }
        Ok(_) => {
            retries.remove(&sent.key);
            deliveries.update(&id, |s| {
                s.failures_in_a_row = 0;
                s.failing_since = None;
                s.last_sent_at = Some(now);
            });
            if stored_failing(engine, &id) {
                health(engine, &id, None).await
            } else {
                Ok(())
            }
        }
        Err(error) => {
            let said = clip(&error.to_string());
            let mut in_a_row = 0;
            deliveries.update(&id, |s| {
                s.failures_in_a_row += 1;
                s.failing_since.get_or_insert(now);
                s.last_error = Some(said.clone());
                in_a_row = s.failures_in_a_row;
            });
            if in_a_row >= super::gateway::FAILING_AFTER
                && !stored_failing(engine, &id)
                && let Err(error) = health(engine, &id, Some(said.clone())).await
            {
                tracing::warn!(%error, gateway = %id, "recording a failing gateway");
            }
            let backoff = sent.gateway.backoff();
            let delay = backoff.delay(sent.attempts, retry::jitter_seed());
            let queued_at = engine
                .store()
                .alarm(sent.alarm)
                .ok()
                .flatten()
                .and_then(|a| a.notifications.into_iter().find(|n| n.key == sent.key))
                .map_or(now, |n: Notification| n.since);
            let elapsed = Duration::try_from(now.duration_since(queued_at)).unwrap_or_default();
            if !error.retryable() {
                retries.remove(&sent.key);
                record(
                    engine,
                    sent.alarm,
                    &sent.key,
                    DeliveryState::Failed,
                    Some(id),
                    sent.attempts,
                    Some(format!("refused: {said}")),
                )
                .await
            } else if backoff.gives_up(elapsed, delay) {
                retries.remove(&sent.key);
                record(
                    engine,
                    sent.alarm,
                    &sent.key,
                    DeliveryState::Failed,
                    Some(id),
                    sent.attempts,
                    Some(format!(
                        "gave up after {} attempts over {}: {said}",
                        sent.attempts,
                        crate::escalation::policy::human(
                            jiff::SignedDuration::try_from(elapsed).unwrap_or_default()
                        )
                    )),
                )
                .await
            } else {
                let next_at = now
                    .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
                    .unwrap_or(now);
                tracing::info!(key = %sent.key, attempts = sent.attempts, error = %said,
                    "notification not taken; retrying");
                retries.insert(
                    sent.key,
                    Retry {
                        attempts: sent.attempts,
                        next_at,
                    },
                );
                Ok(())
            }
        }
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, "recording a notification's delivery");
    }
}

/// Whether the store says gateway `id` is failing (the task's own copy may
/// be older than the record of it).
fn stored_failing(engine: &Engine, id: &str) -> bool {
    engine
        .store()
        .gateway(id)
        .ok()
        .flatten()
        .is_some_and(|g| g.failing_since.is_some())
}

/// Records that a gateway is failing (`Some`) or got through again.
async fn health(engine: &Engine, id: &str, failing: Option<String>) -> Result<()> {
    let command = Command::GatewayHealth {
        id: id.to_owned(),
        failing,
    };
    engine
        .submit(Principal::system(), None, command)
        .await
        .map(|_| ())
}

/// Submits a delivery report as dutyd's own command.
async fn record(
    engine: &Engine,
    alarm: u64,
    key: &str,
    state: DeliveryState,
    gateway: Option<String>,
    attempts: u32,
    reason: Option<String>,
) -> Result<()> {
    let command = Command::RecordDelivery {
        alarm,
        key: key.to_owned(),
        report: DeliveryReport {
            state,
            gateway,
            attempts,
            reason,
        },
    };
    engine
        .submit(Principal::system(), None, command)
        .await
        .map(|_| ())
}

/// The message a gateway receives for `notification`.
fn message_for(store: &crate::store::Store, alarm: &Alarm, notification: &Notification) -> Message {
    let incident = alarm
        .incident_id
        .and_then(|id| store.incident(id).ok().flatten());
    let category = incident.as_ref().and_then(|i| {
        store
            .entry::<Category>(&i.intake.category)
            .ok()
            .flatten()
            .map(|c| c.name_zh)
    });
    let place = incident.as_ref().and_then(|i| {
        i.intake
            .place_id
            .as_deref()
            .and_then(|p| store.entry::<Place>(p).ok().flatten())
            .map(|p| p.name)
    });
    Message {
        idempotency_key: notification.key.clone(),
        channel: notification.channel,
        to: Recipient {
            name: notification.name.clone(),
            // A webhook's "to" is its URL, not a number to dial.
            phone: if notification.channel == Channel::Webhook {
                String::new()
            } else {
                notification.to.clone()
            },
        },
        alarm_id: alarm.id,
        incident: alarm.incident.clone(),
        level: alarm.level,
        text: text::alarm_text(alarm, category.as_deref(), place.as_deref()),
        drill: alarm.drill,
    }
}

fn clip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(REASON_CHARS)
        .collect()
}

/// Resolves when a test clock moves; never for the wall clock.
async fn moved(ticks: &mut Option<tokio::sync::watch::Receiver<Timestamp>>) {
    match ticks {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_is_read_back_from_its_key() {
        for channel in [Channel::Sms, Channel::Voice, Channel::Webhook] {
            let key = format!("alarm-7-wangwei-{}", channel.name());
            assert_eq!(channel_of_key(&key), Some(channel));
        }
        assert_eq!(channel_of_key("alarm-7-wangwei-fax"), None);
        assert_eq!(channel_of_key("sms"), None);
    }
}
