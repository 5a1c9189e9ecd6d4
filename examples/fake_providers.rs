//! The fake provider APIs as a standalone server, for the browser tests and for trying the wizard
//! by hand: `cargo run --features ssr --example fake_providers -- 127.0.0.1:9100`. `FAKE_SEED`
//! (`stripe/customers=100000,…`) adds records behind a provider; `FAKE_DELAY_MS` makes every data
//! page answer that much later, as a distant provider does. It prints the
//! settings that point a server at it, OAuth2 client registrations included.

// The tests' controls (changes, failures, request logs) are not used by the standalone server.
#[allow(dead_code)]
#[path = "../tests/integration/support/fakes/mod.rs"]
mod fakes;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let addr = addr
        .parse()
        .map_err(|_| std::io::Error::other(format!("not an address: {addr}")))?;
    // A few pages of records behind every provider, for previews and syncs.
    let data = std::sync::Arc::new(fakes::data::Dataset::default());
    for (stream, count) in [
        ("stripe/customers", 240),
        ("stripe/charges", 35),
        ("shopify/orders", 60),
        ("square/payments", 30),
        ("xero/invoices", 30),
        ("hubspot/companies", 30),
        ("google/files", 30),
        ("woocommerce/orders", 30),
        ("rest/items", 30),
    ] {
        data.seed(stream, count);
    }
    // More on request, for benchmarks: FAKE_SEED="stripe/customers=100000,…".
    for item in std::env::var("FAKE_SEED").unwrap_or_default().split(',') {
        if let Some((stream, count)) = item.split_once('=') {
            let count: u64 = count
                .trim()
                .parse()
                .map_err(|_| std::io::Error::other(format!("FAKE_SEED: not a count: {item}")))?;
            data.seed(stream.trim(), count);
        }
    }
    if let Some(ms) = std::env::var("FAKE_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        data.slow(std::time::Duration::from_millis(ms));
    }
    let local = fakes::start_with(addr, data).await?;
    println!("fake providers listening on http://{local}");
    let base = format!("http://{local}");
    for (name, value) in fakes::provider_env(&base)
        .into_iter()
        .chain(fakes::oauth_env(&base))
    {
        println!("{name}={value}");
    }
    std::future::pending::<()>().await;
    Ok(())
}
