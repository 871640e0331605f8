//! A post (or unit) token sees and acts only on incidents assigned to it.
//! A foreign incident answers NOT_FOUND, exactly as a number that does not
//! exist, so a post cannot learn what happens elsewhere.

use std::time::Duration;

use dutyroom_proto::v1 as pb;
use pb::watch_response::Item;
use tonic::Code;

use crate::support::{TestDaemon, assignee, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_never_sees_another_posts_incidents() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let qianjin = daemon.token("post:qianjin", "前进值守").await;
    let fire = daemon.token("unit:fire", "消防联络员").await;

    // Watchers first, so they would see any leak live.
    let watch = |token: String| {
        let addr = daemon.addr.clone();
        async move {
            dutyroom_console::client::Client::connect(&addr, Some(&token))
                .await
                .expect("connect")
                .journal()
                .watch(pb::WatchRequest::default())
                .await
                .expect("watch")
                .into_inner()
        }
    };
    let mut qianjin_stream = watch(qianjin.clone()).await;
    let mut xinhua_stream = watch(xinhua.clone()).await;

    let mut admin = daemon.admin().await.incidents();
    let theirs = admin
        .create_incident(call("新华辖区火情", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    admin
        .assign(pb::AssignRequest {
            request_id: String::new(),
            incident: theirs.clone(),
            assignee: Some(assignee("unit:fire")),
            role: pb::AssignmentRole::Support as i32,
            replace_lead: false,
        })
        .await
        .expect("assign fire");
    let ours = admin
        .create_incident(call("前进辖区漏水", Some("post:qianjin")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;

    let mut as_qianjin = daemon.client(&qianjin).await.incidents();
    let foreign = as_qianjin
        .get_incident(pb::GetIncidentRequest {
            incident: theirs.clone(),
        })
        .await
        .expect_err("foreign");
    let missing = as_qianjin
        .get_incident(pb::GetIncidentRequest {
            incident: "20200101-0001".into(),
        })
        .await
        .expect_err("missing");
    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(foreign.message(), format!("incident {theirs} not found"));

    let sign = as_qianjin
        .sign_for(pb::AssignmentActionRequest {
            incident: theirs.clone(),
            ..Default::default()
        })
        .await
        .expect_err("foreign action");
    assert_eq!(sign.code(), Code::NotFound);
    let timeline = daemon
        .client(&qianjin)
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: theirs.clone(),
            ..Default::default()
        })
        .await
        .expect_err("foreign timeline");
    assert_eq!(timeline.code(), Code::NotFound);

    let listed = as_qianjin
        .list_incidents(pb::ListIncidentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    let numbers: Vec<_> = listed.incidents.iter().map(|i| i.number.clone()).collect();
    assert_eq!(numbers, vec![ours.clone()]);
    let asking_for_others = as_qianjin
        .list_incidents(pb::ListIncidentsRequest {
            assignee: Some(assignee("post:xinhua")),
            ..Default::default()
        })
        .await
        .expect_err("others' list");
    assert_eq!(asking_for_others.code(), Code::PermissionDenied);

    // The journal listing is filtered the same way.
    let events = daemon
        .client(&qianjin)
        .await
        .journal()
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect("events")
        .into_inner()
        .events;
    assert!(events.iter().all(|e| e.subject_id != theirs), "{events:?}");

    // On its own incident, a post still acts only on its own assignment.
    let mut as_xinhua = daemon.client(&xinhua).await.incidents();
    let not_mine = as_xinhua
        .sign_for(pb::AssignmentActionRequest {
            incident: theirs.clone(),
            assignee: Some(assignee("unit:fire")),
            ..Default::default()
        })
        .await
        .expect_err("someone else's assignment");
    assert_eq!(not_mine.code(), Code::PermissionDenied);
    as_xinhua
        .sign_for(pb::AssignmentActionRequest {
            incident: theirs.clone(),
            ..Default::default()
        })
        .await
        .expect("own assignment");
    // The unit sees the incident it supports, not the other one.
    let mut as_fire = daemon.client(&fire).await.incidents();
    as_fire
        .get_incident(pb::GetIncidentRequest {
            incident: theirs.clone(),
        })
        .await
        .expect("the unit's own incident");
    let other = as_fire
        .get_incident(pb::GetIncidentRequest {
            incident: ours.clone(),
        })
        .await
        .expect_err("not the unit's");
    assert_eq!(other.code(), Code::NotFound);

    // Streams: qianjin saw only its own incident; xinhua only its own.
    let seen_by_qianjin = drain(&mut qianjin_stream).await;
    assert!(seen_by_qianjin.contains(&ours), "{seen_by_qianjin:?}");
    assert!(
        !seen_by_qianjin.contains(&theirs),
        "leak: {seen_by_qianjin:?}"
    );
    let seen_by_xinhua = drain(&mut xinhua_stream).await;
    assert!(seen_by_xinhua.contains(&theirs), "{seen_by_xinhua:?}");
    assert!(!seen_by_xinhua.contains(&ours), "leak: {seen_by_xinhua:?}");
    daemon.stop().await;
}

/// Event subjects until the stream goes idle (a periodic heartbeat comes:
/// the server sends one only after a quiet second).
async fn drain(stream: &mut tonic::Streaming<pb::WatchResponse>) -> Vec<String> {
    let mut subjects = Vec::new();
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an item within 10 s")
            .expect("stream ok")
            .expect("stream open");
        match item.item {
            Some(Item::Event(e)) => subjects.push(e.subject_id),
            Some(Item::Heartbeat(beat)) if !beat.caught_up => return subjects,
            _ => {}
        }
    }
}

/// journal.proto: the caller's phone in `incident.created` (and in intake
/// updates) is unmasked only for centre roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reads_the_callers_phone_masked_in_events() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let officer = daemon.token("officer", "王伟").await;
    let number = daemon
        .call_number("新华辖区火情", Some("post:xinhua"))
        .await;
    let phone_seen_by = |token: String| {
        let daemon = &daemon;
        let incident = number.clone();
        async move {
            let events = daemon
                .client(&token)
                .await
                .journal()
                .list_events(pb::ListEventsRequest {
                    incident,
                    ..Default::default()
                })
                .await
                .expect("events")
                .into_inner()
                .events;
            events
                .into_iter()
                .find_map(|e| match e.body {
                    Some(pb::event::Body::IncidentCreated(created)) => {
                        created.incident.map(|i| i.caller_phone)
                    }
                    _ => None,
                })
                .expect("a created event")
        }
    };
    assert_eq!(phone_seen_by(xinhua).await, "138****5678");
    assert_eq!(phone_seen_by(officer).await, "13812345678");
    daemon.stop().await;
}
