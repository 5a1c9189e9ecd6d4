//! The provider-facing settings: each provider API's address (the catalog's default, or the
//! operator's override) and the OAuth2 client registrations.

use super::source::{invalid, SettingsError, Source};
use crate::oauth::OAuthClient;
use crate::outbound::ProviderUrls;
use crate::secret::SecretString;
use std::collections::BTreeMap;

/// `providers.<key>_url` or `CONNECTOR_HUB_PROVIDER_<KEY>_URL` for every API base in the catalog.
pub(super) fn provider_urls(src: &Source<'_>) -> Result<ProviderUrls, SettingsError> {
    let mut providers = BTreeMap::new();
    for (name, default) in crate::catalog::catalog().api_bases() {
        let key = format!("providers.{name}_url");
        let env = format!("CONNECTOR_HUB_PROVIDER_{}_URL", name.to_uppercase());
        let url = src
            .text(&key, &env, default)
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(
                &key,
                &env,
                &format!("an http:// or https:// URL, got {url:?}"),
            ));
        }
        if default.contains("{shop}") && !url.contains("{shop}") {
            return Err(invalid(
                &key,
                &env,
                "a URL containing {shop}, e.g. https://{shop}",
            ));
        }
        providers.insert(name, url);
    }
    Ok(ProviderUrls(providers))
}

/// `[oauth] <type>_client_id`, `<type>_client_secret`, `<type>_scopes`, `<type>_authorize_url` and
/// `<type>_token_url`, or `CONNECTOR_HUB_OAUTH_<TYPE>_…`, for every catalog entry with OAuth2.
pub(super) fn oauth_clients(
    src: &Source<'_>,
) -> Result<BTreeMap<String, OAuthClient>, SettingsError> {
    let mut clients = BTreeMap::new();
    for def in crate::catalog::catalog().entries() {
        let Some(oauth) = &def.oauth else { continue };
        let key = |name: &str| format!("oauth.{}_{name}", def.id);
        let env = |name: &str| {
            format!(
                "CONNECTOR_HUB_OAUTH_{}_{}",
                def.id.to_uppercase(),
                name.to_uppercase()
            )
        };
        let client_id = src.optional(&key("client_id"), &env("client_id"));
        let client_secret = src.optional(&key("client_secret"), &env("client_secret"));
        let (client_id, client_secret) = match (client_id, client_secret) {
            (None, None) => continue,
            (Some(id), Some(secret)) => (id, SecretString::new(secret)),
            (Some(_), None) => {
                let name = "client_secret";
                return Err(invalid(
                    &key(name),
                    &env(name),
                    "the client secret that goes with the client id",
                ));
            }
            (None, Some(_)) => {
                let name = "client_id";
                return Err(invalid(
                    &key(name),
                    &env(name),
                    "the client id that goes with the client secret",
                ));
            }
        };
        let url = |name: &str, default: &str| -> Result<Option<String>, SettingsError> {
            let Some(value) = src.optional(&key(name), &env(name)) else {
                return Ok(None);
            };
            let value = value.trim_end_matches('/').to_owned();
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(invalid(
                    &key(name),
                    &env(name),
                    &format!("an http:// or https:// URL, got {value:?}"),
                ));
            }
            if default.contains("{shop}") && !value.contains("{shop}") {
                return Err(invalid(&key(name), &env(name), "a URL containing {shop}"));
            }
            Ok(Some(value))
        };
        let authorize_url = url("authorize_url", &oauth.authorize_url)?;
        let token_url = url("token_url", &oauth.token_url)?;
        clients.insert(
            def.id.clone(),
            OAuthClient {
                client_id,
                client_secret,
                scopes: src.optional(&key("scopes"), &env("scopes")),
                authorize_url,
                token_url,
            },
        );
    }
    Ok(clients)
}

/// The operator's secrets for providers that sign every app's webhooks with one secret (Shopify
/// and HubSpot: the app's client secret; QuickBooks: its verifier token; Xero: its webhook key),
/// by connector type:
/// `CONNECTOR_HUB_WEBHOOK_SECRET_<TYPE>`, else the OAuth client secret where the provider signs
/// with it.
pub(super) fn webhook_secrets(
    src: &Source<'_>,
    clients: &BTreeMap<String, OAuthClient>,
) -> BTreeMap<String, SecretString> {
    let mut secrets = BTreeMap::new();
    for def in crate::catalog::catalog().entries() {
        let Some(hooks) = &def.webhooks else { continue };
        if hooks.secret_field.is_some() {
            continue;
        }
        let configured = src.optional(
            &format!("webhooks.{}_secret", def.id),
            &format!("CONNECTOR_HUB_WEBHOOK_SECRET_{}", def.id.to_uppercase()),
        );
        let signs_with_client_secret = matches!(
            hooks.scheme,
            crate::catalog::WebhookScheme::Shopify | crate::catalog::WebhookScheme::HubSpot
        );
        let secret = configured.map(SecretString::new).or_else(|| {
            signs_with_client_secret
                .then(|| clients.get(&def.id).map(|c| c.client_secret.clone()))
                .flatten()
        });
        if let Some(secret) = secret {
            secrets.insert(def.id.clone(), secret);
        }
    }
    secrets
}
