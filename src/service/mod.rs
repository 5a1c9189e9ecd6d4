//! The hub's use cases, one service per capability, each holding only what it needs. REST
//! handlers, server functions and the workers are thin adapters over them; a [`Caller`] (the
//! verified principal and the client's address) is built once at the edge and handed in.
//!
//! Every use case passes the [`Gate`] first (the tenant's rate limit, its connector found within
//! its tenant, the audit entry — written before the change takes effect, fail closed, except a
//! proxied call's, written beside the provider's answer). Credentials are opened, sealed and kept
//! fresh in one part ([`Credentials`]); events to tenants are built with the change they report
//! ([`Outbox`]); how a connector is shown is [`Views`].
//!
//! The services: [`Connectors`] (create, read, change, delete, list, test, the wizard's drafts),
//! [`SignIn`] (OAuth2), [`Syncs`] (previews, runs, records, data settings), [`Proxy`] (a caller's
//! call sent on with the credential), [`Events`] (tenants' endpoints and the deliveries to them),
//! [`ProviderWebhooks`] (providers' webhooks in, and the push channels they need) and
//! [`Maintenance`] (key rotation, the monitor's and the operator's needs). [`Hub`] assembles
//! them.

mod agent_auth;
mod agents;
mod caller;
mod connector_edits;
mod connectors;
mod credentials;
mod events;
mod gate;
mod gateway;
mod maintenance;
mod outbox;
mod provider_webhooks;
pub mod proxy;
mod sign_in;
mod syncs;
mod views;

pub(crate) use agent_auth::{
    AgentAuth, AuthorizeRequest, Consent, OAuthError, Refusal, Registration, ACCESS_PREFIX,
};
pub(crate) use agents::Agents;
pub(crate) use caller::Caller;
pub(crate) use connector_edits::ConnectorEdits;
pub(crate) use connectors::MAX_PAGE;
pub(crate) use connectors::{ConnectorChanges, Connectors, NewConnector, TokenTimes};
pub(crate) use credentials::Credentials;
pub(crate) use events::{DeliverySettings, EndpointChanges, Events};
pub(crate) use gate::{audit_query, Gate, LimitSettings, RateClass};
pub(crate) use gateway::McpGateway;
pub use maintenance::Maintenance;
pub(crate) use outbox::Outbox;
pub(crate) use provider_webhooks::{ProviderWebhooks, Received, WantedSync, WebhookRequest};
pub(crate) use proxy::{Proxy, ProxyAnswer, ProxyCall};
pub(crate) use sign_in::{ProviderAnswer, SignIn};
pub(crate) use syncs::{run_view, SyncRequest, SyncSettings, Syncs, DEFAULT_RECORDS, MAX_RECORDS};
pub(crate) use views::Views;

use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::outbound::Outbound;
use crate::secret::SecretString;
use crate::store::{Store, StoreError, WorkWakes};
use crate::vault::Vault;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The operator's settings the services are built with.
pub(crate) struct HubSettings {
    pub(crate) limits: LimitSettings,
    /// Whether encoded listing pages are reused while the store reports no change.
    pub(crate) page_cache: bool,
    pub(crate) sync: SyncSettings,
    pub(crate) deliveries: DeliverySettings,
    /// Where the hub is reached (provider-webhook addresses are on it).
    pub(crate) public_url: String,
    /// Signing secrets of providers' webhooks that are the operator's, by connector type.
    pub(crate) webhook_secrets: BTreeMap<String, SecretString>,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            limits: LimitSettings::UNLIMITED,
            page_cache: true,
            sync: SyncSettings::default(),
            deliveries: DeliverySettings::default(),
            public_url: String::new(),
            webhook_secrets: BTreeMap::new(),
        }
    }
}

/// Every service, assembled once over one store, vault and provider client.
pub struct Hub {
    pub(crate) gate: Arc<Gate>,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) connectors: Arc<Connectors>,
    pub(crate) sign_in: SignIn,
    pub(crate) syncs: Arc<Syncs>,
    pub(crate) proxy: Proxy,
    pub(crate) events: Arc<Events>,
    pub(crate) provider_webhooks: Arc<ProviderWebhooks>,
    pub maintenance: Maintenance,
    /// What an AI agent sees at a glance (the MCP server's `list_connectors`).
    pub(crate) agents: Agents,
    /// A tenant's own MCP servers behind the hub's (`mcp_server` connectors).
    pub(crate) mcp_gateway: McpGateway,
    /// The hub as the OAuth authorization server of its MCP server: agents' clients, grants and
    /// tokens.
    pub(crate) agent_auth: AgentAuth,
    /// The workers' wake-ups: pulled when this process queues a sync or a delivery may be due
    /// at once, and by the store when another process queues work (where it can tell).
    pub(crate) wake: WorkWakes,
}

impl Hub {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        outbound: Outbound,
        oauth: OAuth,
        metrics: Metrics,
        settings: HubSettings,
    ) -> Self {
        let outbound = Arc::new(outbound);
        let oauth = Arc::new(oauth);
        let wake = WorkWakes::default();
        let gate = Arc::new(Gate::new(
            store.clone(),
            vault.audit_key(),
            settings.limits,
            metrics.clone(),
        ));
        let credentials = Arc::new(Credentials::new(
            store.clone(),
            vault.clone(),
            oauth.clone(),
            outbound.clone(),
            gate.clone(),
            metrics.clone(),
        ));
        let views = Arc::new(Views::new(vault.clone(), &settings.public_url));
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            vault.clone(),
            views.clone(),
            wake.clone(),
        ));
        let edits = Arc::new(ConnectorEdits::new(
            store.clone(),
            gate.clone(),
            outbox.clone(),
            views.clone(),
        ));
        let parts = Parts {
            store,
            vault,
            outbound,
            metrics,
            gate: gate.clone(),
            credentials: credentials.clone(),
            views: views.clone(),
            outbox,
            edits,
            wake: wake.clone(),
        };
        let syncs = Arc::new(Syncs::new(&parts, settings.sync));
        let connectors = Arc::new(Connectors::new(&parts, settings.page_cache));
        Self {
            sign_in: SignIn::new(&parts, oauth),
            proxy: Proxy::new(&parts),
            events: Arc::new(Events::new(&parts, settings.deliveries)),
            provider_webhooks: Arc::new(ProviderWebhooks::new(
                &parts,
                connectors.clone(),
                syncs.clone(),
                settings.webhook_secrets,
            )),
            maintenance: Maintenance::new(&parts),
            agents: Agents::new(&parts, connectors.clone()),
            mcp_gateway: McpGateway::new(&parts),
            agent_auth: AgentAuth::new(&parts, &settings.public_url),
            connectors,
            syncs,
            gate,
            credentials,
            wake,
        }
    }
}

/// What the services are built from: each takes the parts it needs.
struct Parts {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    outbound: Arc<Outbound>,
    metrics: Metrics,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    views: Arc<Views>,
    outbox: Arc<Outbox>,
    /// The one way a stored connector is changed.
    edits: Arc<ConnectorEdits>,
    wake: WorkWakes,
}

/// What a user may be told about a store failure, where it is their operator's to fix.
pub(crate) fn store_cause(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Full => Some("the server's disk is full"),
        StoreError::ReadOnly => Some("its data directory is read-only"),
        StoreError::Duplicate | StoreError::Unavailable(_) => None,
    }
}

/// A store failure as the caller hears of it: what the operator must fix when it is theirs to fix
/// (a full disk), "unavailable" otherwise. The store's own words stay with it as its cause, for
/// the log where it is handled.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let message = match (&e, store_cause(&e)) {
            (_, Some(cause)) => {
                format!("Connector Hub cannot save changes: {cause}. Nothing was changed.")
            }
            (StoreError::Duplicate, None) => "A connector with this id already exists.".to_owned(),
            _ => {
                "Connector Hub's storage is unavailable right now. Nothing was changed.".to_owned()
            }
        };
        Error::new(ErrorCode::StorageUnavailable, message).caused_by(e)
    }
}
