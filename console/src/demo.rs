//! `duty demo`: the product in one command. An embedded dutyd on a temporary
//! store (or `--data DIR`), a demo district (城关区) with ten sub-district
//! posts, their communities and grids, linkage units in three tiers,
//! categories with routing, people and some history; a gentle call
//! simulator (new calls every few seconds; posts that sign for and arrive,
//! some late, so clocks and alarms show); and the console, logged in as the
//! duty officer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use dutyroom_daemon::{Config, Daemon};
use dutyroom_proto::v1 as pb;
use tokio_util::sync::CancellationToken;

use crate::cli::CliError;
use crate::client::Client;

/// `duty demo` options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the demo store in DIR (reused on the next run).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// No call simulator: a quiet duty room.
    #[arg(long)]
    pub no_sim: bool,
    /// Seconds between simulated calls, on average.
    #[arg(long, default_value_t = 6)]
    pub every: u64,
    /// Open the post console of this sub-district post (e.g. xinhua)
    /// instead of the centre's: the simulator is the centre and the other
    /// posts, and you are the post.
    #[arg(long, value_name = "POST")]
    pub post: Option<String>,
}

/// Sub-districts: (post id, sub-district, communities).
pub const POSTS: [(&str, &str, [&str; 2]); 10] = [
    ("xinhua", "新华街道", ["幸福社区", "光明社区"]),
    ("qianjin", "前进街道", ["前进社区", "团结社区"]),
    ("shengli", "胜利街道", ["胜利社区", "朝阳社区"]),
    ("dongfeng", "东风街道", ["东风社区", "育才社区"]),
    ("jiefang", "解放街道", ["解放社区", "长青社区"]),
    ("heping", "和平街道", ["和平社区", "安居社区"]),
    ("hongqi", "红旗街道", ["红旗社区", "振兴社区"]),
    ("jianshe", "建设街道", ["建设社区", "新村社区"]),
    ("xiangyang", "向阳镇", ["向阳村", "河东村"]),
    ("hetang", "河塘乡", ["河塘村", "柳树村"]),
];

/// Linkage units: (id, name, tier, categories handled).
pub const UNITS: [(&str, &str, u32, &[&str]); 14] = [
    ("police", "城关公安分局", 1, &["security", "traffic"]),
    ("fire", "区消防救援大队", 1, &["fire", "gas_leak", "rescue"]),
    ("ems", "区120急救中心", 1, &["medical", "fire", "traffic"]),
    ("traffic", "交警大队", 1, &["traffic"]),
    ("water", "区供水公司", 2, &["water_leak"]),
    ("power", "供电公司城关分公司", 2, &["power"]),
    ("gas", "城关燃气公司", 2, &["gas_leak"]),
    (
        "cityman",
        "区城市管理局",
        2,
        &["noise", "flooding", "street"],
    ),
    ("health", "区卫生健康局", 2, &["medical"]),
    ("eco", "生态环境分局", 2, &["pollution"]),
    ("housing", "区住房和城乡建设局", 3, &["building"]),
    ("waterworks", "区水务局", 3, &["flooding"]),
    ("telecom", "通信运营商城关公司", 3, &["street"]),
    ("property", "物业服务中心", 3, &["building", "noise"]),
];

/// Categories: (code, 中文, English, default units).
pub const CATEGORIES: [(&str, &str, &str, &[&str]); 14] = [
    ("fire", "火灾", "Fire", &["fire", "ems"]),
    (
        "traffic",
        "交通事故",
        "Traffic accident",
        &["traffic", "ems"],
    ),
    ("medical", "急病救助", "Medical emergency", &["ems"]),
    ("security", "治安警情", "Public security", &["police"]),
    ("water_leak", "供水漏损", "Water leak", &["water"]),
    ("power", "停电故障", "Power outage", &["power"]),
    ("gas_leak", "燃气泄漏", "Gas leak", &["gas", "fire"]),
    ("noise", "噪声扰民", "Noise", &["cityman"]),
    (
        "flooding",
        "积水内涝",
        "Flooding",
        &["waterworks", "cityman"],
    ),
    ("pollution", "环境污染", "Pollution", &["eco"]),
    ("building", "房屋安全", "Building hazard", &["housing"]),
    ("street", "市容设施", "Street facilities", &["cityman"]),
    ("rescue", "抢险救援", "Rescue", &["fire"]),
    ("dispute", "矛盾纠纷", "Dispute", &[]),
];

/// Calls the simulator takes: (category, severity 1–4, summary).
const CALLS: [(&str, u8, &str); 16] = [
    ("fire", 2, "居民楼楼道内电动车充电起火，有浓烟"),
    ("fire", 1, "沿街商铺起火，火势较大，有人员被困"),
    ("traffic", 3, "路口两车相撞，一人受伤，道路拥堵"),
    ("traffic", 2, "货车侧翻，占用两条车道"),
    ("medical", 2, "老人在家中晕倒，家属请求急救"),
    ("security", 3, "小区门口有人打架斗殴"),
    ("water_leak", 3, "路面水管爆裂，大量积水"),
    ("power", 3, "整栋楼停电，电梯内有人"),
    ("gas_leak", 2, "厨房闻到燃气味，已开窗"),
    ("noise", 4, "工地夜间施工噪声扰民"),
    ("flooding", 3, "暴雨后地下通道积水严重"),
    ("pollution", 4, "河道有异味，疑似排污"),
    ("building", 3, "老旧楼房外墙瓷砖脱落"),
    ("street", 4, "路灯损坏，人行道井盖缺失"),
    ("rescue", 2, "有人被困电梯，情绪紧张"),
    ("dispute", 4, "邻里因停车位发生纠纷"),
];

const OUTCOMES: [&str; 5] = [
    "已到场处置完毕，现场恢复正常",
    "险情已排除，无人员伤亡",
    "已协调相关单位修复，后续跟踪",
    "双方已调解，群众表示满意",
    "已移交专业部门继续处理",
];

const PEOPLE: [(&str, &str, &str, &[&str]); 6] = [
    ("wangwei", "王伟", "13800000001", &["duty_officer"]),
    ("lina", "李娜", "13800000002", &["duty_officer"]),
    ("zhangqiang", "张强", "13800000003", &["duty_leader"]),
    ("liuyang", "刘洋", "13800000004", &["duty_leader"]),
    ("chenjing", "陈静", "13800000005", &["leader"]),
    ("zhaolei", "赵磊", "13800000006", &["leader"]),
];

/// Post duty staff (值守), day and night.
const CONTACTS: [(&str, &str); 20] = [
    ("qianjin1", "钱进"),
    ("fengjun", "冯军"),
    ("chenfang", "陈芳"),
    ("chulei", "褚磊"),
    ("weidong", "卫东"),
    ("jiangli", "蒋丽"),
    ("shenjie", "沈洁"),
    ("hanmei", "韩梅"),
    ("yangfan", "杨帆"),
    ("zhulin", "朱琳"),
    ("qinhai", "秦海"),
    ("youyu", "尤宇"),
    ("xuning", "许宁"),
    ("heyan", "何燕"),
    ("lvbo", "吕波"),
    ("shiqing", "施青"),
    ("zhangmin", "章敏"),
    ("kongliang", "孔亮"),
    ("caoxue", "曹雪"),
    ("yanpeng", "严鹏"),
];

const LEADERS: [&str; 10] = [
    "周明", "吴刚", "郑华", "孙丽", "马超", "朱红", "胡军", "郭芳", "何平", "高峰",
];

/// A small, deterministic pseudo-random source (no dependency needed).
pub struct Dice(u64);

impl Dice {
    /// Seeded from the clock.
    pub fn new() -> Dice {
        Dice(jiff::Timestamp::now().as_nanosecond() as u64 | 1)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

impl Default for Dice {
    fn default() -> Self {
        Dice::new()
    }
}

/// Tokens of a demo store.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoTokens {
    /// Admin.
    pub admin: String,
    /// The duty officer at the console: whoever the roster has on duty.
    pub officer: String,
    /// The simulated colleague who takes calls: the other officer.
    pub colleague: String,
    /// Each post's token.
    pub posts: HashMap<String, String>,
    /// Each unit's token.
    pub units: HashMap<String, String>,
}

async fn token(client: &Client, name: &str, role: &str) -> Result<String, CliError> {
    Ok(client
        .tokens()
        .create_token(pb::CreateTokenRequest {
            request_id: String::new(),
            name: name.into(),
            role: role.into(),
            expires_at: None,
            ..Default::default()
        })
        .await?
        .into_inner()
        .secret)
}

/// Loads the demo city into a fresh store; returns the tokens.
pub async fn seed(client: &Client, admin: &str) -> Result<DemoTokens, CliError> {
    for (id, name, phone, roles) in PEOPLE {
        client
            .people()
            .create_person(pb::CreatePersonRequest {
                request_id: String::new(),
                person: Some(pb::Person {
                    id: id.into(),
                    name: name.into(),
                    phone: phone.into(),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    ..Default::default()
                }),
            })
            .await?;
    }
    for (index, leader) in LEADERS.iter().enumerate() {
        client
            .people()
            .create_person(pb::CreatePersonRequest {
                request_id: String::new(),
                person: Some(pb::Person {
                    id: format!("leader{}", index + 1),
                    name: (*leader).into(),
                    phone: format!("139000000{:02}", index + 1),
                    roles: vec!["leader".into()],
                    ..Default::default()
                }),
            })
            .await?;
    }
    for (code, zh, en, _) in CATEGORIES {
        client
            .categories()
            .create_category(pb::CreateCategoryRequest {
                request_id: String::new(),
                category: Some(pb::Category {
                    code: code.into(),
                    name_zh: zh.into(),
                    name_en: en.into(),
                    ..Default::default()
                }),
            })
            .await?;
    }
    for (id, name, tier, categories) in UNITS {
        client
            .units()
            .create_unit(pb::CreateUnitRequest {
                request_id: String::new(),
                unit: Some(pb::Unit {
                    id: id.into(),
                    name: name.into(),
                    tier,
                    categories: categories.iter().map(|c| (*c).to_owned()).collect(),
                    contact: format!("0571-8{:07}", tier * 1_000_000 + id.len() as u32),
                    ..Default::default()
                }),
            })
            .await?;
    }
    for (code, _, _, units) in CATEGORIES {
        if units.is_empty() {
            continue;
        }
        client
            .categories()
            .update_category(pb::UpdateCategoryRequest {
                request_id: String::new(),
                code: code.into(),
                default_unit_ids: Some(pb::StringList {
                    values: units.iter().map(|u| (*u).to_owned()).collect(),
                }),
                ..Default::default()
            })
            .await?;
    }
    client
        .places()
        .create_place(pb::CreatePlaceRequest {
            request_id: String::new(),
            place: Some(pb::Place {
                id: "chengguan".into(),
                name: "城关区".into(),
                kind: pb::PlaceKind::District as i32,
                ..Default::default()
            }),
        })
        .await?;
    for (index, (id, name, communities)) in POSTS.iter().enumerate() {
        client
            .posts()
            .create_post(pb::CreatePostRequest {
                request_id: String::new(),
                post: Some(pb::Post {
                    id: (*id).into(),
                    name: format!("{name}指挥部"),
                    district: "城关区".into(),
                    responsible_leader_id: format!("leader{}", index + 1),
                    contact: format!("0571-8700{:04}", index + 1),
                    ..Default::default()
                }),
            })
            .await?;
        let subdistrict = format!("{id}-sd");
        client
            .places()
            .create_place(pb::CreatePlaceRequest {
                request_id: String::new(),
                place: Some(pb::Place {
                    id: subdistrict.clone(),
                    name: (*name).into(),
                    kind: pb::PlaceKind::Subdistrict as i32,
                    parent_id: "chengguan".into(),
                    post_id: (*id).into(),
                    ..Default::default()
                }),
            })
            .await?;
        for (n, community) in communities.iter().enumerate() {
            let community_id = format!("{id}-c{}", n + 1);
            client
                .places()
                .create_place(pb::CreatePlaceRequest {
                    request_id: String::new(),
                    place: Some(pb::Place {
                        id: community_id.clone(),
                        name: (*community).into(),
                        kind: pb::PlaceKind::Community as i32,
                        parent_id: subdistrict.clone(),
                        ..Default::default()
                    }),
                })
                .await?;
            client
                .places()
                .create_place(pb::CreatePlaceRequest {
                    request_id: String::new(),
                    place: Some(pb::Place {
                        id: format!("{community_id}-g1"),
                        name: format!("{community}第一网格"),
                        kind: pb::PlaceKind::Grid as i32,
                        parent_id: community_id,
                        ..Default::default()
                    }),
                })
                .await?;
        }
    }
    for (index, (id, name)) in CONTACTS.iter().enumerate() {
        client
            .people()
            .create_person(pb::CreatePersonRequest {
                request_id: String::new(),
                person: Some(pb::Person {
                    id: (*id).into(),
                    name: (*name).into(),
                    phone: format!("137000000{:02}", index + 1),
                    roles: vec!["post_contact".into()],
                    ..Default::default()
                }),
            })
            .await?;
    }
    roster(client).await?;
    // The console logs in as whoever the roster has on duty now, so the
    // handover it opens is theirs; the other officer simulates a colleague.
    let on_duty = client
        .rosters()
        .on_duty(pb::OnDutyRequest::default())
        .await?
        .into_inner();
    let night = on_duty.now.iter().any(|duty| {
        duty.scope == "centre"
            && duty.role == "duty_officer"
            && duty.people.iter().any(|p| p.person_id == "lina")
    });
    let (at_console, colleague) = if night {
        ("李娜", "王伟")
    } else {
        ("王伟", "李娜")
    };
    let mut tokens = DemoTokens {
        admin: admin.to_owned(),
        officer: token(client, at_console, "officer").await?,
        colleague: token(client, colleague, "officer").await?,
        posts: HashMap::new(),
        units: HashMap::new(),
    };
    for (id, name, _) in POSTS {
        tokens.posts.insert(
            id.to_owned(),
            token(client, &format!("{name}值守"), &format!("post:{id}")).await?,
        );
    }
    for (id, name, _, _) in UNITS {
        tokens.units.insert(
            id.to_owned(),
            token(client, &format!("{name}联络员"), &format!("unit:{id}")).await?,
        );
    }
    Ok(tokens)
}

/// A day/night roster for two weeks from yesterday: 王伟 and 李娜 at the
/// centre, 张强 and 刘洋 leading, and each post's duty staff.
pub async fn roster(client: &Client) -> Result<(), CliError> {
    let info = client
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner();
    let zone = info
        .time
        .as_ref()
        .and_then(|t| jiff::tz::TimeZone::get(&t.time_zone).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    // The daemon's today, not this machine's: they differ on a virtual clock
    // (`duty bench report` lives through 2025).
    let now = info
        .time
        .as_ref()
        .and_then(|t| t.now)
        .and_then(|t| jiff::Timestamp::new(t.seconds, 0).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    let today = now.to_zoned_datetime(zone).date();
    let first = today.yesterday().unwrap_or(today);
    client
        .rosters()
        .set_pattern(pb::SetPatternRequest {
            request_id: String::new(),
            pattern: Some(pb::Pattern {
                from: first.to_string(),
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
        .await?;
    let mut rows = Vec::new();
    let mut line = 1;
    let mut row = |date: &str, shift: &str, role: &str, post: &str, person: &str| {
        line += 1;
        rows.push(pb::RosterRow {
            line,
            date: date.into(),
            shift: shift.into(),
            role: role.into(),
            post: post.into(),
            person: person.into(),
        });
    };
    let mut date = first;
    for _ in 0..14 {
        let day = date.to_string();
        row(&day, "白班", "duty_officer", "", "wangwei");
        row(&day, "白班", "duty_leader", "", "zhangqiang");
        row(&day, "夜班", "duty_officer", "", "lina");
        row(&day, "夜班", "duty_leader", "", "liuyang");
        for (index, (post, _, _)) in POSTS.iter().enumerate() {
            row(&day, "白班", "duty_contact", post, CONTACTS[index].0);
            row(&day, "夜班", "duty_contact", post, CONTACTS[index + 10].0);
        }
        date = date.tomorrow().unwrap_or(date);
    }
    let reply = client
        .rosters()
        .import_roster(pb::ImportRosterRequest {
            request_id: String::new(),
            rows,
            dry_run: false,
            apply_good_rows: false,
        })
        .await?
        .into_inner();
    if let Some(problem) = reply.problems.first() {
        return Err(CliError::Other(format!(
            "demo roster line {}: {}",
            problem.line, problem.reason
        )));
    }
    Ok(())
}

/// Some history: a few calls already handled and closed.
pub async fn history(addr: &str, tokens: &DemoTokens, dice: &mut Dice) -> Result<(), CliError> {
    let colleague = Client::connect(addr, Some(&tokens.colleague)).await?;
    for n in 0..6 {
        let number = call(&colleague, dice).await?;
        let mut incidents = colleague.incidents();
        let request = |_: ()| pb::AssignmentActionRequest {
            incident: number.clone(),
            assignment_id: 1,
            ..Default::default()
        };
        let _ = incidents.sign_for(request(())).await;
        let _ = incidents.arrive(request(())).await;
        incidents
            .resolve(pb::ResolveRequest {
                done_at: None,
                request_id: String::new(),
                incident: number.clone(),
                outcome: OUTCOMES[n % OUTCOMES.len()].into(),
            })
            .await?;
        if n % 3 != 0 {
            incidents
                .close(pb::CloseRequest {
                    request_id: String::new(),
                    incident: number,
                    callback_result: "回访群众，表示满意".into(),
                    satisfaction: 4 + (n % 2) as u32,
                })
                .await?;
        }
    }
    Ok(())
}

/// Takes one simulated call, dispatched to the place's post and the
/// category's units. Returns its number.
pub async fn call(client: &Client, dice: &mut Dice) -> Result<String, CliError> {
    let (category, severity, summary) = CALLS[dice.below(CALLS.len() as u64) as usize];
    let (post, _, communities) = POSTS[dice.below(POSTS.len() as u64) as usize];
    let community = dice.below(2) as usize;
    let place = format!("{post}-c{}", community + 1);
    let units = CATEGORIES
        .iter()
        .find(|c| c.0 == category)
        .map(|c| c.3)
        .unwrap_or(&[]);
    let mut dispatch = vec![pb::AssignRequest {
        assignee: Some(pb::Assignee {
            kind: pb::AssigneeKind::Post as i32,
            id: post.into(),
            name: String::new(),
        }),
        role: pb::AssignmentRole::Lead as i32,
        ..Default::default()
    }];
    for unit in units {
        dispatch.push(pb::AssignRequest {
            assignee: Some(pb::Assignee {
                kind: pb::AssigneeKind::Unit as i32,
                id: (*unit).into(),
                name: String::new(),
            }),
            role: pb::AssignmentRole::Support as i32,
            ..Default::default()
        });
    }
    let phone = format!("13{:09}", dice.below(1_000_000_000));
    let reply = client
        .incidents()
        .create_incident(pb::CreateIncidentRequest {
            request_id: String::new(),
            intake: Some(pb::IncidentIntake {
                source: [
                    pb::SourceChannel::Police110,
                    pb::SourceChannel::Fire119,
                    pb::SourceChannel::Hotline12345,
                    pb::SourceChannel::GridWorker,
                ][dice.below(4) as usize] as i32,
                caller_name: ["张先生", "王女士", "刘师傅", "陈阿姨", "匿名"]
                    [dice.below(5) as usize]
                    .into(),
                caller_phone: phone,
                address: format!("{}{}号", communities[community], 1 + dice.below(120)),
                place_id: place,
                category: category.into(),
                severity: i32::from(severity),
                summary: summary.into(),
                tags: Vec::new(),
                drill: false,
            }),
            dispatch,
        })
        .await?;
    Ok(reply
        .into_inner()
        .incident
        .map(|i| i.number)
        .unwrap_or_default())
}

/// When the simulated responders will act on one assignment.
struct Plan {
    sign: jiff::Timestamp,
    arrive: jiff::Timestamp,
    resolve: Option<jiff::Timestamp>,
}

/// The simulator: new calls every few seconds; posts and units that sign
/// for, arrive and resolve — a fifth of them late, so clocks run out and
/// alarms climb the ladder; resolved calls closed after a while.
pub async fn simulate(
    addr: String,
    tokens: DemoTokens,
    every: u64,
    stop: CancellationToken,
    leave_alone: Option<String>,
) {
    let mut dice = Dice::new();
    let Ok(colleague) = Client::connect(&addr, Some(&tokens.colleague)).await else {
        return;
    };
    let mut actors: HashMap<String, Client> = HashMap::new();
    for (id, token) in tokens
        .posts
        .iter()
        .map(|(k, v)| (format!("post:{k}"), v))
        .chain(tokens.units.iter().map(|(k, v)| (format!("unit:{k}"), v)))
    {
        // The post a person plays acts only by their hand.
        if leave_alone
            .as_ref()
            .is_some_and(|me| format!("post:{me}") == id)
        {
            continue;
        }
        if let Ok(client) = Client::connect(&addr, Some(token)).await {
            actors.insert(id, client);
        }
    }
    // Each simulated post keeps a stream open, as its console would, so the
    // centre sees it online; the rural 河塘乡 has a poor link and drops off
    // for a minute every few minutes.
    for (who, client) in &actors {
        if let Some(post) = who.strip_prefix("post:") {
            tokio::spawn(hold_link(client.clone(), post == "hetang", stop.clone()));
        }
    }
    let mut plans: HashMap<(String, u32), Plan> = HashMap::new();
    let mut next_call = jiff::Timestamp::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let now = jiff::Timestamp::now();
        if now >= next_call {
            let _ = call(&colleague, &mut dice).await;
            let gap = every.max(1) * 1000 / 2 + dice.below(every.max(1) * 1000);
            next_call = now + jiff::SignedDuration::from_millis(gap as i64);
        }
        let Ok(open) = colleague
            .incidents()
            .list_incidents(pb::ListIncidentsRequest {
                statuses: vec![
                    pb::IncidentStatus::Dispatched as i32,
                    pb::IncidentStatus::Signed as i32,
                    pb::IncidentStatus::OnScene as i32,
                    pb::IncidentStatus::Resolved as i32,
                ],
                page: Some(pb::Page {
                    limit: 1000,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await
        else {
            continue;
        };
        for incident in open.into_inner().incidents {
            if incident.status == pb::IncidentStatus::Resolved as i32 {
                let resolved = crate::tui::urgency::ts(incident.resolved_at.as_ref());
                if now.duration_since(resolved) > jiff::SignedDuration::from_mins(3) {
                    let _ = colleague
                        .incidents()
                        .close(pb::CloseRequest {
                            request_id: String::new(),
                            incident: incident.number.clone(),
                            callback_result: "回访群众，表示满意".into(),
                            satisfaction: 3 + dice.below(3) as u32,
                        })
                        .await;
                }
                continue;
            }
            for assignment in &incident.assignments {
                let who = crate::cli::output::assignee(assignment.assignee.as_ref());
                let Some(actor) = actors.get(&who) else {
                    continue;
                };
                let key = (incident.number.clone(), assignment.id);
                let dispatched = crate::tui::urgency::ts(assignment.dispatched_at.as_ref());
                let plan = plans.entry(key).or_insert_with(|| {
                    let late = dice.chance(20);
                    let sign = if late {
                        70 + dice.below(120)
                    } else {
                        5 + dice.below(40)
                    };
                    let travel = if late {
                        200 + dice.below(200)
                    } else {
                        30 + dice.below(150)
                    };
                    let lead = assignment.role == pb::AssignmentRole::Lead as i32;
                    Plan {
                        sign: dispatched + jiff::SignedDuration::from_secs(sign as i64),
                        arrive: dispatched
                            + jiff::SignedDuration::from_secs((sign + travel) as i64),
                        resolve: lead.then(|| {
                            dispatched
                                + jiff::SignedDuration::from_secs(
                                    (sign + travel + 60 + dice.below(180)) as i64,
                                )
                        }),
                    }
                });
                let step = pb::AssignmentActionRequest {
                    incident: incident.number.clone(),
                    ..Default::default()
                };
                let state = pb::AssignmentState::try_from(assignment.state);
                match state {
                    Ok(pb::AssignmentState::Dispatched) if now >= plan.sign => {
                        let _ = actor.incidents().sign_for(step).await;
                    }
                    Ok(pb::AssignmentState::SignedFor) if now >= plan.arrive => {
                        let _ = actor.incidents().arrive(step).await;
                    }
                    Ok(pb::AssignmentState::OnScene) => {
                        if let Some(at) = plan.resolve
                            && now >= at
                        {
                            let _ = actor
                                .incidents()
                                .resolve(pb::ResolveRequest {
                                    done_at: None,
                                    request_id: String::new(),
                                    incident: incident.number.clone(),
                                    outcome: OUTCOMES[dice.below(OUTCOMES.len() as u64) as usize]
                                        .into(),
                                })
                                .await;
                        } else if plan.resolve.is_none()
                            && now >= plan.arrive + jiff::SignedDuration::from_secs(90)
                        {
                            let _ = actor.incidents().finish(step).await;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A simulated post's link: a Watch stream and heartbeats; a flaky one drops
/// for a minute every four to six minutes.
async fn hold_link(client: Client, flaky: bool, stop: CancellationToken) {
    let mut dice = Dice::new();
    loop {
        let stream = client
            .journal()
            .watch(pb::WatchRequest {
                live_only: true,
                ..Default::default()
            })
            .await;
        let up = if flaky {
            Duration::from_secs(240 + dice.below(120))
        } else {
            Duration::from_secs(365 * 24 * 3600)
        };
        let beats = tokio::spawn(crate::tui::net::heartbeats(client.clone()));
        tokio::select! {
            () = stop.cancelled() => {
                beats.abort();
                return;
            }
            () = async {
                if let Ok(stream) = stream {
                    let mut stream = stream.into_inner();
                    let _ = tokio::time::timeout(up, async {
                        while let Ok(Some(_)) = stream.message().await {}
                    })
                    .await;
                }
            } => {}
        }
        beats.abort();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// The demo city's SMS and voice gateway: a receiver in this process that
/// checks each message's signature and takes it (a real centre points dutyd
/// at its operator's adapter). Added afresh each run, as its port changes.
async fn demo_gateway(addr: &str, admin: &str) -> Result<tokio::task::JoinHandle<()>, CliError> {
    use dutyroom_daemon::notify::receiver::{self, Checks};
    let secret = dutyroom_daemon::notify::gateway::new_secret()
        .map_err(|e| CliError::Other(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/demo-gateway", listener.local_addr()?);
    let checks = Checks {
        secret: secret.as_bytes().to_vec(),
        tolerance: 300,
    };
    let serving = tokio::spawn(async move {
        let _ = receiver::serve(listener, checks, |_| async { 200 }).await;
    });
    Client::connect(addr, Some(admin))
        .await?
        .notify()
        .add_gateway(pb::AddGatewayRequest {
            id: "demo-gateway".into(),
            url,
            channels: vec!["sms".into(), "voice".into()],
            secret,
            replace: true,
            ..Default::default()
        })
        .await?;
    Ok(serving)
}

/// Runs the demo: daemon, data, simulator, console.
pub async fn run(args: DemoArgs, lang: crate::tui::i18n::Lang) -> Result<(), CliError> {
    let temp = tempfile::tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().join("data"));
    let mut daemon = Daemon::new(Config {
        data: data.clone(),
        heartbeat_secs: 5,
        ..Config::default()
    });
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    let handle = daemon
        .start()
        .await
        .map_err(|e| CliError::Other(format!("starting the demo daemon: {e}")))?;
    let addr = handle.addr.to_string();
    let tokens_file = data.join("demo-tokens.json");
    let tokens = match &handle.admin_token {
        Some(admin) => {
            eprintln!("dutyroom demo: loading the demo city…");
            let client = Client::connect(&addr, Some(admin)).await?;
            let tokens = seed(&client, admin).await?;
            let mut dice = Dice::new();
            history(&addr, &tokens, &mut dice).await?;
            let text =
                serde_json::to_string(&tokens).map_err(|e| CliError::Other(e.to_string()))?;
            std::fs::write(&tokens_file, text)?;
            tokens
        }
        None => {
            let text = std::fs::read_to_string(&tokens_file).map_err(|_| {
                CliError::Usage(format!(
                    "{} holds a store that is not a demo store (no demo-tokens.json): \
                     use an empty directory",
                    data.display()
                ))
            })?;
            serde_json::from_str(&text).map_err(|e| CliError::Other(e.to_string()))?
        }
    };
    let _gateway = demo_gateway(&addr, &tokens.admin).await?;
    let post_token = match &args.post {
        Some(post) => Some(tokens.posts.get(post).cloned().ok_or_else(|| {
            CliError::Usage(format!(
                "--post {post}: the demo's posts are {}",
                POSTS.map(|(id, _, _)| id).join(", ")
            ))
        })?),
        None => None,
    };
    let stop = CancellationToken::new();
    let simulator = (!args.no_sim).then(|| {
        tokio::spawn(simulate(
            addr.clone(),
            tokens.clone(),
            args.every,
            stop.clone(),
            args.post.clone(),
        ))
    });
    let result = crate::tui::run(crate::tui::Options {
        addr,
        // The demo mints new tokens each run: keep its draft by role, so a
        // call typed before a crash comes back in the next demo too.
        draft: Some(
            data.join("drafts")
                .join(if post_token.is_some() {
                    "demo-post"
                } else {
                    "demo-officer"
                })
                .join("intake.json"),
        ),
        outbox: post_token
            .as_ref()
            .map(|token| crate::outbox::dir_for(&data, token)),
        post: post_token.is_some(),
        token: Some(post_token.unwrap_or_else(|| tokens.officer.clone())),
        lang,
        keys: std::collections::BTreeMap::new(),
        bell: true,
        bell_repeat_secs: 30,
    })
    .await;
    stop.cancel();
    if let Some(simulator) = simulator {
        let _ = simulator.await;
    }
    let _ = handle.shutdown().await;
    drop(temp);
    result
}
