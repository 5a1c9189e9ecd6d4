//! The OpenAPI document as independent tools read it: `openapi-spec-validator` accepts the served
//! document (and refuses it with a reference left dangling), and `openapi-python-client`
//! generates a client from it without a warning, whose calls list the tenant's connectors and
//! read a synced connector's records exactly as the server holds them. Both tools are Python's,
//! installed by `scripts/setup.sh --test` into `target/test-venv`.

use crate::support::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

fn venv_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin")
}

/// Runs a tool of the test environment, with its own `bin` first on `PATH` (the generator calls
/// `ruff` to tidy what it wrote).
async fn tool(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = venv_bin();
    let tool = bin.join(program);
    assert!(
        tool.exists(),
        "{program} is missing: run scripts/setup.sh --test"
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tokio::process::Command::new(&tool)
        .args(args)
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The validator's verdict on `doc`, written where it reads it.
async fn validate(dir: &Path, name: &str, doc: &Value) -> Output {
    let file = dir.join(name);
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
    tool(
        "openapi-spec-validator",
        &[file.to_str().expect("utf-8 path")],
        &[],
    )
    .await
}

#[tokio::test]
async fn the_validator_accepts_the_served_document_and_refuses_a_dangling_reference() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = validate(dir.path(), "served.json", &doc).await;
    assert!(
        out.status.success(),
        "the served document is not valid OpenAPI:\n{}",
        said(&out)
    );
    assert!(said(&out).contains("OK"), "{}", said(&out));

    // The validator does check references: with a schema that a query parameter names taken
    // out (as `AuditAction` once was), it refuses the document, naming it.
    let mut broken = doc.clone();
    let schemas = broken["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    assert!(schemas.remove("AuditAction").is_some(), "AuditAction");
    let out = validate(dir.path(), "broken.json", &broken).await;
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("AuditAction"), "{}", said(&out));
}

/// What the generated client read, as JSON (see the script).
async fn generated_client_reads(
    app: &TestApp,
    package_root: &Path,
    token: &str,
    connector_id: &str,
) -> Value {
    // Written against the generated package's own modules and models, as a tenant's backend
    // would use it: every page of the listing and of the records, by their cursors.
    let script = r#"
import json, sys
from connector_hub_client import AuthenticatedClient, Client
from connector_hub_client.api.connectors import list_connectors, read_connector
from connector_hub_client.api.data import records
from connector_hub_client.api.provider_webhooks import receive_connector_webhook
from connector_hub_client.models import ConnectorPage, ErrorBody, RecordPage
from connector_hub_client.types import UNSET

base, token, connector_id = sys.argv[1:4]
client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

connectors, cursor = [], UNSET
while True:
    page = list_connectors.sync(client=client, limit=2, cursor=cursor)
    assert isinstance(page, ConnectorPage), page
    connectors += [c.to_dict() for c in page.connectors]
    if not page.next_cursor:
        break
    cursor = page.next_cursor

stored, cursor, pages = [], UNSET, 0
while True:
    page = records.sync(client=client, id=connector_id, stream="customers", limit=5, cursor=cursor)
    assert isinstance(page, RecordPage), page
    stored += [r.to_dict() for r in page.records]
    cursor, pages = page.next_cursor, pages + 1
    if not page.has_more:
        break

missing = read_connector.sync(client=client, id="conn-00000000000000000000")
assert isinstance(missing, ErrorBody), missing
# A provider's webhook to an address that names no connector: the documented error shape.
anonymous = Client(base_url=base, raise_on_unexpected_status=True)
hook = receive_connector_webhook.sync_detailed(client=anonymous, token="not-a-hook", body={})
assert isinstance(hook.parsed, ErrorBody), hook
print(json.dumps({
    "connectors": connectors,
    "records": stored,
    "record_pages": pages,
    "missing": missing.error.code.value,
    "hook": [int(hook.status_code), hook.parsed.error.code.value],
}))
"#;
    let root = package_root.to_str().expect("utf-8 path");
    let out = tool(
        "python",
        &["-c", script, &app.url(""), token, connector_id],
        &[("PYTHONPATH", root)],
    )
    .await;
    assert!(
        out.status.success(),
        "the generated client failed:\n{}",
        said(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&out)))
}

#[tokio::test]
async fn a_client_generated_from_the_served_document_lists_connectors_and_reads_records() {
    let app = spawn_app().await;
    let token = app.token("acme", "ana@acme.test");
    let mut ids = Vec::new();
    for (name, key) in [
        ("Payments", "sk_test_good_gen1"),
        ("Refunds", "sk_test_good_gen2"),
        ("Payouts", "sk_test_good_gen3"),
    ] {
        ids.push(
            app.create(
                &token,
                json!({"connector_type": "stripe", "display_name": name, "config": {"api_key": key}}),
            )
            .await,
        );
    }
    // Another tenant's connector, which the client must not see.
    let other = app.token("globex", "gus@globex.test");
    let theirs = app
        .create(
            &other,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_gen4"}}),
        )
        .await;
    app.data.seed("stripe/customers", 12);
    let synced = &ids[0];
    let queued: Value = app
        .post(
            &format!("/v1/connectors/{synced}/sync"),
            &token,
            &json!({"streams": ["customers"]}),
        )
        .await
        .json()
        .await
        .expect("json");
    let run_id = queued["run_id"].as_str().expect("run id");
    let run = crate::sync::wait_run(&app, &token, synced, run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // Generated from the document as served, with no warning allowed: a construct the
    // generator skips (an unsupported content type, a duplicate operation id) fails here.
    let dir = tempfile::tempdir().expect("temp dir");
    let package = dir.path().join("connector_hub_client");
    let out = tool(
        "openapi-python-client",
        &[
            "generate",
            "--url",
            &app.url("/v1/openapi.json"),
            "--meta",
            "none",
            "--output-path",
            package.to_str().expect("utf-8 path"),
            "--fail-on-warning",
        ],
        &[],
    )
    .await;
    assert!(
        out.status.success(),
        "the generator refused the document:\n{}",
        said(&out)
    );
    // Every operation is there, the pass-through ones included.
    for module in [
        "api/connectors/list_connectors.py",
        "api/data/records.py",
        "api/proxy/proxy_get.py",
        "api/proxy/proxy_post.py",
        "api/provider_webhooks/receive_connector_webhook.py",
        "api/provider_webhooks/receive_app_webhook.py",
    ] {
        assert!(package.join(module).exists(), "{module} was not generated");
    }

    let read = generated_client_reads(&app, dir.path(), &token, synced).await;

    // What the server holds, read with plain HTTP.
    let listed: Value = app
        .get("/v1/connectors?limit=200", &token)
        .await
        .json()
        .await
        .expect("json");
    let records: Value = app
        .get(
            &format!("/v1/connectors/{synced}/records?stream=customers&limit=1000"),
            &token,
        )
        .await
        .json()
        .await
        .expect("json");
    let listed_ids: Vec<&str> = read["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .filter_map(|c| c["connector_id"].as_str())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse(); // newest first
    assert_eq!(listed_ids, expected, "{read}");
    assert!(!listed_ids.contains(&theirs.as_str()));
    // Each connector and record as the generated models read it and wrote it back: every field
    // the server sends is one the document describes, with the type it has.
    assert_eq!(read["connectors"], listed["connectors"]);
    assert_eq!(
        read["records"].as_array().map(Vec::len),
        Some(12),
        "{}",
        read["records"]
    );
    assert_eq!(read["records"], records["records"]);
    assert_eq!(read["record_pages"], 3, "5 + 5 + 2 records");
    assert_eq!(read["missing"], "NOT_FOUND");
    assert_eq!(read["hook"], json!([404, "NOT_FOUND"]));
}
