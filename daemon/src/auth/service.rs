//! `TokenService`: create, list and revoke tokens (admin), and WhoAmI.

use dutyroom_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::auth::principal::Role;
use crate::auth::principal_of;
use crate::auth::require_admin;
use crate::auth::tokens::TokenRecord;
use crate::convert;
use crate::engine::Engine;
use crate::engine::command::{Command, Outcome};
use crate::error::{Error, Result};
use crate::validate::{self, MAX_NAME};

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The gRPC token service.
#[derive(Clone)]
pub struct Tokens {
    engine: Engine,
}

impl Tokens {
    /// Serves tokens through `engine`.
    pub fn new(engine: Engine) -> Self {
        Tokens { engine }
    }

    async fn run(
        &self,
        principal: crate::auth::principal::Principal,
        request_id: &str,
        command: Command,
    ) -> Result<(TokenRecord, Option<String>)> {
        let request_id = validate::request_id(request_id)?;
        match self.engine.submit(principal, request_id, command).await? {
            Outcome::Token { record, bearer } => Ok((record, bearer)),
            other => Err(Error::Storage(format!(
                "a token command answered with {other:?}"
            ))),
        }
    }
}

/// Every token record.
pub fn all_tokens(engine: &Engine) -> Result<Vec<TokenRecord>> {
    engine.store().tokens()
}

#[tonic::async_trait]
impl pb::token_service_server::TokenService for Tokens {
    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Reply<pb::CreateTokenReply> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::required("name", &r.name, MAX_NAME)?;
        let role: Role = r.role.trim().parse()?;
        let command = Command::CreateToken {
            name: r.name.trim().to_owned(),
            role,
            expires_at: convert::ts_in("expires_at", r.expires_at.as_ref())?,
            limits: crate::limits::TokenLimits {
                calls_per_second: r.calls_per_second,
                call_burst: r.call_burst,
                max_streams: r.max_streams,
            },
        };
        let (record, bearer) = self.run(principal, &r.request_id, command).await?;
        Ok(Response::new(pb::CreateTokenReply {
            token: Some(convert::token_out(&record, None)),
            secret: bearer.unwrap_or_default(),
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Reply<pb::ListTokensReply> {
        let principal = principal_of(&request)?;
        require_admin(&principal, "list tokens")?;
        let include_revoked = request.get_ref().include_revoked;
        let cache = self.engine.tokens();
        let tokens = all_tokens(&self.engine)?
            .iter()
            .filter(|t| include_revoked || t.revoked_at.is_none())
            .map(|record| {
                let used = cache.last_used(&record.id);
                convert::token_out(record, used)
            })
            .collect();
        Ok(Response::new(pb::ListTokensReply { tokens }))
    }

    async fn revoke_token(&self, request: Request<pb::RevokeTokenRequest>) -> Reply<pb::TokenInfo> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let id = r.id.trim().to_owned();
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                Error::invalid("id", "a token id is 8 hex digits (see `duty token list`)").into(),
            );
        }
        let (record, _) = self
            .run(principal, &r.request_id, Command::RevokeToken { id })
            .await?;
        Ok(Response::new(convert::token_out(&record, None)))
    }

    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> Reply<pb::Principal> {
        let principal = principal_of(&request)?;
        Ok(Response::new(convert::principal_out(&principal)))
    }
}
