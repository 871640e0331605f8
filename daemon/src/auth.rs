//! Authentication and authorisation.
//!
//! - [`principal`]: roles and the principal recorded on every event.
//! - [`tokens`]: bearer token format, hashing and the stored record.
//! - [`service`]: the gRPC `TokenService`.
//! - [`TokenCache`] + [`Authenticator`]: the interceptor that turns an
//!   `authorization: Bearer …` header into a [`Principal`] in the request's
//!   extensions (constant-time secret comparison).
//! - `require_*`: the role checks each command handler makes, in one place.
//!   What a principal may *see* is [`crate::visibility`]'s.

pub mod principal;
pub mod service;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;

use tonic::{Request, Status};

use crate::error::{Error, Result};
use principal::{Principal, Role};
use tokens::TokenRecord;

/// Every token record, kept in memory for the interceptor. The engine's
/// flusher updates it once a token change is durable, and tells open
/// streams (a revoked token's Watch ends at once). It also keeps when each
/// token was last used, in memory only: a store write per call would cost
/// more than the answer is worth.
#[derive(Debug)]
pub struct TokenCache {
    tokens: RwLock<HashMap<String, TokenRecord>>,
    last_used: Mutex<HashMap<String, Timestamp>>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Vec::new())
    }
}

impl TokenCache {
    /// A cache holding `records`.
    pub fn new(records: impl IntoIterator<Item = TokenRecord>) -> Self {
        TokenCache {
            tokens: RwLock::new(records.into_iter().map(|r| (r.id.clone(), r)).collect()),
            last_used: Mutex::new(HashMap::new()),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// Adds or replaces a record, and wakes every stream to re-check its token.
    pub fn upsert(&self, record: TokenRecord) {
        let mut tokens = self
            .tokens
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        tokens.insert(record.id.clone(), record);
        drop(tokens);
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// Fires after every token change (streams re-check theirs).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// UNAUTHENTICATED once token `id` is revoked, expired or gone: for
    /// streams, which outlive the call that authenticated them.
    pub fn check(&self, id: &str, now: Timestamp) -> Result<()> {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        match tokens.get(id) {
            None => Err(Error::Unauthenticated(format!("token {id} is gone"))),
            Some(record) => match record.refusal(now) {
                Some(why) => Err(Error::Unauthenticated(why)),
                None => Ok(()),
            },
        }
    }

    /// Token `id`'s own limits (the defaults when it has none).
    pub fn limits(&self, id: &str) -> crate::limits::TokenLimits {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        tokens.get(id).map(|t| t.limits).unwrap_or_default()
    }

    /// When token `id` last authenticated a call, since dutyd started.
    pub fn last_used(&self, id: &str) -> Option<Timestamp> {
        self.last_used
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(id)
            .copied()
    }

    /// Number of usable (unrevoked) tokens.
    pub fn active(&self) -> usize {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        tokens.values().filter(|t| t.revoked_at.is_none()).count()
    }

    /// The principal for a bearer token at `now`, or UNAUTHENTICATED.
    pub fn authenticate(&self, bearer: &str, now: Timestamp) -> Result<Principal> {
        let (id, secret) = tokens::parse(bearer)?;
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let record = tokens
            .get(id)
            .filter(|record| record.matches(secret))
            .ok_or_else(|| Error::Unauthenticated("unknown token".into()))?;
        if let Some(why) = record.refusal(now) {
            return Err(Error::Unauthenticated(why));
        }
        let principal = record.principal();
        drop(tokens);
        self.last_used
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(principal.token_id.clone(), now);
        Ok(principal)
    }
}

/// The tonic interceptor: authenticates every call.
#[derive(Clone)]
pub struct Authenticator {
    cache: Arc<TokenCache>,
    presence: Arc<crate::presence::Presence>,
    clock: Arc<dyn crate::clock::Clock>,
    limiter: Arc<crate::limits::Limiter>,
    /// Client certificates are required (mTLS) and bind tokens.
    mtls: bool,
    /// Gateway tokens may pass (only on the notify service).
    gateways: bool,
}

impl Authenticator {
    /// Authenticates against `cache`; every call of a post or unit counts
    /// as seeing it.
    pub fn new(
        cache: Arc<TokenCache>,
        presence: Arc<crate::presence::Presence>,
        clock: Arc<dyn crate::clock::Clock>,
        limiter: Arc<crate::limits::Limiter>,
    ) -> Self {
        Authenticator {
            cache,
            presence,
            clock,
            limiter,
            mtls: false,
            gateways: false,
        }
    }

    /// The same door, also letting gateway tokens through: for the one
    /// service a gateway calls (which lets them call only ReportDelivery).
    /// Every other service refuses a gateway token before any handler runs.
    pub fn letting_gateways_in(&self) -> Self {
        Authenticator {
            gateways: true,
            ..self.clone()
        }
    }

    /// Requires a client certificate on every call, bound to the token's
    /// post, unit or (for centre roles) `centre` ([`crate::tls`]).
    pub fn requiring_client_certificates(mut self) -> Self {
        self.mtls = true;
        self
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| {
                Status::unauthenticated(
                    "no token: send `authorization: Bearer <token>` (duty: --token or DUTY_TOKEN)",
                )
            })?
            .to_str()
            .map_err(|_| Status::unauthenticated("the authorization header is not text"))?;
        let bearer = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("the authorization header must read `Bearer <token>`")
            })?;
        let principal = self.cache.authenticate(bearer.trim(), self.clock.now())?;
        if matches!(principal.role, Role::Gateway(_)) && !self.gateways {
            return Err(Status::permission_denied(
                "a gateway token may only report deliveries (NotifyService.ReportDelivery)",
            ));
        }
        if self.mtls {
            check_certificate(&request, &principal)?;
        }
        self.limiter.call(
            &principal.token_id,
            self.cache.limits(&principal.token_id),
            std::time::Instant::now(),
        )?;
        if let Some(who) = crate::presence::client_of(&principal) {
            self.presence.seen(&who);
        }
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

/// With mTLS: the connection's verified client certificate must be bound to
/// the token's identity. (The handshake already checked the chain; a
/// missing certificate is allowed there so that it is refused here, clearly.)
fn check_certificate(
    request: &Request<()>,
    principal: &Principal,
) -> std::result::Result<(), Status> {
    let certs = request.peer_certs().ok_or_else(|| {
        Status::unauthenticated(
            "this dutyd requires a client certificate (mTLS): present the one made for you              with `dutyd cert client` (duty: --cert and --key)",
        )
    })?;
    let bound = certs
        .first()
        .and_then(|leaf| crate::tls::identity_of(leaf.as_ref()))
        .ok_or_else(|| {
            Status::unauthenticated("the client certificate names no identity (subject CN)")
        })?;
    if !crate::tls::matches(&bound, principal) {
        return Err(Status::unauthenticated(format!(
            "the client certificate is bound to {bound}, which cannot carry a token of role {}",
            principal.role
        )));
    }
    Ok(())
}

/// The principal the interceptor put on a request.
pub fn principal_of<T>(request: &Request<T>) -> std::result::Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("request was not authenticated"))
}

fn role_list(roles: &[&str]) -> String {
    match roles {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn require(principal: &Principal, allowed: &[&str], action: &str, ok: bool) -> Result<()> {
    if ok {
        return Ok(());
    }
    Err(Error::denied(format!(
        "role {} may not {action}; that needs {}",
        principal.role,
        role_list(allowed)
    )))
}

/// Admin only.
pub fn require_admin(principal: &Principal, action: &str) -> Result<()> {
    let ok = matches!(principal.role, Role::Admin | Role::System);
    require(principal, &["admin"], action, ok)
}

/// Duty leader (or admin).
pub fn require_leader(principal: &Principal, action: &str) -> Result<()> {
    let ok = matches!(principal.role, Role::Leader | Role::Admin | Role::System);
    require(principal, &["leader", "admin"], action, ok)
}

/// A centre role: officer, leader or admin.
pub fn require_centre(principal: &Principal, action: &str) -> Result<()> {
    require(
        principal,
        &["officer", "leader", "admin"],
        action,
        principal.role.is_centre(),
    )
}
