//! The bench instruments, run small against a real daemon: they must count
//! what happened (no errors, nothing missed), or their figures mean nothing.

use std::time::Duration;

use dutyroom_console::bench::{self, LoadOptions, Target};
use dutyroom_proto::v1 as pb;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_fills_the_store_and_mixed_runs_every_kind_of_call() {
    let daemon = TestDaemon::start().await;
    let prepared = prepared(&daemon).await;
    let query = bench::query::run(
        &prepared,
        &bench::query::QueryOptions {
            load: small(30, 2),
            incidents: 200,
            posts: 5,
            open_per_post: 4,
            progress: false,
        },
    )
    .await
    .expect("query runs");
    // Filled to exactly what was asked, and every call answered.
    assert_eq!(query.figures.get("incidents stored"), Some(&200.0));
    assert!(query.errors.is_empty(), "{:?}", query.errors);
    assert_eq!(query.ok, 30);
    assert_eq!(query.series.get("get by number").map(|l| l.count), Some(30));
    // What the create + assign phase made is cancelled after it: the open
    // incidents are the fill's 4 per post, so no clocks of the bench's own
    // run on into the next one.
    let open = daemon
        .admin()
        .await
        .incidents()
        .list_incidents(pb::ListIncidentsRequest {
            open_only: true,
            page: Some(pb::Page {
                limit: 1000,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .incidents;
    assert_eq!(open.len(), 20);
    // A second run finds the store full: nothing more is created.
    let again = bench::query::fill(
        &prepared,
        &bench::query::QueryOptions {
            load: small(1, 1),
            incidents: 200,
            posts: 5,
            open_per_post: 4,
            progress: false,
        },
        &[],
    )
    .await
    .expect("fill");
    assert_eq!(again.created, 0);

    let mixed = bench::mixed::run(
        &prepared,
        &bench::mixed::MixedOptions {
            load: small(200, 4),
            posts: 5,
            consoles: 2,
        },
    )
    .await
    .expect("mixed runs");
    assert!(mixed.errors.is_empty(), "{:?}", mixed.errors);
    for kind in [
        "take a call and dispatch",
        "post signs for",
        "post's open list",
        "get by number",
    ] {
        assert!(
            mixed.series.get(kind).is_some_and(|l| l.count > 0),
            "{kind}: {:?}",
            mixed.series.keys()
        );
    }
    prepared.finish().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ceilings_are_measured_and_give_ratios() {
    let daemon = TestDaemon::start().await;
    let prepared = prepared(&daemon).await;
    let reply = bench::baseline::sample_reply(&prepared.client().await.expect("client"))
        .await
        .expect("a real reply");
    let scratch = tempfile::tempdir().expect("scratch");
    let ceilings = bench::baseline::ceilings(&small(100, 2), &reply, scratch.path())
        .await
        .expect("ceilings");
    for ceiling in [&ceilings.transport, &ceilings.storage, &ceilings.naive] {
        assert_eq!(ceiling.ok, 100, "{}", ceiling.workload);
        assert!(ceiling.errors.is_empty(), "{:?}", ceiling.errors);
    }
    let intake = bench::intake::run(&prepared, &small(100, 2))
        .await
        .expect("intake");
    let ratios = ceilings.ratios(&intake);
    assert_eq!(ratios.len(), 4);
    assert!(
        ratios.iter().all(|(_, r)| r.is_finite() && *r > 0.0),
        "{ratios:?}"
    );
    prepared.finish().await;
    daemon.stop().await;
}
