//! A Stripe connection check against the local fake Stripe, next to a bare GET to the same
//! endpoint with the same bearer key over a plain reqwest client. The difference is what the check
//! itself costs: building the probe, the shared client's policy (timeouts, no redirects, size
//! cap), mapping the answer and reading the account details from it. The REST endpoint adds
//! authentication, the rate-limit count and the durable audit entry on top; `bench/run.sh`
//! measures that end to end.

#[allow(dead_code, unused_imports)]
#[path = "../tests/integration/support/fakes/mod.rs"]
mod fakes;

use connector_hub::catalog::catalog;
use connector_hub::config::Settings;
use connector_hub::outbound::Outbound;
use connector_hub::secret::SecretConfig;
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;

const KEY: &str = "sk_test_good_4242424242";

fn bench(c: &mut Criterion) {
    // The fake runs on its own runtime and threads, like a real provider would.
    let fake_runtime = tokio::runtime::Runtime::new().expect("runtime for the fake");
    let addr = fake_runtime
        .block_on(fakes::start(([127, 0, 0, 1], 0).into()))
        .expect("fake providers start");
    let base = format!("http://{addr}");
    let env: BTreeMap<String, String> = fakes::provider_env(&base).into_iter().collect();
    let settings = Settings::load(None, &|name| env.get(name).cloned()).expect("settings");
    let outbound = Outbound::new(&settings.checks, &settings.providers);
    let stripe = catalog().get("stripe").expect("stripe in the catalog");
    let submitted = BTreeMap::from([("api_key".to_owned(), KEY.to_owned())]);
    let config = SecretConfig::from(catalog().validate(stripe, &submitted).expect("valid"));
    let bare = reqwest::Client::new();
    let url = format!("{base}/stripe/v1/balance");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    // Both clients open their keep-alive connection before the clock starts.
    rt.block_on(async {
        connector_hub::checks::check(&outbound, "stripe", &config)
            .await
            .expect("check passes");
        bare.get(&url)
            .bearer_auth(KEY)
            .send()
            .await
            .expect("bare GET");
    });

    let mut group = c.benchmark_group("stripe");
    group.bench_function("bare GET /v1/balance", |b| {
        b.iter(|| {
            rt.block_on(async {
                let reply = bare
                    .get(&url)
                    .bearer_auth(KEY)
                    .header("accept", "application/json")
                    .send()
                    .await
                    .expect("bare GET");
                assert!(reply.status().is_success());
                reply.bytes().await.expect("body")
            })
        })
    });
    group.bench_function("connection check", |b| {
        b.iter(|| {
            rt.block_on(connector_hub::checks::check(&outbound, "stripe", &config))
                .expect("check passes")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
