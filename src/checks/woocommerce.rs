//! WooCommerce: `GET {store}/wp-json/wc/v3/products?per_page=1` with HTTP Basic (key:secret).

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let store = ctx.field("store_url")?.trim_end_matches('/');
    let url = Url::parse(&format!("{store}/wp-json/wc/v3/products?per_page=1"))
        .map_err(|_| Error::invalid_config("store_url", "The store address is not a valid URL."))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid_config(
            "store_url",
            "The store address must start with https://.",
        ));
    }
    let mut probe = Probe::get(url, Destination::Tenant);
    probe.basic = Some((
        ctx.field("consumer_key")?.to_owned(),
        ctx.field("consumer_secret")?.to_owned(),
    ));
    probe.headers.push(("accept", "application/json".into()));
    probe.url_field = Some("store_url");
    let reply = ctx.http.send(probe).await?;
    let code = reply
        .json()
        .and_then(|b| str_at(&b, "/code"))
        .unwrap_or_default();
    if !(200..300).contains(&reply.status) {
        let text = lower_text(&reply);
        return Err(match code.as_str() {
            "woocommerce_rest_authentication_error" | "woocommerce_rest_authentication_missing_parameter" => {
                let field = if text.contains("consumer key") { "consumer_key" } else { "consumer_secret" };
                Error::new(ErrorCode::InvalidCredentials, "The store did not accept this consumer key and secret.").with_field(field)
            }
            "woocommerce_rest_cannot_view" => Error::new(
                ErrorCode::InsufficientPermissions,
                "This key is not allowed to read products. Give it Read permission in WooCommerce → Settings → Advanced → REST API.",
            )
            .with_field("consumer_key"),
            "rest_no_route" => Error::new(
                ErrorCode::NotFound,
                "This site has no WooCommerce REST API. Check the address and that WooCommerce is active.",
            )
            .with_field("store_url"),
            _ if reply.status == 404 => Error::new(
                ErrorCode::NotFound,
                "Nothing answers at this address's WooCommerce API path. Check the store address.",
            )
            .with_field("store_url"),
            _ => status_failure(&reply, "WooCommerce", "consumer_key"),
        });
    }
    match reply.json() {
        Some(serde_json::Value::Array(_)) => Ok(details([
            ("store", Url::parse(store).ok().and_then(|u| u.host_str().map(str::to_owned))),
        ])),
        _ => Err(Error::new(
            ErrorCode::UnexpectedResponse,
            "The address answered with a web page, not the WooCommerce API. Turn on pretty permalinks (Settings → Permalinks) and check the address.",
        )
        .with_field("store_url")),
    }
}
