//! The list calls of payment and shop providers: Stripe (and its events), Shopify, Square (and
//! its searches) and WooCommerce, each paged as it documents.

use super::*;

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
