//! How a connector's data is read, as data: where the API lives, how the stored credential is
//! attached to a call, and each stream's list call, paging and increments. The sync engine and
//! the preview read these; adding a provider's stream is a catalog entry, not code.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a call carries the connector's credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessDef {
    /// Where calls go when it is not the catalog's `api_base`: a field holding the base URL the
    /// tenant entered (a WooCommerce store, any REST API).
    #[serde(default)]
    pub(crate) base_field: Option<String>,
    /// `Authorization: Bearer <field>`.
    #[serde(default)]
    pub(crate) bearer: Option<String>,
    /// HTTP Basic with these two fields.
    #[serde(default)]
    pub(crate) basic: Option<[String; 2]>,
    /// A header carrying a field: `{ name = "x-shopify-access-token", field = "access_token" }`.
    #[serde(default)]
    pub(crate) header: Option<HeaderFromField>,
    /// Headers every call sends; `{field}` is a configuration value (Xero's organisation).
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderFromField {
    pub(crate) name: String,
    pub(crate) field: String,
}

/// One kind of record a connector offers, and how to list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamDef {
    pub(crate) name: String,
    /// The list call, a path on the API base; `{field}` is a configuration value.
    pub(crate) path: String,
    /// Query parameters sent on every page; `{page}` (from 1), `{position}` (from 1, by the page
    /// size) and `{page_size}` are filled in per page, `{since}` with the increment's `clause`.
    #[serde(default)]
    pub(crate) query: BTreeMap<String, String>,
    /// JSON pointer to the page's array of records; empty when the page is the array.
    #[serde(default)]
    pub(crate) records: String,
    /// JSON pointer, inside a record, to its id.
    #[serde(default = "id_pointer")]
    pub(crate) id: String,
    /// JSON pointer, inside a record, to the field that orders its changes.
    #[serde(default)]
    pub(crate) updated: Option<String>,
    /// A record whose value at this pointer is `true` is a deletion (Drive's `trashed`).
    #[serde(default)]
    pub(crate) deleted_flag: Option<String>,
    pub(crate) page_size: u32,
    pub(crate) paging: Paging,
    /// Without one, every run is a full read, and what it no longer finds is marked deleted.
    #[serde(default)]
    pub(crate) incremental: Option<Incremental>,
    /// The OAuth scopes the list call needs (an OAuth connector's streams each name theirs,
    /// and the sign-in asks for all of them: `ConnectorDef::sign_in_scopes`).
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
}

impl StreamDef {
    /// The scopes this stream needs that `granted` (as a provider writes a token's `scope`,
    /// separated by spaces or commas) holds neither itself nor a broader scope of (`broader`,
    /// the connector's `OAuthDef::broader`).
    #[cfg(feature = "ssr")]
    pub(crate) fn missing_scopes(
        &self,
        granted: &str,
        broader: &BTreeMap<String, Vec<String>>,
    ) -> Vec<&str> {
        let granted: Vec<&str> = granted.split([' ', ',']).collect();
        let held = |scope: &str| {
            granted.contains(&scope)
                || broader
                    .get(scope)
                    .is_some_and(|wider| wider.iter().any(|w| granted.contains(&w.as_str())))
        };
        self.scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !held(s))
            .collect()
    }
}

fn id_pointer() -> String {
    "/id".into()
}

/// How the next page is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Paging {
    /// The last record's id in `param` (Stripe's `starting_after`), while `more` is true.
    AfterLastId { param: String, more: String },
    /// A token from the page (`from`, a JSON pointer) sent back in `param`; none means the end.
    Cursor { param: String, from: String },
    /// `{page}` or `{position}` in the query; a page shorter than the page size is the last.
    Numbered,
    /// RFC 8288 `Link: <…>; rel="next"`, followed as given (on the same origin only).
    LinkHeader,
    /// A single page.
    None,
}

/// How a run asks only for what changed since the stream's cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct Incremental {
    /// A query parameter carrying the cursor (on the first page when paging by link).
    #[serde(default)]
    pub(crate) param: Option<String>,
    /// A header carrying it instead (Xero's `If-Modified-Since`).
    #[serde(default)]
    pub(crate) header: Option<String>,
    /// Or a clause put where a query value says `{since}`, the time at its own `{time}`
    /// (QuickBooks' ` where Metadata.LastUpdatedTime >= '{time}'`); `{since}` is empty on a full read.
    #[serde(default)]
    pub(crate) clause: Option<String>,
    /// Or a search call instead of the list call (HubSpot's CRM search, a POST).
    #[serde(default)]
    pub(crate) search: Option<SearchDef>,
    /// Or the provider's event log instead of the list call (Stripe's events).
    #[serde(default)]
    pub(crate) events: Option<EventsDef>,
    /// Or a change feed read from a position the provider hands out (Drive's changes): the
    /// stream's cursor is that position, not a time.
    #[serde(default)]
    pub(crate) feed: Option<FeedDef>,
    #[serde(default)]
    pub(crate) format: TimeFormat,
    /// Seconds before the cursor an increment starts from, for providers whose lists or searches
    /// show a change only some time after it happened (Square: "several seconds", a search up to a
    /// minute). Records seen again unchanged cost nothing.
    #[serde(default)]
    pub(crate) overlap_seconds: u32,
}

/// An event log listing changes newest first, each event carrying the object's new state:
/// `GET {path}?created[gte]=<unix>&types[]=…`, paged like the stream. Events are kept
/// `retention_days`: an older cursor means a full read again. An event whose type ends in
/// `.deleted` is a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsDef {
    pub(crate) path: String,
    pub(crate) types: Vec<String>,
    pub(crate) retention_days: u32,
}

/// A search that lists what changed since a time: `POST {path}` with `body`, in which the string
/// `"{since}"` becomes the lower bound (in the increment's format) and `"{page_size}"` the page
/// size (a number). Pages go on as the stream's paging says, the token in the body under the
/// paging's `param`. A provider answering at most `cap` results for one search (HubSpot: 10,000)
/// is searched again from the newest change seen, so the body must sort by change, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchDef {
    pub(crate) path: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub(crate) body: serde_json::Value,
    #[serde(default)]
    pub(crate) cap: Option<u32>,
}

/// A change feed: `GET {start}` answers the feed's current position (at `start_token`), taken
/// before a full read so that nothing changed during it is missed; later passes read
/// `GET {path}?{token_param}=<position>` (with the stream's query), page after page by `next`,
/// until a page carries `new_start`, the position the next pass starts from. Each change at
/// `changes` holds the record at `object`, or says at `removed` that it is gone (its id at `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedDef {
    pub(crate) start: String,
    pub(crate) start_token: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) token_param: String,
    pub(crate) next: String,
    pub(crate) new_start: String,
    pub(crate) changes: String,
    pub(crate) object: String,
    pub(crate) removed: String,
    pub(crate) id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum TimeFormat {
    /// `2026-11-29T08:00:00Z`.
    #[default]
    Rfc3339,
    /// Seconds since 1970.
    Unix,
    /// `Sun, 29 Nov 2026 08:00:00 GMT`.
    HttpDate,
    /// Milliseconds since 1970.
    UnixMillis,
}

/// Where a connector's streams come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum StreamsFrom {
    /// The catalog's `streams`, read over HTTP with the catalog's `access`.
    #[default]
    Catalog,
    /// One stream described by the connector's own settings, and an access chosen by them (any
    /// REST API).
    Settings,
    /// The tables the database shows, chosen by the `tables` setting (PostgreSQL).
    Discovery,
}

/// How a provider signs the webhooks it sends (see `webhooks::inbound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum WebhookScheme {
    Stripe,
    Shopify,
    Square,
    Xero,
    #[serde(rename = "hubspot")]
    HubSpot,
    #[serde(rename = "woocommerce")]
    WooCommerce,
    #[serde(rename = "quickbooks")]
    QuickBooks,
    /// No signature: a push channel the hub registers carries a token only the hub knows.
    GoogleDrive,
}

impl WebhookScheme {
    /// Whether the signature covers what says whose the event is. Shopify signs the body but
    /// names the shop in a header it does not sign, so a body signed for one shop could be
    /// replayed as another's: its payload is not forwarded (the event still starts a sync, which
    /// reads the shop's data with the connector's own credential).
    #[cfg(feature = "ssr")]
    pub(crate) fn signs_the_account(self) -> bool {
        !matches!(self, Self::Shopify)
    }
}

/// A connector that can receive its provider's webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhooksDef {
    pub(crate) scheme: WebhookScheme,
    /// The secret field holding the signing secret, where each endpoint has its own (Stripe's
    /// `whsec_…`); without one the secret is the operator's, for the whole app
    /// (`CONNECTOR_HUB_WEBHOOK_SECRET_<TYPE>`, or the OAuth client secret).
    #[serde(default)]
    pub(crate) secret_field: Option<String>,
    /// Which stream an event changes, by the start of its type (`"customer." = "customers"`).
    #[serde(default)]
    pub(crate) streams: BTreeMap<String, String>,
    /// Whether the provider posts every connected account's events to one address for the whole
    /// app (`/webhooks/app/{type}`, signed with the operator's secret) rather than one per
    /// connector: each event is then routed by the account it names.
    #[serde(default)]
    pub(crate) per_app: bool,
    /// The non-secret setting holding the account the provider's events name (a shop domain,
    /// a HubSpot portal, a QuickBooks realm, a Xero organisation, a Square merchant): an event
    /// naming another account is never accepted for this connector. A successful connection
    /// check that reports a detail of this name fills it in.
    #[serde(default)]
    pub(crate) account_field: Option<String>,
    /// How to register the address at the provider, shown on the connector's page.
    pub(crate) setup: String,
    /// A push channel the hub registers itself (Drive's `changes.watch`), instead of the person.
    #[serde(default)]
    pub(crate) channel: Option<ChannelDef>,
}

/// A push channel on the stream's changes: `GET {start}` gives the position (at `start_token`)
/// to watch from, `POST {watch}?pageToken=` with `{id, type: "web_hook", address, token,
/// expiration}` opens the channel; it lasts `lifetime_days`, and is opened again before then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ChannelDef {
    pub(crate) start: String,
    pub(crate) start_token: String,
    pub(crate) watch: String,
    pub(crate) lifetime_days: u32,
}

impl WebhooksDef {
    /// Whether the fields it names are `def`'s, of the right kind (checked when the catalog loads).
    #[cfg(feature = "ssr")]
    pub(crate) fn check(&self, def: &super::ConnectorDef) -> Result<(), String> {
        if let Some(name) = &self.secret_field {
            if !def.field(name).is_some_and(|f| f.secret && !f.required) {
                return Err(format!(
                    "webhooks sign with {name}, which is not an optional secret field"
                ));
            }
        }
        if let Some(name) = &self.account_field {
            if def.field(name).is_none_or(|f| f.secret) {
                return Err(format!(
                    "webhooks name their account by {name}, which is not a non-secret field"
                ));
            }
        }
        // An app-wide address has no connector to take a secret or an account from.
        if self.per_app && (self.secret_field.is_some() || self.account_field.is_none()) {
            return Err(
                "per-app webhooks are signed by the operator and routed by account_field".into(),
            );
        }
        match self
            .streams
            .values()
            .find(|s| !def.streams.iter().any(|d| &d.name == *s))
        {
            Some(stream) => Err(format!("webhooks name unknown stream {stream}")),
            None => Ok(()),
        }
    }

    /// The stream an event of `kind` changes, if the catalog says.
    #[cfg(feature = "ssr")]
    pub(crate) fn stream_of(&self, kind: &str) -> Option<&str> {
        self.streams
            .iter()
            .find(|(prefix, _)| kind.starts_with(prefix.as_str()))
            .map(|(_, stream)| stream.as_str())
    }
}
