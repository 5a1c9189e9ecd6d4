//! The authorization endpoint's work: an authorization request checked (RFC 6749 §4.1.1 with
//! OAuth 2.1's PKCE requirement and RFC 8707's resource), the consent form it is shown with, and
//! the person's answer turned into a one-time code for the client's redirect URI.
//!
//! Until the client and its redirect URI are known to belong together, nothing is redirected:
//! an error then is shown to the person (a redirect would hand an attacker an open redirector).
//! The form carries the request sealed by the vault (so nothing in it can be altered) with a
//! one-time nonce whose hash is stored: a form is answered once, by the person it was shown to,
//! within ten minutes. The origin check guards its POST as it guards every cookie-borne one.

use super::clients::redirect_host;
use super::{hash, parse_scopes, AgentAuth, CODE_MS, CONSENT_MS, SCOPE_WRITE};
use crate::clock::now_ms;
use crate::model::{AuditAction, AuditOutcome};
use crate::service::{Caller, RateClass};
use crate::store::{AgentGrantRecord, AgentTokenKind, AgentTokenRecord};
use serde::{Deserialize, Serialize};

/// The query of `GET /oauth/authorize`, as it came.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// What the consent page shows, and the sealed form token that answers it.
#[derive(Debug, Clone)]
pub struct Consent {
    pub client_name: String,
    pub redirect_host: String,
    pub scopes: Vec<String>,
    pub form_token: String,
}

/// Why a request is not shown a consent form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown on the page: the redirect URI is not trusted (yet), or the form is no good.
    Page(String),
    /// Sent back to the client: its redirect URI with `error` (and `state`, `iss`).
    Redirect(String),
}

/// The request as sealed into the consent form.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    tenant: String,
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: String,
    resource: String,
    state: Option<String>,
}

/// Whose the vault's sealed consent forms are (so no other sealed value passes for one).
const SEAL_OWNER: &str = "mcp-consent";
/// The longest `state` taken back and forth (it is the client's, and echoed in a URL).
const MAX_STATE: usize = 1_000;

impl AgentAuth {
    /// Checks `request` for `caller` (signed in) and prepares the consent form.
    pub async fn prepare(
        &self,
        caller: &Caller,
        request: &AuthorizeRequest,
    ) -> Result<Consent, Refusal> {
        // Each page shown stores its form's nonce: counted like any signed-in write.
        if let Err(e) = self.gate.limit(caller, RateClass::Writes).await {
            return Err(Refusal::Page(e.message));
        }
        let client_id = request.client_id.as_deref().unwrap_or_default();
        let Some(client) = self.client(client_id).await else {
            return Err(Refusal::Page(
                "The application asking for access is not registered with Connector Hub."
                    .to_owned(),
            ));
        };
        let Some(redirect_uri) = request
            .redirect_uri
            .as_deref()
            .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
        else {
            return Err(Refusal::Page(
                "The application asked to be answered at an address it did not register, so \
                 Connector Hub will not send you there."
                    .to_owned(),
            ));
        };
        let state = request.state.clone().filter(|s| !s.is_empty());
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(Refusal::Page("The request's state is too long.".to_owned()));
        }
        // From here on the client is told what was wrong, at its own address.
        let back = |error: &str, description: &str| {
            Refusal::Redirect(self.answer(
                redirect_uri,
                &[("error", error), ("error_description", description)],
                state.as_deref(),
            ))
        };
        if request.response_type.as_deref() != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        let challenge = request.code_challenge.as_deref().unwrap_or_default();
        if challenge.is_empty() {
            return Err(back("invalid_request", "code_challenge is required (PKCE)"));
        }
        if request.code_challenge_method.as_deref() != Some("S256") {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        // An S256 challenge is 32 bytes in unpadded base64url: 43 characters.
        if challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(back(
                "invalid_request",
                "code_challenge is not an S256 challenge",
            ));
        }
        let Some(scopes) = parse_scopes(request.scope.as_deref()) else {
            return Err(back(
                "invalid_scope",
                "the scopes there are: mcp:read, mcp:write",
            ));
        };
        match request.resource.as_deref() {
            Some(r) if r == self.resource => {}
            Some(_) => return Err(back("invalid_target", "resource must be this hub's /mcp")),
            None => return Err(back("invalid_target", "resource is required (RFC 8707)")),
        }
        let nonce = crate::random::random_token(32);
        let consent = AgentTokenRecord {
            token_hash: hash(&nonce),
            kind: AgentTokenKind::Consent,
            grant_id: String::new(),
            tenant_id: caller.tenant().clone(),
            expires_at: now_ms() + CONSENT_MS,
            used_at: None,
        };
        if let Err(e) = self.store.put_agent_tokens(&[consent]).await {
            tracing::error!(error = %e, "a consent form could not be stored");
            return Err(Refusal::Page(
                "Connector Hub's storage is unavailable right now. Try again shortly.".to_owned(),
            ));
        }
        let sealed = Sealed {
            nonce,
            tenant: caller.tenant().as_str().to_owned(),
            user: caller.user().to_owned(),
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: challenge.to_owned(),
            scopes: scopes.clone(),
            resource: self.resource.clone(),
            state,
        };
        let plain = serde_json::to_vec(&sealed).map_err(|_| {
            Refusal::Page("The request could not be prepared. Try again.".to_owned())
        })?;
        Ok(Consent {
            client_name: client.client_name,
            redirect_host: redirect_host(redirect_uri),
            scopes: scopes.split(' ').map(str::to_owned).collect(),
            form_token: self.vault.seal_for(SEAL_OWNER, &plain),
        })
    }

    /// The person's answer to a consent form: where to send their browser (the client's redirect
    /// URI with a code, or with `access_denied`).
    pub async fn decide(
        &self,
        caller: &Caller,
        form_token: &str,
        allow: bool,
    ) -> Result<String, Refusal> {
        let stale = || {
            Refusal::Page(
                "This consent form is no longer valid (it was answered already, it expired, or \
                 it was shown to someone else). Start again from the application."
                    .to_owned(),
            )
        };
        if let Err(e) = self.gate.limit(caller, RateClass::Writes).await {
            return Err(Refusal::Page(e.message));
        }
        let sealed: Sealed = self
            .vault
            .open_for(SEAL_OWNER, form_token)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(stale)?;
        if sealed.tenant != caller.tenant().as_str() || sealed.user != caller.user() {
            return Err(stale());
        }
        let now = now_ms();
        // Single use: the nonce's record is marked on the first answer.
        match self.store.use_agent_token(&hash(&sealed.nonce), now).await {
            Ok(Some(t))
                if t.kind == AgentTokenKind::Consent
                    && t.used_at.is_none()
                    && t.expires_at > now
                    && &t.tenant_id == caller.tenant() => {}
            Ok(_) => return Err(stale()),
            Err(e) => {
                tracing::error!(error = %e, "a consent form could not be checked");
                return Err(stale());
            }
        }
        let client = self.client(&sealed.client_id).await.ok_or_else(stale)?;
        let detail = format!("client {} ({})", client.client_id, sealed.scopes);
        if !allow {
            let _ = self
                .audit(
                    caller,
                    AuditAction::AgentAuthorize,
                    AuditOutcome::Denied,
                    None,
                    detail,
                )
                .await;
            return Ok(self.answer(
                &sealed.redirect_uri,
                &[("error", "access_denied")],
                sealed.state.as_deref(),
            ));
        }
        let code = crate::random::random_token(32);
        let grant = AgentGrantRecord {
            grant_id: crate::random::random_hex(16),
            tenant_id: caller.tenant().clone(),
            user_id: caller.user().to_owned(),
            client_id: client.client_id.clone(),
            client_name: client.client_name.clone(),
            redirect_uri: sealed.redirect_uri.clone(),
            code_challenge: sealed.challenge.clone(),
            scopes: sealed.scopes.clone(),
            resource: sealed.resource.clone(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let code_record = AgentTokenRecord {
            token_hash: hash(&code),
            kind: AgentTokenKind::Code,
            grant_id: grant.grant_id.clone(),
            tenant_id: grant.tenant_id.clone(),
            expires_at: now + CODE_MS,
            used_at: None,
        };
        let unavailable =
            || Refusal::Page("Connector Hub cannot save this right now. Try again.".to_owned());
        // Audited before it takes effect, fail closed, as every change is.
        self.audit(
            caller,
            AuditAction::AgentAuthorize,
            AuditOutcome::Ok,
            None,
            format!("{detail} grant {}", grant.grant_id),
        )
        .await
        .map_err(|_| unavailable())?;
        self.store
            .put_agent_grant(&grant, &code_record)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a grant could not be stored");
                unavailable()
            })?;
        Ok(self.answer(
            &sealed.redirect_uri,
            &[("code", code.as_str())],
            sealed.state.as_deref(),
        ))
    }

    /// `redirect_uri` with `params`, the client's `state` and this issuer (RFC 9207) added to its
    /// query.
    fn answer(&self, redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &self.issuer);
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        format!("{redirect_uri}{separator}{}", query.finish())
    }

    /// Whether the grant asks for writes (for the consent page's wording).
    pub fn writes(scopes: &[String]) -> bool {
        scopes.iter().any(|s| s == SCOPE_WRITE)
    }
}
