//! Data flows against the fake providers: every connector type reads a few hundred records over
//! several pages as its provider documents (asserted on the requests the fakes received), later
//! runs read only what changed where the provider allows it, deletions are noticed, and the
//! records API hands out exactly the changes since a saved cursor. The helpers here are shared;
//! the runs themselves (one at a time, trouble mid-run, records' scope) are in `sync_runs`.

use crate::support::fakes::data::Seen;
use crate::support::{spawn_app_with, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

pub const SYNC_ENV: &[(&str, &str)] = &[
    ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8,::1/128"),
    ("CONNECTOR_HUB_SYNC_BACKOFF_MS", "20"),
    ("CONNECTOR_HUB_SYNC_POLL_MS", "100"),
];

/// Asks for a sync and waits for the run to end; returns the run.
pub async fn sync(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    let response = app
        .post(&format!("/v1/connectors/{id}/sync"), token, &body)
        .await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let queued: Value = response.json().await.expect("json");
    assert_eq!(queued["status"], "queued");
    let run_id = queued["run_id"].as_str().expect("run id").to_owned();
    wait_run(app, token, id, &run_id).await
}

pub async fn wait_run(app: &TestApp, token: &str, id: &str, run_id: &str) -> Value {
    for _ in 0..600 {
        let run: Value = app
            .get(&format!("/v1/connectors/{id}/syncs/{run_id}"), token)
            .await
            .json()
            .await
            .expect("json");
        if run["status"] == "succeeded" || run["status"] == "failed" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run_id} did not finish");
}

/// Every record of a stream from `cursor` on, page by page; returns them and the last cursor.
pub async fn records_since(
    app: &TestApp,
    token: &str,
    id: &str,
    stream: &str,
    cursor: Option<&str>,
) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let mut path = format!("/v1/connectors/{id}/records?stream={stream}&limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let response = app.get(&path, token).await;
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let page: Value = response.json().await.expect("json");
        let records = page["records"].as_array().cloned().unwrap_or_default();
        all.extend(records);
        cursor = Some(
            page["next_cursor"]
                .as_str()
                .expect("next_cursor on every page")
                .to_owned(),
        );
        if page["has_more"] != true {
            return (all, cursor.unwrap_or_default());
        }
    }
}

pub(crate) fn live_ids(records: &[Value]) -> HashSet<String> {
    records
        .iter()
        .filter(|r| r["deleted"] == false)
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

struct Case {
    connector_type: &'static str,
    config: Value,
    /// The fakes' dataset key and the hub's stream name.
    data: &'static str,
    stream: &'static str,
    /// What every first-run request must carry, and the pages it takes.
    first: fn(&[Seen]),
    /// What the requests of a later run carry (the incremental lower bound, where there is one).
    later: fn(&[Seen]),
    incremental: bool,
    /// Later runs hear of deletions (an event log, Drive's trash) without reading everything.
    reports_deletions: bool,
}

fn q<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.query.get(name).map(String::as_str)
}

fn cases(app: &TestApp) -> Vec<Case> {
    vec![
        Case {
            connector_type: "stripe",
            config: json!({"api_key": "sk_test_good123456"}),
            data: "stripe/customers",
            stream: "customers",
            first: |seen| {
                assert_eq!(seen.len(), 3, "300 customers at 100 a page");
                assert!(seen.iter().all(|s| q(s, "limit") == Some("100")));
                assert_eq!(q(&seen[0], "starting_after"), None);
                assert_eq!(q(&seen[1], "starting_after"), Some("cus_000100"));
                assert_eq!(q(&seen[2], "starting_after"), Some("cus_000200"));
            },
            later: |seen| {
                // The event log, not the list: what changed since the cursor, newest first.
                assert!(seen.iter().all(|s| s.stream == "stripe/events"), "{seen:?}");
                assert!(
                    q(&seen[0], "created[gte]").is_some_and(|t| t.parse::<i64>().is_ok()),
                    "{seen:?}"
                );
                assert_eq!(
                    q(&seen[0], "types[]"),
                    Some("customer.created,customer.updated,customer.deleted")
                );
            },
            incremental: true,
            reports_deletions: true,
        },
        Case {
            connector_type: "shopify",
            config: json!({"shop_domain": "good-shop.myshopify.com", "access_token": "shpat_good12345678"}),
            data: "shopify/orders",
            stream: "orders",
            first: |seen| {
                assert_eq!(seen.len(), 2, "300 orders at 250 a page");
                assert_eq!(q(&seen[0], "status"), Some("any"));
                assert_eq!(q(&seen[0], "limit"), Some("250"));
                // Following the Link: page_info with only limit beside it (the fake answers 400
                // to anything else, as Shopify does).
                assert!(q(&seen[1], "page_info").is_some());
                assert_eq!(seen[1].query.len(), 2, "{seen:?}");
            },
            later: |seen| assert!(q(&seen[0], "updated_at_min").is_some(), "{seen:?}"),
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "square",
            config: json!({"access_token": "EAAAgood1234567890abcdef", "environment": "production"}),
            data: "square/payments",
            stream: "payments",
            first: |seen| {
                assert_eq!(seen.len(), 3);
                assert_eq!(q(&seen[0], "sort_order"), Some("ASC"));
                assert_eq!(q(&seen[0], "sort_field"), Some("UPDATED_AT"));
                assert_eq!(q(&seen[0], "updated_at_begin_time"), None);
                assert_eq!(q(&seen[1], "cursor"), Some("sq-100"));
                assert!(seen
                    .iter()
                    .all(|s| s.headers.contains_key("square-version")));
            },
            later: |seen| {
                // Changed since the cursor, less a minute for Square's eventual consistency:
                // the fakes' 300 records changed a second apart, so the last 60 come again.
                assert_eq!(seen.len(), 1, "{seen:?}");
                let begin = q(&seen[0], "updated_at_begin_time").expect("lower bound");
                assert!(
                    chrono::DateTime::parse_from_rfc3339(begin).is_ok(),
                    "{begin}"
                );
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "square",
            config: json!({"access_token": "EAAAgood1234567890abcdef", "environment": "production"}),
            data: "square/customers",
            stream: "customers",
            first: |seen| {
                assert_eq!(seen.len(), 3, "the list, 100 a page");
                assert!(seen.iter().all(|s| q(s, "search").is_none()));
            },
            later: |seen| {
                // The customer search, filtered on the last change (the fake refuses a bad
                // body as Square does), from five minutes before the cursor: the fakes'
                // customers changed a second apart, so most come again, unchanged, over
                // several pages, with the new and changed ones.
                assert!(seen.len() > 1, "{seen:?}");
                assert!(seen.iter().all(|s| q(s, "search").is_some()), "{seen:?}");
                let search: Value = serde_json::from_str(q(&seen[0], "search").unwrap_or("null"))
                    .unwrap_or_default();
                assert_eq!(search["limit"], 100, "{search}");
                let start = search["query"]["filter"]["updated_at"]["start_at"]
                    .as_str()
                    .unwrap_or_default();
                assert!(
                    chrono::DateTime::parse_from_rfc3339(start).is_ok(),
                    "{search}"
                );
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "xero",
            config: json!({"access_token": "xero-good-token-123", "tenant_id": "org-42"}),
            data: "xero/invoices",
            stream: "invoices",
            first: |seen| {
                assert_eq!(seen.len(), 4, "pages 1–3 of 100, then the empty page 4");
                assert_eq!(q(&seen[3], "page"), Some("4"));
                assert!(
                    seen.iter()
                        .all(|s| s.headers.get("xero-tenant-id").map(String::as_str)
                            == Some("org-42"))
                );
                assert!(seen
                    .iter()
                    .all(|s| !s.headers.contains_key("if-modified-since")));
            },
            later: |seen| {
                assert!(
                    seen[0]
                        .headers
                        .get("if-modified-since")
                        .is_some_and(|v| v.ends_with("GMT")),
                    "{seen:?}"
                )
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "quickbooks",
            config: json!({"access_token": "qb-good-token-123", "realm_id": "9130355478302457"}),
            data: "quickbooks/invoices",
            stream: "invoices",
            first: |seen| {
                assert_eq!(seen.len(), 1, "300 invoices fit in one page of 1000");
                assert_eq!(
                    q(&seen[0], "query"),
                    Some("select * from Invoice startposition 1 maxresults 1000")
                );
                assert_eq!(q(&seen[0], "minorversion"), Some("75"));
            },
            later: |seen| {
                let query = q(&seen[0], "query").unwrap_or_default();
                assert!(
                    query
                        .starts_with("select * from Invoice where Metadata.LastUpdatedTime >= '20"),
                    "{query}"
                );
                assert!(
                    query.ends_with(" startposition 1 maxresults 1000"),
                    "{query}"
                );
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "sage",
            config: json!({"access_token": "sage-good-token-123", "business_id": "biz-1"}),
            data: "sage/contacts",
            stream: "contacts",
            first: |seen| {
                assert_eq!(seen.len(), 2, "200 a page");
                assert_eq!(q(&seen[1], "page"), Some("2"));
                assert_eq!(q(&seen[0], "items_per_page"), Some("200"));
                assert!(seen
                    .iter()
                    .all(|s| s.headers.get("x-business").map(String::as_str) == Some("biz-1")));
            },
            later: |seen| {
                assert!(
                    q(&seen[0], "updated_or_created_since").is_some(),
                    "{seen:?}"
                )
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "woocommerce",
            config: json!({"store_url": format!("{}/woo", app.fakes), "consumer_key": "ck_good12345", "consumer_secret": "cs_good12345"}),
            data: "woocommerce/orders",
            stream: "orders",
            first: |seen| {
                assert_eq!(
                    seen.len(),
                    4,
                    "three full pages of 100, then the empty page 4"
                );
                assert!(seen
                    .iter()
                    .all(|s| q(s, "orderby") == Some("modified") && q(s, "order") == Some("asc")));
                assert!(seen.iter().all(|s| q(s, "per_page") == Some("100")));
                assert_eq!(q(&seen[3], "page"), Some("4"));
            },
            later: |seen| assert!(q(&seen[0], "modified_after").is_some(), "{seen:?}"),
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "hubspot",
            config: json!({"access_token": "hubspot-good-token"}),
            data: "hubspot/companies",
            stream: "companies",
            first: |seen| {
                assert_eq!(seen.len(), 3);
                assert_eq!(q(&seen[1], "after"), Some("100"));
            },
            later: |seen| {
                // The CRM search: changed since the cursor, oldest first (the fake refuses
                // anything else).
                let search: Value = serde_json::from_str(q(&seen[0], "search").unwrap_or("null"))
                    .unwrap_or_default();
                let filter = &search["filterGroups"][0]["filters"][0];
                assert_eq!(filter["propertyName"], "hs_lastmodifieddate", "{search}");
                assert!(
                    filter["value"]
                        .as_str()
                        .is_some_and(|v| v.parse::<i64>().is_ok()),
                    "{search}"
                );
            },
            incremental: true,
            reports_deletions: false,
        },
        Case {
            connector_type: "google_drive",
            config: json!({"access_token": "ya29.good-token"}),
            data: "google/files",
            stream: "files",
            first: |seen| {
                // The changes' start position first, then the files, 1000 a page.
                assert_eq!(seen.len(), 2, "{seen:?}");
                assert_eq!(seen[0].stream, "google/changes");
                assert!(q(&seen[1], "fields").is_some_and(|f| f.contains("nextPageToken")));
            },
            later: |seen| {
                // The changes since that position, not the files again.
                assert!(
                    seen.iter().all(|s| s.stream == "google/changes"),
                    "{seen:?}"
                );
                assert_eq!(seen.len(), 1, "{seen:?}");
                assert!(
                    q(&seen[0], "pageToken").is_some_and(|t| t.parse::<u64>().is_ok()),
                    "{seen:?}"
                );
                assert!(q(&seen[0], "fields").is_some_and(|f| f.contains("newStartPageToken")));
            },
            incremental: true,
            reports_deletions: true,
        },
        Case {
            connector_type: "rest_api",
            config: json!({"base_url": app.fakes.clone(), "auth_type": "bearer", "api_key": "rest-good-key",
                "records_path": "/restdata/items", "records_pointer": "/data", "paging": "link_header",
                "updated_field": "/updated_at", "since_param": "updated_since"}),
            data: "rest/items",
            stream: "records",
            first: |seen| {
                assert_eq!(seen.len(), 12, "25 a page, by Link");
                assert_eq!(q(&seen[1], "cursor"), Some("25"));
            },
            later: |seen| assert!(q(&seen[0], "updated_since").is_some(), "{seen:?}"),
            incremental: true,
            reports_deletions: false,
        },
    ]
}

#[tokio::test]
async fn every_connector_type_syncs_pages_changes_and_deletions() {
    let app = spawn_app_with(SYNC_ENV).await;
    let t = app.token("acme", "alice");
    for case in cases(&app) {
        let label = case.connector_type;
        app.data.seed(case.data, 300);
        let id = app
            .create(&t, json!({"connector_type": case.connector_type, "config": case.config, "sync_frequency": "manual"}))
            .await;
        app.data.take_requests();

        // First run: everything, page by page.
        let run = sync(&app, &t, &id, json!({"streams": [case.stream]})).await;
        assert_eq!(run["status"], "succeeded", "{label}: {run}");
        assert_eq!(run["streams"][case.stream]["added"], 300, "{label}: {run}");
        (case.first)(&app.data.take_requests());
        let (records, cursor) = crate::sync::records_since(&app, &t, &id, case.stream, None).await;
        assert_eq!(records.len(), 300, "{label}: every record once");
        assert_eq!(live_ids(&records).len(), 300, "{label}: 300 distinct ids");

        // Between runs: three changed, two deleted (Drive: trashed), one new.
        app.data.change(case.data, &[3, 150, 300]);
        app.data.delete(case.data, &[7, 8]);
        app.data.seed(case.data, 1);
        let full = !case.incremental;
        let run = sync(&app, &t, &id, json!({"streams": [case.stream]})).await;
        assert_eq!(run["status"], "succeeded", "{label}: {run}");
        let counts = &run["streams"][case.stream];
        assert_eq!(counts["added"], 1, "{label}: {run}");
        assert_eq!(counts["updated"], 3, "{label}: {run}");
        // Deletions show in a full read (and in Drive's trash); incremental reads see them at the
        // next full refresh.
        let sees_deletions = full || case.reports_deletions;
        assert_eq!(
            counts["deleted"],
            if sees_deletions { 2 } else { 0 },
            "{label}: {run}"
        );
        (case.later)(&app.data.take_requests());

        // The records API from the saved cursor: exactly the changes, each once, newest state.
        let (changes, _) =
            crate::sync::records_since(&app, &t, &id, case.stream, Some(&cursor)).await;
        let expected = if sees_deletions { 6 } else { 4 };
        assert_eq!(changes.len(), expected, "{label}: {changes:?}");
        let ids: HashSet<&str> = changes.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids.len(), changes.len(), "{label}: each change once");
        assert!(
            changes.iter().filter(|r| r["deleted"] == false).all(|r| {
                let text = r["data"].to_string();
                text.contains("v2") || text.contains("301")
            }),
            "{label}: changed records in their new state: {changes:?}"
        );

        if case.incremental {
            // A full refresh notices the deletions an incremental read cannot.
            let run = sync(
                &app,
                &t,
                &id,
                json!({"streams": [case.stream], "full_refresh": true}),
            )
            .await;
            let found = if case.reports_deletions { 0 } else { 2 };
            assert_eq!(
                run["streams"][case.stream]["deleted"], found,
                "{label}: {run}"
            );
            assert_eq!(
                run["streams"][case.stream]["updated"], 0,
                "{label}: unchanged records are not changes: {run}"
            );
        }
        let streams: Value = app
            .get(&format!("/v1/connectors/{id}/streams"), &t)
            .await
            .json()
            .await
            .expect("json");
        let stream = streams["streams"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == case.stream))
            .cloned()
            .expect("stream listed");
        assert_eq!(stream["record_count"], 299, "{label}: {streams}");
        assert!(stream["last_synced_at"].is_string(), "{label}");
        let view: Value = app
            .get(&format!("/v1/connectors/{id}"), &t)
            .await
            .json()
            .await
            .expect("json");
        assert!(view["last_sync_at"].is_string(), "{label}: {view}");
    }
}
