//! Loading and checking the compiled-in catalog (server only).

use super::{ConnectorDef, FieldKind};
use regex::Regex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

const CATALOG_TOML: &str = include_str!("connectors.toml");

#[derive(Debug, thiserror::Error)]
pub(crate) enum CatalogError {
    #[error("the connector catalog is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the connector catalog is inconsistent: {0}")]
    Invalid(String),
}

/// A connector configuration the catalog has checked: every field known, every value matching
/// its pattern, defaults filled in, fields that do not apply dropped. Only `Catalog::validate`
/// makes one, and only a `ValidConfig` becomes the `SecretConfig` a check runs with or the vault
/// encrypts — so nothing unchecked reaches a provider or the store. Read it like a map.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidConfig(pub(super) BTreeMap<String, String>);

/// Names only: the values may be secrets.
impl std::fmt::Debug for ValidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

impl ValidConfig {
    pub(crate) fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl std::ops::Deref for ValidConfig {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[derive(serde::Deserialize)]
struct CatalogFile {
    connector: Vec<ConnectorDef>,
}

/// The parsed catalog with every validation pattern compiled once.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<ConnectorDef>,
    pub(super) patterns: HashMap<(String, String), Regex>,
}

/// The compiled-in catalog. It is checked by the test suite, so a failure here is a build defect.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::parse(CATALOG_TOML).unwrap_or_else(|e| panic!("compiled-in catalog: {e}"))
    })
}

impl Catalog {
    pub(crate) fn parse(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut ids = HashSet::new();
        let mut patterns = HashMap::new();
        for def in &file.connector {
            let invalid = |what: String| CatalogError::Invalid(format!("{}: {what}", def.id));
            if !ids.insert(def.id.clone()) {
                return Err(invalid("duplicate id".into()));
            }
            if def.fields.is_empty() {
                return Err(invalid("has no fields".into()));
            }
            if def.regions.is_empty() {
                return Err(invalid("has no regions".into()));
            }
            if def.oauth.is_some() && def.auth != super::AuthKind::OAuth2 {
                return Err(invalid("has OAuth2 endpoints but another auth kind".into()));
            }
            if let Some(oauth) = &def.oauth {
                let wants_shop =
                    oauth.authorize_url.contains("{shop}") || oauth.token_url.contains("{shop}");
                if wants_shop && def.field("shop_domain").is_none() {
                    return Err(invalid(
                        "OAuth2 URLs use {shop} without a shop_domain".into(),
                    ));
                }
                if def.field("access_token").is_none() {
                    return Err(invalid("OAuth2 without an access_token field".into()));
                }
                if def
                    .field(super::GRANTED_SCOPES)
                    .is_none_or(|f| f.secret || f.ask != super::Ask::Never)
                {
                    return Err(invalid(
                        "OAuth2 without a granted_scopes field filled by the sign-in".into(),
                    ));
                }
                let filled = [
                    oauth.choose.as_ref().map(|c| &c.fills),
                    oauth.from_redirect.as_ref().map(|r| &r.fills),
                ];
                for fills in filled.into_iter().flatten() {
                    if def.field(fills).is_none() {
                        return Err(invalid(format!("sign-in fills unknown field {fills}")));
                    }
                }
                if oauth.choose.as_ref().is_some_and(|c| c.name.is_empty()) {
                    return Err(invalid("a sign-in choice without a name pointer".into()));
                }
            }
            if !def.streams.is_empty() && def.access.is_none() {
                return Err(invalid("streams without access".into()));
            }
            if def.streams_from != super::StreamsFrom::Catalog && !def.streams.is_empty() {
                return Err(invalid(
                    "streams in the catalog, but they come from elsewhere".into(),
                ));
            }
            if let Some(hooks) = &def.webhooks {
                hooks.check(def).map_err(invalid)?;
            }
            let mut stream_names = HashSet::new();
            for stream in &def.streams {
                if !stream_names.insert(stream.name.as_str()) {
                    return Err(invalid(format!("duplicate stream {}", stream.name)));
                }
                if def.oauth.is_some() && stream.scopes.is_empty() {
                    return Err(invalid(format!(
                        "stream {} of an OAuth connector names no scope its list call needs",
                        stream.name
                    )));
                }
                if stream.incremental.is_some() && stream.updated.is_none() {
                    return Err(invalid(format!(
                        "stream {} is incremental without an updated field",
                        stream.name
                    )));
                }
                if let Some(incremental) = &stream.incremental {
                    let ways = [
                        incremental.param.is_some(),
                        incremental.header.is_some(),
                        incremental.clause.is_some(),
                        incremental.search.is_some(),
                        incremental.events.is_some(),
                        incremental.feed.is_some(),
                    ];
                    if ways.iter().filter(|w| **w).count() != 1 {
                        return Err(invalid(format!(
                            "stream {} must carry its increment in one of param, header, clause, search, events or feed",
                            stream.name
                        )));
                    }
                    if let Some(search) = &incremental.search {
                        if !search.body.to_string().contains("\"{since}\"") {
                            return Err(invalid(format!(
                                "stream {}'s search has no \"{{since}}\" in its body",
                                stream.name
                            )));
                        }
                        if !matches!(stream.paging, super::Paging::Cursor { .. }) {
                            return Err(invalid(format!(
                                "stream {}'s search needs cursor paging",
                                stream.name
                            )));
                        }
                    }
                    if incremental.clause.is_some()
                        && !stream.query.values().any(|v| v.contains("{since}"))
                    {
                        return Err(invalid(format!(
                            "stream {} has a clause but no {{since}} in its query",
                            stream.name
                        )));
                    }
                }
                if stream.page_size == 0 {
                    return Err(invalid(format!("stream {} has no page size", stream.name)));
                }
            }
            let mut names = HashSet::new();
            for field in &def.fields {
                if field.ask == super::Ask::Later && field.required {
                    return Err(invalid(format!(
                        "field {} is set later, so it cannot be required",
                        field.name
                    )));
                }
                if field.ask == super::Ask::Never && field.required {
                    return Err(invalid(format!(
                        "field {} is required but never asked",
                        field.name
                    )));
                }
                if !names.insert(field.name.as_str()) {
                    return Err(invalid(format!("duplicate field {}", field.name)));
                }
                if field.kind == FieldKind::Select && field.options.is_empty() {
                    return Err(invalid(format!(
                        "select field {} has no options",
                        field.name
                    )));
                }
                if field.kind != FieldKind::Select && field.pattern.is_none() {
                    return Err(invalid(format!("field {} has no pattern", field.name)));
                }
                if let Some(other) = &field.when_field {
                    if !def.fields.iter().any(|f| &f.name == other) {
                        return Err(invalid(format!(
                            "field {} depends on unknown {other}",
                            field.name
                        )));
                    }
                }
                if let Some(pattern) = &field.pattern {
                    let regex = Regex::new(pattern)
                        .map_err(|e| invalid(format!("field {} pattern: {e}", field.name)))?;
                    if let Some(default) = &field.default {
                        if !regex.is_match(default) {
                            return Err(invalid(format!(
                                "field {} default fails its pattern",
                                field.name
                            )));
                        }
                    }
                    patterns.insert((def.id.clone(), field.name.clone()), regex);
                }
            }
        }
        Ok(Self {
            entries: file.connector,
            patterns,
        })
    }

    pub fn entries(&self) -> &[ConnectorDef] {
        &self.entries
    }

    /// Every provider API's public address, by key: the connector's id, and `<id>_sandbox` for a
    /// sandbox. These are the defaults an operator may override.
    pub(crate) fn api_bases(&self) -> impl Iterator<Item = (String, &str)> {
        self.entries.iter().flat_map(|def| {
            let main = def.api_base.as_deref().map(|url| (def.id.clone(), url));
            let sandbox = def
                .sandbox_api_base
                .as_deref()
                .map(|url| (format!("{}_sandbox", def.id), url));
            main.into_iter().chain(sandbox)
        })
    }

    /// The extra query parameters providers add to their sign-in redirect (see `FromRedirect`).
    pub(crate) fn redirect_params(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter_map(|def| def.oauth.as_ref()?.from_redirect.as_ref())
            .map(|r| r.param.as_str())
    }

    pub fn get(&self, id: &str) -> Option<&ConnectorDef> {
        self.entries.iter().find(|d| d.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_catalog_has_the_twelve_connectors() {
        let ids: Vec<&str> = catalog().entries().iter().map(|d| d.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "google_drive",
                "hubspot",
                "mcp_server",
                "postgresql",
                "quickbooks",
                "rest_api",
                "sage",
                "shopify",
                "square",
                "stripe",
                "woocommerce",
                "xero"
            ]
        );
    }

    #[test]
    fn field_names_follow_the_contract() {
        let expect = [
            ("stripe", vec!["api_key", "webhook_secret"]),
            ("shopify", vec!["shop_domain", "access_token"]),
            (
                "square",
                vec!["access_token", "environment", "webhook_secret"],
            ),
            (
                "woocommerce",
                vec![
                    "store_url",
                    "consumer_key",
                    "consumer_secret",
                    "webhook_secret",
                ],
            ),
            ("hubspot", vec!["access_token"]),
            ("xero", vec!["access_token"]),
            ("quickbooks", vec!["access_token", "realm_id"]),
            ("sage", vec!["access_token"]),
            ("google_drive", vec!["access_token"]),
            (
                "rest_api",
                vec![
                    "base_url",
                    "auth_type",
                    "header_name",
                    "api_key",
                    "username",
                    "password",
                    "test_path",
                    "records_path",
                    "records_pointer",
                    "paging",
                    "paging_param",
                    "next_cursor_pointer",
                    "updated_field",
                    "since_param",
                ],
            ),
            (
                "postgresql",
                vec![
                    "host", "port", "database", "username", "password", "sslmode", "tables",
                ],
            ),
            (
                "mcp_server",
                vec!["url", "auth_type", "header_name", "token"],
            ),
        ];
        for (id, fields) in expect {
            let def = catalog().get(id).expect(id);
            // The fields a person types; signing in fills the others.
            let names: Vec<&str> = def
                .fields
                .iter()
                .filter(|f| f.ask != super::super::Ask::Never)
                .map(|f| f.name.as_str())
                .collect();
            assert_eq!(names, fields, "{id}");
            // Every OAuth connector keeps what its sign-in was granted (checked at load).
            let filled: Vec<&str> = def
                .fields
                .iter()
                .filter(|f| f.ask == super::super::Ask::Never)
                .map(|f| f.name.as_str())
                .filter(|name| *name != super::super::GRANTED_SCOPES)
                .collect();
            assert_eq!(
                def.field(super::super::GRANTED_SCOPES).is_some(),
                def.oauth.is_some(),
                "{id}"
            );
            let expected_filled: &[&str] = match (id, def.oauth.is_some()) {
                ("xero", _) => &["refresh_token", "tenant_id"],
                // The account its webhooks name, learned by the connection check.
                ("hubspot", _) => &["refresh_token", "portal_id"],
                ("square", _) => &["refresh_token", "merchant_id"],
                ("stripe", _) => &["account_id"],
                ("sage", _) => &["refresh_token", "business_id"],
                // Its push channel's token, set when the hub registers the channel.
                ("google_drive", _) => &["refresh_token", "webhook_secret"],
                (_, true) => &["refresh_token"],
                (_, false) => &[],
            };
            assert_eq!(filled, expected_filled, "{id}");
        }
    }

    #[test]
    fn secrets_are_flagged() {
        let secret =
            |id: &str, f: &str| catalog().get(id).and_then(|d| d.field(f)).map(|f| f.secret);
        assert_eq!(secret("stripe", "api_key"), Some(true));
        assert_eq!(secret("postgresql", "password"), Some(true));
        assert_eq!(secret("postgresql", "host"), Some(false));
        assert_eq!(secret("woocommerce", "consumer_secret"), Some(true));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let one = r#"
[[connector]]
id = "a"
name = "A"
category = "Custom"
regions = ["Global"]
auth = "custom"
description = "d"
docs_url = "https://example.com"
auth_help = "h"
check_label = "c"
[[connector.fields]]
name = "x"
label = "X"
help = "h"
pattern = "^x$"
"#;
        assert!(Catalog::parse(one).is_ok());
        let err = Catalog::parse(&format!("{one}{one}")).expect_err("duplicate");
        assert!(err.to_string().contains("duplicate id"), "{err}");
        let bad_pattern = one.replace("^x$", "(unclosed");
        assert!(Catalog::parse(&bad_pattern).is_err());
        let no_fields = one
            .split("[[connector.fields]]")
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(Catalog::parse(&no_fields).is_err());
    }
}
