//! `ConnectorService`: the one place connector operations happen. REST handlers and server
//! functions are thin adapters over it. Every method takes the authenticated principal, and every
//! operation is audited before it takes effect (fail closed).

use crate::auth::{Principal, TenantId};
use crate::catalog::{catalog, Catalog, ConnectorDef};
use crate::checks::{Checker, Failure};
use crate::error::{ApiError, ErrorCode};
use crate::model::{CheckResult, ConnectorPage, ConnectorStatus, ConnectorView, SyncFrequency};
use crate::oauth::{state_hash, OAuth, Pkce, TokenError, TokenSet, STATE_TTL_MS};
use crate::page_cache::PageCache;
use crate::rate::{RateCounter, Verdict};
use crate::refusals::RefusalGate;
use crate::secret::SecretConfig;
use crate::server::config::LimitSettings;
use crate::server::metrics::Metrics;
use crate::store::{ConnectorRecord, DraftRecord, ListQuery, OAuthStateRecord, Store, StoreError};
use crate::vault::{AuditKey, DecryptionFailed, Vault};
use base64::Engine;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

mod audit;
mod stored_secrets;

use stored_secrets::replaces_access_token;

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;
const MAX_NAME_CHARS: usize = 100;
const DRAFT_TTL_MS: i64 = 30 * 60 * 1000;
/// What a refresh lease adds to the provider call it covers: reading and saving around it.
const REFRESH_LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// A started sign-in, read back from its `state`.
pub struct PendingAuthorization {
    pub connector_type: String,
    pub draft_id: String,
    verifier: Option<String>,
    shop: Option<String>,
}

/// The sealed part of a stored `state`.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingSecrets {
    verifier: Option<String>,
    shop: Option<String>,
}

fn store_failure(e: StoreError) -> Failure {
    store_error(e).into()
}

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
    refusals: RefusalGate,
}

/// What a listing page is cached under: the request, after validation.
#[derive(PartialEq, Eq, Hash)]
struct PageKey {
    tenant: String,
    status: Option<ConnectorStatus>,
    limit: usize,
    cursor: Option<String>,
}

/// What a request costs against the tenant's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    Reads,
    Writes,
    Tests,
}

impl RateClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reads => "reads",
            Self::Writes => "writes",
            Self::Tests => "tests",
        }
    }
}

/// A stored connector's configuration without its secrets (see `stored_settings`).
pub struct StoredSettings {
    pub record: ConnectorRecord,
    pub settings: BTreeMap<String, String>,
    /// The secret fields that have a stored value.
    pub secrets: std::collections::BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct NewConnector {
    pub connector_type: String,
    pub display_name: Option<String>,
    pub config: BTreeMap<String, String>,
    pub sync_frequency: Option<SyncFrequency>,
    /// Set when the credentials came from signing in (OAuth2), never from a client's request.
    pub tokens: Option<TokenTimes>,
}

#[derive(Debug, Default)]
pub struct ConnectorChanges {
    pub display_name: Option<String>,
    pub sync_frequency: Option<SyncFrequency>,
    /// New credentials; a secret field left out keeps its stored value.
    pub config: Option<BTreeMap<String, String>>,
    /// With `config`: set when the new credentials came from signing in (OAuth2).
    pub tokens: Option<TokenTimes>,
}

/// When an OAuth2 access token expires, and when its refresh token (if any) was issued.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenTimes {
    pub expires_at: Option<i64>,
    pub refreshed_at: Option<i64>,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A date for people: 24 Nov 2026.
fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%-d %b %Y").to_string())
        .unwrap_or_default()
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// What a user may be told about a store failure, where it is their operator's to fix.
fn store_cause(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Full => Some("the server's disk is full"),
        StoreError::ReadOnly => Some("its data directory is read-only"),
        StoreError::Duplicate | StoreError::Unavailable(_) => None,
    }
}

pub fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "store operation failed");
    let message = match (&e, store_cause(&e)) {
        (_, Some(cause)) => {
            format!("Connector Hub cannot save changes: {cause}. Nothing was changed.")
        }
        (StoreError::Duplicate, None) => "A connector with this id already exists.".to_owned(),
        _ => "Connector Hub's storage is unavailable right now. Nothing was changed.".to_owned(),
    };
    ApiError::new(ErrorCode::StorageUnavailable, message)
}

/// Connector ids are `conn-` and 20 lower-case hex digits; anything else cannot exist.
pub fn valid_connector_id(id: &str) -> bool {
    id.strip_prefix("conn-").is_some_and(|rest| {
        rest.len() == 20
            && rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn clean_display_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("The display name must be 1 to {MAX_NAME_CHARS} characters, without control characters."),
        )
        .with_field("display_name"));
    }
    Ok(name.to_owned())
}

impl ConnectorService {
    pub fn new(store: Arc<dyn Store>, vault: Arc<Vault>, checker: Checker) -> Self {
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
        }
    }

    pub fn with_oauth(mut self, oauth: OAuth) -> Self {
        self.oauth = oauth;
        self
    }

    pub fn oauth(&self) -> &OAuth {
        &self.oauth
    }

    /// Whether encoded listing pages are reused while the store reports no change.
    pub fn with_page_cache(mut self, enabled: bool) -> Self {
        self.pages = enabled.then(PageCache::default);
        self
    }

    pub fn with_limits(mut self, limits: LimitSettings, metrics: Metrics) -> Self {
        self.limits = limits;
        self.metrics = metrics;
        self
    }

    /// Counts the request against the tenant's limit for its class; 429 past it. The count is
    /// shared by every process on the store; far below the limit hits are taken from it in
    /// batches (see `rate`). If the counters cannot be reached the request is allowed (and
    /// logged): a rate limiter must not take the whole service down with it.
    pub async fn limit(
        &self,
        p: &Principal,
        class: RateClass,
        client: &str,
    ) -> Result<(), ApiError> {
        let max = match class {
            RateClass::Reads => self.limits.reads_per_min,
            RateClass::Writes => self.limits.writes_per_min,
            RateClass::Tests => self.limits.tests_per_min,
        };
        if max == u64::MAX {
            return Ok(());
        }
        let now = now_ms();
        let window = now - now.rem_euclid(60_000);
        let key = format!("{}:{}", p.tenant, class.as_str());
        let hits = match self.rates.count(&key, window, max) {
            Verdict::Admit => return Ok(()),
            Verdict::Take(hits) => hits,
        };
        match self.store.hit(&key, window, hits).await {
            Ok(total) if !self.rates.taken(&key, window, hits, total, max) => {
                self.metrics.rate_limited(class.as_str());
                let mut error = ApiError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "Your organisation has made too many {} requests this minute. Please wait a moment.",
                        class.as_str()
                    ),
                );
                error.retry_after = u64::try_from((window + 60_000 - now) / 1000 + 1).ok();
                // A caller can repeat a refused request at will: summarised, never a write each.
                self.refusals.refused(
                    Some(p),
                    client,
                    &format!("rate_limit:{}", class.as_str()),
                    error.code.as_str(),
                    now,
                );
                Err(error)
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit counters unavailable; allowing the request");
                Ok(())
            }
        }
    }

    /// Opens a connector's configuration: sealed to its tenant and connector, so a ciphertext
    /// copied to another row does not open.
    fn open_config(&self, r: &ConnectorRecord) -> Result<SecretConfig, DecryptionFailed> {
        self.vault
            .decrypt(&r.encrypted_config, &r.tenant_id, &r.connector_id)
    }

    /// Encrypts `config` into `r`, sealed to its tenant and connector.
    fn seal_config(&self, r: &mut ConnectorRecord, config: &SecretConfig) {
        let (token, key_id) = self.vault.encrypt(config, &r.tenant_id, &r.connector_id);
        r.encrypted_config = token;
        r.key_id = key_id;
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    fn definition(&self, connector_type: &str) -> Result<&'static ConnectorDef, ApiError> {
        self.catalog.get(connector_type).ok_or_else(|| {
            ApiError::new(
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

    pub fn view(&self, r: &ConnectorRecord) -> ConnectorView {
        let undecryptable = !self.vault.has_key(&r.key_id);
        ConnectorView {
            connector_id: r.connector_id.clone(),
            connector_type: r.connector_type.clone(),
            display_name: r.display_name.clone(),
            status: if undecryptable {
                ConnectorStatus::Error
            } else {
                r.status
            },
            sync_frequency: r.sync_frequency,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            created_by: r.created_by.clone(),
            updated_by: r.updated_by.clone(),
            last_tested_at: r.last_tested_at.map(rfc3339),
            last_sync_at: r.last_sync_at.map(rfc3339),
            error_code: if undecryptable {
                Some(ErrorCode::DecryptionFailed)
            } else {
                r.error_code.as_deref().and_then(ErrorCode::parse)
            },
            error_message: if undecryptable {
                Some(format!(
                    "{} {}",
                    ErrorCode::DecryptionFailed.message(),
                    ErrorCode::DecryptionFailed.hint().unwrap_or_default()
                ))
            } else {
                r.error_message.clone()
            },
            token_expires_at: r.token_expires_at.map(rfc3339),
            warnings: self.token_warnings(r, now_ms()),
        }
    }

    /// Sign-ins that will stop working unless someone acts, from the stored token times.
    fn token_warnings(&self, r: &ConnectorRecord, now: i64) -> Vec<String> {
        const DAY: i64 = 86_400_000;
        let Some(def) = self.catalog.get(&r.connector_type) else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        match (r.token_refreshed_at, r.token_expires_at) {
            (Some(refreshed), _) => {
                let idle_days = def.oauth.as_ref().and_then(|o| o.refresh_idle_days);
                if let Some(limit) = idle_days.map(|d| i64::from(d) * DAY) {
                    let idle = now - refreshed;
                    // Warn in the last quarter of the allowed idle time (at least a week).
                    if idle >= limit - (limit / 4).max(7 * DAY) {
                        let dies = refreshed + limit;
                        warnings.push(if now >= dies {
                            format!("{} revokes sign-ins unused for {} days, and this one has not been used since {}. Reconnect to sign in again.", def.name, limit / DAY, day(refreshed))
                        } else {
                            format!("{} revokes sign-ins unused for {} days: this one stops working around {} unless it is used. Test it now or give it a sync schedule to keep it alive.", def.name, limit / DAY, day(dies))
                        });
                    }
                }
            }
            (None, Some(expires)) if expires - now < DAY => {
                warnings.push(if expires <= now {
                    format!("The access token expired on {} and cannot be renewed automatically. Reconnect to sign in again.", day(expires))
                } else {
                    format!("The access token expires on {} and cannot be renewed automatically. Reconnect before then.", day(expires))
                });
            }
            _ => {}
        }
        warnings
    }

    // ---- connectors --------------------------------------------------------------------------

    pub async fn create(
        &self,
        p: &Principal,
        input: NewConnector,
        client: &str,
    ) -> Result<ConnectorView, ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        let def = self.definition(&input.connector_type)?;
        let config = self.catalog.validate(def, &input.config)?;
        let display_name = clean_display_name(input.display_name.as_deref().unwrap_or(&def.name))?;
        let now = now_ms();
        let mut record = ConnectorRecord {
            tenant_id: p.tenant.as_str().to_owned(),
            connector_id: format!("conn-{}", crate::server::random_hex(10)),
            connector_type: def.id.clone(),
            display_name,
            status: ConnectorStatus::Pending,
            sync_frequency: input.sync_frequency.unwrap_or_default(),
            encrypted_config: String::new(),
            key_id: String::new(),
            created_at: now,
            updated_at: now,
            created_by: p.user.clone(),
            updated_by: p.user.clone(),
            last_tested_at: None,
            last_sync_at: None,
            error_code: None,
            error_message: None,
            version: 1,
            token_expires_at: input.tokens.and_then(|t| t.expires_at),
            token_refreshed_at: input.tokens.and_then(|t| t.refreshed_at),
        };
        self.seal_config(&mut record, &SecretConfig::new(config));
        let audit = self.audited(p, "create", &record.connector_id, client);
        self.store
            .insert(&p.tenant, &record, &audit)
            .await
            .map_err(store_error)?;
        tracing::info!(tenant = %p.tenant, connector_id = %record.connector_id, connector_type = %record.connector_type, "connector created");
        Ok(self.view(&record))
    }

    pub async fn list(
        &self,
        p: &Principal,
        status: Option<ConnectorStatus>,
        limit: Option<usize>,
        cursor: Option<&str>,
        client: &str,
    ) -> Result<ConnectorPage, ApiError> {
        self.limit(p, RateClass::Reads, client).await?;
        self.page(p, status, page_size(limit), cursor).await
    }

    /// A listing page as the JSON the REST API answers with. While the store reports no change
    /// the same bytes are sent again (for at most a second: see `page_cache`), which spares the
    /// read, the views and the encoding.
    pub async fn list_json(
        &self,
        p: &Principal,
        status: Option<ConnectorStatus>,
        limit: Option<usize>,
        cursor: Option<&str>,
        client: &str,
    ) -> Result<bytes::Bytes, ApiError> {
        self.limit(p, RateClass::Reads, client).await?;
        let limit = page_size(limit);
        // The marker is taken before the read, so a change landing in between only makes the page
        // look stale.
        let cache = self.pages.as_ref().and_then(|pages| {
            let marker = self.store.change_marker()?;
            let key = PageKey {
                tenant: p.tenant.as_str().to_owned(),
                status,
                limit,
                cursor: cursor.map(str::to_owned),
            };
            Some((pages, marker, key))
        });
        let started = Instant::now();
        if let Some(body) = cache
            .as_ref()
            .and_then(|(pages, marker, key)| pages.get(key, *marker, started))
        {
            self.metrics.page_cache(true);
            return Ok(body);
        }
        let page = self.page(p, status, limit, cursor).await?;
        let body = bytes::Bytes::from(serde_json::to_vec(&page).map_err(|e| {
            tracing::error!(error = %e, "could not encode a listing page");
            ApiError::from_code(ErrorCode::Internal)
        })?);
        if let Some((pages, marker, key)) = cache {
            self.metrics.page_cache(false);
            pages.put(key, marker, started, body.clone());
        }
        Ok(body)
    }

    /// One page of `limit` (from `page_size`) connectors.
    async fn page(
        &self,
        p: &Principal,
        status: Option<ConnectorStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ConnectorPage, ApiError> {
        let before = cursor.map(decode_cursor).transpose()?;
        let records = self
            .store
            .list(
                &p.tenant,
                &ListQuery {
                    status,
                    limit: limit + 1,
                    before,
                },
            )
            .await
            .map_err(store_error)?;
        let more = records.len() > limit;
        let page: Vec<_> = records.into_iter().take(limit).collect();
        let next_cursor = more.then(|| page.last().map(encode_cursor)).flatten();
        Ok(ConnectorPage {
            connectors: page.iter().map(|r| self.view(r)).collect(),
            next_cursor,
        })
    }

    async fn record(
        &self,
        p: &Principal,
        id: &str,
        action: &str,
        client: &str,
    ) -> Result<ConnectorRecord, ApiError> {
        let found = if valid_connector_id(id) {
            self.store.get(&p.tenant, id).await.map_err(store_error)?
        } else {
            None
        };
        match found {
            Some(record) => Ok(record),
            None => {
                let error = ApiError::not_found();
                // Missing and other-tenant look the same to the caller; the audit records both.
                self.audit_refusal(p, action, &error, client).await;
                Err(error)
            }
        }
    }

    pub async fn get(
        &self,
        p: &Principal,
        id: &str,
        client: &str,
    ) -> Result<ConnectorView, ApiError> {
        self.limit(p, RateClass::Reads, client).await?;
        let record = self.record(p, id, "read", client).await?;
        self.audit(p, "read", Some(id), "ok", None, client).await?;
        Ok(self.view(&record))
    }

    pub async fn update(
        &self,
        p: &Principal,
        id: &str,
        changes: ConnectorChanges,
        client: &str,
    ) -> Result<ConnectorView, ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        for _attempt in 0..3 {
            let current = self.record(p, id, "update", client).await?;
            let mut next = current.clone();
            if let Some(name) = &changes.display_name {
                next.display_name = clean_display_name(name)?;
            }
            if let Some(frequency) = changes.sync_frequency {
                next.sync_frequency = frequency;
            }
            let replacing = changes.config.is_some();
            if let Some(submitted) = &changes.config {
                let def = self.definition(&current.connector_type)?;
                let stored = self.open_config(&current).ok();
                let new_access = replaces_access_token(submitted, stored.as_ref());
                let config = self.with_stored_secrets(def, stored.as_ref(), submitted)?;
                self.seal_config(&mut next, &SecretConfig::new(config));
                next.status = ConnectorStatus::Pending;
                next.error_code = None;
                next.error_message = None;
                if new_access || changes.tokens.is_some() {
                    next.token_expires_at = changes.tokens.and_then(|t| t.expires_at);
                    next.token_refreshed_at = changes.tokens.and_then(|t| t.refreshed_at);
                }
            }
            next.updated_at = now_ms();
            next.updated_by = p.user.clone();
            next.version = current.version + 1;
            let action = if replacing {
                "replace_credentials"
            } else {
                "update"
            };
            let audit = self.audited(p, action, id, client);
            if self
                .store
                .update(&p.tenant, &next, current.version, Some(&audit))
                .await
                .map_err(store_error)?
            {
                return Ok(self.view(&next));
            }
        }
        Err(ApiError::from_code(ErrorCode::Conflict))
    }

    pub async fn delete(&self, p: &Principal, id: &str, client: &str) -> Result<(), ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        self.record(p, id, "delete", client).await?;
        let audit = self.audited(p, "delete", id, client);
        self.store
            .delete(&p.tenant, id, &audit)
            .await
            .map_err(store_error)?;
        // Secure deletion with verification: answer only once the record is really gone.
        if self
            .store
            .get(&p.tenant, id)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(ApiError::new(
                ErrorCode::StorageUnavailable,
                "The connector could not be deleted. Please retry.",
            ));
        }
        tracing::info!(tenant = %p.tenant, connector_id = %id, "connector deleted");
        Ok(())
    }

    /// Clears a connector's error state without testing it again.
    pub async fn clear_error(
        &self,
        p: &Principal,
        id: &str,
        client: &str,
    ) -> Result<ConnectorView, ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        let current = self.record(p, id, "clear_error", client).await?;
        let mut next = current.clone();
        next.status = if current.last_tested_at.is_some() && current.error_code.is_none() {
            current.status
        } else {
            ConnectorStatus::Pending
        };
        next.error_code = None;
        next.error_message = None;
        next.version += 1;
        next.updated_at = now_ms();
        next.updated_by = p.user.clone();
        let audit = self.audited(p, "clear_error", id, client);
        if !self
            .store
            .update(&p.tenant, &next, current.version, Some(&audit))
            .await
            .map_err(store_error)?
        {
            return Err(ApiError::from_code(ErrorCode::Conflict));
        }
        Ok(self.view(&next))
    }

    // ---- connection tests --------------------------------------------------------------------

    /// Tests a configuration that is not saved. With `replacing`, it is a replacement for that
    /// connector's configuration: secrets it leaves out are taken from the stored one, under the
    /// same rule as an update (see `with_stored_secrets`).
    pub async fn test_unsaved(
        &self,
        p: &Principal,
        connector_type: &str,
        config: &BTreeMap<String, String>,
        replacing: Option<&str>,
        client: &str,
    ) -> Result<CheckResult, ApiError> {
        let def = self.definition(connector_type)?;
        let stored = match replacing {
            Some(id) => {
                let record = self.record(p, id, "test_unsaved", client).await?;
                if record.connector_type != def.id {
                    return Err(ApiError::not_found());
                }
                Some(
                    self.open_config(&record)
                        .map_err(|_| ApiError::from_code(ErrorCode::DecryptionFailed))?,
                )
            }
            None => None,
        };
        let started = Instant::now();
        let outcome = match self.with_stored_secrets(def, stored.as_ref(), config) {
            Ok(valid) => {
                // Only a check that reaches a provider counts against the tighter test limit.
                self.limit(p, RateClass::Tests, client).await?;
                self.audit(p, "test_unsaved", None, "ok", None, client)
                    .await?;
                self.checker.check(&def.id, &SecretConfig::new(valid)).await
            }
            Err(e) => Err(Failure {
                code: e.code,
                message: e.message,
                field: e.field,
                retry_after: None,
            }),
        };
        let result = result(outcome, started);
        self.count_check(&def.id, &result);
        Ok(result)
    }

    fn count_check(&self, connector_type: &str, result: &CheckResult) {
        self.metrics.check(
            connector_type,
            result.error_code.map(|c| c.as_str()).unwrap_or("ok"),
        );
    }

    /// Tests a saved connector and records the outcome on it.
    pub async fn test_saved(
        &self,
        p: &Principal,
        id: &str,
        client: &str,
    ) -> Result<CheckResult, ApiError> {
        self.limit(p, RateClass::Tests, client).await?;
        let record = self.record(p, id, "test", client).await?;
        self.run_saved_test(p, &record, client).await
    }

    /// The health monitor's re-test: recorded like a manual one, by a system user, outside the
    /// tenant's rate limit.
    pub async fn monitor_test(&self, record: &ConnectorRecord) -> Result<CheckResult, ApiError> {
        let tenant = TenantId::parse(&record.tenant_id).ok_or_else(ApiError::not_found)?;
        let system = Principal {
            tenant,
            user: "system:monitor".into(),
            via_cookie: false,
            expires_at: 0,
        };
        self.run_saved_test(&system, record, "monitor").await
    }

    async fn run_saved_test(
        &self,
        p: &Principal,
        record: &ConnectorRecord,
        client: &str,
    ) -> Result<CheckResult, ApiError> {
        let id = record.connector_id.as_str();
        self.audit(p, "test", Some(id), "ok", None, client).await?;
        let started = Instant::now();
        let mut outcome = match self.fresh_config(p, record, false, client).await {
            Ok(config) => self.checker.check(&record.connector_type, &config).await,
            Err(failure) => Err(failure),
        };
        // A token that died before its announced expiry: renew once and check again.
        if matches!(&outcome, Err(f) if f.code == ErrorCode::ExpiredCredentials) {
            match self.fresh_config(p, record, true, client).await {
                Ok(config) if config.get("refresh_token").is_some() => {
                    outcome = self.checker.check(&record.connector_type, &config).await;
                }
                Err(f) if f.code == ErrorCode::AuthorizationRequired => outcome = Err(f),
                _ => {}
            }
        }
        let result = result(outcome, started);
        self.count_check(&record.connector_type, &result);
        self.record_test(p, id, &result).await?;
        tracing::info!(tenant = %p.tenant, connector_id = %id, success = result.success, code = ?result.error_code, "connector tested");
        Ok(result)
    }

    pub async fn record_test(
        &self,
        p: &Principal,
        id: &str,
        result: &CheckResult,
    ) -> Result<(), ApiError> {
        for _attempt in 0..5 {
            let Some(current) = self.store.get(&p.tenant, id).await.map_err(store_error)? else {
                return Ok(()); // deleted while testing
            };
            let mut next = current.clone();
            next.status = match result.error_code {
                None => ConnectorStatus::Active,
                Some(ErrorCode::AuthorizationRequired) => ConnectorStatus::AuthorizationRequired,
                Some(_) => ConnectorStatus::Error,
            };
            next.last_tested_at = Some(now_ms());
            next.error_code = result.error_code.map(|c| c.as_str().to_owned());
            next.error_message = (!result.success).then(|| result.message.clone());
            next.version += 1;
            // The test itself was audited before it ran; its outcome is metadata.
            if self
                .store
                .update(&p.tenant, &next, current.version, None)
                .await
                .map_err(store_error)?
            {
                return Ok(());
            }
        }
        Err(ApiError::from_code(ErrorCode::Conflict))
    }

    /// What the wizard's "replace credentials" starts from: the connector's non-secret settings
    /// and the names of the secrets it has stored. The secrets themselves stay in the vault; a
    /// test or update of the replacement takes them from there, under `with_stored_secrets`.
    pub async fn stored_settings(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<StoredSettings, ApiError> {
        let record = self.record(p, id, "read", "server").await?;
        let def = self.definition(&record.connector_type)?;
        let config = self
            .open_config(&record)
            .map_err(|_| ApiError::from_code(ErrorCode::DecryptionFailed))?;
        let mut settings = BTreeMap::new();
        let mut secrets = std::collections::BTreeSet::new();
        for (name, value) in config.into_inner() {
            match def.field(&name) {
                Some(field) if field.secret => {
                    secrets.insert(name);
                }
                Some(_) => {
                    settings.insert(name, value);
                }
                None => {}
            }
        }
        Ok(StoredSettings {
            record,
            settings,
            secrets,
        })
    }

    // ---- wizard drafts -----------------------------------------------------------------------

    /// Seals a wizard draft (it may hold secrets) and stores it for this user, expiring.
    pub async fn save_draft(
        &self,
        p: &Principal,
        draft_id: &str,
        plaintext: &[u8],
        client: &str,
    ) -> Result<(), ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        let record = DraftRecord {
            tenant_id: p.tenant.as_str().to_owned(),
            user_id: p.user.clone(),
            draft_id: draft_id.to_owned(),
            sealed: self.vault.seal(plaintext),
            expires_at: now_ms() + DRAFT_TTL_MS,
        };
        self.store
            .put_draft(&p.tenant, &record)
            .await
            .map_err(store_error)
    }

    pub async fn load_draft(
        &self,
        p: &Principal,
        draft_id: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let found = self
            .store
            .get_draft(&p.tenant, &p.user, draft_id, now_ms())
            .await
            .map_err(store_error)?;
        Ok(found.and_then(|d| self.vault.open(&d.sealed).ok()))
    }

    pub async fn drop_draft(&self, p: &Principal, draft_id: &str) -> Result<(), ApiError> {
        self.store
            .delete_draft(&p.tenant, &p.user, draft_id)
            .await
            .map_err(store_error)
    }

    // ---- OAuth2 ------------------------------------------------------------------------------

    /// Begins signing in at the provider: stores a single-use `state`, bound to this user and
    /// wizard draft, with its PKCE verifier, and returns the provider's consent page address.
    pub async fn oauth_start(
        &self,
        p: &Principal,
        connector_type: &str,
        draft_id: &str,
        shop: Option<&str>,
        client: &str,
    ) -> Result<String, ApiError> {
        self.limit(p, RateClass::Writes, client).await?;
        let def = self.definition(connector_type)?;
        let pkce = def.oauth.as_ref().is_some_and(|o| o.pkce).then(Pkce::new);
        // The draft id rides along so that a refused callback can still land in its wizard;
        // the random part is what proves the callback.
        let state = format!("{}.{draft_id}.{}", def.id, crate::server::random_token(32));
        let url = self.oauth.authorize_url(def, &state, pkce.as_ref(), shop)?;
        let pending = PendingSecrets {
            verifier: pkce.map(|p| p.verifier),
            shop: shop.map(str::to_owned),
        };
        let sealed =
            serde_json::to_vec(&pending).map_err(|_| ApiError::from_code(ErrorCode::Internal))?;
        self.audit(p, "oauth_start", None, "ok", None, client)
            .await?;
        let record = OAuthStateRecord {
            state_hash: state_hash(&state),
            tenant_id: p.tenant.as_str().to_owned(),
            user_id: p.user.clone(),
            connector_type: def.id.clone(),
            draft_id: draft_id.to_owned(),
            sealed: self.vault.seal(&sealed),
            expires_at: now_ms() + STATE_TTL_MS,
        };
        self.store
            .put_oauth_state(&record)
            .await
            .map_err(store_error)?;
        Ok(url.to_string())
    }

    /// Takes a callback's `state` (it works once) and checks it belongs to this user and is
    /// still fresh.
    pub async fn oauth_take_state(
        &self,
        p: &Principal,
        state: &str,
    ) -> Result<PendingAuthorization, ApiError> {
        let refused =
            |message: &str| ApiError::new(ErrorCode::InvalidRequest, message).with_field("state");
        let taken = self
            .store
            .take_oauth_state(&state_hash(state))
            .await
            .map_err(store_error)?;
        let Some(record) = taken else {
            return Err(refused(
                "This sign-in answer was already used, or was never asked for here. Start the sign-in again.",
            ));
        };
        if record.tenant_id != p.tenant.as_str() || record.user_id != p.user {
            return Err(refused(
                "This sign-in was started by someone else, so it cannot finish in your session. Start the sign-in again.",
            ));
        }
        if record.expires_at < now_ms() {
            return Err(refused(
                "This sign-in took longer than ten minutes, so it was cancelled. Start the sign-in again.",
            ));
        }
        let secrets: PendingSecrets = self
            .vault
            .open(&record.sealed)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::from_code(ErrorCode::DecryptionFailed))?;
        Ok(PendingAuthorization {
            connector_type: record.connector_type,
            draft_id: record.draft_id,
            verifier: secrets.verifier,
            shop: secrets.shop,
        })
    }

    /// Trades the authorization code for tokens.
    pub async fn oauth_exchange(
        &self,
        p: &Principal,
        pending: &PendingAuthorization,
        code: &str,
        client: &str,
    ) -> Result<TokenSet, ApiError> {
        let def = self.definition(&pending.connector_type)?;
        self.limit(p, RateClass::Tests, client).await?;
        let exchanged = self
            .oauth
            .exchange_code(
                self.checker.http(),
                def,
                code,
                pending.verifier.as_deref(),
                pending.shop.as_deref(),
            )
            .await;
        let error = match exchanged {
            Ok(tokens) => {
                self.audit(p, "oauth_connect", None, "ok", None, client)
                    .await?;
                return Ok(tokens);
            }
            Err(TokenError::InvalidGrant) => ApiError::new(
                ErrorCode::AuthorizationRequired,
                format!(
                    "{} did not accept the approval (it was already used or has expired). Sign in again.",
                    def.name
                ),
            ),
            Err(TokenError::Failure(f)) => f.into(),
        };
        tracing::info!(tenant = %p.tenant, connector_type = %def.id, code = %error.code, "OAuth2 code exchange failed");
        self.audit(p, "oauth_connect", None, "error", Some(error.code), client)
            .await?;
        Err(error)
    }

    /// The organisations or businesses a new token can reach (Xero, Sage), as (id, name).
    pub async fn oauth_choices(
        &self,
        connector_type: &str,
        access_token: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let def = self.definition(connector_type)?;
        self.oauth
            .choices(
                self.checker.http(),
                self.checker.providers(),
                def,
                access_token,
            )
            .await
            .map_err(ApiError::from)
    }

    /// The configuration a check should use: when the access token expires within the margin
    /// (or `force`), it is renewed first. Exactly one process renews a connector at a time (a
    /// store lease); the others wait for its result. The new pair is saved with a
    /// compare-and-swap before it is used, keeping the old refresh token when none comes back.
    async fn fresh_config(
        &self,
        p: &Principal,
        record: &ConnectorRecord,
        force: bool,
        client: &str,
    ) -> Result<SecretConfig, Failure> {
        let config = self.decrypt_for_check(record)?;
        let due = self.oauth.due(record.token_expires_at, now_ms());
        if config.get("refresh_token").is_none() || !(force || due) {
            return Ok(config);
        }
        let lease = format!("refresh:{}:{}", record.tenant_id, record.connector_id);
        let holder = crate::server::random_hex(8);
        // The lease outlives the longest provider call it covers (the call is cut off at the
        // client's timeout): it cannot lapse while its holder still waits for new tokens, which
        // would let a second process spend the same refresh token.
        let lease_for = refresh_lease(self.checker.call_timeout());
        let lease_ms = i64::try_from(lease_for.as_millis()).unwrap_or(i64::MAX);
        let deadline = Instant::now() + lease_for;
        loop {
            if self
                .store
                .lease(&lease, &holder, now_ms(), lease_ms)
                .await
                .map_err(store_failure)?
            {
                let outcome = self.refresh_locked(p, record, force, client).await;
                let _ = self.store.release_lease(&lease, &holder, now_ms()).await;
                return outcome;
            }
            // Somebody else is renewing it: use their result once it is saved.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let latest = self
                .store
                .get(&p.tenant, &record.connector_id)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| Failure::new(ErrorCode::NotFound, "This connector was deleted."))?;
            if latest.token_refreshed_at != record.token_refreshed_at {
                return self.decrypt_for_check(&latest);
            }
            if Instant::now() > deadline {
                return Err(Failure::new(
                    ErrorCode::Timeout,
                    "Another server is renewing this connection's access and has not finished. Try again in a moment.",
                ));
            }
        }
    }

    fn decrypt_for_check(&self, r: &ConnectorRecord) -> Result<SecretConfig, Failure> {
        self.open_config(r).map_err(|_| {
            Failure::new(
                ErrorCode::DecryptionFailed,
                ErrorCode::DecryptionFailed.message(),
            )
        })
    }

    async fn refresh_locked(
        &self,
        p: &Principal,
        seen: &ConnectorRecord,
        force: bool,
        client: &str,
    ) -> Result<SecretConfig, Failure> {
        let id = seen.connector_id.as_str();
        let gone = || Failure::new(ErrorCode::NotFound, "This connector was deleted.");
        // Read again under the lease: another process may have renewed it just before.
        let mut current = self
            .store
            .get(&p.tenant, id)
            .await
            .map_err(store_failure)?
            .ok_or_else(gone)?;
        let config = self.decrypt_for_check(&current)?;
        let renewed_meanwhile = current.token_refreshed_at != seen.token_refreshed_at;
        if renewed_meanwhile || !(force || self.oauth.due(current.token_expires_at, now_ms())) {
            return Ok(config);
        }
        let def = self
            .definition(&current.connector_type)
            .map_err(Failure::from)?;
        let used = config.get("refresh_token").unwrap_or_default().to_owned();
        let call = self
            .oauth
            .refresh(self.checker.http(), def, &used, config.get("shop_domain"));
        // Bounded by the same timeout the lease was sized for, whatever the client does.
        let refreshed = tokio::time::timeout(self.checker.call_timeout(), call)
            .await
            .unwrap_or_else(|_| {
                Err(TokenError::Failure(Failure::new(
                    ErrorCode::Timeout,
                    format!("{} did not answer the token renewal in time.", def.name),
                )))
            });
        let tokens = match refreshed {
            Ok(tokens) => tokens,
            Err(error) => {
                let failure = match error {
                    TokenError::InvalidGrant => Failure::new(
                        ErrorCode::AuthorizationRequired,
                        format!(
                            "{} no longer accepts this connection's authorization (the refresh was refused: it was revoked, or unused for too long). Reconnect to sign in again.",
                            def.name
                        ),
                    ),
                    TokenError::Failure(f) => f,
                };
                self.metrics.refresh(failure.code.as_str());
                self.audit(p, "refresh", Some(id), "error", Some(failure.code), client)
                    .await
                    .map_err(Failure::from)?;
                return Err(failure);
            }
        };
        let issued_at = now_ms();
        // Save before use: a rotated refresh token that is not stored is a dead connection.
        for _attempt in 0..5 {
            let mut next_config = self.decrypt_for_check(&current)?;
            if next_config.get("refresh_token") != Some(used.as_str()) {
                // The credentials were replaced meanwhile; theirs win.
                return Ok(next_config);
            }
            next_config.set("access_token", tokens.access_token.expose().to_owned());
            if let Some(rotated) = &tokens.refresh_token {
                next_config.set("refresh_token", rotated.expose().to_owned());
            }
            let mut next = current.clone();
            self.seal_config(&mut next, &next_config);
            next.token_expires_at = tokens.expires_at;
            next.token_refreshed_at = Some(issued_at);
            next.version = current.version + 1;
            // Saved and audited together: an entry says `ok` only for tokens that were stored.
            let audit = self.audited(p, "refresh", id, client);
            if self
                .store
                .update(&p.tenant, &next, current.version, Some(&audit))
                .await
                .map_err(store_failure)?
            {
                self.metrics.refresh("ok");
                tracing::info!(tenant = %p.tenant, connector_id = %id, rotated = tokens.refresh_token.is_some(), "OAuth2 tokens renewed");
                return Ok(next_config);
            }
            current = self
                .store
                .get(&p.tenant, id)
                .await
                .map_err(store_failure)?
                .ok_or_else(gone)?;
        }
        Err(Failure::new(
            ErrorCode::Conflict,
            "The connector kept changing while its access was renewed. Try again.",
        ))
    }

    // ---- operator maintenance ----------------------------------------------------------------

    /// Re-encrypts every credential not yet under the first key. Safe to interrupt and re-run:
    /// each record is rewritten on its own, compare-and-swap on its version.
    pub async fn rotate_keys(
        &self,
        mut progress: impl FnMut(RotationProgress),
    ) -> Result<RotationProgress, ApiError> {
        let mut stats = RotationProgress::default();
        let mut after = None;
        loop {
            let batch = self
                .store
                .scan_all(after.clone(), 500)
                .await
                .map_err(store_error)?;
            let Some(last) = batch.last() else { break };
            after = Some((last.tenant_id.clone(), last.connector_id.clone()));
            for record in batch {
                stats.seen += 1;
                if record.key_id == self.vault.encrypting_key_id() {
                    stats.already_current += 1;
                    continue;
                }
                let Ok(config) = self.open_config(&record) else {
                    stats.undecryptable += 1;
                    continue;
                };
                let Some(tenant) = TenantId::parse(&record.tenant_id) else {
                    continue;
                };
                let mut next = record.clone();
                self.seal_config(&mut next, &config);
                next.version += 1;
                let system = Principal {
                    tenant: tenant.clone(),
                    user: "system:rotate-keys".into(),
                    via_cookie: false,
                    expires_at: 0,
                };
                // Re-encrypted and audited together; an audit failure stops the rotation.
                let audit = self.audited(&system, "rotate_key", &record.connector_id, "cli");
                if self
                    .store
                    .update(&tenant, &next, record.version, Some(&audit))
                    .await
                    .map_err(store_error)?
                {
                    stats.rotated += 1;
                } else {
                    stats.conflicts += 1;
                }
            }
            progress(stats.clone());
        }
        Ok(stats)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationProgress {
    pub seen: u64,
    pub rotated: u64,
    pub already_current: u64,
    pub undecryptable: u64,
    pub conflicts: u64,
}

fn result(outcome: Result<crate::checks::Details, Failure>, started: Instant) -> CheckResult {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let tested_at = rfc3339(now_ms());
    match outcome {
        Ok(details) => CheckResult {
            success: true,
            error_code: None,
            message: "Connection works.".into(),
            hint: None,
            field: None,
            details,
            retry_after: None,
            tested_at,
            duration_ms,
        },
        Err(f) => CheckResult {
            success: false,
            error_code: Some(f.code),
            message: f.message,
            hint: f.code.hint().map(str::to_owned),
            field: f.field,
            details: BTreeMap::new(),
            retry_after: f.retry_after,
            tested_at,
            duration_ms,
        },
    }
}

/// How long a refresh lease is held: longer than the provider call it covers (which the client
/// cuts off at `call_timeout`), so it never lapses while its holder still waits for new tokens.
fn refresh_lease(call_timeout: std::time::Duration) -> std::time::Duration {
    call_timeout + REFRESH_LEASE_MARGIN
}

/// The page size a listing asked for, within bounds.
fn page_size(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn encode_cursor(r: &ConnectorRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", r.created_at, r.connector_id))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "The cursor is not one this server handed out.",
        )
        .with_field("cursor")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    if !valid_connector_id(id) {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// With a 30 s lease and a 60 s call timeout, a second process could take the lease and spend
    /// the same refresh token while the first still waited for its answer.
    #[test]
    fn a_refresh_lease_outlives_the_call_it_covers() {
        for secs in [1, 10, 30, 60, 300] {
            let call = Duration::from_secs(secs);
            assert!(refresh_lease(call) > call, "{secs} s");
        }
    }
}
