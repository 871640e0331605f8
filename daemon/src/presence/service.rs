//! `PresenceService`: heartbeats from posts and units, and the centre's view
//! of who is connected. Also the correction of the times clients report.

use std::time::Duration;

use dutyroom_proto::v1 as pb;
use jiff::SignedDuration;
use tonic::{Request, Response, Status};

use crate::auth::principal::Principal;
use crate::auth::principal_of;
use crate::convert;
use crate::directory::model::{Post, Unit};
use crate::engine::{Engine, Reported};
use crate::error::{Error, Result};
use crate::presence::client_of;
use crate::store::Reader;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// How far back an action may say it was done (a post offline for longer
/// has a problem no timestamp fixes).
const OLDEST_REPORT: SignedDuration = SignedDuration::from_hours(24 * 30);
/// How far ahead a client's clock may claim to be before it is refused.
const NEWEST_REPORT: SignedDuration = SignedDuration::from_hours(24);

/// How far a heartbeat's `client_time` may be from dutyd's clock. A clock
/// further off is broken, not skewed: measuring it would shift every time
/// the client reports by years.
const CLIENT_CLOCK_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// The time a client says it did something (`done_at`), checked and
/// corrected for its measured clock offset.
pub fn reported(
    engine: &Engine,
    principal: &Principal,
    done_at: Option<&prost_types::Timestamp>,
) -> Result<Option<Reported>> {
    let Some(done_at) = convert::ts_in("done_at", done_at)? else {
        return Ok(None);
    };
    let now = engine.now();
    if done_at < now - OLDEST_REPORT || done_at > now + NEWEST_REPORT {
        return Err(Error::invalid(
            "done_at",
            format!(
                "{done_at} is more than 30 days before or a day after dutyd's clock ({now}); \
                 check the client's clock"
            ),
        ));
    }
    Ok(Some(match client_of(principal) {
        Some(who) => {
            let (at, skew_ms) = engine.presence().correct(&who, done_at);
            Reported { at, skew_ms }
        }
        None => Reported {
            at: done_at,
            skew_ms: None,
        },
    }))
}

/// The gRPC presence service.
#[derive(Clone)]
pub struct PresenceApi {
    engine: Engine,
}

impl PresenceApi {
    /// Serves presence from `engine`'s registry.
    pub fn new(engine: Engine) -> Self {
        PresenceApi { engine }
    }
}

#[tonic::async_trait]
impl pb::presence_service_server::PresenceService for PresenceApi {
    async fn heartbeat(&self, request: Request<pb::HeartbeatRequest>) -> Reply<pb::HeartbeatReply> {
        let principal = principal_of(&request)?;
        let Some(who) = client_of(&principal) else {
            return Err(Error::denied(
                "heartbeats come from posts and units (their own tokens); the centre's \
                 consoles need none",
            )
            .into());
        };
        let r = request.into_inner();
        let client_time = convert::ts_in("client_time", r.client_time.as_ref())?
            .ok_or_else(|| Error::invalid("client_time", "is required"))?;
        let now = self.engine.now();
        if client_time < now - CLIENT_CLOCK_WINDOW || client_time > now + CLIENT_CLOCK_WINDOW {
            return Err(Error::invalid(
                "client_time",
                format!(
                    "{client_time} is more than a day from dutyd's clock ({now}); set the \
                     client's clock"
                ),
            )
            .into());
        }
        let presence = self.engine.presence();
        let offset = presence.heartbeat(
            &who,
            client_time,
            Duration::from_millis(u64::from(r.last_round_trip_ms)),
        );
        Ok(Response::new(pb::HeartbeatReply {
            server_time: Some(convert::ts(self.engine.now())),
            clock_offset_ms: offset,
            clock_skewed: presence.is_skewed(offset),
            interval_seconds: presence.options.heartbeat_interval.as_secs().max(1) as u32,
        }))
    }

    async fn list_presence(
        &self,
        request: Request<pb::ListPresenceRequest>,
    ) -> Reply<pb::ListPresenceReply> {
        let principal = principal_of(&request)?;
        crate::visibility::presence(&principal)?;
        let presence = self.engine.presence();
        let mut known = presence.snapshot();
        let store = self.engine.store();
        let mut who: Vec<String> = Reader::entries::<Post>(store)?
            .into_iter()
            .filter(|p| !p.retired)
            .map(|p| format!("post:{}", p.id))
            .chain(
                Reader::entries::<Unit>(store)?
                    .into_iter()
                    .filter(|u| !u.retired)
                    .map(|u| format!("unit:{}", u.id)),
            )
            .collect();
        // Retired entries still connected are shown too.
        for key in known.keys() {
            if !who.contains(key) {
                who.push(key.clone());
            }
        }
        let entries = who
            .into_iter()
            .map(|key| {
                let status = known.remove(&key).unwrap_or_default();
                let skewed = status.offset_ms.is_some_and(|o| presence.is_skewed(o));
                convert::presence_out(
                    &key,
                    status.online,
                    status.since,
                    status.last_seen,
                    status.streams,
                    status.offset_ms,
                    skewed,
                )
            })
            .collect();
        Ok(Response::new(pb::ListPresenceReply {
            entries,
            skew_threshold_ms: presence.options.skew_threshold.as_millis().max(0) as u32,
        }))
    }
}
