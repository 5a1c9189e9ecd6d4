//! What every request handler and server function may reach: the services, the authenticator, the
//! settings and the metrics. Built once by the server's start-up; cheap to clone.

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::service::Hub;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub auth: Arc<Authenticator>,
    pub hub: Arc<Hub>,
    pub metrics: Metrics,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}
