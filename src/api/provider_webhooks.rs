//! `POST /webhooks/{token}`: where providers send a connector's webhooks, and
//! `POST /webhooks/app/{connector_type}`: where providers configured per app (Xero, HubSpot,
//! QuickBooks, Shopify) send every connected account's. The request is verified over its raw
//! body before anything is read from it; a good one answers 200 (Xero's intent-to-receive, and
//! events for an account nobody connected, included), a bad signature 401, an address that
//! names no connector or app 404.

use super::extract::ClientAddr;
use super::http_error::HttpError;
use super::rest::ErrorBody;
use super::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::{Received, WebhookRequest};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

/// What became of a provider's request's events.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookReceipt {
    /// Events accepted for the first time.
    pub(crate) received: usize,
    /// Events already accepted before (the provider sent them again).
    pub(crate) repeated: usize,
    /// Events for an account no connector holds, or another account than the connector's.
    pub(crate) dropped: usize,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{token}", post(receive))
        .route("/webhooks/app/{connector_type}", post(receive_app))
}

/// Receives a provider's webhook for one connector.
///
/// The address in the connector's `webhook_url`: Stripe, Square, WooCommerce and Google Drive's
/// push channel post here, each signing with the connector's own secret. The request is verified
/// over its raw body before anything is read from it, each event is accepted once, and one
/// naming another account than the connector's is dropped.
#[utoipa::path(post, path = "/webhooks/{token}", tag = "provider-webhooks",
    operation_id = "receive_connector_webhook", security(()),
    params(("token" = String, Path, description = "The last part of the connector's `webhook_url`")),
    request_body(content = Option<Value>, description = "The provider's event, byte for byte as it signed it"),
    responses(
        (status = 200, description = "Verified; what became of its events", body = WebhookReceipt),
        (status = 400, description = "`INVALID_REQUEST`: signed, but not events this provider sends", body = ErrorBody),
        (status = 401, description = "`INVALID_SIGNATURE`: a wrong, missing or stale signature, or no secret configured", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: the address names no connector", body = ErrorBody),
        (status = 409, description = "`DECRYPTION_FAILED`: the connector's settings do not open with the configured keys", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: larger than any request to the hub may be", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: the sender's address is past its limit (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "`STORAGE_UNAVAILABLE`: the store cannot be reached", body = ErrorBody),
    ))]
async fn receive(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let request = match admitted(&state, &client, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let received = state
        .hub
        .provider_webhooks
        .receive_webhook(&token, request)
        .await;
    answer(&state, &client, received).await
}

/// Receives a per-app provider's webhook, for every connector holding the account it names.
///
/// Xero, HubSpot, QuickBooks and Shopify post every connected account's events here, signed with
/// the operator's app secret (`CONNECTOR_HUB_WEBHOOK_SECRET_<TYPE>`): each event goes to every
/// connector holding the account it names, in its own tenant's stream; one for an account nobody
/// connected is dropped. Xero's intent-to-receive is answered 200 or 401.
#[utoipa::path(post, path = "/webhooks/app/{connector_type}", tag = "provider-webhooks",
    operation_id = "receive_app_webhook", security(()),
    params(("connector_type" = String, Path, description = "`xero`, `hubspot`, `quickbooks` or `shopify`")),
    request_body(content = Option<Value>, description = "The provider's events, byte for byte as it signed them"),
    responses(
        (status = 200, description = "Verified; what became of its events", body = WebhookReceipt),
        (status = 400, description = "`INVALID_REQUEST`: signed, but not events this provider sends", body = ErrorBody),
        (status = 401, description = "`INVALID_SIGNATURE`: a wrong, missing or stale signature, or no app secret configured", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: a connector type without an app address", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: larger than any request to the hub may be", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: the sender's address is past its limit (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "`STORAGE_UNAVAILABLE`: the store cannot be reached", body = ErrorBody),
    ))]
async fn receive_app(
    State(state): State<AppState>,
    Path(connector_type): Path<String>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let request = match admitted(&state, &client, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let received = state
        .hub
        .provider_webhooks
        .receive_app_webhook(&connector_type, request)
        .await;
    answer(&state, &client, received).await
}

/// The request, once its sender is within its limit — checked before the body is read, so an
/// address past it costs no upload — and its body within the size any request may have.
async fn admitted(
    state: &AppState,
    client: &str,
    request: Request,
) -> Result<WebhookRequest, Response> {
    if let Err(limited) = state.hub.gate.admit_anonymous(client) {
        return Err(HttpError::from(limited).into_response());
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, state.settings.max_body_bytes)
        .await
        .map_err(|_| {
            HttpError::from(Error::new(
                ErrorCode::PayloadTooLarge,
                "A webhook is at most the size of any request to the hub.",
            ))
            .into_response()
        })?;
    Ok(WebhookRequest {
        method: parts.method.to_string(),
        headers: parts.headers,
        body,
    })
}

/// A refusal (a bad signature, an address that names nothing) is counted against the sender's
/// address like any request without a valid credential — past the limit it is answered 429 —
/// and summarised into the audit log once a minute, not logged one by one.
async fn answer(
    state: &AppState,
    client: &str,
    received: Result<Received, crate::error::Error>,
) -> Response {
    match received {
        Ok(received) => Json(WebhookReceipt {
            received: received.new,
            repeated: received.repeated,
            dropped: received.dropped,
        })
        .into_response(),
        Err(e) if matches!(e.code, ErrorCode::InvalidSignature | ErrorCode::NotFound) => {
            let refused = state
                .hub
                .gate
                .refuse_anonymous(AuditAction::Authenticate, e, client)
                .await;
            HttpError::from(refused).into_response()
        }
        Err(e) => HttpError::from(e).into_response(),
    }
}
