//! `dutyd`: the duty-room daemon. See `dutyd --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dutyroom_daemon::{Config, Daemon};

/// The dutyroom daemon: incidents, posts, units and clocks over gRPC.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// TOML config file (unknown keys are errors).
    #[arg(long, short, env = "DUTYD_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (overrides the file and DUTYD_DATA).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:7350 (overrides the file and DUTYD_LISTEN).
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    /// The centre's time zone, e.g. Asia/Shanghai.
    #[arg(long, global = true)]
    time_zone: Option<String>,
    /// Serve over TLS with this PEM certificate (chain) [config: tls_cert].
    #[arg(long, global = true, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert [config: tls_key].
    #[arg(long, global = true, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this PEM CA (mTLS), each bound
    /// to one post, unit or the centre [config: client_ca].
    #[arg(long, global = true)]
    client_ca: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates the store and the first admin token, prints the token once, and exits.
    Init {
        /// Also write the token to this file (mode 0600) for scripts.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Serves (the default).
    Serve,
    /// Makes the certificates of a small deployment (one command each).
    #[command(subcommand)]
    Cert(CertCmd),
    /// Checks a store that dutyd refuses to open, and with --accept-loss
    /// starts it from what is left: the damaged end of the journal is set
    /// aside (kept as *.lost), and a new epoch begins, so every client
    /// resuming from before is told to resync. When the state refers to the
    /// part that is gone, it says so and changes nothing: restore a backup.
    /// Stop dutyd first.
    Recover {
        /// Set aside what cannot be vouched for and start a new epoch.
        #[arg(long)]
        accept_loss: bool,
    },
}

#[derive(Subcommand)]
enum CertCmd {
    /// A new CA: <dir>/ca.pem and <dir>/ca.key (keep the key offline).
    Ca {
        /// Where the CA lives.
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "dutyroom CA")]
        name: String,
    },
    /// dutyd's certificate, for the names clients dial (DNS names or IP
    /// addresses): <dir>/server.pem and <dir>/server.key.
    Server {
        /// DNS names or IP addresses, e.g. dutyd.city.local 10.0.0.5.
        #[arg(required = true)]
        names: Vec<String>,
        /// Where the CA lives and the files go.
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
    },
    /// A client certificate bound to post:<id>, unit:<id> or centre:
    /// <dir>/post-<id>.pem and .key.
    Client {
        /// post:<id>, unit:<id> or centre.
        who: String,
        /// Where the CA lives and the files go.
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
    },
}

fn cert(cmd: CertCmd) -> anyhow::Result<()> {
    use dutyroom_daemon::tls;
    let (dir, stem, pem) = match cmd {
        CertCmd::Ca { dir, name } => (dir, "ca".to_owned(), tls::make_ca(&name)?),
        CertCmd::Server { names, dir } => {
            let ca = tls::read_ca(&dir).context("reading the CA (make one: dutyd cert ca)")?;
            (dir, "server".to_owned(), tls::make_server(&ca, &names)?)
        }
        CertCmd::Client { who, dir } => {
            let ca = tls::read_ca(&dir).context("reading the CA (make one: dutyd cert ca)")?;
            let pem = tls::make_client(&ca, &who)?;
            (dir, tls::stem(&who), pem)
        }
    };
    let (cert, key) = tls::write(&dir, &stem, &pem)?;
    println!(
        "wrote {} and {} (the key is private: mode 0600)",
        cert.display(),
        key.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DUTYD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dutyd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Cmd::Cert(cmd)) = args.command {
        return cert(cmd);
    }
    let mut config = Config::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(data) = args.data {
        config.data = data;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(zone) = args.time_zone {
        config.time_zone = zone;
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert;
        config.tls_key = args.tls_key;
    }
    if args.client_ca.is_some() {
        config.client_ca = args.client_ca;
    }
    config.validate()?;
    if let Some(Cmd::Recover { accept_loss }) = args.command {
        return recover(&config, accept_loss);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(async move {
        match args.command.unwrap_or(Cmd::Serve) {
            Cmd::Init { token_file } => init(config, token_file).await,
            Cmd::Serve => serve(config).await,
            Cmd::Cert(_) | Cmd::Recover { .. } => Ok(()),
        }
    });
    // Connections cut at the grace may still be parked in the runtime: do
    // not wait on them, the store is already closed.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

/// `dutyd recover`: opens the store as `serve` would; with `accept_loss`,
/// sets aside what the journal cannot vouch for and starts a new epoch.
fn recover(config: &Config, accept_loss: bool) -> anyhow::Result<()> {
    use dutyroom_daemon::store::Store;
    let cache = config.cache_mb * 1024 * 1024;
    if !accept_loss {
        let store = Store::open(&config.data, cache).map_err(|error| {
            anyhow::anyhow!(
                "{error}\nNothing was changed. `dutyd recover --accept-loss` starts from what \
                 is left (a new epoch: clients resync)."
            )
        })?;
        store.checkpoint()?;
        println!(
            "The store in {} opens whole (identity {}, head seq {}): nothing to recover.",
            config.data.display(),
            store.identity(),
            store.head()?.seq
        );
        return Ok(());
    }
    let (store, lost) = Store::recover(&config.data, cache)?;
    store.checkpoint()?;
    if lost.is_empty() {
        println!(
            "The store in {} opens whole (identity {}, head seq {}): nothing was set aside.",
            config.data.display(),
            store.identity(),
            store.head()?.seq
        );
        return Ok(());
    }
    println!(
        "Set aside (kept in {} as *.lost):",
        config.data.join("wal").display()
    );
    for line in &lost {
        println!("  - {line}");
    }
    println!(
        "The store starts again at head seq {} in a new epoch (identity {}); clients \
         resuming from before are told to resync.",
        store.head()?.seq,
        store.identity()
    );
    Ok(())
}

fn announce(token: &str, token_file: Option<&PathBuf>) -> anyhow::Result<()> {
    println!("First admin token (shown once; keep it safe):\n{token}");
    if let Some(path) = token_file {
        write_private(path, token)
            .with_context(|| format!("writing the token to {}", path.display()))?;
        println!("Also written to {}", path.display());
    }
    Ok(())
}

fn write_private(path: &PathBuf, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{token}")
}

async fn init(config: Config, token_file: Option<PathBuf>) -> anyhow::Result<()> {
    // Bind an ephemeral port: init only needs the store, not the configured address.
    let mut daemon = Daemon::new(config);
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0")?);
    let handle = daemon.start().await?;
    match &handle.admin_token {
        Some(token) => announce(token, token_file.as_ref())?,
        None => println!("The store already has tokens; nothing to do."),
    }
    handle.shutdown().await?;
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data = config.data.clone();
    let handle = Daemon::new(config)
        .start()
        .await
        .with_context(|| format!("starting on {}", data.display()))?;
    if let Some(token) = &handle.admin_token {
        announce(token, None)?;
    }
    // Listened for before "listening" is said: a supervisor's SIGTERM right
    // after it must stop dutyd gracefully, not kill it outright.
    let signal = signals();
    eprintln!(
        "dutyd listening on {} (data in {})",
        handle.addr,
        data.display()
    );
    let stopping = handle.stopping();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("signal received; shutting down");
        stopping.cancel();
    });
    handle.wait().await?;
    eprintln!("dutyd stopped cleanly");
    Ok(())
}

/// Listens for SIGTERM and SIGINT from now on (the handlers are in place
/// when this returns); the future ends when one comes.
fn signals() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let registered = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match registered {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
