//! History search end to end: any past incident found by text, phone tail
//! and initials, newest first; a post finds only its own and may not search
//! by phone; every phone search is journaled for admins to see.

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::{TestDaemon, call, duty};

async fn create(daemon: &TestDaemon, summary: &str, phone: &str, lead: &str) -> String {
    let mut request = call(summary, Some(lead));
    if let Some(intake) = request.intake.as_mut() {
        intake.caller_phone = phone.into();
        intake.caller_name = "张先生".into();
    }
    daemon
        .admin()
        .await
        .incidents()
        .create_incident(request)
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number
}

async fn search(
    daemon: &TestDaemon,
    token: &str,
    tune: impl FnOnce(&mut pb::SearchIncidentsRequest),
) -> Result<Vec<String>, tonic::Status> {
    let mut request = pb::SearchIncidentsRequest::default();
    tune(&mut request);
    daemon
        .client(token)
        .await
        .incidents()
        .search_incidents(request)
        .await
        .map(|r| {
            r.into_inner()
                .incidents
                .into_iter()
                .map(|i| i.number)
                .collect()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_calls_are_found_by_text_phone_and_initials_and_phone_searches_are_journaled() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let admin = daemon.admin.clone();
    let first = create(
        &daemon,
        "居民楼冒烟，电动车起火",
        "13900001111",
        "post:xinhua",
    )
    .await;
    let second = create(&daemon, "楼道堆放杂物", "13900002222", "post:qianjin").await;
    let third = create(&daemon, "又闻到冒烟的味道", "13900001111", "post:xinhua").await;
    // History too: a cancelled call is still found.
    daemon
        .admin()
        .await
        .incidents()
        .cancel(pb::CancelRequest {
            incident: first.clone(),
            reason: "重复报警".into(),
            ..Default::default()
        })
        .await
        .expect("cancel");

    let smoke = search(&daemon, &admin, |r| r.text = "冒烟".into())
        .await
        .expect("text");
    assert_eq!(
        smoke,
        [third.clone(), first.clone()],
        "newest first, cancelled too"
    );
    let by_tail = search(&daemon, &admin, |r| r.phone = "1111".into())
        .await
        .expect("phone tail");
    assert_eq!(by_tail, [third.clone(), first.clone()]);
    let whole = search(&daemon, &admin, |r| r.phone = "139-0000-2222".into())
        .await
        .expect("whole number");
    assert_eq!(whole, std::slice::from_ref(&second));
    let initials = search(&daemon, &admin, |r| r.text = "zxs".into())
        .await
        .expect("initials");
    assert_eq!(initials.len(), 3, "张先生 on every call");
    let both = search(&daemon, &admin, |r| {
        r.text = "电动车 起火".into();
        r.phone = "1111".into();
    })
    .await
    .expect("text and phone");
    assert_eq!(both, std::slice::from_ref(&first));
    let apart = search(&daemon, &admin, |r| r.text = "冒烟 杂物".into())
        .await
        .expect("two words");
    assert!(apart.is_empty(), "every word must be in the incident");

    // A post: its own incidents only, and no phone searches.
    let qianjin = daemon.token("post:qianjin", "前进值班").await;
    let own = search(&daemon, &qianjin, |_| {}).await.expect("own");
    assert_eq!(own, std::slice::from_ref(&second));
    let denied = search(&daemon, &qianjin, |r| r.phone = "1111".into())
        .await
        .expect_err("denied");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Bad input is named.
    let short = search(&daemon, &admin, |r| r.text = "火".into())
        .await
        .expect_err("one character");
    assert_eq!(short.code(), Code::InvalidArgument);
    assert!(short.message().contains("two or more"), "{short:?}");
    let bad_phone = search(&daemon, &admin, |r| r.phone = "12a".into())
        .await
        .expect_err("not a phone");
    assert!(bad_phone.message().contains("last 4"), "{bad_phone:?}");

    // Every phone search is in the journal, for admins only.
    let events = |token: String| {
        let daemon = &daemon;
        async move {
            daemon
                .client(&token)
                .await
                .journal()
                .list_events(pb::ListEventsRequest::default())
                .await
                .expect("events")
                .into_inner()
                .events
        }
    };
    let lookups: Vec<String> = events(admin.clone())
        .await
        .into_iter()
        .filter_map(|e| match e.body {
            Some(pb::event::Body::PhoneLookedUp(l)) => Some(l.phone),
            _ => None,
        })
        .collect();
    assert_eq!(lookups, ["1111", "13900002222", "1111"]);
    let officer = daemon.token("officer", "值班员").await;
    assert!(
        events(officer)
            .await
            .iter()
            .all(|e| !matches!(e.body, Some(pb::event::Body::PhoneLookedUp(_)))),
        "an officer does not see who looked up which number"
    );

    // The CLI: a table, and CSV.
    let table = duty(&daemon, &admin, &["incident", "search", "冒烟"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains(&third), "{}", table.stdout);
    let csv = duty(
        &daemon,
        &admin,
        &["incident", "search", "--phone", "1111", "-o", "csv"],
    )
    .await;
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert_eq!(csv.stdout.lines().count(), 3, "{}", csv.stdout);
    assert!(csv.stdout.starts_with("number,received,severity"));
    let refused = duty(&daemon, &admin, &["incident", "search", "火"]).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    daemon.stop().await;
}

async fn related(
    daemon: &TestDaemon,
    token: &str,
    tune: impl FnOnce(&mut pb::FindRelatedRequest),
) -> Result<pb::FindRelatedReply, tonic::Status> {
    let mut request = pb::FindRelatedRequest::default();
    tune(&mut request);
    daemon
        .client(token)
        .await
        .incidents()
        .find_related(request)
        .await
        .map(tonic::Response::into_inner)
}

fn numbers(incidents: &[pb::Incident]) -> Vec<String> {
    incidents.iter().map(|i| i.number.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_caller_is_recognised_and_attached_instead_of_taken_twice() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let admin = daemon.admin.clone();
    let smoke = create(&daemon, "三楼冒烟", "13900001111", "post:xinhua").await;
    let earlier = create(&daemon, "上周也冒烟", "13900001111", "post:xinhua").await;
    daemon
        .admin()
        .await
        .incidents()
        .cancel(pb::CancelRequest {
            incident: earlier.clone(),
            reason: "误报".into(),
            ..Default::default()
        })
        .await
        .expect("cancel");

    // The number is known: two calls this month, one incident still open.
    let known = related(&daemon, &admin, |r| r.phone = "139 0000 1111".into())
        .await
        .expect("by phone");
    assert_eq!(known.calls_last_30_days, 2);
    assert!(!known.calls_capped);
    assert_eq!(
        numbers(&known.open_from_phone),
        std::slice::from_ref(&smoke)
    );
    assert_eq!(
        known.open_from_phone[0].caller_phone, "13900001111",
        "the officer on the line sees the number in full"
    );
    // Same place, same category: the open fire there, unless already listed.
    let here = related(&daemon, &admin, |r| {
        r.place_id = "xingfu".into();
        r.category = "fire".into();
    })
    .await
    .expect("by place");
    assert_eq!(numbers(&here.open_same_place), std::slice::from_ref(&smoke));
    assert_eq!(here.calls_last_30_days, 0, "no phone, no count");
    let both = related(&daemon, &admin, |r| {
        r.phone = "13900001111".into();
        r.place_id = "xingfu".into();
        r.category = "fire".into();
    })
    .await
    .expect("both");
    assert!(both.open_same_place.is_empty(), "listed once, by phone");

    // A neighbour calls about the same smoke: attached, not a new incident.
    let attach = pb::AddRepeatCallRequest {
        request_id: "repeat-1".into(),
        incident: smoke.clone(),
        source: pb::SourceChannel::Fire119 as i32,
        caller_name: "王女士".into(),
        caller_phone: "13700003333".into(),
        text: "还在冒烟，有焦味".into(),
    };
    let mut incidents = daemon.admin().await.incidents();
    let first = incidents
        .add_repeat_call(attach.clone())
        .await
        .expect("attach")
        .into_inner();
    let again = incidents
        .add_repeat_call(attach.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.seq, again.seq, "a retry records nothing new");
    let incident = first.incident.expect("incident");
    assert_eq!(incident.repeat_calls.len(), 1);
    let call = &incident.repeat_calls[0];
    assert_eq!(call.caller_name, "王女士");
    assert_eq!(call.source, pb::SourceChannel::Fire119 as i32);
    assert_eq!(
        call.taken_by.as_ref().map(|p| p.role.as_str()),
        Some("admin")
    );
    // On the timeline, with the caller and the time.
    let timeline = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: smoke.clone(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let entry = timeline
        .iter()
        .find(|e| e.kind == "incident.repeat_call")
        .expect("a timeline entry");
    match &entry.body {
        Some(pb::event::Body::RepeatCallAdded(c)) => {
            assert_eq!(c.caller_phone, "13700003333");
            assert!(c.at.is_some());
        }
        other => panic!("{other:?}"),
    }
    // The neighbour's number and words now find the incident too.
    let by_neighbour = related(&daemon, &admin, |r| r.phone = "13700003333".into())
        .await
        .expect("neighbour");
    assert_eq!(by_neighbour.calls_last_30_days, 1);
    assert_eq!(
        numbers(&by_neighbour.open_from_phone),
        std::slice::from_ref(&smoke)
    );
    let found = search(&daemon, &admin, |r| r.phone = "3333".into())
        .await
        .expect("tail");
    assert_eq!(found, std::slice::from_ref(&smoke));
    let found = search(&daemon, &admin, |r| r.text = "焦味".into())
        .await
        .expect("text");
    assert_eq!(found, std::slice::from_ref(&smoke));
    // A list masks the repeat caller's number like the first caller's.
    let masked = daemon
        .admin()
        .await
        .incidents()
        .list_incidents(pb::ListIncidentsRequest {
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .incidents;
    let row = masked.iter().find(|i| i.number == smoke).expect("listed");
    assert_eq!(row.repeat_calls[0].caller_phone, "137****3333");

    // Refusals a person can act on.
    let closed = incidents
        .add_repeat_call(pb::AddRepeatCallRequest {
            incident: earlier.clone(),
            ..Default::default()
        })
        .await
        .expect_err("cancelled");
    assert_eq!(closed.code(), Code::FailedPrecondition);
    assert!(
        closed.message().contains("take this call as a new one"),
        "{closed:?}"
    );
    let tail_only = related(&daemon, &admin, |r| r.phone = "1111".into())
        .await
        .expect_err("a tail is not a caller");
    assert_eq!(tail_only.code(), Code::InvalidArgument);
    assert!(
        tail_only.message().contains("whole number"),
        "{tail_only:?}"
    );
    let nothing = related(&daemon, &admin, |_| {}).await.expect_err("nothing");
    assert_eq!(nothing.code(), Code::InvalidArgument);
    // Calls are taken at the centre.
    let xinhua = daemon.token("post:xinhua", "新华值班").await;
    let denied = related(&daemon, &xinhua, |r| r.phone = "13900001111".into())
        .await
        .expect_err("post");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = daemon
        .client(&xinhua)
        .await
        .incidents()
        .add_repeat_call(pb::AddRepeatCallRequest {
            incident: smoke.clone(),
            ..Default::default()
        })
        .await
        .expect_err("post");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Each lookup by phone is journaled, like a search.
    let lookups = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect("events")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| matches!(e.body, Some(pb::event::Body::PhoneLookedUp(_))))
        .count();
    assert_eq!(
        lookups, 4,
        "three related lookups by phone, one search by tail"
    );

    // The CLI.
    let shown = duty(
        &daemon,
        &admin,
        &["incident", "related", "--phone", "13900001111"],
    )
    .await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("last 30 days: 2"), "{}", shown.stdout);
    assert!(shown.stdout.contains(&smoke), "{}", shown.stdout);
    let attached = duty(
        &daemon,
        &admin,
        &[
            "incident",
            "repeat-call",
            &smoke,
            "烟更大了",
            "--phone",
            "13900001111",
        ],
    )
    .await;
    assert_eq!(attached.code, 0, "{}", attached.stderr);
    let got = duty(&daemon, &admin, &["incident", "get", &smoke]).await;
    assert!(got.stdout.contains("Repeat calls: 2"), "{}", got.stdout);
    let refused = duty(&daemon, &admin, &["incident", "related"]).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    daemon.stop().await;
}
