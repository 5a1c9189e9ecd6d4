//! The header: brand, navigation, and who is signed in.

use crate::model::SessionInfo;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The session as the pages see it: `Ok(None)` when nobody is signed in. Provided by the app.
pub(crate) type SessionResource = Resource<Result<Option<SessionInfo>, crate::error::ApiError>>;

#[component]
pub(crate) fn Header() -> impl IntoView {
    let session = expect_context::<SessionResource>();
    let location = use_location();
    let link = move |href: &'static str, label: &'static str| {
        let current = move || {
            let path = location.pathname.get();
            if href == "/" {
                path == "/" || path.starts_with("/connect")
            } else {
                path.starts_with(href)
            }
        };
        view! {
            <a href=href
               class="rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-800"
               aria-current=move || current().then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3 sm:px-6">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold text-slate-900">
                    <img src="/favicon.svg" alt="" class="h-7 w-7"/>
                    "Connector Hub"
                </a>
                <nav aria-label="Main" class="flex flex-1 flex-wrap gap-1">
                    {link("/", "Marketplace")}
                    {link("/sources", "Connected sources")}
                    {link("/webhooks", "Webhooks")}
                    {link("/apps", "Connected apps")}
                    {link("/audit", "Audit log")}
                    // A page of the server's own, outside the app: a full page load.
                    <a href="/api" rel="external" class="rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900">"API"</a>
                </nav>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match session.await {
                            Ok(Some(s)) => view! {
                                <div class="flex items-center gap-3 text-sm">
                                    <span class="text-slate-600" data-testid="session">
                                        <span class="font-medium text-slate-900">{s.user_id}</span>
                                        " · "
                                        <span>{s.tenant_id}</span>
                                    </span>
                                    <form method="post" action="/session/logout">
                                        <button type="submit" class="btn-secondary">"Sign out"</button>
                                    </form>
                                </div>
                            }.into_any(),
                            _ => view! { <a href="/signin" class="btn-secondary">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </header>
    }
}
