//! A connector's data: previews, sync runs, streams and records.

use super::connectors::{config_map, ConnectorIdPath};
use super::{ApiResult, ErrorBody};
use crate::api::extract::{Authenticated, JsonBody, OptionalJsonBody, QueryParams};
use crate::api::http_error::HttpError;
use crate::api::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::model::data::{Preview, RecordPage, StreamList, SyncQueued, SyncRunList, SyncRunView};
use crate::service::{SyncRequest, DEFAULT_RECORDS};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Reads the first page of one of the connector's streams from the provider, without storing
/// anything. Provider failures answer with the check vocabulary's codes.
#[utoipa::path(get, path = "/v1/connectors/{id}/preview", tag = "data",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("stream" = Option<String>, Query, description = "The stream (default: the connector's first)"),
    ),
    responses(
        (status = 200, description = "Columns and up to ten records", body = Preview),
        (status = 400, description = "No such stream", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "The provider refused or failed (check vocabulary)", body = ErrorBody),
        (status = 429, description = "Rate limited (here or at the provider)", body = ErrorBody),
    ))]
pub(crate) async fn preview_saved(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    query: QueryParams,
) -> ApiResult<Json<Preview>> {
    let preview = state
        .hub
        .syncs
        .preview_saved(&caller, &id, query.get("stream"))
        .await?;
    Ok(Json(preview))
}

/// A configuration to preview before saving it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewBody {
    connector_type: String,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    config: Map<String, Value>,
    stream: Option<String>,
}

/// Reads the first page a configuration not saved yet would read.
#[utoipa::path(post, path = "/v1/connectors/preview", tag = "data",
    request_body = PreviewBody,
    responses(
        (status = 200, description = "Columns and up to ten records", body = Preview),
        (status = 400, description = "Malformed request or no such stream", body = ErrorBody),
        (status = 422, description = "Invalid configuration, or the provider refused or failed", body = ErrorBody),
        (status = 429, description = "Rate limited (here or at the provider)", body = ErrorBody),
    ))]
pub(crate) async fn preview_unsaved(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<PreviewBody>,
) -> ApiResult<Json<Preview>> {
    let config = config_map(body.config)?;
    let preview = state
        .hub
        .syncs
        .preview_unsaved(
            &caller,
            &body.connector_type,
            &config,
            body.stream.as_deref(),
        )
        .await?;
    Ok(Json(preview))
}

/// What to sync; both may be left out (every stream, incrementally where it can).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncBody {
    /// Only these streams.
    #[serde(default)]
    streams: Vec<String>,
    /// Read everything again (and notice deletions) instead of only what changed.
    #[serde(default)]
    full_refresh: bool,
}

/// Queues a sync. While one is queued or running for the connector: 409 `SYNC_IN_PROGRESS`
/// with its `run_id`.
#[utoipa::path(post, path = "/v1/connectors/{id}/sync", tag = "data",
    params(("id" = String, Path, description = "The connector id")),
    request_body(content = Option<SyncBody>, description = "Optional"),
    responses(
        (status = 202, description = "Queued", body = SyncQueued),
        (status = 400, description = "No such stream", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 409, description = "A sync is already under way (`SYNC_IN_PROGRESS`, with `run_id`)", body = ErrorBody),
    ))]
pub(crate) async fn request_sync(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    OptionalJsonBody(body): OptionalJsonBody<SyncBody>,
) -> ApiResult<Response> {
    let request = SyncRequest {
        streams: body.streams,
        full_refresh: body.full_refresh,
    };
    let queued = state.hub.syncs.request_sync(&caller, &id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
}

/// The connector's sync runs, newest first.
#[utoipa::path(get, path = "/v1/connectors/{id}/syncs", tag = "data",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The latest runs", body = SyncRunList),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn sync_runs(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<SyncRunList>> {
    Ok(Json(state.hub.syncs.sync_runs(&caller, &id).await?))
}

/// One sync run.
#[utoipa::path(get, path = "/v1/connectors/{id}/syncs/{run_id}", tag = "data",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("run_id" = String, Path, description = "The run id"),
    ),
    responses(
        (status = 200, description = "The run", body = SyncRunView),
        (status = 404, description = "No such connector or run", body = ErrorBody),
    ))]
pub(crate) async fn sync_run(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<SyncRunView>> {
    let Ok(Path((id, run_id))) = path else {
        return Err(HttpError::from(Error::new(
            ErrorCode::InvalidRequest,
            "The address is not valid text.",
        )));
    };
    Ok(Json(
        state
            .hub
            .syncs
            .sync_run(&caller, &crate::api::extract::connector_id(&id)?, &run_id)
            .await?,
    ))
}

/// The connector's streams, with how many records of each are stored and when each last synced.
#[utoipa::path(get, path = "/v1/connectors/{id}/streams", tag = "data",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The streams", body = StreamList),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn streams(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<StreamList>> {
    Ok(Json(state.hub.syncs.streams(&caller, &id).await?))
}

/// A stream's records in the order their latest change was stored. Keep `next_cursor` and call
/// again later to get exactly what changed since, each changed record once in its newest state.
#[utoipa::path(get, path = "/v1/connectors/{id}/records", tag = "data",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("stream" = String, Query, description = "The stream"),
        ("limit" = Option<usize>, Query, description = "Page size, 1–1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of an earlier page"),
    ),
    responses(
        (status = 200, description = "A page of records", body = RecordPage),
        (status = 400, description = "Missing stream, bad limit or cursor", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
    ))]
pub(crate) async fn records(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
    query: QueryParams,
) -> ApiResult<Json<RecordPage>> {
    let stream = query
        .get("stream")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            HttpError::from(
                Error::new(
                    ErrorCode::InvalidRequest,
                    "Say which stream to read: ?stream=<name>.",
                )
                .with_field("stream"),
            )
        })?;
    let limit = query
        .parse::<usize>("limit", "limit must be a whole number from 1 to 1000.")?
        .unwrap_or(DEFAULT_RECORDS);
    if !(1..=crate::service::MAX_RECORDS).contains(&limit) {
        return Err(HttpError::from(
            Error::new(
                ErrorCode::InvalidRequest,
                "limit must be a whole number from 1 to 1000.",
            )
            .with_field("limit"),
        ));
    }
    let page = state
        .hub
        .syncs
        .records(&caller, &id, stream, limit, query.get("cursor"))
        .await?;
    Ok(Json(page))
}

/// Registers the connector's webhook address at a provider that takes registrations from
/// Connector Hub (Google Drive: a push channel on the user's changes, lasting seven days; again
/// to renew). The channel's token is saved as the connector's webhook secret.
#[utoipa::path(post, path = "/v1/connectors/{id}/webhook-channel", tag = "data",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "Registered; the connector", body = crate::model::ConnectorView),
        (status = 400, description = "This provider is registered by hand (follow its setup steps)", body = ErrorBody),
        (status = 404, description = "No such connector", body = ErrorBody),
        (status = 422, description = "The provider refused (check vocabulary)", body = ErrorBody),
    ))]
pub(crate) async fn register_webhook_channel(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ConnectorIdPath(id): ConnectorIdPath,
) -> ApiResult<Json<crate::model::ConnectorView>> {
    Ok(Json(
        state
            .hub
            .provider_webhooks
            .register_webhook_channel(&caller, &id)
            .await?,
    ))
}
