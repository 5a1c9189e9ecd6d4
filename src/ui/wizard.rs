//! The chat-style setup wizard (`/connect/{type}`): intro → how this auth works → one field per
//! turn → automatic test → success. Every step is a form post to the `advance_wizard` server
//! function, enhanced by `ActionForm` when JavaScript runs.

use crate::api::wizard::{load_wizard, AdvanceWizard};
use crate::catalog::FieldKind;
use crate::error::{ApiError, ErrorCode};
use crate::model::wizard::{ShownAnswer, WizardAction, WizardStep, WizardView};
use crate::model::SyncFrequency;
use crate::ui::{ErrorNotice, SignInRequired};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub(crate) fn Wizard() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let q = query.read();
        (
            params.read().get("connector_type").unwrap_or_default(),
            q.get("draft").filter(|d| !d.is_empty()),
            q.get("replace").filter(|r| !r.is_empty()),
            q.get("at"),
        )
    };
    let wizard = Resource::new(key, |(t, draft, replace, _)| load_wizard(t, draft, replace));
    let step = ServerAction::<AdvanceWizard>::new();

    view! {
        <Transition fallback=|| view! { <p class="text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match wizard.await {
                    Ok(v) => view! { <Conversation v step/> }.into_any(),
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <SignInRequired/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The hidden fields every step form carries.
#[component]
fn StepForm(v: WizardView, step: ServerAction<AdvanceWizard>, children: Children) -> impl IntoView {
    view! {
        <ActionForm action=step attr:class="contents">
            <input type="hidden" name="connector_type" value=v.def.id.clone()/>
            {v.draft_id.clone().map(|d| view! { <input type="hidden" name="draft" value=d/> })}
            {v.replace.clone().map(|r| view! { <input type="hidden" name="replace" value=r/> })}
            {children()}
        </ActionForm>
    }
}

#[component]
fn Bubble(#[prop(optional)] user: bool, children: Children) -> impl IntoView {
    let (row, bubble) = if user {
        (
            "flex justify-end",
            "max-w-[85%] rounded-2xl rounded-br-sm bg-indigo-700 px-4 py-3 text-white shadow-sm",
        )
    } else {
        ("flex justify-start", "max-w-[85%] rounded-2xl rounded-bl-sm border border-slate-200 bg-white px-4 py-3 text-slate-800 shadow-sm")
    };
    view! {
        <li class=row data-from=if user { "user" } else { "assistant" }>
            <div class=bubble>{children()}</div>
        </li>
    }
}

fn step_number(step: WizardStep) -> usize {
    match step {
        WizardStep::Intro => 1,
        WizardStep::Auth => 2,
        WizardStep::Field | WizardStep::Authorize | WizardStep::Choose => 3,
        WizardStep::Name | WizardStep::Test => 4,
        WizardStep::Done => 5,
    }
}

#[component]
fn Conversation(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let name = v.def.name.clone();
    let replacing = v.replace.is_some();
    let title = if replacing {
        format!("Replace {name} credentials")
    } else {
        format!("Connect {name}")
    };
    let s = v.step;
    let past_intro = s != WizardStep::Intro;
    let past_auth = !matches!(s, WizardStep::Intro | WizardStep::Auth);
    let oauth = v.mode == crate::catalog::AuthMode::OAuth;
    let chose_reply = if oauth {
        format!("Connect with {name}")
    } else if v.def.oauth {
        "I'll paste a token".to_owned()
    } else {
        "I have it ready".to_owned()
    };
    let signed_in = v
        .signed_in
        .clone()
        .filter(|_| !matches!(s, WizardStep::Authorize));
    let signed_in_line = format!("You are signed in with {name}.");
    let answered = v.answered.clone();
    let testing_label = v.def.check_label.clone();
    let intro = format!("Let's connect {}. {}", v.def.name, v.def.description);
    let needs = if v.def.oauth && v.oauth_available {
        format!(
            "You will need: your {} sign-in (or, instead, {}).",
            v.def.name,
            v.def.needs.to_ascii_lowercase()
        )
    } else {
        format!("You will need: {}.", v.def.needs)
    };
    let pending_test = move || {
        step.pending().get()
            && step.input().with(|i| {
                i.as_ref().is_some_and(|i| {
                    [WizardAction::Name, WizardAction::Retry]
                        .iter()
                        .any(|a| i.action == a.value())
                })
            })
    };
    let action_error = move || step.value().get().and_then(|r| r.err());

    view! {
        <Title text=title.clone()/>
        <div class="mx-auto max-w-2xl" data-testid="wizard" data-revision=v.revision.to_string()>
            <nav aria-label="Breadcrumb" class="text-sm text-slate-600"><a href="/" class="underline">"Marketplace"</a>" / "{name.clone()}</nav>
            <div class="mt-2 flex items-baseline justify-between gap-4">
                <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
                <p class="shrink-0 text-sm text-slate-600" data-testid="step">{format!("Step {} of 5", step_number(s))}</p>
            </div>
            <div class="mt-2 h-1.5 w-full rounded-full bg-slate-200" aria-hidden="true">
                <div class="h-1.5 rounded-full bg-indigo-600 transition-all" style=format!("width: {}%", step_number(s) * 20)></div>
            </div>

            <ol class="mt-6 flex flex-col gap-3" aria-label="Setup conversation" aria-live="polite">
                <Bubble>
                    <p>{intro}</p>
                    <p class="mt-2 text-sm text-slate-600">{needs}</p>
                    <p class="mt-2 text-sm text-slate-600">"Everything you type is encrypted before it is stored, and never shown again."</p>
                </Bubble>
                {past_intro.then(|| view! {
                    <Bubble user=true><p>"Let's start"</p></Bubble>
                    <AuthExplained v=v.clone()/>
                })}
                {past_auth.then(|| view! { <Bubble user=true><p>{chose_reply}</p></Bubble> })}
                {answered.into_iter().map(|a| view! { <AnsweredTurn a v=v.clone() step/> }).collect_view()}
                {signed_in.map(|chosen| view! {
                    <Bubble><p>{signed_in_line}</p></Bubble>
                    <li class="flex justify-end" data-from="user" data-testid="signed-in">
                        <div class="max-w-[85%] rounded-2xl rounded-br-sm bg-indigo-700 px-4 py-3 text-white shadow-sm">
                            {if chosen.is_empty() { "✓ Access approved".to_owned() } else { format!("✓ {chosen}") }}
                        </div>
                    </li>
                })}
                {(matches!(s, WizardStep::Test | WizardStep::Done) && v.result.is_some()).then(|| view! { <ResultTurn v=v.clone()/> })}
            </ol>

            <Show when=pending_test>
                <div class="mt-3"><Progress name=name.clone() label=testing_label.clone()/></div>
            </Show>
            {move || action_error().map(|e| view! { <div class="mt-3"><ErrorNotice error=e/></div> })}

            <div class="mt-4">
                {match s {
                    WizardStep::Intro => view! { <IntroPrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Auth => view! { <AuthPrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Field => view! { <FieldPrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Authorize => view! { <AuthorizePrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Choose => view! { <ChoosePrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Name => view! { <NamePrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Test => view! { <TestPrompt v=v.clone() step/> }.into_any(),
                    WizardStep::Done => view! { <DonePrompt v=v.clone()/> }.into_any(),
                }}
            </div>
        </div>
    }
}

#[component]
fn AuthExplained(v: WizardView) -> impl IntoView {
    let how = match v.def.auth {
        crate::catalog::AuthKind::OAuth2 => "This connector uses OAuth 2.0: the provider issues an access token that lets us read on your behalf, without your password.",
        crate::catalog::AuthKind::ApiKey => "This connector uses an API key: a long secret string from the provider's dashboard that works like a password for programs.",
        crate::catalog::AuthKind::Basic => "This connector uses a user name and password for a dedicated, read-only account.",
        crate::catalog::AuthKind::Custom => "You choose how this API is authenticated.",
    };
    view! {
        <Bubble>
            <p>{how}</p>
            <p class="mt-2">{v.def.auth_help.clone()}</p>
            <p class="mt-2"><a href=v.def.docs_url.clone() target="_blank" rel="noopener noreferrer" class="text-indigo-700 underline">
                {format!("Where do I find it? ({} docs)", v.def.name)}
            </a></p>
        </Bubble>
    }
}

#[component]
fn AnsweredTurn(a: ShownAnswer, v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let edit_label = format!("Change {}", a.label.to_ascii_lowercase());
    let edit_value = WizardAction::Edit(a.field.clone()).value();
    let done = v.step == WizardStep::Done;
    view! {
        <Bubble><p>{a.question.clone()}</p></Bubble>
        <li class="flex items-center justify-end gap-2" data-from="user" data-field=a.field.clone()>
            {(!done).then(|| view! {
                <StepForm v=v.clone() step>
                    <button type="submit" name="action" value=edit_value.clone() class="text-sm text-indigo-700 underline" aria-label=edit_label.clone()>
                        "Change"
                    </button>
                </StepForm>
            })}
            <div class="max-w-[85%] rounded-2xl rounded-br-sm bg-indigo-700 px-4 py-3 font-mono text-sm text-white shadow-sm break-all">{a.shown.clone()}</div>
        </li>
    }
}

#[component]
fn ResultTurn(v: WizardView) -> impl IntoView {
    let Some(r) = v.result.clone() else {
        return ().into_any();
    };
    if r.success {
        return view! {
            <Bubble>
                <p class="font-medium text-emerald-800">{format!("✓ Connected to {} in {} ms.", v.def.name, r.duration_ms)}</p>
            </Bubble>
        }
        .into_any();
    }
    view! {
        <Bubble>
            <div role="alert">
                <p class="font-medium text-red-800">{r.message.clone()}</p>
                {r.hint.clone().map(|h| view! { <p class="mt-1 text-sm text-slate-700">{h}</p> })}
                <p class="mt-1 font-mono text-xs text-slate-500">{r.error_code.map(|c| c.as_str()).unwrap_or_default()}</p>
            </div>
        </Bubble>
    }
    .into_any()
}

#[component]
fn Progress(name: String, label: String) -> impl IntoView {
    let elapsed = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || elapsed.update(|e| *e += 1),
            std::time::Duration::from_secs(1),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    }
    view! {
        <div role="status" class="flex items-center gap-3 rounded-2xl border border-indigo-200 bg-indigo-50 px-4 py-3 text-indigo-900" data-testid="progress">
            <span class="h-4 w-4 animate-spin rounded-full border-2 border-indigo-300 border-t-indigo-700" aria-hidden="true"></span>
            <span>
                {move || if elapsed.get() < 1 { format!("Connecting to {name}…") } else { format!("{label}…") }}
                <span class="ml-2 text-sm text-indigo-700">{move || format!("{} s", elapsed.get())}</span>
            </span>
        </div>
    }
}

#[component]
fn StepError(error: Option<ApiError>) -> impl IntoView {
    error.map(|e| {
        view! {
            <div role="alert" class="mb-3 rounded-2xl rounded-bl-sm border border-red-200 bg-red-50 px-4 py-3 text-red-900" data-testid="step-error">
                <p class="font-medium">{e.message.clone()}</p>
                {e.hint.clone().map(|h| view! { <p class="mt-1 text-sm">{h}</p> })}
                <p class="mt-1 font-mono text-xs text-red-700">{e.code.as_str()}</p>
            </div>
        }
    })
}

const PANEL: &str =
    "flex flex-col gap-3 rounded-2xl border border-slate-200 bg-white p-4 shadow-sm";

#[component]
fn IntroPrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    view! {
        <StepError error=v.error.clone()/>
        <StepForm v=v.clone() step>
            <div class="flex justify-end">
                <button type="submit" name="action" value=WizardAction::Start.value() class="btn-primary">"Let's start"</button>
            </div>
        </StepForm>
    }
}

#[component]
fn AuthPrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let name = v.def.name.clone();
    let oauth = v.def.oauth;
    let sign_in = oauth && v.oauth_available;
    let unavailable = (oauth && !v.oauth_available).then(|| {
        let env_name = format!("CONNECTOR_HUB_OAUTH_{}_CLIENT_ID", v.def.id.to_ascii_uppercase());
        format!("Signing in with {name} is not set up on this server (its operator registers an OAuth app and sets {env_name} and the matching secret), so paste a token instead.")
    });
    let paste = match (sign_in, oauth) {
        (true, _) => "Paste a token instead",
        (false, true) => "I have a token",
        (false, false) => "I have it ready",
    };
    view! {
        <StepError error=v.error.clone()/>
        {unavailable.map(|note| view! {
            <ol class="mb-3 flex flex-col gap-3"><Bubble><p data-testid="oauth-unavailable">{note}</p></Bubble></ol>
        })}
        <StepForm v=v.clone() step>
            <div class="flex flex-wrap justify-between gap-3">
                <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
                <div class="flex flex-wrap gap-3">
                    <button type="submit" name="action" value=WizardAction::EnterByHand.value() class=if sign_in { "btn-secondary" } else { "btn-primary" }>{paste}</button>
                    {sign_in.then(|| view! {
                        <button type="submit" name="action" value=WizardAction::SignIn.value() class="btn-primary">{format!("Connect with {name}")}</button>
                    })}
                </div>
            </div>
        </StepForm>
    }
}

/// Off to the provider's consent page. A plain form post (not a server function): the answer is
/// a redirect to another site, which the browser must follow itself.
#[component]
fn AuthorizePrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let name = v.def.name.clone();
    let explain = format!("Next, {name} asks you to sign in and approve read access. You will come straight back here; we never see your {name} password.");
    view! {
        <ol class="mb-3 flex flex-col gap-3"><Bubble>
            <p>{explain}</p>
        </Bubble></ol>
        <StepError error=v.error.clone()/>
        <div class="flex flex-wrap justify-between gap-3">
            <StepForm v=v.clone() step>
                <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
            </StepForm>
            <div class="flex flex-wrap gap-3">
                <StepForm v=v.clone() step>
                    <button type="submit" name="action" value=WizardAction::EnterByHand.value() class="btn-secondary">"Paste a token instead"</button>
                </StepForm>
                <form method="post" action="/oauth/start" class="contents">
                    <input type="hidden" name="connector_type" value=v.def.id.clone()/>
                    <input type="hidden" name="draft" value=v.draft_id.clone().unwrap_or_default()/>
                    <button type="submit" class="btn-primary" data-testid="oauth-continue">{format!("Continue to {name}")}</button>
                </form>
            </div>
        </div>
    }
}

#[component]
fn ChoosePrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let what = v
        .def
        .choice_called
        .clone()
        .unwrap_or_else(|| "account".into());
    let first = v.choices.first().map(|(id, _)| id.clone());
    let question = format!(
        "Your sign-in can reach {} of them. Which {what} should we connect?",
        v.choices.len()
    );
    view! {
        <ol class="mb-3 flex flex-col gap-3"><Bubble>
            <p>{question}</p>
        </Bubble></ol>
        <StepError error=v.error.clone()/>
        <StepForm v=v.clone() step>
            <fieldset class=PANEL>
                <legend class="sr-only">{format!("Choose the {what}")}</legend>
                {v.choices.iter().map(|(id, label)| {
                    let checked = first.as_deref() == Some(id.as_str());
                    view! {
                        <label class="flex items-center gap-3 rounded-lg border border-slate-200 px-3 py-2 hover:bg-slate-50">
                            <input type="radio" name="value" value=id.clone() checked=checked/>
                            <span>{label.clone()}</span>
                        </label>
                    }
                }).collect_view()}
                <div class="flex justify-between gap-3">
                    <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
                    <button type="submit" name="action" value=WizardAction::Pick.value() class="btn-primary">"Continue"</button>
                </div>
            </fieldset>
        </StepForm>
    }
}

/// Checks a value against the catalog pattern in the browser (JavaScript RegExp); the server
/// checks again on submit.
fn pattern_ok(pattern: &str, value: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        js_sys::RegExp::new(pattern, "u").test(value)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (pattern, value);
        true
    }
}

#[component]
fn FieldPrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let Some(field) = v.field.clone() else {
        return ().into_any();
    };
    let input_id = format!("field-{}", field.name);
    let help_id = format!("help-{}", field.name);
    let error_id = format!("error-{}", field.name);
    let server_error = v
        .error
        .clone()
        .filter(|e| e.field.as_deref() == Some(field.name.as_str()) || e.field.is_none());
    let has_error = server_error.is_some();
    let local_error = RwSignal::new(None::<String>);
    let revealed = RwSignal::new(false);
    let question = format!("What is your {}?", field.label.to_ascii_lowercase());
    let keep_hint = v.has_secret_answer;
    let example = field.example.clone().map(|e| format!("For example: {e}"));

    let input = {
        let field = field.clone();
        let pattern = field.pattern.clone();
        let on_input = move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            let ok = value.is_empty()
                || pattern
                    .as_deref()
                    .is_none_or(|p| pattern_ok(p, value.trim()));
            local_error.set((!ok).then(|| {
                "That does not look right yet — check it against the example.".to_owned()
            }));
        };
        match field.kind {
            FieldKind::Select => view! {
                <select id=input_id.clone() name="value" class="input" aria-describedby=help_id.clone()>
                    {field.options.iter().map(|o| {
                        let selected = v.prefill.as_deref() == Some(o.as_str());
                        view! { <option value=o.clone() selected=selected>{o.clone()}</option> }
                    }).collect_view()}
                </select>
            }.into_any(),
            _ if field.secret => view! {
                <div class="flex gap-2">
                    <input id=input_id.clone() name="value" class="input font-mono" autocomplete="off" spellcheck="false"
                           type=move || if revealed.get() { "text" } else { "password" }
                           placeholder=if keep_hint { "Leave empty to keep what you entered" } else { "" }
                           aria-describedby=format!("{help_id} {error_id}") aria-invalid=move || (has_error || local_error.get().is_some()).to_string()
                           on:input=on_input autofocus=true/>
                    <button type="button" class="btn-secondary shrink-0" aria-controls=input_id.clone()
                            aria-pressed=move || revealed.get().to_string() on:click=move |_| revealed.update(|r| *r = !*r)>
                        {move || if revealed.get() { "Hide" } else { "Show" }}
                    </button>
                </div>
            }.into_any(),
            kind => view! {
                <input id=input_id.clone() name="value" class="input" autocomplete="off" spellcheck="false"
                       type=if kind == FieldKind::Url { "url" } else { "text" }
                       inputmode=if kind == FieldKind::Number { "numeric" } else { "text" }
                       value=v.prefill.clone().unwrap_or_default()
                       aria-describedby=format!("{help_id} {error_id}") aria-invalid=move || (has_error || local_error.get().is_some()).to_string()
                       on:input=on_input autofocus=true/>
            }.into_any(),
        }
    };

    view! {
        <ol class="mb-3 flex flex-col gap-3"><Bubble><p>{question}</p></Bubble></ol>
        <StepError error=server_error/>
        <StepForm v=v.clone() step>
            <div class=PANEL>
                <label for=input_id.clone() class="text-sm font-medium text-slate-800">{field.label.clone()}
                    {(!field.required).then(|| view! { <span class="font-normal text-slate-500">" (optional)"</span> })}
                </label>
                {input}
                <p id=help_id class="text-sm text-slate-600">{field.help.clone()}" "{example}</p>
                <p id=error_id class="text-sm text-red-700" aria-live="polite">{move || local_error.get()}</p>
                <div class="flex justify-between gap-3">
                    <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
                    <button type="submit" name="action" value=WizardAction::Answer.value() class="btn-primary">"Continue"</button>
                </div>
            </div>
        </StepForm>
    }
    .into_any()
}

#[component]
fn NamePrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    let error = v.error.clone();
    view! {
        <ol class="mb-3 flex flex-col gap-3"><Bubble><p>"Last thing: what should we call this connection, and how often should it sync?"</p></Bubble></ol>
        <StepError error/>
        <StepForm v=v.clone() step>
            <div class=PANEL>
                <label class="flex flex-col gap-1 text-sm font-medium text-slate-800">"Name"
                    <input name="display_name" class="input" value=v.display_name.clone() maxlength="100" required=true/>
                </label>
                <label class="flex flex-col gap-1 text-sm font-medium text-slate-800">"Sync"
                    <select name="sync_frequency" class="input">
                        {SyncFrequency::ALL.into_iter().map(|f| view! {
                            <option value=f.as_str() selected=f == v.sync_frequency>{f.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <div class="flex justify-between gap-3">
                    <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
                    <button type="submit" name="action" value=WizardAction::Name.value() class="btn-primary">"Test and save"</button>
                </div>
            </div>
        </StepForm>
    }
}

#[component]
fn TestPrompt(v: WizardView, step: ServerAction<AdvanceWizard>) -> impl IntoView {
    view! {
        <StepForm v=v.clone() step>
            <div class="flex flex-wrap justify-between gap-3">
                <button type="submit" name="action" value=WizardAction::Back.value() class="btn-secondary">"Back"</button>
                <div class="flex gap-3">
                    <button type="submit" name="action" value=WizardAction::SaveAnyway.value() class="btn-secondary">"Save anyway"</button>
                    <button type="submit" name="action" value=WizardAction::Retry.value() class="btn-primary">"Retry the test"</button>
                </div>
            </div>
        </StepForm>
    }
}

#[component]
fn DonePrompt(v: WizardView) -> impl IntoView {
    let details = v
        .result
        .as_ref()
        .filter(|r| r.success)
        .map(|r| r.details.clone())
        .unwrap_or_default();
    let tested = v.result.as_ref().is_some_and(|r| r.success);
    let saved = v.saved_connector.clone();
    let data_href = saved.as_ref().map(|id| format!("/sources/{id}/data"));
    let preview = saved.filter(|_| tested);
    view! {
        <section class="rounded-2xl border border-emerald-200 bg-emerald-50 p-5 text-emerald-950" role="status" data-testid="wizard-done">
            <h2 class="text-lg font-semibold">{if tested { "You're connected" } else { "Saved without a successful test" }}</h2>
            <p class="mt-1">{format!("“{}” is saved. Its credentials are encrypted and will not be shown again.", v.display_name)}</p>
            {(!details.is_empty()).then(|| view! {
                <dl class="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                    {details.into_iter().map(|(k, val)| view! {
                        <dt class="text-emerald-800">{k.replace('_', " ")}</dt><dd class="font-medium">{val}</dd>
                    }).collect_view()}
                </dl>
            })}
            <p class="mt-3 text-sm">"Next: we will sync on the schedule you chose. You can re-test, rename or replace the credentials at any time."</p>
            <div class="mt-4 flex flex-wrap gap-3">
                {data_href.map(|href| view! { <a href=href class="btn-primary" data-testid="see-data">"See its data"</a> })}
                <a href="/sources" class="btn-secondary">"See connected sources"</a>
                <a href="/" class="btn-secondary">"Connect another source"</a>
            </div>
        </section>
        {preview.map(|connector_id| view! { <crate::ui::data::PreviewPanel connector_id/> })}
    }
}
