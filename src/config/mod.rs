//! Runtime settings: `Leptos.toml` with environment overrides, loaded once into one typed struct.
//!
//! A wrong value stops the server with a message naming the key and its variable, and saying what
//! is expected. Secret values are never repeated in those messages.

mod providers;
mod source;

pub use source::SettingsError;

use crate::auth::AuthSettings;
use crate::oauth::OAuthSettings;
use crate::outbound::{CheckSettings, ProviderUrls};
use crate::secret::SecretString;
use crate::service::{DeliverySettings, LimitSettings, SyncSettings};
use ipnet::IpNet;
use source::{invalid, Source};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
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
    pub site_addr: SocketAddr,
    pub site_root: PathBuf,
    pub public_url: String,
    pub environment: Environment,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub max_body_bytes: usize,
    pub mongo_uri: Option<SecretString>,
    pub mongo_db: String,
    pub auth: AuthSettings,
    pub encryption_key: Option<SecretString>,
    pub encryption_key_file: Option<PathBuf>,
    pub checks: CheckSettings,
    pub providers: ProviderUrls,
    pub limits: LimitSettings,
    /// Whether encoded listing pages are reused while the store reports no change.
    pub page_cache: bool,
    pub monitor: MonitorSettings,
    pub oauth: OAuthSettings,
    pub sync: SyncSettings,
    pub deliveries: DeliverySettings,
    /// Signing secrets of providers' webhooks that are the operator's, by connector type.
    pub webhook_secrets: std::collections::BTreeMap<String, crate::secret::SecretString>,
}

#[derive(Debug, Clone, Copy)]
pub struct MonitorSettings {
    pub enabled: bool,
    pub interval: Duration,
    pub concurrency: usize,
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

    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| SettingsError::Syntax {
                        path: path.to_owned(),
                        message: e.message().to_owned(),
                    })?
            }
            None => toml::Table::new(),
        };
        let src = Source { file, env };

        let site_addr: SocketAddr = src.parse(
            "server.site_addr",
            "LEPTOS_SITE_ADDR",
            "127.0.0.1:3000",
            "an address and port such as 127.0.0.1:3000",
        )?;
        let public_url = match src.optional("server.public_url", "CONNECTOR_HUB_PUBLIC_URL") {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        "server.public_url",
                        "CONNECTOR_HUB_PUBLIC_URL",
                        &format!("an http:// or https:// URL, got {url:?}"),
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://{site_addr}"),
        };
        let environment = match src
            .text("server.environment", "CONNECTOR_HUB_ENV", "development")
            .as_str()
        {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                return Err(invalid(
                    "server.environment",
                    "CONNECTOR_HUB_ENV",
                    &format!("development or production, got {other:?}"),
                ))
            }
        };
        let log_format = match src
            .text("server.log_format", "CONNECTOR_HUB_LOG_FORMAT", "text")
            .as_str()
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "server.log_format",
                    "CONNECTOR_HUB_LOG_FORMAT",
                    &format!("text or json, got {other:?}"),
                ))
            }
        };
        let max_body_bytes: usize = src.parse(
            "server.max_body_bytes",
            "CONNECTOR_HUB_MAX_BODY_BYTES",
            "65536",
            "a size in bytes",
        )?;

        let jwt_public_key_file = src
            .optional("auth.jwt_public_key_file", "JWT_PUBLIC_KEY_FILE")
            .map(PathBuf::from);
        let auth = AuthSettings {
            jwt_secret: src
                .optional("auth.jwt_secret", "JWT_SECRET")
                .map(SecretString::new),
            jwt_public_key_file,
            jwt_issuer: src.optional("auth.jwt_issuer", "JWT_ISSUER"),
            jwt_audience: src.optional("auth.jwt_audience", "JWT_AUDIENCE"),
            session_hours: src.parse(
                "auth.session_hours",
                "CONNECTOR_HUB_SESSION_HOURS",
                "12",
                "a whole number of hours",
            )?,
        };
        if let Some(secret) = &auth.jwt_secret {
            if secret.expose().len() < 32 {
                return Err(invalid(
                    "auth.jwt_secret",
                    "JWT_SECRET",
                    "at least 32 characters for HS256",
                ));
            }
        }

        let millis = |key: &str, env: &str, default: &str| -> Result<Duration, SettingsError> {
            let ms: u64 = src.parse(key, env, default, "a whole number of milliseconds")?;
            if ms == 0 {
                return Err(invalid(key, env, "a number of milliseconds above zero"));
            }
            Ok(Duration::from_millis(ms))
        };
        let egress_allow = src
            .text("checks.egress_allow", "CONNECTOR_HUB_EGRESS_ALLOW", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|cidr| {
                cidr.parse::<IpNet>()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "checks.egress_allow",
                            "CONNECTOR_HUB_EGRESS_ALLOW",
                            &format!("comma-separated CIDRs such as 10.0.0.0/8, got {cidr:?}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let checks = CheckSettings {
            connect_timeout: millis(
                "checks.connect_timeout_ms",
                "CONNECTOR_HUB_CHECK_CONNECT_TIMEOUT_MS",
                "3000",
            )?,
            timeout: millis(
                "checks.timeout_ms",
                "CONNECTOR_HUB_CHECK_TIMEOUT_MS",
                "10000",
            )?,
            proxy_timeout: millis(
                "checks.proxy_timeout_ms",
                "CONNECTOR_HUB_PROXY_TIMEOUT_MS",
                "60000",
            )?,
            max_response_bytes: src.parse(
                "checks.max_response_bytes",
                "CONNECTOR_HUB_CHECK_MAX_RESPONSE_BYTES",
                "1048576",
                "a size in bytes",
            )?,
            egress_allow,
        };

        let providers = providers::provider_urls(&src)?;

        let per_min = |key: &str, env: &str, default: &str| -> Result<u64, SettingsError> {
            let n: u64 = src.parse(key, env, default, "a whole number of requests per minute")?;
            if n == 0 {
                return Err(invalid(
                    key,
                    env,
                    "a number of requests per minute above zero",
                ));
            }
            Ok(n)
        };
        let limits = LimitSettings {
            reads_per_min: per_min(
                "limits.reads_per_min",
                "CONNECTOR_HUB_RATE_READS_PER_MIN",
                "600",
            )?,
            writes_per_min: per_min(
                "limits.writes_per_min",
                "CONNECTOR_HUB_RATE_WRITES_PER_MIN",
                "120",
            )?,
            tests_per_min: per_min(
                "limits.tests_per_min",
                "CONNECTOR_HUB_RATE_TESTS_PER_MIN",
                "20",
            )?,
            proxy_per_min: per_min(
                "limits.proxy_per_min",
                "CONNECTOR_HUB_RATE_PROXY_PER_MIN",
                "600",
            )?,
            proxy_in_flight: match src.parse::<u64>(
                "limits.proxy_in_flight",
                "CONNECTOR_HUB_PROXY_IN_FLIGHT_PER_TENANT",
                "32",
                "a whole number of calls",
            )? {
                0 => {
                    return Err(invalid(
                        "limits.proxy_in_flight",
                        "CONNECTOR_HUB_PROXY_IN_FLIGHT_PER_TENANT",
                        "a number of calls above zero",
                    ))
                }
                n => n,
            },
            anonymous_per_min: per_min(
                "limits.anonymous_per_min",
                "CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN",
                "60",
            )?,
        };
        let monitor = MonitorSettings {
            enabled: src.flag("monitor.enabled", "CONNECTOR_HUB_MONITOR", "true")?,
            interval: millis(
                "monitor.interval_ms",
                "CONNECTOR_HUB_MONITOR_INTERVAL_MS",
                "60000",
            )?,
            concurrency: src
                .parse::<usize>(
                    "monitor.concurrency",
                    "CONNECTOR_HUB_MONITOR_CONCURRENCY",
                    "4",
                    "a whole number of parallel tests",
                )?
                .max(1),
        };

        let sync = SyncSettings {
            lease: millis("sync.lease_ms", "CONNECTOR_HUB_SYNC_LEASE_MS", "30000")?,
            concurrency: src
                .parse::<usize>(
                    "sync.concurrency",
                    "CONNECTOR_HUB_SYNC_CONCURRENCY",
                    "4",
                    "a whole number of parallel sync runs",
                )?
                .max(1),
            max_retry_wait: millis(
                "sync.max_retry_wait_ms",
                "CONNECTOR_HUB_SYNC_MAX_RETRY_WAIT_MS",
                "60000",
            )?,
            backoff: millis("sync.backoff_ms", "CONNECTOR_HUB_SYNC_BACKOFF_MS", "1000")?,
            poll: millis("sync.poll_ms", "CONNECTOR_HUB_SYNC_POLL_MS", "2000")?,
        };

        let schedule_text: String = src.parse(
            "deliveries.schedule_ms",
            "CONNECTOR_HUB_DELIVERY_SCHEDULE_MS",
            "5000,300000,1800000,7200000,18000000,36000000,36000000",
            "milliseconds between attempts, separated by commas",
        )?;
        let schedule = schedule_text
            .split(',')
            .map(|ms| ms.trim().parse::<u64>().map(Duration::from_millis))
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(
                    "deliveries.schedule_ms",
                    "CONNECTOR_HUB_DELIVERY_SCHEDULE_MS",
                    "milliseconds between attempts, separated by commas",
                )
            })?;
        let deliveries = DeliverySettings {
            schedule,
            lease: millis(
                "deliveries.lease_ms",
                "CONNECTOR_HUB_DELIVERY_LEASE_MS",
                "60000",
            )?,
            timeout: millis(
                "deliveries.timeout_ms",
                "CONNECTOR_HUB_DELIVERY_TIMEOUT_MS",
                "15000",
            )?,
            concurrency: src
                .parse::<usize>(
                    "deliveries.concurrency",
                    "CONNECTOR_HUB_DELIVERY_CONCURRENCY",
                    "8",
                    "a whole number of deliveries sent at once",
                )?
                .max(1),
            per_tenant: src
                .parse::<usize>(
                    "deliveries.per_tenant",
                    "CONNECTOR_HUB_DELIVERY_PER_TENANT",
                    "4",
                    "a whole number of one tenant's deliveries sent at once",
                )?
                .max(1),
            poll: millis(
                "deliveries.poll_ms",
                "CONNECTOR_HUB_DELIVERY_POLL_MS",
                "1000",
            )?,
        };

        // An attempt that outlived its lease could be claimed and sent again by another process.
        if deliveries.timeout >= deliveries.lease {
            return Err(invalid(
                "deliveries.lease_ms",
                "CONNECTOR_HUB_DELIVERY_LEASE_MS",
                "milliseconds longer than CONNECTOR_HUB_DELIVERY_TIMEOUT_MS, so no attempt outlives its lease",
            ));
        }

        let oauth = OAuthSettings {
            clients: providers::oauth_clients(&src)?,
            refresh_margin: Duration::from_secs(src.parse(
                "oauth.refresh_margin_secs",
                "CONNECTOR_HUB_OAUTH_REFRESH_MARGIN_SECS",
                "300",
                "a whole number of seconds",
            )?),
        };
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
