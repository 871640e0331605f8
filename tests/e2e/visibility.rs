//! The visibility matrix: every RPC the descriptors list × every role ×
//! its own, a foreign and a missing id, through a client built from the
//! descriptors (not our generated code). No reply, stream item or error of
//! a post or unit may carry anything of what it may not see, and a foreign
//! id must answer exactly as a missing one. An RPC added to the protos
//! without an expectation here fails the test.

use std::collections::{BTreeMap, HashMap};

use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::raw::{self, Answer};
use crate::support::{TestDaemon, assignee, call};

/// Which id a request template takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    None,
    Incident,
    Alarm,
    Handover,
    RollCall,
}

/// One way to call an RPC.
struct Case {
    template: &'static str,
    id: Id,
    /// Changes state: centre roles call it with missing ids only, confined
    /// roles never with their own ids (the fixture must stay as it is).
    writes: bool,
}

const fn read(template: &'static str, id: Id) -> Case {
    Case {
        template,
        id,
        writes: false,
    }
}

const fn write(template: &'static str, id: Id) -> Case {
    Case {
        template,
        id,
        writes: true,
    }
}

fn expectations() -> HashMap<&'static str, Vec<Case>> {
    use Id::*;
    let i = Incident;
    HashMap::from([
        ("IncidentService/CreateIncident", vec![write("{}", None)]),
        (
            "ReportService/GetReport",
            vec![
                read(r#"{"from":"2026-11-01","period":"PERIOD_KIND_YEAR"}"#, None),
                read(r#"{"from":"2026-11-01","sliceBy":"SLICE_BY_PLACE"}"#, None),
            ],
        ),
        (
            "ReportService/ListIncidentMeasures",
            vec![
                read(r#"{"from":"2026-01-01","period":"PERIOD_KIND_YEAR"}"#, None),
                read(
                    r#"{"from":"2026-01-01","to":"2027-12-31","drills":"DRILL_FILTER_INCLUDE","pageSize":1}"#,
                    None,
                ),
            ],
        ),
        (
            "IncidentService/SearchIncidents",
            vec![
                read("{}", None),
                read(r#"{"text":"冒烟"}"#, None),
                read(r#"{"phone":"5678"}"#, None),
            ],
        ),
        (
            "IncidentService/UpdateIncident",
            vec![write(r#"{"incident":"{id}","summary":"x"}"#, i)],
        ),
        (
            "IncidentService/GetIncident",
            vec![read(r#"{"incident":"{id}"}"#, i)],
        ),
        (
            "IncidentService/ListIncidents",
            vec![read("{}", None), read(r#"{"openOnly":true}"#, None)],
        ),
        (
            "IncidentService/Assign",
            vec![write(
                r#"{"incident":"{id}","assignee":{"kind":"ASSIGNEE_KIND_UNIT","id":"health"}}"#,
                i,
            )],
        ),
        (
            "IncidentService/Unassign",
            vec![write(
                r#"{"incident":"{id}","assignmentId":1,"reason":"x"}"#,
                i,
            )],
        ),
        (
            "IncidentService/SignFor",
            vec![write(r#"{"incident":"{id}"}"#, i)],
        ),
        (
            "IncidentService/Arrive",
            vec![write(r#"{"incident":"{id}"}"#, i)],
        ),
        (
            "IncidentService/Finish",
            vec![write(r#"{"incident":"{id}"}"#, i)],
        ),
        (
            "IncidentService/Refuse",
            vec![write(r#"{"incident":"{id}","reason":"x"}"#, i)],
        ),
        (
            "IncidentService/FindRelated",
            vec![
                read(r#"{"phone":"13812345678"}"#, None),
                read(r#"{"placeId":"xingfu","category":"fire"}"#, None),
            ],
        ),
        (
            "IncidentService/ReplayBoard",
            vec![
                // Clamped to the head: the whole board now, as a replay.
                read(r#"{"seq":"1000000"}"#, None),
                read(r#"{"at":"2000-01-01 00:00"}"#, None),
            ],
        ),
        (
            "IncidentService/AddRepeatCall",
            vec![write(r#"{"incident":"{id}","text":"x"}"#, i)],
        ),
        (
            "IncidentService/AddNote",
            vec![write(r#"{"incident":"{id}","text":"x"}"#, i)],
        ),
        (
            "IncidentService/Resolve",
            vec![write(r#"{"incident":"{id}","outcome":"x"}"#, i)],
        ),
        (
            "IncidentService/Close",
            vec![write(r#"{"incident":"{id}","callbackResult":"x"}"#, i)],
        ),
        (
            "IncidentService/Cancel",
            vec![write(r#"{"incident":"{id}","reason":"x"}"#, i)],
        ),
        (
            "IncidentService/Merge",
            vec![write(r#"{"incident":"{id}","into":"{id}"}"#, i)],
        ),
        (
            "IncidentService/Reopen",
            vec![write(r#"{"incident":"{id}","reason":"x"}"#, i)],
        ),
        (
            "IncidentService/Escalate",
            vec![write(r#"{"incident":"{id}","reason":"x"}"#, i)],
        ),
        (
            "IncidentService/RaiseSeverity",
            vec![write(r#"{"incident":"{id}","reason":"x"}"#, i)],
        ),
        (
            "IncidentService/CallIn",
            vec![write(r#"{"incident":"{id}","units":["health"]}"#, i)],
        ),
        (
            "JournalService/Watch",
            vec![
                read("{}", None),
                read(r#"{"filter":{"incidents":["{id}"]}}"#, i),
            ],
        ),
        (
            "JournalService/ListEvents",
            vec![
                read(r#"{"limit":1000}"#, None),
                read(r#"{"incident":"{id}"}"#, i),
            ],
        ),
        ("JournalService/VerifyJournal", vec![read("{}", None)]),
        ("JournalService/GetServerInfo", vec![read("{}", None)]),
        ("JournalService/Backup", vec![read("{}", None)]),
        ("EscalationService/GetPolicy", vec![read("{}", None)]),
        (
            "EscalationService/SetPolicy",
            vec![write(r#"{"toml":"nonsense = ["}"#, None)],
        ),
        (
            "EscalationService/Simulate",
            vec![read(r#"{"category":"fire","post":"qianjin"}"#, None)],
        ),
        (
            "EscalationService/ListAlarms",
            vec![
                read(r#"{"includeAcknowledged":true}"#, None),
                read(r#"{"includeAcknowledged":true,"incident":"{id}"}"#, i),
            ],
        ),
        (
            "EscalationService/AcknowledgeAlarm",
            vec![write(r#"{"id":"{id}","note":"x"}"#, Alarm)],
        ),
        (
            "TokenService/CreateToken",
            vec![write(r#"{"name":"x","role":"admin"}"#, None)],
        ),
        ("TokenService/ListTokens", vec![read("{}", None)]),
        (
            "NotifyService/AddGateway",
            vec![write(
                r#"{"id":"x","url":"http://127.0.0.1:9/","channels":["sms"]}"#,
                None,
            )],
        ),
        ("NotifyService/ListGateways", vec![read("{}", None)]),
        (
            "NotifyService/RemoveGateway",
            vec![write(r#"{"id":"nosuch"}"#, None)],
        ),
        (
            "NotifyService/ReportDelivery",
            vec![write(
                r#"{"key":"alarm-1-x-sms","state":"DELIVERY_STATE_READ"}"#,
                None,
            )],
        ),
        (
            "NotifyService/TestGateway",
            vec![read(r#"{"id":"nosuch","to":"13800000000"}"#, None)],
        ),
        (
            "TokenService/RevokeToken",
            vec![write(r#"{"id":"nosuch"}"#, None)],
        ),
        ("TokenService/WhoAmI", vec![read("{}", None)]),
        ("RosterService/GetRosterConfig", vec![read("{}", None)]),
        ("RosterService/SetPattern", vec![write("{}", None)]),
        ("RosterService/SetRollCallSchedule", vec![write("{}", None)]),
        ("RosterService/SetSlot", vec![write("{}", None)]),
        ("RosterService/Swap", vec![write("{}", None)]),
        ("RosterService/GetRoster", vec![read("{}", None)]),
        ("RosterService/OnDuty", vec![read("{}", None)]),
        ("RosterService/Gaps", vec![read("{}", None)]),
        ("RosterService/ImportRoster", vec![write("{}", None)]),
        ("HandoverService/OpenHandover", vec![write("{}", None)]),
        (
            "HandoverService/UpdateHandover",
            vec![write(r#"{"id":"{id}","notes":"x"}"#, Handover)],
        ),
        (
            "HandoverService/SignHandover",
            vec![write(r#"{"id":"{id}"}"#, Handover)],
        ),
        (
            "HandoverService/CountersignHandover",
            vec![write(r#"{"id":"{id}"}"#, Handover)],
        ),
        (
            "HandoverService/GetHandover",
            vec![read(r#"{"id":"{id}"}"#, Handover)],
        ),
        (
            "HandoverService/ListHandovers",
            vec![read("{}", None), read(r#"{"pendingOnly":true}"#, None)],
        ),
        ("RollCallService/SendRollCall", vec![write("{}", None)]),
        (
            "RollCallService/AnswerRollCall",
            vec![write(r#"{"id":"{id}"}"#, RollCall)],
        ),
        ("RollCallService/ListRollCalls", vec![read("{}", None)]),
        ("PresenceService/Heartbeat", vec![write("{}", None)]),
        ("PresenceService/ListPresence", vec![read("{}", None)]),
        (
            "PostService/CreatePost",
            vec![write(r#"{"post":{"id":"p9","name":"x"}}"#, None)],
        ),
        (
            "PostService/UpdatePost",
            vec![write(r#"{"id":"qianjin","name":"x"}"#, None)],
        ),
        (
            "PostService/GetPost",
            vec![read(r#"{"id":"qianjin"}"#, None)],
        ),
        ("PostService/ListPosts", vec![read("{}", None)]),
        (
            "PostService/RetirePost",
            vec![write(r#"{"id":"qianjin"}"#, None)],
        ),
        (
            "PostService/SetPostMode",
            vec![write(r#"{"id":"qianjin","reason":"x"}"#, None)],
        ),
        (
            "UnitService/CreateUnit",
            vec![write(r#"{"unit":{"id":"u9","name":"x"}}"#, None)],
        ),
        (
            "UnitService/UpdateUnit",
            vec![write(r#"{"id":"water","name":"x"}"#, None)],
        ),
        ("UnitService/GetUnit", vec![read(r#"{"id":"water"}"#, None)]),
        ("UnitService/ListUnits", vec![read("{}", None)]),
        (
            "UnitService/RetireUnit",
            vec![write(r#"{"id":"water"}"#, None)],
        ),
        (
            "PlaceService/CreatePlace",
            vec![write(r#"{"place":{"id":"x9","name":"x"}}"#, None)],
        ),
        (
            "PlaceService/UpdatePlace",
            vec![write(r#"{"id":"qianjin-sd","name":"x"}"#, None)],
        ),
        (
            "PlaceService/GetPlace",
            vec![read(r#"{"id":"qianjin-sd"}"#, None)],
        ),
        ("PlaceService/ListPlaces", vec![read("{}", None)]),
        (
            "PlaceService/RetirePlace",
            vec![write(r#"{"id":"qianjin-sd"}"#, None)],
        ),
        (
            "PersonService/CreatePerson",
            vec![write(r#"{"person":{"id":"x9","name":"x"}}"#, None)],
        ),
        (
            "PersonService/UpdatePerson",
            vec![write(r#"{"id":"liuyang","name":"x"}"#, None)],
        ),
        (
            "PersonService/GetPerson",
            vec![read(r#"{"id":"liuyang"}"#, None)],
        ),
        ("PersonService/ListPeople", vec![read("{}", None)]),
        (
            "PersonService/RetirePerson",
            vec![write(r#"{"id":"liuyang"}"#, None)],
        ),
        (
            "CategoryService/CreateCategory",
            vec![write(r#"{"category":{"code":"x9","nameZh":"x"}}"#, None)],
        ),
        (
            "CategoryService/UpdateCategory",
            vec![write(r#"{"code":"water_leak","nameZh":"x"}"#, None)],
        ),
        (
            "CategoryService/GetCategory",
            vec![read(r#"{"id":"fire"}"#, None)],
        ),
        ("CategoryService/ListCategories", vec![read("{}", None)]),
        (
            "CategoryService/RetireCategory",
            vec![write(r#"{"id":"water_leak"}"#, None)],
        ),
    ])
}

/// The ids one principal calls with.
#[derive(Default)]
struct Ids {
    own: BTreeMap<&'static str, String>,
    foreign: BTreeMap<&'static str, String>,
}

fn key(id: Id) -> &'static str {
    match id {
        Id::None => "",
        Id::Incident => "incident",
        Id::Alarm => "alarm",
        Id::Handover => "handover",
        Id::RollCall => "rollcall",
    }
}

fn missing(id: Id) -> &'static str {
    match id {
        Id::Incident => "20200101-0001",
        _ => "999999",
    }
}

struct Who {
    role: &'static str,
    token: String,
    /// Text that must never reach this principal.
    secrets: Vec<String>,
    ids: Ids,
}

async fn incident(
    daemon: &TestDaemon,
    summary: &str,
    place: &str,
    phone: &str,
    lead: &str,
    support: Option<&str>,
) -> String {
    let mut admin = daemon.admin().await.incidents();
    let mut request = call(summary, Some(lead));
    if let Some(intake) = request.intake.as_mut() {
        intake.place_id = place.into();
        intake.caller_phone = phone.into();
        intake.address = format!("{summary}-ADDRESS");
    }
    let number = admin
        .create_incident(request)
        .await
        .expect("create")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    if let Some(unit) = support {
        admin
            .assign(pb::AssignRequest {
                incident: number.clone(),
                assignee: Some(assignee(unit)),
                role: pb::AssignmentRole::Support as i32,
                ..Default::default()
            })
            .await
            .expect("support");
    }
    admin
        .escalate(pb::EscalateRequest {
            incident: number.clone(),
            reason: "drill".into(),
            ..Default::default()
        })
        .await
        .expect("escalate");
    number
}

/// The alarm addressed to `whom` on `number`.
async fn alarm_of(daemon: &TestDaemon, number: &str) -> String {
    let alarms = daemon
        .admin()
        .await
        .escalation()
        .list_alarms(pb::ListAlarmsRequest {
            incident: number.into(),
            include_acknowledged: true,
            ..Default::default()
        })
        .await
        .expect("alarms")
        .into_inner()
        .alarms;
    alarms.first().expect("an alarm").id.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rpc_shows_a_post_or_unit_anything_foreign() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "OFFICER-NAME").await;
    let leader = daemon.token("leader", "LEADER-NAME").await;
    let xinhua = daemon.token("post:xinhua", "XINHUA-NAME").await;
    let qianjin = daemon.token("post:qianjin", "QIANJIN-NAME").await;
    let fire = daemon.token("unit:fire", "FIRE-NAME").await;
    let water = daemon.token("unit:water", "WATER-NAME").await;

    // A: xinhua's, fire supports. B: on xinhua's territory but only the
    // water unit's (its alarm names xinhua as the post). C: qianjin's.
    // D: on qianjin's territory, only the fire unit's.
    let a = incident(
        &daemon,
        "SECRET-A",
        "xingfu",
        "13900000001",
        "post:xinhua",
        Some("unit:fire"),
    )
    .await;
    let b = incident(
        &daemon,
        "SECRET-B",
        "xingfu",
        "13900000002",
        "unit:water",
        None,
    )
    .await;
    let c = incident(
        &daemon,
        "SECRET-C",
        "qianjin-sd",
        "13900000003",
        "post:qianjin",
        None,
    )
    .await;
    let d = incident(
        &daemon,
        "SECRET-D",
        "qianjin-sd",
        "13900000004",
        "unit:fire",
        None,
    )
    .await;
    let alarm = |n: String| {
        let daemon = &daemon;
        async move { alarm_of(daemon, &n).await }
    };
    let (alarm_a, alarm_b, alarm_c, alarm_d) = (
        alarm(a.clone()).await,
        alarm(b.clone()).await,
        alarm(c.clone()).await,
        alarm(d.clone()).await,
    );
    let pattern = crate::support::duty(
        &daemon,
        &daemon.admin,
        &[
            "roster",
            "pattern",
            "2026-01-01",
            "--shift",
            "day=08:00/12h",
            "--shift",
            "night=20:00/12h",
        ],
    )
    .await;
    assert_eq!(pattern.code, 0, "{}", pattern.stderr);
    // Each post opens its own handover; roll-calls: one to both posts
    // (qianjin answers), one to each alone.
    let handover = |token: String| {
        let daemon = &daemon;
        async move {
            daemon
                .client(&token)
                .await
                .handovers()
                .open_handover(pb::OpenHandoverRequest {
                    notes: "HANDOVER-NOTES".into(),
                    ..Default::default()
                })
                .await
                .expect("open handover")
                .into_inner()
                .id
                .to_string()
        }
    };
    let handover_x = handover(xinhua.clone()).await;
    let handover_q = handover(qianjin.clone()).await;
    let rollcall = |posts: Vec<&str>| {
        let daemon = &daemon;
        let posts = posts.into_iter().map(str::to_owned).collect();
        async move {
            daemon
                .admin()
                .await
                .rollcalls()
                .send_roll_call(pb::SendRollCallRequest {
                    posts,
                    ..Default::default()
                })
                .await
                .expect("roll-call")
                .into_inner()
                .id
        }
    };
    let both = rollcall(vec!["xinhua", "qianjin"]).await;
    let only_q = rollcall(vec!["qianjin"]).await;
    let only_x = rollcall(vec!["xinhua"]).await;
    daemon
        .client(&qianjin)
        .await
        .rollcalls()
        .answer_roll_call(pb::AnswerRollCallRequest {
            id: both,
            ..Default::default()
        })
        .await
        .expect("qianjin answers");

    let secrets = |incidents: &[&str], names: &[&str]| -> Vec<String> {
        let mut all = Vec::new();
        for summary in incidents {
            let index = ["SECRET-A", "SECRET-B", "SECRET-C", "SECRET-D"]
                .iter()
                .position(|s| s == summary)
                .expect("known");
            all.push((*summary).to_owned());
            all.push(format!("1390000000{}", index + 1));
            all.push([&a, &b, &c, &d][index].clone());
        }
        all.extend(names.iter().map(|n| (*n).to_owned()));
        all
    };
    let ids = |pairs: &[(&'static str, &str, &str)]| {
        let mut ids = Ids::default();
        for (kind, own, foreign) in pairs {
            ids.own.insert(kind, (*own).to_owned());
            ids.foreign.insert(kind, (*foreign).to_owned());
        }
        ids
    };
    let centre = |role: &'static str, token: &str| Who {
        role,
        token: token.to_owned(),
        secrets: Vec::new(),
        ids: ids(&[
            ("incident", &a, &c),
            ("alarm", &alarm_a, &alarm_c),
            ("handover", &handover_x, &handover_q),
            ("rollcall", &both.to_string(), &only_q.to_string()),
        ]),
    };
    let people = vec![
        centre("admin", &daemon.admin),
        centre("officer", &officer),
        centre("leader", &leader),
        Who {
            role: "post:xinhua",
            token: xinhua.clone(),
            secrets: secrets(
                &["SECRET-B", "SECRET-C", "SECRET-D"],
                &["QIANJIN-NAME", "WATER-NAME"],
            ),
            ids: ids(&[
                ("incident", &a, &b),
                ("alarm", &alarm_a, &alarm_b),
                ("handover", &handover_x, &handover_q),
                ("rollcall", &both.to_string(), &only_q.to_string()),
            ]),
        },
        Who {
            role: "post:qianjin",
            token: qianjin.clone(),
            secrets: secrets(
                &["SECRET-A", "SECRET-B", "SECRET-D"],
                &["XINHUA-NAME", "FIRE-NAME", "WATER-NAME"],
            ),
            ids: ids(&[
                ("incident", &c, &a),
                ("alarm", &alarm_c, &alarm_d),
                ("handover", &handover_q, &handover_x),
                ("rollcall", &both.to_string(), &only_x.to_string()),
            ]),
        },
        Who {
            role: "unit:fire",
            token: fire.clone(),
            secrets: secrets(&["SECRET-B", "SECRET-C"], &["QIANJIN-NAME", "WATER-NAME"]),
            ids: ids(&[
                ("incident", &d, &c),
                ("alarm", &alarm_d, &alarm_c),
                ("handover", &handover_q, &handover_x),
                ("rollcall", &both.to_string(), &only_q.to_string()),
            ]),
        },
    ];
    drop(water);

    let pool = raw::pool();
    let methods = raw::methods(&pool);
    let expected = expectations();
    let names: Vec<String> = methods.iter().map(raw::short_name).collect();
    let unexpected: Vec<&String> = names
        .iter()
        .filter(|n| !expected.contains_key(n.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "RPCs without a visibility expectation (add them to expectations()): {unexpected:?}"
    );
    let stale: Vec<&&str> = expected
        .keys()
        .filter(|k| !names.iter().any(|n| n == *k))
        .collect();
    assert!(
        stale.is_empty(),
        "expectations for RPCs that no longer exist: {stale:?}"
    );

    let channel = raw::channel(&daemon.addr).await;
    let mut cells = 0usize;
    let mut skipped = 0usize;
    let mut leaks = Vec::new();
    for method in &methods {
        let name = raw::short_name(method);
        for case in &expected[name.as_str()] {
            for who in &people {
                let confined = who.role.contains(':');
                let kinds: &[&str] = if case.id == Id::None {
                    &["-"]
                } else {
                    &["own", "foreign", "missing"]
                };
                let mut answers: HashMap<&str, (String, Answer)> = HashMap::new();
                for kind in kinds {
                    let runs = match (case.writes, confined, *kind) {
                        // The fixture must not change under the matrix.
                        (true, false, "-" | "own" | "foreign") => false,
                        (true, true, "own") => false,
                        _ => true,
                    };
                    if !runs {
                        skipped += 1;
                        continue;
                    }
                    let id = match *kind {
                        "own" => who.ids.own[key(case.id)].clone(),
                        "foreign" => who.ids.foreign[key(case.id)].clone(),
                        "missing" => missing(case.id).to_owned(),
                        _ => String::new(),
                    };
                    let body = raw::encode(method, &case.template.replace("{id}", &id));
                    let answer = raw::call(&channel, Some(&who.token), method, body).await;
                    cells += 1;
                    // The caller's own input echoed back is not a leak.
                    let text = if id.is_empty() {
                        answer.text()
                    } else {
                        answer.text().replace(id.as_str(), "<id>")
                    };
                    if let Answer::Err(code, message) = &answer
                        && matches!(code, Code::Internal | Code::Unknown | Code::Unavailable)
                    {
                        leaks.push(format!(
                            "{name} as {} ({kind}): {code:?} {message}",
                            who.role
                        ));
                    }
                    for secret in &who.secrets {
                        if text.contains(secret.as_str()) {
                            leaks.push(format!(
                                "{name} {} as {} ({kind} id): shows {secret:?}",
                                case.template, who.role
                            ));
                        }
                    }
                    if name == "JournalService/GetServerInfo"
                        && confined
                        && text.contains("\"incidents\"")
                    {
                        leaks.push(format!("{name} as {}: store-wide count {text}", who.role));
                    }
                    answers.insert(kind, (id, answer));
                }
                // A foreign id answers exactly as a missing one.
                if confined
                    && let (Some((fid, foreign)), Some((mid, missing))) =
                        (answers.get("foreign"), answers.get("missing"))
                {
                    let same = match (foreign, missing) {
                        (Answer::Err(fc, fm), Answer::Err(mc, mm)) => {
                            fc == mc
                                && fm.replace(fid.as_str(), "<id>")
                                    == mm.replace(mid.as_str(), "<id>")
                        }
                        (Answer::Ok(_), Answer::Ok(_)) => true,
                        _ => false,
                    };
                    if !same {
                        leaks.push(format!(
                            "{name} as {}: foreign {foreign:?} but missing {missing:?}",
                            who.role
                        ));
                    }
                }
            }
        }
    }
    println!(
        "visibility matrix: {} RPCs, {} roles, {cells} calls made, {skipped} write cells not run \
         (own ids of posts and units, and every centre write but on missing ids)",
        methods.len(),
        people.len()
    );
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    daemon.stop().await;
}

/// A small deterministic generator (xorshift): the sequences are random but
/// repeatable from their seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const CONFINED: [&str; 4] = ["post:xinhua", "post:qianjin", "unit:fire", "unit:water"];

fn tag(assignee: Option<&pb::Assignee>) -> String {
    match assignee {
        Some(a) if a.kind == pb::AssigneeKind::Unit as i32 => format!("unit:{}", a.id),
        Some(a) => format!("post:{}", a.id),
        None => String::new(),
    }
}

/// Everything a confined principal received that it may not see, given
/// which incidents it was ever assigned to.
fn foreign_in(
    who: &str,
    events: &[pb::Event],
    assigned: &HashMap<String, Vec<String>>,
) -> Vec<String> {
    use pb::event::Body;
    let mut found = Vec::new();
    let post = who.strip_prefix("post:");
    for event in events {
        let mine = |number: &str| {
            assigned
                .get(number)
                .is_some_and(|tags| tags.iter().any(|t| t == who))
        };
        let bad = match event.subject_kind.as_str() {
            "incident" => !mine(&event.subject_id),
            "token" | "presence" => true,
            _ => false,
        };
        let leaked_body = match &event.body {
            Some(Body::IncidentCreated(c)) => c
                .incident
                .as_ref()
                .is_some_and(|i| !i.caller_phone.contains('*')),
            Some(Body::Alarm(alarm)) if event.subject_kind == "alarm" => {
                tag(alarm.assignee.as_ref()) != who
                    && (alarm.assignee.is_some() || Some(alarm.post_id.as_str()) != post)
            }
            Some(Body::RollCallChanged(call)) => call
                .posts
                .iter()
                .any(|answer| Some(answer.post.as_str()) != post),
            _ => false,
        };
        if bad || leaked_body {
            found.push(format!(
                "{who} got {} {} ({})",
                event.kind, event.subject_id, event.seq
            ));
        }
    }
    found
}

/// Random command sequences under random roles: every reply to a post or
/// unit is about something of its own, every error is a documented code,
/// and neither its live Watch stream, a replay nor ListEvents ever shows it
/// an incident it was never assigned to, another's alarm or roll-call
/// answer, or a caller's full phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_never_show_a_post_or_unit_anything_foreign() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let officer = daemon.token("officer", "值班员").await;
    let mut tokens = HashMap::new();
    for who in CONFINED {
        tokens.insert(who, daemon.token(who, who).await);
    }
    // Live streams from the start, collected in the background.
    let mut live = Vec::new();
    for who in CONFINED {
        let mut stream = daemon
            .client(&tokens[who])
            .await
            .journal()
            .watch(pb::WatchRequest::default())
            .await
            .expect("watch")
            .into_inner();
        live.push((
            who,
            tokio::spawn(async move {
                let mut events = Vec::new();
                while let Ok(Some(item)) = stream.message().await {
                    if let Some(pb::watch_response::Item::Event(event)) = item.item {
                        let last = event.summary_marker();
                        events.push(event);
                        if last {
                            break;
                        }
                    }
                }
                events
            }),
        ));
    }
    let roles: Vec<(&str, String)> = [("admin", daemon.admin.clone()), ("officer", officer)]
        .into_iter()
        .chain(CONFINED.iter().map(|w| (*w, tokens[*w].clone())))
        .collect();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut numbers: Vec<String> = Vec::new();
    let mut rollcalls: Vec<u64> = Vec::new();
    let mut problems = Vec::new();
    for step in 0..120 {
        let (role, token) = dice.pick(&roles).clone();
        let client = daemon.client(&token).await;
        let number = if numbers.is_empty() {
            "20200101-0001".to_owned()
        } else {
            dice.pick(&numbers).clone()
        };
        let picked: &&str = dice.pick(&CONFINED[..]);
        let target = assignee(picked);
        let reply: Result<Option<pb::Incident>, tonic::Status> = match dice.below(8) {
            0 | 1 => {
                let mut request = call(&format!("第{step}起"), Some(*dice.pick(&CONFINED[..])));
                if let Some(intake) = request.intake.as_mut() {
                    intake.place_id = (*dice.pick(&["xingfu", "qianjin-sd"])).to_owned();
                }
                client
                    .incidents()
                    .create_incident(request)
                    .await
                    .map(|r| r.into_inner().incident)
            }
            2 => client
                .incidents()
                .assign(pb::AssignRequest {
                    incident: number,
                    assignee: Some(target),
                    role: pb::AssignmentRole::Support as i32,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().incident),
            3 => client
                .incidents()
                .sign_for(pb::AssignmentActionRequest {
                    incident: number,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().incident),
            4 => client
                .incidents()
                .refuse(pb::RefuseRequest {
                    incident: number,
                    reason: "不归我管".into(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().incident),
            5 => client
                .incidents()
                .escalate(pb::EscalateRequest {
                    incident: number,
                    reason: "超时".into(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().incident),
            6 => client
                .escalation()
                .acknowledge_alarm(pb::AcknowledgeAlarmRequest {
                    id: 1 + dice.below(numbers.len() + 1) as u64,
                    ..Default::default()
                })
                .await
                .map(|_| None),
            _ => {
                if role == "admin" || rollcalls.is_empty() {
                    client
                        .rollcalls()
                        .send_roll_call(pb::SendRollCallRequest {
                            posts: vec![(*dice.pick(&["xinhua", "qianjin"])).to_owned()],
                            ..Default::default()
                        })
                        .await
                        .map(|r| {
                            rollcalls.push(r.into_inner().id);
                            None
                        })
                } else {
                    client
                        .rollcalls()
                        .answer_roll_call(pb::AnswerRollCallRequest {
                            id: *dice.pick(&rollcalls),
                            ..Default::default()
                        })
                        .await
                        .map(|_| None)
                }
            }
        };
        match reply {
            Ok(Some(incident)) => {
                if !numbers.contains(&incident.number) {
                    numbers.push(incident.number.clone());
                }
                if role.contains(':')
                    && !incident
                        .assignments
                        .iter()
                        .any(|a| tag(a.assignee.as_ref()) == role)
                {
                    problems.push(format!(
                        "step {step}: {role} was answered {}",
                        incident.number
                    ));
                }
            }
            Ok(None) => {}
            Err(status) if matches!(status.code(), Code::Internal | Code::Unknown) => {
                problems.push(format!("step {step}: {role}: {status:?}"));
            }
            Err(_) => {}
        }
    }
    // The last event: an incident every post and unit is on, so each live
    // stream knows it has seen everything.
    let mut admin = daemon.admin().await.incidents();
    let last = admin
        .create_incident(call(LAST_SUMMARY, Some("post:xinhua")))
        .await
        .expect("last")
        .into_inner()
        .incident
        .expect("incident")
        .number;
    for who in &CONFINED[1..] {
        admin
            .assign(pb::AssignRequest {
                incident: last.clone(),
                assignee: Some(assignee(who)),
                role: pb::AssignmentRole::Support as i32,
                ..Default::default()
            })
            .await
            .expect("assign");
    }
    admin
        .add_note(pb::AddNoteRequest {
            incident: last.clone(),
            text: LAST_SUMMARY.into(),
            ..Default::default()
        })
        .await
        .expect("the last note");
    numbers.push(last);
    let mut assigned = HashMap::new();
    for number in &numbers {
        let incident = admin
            .get_incident(pb::GetIncidentRequest {
                incident: number.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        let tags = incident
            .assignments
            .iter()
            .map(|a| tag(a.assignee.as_ref()))
            .collect::<Vec<_>>();
        assigned.insert(number.clone(), tags);
    }
    let mut received = 0;
    for (who, task) in live {
        let events = task.await.expect("stream task");
        received += events.len();
        problems.extend(foreign_in(who, &events, &assigned));
        let client = daemon.client(&tokens[who]).await;
        let listed = client
            .journal()
            .list_events(pb::ListEventsRequest {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .events;
        problems.extend(foreign_in(who, &listed, &assigned));
    }
    println!(
        "random sequences: 120 steps, {} incidents, {received} live events to posts and units",
        numbers.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    daemon.stop().await;
}

const LAST_SUMMARY: &str = "最后一起";

trait Marker {
    fn summary_marker(&self) -> bool;
}

impl Marker for pb::Event {
    /// The note that ends the sequence.
    fn summary_marker(&self) -> bool {
        matches!(&self.body, Some(pb::event::Body::NoteAdded(n))
            if n.note.as_ref().is_some_and(|n| n.text == LAST_SUMMARY))
    }
}
