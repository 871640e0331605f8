//! TLS and mTLS: dutyd serving with `--tls-cert/--tls-key` (and
//! `--client-ca`), certificates made the way `dutyd cert` makes them, and
//! `duty` speaking https:// — or refusing to send a token in cleartext.

use std::path::{Path, PathBuf};

use dutyroom_console::client::{Client, Transport};
use dutyroom_daemon::tls;
use dutyroom_daemon::{Daemon, DaemonHandle};
use dutyroom_proto::v1 as pb;
use tonic::Code;

use crate::support::duty_argv;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, dutyd's certificate for 127.0.0.1 and localhost, client
    /// certificates for post:xinhua and centre, and an unrelated CA.
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = tls::make_ca("test CA").expect("ca");
        tls::write(dir.path(), "ca", &ca).expect("write ca");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        tls::write(
            dir.path(),
            "server",
            &tls::make_server(&ca, &names).expect("server"),
        )
        .expect("write server");
        for who in ["post:xinhua", "centre"] {
            let pem = tls::make_client(&ca, who).expect("client");
            tls::write(dir.path(), &tls::stem(who), &pem).expect("write client");
        }
        let other = tls::make_ca("someone else's CA").expect("other ca");
        tls::write(dir.path(), "other-ca", &other).expect("write other");
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn text(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn transport(&self, ca: &str, client: Option<&str>) -> Transport {
        let cert = client.map(|c| self.path(&format!("{c}.pem")));
        let key = client.map(|c| self.path(&format!("{c}.key")));
        Transport::from_files(Some(&self.path(ca)), cert.as_deref(), key.as_deref(), false)
            .expect("transport")
    }
}

async fn start(data: &Path, pki: &Pki, mtls: bool) -> DaemonHandle {
    let mut config = crate::support::config(data);
    config.tls_cert = Some(pki.path("server.pem"));
    config.tls_key = Some(pki.path("server.key"));
    if mtls {
        config.client_ca = Some(pki.path("ca.pem"));
    }
    let mut daemon = Daemon::new(config);
    daemon.listener = Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    daemon.start().await.expect("daemon starts with TLS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duty_speaks_tls_and_refuses_a_server_it_cannot_verify_in_one_line() {
    let pki = Pki::new();
    let data = tempfile::tempdir().expect("tempdir");
    let handle = start(data.path(), &pki, false).await;
    let admin = handle.admin_token.clone().expect("admin token");
    let https = format!("https://127.0.0.1:{}", handle.addr.port());
    let config = data.path().join("console.toml");
    std::fs::write(&config, "").expect("config");
    let config = config.display().to_string();

    let ok = duty_argv(&[
        "--addr",
        &https,
        "--token",
        &admin,
        "--config",
        &config,
        "--ca",
        &pki.text("ca.pem"),
        "info",
    ])
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("admin"), "{}", ok.stdout);

    let wrong = duty_argv(&[
        "--addr",
        &https,
        "--token",
        &admin,
        "--config",
        &config,
        "--ca",
        &pki.text("other-ca.pem"),
        "info",
    ])
    .await;
    assert_eq!(wrong.code, 8, "{}", wrong.stderr);
    assert!(
        wrong
            .stderr
            .starts_with("TLS handshake with https://127.0.0.1:"),
        "{}",
        wrong.stderr
    );
    assert!(wrong.stderr.contains("certificate"), "{}", wrong.stderr);
    assert_eq!(wrong.stderr.lines().count(), 1, "{}", wrong.stderr);

    // Plain gRPC to a TLS port is not a TLS error but unreachable: still 8.
    let plain = duty_argv(&[
        "--addr",
        &handle.addr.to_string(),
        "--token",
        &admin,
        "--config",
        &config,
        "info",
    ])
    .await;
    assert_ne!(plain.code, 0, "{}", plain.stdout);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mtls_a_token_travels_only_with_its_own_certificate() {
    let pki = Pki::new();
    let data = tempfile::tempdir().expect("tempdir");
    let handle = start(data.path(), &pki, true).await;
    let admin = handle.admin_token.clone().expect("admin token");
    let https = format!("https://127.0.0.1:{}", handle.addr.port());
    let centre = Client::connect_with(
        &https,
        Some(&admin),
        &pki.transport("ca.pem", Some("centre")),
    )
    .await
    .expect("centre connects");
    let token = |role: &'static str| {
        let centre = centre.clone();
        async move {
            centre
                .tokens()
                .create_token(pb::CreateTokenRequest {
                    name: role.into(),
                    role: role.into(),
                    ..Default::default()
                })
                .await
                .expect("token")
                .into_inner()
                .secret
        }
    };
    for id in ["xinhua", "qianjin"] {
        centre
            .posts()
            .create_post(pb::CreatePostRequest {
                post: Some(pb::Post {
                    id: id.into(),
                    name: id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("post");
    }
    let xinhua = token("post:xinhua").await;
    let qianjin = token("post:qianjin").await;
    let whoami = |token: String, client: Option<&'static str>| {
        let transport = pki.transport("ca.pem", client);
        let https = https.clone();
        async move {
            let client = Client::connect_with(&https, Some(&token), &transport)
                .await
                .expect("handshake");
            client.tokens().who_am_i(pb::WhoAmIRequest {}).await
        }
    };
    let own = whoami(xinhua.clone(), Some("post-xinhua"))
        .await
        .expect("own cert");
    assert_eq!(own.into_inner().role, "post:xinhua");

    let none = whoami(xinhua.clone(), None).await.expect_err("no cert");
    assert_eq!(none.code(), Code::Unauthenticated);
    assert!(
        none.message().contains("requires a client certificate"),
        "{}",
        none.message()
    );

    let other = whoami(qianjin, Some("post-xinhua"))
        .await
        .expect_err("another post's token");
    assert_eq!(other.code(), Code::Unauthenticated);
    assert!(
        other.message().contains("bound to post:xinhua")
            && other.message().contains("post:qianjin"),
        "{}",
        other.message()
    );
    let centre_token = whoami(admin.clone(), Some("post-xinhua"))
        .await
        .expect_err("admin");
    assert_eq!(centre_token.code(), Code::Unauthenticated);

    // Through the CLI: one line, exit 7.
    let config = data.path().join("console.toml");
    std::fs::write(&config, "").expect("config");
    let config = config.display().to_string();
    let refused = duty_argv(&[
        "--addr",
        &https,
        "--token",
        &xinhua,
        "--config",
        &config,
        "--ca",
        &pki.text("ca.pem"),
        "token",
        "whoami",
    ])
    .await;
    assert_eq!(refused.code, 7, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("client certificate"),
        "{}",
        refused.stderr
    );
    let accepted = duty_argv(&[
        "--addr",
        &https,
        "--token",
        &xinhua,
        "--config",
        &config,
        "--ca",
        &pki.text("ca.pem"),
        "--cert",
        &pki.text("post-xinhua.pem"),
        "--key",
        &pki.text("post-xinhua.key"),
        "token",
        "whoami",
    ])
    .await;
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    drop(centre);
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_never_sent_in_cleartext_to_another_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("console.toml");
    std::fs::write(&config, "").expect("config");
    let config = config.display().to_string();
    for addr in ["10.20.30.40:7350", "http://dutyd.city.local:7350"] {
        let run = duty_argv(&[
            "--addr", addr, "--token", "dty_x_y", "--config", &config, "info",
        ])
        .await;
        assert_eq!(run.code, 2, "{addr}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("refusing to send a token in cleartext to"),
            "{}",
            run.stderr
        );
    }
}
