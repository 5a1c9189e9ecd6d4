//! What clients see of the data a connector reads: previews, sync runs, streams and records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum ColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Timestamp,
    Object,
    Array,
}

impl ColumnType {
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) struct Column {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) column_type: ColumnType,
}

/// The first page of a stream, read from the provider and not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Preview {
    pub(crate) stream: String,
    /// Every stream the connector offers (for PostgreSQL, the tables found).
    pub(crate) streams: Vec<String>,
    pub(crate) columns: Vec<Column>,
    /// Up to ten records.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub(crate) records: Vec<serde_json::Value>,
    pub(crate) has_more: bool,
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
    #[cfg(feature = "ssr")]
    pub(crate) const ALL: [RunStatus; 4] =
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub(crate) fn is_active(self) -> bool {
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
    #[cfg(feature = "ssr")]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Manual, Self::Schedule, Self::Webhook]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What a run changed in one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamCounts {
    pub(crate) added: u64,
    pub(crate) updated: u64,
    pub(crate) deleted: u64,
}

impl StreamCounts {
    #[cfg(feature = "ssr")]
    pub(crate) fn add(&mut self, other: StreamCounts) {
        self.added += other.added;
        self.updated += other.updated;
        self.deleted += other.deleted;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncRunView {
    pub(crate) run_id: String,
    pub(crate) status: RunStatus,
    pub(crate) trigger: RunTrigger,
    /// When it was asked for (RFC 3339).
    pub(crate) queued_at: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) full_refresh: bool,
    pub(crate) streams: BTreeMap<String, StreamCounts>,
    pub(crate) error_code: Option<String>,
    pub(crate) error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncRunList {
    pub(crate) runs: Vec<SyncRunView>,
}

/// 202 to a sync request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncQueued {
    pub(crate) run_id: String,
    pub(crate) status: RunStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) struct StreamView {
    pub(crate) name: String,
    pub(crate) record_count: i64,
    pub(crate) last_synced_at: Option<String>,
    /// The field whose change times drive incremental reads, when the stream has one.
    pub(crate) cursor_field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamList {
    pub(crate) streams: Vec<StreamView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) struct RecordView {
    /// The provider's id.
    pub(crate) id: String,
    /// The record as the provider last sent it (for a deletion, as last seen).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub(crate) data: serde_json::Value,
    /// When the hub stored this state (RFC 3339).
    pub(crate) updated_at: String,
    pub(crate) deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordPage {
    pub(crate) records: Vec<RecordView>,
    /// Where to go on from: present on every page, the last one included.
    pub(crate) next_cursor: String,
    /// Whether more records are waiting now.
    pub(crate) has_more: bool,
}

/// A PostgreSQL table as the table choice shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TableChoice {
    /// `schema.table`.
    pub(crate) name: String,
    /// Timestamp and integer columns that can mark changes.
    pub(crate) cursor_candidates: Vec<String>,
    /// Without a primary key, rows cannot be told apart between syncs: not offered.
    pub(crate) has_key: bool,
    pub(crate) chosen: bool,
    pub(crate) cursor: Option<String>,
}

/// A setting for reading data, with its current value (never a secret: the catalog refuses a
/// secret field set later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataSetting {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) help: String,
    pub(crate) options: Vec<String>,
    pub(crate) example: Option<String>,
    pub(crate) value: Option<String>,
}

/// A stream the connection may not read, and the permissions (scopes) it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StreamPermission {
    pub(crate) stream: String,
    pub(crate) scopes: Vec<String>,
}

/// What a connector's data page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataView {
    pub(crate) connector: crate::model::ConnectorView,
    pub(crate) streams: Vec<StreamView>,
    pub(crate) runs: Vec<SyncRunView>,
    /// The stream whose records are shown.
    pub(crate) stream: Option<String>,
    pub(crate) page: Option<RecordPage>,
    /// The records' top-level fields, the id first.
    pub(crate) columns: Vec<String>,
    pub(crate) settings: Vec<DataSetting>,
    /// How to register `connector.webhook_url` at the provider, for providers that send
    /// webhooks.
    #[serde(default)]
    pub(crate) webhook_setup: Option<String>,
    /// Whether the webhooks' signing secret is entered per connector (else it is the operator's).
    #[serde(default)]
    pub(crate) webhook_takes_secret: bool,
    /// Whether Connector Hub registers the address at the provider itself (a push channel).
    #[serde(default)]
    pub(crate) webhook_registers: bool,
    /// Streams the last sign-in was not granted a permission for, with the scopes they need.
    #[serde(default)]
    pub(crate) needs_permission: Vec<StreamPermission>,
    pub(crate) now_ms: i64,
}
