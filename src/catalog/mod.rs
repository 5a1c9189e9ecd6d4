//! The connector catalog: every connector described as data, read by the server and the UI.
//!
//! The definitions live in `connectors.toml`, compiled into the server binary. The browser never
//! parses that file; it receives the definitions through a server function.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
mod load;
mod streams;
#[cfg(feature = "ssr")]
mod validate;

#[cfg(feature = "ssr")]
pub use load::{catalog, Catalog, ValidConfig};
pub(crate) use streams::{AccessDef, StreamDef, StreamsFrom, WebhooksDef};
#[cfg(feature = "ssr")]
pub(crate) use streams::{
    ChannelDef, EventsDef, FeedDef, Incremental, Paging, SearchDef, TimeFormat, WebhookScheme,
};
#[cfg(feature = "ssr")]
pub(crate) use validate::check_secret_length;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) enum Category {
    Storage,
    Finance,
    #[serde(rename = "E-commerce")]
    Ecommerce,
    #[serde(rename = "POS")]
    Pos,
    #[serde(rename = "CRM")]
    Crm,
    Custom,
    Database,
}

impl Category {
    pub(crate) const ALL: [Category; 7] = [
        Self::Storage,
        Self::Finance,
        Self::Ecommerce,
        Self::Pos,
        Self::Crm,
        Self::Custom,
        Self::Database,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Storage => "Storage",
            Self::Finance => "Finance",
            Self::Ecommerce => "E-commerce",
            Self::Pos => "POS",
            Self::Crm => "CRM",
            Self::Custom => "Custom",
            Self::Database => "Database",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.label().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub(crate) enum Region {
    #[serde(rename = "UK")]
    Uk,
    #[serde(rename = "US")]
    Us,
    Global,
}

impl Region {
    pub(crate) const ALL: [Region; 3] = [Self::Uk, Self::Us, Self::Global];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Uk => "UK",
            Self::Us => "US",
            Self::Global => "Global",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.label().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum AuthKind {
    #[serde(rename = "oauth2")]
    OAuth2,
    ApiKey,
    Basic,
    Custom,
}

impl AuthKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::OAuth2 => "OAuth2",
            Self::ApiKey => "API key",
            Self::Basic => "Username & password",
            Self::Custom => "Custom",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldKind {
    #[default]
    Text,
    Url,
    Number,
    Select,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) help: String,
    #[serde(default)]
    pub(crate) secret: bool,
    #[serde(default = "yes")]
    pub(crate) required: bool,
    #[serde(default)]
    pub(crate) kind: FieldKind,
    #[serde(default)]
    pub(crate) pattern: Option<String>,
    #[serde(default)]
    pub(crate) example: Option<String>,
    #[serde(default)]
    pub(crate) options: Vec<String>,
    #[serde(default)]
    pub(crate) default: Option<String>,
    /// The field only applies when another field has one of `when_in`'s values.
    #[serde(default)]
    pub(crate) when_field: Option<String>,
    #[serde(default)]
    pub(crate) when_in: Vec<String>,
    /// When the wizard asks for this field.
    #[serde(default)]
    pub(crate) ask: Ask,
    /// Decides where or how the connector's secrets are sent (a host, a port, an auth scheme).
    /// Changing it requires every secret again: a stored secret never follows a new destination.
    #[serde(default)]
    pub(crate) binds_secrets: bool,
}

/// When the setup wizard asks for a field of an OAuth2 connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum Ask {
    /// Always (a shop domain, an environment).
    #[default]
    Always,
    /// Only when the user pastes credentials by hand; signing in provides it.
    Manual,
    /// Never: only signing in provides it (a refresh token, the organisation chosen).
    Never,
    /// Not by the wizard: a setting for reading data, set once the connection works (on the
    /// connector's data page, or through the API), where the user can see what it changes.
    Later,
}

/// How the setup wizard gets the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum AuthMode {
    /// The user types or pastes every credential.
    #[default]
    Manual,
    /// The user signs in at the provider; the tokens come from the OAuth2 exchange.
    OAuth,
}

impl Ask {
    pub(crate) fn asked_in(self, mode: AuthMode) -> bool {
        match self {
            Self::Always => true,
            Self::Manual => mode == AuthMode::Manual,
            Self::Never | Self::Later => false,
        }
    }
}

/// How a provider's token endpoint wants the client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClientAuth {
    /// `client_id` and `client_secret` in the request body.
    #[default]
    Body,
    /// HTTP Basic with the client id and secret.
    Basic,
}

/// The body format of a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum TokenBody {
    #[default]
    Form,
    Json,
}

/// After signing in, the user picks what the new token should reach (a Xero organisation, a Sage
/// business) from the list the provider gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ChooseAfterSignIn {
    /// The call, on the provider's API base, that lists them (a JSON array), with the new token.
    pub(crate) list: String,
    /// JSON pointer to each item's id.
    pub(crate) id: String,
    /// JSON pointers to each item's name, the first present wins (the id when none is).
    pub(crate) name: Vec<String>,
    /// The field the chosen id fills.
    pub(crate) fills: String,
    /// What one of them is called: "Which organisation should we connect?"
    pub(crate) called: String,
}

/// A value the provider adds to its redirect back and the connection needs (QuickBooks' company
/// id, `realmId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct FromRedirect {
    /// The redirect's query parameter.
    pub(crate) param: String,
    /// The field it fills.
    pub(crate) fills: String,
    /// What it is, for the message when it is missing.
    pub(crate) called: String,
}

/// A provider's OAuth2 endpoints and habits. The URLs are defaults the operator can override;
/// `{shop}` stands for the shop domain (Shopify).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthDef {
    pub(crate) authorize_url: String,
    pub(crate) token_url: String,
    /// What the sign-in needs besides what the streams need (offline access, the connection
    /// check's own call), in the provider's notation.
    pub(crate) scopes: String,
    /// How the provider separates scopes in the authorize URL: a space (RFC 6749), or a comma
    /// (Shopify).
    #[serde(default = "space")]
    pub(crate) scope_separator: String,
    /// Scopes that grant what a narrower one does, by the narrower one: a token granted
    /// Google's `drive` may read what `drive.readonly` reads (a provider answers with what it
    /// granted, which an operator's own list may make broader).
    #[serde(default)]
    pub(crate) broader: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) pkce: bool,
    #[serde(default)]
    pub(crate) client_auth: ClientAuth,
    #[serde(default)]
    pub(crate) token_body: TokenBody,
    #[serde(default)]
    pub(crate) extra_params: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) choose: Option<ChooseAfterSignIn>,
    #[serde(default)]
    pub(crate) from_redirect: Option<FromRedirect>,
    /// Days a refresh token survives without being used, where the provider documents it.
    #[serde(default)]
    pub(crate) refresh_idle_days: Option<u32>,
}

fn yes() -> bool {
    true
}

fn space() -> String {
    " ".into()
}

impl FieldDef {
    /// Whether this field is asked for, given the answers so far.
    #[cfg(feature = "ssr")]
    pub(crate) fn applies(&self, answers: &BTreeMap<String, String>) -> bool {
        match &self.when_field {
            None => true,
            Some(other) => answers
                .get(other)
                .is_some_and(|value| self.when_in.iter().any(|v| v == value)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectorDef {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) category: Category,
    pub(crate) regions: Vec<Region>,
    pub(crate) auth: AuthKind,
    pub(crate) description: String,
    pub(crate) docs_url: String,
    pub(crate) auth_help: String,
    pub(crate) check_label: String,
    /// Where the provider's API lives, for providers with one fixed public API.
    #[serde(default)]
    pub(crate) api_base: Option<String>,
    /// The provider's sandbox API, chosen by the connector's `environment` field.
    #[serde(default)]
    pub(crate) sandbox_api_base: Option<String>,
    #[serde(default)]
    pub(crate) oauth: Option<OAuthDef>,
    pub(crate) fields: Vec<FieldDef>,
    /// How calls to the provider's API carry the credential (none for a database).
    #[serde(default)]
    pub(crate) access: Option<AccessDef>,
    /// What the connector offers to read, when `streams_from` is the catalog.
    #[serde(default)]
    pub(crate) streams: Vec<StreamDef>,
    #[serde(default)]
    pub(crate) streams_from: StreamsFrom,
    /// The provider's webhooks, where it sends them.
    #[serde(default)]
    pub(crate) webhooks: Option<WebhooksDef>,
}

/// The field where what an OAuth provider said it granted at the last sign-in or renewal (its
/// token answer's `scope`) is kept, beside the tokens; not a secret. Every OAuth connector has it.
#[cfg(feature = "ssr")]
pub(crate) const GRANTED_SCOPES: &str = "granted_scopes";

impl ConnectorDef {
    /// The scopes `stream` needs that `granted` (a token's `scope`, as the provider wrote it)
    /// covers neither itself nor by a broader scope of this connector's sign-in.
    #[cfg(feature = "ssr")]
    pub(crate) fn ungranted_scopes<'a>(
        &self,
        stream: &'a StreamDef,
        granted: &str,
    ) -> Vec<&'a str> {
        let none = BTreeMap::new();
        let broader = self.oauth.as_ref().map_or(&none, |oauth| &oauth.broader);
        stream.missing_scopes(granted, broader)
    }

    /// Every scope the OAuth sign-in asks for: the sign-in's own, then each stream's, once
    /// each, in that order; empty without OAuth.
    #[cfg(feature = "ssr")]
    pub(crate) fn sign_in_scopes(&self) -> Vec<String> {
        let Some(oauth) = &self.oauth else {
            return Vec::new();
        };
        let mut scopes: Vec<String> = Vec::new();
        let own = oauth
            .scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let streams = self.streams.iter().flat_map(|s| s.scopes.iter().cloned());
        for scope in own.chain(streams) {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes
    }

    /// The secret field a provider's refusal blames: the one the connector's calls carry.
    #[cfg(feature = "ssr")]
    pub(crate) fn credential_field(&self) -> &str {
        let access = self.access.as_ref();
        access
            .and_then(|a| a.bearer.as_deref())
            .or_else(|| access.and_then(|a| a.header.as_ref().map(|h| h.field.as_str())))
            .or_else(|| access.and_then(|a| a.basic.as_ref().map(|[_, secret]| secret.as_str())))
            .unwrap_or("api_key")
    }

    #[cfg(feature = "ssr")]
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The fields whose values the connector sends as HTTP Basic's user and password, when it
    /// sends Basic (`auth_type` is the REST API connector's own choice): what the hub attaches
    /// (`outbound::access`) and so what it must find again in an answer (`scrub`).
    #[cfg(feature = "ssr")]
    pub(crate) fn basic_fields(&self, auth_type: Option<&str>) -> Option<(&str, &str)> {
        if self.streams_from == StreamsFrom::Settings {
            return (auth_type == Some("basic")).then_some(("username", "password"));
        }
        let [user, password] = self.access.as_ref()?.basic.as_ref()?;
        Some((user.as_str(), password.as_str()))
    }

    /// A short "you will need" line for the marketplace card.
    pub(crate) fn needs(&self) -> String {
        let labels: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| {
                f.required
                    && f.when_field.is_none()
                    && f.kind != FieldKind::Select
                    && f.ask.asked_in(AuthMode::Manual)
            })
            .map(|f| f.label.as_str())
            .collect();
        labels.join(", ")
    }
}

/// What a marketplace card shows of a connector. The marketplace page sends one per connector to
/// the browser, and its hydration data carries them: a fraction of the full definitions, whose
/// fields, help texts and OAuth settings only the wizard needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CatalogCard {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) category: Category,
    pub(crate) regions: Vec<Region>,
    pub(crate) auth: AuthKind,
    pub(crate) description: String,
    /// The "you will need" line.
    pub(crate) needs: String,
}

impl From<&ConnectorDef> for CatalogCard {
    fn from(def: &ConnectorDef) -> Self {
        Self {
            id: def.id.clone(),
            name: def.name.clone(),
            category: def.category,
            regions: def.regions.clone(),
            auth: def.auth,
            description: def.description.clone(),
            needs: def.needs(),
        }
    }
}

impl CatalogCard {
    /// Whether the card matches a free-text search over name, id and category.
    pub(crate) fn matches(&self, query: &str) -> bool {
        let query = query.trim().to_ascii_lowercase();
        query.is_empty()
            || self.name.to_ascii_lowercase().contains(&query)
            || self.id.contains(&query)
            || self.category.label().to_ascii_lowercase().contains(&query)
    }
}
