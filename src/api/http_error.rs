//! How an [`ApiError`] becomes an HTTP response: one JSON shape, one status per code.

use crate::error::{ApiError, Error, ErrorCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, StatusCode};

pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidRequest | NoHttpApi => StatusCode::BAD_REQUEST,
        ProviderUnreachable | UnreadableAnswer => StatusCode::BAD_GATEWAY,
        ProviderTimeout => StatusCode::GATEWAY_TIMEOUT,
        Unauthenticated | InvalidSignature => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        Conflict | DecryptionFailed | SyncInProgress => StatusCode::CONFLICT,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        InvalidConfig | UnknownConnectorType | EgressBlocked | HttpsRequired => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Check outcomes are results, not request errors; they only reach here through a bug.
        InvalidCredentials
        | ExpiredCredentials
        | InsufficientPermissions
        | ProviderError
        | UnexpectedResponse
        | HostUnreachable
        | TlsError
        | Timeout
        | AuthorizationRequired => StatusCode::UNPROCESSABLE_ENTITY,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Boxed: handlers return it on every error path, and a small `Result` keeps the success path
/// cheap.
pub(crate) struct HttpError(pub Box<ApiError>);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(Box::new(e))
    }
}

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        Self(Box::new(e.into()))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.code);
        let retry_after = self.0.retry_after;
        let mut response = (status, Json(serde_json::json!({ "error": self.0 }))).into_response();
        if let Some(secs) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Server functions answer every error with 500, even a malformed argument or a missing
/// connector. Their error bodies are `ApiError` JSON, so the status is restored from its code.
pub(crate) async fn server_fn_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": ApiError::from_code(ErrorCode::Internal)})),
        )
            .into_response();
    };
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = status_of(error.code);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
