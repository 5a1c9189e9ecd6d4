//! `/v1/connectors`: create, list, read, change, delete and test a tenant's connectors.

use super::{ApiResult, ErrorBody};
use crate::api::extract::{Authenticated, JsonBody, QueryParams};
use crate::api::http_error::HttpError;
use crate::api::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, DisplayName};
use crate::model::{CheckResult, ConnectorPage, ConnectorStatus, ConnectorView, SyncFrequency};
use crate::service::{ConnectorChanges, NewConnector};
use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The `{id}` of a connector path, parsed once here. An id that does not decode (`%FF`) is
/// answered in our error shape, not axum's plain-text rejection; text that is not a connector id
/// names no connector, and is answered like one that is not the caller's (404).
pub(crate) struct ConnectorIdPath(pub ConnectorId);

impl<S: Send + Sync> FromRequestParts<S> for ConnectorIdPath {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                HttpError::from(
                    Error::new(
                        ErrorCode::InvalidRequest,
                        "The connector id in the address is not valid text.",
                    )
                    .with_field("id"),
                )
            })?;
        Ok(Self(crate::api::extract::connector_id(&text)?))
    }
}

/// Config values arrive as JSON; strings, numbers and booleans are accepted as text.
pub(super) fn config_map(config: Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
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
                HttpError::from(
                    Error::new(
                        ErrorCode::InvalidRequest,
                        "sync_frequency must be manual, hourly, daily or weekly.",
                    )
                    .with_field("sync_frequency"),
                )
            })
        })
        .transpose()
}

/// A new connector: its type, its settings and credentials (validated against the catalog), and
/// optionally a name and sync schedule.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    connector_type: String,
    display_name: Option<String>,
    /// Field name → value, as the catalog describes the type's fields.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    config: Map<String, Value>,
    /// `manual`, `hourly`, `daily` (the default) or `weekly`.
    sync_frequency: Option<String>,
}

/// Creates a connector. Its credentials are encrypted at once and never returned.
#[utoipa::path(post, path = "/v1/connectors", tag = "connectors", operation_id = "create_connector",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created; `Location` names it", body = ConnectorView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 422, description = "Unknown type or invalid configuration", body = ErrorBody),
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<Response> {
    let input = NewConnector {
        connector_type: body.connector_type,
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?,
        config: config_map(body.config)?,
        sync_frequency: frequency(body.sync_frequency)?,
        tokens: None,
    };
    let view = state.hub.connectors.create(&caller, input).await?;
    let location = format!("/v1/connectors/{}", view.connector_id);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Lists the tenant's connectors, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors", operation_id = "list_connectors",
    params(
        ("status" = Option<ConnectorStatus>, Query, description = "Only connectors in this state"),
        ("limit" = Option<usize>, Query, description = "Page size, 1–200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = ConnectorPage),
        (status = 400, description = "A bad filter or cursor", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    q: QueryParams,
) -> ApiResult<Response> {
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        Some(s) => Some(ConnectorStatus::parse(s).ok_or_else(|| {
            HttpError::from(
                Error::new(
                    ErrorCode::InvalidRequest,
                    "status must be pending, active, error or authorization_required.",
                )
                .with_field("status"),
            )
        })?),
        None => None,
    };
    let limit = q.parse::<usize>("limit", "limit must be a whole number from 1 to 200.")?;
    let cursor = q.get("cursor");
    let page = state
        .hub
        .connectors
        .list_json(&caller, status, limit, cursor)
        .await?;
    let json = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, json)], page).into_response())
}

/// One connector's metadata (never its credentials).
#[utoipa::path(get, path = "/v1/connectors/{id}", tag = "connectors", operation_id = "read_connector",
    params(("id" = String, Path, description = "The connector id, `conn-…`")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
        (status = 404, description = "No such connector for this tenant", body = ErrorBody),
    ))]
pub(crate) async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.hub.connectors.get(&caller, &id).await?))
}

/// Changes to a connector; what is left out stays. A secret left out of `config` keeps its stored
/// value, unless a field that decides where it is sent changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    display_name: Option<String>,
    sync_frequency: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    config: Option<Map<String, Value>>,
}

/// Renames a connector, changes its schedule or replaces its credentials.
#[utoipa::path(patch, path = "/v1/connectors/{id}", tag = "connectors", operation_id = "update_connector",
    params(("id" = String, Path, description = "The connector id")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The changed connector", body = ConnectorView),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 409, description = "Changed concurrently; retry", body = ErrorBody),
        (status = 422, description = "Invalid configuration", body = ErrorBody),
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult<Json<ConnectorView>> {
    let changes = ConnectorChanges {
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?,
        sync_frequency: frequency(body.sync_frequency)?,
        config: body.config.map(config_map).transpose()?,
        ..ConnectorChanges::default()
    };
    Ok(Json(
        state.hub.connectors.update(&caller, &id, changes).await?,
    ))
}

/// Deletes a connector and its credentials; answers once they are gone.
#[utoipa::path(delete, path = "/v1/connectors/{id}", tag = "connectors", operation_id = "delete_connector",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<StatusCode> {
    state.hub.connectors.delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A configuration to test without saving it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestBody {
    connector_type: String,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    config: Map<String, Value>,
}

/// Tests credentials against the provider without saving them. A failed check is a result
/// (`success: false` with its code), not an HTTP error.
#[utoipa::path(post, path = "/v1/connectors/test", tag = "connectors",
    request_body = TestBody,
    responses(
        (status = 200, description = "The check's outcome", body = CheckResult),
        (status = 422, description = "Unknown connector type", body = ErrorBody),
    ))]
pub(crate) async fn test_unsaved(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<TestBody>,
) -> ApiResult<Json<CheckResult>> {
    let config = config_map(body.config)?;
    let result = state
        .hub
        .connectors
        .test_unsaved(&caller, &body.connector_type, &config, None)
        .await?;
    Ok(Json(result))
}

/// Tests a saved connector against its provider and records the outcome on it.
#[utoipa::path(post, path = "/v1/connectors/{id}/test", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The check's outcome", body = CheckResult),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn test_saved(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<CheckResult>> {
    Ok(Json(state.hub.connectors.test_saved(&caller, &id).await?))
}

/// Clears a connector's error state without testing it again.
#[utoipa::path(post, path = "/v1/connectors/{id}/clear-error", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn clear_error(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.hub.connectors.clear_error(&caller, &id).await?))
}
