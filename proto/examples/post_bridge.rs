//! A post's own system talking to dutyd over the gRPC API alone: the
//! example in `docs/integrators.md`.
//!
//! It watches the post's events (resuming where it left off after any
//! drop), prints each new order, and signs for it — as a paging bridge would
//! once it has paged the duty contact — with a request id derived from the
//! order, so a resend after a lost answer is harmless. It sends heartbeats so
//! the centre sees the post online and dutyd can measure its clock.
//!
//! ```sh
//! DUTY_ADDR=http://127.0.0.1:7350 DUTY_TOKEN=dty_… \
//!     cargo run -p dutyroom-proto --example post_bridge
//! ```
//!
//! The last processed seq is kept in `post_bridge.seq` (or `$BRIDGE_SEQ_FILE`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dutyroom_proto::v1 as pb;
use pb::watch_response::Item;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// Every call carries `authorization: Bearer <token>`.
#[derive(Clone)]
struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

fn now() -> prost_types::Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// Worth retrying: the link or dutyd, not the request.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("DUTY_ADDR").unwrap_or_else(|_| "http://127.0.0.1:7350".into());
    let token = std::env::var("DUTY_TOKEN").map_err(|_| "set DUTY_TOKEN to a post's token")?;
    let seq_file =
        std::env::var("BRIDGE_SEQ_FILE").unwrap_or_else(|_| "post_bridge.seq".to_owned());
    let bearer = Bearer(format!("Bearer {token}").parse()?);
    // Connects on first use and reconnects by itself after a drop.
    let channel = Endpoint::from_shared(addr)?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true)
        .connect_lazy();
    let service = InterceptedService::new(channel, bearer);

    let me = pb::token_service_client::TokenServiceClient::new(service.clone())
        .who_am_i(pb::WhoAmIRequest {})
        .await?
        .into_inner();
    let Some(post) = me.role.strip_prefix("post:").map(str::to_owned) else {
        return Err(format!("this is a post's bridge; the token's role is {}", me.role).into());
    };
    println!("bridge for post {post} ({})", me.name);

    tokio::spawn(heartbeats(service.clone()));

    let mut from_seq: u64 = std::fs::read_to_string(&seq_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut journal = pb::journal_service_client::JournalServiceClient::new(service.clone());
        let request = pb::WatchRequest {
            from_seq,
            ..Default::default()
        };
        let mut stream = match journal.watch(request).await {
            Ok(stream) => stream.into_inner(),
            Err(status) if status.code() == Code::OutOfRange => {
                // The store was replaced: our seq means nothing there.
                eprintln!("journal reset ({}); starting over", status.message());
                from_seq = 0;
                continue;
            }
            Err(status) if transient(status.code()) => {
                eprintln!("dutyd unreachable ({}); retrying", status.message());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(status) => return Err(status.into()),
        };
        loop {
            let item = match stream.message().await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(status) => {
                    eprintln!("stream ended: {}", status.message());
                    break;
                }
            };
            backoff = Duration::from_millis(500);
            let Some(Item::Event(event)) = item.item else {
                continue; // a heartbeat: the stream is alive
            };
            handle(&service, &post, &event).await?;
            // Only after handling: a crash replays this event, and the
            // request id makes the replay harmless.
            from_seq = event.seq;
            std::fs::write(&seq_file, from_seq.to_string())?;
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Signs for each new order to this post.
async fn handle(service: &Authed, post: &str, event: &pb::Event) -> Result<(), Status> {
    let Some(pb::event::Body::AssignmentChanged(changed)) = &event.body else {
        return Ok(());
    };
    let Some(assignment) = &changed.assignment else {
        return Ok(());
    };
    let ours = assignment
        .assignee
        .as_ref()
        .is_some_and(|a| a.kind == pb::AssigneeKind::Post as i32 && a.id == post);
    if !ours || assignment.state != pb::AssignmentState::Dispatched as i32 {
        return Ok(());
    }
    println!(
        "new order {} (assignment {})",
        event.subject_id, assignment.id
    );
    let mut incidents = pb::incident_service_client::IncidentServiceClient::new(service.clone());
    let request = pb::AssignmentActionRequest {
        // The same order always gets the same id: a resend is answered
        // with the first answer and changes nothing.
        request_id: format!("bridge-sign-{}-{}", event.subject_id, assignment.id),
        incident: event.subject_id.clone(),
        assignment_id: assignment.id,
        note: "已由值守系统接收".into(),
        done_at: Some(now()),
        ..Default::default()
    };
    loop {
        match incidents.sign_for(request.clone()).await {
            Ok(_) => {
                println!("signed for {}", event.subject_id);
                return Ok(());
            }
            Err(status) if transient(status.code()) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            // Withdrawn, or signed already by the centre on our behalf:
            // nothing left to do for this order.
            Err(status) if status.code() == Code::FailedPrecondition => {
                println!("{}: {}", event.subject_id, status.message());
                return Ok(());
            }
            Err(status) => return Err(status),
        }
    }
}

/// Heartbeats at the interval dutyd asks for, with the last round trip so
/// dutyd can measure this machine's clock.
async fn heartbeats(service: Authed) {
    let mut presence = pb::presence_service_client::PresenceServiceClient::new(service);
    let mut round_trip = 0u32;
    loop {
        let sent = std::time::Instant::now();
        let request = pb::HeartbeatRequest {
            client_time: Some(now()),
            last_round_trip_ms: round_trip,
        };
        let every = match presence.heartbeat(request).await {
            Ok(reply) => {
                round_trip = u32::try_from(sent.elapsed().as_millis()).unwrap_or(u32::MAX);
                let reply = reply.into_inner();
                if reply.clock_skewed {
                    eprintln!(
                        "this machine's clock is {:+} ms off dutyd's: fix NTP",
                        reply.clock_offset_ms
                    );
                }
                reply.interval_seconds.max(1)
            }
            Err(_) => 5,
        };
        tokio::time::sleep(Duration::from_secs(u64::from(every))).await;
    }
}
