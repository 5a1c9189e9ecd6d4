//! `POST /webhooks/{token}`: where providers send a connector's webhooks. The request is
//! verified over its raw body before anything is read from it; a good one answers 200 (Xero's
//! intent-to-receive included), a bad signature 401, an address that names no connector 404.

use super::extract::body_error;
use super::http_error::HttpError;
use super::state::AppState;
use crate::service::WebhookRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, Method};

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{token}", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let request = WebhookRequest {
        token,
        method: method.to_string(),
        headers,
        body,
    };
    match state.service.receive_webhook(request).await {
        Ok(received) => Json(serde_json::json!({
            "received": received.new,
            "repeated": received.repeated,
        }))
        .into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}
