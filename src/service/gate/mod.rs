//! The gate every use case passes first: the tenant's rate limit for its class, the connector it
//! names (found only within the caller's tenant), and the audit log its outcome is written to.
//! Refusals nobody signed in for are counted and summarised here too (`refusals`).

mod audit;
mod audit_beside;
mod rate;
mod rate_counter;
pub(crate) mod refusals;

pub(crate) use audit::audit_query;
pub(crate) use rate::{LimitSettings, RateClass};

use super::Caller;
use crate::error::Error;
use crate::ids::ConnectorId;
use crate::metrics::Metrics;
use crate::model::AuditAction;
use crate::store::{ConnectorRecord, Store};
use crate::vault::AuditKey;
use audit_beside::AuditBeside;
use rate_counter::RateCounter;
use refusals::RefusalGate;
use std::sync::Arc;

pub(crate) struct Gate {
    store: Arc<dyn Store>,
    limits: LimitSettings,
    metrics: Metrics,
    rates: RateCounter,
    refusals: RefusalGate,
    audit_key: AuditKey,
    /// Entries of proxied calls, written in groups beside their answers.
    audit_beside: AuditBeside,
}

impl Gate {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        audit_key: AuditKey,
        limits: LimitSettings,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            limits,
            metrics,
            rates: RateCounter::default(),
            refusals: RefusalGate::default(),
            audit_key,
            audit_beside: AuditBeside::default(),
        }
    }

    pub(crate) fn limits(&self) -> &LimitSettings {
        &self.limits
    }

    /// The caller's connector `id`. Missing, malformed and another tenant's look the same to the
    /// caller (404); the audit log records the refusal as `action`.
    pub(crate) async fn connector(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        action: AuditAction,
    ) -> Result<ConnectorRecord, Error> {
        match self.store.get(caller.tenant(), id).await? {
            Some(record) => Ok(record),
            None => {
                let error = Error::not_found();
                self.audit_refusal(caller, action, &error).await;
                Err(error)
            }
        }
    }

    /// Writes the audit entries waiting beside their calls (at shutdown).
    pub(crate) async fn flush_beside(&self) {
        self.audit_beside.flush().await;
    }
}
