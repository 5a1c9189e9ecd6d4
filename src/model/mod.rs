//! The shapes that cross the wire: what the REST API returns and what the UI renders.
//!
//! None of these types has a field for a credential or its ciphertext: a view cannot leak what it
//! cannot hold.

pub mod data;
pub(crate) mod webhooks;
pub(crate) mod wizard;

use crate::error::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Pending,
    Active,
    Error,
    AuthorizationRequired,
}

impl ConnectorStatus {
    pub(crate) const ALL: [ConnectorStatus; 4] = [
        Self::Pending,
        Self::Active,
        Self::Error,
        Self::AuthorizationRequired,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Error => "error",
            Self::AuthorizationRequired => "authorization_required",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Pending => "Not tested",
            Self::Active => "Connected",
            Self::Error => "Error",
            Self::AuthorizationRequired => "Reconnect needed",
        }
    }
}

impl fmt::Display for ConnectorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncFrequency {
    Manual,
    Hourly,
    #[default]
    Daily,
    Weekly,
}

impl SyncFrequency {
    pub(crate) const ALL: [SyncFrequency; 4] =
        [Self::Manual, Self::Hourly, Self::Daily, Self::Weekly];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Manual => "Manually",
            Self::Hourly => "Every hour",
            Self::Daily => "Every day",
            Self::Weekly => "Every week",
        }
    }
}

/// A connector as any client sees it: metadata only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectorView {
    pub(crate) connector_id: String,
    pub(crate) connector_type: String,
    pub(crate) display_name: String,
    pub(crate) status: ConnectorStatus,
    pub(crate) sync_frequency: SyncFrequency,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) created_by: String,
    pub(crate) updated_by: String,
    pub(crate) last_tested_at: Option<String>,
    pub(crate) last_sync_at: Option<String>,
    pub(crate) error_code: Option<ErrorCode>,
    pub(crate) error_message: Option<String>,
    /// When the OAuth2 access token expires (renewed automatically when it can be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_expires_at: Option<String>,
    /// Things that will break soon unless someone acts: a sign-in about to be revoked for
    /// disuse, a token that expires and cannot be renewed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
    /// Where the provider sends its webhooks for this connector, for providers that send them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) webhook_url: Option<String>,
    /// When the push channel the hub opened to `webhook_url` lapses (Google Drive); the hub
    /// opens the next one a day before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) webhook_channel_expires_at: Option<String>,
}

/// One page of a tenant's connectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectorPage {
    pub(crate) connectors: Vec<ConnectorView>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// The outcome of a connection test. `details` carries non-secret facts the check learned
/// (account name, key mode, organisations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CheckResult {
    pub(crate) success: bool,
    pub(crate) error_code: Option<ErrorCode>,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) field: Option<String>,
    #[serde(default)]
    pub(crate) details: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after: Option<u64>,
    pub(crate) tested_at: String,
    pub(crate) duration_ms: u64,
}

/// Who is signed in, as far as the UI needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub(crate) tenant_id: String,
    pub(crate) user_id: String,
}

/// What an audit entry records. Stored and sent as its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "create")]
    Create,
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "replace_credentials")]
    ReplaceCredentials,
    #[serde(rename = "test")]
    Test,
    #[serde(rename = "test_unsaved")]
    TestUnsaved,
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "clear_error")]
    ClearError,
    #[serde(rename = "oauth_start")]
    OAuthStart,
    #[serde(rename = "oauth_connect")]
    OAuthConnect,
    #[serde(rename = "refresh")]
    Refresh,
    #[serde(rename = "rotate_key")]
    RotateKey,
    /// A request with a missing, invalid or expired token.
    #[serde(rename = "authenticate")]
    Authenticate,
    /// A cross-site state-changing request.
    #[serde(rename = "origin_check")]
    OriginCheck,
    /// A sign-in link followed without a valid token.
    #[serde(rename = "sign_in")]
    SignIn,
    #[serde(rename = "rate_limit:reads")]
    RateLimitReads,
    #[serde(rename = "rate_limit:writes")]
    RateLimitWrites,
    #[serde(rename = "rate_limit:tests")]
    RateLimitTests,
    /// The first page of a stream read from the provider, not stored.
    #[serde(rename = "preview")]
    Preview,
    /// A sync asked for.
    #[serde(rename = "sync")]
    Sync,
    /// Synced records read through the API.
    #[serde(rename = "read_records")]
    ReadRecords,
    #[serde(rename = "rate_limit:proxy")]
    RateLimitProxy,
    #[serde(rename = "rate_limit:mcp")]
    RateLimitMcp,
    /// A call forwarded to the provider with the stored credential.
    #[serde(rename = "proxy")]
    Proxy,
    /// A webhook endpoint created, changed, deleted, its secret rotated or a delivery replayed.
    #[serde(rename = "webhook_endpoint")]
    WebhookEndpoint,
    /// A provider push channel renewed by the hub before it lapsed.
    #[serde(rename = "webhook_channel")]
    WebhookChannel,
    /// A person allowed (or denied) an MCP client to act in their name.
    #[serde(rename = "agent_authorize")]
    AgentAuthorize,
    /// Tokens issued to an MCP client (for a code, or a rotated refresh token).
    #[serde(rename = "agent_token")]
    AgentToken,
    /// A code or refresh token presented again: its whole grant was revoked.
    #[serde(rename = "agent_token_reuse")]
    AgentTokenReuse,
    /// An MCP client's grant revoked, by its person or by the client.
    #[serde(rename = "agent_revoke")]
    AgentRevoke,
}

impl AuditAction {
    pub(crate) const ALL: [AuditAction; 30] = [
        Self::Create,
        Self::Read,
        Self::Update,
        Self::ReplaceCredentials,
        Self::Test,
        Self::TestUnsaved,
        Self::Delete,
        Self::ClearError,
        Self::OAuthStart,
        Self::OAuthConnect,
        Self::Refresh,
        Self::RotateKey,
        Self::Authenticate,
        Self::OriginCheck,
        Self::SignIn,
        Self::RateLimitReads,
        Self::RateLimitWrites,
        Self::RateLimitTests,
        Self::Preview,
        Self::Sync,
        Self::ReadRecords,
        Self::RateLimitProxy,
        Self::RateLimitMcp,
        Self::Proxy,
        Self::WebhookEndpoint,
        Self::WebhookChannel,
        Self::AgentAuthorize,
        Self::AgentToken,
        Self::AgentTokenReuse,
        Self::AgentRevoke,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::ReplaceCredentials => "replace_credentials",
            Self::Test => "test",
            Self::TestUnsaved => "test_unsaved",
            Self::Delete => "delete",
            Self::ClearError => "clear_error",
            Self::OAuthStart => "oauth_start",
            Self::OAuthConnect => "oauth_connect",
            Self::Refresh => "refresh",
            Self::RotateKey => "rotate_key",
            Self::Authenticate => "authenticate",
            Self::OriginCheck => "origin_check",
            Self::SignIn => "sign_in",
            Self::RateLimitReads => "rate_limit:reads",
            Self::RateLimitWrites => "rate_limit:writes",
            Self::RateLimitTests => "rate_limit:tests",
            Self::Preview => "preview",
            Self::Sync => "sync",
            Self::ReadRecords => "read_records",
            Self::RateLimitProxy => "rate_limit:proxy",
            Self::RateLimitMcp => "rate_limit:mcp",
            Self::Proxy => "proxy",
            Self::WebhookEndpoint => "webhook_endpoint",
            Self::WebhookChannel => "webhook_channel",
            Self::AgentAuthorize => "agent_authorize",
            Self::AgentToken => "agent_token",
            Self::AgentTokenReuse => "agent_token_reuse",
            Self::AgentRevoke => "agent_revoke",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// How the audit page names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::ReplaceCredentials => "replace credentials",
            Self::Test => "test",
            Self::TestUnsaved => "test unsaved",
            Self::Delete => "delete",
            Self::ClearError => "clear error",
            Self::OAuthStart => "oauth start",
            Self::OAuthConnect => "oauth connect",
            Self::Refresh => "refresh",
            Self::RotateKey => "rotate key",
            Self::Authenticate => "sign-in token",
            Self::OriginCheck => "cross-site request",
            Self::SignIn => "sign-in link",
            Self::RateLimitReads => "rate limit (reads)",
            Self::RateLimitWrites => "rate limit (writes)",
            Self::RateLimitTests => "rate limit (tests)",
            Self::Preview => "preview",
            Self::Sync => "sync",
            Self::ReadRecords => "read records",
            Self::RateLimitProxy => "rate limit: proxy",
            Self::RateLimitMcp => "rate limit: MCP",
            Self::Proxy => "proxy",
            Self::WebhookEndpoint => "webhook endpoint",
            Self::WebhookChannel => "push channel renewed",
            Self::AgentAuthorize => "app allowed (MCP)",
            Self::AgentToken => "app tokens issued (MCP)",
            Self::AgentTokenReuse => "app token reused (MCP)",
            Self::AgentRevoke => "app revoked (MCP)",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Done (or, for a test, run: the test's own result is on the connector).
    Ok,
    /// Refused by the hub: not found, rate limited, not signed in.
    Refused,
    /// Declined by the person at the provider's consent screen.
    Denied,
    /// Attempted and failed at the provider.
    Error,
}

impl AuditOutcome {
    pub(crate) const ALL: [AuditOutcome; 4] = [Self::Ok, Self::Refused, Self::Denied, Self::Error];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit log entry as the tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) struct AuditEntryView {
    pub(crate) seq: i64,
    pub(crate) at: String,
    pub(crate) user_id: String,
    pub(crate) action: String,
    pub(crate) connector_id: Option<String>,
    pub(crate) outcome: String,
    pub(crate) error_code: Option<String>,
    /// What else there is to say (how many refusals a per-minute summary stands for).
    #[serde(default)]
    pub(crate) detail: Option<String>,
    pub(crate) client: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub(crate) entries: Vec<AuditEntryView>,
    /// Pass as `before` for older entries; absent on the last page.
    pub(crate) next_before: Option<i64>,
    pub(crate) now_ms: i64,
}
