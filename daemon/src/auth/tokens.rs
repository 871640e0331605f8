//! Bearer tokens: generation, parsing and the stored record (secret hashed).
//!
//! A token reads `dty_<id>_<secret>`: `id` is 8 hex digits that name the
//! record, `secret` is 64 hex digits (256 random bits). Only the SHA-256 of
//! the secret is stored; it is compared in constant time.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::principal::{Principal, Role};
use crate::error::{Error, Result};

/// A token as stored: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// 8 hex digits.
    pub id: String,
    /// Label, usually the holder's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: Principal,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it stops working by itself, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Its own limits (unset: the daemon's defaults).
    #[serde(
        default,
        skip_serializing_if = "crate::limits::TokenLimits::is_default"
    )]
    pub limits: crate::limits::TokenLimits,
}

impl TokenRecord {
    /// The principal a request with this token acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            token_id: self.id.clone(),
            name: self.name.clone(),
            role: self.role.clone(),
        }
    }

    /// Why this token no longer works at `now` (revoked or expired), if so.
    pub fn refusal(&self, now: Timestamp) -> Option<String> {
        if self.revoked_at.is_some() {
            return Some(format!(
                "token {} was revoked; ask an administrator for a new one",
                self.id
            ));
        }
        match self.expires_at {
            Some(at) if at <= now => Some(format!(
                "token {} expired at {at}; ask an administrator for a new one",
                self.id
            )),
            _ => None,
        }
    }

    /// Does `secret` match, compared in constant time?
    pub fn matches(&self, secret: &str) -> bool {
        let presented = hash_secret(secret);
        presented
            .as_bytes()
            .ct_eq(self.secret_hash.as_bytes())
            .into()
    }
}

/// A change to a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenEvent {
    /// Created (the record has the hash only).
    Created(TokenRecord),
    /// Revoked.
    Revoked(TokenRecord),
}

impl TokenEvent {
    /// Stable dotted name.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenEvent::Created(_) => "token.created",
            TokenEvent::Revoked(_) => "token.revoked",
        }
    }

    /// The record after the change.
    pub fn record(&self) -> &TokenRecord {
        match self {
            TokenEvent::Created(record) | TokenEvent::Revoked(record) => record,
        }
    }
}

/// A freshly generated token: the id, the secret and the full bearer text.
pub struct NewToken {
    /// The record id.
    pub id: String,
    /// Hex SHA-256 of the secret, for the record.
    pub secret_hash: String,
    /// `dty_<id>_<secret>`: shown once.
    pub bearer: String,
}

/// Generates a token with 256 random bits of secret.
pub fn generate() -> Result<NewToken> {
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| Error::Unavailable(format!("no randomness for a token: {e}")))?;
    let id = hex(&id);
    let secret = hex(&secret);
    Ok(NewToken {
        bearer: format!("dty_{id}_{secret}"),
        secret_hash: hash_secret(&secret),
        id,
    })
}

/// Splits `dty_<id>_<secret>` into id and secret.
pub fn parse(bearer: &str) -> Result<(&str, &str)> {
    let malformed = || {
        Error::Unauthenticated(
            "malformed token: expected dty_<id>_<secret> as printed when it was created".into(),
        )
    };
    let rest = bearer.strip_prefix("dty_").ok_or_else(malformed)?;
    let (id, secret) = rest.split_once('_').ok_or_else(malformed)?;
    let is_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex(id, 8) || !is_hex(secret, 64) {
        return Err(malformed());
    }
    Ok((id, secret))
}

/// Hex SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_only_their_own_secret() {
        let token = generate().expect("token");
        let (id, secret) = parse(&token.bearer).expect("parses");
        assert_eq!(id, token.id);
        let record = TokenRecord {
            id: token.id.clone(),
            name: "王伟".into(),
            role: Role::Officer,
            secret_hash: token.secret_hash.clone(),
            created_at: Timestamp::UNIX_EPOCH,
            created_by: Principal::system(),
            revoked_at: None,
            expires_at: Some(Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(60)),
            limits: crate::limits::TokenLimits::default(),
        };
        assert!(record.matches(secret));
        assert_eq!(record.refusal(Timestamp::UNIX_EPOCH), None);
        let later = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(60);
        assert!(
            record
                .refusal(later)
                .is_some_and(|why| why.contains("expired"))
        );
        let other = generate().expect("token");
        let (_, other_secret) = parse(&other.bearer).expect("parses");
        assert!(!record.matches(other_secret));
    }

    #[test]
    fn malformed_tokens_are_unauthenticated() {
        for bad in [
            "",
            "Bearer x",
            "dty_",
            "dty_1234_abcd",
            "dty_zzzzzzzz_",
            "tok_x_y",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::Unauthenticated(_))),
                "{bad}"
            );
        }
    }
}
