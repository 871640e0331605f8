//! `duty token …`: create, list, revoke tokens; whoami.

use clap::Subcommand;
use dutyroom_proto::v1 as pb;

use crate::cli::output::{self, table, time};
use crate::cli::{CliError, Ctx};

/// The token commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Creates a token and prints its secret once.
    Create {
        /// Label, usually the holder's name.
        #[arg(long)]
        name: String,
        /// admin, officer, leader, post:<id>, unit:<id> or gateway:<id> (a gateway adapter: it may only report deliveries).
        #[arg(long)]
        role: String,
        /// When it stops working: a time from now (`90m`, `12h`, `30d`) or
        /// an RFC 3339 time (`2027-01-01T00:00:00+08:00`). Default: never.
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<jiff::Timestamp>,
        /// Its own calls per second (0: unlimited) [default: dutyd's].
        #[arg(long)]
        calls_per_second: Option<u32>,
        /// Its own burst of calls [default: dutyd's].
        #[arg(long)]
        burst: Option<u32>,
        /// Its own number of Watch streams open at once (0: unlimited)
        /// [default: dutyd's].
        #[arg(long)]
        streams: Option<u32>,
    },
    /// Lists tokens (never their secrets).
    List {
        /// Include revoked tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revokes a token: refused from the next call on.
    Revoke {
        /// Token id (8 hex digits, see `duty token list`).
        id: String,
    },
    /// Shows who the current token is.
    Whoami,
}

/// Runs a token command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: Cmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut tokens = ctx.client.tokens();
    match cmd {
        Cmd::Create {
            name,
            role,
            expires,
            calls_per_second,
            burst,
            streams,
        } => {
            let reply = tokens
                .create_token(pb::CreateTokenRequest {
                    request_id: rid,
                    name,
                    role,
                    expires_at: expires.map(|at| prost_types::Timestamp {
                        seconds: at.as_second(),
                        nanos: at.subsec_nanosecond(),
                    }),
                    calls_per_second,
                    call_burst: burst,
                    max_streams: streams,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "CreateTokenReply", true);
            }
            let info = reply.token.unwrap_or_default();
            writeln!(ctx.out, "token {} ({}, {})", info.id, info.name, info.role)?;
            if reply.secret.is_empty() {
                writeln!(
                    ctx.out,
                    "(a retried request: the secret was shown the first time only)"
                )?;
            } else {
                writeln!(ctx.out, "{}", reply.secret)?;
                writeln!(ctx.out, "(shown once: store it now)")?;
            }
            Ok(())
        }
        Cmd::List { all } => {
            let reply = tokens
                .list_tokens(pb::ListTokensRequest {
                    include_revoked: all,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "ListTokensReply", true);
            }
            let zone = ctx.zone().await?;
            let rows = reply
                .tokens
                .into_iter()
                .map(|t| {
                    vec![
                        t.id,
                        t.name,
                        t.role,
                        time(t.created_at.as_ref(), &zone),
                        time(t.expires_at.as_ref(), &zone),
                        time(t.last_used_at.as_ref(), &zone),
                        time(t.revoked_at.as_ref(), &zone),
                    ]
                })
                .collect();
            table(
                ctx.out,
                &[
                    "ID",
                    "NAME",
                    "ROLE",
                    "CREATED",
                    "EXPIRES",
                    "LAST USED",
                    "REVOKED",
                ],
                rows,
            )
        }
        Cmd::Revoke { id } => {
            let info = tokens
                .revoke_token(pb::RevokeTokenRequest {
                    request_id: rid,
                    id,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &info, "TokenInfo", true);
            }
            writeln!(ctx.out, "token {} ({}) revoked", info.id, info.name)?;
            Ok(())
        }
        Cmd::Whoami => {
            let me = tokens.who_am_i(pb::WhoAmIRequest {}).await?.into_inner();
            if ctx.json() {
                return output::json(ctx.out, &me, "Principal", true);
            }
            writeln!(ctx.out, "{} ({}), token {}", me.name, me.role, me.token_id)?;
            Ok(())
        }
    }
}

/// `--expires`: `90m`, `12h`, `30d` from now, or an RFC 3339 time.
fn parse_expiry(text: &str) -> Result<jiff::Timestamp, String> {
    let text = text.trim();
    let unit = |suffix: char, seconds: i64| {
        text.strip_suffix(suffix)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.saturating_mul(seconds))
    };
    let relative = unit('m', 60)
        .or_else(|| unit('h', 3600))
        .or_else(|| unit('d', 86_400));
    if let Some(seconds) = relative {
        return jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .map_err(|e| e.to_string());
    }
    text.parse::<jiff::Timestamp>().map_err(|_| {
        format!("{text:?} is neither a time from now (90m, 12h, 30d) nor an RFC 3339 time")
    })
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn expiry_reads_spans_from_now_and_absolute_times() {
        let now = jiff::Timestamp::now();
        let day = parse_expiry("1d").expect("1d");
        let off = day.duration_since(now).as_secs();
        assert!((86_390..=86_410).contains(&off), "{off}");
        assert_eq!(
            parse_expiry("2027-01-01T00:00:00+08:00")
                .expect("rfc 3339")
                .as_second(),
            1_798_732_800
        );
        for bad in ["", "0d", "-1h", "soon", "5y"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
