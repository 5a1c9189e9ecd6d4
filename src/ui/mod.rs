//! The pages people see, and the small pieces they share.

pub(crate) mod audit;
pub(crate) mod connected_apps;
pub(crate) mod data;
pub(crate) mod layout;
pub(crate) mod marketplace;
pub(crate) mod provider_webhooks;
pub(crate) mod signin;
pub(crate) mod sources;
pub(crate) mod webhooks;
pub(crate) mod wizard;

use crate::error::ApiError;
use crate::model::ConnectorStatus;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub(crate) fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="mx-auto max-w-lg py-16 text-center">
            <h1 class="text-2xl font-semibold">"This page does not exist"</h1>
            <p class="mt-2 text-slate-600">"The link may be old or mistyped."</p>
            <a class="btn-primary mt-6 inline-flex" href="/">"Go to the marketplace"</a>
        </section>
    }
}

/// An error in words: message, hint, and the code for support.
#[component]
pub(crate) fn ErrorNotice(error: ApiError) -> impl IntoView {
    let hint = error.hint.clone();
    view! {
        <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-red-900">
            <p class="font-medium">{error.message.clone()}</p>
            {hint.map(|h| view! { <p class="mt-1 text-sm text-red-800">{h}</p> })}
            <p class="mt-2 font-mono text-xs text-red-700">{error.code.as_str()}</p>
        </div>
    }
}

/// Shown on pages that need a session when there is none.
#[component]
pub(crate) fn SignInRequired() -> impl IntoView {
    view! {
        <section class="mx-auto max-w-lg rounded-xl border border-slate-200 bg-white p-8 text-center shadow-sm">
            <h1 class="text-xl font-semibold">"Please sign in"</h1>
            <p class="mt-2 text-slate-600">"This page shows your organisation's connectors, so we need to know who you are."</p>
            <a class="btn-primary mt-6 inline-flex" href="/signin">"How to sign in"</a>
        </section>
    }
}

#[component]
pub(crate) fn StatusBadge(status: ConnectorStatus) -> impl IntoView {
    let colours = match status {
        ConnectorStatus::Active => "bg-emerald-100 text-emerald-900 ring-emerald-600/30",
        ConnectorStatus::Pending => "bg-slate-100 text-slate-800 ring-slate-500/30",
        ConnectorStatus::Error => "bg-red-100 text-red-900 ring-red-600/30",
        ConnectorStatus::AuthorizationRequired => "bg-amber-100 text-amber-900 ring-amber-600/30",
    };
    view! {
        <span class=format!("inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset {colours}")
              data-status=status.as_str()>
            {status.label()}
        </span>
    }
}

/// "3 minutes ago" for an RFC 3339 time, relative to `now_ms`. Pure, so server and browser agree.
pub(crate) fn relative_time(rfc3339: &str, now_ms: i64) -> String {
    let Some(then) = parse_rfc3339_ms(rfc3339) else {
        return rfc3339.to_owned();
    };
    let secs = (now_ms - then) / 1000;
    match secs {
        s if s < 0 => "just now".to_owned(),
        0..=44 => "just now".to_owned(),
        45..=89 => "a minute ago".to_owned(),
        s if s < 3600 => format!("{} minutes ago", (s + 30) / 60),
        s if s < 7200 => "an hour ago".to_owned(),
        s if s < 86_400 => format!("{} hours ago", s / 3600),
        s if s < 172_800 => "yesterday".to_owned(),
        s => format!("{} days ago", s / 86_400),
    }
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS(.sss)Z` (the form the server writes).
pub(crate) fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.ends_with('Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if b.get(19) == Some(&b'.') {
        num(20..23).unwrap_or(0)
    } else {
        0
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// "2026-11-24 14:03 UTC" for the title attribute.
pub(crate) fn exact_time(rfc3339: &str) -> String {
    match (rfc3339.get(0..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_servers_timestamps() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-24T04:38:56.123Z"),
            Some(1_795_495_136_123)
        );
        assert_eq!(parse_rfc3339_ms("nonsense"), None);
    }

    #[test]
    fn relative_times_read_naturally() {
        let t = "2026-11-24T04:00:00.000Z";
        let base = parse_rfc3339_ms(t).expect("parses");
        assert_eq!(relative_time(t, base + 10_000), "just now");
        assert_eq!(relative_time(t, base + 5 * 60_000), "5 minutes ago");
        assert_eq!(relative_time(t, base + 3 * 3_600_000), "3 hours ago");
        assert_eq!(relative_time(t, base + 30 * 3_600_000), "yesterday");
        assert_eq!(relative_time(t, base + 5 * 86_400_000), "5 days ago");
    }
}
