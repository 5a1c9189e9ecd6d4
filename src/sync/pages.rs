//! Reading one page of an HTTP stream: the list call the catalog describes, with the page's
//! position and the increment's lower bound filled in, and the answer parsed into records and
//! where the next page is.

use super::access::{fill, Access};
use super::values::format_time;
use crate::catalog::{EventsDef, Incremental, Paging, SearchDef, StreamDef, TimeFormat};
use crate::checks::http::{Http, Reply};
use crate::checks::status_failure;
use crate::checks::str_at;
use crate::error::{Error, ErrorCode};
use crate::secret::SecretConfig;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest page read: big enough for 250 Shopify orders, small enough to bound memory.
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// Where a pass through a stream stands: what to ask for next. Saved with every committed page,
/// so a run killed in the middle goes on from there. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "value", rename_all = "snake_case")]
pub enum PageToken {
    Start,
    AfterId(String),
    Cursor(String),
    Number(u64),
    Url(String),
    /// A search reached the provider's cap: search again from this change time (unix ms).
    Restart(i64),
}

pub struct Page {
    pub records: Vec<Value>,
    pub next: Option<PageToken>,
    /// Which records are deletions, where the answer says so beside them (an event log); empty
    /// when a record says it itself (the stream's `deleted_flag`).
    pub deleted: Vec<bool>,
    /// The newest change on the page, where the records do not carry it (an event's time).
    pub newest: Option<i64>,
    /// The page lists changes newest first: a record already written by this pass has a newer
    /// state than this one.
    pub newest_first: bool,
}

impl Page {
    fn of(records: Vec<Value>, next: Option<PageToken>) -> Self {
        Self {
            records,
            next,
            deleted: Vec::new(),
            newest: None,
            newest_first: false,
        }
    }
}

/// One stream of one connector, ready to read.
pub struct StreamReader<'a> {
    pub http: &'a Http,
    pub access: &'a Access,
    pub stream: &'a StreamDef,
    pub config: &'a SecretConfig,
    /// The provider's name, for messages.
    pub provider: &'a str,
    /// The field to blame when the provider refuses the credential.
    pub credential_field: &'a str,
}

impl StreamReader<'_> {
    /// The request for the page at `token`, changes since `since` (unix ms) only.
    pub fn page_url(&self, token: &PageToken, since: Option<i64>) -> Result<Url, Error> {
        if let PageToken::Url(next) = token {
            return Url::parse(next).map_err(|_| {
                Error::new(
                    ErrorCode::UnexpectedResponse,
                    "The API's link to its next page is not a valid address.",
                )
            });
        }
        let number = match token {
            PageToken::Number(n) => *n,
            _ => 1,
        };
        let size = u64::from(self.stream.page_size);
        let mut url = self.access.url(&fill(&self.stream.path, self.config)?)?;
        {
            let mut query = url.query_pairs_mut();
            let since_clause = match (since, &self.stream.incremental) {
                (
                    Some(since),
                    Some(Incremental {
                        clause: Some(clause),
                        format,
                        ..
                    }),
                ) => clause.replace("{time}", &format_time(since, *format)),
                _ => String::new(),
            };
            for (name, template) in &self.stream.query {
                let value = template
                    .replace("{page_size}", &size.to_string())
                    .replace("{page}", &number.to_string())
                    .replace(
                        "{position}",
                        &(number.saturating_sub(1) * size + 1).to_string(),
                    )
                    .replace("{since}", &since_clause);
                query.append_pair(name, &fill(&value, self.config)?);
            }
            match (&self.stream.paging, token) {
                (Paging::AfterLastId { param, .. }, PageToken::AfterId(id)) => {
                    query.append_pair(param, id);
                }
                (Paging::Cursor { param, .. }, PageToken::Cursor(cursor)) => {
                    query.append_pair(param, cursor);
                }
                _ => {}
            }
            if let (Some(since), Some(incremental)) = (since, &self.stream.incremental) {
                if let Some(param) = &incremental.param {
                    query.append_pair(param, &format_time(since, incremental.format));
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    /// Reads the page at `token`.
    pub async fn read(&self, token: &PageToken, since: Option<i64>) -> Result<Page, Error> {
        if let (
            Some(since),
            Some(Incremental {
                search: Some(search),
                format,
                ..
            }),
        ) = (since, &self.stream.incremental)
        {
            return self.search(search, *format, token, since).await;
        }
        if let (
            Some(since),
            Some(Incremental {
                events: Some(events),
                format,
                ..
            }),
        ) = (since, &self.stream.incremental)
        {
            return self.events(events, *format, token, since).await;
        }
        let url = self.page_url(token, since)?;
        let mut probe = self.access.get(url.clone())?;
        probe.max_bytes = Some(MAX_PAGE_BYTES);
        if let (Some(since), Some(incremental)) = (since, &self.stream.incremental) {
            if let Some(header) = &incremental.header {
                probe
                    .custom_headers
                    .push((header.clone(), format_time(since, incremental.format)));
            }
        }
        let reply = self.http.send(probe).await?;
        self.parse(&url, token, &reply)
    }

    /// What changed since `since`, oldest first, through the provider's search.
    async fn search(
        &self,
        search: &SearchDef,
        format: TimeFormat,
        token: &PageToken,
        since: i64,
    ) -> Result<Page, Error> {
        let url = self.access.url(&fill(&search.path, self.config)?)?;
        let mut body = serde_json::json!({
            "filterGroups": [{"filters": [{
                "propertyName": search.property, "operator": "GTE", "value": format_time(since, format),
            }]}],
            "sorts": [{"propertyName": search.property, "direction": "ASCENDING"}],
            "limit": self.stream.page_size,
        });
        if let PageToken::Cursor(after) = token {
            body["after"] = Value::String(after.clone());
        }
        let mut probe = self.access.post_json(url, body)?;
        probe.max_bytes = Some(MAX_PAGE_BYTES);
        let reply = self.http.send(probe).await?;
        let (body, records) = self.records_of(&reply)?;
        let after = match &self.stream.paging {
            Paging::Cursor { from, .. } => str_at(&body, from),
            _ => None,
        };
        let next = match after.filter(|a| !a.is_empty()) {
            None => None,
            // The provider answers no further than its cap for one filter: search again from
            // the newest change seen (its records come again, and are no change).
            Some(after)
                if after
                    .parse::<u64>()
                    .is_ok_and(|n| n >= u64::from(search.cap)) =>
            {
                let newest = records
                    .iter()
                    .filter_map(|r| self.stream.updated.as_deref().and_then(|p| r.pointer(p)))
                    .filter_map(super::values::time_ms)
                    .max();
                match newest {
                    Some(at) if at > since => Some(PageToken::Restart(at)),
                    _ => {
                        return Err(Error::new(
                            ErrorCode::UnexpectedResponse,
                            format!(
                                "{} has more changes at one instant than its search can list.",
                                self.provider
                            ),
                        ))
                    }
                }
            }
            Some(after) => Some(PageToken::Cursor(after)),
        };
        Ok(Page::of(records, next))
    }

    /// What changed since `since`, from the provider's event log (newest first).
    async fn events(
        &self,
        events: &EventsDef,
        format: TimeFormat,
        token: &PageToken,
        since: i64,
    ) -> Result<Page, Error> {
        let mut url = self.access.url(&fill(&events.path, self.config)?)?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &self.stream.page_size.to_string());
            query.append_pair("created[gte]", &format_time(since, format));
            for kind in &events.types {
                query.append_pair("types[]", kind);
            }
            if let PageToken::AfterId(id) = token {
                query.append_pair("starting_after", id);
            }
        }
        let mut probe = self.access.get(url)?;
        probe.max_bytes = Some(MAX_PAGE_BYTES);
        let reply = self.http.send(probe).await?;
        let (body, listed) = self.records_of(&reply)?;
        let mut page = Page::of(Vec::with_capacity(listed.len()), None);
        page.newest_first = true;
        for event in &listed {
            let Some(object) = event.pointer("/data/object") else {
                continue;
            };
            page.records.push(object.clone());
            page.deleted
                .push(str_at(event, "/type").is_some_and(|t| t.ends_with(".deleted")));
            if let Some(at) = event.get("created").and_then(super::values::time_ms) {
                page.newest = Some(page.newest.map_or(at, |n: i64| n.max(at)));
            }
        }
        if body.pointer("/has_more").and_then(Value::as_bool) == Some(true) {
            page.next = listed
                .last()
                .and_then(|e| str_at(e, "/id"))
                .map(PageToken::AfterId);
        }
        Ok(page)
    }

    /// A successful answer's body and its records.
    fn records_of(&self, reply: &Reply) -> Result<(Value, Vec<Value>), Error> {
        if !(200..300).contains(&reply.status) {
            return Err(status_failure(reply, self.provider, self.credential_field));
        }
        if reply.truncated {
            return Err(Error::new(
                ErrorCode::UnexpectedResponse,
                format!(
                    "{} sent a page larger than {} MB; Connector Hub reads pages up to that size.",
                    self.provider,
                    MAX_PAGE_BYTES / (1024 * 1024)
                ),
            ));
        }
        let body: Value = serde_json::from_slice(&reply.body).map_err(|_| {
            Error::new(
                ErrorCode::UnexpectedResponse,
                format!("{} answered, but not with JSON data.", self.provider),
            )
        })?;
        let records = match body.pointer(&self.stream.records) {
            Some(Value::Array(items)) => items.clone(),
            // QuickBooks leaves the entity array out of its last (empty) page.
            None if body.is_object() && !self.stream.records.is_empty() => Vec::new(),
            Some(Value::Null) => Vec::new(),
            _ => {
                return Err(Error::new(
                    ErrorCode::UnexpectedResponse,
                    format!(
                        "{} answered, but there is no list of records at “{}”.",
                        self.provider,
                        if self.stream.records.is_empty() {
                            "the top level"
                        } else {
                            &self.stream.records
                        }
                    ),
                ))
            }
        };
        Ok((body, records))
    }

    fn parse(&self, url: &Url, token: &PageToken, reply: &Reply) -> Result<Page, Error> {
        // Xero answers 304 to If-Modified-Since when nothing changed.
        if reply.status == 304 {
            return Ok(Page::of(Vec::new(), None));
        }
        let (body, records) = self.records_of(reply)?;
        let next = self.next(url, token, reply, &body, &records)?;
        Ok(Page::of(records, next))
    }

    fn next(
        &self,
        url: &Url,
        token: &PageToken,
        reply: &Reply,
        body: &Value,
        records: &[Value],
    ) -> Result<Option<PageToken>, Error> {
        Ok(match &self.stream.paging {
            Paging::None => None,
            Paging::AfterLastId { more, .. } => {
                let more = body.pointer(more).and_then(Value::as_bool) == Some(true);
                let last = records.last().and_then(|r| str_at(r, &self.stream.id));
                match (more, last) {
                    (true, Some(id)) => Some(PageToken::AfterId(id)),
                    _ => None,
                }
            }
            Paging::Cursor { from, .. } => str_at(body, from)
                .filter(|c| !c.is_empty())
                .map(PageToken::Cursor),
            Paging::Numbered => {
                let number = match token {
                    PageToken::Number(n) => *n,
                    _ => 1,
                };
                (records.len() >= self.stream.page_size as usize)
                    .then_some(PageToken::Number(number + 1))
            }
            Paging::LinkHeader => match next_link(reply, url) {
                None => None,
                Some(next) => {
                    // Following it must not send the credential anywhere else.
                    if !self.access.same_origin(&next) {
                        return Err(Error::new(
                            ErrorCode::UnexpectedResponse,
                            format!("{} pointed to its next page on another address; Connector Hub only sends credentials where they were entered for.", self.provider),
                        ));
                    }
                    Some(PageToken::Url(self.access.without_credential(&next)))
                }
            },
        })
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header, resolved against the request.
pub fn next_link(reply: &Reply, request: &Url) -> Option<Url> {
    reply
        .headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "rel=\"next\"" || p == "rel=next"
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| request.join(target).ok()).flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn link_headers_are_read_as_rfc_8288_says() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static("<https://s.example/a?page_info=p1>; rel=\"previous\", <https://s.example/a?page_info=p3&limit=2>; rel=\"next\""),
        );
        let reply = Reply {
            status: 200,
            headers,
            body: Vec::new(),
            truncated: false,
        };
        let request = Url::parse("https://s.example/a").expect("url");
        assert_eq!(
            next_link(&reply, &request)
                .map(|u| u.to_string())
                .as_deref(),
            Some("https://s.example/a?page_info=p3&limit=2")
        );
        let mut relative = HeaderMap::new();
        relative.insert(
            "link",
            HeaderValue::from_static("</items?page=2>; rel=next"),
        );
        let reply = Reply {
            status: 200,
            headers: relative,
            body: Vec::new(),
            truncated: false,
        };
        assert_eq!(
            next_link(&reply, &request)
                .map(|u| u.to_string())
                .as_deref(),
            Some("https://s.example/items?page=2")
        );
    }
}
