//! Bad input gets the right status and a message a person can act on;
//! health and reflection answer standard tools without a token.

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::{TestDaemon, call, duty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_and_the_limit() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let mut incidents = daemon.admin().await.incidents();
    let check = |result: Result<tonic::Response<pb::IncidentReply>, tonic::Status>,
                 code: Code,
                 words: &[&str]| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), code, "{}", status.message());
        for word in words {
            assert!(
                status.message().contains(word),
                "{:?} lacks {word:?}",
                status.message()
            );
        }
    };

    let mut long = call(&"长".repeat(2001), None);
    check(
        incidents.create_incident(long.clone()).await,
        Code::InvalidArgument,
        &["intake.summary", "2000", "2001"],
    );
    long.intake.as_mut().expect("intake").summary = "ok".into();
    long.intake.as_mut().expect("intake").severity = 9;
    check(
        incidents.create_incident(long.clone()).await,
        Code::InvalidArgument,
        &["intake.severity"],
    );
    let mut nowhere = call("无地址", None);
    let intake = nowhere.intake.as_mut().expect("intake");
    intake.address.clear();
    intake.place_id.clear();
    check(
        incidents.create_incident(nowhere).await,
        Code::InvalidArgument,
        &["intake.address", "where"],
    );
    let mut bad_phone = call("电话", None);
    bad_phone.intake.as_mut().expect("intake").caller_phone = "call me".into();
    check(
        incidents.create_incident(bad_phone).await,
        Code::InvalidArgument,
        &["intake.caller_phone"],
    );
    let mut unknown_place = call("地点", None);
    unknown_place.intake.as_mut().expect("intake").place_id = "atlantis".into();
    check(
        incidents.create_incident(unknown_place).await,
        Code::NotFound,
        &["place \"atlantis\""],
    );
    check(
        incidents
            .get_incident(pb::GetIncidentRequest {
                incident: "yesterday".into(),
            })
            .await
            .map(|r| r.map(|_| pb::IncidentReply::default())),
        Code::InvalidArgument,
        &["incident", "20261123-0042"],
    );
    let number = incidents
        .create_incident(call("关闭前须办结", None))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    check(
        incidents
            .close(pb::CloseRequest {
                request_id: String::new(),
                incident: number.clone(),
                callback_result: "ok".into(),
                satisfaction: 3,
            })
            .await,
        Code::FailedPrecondition,
        &["is new", "only a resolved incident can be closed"],
    );
    check(
        incidents
            .close(pb::CloseRequest {
                request_id: String::new(),
                incident: number,
                callback_result: "ok".into(),
                satisfaction: 7,
            })
            .await,
        Code::InvalidArgument,
        &["satisfaction", "1 to 5"],
    );

    // A message over the size limit is refused before it is read.
    let mut huge = call("大", None);
    huge.intake.as_mut().expect("intake").tags = vec!["x".repeat(1024); 2048];
    let status = incidents.create_incident(huge).await.expect_err("too big");
    assert_eq!(status.code(), Code::OutOfRange, "{}", status.message());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_tokens_are_enforced() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "值班员").await;
    let leader = daemon.token("leader", "带班领导").await;

    let denied = duty(
        &daemon,
        &officer,
        &["post", "create", "newpost", "--name", "新岗"],
    )
    .await;
    assert_eq!(denied.code, 7, "{}", denied.stderr);
    assert!(denied.stderr.contains("needs admin"), "{}", denied.stderr);
    let mode = duty(
        &daemon,
        &officer,
        &["post", "mode", "xinhua", "emergency", "--reason", "台风"],
    )
    .await;
    assert_eq!(mode.code, 7, "{}", mode.stderr);
    let mode = duty(
        &daemon,
        &leader,
        &[
            "-o",
            "json",
            "post",
            "mode",
            "xinhua",
            "emergency",
            "--reason",
            "台风登陆",
        ],
    )
    .await;
    assert_eq!(mode.code, 0, "{}", mode.stderr);
    assert_eq!(mode.json()["mode"], "POST_MODE_EMERGENCY");

    let no_token = dutyroom_console::client::Client::connect(&daemon.addr, None)
        .await
        .expect("connect")
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect_err("no token");
    assert_eq!(no_token.code(), Code::Unauthenticated);
    assert!(
        no_token.message().contains("Bearer"),
        "{}",
        no_token.message()
    );

    // Revocation takes effect on the next call.
    let id = duty(&daemon, &officer, &["-o", "json", "token", "whoami"])
        .await
        .json()["token_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let revoked = duty(&daemon, &daemon.admin, &["token", "revoke", &id]).await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let after = duty(&daemon, &officer, &["info"]).await;
    assert_eq!(after.code, 7);
    assert!(after.stderr.contains("revoked"), "{}", after.stderr);
    let bogus = duty(&daemon, &format!("dty_{id}_{}", "0".repeat(64)), &["info"]).await;
    assert_eq!(bogus.code, 7);

    // A token for a post that does not exist is refused at creation.
    let missing = duty(
        &daemon,
        &daemon.admin,
        &["token", "create", "--name", "x", "--role", "post:atlantis"],
    )
    .await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    let bad_role = duty(
        &daemon,
        &daemon.admin,
        &["token", "create", "--name", "x", "--role", "root"],
    )
    .await;
    assert_eq!(bad_role.code, 3, "{}", bad_role.stderr);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_refuses_broken_references_and_live_retirements() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let admin = &daemon.admin;
    let grid_under_district = duty(
        &daemon,
        admin,
        &[
            "place",
            "create",
            "g1",
            "--name",
            "一号网格",
            "--kind",
            "grid",
            "--parent",
            "chengguan",
        ],
    )
    .await;
    assert_eq!(
        grid_under_district.code, 3,
        "{}",
        grid_under_district.stderr
    );
    assert!(
        grid_under_district.stderr.contains("must be a community"),
        "{}",
        grid_under_district.stderr
    );
    let duplicate = duty(
        &daemon,
        admin,
        &["post", "create", "xinhua", "--name", "重复"],
    )
    .await;
    assert_eq!(duplicate.code, 5, "{}", duplicate.stderr);
    let unknown_unit = duty(
        &daemon,
        admin,
        &["category", "update", "fire", "--unit", "ghost"],
    )
    .await;
    assert_eq!(unknown_unit.code, 4, "{}", unknown_unit.stderr);

    // A post with open work cannot be retired; once the work is done it can.
    let mut incidents = daemon.admin().await.incidents();
    let number = incidents
        .create_incident(call("退役前", Some("post:qianjin")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    let busy = duty(&daemon, admin, &["post", "retire", "qianjin"]).await;
    assert_eq!(busy.code, 6, "{}", busy.stderr);
    assert!(busy.stderr.contains(&number), "{}", busy.stderr);
    incidents
        .resolve(pb::ResolveRequest {
            done_at: None,
            request_id: String::new(),
            incident: number,
            outcome: "已处置".into(),
        })
        .await
        .expect("resolve");
    let retired = duty(&daemon, admin, &["-o", "json", "post", "retire", "qianjin"]).await;
    assert_eq!(retired.code, 0, "{}", retired.stderr);
    assert_eq!(retired.json()["retired"], true);
    let dispatch = incidents
        .create_incident(call("派给已退役的", Some("post:qianjin")))
        .await
        .expect_err("retired post");
    assert_eq!(dispatch.code(), Code::FailedPrecondition);
    let listed = duty(&daemon, admin, &["-o", "json", "post", "list"]).await;
    assert_eq!(listed.json()["posts"].as_array().map(Vec::len), Some(1));
    // Communities show the post of the sub-district above them.
    let place = duty(&daemon, admin, &["-o", "json", "place", "get", "xingfu"]).await;
    assert_eq!(place.json()["post_id"], "xinhua");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer_without_a_token() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let daemon = TestDaemon::start().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let health = HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "dutyroom.v1.IncidentService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let reply = replies.message().await.expect("ok").expect("a reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("not a service list: {reply:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in [
        "dutyroom.v1.IncidentService",
        "dutyroom.v1.JournalService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
    daemon.stop().await;
}

/// Hostile text: dutyd refuses control characters (names: also newline, tab
/// and bidi controls) naming the field; what free text may hold (newlines)
/// is shown visibly in tables and lines, and exactly in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_control_text_is_refused_or_shown_visibly() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let admin = daemon.admin().await;
    let refused = admin
        .incidents()
        .create_incident(call("火情\u{1b}[2J\u{1b}]0;pwned\u{7}", None))
        .await
        .expect_err("escape in a summary");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("intake.summary"),
        "{}",
        refused.message()
    );
    assert!(
        !refused.message().contains('\u{1b}'),
        "{}",
        refused.message()
    );
    let bidi = admin
        .posts()
        .create_post(pb::CreatePostRequest {
            post: Some(pb::Post {
                id: "evil".into(),
                name: "新华\u{202e}部挥指".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("bidi override in a name");
    assert_eq!(bidi.code(), Code::InvalidArgument);
    assert!(bidi.message().contains("post.name"), "{}", bidi.message());
    let token_name = admin
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "值守\r\nFORGED".into(),
            role: "officer".into(),
            ..Default::default()
        })
        .await
        .expect_err("newline in a token name");
    assert!(
        token_name.message().contains("name"),
        "{}",
        token_name.message()
    );

    let number = admin
        .incidents()
        .create_incident(call("第一行\nFORGED 0001 已办结", Some("post:xinhua")))
        .await
        .expect("newline in free text is fine")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    for args in [
        vec!["incident", "list"],
        vec!["incident", "get", number.as_str()],
        vec!["audit", "log"],
    ] {
        let run = duty(&daemon, &daemon.admin, &args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            !run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("FORGED")),
            "{args:?} printed a forged line:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("第一行\\nFORGED"),
            "{args:?}:\n{}",
            run.stdout
        );
    }
    let json = duty(
        &daemon,
        &daemon.admin,
        &["-o", "json", "incident", "get", &number],
    )
    .await;
    assert_eq!(json.json()["summary"], "第一行\nFORGED 0001 已办结");
    daemon.stop().await;
}
