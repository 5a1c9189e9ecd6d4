//! The proxy: a tenant's call to a provider's API, sent on with the connector's stored credential
//! attached as its check attaches it, and answered with the provider's response. The caller never
//! holds the credential, and never sees it: it is taken out of the answer as it streams.

use super::{ConnectorService, RateClass};
use crate::auth::Principal;
use crate::catalog::StreamsFrom;
use crate::checks::http::{retry_after, Forward};
use crate::error::{Error, ErrorCode};
use crate::model::{AuditAction, AuditOutcome};
use crate::proxy::idempotent;
use crate::secret::REFRESH_TOKEN;
use crate::sync::access::Access;
use crate::sync::Scrub;
use std::time::{Duration, Instant};

/// The longest `Retry-After` a retried call waits out; a longer one is the caller's to handle.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// A caller's call: which connector, and what to send it.
pub struct ProxyCall {
    pub connector_id: String,
    pub method: http::Method,
    /// The path under the provider's API base, with its query string, as the caller wrote it.
    pub path_and_query: String,
    /// The caller's headers, already stripped (see `proxy::forwarded`).
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    /// Retries asked for (`proxy::RETRY_HEADER`), for idempotent methods only.
    pub retries: u32,
}

/// The provider's answer, its body still to be read (and scrubbed with `scrub`).
pub struct ProxyAnswer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub response: reqwest::Response,
    pub scrub: Scrub,
}

impl ConnectorService {
    pub async fn proxy(
        &self,
        p: &Principal,
        call: ProxyCall,
        client: &str,
    ) -> Result<ProxyAnswer, Error> {
        self.limit(p, RateClass::Proxy, client).await?;
        let record = self
            .record(p, &call.connector_id, AuditAction::Proxy, client)
            .await?;
        let def = self.definition(&record.connector_type)?;
        let id = record.connector_id.clone();
        if def.streams_from == StreamsFrom::Discovery {
            let error = Error::new(
                ErrorCode::NoHttpApi,
                format!(
                    "{} has no HTTP API to call; read its tables through the records API.",
                    def.name
                ),
            );
            self.audit_refusal(p, AuditAction::Proxy, &error, client)
                .await;
            return Err(error);
        }
        let mut config = self.fresh_config(p, &record, false, client).await?;
        let path = call
            .path_and_query
            .split_once('?')
            .map_or(call.path_and_query.as_str(), |(path, _)| path);
        let started = Instant::now();
        let mut attempts = 0;
        let mut renewed = false;
        let sent = async {
            let retries = if idempotent(&call.method) {
                call.retries.min(crate::proxy::MAX_RETRIES)
            } else {
                0
            };
            loop {
                let access = Access::resolve(def, &config, self.checker.providers())?;
                let url = access.url(&with_settings(&call.path_and_query, def, &config))?;
                attempts += 1;
                let forward = Forward {
                    method: call.method.clone(),
                    headers: call.headers.clone(),
                    body: call.body.clone(),
                };
                let outcome = self.checker.http().forward(access.get(url)?, forward).await;
                // A token the provider refused before its announced expiry is renewed once and
                // the call sent again: a 401 means the provider did nothing with it.
                let refused = matches!(&outcome, Ok(r) if r.status().as_u16() == 401);
                if refused && !renewed && config.get(REFRESH_TOKEN).is_some() {
                    renewed = true;
                    let latest = self
                        .store
                        .get(&p.tenant, &id)
                        .await?
                        .ok_or_else(Error::not_found)?;
                    config = self.fresh_config(p, &latest, true, client).await?;
                    continue;
                }
                let wait = match &outcome {
                    _ if attempts > retries => None,
                    Ok(r) if r.status().as_u16() == 429 => retry_after(r.headers())
                        .map(Duration::from_secs)
                        .or(Some(backoff(attempts)))
                        .filter(|w| *w <= MAX_RETRY_WAIT),
                    Ok(r) if matches!(r.status().as_u16(), 502..=504) => Some(backoff(attempts)),
                    Err(e) if unreachable(e.code) => Some(backoff(attempts)),
                    _ => None,
                };
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return outcome,
                }
            }
        }
        .await;
        // Built from the configuration the call went out with (a renewed token included).
        let scrub = Scrub::new(def, &config);
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
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut entry = Self::audit_entry(
                    p,
                    AuditAction::Proxy,
                    Some(&id),
                    AuditOutcome::Ok,
                    None,
                    client,
                );
                entry.detail = Some(detail(&status.to_string(), started, attempts));
                // The provider has answered: the entry is written beside the answer.
                self.append_beside(entry);
                Ok(ProxyAnswer {
                    status,
                    headers: crate::proxy::returned(response.headers()),
                    response,
                    scrub,
                })
            }
            Err(error) => {
                let error = if unreachable(error.code) {
                    Error::new(
                        ErrorCode::ProviderUnreachable,
                        format!("{} could not be reached: {}", def.name, error.message),
                    )
                } else {
                    error
                };
                let mut entry = Self::audit_entry(
                    p,
                    AuditAction::Proxy,
                    Some(&id),
                    AuditOutcome::Error,
                    Some(error.code),
                    client,
                );
                entry.detail = Some(detail(error.code.as_str(), started, attempts));
                self.append(entry).await?;
                Err(error)
            }
        }
    }
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

/// A transport failure (as `checks::http` classifies them), as opposed to a refusal by policy.
fn unreachable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HostUnreachable
            | ErrorCode::Timeout
            | ErrorCode::TlsError
            | ErrorCode::UnexpectedResponse
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(attempt.saturating_sub(1).min(6)))
}
