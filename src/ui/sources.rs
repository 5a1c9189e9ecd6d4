use leptos::prelude::*;
#[component]
pub fn SourcesPage() -> impl IntoView {
    view! { <p>"sources"</p> }
}
