//! The README's configuration table names every environment variable the server reads.

use std::collections::BTreeSet;

fn quoted_env_names(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in source.split('"').skip(1).step_by(2) {
        let looks_like_env = part.len() > 3
            && part
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
            && (part.starts_with("CONNECTOR_")
                || part.starts_with("LEPTOS_")
                || part.starts_with("JWT_")
                || part.starts_with("MONGO_"));
        if looks_like_env {
            names.insert(part.to_owned());
        }
    }
    names
}

#[test]
fn every_environment_variable_is_documented() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let mut names = BTreeSet::new();
    let config_files = std::fs::read_dir(format!("{root}/src/config"))
        .expect("src/config")
        .filter_map(|entry| {
            Some(
                entry
                    .ok()?
                    .path()
                    .strip_prefix(root)
                    .ok()?
                    .display()
                    .to_string(),
            )
        });
    let files: Vec<String> = config_files
        .chain(["src/server/startup.rs".into(), "src/main.rs".into()])
        .collect();
    assert!(files.len() > 3, "{files:?}");
    for file in &files {
        names.extend(quoted_env_names(
            &std::fs::read_to_string(format!("{root}/{file}")).expect(file),
        ));
    }
    assert!(
        names.contains("CONNECTOR_HUB_EGRESS_ALLOW") && names.contains("MONGO_URI"),
        "the scan finds names: {names:?}"
    );
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !readme.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not document: {missing:?}"
    );
    for provider in [
        "STRIPE",
        "SHOPIFY",
        "SQUARE_SANDBOX",
        "GOOGLE_DRIVE",
        "QUICKBOOKS",
    ] {
        assert!(
            readme.contains(&format!("`{provider}`")),
            "provider {provider} listed"
        );
    }
}

/// The sample deployment sets only settings the server reads (each in README's table), and its
/// MongoDB URI is the one README recommends and the failover test runs with.
#[test]
fn the_sample_deployment_uses_the_documented_settings() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let compose = std::fs::read_to_string(format!("{root}/docs/deploy/scale-out.compose.yml"))
        .expect("docs/deploy/scale-out.compose.yml");
    let failover = std::fs::read_to_string(format!("{root}/tests/integration/failover.rs"))
        .expect("failover.rs");
    let settings: Vec<&str> = compose
        .lines()
        .filter_map(|line| line.trim().split_once(": "))
        .map(|(key, _)| key)
        .filter(|key| {
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                && key.len() > 3
        })
        .collect();
    assert!(settings.len() >= 8, "the scan finds settings: {settings:?}");
    for key in &settings {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "the sample deployment sets {key}, which README's configuration table does not name"
        );
    }
    let options =
        "w=majority&readPreference=primary&retryWrites=true&serverSelectionTimeoutMS=30000";
    for (name, text) in [
        ("README", &readme),
        ("the compose file", &compose),
        ("the failover test", &failover),
    ] {
        assert!(text.contains(options), "{name} uses {options}");
    }
}
