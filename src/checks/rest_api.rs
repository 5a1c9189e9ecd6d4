//! Any REST API: `GET {base_url}{test_path}` with the authentication the tenant chose. The
//! destination is the tenant's, so the egress policy applies.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let base = ctx.field("base_url")?.trim_end_matches('/');
    let path = ctx.config.get("test_path").unwrap_or("/");
    let mut url = Url::parse(&format!("{base}{path}"))
        .map_err(|_| Error::invalid_config("base_url", "The base URL is not a valid address."))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid_config(
            "base_url",
            "The base URL must start with https://.",
        ));
    }
    let auth_type = ctx.config.get("auth_type").unwrap_or("none");
    let mut probe_headers = None;
    let mut bearer = None;
    let mut basic = None;
    match auth_type {
        "none" => {}
        "api_key_header" => {
            probe_headers = Some((
                ctx.field("header_name")?.to_owned(),
                ctx.field("api_key")?.to_owned(),
            ))
        }
        "api_key_query" => {
            let (name, key) = (ctx.field("header_name")?, ctx.field("api_key")?);
            url.query_pairs_mut().append_pair(name, key);
        }
        "bearer" => bearer = Some(ctx.field("api_key")?.to_owned()),
        "basic" => {
            basic = Some((
                ctx.field("username")?.to_owned(),
                ctx.field("password")?.to_owned(),
            ))
        }
        _ => {
            return Err(Error::invalid_config(
                "auth_type",
                "Unknown authentication type.",
            ))
        }
    }
    let mut probe = Probe::get(url, Destination::Tenant);
    probe.custom_headers.extend(probe_headers);
    probe.bearer = bearer;
    probe.basic = basic;
    probe.url_field = Some("base_url");
    let reply = ctx.http.send(probe).await?;
    if !(200..300).contains(&reply.status) {
        let credential = match auth_type {
            "basic" => "password",
            "none" => "auth_type",
            _ => "api_key",
        };
        let mut failure = status_failure(&reply, "The API", credential);
        if reply.status == 404 {
            failure = failure.with_field("test_path");
        }
        return Err(failure);
    }
    let content_type = reply
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
    // A web page where data was expected (a login page, a wrong path on a website) is not an API
    // that works: nothing could ever read records from it.
    if is_web_page(content_type.as_deref(), &reply.body) {
        return Err(Error::new(
            ErrorCode::UnexpectedResponse,
            "The address answered with a web page (HTML), not data: the base URL or test path probably leads to a website or a login page.",
        )
        .with_field("test_path"));
    }
    Ok(details([
        ("http_status", Some(reply.status.to_string())),
        ("content_type", content_type),
    ]))
}

/// Whether an answer is an HTML page: by its declared type, or, undeclared, by how it starts.
fn is_web_page(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type.map(str::to_ascii_lowercase).as_deref() {
        Some("text/html" | "application/xhtml+xml") => true,
        Some(_) => false,
        None => {
            let start = body.trim_ascii_start();
            let begins = |prefix: &[u8]| {
                start
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            };
            begins(b"<!doctype html") || begins(b"<html")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_web_page;

    #[test]
    fn web_pages_are_told_from_data() {
        assert!(is_web_page(Some("text/html"), b"{}"));
        assert!(is_web_page(Some("TEXT/HTML"), b""));
        assert!(is_web_page(None, b"  <!DOCTYPE html><html>"));
        assert!(is_web_page(None, b"<html><body>"));
        assert!(!is_web_page(Some("application/json"), b"<html>"));
        assert!(!is_web_page(Some("text/csv"), b"a,b"));
        assert!(!is_web_page(None, b"{\"ok\": true}"));
    }
}
