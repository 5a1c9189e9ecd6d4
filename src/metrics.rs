//! Prometheus metrics, kept in memory per process (each replica is scraped on its own): request
//! counts and latency by route and status, check outcomes by provider and code, rate-limit
//! rejections, store latency by operation, the health monitor's lease and the loaded encryption
//! keys. `docs/alerts.yml` holds alerting rules over them.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), Histogram>,
    checks: BTreeMap<(String, String), u64>,
    rate_limited: BTreeMap<String, u64>,
    /// Requests refused before anyone signed in, by what refused them.
    refused: BTreeMap<String, u64>,
    store: BTreeMap<&'static str, Histogram>,
    refreshes: BTreeMap<String, u64>,
    /// Listing pages answered from the page cache, and read from the store.
    pages: [u64; 2],
    monitor_leader: Option<bool>,
    encryption_keys: usize,
}

#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut inner) = self.0.lock() {
            f(&mut inner);
        }
    }

    pub fn request(&self, route: String, method: String, status: u16, elapsed: Duration) {
        self.with(|m| {
            m.requests
                .entry((route, method, status))
                .or_default()
                .observe(elapsed.as_secs_f64())
        });
    }

    pub fn check(&self, provider: &str, outcome: &str) {
        self.with(|m| {
            *m.checks
                .entry((provider.to_owned(), outcome.to_owned()))
                .or_default() += 1
        });
    }

    pub fn rate_limited(&self, class: &str) {
        self.with(|m| *m.rate_limited.entry(class.to_owned()).or_default() += 1);
    }

    pub fn refused(&self, action: &str) {
        self.with(|m| *m.refused.entry(action.to_owned()).or_default() += 1);
    }

    pub fn store(&self, operation: &'static str, elapsed: Duration) {
        self.with(|m| {
            m.store
                .entry(operation)
                .or_default()
                .observe(elapsed.as_secs_f64())
        });
    }

    /// Whether this process holds the health monitor's lease (set on every monitor tick).
    pub fn monitor_leader(&self, leader: bool) {
        self.with(|m| m.monitor_leader = Some(leader));
    }

    pub fn encryption_keys(&self, count: usize) {
        self.with(|m| m.encryption_keys = count);
    }

    pub fn page_cache(&self, hit: bool) {
        self.with(|m| m.pages[usize::from(hit)] += 1);
    }

    pub fn refresh(&self, outcome: &str) {
        self.with(|m| *m.refreshes.entry(outcome.to_owned()).or_default() += 1);
    }

    pub fn render(&self) -> String {
        let Ok(m) = self.0.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP connector_hub_http_request_duration_seconds HTTP requests by route, method and status.\n");
        out.push_str("# TYPE connector_hub_http_request_duration_seconds histogram\n");
        for ((route, method, status), h) in &m.requests {
            let labels = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                escape(route)
            );
            h.render(
                &mut out,
                "connector_hub_http_request_duration_seconds",
                &labels,
            );
        }
        out.push_str("# HELP connector_hub_checks_total Connection tests by provider and outcome (ok or error code).\n");
        out.push_str("# TYPE connector_hub_checks_total counter\n");
        for ((provider, outcome), n) in &m.checks {
            let _ = writeln!(
                out,
                "connector_hub_checks_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        counter(
            &mut out,
            "connector_hub_rate_limited_total",
            "Requests refused by the per-tenant rate limit, by route class.",
            "class",
            &m.rate_limited,
        );
        counter(
            &mut out,
            "connector_hub_anonymous_refusals_total",
            "Requests refused before anyone signed in (no valid token, cross-site), by what refused them. The audit log has one summary entry per address and minute.",
            "action",
            &m.refused,
        );
        counter(
            &mut out,
            "connector_hub_token_refreshes_total",
            "OAuth token refreshes by outcome.",
            "outcome",
            &m.refreshes,
        );
        out.push_str("# HELP connector_hub_listing_pages_total REST listing pages, by whether the page cache answered (hit) or the store was read (miss).\n");
        out.push_str("# TYPE connector_hub_listing_pages_total counter\n");
        for (result, n) in ["miss", "hit"].iter().zip(m.pages) {
            let _ = writeln!(
                out,
                "connector_hub_listing_pages_total{{result=\"{result}\"}} {n}"
            );
        }
        out.push_str("# HELP connector_hub_monitor_leader 1 while this process holds the health monitor's lease (absent while the monitor is off or has not ticked yet).\n");
        out.push_str("# TYPE connector_hub_monitor_leader gauge\n");
        if let Some(leader) = m.monitor_leader {
            let _ = writeln!(out, "connector_hub_monitor_leader {}", u8::from(leader));
        }
        out.push_str("# HELP connector_hub_encryption_keys Encryption keys loaded; more than one means a key rotation is under way.\n");
        out.push_str("# TYPE connector_hub_encryption_keys gauge\n");
        let _ = writeln!(out, "connector_hub_encryption_keys {}", m.encryption_keys);
        out.push_str(
            "# HELP connector_hub_store_operation_duration_seconds Store operations by name.\n",
        );
        out.push_str("# TYPE connector_hub_store_operation_duration_seconds histogram\n");
        for (op, h) in &m.store {
            h.render(
                &mut out,
                "connector_hub_store_operation_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
        out
    }
}

/// A counter with one label, in the exposition format.
fn counter(out: &mut String, name: &str, help: &str, label: &str, values: &BTreeMap<String, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Times every request under its route template (never the raw path: ids would explode the
/// label set).
pub async fn middleware(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
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
    let method = method_label(request.method()).to_owned();
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

pub async fn handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}
