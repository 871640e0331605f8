//! The escalation timer: sleep until the earliest deadline, or until a batch
//! changes the deadlines, or until a test clock moves; then fire what is due
//! as an ordinary command (journal, flush) and look again.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::principal::Principal;
use crate::engine::Engine;
use crate::engine::command::Command;
use crate::error::Error;

/// How long to wait when nothing is scheduled (a change wakes it earlier).
const IDLE: Duration = Duration::from_secs(3600);
/// Back-off after an unexpected error.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until `shutdown` fires or the engine stops.
pub async fn run(engine: Engine, shutdown: CancellationToken) {
    let mut ticks = engine.clock_ticks();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let now = engine.now();
        let next = match engine.next_deadline() {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, "reading the next deadline");
                if pause(&shutdown, RETRY).await {
                    return;
                }
                continue;
            }
        };
        if let Some(at) = next
            && at <= now
        {
            match engine
                .submit(Principal::system(), None, Command::FireDue)
                .await
            {
                Ok(_) => {}
                Err(Error::Unavailable(_)) => return,
                Err(error) => {
                    tracing::error!(%error, "firing due deadlines");
                    if pause(&shutdown, RETRY).await {
                        return;
                    }
                }
            }
            continue;
        }
        let wait = next
            .map(|at| {
                Duration::try_from(at.duration_since(now))
                    .unwrap_or(Duration::ZERO)
                    // Wake a little after the due millisecond, not before it.
                    .saturating_add(Duration::from_millis(1))
            })
            .unwrap_or(IDLE);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = engine.deadlines_changed().notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = moved(&mut ticks) => {}
        }
    }
}

/// Sleeps; true when shutdown came first.
async fn pause(shutdown: &CancellationToken, for_: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(for_) => false,
    }
}

/// Resolves when a test clock moves; never for the wall clock.
async fn moved(ticks: &mut Option<watch::Receiver<jiff::Timestamp>>) {
    match ticks {
        Some(receiver) => {
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
