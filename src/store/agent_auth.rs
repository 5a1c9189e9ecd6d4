//! The storage port for the hub as an OAuth 2.1 authorization server for AI agents (`/mcp`):
//! the clients that registered themselves, the grants people allowed (one per consent; a grant
//! is the family of every code and token issued from it), and those codes and tokens — kept
//! only as SHA-256 hashes of themselves, so a copy of the store holds nothing to present.
//!
//! A grant is alive until it is revoked; every token is checked against its grant when used, so
//! revoking a grant stops its access and refresh tokens at once.

use super::StoreError;
use crate::ids::TenantId;
use async_trait::async_trait;

/// How long a registered client nobody has allowed is kept. Registering needs no credential
/// (RFC 7591), so what anonymous callers leave behind must go: each registration first removes
/// (a batch of) clients older than this, registered that long before it, without a grant.
pub const UNUSED_CLIENT_KEPT_MS: i64 = 24 * 3600 * 1000;

/// How many unused clients one registration removes at most (the rest go with the next ones).
pub(crate) const UNUSED_CLIENTS_PER_REGISTRATION: i64 = 100;

/// A client that registered itself (RFC 7591): public, so it has no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentClientRecord {
    pub client_id: String,
    pub client_name: String,
    /// Exactly as registered; an authorization request must name one of them exactly.
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
}

/// What a person allowed a client to do in their name, and everything issued under it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentGrantRecord {
    pub grant_id: String,
    pub tenant_id: TenantId,
    pub user_id: String,
    pub client_id: String,
    /// The client's name as the person saw it when they allowed it.
    pub client_name: String,
    pub redirect_uri: String,
    /// The PKCE S256 challenge the code is bound to.
    pub code_challenge: String,
    /// Space-separated, as OAuth writes them (`mcp:read mcp:write`).
    pub scopes: String,
    /// The resource (RFC 8707) its tokens are for.
    pub resource: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a stored token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTokenKind {
    /// The one-time token binding a consent form to the request it was shown for.
    Consent,
    /// An authorization code.
    Code,
    Access,
    Refresh,
}

impl AgentTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Code => "code",
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Consent, Self::Code, Self::Access, Self::Refresh]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A code or token, by the hash of itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTokenRecord {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub kind: AgentTokenKind,
    /// The grant it was issued under (empty for a consent token, which precedes its grant).
    pub grant_id: String,
    pub tenant_id: TenantId,
    pub expires_at: i64,
    /// When it was first used, for the single-use kinds (consent, code, refresh).
    pub used_at: Option<i64>,
}

#[async_trait]
pub trait AgentAuthStore: Send + Sync {
    async fn put_agent_client(&self, client: &AgentClientRecord) -> Result<(), StoreError>;
    async fn get_agent_client(
        &self,
        client_id: &str,
    ) -> Result<Option<AgentClientRecord>, StoreError>;

    /// Stores a new grant and the authorization code issued with it.
    async fn put_agent_grant(
        &self,
        grant: &AgentGrantRecord,
        code: &AgentTokenRecord,
    ) -> Result<(), StoreError>;
    /// The grant, revoked or not (the caller checks `revoked_at`).
    async fn get_agent_grant(&self, grant_id: &str)
        -> Result<Option<AgentGrantRecord>, StoreError>;
    /// The user's grants that are not revoked, newest first.
    async fn list_agent_grants(
        &self,
        tenant: &TenantId,
        user: &str,
    ) -> Result<Vec<AgentGrantRecord>, StoreError>;
    /// Revokes the grant if it is this tenant's and user's and still alive, and deletes every
    /// token issued under it; false when there was no such live grant.
    async fn revoke_agent_grant(
        &self,
        tenant: &TenantId,
        user: &str,
        grant_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Records that the grant was used at `now`.
    async fn touch_agent_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError>;

    /// Stores tokens (an access token and its refresh token, a consent token).
    async fn put_agent_tokens(&self, tokens: &[AgentTokenRecord]) -> Result<(), StoreError>;
    async fn get_agent_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AgentTokenRecord>, StoreError>;
    /// Marks the token used at `now` if it was not, atomically, and returns it as it was
    /// before: `used_at` is `None` for exactly one caller, however many race.
    async fn use_agent_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AgentTokenRecord>, StoreError>;
}
