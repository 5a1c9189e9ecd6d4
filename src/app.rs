//! The application shell and its routes.

use crate::api::functions::current_session;
use crate::ui::{
    audit::AuditPage, connected_apps::ConnectedAppsPage, data::DataPage, layout::Header,
    layout::SessionResource, marketplace::Marketplace, signin::SignIn, sources::SourcesPage,
    webhooks::WebhooksPage, wizard::Wizard, NotFound,
};
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{provide_meta_context, Link, Meta, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

#[cfg(feature = "ssr")]
pub(crate) fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // The bundle hydrates only a page of its own build (src/build_id.rs).
                <meta name=crate::build_id::META_NAME content=crate::build_id::BUILD_ID/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="h-full bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub(crate) fn App() -> impl IntoView {
    provide_meta_context();
    let session: SessionResource = Resource::new(|| (), |_| current_session());
    provide_context(session);

    view! {
        <Stylesheet id="leptos" href="/pkg/connector-hub.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Connect your business data sources securely."/>
        <Title formatter=|page: String| if page.is_empty() { "Connector Hub".to_owned() } else { format!("{page} · Connector Hub") }/>
        <Router>
            <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-4 focus:top-4 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:shadow">
                "Skip to content"
            </a>
            <Header/>
            <main id="main" class="mx-auto w-full max-w-6xl px-4 pb-16 pt-6 sm:px-6">
                // Async SSR: pages arrive complete, so they work without JavaScript.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Marketplace ssr=SsrMode::Async/>
                    <Route path=path!("/signin") view=SignIn ssr=SsrMode::Async/>
                    <Route path=path!("/sources") view=SourcesPage ssr=SsrMode::Async/>
                    <Route path=path!("/sources/:id/data") view=DataPage ssr=SsrMode::Async/>
                    <Route path=path!("/connect/:connector_type") view=Wizard ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/apps") view=ConnectedAppsPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
