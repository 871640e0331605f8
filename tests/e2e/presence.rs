//! Presence and post times: a post is online while its Watch stream is open
//! and the centre sees it flip; actions a post sends late carry the time it
//! did them, corrected when its clock is off.

use std::sync::Arc;
use std::time::Duration;

use dutyroom_daemon::clock::{Clock, ManualClock};
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};
use tonic::Code;

use crate::support::{TestDaemon, call, duty};

fn t0() -> Timestamp {
    "2026-11-23T13:00:00Z".parse().expect("timestamp")
}

fn ts(at: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    }
}

fn at(t: Option<&prost_types::Timestamp>) -> Timestamp {
    let t = t.expect("a time");
    Timestamp::new(t.seconds, t.nanos).expect("valid")
}

async fn presence_of(daemon: &TestDaemon, who: &str) -> pb::PresenceEntry {
    let id = who.split_once(':').map_or(who, |(_, id)| id);
    daemon
        .admin()
        .await
        .presence()
        .list_presence(pb::ListPresenceRequest {})
        .await
        .expect("list presence")
        .into_inner()
        .entries
        .into_iter()
        .find(|e| e.who.as_ref().is_some_and(|w| w.id == id))
        .expect("the post is listed")
}

/// Polls until `check` holds (the offline change is journaled by a task).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centre_sees_a_post_come_online_and_drop_off() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;

    // Never connected: listed, offline, never seen.
    let before = presence_of(&daemon, "post:xinhua").await;
    assert!(!before.online);
    assert!(before.last_seen.is_none());

    // The centre watches presence changes.
    let mut centre = daemon
        .admin()
        .await
        .journal()
        .watch(pb::WatchRequest {
            live_only: true,
            filter: Some(pb::WatchFilter {
                subject_kinds: vec!["presence".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    let post = daemon.client(&xinhua).await;
    let stream = post
        .journal()
        .watch(pb::WatchRequest::default())
        .await
        .expect("post watch")
        .into_inner();
    let online = presence_of(&daemon, "post:xinhua").await;
    assert!(online.online, "{online:?}");
    assert_eq!(online.streams, 1);
    assert!(online.last_seen.is_some());
    // The same for scripts.
    let listed = duty(&daemon, &daemon.admin, &["presence"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let line = listed
        .stdout
        .lines()
        .find(|l| l.contains("post:xinhua"))
        .unwrap_or_default()
        .to_owned();
    assert!(line.contains("online"), "{}", listed.stdout);

    // Cut the link: the stream and the connection go.
    drop(stream);
    drop(post);
    eventually("post:xinhua offline", || async {
        !presence_of(&daemon, "post:xinhua").await.online
    })
    .await;

    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let item = tokio::time::timeout(Duration::from_secs(5), centre.message())
            .await
            .expect("a presence event within 5 s")
            .expect("stream")
            .expect("open");
        if let Some(pb::watch_response::Item::Event(event)) = item.item {
            assert_eq!(event.subject_id, "post:xinhua");
            assert!(matches!(
                event.body,
                Some(pb::event::Body::PresenceChanged(_))
            ));
            kinds.push(event.kind);
        }
    }
    assert_eq!(kinds, vec!["presence.online", "presence.offline"]);

    // Only the centre may ask who is connected; only posts and units beat.
    let status = daemon
        .client(&xinhua)
        .await
        .presence()
        .list_presence(pb::ListPresenceRequest {})
        .await
        .expect_err("a post may not list presence");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = daemon
        .admin()
        .await
        .presence()
        .heartbeat(pb::HeartbeatRequest {
            client_time: Some(ts(Timestamp::now())),
            last_round_trip_ms: 0,
        })
        .await
        .expect_err("the centre does not heartbeat");
    assert_eq!(status.code(), Code::PermissionDenied);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_action_keeps_the_posts_time_corrected_for_its_clock() {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let qianjin = daemon.token("post:qianjin", "前进值守").await;
    let mut admin = daemon.admin().await.incidents();
    let number = |reply: tonic::Response<pb::IncidentReply>| {
        reply.into_inner().incident.expect("incident").number
    };
    let fire = number(
        admin
            .create_incident(call("新华辖区火情", Some("post:xinhua")))
            .await
            .expect("create"),
    );

    // Xinhua's clock runs 5 minutes fast. Its link is down; it signs for
    // the order 30 s after dispatch (its clock: 13:05:30) and queues it.
    let post = daemon.client(&xinhua).await;
    let done_at = t0() + SignedDuration::from_secs(30) + SignedDuration::from_mins(5);
    // Three minutes later the link is back: heartbeats measure the clock,
    // then the queued sign-for goes out.
    clock.advance(SignedDuration::from_mins(3));
    for _ in 0..3 {
        let reply = post
            .presence()
            .heartbeat(pb::HeartbeatRequest {
                client_time: Some(ts(clock.now() + SignedDuration::from_mins(5))),
                last_round_trip_ms: 0,
            })
            .await
            .expect("heartbeat")
            .into_inner();
        assert_eq!(reply.clock_offset_ms, 300_000);
        assert!(reply.clock_skewed);
    }
    let signed = post
        .incidents()
        .sign_for(pb::AssignmentActionRequest {
            request_id: "xinhua-0001".into(),
            incident: fire.clone(),
            done_at: Some(ts(done_at)),
            ..Default::default()
        })
        .await
        .expect("sign for")
        .into_inner();
    let assignment = &signed.incident.expect("incident").assignments[0];
    assert_eq!(
        at(assignment.signed_at.as_ref()),
        t0() + SignedDuration::from_secs(30),
        "signed when the post did it, by dutyd's clock"
    );
    let events = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: fire.clone(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let sign = events
        .iter()
        .find(|e| e.kind == "incident.signed_for")
        .expect("the sign-for event");
    assert_eq!(at(sign.at.as_ref()), t0() + SignedDuration::from_mins(3));
    assert_eq!(
        at(sign.reported_at.as_ref()),
        t0() + SignedDuration::from_secs(30)
    );
    assert_eq!(sign.clock_skew_ms, 300_000);

    // The presence list flags the clock.
    let listed = presence_of(&daemon, "post:xinhua").await;
    assert!(listed.clock_measured && listed.clock_skewed);
    assert_eq!(listed.clock_offset_ms, 300_000);

    // A post with a good clock: its time is taken as it is, unflagged.
    let leak = number(
        admin
            .create_incident(call("前进辖区漏水", Some("post:qianjin")))
            .await
            .expect("create"),
    );
    let other = daemon.client(&qianjin).await;
    other
        .presence()
        .heartbeat(pb::HeartbeatRequest {
            client_time: Some(ts(clock.now() + SignedDuration::from_secs(2))),
            last_round_trip_ms: 40,
        })
        .await
        .expect("heartbeat");
    clock.advance(SignedDuration::from_mins(1));
    let noted = other
        .incidents()
        .add_note(pb::AddNoteRequest {
            request_id: String::new(),
            incident: leak.clone(),
            text: "已到现场关阀".into(),
            done_at: Some(ts(clock.now() - SignedDuration::from_secs(40))),
        })
        .await
        .expect("note")
        .into_inner();
    let note = noted.incident.expect("incident").notes.pop().expect("note");
    assert_eq!(
        at(note.at.as_ref()),
        clock.now() - SignedDuration::from_secs(40)
    );

    // A time no clock could honestly give is refused, saying why.
    let status = other
        .incidents()
        .add_note(pb::AddNoteRequest {
            request_id: String::new(),
            incident: leak,
            text: "?".into(),
            done_at: Some(ts(clock.now() - SignedDuration::from_hours(24 * 40))),
        })
        .await
        .expect_err("40 days ago");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("done_at"), "{}", status.message());
    daemon.stop().await;
}

/// A clock years off is broken, not skewed: heartbeats and `done_at`s far
/// from dutyd's clock, or with nanos outside 0..1e9, are INVALID_ARGUMENT
/// and leave the measured offset alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_client_times_are_refused() {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let number = daemon
        .call_number("新华辖区火情", Some("post:xinhua"))
        .await;
    let post = daemon.client(&xinhua).await;
    let year = |y: i16| -> prost_types::Timestamp {
        ts(jiff::civil::date(y, 6, 1)
            .at(0, 0, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .expect("date")
            .timestamp())
    };
    let mut negative_nanos = ts(clock.now());
    negative_nanos.nanos = -1;
    for client_time in [year(1), year(9998), negative_nanos] {
        let refused = post
            .presence()
            .heartbeat(pb::HeartbeatRequest {
                client_time: Some(client_time),
                last_round_trip_ms: 0,
            })
            .await
            .expect_err("absurd client_time");
        assert_eq!(refused.code(), Code::InvalidArgument, "{client_time:?}");
        assert!(
            refused.message().starts_with("client_time"),
            "{}",
            refused.message()
        );
    }
    for done_at in [year(1), year(9998), negative_nanos] {
        let refused = post
            .incidents()
            .sign_for(pb::AssignmentActionRequest {
                incident: number.clone(),
                done_at: Some(done_at),
                ..Default::default()
            })
            .await
            .expect_err("absurd done_at");
        assert_eq!(refused.code(), Code::InvalidArgument, "{done_at:?}");
        assert!(
            refused.message().starts_with("done_at"),
            "{}",
            refused.message()
        );
    }
    // Nothing was measured: the post's clock is unknown, not 2026 years off.
    let reply = post
        .presence()
        .heartbeat(pb::HeartbeatRequest {
            client_time: Some(ts(clock.now())),
            last_round_trip_ms: 0,
        })
        .await
        .expect("a sane heartbeat")
        .into_inner();
    assert!(
        reply.clock_offset_ms.abs() < 1000,
        "{}",
        reply.clock_offset_ms
    );
    daemon.stop().await;
}
