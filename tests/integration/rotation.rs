//! Key rotation through restarts and the operator CLI, and what a wrong key looks like.

use crate::support::process::{run_cli, spawn_server};
use serde_json::{json, Value};

fn env(fakes: &str, data: &std::path::Path, keys: &str) -> Vec<(String, String)> {
    crate::support::process::server_env(fakes, data, keys)
}

fn token() -> String {
    crate::support::process::token("acme", "ops@acme.test")
}

#[tokio::test]
async fn rotate_keys_then_drop_the_old_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("fakes")
    );
    let (key1, key2, wrong) = (
        connector_hub::vault::generate_key(),
        connector_hub::vault::generate_key(),
        connector_hub::vault::generate_key(),
    );
    let http = reqwest::Client::new();
    let t = token();

    // Written under key 1.
    let server = spawn_server(&env(&fakes, &data, &key1), &log).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({"connector_type": "stripe", "display_name": format!("Stripe {i}"), "config": {"api_key": "sk_test_good_4242"}});
        let v: Value = http
            .post(format!("{}/v1/connectors", server.base))
            .bearer_auth(&t)
            .json(&body)
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        ids.push(v["connector_id"].as_str().expect("id").to_owned());
    }
    assert!(server.stop().success());

    // "key2,key1": new writes use key 2, old records still open; rotate-keys rewrites them.
    let both = format!("{key2},{key1}");
    let server = spawn_server(&env(&fakes, &data, &both), &log).await;
    let r: Value = http
        .post(format!("{}/v1/connectors/{}/test", server.base, ids[0]))
        .bearer_auth(&t)
        .send()
        .await
        .expect("test")
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "old key still decrypts: {r}");
    assert!(server.stop().success());
    let (ok, output) = run_cli(&env(&fakes, &data, &both), &["rotate-keys"]);
    assert!(ok, "{output}");
    assert!(output.contains("5 connectors, 5 re-encrypted"), "{output}");
    let (ok, again) = run_cli(&env(&fakes, &data, &both), &["rotate-keys"]);
    assert!(
        ok && again.contains("0 re-encrypted, 5 already under the current key"),
        "safe to run again: {again}"
    );

    // Only key 2: everything still decrypts.
    let server = spawn_server(&env(&fakes, &data, &key2), &log).await;
    for id in &ids {
        let r: Value = http
            .post(format!("{}/v1/connectors/{id}/test", server.base))
            .bearer_auth(&t)
            .send()
            .await
            .expect("test")
            .json()
            .await
            .expect("json");
        assert_eq!(r["success"], true, "{id} decrypts under key 2 alone: {r}");
    }
    assert!(server.stop().success());

    // A wrong key: the list still loads, every connector says why it cannot be used.
    let server = spawn_server(&env(&fakes, &data, &wrong), &log).await;
    let list = http
        .get(format!("{}/v1/connectors", server.base))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200);
    let list: Value = list.json().await.expect("json");
    let connectors = list["connectors"].as_array().expect("array");
    assert_eq!(connectors.len(), 5);
    for c in connectors {
        assert_eq!(c["error_code"], "DECRYPTION_FAILED", "{c}");
        assert!(
            c["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("rotate-keys")),
            "the hint explains: {c}"
        );
    }
    let r: Value = http
        .post(format!("{}/v1/connectors/{}/test", server.base, ids[0]))
        .bearer_auth(&t)
        .send()
        .await
        .expect("test")
        .json()
        .await
        .expect("json");
    assert_eq!(r["error_code"], "DECRYPTION_FAILED");
    assert!(server.stop().success());

    // Production without a key refuses to start, naming the variable and the keygen command.
    let mut no_key = env(&fakes, &data, "");
    no_key.retain(|(k, _)| k != "CONNECTOR_ENCRYPTION_KEY");
    let (ok, output) = run_cli(&no_key, &["serve"]);
    assert!(
        !ok && output.contains("CONNECTOR_ENCRYPTION_KEY")
            && output.contains("connector-hub keygen"),
        "{output}"
    );
    let (ok, output) = run_cli(&env(&fakes, &data, "not-a-fernet-key"), &["serve"]);
    assert!(!ok && output.contains("not a valid Fernet key"), "{output}");
    assert!(
        !output.contains("not-a-fernet-key"),
        "the bad key is not echoed: {output}"
    );

    // The audit chain verifies, and an altered entry is found.
    let (ok, output) = run_cli(&env(&fakes, &data, &key2), &["audit", "verify"]);
    assert!(ok, "{output}");
    assert!(output.contains("audit log intact"), "{output}");
    {
        let db = rusqlite::Connection::open(data.join("connector-hub.db")).expect("open db");
        db.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'refused' WHERE tenant_id = 'acme' AND seq = 3;")
            .expect("tamper");
    }
    // Entry 3 was written under key 1: with it loaded again, its contents are checked too.
    let (ok, output) = run_cli(
        &env(&fakes, &data, &format!("{key2},{key1}")),
        &["audit", "verify"],
    );
    assert!(!ok, "tampering is detected: {output}");
    assert!(output.contains("tenant acme entry 3"), "{output}");
    // Cutting off a chain's tail is noticed, with or without the retired key.
    {
        let db = rusqlite::Connection::open(data.join("connector-hub.db")).expect("open db");
        db.execute_batch("UPDATE audit_log SET outcome = 'ok' WHERE tenant_id = 'acme' AND seq = 3;
            DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = (SELECT MAX(seq) FROM audit_log WHERE tenant_id = 'acme');")
            .expect("truncate");
    }
    let (ok, output) = run_cli(&env(&fakes, &data, &key2), &["audit", "verify"]);
    assert!(!ok, "truncation is detected: {output}");
    assert!(
        output.contains("tenant acme") && output.contains("recorded head"),
        "{output}"
    );
}

#[tokio::test]
async fn keygen_prints_a_usable_key() {
    let (ok, output) = run_cli(&[], &["keygen"]);
    assert!(ok, "{output}");
    let key = output.trim();
    assert!(
        connector_hub::vault::Vault::from_key_list(
            &connector_hub::secret::SecretString::new(key),
            "K"
        )
        .is_ok(),
        "{key}"
    );
}
