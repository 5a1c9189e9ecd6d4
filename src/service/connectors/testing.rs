//! Connection tests: of a configuration not saved yet, of a saved connector (by a user or the
//! health monitor), and recording the outcome on the connector.

use super::Connectors;
use crate::checks;
use crate::clock::{now_ms, rfc3339};
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::{AuditAction, AuditOutcome, CheckResult, ConnectorStatus};
use crate::outbound::retry::Answer;
use crate::secret::SecretConfig;
use crate::service::credentials::Renewing;
use crate::service::{Caller, RateClass};
use crate::store::ConnectorRecord;
use std::collections::BTreeMap;
use std::time::Instant;

impl Connectors {
    /// Tests a configuration that is not saved. With `replacing`, it is a replacement for that
    /// connector's configuration: secrets it leaves out are taken from the stored one, under the
    /// same rule as an update (see `with_stored_secrets`).
    pub(crate) async fn test_unsaved(
        &self,
        caller: &Caller,
        connector_type: &str,
        config: &BTreeMap<String, String>,
        replacing: Option<&ConnectorId>,
    ) -> Result<CheckResult, Error> {
        let def = self.catalog.definition(connector_type)?;
        let stored = match replacing {
            Some(id) => {
                let record = self
                    .gate
                    .connector(caller, id, AuditAction::TestUnsaved)
                    .await?;
                if record.connector_type != def.id {
                    return Err(Error::not_found());
                }
                Some(
                    self.credentials
                        .open(&record)
                        .map_err(|_| Error::from_code(ErrorCode::DecryptionFailed))?,
                )
            }
            None => None,
        };
        let started = Instant::now();
        let outcome = match self
            .credentials
            .with_stored_secrets(def, stored.as_ref(), config)
        {
            Ok(valid) => {
                // Only a check that reaches a provider counts against the tighter test limit.
                self.gate.limit(caller, RateClass::Tests).await?;
                self.gate
                    .audit(
                        caller,
                        AuditAction::TestUnsaved,
                        None,
                        AuditOutcome::Ok,
                        None,
                    )
                    .await?;
                checks::check(&self.outbound, &def.id, &SecretConfig::from(valid)).await
            }
            Err(e) => Err(e),
        };
        let result = result(outcome, started)?;
        self.count_check(&def.id, &result);
        Ok(result)
    }

    pub(super) fn count_check(&self, connector_type: &str, result: &CheckResult) {
        self.metrics.check(
            connector_type,
            result.error_code.map(|c| c.as_str()).unwrap_or("ok"),
        );
    }

    /// Tests a saved connector and records the outcome on it.
    pub(crate) async fn test_saved(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<CheckResult, Error> {
        self.gate.limit(caller, RateClass::Tests).await?;
        let record = self.gate.connector(caller, id, AuditAction::Test).await?;
        self.run_saved_test(caller, &record).await
    }

    /// The health monitor's re-test: recorded like a manual one, by a system user, outside the
    /// tenant's rate limit.
    pub(crate) async fn monitor_test(
        &self,
        record: &ConnectorRecord,
    ) -> Result<CheckResult, Error> {
        let system = Caller::system(record.tenant_id.clone(), "monitor");
        self.run_saved_test(&system, record).await
    }

    pub(super) async fn run_saved_test(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
    ) -> Result<CheckResult, Error> {
        let id = &record.connector_id;
        self.gate
            .audit(caller, AuditAction::Test, Some(id), AuditOutcome::Ok, None)
            .await?;
        // The account the settings under test name: a success proves the credential reaches it.
        let tested_account = self
            .credentials
            .open(record)
            .ok()
            .and_then(|c| self.credentials.account_of(&record.connector_type, &c));
        let started = Instant::now();
        let outcome = match self.credentials.fresh(caller, record, false).await {
            Ok(config) => self.check_renewing_once(caller, record, config).await,
            Err(failure) => Err(failure),
        };
        let result = result(outcome, started)?;
        self.count_check(&record.connector_type, &result);
        self.record_test(caller, id, &result, tested_account)
            .await?;
        tracing::info!(tenant = %caller.tenant(), connector_id = %id, success = result.success, code = ?result.error_code, "connector tested");
        Ok(result)
    }

    /// Checks with `config`; a token that died before its announced expiry is renewed once and
    /// checked again. Only an expired token is the renewal's to mend: a credential the provider
    /// calls invalid is reported as it is.
    async fn check_renewing_once(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
        config: SecretConfig,
    ) -> crate::checks::Outcome {
        self.credentials
            .send_renewing_once(
                caller,
                record,
                config,
                Renewing::OnEachRefusal,
                |outcome| match outcome {
                    Err(f) if f.code == ErrorCode::ExpiredCredentials => Answer::Refused,
                    _ => Answer::Final,
                },
                |config| async move {
                    checks::check(&self.outbound, &record.connector_type, &config).await
                },
            )
            .await
    }

    /// Records a check's outcome on the connector. `tested_account` is the webhook account the
    /// settings that were checked named (`account_named`): a success proves the credential
    /// reaches it, and only then do the provider's app webhooks for it reach this connector.
    pub(crate) async fn record_test(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        result: &CheckResult,
        tested_account: Option<String>,
    ) -> Result<(), Error> {
        for _attempt in 0..5 {
            let Some(current) = self.store.get(caller.tenant(), id).await? else {
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
            if result.success {
                let learned = self.learn_account(&mut next, &result.details);
                self.prove_account(&mut next, tested_account.as_deref(), learned);
            } else if matches!(
                result.error_code,
                Some(
                    ErrorCode::InvalidCredentials
                        | ErrorCode::ExpiredCredentials
                        | ErrorCode::InsufficientPermissions
                        | ErrorCode::NotFound
                        | ErrorCode::AuthorizationRequired
                )
            ) {
                // The credential no longer reaches the account: neither do its webhooks.
                next.account_key = None;
            }
            let mut events = self.outbox.status_events(&current, &next);
            // A failure is news once: not again while the connector keeps failing the same way.
            let news = current.error_code != next.error_code;
            if !result.success && news && next.status != ConnectorStatus::AuthorizationRequired {
                events.push(self.outbox.connector_event(
                    crate::model::webhooks::EventType::ConnectorTestFailed,
                    &next,
                ));
            }
            // The test itself was audited before it ran; its outcome is metadata.
            if self
                .store
                .update(caller.tenant(), &next, current.version, None, &events)
                .await?
            {
                if !events.is_empty() {
                    self.outbox.queued();
                }
                return Ok(());
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }
}

impl Connectors {
    /// Keeps the account a successful check read from the provider (HubSpot's portal, Square's
    /// merchant) as the connector's webhook account, when the catalog names a setting for it
    /// and the stored one differs: the provider said it, over the connector's own credentials.
    /// Whether it learned one.
    fn learn_account(&self, next: &mut ConnectorRecord, details: &crate::checks::Details) -> bool {
        let Some(def) = self.catalog.get(&next.connector_type) else {
            return false;
        };
        let Some(field) = def
            .webhooks
            .as_ref()
            .and_then(|h| h.account_field.as_deref())
            .and_then(|name| def.field(name))
        else {
            return false;
        };
        let Some(reported) = details.get(&field.name) else {
            return false;
        };
        let Ok(value) = self.catalog.validate_field(def, field, reported) else {
            return false;
        };
        let Ok(mut config) = self.credentials.open(next) else {
            return false;
        };
        if value.is_empty() {
            return false;
        }
        if config.get(&field.name) != Some(value.as_str()) {
            config.set(&field.name, value);
            self.credentials.seal(next, &config);
        }
        true
    }

    /// After a successful check: the account the connector's settings name is proven when the
    /// provider reported it (`learned`) or it is the one the checked settings named; otherwise
    /// (the settings changed while the check ran) it stays unproven.
    fn prove_account(&self, next: &mut ConnectorRecord, tested: Option<&str>, learned: bool) {
        let named = self
            .credentials
            .open(next)
            .ok()
            .and_then(|c| self.credentials.account_of(&next.connector_type, &c));
        next.account_key = match named {
            Some(named) if learned || tested == Some(named.as_str()) => Some(named),
            _ => None,
        };
    }
}

/// What a check found out, as its result; a fault of the hub's own (its storage failed while
/// renewing a token) is no finding about the connection: the request fails with it instead.
fn result(outcome: checks::Outcome, started: Instant) -> Result<CheckResult, Error> {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let tested_at = rfc3339(now_ms());
    Ok(match outcome {
        Err(fault) if fault.code.is_hub_fault() => return Err(fault),
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
    })
}
