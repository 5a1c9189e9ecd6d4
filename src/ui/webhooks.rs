//! The Webhooks page (`/webhooks`): where the organisation's events go. Add an endpoint (its
//! signing secret is shown once, on the page the form answers with), turn one off or on, rotate
//! its secret, delete it, and see its latest deliveries with every attempt, each replayable. Every
//! action is a plain form, so the page works without JavaScript.

use crate::api::webhook_overview::webhooks_overview;
use crate::error::ErrorCode;
use crate::model::webhooks::{DeliveryView, EndpointActivity, EventType};
use crate::ui::{ErrorNotice, SignInRequired};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub(crate) fn WebhooksPage() -> impl IntoView {
    let query = use_query_map();
    let overview = Resource::new(|| (), |_| webhooks_overview());
    let notice = move || {
        let q = query.read();
        if let Some(code) = q.get("error") {
            let message = match ErrorCode::parse(&code) {
                Some(ErrorCode::EgressBlocked) => "That address is private or internal; events only go to public addresses unless your operator allows the network.",
                Some(ErrorCode::HttpsRequired) => "Use an https:// address: events are signed but would travel unencrypted.",
                Some(ErrorCode::InvalidConfig) => "That is not a usable address: give a full https:// URL.",
                Some(ErrorCode::NotFound) => "That endpoint or delivery no longer exists.",
                Some(ErrorCode::RateLimited) => "Too many changes this minute; wait a moment.",
                _ => "That did not work; try again.",
            };
            return Some(view! { <p role="alert" class="mt-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800">{message}</p> }.into_any());
        }
        q.get("done").map(|done| {
            let message = match done.as_str() {
                "enable" => "Endpoint turned on.",
                "disable" => "Endpoint turned off; its events wait until it is on again.",
                "delete" => "Endpoint deleted.",
                "replay" => "The event is on its way again.",
                _ => "Done.",
            };
            view! { <p role="status" class="mt-4 rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-800">{message}</p> }.into_any()
        })
    };
    view! {
        <Title text="Webhooks"/>
        <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"Webhooks"</h1>
        <p class="mt-1 text-slate-600">"Connector Hub tells your systems when a connector changes, fails a test, needs signing in again, or finishes a sync. Events are signed as Standard Webhooks, so your framework's library verifies them."</p>
        {notice}
        <form method="post" action="/webhooks/endpoints" class="mt-6 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" aria-label="Add an endpoint">
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Endpoint URL"
                <input name="url" type="url" required class="input" placeholder="https://example.com/hooks/connector-hub"/>
            </label>
            <fieldset class="mt-3">
                <legend class="text-sm font-medium text-slate-700">"Events (none ticked: all)"</legend>
                <div class="mt-2 grid gap-2 sm:grid-cols-2">
                    {EventType::ALL.into_iter().map(|t| view! {
                        <label class="flex items-center gap-2 text-sm text-slate-700">
                            <input type="checkbox" name="events" value=t.as_str()/>
                            <span class="font-mono">{t.as_str()}</span>
                        </label>
                    }).collect_view()}
                </div>
            </fieldset>
            <button type="submit" class="btn-primary mt-4">"Add endpoint"</button>
        </form>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) if o.endpoints.is_empty() => view! {
                        <p class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"No endpoints yet."</p>
                    }.into_any(),
                    Ok(o) => o.endpoints.into_iter().map(|e| view! { <Endpoint activity=e/> }).collect_view().into_any(),
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <div class="mt-6"><SignInRequired/></div> }.into_any(),
                    Err(e) => view! { <div class="mt-6"><ErrorNotice error=e/></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Endpoint(activity: EndpointActivity) -> impl IntoView {
    let EndpointActivity {
        endpoint,
        deliveries,
    } = activity;
    let id = endpoint.endpoint_id.clone();
    let action = move |what: &str| format!("/webhooks/endpoints/{id}/{what}");
    let events = if endpoint.events.is_empty() {
        "all events".to_owned()
    } else {
        endpoint
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let toggle = if endpoint.enabled {
        "disable"
    } else {
        "enable"
    };
    let toggle_label = if endpoint.enabled {
        "Turn off"
    } else {
        "Turn on"
    };
    let endpoint_id = endpoint.endpoint_id.clone();
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="endpoint">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <p class="break-all font-mono text-sm text-slate-900">{endpoint.url.clone()}</p>
                    <p class="mt-1 text-sm text-slate-600">{events}</p>
                    {if endpoint.enabled {
                        view! { <span class="mt-2 inline-block rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-800">"On"</span> }.into_any()
                    } else {
                        view! { <span class="mt-2 inline-block rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700">"Off"</span> }.into_any()
                    }}
                    {endpoint.disabled_reason.clone().map(|r| view! { <p class="mt-1 text-sm text-red-700">{r}</p> })}
                    {endpoint.previous_secret_until.clone().map(|until| view! { <p class="mt-1 text-xs text-slate-600">"The previous secret also signs until " {until}</p> })}
                </div>
                <div class="flex flex-wrap gap-2">
                    <form method="post" action=action(toggle)><button type="submit" class="btn-secondary">{toggle_label}</button></form>
                    <form method="post" action=action("rotate")><button type="submit" class="btn-secondary">"Rotate secret"</button></form>
                    <form method="post" action=action("delete")><button type="submit" class="btn-secondary text-red-700">"Delete"</button></form>
                </div>
            </div>
            <Deliveries endpoint_id=endpoint_id deliveries=deliveries/>
        </section>
    }
}

#[component]
fn Deliveries(endpoint_id: String, deliveries: Vec<DeliveryView>) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="mt-4 text-sm text-slate-600">"No deliveries yet."</p> }
            .into_any();
    }
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full text-left text-sm">
                <caption class="sr-only">"Latest deliveries"</caption>
                <thead class="text-xs uppercase text-slate-500">
                    <tr><th class="py-2 pr-4">"Event"</th><th class="py-2 pr-4">"Status"</th><th class="py-2 pr-4">"Attempts"</th><th class="py-2 pr-4">"Queued"</th><th class="py-2"></th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {deliveries.into_iter().map(|d| {
                        let attempts = d.attempts.iter().map(|a| match a.status {
                            Some(s) => format!("{s} ({} ms)", a.duration_ms),
                            None => "unreachable".to_owned(),
                        }).collect::<Vec<_>>().join(" → ");
                        let replay = format!("/webhooks/endpoints/{endpoint_id}/deliveries/{}/replay", d.delivery_id);
                        view! {
                            <tr data-testid="delivery">
                                <td class="py-2 pr-4 font-mono">{d.event_type.clone()}</td>
                                <td class="py-2 pr-4">{d.status.clone()}</td>
                                <td class="py-2 pr-4 text-slate-700">{if attempts.is_empty() { "—".to_owned() } else { attempts }}</td>
                                <td class="py-2 pr-4 text-slate-600">{d.created_at.clone()}</td>
                                <td class="py-2"><form method="post" action=replay><button type="submit" class="text-indigo-700 underline">"Replay"</button></form></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }.into_any()
}
