//! The one error vocabulary shared by the server, the REST API and the UI.
//!
//! Every failure a client can see is an [`ErrorCode`] with a human message, an optional hint and,
//! where one field of a connector's configuration is to blame, that field's name.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    // Connection-check outcomes (see the provider reference).
    InvalidConfig,
    InvalidCredentials,
    ExpiredCredentials,
    InsufficientPermissions,
    NotFound,
    RateLimited,
    ProviderError,
    UnexpectedResponse,
    HostUnreachable,
    TlsError,
    Timeout,
    EgressBlocked,
    HttpsRequired,
    AuthorizationRequired,
    // Store and request outcomes.
    DecryptionFailed,
    Unauthenticated,
    Forbidden,
    InvalidRequest,
    UnknownConnectorType,
    PayloadTooLarge,
    Conflict,
    /// A sync is already queued or running for this connector.
    SyncInProgress,
    /// A provider webhook whose signature is missing, wrong or stale (or no secret to check it).
    InvalidSignature,
    /// The proxy was asked to reach a connector without an HTTP API (PostgreSQL).
    NoHttpApi,
    /// The proxy could not get an answer from the provider (unreachable, TLS, timeout).
    ProviderUnreachable,
    /// The proxy's call got no (whole) answer within its time limit.
    ProviderTimeout,
    /// The provider answered in a form the proxy cannot check for secrets (compressed).
    UnreadableAnswer,
    StorageUnavailable,
    Internal,
}

impl ErrorCode {
    pub(crate) const ALL: [ErrorCode; 29] = [
        Self::InvalidConfig,
        Self::InvalidCredentials,
        Self::ExpiredCredentials,
        Self::InsufficientPermissions,
        Self::NotFound,
        Self::RateLimited,
        Self::ProviderError,
        Self::UnexpectedResponse,
        Self::HostUnreachable,
        Self::TlsError,
        Self::Timeout,
        Self::EgressBlocked,
        Self::HttpsRequired,
        Self::AuthorizationRequired,
        Self::DecryptionFailed,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::InvalidRequest,
        Self::UnknownConnectorType,
        Self::PayloadTooLarge,
        Self::Conflict,
        Self::SyncInProgress,
        Self::InvalidSignature,
        Self::NoHttpApi,
        Self::ProviderUnreachable,
        Self::ProviderTimeout,
        Self::UnreadableAnswer,
        Self::StorageUnavailable,
        Self::Internal,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidConfig => "INVALID_CONFIG",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::ExpiredCredentials => "EXPIRED_CREDENTIALS",
            Self::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::ProviderError => "PROVIDER_ERROR",
            Self::UnexpectedResponse => "UNEXPECTED_RESPONSE",
            Self::HostUnreachable => "HOST_UNREACHABLE",
            Self::TlsError => "TLS_ERROR",
            Self::Timeout => "TIMEOUT",
            Self::EgressBlocked => "EGRESS_BLOCKED",
            Self::HttpsRequired => "HTTPS_REQUIRED",
            Self::AuthorizationRequired => "AUTHORIZATION_REQUIRED",
            Self::DecryptionFailed => "DECRYPTION_FAILED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::UnknownConnectorType => "UNKNOWN_CONNECTOR_TYPE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Conflict => "CONFLICT",
            Self::SyncInProgress => "SYNC_IN_PROGRESS",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::NoHttpApi => "NO_HTTP_API",
            Self::ProviderUnreachable => "PROVIDER_UNREACHABLE",
            Self::ProviderTimeout => "PROVIDER_TIMEOUT",
            Self::UnreadableAnswer => "UNREADABLE_ANSWER",
            Self::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// What went wrong, in words a non-engineer understands.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::InvalidConfig => {
                "Some of the connection details are missing or not in the expected format."
            }
            Self::InvalidCredentials => "The provider did not accept these credentials.",
            Self::ExpiredCredentials => "These credentials have expired.",
            Self::InsufficientPermissions => {
                "The credentials work, but they are not allowed to read this account."
            }
            Self::NotFound => "The account, shop, database or address could not be found.",
            Self::RateLimited => "Too many requests right now. Please wait a moment and try again.",
            Self::ProviderError => "The provider is having trouble right now.",
            Self::UnexpectedResponse => "The address answered, but not like the expected service.",
            Self::HostUnreachable => "The server could not be reached.",
            Self::TlsError => "A secure (TLS) connection could not be established.",
            Self::Timeout => "The server took too long to answer.",
            Self::EgressBlocked => {
                "This address is not allowed: it points inside a private network."
            }
            Self::HttpsRequired => {
                "Credentials can only be sent over a secure https:// connection."
            }
            Self::AuthorizationRequired => {
                "This connection needs to be authorised (again) with the provider."
            }
            Self::DecryptionFailed => "The stored credentials could not be decrypted.",
            Self::Unauthenticated => "You are not signed in, or your session has expired.",
            Self::Forbidden => "This request is not allowed.",
            Self::InvalidRequest => "The request could not be understood.",
            Self::UnknownConnectorType => "There is no connector of that type.",
            Self::PayloadTooLarge => "The request is too large.",
            Self::Conflict => {
                "Someone else changed this connector at the same time. Please try again."
            }
            Self::SyncInProgress => "A sync of this connector is already under way.",
            Self::InvalidSignature => "The webhook's signature could not be verified.",
            Self::NoHttpApi => "This connector has no HTTP API to call.",
            Self::ProviderUnreachable => "The provider could not be reached.",
            Self::ProviderTimeout => "The provider did not answer in time.",
            Self::UnreadableAnswer => {
                "The provider's answer could not be checked, so it was not passed on."
            }
            Self::StorageUnavailable => "Connector Hub cannot save changes right now.",
            Self::Internal => "Something went wrong on our side.",
        }
    }

    /// A failure of the hub itself (its storage, a bug, a change that kept racing another), not
    /// an outcome of what was asked: it answers the request as an error, and is never recorded
    /// as, say, what a connection test found out about a provider.
    #[cfg(feature = "ssr")]
    pub(crate) fn is_hub_fault(self) -> bool {
        matches!(
            self,
            Self::StorageUnavailable | Self::Internal | Self::Conflict
        )
    }

    /// What the user can do about it.
    pub(crate) fn hint(self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidConfig => "Check the highlighted field against the example.",
            Self::InvalidCredentials => "Copy the credential again from the provider's dashboard; make sure nothing was cut off.",
            Self::ExpiredCredentials => "Create a new token (or reconnect) and enter it again.",
            Self::InsufficientPermissions => "Give the key or app read access in the provider's settings.",
            Self::NotFound => "Check the spelling of the shop, account, database or path.",
            Self::RateLimited => "Wait for the time shown, then retry.",
            Self::ProviderError => "This is usually temporary: retry in a few minutes.",
            Self::UnexpectedResponse => "Check that the address points at the right service (for WooCommerce, that pretty permalinks are on).",
            Self::HostUnreachable => "Check the host name and port, and that the server accepts connections from here.",
            Self::TlsError => "Check the server's certificate, or choose a different SSL mode.",
            Self::Timeout => "Check that the server is up and not behind a firewall, then retry.",
            Self::EgressBlocked => "Use a public address, or ask your operator to allow this network.",
            Self::HttpsRequired => "Use an https:// address.",
            Self::AuthorizationRequired => "Use “Reconnect” to authorise again.",
            Self::DecryptionFailed => "Has the encryption key changed? If keys were rotated, the old key must stay in CONNECTOR_ENCRYPTION_KEY (after the new one) until `connector-hub rotate-keys` has run.",
            Self::Unauthenticated => "Sign in again.",
            Self::PayloadTooLarge => "Send less data.",
            Self::Conflict => "Reload and try again.",
            Self::SyncInProgress => "Follow the run that is under way; ask again once it has finished.",
            Self::InvalidSignature => "Check that the signing secret saved in Connector Hub is the one the provider shows for this address.",
            Self::NoHttpApi => "Read its data through the records API instead.",
            Self::ProviderUnreachable => "This is usually temporary: retry in a moment.",
            Self::ProviderTimeout => "Retry later, or ask for less at once (a smaller page or date range).",
            Self::UnreadableAnswer => "Do not ask the provider for a compressed answer (no Accept-Encoding); the hub passes answers on uncompressed.",
            Self::StorageUnavailable => "Try again shortly; your data is safe.",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one error the hub's internals pass around (checks, sign-in, the store, the service), so
/// `?` works across them. It becomes the client-facing [`ApiError`] at the edge, which adds the
/// code's hint and the request id. Messages are ours, never a provider's text (providers echo
/// parts of keys back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub(crate) code: ErrorCode,
    pub message: String,
    /// The request or configuration field to blame.
    pub(crate) field: Option<String>,
    /// A hint other than the code's own.
    pub(crate) hint: Option<String>,
    /// Seconds to wait before trying again (rate limits).
    pub(crate) retry_after: Option<u64>,
    /// The sync run a `SYNC_IN_PROGRESS` refers to (boxed: every `Result` carries an `Error`).
    pub(crate) run_id: Option<Box<str>>,
    /// What went wrong underneath (a store's own failure), kept for the log where the error is
    /// handled and for `source()`; never part of an answer.
    #[source]
    pub(crate) cause: Option<Cause>,
}

impl Error {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            hint: None,
            retry_after: None,
            run_id: None,
            cause: None,
        }
    }

    /// This error, caused by `cause`.
    #[cfg(feature = "ssr")]
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.cause = Some(Cause(std::sync::Arc::new(Box::new(cause))));
        self
    }

    pub(crate) fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.message())
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Blames `field` when there is one to blame.
    #[cfg(feature = "ssr")]
    pub(crate) fn with_field_opt(mut self, field: Option<&str>) -> Self {
        self.field = field.map(str::to_owned);
        self
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn invalid_config(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidConfig, message).with_field(field)
    }

    /// A connector that does not exist, or belongs to another tenant (they look the same).
    #[cfg(feature = "ssr")]
    pub(crate) fn not_found() -> Self {
        let mut error = Self::new(ErrorCode::NotFound, "No connector with that id.");
        error.hint =
            Some("Check the connector id; the connector may have been deleted.".to_owned());
        error
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn unauthenticated() -> Self {
        Self::from_code(ErrorCode::Unauthenticated)
    }
}

/// The underlying failure of an [`Error`]. Errors compare by what the caller is told, so two
/// errors are equal whatever their causes. One pointer wide: every `Result` carries an `Error`.
#[derive(Clone)]
pub(crate) struct Cause(std::sync::Arc<Box<dyn std::error::Error + Send + Sync>>);

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cause {}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// An error as a client is told it. Its cause, if any, is logged here, the one place every
/// answer passes, so an internal failure is logged once with what really happened.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(cause) = &e.cause {
            tracing::error!(code = %e.code, cause = %cause, "request failed");
        }
        Self {
            code: e.code,
            hint: e.hint.or_else(|| e.code.hint().map(str::to_owned)),
            message: e.message,
            field: e.field,
            retry_after: e.retry_after,
            run_id: e.run_id.map(String::from),
            request_id: current_request_id(),
        }
    }
}

/// The error every API surface returns: `{"error": {"code", "message", "field", "hint"}}` on REST,
/// and the same value through server functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{code}: {message}")]
pub struct ApiError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after: Option<u64>,
    /// The sync run a `SYNC_IN_PROGRESS` refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<String>,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::new(code, message).into()
    }

    pub(crate) fn from_code(code: ErrorCode) -> Self {
        Error::from_code(code).into()
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn unauthenticated() -> Self {
        Error::unauthenticated().into()
    }
}

#[cfg(feature = "ssr")]
fn current_request_id() -> Option<String> {
    crate::request_id::current()
}

#[cfg(not(feature = "ssr"))]
fn current_request_id() -> Option<String> {
    None
}

impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(msg) | E::Deserialization(msg) | E::MissingArg(msg) => Self::new(
                ErrorCode::InvalidRequest,
                format!("The request could not be read: {msg}"),
            ),
            E::Request(_) | E::Response(_) => Self::new(
                ErrorCode::StorageUnavailable,
                "Connector Hub could not be reached. Check your connection and try again.",
            ),
            _ => Self::from_code(ErrorCode::Internal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_names_and_serde() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn every_code_has_a_message() {
        for code in ErrorCode::ALL {
            assert!(code.message().ends_with('.'), "{code}");
        }
    }
}
