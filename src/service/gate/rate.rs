//! Per-tenant rate limits by route class, counted in the store (see `rate_counter`).

use super::rate_counter::Verdict;
use super::Gate;
use crate::clock::{minute_of, now_ms};
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::Caller;

/// Per-tenant requests per minute, by route class. Connection tests reach external providers and
/// are limited separately, more tightly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitSettings {
    pub(crate) reads_per_min: u64,
    pub(crate) writes_per_min: u64,
    pub(crate) tests_per_min: u64,
    /// Calls through the proxy to providers.
    pub(crate) proxy_per_min: u64,
    /// Tool calls of AI agents through the hub's MCP server (each counted here only).
    pub(crate) mcp_per_min: u64,
    /// Calls through the proxy one tenant may have in flight at once (per process).
    pub(crate) proxy_in_flight: u64,
    /// Requests without a valid credential, per client address (each process on its own).
    pub(crate) anonymous_per_min: u64,
}

impl LimitSettings {
    pub(crate) const UNLIMITED: Self = Self {
        reads_per_min: u64::MAX,
        writes_per_min: u64::MAX,
        tests_per_min: u64::MAX,
        proxy_per_min: u64::MAX,
        mcp_per_min: u64::MAX,
        proxy_in_flight: u64::MAX,
        anonymous_per_min: u64::MAX,
    };
}

/// What a request costs against the tenant's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateClass {
    Reads,
    Writes,
    Tests,
    Proxy,
    /// An AI agent's tool call through the MCP server, whatever it does.
    Mcp,
}

impl RateClass {
    /// What a refusal past this class's limit is audited as.
    fn refusal(self) -> AuditAction {
        match self {
            Self::Reads => AuditAction::RateLimitReads,
            Self::Writes => AuditAction::RateLimitWrites,
            Self::Tests => AuditAction::RateLimitTests,
            Self::Proxy => AuditAction::RateLimitProxy,
            Self::Mcp => AuditAction::RateLimitMcp,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Reads => "reads",
            Self::Writes => "writes",
            Self::Tests => "tests",
            Self::Proxy => "proxy",
            Self::Mcp => "mcp",
        }
    }
}

impl Gate {
    /// Counts the request against the tenant's limit for its class; 429 past it. The count is
    /// shared by every process on the store; far below the limit hits are taken from it in
    /// batches (see `rate`). If the counters cannot be reached the request is allowed (and
    /// logged): a rate limiter must not take the whole service down with it.
    pub(crate) async fn limit(&self, caller: &Caller, class: RateClass) -> Result<(), Error> {
        // An agent's tool call counts in its own class only: an agent busy with a tenant's data
        // cannot use up the rate its people and backends work with.
        let class = if caller.tool().is_some() {
            RateClass::Mcp
        } else {
            class
        };
        let max = match class {
            RateClass::Reads => self.limits.reads_per_min,
            RateClass::Writes => self.limits.writes_per_min,
            RateClass::Tests => self.limits.tests_per_min,
            RateClass::Proxy => self.limits.proxy_per_min,
            RateClass::Mcp => self.limits.mcp_per_min,
        };
        if max == u64::MAX {
            return Ok(());
        }
        let now = now_ms();
        let window = minute_of(now);
        let key = format!("{}:{}", caller.tenant(), class.as_str());
        let hits = match self.rates.count(&key, window, max) {
            Verdict::Admit => return Ok(()),
            Verdict::Take(hits) => hits,
        };
        match self.store.hit(&key, window, hits).await {
            Ok(total) if !self.rates.taken(&key, window, hits, total, max) => {
                self.metrics.rate_limited(class.as_str());
                let mut error = Error::new(
                    ErrorCode::RateLimited,
                    format!(
                        "Your organisation has made too many {} requests this minute. Please wait a moment.",
                        class.as_str()
                    ),
                );
                error.retry_after = u64::try_from((window + 60_000 - now) / 1000 + 1).ok();
                // A caller can repeat a refused request at will: summarised, never a write each.
                self.refusals.refused(
                    Some(&caller.principal),
                    &caller.client,
                    class.refusal(),
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
}
