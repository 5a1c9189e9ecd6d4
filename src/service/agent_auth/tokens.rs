//! The token endpoint's work (RFC 6749 §4.1.3 and §6 with OAuth 2.1's rules), revocation
//! (RFC 7009), the check of an access token on every `/mcp` request, and a person's own grants
//! (the Connected apps page).
//!
//! Access and refresh tokens are opaque random strings, found by their hash. A code is used
//! once: a second use means it leaked, so the grant it came from is revoked with every token
//! issued from it. A refresh token is rotated on every use; an already-rotated one presented
//! again means one of two parties holding it is not the client, so the whole family goes.

use super::{
    grant_caller, hash, same, AgentAuth, OAuthError, ACCESS_TOKEN_SECS, REFRESH_TOKEN_SECS,
    SCOPE_READ, SCOPE_WRITE, TOUCH_EVERY_MS,
};
use crate::auth::Principal;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::{AuditAction, AuditOutcome};
use crate::service::Caller;
use crate::store::{AgentGrantRecord, AgentTokenKind, AgentTokenRecord};
use std::collections::BTreeMap;

/// What the token endpoint answers with.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scope: String,
}

/// A verified access token: who, what they may do, through which client.
#[derive(Debug, Clone)]
pub struct AgentToken {
    pub principal: Principal,
    pub read: bool,
    pub write: bool,
    pub client_id: String,
}

/// Access tokens start with this, so `/mcp` knows which check a bearer is for.
pub const ACCESS_PREFIX: &str = "hub_at_";
const REFRESH_PREFIX: &str = "hub_rt_";

impl AgentAuth {
    /// `POST /oauth/token`'s form, for a request from `client_addr`.
    pub async fn token(
        &self,
        form: &BTreeMap<String, String>,
        client_addr: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let field = Form(form);
        let grant_type = field
            .get("grant_type")
            .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ));
        }
        let client_id = field
            .get("client_id")
            .ok_or_else(|| OAuthError::new("invalid_client", "client_id is required"))?;
        if self.client(client_id).await.is_none() {
            return Err(OAuthError::new(
                "invalid_client",
                "the client is not registered",
            ));
        }
        if grant_type == "authorization_code" {
            self.redeem_code(client_id, field, client_addr).await
        } else {
            self.rotate_refresh(client_id, field, client_addr).await
        }
    }

    /// A token request's `resource` (RFC 8707): this hub's MCP server, the only audience it
    /// issues tokens for.
    fn check_resource(&self, resource: &str) -> Result<(), OAuthError> {
        if resource != self.resource {
            return Err(OAuthError::new(
                "invalid_target",
                "resource must be this hub's /mcp",
            ));
        }
        Ok(())
    }

    async fn redeem_code(
        &self,
        client_id: &str,
        field: Form<'_>,
        client_addr: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let bad = |why: &str| OAuthError::new("invalid_grant", why);
        let code = field
            .get("code")
            .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
        let verifier = field.get("code_verifier").ok_or_else(|| {
            OAuthError::new("invalid_request", "code_verifier is required (PKCE)")
        })?;
        let redirect_uri = field
            .get("redirect_uri")
            .ok_or_else(|| OAuthError::new("invalid_request", "redirect_uri is required"))?;
        let resource = field
            .get("resource")
            .ok_or_else(|| OAuthError::new("invalid_target", "resource is required (RFC 8707)"))?;
        self.check_resource(resource)?;
        let now = now_ms();
        let used = self
            .store
            .use_agent_token(&hash(code), now)
            .await
            .map_err(unavailable)?
            .filter(|t| t.kind == AgentTokenKind::Code)
            .ok_or_else(|| bad("the code is not valid"))?;
        let grant = self.live_grant(&used.grant_id).await?;
        if used.used_at.is_some() {
            // A code used twice leaked somewhere: what it was traded for goes too.
            self.revoke_family(
                &grant,
                AuditAction::AgentTokenReuse,
                "code reused",
                client_addr,
            )
            .await;
            return Err(bad("the code was used already"));
        }
        if used.expires_at <= now {
            return Err(bad("the code expired"));
        }
        if grant.client_id != client_id || grant.redirect_uri != redirect_uri {
            return Err(bad("the code was issued to another client or redirect_uri"));
        }
        if grant.resource != resource {
            return Err(OAuthError::new(
                "invalid_target",
                "the code is for another resource",
            ));
        }
        if !same(
            pkce_challenge(verifier).as_bytes(),
            grant.code_challenge.as_bytes(),
        ) {
            return Err(bad("the code_verifier does not match the code_challenge"));
        }
        self.issue(&grant, "authorization_code", client_addr).await
    }

    async fn rotate_refresh(
        &self,
        client_id: &str,
        field: Form<'_>,
        client_addr: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let bad = |why: &str| OAuthError::new("invalid_grant", why);
        let token = field
            .get("refresh_token")
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
        if let Some(resource) = field.get("resource") {
            self.check_resource(resource)?;
        }
        let token_hash = hash(token);
        // Looked at before it is marked used: a token presented by another client is refused
        // without spending it.
        let found = self
            .store
            .get_agent_token(&token_hash)
            .await
            .map_err(unavailable)?
            .filter(|t| t.kind == AgentTokenKind::Refresh)
            .ok_or_else(|| bad("the refresh token is not valid"))?;
        let grant = self.live_grant(&found.grant_id).await?;
        if grant.client_id != client_id {
            return Err(bad("the refresh token was issued to another client"));
        }
        if let Some(asked) = field.get("scope") {
            // A refresh may narrow nothing here, but must not ask for more than was granted.
            if asked
                .split_whitespace()
                .any(|s| !grant.scopes.split(' ').any(|g| g == s))
            {
                return Err(OAuthError::new("invalid_scope", "more than was granted"));
            }
        }
        let now = now_ms();
        let used = self
            .store
            .use_agent_token(&token_hash, now)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| bad("the refresh token is not valid"))?;
        if used.used_at.is_some() {
            self.revoke_family(
                &grant,
                AuditAction::AgentTokenReuse,
                "refresh token reused",
                client_addr,
            )
            .await;
            return Err(bad("the refresh token was used already"));
        }
        if used.expires_at <= now {
            return Err(bad("the refresh token expired"));
        }
        self.issue(&grant, "refresh_token", client_addr).await
    }

    /// The grant if it is still alive.
    async fn live_grant(&self, grant_id: &str) -> Result<AgentGrantRecord, OAuthError> {
        self.store
            .get_agent_grant(grant_id)
            .await
            .map_err(unavailable)?
            .filter(|g| g.revoked_at.is_none())
            .ok_or_else(|| OAuthError::new("invalid_grant", "the grant was revoked"))
    }

    /// A new access token and refresh token under `grant`, audited first.
    async fn issue(
        &self,
        grant: &AgentGrantRecord,
        how: &str,
        client_addr: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let now = now_ms();
        let access_token = format!("{ACCESS_PREFIX}{}", crate::random::random_token(32));
        let refresh_token = format!("{REFRESH_PREFIX}{}", crate::random::random_token(32));
        let record = |token: &str, kind, secs: i64| AgentTokenRecord {
            token_hash: hash(token),
            kind,
            grant_id: grant.grant_id.clone(),
            tenant_id: grant.tenant_id.clone(),
            expires_at: now + secs * 1000,
            used_at: None,
        };
        self.audit(
            &grant_caller(grant, client_addr),
            AuditAction::AgentToken,
            AuditOutcome::Ok,
            None,
            format!("{how} client {} grant {}", grant.client_id, grant.grant_id),
        )
        .await
        .map_err(|_| {
            OAuthError::new("temporarily_unavailable", "the audit log cannot be written")
        })?;
        self.store
            .put_agent_tokens(&[
                record(&access_token, AgentTokenKind::Access, ACCESS_TOKEN_SECS),
                record(&refresh_token, AgentTokenKind::Refresh, REFRESH_TOKEN_SECS),
            ])
            .await
            .map_err(unavailable)?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            expires_in: ACCESS_TOKEN_SECS,
            scope: grant.scopes.clone(),
        })
    }

    /// Revokes `grant` and everything issued from it, and audits why (best effort: it is done).
    async fn revoke_family(
        &self,
        grant: &AgentGrantRecord,
        action: AuditAction,
        why: &str,
        client_addr: &str,
    ) {
        let revoked = self
            .store
            .revoke_agent_grant(&grant.tenant_id, &grant.user_id, &grant.grant_id, now_ms())
            .await;
        if let Err(e) = &revoked {
            tracing::error!(error = %e, "a grant could not be revoked");
        }
        tracing::warn!(tenant = %grant.tenant_id, client_id = %grant.client_id, why, "MCP grant revoked");
        let outcome = if action == AuditAction::AgentTokenReuse {
            AuditOutcome::Refused
        } else {
            AuditOutcome::Ok
        };
        let _ = self
            .audit(
                &grant_caller(grant, client_addr),
                action,
                outcome,
                None,
                format!(
                    "{why}: client {} grant {} revoked",
                    grant.client_id, grant.grant_id
                ),
            )
            .await;
    }

    /// `POST /oauth/revoke` (RFC 7009): a client's own access or refresh token ends its grant.
    /// Anything else is ignored, and the answer is the same either way.
    pub async fn revoke_token(&self, token: &str, client_id: &str, client_addr: &str) {
        let Ok(Some(found)) = self.store.get_agent_token(&hash(token)).await else {
            return;
        };
        if !matches!(found.kind, AgentTokenKind::Access | AgentTokenKind::Refresh) {
            return;
        }
        let Ok(grant) = self.live_grant(&found.grant_id).await else {
            return;
        };
        if grant.client_id == client_id {
            self.revoke_family(
                &grant,
                AuditAction::AgentRevoke,
                "revoked by the client",
                client_addr,
            )
            .await;
        }
    }

    /// The access token's grant and person, if the token is one, unexpired, and its grant alive
    /// and for this resource. Checked in the store on every call: a revocation holds at once.
    pub async fn verify_access(&self, token: &str) -> Option<AgentToken> {
        if !token.starts_with(ACCESS_PREFIX) {
            return None;
        }
        let now = now_ms();
        let found = match self.store.get_agent_token(&hash(token)).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, "an access token could not be checked");
                return None;
            }
        };
        if found.kind != AgentTokenKind::Access || found.expires_at <= now {
            return None;
        }
        let grant = self.live_grant(&found.grant_id).await.ok()?;
        if grant.resource != self.resource || grant.tenant_id != found.tenant_id {
            return None;
        }
        if grant
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_EVERY_MS)
        {
            if let Err(e) = self.store.touch_agent_grant(&grant.grant_id, now).await {
                tracing::debug!(error = %e, "a grant's last use could not be recorded");
            }
        }
        let has = |scope: &str| grant.scopes.split(' ').any(|s| s == scope);
        Some(AgentToken {
            principal: Principal {
                tenant: grant.tenant_id.clone(),
                user: grant.user_id.clone(),
                via_cookie: false,
                expires_at: u64::try_from(found.expires_at / 1000).unwrap_or(0),
            },
            read: has(SCOPE_READ),
            write: has(SCOPE_WRITE),
            client_id: grant.client_id,
        })
    }

    /// The apps `caller` allowed and has not revoked, newest first.
    pub async fn connected_apps(&self, caller: &Caller) -> Result<Vec<AgentGrantRecord>, Error> {
        self.gate
            .limit(caller, crate::service::RateClass::Reads)
            .await?;
        Ok(self
            .store
            .list_agent_grants(caller.tenant(), caller.user())
            .await?)
    }

    /// Revokes one of `caller`'s own apps; another's (another user, another tenant) is not
    /// found.
    pub async fn revoke_app(&self, caller: &Caller, grant_id: &str) -> Result<(), Error> {
        self.gate
            .limit(caller, crate::service::RateClass::Writes)
            .await?;
        let grant = self
            .store
            .get_agent_grant(grant_id)
            .await?
            .filter(|g| {
                &g.tenant_id == caller.tenant()
                    && g.user_id == caller.user()
                    && g.revoked_at.is_none()
            })
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "No such connected app."))?;
        self.audit(
            caller,
            AuditAction::AgentRevoke,
            AuditOutcome::Ok,
            None,
            format!(
                "revoked by its person: client {} grant {}",
                grant.client_id, grant.grant_id
            ),
        )
        .await?;
        self.store
            .revoke_agent_grant(caller.tenant(), caller.user(), grant_id, now_ms())
            .await?;
        Ok(())
    }
}

/// The token endpoint's form fields; an empty one counts as absent.
#[derive(Clone, Copy)]
struct Form<'a>(&'a BTreeMap<String, String>);

impl<'a> Form<'a> {
    fn get(self, name: &str) -> Option<&'a str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn unavailable(e: crate::store::StoreError) -> OAuthError {
    tracing::error!(error = %e, "the store failed at the token endpoint");
    OAuthError::new(
        "temporarily_unavailable",
        "Connector Hub's storage is unavailable right now.",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        assert_eq!(
            super::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
