//! Crash test: `dutyd` runs as a child process (this test binary re-executed
//! with `DUTYROOM_CHILD_DATA` set), several clients create incidents, the
//! child is killed with SIGKILL mid-load, restarted, and every acknowledged
//! incident must be there, intact; the journal must verify.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dutyroom_console::client::Client;
use dutyroom_proto::v1 as pb;

use crate::support::call;

const CHILD_ENV: &str = "DUTYROOM_CHILD_DATA";

/// Not a test of its own: the body of the child process.
#[test]
#[ignore = "runs only as the crash test's child process"]
fn child_daemon() {
    let Some(data) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let data = PathBuf::from(data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut daemon = dutyroom_daemon::Daemon::new(crate::support::config(&data));
        daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
        let handle = daemon.start().await.expect("child daemon starts");
        if let Some(token) = &handle.admin_token {
            std::fs::write(data.with_extension("token"), token).expect("write token");
        }
        // Written last and renamed: the parent never reads half an address.
        let ready = data.with_extension("addr.tmp");
        std::fs::write(&ready, handle.addr.to_string()).expect("write addr");
        std::fs::rename(&ready, data.with_extension("addr")).expect("publish addr");
        handle.wait().await.expect("child daemon runs");
    });
}

struct Child {
    process: tokio::process::Child,
    addr: String,
}

async fn spawn_child(data: &Path) -> Child {
    let _ = std::fs::remove_file(data.with_extension("addr"));
    let process = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash::child_daemon",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, data)
        .env("DUTYD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let addr_file = data.with_extension("addr");
    for _ in 0..500 {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            return Child { process, addr };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the child daemon did not start within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_incidents_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut child = spawn_child(&data).await;
    let token = std::fs::read_to_string(data.with_extension("token")).expect("admin token");
    {
        let admin = Client::connect(&child.addr, Some(&token))
            .await
            .expect("connect");
        admin
            .categories()
            .create_category(pb::CreateCategoryRequest {
                request_id: String::new(),
                category: Some(pb::Category {
                    code: "fire".into(),
                    name_zh: "火灾".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("category");
    }
    // number → summary of every acknowledged create.
    let acknowledged: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let mut total_lost = 0;
    for cycle in 0..3 {
        let mut writers = Vec::new();
        for worker in 0..6 {
            let addr = child.addr.clone();
            let token = token.clone();
            let acknowledged = acknowledged.clone();
            writers.push(tokio::spawn(async move {
                let Ok(client) = Client::connect(&addr, Some(&token)).await else {
                    return;
                };
                let mut incidents = client.incidents();
                for n in 0.. {
                    let summary = format!("崩溃测试 c{cycle} w{worker} n{n}");
                    let mut request = call(&summary, None);
                    request.intake.as_mut().expect("intake").place_id.clear();
                    match incidents.create_incident(request).await {
                        Ok(reply) => {
                            let number = reply.into_inner().incident.expect("incident").number;
                            acknowledged.lock().expect("lock").insert(number, summary);
                        }
                        // The kill: stop writing.
                        Err(_) => return,
                    }
                }
            }));
        }
        // Let the load run, then kill mid-flight.
        tokio::time::sleep(Duration::from_millis(300 + 150 * cycle)).await;
        child.process.start_kill().expect("SIGKILL");
        let _ = child.process.wait().await;
        for writer in writers {
            let _ = writer.await;
        }

        child = spawn_child(&data).await;
        let client = Client::connect(&child.addr, Some(&token))
            .await
            .expect("reconnect");
        let mut incidents = client.incidents();
        let acknowledged = acknowledged.lock().expect("lock").clone();
        assert!(
            !acknowledged.is_empty(),
            "the load acknowledged nothing in cycle {cycle}"
        );
        for (number, summary) in &acknowledged {
            match incidents
                .get_incident(pb::GetIncidentRequest {
                    incident: number.clone(),
                })
                .await
            {
                Ok(found) => assert_eq!(&found.into_inner().summary, summary, "{number} altered"),
                Err(_) => total_lost += 1,
            }
        }
        let verified = client
            .journal()
            .verify_journal(pb::VerifyJournalRequest {})
            .await
            .expect("verify")
            .into_inner();
        assert!(verified.intact, "cycle {cycle}: {}", verified.detail);
        println!(
            "crash cycle {cycle}: {} acknowledged so far, {total_lost} lost, {} events verified",
            acknowledged.len(),
            verified.checked
        );
    }
    assert_eq!(total_lost, 0, "acknowledged incidents were lost");
    child.process.start_kill().expect("kill");
    let _ = child.process.wait().await;
}
