//! `POST /webhooks/{token}`: where providers send a connector's webhooks, and
//! `POST /webhooks/app/{connector_type}`: where providers configured per app (Xero, HubSpot,
//! QuickBooks, Shopify) send every connected account's. The request is verified over its raw
//! body before anything is read from it; a good one answers 200 (Xero's intent-to-receive, and
//! events for an account nobody connected, included), a bad signature 401, an address that
//! names no connector or app 404.

use super::extract::{body_error, ClientAddr};
use super::http_error::HttpError;
use super::state::AppState;
use crate::error::ErrorCode;
use crate::model::AuditAction;
use crate::service::{Received, WebhookRequest};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, Method};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{token}", post(receive))
        .route("/webhooks/app/{connector_type}", post(receive_app))
}

async fn receive(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientAddr(client): ClientAddr,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(limited) = state.service.admit_anonymous(&client) {
        return HttpError::from(limited).into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let request = request(method, headers, body);
    answer(
        &state,
        &client,
        state.service.receive_webhook(&token, request).await,
    )
    .await
}

async fn receive_app(
    State(state): State<AppState>,
    Path(connector_type): Path<String>,
    ClientAddr(client): ClientAddr,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(limited) = state.service.admit_anonymous(&client) {
        return HttpError::from(limited).into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let request = request(method, headers, body);
    let received = state
        .service
        .receive_app_webhook(&connector_type, request)
        .await;
    answer(&state, &client, received).await
}

fn request(method: Method, headers: HeaderMap, body: Bytes) -> WebhookRequest {
    WebhookRequest {
        method: method.to_string(),
        headers,
        body,
    }
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
                .service
                .refuse_anonymous(AuditAction::Authenticate, e, client)
                .await;
            HttpError::from(refused).into_response()
        }
        Err(e) => HttpError::from(e).into_response(),
    }
}
