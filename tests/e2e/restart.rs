//! A restart keeps everything: state, counters, tokens, the journal chain.

use dutyroom_proto::v1 as pb;

use crate::support::{TestDaemon, call, duty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything_and_numbers_continue() {
    let mut daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "王伟").await;
    let mut incidents = daemon.client(&officer).await.incidents();
    let first = incidents
        .create_incident(call("重启前", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident");
    incidents
        .sign_for(pb::AssignmentActionRequest {
            incident: first.number.clone(),
            assignment_id: 1,
            ..Default::default()
        })
        .await
        .expect("sign");
    let head_before = daemon.info().await;

    daemon.restart().await;

    // The officer's token still works; the incident is as it was.
    let mut incidents = daemon.client(&officer).await.incidents();
    let again = incidents
        .get_incident(pb::GetIncidentRequest {
            incident: first.number.clone(),
        })
        .await
        .expect("still there")
        .into_inner();
    assert_eq!(again.status, pb::IncidentStatus::Signed as i32);
    let info = daemon.info().await;
    assert_eq!(info.head_seq, head_before.head_seq);
    assert_eq!(info.store_id, head_before.store_id);

    // Counters continue: the next incident of the day is number 2.
    let second = incidents
        .create_incident(call("重启后", None))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident");
    assert!(second.number.ends_with("-0002"), "{}", second.number);
    assert_eq!(second.id, first.id + 1);
    let verified = duty(&daemon, &daemon.admin, &["audit", "verify"]).await;
    assert_eq!(verified.code, 0, "{} {}", verified.stdout, verified.stderr);
    daemon.stop().await;
}
