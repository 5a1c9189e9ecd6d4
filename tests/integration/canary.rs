//! A credential never appears anywhere it could leak: REST responses, SSR HTML and hydration
//! data, server-function responses, MCP tool results, the server's logs, or the database files
//! in plaintext.
//! Proven with canary secrets, through the real binary.

use crate::support::canary::{env, mcp_tool, text, Collector};
use crate::support::process::{spawn_server, ServerProcess};
use crate::support::raw;
use crate::support::store::on_mongo;
use serde_json::{json, Value};

const CANARY: &str = "CANARYq7Zx9";

#[tokio::test]
async fn canary_secrets_never_leak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = std::sync::Arc::new(crate::support::fakes::data::Dataset::default());
    data.seed("stripe/customers", 12);
    data.seed("rest/items", 30);
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start_with("127.0.0.1:0".parse().expect("addr"), data)
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let log = dir.path().join("server.log");
    let server: ServerProcess =
        spawn_server(&env(&fakes, &dir.path().join("data"), &key), &log).await;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let token = crate::support::process::token("canary-tenant", "ana@acme.test");
    let mut out = Collector { seen: Vec::new() };

    // Events go to an endpoint the tenant chose: a server that keeps everything it is sent.
    let events_to = crate::support::attacker::Attacker::start().await;
    let r = http
        .post(format!("{base}/v1/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("{}/hooks", events_to.base)}))
        .send()
        .await
        .expect("endpoint");
    assert_eq!(r.status(), 201);

    // Secrets carrying the canary, for several connector kinds and both outcomes of a test.
    let configs = [
        json!({"connector_type": "stripe", "display_name": "Good Stripe", "config": {"api_key": format!("sk_test_good_{CANARY}1"),
            "webhook_secret": format!("whsec_{CANARY}12abcdefgh")}}),
        json!({"connector_type": "stripe", "display_name": "Expired Stripe", "config": {"api_key": format!("sk_test_expired_{CANARY}2")}}),
        json!({"connector_type": "shopify", "config": {"shop_domain": "acme-goods.myshopify.com", "access_token": format!("shpat_good{CANARY}3")}}),
        json!({"connector_type": "rest_api", "config": {"base_url": format!("{fakes}/rest"), "auth_type": "api_key_query",
            "header_name": "api_key", "api_key": format!("good-{CANARY}4"), "test_path": "/me"}}),
        json!({"connector_type": "rest_api", "config": {"base_url": format!("{fakes}/rest"), "auth_type": "basic",
            "username": "reporting", "password": format!("wrong-{CANARY}5"), "test_path": "/me"}}),
        json!({"connector_type": "postgresql", "config": {"host": "127.0.0.1", "port": "1", "database": "db", "username": "u",
            "password": format!("pw-{CANARY}6"), "sslmode": "disable"}}),
        // An API that echoes its request (the key in the query string) into every record.
        json!({"connector_type": "rest_api", "config": {"base_url": fakes, "auth_type": "api_key_query",
            "header_name": "api_key", "api_key": format!("good-{CANARY}9"), "test_path": "/restdata/items",
            "records_pointer": "/data", "paging": "link_header"}}),
    ];
    let mut ids = Vec::new();
    for body in &configs {
        let r = http
            .post(format!("{base}/v1/connectors"))
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        ids.push(v["connector_id"].as_str().expect("id").to_owned());
        out.add("create", v.to_string());
        let unsaved = http
            .post(format!("{base}/v1/connectors/test"))
            .bearer_auth(&token)
            .json(&json!({"connector_type": body["connector_type"], "config": body["config"]}))
            .send()
            .await
            .expect("test");
        out.add("test unsaved", text(unsaved).await);
    }
    // Data flows: previews, sync runs, streams and records, for every connector above.
    let mut records_read = 0;
    let mut proxied_redactions = 0;
    let mut tool_redactions = 0;
    for id in &ids {
        let get = |path: String| {
            let http = http.clone();
            let token = token.clone();
            async move { text(http.get(path).bearer_auth(token).send().await.expect("get")).await }
        };
        out.add(
            "preview",
            get(format!("{base}/v1/connectors/{id}/preview")).await,
        );
        let queued: Value = http
            .post(format!("{base}/v1/connectors/{id}/sync"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sync")
            .json()
            .await
            .expect("json");
        out.add("sync", queued.to_string());
        let run = queued["run_id"].as_str().unwrap_or_default();
        for _ in 0..200 {
            let body = get(format!("{base}/v1/connectors/{id}/syncs/{run}")).await;
            let done = body.contains("\"succeeded\"") || body.contains("\"failed\"");
            out.add("run", body);
            if done {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        out.add(
            "runs",
            get(format!("{base}/v1/connectors/{id}/syncs")).await,
        );
        let streams = get(format!("{base}/v1/connectors/{id}/streams")).await;
        let names: Vec<String> = serde_json::from_str::<Value>(&streams)
            .ok()
            .and_then(|v| v["streams"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect();
        out.add("streams", streams);
        // The proxy: whatever the provider answers (an API echoing its URL, key and all) comes
        // back scrubbed.
        // Headers too: a redirect's Location, a Link, an echoed Authorization.
        for path in [
            "v1/customers?limit=3",
            "restdata/items",
            "rest/me",
            "rest/moved?x=1",
            "rest/echo?x=1",
        ] {
            let r = http
                .get(format!("{base}/proxy/{id}/{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("proxy");
            let mut answer = String::new();
            for (name, value) in r.headers() {
                answer.push_str(&format!(
                    "{name}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            answer.push_str(&text(r).await);
            proxied_redactions += answer.matches("[redacted]").count();
            out.add("proxy", answer);
        }
        // The MCP tools an agent uses on this connector: what the provider echoes comes back
        // scrubbed there too.
        let mut calls = vec![("list_streams", json!({"connector_id": id}))];
        for (path, query) in [
            ("/v1/customers", json!({"limit": 3})),
            ("/restdata/items", json!({})),
            ("/rest/me", json!({})),
            ("/rest/moved", json!({"x": 1})),
            ("/rest/echo", json!({"x": 1})),
        ] {
            calls.push((
                "call_api",
                json!({"connector_id": id, "method": "GET", "path": path, "query": query}),
            ));
        }
        for name in &names {
            calls.push((
                "read_records",
                json!({"connector_id": id, "stream": name, "limit": 1000}),
            ));
        }
        calls.push(("sync_now", json!({"connector_id": id})));
        for (tool, arguments) in calls {
            let answer = mcp_tool(&http, &base, &token, tool, arguments).await;
            tool_redactions += answer.matches("[redacted]").count();
            out.add(format!("mcp {tool}"), answer);
        }
        for name in names {
            let page = get(format!(
                "{base}/v1/connectors/{id}/records?stream={name}&limit=1000"
            ))
            .await;
            records_read += page.matches("\"deleted\"").count();
            out.add("records", page);
        }
    }
    out.add(
        "mcp list_connectors",
        mcp_tool(&http, &base, &token, "list_connectors", json!({})).await,
    );
    assert!(
        tool_redactions > 0,
        "an MCP tool's answer really carried a secret to take out"
    );
    assert!(
        records_read >= 42,
        "the records were really read: {records_read}"
    );
    assert!(
        proxied_redactions > 0,
        "a proxied answer really carried a secret to take out"
    );
    // Every change was told to the tenant's endpoint, and no event carried a secret.
    for _ in 0..200 {
        if events_to.requests().len() >= configs.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        events_to.requests().len() >= configs.len(),
        "the events really went out: {}",
        events_to.requests().len()
    );
    events_to.assert_never_received(CANARY);

    // A config that fails validation must not echo the secret in its error.
    let invalid = http.post(format!("{base}/v1/connectors")).bearer_auth(&token)
        .json(&json!({"connector_type": "stripe", "config": {"api_key": format!("pk_live_{CANARY}7")}})).send().await.expect("invalid");
    assert_eq!(invalid.status(), 422);
    out.add("invalid create", text(invalid).await);
    let wrong_type = http
        .post(format!("{base}/v1/connectors"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"connector_type": "stripe", "config": "sk_live_{CANARY}8"}}"#
        ))
        .send()
        .await
        .expect("wrong type");
    out.add("wrong type", text(wrong_type).await);

    for id in &ids {
        out.add(
            "get",
            text(
                http.get(format!("{base}/v1/connectors/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("get"),
            )
            .await,
        );
        out.add(
            "test saved",
            text(
                http.post(format!("{base}/v1/connectors/{id}/test"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("t"),
            )
            .await,
        );
    }
    let replaced = http
        .patch(format!("{base}/v1/connectors/{}", ids[0]))
        .bearer_auth(&token)
        .json(&json!({"config": {"api_key": format!("sk_test_good_{CANARY}9")}}))
        .send()
        .await
        .expect("patch");
    out.add("patch", text(replaced).await);
    out.add(
        "list",
        text(
            http.get(format!("{base}/v1/connectors"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("list"),
        )
        .await,
    );
    out.add(
        "audit",
        text(
            http.get(format!("{base}/v1/audit"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("audit"),
        )
        .await,
    );
    out.add(
        "catalog",
        text(
            http.get(format!("{base}/v1/catalog"))
                .send()
                .await
                .expect("catalog"),
        )
        .await,
    );

    // The browser: cookie session, wizard steps through server functions, every page's HTML.
    let signin = http
        .get(format!("{base}/session?token={token}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("signin");
    let cookie = signin
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let form = |pairs: &[(&str, &str)]| {
        http.post(format!("{base}/api/wizard_step"))
            .header("cookie", &cookie)
            .header("origin", &base)
            .header("accept", "application/json")
            .form(pairs)
    };
    let r = form(&[("connector_type", "stripe"), ("action", "start")])
        .send()
        .await
        .expect("start");
    let url: String = r.json().await.expect("url");
    let draft = url
        .split("draft=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("draft")
        .to_owned();
    let step = |action: &'static str, value: Option<String>| {
        let mut pairs = vec![
            ("connector_type", "stripe".to_owned()),
            ("draft", draft.clone()),
            ("action", action.to_owned()),
        ];
        if let Some(v) = value {
            pairs.push(("value", v));
        }
        http.post(format!("{base}/api/wizard_step"))
            .header("cookie", &cookie)
            .header("origin", &base)
            .header("accept", "application/json")
            .form(&pairs)
    };
    out.add(
        "wizard continue",
        text(step("continue", None).send().await.expect("continue")).await,
    );
    out.add(
        "wizard bad answer",
        text(
            step("answer", Some(format!("pk_{CANARY}10")))
                .send()
                .await
                .expect("bad"),
        )
        .await,
    );
    out.add(
        "wizard answer",
        text(
            step("answer", Some(format!("sk_test_expired_{CANARY}11")))
                .send()
                .await
                .expect("answer"),
        )
        .await,
    );
    // Name and test: the expired key sends the user back to the key field.
    let named = http
        .post(format!("{base}/api/wizard_step"))
        .header("cookie", &cookie)
        .header("origin", &base)
        .header("accept", "application/json")
        .form(&[
            ("connector_type", "stripe"),
            ("draft", draft.as_str()),
            ("action", "name"),
            ("display_name", "Wizard Stripe"),
            ("sync_frequency", "daily"),
        ])
        .send()
        .await
        .expect("name");
    out.add("wizard name+test", text(named).await);
    let view = http
        .post(format!("{base}/api/wizard_view"))
        .header("cookie", &cookie)
        .header("origin", &base)
        .form(&[("connector_type", "stripe"), ("draft", draft.as_str())])
        .send()
        .await
        .expect("view");
    let view_text = text(view).await;
    assert!(
        view_text.contains("EXPIRED_CREDENTIALS"),
        "the wizard reports the failure: {view_text}"
    );
    out.add("wizard view", view_text);

    // OAuth2: tokens issued by the fake provider carry the canary; they pass through the wizard
    // draft, the store, a refresh with rotation and a refused refresh.
    let b = crate::support::oauth_flow::Browser::new(&base, &fakes, &token);
    b.control(json!({"marker": CANARY, "expires_in": 60})).await;
    let oauth_draft = b.begin("xero", None, &[]).await;
    let consent = b.authorize("xero", &oauth_draft).await;
    let callback = b.consent(&consent, true).await;
    b.callback(&callback).await;
    out.add(
        "oauth choose view",
        b.view("xero", &oauth_draft).await.to_string(),
    );
    b.step(
        "xero",
        Some(&oauth_draft),
        None,
        "pick",
        &[("value", "t-uk")],
    )
    .await;
    out.add(
        "oauth name view",
        b.view("xero", &oauth_draft).await.to_string(),
    );
    let oauth_id = b
        .save("xero", &oauth_draft, None)
        .await
        .expect("oauth saved");
    out.add(
        "oauth done view",
        b.view("xero", &oauth_draft).await.to_string(),
    );
    for round in ["refresh", "refused refresh"] {
        if round == "refused refresh" {
            http.post(format!("{fakes}/oauth/_revoke"))
                .send()
                .await
                .expect("revoke");
        }
        let r = http
            .post(format!("{base}/v1/connectors/{oauth_id}/test"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("test");
        let body = text(r).await;
        assert!(body.contains("\"success\""), "{round}: {body}");
        out.add(format!("oauth {round}"), body);
    }
    let stats = b.stats().await;
    assert_eq!(
        stats["refresh_token:xero"], 2,
        "both refreshes reached the provider"
    );
    for path in [
        format!("/v1/connectors/{oauth_id}"),
        "/v1/connectors".to_owned(),
        "/v1/audit".to_owned(),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        out.add(format!("oauth {path}"), text(r).await);
    }

    for (name, path) in [
        ("marketplace", "/".to_owned()),
        (
            "oauth wizard page",
            format!("/connect/xero?draft={oauth_draft}"),
        ),
        ("sources", "/sources".to_owned()),
        ("wizard page", format!("/connect/stripe?draft={draft}")),
        (
            "replace page",
            format!("/connect/stripe?replace={}", ids[0]),
        ),
        ("signin", "/signin".to_owned()),
    ] {
        let html = text(
            http.get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("page"),
        )
        .await;
        assert!(html.contains("</html>"), "{name} rendered");
        out.add(name, html);
    }
    let sources_html = &out
        .seen
        .iter()
        .find(|(n, _)| n == "sources")
        .expect("sources")
        .1;
    assert!(
        sources_html.contains("Good Stripe"),
        "the sources page really lists the connectors"
    );
    for endpoint in ["list_sources", "catalog_entries", "current_session"] {
        let r = http
            .post(format!("{base}/api/{endpoint}"))
            .header("cookie", &cookie)
            .header("origin", &base)
            .send()
            .await
            .expect("fn");
        out.add(format!("server fn {endpoint}"), text(r).await);
    }
    let tested = http
        .post(format!("{base}/api/test_source"))
        .header("cookie", &cookie)
        .header("origin", &base)
        .form(&[("connector_id", ids[1].as_str())])
        .send()
        .await
        .expect("fn");
    out.add("server fn test_source", text(tested).await);

    let status = server.stop();
    assert!(status.success(), "clean shutdown");

    // The canary as given (and percent- or JSON-encoded: it has no character either changes),
    // and inside the one form that hides it: HTTP Basic's base64.
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("reporting:wrong-{CANARY}5"));
    let mut leaks = Vec::new();
    for (what, body) in &out.seen {
        if body.contains(CANARY) || body.contains(&basic) {
            leaks.push(what.clone());
        }
    }
    let logs = std::fs::read_to_string(&log).expect("log");
    assert!(
        logs.contains("connector created"),
        "the log was really captured"
    );
    if logs.contains(CANARY) {
        leaks.push("server log".into());
    }
    let data = dir.path().join("data");
    let mut stored = Vec::new();
    // On MongoDB the data directory holds no database (it may not even exist): the database's
    // documents and history are searched instead.
    if !on_mongo() || data.exists() {
        for entry in std::fs::read_dir(&data).expect("data dir") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            stored.push((format!("file {}", path.display()), bytes));
        }
    }
    if on_mongo() {
        stored.push((
            "the MongoDB database".into(),
            raw::stored_bytes(&data).await,
        ));
    }
    let mut db_bytes = 0;
    for (what, bytes) in stored {
        db_bytes += bytes.len();
        if bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()) {
            leaks.push(what);
        }
    }
    assert!(db_bytes > 4096, "the database files were really read");
    assert!(leaks.is_empty(), "the canary leaked into: {leaks:?}");
}
