//! Assessment reports over a scripted night with known times (the test
//! clock), every expected figure worked out by hand below.
//!
//! The centre is in Asia/Shanghai. At 23:50 on Monday 30 November 2026
//! three calls come in (fire, severity II: sign for within 1 min, arrive
//! within 5 min, resolve within 4 h under the shipped policy), all at 幸福社区
//! under 新华街道 under 城关区, plus one drill:
//!
//! | incident | lead    | sign for          | arrive      | resolve     | callback |
//! |----------|---------|-------------------|-------------|-------------|----------|
//! | A        | xinhua  | 40 s (in time)    | 200 s (ok)  | 3,600 s ok  | 5        |
//! | B        | xinhua  | 90 s (late, alarm)| 200 s (ok)  | 3,600 s ok  | 3        |
//! | C        | qianjin | sent back at 90 s, after its sign-for alarm    | —        |
//! | D drill  | xinhua  | 40 s              | —           | —           | —        |
//!
//! At 00:50 on 1 December the policy changes: severity II must be resolved
//! within 30 minutes. A and B were received under the old policy and keep
//! their 4 h deadline, so resolving them at one hour is in time. E, received
//! at 00:50 on 1 December under the new policy, is resolved after 34
//! minutes: late.
//!
//! November (drills left out): 3 incidents, 3 orders, 1 sent back;
//! sign-for 2 timed (40, 90): p50 = rank ⌈0.5·2⌉ = 1 → 40 s, p90 = rank 2
//! → 90 s, 1 of 2 in time (50 %), overdue 2 (B late, C abandoned after its
//! alarm); arrive 2 × 200 s, both in time; resolve 2 × 3,600 s, both in
//! time; 2 callbacks scoring 5 and 3 (mean 4.0).
//! 新华: 2 orders, composite 100 × mean(0.5, 1, 1, 1 − 0/2) = 87.5.
//! 前进: 1 order sent back, composite 100 × mean(1 − 1/1) = 0.
//! December: E alone, resolve 0 of 1 in time (overdue); the week of 30 November
//! (2026-W49) holds A, B, C and E.

use std::sync::Arc;
use std::time::Duration;

use dutyroom_daemon::clock::ManualClock;
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};

use crate::support::{TestDaemon, call, duty};

fn t0() -> Timestamp {
    // 23:50 on 30 November in Shanghai.
    "2026-11-30T15:50:00Z".parse().expect("timestamp")
}

async fn create(daemon: &TestDaemon, summary: &str, lead: &str, drill: bool) -> String {
    let mut request = call(summary, Some(lead));
    if let Some(intake) = request.intake.as_mut() {
        intake.drill = drill;
    }
    daemon
        .admin()
        .await
        .incidents()
        .create_incident(request)
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number
}

fn step(number: &str) -> pb::AssignmentActionRequest {
    pb::AssignmentActionRequest {
        incident: number.to_owned(),
        assignment_id: 1,
        ..Default::default()
    }
}

/// Waits until `count` sign-for alarms are waiting (the timer fires them
/// on its own thread after the clock moves).
async fn sign_for_alarms(daemon: &TestDaemon, count: usize) {
    alarms_of(daemon, pb::AlarmKind::SignForOverdue, count).await;
}

async fn alarms_of(daemon: &TestDaemon, kind: pb::AlarmKind, count: usize) {
    for _ in 0..200 {
        let alarms = daemon
            .admin()
            .await
            .escalation()
            .list_alarms(pb::ListAlarmsRequest::default())
            .await
            .expect("alarms")
            .into_inner()
            .alarms;
        let sign_for = alarms.iter().filter(|a| a.kind == kind as i32).count();
        if sign_for >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} {kind:?} alarms never came");
}

async fn report(
    daemon: &TestDaemon,
    token: &str,
    from: &str,
    period: pb::PeriodKind,
    tune: impl FnOnce(&mut pb::GetReportRequest),
) -> pb::Report {
    let mut request = pb::GetReportRequest {
        from: from.into(),
        period: period as i32,
        ..Default::default()
    };
    tune(&mut request);
    daemon
        .client(token)
        .await
        .reports()
        .get_report(request)
        .await
        .expect("report")
        .into_inner()
}

fn figures(f: Option<&pb::Figures>) -> (u64, u64, u64, u64, f64, u64) {
    let f = f.expect("figures");
    (f.count, f.p50, f.p90, f.max, f.compliance, f.overdue)
}

async fn night() -> (TestDaemon, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    let incidents = daemon.admin().await.incidents();
    let a = create(&daemon, "A 居民楼冒烟", "post:xinhua", false).await;
    let b = create(&daemon, "B 仓库起火", "post:xinhua", false).await;
    let c = create(&daemon, "C 商铺冒烟", "post:qianjin", false).await;
    let d = create(&daemon, "D 演练", "post:xinhua", true).await;

    clock.advance(SignedDuration::from_secs(40));
    for number in [&a, &d] {
        incidents
            .clone()
            .sign_for(step(number))
            .await
            .expect("sign");
    }
    clock.advance(SignedDuration::from_secs(50));
    sign_for_alarms(&daemon, 2).await;
    incidents.clone().sign_for(step(&b)).await.expect("sign B");
    incidents
        .clone()
        .refuse(pb::RefuseRequest {
            incident: c.clone(),
            assignment_id: 1,
            reason: "不属于本辖区".into(),
            ..Default::default()
        })
        .await
        .expect("C sent back");

    clock.advance(SignedDuration::from_secs(110));
    for number in [&a, &b] {
        incidents
            .clone()
            .arrive(step(number))
            .await
            .expect("arrive");
    }

    // 00:50 on 1 December: a stricter policy for severity II.
    clock.advance(SignedDuration::from_secs(3_400));
    let escalation = daemon.admin().await.escalation();
    let shipped = escalation
        .clone()
        .get_policy(pb::GetPolicyRequest {})
        .await
        .expect("policy")
        .into_inner()
        .toml;
    let stricter = shipped.replacen("resolve = \"4h\"", "resolve = \"30m\"", 1);
    assert_ne!(stricter, shipped, "the shipped policy has a 4 h rule");
    escalation
        .clone()
        .set_policy(pb::SetPolicyRequest {
            toml: stricter,
            ..Default::default()
        })
        .await
        .expect("set policy");
    for (number, satisfaction) in [(&a, 5), (&b, 3)] {
        incidents
            .clone()
            .resolve(pb::ResolveRequest {
                incident: number.clone(),
                outcome: "已处置".into(),
                ..Default::default()
            })
            .await
            .expect("resolve");
        incidents
            .clone()
            .close(pb::CloseRequest {
                incident: number.clone(),
                callback_result: "已回访".into(),
                satisfaction,
                ..Default::default()
            })
            .await
            .expect("close");
    }
    let e = create(&daemon, "E 厨房起火", "post:xinhua", false).await;
    assert!(e.starts_with("20261201-"), "{e}");
    clock.advance(SignedDuration::from_secs(20));
    incidents.clone().sign_for(step(&e)).await.expect("sign E");
    clock.advance(SignedDuration::from_secs(80));
    incidents.clone().arrive(step(&e)).await.expect("arrive E");
    // 34 minutes after E came in: its first alarm (30 min) has fired, the
    // ladder's second (35 min) not yet, so the test does not race the timer.
    clock.advance(SignedDuration::from_secs(1_940));
    // E's resolution clock (30 min) has raised its alarm: overdue.
    alarms_of(&daemon, pb::AlarmKind::ResolveOverdue, 1).await;
    incidents
        .clone()
        .resolve(pb::ResolveRequest {
            incident: e.clone(),
            outcome: "已处置".into(),
            ..Default::default()
        })
        .await
        .expect("resolve E");
    (daemon, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_night_adds_up_to_the_figures_worked_by_hand() {
    let (daemon, _clock) = night().await;
    let admin = daemon.admin.clone();

    let november = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |_| {}).await;
    let period = november.period.clone().expect("period");
    assert_eq!(
        (
            period.label.as_str(),
            period.from.as_str(),
            period.to.as_str()
        ),
        ("2026-11", "2026-11-01", "2026-11-30")
    );
    assert_eq!(november.previous_period.expect("previous").label, "2026-10");
    assert_eq!(november.time_zone, "Asia/Shanghai");
    let summary = november.summary.clone().expect("summary");
    assert_eq!(
        (summary.created, summary.orders, summary.sent_back),
        (3, 3, 1),
        "drills left out; received before midnight counts in November"
    );
    assert_eq!(figures(summary.sign_for.as_ref()), (2, 40, 90, 90, 0.5, 2));
    assert_eq!(figures(summary.arrive.as_ref()), (2, 200, 200, 200, 1.0, 0));
    assert_eq!(
        figures(summary.resolve.as_ref()),
        (2, 3_600, 3_600, 3_600, 1.0, 0),
        "resolved after the policy changed, against the deadline their clocks carried"
    );
    assert_eq!(summary.callbacks, 2);
    assert_eq!(summary.satisfaction_mean, 4.0);
    assert_eq!(
        summary
            .satisfaction
            .iter()
            .map(|s| (s.score, s.callbacks))
            .collect::<Vec<_>>(),
        [(3, 1), (5, 1)]
    );
    assert_eq!(november.previous_summary.expect("before").created, 0);

    // League table: both posts below the minimum sample of 5, so unranked.
    let rows: Vec<_> = november
        .posts
        .iter()
        .map(|r| (r.assignee.as_str(), r.orders, r.sent_back, r.rank))
        .collect();
    assert_eq!(rows, [("post:qianjin", 1, 1, 0), ("post:xinhua", 2, 0, 0)]);
    let xinhua = &november.posts[1];
    assert_eq!((xinhua.value, xinhua.has_value), (87.5, true));
    assert_eq!(xinhua.name, "新华街道指挥部");
    assert_eq!(xinhua.daily.len(), 1, "only the days with figures");
    assert_eq!(xinhua.daily[0].day, "2026-11-30");
    assert_eq!(xinhua.daily[0].sign_for_p90, 90);
    assert_eq!(november.posts[0].send_back_rate, 1.0);
    let ranked = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.min_sample = 1
    })
    .await;
    let ranks: Vec<_> = ranked
        .posts
        .iter()
        .map(|r| (r.assignee.as_str(), r.rank, r.value))
        .collect();
    assert_eq!(ranks, [("post:xinhua", 1, 87.5), ("post:qianjin", 2, 0.0)]);
    let by_sign_for = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.min_sample = 1;
        r.rank_by = "sign_for_p90".into();
    })
    .await;
    assert_eq!(
        by_sign_for
            .posts
            .iter()
            .map(|r| (r.assignee.as_str(), r.rank))
            .collect::<Vec<_>>(),
        [("post:xinhua", 1), ("post:qianjin", 0)],
        "前进 timed no sign-for: no value, not ranked"
    );

    // Places: each holds those below it.
    let places = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.slice_by = pb::SliceBy::Place as i32
    })
    .await;
    let created: Vec<_> = places
        .slices
        .iter()
        .map(|s| (s.key.as_str(), s.totals.as_ref().map_or(0, |t| t.created)))
        .collect();
    assert_eq!(created, [("chengguan", 3), ("xingfu", 3), ("xinhua-sd", 3)]);

    // Drills alone.
    let drills = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.drills = pb::DrillFilter::Only as i32
    })
    .await;
    let drill_summary = drills.summary.expect("summary");
    assert_eq!(drill_summary.created, 1);
    assert_eq!(figures(drill_summary.sign_for.as_ref()).0, 1);
    let both = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.drills = pb::DrillFilter::Include as i32
    })
    .await;
    assert_eq!(both.summary.expect("summary").created, 4);

    // December: E alone, late against the new policy's 30 minutes.
    let december = report(&daemon, &admin, "2026-12-01", pb::PeriodKind::Month, |_| {}).await;
    let summary = december.summary.expect("summary");
    assert_eq!(summary.created, 1);
    assert_eq!(
        figures(summary.resolve.as_ref()),
        (1, 2_040, 2_040, 2_040, 0.0, 1)
    );
    assert_eq!(december.previous_summary.expect("November").created, 3);
    // Midnight splits the days; the ISO week holds both.
    for (day, created) in [("2026-11-30", 3), ("2026-12-01", 1)] {
        let one = report(&daemon, &admin, day, pb::PeriodKind::Day, |_| {}).await;
        assert_eq!(one.summary.expect("summary").created, created, "{day}");
    }
    let week = report(&daemon, &admin, "2026-12-03", pb::PeriodKind::Week, |_| {}).await;
    assert_eq!(week.period.expect("week").label, "2026-W49");
    assert_eq!(week.summary.expect("summary").created, 4);

    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_sees_its_own_row_and_the_cli_writes_tables_csv_and_a_page() {
    let (daemon, _clock) = night().await;
    let qianjin = daemon.token("post:qianjin", "前进值班").await;
    let own = report(
        &daemon,
        &qianjin,
        "2026-11-30",
        pb::PeriodKind::Month,
        |_| {},
    )
    .await;
    assert_eq!(own.confined_to, "post:qianjin");
    assert!(own.summary.is_none() && own.slices.is_empty() && own.units.is_empty());
    assert_eq!(
        own.posts
            .iter()
            .map(|r| r.assignee.as_str())
            .collect::<Vec<_>>(),
        ["post:qianjin"]
    );

    let admin = daemon.admin.clone();
    let csv = duty(
        &daemon,
        &admin,
        &[
            "report",
            "posts",
            "--from",
            "2026-11-30",
            "--period",
            "month",
            "--min-sample",
            "1",
            "-o",
            "csv",
        ],
    )
    .await;
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "rank,previous_rank,assignee,name,orders,sent_back,sign_for_count,sign_for_p50"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("1,0,post:xinhua,新华街道指挥部,2,0,2,40,90,90,90,0.5000,1,"),
        "{}",
        lines[1]
    );

    let page = daemon.data.with_extension("report.html");
    let table = duty(
        &daemon,
        &admin,
        &[
            "report",
            "summary",
            "--from",
            "2026-11-30",
            "--period",
            "month",
            "--html",
            &page.display().to_string(),
        ],
    )
    .await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table
            .stdout
            .starts_with("2026-11 (2026-11-01 to 2026-11-30, Asia/Shanghai)"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("sign-for in time"),
        "{}",
        table.stdout
    );
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(
        html.contains("<svg") && html.contains("87.5"),
        "the composite and a chart"
    );
    assert!(html.contains("新华街道指挥部") && html.contains("幸福社区"));
    assert!(!html.contains("<script"), "no scripts");

    let wrong = duty(&daemon, &admin, &["incident", "list", "-o", "csv"]).await;
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    let bad = duty(
        &daemon,
        &admin,
        &[
            "report",
            "posts",
            "--from",
            "2026-11-30",
            "--rank-by",
            "fastest",
        ],
    )
    .await;
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("composite"), "{}", bad.stderr);
    daemon.stop().await;
}

async fn incidents(
    daemon: &TestDaemon,
    token: &str,
    tune: impl FnOnce(&mut pb::ListIncidentMeasuresRequest),
) -> Result<pb::ListIncidentMeasuresReply, tonic::Status> {
    let mut request = pb::ListIncidentMeasuresRequest {
        from: "2026-11-30".into(),
        period: pb::PeriodKind::Month as i32,
        ..Default::default()
    };
    tune(&mut request);
    daemon
        .client(token)
        .await
        .reports()
        .list_incident_measures(request)
        .await
        .map(tonic::Response::into_inner)
}

/// (kind, assignee, done, seconds, in time, alarms) of each stopped clock.
fn clocks(row: &pb::IncidentMeasures) -> Vec<(i32, &str, bool, u64, bool, u32)> {
    row.clocks
        .iter()
        .map(|c| {
            (
                c.kind,
                c.assignee.as_str(),
                c.done,
                c.seconds,
                c.in_time,
                c.alarms,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incident_carries_its_own_times_and_a_post_lists_only_its_own() {
    let (daemon, _clock) = night().await;
    let admin = daemon.admin.clone();
    let november = incidents(&daemon, &admin, |_| {}).await.expect("list");
    let rows = &november.incidents;
    assert_eq!(rows.len(), 3, "A, B and C; the drill left out");
    let (a, b, c) = (&rows[0], &rows[1], &rows[2]);
    assert!(a.number < b.number && b.number < c.number, "number order");
    assert_eq!(
        clocks(a),
        [
            (1, "post:xinhua", true, 40, true, 0),
            (2, "post:xinhua", true, 200, true, 0),
            (3, "post:xinhua", true, 3_600, true, 0),
        ],
        "A: every clock in time, resolved against the 4 h its clock carried"
    );
    assert_eq!((a.called_back, a.satisfaction), (true, 5));
    assert_eq!(
        (a.lead.as_str(), a.status.as_str()),
        ("post:xinhua", "closed")
    );
    assert_eq!(clocks(b)[0], (1, "post:xinhua", true, 90, false, 1));
    assert_eq!(b.escalation_level, 1);
    assert_eq!(
        (c.sent_back, c.sent_back_reasons.as_slice()),
        (1, ["不属于本辖区".to_owned()].as_slice())
    );
    assert_eq!(
        clocks(c),
        [
            (1, "post:qianjin", false, 0, false, 1),
            (2, "post:qianjin", false, 0, false, 0),
        ],
        "sent back after its sign-for alarm: both its clocks stopped, not done"
    );
    assert_eq!(c.running, 1, "its resolution clock still runs");
    assert_eq!(c.lead, "", "nobody leads it now");

    let december = incidents(&daemon, &admin, |r| r.from = "2026-12-01".into())
        .await
        .expect("december");
    let e = &december.incidents[0];
    assert_eq!(
        clocks(e)[2],
        (3, "post:xinhua", true, 2_040, false, 1),
        "E: resolved in 34 min against the new 30 min, after its first alarm"
    );

    // Drills included: D too. One row a page: the same rows, in order.
    let all = incidents(&daemon, &admin, |r| {
        r.drills = pb::DrillFilter::Include as i32
    })
    .await
    .expect("with drills");
    assert_eq!(all.incidents.len(), 4);
    assert!(all.incidents.iter().any(|r| r.drill));
    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let page = incidents(&daemon, &admin, |r| {
            r.drills = pb::DrillFilter::Include as i32;
            r.page_size = 1;
            r.page_token = token.clone();
        })
        .await
        .expect("a page");
        paged.extend(page.incidents.into_iter().map(|r| r.number));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(
        paged,
        all.incidents
            .iter()
            .map(|r| r.number.clone())
            .collect::<Vec<_>>()
    );

    // A page token is only good for the period it came from.
    let first = incidents(&daemon, &admin, |r| r.page_size = 1)
        .await
        .expect("first page");
    let elsewhere = incidents(&daemon, &admin, |r| {
        r.from = "2026-12-01".into();
        r.page_token = first.next_page_token.clone();
    })
    .await
    .expect_err("refused");
    assert_eq!(elsewhere.code(), tonic::Code::InvalidArgument);
    assert!(elsewhere.message().contains("page_token"), "{elsewhere:?}");
    let garbage = incidents(&daemon, &admin, |r| r.page_token = "\u{1b}[2J".into())
        .await
        .expect_err("refused");
    assert_eq!(garbage.code(), tonic::Code::InvalidArgument);

    // A post lists only the incidents it had an order for, and may not
    // ask for another's.
    let xinhua = daemon.token("post:xinhua", "新华值班").await;
    let own = incidents(&daemon, &xinhua, |_| {}).await.expect("own");
    assert_eq!(
        own.incidents
            .iter()
            .map(|r| r.number.as_str())
            .collect::<Vec<_>>(),
        [a.number.as_str(), b.number.as_str()]
    );
    let other = incidents(&daemon, &xinhua, |r| r.assignee = "post:qianjin".into())
        .await
        .expect_err("denied");
    assert_eq!(other.code(), tonic::Code::PermissionDenied);
    let bad = incidents(&daemon, &admin, |r| r.assignee = "team:x".into())
        .await
        .expect_err("refused");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("post:<id>"), "{bad:?}");

    // The CLI: raw CSV, one line each.
    let csv = duty(
        &daemon,
        &admin,
        &[
            "report",
            "incidents",
            "--from",
            "2026-11-30",
            "--period",
            "month",
            "-o",
            "csv",
        ],
    )
    .await;
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", csv.stdout);
    assert!(lines[0].starts_with("number,received_at,drill,category,severity"));
    assert!(
        lines[1].contains(",40,true,0,200,true,0,3600,true,0,"),
        "{}",
        lines[1]
    );
    let table = duty(
        &daemon,
        &admin,
        &[
            "report",
            "incidents",
            "--from",
            "2026-11-30",
            "--period",
            "month",
        ],
    )
    .await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("1m30s late"), "{}", table.stdout);
    assert!(table.stdout.contains("3 incidents"), "{}", table.stdout);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_are_sliced_by_hour_and_by_the_rosters_shifts() {
    let (daemon, _clock) = night().await;
    let admin = daemon.admin.clone();
    let by_hour = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.slice_by = pb::SliceBy::Hour as i32;
    })
    .await;
    let hours: Vec<(&str, &str, u64)> = by_hour
        .slices
        .iter()
        .map(|s| {
            (
                s.key.as_str(),
                s.label.as_str(),
                s.totals.as_ref().map_or(0, |t| t.created),
            )
        })
        .collect();
    assert_eq!(hours, [("23", "23:00–00:00", 3)], "received at 23:50");
    let unset = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Month, |r| {
        r.slice_by = pb::SliceBy::Shift as i32;
    })
    .await;
    assert_eq!(unset.slices[0].label, "（未设班次）");
    daemon
        .admin()
        .await
        .rosters()
        .set_pattern(pb::SetPatternRequest {
            request_id: String::new(),
            pattern: Some(pb::Pattern {
                from: "2026-11-01".into(),
                shifts: vec![
                    pb::ShiftDef {
                        name: "白班".into(),
                        start: "08:00".into(),
                        minutes: 12 * 60,
                    },
                    pb::ShiftDef {
                        name: "夜班".into(),
                        start: "20:00".into(),
                        minutes: 12 * 60,
                    },
                ],
            }),
        })
        .await
        .expect("pattern");
    let by_shift = report(&daemon, &admin, "2026-11-30", pb::PeriodKind::Week, |r| {
        r.slice_by = pb::SliceBy::Shift as i32;
    })
    .await;
    let shifts: Vec<(&str, u64)> = by_shift
        .slices
        .iter()
        .map(|s| (s.key.as_str(), s.totals.as_ref().map_or(0, |t| t.created)))
        .collect();
    assert_eq!(
        shifts,
        [("夜班", 4)],
        "A, B, C at 23:50 and E at 00:50: all on the night shift"
    );
    daemon.stop().await;
}
