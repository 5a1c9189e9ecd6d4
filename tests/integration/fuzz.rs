//! Property tests over every REST endpoint and server function: random and malformed JSON, wrong
//! types, huge strings, odd unicode, path traversal in ids. Only 2xx and 4xx with the error shape
//! may come back — never a 5xx, never a panic.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: crate::support::TestApp,
    token: String,
    cookie: String,
    id: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime.block_on(crate::support::spawn_app());
        let token = app.token("fuzz", "fuzzer");
        let id = runtime.block_on(app.create(
            &token,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242"}}),
        ));
        let cookie = format!("ch_session={token}");
        Fixture {
            runtime,
            app,
            token,
            cookie,
            id,
        }
    })
}

/// Sends a request and checks the answer: below 500, and a 4xx carries `{"error": {"code", "message"}}`.
fn check(
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), TestCaseError> {
    let f = fixture();
    let (status, text) = f.runtime.block_on(async {
        let url = format!("{}{}", f.app.base, path);
        let response = f
            .app
            .http
            .request(method.clone(), &url)
            .bearer_auth(&f.token)
            .header("content-type", content_type)
            .header("cookie", &f.cookie)
            .header("origin", &f.app.base)
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    });
    prop_assert!(status < 500, "{method} {path} → {status}: {text}");
    if (400..500).contains(&status) && status != 405 {
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{status} not JSON ({e}): {text}")))?;
        // REST wraps the error; a server function's body is the error itself (what its client decodes).
        let error = if path.starts_with("/api/") {
            &v
        } else {
            &v["error"]
        };
        prop_assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{method} {path} → {status}: {text}"
        );
    }
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        "[\\PC]{0,20}".prop_map(Value::String),
        (0usize..20_000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn connector_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "stripe",
            "shopify",
            "square",
            "xero",
            "quickbooks",
            "sage",
            "woocommerce",
            "hubspot",
            "google_drive",
            "rest_api",
            "postgresql"
        ])
        .prop_map(|s| json!(s)),
        json_value(),
    ]
}

fn config() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        prop::sample::select(vec![
            "api_key",
            "access_token",
            "shop_domain",
            "host",
            "port",
            "password",
            "base_url",
            "auth_type",
            "sslmode",
            "realm_id"
        ])
        .prop_map(str::to_owned),
        ".{0,16}",
    ];
    prop::collection::btree_map(keys, json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn odd_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "conn-[0-9a-f]{20}",
        "\\.\\./[a-z./]{0,20}",
        "[\\PC]{1,30}",
        ".{1,300}",
        Just("%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned()),
        Just("conn-%00".to_owned()),
    ]
    .prop_map(|s| {
        s.chars()
            .map(|c| {
                if c == '/' || c == '?' || c == '#' {
                    '_'
                } else {
                    c
                }
            })
            .collect::<String>()
    })
    .prop_map(|s| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~%".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn create_and_test_accept_any_json(body in prop_oneof![
        (connector_type(), json_value(), config(), json_value()).prop_map(|(t, name, config, freq)| json!({
            "connector_type": t, "display_name": name, "config": config, "sync_frequency": freq})),
        json_value(),
    ]) {
        let bytes = serde_json::to_vec(&body).expect("serializes");
        // Larger bodies get 413 before they are read (tested in tests/api.rs).
        prop_assume!(bytes.len() < 60_000);
        check(reqwest::Method::POST, "/v1/connectors", bytes.clone(), "application/json")?;
        check(reqwest::Method::POST, "/v1/connectors/test", bytes, "application/json")?;
    }

    #[test]
    fn any_bytes_are_refused_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(reqwest::Method::POST, "/v1/connectors", bytes.clone(), "application/json")?;
        let path = format!("/v1/connectors/{}", fixture().id);
        check(reqwest::Method::PATCH, &path, bytes, "application/json")?;
    }

    #[test]
    fn updates_accept_any_json(body in (json_value(), json_value(), prop::option::of(config())).prop_map(|(n, f, c)| {
        let mut v = json!({"display_name": n, "sync_frequency": f});
        if let Some(c) = c { v["config"] = c; }
        v
    })) {
        let path = format!("/v1/connectors/{}", fixture().id);
        let bytes = serde_json::to_vec(&body).expect("json");
        prop_assume!(bytes.len() < 60_000);
        check(reqwest::Method::PATCH, &path, bytes, "application/json")?;
    }

    #[test]
    fn odd_ids_are_not_found_or_bad_requests(id in odd_id()) {
        for (method, suffix) in [(reqwest::Method::GET, ""), (reqwest::Method::DELETE, ""), (reqwest::Method::POST, "/test"), (reqwest::Method::PATCH, "")] {
            check(method, &format!("/v1/connectors/{id}{suffix}"), b"{}".to_vec(), "application/json")?;
        }
        check(reqwest::Method::GET, &format!("/v1/connectors?status={id}&limit={id}&cursor={id}"), Vec::new(), "application/json")?;
        check(reqwest::Method::GET, &format!("/v1/audit?connector_id={id}&before={id}"), Vec::new(), "application/json")?;
        for suffix in ["/streams", "/syncs", "/preview", "/records?stream=customers"] {
            check(reqwest::Method::GET, &format!("/v1/connectors/{id}{suffix}"), Vec::new(), "application/json")?;
        }
        check(reqwest::Method::POST, &format!("/v1/connectors/{id}/sync"), Vec::new(), "application/json")?;
        let known = fixture().id.clone();
        check(reqwest::Method::GET, &format!("/v1/connectors/{known}/syncs/{id}"), Vec::new(), "application/json")?;
        check(reqwest::Method::GET, &format!("/v1/connectors/{known}/records?stream={id}&limit={id}&cursor={id}"), Vec::new(), "application/json")?;
        check(reqwest::Method::GET, &format!("/v1/connectors/{known}/preview?stream={id}"), Vec::new(), "application/json")?;
    }

    #[test]
    fn sync_and_preview_bodies_accept_any_json(body in prop_oneof![
        (json_value(), json_value()).prop_map(|(streams, full)| json!({"streams": streams, "full_refresh": full})),
        (connector_type(), config(), json_value()).prop_map(|(t, config, stream)| json!({"connector_type": t, "config": config, "stream": stream})),
        json_value(),
    ]) {
        let bytes = serde_json::to_vec(&body).expect("serializes");
        prop_assume!(bytes.len() < 60_000);
        check(reqwest::Method::POST, &format!("/v1/connectors/{}/sync", fixture().id), bytes.clone(), "application/json")?;
        check(reqwest::Method::POST, "/v1/connectors/preview", bytes, "application/json")?;
    }

    #[test]
    fn server_functions_accept_any_form(
        endpoint in prop::sample::select(vec!["list_sources", "test_source", "update_source", "delete_source", "clear_source_error",
            "wizard_view", "wizard_step", "list_audit", "catalog_entries", "current_session",
            "source_data", "source_preview", "sync_source", "save_data_settings", "source_tables"]),
        pairs in prop::collection::vec((prop::sample::select(vec!["connector_id", "connector_type", "draft", "replace", "action", "value",
            "display_name", "sync_frequency", "status", "before", "outcome", "stream", "cursor", "full_refresh",
            "paging", "records_path", "since_param"]).prop_map(str::to_owned), ".{0,60}"), 0..6),
    ) {
        let body = pairs.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        check(reqwest::Method::POST, &format!("/api/{endpoint}"), body.into_bytes(), "application/x-www-form-urlencoded")?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The OAuth2 endpoints take whatever a provider, or anyone, sends them: a redirect or a clear
    /// 4xx, never a 5xx.
    #[test]
    fn oauth_endpoints_take_any_input(
        state in prop_oneof![".{0,80}", "(xero|google_drive|nope)\\.[0-9a-f]{32}\\.[A-Za-z0-9_-]{0,43}"],
        code in ".{0,60}",
        error in prop_oneof![Just(String::new()), Just("access_denied".to_owned()), ".{0,30}"],
        connector_type in prop_oneof![Just("xero".to_owned()), Just("stripe".to_owned()), ".{0,20}"],
        draft in prop_oneof![Just(String::new()), "[0-9a-f]{32}", ".{0,40}"],
    ) {
        let mut query = format!("state={}&code={}", urlencode(&state), urlencode(&code));
        if !error.is_empty() {
            query.push_str(&format!("&error={}", urlencode(&error)));
        }
        for path in ["/oauth/callback", "/oauth/finish"] {
            check(reqwest::Method::GET, &format!("{path}?{query}"), Vec::new(), "text/html")?;
        }
        let form = format!("connector_type={}&draft={}", urlencode(&connector_type), urlencode(&draft));
        check(reqwest::Method::POST, "/oauth/start", form.into_bytes(), "application/x-www-form-urlencoded")?;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
