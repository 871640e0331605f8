//! Tokens that stop working stop working everywhere: a revoked token's open
//! Watch streams end at once with UNAUTHENTICATED, an expired token is
//! refused, and `token list` shows when each was last used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dutyroom_daemon::clock::ManualClock;
use dutyroom_daemon::{Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;
use pb::watch_response::Item;
use tonic::Code;

use crate::support::{TestDaemon, call, duty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_ends_its_open_watch_with_unauthenticated() {
    // Heartbeats an hour apart: if the stream ends, the revocation ended it.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::support::config(&dir.path().join("data"));
    config.heartbeat_secs = 3600;
    let mut daemon = Daemon::new(config);
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    let handle: DaemonHandle = daemon.start().await.expect("starts");
    let addr = handle.addr.to_string();
    let admin_token = handle.admin_token.clone().expect("admin");
    let admin = dutyroom_console::client::Client::connect(&addr, Some(&admin_token))
        .await
        .expect("admin");
    admin
        .posts()
        .create_post(pb::CreatePostRequest {
            post: Some(pb::Post {
                id: "xinhua".into(),
                name: "新华".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("post");
    let created = admin
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "新华值守".into(),
            role: "post:xinhua".into(),
            ..Default::default()
        })
        .await
        .expect("token")
        .into_inner();
    let post = dutyroom_console::client::Client::connect(&addr, Some(&created.secret))
        .await
        .expect("post");
    let mut stream = post
        .journal()
        .watch(pb::WatchRequest::default())
        .await
        .expect("watch")
        .into_inner();
    loop {
        let item = stream.message().await.expect("stream").expect("item");
        if matches!(item.item, Some(Item::Heartbeat(ref beat)) if beat.caught_up) {
            break;
        }
    }
    let revoked_at = Instant::now();
    admin
        .tokens()
        .revoke_token(pb::RevokeTokenRequest {
            id: created.token.expect("info").id,
            ..Default::default()
        })
        .await
        .expect("revoke");
    // A guard against a hang, not a timing assertion.
    let ended = tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("the stream ends long before its next heartbeat")
        .expect_err("the stream ends with an error");
    println!("revoked stream ended after {:?}", revoked_at.elapsed());
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(ended.message().contains("revoked"), "{}", ended.message());
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_and_token_list_shows_last_use() {
    let clock = Arc::new(ManualClock::new(
        "2026-11-23T08:00:00+08:00".parse().expect("time"),
    ));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    let admin = daemon.admin().await;
    let in_an_hour = clock_in(&clock, 3600);
    let created = admin
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "临时值守".into(),
            role: "post:xinhua".into(),
            expires_at: Some(in_an_hour),
            ..Default::default()
        })
        .await
        .expect("token")
        .into_inner();
    let info = created.token.expect("info");
    assert!(info.expires_at.is_some());
    let post = daemon.client(&created.secret).await;
    post.tokens()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("works before it expires");

    let listed = duty(&daemon, &daemon.admin, &["-o", "json", "token", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let tokens = listed.json()["tokens"].as_array().cloned().expect("tokens");
    let mine = tokens
        .iter()
        .find(|t| t["id"] == info.id.as_str())
        .expect("listed");
    assert!(mine["last_used_at"].is_string(), "{mine}");
    assert!(mine["expires_at"].is_string(), "{mine}");
    let table = duty(&daemon, &daemon.admin, &["token", "list"]).await;
    assert!(table.stdout.contains("LAST USED"), "{}", table.stdout);

    // A past expiry is refused.
    let past = admin
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "x".into(),
            role: "officer".into(),
            expires_at: Some(clock_in(&clock, -1)),
            ..Default::default()
        })
        .await
        .expect_err("past expiry");
    assert_eq!(past.code(), Code::InvalidArgument);

    clock.advance(jiff::SignedDuration::from_secs(3601));
    let refused = post
        .incidents()
        .create_incident(call("x", None))
        .await
        .expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("expired"),
        "{}",
        refused.message()
    );
    daemon.stop().await;
}

fn clock_in(clock: &ManualClock, secs: i64) -> prost_types::Timestamp {
    use dutyroom_daemon::clock::Clock;
    let at = clock.now() + jiff::SignedDuration::from_secs(secs);
    prost_types::Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    }
}

/// Limits per token: a burst of calls passes, then RESOURCE_EXHAUSTED says
/// when to retry; Watch streams are counted; a token may carry its own
/// limits (0: unlimited, what the bench's tokens carry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_limits_is_told_when_to_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::support::config(&dir.path().join("data"));
    config.calls_per_second_per_token = 1;
    config.call_burst_per_token = 3;
    config.max_streams_per_token = 2;
    let mut daemon = Daemon::new(config);
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    let handle = daemon.start().await.expect("starts");
    let addr = handle.addr.to_string();
    let admin_token = handle.admin_token.clone().expect("admin");
    let admin = dutyroom_console::client::Client::connect(&addr, Some(&admin_token))
        .await
        .expect("admin");
    // The first admin token has the defaults too: make one without limits.
    let unlimited = dutyroom_console::bench::unlimited_token(&admin)
        .await
        .expect("unlimited token");
    let free = dutyroom_console::client::Client::connect(&addr, Some(&unlimited))
        .await
        .expect("free");
    let limited = free
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "值班员".into(),
            role: "officer".into(),
            ..Default::default()
        })
        .await
        .expect("token")
        .into_inner()
        .secret;
    for _ in 0..50 {
        free.tokens()
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .expect("no limits");
    }
    let officer = dutyroom_console::client::Client::connect(&addr, Some(&limited))
        .await
        .expect("officer");
    let mut refused = None;
    for _ in 0..10 {
        if let Err(status) = officer.tokens().who_am_i(pb::WhoAmIRequest {}).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("10 calls at once are over a burst of 3 at 1/s");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("retry in"),
        "{}",
        refused.message()
    );
    assert!(refused.metadata().get("grpc-retry-pushback-ms").is_some());

    // Calls without limit, streams at dutyd's default of 2.
    let watcher_token = free
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "看板".into(),
            role: "officer".into(),
            calls_per_second: Some(0),
            ..Default::default()
        })
        .await
        .expect("token")
        .into_inner()
        .secret;
    let watcher = dutyroom_console::client::Client::connect(&addr, Some(&watcher_token))
        .await
        .expect("watcher");
    let watch = |client: dutyroom_console::client::Client| async move {
        client
            .journal()
            .watch(pb::WatchRequest::default())
            .await
            .map(tonic::Response::into_inner)
    };
    let mut streams = vec![
        watch(watcher.clone()).await.expect("first stream"),
        watch(watcher.clone()).await.expect("second stream"),
    ];
    let third = watch(watcher.clone()).await.expect_err("a third stream");
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    assert!(
        third.message().contains("2 Watch streams"),
        "{}",
        third.message()
    );
    // The unlimited token holds as many as it likes.
    for _ in 0..5 {
        streams.push(watch(free.clone()).await.expect("stream"));
    }
    drop(streams);
    handle.shutdown().await.expect("shutdown");
}
