//! Provider data for syncs: a few hundred records per stream, kept in memory, served page by page
//! the way each provider documents its list calls (Stripe's `starting_after`, Shopify's `Link`
//! with `page_info`, Square's and HubSpot's cursors, Xero's pages and `If-Modified-Since`,
//! QuickBooks' query language, Sage's `$next`, WooCommerce's `X-WP-TotalPages`, Drive's
//! `nextPageToken`). Tests change and delete records between runs, make the next calls fail
//! (429 with `Retry-After`, 401, 500) or slow, and read back every request the fakes received.
//! The records and what every call does first are here; the providers' list calls are in
//! `commerce` (Stripe, Shopify, Square, WooCommerce) and `business` (the others).

use super::*;
use axum::extract::Extension;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod business;
mod commerce;

pub use business::*;
pub use commerce::*;

/// The start of the fakes' clock, two days ago (providers keep their events for 30 days): every
/// change is one second later.
fn epoch() -> i64 {
    static EPOCH: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(|| (chrono::Utc::now().timestamp() - 2 * 86_400) / 3600 * 3600)
}

#[derive(Clone, Debug)]
struct Item {
    n: u64,
    version: u32,
    updated: i64,
    deleted: bool,
}

/// A request a data endpoint received: its stream, query string and the headers that matter.
#[derive(Clone, Debug)]
pub struct Seen {
    pub stream: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    streams: BTreeMap<String, Vec<Item>>,
    clock: i64,
    seen: Vec<Seen>,
    delay: Duration,
    /// Calls to let through, what to answer then, and how many times.
    trouble: Option<(u32, Trouble, u32)>,
    /// Every change, as an event log (Stripe's events).
    events: Vec<Event>,
    /// The longest push channel Drive grants (a week for changes, when unset).
    channel_lifetime: Option<Duration>,
}

/// One change: the stream, `created`/`updated`/`deleted`, when, and the record's state then.
#[derive(Clone, Debug)]
struct Event {
    seq: u64,
    stream: String,
    kind: &'static str,
    created: i64,
    item: Item,
}

impl State {
    fn log(&mut self, stream: &str, kind: &'static str, item: &Item) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            seq,
            stream: stream.into(),
            kind,
            created: item.updated,
            item: item.clone(),
        });
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trouble {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 401, as for a token that expired early.
    Unauthorized,
    /// 500.
    Failing,
}

/// The records behind every fake provider, per `provider/stream` (e.g. `stripe/customers`).
#[derive(Default)]
pub struct Dataset(Mutex<State>);

impl Dataset {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `count` records to `stream`, each changed at its own second.
    pub fn seed(&self, stream: &str, count: u64) {
        let mut s = self.state();
        let start = s
            .streams
            .get(stream)
            .and_then(|v| v.iter().map(|i| i.n).max())
            .unwrap_or(0);
        for n in start + 1..=start + count {
            s.clock += 1;
            let updated = epoch() + s.clock;
            let item = Item {
                n,
                version: 1,
                updated,
                deleted: false,
            };
            s.log(stream, "created", &item);
            s.streams.entry(stream.into()).or_default().push(item);
        }
    }

    /// Changes records `ns` of `stream` (a new version, changed now).
    pub fn change(&self, stream: &str, ns: &[u64]) {
        let mut s = self.state();
        for n in ns {
            s.clock += 1;
            let now = epoch() + s.clock;
            let changed = s
                .streams
                .get_mut(stream)
                .and_then(|v| v.iter_mut().find(|i| i.n == *n))
                .map(|item| {
                    item.version += 1;
                    item.updated = now;
                    item.clone()
                });
            if let Some(item) = changed {
                s.log(stream, "updated", &item);
            }
        }
        // Providers that order by change list the changed records last.
        if let Some(items) = s.streams.get_mut(stream) {
            items.sort_by_key(|i| (i.updated, i.n));
        }
    }

    /// Deletes records `ns` of `stream`. Drive: the first is deleted for good (its change says
    /// `removed`), the others are moved to the trash (listed with `trashed: true`).
    pub fn delete(&self, stream: &str, ns: &[u64]) {
        let mut s = self.state();
        s.clock += 1;
        let now = epoch() + s.clock;
        if let Some(items) = s.streams.get_mut(stream) {
            if stream.starts_with("google/") {
                let mut changed = Vec::new();
                for item in items.iter_mut().filter(|i| ns.contains(&i.n)) {
                    item.deleted = true;
                    item.updated = now;
                    changed.push(item.clone());
                }
                let removed = ns.first().copied();
                items.retain(|i| Some(i.n) != removed);
                for item in changed {
                    let kind = if Some(item.n) == removed {
                        "removed"
                    } else {
                        "updated"
                    };
                    s.log(stream, kind, &item);
                }
            } else {
                let gone: Vec<Item> = items
                    .iter()
                    .filter(|i| ns.contains(&i.n))
                    .cloned()
                    .collect();
                items.retain(|i| !ns.contains(&i.n));
                for mut item in gone {
                    item.updated = now;
                    s.log(stream, "deleted", &item);
                }
            }
        }
    }

    /// Every request the data endpoints received, oldest first; `take` empties the list.
    pub fn take_requests(&self) -> Vec<Seen> {
        std::mem::take(&mut self.state().seen)
    }

    /// Each page answered after waiting this long.
    pub fn slow(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// After `after` more data calls, the next `times` answer with `kind`.
    pub fn trouble(&self, after: u32, kind: Trouble, times: u32) {
        self.state().trouble = (times > 0).then_some((after, kind, times));
    }

    /// No more trouble.
    pub fn calm(&self) {
        self.state().trouble = None;
    }

    /// Push channels opened from now on last at most this long.
    pub fn grant_channels_for(&self, lifetime: Duration) {
        self.state().channel_lifetime = Some(lifetime);
    }
}

/// What a page call may ask: the records to page over, already filtered by its lower bound.
struct Call {
    items: Vec<Item>,
}

/// Records the request, applies the failures asked for, checks the credential and returns the
/// stream's records; `Err` is the answer to send instead.
async fn begin(
    data: &Dataset,
    stream: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    credential: Option<String>,
) -> Result<Call, Response> {
    let delay = {
        let mut s = data.state();
        let keep = [
            "if-modified-since",
            "xero-tenant-id",
            "x-business",
            "square-version",
            "authorization",
            "x-shopify-access-token",
            "cookie",
            "x-forwarded-for",
            "stripe-version",
            "user-agent",
            "idempotency-key",
            // What must never reach a provider through the proxy (tests/integration/proxy_safety.rs).
            "cf-connecting-ip",
            "true-client-ip",
            "x-auth-request-access-token",
            "x-forwarded-host",
        ];
        s.seen.push(Seen {
            stream: stream.into(),
            query: query.clone(),
            headers: keep
                .iter()
                .filter_map(|k| Some((k.to_string(), headers.get(*k)?.to_str().ok()?.to_owned())))
                .collect(),
        });
        s.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = data.state();
    let mut now = None;
    if let Some((after, kind, times)) = s.trouble {
        s.trouble = match (after, times) {
            (0, 1) => None,
            (0, _) => Some((0, kind, times - 1)),
            _ => Some((after - 1, kind, times)),
        };
        if after == 0 {
            now = Some(kind);
        }
    }
    match now {
        Some(Trouble::RateLimited) => {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                Json(json!({"message": "Too many requests"})),
            )
                .into_response())
        }
        Some(Trouble::Failing) => {
            return Err(json_status(500, json!({"message": "Internal error"})))
        }
        _ => {}
    }
    let expired = now == Some(Trouble::Unauthorized);
    if expired || !credential.as_deref().is_some_and(|c| c.contains("good")) {
        return Err(json_status(
            401,
            json!({"error": {"message": "Expired or invalid token"}}),
        ));
    }
    if let Some(refusal) = credential.as_deref().and_then(|c| scope_refusal(stream, c)) {
        return Err(refusal);
    }
    Ok(Call {
        items: s.streams.get(stream).cloned().unwrap_or_default(),
    })
}

/// A token the fake authorization server issued without the scope `stream`'s list call needs
/// is refused as the provider refuses it (HubSpot, Square, Shopify, Google, by their docs).
/// Tokens pasted in tests (not issued by the fake) are not checked.
fn scope_refusal(stream: &str, token: &str) -> Option<Response> {
    let granted = super::oauth_server::granted(token)?;
    let needed = match stream {
        "hubspot/contacts" => "crm.objects.contacts.read",
        "hubspot/companies" => "crm.objects.companies.read",
        "hubspot/deals" => "crm.objects.deals.read",
        "square/payments" => "PAYMENTS_READ",
        "square/customers" => "CUSTOMERS_READ",
        "square/locations" => "MERCHANT_PROFILE_READ",
        "shopify/orders" => "read_orders",
        "shopify/products" => "read_products",
        "shopify/customers" => "read_customers",
        "google/files" | "google/changes" => "https://www.googleapis.com/auth/drive.readonly",
        _ => return None,
    };
    if granted.iter().any(|g| g == needed) {
        return None;
    }
    let provider = stream.split('/').next().unwrap_or_default();
    Some(match provider {
        "hubspot" => json_status(
            403,
            json!({"status": "error", "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.", "correlationId": "c0ffee", "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": [needed]}}], "links": {"scopes": "https://developers.hubspot.com/scopes"}, "category": "MISSING_SCOPES"}),
        ),
        "square" => json_status(
            403,
            json!({"errors": [{"category": "AUTHENTICATION_ERROR", "code": "INSUFFICIENT_SCOPES", "detail": format!("The merchant has not given your application sufficient permissions to do that. The application requires the following permissions: {needed}.")}]}),
        ),
        "shopify" => json_status(
            403,
            json!({"errors": format!("[API] This action requires merchant approval for {needed} scope.")}),
        ),
        _ => json_status(
            403,
            json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.", "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}], "status": "PERMISSION_DENIED"}}),
        ),
    })
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn since(items: Vec<Item>, lower: Option<i64>) -> Vec<Item> {
    match lower {
        Some(t) => items.into_iter().filter(|i| i.updated >= t).collect(),
        None => items,
    }
}

fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(text).map(|t| t.timestamp()))
        .ok()
}

fn number(q: &HashMap<String, String>, name: &str, default: usize) -> usize {
    q.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}
