//! Reading a connector's data: where its API is and how calls carry the credential (`access`),
//! one page of a stream (`pages`), values in providers' formats and column types (`values`),
//! the REST API connector's stream from its configuration (`rest_api`), PostgreSQL tables
//! (`postgres`), and what a pass through a stream has reached (`Pass`). The service runs syncs
//! and previews with these; nothing here touches the store.

pub mod access;
pub mod pages;
pub mod postgres;
pub mod rest_api;
pub mod values;

use crate::catalog::{ConnectorDef, StreamDef, StreamsFrom};
use crate::checks::str_at;
use crate::error::{Error, ErrorCode};
use crate::secret::SecretConfig;
use pages::PageToken;
use serde::{Deserialize, Serialize};

/// Records a preview shows.
pub const PREVIEW_RECORDS: usize = 10;

/// A pass through a stream under way: saved with every page committed, so a run stopped at any
/// point goes on from the next page, with the same lower bound and the same pass id (which marks
/// the records it has seen, for telling deletions at the end of a full read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    pub id: String,
    /// A full read: at its end, records it did not see are deletions.
    pub full: bool,
    /// Changes since this time only (unix ms), for an incremental pass.
    pub since: Option<i64>,
    pub next: PageToken,
    /// The newest change time seen so far: the stream's cursor once the pass ends.
    pub high_water: Option<i64>,
    /// Where the stream's change feed goes on once this pass ends (taken before a full read, or
    /// given by the feed's last page).
    #[serde(default)]
    pub feed: Option<String>,
}

impl Pass {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The HTTP streams a connector offers: the catalog's, or the REST API connector's one.
pub fn http_streams(def: &ConnectorDef, config: &SecretConfig) -> Vec<StreamDef> {
    if def.streams_from == StreamsFrom::Settings {
        return vec![rest_api::stream(config)];
    }
    def.streams.clone()
}

/// The names of the streams a connector offers, known without reaching it: the catalog's, or the
/// REST API connector's one; `None` for PostgreSQL, whose tables are known once it is reached.
pub fn known_streams(def: &ConnectorDef) -> Option<Vec<&str>> {
    match def.streams_from {
        StreamsFrom::Discovery => None,
        StreamsFrom::Settings => Some(vec![rest_api::STREAM]),
        StreamsFrom::Catalog => Some(def.streams.iter().map(|s| s.name.as_str()).collect()),
    }
}

/// The stream called `name` among `streams`, or the first when no name is given.
pub fn choose<'a>(streams: &'a [StreamDef], name: Option<&str>) -> Result<&'a StreamDef, Error> {
    match name.filter(|n| !n.is_empty()) {
        None => streams.first().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                "This connector has no streams to read.",
            )
        }),
        Some(name) => streams
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| unknown_stream(name, streams.iter().map(|s| s.name.as_str()))),
    }
}

pub fn unknown_stream<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Error {
    Error::new(
        ErrorCode::InvalidRequest,
        format!(
            "There is no stream “{}”. Streams: {}.",
            name.chars().take(64).collect::<String>(),
            known.collect::<Vec<_>>().join(", ")
        ),
    )
    .with_field("stream")
}

/// A record's id: the provider's, or, where a record has none, a digest of its content.
pub fn record_id(stream: &StreamDef, record: &serde_json::Value) -> String {
    str_at(record, &stream.id).unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(record).unwrap_or_default();
        format!(
            "sha256:{}",
            hex::encode(&Sha256::digest(text.as_bytes())[..16])
        )
    })
}

/// The connector's secret values, to take out of anything read from the provider before it is
/// stored or shown: an API that echoes the request (its URL with an API key in the query, its
/// headers) must not put the credential into a record.
pub struct Scrub(Vec<String>);

const REDACTED: &str = "[redacted]";

/// Shorter values are left alone: they would match ordinary data.
const SCRUB_MIN_LEN: usize = 6;

impl Scrub {
    pub fn new(def: &ConnectorDef, config: &SecretConfig) -> Self {
        let mut secrets: Vec<String> = def
            .fields
            .iter()
            .filter(|f| f.secret)
            .filter_map(|f| config.get(&f.name))
            .filter(|v| v.len() >= SCRUB_MIN_LEN)
            .map(str::to_owned)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self(secrets)
    }

    /// `text` with every secret value replaced by `[redacted]`.
    pub fn clean<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// The longest secret's length (0 when there is none).
    pub fn longest(&self) -> usize {
        self.0.first().map_or(0, String::len)
    }

    /// `bytes` with every secret value replaced by `[redacted]`, in place.
    pub fn clean_bytes(&self, bytes: &mut Vec<u8>) {
        for secret in &self.0 {
            let secret = secret.as_bytes();
            let mut from = 0;
            while let Some(at) = bytes[from..]
                .windows(secret.len())
                .position(|w| w == secret)
            {
                let at = from + at;
                bytes.splice(at..at + secret.len(), REDACTED.bytes());
                from = at + REDACTED.len();
            }
        }
    }

    /// A JSON value cleaned the same way (parsed again only when something was replaced).
    pub fn clean_value(&self, value: serde_json::Value) -> serde_json::Value {
        let text = value.to_string();
        match self.clean(&text) {
            std::borrow::Cow::Borrowed(_) => value,
            std::borrow::Cow::Owned(clean) => {
                serde_json::from_str(&clean).unwrap_or(serde_json::Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn secret_values_are_taken_out_of_provider_data() {
        let def = crate::catalog::catalog().get("rest_api").expect("rest_api");
        let config = SecretConfig::decrypted(BTreeMap::from([
            ("base_url".to_owned(), "https://api.example.com".to_owned()),
            ("auth_type".to_owned(), "api_key_query".to_owned()),
            ("header_name".to_owned(), "key".to_owned()),
            ("api_key".to_owned(), "s3cret-key-42".to_owned()),
        ]));
        let scrub = Scrub::new(def, &config);
        assert_eq!(
            scrub.clean(r#"{"self":"/items?key=s3cret-key-42","name":"key"}"#),
            r#"{"self":"/items?key=[redacted]","name":"key"}"#,
            "the secret goes, a field named like the header stays"
        );
        assert!(matches!(
            scrub.clean("nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
        let value = serde_json::json!({"echo": "s3cret-key-42", "n": 1});
        assert_eq!(
            scrub.clean_value(value),
            serde_json::json!({"echo": "[redacted]", "n": 1})
        );
    }

    #[test]
    fn a_record_without_an_id_is_named_by_its_content() {
        let stream = rest_api::stream(&SecretConfig::decrypted(BTreeMap::new()));
        let a = record_id(&stream, &serde_json::json!({"name": "a"}));
        assert_eq!(a, record_id(&stream, &serde_json::json!({"name": "a"})));
        assert_ne!(a, record_id(&stream, &serde_json::json!({"name": "b"})));
        assert_eq!(record_id(&stream, &serde_json::json!({"id": 7})), "7");
    }
}
