//! The one HTTP client every check uses: connect and total timeouts, no redirects (credentials are
//! never carried to another host), a cap on the response size, and the egress policy for
//! destinations a tenant chose.

use super::egress::EgressPolicy;
use super::CheckSettings;
use crate::error::{Error, ErrorCode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub(crate) struct Http {
    trusted: Client,
    /// Clients for tenant-chosen hosts, pinned to checked addresses, kept for reuse.
    pinned: super::pinned::PinnedClients,
    tls: Arc<rustls::ClientConfig>,
    settings: CheckSettings,
    pub(crate) egress: EgressPolicy,
}

/// Who chose the destination: the operator (provider base URLs) or a tenant (REST API base URL,
/// WooCommerce store, Shopify shop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Operator,
    Tenant,
}

pub(crate) struct Probe {
    pub(super) url: Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Headers named at run time (a tenant's API-key header, a provider's account header).
    pub(crate) custom_headers: Vec<(String, String)>,
    pub(crate) basic: Option<(String, String)>,
    pub(crate) bearer: Option<String>,
    /// A POST body instead of a GET (OAuth2 token requests): form fields, or JSON.
    pub(super) body: Option<Body>,
    pub(super) destination: Destination,
    /// The field to blame when the address itself is wrong.
    pub(crate) url_field: Option<&'static str>,
    /// The largest answer read, when not the checks' setting (a page of records is larger).
    pub(crate) max_bytes: Option<usize>,
}

/// What a caller of the proxy sends on: its method, its headers (already stripped of its own
/// credentials and of hop-by-hop headers) and its body.
pub(crate) struct Forward {
    pub(crate) method: reqwest::Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
    /// How long the whole exchange may take, answer included (the proxy's limit otherwise).
    pub(crate) timeout: Option<std::time::Duration>,
}

pub(crate) enum Body {
    Form(Vec<(&'static str, String)>),
    Json(serde_json::Value),
}

impl Probe {
    pub(crate) fn get(url: Url, destination: Destination) -> Self {
        Self {
            url,
            headers: Vec::new(),
            custom_headers: Vec::new(),
            max_bytes: None,
            basic: None,
            bearer: None,
            body: None,
            destination,
            url_field: None,
        }
    }

    pub(crate) fn post(url: Url, destination: Destination, body: Body) -> Self {
        Self {
            body: Some(body),
            ..Self::get(url, destination)
        }
    }

    fn carries_secret(&self) -> bool {
        self.basic.is_some()
            || self.bearer.is_some()
            || self.body.is_some()
            || !self.custom_headers.is_empty()
            || self
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("x-shopify-access-token"))
            || self.url.query().is_some_and(|q| !q.is_empty())
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// The answer was longer than the limit and `body` is its beginning only.
    pub(crate) truncated: bool,
}

impl Reply {
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `Retry-After` in seconds, from either of its two forms.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        retry_after(&self.headers)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `Retry-After` in seconds, from either of its two forms (seconds, or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0);
    u64::try_from(secs).ok()
}

/// TLS settings shared by every client: the Mozilla root store, through ring. Built once.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Arc<rustls::ClientConfig> {
    // Installing twice is harmless; the first provider installed wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl Http {
    pub(super) fn new(settings: &CheckSettings) -> Self {
        let tls = tls_config();
        let trusted = Self::builder(settings, &tls).build().unwrap_or_default();
        Self {
            trusted,
            pinned: Default::default(),
            tls,
            settings: settings.clone(),
            egress: EgressPolicy::new(settings.egress_allow.clone()),
        }
    }

    fn builder(
        settings: &CheckSettings,
        tls: &Arc<rustls::ClientConfig>,
    ) -> reqwest::ClientBuilder {
        Client::builder()
            .use_preconfigured_tls((**tls).clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("connector-hub/", env!("CARGO_PKG_VERSION")))
    }

    /// Sends the request and returns the reply, or the transport failure as a check failure.
    pub(crate) async fn send(&self, probe: Probe) -> Result<Reply, Error> {
        let client = match probe.destination {
            Destination::Operator => self.trusted.clone(),
            Destination::Tenant => self.guarded_client(&probe, probe.carries_secret()).await?,
        };
        let mut request = match &probe.body {
            None => client.get(probe.url.clone()),
            Some(Body::Form(fields)) => client.post(probe.url.clone()).form(fields),
            Some(Body::Json(value)) => client.post(probe.url.clone()).json(value),
        };
        for (name, value) in &probe.headers {
            request = request.header(*name, value);
        }
        for (name, value) in &probe.custom_headers {
            request = request.header(name.as_str(), value);
        }
        if let Some(token) = &probe.bearer {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &probe.basic {
            request = request.basic_auth(user, Some(password));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_failure(&e, probe.url_field))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = probe.max_bytes.unwrap_or(self.settings.max_response_bytes);
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if chunk.len() > room {
                        truncated = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(transport_failure(&e, probe.url_field)),
            }
        }
        Ok(Reply {
            status,
            headers,
            body,
            truncated,
        })
    }

    /// Sends the connector's request (`probe`: its URL and credential) with a caller's method,
    /// headers and body, and returns the response unread, to be streamed on. The credential's
    /// headers replace any the caller sent under the same names.
    pub(crate) async fn forward(
        &self,
        probe: Probe,
        forward: Forward,
    ) -> Result<reqwest::Response, Error> {
        let client = match probe.destination {
            Destination::Operator => self.trusted.clone(),
            // A forwarded call always carries something worth protecting: the caller's body, or
            // the credential.
            Destination::Tenant => self.guarded_client(&probe, true).await?,
        };
        let mut headers = forward.headers;
        let bad_header = || {
            Error::new(
                ErrorCode::InvalidConfig,
                "A header this connector sends is not valid.",
            )
        };
        for (name, value) in &probe.headers {
            if !headers.contains_key(*name) {
                headers.insert(
                    *name,
                    HeaderValue::from_str(value).map_err(|_| bad_header())?,
                );
            }
        }
        for (name, value) in &probe.custom_headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_header())?,
                HeaderValue::from_str(value).map_err(|_| bad_header())?,
            );
        }
        let mut request = client
            .request(forward.method, probe.url.clone())
            .headers(headers)
            .timeout(forward.timeout.unwrap_or(self.settings.proxy_timeout));
        if !forward.body.is_empty() {
            request = request.body(forward.body);
        }
        if let Some(token) = &probe.bearer {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &probe.basic {
            request = request.basic_auth(user, Some(password));
        }
        request
            .send()
            .await
            .map_err(|e| transport_failure(&e, probe.url_field))
    }

    /// A client that can only connect to the addresses we checked, so a DNS answer that changes
    /// between the check and the connection cannot bypass the policy.
    async fn guarded_client(&self, probe: &Probe, carries_secret: bool) -> Result<Client, Error> {
        let host = probe
            .url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = probe.url.port_or_known_default().unwrap_or(443);
        let addrs = self.resolve_checked(&host, port, probe.url_field).await?;
        if probe.url.scheme() == "http"
            && carries_secret
            && !addrs.iter().all(|a| self.egress.explicitly_allowed(a.ip()))
        {
            return Err(Error::new(
                ErrorCode::HttpsRequired,
                "Credentials are only sent over https://. Use an https:// address.",
            )
            .with_field_opt(probe.url_field));
        }
        let build = || {
            let mut builder = Self::builder(&self.settings, &self.tls);
            if host.parse::<IpAddr>().is_err() {
                builder = builder.resolve_to_addrs(&host, &addrs);
            }
            builder.build().ok()
        };
        self.pinned
            .get_or_build(&host, &addrs, build)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Internal,
                    "The HTTP client could not be prepared.",
                )
            })
    }

    /// Resolves a tenant-chosen host and keeps only the addresses the egress policy allows.
    pub(crate) async fn resolve_checked(
        &self,
        host: &str,
        port: u16,
        field: Option<&'static str>,
    ) -> Result<Vec<SocketAddr>, Error> {
        let resolved: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let lookup = tokio::time::timeout(
                    self.settings.connect_timeout,
                    tokio::net::lookup_host((host, port)),
                );
                match lookup.await {
                    Ok(Ok(addrs)) => addrs.collect(),
                    Ok(Err(_)) => {
                        return Err(Error::new(
                            ErrorCode::HostUnreachable,
                            format!("The host name “{host}” could not be found."),
                        )
                        .with_field_opt(field))
                    }
                    Err(_) => {
                        return Err(Error::new(
                            ErrorCode::Timeout,
                            "Looking up the host name took too long.",
                        )
                        .with_field_opt(field))
                    }
                }
            }
        };
        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| self.egress.allows(a.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(Error::new(
                ErrorCode::EgressBlocked,
                format!("“{host}” points to a private or internal address, which Connector Hub does not connect to."),
            )
            .with_field_opt(field));
        }
        Ok(allowed)
    }
}

/// Classifies a transport error without ever quoting it: reqwest's messages contain the URL, and a
/// URL can carry an API key in its query string.
fn transport_failure(e: &reqwest::Error, field: Option<&'static str>) -> Error {
    if e.is_timeout() {
        return Error::new(ErrorCode::Timeout, "The server did not answer in time.")
            .with_field_opt(field);
    }
    let chain = error_chain(e);
    if chain.contains("certificate")
        || chain.contains("tls")
        || chain.contains("handshake")
        || chain.contains("invalidcontenttype")
    {
        return Error::new(
            ErrorCode::TlsError,
            "A secure connection could not be established (TLS certificate or handshake failed).",
        )
        .with_field_opt(field);
    }
    if e.is_connect() || chain.contains("dns") || chain.contains("connection refused") {
        return Error::new(
            ErrorCode::HostUnreachable,
            "The server refused the connection or could not be reached.",
        )
        .with_field_opt(field);
    }
    Error::new(
        ErrorCode::UnexpectedResponse,
        "The connection broke before a complete answer arrived.",
    )
    .with_field_opt(field)
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut current = e.source();
    while let Some(source) = current {
        text.push_str(&format!("{source:?} ").to_lowercase());
        current = source.source();
    }
    text
}
