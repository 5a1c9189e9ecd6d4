//! The `/v1` REST API and the browser session endpoints: thin adapters over `ConnectorService`.

use crate::api::extract::client_addr;
use crate::api::extract::Authenticated;
use crate::api::http_error::HttpError;
use crate::api::state::AppState;
use crate::catalog::catalog;
use crate::error::{ApiError, Error, ErrorCode};
use crate::model::{ConnectorStatus, SyncFrequency};
use crate::service::{audit_query, ConnectorChanges, NewConnector};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

type ApiResult<T> = Result<T, HttpError>;

/// The `{id}` of a connector path. An id that does not decode (`%FF`) is answered in our error
/// shape, not axum's plain-text rejection.
struct ConnectorIdPath(String);

impl<S: Send + Sync> FromRequestParts<S> for ConnectorIdPath {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|_| {
                HttpError(
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        "The connector id in the address is not valid text.",
                    )
                    .with_field("id"),
                )
            })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/catalog", get(get_catalog))
        .route("/v1/connectors", post(create).get(list))
        .route("/v1/connectors/test", post(test_unsaved))
        .route(
            "/v1/connectors/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/v1/connectors/{id}/test", post(test_saved))
        .route("/v1/connectors/{id}/clear-error", post(clear_error))
        .route("/v1/audit", get(audit))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(super::session::router())
        .merge(super::oauth::router())
}

/// Parses a JSON body into `T`, with our error shape. serde's messages can quote the offending
/// value (which may be a secret), so only its category and position are reported.
fn json_body<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body.map_err(body_error)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof => "The body is not valid JSON",
            Category::Data => {
                "The body has a field of the wrong type, or is missing a required field"
            }
            Category::Io => "The body could not be read",
        };
        HttpError(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{what} (line {}, column {}).", e.line(), e.column()),
        ))
    })
}

/// A body that could not be read (too large, cut off), in our error shape.
pub(crate) fn body_error(rejection: BytesRejection) -> HttpError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HttpError(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "The request body is larger than this server accepts.",
        ))
    } else {
        HttpError(ApiError::new(
            ErrorCode::InvalidRequest,
            "The request body could not be read.",
        ))
    }
}

/// Config values arrive as JSON; strings, numbers and booleans are accepted as text.
fn config_map(config: Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    config
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            _ => Err(HttpError::from(Error::invalid_config(
                &k,
                format!(
                    "{} must be a string.",
                    k.chars().take(64).collect::<String>()
                ),
            ))),
        })
        .collect()
}

fn frequency(value: Option<String>) -> ApiResult<Option<SyncFrequency>> {
    value
        .map(|v| {
            SyncFrequency::parse(&v).ok_or_else(|| {
                HttpError(
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        "sync_frequency must be manual, hourly, daily or weekly.",
                    )
                    .with_field("sync_frequency"),
                )
            })
        })
        .transpose()
}

pub(crate) fn query_map(raw: Option<String>) -> BTreeMap<String, String> {
    let raw = raw.unwrap_or_default();
    reqwest::Url::parse(&format!("http://q/?{raw}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn get_catalog() -> impl IntoResponse {
    Json(serde_json::json!({ "connectors": catalog().entries() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    connector_type: String,
    display_name: Option<String>,
    #[serde(default)]
    config: Map<String, Value>,
    sync_frequency: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body: CreateBody = json_body(body)?;
    let input = NewConnector {
        connector_type: body.connector_type,
        display_name: body.display_name,
        config: config_map(body.config)?,
        sync_frequency: frequency(body.sync_frequency)?,
        tokens: None,
    };
    let view = state
        .service
        .create(&p, input, &client_addr(&parts))
        .await?;
    let location = format!("/v1/connectors/{}", view.connector_id);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> ApiResult<Response> {
    let q = query_map(q);
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        Some(s) => Some(ConnectorStatus::parse(s).ok_or_else(|| {
            HttpError(
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "status must be pending, active, error or authorization_required.",
                )
                .with_field("status"),
            )
        })?),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            HttpError(
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "limit must be a whole number from 1 to 200.",
                )
                .with_field("limit"),
            )
        })?),
        None => None,
    };
    let page = state
        .service
        .list_json(
            &p,
            status,
            limit,
            q.get("cursor").map(String::as_str),
            &client_addr(&parts),
        )
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page,
    )
        .into_response())
}

async fn read(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    parts: Parts,
) -> ApiResult<Response> {
    Ok(Json(state.service.get(&p, &id, &client_addr(&parts)).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    display_name: Option<String>,
    sync_frequency: Option<String>,
    config: Option<Map<String, Value>>,
}

async fn update(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body: UpdateBody = json_body(body)?;
    let changes = ConnectorChanges {
        display_name: body.display_name,
        sync_frequency: frequency(body.sync_frequency)?,
        config: body.config.map(config_map).transpose()?,
        tokens: None,
    };
    Ok(Json(
        state
            .service
            .update(&p, &id, changes, &client_addr(&parts))
            .await?,
    )
    .into_response())
}

async fn remove(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    parts: Parts,
) -> ApiResult<StatusCode> {
    state.service.delete(&p, &id, &client_addr(&parts)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    connector_type: String,
    #[serde(default)]
    config: Map<String, Value>,
}

async fn test_unsaved(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body: TestBody = json_body(body)?;
    let config = config_map(body.config)?;
    Ok(Json(
        state
            .service
            .test_unsaved(
                &p,
                &body.connector_type,
                &config,
                None,
                &client_addr(&parts),
            )
            .await?,
    )
    .into_response())
}

async fn test_saved(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    parts: Parts,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .service
            .test_saved(&p, &id, &client_addr(&parts))
            .await?,
    )
    .into_response())
}

async fn clear_error(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    parts: Parts,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .service
            .clear_error(&p, &id, &client_addr(&parts))
            .await?,
    )
    .into_response())
}

async fn audit(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> ApiResult<Response> {
    let q = query_map(q);
    let number = |name: &str| -> ApiResult<Option<i64>> {
        q.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    HttpError(
                        ApiError::new(
                            ErrorCode::InvalidRequest,
                            format!("{name} must be a number."),
                        )
                        .with_field(name),
                    )
                })
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(50).clamp(1, 200);
    let query = audit_query(
        q.get("connector_id").map(String::as_str),
        q.get("action").map(String::as_str),
        q.get("outcome").map(String::as_str),
        number("before")?,
        usize::try_from(limit).unwrap_or(50),
    )?;
    let (entries, next) = state
        .service
        .audit_log(&p, &query, &client_addr(&parts))
        .await?;
    Ok(Json(serde_json::json!({ "entries": entries, "next_before": next })).into_response())
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.service.store_reachable().await {
        true => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ready", "store": state.service.store_name()})),
        )
            .into_response(),
        false => HttpError(ApiError::new(
            ErrorCode::StorageUnavailable,
            "The store is not reachable.",
        ))
        .into_response(),
    }
}
