//! The module rules, checked on the source: protocol code uses nothing of the crate outside
//! `protocol/`; what came down the wire (`wire/`) uses only the protocol code; the app state and
//! the screens use no module that does I/O; and the top-level modules import each other without
//! a circle. Data flows one way: link -> task -> wire pipeline -> app -> ui.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a library file belongs to (`src/wire/detail.rs` -> `wire`,
/// `src/tui.rs` -> `tui`); `None` for the binary's files.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "main.rs" | "cli" | "lib.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The crate's top-level modules a file uses (`crate::x::...` and `use crate::{x, y}`), comments
/// left out.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for name in inner.split(',') {
                    let name = name.trim().split("::").next().unwrap_or("").trim();
                    if !name.is_empty() {
                        out.insert(name.to_string());
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // module -> used module -> files that use it
    let mut graph: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for used in uses(&text) {
            if used != module {
                entry
                    .entry(used)
                    .or_default()
                    .push(file.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    graph
}

fn assert_only_uses(module: &str, allowed: &[&str]) {
    let graph = graph();
    let used = graph.get(module).expect("module exists");
    let wrong: Vec<String> = used
        .iter()
        .filter(|(m, _)| !allowed.contains(&m.as_str()))
        .map(|(m, files)| format!("{module} uses {m} in {}", files.join(", ")))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn protocol_code_uses_nothing_outside_protocol() {
    assert_only_uses("protocol", &[]);
}

#[test]
fn what_came_down_the_wire_uses_only_protocol() {
    assert_only_uses("wire", &["protocol"]);
}

#[test]
fn the_app_state_and_the_screens_do_no_io() {
    assert_only_uses("app", &["protocol", "wire"]);
    assert_only_uses("ui", &["app", "protocol", "wire"]);
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let graph = graph();
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut circle = path[i..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
    assert!(graph.len() >= 8, "modules found: {:?}", graph.keys());
}

#[test]
fn the_parser_of_imports_sees_grouped_and_inline_uses() {
    let text = "use crate::{app::App, wire};\nlet x = crate::link::io_reason(&e); // crate::tui\n";
    let got: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(got, ["app", "link", "wire"]);
}
