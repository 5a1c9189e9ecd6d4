//! The token side of the MCP authorization: codes single-use and bound to their verifier and
//! resource, refresh tokens rotated with reuse detection, scopes enforced, and revocation by the
//! person (Connected apps) or the client, holding at once.

use super::*;
use crate::oauth::get_json;

#[tokio::test]
async fn codes_need_the_verifier_and_the_resource_and_a_reused_code_revokes_its_tokens() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let client = client_id(&app, "Agent").await;
    let resource = app.url("/mcp");

    let (verifier, challenge) = pkce("v1");
    let first = code(&app, &cookie, &client, &challenge, "mcp:read").await;
    // Missing or wrong resource, missing verifier: refused, the code not spent.
    for (fields, error) in [
        (vec![("resource", None)], "invalid_target"),
        (vec![("resource", Some(app.url("/v1")))], "invalid_target"),
        (vec![("code_verifier", None)], "invalid_request"),
        (
            vec![("grant_type", Some("password".to_owned()))],
            "unsupported_grant_type",
        ),
        (
            vec![("client_id", Some("mcpc_nobody".to_owned()))],
            "invalid_client",
        ),
    ] {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", client.clone()),
            ("code", first.clone()),
            ("code_verifier", verifier.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("resource", resource.clone()),
        ];
        for (name, value) in &fields {
            form.retain(|(k, _)| k != name);
            if let Some(v) = value {
                form.push((name, v.clone()));
            }
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = token(&app, &form).await;
        assert!(status == 400 || status == 401, "{fields:?}: {status}");
        assert_eq!(body["error"], error, "{fields:?}: {body}");
    }
    // A wrong verifier: invalid_grant.
    let (wrong, _) = pkce("other");
    let (status, body) = exchange(&app, &client, &first, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // A good exchange, then the same code again: refused, and the tokens it bought revoked.
    let (verifier, challenge) = pkce("v2");
    let second = code(&app, &cookie, &client, &challenge, "mcp:read").await;
    let (status, issued) = exchange(&app, &client, &second, &verifier).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    let access = issued["access_token"].as_str().expect("access");
    assert_eq!(rpc(&app, access, "tools/list", json!({})).await.0, 200);
    let (status, body) = exchange(&app, &client, &second, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(rpc(&app, access, "tools/list", json!({})).await.0, 401);
    let (status, _) = refresh(&app, &client, issued["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(status, 400);
    let audit: Value = get_json(&app, "/v1/audit?action=agent_token_reuse", &hub).await;
    assert_eq!(
        audit["entries"].as_array().expect("entries").len(),
        1,
        "{audit}"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let (client, first) = tokens(&app, &cookie, "mcp:read").await;
    let r1 = first["refresh_token"].as_str().expect("rt");

    let (status, second) = refresh(&app, &client, r1).await;
    assert_eq!(status, 200, "{second}");
    let (a2, r2) = (
        second["access_token"].as_str().expect("at"),
        second["refresh_token"].as_str().expect("rt"),
    );
    assert_ne!(r1, r2, "rotated");
    assert_eq!(second["scope"], "mcp:read");
    assert_eq!(rpc(&app, a2, "tools/list", json!({})).await.0, 200);
    // Another client cannot use it.
    let stranger = client_id(&app, "Stranger").await;
    assert_eq!(
        refresh(&app, &stranger, r2).await.1["error"],
        "invalid_grant"
    );
    assert_eq!(
        rpc(&app, a2, "tools/list", json!({})).await.0,
        200,
        "and did not spend it"
    );

    // The rotated-away token again: the whole family goes, the newest access token with it.
    let (status, body) = refresh(&app, &client, r1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(rpc(&app, a2, "tools/list", json!({})).await.0, 401);
    assert_eq!(refresh(&app, &client, r2).await.0, 400);
    let page: Value = server_fn(&app, &cookie, "list_connected_apps", &[])
        .await
        .json()
        .await
        .expect("json");
    assert!(page["apps"].as_array().expect("apps").is_empty(), "{page}");
}

#[tokio::test]
async fn a_read_only_token_reads_but_cannot_write() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let id = app
        .create(&hub, json!({"connector_type": "stripe", "display_name": "Payments", "config": {"api_key": "sk_test_good_oa2"}}))
        .await;
    let cookie = app.session_cookie(&hub).await;
    let (_, read_only) = tokens(&app, &cookie, "mcp:read").await;
    let at = read_only["access_token"].as_str().expect("at");
    let listed = tool(&app, at, "list_connectors", json!({})).await;
    assert_eq!(listed["isError"], false, "{listed}");
    let get = tool(
        &app,
        at,
        "call_api",
        json!({"connector_id": id, "method": "GET", "path": "/v1/customers"}),
    )
    .await;
    assert_eq!(get["isError"], false, "{get}");
    for (name, arguments) in [
        (
            "call_api",
            json!({"connector_id": id, "method": "POST", "path": "/v1/customers", "body": {"email": "x@y.test"}}),
        ),
        ("sync_now", json!({"connector_id": id})),
    ] {
        // The MCP specification's scope challenge, before the tool is reached.
        let r = app
            .http
            .post(app.url("/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .bearer_auth(at)
            .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}))
            .send()
            .await
            .expect("mcp");
        assert_eq!(r.status(), 403, "{name}");
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .expect("header")
            .to_owned();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#)
                && challenge.contains(r#"scope="mcp:write""#)
                && challenge.contains("resource_metadata="),
            "{challenge}"
        );
    }
    // With mcp:write the same sync is taken.
    let (_, writer) = tokens(&app, &cookie, "mcp:read mcp:write").await;
    let synced = tool(
        &app,
        writer["access_token"].as_str().expect("at"),
        "sync_now",
        json!({"connector_id": id}),
    )
    .await;
    assert_eq!(synced["isError"], false, "{synced}");
}

#[tokio::test]
async fn revoking_from_connected_apps_stops_the_tokens_at_once_and_only_its_person_can() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let (client, issued) = tokens(&app, &cookie, "mcp:read").await;
    let at = issued["access_token"].as_str().expect("at");
    assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 200);

    let mine: Value = server_fn(&app, &cookie, "list_connected_apps", &[])
        .await
        .json()
        .await
        .expect("json");
    let apps = mine["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 1, "{mine}");
    assert_eq!(apps[0]["client_name"], "Test agent");
    assert_eq!(apps[0]["redirect_host"], "127.0.0.1");
    assert!(
        apps[0]["last_used_at"].is_string(),
        "use is recorded: {mine}"
    );
    let grant = apps[0]["grant_id"].as_str().expect("grant").to_owned();
    assert!(!mine.to_string().contains(at));

    // Another tenant's user (and another user of the same tenant) sees none of it and cannot
    // revoke it.
    for (tenant, user) in [("globex", "gus@globex.test"), ("acme", "bob@acme.test")] {
        let theirs = app.session_cookie(&app.token(tenant, user)).await;
        let seen: Value = server_fn(&app, &theirs, "list_connected_apps", &[])
            .await
            .json()
            .await
            .expect("json");
        assert!(seen["apps"].as_array().expect("apps").is_empty(), "{seen}");
        let refused = server_fn(
            &app,
            &theirs,
            "revoke_connected_app",
            &[("grant_id", &grant)],
        )
        .await;
        assert_eq!(refused.status(), 404, "{tenant}/{user}");
        assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 200);
    }

    let revoked = server_fn(
        &app,
        &cookie,
        "revoke_connected_app",
        &[("grant_id", &grant)],
    )
    .await;
    assert!(revoked.status().is_success(), "{:?}", revoked.text().await);
    assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 401);
    assert_eq!(
        refresh(&app, &client, issued["refresh_token"].as_str().expect("rt"))
            .await
            .0,
        400
    );
    let audit: Value = get_json(&app, "/v1/audit?action=agent_revoke", &hub).await;
    assert_eq!(
        audit["entries"].as_array().expect("entries").len(),
        1,
        "{audit}"
    );
}

#[tokio::test]
async fn a_client_revokes_its_own_token() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let (client, issued) = tokens(&app, &cookie, "mcp:read").await;
    let at = issued["access_token"].as_str().expect("at");
    let revoke = |client: String, token: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/oauth/revoke"))
                .header("origin", "https://agent.example")
                .form(&[("token", token.as_str()), ("client_id", client.as_str())])
                .send()
                .await
                .expect("revoke")
                .status()
                .as_u16()
        }
    };
    // Another client's revocation of it does nothing.
    let stranger = client_id(&app, "Stranger").await;
    assert_eq!(
        revoke(
            stranger,
            issued["refresh_token"].as_str().expect("rt").to_owned()
        )
        .await,
        200
    );
    assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 200);
    assert_eq!(
        revoke(
            client.clone(),
            issued["refresh_token"].as_str().expect("rt").to_owned()
        )
        .await,
        200
    );
    assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 401);
    assert_eq!(revoke(client, "not-a-token".to_owned()).await, 200);
}

/// The Revoke button without JavaScript: a plain form post to the server function, answered
/// with a redirect back to the page, and the app gone.
#[tokio::test]
async fn the_revoke_button_works_without_javascript() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let (_, issued) = tokens(&app, &cookie, "mcp:read").await;
    let at = issued["access_token"].as_str().expect("at");
    let page = app
        .http
        .get(app.url("/apps"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("apps")
        .text()
        .await
        .expect("page");
    let marker = r#"name="grant_id" value=""#;
    let start = page.find(marker).expect("a revoke form") + marker.len();
    let grant = &page[start..start + page[start..].find('"').expect("end")];
    let posted = app
        .http
        .post(app.url("/api/revoke_connected_app"))
        .header("cookie", &cookie)
        .header("origin", &app.base)
        .header("referer", app.url("/apps"))
        .header("accept", "text/html")
        .form(&[("grant_id", grant)])
        .send()
        .await
        .expect("revoke");
    assert!(posted.status().is_redirection(), "{}", posted.status());
    assert_eq!(rpc(&app, at, "tools/list", json!({})).await.0, 401);
    let after = app
        .http
        .get(app.url("/apps"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("apps")
        .text()
        .await
        .expect("page");
    assert!(after.contains("no-apps"), "{after}");
}
