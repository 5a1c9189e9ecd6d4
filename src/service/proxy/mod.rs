//! The proxy: a tenant's call to a provider's API, sent on with the connector's stored credential
//! attached as its check attaches it, and answered with the provider's response. The caller never
//! holds the credential, and never sees it: it is taken out of the answer as it streams.

pub mod rules;
mod slots;
mod stream;

pub(crate) use stream::ScrubbedStream;

use super::{Caller, Credentials, Gate, Parts, RateClass};
use crate::catalog::{Catalog, ConnectorDef, StreamsFrom};
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::{AuditAction, AuditOutcome};
use crate::outbound::access::Access;
use crate::outbound::http::Forward;
use crate::outbound::retry::{Answer, Attempts, Next, RetryPolicy};
use crate::outbound::scrub::Scrub;
use crate::outbound::Outbound;
use crate::secret::REFRESH_TOKEN;
use crate::service::credentials::Renewing;
use crate::store::ConnectorRecord;
use rules::idempotent;
use slots::TenantSlots;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// A call admitted before its body is read: the tenant is within its rate, the connector is its
/// own and has an HTTP API, and one of the tenant's in-flight slots is held for it.
pub(crate) struct ProxyTarget {
    record: ConnectorRecord,
    def: &'static ConnectorDef,
    slot: OwnedSemaphorePermit,
}

/// What to send the connector's provider.
pub(crate) struct ProxyCall {
    pub(crate) method: http::Method,
    /// The path under the provider's API base, with its query string, as the caller wrote it
    /// (less any hub token it carried).
    pub(crate) path_and_query: String,
    /// The caller's headers, already chosen (see `proxy::forwarded`).
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: bytes::Bytes,
    /// Retries asked for (`proxy::RETRY_HEADER`), for idempotent methods only.
    pub(crate) retries: u32,
}

/// The provider's answer, its body still to be read (and scrubbed with `scrub`); its headers
/// already scrubbed. The tenant's slot is held until the answer has been passed on.
pub(crate) struct ProxyAnswer {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) response: reqwest::Response,
    pub(crate) scrub: Scrub,
    pub(crate) slot: OwnedSemaphorePermit,
}

pub(crate) struct Proxy {
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbound: Arc<Outbound>,
    /// Proxied calls each tenant has in flight in this process.
    slots: TenantSlots,
}

impl Proxy {
    pub(super) fn new(parts: &Parts) -> Self {
        Self {
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            outbound: parts.outbound.clone(),
            slots: TenantSlots::new(parts.gate.limits().proxy_in_flight),
        }
    }

    /// Everything decided before the caller's body is read, so a refused call (over the rate,
    /// a connector that is not the caller's, no slot free) costs no upload.
    pub(crate) async fn admit_proxy(
        &self,
        caller: &Caller,
        connector_id: &ConnectorId,
    ) -> Result<ProxyTarget, Error> {
        self.gate.limit(caller, RateClass::Proxy).await?;
        let record = self
            .gate
            .connector(caller, connector_id, AuditAction::Proxy)
            .await?;
        let def = self.catalog.definition(&record.connector_type)?;
        let refused = if def.id == crate::outbound::mcp::MCP_SERVER {
            // Its tools are reached through the MCP gateway, which keeps to the tools its server
            // lists (and their read-only marks); raw calls to its address would not.
            Some(Error::new(
                ErrorCode::NoHttpApi,
                format!(
                    "{} is reached through its tools at /mcp, not through the proxy.",
                    def.name
                ),
            ))
        } else if def.streams_from == StreamsFrom::Discovery {
            Some(Error::new(
                ErrorCode::NoHttpApi,
                format!(
                    "{} has no HTTP API to call; read its tables through the records API.",
                    def.name
                ),
            ))
        } else {
            None
        };
        let slot = match refused {
            Some(error) => Err(error),
            None => self.slots.try_take(caller.tenant()).ok_or_else(|| {
                let mut error = Error::new(
                    ErrorCode::RateLimited,
                    format!(
                        "You already have {} calls through the proxy under way; wait for one to finish.",
                        self.slots.per_tenant()
                    ),
                );
                error.retry_after = Some(1);
                error
            }),
        };
        match slot {
            Ok(slot) => Ok(ProxyTarget { record, def, slot }),
            Err(error) => {
                self.gate
                    .audit_refusal(caller, AuditAction::Proxy, &error)
                    .await;
                Err(error)
            }
        }
    }

    pub(crate) async fn proxy(
        &self,
        caller: &Caller,
        target: ProxyTarget,
        call: ProxyCall,
    ) -> Result<ProxyAnswer, Error> {
        let ProxyTarget { record, def, slot } = target;
        let id = record.connector_id.clone();
        let mut config = self.credentials.fresh(caller, &record, false).await?;
        // Built before anything is sent (a secret too short to find in the answer is refused
        // then), and again with a renewed token: always from the configuration the call went
        // out with.
        let mut scrub = Scrub::new(def, &config)?;
        let path = call
            .path_and_query
            .split_once('?')
            .map_or(call.path_and_query.as_str(), |(path, _)| path);
        let started = Instant::now();
        // Retried only when the caller asked, and only where sending twice is harmless.
        let retries = if idempotent(&call.method) {
            call.retries.min(rules::MAX_RETRIES)
        } else {
            0
        };
        let mut attempts = Attempts::new(RetryPolicy::with_retries(retries));
        let sent = async {
            loop {
                let access = Access::resolve(def, &config, self.outbound.providers())?;
                let url = access.url(&with_settings(&call.path_and_query, def, &config))?;
                let forward = Forward {
                    method: call.method.clone(),
                    headers: call.headers.clone(),
                    body: call.body.clone(),
                    timeout: None,
                };
                let outcome = self
                    .outbound
                    .http()
                    .forward(access.get(url)?, forward)
                    .await;
                let answer = match &outcome {
                    Ok(r) => Answer::of_status(r.status().as_u16(), r.headers()),
                    Err(e) => Answer::of_failed_send(e),
                };
                // A refused token is renewed once and the call sent again (a 401 means the
                // provider did nothing with it) — unless a refusal renewed it a moment ago.
                match attempts.after(answer, config.get(REFRESH_TOKEN).is_some()) {
                    Next::Renew => {
                        let renewed = self
                            .credentials
                            .renew_refused(caller, &record, &config, Renewing::AtMostPerMinute)
                            .await?;
                        let Some((_, renewed)) = renewed else {
                            return outcome;
                        };
                        config = renewed;
                        scrub = Scrub::new(def, &config)?;
                    }
                    Next::Wait(wait) => tokio::time::sleep(wait).await,
                    Next::Return => return outcome,
                }
            }
        }
        .await;
        let attempts = attempts.sent();
        let detail = |outcome: &str, started: Instant, attempts: u32| {
            let retried = if attempts > 1 {
                format!(", {attempts} attempts")
            } else {
                String::new()
            };
            let text = format!(
                "{} {} → {outcome} in {} ms{retried}",
                call.method,
                path.chars().take(200).collect::<String>(),
                started.elapsed().as_millis()
            );
            scrub.clean(&text).into_owned()
        };
        let sent = sent.and_then(|response| match encoded(&response) {
            Some(encoding) => Err(Error::new(
                ErrorCode::UnreadableAnswer,
                format!(
                    "{} answered with an encoding ({}) Connector Hub did not ask for and cannot \
                     check for your credential, so the answer was not passed on.",
                    def.name,
                    scrub.clean(&encoding)
                ),
            )),
            None => Ok(response),
        });
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut entry = Gate::entry(
                    caller,
                    AuditAction::Proxy,
                    Some(&id),
                    AuditOutcome::Ok,
                    None,
                );
                Gate::add_detail(&mut entry, detail(&status.to_string(), started, attempts));
                // The provider has answered: the entry is written beside the answer.
                self.gate.append_beside(entry);
                Ok(ProxyAnswer {
                    status,
                    headers: rules::returned(response.headers(), &scrub),
                    response,
                    scrub,
                    slot,
                })
            }
            Err(error) => {
                let error = match error.code {
                    ErrorCode::Timeout => Error::new(
                        ErrorCode::ProviderTimeout,
                        format!("{} did not answer in time: {}", def.name, error.message),
                    ),
                    code if unreachable(code) => Error::new(
                        ErrorCode::ProviderUnreachable,
                        format!("{} could not be reached: {}", def.name, error.message),
                    ),
                    _ => error,
                };
                let mut entry = Gate::entry(
                    caller,
                    AuditAction::Proxy,
                    Some(&id),
                    AuditOutcome::Error,
                    Some(error.code),
                );
                Gate::add_detail(&mut entry, detail(error.code.as_str(), started, attempts));
                self.gate.append(entry).await?;
                Err(error)
            }
        }
    }
}

/// The encoding a provider compressed its answer with, when it did: the hub never asks for one
/// (no `Accept-Encoding` goes out), and could not find a secret inside a compressed body. A
/// transfer coding other than `chunked` (`gzip, chunked`) counts too: only the chunking is undone
/// on the way in.
fn encoded(response: &reqwest::Response) -> Option<String> {
    let named = |header: http::header::HeaderName, plain: &'static [&'static str]| {
        response
            .headers()
            .get_all(header.clone())
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("unreadable").split(','))
            .map(str::trim)
            .find(|e| !e.is_empty() && !plain.iter().any(|p| e.eq_ignore_ascii_case(p)))
            .map(|e| format!("{header}: {}", e.chars().take(40).collect::<String>()))
    };
    named(http::header::CONTENT_ENCODING, &["identity"])
        .or_else(|| named(http::header::TRANSFER_ENCODING, &["chunked", "identity"]))
}

/// The caller's path with `{name}` (or `%7Bname%7D`) of the connector's non-secret settings filled
/// in, so that a caller need not know them: QuickBooks' `/v3/company/{realm_id}/…`. Only values
/// that are plain path text are filled in; a secret never is.
fn with_settings(
    path_and_query: &str,
    def: &crate::catalog::ConnectorDef,
    config: &crate::secret::SecretConfig,
) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query)),
        None => (path_and_query.to_owned(), None),
    };
    let mut path = path;
    for field in def.fields.iter().filter(|f| !f.secret) {
        let Some(value) = config.get(&field.name).filter(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        }) else {
            continue;
        };
        for placeholder in [
            format!("{{{}}}", field.name),
            format!("%7B{}%7D", field.name),
            format!("%7b{}%7d", field.name),
        ] {
            path = path.replace(&placeholder, value);
        }
    }
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    }
}

/// A transport failure (as `outbound::http` classifies them), as opposed to a refusal by policy.
fn unreachable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HostUnreachable
            | ErrorCode::Timeout
            | ErrorCode::TlsError
            | ErrorCode::UnexpectedResponse
    )
}
