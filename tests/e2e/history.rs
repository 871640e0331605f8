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
