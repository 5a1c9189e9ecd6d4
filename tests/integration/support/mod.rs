//! Test harness: starts the real application (real SQLite file, real HTTP listener on an ephemeral
//! port, fake providers beside it) and speaks HTTP to it.

pub mod attacker;
pub mod canary;
pub mod fakes;
pub mod oauth_flow;
pub mod process;
pub mod raw;
pub mod receiver;
pub mod store;

use connector_hub::auth::Authenticator;
use connector_hub::config::Settings;
use connector_hub::secret::SecretString;
use connector_hub::server::startup::Application;
use reqwest::{Client, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

pub const JWT_SECRET: &str = "integration-tests-secret-0123456789abcdef";

pub struct TestApp {
    pub base: String,
    pub fakes: String,
    /// The records the fake providers serve.
    pub data: std::sync::Arc<fakes::data::Dataset>,
    pub http: Client,
    pub data_dir: PathBuf,
    pub encryption_key: String,
    pub instance_id: String,
    auth: Authenticator,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_configured(extra, false).await
}

/// With `oauth`, every OAuth2 provider is registered against the fake authorization server.
pub async fn spawn_app_configured(extra: &[(&str, &str)], oauth: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = std::sync::Arc::new(fakes::data::Dataset::default());
    let fakes_addr = fakes::start_with("127.0.0.1:0".parse().expect("addr"), data.clone())
        .await
        .expect("fakes");
    let fakes = format!("http://{fakes_addr}");
    let encryption_key = connector_hub::vault::generate_key();
    let mut env: HashMap<String, String> = HashMap::from([
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
        ("CONNECTOR_HUB_ENV".into(), "production".into()),
        (
            "CONNECTOR_HUB_DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        ("CONNECTOR_ENCRYPTION_KEY".into(), encryption_key.clone()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("CONNECTOR_HUB_CHECK_TIMEOUT_MS".into(), "1500".into()),
        (
            "CONNECTOR_HUB_CHECK_CONNECT_TIMEOUT_MS".into(),
            "1000".into(),
        ),
    ]);
    env.extend(fakes::provider_env(&fakes));
    if oauth {
        env.extend(fakes::oauth_env(&fakes));
    }
    // Off unless a test asks: background re-tests and tight limits would race the assertions.
    env.insert("CONNECTOR_HUB_MONITOR".into(), "false".into());
    // No WASM bundle: these tests read server-rendered pages and the API, and a bundle built
    // from other sources (target/site after an edit) would stop the app from starting (see
    // src/build_id.rs). Tests of the built site start the binary with LEPTOS_SITE_ROOT.
    env.insert("LEPTOS_SITE_ROOT".into(), "target/no-site".into());
    for class in ["READS", "WRITES", "TESTS", "ANONYMOUS"] {
        env.insert(
            format!("CONNECTOR_HUB_RATE_{class}_PER_MIN"),
            "1000000".into(),
        );
    }
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    // After the test's own settings: an app given another app's data directory shares its store.
    let data_dir = PathBuf::from(&env["CONNECTOR_HUB_DATA_DIR"]);
    for (k, v) in store::store_env(&data_dir) {
        env.entry(k).or_insert(v);
    }
    let settings = Settings::load(None, &|k: &str| env.get(k).cloned()).expect("settings");
    let auth = Authenticator::from_secret(&SecretString::new(JWT_SECRET), &settings.auth);
    let data_dir = settings.data_dir.clone();
    let app = Application::build(settings).await.expect("app builds");
    let instance_id = app.instance_id.clone();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        base,
        fakes,
        data,
        http,
        data_dir,
        encryption_key: env
            .get("CONNECTOR_ENCRYPTION_KEY")
            .cloned()
            .unwrap_or(encryption_key),
        instance_id,
        auth,
        _dir: dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn token(&self, tenant: &str, user: &str) -> String {
        self.auth.mint(tenant, user, 600).expect("mint")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser's session cookie (`name=value`) for `token`, as `/session` sets it.
    pub async fn session_cookie(&self, token: &str) -> String {
        let signin = self
            .http
            .get(self.url(&format!("/session?token={token}")))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .expect("sign in");
        signin
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Creates a connector and returns its id.
    pub async fn create(&self, token: &str, body: Value) -> String {
        let response = self.post("/v1/connectors", token, &body).await;
        assert_eq!(
            response.status(),
            201,
            "create failed: {}",
            response.text().await.unwrap_or_default()
        );
        let view: Value = response.json().await.expect("json");
        view["connector_id"].as_str().expect("id").to_owned()
    }

    /// Runs an unsaved test and returns the result.
    pub async fn check(&self, token: &str, connector_type: &str, config: Value) -> Value {
        let response = self
            .post(
                "/v1/connectors/test",
                token,
                &serde_json::json!({"connector_type": connector_type, "config": config}),
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "test endpoint: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("json")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Stops the server but hands back its data directory, for another process sharing it.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self._dir
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// Asserts the error shape and code of a response and returns the error object.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    body["error"].clone()
}
