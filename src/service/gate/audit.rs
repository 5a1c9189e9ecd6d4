//! The audit log as the service writes it: entries for operations (in the same store
//! transaction as the change where there is one), refusals of signed-in callers, and the
//! per-minute summaries of refusals nobody signed in for.

use super::{Gate, RateClass};
use crate::auth::Principal;
use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, TenantId};
use crate::model::{AuditAction, AuditEntryView, AuditOutcome};
use crate::service::{store_cause, Caller};
use crate::store::{AuditQuery, AuditRecord, AuditWrite};

impl Gate {
    /// An entry about `caller`'s `action`, to be written. A call through an MCP tool says so in
    /// its detail (`mcp:<tool>`), before anything the operation adds (see `add_detail`).
    pub(crate) fn entry(
        caller: &Caller,
        action: AuditAction,
        connector_id: Option<&ConnectorId>,
        outcome: AuditOutcome,
        error_code: Option<ErrorCode>,
    ) -> AuditRecord {
        let (p, client) = (&caller.principal, caller.client.as_str());
        AuditRecord {
            seq: 0,
            tenant_id: p.tenant.as_str().to_owned(),
            at: now_ms(),
            user_id: p.user.clone(),
            action: action.as_str().to_owned(),
            connector_id: connector_id.map(ConnectorId::to_string),
            outcome: outcome.as_str().to_owned(),
            error_code: error_code.map(|c| c.as_str().to_owned()),
            client: client.to_owned(),
            detail: caller.via(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Adds `text` to an entry's detail, after what is there (the MCP tool it came through).
    pub(crate) fn add_detail(entry: &mut AuditRecord, text: String) {
        entry.detail = Some(match entry.detail.take() {
            Some(before) => format!("{before} {text}"),
            None => text,
        });
    }

    /// An `ok` entry to write in the same transaction as the change it records.
    pub(crate) fn audited(
        &self,
        caller: &Caller,
        action: AuditAction,
        id: &ConnectorId,
    ) -> AuditWrite<'_> {
        AuditWrite {
            entry: Self::entry(caller, action, Some(id), AuditOutcome::Ok, None),
            key: &self.audit_key,
        }
    }

    /// Writes an audit entry; when that fails the caller must not go on.
    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: AuditAction,
        connector_id: Option<&ConnectorId>,
        outcome: AuditOutcome,
        error_code: Option<ErrorCode>,
    ) -> Result<(), Error> {
        let entry = Self::entry(caller, action, connector_id, outcome, error_code);
        self.append(entry).await
    }

    pub(crate) async fn append(&self, entry: AuditRecord) -> Result<(), Error> {
        let action = entry.action.clone();
        let write = AuditWrite {
            entry,
            key: &self.audit_key,
        };
        self.store.append_audit(&write).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, action, "audit entry could not be written; refusing the operation");
            let cause = store_cause(&e).map(|c| format!(" ({c})")).unwrap_or_default();
            Error::new(
                ErrorCode::StorageUnavailable,
                format!("The audit log cannot be written{cause}, so the operation was not performed."),
            )
        })
    }

    /// Writes an entry for something already done (a proxied call, whose answer is on its way)
    /// beside it rather than before it: the caller does not wait for the durable write, and a
    /// failure to write is logged (the call cannot be undone by refusing its answer).
    pub(crate) fn append_beside(&self, entry: AuditRecord) {
        self.audit_beside.push(&self.store, &self.audit_key, entry);
    }

    /// Records a refused request of a signed-in caller (404 across tenants). Best effort: the
    /// request is refused whether or not this is written.
    pub(crate) async fn audit_refusal(&self, caller: &Caller, action: AuditAction, error: &Error) {
        tracing::info!(tenant = %caller.tenant(), %action, code = %error.code, "request refused");
        let _ = self
            .audit(
                caller,
                action,
                None,
                AuditOutcome::Refused,
                Some(error.code),
            )
            .await;
    }

    /// A request refused before anyone signed in (no valid token, a cross-site post): counted,
    /// and summarised into the audit log once a minute per client address (see `refusals`).
    /// Returns the error to answer with: `error`, or 429 once the address is over its limit.
    pub(crate) async fn refuse_anonymous(
        &self,
        action: AuditAction,
        error: Error,
        client: &str,
    ) -> Error {
        let now = now_ms();
        self.metrics.refused(action.as_str());
        // Memory only: the summaries are written by the server's flush task, off this path.
        self.refusals
            .refused(None, client, action, error.code.as_str(), now);
        if self
            .refusals
            .admit(client, now, self.limits.anonymous_per_min)
        {
            return error;
        }
        self.anonymous_limited(now)
    }

    /// Refuses at once, before any work, an address already past the limit on requests without
    /// a valid credential this minute (a provider webhook's signature is its credential).
    pub(crate) fn admit_anonymous(&self, client: &str) -> Result<(), Error> {
        let now = now_ms();
        if !self
            .refusals
            .over(client, now, self.limits.anonymous_per_min)
        {
            return Ok(());
        }
        Err(self.anonymous_limited(now))
    }

    /// Counts a request that anyone may make without signing in and that costs a durable write
    /// (an MCP client registering itself) against the address's limit on such requests; refused
    /// once the address is over it.
    pub fn count_anonymous(&self, client: &str) -> Result<(), Error> {
        let now = now_ms();
        if self
            .refusals
            .admit(client, now, self.limits.anonymous_per_min)
        {
            return Ok(());
        }
        Err(self.anonymous_limited(now))
    }

    fn anonymous_limited(&self, now: i64) -> Error {
        self.metrics.rate_limited("anonymous");
        let mut limited = Error::new(
            ErrorCode::RateLimited,
            "Too many requests without a valid sign-in from your address. Please wait a minute.",
        );
        limited.retry_after = u64::try_from((60_000 - now.rem_euclid(60_000)) / 1000 + 1).ok();
        limited
    }

    /// Writes the summaries of refusals of minutes that have ended (`everything`: all of them,
    /// at shutdown): one entry per tenant, address and minute, in the tenant's log, or for
    /// refusals nobody signed in for, under a tenant no token can name.
    pub(crate) async fn flush_refusals(&self, everything: bool) {
        let summaries = self.refusals.take_closed(now_ms(), everything);
        let mut unwritten = Vec::new();
        for summary in summaries {
            let who = Caller::new(
                Principal {
                    tenant: summary
                        .tenant
                        .clone()
                        .unwrap_or_else(TenantId::unauthenticated),
                    user: summary.user.clone(),
                    via_cookie: false,
                    expires_at: 0,
                },
                summary.client.clone(),
            );
            let mut entry = Self::entry(
                &who,
                summary.action,
                None,
                AuditOutcome::Refused,
                ErrorCode::parse(&summary.error_code),
            );
            entry.at = summary.minute;
            entry.detail = Some(format!(
                "{} request{} refused in this minute",
                summary.count,
                if summary.count == 1 { "" } else { "s" }
            ));
            if self.append(entry).await.is_err() {
                unwritten.push(summary);
            }
        }
        if !unwritten.is_empty() {
            self.refusals.restore(unwritten);
        }
    }

    /// A page of the tenant's audit log, and where the next one starts (see `Store::list_audit`).
    pub(crate) async fn audit_log(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), Error> {
        self.limit(caller, RateClass::Reads).await?;
        Ok(self.store.list_audit(caller.tenant(), query).await?)
    }
}

/// An audit query from a client's filters, each checked: an action or outcome the log never
/// records is a mistake worth saying, not a filter that silently matches nothing.
/// A filter value, or `None` when absent or blank (an empty form field).
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

pub(crate) fn audit_query(
    connector_id: Option<&str>,
    action: Option<&str>,
    outcome: Option<&str>,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<AuditQuery, Error> {
    let unknown = |field: &str, known: Vec<&str>| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("Unknown {field}; the log records {}.", known.join(", ")),
        )
        .with_field(field)
    };
    let action = match given(action) {
        Some(a) => Some(AuditAction::parse(a).ok_or_else(|| {
            unknown(
                "action",
                AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
            )
        })?),
        None => None,
    };
    let outcome = match given(outcome) {
        Some(o) => Some(AuditOutcome::parse(o).ok_or_else(|| {
            unknown(
                "outcome",
                AuditOutcome::ALL.iter().map(|o| o.as_str()).collect(),
            )
        })?),
        None => None,
    };
    // Every id the log records is a connector's id: anything else is a mistake, like an
    // unknown action.
    let connector_id = match given(connector_id) {
        Some(id) => Some(ConnectorId::parse(id).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                "The connector_id filter is not a connector id.",
            )
            .with_field("connector_id")
        })?),
        None => None,
    };
    Ok(AuditQuery {
        connector_id,
        action,
        outcome,
        before_seq,
        limit,
    })
}

impl From<AuditRecord> for AuditEntryView {
    fn from(e: AuditRecord) -> Self {
        Self {
            seq: e.seq,
            at: rfc3339(e.at),
            user_id: e.user_id,
            action: e.action,
            connector_id: e.connector_id,
            outcome: e.outcome,
            error_code: e.error_code,
            detail: e.detail,
            client: e.client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_filter_is_a_connector_id_or_refused() {
        let id = ConnectorId::generate();
        let query = audit_query(Some(id.as_str()), None, None, None, 10).expect("an id");
        assert_eq!(query.connector_id, Some(id));
        let blank = audit_query(Some("  "), None, None, None, 10).expect("blank");
        assert_eq!(blank.connector_id, None, "a blank field filters nothing");
        let error =
            audit_query(Some("conn-1' OR 1=1"), None, None, None, 10).expect_err("not an id");
        assert_eq!(
            (error.code, error.field.as_deref()),
            (ErrorCode::InvalidRequest, Some("connector_id"))
        );
    }
}
