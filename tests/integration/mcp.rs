//! The hub's MCP server (`/mcp`) as AI agents meet it: driven by the official MCP Python SDK
//! (installed by `scripts/setup.sh --test`) over both protocol generations, and by raw HTTP where
//! the transport's rules are the point — the `401` challenge and its metadata, the versions
//! negotiated, no token from a cookie or the query string.

use crate::oauth::get_json;
use crate::support::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::path::Path;

/// The agent script's findings for `mode` (`handshake` or `discover`).
async fn agent_session(app: &TestApp, token: &str, mode: &str, id: &str, foreign: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/test-venv/bin/python");
    assert!(python.exists(), "run scripts/setup.sh --test");
    let out = tokio::process::Command::new(python)
        .arg(root.join("tests/integration/mcp_agent.py"))
        .args([&app.url("/mcp"), token, mode, id, foreign])
        .output()
        .await
        .expect("the agent runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the agent failed:\n{said}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {said}"))
}

/// A JSON-RPC message posted to `/mcp` as a Streamable HTTP client posts it.
async fn post_mcp(
    app: &TestApp,
    auth: Option<&str>,
    version: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", version)
        .json(body);
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("post /mcp")
}

fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
}

#[tokio::test]
async fn an_agent_lists_reads_calls_and_syncs_through_the_official_sdk() {
    let app = spawn_app().await;
    let token = app.token("acme", "ana@acme.test");
    let id = app
        .create(
            &token,
            json!({"connector_type": "stripe", "display_name": "Payments", "config": {"api_key": "sk_test_good_mcp1"}}),
        )
        .await;
    let other = app.token("globex", "gus@globex.test");
    let foreign = app
        .create(
            &other,
            json!({"connector_type": "stripe", "display_name": "Theirs", "config": {"api_key": "sk_test_good_mcp2"}}),
        )
        .await;
    app.data.seed("stripe/customers", 12);
    let queued: Value = app
        .post(
            &format!("/v1/connectors/{id}/sync"),
            &token,
            &json!({"streams": ["customers"]}),
        )
        .await
        .json()
        .await
        .expect("json");
    let run_id = queued["run_id"].as_str().expect("run id");
    let run = crate::sync::wait_run(&app, &token, &id, run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    for (mode, version) in [("handshake", "2025-11-25"), ("discover", "2026-07-28")] {
        let seen = agent_session(&app, &token, mode, &id, &foreign).await;
        assert!(
            seen["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .any(|v| v == version),
            "{mode}: {seen}"
        );
        assert_eq!(
            seen["tools"],
            json!([
                "call_api",
                "list_connectors",
                "list_streams",
                "read_records",
                "sync_now"
            ]),
            "{mode}"
        );
        assert_eq!(seen["read_only"]["read_records"], true);
        assert_eq!(seen["read_only"]["call_api"], false);
        // Only the caller's own connector, with the streams it offers.
        let listed = &seen["list_connectors"];
        assert_eq!(listed["is_error"], false, "{listed}");
        let connectors = listed["structured"]["connectors"].as_array().expect("list");
        assert_eq!(connectors.len(), 1, "{listed}");
        assert_eq!(connectors[0]["connector_id"], id.as_str());
        assert_eq!(connectors[0]["display_name"], "Payments");
        assert!(
            connectors[0]["streams"]
                .as_array()
                .expect("streams")
                .contains(&json!("customers")),
            "{listed}"
        );
        let streams = &seen["list_streams"]["structured"]["streams"];
        let customers = streams
            .as_array()
            .expect("streams")
            .iter()
            .find(|s| s["name"] == "customers")
            .unwrap_or_else(|| panic!("{streams}"));
        assert_eq!(customers["record_count"], 12, "{streams}");
        // The records API's pages and cursors, read in two pages to the end.
        let first = &seen["read_records"]["structured"];
        assert_eq!(
            first["records"].as_array().expect("records").len(),
            5,
            "{first}"
        );
        assert_eq!(first["has_more"], true);
        let rest = &seen["read_records_rest"]["structured"];
        assert_eq!(
            rest["records"].as_array().expect("records").len(),
            7,
            "{rest}"
        );
        assert_eq!(rest["has_more"], false);
        // The provider's live answer, as the fake Stripe sent it.
        let live = &seen["call_api"];
        assert_eq!(live["is_error"], false, "{live}");
        assert_eq!(live["structured"]["status"], 200, "{live}");
        assert_eq!(live["structured"]["body"]["object"], "list", "{live}");
        assert_eq!(
            live["structured"]["body"]["data"]
                .as_array()
                .expect("data")
                .len(),
            3,
            "{live}"
        );
        // A sync asked for (the second session finds the first one's run, or a new one).
        let synced = &seen["sync_now"];
        let code = synced["structured"]["code"].as_str();
        assert!(
            synced["is_error"] == false || code == Some("SYNC_IN_PROGRESS"),
            "{synced}"
        );
        // Another tenant's connector is not there, whatever the tool.
        for refused in ["foreign_streams", "foreign_call"] {
            assert_eq!(seen[refused]["is_error"], true, "{refused}: {seen}");
            assert_eq!(
                seen[refused]["structured"]["code"], "NOT_FOUND",
                "{refused}"
            );
        }
        assert_eq!(
            seen["unknown_argument"]["structured"]["code"],
            "INVALID_REQUEST"
        );
        assert_eq!(
            seen["absolute_path"]["structured"]["code"],
            "INVALID_REQUEST"
        );
    }

    // Every call was audited as the tenant's, naming the tool it came through; none as the
    // other tenant's.
    let audit: Value = get_json(&app, "/v1/audit?limit=200", &token).await;
    let details: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    for tool in ["list_connectors", "read_records", "call_api", "sync_now"] {
        assert!(
            details
                .iter()
                .any(|d| d.starts_with(&format!("mcp:{tool}"))),
            "no entry names {tool}: {details:?}"
        );
    }
    let theirs: Value = get_json(&app, "/v1/audit?limit=200", &other).await;
    assert!(
        !theirs.to_string().contains("mcp:"),
        "the other tenant's log holds nothing of this agent: {theirs}"
    );
}

#[tokio::test]
async fn without_a_bearer_token_mcp_answers_401_with_where_to_get_one() {
    let app = spawn_app().await;
    let token = app.token("acme", "ana@acme.test");
    let metadata_url = app.url("/.well-known/oauth-protected-resource/mcp");
    let challenged = |r: &reqwest::Response| {
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    // No token at all.
    let r = post_mcp(&app, None, "2025-11-25", &initialize("2025-11-25")).await;
    assert_eq!(r.status(), 401);
    let header = challenged(&r);
    assert_eq!(
        header,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    // A token that is not valid: the challenge says so.
    let r = post_mcp(
        &app,
        Some("not-a-token"),
        "2025-11-25",
        &initialize("2025-11-25"),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        challenged(&r).contains("error=\"invalid_token\""),
        "{}",
        challenged(&r)
    );
    // A valid token anywhere but the Authorization header counts for nothing: not the session
    // cookie a browser would add on its own, not the query string.
    let r = app
        .http
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Cookie", format!("ch_session={token}"))
        .header("Origin", "https://evil.example")
        .json(&initialize("2025-11-25"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401, "a cookie is no credential here");
    let r = app
        .http
        .post(app.url(&format!("/mcp?access_token={token}")))
        .header("Accept", "application/json, text/event-stream")
        .json(&initialize("2025-11-25"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401, "a query string is no credential here");
    // The metadata the challenge points at (RFC 9728).
    let doc: Value = app
        .http
        .get(&metadata_url)
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["resource"], app.url("/mcp"), "{doc}");
    assert_eq!(doc["authorization_servers"], json!([app.url("")]), "{doc}");
    assert_eq!(
        doc["scopes_supported"],
        json!(["mcp:read", "mcp:write"]),
        "{doc}"
    );
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{doc}");

    // With the token where it belongs, each version the hub speaks is the one agreed; one it
    // does not is answered with one it does.
    for version in ["2025-06-18", "2025-11-25"] {
        let r = post_mcp(&app, Some(&token), version, &initialize(version)).await;
        assert_eq!(r.status(), 200, "{version}");
        let answer: Value = r.json().await.expect("json");
        assert_eq!(answer["result"]["protocolVersion"], version, "{answer}");
        assert_eq!(
            answer["result"]["serverInfo"]["name"], "connector-hub",
            "{answer}"
        );
        assert!(
            answer["result"]["capabilities"]["tools"].is_object(),
            "{answer}"
        );
    }
    let r = post_mcp(&app, Some(&token), "2024-11-05", &initialize("2024-11-05")).await;
    let answer: Value = r.json().await.expect("json");
    let agreed = answer["result"]["protocolVersion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["2025-06-18", "2025-11-25", "2026-07-28"].contains(&agreed),
        "{answer}"
    );
}
