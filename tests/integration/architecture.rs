//! The code's shape, checked: files small enough to read, `server/` only assembles (nothing
//! imports it), and the top-level modules depend on each other without going in circles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a source file may grow before it is split by capability.
const MAX_LINES: usize = 600;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::<module>`, comments left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for part in code.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// A top-level module dependency graph's cycles, as the module lists found on them.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                found.push(path.clone());
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                walk(graph, start, next, path, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for start in graph.keys() {
        walk(graph, start, start, &mut vec![start.clone()], &mut found);
    }
    found
}

#[test]
fn files_are_small_server_is_imported_by_nobody_and_modules_form_no_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut too_long = Vec::new();
    let mut imports_server = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let relative = file.strip_prefix(&root).expect("under src");
        let module = relative
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .unwrap_or_default();
        if text.lines().count() > MAX_LINES {
            too_long.push(format!(
                "{} ({} lines)",
                relative.display(),
                text.lines().count()
            ));
        }
        if module == "lib" || module == "main" {
            continue;
        }
        let named = named_modules(&text);
        if module != "server" && named.contains("server") {
            imports_server.push(relative.display().to_string());
        }
        graph
            .entry(module.clone())
            .or_default()
            .extend(named.into_iter().filter(|m| *m != module));
    }
    assert!(
        too_long.is_empty(),
        "split these by capability: {too_long:?}"
    );
    assert!(
        imports_server.is_empty(),
        "server/ only assembles; these import it: {imports_server:?}"
    );
    let circles = cycles(&graph);
    assert!(circles.is_empty(), "module circles: {circles:?}");
    // The checker itself sees a circle when there is one.
    let mut circular = graph.clone();
    circular
        .entry("store".into())
        .or_default()
        .insert("service".into());
    assert!(!cycles(&circular).is_empty());
}
