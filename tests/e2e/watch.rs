//! Watch: replay, live, resume with no gap and no duplicate, slow clients,
//! shutdown.

use std::time::Duration;

use dutyroom_proto::v1 as pb;
use pb::watch_response::Item;
use tonic::Code;

use crate::support::{TestDaemon, call};

type Stream = tonic::Streaming<pb::WatchResponse>;

async fn open(daemon: &TestDaemon, token: &str, from_seq: u64) -> Stream {
    daemon
        .client(token)
        .await
        .journal()
        .watch(pb::WatchRequest {
            from_seq,
            live_only: false,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect("watch")
        .into_inner()
}

/// Reads events until `count` events have arrived (heartbeats skipped).
async fn events(stream: &mut Stream, count: usize) -> Vec<pb::Event> {
    let mut found = Vec::new();
    while found.len() < count {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an event within 10 s")
            .expect("stream ok")
            .expect("stream open");
        if let Some(Item::Event(event)) = item.item {
            found.push(event);
        }
    }
    found
}

fn contiguous(events: &[pb::Event], after: u64) {
    for (offset, event) in events.iter().enumerate() {
        assert_eq!(
            event.seq,
            after + 1 + offset as u64,
            "gap or duplicate at {offset}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_then_resume_without_gap_or_duplicate() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let mut incidents = daemon.admin().await.incidents();
    for n in 0..3 {
        incidents
            .create_incident(call(&format!("回放 {n}"), Some("post:xinhua")))
            .await
            .expect("create");
    }
    let head = daemon.info().await.head_seq;

    let mut stream = open(&daemon, &daemon.admin, 0).await;
    let replayed = events(&mut stream, head as usize).await;
    contiguous(&replayed, 0);
    // The end of the replay is marked.
    let marker = stream.message().await.expect("ok").expect("open");
    assert!(
        matches!(marker.item, Some(Item::Heartbeat(ref b)) if b.caught_up && b.head_seq == head),
        "{marker:?}"
    );
    // Live.
    incidents
        .create_incident(call("实时", Some("post:xinhua")))
        .await
        .expect("create");
    let live = events(&mut stream, 2).await;
    contiguous(&live, head);
    assert_eq!(live[0].kind, "incident.created");
    assert_eq!(live[1].kind, "incident.assigned");
    let last_seen = live[1].seq;
    drop(stream);

    // Changes while disconnected, then resume from the last seen seq.
    for n in 0..4 {
        incidents
            .create_incident(call(&format!("断线期间 {n}"), None))
            .await
            .expect("create");
    }
    let mut resumed = open(&daemon, &daemon.admin, last_seen).await;
    let missed = events(&mut resumed, 4).await;
    contiguous(&missed, last_seen);
    assert!(missed.iter().all(|e| e.kind == "incident.created"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_watcher_catches_up_from_the_journal_without_gaps() {
    let daemon = TestDaemon::start_with_broadcast(16).await;
    daemon.seed().await;
    let head = daemon.info().await.head_seq;
    let mut stream = daemon
        .admin()
        .await
        .journal()
        .watch(pb::WatchRequest {
            from_seq: 0,
            live_only: true,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    // Far more events than the live buffer holds, while the watcher reads nothing.
    let mut incidents = daemon.admin().await.incidents();
    for n in 0..120 {
        incidents
            .create_incident(call(&format!("台风夜 {n}"), None))
            .await
            .expect("create");
    }
    let all = events(&mut stream, 120).await;
    contiguous(&all, head);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seq_ahead_of_the_journal_says_resync() {
    let daemon = TestDaemon::start().await;
    let error = daemon
        .admin()
        .await
        .journal()
        .watch(pb::WatchRequest {
            from_seq: 1_000_000,
            live_only: false,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect_err("ahead");
    assert_eq!(error.code(), Code::OutOfRange);
    assert!(error.message().contains("resync"), "{}", error.message());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_with_a_resumable_status() {
    let daemon = TestDaemon::start().await;
    let mut stream = open(&daemon, &daemon.admin, 0).await;
    let mut last = events(&mut stream, 1).await[0].seq;
    let stopping = tokio::spawn(daemon.stop());
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
            Ok(Ok(Some(item))) => {
                if let Some(Item::Event(event)) = item.item {
                    last = event.seq;
                }
            }
            Ok(Ok(None)) => panic!("the stream ended without a status"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the stream did not end on shutdown"),
        }
    };
    assert_eq!(ended.code(), Code::Unavailable);
    assert!(
        ended.message().contains(&format!("resume from seq {last}")),
        "{}",
        ended.message()
    );
    stopping.await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_head_on_a_quiet_stream() {
    let daemon = TestDaemon::start().await;
    let mut stream = open(&daemon, &daemon.admin, 0).await;
    let mut beats = 0;
    while beats < 2 {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a heartbeat within 10 s (heartbeat_secs = 1)")
            .expect("ok")
            .expect("open");
        if let Some(Item::Heartbeat(beat)) = item.item {
            // The journal of a new store: the default policy, the admin token.
            assert_eq!(beat.head_seq, 2);
            beats += 1;
        }
    }
    daemon.stop().await;
}
