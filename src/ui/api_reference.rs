//! The REST API reference (`/api`): every operation of the OpenAPI document, with its parameters
//! and answers, and a form to try it as the signed-in user (a plain form: the answer opens in a new
//! tab, with or without JavaScript). Read-only calls without parameters are also plain links.

use crate::api::reference::api_reference;
use crate::model::api_reference::ApiOperation;
use crate::ui::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ApiReference() -> impl IntoView {
    let operations = Resource::new(|| (), |_| api_reference());
    view! {
        <Title text="API"/>
        <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">"REST API"</h1>
        <p class="mt-1 max-w-3xl text-slate-600">
            "Everything the pages do, your backend can do with a tenant JWT as a bearer token. The "
            <a class="underline" href="/v1/openapi.json">"OpenAPI 3.1 document"</a>
            " describes it for generators and tools; calls tried here run as you, with your session."
        </p>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match operations.await {
                    Ok(ops) => view! {
                        <div class="mt-6 flex flex-col gap-4">
                            {ops.into_iter().map(|op| view! { <Operation op/> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(e) => view! { <div class="mt-6"><ErrorNotice error=e/></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn method_colour(method: &str) -> &'static str {
    match method {
        "GET" => "bg-sky-100 text-sky-900",
        "POST" => "bg-emerald-100 text-emerald-900",
        "PATCH" => "bg-amber-100 text-amber-900",
        _ => "bg-red-100 text-red-900",
    }
}

#[component]
fn Operation(op: ApiOperation) -> impl IntoView {
    let id = format!("{}-{}", op.method, op.path).replace(['/', '{', '}'], "-");
    let labelled_by = id.clone();
    let plain_link = (op.method == "GET" && !op.path.contains('{')).then(|| op.path.clone());
    let example = op.request_example.clone();
    let path_hint = op.path.clone();
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm" aria-labelledby=labelled_by data-testid="api-operation">
            <h2 id=id class="flex flex-wrap items-baseline gap-2 font-mono text-sm">
                <span class=format!("rounded px-2 py-0.5 font-semibold {}", method_colour(&op.method))>{op.method.clone()}</span>
                <span class="font-semibold text-slate-900">{op.path.clone()}</span>
            </h2>
            <p class="mt-2 text-slate-800">{op.summary.clone()}</p>
            {(!op.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600">{op.description.clone()}</p> })}
            {(!op.parameters.is_empty()).then(|| view! {
                <dl class="mt-3 grid gap-x-4 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">
                    {op.parameters.iter().map(|p| view! {
                        <dt class="font-mono text-slate-900">{p.name.clone()}<span class="ml-1 text-xs text-slate-500">{format!("({}{})", p.location, if p.required { ", required" } else { "" })}</span></dt>
                        <dd class="text-slate-600">{p.description.clone()}</dd>
                    }).collect_view()}
                </dl>
            })}
            <p class="mt-3 text-sm text-slate-600">
                {op.responses.iter().map(|(status, what)| view! {
                    <span class="mr-3 inline-block"><span class="font-mono font-medium text-slate-900">{*status}</span>" "{what.clone()}</span>
                }).collect_view()}
            </p>
            {plain_link.map(|href| view! { <a class="mt-2 inline-block text-sm text-indigo-700 underline" href=href>"Open the answer"</a> })}
            <details class="mt-3">
                <summary class="cursor-pointer text-sm font-medium text-indigo-700">"Try it"</summary>
                <form method="post" action="/api/try" target="_blank" class="mt-3 flex flex-col gap-2">
                    <input type="hidden" name="method" value=op.method.clone()/>
                    <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"Path"
                        <input name="path" class="input font-mono" value=path_hint/>
                    </label>
                    {example.map(|body| view! {
                        <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">"JSON body"
                            <textarea name="body" rows="6" class="input font-mono text-xs">{body}</textarea>
                        </label>
                    })}
                    <div><button type="submit" class="btn-primary">"Send"</button><span class="ml-2 text-sm text-slate-500">"The answer opens in a new tab."</span></div>
                </form>
            </details>
        </section>
    }
}
