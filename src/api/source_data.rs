//! Server functions of a connector's data page and the wizard's preview: what was synced, the
//! run history, a preview read from the provider, "Sync now", and the data settings.

use crate::error::ApiError;
use crate::model::data::{DataView, Preview, SyncQueued, TableChoice};
use crate::model::ConnectorView;
use leptos::prelude::*;

/// Records a page of the data table shows.
pub const TABLE_ROWS: usize = 25;

#[server(endpoint = "source_data")]
pub async fn source_data(
    connector_id: String,
    stream: Option<String>,
    cursor: Option<String>,
) -> Result<DataView, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state
        .hub
        .syncs
        .data_view(
            &caller,
            &connector_id,
            stream.as_deref(),
            cursor.as_deref().filter(|c| !c.is_empty()),
            TABLE_ROWS,
        )
        .await?)
}

#[server(endpoint = "source_preview")]
pub async fn source_preview(
    connector_id: String,
    stream: Option<String>,
) -> Result<Preview, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state
        .hub
        .syncs
        .preview_saved(&caller, &connector_id, stream.as_deref())
        .await?)
}

#[server(endpoint = "sync_source")]
pub async fn sync_source(
    connector_id: String,
    full_refresh: Option<String>,
) -> Result<SyncQueued, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    let request = crate::service::SyncRequest {
        streams: Vec::new(),
        full_refresh: full_refresh.is_some_and(|v| v == "on" || v == "true"),
    };
    Ok(state
        .hub
        .syncs
        .request_sync(&caller, &connector_id, request)
        .await?)
}

/// One field per setting, as the form sends them (the macro's generated code takes them all).
#[allow(clippy::too_many_arguments)]
mod rest_settings {
    use super::*;

    /// The REST API connector's data settings; a field left out is unchanged, an empty one cleared.
    #[server(endpoint = "save_data_settings")]
    pub async fn save_data_settings(
        connector_id: String,
        records_path: Option<String>,
        records_pointer: Option<String>,
        paging: Option<String>,
        paging_param: Option<String>,
        next_cursor_pointer: Option<String>,
        updated_field: Option<String>,
        since_param: Option<String>,
    ) -> Result<ConnectorView, ApiError> {
        let (state, caller) = crate::api::extract::require_caller().await?;
        let connector_id = crate::api::extract::connector_id(&connector_id)?;
        let settings: std::collections::BTreeMap<String, String> = [
            ("records_path", records_path),
            ("records_pointer", records_pointer),
            ("paging", paging),
            ("paging_param", paging_param),
            ("next_cursor_pointer", next_cursor_pointer),
            ("updated_field", updated_field),
            ("since_param", since_param),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
        Ok(state
            .hub
            .syncs
            .change_data_settings(&caller, &connector_id, &settings)
            .await?)
    }
}
pub use rest_settings::*;

#[server(endpoint = "source_tables")]
pub async fn source_tables(connector_id: String) -> Result<Vec<TableChoice>, ApiError> {
    let (state, caller) = crate::api::extract::require_caller().await?;
    let connector_id = crate::api::extract::connector_id(&connector_id)?;
    Ok(state
        .hub
        .syncs
        .table_choices(&caller, &connector_id)
        .await?)
}
