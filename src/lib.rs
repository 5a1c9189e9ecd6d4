//! Connector Hub: a self-hosted, multi-tenant hub for business data-source credentials.
//!
//! Shared modules (`app`, `ui`, `api`, `catalog`, `model`, `error`) build for both the server and
//! the browser; everything that touches secrets is server-only (`feature = "ssr"`), so the WASM
//! bundle cannot contain it.

pub mod api;
pub mod app;
pub mod build_id;
pub mod catalog;
pub mod error;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod checks;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod ids;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod oauth;
#[cfg(feature = "ssr")]
pub mod outbound;
#[cfg(feature = "ssr")]
pub mod page_cache;
#[cfg(feature = "ssr")]
pub mod random;
#[cfg(feature = "ssr")]
#[cfg(feature = "ssr")]
pub mod request_id;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod sync;
#[cfg(feature = "ssr")]
pub mod vault;
#[cfg(feature = "ssr")]
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod wizard;
#[cfg(feature = "ssr")]
pub mod workers;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let window = leptos::prelude::window();
    // A page from another build would panic part-way through hydrating; left as the server
    // rendered it, it still works as it does without JavaScript.
    let page_build = window
        .document()
        .and_then(|d| {
            d.query_selector(&format!("meta[name=\"{}\"]", build_id::META_NAME))
                .ok()
                .flatten()
        })
        .and_then(|meta| meta.get_attribute("content"));
    if page_build.as_deref() != Some(build_id::BUILD_ID) {
        let said = format!(
            "Connector Hub: not hydrating: this page was rendered by build {}, this script is \
             build {}. Deploy the server binary with the target/site built beside it.",
            page_build.as_deref().unwrap_or("(none)"),
            build_id::BUILD_ID
        );
        web_sys::console::error_1(&said.clone().into());
        let _ = js_sys::Reflect::set(&window, &"__hydration_refused".into(), &said.into());
        return;
    }
    leptos::mount::hydrate_body(app::App);
    // Lets browser tests wait for hydration instead of guessing.
    let _ = js_sys::Reflect::set(&window, &"__hydrated".into(), &true.into());
}
