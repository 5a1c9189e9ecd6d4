//! The hub as the OAuth 2.1 authorization server of its own MCP server (`/mcp`), as the MCP
//! specification's authorization asks: clients register themselves (RFC 7591, public clients
//! only), a signed-in person allows one to act in their name (`consent`), and the client trades
//! the one-time code for tokens with PKCE (`tokens`). What a person allowed is a grant: every
//! code and token issued from one consent hangs off it, and revoking it (the person on the
//! Connected apps page, a client through the revocation endpoint, or the hub on a reused code or
//! refresh token) stops all of them at once, because every use checks the grant in the store.
//!
//! Codes and tokens are random, given out once and stored as SHA-256 hashes only; none is ever
//! logged or audited (audit entries name the client and the grant).

mod clients;
mod consent;
mod tokens;

pub use clients::Registration;
pub use consent::{AuthorizeRequest, Consent, Refusal};
pub use tokens::ACCESS_PREFIX;

use super::{Gate, Parts};
use crate::auth::Principal;
use crate::error::ErrorCode;
use crate::model::{AuditAction, AuditOutcome};
use crate::service::Caller;
use crate::store::Store;
use crate::vault::Vault;
use std::sync::Arc;

/// The scopes an agent may be granted.
pub const SCOPE_READ: &str = "mcp:read";
pub const SCOPE_WRITE: &str = "mcp:write";

/// How long an authorization code may wait to be traded: a client does it at once.
const CODE_MS: i64 = 60_000;
/// How long an access token works: short, so a leaked one is soon worthless.
pub const ACCESS_TOKEN_SECS: i64 = 3_600;
/// How long a refresh token may wait to be used (each use rotates it).
pub const REFRESH_TOKEN_SECS: i64 = 30 * 86_400;
/// How long a consent page may stay open before its form is refused.
const CONSENT_MS: i64 = 10 * 60_000;
/// A grant's last use is written at most this often (one write per minute, not per call).
const TOUCH_EVERY_MS: i64 = 60_000;

/// An error at an OAuth endpoint, as RFC 6749 §5.2 names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant`, `invalid_client`, …
    pub error: &'static str,
    /// What went wrong, for the client's developer (never a secret).
    pub description: String,
    pub status: u16,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => 401,
            "temporarily_unavailable" => 503,
            _ => 400,
        };
        Self {
            error,
            description: description.into(),
            status,
        }
    }
}

/// Issues and checks agents' grants and tokens.
pub struct AgentAuth {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    gate: Arc<Gate>,
    /// The issuer (the hub's public address) and the one resource tokens are for (`/mcp`).
    issuer: String,
    resource: String,
}

impl AgentAuth {
    pub(super) fn new(parts: &Parts, public_url: &str) -> Self {
        let issuer = public_url.trim_end_matches('/').to_owned();
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            gate: parts.gate.clone(),
            resource: format!("{issuer}{}", MCP_PATH),
            issuer,
        }
    }

    /// The hub's address, as this server's issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Writes an audit entry about a grant in its person's tenant: who, which client, which
    /// grant, and what happened. Best effort where the action already happened (the answer is
    /// on its way); the caller decides.
    async fn audit(
        &self,
        who: &Caller,
        action: AuditAction,
        outcome: AuditOutcome,
        code: Option<ErrorCode>,
        detail: String,
    ) -> Result<(), crate::error::Error> {
        let mut entry = Gate::entry(who, action, None, outcome, code);
        Gate::add_detail(&mut entry, detail);
        self.gate.append(entry).await
    }
}

/// Where the MCP server is served (the resource its tokens are for).
const MCP_PATH: &str = "/mcp";

/// The person a grant was allowed by, as a caller from `client`.
fn grant_caller(grant: &crate::store::AgentGrantRecord, client: &str) -> Caller {
    Caller::new(
        Principal {
            tenant: grant.tenant_id.clone(),
            user: grant.user_id.clone(),
            via_cookie: false,
            expires_at: 0,
        },
        client,
    )
}

/// Hex SHA-256: how codes and tokens are stored and looked up.
fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal in time independent of where they differ (for secrets compared in memory).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The scopes asked for, checked against the ones there are: `None` when one is unknown.
/// Nothing asked for is `mcp:read` alone (least privilege).
fn parse_scopes(asked: Option<&str>) -> Option<String> {
    let asked: Vec<&str> = asked.unwrap_or_default().split_whitespace().collect();
    if asked.is_empty() {
        return Some(SCOPE_READ.to_owned());
    }
    if asked.iter().any(|s| *s != SCOPE_READ && *s != SCOPE_WRITE) {
        return None;
    }
    // In one order, each once, whatever order they came in.
    let granted: Vec<&str> = [SCOPE_READ, SCOPE_WRITE]
        .into_iter()
        .filter(|s| asked.contains(s))
        .collect();
    Some(granted.join(" "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scopes_are_known_ones_in_one_order() {
        assert_eq!(super::parse_scopes(None).as_deref(), Some("mcp:read"));
        assert_eq!(
            super::parse_scopes(Some("mcp:write mcp:read mcp:write")).as_deref(),
            Some("mcp:read mcp:write")
        );
        assert_eq!(super::parse_scopes(Some("mcp:read admin")), None);
    }

    #[test]
    fn comparison_is_exact() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abc", b"abd"));
        assert!(!super::same(b"abc", b"abcd"));
    }
}
