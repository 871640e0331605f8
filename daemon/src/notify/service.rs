//! `NotifyService`: the gateways alarms' texts and calls are handed to —
//! add, list (with how each is doing), remove, and a signed test message.

use std::sync::Arc;
use std::time::Instant;

use dutyroom_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::delivery::Deliveries;
use super::gateway::{self, Secret};
use super::outbox::DeliveryState;
use super::webhook::{self, Channel, Message, Recipient};
use crate::auth::{principal_of, require_admin, require_centre};
use crate::convert;
use crate::engine::Engine;
use crate::engine::command::{Command, GatewaySpec, Outcome};
use crate::error::{Error, Result};
use crate::store::Reader;
use crate::validate;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// Longest phone number a test may be sent to.
const MAX_NUMBER: usize = 24;

/// The gRPC notify service.
#[derive(Clone)]
pub struct Notify {
    engine: Engine,
    deliveries: Arc<Deliveries>,
}

impl Notify {
    /// Serves gateways through `engine`, reporting what `deliveries` sees.
    pub fn new(engine: Engine, deliveries: Arc<Deliveries>) -> Self {
        Notify { engine, deliveries }
    }

    fn gateway_out(&self, gateway: &gateway::Gateway) -> pb::Gateway {
        let status = self.deliveries.status(&gateway.id);
        convert::gateway_out(
            gateway,
            Some(pb::GatewayHealth {
                owed: status.owed,
                in_flight: status.in_flight,
                failures_in_a_row: status.failures_in_a_row,
                failing_since: status.failing_since.map(convert::ts),
                last_error: status.last_error.unwrap_or_default(),
                last_sent_at: status.last_sent_at.map(convert::ts),
            }),
        )
    }
}

/// `sms` or `voice`, said so a person can fix it.
pub fn channel_in(field: &str, text: &str) -> Result<Channel> {
    match text.trim() {
        "sms" => Ok(Channel::Sms),
        "voice" => Ok(Channel::Voice),
        "webhook" => Ok(Channel::Webhook),
        other => Err(Error::invalid(
            field,
            format!("{other:?} is not a channel: say sms, voice or webhook"),
        )),
    }
}

/// Characters that reorder text on a terminal (a hostile gateway's
/// `detail` must not disguise what a console shows).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The alarm id in an idempotency key `alarm-<id>-…`.
fn alarm_of_key(key: &str) -> Result<u64> {
    key.strip_prefix("alarm-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::invalid(
                "key",
                format!("{key:?} is not a notification's key (alarm-<id>-<person>-<channel>)"),
            )
        })
}

#[tonic::async_trait]
impl pb::notify_service_server::NotifyService for Notify {
    async fn report_delivery(
        &self,
        request: Request<pb::ReportDeliveryRequest>,
    ) -> Reply<pb::ReportDeliveryReply> {
        let principal = principal_of(&request)?;
        if !matches!(principal.role, crate::auth::principal::Role::Gateway(_)) {
            return Err(Error::denied(
                "only a gateway's token reports deliveries (a token of role gateway:<id>)",
            )
            .into());
        }
        let r = request.into_inner();
        let request_id = validate::request_id(&r.request_id)?;
        validate::max_len("key", &r.key, 200)?;
        let alarm = alarm_of_key(r.key.trim())?;
        validate::max_len("detail", &r.detail, validate::MAX_REASON)?;
        // It reaches consoles: no control or bidi-override characters.
        let detail: String = r
            .detail
            .chars()
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
            .collect();
        let state = match pb::DeliveryState::try_from(r.state) {
            Ok(pb::DeliveryState::Unspecified) => None,
            Ok(pb::DeliveryState::Delivered) => Some(DeliveryState::Delivered),
            Ok(pb::DeliveryState::Read) => Some(DeliveryState::Read),
            Ok(pb::DeliveryState::Failed) => Some(DeliveryState::Failed),
            _ => {
                return Err(Error::invalid(
                    "state",
                    "a gateway reports DELIVERED, READ or FAILED (or nothing, to acknowledge only)",
                )
                .into());
            }
        };
        if state.is_none() && !r.acknowledge {
            return Err(Error::invalid(
                "state",
                "says nothing: give a state, or acknowledge, or both",
            )
            .into());
        }
        let key = r.key.trim().to_owned();
        let command = Command::GatewayReport {
            alarm,
            key: key.clone(),
            state,
            detail: detail.trim().to_owned(),
            acknowledge: r.acknowledge,
        };
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Alarm(alarm) => Ok(Response::new(pb::ReportDeliveryReply {
                notification: alarm
                    .notifications
                    .iter()
                    .find(|n| n.key == key)
                    .map(convert::notification_out),
                acknowledged: alarm.acknowledged_at.is_some(),
            })),
            _ => Err(Error::Storage("ReportDelivery answered something else".into()).into()),
        }
    }

    async fn add_gateway(
        &self,
        request: Request<pb::AddGatewayRequest>,
    ) -> Reply<pb::AddGatewayReply> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "add notification gateways")?;
        let r = request.into_inner();
        let request_id = validate::request_id(&r.request_id)?;
        validate::slug("id", &r.id)?;
        let mut channels = Vec::new();
        for text in &r.channels {
            let channel = channel_in("channels", text)?;
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        let secret = (!r.secret.is_empty()).then(|| Secret(r.secret.clone()));
        if let Some(secret) = &secret {
            gateway::check_secret(secret.0.as_bytes())?;
        }
        let spec = GatewaySpec {
            id: r.id,
            url: r.url.trim().to_owned(),
            channels,
            max_in_flight: match r.max_in_flight {
                0 => gateway::DEFAULT_IN_FLIGHT,
                n => n,
            },
            timeout_ms: match r.timeout_ms {
                0 => u64::try_from(gateway::DEFAULT_TIMEOUT.as_millis()).unwrap_or(10_000),
                n => u64::from(n),
            },
            retry_for_secs: match r.retry_for_seconds {
                0 => gateway::DEFAULT_RETRY_FOR.as_secs(),
                n => n,
            },
            ca_pem: (!r.ca_pem.trim().is_empty()).then(|| r.ca_pem.trim().to_owned()),
        };
        let command = Command::AddGateway {
            spec,
            secret,
            replace: r.replace,
        };
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Gateway {
                gateway,
                made_secret,
            } => Ok(Response::new(pb::AddGatewayReply {
                gateway: Some(self.gateway_out(&gateway)),
                secret: made_secret.map(|s| s.0).unwrap_or_default(),
            })),
            _ => Err(Error::Storage("AddGateway answered something else".into()).into()),
        }
    }

    async fn list_gateways(
        &self,
        request: Request<pb::ListGatewaysRequest>,
    ) -> Reply<pb::ListGatewaysReply> {
        let principal = principal_of(&request)?;
        require_centre(&principal, "list notification gateways")?;
        let gateways = self.engine.store().gateways()?;
        Ok(Response::new(pb::ListGatewaysReply {
            gateways: gateways.iter().map(|g| self.gateway_out(g)).collect(),
        }))
    }

    async fn remove_gateway(
        &self,
        request: Request<pb::RemoveGatewayRequest>,
    ) -> Reply<pb::Gateway> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "remove notification gateways")?;
        let r = request.into_inner();
        let request_id = validate::request_id(&r.request_id)?;
        validate::slug("id", &r.id)?;
        let command = Command::RemoveGateway { id: r.id };
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Gateway { gateway, .. } => Ok(Response::new(self.gateway_out(&gateway))),
            _ => Err(Error::Storage("RemoveGateway answered something else".into()).into()),
        }
    }

    async fn test_gateway(
        &self,
        request: Request<pb::TestGatewayRequest>,
    ) -> Reply<pb::TestGatewayReply> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "test notification gateways")?;
        let r = request.into_inner();
        validate::slug("id", &r.id)?;
        let to = r.to.trim();
        if to.is_empty() {
            return Err(Error::invalid("to", "is required: the number the test goes to").into());
        }
        if to.len() > MAX_NUMBER
            || !to
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
        {
            return Err(Error::invalid(
                "to",
                format!("{to:?} is not a phone number (digits, +, - only)"),
            )
            .into());
        }
        let store = self.engine.store();
        let gateway = store
            .gateway(&r.id)?
            .ok_or_else(|| Error::not_found(format!("gateway {:?}", r.id)))?;
        let channel = match r.channel.trim() {
            "" => *gateway
                .channels
                .first()
                .ok_or_else(|| Error::precondition("the gateway sends nothing"))?,
            text => {
                let channel = channel_in("channel", text)?;
                if !gateway.channels.contains(&channel) {
                    return Err(Error::invalid(
                        "channel",
                        format!("gateway {:?} does not send {}", gateway.id, channel.name()),
                    )
                    .into());
                }
                channel
            }
        };
        let secret = store
            .gateway_secret(&gateway.id)?
            .ok_or_else(|| Error::Storage(format!("gateway {:?} has no secret", gateway.id)))?;
        let key = format!("test-{}", gateway::new_secret()?.get(..16).unwrap_or("0"));
        let message = Message {
            idempotency_key: key.clone(),
            channel,
            to: Recipient {
                name: principal.name.clone(),
                phone: to.to_owned(),
            },
            alarm_id: 0,
            incident: None,
            level: 0,
            text: "【演练】dutyroom 值班系统测试消息，无需处置".to_owned(),
            drill: true,
        };
        let started = Instant::now();
        let result = webhook::post(
            &gateway.url,
            secret.as_bytes(),
            &message,
            jiff::Timestamp::now().as_second(),
            gateway.timeout(),
            gateway.ca_pem.as_deref(),
        )
        .await;
        let took_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        Ok(Response::new(match result {
            Ok(status) => pb::TestGatewayReply {
                ok: true,
                status: u32::from(status),
                error: String::new(),
                took_ms,
                key,
            },
            Err(error) => pb::TestGatewayReply {
                ok: false,
                status: match &error {
                    webhook::PostError::Status { status, .. } => u32::from(*status),
                    _ => 0,
                },
                error: error.to_string(),
                took_ms,
                key,
            },
        }))
    }
}
