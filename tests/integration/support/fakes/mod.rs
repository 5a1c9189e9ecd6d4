//! Fake provider APIs on 127.0.0.1, answering the way each provider's documentation says it
//! answers. The credential picks the scenario, as a real key would pick an account:
//! a credential containing `good` succeeds; `expired`, `noperm`, `ratelimit`, `down`, `html`,
//! `hang` and `empty` give those answers; anything else is an invalid credential.

use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scenario {
    Good,
    Invalid,
    Expired,
    NoPermission,
    RateLimited,
    Down,
    Html,
    Hang,
    Empty,
}

pub fn scenario(credential: &str) -> Scenario {
    let c = credential.to_lowercase();
    if c.contains("expired") {
        Scenario::Expired
    } else if c.contains("noperm") {
        Scenario::NoPermission
    } else if c.contains("ratelimit") {
        Scenario::RateLimited
    } else if c.contains("down") {
        Scenario::Down
    } else if c.contains("html") {
        Scenario::Html
    } else if c.contains("hang") {
        Scenario::Hang
    } else if c.contains("empty") {
        Scenario::Empty
    } else if c.contains("good") {
        Scenario::Good
    } else {
        Scenario::Invalid
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn json_status(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response()
}

fn html_page() -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        "<!doctype html><html><head><title>Log in</title></head><body><form>Sign in</form></body></html>",
    )
        .into_response()
}

async fn hang() -> Response {
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}

/// Common answers for scenarios that look the same everywhere.
async fn common(s: Scenario) -> Option<Response> {
    match s {
        Scenario::RateLimited => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                Json(json!({"message": "Too many requests"})),
            )
                .into_response(),
        ),
        Scenario::Down => Some(json_status(503, json!({"message": "Service unavailable"}))),
        Scenario::Html => Some(html_page()),
        Scenario::Hang => Some(hang().await),
        _ => None,
    }
}

pub mod data;
mod google_drive;
mod hubspot;
pub mod oauth_server;
mod quickbooks;
mod rest_api;
mod sage;
mod shopify;
mod square;
mod stripe;
mod woocommerce;
mod xero;

pub use oauth_server::oauth_env;

pub fn router(data: std::sync::Arc<data::Dataset>) -> Router {
    Router::new()
        .route("/stripe/v1/events", get(data::stripe_events))
        .route("/stripe/v1/{stream}", get(data::stripe))
        .route(
            "/shopify/{shop}/admin/api/{version}/{file}",
            get(data::shopify),
        )
        .route("/square/v2/{stream}", get(data::square))
        .route(
            "/square/v2/customers/search",
            axum::routing::post(data::square_search),
        )
        .route("/xero/api.xro/2.0/{entity}", get(data::xero))
        .route(
            "/quickbooks/v3/company/{realm}/query",
            get(data::quickbooks),
        )
        .route("/sage/v3.1/{stream}", get(data::sage))
        .route("/woo/wp-json/wc/v3/{stream}", get(data::woocommerce))
        .route("/hubspot/crm/v3/objects/{object}", get(data::hubspot))
        .route(
            "/hubspot/crm/v3/objects/{object}/search",
            axum::routing::post(data::hubspot_search),
        )
        .route("/google/drive/v3/files", get(data::google_files))
        .route(
            "/google/drive/v3/changes/startPageToken",
            get(data::google_start_token),
        )
        .route("/google/drive/v3/changes", get(data::google_changes))
        .route(
            "/google/drive/v3/changes/watch",
            axum::routing::post(data::google_watch),
        )
        .route("/restdata/items", get(data::rest_items))
        .route("/health", get(|| async { "ok" }))
        // A tenant's webhook endpoint that takes every event (the browser tests point at it).
        .route(
            "/hooks/{name}",
            // The body is read (an unread one makes the server close a keep-alive connection).
            axum::routing::post(|_body: axum::body::Bytes| async { StatusCode::NO_CONTENT }),
        )
        .route("/stripe/v1/balance", get(stripe::balance))
        .route(
            "/shopify/{shop}/admin/api/{version}/shop.json",
            get(shopify::shop),
        )
        .route("/square/v2/locations", get(square::locations))
        .route("/square-sandbox/v2/locations", get(square::locations))
        .route(
            "/quickbooks/v3/company/{realm}/companyinfo/{realm2}",
            get(quickbooks::company_info),
        )
        .route("/hubspot/crm/v3/objects/contacts", get(hubspot::contacts))
        .route(
            "/hubspot/account-info/v3/details",
            get(hubspot::account_details),
        )
        .route("/google/drive/v3/about", get(google_drive::about))
        .route("/woo/wp-json/wc/v3/products", get(woocommerce::products))
        .route(
            "/woo-html/wp-json/wc/v3/products",
            get(|| async { html_page() }),
        )
        .route("/rest/{*rest}", get(rest_api::any_path))
        .merge(oauth_server::oauth_router())
        .layer(axum::Extension(data))
}

/// Starts the fakes on `addr` (port 0 for any free port) and returns where they listen.
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    start_with(addr, Default::default()).await
}

/// Starts the fakes on a free loopback port and returns their base URL.
pub async fn start_local() -> String {
    let addr = start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("fakes");
    format!("http://{addr}")
}

/// Starts the fakes serving `data` as the providers' records.
pub async fn start_with(
    addr: SocketAddr,
    data: std::sync::Arc<data::Dataset>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(data)).await;
    });
    Ok(local)
}

/// The provider URL settings that point the server at fakes listening on `base`.
pub fn provider_env(base: &str) -> Vec<(String, String)> {
    [
        ("STRIPE", "/stripe"),
        ("SHOPIFY", "/shopify/{shop}"),
        ("SQUARE", "/square"),
        ("SQUARE_SANDBOX", "/square-sandbox"),
        ("XERO", "/xero"),
        ("QUICKBOOKS", "/quickbooks"),
        ("SAGE", "/sage"),
        ("HUBSPOT", "/hubspot"),
        ("GOOGLE_DRIVE", "/google"),
    ]
    .into_iter()
    .map(|(name, path)| {
        (
            format!("CONNECTOR_HUB_PROVIDER_{name}_URL"),
            format!("{base}{path}"),
        )
    })
    .collect()
}
