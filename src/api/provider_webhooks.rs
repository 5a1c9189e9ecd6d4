//! `POST /webhooks/{token}`: where providers send a connector's webhooks, and
//! `POST /webhooks/app/{connector_type}`: where providers configured per app (Xero, HubSpot,
//! QuickBooks, Shopify) send every connected account's. The request is verified over its raw
//! body before anything is read from it; a good one answers 200 (Xero's intent-to-receive, and
//! events for an account nobody connected, included), a bad signature 401, an address that
//! names no connector or app 404.

use super::extract::ClientAddr;
use super::http_error::HttpError;
use super::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::{Received, WebhookRequest};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{token}", post(receive))
        .route("/webhooks/app/{connector_type}", post(receive_app))
}

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
        Ok(received) => Json(serde_json::json!({
            "received": received.new,
            "repeated": received.repeated,
            "dropped": received.dropped,
        }))
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
