//! The `duty` command line: one subcommand per noun, `-o table|json`,
//! one-line errors and exit codes that say what went wrong.
//!
//! - `incident`: intake, dispatch and every incident action.
//! - `directory`: `post`, `unit`, `place`, `person`, `category`.
//! - `token`: tokens and `whoami`.
//! - `escalation`: `escalation policy|simulate`, `alarm list|ack`.
//! - `roster`: `roster`, `handover`, `rollcall`.
//! - `journal`: `watch`, `audit`, `info`.
//! - `output`: tables and proto3 JSON.

pub mod admin;
pub mod bench;
pub mod directory;
pub mod escalation;
pub mod incident;
pub mod journal;
pub mod notify;
pub mod output;
pub mod report;
pub mod roster;
pub mod token;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use jiff::tz::TimeZone;
use tonic::{Code, Status};

use crate::client::{Client, ConnectError};
use crate::config::{self, ConsoleConfig};
use output::Format;

/// Default daemon address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7350";

/// The dutyroom console and command-line client.
#[derive(Debug, Parser)]
#[command(name = "duty", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// dutyd's address [default: 127.0.0.1:7350, or `addr` in the config file].
    #[arg(long, env = "DUTY_ADDR", global = true)]
    pub addr: Option<String>,
    /// Bearer token [or `token` in the config file].
    #[arg(long, env = "DUTY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// PEM CA to trust for https:// instead of the system roots [or `ca` in
    /// the config file].
    #[arg(long, env = "DUTY_CA", global = true)]
    pub ca: Option<PathBuf>,
    /// PEM client certificate, for a dutyd that requires one (mTLS) [or
    /// `cert` in the config file].
    #[arg(long, env = "DUTY_CERT", global = true, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The PEM private key of --cert [or `key` in the config file].
    #[arg(long, env = "DUTY_KEY", global = true, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Send the token over plain http:// to another machine anyway (only on
    /// a network you trust; loopback never needs it).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Config file [default: ~/.config/dutyroom/console.toml].
    #[arg(long, env = "DUTY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table", global = true)]
    pub output: Format,
    /// Client request id for a change: retrying with the same id returns the
    /// first result and changes nothing.
    #[arg(long, global = true)]
    pub request_id: Option<String>,
    /// What to do; without one, opens the duty console.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Incidents: create, dispatch, sign, arrive, resolve, close, ...
    #[command(subcommand)]
    Incident(incident::Cmd),
    /// Sub-district command posts; without a subcommand, opens the post's
    /// own console (a token with role post:<id>).
    Post(PostArgs),
    /// Linkage units.
    #[command(subcommand)]
    Unit(directory::UnitCmd),
    /// Places: district, sub-district, community, grid.
    #[command(subcommand)]
    Place(directory::PlaceCmd),
    /// People.
    #[command(subcommand)]
    Person(directory::PersonCmd),
    /// Incident categories and their default units.
    #[command(subcommand)]
    Category(directory::CategoryCmd),
    /// Bearer tokens and roles.
    #[command(subcommand)]
    Token(token::Cmd),
    /// The escalation policy and what-if simulation.
    #[command(subcommand)]
    Escalation(escalation::EscalationCmd),
    /// Alarms: list the ones waiting, acknowledge.
    #[command(subcommand)]
    Alarm(escalation::AlarmCmd),
    /// Alarms off the console: the SMS and voice gateways.
    #[command(subcommand)]
    Notify(notify::Cmd),
    /// Duty rosters: who is on duty, shifts, swaps, CSV import/export, iCal.
    #[command(subcommand)]
    Roster(roster::RosterCmd),
    /// Handover at shift change (交接班).
    #[command(subcommand)]
    Handover(roster::HandoverCmd),
    /// Roll-calls to posts (查岗).
    #[command(subcommand)]
    Rollcall(roster::RollCallCmd),
    /// Streams journal events live (replaying from a seq first).
    Watch(journal::WatchArgs),
    /// The audit journal: list events, verify the hash chain.
    #[command(subcommand)]
    Audit(journal::AuditCmd),
    /// Server version, time zone, journal head and who you are.
    Info,
    /// The store's care: online backup.
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// Assessment (考核): summary, league tables of posts and units, and
    /// incidents by category, place, severity or source, per period.
    Report(report::ReportArgs),
    /// Which posts and units are connected, since when, last seen, and how
    /// far their clocks are off.
    Presence {
        /// Only those offline.
        #[arg(long)]
        offline: bool,
    },
    /// The product in one command: an embedded dutyd with a demo city and a
    /// call simulator, and the console logged in as the duty officer.
    Demo(crate::demo::DemoArgs),
    /// Load generators: throughput and latency percentiles.
    #[command(subcommand)]
    Bench(bench::Cmd),
    /// Prints shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `duty post [SUBCOMMAND]`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PostArgs {
    /// Manage posts; without one, the post console.
    #[command(subcommand)]
    pub command: Option<directory::PostCmd>,
    /// Where the post console keeps its outbox [default: `data` in the
    /// config file, else ~/.local/share/dutyroom].
    #[arg(long, env = "DUTY_DATA")]
    pub data: Option<PathBuf>,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server said no.
    #[error("{}", describe_status(.0))]
    Rpc(Status),
    /// No connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Bad config file.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Bad arguments the parser could not catch.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        CliError::Rpc(status)
    }
}

fn describe_status(status: &Status) -> String {
    let message = status.message().replace('\n', " ");
    match status.code() {
        Code::Unavailable if message.is_empty() => "dutyd is unavailable".into(),
        Code::Unavailable => format!("dutyd is unavailable: {message}"),
        Code::Unauthenticated => format!("not authenticated: {message}"),
        Code::PermissionDenied => format!("not allowed: {message}"),
        Code::DeadlineExceeded => format!("timed out: {message}"),
        _ => message,
    }
}

impl CliError {
    /// The process exit code: 2 usage, 3 invalid argument, 4 not found,
    /// 5 already exists, 6 failed precondition, 7 not authenticated or not
    /// allowed, 8 unavailable, unreachable or a failed TLS handshake, 1
    /// anything else. A refusal to send a token in cleartext is 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Config(_) => 2,
            CliError::Connect(ConnectError::Unreachable { .. } | ConnectError::Tls { .. }) => 8,
            CliError::Connect(_) => 2,
            CliError::Rpc(status) => match status.code() {
                Code::InvalidArgument | Code::OutOfRange => 3,
                Code::NotFound => 4,
                Code::AlreadyExists => 5,
                Code::FailedPrecondition => 6,
                Code::Unauthenticated | Code::PermissionDenied => 7,
                Code::Unavailable | Code::DeadlineExceeded => 8,
                _ => 1,
            },
            CliError::Io(_) | CliError::Other(_) => 1,
        }
    }
}

/// What a subcommand needs: a client, the output, the format.
pub struct Ctx<'a> {
    /// The connected client.
    pub client: Client,
    /// Where results go.
    pub out: &'a mut dyn Write,
    /// Table or JSON.
    pub format: Format,
    /// The request id for a change (empty: none).
    pub request_id: String,
    zone: Option<TimeZone>,
}

impl Ctx<'_> {
    /// The centre's time zone (asked of the server once).
    pub async fn zone(&mut self) -> Result<TimeZone, CliError> {
        if let Some(zone) = &self.zone {
            return Ok(zone.clone());
        }
        let info = self
            .client
            .journal()
            .get_server_info(dutyroom_proto::v1::GetServerInfoRequest {})
            .await?
            .into_inner();
        let name = info.time.map(|t| t.time_zone).unwrap_or_default();
        let zone = TimeZone::get(&name).unwrap_or(TimeZone::UTC);
        self.zone = Some(zone.clone());
        Ok(zone)
    }

    /// True for JSON output.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// Runs a parsed command line, writing results to `out`. Without a
/// subcommand, opens the console.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let command = cli.command;
    if let Some(Command::Demo(args)) = command {
        let lang = match &cli.config {
            Some(path) => ConsoleConfig::load(path, true)?.language,
            None => None,
        };
        return crate::demo::run(args, lang.unwrap_or_else(crate::tui::i18n::Lang::from_env)).await;
    }
    if let Some(Command::Completions { shell }) = command {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "duty", out);
        return Ok(());
    }
    let (config_path, explicit) = match &cli.config {
        Some(path) => (Some(path.clone()), true),
        None => (config::default_path(), false),
    };
    let file = match config_path {
        Some(path) => ConsoleConfig::load(&path, explicit)?,
        None => ConsoleConfig::default(),
    };
    let addr = cli
        .addr
        .or(file.addr)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let token = cli.token.or(file.token);
    let (cert, key) = match (cli.cert, cli.key) {
        (Some(cert), Some(key)) => (Some(cert), Some(key)),
        _ => (file.cert.clone(), file.key.clone()),
    };
    let transport = crate::client::Transport::from_files(
        cli.ca.or(file.ca.clone()).as_deref(),
        cert.as_deref(),
        key.as_deref(),
        cli.insecure || file.insecure.unwrap_or(false),
    )?;
    let console = |post: bool, data: Option<PathBuf>| {
        let data = data
            .or(file.data.clone())
            .unwrap_or_else(crate::outbox::default_data_dir);
        crate::tui::Options {
            outbox: token
                .as_deref()
                .map(|token| crate::outbox::dir_for(&data, token)),
            addr: addr.clone(),
            token: token.clone(),
            lang: file
                .language
                .unwrap_or_else(crate::tui::i18n::Lang::from_env),
            keys: file.keys.clone(),
            bell: file.bell.unwrap_or(true),
            bell_repeat_secs: file.bell_repeat_secs.unwrap_or(30),
            post,
            draft: token
                .as_deref()
                .map(|token| crate::outbox::draft_path(&data, token)),
        }
    };
    // The consoles and the bench connect through `Client::connect`/`lazy`.
    let whole_process = |transport: &crate::client::Transport| {
        crate::client::set_default_transport(transport.clone());
    };
    let command = match command {
        None => {
            whole_process(&transport);
            return crate::tui::run(console(false, None)).await;
        }
        Some(Command::Post(PostArgs {
            command: None,
            data,
        })) => {
            // The post console speaks for the token's post: check it is one
            // before taking over the terminal (when dutyd can say).
            whole_process(&transport);
            if let Ok(client) = Client::connect_with(&addr, token.as_deref(), &transport).await
                && let Ok(info) = client
                    .journal()
                    .get_server_info(dutyroom_proto::v1::GetServerInfoRequest {})
                    .await
            {
                let role = info.into_inner().you.map(|p| p.role).unwrap_or_default();
                if !role.starts_with("post:") && !role.starts_with("unit:") {
                    return Err(CliError::Usage(format!(
                        "`duty post` is a post's console and needs a post's token (role \
                         post:<id>); this token's role is {role}. Use `duty` for the centre's"
                    )));
                }
            }
            return crate::tui::run(console(true, data)).await;
        }
        Some(command) => command,
    };
    if let Command::Bench(cmd) = command {
        whole_process(&transport);
        return bench::run(cmd, addr, token, cli.output, out).await;
    }
    if cli.output == Format::Csv
        && !matches!(
            command,
            Command::Report(_) | Command::Incident(incident::Cmd::Search(_))
        )
    {
        return Err(CliError::Usage(
            "-o csv is for `duty report` and `duty incident search`; other commands print table or json"
                .into(),
        ));
    }
    let client = Client::connect_with(&addr, token.as_deref(), &transport).await?;
    let mut guarded = output::Guarded::new(out, cli.output != Format::Json);
    let mut ctx = Ctx {
        client,
        out: &mut guarded,
        format: cli.output,
        request_id: cli.request_id.unwrap_or_default(),
        zone: None,
    };
    match command {
        Command::Incident(cmd) => incident::run(&mut ctx, cmd).await,
        Command::Post(PostArgs {
            command: Some(cmd), ..
        }) => directory::run_post(&mut ctx, cmd).await,
        Command::Post(PostArgs { command: None, .. }) => Ok(()),
        Command::Unit(cmd) => directory::run_unit(&mut ctx, cmd).await,
        Command::Place(cmd) => directory::run_place(&mut ctx, cmd).await,
        Command::Person(cmd) => directory::run_person(&mut ctx, cmd).await,
        Command::Category(cmd) => directory::run_category(&mut ctx, cmd).await,
        Command::Token(cmd) => token::run(&mut ctx, cmd).await,
        Command::Escalation(cmd) => escalation::run(&mut ctx, cmd).await,
        Command::Alarm(cmd) => escalation::run_alarm(&mut ctx, cmd).await,
        Command::Notify(cmd) => notify::run(&mut ctx, cmd).await,
        Command::Roster(cmd) => roster::run(&mut ctx, cmd).await,
        Command::Handover(cmd) => roster::run_handover(&mut ctx, cmd).await,
        Command::Rollcall(cmd) => roster::run_rollcall(&mut ctx, cmd).await,
        Command::Watch(args) => journal::watch(&mut ctx, args).await,
        Command::Audit(cmd) => journal::audit(&mut ctx, cmd).await,
        Command::Info => journal::info(&mut ctx).await,
        Command::Admin(cmd) => admin::run(&mut ctx, cmd).await,
        Command::Presence { offline } => journal::presence(&mut ctx, offline).await,
        Command::Report(args) => report::run(&mut ctx, args).await,
        Command::Completions { .. } | Command::Bench(_) | Command::Demo(_) => Ok(()),
    }
}

/// `duty`'s entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("duty: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match runtime.block_on(run(cli, &mut stdout)) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`duty watch | head`) is not an error.
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            // The message may carry text from the network.
            eprintln!("duty: {}", output::visible(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
    }
}
