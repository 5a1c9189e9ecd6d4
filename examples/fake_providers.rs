//! The fake provider APIs as a standalone server, for the browser tests and for trying the wizard
//! by hand: `cargo run --features ssr --example fake_providers -- 127.0.0.1:9100`. It prints the
//! settings that point a server at it, OAuth2 client registrations included.

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
    let local = fakes::start(addr).await?;
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
