//! Gives both halves of the app one build id: a digest of the sources they are compiled from
//! (`src/build_id.rs` adds how they were configured). The server refuses a WASM bundle whose id
//! is not its own, since a bundle built from other sources, or otherwise, cannot hydrate its pages.

use std::fs;
use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(erase_components)");
    for watched in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo::rerun-if-changed={watched}");
    }
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.sort();
    files.push("Cargo.toml".into());
    files.push("Cargo.lock".into());
    let mut digest = Fnv64::default();
    for file in &files {
        digest.write(file.to_string_lossy().as_bytes());
        // A file that cannot be read is one cargo is about to fail on anyway.
        digest.write(&fs::read(file).unwrap_or_default());
    }
    println!(
        "cargo::rustc-env=CONNECTOR_HUB_SOURCE_DIGEST={:016x}",
        digest.0
    );
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a: the same digest on every machine and toolchain, without a dependency. It tells builds
/// apart; nothing relies on it resisting collisions made on purpose.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Ends each piece, so moving bytes from one file to the next changes the digest.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}
