//! A tenant's own MCP server as a connector (`mcp_server`), served by the official MCP Python
//! SDK: its connection test starts a session and counts its tools; the hub's `/mcp` offers its
//! tools beside the hub's own, prefixed, and forwards calls with the stored token — which no
//! agent sees, even from a server that echoes it.

use crate::oauth::get_json;
use crate::support::{spawn_app_with, TestApp};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;

const TOKEN: &str = "mcp-token-CANARYgw42zz";

/// The fixture server, killed when dropped.
struct FixtureServer {
    child: tokio::process::Child,
    url: String,
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_fixture() -> FixtureServer {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/test-venv/bin/python");
    assert!(python.exists(), "run scripts/setup.sh --test");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new(python)
        .arg(root.join("tests/integration/mcp_fixture_server.py"))
        .args([port.to_string(), TOKEN.to_owned()])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the fixture server starts");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    FixtureServer {
        child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    }
}

async fn rpc(app: &TestApp, token: &str, method: &str, params: Value) -> Value {
    let r = app
        .http
        .post(app.url("/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params}))
        .send()
        .await
        .expect("post /mcp");
    assert_eq!(r.status(), 200, "{method}");
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_tenants_mcp_server_is_tested_and_its_tools_are_offered_and_called_without_the_token() {
    let fixture = start_fixture().await;
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    let token = app.token("acme", "ana@acme.test");
    let id = app
        .create(
            &token,
            json!({"connector_type": "mcp_server", "display_name": "Acme CRM tools",
                "config": {"url": fixture.url, "auth_type": "bearer", "token": TOKEN}}),
        )
        .await;
    // The connection test: a session started, its tools counted.
    let tested: Value = app
        .post(&format!("/v1/connectors/{id}/test"), &token, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["details"]["server_name"], "fixture-crm", "{tested}");
    assert_eq!(tested["details"]["tool_count"], "4", "{tested}");
    // A wrong token is the server's refusal; an address that is no MCP server says so.
    let refused: Value = app
        .post(
            "/v1/connectors/test",
            &token,
            &json!({"connector_type": "mcp_server", "config": {"url": fixture.url, "auth_type": "bearer", "token": "not-the-right-token"}}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(refused["error_code"], "INVALID_CREDENTIALS", "{refused}");
    let not_mcp: Value = app
        .post(
            "/v1/connectors/test",
            &token,
            &json!({"connector_type": "mcp_server", "config": {"url": format!("{}/rest/me", app.fakes), "auth_type": "none"}}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(not_mcp["error_code"], "UNEXPECTED_RESPONSE", "{not_mcp}");

    // The hub's tools and the server's, prefixed with the connector they come from.
    let listed = rpc(&app, &token, "tools/list", json!({})).await;
    let names: Vec<String> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.contains(&"list_connectors".to_owned()), "{names:?}");
    let add = names
        .iter()
        .find(|n| n.starts_with("acme_crm_tools_") && n.ends_with("__add"))
        .unwrap_or_else(|| panic!("{names:?}"))
        .clone();
    let prefix = add.trim_end_matches("__add").to_owned();
    for tool in ["whoami", "create_note", "lookup"] {
        assert!(names.contains(&format!("{prefix}__{tool}")), "{names:?}");
    }
    // A server whose tool description holds its token: offered with the token taken out.
    let lookup = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == format!("{prefix}__lookup"))
        .expect("lookup");
    assert!(
        lookup["description"]
            .as_str()
            .is_some_and(|d| d.contains("[redacted]")),
        "{lookup}"
    );
    // Calls forwarded with the stored token.
    let sum = rpc(
        &app,
        &token,
        "tools/call",
        json!({"name": add, "arguments": {"a": 2, "b": 3}}),
    )
    .await;
    assert_eq!(sum["result"]["isError"], false, "{sum}");
    assert!(sum["result"].to_string().contains('5'), "{sum}");
    let note = rpc(
        &app,
        &token,
        "tools/call",
        json!({"name": format!("{prefix}__create_note"), "arguments": {"text": "hello"}}),
    )
    .await;
    assert!(note.to_string().contains("noted: hello"), "{note}");
    // A server that echoes the credential: the agent gets it taken out.
    let echoed = rpc(
        &app,
        &token,
        "tools/call",
        json!({"name": format!("{prefix}__whoami"), "arguments": {}}),
    )
    .await;
    let text = echoed.to_string();
    assert!(text.contains("you called me with"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(
        !text.contains("CANARYgw42"),
        "the token reached the agent: {text}"
    );
    assert!(!listed.to_string().contains("CANARYgw42"));

    // Not through the proxy: a raw call would pass by the tools and their read-only marks.
    let raw = app.get(&format!("/proxy/{id}/mcp"), &token).await;
    assert_eq!(raw.status(), 400);
    let refused: Value = raw.json().await.expect("json");
    assert_eq!(refused["error"]["code"], "NO_HTTP_API", "{refused}");

    // Another tenant's agent sees none of it, and cannot call it by name.
    let other = app.token("globex", "gus@globex.test");
    let theirs = rpc(&app, &other, "tools/list", json!({})).await;
    assert!(!theirs.to_string().contains(&prefix), "{theirs}");
    let stolen = rpc(
        &app,
        &other,
        "tools/call",
        json!({"name": add, "arguments": {"a": 1, "b": 1}}),
    )
    .await;
    assert_eq!(stolen["result"]["isError"], true, "{stolen}");
    assert_eq!(
        stolen["result"]["structuredContent"]["code"], "NOT_FOUND",
        "{stolen}"
    );

    // Audited as calls to the connector, naming the tool.
    let audit: Value = get_json(&app, "/v1/audit?limit=200", &token).await;
    let forwarded = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["connector_id"] == id.as_str() && e["action"] == "proxy")
        .count();
    assert!(forwarded >= 3, "{audit}");
    assert!(!audit.to_string().contains("CANARYgw42"));
}
