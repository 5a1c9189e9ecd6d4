//! Provider data for syncs: a few hundred records per stream, kept in memory, served page by page
//! the way each provider documents its list calls (Stripe's `starting_after`, Shopify's `Link`
//! with `page_info`, Square's and HubSpot's cursors, Xero's pages and `If-Modified-Since`,
//! QuickBooks' query language, Sage's `$next`, WooCommerce's `X-WP-TotalPages`, Drive's
//! `nextPageToken`). Tests change and delete records between runs, make the next calls fail
//! (429 with `Retry-After`, 401, 500) or slow, and read back every request the fakes received.

use super::*;
use axum::extract::Extension;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

// ---- Stripe --------------------------------------------------------------------------------

pub async fn stripe(
    Extension(data): Extension<Arc<Dataset>>,
    Path(stream): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("stripe/{stream}");
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let (prefix, _) = stripe_kind(&stream);
    let limit = number(&q, "limit", 10).min(100);
    let mut items = call.items;
    if !items.is_sorted_by_key(|i| i.n) {
        items.sort_by_key(|i| i.n);
    }
    let start = match q.get("starting_after") {
        Some(after) => match after
            .strip_prefix(&format!("{prefix}_"))
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|n| items.binary_search_by_key(&n, |i| i.n).ok())
        {
            Some(p) => p + 1,
            None => {
                return json_status(
                    400,
                    json!({"error": {"type": "invalid_request_error", "message": "No such object"}}),
                )
            }
        },
        None => 0,
    };
    let page: Vec<Value> = items
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| stripe_object(&stream, i))
        .collect();
    json_status(
        200,
        json!({"object": "list", "url": format!("/v1/{stream}"), "has_more": start + page.len() < items.len(), "data": page}),
    )
}

fn stripe_kind(stream: &str) -> (&'static str, &'static str) {
    match stream {
        "customers" => ("cus", "customer"),
        "charges" => ("ch", "charge"),
        _ => ("in", "invoice"),
    }
}

fn stripe_object(stream: &str, i: &Item) -> Value {
    let (prefix, object) = stripe_kind(stream);
    json!({"id": format!("{prefix}_{:06}", i.n), "object": object, "email": format!("person{}@example.com", i.n),
        "name": format!("Person {} v{}", i.n, i.version), "amount": i.n * 100, "created": i.updated})
}

/// `GET /v1/events?created[gte]=&types[]=…&starting_after=`: every change to the Stripe streams,
/// newest first, each with the object's state then (`data.object`).
pub async fn stripe_events(
    Extension(data): Extension<Arc<Dataset>>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs: Vec<(String, String)> =
        reqwest::Url::parse(&format!("http://q/?{}", raw.unwrap_or_default()))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
    let types: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "types[]")
        .map(|(_, v)| v.clone())
        .collect();
    let mut q: HashMap<String, String> = pairs
        .iter()
        .filter(|(k, _)| k != "types[]")
        .cloned()
        .collect();
    q.insert("types[]".into(), types.join(","));
    if let Err(r) = begin(&data, "stripe/events", &q, &headers, bearer(&headers)).await {
        return r;
    }
    let gte: i64 = q
        .get("created[gte]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit = number(&q, "limit", 10).min(100);
    let mut events: Vec<Event> = data
        .state()
        .events
        .iter()
        .filter(|e| e.created >= gte)
        .filter(|e| {
            let Some(stream) = e.stream.strip_prefix("stripe/") else {
                return false;
            };
            types
                .iter()
                .any(|t| *t == format!("{}.{}", stripe_kind(stream).1, e.kind))
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.created, e.seq)));
    let start = match q.get("starting_after") {
        Some(after) => match events
            .iter()
            .position(|e| format!("evt_{:08}", e.seq) == *after)
        {
            Some(p) => p + 1,
            None => {
                return json_status(
                    400,
                    json!({"error": {"type": "invalid_request_error", "message": "No such event"}}),
                )
            }
        },
        None => 0,
    };
    let page: Vec<Value> = events
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| {
            let stream = e.stream.trim_start_matches("stripe/");
            json!({"id": format!("evt_{:08}", e.seq), "object": "event", "type": format!("{}.{}", stripe_kind(stream).1, e.kind),
                "created": e.created, "data": {"object": stripe_object(stream, &e.item)}})
        })
        .collect();
    json_status(
        200,
        json!({"object": "list", "url": "/v1/events", "has_more": start + page.len() < events.len(), "data": page}),
    )
}

// ---- Shopify -------------------------------------------------------------------------------

pub async fn shopify(
    Extension(data): Extension<Arc<Dataset>>,
    Path((shop, version, file)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let stream = file.trim_end_matches(".json").to_owned();
    let key = format!("shopify/{stream}");
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let call = match begin(&data, &key, &q, &headers, token).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let limit = number(&q, "limit", 50).min(250);
    // With page_info, only limit and fields may be sent (Shopify answers 400 otherwise).
    let (offset, lower) = match q.get("page_info") {
        Some(info) => {
            if q.keys()
                .any(|k| !["page_info", "limit", "fields"].contains(&k.as_str()))
            {
                return json_status(
                    400,
                    json!({"errors": "page_info cannot be combined with other parameters"}),
                );
            }
            let Some((offset, lower)) = info.split_once('.') else {
                return json_status(400, json!({"errors": "Invalid page_info"}));
            };
            (offset.parse().unwrap_or(0), lower.parse().ok())
        }
        None => (0, q.get("updated_at_min").and_then(|t| parse_time(t))),
    };
    let items = since(call.items, lower);
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| json!({"id": 450_000 + i.n, "email": format!("buyer{}@example.com", i.n), "total_price": format!("{}.50", i.n), "note": format!("v{}", i.version), "updated_at": rfc3339(i.updated).replace('Z', "-00:00")}))
        .collect();
    let mut response = json_status(200, json!({ stream.clone(): page }));
    if offset + limit < items.len() {
        let info = format!("{}.{}", offset + limit, lower.unwrap_or(0));
        let link = format!("<http://127.0.0.1/shopify/{shop}/admin/api/{version}/{file}?limit={limit}&page_info={info}>; rel=\"next\"");
        // The link names the shop's own host, as Shopify's does; the fake answers on its own.
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let link = link.replace("http://127.0.0.1", &format!("http://{host}"));
        if let Ok(value) = link.parse() {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

// ---- Square --------------------------------------------------------------------------------

pub async fn square(
    Extension(data): Extension<Arc<Dataset>>,
    Path(stream): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("square/{stream}");
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let limit = number(&q, "limit", 100).min(100);
    // Payments: `updated_at_begin_time` filters on the last change, `begin_time` on creation
    // (every fake record was created at the epoch); `sort_field=UPDATED_AT` orders by change.
    let mut items = since(
        call.items,
        q.get("updated_at_begin_time").and_then(|t| parse_time(t)),
    );
    if q.get("sort_field").map(String::as_str) != Some("UPDATED_AT") {
        items.sort_by_key(|i| i.n);
    }
    let Some(offset) = square_cursor(q.get("cursor").map(String::as_str)) else {
        return square_error("INVALID_CURSOR", "cursor");
    };
    square_page(&stream, &items, offset, limit)
}

/// A Square page of `items` from `offset`, with a `cursor` when more follow.
fn square_page(stream: &str, items: &[Item], offset: usize, limit: usize) -> Response {
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| json!({"id": format!("SQ{:05}", i.n), "amount_money": {"amount": i.n * 100, "currency": "GBP"}, "note": format!("v{}", i.version), "created_at": rfc3339(epoch()), "updated_at": rfc3339(i.updated)}))
        .collect();
    let mut body = json!({ stream: page });
    if offset + limit < items.len() {
        body["cursor"] = json!(format!("sq-{}", offset + limit));
    }
    json_status(200, body)
}

/// Where a cursor points; `None` for one Square never gave out.
fn square_cursor(cursor: Option<&str>) -> Option<usize> {
    match cursor {
        None => Some(0),
        Some(c) => c.strip_prefix("sq-").and_then(|c| c.parse().ok()),
    }
}

fn square_error(code: &str, field: &str) -> Response {
    json_status(
        400,
        json!({"errors": [{"category": "INVALID_REQUEST_ERROR", "code": code, "field": field}]}),
    )
}

/// `POST /v2/customers/search`: `query.filter.updated_at.start_at` (RFC 3339) for changes,
/// `query.sort` `DEFAULT` (by name: here, by number) or `CREATED_AT`, `limit` 1 to 100, `cursor`.
pub async fn square_search(
    Extension(data): Extension<Arc<Dataset>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let seen = HashMap::from([("search".to_owned(), body.to_string())]);
    let call = match begin(&data, "square/customers", &seen, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let limit = match body["limit"].as_u64().unwrap_or(100) {
        0 => return square_error("VALUE_TOO_LOW", "limit"),
        101.. => return square_error("VALUE_TOO_HIGH", "limit"),
        n => n as usize,
    };
    if !matches!(
        body["query"]["sort"]["field"].as_str(),
        None | Some("DEFAULT" | "CREATED_AT")
    ) {
        return square_error("INVALID_ENUM_VALUE", "query.sort.field");
    }
    let lower = match &body["query"]["filter"]["updated_at"]["start_at"] {
        Value::Null => None,
        at => match at.as_str().and_then(parse_time) {
            Some(t) => Some(t),
            None => return square_error("INVALID_TIME", "query.filter.updated_at.start_at"),
        },
    };
    let mut items = since(call.items, lower);
    items.sort_by_key(|i| i.n);
    let Some(offset) = square_cursor(body["cursor"].as_str()) else {
        return square_error("INVALID_CURSOR", "cursor");
    };
    square_page("customers", &items, offset, limit)
}

// ---- Xero ----------------------------------------------------------------------------------

pub async fn xero(
    Extension(data): Extension<Arc<Dataset>>,
    Path(entity): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("xero/{}", entity.to_lowercase());
    if headers.get("xero-tenant-id").is_none() {
        return json_status(
            403,
            json!({"Type": null, "Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"}),
        );
    }
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let lower = headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_time);
    let items = since(call.items, lower);
    let page_no = number(&q, "page", 1).max(1);
    let id_field = match entity.as_str() {
        "Invoices" => "InvoiceID",
        "Contacts" => "ContactID",
        _ => "AccountID",
    };
    let page: Vec<Value> = items
        .iter()
        .skip((page_no - 1) * 100)
        .take(100)
        .map(|i| json!({id_field: format!("00000000-0000-0000-0000-{:012}", i.n), "Name": format!("Item {} v{}", i.n, i.version), "Total": i.n as f64 + 0.5, "UpdatedDateUTC": format!("/Date({}000+0000)/", i.updated)}))
        .collect();
    json_status(
        200,
        json!({"Id": "request-1", "Status": "OK", entity.clone(): page}),
    )
}

// ---- QuickBooks ----------------------------------------------------------------------------

pub async fn quickbooks(
    Extension(data): Extension<Arc<Dataset>>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    // A company id is digits; QuickBooks answers anything else as an unknown company.
    if realm.is_empty() || !realm.bytes().all(|b| b.is_ascii_digit()) {
        return json_status(
            400,
            json!({"Fault": {"Error": [{"Message": "Invalid company id", "code": "2030"}], "type": "ValidationFault"}}),
        );
    }
    let query = q.get("query").cloned().unwrap_or_default();
    let words: Vec<&str> = query.split_whitespace().collect();
    let entity = words.get(3).copied().unwrap_or_default().to_owned();
    let key = format!("quickbooks/{}s", entity.to_lowercase());
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let after = |word: &str| {
        words
            .iter()
            .position(|w| w.eq_ignore_ascii_case(word))
            .and_then(|p| words.get(p + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let (Some(start), Some(max)) = (after("startposition"), after("maxresults")) else {
        return json_status(
            400,
            json!({"Fault": {"Error": [{"Message": "Invalid query", "code": "4000"}], "type": "ValidationFault"}}),
        );
    };
    // `… where Metadata.LastUpdatedTime >= '<ISO 8601>' startposition …`
    let lower = query
        .contains("Metadata.LastUpdatedTime >=")
        .then(|| query.split('\'').nth(1).and_then(parse_time))
        .flatten();
    let page: Vec<Value> = since(call.items, lower)
        .iter()
        .skip(start.saturating_sub(1))
        .take(max.min(1000))
        .map(|i| json!({"Id": i.n.to_string(), "TotalAmt": i.n, "PrivateNote": format!("v{}", i.version), "MetaData": {"CreateTime": rfc3339(epoch()), "LastUpdatedTime": rfc3339(i.updated)}}))
        .collect();
    let mut response = json!({"startPosition": start, "maxResults": page.len()});
    // The last (empty) page has no entity array at all.
    if !page.is_empty() {
        response[entity.as_str()] = json!(page);
    }
    json_status(
        200,
        json!({"QueryResponse": response, "time": rfc3339(epoch())}),
    )
}

// ---- Sage ----------------------------------------------------------------------------------

pub async fn sage(
    Extension(data): Extension<Arc<Dataset>>,
    Path(stream): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("sage/{stream}");
    if headers.get("x-business").is_none() {
        return json_status(
            400,
            json!([{"$severity": "error", "$dataCode": "RecordInvalid", "$message": "X-Business header is required"}]),
        );
    }
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let items = since(
        call.items,
        q.get("updated_or_created_since")
            .and_then(|t| parse_time(t)),
    );
    let per = number(&q, "items_per_page", 20).min(200);
    let page_no = number(&q, "page", 1).max(1);
    let page: Vec<Value> = items
        .iter()
        .skip((page_no - 1) * per)
        .take(per)
        .map(|i| json!({"id": format!("{:032x}", i.n), "displayed_as": format!("Item {} v{}", i.n, i.version), "updated_at": rfc3339(i.updated)}))
        .collect();
    let next = (page_no * per < items.len()).then(|| format!("/{stream}?page={}", page_no + 1));
    json_status(
        200,
        json!({"$total": items.len(), "$page": page_no, "$next": next, "$back": null, "$itemsPerPage": per, "$items": page}),
    )
}

// ---- WooCommerce ---------------------------------------------------------------------------

pub async fn woocommerce(
    Extension(data): Extension<Arc<Dataset>>,
    Path(stream): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    use base64::Engine;
    let key = format!("woocommerce/{stream}");
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|b| b.split_once(':').map(|(_, s)| s.to_owned()));
    let call = match begin(&data, &key, &q, &headers, secret).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let lower = q.get("modified_after").and_then(|t| parse_time(t));
    let items = since(call.items, lower);
    let per = number(&q, "per_page", 10).min(100);
    let page_no = number(&q, "page", 1).max(1);
    let page: Vec<Value> = items
        .iter()
        .skip((page_no - 1) * per)
        .take(per)
        .map(|i| json!({"id": i.n, "status": "processing", "total": format!("{}.00", i.n), "customer_note": format!("v{}", i.version), "date_modified_gmt": rfc3339(i.updated).trim_end_matches('Z')}))
        .collect();
    let pages = items.len().div_ceil(per.max(1)).max(1);
    let total = items.len().to_string();
    let pages = pages.to_string();
    let mut response = json_status(200, json!(page));
    if let (Ok(t), Ok(p)) = (total.parse(), pages.parse()) {
        response.headers_mut().insert("x-wp-total", t);
        response.headers_mut().insert("x-wp-totalpages", p);
    }
    response
}

// ---- HubSpot -------------------------------------------------------------------------------

pub async fn hubspot(
    Extension(data): Extension<Arc<Dataset>>,
    Path(object): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("hubspot/{object}");
    let call = match begin(&data, &key, &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let limit = number(&q, "limit", 10).min(100);
    let offset: usize = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = call
        .items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| json!({"id": i.n.to_string(), "properties": {"name": format!("Company {} v{}", i.n, i.version)}, "createdAt": rfc3339(epoch()), "updatedAt": rfc3339(i.updated), "archived": false}))
        .collect();
    let paging = (offset + limit < call.items.len())
        .then(|| json!({"next": {"after": (offset + limit).to_string(), "link": "…"}}));
    json_status(200, json!({"results": page, "paging": paging}))
}

/// `POST /crm/v3/objects/{object}/search`: what changed since a time (`GTE` on the last-modified
/// property, in milliseconds), sorted ascending, paged by `after`; at most 10,000 results a filter.
pub async fn hubspot_search(
    Extension(data): Extension<Arc<Dataset>>,
    Path(object): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = format!("hubspot/{object}");
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let seen = HashMap::from([("search".to_owned(), body.to_string())]);
    let call = match begin(&data, &key, &seen, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let filter = &body["filterGroups"][0]["filters"][0];
    let ascending = body["sorts"][0]["direction"] == "ASCENDING";
    let Some(lower_ms) = filter["value"].as_str().and_then(|v| v.parse::<i64>().ok()) else {
        return json_status(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR", "message": "filter value must be a timestamp"}),
        );
    };
    if filter["operator"] != "GTE" || !ascending {
        return json_status(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR"}),
        );
    }
    let after: usize = body["after"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    if after >= 10_000 {
        return json_status(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR", "message": "after must be below 10000"}),
        );
    }
    let limit = body["limit"].as_u64().unwrap_or(10).min(200) as usize;
    let mut items = since(call.items, Some(lower_ms.div_euclid(1000)));
    items.sort_by_key(|i| (i.updated, i.n));
    let results: Vec<Value> = items
        .iter()
        .skip(after)
        .take(limit)
        .map(|i| json!({"id": i.n.to_string(), "properties": {"name": format!("Company {} v{}", i.n, i.version)}, "createdAt": rfc3339(epoch()), "updatedAt": rfc3339(i.updated), "archived": false}))
        .collect();
    let paging = (after + limit < items.len())
        .then(|| json!({"next": {"after": (after + limit).to_string()}}));
    json_status(
        200,
        json!({"total": items.len(), "results": results, "paging": paging}),
    )
}

// ---- Google Drive --------------------------------------------------------------------------

pub async fn google_files(
    Extension(data): Extension<Arc<Dataset>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let call = match begin(&data, "google/files", &q, &headers, bearer(&headers)).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let size = number(&q, "pageSize", 100).min(1000);
    let offset: usize = q
        .get("pageToken")
        .and_then(|t| t.strip_prefix("tok"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let files: Vec<Value> = call
        .items
        .iter()
        .skip(offset)
        .take(size)
        .map(drive_file)
        .collect();
    let mut body = json!({"files": files});
    if offset + size < call.items.len() {
        body["nextPageToken"] = json!(format!("tok{}", offset + size));
    }
    json_status(200, body)
}

/// `GET /drive/v3/changes/startPageToken`: where the changes from now on start.
pub async fn google_start_token(
    Extension(data): Extension<Arc<Dataset>>,
    headers: HeaderMap,
) -> Response {
    let q = HashMap::from([("start".to_owned(), String::new())]);
    if let Err(r) = begin(&data, "google/changes", &q, &headers, bearer(&headers)).await {
        return r;
    }
    let next = data.state().events.len() + 1;
    json_status(
        200,
        json!({"kind": "drive#startPageToken", "startPageToken": next.to_string()}),
    )
}

/// `POST /drive/v3/changes/watch?pageToken=`: opens a push channel (`id`, `type: web_hook`,
/// `address`, `token`, `expiration` in the body) and answers it as Drive does.
pub async fn google_watch(
    Extension(data): Extension<Arc<Dataset>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let channel: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut seen = q.clone();
    seen.insert("watch".into(), channel.to_string());
    if let Err(r) = begin(&data, "google/changes", &seen, &headers, bearer(&headers)).await {
        return r;
    }
    let complete = ["id", "address", "token"]
        .iter()
        .all(|k| channel[k].as_str().is_some_and(|v| !v.is_empty()));
    if !complete || channel["type"] != "web_hook" || !q.contains_key("pageToken") {
        return json_status(
            400,
            json!({"error": {"code": 400, "message": "Invalid Value", "status": "INVALID_ARGUMENT"}}),
        );
    }
    // Drive grants what was asked, up to its limit (a week for changes), as int64 in a string.
    let longest = data
        .state()
        .channel_lifetime
        .unwrap_or(Duration::from_secs(604_800));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let limit = now_ms + longest.as_millis() as i64;
    let asked = channel["expiration"]
        .as_str()
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(limit);
    json_status(
        200,
        json!({"kind": "api#channel", "id": channel["id"], "resourceId": "res-1",
            "resourceUri": "https://www.googleapis.com/drive/v3/changes", "token": channel["token"],
            "expiration": asked.min(limit).to_string()}),
    )
}

/// `GET /drive/v3/changes?pageToken=`: the changes from that position, `pageSize` at a time,
/// then `newStartPageToken` on the last page. A file removed for good is `removed: true` without
/// its `file`.
pub async fn google_changes(
    Extension(data): Extension<Arc<Dataset>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = begin(&data, "google/changes", &q, &headers, bearer(&headers)).await {
        return r;
    }
    let Some(from) = q.get("pageToken").and_then(|t| t.parse::<u64>().ok()) else {
        return json_status(
            400,
            json!({"error": {"code": 400, "message": "Invalid Value", "errors": [{"reason": "invalid", "location": "pageToken"}]}}),
        );
    };
    let size = number(&q, "pageSize", 100).clamp(1, 1000);
    let s = data.state();
    let events: Vec<&Event> = s
        .events
        .iter()
        .filter(|e| e.seq >= from && e.stream == "google/files")
        .collect();
    let changes: Vec<Value> = events
        .iter()
        .take(size)
        .map(|e| {
            let id = format!("file{:05}", e.item.n);
            if e.kind == "removed" {
                json!({"kind": "drive#change", "changeType": "file", "removed": true, "fileId": id, "time": rfc3339(e.created)})
            } else {
                json!({"kind": "drive#change", "changeType": "file", "removed": false, "fileId": id, "time": rfc3339(e.created), "file": drive_file(&e.item)})
            }
        })
        .collect();
    let mut body = json!({"kind": "drive#changeList", "changes": changes});
    match events.get(size) {
        Some(next) => body["nextPageToken"] = json!(next.seq.to_string()),
        None => body["newStartPageToken"] = json!((s.events.len() + 1).to_string()),
    }
    json_status(200, body)
}

fn drive_file(i: &Item) -> Value {
    json!({"id": format!("file{:05}", i.n), "name": format!("Report {} v{}.csv", i.n, i.version), "mimeType": "text/csv", "modifiedTime": rfc3339(i.updated).replace('Z', ".000Z"), "size": (i.n * 10).to_string(), "trashed": i.deleted})
}

// ---- Any REST API --------------------------------------------------------------------------

/// `/restdata/items`: a JSON API with records under `/data`, paging by `page`, by `cursor` (the
/// next one at `/next_cursor`) and by `Link`, all at once, and `updated_since` for changes.
/// Each record echoes the key sent in the query string, as APIs that echo their URL do (the hub
/// must take it out of the data).
pub async fn rest_items(
    Extension(data): Extension<Arc<Dataset>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let credential = bearer(&headers).or_else(|| q.get("api_key").cloned());
    let call = match begin(&data, "rest/items", &q, &headers, credential).await {
        Ok(call) => call,
        Err(r) => return r,
    };
    let items = since(
        call.items,
        q.get("updated_since").and_then(|t| parse_time(t)),
    );
    let per = 25;
    let offset = match (q.get("page"), q.get("cursor")) {
        (Some(p), _) => (p.parse::<usize>().unwrap_or(1).max(1) - 1) * per,
        (None, Some(c)) => c.parse().unwrap_or(0),
        _ => 0,
    };
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(per)
        .map(|i| json!({"id": i.n, "name": format!("Thing {} v{}", i.n, i.version), "updated_at": rfc3339(i.updated), "self": format!("/restdata/items?api_key={}", q.get("api_key").map(String::as_str).unwrap_or_default())}))
        .collect();
    let more = offset + per < items.len();
    let mut response = json_status(
        200,
        json!({"data": page, "next_cursor": more.then(|| (offset + per).to_string())}),
    );
    if more {
        let link = format!("</restdata/items?cursor={}>; rel=\"next\"", offset + per);
        if let Ok(value) = link.parse() {
            response.headers_mut().insert("link", value);
        }
    }
    response
}
