//! Liveness and readiness, for load balancers and orchestrators: no sign-in, no audit.

use crate::api::http_error::HttpError;
use crate::api::state::AppState;
use crate::error::{Error, ErrorCode};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

/// Ready when the store answers.
async fn ready(State(state): State<AppState>) -> Response {
    if state.hub.maintenance.store_reachable().await {
        let body =
            serde_json::json!({"status": "ready", "store": state.hub.maintenance.store_name()});
        (StatusCode::OK, Json(body)).into_response()
    } else {
        HttpError::from(Error::new(
            ErrorCode::StorageUnavailable,
            "The store is not reachable.",
        ))
        .into_response()
    }
}
