//! `ConnectorService`: the one place connector operations happen. REST handlers and server
//! functions are thin adapters over it. Every method takes the authenticated principal, and every
//! operation is audited before it takes effect (fail closed) — except a proxied call, whose entry
//! is written beside the provider's answer, the call having happened.
//!
//! One file per capability, each an `impl ConnectorService` block:
//! `connectors` (create, read, change, delete), `listing`, `views`, `testing` (connection tests),
//! `drafts` (the wizard's), `sign_in` (OAuth2), `tokens` (refresh under a lease), `audit`,
//! `preview` (a stream's first page), `proxy` (a caller's call sent on with the credential),
//! `syncs` (asking for runs, reading records), `sync_run` and `sync_tables` (running them: HTTP
//! streams, PostgreSQL tables) with `sync_pass` (where each stream's pass starts),
//! `events` (the outbox: events built with the change they report), `webhook_endpoints` and
//! `deliveries` (events to tenants' endpoints), `webhooks_in` (providers' webhooks),
//! `rate` (per-tenant limits), `maintenance` (key rotation, the monitor's and operator's needs),
//! and `stored_secrets`, the one rule for secrets a request leaves out.

use crate::catalog::{catalog, Catalog, ConnectorDef};
use crate::checks::Checker;
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::page_cache::PageCache;
use crate::refusals::RefusalGate;
use crate::secret::SecretConfig;
use crate::store::{ConnectorRecord, Store, StoreError};
use crate::vault::{AuditKey, DecryptionFailed, Vault};
use std::sync::Arc;

mod audit;
mod audit_beside;
mod connectors;
mod data_settings;
mod data_view;
mod deliveries;
mod drafts;
mod events;
mod key_rotation;
mod listing;
mod maintenance;
mod preview;
mod proxy;
mod proxy_slots;
mod rate;
mod rate_counter;
mod sign_in;
mod stored_secrets;
mod sync_pass;
mod sync_run;
mod sync_tables;
mod syncs;
mod testing;
mod tokens;
mod views;
mod webhook_channels;
mod webhook_endpoints;
mod webhooks_app;
mod webhooks_in;

pub use audit::audit_query;
pub use connectors::{ConnectorChanges, NewConnector, TokenTimes};
pub use deliveries::DeliverySettings;
pub use drafts::StoredSettings;
pub use key_rotation::RotationProgress;
pub use listing::{DEFAULT_PAGE, MAX_PAGE};
pub use proxy::{ProxyAnswer, ProxyCall, ProxyTarget};
pub use rate::{LimitSettings, RateClass};
pub use sign_in::{ProviderAnswer, SignInAnswer};
pub use sync_run::SyncSettings;
pub use syncs::{run_view, SyncRequest, DEFAULT_RECORDS, MAX_RECORDS};
pub use webhook_endpoints::EndpointChanges;
pub use webhooks_in::{Received, WantedSync, WebhookRequest};

use listing::PageKey;
use rate_counter::RateCounter;

pub struct ConnectorService {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    checker: Checker,
    oauth: OAuth,
    catalog: &'static Catalog,
    limits: LimitSettings,
    metrics: Metrics,
    rates: RateCounter,
    /// `None` when the operator turned page reuse off.
    pages: Option<PageCache<PageKey>>,
    audit_key: AuditKey,
    /// Entries of proxied calls, written in groups beside their answers.
    audit_beside: audit_beside::AuditBeside,
    refusals: RefusalGate,
    /// Proxied calls each tenant has in flight in this process.
    proxy_slots: proxy_slots::TenantSlots,
    sync: SyncSettings,
    deliveries: DeliverySettings,
    /// The workers' wake-ups: pulled when this process queues a sync or a delivery may be due
    /// at once, and by the store when another process queues work (where it can tell).
    wake: crate::store::WorkWakes,
    /// When this service last forgot old events (the monitor asks every tick; it runs hourly).
    pruned_at: std::sync::atomic::AtomicI64,
    /// The hub's public address (provider-webhook addresses are on it).
    public_url: String,
    /// Signing secrets of providers' webhooks that are the operator's, by connector type.
    webhook_secrets: std::collections::BTreeMap<String, crate::secret::SecretString>,
    /// Syncs provider webhooks ask for, to the worker that debounces them.
    wanted_syncs: tokio::sync::mpsc::UnboundedSender<WantedSync>,
    wanted_syncs_rx: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<WantedSync>>>,
}

/// What a user may be told about a store failure, where it is their operator's to fix.
fn store_cause(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Full => Some("the server's disk is full"),
        StoreError::ReadOnly => Some("its data directory is read-only"),
        StoreError::Duplicate | StoreError::Unavailable(_) => None,
    }
}

/// A store failure as the caller hears of it: what the operator must fix when it is theirs to fix
/// (a full disk), "unavailable" otherwise. Logged here, once, with the store's own words.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store operation failed");
        let message = match (&e, store_cause(&e)) {
            (_, Some(cause)) => {
                format!("Connector Hub cannot save changes: {cause}. Nothing was changed.")
            }
            (StoreError::Duplicate, None) => "A connector with this id already exists.".to_owned(),
            _ => {
                "Connector Hub's storage is unavailable right now. Nothing was changed.".to_owned()
            }
        };
        Error::new(ErrorCode::StorageUnavailable, message)
    }
}

impl ConnectorService {
    pub fn new(store: Arc<dyn Store>, vault: Arc<Vault>, checker: Checker) -> Self {
        let (wanted_syncs, wanted_syncs_rx) = tokio::sync::mpsc::unbounded_channel();
        Self {
            store,
            audit_key: vault.audit_key(),
            vault,
            checker,
            oauth: OAuth::default(),
            catalog: catalog(),
            limits: LimitSettings::UNLIMITED,
            metrics: Metrics::default(),
            rates: RateCounter::default(),
            pages: Some(PageCache::default()),
            refusals: RefusalGate::default(),
            proxy_slots: Default::default(),
            sync: SyncSettings::default(),
            deliveries: DeliverySettings::default(),
            wake: Default::default(),
            pruned_at: std::sync::atomic::AtomicI64::new(0),
            public_url: String::new(),
            webhook_secrets: Default::default(),
            wanted_syncs,
            wanted_syncs_rx: std::sync::Mutex::new(Some(wanted_syncs_rx)),
            audit_beside: Default::default(),
        }
    }

    /// Where the hub is reached, and the operator's webhook signing secrets.
    pub fn with_webhooks(
        mut self,
        public_url: &str,
        secrets: std::collections::BTreeMap<String, crate::secret::SecretString>,
    ) -> Self {
        self.public_url = public_url.to_owned();
        self.webhook_secrets = secrets;
        self
    }

    pub fn with_deliveries(mut self, settings: DeliverySettings) -> Self {
        self.deliveries = settings;
        self
    }

    pub fn with_sync(mut self, settings: SyncSettings) -> Self {
        self.sync = settings;
        self
    }

    pub fn with_oauth(mut self, oauth: OAuth) -> Self {
        self.oauth = oauth;
        self
    }

    /// Whether encoded listing pages are reused while the store reports no change.
    pub fn with_page_cache(mut self, enabled: bool) -> Self {
        self.pages = enabled.then(PageCache::default);
        self
    }

    pub fn with_limits(mut self, limits: LimitSettings, metrics: Metrics) -> Self {
        self.limits = limits;
        self.proxy_slots = proxy_slots::TenantSlots::new(limits.proxy_in_flight);
        self.metrics = metrics;
        self
    }

    /// Opens a connector's configuration: sealed to its tenant and connector, so a ciphertext
    /// copied to another row does not open.
    fn open_config(&self, r: &ConnectorRecord) -> Result<SecretConfig, DecryptionFailed> {
        self.vault
            .decrypt(&r.encrypted_config, r.tenant_id.as_str(), &r.connector_id)
    }

    /// Encrypts `config` into `r`, sealed to its tenant and connector. Every change of a
    /// connector's settings comes through here, so the account lookup value written beside them
    /// (`account_key`) never outlives them: settings naming another account than the one proven
    /// leave the connector with none until a check proves the new one (`testing`). A tenant
    /// could otherwise name any shop, realm or organisation and receive its webhooks.
    fn seal_config(&self, r: &mut ConnectorRecord, config: &SecretConfig) {
        let (token, key_id) = self
            .vault
            .encrypt(config, r.tenant_id.as_str(), &r.connector_id);
        r.encrypted_config = token;
        r.key_id = key_id;
        if self.account_of(&r.connector_type, config) != r.account_key {
            r.account_key = None;
        }
    }

    /// The lookup value of the account `settings` name for provider webhooks (unproven).
    pub fn account_named(
        &self,
        connector_type: &str,
        settings: &std::collections::BTreeMap<String, String>,
    ) -> Option<String> {
        self.account_of(connector_type, &SecretConfig::decrypted(settings.clone()))
    }

    /// The lookup value of the account a connector's provider webhooks name, from its settings.
    fn account_of(&self, connector_type: &str, config: &SecretConfig) -> Option<String> {
        let field = self
            .catalog
            .get(connector_type)?
            .webhooks
            .as_ref()?
            .account_field
            .as_deref()?;
        crate::store::account_key(connector_type, config.get(field)?)
    }

    fn definition(&self, connector_type: &str) -> Result<&'static ConnectorDef, Error> {
        self.catalog.get(connector_type).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownConnectorType,
                format!(
                    "There is no connector type “{}”. Known types: {}.",
                    connector_type.chars().take(40).collect::<String>(),
                    self.catalog
                        .entries()
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_field("connector_type")
        })
    }
}
