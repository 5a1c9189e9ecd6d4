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
pub(crate) const MAX_PROXY_BYTES: usize = 32 * 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
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

/// The proxy in the OpenAPI document: one operation per method it passes on (`any` sends every
/// method to `forward`, and an operation id names one method), each a pass-through whose 2xx
/// answer is the provider's own.
pub(crate) struct ProxyOperations;

/// The answers the hub gives itself, in its error shape (`ErrorBody`). A provider's own answer
/// with any of these statuses passes through as the provider sent it.
const HUB_ANSWERS: [(&str, &str); 11] = [
    ("400", "`INVALID_REQUEST`: `connector-hub-retries` is not a number from 0 to 3; `NO_HTTP_API`: the connector (PostgreSQL) has no HTTP API to call"),
    ("401", "`UNAUTHENTICATED`: no hub token where the provider's SDK puts its key"),
    ("403", "`FORBIDDEN`: a browser's cross-site request without `Authorization`"),
    ("404", "`NOT_FOUND`: no such connector for this tenant"),
    ("409", "`DECRYPTION_FAILED`: the stored credential does not open with the configured keys"),
    ("413", "`PAYLOAD_TOO_LARGE`: a body over 32 MB"),
    ("422", "`EGRESS_BLOCKED` or `HTTPS_REQUIRED` (where the connector points), `INVALID_CONFIG` (a stored secret too short to scrub), or a token renewal that failed (`AUTHORIZATION_REQUIRED`: sign in again)"),
    ("429", "`RATE_LIMITED`: the tenant's proxy rate per minute, or its calls already under way (`Retry-After`)"),
    ("502", "`PROVIDER_UNREACHABLE`, or `UNREADABLE_ANSWER` (an answer in an encoding the hub did not ask for, which it cannot check for secrets)"),
    ("503", "`STORAGE_UNAVAILABLE`: the store cannot be reached"),
    ("504", "`PROVIDER_TIMEOUT`: no whole answer in time (`CONNECTOR_HUB_PROXY_TIMEOUT_MS`)"),
];

impl utoipa::Modify for ProxyOperations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
        use utoipa::openapi::request_body::RequestBodyBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

        let text = || ObjectBuilder::new().schema_type(Type::String);
        let bytes = || {
            ContentBuilder::new()
                .schema(Some(text().format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Binary,
                    ),
                ))))
                .build()
        };
        let methods = [
            (HttpMethod::Get, "get"),
            (HttpMethod::Put, "put"),
            (HttpMethod::Post, "post"),
            (HttpMethod::Delete, "delete"),
            (HttpMethod::Options, "options"),
            (HttpMethod::Head, "head"),
            (HttpMethod::Patch, "patch"),
            (HttpMethod::Trace, "trace"),
        ];
        for (method, name) in methods {
            let answer = ResponseBuilder::new().description(
                "The provider's own answer, passed through: its status, its headers (without \
                 `Set-Cookie` and `WWW-Authenticate`, with `Content-Security-Policy: sandbox` \
                 and `X-Content-Type-Options: nosniff`) and its body as its API documents it, \
                 with the connector's secret values taken out.",
            );
            let answer = if method == HttpMethod::Head {
                answer
            } else {
                answer
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(SchemaType::AnyValue)))
                            .build(),
                    )
                    .content("application/octet-stream", bytes())
            };
            let mut operation = OperationBuilder::new()
                .tag("proxy")
                .operation_id(Some(format!("proxy_{name}")))
                .summary(Some(
                    "Calls the connector's provider API with its stored credential.",
                ))
                .description(Some(
                    "A pass-through: the call goes on to the connector's API (the provider's \
                     base, the shop or store, the REST API's `base_url`) with the stored \
                     credential attached as the connector's check attaches it, an OAuth token \
                     that is due renewed first. Give the provider's own SDK the hub token as its \
                     API key and `/proxy/{connector_id}` as its API base. The caller's own \
                     credentials, cookies and hop-by-hop headers stay behind, and a hub token in \
                     the query string is taken out. Any other answer than those listed here is \
                     the provider's own; a listed status may be the provider's too, with the \
                     provider's body. Every call is audited. Every HTTP method is passed on; \
                     these are the ones OpenAPI names.",
                ))
                .parameter(
                    ParameterBuilder::new()
                        .name("connector_id")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some("The connector id, `conn-…`"))
                        .schema(Some(text())),
                )
                .parameter(
                    ParameterBuilder::new()
                        .name("path")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some(
                            "The provider's API path, slashes included (`v1/customers`, \
                             `admin/api/2024-07/orders.json`), sent on as written with the query \
                             string; `{name}` in it is filled from the connector's non-secret \
                             settings (QuickBooks' `v3/company/{realm_id}/…`)",
                        ))
                        .schema(Some(text())),
                )
                .parameter(
                    ParameterBuilder::new()
                        .name(RETRY_HEADER)
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "Retries of an idempotent call on 429 (waiting out `Retry-After` up \
                             to 30 s), 502–504 and connection failures; none without it",
                        ))
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(0))
                                .maximum(Some(MAX_RETRIES)),
                        )),
                )
                .response("2XX", answer)
                .response(
                    "default",
                    ResponseBuilder::new()
                        .description("Any other answer of the provider's, passed through"),
                );
            for (status, meaning) in HUB_ANSWERS {
                operation = operation.response(
                    status,
                    ResponseBuilder::new().description(meaning).content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    ),
                );
            }
            if matches!(
                method,
                HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete
            ) {
                operation = operation.request_body(Some(
                    RequestBodyBuilder::new()
                        .description(Some(
                            "The provider's request body, sent on byte for byte with the \
                             caller's `Content-Type` (a form for Stripe, JSON for most others)",
                        ))
                        .content("application/octet-stream", bytes())
                        .build(),
                ));
            }
            // The hub token where each SDK puts its key; never the session cookie, so no other
            // site can drive the proxy from a browser.
            for scheme in ["bearer", "basic", "shopify_access_token"] {
                operation = operation.security(SecurityRequirement::new(scheme, [] as [&str; 0]));
            }
            openapi.paths.add_path_operation(
                "/proxy/{connector_id}/{path}",
                vec![method],
                operation.build(),
            );
        }
    }
}
