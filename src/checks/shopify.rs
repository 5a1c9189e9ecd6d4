//! Shopify: `GET https://{shop}/admin/api/{version}/shop.json` with `X-Shopify-Access-Token`.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

const API_VERSION: &str = "2025-07";

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let shop = ctx.field("shop_domain")?.to_ascii_lowercase();
    let shop_name = shop.strip_suffix(".myshopify.com").unwrap_or_default();
    if shop_name.is_empty()
        || !shop_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Error::invalid_config(
            "shop_domain",
            "The shop domain must look like your-store.myshopify.com.",
        ));
    }
    let token = ctx.field(ACCESS_TOKEN)?;
    let base = ctx.providers.get("shopify").replace("{shop}", &shop);
    let url = Url::parse(&format!("{base}/admin/api/{API_VERSION}/shop.json")).map_err(|_| {
        Error::invalid_config("shop_domain", "The shop domain is not a valid host name.")
    })?;
    // The shop host is tenant-chosen unless the operator pointed Shopify elsewhere.
    let destination = if ctx.providers.is_overridden("shopify") {
        Destination::Operator
    } else {
        Destination::Tenant
    };
    let mut probe = Probe::get(url, destination);
    probe
        .headers
        .push(("x-shopify-access-token", token.to_owned()));
    probe.headers.push(("accept", "application/json".into()));
    probe.url_field = Some("shop_domain");
    let reply = ctx.http.send(probe).await?;
    match reply.status {
        404 => {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("There is no Shopify shop at {shop}."),
            )
            .with_field("shop_domain"))
        }
        402 | 423 => {
            return Err(Error::new(
                ErrorCode::InsufficientPermissions,
                "This shop is frozen or locked by Shopify, so its data cannot be read.",
            )
            .with_field("shop_domain"))
        }
        _ => {}
    }
    let body = success_json(&reply, "Shopify", ACCESS_TOKEN)?;
    let name = str_at(&body, "/shop/name").ok_or_else(|| unexpected("Shopify"))?;
    Ok(details([
        ("shop", Some(name)),
        ("domain", str_at(&body, "/shop/myshopify_domain")),
        ("plan", str_at(&body, "/shop/plan_name")),
    ]))
}
