//! Escalation clocks in virtual time: the daemon's clock is a `ManualClock`
//! the test moves; the escalation timer wakes on every move. No real sleeps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dutyroom_daemon::clock::ManualClock;
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};
use pb::event::Body;
use pb::watch_response::Item;

use crate::support::{TestDaemon, assignee, duty};

type Stream = tonic::Streaming<pb::WatchResponse>;

fn t0() -> Timestamp {
    // 09:00 in Shanghai.
    "2026-11-23T01:00:00Z".parse().expect("timestamp")
}

async fn start() -> (TestDaemon, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    (daemon, clock)
}

async fn live(daemon: &TestDaemon) -> Stream {
    daemon
        .admin()
        .await
        .journal()
        .watch(pb::WatchRequest {
            from_seq: 0,
            live_only: true,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect("watch")
        .into_inner()
}

/// The next raised (unacknowledged) alarm on the stream, with its event.
async fn next_alarm(stream: &mut Stream) -> (pb::Event, pb::Alarm) {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an alarm within 10 s")
            .expect("stream ok")
            .expect("stream open");
        if let Some(Item::Event(event)) = item.item
            && let Some(Body::Alarm(alarm)) = &event.body
            && alarm.acknowledged_at.is_none()
        {
            let alarm = alarm.clone();
            return (event, alarm);
        }
    }
}

/// The next raised alarm of `kind` (others, e.g. the arrival clock running
/// alongside, are skipped).
async fn next_alarm_of(stream: &mut Stream, kind: pb::AlarmKind) -> (pb::Event, pb::Alarm) {
    loop {
        let (event, alarm) = next_alarm(stream).await;
        if alarm.kind == kind as i32 {
            return (event, alarm);
        }
    }
}

fn at(ts: Option<&prost_types::Timestamp>) -> Timestamp {
    let ts = ts.expect("a time");
    Timestamp::new(ts.seconds, ts.nanos).expect("valid")
}

fn names(alarm: &pb::Alarm, target: &str) -> Vec<String> {
    alarm
        .targets
        .iter()
        .filter(|t| t.target == target)
        .flat_map(|t| t.people.iter().map(|p| p.name.clone()))
        .collect()
}

async fn dispatch(daemon: &TestDaemon, summary: &str) -> String {
    daemon.call_number(summary, Some("post:xinhua")).await
}

async fn alarms(daemon: &TestDaemon, number: &str) -> Vec<pb::Alarm> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_dispatch_climbs_the_whole_ladder() {
    let (daemon, clock) = start().await;
    let mut stream = live(&daemon).await;
    // Severity II: sign-for within 1 minute.
    let number = dispatch(&daemon, "签收超时").await;
    clock.advance(SignedDuration::from_secs(59));
    clock.advance(SignedDuration::from_secs(2));
    let (event, level1) = next_alarm_of(&mut stream, pb::AlarmKind::SignForOverdue).await;
    assert_eq!(event.subject_id, number);
    assert_eq!(event.kind, "incident.escalated");
    assert_eq!(level1.kind, pb::AlarmKind::SignForOverdue as i32);
    assert_eq!(level1.level, 1);
    // It fired when the clock passed the deadline, not at 59 s.
    assert_eq!(
        at(level1.raised_at.as_ref()),
        t0() + SignedDuration::from_secs(61)
    );
    assert_eq!(level1.late_by_seconds, 0);
    assert_eq!(
        names(&level1, "assignee_duty_contact"),
        vec!["新华街道指挥部 值班"]
    );
    let state = event.incident_state.expect("state");
    assert_eq!(state.escalation_level, 1);

    // Level 2 five minutes later: the centre's duty leaders and the post's
    // responsible leader.
    clock.advance(SignedDuration::from_mins(5));
    let (_, level2) = next_alarm_of(&mut stream, pb::AlarmKind::SignForOverdue).await;
    assert_eq!(level2.level, 2);
    assert_eq!(names(&level2, "centre_duty_leader"), vec!["刘洋", "王伟"]);
    assert_eq!(names(&level2, "post_responsible_leader"), vec!["王伟"]);

    // Level 3 ten minutes later raises the severity to I.
    clock.advance(SignedDuration::from_mins(10));
    let (event, level3) = next_alarm_of(&mut stream, pb::AlarmKind::SignForOverdue).await;
    assert_eq!(level3.level, 3);
    let mut raised = None;
    while raised.is_none() {
        let item = stream.message().await.expect("ok").expect("open");
        if let Some(Item::Event(e)) = item.item
            && let Some(Body::SeverityRaised(r)) = e.body
        {
            raised = Some(r);
        }
    }
    let raised = raised.expect("raised");
    assert_eq!(
        (raised.from, raised.to),
        (pb::Severity::Ii as i32, pb::Severity::I as i32)
    );
    assert_eq!(event.subject_id, number);

    // The ladder repeats its last level every 15 minutes.
    clock.advance(SignedDuration::from_mins(15));
    let (_, repeat) = next_alarm_of(&mut stream, pb::AlarmKind::SignForOverdue).await;
    assert_eq!(repeat.level, 4);
    assert_eq!(names(&repeat, "leaders_on_duty"), vec!["刘洋", "王伟"]);

    // Signing for it stops that clock: no more sign-for alarms.
    daemon
        .admin()
        .await
        .incidents()
        .sign_for(pb::AssignmentActionRequest {
            incident: number.clone(),
            assignment_id: 1,
            ..Default::default()
        })
        .await
        .expect("sign");
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
    assert!(
        incident
            .clocks
            .iter()
            .all(|c| c.kind != pb::ClockKind::SignFor as i32)
    );
    assert_eq!(incident.escalation_level, 4);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_for_before_the_deadline_means_no_escalation() {
    let (daemon, clock) = start().await;
    let mut stream = live(&daemon).await;
    let number = dispatch(&daemon, "及时签收").await;
    clock.advance(SignedDuration::from_secs(50));
    let post = daemon.token("post:xinhua", "新华值守").await;
    daemon
        .client(&post)
        .await
        .incidents()
        .sign_for(pb::AssignmentActionRequest {
            incident: number.clone(),
            ..Default::default()
        })
        .await
        .expect("sign");
    // Past the sign-for deadline, up to the arrival deadline (5 minutes):
    // the first alarm is about arrival ("linked but not moving").
    clock.advance(SignedDuration::from_mins(2));
    clock.advance(SignedDuration::from_mins(3));
    let (_, alarm) = next_alarm(&mut stream).await;
    assert_eq!(alarm.kind, pb::AlarmKind::ArriveOverdue as i32);
    assert_eq!(alarm.assignee, Some(assignee("post:xinhua")));
    let kinds: Vec<i32> = alarms(&daemon, &number)
        .await
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![pb::AlarmKind::ArriveOverdue as i32],
        "no sign-for alarm ever"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_due_while_down_fire_once_on_start_marked_late() {
    let (mut daemon, clock) = start().await;
    let number = dispatch(&daemon, "停机期间到期").await;
    daemon.stop_only().await;
    // Down for 19 minutes: sign-for was due at 1 min (level 2 at 6, level 3
    // at 16), arrival at 5 min (level 2 at 10; level 3 at 20 is not due yet).
    clock.advance(SignedDuration::from_mins(19));
    let restarted = Instant::now();
    daemon.start_again().await;
    let mut stream = daemon
        .admin()
        .await
        .journal()
        .watch(pb::WatchRequest {
            from_seq: 0,
            live_only: false,
            filter: None,
            store_id: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let mut fired = Vec::new();
    while fired.len() < 5 {
        fired.push(next_alarm(&mut stream).await.1);
    }
    let first_seen = restarted.elapsed();
    let mut summary: Vec<(i32, u32, i64)> = fired
        .iter()
        .map(|a| (a.kind, a.level, a.late_by_seconds))
        .collect();
    summary.sort();
    let sign = pb::AlarmKind::SignForOverdue as i32;
    let arrive = pb::AlarmKind::ArriveOverdue as i32;
    assert_eq!(
        summary,
        vec![
            (sign, 1, 18 * 60),
            (sign, 2, 13 * 60),
            (sign, 3, 3 * 60),
            (arrive, 1, 14 * 60),
            (arrive, 2, 9 * 60),
        ]
    );
    // Exactly once: after another restart nothing fires again.
    daemon.restart().await;
    clock.advance(SignedDuration::from_secs(1));
    let count = alarms(&daemon, &number).await.len();
    assert_eq!(count, 5, "{:?}", alarms(&daemon, &number).await);
    println!(
        "restart: 5 overdue alarms fired within {first_seen:?} (wall time) of the restart; \
         the latest was 18 min late in virtual time, i.e. the downtime"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_tightens_open_clocks_and_alarms_leaders() {
    let (daemon, clock) = start().await;
    let mut stream = live(&daemon).await;
    let number = dispatch(&daemon, "平急转换").await;
    let post = daemon.token("post:xinhua", "新华值守").await;
    daemon
        .client(&post)
        .await
        .incidents()
        .sign_for(pb::AssignmentActionRequest {
            incident: number.clone(),
            ..Default::default()
        })
        .await
        .expect("sign");
    clock.advance(SignedDuration::from_mins(1));
    let leader = daemon.token("leader", "带班领导").await;
    let switched = duty(
        &daemon,
        &leader,
        &[
            "post",
            "mode",
            "xinhua",
            "emergency",
            "--reason",
            "台风登陆",
        ],
    )
    .await;
    assert_eq!(switched.code, 0, "{}", switched.stderr);
    let (event, alarm) = next_alarm(&mut stream).await;
    assert_eq!(event.kind, "alarm.raised");
    assert_eq!(alarm.kind, pb::AlarmKind::ModeSwitched as i32);
    assert_eq!(names(&alarm, "post_responsible_leader"), vec!["王伟"]);
    // Arrival for severity II is 5 minutes; in emergency mode, half.
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
    let arrive = incident
        .clocks
        .iter()
        .find(|c| c.kind == pb::ClockKind::Arrive as i32)
        .expect("arrival clock");
    assert_eq!(
        at(arrive.due.as_ref()),
        t0() + SignedDuration::from_secs(150)
    );
    clock.advance(SignedDuration::from_secs(91));
    let (_, overdue) = next_alarm(&mut stream).await;
    assert_eq!(overdue.kind, pb::AlarmKind::ArriveOverdue as i32);
    assert_eq!(
        at(overdue.raised_at.as_ref()),
        t0() + SignedDuration::from_secs(151)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_calls_in_a_unit_that_must_report_in_time() {
    let (daemon, clock) = start().await;
    let mut stream = live(&daemon).await;
    let number = dispatch(&daemon, "吹哨报到").await;
    let post = daemon.token("post:xinhua", "新华值守").await;
    let called = duty(
        &daemon,
        &post,
        &[
            "-o",
            "json",
            "incident",
            "call-in",
            &number,
            "water",
            "--note",
            "需要关阀",
        ],
    )
    .await;
    assert_eq!(called.code, 0, "{}", called.stderr);
    let assignments = called.json()["incident"]["assignments"].clone();
    assert_eq!(assignments[1]["assignee"]["id"], "water");
    assert_eq!(assignments[1]["role"], "ASSIGNMENT_ROLE_SUPPORT");
    // Sign the post's own order so only the unit's report clock matters.
    daemon
        .client(&post)
        .await
        .incidents()
        .sign_for(pb::AssignmentActionRequest {
            incident: number.clone(),
            ..Default::default()
        })
        .await
        .expect("sign");
    // Water is tier 2: the 1-minute report deadline stretches to 90 s.
    clock.advance(SignedDuration::from_secs(89));
    clock.advance(SignedDuration::from_secs(2));
    let (_, alarm) = next_alarm(&mut stream).await;
    assert_eq!(alarm.kind, pb::AlarmKind::SignForOverdue as i32);
    assert_eq!(alarm.assignee, Some(assignee("unit:water")));
    assert_eq!(
        at(alarm.raised_at.as_ref()),
        t0() + SignedDuration::from_secs(91)
    );
    // A post cannot call units into someone else's incident.
    let other = daemon.call_number("别处", Some("post:qianjin")).await;
    let refused = duty(&daemon, &post, &["incident", "call-in", &other, "water"]).await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_escalate_raise_and_acknowledge_from_the_cli() {
    let (daemon, _clock) = start().await;
    let number = dispatch(&daemon, "人工升级").await;
    let officer = daemon.token("officer", "值班员").await;
    let escalated = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "incident",
            "escalate",
            &number,
            "--reason",
            "群众多次来电",
        ],
    )
    .await;
    assert_eq!(escalated.code, 0, "{}", escalated.stderr);
    assert_eq!(escalated.json()["incident"]["escalation_level"], 1);
    let to3 = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "incident",
            "escalate",
            &number,
            "--level",
            "3",
            "--reason",
            "火势扩大",
        ],
    )
    .await;
    assert_eq!(to3.code, 0, "{}", to3.stderr);
    // Level 3 raises the severity.
    assert_eq!(to3.json()["incident"]["severity"], "SEVERITY_I");
    let again = duty(
        &daemon,
        &officer,
        &["incident", "raise", &number, "--reason", "already I"],
    )
    .await;
    assert_eq!(again.code, 6, "{}", again.stderr);

    let listed = duty(&daemon, &officer, &["-o", "json", "alarm", "list"]).await;
    let open = listed.json()["alarms"].as_array().expect("alarms").clone();
    assert_eq!(open.len(), 2);
    let id = open[0]["id"].to_string();
    let acked = duty(
        &daemon,
        &officer,
        &["-o", "json", "alarm", "ack", &id, "--note", "已电话联系"],
    )
    .await;
    assert_eq!(acked.code, 0, "{}", acked.stderr);
    assert_eq!(acked.json()["acknowledged_by"]["name"], "值班员");
    let listed = duty(&daemon, &officer, &["-o", "json", "alarm", "list"]).await;
    assert_eq!(listed.json()["alarms"].as_array().map(Vec::len), Some(1));
    let timeline = duty(&daemon, &officer, &["incident", "timeline", &number]).await;
    assert!(
        timeline.stdout.contains("incident.alarm_acknowledged"),
        "{}",
        timeline.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_validated_whole_versioned_and_simulated() {
    let (daemon, _clock) = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shown = duty(
        &daemon,
        &daemon.admin,
        &["-o", "json", "escalation", "policy", "show"],
    )
    .await;
    assert_eq!(
        shown.json()["version"],
        1,
        "the defaults are recorded as version 1"
    );
    let text = shown.json()["toml"].as_str().expect("toml").to_owned();

    // A bad policy changes nothing and says where the problem is.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("arrive = \"5m\"", "arrive = \"soon\"")).expect("write");
    let refused = duty(
        &daemon,
        &daemon.admin,
        &["escalation", "policy", "set", bad.to_str().expect("path")],
    )
    .await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("rule 1: arrive"),
        "{}",
        refused.stderr
    );
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        format!("{text}\n[[rule]]\ncategory = [\"meteor\"]\narrive = \"1m\"\n"),
    )
    .expect("write");
    let refused = duty(
        &daemon,
        &daemon.admin,
        &[
            "escalation",
            "policy",
            "set",
            unknown.to_str().expect("path"),
        ],
    )
    .await;
    assert!(
        refused
            .stderr
            .contains("category \"meteor\" does not exist"),
        "{}",
        refused.stderr
    );

    // Suburbs: ten minutes to arrive for I/II at qianjin.
    let suburbs = dir.path().join("suburbs.toml");
    std::fs::write(
        &suburbs,
        text.replace(
            "# Life-threatening",
            "[[rule]]\nposts = [\"qianjin\"]\nseverity = [\"I\", \"II\"]\narrive = \"10m\"\n\n# Life-threatening",
        ),
    )
    .expect("write");
    let officer = daemon.token("officer", "值班员").await;
    let denied = duty(
        &daemon,
        &officer,
        &[
            "escalation",
            "policy",
            "set",
            suburbs.to_str().expect("path"),
        ],
    )
    .await;
    assert_eq!(denied.code, 7);
    let set = duty(
        &daemon,
        &daemon.admin,
        &[
            "-o",
            "json",
            "escalation",
            "policy",
            "set",
            suburbs.to_str().expect("path"),
        ],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["version"], 2);

    let simulated = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "escalation",
            "simulate",
            "--category",
            "fire",
            "--severity",
            "II",
            "--post",
            "qianjin",
            "--at",
            "2026-11-23T09:00:00+08:00",
        ],
    )
    .await;
    assert_eq!(simulated.code, 0, "{}", simulated.stderr);
    let clocks = simulated.json()["clocks"]
        .as_array()
        .expect("clocks")
        .clone();
    let lengths: Vec<&str> = clocks
        .iter()
        .map(|c| c["length"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(lengths, vec!["1m", "10m", "4h"]);
    assert_eq!(clocks[0]["levels"][1]["at"], "2026-11-23T01:06:00Z");
    let table = duty(
        &daemon,
        &officer,
        &[
            "escalation",
            "simulate",
            "--category",
            "fire",
            "--severity",
            "II",
            "--post",
            "xinhua",
        ],
    )
    .await;
    assert!(table.stdout.contains("王伟"), "{}", table.stdout);
    // How each level reaches people off the console (the shipped ladder:
    // SMS at level 2, a call from level 3).
    assert!(
        table.stdout.contains("+sms") && table.stdout.contains("+severity +voice"),
        "{}",
        table.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_is_marked_on_the_incident_its_events_and_its_alarms_and_stays_one() {
    let (daemon, clock) = start().await;
    let mut stream = live(&daemon).await;
    let mut incidents = daemon.admin().await.incidents();
    let mut request = crate::support::call("演练：模拟楼道起火", Some("post:xinhua"));
    if let Some(intake) = request.intake.as_mut() {
        intake.drill = true;
    }
    let drill = incidents
        .create_incident(request)
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident");
    assert!(drill.drill);
    let real = dispatch(&daemon, "真实警情").await;
    // An edit of the intake cannot make it real (no field carries it).
    let edited = incidents
        .update_incident(pb::UpdateIncidentRequest {
            incident: drill.number.clone(),
            summary: Some("演练：模拟楼道起火（三楼）".into()),
            reason: "更正楼层".into(),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .incident
        .expect("incident");
    assert!(edited.drill);
    let listed = incidents
        .list_incidents(pb::ListIncidentsRequest {
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .incidents;
    let marks: Vec<(String, bool)> = listed.iter().map(|i| (i.number.clone(), i.drill)).collect();
    assert!(marks.contains(&(drill.number.clone(), true)), "{marks:?}");
    assert!(marks.contains(&(real.clone(), false)), "{marks:?}");
    // Both miss their sign-for: each alarm says whether it is a drill, and
    // so does the event that carries it.
    clock.advance(SignedDuration::from_secs(61));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (event, alarm) = next_alarm_of(&mut stream, pb::AlarmKind::SignForOverdue).await;
        let state = event.incident_state.expect("state");
        assert_eq!(state.drill, alarm.drill, "{}", alarm.incident);
        seen.push((alarm.incident.clone(), alarm.drill));
    }
    seen.sort();
    let mut expected = vec![(drill.number.clone(), true), (real.clone(), false)];
    expected.sort();
    assert_eq!(seen, expected);
    assert!(alarms(&daemon, &drill.number).await.iter().all(|a| a.drill));
    assert!(alarms(&daemon, &real).await.iter().all(|a| !a.drill));
}

/// Issue 16: a person's own numbers for alarm texts and calls, set, shown,
/// cleared and checked like the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_alarm_numbers_are_set_shown_and_checked() {
    let daemon = TestDaemon::start().await;
    let admin = daemon.admin.clone();
    let created = duty(
        &daemon,
        &admin,
        &[
            "person",
            "create",
            "zhaolei",
            "--name",
            "赵磊",
            "--phone",
            "0571-87000001",
            "--sms-phone",
            "13900000001",
            "--role",
            "duty_leader",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(
        created.stdout.contains("sms 13900000001"),
        "{}",
        created.stdout
    );
    let json = duty(&daemon, &admin, &["-o", "json", "person", "get", "zhaolei"]).await;
    assert_eq!(json.json()["sms_phone"], "13900000001", "{}", json.stdout);
    let updated = duty(
        &daemon,
        &admin,
        &[
            "person",
            "update",
            "zhaolei",
            "--sms-phone",
            "",
            "--voice-phone",
            "13900000002",
        ],
    )
    .await;
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    assert!(
        updated.stdout.contains("voice 13900000002") && !updated.stdout.contains("sms "),
        "{}",
        updated.stdout
    );
    let bad = duty(
        &daemon,
        &admin,
        &["person", "update", "zhaolei", "--voice-phone", "call me"],
    )
    .await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("voice_phone"), "{}", bad.stderr);
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{}", bad.stderr);
    daemon.stop().await;
}
