//! Key rotation through restarts and the operator CLI, and what a wrong key looks like.

use crate::support::process::{run_cli, spawn_server};
use crate::support::raw;
use serde_json::{json, Value};

fn env(fakes: &str, data: &std::path::Path, keys: &str) -> Vec<(String, String)> {
    let mut env = crate::support::process::server_env(fakes, data, keys);
    // The webhook receiver is on this machine too.
    env.push(("CONNECTOR_HUB_EGRESS_ALLOW".into(), "127.0.0.0/8".into()));
    env.push(("CONNECTOR_HUB_DELIVERY_POLL_MS".into(), "50".into()));
    env
}

/// Runs a sync of `id` to its end; the counts per stream.
async fn sync(http: &reqwest::Client, base: &str, t: &str, id: &str) -> Value {
    let queued: Value = http
        .post(format!("{base}/v1/connectors/{id}/sync"))
        .bearer_auth(t)
        .json(&json!({}))
        .send()
        .await
        .expect("sync")
        .json()
        .await
        .expect("json");
    let run_id = queued["run_id"].as_str().expect("run id").to_owned();
    for _ in 0..400 {
        let run: Value = http
            .get(format!("{base}/v1/connectors/{id}/syncs/{run_id}"))
            .bearer_auth(t)
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        match run["status"].as_str() {
            Some("succeeded") => return run["streams"].clone(),
            Some("failed") => panic!("the sync failed: {run}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
    panic!("the sync did not end");
}

/// Whether `received` carries a Standard Webhooks signature made with `secret` (`whsec_…`).
fn signed_with(secret: &str, received: &crate::support::receiver::Received) -> bool {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use hmac::Mac;
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(received.header("webhook-id").as_bytes());
    mac.update(b".");
    mac.update(received.header("webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    received
        .header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

fn token() -> String {
    crate::support::process::token("acme", "ops@acme.test")
}

#[tokio::test]
async fn rotate_keys_then_drop_the_old_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let dataset = std::sync::Arc::new(crate::support::fakes::data::Dataset::default());
    dataset.seed("stripe/customers", 240);
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start_with("127.0.0.1:0".parse().expect("addr"), dataset)
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
    // Records, an endpoint's signing secret and a queued event, all sealed under key 1 too.
    let first_sync = sync(&http, &server.base, &t, &ids[0]).await;
    assert_eq!(first_sync["customers"]["added"], 240, "{first_sync}");
    let receiver = crate::support::receiver::Receiver::start().await;
    let endpoint: Value = http
        .post(format!("{}/v1/webhook-endpoints", server.base))
        .bearer_auth(&t)
        .json(&json!({"url": receiver.url, "events": ["connector.updated"]}))
        .send()
        .await
        .expect("endpoint")
        .json()
        .await
        .expect("json");
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
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
    // 240 customers and the endpoint's secret.
    assert!(output.contains("241 re-sealed, 0 could not"), "{output}");
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
    // The records open, and the next sync finds nothing changed (their digests were
    // recomputed under key 2); the endpoint still signs with the secret it was given.
    let records: Value = http
        .get(format!(
            "{}/v1/connectors/{}/records?stream=customers&limit=5",
            server.base, ids[0]
        ))
        .bearer_auth(&t)
        .send()
        .await
        .expect("records")
        .json()
        .await
        .expect("json");
    assert_eq!(
        records["records"][0]["data"]["object"], "customer",
        "{records}"
    );
    let again = sync(&http, &server.base, &t, &ids[0]).await;
    assert_eq!(
        (&again["customers"]["added"], &again["customers"]["updated"]),
        (&json!(0), &json!(0)),
        "{again}"
    );
    let renamed = http
        .patch(format!("{}/v1/connectors/{}", server.base, ids[1]))
        .bearer_auth(&t)
        .json(&json!({"display_name": "Renamed"}))
        .send()
        .await
        .expect("rename");
    assert_eq!(renamed.status(), 200);
    let delivered = receiver.wait_for(1, 10).await;
    assert!(
        delivered.iter().any(|r| signed_with(&secret, r)),
        "signed with the endpoint's secret"
    );
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
    raw::set_audit_outcome(&data, "acme", 3, "refused").await;
    // Entry 3 was written under key 1: with it loaded again, its contents are checked too.
    let (ok, output) = run_cli(
        &env(&fakes, &data, &format!("{key2},{key1}")),
        &["audit", "verify"],
    );
    assert!(!ok, "tampering is detected: {output}");
    assert!(output.contains("tenant acme entry 3"), "{output}");
    // Cutting off a chain's tail is noticed, with or without the retired key.
    raw::set_audit_outcome(&data, "acme", 3, "ok").await;
    raw::cut_audit_tail(&data, "acme").await;
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

/// A configuration stored before ciphertexts named their owner (a bare map, which opens under
/// any tenant's row) is sealed again by `rotate-keys` even when it is under the current key, and
/// then names its owner; the command says nothing remains.
#[tokio::test]
async fn rotate_keys_binds_configurations_stored_before_owners_were_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let http = reqwest::Client::new();
    let t = token();
    let server = spawn_server(&env(&fakes, &data, &key), &log).await;
    let created: Value = http
        .post(format!("{}/v1/connectors", server.base))
        .bearer_auth(&t)
        .json(&json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_legacy42"}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["connector_id"].as_str().expect("id").to_owned();
    assert!(server.stop().success());

    let vault = connector_hub::vault::Vault::from_key_list(
        &connector_hub::secret::SecretString::new(key.clone()),
        "CONNECTOR_ENCRYPTION_KEY",
    )
    .expect("vault");
    let stored = || async { raw::connector(&data, &id).await.encrypted_config };
    assert!(vault.names_owner(&stored().await), "written bound");
    let legacy = vault.seal(br#"{"api_key":"sk_test_good_legacy42"}"#);
    let planted = raw::set_connector(
        &data,
        &id,
        &[("encrypted_config", raw::Field::Text(Some(legacy)))],
    )
    .await;
    assert_eq!(planted, 1, "a legacy ciphertext planted");
    let (ok, output) = run_cli(&env(&fakes, &data, &key), &["rotate-keys"]);
    assert!(ok, "{output}");
    assert!(output.contains("1 connectors, 1 re-encrypted"), "{output}");
    assert!(
        output.contains("Nothing remains under an older key"),
        "{output}"
    );
    assert!(vault.names_owner(&stored().await), "bound to its owner now");
}
