//! Listing a tenant's connectors, page by page, with the encoded-page cache.

use super::Connectors;
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::{ConnectorPage, ConnectorStatus};
use crate::service::{Caller, RateClass};
use crate::store::{ConnectorRecord, ListQuery};
use base64::Engine;
use std::time::Instant;

pub(crate) const DEFAULT_PAGE: usize = 50;
pub(crate) const MAX_PAGE: usize = 200;

/// What a listing page is cached under: the request, after validation.
#[derive(PartialEq, Eq, Hash)]
pub(super) struct PageKey {
    tenant: String,
    status: Option<ConnectorStatus>,
    limit: usize,
    cursor: Option<String>,
}

impl Connectors {
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        status: Option<ConnectorStatus>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<ConnectorPage, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        self.page(caller, status, page_size(limit), cursor).await
    }

    /// A listing page as the JSON the REST API answers with. While the store reports no change
    /// the same bytes are sent again (for at most a second: see `page_cache`), which spares the
    /// read, the views and the encoding.
    pub(crate) async fn list_json(
        &self,
        caller: &Caller,
        status: Option<ConnectorStatus>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<bytes::Bytes, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let limit = page_size(limit);
        // The marker is taken before the read, so a change landing in between only makes the page
        // look stale.
        let cache = self.pages.as_ref().and_then(|pages| {
            let marker = self.store.change_marker()?;
            let key = PageKey {
                tenant: caller.tenant().as_str().to_owned(),
                status,
                limit,
                cursor: cursor.map(str::to_owned),
            };
            Some((pages, marker, key))
        });
        let started = Instant::now();
        if let Some(body) = cache
            .as_ref()
            .and_then(|(pages, marker, key)| pages.get(key, *marker, started))
        {
            self.metrics.page_cache(true);
            return Ok(body);
        }
        let page = self.page(caller, status, limit, cursor).await?;
        let body = bytes::Bytes::from(serde_json::to_vec(&page).map_err(|e| {
            tracing::error!(error = %e, "could not encode a listing page");
            Error::from_code(ErrorCode::Internal)
        })?);
        if let Some((pages, marker, key)) = cache {
            self.metrics.page_cache(false);
            pages.put(key, marker, started, body.clone());
        }
        Ok(body)
    }

    /// One page of `limit` (from `page_size`) connectors.
    pub(super) async fn page(
        &self,
        caller: &Caller,
        status: Option<ConnectorStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ConnectorPage, Error> {
        let (records, next_cursor) = self.records_page(caller, status, limit, cursor).await?;
        Ok(ConnectorPage {
            connectors: records.iter().map(|r| self.views.view(r)).collect(),
            next_cursor,
        })
    }

    /// One page of the caller's connector records (newest first), and the cursor to the next.
    pub(crate) async fn records_page(
        &self,
        caller: &Caller,
        status: Option<ConnectorStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<ConnectorRecord>, Option<String>), Error> {
        let before = cursor.map(decode_cursor).transpose()?;
        let mut records = self
            .store
            .list(
                caller.tenant(),
                &ListQuery {
                    status,
                    limit: limit + 1,
                    before,
                },
            )
            .await?;
        let more = records.len() > limit;
        records.truncate(limit);
        let next_cursor = more.then(|| records.last().map(encode_cursor)).flatten();
        Ok((records, next_cursor))
    }
}

/// The page size a listing asked for, within bounds.
pub(crate) fn page_size(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn encode_cursor(r: &ConnectorRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", r.created_at, r.connector_id))
}

fn decode_cursor(cursor: &str) -> Result<(i64, ConnectorId), Error> {
    let bad = || {
        Error::new(
            ErrorCode::InvalidRequest,
            "The cursor is not one this server handed out.",
        )
        .with_field("cursor")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    let id = ConnectorId::parse(id).ok_or_else(bad)?;
    Ok((at, id))
}
