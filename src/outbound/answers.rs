//! What providers' answers mean, shared by every reader of them (checks, sync pages, sign-ins,
//! channel registrations): the status mapping every HTTP provider shares, a provider's own way of
//! saying a scope is missing, and reading fields out of its JSON.

use super::http::Reply;
use crate::error::{Error, ErrorCode};

/// Whether `reply` is a provider's own way of saying the token was not granted a scope the call
/// needs: RFC 6750's `insufficient_scope` (Xero and other standard servers), HubSpot's
/// `MISSING_SCOPES`, Square's `INSUFFICIENT_SCOPES`, Google's `insufficientPermissions` /
/// `ACCESS_TOKEN_SCOPE_INSUFFICIENT`, Shopify's "requires merchant approval for … scope".
pub(crate) fn missing_scope(reply: &Reply) -> bool {
    if reply
        .header("www-authenticate")
        .is_some_and(|h| h.contains("insufficient_scope"))
    {
        return true;
    }
    if !matches!(reply.status, 401 | 403) {
        return false;
    }
    let Some(body) = reply.json() else {
        return false;
    };
    let text = |pointer: &str| str_at(&body, pointer).unwrap_or_default();
    let any_in = |list: &str, pointer: &str, wanted: &[&str]| {
        body.pointer(list)
            .and_then(|v| v.as_array())
            .is_some_and(|items| {
                items.iter().any(|item| {
                    item.pointer(pointer)
                        .and_then(|v| v.as_str())
                        .is_some_and(|v| wanted.contains(&v))
                })
            })
    };
    text("/category") == "MISSING_SCOPES"
        || any_in("/errors", "/code", &["INSUFFICIENT_SCOPES"])
        || any_in("/error/errors", "/reason", &["insufficientPermissions"])
        || any_in(
            "/error/details",
            "/reason",
            &["ACCESS_TOKEN_SCOPE_INSUFFICIENT"],
        )
        || (text("/errors").contains("requires merchant approval")
            && text("/errors").contains("scope"))
}

/// The mapping every HTTP provider shares; provider modules refine it where their answers say
/// more (expired tokens, missing scopes).
pub(crate) fn status_failure(reply: &Reply, provider: &str, credential_field: &str) -> Error {
    match reply.status {
        401 => Error::new(
            ErrorCode::InvalidCredentials,
            format!("{provider} did not accept this credential."),
        )
        .with_field(credential_field),
        403 => Error::new(
            ErrorCode::InsufficientPermissions,
            format!("{provider} accepted the credential but does not allow it to read this data."),
        )
        .with_field(credential_field),
        404 => Error::new(
            ErrorCode::NotFound,
            format!("{provider} says this account or address does not exist."),
        ),
        429 => Error {
            retry_after: reply.retry_after(),
            ..Error::new(
                ErrorCode::RateLimited,
                format!("{provider} is limiting requests right now."),
            )
        },
        500..=599 => Error::new(
            ErrorCode::ProviderError,
            format!(
                "{provider} is having problems (HTTP {}). Try again in a few minutes.",
                reply.status
            ),
        ),
        300..=399 => Error::new(
            ErrorCode::UnexpectedResponse,
            format!(
                "{provider} answered with a redirect (HTTP {}) instead of data.",
                reply.status
            ),
        ),
        status => Error::new(
            ErrorCode::UnexpectedResponse,
            format!("{provider} answered with HTTP {status}."),
        ),
    }
}

/// A 2xx whose body is not the JSON the API documents.
pub(crate) fn unexpected(provider: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("The address answered, but not like the {provider} API (the response was not the expected JSON)."),
    )
}

/// Parses a successful JSON reply or explains why it is not one.
pub(crate) fn success_json(
    reply: &Reply,
    provider: &str,
    credential_field: &str,
) -> Result<serde_json::Value, Error> {
    if !(200..300).contains(&reply.status) {
        return Err(status_failure(reply, provider, credential_field));
    }
    reply.json().ok_or_else(|| unexpected(provider))
}

/// Lower-cased text of a reply, for matching documented error markers.
pub(crate) fn lower_text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).to_lowercase()
}

pub(crate) fn str_at(value: &serde_json::Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: serde_json::Value, www_authenticate: Option<&str>) -> Reply {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(value) = www_authenticate {
            if let Ok(value) = value.parse() {
                headers.insert("www-authenticate", value);
            }
        }
        Reply {
            status,
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
            truncated: false,
        }
    }

    /// Each provider's own answer for a scope the token lacks, as its documentation shows it,
    /// is told apart from other refusals.
    #[test]
    fn each_providers_missing_scope_answer_is_recognised() {
        use serde_json::json;
        let missing = [
            reply(
                403,
                json!({"status": "error", "message": "This app hasn't been granted all required scopes to make this call.", "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}], "category": "MISSING_SCOPES"}),
                None,
            ),
            reply(
                403,
                json!({"errors": [{"category": "AUTHENTICATION_ERROR", "code": "INSUFFICIENT_SCOPES", "detail": "The merchant has not given your application sufficient permissions to do that."}]}),
                None,
            ),
            reply(
                403,
                json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.", "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}], "status": "PERMISSION_DENIED"}}),
                None,
            ),
            reply(
                403,
                json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}),
                None,
            ),
            reply(
                403,
                json!({"errors": "[API] This action requires merchant approval for read_customers scope."}),
                None,
            ),
            reply(
                403,
                json!({}),
                Some(r#"Bearer error="insufficient_scope", scope="accounting.contacts.read""#),
            ),
        ];
        for r in &missing {
            assert!(missing_scope(r), "{}", String::from_utf8_lossy(&r.body));
        }
        let other = [
            reply(
                401,
                json!({"status": "error", "category": "EXPIRED_AUTHENTICATION"}),
                None,
            ),
            reply(403, json!({"errors": [{"code": "FORBIDDEN"}]}), None),
            reply(500, json!({"category": "MISSING_SCOPES"}), None),
            reply(401, json!({}), Some(r#"Bearer error="invalid_token""#)),
        ];
        for r in &other {
            assert!(!missing_scope(r), "{}", String::from_utf8_lossy(&r.body));
        }
    }
}
