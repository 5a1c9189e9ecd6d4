//! The marketplace (`/`): every catalog entry as a card, searchable and filterable. Filters live
//! in the URL, so a filtered view can be shared and the form works without JavaScript.

use crate::api::functions::{catalog_entries, list_sources};
use crate::catalog::{CatalogCard, Category, Region};
use crate::ui::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use std::collections::HashMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Filters {
    pub(super) q: String,
    pub(super) category: Option<Category>,
    pub(super) region: Option<Region>,
}

impl Filters {
    pub(super) fn keep(&self, def: &CatalogCard) -> bool {
        def.matches(&self.q)
            && self.category.is_none_or(|c| def.category == c)
            && self.region.is_none_or(|r| def.regions.contains(&r))
    }

    pub(super) fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if !self.q.is_empty() {
            parts.push(format!("q={}", urlencode(&self.q)));
        }
        if let Some(c) = self.category {
            parts.push(format!("category={}", urlencode(c.label())));
        }
        if let Some(r) = self.region {
            parts.push(format!("region={}", r.label()));
        }
        if parts.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[component]
pub(crate) fn Marketplace() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            q: q.get("q").unwrap_or_default(),
            category: q.get("category").as_deref().and_then(Category::parse),
            region: q.get("region").as_deref().and_then(Region::parse),
        }
    });
    let catalog = Resource::new(|| (), |_| catalog_entries());
    // Which connector types this tenant already has; empty when nobody is signed in.
    let owned = Resource::new(|| (), |_| list_sources(None));

    let navigate = use_navigate();
    let apply = move |next: Filters| {
        navigate(
            &next.to_query(),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        )
    };
    let on_search = {
        let apply = apply.clone();
        move |ev: leptos::ev::Event| {
            apply(Filters {
                q: event_target_value(&ev),
                ..filters.get_untracked()
            })
        }
    };
    let on_category = {
        let apply = apply.clone();
        move |ev: leptos::ev::Event| {
            apply(Filters {
                category: Category::parse(&event_target_value(&ev)),
                ..filters.get_untracked()
            })
        }
    };
    let on_region = move |ev: leptos::ev::Event| {
        apply(Filters {
            region: Region::parse(&event_target_value(&ev)),
            ..filters.get_untracked()
        })
    };

    view! {
        <Title text="Marketplace"/>
        <div class="flex flex-col gap-2 sm:flex-row sm:items-end sm:justify-between">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"Connect your data"</h1>
                <p class="mt-1 max-w-2xl text-slate-600">
                    "Pick a source and we will walk you through it. Credentials are encrypted before they are stored and never shown again."
                </p>
            </div>
        </div>

        <form method="get" action="/" role="search" aria-label="Filter connectors"
              class="mt-6 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-[1fr_auto_auto_auto]">
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">
                "Search"
                <input type="search" name="q" placeholder="Name or category, e.g. finance"
                       class="input" prop:value=move || filters.get().q on:input=on_search autocomplete="off"/>
            </label>
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">
                "Category"
                <select name="category" class="input" on:change=on_category>
                    <option value="" selected=move || filters.get().category.is_none()>"All categories"</option>
                    {Category::ALL.into_iter().map(|c| view! {
                        <option value=c.label() selected=move || filters.get().category == Some(c)>{c.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">
                "Region"
                <select name="region" class="input" on:change=on_region>
                    <option value="" selected=move || filters.get().region.is_none()>"All regions"</option>
                    {Region::ALL.into_iter().map(|r| view! {
                        <option value=r.label() selected=move || filters.get().region == Some(r)>{r.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="flex items-end">
                <button type="submit" class="btn-primary w-full">"Apply"</button>
            </div>
        </form>

        <Suspense fallback=|| view! { <p class="mt-8 text-slate-600">"Loading connectors…"</p> }>
            {move || Suspend::new(async move {
                let entries = match catalog.await {
                    Ok(entries) => entries,
                    Err(e) => return view! { <div class="mt-8"><ErrorNotice error=e/></div> }.into_any(),
                };
                let mut counts: HashMap<String, usize> = HashMap::new();
                if let Ok(sources) = owned.await {
                    for c in sources.connectors {
                        *counts.entry(c.connector_type).or_default() += 1;
                    }
                }
                view! { <Cards entries counts filters/> }.into_any()
            })}
        </Suspense>
    }
}

#[component]
fn Cards(
    entries: Vec<CatalogCard>,
    counts: HashMap<String, usize>,
    filters: Memo<Filters>,
) -> impl IntoView {
    let total = entries.len();
    let visible = {
        let entries = entries.clone();
        move || {
            entries
                .iter()
                .filter(|d| filters.get().keep(d))
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    let visible_count = {
        let visible = visible.clone();
        move || visible().len()
    };
    view! {
        <p class="mt-6 text-sm text-slate-600" role="status" aria-live="polite" data-testid="result-count">
            {move || format!("Showing {} of {total} connectors", visible_count())}
        </p>
        <ul class="mt-3 grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="connector-cards">
            {move || {
                let shown = visible();
                if shown.is_empty() {
                    return view! {
                        <li class="col-span-full rounded-xl border border-dashed border-slate-300 p-8 text-center text-slate-600">
                            "No connector matches these filters. "
                            <a href="/" class="text-indigo-700 underline">"Clear filters"</a>
                        </li>
                    }.into_any();
                }
                shown.into_iter().map(|def| {
                    let count = counts.get(&def.id).copied().unwrap_or(0);
                    view! { <Card def count/> }
                }).collect_view().into_any()
            }}
        </ul>
    }
}

#[component]
fn Card(def: CatalogCard, count: usize) -> impl IntoView {
    let regions = def
        .regions
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(" · ");
    let href = format!("/connect/{}", def.id);
    let heading_id = format!("card-{}", def.id);
    let labelled_by = heading_id.clone();
    view! {
        <li class="flex flex-col rounded-xl border border-slate-200 bg-white p-5 shadow-sm transition hover:shadow-md"
            data-connector=def.id.clone() aria-labelledby=labelled_by>
            <div class="flex items-start justify-between gap-3">
                <h2 id=heading_id class="text-lg font-semibold text-slate-900">{def.name.clone()}</h2>
                <span class="shrink-0 rounded-full bg-indigo-50 px-2.5 py-0.5 text-xs font-medium text-indigo-800">{def.category.label()}</span>
            </div>
            <p class="mt-2 line-clamp-3 text-sm text-slate-600">{def.description.clone()}</p>
            <dl class="mt-4 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
                <dt class="text-slate-500">"Sign-in"</dt><dd class="text-slate-800" data-testid="auth-kind">{def.auth.label()}</dd>
                <dt class="text-slate-500">"Regions"</dt><dd class="text-slate-800">{regions}</dd>
                <dt class="text-slate-500">"You need"</dt><dd class="text-slate-800">{def.needs.clone()}</dd>
            </dl>
            <div class="mt-auto flex flex-wrap items-center gap-3 pt-5">
                <a href=href class="btn-primary" aria-label=format!("Connect {}", def.name)>"Connect"</a>
                {(count > 0).then(|| view! {
                    <a href="/sources" class="text-sm font-medium text-emerald-800 underline" data-testid="already-connected">
                        {if count == 1 { "Connected".to_owned() } else { format!("Connected ×{count}") }}
                    </a>
                })}
            </div>
        </li>
    }
}
