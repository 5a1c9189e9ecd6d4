//! `ANY /proxy/{connector_id}/{*path}`: a tenant's call to its provider's API, made with the
//! connector's stored credential. The caller authenticates with its hub token where its SDK puts
//! an API key (see `crate::service::proxy::rules::caller_tokens`), so a provider's official SDK works unchanged
//! with the hub's address as its API base. The answer streams back, capped and scrubbed.

use super::extract::client_addr;
use super::http_error::HttpError;
use super::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::proxy::rules::{caller_tokens, forwarded, MAX_RETRIES, RETRY_HEADER};
use crate::service::proxy::ScrubbedStream;
use crate::service::{Caller, ProxyAnswer, ProxyCall};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::StatusCode;

/// The largest request body sent on, and the largest answer streamed back.
pub const MAX_PROXY_BYTES: usize = 32 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/proxy/{connector_id}/{*path}", any(forward))
}

async fn forward(State(state): State<AppState>, request: Request) -> Response {
    match call(&state, request).await {
        Ok(answer) => stream_back(answer),
        Err(error) => HttpError::from(error).into_response(),
    }
}

async fn call(state: &AppState, request: Request) -> Result<ProxyAnswer, Error> {
    let (parts, body) = request.into_parts();
    let client = client_addr(&parts);
    let presented = caller_tokens(&parts.headers);
    let principal = presented.iter().find_map(|token| state.auth.verify(token));
    let Some(caller) = principal.map(|p| Caller::new(p, client.clone())) else {
        let error = Error::new(
            ErrorCode::Unauthenticated,
            "Send your Connector Hub token where the provider's SDK sends its API key (Authorization: Bearer, X-Shopify-Access-Token, or either half of HTTP Basic).",
        );
        return Err(state
            .hub
            .gate
            .refuse_anonymous(AuditAction::Authenticate, error, &client)
            .await);
    };
    // The raw path, not the decoded capture: the provider gets it exactly as the caller wrote it.
    let rest = parts.uri.path().strip_prefix("/proxy/").unwrap_or_default();
    let (connector_id, path) = rest.split_once('/').unwrap_or((rest, ""));
    let retries = match parts.headers.get(RETRY_HEADER) {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n <= MAX_RETRIES)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidRequest,
                    format!("{RETRY_HEADER} must be a number from 0 to {MAX_RETRIES}."),
                )
            })?,
    };
    // Rate, connector and a slot before the body: a refused call costs no upload.
    let target = state
        .hub
        .proxy
        .admit_proxy(&caller, &crate::api::extract::connector_id(connector_id)?)
        .await?;
    let path_and_query = match parts
        .uri
        .query()
        .map(|q| without_hub_tokens(state, &presented, q))
    {
        Some(query) if !query.is_empty() => format!("/{path}?{query}"),
        _ => format!("/{path}"),
    };
    let body = axum::body::to_bytes(body, MAX_PROXY_BYTES)
        .await
        .map_err(|_| {
            Error::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "The proxy sends on bodies of up to {} MB.",
                    MAX_PROXY_BYTES / (1024 * 1024)
                ),
            )
        })?;
    let call = ProxyCall {
        method: parts.method.clone(),
        path_and_query,
        headers: forwarded(&parts.headers),
        body,
        retries,
    };
    state.hub.proxy.proxy(&caller, target, call).await
}

/// The query string without any parameter whose value is a hub token — the one the caller
/// presented, or any other this hub would accept: a caller that put its token there (as some
/// SDKs put a key) must not hand it to the provider. Parameters are kept as the caller encoded
/// them.
fn without_hub_tokens(state: &AppState, presented: &[String], query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            !form_urlencoded::parse(pair.as_bytes()).any(|(_, value)| {
                presented.iter().any(|t| *t == value)
                    // A hub token is a JWT: three dot-separated parts; only those are verified.
                    || (value.matches('.').count() == 2 && state.auth.verify(&value).is_some())
            })
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The provider's answer as it arrives, secrets taken out; cut off past the cap (the caller sees
/// a broken body, never a truncated one passed off as whole).
fn stream_back(answer: ProxyAnswer) -> Response {
    let ProxyAnswer {
        status,
        headers,
        response,
        scrub,
        slot,
    } = answer;
    struct Flow {
        response: reqwest::Response,
        scrubbed: ScrubbedStream,
        sent: usize,
        done: bool,
        /// The tenant's in-flight slot, given back when the answer is done (or dropped).
        _slot: tokio::sync::OwnedSemaphorePermit,
    }
    let flow = Flow {
        response,
        scrubbed: ScrubbedStream::new(scrub),
        sent: 0,
        done: false,
        _slot: slot,
    };
    let body = futures_util::stream::unfold(flow, |mut flow| async move {
        if flow.done {
            return None;
        }
        let item = match flow.response.chunk().await {
            Ok(Some(chunk)) => {
                flow.sent += chunk.len();
                if flow.sent > MAX_PROXY_BYTES {
                    flow.done = true;
                    Err(std::io::Error::other(
                        "the answer is larger than the proxy passes on",
                    ))
                } else {
                    Ok(flow.scrubbed.push(&chunk))
                }
            }
            Ok(None) => {
                flow.done = true;
                Ok(flow.scrubbed.finish())
            }
            Err(_) => {
                flow.done = true;
                Err(std::io::Error::other("the provider's answer broke off"))
            }
        };
        Some((item, flow))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers;
    response
}
