//! Replay end to end: the board rebuilt from the journal at any past moment
//! is the board a Watch consumer (the console's own model) held live at
//! that moment — by seq and by instant, before and after the board
//! snapshots are built — and a post replays only its own incidents.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dutyroom_console::tui::model::{Model, Snapshot};
use dutyroom_daemon::clock::{Clock, ManualClock};
use dutyroom_daemon::engine::EngineOptions;
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};
use tonic::Code;

use crate::support::{TestDaemon, assignee, duty};

/// What the board shows of one incident: enough to see that it is the
/// same board.
type Row = (
    String,
    i32,
    i32,
    u32,
    Vec<(String, i32, i32)>,
    Vec<(i32, Option<i64>, u32)>,
    usize,
);

fn rows<'a>(incidents: impl Iterator<Item = &'a pb::Incident>) -> BTreeMap<u64, Row> {
    incidents
        .map(|i| {
            let assignments = i
                .assignments
                .iter()
                .map(|a| {
                    (
                        dutyroom_console::cli::output::assignee(a.assignee.as_ref()),
                        a.state,
                        a.role,
                    )
                })
                .collect();
            let clocks = i
                .clocks
                .iter()
                .map(|c| (c.kind, c.due.as_ref().map(|t| t.seconds), c.alarms))
                .collect();
            (
                i.id,
                (
                    i.number.clone(),
                    i.status,
                    i.severity,
                    i.escalation_level,
                    assignments,
                    clocks,
                    i.notes.len(),
                ),
            )
        })
        .collect()
}

fn on_board(status: i32) -> bool {
    use pb::IncidentStatus as S;
    matches!(
        S::try_from(status),
        Ok(S::New | S::Dispatched | S::Signed | S::OnScene | S::Resolved)
    )
}

async fn replay(
    daemon: &TestDaemon,
    token: &str,
    at: &str,
    seq: u64,
) -> Result<pb::ReplayBoardReply, tonic::Status> {
    daemon
        .client(token)
        .await
        .incidents()
        .replay_board(pb::ReplayBoardRequest { at: at.into(), seq })
        .await
        .map(tonic::Response::into_inner)
}

/// Every event `client` may see, from the first.
async fn watch_from_start(
    client: &dutyroom_console::client::Client,
) -> tonic::Streaming<pb::WatchResponse> {
    client
        .journal()
        .watch(pb::WatchRequest {
            from_seq: 0,
            live_only: false,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect("watch")
        .into_inner()
}

/// The next event on `stream`, if the item is one.
async fn next_event(stream: &mut tonic::Streaming<pb::WatchResponse>) -> Option<pb::Event> {
    let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the watch keeps up")
        .expect("watch")
        .expect("open");
    match item.item {
        Some(pb::watch_response::Item::Event(event)) => Some(event),
        _ => None,
    }
}

fn t0() -> Timestamp {
    // 02:00 in Shanghai.
    "2026-12-02T18:00:00Z".parse().expect("timestamp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_board_is_the_board_a_watcher_saw_at_that_moment() {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_full(
        EngineOptions {
            replay_snapshot_every: 7,
            checkpoint_every: Duration::from_millis(50),
            ..EngineOptions::default()
        },
        Some(clock.clone()),
    )
    .await;
    daemon.seed().await;
    let admin = daemon.admin().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let post = daemon.client(&xinhua).await;
    let mut watch = watch_from_start(&admin).await;

    // A night: calls taken, dispatched, signed for, alarms as clocks run
    // out, a severity raised, a repeat call, resolved, closed, cancelled.
    let minute = || clock.advance(SignedDuration::from_mins(1));
    let mut instants = Vec::new();
    let mut incidents = admin.incidents();
    let a = daemon.call_number("居民楼冒烟", Some("post:xinhua")).await;
    instants.push(clock.now());
    minute();
    let b = daemon.call_number("路面积水", None).await;
    instants.push(clock.now());
    minute();
    incidents
        .assign(pb::AssignRequest {
            incident: b.clone(),
            assignee: Some(assignee("unit:water")),
            role: pb::AssignmentRole::Lead as i32,
            ..Default::default()
        })
        .await
        .expect("assign");
    instants.push(clock.now());
    minute();
    post.incidents()
        .sign_for(pb::AssignmentActionRequest {
            incident: a.clone(),
            ..Default::default()
        })
        .await
        .expect("sign for");
    instants.push(clock.now());
    // B's sign-for clock runs out: alarms.
    for _ in 0..12 {
        minute();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instants.push(clock.now());
    incidents
        .raise_severity(pb::RaiseSeverityRequest {
            incident: b.clone(),
            reason: "积水漫进地下车库".into(),
            ..Default::default()
        })
        .await
        .expect("raise");
    instants.push(clock.now());
    minute();
    incidents
        .add_repeat_call(pb::AddRepeatCallRequest {
            incident: a.clone(),
            caller_phone: "13900001111".into(),
            text: "又冒烟了".into(),
            ..Default::default()
        })
        .await
        .expect("repeat call");
    post.incidents()
        .arrive(pb::AssignmentActionRequest {
            incident: a.clone(),
            ..Default::default()
        })
        .await
        .expect("arrive");
    instants.push(clock.now());
    minute();
    let c = daemon.call_number("噪音扰民", Some("post:qianjin")).await;
    incidents
        .cancel(pb::CancelRequest {
            incident: c.clone(),
            reason: "重复报警".into(),
            ..Default::default()
        })
        .await
        .expect("cancel");
    instants.push(clock.now());
    minute();
    incidents
        .resolve(pb::ResolveRequest {
            incident: a.clone(),
            outcome: "明火已扑灭".into(),
            ..Default::default()
        })
        .await
        .expect("resolve");
    instants.push(clock.now());
    minute();
    incidents
        .close(pb::CloseRequest {
            incident: a.clone(),
            callback_result: "已回访".into(),
            satisfaction: 5,
            ..Default::default()
        })
        .await
        .expect("close");
    let d = daemon
        .call_number("楼道堆放杂物", Some("post:qianjin"))
        .await;
    instants.push(clock.now());
    // Stop the night's clocks from writing more (their alarms would come
    // after `head`), then move on so that every instant asked is past.
    incidents
        .cancel(pb::CancelRequest {
            incident: d.clone(),
            reason: "演示结束".into(),
            ..Default::default()
        })
        .await
        .expect("cancel d");
    minute();
    let head = daemon.info().await.head_seq;

    // The watcher: the console's model fed every event, its board kept
    // after each one, with the time of that event.
    let mut model = Model::from_snapshot(Snapshot::default());
    let mut seen: BTreeMap<u64, (Timestamp, BTreeMap<u64, Row>)> = BTreeMap::new();
    let mut alarmed: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    while model.last_seq < head {
        if let Some(event) = next_event(&mut watch).await {
            model.apply(&event);
            let at = event.at.as_ref().expect("at");
            let at = Timestamp::new(at.seconds, at.nanos).expect("at");
            let board = rows(model.incidents.values().filter(|i| on_board(i.status)));
            // Alarms waiting on the board's incidents, as the watcher holds them.
            let mut waiting: Vec<String> = model
                .alarms
                .values()
                .filter(|a| board.values().any(|row| row.0 == a.incident))
                .map(|a| a.incident.clone())
                .collect();
            waiting.sort();
            waiting.dedup();
            alarmed.insert(event.seq, waiting);
            seen.insert(event.seq, (at, board));
        }
    }
    assert!(
        seen.values().any(|(_, board)| board.len() >= 2),
        "the night had a board"
    );
    assert!(
        alarmed.values().any(|waiting| !waiting.is_empty()),
        "the night had alarms"
    );

    for round in ["straight from the journal", "from the snapshots"] {
        // By seq: every record.
        for (seq, (_, board)) in &seen {
            let replayed = replay(&daemon, &daemon.admin, "", *seq)
                .await
                .expect("replay");
            assert_eq!(replayed.seq, *seq, "{round}");
            assert_eq!(
                rows(replayed.incidents.iter()),
                *board,
                "{round}: the board after record {seq}"
            );
            assert_eq!(
                replayed.alarmed, alarmed[seq],
                "{round}: alarms waiting after record {seq}"
            );
        }
        // By instant: half a minute after each step.
        for instant in &instants {
            let asked = *instant + SignedDuration::from_secs(30);
            let replayed = replay(&daemon, &daemon.admin, &asked.to_string(), 0)
                .await
                .expect("replay at");
            let (last, (_, board)) = seen
                .range(..=head)
                .rev()
                .find(|(_, (at, _))| *at <= asked)
                .expect("an event before");
            assert_eq!(replayed.seq, *last, "{round}: the last record by {asked}");
            assert_eq!(
                rows(replayed.incidents.iter()),
                *board,
                "{round}: at {asked}"
            );
        }
        // Let the checkpoint thread build the snapshots (every 7 records).
        tokio::time::sleep(Duration::from_millis(600)).await;
    }

    // Stepping walks the caller's incident events one by one.
    let first = replay(&daemon, &daemon.admin, &instants[0].to_string(), 0)
        .await
        .expect("first");
    let next = replay(&daemon, &daemon.admin, "", first.next_seq)
        .await
        .expect("next");
    assert!(next.seq > first.seq);
    let back = replay(&daemon, &daemon.admin, "", next.previous_seq)
        .await
        .expect("back");
    assert!(back.seq <= first.seq, "{} > {}", back.seq, first.seq);
    let last = replay(&daemon, &daemon.admin, "", head)
        .await
        .expect("last");
    assert_eq!(last.next_seq, 0, "nothing after the head");

    // What xinhua may see of the journal: its own Watch, from the start.
    let its_head = daemon
        .client(&xinhua)
        .await
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect("info")
        .into_inner()
        .head_seq;
    let mut its_watch = watch_from_start(&post).await;
    // Its incident events: what a replay steps through and names.
    let mut its_events = std::collections::BTreeSet::new();
    let mut read_to = 0;
    while read_to < its_head {
        if let Some(event) = next_event(&mut its_watch).await {
            read_to = event.seq;
            if event.subject_kind == "incident" {
                its_events.insert(event.seq);
            }
        }
    }

    // A post replays only what it was in: xinhua led A, never B, C or D.
    for (seq, (_, board)) in &seen {
        let mine = replay(&daemon, &xinhua, "", *seq)
            .await
            .expect("post replay");
        // And learns nothing of the journal beyond its own events: the
        // record named is its own last one, the head its own newest.
        let own_last = its_events.range(..=*seq).next_back().copied().unwrap_or(0);
        assert_eq!(mine.seq, own_last, "asked for record {seq}");
        assert_eq!(mine.head_seq, its_head);
        let numbers: Vec<&str> = mine.incidents.iter().map(|i| i.number.as_str()).collect();
        for other in [&b, &c, &d] {
            assert!(
                !numbers.contains(&other.as_str()),
                "{other} shown to xinhua"
            );
        }
        // In it from its dispatch on (its creation record comes first).
        let expected = board
            .values()
            .filter(|row| row.0 == a && row.4.iter().any(|(who, _, _)| who == "post:xinhua"))
            .count();
        assert_eq!(numbers.len(), expected, "after record {seq}");
        assert!(
            mine.incidents
                .iter()
                .all(|i| !i.caller_phone.contains("1390000"))
        );
        // Its steps are its own incident's events.
        if mine.next_seq != 0 {
            let step = replay(&daemon, &xinhua, "", mine.next_seq)
                .await
                .expect("step");
            assert!(step.seq > *seq);
        }
    }

    // Clear refusals.
    let nothing = replay(&daemon, &daemon.admin, "", 0)
        .await
        .expect_err("empty");
    assert_eq!(nothing.code(), Code::InvalidArgument);
    let future = replay(&daemon, &daemon.admin, "2099-01-01 00:00", 0)
        .await
        .expect_err("future");
    assert_eq!(future.code(), Code::InvalidArgument);
    assert!(future.message().contains("future"), "{}", future.message());

    // The CLI: the board at 02:30 local (B open, A signed for).
    let at = "2026-12-03 02:05";
    let run = duty(&daemon, &daemon.admin, &["incident", "list", "--at", at]).await;
    assert!(run.code == 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("回放") || run.stdout.contains("Replay"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&a) && run.stdout.contains(&b),
        "{}",
        run.stdout
    );
    let json = duty(
        &daemon,
        &daemon.admin,
        &["-o", "json", "incident", "list", "--at", at],
    )
    .await;
    assert!(json.code == 0, "{}", json.stderr);
    assert_eq!(json.json()["incidents"].as_array().map(Vec::len), Some(2));
    let bad = duty(
        &daemon,
        &daemon.admin,
        &["incident", "list", "--at", "yesterday"],
    )
    .await;
    assert_ne!(bad.code, 0);
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{}", bad.stderr);
}
