//! One function per section of the settings: each reads its keys (and their variables), checks
//! them, and returns the section's struct, which lives beside the code that uses it.

use super::source::{invalid, SettingsError, Source};
use super::{Environment, LogFormat, MonitorSettings};
use crate::auth::AuthSettings;
use crate::oauth::OAuthSettings;
use crate::outbound::CheckSettings;
use crate::secret::SecretString;
use crate::service::{DeliverySettings, LimitSettings, SyncSettings};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `server.public_url`: where people reach the hub, without a trailing slash; by default the
/// address it listens on.
pub(super) fn public_url(src: &Source<'_>, site_addr: SocketAddr) -> Result<String, SettingsError> {
    Ok(
        match src.optional("server.public_url", "CONNECTOR_HUB_PUBLIC_URL") {
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
        },
    )
}

pub(super) fn environment(src: &Source<'_>) -> Result<Environment, SettingsError> {
    match src
        .text("server.environment", "CONNECTOR_HUB_ENV", "development")
        .as_str()
    {
        "development" | "dev" => Ok(Environment::Development),
        "production" | "prod" => Ok(Environment::Production),
        other => Err(invalid(
            "server.environment",
            "CONNECTOR_HUB_ENV",
            &format!("development or production, got {other:?}"),
        )),
    }
}

pub(super) fn log_format(src: &Source<'_>) -> Result<LogFormat, SettingsError> {
    match src
        .text("server.log_format", "CONNECTOR_HUB_LOG_FORMAT", "text")
        .as_str()
    {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(invalid(
            "server.log_format",
            "CONNECTOR_HUB_LOG_FORMAT",
            &format!("text or json, got {other:?}"),
        )),
    }
}

/// `[auth]`: how tokens are verified; an HS256 secret must be long enough.
pub(super) fn auth(src: &Source<'_>) -> Result<AuthSettings, SettingsError> {
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
    Ok(auth)
}

/// `[checks]`: the timeouts and size cap of calls to providers, and the egress allow-list.
pub(super) fn checks(src: &Source<'_>) -> Result<CheckSettings, SettingsError> {
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
    Ok(CheckSettings {
        connect_timeout: src.millis(
            "checks.connect_timeout_ms",
            "CONNECTOR_HUB_CHECK_CONNECT_TIMEOUT_MS",
            "3000",
        )?,
        timeout: src.millis(
            "checks.timeout_ms",
            "CONNECTOR_HUB_CHECK_TIMEOUT_MS",
            "10000",
        )?,
        proxy_timeout: src.millis(
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
    })
}

/// `[limits]`: requests per minute by class, and proxied calls in flight per tenant.
pub(super) fn limits(src: &Source<'_>) -> Result<LimitSettings, SettingsError> {
    Ok(LimitSettings {
        reads_per_min: src.per_minute(
            "limits.reads_per_min",
            "CONNECTOR_HUB_RATE_READS_PER_MIN",
            "600",
        )?,
        writes_per_min: src.per_minute(
            "limits.writes_per_min",
            "CONNECTOR_HUB_RATE_WRITES_PER_MIN",
            "120",
        )?,
        tests_per_min: src.per_minute(
            "limits.tests_per_min",
            "CONNECTOR_HUB_RATE_TESTS_PER_MIN",
            "20",
        )?,
        proxy_per_min: src.per_minute(
            "limits.proxy_per_min",
            "CONNECTOR_HUB_RATE_PROXY_PER_MIN",
            "600",
        )?,
        mcp_per_min: src.per_minute(
            "limits.mcp_per_min",
            "CONNECTOR_HUB_RATE_MCP_PER_MIN",
            "300",
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
        anonymous_per_min: src.per_minute(
            "limits.anonymous_per_min",
            "CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN",
            "60",
        )?,
    })
}

/// `[monitor]`: the health monitor that re-tests connectors.
pub(super) fn monitor(src: &Source<'_>) -> Result<MonitorSettings, SettingsError> {
    Ok(MonitorSettings {
        enabled: src.flag("monitor.enabled", "CONNECTOR_HUB_MONITOR", "true")?,
        interval: src.millis(
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
    })
}

/// `[sync]`: the sync worker's lease, parallelism, retries and polling.
pub(super) fn sync(src: &Source<'_>) -> Result<SyncSettings, SettingsError> {
    Ok(SyncSettings {
        lease: src.millis("sync.lease_ms", "CONNECTOR_HUB_SYNC_LEASE_MS", "30000")?,
        concurrency: src
            .parse::<usize>(
                "sync.concurrency",
                "CONNECTOR_HUB_SYNC_CONCURRENCY",
                "4",
                "a whole number of parallel sync runs",
            )?
            .max(1),
        max_retry_wait: src.millis(
            "sync.max_retry_wait_ms",
            "CONNECTOR_HUB_SYNC_MAX_RETRY_WAIT_MS",
            "60000",
        )?,
        backoff: src.millis("sync.backoff_ms", "CONNECTOR_HUB_SYNC_BACKOFF_MS", "1000")?,
        poll: src.millis("sync.poll_ms", "CONNECTOR_HUB_SYNC_POLL_MS", "2000")?,
    })
}

/// `[deliveries]`: the webhook delivery worker's retry schedule, lease, timeout and parallelism.
/// No attempt may outlive its lease.
pub(super) fn deliveries(src: &Source<'_>) -> Result<DeliverySettings, SettingsError> {
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
        lease: src.millis(
            "deliveries.lease_ms",
            "CONNECTOR_HUB_DELIVERY_LEASE_MS",
            "60000",
        )?,
        timeout: src.millis(
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
        poll: src.millis(
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
    Ok(deliveries)
}

/// `[oauth]`: the client registrations (`providers::oauth_clients`) and how early tokens are
/// renewed.
pub(super) fn oauth(src: &Source<'_>) -> Result<OAuthSettings, SettingsError> {
    Ok(OAuthSettings {
        clients: super::providers::oauth_clients(src)?,
        refresh_margin: Duration::from_secs(src.parse(
            "oauth.refresh_margin_secs",
            "CONNECTOR_HUB_OAUTH_REFRESH_MARGIN_SECS",
            "300",
            "a whole number of seconds",
        )?),
    })
}
