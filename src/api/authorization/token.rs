//! `POST /oauth/register`, `POST /oauth/token` and `POST /oauth/revoke`: a client's own calls,
//! answered in JSON as RFC 7591, RFC 6749 §5 and RFC 7009 shape them, never cached. Failed token
//! requests count against the address like any request without a valid credential, so codes and
//! refresh tokens cannot be guessed at speed.

use super::no_store;
use crate::api::extract::{client_addr, query_map};
use crate::api::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::{OAuthError, Registration};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::request::Parts;
use http::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

/// An OAuth error answer: `{"error", "error_description"}` with its status.
fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        Json(json!({"error": e.error, "error_description": e.description})),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn too_many(e: &Error) -> Response {
    oauth_error(&OAuthError {
        error: "slow_down",
        description: e.message.clone(),
        status: 429,
    })
}

/// A client's form post to the token or revocation endpoint: its address within the limit on
/// requests without a credential, and its body's fields; otherwise the answer to give.
fn admitted_form(
    state: &AppState,
    client: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<BTreeMap<String, String>, Box<Response>> {
    if let Err(e) = state.hub.gate.admit_anonymous(client) {
        return Err(Box::new(too_many(&e)));
    }
    match body {
        Ok(body) => Ok(query_map(Some(String::from_utf8_lossy(&body).into_owned()))),
        Err(_) => Err(Box::new(oauth_error(&OAuthError::new(
            "invalid_request",
            "the body could not be read",
        )))),
    }
}

/// `POST /oauth/register`: a public client registers itself; `201` with its metadata.
pub(super) async fn register(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = client_addr(&parts);
    if let Err(e) = state.hub.gate.admit_anonymous(&client) {
        return too_many(&e);
    }
    let registration: Registration = match body.ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(r) => r,
        None => {
            return oauth_error(&OAuthError::new(
                "invalid_client_metadata",
                "the body must be a JSON object of client metadata",
            ))
        }
    };
    match state.hub.agent_auth.register(registration, &client).await {
        Ok(record) => {
            let mut response = (
                StatusCode::CREATED,
                Json(json!({
                    "client_id": record.client_id,
                    "client_id_issued_at": record.created_at / 1000,
                    "client_name": record.client_name,
                    "redirect_uris": record.redirect_uris,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })),
            )
                .into_response();
            no_store(&mut response);
            response
        }
        Err(e) => oauth_error(&e),
    }
}

/// `POST /oauth/token`: a code or a refresh token traded for new tokens.
pub(super) async fn token(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = client_addr(&parts);
    let fields = match admitted_form(&state, &client, body) {
        Ok(fields) => fields,
        Err(answer) => return *answer,
    };
    match state.hub.agent_auth.token(&fields, &client).await {
        Ok(issued) => {
            let mut response = Json(json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "refresh_token": issued.refresh_token,
                "scope": issued.scope,
            }))
            .into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::info!(error = e.error, "MCP token request refused");
            // Counted (and summarised into the audit log) like any refused credential.
            let refused = Error::new(ErrorCode::Unauthenticated, e.description.clone());
            let counted = state
                .hub
                .gate
                .refuse_anonymous(AuditAction::AgentToken, refused, &client)
                .await;
            if counted.code == ErrorCode::RateLimited {
                return too_many(&counted);
            }
            oauth_error(&e)
        }
    }
}

/// `POST /oauth/revoke` (RFC 7009): `200` whether or not the token was one (so nothing is
/// learnt by trying); the client's own token ends its grant.
pub(super) async fn revoke(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = client_addr(&parts);
    let fields = match admitted_form(&state, &client, body) {
        Ok(fields) => fields,
        Err(answer) => return *answer,
    };
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    if field("token").is_empty() {
        return oauth_error(&OAuthError::new("invalid_request", "token is required"));
    }
    if state
        .hub
        .agent_auth
        .client(field("client_id"))
        .await
        .is_none()
    {
        return oauth_error(&OAuthError::new(
            "invalid_client",
            "client_id is not a registered client",
        ));
    }
    state
        .hub
        .agent_auth
        .revoke_token(field("token"), field("client_id"), &client)
        .await;
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    response
}
