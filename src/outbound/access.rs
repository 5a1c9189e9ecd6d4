//! Where a connector's API calls go and how they carry its credential: resolved once per read
//! from the catalog's `access` (or, for the REST API connector, from its own configuration), and
//! applied to every call the same way. A URL on another origin never gets the credential.

use crate::catalog::{AccessDef, ConnectorDef, StreamsFrom};
use crate::error::{Error, ErrorCode};
use crate::outbound::http::{Destination, Probe};
use crate::outbound::ProviderUrls;
use crate::secret::SecretConfig;
use reqwest::Url;

enum Credential {
    None,
    Bearer(String),
    Basic(String, String),
    Header(String, String),
    /// An API key in the query string (the REST API connector's `api_key_query`).
    Query(String, String),
}

/// A connector's API, ready to call: its base, its credential, and who chose the destination.
pub(crate) struct Access {
    base: Url,
    credential: Credential,
    headers: Vec<(String, String)>,
    destination: Destination,
    /// The field to blame when the address is wrong.
    url_field: Option<&'static str>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("base", &self.base.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

fn field<'a>(config: &'a SecretConfig, name: &str) -> Result<&'a str, Error> {
    config
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid_config(name, format!("{name} is required to read data.")))
}

/// `{field}` placeholders filled from the configuration.
pub(crate) fn fill(template: &str, config: &SecretConfig) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(field(config, name)?);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Access {
    pub(crate) fn resolve(
        def: &ConnectorDef,
        config: &SecretConfig,
        providers: &ProviderUrls,
    ) -> Result<Self, Error> {
        if def.streams_from == StreamsFrom::Settings {
            return Self::rest_api(def, config);
        }
        if def.id == super::mcp::MCP_SERVER {
            return Self::mcp_server(config);
        }
        let Some(access) = &def.access else {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("{} has no HTTP API to read from.", def.name),
            ));
        };
        let (base, destination, url_field) = Self::base(def, access, config, providers)?;
        let credential = if let Some(name) = &access.bearer {
            Credential::Bearer(field(config, name)?.to_owned())
        } else if let Some((user, password)) = def.basic_fields(None) {
            Credential::Basic(
                field(config, user)?.to_owned(),
                field(config, password)?.to_owned(),
            )
        } else if let Some(header) = &access.header {
            Credential::Header(
                header.name.clone(),
                field(config, &header.field)?.to_owned(),
            )
        } else {
            Credential::None
        };
        let headers = access
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), fill(value, config)?)))
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            base,
            credential,
            headers,
            destination,
            url_field,
        })
    }

    fn base(
        def: &ConnectorDef,
        access: &AccessDef,
        config: &SecretConfig,
        providers: &ProviderUrls,
    ) -> Result<(Url, Destination, Option<&'static str>), Error> {
        if let Some(name) = &access.base_field {
            let url = parse_base(field(config, name)?, "base_url")?;
            return Ok((url, Destination::Tenant, Some(tenant_field(name))));
        }
        let key = match config.get("environment") {
            Some("sandbox") if def.sandbox_api_base.is_some() => format!("{}_sandbox", def.id),
            _ => def.id.clone(),
        };
        let configured = providers.get(&key);
        if configured.contains("{shop}") {
            // The shop's own host: tenant-chosen unless the operator pointed Shopify elsewhere.
            let shop = field(config, "shop_domain")?.to_ascii_lowercase();
            let url = parse_base(&configured.replace("{shop}", &shop), "shop_domain")?;
            let destination = if providers.is_overridden(&key) {
                Destination::Operator
            } else {
                Destination::Tenant
            };
            return Ok((url, destination, Some("shop_domain")));
        }
        let url = providers.url(&key, "", &def.name)?;
        Ok((url, Destination::Operator, None))
    }

    fn rest_api(def: &ConnectorDef, config: &SecretConfig) -> Result<Self, Error> {
        let base = parse_base(field(config, "base_url")?, "base_url")?;
        let auth_type = config.get("auth_type").unwrap_or("none");
        let credential = match (auth_type, def.basic_fields(Some(auth_type))) {
            (_, Some((user, password))) => Credential::Basic(
                field(config, user)?.to_owned(),
                field(config, password)?.to_owned(),
            ),
            ("none", _) => Credential::None,
            ("bearer", _) => Credential::Bearer(field(config, "api_key")?.to_owned()),
            ("api_key_header", _) => Credential::Header(
                field(config, "header_name")?.to_owned(),
                field(config, "api_key")?.to_owned(),
            ),
            ("api_key_query", _) => Credential::Query(
                field(config, "header_name")?.to_owned(),
                field(config, "api_key")?.to_owned(),
            ),
            _ => {
                return Err(Error::invalid_config(
                    "auth_type",
                    "Unknown authentication type.",
                ))
            }
        };
        Ok(Self {
            base,
            credential,
            headers: Vec::new(),
            destination: Destination::Tenant,
            url_field: Some("base_url"),
        })
    }

    /// A tenant's own MCP server: its URL, and its token as a bearer token or in the header the
    /// tenant named.
    fn mcp_server(config: &SecretConfig) -> Result<Self, Error> {
        let base = parse_base(field(config, "url")?, "url")?;
        let credential = match config.get("auth_type").unwrap_or("none") {
            "none" => Credential::None,
            "bearer" => Credential::Bearer(field(config, "token")?.to_owned()),
            "header" => Credential::Header(
                field(config, "header_name")?.to_owned(),
                field(config, "token")?.to_owned(),
            ),
            _ => {
                return Err(Error::invalid_config(
                    "auth_type",
                    "Unknown authentication type.",
                ))
            }
        };
        Ok(Self {
            base,
            credential,
            headers: Vec::new(),
            destination: Destination::Tenant,
            url_field: Some("url"),
        })
    }

    /// `path` (with its query) under the API base.
    pub(crate) fn url(&self, path_and_query: &str) -> Result<Url, Error> {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path_and_query}")).map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                "The address to read from is not a valid URL.",
            )
            .with_field_opt(self.url_field)
        })
    }

    /// Whether `url` is on the API's own origin: the only place the credential may go.
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// A GET of `url` carrying the credential; `url` must be on the API's origin.
    pub(crate) fn get(&self, mut url: Url) -> Result<Probe, Error> {
        if !self.same_origin(&url) {
            return Err(Error::new(
                ErrorCode::UnexpectedResponse,
                "The API pointed to its next page on another address; Connector Hub only sends credentials where they were entered for.",
            )
            .with_field_opt(self.url_field));
        }
        if let Credential::Query(name, key) = &self.credential {
            url = without_param(&url, name);
            url.query_pairs_mut().append_pair(name, key);
        }
        let mut probe = Probe::get(url, self.destination);
        probe.url_field = self.url_field;
        probe.headers.push(("accept", "application/json".into()));
        for (name, value) in &self.headers {
            probe.custom_headers.push((name.clone(), value.clone()));
        }
        match &self.credential {
            Credential::None | Credential::Query(..) => {}
            Credential::Bearer(token) => probe.bearer = Some(token.clone()),
            Credential::Basic(user, password) => {
                probe.basic = Some((user.clone(), password.clone()))
            }
            Credential::Header(name, value) => {
                probe.custom_headers.push((name.clone(), value.clone()))
            }
        }
        Ok(probe)
    }

    /// A POST of `body` as JSON to `url`, carrying the credential as `get` does.
    pub(crate) fn post_json(&self, url: Url, body: serde_json::Value) -> Result<Probe, Error> {
        let mut probe = self.get(url)?;
        probe.body = Some(crate::outbound::http::Body::Json(body));
        Ok(probe)
    }

    /// A URL as it may be stored or shown: the REST API connector's query-string key removed.
    pub(crate) fn without_credential(&self, url: &Url) -> String {
        let Credential::Query(name, _) = &self.credential else {
            return url.to_string();
        };
        without_param(url, name).to_string()
    }
}

/// `url` without the query parameter `name` (and without an empty query left behind).
fn without_param(url: &Url, name: &str) -> Url {
    let mut clean = url.clone();
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    clean.query_pairs_mut().clear().extend_pairs(others);
    if clean.query() == Some("") {
        clean.set_query(None);
    }
    clean
}

fn tenant_field(name: &str) -> &'static str {
    match name {
        "store_url" => "store_url",
        _ => "base_url",
    }
}

fn parse_base(text: &str, blame: &'static str) -> Result<Url, Error> {
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|_| Error::invalid_config(blame, "This address is not a valid URL."))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid_config(
            blame,
            "The address must start with https://.",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(pairs: &[(&str, &str)]) -> SecretConfig {
        SecretConfig::decrypted(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn placeholders_are_filled_from_the_configuration() {
        let c = config(&[("realm_id", "123")]);
        assert_eq!(
            fill("/v3/company/{realm_id}/query", &c).ok().as_deref(),
            Some("/v3/company/123/query")
        );
        assert!(fill("/{missing}", &c).is_err());
    }

    #[test]
    fn the_credential_never_goes_to_another_origin() {
        let c = config(&[
            ("base_url", "https://api.example.com/v1"),
            ("auth_type", "api_key_query"),
            ("header_name", "key"),
            ("api_key", "canary-secret"),
        ]);
        let access = Access::rest_api(
            crate::catalog::catalog().get("rest_api").expect("rest_api"),
            &c,
        )
        .expect("access");
        let ok = Url::parse("https://api.example.com/v1/items?page=2&key=old").expect("url");
        let probe = access.get(ok.clone()).expect("same origin");
        assert_eq!(
            probe.url.as_str(),
            "https://api.example.com/v1/items?page=2&key=canary-secret"
        );
        assert_eq!(
            access.without_credential(&probe.url),
            "https://api.example.com/v1/items?page=2"
        );
        for other in [
            "https://attacker.example/v1/items",
            "http://api.example.com/v1/items",
            "https://api.example.com:8443/v1",
        ] {
            let url = Url::parse(other).expect("url");
            assert!(access.get(url).is_err(), "{other}");
        }
    }
}
