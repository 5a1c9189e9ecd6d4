//! Identifiers — the tenant a verified token names, and those the hub hands out (connector ids,
//! wizard draft ids) — and the names people give connectors, parsed once at the edge so nothing
//! below has to wonder whether a string is one; and the randomness that makes ids.

use crate::error::{Error, ErrorCode};
use crate::random::random_hex;
use std::fmt;

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A tenant id taken from a verified token: 1–128 characters of `[A-Za-z0-9._:-]`, not starting
/// with `_` (reserved for the server's own records, such as refusals of anonymous requests).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && !value.starts_with('_')
            && value.len() <= 128
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where refusals of requests without a valid token are recorded.
    pub fn unauthenticated() -> Self {
        Self("_unauthenticated".to_owned())
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A connector's id: `conn-` and 20 lower-case hex digits. Anything else cannot name one, so a
/// malformed id is answered like a missing one without asking the store. Stored and serialized as
/// its text (the format stores have always held), and parsed again on the way back in.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectorId(String);

impl ConnectorId {
    pub fn generate() -> Self {
        Self(format!("conn-{}", random_hex(10)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::well_formed(s).then(|| Self(s.to_owned()))
    }

    fn well_formed(s: &str) -> bool {
        s.strip_prefix("conn-")
            .is_some_and(|rest| lower_hex(rest, 20))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a text is not a connector id (where the text came from a store or a document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a connector id")]
pub struct NotAConnectorId;

impl TryFrom<String> for ConnectorId {
    type Error = NotAConnectorId;

    fn try_from(text: String) -> Result<Self, NotAConnectorId> {
        if Self::well_formed(&text) {
            Ok(Self(text))
        } else {
            Err(NotAConnectorId)
        }
    }
}

impl From<ConnectorId> for String {
    fn from(id: ConnectorId) -> Self {
        id.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ConnectorId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A setup-wizard draft's id: 32 lower-case hex digits, random.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DraftId(String);

impl DraftId {
    pub(crate) fn generate() -> Self {
        Self(random_hex(16))
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        lower_hex(s, 32).then(|| Self(s.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DraftId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a connector is called: 1 to 100 characters once trimmed, no control characters. Parsed
/// where a name comes in (the REST API, a server function, the wizard), so every path holds the
/// same rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub(crate) const MAX_CHARS: usize = 100;

    pub(crate) fn parse(name: &str) -> Result<Self, Error> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > Self::MAX_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "The display name must be 1 to {} characters, without control characters.",
                    Self::MAX_CHARS
                ),
            )
            .with_field("display_name"));
        }
        Ok(Self(name.to_owned()))
    }
}

impl TryFrom<String> for DisplayName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self, Error> {
        Self::parse(&name)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> Self {
        name.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_parse() {
        let id = ConnectorId::generate();
        assert_eq!(ConnectorId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "conn-",
            "conn-0123456789ABCDEF0123",
            "conn-0123456789abcdef012",
            "xonn-0123456789abcdef0123",
            "conn-0123456789abcdef0123 ",
        ] {
            assert_eq!(ConnectorId::parse(bad), None, "{bad:?}");
        }
        let draft = DraftId::generate();
        assert_eq!(DraftId::parse(draft.as_str()), Some(draft));
        assert_eq!(DraftId::parse("0123456789abcdef0123456789ABCDEF"), None);
        assert_eq!(DraftId::parse("../../etc"), None);
    }

    #[test]
    fn ids_serialize_as_their_text_and_only_ids_deserialize() {
        let id = ConnectorId::generate();
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<ConnectorId>(&json).ok(), Some(id));
        for bad in ["\"\"", "\"conn-1\"", "\"conn-0123456789ABCDEF0123\"", "7"] {
            assert!(serde_json::from_str::<ConnectorId>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names_are_trimmed_bounded_and_printable() {
        assert_eq!(
            DisplayName::parse("  Payments ").map(|n| n.to_string()),
            Ok("Payments".into())
        );
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        for bad in ["", "   ", "tab\tname", &"é".repeat(101)] {
            let error = DisplayName::parse(bad).expect_err(bad);
            assert_eq!(error.field.as_deref(), Some("display_name"));
        }
    }
}
