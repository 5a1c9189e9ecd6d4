//! How to get in: the page shown to visitors without a session.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub(crate) fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error");
    let limited = move || error().as_deref() == Some("rate_limited");
    let invalid = move || error().is_some() && !limited();
    let signed_out = move || query.read().get("signed_out").is_some();
    // An MCP client's authorization request waiting for this person (`/oauth/authorize?…`):
    // a link back to it once they are signed in, and how to come back there directly.
    let waiting = move || {
        query
            .read()
            .get("next")
            .filter(|n| n.starts_with("/oauth/authorize?"))
    };
    view! {
        <Title text="Sign in"/>
        <section class="mx-auto max-w-2xl rounded-xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8">
            <h1 class="text-2xl font-semibold">"Sign in to Connector Hub"</h1>
            <Show when=signed_out>
                <p role="status" class="mt-4 rounded-md bg-emerald-50 p-3 text-emerald-900">"You are signed out."</p>
            </Show>
            <Show when=invalid>
                <p role="alert" class="mt-4 rounded-md bg-red-50 p-3 text-red-900">
                    "That sign-in link is not valid or has expired. Ask for a new one."
                </p>
            </Show>
            <Show when=limited>
                <p role="alert" class="mt-4 rounded-md bg-red-50 p-3 text-red-900">
                    "Too many sign-in attempts from your address. Wait a minute, then open your link again."
                </p>
            </Show>
            {move || waiting().map(|next| view! {
                <p role="status" class="mt-4 rounded-md bg-indigo-50 p-3 text-indigo-900">
                    "An application is asking for access to Connector Hub in your name. Sign in (add "
                    <code class="text-sm">"&next=…"</code>
                    " to your sign-in link to come back here at once), then "
                    <a class="underline" href=next data-testid="continue-authorization">"continue to its request"</a>"."
                </p>
            })}
            <p class="mt-4 text-slate-700">
                "Connector Hub does not keep passwords. Your organisation's identity provider gives you a signed sign-in link, which looks like "
                <code class="rounded bg-slate-100 px-1 py-0.5 text-sm">"/session?token=…"</code>
                ". Open it in this browser and you are in; the link's token is kept in a secure cookie and removed from the address bar."
            </p>
            <h2 class="mt-6 text-lg font-semibold">"Running it yourself?"</h2>
            <p class="mt-2 text-slate-700">
                "In development mode the server prints a ready sign-in link for a demo organisation when it starts. You can also make one with "
                <code class="rounded bg-slate-100 px-1 py-0.5 text-sm">"connector-hub mint-token --tenant acme --user you@acme.test"</code>
                " and open "<code class="rounded bg-slate-100 px-1 py-0.5 text-sm">"/session?token=<token>"</code>"."
            </p>
            <p class="mt-6"><a class="text-indigo-700 underline" href="/">"Browse the marketplace"</a>" meanwhile — no sign-in needed."</p>
        </section>
    }
}
