//! Checking a submitted configuration against its connector's fields: the one place a value
//! from outside becomes a configuration (server only).

use super::{Catalog, ConnectorDef, FieldKind, ValidConfig};
use crate::error::{Error, ErrorCode};
use std::collections::BTreeMap;

impl Catalog {
    /// The definition of `connector_type`, or the error naming the types there are.
    pub(crate) fn definition(&self, connector_type: &str) -> Result<&ConnectorDef, Error> {
        self.get(connector_type).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownConnectorType,
                format!(
                    "There is no connector type “{}”. Known types: {}.",
                    connector_type.chars().take(40).collect::<String>(),
                    self.entries()
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_field("connector_type")
        })
    }

    /// Checks a submitted configuration against the connector's fields and returns it normalised:
    /// defaults filled in, fields that do not apply dropped. Errors name the field to blame and
    /// never repeat the submitted value (it may be a secret).
    pub fn validate(
        &self,
        def: &ConnectorDef,
        submitted: &BTreeMap<String, String>,
    ) -> Result<ValidConfig, Error> {
        if let Some(unknown) = submitted.keys().find(|k| def.field(k).is_none()) {
            return Err(Error::invalid_config(
                unknown,
                format!(
                    "{} has no field named “{}”.",
                    def.name,
                    truncate(unknown, 64)
                ),
            ));
        }
        let mut config = BTreeMap::new();
        // Fields without conditions first, so that conditions can see their values.
        let mut ordered: Vec<_> = def.fields.iter().collect();
        ordered.sort_by_key(|f| f.when_field.is_some());
        for field in ordered {
            if !field.applies(&config) {
                continue;
            }
            let submitted_value = submitted.get(&field.name).map(String::as_str).unwrap_or("");
            let value = self.validate_field(def, field, submitted_value)?;
            if !value.is_empty() {
                config.insert(field.name.clone(), value);
            }
        }
        Ok(ValidConfig(config))
    }

    /// Checks one answer of the setup wizard against its field, before the whole config exists.
    pub(crate) fn validate_field(
        &self,
        def: &ConnectorDef,
        field: &super::FieldDef,
        value: &str,
    ) -> Result<String, Error> {
        let value = value.trim();
        if value.is_empty() {
            return match &field.default {
                Some(default) => Ok(default.clone()),
                None if field.required => Err(Error::invalid_config(
                    &field.name,
                    format!("{} is required.", field.label),
                )),
                None => Ok(String::new()),
            };
        }
        if field.kind == FieldKind::Select && !field.options.iter().any(|o| o == value) {
            return Err(Error::invalid_config(
                &field.name,
                format!(
                    "{} must be one of: {}.",
                    field.label,
                    field.options.join(", ")
                ),
            ));
        }
        if let Some(regex) = self.patterns.get(&(def.id.clone(), field.name.clone())) {
            if !regex.is_match(value) {
                let example = field
                    .example
                    .as_deref()
                    .map(|e| format!(" For example: {e}"))
                    .unwrap_or_default();
                return Err(Error::invalid_config(
                    &field.name,
                    format!(
                        "{} is not in the expected format. {}{example}",
                        field.label, field.help
                    ),
                ));
            }
        }
        if field.secret {
            check_secret_length(&field.name, &field.label, value)?;
        }
        if def.streams_from == super::StreamsFrom::Settings && field.name == "header_name" {
            refuse_framing_header(&field.name, value)?;
        }
        Ok(value.to_owned())
    }
}

/// The shortest secret the hub accepts: anything shorter would match ordinary data, and could
/// not be taken out of what a provider sends back (`outbound::scrub`) without mangling it — or be
/// left in without leaking it.
pub(crate) const MIN_SECRET_LEN: usize = 8;

/// Refuses a secret field's value too short to keep safe, naming the field.
pub(crate) fn check_secret_length(field: &str, label: &str, value: &str) -> Result<(), Error> {
    if value.chars().count() < MIN_SECRET_LEN {
        return Err(Error::invalid_config(
            field,
            format!(
                "{label} is too short: a secret needs at least {MIN_SECRET_LEN} characters, so \
                 that Connector Hub can recognise it and keep it out of everything the provider \
                 sends back."
            ),
        ));
    }
    Ok(())
}

/// Headers that frame or route the request itself: a key sent in one of them would break the
/// call or let a tenant rewrite where and how it goes (RFC 9110 §7.6.1, RFC 9112 §6).
const FRAMING_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

fn refuse_framing_header(field: &str, value: &str) -> Result<(), Error> {
    if FRAMING_HEADERS.contains(&value.to_ascii_lowercase().as_str()) {
        return Err(Error::invalid_config(
            field,
            format!(
                "{} frames or routes the request itself, so it cannot carry a key. Use the header \
                 your API documents for its key, such as X-API-Key.",
                truncate(value, 64)
            ),
        ));
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use crate::catalog::catalog;
    use crate::error::ErrorCode;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validate_fills_defaults_and_checks_patterns() {
        let def = catalog().get("postgresql").expect("postgresql");
        let ok = catalog()
            .validate(
                def,
                &map(&[
                    ("host", "db.example.com"),
                    ("database", "app"),
                    ("username", "u"),
                    ("password", "p-long-enough"),
                ]),
            )
            .expect("valid");
        assert_eq!(ok.get("port").map(String::as_str), Some("5432"));
        // A secret too short to find in what comes back is refused, by name.
        let short = catalog()
            .validate(
                def,
                &map(&[
                    ("host", "db.example.com"),
                    ("database", "app"),
                    ("username", "u"),
                    ("password", "p"),
                ]),
            )
            .expect_err("too short");
        assert_eq!(short.field.as_deref(), Some("password"));
        assert_eq!(ok.get("sslmode").map(String::as_str), Some("require"));

        let err = catalog()
            .validate(
                def,
                &map(&[("host", "db"), ("database", "app"), ("username", "u")]),
            )
            .expect_err("password missing");
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert_eq!(err.field.as_deref(), Some("password"));

        let err = catalog()
            .validate(
                def,
                &map(&[
                    ("host", "db"),
                    ("database", "a"),
                    ("username", "u"),
                    ("password", "p-long-enough"),
                    ("sslmode", "maybe"),
                ]),
            )
            .expect_err("bad option");
        assert_eq!(err.field.as_deref(), Some("sslmode"));
    }

    #[test]
    fn validate_refuses_unknown_fields_and_never_echoes_values() {
        let def = catalog().get("stripe").expect("stripe");
        let err = catalog()
            .validate(def, &map(&[("api_key", "sk_test_abcdef"), ("extra", "1")]))
            .expect_err("unknown");
        assert_eq!(err.field.as_deref(), Some("extra"));
        let err = catalog()
            .validate(def, &map(&[("api_key", "pk_test_SECRETVALUE")]))
            .expect_err("publishable key");
        assert_eq!(err.field.as_deref(), Some("api_key"));
        assert!(!err.message.contains("SECRETVALUE"));
    }

    #[test]
    fn conditional_fields_follow_auth_type() {
        let def = catalog().get("rest_api").expect("rest_api");
        let cfg = catalog()
            .validate(
                def,
                &map(&[
                    ("base_url", "https://api.example.com"),
                    ("auth_type", "none"),
                    ("api_key", "ignored"),
                ]),
            )
            .expect("none needs no key");
        assert!(!cfg.contains_key("api_key"));
        let err = catalog()
            .validate(
                def,
                &map(&[
                    ("base_url", "https://api.example.com"),
                    ("auth_type", "basic"),
                ]),
            )
            .expect_err("basic needs a username");
        assert_eq!(err.field.as_deref(), Some("username"));
    }
}
