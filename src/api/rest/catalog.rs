//! `/v1/catalog`: the connector types the hub knows, with their fields.

use crate::catalog::{catalog, ConnectorDef};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct CatalogPage {
    pub(crate) connectors: &'static [ConnectorDef],
}

/// Every connector type: its fields (which are secret, their patterns), how it signs in.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog",
    responses((status = 200, description = "The catalog", body = CatalogPage)))]
pub(crate) async fn get_catalog() -> Json<CatalogPage> {
    Json(CatalogPage {
        connectors: catalog().entries(),
    })
}
