//! Prometheus metrics, kept in memory per process (each replica is scraped on its own) with the
//! `prometheus-client` crate: request counts and latency by route and status, check outcomes by
//! provider and code, rate-limit rejections, store latency by operation, the health monitor's
//! lease and the loaded encryption keys. Each family updates its own atomics: recording never
//! takes a lock shared with other metrics. `docs/alerts.yml` holds alerting rules over them.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabel {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

struct Inner {
    registry: Registry,
    requests: Histograms<RequestLabels>,
    checks: Family<CheckLabels, Counter>,
    rate_limited: Family<ClassLabel, Counter>,
    /// Requests refused before anyone signed in, by what refused them.
    refused: Family<ActionLabel, Counter>,
    refreshes: Family<OutcomeLabel, Counter>,
    /// Listing pages answered from the page cache, and read from the store.
    pages: Family<ResultLabel, Counter>,
    store: Histograms<OperationLabel>,
    /// Registered only where the health monitor runs: no sample at all while it is off.
    monitor_leader: Option<Gauge>,
    encryption_keys: Gauge,
    sync_runs: Family<OutcomeLabel, Counter>,
    deliveries: Family<OutcomeLabel, Counter>,
    webhooks: Family<WebhookLabel, Counter>,
    records_synced: Counter,
}

#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new(false)
    }
}

impl Metrics {
    /// `with_monitor`: this process runs the health monitor, so it says whether it leads.
    pub fn new(with_monitor: bool) -> Self {
        let mut registry = Registry::default();
        let requests: Histograms<RequestLabels> = Family::new_with_constructor(histogram);
        registry.register(
            "connector_hub_http_request_duration_seconds",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let checks = Family::default();
        registry.register(
            "connector_hub_checks",
            "Connection tests by provider and outcome (ok or error code)",
            checks.clone(),
        );
        let rate_limited = Family::default();
        registry.register(
            "connector_hub_rate_limited",
            "Requests refused by the per-tenant rate limit, by route class",
            rate_limited.clone(),
        );
        let refused = Family::default();
        registry.register(
            "connector_hub_anonymous_refusals",
            "Requests refused before anyone signed in (no valid token, cross-site), by what refused them. The audit log has one summary entry per address and minute",
            refused.clone(),
        );
        let refreshes = Family::default();
        registry.register(
            "connector_hub_token_refreshes",
            "OAuth token refreshes by outcome",
            refreshes.clone(),
        );
        let pages: Family<ResultLabel, Counter> = Family::default();
        registry.register(
            "connector_hub_listing_pages",
            "REST listing pages, by whether the page cache answered (hit) or the store was read (miss)",
            pages.clone(),
        );
        // Both results are shown from the start, so a rate over them is defined at once.
        for result in ["hit", "miss"] {
            let _ = pages.get_or_create(&ResultLabel { result });
        }
        let monitor_leader = with_monitor.then(|| {
            let gauge = Gauge::default();
            registry.register(
                "connector_hub_monitor_leader",
                "1 while this process holds the health monitor's lease",
                gauge.clone(),
            );
            gauge
        });
        let encryption_keys = Gauge::default();
        registry.register(
            "connector_hub_encryption_keys",
            "Encryption keys loaded; more than one means a key rotation is under way",
            encryption_keys.clone(),
        );
        let store: Histograms<OperationLabel> = Family::new_with_constructor(histogram);
        registry.register(
            "connector_hub_store_operation_duration_seconds",
            "Store operations by name",
            store.clone(),
        );
        let sync_runs = Family::default();
        registry.register(
            "connector_hub_sync_runs",
            "Sync runs finished, by outcome (succeeded or failed)",
            sync_runs.clone(),
        );
        let records_synced = Counter::default();
        registry.register(
            "connector_hub_records_synced",
            "Records read from providers and committed by sync runs",
            records_synced.clone(),
        );
        let deliveries = Family::default();
        registry.register(
            "connector_hub_event_deliveries",
            "Attempts at delivering events to tenants' endpoints, by outcome (delivered, retry, gave_up, gone)",
            deliveries.clone(),
        );
        let webhooks = Family::default();
        registry.register(
            "connector_hub_provider_webhooks",
            "Provider webhooks received, by connector type and outcome (accepted or refused)",
            webhooks.clone(),
        );
        Self(Arc::new(Inner {
            sync_runs,
            deliveries,
            webhooks,
            records_synced,
            registry,
            requests,
            checks,
            rate_limited,
            refused,
            refreshes,
            pages,
            store,
            monitor_leader,
            encryption_keys,
        }))
    }

    pub fn request(&self, route: String, method: &'static str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            route,
            method,
            status: status.to_string(),
        };
        self.0
            .requests
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn check(&self, provider: &str, outcome: &str) {
        let labels = CheckLabels {
            provider: provider.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.0.checks.get_or_create(&labels).inc();
    }

    pub fn rate_limited(&self, class: &str) {
        let labels = ClassLabel {
            class: class.to_owned(),
        };
        self.0.rate_limited.get_or_create(&labels).inc();
    }

    pub fn refused(&self, action: &str) {
        let labels = ActionLabel {
            action: action.to_owned(),
        };
        self.0.refused.get_or_create(&labels).inc();
    }

    pub fn store(&self, operation: &'static str, elapsed: Duration) {
        self.0
            .store
            .get_or_create(&OperationLabel { operation })
            .observe(elapsed.as_secs_f64());
    }

    /// Whether this process holds the health monitor's lease (set on every monitor tick).
    pub fn monitor_leader(&self, leader: bool) {
        if let Some(gauge) = &self.0.monitor_leader {
            gauge.set(i64::from(leader));
        }
    }

    pub fn encryption_keys(&self, count: usize) {
        self.0
            .encryption_keys
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn page_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.0.pages.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn refresh(&self, outcome: &str) {
        let labels = OutcomeLabel {
            outcome: outcome.to_owned(),
        };
        self.0.refreshes.get_or_create(&labels).inc();
    }

    pub(crate) fn sync_run(&self, outcome: &str) {
        let labels = OutcomeLabel {
            outcome: outcome.to_owned(),
        };
        self.0.sync_runs.get_or_create(&labels).inc();
    }

    pub(crate) fn delivery(&self, outcome: &str) {
        let labels = OutcomeLabel {
            outcome: outcome.to_owned(),
        };
        self.0.deliveries.get_or_create(&labels).inc();
    }

    pub(crate) fn webhook(&self, provider: &str, outcome: &str) {
        let labels = WebhookLabel {
            provider: provider.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.0.webhooks.get_or_create(&labels).inc();
    }

    pub(crate) fn records_synced(&self, count: u64) {
        self.0.records_synced.inc_by(count);
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.0.registry).is_err() {
            tracing::error!("could not encode the metrics");
        }
        out
    }
}

/// Times every request under its route template (never the raw path: ids would explode the
/// label set).
pub(crate) async fn middleware(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            if request.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "other".into()
            }
        });
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The standard methods by name; any other (anyone can make one up) as `other`, so the label
/// set stays bounded.
fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub(crate) async fn handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}
