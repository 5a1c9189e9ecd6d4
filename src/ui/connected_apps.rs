//! Connected apps (`/apps`): the AI agents' applications the signed-in person allowed to use
//! Connector Hub in their name through its MCP server, what each may do, when it was allowed and
//! last used, and a Revoke button each (a plain form: it works before any script loads).

use crate::api::connected_apps::{list_connected_apps, ConnectedApp, RevokeConnectedApp};
use crate::error::ErrorCode;
use crate::ui::{exact_time, relative_time, ErrorNotice, SignInRequired};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub(crate) fn ConnectedAppsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeConnectedApp>::new();
    let apps = Resource::new(move || revoke.version().get(), |_| list_connected_apps());
    view! {
        <Title text="Connected apps"/>
        <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"Connected apps"</h1>
        <p class="mt-1 text-slate-600">"Applications you allowed to use Connector Hub in your name through its MCP server (AI agents). Revoking one stops it at once."</p>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match apps.await {
                    Ok(list) if list.apps.is_empty() => view! {
                        <p class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600" data-testid="no-apps">"You have not allowed any application."</p>
                    }.into_any(),
                    Ok(list) => {
                        let now = list.now_ms;
                        view! {
                            <ul class="mt-6 grid gap-4" data-testid="connected-apps">
                                {list.apps.into_iter().map(|app| view! { <App app now revoke/> }).collect_view()}
                            </ul>
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
fn App(app: ConnectedApp, now: i64, revoke: ServerAction<RevokeConnectedApp>) -> impl IntoView {
    let last_used = app
        .last_used_at
        .clone()
        .map_or_else(|| "never".to_owned(), |at| relative_time(&at, now));
    view! {
        <li class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="connected-app">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 class="text-lg font-semibold">{app.client_name.clone()}</h2>
                    <p class="text-sm text-slate-600">"Answers go to " <span class="font-mono">{app.redirect_host.clone()}</span></p>
                    <p class="mt-1 text-sm text-slate-700">
                        "May: " {app.scopes.iter().map(|s| view! { <code class="mr-1 rounded bg-slate-100 px-1">{s.clone()}</code> }).collect_view()}
                    </p>
                    <p class="mt-1 text-sm text-slate-600">
                        "Allowed " <time datetime=app.allowed_at.clone() title=exact_time(&app.allowed_at)>{relative_time(&app.allowed_at, now)}</time>
                        " · last used " {last_used}
                    </p>
                </div>
                <ActionForm action=revoke>
                    <input type="hidden" name="grant_id" value=app.grant_id.clone()/>
                    <button type="submit" class="btn-danger" data-testid="revoke-app">"Revoke"</button>
                </ActionForm>
            </div>
        </li>
    }
}
