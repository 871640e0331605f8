//! `duty bench search`: history search on a store of N past calls, and what
//! keeping the search index costs intake.
//!
//! **The fill.** An embedded dutyd takes N calls — each a different caller's
//! phone, a caller name, an address and a summary of four words drawn from
//! a vocabulary of 60 everyday ones (`电动车`, `楼道`, `漏水`, …) — and
//! cancels each (history, out of every open index). `--data` keeps the store
//! and a later run tops it up.
//!
//! **The searches**, each for the run's duration from every client, newest
//! first, a page of 50: a whole phone number of a stored call; the last four
//! digits of one (about N / 10,000 calls each); two words; one word with a
//! span of days. Latency percentiles per kind.
//!
//! **The cost.** Two more embedded daemons on fresh stores, one with the
//! index off ([`EngineOptions::search_index`]), take CreateIncident from
//! every client in alternating rounds; the ratio of the medians is the cost.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dutyroom_daemon::engine::EngineOptions;
use dutyroom_daemon::{Config, Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;

use crate::bench::ab;
use crate::bench::load::{self, Latency, LoadOptions};
use crate::client::Client;

/// The shape of a search run.
#[derive(Debug, Clone)]
pub struct SearchBenchOptions {
    /// Past calls in the store.
    pub incidents: u64,
    /// Keep (or reuse and top up) the store here.
    pub data: Option<PathBuf>,
    /// Clients and seconds per search kind.
    pub load: LoadOptions,
    /// Cost rounds with and without the index each (0: skip).
    pub cost_rounds: usize,
    /// Seconds per cost round.
    pub cost_seconds: u64,
    /// Show a progress bar while filling.
    pub progress: bool,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchBench {
    /// Calls in the store.
    pub incidents: u64,
    /// Calls this run added, and the seconds that took.
    pub filled: u64,
    /// Seconds.
    pub fill_seconds: f64,
    /// Seconds the index took, after the fill, to catch up with it.
    pub catch_up_seconds: f64,
    /// Clients searching at once.
    pub clients: usize,
    /// Latency by kind of search, with results per search (mean).
    pub searches: Vec<(String, Latency, f64)>,
    /// Intake with and without the index.
    pub cost: Option<IndexCost>,
}

/// What keeping the index costs intake.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexCost {
    /// Clients.
    pub clients: usize,
    /// Creates per second per round: A with the index, B without.
    pub compared: ab::Compared,
}

impl SearchBench {
    /// The report as lines of text.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "search: {} past calls ({} filled in {:.0} s; the index caught up {:.0} s later), {} clients",
            self.incidents, self.filled, self.fill_seconds, self.catch_up_seconds, self.clients
        )];
        for (kind, latency, results) in &self.searches {
            lines.push(format!(
                "  {kind:<22} {} ({results:.1} found)",
                latency.line()
            ));
        }
        if let Some(cost) = &self.cost {
            let c = &cost.compared;
            lines.push(format!(
                "index cost, {} clients creating: with {} /s, without {} /s; ratio {:.2} (pairs {:.2}–{:.2}; {:.0} %)",
                cost.clients,
                ab::rounds(&c.a),
                ab::rounds(&c.b),
                c.ratio,
                c.pair_ratios.0,
                c.pair_ratios.1,
                (1.0 - c.ratio) * 100.0
            ));
        }
        lines
    }
}

/// Everyday words of a call, two to four characters.
const WORDS: [&str; 60] = [
    "电动车",
    "充电",
    "起火",
    "楼道",
    "烟雾",
    "浓烟",
    "漏水",
    "水管",
    "爆裂",
    "积水",
    "噪声",
    "施工",
    "夜间",
    "扰民",
    "车祸",
    "追尾",
    "受伤",
    "老人",
    "晕倒",
    "急救",
    "燃气",
    "泄漏",
    "异味",
    "停电",
    "电梯",
    "被困",
    "打架",
    "纠纷",
    "邻里",
    "停车位",
    "井盖",
    "缺失",
    "路灯",
    "损坏",
    "外墙",
    "脱落",
    "树木",
    "倒伏",
    "垃圾",
    "堆放",
    "占道",
    "经营",
    "流浪狗",
    "伤人",
    "河道",
    "排污",
    "工地",
    "围挡",
    "广告牌",
    "松动",
    "窨井",
    "冒水",
    "高空",
    "抛物",
    "小孩",
    "走失",
    "商铺",
    "门口",
    "居民楼",
    "地下室",
];

const NAMES: [&str; 8] = [
    "张先生",
    "王女士",
    "刘师傅",
    "陈阿姨",
    "李明",
    "赵强",
    "孙丽",
    "周先生",
];

/// Search `n` of a kind, over `stored` calls, from a day.
type MakeSearch = fn(u64, u64, &str) -> pb::SearchIncidentsRequest;

/// A deterministic spread (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Call `n`'s phone: 139 and eight digits of its own.
fn phone(n: u64) -> String {
    format!("139{:08}", mix(n ^ 0xA5A5) % 100_000_000)
}

fn word(dice: u64) -> &'static str {
    WORDS[(dice % WORDS.len() as u64) as usize]
}

/// Call `n` as taken.
pub(crate) fn call(n: u64) -> pb::CreateIncidentRequest {
    let dice = mix(n);
    pb::CreateIncidentRequest {
        intake: Some(pb::IncidentIntake {
            source: pb::SourceChannel::Hotline12345 as i32,
            caller_name: NAMES[(dice % 8) as usize].into(),
            caller_phone: phone(n),
            address: format!("城关区新华路{}号{}", dice % 300 + 1, word(dice >> 9)),
            category: "fire".into(),
            severity: pb::Severity::Iii as i32,
            summary: format!(
                "群众反映{}{}，{}{}",
                word(dice >> 12),
                word(dice >> 20),
                word(dice >> 28),
                word(dice >> 36)
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs the fill, the searches and (unless `cost_rounds` is 0) the cost.
pub async fn run(options: &SearchBenchOptions) -> anyhow::Result<SearchBench> {
    let scratch = tempfile::tempdir()?;
    let data = options
        .data
        .clone()
        .unwrap_or_else(|| scratch.path().join("data"));
    let token_file = data.with_extension("search-token");
    let (handle, _) = start(&data, EngineOptions::default()).await?;
    let admin = match &handle.admin_token {
        Some(first) => {
            let token = crate::bench::unlimited_token(
                &Client::connect(&handle.addr.to_string(), Some(first)).await?,
            )
            .await?;
            std::fs::write(&token_file, &token)?;
            token
        }
        None => std::fs::read_to_string(&token_file)
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} holds a store this bench did not fill: use an empty directory",
                    data.display()
                )
            })?
            .trim()
            .to_owned(),
    };
    let measured = fill_and_search(options, &handle, &admin).await;
    let _ = handle.shutdown().await;
    let mut bench = measured?;
    if options.cost_rounds > 0 {
        bench.cost = Some(cost(options).await?);
    }
    Ok(bench)
}

async fn start(
    data: &std::path::Path,
    engine: EngineOptions,
) -> anyhow::Result<(DaemonHandle, ())> {
    let mut daemon = Daemon::new(Config {
        data: data.to_owned(),
        ..Config::default()
    });
    daemon.engine = engine;
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    Ok((daemon.start().await?, ()))
}

async fn fill_and_search(
    options: &SearchBenchOptions,
    handle: &DaemonHandle,
    admin: &str,
) -> anyhow::Result<SearchBench> {
    let addr = handle.addr.to_string();
    let client = Client::connect(&addr, Some(admin)).await?;
    crate::bench::ensure_category(&client).await?;
    let already = crate::bench::query::stored(&client).await?;
    let wanted = options.incidents.saturating_sub(already);
    let began = Instant::now();
    if wanted > 0 {
        let bar = if options.progress {
            indicatif::ProgressBar::new(wanted)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "filling {bar:40} {pos}/{len} calls, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let next = Arc::new(AtomicU64::new(already));
        let end = already + wanted;
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let mut incidents = Client::connect(&addr, Some(admin)).await?.incidents();
            let next = next.clone();
            let bar = bar.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        return anyhow::Ok(());
                    }
                    let number = incidents
                        .create_incident(call(n))
                        .await?
                        .into_inner()
                        .incident
                        .map(|i| i.number)
                        .unwrap_or_default();
                    incidents
                        .cancel(pb::CancelRequest {
                            incident: number,
                            reason: "已处理".into(),
                            ..Default::default()
                        })
                        .await?;
                    bar.inc(1);
                }
            }));
        }
        for task in tasks {
            task.await??;
        }
        bar.finish_and_clear();
    }
    let fill_seconds = began.elapsed().as_secs_f64();
    let stored = crate::bench::query::stored(&client).await?;
    // Searches are measured once the index has caught up with the fill
    // (they are whole before, checking the newest calls one by one).
    let caught_up = Instant::now();
    let mut behind = u64::MAX;
    for _ in 0..3_600 {
        behind = client
            .journal()
            .get_server_info(pb::GetServerInfoRequest {})
            .await?
            .into_inner()
            .search_unindexed;
        if behind == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::ensure!(
        behind == 0,
        "the search index is still {behind} calls behind after an hour"
    );
    let catch_up_seconds = caught_up.elapsed().as_secs_f64();
    let mut searches = Vec::new();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Shanghai")?)
        .date();
    let week_ago = today.checked_sub(jiff::Span::new().days(7))?.to_string();
    let kinds: [(&str, MakeSearch); 4] = [
        ("whole phone", |n, stored, _| pb::SearchIncidentsRequest {
            phone: phone(mix(n) % stored),
            ..Default::default()
        }),
        ("last 4 digits", |n, stored, _| pb::SearchIncidentsRequest {
            phone: phone(mix(n) % stored)[7..].to_owned(),
            ..Default::default()
        }),
        ("two words", |n, _, _| pb::SearchIncidentsRequest {
            text: format!("{} {}", word(mix(n)), word(mix(n) >> 16)),
            ..Default::default()
        }),
        ("a word, last 7 days", |n, _, from| {
            pb::SearchIncidentsRequest {
                text: word(mix(n)).to_owned(),
                from: from.to_owned(),
                ..Default::default()
            }
        }),
    ];
    for (kind, make) in kinds {
        let mut clients = Vec::new();
        for _ in 0..options.load.clients.max(1) {
            clients.push(Client::connect(&addr, Some(admin)).await?.incidents());
        }
        let found = Arc::new(AtomicU64::new(0));
        let counted = found.clone();
        let from = week_ago.clone();
        let outcome = load::run(clients, &options.load, move |mut incidents, _, n| {
            let mut request = make(n, stored.max(1), &from);
            request.page = Some(pb::Page {
                limit: 50,
                page_token: String::new(),
            });
            let counted = counted.clone();
            async move {
                let reply = incidents.search_incidents(request).await?.into_inner();
                counted.fetch_add(reply.incidents.len() as u64, Ordering::Relaxed);
                Ok(())
            }
        })
        .await?;
        if let Some((code, count)) = outcome.errors.iter().next() {
            anyhow::bail!("{count} {kind} searches failed with {code}");
        }
        let latency = Latency::of(&outcome.histogram);
        let per_search = found.load(Ordering::Relaxed) as f64 / latency.count.max(1) as f64;
        searches.push((kind.to_owned(), latency, per_search));
    }
    Ok(SearchBench {
        incidents: stored,
        filled: wanted,
        fill_seconds,
        catch_up_seconds,
        clients: options.load.clients.max(1),
        searches,
        cost: None,
    })
}

/// Creates per second on `handle` for `seconds`.
async fn intake_round(
    handle: &DaemonHandle,
    admin: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let addr = handle.addr.to_string();
    let mut lanes = Vec::new();
    for _ in 0..clients {
        lanes.push(Client::connect(&addr, Some(admin)).await?.incidents());
    }
    let options = LoadOptions {
        clients,
        duration: Duration::from_secs(seconds.max(1)),
        count: None,
        rate: None,
    };
    let outcome = load::run(lanes, &options, |mut incidents, _, n| async move {
        incidents.create_incident(call(n)).await.map(drop)
    })
    .await?;
    if let Some((code, count)) = outcome.errors.iter().next() {
        anyhow::bail!("{count} creates failed with {code} during the cost round");
    }
    Ok(outcome.histogram.len() as f64 / outcome.seconds)
}

async fn cost(options: &SearchBenchOptions) -> anyhow::Result<IndexCost> {
    let with_dir = tempfile::tempdir()?;
    let without_dir = tempfile::tempdir()?;
    let (with, ()) = start(&with_dir.path().join("data"), EngineOptions::default()).await?;
    let (without, ()) = start(
        &without_dir.path().join("data"),
        EngineOptions {
            search_index: false,
            ..EngineOptions::default()
        },
    )
    .await?;
    let clients = options.load.clients.max(1);
    let measured = async {
        let mut admins = Vec::new();
        for handle in [&with, &without] {
            let first = handle
                .admin_token
                .clone()
                .ok_or_else(|| anyhow::anyhow!("a fresh store has an admin token"))?;
            let client = Client::connect(&handle.addr.to_string(), Some(&first)).await?;
            crate::bench::ensure_category(&client).await?;
            admins.push(crate::bench::unlimited_token(&client).await?);
        }
        let seconds = options.cost_seconds;
        ab::alternate(options.cost_rounds, async |index| {
            if index {
                intake_round(&with, &admins[0], clients, seconds).await
            } else {
                intake_round(&without, &admins[1], clients, seconds).await
            }
        })
        .await
    }
    .await;
    let _ = with.shutdown().await;
    let _ = without.shutdown().await;
    Ok(IndexCost {
        clients,
        compared: measured?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_has_its_own_phone_and_everyday_words() {
        let phones: std::collections::HashSet<String> = (0..1_000).map(phone).collect();
        assert!(phones.len() > 990, "{}", phones.len());
        let summary = call(7).intake.expect("intake").summary;
        assert!(summary.starts_with("群众反映"), "{summary}");
    }
}
