use leptos::prelude::*;
#[component]
pub fn Wizard() -> impl IntoView {
    view! { <p>"wizard"</p> }
}
