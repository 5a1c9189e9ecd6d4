//! Reading a connector's data: one page of a stream (`pages`, through the one way out to
//! providers, `outbound`), values in providers' formats and column types (`values`), the REST API
//! connector's stream from its configuration (`rest_api`), PostgreSQL tables (`postgres`), where a
//! pass through a stream starts and what it has reached (`pass`), and the engine that runs a pass
//! page by page (`engine`; `tables` for PostgreSQL's). The service runs syncs and previews with
//! these, giving the engine its reads, its seals and its commits; nothing here touches the store.

pub(crate) mod engine;
pub(crate) mod pages;
pub(crate) mod pass;
pub(crate) mod postgres;
pub(crate) mod rest_api;
pub(crate) mod tables;
pub(crate) mod values;

pub(crate) use pass::Pass;

use crate::catalog::{ConnectorDef, StreamDef, StreamsFrom};
use crate::error::{Error, ErrorCode};
use crate::outbound::answers::str_at;
use crate::secret::SecretConfig;

/// Records a preview shows.
pub(crate) const PREVIEW_RECORDS: usize = 10;

/// The HTTP streams a connector offers: the catalog's, or the REST API connector's one.
pub(crate) fn http_streams(def: &ConnectorDef, config: &SecretConfig) -> Vec<StreamDef> {
    if def.streams_from == StreamsFrom::Settings {
        return vec![rest_api::stream(config)];
    }
    def.streams.clone()
}

/// The names of the streams a connector offers, known without reaching it: the catalog's, or the
/// REST API connector's one; `None` for PostgreSQL, whose tables are known once it is reached.
pub(crate) fn known_streams(def: &ConnectorDef) -> Option<Vec<&str>> {
    match def.streams_from {
        StreamsFrom::Discovery => None,
        StreamsFrom::Settings => Some(vec![rest_api::STREAM]),
        StreamsFrom::Catalog => Some(def.streams.iter().map(|s| s.name.as_str()).collect()),
    }
}

/// The stream called `name` among `streams`, or the first when no name is given.
pub(crate) fn choose<'a>(
    streams: &'a [StreamDef],
    name: Option<&str>,
) -> Result<&'a StreamDef, Error> {
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

pub(crate) fn unknown_stream<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Error {
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

/// The `field` of a `missing_permission` error: what is to be fixed is a permission, not the
/// credential's value. A run skips the stream of such an error (and only of such an error).
pub(crate) const PERMISSION_FIELD: &str = "scopes";

/// A stream the connection may not read: which permission it needs, and how to get it.
pub(crate) fn missing_permission(provider: &str, stream: &StreamDef, scopes: &[&str]) -> Error {
    Error::new(
        ErrorCode::InsufficientPermissions,
        format!(
            "{provider} does not allow this connection to read {}: it needs the {} permission. Sign in again and allow it.",
            stream.name,
            scopes.join(", ")
        ),
    )
    .with_field(PERMISSION_FIELD)
}

/// A record's id: the provider's, or, where a record has none, a digest of its content.
pub(crate) fn record_id(stream: &StreamDef, record: &serde_json::Value) -> String {
    str_at(record, &stream.id).unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(record).unwrap_or_default();
        format!(
            "sha256:{}",
            hex::encode(&Sha256::digest(text.as_bytes())[..16])
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_record_without_an_id_is_named_by_its_content() {
        let stream = rest_api::stream(&SecretConfig::decrypted(BTreeMap::new()));
        let a = record_id(&stream, &serde_json::json!({"name": "a"}));
        assert_eq!(a, record_id(&stream, &serde_json::json!({"name": "a"})));
        assert_ne!(a, record_id(&stream, &serde_json::json!({"name": "b"})));
        assert_eq!(record_id(&stream, &serde_json::json!({"id": 7})), "7");
    }
}
