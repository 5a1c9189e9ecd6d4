//! Runtime settings: `Leptos.toml` with environment overrides, loaded once into one typed struct.
//!
//! A wrong value stops the server with a message naming the key and its variable, and saying what
//! is expected. Secret values are never repeated in those messages.

mod providers;
mod sections;
mod source;

pub(crate) use source::SettingsError;

use crate::auth::AuthSettings;
use crate::oauth::OAuthSettings;
use crate::outbound::{CheckSettings, ProviderUrls};
use crate::secret::SecretString;
use crate::service::{DeliverySettings, LimitSettings, SyncSettings};
use source::Source;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) site_addr: SocketAddr,
    pub(crate) site_root: PathBuf,
    pub(crate) public_url: String,
    pub(crate) environment: Environment,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub(crate) max_body_bytes: usize,
    pub(crate) mongo_uri: Option<SecretString>,
    pub(crate) mongo_db: String,
    pub auth: AuthSettings,
    pub(crate) encryption_key: Option<SecretString>,
    pub(crate) encryption_key_file: Option<PathBuf>,
    pub checks: CheckSettings,
    pub providers: ProviderUrls,
    pub(crate) limits: LimitSettings,
    /// Whether encoded listing pages are reused while the store reports no change.
    pub(crate) page_cache: bool,
    pub(crate) monitor: MonitorSettings,
    pub(crate) oauth: OAuthSettings,
    pub(crate) sync: SyncSettings,
    pub(crate) deliveries: DeliverySettings,
    /// Signing secrets of providers' webhooks that are the operator's, by connector type.
    pub(crate) webhook_secrets: std::collections::BTreeMap<String, crate::secret::SecretString>,
}

#[derive(Debug, Clone, Copy)]
pub struct MonitorSettings {
    pub(crate) enabled: bool,
    pub(crate) interval: Duration,
    pub(crate) concurrency: usize,
}

impl Settings {
    /// Loads from `CONNECTOR_HUB_CONFIG`, else `./Leptos.toml` when present, else defaults; the
    /// process environment overrides every key.
    pub fn from_environment() -> Result<Self, SettingsError> {
        let env = |name: &str| std::env::var(name).ok();
        let path = match env("CONNECTOR_HUB_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("Leptos.toml")).filter(|p| p.is_file()),
        };
        Self::load(path.as_deref(), &env)
    }

    /// Reads every section in a fixed order; the first wrong value stops it, named with its key
    /// and variable.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let src = Source {
            file: source::read_file(path)?,
            env,
        };
        let site_addr: SocketAddr = src.parse(
            "server.site_addr",
            "LEPTOS_SITE_ADDR",
            "127.0.0.1:3000",
            "an address and port such as 127.0.0.1:3000",
        )?;
        let public_url = sections::public_url(&src, site_addr)?;
        let environment = sections::environment(&src)?;
        let log_format = sections::log_format(&src)?;
        let max_body_bytes: usize = src.parse(
            "server.max_body_bytes",
            "CONNECTOR_HUB_MAX_BODY_BYTES",
            "65536",
            "a size in bytes",
        )?;
        let auth = sections::auth(&src)?;
        let checks = sections::checks(&src)?;
        let providers = providers::provider_urls(&src)?;
        let limits = sections::limits(&src)?;
        let monitor = sections::monitor(&src)?;
        let sync = sections::sync(&src)?;
        let deliveries = sections::deliveries(&src)?;
        let oauth = sections::oauth(&src)?;
        let webhook_secrets = providers::webhook_secrets(&src, &oauth.clients);

        Ok(Self {
            site_addr,
            site_root: PathBuf::from(src.text(
                "server.site_root",
                "LEPTOS_SITE_ROOT",
                "target/site",
            )),
            public_url,
            environment,
            data_dir: PathBuf::from(src.text(
                "server.data_dir",
                "CONNECTOR_HUB_DATA_DIR",
                "./data",
            )),
            log_format,
            max_body_bytes,
            mongo_uri: src
                .optional("storage.mongo_uri", "MONGO_URI")
                .map(SecretString::new),
            mongo_db: src.text("storage.mongo_db", "MONGO_DB", "connector_hub"),
            auth,
            encryption_key: src
                .optional("vault.encryption_key", "CONNECTOR_ENCRYPTION_KEY")
                .map(SecretString::new),
            encryption_key_file: src
                .optional("vault.encryption_key_file", "CONNECTOR_ENCRYPTION_KEY_FILE")
                .map(PathBuf::from),
            checks,
            providers,
            limits,
            page_cache: src.flag("server.page_cache", "CONNECTOR_HUB_PAGE_CACHE", "true")?,
            monitor,
            oauth,
            sync,
            deliveries,
            webhook_secrets,
        })
    }

    pub fn is_development(&self) -> bool {
        self.environment == Environment::Development
    }

    /// Where a development server keeps what it generates for itself (a JWT secret); `None` in
    /// production, which must be given everything.
    pub fn development_data_dir(&self) -> Option<&Path> {
        self.is_development().then_some(self.data_dir.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn repo_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml")
    }

    #[test]
    fn the_shipped_file_loads() {
        let s = Settings::load(Some(&repo_file()), &env(&[])).expect("Leptos.toml loads");
        assert_eq!(s.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert_eq!(s.checks.timeout, Duration::from_secs(10));
        assert_eq!(s.providers.get("stripe"), "https://api.stripe.com");
        assert!(!s.providers.is_overridden("stripe"));
        assert!(s.mongo_uri.is_none());
        assert!(s.page_cache && s.monitor.enabled);
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = Settings::load(
            Some(&repo_file()),
            &env(&[
                ("LEPTOS_SITE_ADDR", "127.0.0.1:4010"),
                ("CONNECTOR_HUB_ENV", "production"),
                ("CONNECTOR_HUB_DATA_DIR", "/var/lib/hub"),
                (
                    "CONNECTOR_HUB_EGRESS_ALLOW",
                    "127.0.0.0/8, ::1/128,10.1.2.3",
                ),
                (
                    "CONNECTOR_HUB_PROVIDER_STRIPE_URL",
                    "http://127.0.0.1:9101/",
                ),
                ("CONNECTOR_HUB_PAGE_CACHE", "off"),
            ]),
        )
        .expect("loads");
        assert!(!s.page_cache);
        assert_eq!(s.site_addr.port(), 4010);
        assert_eq!(s.environment, Environment::Production);
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/hub"));
        assert_eq!(s.checks.egress_allow.len(), 3);
        assert_eq!(s.providers.get("stripe"), "http://127.0.0.1:9101");
        assert!(s.providers.is_overridden("stripe"));
    }

    #[test]
    fn a_bad_value_names_the_key_and_what_is_expected() {
        let cases = [
            (
                "CONNECTOR_HUB_CHECK_TIMEOUT_MS",
                "soon",
                "checks.timeout_ms",
            ),
            ("CONNECTOR_HUB_ENV", "staging", "server.environment"),
            ("LEPTOS_SITE_ADDR", "localhost", "server.site_addr"),
            (
                "CONNECTOR_HUB_EGRESS_ALLOW",
                "10.0.0.0/33",
                "checks.egress_allow",
            ),
            (
                "CONNECTOR_HUB_PROVIDER_SHOPIFY_URL",
                "http://127.0.0.1:1",
                "providers.shopify_url",
            ),
            ("JWT_SECRET", "short", "auth.jwt_secret"),
            ("CONNECTOR_HUB_PAGE_CACHE", "sometimes", "server.page_cache"),
            ("CONNECTOR_HUB_MONITOR", "maybe", "monitor.enabled"),
            // Shorter than the 15 s a delivery attempt may take: an attempt could outlive it.
            (
                "CONNECTOR_HUB_DELIVERY_LEASE_MS",
                "10000",
                "deliveries.lease_ms",
            ),
            (
                "CONNECTOR_HUB_PROXY_IN_FLIGHT_PER_TENANT",
                "0",
                "limits.proxy_in_flight",
            ),
        ];
        for (var, value, key) in cases {
            let err = Settings::load(None, &env(&[(var, value)]))
                .expect_err(var)
                .to_string();
            assert!(
                err.contains(key) && err.contains(var) && err.contains("expected"),
                "{err}"
            );
        }
        let err = Settings::load(None, &env(&[("JWT_SECRET", "short")]))
            .expect_err("short")
            .to_string();
        assert!(
            !err.contains("short\""),
            "a secret value is never echoed: {err}"
        );
    }

    #[test]
    fn a_broken_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Leptos.toml");
        std::fs::write(&path, "[server\nsite_addr = 1").expect("write");
        let err = Settings::load(Some(&path), &env(&[]))
            .expect_err("syntax")
            .to_string();
        assert!(
            err.contains("Leptos.toml") && err.contains("not valid TOML"),
            "{err}"
        );
    }
}
