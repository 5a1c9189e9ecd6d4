//! Connected sources (`/sources`): status, last test and sync, and the actions on each connector.
//! The last list loaded is kept in localStorage (metadata only) and shown, marked stale, when the
//! server cannot be reached — only to the principal it belongs to: the copy names its owner, the
//! `ch_who` cookie names who is signed in now, and signing out clears both.

use crate::api::functions::{
    list_sources, ClearSourceError, DeleteSource, Sources, TestSource, UpdateSource,
};
use crate::error::ErrorCode;
use crate::model::{ConnectorStatus, ConnectorView, SyncFrequency};
use crate::ui::{exact_time, relative_time, ErrorNotice, SignInRequired, StatusBadge};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const CACHE_KEY: &str = "connector-hub:sources";

#[derive(Clone, Copy)]
struct Actions {
    test: ServerAction<TestSource>,
    update: ServerAction<UpdateSource>,
    delete: ServerAction<DeleteSource>,
    clear: ServerAction<ClearSourceError>,
}

#[component]
pub(crate) fn SourcesPage() -> impl IntoView {
    let query = use_query_map();
    let status = move || query.read().get("status").filter(|s| !s.is_empty());
    let actions = Actions {
        test: ServerAction::new(),
        update: ServerAction::new(),
        delete: ServerAction::new(),
        clear: ServerAction::new(),
    };
    let sources = Resource::new(
        move || {
            (
                status(),
                actions.test.version().get(),
                actions.update.version().get(),
                actions.delete.version().get(),
                actions.clear.version().get(),
            )
        },
        |(status, ..)| list_sources(status),
    );
    let current = move || status().and_then(|s| ConnectorStatus::parse(&s));

    view! {
        <Title text="Connected sources"/>
        <div class="flex flex-col gap-3 sm:flex-row sm:items-end sm:justify-between">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"Connected sources"</h1>
                <p class="mt-1 text-slate-600">"Your organisation's connections. Credentials are stored encrypted and are never shown."</p>
            </div>
            <form method="get" action="/sources" class="flex items-end gap-2" aria-label="Filter by status">
                <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Status"
                    <select name="status" class="input" onchange="this.form.requestSubmit()">
                        <option value="" selected=move || current().is_none()>"All"</option>
                        {ConnectorStatus::ALL.into_iter().map(|s| view! {
                            <option value=s.as_str() selected=move || current() == Some(s)>{s.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="btn-secondary">"Filter"</button>
            </form>
        </div>
        <Transition fallback=|| view! { <p class="mt-8 text-slate-600">"Loading your connectors…"</p> }>
            {move || Suspend::new(async move {
                match sources.await {
                    Ok(list) => {
                        remember(&list);
                        view! { <SourceList list actions stale=false filtered=status().is_some()/> }.into_any()
                    }
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <SignInRequired/> }.into_any(),
                    Err(e) => match recall() {
                        Some(list) => view! {
                            <div class="mt-6 rounded-lg border border-amber-300 bg-amber-50 p-4 text-amber-950" role="status" data-testid="stale-notice">
                                <p class="font-medium">"Connector Hub cannot be reached right now. This is the list as it was when you last saw it."</p>
                            </div>
                            <SourceList list actions stale=true filtered=false/>
                        }.into_any(),
                        None => view! { <div class="mt-6"><ErrorNotice error=e/></div> }.into_any(),
                    },
                }
            })}
        </Transition>
    }
}

/// Keeps connector metadata (never configuration: the view type has none) for offline display.
fn remember(list: &Sources) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = window().local_storage().ok().flatten() {
        if let Ok(json) = serde_json::to_string(list) {
            let _ = storage.set_item(CACHE_KEY, &json);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (list, CACHE_KEY);
}

fn recall() -> Option<Sources> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let storage = window().local_storage().ok().flatten()?;
        let cookies = document()
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()?
            .cookie()
            .ok()?;
        recall_for(&storage.get_item(CACHE_KEY).ok().flatten()?, &cookies)
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The stored copy, if it belongs to whoever the `ch_who` cookie (in `cookies`, as
/// `document.cookie` reads) says is signed in now.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn recall_for(stored: &str, cookies: &str) -> Option<Sources> {
    let who = cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "ch_who" || *name == "__Host-ch_who")
        .map(|(_, value)| value)?;
    let list: Sources = serde_json::from_str(stored).ok()?;
    (!who.is_empty() && list.owner == who).then_some(list)
}

#[component]
fn SourceList(list: Sources, actions: Actions, stale: bool, filtered: bool) -> impl IntoView {
    if list.connectors.is_empty() {
        return view! {
            <section class="mt-8 rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center" data-testid="empty-sources">
                <h2 class="text-lg font-semibold">{if filtered { "No connector has this status" } else { "No data sources yet" }}</h2>
                <p class="mt-1 text-slate-600">"Connect Stripe, Shopify, Xero, a database or any REST API in a few steps."</p>
                <a href="/" class="btn-primary mt-5 inline-flex">"Browse the marketplace"</a>
            </section>
        }
        .into_any();
    }
    let now = list.now_ms;
    view! {
        <ul class="mt-6 flex flex-col gap-4" data-testid="source-list" data-stale=stale.to_string()>
            {list.connectors.into_iter().map(|c| view! { <SourceRow c now actions stale/> }).collect_view()}
        </ul>
    }
    .into_any()
}

fn type_name(connector_type: &str) -> String {
    match connector_type {
        "google_drive" => "Google Drive".into(),
        "rest_api" => "REST API".into(),
        "mcp_server" => "MCP server".into(),
        "postgresql" => "PostgreSQL".into(),
        "quickbooks" => "QuickBooks Online".into(),
        "woocommerce" => "WooCommerce".into(),
        "hubspot" => "HubSpot".into(),
        other => {
            let mut chars = other.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

#[component]
fn When(label: &'static str, at: Option<String>, now: i64) -> impl IntoView {
    view! {
        <div>
            <dt class="text-slate-500">{label}</dt>
            <dd class="text-slate-800">{match at {
                Some(t) => view! { <time datetime=t.clone() title=exact_time(&t)>{relative_time(&t, now)}</time> }.into_any(),
                None => view! { <span>"Never"</span> }.into_any(),
            }}</dd>
        </div>
    }
}

#[component]
fn SourceRow(c: ConnectorView, now: i64, actions: Actions, stale: bool) -> impl IntoView {
    let id = c.connector_id.clone();
    let heading = format!("source-{id}");
    let labelled_by = heading.clone();
    let testing = {
        let id = id.clone();
        move || {
            actions.test.pending().get()
                && actions
                    .test
                    .input()
                    .with(|i| i.as_ref().is_some_and(|i| i.connector_id == id))
        }
    };
    let last_result = {
        let id = id.clone();
        move || {
            let mine = actions
                .test
                .input()
                .with(|i| i.as_ref().is_none_or(|i| i.connector_id == id));
            actions.test.value().get().filter(|_| mine)
        }
    };
    let in_error = c.error_code.is_some();
    let testing_signal = Signal::derive(testing.clone());

    view! {
        <li class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-connector-id=c.connector_id.clone() aria-labelledby=labelled_by>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 id=heading class="text-lg font-semibold text-slate-900">{c.display_name.clone()}</h2>
                    <p class="text-sm text-slate-600">{type_name(&c.connector_type)}" · "{c.sync_frequency.label()}</p>
                </div>
                <StatusBadge status=c.status/>
            </div>
            <dl class="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-3">
                <When label="Last test" at=c.last_tested_at.clone() now/>
                <When label="Last sync" at=c.last_sync_at.clone() now/>
                <When label="Updated" at=Some(c.updated_at.clone()) now/>
            </dl>
            {c.error_code.map(|code| view! {
                <div class="mt-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-900" role="alert" data-testid="source-error">
                    <p class="font-medium">{c.error_message.clone().unwrap_or_else(|| code.message().to_owned())}</p>
                    {code.hint().map(|h| view! { <p class="mt-1">{h}</p> })}
                    <p class="mt-1 font-mono text-xs">{code.as_str()}</p>
                </div>
            })}
            {(!c.warnings.is_empty()).then(|| view! {
                <ul class="mt-4 flex flex-col gap-1 rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm text-amber-950" data-testid="source-warning">
                    {c.warnings.iter().map(|w| view! { <li>{format!("⚠ {w}")}</li> }).collect_view()}
                </ul>
            })}
            <Show when=testing.clone()>
                <p role="status" class="mt-4 flex items-center gap-2 text-sm text-indigo-900" data-testid="testing">
                    <span class="h-3 w-3 animate-spin rounded-full border-2 border-indigo-300 border-t-indigo-700" aria-hidden="true"></span>
                    "Testing the connection…"
                </p>
            </Show>
            {move || last_result().map(|r| match r {
                Ok(r) if r.success => view! { <p role="status" class="mt-4 text-sm font-medium text-emerald-800">{format!("✓ Connection works ({} ms).", r.duration_ms)}</p> }.into_any(),
                Ok(r) => view! { <p role="status" class="mt-4 text-sm font-medium text-red-800">{format!("✗ {}", r.message)}</p> }.into_any(),
                Err(e) => view! { <div class="mt-4"><ErrorNotice error=e/></div> }.into_any(),
            })}
            {(!stale).then(|| view! { <RowActions c=c.clone() actions in_error testing=testing_signal/> })}
        </li>
    }
}

#[component]
fn RowActions(
    c: ConnectorView,
    actions: Actions,
    in_error: bool,
    testing: Signal<bool>,
) -> impl IntoView {
    let id = c.connector_id.clone();
    let name = c.display_name.clone();
    let replace_href = format!("/connect/{}?replace={}", c.connector_type, id);
    // A refused sign-in is fixed by signing in again: the same wizard, keeping id and settings.
    let reconnect = c.status == ConnectorStatus::AuthorizationRequired;
    let hidden = move || {
        let id = id.clone();
        move || view! { <input type="hidden" name="connector_id" value=id/> }
    };
    let (h_test, h_clear, h_update, h_delete) = (hidden(), hidden(), hidden(), hidden());
    let rename_value = name.clone();
    let confirm =
        format!("Delete “{name}”? Its stored credentials are destroyed; this cannot be undone.");
    let delete_label = format!("Delete “{name}”");
    view! {
        <div class="mt-4 flex flex-wrap items-center gap-2">
            <ActionForm action=actions.test>
                {h_test()}
                <button type="submit" class="btn-primary" disabled=move || testing.get()>"Test now"</button>
            </ActionForm>
            {in_error.then(|| view! {
                <ActionForm action=actions.clear>
                    {h_clear()}
                    <button type="submit" class="btn-secondary">"Clear error"</button>
                </ActionForm>
            })}
            {if c.connector_type == "mcp_server" {
                // A tenant's MCP server has no records: its tools are what it offers.
                view! { <span class="text-sm text-slate-600" data-testid="mcp-tools">"Its tools are offered to your AI agents at /mcp"</span> }.into_any()
            } else {
                view! { <a href=format!("/sources/{}/data", c.connector_id) class="btn-secondary" data-testid="data">"Data"</a> }.into_any()
            }}
            <a href=replace_href class=if reconnect { "btn-primary" } else { "btn-secondary" } data-testid="replace">
                {if reconnect { "Reconnect" } else { "Replace credentials" }}
            </a>
            <details class="group">
                <summary class="btn-secondary cursor-pointer list-none">"Rename or schedule"</summary>
                <ActionForm action=actions.update attr:class="mt-3 flex flex-wrap items-end gap-2">
                    {h_update()}
                    <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Name"
                        <input name="display_name" class="input" value=rename_value maxlength="100" required=true/>
                    </label>
                    <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Sync"
                        <select name="sync_frequency" class="input">
                            {SyncFrequency::ALL.into_iter().map(|f| view! {
                                <option value=f.as_str() selected=f == c.sync_frequency>{f.label()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="btn-primary">"Save"</button>
                </ActionForm>
            </details>
            <details class="group">
                <summary class="btn-secondary cursor-pointer list-none text-red-800">"Delete…"</summary>
                <ActionForm action=actions.delete attr:class="mt-3 rounded-lg border border-red-200 bg-red-50 p-3">
                    {h_delete()}
                    <p class="text-sm text-red-900">{confirm}</p>
                    <button type="submit" class="btn-danger mt-2">{delete_label}</button>
                </ActionForm>
            </details>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_copy_is_shown_only_to_its_owner() {
        let list = Sources {
            connectors: Vec::new(),
            now_ms: 1,
            owner: "a1b2".into(),
        };
        let stored = serde_json::to_string(&list).expect("json");
        assert_eq!(recall_for(&stored, "x=1; ch_who=a1b2"), Some(list.clone()));
        assert_eq!(recall_for(&stored, "__Host-ch_who=a1b2"), Some(list));
        assert_eq!(
            recall_for(&stored, "ch_who=ffff"),
            None,
            "another principal"
        );
        assert_eq!(recall_for(&stored, "other=1"), None, "signed out");
        assert_eq!(recall_for(&stored, "ch_who="), None);
    }
}
