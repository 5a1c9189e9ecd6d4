//! The `/v1` REST API: thin adapters over the services (`service::Hub`), each described for the OpenAPI
//! document served at `/v1/openapi.json` (generated from these handlers, so it cannot drift).

mod audit;
mod catalog;
mod connectors;
mod data;
mod webhooks;

use crate::api::http_error::HttpError;
use crate::api::proxy::ProxyOperations;
use crate::api::state::AppState;
use crate::error::ApiError;
use crate::model::{AuditAction, AuditOutcome};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, HeaderValue};
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type ApiResult<T> = Result<T, HttpError>;

/// Every error answer: one shape, one HTTP status per code.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ApiError,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Connector Hub",
        description = "Connect a business's data sources; credentials are encrypted and never returned. Every call is made as one tenant, named by the verified JWT.",
    ),
    // Types only query parameters name: utoipa gathers the schemas bodies use, not these.
    components(schemas(AuditAction, AuditOutcome)),
    // The pass-through routes a tenant's backend or its providers call, served by their own
    // routers (`api::provider_webhooks`, `api::proxy`): described here, routed there.
    paths(
        crate::api::provider_webhooks::receive,
        crate::api::provider_webhooks::receive_app
    ),
    modifiers(&Authentication, &ProxyOperations),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "connectors", description = "A tenant's connected sources"),
        (name = "data", description = "Previews, syncs and the records they stored"),
        (name = "catalog", description = "The connector types"),
        (name = "audit", description = "Who did what, chained by keyed hashes"),
        (name = "webhooks", description = "Events to your endpoints, signed as Standard Webhooks"),
        (name = "proxy", description = "Your provider's own API, called with the connector's stored credential: a pass-through whose answers are the provider's"),
        (name = "provider-webhooks", description = "Where providers post their webhooks, verified by each provider's own signature"),
    )
)]
struct ApiDoc;

/// A tenant JWT as a bearer token (API clients), or the session cookie (the hub's own pages).
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("ch_session"))),
        );
        // The proxy also takes the hub token where other providers' SDKs put their key.
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The proxy only: the hub token as either half (WooCommerce's SDK)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "shopify_access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Shopify-Access-Token",
                "The proxy only: the hub token where Shopify's Admin API takes its token",
            ))),
        );
    }
}

/// The `/v1` routes and the document that describes them, built once: both only change with the
/// code. The server, the API page and the calls it tries all share them.
struct V1 {
    router: Router<AppState>,
    document: bytes::Bytes,
}

static V1: OnceLock<V1> = OnceLock::new();

fn v1() -> &'static V1 {
    V1.get_or_init(|| {
        let (router, api) = v1_routes().split_for_parts();
        let document = bytes::Bytes::from(api.to_pretty_json().unwrap_or_default());
        V1 { router, document }
    })
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "catalog", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of the `/v1` API",
        content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], document_json()).into_response()
}

/// The OpenAPI document of the `/v1` API, encoded as served.
pub(crate) fn document_json() -> bytes::Bytes {
    v1().document.clone()
}

fn v1_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(catalog::get_catalog))
        .routes(routes!(connectors::create, connectors::list))
        .routes(routes!(connectors::test_unsaved))
        .routes(routes!(
            connectors::read,
            connectors::update,
            connectors::remove
        ))
        .routes(routes!(connectors::test_saved))
        .routes(routes!(connectors::clear_error))
        .routes(routes!(data::preview_unsaved))
        .routes(routes!(data::preview_saved))
        .routes(routes!(data::request_sync))
        .routes(routes!(data::sync_runs))
        .routes(routes!(data::sync_run))
        .routes(routes!(data::streams))
        .routes(routes!(data::records))
        .routes(routes!(data::register_webhook_channel))
        .routes(routes!(audit::audit))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::read, webhooks::update, webhooks::remove))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::replay))
}

/// The `/v1` routes, described by the document they serve at `/v1/openapi.json`.
pub(crate) fn router() -> Router<AppState> {
    v1().router.clone()
}
