//! Building and running the application: what `main` and the tests both call.

use crate::api::extract::origin_guard;
use crate::api::rest;
use crate::api::state::AppState;
use crate::app::{shell, App};
use crate::auth::{AuthSetupError, Authenticator};
use crate::config::Settings;
use crate::metrics::{self, Metrics};
use crate::oauth::OAuth;
use crate::outbound::Outbound;
use crate::service::{Hub, HubSettings};
use crate::store::{MeteredStore, MongoStore, SqliteStore, Store, StoreError};
use crate::vault::{Vault, VaultError};
use crate::workers::Workers;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use axum::{middleware, Router};
use http::{header, HeaderValue};
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Auth(#[from] AuthSetupError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bundle(#[from] crate::build_id::BundleMismatch),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Loads the vault as configured; in development a missing key is created in the data directory.
pub fn load_vault(settings: &Settings) -> Result<(Vault, bool), VaultError> {
    if let Some(keys) = &settings.encryption_key {
        return Ok((
            Vault::from_key_list(keys, "CONNECTOR_ENCRYPTION_KEY")?,
            false,
        ));
    }
    if let Some(path) = &settings.encryption_key_file {
        return Ok((Vault::from_key_file(path)?, false));
    }
    if settings.is_development() {
        return Vault::development_key(&settings.data_dir);
    }
    Err(VaultError::Missing {
        var: "CONNECTOR_ENCRYPTION_KEY",
    })
}

pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &settings.mongo_uri {
        Some(uri) => Arc::new(MongoStore::connect(uri.expose(), &settings.mongo_db).await?),
        None => Arc::new(SqliteStore::open(&settings.data_dir).await?),
    })
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
    /// The store, for the watch that wakes this process's workers when another queues work.
    store: Arc<dyn Store>,
    /// Whether a development encryption key was created on this start.
    pub created_dev_key: bool,
    /// Identifies this process as a holder of store leases.
    pub instance_id: String,
}

impl Application {
    pub async fn build(mut settings: Settings) -> Result<Self, StartupError> {
        // Before anything else: a server that cannot serve its own pages' script must not start.
        if let crate::build_id::BundleCheck::Missing(path) =
            crate::build_id::check_bundle(&settings.site_root, "connector-hub")?
        {
            tracing::warn!(
                bundle = %path.display(),
                "no WASM bundle: pages are served without hydrating; build the site with \
                 `cargo leptos build` (LEPTOS_SITE_ROOT names where it is)"
            );
        }
        let (vault, created_dev_key) = load_vault(&settings)?;
        let auth = Authenticator::from_settings(&settings.auth, settings.development_data_dir())?;
        let metrics = Metrics::new(settings.monitor.enabled);
        metrics.encryption_keys(vault.key_count());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(
            open_store(&settings).await?,
            metrics.clone(),
        ));
        let listener = TcpListener::bind(settings.site_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.site_addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.site_addr,
            source,
        })?;
        // Without an explicit public address, it is the one actually bound (port 0 picks one).
        if settings.public_url == format!("http://{}", settings.site_addr) {
            settings.public_url = format!("http://{local}");
        }
        let outbound = Outbound::new(&settings.checks, &settings.providers);
        let hub = Hub::new(
            store.clone(),
            Arc::new(vault),
            outbound,
            OAuth::new(&settings.oauth, &settings.public_url),
            metrics.clone(),
            HubSettings {
                limits: settings.limits,
                page_cache: settings.page_cache,
                sync: settings.sync,
                deliveries: settings.deliveries.clone(),
                public_url: settings.public_url.clone(),
                webhook_secrets: settings.webhook_secrets.clone(),
            },
        );

        let env = match std::env::var("LEPTOS_ENV").ok().as_deref() {
            Some("PROD") | Some("prod") | Some("production") => Env::PROD,
            Some(_) => Env::DEV,
            None if settings.is_development() => Env::DEV,
            None => Env::PROD,
        };
        let reload_port = std::env::var("LEPTOS_RELOAD_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3001);
        let leptos_options = LeptosOptions::builder()
            .output_name("connector-hub")
            .site_root(settings.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(local)
            .env(env)
            .reload_port(reload_port)
            .build();

        let state = AppState {
            settings: Arc::new(settings),
            auth: Arc::new(auth),
            hub: Arc::new(hub),
            metrics,
            leptos_options: leptos_options.clone(),
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            store,
            created_dev_key,
            instance_id: crate::random::random_hex(8),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.settings.site_addr)
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
    /// The workers run beside it (see `workers`) and are stopped with it.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = Workers::start(
            self.state.hub.clone(),
            self.store.clone(),
            self.state.settings.monitor,
            &self.instance_id,
        );
        // Without TCP_NODELAY a streamed body's last segment waits for the client's delayed ACK
        // (40 ms on Linux): static assets were answered at under 1,000 per second.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        workers.stop().await;
        served
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .merge(rest::router())
        .merge(crate::api::health::router())
        .merge(crate::api::session::router())
        .merge(crate::api::oauth::router())
        .merge(crate::api::docs::router())
        .merge(crate::api::try_it::router())
        .merge(crate::api::table_choice::router())
        .merge(crate::api::proxy::router())
        .merge(crate::api::webhook_forms::router())
        .merge(crate::api::provider_webhooks::router())
        .merge(crate::api::mcp::router(&state))
        .merge(crate::api::authorization::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .route("/metrics", axum::routing::get(metrics::handler))
        .route_layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::middleware,
        ))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(
            crate::api::http_error::server_fn_status,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), origin_guard))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(middleware::from_fn(crate::request_id::middleware))
        .with_state(state)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
