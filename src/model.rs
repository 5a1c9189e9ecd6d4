//! The shapes that cross the wire: what the REST API returns and what the UI renders.
//!
//! None of these types has a field for a credential or its ciphertext: a view cannot leak what it
//! cannot hold.

use crate::error::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Pending,
    Active,
    Error,
    AuthorizationRequired,
}

impl ConnectorStatus {
    pub const ALL: [ConnectorStatus; 4] = [
        Self::Pending,
        Self::Active,
        Self::Error,
        Self::AuthorizationRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Error => "error",
            Self::AuthorizationRequired => "authorization_required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
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
#[serde(rename_all = "snake_case")]
pub enum SyncFrequency {
    Manual,
    Hourly,
    #[default]
    Daily,
    Weekly,
}

impl SyncFrequency {
    pub const ALL: [SyncFrequency; 4] = [Self::Manual, Self::Hourly, Self::Daily, Self::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
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
pub struct ConnectorView {
    pub connector_id: String,
    pub connector_type: String,
    pub display_name: String,
    pub status: ConnectorStatus,
    pub sync_frequency: SyncFrequency,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    pub last_tested_at: Option<String>,
    pub last_sync_at: Option<String>,
    pub error_code: Option<ErrorCode>,
    pub error_message: Option<String>,
    /// When the OAuth2 access token expires (renewed automatically when it can be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
    /// Things that will break soon unless someone acts: a sign-in about to be revoked for
    /// disuse, a token that expires and cannot be renewed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One page of a tenant's connectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorPage {
    pub connectors: Vec<ConnectorView>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The outcome of a connection test. `details` carries non-secret facts the check learned
/// (account name, key mode, organisations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub success: bool,
    pub error_code: Option<ErrorCode>,
    pub message: String,
    pub hint: Option<String>,
    pub field: Option<String>,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    pub tested_at: String,
    pub duration_ms: u64,
}

/// Who is signed in, as far as the UI needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub tenant_id: String,
    pub user_id: String,
}

/// One audit log entry as the tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub user_id: String,
    pub action: String,
    pub connector_id: Option<String>,
    pub outcome: String,
    pub error_code: Option<String>,
    pub client: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for older entries; absent on the last page.
    pub next_before: Option<i64>,
    pub now_ms: i64,
}
