//! The list calls of accounting (Xero, QuickBooks, Sage), CRM (HubSpot, and its searches) and
//! file (Google Drive: files, changes, push channels) providers, and of any REST API, each paged
//! as it documents.

use super::*;

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
