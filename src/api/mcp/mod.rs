//! `/mcp`: the hub as an MCP server, for AI agents. Streamable HTTP through the official Rust SDK
//! (`rmcp`), stateless — every request stands alone, so any process behind a load balancer
//! answers it and nothing is kept between calls — answering in JSON.
//!
//! Who may call: a bearer token in `Authorization` only (never a cookie, never the query
//! string) — a hub token, or an access token the hub issued to an MCP client as its OAuth
//! authorization server (`api::authorization`) — checked before the SDK sees the request
//! (`auth`). Without one the answer is `401`
//! with `WWW-Authenticate: Bearer resource_metadata=…`, pointing at this resource's metadata
//! (RFC 9728), as the MCP specification's authorization asks. What it may do: the tools in
//! `tools`, each going through the services a person's request does, as a caller that names
//! the tool.

mod auth;
mod calls;
mod server;
mod tools;

use super::state::AppState;
use axum::routing::get;
use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Where the MCP server is served.
pub(crate) const MCP_PATH: &str = "/mcp";

/// The largest JSON-RPC message taken (a tool call's arguments: an API call's body at most).
pub(super) const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let tools = server::HubServer::new(state.clone());
    // Host and Origin checks guard a local server against DNS rebinding: a page that reaches it
    // rides on the browser's ambient credentials. This endpoint has none to ride on — it takes a
    // bearer token in a header and nothing else — and is served on whatever name the operator
    // chose, so they stay off.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_MESSAGE_BYTES)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let guarded =
        Router::new()
            .route_service(MCP_PATH, service)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require_agent,
            ));
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(auth::resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(auth::resource_metadata),
        )
        .merge(guarded)
}
