//! What clients see of the data a connector reads: previews, sync runs, streams and records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Timestamp,
    Object,
    Array,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
            Self::Object => "object",
            Self::Array => "array",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// The first page of a stream, read from the provider and not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Preview {
    pub stream: String,
    /// Every stream the connector offers (for PostgreSQL, the tables found).
    pub streams: Vec<String>,
    pub columns: Vec<Column>,
    /// Up to ten records.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub records: Vec<serde_json::Value>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [Self::Queued, Self::Running, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    Manual,
    Schedule,
    /// A provider's webhook said something changed.
    Webhook,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Manual, Self::Schedule, Self::Webhook]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What a run changed in one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamCounts {
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl StreamCounts {
    pub fn add(&mut self, other: StreamCounts) {
        self.added += other.added;
        self.updated += other.updated;
        self.deleted += other.deleted;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncRunView {
    pub run_id: String,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    /// When it was asked for (RFC 3339).
    pub queued_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub full_refresh: bool,
    pub streams: BTreeMap<String, StreamCounts>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncRunList {
    pub runs: Vec<SyncRunView>,
}

/// 202 to a sync request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncQueued {
    pub run_id: String,
    pub status: RunStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamView {
    pub name: String,
    pub record_count: i64,
    pub last_synced_at: Option<String>,
    /// The field whose change times drive incremental reads, when the stream has one.
    pub cursor_field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamList {
    pub streams: Vec<StreamView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordView {
    /// The provider's id.
    pub id: String,
    /// The record as the provider last sent it (for a deletion, as last seen).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// When the hub stored this state (RFC 3339).
    pub updated_at: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    /// Where to go on from: present on every page, the last one included.
    pub next_cursor: String,
    /// Whether more records are waiting now.
    pub has_more: bool,
}

/// A PostgreSQL table as the table choice shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TableChoice {
    /// `schema.table`.
    pub name: String,
    /// Timestamp and integer columns that can mark changes.
    pub cursor_candidates: Vec<String>,
    /// Without a primary key, rows cannot be told apart between syncs: not offered.
    pub has_key: bool,
    pub chosen: bool,
    pub cursor: Option<String>,
}

/// A setting for reading data, with its current value (never a secret: the catalog refuses a
/// secret field set later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSetting {
    pub name: String,
    pub label: String,
    pub help: String,
    pub options: Vec<String>,
    pub example: Option<String>,
    pub value: Option<String>,
}

/// A stream the connection may not read, and the permissions (scopes) it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPermission {
    pub stream: String,
    pub scopes: Vec<String>,
}

/// What a connector's data page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataView {
    pub connector: crate::model::ConnectorView,
    pub streams: Vec<StreamView>,
    pub runs: Vec<SyncRunView>,
    /// The stream whose records are shown.
    pub stream: Option<String>,
    pub page: Option<RecordPage>,
    /// The records' top-level fields, the id first.
    pub columns: Vec<String>,
    pub settings: Vec<DataSetting>,
    /// How to register `connector.webhook_url` at the provider, for providers that send
    /// webhooks.
    #[serde(default)]
    pub webhook_setup: Option<String>,
    /// Whether the webhooks' signing secret is entered per connector (else it is the operator's).
    #[serde(default)]
    pub webhook_takes_secret: bool,
    /// Whether Connector Hub registers the address at the provider itself (a push channel).
    #[serde(default)]
    pub webhook_registers: bool,
    /// Streams the last sign-in was not granted a permission for, with the scopes they need.
    #[serde(default)]
    pub needs_permission: Vec<StreamPermission>,
    pub now_ms: i64,
}
