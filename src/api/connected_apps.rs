//! Server functions of the Connected apps page: the MCP clients the signed-in person allowed to
//! act in their name, and revoking one (its access and refresh tokens stop working at once).
//! Nothing here carries a token: a grant is named by its id, which only its own person can use.

use crate::error::ApiError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One app the person allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub grant_id: String,
    pub client_name: String,
    /// Where the app receives its answers (the host of its redirect URI).
    pub redirect_host: String,
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub allowed_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApps {
    pub apps: Vec<ConnectedApp>,
    /// The server's clock, so relative times read the same on the server and in the browser.
    pub now_ms: i64,
}

#[server(endpoint = "list_connected_apps")]
pub async fn list_connected_apps() -> Result<ConnectedApps, ApiError> {
    use crate::clock::{now_ms, rfc3339};
    let (state, caller) = crate::api::extract::require_caller().await?;
    let grants = state.hub.agent_auth.connected_apps(&caller).await?;
    let host = |uri: &str| {
        reqwest::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    };
    Ok(ConnectedApps {
        apps: grants
            .into_iter()
            .map(|g| ConnectedApp {
                redirect_host: host(&g.redirect_uri),
                scopes: g.scopes.split(' ').map(str::to_owned).collect(),
                allowed_at: rfc3339(g.created_at),
                last_used_at: g.last_used_at.map(rfc3339),
                grant_id: g.grant_id,
                client_name: g.client_name,
            })
            .collect(),
        now_ms: now_ms(),
    })
}

#[server(endpoint = "revoke_connected_app")]
pub async fn revoke_connected_app(grant_id: String) -> Result<(), ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    Ok(state.hub.agent_auth.revoke_app(&caller, &grant_id).await?)
}
