//! The test fixture: an in-process daemon on a temporary store, tokens for
//! each role, a seeded directory, and an in-process `duty` CLI runner.

use std::path::{Path, PathBuf};

use clap::Parser;
use dutyroom_console::cli::{Cli, run};
use dutyroom_console::client::Client;
use std::sync::Arc;

use dutyroom_daemon::clock::{Clock, ManualClock};
use dutyroom_daemon::engine::EngineOptions;
use dutyroom_daemon::{Config, Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;

/// A daemon for one test.
pub struct TestDaemon {
    handle: Option<DaemonHandle>,
    _dir: Option<tempfile::TempDir>,
    /// The store directory.
    pub data: PathBuf,
    /// Where it listens now.
    pub addr: String,
    /// The first admin token.
    pub admin: String,
    clock: Option<Arc<dyn Clock>>,
}

pub fn config(data: &Path) -> Config {
    Config {
        data: data.to_owned(),
        heartbeat_secs: 1,
        shutdown_grace_secs: 3,
        cache_mb: 16,
        // Offline as soon as the last stream closes: tests need not wait.
        offline_after_secs: 0,
        ..Config::default()
    }
}

async fn start_on(
    data: &Path,
    engine: EngineOptions,
    clock: Option<Arc<dyn Clock>>,
) -> DaemonHandle {
    let mut daemon = Daemon::new(config(data));
    daemon.engine = engine;
    if let Some(clock) = clock {
        daemon.clock = clock;
    }
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    daemon.start().await.expect("daemon starts")
}

impl TestDaemon {
    /// GetServerInfo as the admin sees it.
    pub async fn info(&self) -> pb::ServerInfo {
        self.admin()
            .await
            .journal()
            .get_server_info(pb::GetServerInfoRequest {})
            .await
            .expect("server info")
            .into_inner()
    }

    /// A fresh daemon on a new temporary store.
    pub async fn start() -> TestDaemon {
        Self::start_with(EngineOptions::default()).await
    }

    /// A fresh daemon whose live event buffer holds only `capacity` events.
    pub async fn start_with_broadcast(capacity: usize) -> TestDaemon {
        Self::start_with(EngineOptions {
            broadcast_capacity: capacity,
            ..EngineOptions::default()
        })
        .await
    }

    /// A fresh daemon whose time is `clock` (virtual time for tests).
    pub async fn start_at(clock: Arc<ManualClock>) -> TestDaemon {
        Self::start_full(EngineOptions::default(), Some(clock)).await
    }

    async fn start_with(engine: EngineOptions) -> TestDaemon {
        Self::start_full(engine, None).await
    }

    /// A fresh daemon with `engine` options and, if given, virtual time.
    pub async fn start_full(engine: EngineOptions, clock: Option<Arc<ManualClock>>) -> TestDaemon {
        let clock = clock.map(|c| c as Arc<dyn Clock>);
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let handle = start_on(&data, engine, clock.clone()).await;
        let admin = handle
            .admin_token
            .clone()
            .expect("first start makes an admin token");
        TestDaemon {
            addr: handle.addr.to_string(),
            handle: Some(handle),
            _dir: Some(dir),
            data,
            admin,
            clock,
        }
    }

    /// Stops gracefully and starts again on the same store (a new port).
    pub async fn restart(&mut self) {
        self.stop_only().await;
        self.start_again().await;
    }

    /// Stops gracefully, keeping the store for [`TestDaemon::start_again`].
    pub async fn stop_only(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await.expect("clean shutdown");
        }
    }

    /// Starts again on the same store and the same address (clients
    /// reconnect by themselves) after [`TestDaemon::stop_only`].
    pub async fn start_again_same_port(&mut self) {
        let mut daemon = Daemon::new(config(&self.data));
        if let Some(clock) = self.clock.clone() {
            daemon.clock = clock;
        }
        let mut listener = None;
        for _ in 0..100 {
            match std::net::TcpListener::bind(&self.addr) {
                Ok(bound) => {
                    listener = Some(bound);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        daemon.listener = Some(listener.expect("the old port frees up"));
        let handle = daemon.start().await.expect("daemon starts again");
        self.handle = Some(handle);
    }

    /// Starts again on the same store after [`TestDaemon::stop_only`].
    pub async fn start_again(&mut self) {
        let handle = start_on(&self.data, EngineOptions::default(), self.clock.clone()).await;
        assert!(
            handle.admin_token.is_none(),
            "a restart must not mint a new admin token"
        );
        self.addr = handle.addr.to_string();
        self.handle = Some(handle);
    }

    /// Stops gracefully.
    pub async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await.expect("clean shutdown");
        }
    }

    /// A client with `token`.
    pub async fn client(&self, token: &str) -> Client {
        Client::connect(&self.addr, Some(token))
            .await
            .expect("connects")
    }

    /// A client with the admin token.
    pub async fn admin(&self) -> Client {
        self.client(&self.admin).await
    }

    /// Creates a token with `role` and returns its secret.
    /// Records a call as the admin (see [`call`]) and returns its number.
    pub async fn call_number(&self, summary: &str, lead: Option<&str>) -> String {
        self.admin()
            .await
            .incidents()
            .create_incident(call(summary, lead))
            .await
            .expect("create")
            .into_inner()
            .incident
            .expect("incident")
            .number
    }

    pub async fn token(&self, role: &str, name: &str) -> String {
        self.admin()
            .await
            .tokens()
            .create_token(pb::CreateTokenRequest {
                request_id: String::new(),
                name: name.into(),
                role: role.into(),
                expires_at: None,
                ..Default::default()
            })
            .await
            .expect("token created")
            .into_inner()
            .secret
    }

    /// Loads a small directory: two posts, three units, places, categories.
    pub async fn seed(&self) {
        let admin = self.admin().await;
        for (id, name) in [("wangwei", "王伟"), ("liuyang", "刘洋")] {
            admin
                .people()
                .create_person(pb::CreatePersonRequest {
                    request_id: String::new(),
                    person: Some(pb::Person {
                        id: id.into(),
                        name: name.into(),
                        phone: "13800000000".into(),
                        roles: vec!["duty_leader".into()],
                        ..Default::default()
                    }),
                })
                .await
                .expect("person");
        }
        for (code, zh) in [("fire", "火灾"), ("water_leak", "供水漏损")] {
            admin
                .categories()
                .create_category(pb::CreateCategoryRequest {
                    request_id: String::new(),
                    category: Some(pb::Category {
                        code: code.into(),
                        name_zh: zh.into(),
                        ..Default::default()
                    }),
                })
                .await
                .expect("category");
        }
        for (id, name, tier, category) in [
            ("fire", "区消防救援大队", 1, "fire"),
            ("water", "区供水公司", 2, "water_leak"),
            ("health", "区卫健局", 2, "fire"),
        ] {
            admin
                .units()
                .create_unit(pb::CreateUnitRequest {
                    request_id: String::new(),
                    unit: Some(pb::Unit {
                        id: id.into(),
                        name: name.into(),
                        tier,
                        categories: vec![category.into()],
                        ..Default::default()
                    }),
                })
                .await
                .expect("unit");
        }
        for (id, name, leader) in [
            ("xinhua", "新华街道指挥部", "wangwei"),
            ("qianjin", "前进街道指挥部", "liuyang"),
        ] {
            admin
                .posts()
                .create_post(pb::CreatePostRequest {
                    request_id: String::new(),
                    post: Some(pb::Post {
                        id: id.into(),
                        name: name.into(),
                        district: "城关区".into(),
                        responsible_leader_id: leader.into(),
                        ..Default::default()
                    }),
                })
                .await
                .expect("post");
        }
        let places = [
            ("chengguan", "城关区", pb::PlaceKind::District, "", ""),
            (
                "xinhua-sd",
                "新华街道",
                pb::PlaceKind::Subdistrict,
                "chengguan",
                "xinhua",
            ),
            (
                "xingfu",
                "幸福社区",
                pb::PlaceKind::Community,
                "xinhua-sd",
                "",
            ),
            (
                "qianjin-sd",
                "前进街道",
                pb::PlaceKind::Subdistrict,
                "chengguan",
                "qianjin",
            ),
        ];
        for (id, name, kind, parent, post) in places {
            admin
                .places()
                .create_place(pb::CreatePlaceRequest {
                    request_id: String::new(),
                    place: Some(pb::Place {
                        id: id.into(),
                        name: name.into(),
                        kind: kind as i32,
                        parent_id: parent.into(),
                        post_id: post.into(),
                        ..Default::default()
                    }),
                })
                .await
                .expect("place");
        }
    }
}

/// A post or unit as an assignee.
pub fn assignee(text: &str) -> pb::Assignee {
    dutyroom_console::cli::incident::parse_assignee(text).expect("assignee")
}

/// A typical call, optionally dispatched to `lead`.
pub fn call(summary: &str, lead: Option<&str>) -> pb::CreateIncidentRequest {
    pb::CreateIncidentRequest {
        request_id: String::new(),
        intake: Some(pb::IncidentIntake {
            source: pb::SourceChannel::Police110 as i32,
            caller_name: "李娜".into(),
            caller_phone: "13812345678".into(),
            address: "新华路12号".into(),
            place_id: "xingfu".into(),
            category: "fire".into(),
            severity: pb::Severity::Ii as i32,
            summary: summary.into(),
            tags: vec![],
            drill: false,
        }),
        dispatch: lead
            .map(|lead| pb::AssignRequest {
                assignee: Some(assignee(lead)),
                role: pb::AssignmentRole::Lead as i32,
                ..Default::default()
            })
            .into_iter()
            .collect(),
    }
}

/// What `duty …` printed and its exit code, run in-process.
pub struct CliRun {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// The stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `duty <argv>` in-process (argv without the program name).
pub async fn duty_argv(argv: &[&str]) -> CliRun {
    let mut full = vec!["duty"];
    full.extend_from_slice(argv);
    let cli = match Cli::try_parse_from(&full) {
        Ok(cli) => cli,
        Err(error) => {
            return CliRun {
                code: 2,
                stdout: String::new(),
                stderr: error.to_string(),
            };
        }
    };
    let mut out = Vec::new();
    let result = run(cli, &mut out).await;
    let stdout = String::from_utf8(out).expect("utf-8 output");
    match result {
        Ok(()) => CliRun {
            code: 0,
            stdout,
            stderr: String::new(),
        },
        Err(error) => CliRun {
            code: error.exit_code(),
            stdout,
            stderr: error.to_string(),
        },
    }
}

/// Runs `duty --addr … --token … <args>` in-process.
pub async fn duty(daemon: &TestDaemon, token: &str, args: &[&str]) -> CliRun {
    let config = daemon.data.with_extension("console.toml");
    if !config.exists() {
        std::fs::write(&config, "").expect("empty console config");
    }
    let config = config.display().to_string();
    let mut argv = vec![
        "--addr",
        &daemon.addr,
        "--token",
        token,
        "--config",
        &config,
    ];
    argv.extend_from_slice(args);
    duty_argv(&argv).await
}
