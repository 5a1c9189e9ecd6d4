//! Reading one page of an HTTP stream: the list call the catalog describes, with the page's
//! position and the increment's lower bound filled in, and the answer parsed into records and
//! where the next page is.

use super::values::format_time;
use crate::catalog::{EventsDef, FeedDef, Incremental, Paging, SearchDef, StreamDef, TimeFormat};
use crate::error::{Error, ErrorCode};
use crate::outbound::access::{fill, Access};
use crate::outbound::answers::str_at;
use crate::outbound::answers::{missing_scope, status_failure};
use crate::outbound::http::{Http, Reply};
use crate::secret::SecretConfig;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest page read: big enough for 250 Shopify orders, small enough to bound memory.
pub(super) const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// Where a pass through a stream stands: what to ask for next. Saved with every committed page,
/// so a run killed in the middle goes on from there. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "value", rename_all = "snake_case")]
pub(crate) enum PageToken {
    Start,
    AfterId(String),
    Cursor(String),
    Number(u64),
    Url(String),
    /// A search reached the provider's cap: search again from this change time (unix ms).
    Restart(i64),
    /// Before a full read of a stream with a change feed: take the feed's position first.
    FeedStart,
    /// The change feed from this position on.
    Feed(String),
}

pub(crate) struct Page {
    pub(crate) records: Vec<Value>,
    pub(crate) next: Option<PageToken>,
    /// Which records are deletions, where the answer says so beside them (an event log); empty
    /// when a record says it itself (the stream's `deleted_flag`).
    pub(super) deleted: Vec<bool>,
    /// The newest change on the page, where the records do not carry it (an event's time).
    pub(super) newest: Option<i64>,
    /// The page lists changes newest first: a record already written by this pass has a newer
    /// state than this one.
    pub(super) newest_first: bool,
    /// Where the stream's change feed is to be read from next, once this pass ends.
    pub(super) feed: Option<String>,
}

impl Page {
    fn of(records: Vec<Value>, next: Option<PageToken>) -> Self {
        Self {
            records,
            next,
            deleted: Vec::new(),
            newest: None,
            newest_first: false,
            feed: None,
        }
    }
}

/// One stream of one connector, ready to read.
pub(crate) struct StreamReader<'a> {
    pub(crate) http: &'a Http,
    pub(crate) access: &'a Access,
    pub(crate) stream: &'a StreamDef,
    pub(crate) config: &'a SecretConfig,
    /// The provider's name, for messages.
    pub(crate) provider: &'a str,
    /// The field to blame when the provider refuses the credential.
    pub(crate) credential_field: &'a str,
}

impl StreamReader<'_> {
    /// The request for the page at `token`, changes since `since` (unix ms) only.
    pub(super) fn page_url(&self, token: &PageToken, since: Option<i64>) -> Result<Url, Error> {
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
    pub(crate) async fn read(&self, token: &PageToken, since: Option<i64>) -> Result<Page, Error> {
        if let PageToken::FeedStart | PageToken::Feed(_) = token {
            let Some(feed) = self
                .stream
                .incremental
                .as_ref()
                .and_then(|i| i.feed.as_ref())
            else {
                return Err(Error::new(
                    ErrorCode::Internal,
                    "A change feed position was saved for a stream without one.",
                ));
            };
            return match token {
                PageToken::Feed(position) => self.feed(feed, position).await,
                _ => self.feed_start(feed).await,
            };
        }
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
        let mut body = search.body.clone();
        fill_search(
            &mut body,
            &format_time(since, format),
            self.stream.page_size,
        );
        // The catalog's check makes a search page by cursor.
        let Paging::Cursor { param, from } = &self.stream.paging else {
            return Err(Error::from_code(ErrorCode::Internal));
        };
        if let (PageToken::Cursor(after), Some(fields)) = (token, body.as_object_mut()) {
            fields.insert(param.clone(), Value::String(after.clone()));
        }
        let mut probe = self.access.post_json(url, body)?;
        probe.max_bytes = Some(MAX_PAGE_BYTES);
        let reply = self.http.send(probe).await?;
        let (body, records) = self.records_of(&reply)?;
        let next = match str_at(&body, from).filter(|a| !a.is_empty()) {
            None => None,
            // The provider answers no further than its cap for one search: search again from
            // the newest change seen (its records come again, and are no change).
            Some(after)
                if search
                    .cap
                    .is_some_and(|cap| after.parse::<u64>().is_ok_and(|n| n >= u64::from(cap))) =>
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

    /// The feed's current position, as an empty page that goes on with the full read.
    async fn feed_start(&self, feed: &FeedDef) -> Result<Page, Error> {
        let url = self.access.url(&fill(&feed.start, self.config)?)?;
        let reply = self.http.send(self.access.get(url)?).await?;
        let body = self.json_of(&reply)?;
        let position = str_at(&body, &feed.start_token).ok_or_else(|| {
            Error::new(
                ErrorCode::UnexpectedResponse,
                format!(
                    "{} answered without a position in its changes.",
                    self.provider
                ),
            )
        })?;
        let mut page = Page::of(Vec::new(), Some(PageToken::Start));
        page.feed = Some(position);
        Ok(page)
    }

    /// The changes since `position`, oldest first: each change's record, or, for a record that
    /// is gone, its id alone, marked deleted.
    async fn feed(&self, feed: &FeedDef, position: &str) -> Result<Page, Error> {
        let mut url = self.access.url(&fill(&feed.path, self.config)?)?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(&feed.token_param, position);
            for (name, template) in &feed.query {
                let value = template.replace("{page_size}", &self.stream.page_size.to_string());
                query.append_pair(name, &fill(&value, self.config)?);
            }
        }
        let mut probe = self.access.get(url)?;
        probe.max_bytes = Some(MAX_PAGE_BYTES);
        let reply = self.http.send(probe).await?;
        let body = self.json_of(&reply)?;
        let changes = self.list_at(&body, &feed.changes)?;
        let mut page = Page::of(Vec::with_capacity(changes.len()), None);
        for change in changes {
            let removed = change.pointer(&feed.removed).and_then(Value::as_bool) == Some(true);
            let (record, deleted) = match change.pointer(&feed.object) {
                Some(object @ Value::Object(_)) if !removed => {
                    let flagged = self
                        .stream
                        .deleted_flag
                        .as_deref()
                        .and_then(|p| object.pointer(p))
                        .and_then(Value::as_bool)
                        == Some(true);
                    (object.clone(), flagged)
                }
                // Gone (or no longer shared with this account): only its id is known.
                _ => match str_at(&change, &feed.id) {
                    Some(id) => (value_at(&self.stream.id, Value::String(id)), true),
                    None => continue,
                },
            };
            page.records.push(record);
            page.deleted.push(deleted);
        }
        match (str_at(&body, &feed.next), str_at(&body, &feed.new_start)) {
            (Some(next), _) if !next.is_empty() => page.next = Some(PageToken::Feed(next)),
            (_, Some(new_start)) => page.feed = Some(new_start),
            _ => {
                return Err(Error::new(
                    ErrorCode::UnexpectedResponse,
                    format!(
                        "{} listed changes without saying where the next ones start.",
                        self.provider
                    ),
                ))
            }
        }
        Ok(page)
    }

    /// A successful answer's body and its records.
    fn records_of(&self, reply: &Reply) -> Result<(Value, Vec<Value>), Error> {
        let body = self.json_of(reply)?;
        let records = self.list_at(&body, &self.stream.records)?;
        Ok((body, records))
    }

    /// A successful answer's JSON body.
    fn json_of(&self, reply: &Reply) -> Result<Value, Error> {
        if !(200..300).contains(&reply.status) {
            // A permission the sign-in did not get, as the provider says it (a bare 403 may be
            // a rate limit or an app not approved: those keep their own mapping).
            if !self.stream.scopes.is_empty() && missing_scope(reply) {
                let scopes: Vec<&str> = self.stream.scopes.iter().map(String::as_str).collect();
                return Err(super::missing_permission(
                    self.provider,
                    self.stream,
                    &scopes,
                ));
            }
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
        serde_json::from_slice(&reply.body).map_err(|_| {
            Error::new(
                ErrorCode::UnexpectedResponse,
                format!("{} answered, but not with JSON data.", self.provider),
            )
        })
    }

    /// The list at `pointer` in a page.
    fn list_at(&self, body: &Value, pointer: &str) -> Result<Vec<Value>, Error> {
        Ok(match body.pointer(pointer) {
            Some(Value::Array(items)) => items.clone(),
            // QuickBooks leaves the entity array out of its last (empty) page.
            None if body.is_object() && !pointer.is_empty() => Vec::new(),
            Some(Value::Null) => Vec::new(),
            _ => {
                return Err(Error::new(
                    ErrorCode::UnexpectedResponse,
                    format!(
                        "{} answered, but there is no list of records at “{}”.",
                        self.provider,
                        if pointer.is_empty() {
                            "the top level"
                        } else {
                            pointer
                        }
                    ),
                ))
            }
        })
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

/// An object holding `value` at `pointer` (`/id` → `{"id": value}`), for a record known only by
/// its id.
fn value_at(pointer: &str, value: Value) -> Value {
    let keys: Vec<&str> = pointer.split('/').skip(1).collect();
    keys.into_iter().rev().fold(value, |inner, key| {
        let key = key.replace("~1", "/").replace("~0", "~");
        Value::Object(serde_json::Map::from_iter([(key, inner)]))
    })
}

/// A search body from its template: `"{since}"` is the lower bound, `"{page_size}"` the page
/// size as a number.
fn fill_search(value: &mut Value, since: &str, page_size: u32) {
    match value {
        Value::String(text) if text == "{page_size}" => *value = Value::from(page_size),
        Value::String(text) if text == "{since}" => *text = since.to_owned(),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| fill_search(v, since, page_size)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|v| fill_search(v, since, page_size)),
        _ => {}
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header, resolved against the request.
pub(super) fn next_link(reply: &Reply, request: &Url) -> Option<Url> {
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
mod tests;
