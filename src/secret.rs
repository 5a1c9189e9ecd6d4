//! Secrets as types: they print as `[redacted]`, cannot be serialized, and are only ever turned
//! back into text by the code that must send them to a provider.

use crate::catalog::ValidConfig;
use std::collections::BTreeMap;
use std::fmt;

/// The configuration key of an OAuth2 access token (every OAuth2 connector has one).
pub(crate) const ACCESS_TOKEN: &str = "access_token";
/// The configuration key of an OAuth2 refresh token, kept from signing in, never typed.
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";
pub(crate) use crate::catalog::GRANTED_SCOPES;

/// A string that refuses to print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for the one place that has to use it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A connector's decrypted configuration: every value is treated as secret, whether the catalog
/// flags it or not, so that no part of it is logged or returned by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretConfig(BTreeMap<String, String>);

/// A configuration the catalog checked, on its way to a check or the vault.
impl From<ValidConfig> for SecretConfig {
    fn from(config: ValidConfig) -> Self {
        Self(config.into_inner())
    }
}

impl SecretConfig {
    /// A configuration read back from the vault: it was valid when it was sealed.
    pub(crate) fn decrypted(values: BTreeMap<String, String>) -> Self {
        Self(values)
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn expose(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub(crate) fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }

    pub(crate) fn set(&mut self, field: &str, value: String) {
        self.0.insert(field.to_owned(), value);
    }
}

impl fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = SecretString::new("sk_live_CANARY");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        let c = SecretConfig::decrypted(BTreeMap::from([(
            "api_key".into(),
            "sk_live_CANARY".into(),
        )]));
        let shown = format!("{c:?}");
        assert!(
            shown.contains("api_key") && !shown.contains("CANARY"),
            "{shown}"
        );
    }
}
