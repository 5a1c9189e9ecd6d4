//! Fernet encrypt + decrypt of a typical connector configuration.

use connector_hub::catalog::catalog;
use connector_hub::ids::ConnectorId;
use connector_hub::secret::{SecretConfig, SecretString};
use connector_hub::vault::{generate_key, Vault};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;

fn typical_config() -> SecretConfig {
    let rest_api = catalog().get("rest_api").expect("rest_api in the catalog");
    let submitted = BTreeMap::from([
        (
            "base_url".to_owned(),
            "https://api.example.com/v2".to_owned(),
        ),
        ("auth_type".to_owned(), "api_key_header".to_owned()),
        ("header_name".to_owned(), "X-API-Key".to_owned()),
        (
            "api_key".to_owned(),
            "sk_live_51H8kP2CjQwzXyT4aBcDeFgHiJkLmNoPqRsTuVwXyZ012345".to_owned(),
        ),
        ("test_path".to_owned(), "/me".to_owned()),
    ]);
    SecretConfig::from(
        catalog()
            .validate(rest_api, &submitted)
            .expect("a valid REST API config"),
    )
}

fn bench(c: &mut Criterion) {
    let vault = Vault::from_key_list(&SecretString::new(generate_key()), "K").expect("key");
    let config = typical_config();
    let id = ConnectorId::generate();
    let mut group = c.benchmark_group("vault");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encrypt+decrypt", |b| {
        b.iter(|| {
            let (token, _) = vault.encrypt(&config, "bench", &id);
            vault.decrypt(&token, "bench", &id).expect("decrypts")
        })
    });
    let (token, _) = vault.encrypt(&config, "bench", &id);
    group.bench_function("decrypt", |b| {
        b.iter(|| vault.decrypt(&token, "bench", &id).expect("decrypts"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
