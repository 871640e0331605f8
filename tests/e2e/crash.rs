//! Crash test: the drill of `duty bench crash`, short. The daemon runs as a
//! child process (this test binary re-executed with `DUTYROOM_CHILD_DATA`
//! set); writers create incidents and notes; the child is killed with
//! SIGKILL (then stopped with SIGTERM) mid-load and restarted, and every
//! acknowledged write must be there, intact; the journal must verify.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dutyroom_console::bench::child::ChildDaemon;
use dutyroom_console::bench::crash::{DrillOptions, Stop, drill};

const CHILD_ENV: &str = "DUTYROOM_CHILD_DATA";

/// Not a test of its own: the body of the child process.
#[test]
#[ignore = "runs only as the crash test's child process"]
fn child_daemon() {
    let Some(data) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let data = PathBuf::from(data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut daemon = dutyroom_daemon::Daemon::new(crate::support::config(&data));
        daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
        let handle = daemon.start().await.expect("child daemon starts");
        if let Some(token) = &handle.admin_token {
            std::fs::write(data.with_extension("token"), token).expect("write token");
        }
        // As `dutyd serve` says it, for the drill's launcher.
        eprintln!("dutyd listening on {}", handle.addr);
        // SIGTERM: a graceful stop, as `dutyd serve` does it.
        let stopping = handle.stopping();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                stopping.cancel();
            }
        });
        handle.wait().await.expect("child daemon runs");
    });
}

/// This test binary, re-run as the child daemon on `data`.
fn launch(data: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "crash::child_daemon",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, data)
        .env("DUTYD_LOG", "warn");
    command
}

/// The crash drill of `duty bench crash`, short: three SIGKILLs mid-load,
/// then two SIGTERMs, every acknowledged incident and note checked after
/// each restart and the journal verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_and_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The first start creates the store and its admin token.
    let (mut first, _) = ChildDaemon::spawn(launch(&data))
        .await
        .expect("the child daemon starts");
    let token = std::fs::read_to_string(data.with_extension("token")).expect("admin token");
    first.terminate().await.expect("a clean stop");
    for (stop, cycles) in [(Stop::Kill, 3), (Stop::Term, 2)] {
        let report = drill(
            &DrillOptions {
                cycles,
                writers: 6,
                stop,
                load: Duration::from_millis(250),
            },
            &data,
            token.trim(),
            &launch,
        )
        .await
        .expect("the drill runs");
        println!("{}", report.line());
        assert!(report.incidents_acknowledged > 0, "{report:?}");
        assert_eq!((report.lost, report.damaged), (0, 0), "{}", report.line());
        if stop == Stop::Term {
            assert!(report.term_exit_max_ms.is_some());
        }
    }
}
