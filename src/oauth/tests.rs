//! The OAuth client's unit tests: PKCE, token answers, shop addresses and the scopes asked for.

use super::*;
use crate::catalog::catalog;

fn reply(status: u16, body: serde_json::Value) -> Reply {
    Reply {
        status,
        headers: Default::default(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        truncated: false,
    }
}

fn def(id: &str) -> &'static ConnectorDef {
    catalog().get(id).expect("in the catalog")
}

#[test]
fn pkce_challenge_is_the_s256_of_the_verifier() {
    let pkce = Pkce::new();
    assert!((43..=128).contains(&pkce.verifier.len()));
    // RFC 7636 appendix B's example pair.
    let digest = Sha256::digest(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_ne!(Pkce::new().verifier, pkce.verifier);
}

#[test]
fn token_replies_map_to_tokens_or_precise_errors() {
    let ok = parse_token_reply(
        &reply(200, serde_json::json!({"access_token": "a", "refresh_token": "r", "expires_in": 1800, "token_type": "Bearer"})),
        def("xero"),
    )
    .expect("tokens");
    assert_eq!(ok.access_token.expose(), "a");
    assert!(ok.expires_at.is_some_and(|at| at > now_ms() + 1_700_000));
    let square = parse_token_reply(
        &reply(
            200,
            serde_json::json!({"access_token": "a", "expires_at": "2030-01-01T00:00:00Z"}),
        ),
        def("square"),
    )
    .expect("tokens");
    assert!(square.refresh_token.is_none());
    assert_eq!(square.expires_at, Some(1_893_456_000_000));
    assert!(matches!(
        parse_token_reply(
            &reply(400, serde_json::json!({"error": "invalid_grant"})),
            def("google_drive")
        ),
        Err(TokenError::InvalidGrant)
    ));
    match parse_token_reply(
        &reply(401, serde_json::json!({"error": "invalid_client"})),
        def("hubspot"),
    ) {
        Err(TokenError::Failed(f)) => assert_eq!(f.code, ErrorCode::InvalidCredentials),
        other => panic!("expected a failure, got {other:?}"),
    }
    match parse_token_reply(
        &reply(200, serde_json::json!({"token_type": "Bearer"})),
        def("sage"),
    ) {
        Err(TokenError::Failed(f)) => assert_eq!(f.code, ErrorCode::UnexpectedResponse),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_providers_lifetime_is_bounded_before_arithmetic() {
    for (expires_in, at_most) in [
        (serde_json::json!(i64::MAX), MAX_TOKEN_LIFETIME_SECS),
        (
            serde_json::json!("9223372036854775807"),
            MAX_TOKEN_LIFETIME_SECS,
        ),
        (serde_json::json!(-5), 0),
    ] {
        let tokens = parse_token_reply(
            &reply(
                200,
                serde_json::json!({"access_token": "a", "expires_in": expires_in}),
            ),
            def("xero"),
        )
        .expect("tokens");
        let at = tokens.expires_at.expect("an expiry");
        assert!(
            at <= now_ms() + at_most * 1000 + 1_000,
            "{expires_in}: {at}"
        );
        assert!(at >= now_ms() - 1_000);
    }
}

/// The scopes an authorize URL asks for, for a registered client of `id`.
fn asked(id: &str, operator_scopes: Option<&str>) -> Vec<String> {
    let client = OAuthClient {
        client_id: "client".into(),
        client_secret: SecretString::new("secret"),
        scopes: operator_scopes.map(str::to_owned),
        authorize_url: None,
        token_url: None,
    };
    let oauth = OAuth::new(
        &OAuthSettings {
            clients: BTreeMap::from([(id.to_owned(), client)]),
            refresh_margin: Duration::from_secs(60),
        },
        "https://hub.example",
    );
    let url = oauth
        .authorize_url(def(id), "state", None, Some("acme.myshopify.com"))
        .expect("an authorize URL");
    let scope = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let separator = if id == "shopify" { ',' } else { ' ' };
    scope.split(separator).map(str::to_owned).collect()
}

/// Every stream of every OAuth connector can be read after a sign-in: the sign-in asks for
/// each scope a stream names (HubSpot's companies and deals, Square's customers were once
/// missing), in the provider's notation.
#[test]
fn a_sign_in_asks_for_every_scope_its_streams_need() {
    let oauth_connectors: Vec<&ConnectorDef> = catalog()
        .entries()
        .iter()
        .filter(|d| d.oauth.is_some())
        .collect();
    assert!(oauth_connectors.len() >= 7);
    for def in oauth_connectors {
        let scopes = asked(&def.id, None);
        for stream in &def.streams {
            assert!(
                !stream.scopes.is_empty(),
                "{}/{} names its scopes",
                def.id,
                stream.name
            );
            for scope in &stream.scopes {
                assert!(
                    scopes.contains(scope),
                    "{}'s sign-in does not ask for {scope}, which stream {} needs: {scopes:?}",
                    def.id,
                    stream.name
                );
            }
        }
    }
    let hubspot = asked("hubspot", None);
    for scope in ["crm.objects.companies.read", "crm.objects.deals.read"] {
        assert!(hubspot.contains(&scope.to_owned()), "{hubspot:?}");
    }
    assert!(asked("square", None).contains(&"CUSTOMERS_READ".to_owned()));
    assert_eq!(
        asked("shopify", None),
        ["read_orders", "read_products", "read_customers"]
    );
    // The operator's own list is sent as it is.
    assert_eq!(
        asked("hubspot", Some("crm.objects.contacts.read")),
        ["crm.objects.contacts.read"]
    );
}

#[test]
fn a_shop_address_is_never_built_without_a_shop() {
    let template = "https://{shop}/admin/oauth/authorize";
    for shop in [
        None,
        Some(""),
        Some("evil.example/x"),
        Some("a@evil.example"),
        Some("x:1"),
    ] {
        match OAuth::endpoint(template, shop) {
            Err(f) => {
                assert_eq!(f.code, ErrorCode::InvalidConfig);
                assert_eq!(f.field.as_deref(), Some("shop_domain"));
            }
            Ok((url, _)) => panic!("{shop:?} built {url}"),
        }
    }
    let (url, _) = OAuth::endpoint(template, Some("acme.myshopify.com")).expect("a shop");
    assert_eq!(url.host_str(), Some("acme.myshopify.com"));
}

/// A broader scope the provider granted covers a narrower one a stream names (Google's `drive`
/// for `drive.readonly`, Shopify's `write_orders` for `read_orders`); an unrelated one does not.
#[test]
fn a_broader_grant_covers_a_streams_scope() {
    let drive = def("google_drive");
    let broader = &drive.oauth.as_ref().expect("oauth").broader;
    let files = &drive.streams[0];
    assert!(files
        .missing_scopes("https://www.googleapis.com/auth/drive", broader)
        .is_empty());
    assert_eq!(
        files.missing_scopes("https://www.googleapis.com/auth/drive.file", broader),
        ["https://www.googleapis.com/auth/drive.readonly"]
    );
    let shopify = def("shopify");
    let broader = &shopify.oauth.as_ref().expect("oauth").broader;
    let orders = shopify
        .streams
        .iter()
        .find(|s| s.name == "orders")
        .expect("orders");
    assert!(orders
        .missing_scopes("write_orders,read_products", broader)
        .is_empty());
    assert_eq!(
        orders.missing_scopes("read_products", broader),
        ["read_orders"]
    );
}

/// A provider's `scope` that the kept field could not hold is not believed, rather than left
/// to stop the sign-in.
#[test]
fn a_granted_scope_is_kept_only_as_plain_text() {
    let granted = |scope: serde_json::Value| {
        parse_token_reply(
            &reply(
                200,
                serde_json::json!({"access_token": "a", "scope": scope}),
            ),
            def("hubspot"),
        )
        .expect("tokens")
        .granted
    };
    assert_eq!(
        granted(serde_json::json!("oauth crm.objects.contacts.read")).as_deref(),
        Some("oauth crm.objects.contacts.read")
    );
    assert_eq!(granted(serde_json::json!("x".repeat(5000))), None);
    assert_eq!(granted(serde_json::json!("a\nb")), None);
    assert_eq!(granted(serde_json::json!(["a"])), None);
    assert_eq!(granted(serde_json::json!("")), None);
}
