//! Server-only plumbing: settings, shared state, start-up, and small helpers.

pub mod cli;
pub mod config;
pub mod http_error;
pub mod metrics;
pub mod monitor;
pub mod request_id;
pub mod startup;

use crate::auth::Authenticator;
use crate::service::ConnectorService;
use axum::extract::{ConnectInfo, FromRef};
use config::Settings;
use http::request::Parts;
use leptos::config::LeptosOptions;
use rand::RngCore;
use std::net::SocketAddr;
use std::sync::Arc;

/// Everything a request handler or server function may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub auth: Arc<Authenticator>,
    pub service: Arc<ConnectorService>,
    pub metrics: metrics::Metrics,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// `bytes` random bytes as URL-safe base64.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The peer address of the connection (proxies' headers are not trusted).
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
