//! Concurrent writers: one active assignment per assignee, unique numbers.

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::{TestDaemon, assignee, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_assigning_the_same_unit_leave_one_assignment() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "王伟").await;
    let number = daemon
        .client(&officer)
        .await
        .incidents()
        .create_incident(call("并发派单", Some("post:xinhua")))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        // Separate connections, like separate consoles.
        let mut incidents = daemon.client(&officer).await.incidents();
        let number = number.clone();
        tasks.push(tokio::spawn(async move {
            incidents
                .assign(pb::AssignRequest {
                    request_id: String::new(),
                    incident: number,
                    assignee: Some(assignee("unit:fire")),
                    role: pb::AssignmentRole::Support as i32,
                    replace_lead: false,
                })
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("joined") {
            Ok(_) => ok += 1,
            Err(status) => assert_eq!(status.code(), Code::AlreadyExists, "{}", status.message()),
        }
    }
    assert_eq!(ok, 1);
    let incident = daemon
        .admin()
        .await
        .incidents()
        .get_incident(pb::GetIncidentRequest { incident: number })
        .await
        .expect("get")
        .into_inner();
    let fire: Vec<_> = incident
        .assignments
        .iter()
        .filter(|a| a.assignee.as_ref().is_some_and(|x| x.id == "fire"))
        .collect();
    assert_eq!(fire.len(), 1, "{:?}", incident.assignments);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_intake_numbers_are_unique_and_gapless() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let mut incidents = daemon.admin().await.incidents();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for n in 0..25 {
                let reply = incidents
                    .create_incident(call(&format!("并发接警 {worker}-{n}"), None))
                    .await
                    .expect("create")
                    .into_inner();
                numbers.push(reply.incident.expect("incident").number);
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("joined"));
    }
    all.sort();
    let day = all[0].split('-').next().expect("day").to_owned();
    let expected: Vec<String> = (1..=200).map(|n| format!("{day}-{n:04}")).collect();
    assert_eq!(all, expected);
    daemon.stop().await;
}
