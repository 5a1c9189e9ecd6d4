//! Events to tenants as they cross the wire: the event types, an endpoint (its secret only in the
//! answer that creates or rotates it), and its deliveries with their attempts.

use serde::{Deserialize, Serialize};

/// What the hub tells a tenant's endpoints about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) enum EventType {
    #[serde(rename = "connector.created")]
    ConnectorCreated,
    #[serde(rename = "connector.updated")]
    ConnectorUpdated,
    #[serde(rename = "connector.deleted")]
    ConnectorDeleted,
    #[serde(rename = "connector.test_failed")]
    ConnectorTestFailed,
    #[serde(rename = "connector.authorization_required")]
    ConnectorAuthorizationRequired,
    #[serde(rename = "sync.succeeded")]
    SyncSucceeded,
    #[serde(rename = "sync.failed")]
    SyncFailed,
    #[serde(rename = "provider.event")]
    ProviderEvent,
}

impl EventType {
    pub(crate) const ALL: [EventType; 8] = [
        Self::ConnectorCreated,
        Self::ConnectorUpdated,
        Self::ConnectorDeleted,
        Self::ConnectorTestFailed,
        Self::ConnectorAuthorizationRequired,
        Self::SyncSucceeded,
        Self::SyncFailed,
        Self::ProviderEvent,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ConnectorCreated => "connector.created",
            Self::ConnectorUpdated => "connector.updated",
            Self::ConnectorDeleted => "connector.deleted",
            Self::ConnectorTestFailed => "connector.test_failed",
            Self::ConnectorAuthorizationRequired => "connector.authorization_required",
            Self::SyncSucceeded => "sync.succeeded",
            Self::SyncFailed => "sync.failed",
            Self::ProviderEvent => "provider.event",
        }
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An endpoint as shown: never its secret, except `secret` in the answer that made one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointView {
    pub(crate) endpoint_id: String,
    pub(crate) url: String,
    /// Event types sent; empty means all.
    pub(crate) events: Vec<EventType>,
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_reason: Option<String>,
    pub(crate) created_at: String,
    /// The signing secret (`whsec_…`): only in the answer to creating the endpoint or rotating
    /// its secret, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<String>,
    /// Until when the previous secret also signs, during a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_secret_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) struct AttemptView {
    pub(crate) at: String,
    /// The endpoint's HTTP status; absent when it could not be reached.
    pub(crate) status: Option<u16>,
    pub(crate) duration_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) struct DeliveryView {
    pub(crate) delivery_id: String,
    /// The `webhook-id` every attempt carried.
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub(crate) status: String,
    pub(crate) created_at: String,
    /// When the next attempt is due, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_attempt_at: Option<String>,
    pub(crate) attempts: Vec<AttemptView>,
}

#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointList {
    pub(crate) endpoints: Vec<EndpointView>,
}

#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    pub(crate) deliveries: Vec<DeliveryView>,
}

/// The Webhooks page: each endpoint with its latest deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub(crate) endpoints: Vec<EndpointActivity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EndpointActivity {
    pub(crate) endpoint: EndpointView,
    pub(crate) deliveries: Vec<DeliveryView>,
}
