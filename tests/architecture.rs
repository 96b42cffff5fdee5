//! The house rules, read from the source: no module of `src/` is in an import cycle; storage
//! (`db/`) imports nothing from the HTTP layer, the app, the state, the domain or auth; nothing
//! the state holds imports the state; and only the HTTP layer (plus start-up and the error's
//! HTTP rendering) knows actix-web; and no query binds a `LIMIT` to read one row.
//!
//! A module is a file. Its imports are every `crate::…`, `super::…` and `self::…` path in its
//! code (`use` lines and inline paths, comments and `#[cfg(test)]` modules excluded), each
//! resolved to the longest module path it starts with; `mod` declarations are not imports,
//! `pub use` re-exports are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → the empty name (the crate
/// root).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line.split(" // ").next().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let head = &path[..open];
    let Some(close) = path.rfind('}') else {
        return vec![head.to_owned()];
    };
    let inner = &path[open + 1..close];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| expand(&format!("{head}{item}")))
        .collect()
}

/// The paths a file's code names: `use` trees (braces expanded) and inline `crate::`,
/// `super::` and `self::` paths.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut statement: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let tree = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|head| trimmed.strip_prefix(head));
        if let Some(tree) = tree {
            statement = Some(tree.to_owned());
        } else if let Some(s) = statement.as_mut() {
            s.push_str(trimmed);
        }
        if statement.as_ref().is_some_and(|s| s.contains(';')) {
            let text = statement.take().unwrap_or_default();
            found.extend(expand(text.split(';').next().unwrap_or_default()));
        }
    }
    for prefix in ["crate::", "super::", "self::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let preceded = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$');
            let path: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !preceded {
                found.push(path.trim_end_matches(':').to_owned());
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    found
}

/// The module a path names from `module`'s view: the longest known module it starts with.
/// `super` is the parent of the file's module (`a` from `a/b.rs`, the root from `a/mod.rs`),
/// `self` the file's module.
fn resolve(module: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    match segments.first() {
        Some(&"crate") => {
            segments.remove(0);
            base.clear();
        }
        Some(&"self") => {
            segments.remove(0);
        }
        Some(&"super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        _ => return None,
    }
    let full: Vec<&str> = base.into_iter().chain(segments).collect();
    (1..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|candidate| known.contains(candidate))
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let known: BTreeSet<String> = list.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    for file in &list {
        let module = module_of(&src, file);
        if module.is_empty() || module == "main" {
            continue;
        }
        let is_mod_file = file.file_name().is_some_and(|n| n == "mod.rs");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let edges = graph.entry(module.clone()).or_default();
        for path in paths(&code(&text)) {
            let path = if path.starts_with("crate")
                || path.starts_with("super")
                || path.starts_with("self")
            {
                path
            } else if is_mod_file {
                // `pub use context::X` in `a/mod.rs` names `a::context`.
                format!("self::{path}")
            } else {
                continue;
            };
            if let Some(target) = resolve(&module, &path, &known)
                && target != module
                && !target.is_empty()
            {
                edges.insert(target);
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(walk: &mut Walk<'g>, node: &'g str) {
        let n = walk.index.len();
        walk.index.insert(node, n);
        walk.low.insert(node, n);
        walk.stack.push(node);
        walk.on_stack.insert(node);
        let graph = walk.graph;
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !walk.index.contains_key(next) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next]);
                walk.low.insert(node, low);
            } else if walk.on_stack.contains(next) {
                let low = walk.low[node].min(walk.index[next]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                walk.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

/// Everything `from` reaches.
fn reach(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(node) = todo.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn the_reader_sees_what_the_code_imports() {
    let graph = graph();
    assert!(
        graph["state"].contains("introspection::cache"),
        "{:?}",
        graph["state"]
    );
    assert!(graph["http::routes"].contains("http::tokens"));
    assert!(
        graph["audit"].contains("audit::record"),
        "pub use is an import"
    );
    assert!(graph.len() > 40, "{} modules", graph.len());
}

#[test]
fn no_module_is_in_an_import_cycle() {
    let found = cycles(&graph());
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

#[test]
fn storage_imports_nothing_above_it() {
    let graph = graph();
    let forbidden = [
        "error",
        "app",
        "auth",
        "tokens",
        "introspection",
        "http",
        "state",
    ];
    for (module, edges) in graph.iter().filter(|(m, _)| m.starts_with("db")) {
        for edge in edges {
            assert!(
                !forbidden
                    .iter()
                    .any(|f| edge == f || edge.starts_with(&format!("{f}::"))),
                "{module} imports {edge}"
            );
        }
    }
}

#[test]
fn nothing_the_state_holds_reaches_the_state() {
    let graph = graph();
    for held in [
        "db",
        "config",
        "auth::session",
        "introspection::cache",
        "introspection::loader",
        "introspection::invalidation",
        "usage::recorder",
        "usage::store",
    ] {
        let reached = reach(&graph, held);
        assert!(!reached.contains("state"), "{held} reaches the state");
        assert!(!reached.contains("app"), "{held} reaches the app");
    }
}

#[test]
fn only_the_http_layer_knows_actix() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    // Start-up assembles the server, the CLI starts its runtime, and the error renders itself
    // as a response.
    let allowed = ["app", "cli", "error"];
    for file in list {
        let module = module_of(&src, &file);
        if module.starts_with("http") || allowed.contains(&module.as_str()) {
            continue;
        }
        let text = code(&std::fs::read_to_string(&file).unwrap_or_default());
        for name in [
            "actix_web::",
            "actix_http::",
            "tracing_actix_web",
            "use actix",
        ] {
            assert!(!text.contains(name), "{module} names {name}");
        }
    }
}

/// Queries that name a row end in `get_result`, not diesel's `first`: `first` adds a bound
/// `LIMIT ?`, and SQLite prepares such a statement again on every run (a user by id: about
/// 10 µs instead of 4, on every session request). A query with an `OFFSET` needs its `LIMIT`.
#[test]
fn queries_do_not_bind_a_limit_to_read_one_row() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let mut found = Vec::new();
    for file in list {
        let text = code(&std::fs::read_to_string(&file).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let first_with_arguments = line.match_indices(".first").any(|(at, _)| {
                line[at + ".first".len()..].starts_with(['(', ':'])
                    && !line[at..].starts_with(".first()")
            });
            let offset = lines[i.saturating_sub(4)..i]
                .iter()
                .any(|l| l.contains(".offset("));
            if first_with_arguments && !offset {
                found.push(format!("{}: {}", module_of(&src, &file), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// The OpenAPI component name of every documented type: `name` after a `#[derive(…ToSchema…)]`
/// (or its `#[schema(as = …)]`), and the type of each `impl ToSchema for …`.
fn component_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("#[derive(") {
        rest = &rest[start..];
        let derive_end = rest.find(")]").unwrap_or(rest.len());
        let documented = rest[..derive_end].contains("ToSchema");
        rest = &rest[derive_end..];
        if !documented {
            continue;
        }
        let item = ["struct ", "enum "]
            .iter()
            .filter_map(|keyword| rest.find(keyword).map(|at| at + keyword.len()))
            .min()
            .unwrap_or(rest.len());
        let renamed = rest[..item]
            .find("#[schema(as = ")
            .map(|at| &rest[at + "#[schema(as = ".len()..]);
        let name = renamed.unwrap_or(&rest[item..]);
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        names.push(name);
    }
    for marker in ["impl ToSchema for ", "impl utoipa::ToSchema for "] {
        for (at, _) in text.match_indices(marker) {
            let name: String = text[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

/// utoipa keeps the last of two documented types with one name, and the document then
/// describes one with the other's schema (a token's `status` once read as the health body).
#[test]
fn every_documented_type_has_a_component_name_of_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in list {
        let text = code(&std::fs::read_to_string(&file).unwrap_or_default());
        for name in component_names(&text) {
            seen.entry(name).or_default().push(module_of(&src, &file));
        }
    }
    assert!(seen.len() > 40, "{} documented types", seen.len());
    let shared: Vec<_> = seen.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(shared.is_empty(), "component names used twice: {shared:?}");
}

#[test]
fn a_shared_component_name_is_found() {
    let text = "#[derive(Debug, ToSchema)]\npub struct Status {}\n\
                #[derive(Serialize, ToSchema)]\n#[schema(as = TokenStatus)]\npub enum Status {}\n\
                #[derive(Debug)]\nstruct Hidden;\nimpl ToSchema for ExternalId {}";
    assert_eq!(
        component_names(text),
        ["Status", "TokenStatus", "ExternalId"]
    );
}
