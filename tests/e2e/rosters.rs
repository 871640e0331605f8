//! Rosters, handover and roll-call, end to end through the CLI and the API,
//! on a manual clock at 2026-11-23 09:00 in Shanghai.

use std::sync::Arc;
use std::time::Duration;

use dutyroom_daemon::clock::ManualClock;
use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};

use crate::support::{TestDaemon, call, duty};

fn t0() -> Timestamp {
    "2026-11-23T01:00:00Z".parse().expect("timestamp")
}

/// A seeded daemon with a day/night pattern, two more people, and a token
/// for a second officer.
async fn start() -> (TestDaemon, Arc<ManualClock>, String) {
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = TestDaemon::start_at(clock.clone()).await;
    daemon.seed().await;
    let admin = &daemon.admin;
    for (id, name) in [
        ("zhangqiang", "张强"),
        ("zhouming", "周明"),
        ("sunli", "孙丽"),
    ] {
        let made = duty(
            &daemon,
            admin,
            &[
                "person",
                "create",
                id,
                "--name",
                name,
                "--phone",
                "13900000000",
            ],
        )
        .await;
        assert_eq!(made.code, 0, "{}", made.stderr);
    }
    let pattern = duty(
        &daemon,
        admin,
        &[
            "roster",
            "pattern",
            "2026-11-01",
            "--shift",
            "day=08:00/12h",
            "--shift",
            "night=20:00/12h",
        ],
    )
    .await;
    assert_eq!(pattern.code, 0, "{}", pattern.stderr);
    let officer = daemon.token("officer", "王伟").await;
    (daemon, clock, officer)
}

fn month_csv() -> String {
    let mut csv = String::from("date,shift,role,post,person\n");
    for day in 1..=30 {
        for shift in ["day", "night"] {
            let date = format!("2026-11-{day:02}");
            let (officer, contact) = if shift == "day" {
                ("wangwei", "zhouming")
            } else {
                ("liuyang", "sunli")
            };
            csv.push_str(&format!("{date},{shift},duty_officer,,{officer}\n"));
            csv.push_str(&format!("{date},{shift},duty_leader,,zhangqiang\n"));
            csv.push_str(&format!("{date},{shift},duty_contact,xinhua,{contact}\n"));
            csv.push_str(&format!("{date},{shift},duty_contact,qianjin,{contact}\n"));
        }
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_loads_from_csv_and_anyone_can_ask_who_is_on_duty() {
    let (daemon, _clock, officer) = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("november.csv");
    std::fs::write(&file, month_csv()).expect("write");
    let path = file.to_str().expect("path");
    let checked = duty(
        &daemon,
        &daemon.admin,
        &["roster", "import", path, "--dry-run"],
    )
    .await;
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked
            .stdout
            .contains("240 good row(s), 0 bad; 0 slot(s) written"),
        "{}",
        checked.stdout
    );
    let loaded = duty(&daemon, &daemon.admin, &["roster", "import", path]).await;
    assert_eq!(loaded.code, 0, "{}", loaded.stderr);
    assert!(
        loaded.stdout.contains("240 slot(s) written"),
        "{}",
        loaded.stdout
    );

    // Anyone — even a post — can ask who is on duty, everywhere, in one call.
    let post = daemon.token("post:xinhua", "新华值守").await;
    let now = duty(&daemon, &post, &["-o", "json", "roster", "now"]).await;
    assert_eq!(now.code, 0, "{}", now.stderr);
    let now = now.json();
    assert_eq!(now["shift"]["shift"], "day");
    assert_eq!(now["next_shift"]["shift"], "night");
    let who = |duties: &serde_json::Value, scope: &str, role: &str| -> Vec<String> {
        duties
            .as_array()
            .expect("duties")
            .iter()
            .filter(|d| d["scope"] == scope && d["role"] == role)
            .flat_map(|d| d["people"].as_array().cloned().unwrap_or_default())
            .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(who(&now["now"], "centre", "duty_officer"), vec!["王伟"]);
    assert_eq!(who(&now["now"], "centre", "duty_leader"), vec!["张强"]);
    assert_eq!(
        who(&now["now"], "post:xinhua", "duty_contact"),
        vec!["周明"]
    );
    assert_eq!(who(&now["next"], "centre", "duty_officer"), vec!["刘洋"]);
    // At 02:00 the night shift of the day before is on.
    let night = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "roster",
            "now",
            "--at",
            "2026-11-23 02:00",
            "--scope",
            "centre",
        ],
    )
    .await
    .json();
    assert_eq!(night["shift"]["date"], "2026-11-22");
    assert_eq!(night["shift"]["shift"], "night");

    // Gaps: November is covered; December is not.
    let gaps = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "roster",
            "gaps",
            "--from",
            "2026-11-29",
            "--days",
            "3",
        ],
    )
    .await;
    let gaps = gaps.json()["gaps"].as_array().expect("gaps").clone();
    assert!(
        gaps.iter().all(|g| g["key"]["date"] == "2026-12-01"),
        "{gaps:?}"
    );
    assert_eq!(
        gaps.len(),
        2 * 4,
        "two shifts × (officer, leader, two posts)"
    );

    // Export round-trips: importing the export changes nothing.
    let exported = duty(
        &daemon,
        &officer,
        &["roster", "export", "--from", "2026-11-01", "--days", "30"],
    )
    .await;
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let month = month_csv();
    let mut original_sorted: Vec<&str> = month.lines().skip(1).collect();
    original_sorted.sort();
    let mut round: Vec<&str> = exported.stdout.lines().skip(1).collect();
    round.sort();
    assert_eq!(round, original_sorted);

    // iCal for a person: one event per duty.
    let ical = duty(
        &daemon,
        &officer,
        &["roster", "ical", "--person", "wangwei", "--days", "3"],
    )
    .await;
    assert_eq!(
        ical.stdout.matches("BEGIN:VEVENT").count(),
        3,
        "{}",
        ical.stdout
    );
    assert!(
        ical.stdout.contains("DTSTART:20261123T000000Z"),
        "{}",
        ical.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_roster_file_is_refused_whole_with_every_bad_line() {
    let (daemon, _clock, _officer) = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "date,shift,role,post,person\n\
         2026-11-24,day,duty_officer,,wangwei\n\
         2026-11-31,day,duty_officer,,wangwei\n\
         2026-11-24,evening,duty_officer,,wangwei\n\
         2026-11-24,day,duty_officer,,nobody\n\
         2026-11-24,day,duty_officer,,wangwei\n\
         2026-11-24,day,duty_contact,,zhouming\n\
         2026-11-24,day,duty_contact,atlantis,zhouming\n\
         2026-11-24,day,duty_leader,,zhangqiang\n",
    )
    .expect("write");
    let path = file.to_str().expect("path");
    let refused = duty(&daemon, &daemon.admin, &["roster", "import", path]).await;
    assert_ne!(refused.code, 0);
    for expected in [
        "line 3: date: \"2026-11-31\" is not a date",
        "line 4: shift: 2026-11-24 has no shift \"evening\"; its shifts are day, night",
        "line 5: person \"nobody\" not found",
        "line 6: wangwei is listed twice for this slot",
        "line 7: role: duty_contact is not a role of centre",
        "line 8: post \"atlantis\" not found",
    ] {
        assert!(
            refused.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            refused.stdout
        );
    }
    assert!(
        refused.stderr.contains("nothing imported"),
        "{}",
        refused.stderr
    );
    let shown = duty(
        &daemon,
        &daemon.admin,
        &[
            "-o",
            "json",
            "roster",
            "show",
            "--from",
            "2026-11-24",
            "--days",
            "1",
        ],
    )
    .await;
    assert_eq!(
        shown.json()["slots"].as_array().map(Vec::len),
        Some(0),
        "nothing was written"
    );
    let partial = duty(
        &daemon,
        &daemon.admin,
        &["roster", "import", path, "--apply-good"],
    )
    .await;
    assert_eq!(partial.code, 0, "{}", partial.stderr);
    assert!(
        partial.stdout.contains("2 slot(s) written"),
        "{}",
        partial.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_change_who_is_on_duty_and_who_is_alarmed() {
    let (daemon, clock, officer) = start().await;
    let admin = &daemon.admin;
    let officer_slot = [
        "roster",
        "set",
        "2026-11-23",
        "day",
        "duty_officer",
        "wangwei",
    ];
    let contact_slot = [
        "roster",
        "set",
        "2026-11-23",
        "day",
        "duty_contact",
        "zhouming",
        "--post",
        "xinhua",
    ];
    for args in [&officer_slot[..], &contact_slot[..]] {
        let set = duty(&daemon, admin, args).await;
        assert_eq!(set.code, 0, "{args:?}: {}", set.stderr);
    }
    let swapped = duty(
        &daemon,
        &officer,
        &[
            "roster",
            "swap",
            "2026-11-23",
            "day",
            "duty_contact",
            "zhouming",
            "sunli",
            "--post",
            "xinhua",
            "--from",
            "2026-11-23 12:00",
            "--until",
            "2026-11-23 18:00",
            "--asked-by",
            "zhouming",
            "--approved-by",
            "zhangqiang",
            "--reason",
            "家中有事",
        ],
    )
    .await;
    assert_eq!(swapped.code, 0, "{}", swapped.stderr);
    let contact_at = |at: &'static str| {
        let daemon = &daemon;
        let officer = officer.clone();
        async move {
            duty(
                daemon,
                &officer,
                &[
                    "-o",
                    "json",
                    "roster",
                    "now",
                    "--at",
                    at,
                    "--scope",
                    "post:xinhua",
                ],
            )
            .await
            .json()["now"][0]["people"][0]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(contact_at("2026-11-23 09:00").await, "周明");
    assert_eq!(contact_at("2026-11-23 13:00").await, "孙丽");
    assert_eq!(contact_at("2026-11-23 18:30").await, "周明");

    // An unsigned dispatch at 12:10 alarms the rostered duty contact (孙丽).
    clock.set(t0() + SignedDuration::from_mins(190));
    let mut stream = daemon
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
        .into_inner();
    daemon
        .admin()
        .await
        .incidents()
        .create_incident(call("值守名单测试", Some("post:xinhua")))
        .await
        .expect("create");
    clock.advance(SignedDuration::from_secs(61));
    let alarm = loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an alarm")
            .expect("ok")
            .expect("open");
        if let Some(pb::watch_response::Item::Event(event)) = item.item
            && let Some(pb::event::Body::Alarm(alarm)) = event.body
        {
            break alarm;
        }
    };
    let names: Vec<&str> = alarm.targets[0]
        .people
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["孙丽"]);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_is_built_signed_and_countersigned() {
    let (daemon, clock, officer) = start().await;
    let incoming = daemon.token("officer", "刘洋").await;
    let mut incidents = daemon.admin().await.incidents();
    for n in 0..3 {
        incidents
            .create_incident(call(&format!("班内事件 {n}"), Some("post:xinhua")))
            .await
            .expect("create");
    }
    let resolved = incidents
        .create_incident(call("已处置的事件", None))
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    incidents
        .resolve(pb::ResolveRequest {
            done_at: None,
            request_id: String::new(),
            incident: resolved,
            outcome: "已处置".into(),
        })
        .await
        .expect("resolve");
    // Two minutes later the sign-for clocks (1 minute for II) are overdue.
    clock.advance(SignedDuration::from_mins(2));
    let opened = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "handover",
            "open",
            "--notes",
            "新华路火情需跟进",
        ],
    )
    .await;
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let handover = opened.json();
    let id = handover["id"].to_string();
    assert_eq!(handover["shift"]["shift"], "day");
    assert_eq!(handover["status"], "open");
    assert_eq!(handover["counts"]["received"], 4);
    assert_eq!(handover["counts"]["resolved"], 1);
    assert_eq!(handover["open_incidents"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        handover["unsigned_dispatches"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(
        handover["overdue"].as_array().is_some_and(|o| o.len() >= 3),
        "{handover}"
    );

    let shown = duty(&daemon, &officer, &["handover", "show", &id]).await;
    assert!(
        shown.stdout.contains("not yet signed for"),
        "{}",
        shown.stdout
    );
    // Opening it again refreshes the same handover (it used to fail with
    // INTERNAL: the shift's index was read back as JSON).
    let again = duty(&daemon, &officer, &["-o", "json", "handover", "open"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["id"].to_string(), id);
    assert_eq!(again.json()["notes"], "新华路火情需跟进", "notes are kept");
    let signed = duty(&daemon, &officer, &["handover", "sign", &id]).await;
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let reopened = duty(&daemon, &officer, &["handover", "open"]).await;
    assert_eq!(
        reopened.code, 6,
        "a signed handover is not reopened: {}",
        reopened.stderr
    );
    let own = duty(&daemon, &officer, &["handover", "countersign", &id]).await;
    assert_eq!(
        own.code, 6,
        "the outgoing officer cannot counter-sign: {}",
        own.stderr
    );
    let pending = duty(
        &daemon,
        &daemon.admin,
        &["-o", "json", "handover", "list", "--pending"],
    )
    .await;
    assert_eq!(
        pending.json()["handovers"].as_array().map(Vec::len),
        Some(1)
    );
    let countersigned = duty(
        &daemon,
        &incoming,
        &[
            "-o",
            "json",
            "handover",
            "countersign",
            &id,
            "--remarks",
            "已接班，继续跟进新华路",
        ],
    )
    .await;
    assert_eq!(countersigned.code, 0, "{}", countersigned.stderr);
    assert_eq!(countersigned.json()["status"], "countersigned");
    assert_eq!(countersigned.json()["countersigned_by"]["name"], "刘洋");
    // Final: no more changes.
    let late = duty(&daemon, &officer, &["handover", "note", &id, "补充"]).await;
    assert_eq!(late.code, 6, "{}", late.stderr);
    assert!(
        late.stderr.contains("can no longer change"),
        "{}",
        late.stderr
    );
    let history = duty(
        &daemon,
        &officer,
        &[
            "handover",
            "list",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
        ],
    )
    .await;
    assert!(
        history.stdout.contains("countersigned"),
        "{}",
        history.stdout
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_shifts_handover_counts_that_shift_only() {
    // t0 is 09:00 Shanghai, in the day shift (08:00–20:00).
    let (daemon, clock, officer) = start().await;
    let mut incidents = daemon.admin().await.incidents();
    for n in 0..2 {
        incidents
            .create_incident(call(&format!("白班事件 {n}"), None))
            .await
            .expect("create");
    }
    // Into the night shift: three more calls.
    clock.advance(SignedDuration::from_hours(12));
    for n in 0..3 {
        incidents
            .create_incident(call(&format!("夜班事件 {n}"), None))
            .await
            .expect("create");
    }
    let day = duty(
        &daemon,
        &officer,
        &[
            "-o",
            "json",
            "handover",
            "open",
            "--date",
            "2026-11-23",
            "--shift",
            "day",
        ],
    )
    .await;
    assert_eq!(day.code, 0, "{}", day.stderr);
    assert_eq!(
        day.json()["counts"]["received"],
        2,
        "the day shift's calls, not the night's: {}",
        day.json()
    );
    assert_eq!(
        day.json()["counts"]["escalations"],
        0,
        "the alarms fired at night are the night's"
    );
    let night = duty(&daemon, &officer, &["-o", "json", "handover", "open"]).await;
    assert_eq!(night.code, 0, "{}", night.stderr);
    assert_eq!(night.json()["counts"]["received"], 3, "{}", night.json());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_hands_over_its_own_shift() {
    let (daemon, clock, officer) = start().await;
    let outgoing = daemon.token("post:xinhua", "周明").await;
    let incoming = daemon.token("post:xinhua", "孙丽").await;
    let qianjin = daemon.token("post:qianjin", "前进值守").await;
    let mut incidents = daemon.admin().await.incidents();
    for (summary, post) in [
        ("新华路火情", "post:xinhua"),
        ("新华小区冒烟", "post:xinhua"),
        ("前进辖区漏水", "post:qianjin"),
    ] {
        incidents
            .create_incident(call(summary, Some(post)))
            .await
            .expect("create");
    }
    clock.advance(SignedDuration::from_mins(2));
    // Xinhua's token opens Xinhua's handover: its own incidents only.
    let opened = duty(
        &daemon,
        &outgoing,
        &["-o", "json", "handover", "open", "--notes", "两起待跟进"],
    )
    .await;
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let handover = opened.json();
    let id = handover["id"].to_string();
    assert_eq!(handover["scope"], "post:xinhua");
    assert_eq!(handover["open_incidents"].as_array().map(Vec::len), Some(2));
    assert_eq!(handover["counts"]["received"], 2, "{handover}");
    // Not another post's to open, read or sign.
    let theirs = duty(
        &daemon,
        &qianjin,
        &["handover", "open", "--scope", "post:xinhua"],
    )
    .await;
    assert_eq!(theirs.code, 7, "{}", theirs.stderr);
    let peek = duty(&daemon, &qianjin, &["handover", "show", &id]).await;
    assert_eq!(peek.code, 4, "another post's handover is NOT_FOUND");
    let centre_signs = duty(&daemon, &officer, &["handover", "sign", &id]).await;
    assert_eq!(centre_signs.code, 7, "{}", centre_signs.stderr);

    let signed = duty(&daemon, &outgoing, &["handover", "sign", &id]).await;
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let own = duty(&daemon, &outgoing, &["handover", "countersign", &id]).await;
    assert_eq!(own.code, 6, "{}", own.stderr);
    let countersigned = duty(
        &daemon,
        &incoming,
        &[
            "-o",
            "json",
            "handover",
            "countersign",
            &id,
            "--remarks",
            "已接班",
        ],
    )
    .await;
    assert_eq!(countersigned.code, 0, "{}", countersigned.stderr);
    assert_eq!(countersigned.json()["countersigned_by"]["name"], "孙丽");

    // The centre sees every post's handovers, and can ask for one post's.
    let listed = duty(
        &daemon,
        &officer,
        &["-o", "json", "handover", "list", "--scope", "post:xinhua"],
    )
    .await;
    let listed = listed.json();
    let handovers = listed["handovers"].as_array().expect("handovers");
    assert_eq!(handovers.len(), 1);
    assert_eq!(handovers[0]["status"], "countersigned");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roll_calls_record_latency_and_alarm_posts_that_miss_them() {
    let (daemon, clock, officer) = start().await;
    let xinhua = daemon.token("post:xinhua", "新华值守").await;
    let sent = duty(
        &daemon,
        &officer,
        &[
            "-o", "json", "rollcall", "send", "xinhua", "qianjin", "--within", "60",
        ],
    )
    .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let id = sent.json()["roll_calls"][0]["id"].to_string();
    clock.advance(SignedDuration::from_secs(12));
    let answered = duty(&daemon, &xinhua, &["-o", "json", "rollcall", "answer", &id]).await;
    assert_eq!(answered.code, 0, "{}", answered.stderr);
    let answer = &answered.json()["roll_calls"][0]["posts"][0];
    assert_eq!(answer["post"], "xinhua");
    assert_eq!(answer["latency_ms"], 12_000);
    // The officer cannot answer for a post.
    let not_a_post = duty(&daemon, &officer, &["rollcall", "answer", &id]).await;
    assert_eq!(not_a_post.code, 7, "{}", not_a_post.stderr);

    // Qianjin misses it: an alarm, up the ladder.
    clock.advance(SignedDuration::from_secs(50));
    let mut found = false;
    for _ in 0..200 {
        let alarms = duty(&daemon, &officer, &["-o", "json", "alarm", "list"])
            .await
            .json();
        if let Some(alarm) = alarms["alarms"].as_array().and_then(|a| a.first()) {
            assert_eq!(alarm["kind"], "ALARM_KIND_ROLL_CALL_MISSED");
            assert_eq!(alarm["post_id"], "qianjin");
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "no roll-call alarm for qianjin");

    // Scheduled roll-calls go out by themselves.
    let scheduled = duty(
        &daemon,
        &officer,
        &[
            "roster",
            "rollcall-schedule",
            "--at",
            "10:00",
            "--within",
            "120",
        ],
    )
    .await;
    assert_eq!(scheduled.code, 0, "{}", scheduled.stderr);
    clock.set(t0() + SignedDuration::from_mins(60));
    let mut sent_by_schedule = false;
    for _ in 0..200 {
        let list = duty(&daemon, &officer, &["-o", "json", "rollcall", "list"])
            .await
            .json();
        if list["roll_calls"]
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r["scheduled"] == true))
        {
            sent_by_schedule = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent_by_schedule, "the 10:00 roll-call did not go out");
    daemon.stop().await;
}
