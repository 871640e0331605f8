//! `dutyd` as a child process: for memory and CPU figures of the daemon
//! alone, for startup times, and for crash drills (a process can be killed).
//!
//! The binary is `$DUTYD_BIN`, else `dutyd` next to this `duty` (both are
//! built by `cargo build --release`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where `dutyd` is.
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("DUTYD_BIN") {
        return Ok(PathBuf::from(path));
    }
    let here = std::env::current_exe().context("finding this program")?;
    let sibling = here.with_file_name(format!("dutyd{}", std::env::consts::EXE_SUFFIX));
    if sibling.exists() {
        return Ok(sibling);
    }
    bail!(
        "no dutyd next to {} (build it: cargo build --release), or set DUTYD_BIN",
        here.display()
    )
}

/// Creates a store in `data` and returns its first admin token.
pub async fn init(data: &Path) -> anyhow::Result<String> {
    let token_file = data.with_extension("token");
    let status = Command::new(binary()?)
        .arg("--data")
        .arg(data)
        .arg("init")
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .context("running dutyd init")?;
    if !status.success() {
        bail!("dutyd init failed ({status})");
    }
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    Ok(token.trim().to_owned())
}

/// A running `dutyd` child.
pub struct ChildDaemon {
    process: Child,
    /// Where it listens.
    pub addr: String,
}

impl ChildDaemon {
    /// Starts `dutyd` on `data` (an initialised store) on a free port;
    /// returns once it listens, with how long that took from the spawn.
    pub async fn start(data: &Path) -> anyhow::Result<(ChildDaemon, Duration)> {
        Self::start_on(data, "127.0.0.1:0").await
    }

    /// As [`ChildDaemon::start`], on `listen`.
    pub async fn start_on(data: &Path, listen: &str) -> anyhow::Result<(ChildDaemon, Duration)> {
        Self::spawn(command(&binary()?, data, listen)).await
    }

    /// Runs `command`, which must start a daemon that says
    /// `dutyd listening on ADDR` on stderr (as `dutyd serve` does); returns
    /// once it does, with how long that took.
    pub async fn spawn(mut command: Command) -> anyhow::Result<(ChildDaemon, Duration)> {
        let started = Instant::now();
        let mut process = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting dutyd")?;
        let stderr = process.stderr.take().context("dutyd's stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .context("dutyd did not start within 60 s")??;
            match line {
                Some(line) => {
                    if let Some(rest) = line.strip_prefix("dutyd listening on ") {
                        break rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                    }
                }
                None => bail!("dutyd exited while starting ({:?})", process.wait().await),
            }
        };
        let took = started.elapsed();
        // Keep reading, so dutyd never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((ChildDaemon { process, addr }, took))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.id().unwrap_or(0)
    }

    /// SIGKILL, and wait for it to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.process.kill().await.context("killing dutyd")
    }

    /// SIGTERM (graceful), and wait; returns how long it took to exit.
    pub async fn terminate(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let pid = self.pid();
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await
            .context("sending SIGTERM")?;
        if !sent.success() {
            bail!("kill -TERM {pid} failed");
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.process.wait())
            .await
            .context("dutyd did not exit within 30 s of SIGTERM")??;
        if !status.success() {
            bail!("dutyd exited with {status} after SIGTERM");
        }
        Ok(started.elapsed())
    }
}

/// `dutyd --data DATA --listen LISTEN serve`, quiet but for warnings.
pub fn command(binary: &Path, data: &Path, listen: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(listen)
        .arg("serve")
        .env("DUTYD_LOG", "warn");
    command
}

/// A process's resident memory, MiB, from /proc (Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
