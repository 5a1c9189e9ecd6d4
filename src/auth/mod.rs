//! Who is asking: JWT verification for API clients (Bearer) and browsers (HttpOnly cookie).

use crate::ids::TenantId;
use crate::secret::SecretString;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How tokens are verified: an HS256 secret or an RS256/ES256 public key, and the claims
/// required of them.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: Option<SecretString>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub(crate) jwt_issuer: Option<String>,
    pub(crate) jwt_audience: Option<String>,
    pub(crate) session_hours: u64,
}

/// A session's browser cookies, named for where the hub is served. Over https they carry the
/// `__Host-` prefix, so no sibling domain can set or shadow them, and the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionCookies {
    /// The HttpOnly cookie holding the JWT.
    pub(crate) session: &'static str,
    /// A cookie scripts may read, naming who is signed in by `principal_tag` (no credential):
    /// the browser keeps its offline copy of the sources list per principal, shown only to them.
    pub(crate) principal: &'static str,
    /// `"; Secure"` over https, else nothing: the attribute to append.
    pub(crate) secure: &'static str,
}

impl SessionCookies {
    pub(crate) fn for_public_url(public_url: &str) -> Self {
        if public_url.starts_with("https://") {
            Self {
                session: "__Host-ch_session",
                principal: "__Host-ch_who",
                secure: "; Secure",
            }
        } else {
            Self {
                session: "ch_session",
                principal: "ch_who",
                secure: "",
            }
        }
    }
}

/// An opaque, stable tag for a tenant and user: the first 16 bytes of SHA-256 over both, hex.
pub(crate) fn principal_tag(p: &Principal) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(p.tenant.as_str().as_bytes());
    h.update([0]);
    h.update(p.user.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The authenticated caller: a tenant and a user within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub(crate) user: String,
    /// Whether the credential came from the session cookie (and so needs the origin check).
    pub(crate) via_cookie: bool,
    /// Seconds since the epoch at which the token expires.
    pub(crate) expires_at: u64,
}

impl Principal {
    /// The hub acting on its own for `tenant` (the monitor, a sync, key rotation): audited as
    /// `system:<role>`, never through a cookie, with no token to expire.
    pub(crate) fn system(tenant: TenantId, role: &str) -> Self {
        Self {
            tenant,
            user: format!("system:{role}"),
            via_cookie: false,
            expires_at: 0,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant_id: Option<String>,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("JWT_SECRET or JWT_PUBLIC_KEY_FILE must be set in production (JWT_SECRET: at least 32 random characters).")]
    MissingKey,
    #[error("JWT_PUBLIC_KEY_FILE {path}: {message}")]
    PublicKey { path: String, message: String },
    #[error("cannot create the development JWT secret in {path}: {message}")]
    DevSecret { path: String, message: String },
}

/// Verifies tokens; in development (HS256) it can also mint them.
pub struct Authenticator {
    decoding: DecodingKey,
    validation: Validation,
    encoding: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Authenticator {
    /// `development_data_dir` is where a development server keeps the secret it generates when
    /// none is configured; `None` (production) refuses to start without one.
    pub fn from_settings(
        auth: &AuthSettings,
        development_data_dir: Option<&Path>,
    ) -> Result<Self, AuthSetupError> {
        if let Some(path) = &auth.jwt_public_key_file {
            return Self::from_public_key(path, auth);
        }
        let secret = match (&auth.jwt_secret, development_data_dir) {
            (Some(secret), _) => secret.clone(),
            (None, Some(dir)) => development_secret(dir)?,
            (None, None) => return Err(AuthSetupError::MissingKey),
        };
        Ok(Self::from_secret(&secret, auth))
    }

    pub fn from_secret(secret: &SecretString, auth: &AuthSettings) -> Self {
        let bytes = secret.expose().as_bytes();
        Self::with(
            DecodingKey::from_secret(bytes),
            Algorithm::HS256,
            Some(EncodingKey::from_secret(bytes)),
            auth,
        )
    }

    fn from_public_key(path: &Path, auth: &AuthSettings) -> Result<Self, AuthSetupError> {
        let error = |message: String| AuthSetupError::PublicKey {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        let (key, algorithm) = if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            (key, Algorithm::RS256)
        } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
            (key, Algorithm::ES256)
        } else {
            return Err(error("not an RSA or EC public key in PEM format".into()));
        };
        Ok(Self::with(key, algorithm, None, auth))
    }

    fn with(
        decoding: DecodingKey,
        algorithm: Algorithm,
        encoding: Option<EncodingKey>,
        auth: &AuthSettings,
    ) -> Self {
        // Exactly one algorithm is accepted: `none` and algorithm confusion are refused by construction.
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if auth.jwt_issuer.is_some() {
            required.push("iss");
        }
        if auth.jwt_audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &auth.jwt_issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &auth.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Self {
            decoding,
            validation,
            encoding,
            issuer: auth.jwt_issuer.clone(),
            audience: auth.jwt_audience.clone(),
        }
    }

    /// Verifies a token; every failure is the same `None` so that callers cannot leak why.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        if token.len() > 8192 {
            return None;
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        let tenant = TenantId::parse(claims.tenant_id.as_deref()?)?;
        let user = claims.sub.trim();
        if user.is_empty() || user.len() > 256 {
            return None;
        }
        Some(Principal {
            tenant,
            user: user.to_owned(),
            via_cookie: false,
            expires_at: claims.exp,
        })
    }

    /// Mints a token (HS256 deployments only): the development sign-in link and tests use it.
    pub fn mint(&self, tenant: &str, user: &str, ttl_secs: u64) -> Option<String> {
        let encoding = self.encoding.as_ref()?;
        let now = now_secs();
        let claims = Claims {
            sub: user.to_owned(),
            tenant_id: Some(tenant.to_owned()),
            exp: now + ttl_secs,
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding).ok()
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Development only: a random HS256 secret kept in the data directory so sign-in links survive
/// restarts.
fn development_secret(data_dir: &Path) -> Result<SecretString, AuthSetupError> {
    let path = data_dir.join("jwt.secret");
    let error = |e: std::io::Error| AuthSetupError::DevSecret {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if !path.exists() {
        std::fs::create_dir_all(data_dir).map_err(error)?;
        let secret = crate::random::random_token(32);
        crate::vault::write_private_file(&path, &secret).map_err(error)?;
    }
    let text = std::fs::read_to_string(&path).map_err(error)?;
    Ok(SecretString::new(text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn settings() -> AuthSettings {
        AuthSettings {
            jwt_secret: None,
            jwt_public_key_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            session_hours: 12,
        }
    }

    fn auth() -> Authenticator {
        Authenticator::from_secret(&SecretString::new(SECRET), &settings())
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn sign(alg: Algorithm, claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    }

    fn exp() -> u64 {
        now_secs() + 600
    }

    #[test]
    fn a_good_token_names_tenant_and_user() {
        let token = auth().mint("acme", "ana@acme.test", 600).expect("mint");
        let p = auth().verify(&token).expect("valid");
        assert_eq!(p.tenant.as_str(), "acme");
        assert_eq!(p.user, "ana@acme.test");
    }

    #[test]
    fn the_attack_list_is_refused() {
        let hs = Algorithm::HS256;
        let ok_claims = serde_json::json!({"sub": "u", "tenant_id": "t", "exp": exp()});
        assert!(
            auth()
                .verify(&sign(hs, ok_claims.clone(), SECRET))
                .is_some(),
            "control"
        );

        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none"})),
            b64(&ok_claims)
        );
        assert!(auth().verify(&none).is_none(), "alg none");
        let hs512 = sign(Algorithm::HS512, ok_claims.clone(), SECRET);
        assert!(auth().verify(&hs512).is_none(), "other algorithm");
        assert!(auth()
            .verify(&sign(
                hs,
                ok_claims.clone(),
                "another-secret-another-secret!!"
            ))
            .is_none());
        let expired = serde_json::json!({"sub": "u", "tenant_id": "t", "exp": now_secs() - 120});
        assert!(
            auth().verify(&sign(hs, expired, SECRET)).is_none(),
            "expired"
        );
        let future = serde_json::json!({"sub": "u", "tenant_id": "t", "exp": exp(), "nbf": now_secs() + 600});
        assert!(
            auth().verify(&sign(hs, future, SECRET)).is_none(),
            "not yet valid"
        );
        let no_tenant = serde_json::json!({"sub": "u", "exp": exp()});
        assert!(
            auth().verify(&sign(hs, no_tenant, SECRET)).is_none(),
            "no tenant"
        );
        let reserved =
            serde_json::json!({"sub": "u", "tenant_id": "_unauthenticated", "exp": exp()});
        assert!(
            auth().verify(&sign(hs, reserved, SECRET)).is_none(),
            "the tenant anonymous refusals are recorded under cannot be claimed"
        );
        let bad_tenant = serde_json::json!({"sub": "u", "tenant_id": "../x", "exp": exp()});
        assert!(
            auth().verify(&sign(hs, bad_tenant, SECRET)).is_none(),
            "odd tenant"
        );
        let no_exp = serde_json::json!({"sub": "u", "tenant_id": "t"});
        assert!(auth().verify(&sign(hs, no_exp, SECRET)).is_none(), "no exp");
        assert!(auth().verify("garbage").is_none());
    }

    #[test]
    fn issuer_and_audience_are_enforced_when_configured() {
        let mut s = settings();
        s.jwt_issuer = Some("https://idp.example".into());
        s.jwt_audience = Some("connector-hub".into());
        let strict = Authenticator::from_secret(&SecretString::new(SECRET), &s);
        let token = strict.mint("t", "u", 600).expect("mint");
        assert!(strict.verify(&token).is_some());
        let plain = auth().mint("t", "u", 600).expect("mint");
        assert!(strict.verify(&plain).is_none(), "missing iss/aud");
    }
}
