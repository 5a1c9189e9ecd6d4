//! What the canary test (`tests/integration/canary.rs`) works with: the server's environment,
//! the collector of everything the hub answered, and the clients that ask it.

use serde_json::{json, Value};

pub fn env(fakes: &str, data: &std::path::Path, key: &str) -> Vec<(String, String)> {
    let mut env = crate::support::process::server_env(fakes, data, key);
    env.extend(crate::support::fakes::oauth_env(fakes));
    for (k, v) in [
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_CHECK_TIMEOUT_MS", "1500"),
        ("CONNECTOR_HUB_LOG", "debug"),
        ("CONNECTOR_HUB_LOG_FORMAT", "json"),
        ("LEPTOS_SITE_ROOT", "target/site"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

pub struct Collector {
    pub seen: Vec<(String, String)>,
}

impl Collector {
    pub fn add(&mut self, what: impl Into<String>, body: String) {
        self.seen.push((what.into(), body));
    }
}

pub async fn text(r: reqwest::Response) -> String {
    r.text().await.unwrap_or_default()
}

/// An MCP tool called as a Streamable HTTP client posts it (stateless: no session first), with
/// the answer's headers and body as one text.
pub async fn mcp_tool(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    tool: &str,
    arguments: Value,
) -> String {
    let r = http
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}))
        .send()
        .await
        .expect("mcp");
    assert_eq!(r.status(), 200, "{tool}");
    let mut answer = String::new();
    for (name, value) in r.headers() {
        answer.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    answer.push_str(&text(r).await);
    assert!(answer.contains("\"result\""), "{tool}: {answer}");
    answer
}
