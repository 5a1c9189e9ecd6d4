//! Who is calling `/mcp`, decided before the MCP SDK reads the request: a verified bearer token
//! becomes an [`Agent`] in the request's extensions (where the tools find it); anything else is
//! answered `401` with the challenge the MCP specification's authorization describes.

use super::super::extract::client_addr;
use super::super::state::AppState;
use super::tools::writes;
use crate::auth::Principal;
use crate::error::{Error, ErrorCode};
use crate::model::AuditAction;
use crate::service::{Caller, ACCESS_PREFIX};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

/// What an agent may do with the tenant's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scopes {
    /// `mcp:read`: list connectors and streams, read records, `GET`/`HEAD` through `call_api`.
    pub(super) read: bool,
    /// `mcp:write`: any other `call_api` method, and `sync_now`.
    pub(super) write: bool,
}

impl Scopes {
    /// A hub token, as the REST API takes it: a tenant's own backend, which may do anything.
    const ALL: Self = Self {
        read: true,
        write: true,
    };
}

/// The verified caller of one MCP request, and what it may do.
#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub(super) caller: Caller,
    pub(super) scopes: Scopes,
}

/// The scopes this resource knows, as its metadata lists them.
pub(super) const SCOPES_SUPPORTED: [&str; 2] = ["mcp:read", "mcp:write"];

/// Lets a request through with its [`Agent`], or answers `401` with where to learn how to get
/// a token (the hub's own authorization server, see `api::authorization`). Only
/// `Authorization: Bearer` counts: a session cookie would let any page the user
/// visits call tools in their name.
pub(super) async fn require_agent(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let client = client_addr(&parts);
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
        })
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let presented = bearer.is_some();
    let agent = match bearer {
        Some(token) => verify(&state, token).await,
        None => None,
    };
    let Some((principal, scopes, app)) = agent else {
        let error = Error::new(
            ErrorCode::Unauthenticated,
            "Send a Connector Hub token as `Authorization: Bearer <token>`.",
        );
        // Counted and summarised like every refusal nobody signed in for.
        let error = state
            .hub
            .gate
            .refuse_anonymous(AuditAction::Authenticate, error, &client)
            .await;
        return challenge(&state, presented, error);
    };
    // A token without `mcp:write` calling a tool that writes hears the MCP specification's
    // scope challenge, so its client can ask the person for more; the tool would refuse too.
    let body = if scopes.write {
        body
    } else {
        let Ok(bytes) = axum::body::to_bytes(body, super::MAX_MESSAGE_BYTES).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        if serde_json::from_slice::<Value>(&bytes).is_ok_and(|m| wants_write(&m)) {
            return insufficient_scope(&state);
        }
        axum::body::Body::from(bytes)
    };
    let mut caller = Caller::new(principal, client);
    if let Some(app) = app {
        caller = caller.through_app(&app);
    }
    parts.extensions.insert(Agent { caller, scopes });
    next.run(Request::from_parts(parts, body)).await
}

/// Whether a JSON-RPC message (or batch) calls a tool in a way that needs `mcp:write`
/// (`tools::writes`).
fn wants_write(message: &Value) -> bool {
    match message {
        Value::Array(items) => items.iter().any(wants_write),
        Value::Object(m) if m.get("method").and_then(Value::as_str) == Some("tools/call") => {
            let params = m.get("params");
            params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .is_some_and(|name| writes(name, params.and_then(|p| p.get("arguments"))))
        }
        _ => false,
    }
}

/// `403` with `WWW-Authenticate: Bearer error="insufficient_scope", scope="mcp:write", …`.
fn insufficient_scope(state: &AppState) -> Response {
    let metadata = format!("{}{}", state.settings.public_url, METADATA_PATH);
    let value = format!(
        "Bearer error=\"insufficient_scope\", scope=\"mcp:write\", resource_metadata=\"{metadata}\""
    );
    let mut response = (
        StatusCode::FORBIDDEN,
        Json(json!({
            "code": ErrorCode::Forbidden.as_str(),
            "message": "This tool call changes data, which needs the mcp:write scope; this token was not granted it.",
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// A bearer token's principal, scopes and the OAuth client it was issued to (none for a hub
/// token): a hub token (a tenant's own backend, which may do
/// anything), or an access token the hub issued to an MCP client, for this resource, whose grant
/// is still alive (looked up on every request, so a revocation holds at once).
async fn verify(state: &AppState, token: &str) -> Option<(Principal, Scopes, Option<String>)> {
    if !token.starts_with(ACCESS_PREFIX) {
        return state.auth.verify(token).map(|p| (p, Scopes::ALL, None));
    }
    let agent = state.hub.agent_auth.verify_access(token).await?;
    Some((
        agent.principal,
        Scopes {
            read: agent.read,
            write: agent.write,
        },
        Some(agent.client_id),
    ))
}

/// `401` (or `429` past the anonymous limit) with `WWW-Authenticate: Bearer
/// resource_metadata="…"`; `error="invalid_token"` when a token was presented and refused.
fn challenge(state: &AppState, presented: bool, error: Error) -> Response {
    let metadata = format!("{}{}", state.settings.public_url, METADATA_PATH);
    let mut value = format!("Bearer resource_metadata=\"{metadata}\"");
    if presented {
        value.push_str(", error=\"invalid_token\"");
    }
    let status = if error.code == ErrorCode::RateLimited {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut response = (
        status,
        Json(json!({"code": error.code.as_str(), "message": error.message})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// Where this resource's metadata is, under the hub's address.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// `GET /.well-known/oauth-protected-resource/mcp`: the MCP server as an OAuth protected
/// resource (RFC 9728) — its identifier, the hub as its authorization server, the scopes it
/// knows, and that tokens come in the `Authorization` header only.
pub(super) async fn resource_metadata(State(state): State<AppState>) -> Response {
    let base = &state.settings.public_url;
    Json(json!({
        "resource": format!("{base}{}", super::MCP_PATH),
        "authorization_servers": [base],
        "scopes_supported": SCOPES_SUPPORTED,
        "bearer_methods_supported": ["header"],
        "resource_name": "Connector Hub",
        "resource_documentation": format!("{base}/api"),
    }))
    .into_response()
}
