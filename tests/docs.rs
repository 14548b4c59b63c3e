//! The documents hold: every `docs/…` citation in the code names a page that
//! exists (and, when it names a section in quotes, a heading of that page),
//! and every relative link in the README and `docs/` reaches a file and, with
//! a `#fragment`, one of its headings.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, exts, out);
        } else if path.extension().is_some_and(|e| exts.iter().any(|x| e == *x)) {
            out.push(path);
        }
    }
}

/// The headings of a markdown page, as written.
fn headings(page: &Path) -> Vec<String> {
    let text = fs::read_to_string(page).unwrap_or_default();
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(line.trim_start_matches('#').trim().to_owned());
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation gone, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text after a citation, comment markers and line breaks folded away.
fn folded(rest: &str) -> String {
    let mut out = String::new();
    for line in rest.lines().take(3) {
        let line = line.trim_start();
        let line = line.trim_start_matches(['/', '!', '#', '*']).trim_start();
        out.push_str(line);
        out.push(' ');
    }
    out
}

#[test]
fn every_citation_in_the_code_names_a_page_and_section_that_exist() {
    let root = root();
    let mut sources = Vec::new();
    for dir in ["src", "cloudflare/src", "tests", "scripts", "benches", "fuzz/fuzz_targets"] {
        files(&root.join(dir), &["rs", "js", "py", "sh", "mjs"], &mut sources);
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &sources {
        let text = fs::read_to_string(file).unwrap_or_default();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("docs/") {
            rest = &rest[at + 5..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || "/._-".contains(c))).unwrap_or(rest.len());
            let Some(name) = rest[..end].strip_suffix(".md").map(|n| format!("{n}.md")) else { continue };
            let page = root.join("docs").join(&name);
            checked += 1;
            if !page.is_file() {
                broken.push(format!("{}: docs/{name} does not exist", file.display()));
                continue;
            }
            let after = folded(&rest[end..]);
            if let Some(quoted) = after.strip_prefix(", \"").and_then(|s| s.split('"').next()) {
                let section = quoted.split_whitespace().collect::<Vec<_>>().join(" ");
                if !headings(&page).contains(&section) {
                    broken.push(format!("{}: docs/{name} has no section \"{section}\"", file.display()));
                }
            }
        }
    }
    assert!(checked > 10, "the scan found only {checked} citations: is it reading the code?");
    assert!(broken.is_empty(), "citations that lead nowhere:\n{}", broken.join("\n"));
}

#[test]
fn every_link_in_the_documents_arrives() {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    files(&root.join("docs"), &["md"], &mut pages);
    let mut broken = Vec::new();
    for page in &pages {
        let text = fs::read_to_string(page).unwrap_or_default();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let link = &rest[..end];
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
            let target =
                if path.is_empty() { page.clone() } else { page.parent().unwrap_or(&root).join(path) };
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", page.display()));
            } else if !fragment.is_empty() && !headings(&target).iter().any(|h| anchor(h) == fragment) {
                broken.push(format!("{}: {link}: no such heading", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links that lead nowhere:\n{}", broken.join("\n"));
}

#[test]
fn the_anchor_is_githubs() {
    assert_eq!(anchor("Observability (aepipe)"), "observability-aepipe");
    assert_eq!(anchor("Anthropic ⇄ OpenAI translation"), "anthropic--openai-translation");
}
