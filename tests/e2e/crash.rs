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
        // SIGTERM: a graceful stop, as `dutyd serve` does it — listened
        // for before saying "listening", or a launcher's SIGTERM can come
        // first and kill the process outright.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("listen for SIGTERM");
        let stopping = handle.stopping();
        tokio::spawn(async move {
            term.recv().await;
            stopping.cancel();
        });
        // As `dutyd serve` says it, for the drill's launcher.
        eprintln!("dutyd listening on {}", handle.addr);
        handle.wait().await.expect("child daemon runs");
    });
}

/// This test binary, re-run as the child daemon on `data`.
pub(crate) fn launch(data: &Path) -> tokio::process::Command {
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

/// Issue 13: a client holding a health Watch stream (standard client-side
/// health checking) and one whose unary call never sends its body used to
/// keep dutyd running, store locked, long after SIGTERM. Now it exits
/// cleanly within its grace: the test only checks that it exits (a bound
/// of 30 s, far above the 5 s grace, so a slow machine cannot fail it) and
/// prints how long it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_dutyd_even_with_held_streams_and_half_sent_calls() {
    use tokio::io::AsyncWriteExt;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut child, _) = ChildDaemon::spawn(launch(&data))
        .await
        .expect("the child daemon starts");
    // A held health Watch.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", child.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("a status").expect("serving");
    assert_eq!(first.status, 1, "SERVING before the stop");
    // A unary call whose HEADERS go out and whose body never does: the
    // HTTP/2 preface, SETTINGS, then HEADERS without END_STREAM.
    let mut raw = tokio::net::TcpStream::connect(&child.addr)
        .await
        .expect("raw connect");
    raw.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    raw.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .expect("settings");
    // HEADERS, stream 1, END_HEADERS only; a literal-without-indexing block
    // for :method POST, :scheme http, :path, content-type.
    let mut block = vec![0x83, 0x86];
    for (name, value) in [
        (
            &b":path"[..],
            &b"/dutyroom.v1.IncidentService/GetIncident"[..],
        ),
        (b"content-type", b"application/grpc"),
    ] {
        block.push(0x00);
        block.push(name.len() as u8);
        block.extend_from_slice(name);
        block.push(value.len() as u8);
        block.extend_from_slice(value);
    }
    let len = block.len();
    let mut frame = vec![
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        0x1,
        0x4,
        0,
        0,
        0,
        1,
    ];
    frame.extend_from_slice(&block);
    raw.write_all(&frame).await.expect("headers");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let took = child
        .terminate()
        .await
        .expect("dutyd exits cleanly after SIGTERM");
    println!("dutyd exited {took:?} after SIGTERM with a held Watch and a half-sent call");
    drop(watch);
    drop(raw);
}
