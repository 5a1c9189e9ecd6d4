//! The audit log (`/audit`): every operation on the tenant's connectors and every refused attempt,
//! filterable and paginated; the filters are a plain GET form.

use crate::api::functions::list_audit;
use crate::error::ErrorCode;
use crate::model::{AuditAction, AuditEntryView, AuditOutcome};
use crate::ui::{exact_time, relative_time, ErrorNotice, SignInRequired};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let page = Resource::new(
        move || {
            (
                param("connector_id"),
                param("action"),
                param("outcome"),
                param("before").and_then(|b| b.parse::<i64>().ok()),
            )
        },
        |(connector_id, action, outcome, before)| list_audit(connector_id, action, outcome, before),
    );
    view! {
        <Title text="Audit log"/>
        <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"Audit log"</h1>
        <p class="mt-1 text-slate-600">"Every change, test and refused attempt on your organisation's connectors. Entries are chained by hash, so tampering shows."</p>
        <form method="get" action="/audit" class="mt-6 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-4" aria-label="Filter the audit log">
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Connector id"
                <input name="connector_id" class="input" prop:value=move || param("connector_id").unwrap_or_default() placeholder="conn-…"/>
            </label>
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Action"
                <select name="action" class="input">
                    <option value="">"Any"</option>
                    {AuditAction::ALL.into_iter().map(|a| view! { <option value=a.as_str() selected=move || param("action").as_deref() == Some(a.as_str())>{a.label()}</option> }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Outcome"
                <select name="outcome" class="input">
                    <option value="">"Any"</option>
                    {AuditOutcome::ALL.into_iter().map(|o| view! { <option value=o.as_str() selected=move || param("outcome").as_deref() == Some(o.as_str())>{o.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <div class="flex items-end"><button type="submit" class="btn-primary w-full">"Filter"</button></div>
        </form>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let older = p.next_before.map(|b| {
                            let mut href = format!("/audit?before={b}");
                            for key in ["connector_id", "action", "outcome"] {
                                if let Some(v) = param(key) {
                                    href.push_str(&format!("&{key}={}", crate::ui::marketplace::urlencode(&v)));
                                }
                            }
                            href
                        });
                        view! { <Entries entries=p.entries now=p.now_ms/>
                            {older.map(|href| view! { <a href=href class="btn-secondary mt-4 inline-flex">"Older entries"</a> })}
                        }.into_any()
                    }
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <div class="mt-6"><SignInRequired/></div> }.into_any(),
                    Err(e) => view! { <div class="mt-6"><ErrorNotice error=e/></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Entries(entries: Vec<AuditEntryView>, now: i64) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"No entries match."</p> }.into_any();
    }
    view! {
        <div class="mt-6 overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table class="w-full text-left text-sm" data-testid="audit-table">
                <thead class="bg-slate-50 text-slate-600">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"When"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Who"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Action"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Connector"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Outcome"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"From"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {entries.into_iter().map(|e| view! {
                        <tr data-action=e.action.clone() data-outcome=e.outcome.clone()>
                            <td class="whitespace-nowrap px-4 py-2"><time datetime=e.at.clone() title=exact_time(&e.at)>{relative_time(&e.at, now)}</time></td>
                            <td class="px-4 py-2">{e.user_id.clone()}</td>
                            <td class="px-4 py-2">
                                {AuditAction::parse(&e.action).map(AuditAction::label).map(str::to_owned).unwrap_or_else(|| e.action.clone())}
                                {e.detail.clone().map(|d| view! { <span class="block text-xs text-slate-500">{d}</span> })}
                            </td>
                            <td class="px-4 py-2 font-mono text-xs">{e.connector_id.clone().unwrap_or_default()}</td>
                            <td class="px-4 py-2">
                                {if AuditOutcome::parse(&e.outcome) == Some(AuditOutcome::Ok) {
                                    view! { <span class="text-emerald-800">"ok"</span> }.into_any()
                                } else {
                                    view! { <span class="text-red-800">{format!("{} {}", e.outcome, e.error_code.clone().unwrap_or_default())}</span> }.into_any()
                                }}
                            </td>
                            <td class="px-4 py-2 text-slate-600">{e.client.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
