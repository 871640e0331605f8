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
        /// admin, officer, leader, post:<id> or unit:<id>.
        #[arg(long)]
        role: String,
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
        Cmd::Create { name, role } => {
            let reply = tokens
                .create_token(pb::CreateTokenRequest {
                    request_id: rid,
                    name,
                    role,
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
                        time(t.revoked_at.as_ref(), &zone),
                    ]
                })
                .collect();
            table(ctx.out, &["ID", "NAME", "ROLE", "CREATED", "REVOKED"], rows)
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
