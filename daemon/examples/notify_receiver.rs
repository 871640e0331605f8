//! An example SMS/voice gateway adapter for dutyd's alarm webhook: checks
//! each message's signature and timestamp, sends each idempotency key at
//! most once, and logs what it would send (a real adapter calls its
//! operator's SMS or voice API there).
//!
//! ```sh
//! DUTY_NOTIFY_SECRET=… cargo run -p dutyroom-daemon --example notify_receiver -- 127.0.0.1:8089
//! ```
//!
//! See `docs/notify.md` for the message, its headers and the signature.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use dutyroom_daemon::notify::receiver::{Checks, serve};
use dutyroom_daemon::notify::webhook::Channel;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let secret = std::env::var("DUTY_NOTIFY_SECRET").map_err(|_| {
        anyhow::anyhow!("set DUTY_NOTIFY_SECRET to the secret given to `duty notify gateway add`")
    })?;
    if secret.len() < 16 {
        anyhow::bail!("DUTY_NOTIFY_SECRET is too short: use at least 16 characters");
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("receiving alarms on http://{addr}/ (signatures checked)");
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    serve(
        listener,
        Checks {
            secret: secret.into_bytes(),
            tolerance: 300,
        },
        move |message| {
            let first = sent
                .lock()
                .map(|mut keys| keys.insert(message.idempotency_key.clone()))
                .unwrap_or(false);
            let how = match message.channel {
                Channel::Sms => "SMS",
                Channel::Voice => "voice call",
                Channel::Webhook => "webhook post",
            };
            if first {
                println!(
                    "{how} to {} ({}): {}",
                    message.to.name, message.to.phone, message.text
                );
            } else {
                println!(
                    "{} again: already sent, not sent twice",
                    message.idempotency_key
                );
            }
            // Taken either way: dutyd stops retrying it.
            async { 200 }
        },
    )
    .await?;
    Ok(())
}
