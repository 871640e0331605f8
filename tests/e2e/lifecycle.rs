//! A call from intake to close, through the CLI and the API.

use std::time::Instant;

use dutyroom_proto::v1 as pb;

use crate::support::{TestDaemon, assignee, call, duty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_goes_from_intake_to_close_through_the_cli() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "王伟").await;
    let post = daemon.token("post:xinhua", "新华值守").await;

    let created = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "incident",
            "create",
            "-c",
            "fire",
            "-s",
            "II",
            "--summary",
            "居民楼三层冒烟",
            "--address",
            "新华路12号",
            "--place",
            "xingfu",
            "--caller-name",
            "李娜",
            "--caller-phone",
            "13812345678",
            "--lead",
            "post:xinhua",
            "--support",
            "unit:fire",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let incident = &created.json()["incident"];
    let number = incident["number"].as_str().expect("number").to_owned();
    assert_eq!(incident["status"], "INCIDENT_STATUS_DISPATCHED");
    assert_eq!(
        incident["territorial_post_id"], "xinhua",
        "place xingfu lies in xinhua"
    );
    assert_eq!(incident["assignments"].as_array().map(Vec::len), Some(2));

    // The post signs for its own order; the officer records the fire
    // brigade's arrival on its behalf.
    let signed = duty(
        &daemon,
        &post,
        &["-o", "json", "incident", "sign", &number, "--note", "收到"],
    )
    .await;
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    assert_eq!(
        signed.json()["incident"]["status"],
        "INCIDENT_STATUS_SIGNED"
    );
    let arrived = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "incident",
            "arrive",
            &number,
            "--assignee",
            "unit:fire",
        ],
    )
    .await;
    assert_eq!(arrived.code, 0, "{}", arrived.stderr);
    let fire = &arrived.json()["incident"]["assignments"][1];
    assert_eq!(fire["state"], "ASSIGNMENT_STATE_ON_SCENE");
    assert_eq!(fire["last_step_on_behalf"], true);

    for (token, args) in [
        (&post, vec!["incident", "arrive", &number]),
        (
            &officer,
            vec!["incident", "note", &number, "二次回访前联系社区"],
        ),
        (
            &post,
            vec!["incident", "resolve", &number, "明火已扑灭，无人员伤亡"],
        ),
        (
            &officer,
            vec![
                "incident",
                "close",
                &number,
                "--callback",
                "群众满意",
                "--satisfaction",
                "5",
            ],
        ),
    ] {
        let step = duty(&daemon, token, &args).await;
        assert_eq!(step.code, 0, "{args:?}: {}", step.stderr);
    }

    let shown = duty(
        &daemon,
        &officer,
        &["-o", "json", "incident", "get", &number],
    )
    .await;
    let shown = shown.json();
    assert_eq!(shown["status"], "INCIDENT_STATUS_CLOSED");
    assert_eq!(shown["satisfaction"], 5);
    assert_eq!(
        shown["caller_phone"], "13812345678",
        "detail shows the phone in full"
    );
    assert_eq!(shown["outcome"], "明火已扑灭，无人员伤亡");

    let timeline = duty(
        &daemon,
        &officer,
        &["-o", "json", "incident", "timeline", &number],
    )
    .await;
    let kinds: Vec<String> = timeline.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "incident.created",
            "incident.assigned",
            "incident.assigned",
            "incident.signed_for",
            "incident.arrived",
            "incident.arrived",
            "incident.note_added",
            "incident.resolved",
            "incident.closed",
        ]
    );

    // The human table also reads right, with the phone masked in lists.
    let listed = duty(
        &daemon,
        &officer,
        &["incident", "list", "--status", "closed"],
    )
    .await;
    assert!(listed.stdout.contains(&number), "{}", listed.stdout);
    let listed = duty(&daemon, &officer, &["-o", "json", "incident", "list"]).await;
    assert_eq!(listed.json()["incidents"][0]["caller_phone"], "138****5678");

    let verified = duty(&daemon, &daemon.admin, &["audit", "verify"]).await;
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(
        verified.stdout.contains("journal intact"),
        "{}",
        verified.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_merge_false_alarms_cancel_and_both_reopen() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "王伟").await;
    let mut incidents = daemon.client(&officer).await.incidents();
    let first = incidents
        .create_incident(call("新华路12号冒烟", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner();
    let second = incidents
        .create_incident(call("新华路有烟（重复来电）", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner();
    let first_number = first.incident.expect("incident").number;
    let second_number = second.incident.expect("incident").number;

    let merged = incidents
        .merge(pb::MergeRequest {
            request_id: String::new(),
            incident: second_number.clone(),
            into: first_number.clone(),
        })
        .await
        .expect("merge")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(merged.status, pb::IncidentStatus::Merged as i32);
    assert_eq!(merged.merged_into, first_number);
    let target = incidents
        .get_incident(pb::GetIncidentRequest {
            incident: first_number.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(target.merged_from, vec![second_number.clone()]);

    // A merged incident refuses actions and says where to act instead.
    let refused = incidents
        .resolve(pb::ResolveRequest {
            done_at: None,
            request_id: String::new(),
            incident: second_number.clone(),
            outcome: "x".into(),
        })
        .await
        .expect_err("merged");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains(&first_number),
        "{}",
        refused.message()
    );

    let cancelled = incidents
        .cancel(pb::CancelRequest {
            request_id: String::new(),
            incident: first_number.clone(),
            reason: "误报：居民烧烤".into(),
        })
        .await
        .expect("cancel")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(cancelled.status, pb::IncidentStatus::Cancelled as i32);
    assert_eq!(
        cancelled.assignments[0].state,
        pb::AssignmentState::Withdrawn as i32
    );
    let reopened = incidents
        .reopen(pb::ReopenRequest {
            request_id: String::new(),
            incident: first_number.clone(),
            reason: "再次来电确认有火情".into(),
        })
        .await
        .expect("reopen")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(reopened.status, pb::IncidentStatus::New as i32);
    // Re-dispatch after the reopen works, with a fresh assignment.
    let redispatched = incidents
        .assign(pb::AssignRequest {
            request_id: String::new(),
            incident: first_number,
            assignee: Some(assignee("post:xinhua")),
            role: pb::AssignmentRole::Lead as i32,
            replace_lead: false,
        })
        .await
        .expect("assign")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(redispatched.assignments.len(), 2);
    assert_eq!(redispatched.status, pb::IncidentStatus::Dispatched as i32);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_use_filters_and_pages() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let mut incidents = daemon.admin().await.incidents();
    for n in 0..7 {
        let lead = if n % 2 == 0 {
            "post:xinhua"
        } else {
            "post:qianjin"
        };
        incidents
            .create_incident(call(&format!("来电 {n}"), Some(lead)))
            .await
            .expect("create");
    }
    incidents
        .create_incident(call("未派单", None))
        .await
        .expect("create");
    let list = |request: pb::ListIncidentsRequest| {
        let mut incidents = incidents.clone();
        async move {
            incidents
                .list_incidents(request)
                .await
                .expect("list")
                .into_inner()
        }
    };
    let xinhua = list(pb::ListIncidentsRequest {
        open_only: true,
        assignee: Some(assignee("post:xinhua")),
        ..Default::default()
    })
    .await;
    assert_eq!(xinhua.incidents.len(), 4);
    let new = list(pb::ListIncidentsRequest {
        statuses: vec![pb::IncidentStatus::New as i32],
        ..Default::default()
    })
    .await;
    assert_eq!(new.incidents.len(), 1);
    assert_eq!(new.incidents[0].summary, "未派单");
    // Paging: 3 at a time, no repeats, nothing missed.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(pb::ListIncidentsRequest {
            open_only: true,
            page: Some(pb::Page {
                limit: 3,
                page_token: token.clone(),
            }),
            ..Default::default()
        })
        .await;
        seen.extend(page.incidents.into_iter().map(|i| i.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(seen.len(), 8);
    assert_eq!(unique, seen);
    let today = seen[0].split('-').next().expect("day").to_owned();
    let by_day = list(pb::ListIncidentsRequest {
        day: today,
        ..Default::default()
    })
    .await;
    assert_eq!(by_day.incidents.len(), 8);
    let other_day = list(pb::ListIncidentsRequest {
        day: "2020-01-01".into(),
        ..Default::default()
    })
    .await;
    assert!(other_day.incidents.is_empty());
    daemon.stop().await;
}

/// Regression guard for TCP_NODELAY: with Nagle's algorithm on, every reply
/// waits ~40 ms for a delayed ACK. The bound is 20x a normal loopback call,
/// so only that stall trips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_do_not_wait_for_nagle() {
    let daemon = TestDaemon::start().await;
    let mut journal = daemon.admin().await.journal();
    let mut took = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        journal
            .get_server_info(pb::GetServerInfoRequest {})
            .await
            .expect("info");
        took.push(start.elapsed());
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median.as_millis() < 20,
        "median unary call took {median:?}: is TCP_NODELAY off on accepted sockets?"
    );
    daemon.stop().await;
}
