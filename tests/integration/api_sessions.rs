//! Who is asking: forged and tampered JWTs refused with 401, the browser's session cookie and the
//! origin check on its writes, and a sign-in that cannot be forced on someone.

use crate::api::stripe;
use crate::support::{expect_error, spawn_app, spawn_app_with};
use serde_json::{json, Value};

#[tokio::test]
async fn jwt_attacks_are_refused_with_401() {
    use base64::Engine;
    let app = spawn_app().await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = connector_hub::auth::now_secs() + 600;
    let sign = |alg: jsonwebtoken::Algorithm, claims: Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    };
    let good_claims = json!({"sub": "u", "tenant_id": "t", "exp": exp});
    let attacks = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "JWT"})),
                b64(good_claims.clone())
            ),
        ),
        (
            "wrong algorithm",
            sign(
                jsonwebtoken::Algorithm::HS384,
                good_claims.clone(),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "bad signature",
            sign(
                jsonwebtoken::Algorithm::HS256,
                good_claims.clone(),
                "not-the-secret-not-the-secret-123",
            ),
        ),
        (
            "expired",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "tenant_id": "t", "exp": exp - 3600}),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "not yet valid",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "tenant_id": "t", "exp": exp, "nbf": exp}),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "no tenant",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "exp": exp}),
                crate::support::JWT_SECRET,
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in attacks {
        let r = app.get("/v1/connectors", &token).await;
        assert_eq!(r.status(), 401, "{name}");
        let e = expect_error(r, 401, "UNAUTHENTICATED").await;
        assert!(e["message"].is_string(), "{name}");
    }
    let none = app
        .http
        .get(app.url("/v1/connectors"))
        .send()
        .await
        .expect("request");
    expect_error(none, 401, "UNAUTHENTICATED").await;
    let control = sign(
        jsonwebtoken::Algorithm::HS256,
        good_claims,
        crate::support::JWT_SECRET,
    );
    assert_eq!(app.get("/v1/connectors", &control).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn browser_session_cookie_flow_and_origin_check() {
    let app = spawn_app().await;
    let token = app.token("acme", "ana");
    let signin = app
        .http
        .get(app.url(&format!("/session?token={token}")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("signin");
    assert!(signin.status().is_redirection());
    assert_eq!(
        signin
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
    let cookie = signin
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();

    let bad = app
        .http
        .get(app.url("/session?token=forged"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("bad signin");
    assert_eq!(
        bad.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/signin?error=invalid")
    );
    assert!(bad.headers().get("set-cookie").is_none());

    // Cookie-authenticated reads work.
    let list = app
        .http
        .get(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200);
    // Cookie-authenticated writes must come from our own origin.
    let body = stripe("x");
    let cross = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .expect("cross");
    expect_error(cross, 403, "FORBIDDEN").await;
    let no_origin = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .json(&body)
        .send()
        .await
        .expect("none");
    expect_error(no_origin, 403, "FORBIDDEN").await;
    let same = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .expect("same");
    assert_eq!(same.status(), 201);

    let logout = app
        .http
        .post(app.url("/session/logout"))
        .header("cookie", &pair)
        .header("origin", &app.base)
        .send()
        .await
        .expect("logout");
    let cleared = logout
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    app.stop().await;
}

/// A sign-in link followed from elsewhere never sets a session on its own (login CSRF): it shows
/// a page that asks, and only a same-origin POST continues. Over https the cookie is `__Host-`.
#[tokio::test]
async fn signing_in_cannot_be_forced_on_someone() {
    let app = spawn_app().await;
    let token = app.token("attacker-tenant", "eve");
    let cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    for site in [Some("cross-site"), Some("same-site"), Some("none"), None] {
        let mut request = app.http.get(app.url(&format!("/session?token={token}")));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let r = request.send().await.expect("link");
        assert_eq!(r.status(), 200, "{site:?}");
        assert!(
            cookies(&r).is_empty(),
            "{site:?} set a session: {:?}",
            cookies(&r)
        );
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            r.headers()
                .get("x-frame-options")
                .and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
        let page = r.text().await.unwrap_or_default();
        assert!(
            page.contains(r#"<form method="post" action="/session""#),
            "{page}"
        );
    }
    // A cross-site form posting the token (the attacker's page) is refused too.
    let r = app
        .http
        .post(app.url("/session"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("cross-site post");
    assert!(cookies(&r).is_empty(), "{:?}", cookies(&r));
    // Continuing from our own page signs in, with the principal cookie for the offline copy.
    let r = app
        .http
        .post(app.url("/session"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("continue");
    assert_eq!(r.status(), 303);
    let set = cookies(&r);
    assert!(
        set.iter()
            .any(|c| c.starts_with("ch_session=") && c.contains("HttpOnly")),
        "{set:?}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("ch_who=") && !c.contains("HttpOnly")),
        "{set:?}"
    );
    // Signing out clears both cookies and the browser's stored copies.
    let r = app
        .http
        .post(app.url("/session/logout"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("logout");
    let set = cookies(&r);
    assert!(set.iter().any(|c| c.starts_with("ch_session=;")), "{set:?}");
    assert!(set.iter().any(|c| c.starts_with("ch_who=;")), "{set:?}");
    assert!(r.headers().get("clear-site-data").is_some());
    app.stop().await;

    let https = spawn_app_with(&[("CONNECTOR_HUB_PUBLIC_URL", "https://hub.example")]).await;
    let token = https.token("acme", "ana");
    let r = https
        .http
        .get(https.url(&format!("/session?token={token}")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("https sign-in");
    let set = cookies(&r);
    let session = set
        .iter()
        .find(|c| c.contains("ch_session="))
        .expect("a session");
    assert!(
        session.starts_with("__Host-ch_session=")
            && session.contains("Secure")
            && session.contains("Path=/"),
        "{session}"
    );
    // Only the __Host- cookie authenticates there: one a sibling domain could plant does not.
    let r = https
        .http
        .get(https.url("/v1/connectors"))
        .header("cookie", format!("ch_session={token}"))
        .send()
        .await
        .expect("plain cookie");
    assert_eq!(r.status(), 401);
    let r = https
        .http
        .get(https.url("/v1/connectors"))
        .header("cookie", format!("__Host-ch_session={token}"))
        .send()
        .await
        .expect("host cookie");
    assert_eq!(r.status(), 200);
    https.stop().await;
}
