//! A connector's provider webhooks, on its data page: the address to register at the provider,
//! the provider's setup steps, and (where each endpoint has its own) a form to save the signing
//! secret the provider shows. A plain form, so it works without JavaScript; the secret is never
//! shown back.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub(super) fn ProviderWebhooks(
    connector_id: String,
    url: String,
    setup: String,
    /// Whether the signing secret is this connector's to enter (not the operator's).
    takes_secret: bool,
    /// Whether Connector Hub registers the address itself (a push channel).
    registers: bool,
    /// When the channel open now lapses (RFC 3339), if one is.
    channel_until: Option<String>,
    /// The page's clock (Unix ms), to tell an open channel from a lapsed one.
    now: i64,
) -> impl IntoView {
    let query = use_query_map();
    let saved = move || {
        query
            .read()
            .get("saved")
            .is_some_and(|s| s == "webhook_secret")
    };
    let failed = move || query.read().get("webhook_error");
    let action = format!("/sources/{connector_id}/webhook-secret");
    let register = format!("/sources/{connector_id}/webhook-channel");
    let registered = move || {
        query
            .read()
            .get("saved")
            .is_some_and(|s| s == "webhook_channel")
    };
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="hooks-heading" data-testid="provider-webhooks">
            <h2 id="hooks-heading" class="text-lg font-semibold">"Changes as they happen"</h2>
            <p class="mt-1 text-sm text-slate-600">"Register this address at the provider: each change it reports is verified, synced within seconds and sent on to your webhook endpoints."</p>
            <p class="mt-3"><code class="block break-all rounded-lg bg-slate-100 p-3 font-mono text-sm" data-testid="webhook-url">{url}</code></p>
            <p class="mt-3 text-sm text-slate-700">{setup}</p>
            {move || saved().then(|| view! { <p role="status" class="mt-2 text-sm font-medium text-emerald-800">"Saved. Requests signed with it are accepted from now on."</p> })}
            {move || failed().map(|code| view! { <p role="alert" class="mt-2 text-sm font-medium text-red-800">{format!("The secret could not be saved ({code}).")}</p> })}
            {move || registered().then(|| view! { <p role="status" class="mt-2 text-sm font-medium text-emerald-800">"Registered. Changes reach Connector Hub from now on."</p> })}
            {channel_until.map(|until| {
                let lapsed = crate::ui::parse_rfc3339_ms(&until).is_some_and(|at| at <= now);
                let when = view! { <time datetime=until.clone()>{crate::ui::exact_time(&until)}</time> };
                if lapsed {
                    view! { <p role="alert" class="mt-2 text-sm font-medium text-red-800" data-testid="channel-until">"The push channel lapsed at "{when}" and could not be renewed yet: register again."</p> }.into_any()
                } else {
                    view! { <p class="mt-2 text-sm text-slate-700" data-testid="channel-until">"Push channel open until "{when}"; Connector Hub opens the next one a day before."</p> }.into_any()
                }
            })}
            {registers.then(|| view! {
                <form method="post" action=register class="mt-3">
                    <button type="submit" class="btn-primary">"Register with the provider"</button>
                </form>
            })}
            {takes_secret.then(|| view! {
                <form method="post" action=action class="mt-3 flex flex-wrap items-end gap-3">
                    <label class="flex flex-1 flex-col gap-1 text-sm font-medium text-slate-700">"Signing secret from the provider"
                        <input name="webhook_secret" type="password" autocomplete="off" required class="input"/>
                    </label>
                    <button type="submit" class="btn-primary">"Save signing secret"</button>
                </form>
            })}
        </section>
    }
}
