//! `/v1/webhook-endpoints`: where a tenant's events go, and what became of them.

use super::{ApiResult, ErrorBody};
use crate::api::extract::{Authenticated, JsonBody};
use crate::api::state::AppState;
use crate::model::webhooks::{DeliveryList, EndpointList, EndpointView};
use crate::service::EndpointChanges;
use axum::extract::{Path, State};
use axum::Json;
use http::StatusCode;

/// Creates an endpoint. The answer carries its signing secret (`whsec_…`), the one secret
/// Connector Hub ever returns, and only this once: keep it to verify the events' signatures.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", operation_id = "create_webhook_endpoint",
    request_body = EndpointChanges,
    responses(
        (status = 201, description = "Created; `secret` is shown this once", body = EndpointView),
        (status = 400, description = "An unknown event type", body = ErrorBody),
        (status = 422, description = "Not a usable address (`INVALID_CONFIG`, `EGRESS_BLOCKED`, `HTTPS_REQUIRED`)", body = ErrorBody),
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<EndpointChanges>,
) -> ApiResult<(StatusCode, Json<EndpointView>)> {
    let view = state.hub.events.create_endpoint(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The tenant's endpoints (never their secrets).
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", operation_id = "list_webhook_endpoints",
    responses((status = 200, description = "The endpoints", body = EndpointList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<EndpointList>> {
    Ok(Json(state.hub.events.list_endpoints(&caller).await?))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "read_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub(crate) async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(state.hub.events.get_endpoint(&caller, &id).await?))
}

/// Changes an endpoint's `url`, `events` or `enabled` (turning it on again after a `410 Gone`).
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "update_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint id")),
    request_body = EndpointChanges,
    responses(
        (status = 200, description = "Changed", body = EndpointView),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 422, description = "Not a usable address", body = ErrorBody),
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<EndpointChanges>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(
        state.hub.events.change_endpoint(&caller, &id, body).await?,
    ))
}

/// Deletes an endpoint and its deliveries.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "delete_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.hub.events.delete_endpoint(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown this once; events are signed with the previous one too for the
/// next 24 hours (both signatures in `webhook-signature`).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "Rotated; `secret` is the new one", body = EndpointView),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(
        state
            .hub
            .events
            .rotate_endpoint_secret(&caller, &id)
            .await?,
    ))
}

/// The endpoint's latest deliveries, newest first, each with every attempt's status and duration.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "Up to 50 deliveries", body = DeliveryList),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryList>> {
    Ok(Json(
        state.hub.events.endpoint_deliveries(&caller, &id).await?,
    ))
}

/// Sends a delivery's event again, now (the same `webhook-id`).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay", tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint id"),
        ("delivery_id" = String, Path, description = "The delivery to send again"),
    ),
    responses(
        (status = 202, description = "Queued"),
        (status = 404, description = "No such endpoint or delivery", body = ErrorBody),
    ))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .hub
        .events
        .replay_delivery(&caller, &id, &delivery_id)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
