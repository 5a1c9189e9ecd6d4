//! Public-key verification (RS256, ES256) and algorithm confusion against it.

use connector_hub::auth::{now_secs, Authenticator};
use connector_hub::config::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn authenticator(public_key: &str) -> Authenticator {
    let path = fixture(public_key);
    let settings = Settings::load(None, &|k: &str| match k {
        "JWT_PUBLIC_KEY_FILE" => Some(path.clone()),
        "CONNECTOR_HUB_ENV" => Some("production".into()),
        _ => None,
    })
    .expect("settings");
    Authenticator::from_settings(&settings.auth, settings.development_data_dir())
        .expect("public key loads")
}

fn claims() -> serde_json::Value {
    json!({"sub": "ana", "tenant_id": "acme", "exp": now_secs() + 600})
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

#[test]
fn rs256_tokens_verify_and_confusion_is_refused() {
    let auth = authenticator("rsa-public.pem");
    let key = EncodingKey::from_rsa_pem(&read("rsa-private.pem")).expect("rsa key");
    let good = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims(), &key).expect("sign");
    let principal = auth.verify(&good).expect("valid RS256");
    assert_eq!(principal.tenant.as_str(), "acme");
    // The classic confusion: an HS256 token "signed" with the public key as the HMAC secret.
    let public = read("rsa-public.pem");
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&public),
    )
    .expect("sign");
    assert!(
        auth.verify(&confused).is_none(),
        "HS256 with the public key must be refused"
    );
    assert!(
        auth.mint("acme", "ana", 60).is_none(),
        "a public-key deployment cannot mint"
    );
}

#[test]
fn es256_tokens_verify() {
    let auth = authenticator("ec-public.pem");
    let key = EncodingKey::from_ec_pem(&read("ec-private.pem")).expect("ec key");
    let good = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims(), &key).expect("sign");
    assert!(auth.verify(&good).is_some());
    let rsa = EncodingKey::from_rsa_pem(&read("rsa-private.pem")).expect("rsa key");
    let other =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims(), &rsa).expect("sign");
    assert!(auth.verify(&other).is_none(), "only ES256 is accepted");
}

#[test]
fn a_missing_or_bad_public_key_is_a_clear_startup_error() {
    for (value, expect) in [
        ("/nonexistent/key.pem", "JWT_PUBLIC_KEY_FILE"),
        (fixture("README.md").as_str(), "not an RSA or EC public key"),
    ] {
        let v = value.to_owned();
        let settings = Settings::load(None, &|k: &str| {
            (k == "JWT_PUBLIC_KEY_FILE").then(|| v.clone())
        })
        .expect("settings");
        let err = Authenticator::from_settings(&settings.auth, settings.development_data_dir())
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(expect), "{err}");
    }
}
