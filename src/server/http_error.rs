//! How an [`ApiError`] becomes an HTTP response: one JSON shape, one status per code.

use crate::error::{ApiError, ErrorCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, StatusCode};

pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidRequest => StatusCode::BAD_REQUEST,
        Unauthenticated => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        Conflict | DecryptionFailed => StatusCode::CONFLICT,
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

pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
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
