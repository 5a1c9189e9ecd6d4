//! Which build a server and a WASM bundle are, so that one never serves the other from another
//! build. Leptos hydrates by walking the server's HTML with the bundle's idea of the view; a
//! bundle built from other sources, or with another configuration (`--cfg erase_components`
//! changes every component's shape), panics on the first page it hydrates.
//!
//! Both halves compile the same id (`build.rs` digests the sources); the server writes it into
//! every page's `<head>` and, at start, looks for it in the bundle it is about to serve; the
//! bundle compares it with the page's before it hydrates.

/// The id both halves are compiled with: the sources' digest and how components were built.
#[cfg(erase_components)]
pub const BUILD_ID: &str = concat!(
    "connector-hub-build:",
    env!("CONNECTOR_HUB_SOURCE_DIGEST"),
    ":erased"
);
#[cfg(not(erase_components))]
pub(crate) const BUILD_ID: &str = concat!(
    "connector-hub-build:",
    env!("CONNECTOR_HUB_SOURCE_DIGEST"),
    ":typed"
);

/// The `<meta name=…>` each page carries the server's id in.
pub(crate) const META_NAME: &str = "connector-hub-build";

#[cfg(feature = "ssr")]
pub(crate) use bundle::{check_bundle, BundleCheck, BundleMismatch};

#[cfg(feature = "ssr")]
mod bundle {
    use super::BUILD_ID;
    use std::path::{Path, PathBuf};

    /// What the server found where its bundle should be.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) enum BundleCheck {
        /// The bundle was built with this server.
        Matches,
        /// No bundle there: the API serves, the pages render without hydrating.
        Missing(PathBuf),
    }

    #[derive(Debug, thiserror::Error, PartialEq, Eq)]
    #[error(
        "the WASM bundle at {} was not built with this server (its build is {}, this server's is \
         {BUILD_ID}); pages would fail to hydrate. Build both together — `cargo leptos build`, or \
         `make release` for production — and deploy the binary with the target/site it made",
        path.display(),
        found.as_deref().unwrap_or("unknown")
    )]
    pub struct BundleMismatch {
        pub(crate) path: PathBuf,
        /// The id the bundle carries, when it carries one.
        pub(crate) found: Option<String>,
    }

    /// Looks for this server's id in the bundle under `site_root` (`pkg/<output>.wasm`). The id is
    /// a string constant the bundle compares with each page's, so its bytes are in the bundle's
    /// data, unchanged by wasm-opt.
    pub(crate) fn check_bundle(
        site_root: &Path,
        output_name: &str,
    ) -> Result<BundleCheck, BundleMismatch> {
        let path = site_root.join("pkg").join(format!("{output_name}.wasm"));
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(BundleCheck::Missing(path));
        };
        if contains(&bytes, BUILD_ID.as_bytes()) {
            return Ok(BundleCheck::Matches);
        }
        Err(BundleMismatch {
            found: found_id(&bytes),
            path,
        })
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Another build's id in the bundle, for the message: `connector-hub-build:<16 hex
    /// digits>:<erased|typed>` (the bytes after it belong to other constants).
    fn found_id(bytes: &[u8]) -> Option<String> {
        let prefix = b"connector-hub-build:";
        let at = bytes.windows(prefix.len()).position(|w| w == prefix)? + prefix.len();
        let digest = bytes.get(at..at + 16)?;
        if !digest.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let rest = bytes.get(at + 16..)?;
        let kind = [":erased", ":typed"]
            .into_iter()
            .find(|kind| rest.starts_with(kind.as_bytes()))?;
        Some(format!(
            "connector-hub-build:{}{kind}",
            String::from_utf8_lossy(digest)
        ))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn site_with(bundle: &[u8]) -> tempfile::TempDir {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::create_dir_all(dir.path().join("pkg")).expect("pkg");
            std::fs::write(dir.path().join("pkg/app.wasm"), bundle).expect("bundle");
            dir
        }

        #[test]
        fn a_bundle_carrying_this_build_is_accepted() {
            let mut bundle = b"\0asm....".to_vec();
            bundle.extend_from_slice(BUILD_ID.as_bytes());
            bundle.extend_from_slice(b"more data");
            let site = site_with(&bundle);
            assert_eq!(check_bundle(site.path(), "app"), Ok(BundleCheck::Matches));
        }

        #[test]
        fn a_bundle_of_another_build_is_refused_and_named() {
            // The same sources built the other way.
            let other = match BUILD_ID.strip_suffix(":erased") {
                Some(id) => format!("{id}:typed"),
                None => BUILD_ID.replace(":typed", ":erased"),
            };
            let site = site_with(format!("\0asm{other}").as_bytes());
            let refused = check_bundle(site.path(), "app").expect_err("another build");
            assert_eq!(refused.found.as_deref(), Some(other.as_str()));
            assert!(refused.to_string().contains(BUILD_ID));
            let site = site_with(b"\0asm without any id");
            assert_eq!(
                check_bundle(site.path(), "app").expect_err("no id").found,
                None
            );
        }

        #[test]
        fn no_bundle_is_told_apart_from_a_wrong_one() {
            let dir = tempfile::tempdir().expect("temp dir");
            assert!(matches!(
                check_bundle(dir.path(), "app"),
                Ok(BundleCheck::Missing(_))
            ));
        }
    }
}
