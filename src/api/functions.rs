//! Server functions: the UI's API. Each authenticates inside its body, because SSR calls them
//! in-process, past any router layer. Every type returned here ends up serialized into the page,
//! so none of them can hold a credential.

use crate::catalog::CatalogCard;
use crate::error::ApiError;
use crate::model::{AuditPage, CheckResult, ConnectorView, SessionInfo};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the sources page renders: the tenant's connectors and the server's clock, so relative
/// times ("5 minutes ago") come out the same on the server and in the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub connectors: Vec<ConnectorView>,
    pub now_ms: i64,
    /// Whose list this is (`auth::principal_tag`): the browser's offline copy is shown only
    /// while the same principal is signed in.
    pub owner: String,
}

#[server(endpoint = "catalog_entries")]
pub async fn catalog_entries() -> Result<Vec<CatalogCard>, ApiError> {
    Ok(crate::catalog::catalog()
        .entries()
        .iter()
        .map(CatalogCard::from)
        .collect())
}

/// The signed-in tenant and user, or `None` without a valid session.
#[server(endpoint = "current_session")]
pub async fn current_session() -> Result<Option<SessionInfo>, ApiError> {
    use crate::api::state::AppState;
    let state = use_context::<AppState>()
        .ok_or_else(|| ApiError::from_code(crate::error::ErrorCode::Internal))?;
    let parts: Option<http::request::Parts> = use_context();
    Ok(parts
        .and_then(|p| crate::api::extract::authenticate(&state, &p.headers).ok())
        .map(|p| SessionInfo {
            tenant_id: p.tenant.as_str().to_owned(),
            user_id: p.user,
        }))
}

#[server(endpoint = "list_sources")]
pub async fn list_sources(status: Option<String>) -> Result<Sources, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let status = status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(crate::model::ConnectorStatus::parse);
    let mut connectors = Vec::new();
    let mut cursor = None;
    // The sources page shows everything; pages of the maximum size keep each query bounded.
    loop {
        let page = state
            .hub
            .connectors
            .list(
                &caller,
                status,
                Some(crate::service::MAX_PAGE),
                cursor.as_deref(),
            )
            .await?;
        connectors.extend(page.connectors);
        match page.next_cursor {
            Some(next) if connectors.len() < 5_000 => cursor = Some(next),
            _ => break,
        }
    }
    Ok(Sources {
        connectors,
        now_ms: crate::clock::now_ms(),
        owner: crate::auth::principal_tag(&caller.principal),
    })
}

#[server(endpoint = "test_source")]
pub async fn test_source(connector_id: String) -> Result<CheckResult, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state
        .hub
        .connectors
        .test_saved(&caller, &connector_id)
        .await?)
}

#[server(endpoint = "update_source")]
pub async fn update_source(
    connector_id: String,
    display_name: Option<String>,
    sync_frequency: Option<String>,
) -> Result<ConnectorView, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    let sync_frequency = match sync_frequency.filter(|s| !s.is_empty()) {
        Some(f) => Some(crate::model::SyncFrequency::parse(&f).ok_or_else(|| {
            ApiError::new(
                crate::error::ErrorCode::InvalidRequest,
                "Choose how often to sync.",
            )
            .with_field("sync_frequency")
        })?),
        None => None,
    };
    let changes = crate::service::ConnectorChanges {
        display_name: display_name
            .filter(|n| !n.trim().is_empty())
            .as_deref()
            .map(crate::ids::DisplayName::parse)
            .transpose()?,
        sync_frequency,
        ..Default::default()
    };
    Ok(state
        .hub
        .connectors
        .update(&caller, &connector_id, changes)
        .await?)
}

#[server(endpoint = "delete_source")]
pub async fn delete_source(connector_id: String) -> Result<(), ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state.hub.connectors.delete(&caller, &connector_id).await?)
}

#[server(endpoint = "clear_source_error")]
pub async fn clear_source_error(connector_id: String) -> Result<ConnectorView, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state
        .hub
        .connectors
        .clear_error(&caller, &connector_id)
        .await?)
}

/// The tenant's audit log, newest first, filtered; `before` pages back.
#[server(endpoint = "list_audit")]
pub async fn list_audit(
    connector_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
) -> Result<AuditPage, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let query = crate::service::audit_query(
        connector_id.as_deref(),
        action.as_deref(),
        outcome.as_deref(),
        before,
        50,
    )?;
    let (entries, next_before) = state.hub.gate.audit_log(&caller, &query).await?;
    Ok(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
        now_ms: crate::clock::now_ms(),
    })
}
