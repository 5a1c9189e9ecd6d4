//! Connection checks: one small module per provider, each calling that provider's cheapest
//! authenticated endpoint (through the one way out, `outbound`) and mapping its documented
//! answers onto the shared error vocabulary, with the mapping every provider shares here.

mod google_drive;
mod hubspot;
mod mcp_server;
pub(crate) mod postgresql;
mod quickbooks;
mod rest_api;
mod sage;
mod shopify;
mod square;
mod stripe;
mod woocommerce;
mod xero;

use crate::error::{Error, ErrorCode};
use crate::outbound::http::{Destination, Http, Probe, Reply};
use crate::outbound::{CheckSettings, Outbound, ProviderUrls};
use crate::secret::SecretConfig;
use reqwest::Url;
use std::collections::BTreeMap;

/// Non-secret facts a successful check learned.
pub(crate) type Details = BTreeMap<String, String>;

pub(crate) type Outcome = Result<Details, Error>;

/// What a provider module gets to work with.
pub(crate) struct Ctx<'a> {
    pub(crate) http: &'a Http,
    pub(crate) providers: &'a ProviderUrls,
    pub(crate) settings: &'a CheckSettings,
    pub(crate) config: &'a SecretConfig,
}

impl<'a> Ctx<'a> {
    /// What a provider module (or a reader of the provider's data) works with.
    pub(crate) fn new(outbound: &'a Outbound, config: &'a SecretConfig) -> Self {
        Self {
            http: outbound.http(),
            providers: outbound.providers(),
            settings: outbound.settings(),
            config,
        }
    }

    /// A field the catalog validation guarantees is present.
    pub(crate) fn field(&self, name: &str) -> Result<&str, Error> {
        self.config
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid_config(name, format!("{name} is required.")))
    }

    /// The operator-configured base URL of a provider plus a path.
    pub(crate) fn provider_url(&self, provider: &str, path: &str) -> Result<Url, Error> {
        self.providers.url(provider, path, provider)
    }

    /// A GET to an operator-configured provider with a bearer token.
    pub(crate) async fn bearer_get(
        &self,
        provider: &str,
        path: &str,
        token_field: &str,
    ) -> Result<Reply, Error> {
        let mut probe = Probe::get(self.provider_url(provider, path)?, Destination::Operator);
        probe.bearer = Some(self.field(token_field)?.to_owned());
        probe.headers.push(("accept", "application/json".into()));
        self.http.send(probe).await
    }
}

/// Runs the check for `connector_type` with an already validated configuration.
pub async fn check(outbound: &Outbound, connector_type: &str, config: &SecretConfig) -> Outcome {
    let ctx = Ctx::new(outbound, config);
    match connector_type {
        "stripe" => stripe::check(&ctx).await,
        "shopify" => shopify::check(&ctx).await,
        "square" => square::check(&ctx).await,
        "xero" => xero::check(&ctx).await,
        "quickbooks" => quickbooks::check(&ctx).await,
        "sage" => sage::check(&ctx).await,
        "woocommerce" => woocommerce::check(&ctx).await,
        "hubspot" => hubspot::check(&ctx).await,
        "google_drive" => google_drive::check(&ctx).await,
        "rest_api" => rest_api::check(&ctx).await,
        "postgresql" => postgresql::check(&ctx).await,
        "mcp_server" => mcp_server::check(&ctx).await,
        other => Err(Error::new(
            ErrorCode::UnknownConnectorType,
            format!("No check exists for “{other}”."),
        )),
    }
}

pub(crate) fn details<const N: usize>(pairs: [(&str, Option<String>); N]) -> Details {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_owned(), v)))
        .collect()
}
