//! The setup wizard's two server functions: show a step, and apply one action. The state machine
//! they drive is server-only (`crate::wizard`): its state lives on the server, sealed by the vault
//! and tied to the user, so the same flow works hydrated (ActionForm) and without JavaScript (one
//! form post per step), and a secret typed in one step is never sent back in a later page.

use crate::error::ApiError;
use crate::model::wizard::WizardView;
use leptos::prelude::*;

#[server(endpoint = "wizard_view")]
pub async fn load_wizard(
    connector_type: String,
    draft: Option<String>,
    replace: Option<String>,
) -> Result<WizardView, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let flow = crate::wizard::Flow::open(
        &state.hub,
        &caller,
        &connector_type,
        draft.as_deref(),
        replace.as_deref(),
    )
    .await?;
    Ok(flow.view())
}

/// Applies one step and answers with the URL of the next page (also sent as a redirect).
#[server(endpoint = "wizard_step")]
pub async fn advance_wizard(
    connector_type: String,
    draft: Option<String>,
    replace: Option<String>,
    action: String,
    value: Option<String>,
    display_name: Option<String>,
    sync_frequency: Option<String>,
) -> Result<String, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let action = crate::model::wizard::WizardAction::parse(&action).ok_or_else(|| {
        ApiError::new(
            crate::error::ErrorCode::InvalidRequest,
            "Unknown wizard action.",
        )
        .with_field("action")
    })?;
    let mut flow = crate::wizard::Flow::open(
        &state.hub,
        &caller,
        &connector_type,
        draft.as_deref(),
        replace.as_deref(),
    )
    .await?;
    let url = flow
        .apply(action, value, display_name, sync_frequency)
        .await?;
    leptos_axum::redirect(&url);
    Ok(url)
}
