//! The few plain HTML pages the server writes without the app (sign-in confirmation, an API
//! answer): text escaped for HTML, and the page around it.

/// `s` safe inside HTML text and double-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A whole plain page: `title` (escaped here) and `main`, the markup of its `<main>` element
/// (escaped by the caller), under the app's stylesheet.
pub(crate) fn page(title: &str, main: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Connector Hub</title><link rel="stylesheet" href="/pkg/connector-hub.css"></head>
<body class="bg-slate-50 text-slate-900">{main}</body></html>"#,
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_does_not_survive() {
        assert_eq!(
            super::escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
