//! The code's shape, checked: files small enough to read (the sources and the tests), `server/`
//! only assembles (nothing imports it), the top-level modules depend on each other without going
//! in circles, and they keep their layers: what keeps and describes data, and what the services
//! drive, reaches nothing above it, and only the web edge reaches `api`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a source or test file may grow before it is split by capability (or by area).
const MAX_LINES: usize = 600;

/// Modules that must never reach (name, directly or through other modules) any of the modules
/// after them, and why.
const NEVER_REACHES: &[(&[&str], &[&str], &str)] = &[
    (
        &["store", "catalog", "model"],
        &[
            "auth", "service", "wizard", "config", "api", "app", "ui", "server", "workers",
        ],
        "they keep and describe data below the services; a tenant is an `ids::TenantId`, whoever \
         asked and however they signed in",
    ),
    (
        &[
            "checks", "oauth", "sync", "vault", "webhooks", "outbound", "secret", "ids",
        ],
        &[
            "service", "wizard", "config", "api", "app", "ui", "server", "workers",
        ],
        "the services drive them, never the other way",
    ),
    (
        &["service"],
        &["workers", "api", "app", "ui", "server"],
        "the workers and the web edge drive the services, never the other way",
    ),
];

/// The web edge: `api` itself, the pages that call its server functions, and `server`, which
/// assembles it. Nothing else reaches `api`.
const WEB_EDGE: &[&str] = &["api", "app", "ui", "server"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn leading_name(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a file names as `crate::<module>` (or in `crate::{<module>::…, …}`),
/// comments left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let code: Vec<&str> = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect();
    let code = code.join("\n");
    let mut names = BTreeSet::new();
    for part in code.split("crate::").skip(1) {
        let Some(group) = part.trim_start().strip_prefix('{') else {
            names.insert(leading_name(part));
            continue;
        };
        // The group's items, split at its own commas (not those of nested groups).
        let (mut depth, mut item) = (0, String::new());
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.insert(leading_name(&item));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        names.insert(leading_name(&item));
    }
    names.remove("");
    names
}

/// Every module `from` reaches: those it names, those they name, and so on.
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(at) = todo.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

/// Each way the graph breaks the layering, as `module reaches forbidden (why)`, with the path.
fn layer_breaches(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let path_to = |from: &str, to: &str| -> Vec<String> {
        // Breadth first, so the path shown is a shortest one.
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from.to_owned()]);
        while let Some(at) = queue.pop_front() {
            if at == to {
                let mut path = vec![at.clone()];
                while let Some(prev) = came_from.get(path.last().expect("non-empty")) {
                    path.push(prev.clone());
                }
                path.reverse();
                return path;
            }
            for next in graph.get(&at).into_iter().flatten() {
                if next != from && !came_from.contains_key(next) {
                    came_from.insert(next.clone(), at.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        Vec::new()
    };
    let mut breaches = Vec::new();
    let mut rules: Vec<(Vec<&str>, Vec<&str>, &str)> = NEVER_REACHES
        .iter()
        .map(|(below, above, why)| (below.to_vec(), above.to_vec(), *why))
        .collect();
    let below_the_edge: Vec<&str> = graph
        .keys()
        .map(String::as_str)
        .filter(|m| !WEB_EDGE.contains(m))
        .collect();
    rules.push((
        below_the_edge,
        vec!["api"],
        "only the web edge reaches `api`",
    ));
    for (below, above, why) in rules {
        for module in below {
            let reached = reaches(graph, module);
            for forbidden in above.iter().filter(|m| reached.contains(**m)) {
                breaches.push(format!(
                    "{module} reaches {forbidden} ({why}): {}",
                    path_to(module, forbidden).join(" -> ")
                ));
            }
        }
    }
    breaches
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

/// The top-level module a file under `src/` belongs to (`lib` and `main` for the crate's roots).
fn top_level_module(relative: &Path) -> String {
    relative
        .components()
        .next()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .unwrap_or_default()
}

/// The top-level modules and the modules each names, from every file under `src/`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = top_level_module(file.strip_prefix(&root).expect("under src"));
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        graph
            .entry(module.clone())
            .or_default()
            .extend(named_modules(&text).into_iter().filter(|m| *m != module));
    }
    graph
}

#[test]
fn files_are_small_server_is_imported_by_nobody_and_modules_form_no_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 50, "{} source files", files.len());
    let sources_count = files.len();
    sources(&root.join("tests"), &mut files);
    assert!(
        files.len() - sources_count > 20,
        "{} test files",
        files.len() - sources_count
    );
    let mut too_long = Vec::new();
    let mut imports_server = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let relative = file.strip_prefix(root).expect("under the crate");
        if text.lines().count() > MAX_LINES {
            too_long.push(format!(
                "{} ({} lines)",
                relative.display(),
                text.lines().count()
            ));
        }
        let Ok(in_src) = relative.strip_prefix("src") else {
            continue;
        };
        let module = top_level_module(in_src);
        if !["lib", "main", "server"].contains(&module.as_str())
            && named_modules(&text).contains("server")
        {
            imports_server.push(relative.display().to_string());
        }
    }
    assert!(
        too_long.is_empty(),
        "split these by capability (tests by area): {too_long:?}"
    );
    assert!(
        imports_server.is_empty(),
        "server/ only assembles; these import it: {imports_server:?}"
    );
    let graph = module_graph();
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

#[test]
fn the_layers_below_reach_nothing_above_them() {
    let graph = module_graph();
    for (below, above, _) in NEVER_REACHES {
        for module in below.iter().chain(above.iter()).chain(WEB_EDGE) {
            assert!(
                graph.contains_key(*module),
                "{module} is no longer a top-level module: update the layering"
            );
        }
    }
    let breaches = layer_breaches(&graph);
    assert!(breaches.is_empty(), "layering broken: {breaches:#?}");

    // The checker itself sees a breach, direct or through another module, when there is one.
    let breach = |from: &str, to: &str| {
        let mut graph = graph.clone();
        graph.entry(from.into()).or_default().insert(to.into());
        layer_breaches(&graph)
    };
    let direct = breach("store", "auth");
    assert!(
        direct.iter().any(|b| b.starts_with("store reaches auth")),
        "{direct:?}"
    );
    let through = breach("secret", "service");
    assert!(
        through
            .iter()
            .any(|b| b.starts_with("store reaches service") && b.contains("secret -> service")),
        "{through:?}"
    );
    assert!(!breach("service", "ui").is_empty(), "ui reaches api");
    assert!(breach("app", "api").is_empty());
    assert!(
        named_modules("use crate::{\n    auth::Principal,\n    ids::{self, TenantId},\n};")
            == ["auth".to_owned(), "ids".to_owned()].into()
    );
}

/// Most methods one type may have: past it, it holds more than one capability.
const MAX_METHODS: usize = 40;

/// The methods of each type, over all its inherent `impl` blocks in `text` (trait impls are the
/// trait's shape, not the type's).
fn methods_by_type(text: &str, counts: &mut BTreeMap<String, usize>) {
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("impl") {
            let head = rest.split('{').next().unwrap_or_default();
            current = (!head.contains(" for ")).then(|| {
                let head = head.trim_start_matches(|c| c != ' ').trim();
                head.split(['<', ' ']).next().unwrap_or_default().to_owned()
            });
            continue;
        }
        if line.starts_with('}') {
            current = None;
            continue;
        }
        let Some(name) = &current else { continue };
        let item = line.trim_start();
        let indent = line.len() - item.len();
        let item = item
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ");
        if indent == 4 && item.starts_with("fn ") {
            *counts.entry(name.clone()).or_default() += 1;
        }
    }
}

#[test]
fn no_type_holds_more_than_forty_methods() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut counts = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        methods_by_type(&text, &mut counts);
    }
    let large: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > MAX_METHODS)
        .map(|(name, n)| format!("{name}: {n} methods"))
        .collect();
    assert!(
        large.is_empty(),
        "split these by capability (at most {MAX_METHODS} methods a type): {large:?}"
    );
    // The counter sees what it must: the services are there, with their methods.
    assert!(counts.get("Syncs").is_some_and(|n| *n > 10), "{counts:?}");
    let mut sample = BTreeMap::new();
    methods_by_type(
        "impl<T> Big<T> {\n    pub async fn a(&self) {}\n    fn b() {}\n}\nimpl Display for Big {\n    fn fmt() {}\n}\n",
        &mut sample,
    );
    assert_eq!(sample.get("Big"), Some(&2), "{sample:?}");
}

/// Where a connector id may still be bare text: server functions' arguments (they cross the wire
/// from the browser build, which has no `ids`, and are parsed on entry), the audit filter's raw
/// text (parsed by `audit_query`), and the audit log's own record of it (its text is hashed into
/// the chain and outlives the connector).
const BARE_CONNECTOR_IDS: &[&str] = &[
    "api/functions.rs",
    "api/source_data.rs",
    "service/gate/audit.rs",
    "store/mod.rs",
];

#[test]
fn connector_ids_are_parsed_once_at_the_edge() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let bare = |line: &str| {
        ["&str", "String", "Option<String>", "Option<&str>"]
            .iter()
            .any(|ty| line.contains(&format!("connector_id: {ty}")))
    };
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let name = relative.to_string_lossy().replace('\\', "/");
        // The browser build's types carry ids as text: they have no `ids` to parse with.
        if name.starts_with("ui/") || name.starts_with("model/") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            if bare(line) && !BARE_CONNECTOR_IDS.contains(&name.as_str()) {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a connector id is a `ConnectorId` past the edge: {found:#?}"
    );
    assert!(bare("    pub connector_id: String,") && !bare("connector_id: &ConnectorId"));
}
