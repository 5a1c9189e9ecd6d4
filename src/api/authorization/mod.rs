//! The hub as the OAuth 2.1 authorization server of its MCP server, at the HTTP edge: its
//! metadata (RFC 8414), dynamic client registration (RFC 7591), the authorization endpoint with
//! its consent page (`authorize`), and the token and revocation endpoints (`token`). The work is
//! `service::AgentAuth`'s; this module reads requests and writes answers as the RFCs shape them.
//!
//! The registration, token and revocation endpoints take no cookie (a client's own calls, often
//! from another origin), so the origin check lets them through; the authorization endpoint's POST
//! is a signed-in person's form and stays behind it.

mod authorize;
mod token;

use super::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderValue};
use serde_json::json;

pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REGISTER_PATH: &str = "/oauth/register";
pub const REVOKE_PATH: &str = "/oauth/revoke";

/// The endpoints a client calls itself, with no cookie (see the module's note).
pub fn is_cookieless(path: &str) -> bool {
    [TOKEN_PATH, REGISTER_PATH, REVOKE_PATH].contains(&path)
}

pub fn router() -> Router<AppState> {
    // What a client calls itself may be called from a browser-based client on another origin.
    let clients_calls = Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(REGISTER_PATH, post(token::register))
        .route(TOKEN_PATH, post(token::token))
        .route(REVOKE_PATH, post(token::revoke))
        .layer(axum::middleware::from_fn(cors));
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize::page).post(authorize::answer))
        .merge(clients_calls)
}

/// Lets any origin call the endpoints a client calls itself, and answers their preflights. Safe
/// to open to every origin: they take no cookie (`Access-Control-Allow-Credentials` is never
/// sent, so a browser sends none with them), and what they answer is the caller's own.
async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let preflight = request.method() == http::Method::OPTIONS;
    let mut response = if preflight {
        http::StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, MCP-Protocol-Version"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// `GET /.well-known/oauth-authorization-server`: what a client needs to know to get a token.
async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.hub.agent_auth.issuer();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "registration_endpoint": format!("{issuer}{REGISTER_PATH}"),
        "revocation_endpoint": format!("{issuer}{REVOKE_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["mcp:read", "mcp:write"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{issuer}/api"),
    }))
    .into_response()
}

/// Neither stored by a cache nor passed on in a Referer: these answers carry codes and tokens.
fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
