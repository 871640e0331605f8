//! The bench instruments, run small against a real daemon: they must count
//! what happened (no errors, nothing missed), or their figures mean nothing.

use std::time::Duration;

use dutyroom_console::bench::{self, LoadOptions, Target};

use crate::support::TestDaemon;

fn small(count: u64, clients: usize) -> LoadOptions {
    LoadOptions {
        clients,
        duration: Duration::from_secs(30),
        count: Some(count),
        rate: None,
    }
}

async fn prepared(daemon: &TestDaemon) -> bench::Prepared {
    bench::prepare(
        Target::Remote {
            addr: daemon.addr.clone(),
            token: daemon.admin.clone(),
        },
        None,
    )
    .await
    .expect("bench prepares")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_and_dispatch_count_every_call_and_every_delivery() {
    let daemon = TestDaemon::start().await;
    let prepared = prepared(&daemon).await;
    let intake = bench::intake::run(&prepared, &small(50, 4))
        .await
        .expect("intake runs");
    assert_eq!(intake.ok, 50);
    assert!(intake.errors.is_empty(), "{:?}", intake.errors);
    assert!(intake.latency.p50_us > 0 && intake.latency.p50_us <= intake.latency.max_us);

    let dispatch = bench::dispatch::run(
        &prepared,
        &bench::dispatch::DispatchOptions {
            load: small(40, 4),
            posts: 5,
            consoles: 2,
        },
    )
    .await
    .expect("dispatch runs");
    assert_eq!(dispatch.ok, 40);
    assert_eq!(dispatch.figures.get("deliveries missed"), Some(&0.0));
    let to_posts = dispatch
        .series
        .iter()
        .find(|(name, _)| name.starts_with("push to the post"))
        .map(|(_, l)| l.count);
    // Each order reached its post once, and both consoles.
    assert_eq!(to_posts, Some(40));
    let to_consoles = dispatch
        .series
        .iter()
        .find(|(name, _)| name.starts_with("push to consoles"))
        .map(|(_, l)| l.count);
    assert_eq!(to_consoles, Some(80));
    prepared.finish().await;
    daemon.stop().await;
}
