//! Client request ids: a retry returns the first result and changes nothing.

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::{TestDaemon, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_returns_the_first_incident() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let mut incidents = daemon.admin().await.incidents();
    let mut request = call("重试测试", Some("post:xinhua"));
    request.request_id = "call-7f3a".into();
    let first = incidents
        .create_incident(request.clone())
        .await
        .expect("first")
        .into_inner();
    let again = incidents
        .create_incident(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again, "the retry answers exactly the first result");
    let listed = incidents
        .list_incidents(pb::ListIncidentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.incidents.len(), 1, "the retry created nothing");

    // Concurrent retries (a client that timed out and resent at once).
    let mut retries = Vec::new();
    request.request_id = "call-8b2c".into();
    for _ in 0..8 {
        let mut client = incidents.clone();
        let request = request.clone();
        retries.push(tokio::spawn(async move {
            client
                .create_incident(request)
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut numbers = Vec::new();
    for retry in retries {
        let reply = retry.await.expect("joined").expect("ok");
        numbers.push(reply.incident.expect("incident").number);
    }
    numbers.dedup();
    assert_eq!(numbers.len(), 1, "all eight answers name one incident");

    // The same id for a different request is a mistake worth saying.
    let mut different = call("另一件事", None);
    different.request_id = "call-7f3a".into();
    let error = incidents
        .create_incident(different)
        .await
        .expect_err("reused id");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().contains("already used"),
        "{}",
        error.message()
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_action_changes_nothing_and_ids_are_per_token() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let post = daemon.token("post:xinhua", "新华值守").await;
    let mut admin = daemon.admin().await.incidents();
    let number = admin
        .create_incident(call("签收重试", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    let mut as_post = daemon.client(&post).await.incidents();
    let sign = pb::AssignmentActionRequest {
        request_id: "sign-1".into(),
        incident: number.clone(),
        ..Default::default()
    };
    let first = as_post
        .sign_for(sign.clone())
        .await
        .expect("sign")
        .into_inner();
    // Without the id, signing twice is refused; with it, it is a no-op retry.
    let again = as_post
        .sign_for(sign.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.seq, again.seq);
    let mut unkeyed = sign.clone();
    unkeyed.request_id.clear();
    let error = as_post.sign_for(unkeyed).await.expect_err("already signed");
    assert_eq!(error.code(), Code::FailedPrecondition);

    // Another token using the same id is a different request.
    let other = admin
        .add_note(pb::AddNoteRequest {
            done_at: None,
            request_id: "sign-1".into(),
            incident: number,
            text: "同一个请求号，不同的令牌".into(),
        })
        .await
        .expect("another token's id space")
        .into_inner();
    assert!(other.seq > first.seq);

    // A retried token creation never shows the secret twice.
    let mut tokens = daemon.admin().await.tokens();
    let create = pb::CreateTokenRequest {
        request_id: "tok-1".into(),
        name: "夜班值班员".into(),
        role: "officer".into(),
        expires_at: None,
        ..Default::default()
    };
    let first = tokens
        .create_token(create.clone())
        .await
        .expect("create")
        .into_inner();
    let again = tokens
        .create_token(create)
        .await
        .expect("retry")
        .into_inner();
    assert!(!first.secret.is_empty());
    assert!(again.secret.is_empty());
    assert_eq!(first.token, again.token);
    daemon.stop().await;
}
