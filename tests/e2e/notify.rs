//! Alarms off the console, end to end: a real HTTP receiver that checks
//! every signature (the library's own receiving end, as an adapter runs
//! it), a gateway added through the API, and alarms raised by hand on a
//! virtual clock. What the receiver takes, and the states dutyd records.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dutyroom_daemon::clock::ManualClock;
use dutyroom_daemon::notify::receiver::{self, Checks};
use dutyroom_daemon::notify::webhook::Message;
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};

use crate::support::{TestDaemon, duty};

const SECRET: &str = "a-test-secret-of-enough-length";

/// A gateway adapter: verifies each POST, answers what the test says
/// (0: never answers), and keeps what it took (answered 2xx) per key.
struct Receiver {
    url: String,
    answer: Arc<AtomicU16>,
    taken: Arc<Mutex<BTreeMap<String, Vec<Message>>>>,
    tried: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Receiver {
    async fn start(answer: u16) -> Receiver {
        Receiver::start_on("127.0.0.1:0", answer).await
    }

    async fn start_on(addr: &str, answer: u16) -> Receiver {
        Receiver::start_with(addr, answer, None).await
    }

    /// Over https, with this certificate and key.
    async fn start_tls(cert: &str, key: &str) -> Receiver {
        let acceptor = receiver::tls_acceptor(cert, key).expect("acceptor");
        Receiver::start_with("127.0.0.1:0", 200, Some(acceptor)).await
    }

    async fn start_with(addr: &str, answer: u16, tls: Option<receiver::TlsAcceptor>) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/hook", listener.local_addr().expect("addr"));
        let answer = Arc::new(AtomicU16::new(answer));
        let taken: Arc<Mutex<BTreeMap<String, Vec<Message>>>> = Arc::default();
        let tried: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
        let (a, t, seen) = (answer.clone(), taken.clone(), tried.clone());
        let checks = Checks {
            secret: SECRET.as_bytes().to_vec(),
            tolerance: 300,
        };
        let handler = move |message: Message| {
            let (a, t, seen) = (a.clone(), t.clone(), seen.clone());
            async move {
                *seen
                    .lock()
                    .expect("lock")
                    .entry(message.idempotency_key.clone())
                    .or_default() += 1;
                let status = a.load(Ordering::SeqCst);
                if status == 0 {
                    std::future::pending::<()>().await;
                }
                if (200..300).contains(&status) {
                    t.lock()
                        .expect("lock")
                        .entry(message.idempotency_key.clone())
                        .or_default()
                        .push(message);
                }
                status
            }
        };
        match tls {
            Some(acceptor) => {
                tokio::spawn(receiver::serve_tls(listener, acceptor, checks, handler))
            }
            None => tokio::spawn(receiver::serve(listener, checks, handler)),
        };
        Receiver {
            url,
            answer,
            taken,
            tried,
        }
    }

    fn answer(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn taken(&self) -> BTreeMap<String, Vec<Message>> {
        self.taken.lock().expect("lock").clone()
    }

    fn tries(&self) -> u32 {
        self.tried.lock().expect("lock").values().sum()
    }
}

fn t0() -> Timestamp {
    "2026-11-23T01:00:00Z".parse().expect("timestamp")
}

async fn start() -> (TestDaemon, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    (daemon, clock)
}

async fn add_gateway(daemon: &TestDaemon, url: &str, retry_for_seconds: u64) -> pb::Gateway {
    daemon
        .admin()
        .await
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "sms-main".into(),
            url: url.into(),
            channels: vec!["sms".into()],
            secret: SECRET.into(),
            retry_for_seconds,
            timeout_ms: 2_000,
            ..Default::default()
        })
        .await
        .expect("gateway added")
        .into_inner()
        .gateway
        .expect("gateway")
}

async fn first_gateway(daemon: &TestDaemon) -> pb::Gateway {
    daemon
        .admin()
        .await
        .notify()
        .list_gateways(pb::ListGatewaysRequest {})
        .await
        .expect("list")
        .into_inner()
        .gateways
        .remove(0)
}

/// Escalates `number` by hand to level 2 (the shipped policy's first level
/// that texts: the centre's duty leaders and the post's leader).
async fn escalate(daemon: &TestDaemon, number: &str) -> pb::Alarm {
    daemon
        .admin()
        .await
        .incidents()
        .escalate(pb::EscalateRequest {
            incident: number.into(),
            to_level: 2,
            reason: "测试".into(),
            ..Default::default()
        })
        .await
        .expect("escalated");
    alarm_of(daemon, number).await
}

/// The incident's newest alarm.
async fn alarm_of(daemon: &TestDaemon, number: &str) -> pb::Alarm {
    alarms_of(daemon, number).await.pop().expect("an alarm")
}

/// Alarm `id` (the clocks may raise others on the incident meanwhile).
async fn alarm_by_id(daemon: &TestDaemon, number: &str, id: u64) -> pb::Alarm {
    alarms_of(daemon, number)
        .await
        .into_iter()
        .find(|a| a.id == id)
        .expect("the alarm")
}

async fn alarms_of(daemon: &TestDaemon, number: &str) -> Vec<pb::Alarm> {
    daemon
        .admin()
        .await
        .escalation()
        .list_alarms(pb::ListAlarmsRequest {
            include_acknowledged: true,
            incident: number.into(),
            ..Default::default()
        })
        .await
        .expect("alarms")
        .into_inner()
        .alarms
}

fn states(alarm: &pb::Alarm) -> Vec<(String, pb::DeliveryState)> {
    alarm
        .notifications
        .iter()
        .map(|n| (n.key.clone(), n.state()))
        .collect()
}

/// Waits (real time, polling) until `done` holds of alarm `id`.
async fn until(
    daemon: &TestDaemon,
    number: &str,
    id: u64,
    done: impl Fn(&pb::Alarm) -> bool,
) -> pb::Alarm {
    for _ in 0..200 {
        let alarm = alarm_by_id(daemon, number, id).await;
        if done(&alarm) {
            return alarm;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "never reached the expected state: {:?}",
        states(&alarm_by_id(daemon, number, id).await)
    );
}

fn all(state: pb::DeliveryState) -> impl Fn(&pb::Alarm) -> bool {
    move |alarm| {
        !alarm.notifications.is_empty() && alarm.notifications.iter().all(|n| n.state() == state)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_reaches_its_people_signed_once_and_says_so() {
    let (daemon, _clock) = start().await;
    let receiver = Receiver::start(200).await;
    let gateway = add_gateway(&daemon, &receiver.url, 3600).await;
    assert_eq!(gateway.channels, vec!["sms"]);
    let number = daemon.call_number("三楼冒烟", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let alarm = raised.clone();
    // Planned in the alarm's own write: one text per leader.
    let keys: Vec<String> = alarm.notifications.iter().map(|n| n.key.clone()).collect();
    assert_eq!(
        keys,
        vec![
            format!("alarm-{}-liuyang-sms", alarm.id),
            format!("alarm-{}-wangwei-sms", alarm.id),
        ]
    );
    let alarm = until(&daemon, &number, raised.id, all(pb::DeliveryState::Sent)).await;
    for n in &alarm.notifications {
        assert_eq!(n.gateway, "sms-main");
        assert_eq!(n.attempts, 1);
        assert_eq!(n.to, "13800000000");
    }
    let taken = receiver.taken();
    assert_eq!(taken.len(), 2, "{taken:?}");
    for (key, messages) in &taken {
        assert_eq!(messages.len(), 1, "{key} taken once");
        let message = &messages[0];
        assert_eq!(message.incident.as_deref(), Some(number.as_str()));
        assert_eq!(message.level, 2);
        assert!(message.text.contains(&number), "{}", message.text);
        assert!(message.text.contains("火灾"), "{}", message.text);
        assert!(!message.drill);
    }
    // The timeline says who was reached.
    let timeline = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: number.clone(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let notified: Vec<&pb::Event> = timeline
        .iter()
        .filter(|e| e.kind == "incident.alarm_notified")
        .collect();
    assert_eq!(notified.len(), 2);
    // The gateway's health says it works.
    let listed = daemon
        .admin()
        .await
        .notify()
        .list_gateways(pb::ListGatewaysRequest {})
        .await
        .expect("list")
        .into_inner()
        .gateways;
    let health = listed[0].health.clone().expect("health");
    assert_eq!(health.failures_in_a_row, 0);
    assert!(health.last_sent_at.is_some());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_two_minutes_gets_each_text_exactly_once_when_back() {
    let (daemon, clock) = start().await;
    let receiver = Receiver::start(503).await;
    add_gateway(&daemon, &receiver.url, 3600).await;
    let number = daemon.call_number("暴雨积水", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    // Two minutes of 503s, in virtual time: retried with back-off, never
    // recorded as sent.
    for _ in 0..24 {
        clock.advance(SignedDuration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let tries_while_down = receiver.tries();
    assert!(
        (4..=24).contains(&tries_while_down),
        "{tries_while_down} tries in two minutes of back-off"
    );
    let alarm = alarm_by_id(&daemon, &number, raised.id).await;
    assert!(
        alarm
            .notifications
            .iter()
            .all(|n| n.state() == pb::DeliveryState::Queued),
        "{:?}",
        states(&alarm)
    );
    let failing = daemon
        .admin()
        .await
        .notify()
        .list_gateways(pb::ListGatewaysRequest {})
        .await
        .expect("list")
        .into_inner()
        .gateways[0]
        .health
        .clone()
        .expect("health");
    assert!(failing.failures_in_a_row >= 2, "{failing:?}");
    // Failing: journaled, for the centre's consoles to show.
    let gateway = first_gateway(&daemon).await;
    assert!(gateway.failing_since.is_some(), "{gateway:?}");
    assert!(gateway.failing_error.contains("503"), "{gateway:?}");
    assert!(failing.last_error.contains("503"), "{failing:?}");
    // Its own two texts, and those of the ladder's own alarms since.
    assert!(failing.owed >= 2, "{failing:?}");
    // Back: the next retries get through, each key once.
    receiver.answer(200);
    let alarm = async {
        loop {
            clock.advance(SignedDuration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(30)).await;
            let alarm = alarm_by_id(&daemon, &number, raised.id).await;
            if all(pb::DeliveryState::Sent)(&alarm) {
                return alarm;
            }
        }
    };
    let alarm = tokio::time::timeout(Duration::from_secs(20), alarm)
        .await
        .expect("sent once the receiver is back");
    assert!(
        alarm.notifications.iter().all(|n| n.attempts >= 2),
        "{:?}",
        alarm.notifications
    );
    // Got through: no longer failing, and the journal says so.
    let mut recovered = first_gateway(&daemon).await;
    for _ in 0..100 {
        if recovered.failing_since.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        recovered = first_gateway(&daemon).await;
    }
    assert!(recovered.failing_since.is_none(), "{recovered:?}");
    let kinds: Vec<String> = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| e.subject_kind == "gateway")
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec!["gateway.added", "gateway.failing", "gateway.recovered"]
    );
    // Every key the receiver took, it took once (the ladder's later
    // alarms' texts included).
    let taken = receiver.taken();
    for n in &alarm.notifications {
        assert!(taken.contains_key(&n.key), "{} taken", n.key);
    }
    assert!(taken.values().all(|m| m.len() == 1), "{taken:?}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_fails_at_once_and_a_dead_gateway_is_given_up_on() {
    let (daemon, clock) = start().await;
    let receiver = Receiver::start(400).await;
    add_gateway(&daemon, &receiver.url, 60).await;
    let number = daemon.call_number("refused", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let alarm = until(&daemon, &number, raised.id, all(pb::DeliveryState::Failed)).await;
    for n in &alarm.notifications {
        assert!(n.reason.contains("refused"), "{}", n.reason);
        assert!(n.reason.contains("400"), "{}", n.reason);
        assert_eq!(n.attempts, 1);
    }
    // Nobody acknowledges through a text that never reached them.
    let gateway = daemon.token("gateway:sms-main", "短信网关").await;
    let refused = report(
        &daemon,
        &gateway,
        &alarm.notifications[0].key,
        pb::DeliveryState::Unspecified,
        true,
        "收到",
    )
    .await
    .expect_err("not reached");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        alarm_by_id(&daemon, &number, raised.id)
            .await
            .acknowledged_at
            .is_none()
    );
    // A gateway that never answers 2xx: retried for its minute, then failed
    // with the last error.
    receiver.answer(500);
    let number = daemon.call_number("dead", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let failed = async {
        loop {
            clock.advance(SignedDuration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(30)).await;
            let alarm = alarm_by_id(&daemon, &number, raised.id).await;
            if all(pb::DeliveryState::Failed)(&alarm) {
                return alarm;
            }
        }
    };
    let alarm = tokio::time::timeout(Duration::from_secs(20), failed)
        .await
        .expect("given up within its retry time");
    for n in &alarm.notifications {
        assert!(n.reason.starts_with("gave up after"), "{}", n.reason);
        assert!(n.reason.contains("500"), "{}", n.reason);
    }
    // An undelivered text does not stop the ladder: the incident still
    // escalates (its level is what the officer sees).
    let incident = daemon
        .admin()
        .await
        .incidents()
        .get_incident(pb::GetIncidentRequest {
            incident: number.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert!(incident.escalation_level >= 2);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_delivery_loses_nothing_and_acknowledging_cancels_what_is_owed() {
    let (mut daemon, _clock) = start().await;
    // The receiver takes the POST but never answers: the notification is in
    // flight when dutyd stops.
    let receiver = Receiver::start(0).await;
    add_gateway(&daemon, &receiver.url, 3600).await;
    let number = daemon.call_number("重启", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    for _ in 0..200 {
        if receiver.tries() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(receiver.tries() >= 2);
    daemon.stop_only().await;
    receiver.answer(200);
    daemon.start_again().await;
    let alarm = until(&daemon, &number, raised.id, all(pb::DeliveryState::Sent)).await;
    // Re-sent under the same keys: the adapter sends each once.
    let taken = receiver.taken();
    let keys: Vec<&String> = taken.keys().collect();
    let expected: Vec<String> = alarm.notifications.iter().map(|n| n.key.clone()).collect();
    assert_eq!(keys, expected.iter().collect::<Vec<_>>());

    // An alarm acknowledged before its texts went: they are not sent.
    receiver.answer(0);
    let number = daemon.call_number("已确认", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let acked = daemon
        .admin()
        .await
        .escalation()
        .acknowledge_alarm(pb::AcknowledgeAlarmRequest {
            id: raised.id,
            note: "收到".into(),
            ..Default::default()
        })
        .await
        .expect("ack")
        .into_inner();
    // Those in flight may still be answered; none is left queued.
    assert!(
        acked
            .notifications
            .iter()
            .all(|n| n.state() != pb::DeliveryState::Queued),
        "{:?}",
        states(&acked)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_are_managed_from_the_cli_without_showing_secrets() {
    let (daemon, _clock) = start().await;
    let receiver = Receiver::start(200).await;
    let added = duty(
        &daemon,
        &daemon.admin,
        &[
            "notify",
            "gateway",
            "add",
            "sms-main",
            "--url",
            &receiver.url,
            "--channel",
            "sms",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(added.code, 0, "{}", added.stderr);
    let made = added.json()["secret"]
        .as_str()
        .expect("a made secret, shown once")
        .to_owned();
    assert_eq!(made.len(), 64);
    let listed = duty(&daemon, &daemon.admin, &["notify", "gateway", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("sms-main"), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&made));
    // The journal never carries it either.
    let audit = duty(&daemon, &daemon.admin, &["audit", "log", "-o", "json"]).await;
    assert!(!audit.stdout.contains(&made));
    // A second add of the same id is refused, in one line.
    let again = duty(
        &daemon,
        &daemon.admin,
        &[
            "notify",
            "gateway",
            "add",
            "sms-main",
            "--url",
            &receiver.url,
            "--channel",
            "sms",
        ],
    )
    .await;
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert_eq!(again.stderr.trim().lines().count(), 1, "{}", again.stderr);
    // Test: the receiver checks the signature with the made secret — ours
    // knows another secret, so it refuses (401), and the CLI says so.
    let tested = duty(
        &daemon,
        &daemon.admin,
        &[
            "notify",
            "gateway",
            "test",
            "sms-main",
            "--to",
            "13800000000",
        ],
    )
    .await;
    assert_ne!(tested.code, 0);
    assert!(tested.stderr.contains("401"), "{}", tested.stderr);
    // Replaced with the receiver's secret, the test gets through.
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("secret file");
    let secret_path = secret_file.to_string_lossy().into_owned();
    let replaced = duty(
        &daemon,
        &daemon.admin,
        &[
            "notify",
            "gateway",
            "add",
            "sms-main",
            "--url",
            &receiver.url,
            "--channel",
            "sms",
            "--replace",
            "--secret-file",
            &secret_path,
        ],
    )
    .await;
    assert_eq!(replaced.code, 0, "{}", replaced.stderr);
    let tested = duty(
        &daemon,
        &daemon.admin,
        &[
            "notify",
            "gateway",
            "test",
            "sms-main",
            "--to",
            "13800000000",
        ],
    )
    .await;
    assert_eq!(tested.code, 0, "{}", tested.stderr);
    assert_eq!(receiver.taken().len(), 1);
    let removed = duty(
        &daemon,
        &daemon.admin,
        &["notify", "gateway", "remove", "sms-main"],
    )
    .await;
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    // Only an admin manages them.
    let officer = daemon.token("officer", "officer").await;
    let denied = duty(
        &daemon,
        &officer,
        &[
            "notify",
            "gateway",
            "add",
            "x",
            "--url",
            &receiver.url,
            "--channel",
            "sms",
        ],
    )
    .await;
    assert_ne!(denied.code, 0);
    assert!(denied.stderr.contains("admin"), "{}", denied.stderr);
    daemon.stop().await;
}

async fn report(
    daemon: &TestDaemon,
    token: &str,
    key: &str,
    state: pb::DeliveryState,
    acknowledge: bool,
    detail: &str,
) -> Result<pb::ReportDeliveryReply, tonic::Status> {
    daemon
        .client(token)
        .await
        .notify()
        .report_delivery(pb::ReportDeliveryRequest {
            key: key.into(),
            state: state as i32,
            detail: detail.into(),
            acknowledge,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_reports_delivery_and_a_leader_acknowledges_from_the_phone() {
    let (daemon, _clock) = start().await;
    let receiver = Receiver::start(200).await;
    add_gateway(&daemon, &receiver.url, 3600).await;
    let gateway = daemon.token("gateway:sms-main", "短信网关").await;
    // A token for a gateway that does not exist is refused.
    let refused = daemon
        .admin()
        .await
        .tokens()
        .create_token(pb::CreateTokenRequest {
            name: "x".into(),
            role: "gateway:nosuch".into(),
            ..Default::default()
        })
        .await
        .expect_err("no such gateway");
    assert_eq!(refused.code(), tonic::Code::NotFound);

    let number = daemon.call_number("回执", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let sent = until(&daemon, &number, raised.id, all(pb::DeliveryState::Sent)).await;
    let wangwei = sent
        .notifications
        .iter()
        .find(|n| n.person_id == "wangwei")
        .expect("王伟's text")
        .key
        .clone();
    let liuyang = sent
        .notifications
        .iter()
        .find(|n| n.person_id == "liuyang")
        .expect("刘洋's text")
        .key
        .clone();

    let after = report(
        &daemon,
        &gateway,
        &liuyang,
        pb::DeliveryState::Delivered,
        false,
        "",
    )
    .await
    .expect("delivered");
    // The gateway hears of its own text only, not the alarm's people.
    let state = |reply: &pb::ReportDeliveryReply| {
        reply
            .notification
            .as_ref()
            .map(|n| (n.key.clone(), n.state()))
    };
    assert_eq!(
        state(&after),
        Some((liuyang.clone(), pb::DeliveryState::Delivered))
    );
    assert!(!after.acknowledged);
    // A late "delivered" after "read" changes nothing.
    report(
        &daemon,
        &gateway,
        &liuyang,
        pb::DeliveryState::Read,
        false,
        "",
    )
    .await
    .expect("read");
    let after = report(
        &daemon,
        &gateway,
        &liuyang,
        pb::DeliveryState::Delivered,
        false,
        "",
    )
    .await
    .expect("late delivered");
    assert_eq!(
        state(&after),
        Some((liuyang.clone(), pb::DeliveryState::Read))
    );
    // Nor can it say "failed" now: states only move forward.
    let after = report(
        &daemon,
        &gateway,
        &liuyang,
        pb::DeliveryState::Failed,
        false,
        "",
    )
    .await
    .expect("late failed");
    assert_eq!(
        state(&after),
        Some((liuyang.clone(), pb::DeliveryState::Read))
    );

    // 王伟 replies 收到: the alarm is acknowledged in his name.
    let acked = report(
        &daemon,
        &gateway,
        &wangwei,
        pb::DeliveryState::Read,
        true,
        "收到",
    )
    .await
    .expect("acknowledged");
    assert!(acked.acknowledged);
    let listed = alarm_by_id(&daemon, &number, raised.id).await;
    let by = listed.acknowledged_by.clone().expect("by");
    assert_eq!(by.name, "王伟");
    assert_eq!(by.role, "gateway:sms-main");
    assert!(listed.acknowledgement_note.contains("收到"));
    let timeline = daemon
        .admin()
        .await
        .journal()
        .list_events(pb::ListEventsRequest {
            incident: number.clone(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    // On the timeline: the gateway's token did it (the audit), for 王伟.
    let acknowledged = timeline
        .iter()
        .find(|e| e.kind == "incident.alarm_acknowledged")
        .expect("acknowledged on the timeline");
    assert_eq!(
        acknowledged.principal.as_ref().map(|p| p.role.as_str()),
        Some("gateway:sms-main")
    );
    let Some(pb::event::Body::Alarm(body)) = &acknowledged.body else {
        panic!("an alarm body");
    };
    assert_eq!(
        body.acknowledged_by.as_ref().map(|p| p.name.as_str()),
        Some("王伟")
    );

    // Another gateway may not report on this one's texts: to it they do
    // not exist.
    daemon
        .admin()
        .await
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "voice".into(),
            url: receiver.url.clone(),
            channels: vec!["voice".into()],
            ..Default::default()
        })
        .await
        .expect("second gateway");
    let other = daemon.token("gateway:voice", "语音网关").await;
    let foreign = report(&daemon, &other, &wangwei, pb::DeliveryState::Read, true, "")
        .await
        .expect_err("not its text");
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    let missing = report(
        &daemon,
        &other,
        "alarm-999-nobody-voice",
        pb::DeliveryState::Read,
        false,
        "",
    )
    .await
    .expect_err("missing");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(
        foreign.message(),
        missing
            .message()
            .replace("alarm-999-nobody-voice", &wangwei)
    );

    // Nor another gateway of the same channel.
    daemon
        .admin()
        .await
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "sms-backup".into(),
            url: receiver.url.clone(),
            channels: vec!["sms".into()],
            ..Default::default()
        })
        .await
        .expect("backup gateway");
    let backup = daemon.token("gateway:sms-backup", "备用短信网关").await;
    let foreign = report(
        &daemon,
        &backup,
        &liuyang,
        pb::DeliveryState::Failed,
        false,
        "",
    )
    .await
    .expect_err("not its text");
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    // A removed gateway's tokens end with it.
    daemon
        .admin()
        .await
        .notify()
        .remove_gateway(pb::RemoveGatewayRequest {
            id: "sms-backup".into(),
            ..Default::default()
        })
        .await
        .expect("removed");
    let revoked = report(
        &daemon,
        &backup,
        &liuyang,
        pb::DeliveryState::Read,
        false,
        "",
    )
    .await
    .expect_err("revoked");
    assert_eq!(revoked.code(), tonic::Code::Unauthenticated);

    // A gateway's token opens nothing else: not the board, not the journal,
    // not even the list of gateways.
    let client = daemon.client(&gateway).await;
    let denied = client
        .incidents()
        .list_incidents(pb::ListIncidentsRequest::default())
        .await
        .expect_err("no board");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let denied = client
        .journal()
        .watch(pb::WatchRequest::default())
        .await
        .expect_err("no journal");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let denied = client
        .notify()
        .list_gateways(pb::ListGatewaysRequest {})
        .await
        .expect_err("no gateways");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    // And nobody else reports deliveries.
    let officer = daemon.token("officer", "officer").await;
    let denied = report(
        &daemon,
        &officer,
        &wangwei,
        pb::DeliveryState::Read,
        true,
        "",
    )
    .await
    .expect_err("officers acknowledge on the console");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_gateway_is_reached_only_when_its_certificate_is_trusted() {
    let (daemon, _clock) = start().await;
    let ca = dutyroom_daemon::tls::make_ca("短信网关 CA").expect("ca");
    let server =
        dutyroom_daemon::tls::make_server(&ca, &["127.0.0.1".to_owned()]).expect("server cert");
    let receiver = Receiver::start_tls(&server.cert, &server.key).await;
    assert!(receiver.url.starts_with("https://"));
    let admin = daemon.admin().await;
    // Without its CA the certificate is not trusted: the test says so.
    admin
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "sms-main".into(),
            url: receiver.url.clone(),
            channels: vec!["sms".into()],
            secret: SECRET.into(),
            ..Default::default()
        })
        .await
        .expect("added");
    let test = |admin: dutyroom_console::client::Client| async move {
        admin
            .notify()
            .test_gateway(pb::TestGatewayRequest {
                id: "sms-main".into(),
                to: "13800000000".into(),
                channel: String::new(),
            })
            .await
            .expect("tested")
            .into_inner()
    };
    let untrusted = test(daemon.admin().await).await;
    assert!(!untrusted.ok);
    assert!(untrusted.error.contains("TLS"), "{}", untrusted.error);
    assert!(receiver.taken().is_empty());
    // With it: signed, over TLS, taken.
    admin
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "sms-main".into(),
            url: receiver.url.clone(),
            channels: vec!["sms".into()],
            ca_pem: ca.cert.clone(),
            replace: true,
            ..Default::default()
        })
        .await
        .expect("replaced, keeping its secret");
    let trusted = test(daemon.admin().await).await;
    assert!(trusted.ok, "{}", trusted.error);
    let number = daemon.call_number("https", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    until(&daemon, &number, raised.id, all(pb::DeliveryState::Sent)).await;
    assert_eq!(receiver.taken().len(), 3, "the test and two texts");
    // A CA that is not PEM is refused with a reason.
    let bad = admin
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "other".into(),
            url: receiver.url.clone(),
            channels: vec!["sms".into()],
            ca_pem: "not a certificate".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad CA");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("ca"), "{}", bad.message());
    daemon.stop().await;
}

/// `kill -9` of dutyd (a child process) while texts are in flight: after
/// the restart every text is sent, under its own key, and none that was
/// confirmed before the kill is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_no_text() {
    use dutyroom_console::bench::child::ChildDaemon;
    use dutyroom_console::client::Client;

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut child, _) = ChildDaemon::spawn(crate::crash::launch(&data))
        .await
        .expect("the child daemon starts");
    let token = std::fs::read_to_string(data.with_extension("token")).expect("admin token");
    let token = token.trim().to_owned();
    let admin = Client::connect(&child.addr, Some(&token))
        .await
        .expect("connects");
    admin
        .people()
        .create_person(pb::CreatePersonRequest {
            request_id: String::new(),
            person: Some(pb::Person {
                id: "wangwei".into(),
                name: "王伟".into(),
                phone: "13800000000".into(),
                roles: vec!["duty_leader".into()],
                ..Default::default()
            }),
        })
        .await
        .expect("person");
    dutyroom_console::bench::ensure_category(&admin)
        .await
        .expect("category");
    let receiver = Receiver::start(200).await;
    admin
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "sms-main".into(),
            url: receiver.url.clone(),
            channels: vec!["sms".into()],
            secret: SECRET.into(),
            ..Default::default()
        })
        .await
        .expect("gateway");
    let escalate = |admin: Client| async move {
        let mut keys = Vec::new();
        for _ in 0..10 {
            let mut call = crate::support::call("起火", None);
            if let Some(intake) = call.intake.as_mut() {
                intake.place_id.clear();
            }
            let number = admin
                .incidents()
                .create_incident(call)
                .await
                .expect("create")
                .into_inner()
                .incident
                .expect("incident")
                .number;
            admin
                .incidents()
                .escalate(pb::EscalateRequest {
                    incident: number.clone(),
                    to_level: 2,
                    reason: "测试".into(),
                    ..Default::default()
                })
                .await
                .expect("escalated");
            keys.push(number);
        }
        keys
    };
    let sent_everywhere = |admin: Client, count: usize| async move {
        for _ in 0..400 {
            let alarms = admin
                .escalation()
                .list_alarms(pb::ListAlarmsRequest {
                    include_acknowledged: true,
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .expect("alarms")
                .into_inner()
                .alarms;
            if alarms.len() >= count
                && alarms.iter().all(|a| {
                    !a.notifications.is_empty()
                        && a.notifications
                            .iter()
                            .all(|n| n.state() == pb::DeliveryState::Sent)
                })
            {
                return alarms;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not every text was sent");
    };
    // Ten alarms whose texts are confirmed before the kill.
    escalate(admin.clone()).await;
    let before = sent_everywhere(admin.clone(), 10).await;
    // Ten more whose texts the gateway takes in but never answers.
    receiver.answer(0);
    escalate(admin.clone()).await;
    for _ in 0..400 {
        if receiver.tries() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(receiver.tries() >= 12, "{} tries", receiver.tries());
    child.kill().await.expect("SIGKILL");
    receiver.answer(200);
    let (mut again, _) = ChildDaemon::spawn(crate::crash::launch(&data))
        .await
        .expect("restarts");
    let admin = Client::connect(&again.addr, Some(&token))
        .await
        .expect("connects again");
    let after = sent_everywhere(admin, 20).await;
    let taken = receiver.taken();
    for alarm in &after {
        for n in &alarm.notifications {
            assert_eq!(
                taken.get(&n.key).map(Vec::len),
                Some(1),
                "{} taken exactly once",
                n.key
            );
        }
    }
    assert_eq!(before.len(), 10);
    assert_eq!(taken.len(), 20);
    again.terminate().await.expect("a clean stop");
}

/// The policy says who is texted (`send_to`) and that an acknowledgement
/// from the phone stops the clock's ladder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_says_who_is_texted_and_that_a_phone_acknowledgement_stops_the_ladder() {
    let (daemon, clock) = start().await;
    let receiver = Receiver::start(200).await;
    add_gateway(&daemon, &receiver.url, 3600).await;
    let gateway = daemon.token("gateway:sms-main", "短信网关").await;
    let policy = format!(
        "{}\n[acknowledge]\nstops_ladder = true\n",
        dutyroom_daemon::escalation::policy::DEFAULT_POLICY.replace(
            "send = [\"sms\"]",
            "send = [\"sms\"]\nsend_to = [\"post_responsible_leader\"]"
        )
    );
    daemon
        .admin()
        .await
        .escalation()
        .set_policy(pb::SetPolicyRequest {
            toml: policy,
            ..Default::default()
        })
        .await
        .expect("policy set");
    // Severity II, not signed for: level 1 after 1 minute, level 2 five
    // minutes later.
    let number = daemon.call_number("签收超时", Some("post:xinhua")).await;
    clock.advance(SignedDuration::from_secs(61));
    tokio::time::sleep(Duration::from_millis(100)).await;
    clock.advance(SignedDuration::from_mins(5));
    let level2 = async {
        loop {
            let alarms = alarms_of(&daemon, &number).await;
            if let Some(alarm) = alarms.into_iter().find(|a| a.level == 2) {
                return alarm;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    let level2 = tokio::time::timeout(Duration::from_secs(10), level2)
        .await
        .expect("level 2 fired");
    // Alarmed: the centre's leaders and the post's; texted: the post's only.
    assert!(
        level2
            .targets
            .iter()
            .any(|t| t.target == "centre_duty_leader")
    );
    let texted: Vec<&str> = level2
        .notifications
        .iter()
        .map(|n| n.person_id.as_str())
        .collect();
    assert_eq!(texted, vec!["wangwei"]);
    let sent = until(&daemon, &number, level2.id, all(pb::DeliveryState::Sent)).await;
    report(
        &daemon,
        &gateway,
        &sent.notifications[0].key,
        pb::DeliveryState::Read,
        true,
        "收到",
    )
    .await
    .expect("acknowledged from the phone");
    // Half an hour on: no level 3, no repeats of this clock.
    for _ in 0..6 {
        clock.advance(SignedDuration::from_mins(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let levels: Vec<u32> = alarms_of(&daemon, &number)
        .await
        .iter()
        .filter(|a| a.kind == pb::AlarmKind::SignForOverdue as i32)
        .map(|a| a.level)
        .collect();
    assert_eq!(
        levels,
        vec![1, 2],
        "the ladder stopped at the acknowledgement"
    );
    daemon.stop().await;
}

/// A person's own webhook: a level that sends "webhook" posts the signed
/// message to it, paced and signed by the gateway that sends webhooks;
/// people without one are not missing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaders_own_webhook_gets_the_signed_message() {
    let (daemon, _clock) = start().await;
    let sms = Receiver::start(200).await;
    let hook = Receiver::start(200).await;
    add_gateway(&daemon, &sms.url, 3600).await;
    let admin = daemon.admin().await;
    admin
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "hooks".into(),
            url: hook.url.clone(),
            channels: vec!["webhook".into()],
            secret: SECRET.into(),
            ..Default::default()
        })
        .await
        .expect("webhook gateway");
    admin
        .people()
        .update_person(pb::UpdatePersonRequest {
            id: "wangwei".into(),
            webhook: Some(format!("{}/wangwei", hook.url)),
            ..Default::default()
        })
        .await
        .expect("his webhook");
    // Not any URL: a person's webhook is https (or this host).
    let refused = admin
        .people()
        .update_person(pb::UpdatePersonRequest {
            id: "liuyang".into(),
            webhook: Some("http://chat.example.com/bot".into()),
            ..Default::default()
        })
        .await
        .expect_err("plain http elsewhere");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("webhook"),
        "{}",
        refused.message()
    );
    admin
        .escalation()
        .set_policy(pb::SetPolicyRequest {
            toml: dutyroom_daemon::escalation::policy::DEFAULT_POLICY
                .replace("send = [\"sms\"]", "send = [\"sms\", \"webhook\"]"),
            ..Default::default()
        })
        .await
        .expect("policy");
    let number = daemon.call_number("推送", Some("post:xinhua")).await;
    let raised = escalate(&daemon, &number).await;
    let mut keys: Vec<&str> = raised
        .notifications
        .iter()
        .map(|n| n.key.as_str())
        .collect();
    keys.sort_unstable();
    let id = raised.id;
    assert_eq!(
        keys,
        vec![
            format!("alarm-{id}-liuyang-sms"),
            format!("alarm-{id}-wangwei-sms"),
            format!("alarm-{id}-wangwei-webhook"),
        ]
    );
    until(&daemon, &number, id, all(pb::DeliveryState::Sent)).await;
    let got = hook.taken();
    let message = got
        .get(&format!("alarm-{id}-wangwei-webhook"))
        .and_then(|m| m.first())
        .expect("his webhook took it");
    assert_eq!(message.to.name, "王伟");
    assert_eq!(message.to.phone, "", "a webhook's message dials nothing");
    assert!(message.text.contains(&number));
    assert_eq!(sms.taken().len(), 2);
    daemon.stop().await;
}
