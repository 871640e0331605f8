//! Online backup while calls keep coming, restore, and what resuming
//! clients are told afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::{TestDaemon, call, duty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_whole_and_resuming_clients_are_told_to_resync() {
    let mut daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "王伟").await;
    let mut before = Vec::new();
    for n in 0..5 {
        before.push(daemon.call_number(&format!("备份前 {n}"), None).await);
    }
    // Calls keep coming while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let client = daemon.client(&officer).await;
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut incidents = client.incidents();
            let mut made = 0;
            while !stop.load(Ordering::Relaxed) {
                incidents
                    .create_incident(call("备份中", None))
                    .await
                    .expect("create during the backup");
                made += 1;
            }
            made
        })
    };
    let dir = daemon.data.with_extension("backup");
    let dir_text = dir.display().to_string();
    // Not for the officer.
    let refused = duty(&daemon, &officer, &["admin", "backup", &dir_text]).await;
    assert_eq!(refused.code, 7, "{}", refused.stderr);
    let taken = duty(
        &daemon,
        &daemon.admin,
        &["-o", "json", "admin", "backup", &dir_text],
    )
    .await;
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    let backup_head = taken.json()["head_seq"].as_u64().expect("head_seq");
    stop.store(true, Ordering::Relaxed);
    let made_during = writer.await.expect("writer");
    let old = daemon.info().await;
    assert!(old.head_seq >= backup_head);
    // A second backup into the same directory is refused: it is not empty.
    let again = duty(&daemon, &daemon.admin, &["admin", "backup", &dir_text]).await;
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);

    // Restore: stop, put the backup in place of the store, start.
    daemon.stop_only().await;
    std::fs::rename(&daemon.data, daemon.data.with_extension("lost")).expect("move aside");
    std::fs::rename(&dir, &daemon.data).expect("restore");
    daemon.start_again().await;
    let new = daemon.info().await;
    assert_eq!(
        new.head_seq, backup_head,
        "the journal as the backup took it"
    );
    let id = |identity: &str| identity.split('-').next().unwrap_or_default().to_owned();
    assert_eq!(id(&new.store_id), id(&old.store_id), "the same store");
    assert_ne!(new.store_id, old.store_id, "a new epoch");
    let mut incidents = daemon.client(&officer).await.incidents();
    for number in &before {
        incidents
            .get_incident(pb::GetIncidentRequest {
                incident: number.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("{number} was acknowledged before the backup: {e}"));
    }
    let verified = duty(&daemon, &daemon.admin, &["audit", "verify"]).await;
    assert_eq!(verified.code, 0, "{} {}", verified.stdout, verified.stderr);

    // A client resuming with a seq of the old epoch is told to resync…
    let mut journal = daemon.client(&officer).await.journal();
    let Err(status) = journal
        .watch(pb::WatchRequest {
            from_seq: backup_head.min(old.head_seq),
            store_id: old.store_id.clone(),
            ..Default::default()
        })
        .await
    else {
        panic!("a seq of the old epoch must be refused");
    };
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert!(status.message().contains("resync"), "{}", status.message());
    // …and one of the new epoch resumes, hearing the identity in heartbeats.
    let mut stream = journal
        .watch(pb::WatchRequest {
            from_seq: 0,
            store_id: new.store_id.clone(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    loop {
        match stream.message().await.expect("stream").expect("item").item {
            Some(pb::watch_response::Item::Heartbeat(beat)) => {
                assert_eq!(beat.store_id, new.store_id);
                break;
            }
            Some(pb::watch_response::Item::Event(_)) => {}
            None => panic!("empty item"),
        }
    }
    // New calls take new numbers after the restored ones.
    incidents
        .create_incident(call("恢复后", None))
        .await
        .expect("create after the restore");
    println!(
        "backup at seq {backup_head} while {made_during} calls were taken; the old store \
         went on to {}",
        old.head_seq
    );
    daemon.stop().await;
}
