//! The architecture, checked: no import cycle among the core's top-level
//! modules, and hosts that stay thin (docs/architecture.md says why).
//! `scripts/layers.sh` prints what this reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Code lines (not blank, not comment-only) of a host's files, tests apart.
const WASI_HOST_LIMIT: usize = 300;
const CLOUDFLARE_LIMIT: usize = 450;
const README_LIMIT: usize = 300;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The source without its test modules: everything from the first
/// `#[cfg(test)]` on (tests sit at the end of a file by convention here).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// Every top-level module named after `crate::`, in `use` trees and paths.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e}}`: the first name of each path at depth one.
            let (mut depth, mut name, mut in_path) = (0usize, String::new(), false);
            let mut keep = |name: &mut String| {
                if !name.is_empty() && !name.starts_with(char::is_uppercase) {
                    out.insert(std::mem::take(name));
                }
                name.clear();
            };
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        keep(&mut name);
                        in_path = false;
                    }
                    c if depth == 0 && !in_path && (c.is_alphanumeric() || c == '_') => name.push(c),
                    ':' if depth == 0 => {
                        keep(&mut name);
                        in_path = true;
                    }
                    _ => {}
                }
            }
            keep(&mut name);
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        // `crate::Config` is a re-export from lib.rs, not a module.
        if !name.is_empty() && !name.starts_with(char::is_uppercase) {
            out.insert(name);
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "bin" | "test_support")).then(|| name.to_owned())
}

/// Who imports whom among the top-level modules of `src/`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut all = Vec::new();
    files(&src, "rs", &mut all);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in all {
        let Some(module) = module_of(&src, &file) else { continue };
        if file.file_name().is_some_and(|n| n == "tests.rs")
            || file.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        let refs = crate_refs(without_tests(&text));
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != module));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for targets in graph.values_mut() {
        targets.retain(|t| modules.contains(t));
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w.as_str()) {
                    let low = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
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
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// Lines that hold code: not blank, not only a comment (`//`, `///`, `//!`,
/// `/** … */` blocks and `*` continuation lines of JavaScript doc comments).
fn code_lines(text: &str) -> usize {
    let mut in_block = false;
    let mut count = 0;
    for line in without_tests(text).lines() {
        let line = line.trim();
        if in_block {
            in_block = !line.contains("*/");
            continue;
        }
        if line.starts_with("/*") {
            in_block = !line.contains("*/");
            continue;
        }
        if !line.is_empty() && !line.starts_with("//") {
            count += 1;
        }
    }
    count
}

fn host_lines(place: &str) -> (usize, Vec<String>) {
    let mut all = Vec::new();
    let path = root().join(place);
    if path.is_file() {
        all.push(path);
    }
    for ext in ["rs", "js"] {
        files(&root().join(place), ext, &mut all);
    }
    all.sort();
    let mut total = 0;
    let mut each = Vec::new();
    for file in all {
        let n = code_lines(&fs::read_to_string(&file).unwrap_or_default());
        total += n;
        each.push(format!("  {n:4} {}", file.strip_prefix(root()).unwrap_or(&file).display()));
    }
    (total, each)
}

#[test]
fn no_import_cycle_among_the_core_modules() {
    let graph = graph();
    for (module, imports) in &graph {
        let list: Vec<&str> = imports.iter().map(String::as_str).collect();
        println!("{module} -> {}", list.join(", "));
    }
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles among top-level modules: {found:?}");
}

#[test]
fn hosts_stay_thin() {
    let (wasi, wasi_files) = host_lines("src/wasi_host.rs");
    let (cloudflare, cloudflare_files) = host_lines("cloudflare/src");
    println!("WASI host: {wasi} code lines (limit {WASI_HOST_LIMIT})\n{}", wasi_files.join("\n"));
    println!(
        "Cloudflare adapter: {cloudflare} code lines (limit {CLOUDFLARE_LIMIT})\n{}",
        cloudflare_files.join("\n")
    );
    assert!(wasi <= WASI_HOST_LIMIT, "the WASI host has {wasi} code lines");
    assert!(cloudflare <= CLOUDFLARE_LIMIT, "the Cloudflare adapter has {cloudflare} code lines");
}

#[test]
fn the_readme_is_a_front_page() {
    let lines = fs::read_to_string(root().join("README.md")).unwrap_or_default().lines().count();
    println!("README.md: {lines} lines (limit {README_LIMIT})");
    assert!(lines <= README_LIMIT, "README.md has {lines} lines; the rest belongs in docs/");
}

#[test]
fn the_reader_finds_its_modules() {
    assert_eq!(crate_refs("use crate::{a, b::c, d::{e, f}};"), ["a", "b", "d"].map(String::from).into());
    assert_eq!(crate_refs("crate::x::y(); crate::Config"), ["x"].map(String::from).into());
    assert_eq!(code_lines("// c\n\nlet a = 1;\n/** doc\n * more\n */\nf();\n"), 2);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), ["b".to_owned()].into()),
        ("b".to_owned(), ["a".to_owned()].into()),
        ("c".to_owned(), ["a".to_owned()].into()),
    ]
    .into();
    assert_eq!(cycles(&graph), [vec!["a".to_owned(), "b".to_owned()]]);
}
