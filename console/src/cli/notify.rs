//! `duty notify gateway …`: the SMS and voice gateways alarms' texts and
//! calls are handed to — add, list (with how each is doing), test, remove.

use std::path::PathBuf;

use clap::Subcommand;
use dutyroom_proto::v1 as pb;

use crate::cli::output::{self, table, time};
use crate::cli::{CliError, Ctx};

/// The notify commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The gateways texts and calls are handed to.
    #[command(subcommand)]
    Gateway(GatewayCmd),
}

/// The gateway commands.
#[derive(Debug, Subcommand)]
pub enum GatewayCmd {
    /// Adds a gateway (admin). Without --secret-file a secret is made and
    /// printed once: give it to the gateway's adapter.
    Add {
        /// Short id, e.g. `sms-main`.
        id: String,
        /// Where to POST: https://… (http:// for an adapter on this host).
        #[arg(long)]
        url: String,
        /// What it sends: sms, voice (repeat for both).
        #[arg(long = "channel", required = true)]
        channels: Vec<String>,
        /// A file holding the shared secret (at least 16 bytes; a trailing
        /// newline is dropped).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Most notifications sent to it at once [default: 4].
        #[arg(long)]
        max_in_flight: Option<u32>,
        /// One POST's time limit: `10s`, `1500ms` [default: 10s].
        #[arg(long, value_parser = parse_span)]
        timeout: Option<std::time::Duration>,
        /// How long a notification is retried: `1h`, `30m` [default: 1h].
        #[arg(long, value_parser = parse_span)]
        retry_for: Option<std::time::Duration>,
        /// Replace the gateway with this id (keeping its secret unless a
        /// new one is given).
        #[arg(long)]
        replace: bool,
        /// For an https:// gateway whose certificate is not signed by a
        /// CA the system trusts: its CA's certificate (PEM file).
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Lists gateways and how each is doing (never their secrets).
    List,
    /// Sends one signed test message (marked 【演练】) and says what the
    /// gateway answered (admin).
    Test {
        /// Gateway id.
        id: String,
        /// The number to text or call.
        #[arg(long)]
        to: String,
        /// sms or voice [default: the gateway's first].
        #[arg(long)]
        channel: Option<String>,
    },
    /// Removes a gateway (admin): what it still owed goes to another
    /// gateway of its channel, or fails.
    Remove {
        /// Gateway id.
        id: String,
    },
}

/// Runs a notify command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: Cmd) -> Result<(), CliError> {
    let Cmd::Gateway(cmd) = cmd;
    let rid = ctx.request_id.clone();
    let mut notify = ctx.client.notify();
    match cmd {
        GatewayCmd::Add {
            id,
            url,
            channels,
            secret_file,
            max_in_flight,
            timeout,
            retry_for,
            replace,
            ca,
        } => {
            let ca_pem = match ca {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| CliError::Usage(format!("--ca {}: {e}", path.display())))?,
                None => String::new(),
            };
            let secret = match secret_file {
                Some(path) => read_secret(&path)?,
                None => String::new(),
            };
            let reply = notify
                .add_gateway(pb::AddGatewayRequest {
                    request_id: rid,
                    id,
                    url,
                    channels,
                    max_in_flight: max_in_flight.unwrap_or(0),
                    timeout_ms: timeout
                        .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX))
                        .unwrap_or(0),
                    retry_for_seconds: retry_for.map(|t| t.as_secs()).unwrap_or(0),
                    secret,
                    replace,
                    ca_pem,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "AddGatewayReply", true);
            }
            let gateway = reply.gateway.unwrap_or_default();
            writeln!(
                ctx.out,
                "gateway {} ({}) → {}",
                gateway.id,
                gateway.channels.join(", "),
                gateway.url
            )?;
            if !reply.secret.is_empty() {
                writeln!(ctx.out, "{}", reply.secret)?;
                writeln!(
                    ctx.out,
                    "(the shared secret, shown once: give it to the gateway's adapter now)"
                )?;
            }
            Ok(())
        }
        GatewayCmd::List => {
            let reply = notify
                .list_gateways(pb::ListGatewaysRequest {})
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "ListGatewaysReply", true);
            }
            let zone = ctx.zone().await?;
            let rows = reply
                .gateways
                .into_iter()
                .map(|g| {
                    let health = g.health.unwrap_or_default();
                    let state = if health.failures_in_a_row > 0 {
                        format!(
                            "FAILING ×{} since {}: {}",
                            health.failures_in_a_row,
                            time(health.failing_since.as_ref(), &zone),
                            health.last_error
                        )
                    } else if health.last_sent_at.is_some() {
                        format!(
                            "ok, last sent {}",
                            time(health.last_sent_at.as_ref(), &zone)
                        )
                    } else {
                        "not used yet".to_owned()
                    };
                    vec![
                        g.id,
                        g.channels.join(","),
                        g.url,
                        format!("{}/{}", health.in_flight, g.max_in_flight),
                        health.owed.to_string(),
                        state,
                    ]
                })
                .collect();
            table(
                ctx.out,
                &["ID", "SENDS", "URL", "IN FLIGHT", "OWED", "STATE"],
                rows,
            )
        }
        GatewayCmd::Test { id, to, channel } => {
            let reply = notify
                .test_gateway(pb::TestGatewayRequest {
                    id: id.clone(),
                    to,
                    channel: channel.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if ctx.json() {
                output::json(ctx.out, &reply, "TestGatewayReply", true)?;
            } else if reply.ok {
                writeln!(
                    ctx.out,
                    "gateway {id} took the test ({}, {} ms, key {})",
                    reply.status, reply.took_ms, reply.key
                )?;
            }
            if reply.ok {
                Ok(())
            } else {
                Err(CliError::Other(format!(
                    "gateway {id} did not take the test ({} ms): {}",
                    reply.took_ms, reply.error
                )))
            }
        }
        GatewayCmd::Remove { id } => {
            let gateway = notify
                .remove_gateway(pb::RemoveGatewayRequest {
                    request_id: rid,
                    id,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &gateway, "Gateway", true);
            }
            writeln!(ctx.out, "gateway {} removed", gateway.id)?;
            Ok(())
        }
    }
}

/// The secret in `path`, without the newline an editor leaves.
fn read_secret(path: &std::path::Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("--secret-file {}: {e}", path.display())))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// `10s`, `1500ms`, `30m`, `1h`.
fn parse_span(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let number = |suffix: &str| {
        text.strip_suffix(suffix)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    number("ms")
        .map(std::time::Duration::from_millis)
        .or_else(|| number("s").map(std::time::Duration::from_secs))
        .or_else(|| number("m").map(|n| std::time::Duration::from_secs(n.saturating_mul(60))))
        .or_else(|| number("h").map(|n| std::time::Duration::from_secs(n.saturating_mul(3600))))
        .ok_or_else(|| format!("{text:?} is not a time span (1500ms, 10s, 30m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::parse_span;
    use std::time::Duration;

    #[test]
    fn spans_read_with_their_unit() {
        assert_eq!(parse_span("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_span("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_span("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_span("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0s", "10", "-1s", "1d"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }
}
