//! The one way out to providers. Every call the hub makes to a provider — a connection check, a
//! page of a sync or preview, a proxied call, a push-channel registration, a token renewal, an
//! event delivered to a tenant's endpoint — goes through the client here (`http`: timeouts, a
//! size cap, no redirects, the egress policy of `egress` with pinned addresses), to an address
//! resolved from the catalog's `access` with the credential placed only on its own origin
//! (`access`), decided on by one policy for renewing a refused token once and waiting out limits
//! and outages (`retry`), and read back with the connector's secrets taken out (`scrub`).

pub(crate) mod access;
pub(crate) mod answers;
pub(crate) mod egress;
pub(crate) mod http;
pub(crate) mod mcp;
mod pinned;
pub(crate) mod retry;
pub(crate) mod scrub;

use crate::error::{Error, ErrorCode};
use http::Http;
use ipnet::IpNet;
use reqwest::Url;
use std::collections::BTreeMap;
use std::time::Duration;

/// How every call to a provider reaches out: timeouts, the largest answer read,
/// and the private networks the operator allows.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    /// Total time a call through the proxy may take, its answer streamed back included (a
    /// download takes longer than a connection test).
    pub(crate) proxy_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) egress_allow: Vec<IpNet>,
}

/// Base URLs of the providers' APIs, by key (`stripe`, `square_sandbox`, …).
#[derive(Debug, Clone, Default)]
pub struct ProviderUrls(pub(crate) BTreeMap<String, String>);

impl ProviderUrls {
    pub(crate) fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or_default()
    }

    /// `path` on the provider's API; `label` names the provider if the configured base is not a
    /// valid address.
    pub(crate) fn url(&self, key: &str, path: &str, label: &str) -> Result<Url, Error> {
        Url::parse(&format!("{}{path}", self.get(key))).map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("The configured {label} address is not a valid URL."),
            )
        })
    }

    /// Whether the operator pointed this provider somewhere other than its public default, e.g. a
    /// local fake or a sandbox. Operator-chosen destinations are trusted by the egress policy.
    pub(crate) fn is_overridden(&self, key: &str) -> bool {
        crate::catalog::catalog()
            .api_bases()
            .find(|(k, _)| k == key)
            .is_some_and(|(_, default)| self.get(key) != default)
    }
}

/// The client every provider call goes through, with the operator's provider addresses.
pub struct Outbound {
    http: Http,
    providers: ProviderUrls,
    settings: CheckSettings,
}

impl Outbound {
    pub fn new(settings: &CheckSettings, providers: &ProviderUrls) -> Self {
        Self {
            http: Http::new(settings),
            providers: providers.clone(),
            settings: settings.clone(),
        }
    }

    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    pub(crate) fn providers(&self) -> &ProviderUrls {
        &self.providers
    }

    pub(crate) fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    /// The longest one provider call may take (the HTTP client's whole-request timeout).
    pub(crate) fn call_timeout(&self) -> Duration {
        self.settings.timeout
    }
}
