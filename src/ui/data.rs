//! A connector's data (`/sources/:id/data`): its streams with counts and last sync, the stored
//! records a page at a time, "Sync now" with the run's progress, the run history, a preview read
//! from the provider, and the settings for reading (the REST API's paging, PostgreSQL's tables).
//! Everything works as plain links and forms; with JavaScript the page follows a running sync.

use crate::api::source_data::{
    source_data, source_preview, source_tables, SaveDataSettings, SyncSource,
};
use crate::error::ErrorCode;
use crate::model::data::{DataView, Preview, RecordView, RunStatus, RunTrigger, SyncRunView};
use crate::ui::{exact_time, relative_time, ErrorNotice, SignInRequired, StatusBadge};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub(crate) fn DataPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let sync = ServerAction::<SyncSource>::new();
    let settings = ServerAction::<SaveDataSettings>::new();
    let (tick, set_tick) = signal(0_u32);
    let data = Resource::new(
        move || {
            (
                id(),
                param("stream"),
                param("cursor"),
                sync.version().get(),
                settings.version().get(),
                tick.get(),
            )
        },
        |(id, stream, cursor, ..)| source_data(id, stream, cursor),
    );
    // While a run is queued or running, look again every second (in the browser only).
    Effect::new(move |_| {
        let active = data
            .get()
            .and_then(Result::ok)
            .is_some_and(|v| v.runs.first().is_some_and(|r| r.status.is_active()));
        if active {
            set_timeout(
                move || set_tick.update(|t| *t += 1),
                std::time::Duration::from_secs(1),
            );
        }
    });
    view! {
        <Title text="Data"/>
        <p class="text-sm"><a href="/sources" class="text-indigo-700 hover:underline">"← Connected sources"</a></p>
        <Transition fallback=|| view! { <p class="mt-8 text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <DataBody v sync settings preview=param("preview").is_some()/> }.into_any(),
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <SignInRequired/> }.into_any(),
                    Err(e) => view! { <div class="mt-6"><ErrorNotice error=e/></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DataBody(
    v: DataView,
    sync: ServerAction<SyncSource>,
    settings: ServerAction<SaveDataSettings>,
    preview: bool,
) -> impl IntoView {
    let c = v.connector.clone();
    let id = c.connector_id.clone();
    let now = v.now_ms;
    let latest = v.runs.first().cloned();
    let running = latest.as_ref().is_some_and(|r| r.status.is_active());
    let page_href = format!("/sources/{id}/data");
    let preview_href = format!("/sources/{id}/data?preview=1");
    let previewed = preview.then(|| id.clone());
    view! {
        <div class="mt-3 flex flex-wrap items-start justify-between gap-3">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">{c.display_name.clone()}</h1>
                <p class="mt-1 text-slate-600">
                    {c.sync_frequency.label()}" · Last sync: "
                    {match c.last_sync_at.clone() {
                        Some(t) => view! { <time datetime=t.clone() title=exact_time(&t) data-testid="last-sync">{relative_time(&t, now)}</time> }.into_any(),
                        None => view! { <span data-testid="last-sync">"never"</span> }.into_any(),
                    }}
                </p>
            </div>
            <StatusBadge status=c.status/>
        </div>
        {c.error_message.clone().map(|m| view! {
            <p class="mt-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-900" role="alert">{m}</p>
        })}
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="sync-heading">
            <h2 id="sync-heading" class="text-lg font-semibold">"Sync"</h2>
            <RunLine run=latest.clone() now/>
            <Permissions run=latest.clone() needs=v.needs_permission.clone() connector_type=c.connector_type.clone() id=id.clone()/>
            <ActionForm action=sync attr:class="mt-3 flex flex-wrap items-center gap-3">
                <input type="hidden" name="connector_id" value=id.clone()/>
                <label class="flex items-center gap-2 text-sm text-slate-700">
                    <input type="checkbox" name="full_refresh" value="on"/>"Read everything again (notices deletions)"
                </label>
                <button type="submit" class="btn-primary" data-testid="sync-now" disabled=move || running || sync.pending().get()>"Sync now"</button>
            </ActionForm>
            {move || sync.value().get().and_then(Result::err).map(|e| view! { <div class="mt-3"><ErrorNotice error=e/></div> })}
            {running.then(|| view! {
                <noscript><p class="mt-2 text-sm"><a href=page_href.clone() class="text-indigo-700 underline">"Refresh to follow the run"</a></p></noscript>
            })}
        </section>
        <Streams v=v.clone()/>
        <Records v=v.clone()/>
        <RunHistory runs=v.runs.clone() now/>
        {if let Some(connector_id) = previewed {
            view! { <PreviewPanel connector_id/> }.into_any()
        } else {
            view! {
                <p class="mt-6"><a class="btn-secondary" href=preview_href.clone() data-testid="show-preview">"Preview live data from the provider"</a></p>
            }.into_any()
        }}
        <Settings v=v.clone() action=settings/>
        {v.connector.webhook_url.clone().zip(v.webhook_setup.clone()).map(|(url, setup)| view! {
            <crate::ui::provider_webhooks::ProviderWebhooks connector_id=v.connector.connector_id.clone() url setup takes_secret=v.webhook_takes_secret registers=v.webhook_registers channel_until=v.connector.webhook_channel_expires_at.clone() now/>
        })}
    }
}

fn counts_text(run: &SyncRunView) -> String {
    let (mut added, mut updated, mut deleted) = (0, 0, 0);
    for c in run.streams.values() {
        added += c.added;
        updated += c.updated;
        deleted += c.deleted;
    }
    format!("{added} added, {updated} updated, {deleted} deleted")
}

/// Streams the connection may not read — the last sign-in was not granted their permission, or
/// the last run was refused them: what each needs, and the way to grant it (the same sign-in,
/// keeping the connector).
#[component]
fn Permissions(
    run: Option<SyncRunView>,
    needs: Vec<crate::model::data::StreamPermission>,
    connector_type: String,
    id: String,
) -> impl IntoView {
    let lines: Vec<String> = if needs.is_empty() {
        run.filter(|r| {
            r.status == RunStatus::Succeeded
                && r.error_code.as_deref() == Some("INSUFFICIENT_PERMISSIONS")
        })
        .and_then(|r| r.error_message)
        .into_iter()
        .collect()
    } else {
        needs
            .iter()
            .map(|n| {
                format!(
                    "{} needs the {} permission, which the last sign-in did not grant.",
                    n.stream,
                    n.scopes.join(", ")
                )
            })
            .collect()
    };
    (!lines.is_empty()).then(|| view! {
        <div class="mt-3 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900" role="status" data-testid="needs-permission">
            {lines.into_iter().map(|l| view! { <p>{l}</p> }).collect_view()}
            <p class="mt-2"><a class="btn-secondary" href=format!("/connect/{connector_type}?replace={id}") data-testid="sign-in-again">"Sign in again"</a></p>
        </div>
    })
}

#[component]
fn RunLine(run: Option<SyncRunView>, now: i64) -> impl IntoView {
    let Some(run) = run else {
        return view! { <p class="mt-2 text-sm text-slate-600" data-testid="run-status">"Not synced yet."</p> }.into_any();
    };
    let (text, class) = match run.status {
        RunStatus::Queued => ("Waiting to start…".to_owned(), "text-indigo-900"),
        RunStatus::Running => (
            format!("Syncing… {} so far.", counts_text(&run)),
            "text-indigo-900",
        ),
        RunStatus::Succeeded => (
            format!(
                "Last run succeeded {}: {}.",
                run.finished_at
                    .as_deref()
                    .map(|t| relative_time(t, now))
                    .unwrap_or_default(),
                counts_text(&run)
            ),
            "text-emerald-800",
        ),
        RunStatus::Failed => (
            format!(
                "Last run failed: {}",
                run.error_message.clone().unwrap_or_default()
            ),
            "text-red-800",
        ),
    };
    view! {
        <p role="status" class=format!("mt-2 flex items-center gap-2 text-sm font-medium {class}") data-testid="run-status" data-status=run.status.as_str()>
            {run.status.is_active().then(|| view! { <span class="h-3 w-3 animate-spin rounded-full border-2 border-indigo-300 border-t-indigo-700" aria-hidden="true"></span> })}
            {text}
        </p>
    }
    .into_any()
}

#[component]
fn Streams(v: DataView) -> impl IntoView {
    let id = v.connector.connector_id.clone();
    let current = v.stream.clone();
    let headers = ["Stream", "Records", "Last synced", "Changes by"]
        .map(String::from)
        .to_vec();
    view! {
        <DataTable heading="Streams".into() testid="streams" headers>
            {v.streams.iter().map(|s| {
                let selected = current.as_deref() == Some(s.name.as_str());
                view! {
                    <tr class="border-t border-slate-100" data-stream=s.name.clone()>
                        <td class="px-3 py-2"><a class=if selected { "font-semibold text-indigo-800" } else { "text-indigo-700 hover:underline" }
                            href=format!("/sources/{id}/data?stream={}", s.name) aria-current=selected.then_some("true")>{s.name.clone()}</a></td>
                        <td class="px-3 py-2 tabular-nums" data-testid="record-count">{s.record_count}</td>
                        <td class="px-3 py-2">{s.last_synced_at.as_deref().map(|t| relative_time(t, v.now_ms)).unwrap_or_else(|| "never".into())}</td>
                        <td class="px-3 py-2 font-mono text-xs">{s.cursor_field.clone().unwrap_or_else(|| "full read".into())}</td>
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }
}

/// A titled table of the data page: its heading, its column names, its rows.
#[component]
fn DataTable(
    heading: String,
    testid: &'static str,
    headers: Vec<String>,
    children: Children,
) -> impl IntoView {
    let heading_id = format!("{testid}-heading");
    let labelled_by = heading_id.clone();
    view! {
        <section class="mt-6" aria-labelledby=labelled_by>
            <h2 id=heading_id class="text-lg font-semibold">{heading}</h2>
            <div class="mt-2 overflow-x-auto rounded-xl border border-slate-200 bg-white">
                <table class="w-full text-left text-sm" data-testid=testid>
                    <thead class="bg-slate-50 text-slate-600"><tr>
                        {headers.into_iter().map(|h| view! { <th scope="col" class="whitespace-nowrap px-3 py-2">{h}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>{children()}</tbody>
                </table>
            </div>
        </section>
    }
}

/// A value as a table cell shows it: text as it is, anything else as JSON, cut short.
fn cell(value: Option<&serde_json::Value>) -> String {
    let text = match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

#[component]
fn Records(v: DataView) -> impl IntoView {
    let (Some(stream), Some(page)) = (v.stream.clone(), v.page.clone()) else {
        return ().into_any();
    };
    let id = v.connector.connector_id.clone();
    let columns = v.columns.clone();
    let next = page.has_more.then(|| {
        format!(
            "/sources/{id}/data?stream={stream}&cursor={}",
            page.next_cursor
        )
    });
    let empty = page.records.is_empty();
    view! {
        <section class="mt-6" aria-labelledby="records-heading">
            <h2 id="records-heading" class="text-lg font-semibold">{format!("Records: {stream}")}</h2>
            <p class="text-sm text-slate-600">"In the order they last changed. The same records are at "<code class="font-mono">{format!("GET /v1/connectors/{id}/records?stream={stream}")}</code>"."</p>
            {if empty {
                view! { <p class="mt-3 text-sm text-slate-600" data-testid="no-records">"No records stored for this stream yet. Sync to read them."</p> }.into_any()
            } else {
                view! {
                    <div class="mt-2 overflow-x-auto rounded-xl border border-slate-200 bg-white">
                        <table class="w-full text-left text-sm" data-testid="records">
                            <thead class="bg-slate-50 text-slate-600"><tr>
                                {columns.iter().map(|c| view! { <th scope="col" class="whitespace-nowrap px-3 py-2">{c.clone()}</th> }).collect_view()}
                                <th scope="col" class="px-3 py-2">"Stored"</th>
                            </tr></thead>
                            <tbody>
                                {page.records.iter().map(|r| view! { <RecordRow r=r.clone() columns=columns.clone() now=v.now_ms/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <div class="mt-2 flex gap-3 text-sm">
                <a class="text-indigo-700 hover:underline" href=format!("/sources/{id}/data?stream={stream}")>"First page"</a>
                {next.map(|href| view! { <a class="text-indigo-700 hover:underline" href=href data-testid="next-page">"Next page →"</a> })}
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn RecordRow(r: RecordView, columns: Vec<String>, now: i64) -> impl IntoView {
    let class = if r.deleted {
        "border-t border-slate-100 text-slate-400 line-through"
    } else {
        "border-t border-slate-100"
    };
    view! {
        <tr class=class data-record-id=r.id.clone() data-deleted=r.deleted.to_string()>
            {columns.iter().map(|c| view! { <td class="max-w-xs truncate px-3 py-2">{cell(r.data.get(c))}</td> }).collect_view()}
            <td class="whitespace-nowrap px-3 py-2 text-slate-500">{relative_time(&r.updated_at, now)}{r.deleted.then_some(" · deleted")}</td>
        </tr>
    }
}

#[component]
fn RunHistory(runs: Vec<SyncRunView>, now: i64) -> impl IntoView {
    if runs.is_empty() {
        return ().into_any();
    }
    let headers = ["Started", "How", "Outcome", "Changes"]
        .map(String::from)
        .to_vec();
    view! {
        <DataTable heading="Run history".into() testid="runs" headers>
            {runs.into_iter().map(|r| view! {
                <tr class="border-t border-slate-100" data-run-status=r.status.as_str()>
                    <td class="whitespace-nowrap px-3 py-2">{relative_time(r.started_at.as_deref().unwrap_or(&r.queued_at), now)}</td>
                    <td class="px-3 py-2">{match r.trigger { RunTrigger::Manual => "Sync now", RunTrigger::Schedule => "Schedule", RunTrigger::Webhook => "Provider webhook" }}{r.full_refresh.then_some(" · full")}</td>
                    <td class="px-3 py-2">{r.status.as_str()}{r.error_code.clone().map(|c| format!(" · {c}"))}</td>
                    <td class="px-3 py-2">{counts_text(&r)}</td>
                </tr>
            }).collect_view()}
        </DataTable>
    }
    .into_any()
}

/// The first records read live from the provider (not stored): the wizard shows it after
/// connecting, the data page on request.
#[component]
pub(super) fn PreviewPanel(connector_id: String) -> impl IntoView {
    let preview = Resource::new(move || connector_id.clone(), |id| source_preview(id, None));
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="preview-heading" data-testid="preview">
            <h2 id="preview-heading" class="text-lg font-semibold text-slate-900">"A first look at your data"</h2>
            <Suspense fallback=|| view! { <p class="mt-2 text-sm text-slate-600">"Reading the first records…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Ok(p) => view! { <PreviewTable p/> }.into_any(),
                        Err(e) => view! { <div class="mt-2"><ErrorNotice error=e/></div> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PreviewTable(p: Preview) -> impl IntoView {
    let columns: Vec<_> = p.columns.iter().take(8).cloned().collect();
    view! {
        <p class="mt-1 text-sm text-slate-600">
            {format!("Streams: {}. ", p.streams.join(", "))}
            {format!("First records of {}{}", p.stream, if p.has_more { " (more to sync):" } else { ":" })}
        </p>
        {if p.records.is_empty() {
            view! { <p class="mt-2 text-sm text-slate-600" data-testid="preview-empty">"This stream is empty at the provider."</p> }.into_any()
        } else {
            view! {
                <div class="mt-2 overflow-x-auto">
                    <table class="w-full text-left text-sm" data-testid="preview-records" data-stream=p.stream.clone()>
                        <thead class="bg-slate-50 text-slate-600"><tr>
                            {columns.iter().map(|c| view! { <th scope="col" class="whitespace-nowrap px-3 py-2">{c.name.clone()}<span class="ml-1 text-xs font-normal text-slate-400">{c.column_type.as_str()}</span></th> }).collect_view()}
                        </tr></thead>
                        <tbody>
                            {p.records.iter().map(|r| view! {
                                <tr class="border-t border-slate-100">
                                    {columns.iter().map(|c| view! { <td class="max-w-xs truncate px-3 py-2">{cell(r.get(&c.name))}</td> }).collect_view()}
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn Settings(v: DataView, action: ServerAction<SaveDataSettings>) -> impl IntoView {
    let id = v.connector.connector_id.clone();
    match v.connector.connector_type.as_str() {
        "postgresql" => view! { <TableChoice connector_id=id/> }.into_any(),
        "rest_api" => view! {
            <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="settings-heading">
                <h2 id="settings-heading" class="text-lg font-semibold">"Reading records"</h2>
                <p class="mt-1 text-sm text-slate-600">"Where your API lists its records and how it pages. Credentials are not affected."</p>
                <ActionForm action=action attr:class="mt-3 grid gap-3 sm:grid-cols-2">
                    <input type="hidden" name="connector_id" value=id/>
                    {v.settings.into_iter().map(|s| {
                        let value = s.value.clone().unwrap_or_default();
                        view! {
                            <label class="flex flex-col gap-1 text-sm font-medium text-slate-700">{s.label.clone()}
                                {if s.options.is_empty() {
                                    view! { <input name=s.name.clone() class="input font-mono" value=value placeholder=s.example.clone().unwrap_or_default()/> }.into_any()
                                } else {
                                    view! { <select name=s.name.clone() class="input">
                                        {s.options.iter().map(|o| view! { <option value=o.clone() selected=*o == value>{o.clone()}</option> }).collect_view()}
                                    </select> }.into_any()
                                }}
                                <span class="text-xs font-normal text-slate-500">{s.help.clone()}</span>
                            </label>
                        }
                    }).collect_view()}
                    <div class="sm:col-span-2"><button type="submit" class="btn-primary">"Save settings"</button></div>
                </ActionForm>
                {move || action.value().get().map(|r| match r {
                    Ok(_) => view! { <p role="status" class="mt-2 text-sm text-emerald-800">"Saved. The next sync reads with these settings."</p> }.into_any(),
                    Err(e) => view! { <div class="mt-2"><ErrorNotice error=e/></div> }.into_any(),
                })}
            </section>
        }.into_any(),
        _ => ().into_any(),
    }
}

#[component]
fn TableChoice(connector_id: String) -> impl IntoView {
    let query = use_query_map();
    let tables = Resource::new(
        {
            let id = connector_id.clone();
            move || id.clone()
        },
        source_tables,
    );
    let saved = move || query.read().get("saved").is_some_and(|s| s == "tables");
    let failed = move || query.read().get("tables_error");
    let action = format!("/sources/{connector_id}/tables");
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="tables-heading" data-testid="table-choice">
            <h2 id="tables-heading" class="text-lg font-semibold">"Tables to sync"</h2>
            <p class="mt-1 text-sm text-slate-600">"Choose each table to sync, and how its changes are found: a timestamp or growing-number column reads only what changed; every row reads all of it each time and notices deleted rows."</p>
            {move || saved().then(|| view! { <p role="status" class="mt-2 text-sm font-medium text-emerald-800">"Saved. The next sync reads these tables."</p> })}
            {move || failed().map(|code| view! { <p role="alert" class="mt-2 text-sm font-medium text-red-800">{if code == "EMPTY" { "Choose at least one table.".to_owned() } else { format!("The choice could not be saved ({code}).") }}</p> })}
            <Suspense fallback=|| view! { <p class="mt-2 text-sm text-slate-600">"Finding your tables…"</p> }>
                {move || {
                    let action = action.clone();
                    Suspend::new(async move {
                        match tables.await {
                            Ok(list) => view! {
                                <form method="post" action=action class="mt-3">
                                    <table class="w-full text-left text-sm">
                                        <thead class="text-slate-600"><tr><th scope="col" class="py-1">"Table"</th><th scope="col" class="py-1">"Sync"</th></tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|t| {
                                                let label = format!("How to sync {}", t.name);
                                                let current = if !t.chosen { String::new() } else { t.cursor.clone().map(|c| format!("{}:{c}", t.name)).unwrap_or_else(|| t.name.clone()) };
                                                view! {
                                                    <tr class="border-t border-slate-100" data-table=t.name.clone()>
                                                        <td class="py-2 font-mono">{t.name.clone()}</td>
                                                        <td class="py-2">{if t.has_key {
                                                            view! { <select name="table" class="input" aria-label=label>
                                                                <option value="" selected=current.is_empty()>"Don't sync"</option>
                                                                <option value=t.name.clone() selected=current == t.name>"Every row, each time"</option>
                                                                {t.cursor_candidates.iter().map(|c| {
                                                                    let value = format!("{}:{c}", t.name);
                                                                    view! { <option value=value.clone() selected=current == value>{format!("Changes by {c}")}</option> }
                                                                }).collect_view()}
                                                            </select> }.into_any()
                                                        } else {
                                                            view! { <span class="text-slate-500">"No primary key: cannot be synced"</span> }.into_any()
                                                        }}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <button type="submit" class="btn-primary mt-3">"Save tables"</button>
                                </form>
                            }.into_any(),
                            Err(e) => view! { <div class="mt-2"><ErrorNotice error=e/></div> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
