//! The Webhooks page's server function: the tenant's endpoints, each with its latest deliveries.
//! No secret is in it (an endpoint's secret is shown only by the answer that made it).

use crate::error::ApiError;
use crate::model::webhooks::WebhooksView;
use leptos::prelude::*;

/// Deliveries the page shows per endpoint.
pub const SHOWN_DELIVERIES: usize = 10;

#[server(endpoint = "webhooks_overview")]
pub async fn webhooks_overview() -> Result<WebhooksView, ApiError> {
    use crate::model::webhooks::EndpointActivity;
    let (state, caller) = crate::api::extract::require_caller().await?;
    let listed = state.hub.events.list_endpoints(&caller).await?;
    let mut endpoints = Vec::with_capacity(listed.endpoints.len());
    for endpoint in listed.endpoints {
        let mut deliveries = state
            .hub
            .events
            .endpoint_deliveries(&caller, &endpoint.endpoint_id)
            .await?
            .deliveries;
        deliveries.truncate(SHOWN_DELIVERIES);
        endpoints.push(EndpointActivity {
            endpoint,
            deliveries,
        });
    }
    Ok(WebhooksView { endpoints })
}
