//! A server and a WASM bundle from different builds cannot hydrate a page together (issue #31):
//! the server refuses to start beside a bundle that is not its own, and serves its id to the
//! bundle it does accept.

use crate::support::process::{run_cli, server_env, spawn_server};

fn site_with(dir: &std::path::Path, bundle: &[u8]) -> std::path::PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).expect("pkg");
    std::fs::write(site.join("pkg/connector-hub.wasm"), bundle).expect("bundle");
    site
}

#[tokio::test]
async fn the_server_refuses_a_bundle_of_another_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = server_env(
        "http://127.0.0.1:9",
        &dir.path().join("data"),
        &connector_hub::vault::generate_key(),
    );
    // The same sources built the other way, and a bundle from before build ids.
    let other = match connector_hub::build_id::BUILD_ID.strip_suffix(":erased") {
        Some(id) => format!("{id}:typed"),
        None => connector_hub::build_id::BUILD_ID.replace(":typed", ":erased"),
    };
    for (bundle, names) in [
        (format!("\0asm...{other}..."), Some(other.as_str())),
        ("\0asm... no id at all".to_owned(), None),
    ] {
        let site = site_with(dir.path(), bundle.as_bytes());
        env.retain(|(k, _)| k != "LEPTOS_SITE_ROOT");
        env.push(("LEPTOS_SITE_ROOT".into(), site.display().to_string()));
        let (ok, output) = run_cli(&env, &["serve"]);
        assert!(!ok, "it must not start: {output}");
        assert!(
            output.contains("was not built with this server")
                && output.contains(connector_hub::build_id::BUILD_ID)
                && output.contains("make release"),
            "{output}"
        );
        if let Some(other) = names {
            assert!(output.contains(other), "names the bundle's build: {output}");
        }
    }

    // Its own bundle: it starts, and each page names the build the bundle checks it against.
    let site = site_with(
        dir.path(),
        format!("\0asm...{}...", connector_hub::build_id::BUILD_ID).as_bytes(),
    );
    env.retain(|(k, _)| k != "LEPTOS_SITE_ROOT");
    env.push(("LEPTOS_SITE_ROOT".into(), site.display().to_string()));
    let server = spawn_server(&env, &dir.path().join("server.log")).await;
    let page = reqwest::get(format!("{}/", server.base))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains(&format!(
            r#"<meta name="connector-hub-build" content="{}""#,
            connector_hub::build_id::BUILD_ID
        )),
        "{page}"
    );
    assert!(server.stop().success());
}
