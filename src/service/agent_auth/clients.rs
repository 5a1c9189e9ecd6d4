//! Dynamic client registration (RFC 7591) for public clients: redirect URIs checked as OAuth 2.1
//! and RFC 8252 want them (https, or http to the loopback address for a native app; never a
//! fragment), a name short enough to show, no secret. Anyone may register, so registrations are
//! counted against the address like requests nobody signed in for.

use super::{AgentAuth, OAuthError};
use crate::clock::now_ms;
use crate::store::AgentClientRecord;
use reqwest::Url;
use serde::Deserialize;

/// The longest client name kept (it is shown on the consent page).
const MAX_NAME_CHARS: usize = 100;
/// Redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_BYTES: usize = 2_000;

/// A registration request's metadata, as far as the hub reads it; other fields are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
}

impl AgentAuth {
    /// Registers a public client for `client_addr`; the stored record, with its new id.
    pub async fn register(
        &self,
        registration: Registration,
        client_addr: &str,
    ) -> Result<AgentClientRecord, OAuthError> {
        self.gate
            .count_anonymous(client_addr)
            .map_err(|e| OAuthError {
                error: "temporarily_unavailable",
                description: e.message,
                status: 429,
            })?;
        let invalid = |what: &str| OAuthError::new("invalid_client_metadata", what);
        match registration.token_endpoint_auth_method.as_deref() {
            None | Some("none") => {}
            Some(_) => return Err(invalid(
                "Only public clients are registered: token_endpoint_auth_method must be \"none\".",
            )),
        }
        if let Some(grants) = &registration.grant_types {
            if grants
                .iter()
                .any(|g| g != "authorization_code" && g != "refresh_token")
            {
                return Err(invalid(
                    "grant_types may hold only authorization_code and refresh_token.",
                ));
            }
        }
        if let Some(types) = &registration.response_types {
            if types.iter().any(|t| t != "code") {
                return Err(invalid("response_types may hold only code."));
            }
        }
        if registration.redirect_uris.is_empty()
            || registration.redirect_uris.len() > MAX_REDIRECT_URIS
        {
            return Err(OAuthError::new(
                "invalid_redirect_uri",
                format!("Register between 1 and {MAX_REDIRECT_URIS} redirect_uris."),
            ));
        }
        for uri in &registration.redirect_uris {
            check_redirect_uri(uri)?;
        }
        let name = registration.client_name.unwrap_or_default();
        let name = name.trim();
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(invalid(
                "client_name must be at most 100 characters, without control characters.",
            ));
        }
        let record = AgentClientRecord {
            // 24 random bytes: a client id is not a secret, but nobody should guess one either.
            client_id: format!("mcpc_{}", crate::random::random_token(24)),
            client_name: if name.is_empty() {
                "Unnamed client".to_owned()
            } else {
                name.to_owned()
            },
            redirect_uris: registration.redirect_uris,
            created_at: now_ms(),
        };
        self.store.put_agent_client(&record).await.map_err(|e| {
            tracing::error!(error = %e, "a client registration could not be stored");
            OAuthError::new(
                "temporarily_unavailable",
                "The registration could not be stored. Try again.",
            )
        })?;
        tracing::info!(client_id = %record.client_id, "MCP client registered");
        Ok(record)
    }

    /// The registered client, if any.
    pub async fn client(&self, client_id: &str) -> Option<AgentClientRecord> {
        if client_id.is_empty() || client_id.len() > 200 {
            return None;
        }
        match self.store.get_agent_client(client_id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "a client could not be read");
                None
            }
        }
    }
}

/// https anywhere; http only to the loopback address (a native app's own listener, RFC 8252
/// §7.3); no fragment (RFC 6749 §3.1.2), no credentials in it.
fn check_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let refuse = |why: &str| OAuthError::new("invalid_redirect_uri", why);
    if uri.len() > MAX_URI_BYTES {
        return Err(refuse("A redirect_uri is too long."));
    }
    let Ok(url) = Url::parse(uri) else {
        return Err(refuse("A redirect_uri is not an absolute URL."));
    };
    if url.fragment().is_some() || uri.contains('#') {
        return Err(refuse("A redirect_uri must not have a fragment."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("A redirect_uri must not carry credentials."));
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if is_loopback(url.host_str().unwrap_or_default()) => Ok(()),
        _ => Err(refuse(
            "A redirect_uri must use https, or http to localhost or the loopback address.",
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The host a redirect URI sends to, as the consent page shows it.
pub(super) fn redirect_host(uri: &str) -> String {
    Url::parse(uri)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_are_https_or_loopback_without_fragments() {
        for good in [
            "https://app.example/cb",
            "http://127.0.0.1:3000/callback",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
            "https://app.example/cb?x=1",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@app.example/cb",
            "http://127.0.0.1.evil.example/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
