//! OAuth2 for the catalog's OAuth2 providers: the authorization URL (random `state`, PKCE S256
//! where the provider supports it), the code exchange, and token refresh.
//!
//! Nothing here keeps state: the `state` and PKCE verifier live in the store (see
//! `SignIn::oauth_start`), so any server process can finish a flow another one began.

use crate::catalog::{ClientAuth, ConnectorDef, OAuthDef, TokenBody};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::outbound::answers::{status_failure, str_at};
use crate::outbound::http::{Body, Destination, Http, Probe, Reply};
use crate::outbound::ProviderUrls;
use crate::secret::{SecretString, ACCESS_TOKEN};
use base64::Engine;
use reqwest::Url;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// OAuth2 client registrations, by connector type. A provider without one offers only the
/// hand-entered token path.
#[derive(Debug, Clone)]
pub(crate) struct OAuthSettings {
    pub(crate) clients: BTreeMap<String, OAuthClient>,
    /// Tokens that expire sooner than this are renewed before use.
    pub(crate) refresh_margin: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct OAuthClient {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    /// Overrides of the catalog's defaults.
    pub(crate) scopes: Option<String>,
    pub(crate) authorize_url: Option<String>,
    pub(crate) token_url: Option<String>,
}

/// How long a started authorization may take before its `state` is refused.
pub(crate) const STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// The operator's OAuth2 client registrations, with the public callback address.
pub struct OAuth {
    clients: BTreeMap<String, OAuthClient>,
    refresh_margin_ms: i64,
    redirect_uri: String,
}

/// A token response. The tokens are secrets: Debug never prints them.
pub struct TokenSet {
    pub(crate) access_token: SecretString,
    pub(crate) refresh_token: Option<SecretString>,
    /// Milliseconds since the epoch, when the provider says.
    pub(crate) expires_at: Option<i64>,
    /// The scopes granted, when the provider says (the token answer's `scope`).
    pub(crate) granted: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) enum TokenError {
    /// The provider refused the grant (`invalid_grant`): the code was used or expired, or the
    /// refresh token was revoked or unused too long. Only signing in again helps.
    InvalidGrant,
    Failed(Error),
}

impl From<Error> for TokenError {
    fn from(f: Error) -> Self {
        Self::Failed(f)
    }
}

/// A PKCE pair: the verifier stays on the server, the S256 challenge goes to the provider.
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        // 32 random bytes give a 43-character verifier, within RFC 7636's 43..=128.
        let verifier = crate::random::random_token(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// States are stored by hash: a leaked store row cannot be replayed as a callback.
pub(crate) fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl Default for OAuth {
    /// No client registrations: every OAuth2 connector takes hand-entered tokens.
    fn default() -> Self {
        Self::new(
            &OAuthSettings {
                clients: BTreeMap::new(),
                refresh_margin: std::time::Duration::from_secs(300),
            },
            "",
        )
    }
}

impl OAuth {
    pub(crate) fn new(settings: &OAuthSettings, public_url: &str) -> Self {
        Self {
            clients: settings.clients.clone(),
            refresh_margin_ms: i64::try_from(settings.refresh_margin.as_millis())
                .unwrap_or(i64::MAX),
            redirect_uri: format!("{}/oauth/callback", public_url.trim_end_matches('/')),
        }
    }

    /// Whether "Connect with …" can be offered for this connector type.
    pub(crate) fn is_configured(&self, def: &ConnectorDef) -> bool {
        def.oauth.is_some() && self.clients.contains_key(&def.id)
    }

    /// Whether a token expiring at `expires_at` should be renewed before use.
    pub(crate) fn due(&self, expires_at: Option<i64>, now: i64) -> bool {
        expires_at.is_some_and(|at| at - self.refresh_margin_ms <= now)
    }

    fn registration<'a>(
        &'a self,
        def: &'a ConnectorDef,
    ) -> Result<(&'a OAuthDef, &'a OAuthClient), Error> {
        match (&def.oauth, self.clients.get(&def.id)) {
            (Some(oauth), Some(client)) => Ok((oauth, client)),
            _ => Err(Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "Signing in with {} is not set up on this server, so paste a token instead.",
                    def.name
                ),
            )),
        }
    }

    fn endpoint(template: &str, shop: Option<&str>) -> Result<(Url, Destination), Error> {
        // A host the tenant names (their shop) goes through the egress policy; an address the
        // operator configured is trusted, whatever it embeds.
        let host_part = template.split("://").nth(1).unwrap_or_default();
        let tenant_host = host_part
            .split('/')
            .next()
            .unwrap_or_default()
            .contains("{shop}");
        let shop = shop.unwrap_or_default();
        let names_a_host = !shop.is_empty()
            && shop
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if template.contains("{shop}") && !names_a_host {
            // Refused before any URL exists: with no shop the template's path would be taken
            // for a host (`https:///admin/…` parses as the host `admin`).
            return Err(Error::invalid_config(
                "shop_domain",
                "Enter the shop's domain (for example acme-goods.myshopify.com) before signing in.",
            ));
        }
        let text = template.replace("{shop}", shop);
        let destination = if tenant_host {
            Destination::Tenant
        } else {
            Destination::Operator
        };
        let url = Url::parse(&text).map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                "The configured OAuth2 address is not a valid URL.",
            )
        })?;
        Ok((url, destination))
    }

    /// The provider's consent page address for this `state`.
    pub(crate) fn authorize_url(
        &self,
        def: &ConnectorDef,
        state: &str,
        pkce: Option<&Pkce>,
        shop: Option<&str>,
    ) -> Result<Url, Error> {
        let (oauth, client) = self.registration(def)?;
        // The operator's own list wins (`CONNECTOR_HUB_OAUTH_<TYPE>_SCOPES`); otherwise what the
        // sign-in and every stream need.
        let scope = client
            .scopes
            .clone()
            .unwrap_or_else(|| def.sign_in_scopes().join(&oauth.scope_separator));
        let template = client
            .authorize_url
            .as_deref()
            .unwrap_or(&oauth.authorize_url);
        let (mut url, _) = Self::endpoint(template, shop)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", &scope)
                .append_pair("state", state);
            if let Some(pkce) = pkce {
                query
                    .append_pair("code_challenge", &pkce.challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            for (name, value) in &oauth.extra_params {
                query.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// Trades an authorization code for tokens.
    pub(crate) async fn exchange_code(
        &self,
        http: &Http,
        def: &ConnectorDef,
        code: &str,
        verifier: Option<&str>,
        shop: Option<&str>,
    ) -> Result<TokenSet, TokenError> {
        let mut fields = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", self.redirect_uri.clone()),
        ];
        if let Some(verifier) = verifier {
            fields.push(("code_verifier", verifier.to_owned()));
        }
        self.token_request(http, def, fields, shop).await
    }

    /// Renews an access token. A response without a refresh token means "keep the old one".
    pub(crate) async fn refresh(
        &self,
        http: &Http,
        def: &ConnectorDef,
        refresh_token: &str,
        shop: Option<&str>,
    ) -> Result<TokenSet, TokenError> {
        let fields = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.to_owned()),
        ];
        self.token_request(http, def, fields, shop).await
    }

    async fn token_request(
        &self,
        http: &Http,
        def: &ConnectorDef,
        mut fields: Vec<(&'static str, String)>,
        shop: Option<&str>,
    ) -> Result<TokenSet, TokenError> {
        let (oauth, client) = self.registration(def)?;
        let template = client.token_url.as_deref().unwrap_or(&oauth.token_url);
        let (url, destination) = Self::endpoint(template, shop)?;
        let basic = match oauth.client_auth {
            ClientAuth::Basic => Some((
                client.client_id.clone(),
                client.client_secret.expose().to_owned(),
            )),
            ClientAuth::Body => {
                fields.push(("client_id", client.client_id.clone()));
                fields.push(("client_secret", client.client_secret.expose().to_owned()));
                None
            }
        };
        let body = match oauth.token_body {
            TokenBody::Form => Body::Form(fields),
            TokenBody::Json => Body::Json(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            ),
        };
        let mut probe = Probe::post(url, destination, body);
        probe.basic = basic;
        probe.headers.push(("accept", "application/json".into()));
        let reply = http.send(probe).await?;
        parse_token_reply(&reply, def)
    }

    /// The organisations (Xero) or businesses (Sage) a new token can reach, as (id, name), for
    /// the wizard's choice after signing in.
    pub(crate) async fn choices(
        &self,
        http: &Http,
        providers: &ProviderUrls,
        def: &ConnectorDef,
        access_token: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(choose) = def.oauth.as_ref().and_then(|o| o.choose.as_ref()) else {
            return Ok(Vec::new());
        };
        let url = providers.url(&def.id, &choose.list, &def.name)?;
        let mut probe = Probe::get(url, Destination::Operator);
        probe.bearer = Some(access_token.to_owned());
        probe.headers.push(("accept", "application/json".into()));
        let reply = http.send(probe).await?;
        let json = crate::outbound::answers::success_json(&reply, &def.name, ACCESS_TOKEN)?;
        let items = json
            .as_array()
            .ok_or_else(|| crate::outbound::answers::unexpected(&def.name))?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = str_at(item, &choose.id)?;
                let name = choose
                    .name
                    .iter()
                    .find_map(|at| str_at(item, at))
                    .unwrap_or_else(|| id.clone());
                Some((id, name))
            })
            .take(100)
            .collect())
    }
}

/// Reads a token endpoint's answer. Provider error texts are not repeated: some echo the grant.
fn parse_token_reply(reply: &Reply, def: &ConnectorDef) -> Result<TokenSet, TokenError> {
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let error = json
            .as_ref()
            .and_then(|j| str_at(j, "/error"))
            .unwrap_or_default();
        return Err(match (reply.status, error.as_str()) {
            (400 | 401, "invalid_grant") => TokenError::InvalidGrant,
            (400 | 401, "invalid_client" | "unauthorized_client") | (401, _) => {
                TokenError::Failed(Error::new(
                    ErrorCode::InvalidCredentials,
                    format!(
                        "{} refused this server's OAuth2 client registration ({}). The operator should check its client id and secret.",
                        def.name,
                        if error.is_empty() { "HTTP 401" } else { error.as_str() }
                    ),
                ))
            }
            (400, _) => TokenError::Failed(Error::new(
                ErrorCode::UnexpectedResponse,
                format!("{} refused the token request (HTTP 400).", def.name),
            )),
            _ => TokenError::Failed(status_failure(reply, &def.name, ACCESS_TOKEN)),
        });
    }
    let json = json.ok_or_else(|| crate::outbound::answers::unexpected(&def.name))?;
    let access_token = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| crate::outbound::answers::unexpected(&def.name))?;
    let refresh_token = json
        .get("refresh_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .map(SecretString::new);
    let now = now_ms();
    let expires_at = match json.get("expires_in") {
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            // A provider's number is bounded before arithmetic: at most ten years.
            .map(|secs| now.saturating_add(secs.clamp(0, MAX_TOKEN_LIFETIME_SECS) * 1000)),
        // Square answers with a timestamp instead of a lifetime.
        None => str_at(&json, "/expires_at")
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.timestamp_millis()),
    };
    Ok(TokenSet {
        access_token: SecretString::new(access_token),
        refresh_token,
        expires_at,
        // Kept as the catalog's `granted_scopes` field allows (printable ASCII, 4096 at most);
        // anything else is not believed rather than allowed to stop the sign-in.
        granted: json
            .get("scope")
            .and_then(|v| v.as_str())
            .filter(|s| {
                !s.trim().is_empty()
                    && s.len() <= 4096
                    && s.bytes().all(|b| (b' '..=b'~').contains(&b))
            })
            .map(str::to_owned),
    })
}

/// The longest token lifetime believed: ten years.
const MAX_TOKEN_LIFETIME_SECS: i64 = 10 * 365 * 86_400;

#[cfg(test)]
mod tests;
